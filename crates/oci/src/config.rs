//! From an OCI runtime-spec config to a [`ContainerBuilder`].
//!
//! [`builder`] honours a field through the builder or refuses it by name; fields the
//! builder has no call for are refused, never dropped.
//!
//! # References
//! - [config.md](https://github.com/opencontainers/runtime-spec/blob/main/config.md),
//!   [config-linux.md](https://github.com/opencontainers/runtime-spec/blob/main/config-linux.md)

use std::path::{Path, PathBuf};
use std::time::Duration;

use linception::seccomp_notify::{Action, Arch, Cmp, Condition, Filter, FilterFlags};
use linception::userns::{Extent, IdMap};
use linception::{
    Atime, CapSet, Capabilities, Container, ContainerBuilder, CpuList, Device, Hook, HookPoint,
    IdMapping, IoClass, IoPriority, Mount, MountAttr, NamespaceType, Namespaces, NsSource,
    Personality, Propagation, Resource, RootChange, RootFs, SchedFlags, SchedPolicy, Scheduler,
    Seccomp, Terminal,
};
use oci_spec::runtime::{
    IOPriorityClass, LinuxDeviceType, LinuxIdMapping, LinuxPersonality, LinuxPersonalityDomain,
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator, Process, Spec,
};

use crate::{Error, Result};

/// Reads and parses `config.json` of a bundle.
///
/// # Errors
/// [`Error::Io`] for a missing or unreadable file, [`Error::Config`] (field
/// `config.json`) for a document that is not a runtime-spec config.
pub fn load(bundle: &Path) -> Result<Spec> {
    let path = bundle.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io("read", &path, e))?;
    parse(&text)
}

/// Parses a config document.
///
/// # Errors
/// [`Error::Config`] (field `config.json`) naming the parse error.
pub fn parse(text: &str) -> Result<Spec> {
    serde_json::from_str(text).or_else(|e| {
        // oci-spec's seccomp flags stop at LOG, TSYNC and SPEC_ALLOW: a document
        // with the spec's WAIT_KILLABLE_RECV (read from config.json itself by
        // `builder`), or a flag linception refuses by name, is looked at again.
        let mut doc: serde_json::Value =
            serde_json::from_str(text).map_err(|_| Error::config("config.json", e.to_string()))?;
        match strip_seccomp_flags(&mut doc)? {
            true => {
                serde_json::from_value(doc).map_err(|e| Error::config("config.json", e.to_string()))
            }
            false => Err(Error::config("config.json", e.to_string())),
        }
    })
}

/// How the caller runs the container: what the command line adds to the config.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The container's id (the OCI state's `id`).
    pub id: String,
    /// The bundle directory (absolute).
    pub bundle: PathBuf,
    /// `--console-socket`: where the terminal's master goes when `process.terminal`.
    pub console_socket: Option<PathBuf>,
    /// `--no-pivot`: the root is moved onto `/` and chrooted into
    /// ([`RootChange::MoveAndChroot`]) instead of pivoted, as runc's `--no-pivot`.
    pub no_pivot: bool,
}

/// The name of an enum value as the spec's JSON spells it (`"RLIMIT_NOFILE"`).
fn json_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(e) => format!("<{e}>"),
    }
}

/// The capability names by bit number (capabilities(7)).
const CAP_NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The set of capabilities named in one of the config's lists.
fn cap_set<T: serde::Serialize>(field: &str, caps: Option<&T>) -> Result<CapSet> {
    let Some(caps) = caps else {
        return Ok(CapSet::empty());
    };
    let names: Vec<String> = match serde_json::to_value(caps) {
        Ok(serde_json::Value::Array(a)) => a.iter().map(json_name).collect(),
        _ => return Err(Error::config(field, "not a list of capability names")),
    };
    let mut set = CapSet::empty();
    for name in names {
        let name = name.trim_matches('"').to_ascii_uppercase();
        let full = if name.starts_with("CAP_") {
            name.clone()
        } else {
            format!("CAP_{name}")
        };
        match CAP_NAMES.iter().position(|n| *n == full) {
            Some(bit) => set |= CapSet::from_bits_retain(1 << bit),
            None => return Err(Error::config(field, format!("unknown capability {name}"))),
        }
    }
    Ok(set)
}

/// What the runtime can grant the container's process: every capability of the
/// running kernel when the config gives the container a user namespace (new or
/// joined), else those the runtime itself holds
/// ([`grantable_capabilities`](linception::features::grantable_capabilities)).
fn grantable(spec: &Spec) -> CapSet {
    crate::host::grantable_capabilities(lists_namespace(spec, "user", |_| true))
}

/// The `CAP_*` names of a set, comma-separated.
fn cap_names(set: CapSet) -> String {
    (0..64u32)
        .filter(|bit| set.bits() & (1 << bit) != 0)
        .map(|bit| {
            CAP_NAMES
                .get(bit as usize)
                .map_or_else(|| format!("capability {bit}"), |n| (*n).to_owned())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `process.capabilities` as the five sets, each name checked.
///
/// # Errors
/// [`Error::Config`] naming the set with a name that is no capability.
fn capabilities_of(process: &Process) -> Result<Capabilities> {
    let caps = process.capabilities().as_ref();
    let set = |name: &str, list| cap_set(&format!("process.capabilities.{name}"), list);
    Ok(Capabilities {
        bounding: set("bounding", caps.and_then(|c| c.bounding().as_ref()))?,
        effective: set("effective", caps.and_then(|c| c.effective().as_ref()))?,
        permitted: set("permitted", caps.and_then(|c| c.permitted().as_ref()))?,
        inheritable: set("inheritable", caps.and_then(|c| c.inheritable().as_ref()))?,
        ambient: set("ambient", caps.and_then(|c| c.ambient().as_ref()))?,
    })
}

/// The capabilities of `process.capabilities` outside `g`, by set: the runtime
/// spec has them logged as a warning and the process run without them (a runtime
/// "SHOULD NOT fail"); [`builder`] and [`exec_process_builder`] leave them out. A
/// config whose names do not parse has none here (its error comes from the
/// builder).
fn ungranted(process: &Process, g: CapSet) -> Vec<(&'static str, CapSet)> {
    let Ok(c) = capabilities_of(process) else {
        return Vec::new();
    };
    c.named()
        .into_iter()
        .filter_map(|(name, set)| {
            let lost = set - g;
            (!lost.is_empty()).then_some((name, lost))
        })
        .collect()
}

/// One warning line per capability set of `process` naming what the runtime cannot
/// grant in the container `spec` describes (left out of the set): the container's
/// own process or one `exec` runs.
pub fn capability_warnings(process: &Process, spec: &Spec) -> Vec<String> {
    let g = grantable(spec);
    ungranted(process, g)
        .into_iter()
        .map(|(set, lost)| {
            format!(
                "process.capabilities.{set}: {} cannot be granted ({}): the process runs \
                 without them, as the runtime spec says",
                cap_names(lost),
                if g == linception::features::capabilities() {
                    "the running kernel has no such capability"
                } else {
                    "the runtime does not hold them, in its permitted and bounding sets, \
                     and the container stays in its user namespace"
                }
            )
        })
        .collect()
}

/// A namespace type of the config as the builder's flag and `setns` type.
fn namespace(field: &str, typ: &str) -> Result<(Namespaces, NamespaceType)> {
    Ok(match typ {
        "pid" => (Namespaces::PID, NamespaceType::Pid),
        "network" => (Namespaces::NET, NamespaceType::Net),
        "mount" => (Namespaces::MOUNT, NamespaceType::Mnt),
        "ipc" => (Namespaces::IPC, NamespaceType::Ipc),
        "uts" => (Namespaces::UTS, NamespaceType::Uts),
        "user" => (Namespaces::USER, NamespaceType::User),
        "cgroup" => (Namespaces::CGROUP, NamespaceType::Cgroup),
        "time" => (Namespaces::TIME, NamespaceType::Time),
        other => {
            return Err(Error::config(
                field,
                format!("unknown namespace type {other:?}"),
            ));
        }
    })
}

/// `uidMappings`/`gidMappings` as an id map.
fn id_map(field: &str, maps: &[LinuxIdMapping]) -> Result<IdMap> {
    let extents: Vec<Extent> = maps
        .iter()
        .map(|m| Extent::new(m.container_id(), m.host_id(), m.size()))
        .collect();
    IdMap::new(extents).map_err(|e| Error::config(field, e.to_string()))
}

/// A propagation name of `rootfsPropagation` or a mount option.
fn propagation(name: &str) -> Option<Propagation> {
    Some(match name {
        "private" | "rprivate" => Propagation::Private,
        "shared" | "rshared" => Propagation::Shared,
        "slave" | "rslave" => Propagation::Slave,
        "unbindable" | "runbindable" => Propagation::Unbindable,
        _ => return None,
    })
}

/// Why a mount's `slave`/`rslave` has no master to receive events from, if it has
/// none: a new filesystem, or a bind of the copied tree when that tree is private
/// (no `rootfsPropagation` of `slave`/`rslave`). mount(2) then leaves the mount
/// private (runc's `MS_SLAVE` does nothing else); linception-oci asks for private,
/// as the umbrella refuses a slave without a master, and [`warnings`] says so.
fn masterless_slave(is_bind: bool, slave_root: bool) -> Option<&'static str> {
    match (is_bind, slave_root) {
        (false, _) => Some("a new filesystem has no master to receive mount events from"),
        (true, false) => Some(
            "the copied mount tree is private (no rootfsPropagation slave), so a bind has \
             no master",
        ),
        (true, true) => None,
    }
}

/// Whether `rootfsPropagation` makes the copied tree a slave one.
fn slave_root(spec: &Spec) -> bool {
    let p = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref());
    matches!(p, Some("slave" | "rslave"))
}

/// What the container is, as far as its mounts care: its user and cgroup
/// namespaces and its id maps (an idmapped mount must map as the container does).
struct MountContext<'a> {
    bundle: &'a Path,
    userns: bool,
    cgroupns: bool,
    /// The copied tree is a slave one (`rootfsPropagation` `slave`/`rslave`).
    slave_root: bool,
    uid_map: &'a [LinuxIdMapping],
    gid_map: &'a [LinuxIdMapping],
    /// Each mount's `uidMappings`/`gidMappings` (oci-spec 0.8 does not parse them):
    /// read from the bundle's `config.json`, by index.
    idmaps: Vec<Option<RawMountMaps>>,
}

/// A mount's `uidMappings` and `gidMappings` as the JSON gives them.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
struct RawMountMaps {
    #[serde(rename = "uidMappings", default)]
    uid: Vec<RawIdMapping>,
    #[serde(rename = "gidMappings", default)]
    gid: Vec<RawIdMapping>,
}

/// One id mapping of a mount (`containerID`, `hostID`, `size`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize)]
struct RawIdMapping {
    #[serde(rename = "containerID")]
    container: u32,
    #[serde(rename = "hostID")]
    host: u32,
    size: u32,
}

/// The mounts' `uidMappings`/`gidMappings` of the bundle's `config.json` (the
/// document `spec` was parsed from), where the destination at the same index
/// agrees with `spec`; nothing when there is no such file.
fn raw_mount_maps(bundle: &Path, spec: &Spec) -> Result<Vec<Option<RawMountMaps>>> {
    #[derive(serde::Deserialize)]
    struct RawMount {
        destination: PathBuf,
        #[serde(flatten)]
        maps: RawMountMaps,
    }
    #[derive(serde::Deserialize)]
    struct RawConfig {
        #[serde(default)]
        mounts: Vec<RawMount>,
    }
    let path = bundle.join("config.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(Vec::new());
    };
    let raw: RawConfig = serde_json::from_str(&text)
        .map_err(|e| Error::config("mounts", format!("uidMappings/gidMappings: {e}")))?;
    let mounts = spec.mounts().as_deref().unwrap_or_default();
    Ok(raw
        .mounts
        .into_iter()
        .zip(mounts)
        .map(|(r, m)| {
            let any = !r.maps.uid.is_empty() || !r.maps.gid.is_empty();
            (any && r.destination == *m.destination()).then_some(r.maps)
        })
        .collect())
}

/// The attribute choices of a mount's options, kept as runc reads them: each
/// option sets or clears one flag, the last word on a flag wins.
#[derive(Debug, Default)]
struct AttrOptions {
    set: MountAttr,
    clear: MountAttr,
    /// `noatime`, `relatime`, `strictatime` set (or cleared by their `no`/`atime`
    /// forms), as the `MS_*` flags of mount(2).
    atime: [Option<bool>; 3],
}

