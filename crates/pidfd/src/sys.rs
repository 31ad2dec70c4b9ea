//! Every `unsafe` block of the crate: raw system calls rustix does not wrap
//! (pidfd_send_signal with flags, the pidfs and nsfs ioctls, file handles,
//! clone3) and the code that runs in a new process between clone3 and execve.
//!
//! A leaf: it takes and returns plain values (fds, integers, the `#[repr(C)]`
//! structs defined here) and answers a failure with the errno; the modules above
//! build the crate's errors.

use std::ffi::c_char;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// `struct pidfd_info` (include/uapi/linux/pidfd.h), `PIDFD_INFO_SIZE_VER2` (80
/// bytes). The kernel copies out at most the size encoded in the ioctl request, so
/// a kernel that knows a smaller struct (Linux 6.13: 64 bytes) accepts a larger one
/// than it knows and fills only what it knows (its answer mask says which).
#[repr(C)]
#[derive(Default, Debug, Clone, Copy)]
pub(crate) struct RawPidfdInfo {
    pub mask: u64,
    pub cgroupid: u64,
    pub pid: u32,
    pub tgid: u32,
    pub ppid: u32,
    pub ruid: u32,
    pub rgid: u32,
    pub euid: u32,
    pub egid: u32,
    pub suid: u32,
    pub sgid: u32,
    pub fsuid: u32,
    pub fsgid: u32,
    /// `exit_code` since Linux 6.15, `spare0` before.
    pub exit_code: i32,
    /// `PIDFD_COREDUMP_*` bits (`PIDFD_INFO_SIZE_VER1`, Linux 6.16).
    pub coredump_mask: u32,
    /// The signal that caused the dump (Linux 6.19).
    pub coredump_signal: u32,
    /// The mask bits this kernel supports (`PIDFD_INFO_SIZE_VER2`, Linux 6.19).
    pub supported_mask: u64,
}

const _: () = assert!(size_of::<RawPidfdInfo>() == 80);
const _: () = assert!(std::mem::offset_of!(RawPidfdInfo, coredump_mask) == 64);
const _: () = assert!(std::mem::offset_of!(RawPidfdInfo, supported_mask) == 72);
const _: () = assert!(std::mem::offset_of!(RawPidfdInfo, pid) == 16);
const _: () = assert!(std::mem::offset_of!(RawPidfdInfo, exit_code) == 60);

/// `PIDFS_IOCTL_MAGIC` (include/uapi/linux/pidfd.h).
const PIDFS_IOCTL_MAGIC: u32 = 0xFF;

/// `_IOWR(PIDFS_IOCTL_MAGIC, 11, struct pidfd_info)` with the 80-byte struct
/// (`PIDFD_INFO_SIZE_VER2`); the kernel reads the size from the request number.
pub(crate) const PIDFD_GET_INFO: u32 =
    (3 << 30) | ((size_of::<RawPidfdInfo>() as u32) << 16) | (PIDFS_IOCTL_MAGIC << 8) | 11;

/// `_IO(PIDFS_IOCTL_MAGIC, nr)`: the PIDFD_GET_*_NAMESPACE requests, nr 1..=10.
pub(crate) const fn pidfs_io(nr: u32) -> u32 {
    (PIDFS_IOCTL_MAGIC << 8) | nr
}

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// `pidfd_send_signal(fd, sig, NULL, flags)`; rustix's wrapper has no flags argument
/// and no null signal.
#[inline]
pub(crate) fn pidfd_send_signal(fd: BorrowedFd<'_>, sig: i32, flags: u32) -> Result<(), i32> {
    // SAFETY: the fd is borrowed, so it stays open during the call; the siginfo
    // pointer is NULL, which the kernel accepts (it builds a SI_USER siginfo).
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            flags,
        )
    };
    if r == 0 { Ok(()) } else { Err(errno()) }
}

