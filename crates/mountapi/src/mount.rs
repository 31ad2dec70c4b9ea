//! `Mount`: a mount fd (`fsmount`, `open_tree`), `move_mount`, `mount_setattr`.
#![forbid(unsafe_code)]

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use rustix::io::Errno;
use rustix::mount as rmount;
use rustix::path::Arg;

use crate::error::{Call, Error, Result};
use crate::flags::{Atime, MountAttr, MoveMountFlags, OpenTreeFlags, Propagation, SetattrFlags};
use crate::sys;
use crate::util::{Dirfd, Flags, with_c_str};

/// A mount fd: a detached mount (from [`FsContext::mount`](crate::FsContext::mount)
/// or a cloned tree) or a handle on a mount already attached somewhere
/// ([`open_tree`] without `CLONE`).
///
/// A detached mount is unmounted (its whole tree) when its last fd is closed, i.e.
/// when this value is dropped without [`attach`](Self::attach)ing it. Once
/// attached, the fd is just a handle and dropping it leaves the mount in place.
///
/// # Allocation
/// With `&CStr` paths, [`attach`](Self::attach), [`attach_at`](Self::attach_at),
/// [`clone_tree`](Self::clone_tree), [`set_attr`](Self::set_attr) and the free
/// functions [`move_mount`], [`open_tree`] and [`mount_setattr`] allocate nothing,
/// on success or failure (the error keeps its call description inline), so they can
/// run in a child between `clone` and `execve`.
///
/// # Examples
/// A read-only, recursive bind mount:
/// ```no_run
/// use linception_mountapi::{Mount, MountAttr, MountSetattr};
///
/// let tree = Mount::clone_tree_recursive(c"/usr")?;
/// tree.set_attr_recursive(&MountSetattr::new().set(MountAttr::RDONLY | MountAttr::NOSUID))?;
/// tree.attach(c"/mnt")?;
/// # Ok::<(), linception_mountapi::Error>(())
/// ```
pub struct Mount {
    fd: OwnedFd,
}

impl Mount {
    /// `open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)`: a detached
    /// copy of the mount at `path` (a bind mount, not yet attached).
    ///
    /// # Errors
    /// `ENOENT`, `EINVAL` (an unbindable mount), `EPERM`.
    ///
    /// # References
    /// - [`open_tree(2)`](https://man7.org/linux/man-pages/man2/open_tree.2.html)
    #[doc(alias = "open_tree", alias = "OPEN_TREE_CLONE")]
    #[inline]
    pub fn clone_tree(path: impl Arg) -> Result<Mount> {
        open_tree(rustix::fs::CWD, path, OpenTreeFlags::CLONE)
    }

    /// `open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | AT_RECURSIVE | OPEN_TREE_CLOEXEC)`:
    /// like [`clone_tree`](Self::clone_tree), with every submount (an rbind).
    ///
    /// # Errors
    /// As [`clone_tree`](Self::clone_tree).
    ///
    /// # References
    /// - [`open_tree(2)`](https://man7.org/linux/man-pages/man2/open_tree.2.html)
    #[doc(alias = "open_tree", alias = "AT_RECURSIVE")]
    #[inline]
    pub fn clone_tree_recursive(path: impl Arg) -> Result<Mount> {
        open_tree(
            rustix::fs::CWD,
            path,
            OpenTreeFlags::CLONE | OpenTreeFlags::RECURSIVE,
        )
    }

    /// `move_mount(fd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH)`: attaches
    /// this mount at `target` (or moves it there if it is attached elsewhere).
    ///
    /// # Errors
    /// `ENOENT` (no `target`), `EINVAL` (already attached to this tree, or target
    /// not in the caller's mount namespace), `EPERM`.
    ///
    /// # References
    /// - [`move_mount(2)`](https://man7.org/linux/man-pages/man2/move_mount.2.html)
    #[doc(alias = "move_mount")]
    #[inline]
    pub fn attach(&self, target: impl Arg) -> Result<()> {
        self.attach_at(rustix::fs::CWD, target, MoveMountFlags::empty())
    }

