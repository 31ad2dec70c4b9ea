//! pidfs file handles (`name_to_handle_at` on a pidfd, `open_by_handle_at` back) and
//! the `PIDFD_SELF_*` pseudo-fds.
#![forbid(unsafe_code)]

use std::os::fd::{AsFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::PidFd;
use crate::error::{Call, Error, Result};
use crate::sys;
use crate::types::{Pid, PidfdFlags, Signal};

/// `FD_PIDFS_ROOT` (include/uapi/linux/fcntl.h): the root of pidfs as the mount fd
/// of `open_by_handle_at`. Since Linux 6.17; before, any pidfd serves (6.14+).
const FD_PIDFS_ROOT: RawFd = -10002;
/// `PIDFD_SELF_THREAD` (include/uapi/linux/fcntl.h).
const PIDFD_SELF_THREAD: RawFd = -10000;
/// `PIDFD_SELF_THREAD_GROUP` (include/uapi/linux/fcntl.h).
const PIDFD_SELF_THREAD_GROUP: RawFd = -10001;

/// Test hook: pretend the kernel does not know `FD_PIDFS_ROOT` (before Linux 6.17),
/// so that the fallback (a pidfd of the caller as mount fd) is tested here too.
pub(crate) static FORCE_NO_PIDFS_ROOT: AtomicBool = AtomicBool::new(false);

/// A file handle naming a process (pidfs, `FILEID_KERNEL`-style 64-bit inode), from
/// [`PidFd::file_handle`]: plain bytes that can be stored or sent to another process
/// and turned back into a pidfd with [`PidfdHandle::open`] while the process is
/// alive. Unlike a pid, it is never reused. Since Linux 6.14.
///
/// ```
/// use linception_pidfd::{CloneArgs, Error, Exec, PidfdFlags};
///
/// let mut child = CloneArgs::new().spawn(&Exec::new("/bin/sleep").arg("10"))?;
/// let handle = match child.pidfd().file_handle() {
///     Ok(h) => h,
///     Err(Error::Unsupported { .. }) => return Ok(()), // before Linux 6.14
///     Err(e) => return Err(e),
/// };
/// let again = handle.open(PidfdFlags::empty())?;
/// assert_eq!(again.pid()?, child.pid());
/// child.kill()?;
/// # child.wait()?;
/// # Ok::<(), linception_pidfd::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PidfdHandle {
    handle_type: i32,
    bytes: Vec<u8>,
}

impl PidFd {
    /// `name_to_handle_at(pidfd, "", &handle, &mount_id, AT_EMPTY_PATH)`: a file
    /// handle for this process. Since Linux 6.14.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] before Linux 6.14 (`EOPNOTSUPP`).
    ///
    /// # References
    /// - [name_to_handle_at(2)](https://man7.org/linux/man-pages/man2/name_to_handle_at.2.html)
    #[doc(alias = "name_to_handle_at")]
    pub fn file_handle(&self) -> Result<PidfdHandle> {
        match sys::name_to_handle(self.as_fd()) {
            Ok((handle_type, bytes)) => Ok(PidfdHandle { handle_type, bytes }),
            Err(libc::EOPNOTSUPP) => Err(Error::Unsupported {
                feature: "pidfs file handles",
                min_kernel: "6.14",
            }),
            Err(e) => Err(self.error(
                e,
                || {
                    Call::new(
                        "name_to_handle_at",
                        format_args!("fd {}, \"\", ..., AT_EMPTY_PATH", self.as_fd_raw()),
                    )
                },
                "name_to_handle_at",
                "2.6.39",
            )),
        }
    }

    /// `pidfd_send_signal(PIDFD_SELF_THREAD or PIDFD_SELF_THREAD_GROUP, sig, NULL,
    /// 0)`: signals the calling thread or process without opening a pidfd. Since
    /// Linux 6.15 (the pseudo-fds work where a call takes a pidfd and no file: not
    /// for ioctls, `waitid` or `pidfd_getfd`).
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] before Linux 6.15 (the kernel answers `EBADF`).
    ///
    /// # References
    /// - [pidfd_send_signal(2)](https://man7.org/linux/man-pages/man2/pidfd_send_signal.2.html)
    #[doc(
        alias = "PIDFD_SELF",
        alias = "PIDFD_SELF_THREAD",
        alias = "PIDFD_SELF_PROCESS"
    )]
    pub fn send_signal_to_self(target: SelfTarget, sig: Signal) -> Result<()> {
        let (special, name) = match target {
            SelfTarget::Thread => (PIDFD_SELF_THREAD, "PIDFD_SELF_THREAD"),
            SelfTarget::Process => (PIDFD_SELF_THREAD_GROUP, "PIDFD_SELF_THREAD_GROUP"),
        };
        sys::pidfd_send_signal_special(special, sig.as_raw()).map_err(|e| match e {
            libc::EBADF => Error::Unsupported {
                feature: "PIDFD_SELF",
                min_kernel: "6.15",
            },
            _ => Error::from_errno(
                e,
                || Call::new("pidfd_send_signal", format_args!("{name}, {sig}, NULL, 0")),
                "pidfd_send_signal",
                "5.1",
            ),
        })
    }
}