/// `ioctl(fd, PIDFD_GET_INFO, info)`.
pub(crate) fn pidfd_get_info(fd: BorrowedFd<'_>, info: &mut RawPidfdInfo) -> Result<(), i32> {
    // SAFETY: `info` is a live, exclusive `#[repr(C)]` buffer of exactly the size
    // encoded in the request number (80 bytes); the kernel writes at most that.
    let r = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            PIDFD_GET_INFO as libc::c_ulong,
            info as *mut RawPidfdInfo,
        )
    };
    if r == 0 { Ok(()) } else { Err(errno()) }
}

/// `ioctl(fd, PIDFD_GET_*_NAMESPACE, 0)`: a new O_CLOEXEC namespace fd.
pub(crate) fn pidfd_get_namespace(fd: BorrowedFd<'_>, request: u32) -> Result<OwnedFd, i32> {
    // SAFETY: these requests take no argument buffer and return a new fd or -1.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), request as libc::c_ulong, 0) };
    if r < 0 {
        return Err(errno());
    }
    // SAFETY: on success the ioctl returned a freshly installed fd that nobody else
    // owns (the kernel opens it O_CLOEXEC).
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

/// The raw `struct clone_args` (include/uapi/linux/sched.h), `CLONE_ARGS_SIZE_VER2`,
/// plus one test-only field; the size passed tells the kernel how much to read.
#[repr(C)]
#[derive(Default, Debug, Clone, Copy)]
pub(crate) struct RawCloneArgs {
    pub flags: u64,
    pub pidfd: u64,
    pub child_tid: u64,
    pub parent_tid: u64,
    pub exit_signal: u64,
    pub stack: u64,
    pub stack_size: u64,
    pub tls: u64,
    pub set_tid: u64,
    pub set_tid_size: u64,
    pub cgroup: u64,
    /// Not part of the kernel's struct: a pretend field after `cgroup`, passed only
    /// under the test hook (size 96) so that the kernel's E2BIG answer is reachable.
    pub test_tail: u64,
}

/// Test hook (`__clone3_test_tail`): 0 = off; otherwise pass 96 bytes with this
/// value in the pretend field (`u64::MAX` stands for a zero tail).
pub(crate) static TEST_TAIL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Everything the child needs to exec, as raw pointers into CStrings and
/// NULL-terminated pointer arrays that the parent keeps alive across the clone.
pub(crate) struct ExecPtrs {
    pub program: *const c_char,
    pub argv: *const *const c_char,
    pub envp: *const *const c_char,
}

/// Flags the kernel takes but the crate never passes: they would make the child
/// share memory or thread state with the caller, or need pointers it does not take.
pub(crate) const FORBIDDEN_FLAGS: u64 = libc::CLONE_VM as u64
    | libc::CLONE_SIGHAND as u64
    | libc::CLONE_THREAD as u64
    | libc::CLONE_SETTLS as u64
    | libc::CLONE_PARENT_SETTID as u64
    | libc::CLONE_CHILD_CLEARTID as u64
    | libc::CLONE_CHILD_SETTID as u64;

/// `CLONE_PIDFD`.
const CLONE_PIDFD: u64 = 0x1000;
/// `CLONE_ARGS_SIZE_VER0`: flags through tls.
const CLONE_ARGS_SIZE_VER0: usize = 64;

/// The crate's one raw clone3 call. With `entry` 0 the child returns here with 0,
/// on its copy of the caller's stack (fork-like); otherwise the child (which then
/// runs on `args.stack`) calls `entry(ctx)`, which must never return, and only the
/// caller returns. Returns the new pid in the caller, or the errno.
///
/// # Safety
/// `args` must be a live `clone_args` of at least `size` bytes whose pointers
/// (`pidfd`, `set_tid`, `stack`) point at live memory. With `entry` 0 the flags must
/// not include [`FORBIDDEN_FLAGS`]; with an `entry`, `args.stack` must be a stack of
/// `args.stack_size` bytes that nothing else uses, and `entry` a function taking
/// `ctx` that only makes raw system calls and ends the process or execs.
#[cfg(target_arch = "x86_64")]
unsafe fn clone3_call(
    args: *mut RawCloneArgs,
    size: usize,
    entry: usize,
    ctx: usize,
) -> Result<i32, i32> {
    let ret: i64;
    // SAFETY: the kernel reads `size` bytes of `args` (live, the caller's
    // obligation). In the caller and in a fork-like child (`entry` 0) the block
    // ends with rax holding clone3's answer; rcx and r11 are clobbered by
    // `syscall`. A child with an `entry` starts with its stack pointer at the
    // 16-byte aligned top of `args.stack` and only calls `entry(ctx)` there, which
    // never returns (`ud2` would trap if it did).
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "test r13, r13",
            "jz 2f",
            "mov rdi, r12",
            "call r13",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone3 => ret,
            in("rdi") args,
            in("rsi") size,
            in("r12") ctx,
            in("r13") entry,
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    if ret < 0 {
        Err(-ret as i32)
    } else {
        Ok(ret as i32)
    }
}

/// The crate's one raw clone3 call (see the x86-64 form); here only the fork-like
/// form exists (`entry` must be 0).
///
/// # Safety
/// As for the x86-64 form with `entry` 0.
#[cfg(not(target_arch = "x86_64"))]
unsafe fn clone3_call(
    args: *mut RawCloneArgs,
    size: usize,
    entry: usize,
    _ctx: usize,
) -> Result<i32, i32> {
    assert_eq!(entry, 0, "a clone3 child entry needs x86-64");
    // SAFETY: the kernel reads `size` bytes of the live `args` (caller's
    // obligation); without CLONE_VM the child returns here on its own copy of the
    // stack, like fork().
    let r = unsafe { libc::syscall(libc::SYS_clone3, args, size) };
    if r < 0 { Err(errno()) } else { Ok(r as i32) }
}

/// clone3 with `args` (its `pidfd` field must be 0: it is pointed at a local here)
/// as a fork: `(0, None)` in the child, the child's pid (> 0) and its pidfd in the
/// parent.
///
/// # Safety
/// The flags must include `CLONE_PIDFD` and none of [`FORBIDDEN_FLAGS`] (the child
/// runs on a copy of this stack), and `args.set_tid` must point to
/// `args.set_tid_size` live `pid_t`s. In the child, until execve or `_exit`, the
/// caller may only make async-signal-safe calls (no allocation, no lock, no
/// unwinding).
pub(crate) unsafe fn clone3_raw(
    args: &mut RawCloneArgs,
    size: usize,
) -> Result<(i32, Option<OwnedFd>), i32> {
    debug_assert_eq!(args.flags & FORBIDDEN_FLAGS, 0);
    debug_assert_ne!(args.flags & CLONE_PIDFD, 0);
    let mut pidfd: libc::c_int = -1;
    args.pidfd = &raw mut pidfd as u64;
    // SAFETY: `args` is a live struct of at least `size` bytes (the caller's), its
    // pidfd pointer points at the local above, no entry: a fork-like child.
    let r = unsafe { clone3_call(args, size, 0, 0) };
    args.pidfd = 0;
    match r? {
        0 => Ok((0, None)),
        pid => {
            // SAFETY: CLONE_PIDFD is set (checked above); on success the kernel
            // installed a new O_CLOEXEC pidfd in `pidfd` that only we own.
            let fd = unsafe { OwnedFd::from_raw_fd(pidfd) };
            Ok((pid, Some(fd)))
        }
    }
}

/// `clone3({CLONE_PARENT | CLONE_PIDFD, exit_signal: 0})` as a fork: the new
/// process is the caller's sibling (a child of the caller's parent, which gets
/// the caller's exit signal for it: the kernel refuses any other with
/// CLONE_PARENT). `(0, None)` in it, its pid and pidfd in the caller.
///
/// # Safety
/// As for [`clone3_raw`] in the child.
pub(crate) unsafe fn clone3_parent() -> Result<(i32, Option<OwnedFd>), i32> {
    let mut args = RawCloneArgs {
        flags: libc::CLONE_PARENT as u64 | CLONE_PIDFD,
        ..RawCloneArgs::default()
    };
    // SAFETY: no memory-sharing flag and no set_tid; the child-side obligations
    // are passed on to our caller.
    unsafe { clone3_raw(&mut args, CLONE_ARGS_SIZE_VER0) }
}

/// clone3, then in the child: restore the signal mask and SIGPIPE, execve, and on
/// failure write errno to `err_fd` and `_exit(127)`. Returns the child's pid and
/// pidfd in the parent.
///
/// `args` must carry `CLONE_PIDFD`, none of [`FORBIDDEN_FLAGS`] and a `set_tid`
/// pointer to live memory (checked in debug builds; `CloneArgs::prepare` makes it so).
pub(crate) fn clone3_exec(
    args: &mut RawCloneArgs,
    size: usize,
    exec: &ExecPtrs,
    err_fd: BorrowedFd<'_>,
) -> Result<(i32, OwnedFd), i32> {
    let err_fd = err_fd.as_raw_fd();
    // SAFETY: `CloneArgs::prepare` rejected every flag that would share memory or
    // thread state, and its set_tid pointer refers to the CloneArgs' own Vec, alive
    // for this call; the child only runs `child_exec`.
    match unsafe { clone3_raw(args, size) }? {
        (0, _) => {
            // SAFETY: we are the new single-threaded child; `exec` points at CStrings
            // and arrays that the parent built and that are mapped in our copy of
            // its memory; `child_exec` only makes async-signal-safe calls.
            unsafe { child_exec(exec, err_fd) }
        }
        (pid, Some(fd)) => Ok((pid, fd)),
        (_, None) => unreachable!("clone3_raw returns a pidfd with every pid > 0"),
    }
}

/// Test hook: force the portable fork-style spawn even where the shared-memory one
/// exists (see `__force_fork_spawn`).
pub(crate) static FORCE_FORK_SPAWN: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Context handed to [`vm_child_entry`] on the child's own stack.
#[cfg(target_arch = "x86_64")]
#[repr(C)]
struct VmChildCtx {
    program: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
    /// Where the child stores execve's errno (memory shared with the parent).
    err: *mut i32,
}

/// Like posix_spawn: clone3 with `CLONE_VM | CLONE_VFORK | CLONE_CLEAR_SIGHAND` on
/// a separate stack, so no page tables are copied. The parent thread is suspended
/// until the child has exec'd or exited; an execve failure comes back through
/// shared memory. Returns `(pid, pidfd, exec errno)`.
///
/// `Err(EINVAL)` on a kernel without `CLONE_CLEAR_SIGHAND` (before 5.5): the caller
/// then falls back to [`clone3_exec`]. `args` as for [`clone3_exec`].
#[cfg(target_arch = "x86_64")]
pub(crate) fn clone3_vm_exec(
    args: &mut RawCloneArgs,
    size: usize,
    exec: &ExecPtrs,
) -> Result<(i32, OwnedFd, Option<i32>), i32> {
    const STACK: usize = 64 * 1024;
    const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
    debug_assert_eq!(args.flags & FORBIDDEN_FLAGS, 0);
    // SAFETY: a fresh private anonymous mapping; checked for MAP_FAILED below.
    let stack = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            STACK,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if stack == libc::MAP_FAILED {
        return Err(errno());
    }
    let mut err_slot: i32 = 0;
    let mut pidfd: libc::c_int = -1;
    let ctx = VmChildCtx {
        program: exec.program,
        argv: exec.argv,
        envp: exec.envp,
        err: &raw mut err_slot,
    };
    args.flags |= libc::CLONE_VM as u64 | libc::CLONE_VFORK as u64 | CLONE_CLEAR_SIGHAND;
    args.stack = stack as u64;
    args.stack_size = STACK as u64;
    args.pidfd = &raw mut pidfd as u64;
    // SAFETY: (block) all signals are blocked around the clone so that no handler
    // of ours can run in the child, which shares our memory (CLONE_CLEAR_SIGHAND
    // also resets every handler in it). The child runs `vm_child_entry` on `stack`,
    // a fresh mapping nothing else uses. The parent thread is suspended
    // (CLONE_VFORK) until the child has exec'd or exited, so `ctx`, `err_slot`,
    // `exec`'s strings and `stack` stay alive and unchanged while the child uses
    // them; the child writes nothing else of ours.
    let ret = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let ret = clone3_call(
            args,
            size,
            vm_child_entry as *const () as usize,
            &raw const ctx as usize,
        );
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        libc::munmap(stack, STACK);
        ret
    };
    args.pidfd = 0;
    args.stack = 0;
    args.stack_size = 0;
    let pid = ret?;
    // SAFETY: the child is done with our memory (CLONE_VFORK returned), so this read
    // races with nothing; volatile because the write happened in another task.
    let exec_errno = unsafe { std::ptr::read_volatile(&raw const err_slot) };
    // SAFETY: CLONE_PIDFD is set by our caller; the kernel installed a new O_CLOEXEC
    // pidfd in `pidfd` that only this function owns.
    let fd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    Ok((pid, fd, (exec_errno != 0).then_some(exec_errno)))
}

