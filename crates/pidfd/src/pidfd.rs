//! The `PidFd` handle: open, signal, wait, poll, steal fds.
#![forbid(unsafe_code)]

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::process::{WaitId, WaitIdOptions, WaitIdStatus};

use crate::error::{Call, Error, FlagNames, Result};
use crate::sys;
use crate::types::{ExitStatus, GetfdFlags, Pid, PidfdFlags, Signal, SignalTarget};

/// `__WALL`: wait for children whatever their exit signal (clone3 children may have
/// none, or a signal other than SIGCHLD).
const WALL: u32 = 0x4000_0000;

/// A file descriptor referring to one process (or, with [`PidfdFlags::THREAD`], one
/// thread). Unlike a [`Pid`], it can never come to mean another process: once the
/// process is reaped, every operation fails with [`Error::ProcessGone`].
///
/// ```
/// use linception_pidfd::{PidFd, Signal, ExitStatus};
///
/// let child = std::process::Command::new("sleep").arg("10").spawn()?;
/// let pidfd = PidFd::from_child(&child)?;
/// pidfd.send_signal(Signal::TERM)?;
/// let status = pidfd.wait()?;
/// assert_eq!(status.signal(), Some(Signal::TERM));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PidFd {
    fd: OwnedFd,
}

impl PidFd {
    /// `pidfd_open(pid, flags)`: a pidfd for the process (or thread, with
    /// [`PidfdFlags::THREAD`]) currently holding `pid`. Since Linux 5.3.
    ///
    /// Opening by pid is only race-free if `pid` cannot have been reaped and reused
    /// in between: for your own unreaped child, or a process you know is alive
    /// (yourself). Use [`PidFd::from_child`] or [`CloneArgs`](crate::CloneArgs) to get
    /// a pidfd with no window at all.
    ///
    /// # Errors
    ///
    /// [`Error::ProcessGone`] if no such process exists, `EINVAL` for unknown flags,
    /// `ENOENT` (`EINVAL` before Linux 6.9) for a thread that is not a thread-group
    /// leader without `PIDFD_THREAD`,
    /// [`Error::Unsupported`] before Linux 5.3.
    ///
    /// # References
    /// - [pidfd_open(2)](https://man7.org/linux/man-pages/man2/pidfd_open.2.html)
    #[doc(alias = "pidfd_open")]
    pub fn open(pid: Pid, flags: PidfdFlags) -> Result<PidFd> {
        let rpid = rustix::process::Pid::from_raw(pid.as_raw()).expect("Pid is positive");
        match rustix::process::pidfd_open(
            rpid,
            rustix::process::PidfdFlags::from_bits_retain(flags.bits()),
        ) {
            Ok(fd) => Ok(PidFd { fd }),
            Err(e) => Err(Error::from_errno(
                e.raw_os_error(),
                || {
                    Call::new(
                        "pidfd_open",
                        format_args!("{pid}, {}", pidfd_flags_name(flags)),
                    )
                },
                "pidfd_open",
                "5.3",
            )),
        }
    }

    /// A pidfd for a child spawned by `std::process::Command`, which must not have
    /// been waited for yet (`wait`/`try_wait`/`wait_with_output` reap it, after which
    /// its pid may belong to another process).
    ///
    /// The pid is opened, then checked to still be an unreaped child of this process
    /// (`waitid(P_PIDFD, WNOWAIT)`), so a child reaped behind our back is reported
    /// instead of silently yielding a handle to a stranger.
    ///
    /// # Errors
    ///
    /// [`Error::ProcessGone`] or [`Error::InvalidArgument`] if the child was already
    /// reaped.
    pub fn from_child(child: &std::process::Child) -> Result<PidFd> {
        let pid = Pid::from_raw(child.id() as i32)
            .ok_or_else(|| Error::invalid("std::process::Child", "it has pid 0"))?;
        let pidfd = PidFd::open(pid, PidfdFlags::empty())?;
        let opts = WaitIdOptions::EXITED
            | WaitIdOptions::NOHANG
            | WaitIdOptions::NOWAIT
            | WaitIdOptions::from_bits_retain(WALL);
        match rustix::process::waitid(WaitId::PidFd(pidfd.as_fd()), opts) {
            Ok(_) => Ok(pidfd),
            Err(rustix::io::Errno::CHILD) => Err(Error::invalid(
                format!("std::process::Child (pid {pid})"),
                "it is not an unreaped child of this process: it was already waited for, and the pid may now be another process",
            )),
            Err(e) => Err(Error::from_errno(
                e.raw_os_error(),
                || {
                    Call::new(
                        "waitid",
                        format_args!("P_PIDFD, fd {}, WEXITED|WNOHANG|WNOWAIT", pidfd.raw()),
                    )
                },
                "waitid(P_PIDFD)",
                "5.4",
            )),
        }
    }

