//! Mounts inside the container's root.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

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
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum MountKind {
    Bind {
        source: PathBuf,
        read_only: bool,
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
        options: Vec<(String, Option<String>)>,
    },
    Symlink {
        points_to: PathBuf,
    },
    Dir {
        mode: u32,
    },
}

impl Mount {
    /// A bind mount of the host path `source` (taken with `open_tree(OPEN_TREE_CLONE)`
    /// before the root changes) on `target`.
    pub fn bind(source: impl AsRef<Path>, target: impl AsRef<Path>) -> Self {
        Mount {
            kind: MountKind::Bind {
                source: source.as_ref().to_owned(),
                read_only: false,
                recursive: false,
                idmapped: false,
            },
            target: target.as_ref().to_owned(),
        }
    }

    /// A new tmpfs on `target`.
    pub fn tmpfs(target: impl AsRef<Path>) -> Self {
        Mount {
            kind: MountKind::Tmpfs {
                size: None,
                mode: None,
            },
            target: target.as_ref().to_owned(),
        }
    }

    /// A new instance of proc on `target` (for the container's pid namespace).
    pub fn proc(target: impl AsRef<Path>) -> Self {
        Mount {
            kind: MountKind::Proc { pid_subset: false },
            target: target.as_ref().to_owned(),
        }
    }

    /// A minimal `/dev` on `target`: a tmpfs with binds of the host's `null`, `zero`,
    /// `full`, `random`, `urandom` and `tty`, a new devpts instance on `pts` with
    /// `ptmx` linking to it, and the `fd`, `stdin`, `stdout`, `stderr` links.
    pub fn dev(target: impl AsRef<Path>) -> Self {
        Mount {
            kind: MountKind::Dev,
            target: target.as_ref().to_owned(),
        }
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
        Mount {
            kind: MountKind::Filesystem {
                fstype: fstype.into(),
                options: Vec::new(),
            },
            target: target.as_ref().to_owned(),
        }
    }

    /// Filesystem: a `key=value` option (`FSCONFIG_SET_STRING`).
    pub fn option(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        if let MountKind::Filesystem { options, .. } = &mut self.kind {
            options.push((key.into(), Some(value.into())));
        }
        self
    }

    /// Filesystem: a flag option such as `ro` (`FSCONFIG_SET_FLAG`).
    pub fn flag(mut self, key: impl Into<String>) -> Self {
        if let MountKind::Filesystem { options, .. } = &mut self.kind {
            options.push((key.into(), None));
        }
        self
    }

    /// A symbolic link at `path` whose content is `points_to` (e.g. `/bin` -> `usr/bin`
    /// on a merged-/usr system). Not a mount, but made in the same ordered sequence.
    pub fn symlink(points_to: impl AsRef<Path>, path: impl AsRef<Path>) -> Self {
        Mount {
            kind: MountKind::Symlink {
                points_to: points_to.as_ref().to_owned(),
            },
            target: path.as_ref().to_owned(),
        }
    }

    /// A directory at `path` (mode `0o755` before the umask), with its parents.
    pub fn dir(path: impl AsRef<Path>) -> Self {
        Mount {
            kind: MountKind::Dir { mode: 0o755 },
            target: path.as_ref().to_owned(),
        }
    }

    /// Bind: makes the mount read-only (`MOUNT_ATTR_RDONLY`, on every submount when
    /// recursive). No effect on other kinds.
    pub fn read_only(mut self) -> Self {
        if let MountKind::Bind { read_only, .. } = &mut self.kind {
            *read_only = true;
        }
        self
    }

    /// Bind: takes the mounts below `source` too (`AT_RECURSIVE`).
    pub fn recursive(mut self) -> Self {
        if let MountKind::Bind { recursive, .. } = &mut self.kind {
            *recursive = true;
        }
        self
    }

    /// Bind: an idmapped mount (`MOUNT_ATTR_IDMAP`) through the container's user
    /// namespace, so that files owned by the caller outside appear owned by their
    /// mapped ids inside (Linux 5.12; the caller must be privileged over the source's
    /// filesystem).
    pub fn idmapped(mut self) -> Self {
        if let MountKind::Bind { idmapped, .. } = &mut self.kind {
            *idmapped = true;
        }
        self
    }

    /// Tmpfs: its size limit in bytes.
    pub fn size(mut self, bytes: u64) -> Self {
        if let MountKind::Tmpfs { size, .. } = &mut self.kind {
            *size = Some(bytes);
        }
        self
    }

    /// Tmpfs: the mode of its root directory; dir: the mode of the directory.
    pub fn mode(mut self, new_mode: u32) -> Self {
        match &mut self.kind {
            MountKind::Tmpfs { mode, .. } => *mode = Some(new_mode),
            MountKind::Dir { mode } => *mode = new_mode,
            _ => {}
        }
        self
    }

    /// Proc: `subset=pid`, only the process directories (Linux 5.8).
    pub fn pid_subset(mut self) -> Self {
        if let MountKind::Proc { pid_subset } = &mut self.kind {
            *pid_subset = true;
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
