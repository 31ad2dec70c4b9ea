//! The container's filesystem: the private mount tree, the root, every mount in
//! order inside it, the root change (`pivot_root`, or another [`RootChange`]).
//!
//! Three phases, because of what the child can still see: every bind source is
//! taken (`open_tree`) while the host tree is in view; then the root is mounted and
//! attached where `pivot_root` can use it; then each mount is made inside the root,
//! its target resolved with `RESOLVE_IN_ROOT` so that a symlink in the root never
//! leads outside.
#![forbid(unsafe_code)]

use std::ffi::CString;
use std::path::{Component, Path};

use linception_mountapi::{MountAttr, OpenTreeFlags, Propagation};
use rustix::fs::{FileType, Mode};
use rustix::process::{Gid, Uid};

use super::{ChildFds, Host, Lowering, borrow, c};
use crate::builder::{ContainerBuilder, Namespaces, RootChange, RootFs};
use crate::device::{Device, NodeKind};
use crate::mount::{AttrChoice, Mount, MountKind};
use crate::step::{ROOT, Slot, Step};

/// The device nodes of [`Mount::dev`](crate::Mount::dev) (all character devices),
/// by name, major and minor.
const DEV_NODES: [(&str, u32, u32); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// Whether [`Mount::dev`](crate::Mount::dev)'s nodes are created (`mknodat`, as an
/// OCI runtime makes them) rather than bound from the host: outside a new user
/// namespace, unless the container's device rules refuse to create one of them
/// (each is then bound, which the rules do not judge). A node the kernel still
/// refuses is bound instead, at that moment ([`Step::Mknod`]'s `or_bind`). A
/// created node costs one mount less, in the making and in the container's
/// teardown.
fn dev_nodes_made(b: &ContainerBuilder, ns: Namespaces) -> bool {
    use crate::cgroup_device::{DeviceAccess, permits};
    use crate::device::DeviceKind;
    let rules = b
        .cgroup
        .as_ref()
        .and_then(|cg| cg.resources.devices.as_deref());
    crate::device::mknod_allowed(ns)
        && rules.is_none_or(|rules| {
            DEV_NODES.iter().all(|&(_, major, minor)| {
                permits(rules, DeviceKind::Char, major, minor, DeviceAccess::MKNOD)
            })
        })
}

/// Whether a [`Device`] of the builder is at `name` in the `dev` mount at
/// `target`: it replaces what `dev()` would put there (a node, the `ptmx` link).
fn device_at(b: &ContainerBuilder, target: &Path, name: &str) -> bool {
    let at = target.join(name);
    b.devices.iter().any(|d| d.path == at)
}

/// An idmapped bind the parent prepares once the user namespace exists.
pub(crate) struct IdmappedBind {
    pub source: CString,
    pub recursive: bool,
    pub read_only: bool,
    pub label: String,
}

/// A container path split into components (checked by `validate`).
struct InnerPath {
    components: Vec<CString>,
    shown: String,
}

impl InnerPath {
    fn new(path: &Path) -> InnerPath {
        let components = path
            .components()
            .filter_map(|comp| match comp {
                Component::Normal(name) => Some(c(name)),
                _ => None,
            })
            .collect();
        InnerPath {
            components,
            shown: path.display().to_string(),
        }
    }

    fn join(parts: &[CString]) -> CString {
        let mut v = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                v.push(b'/');
            }
            v.extend_from_slice(part.as_bytes());
        }
        CString::new(v).unwrap_or_default()
    }

    fn relative(&self) -> CString {
        Self::join(&self.components)
    }

    fn parent_and_name(&self) -> Option<(CString, CString)> {
        let (name, parent) = self.components.split_last()?;
        Some((Self::join(parent), name.clone()))
    }

    fn len(&self) -> usize {
        self.components.len()
    }
}

fn join_rel(dir: &CString, name: &str) -> CString {
    let mut v = dir.as_bytes().to_vec();
    if !v.is_empty() {
        v.push(b'/');
    }
    v.extend_from_slice(name.as_bytes());
    CString::new(v).unwrap_or_default()
}

