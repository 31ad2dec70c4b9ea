//! The probes: raw system calls, some in a forked child.
//!
//! A child forked from a possibly multithreaded process may only make
//! async-signal-safe calls: the child-side code here makes raw system calls and
//! writes to stack buffers, nothing else (no allocation, no locks, no panics).
//!
//! A leaf: it answers in plain values ([`Failure`], [`Check`]) defined here; the
//! public types are built above.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

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
const PIDFD_NONBLOCK: libc::c_uint = libc::O_NONBLOCK as libc::c_uint;
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
const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
const MOUNT_ATTR_SIZE_VER0: usize = 32;
const MOVE_MOUNT_BENEATH: libc::c_uint = 0x200;
const KEYCTL_GET_KEYRING_ID: libc::c_int = 0;
const KEYCTL_CAPABILITIES: libc::c_int = 31;
const KEY_SPEC_SESSION_KEYRING: libc::c_int = -3;
const KEYCTL_CAPS1_NS_KEYRING_NAME: u8 = 0x01;

type Probe = Result<(), Failure>;

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn fail(call: &'static str) -> Failure {
    Failure {
        call,
        errno: Some(errno()),
    }
}

fn check(ret: libc::c_long, call: &'static str) -> Result<libc::c_long, Failure> {
    if ret < 0 { Err(fail(call)) } else { Ok(ret) }
}

