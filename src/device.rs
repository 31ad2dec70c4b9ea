//! Extra device nodes of the container, besides [`Mount::dev`](crate::Mount::dev)'s.
#![forbid(unsafe_code)]

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::builder::{ContainerBuilder, Namespaces};
use crate::error::{Error, Result};

/// Whether a device node is a character or a block device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeviceKind {
    /// A character device (`S_IFCHR`), e.g. `/dev/fuse` (10, 229).
    Char,
    /// A block device (`S_IFBLK`), e.g. `/dev/loop0` (7, 0).
    Block,
}

/// What kind of node a [`Device`] makes: a device of a [`DeviceKind`], or a FIFO.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum NodeKind {
    /// `S_IFCHR`.
    Char,
    /// `S_IFBLK`.
    Block,
    /// `S_IFIFO`: a named pipe, no device number.
    Fifo,
}

impl NodeKind {
    fn name(self) -> &'static str {
        match self {
            NodeKind::Char => "character device",
            NodeKind::Block => "block device",
            NodeKind::Fifo => "fifo",
        }
    }
}

impl From<DeviceKind> for NodeKind {
    fn from(k: DeviceKind) -> NodeKind {
        match k {
            DeviceKind::Char => NodeKind::Char,
            DeviceKind::Block => NodeKind::Block,
        }
    }
}

/// A device node made in the container's root ([`ContainerBuilder::device`]).
///
/// How it is made depends on the container's user namespace, since only
/// `CAP_MKNOD` in the initial user namespace may create device nodes:
///
/// - without [`Namespaces::USER`] (a privileged caller), the node is created with
///   `mknodat` inside the root, with [`mode`](Device::mode) (default `0o666`) and
///   [`owner`](Device::owner) (default: the creator's ids);
/// - in a new user namespace (rootless, or root that asked for one), the host's node
///   at the same path is bound onto an empty file in the root. Its mode and owner
///   are the host's: a [`mode`](Device::mode) other than the host node's, or any
///   [`owner`](Device::owner), is refused rather than ignored. With no host node of
///   that kind and number at that path, the spawn is refused
///   ([`Error::PermissionDenied`]) before anything is created.
///
/// A FIFO ([`Device::fifo`], the spec's device type `p`) needs no privilege to be
/// made: it is created with `mknodat` in either case, with its
/// [`mode`](Device::mode) and [`owner`](Device::owner) (in a user namespace the
/// owner must be mapped there, else the spawn is refused before anything is
/// created, [`Error::InvalidArgument`]).
///
/// Devices are made after every [`Mount`](crate::Mount), so a device under
/// `/dev` lands in [`Mount::dev`](crate::Mount::dev)'s tmpfs.
///
/// ```no_run
/// use linception::{Container, Device, Mount, RootFs};
/// let c = Container::builder("/bin/true")
///     .root(RootFs::Tmpfs)
///     .mounts(Mount::host_system())
///     .mount(Mount::dev("/dev"))
///     .device(Device::char("/dev/fuse", 10, 229))
///     .spawn()?;
/// # Ok::<(), linception::Error>(())
/// ```
///
/// # References
/// - [mknod(2)](https://man7.org/linux/man-pages/man2/mknod.2.html)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub(crate) path: PathBuf,
    pub(crate) kind: NodeKind,
    pub(crate) major: u32,
    pub(crate) minor: u32,
    pub(crate) mode: Option<u32>,
    pub(crate) owner: Option<(u32, u32)>,
}

impl Device {
    /// A character device `major:minor` at `path` inside the container.
    pub fn char(path: impl AsRef<Path>, major: u32, minor: u32) -> Self {
        Device::new(NodeKind::Char, path.as_ref(), major, minor)
    }

    /// A block device `major:minor` at `path` inside the container.
    pub fn block(path: impl AsRef<Path>, major: u32, minor: u32) -> Self {
        Device::new(NodeKind::Block, path.as_ref(), major, minor)
    }

