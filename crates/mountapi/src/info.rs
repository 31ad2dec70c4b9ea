//! Reading the mount table: `statmount` / `listmount` (Linux 6.8), with
//! `/proc/self/mountinfo` as the fallback, both giving [`MountInfo`].
#![forbid(unsafe_code)]

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use bitflags::bitflags;
use rustix::io::Errno;

use crate::error::{Call, Error, Result};
use crate::flags::{ListmountFlags, MountAttr};
use crate::sys;
use crate::util::Flags;

/// `LSMT_ROOT`: the root mount of the caller's mount namespace, for [`listmount`].
pub const LSMT_ROOT: u64 = u64::MAX;

bitflags! {
    /// Superblock flags reported for a mount (`SB_*`; in mountinfo the `ro`/`rw`,
    /// `sync`, `dirsync`, `lazytime` super options).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct SuperblockFlags: u32 {
        /// `SB_RDONLY`: the filesystem itself is read-only.
        const RDONLY = 1;
        /// `SB_SYNCHRONOUS`: writes are synced at once.
        const SYNCHRONOUS = 16;
        /// `SB_DIRSYNC`: directory changes are synchronous.
        const DIRSYNC = 128;
        /// `SB_LAZYTIME`: timestamps are written lazily.
        const LAZYTIME = 1 << 25;
        const _ = !0;
    }
}

/// One mount of a mount namespace, read by [`statmount`] or parsed from
/// `/proc/self/mountinfo`; both give the same fields, except the unique ids
/// (`statmount` only). Strings are decoded: no octal escapes remain.
///
/// # Examples
/// ```
/// use linception_mountapi::{MountAttr, parse_mountinfo_line};
///
/// let line = b"36 35 0:42 / /mnt/a\\040b ro,nosuid,relatime shared:7 - tmpfs scratch rw,size=4k";
/// let info = parse_mountinfo_line(line)?;
/// assert_eq!(info.mount_point, std::path::Path::new("/mnt/a b"));
/// assert!(info.attributes.contains(MountAttr::RDONLY | MountAttr::NOSUID));
/// assert_eq!(info.peer_group, Some(7));
/// assert_eq!(info.options.as_deref(), Some("size=4k"));
/// # Ok::<(), linception_mountapi::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MountInfo {
    /// The mount id shown in `/proc/self/mountinfo` (32 bits, reused after an
    /// unmount); `statmount`'s `mnt_id_old`.
    pub id: u32,
    /// The parent's mountinfo id (the mount's own for a namespace root);
    /// `statmount`'s `mnt_parent_id_old`.
    pub parent_id: u32,
    /// The unique 64-bit mount id (`statmount`'s `mnt_id`, `statx`'s
    /// `STATX_MNT_ID_UNIQUE`), never reused; `None` when read from mountinfo.
    pub unique_id: Option<u64>,
    /// The parent's unique id; `None` when read from mountinfo.
    pub parent_unique_id: Option<u64>,
    /// The filesystem's device, `(major, minor)`.
    pub device: (u32, u32),
    /// The directory of the filesystem mounted here (`/` unless a bind mount of a
    /// subtree).
    pub root: PathBuf,
    /// Where it is mounted, relative to the caller's root.
    pub mount_point: PathBuf,
    /// The per-mount attributes (`MOUNT_ATTR_*`: read-only, nosuid, atime mode,
    /// idmapped, ...).
    pub attributes: MountAttr,
    /// The peer group of a shared mount (`shared:N`).
    pub peer_group: Option<u64>,
    /// The peer group a slave mount receives from (`master:N`).
    pub master: Option<u64>,
    /// For a slave whose master is not visible in this namespace, the nearest
    /// dominating peer group that is (`propagate_from:N`); `None` when it is the
    /// master itself, as mountinfo shows it.
    pub propagate_from: Option<u64>,
    /// Whether the mount is unbindable.
    pub unbindable: bool,
    /// The filesystem type (`"tmpfs"`, `"fuse"`), without subtype.
    pub fs_type: String,
    /// The subtype (`"sshfs"` of `fuse.sshfs`).
    pub fs_subtype: Option<String>,
    /// The source (`"/dev/sda1"`, `"tmpfs"`, `"none"`); `None` when the kernel
    /// did not report it (statmount before Linux 6.12).
    pub source: Option<String>,
    /// The filesystem-specific options, comma separated (`"size=1024k,mode=755"`),
    /// without the superblock flags; `None` when there are none, or when the kernel
    /// did not report them (statmount before Linux 6.11).
    pub options: Option<String>,
    /// The superblock flags.
    pub superblock_flags: SuperblockFlags,
}