impl AttrOptions {
    fn flag(&mut self, attr: MountAttr, on: bool) {
        if on {
            self.set |= attr;
            self.clear -= attr;
        } else {
            self.clear |= attr;
            self.set -= attr;
        }
    }

    /// The access-time mode the options ask for (`None`: the default), or why
    /// they contradict each other.
    fn atime(&self) -> std::result::Result<Option<Atime>, &'static str> {
        let on = |i: usize| self.atime[i] == Some(true);
        match (on(0), on(1), on(2)) {
            (true, _, true) => Err("noatime and strictatime: a mount has one access-time mode"),
            (true, true, _) => Err("noatime and relatime: a mount has one access-time mode"),
            (_, true, true) => Err("relatime and strictatime: a mount has one access-time mode"),
            (true, _, _) => Ok(Some(Atime::NoAtime)),
            (_, _, true) => Ok(Some(Atime::StrictAtime)),
            (_, true, _) => Ok(Some(Atime::Relatime)),
            _ => Ok(None),
        }
    }
}

/// A per-mount attribute option (`nosuid`, `exec`, `noatime`...): (flag or atime
/// index, on).
enum AttrWord {
    Flag(MountAttr, bool),
    Atime(usize, bool),
}

fn attr_word(opt: &str) -> Option<AttrWord> {
    use AttrWord::{Atime as A, Flag as F};
    Some(match opt {
        "ro" => F(MountAttr::RDONLY, true),
        "rw" => F(MountAttr::RDONLY, false),
        "nosuid" => F(MountAttr::NOSUID, true),
        "suid" => F(MountAttr::NOSUID, false),
        "nodev" => F(MountAttr::NODEV, true),
        "dev" => F(MountAttr::NODEV, false),
        "noexec" => F(MountAttr::NOEXEC, true),
        "exec" => F(MountAttr::NOEXEC, false),
        "nodiratime" => F(MountAttr::NODIRATIME, true),
        "diratime" => F(MountAttr::NODIRATIME, false),
        "nosymfollow" => F(MountAttr::NOSYMFOLLOW, true),
        "symfollow" => F(MountAttr::NOSYMFOLLOW, false),
        "noatime" => A(0, true),
        "atime" => A(0, false),
        "relatime" => A(1, true),
        "norelatime" => A(1, false),
        "strictatime" => A(2, true),
        "nostrictatime" => A(2, false),
        _ => return None,
    })
}

/// Superblock flags a new filesystem takes as `fsconfig` flags.
const SB_FLAGS: [&str; 6] = [
    "sync",
    "async",
    "dirsync",
    "lazytime",
    "nolazytime",
    "nomand",
];

/// An overlay option naming host paths, resolved against the bundle as runc does
/// (it runs in the bundle directory): `lowerdir` is a `:` list.
fn overlay_option(key: &str, value: &str, bundle: &Path) -> Option<String> {
    let resolve = |p: &str| -> String {
        if p.is_empty() || Path::new(p).is_absolute() {
            p.to_owned()
        } else {
            bundle.join(p).display().to_string()
        }
    };
    match key {
        "lowerdir" => Some(value.split(':').map(resolve).collect::<Vec<_>>().join(":")),
        "upperdir" | "workdir" | "lowerdir+" | "datadir+" => Some(resolve(value)),
        _ => None,
    }
}

/// Whether the config mounts something of its own on `/dev/pts`, `/dev/shm` or
/// `/dev/mqueue` (then `/dev` is only the tmpfs, nodes and links, as runc makes it).
fn own_dev_submounts(spec: &Spec) -> bool {
    spec.mounts().iter().flatten().any(|m| {
        ["/dev/pts", "/dev/shm", "/dev/mqueue"]
            .iter()
            .any(|d| m.destination() == Path::new(d))
    })
}

/// Compares a mount's id mappings with the container's.
fn same_maps(mount: &[RawIdMapping], container: &[LinuxIdMapping]) -> bool {
    let mut a = mount.to_vec();
    let mut b: Vec<RawIdMapping> = container
        .iter()
        .map(|m| RawIdMapping {
            container: m.container_id(),
            host: m.host_id(),
            size: m.size(),
        })
        .collect();
    a.sort();
    b.sort();
    a == b
}

/// Whether `linux.namespaces` lists a namespace of type `typ` whose `path` passes
/// `path` (`|_| true`: new or joined).
fn lists_namespace(spec: &Spec, typ: &str, path: impl Fn(Option<&PathBuf>) -> bool) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .into_iter()
        .flatten()
        .any(|ns| json_name(&ns.typ()) == typ && path(ns.path().as_ref()))
}

/// Whether the config creates a namespace of type `typ` (listed without a path).
fn new_namespace(spec: &Spec, typ: &str) -> bool {
    lists_namespace(spec, typ, |path| path.is_none())
}

/// Whether a `cgroup`/`cgroup2` mount is made as a recursive bind of the runtime's
/// cgroup2 mount, as runc falls back to: the container shares the runtime's cgroup
/// namespace (none in the config) and a new cgroup2 mount of it needs
/// `CAP_SYS_ADMIN` over the user namespace that owns it, which the container's
/// root lacks in a user namespace of its own, and so does a runtime outside the
/// initial user namespace (rootless podman's). [`warnings`] says so.
fn cgroup_bound(typ: &str, userns: bool, cgroupns: bool) -> bool {
    matches!(typ, "cgroup" | "cgroup2")
        && !cgroupns
        && (userns || !crate::host::in_initial_user_namespace())
}

/// A mount of the config as a builder mount: every option honoured or refused by
/// name.
fn mount(
    i: usize,
    m: &oci_spec::runtime::Mount,
    ctx: &MountContext<'_>,
    dev_submounts: bool,
) -> Result<Mount> {
    let dest = m.destination();
    let field = format!("mounts[{i}] ({})", dest.display());
    if !dest.is_absolute() {
        return Err(Error::config(field, "destination must be absolute"));
    }
    let options: Vec<String> = m.options().clone().unwrap_or_default();
    let typ = m.typ().clone().unwrap_or_default();
    let cgroup_bind = cgroup_bound(&typ, ctx.userns, ctx.cgroupns);
    let is_bind =
        cgroup_bind || typ == "bind" || options.iter().any(|o| o == "bind" || o == "rbind");
    let recursive = cgroup_bind || options.iter().any(|o| o == "rbind");
    let source = m.source().as_ref().filter(|s| !s.as_os_str().is_empty());
    let mut out = if cgroup_bind {
        let cg2 = linception::features::cgroup2().map_err(|e| {
            Error::config(
                format!("{field} type {typ:?}"),
                format!(
                    "the container shares the runtime's cgroup namespace, where this \
                     runtime may not mount cgroup2, and there is no cgroup2 mount to bind \
                     instead: {e}"
                ),
            )
        })?;
        Mount::bind(cg2.mount_point, dest).recursive()
    } else if is_bind {
        let src = source.ok_or_else(|| Error::config(&field, "a bind needs a source"))?;
        let src = if src.is_absolute() {
            src.clone()
        } else {
            ctx.bundle.join(src)
        };
        let b = Mount::bind(src, dest);
        if recursive { b.recursive() } else { b }
    } else {
        let fs = match typ.as_str() {
            "tmpfs" if dest == Path::new("/dev") => {
                let d = Mount::dev(dest);
                if dev_submounts {
                    d
                } else {
                    d.without_submounts()
                }
            }
            "tmpfs" => Mount::tmpfs(dest),
            "proc" => Mount::proc(dest),
            "cgroup" | "cgroup2" => {
                // linception targets cgroup v2: a cgroup2 mount of the container's
                // cgroup namespace (runc mounts v1 hierarchies on a v1 host).
                Mount::filesystem("cgroup2", dest)
            }
            "" => return Err(Error::config(field, "no type (and not a bind)")),
            other => Mount::filesystem(other, dest),
        };
        match source.and_then(|s| s.to_str()) {
            Some(src) if !src.is_empty() && typ != "cgroup" => fs.option("source", src),
            _ => fs,
        }
    };
    let is_dev = !is_bind && typ == "tmpfs" && dest == Path::new("/dev");
    let mut top = AttrOptions::default();
    let mut tree = AttrOptions::default();
    let mut idmap: Option<bool> = None;
    for opt in &options {
        let refuse = |why: &str| Error::config(format!("{field} option {opt:?}"), why.to_owned());
        if let Some(word) = attr_word(opt) {
            match word {
                AttrWord::Flag(f, on) => top.flag(f, on),
                AttrWord::Atime(i, on) => top.atime[i] = Some(on),
            }
            continue;
        }
        if let Some(word) = opt.strip_prefix('r').and_then(attr_word) {
            // A recursive form: a bind's whole tree; a new filesystem (or a bind
            // without submounts) is its own tree.
            let to = if recursive { &mut tree } else { &mut top };
            match word {
                AttrWord::Flag(f, on) => to.flag(f, on),
                AttrWord::Atime(i, on) => to.atime[i] = Some(on),
            }
            continue;
        }
        match opt.as_str() {
            "bind" | "rbind" => {}
            p if propagation(p).is_some() => {
                if is_dev {
                    return Err(refuse("/dev takes no propagation"));
                }
                let mut prop = propagation(p).unwrap_or(Propagation::Private);
                if prop == Propagation::Slave && masterless_slave(is_bind, ctx.slave_root).is_some()
                {
                    prop = Propagation::Private;
                }
                out = out.propagation(prop);
            }
            "idmap" | "ridmap" if !is_bind => {
                return Err(refuse("only a bind can be idmapped"));
            }
            "idmap" if recursive => {
                return Err(refuse(
                    "idmap on an rbind maps only its top mount; linception maps the whole \
                     tree of a recursive bind: use ridmap",
                ));
            }
            "idmap" | "ridmap" => idmap = Some(true),
            "mand" => {
                return Err(refuse(
                    "mandatory locking was removed from the kernel (Linux 5.15)",
                ));
            }
            "remount" => return Err(refuse("a container's mounts are new: nothing to remount")),
            "silent" | "loud" => {
                return Err(refuse(
                    "a mount(2) logging flag: the new mount API returns the kernel's \
                     messages with the error instead",
                ));
            }
            "tmpcopyup" if is_bind || typ != "tmpfs" || is_dev => {
                return Err(refuse("only a tmpfs (not /dev's) can be copied up"));
            }
            "tmpcopyup" => out = out.copy_up(),
            sb if SB_FLAGS.contains(&sb) => {
                if is_bind {
                    return Err(refuse(
                        "a superblock flag: a bind shares its source's superblock, which \
                         a container mount does not change",
                    ));
                }
                out = out.flag(sb);
            }
            // Filesystem data (`mode=755`, `size=1k`: the suite's and Docker's tmpfs
            // defaults) on a bind: runc hands it to mount(2), which ignores data on
            // a bind; accepted likewise, and named by `warnings` (not silently).
            kv if is_bind && bind_data(kv) => {}
            _ if is_bind => return Err(refuse("not a bind option")),
            kv => match kv.split_once('=') {
                Some((k, v)) if typ == "overlay" => match overlay_option(k, v, ctx.bundle) {
                    Some(resolved) => out = out.option(k, resolved),
                    None => out = out.option(k, v),
                },
                Some((k, v)) => out = out.option(k, v),
                None => out = out.flag(kv),
            },
        }
    }
    let maps = ctx.idmaps.get(i).cloned().flatten();
    if maps.is_some() && !is_bind {
        return Err(Error::config(
            format!("{field}.uidMappings"),
            "only a bind can be idmapped",
        ));
    }
    if let Some(maps) = &maps {
        if maps.uid.is_empty() || maps.gid.is_empty() {
            return Err(Error::config(
                format!("{field}.uidMappings"),
                "an idmapped mount needs both uidMappings and gidMappings",
            ));
        }
        if !ctx.userns {
            return Err(Error::config(
                format!("{field}.uidMappings"),
                "linception maps a mount through the container's user namespace: the \
                 container needs one (linux.namespaces: user)",
            ));
        }
        if !same_maps(&maps.uid, ctx.uid_map) || !same_maps(&maps.gid, ctx.gid_map) {
            return Err(Error::config(
                format!("{field}.uidMappings"),
                "differs from linux.uidMappings/gidMappings: linception maps a mount \
                 through the container's own user namespace, so a mount's mappings must \
                 be the container's",
            ));
        }
        idmap = Some(true);
    }
    if idmap == Some(true) {
        if !ctx.userns {
            return Err(Error::config(
                format!("{field} option \"idmap\""),
                "linception maps a mount through the container's user namespace: the \
                 container needs one (linux.namespaces: user)",
            ));
        }
        out = out.idmapped();
    }
    attributes(out, &field, is_bind, &top, &tree)
}