/// Turns a returned fd into an owned one (closed on drop).
fn owned(ret: libc::c_long, call: &'static str) -> Result<OwnedFd, Failure> {
    let fd = check(ret, call)? as RawFd;
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `Err` only when the call failed with `ENOSYS`: the call exists when it fails
/// for any other reason (the arguments are deliberately invalid).
fn exists(ret: libc::c_long, call: &'static str) -> Probe {
    if ret < 0 && errno() == libc::ENOSYS {
        return Err(fail(call));
    }
    Ok(())
}

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
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

pub(crate) fn probe(feature: Check) -> Probe {
    match feature {
        Check::Root => need_root(),
        Check::UserNs => in_child(|| unshare(libc::CLONE_NEWUSER, "unshare(CLONE_NEWUSER)")),
        Check::UnprivilegedUserNs => in_child(|| {
            if is_root() {
                drop_to_nobody()?;
            }
            unshare(libc::CLONE_NEWUSER, "unshare(CLONE_NEWUSER) as uid 65534")
        }),
        Check::TimeNs => in_child(|| {
            if !is_root() {
                unshare(libc::CLONE_NEWUSER, "unshare(CLONE_NEWUSER)")?;
            }
            unshare(libc::CLONE_NEWTIME, "unshare(CLONE_NEWTIME)")
        }),
        Check::PidfdOpen => pidfd_self(0, "pidfd_open(getpid(), 0)").map(drop),
        Check::PidfdNonblock => {
            pidfd_self(PIDFD_NONBLOCK, "pidfd_open(getpid(), PIDFD_NONBLOCK)").map(drop)
        }
        Check::PidfdThread => {
            // SAFETY: gettid takes no arguments and cannot fail.
            let tid = unsafe { libc::syscall(libc::SYS_gettid) };
            // SAFETY: plain syscall with integer arguments.
            let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, tid, PIDFD_THREAD) };
            owned(ret, "pidfd_open(gettid(), PIDFD_THREAD)").map(drop)
        }
        Check::PidfdGetfd => {
            let pidfd = pidfd_self(0, "pidfd_open(getpid(), 0)")?;
            // SAFETY: plain syscall with integer arguments; fd 0 may be closed, so
            // copy the pidfd itself.
            let ret = unsafe {
                libc::syscall(
                    libc::SYS_pidfd_getfd,
                    pidfd.as_raw_fd(),
                    pidfd.as_raw_fd(),
                    0,
                )
            };
            owned(ret, "pidfd_getfd").map(drop)
        }
        Check::PidfdInfo => {
            let pidfd = pidfd_self(0, "pidfd_open(getpid(), 0)")?;
            let mut info = [0u64; 8];
            info[0] = PIDFD_INFO_PID;
            // SAFETY: info is 64 writable bytes, the size encoded in the request.
            let ret = unsafe { libc::ioctl(pidfd.as_raw_fd(), PIDFD_GET_INFO, info.as_mut_ptr()) };
            check(ret.into(), "ioctl(PIDFD_GET_INFO)").map(drop)
        }
        Check::PidfdNamespaces => {
            let pidfd = pidfd_self(0, "pidfd_open(getpid(), 0)")?;
            // SAFETY: the ioctl takes no argument and returns a new fd.
            let ret = unsafe { libc::ioctl(pidfd.as_raw_fd(), PIDFD_GET_UTS_NAMESPACE, 0) };
            owned(ret.into(), "ioctl(PIDFD_GET_UTS_NAMESPACE)").map(drop)
        }
        Check::Clone3 => {
            // A NULL struct of size 0 is EINVAL where clone3 exists, ENOSYS where not.
            // SAFETY: the kernel rejects the size before reading any memory.
            let ret = unsafe { libc::syscall(libc::SYS_clone3, 0usize, 0usize) };
            exists(ret, "clone3")
        }
        Check::SetTid => in_child(|| {
            if !is_root() {
                unshare(libc::CLONE_NEWUSER, "unshare(CLONE_NEWUSER)")?;
            }
            let tid: libc::pid_t = 1;
            let set_tid = &tid as *const libc::pid_t as u64;
            clone3_and_reap(
                libc::CLONE_NEWPID as u64,
                set_tid,
                1,
                0,
                "clone3(set_tid = [1])",
            )
        }),
        Check::CloneIntoCgroup => {
            let dir = own_cgroup2_dir()?;
            in_child(move || {
                // SAFETY: dir is NUL-terminated.
                let ret = unsafe {
                    libc::open(
                        dir.as_ptr(),
                        libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
                    )
                };
                let cgroup = owned(ret.into(), "open(own cgroup v2 directory)")?;
                let fd = cgroup.as_raw_fd() as u64;
                clone3_and_reap(CLONE_INTO_CGROUP, 0, 0, fd, "clone3(CLONE_INTO_CGROUP)")
            })
        }
        Check::CloseRange => {
            // An empty range at the top of the fd space closes nothing.
            // SAFETY: plain syscall with integer arguments.
            let ret = unsafe { libc::syscall(libc::SYS_close_range, u32::MAX, u32::MAX, 0) };
            exists(ret, "close_range")
        }
        Check::Openat2 => openat2_root(0, "openat2(\"/\", RESOLVE_IN_ROOT)"),
        Check::ResolveCached => {
            match openat2_root(libc::RESOLVE_CACHED, "openat2(\"/\", RESOLVE_CACHED)") {
                // A cache miss still means the flag is known.
                Err(Failure {
                    errno: Some(libc::EAGAIN),
                    ..
                }) => Ok(()),
                other => other,
            }
        }
        Check::MountApi => in_child(|| {
            if !is_root() {
                let flags = libc::CLONE_NEWUSER | libc::CLONE_NEWNS;
                unshare(flags, "unshare(CLONE_NEWUSER | CLONE_NEWNS)")?;
            }
            detached_tmpfs().map(drop)
        }),
        Check::MountSetattr => {
            // A size below MOUNT_ATTR_SIZE_VER0 is EINVAL where the call exists.
            // SAFETY: the kernel rejects the size before reading any memory.
            let ret = unsafe {
                libc::syscall(libc::SYS_mount_setattr, -1, c"".as_ptr(), 0, 0usize, 0usize)
            };
            exists(ret, "mount_setattr")
        }
        Check::MountSetattrIdmap => {
            need_root()?;
            in_child(idmap_detached_tmpfs)
        }
        Check::MoveMountBeneath => in_child(|| {
            if !is_root() {
                let flags = libc::CLONE_NEWUSER | libc::CLONE_NEWNS;
                unshare(flags, "unshare(CLONE_NEWUSER | CLONE_NEWNS)")?;
            }
            // Unknown flags are EINVAL; with the flag known, the bad fds are EBADF.
            // SAFETY: the paths are NUL-terminated; the fds are invalid on purpose.
            let ret = unsafe {
                libc::syscall(
                    libc::SYS_move_mount,
                    -1,
                    c"".as_ptr(),
                    -1,
                    c"".as_ptr(),
                    MOVE_MOUNT_BENEATH,
                )
            };
            if ret < 0 && errno() == libc::EINVAL {
                return Err(fail("move_mount(MOVE_MOUNT_BENEATH)"));
            }
            exists(ret, "move_mount")
        }),
        Check::Statmount => {
            // SAFETY: a NULL request is rejected (EFAULT) before anything else.
            exists(
                unsafe { libc::syscall(SYS_STATMOUNT, 0usize, 0usize, 0usize, 0) },
                "statmount",
            )
        }
        Check::Listmount => {
            // SAFETY: a NULL request is rejected (EFAULT) before anything else.
            exists(
                unsafe { libc::syscall(SYS_LISTMOUNT, 0usize, 0usize, 0usize, 0) },
                "listmount",
            )
        }
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
            // SAFETY: addfd is a valid seccomp_notif_addfd.
            let ret = unsafe {
                libc::ioctl(
                    listener.as_raw_fd(),
                    libc::SECCOMP_IOCTL_NOTIF_ADDFD,
                    &addfd,
                )
            };
            if ret < 0 && errno() == libc::ENOENT {
                return Ok(());
            }
            Err(fail("ioctl(SECCOMP_IOCTL_NOTIF_ADDFD)"))
        }),
        Check::SeccompSyncWakeUp => in_child(|| {
            let listener = seccomp_listener()?;
            // SAFETY: the ioctl takes the flags by value.
            let ret = unsafe {
                libc::ioctl(
                    listener.as_raw_fd(),
                    SECCOMP_IOCTL_NOTIF_SET_FLAGS,
                    SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP,
                )
            };
            check(
                ret.into(),
                "ioctl(SECCOMP_IOCTL_NOTIF_SET_FLAGS, SYNC_WAKE_UP)",
            )
            .map(drop)
        }),
        Check::Keyrings => {
            // Looks the session keyring up without creating one.
            // SAFETY: plain syscall with integer arguments.
            let ret = unsafe {
                libc::syscall(
                    libc::SYS_keyctl,
                    KEYCTL_GET_KEYRING_ID,
                    KEY_SPEC_SESSION_KEYRING,
                    0,
                )
            };
            check(ret, "keyctl(KEYCTL_GET_KEYRING_ID, session)").map(drop)
        }
        Check::KeyringNsNames => {
            let mut caps = [0u8; 2];
            // SAFETY: caps is writable for the length passed.
            let ret = unsafe {
                libc::syscall(
                    libc::SYS_keyctl,
                    KEYCTL_CAPABILITIES,
                    caps.as_mut_ptr(),
                    caps.len(),
                )
            };
            check(ret, "keyctl(KEYCTL_CAPABILITIES)")?;
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
        Check::PidfdSelf => {
            // Signal 0 only checks that the target exists and may be signalled.
            // SAFETY: plain syscall with integer arguments and a NULL siginfo.
            let ret = unsafe {
                libc::syscall(libc::SYS_pidfd_send_signal, PIDFD_SELF_THREAD, 0, 0usize, 0)
            };
            check(ret, "pidfd_send_signal(PIDFD_SELF_THREAD, 0)").map(drop)
        }
        Check::PidfsFileHandles => {
            let pidfd = pidfd_self(0, "pidfd_open(getpid(), 0)")?;
            handle_of(&pidfd, "name_to_handle_at(pidfd, \"\", AT_EMPTY_PATH)")
        }
        Check::NsGetId => {
            let ns = open_read(c"/proc/self/ns/net", "open /proc/self/ns/net")?;
            let mut id = 0u64;
            // SAFETY: the ioctl writes one u64 through the pointer, which points at id.
            let ret = unsafe { libc::ioctl(ns.as_raw_fd(), NS_GET_ID, &mut id as *mut u64) };
            check(ret.into(), "ioctl(NS_GET_ID)")?;
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
            handle_of(&ns, "name_to_handle_at(nsfd, \"\", AT_EMPTY_PATH)")
        }
        Check::Openat2ExtendedHow => openat2_extended_how(),
        Check::OpenTreeAttr => {
            // A bad fd where the call exists (EBADF or ENOENT), ENOSYS where not.
            // SAFETY: the path is NUL-terminated; a NULL attr with size 0 is allowed.
            let ret =
                unsafe { libc::syscall(SYS_OPEN_TREE_ATTR, -1, c"".as_ptr(), 0, 0usize, 0usize) };
            exists(ret, "open_tree_attr")
        }
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
                // SAFETY: F_DUPFD_CLOEXEC with an integer argument on an open fd.
                let ret = unsafe { libc::fcntl(ns.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
                owned(ret.into(), "fcntl(F_DUPFD_CLOEXEC)")?
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
            if !is_root() {
                let flags = libc::CLONE_NEWUSER | libc::CLONE_NEWNS;
                unshare(flags, "unshare(CLONE_NEWUSER | CLONE_NEWNS)")?;
            }
            // SAFETY: integer arguments only.
            let ret =
                unsafe { libc::fanotify_init(FAN_REPORT_MNT | FAN_CLOEXEC, libc::O_RDONLY as u32) };
            let group = owned(ret.into(), "fanotify_init(FAN_REPORT_MNT)")?;
            let ns = open_read(c"/proc/self/ns/mnt", "open /proc/self/ns/mnt")?;
            // SAFETY: both fds are open; a NULL path means the dirfd itself.
            let ret = unsafe {
                libc::fanotify_mark(
                    group.as_raw_fd(),
                    FAN_MARK_ADD | FAN_MARK_MNTNS,
                    FAN_MNT_ATTACH | FAN_MNT_DETACH,
                    ns.as_raw_fd(),
                    std::ptr::null(),
                )
            };
            check(ret.into(), "fanotify_mark(FAN_MARK_MNTNS)").map(drop)
        }),
        Check::SeccompNotifSizes => {
            let mut sizes = [0u16; 3];
            // SAFETY: the kernel writes a struct seccomp_notif_sizes (three u16) into
            // sizes.
            let ret = unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    SECCOMP_GET_NOTIF_SIZES,
                    0,
                    sizes.as_mut_ptr(),
                )
            };
            check(ret, "seccomp(SECCOMP_GET_NOTIF_SIZES)")?;
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
    // SAFETY: req is a live mnt_id_req of at least req.size bytes; ids has room for
    // the one id we ask for.
    let ret = unsafe {
        libc::syscall(
            SYS_LISTMOUNT,
            req as *const MntIdReq,
            ids.as_mut_ptr(),
            1,
            0,
        )
    };
    check(ret, call)?;
    if ret != 1 || ids[0] == 0 {
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
    // SAFETY: as in listmount_one.
    let ret = unsafe {
        libc::syscall(
            SYS_LISTMOUNT,
            &req as *const MntIdReq,
            root.as_mut_ptr(),
            1,
            0,
        )
    };
    check(ret, "listmount")?;
    let req = MntIdReq {
        size: MNT_ID_REQ_SIZE_VER0,
        mnt_ns_fd: 0,
        mnt_id: root[0],
        param: mask,
        mnt_ns_id: 0,
    };
    let mut buf = [0u64; 1024];
    // SAFETY: req is a live mnt_id_req; buf is writable and 8-byte aligned for the
    // byte size passed.
    let ret = unsafe {
        libc::syscall(
            SYS_STATMOUNT,
            &req as *const MntIdReq,
            buf.as_mut_ptr(),
            std::mem::size_of_val(&buf),
            0,
        )
    };
    check(ret, "statmount")?;
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
    // SAFETY: the child only calls _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(7) };
    }
    check(pid.into(), "fork")?;
    // A zombie still has a pidfd.
    // SAFETY: plain syscall with integer arguments.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let pidfd = owned(ret, "pidfd_open(child, 0)");
    reap(pid);
    let pidfd = pidfd?;
    let mut info = [0u64; 9];
    // A reaped process answers only with PIDFD_INFO_EXIT in the request.
    info[0] = bit | PIDFD_INFO_EXIT;
    // SAFETY: info is 72 writable bytes, the size encoded in the request.
    let ret = unsafe { libc::ioctl(pidfd.as_raw_fd(), PIDFD_GET_INFO_VER1, info.as_mut_ptr()) };
    check(ret.into(), "ioctl(PIDFD_GET_INFO) of a reaped child")?;
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
    // SAFETY: path is NUL-terminated.
    let ret = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    owned(ret.into(), call)
}

