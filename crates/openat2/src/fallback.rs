//! The userspace resolver, for kernels without `openat2` (before Linux 5.6).
//!
//! It walks the path one component at a time with `openat(O_PATH|O_NOFOLLOW)`,
//! keeping the directory fds it went through on a stack:
//!
//! - a name is opened relative to the directory on top of the stack, never by a
//!   joined host path, and never following a symlink by itself;
//! - a symlink is read with `readlinkat` and its target spliced in front of the rest
//!   of the path (at most 40 of them, like the kernel's `MAXSYMLINKS`); an absolute
//!   target restarts at the root (`IN_ROOT`) or is refused (`BENEATH`);
//! - `..` pops the stack, so it can never climb above the root; before popping, the
//!   real `..` of the directory is opened and its device and inode compared with the
//!   fd below on the stack: a mismatch means a directory was moved during the walk,
//!   the walk is restarted, and after 16 such restarts the result is
//!   [`Error::SafetyViolation`];
//! - procfs magic links (a procfs symlink whose target is absolute or a
//!   `type:[id]` name) are never followed: `ELOOP` under `NO_MAGICLINKS`, else
//!   `EXDEV`, as the kernel does for scoped lookups;
//! - `NO_XDEV` compares every opened fd's mount id (`statx(STATX_MNT_ID)`, or the
//!   device number on kernels before 5.8) with the root's.
//!
//! - the last component is looked at with `O_PATH|O_NOFOLLOW` and opened through
//!   that fd (`/proc/thread-self/fd/N`, checked to be the same file), so the fd
//!   returned has the caller's status flags and none of the resolver's; a missing
//!   file is created with `O_EXCL` (which never follows a symlink) and the caller's
//!   flags; with `NO_XDEV` a last component on another mount is refused first.
//!
//! The errors are the kernel's for the same path and flags: tests/matrix.rs
//! compares both over every `O_*` x `RESOLVE_*` combination. `RESOLVE_CACHED` is
//! ignored here.
#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, StatxFlags};
use rustix::io::Errno;

use crate::error::{Call, Error, Result};
use crate::flags::{O_TMPFILE_BIT, ResolveFlags};
use crate::how::OpenHow;
use crate::path::{PATH_MAX, show};

/// The kernel's `MAXSYMLINKS`: symlinks followed in one lookup.
pub const MAX_SYMLINKS: u32 = 40;
/// Walks restarted after a detected rename before giving up with `SafetyViolation`.
pub(crate) const MAX_RACE_RETRIES: u32 = 16;

/// Why one walk stopped.
enum Stop {
    /// A failure to report as the kernel would, with the component it happened at.
    Errno(Errno, Vec<u8>),
    /// A directory moved under the walk.
    Raced(String),
    /// Anything else, already built.
    Other(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Other(e)
    }
}

/// Opens `path` below `root` the way `openat2(root, path, how)` would, in userspace.
pub(crate) fn open(root: BorrowedFd<'_>, path: &Path, how: &OpenHow) -> Result<OwnedFd> {
    // Allocated at the first symlink only.
    let mut linkbuf = Vec::new();
    let mut attempts = 0;
    loop {
        attempts += 1;
        match walk(root, path, how, &mut linkbuf) {
            Ok(fd) => return Ok(fd),
            Err(Stop::Raced(_)) if attempts < MAX_RACE_RETRIES => continue,
            Err(Stop::Raced(detail)) => {
                return Err(Error::SafetyViolation {
                    path: show(path.as_os_str().as_bytes()),
                    detail: format!("{detail}, {attempts} times in a row"),
                });
            }
            Err(Stop::Errno(errno, component)) => {
                return Err(Error::lookup(errno, false, || {
                    Call::new(
                        "openat2-fallback",
                        format_args!(
                            "fd {}, {:?}, {how:?}, at component {}",
                            root.as_raw_fd(),
                            path,
                            show(&component)
                        ),
                    )
                }));
            }
            Err(Stop::Other(e)) => return Err(e),
        }
    }
}

