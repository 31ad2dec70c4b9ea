//! The system calls rustix does not wrap: `mount_setattr`, `statmount`, `listmount`.
//! Every `unsafe` block of the crate is here.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd};

use rustix::io::Errno;

/// `statmount`'s number: system calls added since Linux 5.1 share one number on
/// every architecture, offset by the ABI base on MIPS (libc lacks it on some).
const SYS_STATMOUNT: libc::c_long = SYSCALL_BASE + 457;
/// `listmount`'s number; see [`SYS_STATMOUNT`].
const SYS_LISTMOUNT: libc::c_long = SYSCALL_BASE + 458;
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
    pub spare: u32,
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
