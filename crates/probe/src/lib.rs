//! Probes the running Linux kernel for the container features linception wraps.
//!
//! Each probe calls the kernel: nothing parses `uname`, so backports and
//! seccomp-filtered environments (where a call fails with `ENOSYS` or `EPERM`
//! although the kernel is new) are reported as they really are. Answers are cached
//! per process. Probes that would change the caller (unshare, seccomp filters,
//! namespaces) run in a short-lived forked child that makes system calls only,
//! so probing is safe from a multithreaded program.
//!
//! ```
//! use linception_probe::{Feature, features};
//!
//! if Feature::PidfdOpen.available().is_ok() {
//!     println!("pidfds are here");
//! }
//! for status in features() {
//!     let answer = match &status.result {
//!         Ok(()) => "yes".to_string(),
//!         Err(missing) => format!("no ({missing})"),
//!     };
//!     println!("{:<22} {:>6}  {answer}", status.feature.name(), status.feature.min_kernel());
//! }
//! ```
#![deny(missing_docs)]
#![deny(unsafe_code)]

use std::fmt;
use std::path::PathBuf;
use std::sync::OnceLock;

// Every unsafe block of the crate is here, each with its SAFETY line.
#[allow(unsafe_code)]
mod sys;

/// A kernel feature (or privilege) a container runtime may need.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Feature {
    /// The process runs as root (euid 0): not a kernel feature, but what many
    /// operations need.
    Root,
    /// Creating a user namespace.
    UserNs,
    /// Creating a user namespace as an unprivileged user (tested as uid 65534 when
    /// the caller is root).
    UnprivilegedUserNs,
    /// Creating a time namespace (`CLONE_NEWTIME`).
    TimeNs,
    /// `pidfd_open`.
    PidfdOpen,
    /// `pidfd_open` with `PIDFD_NONBLOCK`.
    PidfdNonblock,
    /// `pidfd_open` with `PIDFD_THREAD`.
    PidfdThread,
    /// `pidfd_getfd`.
    PidfdGetfd,
    /// The `PIDFD_GET_INFO` ioctl.
    PidfdInfo,
    /// The `PIDFD_GET_*_NAMESPACE` ioctls.
    PidfdNamespaces,
    /// `PIDFD_GET_INFO` with `PIDFD_INFO_EXIT`: the exit status of a reaped process.
    PidfdInfoExit,
    /// `PIDFD_GET_INFO` with `PIDFD_INFO_COREDUMP` (asked of a reaped child that
    /// dumped no core).
    PidfdInfoCoredump,
    /// The `PIDFD_SELF_THREAD_GROUP` / `PIDFD_SELF_THREAD` sentinels (a signal 0 to
    /// ourselves through `pidfd_send_signal`).
    PidfdSelf,
    /// pidfs file handles: `name_to_handle_at` on a pidfd.
    PidfsFileHandles,
    /// The `NS_GET_ID` ioctl on a namespace fd.
    NsGetId,
    /// nsfs file handles: `name_to_handle_at` on a namespace fd.
    NsFileHandles,
    /// `clone3`.
    Clone3,
    /// `clone3` with `set_tid` (in a new pid namespace; in a new user namespace too
    /// when the caller is not root).
    SetTid,
    /// `clone3` with `CLONE_INTO_CGROUP` into the caller's own cgroup v2.
    CloneIntoCgroup,
    /// `close_range`.
    CloseRange,
    /// `openat2`.
    Openat2,
    /// `openat2` with `RESOLVE_CACHED`.
    ResolveCached,
    /// `openat2`'s extensible `open_how`: a larger struct with a zero tail is taken,
    /// a non-zero tail is refused with `E2BIG`.
    Openat2ExtendedHow,
    /// `fsopen`/`fsconfig`/`fsmount` (a detached tmpfs; in a new user and mount
    /// namespace when the caller is not root).
    MountApi,
    /// `mount_setattr`.
    MountSetattr,
    /// `mount_setattr` with `MOUNT_ATTR_IDMAP` on a detached tmpfs (needs root).
    MountSetattrIdmap,
    /// `move_mount` with `MOVE_MOUNT_BENEATH`.
    MoveMountBeneath,
    /// `open_tree_attr`: clone a tree and set its attributes in one call.
    OpenTreeAttr,
    /// `statmount`.
    Statmount,
    /// `listmount`.
    Listmount,
    /// `statmount` with `STATMOUNT_OPT_ARRAY` / `STATMOUNT_OPT_SEC_ARRAY`.
    StatmountOptArray,
    /// `statmount` with `STATMOUNT_SUPPORTED_MASK`.
    StatmountSupportedMask,
    /// `statmount` with `STATMOUNT_MNT_UIDMAP` / `STATMOUNT_MNT_GIDMAP` (the
    /// mappings of an idmapped mount), as the kernel's supported mask says.
    StatmountIdmap,
    /// `listmount`/`statmount` of a mount namespace by id (`mnt_id_req.mnt_ns_id`).
    ListmountNsId,
    /// `listmount`/`statmount` of a mount namespace by fd (`mnt_id_req.mnt_ns_fd`).
    ListmountNsFd,
    /// fanotify mount events (`FAN_REPORT_MNT`, `FAN_MARK_MNTNS`) for the
    /// caller's mount namespace (in a new user and mount namespace when the caller
    /// is not root).
    MountNotify,
    /// A seccomp filter with `SECCOMP_FILTER_FLAG_NEW_LISTENER`.
    SeccompListener,
    /// `SECCOMP_IOCTL_NOTIF_ADDFD`.
    SeccompAddfd,
    /// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP`.
    SeccompSyncWakeUp,
    /// `seccomp(SECCOMP_GET_NOTIF_SIZES)`.
    SeccompNotifSizes,
    /// `keyctl` (the session keyring can be looked up).
    Keyrings,
    /// Per-user-namespace keyring names (`KEYCTL_CAPS1_NS_KEYRING_NAME`).
    KeyringNsNames,
    /// A mounted cgroup v2 hierarchy.
    Cgroup2,
}

