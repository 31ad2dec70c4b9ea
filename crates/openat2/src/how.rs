//! The `openat2` system call and its `open_how` argument.
#![forbid(unsafe_code)]

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use rustix::fs::{Mode, OFlags};

use crate::error::{Call, Error, Result};
use crate::flags::{OFlagsDisplay, ResolveFlags};
use crate::path::check_nul;

/// `struct open_how`: how [`openat2`] opens a path: `O_*` flags, the mode for
/// `O_CREAT`/`O_TMPFILE`, and `RESOLVE_*` flags.
///
/// `O_CLOEXEC` is always added by [`openat2`].
///
/// # Examples
///
/// ```
/// use linception_openat2::{OpenHow, ResolveFlags, OFlags, Mode};
///
/// let how = OpenHow::new(OFlags::RDONLY).resolve(ResolveFlags::IN_ROOT | ResolveFlags::NO_XDEV);
/// assert_eq!(how.resolve_flags(), ResolveFlags::IN_ROOT | ResolveFlags::NO_XDEV);
/// let create = OpenHow::new(OFlags::WRONLY | OFlags::CREATE).mode(Mode::from_raw_mode(0o640));
/// assert_eq!(create.mode_bits().as_raw_mode(), 0o640);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[doc(alias = "open_how")]
pub struct OpenHow {
    flags: OFlags,
    mode: Mode,
    resolve: ResolveFlags,
}

impl OpenHow {
    /// `{ flags, mode: 0, resolve: 0 }`.
    pub const fn new(flags: OFlags) -> Self {
        Self {
            flags,
            mode: Mode::empty(),
            resolve: ResolveFlags::empty(),
        }
    }

    /// Sets `mode` (must stay 0 unless `O_CREAT` or `O_TMPFILE` is set, or the
    /// kernel refuses with `EINVAL`).
    pub const fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets `resolve`.
    pub const fn resolve(mut self, resolve: ResolveFlags) -> Self {
        self.resolve = resolve;
        self
    }

    /// Sets `flags`.
    pub const fn flags(mut self, flags: OFlags) -> Self {
        self.flags = flags;
        self
    }

    /// The `O_*` flags.
    pub const fn open_flags(&self) -> OFlags {
        self.flags
    }

    /// The mode.
    pub const fn mode_bits(&self) -> Mode {
        self.mode
    }

    /// The `RESOLVE_*` flags.
    pub const fn resolve_flags(&self) -> ResolveFlags {
        self.resolve
    }
}

/// `{ flags: O_RDONLY|O_CLOEXEC, mode: 0o0, resolve: IN_ROOT }`.
impl fmt::Debug for OpenHow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{ flags: {}, mode: {:#o}, resolve: {:?} }}",
            OFlagsDisplay(self.flags),
            self.mode.as_raw_mode(),
            self.resolve
        )
    }
}

/// `openat2(dirfd, path, &how, sizeof(how))`: opens `path` relative to `dirfd`,
/// resolved as `how.resolve` says. `O_CLOEXEC` is always added.
///
/// This is the thin wrapper; [`Root`](crate::Root) builds safe resolution inside a
/// directory tree on top of it. Since Linux 5.6 (`RESOLVE_CACHED`: 5.12).
///
/// # Errors
///
/// - [`Error::Escape`] (`EXDEV`): `BENEATH` saw an escape, `NO_XDEV` a mount
///   crossing, or a scoped lookup met a magic link.
/// - [`Error::SymlinkRefused`] (`ELOOP`): `NO_SYMLINKS`/`NO_MAGICLINKS` refused a
///   link, `O_NOFOLLOW` met one, or there were more than 40.
/// - [`Error::CacheMiss`] (`EAGAIN` with `CACHED`): retry without `CACHED`.
/// - [`Error::Raced`] (`EAGAIN` without `CACHED`): a concurrent rename or mount
///   raced with `..`; retrying is safe.
/// - [`Error::OpenHowTooBig`] (`E2BIG`).
/// - [`Error::Unsupported`]: the kernel has no `openat2` (before 5.6).
/// - [`Error::InvalidArgument`]: `path` contains a NUL byte.
/// - [`Error::Syscall`]: any other errno (`EINVAL` for unknown flag bits or a mode
///   without `O_CREAT`, `ENOENT`...).
///
/// # Examples
///
/// ```
/// use linception_openat2::{openat2, OpenHow, OFlags, ResolveFlags};
///
/// let dir = std::fs::File::open("/")?;
/// let how = OpenHow::new(OFlags::PATH).resolve(ResolveFlags::IN_ROOT);
/// // `..` at the root stays at the root.
/// let fd = openat2(&dir, "../../etc/..", &how)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # References
///
/// - [openat2(2)](https://man7.org/linux/man-pages/man2/openat2.2.html)
#[inline]
pub fn openat2<Fd: AsFd, P: AsRef<Path>>(dirfd: Fd, path: P, how: &OpenHow) -> Result<OwnedFd> {
    openat2_inner(dirfd.as_fd(), path.as_ref(), how)
}

