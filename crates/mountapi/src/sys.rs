//! The system calls rustix does not wrap: `mount_setattr`, `open_tree_attr`,
//! `statmount`, `listmount`, the nsfs ioctls and fanotify. Every `unsafe` block of
//! the crate is here.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use rustix::io::Errno;

/// `statmount`'s number: system calls added since Linux 5.1 share one number on
/// every architecture, offset by the ABI base on MIPS (libc lacks it on some).
const SYS_STATMOUNT: libc::c_long = SYSCALL_BASE + 457;
/// `listmount`'s number; see [`SYS_STATMOUNT`].
const SYS_LISTMOUNT: libc::c_long = SYSCALL_BASE + 458;
/// `open_tree_attr`'s number (Linux 6.15); see [`SYS_STATMOUNT`].
const SYS_OPEN_TREE_ATTR: libc::c_long = SYSCALL_BASE + 467;
#[cfg(target_arch = "mips")]
const SYSCALL_BASE: libc::c_long = 4000;
#[cfg(target_arch = "mips64")]
const SYSCALL_BASE: libc::c_long = 5000;
#[cfg(not(any(target_arch = "mips", target_arch = "mips64")))]
const SYSCALL_BASE: libc::c_long = 0;

/// `struct mount_attr`, version 0 (`MOUNT_ATTR_SIZE_VER0`, 32 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct MountAttrRaw {
    pub attr_set: u64,
    pub attr_clr: u64,
    pub propagation: u64,
    pub userns_fd: u64,
}

/// `MOUNT_ATTR_SIZE_VER0`.
pub(crate) const MOUNT_ATTR_SIZE_VER0: usize = 32;
const _: () = assert!(size_of::<MountAttrRaw>() == MOUNT_ATTR_SIZE_VER0);

/// `struct mnt_id_req`, version 1 (`MNT_ID_REQ_SIZE_VER1`, 32 bytes, Linux 6.10);
/// sent as version 0 (24 bytes, without `mnt_ns_id`) when that field is zero, so
/// that Linux 6.8 and 6.9 accept it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct MntIdReq {
    pub size: u32,
    /// `mnt_ns_fd` (Linux 6.18; `spare`, which had to be zero, before).
    pub mnt_ns_fd: u32,
    pub mnt_id: u64,
    pub param: u64,
    pub mnt_ns_id: u64,
}

/// `MNT_ID_REQ_SIZE_VER0`.
pub(crate) const MNT_ID_REQ_SIZE_VER0: u32 = 24;
/// `MNT_ID_REQ_SIZE_VER1`.
pub(crate) const MNT_ID_REQ_SIZE_VER1: u32 = 32;
const _: () = assert!(size_of::<MntIdReq>() == MNT_ID_REQ_SIZE_VER1 as usize);

fn last_errno() -> Errno {
    Errno::from_raw_os_error(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// `mount_setattr(dirfd, path, flags, attr, size)`. Allocates nothing.
pub(crate) fn mount_setattr(
    dirfd: BorrowedFd<'_>,
    path: &CStr,
    flags: u32,
    attr: &MountAttrRaw,
) -> Result<(), Errno> {
    // SAFETY: `path` is NUL-terminated and outlives the call; `attr` points at a
    // live `struct mount_attr` of exactly MOUNT_ATTR_SIZE_VER0 bytes, the size we
    // pass; `dirfd` is a borrowed, open fd (or AT_FDCWD).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd.as_raw_fd(),
            path.as_ptr(),
            flags,
            attr as *const MountAttrRaw,
            MOUNT_ATTR_SIZE_VER0,
        )
    };
    if ret < 0 { Err(last_errno()) } else { Ok(()) }
}

/// `open_tree_attr(dirfd, path, flags, attr, size)`: a new mount fd (CLOEXEC when
/// `flags` has `OPEN_TREE_CLOEXEC`). Allocates nothing.
pub(crate) fn open_tree_attr(
    dirfd: BorrowedFd<'_>,
    path: &CStr,
    flags: u32,
    attr: &MountAttrRaw,
) -> Result<OwnedFd, Errno> {
    // SAFETY: `path` is NUL-terminated and outlives the call; `attr` points at a
    // live `struct mount_attr` of exactly MOUNT_ATTR_SIZE_VER0 bytes, the size we
    // pass; `dirfd` is a borrowed, open fd (or AT_FDCWD).
    let ret = unsafe {
        libc::syscall(
            SYS_OPEN_TREE_ATTR,
            dirfd.as_raw_fd(),
            path.as_ptr(),
            flags,
            attr as *const MountAttrRaw,
            MOUNT_ATTR_SIZE_VER0,
        )
    };
    owned(ret)
}

