//! The crate's error type.
#![forbid(unsafe_code)]

use std::fmt;
use std::io;

use rustix::io::Errno;

use crate::Capabilities;
use crate::serial::KeySerial;

/// A key operation, named as the kernel names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// `add_key(2)`.
    AddKey,
    /// `request_key(2)`.
    RequestKey,
    /// `KEYCTL_GET_KEYRING_ID`.
    GetKeyringId,
    /// `KEYCTL_JOIN_SESSION_KEYRING`.
    JoinSessionKeyring,
    /// `KEYCTL_UPDATE`.
    Update,
    /// `KEYCTL_REVOKE`.
    Revoke,
    /// `KEYCTL_CHOWN`.
    Chown,
    /// `KEYCTL_SETPERM`.
    Setperm,
    /// `KEYCTL_DESCRIBE`.
    Describe,
    /// `KEYCTL_CLEAR`.
    Clear,
    /// `KEYCTL_LINK`.
    Link,
    /// `KEYCTL_UNLINK`.
    Unlink,
    /// `KEYCTL_SEARCH`.
    Search,
    /// `KEYCTL_READ`.
    Read,
    /// `KEYCTL_SET_TIMEOUT`.
    SetTimeout,
    /// `KEYCTL_GET_SECURITY`.
    GetSecurity,
    /// `KEYCTL_INVALIDATE`.
    Invalidate,
    /// `KEYCTL_GET_PERSISTENT`.
    GetPersistent,
    /// `KEYCTL_RESTRICT_KEYRING`.
    RestrictKeyring,
    /// `KEYCTL_MOVE`.
    Move,
    /// `KEYCTL_CAPABILITIES`.
    Capabilities,
}

impl Op {
    /// The C name: the system call, or the `KEYCTL_*` operation.
    pub const fn c_name(self) -> &'static str {
        match self {
            Op::AddKey => "add_key",
            Op::RequestKey => "request_key",
            Op::GetKeyringId => "KEYCTL_GET_KEYRING_ID",
            Op::JoinSessionKeyring => "KEYCTL_JOIN_SESSION_KEYRING",
            Op::Update => "KEYCTL_UPDATE",
            Op::Revoke => "KEYCTL_REVOKE",
            Op::Chown => "KEYCTL_CHOWN",
            Op::Setperm => "KEYCTL_SETPERM",
            Op::Describe => "KEYCTL_DESCRIBE",
            Op::Clear => "KEYCTL_CLEAR",
            Op::Link => "KEYCTL_LINK",
            Op::Unlink => "KEYCTL_UNLINK",
            Op::Search => "KEYCTL_SEARCH",
            Op::Read => "KEYCTL_READ",
            Op::SetTimeout => "KEYCTL_SET_TIMEOUT",
            Op::GetSecurity => "KEYCTL_GET_SECURITY",
            Op::Invalidate => "KEYCTL_INVALIDATE",
            Op::GetPersistent => "KEYCTL_GET_PERSISTENT",
            Op::RestrictKeyring => "KEYCTL_RESTRICT_KEYRING",
            Op::Move => "KEYCTL_MOVE",
            Op::Capabilities => "KEYCTL_CAPABILITIES",
        }
    }

    /// The first kernel that has the operation.
    pub const fn min_kernel(self) -> &'static str {
        match self {
            Op::Invalidate => "3.5",
            Op::GetPersistent => "3.13",
            Op::RestrictKeyring => "4.12",
            Op::Move => "5.1",
            Op::Capabilities => "5.3",
            Op::GetSecurity => "2.6.26",
            Op::JoinSessionKeyring | Op::Search | Op::Read | Op::Describe => "2.6.10",
            _ => "2.6.10",
        }
    }

    /// The capability bit that says whether the kernel has this operation, for the
    /// operations that a kernel may lack (or have configured out).
    pub(crate) fn capability(self, caps: &crate::Capabilities) -> Option<bool> {
        match self {
            Op::Invalidate => Some(caps.invalidate),
            Op::GetPersistent => Some(caps.persistent_keyrings),
            Op::RestrictKeyring => Some(caps.restrict_keyring),
            Op::Move => Some(caps.move_key),
            _ => None,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.c_name())
    }
}