    /// `move_mount(fd, "", dirfd, target, MOVE_MOUNT_F_EMPTY_PATH | flags)`:
    /// attaches this mount at `target` relative to `dirfd`. An empty `target` with
    /// [`T_EMPTY_PATH`](MoveMountFlags::T_EMPTY_PATH) attaches on `dirfd` itself,
    /// which lets a runtime mount onto a directory it opened safely.
    ///
    /// # Errors
    /// As [`attach`](Self::attach).
    ///
    /// # References
    /// - [`move_mount(2)`](https://man7.org/linux/man-pages/man2/move_mount.2.html)
    #[doc(alias = "move_mount")]
    #[inline]
    pub fn attach_at(
        &self,
        dirfd: impl AsFd,
        target: impl Arg,
        flags: MoveMountFlags,
    ) -> Result<()> {
        move_mount(
            &self.fd,
            c"",
            dirfd,
            target,
            flags | MoveMountFlags::F_EMPTY_PATH,
        )
    }

    /// `move_mount(fd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_BENEATH)`:
    /// attaches this mount beneath the top mount at `target`, so that unmounting
    /// the top one reveals it (a seamless replacement). Since Linux 6.5.
    ///
    /// # Errors
    /// [`Unsupported`](Error::Unsupported) before Linux 6.5 (the kernel says
    /// `EINVAL` for the unknown flag: only use this where the kernel has it);
    /// `EINVAL` when `target` is not a mount's root or is the namespace's root.
    ///
    /// # References
    /// - [`move_mount(2)`](https://man7.org/linux/man-pages/man2/move_mount.2.html)
    #[doc(alias = "move_mount", alias = "MOVE_MOUNT_BENEATH")]
    #[inline]
    pub fn attach_beneath(&self, target: impl Arg) -> Result<()> {
        self.attach_at(rustix::fs::CWD, target, MoveMountFlags::BENEATH)
    }

    /// `mount_setattr(fd, "", AT_EMPTY_PATH, attr, sizeof(*attr))`: changes this
    /// mount's attributes, propagation or idmapping; see [`MountSetattr`].
    ///
    /// # Errors
    /// As [`mount_setattr`].
    ///
    /// # References
    /// - [`mount_setattr(2)`](https://man7.org/linux/man-pages/man2/mount_setattr.2.html)
    #[doc(alias = "mount_setattr")]
    #[inline]
    pub fn set_attr(&self, attr: &MountSetattr<'_>) -> Result<()> {
        mount_setattr(&self.fd, c"", SetattrFlags::EMPTY_PATH, attr)
    }

    /// `mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, attr, sizeof(*attr))`:
    /// like [`set_attr`](Self::set_attr), for this mount and every mount below it.
    ///
    /// # Errors
    /// As [`mount_setattr`].
    ///
    /// # References
    /// - [`mount_setattr(2)`](https://man7.org/linux/man-pages/man2/mount_setattr.2.html)
    #[doc(alias = "mount_setattr", alias = "AT_RECURSIVE")]
    #[inline]
    pub fn set_attr_recursive(&self, attr: &MountSetattr<'_>) -> Result<()> {
        mount_setattr(
            &self.fd,
            c"",
            SetattrFlags::EMPTY_PATH | SetattrFlags::RECURSIVE,
            attr,
        )
    }

    /// Duplicates the fd (`F_DUPFD_CLOEXEC`). A detached mount stays mounted until
    /// both fds are closed.
    ///
    /// # Errors
    /// `EMFILE` when out of fds.
    pub fn try_clone(&self) -> std::io::Result<Mount> {
        Ok(Mount {
            fd: self.fd.try_clone()?,
        })
    }
}

impl AsFd for Mount {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl From<OwnedFd> for Mount {
    /// Takes a mount fd made elsewhere (`fsmount`, `open_tree`).
    fn from(fd: OwnedFd) -> Mount {
        Mount { fd }
    }
}

impl From<Mount> for OwnedFd {
    fn from(mount: Mount) -> OwnedFd {
        mount.fd
    }
}

impl fmt::Debug for Mount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mount")
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}

