//! Every `unsafe` call of the umbrella crate.
//!
//! Two groups: thin raw-syscall wrappers used by the child between `clone3` and
//! `execve` (they take raw fd numbers and `&CStr`, never allocate, and report the
//! errno as an `i32`), and the few parent-side calls that need `unsafe`
//! (`clone3` itself, `SCM_RIGHTS` reception, pidfd ioctls, `setns`).

use std::ffi::{CStr, c_char, c_int, c_long, c_uint, c_void};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::ptr;

/// The result of a raw call in the child: the return value, or the errno.
pub(crate) type Res<T = c_long> = Result<T, i32>;

fn errno() -> i32 {
    // SAFETY: `__errno_location` returns the calling thread's errno slot, always valid.
    unsafe { *libc::__errno_location() }
}

fn check(r: c_long) -> Res {
    if r < 0 { Err(errno()) } else { Ok(r) }
}

fn check_int(r: c_int) -> Res<c_int> {
    if r < 0 { Err(errno()) } else { Ok(r) }
}

fn opt_ptr(s: Option<&CStr>) -> *const c_char {
    s.map_or(ptr::null(), CStr::as_ptr)
}

/// `read(fd, buf, len)`.
pub(crate) fn read(fd: RawFd, buf: &mut [u8]) -> Res<usize> {
    // SAFETY: `buf` is a writable slice of `buf.len()` bytes for the duration of the call.
    let r = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    check(r as c_long).map(|n| n as usize)
}

/// `write(fd, buf, len)`.
pub(crate) fn write(fd: RawFd, buf: &[u8]) -> Res<usize> {
    // SAFETY: `buf` is a readable slice of `buf.len()` bytes for the duration of the call.
    let r = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
    check(r as c_long).map(|n| n as usize)
}

/// `close(fd)` of a raw fd in the child's copy of the fd table.
pub(crate) fn close(fd: RawFd) {
    // SAFETY: closing a number touches no memory; the child owns its copy of the table.
    unsafe { libc::close(fd) };
}

/// `dup3(old, new, 0)`: `new` is left without `O_CLOEXEC`.
pub(crate) fn dup2(old: RawFd, new: RawFd) -> Res<c_int> {
    // SAFETY: plain integer arguments.
    check_int(unsafe { libc::dup3(old, new, 0) })
}

/// `fcntl(fd, F_DUPFD_CLOEXEC, min)`.
pub(crate) fn dup_above(fd: RawFd, min: RawFd) -> Res<c_int> {
    // SAFETY: plain integer arguments.
    check_int(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) })
}

/// `close_range(first, last, CLOSE_RANGE_CLOEXEC)`.
pub(crate) fn cloexec_range(first: c_uint, last: c_uint) -> Res {
    // SAFETY: plain integer arguments.
    check(unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            last,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    })
}

/// `rt_sigprocmask(SIG_SETMASK, &empty, NULL)`: unblocks every signal.
pub(crate) fn unblock_all_signals() -> Res<c_int> {
    let empty: u64 = 0;
    // SAFETY: the kernel reads 8 bytes (the sigset size passed) from `empty`.
    check(unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &empty as *const u64,
            ptr::null_mut::<u64>(),
            8usize,
        )
    })
    .map(|r| r as c_int)
}

/// `rt_sigaction(SIGPIPE, SIG_DFL)`: `CLONE_CLEAR_SIGHAND` resets handled signals
/// only, and the Rust runtime ignores `SIGPIPE`; an ignored signal would stay
/// ignored across `execve`.
pub(crate) fn default_sigpipe() -> Res {
    // SAFETY: an all-zero sigaction is SIG_DFL with no flags and an empty mask.
    let act: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: `act` is a live sigaction; the old action is not asked for. The raw
    // syscall (not libc's wrapper) takes the kernel's sigset size, 8 bytes.
    check(unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            libc::SIGPIPE,
            &act as *const libc::sigaction,
            ptr::null_mut::<libc::sigaction>(),
            8usize,
        )
    })
}

