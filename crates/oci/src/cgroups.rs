//! cgroup v2: `linux.cgroupsPath` and `linux.resources` as a linception
//! [`Cgroup`], and the commands that act on a container's cgroup (`pause`,
//! `resume`, `update`, `kill --all`).
//!
//! # Where the cgroup is
//! As runc's cgroupfs driver on cgroup v2, under the host's cgroup v2 mount
//! ([`linception::features::cgroup2`]): an absolute `cgroupsPath` is relative to
//! the mount's root, a relative one to the parent of the runtime's own cgroup,
//! and without `cgroupsPath` the cgroup is the container's id under that parent.
//! Missing parents are created, and the controllers the resources need enabled
//! on the way down; `delete` removes the container's cgroup (not the parents).
//! A cgroup that exists and has processes is refused.
//!
//! # Rootless
//! As `runc --rootless`: where the caller may not write the cgroup's place (no
//! cgroup delegated to it) and the config asks for no resources, the container
//! runs without a cgroup of its own; asking for resources there is refused by
//! field.
//!
//! # Devices
//! `linux.resources.devices` becomes an eBPF device program; as runc does, the
//! devices every container needs are allowed after the config's rules (`mknod`
//! of any node, and `rwm` on null, zero, full, random, urandom, tty, console,
//! ptmx, the ptys and tun). Without a `devices` list no program is attached.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use linception::{
    BlockDevice, Cgroup, Container, DeviceAccess, DeviceKind, DeviceRule, IoMax, Limit, Resources,
    Signal,
};
use oci_spec::runtime::{LinuxDeviceType, LinuxResources, Spec};

use crate::{Error, Result};

/// The device rules runc adds after a config's own: `mknod` of every node, and
/// the devices a container's `/dev` holds.
pub fn default_device_rules() -> Vec<DeviceRule> {
    let m = DeviceAccess::MKNOD;
    let rwm = DeviceAccess::all();
    let c = |major: u32| DeviceRule::allow(rwm).kind(DeviceKind::Char).major(major);
    vec![
        DeviceRule::allow(m).kind(DeviceKind::Char),
        DeviceRule::allow(m).kind(DeviceKind::Block),
        c(1).minor(3),    // null
        c(1).minor(8),    // random
        c(1).minor(7),    // full
        c(5).minor(0),    // tty
        c(1).minor(5),    // zero
        c(1).minor(9),    // urandom
        c(5).minor(1),    // console
        c(136),           // the ptys
        c(5).minor(2),    // ptmx
        c(10).minor(200), // tun
    ]
}

/// The controller each resource field needs, for naming a missing one.
struct Asked {
    field: String,
    controller: &'static str,
}

/// `linux.resources` as linception resources, and which field needs which
/// controller. `prefix` is the field path (`linux.resources`, or `--resources`
/// for update).
///
/// # Errors
/// [`Error::Config`] naming a field cgroup v2 or this runtime cannot honour.
fn resources(r: &LinuxResources, prefix: &str) -> Result<(Resources, Vec<Asked>)> {
    resources_of(r, prefix, false)
}

