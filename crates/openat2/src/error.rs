//! The crate's error type.
#![forbid(unsafe_code)]

use std::io;

/// A failed system call, displayed like the call with its arguments, e.g.
/// `openat2(fd 3, "etc/passwd", { flags: O_RDONLY|O_CLOEXEC, mode: 0o0, resolve: IN_ROOT })`,
/// recorded inline (linception-errno's record: building one allocates nothing).
pub use linception_errno::Call;
use linception_errno::{Errno, IoErrno};

use crate::how::FieldValue;

/// What went wrong, coarsely: see [`Error::kind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A system call failed with an errno not singled out below.
    Os,
    /// The running kernel lacks the feature ([`Error::Unsupported`]).
    Unsupported,
    /// An argument was refused before any system call ([`Error::InvalidArgument`]).
    InvalidArgument,
    /// A concurrent change was detected that could have led outside the root
    /// ([`Error::SafetyViolation`]).
    SafetyViolation,
    /// `EXDEV`: the lookup would leave the root, cross a mount or follow a magic
    /// link ([`Error::Escape`]).
    Escape,
    /// `ELOOP`: a symlink was refused or too many were followed ([`Error::SymlinkRefused`]).
    SymlinkRefused,
    /// `EAGAIN` under `RESOLVE_CACHED` ([`Error::CacheMiss`]).
    CacheMiss,
    /// `EAGAIN` from a concurrent rename or mount, after retries ([`Error::Raced`]).
    Raced,
    /// `E2BIG`: `open_how` carries a field this kernel does not know ([`Error::OpenHowTooBig`]).
    OpenHowTooBig,
    /// `EINVAL`: the kernel refused a field of `open_how` ([`Error::OpenHowInvalid`]).
    OpenHowInvalid,
}