/// `open_tree(dirfd, path, flags | OPEN_TREE_CLOEXEC)`: with
/// [`CLONE`](OpenTreeFlags::CLONE), a detached copy of the mount at `path` (of its
/// whole tree with [`RECURSIVE`](OpenTreeFlags::RECURSIVE)); without, a handle on
/// the attached mount, e.g. for [`Mount::set_attr`] or as a `move_mount` source.
/// Since Linux 5.2. Allocates nothing for a `&CStr` path.
///
/// # Errors
/// `ENOENT`, `EINVAL` (unbindable, or `RECURSIVE` without `CLONE`), `EPERM`;
/// [`Unsupported`](Error::Unsupported) before Linux 5.2.
///
/// # References
/// - [`open_tree(2)`](https://man7.org/linux/man-pages/man2/open_tree.2.html)
#[doc(alias = "OPEN_TREE_CLONE")]
#[inline]
pub fn open_tree(dirfd: impl AsFd, path: impl Arg, flags: OpenTreeFlags) -> Result<Mount> {
    let dirfd = dirfd.as_fd();
    with_c_str("path", path, |path| {
        let raw = rmount::OpenTreeFlags::from_bits_retain(
            flags.bits() | rmount::OpenTreeFlags::OPEN_TREE_CLOEXEC.bits(),
        );
        rmount::open_tree(dirfd, path, raw)
            .map(Mount::from)
            .map_err(|errno| {
                let call = Call::new(
                    "open_tree",
                    format_args!(
                        "{}, {path:?}, {}|OPEN_TREE_CLOEXEC",
                        Dirfd(dirfd),
                        Flags(&flags)
                    ),
                );
                if errno == Errno::NOSYS {
                    Error::unsupported("open_tree", "5.2", call, errno)
                } else {
                    Error::syscall(call, errno)
                }
            })
    })
}

/// `open_tree_attr(dirfd, path, flags | OPEN_TREE_CLOEXEC, attr, sizeof(*attr))`:
/// like [`open_tree`] with [`CLONE`](OpenTreeFlags::CLONE), and the clone gets
/// `attr` (attributes, propagation, an idmapping) in the same call, so that no fd
/// of the clone without them ever exists. With [`RECURSIVE`](OpenTreeFlags::RECURSIVE)
/// the attributes apply to the whole cloned tree. Without `CLONE` the kernel
/// changes the attached mount at `path` itself (as [`mount_setattr`] would) and
/// returns a handle on it. It is also the one way to give a clone of an idmapped
/// mount another idmapping (the new one replaces the old): [`mount_setattr`] on such
/// a clone is refused with `EPERM`. Since Linux 6.15. Allocates nothing for a
/// `&CStr` path.
///
/// Before 6.15 the same result takes two calls: [`open_tree`] then
/// [`Mount::set_attr`] (or [`Mount::set_attr_recursive`]).
///
/// # Errors
/// As [`open_tree`] and [`mount_setattr`]; [`Unsupported`](Error::Unsupported)
/// before Linux 6.15 (`ENOSYS`) or for a struct size the kernel does not know
/// (`E2BIG`).
///
/// # Examples
/// ```no_run
/// use std::os::fd::AsFd;
/// use linception_mountapi::{MountAttr, MountSetattr, OpenTreeFlags, open_tree_attr};
///
/// let userns = std::fs::File::open("/proc/1234/ns/user")?;
/// let attr = MountSetattr::new().set(MountAttr::RDONLY).idmap(userns.as_fd());
/// let tree = open_tree_attr(rustix::fs::CWD, c"/srv/data", OpenTreeFlags::CLONE, &attr)?;
/// tree.attach(c"/mnt/data")?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # References
/// - [`open_tree_attr(2)`](https://man7.org/linux/man-pages/man2/open_tree_attr.2.html)
#[doc(alias = "OPEN_TREE_CLONE")]
#[inline]
pub fn open_tree_attr(
    dirfd: impl AsFd,
    path: impl Arg,
    flags: OpenTreeFlags,
    attr: &MountSetattr<'_>,
) -> Result<Mount> {
    let dirfd = dirfd.as_fd();
    with_c_str("path", path, |path| {
        let raw = attr.raw();
        let bits = flags.bits() | rmount::OpenTreeFlags::OPEN_TREE_CLOEXEC.bits();
        sys::open_tree_attr(dirfd, path, bits, &raw)
            .map(Mount::from)
            .map_err(|errno| {
                let call = Call::new(
                    "open_tree_attr",
                    format_args!(
                        "{}, {path:?}, {}|OPEN_TREE_CLOEXEC, {}, {}",
                        Dirfd(dirfd),
                        Flags(&flags),
                        AttrDisplay(attr),
                        sys::MOUNT_ATTR_SIZE_VER0
                    ),
                );
                match errno {
                    Errno::NOSYS => Error::unsupported("open_tree_attr", "6.15", call, errno),
                    Errno::TOOBIG => {
                        Error::unsupported("struct mount_attr (this size)", "6.15", call, errno)
                    }
                    _ => Error::syscall(call, errno),
                }
            })
    })
}

