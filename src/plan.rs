//! The parent's half of the spawn: turns a builder into the child's steps, with a
//! human label for each (for the error that names a failed step).
#![forbid(unsafe_code)]

use std::collections::HashSet;
use std::ffi::{CString, OsStr, OsString, c_char};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};
use std::sync::OnceLock;

use crate::builder::{ContainerBuilder, RootFs, SessionKeyring, Stdio};
use crate::child::{FsConfigCmd, MAX_FDS, ROOT_SLOT, Step};
use crate::error::{Error, Result};
use crate::mount::MountKind;

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u32 = 0x2;
const MOUNT_ATTR_NODEV: u32 = 0x4;
const MOUNT_ATTR_NOEXEC: u32 = 0x8;

/// The device nodes of [`Mount::dev`](crate::Mount::dev), bound from the host.
const DEV_NODES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// The steps and what the child needs to run them.
pub(crate) struct Plan {
    pub steps: Vec<Step>,
    pub labels: Vec<String>,
    pub slots: Vec<RawFd>,
    /// Strings `argv`/`envp` point into; alive as long as the plan.
    _strings: Vec<CString>,
}

/// An idmapped bind the parent prepares once the user namespace exists.
pub(crate) struct IdmappedBind {
    pub source: CString,
    pub recursive: bool,
    pub read_only: bool,
    pub label: String,
}

/// Pieces of the spawn the parent handles itself.
pub(crate) struct ParentWork {
    pub idmapped: Vec<IdmappedBind>,
}

/// A container path split into checked components.
#[derive(Debug)]
struct InnerPath {
    components: Vec<CString>,
    shown: String,
}

impl InnerPath {
    fn parse(path: &Path, what: &str) -> Result<InnerPath> {
        let shown = path.display().to_string();
        if !path.is_absolute() {
            return Err(Error::invalid(
                format!("{what} {shown:?}"),
                "a path inside the container must be absolute",
            ));
        }
        let mut components = Vec::new();
        for c in path.components() {
            match c {
                Component::RootDir | Component::CurDir => {}
                Component::Normal(name) => components.push(cstring(name, what)?),
                Component::ParentDir | Component::Prefix(_) => {
                    return Err(Error::invalid(
                        format!("{what} {shown:?}"),
                        "\"..\" is not allowed in a path inside the container",
                    ));
                }
            }
        }
        Ok(InnerPath { components, shown })
    }

    fn join(parts: &[CString]) -> CString {
        let mut v = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                v.push(b'/');
            }
            v.extend_from_slice(p.as_bytes());
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
}

fn cstring(s: impl AsRef<OsStr>, what: &str) -> Result<CString> {
    CString::new(s.as_ref().as_bytes()).map_err(|_| {
        Error::invalid(
            format!("{what} {}", crate::validate::shown(s.as_ref())),
            "contains a NUL byte",
        )
    })
}

struct Builder {
    steps: Vec<Step>,
    labels: Vec<String>,
    nslots: usize,
    dirs: HashSet<Vec<u8>>,
    /// The root is a host directory whose mount points usually exist: a target
    /// directory is created only when opening it fails (saves three syscalls each).
    lazy_targets: bool,
}

impl Builder {
    fn push(&mut self, step: Step, label: impl Into<String>) {
        self.steps.push(step);
        self.labels.push(label.into());
    }

    fn slot(&mut self) -> usize {
        self.nslots += 1;
        self.nslots - 1
    }

    /// `mkdir -p` of the first `depth` components of `path`, inside the root.
    fn dirs(&mut self, path: &InnerPath, depth: usize) {
        for i in 1..=depth.min(path.components.len()) {
            let prefix = InnerPath::join(&path.components[..i]);
            if !self.dirs.insert(prefix.as_bytes().to_vec()) {
                continue;
            }
            let label = format!("create directory /{} in the root", prefix.to_string_lossy());
            self.push(
                Step::Mkdir {
                    parent: InnerPath::join(&path.components[..i - 1]),
                    name: path.components[i - 1].clone(),
                    mode: 0o755,
                },
                label,
            );
        }
    }

