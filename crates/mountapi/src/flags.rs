//! Flag sets and small enums of the mount API, named after the kernel's constants.
#![forbid(unsafe_code)]

use bitflags::bitflags;

bitflags! {
    /// Mount attributes (`MOUNT_ATTR_*`): for [`FsContext::mount`](crate::FsContext::mount)
    /// (`fsmount`'s `attr_flags`) and [`MountSetattr`](crate::MountSetattr)
    /// (`mount_setattr`'s `attr_set` / `attr_clr`), and as read back in
    /// [`MountInfo::attributes`](crate::MountInfo::attributes).
    ///
    /// The access-time mode is a 3-bit field ([`ATIME_MASK`](Self::ATIME_MASK)), not
    /// a set of flags: [`RELATIME`](Self::RELATIME) is zero. Choose a mode with
    /// [`MountSetattr::atime`](crate::MountSetattr::atime), or read it with
    /// [`MountAttr::atime`].
    ///
    /// ```
    /// use linception_mountapi::{Atime, MountAttr};
    ///
    /// let attrs = MountAttr::NOSUID | MountAttr::NOATIME;
    /// assert_eq!(attrs.atime(), Atime::NoAtime);
    /// assert_eq!(MountAttr::NOSUID.atime(), Atime::Relatime);
    /// ```
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct MountAttr: u64 {
        /// `MOUNT_ATTR_RDONLY`: read-only.
        const RDONLY = 0x0000_0001;
        /// `MOUNT_ATTR_NOSUID`: ignore set-user-ID and set-group-ID bits.
        const NOSUID = 0x0000_0002;
        /// `MOUNT_ATTR_NODEV`: no access to device special files.
        const NODEV = 0x0000_0004;
        /// `MOUNT_ATTR_NOEXEC`: no program execution.
        const NOEXEC = 0x0000_0008;
        /// `MOUNT_ATTR__ATIME`: the bits of the access-time mode.
        const ATIME_MASK = 0x0000_0070;
        /// `MOUNT_ATTR_RELATIME` (zero): update atime relative to mtime/ctime.
        const RELATIME = 0x0000_0000;
        /// `MOUNT_ATTR_NOATIME`: never update access times.
        const NOATIME = 0x0000_0010;
        /// `MOUNT_ATTR_STRICTATIME`: always update access times.
        const STRICTATIME = 0x0000_0020;
        /// `MOUNT_ATTR_NODIRATIME`: do not update directory access times.
        const NODIRATIME = 0x0000_0080;
        /// `MOUNT_ATTR_IDMAP`: an idmapped mount (Linux 5.12). Set through
        /// [`MountSetattr::idmap`](crate::MountSetattr::idmap), which supplies the
        /// user namespace.
        const IDMAP = 0x0010_0000;
        /// `MOUNT_ATTR_NOSYMFOLLOW`: do not follow symlinks (Linux 5.14).
        const NOSYMFOLLOW = 0x0020_0000;
        const _ = !0;
    }
}

impl MountAttr {
    /// The access-time mode encoded in these attributes.
    pub fn atime(self) -> Atime {
        match self.bits() & Self::ATIME_MASK.bits() {
            0x10 => Atime::NoAtime,
            0x20 => Atime::StrictAtime,
            _ => Atime::Relatime,
        }
    }
}

/// An access-time mode, the 3-bit `MOUNT_ATTR__ATIME` field of the mount attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Atime {
    /// `MOUNT_ATTR_RELATIME` (the kernel's default).
    Relatime,
    /// `MOUNT_ATTR_NOATIME`.
    NoAtime,
    /// `MOUNT_ATTR_STRICTATIME`.
    StrictAtime,
}

impl Atime {
    /// The mode's bits within [`MountAttr::ATIME_MASK`].
    pub fn attr(self) -> MountAttr {
        match self {
            Atime::Relatime => MountAttr::RELATIME,
            Atime::NoAtime => MountAttr::NOATIME,
            Atime::StrictAtime => MountAttr::STRICTATIME,
        }
    }
}