/// Applies a mount's attribute options. A new filesystem gets exactly the
/// attributes listed (what mount(2) gives runc: the builder's `nosuid`/`nodev`/
/// `noexec` defaults are lifted where the options do not ask for them); a bind
/// keeps its source's attributes but for those the options set or clear.
fn attributes(
    mut out: Mount,
    field: &str,
    is_bind: bool,
    top: &AttrOptions,
    tree: &AttrOptions,
) -> Result<Mount> {
    let atime = |a: &AttrOptions| {
        a.atime()
            .map_err(|why| Error::config(format!("{field} options"), why))
    };
    if is_bind {
        if !tree.set.is_empty() {
            out = out.tree_attributes(tree.set);
        }
        if !tree.clear.is_empty() {
            out = out.clear_tree_attributes(tree.clear);
        }
        if let Some(mode) = atime(tree)? {
            out = out.tree_atime(mode);
        }
        let both = (top.set & tree.clear) | (top.clear & tree.set);
        if !both.is_empty() {
            return Err(Error::config(
                format!("{field} options"),
                format!(
                    "{} both set and cleared (by a plain and a recursive option): \
                     contradictory",
                    both.iter_names()
                        .map(|(n, _)| n)
                        .collect::<Vec<_>>()
                        .join("|")
                ),
            ));
        }
        if !top.clear.is_empty() {
            out = out.clear_attributes(top.clear);
        }
    } else {
        let lifted = (MountAttr::NOSUID | MountAttr::NODEV | MountAttr::NOEXEC) - top.set;
        out = out.clear_attributes(lifted);
    }
    if !top.set.is_empty() {
        out = out.attributes(top.set);
    }
    if !is_bind && top.set.contains(MountAttr::RDONLY) {
        // mount(2)'s MS_RDONLY makes a new superblock read-only too, as runc gets.
        out = out.flag("ro");
    }
    if let Some(mode) = atime(top)? {
        out = out.atime(mode);
    }
    Ok(out)
}

/// The spec's `linux.seccomp.flags` this runtime maps (runc knows the first three;
/// `WAIT_KILLABLE_RECV` needs a notifying rule).
pub(crate) const SECCOMP_FLAGS: [(&str, FilterFlags); 4] = [
    ("SECCOMP_FILTER_FLAG_LOG", FilterFlags::LOG),
    ("SECCOMP_FILTER_FLAG_SPEC_ALLOW", FilterFlags::SPEC_ALLOW),
    ("SECCOMP_FILTER_FLAG_TSYNC", FilterFlags::TSYNC),
    (WAIT_KILLABLE_RECV, FilterFlags::WAIT_KILLABLE_RECV),
];

/// The one flag of the spec that oci-spec's `LinuxSeccompFilterFlag` lacks.
const WAIT_KILLABLE_RECV: &str = "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV";

/// Refuses by name a `linux.seccomp.flags` entry the runtime does not map, and
/// takes `WAIT_KILLABLE_RECV` out of `doc` (oci-spec cannot hold it; `builder`
/// reads it from the bundle's config.json itself). True if `doc` changed.
fn strip_seccomp_flags(doc: &mut serde_json::Value) -> Result<bool> {
    let field = "linux.seccomp.flags";
    let Some(flags) = doc
        .pointer_mut("/linux/seccomp/flags")
        .and_then(|f| f.as_array_mut())
    else {
        return Ok(false);
    };
    for f in flags.iter() {
        let name = f.as_str().unwrap_or_default();
        if SECCOMP_FLAGS.iter().any(|(n, _)| *n == name) {
            continue;
        }
        return Err(Error::config(
            field,
            match name {
                "SECCOMP_FILTER_FLAG_NEW_LISTENER" | "SECCOMP_FILTER_FLAG_TSYNC_ESRCH" => format!(
                    "{name} is the runtime's own (set when a rule notifies an agent), \
                     not a config's, as runc refuses it"
                ),
                _ => format!("{f}: not a seccomp flag this runtime knows"),
            },
        ));
    }
    let before = flags.len();
    flags.retain(|f| f.as_str() != Some(WAIT_KILLABLE_RECV));
    Ok(flags.len() != before)
}

/// Whether the bundle's config.json asks for `WAIT_KILLABLE_RECV` (which
/// [`parse`] takes out: oci-spec has no such flag).
pub(crate) fn wait_killable_recv(bundle: &Path) -> Result<bool> {
    let Ok(text) = std::fs::read_to_string(bundle.join("config.json")) else {
        return Ok(false);
    };
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::config("linux.seccomp.flags", e.to_string()))?;
    Ok(doc
        .pointer("/linux/seccomp/flags")
        .and_then(|f| f.as_array())
        .is_some_and(|f| f.iter().any(|f| f.as_str() == Some(WAIT_KILLABLE_RECV))))
}

/// A seccomp action of the config.
fn action(field: &str, a: LinuxSeccompAction, errno: Option<u32>) -> Result<Action> {
    Ok(match a {
        LinuxSeccompAction::ScmpActAllow => Action::Allow,
        LinuxSeccompAction::ScmpActErrno => {
            let e = errno.unwrap_or(libc_eperm());
            Action::Errno(i32::try_from(e).map_err(|_| Error::config(field, "errno too big"))?)
        }
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            Action::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => Action::KillProcess,
        LinuxSeccompAction::ScmpActTrap => Action::Trap(0),
        LinuxSeccompAction::ScmpActLog => Action::Log,
        LinuxSeccompAction::ScmpActTrace => Action::Trace(
            u16::try_from(errno.unwrap_or(0)).map_err(|_| Error::config(field, "too big"))?,
        ),
        // Checked against listenerPath by the caller.
        LinuxSeccompAction::ScmpActNotify => Action::UserNotif,
    })
}

/// The syscalls the init makes with its filter in place before the runtime holds
/// the listener (it sends the listener with `sendmsg`, then `write`s its report):
/// notifying on them would hang the create. runc refuses `write` for the same
/// reason.
const NOT_NOTIFIABLE: [&str; 2] = ["write", "sendmsg"];

/// The longest unix socket path (`sun_path` holds 108 bytes with the NUL).
const MAX_SOCKET_PATH: usize = 107;

/// `EPERM`, the spec's default errno.
const fn libc_eperm() -> u32 {
    1
}

/// A seccomp section, as linception installs it.
pub(crate) struct SeccompConfig {
    /// The filter: the native ABI and the compat ABIs the config lists.
    pub filter: Filter,
    /// `linux.seccomp.flags`.
    pub flags: FilterFlags,
    /// Where the listener goes, if a rule notifies.
    pub agent: Option<crate::notify::Agent>,
}

/// The seccomp section as a linception filter for the native architecture (and its
/// compat ABIs the config lists, each filtered by the rules with its own syscall
/// numbers), its flags (`wait_killable_recv`: the config asks for
/// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`, which [`parse`] takes out), and where
/// its listener goes when it notifies (`SCMP_ACT_NOTIFY` needs a `listenerPath`;
/// without a notifying rule the path and metadata are ignored, as the spec says).
pub(crate) fn seccomp(s: &LinuxSeccomp, wait_killable_recv: bool) -> Result<SeccompConfig> {
    let arch = Arch::native().ok_or_else(|| {
        Error::config("linux.seccomp", "no seccomp architecture for this machine")
    })?;
    let mut flags = FilterFlags::empty();
    let mut flag_names: Vec<String> = s.flags().iter().flatten().map(json_name).collect();
    if wait_killable_recv {
        flag_names.push(WAIT_KILLABLE_RECV.to_owned());
    }
    for name in &flag_names {
        let Some(&(_, flag)) = SECCOMP_FLAGS.iter().find(|(n, _)| n == name) else {
            return Err(Error::config(
                "linux.seccomp.flags",
                format!("{name}: not a seccomp flag this runtime knows"),
            ));
        };
        flags |= flag;
    }
    let listener_path = s
        .listener_path()
        .as_ref()
        .filter(|p| !p.as_os_str().is_empty());
    let needs_path = |field: &str| {
        Error::config(
            field,
            "SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath (the agent the listener is sent to)",
        )
    };
    let native = native_arch_name();
    let archs: Vec<String> = s.architectures().iter().flatten().map(json_name).collect();
    let compat = compat_arch_names();
    let mut compat_arches = Vec::new();
    for name in &archs {
        // Profiles (the default one of runtime-spec generators, containerd's, Docker's)
        // list the native ABI with its compat ABIs (x86 and x32 beside x86_64). The
        // rules apply to each ABI listed, with its own numbers (as libseccomp adds an
        // architecture); a call through an ABI the profile does not list is killed. A
        // list without the native ABI would filter nothing the container runs, so it
        // is refused.
        if let Some(a) = compat_arch(name) {
            compat_arches.push(a);
        }
        if name != native && !(compat.contains(&name.as_str()) && archs.iter().any(|a| a == native))
        {
            return Err(Error::config(
                "linux.seccomp.architectures",
                format!(
                    "{name}: only the native architecture ({native}) is filtered{}",
                    if compat.contains(&name.as_str()) {
                        " (its compat ABIs only beside it)"
                    } else {
                        ""
                    }
                ),
            ));
        }
    }
    let default = action(
        "linux.seccomp.defaultAction",
        s.default_action(),
        s.default_errno_ret(),
    )?;
    if default == Action::UserNotif {
        if listener_path.is_none() {
            return Err(needs_path("linux.seccomp.defaultAction"));
        }
        return Err(Error::config(
            "linux.seccomp.defaultAction",
            "SCMP_ACT_NOTIFY cannot be the default action: every syscall would wait \
             for the agent (notify on chosen syscalls instead), as runc refuses it",
        ));
    }
    let mut filter = compat_arches
        .into_iter()
        .fold(Filter::for_arch(arch, default), Filter::with_arch);
    let mut notifies = false;
    for (i, sc) in s.syscalls().iter().flatten().enumerate() {
        let field = format!("linux.seccomp.syscalls[{i}]");
        let act = action(&format!("{field}.action"), sc.action(), sc.errno_ret())?;
        if act == Action::UserNotif {
            if listener_path.is_none() {
                return Err(needs_path(&format!("{field}.action")));
            }
            if let Some(name) = sc
                .names()
                .iter()
                .find(|n| NOT_NOTIFIABLE.contains(&n.as_str()))
            {
                return Err(Error::config(
                    format!("{field}.names"),
                    format!(
                        "SCMP_ACT_NOTIFY on {name}: the init makes it with the filter in \
                         place before the agent has the listener (the create would hang)"
                    ),
                ));
            }
        }
        let mut conds = Vec::new();
        for (j, arg) in sc.args().iter().flatten().enumerate() {
            let af = format!("{field}.args[{j}]");
            let index = u8::try_from(arg.index())
                .ok()
                .filter(|i| *i < 6)
                .ok_or_else(|| Error::config(&af, "index must be 0..5"))?;
            let v = arg.value();
            let cmp = match arg.op() {
                LinuxSeccompOperator::ScmpCmpNe => Cmp::Ne(v),
                LinuxSeccompOperator::ScmpCmpLt => Cmp::Lt(v),
                LinuxSeccompOperator::ScmpCmpLe => Cmp::Le(v),
                LinuxSeccompOperator::ScmpCmpEq => Cmp::Eq(v),
                LinuxSeccompOperator::ScmpCmpGe => Cmp::Ge(v),
                LinuxSeccompOperator::ScmpCmpGt => Cmp::Gt(v),
                LinuxSeccompOperator::ScmpCmpMaskedEq => Cmp::MaskedEq {
                    mask: v,
                    value: arg.value_two().unwrap_or(0),
                },
            };
            conds.push(Condition::new(index, cmp));
        }
        for name in sc.names() {
            // As runc and libseccomp do: a name the filter's ABIs lack is skipped
            // (profiles list syscalls of every architecture); one that some ABI
            // lacks is skipped there by the filter.
            if !filter.arches().any(|a| a.syscall_number(name).is_ok()) {
                continue;
            }
            notifies |= act == Action::UserNotif;
            filter = filter.rule_if(name.as_str(), conds.clone(), act);
        }
    }
    let agent = match listener_path {
        Some(path) if notifies => {
            if path.as_os_str().len() > MAX_SOCKET_PATH {
                return Err(Error::config(
                    "linux.seccomp.listenerPath",
                    format!(
                        "{path:?} is longer than a unix socket address holds \
                         ({MAX_SOCKET_PATH} bytes)"
                    ),
                ));
            }
            Some(crate::notify::Agent {
                path: path.clone(),
                metadata: s.listener_metadata().clone(),
            })
        }
        _ => None,
    };
    if flags.contains(FilterFlags::WAIT_KILLABLE_RECV) && agent.is_none() {
        return Err(Error::config(
            "linux.seccomp.flags",
            format!(
                "{WAIT_KILLABLE_RECV} needs a rule with SCMP_ACT_NOTIFY and a listenerPath \
                 (it applies to notifications)"
            ),
        ));
    }
    // A flag the running kernel does not take (with the listener it goes with).
    let probe = |f: FilterFlags| {
        let f = if agent.is_some() {
            f | FilterFlags::NEW_LISTENER
        } else {
            f
        };
        linception::seccomp_notify::filter_flags_available(f.effective()).unwrap_or(false)
    };
    if !flags.is_empty() && !probe(flags) {
        let refused: Vec<&str> = SECCOMP_FLAGS
            .iter()
            .filter(|(_, f)| flags.contains(*f) && !probe(*f))
            .map(|(n, _)| *n)
            .collect();
        return Err(Error::config(
            "linux.seccomp.flags",
            format!(
                "{}: the running kernel does not take it",
                if refused.is_empty() {
                    flag_names.join(" with ")
                } else {
                    refused.join(", ")
                }
            ),
        ));
    }
    Ok(SeccompConfig {
        filter,
        flags,
        agent,
    })
}

