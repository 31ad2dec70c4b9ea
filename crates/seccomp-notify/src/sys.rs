//! Every `unsafe` call of the crate: the seccomp syscall, its ioctls and
//! `process_vm_readv`, which neither rustix nor std wraps.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use rustix::io::Errno;

/// One classic BPF instruction, laid out like the kernel's `struct sock_filter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(C)]
#[doc(alias = "sock_filter")]
pub struct SockFilter {
    /// The opcode (`BPF_LD | BPF_W | BPF_ABS`, ...).
    pub code: u16,
    /// Jump offset if the condition holds (relative to the next instruction).
    pub jt: u8,
    /// Jump offset if it does not.
    pub jf: u8,
    /// The constant operand.
    pub k: u32,
}

const _: () = assert!(size_of::<SockFilter>() == size_of::<libc::sock_filter>());

/// `SECCOMP_IOCTL_NOTIF_SET_FLAGS` = `SECCOMP_IOW(4, __u64)` (Linux 6.6).
pub(crate) const SECCOMP_IOCTL_NOTIF_SET_FLAGS: libc::Ioctl = 0x4008_2104 as libc::Ioctl;
/// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP`.
pub(crate) const SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP: u64 = 1;

/// Largest `seccomp_notif` / `seccomp_notif_resp` the kernel may report that the
/// stack buffers below accept (today's kernels: 80 and 24 bytes).
pub(crate) const NOTIF_BUF_WORDS: usize = 64;

