//! `statmount` / `listmount` (Linux 6.8) with a chosen request mask, every field up
//! to Linux 6.18, and other mount namespaces (by id or by fd).
#![forbid(unsafe_code)]

use std::ffi::OsStr;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use rustix::io::Errno;

use crate::error::{Call, Error, Result};
use crate::flags::{ListmountFlags, MS_SHARED, MS_SLAVE, MS_UNBINDABLE, MountAttr, StatmountMask};
use crate::info::{MountInfo, PRETEND_ENOSYS, SuperblockFlags};
use crate::sys;
use crate::util::Flags;

/// Which mount namespace a [`statmount`](StatmountReader::stat) or
/// [`listmount`](crate::listmount_in) call looks into.
///
/// # Examples
/// ```no_run
/// use std::os::fd::AsFd;
/// use linception_mountapi::{ListmountFlags, MountNs, mount_ids_in};
///
/// // The mounts of the mount namespace process 1234 is in.
/// let ns = std::fs::File::open("/proc/1234/ns/mnt")?;
/// let ids = mount_ids_in(MountNs::Fd(ns.as_fd()), ListmountFlags::empty())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub enum MountNs<'fd> {
    /// The caller's own mount namespace.
    #[default]
    Current,
    /// The mount namespace with this id (`mnt_id_req.mnt_ns_id`, Linux 6.10): see
    /// [`mount_ns_id`] and [`Statmount::mnt_ns_id`]. Another namespace than the
    /// caller's needs `CAP_SYS_ADMIN` over its user namespace (else `ENOENT`).
    Id(u64),
    /// The mount namespace of this nsfs fd (`/proc/PID/ns/mnt`;
    /// `mnt_id_req.mnt_ns_fd`, Linux 6.18 and the stable kernels that took the fix).
    /// Refused with [`InvalidArgument`](Error::InvalidArgument) if the fd is not a
    /// mount namespace. The fd is the authority: opening `/proc/PID/ns/mnt` took
    /// ptrace access to the process, and the kernel lists the namespace to whoever
    /// holds the fd, where by id it hides one the caller has no privilege over.
    Fd(BorrowedFd<'fd>),
}

impl fmt::Display for MountNs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MountNs::Current => Ok(()),
            MountNs::Id(id) => write!(f, ", mnt_ns_id: {id:#x}"),
            MountNs::Fd(fd) => write!(f, ", mnt_ns_fd: {}", fd.as_raw_fd()),
        }
    }
}

/// The `struct mnt_id_req` for `ns`. Fd 0 is how the kernel spells "no fd", so a
/// namespace fd that happens to be 0 is duplicated first (the copy is returned to
/// be kept alive for the call).
fn request(
    ns: MountNs<'_>,
    mnt_id: u64,
    param: u64,
) -> std::result::Result<(sys::MntIdReq, Option<OwnedFd>), Errno> {
    let mut req = sys::MntIdReq {
        size: sys::MNT_ID_REQ_SIZE_VER0,
        mnt_id,
        param,
        ..Default::default()
    };
    let mut keep = None;
    match ns {
        MountNs::Current => {}
        MountNs::Id(id) => {
            req.size = sys::MNT_ID_REQ_SIZE_VER1;
            req.mnt_ns_id = id;
        }
        MountNs::Fd(fd) => {
            let raw = if fd.as_raw_fd() == 0 {
                let copy = rustix::io::fcntl_dupfd_cloexec(fd, 3)?;
                let raw = copy.as_raw_fd();
                keep = Some(copy);
                raw
            } else {
                fd.as_raw_fd()
            };
            req.mnt_ns_fd = raw as u32;
        }
    }
    Ok((req, keep))
}

