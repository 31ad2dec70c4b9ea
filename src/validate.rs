//! The spawn's first stage: every builder value checked against the others and
//! against facts about the caller, before anything is created. Pure: the facts
//! come in as inputs, so each rule is unit-tested without a kernel.
#![forbid(unsafe_code)]

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

use linception_mountapi::MountAttr;
use linception_userns::IdMap;

use crate::builder::{ContainerBuilder, IdMapping, Namespaces, RootChange};
use crate::error::{Error, Result};
use crate::mount::{Mount, MountKind};
use crate::resources::{BlockDevice, Limit, Resources};

/// `NGROUPS_MAX`: the most supplementary groups `setgroups` takes.
pub(crate) const NGROUPS_MAX: usize = 65536;

/// The longest key or string value `fsconfig` copies in (`strndup_user(.., 256)`).
const FSCONFIG_MAX: usize = 255;

/// `HOST_NAME_MAX`.
const HOST_NAME_MAX: usize = 64;

/// What the checks need to know about the caller.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Caller {
    pub euid: u32,
    pub egid: u32,
    /// `CAP_SYS_ADMIN` in the effective set (over the caller's own user namespace).
    pub cap_sys_admin: bool,
}

impl Caller {
    /// The calling thread's ids and capabilities.
    pub(crate) fn current() -> Caller {
        let cap_sys_admin = rustix::thread::capabilities(None)
            .map(|c| {
                c.effective
                    .contains(rustix::thread::CapabilitySet::SYS_ADMIN)
            })
            .unwrap_or(false);
        Caller {
            euid: rustix::process::geteuid().as_raw(),
            egid: rustix::process::getegid().as_raw(),
            cap_sys_admin,
        }
    }
}

/// The id maps of a new user namespace, resolved from the builder.
pub(crate) struct Maps<'a> {
    pub uid: &'a IdMap,
    pub gid: &'a IdMap,
    /// Whether the map writer will deny `setgroups` (an unprivileged caller mapping
    /// only its own ids).
    pub setgroups_denied: bool,
}

/// Checks a builder for a container spawn.
pub(crate) fn spawn(b: &ContainerBuilder, caller: &Caller, maps: Option<&Maps<'_>>) -> Result<()> {
    let ns = b.effective_namespaces();
    process(b)?;
    joins(b)?;
    if !b.joined_namespaces().contains(Namespaces::USER) {
        // Root of a joined user namespace creates the others in it.
        privileges(ns, caller)?;
    }
    set_tid(b, ns)?;
    if !ns.contains(Namespaces::USER)
        && (b.uid_map != IdMapping::RootIsCaller || b.gid_map != IdMapping::RootIsCaller)
    {
        return Err(Error::invalid(
            "uid_map/gid_map without Namespaces::USER",
            "id maps are those of a new user namespace",
        ));
    }
    identity(b, maps)?;
    fifo_owners(b, maps)?;
    landlock(b, ns, caller)?;
    hostname(b, ns)?;
    loopback(b, ns)?;
    sysctls(b, ns)?;
    time_offsets(b)?;
    filesystem(b, ns, caller)?;
    Ok(())
}

/// Checks the builder given to [`exec_in`](crate::Container::exec_in) (the
/// container's own maps decide the rest in the kernel).
pub(crate) fn exec_in(b: &ContainerBuilder) -> Result<()> {
    process(b)?;
    identity(b, None)
}

