//! Writing `uid_map`, `gid_map` and `setgroups` of another process.
#![forbid(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::process::{Command, Stdio};

use rustix::process::Pid;
use rustix::thread::CapabilitySet;

use crate::error::{Call, Error, MapRule, Result};
use crate::map::IdMap;
use crate::proc::{ProcDir, Setgroups};

/// Which of a namespace's two maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapKind {
    /// `/proc/PID/uid_map`.
    Uid,
    /// `/proc/PID/gid_map`.
    Gid,
}

impl MapKind {
    /// The file's name under `/proc/PID`.
    pub const fn file_name(self) -> &'static str {
        match self {
            MapKind::Uid => "uid_map",
            MapKind::Gid => "gid_map",
        }
    }

    /// The capability that lets a writer map ids other than its own.
    fn capability(self) -> CapabilitySet {
        match self {
            MapKind::Uid => CapabilitySet::SETUID,
            MapKind::Gid => CapabilitySet::SETGID,
        }
    }

    /// The caller's own effective id of this kind.
    fn own_id(self) -> u32 {
        match self {
            MapKind::Uid => rustix::process::geteuid().as_raw(),
            MapKind::Gid => rustix::process::getegid().as_raw(),
        }
    }

    fn helper(self) -> &'static str {
        match self {
            MapKind::Uid => "newuidmap",
            MapKind::Gid => "newgidmap",
        }
    }
}

/// How [`MapWriter`] writes the maps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WriteMode {
    /// Privileged for a map if the caller holds `CAP_SETUID` (uid_map) or
    /// `CAP_SETGID` (gid_map), else unprivileged.
    #[default]
    Auto,
    /// Write the maps as given (root, or `CAP_SETUID`/`CAP_SETGID` over the parent
    /// namespace): any ranges mapped in the caller's namespace. `setgroups` is left
    /// alone unless [`MapWriter::setgroups`] asks.
    Privileged,
    /// Only the caller's own effective uid/gid, one extent of count 1, checked before
    /// any write; "deny" is written to `setgroups` before `gid_map`.
    Unprivileged,
    /// Run the setuid helpers `newuidmap` and `newgidmap`, which allow the ranges of
    /// `/etc/subuid` and `/etc/subgid` (and handle `setgroups` themselves).
    Helpers,
}

/// Writes a child process's id maps from outside: the caller must be in the parent
/// of the child's user namespace (or in it).
///
/// Each map is written in one `write`, as the kernel requires, through one
/// `/proc/PID` directory handle so every file belongs to the same process. When
/// the kernel refuses, the error names the rule that was broken ([`MapRule`]).
///
/// ```
/// use linception_userns::{IdMap, MapWriter};
/// use rustix::process::Pid;
///
/// /// `pid`: a child that called unshare(CLONE_NEWUSER) and waits for its maps.
/// fn map_child(pid: Pid) -> Result<(), linception_userns::Error> {
///     MapWriter::new()
///         .uid_map(IdMap::single(0, 100_000, 65_536)?)
///         .gid_map(IdMap::single(0, 100_000, 65_536)?)
///         .write(pid)
/// }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct MapWriter {
    uid_map: Option<IdMap>,
    gid_map: Option<IdMap>,
    mode: WriteMode,
    setgroups: Option<Setgroups>,
}

impl MapWriter {
    /// A writer with no maps, in [`WriteMode::Auto`].
    pub fn new() -> Self {
        MapWriter::default()
    }

    /// The rootless setup: `inside_uid` and `inside_gid` map to the caller's own
    /// effective uid and gid, in [`WriteMode::Unprivileged`].
    pub fn own_ids(inside_uid: u32, inside_gid: u32) -> Self {
        let uid = IdMap::single(inside_uid, MapKind::Uid.own_id(), 1);
        let gid = IdMap::single(inside_gid, MapKind::Gid.own_id(), 1);
        MapWriter {
            // Valid: one id, and 4294967295 is never an effective id.
            uid_map: uid.ok(),
            gid_map: gid.ok(),
            mode: WriteMode::Unprivileged,
            setgroups: None,
        }
    }