/// Turns a failed `statmount`/`listmount` into the crate's error: ENOSYS is
/// `Unsupported`; so is EINVAL for a namespace fd the kernel cannot take yet (it
/// refused a non-zero `spare` before 6.18), while an fd that is no mount namespace
/// at all is `InvalidArgument`; and E2BIG (or EINVAL) for a namespace id before
/// 6.10.
fn classify(op: &'static str, ns: MountNs<'_>, call: Call, errno: Errno) -> Error {
    match (errno, ns) {
        (Errno::NOSYS, _) => Error::unsupported(op, "6.8", call, errno),
        (Errno::INVAL, MountNs::Fd(fd)) => match sys::ns_get_nstype(fd) {
            Ok(libc::CLONE_NEWNS) => {
                Error::unsupported("mnt_id_req.mnt_ns_fd", "6.18", call, errno)
            }
            _ => Error::InvalidArgument {
                what: "mount namespace fd",
                value: format!("fd {}", fd.as_raw_fd()),
                reason: "is not a mount namespace (an fd of /proc/PID/ns/mnt)",
            },
        },
        // 6.8 and 6.9 take only the 24-byte request: a longer one with a non-zero
        // tail is E2BIG (copy_struct_from_user).
        (Errno::TOOBIG, MountNs::Id(_)) => {
            Error::unsupported("mnt_id_req.mnt_ns_id", "6.10", call, errno)
        }
        (Errno::INVAL, MountNs::Id(_)) if !ver1_known() => {
            Error::unsupported("mnt_id_req.mnt_ns_id", "6.10", call, errno)
        }
        _ => Error::syscall(call, errno),
    }
}

/// Whether the kernel takes `MNT_ID_REQ_SIZE_VER1` requests (a listmount of the
/// caller's own namespace by its id of 0 is fine where it does).
fn ver1_known() -> bool {
    let req = sys::MntIdReq {
        size: sys::MNT_ID_REQ_SIZE_VER1,
        mnt_id: crate::LSMT_ROOT,
        ..Default::default()
    };
    let mut one = [0u64; 1];
    sys::listmount(&req, &mut one, 0).is_ok()
}

/// The id of the mount namespace behind `fd` (an fd of `/proc/PID/ns/mnt`), as
/// [`MountNs::Id`] and [`Statmount::mnt_ns_id`] use it. `ioctl(fd,
/// NS_GET_MNTNS_ID)`, since Linux 6.10.
///
/// # Errors
/// [`InvalidArgument`](Error::InvalidArgument) if `fd` is no mount namespace,
/// [`Unsupported`](Error::Unsupported) before Linux 6.10.
///
/// # References
/// - [`ioctl_nsfs(2)`](https://man7.org/linux/man-pages/man2/ioctl_nsfs.2.html)
#[doc(alias = "NS_GET_MNTNS_ID")]
pub fn mount_ns_id(fd: impl AsFd) -> Result<u64> {
    let fd = fd.as_fd();
    sys::ns_get_mntns_id(fd).map_err(|errno| {
        let call = Call::new(
            "ioctl",
            format_args!("fd {}, NS_GET_MNTNS_ID", fd.as_raw_fd()),
        );
        match sys::ns_get_nstype(fd) {
            Ok(libc::CLONE_NEWNS) if errno == Errno::NOTTY || errno == Errno::INVAL => {
                Error::unsupported("NS_GET_MNTNS_ID", "6.10", call, errno)
            }
            Ok(libc::CLONE_NEWNS) => Error::syscall(call, errno),
            _ => Error::InvalidArgument {
                what: "mount namespace fd",
                value: format!("fd {}", fd.as_raw_fd()),
                reason: "is not a mount namespace (an fd of /proc/PID/ns/mnt)",
            },
        }
    })
}

