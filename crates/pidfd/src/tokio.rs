//! Awaiting a process's exit through its pidfd (cargo feature `tokio`).
#![forbid(unsafe_code)]

use std::os::fd::AsRawFd;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::PidFd;
use crate::error::{Call, Error, Result};
use crate::spawn::Child;
use crate::types::ExitStatus;

fn register(pidfd: &PidFd) -> Result<AsyncFd<PidFd>> {
    // The AsyncFd owns its own duplicate of the pidfd, so the fd it registered
    // stays open and unchanged for the AsyncFd's whole life: the I/O-safety
    // requirement for which tokio deprecated the safe constructor is met by
    // construction (and the constructor exists in every tokio 1.x we allow).
    let dup = pidfd.try_clone()?;
    #[allow(deprecated)]
    AsyncFd::with_interest(dup, Interest::READABLE).map_err(|e| Error::Syscall {
        call: Call::new(
            "epoll_ctl",
            format_args!("EPOLL_CTL_ADD, fd {}, EPOLLIN", pidfd.as_raw_fd()),
        ),
        source: e,
    })
}

impl PidFd {
    /// Waits, without blocking the runtime, until the process exits, then reaps it:
    /// on each readiness `waitid(WNOHANG)`, else the readiness is cleared. Must be
    /// called inside a tokio runtime with I/O enabled.
    ///
    /// # Errors
    ///
    /// As [`PidFd::wait`]; registration failures with the reactor.
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub async fn wait_async(&self) -> Result<ExitStatus> {
        let afd = register(self)?;
        loop {
            let mut guard = afd.readable().await.map_err(|e| Error::Syscall {
                call: Call::new("epoll_wait", format_args!("fd {}", self.as_raw_fd())),
                source: e,
            })?;
            match self.try_wait()? {
                Some(st) => return Ok(st),
                None => guard.clear_ready(),
            }
        }
    }
}

impl Child {
    /// [`PidFd::wait_async`] for this child; the status is remembered like
    /// [`Child::wait`]'s. If the future is dropped before completion, the `Child`
    /// still reaps the process when it is dropped.
    ///
    /// # Errors
    ///
    /// As [`PidFd::wait_async`].
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub async fn wait_async(&mut self) -> Result<ExitStatus> {
        if let Some(st) = self.try_wait()? {
            return Ok(st);
        }
        let st = self.pidfd().wait_async().await?;
        self.record(st);
        Ok(st)
    }
}
