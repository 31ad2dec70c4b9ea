//! The crate's error type.
#![forbid(unsafe_code)]

use std::fmt;
use std::io;

pub use linception_errno::Call;
use linception_errno::IoErrno;

use crate::extent::{Extent, Side};

/// What a map write broke, worked out after the kernel refused it (or before the
/// syscall, when the rule can be checked up front).
///
/// The kernel answers every refused `uid_map`/`gid_map` write with a bare `EPERM` or
/// `EINVAL`; this names the rule behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MapRule {
    /// The map was already written: each map of a namespace takes exactly one write.
    AlreadyWritten,
    /// A writer without `CAP_SETUID` (uid_map) or `CAP_SETGID` (gid_map) over the
    /// parent namespace may map only its own effective id, as one extent of count 1.
    UnprivilegedWiderThanOwnId {
        /// The writer's own effective uid or gid.
        own: u32,
    },
    /// An unprivileged `gid_map` needs "deny" written to `/proc/PID/setgroups` first.
    SetgroupsNotDenied,
    /// The extent's outside ids are not all mapped, as one range, in the writer's
    /// own user namespace.
    OutsideNotMapped {
        /// The offending extent.
        extent: Extent,
    },
    /// Mapping uid 0 of the parent namespace needs `CAP_SETFCAP` (since Linux 5.12).
    ParentRootNeedsSetfcap,
    /// "deny" cannot be written to `setgroups` once the gid map is written.
    SetgroupsAfterGidMap,
    /// "allow" cannot be written to `setgroups` once it holds "deny".
    SetgroupsDenied,
    /// The kernel found the text malformed (`EINVAL`).
    Malformed,
    /// No known rule explains the refusal.
    Unknown,
}

impl fmt::Display for MapRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapRule::AlreadyWritten => {
                f.write_str("the map was already written (each map takes exactly one write)")
            }
            MapRule::UnprivilegedWiderThanOwnId { own } => write!(
                f,
                "without CAP_SETUID/CAP_SETGID over the parent namespace a writer may map \
                 only its own id {own}, as a single extent of count 1"
            ),
            MapRule::SetgroupsNotDenied => {
                f.write_str("an unprivileged gid_map needs \"deny\" written to setgroups before it")
            }
            MapRule::OutsideNotMapped { extent } => write!(
                f,
                "outside ids of extent ({extent}) are not mapped, as one range, in the \
                 writer's user namespace"
            ),
            MapRule::ParentRootNeedsSetfcap => f.write_str(
                "mapping uid 0 of the parent namespace needs CAP_SETFCAP (since Linux 5.12)",
            ),
            MapRule::SetgroupsAfterGidMap => {
                f.write_str("setgroups cannot change once gid_map is written")
            }
            MapRule::SetgroupsDenied => {
                f.write_str("setgroups cannot go back to \"allow\" once it is \"deny\"")
            }
            MapRule::Malformed => f.write_str("the kernel found the map text malformed"),
            MapRule::Unknown => f.write_str(
                "no checked rule explains the refusal (the writer must be in the target's \
                 user namespace or its parent, with CAP_SYS_ADMIN over it)",
            ),
        }
    }
}

/// A broad classification of [`Error`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A system call failed; see [`Error::raw_os_error`].
    Os,
    /// The running kernel lacks a feature.
    Unsupported,
    /// The input is invalid (a malformed map, a bad line of text), or the kernel
    /// found a map write's text malformed (`EINVAL`, [`MapRule::Malformed`]).
    InvalidArgument,
    /// The caller may not write this map: the kernel refused it (`EPERM`,
    /// `EACCES`) or would (refused before the write), see [`MapRule`]; or
    /// `newuidmap`/`newgidmap` refused its ranges ([`Error::HelperRefused`]).
    PermissionDenied,
    /// A helper program (`newuidmap`, `newgidmap`) is missing or failed for a
    /// reason other than a refusal.
    Helper,
    /// The target process changed under us (a pidfd no longer refers to the pid).
    SafetyViolation,
}

