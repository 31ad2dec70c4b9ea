//! The probes: system calls, some in a forked child.
//!
//! rustix makes every call it wraps safely (pidfd_open, pidfd_getfd, openat2, the
//! new mount API, waitpid, pipes, credentials, ...). The calls it lacks, or whose
//! arguments a probe bends on purpose (NULL structs, invalid fds, sizes the kernel
//! must refuse), are the variants of [`Call`] and [`FdCall`]: each variant holds
//! the memory it lends the kernel as references, and [`raw`] derives every pointer
//! and size from them, so the crate's raw system calls share one unsafe block.
//!
//! A child forked from a possibly multithreaded process may only make
//! async-signal-safe calls: the child-side code here makes system calls (rustix's
//! are raw, without libc) and writes to stack buffers, nothing else (no
//! allocation, no locks, no panics).
//!
//! A leaf: it answers in plain values ([`Failure`], [`Check`]) defined here; the
//! public types are built above.

use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use rustix::fs::{Access, CWD, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags};
use rustix::process::{Pid, PidfdFlags, PidfdGetfdFlags, Signal, WaitOptions};
use rustix::thread::UnshareFlags;

/// Why a probe failed: the call (or condition) and the errno it failed with, if it
/// was a system call. The crate's public `Missing` is made from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    pub call: &'static str,
    pub errno: Option<i32>,
}

/// What to probe: one value per public `Feature`, mapped one to one above.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Check {
    Root,
    UserNs,
    UnprivilegedUserNs,
    TimeNs,
    PidfdOpen,
    PidfdNonblock,
    PidfdThread,
    PidfdGetfd,
    PidfdInfo,
    PidfdNamespaces,
    PidfdInfoExit,
    PidfdInfoCoredump,
    PidfdSelf,
    PidfsFileHandles,
    NsGetId,
    NsFileHandles,
    Clone3,
    SetTid,
    CloneIntoCgroup,
    CloseRange,
    Openat2,
    ResolveCached,
    Openat2ExtendedHow,
    MountApi,
    MountSetattr,
    MountSetattrIdmap,
    MoveMountBeneath,
    OpenTreeAttr,
    Statmount,
    Listmount,
    StatmountOptArray,
    StatmountSupportedMask,
    StatmountIdmap,
    ListmountNsId,
    ListmountNsFd,
    MountNotify,
    SeccompListener,
    SeccompAddfd,
    SeccompSyncWakeUp,
    SeccompNotifSizes,
    Keyrings,
    KeyringNsNames,
    Cgroup2,
}

// Syscall numbers from the unified table (the same on every architecture since 424).
const SYS_STATMOUNT: libc::c_long = 457;
const SYS_LISTMOUNT: libc::c_long = 458;
const SYS_OPEN_TREE_ATTR: libc::c_long = 467;

// statmount / listmount (include/uapi/linux/mount.h).
const LSMT_ROOT: u64 = u64::MAX;
const MNT_ID_REQ_SIZE_VER0: u32 = 24;
const MNT_ID_REQ_SIZE_VER1: u32 = 32;
const STATMOUNT_MNT_NS_ID: u64 = 0x0040;
const STATMOUNT_OPT_ARRAY: u64 = 0x0400;
const STATMOUNT_OPT_SEC_ARRAY: u64 = 0x0800;
const STATMOUNT_SUPPORTED_MASK: u64 = 0x1000;
const STATMOUNT_MNT_UIDMAP: u64 = 0x2000;
const STATMOUNT_MNT_GIDMAP: u64 = 0x4000;
// struct statmount offsets: mask, mnt_ns_id, supported_mask.
const SM_MASK: usize = 1;
const SM_MNT_NS_ID: usize = 14;
const SM_SUPPORTED_MASK: usize = 18;

// fanotify mount events (include/uapi/linux/fanotify.h).
const FAN_CLOEXEC: libc::c_uint = 0x1;
const FAN_REPORT_MNT: libc::c_uint = 0x4000;
const FAN_MARK_ADD: libc::c_uint = 0x1;
const FAN_MARK_MNTNS: libc::c_uint = 0x110;
const FAN_MNT_ATTACH: u64 = 0x0100_0000;
const FAN_MNT_DETACH: u64 = 0x0200_0000;

// pidfd_info (include/uapi/linux/pidfd.h): _IOWR(0xFF, 11, struct pidfd_info) with
// the 72-byte second version of the struct (exit_code, coredump_mask).
const PIDFD_GET_INFO_VER1: libc::c_ulong = 0xc048_ff0b;
const PIDFD_INFO_EXIT: u64 = 1 << 3;
const PIDFD_INFO_COREDUMP: u64 = 1 << 4;
// The sentinel for the calling thread has kept its value (-10000) since Linux
// 6.15; the thread-group one moved (-20000, then -10001).
const PIDFD_SELF_THREAD: libc::c_int = -10000;
// nsfs: _IOR(0xb7, 13, __u64).
const NS_GET_ID: libc::c_ulong = 0x8008_b70d;
const SECCOMP_GET_NOTIF_SIZES: libc::c_uint = 3;

const PIDFD_THREAD: libc::c_uint = libc::O_EXCL as libc::c_uint;
// _IOWR(0xFF, 11, struct pidfd_info) with the 64-byte first version of the struct.
const PIDFD_GET_INFO: libc::c_ulong = 0xc040_ff0b;
const PIDFD_INFO_PID: u64 = 1;
// _IO(0xFF, 10)
const PIDFD_GET_UTS_NAMESPACE: libc::c_ulong = 0xff0a;
// _IOW('!', 4, __u64)
const SECCOMP_IOCTL_NOTIF_SET_FLAGS: libc::c_ulong = 0x4008_2104;
const SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP: u64 = 1;
const SECCOMP_FILTER_FLAG_NEW_LISTENER: libc::c_ulong = 1 << 3;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
const CLONE_ARGS_SIZE_VER2: usize = 88;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
const KEYCTL_GET_KEYRING_ID: libc::c_int = 0;
const KEYCTL_CAPABILITIES: libc::c_int = 31;
const KEY_SPEC_SESSION_KEYRING: libc::c_int = -3;
const KEYCTL_CAPS1_NS_KEYRING_NAME: u8 = 0x01;

type Probe = Result<(), Failure>;

