//! The crate's error type.
#![forbid(unsafe_code)]

use std::fmt;
use std::io;

pub use linception_errno::Call;
use linception_errno::IoErrno as Errno;

/// What went wrong, coarsely; see [`Error::kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A system call failed with an errno not covered by a more specific kind.
    Os,
    /// The running kernel lacks the feature.
    Unsupported,
    /// An argument was rejected before any system call was made.
    InvalidArgument,
    /// The process behind the pidfd has exited and been reaped (`ESRCH`).
    ProcessGone,
    /// The process has exited but is not reaped yet (a zombie): it can still be
    /// waited for, but no longer inspected (`ESRCH` from most calls).
    Exited,
    /// The process is alive but has no pid in the caller's pid namespace.
    NotVisible,
    /// A pid requested through `set_tid` is already in use (`EEXIST`).
    PidTaken,
    /// The caller lacks a privilege the operation needs (`EPERM` / `EACCES`).
    PermissionDenied,
    /// The new process could not execute its program.
    Exec,
}

/// Errors of the pidfd and clone3 wrappers.
///
/// A failed system call displays like the call that failed, with its arguments and
/// the errno's name: `pidfd_send_signal(fd 5, SIGTERM, NULL, 0): No such process (ESRCH)`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed.
    #[error("{call}: {}", Errno(source))]
    Syscall {
        /// The call as written in C, with its arguments (recorded inline: building
        /// the error allocates nothing).
        call: Call,
        /// The errno.
        source: io::Error,
    },
    /// The process has exited and been reaped: the pidfd still refers to it, but it
    /// can no longer be signalled or inspected (`ESRCH`). Never another process.
    #[error("{call}: the process is gone (exited and reaped): {}", Errno(source))]
    ProcessGone {
        /// The call as written in C, with its arguments (recorded inline: building
        /// the error allocates nothing).
        call: Call,
        /// The errno (`ESRCH`).
        source: io::Error,
    },
    /// The process has exited but has not been reaped yet (a zombie): it still holds
    /// its pid and can be waited for, but its namespaces, fds and memory are gone, so
    /// the call failed with `ESRCH`.
    #[error(
        "{call}: the process has exited but is not reaped yet (a zombie): {}",
        Errno(source)
    )]
    Exited {
        /// The call as written in C, with its arguments (recorded inline: building
        /// the error allocates nothing).
        call: Call,
        /// The errno (`ESRCH`).
        source: io::Error,
    },
    /// The process is alive but not visible in the caller's pid namespace (it lives
    /// in an ancestor or unrelated pid namespace), so it has no pid there.
    #[error("{what}: the process is alive but not visible in the caller's pid namespace")]
    NotVisible {
        /// What was asked (the pidfd and the call or file read).
        what: String,
    },
    /// The running kernel does not support the feature (`ENOSYS`, `ENOTTY`, `E2BIG`...).
    #[error("{feature} is not supported by this kernel (needs Linux {min_kernel} or later)")]
    Unsupported {
        /// The missing feature.
        feature: &'static str,
        /// The first kernel release that has it.
        min_kernel: &'static str,
    },
    /// An extensible-struct call was refused with `E2BIG`: the struct passed is
    /// larger than this kernel knows and a field it does not know is set.
    #[error(
        "{call}: a clone_args field beyond what this kernel knows is set (struct of {size} bytes): field not supported by this kernel (E2BIG)"
    )]
    FieldUnsupported {
        /// The call as written in C, with its arguments (recorded inline: building
        /// the error allocates nothing).
        call: Call,
        /// The struct size passed.
        size: usize,
    },
    /// An argument was rejected before any system call was made.
    #[error("invalid {what}: {reason}")]
    InvalidArgument {
        /// The offending input.
        what: String,
        /// Why it is invalid.
        reason: String,
    },
    /// clone3 with `set_tid`: a requested pid is already in use (`EEXIST`).
    #[error("clone3(set_tid = {set_tid:?}): pid {pid} is already in use{}", level_note(*level))]
    PidTaken {
        /// The requested pid (the innermost one when the kernel cannot tell which).
        pid: i32,
        /// Index of `pid` in `set_tid`, when known (0 = innermost namespace).
        level: Option<usize>,
        /// The whole `set_tid` array as requested.
        set_tid: Vec<i32>,
    },
    /// clone3 with `set_tid` was refused: choosing pids needs `CAP_CHECKPOINT_RESTORE`
    /// or `CAP_SYS_ADMIN` over every targeted pid namespace (`EPERM`).
    #[error(
        "clone3(set_tid = {set_tid:?}): permission denied: choosing a pid needs CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN in the user namespace owning each targeted pid namespace: {}",
        Errno(source)
    )]
    SetTidPermission {
        /// The requested `set_tid` array.
        set_tid: Vec<i32>,
        /// The errno (`EPERM`).
        source: io::Error,
    },
    /// The new process was created but `execve` of its program failed; the process
    /// has been reaped.
    #[error("execve({program:?}) in the new process: {}", Errno(source))]
    Exec {
        /// The program that could not be executed.
        program: String,
        /// The errno reported by the child.
        source: io::Error,
    },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn level_note(level: Option<usize>) -> String {
    match level {
        Some(l) => format!(" (set_tid[{l}])"),
        None => String::new(),
    }
}