/// The error type of linception-userns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A map with no extents.
    #[error("an id map needs at least one extent")]
    EmptyMap,
    /// More extents than the kernel takes.
    #[error("{count} extents: a map takes at most {max} (since Linux 4.15; 5 before)", max = crate::MAX_EXTENTS)]
    TooManyExtents {
        /// The number of extents given.
        count: usize,
    },
    /// An extent of count 0.
    #[error("extent #{index} ({extent}): count is zero")]
    ZeroCount {
        /// Position of the extent in the map as given.
        index: usize,
        /// The extent.
        extent: Extent,
    },
    /// An extent whose range runs past id 4294967294 on one side.
    #[error(
        "extent #{index} ({extent}): {side} ids overflow: the range must end at or below \
         4294967295 (id 4294967295 is never mappable)"
    )]
    Overflow {
        /// Position of the extent in the map as given.
        index: usize,
        /// The extent.
        extent: Extent,
        /// The side that overflows.
        side: Side,
    },
    /// Two extents overlap on one side (the kernel refuses both sides).
    #[error(
        "extents #{} ({}) and #{} ({}) overlap on the {side} side",
        first.0, first.1, second.0, second.1
    )]
    Overlap {
        /// The side on which the ranges overlap.
        side: Side,
        /// The first extent (position, extent).
        first: (usize, Extent),
        /// The second extent (position, extent).
        second: (usize, Extent),
    },
    /// The map's text is longer than the single write the kernel accepts.
    #[error(
        "the map's text is {bytes} bytes, over the {limit} the kernel accepts in one write; \
         extent #{first_over} is the first past the limit"
    )]
    TextTooLong {
        /// The text's length in bytes.
        bytes: usize,
        /// The most the kernel takes ([`MAX_TEXT_LEN`](crate::MAX_TEXT_LEN)).
        limit: usize,
        /// Position of the first extent whose line ends past the limit.
        first_over: usize,
    },
    /// A line of text (an id map, `/etc/subuid`) that does not parse.
    #[error("{source_name}: line {line} ({text:?}): {reason}")]
    Parse {
        /// What was parsed (`"uid_map"`, `"/etc/subuid"`, ...).
        source_name: String,
        /// The line number, from 1.
        line: usize,
        /// The line's text.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A system call failed; displays like the call with its arguments.
    #[error("{call}: {}", IoErrno(source))]
    Syscall {
        /// The call, with its arguments (recorded inline).
        call: Call,
        /// The error the kernel returned.
        source: io::Error,
    },
    /// The kernel refused a `uid_map`/`gid_map`/`setgroups` write, or it was refused
    /// before the syscall because it would break `rule`.
    #[error("{call}: {}{rule}", Refusal(source.as_ref()))]
    MapWrite {
        /// The write, with the file and (shortened) text, recorded inline.
        call: Call,
        /// The rule that was broken.
        rule: MapRule,
        /// The kernel's error; `None` when refused before the syscall.
        source: Option<io::Error>,
    },
    /// The running kernel lacks a feature.
    #[error("{feature} is not supported by this kernel (needs Linux {min_kernel} or later)")]
    Unsupported {
        /// The missing feature.
        feature: &'static str,
        /// The first kernel that has it.
        min_kernel: &'static str,
    },
    /// A helper program was not found.
    #[error("{program} not found (install the distribution's uidmap package)")]
    HelperMissing {
        /// The program's name.
        program: &'static str,
    },
    /// A helper program refused the map: a range the caller may not map (not its
    /// own id nor in its `/etc/subuid`/`/etc/subgid` ranges), a target owned by
    /// another user, or the kernel's `EPERM` on the write it made.
    #[error("{command}: refused: {stderr}")]
    HelperRefused {
        /// The command line that ran.
        command: String,
        /// What it printed on stderr (trimmed).
        stderr: String,
    },
    /// A helper program failed for another reason.
    #[error("{command}: {status}: {stderr}")]
    Helper {
        /// The command line that ran.
        command: String,
        /// How it ended.
        status: String,
        /// What it printed on stderr (trimmed).
        stderr: String,
    },
    /// The target process changed under us.
    #[error("safety violation: {what}")]
    SafetyViolation {
        /// What happened.
        what: String,
    },
}

