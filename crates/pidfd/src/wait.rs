//! `waitid(P_PIDFD)` with every option and the whole `siginfo_t`.
#![forbid(unsafe_code)]

use std::fmt;

use crate::PidFd;
use crate::error::{Call, Error, FlagNames, Result};
use crate::sys;
use crate::types::{ExitStatus, Pid, Signal};

/// `__WALL`: children whatever their exit signal.
const WALL: u32 = 0x4000_0000;

bitflags::bitflags! {
    /// Options of `waitid(2)`. At least one of [`EXITED`](WaitOptions::EXITED),
    /// [`STOPPED`](WaitOptions::STOPPED) and [`CONTINUED`](WaitOptions::CONTINUED)
    /// is needed; `__WALL` is always added (a clone3 child may have any exit
    /// signal, or none).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct WaitOptions: u32 {
        /// `WEXITED`: report (and reap, unless `NOWAIT`) a child that has exited.
        const EXITED = libc::WEXITED as u32;
        /// `WSTOPPED`: report a child stopped by a signal.
        const STOPPED = libc::WSTOPPED as u32;
        /// `WCONTINUED`: report a stopped child resumed by `SIGCONT`.
        const CONTINUED = libc::WCONTINUED as u32;
        /// `WNOHANG`: return at once if nothing is to be reported.
        const NOHANG = libc::WNOHANG as u32;
        /// `WNOWAIT`: report, but leave the child waitable (not reaped, the stop or
        /// continue not consumed).
        const NOWAIT = libc::WNOWAIT as u32;
        /// `__WNOTHREAD`: only children of the calling thread.
        const NOTHREAD = 0x2000_0000;
        /// Bits this crate does not name are passed to the kernel unchanged.
        const _ = !0;
    }
}

/// Why `waitid` reported the child: `siginfo_t.si_code` for `SIGCHLD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChildCode {
    /// `CLD_EXITED`: it called `exit`; the status is the exit code.
    Exited,
    /// `CLD_KILLED`: a signal killed it; the status is the signal.
    Killed,
    /// `CLD_DUMPED`: a signal killed it and it dumped core; the status is the signal.
    Dumped,
    /// `CLD_TRAPPED`: a traced child stopped at a trap; the status is the signal.
    Trapped,
    /// `CLD_STOPPED`: a signal stopped it; the status is the signal.
    Stopped,
    /// `CLD_CONTINUED`: `SIGCONT` resumed it; the status is `SIGCONT`.
    Continued,
    /// A code this crate does not know.
    Other(i32),
}

impl ChildCode {
    fn from_raw(code: i32) -> ChildCode {
        match code {
            libc::CLD_EXITED => ChildCode::Exited,
            libc::CLD_KILLED => ChildCode::Killed,
            libc::CLD_DUMPED => ChildCode::Dumped,
            libc::CLD_TRAPPED => ChildCode::Trapped,
            libc::CLD_STOPPED => ChildCode::Stopped,
            libc::CLD_CONTINUED => ChildCode::Continued,
            other => ChildCode::Other(other),
        }
    }

    /// The C name (`"CLD_EXITED"`...), or `None` for [`ChildCode::Other`].
    pub fn c_name(self) -> Option<&'static str> {
        Some(match self {
            ChildCode::Exited => "CLD_EXITED",
            ChildCode::Killed => "CLD_KILLED",
            ChildCode::Dumped => "CLD_DUMPED",
            ChildCode::Trapped => "CLD_TRAPPED",
            ChildCode::Stopped => "CLD_STOPPED",
            ChildCode::Continued => "CLD_CONTINUED",
            ChildCode::Other(_) => return None,
        })
    }
}

impl fmt::Display for ChildCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.c_name(), self) {
            (Some(n), _) => f.write_str(n),
            (None, ChildCode::Other(c)) => write!(f, "si_code {c}"),
            (None, _) => Ok(()),
        }
    }
}

/// What `waitid` reported: the `siginfo_t` fields of a `SIGCHLD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct WaitInfo {
    /// `si_code`: what happened.
    pub code: ChildCode,
    /// `si_status`: the exit code for [`ChildCode::Exited`], else the signal.
    pub status: i32,
    /// `si_pid`: the child's pid in the caller's pid namespace.
    pub pid: Pid,
    /// `si_uid`: the child's real uid, in the caller's user namespace.
    pub uid: u32,
}

