//! The error vocabulary shared by the linception crates: the symbolic name of
//! every Linux errno, an errno shown the kernel's way, and the record of a failed
//! system call kept inline, so that a failure between `clone` and `execve`
//! allocates nothing.
//!
//! It holds no kernel feature: it is to the linception crates what a constants
//! crate is to a syscall crate, so that every crate of the family names errnos and
//! failed calls the same way while each still stands alone.
//!
//! ```
//! use linception_errno::{Call, Errno, SyscallError};
//!
//! assert_eq!(linception_errno::name(libc::EPERM), Some("EPERM"));
//! assert_eq!(Errno(libc::ENOENT).to_string(), "No such file or directory (ENOENT)");
//! let err = SyscallError::new(Call::new("fsopen", format_args!("\"tmpfs\", 0")), libc::EPERM);
//! assert_eq!(err.to_string(), "fsopen(\"tmpfs\", 0): Operation not permitted (EPERM)");
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::fmt::{self, Write as _};
use std::io;

/// The symbolic name of a Linux errno (`"EPERM"` for 1), for every errno the
/// kernel defines; `None` for numbers it does not.
pub fn name(errno: i32) -> Option<&'static str> {
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

/// An errno shown the kernel's way: `Operation not permitted (EPERM)`, or
/// `Unknown error 4000 (errno 4000)` for a number without a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    /// The errno of an `io::Error`, if it has one.
    pub fn of(err: &io::Error) -> Option<Errno> {
        err.raw_os_error().map(Errno)
    }

    /// The symbolic name (`"EPERM"`), see [`name`].
    pub fn name(self) -> Option<&'static str> {
        name(self.0)
    }

    /// The errno as an `io::Error` (no allocation).
    pub fn into_io(self) -> io::Error {
        io::Error::from_raw_os_error(self.0)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // std's text is "Operation not permitted (os error 1)": keep the words, put
        // the errno's name where the number was.
        let text = io::Error::from_raw_os_error(self.0).to_string();
        let words = text.split(" (os error").next().unwrap_or(&text);
        match name(self.0) {
            Some(n) => write!(f, "{words} ({n})"),
            None => write!(f, "{words} (errno {})", self.0),
        }
    }
}

/// Shows an `io::Error` with its errno's name when it has one, else as it is.
pub struct IoErrno<'a>(pub &'a io::Error);

impl fmt::Display for IoErrno<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Errno::of(self.0) {
            Some(e) => e.fmt(f),
            None => self.0.fmt(f),
        }
    }
}

/// A failed system call as the C call would be written, `op(args)`, kept in an
/// inline buffer: recording one allocates nothing. Arguments longer than the
/// buffer are cut (ending in `...`).
#[derive(Clone, PartialEq, Eq)]
pub struct Call {
    op: &'static str,
    len: u8,
    args: [u8; Call::CAPACITY],
}

impl Call {
    /// How many bytes of arguments a record keeps.
    pub const CAPACITY: usize = 120;

    /// Records `op(args)`; `args` is formatted now, into the inline buffer.
    pub fn new(op: &'static str, args: fmt::Arguments<'_>) -> Call {
        let mut call = Call {
            op,
            len: 0,
            args: [0; Call::CAPACITY],
        };
        // A full buffer only truncates; the writer fails in no other way.
        let _ = call.write_fmt(args);
        call
    }

    /// A call recorded by name alone, `op()`.
    pub const fn bare(op: &'static str) -> Call {
        Call {
            op,
            len: 0,
            args: [0; Call::CAPACITY],
        }
    }

    /// The system call's name (`"fsconfig"`, `"move_mount"`...).
    pub fn op(&self) -> &'static str {
        self.op
    }

    /// The formatted arguments, as they stand between the parentheses.
    pub fn args(&self) -> &str {
        // Only whole UTF-8 characters are ever copied in (see write_str).
        std::str::from_utf8(&self.args[..usize::from(self.len)]).unwrap_or("")
    }
}

