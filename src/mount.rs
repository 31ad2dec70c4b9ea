//! Mounts inside the container's root.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use linception_mountapi::Propagation;

/// One mount made inside the container's root before the program starts.
///
/// Targets are paths inside the container (`"/usr"`); missing directories (or, for a
/// bind of a file, the file) are created inside the root with `openat2`'s
/// `RESOLVE_IN_ROOT`, so a symlink in the root can never lead outside it.
///
/// ```
/// use linception::Mount;
/// let usr = Mount::bind("/usr", "/usr").read_only().recursive();
/// let proc = Mount::proc("/proc").pid_subset();
/// let tmp = Mount::tmpfs("/tmp").size(1 << 20);
/// # let _ = (usr, proc, tmp);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub(crate) kind: MountKind,
    pub(crate) target: PathBuf,
    /// `MOUNT_ATTR_RDONLY` (binds and new filesystems).
    pub(crate) read_only: bool,
    /// `fsconfig` options of a new filesystem (tmpfs, proc, any type), in order.
    pub(crate) options: Vec<(String, Option<String>)>,
    /// The mount's propagation type (binds and new filesystems).
    pub(crate) propagation: Option<Propagation>,
    /// Setters called on a kind of mount they do not apply to: refused by the
    /// spawn, never ignored.
    pub(crate) misapplied: Vec<&'static str>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum MountKind {
    Bind {
        source: PathBuf,
        recursive: bool,
        idmapped: bool,
    },
    Tmpfs {
        size: Option<u64>,
        mode: Option<u32>,
    },
    Proc {
        pid_subset: bool,
    },
    Dev,
    Filesystem {
        fstype: String,
    },
    Symlink {
        points_to: PathBuf,
    },
    Dir {
        mode: u32,
    },
}

impl MountKind {
    /// How the kind is named in messages.
    pub(crate) fn name(&self) -> &str {
        match self {
            MountKind::Bind { .. } => "bind",
            MountKind::Tmpfs { .. } => "tmpfs",
            MountKind::Proc { .. } => "proc",
            MountKind::Dev => "dev",
            MountKind::Filesystem { fstype } => fstype,
            MountKind::Symlink { .. } => "symlink",
            MountKind::Dir { .. } => "dir",
        }
    }

    /// A new filesystem instance (`fsopen` .. `fsmount`), which takes options.
    fn takes_options(&self) -> bool {
        matches!(
            self,
            MountKind::Tmpfs { .. } | MountKind::Proc { .. } | MountKind::Filesystem { .. }
        )
    }
}

impl Mount {
    fn new(kind: MountKind, target: &Path) -> Self {
        Mount {
            kind,
            target: target.to_owned(),
            read_only: false,
            options: Vec::new(),
            propagation: None,
            misapplied: Vec::new(),
        }
    }

    /// Records a setter that does not apply to this kind of mount.
    fn misapplied(mut self, setter: &'static str) -> Self {
        self.misapplied.push(setter);
        self
    }

    /// A bind mount of the host path `source` (taken with `open_tree(OPEN_TREE_CLONE)`
    /// before the root changes) on `target`.
    pub fn bind(source: impl AsRef<Path>, target: impl AsRef<Path>) -> Self {
        Mount::new(
            MountKind::Bind {
                source: source.as_ref().to_owned(),
                recursive: false,
                idmapped: false,
            },
            target.as_ref(),
        )
    }

    /// A new tmpfs on `target` (`nosuid`, `nodev`). Takes [`size`](Mount::size),
    /// [`mode`](Mount::mode), [`read_only`](Mount::read_only) and any tmpfs
    /// [`option`](Mount::option) (`nr_inodes`, `uid`, `huge`...).
    pub fn tmpfs(target: impl AsRef<Path>) -> Self {
        Mount::new(
            MountKind::Tmpfs {
                size: None,
                mode: None,
            },
            target.as_ref(),
        )
    }

    /// A new instance of proc on `target` for the container's pid namespace
    /// (`nosuid`, `nodev`, `noexec`); in a new user namespace it needs
    /// [`Namespaces::PID`](crate::Namespaces::PID) too, since only the owner of a pid
    /// namespace may mount its proc. Takes [`pid_subset`](Mount::pid_subset) and proc
    /// [`option`](Mount::option)s (`hidepid`, `gid`).
    pub fn proc(target: impl AsRef<Path>) -> Self {
        Mount::new(MountKind::Proc { pid_subset: false }, target.as_ref())
    }

