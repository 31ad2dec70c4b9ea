//! `/proc/PID` files of user namespaces: reading maps, and a directory handle that
//! stays bound to one process.
#![forbid(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use rustix::fs::{Mode, OFlags};
use rustix::process::Pid;

use crate::error::{Call, Error, Result};
use crate::map::IdMap;

/// The state of `/proc/PID/setgroups` of a user namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Setgroups {
    /// `setgroups(2)` is allowed in the namespace (the default).
    Allow,
    /// `setgroups(2)` is refused: required before an unprivileged `gid_map` write.
    Deny,
}

impl Setgroups {
    /// The word the file holds: "allow" or "deny".
    pub const fn as_str(self) -> &'static str {
        match self {
            Setgroups::Allow => "allow",
            Setgroups::Deny => "deny",
        }
    }
}

/// `/proc/PID` (or `/proc/self`) opened as a directory: every file opened through
/// it belongs to the same process, even if the pid is reused after the process
/// dies (the kernel then answers `ESRCH`).
#[derive(Debug)]
pub(crate) struct ProcDir {
    fd: OwnedFd,
    /// "self" or the pid, for messages.
    pub(crate) name: String,
}

impl ProcDir {
    pub(crate) fn open(pid: Option<Pid>) -> Result<ProcDir> {
        let name = match pid {
            Some(pid) => pid.as_raw_nonzero().to_string(),
            None => "self".to_string(),
        };
        let path = format!("/proc/{name}");
        let fd = rustix::fs::open(
            path.as_str(),
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            Error::syscall(
                Call::new("open", format_args!("{path:?}, O_PATH|O_DIRECTORY")),
                e,
            )
        })?;
        Ok(ProcDir { fd, name })
    }

    /// Opens `/proc/PID` for the process a pidfd refers to, and checks afterwards
    /// that the pidfd still refers to a live process with that pid: then no other
    /// process can have taken the pid in between, so the directory is the pidfd's.
    pub(crate) fn for_pidfd(pidfd: BorrowedFd<'_>) -> Result<ProcDir> {
        let before = pidfd_pid(pidfd)?;
        let pid = (before > 0).then(|| Pid::from_raw(before)).flatten();
        let pid = pid.ok_or_else(|| Error::SafetyViolation {
            what: format!(
                "pidfd {} refers to a process that has exited",
                pidfd.as_raw_fd()
            ),
        })?;
        let dir = ProcDir::open(Some(pid))?;
        let after = pidfd_pid(pidfd)?;
        if after != before {
            return Err(Error::SafetyViolation {
                what: format!(
                    "pidfd {} referred to pid {before}, which exited while /proc/{before} \
                     was opened",
                    pidfd.as_raw_fd()
                ),
            });
        }
        Ok(dir)
    }

    /// Opens a file of this directory.
    pub(crate) fn open_file(&self, file: &str, flags: OFlags) -> Result<OwnedFd, io::Error> {
        Ok(rustix::fs::openat(
            &self.fd,
            file,
            flags | OFlags::CLOEXEC,
            Mode::empty(),
        )?)
    }

    pub(crate) fn path(&self, file: &str) -> String {
        format!("/proc/{}/{file}", self.name)
    }

    pub(crate) fn read_to_string(&self, file: &str) -> Result<String> {
        let path = self.path(file);
        let fd = self.open_file(file, OFlags::RDONLY).map_err(|e| {
            Error::syscall(Call::new("open", format_args!("{path:?}, O_RDONLY")), e)
        })?;
        read_all(fd.as_fd())
            .map_err(|e| Error::syscall(Call::new("read", format_args!("{path:?}")), e))
    }

    /// Writes `text` to a file of this directory in one `write`.
    pub(crate) fn write_once(&self, file: &str, text: &str) -> Result<(), io::Error> {
        let fd = self.open_file(file, OFlags::WRONLY)?;
        let n = rustix::io::write(&fd, text.as_bytes())?;
        if n != text.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("short write: {n} of {} bytes", text.len()),
            ));
        }
        Ok(())
    }

    pub(crate) fn read_map(&self, file: &str) -> Result<Option<IdMap>> {
        let text = self.read_to_string(file)?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        let extents = crate::map::parse_extents(&text, &self.path(file))?;
        IdMap::new(extents).map(Some)
    }

    pub(crate) fn read_setgroups(&self) -> Result<Setgroups> {
        let text = self.read_to_string("setgroups")?;
        match text.trim() {
            "allow" => Ok(Setgroups::Allow),
            "deny" => Ok(Setgroups::Deny),
            _ => Err(Error::Parse {
                source_name: self.path("setgroups"),
                line: 1,
                text,
                reason: "expected \"allow\" or \"deny\"",
            }),
        }
    }
}

impl AsFd for ProcDir {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

fn read_all(fd: BorrowedFd<'_>) -> io::Result<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = rustix::io::read(fd, &mut buf)?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(out).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// The pid a pidfd refers to, from its fdinfo: -1 once the process has exited.
fn pidfd_pid(pidfd: BorrowedFd<'_>) -> Result<i32> {
    let raw = pidfd.as_raw_fd();
    let path = format!("/proc/self/fdinfo/{raw}");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::syscall(Call::new("read", format_args!("{path:?}")), e))?;
    text.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|v| v.trim().parse::<i32>().ok())
        .ok_or_else(|| {
            Error::syscall(
                Call::new(
                    "read",
                    format_args!("{path:?}: no Pid: line (not a pidfd?)"),
                ),
                io::Error::from_raw_os_error(libc::EBADF),
            )
        })
}

/// Reads the uid map of a process (`None`: the calling process), or `None` if it
/// has not been written yet.
///
/// The outside ids are shown as the kernel shows them to the caller: in the parent
/// namespace's ids when the caller is in the process's namespace, else in the
/// caller's own namespace's ids.
///
/// ```
/// use linception_userns::read_uid_map;
///
/// let map = read_uid_map(None)?.expect("the calling process's map is written");
/// assert!(map.map_down(rustix::process::getuid().as_raw()).is_some());
/// # Ok::<(), linception_userns::Error>(())
/// ```
///
/// # Errors
/// [`Error::Syscall`] if the file cannot be opened or read (`ESRCH`, `ENOENT`: no
/// such process), [`Error::Parse`] if its text is unexpected.
///
/// # References
/// [user_namespaces(7)](https://man7.org/linux/man-pages/man7/user_namespaces.7.html)
pub fn read_uid_map(pid: Option<Pid>) -> Result<Option<IdMap>> {
    ProcDir::open(pid)?.read_map("uid_map")
}

/// Reads the gid map of a process; see [`read_uid_map`].
///
/// # Errors
/// As [`read_uid_map`].
///
/// # References
/// [user_namespaces(7)](https://man7.org/linux/man-pages/man7/user_namespaces.7.html)
pub fn read_gid_map(pid: Option<Pid>) -> Result<Option<IdMap>> {
    ProcDir::open(pid)?.read_map("gid_map")
}

/// Reads `/proc/PID/setgroups` of a process (`None`: the calling process).
///
/// # Errors
/// As [`read_uid_map`].
///
/// # References
/// [user_namespaces(7)](https://man7.org/linux/man-pages/man7/user_namespaces.7.html)
pub fn read_setgroups(pid: Option<Pid>) -> Result<Setgroups> {
    ProcDir::open(pid)?.read_setgroups()
}