/// Takes ownership of an fd a system call just returned (or its errno).
fn owned(ret: libc::c_long) -> Result<OwnedFd, Errno> {
    if ret < 0 {
        return Err(last_errno());
    }
    // SAFETY: the kernel returned this fd to us just now; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
}

/// `NS_GET_NSTYPE` (`_IO(0xb7, 0x3)`, Linux 4.11): the `CLONE_NEW*` type of a
/// namespace fd.
pub(crate) fn ns_get_nstype(fd: BorrowedFd<'_>) -> Result<i32, Errno> {
    // `libc::Ioctl`: the request's type is `unsigned long` in glibc, `int` in musl.
    const NS_GET_NSTYPE: libc::Ioctl = 0xb703;
    // SAFETY: the ioctl takes no argument; `fd` is open.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE) };
    if ret < 0 { Err(last_errno()) } else { Ok(ret) }
}

/// `NS_GET_MNTNS_ID` (`_IOR(0xb7, 0x5, __u64)`, Linux 6.10): the id of a mount
/// namespace fd.
pub(crate) fn ns_get_mntns_id(fd: BorrowedFd<'_>) -> Result<u64, Errno> {
    // The kernel takes the request as an `unsigned int`: the same 32 bits either way.
    const NS_GET_MNTNS_ID: libc::Ioctl = 0x8008_b705_u32 as libc::Ioctl;
    let mut id = 0u64;
    // SAFETY: the ioctl writes one __u64 through the pointer, which points at `id`.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_MNTNS_ID, &mut id as *mut u64) };
    if ret < 0 { Err(last_errno()) } else { Ok(id) }
}

/// `fanotify_init(flags, event_f_flags)`.
pub(crate) fn fanotify_init(flags: u32, event_f_flags: u32) -> Result<OwnedFd, Errno> {
    // SAFETY: integer arguments only.
    let ret = unsafe { libc::fanotify_init(flags, event_f_flags) };
    owned(ret.into())
}

/// `fanotify_mark(fd, flags, mask, dirfd, path)` with a NULL path (the mark is on
/// `dirfd` itself).
pub(crate) fn fanotify_mark(
    fd: BorrowedFd<'_>,
    flags: u32,
    mask: u64,
    dirfd: BorrowedFd<'_>,
) -> Result<(), Errno> {
    // SAFETY: both fds are open; a NULL path is allowed and means `dirfd` itself.
    let ret = unsafe {
        libc::fanotify_mark(
            fd.as_raw_fd(),
            flags,
            mask,
            dirfd.as_raw_fd(),
            std::ptr::null(),
        )
    };
    if ret < 0 { Err(last_errno()) } else { Ok(()) }
}

/// `statmount(req, buf, bufsize, 0)` into `buf` (8-byte aligned words).
pub(crate) fn statmount(req: &MntIdReq, buf: &mut [u64]) -> Result<(), Errno> {
    // SAFETY: `req` is a live `struct mnt_id_req` at least `req.size` bytes long
    // (the size is 24 or 32, the struct 32); `buf` is writable for
    // `buf.len() * 8` bytes, the size we pass, and 8-byte aligned as
    // `struct statmount` requires.
    let ret = unsafe {
        libc::syscall(
            SYS_STATMOUNT,
            req as *const MntIdReq,
            buf.as_mut_ptr(),
            size_of_val(buf),
            0u32,
        )
    };
    if ret < 0 { Err(last_errno()) } else { Ok(()) }
}

/// `listmount(req, ids, nr_ids, flags)`: the number of ids written into `ids`.
pub(crate) fn listmount(req: &MntIdReq, ids: &mut [u64], flags: u32) -> Result<usize, Errno> {
    // SAFETY: `req` is a live `struct mnt_id_req` of at least `req.size` bytes;
    // `ids` is writable for `ids.len()` u64 values, the count we pass.
    let ret = unsafe {
        libc::syscall(
            SYS_LISTMOUNT,
            req as *const MntIdReq,
            ids.as_mut_ptr(),
            ids.len(),
            flags,
        )
    };
    if ret < 0 {
        Err(last_errno())
    } else {
        Ok(ret as usize)
    }
}

/// The bytes of `words`, in memory order (to read `struct statmount` fields).
pub(crate) fn words_as_bytes(words: &[u64]) -> &[u8] {
    // SAFETY: the pointer and length cover exactly the memory of `words`, which is
    // initialized and borrowed for the returned lifetime; `u8` has alignment 1 and
    // every bit pattern is a valid `u8`.
    unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), size_of_val(words)) }
}
