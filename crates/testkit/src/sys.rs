//! Every system call of the test kit that needs `unsafe`, each behind a safe
//! function; the rest of the crate forbids unsafe code.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::alloc::{ALLOCATIONS, CountingAllocator};

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// The effective uid.
pub(crate) fn geteuid() -> u32 {
    // SAFETY: geteuid takes no arguments and cannot fail.
    unsafe { libc::geteuid() }
}

/// The effective gid.
pub(crate) fn getegid() -> u32 {
    // SAFETY: getegid takes no arguments and cannot fail.
    unsafe { libc::getegid() }
}

/// `pipe2(O_CLOEXEC)`: the read end, then the write end.
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two c_ints for pipe2 to fill.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: the kernel just returned both fds to us and nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// What `fork` returned to the caller.
pub(crate) enum Forked {
    /// In the new child.
    Child,
    /// In the parent, with the child's pid.
    Parent(libc::pid_t),
}

/// `fork()`. The child is a single-threaded copy of a possibly multithreaded
/// process: `Fork::run` lets it run only the test's closure and then `exit_now`,
/// as its docs tell the test writer (no locks other threads could have held).
pub(crate) fn fork() -> io::Result<Forked> {
    // SAFETY: the child gets copies of our memory and fds and no other thread; the
    // only code it runs is Fork::run's child branch, which ends in exit_now (no
    // return into the caller's frames, no atexit handlers or destructors).
    match check(unsafe { libc::fork() })? {
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid)),
    }
}

/// `_exit(code)`: ends the process now, without destructors or atexit handlers.
pub(crate) fn exit_now(code: libc::c_int) -> ! {
    // SAFETY: _exit takes an int and never returns.
    unsafe { libc::_exit(code) }
}

/// `kill(pid, SIGKILL)` of an unreaped child of ours.
pub(crate) fn kill_child(pid: libc::pid_t) {
    // SAFETY: plain syscall with integer arguments; the caller passes its own
    // unreaped child, so the number cannot have been reused.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

/// `waitpid(pid, &status, 0)`, retried on EINTR; the wait status.
pub(crate) fn waitpid(pid: libc::pid_t) -> io::Result<libc::c_int> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer for the call.
        match check(unsafe { libc::waitpid(pid, &mut status, 0) }) {
            Ok(_) => return Ok(status),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// `dup2(fd, target)`: `target` becomes a copy of `fd`, without CLOEXEC.
pub(crate) fn dup2(fd: BorrowedFd<'_>, target: RawFd) -> io::Result<()> {
    // SAFETY: `fd` is open for the call; the caller gives up whatever `target` was
    // (it replaces fd 2 of a child it owns entirely).
    check(unsafe { libc::dup2(fd.as_raw_fd(), target) }).map(drop)
}

/// `poll(fds, timeout)`, rounded up to whole milliseconds; EINTR counts as no
/// event. The number of fds with events.
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout: Duration) -> io::Result<usize> {
    let ms = timeout.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as libc::c_int;
    // SAFETY: `fds` is a valid array of `fds.len()` pollfds for the call.
    match check(unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) }) {
        Ok(n) => Ok(n as usize),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
        Err(e) => Err(e),
    }
}

/// `unshare(flags)`.
pub(crate) fn unshare(flags: libc::c_int) -> io::Result<()> {
    // SAFETY: unshare takes flags only; the caller is a single-threaded child.
    check(unsafe { libc::unshare(flags) }).map(drop)
}

/// `mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)`: nothing mounted in this
/// (new) mount namespace propagates out of it.
pub(crate) fn make_mounts_private() -> io::Result<()> {
    // SAFETY: all pointers are valid NUL-terminated strings or null.
    check(unsafe {
        libc::mount(
            c"none".as_ptr(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    })
    .map(drop)
}

/// `setgroups(0, NULL)`: no supplementary groups.
pub(crate) fn clear_groups() -> io::Result<()> {
    // SAFETY: a zero-length list needs no buffer.
    check(unsafe { libc::setgroups(0, std::ptr::null()) }).map(drop)
}

/// `setresgid(gid, gid, gid)`.
pub(crate) fn set_all_gids(gid: u32) -> io::Result<()> {
    // SAFETY: plain credential syscall; the caller is a single-threaded child.
    check(unsafe { libc::setresgid(gid, gid, gid) }).map(drop)
}

/// `setresuid(uid, uid, uid)`.
pub(crate) fn set_all_uids(uid: u32) -> io::Result<()> {
    // SAFETY: plain credential syscall; the caller is a single-threaded child.
    check(unsafe { libc::setresuid(uid, uid, uid) }).map(drop)
}

/// `prctl(PR_SET_DUMPABLE, 1)`.
pub(crate) fn set_dumpable() -> io::Result<()> {
    // SAFETY: PR_SET_DUMPABLE takes an integer and no pointers.
    check(unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) }).map(drop)
}

// SAFETY: forwards every call to the system allocator unchanged; it only counts.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which we forward.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr came from System through this allocator with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: ptr came from System through this allocator with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