/// `open_tree(dirfd, path, flags)`.
pub(crate) fn open_tree(dirfd: RawFd, path: &CStr, flags: c_uint) -> Res<c_int> {
    // SAFETY: `path` is NUL-terminated and outlives the call.
    check(unsafe { libc::syscall(libc::SYS_open_tree, dirfd, path.as_ptr(), flags) })
        .map(|r| r as c_int)
}

/// `move_mount(from_dirfd, from_path, to_dirfd, to_path, flags)`.
pub(crate) fn move_mount(
    from_dirfd: RawFd,
    from_path: &CStr,
    to_dirfd: RawFd,
    to_path: &CStr,
    flags: c_uint,
) -> Res {
    // SAFETY: both paths are NUL-terminated and outlive the call.
    check(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from_dirfd,
            from_path.as_ptr(),
            to_dirfd,
            to_path.as_ptr(),
            flags,
        )
    })
}

/// `fsopen(fstype, FSOPEN_CLOEXEC)`.
pub(crate) fn fsopen(fstype: &CStr) -> Res<c_int> {
    // SAFETY: `fstype` is NUL-terminated and outlives the call.
    check(unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), libc::FSOPEN_CLOEXEC) })
        .map(|r| r as c_int)
}

/// `fsconfig(fd, cmd, key, value, 0)` for the flag, string and create commands.
pub(crate) fn fsconfig(fd: RawFd, cmd: c_uint, key: Option<&CStr>, value: Option<&CStr>) -> Res {
    // SAFETY: key and value are null or NUL-terminated strings that outlive the call.
    check(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fd,
            cmd,
            opt_ptr(key),
            opt_ptr(value).cast::<c_void>(),
            0,
        )
    })
}