/// The capability sets, against the rules `capset(2)` and `PR_CAP_AMBIENT_RAISE`
/// apply in the child (after the bounding set is cut to `bounding`): effective ⊆
/// permitted, inheritable ⊆ bounding (the kernel refuses raising an inheritable
/// capability outside the bounding set, even with `CAP_SETPCAP`), ambient ⊆
/// permitted ∩ inheritable; no bit above `last_cap` (the kernel's
/// `/proc/sys/kernel/cap_last_cap`).
pub(crate) fn capabilities(b: &ContainerBuilder, last_cap: u32) -> Result<()> {
    let Some(c) = &b.capabilities else {
        return Ok(());
    };
    let known = if last_cap >= 63 {
        u64::MAX
    } else {
        (1u64 << (last_cap + 1)) - 1
    };
    for (name, set) in c.named() {
        if set.bits() & !known != 0 {
            return Err(Error::invalid(
                format!(
                    "{name} capabilities {:?} (bits {:#x} above cap_last_cap {last_cap})",
                    set,
                    set.bits() & !known
                ),
                "this kernel has no such capability",
            ));
        }
    }
    let rules: [(crate::caps::CapSet, &str, &'static str); 4] = [
        (
            c.effective - c.permitted,
            "effective",
            "an effective capability must be permitted too (capset refuses it with EPERM)",
        ),
        (
            c.inheritable - c.bounding,
            "inheritable",
            "an inheritable capability must be in the bounding set: once the bounding set is \
             cut, capset refuses to raise it (EPERM), even with CAP_SETPCAP",
        ),
        (
            c.ambient - c.permitted,
            "ambient",
            "an ambient capability must be permitted (PR_CAP_AMBIENT_RAISE refuses it with EPERM)",
        ),
        (
            c.ambient - c.inheritable,
            "ambient",
            "an ambient capability must be inheritable (PR_CAP_AMBIENT_RAISE refuses it with \
             EPERM)",
        ),
    ];
    for (extra, name, reason) in rules {
        if !extra.is_empty() {
            return Err(Error::invalid(
                format!("{name} capabilities {:?}: {extra:?}", set_of(c, name)),
                reason,
            ));
        }
    }
    Ok(())
}

/// The capability sets of a container that stays in the caller's user namespace
/// (no user namespace created or joined), against `held`: what the caller can pass
/// on ([`grantable_capabilities`](crate::features::grantable_capabilities)). `capset`
/// in the child refuses to raise anything else (EPERM), and a bounding capability the
/// caller lacks would be silently absent.
pub(crate) fn capabilities_held(b: &ContainerBuilder, held: crate::caps::CapSet) -> Result<()> {
    let Some(c) = &b.capabilities else {
        return Ok(());
    };
    for (name, set) in c.named() {
        let extra = set - held;
        if !extra.is_empty() {
            return Err(Error::denied(
                format!("{name} capabilities {set:?}: {extra:?}"),
                "the caller does not hold them (permitted and in its bounding set), and the \
                 container stays in its user namespace: they cannot be granted (a container \
                 with a user namespace of its own can have every capability in it)",
            ));
        }
    }
    Ok(())
}

fn set_of(c: &crate::caps::Capabilities, name: &str) -> crate::caps::CapSet {
    match name {
        "effective" => c.effective,
        "inheritable" => c.inheritable,
        _ => c.ambient,
    }
}

/// The most fds (stdio and passed ones) a program can be given.
pub(crate) const MAX_FDS: usize = 256;

/// What every process gets, container init or exec_in: program, arguments,
/// environment, working directory, passed fds, session keyring.
fn process(b: &ContainerBuilder) -> Result<()> {
    if b.program.is_empty() {
        return Err(Error::invalid("program \"\"", "the program name is empty"));
    }
    no_nul(&b.program, "program")?;
    for a in &b.args {
        no_nul(a, "argument")?;
    }
    for (k, v) in &b.env {
        if k.is_empty() || k.as_bytes().contains(&b'=') {
            return Err(Error::invalid(
                format!("environment variable name {}", shown(k)),
                "empty or contains '='",
            ));
        }
        no_nul(k, "environment variable name")?;
        if let Some(v) = v {
            no_nul(v, "environment variable value")?;
        }
    }
    if let Some(cwd) = &b.cwd {
        no_nul(cwd.as_os_str(), "working directory")?;
    }
    let mut targets: Vec<i32> = Vec::new();
    for (target, _) in &b.fds {
        if *target < 3 {
            return Err(Error::invalid(
                format!("passed fd target {target}"),
                "fds 0, 1 and 2 are set with stdin(), stdout() and stderr()",
            ));
        }
        if targets.contains(target) {
            return Err(Error::invalid(
                format!("passed fd target {target}"),
                "two fds passed as the same number",
            ));
        }
        targets.push(*target);
    }
    if b.fds.len() + 3 > MAX_FDS {
        return Err(Error::invalid(
            format!("{} passed fds", b.fds.len()),
            "at most 253 fds can be passed besides stdio",
        ));
    }
    if let Some(crate::builder::SessionKeyring::Named(n)) = &b.keyring {
        if n.starts_with('.') {
            return Err(Error::invalid(
                format!("session keyring name {}", shown(OsStr::new(n))),
                "names starting with \".\" are reserved to the kernel",
            ));
        }
        no_nul(OsStr::new(n), "session keyring name")?;
    }
    Ok(())
}

/// A string the kernel takes as a C string: no NUL byte inside.
fn no_nul(s: &OsStr, what: &str) -> Result<()> {
    if s.as_bytes().contains(&0) {
        return Err(Error::invalid(
            format!("{what} {}", shown(s)),
            "contains a NUL byte",
        ));
    }
    Ok(())
}

/// Without a new user namespace, every other namespace (and every mount) needs
/// `CAP_SYS_ADMIN`: say so instead of a bare `clone3: EPERM`.
fn privileges(ns: Namespaces, caller: &Caller) -> Result<()> {
    if !ns.is_empty() && !ns.contains(Namespaces::USER) && !caller.cap_sys_admin {
        return Err(Error::denied(
            format!("namespaces {ns:?} without Namespaces::USER"),
            "creating them needs CAP_SYS_ADMIN, which the caller lacks; add Namespaces::USER \
             to create them as root of a new user namespace",
        ));
    }
    Ok(())
}

/// The joins, by type: each type once, known, and nothing that needs a namespace
/// created at `clone3` (the types of the sources are checked when they are opened).
fn joins(b: &ContainerBuilder) -> Result<()> {
    let mut seen = Namespaces::empty();
    for (kind, _) in &b.joins {
        let Some(flag) = crate::builder::namespace_flag(*kind) else {
            return Err(Error::invalid(
                format!("join({kind:?})"),
                "a namespace type this version of linception does not know",
            ));
        };
        if seen.contains(flag) {
            return Err(Error::invalid(
                format!("join({kind:?})"),
                "a namespace type is joined once (Pid and PidForChildren, Time and \
                 TimeForChildren are one type each)",
            ));
        }
        seen |= flag;
    }
    if seen.is_empty() {
        return Ok(());
    }
    if let Some(pid) = b.set_tid {
        return Err(Error::invalid(
            format!("set_tid {pid} with joined namespaces {seen:?}"),
            "with joined namespaces the container's process is forked by a helper after \
             the joins, not by clone3 with set_tid",
        ));
    }
    if seen.contains(Namespaces::TIME)
        && (b.monotonic_offset.is_some() || b.boottime_offset.is_some())
    {
        return Err(Error::invalid(
            "clock offsets with a joined time namespace",
            "offsets are those of a new time namespace; a joined one has its own",
        ));
    }
    Ok(())
}

fn set_tid(b: &ContainerBuilder, ns: Namespaces) -> Result<()> {
    let Some(pid) = b.set_tid else {
        return Ok(());
    };
    if pid < 1 {
        return Err(Error::invalid(
            format!("set_tid {pid}"),
            "a pid is at least 1",
        ));
    }
    if ns.contains(Namespaces::PID) && pid != 1 {
        return Err(Error::invalid(
            format!("set_tid {pid}"),
            "in a new pid namespace the program is its first process and must be pid 1",
        ));
    }
    Ok(())
}

/// The uid, gid and groups: real ids (not -1, which means "unchanged" to
/// `setresuid`), at most `NGROUPS_MAX` groups, and each mapped in the container's
/// user namespace when it has one.
fn identity(b: &ContainerBuilder, maps: Option<&Maps<'_>>) -> Result<()> {
    const UNCHANGED: &str = "-1 (u32::MAX) is not an id: to setresuid/setresgid it means \
                             \"leave unchanged\"";
    if b.uid == Some(u32::MAX) {
        return Err(Error::invalid(format!("uid {}", u32::MAX), UNCHANGED));
    }
    if b.gid == Some(u32::MAX) {
        return Err(Error::invalid(format!("gid {}", u32::MAX), UNCHANGED));
    }
    if let Some(groups) = &b.groups {
        if groups.len() > NGROUPS_MAX {
            return Err(Error::invalid(
                format!("{} supplementary groups {}", groups.len(), summary(groups)),
                "setgroups takes at most 65536 (NGROUPS_MAX)",
            ));
        }
        if groups.contains(&u32::MAX) {
            return Err(Error::invalid(
                format!("supplementary group {}", u32::MAX),
                "-1 (u32::MAX) is not a group id",
            ));
        }
    }
    let Some(maps) = maps else {
        return Ok(());
    };
    if let Some(uid) = b.uid
        && maps.uid.map_down(uid).is_none()
    {
        return Err(Error::invalid(
            format!("uid {uid}"),
            "not mapped by the container's uid map (set one with uid_map() that maps it)",
        ));
    }
    if let Some(gid) = b.gid
        && maps.gid.map_down(gid).is_none()
    {
        return Err(Error::invalid(
            format!("gid {gid}"),
            "not mapped by the container's gid map (set one with gid_map() that maps it)",
        ));
    }
    if let Some(groups) = &b.groups {
        if let Some(g) = groups.iter().find(|g| maps.gid.map_down(**g).is_none()) {
            return Err(Error::invalid(
                format!("supplementary group {g} of {}", summary(groups)),
                "not mapped by the container's gid map",
            ));
        }
        if maps.setgroups_denied {
            return Err(Error::denied(
                format!("supplementary groups {}", summary(groups)),
                "an unprivileged caller mapping only its own gid must deny setgroups in the \
                 new user namespace; map subordinate ids (subid_maps(), through newgidmap) to \
                 set groups",
            ));
        }
    }
    Ok(())
}

/// A FIFO's owner in a new user namespace: ids the namespace maps (the FIFO is made
/// there, with `fchownat`, which refuses an unmapped id).
fn fifo_owners(b: &ContainerBuilder, maps: Option<&Maps<'_>>) -> Result<()> {
    let Some(maps) = maps else {
        return Ok(());
    };
    for d in &b.devices {
        if let (crate::device::NodeKind::Fifo, Some((uid, gid))) = (d.kind, d.owner)
            && (maps.uid.map_down(uid).is_none() || maps.gid.map_down(gid).is_none())
        {
            return Err(Error::invalid(
                format!("owner {uid}:{gid} of the device {}", d.shown()),
                "not mapped by the container's uid and gid maps (a FIFO is made in the \
                 container's user namespace)",
            ));
        }
    }
    Ok(())
}

/// The hostname and domain name go to a new UTS namespace or to a joined one (the
/// caller named it), never to the one the caller is in.
fn hostname(b: &ContainerBuilder, ns: Namespaces) -> Result<()> {
    let ns = ns | (b.joined_namespaces() & Namespaces::UTS);
    if let Some(name) = &b.hostname {
        let shown = shown(name);
        if !ns.contains(Namespaces::UTS) {
            return Err(Error::invalid(
                format!("hostname {shown}"),
                "setting a hostname needs Namespaces::UTS or a joined UTS namespace (it would change the host's)",
            ));
        }
        if name.is_empty() {
            return Err(Error::invalid("hostname \"\"", "a hostname is not empty"));
        }
        if name.len() > HOST_NAME_MAX {
            return Err(Error::invalid(
                format!("hostname {shown}"),
                "longer than 64 bytes (HOST_NAME_MAX)",
            ));
        }
        if name.as_bytes().contains(&0) {
            return Err(Error::invalid(
                format!("hostname {shown}"),
                "contains a NUL byte",
            ));
        }
    }
    domainname(b, ns)
}

fn domainname(b: &ContainerBuilder, ns: Namespaces) -> Result<()> {
    let Some(name) = &b.domainname else {
        return Ok(());
    };
    let what = format!("domainname {}", shown(name));
    if !ns.contains(Namespaces::UTS) {
        return Err(Error::invalid(
            what,
            "setting a domain name needs Namespaces::UTS or a joined UTS namespace (it would change the host's)",
        ));
    }
    if name.is_empty() {
        return Err(Error::invalid(what, "a domain name is not empty"));
    }
    if name.len() > HOST_NAME_MAX {
        return Err(Error::invalid(
            what,
            "longer than 64 bytes (the kernel's __NEW_UTS_LEN)",
        ));
    }
    if name.as_bytes().contains(&0) {
        return Err(Error::invalid(what, "contains a NUL byte"));
    }
    Ok(())
}

fn landlock(b: &ContainerBuilder, ns: Namespaces, caller: &Caller) -> Result<()> {
    let Some(l) = &b.landlock else {
        return Ok(());
    };
    crate::landlock_ruleset::check(l)?;
    let own_userns =
        ns.contains(Namespaces::USER) || b.joined_namespaces().contains(Namespaces::USER);
    if !own_userns && !b.no_new_privs && !caller.cap_sys_admin {
        return Err(Error::denied(
            "landlock ruleset without no_new_privs()",
            "landlock_restrict_self needs no_new_privs or CAP_SYS_ADMIN in the container's \
             user namespace: the container has none of its own and the caller lacks \
             CAP_SYS_ADMIN",
        ));
    }
    Ok(())
}

fn loopback(b: &ContainerBuilder, ns: Namespaces) -> Result<()> {
    if let Some(state) = b.loopback
        && !ns.contains(Namespaces::NET)
    {
        return Err(Error::invalid(
            format!("loopback({state:?}) without Namespaces::NET"),
            "only the loopback of a new network namespace is set (a shared or joined one is \
             left as it is)",
        ));
    }
    Ok(())
}

/// The exec labels, against the LSMs active on the system.
pub(crate) fn exec_labels(b: &ContainerBuilder, active: &crate::lsm::ActiveLsms) -> Result<()> {
    for (label, what, on, feature) in [
        (
            &b.apparmor_profile,
            "AppArmor profile",
            active.apparmor,
            "AppArmor (not an active LSM on this system, /sys/kernel/security/lsm)",
        ),
        (
            &b.selinux_label,
            "SELinux label",
            active.selinux,
            "SELinux (not an active LSM on this system, /sys/kernel/security/lsm)",
        ),
    ] {
        let Some(label) = label else { continue };
        let shown = shown(OsStr::new(label));
        if label.is_empty() {
            return Err(Error::invalid(
                format!("{what} \"\""),
                "a label is not empty",
            ));
        }
        if label.contains(['\0', '\n']) {
            return Err(Error::invalid(
                format!("{what} {shown}"),
                "contains a NUL byte or a newline",
            ));
        }
        if label.len() >= SYSCTL_VALUE_MAX {
            return Err(Error::invalid(
                format!("{what} {shown}"),
                "longer than 4095 bytes (the kernel takes at most a page)",
            ));
        }
        if !on {
            return Err(Error::Unsupported {
                feature,
                min_kernel: if what.starts_with("AppArmor") {
                    "2.6.36"
                } else {
                    "2.6.0"
                },
            });
        }
    }
    Ok(())
}

/// The IPC namespace's sysctls under `kernel.` (ipc/ipc_sysctl.c).
const IPC_SYSCTLS: [&str; 11] = [
    "shmmax",
    "shmall",
    "shmmni",
    "shm_rmid_forced",
    "shm_next_id",
    "msgmax",
    "msgmni",
    "msgmnb",
    "msg_next_id",
    "sem",
    "sem_next_id",
];

/// The longest sysctl value accepted (the kernel reads at most a page).
const SYSCTL_VALUE_MAX: usize = 4096;

/// The path under `/proc/sys` of a sysctl name: dots become slashes unless the
/// name is a path already.
pub(crate) fn sysctl_path(name: &str) -> String {
    if name.contains('/') {
        name.to_owned()
    } else {
        name.replace('.', "/")
    }
}

/// The namespace a sysctl belongs to, if it is namespaced.
fn sysctl_namespace(path: &str) -> Option<Namespaces> {
    let mut parts = path.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("net"), Some(_), _) => Some(Namespaces::NET),
        (Some("fs"), Some("mqueue"), Some(_)) => Some(Namespaces::IPC),
        (Some("kernel"), Some(k), None) if IPC_SYSCTLS.contains(&k) => Some(Namespaces::IPC),
        (Some("kernel"), Some("hostname" | "domainname"), None) => Some(Namespaces::UTS),
        _ => None,
    }
}

