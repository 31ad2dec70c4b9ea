//! A user namespace with given maps, held by an fd.
#![forbid(unsafe_code)]

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use rustix::fs::OFlags;
use rustix::process::{Pid, Signal};

use crate::error::{Call, Error, Result};
use crate::map::IdMap;
use crate::proc::ProcDir;
use crate::write::MapWriter;

/// A user namespace, held by an fd of `/proc/PID/ns/user` (CLOEXEC): pass it to
/// `setns(2)`, or as `userns_fd` of `mount_setattr(2)` with `MOUNT_ATTR_IDMAP` for
/// an idmapped mount.
///
/// ```no_run
/// use linception_userns::{IdMap, UserNamespace};
///
/// // Root: ids 0..65536 of the namespace are 100000..165536 on the host.
/// let map = IdMap::single(0, 100_000, 65_536)?;
/// let ns = UserNamespace::with_maps(map.clone(), map)?;
/// println!("{ns:?}");
/// # Ok::<(), linception_userns::Error>(())
/// ```
pub struct UserNamespace {
    fd: OwnedFd,
}

/// The child that holds a new namespace while its maps are written; killed
/// through its pidfd and reaped when dropped.
struct WaitingChild {
    pid: Pid,
    pidfd: OwnedFd,
}

impl Drop for WaitingChild {
    fn drop(&mut self) {
        // SIGKILL cannot fail for our own unreaped child; were it to, waitpid
        // below would block, so only wait after a delivered signal.
        if rustix::process::pidfd_send_signal(&self.pidfd, Signal::KILL).is_ok() {
            let _ = rustix::process::waitpid(Some(self.pid), rustix::process::WaitOptions::empty());
        }
    }
}

impl UserNamespace {
    /// Creates a user namespace and writes its maps with `writer`: a child is
    /// cloned into a new user namespace (`clone3` with `CLONE_NEWUSER |
    /// CLONE_PIDFD`), its maps are written from here, `/proc/PID/ns/user` is opened,
    /// and the child is killed and reaped. Since Linux 5.3.
    ///
    /// Works unprivileged too, with [`MapWriter::own_ids`]. The namespace's owner
    /// is the caller's effective uid.
    ///
    /// # Errors
    /// [`Error::Unsupported`] without `clone3`; [`Error::Syscall`] if the clone
    /// fails (`ENOSPC`: too many namespaces, `EPERM`: user namespaces disabled or
    /// the caller is chrooted); the errors of [`MapWriter::write`].
    ///
    /// # References
    /// [clone3(2)](https://man7.org/linux/man-pages/man2/clone3.2.html),
    /// [user_namespaces(7)](https://man7.org/linux/man-pages/man7/user_namespaces.7.html)
    pub fn new(writer: &MapWriter) -> Result<UserNamespace> {
        let (pid, pidfd) = crate::sys::clone_waiting_child_in_new_userns().map_err(|e| {
            if e == libc::ENOSYS {
                Error::Unsupported {
                    feature: "clone3",
                    min_kernel: "5.3",
                }
            } else {
                Error::syscall(
                    Call::new(
                        "clone3",
                        format_args!("{{flags: CLONE_NEWUSER|CLONE_PIDFD, exit_signal: SIGCHLD}}"),
                    ),
                    std::io::Error::from_raw_os_error(e),
                )
            }
        })?;
        let child = WaitingChild { pid, pidfd };
        let dir = ProcDir::open(Some(child.pid))?;
        writer.write_dir(&dir, Some(child.pidfd.as_fd()))?;
        let fd = dir.open_file("ns/user", OFlags::RDONLY).map_err(|e| {
            let path = dir.path("ns/user");
            Error::syscall(Call::new("open", format_args!("{path:?}, O_RDONLY")), e)
        })?;
        drop(child);
        Ok(UserNamespace { fd })
    }

    /// [`UserNamespace::new`] with these maps, in [`WriteMode::Auto`](crate::WriteMode::Auto).
    ///
    /// # Errors
    /// As [`UserNamespace::new`].
    pub fn with_maps(uid_map: IdMap, gid_map: IdMap) -> Result<UserNamespace> {
        UserNamespace::new(&MapWriter::new().uid_map(uid_map).gid_map(gid_map))
    }

    /// Duplicates the fd (CLOEXEC).
    ///
    /// # Errors
    /// [`Error::Syscall`] if `fcntl(F_DUPFD_CLOEXEC)` fails (`EMFILE`).
    pub fn try_clone(&self) -> Result<UserNamespace> {
        let fd = self.fd.try_clone().map_err(|e| {
            Error::syscall(
                Call::new(
                    "fcntl",
                    format_args!("fd {}, F_DUPFD_CLOEXEC", self.fd.as_raw_fd()),
                ),
                e,
            )
        })?;
        Ok(UserNamespace { fd })
    }
}

impl AsFd for UserNamespace {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl From<OwnedFd> for UserNamespace {
    /// Takes an fd of a user namespace (`/proc/PID/ns/user`), unchecked.
    fn from(fd: OwnedFd) -> Self {
        UserNamespace { fd }
    }
}

impl From<UserNamespace> for OwnedFd {
    fn from(ns: UserNamespace) -> OwnedFd {
        ns.fd
    }
}

impl fmt::Debug for UserNamespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserNamespace")
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}