impl Error {
    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::EmptyMap
            | Error::TooManyExtents { .. }
            | Error::ZeroCount { .. }
            | Error::Overflow { .. }
            | Error::Overlap { .. }
            | Error::TextTooLong { .. }
            | Error::Parse { .. } => ErrorKind::InvalidArgument,
            Error::Syscall { .. } => ErrorKind::Os,
            Error::MapWrite {
                rule: MapRule::Malformed,
                ..
            } => ErrorKind::InvalidArgument,
            Error::MapWrite { source, .. } => match source.as_ref().map(io::Error::raw_os_error) {
                // Refused before the write, by a rule.
                None => ErrorKind::PermissionDenied,
                Some(Some(libc::EPERM | libc::EACCES)) => ErrorKind::PermissionDenied,
                Some(Some(libc::EINVAL)) => ErrorKind::InvalidArgument,
                Some(_) => ErrorKind::Os,
            },
            Error::HelperRefused { .. } => ErrorKind::PermissionDenied,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::HelperMissing { .. } | Error::Helper { .. } => ErrorKind::Helper,
            Error::SafetyViolation { .. } => ErrorKind::SafetyViolation,
        }
    }

    /// The errno the kernel returned, if this error comes from a system call.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Syscall { source, .. } => source.raw_os_error(),
            Error::MapWrite {
                source: Some(source),
                ..
            } => source.raw_os_error(),
            Error::Unsupported { .. } => Some(libc::ENOSYS),
            _ => None,
        }
    }

    /// The [`MapRule`] a refused map write broke, if this is one.
    pub fn map_rule(&self) -> Option<&MapRule> {
        match self {
            Error::MapWrite { rule, .. } => Some(rule),
            _ => None,
        }
    }

    pub(crate) fn syscall(call: Call, source: impl Into<io::Error>) -> Self {
        Error::Syscall {
            call,
            source: source.into(),
        }
    }
}

/// The kernel's refusal of a map write, `Operation not permitted (EPERM): `, or
/// `refused before the write: ` when it never reached the kernel.
struct Refusal<'a>(Option<&'a io::Error>);

impl fmt::Display for Refusal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(e) => write!(f, "{}: ", IoErrno(e)),
            None => f.write_str("refused before the write: "),
        }
    }
}

impl From<Error> for io::Error {
    /// A kernel failure becomes `io::Error::from_raw_os_error` (the errno is kept;
    /// the call and the rule are lost: keep the [`Error`] to show them); other
    /// errors become an `io::Error` of the matching kind carrying the error.
    fn from(err: Error) -> io::Error {
        if let Some(code) = err.raw_os_error() {
            return io::Error::from_raw_os_error(code);
        }
        let kind = match err.kind() {
            ErrorKind::InvalidArgument => io::ErrorKind::InvalidInput,
            ErrorKind::PermissionDenied => io::ErrorKind::PermissionDenied,
            ErrorKind::Unsupported => io::ErrorKind::Unsupported,
            ErrorKind::Helper => io::ErrorKind::Other,
            ErrorKind::SafetyViolation | ErrorKind::Os => io::ErrorKind::Other,
        };
        io::Error::new(kind, err)
    }
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_exactly_like_the_shared_syscall_error() {
        let call = || Call::new("open", format_args!("\"/proc/42\", O_RDONLY"));
        for errno in [libc::ENOENT, libc::EACCES, libc::EUSERS, 4000] {
            let ours = Error::syscall(call(), io::Error::from_raw_os_error(errno));
            let shared = linception_errno::SyscallError::new(call(), errno);
            assert_eq!(ours.to_string(), shared.to_string());
            assert_eq!(ours.raw_os_error(), Some(shared.raw_os_error()));
        }
    }