/// What opening one component found.
enum Found {
    Fd(OwnedFd),
    /// A symlink; its target is in the link buffer, this long.
    Symlink(usize),
    /// The entry changed between two steps of opening it (removed after `EEXIST`,
    /// replaced while being reopened): walk again.
    Raced(&'static str),
}

fn walk(
    root: BorrowedFd<'_>,
    path: &Path,
    how: &OpenHow,
    linkbuf: &mut Vec<u8>,
) -> Result<OwnedFd, Stop> {
    let resolve = how.resolve_flags();
    let beneath = resolve.contains(ResolveFlags::BENEATH);
    let root_mount = if resolve.contains(ResolveFlags::NO_XDEV) {
        Some(mount_key(root).map_err(|e| Stop::Errno(e, b".".to_vec()))?)
    } else {
        None
    };
    let mut stack: Vec<OwnedFd> = Vec::with_capacity(16);
    let mut p: Cow<'_, [u8]> = Cow::Borrowed(path.as_os_str().as_bytes());
    let mut pos = 0;
    let mut links = 0u32;
    // Where in `p` the name of the directory on top of the stack is, when it was
    // reached by a name (not `.`, `..` or a symlink's target replacing `p`).
    let mut top_name: Option<(usize, usize)> = None;
    if beneath && p.first() == Some(&b'/') {
        return Err(Stop::Errno(Errno::XDEV, b"/".to_vec()));
    }
    loop {
        let bytes: &[u8] = &p;
        while pos < bytes.len() && bytes[pos] == b'/' {
            pos += 1;
        }
        let cur = stack.last().map_or(root, |fd| fd.as_fd());
        if pos == bytes.len() {
            // Nothing left: the result is the directory we are in ("", ".", "a/..", "a/").
            let named = top_name.map(|(start, end)| {
                let parent = match stack.len() {
                    0 | 1 => root,
                    n => stack[n - 2].as_fd(),
                };
                (parent, &bytes[start..end])
            });
            return match open_dir_itself(cur, how, named) {
                Ok(Found::Fd(fd)) => Ok(fd),
                Ok(Found::Raced(detail)) => Err(Stop::Raced(detail.into())),
                Ok(Found::Symlink(_)) => Err(Stop::Errno(Errno::LOOP, b".".to_vec())),
                Err(e) => Err(Stop::Errno(e, b".".to_vec())),
            };
        }
        let end = bytes[pos..]
            .iter()
            .position(|&b| b == b'/')
            .map_or(bytes.len(), |i| pos + i);
        let name = &bytes[pos..end];
        let start = pos;
        let final_name = end == bytes.len();
        pos = end;
        let err = |e: Errno| Stop::Errno(e, name.to_vec());
        if name == b"." {
            // The kernel looks `.` up in the directory: search permission on it.
            search(cur).map_err(err)?;
            top_name = None;
            continue;
        }
        if name == b".." {
            if stack.is_empty() {
                // As for `.`: checked before the scope (EACCES before EXDEV).
                search(cur).map_err(err)?;
                if beneath {
                    return Err(err(Errno::XDEV));
                }
                continue; // `..` at the root stays at the root.
            }
            let below = if stack.len() >= 2 {
                stack[stack.len() - 2].as_fd()
            } else {
                root
            };
            check_parent(cur, below).map_err(err)??;
            stack.pop();
            top_name = None;
            continue;
        }
        // The kernel refuses O_CREAT on a last component with a trailing slash
        // before looking it up.
        if !final_name
            && how.open_flags().contains(OFlags::CREATE)
            && bytes[end..].iter().all(|&b| b == b'/')
        {
            return Err(err(Errno::ISDIR));
        }
        if final_name && let Some(root_mount) = root_mount {
            // The kernel refuses to step onto another mount before opening the last
            // name (so before EEXIST, EISDIR...): look first. The fd opened is
            // checked again below.
            let probe_flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            if let Ok(probe) = rustix::fs::openat(cur, name, probe_flags, Mode::empty())
                && mount_key(probe.as_fd()).map_err(err)? != root_mount
            {
                return Err(err(Errno::XDEV));
            }
        }
        let found = if final_name {
            open_last(cur, name, how, linkbuf).map_err(err)?
        } else {
            open_dir(cur, name, linkbuf).map_err(err)?
        };
        match found {
            Found::Fd(fd) => {
                if let Some(root_mount) = root_mount
                    && mount_key(fd.as_fd()).map_err(err)? != root_mount
                {
                    return Err(err(Errno::XDEV));
                }
                if final_name {
                    return Ok(fd);
                }
                stack.push(fd);
                top_name = Some((start, end));
            }
            Found::Raced(detail) => return Err(Stop::Raced(detail.into())),
            Found::Symlink(len) => {
                let target = &linkbuf[..len];
                if resolve.contains(ResolveFlags::NO_SYMLINKS) {
                    return Err(err(Errno::LOOP));
                }
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(err(Errno::LOOP));
                }
                if is_magic_link(cur, target).map_err(err)? {
                    let e = if resolve.contains(ResolveFlags::NO_MAGICLINKS) {
                        Errno::LOOP
                    } else {
                        Errno::XDEV
                    };
                    return Err(err(e));
                }
                if target.is_empty() {
                    return Err(err(Errno::NOENT));
                }
                if target[0] == b'/' {
                    if beneath {
                        return Err(err(Errno::XDEV));
                    }
                    stack.clear();
                }
                let mut next = Vec::with_capacity(target.len() + bytes.len() - pos);
                next.extend_from_slice(target);
                next.extend_from_slice(&bytes[pos..]);
                p = Cow::Owned(next);
                pos = 0;
                top_name = None;
            }
        }
    }
}