impl Feature {
    /// Every feature, in declaration order.
    pub const ALL: [Feature; 43] = [
        Feature::Root,
        Feature::UserNs,
        Feature::UnprivilegedUserNs,
        Feature::TimeNs,
        Feature::PidfdOpen,
        Feature::PidfdNonblock,
        Feature::PidfdThread,
        Feature::PidfdGetfd,
        Feature::PidfdInfo,
        Feature::PidfdNamespaces,
        Feature::PidfdInfoExit,
        Feature::PidfdInfoCoredump,
        Feature::PidfdSelf,
        Feature::PidfsFileHandles,
        Feature::NsGetId,
        Feature::NsFileHandles,
        Feature::Clone3,
        Feature::SetTid,
        Feature::CloneIntoCgroup,
        Feature::CloseRange,
        Feature::Openat2,
        Feature::ResolveCached,
        Feature::Openat2ExtendedHow,
        Feature::MountApi,
        Feature::MountSetattr,
        Feature::MountSetattrIdmap,
        Feature::MoveMountBeneath,
        Feature::OpenTreeAttr,
        Feature::Statmount,
        Feature::Listmount,
        Feature::StatmountOptArray,
        Feature::StatmountSupportedMask,
        Feature::StatmountIdmap,
        Feature::ListmountNsId,
        Feature::ListmountNsFd,
        Feature::MountNotify,
        Feature::SeccompListener,
        Feature::SeccompAddfd,
        Feature::SeccompSyncWakeUp,
        Feature::SeccompNotifSizes,
        Feature::Keyrings,
        Feature::KeyringNsNames,
        Feature::Cgroup2,
    ];

