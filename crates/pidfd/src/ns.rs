//! Namespace fds of a process through its pidfd (the PIDFD_GET_*_NAMESPACE ioctls).
#![forbid(unsafe_code)]

use std::os::fd::OwnedFd;

use crate::PidFd;
use crate::error::{Error, Result};
use crate::sys;
use crate::types::Namespaces;

/// One kind of namespace, for [`PidFd::namespace`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NamespaceType {
    /// `PIDFD_GET_CGROUP_NAMESPACE`.
    Cgroup,
    /// `PIDFD_GET_IPC_NAMESPACE`.
    Ipc,
    /// `PIDFD_GET_MNT_NAMESPACE`.
    Mnt,
    /// `PIDFD_GET_NET_NAMESPACE`.
    Net,
    /// `PIDFD_GET_PID_NAMESPACE`.
    Pid,
    /// `PIDFD_GET_PID_FOR_CHILDREN_NAMESPACE`.
    PidForChildren,
    /// `PIDFD_GET_TIME_NAMESPACE`.
    Time,
    /// `PIDFD_GET_TIME_FOR_CHILDREN_NAMESPACE`.
    TimeForChildren,
    /// `PIDFD_GET_USER_NAMESPACE`.
    User,
    /// `PIDFD_GET_UTS_NAMESPACE`.
    Uts,
}

impl NamespaceType {
    /// All ten kinds.
    pub const ALL: [NamespaceType; 10] = [
        NamespaceType::Cgroup,
        NamespaceType::Ipc,
        NamespaceType::Mnt,
        NamespaceType::Net,
        NamespaceType::Pid,
        NamespaceType::PidForChildren,
        NamespaceType::Time,
        NamespaceType::TimeForChildren,
        NamespaceType::User,
        NamespaceType::Uts,
    ];

    fn nr(self) -> u32 {
        match self {
            NamespaceType::Cgroup => 1,
            NamespaceType::Ipc => 2,
            NamespaceType::Mnt => 3,
            NamespaceType::Net => 4,
            NamespaceType::Pid => 5,
            NamespaceType::PidForChildren => 6,
            NamespaceType::Time => 7,
            NamespaceType::TimeForChildren => 8,
            NamespaceType::User => 9,
            NamespaceType::Uts => 10,
        }
    }

    /// The file name under `/proc/<pid>/ns/` (`"mnt"`, `"pid_for_children"`...).
    pub fn proc_name(self) -> &'static str {
        match self {
            NamespaceType::Cgroup => "cgroup",
            NamespaceType::Ipc => "ipc",
            NamespaceType::Mnt => "mnt",
            NamespaceType::Net => "net",
            NamespaceType::Pid => "pid",
            NamespaceType::PidForChildren => "pid_for_children",
            NamespaceType::Time => "time",
            NamespaceType::TimeForChildren => "time_for_children",
            NamespaceType::User => "user",
            NamespaceType::Uts => "uts",
        }
    }

    fn c_name(self) -> &'static str {
        match self {
            NamespaceType::Cgroup => "PIDFD_GET_CGROUP_NAMESPACE",
            NamespaceType::Ipc => "PIDFD_GET_IPC_NAMESPACE",
            NamespaceType::Mnt => "PIDFD_GET_MNT_NAMESPACE",
            NamespaceType::Net => "PIDFD_GET_NET_NAMESPACE",
            NamespaceType::Pid => "PIDFD_GET_PID_NAMESPACE",
            NamespaceType::PidForChildren => "PIDFD_GET_PID_FOR_CHILDREN_NAMESPACE",
            NamespaceType::Time => "PIDFD_GET_TIME_NAMESPACE",
            NamespaceType::TimeForChildren => "PIDFD_GET_TIME_FOR_CHILDREN_NAMESPACE",
            NamespaceType::User => "PIDFD_GET_USER_NAMESPACE",
            NamespaceType::Uts => "PIDFD_GET_UTS_NAMESPACE",
        }
    }
}

impl PidFd {
    /// `ioctl(pidfd, PIDFD_GET_*_NAMESPACE, 0)`: an O_CLOEXEC fd for one of the
    /// process's namespaces, the same as opening `/proc/<pid>/ns/<name>` but without a
    /// pid race and without `/proc`. Since Linux 6.11.
    ///
    /// # Errors
    ///
    /// [`Error::ProcessGone`] once it has exited, `EPERM` without ptrace read access
    /// to it, `EOPNOTSUPP` if the kernel lacks that namespace type,
    /// [`Error::Unsupported`] before Linux 6.11 (`ENOTTY`).
    ///
    /// # References
    /// - [include/uapi/linux/pidfd.h](https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/tree/include/uapi/linux/pidfd.h)
    #[doc(alias = "PIDFD_GET_MNT_NAMESPACE", alias = "PIDFD_GET_NET_NAMESPACE")]
    pub fn namespace(&self, kind: NamespaceType) -> Result<OwnedFd> {
        sys::pidfd_get_namespace(std::os::fd::AsFd::as_fd(self), sys::pidfs_io(kind.nr())).map_err(
            |e| {
                if e == libc::ENOTTY {
                    Error::Unsupported {
                        feature: "PIDFD_GET_*_NAMESPACE ioctls",
                        min_kernel: "6.11",
                    }
                } else {
                    self.error(
                        e,
                        || format!("ioctl(fd {}, {}, 0)", self.as_fd_raw(), kind.c_name()),
                        "PIDFD_GET_*_NAMESPACE ioctls",
                        "6.11",
                    )
                }
            },
        )
    }
}

/// `CLONE_NEWNS|CLONE_NEWUTS` for error messages.
pub(crate) fn names(ns: Namespaces) -> String {
    if ns.is_empty() {
        return "0".into();
    }
    let mut v = Vec::new();
    for (flag, name) in [
        (Namespaces::MNT, "CLONE_NEWNS"),
        (Namespaces::CGROUP, "CLONE_NEWCGROUP"),
        (Namespaces::UTS, "CLONE_NEWUTS"),
        (Namespaces::IPC, "CLONE_NEWIPC"),
        (Namespaces::USER, "CLONE_NEWUSER"),
        (Namespaces::PID, "CLONE_NEWPID"),
        (Namespaces::NET, "CLONE_NEWNET"),
        (Namespaces::TIME, "CLONE_NEWTIME"),
    ] {
        if ns.contains(flag) {
            v.push(name.to_string());
        }
    }
    let rest = ns.bits() & !Namespaces::all().bits();
    if rest != 0 {
        v.push(format!("{rest:#x}"));
    }
    v.join("|")
}