    /// Sets the uid map to write.
    pub fn uid_map(mut self, map: IdMap) -> Self {
        self.uid_map = Some(map);
        self
    }

    /// Sets the gid map to write.
    pub fn gid_map(mut self, map: IdMap) -> Self {
        self.gid_map = Some(map);
        self
    }

    /// Sets how the maps are written.
    pub fn mode(mut self, mode: WriteMode) -> Self {
        self.mode = mode;
        self
    }

    /// Writes this to `setgroups` before the gid map (whatever the mode; without
    /// it, "deny" is written only when the gid map is written unprivileged).
    pub fn setgroups(mut self, setgroups: Setgroups) -> Self {
        self.setgroups = Some(setgroups);
        self
    }

    /// The uid map to write, if set.
    pub fn get_uid_map(&self) -> Option<&IdMap> {
        self.uid_map.as_ref()
    }

    /// The gid map to write, if set.
    pub fn get_gid_map(&self) -> Option<&IdMap> {
        self.gid_map.as_ref()
    }

    /// Writes the maps of process `pid` (`setgroups`, then `uid_map`, then `gid_map`).
    ///
    /// `pid` must not be reused under us: pass a child that is not reaped yet, or
    /// use [`write_pidfd`](Self::write_pidfd).
    ///
    /// # Errors
    /// [`Error::MapWrite`] naming the broken rule, [`Error::Syscall`] if `/proc/PID`
    /// cannot be opened, [`Error::HelperMissing`]/[`Error::HelperRefused`]/[`Error::Helper`]
    /// in [`WriteMode::Helpers`].
    ///
    /// # References
    /// [user_namespaces(7)](https://man7.org/linux/man-pages/man7/user_namespaces.7.html),
    /// [newuidmap(1)](https://man7.org/linux/man-pages/man1/newuidmap.1.html)
    pub fn write(&self, pid: Pid) -> Result<()> {
        let dir = ProcDir::open(Some(pid))?;
        self.write_dir(&dir, None)
    }

    /// Like [`write`](Self::write), for the process a pidfd refers to: `/proc/PID`
    /// is opened and then checked to still belong to the pidfd's process.
    ///
    /// # Errors
    /// As [`write`](Self::write), and [`Error::SafetyViolation`] if the process
    /// exited (its pid could have been reused).
    pub fn write_pidfd(&self, pidfd: impl AsFd) -> Result<()> {
        let pidfd = pidfd.as_fd();
        let dir = ProcDir::for_pidfd(pidfd)?;
        self.write_dir(&dir, Some(pidfd)).map_err(|err| {
            // A process that exits while its maps are written makes the kernel's
            // answer about the text meaningless (a dying task's map write can fail
            // with EINVAL): say that the process went away instead.
            if process_exited(pidfd) {
                Error::SafetyViolation {
                    what: format!(
                        "pidfd {}'s process exited while its maps were written ({err})",
                        pidfd.as_raw_fd()
                    ),
                }
            } else {
                err
            }
        })
    }

    pub(crate) fn write_dir(&self, dir: &ProcDir, pidfd: Option<BorrowedFd<'_>>) -> Result<()> {
        if self.mode == WriteMode::Helpers {
            for (kind, map) in [(MapKind::Uid, &self.uid_map), (MapKind::Gid, &self.gid_map)] {
                if let Some(map) = map {
                    run_helper(kind, &dir.name, map)?;
                }
            }
            if let Some(pidfd) = pidfd {
                // The helpers take a pid: make sure it was still the pidfd's.
                ProcDir::for_pidfd(pidfd)?;
            }
            return Ok(());
        }
        let caps = match self.mode {
            WriteMode::Auto => {
                rustix::thread::capabilities(None)
                    .map_err(|e| Error::syscall(Call::new("capget", format_args!("self")), e))?
                    .effective
            }
            WriteMode::Privileged => CapabilitySet::SETUID | CapabilitySet::SETGID,
            _ => CapabilitySet::empty(),
        };
        let privileged = |kind: MapKind| caps.contains(kind.capability());
        for (kind, map) in [(MapKind::Uid, &self.uid_map), (MapKind::Gid, &self.gid_map)] {
            if let Some(map) = map
                && !privileged(kind)
            {
                check_unprivileged(dir, kind, map)?;
            }
        }
        let setgroups = match (self.setgroups, &self.gid_map) {
            (Some(s), _) => Some(s),
            (None, Some(_)) if !privileged(MapKind::Gid) => Some(Setgroups::Deny),
            _ => None,
        };
        if let Some(s) = setgroups {
            write_setgroups_dir(dir, s)?;
        }
        if let Some(map) = &self.uid_map {
            write_map_dir(dir, MapKind::Uid, map)?;
        }
        if let Some(map) = &self.gid_map {
            write_map_dir(dir, MapKind::Gid, map)?;
        }
        Ok(())
    }
}

