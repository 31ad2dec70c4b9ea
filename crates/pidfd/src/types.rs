//! Small value types: process ids, signals, flag sets, exit statuses.
#![forbid(unsafe_code)]

use std::fmt;

/// A process id (as seen from the caller's pid namespace). Not a pidfd: a bare pid
/// may be reused once the process is reaped; hold a [`PidFd`](crate::PidFd) to refer
/// to one process for good.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pid(i32);

impl Pid {
    /// A pid from its number; `None` unless `raw > 0`.
    ///
    /// ```
    /// # use linception_pidfd::Pid;
    /// assert_eq!(Pid::from_raw(42).unwrap().as_raw(), 42);
    /// assert!(Pid::from_raw(0).is_none());
    /// ```
    pub const fn from_raw(raw: i32) -> Option<Pid> {
        if raw > 0 { Some(Pid(raw)) } else { None }
    }

    /// The pid's number.
    pub const fn as_raw(self) -> i32 {
        self.0
    }

    /// The calling process's pid, like `std::process::id()`.
    pub fn this() -> Pid {
        Pid(rustix::process::getpid().as_raw_nonzero().get())
    }
}

impl fmt::Debug for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pid({})", self.0)
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A signal number (`SIG*`), or the null signal 0 that only checks for existence.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signal(i32);

impl Signal {
    /// The null signal: nothing is delivered, only existence and permission are checked.
    pub const NULL: Signal = Signal(0);
    /// `SIGHUP`.
    pub const HUP: Signal = Signal(libc::SIGHUP);
    /// `SIGINT`.
    pub const INT: Signal = Signal(libc::SIGINT);
    /// `SIGQUIT`.
    pub const QUIT: Signal = Signal(libc::SIGQUIT);
    /// `SIGABRT`.
    pub const ABRT: Signal = Signal(libc::SIGABRT);
    /// `SIGKILL`.
    pub const KILL: Signal = Signal(libc::SIGKILL);
    /// `SIGSEGV`.
    pub const SEGV: Signal = Signal(libc::SIGSEGV);
    /// `SIGPIPE`.
    pub const PIPE: Signal = Signal(libc::SIGPIPE);
    /// `SIGALRM`.
    pub const ALRM: Signal = Signal(libc::SIGALRM);
    /// `SIGTERM`.
    pub const TERM: Signal = Signal(libc::SIGTERM);
    /// `SIGUSR1`.
    pub const USR1: Signal = Signal(libc::SIGUSR1);
    /// `SIGUSR2`.
    pub const USR2: Signal = Signal(libc::SIGUSR2);
    /// `SIGCHLD`.
    pub const CHLD: Signal = Signal(libc::SIGCHLD);
    /// `SIGCONT`.
    pub const CONT: Signal = Signal(libc::SIGCONT);
    /// `SIGSTOP`.
    pub const STOP: Signal = Signal(libc::SIGSTOP);

    /// A signal from its number: 0 (the null signal) up to 64 (`SIGRTMAX`).
    ///
    /// ```
    /// # use linception_pidfd::Signal;
    /// assert_eq!(Signal::from_raw(15), Some(Signal::TERM));
    /// assert_eq!(Signal::from_raw(65), None);
    /// ```
    pub const fn from_raw(raw: i32) -> Option<Signal> {
        if raw >= 0 && raw <= 64 {
            Some(Signal(raw))
        } else {
            None
        }
    }

    /// The signal's number.
    pub const fn as_raw(self) -> i32 {
        self.0
    }

    /// The C name (`"SIGTERM"`), if it has a classic one.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "0",
            libc::SIGHUP => "SIGHUP",
            libc::SIGINT => "SIGINT",
            libc::SIGQUIT => "SIGQUIT",
            libc::SIGILL => "SIGILL",
            libc::SIGTRAP => "SIGTRAP",
            libc::SIGABRT => "SIGABRT",
            libc::SIGBUS => "SIGBUS",
            libc::SIGFPE => "SIGFPE",
            libc::SIGKILL => "SIGKILL",
            libc::SIGUSR1 => "SIGUSR1",
            libc::SIGSEGV => "SIGSEGV",
            libc::SIGUSR2 => "SIGUSR2",
            libc::SIGPIPE => "SIGPIPE",
            libc::SIGALRM => "SIGALRM",
            libc::SIGTERM => "SIGTERM",
            libc::SIGCHLD => "SIGCHLD",
            libc::SIGCONT => "SIGCONT",
            libc::SIGSTOP => "SIGSTOP",
            libc::SIGTSTP => "SIGTSTP",
            libc::SIGSYS => "SIGSYS",
            _ => return None,
        })
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "signal {}", self.0),
        }
    }
}

bitflags::bitflags! {
    /// Flags of `pidfd_open(2)`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct PidfdFlags: u32 {
        /// `PIDFD_NONBLOCK`: `waitid` on the pidfd returns `EAGAIN` instead of blocking
        /// (Since Linux 5.10).
        const NONBLOCK = libc::O_NONBLOCK as u32;
        /// `PIDFD_THREAD`: the pidfd refers to a thread (not the thread group); it
        /// polls readable when that thread exits (Since Linux 6.9).
        const THREAD = libc::O_EXCL as u32;
        /// Bits this crate does not name are passed to the kernel unchanged.
        const _ = !0;
    }
}

bitflags::bitflags! {
    /// Flags of `pidfd_getfd(2)`: reserved, the kernel takes none yet (it refuses
    /// every bit with `EINVAL`). Typed so that a future flag needs no new function.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct GetfdFlags: u32 {
        /// Bits this crate does not name are passed to the kernel unchanged.
        const _ = !0;
    }
}