/// A failed call with its arguments, displayed as C would spell it:
/// `keyctl(KEYCTL_READ, 123456789, <buffer>, 64)` or
/// `add_key("user", "cifs:alice", <5 bytes>, KEY_SPEC_SESSION_KEYRING)`.
///
/// Kept inline (a [`linception_errno::Call`], the family's shared record of a
/// failed call): recording one allocates nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    op: Op,
    call: linception_errno::Call,
}

impl Call {
    /// Records `op(args)`; a `keyctl` operation is shown as `keyctl(KEYCTL_*, args)`.
    pub(crate) fn new(op: Op, args: fmt::Arguments<'_>) -> Self {
        let call = match op {
            Op::AddKey | Op::RequestKey => linception_errno::Call::new(op.c_name(), args),
            op => linception_errno::Call::new("keyctl", format_args!("{}, {args}", op.c_name())),
        };
        Call { op, call }
    }

    /// The operation.
    pub fn op(&self) -> Op {
        self.op
    }

    /// The arguments as displayed, after the operation.
    pub fn args(&self) -> &str {
        let all = self.call.args();
        match self.op {
            Op::AddKey | Op::RequestKey => all,
            op => all
                .strip_prefix(op.c_name())
                .and_then(|rest| rest.strip_prefix(", "))
                .unwrap_or(all),
        }
    }

    /// The call in the family's shared shape (`keyctl` or `add_key`/`request_key`
    /// with every argument).
    pub fn as_call(&self) -> &linception_errno::Call {
        &self.call
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.call, f)
    }
}

/// `NULL` for `None`, else the value's `{:?}` (a quoted string), as a C call shows
/// an optional string argument.
pub(crate) struct OrNull<T>(pub Option<T>);

impl<T: fmt::Debug> fmt::Display for OrNull<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(v) => write!(f, "{v:?}"),
            None => f.write_str("NULL"),
        }
    }
}

/// What kind of failure an [`Error`] is, for matching without the details.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `ENOKEY`: no such key, or not one the caller may find.
    KeyNotFound,
    /// `EKEYEXPIRED`: the key's timeout has passed.
    KeyExpired,
    /// `EKEYREVOKED`: the key was revoked.
    KeyRevoked,
    /// `EDQUOT`: the owner's key count or byte quota is exhausted.
    QuotaExceeded,
    /// `EACCES`: the key's permission mask refuses the operation.
    PermissionDenied,
    /// The key type has no readable payload (`logon` keys).
    NotReadable,
    /// The kernel does not have the operation or key type.
    Unsupported,
    /// An argument was refused before any system call.
    InvalidArgument,
    /// Any other failure of a system call.
    Os,
}