/// The spec's name of the native seccomp architecture.
pub(crate) fn native_arch_name() -> &'static str {
    if cfg!(target_arch = "x86_64") {
        "SCMP_ARCH_X86_64"
    } else if cfg!(target_arch = "aarch64") {
        "SCMP_ARCH_AARCH64"
    } else if cfg!(target_arch = "x86") {
        "SCMP_ARCH_X86"
    } else {
        "SCMP_ARCH_NATIVE"
    }
}

/// The spec's names of the architectures whose calls a filter applies its rules to:
/// the native one and the compat ABIs linception has tables for.
pub(crate) fn filtered_arch_names() -> Vec<&'static str> {
    let mut names = vec![native_arch_name()];
    names.extend(
        compat_arch_names()
            .iter()
            .copied()
            .filter(|n| compat_arch(n).is_some()),
    );
    names.sort_unstable();
    names
}

/// The compat ABI a spec name stands for, where linception has its syscall table
/// (x86_64's i386 and x32; aarch64's arm32 has none: its calls stay killed).
fn compat_arch(name: &str) -> Option<Arch> {
    match name {
        "SCMP_ARCH_X86" if cfg!(target_arch = "x86_64") => Some(Arch::X86),
        "SCMP_ARCH_X32" if cfg!(target_arch = "x86_64") => Some(Arch::X32),
        _ => None,
    }
}

/// The spec's names of the native architecture's compat ABIs, which the config may
/// list beside the native one (filtered by the rules where [`compat_arch`] knows
/// them, killed otherwise).
fn compat_arch_names() -> &'static [&'static str] {
    if cfg!(target_arch = "x86_64") {
        &["SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    } else if cfg!(target_arch = "aarch64") {
        &["SCMP_ARCH_ARM"]
    } else {
        &[]
    }
}

/// An OCI hook as a linception command hook.
fn hook(field: &str, h: &oci_spec::runtime::Hook) -> Result<Hook> {
    let mut out = Hook::command(h.path());
    if let Some(args) = h.args() {
        // args[0] is the program's argv[0], as in execve.
        out = out.args(args.iter().skip(1));
    }
    for kv in h.env().iter().flatten() {
        let (k, v) = kv.split_once('=').ok_or_else(|| {
            Error::config(format!("{field}.env"), format!("{kv:?} is not KEY=VALUE"))
        })?;
        out = out.env(k, v);
    }
    if let Some(t) = h.timeout() {
        let secs = u64::try_from(t)
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| Error::config(format!("{field}.timeout"), "must be positive"))?;
        out = out.timeout(Duration::from_secs(secs));
    }
    Ok(out)
}

/// Every hook of the config, at linception's points (`prestart`, deprecated, runs
/// where the spec says: with `createRuntime`, before it).
///
/// # Errors
/// [`Error::Config`] for a bad hook.
pub fn hooks(spec: &Spec) -> Result<Vec<(HookPoint, Hook)>> {
    let mut out = Vec::new();
    let Some(h) = spec.hooks() else {
        return Ok(out);
    };
    #[allow(deprecated)]
    let prestart = h.prestart();
    let lists = [
        ("hooks.prestart", HookPoint::CreateRuntime, prestart),
        (
            "hooks.createRuntime",
            HookPoint::CreateRuntime,
            h.create_runtime(),
        ),
        (
            "hooks.createContainer",
            HookPoint::CreateContainer,
            h.create_container(),
        ),
        (
            "hooks.startContainer",
            HookPoint::StartContainer,
            h.start_container(),
        ),
        ("hooks.poststart", HookPoint::PostStart, h.poststart()),
        ("hooks.poststop", HookPoint::PostStop, h.poststop()),
    ];
    for (name, point, list) in lists {
        for (i, one) in list.iter().flatten().enumerate() {
            out.push((point, hook(&format!("{name}[{i}]"), one)?));
        }
    }
    Ok(out)
}

/// Whether a bind's option is filesystem data (`key=value`), which a bind does not
/// take: mount(2) ignores the data of a bind (runc passes it), and so does
/// linception-oci, saying so in [`warnings`]. A bare word that is no bind option
/// (a typo of one, `noexce`) is still refused.
fn bind_data(opt: &str) -> bool {
    opt.split_once('=').is_some_and(|(k, _)| !k.is_empty())
}

/// What the config asks that the kernel ignores or does otherwise, and
/// linception-oci accepts as runc does, one line each, for the runtime to print as
/// warnings: filesystem data options on a bind; `slave` where there is no master
/// (the mount is private); a device number given to a FIFO device (`p`);
/// capabilities the runtime cannot grant (left out, as the runtime spec says).
pub fn warnings(spec: &Spec) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(p) = spec.process() {
        out.extend(capability_warnings(p, spec));
    }
    let devices = spec.linux().as_ref().and_then(|l| l.devices().as_ref());
    for (i, d) in devices.into_iter().flatten().enumerate() {
        if d.typ() == LinuxDeviceType::P && (d.major() != 0 || d.minor() != 0) {
            out.push(format!(
                "linux.devices[{i}] ({}): a fifo has no device number: {}:{} is ignored, \
                 as mknod(2) ignores it (as for runc)",
                d.path().display(),
                d.major(),
                d.minor()
            ));
        }
    }
    let slave_root = slave_root(spec);
    let new_ns = |typ: &str| new_namespace(spec, typ);
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let typ = m.typ().clone().unwrap_or_default();
        if cgroup_bound(&typ, new_ns("user"), new_ns("cgroup")) {
            out.push(format!(
                "mounts[{i}] ({}) type {typ:?}: bound from the runtime's cgroup2 mount, \
                 read-only as its options say: the container shares the runtime's cgroup \
                 namespace (none in linux.namespaces), of which it may not mount a new \
                 cgroup2 (as runc does)",
                m.destination().display()
            ));
        }
        let options = m.options().clone().unwrap_or_default();
        let is_bind = m.typ().as_deref() == Some("bind")
            || options.iter().any(|o| o == "bind" || o == "rbind");
        let last_propagation = options.iter().rev().find(|o| propagation(o).is_some());
        if let Some(o) = last_propagation
            && propagation(o) == Some(Propagation::Slave)
            && let Some(why) = masterless_slave(is_bind, slave_root)
        {
            out.push(format!(
                "mounts[{i}] ({}) option {o:?}: {why}: the mount is private (as for runc)",
                m.destination().display()
            ));
        }
        if !is_bind {
            continue;
        }
        let data: Vec<&str> = options
            .iter()
            .map(String::as_str)
            .filter(|o| bind_data(o))
            .collect();
        if !data.is_empty() {
            out.push(format!(
                "mounts[{i}] ({}) options {}: filesystem data on a bind, which the \
                 kernel ignores (as for runc)",
                m.destination().display(),
                data.iter()
                    .map(|o| format!("{o:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    out
}

/// The config's annotations, sorted by key.
pub fn annotations(spec: &Spec) -> Vec<(String, String)> {
    let mut a: Vec<(String, String)> = spec
        .annotations()
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    a.sort();
    a
}

/// Refuses an optional field that is set.
fn refuse_set<T>(field: &str, v: &Option<T>) -> Result<()> {
    match v {
        Some(_) => Err(Error::config(field, "not supported yet")),
        None => Ok(()),
    }
}

/// Turns a config into a builder: every field honoured or refused by name. Nothing
/// is created here.
///
/// # Errors
/// [`Error::Config`] naming the first field refused.
pub fn builder(spec: &Spec, opts: &Options) -> Result<ContainerBuilder> {
    refuse_set("solaris", spec.solaris())?;
    refuse_set("windows", spec.windows())?;
    refuse_set("vm", spec.vm())?;
    refuse_set("zos", spec.zos())?;
    refuse_set("uidMappings", spec.uid_mappings())?;
    refuse_set("gidMappings", spec.gid_mappings())?;

    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::config("process", "missing (nothing to run)"))?;
    let mut b = process_common(process, opts, false, Some(grantable(spec)))?;

    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::config("root", "missing"))?;
    let root_path = if root.path().is_absolute() {
        root.path().clone()
    } else {
        opts.bundle.join(root.path())
    };
    if !root_path.is_dir() {
        return Err(Error::config(
            "root.path",
            format!("{} is not a directory", root_path.display()),
        ));
    }
    b = b.root(RootFs::Dir(root_path));
    let new_ns = |typ: &str| new_namespace(spec, typ);
    let joined_mount_ns = lists_namespace(spec, "mount", |path| path.is_some());
    if new_ns("mount") {
        if opts.no_pivot {
            b = b.root_change(RootChange::MoveAndChroot);
        }
    } else if joined_mount_ns {
        // As runc: the root and mounts are made in the joined namespace and the
        // root pivoted there.
        if opts.no_pivot {
            return Err(Error::config(
                "linux.namespaces",
                "--no-pivot with a mount namespace joined by path: the old root's proc and \
                 sysfs mounts to hide would be the joined namespace's",
            ));
        }
    } else {
        // The runtime's mount namespace (none listed): the root is chrooted into,
        // and the config's mounts, masked and read-only paths and devices are made
        // beneath it in that namespace, as runc makes them; `delete` detaches them
        // (runc leaves them behind). What would change the root itself is refused.
        without_own_mount_namespace(spec)?;
        b = b.root_change(RootChange::Chroot);
    }
    if root.readonly() == Some(true) {
        b = b.read_only_root();
    }
    if let Some(h) = spec.hostname() {
        b = b.hostname(h);
    }
    if let Some(d) = spec.domainname() {
        if !new_ns("uts") {
            return Err(Error::config(
                "domainname",
                "needs a new UTS namespace (linux.namespaces: uts): it would be the host's",
            ));
        }
        b = b.domainname(d);
    }
    let ctx = MountContext {
        bundle: &opts.bundle,
        userns: new_ns("user"),
        cgroupns: new_ns("cgroup"),
        slave_root: slave_root(spec),
        uid_map: spec
            .linux()
            .as_ref()
            .and_then(|l| l.uid_mappings().as_deref())
            .unwrap_or_default(),
        gid_map: spec
            .linux()
            .as_ref()
            .and_then(|l| l.gid_mappings().as_deref())
            .unwrap_or_default(),
        idmaps: raw_mount_maps(&opts.bundle, spec)?,
    };
    let dev_submounts = !own_dev_submounts(spec);
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        b = b.mount(mount(i, m, &ctx, dev_submounts)?);
    }

    let linux = spec
        .linux()
        .as_ref()
        .ok_or_else(|| Error::config("linux", "missing (this runtime runs Linux containers)"))?;
    refuse_set("linux.netDevices", linux.net_devices())?;
    if linux.mount_label().is_some() {
        return Err(Error::config(
            "linux.mountLabel",
            if linception::features::active_lsms().selinux {
                "not supported yet (the SELinux context of the container's new filesystems)"
            } else {
                "not supported yet, and SELinux, whose context it is, is not an active \
                 security module on this system (/sys/kernel/security/lsm)"
            },
        ));
    }
    refuse_set("linux.intelRdt", linux.intel_rdt())?;
    refuse_set("linux.memoryPolicy", linux.memory_policy())?;
    if let Some(p) = linux.personality() {
        b = b.personality(personality(p)?);
    }
    b = time_offsets(b, linux)?;
    if let Some(cg) = crate::cgroups::cgroup(spec, &opts.id)? {
        b = b.cgroup(cg);
    }

    let mut new = Namespaces::empty();
    for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
        let field = format!("linux.namespaces[{i}]");
        let (flag, kind) = namespace(&field, &json_name(&ns.typ()))?;
        match ns.path() {
            Some(p) => b = b.join(kind, NsSource::Path(p.clone())),
            None => new |= flag,
        }
    }
    b = b.namespaces(new);
    let uid = linux.uid_mappings().as_deref().unwrap_or_default();
    let gid = linux.gid_mappings().as_deref().unwrap_or_default();
    if new.contains(Namespaces::USER) {
        if uid.is_empty() || gid.is_empty() {
            return Err(Error::config(
                "linux.uidMappings",
                "a new user namespace needs uidMappings and gidMappings",
            ));
        }
        b = b.uid_map(IdMapping::Map(id_map("linux.uidMappings", uid)?));
        b = b.gid_map(IdMapping::Map(id_map("linux.gidMappings", gid)?));
    } else if !uid.is_empty() || !gid.is_empty() {
        return Err(Error::config(
            "linux.uidMappings",
            "mappings need a new user namespace",
        ));
    }
    // A /dev the runtime makes (a tmpfs): its ptmx is the link to the container's
    // devpts, as runc makes it.
    let dev_made = spec
        .mounts()
        .iter()
        .flatten()
        .any(|m| m.destination() == Path::new("/dev") && m.typ().as_deref() == Some("tmpfs"));
    for (i, d) in linux.devices().iter().flatten().enumerate() {
        let field = format!("linux.devices[{i}]");
        let num = |v: i64, what: &str| {
            u32::try_from(v).map_err(|_| Error::config(format!("{field}.{what}"), "out of range"))
        };
        let (major, minor) = (num(d.major(), "major")?, num(d.minor(), "minor")?);
        // runc replaces a /dev/ptmx node of the config (podman's --privileged lists
        // the host's, 5:2) with that link: so does this runtime.
        if dev_made
            && d.path() == Path::new("/dev/ptmx")
            && matches!(d.typ(), LinuxDeviceType::C | LinuxDeviceType::U)
            && (major, minor) == (5, 2)
        {
            continue;
        }
        // The node's file type bits (`S_IFCHR`, `S_IFBLK`), which a fileMode may
        // carry (podman's do, as stat(2) gives them): taken when they are the
        // type's own, as runc takes them.
        let (mut dev, type_bits) = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => {
                (Device::char(d.path(), major, minor), 0o020000)
            }
            LinuxDeviceType::B => (Device::block(d.path(), major, minor), 0o060000),
            // A FIFO has no device number: any given is named by `warnings`.
            LinuxDeviceType::P => (Device::fifo(d.path()), 0o010000),
            other => {
                return Err(Error::config(
                    format!("{field}.type"),
                    format!("{} not supported yet", json_name(&other)),
                ));
            }
        };
        if let Some(mode) = d.file_mode() {
            const S_IFMT: u32 = 0o170000;
            if mode & S_IFMT != 0 && mode & S_IFMT != type_bits {
                return Err(Error::config(
                    format!("{field}.fileMode"),
                    format!(
                        "{mode:#o} has the file type bits {:#o}, not those of its type \
                         {} ({type_bits:#o})",
                        mode & S_IFMT,
                        json_name(&d.typ())
                    ),
                ));
            }
            dev = dev.mode(mode & !S_IFMT);
        }
        if d.uid().is_some() || d.gid().is_some() {
            dev = dev.owner(d.uid().unwrap_or(0), d.gid().unwrap_or(0));
        }
        b = b.device(dev);
    }
    for p in linux.masked_paths().iter().flatten() {
        b = b.mask_path(p);
    }
    for p in linux.readonly_paths().iter().flatten() {
        b = b.read_only_path(p);
    }
    let mut sysctls: Vec<_> = linux.sysctl().iter().flatten().collect();
    sysctls.sort();
    for (k, v) in sysctls {
        b = b.sysctl(k.clone(), v.clone());
    }
    if let Some(p) = linux.rootfs_propagation() {
        let prop = propagation(p)
            .ok_or_else(|| Error::config("linux.rootfsPropagation", format!("unknown {p:?}")))?;
        b = b.root_propagation(prop);
    }
    if let Some(s) = linux.seccomp() {
        let sc = seccomp(s, wait_killable_recv(&opts.bundle)?)?;
        let (filter, agent) = (Seccomp::new(sc.filter).flags(sc.flags), sc.agent);
        // The listener comes back at create, for the runtime to send to the agent.
        b = b.seccomp(if agent.is_some() {
            filter.keep_listener()
        } else {
            filter
        });
    }

    for (point, h) in hooks(spec)? {
        b = b.hook(point, h);
    }
    b = b.state_info(opts.id.clone(), opts.bundle.clone());
    for (k, v) in annotations(spec) {
        b = b.annotation(k, v);
    }
    Ok(b)
}

