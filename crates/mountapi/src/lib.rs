//! The Linux new mount API: `fsopen`, `fsconfig`, `fsmount`, `move_mount`,
//! `open_tree`, `fspick`, `mount_setattr` (with idmapped mounts), and the mount
//! table through `statmount` / `listmount` or `/proc/self/mountinfo`.
//!
//! A mount is built as a detached object: configure a filesystem with typed
//! parameters ([`FsContext`]), create it, turn it into a [`Mount`] fd, adjust its
//! attributes ([`MountSetattr`]), and attach it with `move_mount`. When the kernel
//! refuses a parameter, its own message comes with the error.
//!
//! ```no_run
//! use linception_mountapi::{FsContext, Mount, MountAttr, MountSetattr};
//!
//! // tmpfs with options, attached at /mnt/scratch.
//! let fs = FsContext::open(c"tmpfs")?;
//! fs.set_string(c"size", c"64m")?;
//! fs.set_string(c"mode", c"0700")?;
//! fs.create()?;
//! fs.mount(MountAttr::NOSUID | MountAttr::NODEV)?.attach(c"/mnt/scratch")?;
//!
//! // A read-only recursive bind mount of /usr.
//! let usr = Mount::clone_tree_recursive(c"/usr")?;
//! usr.set_attr_recursive(&MountSetattr::new().set(MountAttr::RDONLY))?;
//! usr.attach(c"/mnt/usr")?;
//!
//! // A bad value: the error carries the kernel's message.
//! let fs = FsContext::open(c"tmpfs")?;
//! let err = fs.set_string(c"size", c"lots").unwrap_err();
//! assert!(err.to_string().contains("tmpfs: Bad value for 'size'"));
//! # Ok::<(), linception_mountapi::Error>(())
//! ```
//!
//! # Kernel support
//! | feature | since | for | fallback |
//! |---|---|---|---|
//! | `fsopen`, `fsconfig`, `fsmount`, `move_mount`, `open_tree`, `fspick` | 5.2 | building and attaching mounts as fds | `Unsupported` |
//! | `mount_setattr`, `MOUNT_ATTR_IDMAP` | 5.12 | attributes of a tree, idmapped mounts | `Unsupported` |
//! | `MOUNT_ATTR_NOSYMFOLLOW` | 5.14 | | `EINVAL` |
//! | `MOVE_MOUNT_SET_GROUP` | 5.15 | joining a peer group | `EINVAL` |
//! | `MOVE_MOUNT_BENEATH` | 6.5 | replacing a mount seamlessly | `Unsupported` |
//! | `FSCONFIG_CMD_CREATE_EXCL` | 6.6 | refusing to reuse a superblock | `EINVAL` |
//! | `statmount`, `listmount`, `STATX_MNT_ID_UNIQUE` | 6.8 | reading the mount table without parsing text | `/proc/self/mountinfo` ([`MountTableSource::Auto`]) |
//! | `statmount` options / subtype and source | 6.11 / 6.12 | | fields are `None` |
//! | `LISTMOUNT_REVERSE` | 6.11 | newest mounts first | `EINVAL` |
//! | another mount namespace by id ([`MountNs::Id`]), `STATMOUNT_MNT_NS_ID`, [`mount_ns_id`] | 6.10 | reading a container's mounts without entering it | `Unsupported`; `/proc/PID/mountinfo` |
//! | `STATMOUNT_OPT_ARRAY`, `STATMOUNT_OPT_SEC_ARRAY` | 6.13 | options one by one, unescaped | fields are `None` |
//! | [`open_tree_attr`] | 6.15 | a clone with its attributes (an idmap) in one call | `Unsupported`; [`open_tree`] + [`mount_setattr`] |
//! | `STATMOUNT_SUPPORTED_MASK`, `STATMOUNT_MNT_UIDMAP`/`GIDMAP` | 6.15 | what the kernel knows; an idmapped mount's maps | fields are `None` |
//! | [`MountWatch`]: fanotify `FAN_REPORT_MNT`, `FAN_MARK_MNTNS` | 6.15 | mount/unmount/move events of a namespace | `Unsupported`; re-read the table |
//! | another mount namespace by fd ([`MountNs::Fd`], `mnt_id_req.mnt_ns_fd`) | 6.18 | the same, from a `/proc/PID/ns/mnt` fd | `Unsupported` |
//!
//! # Cargo features
//! - `tokio`: [`MountWatch::into_async`] gives an `AsyncMountWatch` whose
//!   `next_event().await` / `poll_next_event` wait on the reactor
//!   (`tokio::io::unix::AsyncFd`).
//!
//! Unprivileged, in a user namespace that owns the mount namespace, the API works
//! for the filesystems that allow it (tmpfs, proc, sysfs, overlay, fuse, bind
//! mounts); idmapped mounts need privilege over the filesystem's user namespace.
//!
//! # Between clone and exec
//! [`Mount`]'s methods and [`move_mount`], [`open_tree`], [`mount_setattr`]
//! allocate nothing when given `&CStr` paths, on success or failure; the
//! [`FsContext`] calls (`fsopen`, `fsconfig`, `fsmount`) allocate nothing on
//! success, and nothing on failure either with [`LogCapture::Leave`] (by default a
//! failure collects the kernel's messages into `String`s); the child then reads
//! the messages into a buffer of its own with [`FsContext::read_log_into`]. A
//! failed call is recorded inline ([`Call`], from `linception-errno`, shared by the
//! linception crates) and displays as `op(args): Text (ERRNO)`.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_op_in_unsafe_fn)]
// The error keeps the failed call's description inline (no allocation on the
// failure path of calls made between clone and exec), which makes it large.
#![allow(clippy::result_large_err)]

mod error;
mod flags;
mod fs_context;
mod info;
mod mount;
mod notify;
mod statmount;
#[allow(unsafe_code)]
mod sys;
#[cfg(feature = "tokio")]
mod tokio;
mod util;

pub use error::{Call, Error, ErrorKind, LogLevel, LogMessage, Result};
pub use flags::{
    Atime, FsPickFlags, ListmountFlags, MountAttr, MoveMountFlags, OpenTreeFlags, Propagation,
    SetattrFlags, StatmountMask,
};
pub use fs_context::{FsContext, LogCapture};
pub use info::{
    _test_pretend_no_statmount, LSMT_ROOT, MountInfo, MountTableSource, SuperblockFlags, listmount,
    mount_ids, mount_table, parse_mountinfo, parse_mountinfo_line, read_mountinfo, statmount,
    unescape, unique_mount_id,
};
pub use mount::{Mount, MountSetattr, mount_setattr, move_mount, open_tree, open_tree_attr};
pub use notify::{Events, MountEvent, MountEvents, MountWatch};
/// The path-like argument type of this crate's calls (`&CStr`, `&str`, `&Path`,
/// `String`, ...), from rustix. `&CStr` is passed through without a copy.
pub use rustix::path::Arg;
pub use statmount::{
    IdMapping, MountBasic, MountNs, Statmount, StatmountReader, SuperblockBasic, listmount_in,
    mount_ids_in, mount_ns_id, mount_table_in, statmount_in,
};
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use tokio::AsyncMountWatch;
