//! The `openat2` system call and its `open_how` argument.
#![forbid(unsafe_code)]

use std::ffi::{CStr, OsStr};
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use rustix::fs::OFlags;

use crate::error::{Call, Error, Result};
use crate::flags::{O_TMPFILE_BIT, OFlagsDisplay, ResolveFlags, VALID_OFLAGS};
use crate::mode::{Mode, S_IALLUGO};
use crate::path::check_nul;
use crate::sys::{self, EXT_FIELDS};

/// `OPEN_HOW_SIZE_VER0`: the size of the first `open_how` (`flags`, `mode`,
/// `resolve`), the only one up to Linux 6.18. Since Linux 5.6.
pub const OPEN_HOW_SIZE_VER0: usize = 24;
/// The largest `open_how` [`openat2`] passes: the first version and five more
/// 64-bit fields, for fields of kernels newer than this crate ([`OpenHow::field`]).
pub const OPEN_HOW_MAX_SIZE: usize = OPEN_HOW_SIZE_VER0 + 8 * EXT_FIELDS;

/// `struct open_how`: how [`openat2`] opens a path: `O_*` flags, the mode for
/// `O_CREAT`/`O_TMPFILE`, and `RESOLVE_*` flags, each a 64-bit field.
///
/// `open_how` is a size-versioned struct: the size is passed with it, a kernel
/// reads the fields it knows and requires every byte after them to be zero
/// (`E2BIG` otherwise). [`field`](OpenHow::field) sets a field of a kernel newer
/// than this crate; [`raw_flags`](OpenHow::raw_flags) and
/// [`raw_mode`](OpenHow::raw_mode) set all 64 bits of `flags` and `mode` (no kernel
/// defines bits beyond the low 32 yet: `EINVAL`, reported as
/// [`Error::OpenHowInvalid`]).
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
/// let create = OpenHow::new(OFlags::WRONLY | OFlags::CREATE).mode(Mode::from_raw_mode(0o640)?);
/// assert_eq!(create.mode_bits().as_raw_mode(), 0o640);
/// assert_eq!(create.size(), 24);
/// // A field of a newer kernel, at byte offset 24: the struct grows to 32 bytes.
/// let newer = create.field(24, 0)?;
/// assert_eq!((newer.size(), newer.field_value(24)), (32, Some(0)));
/// assert!(create.field(20, 1).is_err()); // inside `resolve`: refused, named
/// # Ok::<(), linception_openat2::Error>(())
/// ```
///
/// # References
///
/// - [open_how(2type)](https://man7.org/linux/man-pages/man2/open_how.2type.html)
/// - [openat2(2), Extensibility](https://man7.org/linux/man-pages/man2/openat2.2.html)
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[doc(alias = "open_how")]
pub struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: ResolveFlags,
    ext: [u64; EXT_FIELDS],
    size: u8,
}

impl OpenHow {
    /// `{ flags, mode: 0, resolve: 0 }`, 24 bytes (`OPEN_HOW_SIZE_VER0`).
    pub const fn new(flags: OFlags) -> Self {
        Self {
            flags: flags.bits() as u64,
            mode: 0,
            resolve: ResolveFlags::empty(),
            ext: [0; EXT_FIELDS],
            size: OPEN_HOW_SIZE_VER0 as u8,
        }
    }