/// The child of [`clone3_vm_exec`], on its own stack, sharing the parent's memory.
/// Only raw system calls; the sole write to shared memory is the errno slot.
#[cfg(target_arch = "x86_64")]
unsafe extern "C" fn vm_child_entry(ctx: *const VmChildCtx) -> ! {
    // SAFETY: (block) `ctx` points into the suspended parent's frame (see
    // clone3_vm_exec). Raw syscalls only: reset SIGPIPE to default (ignored
    // dispositions survive execve and CLONE_CLEAR_SIGHAND), unblock all signals
    // (nothing is handled any more), execve, and on failure store errno and _exit.
    unsafe {
        let ctx = &*ctx;
        let dfl = [0u64; 4]; // struct kernel_sigaction { SIG_DFL, 0, NULL, mask 0 }
        libc::syscall(
            libc::SYS_rt_sigaction,
            libc::SIGPIPE,
            dfl.as_ptr(),
            std::ptr::null::<u8>(),
            8,
        );
        let empty = 0u64;
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &raw const empty,
            std::ptr::null::<u8>(),
            8,
        );
        let r = libc::syscall(libc::SYS_execve, ctx.program, ctx.argv, ctx.envp);
        let _ = r;
        std::ptr::write_volatile(ctx.err, *libc::__errno_location());
        libc::syscall(libc::SYS_exit_group, 127);
        std::hint::unreachable_unchecked()
    }
}