/// [`resources`], the device rules left out when `skip_devices` (checked all the
/// same).
fn resources_of(
    r: &LinuxResources,
    prefix: &str,
    skip_devices: bool,
) -> Result<(Resources, Vec<Asked>)> {
    let mut out = Resources::new();
    let mut asked = Vec::new();
    let f = |name: &str| format!("{prefix}.{name}");
    let mut need =
        |field: String, controller: &'static str| asked.push(Asked { field, controller });
    let limit = |v: i64| {
        if v < 0 {
            Limit::Max
        } else {
            Limit::Value(v as u64)
        }
    };

    if let Some(m) = r.memory() {
        let refuse = |name: &str, why: &str| Err(Error::config(f(&format!("memory.{name}")), why));
        if m.kernel().is_some() {
            return refuse("kernel", "kernel memory limits do not exist on cgroup v2");
        }
        if m.kernel_tcp().is_some() {
            return refuse("kernelTCP", "kernel TCP limits do not exist on cgroup v2");
        }
        if m.swappiness().is_some() {
            return refuse("swappiness", "cgroup v2 has no per-cgroup swappiness");
        }
        if m.disable_oom_killer() == Some(true) {
            return refuse(
                "disableOOMKiller",
                "cgroup v2 cannot disable the OOM killer",
            );
        }
        if let Some(v) = m.limit() {
            out = out.memory_max(limit(v));
            need(f("memory.limit"), "memory");
        }
        if let Some(v) = m.reservation() {
            out = out.memory_low(limit(v));
            need(f("memory.reservation"), "memory");
        }
        if let Some(swap) = m.swap() {
            // As runc: the spec's swap is memory+swap, cgroup v2's swap.max swap alone.
            let v = match (swap, m.limit()) {
                (s, _) if s < 0 => Limit::Max,
                (s, Some(l)) if l >= 0 && s < l => {
                    return refuse(
                        "swap",
                        "memory+swap is below memory.limit (the spec's swap counts memory too)",
                    );
                }
                (s, Some(l)) if l >= 0 => Limit::Value((s - l) as u64),
                (_, _) => {
                    return refuse("swap", "needs memory.limit (swap counts memory+swap)");
                }
            };
            out = out.memory_swap_max(v);
            need(f("memory.swap"), "memory");
        }
    }
    if let Some(c) = r.cpu() {
        let refuse = |name: &str, why: &str| Err(Error::config(f(&format!("cpu.{name}")), why));
        if c.realtime_runtime().is_some() || c.realtime_period().is_some() {
            return refuse("realtimeRuntime", "real-time CPU time is not on cgroup v2");
        }
        if c.idle().is_some() {
            return refuse("idle", "not supported yet");
        }
        if c.burst().is_some() {
            return refuse("burst", "not supported yet");
        }
        if let Some(shares) = c.shares().filter(|s| *s != 0) {
            out = out.cpu_weight(shares_to_weight(shares));
            need(f("cpu.shares"), "cpu");
        }
        let quota = c.quota().filter(|q| *q != 0);
        if quota.is_some() || c.period().is_some() {
            let q = match quota {
                Some(q) if q > 0 => Limit::Value(q as u64),
                _ => Limit::Max,
            };
            out = out.cpu_max(q, c.period().filter(|p| *p != 0).unwrap_or(100_000));
            need(f("cpu.quota"), "cpu");
        }
        if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            out = out.cpuset_cpus(id_list(&f("cpu.cpus"), cpus)?);
            need(f("cpu.cpus"), "cpuset");
        }
        if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            out = out.cpuset_mems(id_list(&f("cpu.mems"), mems)?);
            need(f("cpu.mems"), "cpuset");
        }
    }
    if let Some(p) = r.pids() {
        out = out.pids_max(if p.limit() <= 0 {
            Limit::Max
        } else {
            Limit::Value(p.limit() as u64)
        });
        need(f("pids.limit"), "pids");
    }
    if let Some(b) = r.block_io() {
        if b.leaf_weight().is_some() {
            return Err(Error::config(f("blockIO.leafWeight"), "not on cgroup v2"));
        }
        if b.weight_device().as_ref().is_some_and(|w| !w.is_empty()) {
            return Err(Error::config(
                f("blockIO.weightDevice"),
                "not supported yet",
            ));
        }
        if let Some(w) = b.weight().filter(|w| *w != 0) {
            out = out.io_weight(blkio_to_io_weight(w));
            need(f("blockIO.weight"), "io");
        }
        let mut lines: BTreeMap<BlockDevice, IoMax> = BTreeMap::new();
        let lists = [
            ("throttleReadBpsDevice", b.throttle_read_bps_device(), 0),
            ("throttleWriteBpsDevice", b.throttle_write_bps_device(), 1),
            ("throttleReadIOPSDevice", b.throttle_read_iops_device(), 2),
            ("throttleWriteIOPSDevice", b.throttle_write_iops_device(), 3),
        ];
        for (name, list, key) in lists {
            for (i, t) in list.iter().flatten().enumerate() {
                let field = f(&format!("blockIO.{name}[{i}]"));
                let num = |v: i64| {
                    u32::try_from(v).map_err(|_| Error::config(&field, "major/minor out of range"))
                };
                let dev = BlockDevice::new(num(t.major())?, num(t.minor())?);
                let m = lines.entry(dev).or_insert_with(|| IoMax::new(dev));
                let v = if t.rate() == 0 {
                    Limit::Max
                } else {
                    Limit::Value(t.rate())
                };
                *m = match key {
                    0 => m.rbps(v),
                    1 => m.wbps(v),
                    2 => m.riops(v),
                    _ => m.wiops(v),
                };
                need(field, "io");
            }
        }
        for m in lines.into_values() {
            out = out.io_max(m);
        }
    }
    for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
        let field = f(&format!("hugepageLimits[{i}]"));
        let size = page_size(h.page_size()).ok_or_else(|| {
            Error::config(
                format!("{field}.pageSize"),
                format!("{:?} is not a size like 2MB", h.page_size()),
            )
        })?;
        out = out.hugetlb_max(size, limit(h.limit()));
        need(field, "hugetlb");
    }
    if r.network().is_some() {
        return Err(Error::config(
            f("network"),
            "net_cls/net_prio do not exist on cgroup v2",
        ));
    }
    if r.rdma().as_ref().is_some_and(|m| !m.is_empty()) {
        return Err(Error::config(f("rdma"), "not supported yet"));
    }
    let mut unified: Vec<_> = r.unified().iter().flatten().collect();
    unified.sort();
    for (k, v) in unified {
        let field = f(&format!("unified[{k:?}]"));
        let (o, controller) = unified_key(&field, k, v, out)?;
        out = o;
        need(field, controller);
    }
    if let Some(devs) = r.devices() {
        let mut rules = Vec::new();
        for (i, d) in devs.iter().enumerate() {
            rules.push(device_rule(&f(&format!("devices[{i}]")), d)?);
        }
        rules.extend(default_device_rules());
        if !skip_devices {
            out = out.devices(rules);
        }
    }
    Ok((out, asked))
}