/// The error of every fallible call of this crate.
///
/// A system call failure displays like the call with its arguments, then the
/// errno's message and name:
/// `keyctl(KEYCTL_READ, 123456789, <buffer>, 64): Key has been revoked (EKEYREVOKED)`.
/// The key-specific errnos are named variants carrying the serial of the key (or
/// keyring) the call was about, so they can be matched directly.
///
/// ```no_run
/// use linception_keyring_ns::{Error, KeySerial, read};
///
/// match read(KeySerial::from_raw(123456789)) {
///     Ok(payload) => println!("{} bytes", payload.len()),
///     Err(Error::KeyExpired { key, .. } | Error::KeyRevoked { key, .. }) => println!("{key} is gone"),
///     Err(err) => eprintln!("{err}"), // keyctl(KEYCTL_READ, 123456789, <buffer>, 512): ...
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `ENOKEY`: the key does not exist, or the caller may not find it (keys another
    /// container holds look exactly like keys that do not exist).
    #[error("{call}: {}", shown(Errno::NOKEY))]
    KeyNotFound {
        /// The failed call.
        call: Call,
        /// The key or keyring the call was about.
        key: KeySerial,
    },
    /// `EKEYEXPIRED`: the key's timeout has passed.
    #[error("{call}: {}", shown(Errno::KEYEXPIRED))]
    KeyExpired {
        /// The failed call.
        call: Call,
        /// The key or keyring the call was about.
        key: KeySerial,
    },
    /// `EKEYREVOKED`: the key was revoked.
    #[error("{call}: {}", shown(Errno::KEYREVOKED))]
    KeyRevoked {
        /// The failed call.
        call: Call,
        /// The key or keyring the call was about.
        key: KeySerial,
    },
    /// `EDQUOT`: the owner's quota of keys or payload bytes (per kernel uid, see
    /// `/proc/sys/kernel/keys/`) is exhausted.
    #[error("{call}: {}", shown(Errno::DQUOT))]
    QuotaExceeded {
        /// The failed call.
        call: Call,
        /// The key or keyring the call was about (for `add_key`, the keyring).
        key: KeySerial,
    },
    /// `EACCES`: the key's [`Permission`](crate::Permission) mask refuses the
    /// operation to the caller.
    #[error("{call}: {}", shown(Errno::ACCESS))]
    PermissionDenied {
        /// The failed call.
        call: Call,
        /// The key or keyring the call was about.
        key: KeySerial,
    },
    /// `KEYCTL_READ` failed with `EOPNOTSUPP`: the key's type keeps its payload
    /// in the kernel (`logon` keys are write-only by design).
    #[error(
        "{call}: {}: key {key} has no readable payload",
        shown(Errno::OPNOTSUPP)
    )]
    NotReadable {
        /// The failed call.
        call: Call,
        /// The key.
        key: KeySerial,
    },
    /// `ENODEV`: the kernel has no key type of that name (a type may be configured
    /// out, such as `big_key`, or provided by a module that is not loaded).
    #[error(
        "{call}: {}: the kernel has no key type {key_type:?}",
        shown(Errno::NODEV)
    )]
    UnknownKeyType {
        /// The failed call.
        call: Call,
        /// The key type's name.
        key_type: String,
    },
    /// The kernel lacks the operation (`ENOSYS`, or `EOPNOTSUPP` for a `keyctl`
    /// operation the kernel does not know).
    #[error("{call}: {}: {feature} needs Linux {min_kernel}", shown(*.errno))]
    Unsupported {
        /// The failed call.
        call: Call,
        /// What is missing.
        feature: &'static str,
        /// The first kernel that has it.
        min_kernel: &'static str,
        /// The errno the kernel returned.
        errno: Errno,
    },
    /// Any other system call failure.
    #[error("{call}: {}", shown(*.errno))]
    Os {
        /// The failed call.
        call: Call,
        /// The key or keyring the call was about.
        key: KeySerial,
        /// The errno.
        errno: Errno,
    },
    /// An argument was refused before any system call.
    #[error("invalid {input} {value:?}: {reason}")]
    InvalidInput {
        /// The argument's name (`"description"`, `"session keyring name"`...).
        input: &'static str,
        /// The offending value (lossily decoded).
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
}

impl Error {
    pub(crate) fn invalid(input: &'static str, value: &[u8], reason: &'static str) -> Self {
        let mut value = String::from_utf8_lossy(value).into_owned();
        if value.len() > 80 {
            let mut cut = 77;
            while !value.is_char_boundary(cut) {
                cut -= 1;
            }
            value.truncate(cut);
            value.push_str("...");
        }
        Error::InvalidInput {
            input,
            value,
            reason,
        }
    }

