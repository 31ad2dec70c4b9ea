//! Kernel feature probes: each calls the kernel, in a forked child where the call
//! would change the test process, and caches the answer.

use std::io;
use std::sync::{Mutex, OnceLock};

use crate::fork::Fork;

/// A kernel feature or privilege a test may need.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Feature {
    /// The test process runs as root (euid 0).
    Root,
    /// Creating a user namespace as root.
    UserNs,
    /// Creating a user namespace as an unprivileged user (uid 65534).
    UnprivilegedUserNs,
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
    /// `clone3`.
    Clone3,
    /// `clone3` with `set_tid` (needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE).
    SetTid,
    /// `clone3` with `CLONE_INTO_CGROUP` into the caller's own cgroup v2.
    CloneIntoCgroup,
    /// `openat2`.
    Openat2,
    /// `fsopen`/`fsmount` (creating a tmpfs with the new mount API, as root).
    MountApi,
    /// `mount_setattr`.
    MountSetattr,
    /// `mount_setattr` with `MOUNT_ATTR_IDMAP` on a detached tmpfs.
    MountSetattrIdmap,
    /// `statmount`.
    Statmount,
    /// `listmount`.
    Listmount,
    /// A seccomp filter with `SECCOMP_FILTER_FLAG_NEW_LISTENER`.
    SeccompListener,
    /// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` on a listener.
    SeccompSyncWakeUp,
    /// `keyctl` (the session keyring can be looked up).
    Keyrings,
    /// Per-user-namespace keyring names (`KEYCTL_CAPS1_NS_KEYRING_NAME`).
    KeyringNsNames,
    /// A cgroup v2 hierarchy is mounted.
    Cgroup2,
}

impl Feature {
    /// Every feature, in declaration order.
    pub const ALL: [Feature; 23] = [
        Feature::Root,
        Feature::UserNs,
        Feature::UnprivilegedUserNs,
        Feature::PidfdOpen,
        Feature::PidfdNonblock,
        Feature::PidfdThread,
        Feature::PidfdGetfd,
        Feature::PidfdInfo,
        Feature::PidfdNamespaces,
        Feature::Clone3,
        Feature::SetTid,
        Feature::CloneIntoCgroup,
        Feature::Openat2,
        Feature::MountApi,
        Feature::MountSetattr,
        Feature::MountSetattrIdmap,
        Feature::Statmount,
        Feature::Listmount,
        Feature::SeccompListener,
        Feature::SeccompSyncWakeUp,
        Feature::Keyrings,
        Feature::KeyringNsNames,
        Feature::Cgroup2,
    ];