/// One `unified` key on the resources (the interface files linception writes).
fn unified_key(field: &str, k: &str, v: &str, r: Resources) -> Result<(Resources, &'static str)> {
    let bad = |why: &str| Error::config(field, why.to_owned());
    let lim = || -> Result<Limit> {
        match v.trim() {
            "max" => Ok(Limit::Max),
            n => n
                .parse()
                .map(Limit::Value)
                .map_err(|_| bad("not a number or max")),
        }
    };
    let num = || -> Result<u64> { v.trim().parse().map_err(|_| bad("not a number")) };
    Ok(match k {
        "memory.max" => (r.memory_max(lim()?), "memory"),
        "memory.high" => (r.memory_high(lim()?), "memory"),
        "memory.low" => (r.memory_low(lim()?), "memory"),
        "memory.min" => (r.memory_min(lim()?), "memory"),
        "memory.swap.max" => (r.memory_swap_max(lim()?), "memory"),
        "pids.max" => (r.pids_max(lim()?), "pids"),
        "cpu.weight" => (r.cpu_weight(num()?), "cpu"),
        "cpu.max" => {
            let mut it = v.split_whitespace();
            let q = match it.next() {
                Some("max") => Limit::Max,
                Some(n) => Limit::Value(n.parse().map_err(|_| bad("not \"QUOTA PERIOD\""))?),
                None => return Err(bad("empty")),
            };
            let p = match it.next() {
                Some(p) => p.parse().map_err(|_| bad("not \"QUOTA PERIOD\""))?,
                None => 100_000,
            };
            (r.cpu_max(q, p), "cpu")
        }
        "cpuset.cpus" => (r.cpuset_cpus(id_list(field, v)?), "cpuset"),
        "cpuset.mems" => (r.cpuset_mems(id_list(field, v)?), "cpuset"),
        "io.weight" => match v
            .trim()
            .strip_prefix("default ")
            .unwrap_or(v.trim())
            .parse()
        {
            Ok(w) => (r.io_weight(w), "io"),
            Err(_) => return Err(bad("not \"default N\" or N")),
        },
        k if k.starts_with("hugetlb.") && k.ends_with(".max") => {
            let size = k
                .strip_prefix("hugetlb.")
                .and_then(|s| s.strip_suffix(".max"))
                .and_then(page_size)
                .ok_or_else(|| bad("not hugetlb.<size>.max"))?;
            (r.hugetlb_max(size, lim()?), "hugetlb")
        }
        _ => return Err(bad("this interface file is not supported yet")),
    })
}