fn check_unprivileged(dir: &ProcDir, kind: MapKind, map: &IdMap) -> Result<()> {
    let own = kind.own_id();
    let e = map.extents()[0];
    if map.len() == 1 && e.count == 1 && e.outside == own {
        return Ok(());
    }
    Err(Error::MapWrite {
        call: write_call(dir, kind.file_name(), &map.to_string()),
        rule: MapRule::UnprivilegedWiderThanOwnId { own },
        source: None,
    })
}

/// `write(fd "/proc/PID/uid_map", "0 1000 1\n")`, with long texts shortened.
fn write_call(dir: &ProcDir, file: &str, text: &str) -> Call {
    let lines = text.lines().count();
    let path = dir.path(file);
    if lines > 2 {
        let first = text.lines().next().unwrap_or("");
        Call::new(
            "write",
            format_args!(
                "fd {path:?}, \"{first}\\n...\" ({lines} lines, {} bytes)",
                text.len()
            ),
        )
    } else {
        Call::new("write", format_args!("fd {path:?}, {text:?}"))
    }
}

fn write_map_dir(dir: &ProcDir, kind: MapKind, map: &IdMap) -> Result<()> {
    let text = map.write_text();
    dir.write_once(kind.file_name(), &text)
        .map_err(|source| Error::MapWrite {
            call: write_call(dir, kind.file_name(), &text),
            rule: explain(dir, kind, map, &source),
            source: Some(source),
        })
}

fn write_setgroups_dir(dir: &ProcDir, setgroups: Setgroups) -> Result<()> {
    dir.write_once("setgroups", setgroups.as_str())
        .map_err(|source| {
            let rule = match (source.raw_os_error(), setgroups) {
                (Some(libc::EPERM), Setgroups::Deny) => MapRule::SetgroupsAfterGidMap,
                (Some(libc::EPERM), Setgroups::Allow) => MapRule::SetgroupsDenied,
                _ => MapRule::Unknown,
            };
            Error::MapWrite {
                call: write_call(dir, "setgroups", setgroups.as_str()),
                rule,
                source: Some(source),
            }
        })
}

/// Works out which rule a refused map write broke, by looking at the target's
/// and the caller's state after the fact.
fn explain(dir: &ProcDir, kind: MapKind, map: &IdMap, err: &io::Error) -> MapRule {
    match err.raw_os_error() {
        Some(libc::EPERM) => {}
        Some(libc::EINVAL) => return MapRule::Malformed,
        _ => return MapRule::Unknown,
    }
    if let Ok(Some(_)) = dir.read_map(kind.file_name()) {
        return MapRule::AlreadyWritten;
    }
    // The extents' outside ids are the writer's ids (its namespace is the target's
    // parent): each must be mapped as one range in the writer's own map.
    if let Ok(Some(own_map)) = ProcDir::open(None).and_then(|d| d.read_map(kind.file_name())) {
        for &extent in map.extents() {
            if own_map
                .map_range_down(extent.outside, extent.count)
                .is_none()
            {
                return MapRule::OutsideNotMapped { extent };
            }
        }
    }
    let caps = rustix::thread::capabilities(None)
        .map(|c| c.effective)
        .unwrap_or(CapabilitySet::empty());
    if !caps.contains(kind.capability()) {
        let own = kind.own_id();
        let e = map.extents()[0];
        if !(map.len() == 1 && e.count == 1 && e.outside == own) {
            return MapRule::UnprivilegedWiderThanOwnId { own };
        }
        if kind == MapKind::Gid && dir.read_setgroups().ok() != Some(Setgroups::Deny) {
            return MapRule::SetgroupsNotDenied;
        }
    } else if kind == MapKind::Uid
        && map.map_up(0).is_some()
        && !caps.contains(CapabilitySet::SETFCAP)
    {
        return MapRule::ParentRootNeedsSetfcap;
    }
    MapRule::Unknown
}