    /// A short name, as the kernel spells the call or flag.
    pub fn name(self) -> &'static str {
        self.row().0
    }

    /// The first kernel release that has the feature (`"-"` for a privilege).
    pub fn min_kernel(self) -> &'static str {
        self.row().1
    }

    /// What the feature is for, in one line.
    pub fn description(self) -> &'static str {
        self.row().2
    }

    fn row(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Feature::Root => (
                "root",
                "-",
                "euid 0: privileged mounts, full id maps, set_tid",
            ),
            Feature::UserNs => ("user namespaces", "3.8", "containers with their own ids"),
            Feature::UnprivilegedUserNs => (
                "unprivileged user ns",
                "3.8",
                "rootless containers (may be disabled by sysctl or policy)",
            ),
            Feature::TimeNs => (
                "time namespaces",
                "5.6",
                "per-container monotonic/boottime clocks",
            ),
            Feature::PidfdOpen => ("pidfd_open", "5.3", "race-free process handles"),
            Feature::PidfdNonblock => ("PIDFD_NONBLOCK", "5.10", "non-blocking waitid on a pidfd"),
            Feature::PidfdThread => ("PIDFD_THREAD", "6.9", "pidfds for single threads"),
            Feature::PidfdGetfd => ("pidfd_getfd", "5.6", "copy an fd out of another process"),
            Feature::PidfdInfo => (
                "PIDFD_GET_INFO",
                "6.13",
                "ids, cgroup and exit code from a pidfd",
            ),
            Feature::PidfdNamespaces => (
                "PIDFD_GET_*_NAMESPACE",
                "6.11",
                "namespace fds from a pidfd",
            ),
            Feature::PidfdInfoExit => (
                "PIDFD_INFO_EXIT",
                "6.15",
                "exit status from a pidfd, even after reaping",
            ),
            Feature::PidfdInfoCoredump => (
                "PIDFD_INFO_COREDUMP",
                "6.16",
                "whether (and how) a process dumped core",
            ),
            Feature::PidfdSelf => ("PIDFD_SELF", "6.15", "pidfd calls on ourselves, no fd"),
            Feature::PidfsFileHandles => (
                "pidfs file handles",
                "6.13",
                "name_to_handle_at on a pidfd, open_by_handle_at back",
            ),
            Feature::NsGetId => ("NS_GET_ID", "6.18", "a namespace's 64-bit id"),
            Feature::NsFileHandles => ("nsfs file handles", "6.18", "file handles for namespaces"),
            Feature::Clone3 => ("clone3", "5.3", "extensible clone, CLONE_PIDFD"),
            Feature::SetTid => ("clone3 set_tid", "5.5", "choose pids (checkpoint/restore)"),
            Feature::CloneIntoCgroup => ("CLONE_INTO_CGROUP", "5.7", "born in its cgroup"),
            Feature::CloseRange => ("close_range", "5.9", "close every fd not passed on"),
            Feature::Openat2 => (
                "openat2",
                "5.6",
                "RESOLVE_IN_ROOT / BENEATH path resolution",
            ),
            Feature::ResolveCached => ("RESOLVE_CACHED", "5.12", "lookups from the dcache only"),
            Feature::Openat2ExtendedHow => (
                "openat2 open_how sizes",
                "5.6",
                "larger open_how: zero tail taken, E2BIG otherwise",
            ),
            Feature::MountApi => ("fsopen/fsmount", "5.2", "the new mount API"),
            Feature::MountSetattr => ("mount_setattr", "5.12", "recursive mount attributes"),
            Feature::MountSetattrIdmap => ("MOUNT_ATTR_IDMAP", "5.12", "idmapped mounts"),
            Feature::MoveMountBeneath => {
                ("MOVE_MOUNT_BENEATH", "6.5", "replace a mount underneath")
            }
            Feature::OpenTreeAttr => (
                "open_tree_attr",
                "6.15",
                "clone a tree with its attributes in one call",
            ),
            Feature::Statmount => ("statmount", "6.8", "read a mount without mountinfo"),
            Feature::Listmount => ("listmount", "6.8", "list mounts without mountinfo"),
            Feature::StatmountOptArray => (
                "STATMOUNT_OPT_ARRAY",
                "6.13",
                "mount options and LSM options as arrays",
            ),
            Feature::StatmountSupportedMask => (
                "STATMOUNT_SUPPORTED_MASK",
                "6.15",
                "which statmount fields the kernel knows",
            ),
            Feature::StatmountIdmap => (
                "STATMOUNT_MNT_UIDMAP",
                "6.15",
                "the id mappings of an idmapped mount",
            ),
            Feature::ListmountNsId => (
                "mnt_id_req.mnt_ns_id",
                "6.10",
                "list another mount namespace by its id",
            ),
            Feature::ListmountNsFd => (
                "mnt_id_req.mnt_ns_fd",
                "6.18",
                "list another mount namespace by its fd",
            ),
            Feature::MountNotify => (
                "FAN_REPORT_MNT",
                "6.15",
                "mount/unmount events of a mount namespace",
            ),
            Feature::SeccompListener => {
                ("seccomp user notif", "5.0", "a supervisor answers syscalls")
            }
            Feature::SeccompAddfd => (
                "SECCOMP_IOCTL_NOTIF_ADDFD",
                "5.9",
                "inject fds into a caller",
            ),
            Feature::SeccompSyncWakeUp => (
                "SECCOMP notif sync wake-up",
                "6.6",
                "~10x faster notification round trips",
            ),
            Feature::SeccompNotifSizes => (
                "SECCOMP_GET_NOTIF_SIZES",
                "5.0",
                "the kernel's notification struct sizes",
            ),
            Feature::Keyrings => ("keyctl", "2.6.10", "kernel keyrings"),
            Feature::KeyringNsNames => (
                "per-userns keyrings",
                "5.3",
                "keyring names scoped to a user namespace",
            ),
            Feature::Cgroup2 => ("cgroup v2", "4.5", "the unified cgroup hierarchy"),
        }
    }

    /// Probes the kernel now (uncached). `Err` says what failed.
    pub fn probe(self) -> Result<(), Missing> {
        sys::probe(self.check()).map_err(Missing::from)
    }

    /// The raw probe behind this feature.
    fn check(self) -> sys::Check {
        match self {
            Feature::Root => sys::Check::Root,
            Feature::UserNs => sys::Check::UserNs,
            Feature::UnprivilegedUserNs => sys::Check::UnprivilegedUserNs,
            Feature::TimeNs => sys::Check::TimeNs,
            Feature::PidfdOpen => sys::Check::PidfdOpen,
            Feature::PidfdNonblock => sys::Check::PidfdNonblock,
            Feature::PidfdThread => sys::Check::PidfdThread,
            Feature::PidfdGetfd => sys::Check::PidfdGetfd,
            Feature::PidfdInfo => sys::Check::PidfdInfo,
            Feature::PidfdNamespaces => sys::Check::PidfdNamespaces,
            Feature::PidfdInfoExit => sys::Check::PidfdInfoExit,
            Feature::PidfdInfoCoredump => sys::Check::PidfdInfoCoredump,
            Feature::PidfdSelf => sys::Check::PidfdSelf,
            Feature::PidfsFileHandles => sys::Check::PidfsFileHandles,
            Feature::NsGetId => sys::Check::NsGetId,
            Feature::NsFileHandles => sys::Check::NsFileHandles,
            Feature::Clone3 => sys::Check::Clone3,
            Feature::SetTid => sys::Check::SetTid,
            Feature::CloneIntoCgroup => sys::Check::CloneIntoCgroup,
            Feature::CloseRange => sys::Check::CloseRange,
            Feature::Openat2 => sys::Check::Openat2,
            Feature::ResolveCached => sys::Check::ResolveCached,
            Feature::Openat2ExtendedHow => sys::Check::Openat2ExtendedHow,
            Feature::MountApi => sys::Check::MountApi,
            Feature::MountSetattr => sys::Check::MountSetattr,
            Feature::MountSetattrIdmap => sys::Check::MountSetattrIdmap,
            Feature::MoveMountBeneath => sys::Check::MoveMountBeneath,
            Feature::OpenTreeAttr => sys::Check::OpenTreeAttr,
            Feature::Statmount => sys::Check::Statmount,
            Feature::Listmount => sys::Check::Listmount,
            Feature::StatmountOptArray => sys::Check::StatmountOptArray,
            Feature::StatmountSupportedMask => sys::Check::StatmountSupportedMask,
            Feature::StatmountIdmap => sys::Check::StatmountIdmap,
            Feature::ListmountNsId => sys::Check::ListmountNsId,
            Feature::ListmountNsFd => sys::Check::ListmountNsFd,
            Feature::MountNotify => sys::Check::MountNotify,
            Feature::SeccompListener => sys::Check::SeccompListener,
            Feature::SeccompAddfd => sys::Check::SeccompAddfd,
            Feature::SeccompSyncWakeUp => sys::Check::SeccompSyncWakeUp,
            Feature::SeccompNotifSizes => sys::Check::SeccompNotifSizes,
            Feature::Keyrings => sys::Check::Keyrings,
            Feature::KeyringNsNames => sys::Check::KeyringNsNames,
            Feature::Cgroup2 => sys::Check::Cgroup2,
        }
    }

    /// Whether the feature is available, probed once per process.
    pub fn available(self) -> Result<(), Missing> {
        static CACHE: [OnceLock<Result<(), Missing>>; Feature::ALL.len()] =
            [const { OnceLock::new() }; Feature::ALL.len()];
        CACHE[self as usize].get_or_init(|| self.probe()).clone()
    }
}