/// Which task the `PIDFD_SELF_*` pseudo-fd names, for
/// [`PidFd::send_signal_to_self`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SelfTarget {
    /// `PIDFD_SELF_THREAD` (alias `PIDFD_SELF`): the calling thread.
    Thread,
    /// `PIDFD_SELF_THREAD_GROUP` (alias `PIDFD_SELF_PROCESS`): the calling process.
    Process,
}

impl PidfdHandle {
    /// The kernel's handle type.
    pub fn handle_type(&self) -> i32 {
        self.handle_type
    }

    /// The opaque handle bytes (`f_handle`).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// A handle from its type and bytes, as [`PidfdHandle::handle_type`] and
    /// [`PidfdHandle::as_bytes`] gave them.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for more than `MAX_HANDLE_SZ` (128) bytes.
    pub fn from_parts(handle_type: i32, bytes: &[u8]) -> Result<PidfdHandle> {
        if bytes.len() > sys::MAX_HANDLE_SZ {
            return Err(Error::invalid(
                format!("pidfd handle of {} bytes", bytes.len()),
                format!("a file handle holds at most {} bytes", sys::MAX_HANDLE_SZ),
            ));
        }
        Ok(PidfdHandle {
            handle_type,
            bytes: bytes.to_vec(),
        })
    }

    /// `open_by_handle_at(FD_PIDFS_ROOT, handle, flags)`: a new pidfd for the process
    /// (with [`PidfdFlags::THREAD`] / [`PidfdFlags::NONBLOCK`] as `pidfd_open`
    /// takes them). Since Linux 6.14; before 6.17, which added `FD_PIDFS_ROOT`, a
    /// pidfd of the caller serves as the mount fd.
    ///
    /// # Errors
    ///
    /// [`Error::ProcessGone`] / `ESTALE` once the process is reaped, `EREMOTE` or
    /// `ESTALE` if it is outside the caller's pid namespace, `EINVAL` for flags the
    /// kernel refuses, [`Error::Unsupported`] before Linux 6.14.
    ///
    /// # References
    /// - [open_by_handle_at(2)](https://man7.org/linux/man-pages/man2/open_by_handle_at.2.html)
    #[doc(alias = "open_by_handle_at")]
    pub fn open(&self, flags: PidfdFlags) -> Result<PidFd> {
        if self.bytes.is_empty() {
            return Err(Error::invalid(
                "pidfd handle",
                "it holds no bytes (not made by PidFd::file_handle)",
            ));
        }
        let oflags = libc::O_RDWR | flags.bits() as i32;
        let call = |mount: &dyn std::fmt::Display| {
            Call::new(
                "open_by_handle_at",
                format_args!(
                    "{mount}, {{type {:#x}, {} bytes}}, O_RDWR|{:#x}",
                    self.handle_type,
                    self.bytes.len(),
                    flags.bits()
                ),
            )
        };
        let first = if FORCE_NO_PIDFS_ROOT.load(Ordering::Relaxed) {
            Err(libc::EBADF)
        } else {
            sys::open_by_handle(FD_PIDFS_ROOT, self.handle_type, &self.bytes, oflags)
        };
        let fd = match first {
            Ok(fd) => fd,
            // Before Linux 6.17: FD_PIDFS_ROOT is no fd; any pidfd names the mount.
            Err(libc::EBADF) => {
                let me = PidFd::open(Pid::this(), PidfdFlags::empty())?;
                let mount = std::os::fd::AsRawFd::as_raw_fd(&me);
                sys::open_by_handle(mount, self.handle_type, &self.bytes, oflags).map_err(|e| {
                    match e {
                        libc::EOPNOTSUPP => Error::Unsupported {
                            feature: "pidfs file handles",
                            min_kernel: "6.14",
                        },
                        _ => Error::from_errno(
                            e,
                            || call(&format_args!("fd {mount}")),
                            "open_by_handle_at",
                            "2.6.39",
                        ),
                    }
                })?
            }
            Err(e) => {
                return Err(Error::from_errno(
                    e,
                    || call(&"FD_PIDFS_ROOT"),
                    "open_by_handle_at",
                    "2.6.39",
                ));
            }
        };
        Ok(PidFd::from(fd))
    }
}
