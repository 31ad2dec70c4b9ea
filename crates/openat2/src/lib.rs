//! Safe path resolution inside a directory tree with Linux `openat2` `RESOLVE_*`
//! flags, and a checked userspace fallback.
//!
//! Container runtimes open paths inside an untrusted root filesystem, where a
//! symlink or a `..` swapped in at the right moment would send them to the host.
//! A [`Root`] resolves every path inside its directory as if it were `/`, with the
//! kernel's `openat2(RESOLVE_IN_ROOT)` or, on kernels without it, a userspace
//! resolver that gives the same answers:
//!
//! ```
//! use linception_openat2::{Root, OFlags, Mode, ResolveFlags};
//!
//! let dir = std::env::temp_dir().join(format!("linception-openat2-doc-{}", std::process::id()));
//! std::fs::create_dir(&dir)?;
//! let root = Root::new(&dir)?;
//! root.mkdir_all("etc", Mode::from_raw_mode(0o755)?)?;
//! root.symlink("../../../../etc/passwd", "escape")?;
//! // The symlink climbs to the root and stops there: the host's /etc/passwd is
//! // never reached; the root's own etc/passwd does not exist.
//! assert_eq!(root.open("escape", OFlags::RDONLY).unwrap_err().raw_os_error(), Some(libc::ENOENT));
//! // Strict mode refuses the attempt outright.
//! let strict = root.try_clone()?.strict();
//! assert_eq!(strict.open("escape", OFlags::RDONLY).unwrap_err().raw_os_error(), Some(libc::EXDEV));
//! // A policy: no symlinks at all.
//! let no_links = root.try_clone()?.with_resolve_flags(ResolveFlags::NO_SYMLINKS)?;
//! assert_eq!(no_links.open("escape", OFlags::RDONLY).unwrap_err().raw_os_error(), Some(libc::ELOOP));
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Kernel support
//!
//! | feature | minimum kernel | what for | without it |
//! |---|---|---|---|
//! | `openat2`, `RESOLVE_BENEATH`, `IN_ROOT`, `NO_SYMLINKS`, `NO_MAGICLINKS`, `NO_XDEV` | 5.6 | [`Root`] lookups in one call | userspace resolver ([`Resolver::Fallback`]), chosen automatically on `ENOSYS` or a seccomp filter's `EPERM` |
//! | `RESOLVE_CACHED` | 5.12 | dentry-cache-only fast path | full lookup |
//! | `STATX_MNT_ID` | 5.8 | `NO_XDEV` in the userspace resolver | compares device numbers (misses bind mounts of one filesystem) |
//! | `/proc/thread-self` | 3.17 | [`Handle::reopen`]; the userspace resolver's last open | —; the last name opened with `O_NOFOLLOW` |
//! | `open_how` larger than 24 bytes | none yet (6.18 knows 24) | fields of newer kernels ([`OpenHow::field`]) | `E2BIG`: [`Error::OpenHowTooBig`] names the field |
//!
//! # The userspace resolver
//!
//! Selected with [`Root::with_resolver`]`(`[`Resolver::Fallback`]`)`, or
//! automatically when `openat2` is missing. It walks one component at a time with
//! `openat(O_PATH|O_NOFOLLOW)` relative to the last directory fd, expands at most
//! 40 symlinks, handles `..` against a stack of the directories it came through (so
//! it never climbs above the root) and checks each `..` against the real parent by
//! device and inode (a directory moved during the walk restarts it, and repeated
//! moves give [`Error::SafetyViolation`]); it never follows procfs magic links.
//!
//! Its answers are the kernel's for every combination of `O_*` and `RESOLVE_*`
//! flags (the tests compare them side by side): [`Root`] refuses before any call
//! what `openat2` refuses with `EINVAL` (`O_PATH` with `O_RDWR`, `O_CREAT` or
//! `O_EXCL`, `O_TMPFILE` without write access, a mode without `O_CREAT`...), and
//! the fd it returns carries the caller's flags only (`F_GETFL` as the kernel's):
//! the last component is looked at with `O_PATH|O_NOFOLLOW`, then opened through
//! that fd's `/proc/thread-self/fd/N` magic link, or created with `O_EXCL`, which
//! never follows a symlink. It keeps one fd to `/proc` and, per thread that used
//! it, one to that thread's `/proc/thread-self/fd` directory. Without a procfs at
//! `/proc` it opens the last name with `O_NOFOLLOW`, which then shows in the fd's
//! status flags.
//!
//! # In a container child
//!
//! Between `clone` and `execve` nothing may allocate: [`openat2_cstr`] is
//! [`openat2`] with a `&CStr` path, allocation-free on success and failure (a
//! failed call is recorded inline, [`Call`]). The parent prepares the paths and
//! the [`OpenHow`].
//!
//! # Errors
//!
//! One [`Error`] type: `EXDEV` is [`Error::Escape`], `ELOOP`
//! [`Error::SymlinkRefused`], `EAGAIN` [`Error::CacheMiss`] or [`Error::Raced`],
//! `E2BIG` [`Error::OpenHowTooBig`] (naming the field this kernel does not know), an
//! `open_how` the kernel refuses [`Error::OpenHowInvalid`] (naming the field and
//! why); bad input is [`Error::InvalidArgument`] naming it, before any system call.
//! `Error` converts into `std::io::Error` keeping the errno.
#![deny(missing_docs)]
// Every module but `sys` forbids unsafe code; `sys` holds the one raw call.
#![deny(unsafe_code)]
// The error keeps the failed call's description inline (no allocation on the
// failure path of calls made between clone and exec), which makes it large.
#![allow(clippy::result_large_err)]

mod error;
mod fallback;
mod flags;
mod handle;
mod how;
mod mode;
mod path;
mod root;
#[allow(unsafe_code)]
mod sys;

pub use error::{Call, Error, ErrorKind, Result};
pub use fallback::MAX_SYMLINKS;
pub use flags::ResolveFlags;
pub use handle::Handle;
pub use how::{
    __pretend_openat2_enosys, OPEN_HOW_MAX_SIZE, OPEN_HOW_SIZE_VER0, OpenHow, openat2, openat2_cstr,
};
pub use mode::Mode;
pub use path::{NAME_MAX, PATH_MAX};
pub use root::{MAX_EAGAIN_RETRIES, Resolver, Root};

/// `O_*` flags (re-exported from rustix).
pub use rustix::fs::OFlags;
/// `RENAME_*` flags for [`Root::rename`] (re-exported from rustix).
pub use rustix::fs::RenameFlags;
/// `struct stat`, from [`Root::metadata`] (re-exported from rustix).
pub use rustix::fs::Stat;