/// The `fsmount` attributes of a new filesystem: its kind's defaults, then the
/// mount's choices.
fn fs_attr(m: &Mount) -> MountAttr {
    let mut base = m.kind.default_attributes();
    if m.read_only {
        base |= MountAttr::RDONLY;
    }
    m.top.applied_to(base)
}

/// Attribute bits as the kernel names them: `MOUNT_ATTR_RDONLY|MOUNT_ATTR_NOSUID`
/// (the access-time field as its mode).
fn attr_names(attrs: MountAttr) -> String {
    let mut names = Vec::new();
    let mut rest = attrs;
    if attrs.intersects(MountAttr::ATIME_MASK) {
        names.push(match attrs.atime() {
            linception_mountapi::Atime::NoAtime => "MOUNT_ATTR_NOATIME".to_owned(),
            linception_mountapi::Atime::StrictAtime => "MOUNT_ATTR_STRICTATIME".to_owned(),
            linception_mountapi::Atime::Relatime => "MOUNT_ATTR__ATIME".to_owned(),
        });
        rest -= MountAttr::ATIME_MASK;
    }
    for (name, flag) in rest.iter_names() {
        names.push(format!("MOUNT_ATTR_{name}"));
        rest -= flag;
    }
    if !rest.is_empty() {
        names.push(format!("{:#x}", rest.bits()));
    }
    if names.is_empty() {
        return "0".to_owned();
    }
    names.join("|")
}

/// A bind's `mount_setattr` choices: (every mount of a recursive bind's tree, the
/// top mount). [`Mount::read_only`] is the tree's on a recursive bind.
fn bind_choices(m: &Mount, recursive: bool) -> (AttrChoice, AttrChoice) {
    let (mut tree, mut top) = (m.tree.clone(), m.top.clone());
    if m.read_only {
        if recursive {
            tree.set |= MountAttr::RDONLY;
        } else {
            top.set |= MountAttr::RDONLY;
        }
    }
    (tree, top)
}

const DIR_MODE: Mode = Mode::from_raw_mode(0o755);

impl Lowering<'_> {
    /// `mkdir -p` of the first `depth` components of `path`, inside the root.
    fn dirs(&mut self, path: &InnerPath, depth: usize) {
        for i in 1..=depth.min(path.len()) {
            let prefix = InnerPath::join(&path.components[..i]);
            if !self.dirs.insert(prefix.as_bytes().to_vec()) {
                continue;
            }
            let label = format!("create directory /{} in the root", prefix.to_string_lossy());
            self.push(
                Step::Mkdir {
                    parent: InnerPath::join(&path.components[..i - 1]),
                    name: path.components[i - 1].clone(),
                    mode: DIR_MODE,
                },
                label,
            );
        }
    }

    /// Attaches the mount in `slot` on the directory `target`. With `lazy` (a
    /// directory root, whose mount points usually exist), the target is created
    /// only when opening it fails: three syscalls saved each.
    fn attach_dir(&mut self, slot: Slot, target: &InnerPath, lazy: bool, label: String) {
        let n = target.len();
        let create = if lazy && !self.dirs.contains(target.relative().as_bytes()) {
            self.dirs(target, n.saturating_sub(1));
            target
                .parent_and_name()
                .map(|(parent, name)| (parent, name, DIR_MODE))
        } else {
            self.dirs(target, n);
            None
        };
        self.push(
            Step::Attach {
                slot,
                target: target.relative(),
                create,
            },
            label,
        );
    }

    /// The mount's [`propagation`](Mount::propagation), set on its slot.
    fn propagation(&mut self, slot: Slot, m: &Mount, recursive: bool, what: &str) {
        if let Some(propagation) = m.propagation {
            self.push(
                Step::SetPropagation {
                    slot,
                    recursive,
                    propagation,
                },
                format!("{what}: mount_setattr({})", propagation.name()),
            );
        }
    }

    /// A bind's attribute choices on its slot: the tree's (`AT_RECURSIVE`), then
    /// the top mount's.
    fn bind_attrs(&mut self, slot: Slot, m: &Mount, recursive: bool, what: &str) {
        let (tree, top) = bind_choices(m, recursive);
        for (choice, recursive) in [(tree, true), (top, false)] {
            if choice.is_empty() {
                continue;
            }
            let (set, clear) = choice.setattr();
            let mut args = Vec::new();
            if recursive {
                args.push("AT_RECURSIVE".to_owned());
            }
            if !set.is_empty() || clear.is_empty() {
                args.push(attr_names(set));
            }
            if !clear.is_empty() {
                args.push(format!("clear {}", attr_names(clear)));
            }
            let label = format!("{what}: mount_setattr({})", args.join(", "));
            self.push(
                Step::SetAttr {
                    slot,
                    recursive,
                    set,
                    clear,
                },
                label,
            );
        }
    }

    /// `fsopen`, one `fsconfig` per option, `fsmount` into a new slot.
    fn new_fs(
        &mut self,
        fstype: &str,
        options: &[(&str, Option<String>)],
        attr: MountAttr,
        shown: &str,
    ) -> Slot {
        let slot = self.slot();
        self.push(
            Step::FsOpen {
                fstype: c(fstype),
                slot,
            },
            format!("mount {fstype} on {shown}: fsopen(\"{fstype}\")"),
        );
        for (key, value) in options {
            let label = match value {
                Some(v) => format!("mount {fstype} on {shown}: fsconfig {key}={v}"),
                None => format!("mount {fstype} on {shown}: fsconfig {key}"),
            };
            self.push(
                Step::FsConfig {
                    slot,
                    key: c(key),
                    value: value.as_ref().map(c),
                },
                label,
            );
        }
        self.push(
            Step::FsMount { slot, attr },
            format!("mount {fstype} on {shown}: fsmount"),
        );
        slot
    }
}