/// `listmount(&{mnt_id, param: last_mnt_id, ns}, ids, ids.len(), flags)`: like
/// [`listmount`](crate::listmount), in the mount namespace `ns`. Allocates nothing
/// (unless the namespace fd is fd 0).
///
/// # Errors
/// As [`listmount`](crate::listmount); `EPERM` without `CAP_SYS_ADMIN` over the
/// other namespace's user namespace; [`Unsupported`](Error::Unsupported) for a
/// [`MountNs::Fd`] before Linux 6.18 or a [`MountNs::Id`] before 6.10.
///
/// # References
/// - [`listmount(2)`](https://man7.org/linux/man-pages/man2/listmount.2.html)
pub fn listmount_in(
    ns: MountNs<'_>,
    mnt_id: u64,
    last_mnt_id: u64,
    ids: &mut [u64],
    flags: ListmountFlags,
) -> Result<usize> {
    let n = ids.len();
    let fail = |errno| {
        let call = Call::new(
            "listmount",
            format_args!(
                "{{mnt_id: {mnt_id:#x}, param: {last_mnt_id}{ns}}}, buf, {n}, {}",
                Flags(&flags)
            ),
        );
        classify("listmount", ns, call, errno)
    };
    if PRETEND_ENOSYS.load(Ordering::Relaxed) {
        return Err(fail(Errno::NOSYS));
    }
    let (req, _keep) = request(ns, mnt_id, last_mnt_id).map_err(fail)?;
    sys::listmount(&req, ids, flags.bits()).map_err(fail)
}

/// Every mount id of the namespace `ns`, page after page, like
/// [`mount_ids`](crate::mount_ids).
///
/// # Errors
/// As [`listmount_in`].
///
/// # References
/// - [`listmount(2)`](https://man7.org/linux/man-pages/man2/listmount.2.html)
pub fn mount_ids_in(ns: MountNs<'_>, flags: ListmountFlags) -> Result<Vec<u64>> {
    let mut ids = Vec::new();
    let mut page = [0u64; 256];
    let mut last = 0;
    loop {
        let n = listmount_in(ns, crate::LSMT_ROOT, last, &mut page, flags)?;
        ids.extend_from_slice(&page[..n]);
        if n < page.len() {
            return Ok(ids);
        }
        last = page[n - 1];
    }
}

/// The mounts of the namespace `ns` as [`MountInfo`]s, in mount order: what
/// `/proc/PID/mountinfo` of a process in that namespace shows (mount points
/// relative to the caller's root), without entering it.
///
/// # Errors
/// As [`listmount_in`] and [`StatmountReader::stat`].
pub fn mount_table_in(ns: MountNs<'_>) -> Result<Vec<MountInfo>> {
    let ids = mount_ids_in(ns, ListmountFlags::empty())?;
    let mut reader = StatmountReader::new();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        match reader.stat(ns, id, MountInfo::STATMOUNT_MASK) {
            Ok(stat) => out.push(MountInfo::from(&stat)),
            // Unmounted between the two calls.
            Err(err) if err.raw_os_error() == Some(libc::ENOENT) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(out)
}

/// One uid or gid mapping of an idmapped mount ([`Statmount::uid_map`]): ids
/// `inside..inside + count` on the filesystem appear as `outside..outside + count`,
/// as seen from the caller's user namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IdMapping {
    /// The first id of the range in the mount's user namespace.
    pub inside: u32,
    /// The first id it maps to, in the caller's user namespace; `u32::MAX`
    /// (`(uid_t) -1`) when the range cannot be expressed there.
    pub outside: u32,
    /// How many ids.
    pub count: u32,
}

/// `STATMOUNT_SB_BASIC`: the superblock's device, magic and flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct SuperblockBasic {
    /// The device, `(major, minor)`.
    pub device: (u32, u32),
    /// The filesystem magic (`TMPFS_MAGIC`, `EXT4_SUPER_MAGIC`, ...; `statfs`'s
    /// `f_type`).
    pub magic: u64,
    /// `SB_RDONLY`, `SB_SYNCHRONOUS`, `SB_DIRSYNC`, `SB_LAZYTIME`.
    pub flags: SuperblockFlags,
}

/// `STATMOUNT_MNT_BASIC`: ids, attributes and propagation of the mount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct MountBasic {
    /// The unique 64-bit mount id (never reused).
    pub id: u64,
    /// The parent's unique id (its own for a namespace root).
    pub parent_id: u64,
    /// The 32-bit id `/proc/PID/mountinfo` shows (reused).
    pub id_old: u32,
    /// The parent's 32-bit id.
    pub parent_id_old: u32,
    /// `MOUNT_ATTR_*`.
    pub attributes: MountAttr,
    /// The raw propagation flags (`MS_SHARED | MS_SLAVE | MS_PRIVATE |
    /// MS_UNBINDABLE`).
    pub propagation: u64,
    /// The peer group of a shared mount (`shared:N`).
    pub peer_group: Option<u64>,
    /// The peer group a slave receives from (`master:N`).
    pub master: Option<u64>,
}

