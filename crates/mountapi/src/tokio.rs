//! Mount notifications as an async stream (cargo feature `tokio`).
#![forbid(unsafe_code)]

use std::os::fd::AsRawFd;
use std::task::{Context, Poll, ready};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::error::{Call, Error, Result};
use crate::notify::{MountEvent, MountWatch};

/// A [`MountWatch`] registered with the tokio reactor: its events one by one,
/// without blocking the runtime. [`poll_next_event`](Self::poll_next_event) has
/// the shape of `Stream::poll_next`, so wrapping it in any stream type is one line.
///
/// # Examples
/// ```no_run
/// use linception_mountapi::{MountEvents, MountWatch};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let ns = std::fs::File::open("/proc/self/ns/mnt")?;
/// let mut events = MountWatch::new(&ns, MountEvents::ATTACH | MountEvents::DETACH)?.into_async()?;
/// loop {
///     println!("{:?}", events.next_event().await?);
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct AsyncMountWatch {
    inner: AsyncFd<MountWatch>,
}

impl MountWatch {
    /// Registers the watch with the current tokio runtime (which must have I/O
    /// enabled).
    ///
    /// # Errors
    /// The reactor's registration (`epoll_ctl`) failing, or no runtime.
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub fn into_async(self) -> Result<AsyncMountWatch> {
        let fd = self.as_raw_fd();
        // The AsyncFd owns the MountWatch and so its fd: the fd it registers stays
        // open and unchanged for the AsyncFd's whole life, the I/O-safety
        // requirement for which tokio deprecated the safe constructor (which exists
        // in every tokio 1.x this crate allows).
        #[allow(deprecated)]
        let inner =
            AsyncFd::with_interest(self, Interest::READABLE).map_err(|e| Error::Syscall {
                call: Call::new("epoll_ctl", format_args!("EPOLL_CTL_ADD, fd {fd}, EPOLLIN")),
                source: e,
                log: Vec::new(),
            })?;
        Ok(AsyncMountWatch { inner })
    }
}

impl AsyncMountWatch {
    /// The next event, awaiting readiness of the fanotify fd.
    ///
    /// # Errors
    /// As [`MountWatch::next_event`].
    pub async fn next_event(&mut self) -> Result<MountEvent> {
        std::future::poll_fn(|cx| self.poll_next_event(cx)).await
    }

    /// Polls for the next event: `Ready` with one, or `Pending` with the task
    /// woken when the kernel has queued more.
    ///
    /// # Errors
    /// As [`MountWatch::next_event`].
    pub fn poll_next_event(&mut self, cx: &mut Context<'_>) -> Poll<Result<MountEvent>> {
        loop {
            if let Some(event) = self.inner.get_mut().try_queued() {
                return Poll::Ready(Ok(event));
            }
            let fd = self.inner.as_raw_fd();
            let mut guard =
                ready!(self.inner.poll_read_ready_mut(cx)).map_err(|e| Error::Syscall {
                    call: Call::new("epoll_wait", format_args!("fd {fd}")),
                    source: e,
                    log: Vec::new(),
                })?;
            guard.get_inner_mut().fill()?;
            if !guard.get_inner_mut().has_queued() {
                guard.clear_ready();
            }
        }
    }

    /// The watch itself (to add or remove namespaces).
    pub fn get_ref(&self) -> &MountWatch {
        self.inner.get_ref()
    }

    /// Deregisters from the reactor and gives the watch back.
    pub fn into_inner(self) -> MountWatch {
        self.inner.into_inner()
    }
}
