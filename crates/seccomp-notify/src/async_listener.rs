//! An async listener for tokio (cargo feature `tokio`).
#![forbid(unsafe_code)]

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use tokio::io::unix::AsyncFd;

use crate::error::{Call, Error, Result};
use crate::listener::{Listener, Notification};
use crate::supervisor::PollState;

/// A [`Listener`] whose `recv` is awaited (readiness through
/// `tokio::io::unix::AsyncFd`). Answers are the listener's synchronous methods: they
/// never block. Use one task to receive; any task may answer.
///
/// ```no_run
/// # async fn f(listener: linception_seccomp_notify::Listener) -> Result<(), linception_seccomp_notify::Error> {
/// use linception_seccomp_notify::{AsyncListener, Error};
/// let listener = AsyncListener::new(listener)?;
/// loop {
///     match listener.recv().await {
///         Ok(notif) => { let _ = listener.get_ref().respond_continue(notif.id); }
///         Err(Error::NotificationGone { .. }) => continue,
///         Err(Error::Closed) => break,
///         Err(err) => return Err(err),
///     }
/// }
/// # Ok(()) }
/// ```
///
/// The reactor watches a duplicate of the listener's fd (`F_DUPFD_CLOEXEC`): both
/// name the same open file, so its readiness is the listener's, and each fd has
/// exactly one owner.
#[derive(Debug)]
pub struct AsyncListener {
    // Declared first, dropped first: deregistered before the listener closes.
    readiness: AsyncFd<OwnedFd>,
    listener: Listener,
}

impl AsyncListener {
    /// Registers the listener with the current tokio runtime.
    ///
    /// # Errors
    /// [`Error::Syscall`] if duplicating the fd (`EMFILE`) or the registration
    /// (`epoll_ctl`) fails, or outside a runtime.
    pub fn new(listener: Listener) -> Result<Self> {
        let fd = listener.as_fd().as_raw_fd();
        let dup = listener.try_clone()?;
        let readiness =
            crate::sys::register_async(OwnedFd::from(dup)).map_err(|source| Error::Syscall {
                call: Call::new("epoll_ctl", format_args!("EPOLL_CTL_ADD, fd {fd}, EPOLLIN")),
                source,
            })?;
        Ok(AsyncListener {
            readiness,
            listener,
        })
    }

    /// The listener, to answer with.
    pub fn get_ref(&self) -> &Listener {
        &self.listener
    }

    /// Gives the listener back (deregistering it).
    pub fn into_inner(self) -> Listener {
        let AsyncListener {
            readiness,
            listener,
        } = self;
        drop(readiness);
        listener
    }

    /// Waits for the next notification.
    ///
    /// # Errors
    /// [`Error::Closed`] once every task using the filter has exited;
    /// [`Error::NotificationGone`] if the caller vanished before the receive (call
    /// again); [`Error::Syscall`].
    pub async fn recv(&self) -> Result<Notification> {
        let zero = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        loop {
            let mut guard = self
                .readiness
                .readable()
                .await
                .map_err(|source| Error::Syscall {
                    call: Call::new(
                        "epoll_wait",
                        format_args!("seccomp listener fd {}", self.listener.as_raw_fd()),
                    ),
                    source,
                })?;
            match self.get_ref().poll_state(Some(&zero))? {
                PollState::Pending => {
                    return self.get_ref().recv();
                }
                PollState::Closed => return Err(Error::Closed),
                PollState::Idle => guard.clear_ready(),
            }
        }
    }
}