    /// Builds the error of a failed call from its arguments (formatted into the
    /// inline record: nothing is allocated). Pure: it asks the kernel nothing; an
    /// `EOPNOTSUPP` means "the kernel lacks the operation" only where the caller
    /// found so ([`Error::from_errno_probed`]).
    #[cold]
    pub(crate) fn from_errno(
        op: Op,
        key: KeySerial,
        errno: Errno,
        args: fmt::Arguments<'_>,
    ) -> Self {
        Error::build(Call::new(op, args), key, errno, false)
    }

    /// [`Error::from_errno`] for an operation a kernel may lack: an `EOPNOTSUPP`
    /// is checked against `KEYCTL_CAPABILITIES` (probed once per process, cached,
    /// here where the error is raised) before the error is built.
    #[cold]
    pub(crate) fn from_errno_probed(
        op: Op,
        key: KeySerial,
        errno: Errno,
        args: fmt::Arguments<'_>,
    ) -> Self {
        let missing = errno == Errno::OPNOTSUPP
            && op.capability(&Capabilities::default()).is_some()
            && op_missing_with(op, crate::keyctl::caps::cached_capabilities());
        Error::build(Call::new(op, args), key, errno, missing)
    }

    fn build(call: Call, key: KeySerial, errno: Errno, op_missing: bool) -> Self {
        let op = call.op();
        match errno {
            Errno::NOKEY => Error::KeyNotFound { call, key },
            Errno::KEYEXPIRED => Error::KeyExpired { call, key },
            Errno::KEYREVOKED => Error::KeyRevoked { call, key },
            Errno::DQUOT => Error::QuotaExceeded { call, key },
            Errno::ACCESS => Error::PermissionDenied { call, key },
            Errno::NOSYS => Error::Unsupported {
                call,
                feature: "the kernel key retention service (CONFIG_KEYS)",
                min_kernel: "2.6.10",
                errno,
            },
            Errno::OPNOTSUPP if op == Op::Read => Error::NotReadable { call, key },
            Errno::OPNOTSUPP if op == Op::Capabilities => Error::Unsupported {
                call,
                feature: "KEYCTL_CAPABILITIES",
                min_kernel: op.min_kernel(),
                errno,
            },
            Errno::OPNOTSUPP if op_missing => Error::Unsupported {
                call,
                feature: op.c_name(),
                min_kernel: op.min_kernel(),
                errno,
            },
            errno => Error::Os { call, key, errno },
        }
    }

    /// The error of a call naming a key type the kernel does not know (`ENODEV`).
    #[cold]
    pub(crate) fn from_errno_typed(
        op: Op,
        key: KeySerial,
        key_type: &[u8],
        errno: Errno,
        args: fmt::Arguments<'_>,
    ) -> Self {
        if errno == Errno::NODEV {
            return Error::UnknownKeyType {
                call: Call::new(op, args),
                key_type: String::from_utf8_lossy(key_type).into_owned(),
            };
        }
        Error::from_errno(op, key, errno, args)
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::KeyNotFound { .. } => ErrorKind::KeyNotFound,
            Error::KeyExpired { .. } => ErrorKind::KeyExpired,
            Error::KeyRevoked { .. } => ErrorKind::KeyRevoked,
            Error::QuotaExceeded { .. } => ErrorKind::QuotaExceeded,
            Error::PermissionDenied { .. } => ErrorKind::PermissionDenied,
            Error::NotReadable { .. } => ErrorKind::NotReadable,
            Error::UnknownKeyType { .. } | Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::InvalidInput { .. } => ErrorKind::InvalidArgument,
            Error::Os { .. } => ErrorKind::Os,
        }
    }

    /// The errno of a failed system call; `None` for a refused argument.
    pub fn raw_os_error(&self) -> Option<i32> {
        self.errno().map(Errno::raw_os_error)
    }

    /// The errno of a failed system call, as an [`Errno`].
    pub fn errno(&self) -> Option<Errno> {
        Some(match self {
            Error::KeyNotFound { .. } => Errno::NOKEY,
            Error::KeyExpired { .. } => Errno::KEYEXPIRED,
            Error::KeyRevoked { .. } => Errno::KEYREVOKED,
            Error::QuotaExceeded { .. } => Errno::DQUOT,
            Error::PermissionDenied { .. } => Errno::ACCESS,
            Error::NotReadable { .. } => Errno::OPNOTSUPP,
            Error::UnknownKeyType { .. } => Errno::NODEV,
            Error::Unsupported { errno, .. } | Error::Os { errno, .. } => *errno,
            Error::InvalidInput { .. } => return None,
        })
    }

    /// The failed call, `None` for a refused argument.
    pub fn call(&self) -> Option<&Call> {
        match self {
            Error::KeyNotFound { call, .. }
            | Error::KeyExpired { call, .. }
            | Error::KeyRevoked { call, .. }
            | Error::QuotaExceeded { call, .. }
            | Error::PermissionDenied { call, .. }
            | Error::NotReadable { call, .. }
            | Error::UnknownKeyType { call, .. }
            | Error::Unsupported { call, .. }
            | Error::Os { call, .. } => Some(call),
            Error::InvalidInput { .. } => None,
        }
    }

    /// The serial of the key the failed call was about, when there is one.
    pub fn key(&self) -> Option<KeySerial> {
        match self {
            Error::KeyNotFound { key, .. }
            | Error::KeyExpired { key, .. }
            | Error::KeyRevoked { key, .. }
            | Error::QuotaExceeded { key, .. }
            | Error::PermissionDenied { key, .. }
            | Error::NotReadable { key, .. }
            | Error::Os { key, .. } => Some(*key),
            _ => None,
        }
    }
}