impl Error {
    /// The coarse kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Syscall { source, .. } => match source.raw_os_error() {
                Some(libc::EPERM | libc::EACCES) => ErrorKind::PermissionDenied,
                _ => ErrorKind::Os,
            },
            Error::ProcessGone { .. } => ErrorKind::ProcessGone,
            Error::Exited { .. } => ErrorKind::Exited,
            Error::NotVisible { .. } => ErrorKind::NotVisible,
            Error::Unsupported { .. } | Error::FieldUnsupported { .. } => ErrorKind::Unsupported,
            Error::InvalidArgument { .. } => ErrorKind::InvalidArgument,
            Error::PidTaken { .. } => ErrorKind::PidTaken,
            Error::SetTidPermission { .. } => ErrorKind::PermissionDenied,
            Error::Exec { .. } => ErrorKind::Exec,
        }
    }

    /// The errno behind this error, if a system call failed.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Syscall { source, .. }
            | Error::ProcessGone { source, .. }
            | Error::Exited { source, .. }
            | Error::SetTidPermission { source, .. }
            | Error::Exec { source, .. } => source.raw_os_error(),
            Error::NotVisible { .. } => Some(libc::ESRCH),
            Error::FieldUnsupported { .. } => Some(libc::E2BIG),
            Error::Unsupported { .. } => Some(libc::ENOSYS),
            Error::InvalidArgument { .. } => Some(libc::EINVAL),
            Error::PidTaken { .. } => Some(libc::EEXIST),
        }
    }

    /// Whether this is [`Error::ProcessGone`] (exited and reaped).
    pub fn is_process_gone(&self) -> bool {
        matches!(self, Error::ProcessGone { .. })
    }

    /// Whether the process has exited: [`Error::Exited`] (a zombie, not reaped yet)
    /// or [`Error::ProcessGone`] (reaped).
    pub fn is_exited(&self) -> bool {
        matches!(self, Error::Exited { .. } | Error::ProcessGone { .. })
    }

    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// Maps a failed call's errno: ESRCH to [`Error::ProcessGone`], ENOSYS to
    /// [`Error::Unsupported`], everything else to [`Error::Syscall`]. `call` is only
    /// evaluated on failure; neither path allocates (the record is inline).
    pub(crate) fn from_errno(
        errno: i32,
        call: impl FnOnce() -> Call,
        feature: &'static str,
        min_kernel: &'static str,
    ) -> Self {
        let source = io::Error::from_raw_os_error(errno);
        match errno {
            libc::ESRCH => Error::ProcessGone {
                call: call(),
                source,
            },
            libc::ENOSYS => Error::Unsupported {
                feature,
                min_kernel,
            },
            _ => Error::Syscall {
                call: call(),
                source,
            },
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        let kind = match e.kind() {
            ErrorKind::ProcessGone | ErrorKind::Exited | ErrorKind::NotVisible => {
                io::ErrorKind::NotFound
            }
            ErrorKind::Unsupported => io::ErrorKind::Unsupported,
            ErrorKind::InvalidArgument => io::ErrorKind::InvalidInput,
            ErrorKind::PidTaken => io::ErrorKind::AlreadyExists,
            ErrorKind::PermissionDenied => io::ErrorKind::PermissionDenied,
            ErrorKind::Os | ErrorKind::Exec => io::ErrorKind::Other,
        };
        match e {
            Error::Syscall { ref source, .. }
            | Error::ProcessGone { ref source, .. }
            | Error::Exited { ref source, .. }
            | Error::SetTidPermission { ref source, .. }
            | Error::Exec { ref source, .. } => {
                let errno = source.raw_os_error();
                let msg = e.to_string();
                match errno {
                    // Keep the errno (and its io::ErrorKind); the message rides along
                    // in the OS error's Display through `other`'s inner error.
                    Some(errno) => io::Error::new(
                        io::Error::from_raw_os_error(errno).kind(),
                        WithErrno { errno, msg },
                    ),
                    None => io::Error::new(kind, msg),
                }
            }
            Error::Unsupported { .. } => io::Error::new(
                io::ErrorKind::Unsupported,
                WithErrno {
                    errno: libc::ENOSYS,
                    msg: e.to_string(),
                },
            ),
            Error::FieldUnsupported { .. } => io::Error::new(
                io::ErrorKind::Unsupported,
                WithErrno {
                    errno: libc::E2BIG,
                    msg: e.to_string(),
                },
            ),
            Error::NotVisible { .. } => io::Error::new(
                io::ErrorKind::NotFound,
                WithErrno {
                    errno: libc::ESRCH,
                    msg: e.to_string(),
                },
            ),
            _ => io::Error::new(kind, e),
        }
    }
}

/// An error message that remembers its errno; used by `From<Error> for io::Error`.
#[derive(Debug)]
struct WithErrno {
    errno: i32,
    msg: String,
}

