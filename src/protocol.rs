//! What the parent and the container child tell each other, encoded and decoded
//! in one place.
//!
//! - parent to child, on the sync pipe: [`RELEASE`] once the id maps are written
//!   (EOF instead means the parent gave up);
//! - child to parent, on the report pipe: nothing (EOF at `execve`, which closes the
//!   pipe's `O_CLOEXEC` end) on success, or one [`Report`] of the step that failed.
#![forbid(unsafe_code)]

use crate::error::{Error, Result};

/// The byte that lets the child go on.
pub(crate) const RELEASE: u8 = 1;

/// The most bytes of a kernel fs-context message a report carries.
pub(crate) const LOG_MAX: usize = 256;

/// The report header: step (u32), errno (i32), log length (u32).
const HEADER: usize = 12;

/// The largest encoded report.
pub(crate) const REPORT_MAX: usize = HEADER + LOG_MAX;

/// A failed step, as the child reports it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Report {
    /// The index of the step in the plan.
    pub step: usize,
    /// The errno of its failed call.
    pub errno: i32,
    /// The kernel's fs-context message, for a failed `fsconfig`/`fsmount`.
    pub kernel_log: Option<String>,
}

/// The child's side: a fixed buffer, so that reporting allocates nothing.
pub(crate) struct ReportBuf {
    bytes: [u8; REPORT_MAX],
    log_len: usize,
}

impl ReportBuf {
    pub(crate) const fn new() -> Self {
        ReportBuf {
            bytes: [0; REPORT_MAX],
            log_len: 0,
        }
    }

    /// Where a kernel log message is read into.
    pub(crate) fn log_space(&mut self) -> &mut [u8] {
        &mut self.bytes[HEADER..]
    }

    /// Keeps the first `len` bytes of the log space.
    pub(crate) fn set_log_len(&mut self, len: usize) {
        self.log_len = len.min(LOG_MAX);
    }

    /// Encodes the report of `step` failing with `errno`; returns the bytes to send.
    pub(crate) fn encode(&mut self, step: usize, errno: i32) -> &[u8] {
        let len = self.log_len;
        self.bytes[0..4].copy_from_slice(&(step as u32).to_ne_bytes());
        self.bytes[4..8].copy_from_slice(&errno.to_ne_bytes());
        self.bytes[8..12].copy_from_slice(&(len as u32).to_ne_bytes());
        &self.bytes[..HEADER + len]
    }
}

/// The parent's side: the bytes read until EOF. Empty means the child reached
/// `execve`; anything else must be one whole report.
pub(crate) fn decode(bytes: &[u8]) -> Result<Option<Report>> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let word = |i: usize| -> [u8; 4] { [bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]] };
    let malformed = || {
        Error::protocol(format!(
            "the container child sent a {}-byte report, not a step and errno",
            bytes.len()
        ))
    };
    if bytes.len() < HEADER {
        return Err(malformed());
    }
    let step = u32::from_ne_bytes(word(0)) as usize;
    let errno = i32::from_ne_bytes(word(4));
    let len = u32::from_ne_bytes(word(8)) as usize;
    if len > LOG_MAX || bytes.len() != HEADER + len || errno <= 0 {
        return Err(malformed());
    }
    let log = String::from_utf8_lossy(&bytes[HEADER..])
        .trim_end()
        .to_owned();
    Ok(Some(Report {
        step,
        errno,
        kernel_log: (!log.is_empty()).then_some(log),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_round_trip() {
        let mut buf = ReportBuf::new();
        let bytes = buf.encode(7, libc::EPERM).to_vec();
        assert_eq!(
            decode(&bytes).unwrap(),
            Some(Report {
                step: 7,
                errno: libc::EPERM,
                kernel_log: None
            })
        );
        let mut buf = ReportBuf::new();
        let msg = b"e tmpfs: Bad value for 'size'\n";
        buf.log_space()[..msg.len()].copy_from_slice(msg);
        buf.set_log_len(msg.len());
        let bytes = buf.encode(3, libc::EINVAL).to_vec();
        let r = decode(&bytes).unwrap().unwrap();
        assert_eq!(
            r.kernel_log.as_deref(),
            Some("e tmpfs: Bad value for 'size'")
        );
        assert_eq!(decode(&[]).unwrap(), None);
    }

    #[test]
    fn a_malformed_report_is_a_named_error() {
        for bad in [&[1u8, 2, 3][..], &[0; 13][..], &[0; 12][..]] {
            let e = decode(bad).unwrap_err();
            assert!(e.to_string().contains("report"), "{e}");
        }
        let mut buf = ReportBuf::new();
        buf.set_log_len(10_000);
        assert_eq!(buf.encode(1, 1).len(), REPORT_MAX);
    }
}