/// The error type of linception-openat2.
///
/// Kernel failures display like the call that failed, with its arguments, then the
/// errno's text and name: `openat2(fd 3, "a/b", { ... }): No such file or directory (ENOENT)`.
///
/// # Examples
///
/// ```
/// use linception_openat2::{ErrorKind, OFlags, Root};
///
/// let root = Root::new("/")?.strict();
/// let err = root.open("../etc/passwd", OFlags::RDONLY).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Escape);
/// assert_eq!(err.raw_os_error(), Some(libc::EXDEV));
/// assert!(err.to_string().starts_with("openat2(fd "));
/// let io: std::io::Error = err.into();
/// assert_eq!(io.raw_os_error(), Some(libc::EXDEV));
/// # Ok::<(), linception_openat2::Error>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed.
    #[error("{call}: {}", IoErrno(.source))]
    Syscall {
        /// The call, with its arguments.
        call: Call,
        /// The errno, as an `io::Error`.
        source: io::Error,
    },
    /// `EXDEV`: with `RESOLVE_BENEATH` the path (or a symlink in it) tried to leave
    /// the root; with `RESOLVE_NO_XDEV` it crossed a mount point; or a procfs magic
    /// link was met during a scoped (`BENEATH`/`IN_ROOT`) lookup, which is never allowed.
    #[error(
        "{call}: refused, the path leaves the root, crosses a mount or meets a magic link: {}",
        Errno(libc::EXDEV)
    )]
    Escape {
        /// The call, with its arguments.
        call: Call,
    },
    /// `ELOOP`: a symlink was met under `RESOLVE_NO_SYMLINKS`, a magic link under
    /// `RESOLVE_NO_MAGICLINKS`, the last component is a symlink under `O_NOFOLLOW`,
    /// or more than 40 symlinks were followed (a loop).
    #[error(
        "{call}: refused, a symlink was not allowed here or there were too many: {}",
        Errno(libc::ELOOP)
    )]
    SymlinkRefused {
        /// The call, with its arguments.
        call: Call,
    },
    /// `EAGAIN` under `RESOLVE_CACHED`: the lookup could not be completed from the
    /// dentry cache alone (or the open needs I/O, e.g. `O_CREAT`/`O_TRUNC`). Retry
    /// without `RESOLVE_CACHED`; [`Root`](crate::Root) does this by itself.
    #[error(
        "{call}: not in the dentry cache (RESOLVE_CACHED miss): {}",
        Errno(libc::EAGAIN)
    )]
    CacheMiss {
        /// The call, with its arguments.
        call: Call,
    },
    /// `EAGAIN` without `RESOLVE_CACHED`: a rename or mount elsewhere on the system
    /// raced with a `..` step of a scoped lookup, every time in `attempts` tries.
    #[error(
        "{call}: a concurrent rename or mount raced with the lookup {attempts} times in a row: {}",
        Errno(libc::EAGAIN)
    )]
    Raced {
        /// The call, with its arguments.
        call: Call,
        /// How many times the lookup was tried.
        attempts: u32,
    },
    /// `E2BIG`: the `open_how` passed is larger than the kernel's and a field the
    /// kernel does not know is set (see [`OpenHow::field`](crate::OpenHow::field)).
    #[error(
        "{call}: open_how field at byte offset {offset} is not supported by this kernel (it must be 0 here): {}",
        Errno(libc::E2BIG)
    )]
    OpenHowTooBig {
        /// The call, with its arguments.
        call: Call,
        /// The byte offset in `open_how` of the first set field this kernel does
        /// not know (found by passing each set field alone).
        offset: usize,
    },
    /// `EINVAL` for an `open_how` the kernel refuses: unknown bits (bits beyond
    /// the low 32 of `flags` included), a mode without `O_CREAT`/`O_TMPFILE` or
    /// outside `0o7777`, `BENEATH` with `IN_ROOT`, `O_PATH` or `O_TMPFILE` with
    /// flags they do not allow, `O_CREAT` with `O_DIRECTORY`.
    #[error(
        "{call}: the kernel refused open_how: {field} {} {reason}: {}",
        FieldValue(.field, *.value),
        Errno(libc::EINVAL)
    )]
    OpenHowInvalid {
        /// The call, with its arguments.
        call: Call,
        /// Which field: `"open flags"`, `"mode"` or `"resolve flags"`.
        field: &'static str,
        /// The field's raw value (displayed by the field: `O_*` or `RESOLVE_*`
        /// names, or octal for the mode); kept as a number so that building the
        /// error allocates nothing.
        value: u64,
        /// Why the kernel refuses it.
        reason: &'static str,
    },
    /// The running kernel lacks a feature (`ENOSYS`).
    #[error("{feature} is not supported by this kernel (needs Linux {min_kernel} or later)")]
    Unsupported {
        /// The missing feature, e.g. `"openat2"`.
        feature: &'static str,
        /// The first kernel version that has it.
        min_kernel: &'static str,
    },
    /// An argument was refused before any system call was made.
    #[error("invalid {name} {value}: {reason}")]
    InvalidArgument {
        /// Which argument, e.g. `"path"`.
        name: &'static str,
        /// The offending value, formatted.
        value: String,
        /// Why it was refused.
        reason: &'static str,
        /// The errno the kernel would have given for it (`EINVAL`, `ENAMETOOLONG`...).
        errno: i32,
    },
    /// The userspace resolver saw the tree change under it in a way that could have
    /// led outside the root (a directory moved while `..` was resolved), every time
    /// in its bounded number of tries. Nothing outside the root was opened.
    #[error("resolving {path:?} inside the root: {detail}")]
    SafetyViolation {
        /// The path being resolved.
        path: String,
        /// What was detected.
        detail: String,
    },
}