/// Lowers the filesystem; returns the idmapped binds the parent makes.
pub(super) fn lower<'f>(
    p: &mut Lowering<'f>,
    b: &'f ContainerBuilder,
    host: &Host,
    fds: &'f ChildFds,
    ns: Namespaces,
) -> Vec<IdmappedBind> {
    let mut idmapped = Vec::new();
    if ns.contains(Namespaces::MOUNT) && b.root_propagation == Some(Propagation::Slave) {
        p.push(
            Step::SlaveRoot,
            "make the mount tree a slave of the caller's (mount_setattr(\"/\", AT_RECURSIVE, \
             MS_SLAVE))",
        );
    } else if ns.contains(Namespaces::MOUNT) {
        p.push(
            Step::PrivateRoot,
            "make the mount tree private (mount_setattr(\"/\", AT_RECURSIVE, MS_PRIVATE))",
        );
    }
    let Some(root) = &b.root else {
        return idmapped;
    };
    let chroot = b.root_change == RootChange::Chroot;
    if chroot && crate::mount::shared_namespace_mounts(b).is_none() {
        // No mount at all: the root is a directory of the mount namespace.
        return idmapped;
    }
    let lazy = matches!(root, RootFs::Dir(_));
    // Decided once: phase 1 takes the host's nodes only where phase 3 binds them.
    let dev_nodes_made = dev_nodes_made(b, ns);

    // Phase 1: take every bind source while the host tree is still in view.
    let mut bind_slots = Vec::new();
    for m in &b.mounts {
        match &m.kind {
            MountKind::Bind {
                source,
                recursive,
                idmapped: is_idmapped,
            } => {
                let slot = p.slot();
                let what = format!("bind {} on {}", source.display(), m.target.display());
                if *is_idmapped {
                    idmapped.push(IdmappedBind {
                        source: c(source),
                        recursive: *recursive,
                        read_only: m.read_only,
                        label: what.clone(),
                    });
                    if let Some(sock) = borrow(&fds.tree_sock) {
                        p.push(
                            Step::ReceiveTree { sock, slot },
                            format!("{what}: receive the idmapped mount from the parent"),
                        );
                    }
                    p.bind_attrs(slot, m, *recursive, &what);
                    p.propagation(slot, m, *recursive, &what);
                } else {
                    let mut flags = OpenTreeFlags::CLONE;
                    if *recursive {
                        flags |= OpenTreeFlags::RECURSIVE;
                    }
                    p.push(
                        Step::OpenTree {
                            source: c(source),
                            flags,
                            slot,
                        },
                        format!("{what}: open_tree({source:?}, OPEN_TREE_CLONE)"),
                    );
                    p.bind_attrs(slot, m, *recursive, &what);
                    p.propagation(slot, m, *recursive, &what);
                }
                bind_slots.push(slot);
            }
            MountKind::Dev { .. } if !dev_nodes_made => {
                for (node, _, _) in DEV_NODES {
                    if device_at(b, &m.target, node) {
                        continue;
                    }
                    let slot = p.slot();
                    p.push(
                        Step::OpenTree {
                            source: c(format!("/dev/{node}")),
                            flags: OpenTreeFlags::CLONE,
                            slot,
                        },
                        format!("bind /dev/{node}: open_tree(\"/dev/{node}\", OPEN_TREE_CLONE)"),
                    );
                    bind_slots.push(slot);
                }
            }
            _ => {}
        }
    }
    let device_slots = host_devices(p, b, ns);
    let null_slots: Vec<Slot> = b
        .masked_paths
        .iter()
        .map(|path| {
            let slot = p.slot();
            p.push(
                Step::OpenTree {
                    source: c("/dev/null"),
                    flags: OpenTreeFlags::CLONE,
                    slot,
                },
                format!(
                    "mask {}: open_tree(\"/dev/null\", OPEN_TREE_CLONE)",
                    path.display()
                ),
            );
            slot
        })
        .collect();

    // Phase 2: the root mount, attached so that pivot_root can use it (a chroot's
    // root is the directory itself: the mounts are made beneath it, in the
    // caller's mount namespace).
    match root {
        RootFs::Dir(dir) if chroot => {
            p.push(
                Step::OpenTree {
                    source: c(dir),
                    flags: OpenTreeFlags::empty(),
                    slot: ROOT,
                },
                format!("open the root {}: open_tree", dir.display()),
            );
        }
        RootFs::Tmpfs => {
            p.push(
                Step::FsOpen {
                    fstype: c("tmpfs"),
                    slot: ROOT,
                },
                "mount tmpfs as the root: fsopen(\"tmpfs\")",
            );
            p.push(
                Step::FsConfig {
                    slot: ROOT,
                    key: c("mode"),
                    value: Some(c("0755")),
                },
                "mount tmpfs as the root: fsconfig mode=0755",
            );
            p.push(
                Step::FsMount {
                    slot: ROOT,
                    attr: MountAttr::empty(),
                },
                "mount tmpfs as the root: fsmount",
            );
            let at = host.tmpfs_root_at;
            p.push(
                Step::AttachAtHost {
                    slot: ROOT,
                    path: c(at),
                },
                format!("mount tmpfs as the root: move_mount onto {at}"),
            );
        }
        RootFs::Dir(dir) => {
            p.push(
                Step::OpenTree {
                    source: c(dir),
                    flags: OpenTreeFlags::CLONE | OpenTreeFlags::RECURSIVE,
                    slot: ROOT,
                },
                format!("bind the root {}: open_tree", dir.display()),
            );
            p.push(
                Step::AttachAtHost {
                    slot: ROOT,
                    path: c(dir),
                },
                format!("bind the root {} onto itself", dir.display()),
            );
        }
    }

    // Phase 3: every mount, in order, inside the root.
    let mut bind_slots = bind_slots.into_iter();
    for (i, m) in b.mounts.iter().enumerate() {
        let target = InnerPath::new(&m.target);
        let n = target.len();
        match &m.kind {
            MountKind::Bind { source, .. } => {
                let slot = bind_slots.next().unwrap_or(Slot(usize::MAX));
                let label = format!("bind {} on {}", source.display(), target.shown);
                if host.bind_is_dir.get(i).copied().unwrap_or(true) {
                    p.attach_dir(slot, &target, lazy, label);
                } else {
                    p.dirs(&target, n - 1);
                    if let Some((parent, name)) = target.parent_and_name() {
                        p.push(
                            Step::Mkfile { parent, name },
                            format!("create file {} in the root", target.shown),
                        );
                    }
                    p.push(
                        Step::Attach {
                            slot,
                            target: target.relative(),
                            create: None,
                        },
                        label,
                    );
                }
            }
            MountKind::Tmpfs {
                size,
                mode,
                copy_up,
            } => {
                let mut opts = Vec::new();
                if let Some(size) = size {
                    opts.push(("size", Some(size.to_string())));
                }
                if let Some(mode) = mode {
                    opts.push(("mode", Some(format!("{mode:o}"))));
                }
                opts.extend(m.options.iter().map(|(k, v)| (k.as_str(), v.clone())));
                let slot = p.new_fs("tmpfs", &opts, fs_attr(m), &target.shown);
                if *copy_up {
                    // Before the tmpfs covers it; its root takes the directory's
                    // mode unless one was asked for.
                    let asked = mode.is_some() || m.options.iter().any(|(k, _)| k == "mode");
                    let root_mode = !asked;
                    p.push(
                        Step::CopyUp {
                            slot,
                            target: target.relative(),
                            root_mode,
                        },
                        format!(
                            "mount tmpfs on {}: copy the root's {} into it (copy-up)",
                            target.shown, target.shown
                        ),
                    );
                }
                p.propagation(slot, m, false, &format!("mount tmpfs on {}", target.shown));
                p.attach_dir(
                    slot,
                    &target,
                    lazy,
                    format!("mount tmpfs on {}", target.shown),
                );
            }
            MountKind::Proc { pid_subset } => {
                let mut opts: Vec<(&str, Option<String>)> = Vec::new();
                if *pid_subset {
                    opts.push(("subset", Some(String::from("pid"))));
                }
                opts.extend(m.options.iter().map(|(k, v)| (k.as_str(), v.clone())));
                let slot = p.new_fs("proc", &opts, fs_attr(m), &target.shown);
                p.propagation(slot, m, false, &format!("mount proc on {}", target.shown));
                p.attach_dir(
                    slot,
                    &target,
                    lazy,
                    format!("mount proc on {}", target.shown),
                );
            }
            MountKind::Dev { submounts } => {
                let parts = DevParts {
                    submounts: *submounts,
                    mqueue: dev_mqueue(ns),
                    nodes_made: dev_nodes_made,
                };
                let replaced = |name: &str| device_at(b, &m.target, name);
                dev(p, m, &target, lazy, &mut bind_slots, parts, replaced);
            }
            MountKind::Filesystem { fstype } => {
                let opts: Vec<(&str, Option<String>)> = m
                    .options
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.clone()))
                    .collect();
                let slot = p.new_fs(fstype, &opts, fs_attr(m), &target.shown);
                let what = format!("mount {fstype} on {}", target.shown);
                p.propagation(slot, m, false, &what);
                p.attach_dir(slot, &target, lazy, what);
            }
            MountKind::Symlink { points_to } => {
                if let Some((parent, name)) = target.parent_and_name() {
                    p.dirs(&target, n - 1);
                    p.push(
                        Step::Symlink {
                            parent,
                            name,
                            points_to: c(points_to),
                        },
                        format!("create symlink {} -> {}", target.shown, points_to.display()),
                    );
                }
            }
            MountKind::Dir { mode } => {
                if let Some((parent, name)) = target.parent_and_name() {
                    p.dirs(&target, n - 1);
                    p.dirs.insert(target.relative().as_bytes().to_vec());
                    p.push(
                        Step::Mkdir {
                            parent,
                            name,
                            mode: Mode::from_raw_mode(*mode),
                        },
                        format!("create directory {} in the root", target.shown),
                    );
                }
            }
        }
    }
    // Devices, masks and read-only paths, before the root may become read-only.
    devices(p, b, ns, device_slots);
    for (path, null) in b.masked_paths.iter().zip(null_slots) {
        let target = InnerPath::new(path);
        p.push(
            Step::Mask {
                target: target.relative(),
                null,
            },
            format!(
                "mask {}: bind /dev/null on a file, an empty read-only tmpfs on a directory",
                target.shown
            ),
        );
    }
    for path in &b.read_only_paths {
        let target = InnerPath::new(path);
        p.push(
            Step::ReadOnlyPath {
                target: target.relative(),
            },
            format!(
                "make {} read-only: open_tree(OPEN_TREE_CLONE | AT_RECURSIVE), \
                 mount_setattr(MOUNT_ATTR_RDONLY), move_mount onto itself",
                target.shown
            ),
        );
    }
    if b.read_only_root {
        p.push(
            Step::SetAttr {
                slot: ROOT,
                recursive: false,
                set: MountAttr::RDONLY,
                clear: MountAttr::empty(),
            },
            "make the root read-only: mount_setattr(MOUNT_ATTR_RDONLY)",
        );
    }
    idmapped
}