/// The raw system calls the probe makes that return a number (or nothing).
///
/// Every pointer the kernel gets is derived in [`Call::encode`] from a reference
/// held here (or is a static NUL-terminated string, or NULL with a size of 0), and
/// every size passed with a pointer is that referent's own size, so the kernel
/// reads and writes only memory that is live and ours for the call. No variant
/// closes, maps or unmaps anything of ours.
enum Call<'a> {
    /// `clone3(NULL, 0)`: the size is refused (EINVAL) before any read.
    Clone3Null,
    /// `clone3(args, 88)` without memory-sharing flags: a fork-like child returns
    /// here with 0 on its own copy of the stack.
    Clone3 {
        args: &'a CloneArgs<'a>,
    },
    /// `close_range(~0U, ~0U, 0)`: an empty range above every possible fd.
    CloseRangeEmpty,
    /// `mount_setattr(-1, "", 0, NULL, 0)`: the size is refused before any read.
    MountSetattrNull,
    /// `mount_setattr(fd, "", AT_EMPTY_PATH, attr, sizeof attr)`.
    MountSetattr {
        fd: BorrowedFd<'a>,
        attr: &'a MountAttr,
    },
    /// `open_tree_attr(-1, "", 0, NULL, 0)`: a NULL attr with size 0 is allowed.
    OpenTreeAttrNull,
    /// `statmount(NULL, NULL, 0, 0)` / `listmount(NULL, NULL, 0, 0)`: EFAULT
    /// before anything else.
    StatmountNull,
    ListmountNull,
    /// `statmount(req, buf, sizeof buf, 0)`.
    Statmount {
        req: &'a MntIdReq,
        buf: &'a mut [u64],
    },
    /// `listmount(req, ids, len(ids), 0)`.
    Listmount {
        req: &'a MntIdReq,
        ids: &'a mut [u64],
    },
    /// `name_to_handle_at(fd, "", handle, &mnt_id, AT_EMPTY_PATH)`.
    NameToHandle {
        fd: BorrowedFd<'a>,
        handle: &'a mut FileHandle,
        mnt_id: &'a mut libc::c_int,
    },
    /// `pidfd_send_signal(PIDFD_SELF_THREAD, 0, NULL, 0)`: the sentinel is no fd
    /// (the kernel resolves it), signal 0 only checks.
    PidfdSignalSelf,
    /// `keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)`: a lookup that
    /// creates nothing.
    KeyctlSessionId,
    /// `keyctl(KEYCTL_CAPABILITIES, caps, len(caps))`.
    KeyctlCapabilities {
        caps: &'a mut [u8],
    },
    /// `seccomp(SECCOMP_GET_NOTIF_SIZES, 0, sizes)`: three u16.
    SeccompNotifSizes {
        sizes: &'a mut [u16; 3],
    },
    /// `fanotify_mark(group, FAN_MARK_ADD | FAN_MARK_MNTNS, attach | detach, ns,
    /// NULL)`.
    FanotifyMarkMntns {
        group: BorrowedFd<'a>,
        ns: BorrowedFd<'a>,
    },
    /// `ioctl(pidfd, PIDFD_GET_INFO, info)` with the 64-byte struct.
    PidfdGetInfo {
        pidfd: BorrowedFd<'a>,
        info: &'a mut [u64; 8],
    },
    /// `ioctl(pidfd, PIDFD_GET_INFO, info)` with the 72-byte struct.
    PidfdGetInfoVer1 {
        pidfd: BorrowedFd<'a>,
        info: &'a mut [u64; 9],
    },
    /// `ioctl(nsfd, NS_GET_ID, &id)`: one u64.
    NsGetId {
        ns: BorrowedFd<'a>,
        id: &'a mut u64,
    },
    /// `ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, addfd)`: read only.
    NotifAddfd {
        listener: BorrowedFd<'a>,
        addfd: &'a libc::seccomp_notif_addfd,
    },
    /// `ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SYNC_WAKE_UP)`: by value.
    NotifSyncWakeUp {
        listener: BorrowedFd<'a>,
    },
}

/// The raw system calls the probe makes that return a new fd (O_CLOEXEC), with the
/// same rule for pointers as [`Call`].
enum FdCall<'a> {
    /// `ioctl(pidfd, PIDFD_GET_UTS_NAMESPACE, 0)`.
    PidfdUtsNamespace { pidfd: BorrowedFd<'a> },
    /// `openat2(AT_FDCWD, "/", how, sizeof how)` with an `open_how` of any size.
    Openat2Root { how: &'a [u64] },
    /// `fanotify_init(FAN_REPORT_MNT | FAN_CLOEXEC, O_RDONLY)`.
    FanotifyInitMnt,
    /// `seccomp(SECCOMP_SET_MODE_FILTER, NEW_LISTENER, {len, filter})`.
    SeccompListener { filter: &'a [libc::sock_filter] },
}

/// `struct clone_args` up to `CLONE_ARGS_SIZE_VER2`, with `set_tid` borrowed.
struct CloneArgs<'a> {
    flags: u64,
    set_tid: &'a [libc::pid_t],
    cgroup: Option<BorrowedFd<'a>>,
}

/// `struct mount_attr { attr_set, attr_clr, propagation, userns_fd }`.
#[repr(C)]
struct MountAttr([u64; 4]);

/// `struct file_handle { u32 handle_bytes; i32 handle_type; u8 f_handle[128] }`.
#[repr(C)]
struct FileHandle {
    handle_bytes: u32,
    handle_type: i32,
    f_handle: [u8; 128],
}

/// A system call number and its six argument registers.
type Encoded = (libc::c_long, [libc::c_long; 6]);

/// What a call turns itself into for [`syscall`], the crate's one raw call site:
/// implemented by [`Call`] and [`FdCall`] only.
trait Encode {
    /// The call's number and arguments, pointing into `self`'s references or into
    /// `scratch` (structs built here from them, such as `clone_args`).
    fn encode(&mut self, scratch: &mut Scratch) -> Encoded;
}

/// Kernel structs assembled from a call's references, alive across the call.
struct Scratch {
    clone: [u64; 11],
    prog: libc::sock_fprog,
}

/// A pointer the kernel only reads through.
fn ptr<T: ?Sized>(r: &T) -> libc::c_long {
    (r as *const T).cast::<u8>() as libc::c_long
}

/// A pointer the kernel writes through.
fn ptr_mut<T: ?Sized>(r: &mut T) -> libc::c_long {
    (r as *mut T).cast::<u8>() as libc::c_long
}

fn fd(fd: BorrowedFd<'_>) -> libc::c_long {
    fd.as_raw_fd().into()
}

impl Encode for Call<'_> {
    fn encode(&mut self, scratch: &mut Scratch) -> Encoded {
        let empty = ptr(c"".to_bytes_with_nul());
        match self {
            Call::Clone3Null => (libc::SYS_clone3, [0; 6]),
            Call::Clone3 { args } => {
                // flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size,
                // tls, set_tid, set_tid_size, cgroup.
                let clone = &mut scratch.clone;
                *clone = [0; 11];
                clone[0] = args.flags;
                clone[4] = libc::SIGCHLD as u64;
                if !args.set_tid.is_empty() {
                    clone[8] = ptr(args.set_tid) as u64;
                    clone[9] = args.set_tid.len() as u64;
                }
                clone[10] = args.cgroup.map_or(0, |c| fd(c) as u64);
                let size = std::mem::size_of_val(clone);
                debug_assert_eq!(size, CLONE_ARGS_SIZE_VER2);
                (libc::SYS_clone3, [ptr(clone), size as _, 0, 0, 0, 0])
            }
            Call::CloseRangeEmpty => {
                let top = libc::c_long::from(u32::MAX);
                (libc::SYS_close_range, [top, top, 0, 0, 0, 0])
            }
            Call::MountSetattrNull => (libc::SYS_mount_setattr, [-1, empty, 0, 0, 0, 0]),
            Call::MountSetattr { fd: mnt, attr } => (
                libc::SYS_mount_setattr,
                [
                    fd(*mnt),
                    empty,
                    libc::AT_EMPTY_PATH.into(),
                    ptr(*attr),
                    size_of::<MountAttr>() as _,
                    0,
                ],
            ),
            Call::OpenTreeAttrNull => (SYS_OPEN_TREE_ATTR, [-1, empty, 0, 0, 0, 0]),
            Call::StatmountNull => (SYS_STATMOUNT, [0; 6]),
            Call::ListmountNull => (SYS_LISTMOUNT, [0; 6]),
            Call::Statmount { req, buf } => {
                let size = std::mem::size_of_val(&**buf) as _;
                let buf = ptr_mut(&mut **buf);
                (SYS_STATMOUNT, [ptr(*req), buf, size, 0, 0, 0])
            }
            Call::Listmount { req, ids } => {
                let len = ids.len() as _;
                let ids = ptr_mut(&mut **ids);
                (SYS_LISTMOUNT, [ptr(*req), ids, len, 0, 0, 0])
            }
            Call::NameToHandle {
                fd: file,
                handle,
                mnt_id,
            } => {
                handle.handle_bytes = handle.f_handle.len() as u32;
                (
                    libc::SYS_name_to_handle_at,
                    [
                        fd(*file),
                        empty,
                        ptr_mut(&mut **handle),
                        ptr_mut(&mut **mnt_id),
                        libc::AT_EMPTY_PATH.into(),
                        0,
                    ],
                )
            }
            Call::PidfdSignalSelf => (
                libc::SYS_pidfd_send_signal,
                [PIDFD_SELF_THREAD.into(), 0, 0, 0, 0, 0],
            ),
            Call::KeyctlSessionId => (
                libc::SYS_keyctl,
                [
                    KEYCTL_GET_KEYRING_ID.into(),
                    KEY_SPEC_SESSION_KEYRING.into(),
                    0,
                    0,
                    0,
                    0,
                ],
            ),
            Call::KeyctlCapabilities { caps } => {
                let len = caps.len() as _;
                let caps = ptr_mut(&mut **caps);
                let command = KEYCTL_CAPABILITIES.into();
                (libc::SYS_keyctl, [command, caps, len, 0, 0, 0])
            }
            Call::SeccompNotifSizes { sizes } => (
                libc::SYS_seccomp,
                [
                    SECCOMP_GET_NOTIF_SIZES.into(),
                    0,
                    ptr_mut(&mut **sizes),
                    0,
                    0,
                    0,
                ],
            ),
            Call::FanotifyMarkMntns { group, ns } => {
                let flags = libc::c_long::from(FAN_MARK_ADD | FAN_MARK_MNTNS);
                let mask = FAN_MNT_ATTACH | FAN_MNT_DETACH;
                // The 64-bit mask takes one register on 64-bit targets and two
                // (low word first) on 32-bit ones.
                #[cfg(target_pointer_width = "64")]
                let args = [fd(*group), flags, mask as _, fd(*ns), 0, 0];
                #[cfg(target_pointer_width = "32")]
                let args = [
                    fd(*group),
                    flags,
                    mask as u32 as _,
                    (mask >> 32) as u32 as _,
                    fd(*ns),
                    0,
                ];
                (libc::SYS_fanotify_mark, args)
            }
            Call::PidfdGetInfo { pidfd, info } => {
                ioctl(*pidfd, PIDFD_GET_INFO, ptr_mut(&mut **info))
            }
            Call::PidfdGetInfoVer1 { pidfd, info } => {
                ioctl(*pidfd, PIDFD_GET_INFO_VER1, ptr_mut(&mut **info))
            }
            Call::NsGetId { ns, id } => ioctl(*ns, NS_GET_ID, ptr_mut(&mut **id)),
            Call::NotifAddfd { listener, addfd } => ioctl(
                *listener,
                libc::SECCOMP_IOCTL_NOTIF_ADDFD as libc::c_ulong,
                ptr(*addfd),
            ),
            Call::NotifSyncWakeUp { listener } => ioctl(
                *listener,
                SECCOMP_IOCTL_NOTIF_SET_FLAGS,
                SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP as _,
            ),
        }
    }
}