    /// The first kernel that has the feature ("-" for a privilege).
    pub fn min_kernel(self) -> &'static str {
        match self {
            Feature::Root => "-",
            Feature::UserNs | Feature::UnprivilegedUserNs => "3.8",
            Feature::PidfdOpen | Feature::Clone3 => "5.3",
            Feature::PidfdNonblock => "5.10",
            Feature::PidfdThread => "6.9",
            Feature::PidfdGetfd | Feature::Openat2 => "5.6",
            Feature::PidfdInfo => "6.13",
            Feature::PidfdNamespaces => "6.11",
            Feature::SetTid => "5.5",
            Feature::CloneIntoCgroup => "5.7",
            Feature::MountApi => "5.2",
            Feature::MountSetattr => "5.12",
            Feature::MountSetattrIdmap => "6.3",
            Feature::Statmount | Feature::Listmount => "6.8",
            Feature::SeccompListener => "5.0",
            Feature::SeccompSyncWakeUp => "6.6",
            Feature::Keyrings => "2.6.10",
            Feature::KeyringNsNames => "5.3",
            Feature::Cgroup2 => "4.5",
        }
    }

    /// Probes the kernel (uncached): `Ok` or the reason the feature is missing.
    pub fn probe(self) -> Result<(), String> {
        match self {
            Feature::Root => {
                // SAFETY: geteuid cannot fail.
                if unsafe { libc::geteuid() } == 0 {
                    Ok(())
                } else {
                    Err("the tests do not run as root".into())
                }
            }
            Feature::UserNs => in_child(Fork::new(), || {
                // SAFETY: unshare in a forked single-threaded child.
                os(unsafe { libc::unshare(libc::CLONE_NEWUSER) }, "unshare(CLONE_NEWUSER)")
            }),
            Feature::UnprivilegedUserNs => {
                Feature::Root.probe().map_err(|e| format!("cannot drop to 65534: {e}"))?;
                in_child(Fork::new().unprivileged(), || {
                    // SAFETY: unshare in a forked single-threaded child.
                    let ret = unsafe { libc::unshare(libc::CLONE_NEWUSER) };
                    os(ret, "unshare(CLONE_NEWUSER) as uid 65534")
                })
            }
            Feature::PidfdOpen => pidfd_open_self(0).map(drop),
            Feature::PidfdNonblock => pidfd_open_self(libc::O_NONBLOCK as u32).map(drop),
            Feature::PidfdThread => pidfd_open_self(libc::O_EXCL as u32).map(drop),
            Feature::PidfdGetfd => {
                let pidfd = pidfd_open_self(0)?;
                // SAFETY: plain syscall with integer arguments.
                let fd = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.0, 0, 0) };
                os(fd as i32, "pidfd_getfd").map(|()| drop(Fd(fd as i32)))
            }
            Feature::PidfdInfo => {
                const PIDFD_GET_INFO: libc::c_ulong = 0xc040_ff0b;
                let pidfd = pidfd_open_self(0)?;
                let mut info = [0u64; 8];
                info[0] = 1; // request_mask = PIDFD_INFO_PID
                // SAFETY: info is 64 writable bytes, the size encoded in the request.
                let ret = unsafe { libc::ioctl(pidfd.0, PIDFD_GET_INFO, info.as_mut_ptr()) };
                os(ret, "ioctl(PIDFD_GET_INFO)")
            }
            Feature::PidfdNamespaces => {
                const PIDFD_GET_UTS_NAMESPACE: libc::c_ulong = 0xff0a;
                let pidfd = pidfd_open_self(0)?;
                // SAFETY: the ioctl takes no argument and returns a new fd.
                let fd = unsafe { libc::ioctl(pidfd.0, PIDFD_GET_UTS_NAMESPACE, 0) };
                os(fd, "ioctl(PIDFD_GET_UTS_NAMESPACE)").map(|()| drop(Fd(fd)))
            }
            Feature::Clone3 => {
                // A NULL struct of size 0 is EINVAL where clone3 exists, ENOSYS where not.
                // SAFETY: the kernel rejects the arguments before touching memory.
                let ret = unsafe { libc::syscall(libc::SYS_clone3, 0usize, 0usize) };
                match errno_of(ret) {
                    Some(libc::ENOSYS) => Err("clone3: ENOSYS".into()),
                    _ => Ok(()),
                }
            }
            Feature::SetTid => {
                Feature::Root.probe()?;
                in_child(Fork::new(), || {
                    let tid: libc::pid_t = 1;
                    clone3_and_reap(libc::CLONE_NEWPID as u64, &tid as *const _ as u64, 1, 0)
                })
            }
            Feature::CloneIntoCgroup => {
                Feature::Root.probe()?;
                let dir = own_cgroup2_dir()?;
                in_child(Fork::new(), move || {
                    let path = std::ffi::CString::new(dir.clone()).map_err(|e| e.to_string())?;
                    // SAFETY: path is NUL-terminated.
                    let fd = unsafe {
                        libc::open(path.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
                    };
                    os(fd, &format!("open {dir}"))?;
                    let fd = Fd(fd);
                    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
                    clone3_and_reap(CLONE_INTO_CGROUP, 0, 0, fd.0 as u64)
                })
            }
            Feature::Openat2 => {
                let how = [libc::O_PATH as u64 | libc::O_CLOEXEC as u64, 0, 0x10];
                // SAFETY: how is a valid 24-byte open_how; the path is NUL-terminated.
                let fd = unsafe {
                    libc::syscall(libc::SYS_openat2, libc::AT_FDCWD, c"/".as_ptr(), how.as_ptr(), 24usize)
                };
                os(fd as i32, "openat2(\"/\", RESOLVE_IN_ROOT)").map(|()| drop(Fd(fd as i32)))
            }
            Feature::MountApi => {
                Feature::Root.probe()?;
                detached_tmpfs().map(drop)
            }
            Feature::MountSetattr => {
                // SAFETY: an invalid fd and a null attr are rejected before any access.
                let ret = unsafe {
                    libc::syscall(libc::SYS_mount_setattr, -1, c"".as_ptr(), 0, 0usize, 0usize)
                };
                match errno_of(ret) {
                    Some(libc::ENOSYS) => Err("mount_setattr: ENOSYS".into()),
                    _ => Ok(()),
                }
            }
            Feature::MountSetattrIdmap => {
                Feature::Root.probe()?;
                in_child(Fork::new(), probe_idmap)
            }
            Feature::Statmount => missing_syscall(SYS_STATMOUNT, "statmount"),
            Feature::Listmount => missing_syscall(SYS_LISTMOUNT, "listmount"),
            Feature::SeccompListener => in_child(Fork::new(), || seccomp_listener().map(drop)),
            Feature::SeccompSyncWakeUp => in_child(Fork::new(), || {
                const SECCOMP_IOCTL_NOTIF_SET_FLAGS: libc::c_ulong = 0x4008_2104;
                let listener = seccomp_listener()?;
                // SAFETY: the ioctl takes the flags by value.
                let ret = unsafe { libc::ioctl(listener.0, SECCOMP_IOCTL_NOTIF_SET_FLAGS, 1u64) };
                os(ret, "ioctl(SECCOMP_IOCTL_NOTIF_SET_FLAGS, SYNC_WAKE_UP)")
            }),
            Feature::Keyrings => {
                // KEYCTL_GET_KEYRING_ID of the session keyring, without creating one.
                // SAFETY: plain syscall with integer arguments.
                let ret = unsafe { libc::syscall(libc::SYS_keyctl, 0, -3, 0) };
                os(ret as i32, "keyctl(KEYCTL_GET_KEYRING_ID, session)")
            }
            Feature::KeyringNsNames => {
                let mut caps = [0u8; 2];
                // SAFETY: caps is writable for its length.
                let ret = unsafe { libc::syscall(libc::SYS_keyctl, 31, caps.as_mut_ptr(), 2usize) };
                os(ret as i32, "keyctl(KEYCTL_CAPABILITIES)")?;
                if caps[1] & 0x01 == 0 {
                    return Err("KEYCTL_CAPS1_NS_KEYRING_NAME not reported".into());
                }
                Ok(())
            }
            Feature::Cgroup2 => cgroup2_mount().map(drop),
        }
    }
}