impl fmt::Write for Call {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        const ELLIPSIS: &str = "...";
        let len = usize::from(self.len);
        let room = Call::CAPACITY - len;
        if s.len() <= room {
            self.args[len..len + s.len()].copy_from_slice(s.as_bytes());
            self.len += s.len() as u8;
            return Ok(());
        }
        if room <= ELLIPSIS.len() {
            return Err(fmt::Error);
        }
        let mut cut = room - ELLIPSIS.len();
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        self.args[len..len + cut].copy_from_slice(&s.as_bytes()[..cut]);
        self.args[len + cut..len + cut + ELLIPSIS.len()].copy_from_slice(ELLIPSIS.as_bytes());
        self.len = (len + cut + ELLIPSIS.len()) as u8;
        Err(fmt::Error)
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.op, self.args())
    }
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A system call that failed: the [`Call`] and its errno. Displays like
/// `move_mount(fd 7, "", AT_FDCWD, "/mnt", F_EMPTY_PATH): Operation not permitted (EPERM)`;
/// its `source()` is the errno as an `io::Error`. Building one allocates nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct SyscallError {
    call: Call,
    errno: i32,
}

impl SyscallError {
    /// The record of `call` failing with `errno`.
    pub fn new(call: Call, errno: i32) -> SyscallError {
        SyscallError { call, errno }
    }

    /// The call that failed.
    pub fn call(&self) -> &Call {
        &self.call
    }

    /// The errno it failed with.
    pub fn errno(&self) -> Errno {
        Errno(self.errno)
    }

    /// The errno as a number.
    pub fn raw_os_error(&self) -> i32 {
        self.errno
    }

    /// The errno as an `io::Error` (keeps `raw_os_error()`).
    pub fn io_error(&self) -> io::Error {
        io::Error::from_raw_os_error(self.errno)
    }
}

impl fmt::Display for SyscallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.call, Errno(self.errno))
    }
}

impl fmt::Debug for SyscallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for SyscallError {}

impl From<SyscallError> for io::Error {
    fn from(e: SyscallError) -> io::Error {
        io::Error::from_raw_os_error(e.errno)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn names_cover_every_linux_errno() {
        for &(errno, n) in LIBC_ERRNOS {
            assert_eq!(name(errno), Some(n), "errno {errno}");
        }
        for n in 1..=133 {
            let defined = LIBC_ERRNOS.iter().any(|&(e, _)| e == n);
            assert_eq!(name(n).is_some(), defined, "errno {n}");
        }
        let unused: Vec<i32> = (1..=133).filter(|n| name(*n).is_none()).collect();
        assert_eq!(unused, [41, 58]);
        assert_eq!(name(0), None);
        assert_eq!(name(libc::EREMOTE), Some("EREMOTE"));
    }

    #[test]
    fn errnos_display_the_kernel_way() {
        assert_eq!(
            Errno(libc::EPERM).to_string(),
            "Operation not permitted (EPERM)"
        );
        assert_eq!(Errno(4000).to_string(), "Unknown error 4000 (errno 4000)");
        let io = io::Error::from_raw_os_error(libc::EREMOTE);
        assert_eq!(IoErrno(&io).to_string(), "Object is remote (EREMOTE)");
        let other = io::Error::other("no errno");
        assert_eq!(IoErrno(&other).to_string(), "no errno");
    }

    #[test]
    fn calls_are_recorded_inline_and_cut_when_long() {
        let c = Call::new(
            "open_tree",
            format_args!("AT_FDCWD, {:?}, 0x{:x}", "/usr", 1),
        );
        assert_eq!(c.to_string(), "open_tree(AT_FDCWD, \"/usr\", 0x1)");
        assert_eq!(c.op(), "open_tree");
        let long = "é".repeat(100);
        let c = Call::new("mkdir", format_args!("{long}"));
        assert!(c.args().ends_with("..."), "{c}");
        assert!(c.args().len() <= Call::CAPACITY);
        assert_eq!(Call::bare("fork").to_string(), "fork()");
    }

    #[test]
    fn syscall_errors_keep_the_errno() {
        let e = SyscallError::new(Call::new("fsopen", format_args!("\"x\"")), libc::ENODEV);
        assert_eq!(e.to_string(), "fsopen(\"x\"): No such device (ENODEV)");
        assert_eq!(e.raw_os_error(), libc::ENODEV);
        let io: io::Error = e.clone().into();
        assert_eq!(io.raw_os_error(), Some(libc::ENODEV));
        assert_eq!(e.errno().name(), Some("ENODEV"));
    }
}
