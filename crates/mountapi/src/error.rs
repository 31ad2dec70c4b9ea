//! The crate's error type.
#![forbid(unsafe_code)]

use std::fmt;
use std::io;

pub use linception_errno::Call;
use linception_errno::IoErrno;

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, without the details: see [`Error::kind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A system call failed; [`Error::raw_os_error`] gives the errno.
    Os,
    /// The running kernel lacks the feature (ENOSYS, or E2BIG for an extensible
    /// struct field it does not know).
    Unsupported,
    /// An argument was refused before any system call was made.
    InvalidArgument,
    /// A line of `/proc/self/mountinfo` could not be parsed.
    Parse,
}

/// The severity of a message from the kernel's filesystem-context log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogLevel {
    /// `"e "`: an error.
    Error,
    /// `"w "`: a warning.
    Warning,
    /// `"i "`: information.
    Info,
}

/// One message read from a filesystem context fd (`read(fs_fd)`).
///
/// # Examples
/// ```
/// use linception_mountapi::{LogLevel, LogMessage};
///
/// let message = LogMessage::parse("w overlay: option is deprecated");
/// assert_eq!(message.level, LogLevel::Warning);
/// assert_eq!(message.text, "overlay: option is deprecated");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LogMessage {
    /// The message's severity (its prefix).
    pub level: LogLevel,
    /// The text without its prefix, e.g. `tmpfs: Bad value for 'size'`.
    pub text: String,
}

impl LogMessage {
    /// Parses one message as the kernel hands it out: `"e text"`, `"w text"`,
    /// `"i text"`. An unknown prefix is kept in the text as an error.
    pub fn parse(raw: &str) -> LogMessage {
        let raw = raw.strip_suffix('\n').unwrap_or(raw);
        let (level, text) = match raw.split_at_checked(2) {
            Some(("e ", text)) => (LogLevel::Error, text),
            Some(("w ", text)) => (LogLevel::Warning, text),
            Some(("i ", text)) => (LogLevel::Info, text),
            _ => (LogLevel::Error, raw),
        };
        LogMessage {
            level,
            text: text.to_string(),
        }
    }
}

impl fmt::Display for LogMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.level {
            LogLevel::Error => f.write_str(&self.text),
            LogLevel::Warning => write!(f, "warning: {}", self.text),
            LogLevel::Info => write!(f, "info: {}", self.text),
        }
    }
}

/// The error of every fallible call in this crate.
///
/// # Examples
/// ```no_run
/// use linception_mountapi::{ErrorKind, FsContext};
///
/// let fs = FsContext::open(c"tmpfs")?;
/// let err = fs.set_string(c"size", c"x").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Os);
/// assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
/// assert_eq!(err.kernel_log()[0].text, "tmpfs: Bad value for 'size'");
/// // As an io::Error, the errno is kept.
/// let io: std::io::Error = err.into();
/// assert_eq!(io.raw_os_error(), Some(libc::EINVAL));
/// # Ok::<(), linception_mountapi::Error>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed. Displays like the call, then the errno, then any
    /// messages the kernel logged on the filesystem context:
    /// `fsconfig(fd 5, FSCONFIG_SET_STRING, "size", "x"): Invalid argument (EINVAL): tmpfs: Bad value for 'size'`.
    #[error("{call}: {}{}", IoErrno(.source), LogDisplay(.log))]
    Syscall {
        /// The call that failed, with its arguments.
        call: Call,
        /// The errno, as an `io::Error`.
        source: io::Error,
        /// The kernel's messages from the filesystem context (empty for calls
        /// that have none).
        log: Vec<LogMessage>,
    },
    /// The running kernel does not have the feature.
    #[error("{feature} is not supported by this kernel (needs Linux {min_kernel}): {call}: {}", IoErrno(.source))]
    Unsupported {
        /// What is missing (`"statmount"`, `"MOUNT_ATTR_IDMAP"`, ...).
        feature: &'static str,
        /// The first kernel release that has it.
        min_kernel: &'static str,
        /// The call that revealed it.
        call: Call,
        /// The errno the kernel returned (ENOSYS, E2BIG, ...).
        source: io::Error,
    },
    /// An argument was refused before any system call.
    #[error("invalid {what}{}: {reason}", ValueDisplay(.value))]
    InvalidArgument {
        /// Which argument (`"fsconfig key"`, `"mount point"`, ...).
        what: &'static str,
        /// The offending value (lossily converted to UTF-8), when it can be shown;
        /// empty otherwise.
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A `/proc/self/mountinfo` line did not parse.
    #[error("cannot parse mountinfo line {line:?}: {reason}")]
    Parse {
        /// The line.
        line: String,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// Reading `/proc/self/mountinfo` failed.
    #[error("reading /proc/self/mountinfo: {}", IoErrno(.0))]
    Mountinfo(#[source] io::Error),
}

impl Error {
    /// The category of the error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Syscall { .. } | Error::Mountinfo(_) => ErrorKind::Os,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::InvalidArgument { .. } => ErrorKind::InvalidArgument,
            Error::Parse { .. } => ErrorKind::Parse,
        }
    }

    /// The errno of a failed system call, if this error has one.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Syscall { source, .. }
            | Error::Unsupported { source, .. }
            | Error::Mountinfo(source) => source.raw_os_error(),
            Error::InvalidArgument { .. } | Error::Parse { .. } => None,
        }
    }

    /// The kernel's filesystem-context messages attached to the error (empty
    /// unless the failed call was on a filesystem context).
    pub fn kernel_log(&self) -> &[LogMessage] {
        match self {
            Error::Syscall { log, .. } => log,
            _ => &[],
        }
    }

    /// The failed call, for [`Syscall`](Error::Syscall) and
    /// [`Unsupported`](Error::Unsupported) errors.
    pub fn call(&self) -> Option<&Call> {
        match self {
            Error::Syscall { call, .. } | Error::Unsupported { call, .. } => Some(call),
            _ => None,
        }
    }

    pub(crate) fn syscall(call: Call, errno: rustix::io::Errno) -> Error {
        Error::Syscall {
            call,
            source: io::Error::from_raw_os_error(errno.raw_os_error()),
            log: Vec::new(),
        }
    }

    pub(crate) fn unsupported(
        feature: &'static str,
        min_kernel: &'static str,
        call: Call,
        errno: rustix::io::Errno,
    ) -> Error {
        Error::Unsupported {
            feature,
            min_kernel,
            call,
            source: io::Error::from_raw_os_error(errno.raw_os_error()),
        }
    }

    pub(crate) fn nul(what: &'static str) -> Error {
        Error::InvalidArgument {
            what,
            value: String::new(),
            reason: "contains a NUL byte",
        }
    }
}