impl MountBasic {
    /// Whether the mount is unbindable (`MS_UNBINDABLE`).
    pub fn is_unbindable(&self) -> bool {
        self.propagation & MS_UNBINDABLE != 0
    }
}

/// One mount as `statmount` reports it: each field is `Some` when it was asked
/// for and this kernel filled it ([`mask`](Self::mask)), `None` otherwise.
/// Strings are exact: as the kernel holds them, with no escapes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Statmount {
    /// The fields the kernel filled (`statmount.mask`).
    pub mask: StatmountMask,
    /// The mask bits this kernel knows (`STATMOUNT_SUPPORTED_MASK`, Linux 6.15).
    pub supported_mask: Option<StatmountMask>,
    /// `STATMOUNT_SB_BASIC`.
    pub superblock: Option<SuperblockBasic>,
    /// `STATMOUNT_MNT_BASIC`.
    pub basic: Option<MountBasic>,
    /// `STATMOUNT_PROPAGATE_FROM`: the nearest dominating peer group in the
    /// caller's namespace (0 when none).
    pub propagate_from: Option<u64>,
    /// `STATMOUNT_MNT_ROOT`: the mount's root within its filesystem.
    pub root: Option<PathBuf>,
    /// `STATMOUNT_MNT_POINT`: the mount point, relative to the caller's root.
    pub mount_point: Option<PathBuf>,
    /// `STATMOUNT_FS_TYPE`: `"tmpfs"`, `"fuse"`, ...
    pub fs_type: Option<String>,
    /// `STATMOUNT_FS_SUBTYPE` (Linux 6.12): `"sshfs"` of `fuse.sshfs`; empty when
    /// the filesystem has none.
    pub fs_subtype: Option<String>,
    /// `STATMOUNT_SB_SOURCE` (Linux 6.12): the source string (empty for none).
    pub source: Option<String>,
    /// `STATMOUNT_MNT_NS_ID` (Linux 6.10): the id of the mount namespace.
    pub mnt_ns_id: Option<u64>,
    /// `STATMOUNT_MNT_OPTS` (Linux 6.11): the filesystem options, comma separated
    /// and escaped as in mountinfo.
    pub options: Option<String>,
    /// `STATMOUNT_OPT_ARRAY` (Linux 6.13): the filesystem options one by one,
    /// unescaped.
    pub option_array: Option<Vec<String>>,
    /// `STATMOUNT_OPT_SEC_ARRAY` (Linux 6.13): the security (LSM) options.
    pub security_options: Option<Vec<String>>,
    /// `STATMOUNT_MNT_UIDMAP` (Linux 6.15): the uid mappings of an idmapped mount
    /// (empty for a mount that is not idmapped).
    pub uid_map: Option<Vec<IdMapping>>,
    /// `STATMOUNT_MNT_GIDMAP` (Linux 6.15): the gid mappings.
    pub gid_map: Option<Vec<IdMapping>>,
}

impl MountInfo {
    /// The `statmount` mask that fills every field of a [`MountInfo`].
    pub const STATMOUNT_MASK: StatmountMask = StatmountMask::SB_BASIC
        .union(StatmountMask::MNT_BASIC)
        .union(StatmountMask::PROPAGATE_FROM)
        .union(StatmountMask::MNT_ROOT)
        .union(StatmountMask::MNT_POINT)
        .union(StatmountMask::FS_TYPE)
        .union(StatmountMask::MNT_OPTS)
        .union(StatmountMask::FS_SUBTYPE)
        .union(StatmountMask::SB_SOURCE);
}