/// Runs in the child between clone3 and execve: no allocation, no locks, no
/// panics; only async-signal-safe calls.
///
/// # Safety
/// Must be called only in a freshly cloned child; `exec`'s pointers must be valid.
unsafe fn child_exec(exec: &ExecPtrs, err_fd: RawFd) -> ! {
    // SAFETY: (whole block) plain syscalls on values prepared before the clone:
    // an all-zero sigset to unblock every signal, SIG_DFL for SIGPIPE (which the Rust
    // runtime ignores, and ignored dispositions survive execve), execve with
    // NUL-terminated strings and NULL-terminated arrays, a 4-byte write from a local,
    // and _exit, which never returns.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::execve(exec.program, exec.argv, exec.envp);
        let e: i32 = *libc::__errno_location();
        let bytes = e.to_ne_bytes();
        libc::write(err_fd, bytes.as_ptr().cast(), bytes.len());
        libc::_exit(127)
    }
}

/// What `waitid` wrote into its `siginfo_t`: `(si_code, si_status, si_pid, si_uid)`.
pub(crate) struct RawWaitInfo {
    pub code: i32,
    pub status: i32,
    pub pid: i32,
    pub uid: u32,
}

/// `waitid(P_PIDFD, fd, &info, options)`; rustix's wrapper keeps `si_pid` and
/// `si_uid` to itself. `Ok(None)` when `WNOHANG` found no state change (the kernel
/// leaves `si_pid` 0).
pub(crate) fn waitid_pidfd(fd: BorrowedFd<'_>, options: i32) -> Result<Option<RawWaitInfo>, i32> {
    // SAFETY: an all-zero siginfo_t is a valid value (plain integers and unions of
    // them); the kernel relies on si_pid being 0 when nothing is reported.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: the fd is borrowed for the call; `info` is a live, exclusive siginfo_t,
    // the only memory the kernel writes.
    let r = unsafe {
        libc::waitid(
            libc::P_PIDFD,
            fd.as_raw_fd() as libc::id_t,
            &mut info,
            options,
        )
    };
    if r != 0 {
        return Err(errno());
    }
    // SAFETY: after a successful waitid the kernel filled the SIGCHLD member of the
    // union (si_pid, si_uid, si_status), or left it all zero for WNOHANG.
    let (pid, uid, status) = unsafe { (info.si_pid(), info.si_uid(), info.si_status()) };
    if pid == 0 {
        return Ok(None);
    }
    Ok(Some(RawWaitInfo {
        code: info.si_code,
        status,
        pid,
        uid,
    }))
}

