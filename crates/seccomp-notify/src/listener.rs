//! The user-notification listener: receive a trapped syscall, answer it.
#![forbid(unsafe_code)]

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

use rustix::io::Errno;

use crate::error::{Call, Error, Result};
use crate::sizes::{NOTIF_SIZE, NotifSizes, RESP_SIZE, check_sizes, raw_notif_sizes, sizes_error};
use crate::sys::{self, NOTIF_BUF_WORDS};

/// A syscall trapped by `SECCOMP_RET_USER_NOTIF`, waiting for an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Notification {
    /// The cookie that names this notification in every answer.
    pub id: u64,
    /// The calling thread's id in the listener's pid namespace (0 if not visible
    /// there). Not a pidfd: the number may be reused once the caller is gone; check
    /// [`Listener::id_valid`] after using it.
    pub pid: u32,
    /// The `AUDIT_ARCH_*` of the call.
    pub arch: u32,
    /// The syscall number.
    pub nr: i32,
    /// The raw arguments.
    pub args: [u64; 6],
    /// The instruction pointer at the call.
    pub instruction_pointer: u64,
}

/// The kernel's struct sizes, probed once per process (as
/// [`notif_sizes`](crate::notif_sizes) does) and
/// checked against the crate's layouts and the stack buffers.
fn kernel_sizes() -> Result<(usize, usize)> {
    static SIZES: OnceLock<Result<NotifSizes, Errno>> = OnceLock::new();
    match *SIZES.get_or_init(raw_notif_sizes) {
        Ok(kernel) => check_sizes(kernel, NOTIF_BUF_WORDS * 8),
        Err(errno) => Err(sizes_error(errno)),
    }
}

const PROBE_UNKNOWN: u8 = 0;
const PROBE_YES: u8 = 1;
const PROBE_NO: u8 = 2;
static SYNC_WAKE_UP: AtomicU8 = AtomicU8::new(PROBE_UNKNOWN);

/// How the kernel wakes the supervisor when a notification arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum WakeUp {
    /// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` where the kernel has it (Linux 6.6), else
    /// the default: the caller hands its CPU to the supervisor and back, which makes a
    /// round trip about 10x faster. The default.
    #[default]
    SyncIfAvailable,
    /// The kernel's default wake-up (the supervisor may be woken on another CPU).
    Default,
}

/// A seccomp user-notification listener (the fd from `NEW_LISTENER`).
///
/// Answer each [`Notification`] exactly once: with [`respond_value`](Self::respond_value),
/// [`respond_errno`](Self::respond_errno), [`respond_continue`](Self::respond_continue), or
/// [`add_fd`](Self::add_fd) with [`AddFd::send`]. The caller waits until then (or until
/// a signal interrupts it, unless `WAIT_KILLABLE_RECV`).
///
/// `recv` and the answers take `&self` and allocate nothing: a listener can be shared
/// by threads (one receiving, others answering). The buffers for the kernel's structs
/// live on the stack, sized from `SECCOMP_GET_NOTIF_SIZES` (probed once per process),
/// so a kernel with larger structs is handled.
///
/// ```no_run
/// use linception_seccomp_notify::{Action, Filter, FilterFlags, NoNewPrivs, Response};
/// let program = Filter::new(Action::Allow).rule("getppid", Action::UserNotif).compile()?;
/// // In the (forked) child to be supervised:
/// let listener = program.install(FilterFlags::NEW_LISTENER, NoNewPrivs::Set)?.unwrap();
/// // ... send the listener to the supervisor, which answers:
/// listener.serve(|_listener, notif| Response::Value(notif.pid as i64))?;
/// # Ok::<(), linception_seccomp_notify::Error>(())
/// ```
pub struct Listener {
    fd: OwnedFd,
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }
}

impl From<OwnedFd> for Listener {
    /// Wraps a listener fd, turning sync wake-up on where the kernel has it.
    fn from(fd: OwnedFd) -> Self {
        Listener::new(fd)
    }
}