    /// Sets `mode` (must stay 0 unless `O_CREAT` or `O_TMPFILE` is set, or the
    /// kernel refuses with `EINVAL`).
    pub const fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode.bits() as u64;
        self
    }

    /// Sets all 64 bits of `mode`. The kernel refuses bits outside `S_IALLUGO`
    /// (`0o7777`) with `EINVAL`.
    pub const fn raw_mode(mut self, mode: u64) -> Self {
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
        self.flags = flags.bits() as u64;
        self
    }

    /// Sets all 64 bits of `flags`. No kernel up to 6.18 defines a flag beyond
    /// the low 32 bits: it refuses them with `EINVAL` ([`Error::OpenHowInvalid`]
    /// names them).
    pub const fn raw_flags(mut self, flags: u64) -> Self {
        self.flags = flags;
        self
    }

    /// Sets the 64-bit field at byte `offset` of a newer kernel's `open_how`
    /// (24, 32, ... up to `OPEN_HOW_MAX_SIZE - 8`) and makes the struct passed at
    /// least `offset + 8` bytes long. A field the running kernel does not know
    /// must be zero: otherwise [`openat2`] fails with [`Error::OpenHowTooBig`]
    /// naming the field's offset.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] naming the offset if it is not a multiple of 8,
    /// falls inside the first version's fields, or lies beyond `OPEN_HOW_MAX_SIZE`.
    pub fn field(mut self, offset: usize, value: u64) -> Result<Self> {
        if offset < OPEN_HOW_SIZE_VER0
            || !offset.is_multiple_of(8)
            || offset + 8 > OPEN_HOW_MAX_SIZE
        {
            return Err(Error::invalid(
                "open_how field offset",
                offset.to_string(),
                "is not one of 24, 32, 40, 48, 56 (the 64-bit fields after resolve this crate can pass)",
                libc::EINVAL,
            ));
        }
        self.ext[(offset - OPEN_HOW_SIZE_VER0) / 8] = value;
        self.size = self.size.max((offset + 8) as u8);
        Ok(self)
    }

    /// The `O_*` flags: the low 32 bits of `flags` (see
    /// [`raw_flags_bits`](OpenHow::raw_flags_bits) for all of them).
    pub const fn open_flags(&self) -> OFlags {
        OFlags::from_bits_retain(self.flags as u32)
    }

    /// All 64 bits of `flags`.
    pub const fn raw_flags_bits(&self) -> u64 {
        self.flags
    }

    /// The mode: the low 32 bits of `mode` (see [`raw_mode_bits`](OpenHow::raw_mode_bits)).
    pub const fn mode_bits(&self) -> Mode {
        Mode::from_bits_retain(self.mode as u32)
    }

    /// All 64 bits of `mode`.
    pub const fn raw_mode_bits(&self) -> u64 {
        self.mode
    }

    /// The `RESOLVE_*` flags.
    pub const fn resolve_flags(&self) -> ResolveFlags {
        self.resolve
    }

    /// The size passed to the kernel: 24, or more once [`field`](OpenHow::field)
    /// was used.
    pub const fn size(&self) -> usize {
        self.size as usize
    }

    /// The value of the field at byte `offset` after `resolve`, if the struct
    /// passed reaches it.
    pub fn field_value(&self, offset: usize) -> Option<u64> {
        if offset < OPEN_HOW_SIZE_VER0 || !offset.is_multiple_of(8) || offset + 8 > self.size() {
            return None;
        }
        Some(self.ext[(offset - OPEN_HOW_SIZE_VER0) / 8])
    }

    /// The offsets and values of the non-zero fields after `resolve`.
    pub(crate) fn set_fields(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.ext
            .iter()
            .enumerate()
            .filter(|(_, v)| **v != 0)
            .map(|(i, v)| (OPEN_HOW_SIZE_VER0 + 8 * i, *v))
    }

    /// Whether rustix's 24-byte, 32-bit-flags `openat2` can pass this struct as is.
    #[inline]
    fn fits_rustix(&self) -> bool {
        (self.flags | self.mode) >> 32 == 0 && self.size() == OPEN_HOW_SIZE_VER0
    }

    fn to_raw(self) -> sys::RawOpenHow {
        sys::RawOpenHow {
            flags: self.flags | u64::from(OFlags::CLOEXEC.bits()),
            mode: self.mode,
            resolve: self.resolve.bits(),
            ext: self.ext,
        }
    }
}

