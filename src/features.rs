//! What the running kernel offers: [`features()`] probes every feature linception
//! wraps, by calling the kernel, and reports each with its minimum kernel.
//!
//! ```
//! for status in linception::features() {
//!     println!(
//!         "{:<28} {:>6}  {}",
//!         status.feature.name(),
//!         status.feature.min_kernel(),
//!         if status.available() { "yes" } else { "no" },
//!     );
//! }
//! ```
//!
//! A runtime's report of what its containers can have (the OCI runtime's
//! `features` document) needs a few answers more, each read from the kernel now:
//! the namespace types ([`namespaces`]), the capabilities ([`capabilities`]), the
//! seccomp filter actions ([`seccomp_actions`]), the active security modules
//! ([`active_lsms`]), and whether the caller can make idmapped mounts
//! ([`idmapped_mounts`]).
//!
//! ```
//! use linception::{CapSet, Namespaces, features};
//!
//! assert!(features::namespaces().contains(Namespaces::MOUNT | Namespaces::PID));
//! assert!(features::capabilities().contains(CapSet::CHOWN));
//! println!("{} seccomp actions", features::seccomp_actions().map_or(0, |a| a.len()));
//! ```
#![forbid(unsafe_code)]

pub use crate::lsm::ActiveLsms;
pub use linception_probe::{Cgroup2, Feature, FeatureStatus, Missing, cgroup2, features};

use crate::{CapSet, Namespaces};
use linception_seccomp_notify::Action;

/// The namespace types the running kernel has: the entries of `/proc/self/ns`
/// (`mnt`, `pid`, `net`, `user`, `ipc`, `uts`, `cgroup`, `time`), as builder flags.
/// A type the kernel was built without has no entry there.
///
/// # References
/// [namespaces(7)](https://man7.org/linux/man-pages/man7/namespaces.7.html)
pub fn namespaces() -> Namespaces {
    namespaces_in(
        std::fs::read_dir("/proc/self/ns")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok()),
    )
}

/// The flags of the namespace entry names given (`pid_for_children` and the like
/// name no type of their own).
fn namespaces_in(names: impl IntoIterator<Item = String>) -> Namespaces {
    names
        .into_iter()
        .filter_map(|n| {
            Some(match n.as_str() {
                "mnt" => Namespaces::MOUNT,
                "pid" => Namespaces::PID,
                "net" => Namespaces::NET,
                "user" => Namespaces::USER,
                "ipc" => Namespaces::IPC,
                "uts" => Namespaces::UTS,
                "cgroup" => Namespaces::CGROUP,
                "time" => Namespaces::TIME,
                _ => return None,
            })
        })
        .collect()
}

/// The highest capability number the running kernel knows
/// (`/proc/sys/kernel/cap_last_cap`; 40, `CAP_CHECKPOINT_RESTORE`, since Linux 5.9).
pub fn last_cap() -> u32 {
    crate::lower::last_cap()
}

/// Every capability the running kernel knows that [`CapSet`] names: bits
/// `0..=`[`last_cap`]. Capability sets outside it are refused at spawn.
///
/// # References
/// [capabilities(7)](https://man7.org/linux/man-pages/man7/capabilities.7.html)
pub fn capabilities() -> CapSet {
    let last = last_cap().min(63);
    let bits = if last == 63 {
        u64::MAX
    } else {
        (1u64 << (last + 1)) - 1
    };
    CapSet::from_bits_truncate(bits)
}

/// The capabilities a container spawned by the calling thread can be given. With a
/// user namespace of its own, new or joined (`user_namespace`), the container's
/// process holds every capability of that namespace: all of [`capabilities`]. In the
/// caller's user namespace it can have only what the caller holds itself: a
/// capability in both the caller's permitted and bounding sets. A builder asking for
/// any other is refused at spawn, naming the set and the capabilities.
///
/// An OCI runtime uses it for the runtime spec's rule on capabilities that cannot
/// be granted (a warning, not a failure).
pub fn grantable_capabilities(user_namespace: bool) -> CapSet {
    if user_namespace {
        capabilities()
    } else {
        crate::caps::held(capabilities())
    }
}

/// Whether this process is in the initial user namespace (its uid map is the
/// identity of every id, `0 0 4294967295`).
pub fn in_initial_user_namespace() -> bool {
    // A longer map than fits is not the identity's one line.
    let mut buf = [0u8; 128];
    crate::procfs::read_proc("/proc/self/uid_map", &mut buf)
        .is_some_and(|m| m.split_whitespace().eq(["0", "0", "4294967295"]))
}