/// Why a feature is missing: the call that failed and its errno, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing {
    /// The call (or condition) that failed, e.g. `"unshare(CLONE_NEWUSER)"`.
    pub call: &'static str,
    /// The errno it failed with, if it was a system call.
    pub errno: Option<i32>,
}

/// Shows the call and the errno the family's way:
/// `unshare(CLONE_NEWUSER): Operation not permitted (EPERM)`.
impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errno {
            Some(errno) => write!(f, "{}: {}", self.call, linception_errno::Errno(errno)),
            None => f.write_str(self.call),
        }
    }
}

impl From<sys::Failure> for Missing {
    fn from(f: sys::Failure) -> Missing {
        Missing {
            call: f.call,
            errno: f.errno,
        }
    }
}

impl std::error::Error for Missing {}

/// One line of the [`features`] report.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FeatureStatus {
    /// The feature.
    pub feature: Feature,
    /// `Ok` when available, else why not.
    pub result: Result<(), Missing>,
    /// More about an available feature, where there is more to say: for
    /// [`Feature::Cgroup2`], where it is mounted and which controllers the caller
    /// may use (see [`cgroup2`]).
    pub detail: Option<String>,
}

impl FeatureStatus {
    /// Whether the feature is available.
    pub fn available(&self) -> bool {
        self.result.is_ok()
    }
}

