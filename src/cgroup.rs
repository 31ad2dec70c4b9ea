//! The container's cgroup v2 directory: checked, created, limited, removed.
#![forbid(unsafe_code)]

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::resources::{BlockDevice, CgroupStats, Resources};
use crate::validate::CgroupHost;

/// `CGROUP2_SUPER_MAGIC`, the `f_type` of a cgroup v2 mount.
const CGROUP2_SUPER_MAGIC: u64 = 0x6367_7270;

/// A cgroup v2 directory the container is born in (`CLONE_INTO_CGROUP`, Linux 5.7).
///
/// The spawn checks it before anything is created: each limit ([`Resources`])
/// within the kernel's range, the path on a cgroup v2 mount (its filesystem magic),
/// writable by the caller (the parent of a new cgroup, or an existing cgroup's
/// `cgroup.procs`: a cgroup delegated to a rootless caller), and each limit's
/// controller enabled there (listed in the new cgroup's parent's
/// `cgroup.subtree_control`, or in an existing cgroup's `cgroup.controllers`). A
/// failed spawn leaves no directory behind.
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
    pub(crate) resources: Resources,
}

impl Cgroup {
    /// The cgroup at `path` (an absolute path of a directory on a cgroup v2 mount).
    /// It is created by the spawn if missing, and then removed when the container
    /// is reaped or the spawn fails; an existing one is kept.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Cgroup {
            path: path.into(),
            resources: Resources::new(),
        }
    }

    /// Writes `memory.max` (bytes) before the container starts (needs the `memory`
    /// controller); short for [`Resources::memory_max`].
    pub fn memory_max(mut self, bytes: u64) -> Self {
        self.resources = self.resources.memory_max(bytes);
        self
    }

    /// Writes `pids.max` before the container starts (needs the `pids` controller);
    /// short for [`Resources::pids_max`].
    pub fn pids_max(mut self, max: u64) -> Self {
        self.resources = self.resources.pids_max(max);
        self
    }

    /// The limits written before the container starts (then `CLONE_INTO_CGROUP`
    /// places it there at birth), replacing any given before. Each value is checked
    /// against the kernel's range and its controller against the controllers
    /// enabled for the cgroup before anything is created.
    ///
    /// ```no_run
    /// use linception::{Cgroup, Container, Limit, Resources};
    /// let c = Container::builder("/bin/true")
    ///     .cgroup(Cgroup::new("/sys/fs/cgroup/box").resources(
    ///         Resources::new().memory_max(64 << 20).cpu_max(Limit::Value(20_000), 100_000),
    ///     ))
    ///     .spawn()?;
    /// # Ok::<(), linception::Error>(())
    /// ```
    ///
    /// # Errors
    /// At spawn: [`Error::InvalidArgument`] naming the file and value out of the
    /// kernel's range, or the controller that is not enabled.
    pub fn resources(mut self, resources: Resources) -> Self {
        self.resources = resources;
        self
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

/// Checks a cgroup before the spawn creates anything: limits in the kernel's
/// ranges, an absolute path on a cgroup v2 mount that the caller may write, whose
/// limits' controllers are enabled for it.
pub(crate) fn check(cg: &Cgroup) -> Result<()> {
    let path = &cg.path;
    let of = format!(" of cgroup {path:?}");
    in_range(&cg.resources, &of)?;
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
    let writable = if exists {
        path.join("cgroup.procs")
    } else {
        probe.clone()
    };
    if rustix::fs::accessat(
        rustix::fs::CWD,
        &writable,
        rustix::fs::Access::WRITE_OK,
        rustix::fs::AtFlags::EACCESS,
    )
    .is_err()
    {
        return Err(Error::denied(
            format!("cgroup path {path:?}"),
            if exists {
                "starting a container in it needs write access to its cgroup.procs (a cgroup delegated to the caller)"
            } else {
                "creating it needs write access to its parent (a cgroup delegated to the caller)"
            },
        ));
    }
    controllers_enabled(&cg.resources, &list, &of, exists)
}

/// Checks `r` against the kernel's ranges and the host's CPUs, nodes, huge page
/// sizes and block devices.
fn in_range(r: &Resources, of: &str) -> Result<()> {
    if r.is_empty() {
        return Ok(());
    }
    let host = HostFacts::read(r)?;
    crate::validate::resources(r, &host.view(), of)
}

/// Checks each write's controller against the controllers listed in `list`.
fn controllers_enabled(r: &Resources, list: &Path, of: &str, exists: bool) -> Result<()> {
    let writes = r.writes();
    if writes.is_empty() {
        return Ok(());
    }
    let enabled = controllers(list)?;
    for w in writes {
        if !enabled.iter().any(|c| c == w.controller) {
            return Err(Error::invalid(
                format!("{} {}{of}: no {} controller", w.file, w.value, w.controller),
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

/// The host facts limits are checked against, read only when a limit needs them.
struct HostFacts {
    cpus: u32,
    nodes: u32,
    huge_page_sizes: Vec<u64>,
    block_devices: Vec<BlockDevice>,
    partitions: Vec<BlockDevice>,
}

impl HostFacts {
    fn read(r: &Resources) -> Result<HostFacts> {
        let count = |file: &str| -> Result<u32> {
            match std::fs::read_to_string(file) {
                Ok(text) => possible_count(&text).ok_or_else(|| {
                    Error::syscall(
                        format!("parse {file} {:?}", text.trim()),
                        std::io::Error::from_raw_os_error(libc::EINVAL),
                    )
                }),
                // Without NUMA there is no node directory: node 0 only.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(1),
                Err(e) => Err(Error::syscall(format!("read({file:?})"), e)),
            }
        };
        let names = |dir: &str| -> Result<Vec<String>> {
            match std::fs::read_dir(dir) {
                Ok(it) => Ok(it
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .collect()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
                Err(e) => Err(Error::syscall(format!("opendir({dir:?})"), e)),
            }
        };
        let mut facts = HostFacts {
            cpus: u32::MAX,
            nodes: u32::MAX,
            huge_page_sizes: Vec::new(),
            block_devices: Vec::new(),
            partitions: Vec::new(),
        };
        if r.cpuset_cpus.is_some() {
            facts.cpus = count("/sys/devices/system/cpu/possible")?;
        }
        if r.cpuset_mems.is_some() {
            facts.nodes = count("/sys/devices/system/node/possible")?;
        }
        if !r.hugetlb_max.is_empty() {
            facts.huge_page_sizes = names("/sys/kernel/mm/hugepages")?
                .iter()
                .filter_map(|n| {
                    n.strip_prefix("hugepages-")?
                        .strip_suffix("kB")?
                        .parse()
                        .ok()
                })
                .map(|kb: u64| kb << 10)
                .collect();
        }
        if !r.io_max.is_empty() {
            for n in names("/sys/dev/block")? {
                let Some((a, b)) = n.split_once(':') else {
                    continue;
                };
                let (Ok(major), Ok(minor)) = (a.parse(), b.parse()) else {
                    continue;
                };
                let dev = BlockDevice::new(major, minor);
                if Path::new("/sys/dev/block")
                    .join(&n)
                    .join("partition")
                    .exists()
                {
                    facts.partitions.push(dev);
                } else {
                    facts.block_devices.push(dev);
                }
            }
        }
        Ok(facts)
    }

    fn view(&self) -> CgroupHost<'_> {
        CgroupHost {
            cpus: self.cpus,
            nodes: self.nodes,
            huge_page_sizes: &self.huge_page_sizes,
            block_devices: &self.block_devices,
            partitions: &self.partitions,
        }
    }
}

/// The count of a `possible` id list (`0-3` is 4): its highest id + 1.
fn possible_count(text: &str) -> Option<u32> {
    let last = text.trim().split(',').next_back()?;
    let high = last.split('-').next_back()?;
    high.parse::<u32>().ok()?.checked_add(1)
}

/// Writes each limit of `r` into the cgroup directory `dir`.
fn write_limits(dir: &Path, r: &Resources) -> Result<()> {
    for w in r.writes() {
        let path: PathBuf = dir.join(&w.file);
        std::fs::write(&path, &w.value).map_err(|e| missing_file(&w.file, &path, &w.value, e))?;
    }
    Ok(())
}

/// The error of a failed write of `value` to the interface file `file` at `path`:
/// a missing file (of an enabled controller) is a kernel that lacks it.
fn missing_file(file: &str, path: &Path, value: &str, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        let (feature, min_kernel) = crate::resources::file_since(file);
        return Error::Unsupported {
            feature,
            min_kernel,
        };
    }
    Error::syscall(format!("write({path:?}, {value:?})"), e)
}

/// A live update of a running container's cgroup: checked like a spawn's limits
/// (against the cgroup's own `cgroup.controllers`), then written in order.
pub(crate) fn update(dir: &Path, r: &Resources) -> Result<()> {
    let of = format!(" of cgroup {dir:?}");
    in_range(r, &of)?;
    controllers_enabled(r, &dir.join("cgroup.controllers"), &of, true)?;
    write_limits(dir, r)
}

/// Writes `cgroup.freeze` and waits until `cgroup.events` reports `frozen` equal to
/// `frozen` (the kernel notifies a change of the file with `POLLPRI`).
pub(crate) fn set_frozen(dir: &Path, frozen: bool) -> Result<()> {
    let events_path = dir.join("cgroup.events");
    let events = match std::fs::File::open(&events_path) {
        Ok(f) => f,
        // Every cgroup but the root has cgroup.events (Linux 4.5).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::invalid(
                format!("cgroup {dir:?}"),
                "the root cgroup cannot be frozen (it has no cgroup.freeze)",
            ));
        }
        Err(e) => return Err(Error::syscall(format!("open({events_path:?})"), e)),
    };
    let freeze = dir.join("cgroup.freeze");
    let value = if frozen { "1" } else { "0" };
    std::fs::write(&freeze, value).map_err(|e| missing_file("cgroup.freeze", &freeze, value, e))?;
    let mut buf = [0u8; 256];
    loop {
        let n = rustix::io::pread(&events, &mut buf, 0)
            .map_err(|e| Error::syscall(format!("pread({events_path:?})"), e.into()))?;
        let text = String::from_utf8_lossy(&buf[..n]);
        if crate::resources::events_frozen(&text) == Some(frozen) {
            return Ok(());
        }
        // A missed notification costs at most one timeout: the file is read again.
        let mut fds = [rustix::event::PollFd::new(
            &events,
            rustix::event::PollFlags::PRI,
        )];
        let timeout = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => {
                return Err(Error::syscall(
                    format!("poll({events_path:?}, POLLPRI)"),
                    e.into(),
                ));
            }
        }
    }
}

/// Reads `memory.current`, `pids.current` (each if its controller is enabled) and
/// `cpu.stat` of the cgroup directory `dir`.
pub(crate) fn stats(dir: &Path) -> Result<CgroupStats> {
    let read = |file: &str| -> Result<Option<String>> {
        let path = dir.join(file);
        match std::fs::read_to_string(&path) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::syscall(format!("read({path:?})"), e)),
        }
    };
    let number = |file: &str| -> Result<Option<u64>> {
        let Some(text) = read(file)? else {
            return Ok(None);
        };
        text.trim().parse().map(Some).map_err(|_| {
            Error::syscall(
                format!("read({:?})", dir.join(file)),
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{text:?} is not a number"),
                ),
            )
        })
    };
    let cpu_text = read("cpu.stat")?.ok_or_else(|| {
        Error::syscall(
            format!("read({:?})", dir.join("cpu.stat")),
            std::io::Error::from_raw_os_error(libc::ENOENT),
        )
    })?;
    let cpu = crate::resources::parse_cpu_stat(&cpu_text).map_err(|e| {
        Error::syscall(
            format!("read({:?})", dir.join("cpu.stat")),
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        )
    })?;
    Ok(CgroupStats {
        memory_current: number("memory.current")?,
        pids_current: number("pids.current")?,
        cpu,
    })
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
        write_limits(&cg.path, &cg.resources)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_interface_file_is_an_older_kernel() {
        let path = Path::new("/cg/memory.min");
        let e = missing_file(
            "memory.min",
            path,
            "0",
            std::io::Error::from_raw_os_error(libc::ENOENT),
        );
        assert!(
            matches!(
                e,
                Error::Unsupported {
                    feature: "memory.min",
                    min_kernel: "4.18"
                }
            ),
            "{e}"
        );
        let e = missing_file(
            "pids.max",
            Path::new("/cg/pids.max"),
            "5",
            std::io::Error::from_raw_os_error(libc::EBUSY),
        );
        assert_eq!(
            e.to_string(),
            "write(\"/cg/pids.max\", \"5\"): Device or resource busy (EBUSY)"
        );
    }

    #[test]
    fn possible_lists_count_their_ids() {
        assert_eq!(possible_count("0-1\n"), Some(2));
        assert_eq!(possible_count("0\n"), Some(1));
        assert_eq!(possible_count("0-3,8-11\n"), Some(12));
        assert_eq!(possible_count("x"), None);
    }
}