/// A device rule of the config.
fn device_rule(field: &str, d: &oci_spec::runtime::LinuxDeviceCgroup) -> Result<DeviceRule> {
    let access = match d.access().as_deref() {
        None => DeviceAccess::all(),
        Some(a) => DeviceAccess::parse(a)
            .map_err(|e| Error::config(format!("{field}.access"), e.to_string()))?,
    };
    let mut r = if d.allow() {
        DeviceRule::allow(access)
    } else {
        DeviceRule::deny(access)
    };
    let kind = match d.typ() {
        None | Some(LinuxDeviceType::A) => None,
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => Some(DeviceKind::Char),
        Some(LinuxDeviceType::B) => Some(DeviceKind::Block),
        Some(LinuxDeviceType::P) => {
            return Err(Error::config(
                format!("{field}.type"),
                "a fifo is not a device the cgroup controls (a, b or c)",
            ));
        }
    };
    let num = |v: Option<i64>, what: &str, max: u32| -> Result<Option<u32>> {
        match v {
            None => Ok(None),
            Some(n) if n < 0 => Ok(None), // -1: every number
            Some(n) => u32::try_from(n)
                .ok()
                .filter(|n| *n <= max)
                .map(Some)
                .ok_or_else(|| {
                    Error::config(format!("{field}.{what}"), format!("{n} is over {max}"))
                }),
        }
    };
    let major = num(d.major(), "major", 4095)?;
    let minor = num(d.minor(), "minor", (1 << 20) - 1)?;
    match kind {
        Some(k) => r = r.kind(k),
        None if major.is_some() || minor.is_some() => {
            return Err(Error::config(
                format!("{field}.type"),
                "type a (all devices) takes no major or minor",
            ));
        }
        None => {}
    }
    if let Some(m) = major {
        r = r.major(m);
    }
    if let Some(m) = minor {
        r = r.minor(m);
    }
    Ok(r)
}

/// runc's conversion of cgroup v1 `cpu.shares` (2-262144) to `cpu.weight`.
pub fn shares_to_weight(shares: u64) -> u64 {
    let s = shares.clamp(2, 262_144);
    1 + ((s - 2) * 9999) / 262_142
}

/// runc's conversion of blkio weight (10-1000) to `io.weight`.
fn blkio_to_io_weight(w: u16) -> u64 {
    let w = u64::from(w).clamp(10, 1000);
    1 + ((w - 10) * 9999) / 990
}

/// A huge page size as the spec and the kernel name it (`2MB`, `1GB`, `64KB`).
fn page_size(s: &str) -> Option<u64> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = n.parse().ok()?;
    let shift = match unit {
        "KB" | "kB" => 10,
        "MB" => 20,
        "GB" => 30,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

/// A cpuset list (`0-3,6`).
fn id_list(field: &str, s: &str) -> Result<Vec<u32>> {
    let bad = || Error::config(field, format!("{s:?} is not a list like 0-3,6"));
    let mut out = Vec::new();
    for part in s.trim().split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) =
                    (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                if a > b || b - a > 65_536 {
                    return Err(bad());
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().map_err(|_| bad())?),
        }
    }
    Ok(out)
}