/// A config whose container has no mount namespace of its own and joins none (it
/// is the runtime's): its mounts, masked and read-only paths and devices are made
/// beneath the root there, as runc makes them, which needs the runtime's privilege
/// over that namespace: refused with a user namespace in the config (the
/// container's root would make them, with none there). What would change the
/// root itself, a read-only root or its propagation, is refused (runc ignores
/// `root.readonly` there).
fn without_own_mount_namespace(spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    let changes_the_root = [
        (
            "root.readonly",
            spec.root().as_ref().and_then(|r| r.readonly()) == Some(true),
        ),
        (
            "linux.rootfsPropagation",
            linux
                .and_then(|l| l.rootfs_propagation().as_ref())
                .is_some(),
        ),
    ];
    if let Some((field, _)) = changes_the_root.iter().find(|(_, is_set)| *is_set) {
        return Err(Error::config(
            *field,
            "needs a mount namespace of the container's (linux.namespaces: mount, new or \
             joined by path): without one the root is a directory chrooted into in the \
             runtime's mount namespace, not a mount of the container's",
        ));
    }
    let user = lists_namespace(spec, "user", |_| true);
    if user && let Some(field) = mounts_beneath_the_root(spec) {
        return Err(Error::config(
            field,
            "needs a mount namespace of the container's (linux.namespaces: mount, new or \
             joined by path): without one it is made in the runtime's mount namespace, \
             over which the container's root in its user namespace has no privilege",
        ));
    }
    Ok(())
}

/// The first field of the config that makes mounts beneath the root.
fn mounts_beneath_the_root(spec: &Spec) -> Option<&'static str> {
    let linux = spec.linux().as_ref();
    [
        (
            "mounts",
            spec.mounts().as_ref().is_some_and(|m| !m.is_empty()),
        ),
        (
            "linux.maskedPaths",
            linux
                .and_then(|l| l.masked_paths().as_ref())
                .is_some_and(|p| !p.is_empty()),
        ),
        (
            "linux.readonlyPaths",
            linux
                .and_then(|l| l.readonly_paths().as_ref())
                .is_some_and(|p| !p.is_empty()),
        ),
        (
            "linux.devices",
            linux
                .and_then(|l| l.devices().as_ref())
                .is_some_and(|d| !d.is_empty()),
        ),
    ]
    .into_iter()
    .find_map(|(field, set)| set.then_some(field))
}

/// The root directory beneath which the container's mounts are made in the
/// runtime's own mount namespace (a config with no mount namespace, new or joined,
/// and something to mount), where they outlive the container until `delete`
/// detaches them ([`linception::detach_mounts_beneath`]); `None` otherwise.
pub fn mounts_in_the_runtimes_namespace(spec: &Spec, bundle: &Path) -> Option<PathBuf> {
    if lists_namespace(spec, "mount", |_| true) {
        return None;
    }
    mounts_beneath_the_root(spec)?;
    let root = spec.root().as_ref()?.path();
    Some(if root.is_absolute() {
        root.clone()
    } else {
        bundle.join(root)
    })
}

/// Turns a `process` section into a builder for a process `exec` runs in a
/// container: `args`, `env`, `cwd`, `user`, `capabilities`, `rlimits`,
/// `noNewPrivileges`, `oomScoreAdj`, `apparmorProfile`, `selinuxLabel`, `terminal`
/// (with `opts.console_socket`), `consoleSize`, `ioPriority`, `scheduler` and
/// `execCPUAffinity` honoured, the other fields refused by name. [`builder`] maps
/// the container's own process the same way, but for `execCPUAffinity`, which the
/// runtime spec says does not apply to it.
///
/// # Errors
/// [`Error::Config`] naming the first field refused.
pub fn process_builder(process: &Process, opts: &Options) -> Result<ContainerBuilder> {
    process_common(process, opts, true, None)
}

/// [`process_builder`] for a process `exec` runs in the container `spec`
/// describes: the capabilities it cannot be granted there are left out, which
/// [`capability_warnings`] names (the runtime spec's rule).
///
/// # Errors
/// [`Error::Config`] naming the first field refused.
pub fn exec_process_builder(
    process: &Process,
    opts: &Options,
    spec: &Spec,
) -> Result<ContainerBuilder> {
    process_common(process, opts, true, Some(grantable(spec)))
}

/// [`process_builder`] for `exec` (`execCPUAffinity` applies) or for the container's
/// own process; the capabilities outside `grantable`, when given, are left out.
fn process_common(
    process: &Process,
    opts: &Options,
    exec: bool,
    grantable: Option<CapSet>,
) -> Result<ContainerBuilder> {
    let args = process.args().clone().unwrap_or_default();
    let Some(program) = args.first() else {
        return Err(Error::config("process.args", "empty"));
    };
    refuse_set("process.commandLine", process.command_line())?;
    refuse_set("process.user.username", process.user().username())?;

    let mut b = Container::builder(program).args(&args[1..]).env_clear();
    for kv in process.env().iter().flatten() {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| Error::config("process.env", format!("{kv:?} is not KEY=VALUE")))?;
        b = b.env(k, v);
    }
    let cwd = process.cwd();
    if !cwd.is_absolute() {
        return Err(Error::config("process.cwd", "must be absolute"));
    }
    b = b.current_dir(cwd);
    let user = process.user();
    b = b.uid(user.uid()).gid(user.gid());
    match user.additional_gids() {
        Some(gids) => b = b.groups(gids.clone()),
        // As runc: root clears the supplementary groups where setgroups is
        // allowed; an unprivileged caller keeps none to clear, and root of a user
        // namespace that denies setgroups (and every one nested in it) cannot.
        None if rustix::process::geteuid().is_root() && crate::host::setgroups_allowed() => {
            b = b.groups(Vec::new())
        }
        None => {}
    }
    if let Some(mask) = user.umask() {
        b = b.umask(mask);
    }
    let c = capabilities_of(process)?;
    b = b.capabilities(match grantable {
        Some(g) => c.within(g),
        None => c,
    });
    for (i, r) in process.rlimits().iter().flatten().enumerate() {
        let name = json_name(&r.typ());
        let res = Resource::ALL
            .into_iter()
            .find(|res| res.name() == name)
            .ok_or_else(|| {
                Error::config(
                    format!("process.rlimits[{i}].type"),
                    format!("unknown {name}"),
                )
            })?;
        b = b.rlimit(res, r.soft(), r.hard());
    }
    if process.no_new_privileges() == Some(true) {
        b = b.no_new_privs();
    }
    if let Some(adj) = process.oom_score_adj() {
        b = b.oom_score_adj(adj);
    }
    if let Some(p) = process.apparmor_profile() {
        b = b.apparmor_profile(p.clone());
    }
    if let Some(l) = process.selinux_label() {
        b = b.selinux_label(l.clone());
    }
    if process.terminal() == Some(true) {
        let sock = opts
            .console_socket
            .as_ref()
            .ok_or_else(|| Error::config("process.terminal", "needs --console-socket"))?;
        b = b.terminal(Terminal::ConsoleSocket(sock.clone()));
    } else if opts.console_socket.is_some() {
        return Err(Error::Usage(
            "--console-socket: process.terminal is not set".into(),
        ));
    }
    scheduling(process, b, exec)
}