/// `NSIO`, the nsfs ioctl magic (include/uapi/linux/nsfs.h).
const NSIO: u32 = 0xb7;
/// `NS_GET_USERNS`: `_IO(NSIO, 0x1)`, a new fd for the owning user namespace.
pub(crate) const NS_GET_USERNS: u32 = (NSIO << 8) | 0x1;
/// `NS_GET_PARENT`: `_IO(NSIO, 0x2)`, a new fd for the parent pid/user namespace.
pub(crate) const NS_GET_PARENT: u32 = (NSIO << 8) | 0x2;
/// `NS_GET_NSTYPE`: `_IO(NSIO, 0x3)`, returns the `CLONE_NEW*` value.
pub(crate) const NS_GET_NSTYPE: u32 = (NSIO << 8) | 0x3;
/// `NS_GET_OWNER_UID`: `_IO(NSIO, 0x4)`, writes a `uid_t`.
pub(crate) const NS_GET_OWNER_UID: u32 = (NSIO << 8) | 0x4;
/// `NS_GET_ID`: `_IOR(NSIO, 13, __u64)`.
pub(crate) const NS_GET_ID: u32 = (2 << 30) | (8 << 16) | (NSIO << 8) | 13;

/// `ioctl(fd, request, 0)` for requests that return a new fd (the pidfs
/// `PIDFD_GET_*_NAMESPACE` and the nsfs `NS_GET_USERNS`/`NS_GET_PARENT`).
pub(crate) fn ioctl_new_fd(fd: BorrowedFd<'_>, request: u32) -> Result<OwnedFd, i32> {
    pidfd_get_namespace(fd, request)
}