/// `ioctl(fd, request, arg)`: `arg` points at a buffer of the size the request
/// number encodes (checked at compile time below), or is a value.
fn ioctl(fd: BorrowedFd<'_>, request: libc::c_ulong, arg: libc::c_long) -> Encoded {
    (libc::SYS_ioctl, [self::fd(fd), request as _, arg, 0, 0, 0])
}

/// The argument size an `_IOC` request number encodes.
const fn ioc_size(request: libc::c_ulong) -> usize {
    (request >> 16) as usize & 0x3fff
}
const _: () = assert!(ioc_size(PIDFD_GET_INFO) == size_of::<[u64; 8]>());
const _: () = assert!(ioc_size(PIDFD_GET_INFO_VER1) == size_of::<[u64; 9]>());
const _: () = assert!(ioc_size(NS_GET_ID) == size_of::<u64>());
const _: () = assert!(
    ioc_size(libc::SECCOMP_IOCTL_NOTIF_ADDFD as libc::c_ulong)
        == size_of::<libc::seccomp_notif_addfd>()
);
const _: () = assert!(ioc_size(PIDFD_GET_UTS_NAMESPACE) == 0);

impl Encode for FdCall<'_> {
    fn encode(&mut self, scratch: &mut Scratch) -> Encoded {
        match self {
            FdCall::PidfdUtsNamespace { pidfd } => ioctl(*pidfd, PIDFD_GET_UTS_NAMESPACE, 0),
            FdCall::Openat2Root { how } => (
                libc::SYS_openat2,
                [
                    libc::AT_FDCWD.into(),
                    ptr(c"/".to_bytes_with_nul()),
                    ptr(*how),
                    std::mem::size_of_val(*how) as _,
                    0,
                    0,
                ],
            ),
            FdCall::FanotifyInitMnt => (
                libc::SYS_fanotify_init,
                [
                    (FAN_REPORT_MNT | FAN_CLOEXEC).into(),
                    libc::O_RDONLY.into(),
                    0,
                    0,
                    0,
                    0,
                ],
            ),
            FdCall::SeccompListener { filter } => {
                let prog = &mut scratch.prog;
                prog.len = filter.len() as u16;
                prog.filter = filter.as_ptr().cast_mut();
                (
                    libc::SYS_seccomp,
                    [
                        libc::SECCOMP_SET_MODE_FILTER.into(),
                        SECCOMP_FILTER_FLAG_NEW_LISTENER as _,
                        ptr(&*prog),
                        0,
                        0,
                        0,
                    ],
                )
            }
        }
    }
}

/// The crate's one raw system call site: makes `call`, returns its value or the
/// errno.
fn syscall(mut call: impl Encode) -> Result<libc::c_long, i32> {
    let mut scratch = Scratch {
        clone: [0; 11],
        prog: libc::sock_fprog {
            len: 0,
            filter: std::ptr::null_mut(),
        },
    };
    let (nr, a) = call.encode(&mut scratch);
    // SAFETY: `nr` and `a` come from a `Call` or `FdCall`, whose `encode` derives
    // every pointer from a reference `call` holds (alive: our caller's) or from
    // `scratch` (alive until we return), or passes a static NUL-terminated string
    // or NULL with size 0, and every size from the referent itself; none of those
    // calls frees, maps or closes memory or fds of ours.
    let ret = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
    if ret < 0 {
        Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO))
    } else {
        Ok(ret)
    }
}

/// Makes `call`: its return value, or the errno.
fn raw(call: Call<'_>) -> Result<libc::c_long, i32> {
    syscall(call)
}

