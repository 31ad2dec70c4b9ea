//! `Handle`: an `O_PATH` fd to a resolved path, re-openable through procfs.
#![forbid(unsafe_code)]

use std::fmt;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;

use rustix::fs::{Mode, OFlags, Stat};

// `Mode` here is rustix's: these calls create nothing.
use rustix::io::Errno;

use crate::error::{Call, Error, Result};
use crate::flags::{OFlagsDisplay, VALID_OFLAGS};
use crate::how::{OpenHow, refusal};

/// An `O_PATH` file descriptor for a path resolved inside a [`Root`](crate::Root)
/// (see [`Root::resolve`](crate::Root::resolve)).
///
/// An `O_PATH` fd names a file without opening it for I/O; it can be passed to
/// `*at()` calls or [`reopen`](Handle::reopen)ed with real access flags, which goes
/// through the fd and never through a path, so a concurrent rename or symlink swap
/// cannot change what is opened.
///
/// # Examples
///
/// ```
/// use linception_openat2::{Root, OFlags};
///
/// let root = Root::new("/")?;
/// let handle = root.resolve("etc/hostname").or_else(|_| root.resolve("proc/self/status"))?;
/// let file = handle.reopen(OFlags::RDONLY)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Handle(OwnedFd);

impl Handle {
    /// Opens the file this handle names, with `flags` (`O_CLOEXEC` always added,
    /// `O_NOFOLLOW` ignored: the handle is already the file). Goes through the
    /// handle's `/proc/thread-self/fd/N` magic link, opened from a procfs root that
    /// was checked to be a real procfs (`PROC_SUPER_MAGIC`, root inode); the result
    /// is then checked to be the same inode (device and inode numbers).
    ///
    /// Like `std::fs::OpenOptions::open`, but by fd rather than by path.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidArgument`]: `O_CREAT`, `O_EXCL` or `O_TMPFILE` (nothing is
    ///   created here), unknown flag bits, or a combination `openat2` refuses
    ///   (`O_PATH` with `O_RDWR`...), rather than dropping the flags silently.
    /// - [`Error::Syscall`]: the open failed (`EACCES`, `ELOOP` for a handle to a
    ///   symlink, `EISDIR`, ...), or procfs is not mounted at `/proc`.
    /// - [`Error::SafetyViolation`]: `/proc` is not procfs, or the opened file is not
    ///   the handle's.
    ///
    /// # References
    ///
    /// - [proc_pid_fd(5)](https://man7.org/linux/man-pages/man5/proc_pid_fd.5.html)
    /// - [open(2), O_PATH](https://man7.org/linux/man-pages/man2/open.2.html)
    pub fn reopen(&self, flags: OFlags) -> Result<File> {
        reopen(self.0.as_fd(), flags).map(File::from)
    }

    /// `fstat(fd)`: the metadata of the file this handle names (a symlink's own, for
    /// a handle from [`Root::resolve_nofollow`](crate::Root::resolve_nofollow)).
    ///
    /// # Errors
    ///
    /// [`Error::Syscall`] if `fstat` fails.
    ///
    /// # References
    ///
    /// - [fstat(2)](https://man7.org/linux/man-pages/man2/fstat.2.html)
    pub fn metadata(&self) -> Result<Stat> {
        rustix::fs::fstat(&self.0).map_err(|e| {
            Error::sys(e, || {
                Call::new("fstat", format_args!("fd {}", self.0.as_raw_fd()))
            })
        })
    }

    /// Duplicates the handle (`fcntl(F_DUPFD_CLOEXEC)`).
    ///
    /// # Errors
    ///
    /// [`Error::Syscall`] if the fd table is full.
    pub fn try_clone(&self) -> Result<Handle> {
        dup(self.0.as_fd()).map(Handle)
    }
}

pub(crate) fn dup(fd: BorrowedFd<'_>) -> Result<OwnedFd> {
    rustix::io::fcntl_dupfd_cloexec(fd, 0).map_err(|e| {
        Error::sys(e, || {
            Call::new(
                "fcntl",
                format_args!("fd {}, F_DUPFD_CLOEXEC, 0", fd.as_raw_fd()),
            )
        })
    })
}

impl AsFd for Handle {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl From<OwnedFd> for Handle {
    fn from(fd: OwnedFd) -> Self {
        Handle(fd)
    }
}

impl From<Handle> for OwnedFd {
    fn from(h: Handle) -> Self {
        h.0
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("fd", &self.0.as_raw_fd())
            .finish()
    }
}

/// procfs's root inode number (`PROC_ROOT_INO`).
const PROC_ROOT_INO: u64 = 1;

/// `/proc`, opened once and checked to be the root of a procfs.
fn procfs() -> Result<BorrowedFd<'static>> {
    static PROC: OnceLock<std::result::Result<OwnedFd, (Errno, bool)>> = OnceLock::new();
    let open = || -> std::result::Result<OwnedFd, (Errno, bool)> {
        let fd = rustix::fs::open(
            "/proc",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| (e, false))?;
        let fs = rustix::fs::fstatfs(&fd).map_err(|e| (e, false))?;
        let st = rustix::fs::fstat(&fd).map_err(|e| (e, false))?;
        if fs.f_type != rustix::fs::PROC_SUPER_MAGIC || st.st_ino != PROC_ROOT_INO {
            return Err((Errno::XDEV, true));
        }
        Ok(fd)
    };
    match PROC.get_or_init(open) {
        Ok(fd) => Ok(fd.as_fd()),
        Err((_, true)) => Err(Error::SafetyViolation {
            path: "/proc".into(),
            detail: "is not the root of a procfs mount".into(),
        }),
        Err((e, false)) => Err(Error::sys(*e, || {
            Call::new(
                "open",
                format_args!("\"/proc\", O_PATH|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC"),
            )
        })),
    }
}