/// The cgroup directory of a container: see the module's docs.
///
/// # Errors
/// [`Error::Config`] (`linux.cgroupsPath`) for a path with `..`, a systemd
/// `slice:prefix:name`, or no cgroup v2 mount.
pub fn path(spec: &Spec, id: &str) -> Result<PathBuf> {
    let given = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
    let field = "linux.cgroupsPath";
    let cg2 = linception::features::cgroup2()
        .map_err(|e| Error::config(field, format!("no cgroup v2 on this host: {e}")))?;
    let rel = match &given {
        Some(p) => p.clone(),
        None => PathBuf::from(id),
    };
    let text = rel.to_string_lossy();
    if text.contains(':') {
        return Err(Error::config(
            field,
            format!(
                "{text:?} is a systemd slice:prefix:name, and --systemd-cgroup is not supported"
            ),
        ));
    }
    if rel
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(Error::config(field, format!("{text:?} has a .. component")));
    }
    let inner: PathBuf = if rel.is_absolute() {
        rel.strip_prefix("/").unwrap_or(&rel).to_owned()
    } else {
        // As runc on cgroup v2: beside the runtime's own cgroup, which has
        // processes and so can have no controllers enabled for children.
        let own = cg2.cgroup.parent().unwrap_or(Path::new("/"));
        own.strip_prefix("/").unwrap_or(own).join(&rel)
    };
    if inner.as_os_str().is_empty() {
        return Err(Error::config(field, "is the cgroup v2 root"));
    }
    Ok(cg2.mount_point.join(inner))
}

/// The nearest existing directory at or above `p`.
fn existing(p: &Path) -> &Path {
    let mut at = p;
    while !at.is_dir() {
        match at.parent() {
            Some(up) => at = up,
            None => break,
        }
    }
    at
}

/// Whether this runtime runs rootless, as runc decides it: a non-root user, or
/// outside the initial user namespace (rootless podman runs it as root of its own).
fn rootless() -> bool {
    !rustix::process::geteuid().is_root() || !crate::host::in_initial_user_namespace()
}

fn writable(p: &Path) -> bool {
    rustix::fs::access(p, rustix::fs::Access::WRITE_OK).is_ok()
}

/// The container's cgroup: `None` for a rootless caller that may not make one and
/// asks for no resources (device rules it cannot enforce aside:
/// [`unenforced_devices`]).
///
/// # Errors
/// [`Error::Config`] naming the field: a resource cgroup v2 or the host's cgroup
/// lacks (`linux.resources.memory.limit: no memory controller in this cgroup
/// (cgroup2 offers: hugetlb)`), a bad value, an existing cgroup with processes.
pub fn cgroup(spec: &Spec, id: &str) -> Result<Option<Cgroup>> {
    let r = spec.linux().as_ref().and_then(|l| l.resources().clone());
    // Device rules add nothing where the kernel confines the container already
    // (see `unenforced_devices`): left out.
    let (res, asked) = match &r {
        Some(r) => resources_of(r, "linux.resources", crate::host::devices_confined())?,
        None => (Resources::new(), Vec::new()),
    };
    let asks = !res.is_empty();
    let has_path = spec
        .linux()
        .as_ref()
        .is_some_and(|l| l.cgroups_path().is_some());
    let path = match path(spec, id) {
        Ok(p) => p,
        Err(_) if !asks && !has_path => return Ok(None),
        Err(e) => return Err(e),
    };
    let exists = path.is_dir();
    let place = if exists {
        path.join("cgroup.procs")
    } else {
        existing(&path).to_owned()
    };
    if !writable(&place) {
        if !asks && rootless() {
            // As runc --rootless: no cgroup of its own, nothing asked of one.
            return Ok(None);
        }
        let field = asked.first().map_or_else(
            || {
                if has_path {
                    "linux.cgroupsPath".to_owned()
                } else {
                    "linux.resources.devices".to_owned()
                }
            },
            |a| a.field.clone(),
        );
        return Err(Error::config(
            field,
            format!(
                "the cgroup {} cannot be made here: {} is not writable by this user (no cgroup delegated to it)",
                path.display(),
                place.display()
            ),
        ));
    }
    if exists {
        let procs = std::fs::read_to_string(path.join("cgroup.procs")).unwrap_or_default();
        if !procs.trim().is_empty() {
            return Err(Error::config(
                "linux.cgroupsPath",
                format!("the cgroup {} exists and has processes", path.display()),
            ));
        }
    }
    let cg = Cgroup::new(&path).resources(res).create_parents();
    if !asked.is_empty() {
        let offers = cg.controllers_available()?;
        for a in &asked {
            if !offers.iter().any(|c| c == a.controller) {
                return Err(Error::config(
                    &a.field,
                    format!(
                        "no {} controller in this cgroup (cgroup2 offers: {})",
                        a.controller,
                        if offers.is_empty() {
                            "none".to_owned()
                        } else {
                            offers.join(", ")
                        }
                    ),
                ));
            }
        }
    }
    Ok(Some(cg))
}

