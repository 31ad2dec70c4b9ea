//! Every `unsafe` block of the crate: raw system calls rustix does not wrap
//! (pidfd_send_signal with flags or the null signal, the pidfs and nsfs ioctls,
//! file handles, waitid with the whole siginfo, clone3) and the code that runs in
//! a new process between clone3 and execve.
//!
//! The plain calls are the variants of [`Call`] and [`FdCall`]: each holds the
//! memory it lends the kernel as references, from which [`Encode::encode`] derives
//! every pointer, so they share one raw call site ([`syscall`]). clone3 has its
//! own, as the child runs there.
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

/// Where a child that shares the caller's memory can run: its own stack and its
/// own thread-local block, so that nothing it does touches the caller's thread
/// state (errno, the allocator's per-thread cache, Rust's thread locals).
///
/// One private anonymous mapping, from low to high addresses: a guard page, the
/// static TLS area (`TLS_BELOW` bytes under the thread pointer), the thread
/// control block (`TLS_ABOVE` bytes from the thread pointer up), a guard page,
/// the stack. The x86-64 TLS ABI (variant II, glibc and musl alike) puts a
/// module's static thread-local data at negative offsets from the thread pointer
/// and the thread descriptor at it, whose first word points at itself. The block
/// here starts zeroed, except for those self-pointers and the stack-protector and
/// pointer-guard words copied from the caller's own block; its DTV is null, so a
/// dynamic TLS access faults in the child instead of reaching the caller's.
#[cfg(all(target_arch = "x86_64", any(target_env = "gnu", target_env = "musl")))]
#[derive(Debug)]
pub(crate) struct VmRegion {
    base: *mut libc::c_void,
}

// SAFETY: the region is plain memory owned by this value; nothing about it is
// tied to the thread that mapped it.
#[cfg(all(target_arch = "x86_64", any(target_env = "gnu", target_env = "musl")))]
unsafe impl Send for VmRegion {}

#[cfg(all(target_arch = "x86_64", any(target_env = "gnu", target_env = "musl")))]
impl VmRegion {
    const GUARD: usize = 4096;
    /// The static TLS area: every module's `thread_local` data of this process
    /// must fit (checked against the loaded modules' `PT_TLS` sizes in `new`).
    const TLS_BELOW: usize = 64 * 1024;
    /// The thread descriptor (glibc's `struct pthread` is about 2.3 KiB).
    const TLS_ABOVE: usize = 8 * 1024;
    const STACK: usize = 256 * 1024;
    const LEN: usize = Self::GUARD + Self::TLS_BELOW + Self::TLS_ABOVE + Self::GUARD + Self::STACK;

    /// Maps a region. `Err(E2BIG)`: this process's static TLS does not fit.
    pub(crate) fn new() -> Result<VmRegion, i32> {
        if static_tls_size() > Self::TLS_BELOW / 2 {
            return Err(libc::E2BIG);
        }
        // SAFETY: a fresh private anonymous mapping, checked for MAP_FAILED; the
        // two mprotect calls narrow access within it (the guards stay PROT_NONE).
        unsafe {
            let base = libc::mmap(
                std::ptr::null_mut(),
                Self::LEN,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            );
            if base == libc::MAP_FAILED {
                return Err(errno());
            }
            let region = VmRegion { base };
            let rw = libc::PROT_READ | libc::PROT_WRITE;
            let tls = base.cast::<u8>().add(Self::GUARD);
            let stack = tls.add(Self::TLS_BELOW + Self::TLS_ABOVE + Self::GUARD);
            if libc::mprotect(tls.cast(), Self::TLS_BELOW + Self::TLS_ABOVE, rw) != 0
                || libc::mprotect(stack.cast(), Self::STACK, rw) != 0
            {
                return Err(errno());
            }
            Ok(region)
        }
    }

    fn thread_pointer(&self) -> usize {
        self.base as usize + Self::GUARD + Self::TLS_BELOW
    }

    fn stack_range(&self) -> (usize, usize) {
        let low = self.thread_pointer() + Self::TLS_ABOVE + Self::GUARD;
        (low, low + Self::STACK)
    }