/// The root change ([`RootChange`]), once every mount is in place.
pub(super) fn change_root(p: &mut Lowering<'_>, b: &ContainerBuilder, host: &Host) {
    match (b.root_change, &b.root) {
        (RootChange::Chroot, Some(RootFs::Dir(dir))) => p.push(
            Step::Chroot { dir: c(dir) },
            format!("chroot into {}", dir.display()),
        ),
        (RootChange::MoveAndChroot, Some(root)) => {
            let on_slash = root_attached_at(root, host) == Path::new("/");
            p.push(
                Step::MoveRoot {
                    hide: host.hide.clone(),
                    on_slash,
                },
                format!(
                    "hide the old root's proc and sysfs mounts ({}), move the new root onto / \
                     and chroot into it",
                    host.hide.len()
                ),
            );
        }
        _ => p.push(
            Step::PivotRoot,
            "pivot_root into the new root and detach the old one",
        ),
    }
}

/// Where the root mount is attached in the caller's tree before the root change.
fn root_attached_at<'a>(root: &'a RootFs, host: &Host) -> &'a Path {
    match root {
        RootFs::Dir(dir) => dir,
        RootFs::Tmpfs => Path::new(host.tmpfs_root_at),
    }
}

/// The mount points a move-and-chroot root change hides (as runc's `--no-pivot`
/// does): every full mount (its root is the filesystem's `/`) of `proc` or
/// `sysfs` in the caller's mount table outside the place the new root is attached.
/// The child's new mount namespace is a copy of the caller's, so the caller reads
/// its own table before the clone.
///
/// # Errors
/// The mount table could not be read.
pub(crate) fn hidden_mounts(b: &ContainerBuilder, host: &Host) -> crate::Result<Vec<CString>> {
    let Some(root) = &b.root else {
        return Ok(Vec::new());
    };
    if b.root_change != RootChange::MoveAndChroot {
        return Ok(Vec::new());
    }
    let at = root_attached_at(root, host);
    let at = std::fs::canonicalize(at).unwrap_or_else(|_| at.to_owned());
    let table = linception_mountapi::mount_table(linception_mountapi::MountTableSource::Auto)
        .map_err(|e| {
            crate::spawn::mount_error("list the mounts a move-and-chroot root change hides", e)
        })?;
    Ok(table
        .iter()
        .filter(|m| {
            m.root == Path::new("/")
                && matches!(m.fs_type.as_str(), "proc" | "sysfs")
                && (at == Path::new("/") || !m.mount_point.starts_with(&at))
        })
        .map(|m| c(&m.mount_point))
        .collect())
}