impl From<&Statmount> for MountInfo {
    /// The mountinfo view of a [`Statmount`]: what mountinfo shows, decoded the
    /// way [`parse_mountinfo_line`](crate::parse_mountinfo_line) decodes it. Fields
    /// that were not asked for are zero or empty.
    fn from(s: &Statmount) -> MountInfo {
        let basic = s.basic;
        let sb = s.superblock;
        MountInfo {
            id: basic.map_or(0, |b| b.id_old),
            parent_id: basic.map_or(0, |b| b.parent_id_old),
            unique_id: basic.map(|b| b.id),
            parent_unique_id: basic.map(|b| b.parent_id),
            device: sb.map_or((0, 0), |sb| sb.device),
            root: s.root.clone().unwrap_or_default(),
            mount_point: s.mount_point.clone().unwrap_or_default(),
            attributes: basic.map_or(MountAttr::empty(), |b| b.attributes),
            peer_group: basic.and_then(|b| b.peer_group),
            master: basic.and_then(|b| b.master),
            // As in mountinfo: only for a slave, and only when it differs from the
            // master.
            propagate_from: match (s.propagate_from, basic.and_then(|b| b.master)) {
                (Some(from), Some(master)) if from != 0 && from != master => Some(from),
                _ => None,
            },
            unbindable: basic.is_some_and(|b| b.is_unbindable()),
            fs_type: s.fs_type.clone().unwrap_or_default(),
            fs_subtype: s.fs_subtype.clone().filter(|t| !t.is_empty()),
            source: s.source.as_ref().map(|source| {
                if source.is_empty() {
                    "none".to_string()
                } else {
                    source.clone()
                }
            }),
            options: s.options.clone(),
            superblock_flags: sb.map_or(SuperblockFlags::empty(), |sb| sb.flags),
        }
    }
}

/// Reads mounts with `statmount`, reusing one buffer. The kernel fails with
/// `EOVERFLOW` when the strings do not fit; the reader then doubles its buffer and
/// asks again (up to 1 MiB), so every string comes back whole.
///
/// # Examples
/// ```no_run
/// use linception_mountapi::{ListmountFlags, MountNs, StatmountMask, StatmountReader, mount_ids};
///
/// let mut reader = StatmountReader::new();
/// for id in mount_ids(ListmountFlags::empty())? {
///     // Only what is needed: the kernel skips the string work for the rest.
///     let stat = reader.stat(MountNs::Current, id, StatmountMask::FS_TYPE | StatmountMask::MNT_POINT)?;
///     println!("{id:#x} {:?} {:?}", stat.fs_type, stat.mount_point);
/// }
/// # Ok::<(), linception_mountapi::Error>(())
/// ```
#[derive(Debug)]
pub struct StatmountReader {
    buf: Vec<u64>,
}

impl Default for StatmountReader {
    fn default() -> Self {
        Self::new()
    }
}

/// Byte offsets in `struct statmount` (include/uapi/linux/mount.h, Linux 6.18).
mod off {
    pub const SIZE: usize = 0;
    pub const MNT_OPTS: usize = 4;
    pub const MASK: usize = 8;
    pub const SB_DEV_MAJOR: usize = 16;
    pub const SB_DEV_MINOR: usize = 20;
    pub const SB_MAGIC: usize = 24;
    pub const SB_FLAGS: usize = 32;
    pub const FS_TYPE: usize = 36;
    pub const MNT_ID: usize = 40;
    pub const MNT_PARENT_ID: usize = 48;
    pub const MNT_ID_OLD: usize = 56;
    pub const MNT_PARENT_ID_OLD: usize = 60;
    pub const MNT_ATTR: usize = 64;
    pub const MNT_PROPAGATION: usize = 72;
    pub const MNT_PEER_GROUP: usize = 80;
    pub const MNT_MASTER: usize = 88;
    pub const PROPAGATE_FROM: usize = 96;
    pub const MNT_ROOT: usize = 104;
    pub const MNT_POINT: usize = 108;
    pub const MNT_NS_ID: usize = 112;
    pub const FS_SUBTYPE: usize = 120;
    pub const SB_SOURCE: usize = 124;
    pub const OPT_NUM: usize = 128;
    pub const OPT_ARRAY: usize = 132;
    pub const OPT_SEC_NUM: usize = 136;
    pub const OPT_SEC_ARRAY: usize = 140;
    pub const SUPPORTED_MASK: usize = 144;
    pub const MNT_UIDMAP_NUM: usize = 152;
    pub const MNT_UIDMAP: usize = 156;
    pub const MNT_GIDMAP_NUM: usize = 160;
    pub const MNT_GIDMAP: usize = 164;
    /// `sizeof(struct statmount)`: where `str[]` starts.
    pub const STR: usize = 512;
}