    /// Writes a fresh thread control block (the words the C library and the
    /// compiler read through the thread pointer), returns the thread pointer.
    fn reset_tcb(&self) -> usize {
        let tp = self.thread_pointer();
        // SAFETY: (block) `tp .. tp + TLS_ABOVE` is read-write memory of this
        // region (mapped in `new`), not in use by any child (the caller's
        // obligation). The caller's own block is read through %fs at the ABI's
        // fixed offsets of the stack-protector canary (0x28) and pointer guard
        // (0x30), which every x86-64 thread has.
        unsafe {
            let words = tp as *mut usize;
            std::ptr::write_bytes(words, 0, Self::TLS_ABOVE / size_of::<usize>());
            let (canary, guard): (usize, usize);
            std::arch::asm!(
                "mov {c}, fs:0x28",
                "mov {g}, fs:0x30",
                c = out(reg) canary,
                g = out(reg) guard,
                options(nostack, readonly, preserves_flags),
            );
            words.write(tp); // tcbhead_t.tcb / struct pthread.self
            words.add(2).write(tp); // tcbhead_t.self (glibc)
            words.add(5).write(canary); // 0x28
            words.add(6).write(guard); // 0x30
        }
        tp
    }
}

#[cfg(all(target_arch = "x86_64", any(target_env = "gnu", target_env = "musl")))]
impl Drop for VmRegion {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, of `LEN` bytes; no child uses it any
        // more (the owner's obligation, see `clone3_vm_run`).
        unsafe {
            libc::munmap(self.base, Self::LEN);
        }
    }
}

/// The static TLS the loaded modules use (sum of their `PT_TLS` segments' sizes,
/// each rounded up to its alignment), once per process.
#[cfg(all(target_arch = "x86_64", any(target_env = "gnu", target_env = "musl")))]
fn static_tls_size() -> usize {
    static SIZE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    unsafe extern "C" fn add(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: (block) the C library passes a valid `dl_phdr_info` whose
        // `dlpi_phdr` points at `dlpi_phnum` program headers; `data` is the
        // `usize` handed to `dl_iterate_phdr` below.
        unsafe {
            let info = &*info;
            let total = &mut *data.cast::<usize>();
            for i in 0..usize::from(info.dlpi_phnum) {
                let ph = &*info.dlpi_phdr.add(i);
                if ph.p_type == libc::PT_TLS {
                    let align = (ph.p_align as usize).max(1);
                    *total += (ph.p_memsz as usize).div_ceil(align) * align;
                }
            }
        }
        0
    }
    *SIZE.get_or_init(|| {
        let mut total = 0usize;
        // SAFETY: `add` only reads the headers it is given and adds to `total`,
        // which outlives the call.
        unsafe {
            libc::dl_iterate_phdr(Some(add), (&raw mut total).cast());
        }
        total
    })
}

/// Context handed to [`vm_run_entry`]: the closure, moved into the child's stack.
#[cfg(all(target_arch = "x86_64", any(target_env = "gnu", target_env = "musl")))]
unsafe extern "C" fn vm_run_entry<F: FnOnce()>(f: *mut F) -> ! {
    // SAFETY: (block) `f` points at the closure `clone3_vm_run` moved to the top
    // of this child's stack before the clone; the child takes it over (the parent
    // never touches it again), runs it, and ends with exit_group if it returns.
    unsafe {
        let f = std::ptr::read(f);
        f();
        libc::syscall(libc::SYS_exit_group, 127);
        std::hint::unreachable_unchecked()
    }
}