/// After the root change (`pivot_root` refuses a shared new root): a shared or
/// unbindable root's propagation.
pub(super) fn root_propagation(p: &mut Lowering<'_>, b: &ContainerBuilder) {
    if let Some(propagation @ (Propagation::Shared | Propagation::Unbindable)) = b.root_propagation
    {
        p.push(
            Step::RootPropagation { propagation },
            format!(
                "make the root {}: mount_setattr(\"/\", {})",
                propagation_name(propagation),
                propagation.name()
            ),
        );
    }
}

fn propagation_name(p: Propagation) -> &'static str {
    match p {
        Propagation::Private => "private",
        Propagation::Shared => "shared",
        Propagation::Slave => "a slave",
        Propagation::Unbindable => "unbindable",
    }
}

/// Whether [`Mount::dev`] gets a mqueue: only the owner of the IPC namespace may
/// mount its mqueue.
fn dev_mqueue(ns: Namespaces) -> bool {
    ns.contains(Namespaces::IPC) || !ns.contains(Namespaces::USER)
}

/// Phase 1 for devices bound from the host (in a new user namespace): one
/// `open_tree` of the host's node each.
fn host_devices(p: &mut Lowering<'_>, b: &ContainerBuilder, ns: Namespaces) -> Vec<Slot> {
    b.devices
        .iter()
        .filter(|d| !crate::device::made_here(d, ns))
        .map(|d| {
            let slot = p.slot();
            p.push(
                Step::OpenTree {
                    source: c(&d.path),
                    flags: OpenTreeFlags::CLONE,
                    slot,
                },
                format!(
                    "{}: open_tree({:?}, OPEN_TREE_CLONE) of the host's node",
                    d.shown(),
                    d.path
                ),
            );
            slot
        })
        .collect()
}

