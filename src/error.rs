//! The error type of the container spawn.
#![forbid(unsafe_code)]

use std::fmt;
use std::io;

/// What went wrong, without the details (see [`Error::kind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A system call made by the parent failed.
    Os,
    /// A setup step in the child (between `clone3` and `execve`) failed.
    Setup,
    /// The running kernel lacks a feature the builder asked for.
    Unsupported,
    /// The builder holds an invalid value.
    InvalidArgument,
    /// The caller lacks a privilege the builder's values need (a capability over a
    /// namespace, a subordinate id range, a map write the kernel refused).
    PermissionDenied,
}

/// An errno shown the kernel's way: "Operation not permitted (EPERM)".
#[derive(Debug)]
pub struct Errno(pub io::Error);

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        linception_errno::IoErrno(&self.0).fmt(f)
    }
}

impl std::error::Error for Errno {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// The error of [`ContainerBuilder::spawn`](crate::ContainerBuilder::spawn) and of the
/// [`Container`](crate::Container) handle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setup step in the child failed; `step` names it the way it was asked for
    /// ("mount proc on /proc"). Nothing of the container is left behind.
    #[error("{step}: {source}{}", kernel_log.as_ref().map(|l| format!(" [kernel: {l}]")).unwrap_or_default())]
    Setup {
        /// The step, e.g. `mount proc on /proc`.
        step: String,
        /// The errno the step's system call returned.
        source: Errno,
        /// For a failed `fsconfig`/`fsmount`: the kernel's message from the fs
        /// context (e.g. `e tmpfs: Bad value for 'size'`).
        kernel_log: Option<String>,
    },
    /// A system call made by the parent failed; `op` shows the call with its arguments.
    #[error("{op}: {source}")]
    Syscall {
        /// The call, e.g. `write(/proc/1234/uid_map, "0 1000 1")`.
        op: String,
        /// The errno.
        source: Errno,
    },
    /// The kernel lacks a feature the builder asked for.
    #[error("{feature} is not supported by this kernel (needs Linux {min_kernel})")]
    Unsupported {
        /// The feature, e.g. `clone3`.
        feature: &'static str,
        /// The first kernel version that has it.
        min_kernel: &'static str,
    },
    /// The builder holds an invalid value; `what` names it.
    #[error("invalid {what}: {reason}")]
    InvalidArgument {
        /// The offending input, e.g. `mount target "usr/.."`.
        what: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The caller lacks a privilege a value needs; `what` names the value and
    /// `reason` the privilege (which capability, over which namespace). Found before
    /// anything is created where it can be known up front.
    #[error("{what}: permission denied: {reason}")]
    PermissionDenied {
        /// The offending input, e.g. `idmapped bind /srv on /srv`.
        what: String,
        /// Why the caller may not, e.g. `needs CAP_SYS_ADMIN over ...`.
        reason: &'static str,
    },
    /// The seccomp filter was refused (invalid, or too long).
    #[error("seccomp filter: {0}")]
    Seccomp(#[source] Box<linception_seccomp_notify::Error>),
    /// An id map was refused (overlapping extents, a bad `/etc/subuid` line...).
    #[error("id map: {0}")]
    IdMap(#[source] Box<linception_userns::Error>),
    /// A pidfd operation failed (wait, kill, namespace fds).
    #[error(transparent)]
    Pidfd(Box<linception_pidfd::Error>),
    /// A hook failed (a function's error, a command's exit status or timeout).
    #[error("{point} hook: {why}")]
    Hook {
        /// The hook point (`createRuntime`...).
        point: &'static str,
        /// What went wrong.
        why: String,
    },
    /// No container behind a [`ContainerId`](crate::ContainerId): its init exited,
    /// or the pid now belongs to another process.
    #[error("container {id}: no such container (it exited, or its pid was reused)")]
    Gone {
        /// The id looked for.
        id: String,
    },
    /// The init of a container that is not the caller's child exited, but its
    /// parent has not reaped it, so the kernel has no exit status to give yet.
    #[error(
        "container init {pid} exited but its parent has not reaped it (its status is not known yet)"
    )]
    NotReaped {
        /// The init's pid.
        pid: crate::Pid,
    },
    /// An operation the container's state does not allow (`start` of a running one).
    #[error("{op} of a {state} container")]
    State {
        /// The operation.
        op: &'static str,
        /// The state it was in.
        state: crate::State,
    },
    /// The container child broke the spawn protocol (an unexpected message).
    #[error("spawn protocol: {0}")]
    Protocol(String),
    /// An operation failed and so did the cleanup that followed it.
    #[error("{error}; cleanup also failed: {cleanup}")]
    Cleanup {
        /// The first failure.
        error: Box<Error>,
        /// The cleanup failure.
        cleanup: Box<Error>,
    },
}

impl Error {
    pub(crate) fn syscall(op: impl Into<String>, source: io::Error) -> Self {
        Error::Syscall {
            op: op.into(),
            source: Errno(source),
        }
    }

    pub(crate) fn invalid(what: impl Into<String>, reason: &'static str) -> Self {
        Error::InvalidArgument {
            what: what.into(),
            reason,
        }
    }