/// clone3 with `CLONE_VM | CLONE_SETTLS | CLONE_CLEAR_SIGHAND` added to `args`: the
/// child shares the caller's memory (no page tables copied) but runs on
/// `region`'s stack with `region`'s thread-local block, and calls `f` there. The
/// caller's thread goes on at once (no `CLONE_VFORK`). Returns the child's pid and
/// pidfd; on an error nothing was created and `f` is dropped.
///
/// # Safety
/// `args` as for [`clone3_raw`] without the memory-sharing flags. `f` runs in
/// another task sharing this memory: it must only make system calls, allocate
/// nothing, take no lock, not panic, and end in execve or exit; everything it
/// reads must stay alive and unchanged, and `region` must stay mapped and unused
/// by any other child, until the child has exec'd or exited (a close-on-exec fd
/// closing, or the reaped child, tells).
#[cfg(all(target_arch = "x86_64", any(target_env = "gnu", target_env = "musl")))]
pub(crate) unsafe fn clone3_vm_run<F: FnOnce()>(
    args: &mut RawCloneArgs,
    size: usize,
    region: &VmRegion,
    f: F,
) -> Result<(i32, OwnedFd), i32> {
    const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
    debug_assert_eq!(args.flags & FORBIDDEN_FLAGS, 0);
    let tp = region.reset_tcb();
    let (low, high) = region.stack_range();
    // The closure goes to the top of the stack, aligned; the child's stack below.
    let align = align_of::<F>().max(16);
    let slot = (high - size_of::<F>()) & !(align - 1);
    let top = slot & !15;
    let flags = args.flags;
    let mut pidfd: libc::c_int = -1;
    args.flags |= libc::CLONE_VM as u64 | libc::CLONE_SETTLS as u64 | CLONE_CLEAR_SIGHAND;
    args.stack = low as u64;
    args.stack_size = (top - low) as u64;
    args.tls = tp as u64;
    args.pidfd = &raw mut pidfd as u64;
    // SAFETY: (block) `slot` is aligned for F and inside the region's stack, which
    // no child uses (the caller's obligation); F is moved there, and from the
    // clone on belongs to the child (read back and dropped here only if there is
    // no child). All signals are blocked around the clone so that no handler of
    // ours runs in the child (CLONE_CLEAR_SIGHAND resets every handler in it, and
    // it starts with everything blocked). The child runs `vm_run_entry::<F>` on
    // its stack with the region's thread pointer: it never returns into this
    // frame, and it reads nothing of ours but what `f` refers to (the caller's
    // obligation to keep alive).
    let ret = unsafe {
        std::ptr::write(slot as *mut F, f);
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let ret = clone3_call(args, size, vm_run_entry::<F> as *const () as usize, slot);
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        if ret.is_err() {
            drop(std::ptr::read(slot as *mut F));
        }
        ret
    };
    args.flags = flags;
    args.pidfd = 0;
    args.stack = 0;
    args.stack_size = 0;
    args.tls = 0;
    let pid = ret?;
    // SAFETY: CLONE_PIDFD is set by our caller, so the kernel installed a new
    // O_CLOEXEC pidfd in `pidfd` that only this function owns.
    Ok((pid, unsafe { OwnedFd::from_raw_fd(pidfd) }))
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
    let flags = args.flags;
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
    // The caller's args as they were (a fallback clones with them again).
    args.flags = flags;
    args.pidfd = 0;
    args.stack = 0;
    args.stack_size = 0;
    let pid = ret?;
    // SAFETY: (block) what the clone left in our locals. The child is done with our
    // memory (CLONE_VFORK returned), so reading its errno slot races with nothing
    // (volatile because the write happened in another task); CLONE_PIDFD is set by
    // our caller, so the kernel installed a new O_CLOEXEC pidfd in `pidfd` that only
    // this function owns.
    let (exec_errno, fd) = unsafe {
        (
            std::ptr::read_volatile(&raw const err_slot),
            OwnedFd::from_raw_fd(pidfd),
        )
    };
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

/// `siginfo_t` as `waitid` fills it for `SIGCHLD` (include/uapi/asm-generic/siginfo.h):
/// plain integers, so a zeroed value needs no unsafe and neither does reading it.
#[repr(C)]
#[derive(Default)]
struct RawSiginfo {
    signo: i32,
    #[cfg(not(any(target_arch = "mips", target_arch = "mips64")))]
    errno: i32,
    code: i32,
    /// MIPS swaps `si_errno` and `si_code`.
    #[cfg(any(target_arch = "mips", target_arch = "mips64"))]
    errno: i32,
    /// `__ARCH_SI_PREAMBLE_SIZE` is four ints on 64-bit targets (the union is
    /// 8-byte aligned), three on 32-bit ones.
    #[cfg(target_pointer_width = "64")]
    _pad: i32,
    pid: i32,
    uid: u32,
    status: i32,
    /// `si_utime`, `si_stime` and the union's rest, up to `SI_MAX_SIZE` (128).
    #[cfg(target_pointer_width = "64")]
    _rest: [u64; 12],
    #[cfg(target_pointer_width = "32")]
    _rest: [u64; 13],
}

const _: () = assert!(size_of::<RawSiginfo>() == size_of::<libc::siginfo_t>());
const _: () = assert!(size_of::<RawSiginfo>() == 128);

/// `MAX_HANDLE_SZ` (include/linux/exportfs.h).
pub(crate) const MAX_HANDLE_SZ: usize = 128;

/// `struct file_handle` with room for the largest handle.
#[repr(C)]
struct RawFileHandle {
    handle_bytes: u32,
    handle_type: i32,
    f_handle: [u8; MAX_HANDLE_SZ],
}

/// The plain system calls the crate makes that return a number (or nothing).
///
/// The memory a call lends the kernel is held here as references: [`Encode::encode`]
/// derives every pointer from them (or passes a static NUL-terminated string, or
/// NULL), each of the type the call's ABI names, so the kernel reads and writes
/// only live memory of the right size. No variant frees, maps or closes anything.
enum Call<'a> {
    /// `pidfd_send_signal(fd, sig, NULL, flags)`: `fd` a pidfd the caller borrows
    /// or a `PIDFD_SELF_*` value the kernel resolves itself; NULL siginfo (the
    /// kernel builds a SI_USER one).
    SendSignal { fd: RawFd, sig: i32, flags: u32 },
    /// `ioctl(pidfd, PIDFD_GET_INFO, info)`: the 80-byte struct, the size the
    /// request number encodes.
    GetInfo {
        fd: BorrowedFd<'a>,
        info: &'a mut RawPidfdInfo,
    },
    /// `ioctl(nsfd, NS_GET_NSTYPE)`: no argument.
    NsType { fd: BorrowedFd<'a> },
    /// `ioctl(nsfd, NS_GET_ID, &id)`: `_IOR(NSIO, 13, __u64)`.
    NsId { fd: BorrowedFd<'a>, id: &'a mut u64 },
    /// `ioctl(nsfd, NS_GET_OWNER_UID, &uid)`: one `uid_t`.
    OwnerUid {
        fd: BorrowedFd<'a>,
        uid: &'a mut libc::uid_t,
    },
    /// `name_to_handle_at(fd, "", handle, &mount_id, AT_EMPTY_PATH)`: the kernel
    /// writes at most `handle.handle_bytes` bytes after the header.
    NameToHandle {
        fd: BorrowedFd<'a>,
        handle: &'a mut RawFileHandle,
        mount_id: &'a mut libc::c_int,
    },
    /// `waitid(P_PIDFD, fd, info, options, NULL)`: one `siginfo_t`.
    Waitid {
        fd: BorrowedFd<'a>,
        info: &'a mut RawSiginfo,
        options: i32,
    },
}

/// The plain system calls the crate makes that return a new O_CLOEXEC fd, with
/// the same rule for pointers as [`Call`].
enum FdCall<'a> {
    /// `ioctl(fd, request, 0)` for the `_IO` requests that return a new fd: the
    /// pidfs `PIDFD_GET_*_NAMESPACE` and the nsfs `NS_GET_USERNS`/`NS_GET_PARENT`
    /// (checked by [`FdCall::namespace`]).
    Namespace { fd: BorrowedFd<'a>, request: u32 },
    /// `open_by_handle_at(mount_fd, handle, flags | O_CLOEXEC)`: the kernel reads
    /// `handle.handle_bytes` bytes after the header; `mount_fd` is a special value
    /// (`FD_PIDFS_ROOT`, `FD_NSFS_ROOT`) or an fd the caller borrows.
    OpenByHandle {
        mount_fd: RawFd,
        handle: &'a RawFileHandle,
        flags: i32,
    },
}

impl<'a> FdCall<'a> {
    /// `FdCall::Namespace` if `request` is one of the requests that return a new
    /// fd, else `EINVAL`.
    fn namespace(fd: BorrowedFd<'a>, request: u32) -> Result<Self, i32> {
        let pidfs = (pidfs_io(1)..=pidfs_io(10)).contains(&request);
        if pidfs || request == NS_GET_USERNS || request == NS_GET_PARENT {
            Ok(FdCall::Namespace { fd, request })
        } else {
            Err(libc::EINVAL)
        }
    }
}

/// A system call number and its argument registers.
type Encoded = (libc::c_long, [libc::c_long; 5]);

/// What a call turns itself into for [`syscall`]: implemented by [`Call`] and
/// [`FdCall`] only.
trait Encode {
    fn encode(&mut self) -> Encoded;
}

/// A pointer the kernel only reads through.
#[inline]
fn ptr<T>(r: &T) -> libc::c_long {
    (r as *const T) as libc::c_long
}

/// A pointer the kernel writes through.
#[inline]
fn ptr_mut<T>(r: &mut T) -> libc::c_long {
    (r as *mut T) as libc::c_long
}

#[inline]
fn ioctl(fd: BorrowedFd<'_>, request: u32, arg: libc::c_long) -> Encoded {
    let fd = fd.as_raw_fd().into();
    (libc::SYS_ioctl, [fd, request.into(), arg, 0, 0])
}

impl Encode for Call<'_> {
    #[inline]
    fn encode(&mut self) -> Encoded {
        match self {
            Call::SendSignal { fd, sig, flags } => (
                libc::SYS_pidfd_send_signal,
                [(*fd).into(), (*sig).into(), 0, (*flags).into(), 0],
            ),
            Call::GetInfo { fd, info } => ioctl(*fd, PIDFD_GET_INFO, ptr_mut(*info)),
            Call::NsType { fd } => ioctl(*fd, NS_GET_NSTYPE, 0),
            Call::NsId { fd, id } => ioctl(*fd, NS_GET_ID, ptr_mut(*id)),
            Call::OwnerUid { fd, uid } => ioctl(*fd, NS_GET_OWNER_UID, ptr_mut(*uid)),
            Call::NameToHandle {
                fd,
                handle,
                mount_id,
            } => {
                let empty = c"".as_ptr() as libc::c_long;
                let flags = libc::AT_EMPTY_PATH.into();
                let fd = fd.as_raw_fd().into();
                let (handle, mount_id) = (ptr_mut(*handle), ptr_mut(*mount_id));
                (
                    libc::SYS_name_to_handle_at,
                    [fd, empty, handle, mount_id, flags],
                )
            }
            Call::Waitid { fd, info, options } => (
                libc::SYS_waitid,
                [
                    libc::P_PIDFD as libc::c_long,
                    fd.as_raw_fd().into(),
                    ptr_mut(*info),
                    (*options).into(),
                    0,
                ],
            ),
        }
    }
}