/// Whether an `EOPNOTSUPP` from `op` means the kernel lacks the operation (rather
/// than, say, a keyring restriction refusing a link), given the kernel's
/// capabilities (`None`: a kernel before 5.3).
fn op_missing_with(op: Op, caps: Option<crate::Capabilities>) -> bool {
    match caps {
        Some(caps) => op.capability(&caps) == Some(false),
        // No KEYCTL_CAPABILITIES: a kernel before 5.3, which lacks KEYCTL_MOVE if
        // it predates 5.1 and persistent keyrings if configured out; the other
        // optional operations are older than any kernel this crate supports.
        None => matches!(op, Op::Move | Op::GetPersistent),
    }
}

impl From<Error> for io::Error {
    /// A system call failure becomes `io::Error::from_raw_os_error` (the errno is
    /// kept; the call's arguments are lost, keep the [`Error`] to show them); a
    /// refused argument becomes `InvalidInput` carrying the error.
    fn from(err: Error) -> io::Error {
        match err.raw_os_error() {
            Some(errno) => io::Error::from_raw_os_error(errno),
            None => io::Error::new(io::ErrorKind::InvalidInput, err),
        }
    }
}

/// The failure of [`join_session_keyring_in_child`](crate::join_session_keyring_in_child)
/// and [`SessionPlan::join_in_child`](crate::SessionPlan::join_in_child): which step
/// failed and its errno. `Copy` and allocation-free, so a child between `clone` and
/// `execve` can return it (and send its two numbers to the parent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildError {
    /// The step that failed.
    pub op: Op,
    /// The key or keyring of that step.
    pub key: KeySerial,
    /// The errno.
    pub errno: Errno,
}

impl ChildError {
    /// The full [`Error`] (to be built in the parent, or after `execve`).
    pub fn into_error(self) -> Error {
        let ChildError { op, key, errno } = self;
        match op {
            Op::JoinSessionKeyring => Error::from_errno(op, key, errno, format_args!("<name>")),
            Op::Setperm => Error::from_errno(op, key, errno, format_args!("{key}, <permissions>")),
            _ => Error::from_errno(
                op,
                key,
                errno,
                format_args!("{key}, KEY_SPEC_SESSION_KEYRING"),
            ),
        }
    }
}

impl fmt::Display for ChildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} on {} in the child: {}",
            self.op,
            self.key,
            shown(self.errno)
        )
    }
}

impl std::error::Error for ChildError {}