/// Which task(s) a signal sent through a pidfd goes to (`pidfd_send_signal` flags,
/// Since Linux 6.9; [`SignalTarget::Default`] works everywhere).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SignalTarget {
    /// Flags 0: the thread group for a process pidfd, the thread for a
    /// `PIDFD_THREAD` pidfd.
    #[default]
    Default,
    /// `PIDFD_SIGNAL_THREAD`: only the thread the pidfd refers to.
    Thread,
    /// `PIDFD_SIGNAL_THREAD_GROUP`: the whole thread group of that task.
    ThreadGroup,
    /// `PIDFD_SIGNAL_PROCESS_GROUP`: the process group of that task.
    ProcessGroup,
}

impl SignalTarget {
    pub(crate) fn bits(self) -> u32 {
        match self {
            SignalTarget::Default => 0,
            SignalTarget::Thread => 1 << 0,
            SignalTarget::ThreadGroup => 1 << 1,
            SignalTarget::ProcessGroup => 1 << 2,
        }
    }

    pub(crate) fn c_name(self) -> &'static str {
        match self {
            SignalTarget::Default => "0",
            SignalTarget::Thread => "PIDFD_SIGNAL_THREAD",
            SignalTarget::ThreadGroup => "PIDFD_SIGNAL_THREAD_GROUP",
            SignalTarget::ProcessGroup => "PIDFD_SIGNAL_PROCESS_GROUP",
        }
    }
}

bitflags::bitflags! {
    /// A set of namespace types (`CLONE_NEW*`), for [`PidFd::setns`](crate::PidFd::setns).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct Namespaces: u32 {
        /// `CLONE_NEWNS`: mount namespace.
        const MNT = libc::CLONE_NEWNS as u32;
        /// `CLONE_NEWCGROUP`: cgroup namespace.
        const CGROUP = libc::CLONE_NEWCGROUP as u32;
        /// `CLONE_NEWUTS`: hostname and domain name.
        const UTS = libc::CLONE_NEWUTS as u32;
        /// `CLONE_NEWIPC`: System V IPC and POSIX message queues.
        const IPC = libc::CLONE_NEWIPC as u32;
        /// `CLONE_NEWUSER`: user namespace.
        const USER = libc::CLONE_NEWUSER as u32;
        /// `CLONE_NEWPID`: pid namespace (affects children created afterwards).
        const PID = libc::CLONE_NEWPID as u32;
        /// `CLONE_NEWNET`: network namespace.
        const NET = libc::CLONE_NEWNET as u32;
        /// `CLONE_NEWTIME`: time namespace (affects children created afterwards).
        const TIME = libc::CLONE_NEWTIME as u32;
    }
}

/// How a process ended, like [`std::process::ExitStatus`] but a plain enum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    /// It called `exit(code)` (`code` is the low 8 bits).
    Exited(i32),
    /// A signal killed it.
    Signaled {
        /// The terminating signal.
        signal: Signal,
        /// Whether it dumped core.
        core_dumped: bool,
    },
}

impl ExitStatus {
    /// Decodes a wait status as `waitpid` returns it (and as the kernel stores it in
    /// `pidfd_info.exit_code`); `None` for stop/continue statuses.
    ///
    /// ```
    /// # use linception_pidfd::{ExitStatus, Signal};
    /// assert_eq!(ExitStatus::from_wait_status(3 << 8), Some(ExitStatus::Exited(3)));
    /// assert_eq!(
    ///     ExitStatus::from_wait_status(9),
    ///     Some(ExitStatus::Signaled { signal: Signal::KILL, core_dumped: false })
    /// );
    /// ```
    pub fn from_wait_status(status: i32) -> Option<ExitStatus> {
        if libc::WIFEXITED(status) {
            Some(ExitStatus::Exited(libc::WEXITSTATUS(status)))
        } else if libc::WIFSIGNALED(status) {
            Some(ExitStatus::Signaled {
                signal: Signal(libc::WTERMSIG(status)),
                core_dumped: libc::WCOREDUMP(status),
            })
        } else {
            None
        }
    }

    /// The wait status word (`waitpid`'s `wstatus`) for this status.
    pub fn to_wait_status(self) -> i32 {
        match self {
            ExitStatus::Exited(code) => (code & 0xff) << 8,
            ExitStatus::Signaled {
                signal,
                core_dumped,
            } => signal.0 | if core_dumped { 0x80 } else { 0 },
        }
    }

    /// The exit code, if it exited normally; like `std::process::ExitStatus::code`.
    pub fn code(self) -> Option<i32> {
        match self {
            ExitStatus::Exited(c) => Some(c),
            ExitStatus::Signaled { .. } => None,
        }
    }

    /// The terminating signal, if a signal killed it.
    pub fn signal(self) -> Option<Signal> {
        match self {
            ExitStatus::Signaled { signal, .. } => Some(signal),
            ExitStatus::Exited(_) => None,
        }
    }

    /// Whether it dumped core.
    pub fn core_dumped(self) -> bool {
        matches!(
            self,
            ExitStatus::Signaled {
                core_dumped: true,
                ..
            }
        )
    }

    /// Whether it exited with code 0.
    pub fn success(self) -> bool {
        self == ExitStatus::Exited(0)
    }
}

impl From<ExitStatus> for std::process::ExitStatus {
    fn from(s: ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        std::process::ExitStatus::from_raw(s.to_wait_status())
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Exited(c) => write!(f, "exit code {c}"),
            ExitStatus::Signaled {
                signal,
                core_dumped,
            } => {
                write!(f, "killed by {signal}")?;
                if *core_dumped {
                    f.write_str(" (core dumped)")?;
                }
                Ok(())
            }
        }
    }
}