/// Checks search permission on `dir`, as the kernel does before looking up any
/// name in it (`.` and `..` included), by looking up `.` in it.
fn search(dir: BorrowedFd<'_>) -> Result<(), Errno> {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    rustix::fs::openat(dir, ".", flags, Mode::empty()).map(drop)
}

/// Opens an intermediate component: a directory, or a symlink to expand.
fn open_dir(cur: BorrowedFd<'_>, name: &[u8], linkbuf: &mut Vec<u8>) -> Result<Found, Errno> {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    match rustix::fs::openat(cur, name, flags, Mode::empty()) {
        Ok(fd) => Ok(Found::Fd(fd)),
        // A symlink opened with O_NOFOLLOW|O_DIRECTORY is ENOTDIR, like a file.
        Err(Errno::NOTDIR) => match readlink(cur, name, linkbuf) {
            Ok(len) => Ok(Found::Symlink(len)),
            Err(Errno::INVAL) => Err(Errno::NOTDIR),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// The flags for a final open: the caller's, `O_CLOEXEC` added.
fn final_flags(how: &OpenHow) -> OFlags {
    how.open_flags() | OFlags::CLOEXEC
}

/// Opens the last component with the caller's flags, or finds a symlink to follow.
///
/// The fd returned carries exactly the caller's flags (`F_GETFL` as the kernel's
/// `openat2` gives): the resolver's own `O_NOFOLLOW` is only used on an `O_PATH`
/// probe, never on the file returned.
fn open_last(
    cur: BorrowedFd<'_>,
    name: &[u8],
    how: &OpenHow,
    linkbuf: &mut Vec<u8>,
) -> Result<Found, Errno> {
    let flags = how.open_flags();
    let mode = how.mode_bits().to_rustix();
    // With O_NOFOLLOW, or O_CREAT|O_EXCL (which never follows), the kernel does not
    // follow the last component either: open it as asked.
    if flags.contains(OFlags::NOFOLLOW) || flags.contains(OFlags::CREATE | OFlags::EXCL) {
        return rustix::fs::openat(cur, name, final_flags(how), mode).map(Found::Fd);
    }
    if flags.contains(OFlags::CREATE) {
        // Create it if it is missing: O_EXCL never follows a symlink, and the new
        // file's status flags are the caller's (O_EXCL is not kept in them).
        match rustix::fs::openat(cur, name, final_flags(how) | OFlags::EXCL, mode) {
            Ok(fd) => return Ok(Found::Fd(fd)),
            Err(Errno::EXIST) => {} // It exists (perhaps as a symlink): open it below.
            Err(e) => return Err(e),
        }
    }
    let probe_flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let probe = match rustix::fs::openat(cur, name, probe_flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) if flags.contains(OFlags::CREATE) => {
            return Ok(Found::Raced("a file was removed while it was being opened"));
        }
        Err(e) => return Err(e),
    };
    if !flags.contains(OFlags::PATH) && flags.bits() & O_TMPFILE_BIT == 0 {
        // The common case first: open the file through the probe's magic link. A
        // symlink cannot be opened so (the link lands on the symlink itself, never
        // on its target): ELOOP, or ENOTDIR with O_DIRECTORY; then look at it.
        match crate::handle::open_fd_link(probe.as_fd(), final_flags(how), mode) {
            Ok(fd) => return Ok(Found::Fd(fd)),
            Err(Some(Errno::LOOP | Errno::NOTDIR)) | Err(None) => {}
            Err(Some(e)) => return Err(e),
        }
    }
    let st = rustix::fs::fstat(&probe)?;
    if FileType::from_raw_mode(st.st_mode).is_symlink() {
        return Ok(Found::Symlink(readlink(probe.as_fd(), b"", linkbuf)?));
    }
    reopen(probe.as_fd(), &st, how, Some((cur, name)))
}

/// The directory the walk ended in (`.`, `a/..`, `a/`), opened with the caller's
/// flags. `named`: its parent and name, when the walk reached it by a name.
fn open_dir_itself(
    cur: BorrowedFd<'_>,
    how: &OpenHow,
    named: Option<(BorrowedFd<'_>, &[u8])>,
) -> Result<Found, Errno> {
    let st = rustix::fs::fstat(cur)?;
    if how.open_flags().contains(OFlags::NOFOLLOW)
        && how.open_flags().bits() & O_TMPFILE_BIT == 0
        && let Some((parent, name)) = named
    {
        // "a/" with O_NOFOLLOW: the magic link cannot be opened with it, and "."
        // would need search permission on `a`, which the kernel does not ask for.
        // By name, with O_NOFOLLOW: it was a directory a moment ago, checked below.
        let new = rustix::fs::openat(parent, name, final_flags(how), how.mode_bits().to_rustix())?;
        let got = rustix::fs::fstat(&new)?;
        if (got.st_dev, got.st_ino) != (st.st_dev, st.st_ino) {
            return Ok(Found::Raced("a directory was replaced while it was opened"));
        }
        return Ok(Found::Fd(new));
    }
    reopen(cur, &st, how, None)
}

/// Opens the file the `O_PATH` fd `probe` names (not a symlink; `st` its stat)
/// with the caller's flags, through its `/proc/thread-self/fd/N` magic link.
/// Without a procfs at `/proc`, opens it relative to itself (a directory) or by
/// its name in `parent` with `O_NOFOLLOW` (its status flags then show
/// `O_NOFOLLOW`), checked to be the same file.
fn reopen(
    probe: BorrowedFd<'_>,
    st: &rustix::fs::Stat,
    how: &OpenHow,
    parent: Option<(BorrowedFd<'_>, &[u8])>,
) -> Result<Found, Errno> {
    let flags = final_flags(how);
    let mode = how.mode_bits().to_rustix();
    if flags.bits() & O_TMPFILE_BIT != 0 || flags.contains(OFlags::NOFOLLOW) {
        // O_TMPFILE: a new unnamed file in that directory (which needs search
        // permission on it anyway). O_NOFOLLOW (only for the directory the walk
        // ended in: a last name is opened directly): the magic link would not be
        // followed. Either way, relative to the directory itself.
        return rustix::fs::openat(probe, ".", flags, mode).map(Found::Fd);
    }
    match crate::handle::open_fd_link(probe, flags, mode) {
        Ok(fd) => Ok(Found::Fd(fd)),
        Err(Some(e)) => Err(e),
        Err(None) => {
            let new = match parent {
                Some((dir, name)) => rustix::fs::openat(dir, name, flags | OFlags::NOFOLLOW, mode)?,
                None => rustix::fs::openat(probe, ".", flags, mode)?,
            };
            // By name: it may have been replaced since it was looked at.
            let got = rustix::fs::fstat(&new)?;
            if (got.st_dev, got.st_ino) != (st.st_dev, st.st_ino) {
                return Ok(Found::Raced("the last component was replaced while opened"));
            }
            Ok(Found::Fd(new))
        }
    }
}

/// `readlinkat` into the buffer; a target filling it (longer than PATH_MAX - 1)
/// is ENAMETOOLONG.
fn readlink(dir: BorrowedFd<'_>, name: &[u8], buf: &mut Vec<u8>) -> Result<usize, Errno> {
    if buf.is_empty() {
        buf.resize(PATH_MAX, 0);
    }
    let n = rustix::fs::readlinkat_raw(dir, name, &mut buf[..])?;
    if n >= buf.len() {
        return Err(Errno::NAMETOOLONG);
    }
    Ok(n)
}

/// Checks that the real `..` of `cur` is `expected` (the fd below it on the stack).
/// Outer error: the check itself failed; inner: a rename was detected.
fn check_parent(cur: BorrowedFd<'_>, expected: BorrowedFd<'_>) -> Result<Result<(), Stop>, Errno> {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let real = rustix::fs::openat(cur, "..", flags, Mode::empty())?;
    let (a, b) = (rustix::fs::fstat(&real)?, rustix::fs::fstat(expected)?);
    if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino) {
        Ok(Ok(()))
    } else {
        Ok(Err(Stop::Raced(
            "a directory was moved while `..` was being resolved".into(),
        )))
    }
}

/// Whether a symlink in `dir` with this target is a procfs magic link: it lives on
/// procfs and its target is not a plain relative path (magic links read back as
/// an absolute path or as `type:[id]`; procfs's plain symlinks, `self`,
/// `thread-self`, `mounts`, `net`, read back as relative paths).
fn is_magic_link(dir: BorrowedFd<'_>, target: &[u8]) -> Result<bool, Errno> {
    if rustix::fs::fstatfs(dir)?.f_type != rustix::fs::PROC_SUPER_MAGIC {
        return Ok(false);
    }
    Ok(target.first() == Some(&b'/') || target.contains(&b':'))
}

/// What identifies the mount `fd` is on: its mount id (Linux 5.8+), else its device.
pub(crate) fn mount_key(fd: BorrowedFd<'_>) -> Result<(u64, u64), Errno> {
    let stx = rustix::fs::statx(
        fd,
        "",
        AtFlags::EMPTY_PATH | AtFlags::SYMLINK_NOFOLLOW,
        StatxFlags::MNT_ID,
    )?;
    if stx.stx_mask & StatxFlags::MNT_ID.bits() != 0 {
        Ok((stx.stx_mnt_id, 0))
    } else {
        Ok((
            0,
            (u64::from(stx.stx_dev_major) << 32) | u64::from(stx.stx_dev_minor),
        ))
    }
}