impl From<Listener> for OwnedFd {
    fn from(listener: Listener) -> Self {
        listener.fd
    }
}

/// A `SECCOMP_IOCTL_NOTIF_ADDFD` request: put a copy of one of our fds into the caller.
#[derive(Clone, Copy, Debug)]
#[must_use]
pub struct AddFd<'fd> {
    fd: BorrowedFd<'fd>,
    target: Option<u32>,
    cloexec: bool,
    send: bool,
}

impl<'fd> AddFd<'fd> {
    /// Copies `fd` into the caller, at its lowest free number, without `O_CLOEXEC`.
    pub fn new(fd: BorrowedFd<'fd>) -> Self {
        AddFd {
            fd,
            target: None,
            cloexec: false,
            send: false,
        }
    }

    /// `SECCOMP_ADDFD_FLAG_SETFD`: at this number, replacing whatever is there (like `dup2`).
    pub fn at(mut self, target: u32) -> Self {
        self.target = Some(target);
        self
    }

    /// Sets `O_CLOEXEC` on the new fd in the caller.
    pub fn cloexec(mut self) -> Self {
        self.cloexec = true;
        self
    }

    /// `SECCOMP_ADDFD_FLAG_SEND` (Linux 5.14): also answer the notification, atomically,
    /// with the new fd number as the syscall's return value (for `open`-like calls).
    pub fn send(mut self) -> Self {
        self.send = true;
        self
    }
}

impl Listener {
    /// Wraps a listener fd with the default wake-up mode ([`WakeUp::SyncIfAvailable`]).
    pub fn new(fd: OwnedFd) -> Self {
        Self::with_wake_up(fd, WakeUp::SyncIfAvailable)
    }

    /// Wraps a listener fd with the given wake-up mode.
    pub fn with_wake_up(fd: OwnedFd, wake_up: WakeUp) -> Self {
        let listener = Listener { fd };
        if wake_up == WakeUp::SyncIfAvailable && SYNC_WAKE_UP.load(Ordering::Relaxed) != PROBE_NO {
            // Best effort: an older kernel keeps the default wake-up.
            let _ = listener.set_sync_wakeup();
        }
        listener
    }

    /// Whether the running kernel has `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP`, as far as a
    /// listener of this process has found out (`None` before the first try).
    pub fn sync_wakeup_supported() -> Option<bool> {
        match SYNC_WAKE_UP.load(Ordering::Relaxed) {
            PROBE_YES => Some(true),
            PROBE_NO => Some(false),
            _ => None,
        }
    }

    /// Makes the kernel wake the supervisor synchronously, on the caller's CPU.
    ///
    /// C: `ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)`.
    /// Since Linux 6.6. The answer is cached for the process.
    ///
    /// # Errors
    /// [`Error::Unsupported`] before Linux 6.6.
    ///
    /// # References
    /// [seccomp_unotify(2)](https://man7.org/linux/man-pages/man2/seccomp_unotify.2.html)
    #[doc(alias = "SECCOMP_IOCTL_NOTIF_SET_FLAGS")]
    #[doc(alias = "SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP")]
    pub fn set_sync_wakeup(&self) -> Result<()> {
        match sys::notif_set_flags(self.fd.as_fd(), sys::SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) {
            Ok(()) => {
                SYNC_WAKE_UP.store(PROBE_YES, Ordering::Relaxed);
                Ok(())
            }
            Err(Errno::INVAL | Errno::NOTTY | Errno::NOSYS) => {
                SYNC_WAKE_UP.store(PROBE_NO, Ordering::Relaxed);
                Err(Error::Unsupported {
                    feature: "SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP",
                    min_kernel: "6.6",
                })
            }
            Err(errno) => Err(Error::syscall(
                Call::new(
                    "ioctl",
                    format_args!(
                        "fd {}, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP",
                        self.fd.as_raw_fd()
                    ),
                ),
                errno,
            )),
        }
    }