/// The warning for device rules the kernel makes moot, which [`cgroup`] leaves
/// out (no device program is attached): where this runtime runs outside the
/// initial user namespace (rootless podman runs it as root of its own user
/// namespace), or as an unprivileged user
/// ([`devices_confined`](linception::features::devices_confined)). There no
/// container can create a device node (`mknod` of one needs `CAP_MKNOD` in the
/// initial user namespace) or open one its caller could not, and no device
/// program can be loaded. runc skips them there too, silently. `None` when the
/// config has no device rules or they are enforced.
pub fn unenforced_devices(spec: &Spec) -> Option<String> {
    let rules = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.devices().as_ref())
        .is_some_and(|d| !d.is_empty());
    (rules && crate::host::devices_confined()).then(|| {
        "linux.resources.devices: not enforced (no device program): this runtime runs \
         unprivileged or outside the initial user namespace, where the container can \
         create no device node and open none its caller could not"
            .to_owned()
    })
}

/// The container's cgroup, or the error naming the command.
fn need_cgroup(c: &Container, id: &str, cmd: &str) -> Result<()> {
    if c.cgroup_path().is_none() {
        return Err(Error::State(format!(
            "{cmd}: container {id:?} has no cgroup of its own (a rootless run without a delegated cgroup)"
        )));
    }
    Ok(())
}

/// `pause`: freezes the cgroup (`cgroup.freeze`).
///
/// # Errors
/// [`Error::State`] for a container without a cgroup; the freeze failing.
pub fn pause(c: &Container, id: &str) -> Result<()> {
    need_cgroup(c, id, "pause")?;
    if c.paused()? {
        return Err(Error::State(format!("container {id:?} is paused already")));
    }
    Ok(c.pause()?)
}

/// `resume`: thaws a paused cgroup.
///
/// # Errors
/// [`Error::State`] unless paused; the thaw failing.
pub fn resume(c: &Container, id: &str) -> Result<()> {
    need_cgroup(c, id, "resume")?;
    if !c.paused()? {
        return Err(Error::State(format!("container {id:?} is not paused")));
    }
    Ok(c.resume()?)
}

/// Whether the container's cgroup is frozen (the state's `paused`).
pub fn is_paused(c: &Container) -> bool {
    c.cgroup_path().is_some() && c.paused().unwrap_or(false)
}

/// `kill --all`: `sig` to every process of the container's cgroup.
///
/// # Errors
/// [`Error::State`] for a container without a cgroup; the signal failing.
pub fn kill_all(c: &Container, id: &str, sig: Signal) -> Result<()> {
    need_cgroup(c, id, "kill --all")?;
    Ok(c.signal_all(sig)?)
}

/// runc's `update` flags, as given.
#[derive(Clone, Debug, Default)]
pub struct UpdateFlags {
    /// `--resources FILE|-`: a `LinuxResources` document (`-`: stdin).
    pub resources: Option<String>,
    /// The other flags, by name without dashes, with their values.
    pub flags: Vec<(String, String)>,
}

/// The flags `update` takes besides `--resources`.
pub const UPDATE_FLAGS: [&str; 10] = [
    "memory",
    "memory-swap",
    "memory-reservation",
    "pids-limit",
    "cpu-shares",
    "cpu-quota",
    "cpu-period",
    "cpuset-cpus",
    "cpuset-mems",
    "blkio-weight",
];

/// The resources field each of [`UPDATE_FLAGS`] sets.
const UPDATE_FIELDS: [&str; 10] = [
    "memory.limit",
    "memory.swap",
    "memory.reservation",
    "pids.limit",
    "cpu.shares",
    "cpu.quota",
    "cpu.period",
    "cpu.cpus",
    "cpu.mems",
    "blockIO.weight",
];