/// `{ flags: O_RDONLY|O_CLOEXEC, mode: 0o0, resolve: IN_ROOT }`, then the size and
/// the fields after `resolve` when the struct is larger.
impl fmt::Debug for OpenHow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{ flags: {}, mode: {:#o}, resolve: {:?}",
            OFlagsDisplay(self.flags),
            self.mode,
            self.resolve
        )?;
        if self.size() > OPEN_HOW_SIZE_VER0 {
            write!(f, ", size: {}", self.size())?;
            for (offset, value) in self.set_fields() {
                write!(f, ", [{offset}]: {value:#x}")?;
            }
        }
        f.write_str(" }")
    }
}

/// Why the kernel's `openat2` refuses an `open_how` with `EINVAL` (its
/// `build_open_flags`, Linux 6.18), checked in the kernel's order.
pub(crate) struct Refusal {
    /// Which field: `"open flags"`, `"resolve flags"` or `"mode"`.
    pub(crate) field: &'static str,
    /// The field's raw value (shown with [`FieldValue`]).
    pub(crate) value: u64,
    /// Why.
    pub(crate) reason: &'static str,
}

impl Refusal {
    /// The value as [`FieldValue`] shows it.
    pub(crate) fn shown(&self) -> String {
        FieldValue(self.field, self.value).to_string()
    }
}

/// Shows the raw value of an `open_how` field the way its field is read: `"open
/// flags"` by their `O_*` names, `"resolve flags"` by their `RESOLVE_*` names,
/// `"mode"` in octal. Formats without allocating.
pub(crate) struct FieldValue(pub(crate) &'static str, pub(crate) u64);

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            "open flags" => OFlagsDisplay(self.1).fmt(f),
            "resolve flags" => fmt::Debug::fmt(&ResolveFlags::from_bits_retain(self.1), f),
            _ => write!(f, "{:#o}", self.1),
        }
    }
}

/// `O_PATH` allows only these besides itself.
const O_PATH_FLAGS: u64 =
    (libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_PATH | libc::O_CLOEXEC) as u64;