impl fmt::Display for WithErrno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for WithErrno {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        None
    }
}

/// Flag names joined by `|` as C writes them (`CLONE_NEWNS|CLONE_NEWUTS`), bits
/// without a name in hex, `0` for none; written straight into the formatter, so a
/// [`Call`] records them without allocating.
pub(crate) struct FlagNames<'a> {
    pub bits: u64,
    pub names: &'a [(u64, &'static str)],
}

impl fmt::Display for FlagNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.bits;
        let mut sep = "";
        for &(bit, name) in self.names {
            if bit != 0 && self.bits & bit == bit {
                write!(f, "{sep}{name}")?;
                sep = "|";
                rest &= !bit;
            }
        }
        match (rest, sep) {
            (0, "") => f.write_str("0"),
            (0, _) => Ok(()),
            (rest, sep) => write!(f, "{sep}{rest:#x}"),
        }
    }
}

/// The errno carried by an `io::Error` made from an [`Error`], even though
/// `io::Error::new` hides it from `raw_os_error()`.
///
/// ```
/// # use linception_pidfd::{Error, errno_of};
/// let e = std::io::Error::from(Error::Unsupported { feature: "clone3", min_kernel: "5.3" });
/// assert_eq!(errno_of(&e), Some(libc::ENOSYS));
/// ```
pub fn errno_of(e: &io::Error) -> Option<i32> {
    e.raw_os_error().or_else(|| {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<WithErrno>())
            .map(|w| w.errno)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_error_displays_like_the_call() {
        let e = Error::from_errno(
            libc::EINVAL,
            || Call::new("pidfd_open", format_args!("12, 0")),
            "pidfd_open",
            "5.3",
        );
        assert_eq!(
            e.to_string(),
            "pidfd_open(12, 0): Invalid argument (EINVAL)"
        );
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
        assert_eq!(e.kind(), ErrorKind::Os);
        let io = io::Error::from(e);
        assert_eq!(errno_of(&io), Some(libc::EINVAL));
        assert_eq!(io.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn eremote_is_named_in_the_error_text() {
        let e = Error::from_errno(
            libc::EREMOTE,
            || Call::new("f", format_args!("1")),
            "f",
            "1.0",
        );
        assert_eq!(e.to_string(), "f(1): Object is remote (EREMOTE)");
        let e = Error::from_errno(41, || Call::new("f", format_args!("1")), "f", "1.0");
        assert!(e.to_string().ends_with("(errno 41)"), "{e}");
    }

    #[test]
    fn zombie_and_invisible_errors_are_their_own_kinds() {
        let z = Error::Exited {
            call: Call::new("ioctl", format_args!("fd 3, PIDFD_GET_NET_NAMESPACE, 0")),
            source: io::Error::from_raw_os_error(libc::ESRCH),
        };
        assert_eq!(z.kind(), ErrorKind::Exited);
        assert!(z.is_exited() && !z.is_process_gone());
        assert!(z.to_string().contains("not reaped yet"), "{z}");
        let v = Error::NotVisible {
            what: "pid of pidfd (fd 3)".into(),
        };
        assert_eq!(v.kind(), ErrorKind::NotVisible);
        assert!(!v.is_exited());
        assert_eq!(errno_of(&io::Error::from(v)), Some(libc::ESRCH));
    }

    #[test]
    fn displays_exactly_like_the_shared_syscall_error() {
        let call = || Call::new("pidfd_open", format_args!("12, 0"));
        for errno in [libc::EPERM, libc::EINVAL, libc::EMFILE, 4000] {
            let ours = Error::from_errno(errno, call, "pidfd_open", "5.3");
            let shared = linception_errno::SyscallError::new(call(), errno);
            assert_eq!(ours.to_string(), shared.to_string());
            assert_eq!(ours.raw_os_error(), Some(shared.raw_os_error()));
        }
    }

    #[test]
    fn flag_names_are_written_like_c() {
        const NAMES: &[(u64, &str)] = &[(1, "A"), (2, "B")];
        let show = |bits| FlagNames { bits, names: NAMES }.to_string();
        assert_eq!(show(0), "0");
        assert_eq!(show(3), "A|B");
        assert_eq!(show(2 | 8), "B|0x8");
        assert_eq!(show(16), "0x10");
    }

    #[test]
    fn esrch_and_enosys_get_their_own_variants() {
        let gone = Error::from_errno(libc::ESRCH, || Call::bare("x"), "f", "1.0");
        assert!(gone.is_process_gone());
        assert_eq!(gone.kind(), ErrorKind::ProcessGone);
        assert!(gone.to_string().contains("(ESRCH)"), "{gone}");
        let unsup = Error::from_errno(libc::ENOSYS, || Call::bare("x"), "clone3", "5.3");
        assert_eq!(unsup.kind(), ErrorKind::Unsupported);
        assert_eq!(
            unsup.to_string(),
            "clone3 is not supported by this kernel (needs Linux 5.3 or later)"
        );
    }
}