/// A size with an optional unit (`512m`, `1g`, `4096`, `-1`).
fn size(flag: &str, v: &str) -> Result<i64> {
    let bad = || Error::Usage(format!("--{flag}: {v:?} is not a size (like 512m)"));
    let t = v.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (n, shift) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 10),
        Some('m') => (&t[..t.len() - 1], 20),
        Some('g') => (&t[..t.len() - 1], 30),
        Some('t') => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    let n: i64 = n.parse().map_err(|_| bad())?;
    n.checked_mul(1 << shift)
        .filter(|n| *n >= 0)
        .ok_or_else(bad)
}

/// The `LinuxResources` document of `update`'s flags (and `--resources`).
fn update_doc(u: &UpdateFlags) -> Result<(LinuxResources, &'static str)> {
    let mut doc = match &u.resources {
        Some(src) => {
            let text = if src == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                    .map_err(|e| Error::io("read", "stdin", e))?;
                s
            } else {
                std::fs::read_to_string(src).map_err(|e| Error::io("read", src, e))?
            };
            serde_json::from_str::<serde_json::Value>(&text)
                .map_err(|e| Error::config("--resources", e.to_string()))?
        }
        None => serde_json::json!({}),
    };
    for (k, v) in &u.flags {
        let int = |v: &str| -> Result<i64> {
            v.parse()
                .map_err(|_| Error::Usage(format!("--{k}: {v:?} is not a number")))
        };
        let (section, key, value) = match k.as_str() {
            "memory" => ("memory", "limit", serde_json::json!(size(k, v)?)),
            "memory-swap" => ("memory", "swap", serde_json::json!(size(k, v)?)),
            "memory-reservation" => ("memory", "reservation", serde_json::json!(size(k, v)?)),
            "pids-limit" => ("pids", "limit", serde_json::json!(int(v)?)),
            "cpu-shares" => ("cpu", "shares", serde_json::json!(int(v)?)),
            "cpu-quota" => ("cpu", "quota", serde_json::json!(int(v)?)),
            "cpu-period" => ("cpu", "period", serde_json::json!(int(v)?)),
            "cpuset-cpus" => ("cpu", "cpus", serde_json::json!(v)),
            "cpuset-mems" => ("cpu", "mems", serde_json::json!(v)),
            "blkio-weight" => ("blockIO", "weight", serde_json::json!(int(v)?)),
            other => return Err(Error::Usage(format!("update: unknown flag --{other}"))),
        };
        if !doc[section].is_object() {
            doc[section] = serde_json::json!({});
        }
        doc[section][key] = value;
    }
    if doc["cpu"]["period"].is_number() && !doc["cpu"]["quota"].is_number() {
        return Err(Error::Usage(
            "--cpu-period: needs --cpu-quota on cgroup v2 (cpu.max takes both)".into(),
        ));
    }
    let prefix = if u.resources.is_some() {
        "--resources"
    } else {
        "update"
    };
    let r: LinuxResources =
        serde_json::from_value(doc).map_err(|e| Error::config(prefix, e.to_string()))?;
    Ok((r, prefix))
}