/// Makes `call` and owns the new fd it returns.
fn raw_fd(call: FdCall<'_>) -> Result<OwnedFd, i32> {
    let fd = syscall(call)?;
    let fd = libc::c_int::try_from(fd).map_err(|_| libc::EBADF)?;
    // SAFETY: every FdCall returns a new fd on success, which nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn at(call: &'static str) -> impl FnOnce(Errno) -> Failure {
    move |e| Failure {
        call,
        errno: Some(e.raw_os_error()),
    }
}

fn at_raw(call: &'static str) -> impl FnOnce(i32) -> Failure {
    move |errno| Failure {
        call,
        errno: Some(errno),
    }
}

/// `Err` only when the call failed with `ENOSYS`: the call exists when it fails
/// for any other reason (the arguments are deliberately invalid).
fn exists(ret: Result<libc::c_long, i32>, call: &'static str) -> Probe {
    match ret {
        Err(libc::ENOSYS) => Err(at_raw(call)(libc::ENOSYS)),
        _ => Ok(()),
    }
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn need_root() -> Probe {
    if is_root() {
        Ok(())
    } else {
        Err(Failure {
            call: "the process is not root (euid != 0)",
            errno: None,
        })
    }
}

/// `unshare(CLONE_NEWUSER | CLONE_NEWNS)` unless root: a mount namespace the caller
/// may change.
fn own_mount_ns() -> Probe {
    if is_root() {
        return Ok(());
    }
    let flags = UnshareFlags::NEWUSER | UnshareFlags::NEWNS;
    unshare(flags, "unshare(CLONE_NEWUSER | CLONE_NEWNS)")
}

pub(crate) fn probe(feature: Check) -> Probe {
    match feature {
        Check::Root => need_root(),
        Check::UserNs => in_child(|| unshare(UnshareFlags::NEWUSER, "unshare(CLONE_NEWUSER)")),
        Check::UnprivilegedUserNs => in_child(|| {
            if is_root() {
                drop_to_nobody()?;
            }
            unshare(UnshareFlags::NEWUSER, "unshare(CLONE_NEWUSER) as uid 65534")
        }),
        Check::TimeNs => in_child(|| {
            if !is_root() {
                unshare(UnshareFlags::NEWUSER, "unshare(CLONE_NEWUSER)")?;
            }
            unshare(UnshareFlags::NEWTIME, "unshare(CLONE_NEWTIME)")
        }),
        Check::PidfdOpen => pidfd_self(PidfdFlags::empty(), "pidfd_open(getpid(), 0)").map(drop),
        Check::PidfdNonblock => {
            pidfd_self(PidfdFlags::NONBLOCK, "pidfd_open(getpid(), PIDFD_NONBLOCK)").map(drop)
        }
        Check::PidfdThread => rustix::process::pidfd_open(
            rustix::thread::gettid(),
            PidfdFlags::from_bits_retain(PIDFD_THREAD),
        )
        .map(drop)
        .map_err(at("pidfd_open(gettid(), PIDFD_THREAD)")),
        Check::PidfdGetfd => {
            let pidfd = pidfd_self(PidfdFlags::empty(), "pidfd_open(getpid(), 0)")?;
            // fd 0 may be closed, so copy the pidfd itself.
            rustix::process::pidfd_getfd(&pidfd, pidfd.as_raw_fd(), PidfdGetfdFlags::empty())
                .map(drop)
                .map_err(at("pidfd_getfd"))
        }
        Check::PidfdInfo => {
            let pidfd = pidfd_self(PidfdFlags::empty(), "pidfd_open(getpid(), 0)")?;
            let mut info = [0u64; 8];
            info[0] = PIDFD_INFO_PID;
            raw(Call::PidfdGetInfo {
                pidfd: pidfd.as_fd(),
                info: &mut info,
            })
            .map(drop)
            .map_err(at_raw("ioctl(PIDFD_GET_INFO)"))
        }
        Check::PidfdNamespaces => {
            let pidfd = pidfd_self(PidfdFlags::empty(), "pidfd_open(getpid(), 0)")?;
            raw_fd(FdCall::PidfdUtsNamespace {
                pidfd: pidfd.as_fd(),
            })
            .map(drop)
            .map_err(at_raw("ioctl(PIDFD_GET_UTS_NAMESPACE)"))
        }
        // A NULL struct of size 0 is EINVAL where clone3 exists, ENOSYS where not.
        Check::Clone3 => exists(raw(Call::Clone3Null), "clone3"),
        Check::SetTid => in_child(|| {
            if !is_root() {
                unshare(UnshareFlags::NEWUSER, "unshare(CLONE_NEWUSER)")?;
            }
            let args = CloneArgs {
                flags: libc::CLONE_NEWPID as u64,
                set_tid: &[1],
                cgroup: None,
            };
            clone3_and_reap(&args, "clone3(set_tid = [1])")
        }),
        Check::CloneIntoCgroup => {
            let dir = own_cgroup2_dir()?;
            in_child(move || {
                let cgroup = rustix::fs::open(
                    dir.as_c_str(),
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(at("open(own cgroup v2 directory)"))?;
                let args = CloneArgs {
                    flags: CLONE_INTO_CGROUP,
                    set_tid: &[],
                    cgroup: Some(cgroup.as_fd()),
                };
                clone3_and_reap(&args, "clone3(CLONE_INTO_CGROUP)")
            })
        }
        // An empty range at the top of the fd space closes nothing.
        Check::CloseRange => exists(raw(Call::CloseRangeEmpty), "close_range"),
        Check::Openat2 => openat2_root(ResolveFlags::empty(), "openat2(\"/\", RESOLVE_IN_ROOT)"),
        Check::ResolveCached => {
            match openat2_root(ResolveFlags::CACHED, "openat2(\"/\", RESOLVE_CACHED)") {
                // A cache miss still means the flag is known.
                Err(Failure {
                    errno: Some(libc::EAGAIN),
                    ..
                }) => Ok(()),
                other => other,
            }
        }
        Check::MountApi => in_child(|| {
            own_mount_ns()?;
            detached_tmpfs().map(drop)
        }),
        // A size below MOUNT_ATTR_SIZE_VER0 is EINVAL where the call exists.
        Check::MountSetattr => exists(raw(Call::MountSetattrNull), "mount_setattr"),
        Check::MountSetattrIdmap => {
            need_root()?;
            in_child(idmap_detached_tmpfs)
        }
        Check::MoveMountBeneath => in_child(|| {
            own_mount_ns()?;
            // Unknown flags are EINVAL; with the flag known, the empty paths (no
            // MOVE_MOUNT_*_EMPTY_PATH) are ENOENT.
            let ret =
                rustix::mount::move_mount(CWD, c"", CWD, c"", MoveMountFlags::MOVE_MOUNT_BENEATH);
            match ret {
                Err(Errno::INVAL) => Err(at("move_mount(MOVE_MOUNT_BENEATH)")(Errno::INVAL)),
                Err(Errno::NOSYS) => Err(at("move_mount")(Errno::NOSYS)),
                _ => Ok(()),
            }
        }),
        // A NULL request is rejected (EFAULT) before anything else.
        Check::Statmount => exists(raw(Call::StatmountNull), "statmount"),
        Check::Listmount => exists(raw(Call::ListmountNull), "listmount"),
        Check::SeccompListener => in_child(|| seccomp_listener().map(drop)),
        Check::SeccompAddfd => in_child(|| {
            let listener = seccomp_listener()?;
            let addfd = libc::seccomp_notif_addfd {
                id: u64::MAX,
                flags: 0,
                srcfd: listener.as_raw_fd() as u32,
                newfd: 0,
                newfd_flags: 0,
            };
            // An unknown ioctl is EINVAL; a known one looks the id up: ENOENT.
            let call = "ioctl(SECCOMP_IOCTL_NOTIF_ADDFD)";
            match raw(Call::NotifAddfd {
                listener: listener.as_fd(),
                addfd: &addfd,
            }) {
                Err(libc::ENOENT) => Ok(()),
                Err(errno) => Err(at_raw(call)(errno)),
                Ok(_) => Err(Failure { call, errno: None }),
            }
        }),
        Check::SeccompSyncWakeUp => in_child(|| {
            let listener = seccomp_listener()?;
            raw(Call::NotifSyncWakeUp {
                listener: listener.as_fd(),
            })
            .map(drop)
            .map_err(at_raw("ioctl(SECCOMP_IOCTL_NOTIF_SET_FLAGS, SYNC_WAKE_UP)"))
        }),
        // Looks the session keyring up without creating one.
        Check::Keyrings => raw(Call::KeyctlSessionId)
            .map(drop)
            .map_err(at_raw("keyctl(KEYCTL_GET_KEYRING_ID, session)")),
        Check::KeyringNsNames => {
            let mut caps = [0u8; 2];
            raw(Call::KeyctlCapabilities { caps: &mut caps })
                .map_err(at_raw("keyctl(KEYCTL_CAPABILITIES)"))?;
            if caps[1] & KEYCTL_CAPS1_NS_KEYRING_NAME == 0 {
                return Err(Failure {
                    call: "keyctl(KEYCTL_CAPABILITIES) lacks KEYCTL_CAPS1_NS_KEYRING_NAME",
                    errno: None,
                });
            }
            Ok(())
        }
        Check::Cgroup2 => cgroup2_mount().map(drop),
        Check::PidfdInfoExit => reaped_child_info(PIDFD_INFO_EXIT, "PIDFD_INFO_EXIT"),
        Check::PidfdInfoCoredump => reaped_child_info(PIDFD_INFO_COREDUMP, "PIDFD_INFO_COREDUMP"),
        // Signal 0 only checks that the target exists and may be signalled.
        Check::PidfdSelf => raw(Call::PidfdSignalSelf)
            .map(drop)
            .map_err(at_raw("pidfd_send_signal(PIDFD_SELF_THREAD, 0)")),
        Check::PidfsFileHandles => {
            let pidfd = pidfd_self(PidfdFlags::empty(), "pidfd_open(getpid(), 0)")?;
            handle_of(
                pidfd.as_fd(),
                "name_to_handle_at(pidfd, \"\", AT_EMPTY_PATH)",
            )
        }
        Check::NsGetId => {
            let ns = open_read(c"/proc/self/ns/net", "open /proc/self/ns/net")?;
            let mut id = 0u64;
            raw(Call::NsGetId {
                ns: ns.as_fd(),
                id: &mut id,
            })
            .map_err(at_raw("ioctl(NS_GET_ID)"))?;
            if id == 0 {
                return Err(Failure {
                    call: "ioctl(NS_GET_ID) returned id 0",
                    errno: None,
                });
            }
            Ok(())
        }
        Check::NsFileHandles => {
            let ns = open_read(c"/proc/self/ns/net", "open /proc/self/ns/net")?;
            handle_of(ns.as_fd(), "name_to_handle_at(nsfd, \"\", AT_EMPTY_PATH)")
        }
        Check::Openat2ExtendedHow => openat2_extended_how(),
        // A bad fd where the call exists (EBADF or ENOENT), ENOSYS where not.
        Check::OpenTreeAttr => exists(raw(Call::OpenTreeAttrNull), "open_tree_attr"),
        Check::StatmountOptArray => statmount_knows(
            STATMOUNT_OPT_ARRAY | STATMOUNT_OPT_SEC_ARRAY,
            "statmount(STATMOUNT_OPT_ARRAY | STATMOUNT_OPT_SEC_ARRAY)",
        ),
        Check::StatmountSupportedMask => {
            let (mask, _) = statmount_root(STATMOUNT_SUPPORTED_MASK)?;
            if mask & STATMOUNT_SUPPORTED_MASK == 0 {
                return Err(Failure {
                    call: "statmount did not fill STATMOUNT_SUPPORTED_MASK",
                    errno: None,
                });
            }
            Ok(())
        }
        Check::StatmountIdmap => statmount_knows(
            STATMOUNT_MNT_UIDMAP | STATMOUNT_MNT_GIDMAP,
            "statmount(STATMOUNT_MNT_UIDMAP | STATMOUNT_MNT_GIDMAP)",
        ),
        Check::ListmountNsId => {
            let (mask, words) = statmount_root(STATMOUNT_MNT_NS_ID)?;
            if mask & STATMOUNT_MNT_NS_ID == 0 {
                return Err(Failure {
                    call: "statmount did not fill STATMOUNT_MNT_NS_ID",
                    errno: None,
                });
            }
            let req = MntIdReq {
                size: MNT_ID_REQ_SIZE_VER1,
                mnt_ns_fd: 0,
                mnt_id: LSMT_ROOT,
                param: 0,
                mnt_ns_id: words[SM_MNT_NS_ID],
            };
            listmount_one(&req, "listmount(mnt_ns_id)")
        }
        Check::ListmountNsFd => {
            let ns = open_read(c"/proc/self/ns/mnt", "open /proc/self/ns/mnt")?;
            // The kernel reads fd 0 as "no fd", which would prove nothing: move it up.
            let ns = if ns.as_raw_fd() == 0 {
                rustix::io::fcntl_dupfd_cloexec(&ns, 3).map_err(at("fcntl(F_DUPFD_CLOEXEC)"))?
            } else {
                ns
            };
            let req = MntIdReq {
                size: MNT_ID_REQ_SIZE_VER0,
                mnt_ns_fd: ns.as_raw_fd() as u32,
                mnt_id: LSMT_ROOT,
                param: 0,
                mnt_ns_id: 0,
            };
            listmount_one(&req, "listmount(mnt_ns_fd)")
        }
        Check::MountNotify => in_child(|| {
            own_mount_ns()?;
            let group =
                raw_fd(FdCall::FanotifyInitMnt).map_err(at_raw("fanotify_init(FAN_REPORT_MNT)"))?;
            let ns = open_read(c"/proc/self/ns/mnt", "open /proc/self/ns/mnt")?;
            raw(Call::FanotifyMarkMntns {
                group: group.as_fd(),
                ns: ns.as_fd(),
            })
            .map(drop)
            .map_err(at_raw("fanotify_mark(FAN_MARK_MNTNS)"))
        }),
        Check::SeccompNotifSizes => {
            let mut sizes = [0u16; 3];
            raw(Call::SeccompNotifSizes { sizes: &mut sizes })
                .map_err(at_raw("seccomp(SECCOMP_GET_NOTIF_SIZES)"))?;
            if sizes.contains(&0) {
                return Err(Failure {
                    call: "seccomp(SECCOMP_GET_NOTIF_SIZES) reported a size of 0",
                    errno: None,
                });
            }
            Ok(())
        }
    }
}

/// `struct mnt_id_req`, version 1.
#[repr(C)]
struct MntIdReq {
    size: u32,
    mnt_ns_fd: u32,
    mnt_id: u64,
    param: u64,
    mnt_ns_id: u64,
}

fn listmount_one(req: &MntIdReq, call: &'static str) -> Probe {
    let mut ids = [0u64; 1];
    let n = raw(Call::Listmount { req, ids: &mut ids }).map_err(at_raw(call))?;
    if n != 1 || ids[0] == 0 {
        return Err(Failure {
            call: "listmount listed no mount",
            errno: None,
        });
    }
    Ok(())
}

/// `statmount` of the caller's root mount with `mask`: the mask the kernel filled
/// and the first words of the answer.
fn statmount_root(mask: u64) -> Result<(u64, [u64; 64]), Failure> {
    let req = MntIdReq {
        size: MNT_ID_REQ_SIZE_VER0,
        mnt_ns_fd: 0,
        mnt_id: LSMT_ROOT,
        param: 0,
        mnt_ns_id: 0,
    };
    let mut root = [0u64; 1];
    raw(Call::Listmount {
        req: &req,
        ids: &mut root,
    })
    .map_err(at_raw("listmount"))?;
    let req = MntIdReq {
        size: MNT_ID_REQ_SIZE_VER0,
        mnt_ns_fd: 0,
        mnt_id: root[0],
        param: mask,
        mnt_ns_id: 0,
    };
    // u64 words: 8-byte aligned, as struct statmount needs.
    let mut buf = [0u64; 1024];
    raw(Call::Statmount {
        req: &req,
        buf: &mut buf,
    })
    .map_err(at_raw("statmount"))?;
    let mut head = [0u64; 64];
    head.copy_from_slice(&buf[..64]);
    Ok((buf[SM_MASK], head))
}

/// Whether statmount knows every bit of `bits`: by the supported mask where the
/// kernel has one, else by what it filled.
fn statmount_knows(bits: u64, call: &'static str) -> Probe {
    let (mask, words) = statmount_root(bits | STATMOUNT_SUPPORTED_MASK)?;
    let known = if mask & STATMOUNT_SUPPORTED_MASK != 0 {
        words[SM_SUPPORTED_MASK]
    } else {
        mask
    };
    if known & bits != bits {
        return Err(Failure { call, errno: None });
    }
    Ok(())
}

/// Asks `PIDFD_GET_INFO` for `bit` about a child that exited and was reaped.
fn reaped_child_info(bit: u64, name: &'static str) -> Probe {
    let pid = fork_child(|| 7)?;
    // A zombie still has a pidfd.
    let pidfd =
        rustix::process::pidfd_open(pid, PidfdFlags::empty()).map_err(at("pidfd_open(child, 0)"));
    reap(pid);
    let pidfd = pidfd?;
    let mut info = [0u64; 9];
    // A reaped process answers only with PIDFD_INFO_EXIT in the request.
    info[0] = bit | PIDFD_INFO_EXIT;
    raw(Call::PidfdGetInfoVer1 {
        pidfd: pidfd.as_fd(),
        info: &mut info,
    })
    .map_err(at_raw("ioctl(PIDFD_GET_INFO) of a reaped child"))?;
    if info[0] & bit == 0 {
        return Err(Failure {
            call: name,
            errno: None,
        });
    }
    if bit == PIDFD_INFO_EXIT {
        // exit_code, at byte 60, is a wait status: exited with 7.
        let bytes = info[7].to_ne_bytes();
        let exit_code = i32::from_ne_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        if exit_code != 7 << 8 {
            return Err(Failure {
                call: "PIDFD_INFO_EXIT reported the wrong exit status",
                errno: None,
            });
        }
    }
    Ok(())
}

fn open_read(path: &CStr, call: &'static str) -> Result<OwnedFd, Failure> {
    rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).map_err(at(call))
}

/// `name_to_handle_at(fd, "", handle, &mnt_id, AT_EMPTY_PATH)`.
fn handle_of(fd: BorrowedFd<'_>, call: &'static str) -> Probe {
    let mut handle = FileHandle {
        handle_bytes: 0,
        handle_type: 0,
        f_handle: [0; 128],
    };
    let mut mnt_id: libc::c_int = 0;
    raw(Call::NameToHandle {
        fd,
        handle: &mut handle,
        mnt_id: &mut mnt_id,
    })
    .map(drop)
    .map_err(at_raw(call))
}

/// openat2 with a 32-byte open_how: a zero tail must be taken, a non-zero tail
/// refused with E2BIG.
fn openat2_extended_how() -> Probe {
    let flags = (libc::O_PATH | libc::O_CLOEXEC) as u64;
    raw_fd(FdCall::Openat2Root {
        how: &[flags, 0, 0, 0],
    })
    .map_err(at_raw("openat2(open_how of 32 bytes, zero tail)"))?;
    match raw_fd(FdCall::Openat2Root {
        how: &[flags, 0, 0, 1],
    }) {
        Ok(_) => Err(Failure {
            call: "openat2 took an open_how with a non-zero unknown tail",
            errno: None,
        }),
        Err(libc::E2BIG) => Ok(()),
        Err(errno) => Err(at_raw("openat2(open_how of 32 bytes, non-zero tail)")(
            errno,
        )),
    }
}

/// Whether the caller may write in the directory `path` (`access(path, W_OK)`).
pub(crate) fn writable(path: &CStr) -> bool {
    rustix::fs::access(path, Access::WRITE_OK).is_ok()
}

/// `unshare(flags)`, in a probe child (or grandchild) only.
fn unshare(flags: UnshareFlags, call: &'static str) -> Probe {
    // SAFETY: only the probe's single-threaded forked children call this, so
    // unsharing CLONE_FS/CLONE_FILES state (never asked for here) or the user
    // namespace cannot pull the ground from under another thread.
    unsafe { rustix::thread::unshare_unsafe(flags) }.map_err(at(call))
}

fn drop_to_nobody() -> Probe {
    use rustix::process::{Gid, Uid};
    let (uid, gid) = (Uid::from_raw(65534), Gid::from_raw(65534));
    // The probe child has one thread, so the per-thread calls set the process's ids.
    rustix::thread::set_thread_groups(&[]).map_err(at("setgroups([])"))?;
    rustix::thread::set_thread_res_gid(gid, gid, gid).map_err(at("setresgid(65534)"))?;
    rustix::thread::set_thread_res_uid(uid, uid, uid).map_err(at("setresuid(65534)"))
}

fn pidfd_self(flags: PidfdFlags, call: &'static str) -> Result<OwnedFd, Failure> {
    rustix::process::pidfd_open(rustix::process::getpid(), flags).map_err(at(call))
}

fn openat2_root(resolve: ResolveFlags, call: &'static str) -> Probe {
    rustix::fs::openat2(
        CWD,
        c"/",
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | resolve,
    )
    .map(drop)
    .map_err(at(call))
}

/// clone3 a child that exits at once, then reaps it (probe child only).
fn clone3_and_reap(args: &CloneArgs<'_>, call: &'static str) -> Probe {
    let pid = raw(Call::Clone3 { args }).map_err(at_raw(call))?;
    if pid == 0 {
        exit_now(0);
    }
    if let Some(pid) = Pid::from_raw(pid as libc::pid_t) {
        reap(pid);
    }
    Ok(())
}

/// Forks a child that runs `child` (raw system calls only: see the module docs)
/// and `_exit`s with its answer; the child's pid in the caller.
fn fork_child(child: impl FnOnce() -> i32) -> Result<Pid, Failure> {
    // SAFETY: the child runs only `child`, which the probes here keep to
    // async-signal-safe system calls and stack buffers, then `_exit`s: it never
    // returns into the caller's code, runs no destructor and takes no lock.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        exit_now(child());
    }
    if pid < 0 {
        return Err(Failure {
            call: "fork",
            errno: std::io::Error::last_os_error().raw_os_error(),
        });
    }
    Pid::from_raw(pid).ok_or(Failure {
        call: "fork",
        errno: None,
    })
}