/// Each [`Device`]: `mknodat` where allowed, else the host node (taken in phase 1)
/// bound on an empty file.
fn devices(p: &mut Lowering<'_>, b: &ContainerBuilder, ns: Namespaces, slots: Vec<Slot>) {
    let mut slots = slots.into_iter();
    for d in &b.devices {
        let mknod = crate::device::made_here(d, ns);
        let target = InnerPath::new(&d.path);
        let Some((parent, name)) = target.parent_and_name() else {
            continue;
        };
        p.dirs(&target, target.len() - 1);
        if mknod {
            p.push(mknod_step(d, parent, name), format!("mknod {}", d.shown()));
        } else {
            let slot = slots.next().unwrap_or(Slot(usize::MAX));
            p.push(
                Step::Mkfile { parent, name },
                format!("create file {} in the root", target.shown),
            );
            p.push(
                Step::Attach {
                    slot,
                    target: target.relative(),
                    create: None,
                },
                format!("bind the host's {}", d.shown()),
            );
        }
    }
}

fn mknod_step<'f>(d: &Device, parent: CString, name: CString) -> Step<'f> {
    Step::Mknod {
        parent,
        name,
        kind: match d.kind {
            NodeKind::Char => FileType::CharacterDevice,
            NodeKind::Block => FileType::BlockDevice,
            NodeKind::Fifo => FileType::Fifo,
        },
        mode: Mode::from_raw_mode(d.mode.unwrap_or(0o666)),
        dev: d.dev(),
        owner: d.owner.map(|(u, g)| (Uid::from_raw(u), Gid::from_raw(g))),
        or_bind: None,
    }
}