/// `update`: the flags and `--resources` as one resources document, checked
/// (controllers named by field) and written to the running container's cgroup.
///
/// # Errors
/// [`Error::Usage`]/[`Error::Config`] naming a bad flag or field; the write failing.
pub fn update(c: &Container, id: &str, u: &UpdateFlags) -> Result<()> {
    let (doc, prefix) = update_doc(u)?;
    need_cgroup(c, id, "update")?;
    let (res, asked) = resources(&doc, prefix)?;
    if res.is_empty() {
        return Err(Error::Usage("update: nothing to update".into()));
    }
    let dir = c.cgroup_path().map(Path::to_owned).unwrap_or_default();
    let offers = Cgroup::new(dir).controllers_available()?;
    // A field a flag set is named by the flag.
    let by_flag = |field: &str| -> String {
        let flag = UPDATE_FLAGS.iter().zip(UPDATE_FIELDS).find(|(f, path)| {
            field == format!("update.{path}") && u.flags.iter().any(|(k, _)| k == *f)
        });
        flag.map_or(field.to_owned(), |(f, _)| format!("--{f}"))
    };
    for a in &asked {
        if !offers.iter().any(|c| c == a.controller) {
            return Err(Error::config(
                by_flag(&a.field),
                format!(
                    "no {} controller in this cgroup (cgroup2 offers: {})",
                    a.controller,
                    if offers.is_empty() {
                        "none".to_owned()
                    } else {
                        offers.join(", ")
                    }
                ),
            ));
        }
    }
    Ok(c.update(&res)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(json: &str) -> Result<(Resources, Vec<Asked>)> {
        resources(&serde_json::from_str(json).unwrap(), "linux.resources")
    }

    #[test]
    fn conversions_follow_runc() {
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(1000), 10_000);
        assert_eq!(page_size("2MB"), Some(2 << 20));
        assert_eq!(page_size("1GB"), Some(1 << 30));
        assert_eq!(page_size("64KB"), Some(64 << 10));
        assert_eq!(page_size("2M"), None);
        assert_eq!(id_list("f", "0-2,5").unwrap(), [0, 1, 2, 5]);
        assert!(id_list("f", "2-0").is_err());
        assert_eq!(size("memory", "512m").unwrap(), 512 << 20);
        assert_eq!(size("memory", "1G").unwrap(), 1 << 30);
        assert_eq!(size("memory", "-1").unwrap(), -1);
        assert!(size("memory", "lots").is_err());
    }

    #[test]
    fn fields_are_mapped_or_named() {
        let (_, asked) = res(
            r#"{"memory":{"limit":1048576,"swap":2097152},"pids":{"limit":5},
            "hugepageLimits":[{"pageSize":"2MB","limit":0}],"unified":{"memory.high":"max"}}"#,
        )
        .unwrap();
        let fields: Vec<_> = asked
            .iter()
            .map(|a| (a.field.as_str(), a.controller))
            .collect();
        assert_eq!(
            fields,
            [
                ("linux.resources.memory.limit", "memory"),
                ("linux.resources.memory.swap", "memory"),
                ("linux.resources.pids.limit", "pids"),
                ("linux.resources.hugepageLimits[0]", "hugetlb"),
                ("linux.resources.unified[\"memory.high\"]", "memory"),
            ]
        );
        let bad = [
            (
                r#"{"memory":{"kernel":1}}"#,
                "linux.resources.memory.kernel",
            ),
            (
                r#"{"memory":{"limit":100,"swap":50}}"#,
                "linux.resources.memory.swap",
            ),
            (
                r#"{"cpu":{"realtimeRuntime":1}}"#,
                "linux.resources.cpu.realtimeRuntime",
            ),
            (r#"{"cpu":{"cpus":"x"}}"#, "linux.resources.cpu.cpus"),
            (r#"{"network":{"classID":1}}"#, "linux.resources.network"),
            (
                r#"{"hugepageLimits":[{"pageSize":"2X","limit":1}]}"#,
                "linux.resources.hugepageLimits[0].pageSize",
            ),
            (
                r#"{"unified":{"foo.bar":"1"}}"#,
                "linux.resources.unified[\"foo.bar\"]",
            ),
            (
                r#"{"devices":[{"allow":true,"type":"a","major":1,"access":"r"}]}"#,
                "linux.resources.devices[0].type",
            ),
            (
                r#"{"devices":[{"allow":true,"type":"c","major":1,"access":"rx"}]}"#,
                "linux.resources.devices[0].access",
            ),
            (
                r#"{"devices":[{"allow":true,"type":"c","major":9000,"access":"r"}]}"#,
                "linux.resources.devices[0].major",
            ),
        ];
        for (json, field) in bad {
            let e = res(json)
                .err()
                .unwrap_or_else(|| panic!("accepted {json}"))
                .to_string();
            assert!(e.starts_with(field), "{field}: {e}");
        }
        let (r, asked) = res(r#"{"devices":[{"allow":false,"access":"rwm"}]}"#).unwrap();
        assert!(asked.is_empty(), "devices need no controller");
        assert!(!r.is_empty());
    }
}