/// `name_to_handle_at(fd, "", handle, &mnt_id, AT_EMPTY_PATH)`.
fn handle_of(fd: &OwnedFd, call: &'static str) -> Probe {
    // struct file_handle { u32 handle_bytes; i32 handle_type; u8 f_handle[128] }
    let mut handle = [0u32; 2 + 32];
    handle[0] = 128;
    let mut mnt_id: libc::c_int = 0;
    // SAFETY: handle is a file_handle whose handle_bytes matches its room; the
    // path is NUL-terminated; mnt_id is a valid out-pointer.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_name_to_handle_at,
            fd.as_raw_fd(),
            c"".as_ptr(),
            handle.as_mut_ptr(),
            &mut mnt_id as *mut libc::c_int,
            libc::AT_EMPTY_PATH,
        )
    };
    check(ret, call).map(drop)
}

/// openat2 with a 32-byte open_how: a zero tail must be taken, a non-zero tail
/// refused with E2BIG.
fn openat2_extended_how() -> Probe {
    let call = |how: &[u64; 4]| {
        // SAFETY: how is 32 readable bytes, the size passed; the path is
        // NUL-terminated.
        unsafe {
            libc::syscall(
                libc::SYS_openat2,
                libc::AT_FDCWD,
                c"/".as_ptr(),
                how.as_ptr(),
                std::mem::size_of_val(how),
            )
        }
    };
    let flags = (libc::O_PATH | libc::O_CLOEXEC) as u64;
    owned(
        call(&[flags, 0, 0, 0]),
        "openat2(open_how of 32 bytes, zero tail)",
    )?;
    let ret = call(&[flags, 0, 0, 1]);
    if ret >= 0 {
        drop(owned(ret, "openat2"));
        return Err(Failure {
            call: "openat2 took an open_how with a non-zero unknown tail",
            errno: None,
        });
    }
    if errno() != libc::E2BIG {
        return Err(fail("openat2(open_how of 32 bytes, non-zero tail)"));
    }
    Ok(())
}