/// `ioctl(fd, request)` for requests that take no argument and return an int.
pub(crate) fn ioctl_int(fd: BorrowedFd<'_>, request: u32) -> Result<i32, i32> {
    // SAFETY: the request (NS_GET_NSTYPE) takes no argument and writes no memory.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), request as libc::c_ulong, 0) };
    if r < 0 { Err(errno()) } else { Ok(r) }
}

/// `ioctl(fd, NS_GET_ID, &u64)`.
pub(crate) fn ioctl_get_u64(fd: BorrowedFd<'_>, request: u32) -> Result<u64, i32> {
    let mut v: u64 = 0;
    // SAFETY: the request is _IOR(.., __u64): the kernel writes 8 bytes into `v`.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), request as libc::c_ulong, &raw mut v) };
    if r < 0 { Err(errno()) } else { Ok(v) }
}

/// `ioctl(fd, NS_GET_OWNER_UID, &uid_t)`.
pub(crate) fn ioctl_get_uid(fd: BorrowedFd<'_>, request: u32) -> Result<u32, i32> {
    let mut v: libc::uid_t = 0;
    // SAFETY: NS_GET_OWNER_UID writes one uid_t through its argument, `v` here.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), request as libc::c_ulong, &raw mut v) };
    if r < 0 { Err(errno()) } else { Ok(v) }
}