/// Writes `map` to `/proc/PID/uid_map` in one write, with no checks but the
/// kernel's (see [`MapWriter`] for the whole sequence).
///
/// C form: `write(open("/proc/PID/uid_map", O_WRONLY), text, len)`.
///
/// # Errors
/// [`Error::MapWrite`] naming the rule behind the kernel's refusal.
///
/// # References
/// [user_namespaces(7)](https://man7.org/linux/man-pages/man7/user_namespaces.7.html)
#[doc(alias = "uid_map")]
pub fn write_uid_map(pid: Pid, map: &IdMap) -> Result<()> {
    write_map_dir(&ProcDir::open(Some(pid))?, MapKind::Uid, map)
}

/// Writes `map` to `/proc/PID/gid_map` in one write; see [`write_uid_map`]. An
/// unprivileged writer must call [`write_setgroups`] with [`Setgroups::Deny`] first.
///
/// # Errors
/// [`Error::MapWrite`] naming the rule behind the kernel's refusal.
///
/// # References
/// [user_namespaces(7)](https://man7.org/linux/man-pages/man7/user_namespaces.7.html)
#[doc(alias = "gid_map")]
pub fn write_gid_map(pid: Pid, map: &IdMap) -> Result<()> {
    write_map_dir(&ProcDir::open(Some(pid))?, MapKind::Gid, map)
}

/// Writes "allow" or "deny" to `/proc/PID/setgroups`.
///
/// # Errors
/// [`Error::MapWrite`]: "deny" after the gid map was written, or "allow" after
/// "deny", are refused.
///
/// # References
/// [user_namespaces(7)](https://man7.org/linux/man-pages/man7/user_namespaces.7.html)
pub fn write_setgroups(pid: Pid, setgroups: Setgroups) -> Result<()> {
    write_setgroups_dir(&ProcDir::open(Some(pid))?, setgroups)
}

fn run_helper(kind: MapKind, pid: &str, map: &IdMap) -> Result<()> {
    let program = kind.helper();
    let mut command = Command::new(program);
    command.arg(pid);
    for e in map.extents() {
        command
            .arg(e.inside.to_string())
            .arg(e.outside.to_string())
            .arg(e.count.to_string());
    }
    let line = format!(
        "{program} {pid} {}",
        map.extents()
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    );
    // Messages in English, so that a refusal can be told from other failures.
    command.env("LC_ALL", "C");
    let output = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                Error::HelperMissing { program }
            } else {
                Error::syscall(Call::new("spawn", format_args!("{line:?}")), e)
            }
        })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    if helper_refused(&stderr) {
        return Err(Error::HelperRefused {
            command: line,
            stderr,
        });
    }
    Err(Error::Helper {
        command: line,
        status: output.status.to_string(),
        stderr,
    })
}

/// Whether a helper's (C locale) message says it refused the map: a range the
/// caller may not map ("uid range [0-10) -> [1234567-1234577) not allowed"), a
/// target of another user ("Target process 42 is owned by a different user"), or
/// the kernel's refusal of its write ("write to uid_map failed: Operation not
/// permitted").
fn helper_refused(stderr: &str) -> bool {
    [
        "not allowed",
        "owned by a different user",
        "Operation not permitted",
        "Permission denied",
    ]
    .iter()
    .any(|needle| stderr.contains(needle))
}

/// Whether the process behind `pidfd` has exited (the pidfd polls readable then).
fn process_exited(pidfd: BorrowedFd<'_>) -> bool {
    use rustix::event::{PollFd, PollFlags, poll};
    let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
    let zero = rustix::time::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    matches!(poll(&mut fds, Some(&zero)), Ok(n) if n > 0)
}
