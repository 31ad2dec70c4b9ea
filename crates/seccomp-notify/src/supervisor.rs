//! The supervisor loop: receive, ask a callback, answer; until the filter closes.
#![forbid(unsafe_code)]

use std::os::fd::{AsFd, AsRawFd};

use rustix::event::{PollFd, PollFlags, poll};
use rustix::io::Errno;

use crate::error::{Call, Error, Result};
use crate::listener::{Listener, Notification};

/// A callback's answer to a notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Response {
    /// The syscall returns this value ([`Listener::respond_value`]).
    Value(i64),
    /// The syscall fails with this errno ([`Listener::respond_errno`]).
    Errno(i32),
    /// The kernel runs the syscall ([`Listener::respond_continue`]).
    Continue,
    /// The callback answered already (for example with [`AddFd::send`](crate::AddFd::send)).
    Answered,
}

/// What a [`Listener::serve`] loop did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeStats {
    /// Notifications answered.
    pub answered: u64,
    /// Notifications whose caller died or was interrupted before the answer (`ENOENT`).
    pub gone: u64,
}

impl Listener {
    /// Answers notifications with `handler` until every task using the filter has
    /// exited (`POLLHUP`); returns what it did.
    ///
    /// Survives what happens to callers: a caller killed or interrupted while its
    /// notification is pending (`ENOENT` on receive or answer) is counted in
    /// [`ServeStats::gone`] and the loop goes on; `EINTR` is retried. The loop waits in
    /// `poll` then receives, so it notices the filter closing.
    ///
    /// Run one `serve` loop per filter: the kernel wakes every waiter for a
    /// notification, and a second loop that lost the race would block in `RECV`
    /// (which does not return when the filter closes). To answer on several
    /// threads, receive in one and hand the [`Notification`]s to workers: the
    /// answering methods take `&self`.
    ///
    /// ```no_run
    /// # use linception_seccomp_notify::{Listener, Response};
    /// # fn f(listener: Listener) -> Result<(), linception_seccomp_notify::Error> {
    /// let stats = listener.serve(|_listener, notif| {
    ///     if notif.args[0] == 1 { Response::Continue } else { Response::Errno(libc::EPERM) }
    /// })?;
    /// println!("{} answered, {} callers gone", stats.answered, stats.gone);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// The first unexpected failure of `poll`, receive or answer (e.g. `EBADF`).
    pub fn serve<F>(&self, mut handler: F) -> Result<ServeStats>
    where
        F: FnMut(&Listener, &Notification) -> Response,
    {
        let mut stats = ServeStats::default();
        loop {
            match self.wait_readable() {
                Ok(true) => {}
                Ok(false) => return Ok(stats),
                Err(err) => return Err(err),
            }
            let notif = match self.try_recv() {
                Ok(notif) => notif,
                // The filter lost its last task (Linux 6.11+ answer so at once).
                Err(Errno::NOENT) if self.is_closed() => return Ok(stats),
                // The caller was killed or interrupted before we got it.
                Err(Errno::NOENT) => {
                    stats.gone += 1;
                    continue;
                }
                Err(Errno::INTR) => continue,
                Err(errno) => return Err(self.recv_error(errno)),
            };
            let sent = match handler(self, &notif) {
                Response::Value(v) => self.try_send(notif.id, v, 0, 0),
                Response::Errno(e) => self.try_send(notif.id, 0, -e.abs(), 0),
                Response::Continue => self.try_send(
                    notif.id,
                    0,
                    0,
                    libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
                ),
                Response::Answered => Ok(()),
            };
            match sent {
                Ok(()) => stats.answered += 1,
                Err(Errno::NOENT) => stats.gone += 1,
                Err(errno) => return Err(self.send_error(notif.id, errno, "from serve")),
            }
        }
    }

    /// Waits until a notification is pending (`true`) or the filter has no task left
    /// (`false`); retries `EINTR`.
    ///
    /// # Errors
    /// [`Error::Syscall`] if `poll` fails.
    pub fn wait_readable(&self) -> Result<bool> {
        loop {
            match self.poll_state(None)? {
                PollState::Pending => return Ok(true),
                PollState::Closed => return Ok(false),
                PollState::Idle => {}
            }
        }
    }

    /// Whether the filter has no task left (`POLLHUP` without waiting); a failed
    /// `poll` counts as open.
    pub(crate) fn is_closed(&self) -> bool {
        let zero = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        matches!(self.poll_state(Some(&zero)), Ok(PollState::Closed))
    }

    /// One `poll` of the listener (`timeout` `None`: wait), `EINTR` as `Idle`.
    pub(crate) fn poll_state(&self, timeout: Option<&rustix::time::Timespec>) -> Result<PollState> {
        let mut fds = [PollFd::new(self, PollFlags::IN)];
        match poll(&mut fds, timeout) {
            Ok(_) => {
                let revents = fds[0].revents();
                Ok(if revents.contains(PollFlags::IN) {
                    PollState::Pending
                } else if revents.intersects(PollFlags::HUP | PollFlags::ERR) {
                    PollState::Closed
                } else {
                    PollState::Idle
                })
            }
            Err(Errno::INTR) => Ok(PollState::Idle),
            Err(errno) => Err(Error::syscall(
                Call::new(
                    "poll",
                    format_args!("[{{fd {}, POLLIN}}]", self.as_fd().as_raw_fd()),
                ),
                errno,
            )),
        }
    }
}

/// What `poll` says about a listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PollState {
    /// A notification waits (`POLLIN`).
    Pending,
    /// No task uses the filter any more (`POLLHUP`).
    Closed,
    /// Nothing yet (timeout or `EINTR`).
    Idle,
}