/// Which parts of [`Mount::dev`] are made besides the tmpfs, nodes and links.
struct DevParts {
    /// The devpts, shm and (with `mqueue`) mqueue mounts.
    submounts: bool,
    /// Whether the mqueue may be mounted (see [`dev_mqueue`]).
    mqueue: bool,
    /// Whether the nodes are created rather than bound (see [`dev_nodes_made`]).
    nodes_made: bool,
}

/// [`Mount::dev`]: a small tmpfs, the device nodes in it (created, or the host's
/// bound on files: [`dev_nodes_made`]), a new devpts instance and the usual links.
fn dev(
    p: &mut Lowering<'_>,
    m: &Mount,
    target: &InnerPath,
    lazy: bool,
    bind_slots: &mut impl Iterator<Item = Slot>,
    parts: DevParts,
    replaced: impl Fn(&str) -> bool,
) {
    // The defaults, unless the caller gives options of its own (then exactly those).
    let opts: Vec<(&str, Option<String>)> = if m.options.is_empty() {
        vec![
            ("mode", Some("755".into())),
            ("size", Some("65536k".into())),
        ]
    } else {
        m.options
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect()
    };
    let slot = p.new_fs("tmpfs", &opts, fs_attr(m), &target.shown);
    p.attach_dir(
        slot,
        target,
        lazy,
        format!("mount tmpfs on {}", target.shown),
    );
    let dev = target.relative();
    let base = target.shown.trim_end_matches('/').to_owned();
    for (node, major, minor) in DEV_NODES.into_iter().filter(|n| !replaced(n.0)) {
        let shown = format!("{base}/{node}");
        if parts.nodes_made {
            p.push(
                Step::Mknod {
                    parent: dev.clone(),
                    name: c(node),
                    kind: FileType::CharacterDevice,
                    mode: Mode::from_raw_mode(0o666),
                    dev: rustix::fs::makedev(major, minor),
                    owner: None,
                    or_bind: Some(c(format!("/dev/{node}"))),
                },
                format!(
                    "mknod {shown} (character device {major}:{minor}), or bind /dev/{node} on it"
                ),
            );
            continue;
        }
        let slot = bind_slots.next().unwrap_or(Slot(usize::MAX));
        p.push(
            Step::Mkfile {
                parent: dev.clone(),
                name: c(node),
            },
            format!("create file {shown} in the root"),
        );
        p.push(
            Step::Attach {
                slot,
                target: join_rel(&dev, node),
                create: None,
            },
            format!("bind /dev/{node} on {shown}"),
        );
    }
    if parts.submounts {
        dev_submounts(p, &dev, &base, parts.mqueue);
    }
    for (name, to) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ]
    .into_iter()
    .filter(|(name, _)| !replaced(name))
    {
        p.push(
            Step::Symlink {
                parent: dev.clone(),
                name: c(name),
                points_to: c(to),
            },
            format!("create symlink {base}/{name} -> {to}"),
        );
    }
}

