//! Namespace fds: of a process through its pidfd (the PIDFD_GET_*_NAMESPACE
//! ioctls), and namespaces as objects (`NamespaceFd`: the nsfs ioctls, identity,
//! file handles, setns).
#![forbid(unsafe_code)]

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

use crate::PidFd;
use crate::error::{Call, Error, FlagNames, Result};
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
                        || {
                            Call::new(
                                "ioctl",
                                format_args!("fd {}, {}, 0", self.as_fd_raw(), kind.c_name()),
                            )
                        },
                        "PIDFD_GET_*_NAMESPACE ioctls",
                        "6.11",
                    )
                }
            },
        )
    }

    /// [`PidFd::namespace`] as a [`NamespaceFd`], to inspect, compare or join.
    ///
    /// # Errors
    ///
    /// As [`PidFd::namespace`].
    pub fn namespace_fd(&self, kind: NamespaceType) -> Result<NamespaceFd> {
        self.namespace(kind).map(NamespaceFd::from)
    }
}

/// `FD_NSFS_ROOT` (include/uapi/linux/fcntl.h): the root of nsfs, as the mount fd of
/// `open_by_handle_at`. Since Linux 6.18.
const FD_NSFS_ROOT: RawFd = -10003;

/// An fd referring to a namespace (nsfs): `/proc/<pid>/ns/<name>`, or one returned by
/// [`PidFd::namespace`], the nsfs ioctls, a socket's `SIOCGSKNS`... Owning it keeps
/// the namespace alive. Always O_CLOEXEC.
///
/// ```
/// use linception_pidfd::{NamespaceFd, Namespaces};
///
/// let net = NamespaceFd::open("/proc/self/ns/net")?;
/// assert_eq!(net.nstype()?, Namespaces::NET);
/// assert!(net.same_as(&NamespaceFd::open("/proc/thread-self/ns/net")?)?);
/// # Ok::<(), linception_pidfd::Error>(())
/// ```
pub struct NamespaceFd {
    fd: OwnedFd,
}

impl NamespaceFd {
    /// Opens a namespace file (`open(path, O_RDONLY | O_CLOEXEC)`) and checks that it
    /// is one (`NS_GET_NSTYPE`).
    ///
    /// # Errors
    ///
    /// `Syscall` if it cannot be opened; [`Error::InvalidArgument`] naming the path
    /// if it is not a namespace file (nothing is left open).
    pub fn open(path: impl AsRef<Path>) -> Result<NamespaceFd> {
        Self::open_inner(path.as_ref())
    }

    fn open_inner(path: &Path) -> Result<NamespaceFd> {
        let fd = rustix::fs::open(
            path,
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| Error::Syscall {
            call: Call::new("open", format_args!("{path:?}, O_RDONLY|O_CLOEXEC")),
            source: e.into(),
        })?;
        let ns = NamespaceFd { fd };
        match sys::ioctl_int(ns.fd.as_fd(), sys::NS_GET_NSTYPE) {
            Ok(_) => Ok(ns),
            Err(libc::ENOTTY | libc::EINVAL) => Err(Error::invalid(
                format!("namespace file {path:?}"),
                "it is not a namespace (nsfs) file",
            )),
            Err(e) => Err(ns.fail(e, "NS_GET_NSTYPE", "4.11")),
        }
    }

    fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn fail(&self, errno: i32, request: &str, min_kernel: &'static str) -> Error {
        if errno == libc::ENOTTY {
            // A kernel without this ioctl (or an fd that is not a namespace).
            return Error::Unsupported {
                feature: nsfs_feature(request),
                min_kernel,
            };
        }
        Error::from_errno(
            errno,
            || Call::new("ioctl", format_args!("fd {}, {request}", self.raw())),
            nsfs_feature(request),
            min_kernel,
        )
    }

