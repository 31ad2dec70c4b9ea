//! Mounts inside the container's root.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use linception_mountapi::{Atime, MountAttr, Propagation};

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
/// let tmp = Mount::tmpfs("/tmp").size(1 << 20).noexec();
/// # let _ = (usr, proc, tmp);
/// ```
///
/// # Mount attributes
///
/// Each mount's per-mount attributes (`MOUNT_ATTR_*`, what `mountinfo` shows in its
/// sixth field) are chosen here and applied through the new mount API: a new
/// filesystem gets them in `fsmount`'s `attr_flags`, a bind through `mount_setattr`
/// on its detached copy before it is attached. Safe by default:
///
/// | kind | default attributes |
/// |---|---|
/// | [`bind`](Mount::bind) | the source's (unchanged) |
/// | [`tmpfs`](Mount::tmpfs), [`filesystem`](Mount::filesystem) | `nosuid`, `nodev` |
/// | [`proc`](Mount::proc) | `nosuid`, `nodev`, `noexec` |
/// | [`dev`](Mount::dev)'s tmpfs | `nosuid`, `noexec` |
///
/// and the access-time mode is the kernel's default (`relatime`) for a new
/// filesystem, the source's for a bind. The choices: [`read_only`](Mount::read_only),
/// [`nosuid`](Mount::nosuid), [`nodev`](Mount::nodev), [`noexec`](Mount::noexec),
/// [`nodiratime`](Mount::nodiratime), [`nosymfollow`](Mount::nosymfollow) (or
/// several at once with [`attributes`](Mount::attributes)), the access-time mode with
/// [`atime`](Mount::atime); a default or a source's attribute is lifted only by an
/// explicit call: [`allow_suid`](Mount::allow_suid),
/// [`allow_devices`](Mount::allow_devices), [`allow_exec`](Mount::allow_exec),
/// [`clear_attributes`](Mount::clear_attributes). A [`recursive`](Mount::recursive)
/// bind's submounts are changed only through the `tree_*` forms
/// ([`tree_attributes`](Mount::tree_attributes),
/// [`clear_tree_attributes`](Mount::clear_tree_attributes),
/// [`tree_atime`](Mount::tree_atime): `mount_setattr(AT_RECURSIVE)`, applied before
/// the top mount's own choices) and by [`read_only`](Mount::read_only), which makes
/// the whole tree read-only.
///
/// ```
/// use linception::{Atime, Mount, MountAttr};
/// // A /run like an OCI runtime's default: exec allowed, strictatime.
/// let run = Mount::tmpfs("/run").mode(0o755).atime(Atime::StrictAtime);
/// // A recursive bind whose top is read-only and every mount nosuid and noexec.
/// let srv = Mount::bind("/srv", "/srv")
///     .recursive()
///     .attributes(MountAttr::RDONLY)
///     .tree_attributes(MountAttr::NOSUID | MountAttr::NOEXEC);
/// # let _ = (run, srv);
/// ```
///
/// Contradictory choices (`noexec()` with `allow_exec()`, two access-time modes)
/// are refused by the spawn, naming both, before anything is created.
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
    /// The attribute choices for the mount itself (a recursive bind's top mount).
    pub(crate) top: AttrChoice,
    /// A recursive bind: the choices for every mount of its tree.
    pub(crate) tree: AttrChoice,
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
        /// Starts with a copy of the root's directory at the target.
        copy_up: bool,
    },
    Proc {
        pid_subset: bool,
    },
    Dev {
        /// Whether the set includes its devpts, shm tmpfs and mqueue.
        submounts: bool,
    },
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
            MountKind::Dev { .. } => "dev",
            MountKind::Filesystem { fstype } => fstype,
            MountKind::Symlink { .. } => "symlink",
            MountKind::Dir { .. } => "dir",
        }
    }

    /// A new filesystem instance (`fsopen` .. `fsmount`), which takes options
    /// (`/dev`'s go to its tmpfs).
    fn takes_options(&self) -> bool {
        matches!(
            self,
            MountKind::Tmpfs { .. }
                | MountKind::Proc { .. }
                | MountKind::Filesystem { .. }
                | MountKind::Dev { .. }
        )
    }

    /// A mount (bind or new filesystem), which has attributes.
    fn has_attributes(&self) -> bool {
        !matches!(self, MountKind::Symlink { .. } | MountKind::Dir { .. })
    }

    /// The attributes a new filesystem of this kind gets unless told otherwise.
    pub(crate) fn default_attributes(&self) -> MountAttr {
        match self {
            MountKind::Tmpfs { .. } | MountKind::Filesystem { .. } => {
                MountAttr::NOSUID | MountAttr::NODEV
            }
            MountKind::Proc { .. } => MountAttr::NOSUID | MountAttr::NODEV | MountAttr::NOEXEC,
            MountKind::Dev { .. } => MountAttr::NOSUID | MountAttr::NOEXEC,
            _ => MountAttr::empty(),
        }
    }
}