impl MountInfo {
    /// The propagation type, derived from the peer group, master and unbindable
    /// fields: `(shared, slave)` can both hold (a shared slave).
    pub fn is_shared(&self) -> bool {
        self.peer_group.is_some()
    }

    /// Whether the mount receives propagation from a master.
    pub fn is_slave(&self) -> bool {
        self.master.is_some()
    }

    /// Whether the mount is private: neither shared, slave nor unbindable.
    pub fn is_private(&self) -> bool {
        self.peer_group.is_none() && self.master.is_none() && !self.unbindable
    }

    /// Whether the mount (not its filesystem) is read-only.
    pub fn is_read_only(&self) -> bool {
        self.attributes.contains(MountAttr::RDONLY)
    }
}

/// Where to read the mount table from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MountTableSource {
    /// `listmount` + `statmount`, falling back to `/proc/self/mountinfo` when the
    /// kernel lacks them (ENOSYS; the answer is remembered).
    Auto,
    /// `listmount` + `statmount` only: [`Unsupported`](Error::Unsupported) before 6.8.
    Statmount,
    /// `/proc/self/mountinfo` only.
    Mountinfo,
}

const UNKNOWN: u8 = 0;
const PRESENT: u8 = 1;
const ABSENT: u8 = 2;
static STATMOUNT_STATE: AtomicU8 = AtomicU8::new(UNKNOWN);
pub(crate) static PRETEND_ENOSYS: AtomicBool = AtomicBool::new(false);

/// Test hook: makes `listmount`/`statmount` behave as if the kernel returned
/// ENOSYS, so that the mountinfo fallback of [`MountTableSource::Auto`] is
/// exercised on a new kernel. Not part of the stable API.
#[doc(hidden)]
pub fn _test_pretend_no_statmount(on: bool) {
    PRETEND_ENOSYS.store(on, Ordering::SeqCst);
    STATMOUNT_STATE.store(UNKNOWN, Ordering::SeqCst);
}

/// The mounts of the caller's mount namespace, in mount order (parents before
/// their children), from `source`.
///
/// # Errors
/// From [`listmount`], [`statmount`] or reading `/proc/self/mountinfo`.
///
/// # Examples
/// ```
/// use linception_mountapi::{mount_table, MountTableSource};
///
/// let mounts = mount_table(MountTableSource::Auto)?;
/// assert!(mounts.iter().any(|m| m.mount_point == std::path::Path::new("/")));
/// # Ok::<(), linception_mountapi::Error>(())
/// ```
///
/// # References
/// - [`listmount(2)`](https://man7.org/linux/man-pages/man2/listmount.2.html),
///   [`statmount(2)`](https://man7.org/linux/man-pages/man2/statmount.2.html),
///   [`proc_pid_mountinfo(5)`](https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html)
pub fn mount_table(source: MountTableSource) -> Result<Vec<MountInfo>> {
    match source {
        MountTableSource::Mountinfo => read_mountinfo(),
        MountTableSource::Statmount => statmount_table(),
        MountTableSource::Auto => {
            if STATMOUNT_STATE.load(Ordering::Relaxed) == ABSENT {
                return read_mountinfo();
            }
            match statmount_table() {
                Err(Error::Unsupported { .. }) => {
                    STATMOUNT_STATE.store(ABSENT, Ordering::Relaxed);
                    read_mountinfo()
                }
                other => {
                    STATMOUNT_STATE.store(PRESENT, Ordering::Relaxed);
                    other
                }
            }
        }
    }
}