/// Shorthand for `Result<T, linception_openat2::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The coarse category of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Syscall { .. } => ErrorKind::Os,
            Error::Escape { .. } => ErrorKind::Escape,
            Error::SymlinkRefused { .. } => ErrorKind::SymlinkRefused,
            Error::CacheMiss { .. } => ErrorKind::CacheMiss,
            Error::Raced { .. } => ErrorKind::Raced,
            Error::OpenHowTooBig { .. } => ErrorKind::OpenHowTooBig,
            Error::OpenHowInvalid { .. } => ErrorKind::OpenHowInvalid,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::InvalidArgument { .. } => ErrorKind::InvalidArgument,
            Error::SafetyViolation { .. } => ErrorKind::SafetyViolation,
        }
    }

    /// The errno behind this error, if there is one. Validation errors give the errno
    /// the kernel would have returned for the same input; `Unsupported` is `ENOSYS`;
    /// `SafetyViolation` has none.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Syscall { source, .. } => source.raw_os_error(),
            Error::Escape { .. } => Some(libc::EXDEV),
            Error::SymlinkRefused { .. } => Some(libc::ELOOP),
            Error::CacheMiss { .. } | Error::Raced { .. } => Some(libc::EAGAIN),
            Error::OpenHowTooBig { .. } => Some(libc::E2BIG),
            Error::OpenHowInvalid { .. } => Some(libc::EINVAL),
            Error::Unsupported { .. } => Some(libc::ENOSYS),
            Error::InvalidArgument { errno, .. } => Some(*errno),
            Error::SafetyViolation { .. } => None,
        }
    }

    /// The failed call, for kernel failures.
    pub fn call(&self) -> Option<&Call> {
        match self {
            Error::Syscall { call, .. }
            | Error::Escape { call }
            | Error::SymlinkRefused { call }
            | Error::CacheMiss { call }
            | Error::Raced { call, .. }
            | Error::OpenHowTooBig { call, .. }
            | Error::OpenHowInvalid { call, .. } => Some(call),
            _ => None,
        }
    }

    /// Maps an errno from a path lookup to the matching variant. `cached` tells
    /// whether `RESOLVE_CACHED` was asked for (EAGAIN is then a cache miss).
    pub(crate) fn lookup(
        errno: rustix::io::Errno,
        cached: bool,
        call: impl FnOnce() -> Call,
    ) -> Self {
        match errno {
            rustix::io::Errno::XDEV => Error::Escape { call: call() },
            rustix::io::Errno::LOOP => Error::SymlinkRefused { call: call() },
            rustix::io::Errno::AGAIN if cached => Error::CacheMiss { call: call() },
            rustix::io::Errno::AGAIN => Error::Raced {
                call: call(),
                attempts: 1,
            },
            e => Error::Syscall {
                call: call(),
                source: e.into(),
            },
        }
    }

    /// A plain syscall failure (no lookup-specific mapping).
    pub(crate) fn sys(errno: rustix::io::Errno, call: impl FnOnce() -> Call) -> Self {
        Error::Syscall {
            call: call(),
            source: errno.into(),
        }
    }

    pub(crate) fn invalid(
        name: &'static str,
        value: String,
        reason: &'static str,
        errno: i32,
    ) -> Self {
        Error::InvalidArgument {
            name,
            value,
            reason,
            errno,
        }
    }
}

/// Kernel failures become `io::Error::from_raw_os_error(errno)` (so `raw_os_error()`
/// keeps the errno); validation errors keep their message with the matching
/// `io::ErrorKind`; `Unsupported` is `io::ErrorKind::Unsupported`; `SafetyViolation`
/// is `io::ErrorKind::Other`.
impl From<Error> for io::Error {
    fn from(err: Error) -> Self {
        match err {
            Error::InvalidArgument { errno, .. } => {
                io::Error::new(io::Error::from_raw_os_error(errno).kind(), err)
            }
            Error::Unsupported { .. } => io::Error::new(io::ErrorKind::Unsupported, err),
            Error::SafetyViolation { .. } => io::Error::other(err),
            other => match other.raw_os_error() {
                Some(errno) => io::Error::from_raw_os_error(errno),
                None => io::Error::other(other),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> Call {
        Call::new(
            "openat2",
            format_args!("fd 3, \"a\", {{ flags: O_RDONLY, mode: 0o0, resolve: IN_ROOT }}"),
        )
    }

    #[test]
    fn lookup_errnos_map_to_distinct_variants() {
        use rustix::io::Errno;
        let cases = [
            (Errno::XDEV, false, ErrorKind::Escape, libc::EXDEV),
            (Errno::LOOP, false, ErrorKind::SymlinkRefused, libc::ELOOP),
            (Errno::AGAIN, true, ErrorKind::CacheMiss, libc::EAGAIN),
            (Errno::AGAIN, false, ErrorKind::Raced, libc::EAGAIN),
            (Errno::NOENT, false, ErrorKind::Os, libc::ENOENT),
        ];
        for (errno, cached, kind, raw) in cases {
            let e = Error::lookup(errno, cached, call);
            assert_eq!(e.kind(), kind, "{e}");
            assert_eq!(e.raw_os_error(), Some(raw), "{e}");
            assert_eq!(io::Error::from(e).raw_os_error(), Some(raw));
        }
    }

    #[test]
    fn display_names_call_and_errno() {
        let e = Error::sys(rustix::io::Errno::NOENT, call);
        assert_eq!(
            e.to_string(),
            "openat2(fd 3, \"a\", { flags: O_RDONLY, mode: 0o0, resolve: IN_ROOT }): No such file or directory (ENOENT)"
        );
        let e = Error::lookup(rustix::io::Errno::XDEV, false, call);
        assert!(
            e.to_string().ends_with("Invalid cross-device link (EXDEV)"),
            "{e}"
        );
    }

    #[test]
    fn io_error_keeps_errno_kind() {
        let e: io::Error = Error::sys(rustix::io::Errno::NOENT, call).into();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        let e: io::Error = Error::invalid("path", "\"\"".into(), "is empty", libc::ENOENT).into();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}
