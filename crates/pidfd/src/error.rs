//! The crate's error type.
#![forbid(unsafe_code)]

use std::fmt;
use std::io;

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
        /// The call as written in C, with its arguments.
        call: String,
        /// The errno.
        source: io::Error,
    },
    /// The process has exited and been reaped: the pidfd still refers to it, but it
    /// can no longer be signalled or inspected (`ESRCH`). Never another process.
    #[error("{call}: the process is gone (exited and reaped): {}", Errno(source))]
    ProcessGone {
        /// The call as written in C, with its arguments.
        call: String,
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
        /// The call as written in C, with its arguments.
        call: String,
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
        /// The call as written in C, with its arguments.
        call: String,
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
    /// evaluated on failure, so the success path does not allocate.
    pub(crate) fn from_errno(
        errno: i32,
        call: impl FnOnce() -> String,
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

/// Displays an `io::Error` as `strerror (ENAME)`.
struct Errno<'a>(&'a io::Error);

impl fmt::Display for Errno<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.raw_os_error() {
            Some(errno) => {
                let text = io::Error::from_raw_os_error(errno).to_string();
                // std appends " (os error N)"; replace it with the errno's name.
                let text = text.split(" (os error").next().unwrap_or(&text);
                match errno_name(errno) {
                    Some(name) => write!(f, "{text} ({name})"),
                    None => write!(f, "{text} (errno {errno})"),
                }
            }
            None => write!(f, "{}", self.0),
        }
    }
}