/// `_exit(code)`: ends a probe child without running the parent's destructors or
/// atexit handlers.
fn exit_now(code: i32) -> ! {
    // SAFETY: _exit ends the process at once; nothing of ours runs after it.
    unsafe { libc::_exit(code) }
}

/// Waits for our child `pid` (any kind, `__WALL`) until it is reaped.
fn reap(pid: Pid) {
    let all = WaitOptions::from_bits_retain(libc::__WALL as u32);
    while let Err(Errno::INTR) = rustix::process::waitpid(Some(pid), all) {}
}

pub(crate) fn cgroup2_mount() -> Result<String, Failure> {
    const CGROUP2_SUPER_MAGIC: u64 = 0x6367_7270;
    let is_cgroup2 = |point: &str| {
        rustix::fs::statfs(point).is_ok_and(|st| st.f_type as u64 == CGROUP2_SUPER_MAGIC)
    };
    // Where every init system and runtime mounts it: one statfs instead of the whole
    // mount table (its text is rendered afresh for each read, a cost that grows with
    // the mounts of the namespace).
    const CONVENTIONAL: &str = "/sys/fs/cgroup";
    if is_cgroup2(CONVENTIONAL) {
        return Ok(CONVENTIONAL.to_string());
    }
    let info = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| Failure {
        call: "read /proc/self/mountinfo",
        errno: e.raw_os_error(),
    })?;
    // The newest visible one: a later mount may hide an earlier one (cgroup2
    // mounted over a hybrid host's /sys/fs/cgroup hides /sys/fs/cgroup/unified), so
    // the mount point must still be a cgroup2 filesystem.
    info.lines()
        .rev()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            (right.split_whitespace().next() == Some("cgroup2"))
                .then(|| left.split_whitespace().nth(4).map(str::to_string))?
        })
        .find(|point| is_cgroup2(point))
        .ok_or(Failure {
            call: "no cgroup2 mount in /proc/self/mountinfo",
            errno: None,
        })
}

