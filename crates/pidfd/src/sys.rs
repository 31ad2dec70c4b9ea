//! Every `unsafe` block of the crate: raw system calls rustix does not wrap
//! (pidfd_send_signal with flags, the pidfs ioctls, clone3), the code that runs in a
//! new process between clone3 and execve, and the two inherently unsafe public
//! functions ([`PidFd::setns`] and [`CloneArgs::fork`]).

use std::ffi::c_char;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use crate::PidFd;
use crate::clone::{CloneArgs, CloneResult};
use crate::error::Result;
use crate::info::RawPidfdInfo;
use crate::types::{Namespaces, Pid};

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

impl PidFd {
    /// `setns(pidfd, nstypes)`: moves the calling thread into several namespaces of
    /// the process at once, atomically (all or none). Since Linux 5.8.
    ///
    /// Joining a user namespace also joins with the target's credentials in it.
    ///
    /// # Safety
    ///
    /// Namespace membership is per thread, and some of it is shared with other
    /// threads behind Rust's back: joining [`Namespaces::MNT`] changes the root and
    /// cwd that the thread shares with its `CLONE_FS` siblings' view (the kernel
    /// refuses it with `EINVAL` while the fs struct is shared), and code elsewhere in
    /// the process (the allocator, thread pools, cached fds and paths) may assume
    /// every thread sees the same mounts, network and users. The caller must make sure
    /// the process is single-threaded, or that no other code depends on the changed
    /// namespaces of this thread. Tests run it in a forked child.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) before the call for
    /// an empty set or bits that are no namespace type,
    /// [`Error::ProcessGone`](crate::Error::ProcessGone) once the process is reaped,
    /// [`Error::Exited`](crate::Error::Exited) while it is a zombie,
    /// `EPERM` without `CAP_SYS_ADMIN` over the target namespaces.
    ///
    /// # References
    /// - [setns(2)](https://man7.org/linux/man-pages/man2/setns.2.html)
    pub unsafe fn setns(&self, namespaces: Namespaces) -> Result<()> {
        let unknown = namespaces.bits() & !Namespaces::all().bits();
        if namespaces.is_empty() || unknown != 0 {
            return Err(crate::error::Error::invalid(
                format!(
                    "setns namespaces {} for pidfd (fd {})",
                    crate::ns::names(namespaces),
                    self.as_fd_raw()
                ),
                "a pidfd needs one or more CLONE_NEW* namespace types (the kernel refuses 0 and other bits with EINVAL)",
            ));
        }
        // SAFETY: the pidfd is alive for the call; the thread-soundness of changing
        // namespaces is the caller's obligation (see `# Safety`).
        let r = unsafe { libc::setns(self.as_fd_raw(), namespaces.bits() as libc::c_int) };
        if r == 0 {
            return Ok(());
        }
        let e = errno();
        Err(self.error(
            e,
            || {
                format!(
                    "setns(fd {}, {})",
                    self.as_fd_raw(),
                    crate::ns::names(namespaces)
                )
            },
            "setns with a pidfd",
            "5.8",
        ))
    }
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

/// Calls clone3 with `args` (its `pidfd` field must be 0: it is pointed at a local
/// here). Returns 0 in the child, the child's pid (> 0) and its pidfd in the parent.
///
/// # Safety
/// The flags must not include `CLONE_VM`, `CLONE_THREAD`, `CLONE_SIGHAND`,
/// `CLONE_SETTLS` or the tid-pointer flags (the child runs on a copy of this stack),
/// and `args.set_tid` must point to `args.set_tid_size` live `pid_t`s.
unsafe fn clone3_raw(args: &mut RawCloneArgs, size: usize) -> Result<(i32, Option<OwnedFd>), i32> {
    let mut pidfd: libc::c_int = -1;
    args.pidfd = &raw mut pidfd as u64;
    // SAFETY: `args` is a live struct of at least `size` bytes; the kernel writes the
    // new pidfd through `args.pidfd`, which points at the local above; without
    // CLONE_VM the child returns here on its own copy of the stack (caller's
    // obligation), like fork().
    let r = unsafe { libc::syscall(libc::SYS_clone3, args as *mut RawCloneArgs, size) };
    args.pidfd = 0;
    if r < 0 {
        return Err(errno());
    }
    if r == 0 {
        return Ok((0, None));
    }
    // SAFETY: CLONE_PIDFD is always set by our callers; on success the kernel
    // installed a new O_CLOEXEC pidfd in `pidfd` that only this function owns.
    let fd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    Ok((r as i32, Some(fd)))
}

/// clone3, then in the child: restore the signal mask and SIGPIPE, execve, and on
/// failure write errno to `err_fd` and `_exit(127)`. Returns the child's pid and
/// pidfd in the parent.
pub(crate) fn clone3_exec(
    args: &mut RawCloneArgs,
    size: usize,
    exec: &ExecPtrs,
    err_fd: BorrowedFd<'_>,
) -> Result<(i32, OwnedFd), i32> {
    debug_assert_eq!(args.flags & crate::clone::FORBIDDEN_FLAGS, 0);
    let err_fd = err_fd.as_raw_fd();
    // SAFETY: `CloneArgs::prepare` rejected every flag that would share memory or
    // thread state, and its set_tid pointer refers to the CloneArgs' own Vec, alive
    // for this call.
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
/// then falls back to [`clone3_exec`].
#[cfg(target_arch = "x86_64")]
pub(crate) fn clone3_vm_exec(
    args: &mut RawCloneArgs,
    size: usize,
    exec: &ExecPtrs,
) -> Result<(i32, OwnedFd, Option<i32>), i32> {
    const STACK: usize = 64 * 1024;
    const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
    debug_assert_eq!(args.flags & crate::clone::FORBIDDEN_FLAGS, 0);
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
    let ret: i64;
    // SAFETY: (block) all signals are blocked around the clone so that no handler
    // of ours can run in the child, which shares our memory (CLONE_CLEAR_SIGHAND
    // also resets every handler in it). The kernel starts the child with its stack
    // pointer at the 16-byte aligned top of `stack`, and the asm only calls
    // `vm_child_entry` there, which never returns. The parent thread is suspended
    // (CLONE_VFORK) until the child has exec'd or exited, so `ctx`, `err_slot`,
    // `exec`'s strings and `stack` stay alive and unchanged while the child uses
    // them; the child writes nothing else of ours. rcx and r11 are clobbered by
    // `syscall`; r12 and r13 carry the context and entry point into the child.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "mov rdi, r12",
            "call r13",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone3 => ret,
            in("rdi") args as *mut RawCloneArgs,
            in("rsi") size,
            in("r12") &raw const ctx,
            in("r13") vm_child_entry as *const () as usize,
            lateout("rcx") _,
            lateout("r11") _,
        );
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        libc::munmap(stack, STACK);
    }
    args.pidfd = 0;
    args.stack = 0;
    args.stack_size = 0;
    if ret < 0 {
        return Err(-ret as i32);
    }
    // SAFETY: the child is done with our memory (CLONE_VFORK returned), so this read
    // races with nothing; volatile because the write happened in another task.
    let exec_errno = unsafe { std::ptr::read_volatile(&raw const err_slot) };
    // SAFETY: CLONE_PIDFD is set by our caller; the kernel installed a new O_CLOEXEC
    // pidfd in `pidfd` that only this function owns.
    let fd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    Ok((ret as i32, fd, (exec_errno != 0).then_some(exec_errno)))
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

impl CloneArgs<'_> {
    /// `clone3(&args, size)` as a fork: returns twice, [`CloneResult::Child`] in the
    /// new process and [`CloneResult::Parent`] (its pid and pidfd) in the caller.
    /// `CLONE_PIDFD` is always requested. The arguments (`set_tid` depth and values,
    /// flags) are validated before the call, exactly as for
    /// [`CloneArgs::spawn`].
    ///
    /// For running a program, prefer the safe [`CloneArgs::spawn`].
    ///
    /// # Safety
    ///
    /// The child is a copy of the calling process with only the calling thread. Any
    /// other thread may have held a lock (the allocator's, stdio's, a `Mutex`) at the
    /// moment of the clone; it stays locked forever in the child. Therefore, in the
    /// child, until it calls `execve` or `_exit`, the caller must:
    /// - not allocate or free memory (no `String`, `Vec`, `Box`, `format!`),
    /// - call only async-signal-safe functions (see signal-safety(7)) and raw
    ///   system calls,
    /// - not panic or unwind (no destructor of data shared with the parent may run),
    /// - end with `execve` (or `fexecve`) or `_exit`, never `exit` (which runs atexit
    ///   handlers and flushes stdio buffers copied from the parent).
    ///
    /// The C library's cached thread id is stale in the child (the raw syscall bypasses its
    /// fork handlers), so `raise`, `pthread_kill` and robust mutexes must not be used
    /// there either; use `getpid()` and `kill` on it, which are correct.
    ///
    /// The returned [`PidFd`] in the parent does not reap the child on drop: wait on
    /// it, or wrap it in a [`Child`](crate::Child) with [`Child::from_parts`](crate::Child::from_parts).
    ///
    /// # Errors
    ///
    /// Everything [`CloneArgs::spawn`] reports except [`Error::Exec`](crate::Error::Exec).
    ///
    /// # References
    /// - [clone3(2)](https://man7.org/linux/man-pages/man2/clone3.2.html)
    #[doc(alias = "clone3")]
    pub unsafe fn fork(&self) -> Result<CloneResult> {
        let (mut raw, size) = self.prepare()?;
        // SAFETY: `prepare` rejected flags that share memory or thread state and
        // pointed set_tid at `self.set_tid`, alive for this call; the child-side
        // restrictions are the caller's obligation (see `# Safety`).
        match unsafe { clone3_raw(&mut raw, size) } {
            Ok((0, _)) => Ok(CloneResult::Child),
            Ok((pid, Some(fd))) => Ok(CloneResult::Parent {
                pid: Pid::from_raw(pid).expect("clone3 returned a positive pid"),
                pidfd: PidFd::from(fd),
            }),
            Ok((_, None)) => unreachable!("clone3_raw returns a pidfd with every pid > 0"),
            Err(e) => Err(self.map_errno(e)),
        }
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

impl crate::ns::NamespaceFd {
    /// `setns(fd, nstype)`: moves the calling thread into this namespace. `nstype`
    /// empty accepts any type; otherwise it must be exactly this namespace's type,
    /// which is checked before the call (`NS_GET_NSTYPE`), so a wrong fd is an error
    /// naming both types rather than the kernel's bare `EINVAL`. Since Linux 3.0
    /// (`NS_GET_NSTYPE` since 4.11).
    ///
    /// # Safety
    ///
    /// As for [`PidFd::setns`]: namespace membership is per thread, and joining a
    /// mount or user namespace changes what other code in the process may rely on.
    /// The caller must make sure the process is single-threaded, or that no other
    /// code depends on the changed namespace of this thread.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) if `nstype` is not
    /// empty and differs from the fd's type (or names several types); `EPERM`
    /// without `CAP_SYS_ADMIN` over the namespace; `EINVAL` from the kernel (e.g. a
    /// multithreaded caller joining a user namespace).
    ///
    /// # References
    /// - [setns(2)](https://man7.org/linux/man-pages/man2/setns.2.html),
    ///   [ioctl_ns(2)](https://man7.org/linux/man-pages/man2/ioctl_ns.2.html)
    pub unsafe fn setns(&self, nstype: Namespaces) -> Result<()> {
        self.check_setns_type(nstype)?;
        let fd = std::os::fd::AsFd::as_fd(self);
        // SAFETY: the fd is borrowed for the call; the thread-soundness of changing
        // namespaces is the caller's obligation (see `# Safety`).
        let r = unsafe { libc::setns(fd.as_raw_fd(), nstype.bits() as libc::c_int) };
        if r == 0 {
            return Ok(());
        }
        Err(crate::error::Error::from_errno(
            errno(),
            || format!("setns(fd {}, {})", fd.as_raw_fd(), crate::ns::names(nstype)),
            "setns",
            "3.0",
        ))
    }
}
