//! A tmpfs's copy-up ([`Mount::copy_up`](crate::Mount::copy_up)): the container
//! child copies a directory of the root into the new, still detached tmpfs before
//! the tmpfs covers it, as runc and crun do for the `tmpcopyup` mount option.
//!
//! Runs between `clone3` and `execve`: raw syscalls on stack buffers, no
//! allocation, no lock. Directories, regular files, symlinks, fifos, sockets and
//! device nodes are copied with their owner and mode (the owner first: a `chown`
//! clears the set-id bits); access times, extended attributes and hard links are
//! not kept (each link becomes a file of its own), as runc's copy does not.
#![forbid(unsafe_code)]

use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir};
use rustix::io::Errno;
use rustix::process::{Gid, Uid};

/// How deep below the copied directory a copy goes: deeper is `ELOOP` (each level
/// holds a 2 KiB directory buffer on the child's stack, which is 256 KiB when the
/// child shares the parent's memory).
pub(crate) const MAX_DEPTH: usize = 32;

/// The longest symlink content copied (`PATH_MAX`, its NUL included).
const LINK_MAX: usize = 4096;

/// Copies what the directory `src` holds into the directory `dst` (empty, of the
/// new tmpfs), `depth` levels below the copy's top.
///
/// # Errors
///
/// The first failed call's errno: `ELOOP` past [`MAX_DEPTH`], `ENAMETOOLONG` for a
/// symlink longer than `PATH_MAX`, `ENOSPC` when the tmpfs is too small, `EINVAL`
/// for an owner the container's user namespace does not map.
pub(crate) fn copy_contents(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    depth: usize,
) -> Result<(), Errno> {
    if depth > MAX_DEPTH {
        return Err(Errno::LOOP);
    }
    let mut buf = [MaybeUninit::<u8>::uninit(); 2048];
    let mut entries = RawDir::new(src, &mut buf);
    while let Some(entry) = entries.next() {
        let entry = entry?;
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        copy_entry(src, dst, name, depth)?;
    }
    Ok(())
}

/// Copies the entry `name` of `src` into `dst`.
fn copy_entry(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    name: &CStr,
    depth: usize,
) -> Result<(), Errno> {
    let st = rustix::fs::statat(src, name, AtFlags::SYMLINK_NOFOLLOW)?;
    let mode = Mode::from_raw_mode(st.st_mode & 0o7777);
    let owner = (
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    );
    let nofollow = OFlags::NOFOLLOW | OFlags::CLOEXEC;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {
            rustix::fs::mkdirat(dst, name, Mode::from_raw_mode(0o700))?;
            let from = rustix::fs::openat(
                src,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | nofollow,
                Mode::empty(),
            )?;
            let to = rustix::fs::openat(
                dst,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | nofollow,
                Mode::empty(),
            )?;
            copy_contents(from.as_fd(), to.as_fd(), depth + 1)?;
            rustix::fs::fchown(&to, owner.0, owner.1)?;
            rustix::fs::fchmod(&to, mode)
        }
        FileType::RegularFile => {
            let from = rustix::fs::openat(src, name, OFlags::RDONLY | nofollow, Mode::empty())?;
            let to = rustix::fs::openat(
                dst,
                name,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | nofollow,
                Mode::from_raw_mode(0o600),
            )?;
            copy_bytes(&from, &to)?;
            rustix::fs::fchown(&to, owner.0, owner.1)?;
            rustix::fs::fchmod(&to, mode)
        }
        FileType::Symlink => {
            copy_symlink(src, dst, name)?;
            rustix::fs::chownat(dst, name, owner.0, owner.1, AtFlags::SYMLINK_NOFOLLOW)
        }
        kind @ (FileType::Fifo
        | FileType::Socket
        | FileType::CharacterDevice
        | FileType::BlockDevice) => {
            rustix::fs::mknodat(dst, name, kind, Mode::from_raw_mode(0o600), st.st_rdev)?;
            rustix::fs::chownat(dst, name, owner.0, owner.1, AtFlags::SYMLINK_NOFOLLOW)?;
            rustix::fs::chmodat(dst, name, mode, AtFlags::empty())
        }
        FileType::Unknown => Err(Errno::INVAL),
    }
}

/// Makes the symlink `name` of `src` in `dst`. Not inlined: its `PATH_MAX` buffer
/// is on the stack only while a link is copied, not on every level of the walk.
#[inline(never)]
fn copy_symlink(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, name: &CStr) -> Result<(), Errno> {
    let mut content = [0u8; LINK_MAX];
    let n = rustix::fs::readlinkat_raw(src, name, &mut content[..LINK_MAX - 1])?;
    if n >= LINK_MAX - 1 {
        return Err(Errno::NAMETOOLONG);
    }
    let points_to = CStr::from_bytes_until_nul(&content).map_err(|_| Errno::NAMETOOLONG)?;
    rustix::fs::symlinkat(points_to, dst, name)
}

/// Copies a file's bytes: `sendfile` (any two files), or `read`/`write` through a
/// stack buffer where `sendfile` refuses the pair. Not inlined, for the same reason.
#[inline(never)]
fn copy_bytes(from: &OwnedFd, to: &OwnedFd) -> Result<(), Errno> {
    loop {
        match rustix::fs::sendfile(to, from, None, 1 << 20) {
            Ok(0) => return Ok(()),
            Ok(_) | Err(Errno::INTR) => {}
            Err(Errno::INVAL | Errno::NOSYS) => break,
            Err(e) => return Err(e),
        }
    }
    let mut buf = [0u8; 8192];
    loop {
        let n = match rustix::io::read(from, &mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        };
        let mut written = 0;
        while written < n {
            match rustix::io::write(to, &buf[written..n]) {
                Ok(w) => written += w,
                Err(Errno::INTR) => {}
                Err(e) => return Err(e),
            }
        }
    }
}
