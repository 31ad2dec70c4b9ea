//! The crate's only `unsafe` code: a `clone3` whose child waits to be killed.
//!
//! A leaf: plain values in, the errno out on failure; the modules above build the
//! crate's errors.

use std::os::fd::{FromRawFd, OwnedFd};

use rustix::process::Pid;

/// The kernel's `struct clone_args`, first version (`CLONE_ARGS_SIZE_VER0`, 64 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
}

const _: () = assert!(std::mem::size_of::<CloneArgs>() == 64);

/// `clone3({ flags: CLONE_NEWUSER | CLONE_PIDFD, exit_signal: SIGCHLD })`: a child
/// in a new user namespace that does nothing but wait for a signal that kills it.
/// Returns its pid and pidfd, or the errno; the caller must kill and reap it.
pub(crate) fn clone_waiting_child_in_new_userns() -> Result<(Pid, OwnedFd), i32> {
    let mut pidfd: libc::c_int = -1;
    let mut args = CloneArgs {
        flags: (libc::CLONE_NEWUSER | libc::CLONE_PIDFD) as u64,
        pidfd: (&raw mut pidfd) as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    // SAFETY: `args` is a valid clone_args of the size passed, with no stack (the
    // child runs on a copy of this thread's stack, like fork) and `pidfd` pointing
    // at a live c_int. The child runs only the async-signal-safe `pause` loop below:
    // it allocates nothing and takes no lock (rustix's pause is the bare system
    // call), so being a one-thread copy of a possibly multithreaded process cannot
    // deadlock it.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &raw mut args,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if ret < 0 {
        return Err(
            rustix::io::Errno::from_io_error(&std::io::Error::last_os_error())
                .map_or(libc::EIO, |e| e.raw_os_error()),
        );
    }
    if ret == 0 {
        loop {
            // Returns only after a signal handler ran; then wait again.
            rustix::event::pause();
        }
    }
    // SAFETY: with CLONE_PIDFD the kernel stored a new pidfd, owned by nobody else,
    // in `pidfd` when clone3 succeeded.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    let pid = Pid::from_raw(ret as i32).ok_or(libc::EINVAL)?;
    Ok((pid, pidfd))
}