fn sysctls(b: &ContainerBuilder, ns: Namespaces) -> Result<()> {
    for (name, value) in &b.sysctls {
        let what = || format!("sysctl {}", shown(OsStr::new(name)));
        if name.contains('\0') || value.contains('\0') {
            return Err(Error::invalid(what(), "contains a NUL byte"));
        }
        let path = sysctl_path(name);
        if path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(Error::invalid(
                what(),
                "a sysctl name has no empty, \".\" or \"..\" component (and no leading or \
                 trailing separator)",
            ));
        }
        if value.len() > SYSCTL_VALUE_MAX {
            return Err(Error::invalid(
                format!("{} value ({} bytes)", what(), value.len()),
                "longer than 4096 bytes",
            ));
        }
        match sysctl_namespace(&path) {
            None => {
                return Err(Error::invalid(
                    what(),
                    "not a namespaced sysctl (only net.*, the IPC ones kernel.shm*/msg*/sem* \
                     and fs.mqueue.*, kernel.hostname and kernel.domainname are): writing it \
                     would change the host",
                ));
            }
            Some(needed) if !ns.contains(needed) => {
                return Err(Error::invalid(
                    format!("{} without Namespaces::{}", what(), ns_name(needed)),
                    "a sysctl is set only in a namespace the container creates (a shared or \
                     joined one is not its own)",
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn ns_name(ns: Namespaces) -> &'static str {
    if ns == Namespaces::NET {
        "NET"
    } else if ns == Namespaces::IPC {
        "IPC"
    } else {
        "UTS"
    }
}

fn time_offsets(b: &ContainerBuilder) -> Result<()> {
    for (clock, offset) in [
        ("monotonic", b.monotonic_offset),
        ("boottime", b.boottime_offset),
    ] {
        if let Some((_, nanos)) = offset
            && nanos >= 1_000_000_000
        {
            return Err(Error::invalid(
                format!("{clock} offset nanoseconds {nanos}"),
                "must be below 1_000_000_000",
            ));
        }
    }
    Ok(())
}

fn filesystem(b: &ContainerBuilder, ns: Namespaces, caller: &Caller) -> Result<()> {
    root_change(b, ns)?;
    let chroot = b.root_change == RootChange::Chroot;
    let mount_ns =
        ns.contains(Namespaces::MOUNT) || b.joined_namespaces().contains(Namespaces::MOUNT);
    if !chroot && (b.root.is_some() || !b.mounts.is_empty()) && !mount_ns {
        return Err(Error::invalid(
            "root/mounts without Namespaces::MOUNT",
            "a root filesystem and mounts need a new or joined mount namespace (or, for a \
             root directory alone, root_change(RootChange::Chroot))",
        ));
    }
    if !b.mounts.is_empty() && b.root.is_none() {
        return Err(Error::invalid(
            "mounts without a root",
            "mounts are made inside the container's root: set one with root()",
        ));
    }
    if b.read_only_root && b.root.is_none() {
        return Err(Error::invalid(
            "read_only_root() without a root",
            "only a root set with root() can be made read-only",
        ));
    }
    if let Some(crate::builder::RootFs::Dir(dir)) = &b.root {
        no_nul(dir.as_os_str(), "root directory")?;
    }
    for m in &b.mounts {
        mount(m, ns, caller)?;
    }
    fs_knobs(b)
}

/// The root change: a way other than the default needs a root; moving the root
/// onto `/` needs a mount namespace of the container's own; a plain chroot makes
/// no mount, so everything that needs one is refused by name.
fn root_change(b: &ContainerBuilder, ns: Namespaces) -> Result<()> {
    use crate::builder::RootFs;
    let how = b.root_change;
    if how == RootChange::PivotRoot {
        return Ok(());
    }
    let Some(root) = &b.root else {
        return Err(Error::invalid(
            format!("root_change(RootChange::{how:?}) without a root"),
            "only a root set with root() is changed to",
        ));
    };
    if how == RootChange::MoveAndChroot {
        if b.joined_namespaces().contains(Namespaces::MOUNT) {
            return Err(Error::invalid(
                "root_change(RootChange::MoveAndChroot) with a joined mount namespace",
                "the old root's proc and sysfs mounts to hide are the joined namespace's, \
                 which the caller cannot list: pivot_root there, or RootChange::Chroot",
            ));
        }
        if !ns.contains(Namespaces::MOUNT) {
            return Err(Error::invalid(
                "root_change(RootChange::MoveAndChroot) without Namespaces::MOUNT",
                "the root is moved onto / of a new mount namespace (without one: \
                 RootChange::Chroot)",
            ));
        }
        return Ok(());
    }
    if matches!(root, RootFs::Tmpfs) {
        return Err(Error::invalid(
            "root_change(RootChange::Chroot) of a RootFs::Tmpfs root",
            "a chroot makes no mount, and a tmpfs root would be one: use a RootFs::Dir",
        ));
    }
    let changes_the_root = [
        (b.read_only_root, "read_only_root()"),
        (b.root_propagation.is_some(), "root_propagation()"),
    ];
    if let Some((_, what)) = changes_the_root.iter().find(|(set, _)| *set) {
        return Err(Error::invalid(
            format!("{what} with root_change(RootChange::Chroot)"),
            "a chrooted root is a directory of the mount namespace, not a mount of the \
             container's: this needs the root to be changed in a new mount namespace \
             (RootChange::PivotRoot or MoveAndChroot)",
        ));
    }
    let Some(what) = b.mounts_beneath_root() else {
        return Ok(());
    };
    // Made beneath the root in the caller's own mount namespace, where they stay.
    if ns.contains(Namespaces::MOUNT) || b.joined_namespaces().contains(Namespaces::MOUNT) {
        return Err(Error::invalid(
            format!(
                "{what} with root_change(RootChange::Chroot) in a new or joined mount namespace"
            ),
            "a chroot's mounts are made in the caller's own mount namespace; in a mount \
             namespace of the container's, change the root with RootChange::PivotRoot",
        ));
    }
    if ns.contains(Namespaces::USER) || b.joined_namespaces().contains(Namespaces::USER) {
        return Err(Error::invalid(
            format!("{what} with root_change(RootChange::Chroot) in a user namespace"),
            "a chroot's mounts are made in the caller's mount namespace, over which the \
             container's root in a user namespace of its own has no privilege",
        ));
    }
    Ok(())
}

/// Masked and read-only paths, devices, propagation types.
fn fs_knobs(b: &ContainerBuilder) -> Result<()> {
    use crate::builder::RootFs;
    use linception_mountapi::Propagation;
    let no_root = b.root.is_none();
    for (paths, setter) in [
        (&b.masked_paths, "mask_path()"),
        (&b.read_only_paths, "read_only_path()"),
    ] {
        for path in paths {
            if no_root {
                return Err(Error::invalid(
                    format!("{setter} {} without a root", shown(path.as_os_str())),
                    "masked and read-only paths are inside the container's root: set one \
                     with root()",
                ));
            }
            let what = format!("{setter} path");
            inner_path(path, &what)?;
            if is_root(path) {
                return Err(Error::invalid(
                    format!("{what} {}", shown(path.as_os_str())),
                    "the root itself: use read_only_root() for a read-only root",
                ));
            }
        }
    }
    for d in &b.devices {
        let what = format!("device {}", d.shown());
        if no_root {
            return Err(Error::invalid(
                what,
                "device nodes are made inside the container's root: set one with root()",
            ));
        }
        inner_path(&d.path, "device path")?;
        if is_root(&d.path) {
            return Err(Error::invalid(
                what,
                "a device node cannot replace the root",
            ));
        }
        if let Some(mode) = d.mode
            && mode > 0o777
        {
            return Err(Error::invalid(
                format!("mode {mode:#o} of the {what}"),
                "a device node's mode has at most the permission bits 0o777",
            ));
        }
        if let Some((uid, gid)) = d.owner
            && (uid == u32::MAX || gid == u32::MAX)
        {
            return Err(Error::invalid(
                format!("owner {uid}:{gid} of the {what}"),
                "-1 (u32::MAX) is not an id: to fchownat it means \"leave unchanged\"",
            ));
        }
    }
    match (&b.root_propagation, &b.root) {
        (Some(p), None) => {
            return Err(Error::invalid(
                format!("root_propagation({p:?}) without a root"),
                "only a root set with root() has a propagation type of the container's",
            ));
        }
        (Some(Propagation::Slave), Some(RootFs::Tmpfs)) => {
            return Err(Error::invalid(
                "root_propagation(Slave) of a tmpfs root",
                "a new tmpfs has no master to receive mount events from: use a RootFs::Dir \
                 under a shared mount",
            ));
        }
        _ => {}
    }
    let slave_tree = b.root_propagation == Some(Propagation::Slave);
    for m in &b.mounts {
        if m.propagation != Some(Propagation::Slave) {
            continue;
        }
        let what = format!(
            "propagation(Slave) on the {} mount at {:?}",
            m.kind.name(),
            m.target
        );
        if !matches!(m.kind, MountKind::Bind { .. }) {
            return Err(Error::invalid(
                what,
                "a new filesystem has no master to receive mount events from",
            ));
        }
        if !slave_tree {
            return Err(Error::invalid(
                what,
                "the copied mount tree is private, so a bind has no master: set \
                 root_propagation(Propagation::Slave)",
            ));
        }
    }
    Ok(())
}

/// What a setter is for, when it was called on a mount that has no use for it.
fn misapplied_reason(setter: &str) -> &'static str {
    match setter {
        "option()" | "flag()" => "only a new filesystem (tmpfs, proc, filesystem()) takes options",
        "read_only()" => "only a bind or a new filesystem can be made read-only",
        "recursive()" => "only a bind can be recursive",
        "idmapped()" => "only a bind can be idmapped",
        "size()" => "only a tmpfs has a size (use option(\"size\", ..) for filesystem())",
        "mode()" => "only a tmpfs or a directory has a mode",
        "copy_up()" => "only a tmpfs is copied up",
        "pid_subset()" => "only proc has subset=pid",
        "propagation()" => "only a bind or a new filesystem has a propagation type",
        "attributes()" | "clear_attributes()" | "atime()" => {
            "only a mount (a bind or a new filesystem) has mount attributes"
        }
        "tree_attributes()" | "clear_tree_attributes()" | "tree_atime()" => {
            "only a recursive bind has a tree of mounts (a new filesystem's attributes are \
             set with attributes())"
        }
        "without_submounts()" => "only dev() has submounts to leave out",
        _ => "this kind of mount has no such setting",
    }
}

fn mount(m: &Mount, ns: Namespaces, caller: &Caller) -> Result<()> {
    let kind = m.kind.name();
    let target = m.target.display();
    if let Some(setter) = m.misapplied.first() {
        return Err(Error::invalid(
            format!("{setter} on the {kind} mount at {target:?}"),
            misapplied_reason(setter),
        ));
    }
    inner_path(&m.target, &format!("{kind} target"))?;
    attributes(m)?;
    let what = match &m.kind {
        MountKind::Symlink { .. } => "symlink",
        MountKind::Dir { .. } => "directory",
        _ => "mount",
    };
    if is_root(&m.target) {
        return Err(Error::invalid(
            format!("{kind} {what} on {target:?}"),
            "cannot replace the root itself: choose it with root()",
        ));
    }
    match &m.kind {
        MountKind::Filesystem { fstype } => {
            if fstype.is_empty() {
                return Err(Error::invalid(
                    format!("filesystem type \"\" (mount on {target:?})"),
                    "the filesystem type is empty",
                ));
            }
            if fstype.contains('\0') {
                return Err(Error::invalid(
                    format!("filesystem type {fstype:?} (mount on {target:?})"),
                    "contains a NUL byte",
                ));
            }
        }
        MountKind::Tmpfs {
            mode: Some(mode), ..
        }
        | MountKind::Dir { mode }
            if *mode > 0o7777 =>
        {
            return Err(Error::invalid(
                format!("mode {mode:#o} of the {kind} at {target:?}"),
                "a mode has at most the bits 0o7777",
            ));
        }
        MountKind::Tmpfs { copy_up: true, .. }
            if m.read_only
                || m.top.set.contains(linception_mountapi::MountAttr::RDONLY)
                || m.options.iter().any(|(k, v)| k == "ro" && v.is_none()) =>
        {
            return Err(Error::invalid(
                format!("copy_up() of the read-only tmpfs at {target:?}"),
                "a read-only tmpfs cannot be filled with the copy: copy up a writable one",
            ));
        }
        MountKind::Proc { .. }
            if ns.contains(Namespaces::USER) && !ns.contains(Namespaces::PID) =>
        {
            return Err(Error::invalid(
                format!("proc mount on {target:?} without Namespaces::PID"),
                "in a new user namespace proc needs a new pid namespace too: only the \
                 user namespace that owns a pid namespace may mount its proc",
            ));
        }
        MountKind::Symlink { points_to } => no_nul(points_to.as_os_str(), "symlink content")?,
        MountKind::Bind {
            source, idmapped, ..
        } => {
            no_nul(source.as_os_str(), "bind source")?;
            if *idmapped {
                let what = format!("idmapped bind {} on {target:?}", source.display());
                if !ns.contains(Namespaces::USER) {
                    return Err(Error::invalid(
                        what,
                        "an idmapped bind maps through the container's user namespace: it \
                         needs Namespaces::USER",
                    ));
                }
                if !caller.cap_sys_admin {
                    return Err(Error::denied(
                        what,
                        "an idmapped mount needs CAP_SYS_ADMIN over the user namespace that \
                         owns the source's filesystem (the host's initial one for a host \
                         path); the caller has no CAP_SYS_ADMIN",
                    ));
                }
            }
        }
        _ => {}
    }
    fs_options(m)
}

/// How attribute bits are named in messages: `NOSUID|NOEXEC`, unknown bits in hex.
fn attr_names(attrs: MountAttr) -> String {
    let mut names: Vec<String> = Vec::new();
    let mut rest = attrs;
    for (name, flag) in attrs.iter_names() {
        names.push(name.to_owned());
        rest -= flag;
    }
    if !rest.is_empty() {
        names.push(format!("{:#x}", rest.bits()));
    }
    names.join("|")
}

/// The mount attribute choices: bits the setters take, nothing both set and
/// cleared, one access-time mode, a tree only on a recursive bind, a writable
/// `/dev`.
fn attributes(m: &Mount) -> Result<()> {
    let kind = m.kind.name();
    let target = m.target.display();
    let recursive_bind = matches!(
        m.kind,
        MountKind::Bind {
            recursive: true,
            ..
        }
    );
    for (choice, scope) in [(&m.top, ""), (&m.tree, "tree_")] {
        for (attrs, setter) in [
            (choice.set, "attributes"),
            (choice.clear, "clear_attributes"),
        ] {
            let setter = match (scope, setter) {
                ("", s) => s.to_owned(),
                (_, "attributes") => "tree_attributes".to_owned(),
                _ => "clear_tree_attributes".to_owned(),
            };
            let bad = attrs - crate::mount::SETTABLE;
            if bad.is_empty() {
                continue;
            }
            let why = if bad.intersects(MountAttr::ATIME_MASK) {
                "the access-time mode is a field, not flags: choose it with atime() or \
                 tree_atime()"
            } else if bad.contains(MountAttr::IDMAP) {
                "an idmapped bind is asked for with idmapped() (the kernel needs the user \
                 namespace with the flag)"
            } else {
                "not a mount attribute these setters take (RDONLY, NOSUID, NODEV, NOEXEC, \
                 NODIRATIME, NOSYMFOLLOW)"
            };
            return Err(Error::invalid(
                format!(
                    "{setter}({}) on the {kind} mount at {target:?}",
                    attr_names(bad)
                ),
                why,
            ));
        }
    }
    let mut top_set = m.top.set;
    let mut tree_set = m.tree.set;
    if m.read_only {
        if recursive_bind {
            tree_set |= MountAttr::RDONLY;
        } else {
            top_set |= MountAttr::RDONLY;
        }
    }
    for (set, clear, scope) in [
        (top_set, m.top.clear, "the mount"),
        (tree_set, m.tree.clear, "every mount of the tree"),
    ] {
        let both = set & clear;
        if !both.is_empty() {
            return Err(Error::invalid(
                format!(
                    "{} both set and cleared for {scope} of the {kind} mount at {target:?}",
                    attr_names(both)
                ),
                "contradictory choices (noexec() with allow_exec(), read_only() with \
                 clear_attributes(RDONLY), ...)",
            ));
        }
    }
    for (modes, setter) in [(&m.top.atime, "atime"), (&m.tree.atime, "tree_atime")] {
        if let Some(other) = modes.iter().find(|a| **a != modes[0]) {
            return Err(Error::invalid(
                format!(
                    "{setter}({:?}) and {setter}({other:?}) on the {kind} mount at {target:?}",
                    modes[0]
                ),
                "a mount has one access-time mode (relatime, noatime or strictatime)",
            ));
        }
    }
    if !m.tree.is_empty() && !recursive_bind {
        return Err(Error::invalid(
            format!("tree attributes on the {kind} mount at {target:?}"),
            "the bind is not recursive: it has no submounts (use attributes(), atime())",
        ));
    }
    if matches!(m.kind, MountKind::Dev { .. }) && top_set.contains(MountAttr::RDONLY) {
        return Err(Error::invalid(
            format!("MOUNT_ATTR_RDONLY on the dev mount at {target:?}"),
            "a read-only /dev is not supported: its nodes and links are made in it after \
             it is mounted",
        ));
    }
    Ok(())
}

/// The options of a new filesystem: no NUL byte, no empty key, no key given twice
/// (the kernel would keep the last one and drop the first without a word).
fn fs_options(m: &Mount) -> Result<()> {
    let kind = m.kind.name();
    let target = m.target.display();
    let mut keys: Vec<&str> = Vec::new();
    match &m.kind {
        MountKind::Tmpfs { size, mode, .. } => {
            if size.is_some() {
                keys.push("size");
            }
            if mode.is_some() {
                keys.push("mode");
            }
        }
        MountKind::Proc { pid_subset: true } => keys.push("subset"),
        _ => {}
    }
    for (key, value) in &m.options {
        let shown_opt = match value {
            Some(v) => format!("{}={}", clip(key), clip(v)),
            None => clip(key),
        };
        if key.is_empty() {
            return Err(Error::invalid(
                format!("{kind} option {shown_opt:?} (mount on {target:?})"),
                "an option has a name",
            ));
        }
        if key.contains('\0') || value.as_ref().is_some_and(|v| v.contains('\0')) {
            return Err(Error::invalid(
                format!("{kind} option {shown_opt:?} (mount on {target:?})"),
                "contains a NUL byte",
            ));
        }
        if key.len() > FSCONFIG_MAX || value.as_ref().is_some_and(|v| v.len() > FSCONFIG_MAX) {
            return Err(Error::invalid(
                format!("{kind} option {shown_opt:?} (mount on {target:?})"),
                "fsconfig takes keys and values of at most 255 bytes",
            ));
        }
        if keys.contains(&key.as_str()) {
            return Err(Error::invalid(
                format!("{kind} option {shown_opt:?} (mount on {target:?})"),
                "given twice (by option() and a setter, or two option() calls)",
            ));
        }
        keys.push(key);
    }
    Ok(())
}

/// A path inside the container: absolute, without `..`.
fn inner_path(path: &Path, what: &str) -> Result<()> {
    let shown = shown(path.as_os_str());
    if !path.is_absolute() {
        return Err(Error::invalid(
            format!("{what} {shown}"),
            "a path inside the container must be absolute",
        ));
    }
    if path.as_os_str().as_bytes().contains(&0) {
        return Err(Error::invalid(
            format!("{what} {shown}"),
            "contains a NUL byte",
        ));
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(Error::invalid(
            format!("{what} {shown}"),
            "\"..\" is not allowed in a path inside the container",
        ));
    }
    Ok(())
}

fn is_root(path: &Path) -> bool {
    path.components()
        .all(|c| matches!(c, Component::RootDir | Component::CurDir))
}

/// At most this many bytes of an input are quoted in a message.
const SHOWN_BYTES: usize = 64;
/// At most this many ids of a list are shown in a message.
const SHOWN_IDS: usize = 8;

/// An input quoted for a message, cut short when long: `"aaaa..." (70000 bytes)`.
pub(crate) fn shown(s: &OsStr) -> String {
    let bytes = s.as_bytes();
    if bytes.len() <= SHOWN_BYTES {
        return format!("{s:?}");
    }
    let head = OsStr::from_bytes(&bytes[..SHOWN_BYTES]);
    let quoted = format!("{head:?}");
    format!(
        "{}...\" ({} bytes)",
        quoted.trim_end_matches('"'),
        bytes.len()
    )
}

fn clip(s: &str) -> String {
    if s.len() <= SHOWN_BYTES {
        return s.to_owned();
    }
    let mut end = SHOWN_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &s[..end], s.len())
}

/// A list of ids for a message, cut short when long: `[1, 2, ... (70000 in all)]`.
pub(crate) fn summary(ids: &[u32]) -> String {
    let mut out = String::from("[");
    for (i, id) in ids.iter().take(SHOWN_IDS).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{id}");
    }
    if ids.len() > SHOWN_IDS {
        let _ = write!(out, ", ... ({} in all)", ids.len());
    }
    out.push(']');
    out
}

/// Facts about the host that cgroup limits are checked against.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CgroupHost<'a> {
    /// The count of possible CPUs (`/sys/devices/system/cpu/possible`).
    pub cpus: u32,
    /// The count of possible memory nodes (`/sys/devices/system/node/possible`).
    pub nodes: u32,
    /// The huge page sizes in bytes (`/sys/kernel/mm/hugepages`).
    pub huge_page_sizes: &'a [u64],
    /// The whole-disk block devices (`/sys/dev/block`).
    pub block_devices: &'a [BlockDevice],
    /// The partitions among `/sys/dev/block`.
    pub partitions: &'a [BlockDevice],
}