/// The largest buffer the reader grows to.
const MAX_BUFFER: usize = 1 << 20;

impl StatmountReader {
    /// A reader with a 4 KiB buffer.
    pub fn new() -> Self {
        Self::with_capacity(4096)
    }

    /// A reader whose buffer starts at `bytes` (rounded up to 8, at least
    /// `sizeof(struct statmount)`, 512 bytes).
    pub fn with_capacity(bytes: usize) -> Self {
        let words = bytes.max(off::STR).div_ceil(8);
        StatmountReader {
            buf: vec![0; words],
        }
    }

    /// The buffer's current size in bytes (it grows on `EOVERFLOW`).
    pub fn capacity(&self) -> usize {
        self.buf.len() * 8
    }

    /// `statmount(&{mnt_id, param: mask}, buf, size, 0)` into a [`MountInfo`]:
    /// asks for every field of [`MountInfo`] ([`MountInfo::STATMOUNT_MASK`]); fields
    /// an older kernel lacks come back `None`.
    ///
    /// # Errors
    /// As [`stat`](Self::stat).
    ///
    /// # References
    /// - [`statmount(2)`](https://man7.org/linux/man-pages/man2/statmount.2.html)
    pub fn read(&mut self, mnt_id: u64) -> Result<MountInfo> {
        self.stat(MountNs::Current, mnt_id, MountInfo::STATMOUNT_MASK)
            .map(|stat| MountInfo::from(&stat))
    }

    /// `statmount(&{mnt_id, param: mask, ns}, buf, size, 0)`: the fields in `mask`
    /// of the mount with unique id `mnt_id` in the namespace `ns`. Ask only for
    /// what you need: each string field costs the kernel a path walk or a
    /// `seq_file` pass. Bits this kernel does not know are ignored by it (they are
    /// missing from [`Statmount::mask`]). Since Linux 6.8.
    ///
    /// # Errors
    /// `ENOENT` (no such mount in that namespace, or a namespace the caller may not
    /// see), [`Unsupported`](Error::Unsupported) before Linux 6.8 (and for
    /// `ns` as for [`listmount_in`]), [`InvalidArgument`](Error::InvalidArgument)
    /// for a namespace fd that is no mount namespace.
    ///
    /// # References
    /// - [`statmount(2)`](https://man7.org/linux/man-pages/man2/statmount.2.html)
    pub fn stat(&mut self, ns: MountNs<'_>, mnt_id: u64, mask: StatmountMask) -> Result<Statmount> {
        self.raw(ns, mnt_id, mask)?;
        Ok(self.decode())
    }

    fn raw(&mut self, ns: MountNs<'_>, mnt_id: u64, mask: StatmountMask) -> Result<()> {
        let fail = |len: usize, errno| {
            let call = Call::new(
                "statmount",
                format_args!(
                    "{{mnt_id: {mnt_id:#x}, param: {}{ns}}}, buf, {len}, 0",
                    Flags(&mask),
                ),
            );
            classify("statmount", ns, call, errno)
        };
        if PRETEND_ENOSYS.load(Ordering::Relaxed) {
            return Err(fail(self.capacity(), Errno::NOSYS));
        }
        let (req, _keep) = request(ns, mnt_id, mask.bits()).map_err(|e| fail(0, e))?;
        loop {
            match sys::statmount(&req, &mut self.buf) {
                Ok(()) => return Ok(()),
                Err(Errno::OVERFLOW) if self.capacity() < MAX_BUFFER => {
                    let len = self.buf.len() * 2;
                    self.buf.resize(len, 0);
                }
                Err(errno) => return Err(fail(self.capacity(), errno)),
            }
        }
    }