    pub(crate) fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The error for a call on this pidfd that failed with `errno`. `ESRCH` means
    /// several things, told apart by asking the kernel once more (error path only):
    /// the null signal fails with `ESRCH` once the process is reaped
    /// ([`Error::ProcessGone`]) and with `EINVAL` when it is outside the caller's pid
    /// namespace ([`Error::NotVisible`]); otherwise the process still exists, and a
    /// readable pidfd says it has exited, not yet reaped ([`Error::Exited`]).
    /// `EREMOTE` (`PIDFD_GET_INFO` on newer kernels) says directly that the process
    /// is outside the caller's pid namespace.
    pub(crate) fn error(
        &self,
        errno: i32,
        call: impl FnOnce() -> Call,
        feature: &'static str,
        min_kernel: &'static str,
    ) -> Error {
        if errno == libc::EREMOTE {
            return Error::NotVisible {
                what: call().to_string(),
            };
        }
        if errno != libc::ESRCH {
            return Error::from_errno(errno, call, feature, min_kernel);
        }
        let source = std::io::Error::from_raw_os_error(errno);
        match sys::pidfd_send_signal(self.fd.as_fd(), 0, 0) {
            Err(libc::ESRCH) => Error::ProcessGone {
                call: call(),
                source,
            },
            Err(libc::EINVAL) => Error::NotVisible {
                what: call().to_string(),
            },
            _ if self.poll_exit(Some(Duration::ZERO)).unwrap_or(false) => Error::Exited {
                call: call(),
                source,
            },
            _ => Error::Syscall {
                call: call(),
                source,
            },
        }
    }

    pub(crate) fn as_fd_raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// `pidfd_send_signal(pidfd, sig, NULL, 0)`: sends `sig` to the process. Since
    /// Linux 5.1. Never reaches another process, even if the pid was reused.
    ///
    /// # Errors
    ///
    /// [`Error::ProcessGone`] once the process has been reaped (a zombie still
    /// accepts signals), `EPERM` without permission to signal it.
    ///
    /// # References
    /// - [pidfd_send_signal(2)](https://man7.org/linux/man-pages/man2/pidfd_send_signal.2.html)
    #[doc(alias = "pidfd_send_signal")]
    #[inline]
    pub fn send_signal(&self, sig: Signal) -> Result<()> {
        self.send_signal_to(sig, SignalTarget::Default)
    }