impl From<ChildError> for Error {
    fn from(err: ChildError) -> Error {
        err.into_error()
    }
}

/// The errno shown the family's way: `Key has been revoked (EKEYREVOKED)`.
pub(crate) fn shown(errno: Errno) -> linception_errno::Errno {
    linception_errno::Errno(errno.raw_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(op: Op, errno: Errno) -> Error {
        Error::from_errno_probed(op, KeySerial::from_raw(42), errno, format_args!("42"))
    }

    /// ENOSYS (no CONFIG_KEYS) is `Unsupported`, whatever the operation.
    #[test]
    fn enosys_is_unsupported() {
        let e = err(Op::Read, Errno::NOSYS);
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert_eq!(e.raw_os_error(), Some(libc::ENOSYS));
        assert_eq!(
            e.to_string(),
            "keyctl(KEYCTL_READ, 42): Function not implemented (ENOSYS): \
             the kernel key retention service (CONFIG_KEYS) needs Linux 2.6.10"
        );
    }

    /// EOPNOTSUPP means "missing operation" only when the kernel says it lacks it:
    /// forced here with made-up capability sets (an old kernel, a kernel without
    /// persistent keyrings), since this kernel has everything.
    #[test]
    fn eopnotsupp_follows_the_capabilities() {
        let all = Capabilities::from_bytes(&[0xff, 0x03]);
        let no_persistent = Capabilities::from_bytes(&[0xfd, 0x03]);
        assert!(
            !op_missing_with(Op::Move, Some(all)),
            "a restriction refusing a move"
        );
        assert!(op_missing_with(Op::GetPersistent, Some(no_persistent)));
        assert!(!op_missing_with(Op::Link, Some(no_persistent)));
        assert!(
            op_missing_with(Op::Move, None),
            "before 5.3 a refusal may be a missing op"
        );
        assert!(!op_missing_with(Op::Link, None));
        // Read and capabilities have their own meanings.
        assert_eq!(
            err(Op::Read, Errno::OPNOTSUPP).kind(),
            ErrorKind::NotReadable
        );
        let caps = err(Op::Capabilities, Errno::OPNOTSUPP);
        assert!(matches!(
            caps,
            Error::Unsupported {
                feature: "KEYCTL_CAPABILITIES",
                min_kernel: "5.3",
                ..
            }
        ));
    }

    #[test]
    fn displays_exactly_like_the_shared_syscall_error() {
        for errno in [Errno::NOKEY, Errno::KEYREVOKED, Errno::ACCESS, Errno::PERM] {
            let ours = err(Op::Read, errno);
            let shared = linception_errno::SyscallError::new(
                linception_errno::Call::new("keyctl", format_args!("KEYCTL_READ, 42")),
                errno.raw_os_error(),
            );
            assert_eq!(ours.to_string(), shared.to_string());
            assert_eq!(ours.call().unwrap().as_call(), shared.call());
            assert_eq!(ours.call().unwrap().args(), "42");
        }
    }

    #[test]
    fn named_errnos_carry_the_key() {
        for (errno, kind) in [
            (Errno::NOKEY, ErrorKind::KeyNotFound),
            (Errno::KEYEXPIRED, ErrorKind::KeyExpired),
            (Errno::KEYREVOKED, ErrorKind::KeyRevoked),
            (Errno::DQUOT, ErrorKind::QuotaExceeded),
            (Errno::ACCESS, ErrorKind::PermissionDenied),
        ] {
            let e = err(Op::Link, errno);
            assert_eq!(
                (e.kind(), e.key(), e.errno()),
                (kind, Some(KeySerial::from_raw(42)), Some(errno))
            );
            let io: io::Error = e.into();
            assert_eq!(io.raw_os_error(), Some(errno.raw_os_error()));
        }
        let e = err(Op::Link, Errno::from_raw_os_error(4000));
        assert!(e.to_string().ends_with("(errno 4000)"), "{e}");
    }
}