static CACHE: OnceLock<Mutex<Vec<(Feature, Result<(), String>)>>> = OnceLock::new();

/// Whether `feature` is available (probed once per test process).
pub fn available(feature: Feature) -> Result<(), String> {
    let cache = CACHE.get_or_init(|| Mutex::new(Vec::new()));
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, answer)) = cache.iter().find(|(f, _)| *f == feature) {
        return answer.clone();
    }
    let answer = feature.probe();
    cache.push((feature, answer.clone()));
    answer
}

/// `true` when `feature` is available. Otherwise prints why the test is skipped and
/// returns `false`, or panics when `LINCEPTION_REQUIRE_ALL=1`.
pub fn require(feature: Feature) -> bool {
    require_custom(
        &format!("{feature:?}"),
        feature.min_kernel(),
        available(feature),
    )
}

/// Like [`require`] for a probe a test made itself.
pub fn require_custom(name: &str, min_kernel: &str, answer: Result<(), String>) -> bool {
    match answer {
        Ok(()) => true,
        Err(reason) if crate::require_all() => {
            panic!(
                "required feature {name} (Linux {min_kernel}) is unavailable: {reason} \
                 (LINCEPTION_REQUIRE_ALL=1 turns skips into failures)"
            )
        }
        Err(reason) => {
            eprintln!("SKIP: needs {name} (Linux {min_kernel}): {reason}");
            false
        }
    }
}