    /// Waits for the next notification.
    ///
    /// C: `ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &notif)`. Blocks until a caller
    /// is trapped. When the filter has no task left, Linux 6.11 and later fail
    /// the receive at once with `ENOENT` (the wait ends when the filter's last
    /// user goes, and no notification is found), reported as [`Error::Closed`];
    /// older kernels keep it blocked forever: use [`serve`](Self::serve), or
    /// [`wait_readable`](Self::wait_readable) first (`POLLIN` / `POLLHUP`), to
    /// stop cleanly on every kernel.
    ///
    /// `ENOENT` also comes when a caller is killed between the wake-up and the
    /// receive while other tasks remain; the listener's `POLLHUP` (no task left)
    /// tells the two apart.
    ///
    /// # Errors
    /// - [`Error::Closed`] (`ENOENT` with `POLLHUP`): no task uses the filter any
    ///   more, nothing will come; stop receiving;
    /// - [`Error::NotificationGone`] with id 0 (`ENOENT` without `POLLHUP`): the
    ///   caller was killed or interrupted between the wake-up and the receive;
    ///   receive again;
    /// - [`Error::Syscall`] with `EINTR` if a signal interrupted the wait.
    ///
    /// # References
    /// [seccomp_unotify(2)](https://man7.org/linux/man-pages/man2/seccomp_unotify.2.html)
    #[doc(alias = "SECCOMP_IOCTL_NOTIF_RECV")]
    pub fn recv(&self) -> Result<Notification> {
        self.try_recv().map_err(|errno| self.recv_error(errno))
    }

    /// `recv` returning the bare errno (no formatting on the hot path).
    pub(crate) fn try_recv(&self) -> Result<Notification, Errno> {
        let (size, _) = kernel_sizes().map_err(|_| Errno::NOSYS)?;
        debug_assert!(size >= NOTIF_SIZE);
        let mut buf = [0u64; NOTIF_BUF_WORDS];
        sys::notif_recv(self.fd.as_fd(), &mut buf)?;
        // struct seccomp_notif { u64 id; u32 pid; u32 flags; struct seccomp_data data; }
        // struct seccomp_data { i32 nr; u32 arch; u64 ip; u64 args[6]; }
        // Two u32 fields share a word: split it in memory order (native endian).
        let halves = |w: u64| {
            let b = w.to_ne_bytes();
            (
                u32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
                u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
            )
        };
        let (pid, _flags) = halves(buf[1]);
        let (nr, arch) = halves(buf[2]);
        Ok(Notification {
            id: buf[0],
            pid,
            nr: nr as i32,
            arch,
            instruction_pointer: buf[3],
            args: [buf[4], buf[5], buf[6], buf[7], buf[8], buf[9]],
        })
    }

    pub(crate) fn recv_error(&self, errno: Errno) -> Error {
        if errno == Errno::NOENT {
            if self.is_closed() {
                return Error::Closed;
            }
            // The id of a notification we could not receive is unknown.
            return Error::NotificationGone { id: 0 };
        }
        if errno == Errno::NOSYS
            && let Err(err) = kernel_sizes()
        {
            return err;
        }
        Error::syscall(
            Call::new(
                "ioctl",
                format_args!("fd {}, SECCOMP_IOCTL_NOTIF_RECV", self.fd.as_raw_fd()),
            ),
            errno,
        )
    }

    pub(crate) fn try_send(&self, id: u64, val: i64, error: i32, flags: u32) -> Result<(), Errno> {
        let (_, size) = kernel_sizes().map_err(|_| Errno::NOSYS)?;
        debug_assert!(size >= RESP_SIZE);
        let mut buf = [0u64; NOTIF_BUF_WORDS];
        // struct seccomp_notif_resp { u64 id; i64 val; i32 error; u32 flags; }
        buf[0] = id;
        buf[1] = val as u64;
        let (e, f) = ((error as u32).to_ne_bytes(), flags.to_ne_bytes());
        buf[2] = u64::from_ne_bytes([e[0], e[1], e[2], e[3], f[0], f[1], f[2], f[3]]);
        sys::notif_send(self.fd.as_fd(), &buf)
    }