/// `linux.personality`: the domain (`LINUX`, `LINUX32`) and flags, named as the
/// kernel's `personality(2)` constants (`ADDR_NO_RANDOMIZE`...; the runtime spec
/// defines none yet).
fn personality(p: &LinuxPersonality) -> Result<Personality> {
    let mut out = match p.domain() {
        LinuxPersonalityDomain::PerLinux => Personality::empty(),
        LinuxPersonalityDomain::PerLinux32 => Personality::LINUX32,
    };
    for (i, flag) in p.flags().iter().flatten().enumerate() {
        let known = Personality::from_name(flag).filter(|f| *f != Personality::LINUX32);
        out |= known.ok_or_else(|| {
            Error::config(
                format!("linux.personality.flags[{i}]"),
                format!(
                    "unknown {flag:?} (the flags are personality(2)'s, e.g. ADDR_NO_RANDOMIZE)"
                ),
            )
        })?;
    }
    Ok(out)
}

/// `linux.timeOffsets`: offsets of `monotonic` and `boottime` in a new time
/// namespace, which `linux.namespaces` must ask for.
fn time_offsets(
    mut b: ContainerBuilder,
    linux: &oci_spec::runtime::Linux,
) -> Result<ContainerBuilder> {
    let Some(offsets) = linux.time_offsets() else {
        return Ok(b);
    };
    let time_ns = linux
        .namespaces()
        .iter()
        .flatten()
        .find(|ns| json_name(&ns.typ()) == "time");
    match time_ns {
        None => {
            return Err(Error::config(
                "linux.timeOffsets",
                "needs a new time namespace (linux.namespaces: time)",
            ));
        }
        Some(ns) if ns.path().is_some() => {
            return Err(Error::config(
                "linux.timeOffsets",
                "the time namespace is joined (linux.namespaces: time with a path): it has \
                 its own offsets",
            ));
        }
        Some(_) => {}
    }
    let mut clocks: Vec<_> = offsets.iter().collect();
    clocks.sort_by(|a, b| a.0.cmp(b.0));
    for (clock, o) in clocks {
        let field = format!("linux.timeOffsets.{clock}");
        let (secs, nanos) = (o.secs().unwrap_or(0), o.nanosecs().unwrap_or(0));
        if nanos >= 1_000_000_000 {
            return Err(Error::config(
                format!("{field}.nanosecs"),
                format!("{nanos} is not below 1000000000"),
            ));
        }
        b = match clock.as_str() {
            "monotonic" => b.monotonic_offset(secs, nanos),
            "boottime" => b.boottime_offset(secs, nanos),
            _ => {
                return Err(Error::config(
                    field,
                    "a time namespace offsets only the monotonic and boottime clocks",
                ));
            }
        };
    }
    Ok(b)
}

/// `consoleSize`, `ioPriority`, `scheduler` and (with `exec`) `execCPUAffinity`.
fn scheduling(process: &Process, mut b: ContainerBuilder, exec: bool) -> Result<ContainerBuilder> {
    if let Some(size) = process.console_size() {
        if process.terminal() != Some(true) {
            return Err(Error::config(
                "process.consoleSize",
                "is the size of the container's terminal: needs process.terminal",
            ));
        }
        let side = |v: u64, what: &str| {
            u16::try_from(v).map_err(|_| {
                Error::config(
                    format!("process.consoleSize.{what}"),
                    format!("{v} is above 65535"),
                )
            })
        };
        let (rows, cols) = (side(size.height(), "height")?, side(size.width(), "width")?);
        // As runc: a size with a zero side leaves the kernel's.
        if rows != 0 && cols != 0 {
            b = b.terminal_size(rows, cols);
        }
    }
    if let Some(io) = process.io_priority() {
        let class = match io.class() {
            IOPriorityClass::IoprioClassRt => IoClass::RealTime,
            IOPriorityClass::IoprioClassBe => IoClass::BestEffort,
            IOPriorityClass::IoprioClassIdle => IoClass::Idle,
        };
        let level = u8::try_from(io.priority())
            .ok()
            .filter(|l| *l <= 7)
            .ok_or_else(|| {
                Error::config(
                    "process.ioPriority.priority",
                    format!("{} is not 0 (highest) to 7", io.priority()),
                )
            })?;
        let prio = IoPriority::new(class, level);
        prio.validate()
            .map_err(|e| Error::config("process.ioPriority", e.to_string()))?;
        b = b.io_priority(prio);
    }
    if let Some(s) = process.scheduler() {
        b = b.scheduler(scheduler(s)?);
    }
    if exec && let Some(a) = process.exec_cpu_affinity() {
        let list = |v: &Option<String>, what: &str| -> Result<Option<CpuList>> {
            match v.as_deref().map(str::trim) {
                // Omitted or empty: the affinity is left as it is.
                None | Some("") => Ok(None),
                Some(l) => CpuList::parse(l).map(Some).map_err(|e| {
                    Error::config(format!("process.execCPUAffinity.{what}"), e.to_string())
                }),
            }
        };
        if let Some(l) = list(a.initial(), "initial")? {
            b = b.setup_cpu_affinity(l);
        }
        if let Some(l) = list(a.cpu_affinity_final(), "final")? {
            b = b.cpu_affinity(l);
        }
    }
    Ok(b)
}