fn own_cgroup2_dir() -> Result<CString, Failure> {
    let mount = cgroup2_mount()?;
    let groups = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| Failure {
        call: "read /proc/self/cgroup",
        errno: e.raw_os_error(),
    })?;
    let missing = Failure {
        call: "no cgroup v2 entry in /proc/self/cgroup",
        errno: None,
    };
    let path = groups
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or(missing)?;
    CString::new(format!("{mount}{path}")).map_err(|_| missing)
}

fn detached_tmpfs() -> Result<OwnedFd, Failure> {
    use rustix::mount::{fsconfig_create, fsmount, fsopen};
    let ctx = fsopen(c"tmpfs", FsOpenFlags::FSOPEN_CLOEXEC).map_err(at("fsopen(\"tmpfs\")"))?;
    fsconfig_create(&ctx).map_err(at("fsconfig(FSCONFIG_CMD_CREATE)"))?;
    fsmount(&ctx, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::empty()).map_err(at("fsmount"))
}

/// Writes `"/proc/<pid>/<leaf>"` into `buf` without allocating.
fn proc_path<'a>(buf: &'a mut [u8; 64], pid: Pid, leaf: &[u8]) -> &'a CStr {
    let mut digits = [0u8; 12];
    let (mut n, mut i) = (pid.as_raw_nonzero().get().unsigned_abs(), digits.len());
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut len = 0;
    for part in [&b"/proc/"[..], &digits[i..], b"/", leaf, b"\0"] {
        buf[len..len + part.len()].copy_from_slice(part);
        len += part.len();
    }
    CStr::from_bytes_with_nul(&buf[..len]).unwrap_or(c"/proc/self")
}