/// `MS_UNBINDABLE` (include/uapi/linux/mount.h), as a `u64` on every target.
pub(crate) const MS_UNBINDABLE: u64 = 1 << 17;
/// `MS_PRIVATE`.
pub(crate) const MS_PRIVATE: u64 = 1 << 18;
/// `MS_SLAVE`.
pub(crate) const MS_SLAVE: u64 = 1 << 19;
/// `MS_SHARED`.
pub(crate) const MS_SHARED: u64 = 1 << 20;

/// A mount's propagation type, as set by `mount_setattr` (`struct mount_attr`'s
/// `propagation` field) or `mount(2)` with `MS_PRIVATE` and friends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Propagation {
    /// `MS_PRIVATE`: neither receives nor sends mount events.
    Private,
    /// `MS_SHARED`: member of a peer group; events propagate both ways.
    Shared,
    /// `MS_SLAVE`: receives events from its master, sends none.
    Slave,
    /// `MS_UNBINDABLE`: private, and cannot be bind-mounted.
    Unbindable,
}

impl Propagation {
    /// The `MS_*` value the kernel expects.
    pub fn ms_flag(self) -> u64 {
        match self {
            Propagation::Private => MS_PRIVATE,
            Propagation::Shared => MS_SHARED,
            Propagation::Slave => MS_SLAVE,
            Propagation::Unbindable => MS_UNBINDABLE,
        }
    }

    /// The C constant's name (`"MS_PRIVATE"`, ...), as errors display it.
    pub fn name(self) -> &'static str {
        match self {
            Propagation::Private => "MS_PRIVATE",
            Propagation::Shared => "MS_SHARED",
            Propagation::Slave => "MS_SLAVE",
            Propagation::Unbindable => "MS_UNBINDABLE",
        }
    }
}

bitflags! {
    /// `move_mount` flags (`MOVE_MOUNT_*`).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct MoveMountFlags: u32 {
        /// `MOVE_MOUNT_F_SYMLINKS`: follow symlinks on the source path.
        const F_SYMLINKS = 0x0000_0001;
        /// `MOVE_MOUNT_F_AUTOMOUNTS`: follow automounts on the source path.
        const F_AUTOMOUNTS = 0x0000_0002;
        /// `MOVE_MOUNT_F_EMPTY_PATH`: the source is the fd itself (empty path).
        const F_EMPTY_PATH = 0x0000_0004;
        /// `MOVE_MOUNT_T_SYMLINKS`: follow symlinks on the target path.
        const T_SYMLINKS = 0x0000_0010;
        /// `MOVE_MOUNT_T_AUTOMOUNTS`: follow automounts on the target path.
        const T_AUTOMOUNTS = 0x0000_0020;
        /// `MOVE_MOUNT_T_EMPTY_PATH`: the target is the fd itself (empty path).
        const T_EMPTY_PATH = 0x0000_0040;
        /// `MOVE_MOUNT_SET_GROUP`: make the target a peer of the source's sharing
        /// group instead of moving (Linux 5.15).
        const SET_GROUP = 0x0000_0100;
        /// `MOVE_MOUNT_BENEATH`: mount beneath the target's top mount, so that an
        /// unmount of the top reveals it (Linux 6.5).
        const BENEATH = 0x0000_0200;
        const _ = !0;
    }
}

bitflags! {
    /// `open_tree` flags. `OPEN_TREE_CLOEXEC` is always added.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct OpenTreeFlags: u32 {
        /// `OPEN_TREE_CLONE`: clone the tree into a new detached mount (a bind
        /// mount not attached anywhere yet).
        const CLONE = 1;
        /// `AT_RECURSIVE`: with `CLONE`, clone the submounts too (an rbind).
        const RECURSIVE = libc::AT_RECURSIVE as u32;
        /// `AT_EMPTY_PATH`: operate on the dirfd itself.
        const EMPTY_PATH = libc::AT_EMPTY_PATH as u32;
        /// `AT_SYMLINK_NOFOLLOW`: do not follow a trailing symlink.
        const SYMLINK_NOFOLLOW = libc::AT_SYMLINK_NOFOLLOW as u32;
        /// `AT_NO_AUTOMOUNT`: do not trigger an automount.
        const NO_AUTOMOUNT = libc::AT_NO_AUTOMOUNT as u32;
        const _ = !0;
    }
}

