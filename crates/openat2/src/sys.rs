//! The crate's only `unsafe` code: `openat2` with the whole `open_how` and its size,
//! for what rustix's wrapper cannot pass (64-bit flag and mode bits, fields after
//! `resolve`). A leaf: plain values in, an fd or rustix's `Errno` out; the
//! modules above build the errors.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use rustix::io::Errno;

/// The 64-bit fields after `resolve` a [`RawOpenHow`] carries.
pub(crate) const EXT_FIELDS: usize = 5;

/// `struct open_how` as the kernel reads it, with room for the fields of newer
/// kernels after `resolve`.
#[repr(C)]
pub(crate) struct RawOpenHow {
    pub(crate) flags: u64,
    pub(crate) mode: u64,
    pub(crate) resolve: u64,
    pub(crate) ext: [u64; EXT_FIELDS],
}

/// `openat2(dirfd, path, how, size)`: the kernel reads the first `size` bytes of
/// `how` (at most its whole size).
pub(crate) fn openat2(
    dirfd: BorrowedFd<'_>,
    path: &CStr,
    how: &RawOpenHow,
    size: usize,
) -> Result<OwnedFd, Errno> {
    let size = size.min(size_of::<RawOpenHow>());
    // SAFETY: `path` is NUL-terminated and borrowed for the call; `how` is a live,
    // initialized RawOpenHow and `size` is at most its size, so the kernel reads
    // only its bytes and writes none; `dirfd` is borrowed (open) for the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd.as_raw_fd(),
            path.as_ptr(),
            std::ptr::from_ref(how),
            size,
        )
    };
    if ret < 0 {
        return Err(Errno::from_raw_os_error(
            std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        ));
    }
    // SAFETY: a successful openat2 returns a new fd (an int) that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as std::os::fd::RawFd) })
}
