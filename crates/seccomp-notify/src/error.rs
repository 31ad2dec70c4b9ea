//! The crate's error type.
#![forbid(unsafe_code)]

use std::io;

pub use linception_errno::Call;
use linception_errno::IoErrno;

use crate::arch::Arch;
use crate::sizes::NotifSizes;

/// What went wrong, in broad strokes; see [`Error::kind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A system call failed with an errno not covered by another kind.
    Os,
    /// The running kernel lacks the feature.
    Unsupported,
    /// The filter, a flag or an argument was refused before any syscall.
    InvalidArgument,
    /// The process may not do this (for example, no `no_new_privs` and no `CAP_SYS_ADMIN`).
    PermissionDenied,
    /// The notification is no longer valid: its caller died or its syscall was interrupted.
    NotificationGone,
    /// Every task using the filter has exited: the listener will deliver nothing more.
    Closed,
}

/// The error type of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed; displayed like the call with its arguments, then the
    /// errno: `ioctl(fd 5, SECCOMP_IOCTL_NOTIF_ID_VALID, 0x7): Bad file descriptor (EBADF)`.
    /// Building one allocates nothing (the call is recorded inline).
    #[error("{call}: {}", IoErrno(.source))]
    Syscall {
        /// The call as it was made, e.g. `ioctl(fd 5, SECCOMP_IOCTL_NOTIF_SEND, id 7)`.
        call: Call,
        /// The errno.
        source: io::Error,
    },
    /// The running kernel lacks a feature (`ENOSYS`, or an unknown flag or ioctl).
    #[error("{feature} is not supported by this kernel (needs Linux {min_kernel})")]
    Unsupported {
        /// The missing feature, named after the kernel's constant.
        feature: &'static str,
        /// The first kernel that has it.
        min_kernel: &'static str,
    },
    /// A syscall name that the architecture's table does not know.
    #[error("unknown syscall name {name:?} for {arch}")]
    UnknownSyscall {
        /// The name as given.
        name: String,
        /// The filter's architecture.
        arch: Arch,
    },
    /// A syscall number that cannot be filtered on this architecture.
    #[error("syscall number {nr} is not valid for {arch}: {reason}")]
    InvalidSyscallNumber {
        /// The number as given.
        nr: u32,
        /// The filter's architecture.
        arch: Arch,
        /// Why it is refused.
        reason: &'static str,
    },
    /// `SECCOMP_RET_USER_NOTIF` as the default action: every syscall of the filtered
    /// task, including those it needs to reach its supervisor, would wait for an answer.
    #[error(
        "the default action may not be USER_NOTIF: every syscall of the filtered task would wait for the supervisor (deadlock); notify on chosen syscalls instead"
    )]
    NotifyAsDefault,
    /// A filter with no rules and a notifying default action.
    #[error(
        "empty rule set with the USER_NOTIF default action: every syscall would wait for the supervisor"
    )]
    EmptyNotifyFilter,
    /// An errno outside `0..=4095` for `SECCOMP_RET_ERRNO`.
    #[error("errno {errno} is out of range for SECCOMP_RET_ERRNO (0..=4095)")]
    InvalidErrno {
        /// The errno as given.
        errno: i32,
    },
    /// A condition on an argument index other than 0..=5.
    #[error("argument index {index} is out of range (a syscall has arguments 0..=5)")]
    InvalidArgIndex {
        /// The index as given.
        index: u8,
    },
    /// The compiled program is longer than the kernel's `BPF_MAXINSNS` (4096).
    #[error(
        "the compiled filter has {len} instructions, more than BPF_MAXINSNS ({max}); split the rule set or use fewer conditions"
    )]
    ProgramTooLong {
        /// The length of the program.
        len: usize,
        /// The kernel's limit.
        max: usize,
    },
    /// A program that the in-crate interpreter cannot run (never produced by [`compile`](crate::compile)).
    #[error("invalid BPF program at instruction {pc}: {reason}")]
    InvalidProgram {
        /// The index of the offending instruction.
        pc: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Installing a filter needs `no_new_privs` or `CAP_SYS_ADMIN`, and the process has neither.
    #[error(
        "seccomp(SECCOMP_SET_MODE_FILTER): Permission denied (EACCES): the process has neither no_new_privs nor CAP_SYS_ADMIN; install with NoNewPrivs::Set"
    )]
    NoNewPrivs,
    /// A program containing `USER_NOTIF` installed without `SECCOMP_FILTER_FLAG_NEW_LISTENER`:
    /// every notifying syscall would fail with `ENOSYS`.
    #[error(
        "the filter notifies (USER_NOTIF) but SECCOMP_FILTER_FLAG_NEW_LISTENER is not set: no one could answer"
    )]
    NotifyWithoutListener,
    /// `SECCOMP_FILTER_FLAG_TSYNC` could not synchronize a thread.
    #[error(
        "seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC): thread {tid} could not be synchronized (it has a diverging filter)"
    )]
    TsyncFailed {
        /// The thread that could not take the filter (0 with `TSYNC_ESRCH`).
        tid: i32,
    },
    /// The notification is gone: its caller died or was interrupted (`ENOENT`).
    #[error(
        "seccomp notification {id:#x} is no longer valid: the caller died or its syscall was interrupted (ENOENT)"
    )]
    NotificationGone {
        /// The notification's id.
        id: u64,
    },
    /// Every task using the filter has exited (`POLLHUP` on the listener).
    #[error("the seccomp filter has no tasks left: the listener will deliver nothing more")]
    Closed,
    /// The caller is not visible in the supervisor's pid namespace (pid 0).
    #[error(
        "the caller of notification {id:#x} is not visible in this pid namespace (pid 0): its memory cannot be read"
    )]
    CallerNotVisible {
        /// The notification's id.
        id: u64,
    },
    /// A C string in the caller's memory had no NUL within the limit.
    #[error("no NUL byte within {max} bytes at address {addr:#x} of pid {pid}")]
    StringTooLong {
        /// The caller's pid.
        pid: u32,
        /// The address read.
        addr: u64,
        /// The limit.
        max: usize,
    },
    /// The kernel's notification structs (`SECCOMP_GET_NOTIF_SIZES`) are smaller
    /// than this crate's layouts, or larger than the listener's buffers.
    #[error(
        "the kernel's seccomp notification structs (seccomp_notif {}, seccomp_notif_resp {}, seccomp_data {} bytes) do not fit this crate's ({}, {}, {} bytes, buffers of {buffer})",
        kernel.seccomp_notif, kernel.seccomp_notif_resp, kernel.seccomp_data,
        ours.seccomp_notif, ours.seccomp_notif_resp, ours.seccomp_data
    )]
    NotifSizeMismatch {
        /// What the kernel reported.
        kernel: NotifSizes,
        /// This crate's layouts ([`NotifSizes::CRATE`]).
        ours: NotifSizes,
        /// The size of the listener's buffers, in bytes.
        buffer: usize,
    },
    /// A BPF program without instructions (the kernel refuses it with `EINVAL`).
    #[error("the BPF program is empty: seccomp needs at least one instruction (a RET)")]
    EmptyProgram,
    /// A message passing a file descriptor carried none.
    #[error("recvmsg(fd {fd}): the message carried no file descriptor (SCM_RIGHTS)")]
    NoFdReceived {
        /// The socket.
        fd: i32,
    },
}