/// Probes every [`Feature`] (cached) and reports each, in [`Feature::ALL`] order.
pub fn features() -> Vec<FeatureStatus> {
    Feature::ALL
        .iter()
        .map(|&feature| FeatureStatus {
            feature,
            result: feature.available(),
            detail: match feature {
                Feature::Cgroup2 => cgroup2().ok().map(|cg| cg.to_string()),
                _ => None,
            },
        })
        .collect()
}

/// The caller's place in the cgroup v2 hierarchy, from [`cgroup2`].
///
/// # Examples
/// ```
/// if let Ok(cg) = linception_probe::cgroup2() {
///     println!("cgroup2 at {}, my cgroup {}", cg.mount_point.display(), cg.cgroup.display());
///     if cg.controllers.iter().any(|c| c == "memory") {
///         println!("memory limits possible");
///     }
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cgroup2 {
    /// Where the cgroup v2 hierarchy is mounted (`/sys/fs/cgroup`).
    pub mount_point: PathBuf,
    /// The caller's cgroup, relative to the hierarchy's root (`/user.slice/...`,
    /// the `0::` line of `/proc/self/cgroup`).
    pub cgroup: PathBuf,
    /// The controllers available in the caller's cgroup (its `cgroup.controllers`):
    /// the ones the caller may use there and enable for child cgroups.
    pub controllers: Vec<String>,
    /// The controllers already enabled for the cgroup's children (its
    /// `cgroup.subtree_control`).
    pub subtree_control: Vec<String>,
    /// Whether the caller may create child cgroups there (write access to the
    /// directory: root, or a delegated cgroup).
    pub writable: bool,
}