impl Encode for FdCall<'_> {
    #[inline]
    fn encode(&mut self) -> Encoded {
        match self {
            FdCall::Namespace { fd, request } => ioctl(*fd, *request, 0),
            FdCall::OpenByHandle {
                mount_fd,
                handle,
                flags,
            } => (
                libc::SYS_open_by_handle_at,
                [
                    (*mount_fd).into(),
                    ptr(*handle),
                    (*flags | libc::O_CLOEXEC).into(),
                    0,
                    0,
                ],
            ),
        }
    }
}

/// The one raw call site of the plain calls: the call's value, or the errno.
#[inline]
fn syscall(mut call: impl Encode) -> Result<libc::c_long, i32> {
    let (nr, a) = call.encode();
    // SAFETY: `nr` and `a` come from a `Call` or `FdCall`, whose `encode` derives
    // every pointer from a reference `call` holds (our caller's, alive across this
    // call) of the type the system call's ABI names, or passes a static
    // NUL-terminated string or NULL; fds are borrowed by the caller (or special
    // values the kernel resolves); none of the calls frees, maps or closes anything.
    let r = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4]) };
    if r < 0 { Err(errno()) } else { Ok(r) }
}

/// Makes `call` and owns the fd it returns.
fn new_fd(call: FdCall<'_>) -> Result<OwnedFd, i32> {
    let fd = RawFd::try_from(syscall(call)?).map_err(|_| libc::EBADF)?;
    // SAFETY: every FdCall returns, on success, a freshly installed fd that
    // nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `pidfd_send_signal(fd, sig, NULL, flags)`; rustix's wrapper has no flags argument
/// and no null signal.
#[inline]
pub(crate) fn pidfd_send_signal(fd: BorrowedFd<'_>, sig: i32, flags: u32) -> Result<(), i32> {
    let fd = fd.as_raw_fd();
    syscall(Call::SendSignal { fd, sig, flags }).map(drop)
}

/// `pidfd_send_signal(PIDFD_SELF_*, sig, NULL, 0)`: the special, negative fd values
/// are no fds (a `BorrowedFd` cannot hold them; older kernels answer EBADF).
pub(crate) fn pidfd_send_signal_special(special: RawFd, sig: i32) -> Result<(), i32> {
    syscall(Call::SendSignal {
        fd: special,
        sig,
        flags: 0,
    })
    .map(drop)
}

/// `ioctl(fd, PIDFD_GET_INFO, info)`.
pub(crate) fn pidfd_get_info(fd: BorrowedFd<'_>, info: &mut RawPidfdInfo) -> Result<(), i32> {
    syscall(Call::GetInfo { fd, info }).map(drop)
}

/// `ioctl(fd, PIDFD_GET_*_NAMESPACE, 0)`: a new O_CLOEXEC namespace fd.
pub(crate) fn pidfd_get_namespace(fd: BorrowedFd<'_>, request: u32) -> Result<OwnedFd, i32> {
    ioctl_new_fd(fd, request)
}

/// `ioctl(fd, request, 0)` for requests that return a new fd (the pidfs
/// `PIDFD_GET_*_NAMESPACE` and the nsfs `NS_GET_USERNS`/`NS_GET_PARENT`); `EINVAL`
/// for any other request.
pub(crate) fn ioctl_new_fd(fd: BorrowedFd<'_>, request: u32) -> Result<OwnedFd, i32> {
    new_fd(FdCall::namespace(fd, request)?)
}

/// `ioctl(fd, NS_GET_NSTYPE)`; `EINVAL` for any other request.
pub(crate) fn ioctl_int(fd: BorrowedFd<'_>, request: u32) -> Result<i32, i32> {
    if request != NS_GET_NSTYPE {
        return Err(libc::EINVAL);
    }
    syscall(Call::NsType { fd }).map(|t| t as i32)
}

/// `ioctl(fd, NS_GET_ID, &u64)`; `EINVAL` for any other request.
pub(crate) fn ioctl_get_u64(fd: BorrowedFd<'_>, request: u32) -> Result<u64, i32> {
    if request != NS_GET_ID {
        return Err(libc::EINVAL);
    }
    let mut id = 0;
    syscall(Call::NsId { fd, id: &mut id })?;
    Ok(id)
}

/// `ioctl(fd, NS_GET_OWNER_UID, &uid_t)`; `EINVAL` for any other request.
pub(crate) fn ioctl_get_uid(fd: BorrowedFd<'_>, request: u32) -> Result<u32, i32> {
    if request != NS_GET_OWNER_UID {
        return Err(libc::EINVAL);
    }
    let mut uid = 0;
    syscall(Call::OwnerUid { fd, uid: &mut uid })?;
    Ok(uid)
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
    syscall(Call::NameToHandle {
        fd,
        handle: &mut h,
        mount_id: &mut mount_id,
    })?;
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
    new_fd(FdCall::OpenByHandle {
        mount_fd,
        handle: &h,
        flags,
    })
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
#[inline]
pub(crate) fn waitid_pidfd(fd: BorrowedFd<'_>, options: i32) -> Result<Option<RawWaitInfo>, i32> {
    let mut info = RawSiginfo::default();
    syscall(Call::Waitid {
        fd,
        info: &mut info,
        options,
    })?;
    if info.pid == 0 {
        return Ok(None);
    }
    Ok(Some(RawWaitInfo {
        code: info.code,
        status: info.status,
        pid: info.pid,
        uid: info.uid,
    }))
}

// The crate's public clone3 forms whose contract is the caller's (`unsafe fn`),
// beside the raw calls they forward that obligation to: every `unsafe` block of
// the crate is in this module.
pub(crate) mod public_clone {
    use crate::PidFd;
    use crate::child::SharedChildMemory;
    use crate::clone::{CloneArgs, CloneResult};
    use crate::error::{Call, Error, Result};
    use crate::sys;
    use crate::types::Pid;

    /// `clone3({CLONE_PARENT | CLONE_PIDFD, exit_signal: 0})` as a fork: the new
    /// process is a sibling of the caller (a child of the caller's parent, in the
    /// caller's namespaces: after a [`setns`](crate::setns) into a pid namespace, in that one).
    /// Returns [`CloneResult::Child`] in the new process and [`CloneResult::Parent`]
    /// (its pid and pidfd) in the caller. Made for a helper process between clone and
    /// execve that joins a container and hands the new process to its own parent:
    /// it allocates nothing, on success or failure.
    ///
    /// The exit signal is 0 because the kernel refuses any other with
    /// `CLONE_PARENT`: the caller's parent is told of the new process's end with the
    /// caller's own exit signal (`SIGCHLD` for a usual child). Since Linux 5.3.
    ///
    /// # Safety
    ///
    /// As for [`CloneArgs::fork`]: in the new process, until it calls `execve` or
    /// `_exit`, only async-signal-safe calls and raw system calls, no allocation, no
    /// lock, no unwinding. Meant for a single-threaded caller.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] before Linux 5.3; `EINVAL` if the caller is a pid
    /// namespace's init or a global init (which cannot have siblings), `EPERM`/`EAGAIN`
    /// from the kernel's limits.
    ///
    /// # References
    /// - [clone3(2)](https://man7.org/linux/man-pages/man2/clone3.2.html)
    #[doc(alias = "clone3", alias = "CLONE_PARENT")]
    #[allow(unsafe_code)] // the child's restrictions are the caller's (`# Safety`)
    pub unsafe fn clone3_parent() -> Result<CloneResult> {
        // SAFETY: no flag shares memory; the child-side obligations are our caller's.
        match unsafe { sys::clone3_parent() } {
            Ok((0, _)) => Ok(CloneResult::Child),
            Ok((pid, Some(fd))) => Ok(CloneResult::Parent {
                pid: Pid::from_raw(pid).expect("clone3 returned a positive pid"),
                pidfd: PidFd::from(fd),
            }),
            Ok((_, None)) => unreachable!("clone3_raw returns a pidfd with every pid > 0"),
            Err(e) => Err(Error::from_errno(
                e,
                || {
                    Call::new(
                        "clone3",
                        format_args!("{{flags: CLONE_PARENT|CLONE_PIDFD, exit_signal: 0}}"),
                    )
                },
                "clone3",
                "5.3",
            )),
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
        #[allow(unsafe_code)] // the child's restrictions are the caller's (`# Safety`)
        pub unsafe fn fork(&self) -> Result<CloneResult> {
            let (mut raw, size) = self.prepare()?;
            // SAFETY: `prepare` rejected flags that share memory or thread state and
            // pointed set_tid at `self.set_tid`, alive for this call; the child-side
            // restrictions are the caller's obligation (see `# Safety`).
            match unsafe { sys::clone3_raw(&mut raw, size) } {
                Ok((0, _)) => Ok(CloneResult::Child),
                Ok((pid, Some(fd))) => Ok(CloneResult::Parent {
                    pid: Pid::from_raw(pid).expect("clone3 returned a positive pid"),
                    pidfd: PidFd::from(fd),
                }),
                Ok((_, None)) => unreachable!("clone3_raw returns a pidfd with every pid > 0"),
                Err(e) => Err(self.map_errno(e)),
            }
        }

        /// `clone3(&args, size)` with `CLONE_VM | CLONE_SETTLS | CLONE_CLEAR_SIGHAND`:
        /// the child shares the caller's memory (no page tables are copied, unlike
        /// [`fork`](Self::fork)), runs `f` on `memory`'s stack with `memory`'s own
        /// thread-local block (so errno, the allocator's per-thread cache and Rust's
        /// thread locals of the calling thread are not touched), with every signal
        /// blocked and every handler reset. The calling thread goes on at once (unlike
        /// `posix_spawn`'s `CLONE_VFORK`): it can write the child's id maps while the
        /// child waits. Returns the child's pid and pidfd; `f` never returns into the
        /// caller (the child ends with `exit_group(127)` if it does).
        ///
        /// # Safety
        ///
        /// The child runs concurrently with the caller in the same memory. Until it
        /// has called `execve` or exited (a close-on-exec fd reaching EOF in the
        /// parent, or the child reaped, tells):
        /// - `f` must only make system calls on values prepared before the clone:
        ///   no allocation, no lock, no panic, no access to thread-local or dynamic
        ///   TLS data, and end with `execve` or `_exit`;
        /// - everything `f` reads must stay alive and unchanged, and whatever it writes
        ///   must not be read by the caller (the child's writes race with it);
        /// - `memory` must stay alive and must not be given to another child;
        /// - fds the child makes are in its own fd table (no `CLONE_FILES`): values of
        ///   them it stores in shared memory are not the caller's to close.
        ///
        /// # Errors
        ///
        /// As [`fork`](Self::fork); `EINVAL` where the kernel refuses sharing memory
        /// with the namespaces asked for (the caller may then fork instead).
        ///
        /// # References
        /// - [clone3(2)](https://man7.org/linux/man-pages/man2/clone3.2.html)
        #[doc(alias = "clone3")]
        #[allow(unsafe_code)] // the child's restrictions are the caller's (`# Safety`)
        pub unsafe fn spawn_shared<F: FnOnce()>(
            &self,
            memory: &SharedChildMemory,
            f: F,
        ) -> Result<(Pid, PidFd)> {
            #[cfg(all(target_arch = "x86_64", any(target_env = "gnu", target_env = "musl")))]
            {
                let (mut raw, size) = self.prepare()?;
                // SAFETY: `prepare` rejected flags that share memory or thread state and
                // pointed set_tid at `self.set_tid`, alive for this call; the child-side
                // obligations are the caller's (see `# Safety`).
                match unsafe { sys::clone3_vm_run(&mut raw, size, &memory.region, f) } {
                    Ok((pid, fd)) => Ok((
                        Pid::from_raw(pid).expect("clone3 returned a positive pid"),
                        PidFd::from(fd),
                    )),
                    Err(e) => Err(self.map_errno(e)),
                }
            }
            #[cfg(not(all(target_arch = "x86_64", any(target_env = "gnu", target_env = "musl"))))]
            {
                let _ = (memory, f);
                Err(Error::Unsupported {
                    feature: "a shared-memory child (x86-64 with glibc or musl)",
                    min_kernel: "5.5",
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    /// A child sharing our memory, on its own stack and TLS block: it fails a C
    /// library call (errno set: in its own block), writes its errno and the value
    /// it read from shared memory on a pipe, and exits 7. The parent thread's errno
    /// and its stack are untouched; the child saw the parent's memory.
    #[cfg(all(target_arch = "x86_64", any(target_env = "gnu", target_env = "musl")))]
    #[test]
    fn a_shared_memory_child_keeps_to_its_own_stack_and_tls() {
        let region = VmRegion::new().expect("map the child's memory");
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let shared_value = Box::new(0x5eed_u64);
        let value: &u64 = &shared_value;
        let w_raw = w.as_raw_fd();
        for round in 0..3 {
            let mut args = RawCloneArgs {
                flags: CLONE_PIDFD,
                exit_signal: libc::SIGCHLD as u64,
                ..RawCloneArgs::default()
            };
            // SAFETY: (block) sets this thread's errno to a sentinel; the child
            // only makes system calls (close(-1) through the C library, which
            // writes errno to the child's own block, then write and exit_group),
            // reads `value` (alive until the child is reaped below) and uses
            // `region`, which outlives it.
            let (pid, pidfd) = unsafe {
                *libc::__errno_location() = 4242;
                clone3_vm_run(&mut args, CLONE_ARGS_SIZE_VER0, &region, move || {
                    libc::close(-1);
                    let errno = *libc::__errno_location();
                    let msg = [errno as u64, *value];
                    libc::write(w_raw, msg.as_ptr().cast(), 16);
                    libc::syscall(libc::SYS_exit_group, 7);
                })
                .expect("clone3 with CLONE_VM | CLONE_SETTLS")
            };
            // rustix's read sets no errno: after it, the child's close(-1) is done.
            let mut buf = [0u8; 16];
            assert_eq!(rustix::io::read(&r, &mut buf).unwrap(), 16);
            // SAFETY: reads this thread's errno.
            let errno_after = unsafe { *libc::__errno_location() };
            assert_eq!(
                errno_after, 4242,
                "round {round}: the child wrote our errno"
            );
            let child_errno = u64::from_ne_bytes(buf[..8].try_into().unwrap());
            let seen = u64::from_ne_bytes(buf[8..].try_into().unwrap());
            assert_eq!(child_errno, libc::EBADF as u64, "round {round}");
            assert_eq!(seen, 0x5eed, "round {round}: the child reads our memory");
            let info = waitid_pidfd(pidfd.as_fd(), libc::WEXITED)
                .expect("waitid")
                .expect("exited");
            assert!(pid > 0);
            assert_eq!(
                (info.code, info.status),
                (libc::CLD_EXITED, 7),
                "round {round}"
            );
            // The caller's clone arguments are as they were.
            assert_eq!(args.flags, CLONE_PIDFD);
            assert_eq!((args.stack, args.stack_size, args.tls), (0, 0, 0));
        }
        assert!(static_tls_size() < VmRegion::TLS_BELOW / 2);
        drop(shared_value);
    }

    #[test]
    fn each_ioctl_wrapper_takes_only_its_own_requests() {
        let ns = std::fs::File::open("/proc/self/ns/net").expect("open ns/net");
        let ns = ns.as_fd();
        assert_eq!(ioctl_new_fd(ns, NS_GET_NSTYPE).err(), Some(libc::EINVAL));
        assert_eq!(ioctl_new_fd(ns, pidfs_io(11)).err(), Some(libc::EINVAL));
        assert_eq!(ioctl_int(ns, NS_GET_ID).err(), Some(libc::EINVAL));
        assert_eq!(
            ioctl_get_u64(ns, NS_GET_OWNER_UID).err(),
            Some(libc::EINVAL)
        );
        assert_eq!(ioctl_get_uid(ns, NS_GET_ID).err(), Some(libc::EINVAL));
        assert_eq!(ioctl_int(ns, NS_GET_NSTYPE), Ok(libc::CLONE_NEWNET));
        // The owner of the caller's own network namespace is always visible to it.
        let owner = ioctl_new_fd(ns, NS_GET_USERNS).expect("NS_GET_USERNS");
        assert_eq!(
            ioctl_int(owner.as_fd(), NS_GET_NSTYPE),
            Ok(libc::CLONE_NEWUSER)
        );
    }

    #[test]
    fn the_siginfo_layout_matches_the_kernel() {
        let mut child = std::process::Command::new("/bin/sh")
            .args(["-c", "exit 3"])
            .spawn()
            .expect("spawn sh");
        let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("pid");
        let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
            .expect("pidfd_open");
        let ours = loop {
            match waitid_pidfd(pidfd.as_fd(), libc::WEXITED | libc::WNOWAIT) {
                Err(libc::EINTR) => continue,
                other => break other.expect("waitid").expect("the child exited"),
            }
        };
        // The same report through rustix's waitid, which reaps it.
        let theirs = rustix::process::waitid(
            rustix::process::WaitId::PidFd(pidfd.as_fd()),
            rustix::process::WaitIdOptions::EXITED,
        )
        .expect("waitid")
        .expect("the child exited");
        assert_eq!(
            (ours.code, Some(ours.status)),
            (theirs.raw_code(), theirs.exit_status())
        );
        assert_eq!((ours.code, ours.status), (libc::CLD_EXITED, 3));
        assert_eq!(ours.pid, child.id() as i32);
        assert_eq!(ours.uid, rustix::process::getuid().as_raw());
        // Reaped by the second waitid (the first one, WNOWAIT, left it a zombie).
        assert!(child.try_wait().is_err());
    }
}