    /// `ioctl(fd, NS_GET_NSTYPE)`: the namespace's type, one `CLONE_NEW*` flag.
    /// Since Linux 4.11.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] before Linux 4.11 or for an fd that is not a
    /// namespace (`ENOTTY`).
    ///
    /// # References
    /// - [ioctl_ns(2)](https://man7.org/linux/man-pages/man2/ioctl_ns.2.html)
    #[doc(alias = "NS_GET_NSTYPE")]
    pub fn nstype(&self) -> Result<Namespaces> {
        sys::ioctl_int(self.fd.as_fd(), sys::NS_GET_NSTYPE)
            .map(|t| Namespaces::from_bits_retain(t as u32))
            .map_err(|e| self.fail(e, "NS_GET_NSTYPE", "4.11"))
    }

    /// `ioctl(fd, NS_GET_ID, &id)`: the namespace's 64-bit id, unique for the
    /// system's uptime (never reused, unlike inode numbers). Since Linux 6.18.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] before Linux 6.18 (`ENOTTY`).
    ///
    /// # References
    /// - [include/uapi/linux/nsfs.h](https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/tree/include/uapi/linux/nsfs.h)
    #[doc(alias = "NS_GET_ID")]
    pub fn id(&self) -> Result<u64> {
        sys::ioctl_get_u64(self.fd.as_fd(), sys::NS_GET_ID)
            .map_err(|e| self.fail(e, "NS_GET_ID", "6.18"))
    }

    /// `ioctl(fd, NS_GET_USERNS)`: the user namespace that owns this namespace.
    /// Since Linux 4.9.
    ///
    /// # Errors
    ///
    /// `EPERM` if the owner is outside the caller's user namespace tree.
    ///
    /// # References
    /// - [ioctl_ns(2)](https://man7.org/linux/man-pages/man2/ioctl_ns.2.html)
    #[doc(alias = "NS_GET_USERNS")]
    pub fn owner(&self) -> Result<NamespaceFd> {
        sys::ioctl_new_fd(self.fd.as_fd(), sys::NS_GET_USERNS)
            .map(|fd| NamespaceFd { fd })
            .map_err(|e| self.fail(e, "NS_GET_USERNS", "4.9"))
    }

    /// `ioctl(fd, NS_GET_PARENT)`: the parent of a pid or user namespace. Since
    /// Linux 4.9.
    ///
    /// # Errors
    ///
    /// `EINVAL` for other namespace types, `EPERM` if the parent is outside the
    /// caller's namespace tree (or this is the initial namespace).
    ///
    /// # References
    /// - [ioctl_ns(2)](https://man7.org/linux/man-pages/man2/ioctl_ns.2.html)
    #[doc(alias = "NS_GET_PARENT")]
    pub fn parent(&self) -> Result<NamespaceFd> {
        sys::ioctl_new_fd(self.fd.as_fd(), sys::NS_GET_PARENT)
            .map(|fd| NamespaceFd { fd })
            .map_err(|e| self.fail(e, "NS_GET_PARENT", "4.9"))
    }

    /// `ioctl(fd, NS_GET_OWNER_UID, &uid)`: the uid (in the caller's user namespace)
    /// of the creator of a user namespace. Since Linux 4.11.
    ///
    /// # Errors
    ///
    /// `EINVAL` if this is not a user namespace.
    ///
    /// # References
    /// - [ioctl_ns(2)](https://man7.org/linux/man-pages/man2/ioctl_ns.2.html)
    #[doc(alias = "NS_GET_OWNER_UID")]
    pub fn owner_uid(&self) -> Result<u32> {
        sys::ioctl_get_uid(self.fd.as_fd(), sys::NS_GET_OWNER_UID)
            .map_err(|e| self.fail(e, "NS_GET_OWNER_UID", "4.11"))
    }

    /// Whether both fds refer to the same namespace: same device and inode
    /// (`fstat`), which holds on every kernel while both fds are open.
    ///
    /// # Errors
    ///
    /// Only a failing `fstat`.
    pub fn same_as(&self, other: &NamespaceFd) -> Result<bool> {
        Ok(self.dev_ino()? == other.dev_ino()?)
    }