    fn send(&self, id: u64, val: i64, error: i32, flags: u32, what: &str) -> Result<()> {
        self.try_send(id, val, error, flags)
            .map_err(|errno| self.send_error(id, errno, what))
    }

    pub(crate) fn send_error(&self, id: u64, errno: Errno, what: &str) -> Error {
        match errno {
            Errno::NOENT => Error::NotificationGone { id },
            Errno::NOSYS => kernel_sizes().err().unwrap_or_else(|| {
                Error::syscall(
                    Call::new(
                        "ioctl",
                        format_args!("fd {}, SECCOMP_IOCTL_NOTIF_SEND", self.fd.as_raw_fd()),
                    ),
                    errno,
                )
            }),
            _ => Error::syscall(
                Call::new(
                    "ioctl",
                    format_args!(
                        "fd {}, SECCOMP_IOCTL_NOTIF_SEND, {{id: {id:#x}, {what}}}",
                        self.fd.as_raw_fd()
                    ),
                ),
                errno,
            ),
        }
    }

    /// Answers: the syscall returns `value` without running.
    ///
    /// C: `ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &{id, val: value, error: 0, flags: 0})`.
    ///
    /// # Errors
    /// [`Error::NotificationGone`] (`ENOENT`) if the caller died or was interrupted.
    ///
    /// # References
    /// [seccomp_unotify(2)](https://man7.org/linux/man-pages/man2/seccomp_unotify.2.html)
    #[doc(alias = "SECCOMP_IOCTL_NOTIF_SEND")]
    pub fn respond_value(&self, id: u64, value: i64) -> Result<()> {
        self.send(id, value, 0, 0, "val")
    }

    /// Answers: the syscall fails with `errno` (positive, e.g. `libc::EPERM`) without running.
    ///
    /// C: `ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &{id, val: 0, error: -errno, flags: 0})`.
    ///
    /// # Errors
    /// [`Error::NotificationGone`] (`ENOENT`) if the caller died or was interrupted.
    ///
    /// # References
    /// [seccomp_unotify(2)](https://man7.org/linux/man-pages/man2/seccomp_unotify.2.html)
    pub fn respond_errno(&self, id: u64, errno: i32) -> Result<()> {
        self.send(id, 0, -errno.abs(), 0, "error")
    }

    /// Answers: the kernel runs the syscall as if it had not been trapped, with the
    /// caller's own credentials and arguments (re-read from its memory: do not use this
    /// to approve a call after checking pointed-to data, see [`read_memory`](Self::read_memory)).
    ///
    /// C: `ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &{id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE})`.
    /// Since Linux 5.5.
    ///
    /// # Errors
    /// [`Error::NotificationGone`] (`ENOENT`) if the caller died or was interrupted.
    ///
    /// # References
    /// [seccomp_unotify(2)](https://man7.org/linux/man-pages/man2/seccomp_unotify.2.html)
    #[doc(alias = "SECCOMP_USER_NOTIF_FLAG_CONTINUE")]
    pub fn respond_continue(&self, id: u64) -> Result<()> {
        self.send(
            id,
            0,
            0,
            libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
            "CONTINUE",
        )
    }

    /// Whether notification `id` is still pending (its caller alive and waiting).
    ///
    /// C: `ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id)`.
    ///
    /// # Errors
    /// [`Error::Syscall`] for an errno other than `ENOENT` (which is `Ok(false)`).
    ///
    /// # References
    /// [seccomp_unotify(2)](https://man7.org/linux/man-pages/man2/seccomp_unotify.2.html)
    #[doc(alias = "SECCOMP_IOCTL_NOTIF_ID_VALID")]
    pub fn id_valid(&self, id: u64) -> Result<bool> {
        match sys::notif_id_valid(self.fd.as_fd(), id) {
            Ok(()) => Ok(true),
            Err(Errno::NOENT) => Ok(false),
            Err(errno) => Err(Error::syscall(
                Call::new(
                    "ioctl",
                    format_args!(
                        "fd {}, SECCOMP_IOCTL_NOTIF_ID_VALID, {id:#x}",
                        self.fd.as_raw_fd()
                    ),
                ),
                errno,
            )),
        }
    }