/// `fsmount(fd, FSMOUNT_CLOEXEC, attr)`.
pub(crate) fn fsmount(fd: RawFd, attr: c_uint) -> Res<c_int> {
    // SAFETY: plain integer arguments.
    check(unsafe { libc::syscall(libc::SYS_fsmount, fd, libc::FSMOUNT_CLOEXEC, attr) })
        .map(|r| r as c_int)
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// `mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)`: the fallback of
/// [`make_private_recursive`] before Linux 5.12.
pub(crate) fn make_private_recursive_mount2() -> Res<c_int> {
    // SAFETY: the target is a NUL-terminated literal; the other pointers are null.
    check_int(unsafe {
        libc::mount(
            ptr::null(),
            c"/".as_ptr(),
            ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            ptr::null(),
        )
    })
}

/// `mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, {propagation: MS_PRIVATE})`: makes
/// every mount of the (new) mount namespace private.
pub(crate) fn make_private_recursive() -> Res {
    let attr = MountAttr {
        attr_set: 0,
        attr_clr: 0,
        propagation: libc::MS_PRIVATE,
        userns_fd: 0,
    };
    // SAFETY: the path is a NUL-terminated literal; `attr` is a live struct of the
    // size passed (MOUNT_ATTR_SIZE_VER0, 32 bytes).
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            c"/".as_ptr(),
            libc::AT_RECURSIVE,
            &attr as *const MountAttr,
            size_of::<MountAttr>(),
        )
    })
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE], &attr, sizeof attr)`.
pub(crate) fn mount_setattr(
    fd: RawFd,
    recursive: bool,
    set: u64,
    clear: u64,
    userns: RawFd,
) -> Res {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: if userns >= 0 { userns as u64 } else { 0 },
    };
    let flags = libc::AT_EMPTY_PATH | if recursive { libc::AT_RECURSIVE } else { 0 };
    // SAFETY: the path is an empty NUL-terminated literal; `attr` is a live struct of
    // the size passed (MOUNT_ATTR_SIZE_VER0, 32 bytes).
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd,
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            size_of::<MountAttr>(),
        )
    })
}

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `openat2(dirfd, path, {flags, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS})`.
pub(crate) fn openat2_in_root(dirfd: RawFd, path: &CStr, flags: c_int, mode: u32) -> Res<c_int> {
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: mode as u64,
        resolve: libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS,
    };
    loop {
        // SAFETY: `path` is NUL-terminated; `how` is a live struct of the size passed.
        let r = check(unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dirfd,
                path.as_ptr(),
                &how as *const OpenHow,
                size_of::<OpenHow>(),
            )
        });
        // A rename elsewhere on the system can make IN_ROOT resolution give EAGAIN.
        if r != Err(libc::EAGAIN) {
            return r.map(|r| r as c_int);
        }
    }
}

/// `mkdirat(dirfd, name, mode)`.
pub(crate) fn mkdirat(dirfd: RawFd, name: &CStr, mode: u32) -> Res<c_int> {
    // SAFETY: `name` is NUL-terminated and outlives the call.
    check_int(unsafe { libc::mkdirat(dirfd, name.as_ptr(), mode) })
}

/// `openat(dirfd, name, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, mode)`, then close:
/// creates an empty file (a bind target).
pub(crate) fn create_file(dirfd: RawFd, name: &CStr, mode: u32) -> Res<c_int> {
    // SAFETY: `name` is NUL-terminated and outlives the call.
    let fd = check_int(unsafe {
        libc::openat(
            dirfd,
            name.as_ptr(),
            libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            mode,
        )
    })?;
    close(fd);
    Ok(0)
}

/// `symlinkat(target, dirfd, name)`.
pub(crate) fn symlinkat(target: &CStr, dirfd: RawFd, name: &CStr) -> Res<c_int> {
    // SAFETY: both strings are NUL-terminated and outlive the call.
    check_int(unsafe { libc::symlinkat(target.as_ptr(), dirfd, name.as_ptr()) })
}

/// `openat(dirfd, path, O_WRONLY | O_CLOEXEC)`, `write(data)`, `close`.
pub(crate) fn write_file(dirfd: RawFd, path: &CStr, data: &[u8]) -> Res<c_int> {
    // SAFETY: `path` is NUL-terminated and outlives the call.
    let fd =
        check_int(unsafe { libc::openat(dirfd, path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) })?;
    let r = write(fd, data);
    close(fd);
    r.map(|_| 0)
}

/// `pivot_root(".", ".")`.
pub(crate) fn pivot_root_here() -> Res {
    // SAFETY: both paths are NUL-terminated literals.
    check(unsafe { libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) })
}

/// `umount2(path, flags)`.
pub(crate) fn umount2(path: &CStr, flags: c_int) -> Res<c_int> {
    // SAFETY: `path` is NUL-terminated and outlives the call.
    check_int(unsafe { libc::umount2(path.as_ptr(), flags) })
}

/// `chdir(path)`.
pub(crate) fn chdir(path: &CStr) -> Res<c_int> {
    // SAFETY: `path` is NUL-terminated and outlives the call.
    check_int(unsafe { libc::chdir(path.as_ptr()) })
}

/// `fchdir(fd)`.
pub(crate) fn fchdir(fd: RawFd) -> Res<c_int> {
    // SAFETY: plain integer argument.
    check_int(unsafe { libc::fchdir(fd) })
}

/// `sethostname(name, len)`.
pub(crate) fn sethostname(name: &[u8]) -> Res<c_int> {
    // SAFETY: the kernel reads `name.len()` bytes from a live slice.
    check_int(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) })
}

/// `unshare(flags)`.
pub(crate) fn unshare(flags: c_int) -> Res<c_int> {
    // SAFETY: plain integer argument.
    check_int(unsafe { libc::unshare(flags) })
}

/// The raw `setgroups` syscall (per thread; the child has one thread).
pub(crate) fn setgroups(groups: &[libc::gid_t]) -> Res {
    // SAFETY: the kernel reads `groups.len()` gids from a live slice.
    check(unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) })
}

/// The raw `setresgid(gid, gid, gid)` syscall (per thread; the child has one thread).
pub(crate) fn setresgid(gid: u32) -> Res {
    // SAFETY: plain integer arguments.
    check(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) })
}

/// The raw `setresuid(uid, uid, uid)` syscall (per thread; the child has one thread).
pub(crate) fn setresuid(uid: u32) -> Res {
    // SAFETY: plain integer arguments.
    check(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) })
}

/// `prctl(option, arg2, arg3, 0, 0)`.
pub(crate) fn prctl(option: c_int, arg2: libc::c_ulong, arg3: libc::c_ulong) -> Res<c_int> {
    // SAFETY: the options used here take integer arguments only.
    check_int(unsafe { libc::prctl(option, arg2, arg3, 0 as libc::c_ulong, 0 as libc::c_ulong) })
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// `capset` (version 3) of the calling thread.
pub(crate) fn capset(effective: u64, permitted: u64, inheritable: u64) -> Res {
    let header = CapHeader {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let lo = |v: u64| v as u32;
    let hi = |v: u64| (v >> 32) as u32;
    let data = [
        CapData {
            effective: lo(effective),
            permitted: lo(permitted),
            inheritable: lo(inheritable),
        },
        CapData {
            effective: hi(effective),
            permitted: hi(permitted),
            inheritable: hi(inheritable),
        },
    ];
    // SAFETY: version 3 reads a header and two data structs, both live and `repr(C)`.
    check(unsafe { libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) })
}

/// Sends one fd over a unix socket (`SCM_RIGHTS`), with a one-byte payload.
pub(crate) fn send_fd(sock: RawFd, fd: RawFd) -> Res {
    #[repr(C)]
    struct Cmsg {
        hdr: libc::cmsghdr,
        fd: c_int,
        _pad: c_int,
    }
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: an all-zero cmsghdr/msghdr is a valid value of these plain C structs.
    let mut cmsg: Cmsg = unsafe { std::mem::zeroed() };
    // SAFETY: CMSG_LEN is a pure computation.
    cmsg.hdr.cmsg_len = unsafe { libc::CMSG_LEN(size_of::<c_int>() as u32) } as usize;
    cmsg.hdr.cmsg_level = libc::SOL_SOCKET;
    cmsg.hdr.cmsg_type = libc::SCM_RIGHTS;
    cmsg.fd = fd;
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = (&mut cmsg as *mut Cmsg).cast();
    // SAFETY: CMSG_SPACE is a pure computation.
    msg.msg_controllen = unsafe { libc::CMSG_SPACE(size_of::<c_int>() as u32) } as usize;
    // SAFETY: `msg` points at a live iovec and a live control buffer of the sizes set.
    check(unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) } as c_long)
}

/// Receives one fd sent by [`send_fd`] (`MSG_CMSG_CLOEXEC`), without allocating;
/// `Err(ECONNRESET)` when the peer closed without sending one.
pub(crate) fn recv_fd_raw(sock: RawFd) -> Res<c_int> {
    #[repr(C)]
    struct Cmsg {
        hdr: libc::cmsghdr,
        fd: c_int,
        _pad: c_int,
    }
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: an all-zero cmsghdr/msghdr is a valid value of these plain C structs.
    let mut cmsg: Cmsg = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = (&mut cmsg as *mut Cmsg).cast();
    msg.msg_controllen = size_of::<Cmsg>();
    loop {
        // SAFETY: `msg` points at a live iovec and a control buffer of the size set.
        let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n < 0 {
            let e = errno();
            if e == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        if n == 0
            || msg.msg_controllen < size_of::<libc::cmsghdr>()
            || cmsg.hdr.cmsg_level != libc::SOL_SOCKET
            || cmsg.hdr.cmsg_type != libc::SCM_RIGHTS
        {
            return Err(libc::ECONNRESET);
        }
        return Ok(cmsg.fd);
    }
}

/// [`recv_fd_raw`] for the parent: the fd owned, `Ok(None)` when the peer closed first.
pub(crate) fn recv_fd(sock: RawFd) -> std::io::Result<Option<OwnedFd>> {
    match recv_fd_raw(sock) {
        // SAFETY: the kernel installed this fd for us (SCM_RIGHTS); we are its only owner.
        Ok(fd) => Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) })),
        Err(libc::ECONNRESET) => Ok(None),
        Err(e) => Err(std::io::Error::from_raw_os_error(e)),
    }
}

/// `execve(path, argv, envp)`; returns only on failure.
pub(crate) fn execve(path: &CStr, argv: &[*const c_char], envp: &[*const c_char]) -> i32 {
    // SAFETY: `argv` and `envp` are null-terminated arrays of pointers to NUL-terminated
    // strings owned by the spawn plan, alive until the exec replaces the image.
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    errno()
}

/// `_exit(code)`: leaves the child without running any Rust or libc exit handler.
pub(crate) fn exit(code: c_int) -> ! {
    // SAFETY: `_exit` ends the process; no destructor of the parent's copy of memory runs.
    unsafe { libc::_exit(code) }
}

/// `clone3` (the pidfd crate's raw fork-like form), then, in the child, the setup
/// steps and `execve`; returns the child's pid and pidfd in the parent.
pub(crate) fn clone_and_run(
    args: &linception_pidfd::CloneArgs<'_>,
    steps: &[crate::child::Step],
    slots: &mut [RawFd],
    err_fd: RawFd,
) -> linception_pidfd::Result<(linception_pidfd::Pid, linception_pidfd::PidFd)> {
    // SAFETY: the child only runs `child::run`, which makes raw syscalls on `steps`
    // and `slots` prepared by the parent (it allocates nothing, takes no lock, does
    // not unwind: every fallible lookup is a `get`), and ends in execve or _exit.
    match unsafe { args.fork() }? {
        linception_pidfd::CloneResult::Child => crate::child::run(steps, slots, err_fd),
        linception_pidfd::CloneResult::Parent { pid, pidfd } => Ok((pid, pidfd)),
    }
}

/// `setns(fd, nstype)` (with a pidfd: several `CLONE_NEW*` bits at once, Linux 5.8).
pub(crate) fn setns(fd: RawFd, nstype: c_int) -> Res<c_int> {
    // SAFETY: plain integer arguments.
    check_int(unsafe { libc::setns(fd, nstype) })
}

/// `pidfd_send_signal(pidfd, SIGKILL, NULL, 0)`.
pub(crate) fn pidfd_kill(pidfd: RawFd) -> Res {
    // SAFETY: plain integer arguments and a null siginfo.
    check(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd,
            libc::SIGKILL,
            ptr::null::<libc::siginfo_t>(),
            0,
        )
    })
}

/// `clone3({CLONE_PARENT | CLONE_PIDFD})` from the exec_in
/// helper: `None` in the new process, `Some(pidfd)` in the helper.
pub(crate) fn clone_into_parent() -> Res<Option<RawFd>> {
    let mut pidfd: c_int = -1;
    // SAFETY: clone_args is a plain C struct of integers; zero is "unset".
    let mut args: libc::clone_args = unsafe { std::mem::zeroed() };
    args.flags = (libc::CLONE_PARENT | libc::CLONE_PIDFD) as u64;
    args.pidfd = &mut pidfd as *mut c_int as u64;
    // clone3 refuses an exit_signal with CLONE_PARENT: the new process inherits the
    // helper's (SIGCHLD, to the caller).
    args.exit_signal = 0;
    // SAFETY: `args` is live and of the size passed; `pidfd` outlives the call. Only
    // the single-threaded exec_in helper calls this (between clone3 and execve), and
    // the new process goes on with the same allocation-free step executor.
    let r = check(unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut libc::clone_args,
            size_of::<libc::clone_args>(),
        )
    })?;
    Ok(if r == 0 { None } else { Some(pidfd) })
}