bitflags! {
    /// `mount_setattr` path flags (`AT_*`).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct SetattrFlags: u32 {
        /// `AT_RECURSIVE`: change the whole mount tree.
        const RECURSIVE = libc::AT_RECURSIVE as u32;
        /// `AT_EMPTY_PATH`: operate on the dirfd itself.
        const EMPTY_PATH = libc::AT_EMPTY_PATH as u32;
        /// `AT_SYMLINK_NOFOLLOW`: do not follow a trailing symlink.
        const SYMLINK_NOFOLLOW = libc::AT_SYMLINK_NOFOLLOW as u32;
        /// `AT_NO_AUTOMOUNT`: do not trigger an automount.
        const NO_AUTOMOUNT = libc::AT_NO_AUTOMOUNT as u32;
        const _ = !0;
    }
}

bitflags! {
    /// `fspick` flags. `FSPICK_CLOEXEC` is always added.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct FsPickFlags: u32 {
        /// `FSPICK_SYMLINK_NOFOLLOW`: do not follow a trailing symlink.
        const SYMLINK_NOFOLLOW = 0x0000_0002;
        /// `FSPICK_NO_AUTOMOUNT`: do not trigger an automount.
        const NO_AUTOMOUNT = 0x0000_0004;
        /// `FSPICK_EMPTY_PATH`: pick the filesystem of the dirfd itself.
        const EMPTY_PATH = 0x0000_0008;
        const _ = !0;
    }
}

bitflags! {
    /// `listmount` flags.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct ListmountFlags: u32 {
        /// `LISTMOUNT_REVERSE`: list later mounts first (Linux 6.11).
        const REVERSE = 1;
        const _ = !0;
    }
}

bitflags! {
    /// `statmount` request mask (`STATMOUNT_*`): which fields to fill.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct StatmountMask: u64 {
        /// `STATMOUNT_SB_BASIC`: device, magic, superblock flags.
        const SB_BASIC = 0x0000_0001;
        /// `STATMOUNT_MNT_BASIC`: ids, attributes, propagation.
        const MNT_BASIC = 0x0000_0002;
        /// `STATMOUNT_PROPAGATE_FROM`: the nearest dominating peer group.
        const PROPAGATE_FROM = 0x0000_0004;
        /// `STATMOUNT_MNT_ROOT`: the root of the mount within its filesystem.
        const MNT_ROOT = 0x0000_0008;
        /// `STATMOUNT_MNT_POINT`: the mount point, relative to the caller's root.
        const MNT_POINT = 0x0000_0010;
        /// `STATMOUNT_FS_TYPE`: the filesystem type.
        const FS_TYPE = 0x0000_0020;
        /// `STATMOUNT_MNT_NS_ID`: the mount namespace id (Linux 6.10).
        const MNT_NS_ID = 0x0000_0040;
        /// `STATMOUNT_MNT_OPTS`: the filesystem's options, comma separated (Linux 6.11).
        const MNT_OPTS = 0x0000_0080;
        /// `STATMOUNT_FS_SUBTYPE`: the filesystem subtype (Linux 6.12).
        const FS_SUBTYPE = 0x0000_0100;
        /// `STATMOUNT_SB_SOURCE`: the source string (Linux 6.12).
        const SB_SOURCE = 0x0000_0200;
        /// `STATMOUNT_OPT_ARRAY`: the options as an array (Linux 6.13).
        const OPT_ARRAY = 0x0000_0400;
        /// `STATMOUNT_OPT_SEC_ARRAY`: the security options as an array (Linux 6.13).
        const OPT_SEC_ARRAY = 0x0000_0800;
        /// `STATMOUNT_SUPPORTED_MASK`: the mask bits this kernel knows (Linux 6.15).
        const SUPPORTED_MASK = 0x0000_1000;
        /// `STATMOUNT_MNT_UIDMAP`: the uid mappings of an idmapped mount, as seen
        /// from the caller's user namespace (Linux 6.15).
        const MNT_UIDMAP = 0x0000_2000;
        /// `STATMOUNT_MNT_GIDMAP`: the gid mappings of an idmapped mount (Linux 6.15).
        const MNT_GIDMAP = 0x0000_4000;
        const _ = !0;
    }
}