/// Opens `fd`'s `/proc/thread-self/fd/N` magic link with `flags` (and `mode`,
/// for `O_CREAT` on an existing file): a new open file description of the file
/// `fd` names, whatever happened to its path since.
///
/// The calling thread's `/proc/thread-self/fd` directory is opened once, from the
/// checked procfs root, checked to be on procfs, and kept (one fd per thread that
/// used it; a thread id that changed, after a fork, opens it again); `Err(None)`
/// when there is no usable procfs. A magic link in that directory names exactly
/// the fd's file: the caller need not compare inodes.
pub(crate) fn open_fd_link(
    fd: BorrowedFd<'_>,
    flags: OFlags,
    mode: Mode,
) -> std::result::Result<OwnedFd, Option<Errno>> {
    use std::cell::RefCell;
    thread_local! {
        static FD_DIR: RefCell<Option<(rustix::thread::Pid, OwnedFd)>> =
            const { RefCell::new(None) };
    }
    let name = FdNumber::new(fd.as_raw_fd());
    // Not available while this thread's locals are being destroyed: then as if
    // there were no procfs.
    let res = FD_DIR.try_with(|cell| {
        let tid = rustix::thread::gettid();
        let Ok(mut cached) = cell.try_borrow_mut() else {
            return Err(None);
        };
        if cached.as_ref().is_none_or(|(t, _)| *t != tid) {
            let proc = procfs().map_err(|_| None)?;
            let dir = rustix::fs::openat(
                proc,
                "thread-self/fd",
                OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|_| None)?;
            // Held from now on: a later mount over the path cannot change it.
            match rustix::fs::fstatfs(&dir) {
                Ok(fs) if fs.f_type == rustix::fs::PROC_SUPER_MAGIC => {}
                _ => return Err(None),
            }
            *cached = Some((tid, dir));
        }
        let Some((_, dir)) = cached.as_ref() else {
            return Err(None);
        };
        rustix::fs::openat(dir, name.bytes(), flags, mode).map_err(Some)
    });
    res.unwrap_or(Err(None))
}

/// A non-negative fd number as decimal digits, in a stack buffer.
struct FdNumber {
    buf: [u8; 10],
    start: usize,
}

impl FdNumber {
    fn new(fd: i32) -> Self {
        let mut buf = [0u8; 10];
        let mut n = fd.unsigned_abs();
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        Self { buf, start: i }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

/// `thread-self/fd/N` in a stack buffer.
struct FdPath {
    buf: [u8; 32],
    len: usize,
}

impl FdPath {
    fn new(fd: i32) -> Self {
        let mut buf = [0u8; 32];
        let prefix = b"thread-self/fd/";
        buf[..prefix.len()].copy_from_slice(prefix);
        let mut digits = [0u8; 10];
        let mut n = fd.unsigned_abs();
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let d = &digits[i..];
        buf[prefix.len()..prefix.len() + d.len()].copy_from_slice(d);
        Self {
            buf,
            len: prefix.len() + d.len(),
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

pub(crate) fn reopen(fd: BorrowedFd<'_>, flags: OFlags) -> Result<OwnedFd> {
    // O_TMPFILE includes O_DIRECTORY's bit: test it whole.
    let refused =
        flags.intersects(OFlags::CREATE | OFlags::EXCL) || flags.contains(OFlags::TMPFILE);
    if refused || flags.bits() & !VALID_OFLAGS != 0 {
        return Err(Error::invalid(
            "reopen flags",
            OFlagsDisplay::of(flags).to_string(),
            "may not contain O_CREAT, O_EXCL, O_TMPFILE or unknown bits",
            libc::EINVAL,
        ));
    }
    // What openat2 would refuse (O_PATH with O_RDWR...): plain openat, which opens
    // the magic link, would drop it silently.
    if let Some(r) = refusal(&OpenHow::new(flags - OFlags::NOFOLLOW)) {
        return Err(Error::invalid(
            "reopen flags",
            r.shown(),
            r.reason,
            libc::EINVAL,
        ));
    }
    let flags = (flags - OFlags::NOFOLLOW) | OFlags::CLOEXEC;
    let proc = procfs()?;
    let name = FdPath::new(fd.as_raw_fd());
    let call = || {
        Call::new(
            "openat",
            format_args!(
                "fd {} (/proc), {:?}, {}",
                proc.as_raw_fd(),
                String::from_utf8_lossy(name.bytes()),
                OFlagsDisplay::of(flags)
            ),
        )
    };
    let new = rustix::fs::openat(proc, name.bytes(), flags, Mode::empty())
        .map_err(|e| Error::sys(e, call))?;
    let stat = |f: BorrowedFd<'_>| {
        rustix::fs::fstat(f).map_err(|e| {
            Error::sys(e, || {
                Call::new("fstat", format_args!("fd {}", f.as_raw_fd()))
            })
        })
    };
    let (a, b) = (stat(fd)?, stat(new.as_fd())?);
    if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino) {
        return Err(Error::SafetyViolation {
            path: String::from_utf8_lossy(name.bytes()).into_owned(),
            detail: "reopening through procfs gave a different file".into(),
        });
    }
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_path() {
        assert_eq!(FdPath::new(0).bytes(), b"thread-self/fd/0");
        assert_eq!(FdPath::new(1234567).bytes(), b"thread-self/fd/1234567");
        assert_eq!(FdPath::new(i32::MAX).bytes(), b"thread-self/fd/2147483647");
        assert_eq!(FdNumber::new(0).bytes(), b"0");
        assert_eq!(FdNumber::new(7).bytes(), b"7");
        assert_eq!(FdNumber::new(i32::MAX).bytes(), b"2147483647");
    }
}