/// Whether `setgroups(2)` may be called in this process's user namespace
/// (`/proc/self/setgroups` is not `deny`): a namespace whose gid map an
/// unprivileged process wrote denies it (`unshare --map-root-user`), and so does
/// every namespace nested in it. There a container can only keep the caller's
/// supplementary groups.
pub fn setgroups_allowed() -> bool {
    let mut buf = [0u8; 16];
    crate::procfs::read_proc("/proc/self/setgroups", &mut buf).is_none_or(|s| s.trim() != "deny")
}

/// Whether the kernel already keeps every container this process spawns to the
/// devices the process itself can reach, so that device rules
/// ([`Resources::devices`](crate::Resources::devices)) add nothing: true outside
/// the initial user namespace, and for a process in it with a non-root effective
/// uid and no effective or permitted capability. No container of such a process
/// can create a device node (`mknod` of one needs `CAP_MKNOD` in the initial user
/// namespace), and the nodes it can open are those the process could open itself.
/// Such a process cannot load a device program either (that needs `CAP_BPF` or
/// `CAP_SYS_ADMIN` over the initial user namespace).
pub fn devices_confined() -> bool {
    if !in_initial_user_namespace() {
        return true;
    }
    let no_caps = rustix::thread::capabilities(None)
        .is_ok_and(|c| c.effective.is_empty() && c.permitted.is_empty());
    !rustix::process::geteuid().is_root() && no_caps
}

/// The seccomp filter actions the running kernel knows
/// ([`action_available`](linception_seccomp_notify::action_available), Linux 4.14),
/// of allow, errno, kill process, kill thread, trap, log, trace and user
/// notification (the data of errno, trap and trace is 0 here).
///
/// # Errors
/// [`Error::Seccomp`](crate::Error::Seccomp): why the kernel could not be asked (no
/// seccomp filters, or a kernel before 4.14).
pub fn seccomp_actions() -> crate::Result<Vec<Action>> {
    let all = [
        Action::Allow,
        Action::Errno(0),
        Action::KillProcess,
        Action::KillThread,
        Action::Trap(0),
        Action::Log,
        Action::Trace(0),
        Action::UserNotif,
    ];
    let mut out = Vec::new();
    for a in all {
        if linception_seccomp_notify::action_available(a)? {
            out.push(a);
        }
    }
    Ok(out)
}

/// The security modules the exec labels need, active or not (from
/// `/sys/kernel/security/lsm`, or what each module shows where securityfs is not
/// mounted): an [`apparmor_profile`](crate::ContainerBuilder::apparmor_profile) or
/// a [`selinux_label`](crate::ContainerBuilder::selinux_label) is refused at spawn
/// without its module.
pub fn active_lsms() -> ActiveLsms {
    ActiveLsms::current()
}

/// Whether the caller can make idmapped mounts now ([`Feature::MountSetattrIdmap`]:
/// the kernel has `MOUNT_ATTR_IDMAP`, Linux 5.12, and the caller holds
/// `CAP_SYS_ADMIN` in the initial user namespace, which an idmapped bind of a host
/// directory needs). Probed once per process.
pub fn idmapped_mounts() -> bool {
    Feature::MountSetattrIdmap.available().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_entries_map_to_their_flags() {
        let names = ["mnt", "pid", "pid_for_children", "time_for_children", "net"];
        assert_eq!(
            namespaces_in(names.map(String::from)),
            Namespaces::MOUNT | Namespaces::PID | Namespaces::NET
        );
    }

    #[test]
    fn the_kernels_answers_match_proc() {
        let ns = namespaces();
        for (name, flag) in [("mnt", Namespaces::MOUNT), ("user", Namespaces::USER)] {
            let exists = std::path::Path::new("/proc/self/ns").join(name).exists();
            assert_eq!(ns.contains(flag), exists, "{name}");
        }
        let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(last_cap(), last);
        assert_eq!(
            capabilities().bits().count_ones(),
            (last + 1).min(CapSet::all().bits().count_ones())
        );
        let actions = seccomp_actions().unwrap();
        assert!(actions.contains(&Action::Allow));
        assert!(actions.contains(&Action::Errno(0)));
    }
}