    /// The namespace's `(st_dev, st_ino)`, its identity as `ls -l /proc/self/ns`
    /// shows it (`net:[4026531840]`).
    ///
    /// # Errors
    ///
    /// Only a failing `fstat`.
    pub fn dev_ino(&self) -> Result<(u64, u64)> {
        let st = rustix::fs::fstat(&self.fd).map_err(|e| Error::Syscall {
            call: Call::new("fstat", format_args!("fd {}", self.raw())),
            source: e.into(),
        })?;
        Ok((st.st_dev, st.st_ino))
    }

    /// Checks `nstype` for [`NamespaceFd::setns`]: empty, or exactly this fd's type.
    pub(crate) fn check_setns_type(&self, nstype: Namespaces) -> Result<()> {
        if nstype.is_empty() {
            return Ok(());
        }
        let actual = self.nstype()?;
        if nstype != actual {
            return Err(Error::invalid(
                format!("setns nstype {} for fd {}", names(nstype), self.raw()),
                format!(
                    "the fd refers to a {} namespace; pass that type or none",
                    names(actual)
                ),
            ));
        }
        Ok(())
    }

    /// `name_to_handle_at(fd, "", &handle, &mount_id, AT_EMPTY_PATH)`: a file handle
    /// naming this namespace, which [`NamespaceHandle::open`] turns back into an fd as
    /// long as the namespace is alive (no fd or process needs to keep it). Since
    /// Linux 6.18.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] before Linux 6.18 (`EOPNOTSUPP`).
    ///
    /// # References
    /// - [name_to_handle_at(2)](https://man7.org/linux/man-pages/man2/name_to_handle_at.2.html)
    #[doc(alias = "name_to_handle_at")]
    pub fn file_handle(&self) -> Result<NamespaceHandle> {
        match sys::name_to_handle(self.fd.as_fd()) {
            Ok((handle_type, bytes)) => Ok(NamespaceHandle { handle_type, bytes }),
            Err(libc::EOPNOTSUPP) => Err(Error::Unsupported {
                feature: "namespace file handles",
                min_kernel: "6.18",
            }),
            Err(e) => Err(Error::from_errno(
                e,
                || {
                    Call::new(
                        "name_to_handle_at",
                        format_args!("fd {}, \"\", ..., AT_EMPTY_PATH", self.raw()),
                    )
                },
                "name_to_handle_at",
                "2.6.39",
            )),
        }
    }

    /// A second fd for the same namespace (`fcntl(F_DUPFD_CLOEXEC)`).
    ///
    /// # Errors
    ///
    /// `EMFILE` when out of fds.
    pub fn try_clone(&self) -> Result<NamespaceFd> {
        self.fd
            .try_clone()
            .map(|fd| NamespaceFd { fd })
            .map_err(|e| Error::Syscall {
                call: Call::new(
                    "fcntl",
                    format_args!("fd {}, F_DUPFD_CLOEXEC, 0", self.raw()),
                ),
                source: e,
            })
    }
}

fn nsfs_feature(request: &str) -> &'static str {
    match request {
        "NS_GET_ID" => "NS_GET_ID",
        "NS_GET_USERNS" => "NS_GET_USERNS",
        "NS_GET_PARENT" => "NS_GET_PARENT",
        "NS_GET_OWNER_UID" => "NS_GET_OWNER_UID",
        _ => "NS_GET_NSTYPE",
    }
}

impl AsFd for NamespaceFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for NamespaceFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Takes ownership of an fd that should be a namespace fd (not checked here; the
/// ioctls fail on another kind of fd, and [`NamespaceFd::setns`] checks the type).
impl From<OwnedFd> for NamespaceFd {
    fn from(fd: OwnedFd) -> NamespaceFd {
        NamespaceFd { fd }
    }
}

impl From<NamespaceFd> for OwnedFd {
    fn from(ns: NamespaceFd) -> OwnedFd {
        ns.fd
    }
}

impl fmt::Debug for NamespaceFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamespaceFd")
            .field("fd", &self.raw())
            .finish()
    }
}