/// The kernel's `EINVAL` checks of `open_how`, in its order; `None` when it accepts
/// the struct (the lookup may still fail). `RESOLVE_CACHED`'s `EAGAIN` for
/// `O_CREAT`/`O_TRUNC`/`O_TMPFILE` is not a refusal.
#[inline]
pub(crate) fn refusal(how: &OpenHow) -> Option<Refusal> {
    let flags = how.flags & !(libc::O_CLOEXEC as u64);
    let o = |f: i32| u64::from(f as u32);
    let refuse = |field, value: u64, reason| {
        Some(Refusal {
            field,
            value,
            reason,
        })
    };
    if flags & !u64::from(VALID_OFLAGS) != 0 {
        return refuse(
            "open flags",
            how.flags,
            if flags >> 32 != 0 {
                "has bits beyond the low 32, which no kernel defines yet"
            } else {
                "has bits the kernel does not know"
            },
        );
    }
    let resolve = how.resolve;
    if !resolve.unknown().is_empty() {
        return refuse(
            "resolve flags",
            resolve.bits(),
            "has bits the kernel does not know",
        );
    }
    if resolve.contains(ResolveFlags::BENEATH | ResolveFlags::IN_ROOT) {
        return refuse(
            "resolve flags",
            resolve.bits(),
            "has both BENEATH and IN_ROOT",
        );
    }
    let will_create = flags & o(libc::O_CREAT | O_TMPFILE_BIT as i32) != 0;
    if will_create && how.mode & !u64::from(S_IALLUGO) != 0 {
        return refuse("mode", how.mode, "has bits outside S_IALLUGO (0o7777)");
    }
    if !will_create && how.mode != 0 {
        return refuse("mode", how.mode, "is only valid with O_CREAT or O_TMPFILE");
    }
    if flags & o(libc::O_DIRECTORY | libc::O_CREAT) == o(libc::O_DIRECTORY | libc::O_CREAT) {
        return refuse(
            "open flags",
            how.flags,
            "has O_CREAT with O_DIRECTORY (or O_TMPFILE)",
        );
    }
    if flags & u64::from(O_TMPFILE_BIT) != 0 {
        if flags & o(libc::O_DIRECTORY) == 0 {
            return refuse(
                "open flags",
                how.flags,
                "has O_TMPFILE's bit without O_DIRECTORY",
            );
        }
        if flags & o(libc::O_ACCMODE) == 0 {
            return refuse(
                "open flags",
                how.flags,
                "has O_TMPFILE without write access (O_WRONLY or O_RDWR)",
            );
        }
    }
    if flags & o(libc::O_PATH) != 0 && flags & !O_PATH_FLAGS != 0 {
        return refuse(
            "open flags",
            how.flags,
            "has O_PATH with flags other than O_DIRECTORY, O_NOFOLLOW and O_CLOEXEC",
        );
    }
    None
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
/// - [`Error::OpenHowTooBig`] (`E2BIG`): a field set with [`OpenHow::field`]
///   is unknown to this kernel; the error names its offset.
/// - [`Error::OpenHowInvalid`] (`EINVAL`): the kernel refused `flags`, `mode` or
///   `resolve`; the error names the field and why (unknown bits, bits beyond the
///   low 32 of `flags`, a mode without `O_CREAT`, `O_PATH` with other flags...).
/// - [`Error::Unsupported`]: the kernel has no `openat2` (before 5.6).
/// - [`Error::InvalidArgument`]: `path` contains a NUL byte.
/// - [`Error::Syscall`]: any other errno (`ENOENT`...).
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

/// `openat2(dirfd, path, &how, sizeof(how))`: like [`openat2`], with a C string
/// path: allocation-free on success and failure, for the code a container child
/// runs between `clone` and `execve` (the parent prepares `path` and `how`).
///
/// The call and its errors are [`openat2`]'s: `ENOSYS` is
/// [`Error::Unsupported`] (and remembered), `E2BIG` is [`Error::OpenHowTooBig`]
/// naming the field this kernel does not know, `EXDEV` [`Error::Escape`], `ELOOP`
/// [`Error::SymlinkRefused`], and the failed call is recorded inline with its
/// arguments (cut to [`Call::CAPACITY`] bytes); `EINVAL` is
/// [`Error::OpenHowInvalid`] naming the field and its raw value. A `&CStr` cannot
/// hold a NUL byte, so there is no [`Error::InvalidArgument`]. Since Linux 5.6.
///
/// # Errors
///
/// As [`openat2`], without [`Error::InvalidArgument`].
///
/// # Examples
///
/// ```
/// use linception_openat2::{openat2_cstr, ErrorKind, OpenHow, OFlags, ResolveFlags};
///
/// let dir = std::fs::File::open("/")?;
/// let how = OpenHow::new(OFlags::PATH).resolve(ResolveFlags::BENEATH);
/// let fd = openat2_cstr(&dir, c"etc", &how)?;
/// let err = openat2_cstr(&dir, c"../etc", &how).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Escape);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # References
///
/// - [openat2(2)](https://man7.org/linux/man-pages/man2/openat2.2.html)
#[inline]
pub fn openat2_cstr<Fd: AsFd>(dirfd: Fd, path: &CStr, how: &OpenHow) -> Result<OwnedFd> {
    openat2_cstr_inner(dirfd.as_fd(), path, how)
}

fn openat2_cstr_inner(dirfd: BorrowedFd<'_>, path: &CStr, how: &OpenHow) -> Result<OwnedFd> {
    match raw_call(dirfd, path, how) {
        Ok(fd) => Ok(fd),
        Err(rustix::io::Errno::NOSYS) => Err(unsupported()),
        Err(errno) => Err(openat2_error(
            errno,
            dirfd,
            Path::new(OsStr::from_bytes(path.to_bytes())),
            how,
        )),
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
    raw_call(dirfd, path.as_os_str().as_bytes(), how)
}

/// [`raw_openat2`] for any path rustix takes (`&[u8]`, or a `&CStr`, which is
/// passed as it is).
#[inline]
fn raw_call<P: rustix::path::Arg>(
    dirfd: BorrowedFd<'_>,
    path: P,
    how: &OpenHow,
) -> std::result::Result<OwnedFd, rustix::io::Errno> {
    if PRETEND_ENOSYS.load(Ordering::Relaxed) {
        return Err(rustix::io::Errno::NOSYS);
    }
    let res = if how.fits_rustix() {
        rustix::fs::openat2(
            dirfd,
            path,
            how.open_flags() | OFlags::CLOEXEC,
            rustix::fs::Mode::from_bits_retain(how.mode as u32),
            how.resolve.to_rustix(),
        )
    } else {
        openat2_sized(dirfd, path, how)
    };
    if let Err(rustix::io::Errno::NOSYS) = res {
        AVAILABLE.store(NO, Ordering::Relaxed);
    }
    res
}

/// `openat2` with the whole struct, its size passed: for 64-bit flag or mode bits
/// and fields after `resolve`, which rustix's wrapper cannot carry.
#[cold]
fn openat2_sized<P: rustix::path::Arg>(
    dirfd: BorrowedFd<'_>,
    path: P,
    how: &OpenHow,
) -> std::result::Result<OwnedFd, rustix::io::Errno> {
    let mut raw = how.to_raw();
    // As rustix does: the kernel adds O_LARGEFILE itself on 64-bit, and refuses it
    // with O_PATH.
    if how.flags & u64::from(OFlags::PATH.bits()) == 0 {
        raw.flags |= libc::O_LARGEFILE as u64;
    }
    rustix::path::Arg::into_with_c_str(path, |path| sys::openat2(dirfd, path, &raw, how.size()))
}

/// Builds the error for a failed openat2 call.
#[cold]
pub(crate) fn openat2_error(
    errno: rustix::io::Errno,
    dirfd: BorrowedFd<'_>,
    path: &Path,
    how: &OpenHow,
) -> Error {
    match errno {
        rustix::io::Errno::NOSYS => unsupported(),
        rustix::io::Errno::TOOBIG => Error::OpenHowTooBig {
            call: openat2_call(dirfd, path, how),
            offset: unsupported_field(how),
        },
        rustix::io::Errno::INVAL => match refusal(how) {
            Some(r) => Error::OpenHowInvalid {
                call: openat2_call(dirfd, path, how),
                field: r.field,
                value: r.value,
                reason: r.reason,
            },
            None => Error::sys(errno, || openat2_call(dirfd, path, how)),
        },
        _ => {
            let cached = how.resolve.contains(ResolveFlags::CACHED);
            Error::lookup(errno, cached, || openat2_call(dirfd, path, how))
        }
    }
}

/// After `E2BIG`: the offset of the first field after `resolve` that is set and
/// that this kernel does not know. Each set field is tried alone in an
/// `openat2(AT_FDCWD, "", { O_PATH, field })` that cannot open anything (an empty
/// path is `ENOENT` once the struct is accepted): `E2BIG` means unknown.
#[cold]
fn unsupported_field(how: &OpenHow) -> usize {
    let mut first = None;
    for (offset, value) in how.set_fields() {
        first.get_or_insert(offset);
        let Ok(probe) = OpenHow::new(OFlags::PATH | OFlags::CLOEXEC).field(offset, value) else {
            continue;
        };
        if let Err(rustix::io::Errno::TOOBIG) =
            sys::openat2(rustix::fs::CWD, c"", &probe.to_raw(), probe.size())
        {
            return offset;
        }
    }
    // The kernel said E2BIG for the struct, so some field was set.
    first.unwrap_or(OPEN_HOW_SIZE_VER0)
}

pub(crate) fn openat2_call(dirfd: BorrowedFd<'_>, path: &Path, how: &OpenHow) -> Call {
    let how = OpenHow {
        flags: how.flags | u64::from(OFlags::CLOEXEC.bits()),
        ..*how
    };
    Call::new(
        "openat2",
        format_args!("fd {}, {:?}, {how:?}", dirfd.as_raw_fd(), path),
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
            let res = rustix::fs::openat2(
                rustix::fs::CWD,
                "/",
                OFlags::PATH | OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
                rustix::fs::ResolveFlags::empty(),
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