impl WaitInfo {
    /// How it ended, for [`ChildCode::Exited`], [`ChildCode::Killed`] and
    /// [`ChildCode::Dumped`]; `None` for a stop, trap or continue.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        match self.code {
            ChildCode::Exited => Some(ExitStatus::Exited(self.status)),
            ChildCode::Killed | ChildCode::Dumped => Some(ExitStatus::Signaled {
                signal: Signal::from_raw(self.status).unwrap_or(Signal::KILL),
                core_dumped: self.code == ChildCode::Dumped,
            }),
            _ => None,
        }
    }

    /// The signal that stopped, trapped, continued or killed it; `None` for
    /// [`ChildCode::Exited`].
    pub fn signal(&self) -> Option<Signal> {
        match self.code {
            ChildCode::Exited | ChildCode::Other(_) => None,
            _ => Signal::from_raw(self.status),
        }
    }
}

pub(crate) fn options_name(opts: WaitOptions) -> FlagNames<'static> {
    const NAMES: &[(u64, &str)] = &[
        (WaitOptions::EXITED.bits() as u64, "WEXITED"),
        (WaitOptions::STOPPED.bits() as u64, "WSTOPPED"),
        (WaitOptions::CONTINUED.bits() as u64, "WCONTINUED"),
        (WaitOptions::NOHANG.bits() as u64, "WNOHANG"),
        (WaitOptions::NOWAIT.bits() as u64, "WNOWAIT"),
        (WaitOptions::NOTHREAD.bits() as u64, "__WNOTHREAD"),
        (WALL as u64, "__WALL"),
    ];
    FlagNames {
        bits: u64::from(opts.bits()),
        names: NAMES,
    }
}

impl PidFd {
    /// `waitid(P_PIDFD, pidfd, &info, options | __WALL)`: waits for (or with
    /// [`WaitOptions::NOHANG`], checks for) a state change of the child and returns
    /// the whole report: exit, kill, core dump, stop, trap or continue, with the
    /// child's pid and uid. Since Linux 5.4. Like [`PidFd::wait`], but not only for
    /// exits, and without reaping under [`WaitOptions::NOWAIT`].
    ///
    /// `Ok(None)`: `NOHANG` and nothing to report, or a `PIDFD_NONBLOCK` pidfd
    /// whose child has nothing to report yet (`EAGAIN`).
    ///
    /// ```
    /// use linception_pidfd::{ChildCode, CloneArgs, Exec, Signal, WaitOptions};
    ///
    /// let mut child = CloneArgs::new().spawn(&Exec::new("/bin/sleep").arg("10"))?;
    /// child.send_signal(Signal::STOP)?;
    /// let info = child.pidfd().waitid(WaitOptions::STOPPED)?.unwrap();
    /// assert_eq!((info.code, info.signal()), (ChildCode::Stopped, Some(Signal::STOP)));
    /// child.kill()?;
    /// # child.wait()?;
    /// # Ok::<(), linception_pidfd::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] before the call if none of `EXITED`, `STOPPED`,
    /// `CONTINUED` is given; `ECHILD` if the process is not an unreaped child of the
    /// caller.
    ///
    /// # References
    /// - [waitid(2)](https://man7.org/linux/man-pages/man2/waitid.2.html)
    ///
    /// Reaping a [`Child`](crate::Child)'s process here (`EXITED` without `NOWAIT`)
    /// leaves the `Child` unaware; its own `wait` then fails with `ECHILD`.
    pub fn waitid(&self, options: WaitOptions) -> Result<Option<WaitInfo>> {
        let events = WaitOptions::EXITED | WaitOptions::STOPPED | WaitOptions::CONTINUED;
        if !options.intersects(events) {
            return Err(Error::invalid(
                format!("wait options {}", options_name(options)),
                "at least one of WEXITED, WSTOPPED, WCONTINUED is needed",
            ));
        }
        let opts = options | WaitOptions::from_bits_retain(WALL);
        loop {
            match sys::waitid_pidfd(std::os::fd::AsFd::as_fd(self), opts.bits() as i32) {
                Ok(None) => return Ok(None),
                Ok(Some(raw)) => {
                    return Ok(Some(WaitInfo {
                        code: ChildCode::from_raw(raw.code),
                        status: raw.status,
                        pid: Pid::from_raw(raw.pid).expect("si_pid > 0 was checked"),
                        uid: raw.uid,
                    }));
                }
                Err(libc::EINTR) => continue,
                Err(libc::EAGAIN) => return Ok(None),
                Err(e) => {
                    return Err(self.error(
                        e,
                        || {
                            Call::new(
                                "waitid",
                                format_args!(
                                    "P_PIDFD, fd {}, {}",
                                    self.as_fd_raw(),
                                    options_name(opts)
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
}