/// Whether the caller may write in the directory `path` (`access(path, W_OK)`).
pub(crate) fn writable(path: &CStr) -> bool {
    // SAFETY: path is NUL-terminated; access only reads it.
    unsafe { libc::access(path.as_ptr(), libc::W_OK) == 0 }
}

fn unshare(flags: libc::c_int, call: &'static str) -> Probe {
    // SAFETY: unshare takes flags only; it runs in a single-threaded probe child.
    check(unsafe { libc::unshare(flags) }.into(), call).map(drop)
}

fn drop_to_nobody() -> Probe {
    const NOBODY: libc::uid_t = 65534;
    // SAFETY: credential syscalls with integer arguments, in a probe child.
    unsafe {
        check(libc::setgroups(0, std::ptr::null()).into(), "setgroups([])")?;
        check(
            libc::setresgid(NOBODY, NOBODY, NOBODY).into(),
            "setresgid(65534)",
        )?;
        check(
            libc::setresuid(NOBODY, NOBODY, NOBODY).into(),
            "setresuid(65534)",
        )?;
    }
    Ok(())
}

fn pidfd_self(flags: libc::c_uint, call: &'static str) -> Result<OwnedFd, Failure> {
    // SAFETY: plain syscall with integer arguments.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), flags) };
    owned(ret, call)
}