    fn decode(&self) -> Statmount {
        let b = sys::words_as_bytes(&self.buf);
        let u32_at = |o: usize| u32::from_ne_bytes(b[o..o + 4].try_into().unwrap_or([0; 4]));
        let u64_at = |o: usize| u64::from_ne_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
        let size = (u32_at(off::SIZE) as usize).min(b.len());
        let got = StatmountMask::from_bits_retain(u64_at(off::MASK));
        let has = |bit: StatmountMask| got.contains(bit);
        // `count` NUL-terminated strings from the string offset stored at `field`.
        let strings = |field: usize, count: usize| -> Vec<&[u8]> {
            let mut out = Vec::with_capacity(count);
            let mut at = off::STR + u32_at(field) as usize;
            for _ in 0..count {
                let Some(tail) = b.get(at..size) else { break };
                let end = tail.iter().position(|&c| c == 0).unwrap_or(tail.len());
                out.push(&tail[..end]);
                at += end + 1;
            }
            out
        };
        let string = |field: usize, bit: StatmountMask| -> Option<&[u8]> {
            has(bit).then(|| strings(field, 1).first().copied().unwrap_or_default())
        };
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        let path = |bytes: &[u8]| PathBuf::from(OsStr::from_bytes(bytes));
        let texts = |field: usize, num: usize, bit: StatmountMask| -> Option<Vec<String>> {
            has(bit).then(|| {
                strings(field, u32_at(num) as usize)
                    .into_iter()
                    .map(text)
                    .collect()
            })
        };
        let idmap = |field: usize, num: usize, bit: StatmountMask| -> Option<Vec<IdMapping>> {
            has(bit).then(|| {
                strings(field, u32_at(num) as usize)
                    .into_iter()
                    .filter_map(parse_mapping)
                    .collect()
            })
        };
        let propagation = u64_at(off::MNT_PROPAGATION);
        Statmount {
            mask: got,
            supported_mask: has(StatmountMask::SUPPORTED_MASK)
                .then(|| StatmountMask::from_bits_retain(u64_at(off::SUPPORTED_MASK))),
            superblock: has(StatmountMask::SB_BASIC).then(|| SuperblockBasic {
                device: (u32_at(off::SB_DEV_MAJOR), u32_at(off::SB_DEV_MINOR)),
                magic: u64_at(off::SB_MAGIC),
                flags: SuperblockFlags::from_bits_retain(u32_at(off::SB_FLAGS)),
            }),
            basic: has(StatmountMask::MNT_BASIC).then(|| MountBasic {
                id: u64_at(off::MNT_ID),
                parent_id: u64_at(off::MNT_PARENT_ID),
                id_old: u32_at(off::MNT_ID_OLD),
                parent_id_old: u32_at(off::MNT_PARENT_ID_OLD),
                attributes: MountAttr::from_bits_retain(u64_at(off::MNT_ATTR)),
                propagation,
                peer_group: (propagation & MS_SHARED != 0).then(|| u64_at(off::MNT_PEER_GROUP)),
                master: (propagation & MS_SLAVE != 0).then(|| u64_at(off::MNT_MASTER)),
            }),
            propagate_from: has(StatmountMask::PROPAGATE_FROM).then(|| u64_at(off::PROPAGATE_FROM)),
            root: string(off::MNT_ROOT, StatmountMask::MNT_ROOT).map(path),
            mount_point: string(off::MNT_POINT, StatmountMask::MNT_POINT).map(path),
            fs_type: string(off::FS_TYPE, StatmountMask::FS_TYPE).map(text),
            fs_subtype: string(off::FS_SUBTYPE, StatmountMask::FS_SUBTYPE).map(text),
            source: string(off::SB_SOURCE, StatmountMask::SB_SOURCE).map(text),
            mnt_ns_id: has(StatmountMask::MNT_NS_ID).then(|| u64_at(off::MNT_NS_ID)),
            options: string(off::MNT_OPTS, StatmountMask::MNT_OPTS).map(text),
            option_array: texts(off::OPT_ARRAY, off::OPT_NUM, StatmountMask::OPT_ARRAY),
            security_options: texts(
                off::OPT_SEC_ARRAY,
                off::OPT_SEC_NUM,
                StatmountMask::OPT_SEC_ARRAY,
            ),
            uid_map: idmap(
                off::MNT_UIDMAP,
                off::MNT_UIDMAP_NUM,
                StatmountMask::MNT_UIDMAP,
            ),
            gid_map: idmap(
                off::MNT_GIDMAP,
                off::MNT_GIDMAP_NUM,
                StatmountMask::MNT_GIDMAP,
            ),
        }
    }
}

