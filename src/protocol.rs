//! What the parent and the container child tell each other, encoded and decoded
//! in one place.
//!
//! - parent to child, on the sync pipe: [`RELEASE`] once the id maps are written
//!   and again after each hook pause (EOF instead means the parent gave up);
//! - child to creator, on the report pipe: a sequence of [`Message`]s, then EOF at
//!   `execve` (the pipe's end in the child is `O_CLOEXEC`);
//! - child to starter (a created container), on the accepted start connection: no
//!   message and EOF at `execve`, or the failure of a step after the start.
//!
//! A message is a 20-byte header (kind, step, errno, label length, log length, all
//! native-endian u32) followed by the step's label and the kernel's fs-context log,
//! so that a process that did not lower the plan (a starter) can still name the
//! failed step.
#![forbid(unsafe_code)]

use std::io::Read;

use crate::error::{Error, Result};

/// The byte that lets the child go on.
pub(crate) const RELEASE: u8 = 1;

/// The most bytes of a step label a message carries.
pub(crate) const LABEL_MAX: usize = 240;
/// The most bytes of a kernel fs-context message a message carries.
pub(crate) const LOG_MAX: usize = 256;

const HEADER: usize = 20;

/// The largest encoded message.
pub(crate) const MESSAGE_MAX: usize = HEADER + LABEL_MAX + LOG_MAX;

const FAILED: u32 = 0;
const PAUSED: u32 = 1;
const CREATED: u32 = 2;
const PHASES: u32 = 3;

/// How many timestamps a [`Message::Phases`] carries.
pub(crate) const MARKS: usize = crate::profile::MARKS;

/// A message of the child.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Message {
    /// A step failed; the child exits.
    Failed(Report),
    /// The child reached a hook point and waits for [`RELEASE`] on the sync pipe.
    Paused,
    /// Everything up to `execve` is done: the child waits for its start.
    Created,
    /// The child's phase timestamps (`CLOCK_MONOTONIC` ns, 0: not reached), sent
    /// just before `execve` when the spawn is profiled.
    Phases([u64; MARKS]),
}

/// A failed step, as the child reports it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Report {
    /// The index of the step in the plan.
    pub step: usize,
    /// The step's label (cut to [`LABEL_MAX`] bytes).
    pub label: String,
    /// The errno of its failed call.
    pub errno: i32,
    /// The kernel's fs-context message, for a failed `fsconfig`/`fsmount`.
    pub kernel_log: Option<String>,
}

/// The child's side: a fixed buffer, so that reporting allocates nothing.
pub(crate) struct MessageBuf {
    bytes: [u8; MESSAGE_MAX],
    log_len: usize,
    log: [u8; LOG_MAX],
}

impl MessageBuf {
    pub(crate) const fn new() -> Self {
        MessageBuf {
            bytes: [0; MESSAGE_MAX],
            log_len: 0,
            log: [0; LOG_MAX],
        }
    }

    /// Where a kernel log message is read into.
    pub(crate) fn log_space(&mut self) -> &mut [u8] {
        &mut self.log
    }

    /// Keeps the first `len` bytes of the log space.
    pub(crate) fn set_log_len(&mut self, len: usize) {
        self.log_len = len.min(LOG_MAX);
    }

    fn header(&mut self, kind: u32, step: usize, errno: i32, label: usize, log: usize) {
        let words = [kind, step as u32, errno as u32, label as u32, log as u32];
        for (i, w) in words.iter().enumerate() {
            self.bytes[i * 4..i * 4 + 4].copy_from_slice(&w.to_ne_bytes());
        }
    }

    /// Encodes the failure of step `step` (labelled `label`) with `errno`.
    pub(crate) fn failed(&mut self, step: usize, label: &str, errno: i32) -> &[u8] {
        let mut cut = label.len().min(LABEL_MAX);
        while !label.is_char_boundary(cut) {
            cut -= 1;
        }
        let log = self.log_len;
        self.header(FAILED, step, errno, cut, log);
        self.bytes[HEADER..HEADER + cut].copy_from_slice(&label.as_bytes()[..cut]);
        self.bytes[HEADER + cut..HEADER + cut + log].copy_from_slice(&self.log[..log]);
        &self.bytes[..HEADER + cut + log]
    }

    /// Encodes "paused at a hook point".
    pub(crate) fn paused(&mut self) -> &[u8] {
        self.header(PAUSED, 0, 0, 0, 0);
        &self.bytes[..HEADER]
    }

    /// Encodes the phase timestamps (the label area carries them).
    pub(crate) fn phases(&mut self, marks: &[u64; MARKS]) -> &[u8] {
        self.header(PHASES, 0, 0, MARKS * 8, 0);
        for (i, m) in marks.iter().enumerate() {
            self.bytes[HEADER + i * 8..HEADER + i * 8 + 8].copy_from_slice(&m.to_ne_bytes());
        }
        &self.bytes[..HEADER + MARKS * 8]
    }

    /// Encodes "created, waiting for the start".
    pub(crate) fn created(&mut self) -> &[u8] {
        self.header(CREATED, 0, 0, 0, 0);
        &self.bytes[..HEADER]
    }
}

/// Reads exactly `buf.len()` bytes, or fewer at EOF; returns how many.
fn read_full(from: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match from.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::syscall("read(container setup channel)", e)),
        }
    }
    Ok(n)
}