impl From<Error> for io::Error {
    /// Keeps the errno (`raw_os_error()` answers it) where there is one; other
    /// errors become `InvalidInput` / `InvalidData` carrying the error.
    fn from(err: Error) -> io::Error {
        match err.raw_os_error() {
            Some(errno) => io::Error::from_raw_os_error(errno),
            None if err.kind() == ErrorKind::Parse => {
                io::Error::new(io::ErrorKind::InvalidData, err)
            }
            None => io::Error::new(io::ErrorKind::InvalidInput, err),
        }
    }
}

struct ValueDisplay<'a>(&'a str);

impl fmt::Display for ValueDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, " {:?}", self.0)
        }
    }
}

struct LogDisplay<'a>(&'a [LogMessage]);

impl fmt::Display for LogDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, message) in self.0.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            fmt::Display::fmt(message, f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_truncates_on_a_char_boundary() {
        let long = "é".repeat(200);
        let call = Call::new("fsconfig", format_args!("fd 3, {long:?}"));
        assert!(call.args().len() <= Call::CAPACITY);
        assert!(call.args().ends_with("..."), "{}", call.args());
        assert!(call.to_string().starts_with("fsconfig(fd 3, \"é"));
    }

    #[test]
    fn syscall_error_displays_like_the_call() {
        let err = Error::Syscall {
            call: Call::new(
                "fsconfig",
                format_args!("fd 5, FSCONFIG_SET_STRING, {:?}, {:?}", c"size", c"x"),
            ),
            source: io::Error::from_raw_os_error(libc::EINVAL),
            log: vec![LogMessage::parse("e tmpfs: Bad value for 'size'")],
        };
        assert_eq!(
            err.to_string(),
            "fsconfig(fd 5, FSCONFIG_SET_STRING, \"size\", \"x\"): Invalid argument (EINVAL): \
             tmpfs: Bad value for 'size'"
        );
        assert_eq!(err.kind(), ErrorKind::Os);
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
        let io: io::Error = err.into();
        assert_eq!(io.raw_os_error(), Some(libc::EINVAL));
    }

    #[test]
    fn syscall_error_without_log_displays_like_the_shared_record() {
        let call = Call::new("move_mount", format_args!("fd 7, \"\", AT_FDCWD, \"/mnt\""));
        let err = Error::syscall(call.clone(), rustix::io::Errno::PERM);
        let shared = linception_errno::SyscallError::new(call, libc::EPERM);
        assert_eq!(err.to_string(), shared.to_string());
        assert_eq!(
            err.to_string(),
            "move_mount(fd 7, \"\", AT_FDCWD, \"/mnt\"): Operation not permitted (EPERM)"
        );
    }

    #[test]
    fn invalid_argument_names_the_input() {
        let err = Error::nul("fsconfig key");
        assert_eq!(err.to_string(), "invalid fsconfig key: contains a NUL byte");
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert_eq!(err.raw_os_error(), None);
        let io: io::Error = err.into();
        assert_eq!(io.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn log_prefixes() {
        assert_eq!(LogMessage::parse("w x\n").level, LogLevel::Warning);
        assert_eq!(LogMessage::parse("i y").text, "y");
        assert_eq!(LogMessage::parse("odd").text, "odd");
        assert_eq!(LogMessage::parse("odd").level, LogLevel::Error);
    }
}