/// A file handle naming a namespace (nsfs, `FILEID_NSFS`), from
/// [`NamespaceFd::file_handle`]: plain bytes that can be stored or sent to another
/// process and reopened while the namespace lives. Since Linux 6.18.
///
/// ```
/// use linception_pidfd::{Error, NamespaceFd, NamespaceHandle};
///
/// let net = NamespaceFd::open("/proc/self/ns/net")?;
/// let handle = match net.file_handle() {
///     Ok(h) => h,
///     Err(Error::Unsupported { .. }) => return Ok(()), // before Linux 6.18
///     Err(e) => return Err(e),
/// };
/// // Plain bytes: store them, send them, rebuild the handle, reopen.
/// let copy = NamespaceHandle::from_parts(handle.handle_type(), handle.as_bytes())?;
/// assert!(copy.open()?.same_as(&net)?);
/// # Ok::<(), linception_pidfd::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NamespaceHandle {
    handle_type: i32,
    bytes: Vec<u8>,
}

impl NamespaceHandle {
    /// The kernel's handle type (`FILEID_NSFS`, 0xf1).
    pub fn handle_type(&self) -> i32 {
        self.handle_type
    }

    /// The opaque handle bytes (`f_handle`).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// A handle from its type and bytes, as [`NamespaceHandle::handle_type`] and
    /// [`NamespaceHandle::as_bytes`] gave them.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for more than `MAX_HANDLE_SZ` (128) bytes.
    pub fn from_parts(handle_type: i32, bytes: &[u8]) -> Result<NamespaceHandle> {
        if bytes.len() > sys::MAX_HANDLE_SZ {
            return Err(Error::invalid(
                format!("namespace handle of {} bytes", bytes.len()),
                format!("a file handle holds at most {} bytes", sys::MAX_HANDLE_SZ),
            ));
        }
        Ok(NamespaceHandle {
            handle_type,
            bytes: bytes.to_vec(),
        })
    }

    /// `open_by_handle_at(FD_NSFS_ROOT, handle, O_RDONLY | O_CLOEXEC)`: an fd for the
    /// namespace again. Since Linux 6.18.
    ///
    /// # Errors
    ///
    /// `ESTALE` once the namespace is gone, `EPERM` if the caller may not see it
    /// (the kernel allows a namespace owned by the caller's user namespace tree),
    /// [`Error::Unsupported`] before Linux 6.18 (`EBADF`/`EOPNOTSUPP`).
    ///
    /// # References
    /// - [open_by_handle_at(2)](https://man7.org/linux/man-pages/man2/open_by_handle_at.2.html)
    #[doc(alias = "open_by_handle_at")]
    pub fn open(&self) -> Result<NamespaceFd> {
        sys::open_by_handle(FD_NSFS_ROOT, self.handle_type, &self.bytes, libc::O_RDONLY)
            .map(|fd| NamespaceFd { fd })
            .map_err(|e| match e {
                libc::EBADF | libc::EOPNOTSUPP => Error::Unsupported {
                    feature: "namespace file handles",
                    min_kernel: "6.18",
                },
                _ => Error::from_errno(
                    e,
                    || {
                        Call::new(
                            "open_by_handle_at",
                            format_args!(
                                "FD_NSFS_ROOT, {{type {:#x}, {} bytes}}, O_RDONLY",
                                self.handle_type,
                                self.bytes.len()
                            ),
                        )
                    },
                    "open_by_handle_at",
                    "2.6.39",
                ),
            })
    }
}

/// `CLONE_NEWNS|CLONE_NEWUTS` for error messages.
pub(crate) fn names(ns: Namespaces) -> FlagNames<'static> {
    FlagNames {
        bits: u64::from(ns.bits()),
        names: &[
            (libc::CLONE_NEWNS as u64, "CLONE_NEWNS"),
            (libc::CLONE_NEWCGROUP as u64, "CLONE_NEWCGROUP"),
            (libc::CLONE_NEWUTS as u64, "CLONE_NEWUTS"),
            (libc::CLONE_NEWIPC as u64, "CLONE_NEWIPC"),
            (libc::CLONE_NEWUSER as u64, "CLONE_NEWUSER"),
            (libc::CLONE_NEWPID as u64, "CLONE_NEWPID"),
            (libc::CLONE_NEWNET as u64, "CLONE_NEWNET"),
            (libc::CLONE_NEWTIME as u64, "CLONE_NEWTIME"),
        ],
    }
}