fn statmount_table() -> Result<Vec<MountInfo>> {
    let ids = mount_ids(ListmountFlags::empty())?;
    let mut reader = crate::StatmountReader::new();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        match reader.read(id) {
            Ok(info) => out.push(info),
            // Unmounted between the two calls.
            Err(err) if err.raw_os_error() == Some(libc::ENOENT) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(out)
}

/// `listmount({mnt_id: LSMT_ROOT, param: last}, ...)`, page after page: the unique
/// ids of every mount in the caller's mount namespace (the root mount included),
/// in mount order, or the reverse with [`ListmountFlags::REVERSE`].
///
/// # Errors
/// [`Unsupported`](Error::Unsupported) before Linux 6.8 (or, for `REVERSE`, 6.11).
///
/// # References
/// - [`listmount(2)`](https://man7.org/linux/man-pages/man2/listmount.2.html)
pub fn mount_ids(flags: ListmountFlags) -> Result<Vec<u64>> {
    let mut ids = Vec::new();
    let mut page = [0u64; 256];
    let mut last = 0;
    loop {
        let n = listmount(LSMT_ROOT, last, &mut page, flags)?;
        ids.extend_from_slice(&page[..n]);
        if n < page.len() {
            return Ok(ids);
        }
        last = page[n - 1];
    }
}

/// `listmount(&{size, mnt_id, param: last_mnt_id}, ids, ids.len(), flags)`: fills
/// `ids` with the unique ids of the mounts below `mnt_id` ([`LSMT_ROOT`] for the
/// whole namespace) that come after `last_mnt_id` (0 to start), and returns how
/// many it wrote. Call again with the last id to page on. Since Linux 6.8.
/// Allocates nothing.
///
/// # Errors
/// `ENOENT` (no such mount), `EPERM`, [`Unsupported`](Error::Unsupported) on
/// ENOSYS, or an unknown flag (`EINVAL` with `REVERSE` before 6.11 is left as is).
///
/// # References
/// - [`listmount(2)`](https://man7.org/linux/man-pages/man2/listmount.2.html)
pub fn listmount(
    mnt_id: u64,
    last_mnt_id: u64,
    ids: &mut [u64],
    flags: ListmountFlags,
) -> Result<usize> {
    let req = sys::MntIdReq {
        size: sys::MNT_ID_REQ_SIZE_VER0,
        mnt_id,
        param: last_mnt_id,
        ..Default::default()
    };
    let result = if PRETEND_ENOSYS.load(Ordering::Relaxed) {
        Err(Errno::NOSYS)
    } else {
        sys::listmount(&req, ids, flags.bits())
    };
    result.map_err(|errno| {
        let call = Call::new(
            "listmount",
            format_args!(
                "{{mnt_id: {mnt_id:#x}, param: {last_mnt_id}}}, buf, {}, {}",
                ids.len(),
                Flags(&flags)
            ),
        );
        if errno == Errno::NOSYS {
            Error::unsupported("listmount", "6.8", call, errno)
        } else {
            Error::syscall(call, errno)
        }
    })
}

/// `statmount` of the mount with unique id `mnt_id`, all fields this kernel
/// reports, into a [`MountInfo`]. For many mounts, a [`StatmountReader`](crate::StatmountReader) reuses
/// its buffer.
///
/// # Errors
/// `ENOENT` (no such mount in this namespace), [`Unsupported`](Error::Unsupported)
/// before Linux 6.8.
///
/// # References
/// - [`statmount(2)`](https://man7.org/linux/man-pages/man2/statmount.2.html)
pub fn statmount(mnt_id: u64) -> Result<MountInfo> {
    crate::StatmountReader::new().read(mnt_id)
}

/// The unique mount id of the mount `path` is on (`statx` with
/// `STATX_MNT_ID_UNIQUE`, Linux 6.8), for [`statmount`].
///
/// # Errors
/// `ENOENT` for a missing path, [`Unsupported`](Error::Unsupported) when the kernel
/// does not report unique mount ids.
///
/// # References
/// - [`statx(2)`](https://man7.org/linux/man-pages/man2/statx.2.html)
pub fn unique_mount_id(path: impl AsRef<Path>) -> Result<u64> {
    const STATX_MNT_ID_UNIQUE: u32 = 0x4000;
    let path = path.as_ref();
    let mask = rustix::fs::StatxFlags::from_bits_retain(STATX_MNT_ID_UNIQUE);
    let call = || {
        Call::new(
            "statx",
            format_args!("AT_FDCWD, {path:?}, 0, STATX_MNT_ID_UNIQUE"),
        )
    };
    let stx = rustix::fs::statx(rustix::fs::CWD, path, rustix::fs::AtFlags::empty(), mask)
        .map_err(|errno| Error::syscall(call(), errno))?;
    if stx.stx_mask & STATX_MNT_ID_UNIQUE == 0 {
        return Err(Error::unsupported(
            "STATX_MNT_ID_UNIQUE",
            "6.8",
            call(),
            Errno::NOSYS,
        ));
    }
    Ok(stx.stx_mnt_id)
}

/// Parses `/proc/self/mountinfo`.
///
/// # Errors
/// [`Error::Mountinfo`] if it cannot be read, [`Error::Parse`] for a bad line.
///
/// # References
/// - [`proc_pid_mountinfo(5)`](https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html)
pub fn read_mountinfo() -> Result<Vec<MountInfo>> {
    let bytes = std::fs::read("/proc/self/mountinfo").map_err(Error::Mountinfo)?;
    parse_mountinfo(&bytes)
}

/// Parses the text of a `/proc/PID/mountinfo` file, one [`MountInfo`] per line.
///
/// # Errors
/// [`Error::Parse`] naming the first line that does not parse.
pub fn parse_mountinfo(text: &[u8]) -> Result<Vec<MountInfo>> {
    text.split(|&c| c == b'\n')
        .filter(|line| !line.is_empty())
        .map(parse_mountinfo_line)
        .collect()
}

/// Parses one line of `/proc/PID/mountinfo`:
/// `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`.
///
/// # Errors
/// [`Error::Parse`] naming the line and what is wrong with it.
pub fn parse_mountinfo_line(line: &[u8]) -> Result<MountInfo> {
    let fail = |reason| Error::Parse {
        line: String::from_utf8_lossy(line).into_owned(),
        reason,
    };
    let mut fields = line.split(|&c| c == b' ');
    let mut next = |what| fields.next().ok_or_else(|| fail(what));
    let number = |bytes: &[u8], what| -> Result<u64> {
        std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| fail(what))
    };
    let id = number(next("missing mount id")?, "bad mount id")?;
    let parent_id = number(next("missing parent id")?, "bad parent id")?;
    let dev = next("missing device")?;
    let (major, minor) = {
        let colon = dev
            .iter()
            .position(|&c| c == b':')
            .ok_or_else(|| fail("bad device"))?;
        (
            number(&dev[..colon], "bad device major")?,
            number(&dev[colon + 1..], "bad device minor")?,
        )
    };
    let root = PathBuf::from(OsStr::from_bytes(&unescape(next("missing root")?)));
    let mount_point = PathBuf::from(OsStr::from_bytes(&unescape(next("missing mount point")?)));
    let mount_options = next("missing mount options")?;
    let mut info = MountInfo {
        id: u32::try_from(id).map_err(|_| fail("mount id out of range"))?,
        parent_id: u32::try_from(parent_id).map_err(|_| fail("parent id out of range"))?,
        unique_id: None,
        parent_unique_id: None,
        device: (
            u32::try_from(major).map_err(|_| fail("bad device major"))?,
            u32::try_from(minor).map_err(|_| fail("bad device minor"))?,
        ),
        root,
        mount_point,
        attributes: parse_mount_options(mount_options),
        peer_group: None,
        master: None,
        propagate_from: None,
        unbindable: false,
        fs_type: String::new(),
        fs_subtype: None,
        source: None,
        options: None,
        superblock_flags: SuperblockFlags::empty(),
    };
    loop {
        let field = next("missing \" - \" separator")?;
        if field == b"-" {
            break;
        }
        let (tag, value) = match field.iter().position(|&c| c == b':') {
            Some(colon) => (&field[..colon], Some(&field[colon + 1..])),
            None => (field, None),
        };
        match (tag, value) {
            (b"shared", Some(v)) => info.peer_group = Some(number(v, "bad shared:N")?),
            (b"master", Some(v)) => info.master = Some(number(v, "bad master:N")?),
            (b"propagate_from", Some(v)) => {
                info.propagate_from = Some(number(v, "bad propagate_from:N")?)
            }
            (b"unbindable", None) => info.unbindable = true,
            // Optional fields a newer kernel may add.
            _ => {}
        }
    }
    let fs_type = String::from_utf8_lossy(&unescape(next("missing filesystem type")?)).into_owned();
    match fs_type.split_once('.') {
        Some((base, sub)) => {
            info.fs_type = base.to_string();
            info.fs_subtype = Some(sub.to_string());
        }
        None => info.fs_type = fs_type,
    }
    info.source = Some(String::from_utf8_lossy(&unescape(next("missing source")?)).into_owned());
    let super_options =
        String::from_utf8_lossy(&unescape(next("missing super options")?)).into_owned();
    let mut options = Vec::new();
    for option in super_options.split(',') {
        match option {
            "ro" => info.superblock_flags |= SuperblockFlags::RDONLY,
            "rw" => {}
            "sync" => info.superblock_flags |= SuperblockFlags::SYNCHRONOUS,
            "dirsync" => info.superblock_flags |= SuperblockFlags::DIRSYNC,
            "lazytime" => info.superblock_flags |= SuperblockFlags::LAZYTIME,
            other => options.push(other),
        }
    }
    // Like statmount, which reports no options field when there are none.
    info.options = (!options.is_empty()).then(|| options.join(","));
    Ok(info)
}

