//! The fds a container's process gets from the runtime's own caller, as runc
//! passes them: at `create` and `run`, the fds of systemd's socket activation
//! (`LISTEN_FDS` fds from 3 on, when `LISTEN_PID` is the runtime's pid), then the
//! `--preserve-fds N` fds after them; at `exec`, the `--preserve-fds` fds from 3.
//! Each keeps its number in the process, and with socket activation the process's
//! environment gets `LISTEN_FDS=N` and `LISTEN_PID=1` (appended, as runc does).
//!
//! Every fd is copied here, before anything is created (the runtime has opened
//! nothing of its own yet, so fds from 3 up are the caller's): one that is not
//! open is named, and nothing is made.
//!
//! # References
//! - [sd_listen_fds(3)](https://man7.org/linux/man-pages/man3/sd_listen_fds.3.html)

use std::os::fd::{OwnedFd, RawFd};

use crate::{Error, Result};

/// The first fd passed on (after stdin, stdout, stderr).
const FIRST: RawFd = 3;

/// The fds for the container's process, taken from the runtime's caller.
#[derive(Debug, Default)]
pub struct Passed {
    /// Each fd with the number it has in the process (its number here).
    pub fds: Vec<(RawFd, OwnedFd)>,
    /// How many of them came by socket activation (the first ones): `LISTEN_FDS`.
    pub listen_fds: u32,
}

impl Passed {
    /// Adds the fds (and, with socket activation, `LISTEN_FDS`/`LISTEN_PID`) to `b`.
    pub fn apply(self, mut b: linception::ContainerBuilder) -> linception::ContainerBuilder {
        if self.listen_fds > 0 {
            b = b
                .env("LISTEN_FDS", self.listen_fds.to_string())
                .env("LISTEN_PID", "1");
        }
        for (n, fd) in self.fds {
            b = b.pass_fd(fd, n);
        }
        b
    }
}

/// What systemd's socket activation says of this process: the count of
/// `LISTEN_FDS` when `LISTEN_PID` is this process (`None` when it is unset, or
/// meant for another process, as `sd_listen_fds` reads it).
///
/// # Errors
/// [`Error::Usage`] for a `LISTEN_FDS` of this process that is not a number.
pub fn listen_fds(listen_pid: Option<&str>, listen_fds: Option<&str>) -> Result<Option<u32>> {
    let (Some(pid), Some(n)) = (listen_pid, listen_fds) else {
        return Ok(None);
    };
    if pid.trim().parse::<u32>().ok() != Some(std::process::id()) {
        return Ok(None);
    }
    n.trim().parse().map(Some).map_err(|_| {
        Error::Usage(format!(
            "LISTEN_FDS={n:?} (socket activation of this runtime): not a number"
        ))
    })
}

/// Takes the fds: with `activation`, socket activation's (from the environment)
/// first, then `preserve` more (`--preserve-fds`).
///
/// # Errors
/// [`Error::Usage`] naming an fd that is not open, or a bad `LISTEN_FDS`.
pub fn take(preserve: u32, activation: bool) -> Result<Passed> {
    let listen = if activation {
        let var = |k| std::env::var(k).ok();
        listen_fds(var("LISTEN_PID").as_deref(), var("LISTEN_FDS").as_deref())?.unwrap_or(0)
    } else {
        0
    };
    let mut passed = Passed {
        fds: Vec::new(),
        listen_fds: listen,
    };
    let total = listen.saturating_add(preserve);
    if total > 253 {
        return Err(Error::Usage(format!(
            "--preserve-fds {preserve}: {total} fds to pass on (with LISTEN_FDS {listen}); \
             at most 253 can be"
        )));
    }
    let end = FIRST + total as RawFd;
    let copies = linception::inherited_fds(FIRST..end).map_err(|e| {
        let missing = match &e {
            linception::Error::InvalidArgument { what, .. } => what
                .strip_prefix("inherited fd ")
                .and_then(|n| n.parse::<RawFd>().ok()),
            _ => None,
        };
        let Some(n) = missing else {
            return Error::Usage(format!("--preserve-fds {preserve}: {e}"));
        };
        let i = (n - FIRST) as u32;
        if i < listen {
            Error::Usage(format!(
                "LISTEN_FDS {listen}: fd {n} (socket activation's) is not open in the runtime"
            ))
        } else {
            Error::Usage(format!(
                "--preserve-fds {preserve}: fd {n} (preserved fd {} of {preserve}) is not open \
                 in the runtime",
                i - listen
            ))
        }
    })?;
    passed.fds = (FIRST..end).zip(copies).collect();
    Ok(passed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_activation_is_read_as_sd_listen_fds_reads_it() {
        let me = std::process::id().to_string();
        assert_eq!(listen_fds(None, Some("2")).unwrap(), None);
        assert_eq!(listen_fds(Some(&me), None).unwrap(), None);
        assert_eq!(
            listen_fds(Some("1"), Some("2")).unwrap(),
            None,
            "another pid's"
        );
        assert_eq!(listen_fds(Some(&me), Some("2")).unwrap(), Some(2));
        let e = listen_fds(Some(&me), Some("two")).unwrap_err().to_string();
        assert!(e.starts_with("LISTEN_FDS=\"two\""), "{e}");
    }

    #[test]
    fn too_many_fds_are_refused_before_any_is_taken() {
        let e = take(254, false).unwrap_err().to_string();
        assert!(e.starts_with("--preserve-fds 254: 254 fds"), "{e}");
        assert!(take(0, false).unwrap().fds.is_empty());
    }
}