/// `process.scheduler` as the builder's [`Scheduler`], checked here so that a
/// refusal names the field.
fn scheduler(s: &oci_spec::runtime::Scheduler) -> Result<Scheduler> {
    use oci_spec::runtime::{LinuxSchedulerFlag as F, LinuxSchedulerPolicy as P};
    let policy = match s.policy() {
        P::SchedOther => SchedPolicy::Other,
        P::SchedFifo => SchedPolicy::Fifo,
        P::SchedRr => SchedPolicy::RoundRobin,
        P::SchedBatch => SchedPolicy::Batch,
        P::SchedIdle => SchedPolicy::Idle,
        P::SchedDeadline => SchedPolicy::Deadline,
        P::SchedIso => {
            return Err(Error::config(
                "process.scheduler.policy",
                "SCHED_ISO is reserved by Linux and not implemented",
            ));
        }
    };
    let mut out = Scheduler::new(policy).nice(s.nice().unwrap_or(0));
    if let Some(p) = *s.priority() {
        let p = u32::try_from(p)
            .map_err(|_| Error::config("process.scheduler.priority", format!("{p} is negative")))?;
        out = out.priority(p);
    }
    let mut flags = SchedFlags::empty();
    for (i, f) in s.flags().iter().flatten().enumerate() {
        flags |= match f {
            F::SchedResetOnFork => SchedFlags::RESET_ON_FORK,
            F::SchedFlagReclaim => SchedFlags::RECLAIM,
            F::SchedFlagDLOverrun => SchedFlags::DL_OVERRUN,
            F::SchedFlagKeepPolicy => SchedFlags::KEEP_POLICY,
            F::SchedFlagKeepParams => SchedFlags::KEEP_PARAMS,
            F::SchedFlagUtilClampMin | F::SchedFlagUtilClampMax => {
                return Err(Error::config(
                    format!("process.scheduler.flags[{i}]"),
                    format!(
                        "{} needs clamp values, which the runtime spec does not carry",
                        json_name(f)
                    ),
                ));
            }
        };
    }
    out = out.flags(flags);
    if s.runtime().is_some() || s.deadline().is_some() || s.period().is_some() {
        out = out.deadline(
            s.runtime().unwrap_or(0),
            s.deadline().unwrap_or(0),
            s.period().unwrap_or(0),
        );
    }
    out.validate()
        .map_err(|e| Error::config("process.scheduler", e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(linux_extra: &str, top_extra: &str) -> String {
        format!(
            r#"{{"ociVersion":"1.2.0","root":{{"path":"/"}},
            "process":{{"args":["/bin/true"],"cwd":"/","user":{{"uid":0,"gid":0}}}},
            "linux":{{"namespaces":[{{"type":"mount"}},{{"type":"pid"}}]{linux_extra}}}{top_extra}}}"#
        )
    }

    fn try_build(text: &str) -> Result<ContainerBuilder> {
        let spec = parse(text)?;
        builder(
            &spec,
            &Options {
                id: "t".into(),
                bundle: "/".into(),
                console_socket: None,
                no_pivot: false,
            },
        )
    }

    fn refused(text: &str) -> String {
        match try_build(text) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn no_pivot_with_a_joined_mount_namespace_is_refused() {
        let text = spec_with("", "").replace(
            r#"{"type":"mount"}"#,
            r#"{"type":"mount","path":"/proc/self/ns/mnt"}"#,
        );
        let spec = parse(&text).unwrap();
        let opts = |no_pivot| Options {
            id: "t".into(),
            bundle: "/".into(),
            console_socket: None,
            no_pivot,
        };
        assert!(builder(&spec, &opts(false)).is_ok());
        let e = builder(&spec, &opts(true))
            .expect_err("refused")
            .to_string();
        assert!(e.starts_with("linux.namespaces: --no-pivot"), "{e}");
    }

    #[test]
    fn a_minimal_config_builds() {
        let _ = try_build(&spec_with("", "")).unwrap();
        // Without a mount namespace of its own: the root is chrooted into.
        let _ = try_build(&spec_with("", "").replace(r#"{"type":"mount"},"#, "")).unwrap();
        let _ = try_build(&spec_with(
            r#","seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","no_such_call"],"action":"SCMP_ACT_ERRNO","errnoRet":13,"args":[{"index":1,"value":0,"op":"SCMP_CMP_GE"}]}]}"#,
            r#","hostname":"h","annotations":{"any.key":"v"}"#,
        ))
        .unwrap();
    }

    #[test]
    fn unsupported_fields_are_named() {
        let cases = [
            (
                spec_with(r#","resources":{"blockIO":{"weight":10}}"#, ""),
                "linux.resources.blockIO.weight",
            ),
            (
                spec_with(r#","resources":{"memory":{"limit":1000}}"#, ""),
                "linux.resources.memory.limit",
            ),
            (
                spec_with(r#","cgroupsPath":"a:b:c""#, ""),
                "linux.cgroupsPath",
            ),
            (
                spec_with(r#","cgroupsPath":"/a/../b""#, ""),
                "linux.cgroupsPath",
            ),
            (
                spec_with(r#","personality":{"domain":"LINUX","flags":["WAT"]}"#, ""),
                "linux.personality.flags[0]: unknown \"WAT\"",
            ),
            (
                spec_with(r#","timeOffsets":{"monotonic":{"secs":1}}"#, ""),
                "linux.timeOffsets: needs a new time namespace",
            ),
            (
                spec_with("", r#","domainname":"d""#),
                "domainname: needs a new UTS",
            ),
            (
                spec_with(r#","seccomp":{"defaultAction":"SCMP_ACT_NOTIFY"}"#, ""),
                "linux.seccomp.defaultAction",
            ),
            (
                spec_with(
                    r#","seccomp":{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_PPC"]}"#,
                    "",
                ),
                "linux.seccomp.architectures",
            ),
            (
                spec_with(
                    "",
                    r#","mounts":[{"destination":"/t","type":"tmpfs","options":["mand"]}]"#,
                ),
                "mounts[0] (/t) option \"mand\"",
            ),
            (
                spec_with(
                    "",
                    r#","mounts":[{"destination":"/b","type":"bind","source":"/","options":["rbind","wat"]}]"#,
                ),
                "mounts[0] (/b) option \"wat\"",
            ),
            (
                spec_with(
                    r#","uidMappings":[{"containerID":0,"hostID":1000,"size":1}]"#,
                    "",
                ),
                "linux.uidMappings",
            ),
            (
                spec_with("", r#","mounts":[{"destination":"/t","type":"tmpfs"}]"#)
                    .replace(r#"{"type":"mount"},"#, r#"{"type":"user"},"#),
                "mounts: needs a mount namespace of the container",
            ),
            (
                spec_with(r#","maskedPaths":["/proc/kcore"]"#, "")
                    .replace(r#"{"type":"mount"},"#, r#"{"type":"user"},"#),
                "linux.maskedPaths: needs a mount namespace of the container",
            ),
            (
                spec_with(r#","rootfsPropagation":"sideways""#, ""),
                "linux.rootfsPropagation",
            ),
            (
                spec_with(
                    r#","devices":[{"path":"/dev/a","type":"a","major":0,"minor":0}]"#,
                    "",
                ),
                "linux.devices[0].type",
            ),
            ("{".to_owned(), "config.json"),
        ];
        for (text, field) in cases {
            let e = refused(&text);
            assert!(e.starts_with(field), "{field}: {e}");
        }
    }

    /// The builder a config's mounts make, shown (its `Debug`), or the refusal.
    fn mounts_of(mounts: &str, linux_extra: &str) -> std::result::Result<String, String> {
        let text = spec_with(linux_extra, &format!(r#","mounts":{mounts}"#));
        match try_build(&text) {
            Ok(b) => Ok(format!("{b:?}")),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn mount_options_map_to_attributes() {
        // A new filesystem gets exactly what it lists (the builder's defaults are
        // lifted); a bind sets and clears what it lists; r* forms reach an rbind's
        // tree and are plain on anything else.
        let b = mounts_of(
            r#"[{"destination":"/proc","type":"proc","source":"proc"},
                {"destination":"/run","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},
                {"destination":"/b","type":"bind","source":"/srv","options":["rbind","ro","rnosuid","rexec","rnoatime"]},
                {"destination":"/c","type":"none","source":"/srv","options":["bind","rro","nodev","sync"]}]"#,
            "",
        );
        let e = b.unwrap_err();
        assert_eq!(
            e,
            "mounts[3] (/c) option \"sync\": a superblock flag: a bind shares its source's \
             superblock, which a container mount does not change"
        );
        let shown = mounts_of(
            r#"[{"destination":"/proc","type":"proc","source":"proc"},
                {"destination":"/run","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k","sync"]},
                {"destination":"/b","type":"bind","source":"/srv","options":["rbind","ro","rnosuid","rexec","rnoatime"]}]"#,
            "",
        )
        .unwrap();
        let mounts = &shown[shown.find("mounts: [").unwrap()..];
        // /proc: nosuid, nodev and noexec lifted.
        assert!(
            mounts.contains(
                r#"target: "/proc", read_only: false, options: [("source", Some("proc"))], propagation: None, top: AttrChoice { set: MountAttr(0x0), clear: MountAttr(NOSUID | NODEV | NOEXEC), atime: [] }"#
            ),
            "{mounts}"
        );
        assert!(
            mounts.contains(
                r#"options: [("source", Some("tmpfs")), ("mode", Some("755")), ("size", Some("65536k")), ("sync", None)], propagation: None, top: AttrChoice { set: MountAttr(NOSUID), clear: MountAttr(NODEV | NOEXEC), atime: [StrictAtime] }"#
            ),
            "{mounts}"
        );
        assert!(
            mounts.contains(
                r#"top: AttrChoice { set: MountAttr(RDONLY), clear: MountAttr(0x0), atime: [] }, tree: AttrChoice { set: MountAttr(NOSUID), clear: MountAttr(NOEXEC), atime: [NoAtime] }"#
            ),
            "{mounts}"
        );
    }

    #[test]
    fn bad_mount_options_are_named() {
        let cases = [
            (
                r#"[{"destination":"/t","type":"tmpfs","options":["noatime","strictatime"]}]"#,
                "",
                "mounts[0] (/t) options: noatime and strictatime: a mount has one access-time mode",
            ),
            (
                r#"[{"destination":"/t","type":"tmpfs","options":["remount"]}]"#,
                "",
                "mounts[0] (/t) option \"remount\"",
            ),
            (
                r#"[{"destination":"/t","type":"tmpfs","options":["idmap"]}]"#,
                "",
                "mounts[0] (/t) option \"idmap\": only a bind can be idmapped",
            ),
            (
                r#"[{"destination":"/b","type":"bind","source":"/srv","options":["rbind","idmap"]}]"#,
                "",
                "mounts[0] (/b) option \"idmap\": idmap on an rbind",
            ),
            (
                r#"[{"destination":"/b","type":"bind","source":"/srv","options":["bind","idmap"]}]"#,
                "",
                "mounts[0] (/b) option \"idmap\": linception maps a mount through the container's user namespace",
            ),
            (
                r#"[{"destination":"/b","type":"bind","source":"/srv","options":["rbind","ro","rrw"]}]"#,
                "",
                "mounts[0] (/b) options: RDONLY both set and cleared",
            ),
            (
                r#"[{"destination":"/b","type":"bind","source":"/srv","options":["bind","loud"]}]"#,
                "",
                "mounts[0] (/b) option \"loud\"",
            ),
        ];
        for (mounts, linux, want) in cases {
            let text = spec_with(linux, &format!(r#","mounts":{mounts}"#));
            let text = if linux.is_empty() {
                text
            } else {
                text.replace(r#"{"type":"pid"}"#, r#"{"type":"pid"},{"type":"user"}"#)
            };
            let e = refused(&text);
            assert!(e.starts_with(want), "{want}\n{e}");
        }
    }

    #[test]
    fn filesystem_data_on_a_bind_is_accepted_and_warned_of() {
        // The validation suite's `mounts` program: tmpfs data on binds, which
        // mount(2) ignores on a bind (runc passes it).
        let mounts = r#"[{"destination":"/m","source":"/etc","options":["nosuid","strictatime","mode=755","size=1k","bind","shared"]},
                {"destination":"/t","type":"tmpfs","source":"tmpfs","options":["mode=755","size=1k"]}]"#;
        let shown = mounts_of(mounts, "").unwrap();
        let bind = &shown[shown.find(r#"target: "/m""#).unwrap()..];
        let bind = &bind[..bind.find("Mount {").unwrap()];
        assert!(!bind.contains("mode") && !bind.contains("size"), "{bind}");
        assert!(bind.contains("propagation: Some(Shared)"), "{bind}");
        let spec = parse(&spec_with("", &format!(r#","mounts":{mounts}"#))).unwrap();
        assert_eq!(
            warnings(&spec),
            [
                "mounts[0] (/m) options \"mode=755\", \"size=1k\": filesystem data on a bind, \
                 which the kernel ignores (as for runc)"
            ]
        );
        // A slave without a master is private, and said so; with a slave root tree a
        // bind's slave stays one.
        let mounts = r#"[{"destination":"/t","type":"tmpfs","source":"tmpfs","options":["slave"]},
                {"destination":"/m","source":"/etc","options":["rbind","rslave"]}]"#;
        let shown = mounts_of(mounts, "").unwrap();
        assert_eq!(
            shown.matches("propagation: Some(Private)").count(),
            2,
            "{shown}"
        );
        let spec = parse(&spec_with("", &format!(r#","mounts":{mounts}"#))).unwrap();
        assert_eq!(
            warnings(&spec),
            [
                "mounts[0] (/t) option \"slave\": a new filesystem has no master to receive \
                 mount events from: the mount is private (as for runc)",
                "mounts[1] (/m) option \"rslave\": the copied mount tree is private (no \
                 rootfsPropagation slave), so a bind has no master: the mount is private (as \
                 for runc)"
            ]
        );
        let slave = r#","rootfsPropagation":"rslave""#;
        let shown = mounts_of(mounts, slave).unwrap();
        assert!(shown.contains("propagation: Some(Slave)"), "{shown}");
        let spec = parse(&spec_with(slave, &format!(r#","mounts":{mounts}"#))).unwrap();
        assert_eq!(warnings(&spec).len(), 1, "{:?}", warnings(&spec));
        // A bare word that is no bind option is still refused, and `=value` is no data.
        for bad in ["noexce", "=1"] {
            let e = mounts_of(
                &format!(r#"[{{"destination":"/m","source":"/etc","options":["bind","{bad}"]}}]"#),
                "",
            )
            .unwrap_err();
            assert_eq!(
                e,
                format!("mounts[0] (/m) option \"{bad}\": not a bind option")
            );
        }
    }

    #[test]
    fn a_fifo_device_is_made_and_its_number_warned_of() {
        // The validation suite's `linux_devices`: a `p` device given 8:666.
        let linux = r#","devices":[{"path":"/dev/test3","type":"p","major":8,"minor":666,"fileMode":432},
            {"path":"/dev/test4","type":"p"}]"#;
        let b = try_build(&spec_with(linux, "")).unwrap();
        let shown = format!("{b:?}");
        assert!(
            shown
                .contains(r#"path: "/dev/test3", kind: Fifo, major: 0, minor: 0, mode: Some(432)"#),
            "{shown}"
        );
        assert!(
            shown.contains(r#"path: "/dev/test4", kind: Fifo"#),
            "{shown}"
        );
        let spec = parse(&spec_with(linux, "")).unwrap();
        assert_eq!(
            warnings(&spec),
            [
                "linux.devices[0] (/dev/test3): a fifo has no device number: 8:666 is ignored, \
              as mknod(2) ignores it (as for runc)"
            ]
        );
    }

    #[test]
    fn overlay_paths_are_the_bundles() {
        assert_eq!(
            overlay_option("lowerdir", "l1:/abs:l2", Path::new("/b")).as_deref(),
            Some("/b/l1:/abs:/b/l2")
        );
        assert_eq!(
            overlay_option("upperdir", "u", Path::new("/b")).as_deref(),
            Some("/b/u")
        );
        assert_eq!(overlay_option("index", "off", Path::new("/b")), None);
    }

    #[test]
    fn a_mounts_id_maps_must_be_the_containers() {
        let c = [RawIdMapping {
            container: 0,
            host: 1000,
            size: 1,
        }];
        let linux: Vec<LinuxIdMapping> =
            serde_json::from_str(r#"[{"containerID":0,"hostID":1000,"size":1}]"#).unwrap();
        assert!(same_maps(&c, &linux));
        let other = [RawIdMapping {
            container: 0,
            host: 2000,
            size: 1,
        }];
        assert!(!same_maps(&other, &linux));
    }

    #[test]
    fn process_fields_are_checked() {
        let bad_cap = spec_with("", "").replace(
            r#""cwd":"/""#,
            r#""cwd":"/","capabilities":{"bounding":["CAP_NOPE"]}"#,
        );
        // oci-spec may refuse the unknown name while parsing; either way it is named.
        let e = refused(&bad_cap);
        assert!(e.contains("CAP_NOPE") || e.contains("capabilit"), "{e}");
        let rel = spec_with("", "").replace(r#""cwd":"/""#, r#""cwd":"rel""#);
        assert!(refused(&rel).starts_with("process.cwd"));
        let tty = spec_with("", "").replace(r#""cwd":"/""#, r#""cwd":"/","terminal":true"#);
        assert!(refused(&tty).starts_with("process.terminal"));
        let env = spec_with("", "").replace(r#""cwd":"/""#, r#""cwd":"/","env":["NOEQUALS"]"#);
        assert!(refused(&env).starts_with("process.env"));
        let hook = spec_with(
            "",
            r#","hooks":{"poststop":[{"path":"/bin/true","timeout":0}]}"#,
        );
        assert!(refused(&hook).starts_with("hooks.poststop[0].timeout"));
    }

    #[test]
    fn capability_names_map_to_bits() {
        let set = cap_set(
            "f",
            Some(&vec![
                "CAP_CHOWN",
                "CAP_SYS_ADMIN",
                "CAP_CHECKPOINT_RESTORE",
            ]),
        )
        .unwrap();
        assert_eq!(
            set,
            CapSet::CHOWN | CapSet::SYS_ADMIN | CapSet::CHECKPOINT_RESTORE
        );
        assert!(cap_set("f", Some(&vec!["CAP_WHAT"])).is_err());
    }

    #[test]
    fn hooks_keep_their_points_and_prestart_runs_first() {
        let text = spec_with(
            "",
            r#","hooks":{"createRuntime":[{"path":"/bin/b"}],"prestart":[{"path":"/bin/a","args":["a","x"],"timeout":3}],"poststop":[{"path":"/bin/c"}]}"#,
        );
        let hs = hooks(&parse(&text).unwrap()).unwrap();
        let points: Vec<HookPoint> = hs.iter().map(|(p, _)| *p).collect();
        assert_eq!(
            points,
            [
                HookPoint::CreateRuntime,
                HookPoint::CreateRuntime,
                HookPoint::PostStop
            ]
        );
        let shown = format!("{:?}", hs[0].1);
        assert!(shown.contains("/bin/a"), "{shown}");
    }

    #[test]
    fn notify_needs_a_listener_path_and_names_what_it_refuses() {
        let sc = |seccomp: &str| spec_with(&format!(r#","seccomp":{seccomp}"#), "");
        let agent = |text: &str| crate::notify::Agent::of(&parse(text).unwrap()).unwrap();
        let rule = |names: &str, extra: &str| {
            sc(&format!(
                r#"{{"defaultAction":"SCMP_ACT_ALLOW"{extra},"syscalls":[{{"names":[{names}],"action":"SCMP_ACT_NOTIFY"}}]}}"#
            ))
        };
        let with_path = r#","listenerPath":"/run/agent.sock","listenerMetadata":"m""#;
        // Honoured: the listener is kept for the agent, with the metadata.
        let ok = rule(r#""mkdir","no_such_call""#, with_path);
        let _ = try_build(&ok).unwrap();
        assert_eq!(
            agent(&ok),
            Some(crate::notify::Agent {
                path: "/run/agent.sock".into(),
                metadata: Some("m".into()),
            })
        );
        // No notifying rule (or only names this architecture lacks): nothing to
        // send, the path is ignored as the spec says.
        let none = sc(r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/a.sock"}"#);
        let _ = try_build(&none).unwrap();
        assert_eq!(agent(&none), None);
        assert_eq!(agent(&rule(r#""no_such_call""#, with_path)), None);
        let long = format!(r#","listenerPath":"/{}""#, "a".repeat(120));
        for (text, field, why) in [
            (
                rule(r#""mkdir""#, ""),
                "linux.seccomp.syscalls[0].action",
                "needs linux.seccomp.listenerPath",
            ),
            (
                rule(r#""mkdir""#, r#","listenerPath":"""#),
                "linux.seccomp.syscalls[0].action",
                "needs linux.seccomp.listenerPath",
            ),
            (
                sc(r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#),
                "linux.seccomp.defaultAction",
                "needs linux.seccomp.listenerPath",
            ),
            (
                sc(r#"{"defaultAction":"SCMP_ACT_NOTIFY","listenerPath":"/run/a.sock"}"#),
                "linux.seccomp.defaultAction",
                "cannot be the default action",
            ),
            (
                rule(r#""mkdir","write""#, with_path),
                "linux.seccomp.syscalls[0].names",
                "SCMP_ACT_NOTIFY on write",
            ),
            (
                rule(r#""sendmsg""#, with_path),
                "linux.seccomp.syscalls[0].names",
                "SCMP_ACT_NOTIFY on sendmsg",
            ),
            (
                rule(r#""mkdir""#, &long),
                "linux.seccomp.listenerPath",
                "longer than a unix socket address",
            ),
        ] {
            let e = refused(&text);
            assert!(e.starts_with(&format!("{field}: ")), "{e}");
            assert!(e.contains(why), "{e}");
        }
    }

    /// A config whose process has `extra` fields and whose linux section has
    /// `linux_extra`, with a time namespace.
    fn knobs(process_extra: &str, linux_extra: &str) -> String {
        format!(
            r#"{{"ociVersion":"1.2.0","root":{{"path":"/"}},
            "process":{{"args":["/bin/true"],"cwd":"/","user":{{"uid":0,"gid":0}}{process_extra}}},
            "linux":{{"namespaces":[{{"type":"mount"}},{{"type":"time"}}]{linux_extra}}}}}"#
        )
    }

    #[test]
    fn knob_fields_map_to_the_builder() {
        let shown = |text: &str| format!("{:?}", try_build(text).unwrap());
        let b = shown(&knobs(
            r#","ioPriority":{"class":"IOPRIO_CLASS_IDLE","priority":0},
            "scheduler":{"policy":"SCHED_BATCH","nice":5,"flags":["SCHED_RESET_ON_FORK"]},
            "execCPUAffinity":{"initial":"0","final":"0-1"}"#,
            r#","personality":{"domain":"LINUX32","flags":["ADDR_NO_RANDOMIZE"]},
            "timeOffsets":{"monotonic":{"secs":-5,"nanosecs":7},"boottime":{"secs":100}}"#,
        ));
        for want in [
            "personality: Some(Personality(LINUX32 | ADDR_NO_RANDOMIZE))",
            "io_priority: Some(IoPriority { class: Idle, level: 0 })",
            "policy: Batch, nice: 5",
            "flags: SchedFlags(RESET_ON_FORK)",
            "monotonic_offset: Some((-5, 7))",
            "boottime_offset: Some((100, 0))",
            // execCPUAffinity is not applicable to the container's own process.
            "setup_cpus: None",
            "cpus: None",
        ] {
            assert!(b.contains(want), "{want}: {b}");
        }
        // The exec'd process gets execCPUAffinity.
        let spec = parse(&knobs(
            r#","execCPUAffinity":{"initial":"0","final":"0-1"}"#,
            "",
        ))
        .unwrap();
        let opts = Options {
            id: "t".into(),
            bundle: "/".into(),
            console_socket: None,
            no_pivot: false,
        };
        let e = format!(
            "{:?}",
            process_builder(spec.process().as_ref().unwrap(), &opts).unwrap()
        );
        assert!(e.contains("setup_cpus: Some(CpuList { cpus: [0] })"), "{e}");
        assert!(e.contains("cpus: Some(CpuList { cpus: [0, 1] })"), "{e}");
    }

    #[test]
    fn bad_knob_values_are_named() {
        let cases = [
            (
                knobs(r#","consoleSize":{"height":24,"width":80}"#, ""),
                "process.consoleSize: is the size of the container's terminal: needs process.terminal",
            ),
            (
                knobs(
                    r#","ioPriority":{"class":"IOPRIO_CLASS_BE","priority":8}"#,
                    "",
                ),
                "process.ioPriority.priority: 8 is not 0 (highest) to 7",
            ),
            (
                knobs(r#","scheduler":{"policy":"SCHED_ISO"}"#, ""),
                "process.scheduler.policy: SCHED_ISO",
            ),
            (
                knobs(r#","scheduler":{"policy":"SCHED_FIFO"}"#, ""),
                "process.scheduler: invalid scheduler SCHED_FIFO priority 0: SCHED_FIFO and \
                 SCHED_RR take a priority of 1 to 99",
            ),
            (
                knobs(
                    r#","scheduler":{"policy":"SCHED_DEADLINE","runtime":20000,"deadline":10000,"period":30000}"#,
                    "",
                ),
                "process.scheduler: invalid scheduler SCHED_DEADLINE runtime 20000 deadline \
                 10000 period 30000: SCHED_DEADLINE needs runtime <= deadline <= period",
            ),
            (
                knobs(
                    r#","scheduler":{"policy":"SCHED_OTHER","flags":["SCHED_FLAG_UTIL_CLAMP_MIN"]}"#,
                    "",
                ),
                "process.scheduler.flags[0]: SCHED_FLAG_UTIL_CLAMP_MIN needs clamp values",
            ),
            (
                knobs("", r#","timeOffsets":{"realtime":{"secs":1}}"#),
                "linux.timeOffsets.realtime: a time namespace offsets only",
            ),
            (
                knobs(
                    "",
                    r#","timeOffsets":{"boottime":{"secs":1,"nanosecs":1000000000}}"#,
                ),
                "linux.timeOffsets.boottime.nanosecs",
            ),
            (
                knobs("", r#","timeOffsets":{"boottime":{"secs":1}}"#).replace(
                    r#"{"type":"time"}"#,
                    r#"{"type":"time","path":"/proc/1/ns/time"}"#,
                ),
                "linux.timeOffsets: the time namespace is joined",
            ),
        ];
        for (text, want) in cases {
            let e = refused(&text);
            assert!(e.starts_with(want), "{want}: {e}");
        }
        // execCPUAffinity of an exec'd process.
        let spec = parse(&knobs(r#","execCPUAffinity":{"final":"3-1"}"#, "")).unwrap();
        let opts = Options {
            id: "t".into(),
            bundle: "/".into(),
            console_socket: None,
            no_pivot: false,
        };
        let e = process_builder(spec.process().as_ref().unwrap(), &opts)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("process.execCPUAffinity.final"), "{e}");
    }

    #[test]
    fn seccomp_flags_map_by_name_and_wait_killable_recv_is_read_from_the_file() {
        let notify = r#","seccomp":{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}],"flags":FLAGS}"#;
        let text = |flags: &str| spec_with(&notify.replace("FLAGS", flags), "");
        let sc = |text: &str, wkr: bool| {
            let spec = parse(text).unwrap();
            let s = spec.linux().as_ref().unwrap().seccomp().clone().unwrap();
            seccomp(&s, wkr)
        };
        // The three oci-spec knows, in the typed spec.
        let all = r#"["SECCOMP_FILTER_FLAG_TSYNC","SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW"]"#;
        let got = sc(&text(all), false).unwrap();
        assert_eq!(
            got.flags,
            FilterFlags::TSYNC | FilterFlags::LOG | FilterFlags::SPEC_ALLOW
        );
        assert!(got.agent.is_some());
        // WAIT_KILLABLE_RECV parses (taken out of the typed spec) and comes back from
        // the bundle's config.json.
        let wkr = text(r#"["SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]"#);
        let dir = std::env::temp_dir().join(format!("lc-oci-wkr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.json"), &wkr).unwrap();
        let asked = wait_killable_recv(&dir).unwrap();
        std::fs::write(dir.join("config.json"), text(all)).unwrap();
        let not_asked = wait_killable_recv(&dir).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(asked && !not_asked);
        let got = sc(&wkr, asked).unwrap();
        assert_eq!(
            got.flags,
            FilterFlags::LOG | FilterFlags::WAIT_KILLABLE_RECV
        );
        // Without a notifying rule it is refused by name.
        let plain = spec_with(
            r#","seccomp":{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}"#,
            "",
        );
        let e = sc(&plain, true).err().unwrap().to_string();
        assert!(
            e.starts_with("linux.seccomp.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs"),
            "{e}"
        );
        // The runtime's own flags and unknown ones: refused by name while parsing.
        for (flag, says) in [
            ("SECCOMP_FILTER_FLAG_NEW_LISTENER", "the runtime's own"),
            ("SECCOMP_FILTER_FLAG_TSYNC_ESRCH", "the runtime's own"),
            ("SECCOMP_FILTER_FLAG_NOPE", "not a seccomp flag"),
        ] {
            let e = parse(&text(&format!(r#"["{flag}"]"#)))
                .err()
                .unwrap()
                .to_string();
            assert!(
                e.starts_with("linux.seccomp.flags: ") && e.contains(flag) && e.contains(says),
                "{e}"
            );
        }
    }

    #[test]
    fn listed_compat_abis_are_filtered_and_names_they_lack_skipped() {
        let text = spec_with(
            r#","seccomp":{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],"syscalls":[{"names":["socketcall","newfstatat","no_such_call"],"action":"SCMP_ACT_ERRNO"}]}"#,
            "",
        );
        let spec = parse(&text).unwrap();
        let s = spec.linux().as_ref().unwrap().seccomp().clone().unwrap();
        let got = seccomp(&s, false).unwrap();
        let arches: Vec<Arch> = got.filter.arches().collect();
        if cfg!(target_arch = "x86_64") {
            assert_eq!(arches, [Arch::X86_64, Arch::X86, Arch::X32]);
            // socketcall is i386's only, newfstatat x86_64's and x32's; no_such_call
            // no ABI's (skipped, as runc does).
            let names: Vec<&str> = got
                .filter
                .rules()
                .iter()
                .map(|r| match &r.syscall {
                    linception::seccomp_notify::Syscall::Name(n) => n.as_str(),
                    other => panic!("{other:?}"),
                })
                .collect();
            assert_eq!(names, ["socketcall", "newfstatat"]);
            assert!(got.filter.compile().is_ok());
        }
        assert_eq!(
            filtered_arch_names(),
            if cfg!(target_arch = "x86_64") {
                vec!["SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"]
            } else {
                vec![native_arch_name()]
            }
        );
    }
}