    /// Copies an fd of ours into the caller of notification `id`; returns its number there.
    ///
    /// C: `ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &{id, flags, srcfd, newfd, newfd_flags})`.
    /// Since Linux 5.9 (`SEND`: 5.14).
    ///
    /// ```no_run
    /// # use linception_seccomp_notify::{AddFd, Listener};
    /// # use std::os::fd::AsFd;
    /// # fn f(listener: &Listener, id: u64, file: &std::fs::File) -> Result<(), linception_seccomp_notify::Error> {
    /// // Answer an openat() with our own file, as its return value:
    /// listener.add_fd(id, AddFd::new(file.as_fd()).cloexec().send())?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::NotificationGone`] (`ENOENT`), [`Error::Unsupported`] before 5.9 / 5.14,
    /// [`Error::Syscall`] (`EBADF`, `EMFILE`, `EBUSY` when the target number is taken in a
    /// way that cannot be replaced, `EINPROGRESS` with `SEND` after a receive by another thread).
    ///
    /// # References
    /// [seccomp_unotify(2)](https://man7.org/linux/man-pages/man2/seccomp_unotify.2.html)
    #[doc(alias = "SECCOMP_IOCTL_NOTIF_ADDFD")]
    pub fn add_fd(&self, id: u64, request: AddFd<'_>) -> Result<i32> {
        let mut flags = 0u32;
        if request.target.is_some() {
            flags |= libc::SECCOMP_ADDFD_FLAG_SETFD as u32;
        }
        if request.send {
            flags |= libc::SECCOMP_ADDFD_FLAG_SEND as u32;
        }
        let addfd = libc::seccomp_notif_addfd {
            id,
            flags,
            srcfd: request.fd.as_raw_fd() as u32,
            newfd: request.target.unwrap_or(0),
            newfd_flags: if request.cloexec {
                libc::O_CLOEXEC as u32
            } else {
                0
            },
        };
        sys::notif_addfd(self.fd.as_fd(), &addfd).map_err(|errno| match errno {
            Errno::NOENT => Error::NotificationGone { id },
            Errno::NOTTY | Errno::NOSYS => Error::Unsupported {
                feature: "SECCOMP_IOCTL_NOTIF_ADDFD",
                min_kernel: "5.9",
            },
            Errno::INVAL if request.send => Error::Unsupported {
                feature: "SECCOMP_ADDFD_FLAG_SEND",
                min_kernel: "5.14",
            },
            _ => Error::syscall(
                Call::new(
                    "ioctl",
                    format_args!(
                        "fd {}, SECCOMP_IOCTL_NOTIF_ADDFD, {{id: {id:#x}, srcfd: {}, newfd: {}, \
                         flags: {flags:#x}, newfd_flags: {:#x}}}",
                        self.fd.as_raw_fd(),
                        addfd.srcfd,
                        addfd.newfd,
                        addfd.newfd_flags
                    ),
                ),
                errno,
            ),
        })
    }

    /// Duplicates the listener fd (`F_DUPFD_CLOEXEC`).
    ///
    /// # Errors
    /// [`Error::Syscall`] (`EMFILE`).
    pub fn try_clone(&self) -> Result<Listener> {
        self.fd
            .try_clone()
            .map(|fd| Listener { fd })
            .map_err(|e| Error::Syscall {
                call: Call::new(
                    "fcntl",
                    format_args!("fd {}, F_DUPFD_CLOEXEC, 0", self.fd.as_raw_fd()),
                ),
                source: e,
            })
    }
}