fn openat2_inner(dirfd: BorrowedFd<'_>, path: &Path, how: &OpenHow) -> Result<OwnedFd> {
    check_nul(path)?;
    match raw_openat2(dirfd, path, how) {
        Ok(fd) => Ok(fd),
        Err(rustix::io::Errno::NOSYS) => Err(unsupported()),
        Err(errno) => Err(openat2_error(errno, dirfd, path, how)),
    }
}

/// The `Unsupported` error for a kernel without openat2.
pub(crate) fn unsupported() -> Error {
    Error::Unsupported {
        feature: "openat2",
        min_kernel: "5.6",
    }
}

/// The call itself: `path` is converted on the stack (no allocation for paths
/// shorter than 256 bytes). ENOSYS when pretending (tests) or when the kernel
/// lacks the call; remembers the latter.
#[inline]
pub(crate) fn raw_openat2(
    dirfd: BorrowedFd<'_>,
    path: &Path,
    how: &OpenHow,
) -> std::result::Result<OwnedFd, rustix::io::Errno> {
    if PRETEND_ENOSYS.load(Ordering::Relaxed) {
        return Err(rustix::io::Errno::NOSYS);
    }
    let res = rustix::fs::openat2(
        dirfd,
        path.as_os_str().as_bytes(),
        how.flags | OFlags::CLOEXEC,
        how.mode,
        how.resolve.to_rustix(),
    );
    if let Err(rustix::io::Errno::NOSYS) = res {
        AVAILABLE.store(NO, Ordering::Relaxed);
    }
    res
}

/// Builds the error for a failed openat2 call.
#[cold]
pub(crate) fn openat2_error(
    errno: rustix::io::Errno,
    dirfd: BorrowedFd<'_>,
    path: &Path,
    how: &OpenHow,
) -> Error {
    if errno == rustix::io::Errno::NOSYS {
        return unsupported();
    }
    let cached = how.resolve.contains(ResolveFlags::CACHED);
    Error::lookup(errno, cached, || openat2_call(dirfd, path, how))
}

pub(crate) fn openat2_call(dirfd: BorrowedFd<'_>, path: &Path, how: &OpenHow) -> Call {
    let how = OpenHow {
        flags: how.flags | OFlags::CLOEXEC,
        ..*how
    };
    Call::new(
        "openat2",
        format!("fd {}, {:?}, {how:?}", dirfd.as_raw_fd(), path),
    )
}

const UNKNOWN: u8 = 0;
const YES: u8 = 1;
const NO: u8 = 2;
static AVAILABLE: AtomicU8 = AtomicU8::new(UNKNOWN);
static PRETEND_ENOSYS: AtomicBool = AtomicBool::new(false);

/// Whether `openat2` can be used: probed once (the answer is cached), false when
/// the probe gets `ENOSYS` or a seccomp filter's `EPERM`, once any call returned
/// `ENOSYS`, or while a test pretends it is missing.
pub(crate) fn kernel_has_openat2() -> bool {
    if PRETEND_ENOSYS.load(Ordering::Relaxed) {
        return false;
    }
    match AVAILABLE.load(Ordering::Relaxed) {
        YES => true,
        NO => false,
        _ => {
            // Probe: open "/" with O_PATH (the fd is closed at once). ENOSYS: no
            // openat2; EPERM: a seccomp filter refuses it (opening "/" with O_PATH
            // cannot fail with EPERM otherwise). Either way, use the fallback.
            let how = OpenHow::new(OFlags::PATH);
            let res = rustix::fs::openat2(
                rustix::fs::CWD,
                "/",
                how.flags | OFlags::CLOEXEC,
                how.mode,
                how.resolve.to_rustix(),
            );
            let has = !matches!(res, Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM));
            AVAILABLE.store(if has { YES } else { NO }, Ordering::Relaxed);
            has
        }
    }
}

/// Test hook: while `on`, every kernel `openat2` call in this process behaves as
/// if the kernel returned `ENOSYS`, so the automatic fallback can be tested on a
/// new kernel. Process-wide: use it in a forked child.
#[doc(hidden)]
pub fn __pretend_openat2_enosys(on: bool) {
    PRETEND_ENOSYS.store(on, Ordering::Relaxed);
}
