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
    pub(crate) create_parents: bool,
}

impl Cgroup {
    /// The cgroup at `path` (an absolute path of a directory on a cgroup v2 mount).
    /// It is created by the spawn if missing, and then removed when the container
    /// is reaped or the spawn fails; an existing one is kept.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Cgroup {
            path: path.into(),
            resources: Resources::new(),
            create_parents: false,
        }
    }

    /// Also creates the missing parent directories of the path (as `mkdir -p`),
    /// and enables the controllers the limits need in each `cgroup.subtree_control`
    /// from the nearest existing ancestor down to the new cgroup's parent (as an
    /// OCI runtime's cgroupfs driver does). The controllers are then checked
    /// against the nearest existing ancestor's `cgroup.controllers`, and the caller
    /// must be able to write that ancestor. A failed spawn removes the directories
    /// it created; the reap removes only the container's own cgroup (the parents
    /// stay, possibly shared with other cgroups; the controllers stay enabled).
    ///
    /// ```no_run
    /// use linception::{Cgroup, Container};
    /// let c = Container::builder("/bin/true")
    ///     .cgroup(Cgroup::new("/sys/fs/cgroup/runtime/pod1/box").create_parents())
    ///     .spawn()?;
    /// # Ok::<(), linception::Error>(())
    /// ```
    pub fn create_parents(mut self) -> Self {
        self.create_parents = true;
        self
    }

    /// The controllers the limits of a spawn with this cgroup may use: an existing
    /// cgroup's `cgroup.controllers`; for a new one its parent's
    /// `cgroup.subtree_control`, or with [`create_parents`](Self::create_parents)
    /// the nearest existing ancestor's `cgroup.controllers`. Lets a caller name a
    /// missing controller in its own terms before spawning.
    ///
    /// # Errors
    /// As the spawn's check: a relative path, no existing ancestor, a path not on
    /// a cgroup v2 mount, an unreadable interface file.
    pub fn controllers_available(&self) -> Result<Vec<String>> {
        let place = Place::find(self)?;
        controllers(&place.list)
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

/// A cgroup directory the spawn created (removed at reap) or found (kept), and
/// the parents it created (removed with it when empty).
#[derive(Debug)]
pub(crate) struct CgroupGuard {
    pub path: PathBuf,
    pub created: bool,
    pub parents: Vec<PathBuf>,
}

/// Where a cgroup goes: whether it exists, the directory whose access and
/// filesystem are checked (with `create_parents`, the nearest existing ancestor),
/// and the file listing the controllers it may use.
struct Place {
    exists: bool,
    probe: PathBuf,
    list: PathBuf,
}

impl Place {
    fn find(cg: &Cgroup) -> Result<Place> {
        let path = &cg.path;
        if !path.is_absolute() {
            return Err(Error::invalid(
                format!("cgroup path {path:?}"),
                "a cgroup path must be absolute",
            ));
        }
        if path.is_dir() {
            return Ok(Place {
                exists: true,
                probe: path.clone(),
                list: path.join("cgroup.controllers"),
            });
        }
        let parent = path.parent().unwrap_or(Path::new("/"));
        if !cg.create_parents {
            if !parent.is_dir() {
                return Err(Error::invalid(
                    format!("cgroup path {path:?}"),
                    "its parent directory does not exist (only the last component is created)",
                ));
            }
            return Ok(Place {
                exists: false,
                probe: parent.to_owned(),
                list: parent.join("cgroup.subtree_control"),
            });
        }
        let mut at = parent;
        while !at.is_dir() {
            at = at.parent().unwrap_or(Path::new("/"));
        }
        if !on_cgroup2(at)? {
            return Err(Error::invalid(
                format!("cgroup path {path:?}"),
                "its nearest existing ancestor is not on a cgroup v2 mount",
            ));
        }
        Ok(Place {
            exists: false,
            probe: at.to_owned(),
            list: at.join("cgroup.controllers"),
        })
    }
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
    if let Some(rules) = &cg.resources.devices {
        crate::cgroup_device::check(rules, &of)?;
    }
    let place = Place::find(cg)?;
    let exists = place.exists;
    if !on_cgroup2(&place.probe)? {
        return Err(Error::invalid(
            format!("cgroup path {path:?}"),
            "not on a cgroup v2 mount (the filesystem is not cgroup2)",
        ));
    }
    let writable = if exists {
        path.join("cgroup.procs")
    } else {
        place.probe.clone()
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
    let how = if exists {
        "the controller is not in the cgroup's cgroup.controllers"
    } else if cg.create_parents {
        "the controller is not in the nearest existing ancestor's cgroup.controllers"
    } else {
        "the controller is not enabled in the parent's cgroup.subtree_control"
    };
    controllers_enabled(&cg.resources, &place.list, &of, how)?;
    check_devices(&cg.resources, &of)
}

/// Checks a device list and that this process may load its program.
fn check_devices(r: &Resources, of: &str) -> Result<()> {
    if let Some(rules) = &r.devices {
        crate::cgroup_device::check(rules, of)?;
        if !rules.is_empty() {
            crate::cgroup_device::may_load()?;
        }
    }
    Ok(())
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
fn controllers_enabled(r: &Resources, list: &Path, of: &str, how: &'static str) -> Result<()> {
    let writes = r.writes();
    if writes.is_empty() {
        return Ok(());
    }
    let enabled = controllers(list)?;
    for w in writes {
        if !enabled.iter().any(|c| c == w.controller) {
            return Err(Error::invalid(
                format!("{} {}{of}: no {} controller", w.file, w.value, w.controller),
                how,
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
    controllers_enabled(
        r,
        &dir.join("cgroup.controllers"),
        &of,
        "the controller is not in the cgroup's cgroup.controllers",
    )?;
    check_devices(r, &of)?;
    write_limits(dir, r)?;
    match &r.devices {
        Some(rules) => crate::cgroup_device::replace(dir, rules),
        None => Ok(()),
    }
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

/// The `frozen` key of the cgroup's `cgroup.events`.
pub(crate) fn frozen(dir: &Path) -> Result<bool> {
    let path = dir.join("cgroup.events");
    let text =
        std::fs::read_to_string(&path).map_err(|e| Error::syscall(format!("read({path:?})"), e))?;
    crate::resources::events_frozen(&text).ok_or(Error::Unsupported {
        feature: "cgroup.freeze",
        min_kernel: "5.2",
    })
}

/// The cgroup v2 directory of process `pid` (its `0::` line of `/proc/PID/cgroup`
/// under the host's cgroup2 mount); `None` in the root cgroup, without cgroup v2,
/// or for a process gone.
pub(crate) fn of_pid(pid: linception_pidfd::Pid) -> Option<PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{}/cgroup", pid.as_raw())).ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?.trim();
    let rel = rel.strip_prefix('/')?;
    if rel.is_empty() || rel.ends_with("(deleted)") {
        return None;
    }
    let mount = linception_probe::cgroup2().ok()?.mount_point;
    Some(mount.join(rel))
}

/// The cgroup `exec_in` places a process in: an `O_PATH` fd of the container's
/// cgroup directory, for `CLONE_INTO_CGROUP`; `None` when the container has none or
/// it is the caller's own (the process is born there anyway).
pub(crate) fn exec_target(dir: Option<&Path>) -> Result<Option<std::os::fd::OwnedFd>> {
    let Some(dir) = dir else {
        return Ok(None);
    };
    let own = linception_pidfd::Pid::from_raw(std::process::id() as i32).and_then(of_pid);
    if own.as_deref() == Some(dir) {
        return Ok(None);
    }
    rustix::fs::open(
        dir,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map(Some)
    .map_err(|e| Error::syscall(format!("open({dir:?}, O_PATH|O_DIRECTORY)"), e.into()))
}

/// `signal_all` of a container: `cgroup.kill` for `SIGKILL`, else `sig` through a
/// pidfd to each process of `cgroup.procs` still in `dir` once its pidfd is open.
pub(crate) fn signal_all(dir: &Path, sig: linception_pidfd::Signal) -> Result<()> {
    use linception_pidfd::{Pid, PidFd, PidfdFlags, Signal};
    if sig == Signal::KILL {
        let kill = dir.join("cgroup.kill");
        match std::fs::write(&kill, "1") {
            Ok(()) => return Ok(()),
            // Before 5.14: each process, as for any other signal.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::syscall(format!("write({kill:?}, \"1\")"), e)),
        }
    }
    let procs = dir.join("cgroup.procs");
    let text = std::fs::read_to_string(&procs)
        .map_err(|e| Error::syscall(format!("read({procs:?})"), e))?;
    for pid in text.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        let Some(pid) = Pid::from_raw(pid) else {
            continue;
        };
        let pidfd = match PidFd::open(pid, PidfdFlags::empty()) {
            Ok(fd) => fd,
            Err(e) if e.is_process_gone() => continue,
            Err(e) => return Err(e.into()),
        };
        // The pidfd pins the process: is it the one listed, in this cgroup still?
        if of_pid(pid).as_deref() != Some(dir) {
            continue;
        }
        match pidfd.send_signal(sig) {
            Err(e) if e.is_process_gone() => {}
            r => r?,
        }
    }
    Ok(())
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
    let mut guard = CgroupGuard {
        path: cg.path.clone(),
        created: false,
        parents: Vec::new(),
    };
    let fd = (|| {
        if cg.create_parents {
            make_parents(cg, &mut guard.parents)?;
        }
        guard.created = match std::fs::create_dir(&cg.path) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
            Err(e) => return Err(Error::syscall(format!("mkdir({:?})", cg.path), e)),
        };
        write_limits(&cg.path, &cg.resources)?;
        match cg.resources.devices.as_deref() {
            Some(rules) if !rules.is_empty() => {
                // bpf takes no O_PATH fd; clone3 takes this one as well.
                let fd = crate::cgroup_device::open_dir(&cg.path)?;
                let prog = crate::cgroup_device::load(rules)?;
                crate::cgroup_device::attach(std::os::fd::AsFd::as_fd(&fd), &cg.path, &prog)?;
                // The attachment holds the program: it lives as long as the cgroup.
                Ok(fd)
            }
            _ => rustix::fs::open(
                &cg.path,
                rustix::fs::OFlags::PATH
                    | rustix::fs::OFlags::DIRECTORY
                    | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(|e| {
                Error::syscall(format!("open({:?}, O_PATH|O_DIRECTORY)", cg.path), e.into())
            }),
        }
    })();
    match fd {
        Ok(fd) => Ok((guard, fd)),
        Err(e) => Err(e.with_cleanup(guard.remove().err())),
    }
}

/// Creates the missing parents of `cg` (recorded in `made`, outermost first) and
/// enables the controllers its limits need in each `cgroup.subtree_control` from
/// the nearest existing ancestor down to its parent.
fn make_parents(cg: &Cgroup, made: &mut Vec<PathBuf>) -> Result<()> {
    let mut needed: Vec<&str> = cg.resources.writes().iter().map(|w| w.controller).collect();
    needed.sort_unstable();
    needed.dedup();
    let parent = cg.path.parent().unwrap_or(Path::new("/"));
    let mut chain = Vec::new();
    let mut at = parent;
    loop {
        chain.push(at.to_owned());
        if at.is_dir() || at.parent().is_none() {
            break;
        }
        at = at.parent().unwrap_or(Path::new("/"));
    }
    chain.reverse();
    for dir in &chain {
        if !dir.is_dir() {
            std::fs::create_dir(dir).map_err(|e| Error::syscall(format!("mkdir({dir:?})"), e))?;
            made.push(dir.clone());
        }
        if needed.is_empty() {
            continue;
        }
        let control = dir.join("cgroup.subtree_control");
        let enabled = controllers(&control)?;
        for c in &needed {
            if enabled.iter().any(|e| e == c) {
                continue;
            }
            let value = format!("+{c}");
            std::fs::write(&control, &value)
                .map_err(|e| Error::syscall(format!("write({control:?}, {value:?})"), e))?;
        }
    }
    Ok(())
}

impl CgroupGuard {
    /// Removes the directory if the spawn created it, then the parents it created
    /// that are empty (innermost first; one that is not is left, as are the
    /// rest).
    pub(crate) fn remove(self) -> Result<()> {
        if self.created {
            remove_dir(&self.path)?;
        }
        for p in self.parents.iter().rev() {
            if std::fs::remove_dir(p).is_err() {
                break;
            }
        }
        Ok(())
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