fn write_file(path: &CStr, text: &[u8], call: &'static str) -> Probe {
    let fd = rustix::fs::open(path, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(at(call))?;
    match rustix::io::write(&fd, text) {
        Ok(n) if n == text.len() => Ok(()),
        Ok(_) => Err(Failure { call, errno: None }),
        Err(e) => Err(at(call)(e)),
    }
}

/// A detached tmpfs idmapped through a fresh user namespace (probe child only).
fn idmap_detached_tmpfs() -> Probe {
    let mnt = detached_tmpfs()?;
    // The grandchild only unshares, stops itself and exits.
    let pid = fork_child(|| {
        if unshare(UnshareFlags::NEWUSER, "unshare(CLONE_NEWUSER)").is_ok() {
            let _ = rustix::process::kill_process(rustix::process::getpid(), Signal::STOP);
        }
        0
    })?;
    // Wait until it stopped inside its new namespace.
    let stopped = loop {
        match rustix::process::waitpid(Some(pid), WaitOptions::UNTRACED) {
            Err(Errno::INTR) => continue,
            Ok(Some((_, status))) => break status.stopped(),
            _ => break false,
        }
    };
    let result = (|| {
        if !stopped {
            return Err(Failure {
                call: "a child could not create a user namespace",
                errno: None,
            });
        }
        let mut buf = [0u8; 64];
        let map = b"0 100000 1000\n";
        write_file(proc_path(&mut buf, pid, b"uid_map"), map, "write uid_map")?;
        write_file(proc_path(&mut buf, pid, b"gid_map"), map, "write gid_map")?;
        let path = proc_path(&mut buf, pid, b"ns/user");
        let userns = open_read(path, "open /proc/<pid>/ns/user")?;
        let attr = MountAttr([MOUNT_ATTR_IDMAP, 0, 0, userns.as_raw_fd() as u64]);
        raw(Call::MountSetattr {
            fd: mnt.as_fd(),
            attr: &attr,
        })
        .map(drop)
        .map_err(at_raw(
            "mount_setattr(MOUNT_ATTR_IDMAP) on a detached tmpfs",
        ))
    })();
    // pid is our unreaped child, so its number cannot have been reused.
    let _ = rustix::process::kill_process(pid, Signal::KILL);
    reap(pid);
    result
}

fn seccomp_listener() -> Result<OwnedFd, Failure> {
    rustix::thread::set_no_new_privs(true).map_err(at("prctl(PR_SET_NO_NEW_PRIVS)"))?;
    let allow = libc::sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k: libc::SECCOMP_RET_ALLOW,
    };
    raw_fd(FdCall::SeccompListener { filter: &[allow] })
        .map_err(at_raw("seccomp(SECCOMP_SET_MODE_FILTER, NEW_LISTENER)"))
}