/// `move_mount(from_dirfd, from_path, to_dirfd, to_path, flags)`: moves (or
/// attaches, for a detached mount) the mount at `from` onto `to`. With
/// [`SET_GROUP`](MoveMountFlags::SET_GROUP) it instead puts `to` into `from`'s
/// peer group (Linux 5.15); with [`BENEATH`](MoveMountFlags::BENEATH) it mounts
/// beneath the top mount at `to` (Linux 6.5). Since Linux 5.2. Allocates nothing
/// for `&CStr` paths.
///
/// # Errors
/// `ENOENT`, `EINVAL`, `EPERM`; [`Unsupported`](Error::Unsupported) on ENOSYS.
///
/// # References
/// - [`move_mount(2)`](https://man7.org/linux/man-pages/man2/move_mount.2.html)
#[inline]
pub fn move_mount(
    from_dirfd: impl AsFd,
    from_path: impl Arg,
    to_dirfd: impl AsFd,
    to_path: impl Arg,
    flags: MoveMountFlags,
) -> Result<()> {
    let (from_dirfd, to_dirfd) = (from_dirfd.as_fd(), to_dirfd.as_fd());
    with_c_str("source path", from_path, |from_path| {
        with_c_str("target path", to_path, |to_path| {
            let raw = rmount::MoveMountFlags::from_bits_retain(flags.bits());
            rmount::move_mount(from_dirfd, from_path, to_dirfd, to_path, raw).map_err(|errno| {
                let call = Call::new(
                    "move_mount",
                    format_args!(
                        "{}, {from_path:?}, {}, {to_path:?}, {}",
                        Dirfd(from_dirfd),
                        Dirfd(to_dirfd),
                        Flags(&flags)
                    ),
                );
                match errno {
                    Errno::NOSYS => Error::unsupported("move_mount", "5.2", call, errno),
                    Errno::INVAL if flags.contains(MoveMountFlags::BENEATH) && !beneath_known() => {
                        Error::unsupported("MOVE_MOUNT_BENEATH", "6.5", call, errno)
                    }
                    _ => Error::syscall(call, errno),
                }
            })
        })
    })
}

/// Whether the kernel knows `MOVE_MOUNT_BENEATH`: the flags are checked before the
/// paths, so a move of two empty paths (without `*_EMPTY_PATH`) fails with `EINVAL`
/// where a flag is unknown and `ENOENT` where all are known. Only asked after an
/// `EINVAL`, and allocation free like the rest of `move_mount`.
fn beneath_known() -> bool {
    let flags = rmount::MoveMountFlags::from_bits_retain(MoveMountFlags::BENEATH.bits());
    !matches!(
        rmount::move_mount(rustix::fs::CWD, c"", rustix::fs::CWD, c"", flags),
        Err(Errno::INVAL)
    )
}

/// The arguments of `mount_setattr` (`struct mount_attr`): attributes to set and
/// clear, a propagation type, an idmapping. A builder: nothing happens until it is
/// passed to [`Mount::set_attr`] or [`mount_setattr`].
///
/// The struct is passed with its size (`MOUNT_ATTR_SIZE_VER0`, 32 bytes); a kernel
/// that does not know a size gives `E2BIG`, reported as
/// [`Unsupported`](Error::Unsupported).
///
/// # Examples
/// ```
/// use linception_mountapi::{Atime, MountAttr, MountSetattr, Propagation};
///
/// let attr = MountSetattr::new()
///     .set(MountAttr::RDONLY | MountAttr::NOSUID)
///     .clear(MountAttr::NOEXEC)
///     .atime(Atime::NoAtime)
///     .propagation(Propagation::Private);
/// assert!(attr.attrs_to_set().contains(MountAttr::NOATIME));
/// ```
#[derive(Clone, Copy, Debug, Default)]
#[must_use]
pub struct MountSetattr<'fd> {
    set: MountAttr,
    clear: MountAttr,
    propagation: Option<Propagation>,
    userns: Option<BorrowedFd<'fd>>,
}

impl<'fd> MountSetattr<'fd> {
    /// Changes nothing yet.
    pub fn new() -> Self {
        MountSetattr {
            set: MountAttr::empty(),
            clear: MountAttr::empty(),
            propagation: None,
            userns: None,
        }
    }

    /// Adds attributes to set (`attr_set`). Choose the access-time mode with
    /// [`atime`](Self::atime) instead.
    pub fn set(mut self, attrs: MountAttr) -> Self {
        self.set |= attrs;
        self
    }