/// `"inside outside count"`, as the kernel prints one mapping.
fn parse_mapping(bytes: &[u8]) -> Option<IdMapping> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut numbers = text.split(' ').map(|n| n.parse::<u32>().ok());
    let (inside, outside, count) = (numbers.next()??, numbers.next()??, numbers.next()??);
    numbers.next().is_none().then_some(IdMapping {
        inside,
        outside,
        count,
    })
}

/// `statmount` of the mount with unique id `mnt_id` in the namespace `ns`, the
/// fields in `mask`; see [`StatmountReader::stat`].
///
/// # Errors
/// As [`StatmountReader::stat`].
///
/// # References
/// - [`statmount(2)`](https://man7.org/linux/man-pages/man2/statmount.2.html)
pub fn statmount_in(ns: MountNs<'_>, mnt_id: u64, mask: StatmountMask) -> Result<Statmount> {
    StatmountReader::new().stat(ns, mnt_id, mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_parse_as_the_kernel_prints_them() {
        assert_eq!(
            parse_mapping(b"0 100000 1000"),
            Some(IdMapping {
                inside: 0,
                outside: 100000,
                count: 1000
            })
        );
        assert_eq!(
            parse_mapping(b"5 4294967295 1").map(|m| m.outside),
            Some(u32::MAX)
        );
        assert_eq!(parse_mapping(b"1 2"), None);
        assert_eq!(parse_mapping(b"1 2 3 4"), None);
    }

    /// What a kernel before 6.18 answers for a namespace fd (EINVAL: `spare` must
    /// be zero) becomes `Unsupported` for a real mount namespace fd, and
    /// `InvalidArgument` naming the fd for any other fd.
    #[test]
    fn einval_for_a_namespace_fd_is_classified_by_the_fd() {
        let call = || Call::new("listmount", format_args!("test"));
        let mnt = std::fs::File::open("/proc/self/ns/mnt").unwrap();
        let err = classify("listmount", MountNs::Fd(mnt.as_fd()), call(), Errno::INVAL);
        assert_eq!(err.kind(), crate::ErrorKind::Unsupported, "{err}");
        assert!(
            err.to_string().starts_with(
                "mnt_id_req.mnt_ns_fd is not supported by this kernel (needs Linux 6.18)"
            ),
            "{err}"
        );
        let user = std::fs::File::open("/proc/self/ns/user").unwrap();
        let err = classify("listmount", MountNs::Fd(user.as_fd()), call(), Errno::INVAL);
        assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument, "{err}");
        assert!(
            err.to_string().starts_with(&format!(
                "invalid mount namespace fd \"fd {}\"",
                user.as_raw_fd()
            )),
            "{err}"
        );
        let err = classify("listmount", MountNs::Id(1), call(), Errno::TOOBIG);
        assert_eq!(err.kind(), crate::ErrorKind::Unsupported, "{err}");
        assert!(err.to_string().contains("(needs Linux 6.10)"), "{err}");
        let err = classify("statmount", MountNs::Current, call(), Errno::NOSYS);
        assert_eq!(err.kind(), crate::ErrorKind::Unsupported, "{err}");
        // This kernel knows mnt_ns_id, so EINVAL with one is the kernel's EINVAL.
        if ver1_known() {
            let err = classify("listmount", MountNs::Id(1), call(), Errno::INVAL);
            assert_eq!(err.kind(), crate::ErrorKind::Os, "{err}");
        }
    }
}
