//! The container's cgroup v2 directory: checked, created, limited, removed.
#![forbid(unsafe_code)]

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// `CGROUP2_SUPER_MAGIC`, the `f_type` of a cgroup v2 mount.
const CGROUP2_SUPER_MAGIC: u64 = 0x6367_7270;

/// A cgroup v2 directory the container is born in (`CLONE_INTO_CGROUP`, Linux 5.7).
///
/// The spawn checks it before anything is created: the path must be on a cgroup v2
/// mount (its filesystem magic), and each limit's controller must be enabled there
/// (listed in the new cgroup's parent's `cgroup.subtree_control`, or in an existing
/// cgroup's `cgroup.controllers`). A failed spawn leaves no directory behind.
///
/// ```no_run
/// use linception::{Cgroup, Container};
/// let c = Container::builder("/bin/true")
///     .cgroup(Cgroup::new("/sys/fs/cgroup/box").memory_max(64 << 20).pids_max(32))
///     .spawn()?;
/// # Ok::<(), linception::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cgroup {
    pub(crate) path: PathBuf,
    pub(crate) memory_max: Option<u64>,
    pub(crate) pids_max: Option<u64>,
}

impl Cgroup {
    /// The cgroup at `path` (an absolute path of a directory on a cgroup v2 mount).
    /// It is created by the spawn if missing, and then removed when the container
    /// is reaped or the spawn fails; an existing one is kept.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Cgroup {
            path: path.into(),
            memory_max: None,
            pids_max: None,
        }
    }

    /// Writes `memory.max` (bytes) before the container starts (needs the `memory`
    /// controller).
    pub fn memory_max(mut self, bytes: u64) -> Self {
        self.memory_max = Some(bytes);
        self
    }

    /// Writes `pids.max` before the container starts (needs the `pids` controller).
    pub fn pids_max(mut self, max: u64) -> Self {
        self.pids_max = Some(max);
        self
    }

    /// The limits asked for: (controller, file, value).
    fn limits(&self) -> impl Iterator<Item = (&'static str, &'static str, u64)> {
        [
            ("memory", "memory.max", self.memory_max),
            ("pids", "pids.max", self.pids_max),
        ]
        .into_iter()
        .filter_map(|(c, f, v)| v.map(|v| (c, f, v)))
    }
}

/// A cgroup directory the spawn created (removed at reap) or found (kept).
#[derive(Debug)]
pub(crate) struct CgroupGuard {
    pub path: PathBuf,
    pub created: bool,
}

/// Whether `path` is on a cgroup v2 mount.
fn on_cgroup2(path: &Path) -> Result<bool> {
    let st = rustix::fs::statfs(path)
        .map_err(|e| Error::syscall(format!("statfs({path:?})"), e.into()))?;
    Ok(st.f_type as u64 == CGROUP2_SUPER_MAGIC)
}

/// The controllers listed in a cgroup interface file.
fn controllers(file: &Path) -> Result<Vec<String>> {
    let text =
        std::fs::read_to_string(file).map_err(|e| Error::syscall(format!("read({file:?})"), e))?;
    Ok(text.split_whitespace().map(str::to_owned).collect())
}

/// Checks a cgroup before the spawn creates anything: an absolute path on a cgroup
/// v2 mount, whose limits' controllers are enabled for it.
pub(crate) fn check(cg: &Cgroup) -> Result<()> {
    let path = &cg.path;
    if !path.is_absolute() {
        return Err(Error::invalid(
            format!("cgroup path {path:?}"),
            "a cgroup path must be absolute",
        ));
    }
    let exists = path.is_dir();
    let (probe, list) = if exists {
        (path.clone(), path.join("cgroup.controllers"))
    } else {
        let parent = path.parent().unwrap_or(Path::new("/"));
        if !parent.is_dir() {
            return Err(Error::invalid(
                format!("cgroup path {path:?}"),
                "its parent directory does not exist (only the last component is created)",
            ));
        }
        (parent.to_owned(), parent.join("cgroup.subtree_control"))
    };
    if !on_cgroup2(&probe)? {
        return Err(Error::invalid(
            format!("cgroup path {path:?}"),
            "not on a cgroup v2 mount (the filesystem is not cgroup2)",
        ));
    }
    let mut limits = cg.limits().peekable();
    if limits.peek().is_none() {
        return Ok(());
    }
    let enabled = controllers(&list)?;
    for (controller, file, value) in limits {
        if !enabled.iter().any(|c| c == controller) {
            return Err(Error::invalid(
                format!("{file} {value} of cgroup {path:?}: no {controller} controller"),
                if exists {
                    "the controller is not in the cgroup's cgroup.controllers"
                } else {
                    "the controller is not enabled in the parent's cgroup.subtree_control"
                },
            ));
        }
    }
    Ok(())
}

/// The cgroup the container is born in: created if missing, limits written, and an
/// `O_PATH` fd of it for `CLONE_INTO_CGROUP`. On failure the directory it created is
/// removed again.
pub(crate) fn prepare(cg: &Cgroup) -> Result<(CgroupGuard, OwnedFd)> {
    let created = match std::fs::create_dir(&cg.path) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
        Err(e) => return Err(Error::syscall(format!("mkdir({:?})", cg.path), e)),
    };
    let guard = CgroupGuard {
        path: cg.path.clone(),
        created,
    };
    let fd = (|| {
        for (_, file, value) in cg.limits() {
            let path: PathBuf = cg.path.join(file);
            std::fs::write(&path, value.to_string())
                .map_err(|e| Error::syscall(format!("write({path:?}, \"{value}\")"), e))?;
        }
        rustix::fs::open(
            &cg.path,
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| Error::syscall(format!("open({:?}, O_PATH|O_DIRECTORY)", cg.path), e.into()))
    })();
    match fd {
        Ok(fd) => Ok((guard, fd)),
        Err(e) => Err(e.with_cleanup(guard.remove().err())),
    }
}

impl CgroupGuard {
    /// Removes the directory if the spawn created it.
    pub(crate) fn remove(self) -> Result<()> {
        if !self.created {
            return Ok(());
        }
        remove_dir(&self.path)
    }
}

/// `rmdir` of a cgroup, retrying briefly while its last processes finish exiting.
pub(crate) fn remove_dir(path: &Path) -> Result<()> {
    let mut tries = 0;
    loop {
        match std::fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Err(e) => return Err(Error::syscall(format!("rmdir({path:?})"), e)),
        }
    }
}