impl Cgroup2 {
    /// The caller's cgroup directory: `mount_point` joined with `cgroup`.
    pub fn dir(&self) -> PathBuf {
        let relative = self.cgroup.strip_prefix("/").unwrap_or(&self.cgroup);
        self.mount_point.join(relative)
    }
}

impl fmt::Display for Cgroup2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(" ")
            }
        };
        write!(
            f,
            "at {}, cgroup {} ({}); controllers: {}; subtree_control: {}",
            self.mount_point.display(),
            self.cgroup.display(),
            if self.writable {
                "writable"
            } else {
                "read-only"
            },
            list(&self.controllers),
            list(&self.subtree_control)
        )
    }
}

/// Where cgroup v2 is mounted (`/sys/fs/cgroup` when that is a cgroup2 mount, else
/// the newest still visible cgroup2 mount of `/proc/self/mountinfo`), the caller's cgroup
/// (`/proc/self/cgroup`), and the controllers it may use there (that cgroup's
/// `cgroup.controllers` and `cgroup.subtree_control`). Read now, not cached.
///
/// # Errors
/// [`Missing`] naming what could not be found or read (no cgroup2 mount, no `0::`
/// line, an unreadable file).
///
/// # References
/// - [`cgroups(7)`](https://man7.org/linux/man-pages/man7/cgroups.7.html), the
///   kernel's `Documentation/admin-guide/cgroup-v2.rst`
pub fn cgroup2() -> Result<Cgroup2, Missing> {
    let mount = sys::cgroup2_mount()?;
    let groups = read_small("/proc/self/cgroup".as_ref()).map_err(|e| Missing {
        call: "read /proc/self/cgroup",
        errno: e.raw_os_error(),
    })?;
    let cgroup = groups
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or(Missing {
            call: "no cgroup v2 entry in /proc/self/cgroup",
            errno: None,
        })?;
    let mut info = Cgroup2 {
        mount_point: mount.into(),
        cgroup: cgroup.into(),
        controllers: Vec::new(),
        subtree_control: Vec::new(),
        writable: false,
    };
    let dir = info.dir();
    info.controllers = read_list(&dir.join("cgroup.controllers"), "read cgroup.controllers")?;
    info.subtree_control = read_list(
        &dir.join("cgroup.subtree_control"),
        "read cgroup.subtree_control",
    )?;
    let c_dir =
        std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).map_err(|_| Missing {
            call: "the cgroup path has a NUL byte",
            errno: None,
        })?;
    info.writable = sys::writable(&c_dir);
    Ok(info)
}

/// A small kernel file: one open, one read, one close where it fits in 4 KiB (proc
/// and cgroup files have no size to read ahead of time, so `read_to_string` would
/// read it in growing pieces), else read whole.
fn read_small(path: &std::path::Path) -> std::io::Result<String> {
    let fd = rustix::fs::open(
        path,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    let mut buf = [0u8; 4096];
    let n = rustix::io::read(&fd, &mut buf)?;
    if n == buf.len() {
        return std::fs::read_to_string(path);
    }
    String::from_utf8(buf[..n].to_vec())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

fn read_list(path: &std::path::Path, call: &'static str) -> Result<Vec<String>, Missing> {
    let text = read_small(path).map_err(|e| Missing {
        call,
        errno: e.raw_os_error(),
    })?;
    Ok(text.split_whitespace().map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_feature_runs_its_own_probe() {
        for f in Feature::ALL {
            assert_eq!(format!("{f:?}"), format!("{:?}", f.check()));
        }
    }

    #[test]
    fn missing_shows_the_errno_the_shared_way() {
        let m = Missing {
            call: "unshare(CLONE_NEWUSER)",
            errno: Some(libc::EPERM),
        };
        assert_eq!(
            m.to_string(),
            "unshare(CLONE_NEWUSER): Operation not permitted (EPERM)"
        );
        let m = Missing {
            call: "no cgroup2 mount in /proc/self/mountinfo",
            errno: None,
        };
        assert_eq!(m.to_string(), "no cgroup2 mount in /proc/self/mountinfo");
    }
}