/// The per-mount options of mountinfo (`rw,nosuid,relatime`) as attributes.
fn parse_mount_options(options: &[u8]) -> MountAttr {
    let mut attrs = MountAttr::empty();
    let mut atime = MountAttr::STRICTATIME;
    for option in options.split(|&c| c == b',') {
        match option {
            b"ro" => attrs |= MountAttr::RDONLY,
            b"nosuid" => attrs |= MountAttr::NOSUID,
            b"nodev" => attrs |= MountAttr::NODEV,
            b"noexec" => attrs |= MountAttr::NOEXEC,
            b"noatime" => atime = MountAttr::NOATIME,
            b"relatime" => atime = MountAttr::RELATIME,
            b"nodiratime" => attrs |= MountAttr::NODIRATIME,
            b"nosymfollow" => attrs |= MountAttr::NOSYMFOLLOW,
            b"idmapped" => attrs |= MountAttr::IDMAP,
            _ => {}
        }
    }
    attrs | atime
}

/// Decodes mountinfo's octal escapes (`\040` for a space, `\134` for a backslash).
/// A backslash not followed by three octal digits is kept as it is.
pub fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        if field[i] == b'\\' && field.len() - i > 3 {
            let digits = &field[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let value = digits.iter().fold(0u32, |v, d| v * 8 + u32::from(d - b'0'));
                if let Ok(byte) = u8::try_from(value) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(field[i]);
        i += 1;
    }
    out
}