/// `MAX_HANDLE_SZ` (include/linux/exportfs.h).
pub(crate) const MAX_HANDLE_SZ: usize = 128;

/// `struct file_handle` with room for the largest handle.
#[repr(C)]
struct RawFileHandle {
    handle_bytes: u32,
    handle_type: i32,
    f_handle: [u8; MAX_HANDLE_SZ],
}

/// `name_to_handle_at(fd, "", &handle, &mount_id, AT_EMPTY_PATH)`: the handle of
/// the file `fd` itself, as `(handle_type, bytes)`.
pub(crate) fn name_to_handle(fd: BorrowedFd<'_>) -> Result<(i32, Vec<u8>), i32> {
    let mut h = RawFileHandle {
        handle_bytes: MAX_HANDLE_SZ as u32,
        handle_type: 0,
        f_handle: [0; MAX_HANDLE_SZ],
    };
    let mut mount_id: libc::c_int = 0;
    // SAFETY: the path is an empty NUL-terminated string (AT_EMPTY_PATH: the fd
    // itself); `h` is a live struct file_handle whose handle_bytes says how much
    // room follows; `mount_id` is a live int. The kernel writes only into those.
    let r = unsafe {
        libc::syscall(
            libc::SYS_name_to_handle_at,
            fd.as_raw_fd(),
            c"".as_ptr(),
            &raw mut h,
            &raw mut mount_id,
            libc::AT_EMPTY_PATH,
        )
    };
    if r != 0 {
        return Err(errno());
    }
    let n = (h.handle_bytes as usize).min(MAX_HANDLE_SZ);
    Ok((h.handle_type, h.f_handle[..n].to_vec()))
}

/// `open_by_handle_at(mount_fd, handle, flags)`; `mount_fd` may be one of the
/// kernel's special values (`FD_PIDFS_ROOT`, `FD_NSFS_ROOT`), hence a raw number.
pub(crate) fn open_by_handle(
    mount_fd: RawFd,
    handle_type: i32,
    bytes: &[u8],
    flags: i32,
) -> Result<OwnedFd, i32> {
    if bytes.len() > MAX_HANDLE_SZ {
        return Err(libc::EINVAL);
    }
    let mut h = RawFileHandle {
        handle_bytes: bytes.len() as u32,
        handle_type,
        f_handle: [0; MAX_HANDLE_SZ],
    };
    h.f_handle[..bytes.len()].copy_from_slice(bytes);
    // SAFETY: `h` is a live struct file_handle holding `handle_bytes` bytes, which
    // the kernel only reads; `mount_fd` is either a special value the kernel
    // recognises or an fd our caller borrows for the call (else EBADF).
    let r = unsafe {
        libc::syscall(
            libc::SYS_open_by_handle_at,
            mount_fd,
            &raw const h,
            flags | libc::O_CLOEXEC,
        )
    };
    if r < 0 {
        return Err(errno());
    }
    // SAFETY: on success the kernel installed a new fd that only we own.
    Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) })
}

/// `pidfd_send_signal(PIDFD_SELF_*, sig, NULL, 0)`: the special, negative fd values
/// are no fds (a `BorrowedFd` cannot hold them).
pub(crate) fn pidfd_send_signal_special(special: RawFd, sig: i32) -> Result<(), i32> {
    // SAFETY: `special` is PIDFD_SELF_THREAD or PIDFD_SELF_THREAD_GROUP, which the
    // kernel resolves itself (older kernels answer EBADF); the siginfo is NULL.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            special,
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r == 0 { Ok(()) } else { Err(errno()) }
}