impl Error {
    /// A syscall failure described by the call and its errno (no allocation).
    pub(crate) fn syscall(call: Call, errno: rustix::io::Errno) -> Self {
        Error::Syscall {
            call,
            source: io::Error::from_raw_os_error(errno.raw_os_error()),
        }
    }

    /// The broad class of the error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Syscall { source, .. } => match source.raw_os_error() {
                Some(libc::EPERM | libc::EACCES) => ErrorKind::PermissionDenied,
                Some(libc::EINVAL) => ErrorKind::InvalidArgument,
                _ => ErrorKind::Os,
            },
            Error::Unsupported { .. } | Error::NotifSizeMismatch { .. } => ErrorKind::Unsupported,
            Error::UnknownSyscall { .. }
            | Error::EmptyProgram
            | Error::InvalidSyscallNumber { .. }
            | Error::NotifyAsDefault
            | Error::EmptyNotifyFilter
            | Error::InvalidErrno { .. }
            | Error::InvalidArgIndex { .. }
            | Error::ProgramTooLong { .. }
            | Error::InvalidProgram { .. }
            | Error::NotifyWithoutListener
            | Error::StringTooLong { .. } => ErrorKind::InvalidArgument,
            Error::NoNewPrivs => ErrorKind::PermissionDenied,
            Error::TsyncFailed { .. } | Error::NoFdReceived { .. } => ErrorKind::Os,
            Error::NotificationGone { .. } | Error::CallerNotVisible { .. } => {
                ErrorKind::NotificationGone
            }
            Error::Closed => ErrorKind::Closed,
        }
    }

    /// The failed call of a [`Syscall`](Error::Syscall) error.
    pub fn call(&self) -> Option<&Call> {
        match self {
            Error::Syscall { call, .. } => Some(call),
            _ => None,
        }
    }

    /// The errno behind the error, if the kernel gave one (or the one the error stands for).
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Syscall { source, .. } => source.raw_os_error(),
            Error::Unsupported { .. } => Some(libc::ENOSYS),
            Error::NoNewPrivs => Some(libc::EACCES),
            Error::TsyncFailed { .. } => Some(libc::ESRCH),
            Error::NotificationGone { .. } => Some(libc::ENOENT),
            Error::CallerNotVisible { .. } => Some(libc::ESRCH),
            Error::ProgramTooLong { .. } | Error::EmptyProgram => Some(libc::EINVAL),
            Error::NoFdReceived { .. } => Some(libc::EBADMSG),
            _ => None,
        }
    }
}

impl From<Error> for io::Error {
    fn from(err: Error) -> Self {
        match err {
            Error::Syscall { source, .. } => source,
            other => match other.raw_os_error() {
                Some(errno) => io::Error::new(io::Error::from_raw_os_error(errno).kind(), other),
                None => io::Error::new(io::ErrorKind::InvalidInput, other),
            },
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_errors_display_like_the_shared_record() {
        let call = Call::new(
            "ioctl",
            format_args!("fd 5, SECCOMP_IOCTL_NOTIF_ID_VALID, {:#x}", 7),
        );
        let err = Error::syscall(call.clone(), rustix::io::Errno::BADF);
        assert_eq!(
            err.to_string(),
            "ioctl(fd 5, SECCOMP_IOCTL_NOTIF_ID_VALID, 0x7): Bad file descriptor (EBADF)"
        );
        assert_eq!(
            err.to_string(),
            linception_errno::SyscallError::new(call, libc::EBADF).to_string()
        );
        assert_eq!(err.call().map(Call::op), Some("ioctl"));
        assert_eq!(err.kind(), ErrorKind::Os);
        assert_eq!(err.raw_os_error(), Some(libc::EBADF));
        let io: io::Error = err.into();
        assert_eq!(io.raw_os_error(), Some(libc::EBADF));
        let denied = Error::syscall(Call::bare("seccomp"), rustix::io::Errno::PERM);
        assert_eq!(denied.kind(), ErrorKind::PermissionDenied);
        assert_eq!(
            denied.to_string(),
            "seccomp(): Operation not permitted (EPERM)"
        );
    }
}