fn openat2_root(resolve: u64, call: &'static str) -> Probe {
    // struct open_how { flags, mode, resolve }
    let how: [u64; 3] = [
        (libc::O_PATH | libc::O_CLOEXEC) as u64,
        0,
        libc::RESOLVE_IN_ROOT | resolve,
    ];
    // SAFETY: how is an open_how of the size passed; the path is NUL-terminated.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            c"/".as_ptr(),
            how.as_ptr(),
            std::mem::size_of_val(&how),
        )
    };
    owned(ret, call).map(drop)
}

/// clone3 a child that exits at once, then reaps it (probe child only).
fn clone3_and_reap(
    flags: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
    call: &'static str,
) -> Probe {
    // struct clone_args up to CLONE_ARGS_SIZE_VER2: flags, pidfd, child_tid,
    // parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup.
    let args: [u64; 11] = [
        flags,
        0,
        0,
        0,
        libc::SIGCHLD as u64,
        0,
        0,
        0,
        set_tid,
        set_tid_size,
        cgroup,
    ];
    // SAFETY: args is a clone_args of the size passed; the new child only _exits.
    let pid = unsafe { libc::syscall(libc::SYS_clone3, args.as_ptr(), CLONE_ARGS_SIZE_VER2) };
    if pid == 0 {
        // SAFETY: ends the new child at once.
        unsafe { libc::_exit(0) };
    }
    check(pid, call)?;
    reap(pid as libc::pid_t);
    Ok(())
}