    pub(crate) fn protocol(what: String) -> Self {
        Error::Protocol(what)
    }

    pub(crate) fn denied(what: impl Into<String>, reason: &'static str) -> Self {
        Error::PermissionDenied {
            what: what.into(),
            reason,
        }
    }

    /// Joins a failure with the failure of the cleanup that followed it.
    pub(crate) fn with_cleanup(self, cleanup: Option<Error>) -> Self {
        match cleanup {
            None => self,
            Some(cleanup) => Error::Cleanup {
                error: Box::new(self),
                cleanup: Box::new(cleanup),
            },
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Setup { .. } => ErrorKind::Setup,
            Error::Syscall { .. } => ErrorKind::Os,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::InvalidArgument { .. } => ErrorKind::InvalidArgument,
            Error::PermissionDenied { .. } => ErrorKind::PermissionDenied,
            Error::Protocol(_) | Error::Hook { .. } => ErrorKind::Os,
            Error::Gone { .. } | Error::NotReaped { .. } => ErrorKind::Os,
            Error::State { .. } => ErrorKind::InvalidArgument,
            Error::Cleanup { error, .. } => error.kind(),
            // The inner error's own kind, passed through.
            Error::Seccomp(e) => {
                use linception_seccomp_notify::ErrorKind as K;
                match e.kind() {
                    K::Unsupported => ErrorKind::Unsupported,
                    K::InvalidArgument => ErrorKind::InvalidArgument,
                    K::PermissionDenied => ErrorKind::PermissionDenied,
                    _ => ErrorKind::Os,
                }
            }
            Error::IdMap(e) => {
                use linception_userns::ErrorKind as K;
                match e.kind() {
                    K::Unsupported => ErrorKind::Unsupported,
                    K::InvalidArgument => ErrorKind::InvalidArgument,
                    K::PermissionDenied => ErrorKind::PermissionDenied,
                    _ => ErrorKind::Os,
                }
            }
            Error::Pidfd(e) => match e.kind() {
                linception_pidfd::ErrorKind::Unsupported => ErrorKind::Unsupported,
                linception_pidfd::ErrorKind::InvalidArgument => ErrorKind::InvalidArgument,
                linception_pidfd::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
                _ => ErrorKind::Os,
            },
        }
    }

    /// The errno behind the failure, if a system call failed.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Setup { source, .. } | Error::Syscall { source, .. } => source.0.raw_os_error(),
            Error::Unsupported { .. } => Some(libc::ENOSYS),
            Error::InvalidArgument { .. } => Some(libc::EINVAL),
            Error::PermissionDenied { .. } => Some(libc::EPERM),
            Error::Protocol(_) => Some(libc::EPROTO),
            Error::Hook { .. } => None,
            Error::Gone { .. } => Some(libc::ESRCH),
            Error::NotReaped { .. } => Some(libc::EAGAIN),
            Error::State { .. } => Some(libc::EINVAL),
            Error::Cleanup { error, .. } => error.raw_os_error(),
            Error::Seccomp(e) => e.raw_os_error(),
            Error::IdMap(e) => e.raw_os_error(),
            Error::Pidfd(e) => e.raw_os_error(),
        }
    }

    /// For [`Error::Setup`], the step that failed.
    pub fn step(&self) -> Option<&str> {
        match self {
            Error::Setup { step, .. } => Some(step),
            Error::Cleanup { error, .. } => error.step(),
            _ => None,
        }
    }
}

impl From<Error> for io::Error {
    /// Keeps the errno when there is one (`raw_os_error()` survives the conversion);
    /// otherwise wraps the error with a matching [`io::ErrorKind`].
    fn from(e: Error) -> io::Error {
        match e.kind() {
            ErrorKind::InvalidArgument
                if e.raw_os_error().is_none() || matches!(e, Error::InvalidArgument { .. }) =>
            {
                io::Error::new(io::ErrorKind::InvalidInput, e)
            }
            ErrorKind::Unsupported => io::Error::new(io::ErrorKind::Unsupported, e),
            ErrorKind::PermissionDenied if matches!(e, Error::PermissionDenied { .. }) => {
                io::Error::new(io::ErrorKind::PermissionDenied, e)
            }
            _ => match e.raw_os_error() {
                Some(code) => io::Error::from_raw_os_error(code),
                None => io::Error::other(e),
            },
        }
    }
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

// The crates' errors carry their failed call inline (so that a failure between
// clone and exec allocates nothing); boxed here, they keep this error small.
impl From<linception_pidfd::Error> for Error {
    fn from(e: linception_pidfd::Error) -> Self {
        Error::Pidfd(Box::new(e))
    }
}

impl From<linception_seccomp_notify::Error> for Error {
    fn from(e: linception_seccomp_notify::Error) -> Self {
        Error::Seccomp(Box::new(e))
    }
}

impl From<linception_userns::Error> for Error {
    fn from(e: linception_userns::Error) -> Self {
        Error::IdMap(Box::new(e))
    }
}