/// The attribute choices for one mount or one tree: what to set, what to clear,
/// the access-time modes asked for (more than one distinct mode is refused).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct AttrChoice {
    pub(crate) set: MountAttr,
    pub(crate) clear: MountAttr,
    pub(crate) atime: Vec<Atime>,
}

impl AttrChoice {
    /// Nothing chosen.
    pub(crate) fn is_empty(&self) -> bool {
        self.set.is_empty() && self.clear.is_empty() && self.atime.is_empty()
    }

    /// The access-time mode chosen (the first; validation refuses others).
    pub(crate) fn atime(&self) -> Option<Atime> {
        self.atime.first().copied()
    }

    /// `base` with these choices applied: the `attr_flags` of an `fsmount`.
    pub(crate) fn applied_to(&self, base: MountAttr) -> MountAttr {
        let mut out = (base | self.set) - self.clear;
        if let Some(mode) = self.atime() {
            out = (out - MountAttr::ATIME_MASK) | mode.attr();
        }
        out
    }

    /// The `(attr_set, attr_clr)` of a `mount_setattr` making these choices.
    pub(crate) fn setattr(&self) -> (MountAttr, MountAttr) {
        let (mut set, mut clear) = (self.set, self.clear);
        if let Some(mode) = self.atime() {
            set = (set - MountAttr::ATIME_MASK) | mode.attr();
            clear |= MountAttr::ATIME_MASK;
        }
        (set, clear)
    }
}

/// The attributes [`Mount::attributes`] and friends take: the rest have setters of
/// their own (the access-time mode, `MOUNT_ATTR_IDMAP`).
pub(crate) const SETTABLE: MountAttr = MountAttr::RDONLY
    .union(MountAttr::NOSUID)
    .union(MountAttr::NODEV)
    .union(MountAttr::NOEXEC)
    .union(MountAttr::NODIRATIME)
    .union(MountAttr::NOSYMFOLLOW);