fn check(ret: libc::c_long) -> Result<libc::c_long, Errno> {
    if ret < 0 {
        Err(Errno::from_raw_os_error(
            std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        ))
    } else {
        Ok(ret)
    }
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)`; returns the syscall's value
/// (a listener fd with `NEW_LISTENER`, else 0). Allocation-free and lock-free.
pub(crate) fn seccomp_set_mode_filter(
    program: &[SockFilter],
    flags: u32,
) -> Result<libc::c_long, Errno> {
    let fprog = libc::sock_fprog {
        len: program.len() as libc::c_ushort,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `SockFilter` is `#[repr(C)]` with the fields of `struct sock_filter`;
    // `fprog` points at `program.len()` (checked <= 4096 by the caller, so it fits in
    // `len`) instructions that outlive the call; the kernel copies them.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER as libc::c_ulong,
            flags as libc::c_ulong,
            &fprog as *const libc::sock_fprog,
        )
    };
    check(ret)
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, NULL)`: the kernel checks the flags
/// (`EINVAL` for one it lacks or a combination it refuses) before it reads the
/// program, which a NULL pointer makes fail with `EFAULT`: nothing is installed.
pub(crate) fn seccomp_probe_filter_flags(flags: u32) -> Result<libc::c_long, Errno> {
    // SAFETY: a NULL program pointer is never dereferenced by us; the kernel's
    // copy_from_user of it fails with EFAULT and the call changes nothing.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER as libc::c_ulong,
            flags as libc::c_ulong,
            std::ptr::null::<libc::sock_fprog>(),
        )
    };
    check(ret)
}

/// Wraps the fd returned by `seccomp(..., NEW_LISTENER, ...)`.
pub(crate) fn own_listener_fd(raw: libc::c_long) -> OwnedFd {
    // SAFETY: `raw` is the new listener fd the kernel just returned to us (O_CLOEXEC
    // is set by the kernel); nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(raw as RawFd) }
}

/// `seccomp(SECCOMP_GET_NOTIF_SIZES, 0, &sizes)`.
pub(crate) fn seccomp_get_notif_sizes() -> Result<libc::seccomp_notif_sizes, Errno> {
    let mut sizes = libc::seccomp_notif_sizes {
        seccomp_notif: 0,
        seccomp_notif_resp: 0,
        seccomp_data: 0,
    };
    // SAFETY: `sizes` is a writable `struct seccomp_notif_sizes`, the type this
    // operation fills.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_NOTIF_SIZES as libc::c_ulong,
            0 as libc::c_ulong,
            &mut sizes as *mut libc::seccomp_notif_sizes,
        )
    };
    check(ret).map(|_| sizes)
}

/// `seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &action)`: `Ok` when the kernel knows the
/// action (Linux 4.14).
pub(crate) fn seccomp_get_action_avail(action: u32) -> Result<(), Errno> {
    // SAFETY: the operation reads one u32 through the pointer, which points at a
    // live local of that type for the whole call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_ACTION_AVAIL as libc::c_ulong,
            0 as libc::c_ulong,
            &action as *const u32,
        )
    };
    check(ret).map(|_| ())
}

/// `ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, buf)`; `buf` must be zeroed and at least the
/// kernel's `sizeof(struct seccomp_notif)`.
pub(crate) fn notif_recv(
    fd: BorrowedFd<'_>,
    buf: &mut [u64; NOTIF_BUF_WORDS],
) -> Result<(), Errno> {
    // SAFETY: `buf` is writable for NOTIF_BUF_WORDS*8 bytes, which the caller checked
    // is at least the kernel's struct size; u64 alignment satisfies `seccomp_notif`.
    let ret = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_RECV,
            buf.as_mut_ptr(),
        )
    };
    check(ret as libc::c_long).map(drop)
}

/// `ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, buf)`; `buf` holds a `seccomp_notif_resp`
/// followed by zeros up to the kernel's size.
pub(crate) fn notif_send(fd: BorrowedFd<'_>, buf: &[u64; NOTIF_BUF_WORDS]) -> Result<(), Errno> {
    // SAFETY: `buf` is readable for NOTIF_BUF_WORDS*8 bytes, at least the kernel's
    // `sizeof(struct seccomp_notif_resp)` (checked by the caller).
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, buf.as_ptr()) };
    check(ret as libc::c_long).map(drop)
}

/// `ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id)`.
pub(crate) fn notif_id_valid(fd: BorrowedFd<'_>, id: u64) -> Result<(), Errno> {
    // SAFETY: the ioctl reads one u64 through the pointer, which is valid.
    let ret = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_ID_VALID,
            &id as *const u64,
        )
    };
    check(ret as libc::c_long).map(drop)
}

/// `ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd)`; returns the fd number in the target.
pub(crate) fn notif_addfd(
    fd: BorrowedFd<'_>,
    addfd: &libc::seccomp_notif_addfd,
) -> Result<i32, Errno> {
    // SAFETY: `addfd` is a valid `struct seccomp_notif_addfd`, the size encoded in
    // the ioctl number; the kernel only reads it.
    let ret = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_ADDFD,
            addfd as *const libc::seccomp_notif_addfd,
        )
    };
    check(ret as libc::c_long).map(|r| r as i32)
}

/// `ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, flags)` (the flags by value).
pub(crate) fn notif_set_flags(fd: BorrowedFd<'_>, flags: u64) -> Result<(), Errno> {
    // SAFETY: this ioctl takes its argument by value; no memory is passed.
    let ret = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            SECCOMP_IOCTL_NOTIF_SET_FLAGS,
            flags as libc::c_ulong,
        )
    };
    check(ret as libc::c_long).map(drop)
}

/// `process_vm_readv(pid, [buf], 1, [(addr, len)], 1, 0)`; returns the bytes read.
pub(crate) fn process_vm_read(pid: u32, addr: u64, buf: &mut [u8]) -> Result<usize, Errno> {
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as usize as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: `local` describes `buf`, writable for its length; `remote` is only an
    // address in the other process, which the kernel checks.
    let ret = unsafe { libc::process_vm_readv(pid as libc::pid_t, &local, 1, &remote, 1, 0) };
    check(ret as libc::c_long).map(|n| n as usize)
}

/// Registers an fd with the current tokio runtime, for readability.
#[cfg(feature = "tokio")]
pub(crate) fn register_async(
    fd: OwnedFd,
) -> Result<tokio::io::unix::AsyncFd<OwnedFd>, std::io::Error> {
    // SAFETY: the `AsyncFd` owns `fd`, an open `OwnedFd`, which is closed only when
    // it drops (after deregistering) and whose `as_raw_fd()` never changes, so the
    // registered number names the same open file for the `AsyncFd`'s whole life.
    unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
        .map_err(|e| e.into_parts().1)
}