    /// Attaches the mount in `slot` on the directory `target`, creating it (and its
    /// parents) inside the root if needed.
    fn attach_dir(&mut self, slot: usize, target: &InnerPath, label: String) {
        let n = target.components.len();
        let create = if self.lazy_targets && !self.dirs.contains(target.relative().as_bytes()) {
            self.dirs(target, n.saturating_sub(1));
            target
                .parent_and_name()
                .map(|(parent, name)| (parent, name, 0o755))
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

    fn new_fs(
        &mut self,
        fstype: &str,
        options: &[(&str, Option<String>)],
        attr: u32,
        shown: &str,
    ) -> usize {
        let slot = self.slot();
        let fstype_c = CString::new(fstype).unwrap_or_default();
        self.push(
            Step::FsOpen {
                fstype: fstype_c,
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
                    cmd: if value.is_some() {
                        FsConfigCmd::String
                    } else {
                        FsConfigCmd::Flag
                    },
                    key: CString::new(*key).unwrap_or_default(),
                    value: value
                        .as_ref()
                        .map(|v| CString::new(v.as_str()).unwrap_or_default()),
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

/// The last capability number of this kernel (`/proc/sys/kernel/cap_last_cap`).
fn last_cap() -> u32 {
    static LAST: OnceLock<u32> = OnceLock::new();
    *LAST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(40)
    })
}

/// The environment the program gets.
fn environment(b: &ContainerBuilder) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = if b.env_clear {
        Vec::new()
    } else {
        std::env::vars_os().collect()
    };
    for (k, v) in &b.env {
        env.retain(|(key, _)| key != k);
        if let Some(v) = v {
            env.push((k.clone(), v.clone()));
        }
    }
    env
}

/// The paths `execve` tries: the program itself if it has a slash, else each entry
/// of the container's `PATH` (or a default one).
fn exec_candidates(program: &OsStr, env: &[(OsString, OsString)]) -> Result<Vec<CString>> {
    if program.is_empty() {
        return Err(Error::invalid("program \"\"", "the program name is empty"));
    }
    if program.as_bytes().contains(&b'/') {
        return Ok(vec![cstring(program, "program")?]);
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_bytes().to_vec())
        .unwrap_or_else(|| {
            b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_vec()
        });
    let mut out = Vec::new();
    for dir in path.split(|&c| c == b':') {
        let dir = if dir.is_empty() { &b"."[..] } else { dir };
        let mut full = dir.to_vec();
        full.push(b'/');
        full.extend_from_slice(program.as_bytes());
        out.push(cstring(OsStr::from_bytes(&full), "program")?);
    }
    Ok(out)
}

/// The label of the exec step: where the program was looked for.
fn exec_label(program: &OsStr, env: &[(OsString, OsString)], in_root: bool) -> String {
    let shown = crate::validate::shown(program);
    let place = if in_root {
        "inside the container's root"
    } else {
        "on the host's filesystem (the container has no root of its own)"
    };
    if program.as_bytes().contains(&b'/') {
        return format!("execve({shown}), looked up {place}");
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| crate::validate::shown(v))
        .unwrap_or_else(|| "(the default PATH)".into());
    format!("execve({shown}), looked up in PATH {path} {place}")
}

/// Inputs of [`prepare`] that are fds the parent created.
pub(crate) struct SpawnFds {
    pub sync_r: Option<RawFd>,
    pub listener_sock: Option<RawFd>,
    pub tree_sock: Option<RawFd>,
    pub dev_null: Option<RawFd>,
    /// Child ends of piped stdio, by stream.
    pub piped: [Option<RawFd>; 3],
    /// `Some(setgroups allowed)` when the child becomes root inside (0 mapped).
    pub become_root: Option<bool>,
}

/// Builds the child's steps. `b` keeps ownership of passed fds (their raw numbers
/// go into the plan).
pub(crate) fn prepare(
    b: &ContainerBuilder,
    fds: &SpawnFds,
    seccomp: Option<(
        linception_seccomp_notify::Program,
        linception_seccomp_notify::FilterFlags,
    )>,
) -> Result<(Plan, ParentWork)> {
    let ns = b.effective_namespaces();
    let mut p = Builder {
        steps: Vec::new(),
        labels: Vec::new(),
        nslots: 1, // ROOT_SLOT
        dirs: HashSet::new(),
        lazy_targets: matches!(b.root, Some(RootFs::Dir(_))),
    };
    let mut parent = ParentWork {
        idmapped: Vec::new(),
    };

    p.push(Step::UnblockSignals, "reset SIGPIPE and unblock signals");
    if let Some(fd) = fds.sync_r {
        p.push(
            Step::WaitForParent { fd },
            "wait for the parent to write the id maps",
        );
    }
    if let Some(setgroups_allowed) = fds.become_root {
        if setgroups_allowed {
            p.push(
                Step::SetGroups { groups: Vec::new() },
                "setgroups([]) (drop the host's supplementary groups)",
            );
        }
        p.push(
            Step::SetGid { gid: 0 },
            "setresgid(0, 0, 0) (become root inside)",
        );
        p.push(
            Step::SetUid { uid: 0 },
            "setresuid(0, 0, 0) (become root inside)",
        );
    }
    if ns.contains(crate::Namespaces::TIME) {
        let (ms, mn) = b.monotonic_offset.unwrap_or((0, 0));
        let (bs, bn) = b.boottime_offset.unwrap_or((0, 0));
        if mn >= 1_000_000_000 || bn >= 1_000_000_000 {
            return Err(Error::invalid(
                "time namespace offset nanoseconds",
                "must be below 1_000_000_000",
            ));
        }
        let offsets = format!("monotonic {ms} {mn}\nboottime {bs} {bn}\n").into_bytes();
        p.push(
            Step::TimeNamespace { offsets },
            format!(
                "unshare(CLONE_NEWTIME) and write timens_offsets (monotonic {ms}s, boottime {bs}s)"
            ),
        );
    }

    // --- filesystem ---
    if (b.root.is_some() || !b.mounts.is_empty()) && !ns.contains(crate::Namespaces::MOUNT) {
        return Err(Error::invalid(
            "root/mounts without Namespaces::MOUNT",
            "a root filesystem and mounts need a new mount namespace",
        ));
    }
    if !b.mounts.is_empty() && b.root.is_none() {
        return Err(Error::invalid(
            "mounts without a root",
            "mounts are made inside the container's root: set one with root()",
        ));
    }
    if ns.contains(crate::Namespaces::MOUNT) {
        p.push(
            Step::PrivateRoot,
            "make the mount tree private (mount_setattr(\"/\", AT_RECURSIVE, MS_PRIVATE))",
        );
    }
    if let Some(root) = &b.root {
        // Phase 1: take every bind source while the host tree is still in view.
        let mut bind_slots = Vec::new();
        for m in &b.mounts {
            match &m.kind {
                MountKind::Bind {
                    source,
                    recursive,
                    idmapped,
                } => {
                    let read_only = &m.read_only;
                    let target = InnerPath::parse(&m.target, "mount target")?;
                    let src = cstring(source, "bind source")?;
                    let slot = p.slot();
                    let what = format!("bind {} on {}", source.display(), target.shown);
                    if *idmapped {
                        let sock = fds.tree_sock.ok_or_else(|| {
                            Error::invalid(
                                format!("idmapped {what}"),
                                "an idmapped bind needs Namespaces::USER",
                            )
                        })?;
                        parent.idmapped.push(IdmappedBind {
                            source: src,
                            recursive: *recursive,
                            read_only: *read_only,
                            label: what.clone(),
                        });
                        p.push(
                            Step::ReceiveTree { sock, slot },
                            format!("{what}: receive the idmapped mount from the parent"),
                        );
                    } else {
                        p.push(
                            Step::OpenTree {
                                source: src,
                                recursive: *recursive,
                                slot,
                            },
                            format!("{what}: open_tree({:?}, OPEN_TREE_CLONE)", source),
                        );
                        if *read_only {
                            p.push(
                                Step::SetAttr {
                                    slot,
                                    recursive: *recursive,
                                    set: MOUNT_ATTR_RDONLY,
                                },
                                format!("{what}: mount_setattr(MOUNT_ATTR_RDONLY)"),
                            );
                        }
                    }
                    bind_slots.push(slot);
                }
                MountKind::Dev => {
                    for node in DEV_NODES {
                        let slot = p.slot();
                        p.push(
                            Step::OpenTree {
                                source: CString::new(format!("/dev/{node}")).unwrap_or_default(),
                                recursive: false,
                                slot,
                            },
                            format!(
                                "bind /dev/{node}: open_tree(\"/dev/{node}\", OPEN_TREE_CLONE)"
                            ),
                        );
                        bind_slots.push(slot);
                    }
                }
                _ => {}
            }
        }

        // Phase 2: the root mount, attached so that pivot_root can use it.
        match root {
            RootFs::Tmpfs => {
                p.push(
                    Step::FsOpen {
                        fstype: c"tmpfs".to_owned(),
                        slot: ROOT_SLOT,
                    },
                    "mount tmpfs as the root: fsopen(\"tmpfs\")",
                );
                p.push(
                    Step::FsConfig {
                        slot: ROOT_SLOT,
                        cmd: FsConfigCmd::String,
                        key: c"mode".to_owned(),
                        value: Some(c"0755".to_owned()),
                    },
                    "mount tmpfs as the root: fsconfig mode=0755",
                );
                p.push(
                    Step::FsMount {
                        slot: ROOT_SLOT,
                        attr: 0,
                    },
                    "mount tmpfs as the root: fsmount",
                );
                let at = if Path::new("/tmp").is_dir() {
                    "/tmp"
                } else {
                    "/"
                };
                p.push(
                    Step::AttachAtHost {
                        slot: ROOT_SLOT,
                        path: CString::new(at).unwrap_or_default(),
                    },
                    format!("mount tmpfs as the root: move_mount onto {at}"),
                );
            }
            RootFs::Dir(dir) => {
                let c = cstring(dir, "root directory")?;
                p.push(
                    Step::OpenTree {
                        source: c.clone(),
                        recursive: true,
                        slot: ROOT_SLOT,
                    },
                    format!("bind the root {}: open_tree", dir.display()),
                );
                p.push(
                    Step::AttachAtHost {
                        slot: ROOT_SLOT,
                        path: c,
                    },
                    format!("bind the root {} onto itself", dir.display()),
                );
            }
        }

        // Phase 3: every mount, in order, inside the root.
        let mut bind_slots = bind_slots.into_iter();
        for m in &b.mounts {
            let target = InnerPath::parse(&m.target, "mount target")?;
            let n = target.components.len();
            match &m.kind {
                MountKind::Bind { source, .. } => {
                    let slot = bind_slots.next().unwrap_or(usize::MAX);
                    let is_dir = std::fs::metadata(source).map_or(true, |md| md.is_dir());
                    if n == 0 {
                        return Err(Error::invalid(
                            format!("mount target {:?}", target.shown),
                            "cannot mount on the root itself; use root()",
                        ));
                    }
                    let label = format!("bind {} on {}", source.display(), target.shown);
                    if is_dir {
                        p.attach_dir(slot, &target, label);
                    } else {
                        p.dirs(&target, n - 1);
                        if let Some((parent_dir, name)) = target.parent_and_name() {
                            p.push(
                                Step::Mkfile {
                                    parent: parent_dir,
                                    name,
                                },
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
                MountKind::Tmpfs { size, mode } => {
                    let mut opts = Vec::new();
                    if let Some(size) = size {
                        opts.push(("size", Some(size.to_string())));
                    }
                    if let Some(mode) = mode {
                        opts.push(("mode", Some(format!("{mode:o}"))));
                    }
                    opts.extend(m.options.iter().map(|(k, v)| (k.as_str(), v.clone())));
                    let slot = p.new_fs(
                        "tmpfs",
                        &opts,
                        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | rdonly(m.read_only),
                        &target.shown,
                    );
                    p.attach_dir(slot, &target, format!("mount tmpfs on {}", target.shown));
                }
                MountKind::Proc { pid_subset } => {
                    let mut opts: Vec<(&str, Option<String>)> = Vec::new();
                    if *pid_subset {
                        opts.push(("subset", Some(String::from("pid"))));
                    }
                    opts.extend(m.options.iter().map(|(k, v)| (k.as_str(), v.clone())));
                    let slot = p.new_fs(
                        "proc",
                        &opts,
                        MOUNT_ATTR_NOSUID
                            | MOUNT_ATTR_NODEV
                            | MOUNT_ATTR_NOEXEC
                            | rdonly(m.read_only),
                        &target.shown,
                    );
                    p.attach_dir(slot, &target, format!("mount proc on {}", target.shown));
                }
                MountKind::Dev => {
                    let slot = p.new_fs(
                        "tmpfs",
                        &[("mode", Some("755".into())), ("size", Some("65536".into()))],
                        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
                        &target.shown,
                    );
                    p.attach_dir(slot, &target, format!("mount tmpfs on {}", target.shown));
                    let dev = target.relative();
                    for node in DEV_NODES {
                        let slot = bind_slots.next().unwrap_or(usize::MAX);
                        let shown = format!("{}/{node}", target.shown.trim_end_matches('/'));
                        p.push(
                            Step::Mkfile {
                                parent: dev.clone(),
                                name: CString::new(node).unwrap_or_default(),
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
                    let pts_shown = format!("{}/pts", target.shown.trim_end_matches('/'));
                    p.push(
                        Step::Mkdir {
                            parent: dev.clone(),
                            name: c"pts".to_owned(),
                            mode: 0o755,
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
                        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
                        &pts_shown,
                    );
                    p.push(
                        Step::Attach {
                            slot,
                            target: join_rel(&dev, "pts"),
                            create: None,
                        },
                        format!("mount devpts on {pts_shown}"),
                    );
                    for (name, to) in [
                        ("ptmx", "pts/ptmx"),
                        ("fd", "/proc/self/fd"),
                        ("stdin", "/proc/self/fd/0"),
                        ("stdout", "/proc/self/fd/1"),
                        ("stderr", "/proc/self/fd/2"),
                    ] {
                        p.push(
                            Step::Symlink {
                                parent: dev.clone(),
                                name: CString::new(name).unwrap_or_default(),
                                points_to: CString::new(to).unwrap_or_default(),
                            },
                            format!(
                                "create symlink {}/{name} -> {to}",
                                target.shown.trim_end_matches('/')
                            ),
                        );
                    }
                }
                MountKind::Filesystem { fstype } => {
                    let opts: Vec<(&str, Option<String>)> = m
                        .options
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.clone()))
                        .collect();
                    let slot = p.new_fs(
                        fstype,
                        &opts,
                        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | rdonly(m.read_only),
                        &target.shown,
                    );
                    p.attach_dir(slot, &target, format!("mount {fstype} on {}", target.shown));
                }
                MountKind::Symlink { points_to } => {
                    let Some((parent_dir, name)) = target.parent_and_name() else {
                        return Err(Error::invalid(
                            "symlink path \"/\"",
                            "the root cannot be a symlink",
                        ));
                    };
                    p.dirs(&target, n - 1);
                    p.push(
                        Step::Symlink {
                            parent: parent_dir,
                            name,
                            points_to: cstring(points_to, "symlink content")?,
                        },
                        format!("create symlink {} -> {}", target.shown, points_to.display()),
                    );
                }
                MountKind::Dir { mode } => {
                    if n > 0 {
                        p.dirs(&target, n - 1);
                        if let Some((parent_dir, name)) = target.parent_and_name() {
                            p.dirs.insert(target.relative().as_bytes().to_vec());
                            p.push(
                                Step::Mkdir {
                                    parent: parent_dir,
                                    name,
                                    mode: *mode,
                                },
                                format!("create directory {} in the root", target.shown),
                            );
                        }
                    }
                }
            }
        }
        if b.read_only_root {
            p.push(
                Step::SetAttr {
                    slot: ROOT_SLOT,
                    recursive: false,
                    set: MOUNT_ATTR_RDONLY,
                },
                "make the root read-only: mount_setattr(MOUNT_ATTR_RDONLY)",
            );
        }
        p.push(
            Step::PivotRoot,
            "pivot_root into the new root and detach the old one",
        );
    }

    // --- identity ---
    if let Some(name) = &b.hostname {
        if !ns.contains(crate::Namespaces::UTS) {
            return Err(Error::invalid(
                format!("hostname {name:?}"),
                "setting a hostname needs Namespaces::UTS (it would change the host's)",
            ));
        }
        if name.len() > 64 {
            return Err(Error::invalid(
                format!("hostname {name:?}"),
                "longer than 64 bytes (HOST_NAME_MAX)",
            ));
        }
        let c = cstring(name, "hostname")?;
        p.push(
            Step::Hostname { name: c },
            format!("sethostname({})", crate::validate::shown(name)),
        );
    }
    let strings = push_process_tail(&mut p, b, fds, seccomp, b.root.is_some())?;
    let slots = vec![-1; p.nslots];
    Ok((
        Plan {
            steps: p.steps,
            labels: p.labels,
            slots,
            _strings: strings,
        },
        parent,
    ))
}

/// The steps every process gets, container init or [`exec_in`](crate::Container::exec_in):
/// keyring, identity, capabilities, cwd, no_new_privs, fds, seccomp, execve.
/// Returns the strings `argv`/`envp` point into. `in_root`: the program is looked
/// up inside the container's own root (said in the step's label, so that a missing
/// program is not mistaken for a missing host file).
fn push_process_tail(
    p: &mut Builder,
    b: &ContainerBuilder,
    fds: &SpawnFds,
    seccomp: Option<(
        linception_seccomp_notify::Program,
        linception_seccomp_notify::FilterFlags,
    )>,
    in_root: bool,
) -> Result<Vec<CString>> {
    if let Some(keyring) = &b.keyring {
        let name = match keyring {
            SessionKeyring::Anonymous => None,
            SessionKeyring::Named(n) => {
                if n.starts_with('.') {
                    return Err(Error::invalid(
                        format!("session keyring name {n:?}"),
                        "names starting with \".\" are reserved to the kernel",
                    ));
                }
                Some(cstring(n, "session keyring name")?)
            }
        };
        let shown = match keyring {
            SessionKeyring::Anonymous => "NULL".to_owned(),
            SessionKeyring::Named(n) => format!("{n:?}"),
        };
        p.push(
            Step::JoinKeyring { name },
            format!("keyctl(KEYCTL_JOIN_SESSION_KEYRING, {shown})"),
        );
    }
    if let Some(caps) = &b.capabilities {
        p.push(
            Step::DropBounding {
                keep: caps.bounding.bits(),
                last_cap: last_cap(),
            },
            format!("prctl(PR_CAPBSET_DROP) down to {:?}", caps.bounding),
        );
        if b.uid.is_some_and(|u| u != 0) {
            p.push(Step::KeepCaps, "prctl(PR_SET_KEEPCAPS, 1)");
        }
    }
    if let Some(groups) = &b.groups {
        p.push(
            Step::SetGroups {
                groups: groups.clone(),
            },
            format!("setgroups({})", crate::validate::summary(groups)),
        );
    }
    if let Some(gid) = b.gid {
        p.push(
            Step::SetGid { gid },
            format!("setresgid({gid}, {gid}, {gid})"),
        );
    }
    if let Some(uid) = b.uid {
        p.push(
            Step::SetUid { uid },
            format!("setresuid({uid}, {uid}, {uid})"),
        );
    }
    if let Some(caps) = &b.capabilities {
        p.push(
            Step::Capset {
                effective: caps.effective.bits(),
                permitted: caps.permitted.bits(),
                inheritable: caps.inheritable.bits(),
            },
            format!(
                "capset(effective {:?}, permitted {:?}, inheritable {:?})",
                caps.effective, caps.permitted, caps.inheritable
            ),
        );
        if !caps.ambient.is_empty() {
            p.push(
                Step::Ambient {
                    set: caps.ambient.bits(),
                },
                format!("prctl(PR_CAP_AMBIENT_RAISE) of {:?}", caps.ambient),
            );
        }
    }
    if let Some(cwd) = &b.cwd {
        p.push(
            Step::Chdir {
                path: cstring(cwd, "working directory")?,
            },
            format!("chdir({:?})", cwd),
        );
    }
    if b.no_new_privs {
        p.push(Step::NoNewPrivs, "prctl(PR_SET_NO_NEW_PRIVS, 1)");
    }

    // --- fds ---
    let mut moves: Vec<(RawFd, RawFd)> = Vec::new();
    for (n, s) in b.stdio.iter().enumerate() {
        let source = match s {
            Stdio::Inherit => continue,
            Stdio::Null => fds.dev_null,
            Stdio::Piped => fds.piped[n],
            Stdio::Fd(fd) => Some(fd.as_raw_fd()),
        };
        if let Some(source) = source {
            moves.push((source, n as RawFd));
        }
    }
    let mut targets: Vec<RawFd> = Vec::new();
    for (target, fd) in &b.fds {
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
        moves.push((fd.as_raw_fd(), *target));
    }
    if moves.len() > MAX_FDS {
        return Err(Error::invalid(
            format!("{} passed fds", moves.len()),
            "at most 256 fds can be passed",
        ));
    }
    targets.sort_unstable();
    let ranges = cloexec_ranges(&targets);
    let high = targets.last().copied().unwrap_or(2).max(2) + 1;
    let shown: Vec<String> = moves.iter().map(|(s, t)| format!("{s}->{t}")).collect();
    p.push(
        Step::Fds {
            moves,
            high,
            cloexec_ranges: ranges,
        },
        format!(
            "set up fds [{}] and close_range(3.., CLOSE_RANGE_CLOEXEC) the rest",
            shown.join(", ")
        ),
    );

    // --- seccomp, last before exec ---
    if let Some((program, flags)) = seccomp {
        let len = program.len();
        p.push(
            Step::Seccomp {
                program,
                flags,
                listener_sock: fds.listener_sock,
            },
            format!(
                "seccomp(SECCOMP_SET_MODE_FILTER, {flags:?}, {len} instructions){}",
                if fds.listener_sock.is_some() {
                    " and send the listener to the parent"
                } else {
                    ""
                }
            ),
        );
    }

    // --- exec ---
    let env = environment(b);
    let candidates = exec_candidates(&b.program, &env)?;
    let mut strings = Vec::new();
    strings.push(cstring(&b.program, "program")?);
    for a in &b.args {
        strings.push(cstring(a, "argument")?);
    }
    let argc = strings.len();
    for (k, v) in &env {
        if k.is_empty() || k.as_bytes().contains(&b'=') {
            return Err(Error::invalid(
                format!("environment variable name {k:?}"),
                "empty or contains '='",
            ));
        }
        let mut kv = k.as_bytes().to_vec();
        kv.push(b'=');
        kv.extend_from_slice(v.as_bytes());
        strings.push(cstring(OsStr::from_bytes(&kv), "environment variable")?);
    }
    let mut argv: Vec<*const c_char> = strings[..argc].iter().map(|s| s.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const c_char> = strings[argc..].iter().map(|s| s.as_ptr()).collect();
    envp.push(std::ptr::null());
    p.push(
        Step::Exec {
            candidates,
            argv,
            envp,
        },
        exec_label(&b.program, &env, in_root),
    );

    Ok(strings)
}

/// The steps of [`Container::exec_in`](crate::Container::exec_in): join the
/// container's namespaces through its pidfd, fork into the caller's children
/// (`CLONE_PARENT`, the helper sends the new pidfd and exits), then the usual tail.
pub(crate) fn prepare_exec_in(
    b: &ContainerBuilder,
    fds: &SpawnFds,
    seccomp: Option<(
        linception_seccomp_notify::Program,
        linception_seccomp_notify::FilterFlags,
    )>,
    target_pidfd: RawFd,
    namespaces: crate::Namespaces,
    pidfd_sock: RawFd,
    root_mapped: bool,
) -> Result<Plan> {
    let mut p = Builder {
        steps: Vec::new(),
        labels: Vec::new(),
        nslots: 1,
        dirs: HashSet::new(),
        lazy_targets: false,
    };
    p.push(Step::UnblockSignals, "reset SIGPIPE and unblock signals");
    p.push(
        Step::JoinNamespaces {
            pidfd: target_pidfd,
            flags: namespaces.bits() as libc::c_int,
        },
        format!("setns(pidfd {target_pidfd}, {namespaces:?})"),
    );
    p.push(
        Step::ForkIntoParent { sock: pidfd_sock },
        "clone3(CLONE_PARENT | CLONE_PIDFD) into the joined pid namespace",
    );
    // A joined user namespace starts the program as its root (the
    // caller's ids may not be mapped there), unless uid()/gid() say otherwise.
    if root_mapped {
        if b.gid.is_none() {
            p.push(
                Step::SetGid { gid: 0 },
                "setresgid(0, 0, 0) (root of the joined user namespace)",
            );
        }
        if b.uid.is_none() {
            p.push(
                Step::SetUid { uid: 0 },
                "setresuid(0, 0, 0) (root of the joined user namespace)",
            );
        }
    }
    let strings = push_process_tail(&mut p, b, fds, seccomp, true)?;
    Ok(Plan {
        steps: p.steps,
        labels: p.labels,
        slots: vec![-1; p.nslots],
        _strings: strings,
    })
}

/// The fd ranges from 3 up that are not passed targets (`targets` sorted, >= 3).
fn cloexec_ranges(targets: &[RawFd]) -> Vec<(u32, u32)> {
    let mut ranges = Vec::new();
    let mut next: u32 = 3;
    for &t in targets {
        let t = t as u32;
        if t > next {
            ranges.push((next, t - 1));
        }
        next = t + 1;
    }
    ranges.push((next, u32::MAX));
    ranges
}

/// `MOUNT_ATTR_RDONLY` for a new filesystem's `fsmount`, when asked for.
fn rdonly(read_only: bool) -> u32 {
    if read_only {
        MOUNT_ATTR_RDONLY as u32
    } else {
        0
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloexec_ranges_skip_exactly_the_targets() {
        assert_eq!(cloexec_ranges(&[]), [(3, u32::MAX)]);
        assert_eq!(cloexec_ranges(&[3]), [(4, u32::MAX)]);
        assert_eq!(cloexec_ranges(&[3, 4, 9]), [(5, 8), (10, u32::MAX)]);
        assert_eq!(cloexec_ranges(&[7]), [(3, 6), (8, u32::MAX)]);
    }

    #[test]
    fn inner_paths_are_checked_and_split() {
        let p = InnerPath::parse(Path::new("/usr//lib/./x"), "mount target").unwrap();
        assert_eq!(p.relative().as_bytes(), b"usr/lib/x");
        let (parent, name) = p.parent_and_name().unwrap();
        assert_eq!(
            (parent.as_bytes(), name.as_bytes()),
            (&b"usr/lib"[..], &b"x"[..])
        );
        let root = InnerPath::parse(Path::new("/"), "mount target").unwrap();
        assert!(root.parent_and_name().is_none());
        let e = InnerPath::parse(Path::new("/a/../b"), "mount target").unwrap_err();
        assert!(e.to_string().contains("mount target \"/a/../b\""), "{e}");
        let e = InnerPath::parse(Path::new("rel"), "symlink path").unwrap_err();
        assert!(e.to_string().contains("must be absolute"), "{e}");
    }

    #[test]
    fn exec_candidates_follow_the_containers_path() {
        let env = vec![(OsString::from("PATH"), OsString::from("/a:/b/c"))];
        let c = exec_candidates(OsStr::new("prog"), &env).unwrap();
        let c: Vec<&[u8]> = c.iter().map(|c| c.as_bytes()).collect();
        assert_eq!(c, [&b"/a/prog"[..], &b"/b/c/prog"[..]]);
        let c = exec_candidates(OsStr::new("./x"), &env).unwrap();
        assert_eq!(c[0].as_bytes(), b"./x");
        let c = exec_candidates(OsStr::new("sh"), &[]).unwrap();
        assert!(c.iter().any(|c| c.as_bytes() == b"/bin/sh"));
        assert!(exec_candidates(OsStr::new(""), &env).is_err());
    }

    #[test]
    fn every_step_has_a_label() {
        let b = crate::Container::builder("/bin/true")
            .namespaces(crate::Namespaces::USER | crate::Namespaces::MOUNT)
            .root(RootFs::Tmpfs)
            .mount(crate::Mount::proc("/proc").pid_subset())
            .mount(crate::Mount::dev("/dev"));
        let fds = SpawnFds {
            sync_r: Some(10),
            listener_sock: None,
            tree_sock: None,
            dev_null: None,
            piped: [None; 3],
            become_root: None,
        };
        let (plan, _) = prepare(&b, &fds, None).unwrap();
        assert_eq!(plan.steps.len(), plan.labels.len());
        assert!(plan.labels.iter().any(|l| l == "mount proc on /proc"));
        assert!(
            plan.labels
                .iter()
                .any(|l| l == "mount proc on /proc: fsconfig subset=pid")
        );
        assert!(
            plan.labels
                .iter()
                .any(|l| l == "bind /dev/null on /dev/null")
        );
        assert!(matches!(plan.steps.last(), Some(Step::Exec { .. })));
        assert!(matches!(plan.steps[1], Step::WaitForParent { fd: 10 }));
    }
}