    /// A minimal `/dev` on `target`, the OCI runtime default set: a tmpfs with binds
    /// of the host's `null`, `zero`, `full`, `random`, `urandom` and `tty`, a new
    /// devpts instance on `pts` with `ptmx` linking to it, a tmpfs on `shm` (mode
    /// `1777`, `nosuid`, `nodev`, `noexec`), the `fd`, `stdin`, `stdout`, `stderr`
    /// links, and a new mqueue on `mqueue` when the container has its own IPC
    /// namespace or no new user namespace (only the owner of an IPC namespace may
    /// mount its mqueue; it is left out otherwise). More nodes:
    /// [`ContainerBuilder::device`](crate::ContainerBuilder::device).
    pub fn dev(target: impl AsRef<Path>) -> Self {
        Mount::new(MountKind::Dev, target.as_ref())
    }

    /// A new instance of any filesystem type on `target` (`fsopen(fstype)`, then one
    /// `fsconfig` per [`option`](Mount::option)/[`flag`](Mount::flag), `fsmount`),
    /// e.g. `mqueue`, or `overlay` with `lowerdir`/`upperdir`/`workdir` (host paths,
    /// resolved before the root changes; overlay in a user namespace needs Linux
    /// 5.11). The kernel's message for a refused option comes back with the error.
    ///
    /// ```
    /// use linception::Mount;
    /// let mq = Mount::filesystem("mqueue", "/dev/mqueue");
    /// let small = Mount::filesystem("tmpfs", "/run").option("size", "1m").option("mode", "755");
    /// # let _ = (mq, small);
    /// ```
    pub fn filesystem(fstype: impl Into<String>, target: impl AsRef<Path>) -> Self {
        Mount::new(
            MountKind::Filesystem {
                fstype: fstype.into(),
            },
            target.as_ref(),
        )
    }