    #[test]
    fn syscall_error_displays_like_the_call() {
        let err = Error::syscall(
            Call::new("open", format_args!("\"/proc/42\", O_PATH|O_DIRECTORY")),
            io::Error::from_raw_os_error(libc::ENOENT),
        );
        assert_eq!(
            err.to_string(),
            "open(\"/proc/42\", O_PATH|O_DIRECTORY): No such file or directory (ENOENT)"
        );
        assert_eq!(err.kind(), ErrorKind::Os);
        let io: io::Error = err.into();
        assert_eq!(io.raw_os_error(), Some(libc::ENOENT));
    }

    #[test]
    fn map_write_error_keeps_errno_and_rule() {
        let err = Error::MapWrite {
            call: Call::new(
                "write",
                format_args!("fd \"/proc/42/uid_map\", \"0 0 1\\n\""),
            ),
            rule: MapRule::AlreadyWritten,
            source: Some(io::Error::from_raw_os_error(libc::EPERM)),
        };
        assert_eq!(err.raw_os_error(), Some(libc::EPERM));
        assert_eq!(err.map_rule(), Some(&MapRule::AlreadyWritten));
        assert_eq!(
            err.to_string(),
            "write(fd \"/proc/42/uid_map\", \"0 0 1\\n\"): Operation not permitted (EPERM): \
             the map was already written (each map takes exactly one write)"
        );
        let refused = Error::MapWrite {
            call: Call::new(
                "write",
                format_args!("fd \"/proc/42/uid_map\", \"0 5 2\\n\""),
            ),
            rule: MapRule::UnprivilegedWiderThanOwnId { own: 5 },
            source: None,
        };
        assert_eq!(refused.raw_os_error(), None);
        assert!(
            refused
                .to_string()
                .contains("refused before the write: without CAP_SETUID"),
            "{refused}"
        );
        let io: io::Error = refused.into();
        assert_eq!(io.kind(), io::ErrorKind::PermissionDenied);
    }

    #[test]
    fn kinds_tell_permission_from_malformed() {
        let write = |rule, errno: Option<i32>| Error::MapWrite {
            call: Call::new(
                "write",
                format_args!("fd \"/proc/42/uid_map\", \"0 0 1\\n\""),
            ),
            rule,
            source: errno.map(io::Error::from_raw_os_error),
        };
        let cases = [
            (
                write(MapRule::AlreadyWritten, Some(libc::EPERM)),
                ErrorKind::PermissionDenied,
                io::ErrorKind::PermissionDenied,
            ),
            (
                write(MapRule::Unknown, Some(libc::EACCES)),
                ErrorKind::PermissionDenied,
                io::ErrorKind::PermissionDenied,
            ),
            (
                write(MapRule::UnprivilegedWiderThanOwnId { own: 5 }, None),
                ErrorKind::PermissionDenied,
                io::ErrorKind::PermissionDenied,
            ),
            (
                write(MapRule::Malformed, Some(libc::EINVAL)),
                ErrorKind::InvalidArgument,
                io::ErrorKind::InvalidInput,
            ),
            (
                write(MapRule::Unknown, Some(libc::ESRCH)),
                ErrorKind::Os,
                io::Error::from_raw_os_error(libc::ESRCH).kind(),
            ),
            (
                Error::HelperRefused {
                    command: "newuidmap 42 0 1234567 10".into(),
                    stderr: "newuidmap: uid range [0-10) -> [1234567-1234577) not allowed".into(),
                },
                ErrorKind::PermissionDenied,
                io::ErrorKind::PermissionDenied,
            ),
        ];
        for (err, kind, io_kind) in cases {
            let text = err.to_string();
            assert_eq!(err.kind(), kind, "{text}");
            let io: io::Error = err.into();
            assert_eq!(io.kind(), io_kind, "{text}");
        }
    }

    #[test]
    fn unsupported_is_enosys() {
        let err = Error::Unsupported {
            feature: "clone3",
            min_kernel: "5.3",
        };
        assert_eq!(err.raw_os_error(), Some(libc::ENOSYS));
        assert_eq!(
            err.to_string(),
            "clone3 is not supported by this kernel (needs Linux 5.3 or later)"
        );
    }
}