    /// `pidfd_send_signal(pidfd, sig, NULL, PIDFD_SIGNAL_*)`: sends `sig` to the
    /// thread, thread group or process group of the task. The
    /// `PIDFD_SIGNAL_*` flags are Since Linux 6.9.
    ///
    /// # Errors
    ///
    /// As [`PidFd::send_signal`]; `EINVAL` from a kernel without the flags.
    ///
    /// # References
    /// - [pidfd_send_signal(2)](https://man7.org/linux/man-pages/man2/pidfd_send_signal.2.html)
    #[doc(alias = "PIDFD_SIGNAL_THREAD", alias = "PIDFD_SIGNAL_THREAD_GROUP")]
    #[inline]
    pub fn send_signal_to(&self, sig: Signal, target: SignalTarget) -> Result<()> {
        match sys::pidfd_send_signal(self.fd.as_fd(), sig.as_raw(), target.bits()) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.error(
                e,
                || {
                    Call::new(
                        "pidfd_send_signal",
                        format_args!("fd {}, {sig}, NULL, {}", self.raw(), target.c_name()),
                    )
                },
                "pidfd_send_signal",
                "5.1",
            )),
        }
    }

    /// Whether the process has not been reaped yet (a zombie counts as alive): sends
    /// the null signal.
    ///
    /// # Errors
    ///
    /// Errors other than `ESRCH` (e.g. `EPERM`).
    pub fn is_alive(&self) -> Result<bool> {
        match self.send_signal(Signal::NULL) {
            Ok(()) => Ok(true),
            Err(Error::ProcessGone { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn waitid_exit(&self, opts: WaitIdOptions) -> Result<Option<ExitStatus>> {
        let opts = opts | WaitIdOptions::EXITED | WaitIdOptions::from_bits_retain(WALL);
        loop {
            match rustix::process::waitid(WaitId::PidFd(self.fd.as_fd()), opts) {
                Ok(Some(st)) => return Ok(decode(&st)),
                Ok(None) => return Ok(None),
                Err(rustix::io::Errno::INTR) => continue,
                Err(rustix::io::Errno::AGAIN) => return Ok(None),
                Err(e) => {
                    return Err(Error::from_errno(
                        e.raw_os_error(),
                        || {
                            Call::new(
                                "waitid",
                                format_args!(
                                    "P_PIDFD, fd {}, {}",
                                    self.raw(),
                                    wait_opts_name(opts)
                                ),
                            )
                        },
                        "waitid(P_PIDFD)",
                        "5.4",
                    ));
                }
            }
        }
    }

    /// `waitid(P_PIDFD, pidfd, &info, WEXITED)`: blocks until the process exits and
    /// reaps it, like `std::process::Child::wait`. Since Linux 5.4. Works on
    /// `PIDFD_NONBLOCK` pidfds too (it polls first).
    ///
    /// # Errors
    ///
    /// `ECHILD` if the process is not a child of the caller or was already reaped.
    ///
    /// # References
    /// - [waitid(2)](https://man7.org/linux/man-pages/man2/waitid.2.html)
    #[doc(alias = "waitid")]
    pub fn wait(&self) -> Result<ExitStatus> {
        loop {
            if let Some(st) = self.waitid_exit(WaitIdOptions::empty())? {
                return Ok(st);
            }
            // Only reached for a PIDFD_NONBLOCK pidfd (EAGAIN): wait for readiness.
            self.poll_exit(None)?;
        }
    }

    /// `waitid(P_PIDFD, pidfd, &info, WEXITED | WNOHANG)`: reaps the process if it has
    /// exited, else returns `None` at once; like `std::process::Child::try_wait`.
    ///
    /// # Errors
    ///
    /// As [`PidFd::wait`].
    ///
    /// # References
    /// - [waitid(2)](https://man7.org/linux/man-pages/man2/waitid.2.html)
    pub fn try_wait(&self) -> Result<Option<ExitStatus>> {
        self.waitid_exit(WaitIdOptions::NOHANG)
    }

    /// Waits at most `timeout` for the process to exit (`poll` on the pidfd), then
    /// reaps it; `Ok(None)` on timeout.
    ///
    /// # Errors
    ///
    /// As [`PidFd::wait`].
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Option<ExitStatus>> {
        if self.poll_exit(Some(timeout))? {
            self.try_wait()
        } else {
            Ok(None)
        }
    }

    /// `poll({pidfd, POLLIN}, timeout)`: waits until the process has exited (it
    /// need not be a child, nothing is reaped); `timeout = None` waits forever.
    /// Returns whether it exited in time.
    ///
    /// # Errors
    ///
    /// Only unexpected `poll` failures.
    ///
    /// # References
    /// - [poll(2)](https://man7.org/linux/man-pages/man2/poll.2.html),
    ///   [pidfd_open(2)](https://man7.org/linux/man-pages/man2/pidfd_open.2.html) ("Use cases")
    pub fn poll_exit(&self, timeout: Option<Duration>) -> Result<bool> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let ts = left.map(|d| rustix::time::Timespec {
                tv_sec: d.as_secs() as i64,
                tv_nsec: d.subsec_nanos() as i64,
            });
            let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
            match rustix::event::poll(&mut fds, ts.as_ref()) {
                Ok(0) => return Ok(false),
                Ok(_) => return Ok(true),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => {
                    return Err(Error::from_errno(
                        e.raw_os_error(),
                        || Call::new("poll", format_args!("[fd {} POLLIN], {left:?}", self.raw())),
                        "poll on a pidfd",
                        "5.3",
                    ));
                }
            }
        }
    }

    /// `pidfd_getfd(pidfd, targetfd, 0)`: a duplicate (O_CLOEXEC) of the process's
    /// file descriptor `targetfd`, like `dup` across processes. Since Linux 5.6.
    ///
    /// # Errors
    ///
    /// `EBADF` if the process has no fd `targetfd`, `EPERM` without ptrace access
    /// (`PTRACE_MODE_ATTACH_REALCREDS`) to it, [`Error::ProcessGone`] if it has exited.
    ///
    /// # References
    /// - [pidfd_getfd(2)](https://man7.org/linux/man-pages/man2/pidfd_getfd.2.html)
    #[doc(alias = "pidfd_getfd")]
    pub fn get_fd(&self, targetfd: RawFd) -> Result<OwnedFd> {
        self.get_fd_with(targetfd, GetfdFlags::empty())
    }

    /// `pidfd_getfd(pidfd, targetfd, flags)`: [`PidFd::get_fd`] with the flags
    /// argument, which the kernel reserves (it must be 0 today, else `EINVAL`).
    /// Since Linux 5.6.
    ///
    /// # Errors
    ///
    /// As [`PidFd::get_fd`]; `EINVAL` for flags this kernel does not know.
    ///
    /// # References
    /// - [pidfd_getfd(2)](https://man7.org/linux/man-pages/man2/pidfd_getfd.2.html)
    pub fn get_fd_with(&self, targetfd: RawFd, flags: GetfdFlags) -> Result<OwnedFd> {
        rustix::process::pidfd_getfd(
            &self.fd,
            targetfd,
            rustix::process::PidfdGetfdFlags::from_bits_retain(flags.bits()),
        )
        .map_err(|e| {
            self.error(
                e.raw_os_error(),
                || match flags.bits() {
                    0 => Call::new(
                        "pidfd_getfd",
                        format_args!("fd {}, {targetfd}, 0", self.raw()),
                    ),
                    f => Call::new(
                        "pidfd_getfd",
                        format_args!("fd {}, {targetfd}, {f:#x}", self.raw()),
                    ),
                },
                "pidfd_getfd",
                "5.6",
            )
        })
    }

    /// A second pidfd for the same process (`fcntl(F_DUPFD_CLOEXEC)`).
    ///
    /// # Errors
    ///
    /// `EMFILE` when out of fds.
    pub fn try_clone(&self) -> Result<PidFd> {
        self.fd
            .try_clone()
            .map(|fd| PidFd { fd })
            .map_err(|e| Error::Syscall {
                call: Call::new(
                    "fcntl",
                    format_args!("fd {}, F_DUPFD_CLOEXEC, 0", self.raw()),
                ),
                source: e,
            })
    }
}

pub(crate) fn decode(st: &WaitIdStatus) -> Option<ExitStatus> {
    if st.exited() {
        st.exit_status().map(ExitStatus::Exited)
    } else if st.killed() || st.dumped() {
        st.terminating_signal().map(|s| ExitStatus::Signaled {
            signal: Signal::from_raw(s).unwrap_or(Signal::KILL),
            core_dumped: st.dumped(),
        })
    } else {
        None
    }
}

fn pidfd_flags_name(flags: PidfdFlags) -> FlagNames<'static> {
    const NAMES: &[(u64, &str)] = &[
        (PidfdFlags::NONBLOCK.bits() as u64, "PIDFD_NONBLOCK"),
        (PidfdFlags::THREAD.bits() as u64, "PIDFD_THREAD"),
    ];
    FlagNames {
        bits: u64::from(flags.bits()),
        names: NAMES,
    }
}

fn wait_opts_name(opts: WaitIdOptions) -> FlagNames<'static> {
    const NAMES: &[(u64, &str)] = &[
        (WaitIdOptions::EXITED.bits() as u64, "WEXITED"),
        (WaitIdOptions::NOHANG.bits() as u64, "WNOHANG"),
        (WaitIdOptions::NOWAIT.bits() as u64, "WNOWAIT"),
        (WALL as u64, "__WALL"),
    ];
    FlagNames {
        bits: u64::from(opts.bits()),
        names: NAMES,
    }
}

impl AsFd for PidFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for PidFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Takes ownership of an fd that must be a pidfd (not checked: operations on
/// another kind of fd fail with `EBADF`/`EINVAL`/`ENOTTY`).
impl From<OwnedFd> for PidFd {
    fn from(fd: OwnedFd) -> PidFd {
        PidFd { fd }
    }
}

impl From<PidFd> for OwnedFd {
    fn from(p: PidFd) -> OwnedFd {
        p.fd
    }
}

impl fmt::Debug for PidFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PidFd").field("fd", &self.raw()).finish()
    }
}