    /// A new filesystem (tmpfs, proc, [`filesystem`](Mount::filesystem)): a
    /// `key=value` option (`FSCONFIG_SET_STRING`), passed to the kernel as given; the
    /// kernel's message for a refused one comes back with the error. Refused by the
    /// spawn on binds, `/dev`, symlinks and directories.
    pub fn option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        if !self.kind.takes_options() {
            return self.misapplied("option()");
        }
        self.options.push((key.into(), Some(value.into())));
        self
    }

    /// A new filesystem: a flag option such as `noswap` (`FSCONFIG_SET_FLAG`).
    /// Refused by the spawn where [`option`](Mount::option) is.
    pub fn flag(mut self, key: impl Into<String>) -> Self {
        if !self.kind.takes_options() {
            return self.misapplied("flag()");
        }
        self.options.push((key.into(), None));
        self
    }

    /// A symbolic link at `path` whose content is `points_to` (e.g. `/bin` -> `usr/bin`
    /// on a merged-/usr system). Not a mount, but made in the same ordered sequence.
    pub fn symlink(points_to: impl AsRef<Path>, path: impl AsRef<Path>) -> Self {
        Mount::new(
            MountKind::Symlink {
                points_to: points_to.as_ref().to_owned(),
            },
            path.as_ref(),
        )
    }

    /// A directory at `path` (mode `0o755` before the umask), with its parents.
    pub fn dir(path: impl AsRef<Path>) -> Self {
        Mount::new(MountKind::Dir { mode: 0o755 }, path.as_ref())
    }

    /// Makes the mount read-only (`MOUNT_ATTR_RDONLY`): a bind (on every submount
    /// when recursive) or a new filesystem. Refused by the spawn on `/dev`, symlinks
    /// and directories.
    pub fn read_only(mut self) -> Self {
        if matches!(
            self.kind,
            MountKind::Dev | MountKind::Symlink { .. } | MountKind::Dir { .. }
        ) {
            return self.misapplied("read_only()");
        }
        self.read_only = true;
        self
    }

    /// The mount's propagation type (`mount_setattr`'s `propagation`, Linux 5.12),
    /// set on the new mount (on every mount of a recursive bind) before it is
    /// attached: [`Shared`](Propagation::Shared) gives it a peer group of its own
    /// (`shared:N` in `mountinfo`), [`Unbindable`](Propagation::Unbindable) forbids
    /// binding it, [`Private`](Propagation::Private) cuts a bind's source link.
    /// [`Slave`](Propagation::Slave) needs a master: only a bind, with
    /// [`root_propagation(Slave)`](crate::ContainerBuilder::root_propagation) (the
    /// copied tree being private otherwise), where it is what the bind gets anyway.
    /// Refused by the spawn on `/dev`, symlinks and directories.
    ///
    /// ```
    /// use linception::{Mount, Propagation};
    /// let shared = Mount::tmpfs("/shared").propagation(Propagation::Shared);
    /// # let _ = shared;
    /// ```
    pub fn propagation(mut self, propagation: Propagation) -> Self {
        if matches!(
            self.kind,
            MountKind::Dev | MountKind::Symlink { .. } | MountKind::Dir { .. }
        ) {
            return self.misapplied("propagation()");
        }
        self.propagation = Some(propagation);
        self
    }

    /// Bind: takes the mounts below `source` too (`AT_RECURSIVE`). Refused by the
    /// spawn on other kinds.
    pub fn recursive(mut self) -> Self {
        match &mut self.kind {
            MountKind::Bind { recursive, .. } => *recursive = true,
            _ => return self.misapplied("recursive()"),
        }
        self
    }

    /// Bind: an idmapped mount (`MOUNT_ATTR_IDMAP`) through the container's user
    /// namespace, so that files owned by the caller outside appear owned by their
    /// mapped ids inside (Linux 5.12). The caller needs `CAP_SYS_ADMIN` over the
    /// user namespace that owns the source's filesystem (for a host filesystem: real
    /// root), and the filesystem must support idmapped mounts. Refused by the spawn
    /// on other kinds.
    pub fn idmapped(mut self) -> Self {
        match &mut self.kind {
            MountKind::Bind { idmapped, .. } => *idmapped = true,
            _ => return self.misapplied("idmapped()"),
        }
        self
    }

    /// Tmpfs: its size limit in bytes. Refused by the spawn on other kinds.
    pub fn size(mut self, bytes: u64) -> Self {
        match &mut self.kind {
            MountKind::Tmpfs { size, .. } => *size = Some(bytes),
            _ => return self.misapplied("size()"),
        }
        self
    }

    /// Tmpfs: the mode of its root directory; dir: the mode of the directory (at
    /// most `0o7777`). Refused by the spawn on other kinds.
    pub fn mode(mut self, new_mode: u32) -> Self {
        match &mut self.kind {
            MountKind::Tmpfs { mode, .. } => *mode = Some(new_mode),
            MountKind::Dir { mode } => *mode = new_mode,
            _ => return self.misapplied("mode()"),
        }
        self
    }

    /// Proc: `subset=pid`, only the process directories (Linux 5.8). Refused by the
    /// spawn on other kinds.
    pub fn pid_subset(mut self) -> Self {
        match &mut self.kind {
            MountKind::Proc { pid_subset } => *pid_subset = true,
            _ => return self.misapplied("pid_subset()"),
        }
        self
    }

    /// The host's system directories, read-only, at the same paths: `/usr`, `/etc`,
    /// and each of `/bin`, `/sbin`, `/lib`, `/lib32`, `/lib64`, `/libx32` that exists.
    /// A top-level symlink (merged-/usr systems: `/bin -> usr/bin`) is recreated as the
    /// same symlink inside; a directory is bound recursively. Looks at the host when
    /// called.
    ///
    /// ```no_run
    /// use linception::{Container, Mount, Namespaces, RootFs};
    /// let c = Container::builder("/bin/true")
    ///     .namespaces(Namespaces::USER | Namespaces::MOUNT)
    ///     .root(RootFs::Tmpfs)
    ///     .mounts(Mount::host_system());
    /// # let _ = c;
    /// ```
    pub fn host_system() -> Vec<Mount> {
        let mut out = Vec::new();
        for dir in [
            "/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
        ] {
            let Ok(md) = std::fs::symlink_metadata(dir) else {
                continue;
            };
            if md.file_type().is_symlink() {
                if let Ok(to) = std::fs::read_link(dir) {
                    out.push(Mount::symlink(to, dir));
                }
            } else if md.is_dir() {
                out.push(Mount::bind(dir, dir).read_only().recursive());
            }
        }
        out
    }

    /// The target path inside the container.
    pub fn target(&self) -> &Path {
        &self.target
    }
}