/// The symbolic name of every errno Linux defines (1..=133; 41 and 58 are unused
/// numbers). Aliases (`EWOULDBLOCK`, `EDEADLOCK`, `ENOTSUP`) share their number with
/// the name given here.
pub(crate) fn errno_name(errno: i32) -> Option<&'static str> {
    Some(match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::ENOEXEC => "ENOEXEC",
        libc::EBADF => "EBADF",
        libc::ECHILD => "ECHILD",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::ENOTBLK => "ENOTBLK",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOTTY => "ENOTTY",
        libc::ETXTBSY => "ETXTBSY",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::ESPIPE => "ESPIPE",
        libc::EROFS => "EROFS",
        libc::EMLINK => "EMLINK",
        libc::EPIPE => "EPIPE",
        libc::EDOM => "EDOM",
        libc::ERANGE => "ERANGE",
        libc::EDEADLK => "EDEADLK",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ENOLCK => "ENOLCK",
        libc::ENOSYS => "ENOSYS",
        libc::ENOTEMPTY => "ENOTEMPTY",
        libc::ELOOP => "ELOOP",
        libc::ENOMSG => "ENOMSG",
        libc::EIDRM => "EIDRM",
        libc::ECHRNG => "ECHRNG",
        libc::EL2NSYNC => "EL2NSYNC",
        libc::EL3HLT => "EL3HLT",
        libc::EL3RST => "EL3RST",
        libc::ELNRNG => "ELNRNG",
        libc::EUNATCH => "EUNATCH",
        libc::ENOCSI => "ENOCSI",
        libc::EL2HLT => "EL2HLT",
        libc::EBADE => "EBADE",
        libc::EBADR => "EBADR",
        libc::EXFULL => "EXFULL",
        libc::ENOANO => "ENOANO",
        libc::EBADRQC => "EBADRQC",
        libc::EBADSLT => "EBADSLT",
        libc::EBFONT => "EBFONT",
        libc::ENOSTR => "ENOSTR",
        libc::ENODATA => "ENODATA",
        libc::ETIME => "ETIME",
        libc::ENOSR => "ENOSR",
        libc::ENONET => "ENONET",
        libc::ENOPKG => "ENOPKG",
        libc::EREMOTE => "EREMOTE",
        libc::ENOLINK => "ENOLINK",
        libc::EADV => "EADV",
        libc::ESRMNT => "ESRMNT",
        libc::ECOMM => "ECOMM",
        libc::EPROTO => "EPROTO",
        libc::EMULTIHOP => "EMULTIHOP",
        libc::EDOTDOT => "EDOTDOT",
        libc::EBADMSG => "EBADMSG",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::ENOTUNIQ => "ENOTUNIQ",
        libc::EBADFD => "EBADFD",
        libc::EREMCHG => "EREMCHG",
        libc::ELIBACC => "ELIBACC",
        libc::ELIBBAD => "ELIBBAD",
        libc::ELIBSCN => "ELIBSCN",
        libc::ELIBMAX => "ELIBMAX",
        libc::ELIBEXEC => "ELIBEXEC",
        libc::EILSEQ => "EILSEQ",
        libc::ERESTART => "ERESTART",
        libc::ESTRPIPE => "ESTRPIPE",
        libc::EUSERS => "EUSERS",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EDESTADDRREQ => "EDESTADDRREQ",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::EPROTOTYPE => "EPROTOTYPE",
        libc::ENOPROTOOPT => "ENOPROTOOPT",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::ESOCKTNOSUPPORT => "ESOCKTNOSUPPORT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EPFNOSUPPORT => "EPFNOSUPPORT",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENETDOWN => "ENETDOWN",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ENETRESET => "ENETRESET",
        libc::ECONNABORTED => "ECONNABORTED",
        libc::ECONNRESET => "ECONNRESET",
        libc::ENOBUFS => "ENOBUFS",
        libc::EISCONN => "EISCONN",
        libc::ENOTCONN => "ENOTCONN",
        libc::ESHUTDOWN => "ESHUTDOWN",
        libc::ETOOMANYREFS => "ETOOMANYREFS",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EHOSTDOWN => "EHOSTDOWN",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::EALREADY => "EALREADY",
        libc::EINPROGRESS => "EINPROGRESS",
        libc::ESTALE => "ESTALE",
        libc::EUCLEAN => "EUCLEAN",
        libc::ENOTNAM => "ENOTNAM",
        libc::ENAVAIL => "ENAVAIL",
        libc::EISNAM => "EISNAM",
        libc::EREMOTEIO => "EREMOTEIO",
        libc::EDQUOT => "EDQUOT",
        libc::ENOMEDIUM => "ENOMEDIUM",
        libc::EMEDIUMTYPE => "EMEDIUMTYPE",
        libc::ECANCELED => "ECANCELED",
        libc::ENOKEY => "ENOKEY",
        libc::EKEYEXPIRED => "EKEYEXPIRED",
        libc::EKEYREVOKED => "EKEYREVOKED",
        libc::EKEYREJECTED => "EKEYREJECTED",
        libc::EOWNERDEAD => "EOWNERDEAD",
        libc::ENOTRECOVERABLE => "ENOTRECOVERABLE",
        libc::ERFKILL => "ERFKILL",
        libc::EHWPOISON => "EHWPOISON",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_error_displays_like_the_call() {
        let e = Error::from_errno(
            libc::EINVAL,
            || "pidfd_open(12, 0)".into(),
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

    /// Every errno number Linux defines, by its libc constant, with the name the
    /// table must give it (aliases map to the canonical name).
    const LIBC_ERRNOS: &[(i32, &str)] = &[
        (libc::EPERM, "EPERM"),
        (libc::ENOENT, "ENOENT"),
        (libc::ESRCH, "ESRCH"),
        (libc::EINTR, "EINTR"),
        (libc::EIO, "EIO"),
        (libc::ENXIO, "ENXIO"),
        (libc::E2BIG, "E2BIG"),
        (libc::ENOEXEC, "ENOEXEC"),
        (libc::EBADF, "EBADF"),
        (libc::ECHILD, "ECHILD"),
        (libc::EAGAIN, "EAGAIN"),
        (libc::EWOULDBLOCK, "EAGAIN"),
        (libc::ENOMEM, "ENOMEM"),
        (libc::EACCES, "EACCES"),
        (libc::EFAULT, "EFAULT"),
        (libc::ENOTBLK, "ENOTBLK"),
        (libc::EBUSY, "EBUSY"),
        (libc::EEXIST, "EEXIST"),
        (libc::EXDEV, "EXDEV"),
        (libc::ENODEV, "ENODEV"),
        (libc::ENOTDIR, "ENOTDIR"),
        (libc::EISDIR, "EISDIR"),
        (libc::EINVAL, "EINVAL"),
        (libc::ENFILE, "ENFILE"),
        (libc::EMFILE, "EMFILE"),
        (libc::ENOTTY, "ENOTTY"),
        (libc::ETXTBSY, "ETXTBSY"),
        (libc::EFBIG, "EFBIG"),
        (libc::ENOSPC, "ENOSPC"),
        (libc::ESPIPE, "ESPIPE"),
        (libc::EROFS, "EROFS"),
        (libc::EMLINK, "EMLINK"),
        (libc::EPIPE, "EPIPE"),
        (libc::EDOM, "EDOM"),
        (libc::ERANGE, "ERANGE"),
        (libc::EDEADLK, "EDEADLK"),
        (libc::EDEADLOCK, "EDEADLK"),
        (libc::ENAMETOOLONG, "ENAMETOOLONG"),
        (libc::ENOLCK, "ENOLCK"),
        (libc::ENOSYS, "ENOSYS"),
        (libc::ENOTEMPTY, "ENOTEMPTY"),
        (libc::ELOOP, "ELOOP"),
        (libc::ENOMSG, "ENOMSG"),
        (libc::EIDRM, "EIDRM"),
        (libc::ECHRNG, "ECHRNG"),
        (libc::EL2NSYNC, "EL2NSYNC"),
        (libc::EL3HLT, "EL3HLT"),
        (libc::EL3RST, "EL3RST"),
        (libc::ELNRNG, "ELNRNG"),
        (libc::EUNATCH, "EUNATCH"),
        (libc::ENOCSI, "ENOCSI"),
        (libc::EL2HLT, "EL2HLT"),
        (libc::EBADE, "EBADE"),
        (libc::EBADR, "EBADR"),
        (libc::EXFULL, "EXFULL"),
        (libc::ENOANO, "ENOANO"),
        (libc::EBADRQC, "EBADRQC"),
        (libc::EBADSLT, "EBADSLT"),
        (libc::EBFONT, "EBFONT"),
        (libc::ENOSTR, "ENOSTR"),
        (libc::ENODATA, "ENODATA"),
        (libc::ETIME, "ETIME"),
        (libc::ENOSR, "ENOSR"),
        (libc::ENONET, "ENONET"),
        (libc::ENOPKG, "ENOPKG"),
        (libc::EREMOTE, "EREMOTE"),
        (libc::ENOLINK, "ENOLINK"),
        (libc::EADV, "EADV"),
        (libc::ESRMNT, "ESRMNT"),
        (libc::ECOMM, "ECOMM"),
        (libc::EPROTO, "EPROTO"),
        (libc::EMULTIHOP, "EMULTIHOP"),
        (libc::EDOTDOT, "EDOTDOT"),
        (libc::EBADMSG, "EBADMSG"),
        (libc::EOVERFLOW, "EOVERFLOW"),
        (libc::ENOTUNIQ, "ENOTUNIQ"),
        (libc::EBADFD, "EBADFD"),
        (libc::EREMCHG, "EREMCHG"),
        (libc::ELIBACC, "ELIBACC"),
        (libc::ELIBBAD, "ELIBBAD"),
        (libc::ELIBSCN, "ELIBSCN"),
        (libc::ELIBMAX, "ELIBMAX"),
        (libc::ELIBEXEC, "ELIBEXEC"),
        (libc::EILSEQ, "EILSEQ"),
        (libc::ERESTART, "ERESTART"),
        (libc::ESTRPIPE, "ESTRPIPE"),
        (libc::EUSERS, "EUSERS"),
        (libc::ENOTSOCK, "ENOTSOCK"),
        (libc::EDESTADDRREQ, "EDESTADDRREQ"),
        (libc::EMSGSIZE, "EMSGSIZE"),
        (libc::EPROTOTYPE, "EPROTOTYPE"),
        (libc::ENOPROTOOPT, "ENOPROTOOPT"),
        (libc::EPROTONOSUPPORT, "EPROTONOSUPPORT"),
        (libc::ESOCKTNOSUPPORT, "ESOCKTNOSUPPORT"),
        (libc::EOPNOTSUPP, "EOPNOTSUPP"),
        (libc::ENOTSUP, "EOPNOTSUPP"),
        (libc::EPFNOSUPPORT, "EPFNOSUPPORT"),
        (libc::EAFNOSUPPORT, "EAFNOSUPPORT"),
        (libc::EADDRINUSE, "EADDRINUSE"),
        (libc::EADDRNOTAVAIL, "EADDRNOTAVAIL"),
        (libc::ENETDOWN, "ENETDOWN"),
        (libc::ENETUNREACH, "ENETUNREACH"),
        (libc::ENETRESET, "ENETRESET"),
        (libc::ECONNABORTED, "ECONNABORTED"),
        (libc::ECONNRESET, "ECONNRESET"),
        (libc::ENOBUFS, "ENOBUFS"),
        (libc::EISCONN, "EISCONN"),
        (libc::ENOTCONN, "ENOTCONN"),
        (libc::ESHUTDOWN, "ESHUTDOWN"),
        (libc::ETOOMANYREFS, "ETOOMANYREFS"),
        (libc::ETIMEDOUT, "ETIMEDOUT"),
        (libc::ECONNREFUSED, "ECONNREFUSED"),
        (libc::EHOSTDOWN, "EHOSTDOWN"),
        (libc::EHOSTUNREACH, "EHOSTUNREACH"),
        (libc::EALREADY, "EALREADY"),
        (libc::EINPROGRESS, "EINPROGRESS"),
        (libc::ESTALE, "ESTALE"),
        (libc::EUCLEAN, "EUCLEAN"),
        (libc::ENOTNAM, "ENOTNAM"),
        (libc::ENAVAIL, "ENAVAIL"),
        (libc::EISNAM, "EISNAM"),
        (libc::EREMOTEIO, "EREMOTEIO"),
        (libc::EDQUOT, "EDQUOT"),
        (libc::ENOMEDIUM, "ENOMEDIUM"),
        (libc::EMEDIUMTYPE, "EMEDIUMTYPE"),
        (libc::ECANCELED, "ECANCELED"),
        (libc::ENOKEY, "ENOKEY"),
        (libc::EKEYEXPIRED, "EKEYEXPIRED"),
        (libc::EKEYREVOKED, "EKEYREVOKED"),
        (libc::EKEYREJECTED, "EKEYREJECTED"),
        (libc::EOWNERDEAD, "EOWNERDEAD"),
        (libc::ENOTRECOVERABLE, "ENOTRECOVERABLE"),
        (libc::ERFKILL, "ERFKILL"),
        (libc::EHWPOISON, "EHWPOISON"),
    ];

    #[test]
    fn errno_names_cover_every_linux_errno() {
        for &(errno, name) in LIBC_ERRNOS {
            assert_eq!(errno_name(errno), Some(name), "errno {errno}");
        }
        // Every number in 1..=133 that libc defines has a name, and only those.
        for n in 1..=133 {
            let defined = LIBC_ERRNOS.iter().any(|&(e, _)| e == n);
            assert_eq!(errno_name(n).is_some(), defined, "errno {n}");
        }
        // 41 and 58 are the only unused numbers in the range (EDEADLOCK is EDEADLK here).
        let unused: Vec<i32> = (1..=133).filter(|n| errno_name(*n).is_none()).collect();
        assert_eq!(unused, [41, 58]);
        assert_eq!(errno_name(0), None);
        assert_eq!(errno_name(134), None);
    }

    #[test]
    fn eremote_is_named_in_the_error_text() {
        let e = Error::from_errno(libc::EREMOTE, || "f(1)".into(), "f", "1.0");
        assert_eq!(e.to_string(), "f(1): Object is remote (EREMOTE)");
        let e = Error::from_errno(41, || "f(1)".into(), "f", "1.0");
        assert!(e.to_string().ends_with("(errno 41)"), "{e}");
    }

    #[test]
    fn zombie_and_invisible_errors_are_their_own_kinds() {
        let z = Error::Exited {
            call: "ioctl(fd 3, PIDFD_GET_NET_NAMESPACE, 0)".into(),
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
    fn esrch_and_enosys_get_their_own_variants() {
        let gone = Error::from_errno(libc::ESRCH, || "x".into(), "f", "1.0");
        assert!(gone.is_process_gone());
        assert_eq!(gone.kind(), ErrorKind::ProcessGone);
        assert!(gone.to_string().contains("(ESRCH)"), "{gone}");
        let unsup = Error::from_errno(libc::ENOSYS, || "x".into(), "clone3", "5.3");
        assert_eq!(unsup.kind(), ErrorKind::Unsupported);
        assert_eq!(
            unsup.to_string(),
            "clone3 is not supported by this kernel (needs Linux 5.3 or later)"
        );
    }
}