/// Runs a probe closure in a forked child (for probes that change the process).
pub fn probe_custom(probe: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    in_child(Fork::new(), probe)
}

fn in_child(fork: Fork, probe: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    fork.run(probe)
}

/// An fd closed on drop (the probes' only resource).
struct Fd(libc::c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the fd is open and owned by this value.
        unsafe { libc::close(self.0) };
    }
}

fn os(ret: libc::c_int, what: &str) -> Result<(), String> {
    if ret < 0 {
        Err(format!("{what}: {}", io::Error::last_os_error()))
    } else {
        Ok(())
    }
}

fn errno_of(ret: libc::c_long) -> Option<i32> {
    (ret < 0).then(|| io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

fn missing_syscall(nr: libc::c_long, name: &str) -> Result<(), String> {
    // SAFETY: null pointers with zero sizes are rejected before any access.
    let ret = unsafe { libc::syscall(nr, 0usize, 0usize, 0usize, 0usize) };
    match errno_of(ret) {
        Some(libc::ENOSYS) => Err(format!("{name}: ENOSYS")),
        _ => Ok(()),
    }
}

fn pidfd_open_self(flags: u32) -> Result<Fd, String> {
    // SAFETY: plain syscall with integer arguments.
    // A thread that is not the group leader needs PIDFD_THREAD (O_EXCL).
    let fd = unsafe {
        let id = if flags & libc::O_EXCL as u32 != 0 {
            libc::syscall(libc::SYS_gettid)
        } else {
            libc::getpid() as libc::c_long
        };
        libc::syscall(libc::SYS_pidfd_open, id, flags)
    };
    os(fd as i32, &format!("pidfd_open(self, {flags:#x})"))?;
    Ok(Fd(fd as i32))
}

/// clone3 a child that exits at once, then reap it.
fn clone3_and_reap(flags: u64, set_tid: u64, set_tid_size: u64, cgroup: u64) -> Result<(), String> {
    // struct clone_args, CLONE_ARGS_SIZE_VER2 (88 bytes).
    let args: [u64; 11] = [
        flags,
        0,
        0,
        0,
        libc::SIGCHLD as u64,
        0,
        0,
        0,
        set_tid,
        set_tid_size,
        cgroup,
    ];
    // SAFETY: args is a valid clone_args of the size passed; the child calls only _exit.
    let pid = unsafe { libc::syscall(libc::SYS_clone3, args.as_ptr(), 88usize) };
    if pid == 0 {
        // SAFETY: the new child ends at once.
        unsafe { libc::_exit(0) };
    }
    os(pid as i32, &format!("clone3(flags {flags:#x})"))?;
    let mut status = 0;
    // SAFETY: pid is our child.
    unsafe { libc::waitpid(pid as i32, &mut status, 0) };
    Ok(())
}

fn cgroup2_mount() -> Result<String, String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
    for line in info.lines() {
        let Some((left, right)) = line.split_once(" - ") else { continue };
        if right.split_whitespace().next() == Some("cgroup2") {
            if let Some(point) = left.split_whitespace().nth(4) {
                return Ok(point.to_string());
            }
        }
    }
    Err("no cgroup2 mount in /proc/self/mountinfo".into())
}

fn own_cgroup2_dir() -> Result<String, String> {
    let mount = cgroup2_mount()?;
    let groups = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| e.to_string())?;
    let path = groups
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or("no cgroup v2 entry in /proc/self/cgroup")?;
    Ok(format!("{mount}{path}"))
}