fn reap(pid: libc::pid_t) -> libc::c_int {
    let mut status = 0;
    // SAFETY: pid is our unreaped child; status is a valid out-pointer.
    while unsafe { libc::waitpid(pid, &mut status, libc::__WALL) } < 0 && errno() == libc::EINTR {}
    status
}

pub(crate) fn cgroup2_mount() -> Result<String, Failure> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| Failure {
        call: "read /proc/self/mountinfo",
        errno: e.raw_os_error(),
    })?;
    info.lines()
        .find_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            (right.split_whitespace().next() == Some("cgroup2"))
                .then(|| left.split_whitespace().nth(4).map(str::to_string))?
        })
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
    // SAFETY: the fs name is NUL-terminated.
    let ret = unsafe { libc::syscall(libc::SYS_fsopen, c"tmpfs".as_ptr(), FSOPEN_CLOEXEC) };
    let ctx = owned(ret, "fsopen(\"tmpfs\")")?;
    // SAFETY: FSCONFIG_CMD_CREATE takes no key or value.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            ctx.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            0usize,
            0usize,
            0,
        )
    };
    check(ret, "fsconfig(FSCONFIG_CMD_CREATE)")?;
    // SAFETY: plain syscall with integer arguments.
    let ret = unsafe { libc::syscall(libc::SYS_fsmount, ctx.as_raw_fd(), FSMOUNT_CLOEXEC, 0) };
    owned(ret, "fsmount")
}

/// Writes `"/proc/<pid>/<leaf>"` into `buf` without allocating.
fn proc_path<'a>(buf: &'a mut [u8; 64], pid: libc::pid_t, leaf: &[u8]) -> &'a CStr {
    let mut digits = [0u8; 12];
    let (mut n, mut i) = (pid.unsigned_abs(), digits.len());
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
    // SAFETY: path is NUL-terminated.
    let ret = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    let fd = owned(ret.into(), call)?;
    // SAFETY: text is valid for its length; fd is open.
    let n = unsafe { libc::write(fd.as_raw_fd(), text.as_ptr().cast(), text.len()) };
    if n != text.len() as isize {
        return Err(fail(call));
    }
    Ok(())
}