    /// A FIFO (named pipe, `S_IFIFO`) at `path` inside the container: the OCI
    /// spec's device type `p`, which has no device number.
    ///
    /// ```no_run
    /// use linception::{Container, Device, Mount, RootFs};
    /// let c = Container::builder("/bin/true")
    ///     .root(RootFs::Tmpfs)
    ///     .mount(Mount::dev("/dev"))
    ///     .device(Device::fifo("/dev/events").mode(0o660))
    ///     .spawn()?;
    /// # Ok::<(), linception::Error>(())
    /// ```
    pub fn fifo(path: impl AsRef<Path>) -> Self {
        Device::new(NodeKind::Fifo, path.as_ref(), 0, 0)
    }

    fn new(kind: NodeKind, path: &Path, major: u32, minor: u32) -> Self {
        Device {
            path: path.to_owned(),
            kind,
            major,
            minor,
            mode: None,
            owner: None,
        }
    }

    /// The node's permission bits (at most `0o777`; default `0o666`), set after
    /// `mknodat` regardless of the umask.
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = Some(mode);
        self
    }

    /// The node's owner, ids as the container sees them (`fchownat`).
    pub fn owner(mut self, uid: u32, gid: u32) -> Self {
        self.owner = Some((uid, gid));
        self
    }

    /// The path inside the container.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `makedev(major, minor)`.
    pub(crate) fn dev(&self) -> u64 {
        rustix::fs::makedev(self.major, self.minor)
    }

    /// How the device is named in messages: `character device 10:229 at "/dev/fuse"`,
    /// `fifo at "/dev/events"`.
    pub(crate) fn shown(&self) -> String {
        if self.kind == NodeKind::Fifo {
            return format!("fifo at {:?}", self.path);
        }
        format!(
            "{} {}:{} at {:?}",
            self.kind.name(),
            self.major,
            self.minor,
            self.path
        )
    }
}

/// Whether the spawn creates device nodes (`mknodat`) rather than binding the
/// host's: only outside a new user namespace.
pub(crate) fn mknod_allowed(ns: Namespaces) -> bool {
    !ns.contains(Namespaces::USER)
}

/// Whether `d` is created with `mknodat` (not bound from the host): a device node
/// outside a new user namespace, a FIFO always (mknod(2) needs no `CAP_MKNOD` for
/// one).
pub(crate) fn made_here(d: &Device, ns: Namespaces) -> bool {
    d.kind == NodeKind::Fifo || mknod_allowed(ns)
}

/// Stage 1, looking at the host: in a new user namespace each device is bound from
/// the host's node at the same path, which must exist and be that device.
pub(crate) fn check(b: &ContainerBuilder) -> Result<()> {
    let ns = b.effective_namespaces();
    for d in b.devices.iter().filter(|d| !made_here(d, ns)) {
        host_node(d)?;
    }
    Ok(())
}

const NO_MKNOD: &str = "in a new user namespace a device node cannot be created (mknod needs \
                        CAP_MKNOD in the initial user namespace), so it is bound from the \
                        host's node at the same path, whose owner a bind keeps";

fn host_node(d: &Device) -> Result<()> {
    let what = format!("device {}", d.shown());
    let Ok(md) = std::fs::metadata(&d.path) else {
        return Err(Error::denied(
            what,
            "no such node on the host to bind: in a new user namespace a device node \
             cannot be created (mknod needs CAP_MKNOD in the initial user namespace)",
        ));
    };
    let ft = md.file_type();
    let kind_ok = match d.kind {
        NodeKind::Char => ft.is_char_device(),
        NodeKind::Block => ft.is_block_device(),
        NodeKind::Fifo => ft.is_fifo(),
    };
    if !kind_ok || md.rdev() != d.dev() {
        return Err(Error::denied(
            what,
            "the host's node at that path is another device: in a new user namespace a \
             device node cannot be created (mknod needs CAP_MKNOD in the initial user \
             namespace), only the host's node bound",
        ));
    }
    if let Some(mode) = d.mode
        && mode != md.permissions().mode() & 0o777
    {
        return Err(Error::denied(
            format!("mode {mode:#o} of the {what}"),
            "differs from the host node's, which a bind keeps: in a new user namespace \
             a device node cannot be created (mknod needs CAP_MKNOD in the initial user \
             namespace)",
        ));
    }
    if d.owner.is_some() {
        return Err(Error::denied(format!("owner of the {what}"), NO_MKNOD));
    }
    Ok(())
}