/// Every `call` a probe child can report, so that the child sends an index.
const CHILD_CALLS: &[&str] = &[
    "unshare(CLONE_NEWUSER)",
    "unshare(CLONE_NEWUSER) as uid 65534",
    "unshare(CLONE_NEWTIME)",
    "unshare(CLONE_NEWUSER | CLONE_NEWNS)",
    "setgroups([])",
    "setresgid(65534)",
    "setresuid(65534)",
    "clone3(set_tid = [1])",
    "clone3(CLONE_INTO_CGROUP)",
    "open(own cgroup v2 directory)",
    "fsopen(\"tmpfs\")",
    "fsconfig(FSCONFIG_CMD_CREATE)",
    "fsmount",
    "fork",
    "a child could not create a user namespace",
    "write uid_map",
    "write gid_map",
    "open /proc/<pid>/ns/user",
    "mount_setattr(MOUNT_ATTR_IDMAP) on a detached tmpfs",
    "move_mount(MOVE_MOUNT_BENEATH)",
    "move_mount",
    "prctl(PR_SET_NO_NEW_PRIVS)",
    "seccomp(SECCOMP_SET_MODE_FILTER, NEW_LISTENER)",
    "ioctl(SECCOMP_IOCTL_NOTIF_ADDFD)",
    "ioctl(SECCOMP_IOCTL_NOTIF_SET_FLAGS, SYNC_WAKE_UP)",
    "fanotify_init(FAN_REPORT_MNT)",
    "open /proc/self/ns/mnt",
    "fanotify_mark(FAN_MARK_MNTNS)",
];
const UNKNOWN_CALL: &str = "a probe step";

/// Runs `probe` in a forked child and returns its answer. The child reports
/// (index into CHILD_CALLS, errno) in 8 bytes over a pipe.
fn in_child(probe: impl FnOnce() -> Probe) -> Probe {
    let (read_end, write_end) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(at("pipe2"))?;
    let pid = fork_child(move || {
        let mut message = [0u8; 8];
        if let Err(missing) = probe() {
            let index = CHILD_CALLS
                .iter()
                .position(|c| *c == missing.call)
                .map_or(u32::MAX, |i| i as u32);
            message[..4].copy_from_slice(&index.to_ne_bytes());
            message[4..].copy_from_slice(&missing.errno.unwrap_or(-1).to_ne_bytes());
        } else {
            message[..4].copy_from_slice(&u32::MAX.to_ne_bytes());
            message[4..].copy_from_slice(&0i32.to_ne_bytes());
        }
        let _ = rustix::io::write(&write_end, &message);
        0
    })?;
    let mut message = [0u8; 8];
    let mut got = 0;
    while got < message.len() {
        match rustix::io::read(&read_end, &mut message[got..]) {
            Err(Errno::INTR) => continue,
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    reap(pid);
    if got != message.len() {
        return Err(Failure {
            call: "the probe child died before answering",
            errno: None,
        });
    }
    let index = u32::from_ne_bytes(message[..4].try_into().unwrap_or_default());
    let errno = i32::from_ne_bytes(message[4..].try_into().unwrap_or_default());
    if index == u32::MAX && errno == 0 {
        return Ok(());
    }
    Err(Failure {
        call: CHILD_CALLS
            .get(index as usize)
            .copied()
            .unwrap_or(UNKNOWN_CALL),
        errno: (errno >= 0).then_some(errno),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> Scratch {
        Scratch {
            clone: [0; 11],
            prog: libc::sock_fprog {
                len: 0,
                filter: std::ptr::null_mut(),
            },
        }
    }

    #[test]
    fn pointers_and_sizes_come_from_the_referents() {
        let mut s = scratch();
        let req = MntIdReq {
            size: MNT_ID_REQ_SIZE_VER0,
            mnt_ns_fd: 0,
            mnt_id: LSMT_ROOT,
            param: 0,
            mnt_ns_id: 0,
        };
        let mut buf = [0u64; 16];
        let buf_at = buf.as_ptr() as libc::c_long;
        let (nr, a) = Call::Statmount {
            req: &req,
            buf: &mut buf,
        }
        .encode(&mut s);
        assert_eq!(nr, SYS_STATMOUNT);
        assert_eq!(a[..3], [ptr(&req), buf_at, 128]);

        let mut caps = [0u8; 2];
        let caps_at = caps.as_ptr() as libc::c_long;
        let (nr, a) = Call::KeyctlCapabilities { caps: &mut caps }.encode(&mut s);
        assert_eq!(nr, libc::SYS_keyctl);
        assert_eq!(a[..3], [KEYCTL_CAPABILITIES.into(), caps_at, 2]);

        let tids = [1, 2];
        let args = CloneArgs {
            flags: libc::CLONE_NEWPID as u64,
            set_tid: &tids,
            cgroup: None,
        };
        let (nr, a) = Call::Clone3 { args: &args }.encode(&mut s);
        assert_eq!(nr, libc::SYS_clone3);
        assert_eq!(
            a[..2],
            [ptr(&s.clone), CLONE_ARGS_SIZE_VER2 as libc::c_long]
        );
        assert_eq!(s.clone[8], tids.as_ptr() as u64);
        assert_eq!(s.clone[9], 2);
        assert_eq!(s.clone[4], libc::SIGCHLD as u64);

        let how = [0u64; 4];
        let (nr, a) = FdCall::Openat2Root { how: &how }.encode(&mut s);
        assert_eq!(nr, libc::SYS_openat2);
        assert_eq!(a[2..4], [ptr(&how), 32]);

        let allow = [libc::sock_filter {
            code: 6,
            jt: 0,
            jf: 0,
            k: 0,
        }];
        let (nr, a) = FdCall::SeccompListener { filter: &allow }.encode(&mut s);
        assert_eq!(nr, libc::SYS_seccomp);
        assert_eq!(a[2], ptr(&s.prog));
        assert_eq!(
            (s.prog.len, s.prog.filter.cast_const()),
            (1, allow.as_ptr())
        );
    }

    #[test]
    fn proc_path_formats_without_allocating() {
        let mut buf = [0u8; 64];
        assert_eq!(
            proc_path(&mut buf, pid(4_194_304), b"uid_map"),
            c"/proc/4194304/uid_map"
        );
        assert_eq!(proc_path(&mut buf, pid(7), b"ns/user"), c"/proc/7/ns/user");
    }

    #[test]
    fn a_child_failure_comes_back_with_its_call_and_errno() {
        let answer = in_child(|| Err(fail_with("unshare(CLONE_NEWTIME)", libc::EPERM)));
        assert_eq!(
            answer,
            Err(Failure {
                call: "unshare(CLONE_NEWTIME)",
                errno: Some(libc::EPERM)
            })
        );
        assert_eq!(in_child(|| Ok(())), Ok(()));
    }

    #[test]
    fn every_child_call_name_is_in_the_table_once() {
        for (i, call) in CHILD_CALLS.iter().enumerate() {
            assert_eq!(
                CHILD_CALLS.iter().position(|c| c == call),
                Some(i),
                "{call}"
            );
        }
    }

    fn pid(raw: libc::pid_t) -> Pid {
        Pid::from_raw(raw).expect("a positive pid")
    }

    fn fail_with(call: &'static str, errno: i32) -> Failure {
        Failure {
            call,
            errno: Some(errno),
        }
    }
}
