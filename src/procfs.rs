//! Small kernel files read in one go: one open, one read, one close (a proc file
//! has no size to read ahead of time, so a growing buffer would read it in
//! pieces), into the caller's buffer.
#![forbid(unsafe_code)]

use linception_pidfd::Pid;

/// A small proc file in `buf`: one open, one read, one close (no stat for a size
/// hint, no growing buffer). A proc file hands over what fits in one read, so a
/// file longer than `buf` comes back cut: `None` then, as when it cannot be read.
pub(crate) fn read_proc<'b>(path: &str, buf: &'b mut [u8]) -> Option<&'b str> {
    let fd = rustix::fs::open(
        path,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .ok()?;
    let n = rustix::io::read(&fd, &mut *buf).ok()?;
    if n == buf.len() {
        return None;
    }
    std::str::from_utf8(&buf[..n]).ok()
}

/// `/proc/<pid>/<file>` written into `buf`, without allocating.
pub(crate) fn pid_path<'b>(buf: &'b mut [u8], pid: Pid, file: &str) -> Option<&'b str> {
    use std::io::Write;
    let room = buf.len();
    let mut w = &mut buf[..];
    write!(w, "/proc/{}/{file}", pid.as_raw()).ok()?;
    let used = room - w.len();
    std::str::from_utf8(&buf[..used]).ok()
}