fn detached_tmpfs() -> Result<Fd, String> {
    // SAFETY: fs name NUL-terminated; flags FSOPEN_CLOEXEC.
    let ctx = unsafe { libc::syscall(libc::SYS_fsopen, c"tmpfs".as_ptr(), 1) } as i32;
    os(ctx, "fsopen(tmpfs)")?;
    let ctx = Fd(ctx);
    // SAFETY: FSCONFIG_CMD_CREATE takes no key or value.
    let ret = unsafe { libc::syscall(libc::SYS_fsconfig, ctx.0, 6, 0usize, 0usize, 0) } as i32;
    os(ret, "fsconfig(FSCONFIG_CMD_CREATE)")?;
    // SAFETY: FSMOUNT_CLOEXEC, no attributes.
    let mnt = unsafe { libc::syscall(libc::SYS_fsmount, ctx.0, 1, 0) } as i32;
    os(mnt, "fsmount")?;
    Ok(Fd(mnt))
}

fn probe_idmap() -> Result<(), String> {
    let mnt = detached_tmpfs()?;
    // A child in a new user namespace, its map written by us (root).
    let mut ready = [0; 2];
    // SAFETY: ready is two writable c_ints.
    os(unsafe { libc::pipe2(ready.as_mut_ptr(), libc::O_CLOEXEC) }, "pipe2")?;
    let (r, w) = (Fd(ready[0]), Fd(ready[1]));
    // SAFETY: the child only calls unshare, read and _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let mut byte = 0u8;
        // SAFETY: single-threaded child; byte is one writable byte.
        unsafe {
            libc::close(w.0);
            let ok = libc::unshare(libc::CLONE_NEWUSER) == 0;
            libc::write(ready[1], &byte as *const u8 as *const _, 0);
            if ok {
                libc::kill(libc::getpid(), libc::SIGSTOP);
            }
            libc::read(r.0, &mut byte as *mut u8 as *mut _, 1);
            libc::_exit(0);
        }
    }
    os(pid, "fork")?;
    drop(w);
    // Wait until the child has stopped itself inside its new namespace.
    let mut status = 0;
    // SAFETY: pid is our child.
    unsafe { libc::waitpid(pid, &mut status, libc::WUNTRACED) };
    let result = (|| {
        if !libc::WIFSTOPPED(status) {
            return Err("child could not create a user namespace".to_string());
        }
        for file in ["uid_map", "gid_map"] {
            std::fs::write(format!("/proc/{pid}/{file}"), "0 100000 1000\n")
                .map_err(|e| format!("write {file}: {e}"))?;
        }
        let ns = std::fs::File::open(format!("/proc/{pid}/ns/user")).map_err(|e| e.to_string())?;
        use std::os::fd::AsRawFd;
        // struct mount_attr { attr_set, attr_clr, propagation, userns_fd }
        let attr: [u64; 4] = [0x0010_0000, 0, 0, ns.as_raw_fd() as u64];
        // SAFETY: attr is a valid 32-byte mount_attr; the path is NUL-terminated.
        let ret = unsafe {
            libc::syscall(libc::SYS_mount_setattr, mnt.0, c"".as_ptr(), libc::AT_EMPTY_PATH, attr.as_ptr(), 32usize)
        } as i32;
        os(ret, "mount_setattr(MOUNT_ATTR_IDMAP) on a detached tmpfs")
    })();
    // SAFETY: pid is our unreaped child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, &mut status, 0);
    }
    result
}

fn seccomp_listener() -> Result<Fd, String> {
    // SAFETY: prctl with integer arguments.
    os(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }, "PR_SET_NO_NEW_PRIVS")?;
    let mut allow = libc::sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k: libc::SECCOMP_RET_ALLOW,
    };
    let prog = libc::sock_fprog { len: 1, filter: &mut allow };
    // SAFETY: prog points at one valid instruction; SECCOMP_FILTER_FLAG_NEW_LISTENER.
    let fd = unsafe {
        libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 1u32 << 3, &prog)
    } as i32;
    os(fd, "seccomp(SECCOMP_SET_MODE_FILTER, NEW_LISTENER)")?;
    Ok(Fd(fd))
}

// Syscall numbers from the unified table (the same on every architecture since 424).
const SYS_STATMOUNT: libc::c_long = 457;
const SYS_LISTMOUNT: libc::c_long = 458;