    /// Adds attributes to clear (`attr_clr`).
    pub fn clear(mut self, attrs: MountAttr) -> Self {
        self.clear |= attrs;
        self
    }

    /// Sets the access-time mode: clears the whole `MOUNT_ATTR__ATIME` field and
    /// sets `mode` in it, as the kernel requires.
    pub fn atime(mut self, mode: Atime) -> Self {
        self.set = (self.set - MountAttr::ATIME_MASK) | mode.attr();
        self.clear |= MountAttr::ATIME_MASK;
        self
    }

    /// Changes the propagation type (`propagation` = `MS_PRIVATE`, ...).
    pub fn propagation(mut self, propagation: Propagation) -> Self {
        self.propagation = Some(propagation);
        self
    }

    /// Makes the mount idmapped (`MOUNT_ATTR_IDMAP`) with the id mappings of the
    /// user namespace `userns` (an fd of `/proc/PID/ns/user`): a file owned by
    /// uid `k` on the filesystem shows as the uid that `k` maps to in `userns`, and
    /// files created through the mount get the reverse mapping. Only a mount that
    /// is detached (not yet attached) can be idmapped. Since Linux 5.12.
    pub fn idmap(mut self, userns: BorrowedFd<'fd>) -> Self {
        self.set |= MountAttr::IDMAP;
        self.userns = Some(userns);
        self
    }

    /// The attributes this sets.
    pub fn attrs_to_set(&self) -> MountAttr {
        self.set
    }

    /// The attributes this clears.
    pub fn attrs_to_clear(&self) -> MountAttr {
        self.clear
    }

    fn raw(&self) -> sys::MountAttrRaw {
        sys::MountAttrRaw {
            attr_set: self.set.bits(),
            attr_clr: self.clear.bits(),
            propagation: self.propagation.map_or(0, Propagation::ms_flag),
            userns_fd: self.userns.map_or(0, |fd| fd.as_raw_fd() as u64),
        }
    }
}

struct AttrDisplay<'a>(&'a MountSetattr<'a>);

impl fmt::Display for AttrDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let attr = self.0;
        write!(
            f,
            "{{set: {}, clr: {}",
            Flags(&attr.set),
            Flags(&attr.clear)
        )?;
        if let Some(propagation) = attr.propagation {
            write!(f, ", propagation: {}", propagation.name())?;
        }
        if let Some(userns) = attr.userns {
            write!(f, ", userns_fd: {}", userns.as_raw_fd())?;
        }
        f.write_str("}")
    }
}

/// `mount_setattr(dirfd, path, flags, attr, sizeof(*attr))`: changes the
/// attributes, propagation or idmapping of the mount at `path` (of the whole tree
/// with [`RECURSIVE`](SetattrFlags::RECURSIVE)). Since Linux 5.12. Allocates
/// nothing for a `&CStr` path.
///
/// # Errors
/// `EINVAL` for a bad combination (an atime mode without clearing the field,
/// idmapping an attached mount), `EPERM` (clearing a locked attribute in a user
/// namespace, idmapping a filesystem that does not support it, a user namespace
/// the caller has no privilege over); [`Unsupported`](Error::Unsupported) on
/// `ENOSYS` (before 5.12) or `E2BIG` (a struct size the kernel does not know).
///
/// # References
/// - [`mount_setattr(2)`](https://man7.org/linux/man-pages/man2/mount_setattr.2.html)
#[inline]
pub fn mount_setattr(
    dirfd: impl AsFd,
    path: impl Arg,
    flags: SetattrFlags,
    attr: &MountSetattr<'_>,
) -> Result<()> {
    let dirfd = dirfd.as_fd();
    with_c_str("path", path, |path| {
        let raw = attr.raw();
        sys::mount_setattr(dirfd, path, flags.bits(), &raw).map_err(|errno| {
            let call = Call::new(
                "mount_setattr",
                format_args!(
                    "{}, {path:?}, {}, {}, {}",
                    Dirfd(dirfd),
                    Flags(&flags),
                    AttrDisplay(attr),
                    sys::MOUNT_ATTR_SIZE_VER0
                ),
            );
            match errno {
                Errno::NOSYS => Error::unsupported("mount_setattr", "5.12", call, errno),
                Errno::TOOBIG => {
                    Error::unsupported("struct mount_attr (this size)", "5.12", call, errno)
                }
                _ => Error::syscall(call, errno),
            }
        })
    })
}