/// Checks cgroup limits against the ranges the kernel accepts, naming the file and
/// the value; `what` prefixes each name (the cgroup it is for).
pub(crate) fn resources(r: &Resources, host: &CgroupHost<'_>, of: &str) -> Result<()> {
    use crate::resources::{CPU_PERIOD, CPU_QUOTA, PIDS_MAX, WEIGHT, id_list};
    if let Some(Limit::Value(v)) = r.pids_max
        && v > PIDS_MAX
    {
        return Err(Error::invalid(
            format!("pids.max {v}{of}"),
            "pids.max takes 0 to 4194304 (PID_MAX_LIMIT) or max",
        ));
    }
    for (file, w) in [("cpu.weight", r.cpu_weight), ("io.weight", r.io_weight)] {
        if let Some(w) = w
            && !WEIGHT.contains(&w)
        {
            return Err(Error::invalid(
                format!("{file} {w}{of}"),
                "a weight is 1 to 10000",
            ));
        }
    }
    if let Some((quota, period)) = r.cpu_max {
        if !CPU_PERIOD.contains(&period) {
            return Err(Error::invalid(
                format!("cpu.max period {period}{of}"),
                "the period is 1000 to 1000000 microseconds (1 ms to 1 s)",
            ));
        }
        if let Limit::Value(q) = quota
            && !CPU_QUOTA.contains(&q)
        {
            return Err(Error::invalid(
                format!("cpu.max quota {q}{of}"),
                "the quota is 1000 microseconds to 2^44 - 1 microseconds, or max",
            ));
        }
    }
    for (file, ids, count, reason) in [
        (
            "cpuset.cpus",
            &r.cpuset_cpus,
            host.cpus,
            "a CPU number is at or above the host's count of possible CPUs",
        ),
        (
            "cpuset.mems",
            &r.cpuset_mems,
            host.nodes,
            "a node number is at or above the host's count of possible memory nodes",
        ),
    ] {
        if let Some(ids) = ids
            && ids.iter().any(|&id| id >= count)
        {
            return Err(Error::invalid(
                format!("{file} {} (the host has {count}){of}", id_list(ids)),
                reason,
            ));
        }
    }
    for (i, m) in r.io_max.iter().enumerate() {
        let line = m.text();
        if m.keys().next().is_none() {
            return Err(Error::invalid(
                format!("io.max {line:?}{of}"),
                "an io.max line needs at least one of rbps, wbps, riops, wiops",
            ));
        }
        if m.keys().any(|(_, v)| matches!(v, Limit::Value(0 | 1))) {
            return Err(Error::invalid(
                format!("io.max {line:?}{of}"),
                "an io.max rate is at least 2 (the kernel refuses 0 and 1), or max",
            ));
        }
        if r.io_max[..i].iter().any(|o| o.device == m.device) {
            return Err(Error::invalid(
                format!("io.max device {}{of}", m.device),
                "the device is given twice",
            ));
        }
        if host.partitions.contains(&m.device) {
            return Err(Error::invalid(
                format!("io.max device {}{of}", m.device),
                "a partition: io limits apply to whole disks (the kernel refuses partitions)",
            ));
        }
        if !host.block_devices.contains(&m.device) {
            return Err(Error::invalid(
                format!("io.max device {}{of}", m.device),
                "no such block device on this host (/sys/dev/block)",
            ));
        }
    }
    for (i, &(size, _)) in r.hugetlb_max.iter().enumerate() {
        if !host.huge_page_sizes.contains(&size) {
            return Err(Error::invalid(
                format!("hugetlb page size {size}{of}"),
                "not a huge page size of this host (/sys/kernel/mm/hugepages)",
            ));
        }
        if r.hugetlb_max[..i].iter().any(|&(s, _)| s == size) {
            return Err(Error::invalid(
                format!("hugetlb page size {size}{of}"),
                "the page size is given twice",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod resource_tests {
    use super::*;
    use crate::resources::IoMax;

    const HOST: CgroupHost<'static> = CgroupHost {
        cpus: 4,
        nodes: 1,
        huge_page_sizes: &[2 << 20, 1 << 30],
        block_devices: &[BlockDevice { major: 8, minor: 0 }],
        partitions: &[BlockDevice { major: 8, minor: 1 }],
    };

    fn refused(r: Resources) -> String {
        resources(&r, &HOST, " of cgroup \"/cg\"")
            .expect_err("should be refused")
            .to_string()
    }

    #[test]
    fn values_the_kernel_accepts_pass() {
        let r = Resources::new()
            .memory_max(Limit::Max)
            .memory_swap_max(u64::MAX)
            .pids_max(0u64)
            .cpu_weight(1)
            .io_weight(10_000)
            .cpu_max(Limit::Value(1_000), 1_000_000)
            .cpuset_cpus([0, 3])
            .cpuset_mems([])
            .io_max(
                IoMax::new(BlockDevice::new(8, 0))
                    .rbps(2u64)
                    .wiops(Limit::Max),
            )
            .hugetlb_max(2 << 20, 0u64)
            .hugetlb_max(1 << 30, Limit::Max);
        resources(&r, &HOST, "").unwrap();
        resources(&Resources::new().pids_max(4_194_304u64), &HOST, "").unwrap();
        resources(&Resources::new().cpu_max(Limit::Max, 1_000), &HOST, "").unwrap();
        resources(
            &Resources::new().cpu_max(Limit::Value((1 << 44) - 1), 1_000),
            &HOST,
            "",
        )
        .unwrap();
    }

    #[test]
    fn values_out_of_range_are_named() {
        let cases = [
            (
                Resources::new().pids_max(4_194_305u64),
                "pids.max 4194305 of cgroup \"/cg\"",
            ),
            (Resources::new().cpu_weight(0), "cpu.weight 0 of"),
            (Resources::new().cpu_weight(10_001), "cpu.weight 10001 of"),
            (Resources::new().io_weight(0), "io.weight 0 of"),
            (
                Resources::new().cpu_max(Limit::Max, 999),
                "cpu.max period 999 of",
            ),
            (
                Resources::new().cpu_max(Limit::Max, 1_000_001),
                "cpu.max period 1000001 of",
            ),
            (
                Resources::new().cpu_max(Limit::Value(999), 100_000),
                "cpu.max quota 999 of",
            ),
            (
                Resources::new().cpu_max(Limit::Value(1 << 44), 100_000),
                "cpu.max quota 17592186044416 of",
            ),
            (
                Resources::new().cpuset_cpus([0, 1, 4]),
                "cpuset.cpus 0-1,4 (the host has 4) of",
            ),
            (
                Resources::new().cpuset_mems([1]),
                "cpuset.mems 1 (the host has 1) of",
            ),
            (
                Resources::new().io_max(IoMax::new(BlockDevice::new(8, 0))),
                "io.max \"8:0\" of",
            ),
            (
                Resources::new().io_max(IoMax::new(BlockDevice::new(8, 0)).wbps(1u64)),
                "io.max \"8:0 wbps=1\" of",
            ),
            (
                Resources::new().io_max(IoMax::new(BlockDevice::new(8, 0)).riops(0u64)),
                "io.max \"8:0 riops=0\" of",
            ),
            (
                Resources::new()
                    .io_max(IoMax::new(BlockDevice::new(8, 0)).rbps(5u64))
                    .io_max(IoMax::new(BlockDevice::new(8, 0)).wbps(5u64)),
                "io.max device 8:0 of",
            ),
            (
                Resources::new().io_max(IoMax::new(BlockDevice::new(8, 1)).rbps(5u64)),
                "io.max device 8:1 of",
            ),
            (
                Resources::new().io_max(IoMax::new(BlockDevice::new(8, 2)).rbps(5u64)),
                "io.max device 8:2 of",
            ),
            (
                Resources::new().hugetlb_max(4096, 0u64),
                "hugetlb page size 4096 of",
            ),
            (
                Resources::new()
                    .hugetlb_max(2 << 20, 0u64)
                    .hugetlb_max(2 << 20, Limit::Max),
                "hugetlb page size 2097152 of",
            ),
        ];
        for (r, needle) in cases {
            let text = refused(r);
            assert!(text.starts_with("invalid "), "{text}");
            assert!(text.contains(needle), "{text:?} lacks {needle:?}");
        }
        assert!(
            refused(Resources::new().io_max(IoMax::new(BlockDevice::new(8, 1)).rbps(5u64)))
                .contains("a partition")
        );
        assert!(
            refused(Resources::new().io_max(IoMax::new(BlockDevice::new(8, 2)).rbps(5u64)))
                .contains("no such block device")
        );
        assert!(
            refused(
                Resources::new()
                    .hugetlb_max(2 << 20, 0u64)
                    .hugetlb_max(2 << 20, 1u64)
            )
            .contains("given twice")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Atime, Container, RootFs};

    const ROOT: Caller = Caller {
        euid: 0,
        egid: 0,
        cap_sys_admin: true,
    };
    const USER: Caller = Caller {
        euid: 1000,
        egid: 1000,
        cap_sys_admin: false,
    };

    fn root_is(uid: u32, gid: u32) -> (IdMap, IdMap) {
        (
            IdMap::single(0, uid, 1).unwrap(),
            IdMap::single(0, gid, 1).unwrap(),
        )
    }

    fn check(b: ContainerBuilder, caller: &Caller) -> Result<()> {
        let (uid, gid) = root_is(caller.euid, caller.egid);
        let maps = Maps {
            uid: &uid,
            gid: &gid,
            setgroups_denied: caller.euid != 0,
        };
        let with_user = b.effective_namespaces().contains(Namespaces::USER);
        spawn(&b, caller, with_user.then_some(&maps))
    }

    fn refused(b: ContainerBuilder, caller: &Caller) -> String {
        let e = check(b, caller).expect_err("should be refused");
        e.to_string()
    }

    fn fs(m: Mount) -> ContainerBuilder {
        Container::builder("/bin/true").root(RootFs::Tmpfs).mount(m)
    }

    #[test]
    fn the_default_builder_isolates_and_passes() {
        let b = Container::builder("/bin/true");
        assert_eq!(b.effective_namespaces(), Namespaces::DEFAULT);
        check(b, &USER).unwrap();
        check(Container::builder("/bin/true"), &ROOT).unwrap();
    }

    #[test]
    fn unchanged_ids_are_refused() {
        let e = refused(Container::builder("/bin/true").uid(u32::MAX), &ROOT);
        assert!(e.starts_with("invalid uid 4294967295: -1"), "{e}");
        let e = refused(Container::builder("/bin/true").gid(u32::MAX), &ROOT);
        assert!(e.starts_with("invalid gid 4294967295"), "{e}");
        let e = refused(
            Container::builder("/bin/true")
                .share(Namespaces::USER)
                .groups(vec![1, u32::MAX]),
            &ROOT,
        );
        assert!(e.contains("supplementary group 4294967295"), "{e}");
    }

    #[test]
    fn unmapped_ids_are_refused_before_spawn() {
        let e = refused(Container::builder("/bin/true").uid(1000), &ROOT);
        assert!(e.contains("uid 1000: not mapped"), "{e}");
        let e = refused(Container::builder("/bin/true").gid(5), &ROOT);
        assert!(e.contains("gid 5: not mapped"), "{e}");
        let e = refused(Container::builder("/bin/true").groups(vec![0, 7]), &ROOT);
        assert!(e.contains("supplementary group 7 of [0, 7]"), "{e}");
        // Mapped ids pass; without a user namespace the ids are the host's.
        check(Container::builder("/bin/true").uid(0).gid(0), &ROOT).unwrap();
        check(
            Container::builder("/bin/true")
                .share(Namespaces::USER)
                .uid(1000)
                .gid(1000)
                .groups(vec![1, 2]),
            &ROOT,
        )
        .unwrap();
    }

    #[test]
    fn rootless_groups_need_setgroups() {
        let e = check(Container::builder("/bin/true").groups(vec![0]), &USER).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::PermissionDenied, "{e}");
        assert!(e.to_string().contains("deny setgroups"), "{e}");
    }

    #[test]
    fn long_inputs_are_summarised() {
        let groups: Vec<u32> = (0..70_000).collect();
        let e = refused(
            Container::builder("/bin/true")
                .share(Namespaces::USER)
                .groups(groups),
            &ROOT,
        );
        assert!(e.len() < 300, "{} bytes: {e}", e.len());
        assert!(e.contains("70000 supplementary groups [0, 1, 2"), "{e}");
        assert!(e.contains("(70000 in all)"), "{e}");
        let long = "x".repeat(100_000);
        let e = refused(Container::builder("/bin/true").hostname(&long), &ROOT);
        assert!(e.len() < 300, "{} bytes: {e}", e.len());
        assert!(e.contains("(100000 bytes)"), "{e}");
        let e = refused(fs(Mount::tmpfs("/t").option(&long, "1")), &ROOT);
        assert!(e.len() < 300, "{} bytes: {e}", e.len());
        assert!(e.contains("at most 255 bytes"), "{e}");
        check(fs(Mount::tmpfs("/t").option("x".repeat(255), "1")), &ROOT).unwrap();
    }

    #[test]
    fn hostnames_are_checked() {
        let e = refused(Container::builder("/bin/true").hostname(""), &ROOT);
        assert_eq!(e, "invalid hostname \"\": a hostname is not empty");
        let e = refused(Container::builder("/bin/true").hostname("a\0b"), &ROOT);
        assert!(e.contains("NUL"), "{e}");
        let e = refused(
            Container::builder("/bin/true")
                .share(Namespaces::UTS)
                .hostname("box"),
            &ROOT,
        );
        assert!(e.contains("needs Namespaces::UTS"), "{e}");
        // A joined UTS namespace takes the name (the caller named that namespace).
        check(
            Container::builder("/bin/true")
                .share(Namespaces::UTS)
                .join(
                    linception_pidfd::NamespaceType::Uts,
                    crate::NsSource::Path("/proc/self/ns/uts".into()),
                )
                .hostname("box")
                .domainname("example"),
            &ROOT,
        )
        .unwrap();
        check(
            Container::builder("/bin/true").hostname("x".repeat(64)),
            &ROOT,
        )
        .unwrap();
        refused(
            Container::builder("/bin/true").hostname("x".repeat(65)),
            &ROOT,
        );
    }

    #[test]
    fn setters_a_mount_kind_ignores_are_refused() {
        for (m, setter) in [
            (Mount::proc("/proc").size(1), "size()"),
            (Mount::bind("/a", "/a").option("size", "1k"), "option()"),
            (Mount::bind("/a", "/a").flag("ro"), "flag()"),
            (Mount::bind("/a", "/a").pid_subset(), "pid_subset()"),
            (Mount::tmpfs("/t").recursive(), "recursive()"),
            (Mount::tmpfs("/t").idmapped(), "idmapped()"),
            (Mount::dev("/dev").read_only(), "read_only()"),
            (Mount::dir("/d").read_only(), "read_only()"),
            (Mount::symlink("x", "/l").mode(0o700), "mode()"),
            (Mount::proc("/proc").mode(0o700), "mode()"),
            (Mount::dir("/d").option("size", "1"), "option()"),
            (Mount::symlink("x", "/l").noexec(), "attributes()"),
            (Mount::dir("/d").allow_suid(), "clear_attributes()"),
            (Mount::dir("/d").atime(Atime::NoAtime), "atime()"),
            (
                Mount::tmpfs("/t").tree_attributes(MountAttr::NOSUID),
                "tree_attributes()",
            ),
            (
                Mount::proc("/p").clear_tree_attributes(MountAttr::NOSUID),
                "clear_tree_attributes()",
            ),
            (
                Mount::dev("/dev").tree_atime(Atime::NoAtime),
                "tree_atime()",
            ),
            (
                Mount::tmpfs("/t").without_submounts(),
                "without_submounts()",
            ),
        ] {
            let e = refused(fs(m.clone()), &ROOT);
            assert!(
                e.starts_with(&format!("invalid {setter} on the ")),
                "{m:?}: {e}"
            );
        }
        // What a kind takes is honoured, not refused.
        for m in [
            Mount::tmpfs("/t")
                .option("size", "1k")
                .option("nr_inodes", "16"),
            Mount::tmpfs("/t")
                .size(4096)
                .mode(0o700)
                .read_only()
                .flag("noswap"),
            Mount::proc("/proc").option("hidepid", "2").read_only(),
            Mount::filesystem("mqueue", "/mq").read_only(),
            Mount::bind("/a", "/a").read_only().recursive(),
            Mount::dir("/d").mode(0o700),
            Mount::dev("/dev").option("size", "1m").allow_exec(),
            Mount::dev("/dev")
                .without_submounts()
                .atime(Atime::StrictAtime),
        ] {
            check(fs(m.clone()), &ROOT).unwrap_or_else(|e| panic!("{m:?}: {e}"));
        }
    }

    #[test]
    fn mount_attribute_choices_are_checked() {
        let cases = [
            (
                Mount::tmpfs("/t").noexec().allow_exec(),
                "invalid NOEXEC both set and cleared for the mount of the tmpfs mount at \"/t\"",
            ),
            (
                Mount::bind("/a", "/a")
                    .recursive()
                    .read_only()
                    .clear_tree_attributes(MountAttr::RDONLY),
                "invalid RDONLY both set and cleared for every mount of the tree of the bind",
            ),
            (
                Mount::tmpfs("/t")
                    .atime(Atime::NoAtime)
                    .atime(Atime::StrictAtime),
                "invalid atime(NoAtime) and atime(StrictAtime) on the tmpfs mount at \"/t\"",
            ),
            (
                Mount::bind("/a", "/a")
                    .recursive()
                    .tree_atime(Atime::Relatime)
                    .tree_atime(Atime::NoAtime),
                "invalid tree_atime(Relatime) and tree_atime(NoAtime)",
            ),
            (
                Mount::tmpfs("/t").attributes(MountAttr::NOATIME),
                "invalid attributes(NOATIME) on the tmpfs mount at \"/t\": the access-time mode",
            ),
            (
                Mount::bind("/a", "/a").clear_attributes(MountAttr::IDMAP),
                "invalid clear_attributes(IDMAP) on the bind mount at \"/a\": an idmapped bind",
            ),
            (
                Mount::bind("/a", "/a").attributes(MountAttr::from_bits_retain(1 << 40)),
                "invalid attributes(0x10000000000) on the bind mount",
            ),
            (
                Mount::bind("/a", "/a").tree_attributes(MountAttr::NOSUID),
                "invalid tree attributes on the bind mount at \"/a\": the bind is not recursive",
            ),
            (
                Mount::dev("/dev").attributes(MountAttr::RDONLY),
                "invalid MOUNT_ATTR_RDONLY on the dev mount at \"/dev\": a read-only /dev",
            ),
        ];
        for (m, want) in cases {
            let e = refused(fs(m.clone()), &ROOT);
            assert!(e.starts_with(want), "{m:?}: {e}");
        }
        // A top mount and its tree may differ; repeating a choice is no conflict.
        for m in [
            Mount::bind("/a", "/a")
                .recursive()
                .tree_attributes(MountAttr::RDONLY)
                .clear_attributes(MountAttr::RDONLY),
            Mount::tmpfs("/t")
                .atime(Atime::NoAtime)
                .atime(Atime::NoAtime),
            Mount::proc("/p")
                .allow_suid()
                .allow_devices()
                .allow_exec()
                .nodiratime()
                .nosymfollow(),
            Mount::bind("/a", "/a")
                .nosuid()
                .nodev()
                .noexec()
                .atime(Atime::StrictAtime)
                .attributes(MountAttr::RDONLY),
        ] {
            check(fs(m.clone()), &ROOT).unwrap_or_else(|e| panic!("{m:?}: {e}"));
        }
    }

    #[test]
    fn domainnames_are_checked() {
        let b = |name: &str| Container::builder("/bin/true").domainname(name);
        assert_eq!(
            refused(b(""), &ROOT),
            "invalid domainname \"\": a domain name is not empty"
        );
        assert!(refused(b("a\0b"), &ROOT).ends_with("contains a NUL byte"));
        assert!(refused(b(&"x".repeat(65)), &ROOT).ends_with("(the kernel's __NEW_UTS_LEN)"));
        check(b(&"x".repeat(64)), &ROOT).unwrap();
        let e = refused(b("d").share(Namespaces::UTS), &ROOT);
        assert!(
            e.starts_with("invalid domainname \"d\": setting a domain name needs Namespaces::UTS"),
            "{e}"
        );
    }

    #[test]
    fn options_given_twice_are_refused() {
        let e = refused(fs(Mount::tmpfs("/t").size(1).option("size", "2")), &ROOT);
        assert!(e.contains("given twice"), "{e}");
        let e = refused(
            fs(Mount::proc("/p").pid_subset().option("subset", "pid")),
            &ROOT,
        );
        assert!(e.contains("given twice"), "{e}");
        let e = refused(
            fs(Mount::filesystem("tmpfs", "/t")
                .option("mode", "1")
                .option("mode", "2")),
            &ROOT,
        );
        assert!(e.contains("given twice"), "{e}");
    }

    #[test]
    fn mounts_over_the_root_are_refused() {
        for m in [
            Mount::tmpfs("/"),
            Mount::proc("/"),
            Mount::dev("//"),
            Mount::bind("/usr", "/"),
            Mount::filesystem("mqueue", "/."),
            Mount::dir("/"),
            Mount::symlink("x", "/"),
        ] {
            let e = refused(fs(m.clone()), &ROOT);
            assert!(e.contains("cannot replace the root itself"), "{m:?}: {e}");
        }
    }

    #[test]
    fn filesystem_types_and_paths_are_checked() {
        let e = refused(fs(Mount::filesystem("tmp\0fs", "/t")), &ROOT);
        assert!(
            e.contains("filesystem type \"tmp\\0fs\"") && e.contains("NUL"),
            "{e}"
        );
        let e = refused(fs(Mount::filesystem("", "/t")), &ROOT);
        assert!(e.contains("empty"), "{e}");
        let e = refused(fs(Mount::tmpfs("rel")), &ROOT);
        assert!(e.contains("must be absolute"), "{e}");
        let e = refused(fs(Mount::tmpfs("/a/../b")), &ROOT);
        assert!(e.contains("\"..\""), "{e}");
        let e = refused(fs(Mount::tmpfs("/t").mode(0o10000)), &ROOT);
        assert!(e.contains("0o7777"), "{e}");
        let e = refused(fs(Mount::bind("/a\0", "/a")), &ROOT);
        assert!(e.contains("bind source"), "{e}");
    }

    #[test]
    fn proc_needs_its_pid_namespace() {
        let b = fs(Mount::proc("/proc")).namespaces(Namespaces::USER | Namespaces::MOUNT);
        let e = refused(b, &USER);
        assert!(e.contains("without Namespaces::PID"), "{e}");
        // Root without a user namespace may mount the host pid namespace's proc.
        let b = fs(Mount::proc("/proc")).namespaces(Namespaces::MOUNT);
        check(b, &ROOT).unwrap();
    }

    #[test]
    fn idmapped_binds_say_what_they_need() {
        let e = check(fs(Mount::bind("/srv", "/srv").idmapped()), &USER).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::PermissionDenied, "{e}");
        assert!(
            e.to_string()
                .contains("CAP_SYS_ADMIN over the user namespace"),
            "{e}"
        );
        let b = fs(Mount::bind("/srv", "/srv").idmapped()).namespaces(Namespaces::MOUNT);
        let e = refused(b, &ROOT);
        assert!(e.contains("needs Namespaces::USER"), "{e}");
        check(fs(Mount::bind("/srv", "/srv").idmapped()), &ROOT).unwrap();
    }

    #[test]
    fn namespaces_without_a_user_namespace_need_cap_sys_admin() {
        let b = Container::builder("/bin/true").share(Namespaces::USER);
        let e = check(b, &USER).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::PermissionDenied, "{e}");
        check(
            Container::builder("/bin/true").share(Namespaces::USER),
            &ROOT,
        )
        .unwrap();
        check(
            Container::builder("/bin/true").namespaces(Namespaces::empty()),
            &USER,
        )
        .unwrap();
    }

    #[test]
    fn values_for_a_missing_piece_are_refused() {
        let e = refused(Container::builder("/bin/true").read_only_root(), &ROOT);
        assert!(e.contains("without a root"), "{e}");
        let map = linception_userns::IdMap::single(0, 0, 1).unwrap();
        let e = refused(
            Container::builder("/bin/true")
                .share(Namespaces::USER)
                .uid_map(IdMapping::Map(map)),
            &ROOT,
        );
        assert!(e.contains("without Namespaces::USER"), "{e}");
        let e = refused(
            Container::builder("/bin/true").monotonic_offset(1, 1_000_000_000),
            &ROOT,
        );
        assert!(e.contains("monotonic offset nanoseconds"), "{e}");
    }

    /// Every combination of two capabilities in the five sets: the checks refuse
    /// exactly what the kernel refuses when the child applies them in its order
    /// (bounding cut, capset, ambient raise), as root of a new user namespace.
    #[test]
    fn capability_rules_match_the_kernel() {
        use crate::caps::{CapSet, Capabilities};
        use linception_testkit::{Feature, Fork, require};
        require!(Feature::UnprivilegedUserNs);
        let pair = [CapSet::CHOWN, CapSet::SETPCAP];
        let sets: Vec<CapSet> = (0..4u8)
            .map(|m| {
                let mut s = CapSet::empty();
                for (i, c) in pair.iter().enumerate() {
                    if m & (1 << i) != 0 {
                        s |= *c;
                    }
                }
                s
            })
            .collect();
        let mut combos = Vec::new();
        for &bounding in &sets {
            for &effective in &sets {
                for &permitted in &sets {
                    for &inheritable in &sets {
                        for &ambient in &sets {
                            combos.push(Capabilities {
                                bounding,
                                effective,
                                permitted,
                                inheritable,
                                ambient,
                            });
                        }
                    }
                }
            }
        }
        let last_cap = crate::lower::last_cap();
        let bits: Vec<(u64, u64, u64, u64, u64)> = combos
            .iter()
            .map(|c| {
                (
                    c.bounding.bits(),
                    c.effective.bits(),
                    c.permitted.bits(),
                    c.inheritable.bits(),
                    c.ambient.bits(),
                )
            })
            .collect();
        let kernel: Vec<bool> = Fork::new().rootless().run(move || {
            use rustix::thread::{self as t, CapabilitySet as K};
            bits.iter()
                .map(|&(bnd, eff, prm, inh, amb)| {
                    Fork::new().run(move || {
                        for cap in 0..=last_cap.min(63) {
                            if bnd & (1 << cap) == 0
                                && t::remove_capability_from_bounding_set(K::from_bits_retain(
                                    1 << cap,
                                ))
                                .is_err()
                            {
                                return false;
                            }
                        }
                        let sets = t::CapabilitySets {
                            effective: K::from_bits_retain(eff),
                            permitted: K::from_bits_retain(prm),
                            inheritable: K::from_bits_retain(inh),
                        };
                        if t::set_capabilities(None, sets).is_err() {
                            return false;
                        }
                        (0..64).filter(|c| amb & (1u64 << c) != 0).all(|c| {
                            t::configure_capability_in_ambient_set(
                                K::from_bits_retain(1 << c),
                                true,
                            )
                            .is_ok()
                        })
                    })
                })
                .collect()
        });
        assert_eq!(kernel.len(), combos.len());
        let accepted = kernel.iter().filter(|ok| **ok).count();
        assert!(
            accepted > 0 && accepted < combos.len(),
            "{accepted} accepted"
        );
        for (c, ok) in combos.iter().zip(kernel) {
            let b = Container::builder("/bin/true").capabilities(*c);
            let ours = capabilities(&b, last_cap);
            assert_eq!(
                ours.is_ok(),
                ok,
                "{c:?}: ours {ours:?}, kernel accepts: {ok}"
            );
        }
        // A capability the kernel does not have is named.
        let b = Container::builder("/bin/true")
            .capabilities(Capabilities::only(CapSet::from_bits_retain(1 << 62)));
        let e = capabilities(&b, last_cap).unwrap_err().to_string();
        assert!(e.contains("above cap_last_cap"), "{e}");
    }

    /// Every set is held to what the caller holds; an empty request passes.
    #[test]
    fn capabilities_beyond_what_the_caller_holds_are_named() {
        use crate::caps::{CapSet, Capabilities};
        let held = CapSet::KILL | CapSet::CHOWN;
        let ok = Container::builder("/bin/true").capabilities(Capabilities::only(held));
        assert!(capabilities_held(&ok, held).is_ok());
        assert!(capabilities_held(&Container::builder("/bin/true"), CapSet::empty()).is_ok());
        let none = Capabilities::none();
        for (name, c) in [
            (
                "bounding",
                Capabilities {
                    bounding: CapSet::SYS_TIME,
                    ..none
                },
            ),
            (
                "effective",
                Capabilities {
                    effective: CapSet::SYS_TIME,
                    ..none
                },
            ),
            (
                "permitted",
                Capabilities {
                    permitted: CapSet::SYS_TIME,
                    ..none
                },
            ),
            (
                "inheritable",
                Capabilities {
                    inheritable: CapSet::SYS_TIME,
                    ..none
                },
            ),
            (
                "ambient",
                Capabilities {
                    ambient: CapSet::SYS_TIME,
                    ..none
                },
            ),
        ] {
            let b = Container::builder("/bin/true").capabilities(c);
            let e = capabilities_held(&b, held).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::PermissionDenied, "{e}");
            let text = e.to_string();
            assert!(text.contains(&format!("{name} capabilities")), "{text}");
            assert!(
                text.contains("SYS_TIME") && !text.contains("KILL"),
                "{text}"
            );
        }
    }

    #[test]
    fn summaries_are_short_and_exact() {
        assert_eq!(summary(&[]), "[]");
        assert_eq!(summary(&[1, 2]), "[1, 2]");
        let long: Vec<u32> = (1..=9).collect();
        assert_eq!(summary(&long), "[1, 2, 3, 4, 5, 6, 7, 8, ... (9 in all)]");
        assert_eq!(shown(OsStr::new("box")), "\"box\"");
        let s = shown(OsStr::new(&"y".repeat(65)));
        assert!(s.ends_with("...\" (65 bytes)"), "{s}");
    }
}