/// The parent's side: the next message, or `None` at EOF (the child reached
/// `execve`). Anything else than whole messages is a named error.
pub(crate) fn read(from: &mut impl Read) -> Result<Option<Message>> {
    let mut header = [0u8; HEADER];
    let n = read_full(from, &mut header)?;
    if n == 0 {
        return Ok(None);
    }
    let malformed = |what: &str| {
        Error::protocol(format!(
            "the container child sent {what}, not one of its messages"
        ))
    };
    if n < HEADER {
        return Err(malformed(&format!("a {n}-byte message")));
    }
    let word =
        |i: usize| u32::from_ne_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    let (kind, step, errno) = (word(0), word(4) as usize, word(8) as i32);
    let (label_len, log_len) = (word(12) as usize, word(16) as usize);
    match kind {
        PAUSED if step == 0 && errno == 0 && label_len == 0 && log_len == 0 => {
            return Ok(Some(Message::Paused));
        }
        CREATED if step == 0 && errno == 0 && label_len == 0 && log_len == 0 => {
            return Ok(Some(Message::Created));
        }
        PHASES if step == 0 && errno == 0 && label_len == MARKS * 8 && log_len == 0 => {
            let mut body = [0u8; MARKS * 8];
            if read_full(from, &mut body)? != body.len() {
                return Err(malformed("cut-off phase timestamps"));
            }
            let mut marks = [0u64; MARKS];
            for (i, m) in marks.iter_mut().enumerate() {
                *m = u64::from_ne_bytes(body[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
            }
            return Ok(Some(Message::Phases(marks)));
        }
        FAILED if errno > 0 && label_len <= LABEL_MAX && log_len <= LOG_MAX => {}
        _ => {
            return Err(malformed(&format!(
                "message kind {kind} (step {step}, errno {errno})"
            )));
        }
    }
    let mut body = vec![0u8; label_len + log_len];
    if read_full(from, &mut body)? != body.len() {
        return Err(malformed("a cut-off failure report"));
    }
    let label = String::from_utf8_lossy(&body[..label_len]).into_owned();
    let log = String::from_utf8_lossy(&body[label_len..])
        .trim_end()
        .to_owned();
    Ok(Some(Message::Failed(Report {
        step,
        label,
        errno,
        kernel_log: (!log.is_empty()).then_some(log),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Result<Option<Message>> {
        read(&mut &bytes[..])
    }

    #[test]
    fn phase_timestamps_round_trip() {
        let mut buf = MessageBuf::new();
        let marks = [1, u64::MAX, 0, 42, 7_000_000_000];
        let bytes = buf.phases(&marks).to_vec();
        assert_eq!(decode(&bytes).unwrap(), Some(Message::Phases(marks)));
        // Cut off, or with a wrong length: named, not misread.
        let e = decode(&bytes[..bytes.len() - 3]).unwrap_err().to_string();
        assert!(e.contains("cut-off phase timestamps"), "{e}");
        let mut bad = bytes.clone();
        bad[12] = 39;
        let e = decode(&bad).unwrap_err().to_string();
        assert!(e.contains("message kind 3"), "{e}");
    }

    #[test]
    fn messages_round_trip() {
        let mut buf = MessageBuf::new();
        let bytes = buf.failed(7, "mount proc on /proc", libc::EPERM).to_vec();
        assert_eq!(
            decode(&bytes).unwrap(),
            Some(Message::Failed(Report {
                step: 7,
                label: "mount proc on /proc".into(),
                errno: libc::EPERM,
                kernel_log: None
            }))
        );
        let mut buf = MessageBuf::new();
        let msg = b"e tmpfs: Bad value for 'size'\n";
        buf.log_space()[..msg.len()].copy_from_slice(msg);
        buf.set_log_len(msg.len());
        let bytes = buf.failed(3, "x", libc::EINVAL).to_vec();
        let Some(Message::Failed(r)) = decode(&bytes).unwrap() else {
            panic!("not a failure");
        };
        assert_eq!(
            r.kernel_log.as_deref(),
            Some("e tmpfs: Bad value for 'size'")
        );
        assert_eq!(decode(&[]).unwrap(), None);
        assert_eq!(
            decode(MessageBuf::new().paused()).unwrap(),
            Some(Message::Paused)
        );
        assert_eq!(
            decode(MessageBuf::new().created()).unwrap(),
            Some(Message::Created)
        );
    }

    #[test]
    fn messages_follow_each_other() {
        let mut stream = Vec::new();
        stream.extend_from_slice(MessageBuf::new().paused());
        stream.extend_from_slice(MessageBuf::new().created());
        let mut r = &stream[..];
        assert_eq!(read(&mut r).unwrap(), Some(Message::Paused));
        assert_eq!(read(&mut r).unwrap(), Some(Message::Created));
        assert_eq!(read(&mut r).unwrap(), None);
    }

    #[test]
    fn long_labels_are_cut_on_a_character() {
        let label = "é".repeat(200);
        let bytes = MessageBuf::new().failed(1, &label, 1).to_vec();
        let Some(Message::Failed(r)) = decode(&bytes).unwrap() else {
            panic!("not a failure");
        };
        assert!(r.label.len() <= LABEL_MAX && r.label.chars().all(|c| c == 'é'));
    }

    #[test]
    fn a_malformed_message_is_a_named_error() {
        let mut bad_kind = MessageBuf::new().created().to_vec();
        bad_kind[0] = 9;
        let cut = MessageBuf::new().failed(1, "label", 1)[..22].to_vec();
        for bad in [&[1u8, 2, 3][..], &[0; 20][..], &bad_kind[..], &cut[..]] {
            let e = decode(bad).unwrap_err();
            assert!(e.to_string().contains("not one of its messages"), "{e}");
        }
    }
}