/// [`Mount::dev`]'s devpts on `pts`, tmpfs on `shm` and, with `mqueue`, mqueue.
fn dev_submounts(p: &mut Lowering<'_>, dev: &CString, base: &str, mqueue: bool) {
    let pts_shown = format!("{base}/pts");
    p.push(
        Step::Mkdir {
            parent: dev.clone(),
            name: c("pts"),
            mode: DIR_MODE,
        },
        format!("create directory {pts_shown} in the root"),
    );
    let slot = p.new_fs(
        "devpts",
        &[
            ("newinstance", None),
            ("ptmxmode", Some("0666".into())),
            ("mode", Some("0620".into())),
        ],
        MountAttr::NOSUID | MountAttr::NOEXEC,
        &pts_shown,
    );
    p.push(
        Step::Attach {
            slot,
            target: join_rel(dev, "pts"),
            create: None,
        },
        format!("mount devpts on {pts_shown}"),
    );
    let mut extra = vec![(
        "shm",
        "tmpfs",
        vec![("mode", Some(String::from("1777")))],
        MountAttr::NOSUID | MountAttr::NODEV | MountAttr::NOEXEC,
    )];
    if mqueue {
        extra.push((
            "mqueue",
            "mqueue",
            Vec::new(),
            MountAttr::NOSUID | MountAttr::NODEV | MountAttr::NOEXEC,
        ));
    }
    for (name, fstype, opts, attr) in extra {
        let shown = format!("{base}/{name}");
        p.push(
            Step::Mkdir {
                parent: dev.clone(),
                name: c(name),
                mode: DIR_MODE,
            },
            format!("create directory {shown} in the root"),
        );
        let slot = p.new_fs(fstype, &opts, attr, &shown);
        p.push(
            Step::Attach {
                slot,
                target: join_rel(dev, name),
                create: None,
            },
            format!("mount {fstype} on {shown}"),
        );
    }
}
