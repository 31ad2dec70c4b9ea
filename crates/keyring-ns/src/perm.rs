//! Key permission masks and `KEYCTL_MOVE` flags.
#![forbid(unsafe_code)]

use std::fmt;

bitflags::bitflags! {
    /// A key's permission mask (`key_perm_t`), as set by
    /// [`setperm`](crate::setperm) and reported by [`describe`](crate::describe).
    ///
    /// Four classes, checked in this order: the **possessor** (a process that reaches
    /// the key through its own thread, process or session keyring), the owning
    /// **user**, the **group**, and **other**. Each class has six rights: view
    /// (see the attributes), read (the payload, or a keyring's list), write (update,
    /// or add links to a keyring), search (find it, or search through a keyring),
    /// link (link it into a keyring) and setattr (change ownership, permissions,
    /// timeout, restriction).
    ///
    /// Uid and gid compare kernel ids, so two containers whose root maps to the same
    /// host uid are the same **user** to a key: keep containers apart with
    /// possessor-only masks such as [`Permission::POSSESSOR_ALL`].
    ///
    /// `Display` prints the mask like `/proc/keys`, eight hex digits.
    ///
    /// [`Permission::all()`] includes every bit (unknown kernel bits are kept), which
    /// the kernel refuses with `EINVAL`; spell out the classes instead.
    ///
    /// ```
    /// use linception_keyring_ns::Permission;
    ///
    /// let perm = Permission::POSSESSOR_ALL | Permission::USER_VIEW;
    /// assert_eq!(perm.bits(), 0x3f01_0000);
    /// assert_eq!(perm.to_string(), "3f010000");
    /// ```
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub struct Permission: u32 {
        /// `KEY_POS_VIEW`: the possessor may view the key's attributes.
        const POSSESSOR_VIEW = 0x0100_0000;
        /// `KEY_POS_READ`: the possessor may read the payload (a keyring's list).
        const POSSESSOR_READ = 0x0200_0000;
        /// `KEY_POS_WRITE`: the possessor may update the key (add links to a keyring).
        const POSSESSOR_WRITE = 0x0400_0000;
        /// `KEY_POS_SEARCH`: the possessor may find the key (search a keyring).
        const POSSESSOR_SEARCH = 0x0800_0000;
        /// `KEY_POS_LINK`: the possessor may link the key into a keyring.
        const POSSESSOR_LINK = 0x1000_0000;
        /// `KEY_POS_SETATTR`: the possessor may change ownership, mask, timeout.
        const POSSESSOR_SETATTR = 0x2000_0000;
        /// `KEY_POS_ALL`: every possessor right.
        const POSSESSOR_ALL = 0x3f00_0000;

        /// `KEY_USR_VIEW`: the owning uid may view the key's attributes.
        const USER_VIEW = 0x0001_0000;
        /// `KEY_USR_READ`: the owning uid may read the payload.
        const USER_READ = 0x0002_0000;
        /// `KEY_USR_WRITE`: the owning uid may update the key.
        const USER_WRITE = 0x0004_0000;
        /// `KEY_USR_SEARCH`: the owning uid may find the key.
        const USER_SEARCH = 0x0008_0000;
        /// `KEY_USR_LINK`: the owning uid may link the key.
        const USER_LINK = 0x0010_0000;
        /// `KEY_USR_SETATTR`: the owning uid may change the key's attributes.
        const USER_SETATTR = 0x0020_0000;
        /// `KEY_USR_ALL`: every right of the owning uid.
        const USER_ALL = 0x003f_0000;

        /// `KEY_GRP_VIEW`: the owning gid may view the key's attributes.
        const GROUP_VIEW = 0x0000_0100;
        /// `KEY_GRP_READ`: the owning gid may read the payload.
        const GROUP_READ = 0x0000_0200;
        /// `KEY_GRP_WRITE`: the owning gid may update the key.
        const GROUP_WRITE = 0x0000_0400;
        /// `KEY_GRP_SEARCH`: the owning gid may find the key.
        const GROUP_SEARCH = 0x0000_0800;
        /// `KEY_GRP_LINK`: the owning gid may link the key.
        const GROUP_LINK = 0x0000_1000;
        /// `KEY_GRP_SETATTR`: the owning gid may change the key's attributes.
        const GROUP_SETATTR = 0x0000_2000;
        /// `KEY_GRP_ALL`: every right of the owning gid.
        const GROUP_ALL = 0x0000_3f00;

        /// `KEY_OTH_VIEW`: anyone may view the key's attributes.
        const OTHER_VIEW = 0x0000_0001;
        /// `KEY_OTH_READ`: anyone may read the payload.
        const OTHER_READ = 0x0000_0002;
        /// `KEY_OTH_WRITE`: anyone may update the key.
        const OTHER_WRITE = 0x0000_0004;
        /// `KEY_OTH_SEARCH`: anyone may find the key.
        const OTHER_SEARCH = 0x0000_0008;
        /// `KEY_OTH_LINK`: anyone may link the key.
        const OTHER_LINK = 0x0000_0010;
        /// `KEY_OTH_SETATTR`: anyone may change the key's attributes.
        const OTHER_SETATTR = 0x0000_0020;
        /// `KEY_OTH_ALL`: every right for anyone.
        const OTHER_ALL = 0x0000_003f;

        // Keep bits a newer kernel may report.
        const _ = !0;
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.bits())
    }
}

bitflags::bitflags! {
    /// Flags of [`move_key`](crate::move_key) (`KEYCTL_MOVE`).
    ///
    /// ```
    /// use linception_keyring_ns::MoveFlags;
    ///
    /// assert_eq!(MoveFlags::EXCL.bits(), 1);
    /// assert!(MoveFlags::default().is_empty());
    /// ```
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct MoveFlags: u32 {
        /// `KEYCTL_MOVE_EXCL`: fail with `EEXIST` if the destination keyring
        /// already holds a key of the same type and description, instead of
        /// displacing it.
        const EXCL = 0x01;

        const _ = !0;
    }
}