/// A detached tmpfs idmapped through a fresh user namespace (probe child only).
fn idmap_detached_tmpfs() -> Probe {
    let mnt = detached_tmpfs()?;
    // SAFETY: the grandchild only unshares, stops itself and exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: raw calls in the grandchild; it ends with _exit.
        unsafe {
            if libc::unshare(libc::CLONE_NEWUSER) == 0 {
                libc::raise(libc::SIGSTOP);
            }
            libc::_exit(0);
        }
    }
    check(pid.into(), "fork")?;
    let mut status = 0;
    // SAFETY: pid is our child; wait until it stopped inside its new namespace.
    unsafe { libc::waitpid(pid, &mut status, libc::WUNTRACED) };
    let result = (|| {
        if !libc::WIFSTOPPED(status) {
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
        // SAFETY: path is NUL-terminated.
        let ret = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        let userns = owned(ret.into(), "open /proc/<pid>/ns/user")?;
        // struct mount_attr { attr_set, attr_clr, propagation, userns_fd }
        let attr: [u64; 4] = [MOUNT_ATTR_IDMAP, 0, 0, userns.as_raw_fd() as u64];
        // SAFETY: attr is a mount_attr of the size passed; the path is NUL-terminated.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                mnt.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_EMPTY_PATH,
                attr.as_ptr(),
                MOUNT_ATTR_SIZE_VER0,
            )
        };
        check(ret, "mount_setattr(MOUNT_ATTR_IDMAP) on a detached tmpfs").map(drop)
    })();
    // SAFETY: pid is our unreaped child, so its number cannot have been reused.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    reap(pid);
    result
}

fn seccomp_listener() -> Result<OwnedFd, Failure> {
    // SAFETY: prctl with integer arguments.
    let ret = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    check(ret.into(), "prctl(PR_SET_NO_NEW_PRIVS)")?;
    let mut allow = libc::sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k: libc::SECCOMP_RET_ALLOW,
    };
    let prog = libc::sock_fprog {
        len: 1,
        filter: &mut allow,
    };
    // SAFETY: prog points at one valid instruction.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            SECCOMP_FILTER_FLAG_NEW_LISTENER,
            &prog,
        )
    };
    owned(ret, "seccomp(SECCOMP_SET_MODE_FILTER, NEW_LISTENER)")
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
    let mut fds = [0; 2];
    // SAFETY: fds is two writable c_ints.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    check(r.into(), "pipe2")?;
    // SAFETY: pipe2 returned two fresh fds that nothing else owns.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: the child runs only raw system calls (see the module docs) and _exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
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
        // SAFETY: message is valid for 8 bytes; the write end is open; _exit ends
        // the child without running the parent's destructors or atexit handlers.
        unsafe {
            libc::write(
                write_end.as_raw_fd(),
                message.as_ptr().cast(),
                message.len(),
            );
            libc::_exit(0);
        }
    }
    check(pid.into(), "fork")?;
    drop(write_end);
    let mut message = [0u8; 8];
    let mut got = 0;
    while got < message.len() {
        // SAFETY: the buffer tail is writable; read_end is open.
        let n = unsafe {
            libc::read(
                read_end.as_raw_fd(),
                message[got..].as_mut_ptr().cast(),
                message.len() - got,
            )
        };
        if n < 0 && errno() == libc::EINTR {
            continue;
        }
        if n <= 0 {
            break;
        }
        got += n as usize;
    }
    let status = reap(pid);
    if got != message.len() {
        let _ = status;
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

    #[test]
    fn proc_path_formats_without_allocating() {
        let mut buf = [0u8; 64];
        assert_eq!(
            proc_path(&mut buf, 4_194_304, b"uid_map"),
            c"/proc/4194304/uid_map"
        );
        assert_eq!(proc_path(&mut buf, 7, b"ns/user"), c"/proc/7/ns/user");
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

    fn fail_with(call: &'static str, errno: i32) -> Failure {
        Failure {
            call,
            errno: Some(errno),
        }
    }
}