impl Mount {
    fn new(kind: MountKind, target: &Path) -> Self {
        Mount {
            kind,
            target: target.to_owned(),
            read_only: false,
            options: Vec::new(),
            propagation: None,
            top: AttrChoice::default(),
            tree: AttrChoice::default(),
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
                copy_up: false,
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

    /// A minimal `/dev` on `target`, the OCI runtime default set: a tmpfs with the
    /// nodes `null`, `zero`, `full`, `random`, `urandom` and `tty` (mode `0666`), a new
    /// devpts instance on `pts` with `ptmx` linking to it, a tmpfs on `shm` (mode
    /// `1777`, `nosuid`, `nodev`, `noexec`), the `fd`, `stdin`, `stdout`, `stderr`
    /// links, and a new mqueue on `mqueue` when the container has its own IPC
    /// namespace or no new user namespace (only the owner of an IPC namespace may
    /// mount its mqueue; it is left out otherwise). The nodes are created
    /// (`mknodat`, owned by the container's root) outside a new user namespace, as
    /// an OCI runtime makes them; in a new user namespace, where the devices' rules
    /// forbid creating one of them, or where the kernel refuses it (no
    /// `CAP_MKNOD` over the initial user namespace, a device program above the
    /// container's cgroup), the host's nodes are bound on files instead. More nodes:
    /// [`ContainerBuilder::device`](crate::ContainerBuilder::device); a device at
    /// one of these node or link paths (`/dev/null`, `/dev/ptmx`...) takes its place,
    /// as an OCI runtime's config devices replace its defaults (a `ptmx` node opens
    /// the devpts mounted beside it, Linux 4.7).
    ///
    /// The tmpfs is `mode=755,size=65536k`, `nosuid` and `noexec`; its
    /// [`option`](Mount::option)s (given any, they replace both defaults) and
    /// attributes ([`allow_exec`](Mount::allow_exec), [`atime`](Mount::atime)...) are
    /// the tmpfs's; `pts` is `nosuid,noexec` (`newinstance,ptmxmode=0666,mode=0620`),
    /// `shm` and `mqueue` `nosuid,nodev,noexec`. It cannot be read-only (its nodes
    /// and links are made in it after it is mounted).
    pub fn dev(target: impl AsRef<Path>) -> Self {
        Mount::new(MountKind::Dev { submounts: true }, target.as_ref())
    }

    /// [`dev`](Mount::dev): leaves out the devpts on `pts`, the tmpfs on `shm` and the
    /// mqueue, for a caller who mounts its own there (an OCI config lists them as
    /// mounts of their own); the device nodes and the links (`ptmx` -> `pts/ptmx`)
    /// are made as usual. Refused by the spawn on other kinds.
    ///
    /// ```
    /// use linception::Mount;
    /// let dev = [
    ///     Mount::dev("/dev").without_submounts(),
    ///     Mount::filesystem("devpts", "/dev/pts")
    ///         .flag("newinstance")
    ///         .option("ptmxmode", "0666")
    ///         .allow_devices()
    ///         .noexec(),
    /// ];
    /// # let _ = dev;
    /// ```
    pub fn without_submounts(mut self) -> Self {
        match &mut self.kind {
            MountKind::Dev { submounts } => *submounts = false,
            _ => return self.misapplied("without_submounts()"),
        }
        self
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

    /// A new filesystem (tmpfs, proc, [`filesystem`](Mount::filesystem), `/dev`'s
    /// tmpfs): a `key=value` option (`FSCONFIG_SET_STRING`), passed to the kernel as
    /// given; the kernel's message for a refused one comes back with the error.
    /// Superblock flags go here too, as [`flag`](Mount::flag)s: `sync`, `dirsync`,
    /// `lazytime`. Refused by the spawn on binds, symlinks and directories.
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
    /// when recursive; for the top mount alone use
    /// [`attributes(MountAttr::RDONLY)`](Mount::attributes)) or a new filesystem.
    /// Refused by the spawn on `/dev`, symlinks and directories.
    pub fn read_only(mut self) -> Self {
        if !self.kind.has_attributes() || matches!(self.kind, MountKind::Dev { .. }) {
            return self.misapplied("read_only()");
        }
        self.read_only = true;
        self
    }

    /// Sets attributes on the mount (a recursive bind's top mount): any of
    /// [`MountAttr::RDONLY`], `NOSUID`, `NODEV`, `NOEXEC`, `NODIRATIME`,
    /// `NOSYMFOLLOW` (Linux 5.14); a new filesystem gets them in `fsmount`'s
    /// `attr_flags` besides its defaults, a bind through `mount_setattr`'s
    /// `attr_set`. The access-time mode has [`atime`](Mount::atime), an idmapped
    /// bind [`idmapped`](Mount::idmapped): other bits are refused by the spawn, as
    /// is the call on symlinks and directories.
    pub fn attributes(mut self, attrs: MountAttr) -> Self {
        if !self.kind.has_attributes() {
            return self.misapplied("attributes()");
        }
        self.top.set |= attrs;
        self
    }

    /// Clears attributes of the mount (a recursive bind's top mount): a new
    /// filesystem's defaults (`nosuid`, `nodev`, `noexec`, see the table above) or
    /// a bind source's (`mount_setattr`'s `attr_clr`; in a new user namespace the
    /// kernel refuses to lift an attribute the host locked, `EPERM`). The bits
    /// [`attributes`](Mount::attributes) takes; refused where it is.
    pub fn clear_attributes(mut self, attrs: MountAttr) -> Self {
        if !self.kind.has_attributes() {
            return self.misapplied("clear_attributes()");
        }
        self.top.clear |= attrs;
        self
    }

    /// The access-time mode of the mount (a recursive bind's top mount):
    /// `relatime`, `noatime` or `strictatime` (`MOUNT_ATTR__ATIME`). Default: the
    /// kernel's (`relatime`) for a new filesystem, the source's for a bind. Refused
    /// on symlinks and directories; two different modes are refused by the spawn.
    pub fn atime(mut self, mode: Atime) -> Self {
        if !self.kind.has_attributes() {
            return self.misapplied("atime()");
        }
        self.top.atime.push(mode);
        self
    }

    /// `nosuid`: set-user-ID and set-group-ID bits and file capabilities are
    /// ignored on exec ([`attributes(MountAttr::NOSUID)`](Mount::attributes); the
    /// default of a new filesystem).
    pub fn nosuid(self) -> Self {
        self.attributes(MountAttr::NOSUID)
    }

    /// `nodev`: device nodes cannot be opened
    /// ([`attributes(MountAttr::NODEV)`](Mount::attributes); the default of a new
    /// filesystem but `/dev`'s tmpfs).
    pub fn nodev(self) -> Self {
        self.attributes(MountAttr::NODEV)
    }

    /// `noexec`: no program is executed from the mount
    /// ([`attributes(MountAttr::NOEXEC)`](Mount::attributes)).
    pub fn noexec(self) -> Self {
        self.attributes(MountAttr::NOEXEC)
    }

    /// `nodiratime`: directory access times are not updated
    /// ([`attributes(MountAttr::NODIRATIME)`](Mount::attributes)).
    pub fn nodiratime(self) -> Self {
        self.attributes(MountAttr::NODIRATIME)
    }

    /// `nosymfollow`: symbolic links are not followed in path lookups through the
    /// mount (`readlink` still reads them; Linux 5.14 for the mount API form)
    /// ([`attributes(MountAttr::NOSYMFOLLOW)`](Mount::attributes)).
    pub fn nosymfollow(self) -> Self {
        self.attributes(MountAttr::NOSYMFOLLOW)
    }

    /// Lifts `nosuid`: set-user-ID bits work on the mount (a new filesystem is
    /// `nosuid` by default; [`clear_attributes(MountAttr::NOSUID)`](Mount::clear_attributes)).
    pub fn allow_suid(self) -> Self {
        self.clear_attributes(MountAttr::NOSUID)
    }

    /// Lifts `nodev`: device nodes on the mount can be opened (a new filesystem is
    /// `nodev` by default; [`clear_attributes(MountAttr::NODEV)`](Mount::clear_attributes)).
    /// A devpts needs it for its ptys.
    pub fn allow_devices(self) -> Self {
        self.clear_attributes(MountAttr::NODEV)
    }

    /// Lifts `noexec` (proc's and `/dev`'s default, or a bind source's;
    /// [`clear_attributes(MountAttr::NOEXEC)`](Mount::clear_attributes)).
    pub fn allow_exec(self) -> Self {
        self.clear_attributes(MountAttr::NOEXEC)
    }

    /// A [`recursive`](Mount::recursive) bind: sets attributes on every mount of its
    /// tree (`mount_setattr(AT_RECURSIVE)`, applied before the top mount's own
    /// choices), e.g. an OCI `rnosuid`. The bits
    /// [`attributes`](Mount::attributes) takes. Refused by the spawn on other
    /// kinds and on a bind that is not recursive.
    pub fn tree_attributes(mut self, attrs: MountAttr) -> Self {
        if !matches!(self.kind, MountKind::Bind { .. }) {
            return self.misapplied("tree_attributes()");
        }
        self.tree.set |= attrs;
        self
    }

    /// A [`recursive`](Mount::recursive) bind: clears attributes on every mount of
    /// its tree (an OCI `rsuid`, `rrw`). Refused where
    /// [`tree_attributes`](Mount::tree_attributes) is.
    pub fn clear_tree_attributes(mut self, attrs: MountAttr) -> Self {
        if !matches!(self.kind, MountKind::Bind { .. }) {
            return self.misapplied("clear_tree_attributes()");
        }
        self.tree.clear |= attrs;
        self
    }

    /// A [`recursive`](Mount::recursive) bind: the access-time mode of every mount
    /// of its tree (an OCI `rnoatime`). Refused where
    /// [`tree_attributes`](Mount::tree_attributes) is.
    pub fn tree_atime(mut self, mode: Atime) -> Self {
        if !matches!(self.kind, MountKind::Bind { .. }) {
            return self.misapplied("tree_atime()");
        }
        self.tree.atime.push(mode);
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
        if !self.kind.has_attributes() || matches!(self.kind, MountKind::Dev { .. }) {
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

    /// Tmpfs: starts with a copy of what the root holds at the target (runc's and
    /// crun's `tmpcopyup` mount option): a writable directory over a read-only root
    /// that keeps the image's files. Refused by the spawn on other kinds, and on a
    /// read-only tmpfs (it could not be filled).
    ///
    /// The child copies the directory (its target resolved inside the root, after
    /// the mounts listed before this one, as runc does) into the new tmpfs before
    /// attaching it: directories, files, symlinks, fifos, sockets and device nodes
    /// with their owner and mode, but not their times, extended attributes or hard
    /// links (each link becomes a file of its own), at most
    /// 32 directories deep. Without a [`mode`](Mount::mode) (or `mode` option) the
    /// tmpfs's root takes the directory's mode, as runc gives it. A missing target
    /// is created, as for any mount: an empty tmpfs with the tmpfs's own mode
    /// (`1777` unless asked otherwise).
    ///
    /// ```
    /// use linception::Mount;
    /// let tmp = Mount::tmpfs("/tmp").copy_up().noexec();
    /// # let _ = tmp;
    /// ```
    pub fn copy_up(mut self) -> Self {
        match &mut self.kind {
            MountKind::Tmpfs { copy_up, .. } => *copy_up = true,
            _ => return self.misapplied("copy_up()"),
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

/// The root directory of a chrooted container ([`RootChange::Chroot`](crate::RootChange::Chroot))
/// whose mounts, masks, read-only paths or devices are made beneath it in the
/// caller's own mount namespace, where they outlive the container.
pub(crate) fn shared_namespace_mounts(b: &crate::ContainerBuilder) -> Option<&Path> {
    let crate::RootFs::Dir(dir) = b.root.as_ref()? else {
        return None;
    };
    (b.root_change == crate::RootChange::Chroot && b.mounts_beneath_root().is_some())
        .then_some(dir.as_path())
}

/// Detaches (`umount2(MNT_DETACH)`) every mount beneath `dir` in the caller's mount
/// namespace, `dir`'s own mount (if it is one) excepted: what a chrooted container
/// ([`RootChange::Chroot`](crate::RootChange::Chroot)) sharing the caller's mount
/// namespace mounted beneath its root, which stays there after the container ends
/// (an OCI runtime's `delete` of a container without a mount namespace of its own
/// calls it). The topmost mounts are detached, each with what is mounted on it;
/// returns how many. A failed chrooted spawn detaches them itself.
///
/// # Errors
/// `dir` cannot be resolved or is `/` (refused: every mount is beneath it), the
/// mount table cannot be read, or a detach fails for another reason than the mount
/// being gone already.
pub fn detach_mounts_beneath(dir: &Path) -> crate::Result<usize> {
    let dir = std::fs::canonicalize(dir)
        .map_err(|e| crate::Error::syscall(format!("realpath({})", dir.display()), e))?;
    if dir == Path::new("/") {
        return Err(crate::Error::invalid(
            "detach_mounts_beneath(\"/\")",
            "every mount of the namespace is beneath /: refused",
        ));
    }
    let table = linception_mountapi::mount_table(linception_mountapi::MountTableSource::Auto)
        .map_err(|e| crate::spawn::mount_error("list the mounts beneath a chroot", e))?;
    let beneath: Vec<&Path> = table
        .iter()
        .map(|m| m.mount_point.as_path())
        .filter(|p| *p != dir && p.starts_with(&dir))
        .collect();
    let mut tops: Vec<&Path> = beneath
        .iter()
        .copied()
        .filter(|p| !beneath.iter().any(|q| q != p && p.starts_with(q)))
        .collect();
    tops.sort();
    tops.dedup();
    let mut detached = 0;
    for top in tops {
        // Mounts stacked on one point go one at a time.
        loop {
            match rustix::mount::unmount(top, rustix::mount::UnmountFlags::DETACH) {
                Ok(()) => detached += 1,
                Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOENT) => break,
                Err(e) => {
                    return Err(crate::Error::syscall(
                        format!("umount2({}, MNT_DETACH)", top.display()),
                        e.into(),
                    ));
                }
            }
        }
    }
    Ok(detached)
}
