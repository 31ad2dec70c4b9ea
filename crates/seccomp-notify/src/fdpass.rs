//! Passing the listener fd from the filtered child to the supervisor.
//!
//! The listener is created by the task that installs the filter, so it must travel:
//! over a Unix socket with `SCM_RIGHTS` ([`send_fd`] / [`recv_fd`], typically over a
//! `socketpair` made before forking), or taken by the supervisor with
//! `pidfd_getfd(pidfd, fd_number, 0)` (Linux 5.6; needs ptrace access to the child and
//! the fd's number there).
#![forbid(unsafe_code)]

use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use rustix::io::Errno;
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, recvmsg, sendmsg,
};

use crate::error::{Call, Error, Result};

/// Sends `fd` over the Unix socket `socket` (one byte of data and `SCM_RIGHTS`).
///
/// Allocation-free and lock-free, on success and on failure (the error is the bare
/// errno): usable in a child between `clone` and `execve`.
///
/// C: `sendmsg(socket, {iov: [0], cmsg: SCM_RIGHTS [fd]}, MSG_NOSIGNAL)`.
///
/// # Errors
/// The errno of `sendmsg` (`EPIPE` if the peer is gone).
///
/// # References
/// [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html)
pub fn send_fd(socket: impl AsFd, fd: BorrowedFd<'_>) -> Result<(), Errno> {
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    let fds = [fd];
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(Errno::NOBUFS);
    }
    sendmsg(
        socket,
        &[IoSlice::new(&[0])],
        &mut control,
        SendFlags::NOSIGNAL,
    )
    .map(drop)
}

/// Receives an fd sent with [`send_fd`] (with `MSG_CMSG_CLOEXEC`).
///
/// Allocation-free and lock-free, on success and on failure (its errors record the
/// call inline): usable in a child between `clone` and `execve`.
///
/// C: `recvmsg(socket, ..., MSG_CMSG_CLOEXEC)`.
///
/// # Errors
/// [`Error::NoFdReceived`] if the message (or end of file) carried none; [`Error::Syscall`].
///
/// # References
/// [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html)
pub fn recv_fd(socket: impl AsFd) -> Result<OwnedFd> {
    let socket = socket.as_fd();
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut byte = [0u8; 1];
    loop {
        match recvmsg(
            socket,
            &mut [IoSliceMut::new(&mut byte)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Ok(_) => break,
            Err(Errno::INTR) => continue,
            Err(errno) => {
                return Err(Error::syscall(
                    Call::new(
                        "recvmsg",
                        format_args!("fd {}, SCM_RIGHTS, MSG_CMSG_CLOEXEC", socket.as_raw_fd()),
                    ),
                    errno,
                ));
            }
        }
    }
    let mut received = None;
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(fds) = message {
            for fd in fds {
                // Keep the first; extra fds are closed as they drop.
                received.get_or_insert(fd);
            }
        }
    }
    received.ok_or(Error::NoFdReceived {
        fd: socket.as_raw_fd(),
    })
}
