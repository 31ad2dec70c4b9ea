//! The few calls no linception crate and no safe rustix API offers, for the
//! container child between `clone3` and `execve`. A leaf: it knows nothing of the
//! modules above it, takes plain values and returns errnos. Every function is
//! allocation-free.

use std::ffi::{CStr, c_char};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::ptr;

/// An errno.
type Res<T = ()> = Result<T, i32>;

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

fn check(ret: libc::c_int) -> Res<libc::c_int> {
    if ret < 0 { Err(errno()) } else { Ok(ret) }
}

/// The kernel's `struct sigaction` for `rt_sigaction` (x86_64 and aarch64 order).
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

/// Puts `SIGPIPE` back to its default action and unblocks every signal: the
/// spawning thread may have changed both, and the program expects neither.
pub(crate) fn reset_signals() -> Res {
    let default = KernelSigaction {
        handler: 0, // SIG_DFL
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    let empty: u64 = 0;
    // SAFETY: `default` is a live kernel sigaction and `empty` a live 8-byte kernel
    // signal set, both of the size passed; the old-value pointers are null. A
    // disposition is process-wide, and this process is the single-threaded child
    // between clone and exec.
    let (action, mask) = unsafe {
        (
            libc::syscall(
                libc::SYS_rt_sigaction,
                libc::SIGPIPE,
                &default as *const KernelSigaction,
                ptr::null_mut::<KernelSigaction>(),
                size_of::<u64>(),
            ),
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_SETMASK,
                &empty as *const u64,
                ptr::null_mut::<u64>(),
                size_of::<u64>(),
            ),
        )
    };
    if action < 0 || mask < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// `unshare(flags)` (`CLONE_NEW*` only): the namespaces the container creates
/// after joining others. Only the namespace flags are passed, so no fd table or fs
/// struct the parent's other threads use is touched (rustix marks `unshare`
/// unsafe for `CLONE_FILES`, which is not among them).
pub(crate) fn unshare(flags: u32) -> Res {
    const NAMESPACES: u32 = (libc::CLONE_NEWUSER
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWNET
        | libc::CLONE_NEWCGROUP
        | libc::CLONE_NEWTIME) as u32;
    if flags & !NAMESPACES != 0 {
        return Err(libc::EINVAL);
    }
    // SAFETY: namespace flags only (checked above); the calling process is the
    // single-threaded container child between clone and execve.
    check(unsafe { libc::unshare(flags as libc::c_int) }).map(drop)
}

/// Puts each `(source, target)` fd on its target number for the program: every
/// source is first copied above `high` (a source may be another's target), then
/// each copy is `dup3`ed onto its target (clearing `O_CLOEXEC` there).
/// The targets are numbers of the program's fd table, not fds this process owns:
/// that is why no safe API can do it.
pub(crate) fn place_fds(moves: &[(BorrowedFd<'_>, RawFd)], high: RawFd) -> Res {
    const MAX: usize = 256;
    if moves.len() > MAX {
        return Err(libc::EMFILE);
    }
    let mut copies: [Option<OwnedFd>; MAX] = [const { None }; MAX];
    for ((source, _), copy) in moves.iter().zip(copies.iter_mut()) {
        *copy = Some(rustix::io::fcntl_dupfd_cloexec(source, high).map_err(|e| e.raw_os_error())?);
    }
    for ((_, target), copy) in moves.iter().zip(copies.iter()) {
        if let Some(copy) = copy {
            // SAFETY: `copy` is an open fd of ours; `target` is a plain fd number the
            // program is to find open: dup3 replaces whatever was there.
            check(unsafe { libc::dup3(copy.as_raw_fd(), *target, 0) })?;
        }
    }
    Ok(())
}

/// `fcntl(fd, F_DUPFD_CLOEXEC, min)`: a close-on-exec copy, numbered `min` or
/// more, of the fd numbered `fd`, one this process inherited and no value of it
/// owns (the caller's parent passed it on). The original is neither closed nor
/// changed.
pub(crate) fn dup_inherited(fd: RawFd, min: RawFd) -> Res<OwnedFd> {
    // SAFETY: fcntl takes `fd` as a plain number and reads no memory of ours; a
    // number that is not open is EBADF. F_DUPFD_CLOEXEC only adds an fd.
    let copy = check(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) })?;
    // SAFETY: `copy` was just returned by the kernel: an open fd nothing else owns.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(copy) })
}

/// `close_range(first, last, CLOSE_RANGE_CLOEXEC)` (Linux 5.11): every fd in the
/// range is closed at `execve`.
pub(crate) fn cloexec_range(first: u32, last: u32) -> Res {
    close_range(first, last, libc::CLOSE_RANGE_CLOEXEC)
}

/// Closes every fd from `first` to `last` except those in `keep`, with
/// `close_range` over the pieces between them. The fds closed are copies of the
/// parent's this process inherited and never uses again (nothing of it refers to
/// them after the setup), so no owner is left with a dangling fd.
pub(crate) fn close_range_except(first: u32, last: u32, keep: &[RawFd]) -> Res {
    let mut sorted = [u32::MAX; 4];
    let mut n = 0;
    for &fd in keep.iter().take(sorted.len()) {
        if fd >= 0 && (fd as u32) >= first && (fd as u32) <= last {
            sorted[n] = fd as u32;
            n += 1;
        }
    }
    sorted[..n].sort_unstable();
    let mut from = first;
    for &k in &sorted[..n] {
        if k > from {
            close_range(from, k - 1, 0)?;
        }
        from = k.saturating_add(1);
    }
    if from <= last && from != 0 {
        close_range(from, last, 0)?;
    }
    Ok(())
}

/// `close_range(first, last, flags)`: with `CLOSE_RANGE_CLOEXEC` it only marks
/// fds; with 0 it closes them, and the callers pass only ranges of unused copies of
/// the parent's fds (see `close_range_except`): no owner is left with a dangling fd.
fn close_range(first: u32, last: u32, flags: u32) -> Res {
    // SAFETY: plain integers; the fds of the range are unused by this process (see
    // above), so closing or marking them invalidates nothing it holds.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, last, flags) };
    if r < 0 { Err(errno()) } else { Ok(()) }
}

/// `landlock_restrict_self(ruleset, 0)` (Linux 5.13): the landlock crate's
/// `restrict_self` consumes its ruleset value and builds a status, so the child
/// makes the last of the three calls itself on the fd the parent prepared.
pub(crate) fn landlock_restrict_self(ruleset: BorrowedFd<'_>) -> Res {
    // SAFETY: `ruleset` is an open fd; flags 0; the call reads no memory of ours.
    let r = unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset.as_raw_fd(), 0u32) };
    if r < 0 { Err(errno()) } else { Ok(()) }
}

/// `personality(persona)`: the execution domain and flags, kept across `execve`.
/// rustix has no wrapper for it.
pub(crate) fn personality(persona: u32) -> Res {
    // SAFETY: a plain integer argument; the call changes only this process's
    // personality word (0xffffffff, the query value, is refused by the parent).
    let r = unsafe { libc::personality(persona as libc::c_ulong) };
    if r < 0 { Err(errno()) } else { Ok(()) }
}

/// `ioprio_set(IOPRIO_WHO_PROCESS, 0, ioprio)`: the calling process's I/O class
/// and level, kept across `execve`. Neither rustix nor a linception crate wraps it.
pub(crate) fn ioprio_set(ioprio: u16) -> Res {
    const IOPRIO_WHO_PROCESS: libc::c_int = 1;
    // SAFETY: plain integer arguments (who 0: the calling process); the call reads
    // no memory of ours.
    let r = unsafe {
        libc::syscall(
            libc::SYS_ioprio_set,
            IOPRIO_WHO_PROCESS,
            0,
            libc::c_int::from(ioprio),
        )
    };
    if r < 0 { Err(errno()) } else { Ok(()) }
}

/// The kernel's `struct sched_attr`, its first version (`SCHED_ATTR_SIZE_VER0`,
/// 48 bytes: no utilization clamps).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SchedAttr {
    pub size: u32,
    pub sched_policy: u32,
    pub sched_flags: u64,
    pub sched_nice: i32,
    pub sched_priority: u32,
    pub sched_runtime: u64,
    pub sched_deadline: u64,
    pub sched_period: u64,
}

const _: () = assert!(size_of::<SchedAttr>() == 48);

/// `sched_setattr(0, attr, 0)`: the calling thread's scheduling policy and
/// attributes (Linux 3.14), kept across `execve`. Neither rustix nor a linception
/// crate wraps it.
pub(crate) fn sched_setattr(attr: &SchedAttr) -> Res {
    // SAFETY: `attr` is a live `struct sched_attr` whose `size` field is its own
    // size (48, checked at compile time); the kernel only reads it. Pid 0 is the
    // calling thread, flags 0.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, attr as *const SchedAttr, 0u32) };
    if r < 0 { Err(errno()) } else { Ok(()) }
}

/// `execve(path, argv, envp)`; returns only on failure, with the errno.
pub(crate) fn execve(path: &CStr, argv: &[*const c_char], envp: &[*const c_char]) -> i32 {
    // SAFETY: `argv` and `envp` are null-terminated arrays of pointers to
    // NUL-terminated strings the parent prepared; they and `path` outlive the call.
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    errno()
}

/// `_exit(code)`: leaves the child without running any Rust or libc exit handler.
pub(crate) fn exit(code: libc::c_int) -> ! {
    // SAFETY: `_exit` ends the process; no destructor of the copied memory runs.
    unsafe { libc::_exit(code) }
}

/// How the pidfd crate forks a process for the umbrella.
enum Fork<'a, 'b> {
    /// The container child: `clone3` with the spawn's arguments.
    Container(&'a linception_pidfd::CloneArgs<'b>),
    /// `clone3(CLONE_PARENT | CLONE_PIDFD)` from a single-threaded child: the new
    /// process is a sibling, a child of the caller.
    Sibling,
}

// The pidfd crate's error holds its failed call inline (no allocation): large by design.
#[allow(clippy::result_large_err)]
fn fork(how: Fork<'_, '_>) -> linception_pidfd::Result<linception_pidfd::CloneResult> {
    // SAFETY: in every use the new process runs only the allocation-free step
    // executor on values the parent prepared (no lock, no unwinding) and ends in
    // execve or _exit; `Sibling` is only called from such a single-threaded child.
    unsafe {
        match how {
            Fork::Container(args) => args.fork(),
            Fork::Sibling => linception_pidfd::clone3_parent(),
        }
    }
}

/// `clone3(CLONE_PARENT | CLONE_PIDFD)` (the pidfd crate's child-safe form) from
/// the single-threaded exec_in helper: `None` in the new process, `Some(pidfd)` in
/// the helper.
pub(crate) fn clone_into_parent() -> Res<Option<linception_pidfd::PidFd>> {
    match fork(Fork::Sibling) {
        Ok(linception_pidfd::CloneResult::Child) => Ok(None),
        Ok(linception_pidfd::CloneResult::Parent { pidfd, .. }) => Ok(Some(pidfd)),
        Err(e) => Err(e.raw_os_error().unwrap_or(libc::EINVAL)),
    }
}

/// `setns(fd, namespaces)` through a pidfd or a namespace fd (the pidfd crate's
/// child-safe form).
pub(crate) fn join_namespaces(fd: BorrowedFd<'_>, namespaces: u32) -> Res {
    let namespaces = linception_pidfd::Namespaces::from_bits_retain(namespaces);
    // SAFETY: namespace membership is per thread; the exec_in helper that calls this
    // is single-threaded, between clone and execve.
    unsafe { linception_pidfd::setns(fd, namespaces) }
        .map_err(|e| e.raw_os_error().unwrap_or(libc::EINVAL))
}

/// Forks the container child with `args` (the pidfd crate's copying clone) and runs
/// `child` in it; returns the child's pid and pidfd in the parent.
// The pidfd crate's error holds its failed call inline (no allocation): large by design.
#[allow(clippy::result_large_err)]
pub(crate) fn clone_and_run<F: FnOnce()>(
    args: &linception_pidfd::CloneArgs<'_>,
    child: F,
) -> linception_pidfd::Result<(linception_pidfd::Pid, linception_pidfd::PidFd)> {
    // `child` runs the step executor and ends in execve or _exit: the `exit` below
    // is never reached.
    match fork(Fork::Container(args))? {
        linception_pidfd::CloneResult::Child => {
            child();
            exit(127)
        }
        linception_pidfd::CloneResult::Parent { pid, pidfd } => Ok((pid, pidfd)),
    }
}

/// Clones the container child sharing this process's memory (the pidfd crate's
/// `spawn_shared`: no page tables copied) and runs `child` in it on `memory`'s
/// stack; returns the child's pid and pidfd in the parent.
///
/// The caller (the spawn) keeps everything `child` refers to (the plan and its
/// slots, the fds it borrows) and `memory` alive until the child's report pipe has
/// reached EOF (it exec'd, or its memory was released at exit) or the child was
/// reaped, and never drops what the child stored in the slots (fds of the child's
/// own table).
// The pidfd crate's error holds its failed call inline (no allocation): large by design.
#[allow(clippy::result_large_err)]
pub(crate) fn clone_shared_and_run<F: FnOnce()>(
    args: &linception_pidfd::CloneArgs<'_>,
    memory: &linception_pidfd::SharedChildMemory,
    child: F,
) -> linception_pidfd::Result<(linception_pidfd::Pid, linception_pidfd::PidFd)> {
    // SAFETY: `child` runs the allocation-free step executor on values the parent
    // prepared and ends in execve or _exit (`exit` below for a return that cannot
    // happen); the spawn keeps the plan, its fds and `memory` alive and unread until
    // the child has exec'd or been reaped, and forgets the slots' fds (see above).
    unsafe {
        args.spawn_shared(memory, move || {
            child();
            exit(127)
        })
    }
}

/// `bpf(2)` commands and constants of the cgroup device program (linux/bpf.h); no
/// linception crate and no rustix API wraps `bpf`.
pub(crate) mod bpf {
    use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

    const BPF_PROG_LOAD: libc::c_int = 5;
    const BPF_PROG_ATTACH: libc::c_int = 8;
    const BPF_PROG_DETACH: libc::c_int = 9;
    const BPF_PROG_GET_FD_BY_ID: libc::c_int = 13;
    const BPF_PROG_QUERY: libc::c_int = 16;
    /// `BPF_PROG_TYPE_CGROUP_DEVICE` (Linux 4.15).
    const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
    /// `BPF_CGROUP_DEVICE`, the attach type of a device program.
    const BPF_CGROUP_DEVICE: u32 = 6;
    /// `BPF_F_ALLOW_MULTI`: more programs may be attached to the cgroup.
    pub(crate) const BPF_F_ALLOW_MULTI: u32 = 1 << 1;
    /// `BPF_F_REPLACE` (Linux 5.6): replace `replace_bpf_fd` atomically.
    pub(crate) const BPF_F_REPLACE: u32 = 1 << 2;

    /// One eBPF instruction (`struct bpf_insn`): the registers packed in one byte,
    /// destination in the low nibble.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) struct Insn {
        pub code: u8,
        pub regs: u8,
        pub off: i16,
        pub imm: i32,
    }

    /// The `BPF_PROG_LOAD` part of `union bpf_attr`, up to `expected_attach_type`.
    #[repr(C)]
    struct ProgLoad {
        prog_type: u32,
        insn_cnt: u32,
        insns: u64,
        license: u64,
        log_level: u32,
        log_size: u32,
        log_buf: u64,
        kern_version: u32,
        prog_flags: u32,
        prog_name: [u8; 16],
        prog_ifindex: u32,
        expected_attach_type: u32,
    }

    /// The `BPF_PROG_ATTACH`/`BPF_PROG_DETACH` part of `union bpf_attr`.
    #[repr(C)]
    struct ProgAttach {
        target_fd: u32,
        attach_bpf_fd: u32,
        attach_type: u32,
        attach_flags: u32,
        replace_bpf_fd: u32,
    }

    /// The `BPF_PROG_QUERY` part of `union bpf_attr`, up to `prog_cnt` (padded).
    #[repr(C)]
    struct ProgQuery {
        target_fd: u32,
        attach_type: u32,
        query_flags: u32,
        attach_flags: u32,
        prog_ids: u64,
        prog_cnt: u32,
        pad: u32,
    }

    /// `BPF_PROG_GET_FD_BY_ID` part of `union bpf_attr`.
    #[repr(C)]
    struct GetFdById {
        prog_id: u32,
        next_id: u32,
        open_flags: u32,
    }

    /// `bpf(cmd, attr, size_of::<T>())`.
    fn bpf<T>(cmd: libc::c_int, attr: &mut T) -> super::Res<libc::c_long> {
        // SAFETY: `attr` is a live, exclusively borrowed `#[repr(C)]` prefix of
        // `union bpf_attr` for `cmd`, of the size passed; the kernel reads it and
        // writes back only fields inside it (the query's counts). Pointers inside it
        // (instructions, license, log, id array) are set by the callers to live
        // buffers of the lengths given beside them.
        let r = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                cmd,
                attr as *mut T as *mut libc::c_void,
                size_of::<T>() as libc::c_uint,
            )
        };
        if r < 0 { Err(super::errno()) } else { Ok(r) }
    }

    /// The fd a successful `bpf` call returned.
    fn owned(fd: libc::c_long) -> OwnedFd {
        // SAFETY: `fd` is a new fd the kernel just returned (O_CLOEXEC, as every bpf
        // object fd) and nothing else owns it.
        unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) }
    }

    /// `bpf(BPF_PROG_LOAD)` of a `BPF_PROG_TYPE_CGROUP_DEVICE` program; the
    /// verifier's log goes to `log` (empty for none).
    pub(crate) fn load_device_program(insns: &[Insn], log: &mut [u8]) -> super::Res<OwnedFd> {
        let license = c"MIT";
        let mut name = [0u8; 16];
        name[..10].copy_from_slice(b"linception");
        let mut attr = ProgLoad {
            prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
            insn_cnt: u32::try_from(insns.len()).map_err(|_| libc::E2BIG)?,
            insns: insns.as_ptr() as u64,
            license: license.as_ptr() as u64,
            log_level: u32::from(!log.is_empty()),
            log_size: u32::try_from(log.len()).unwrap_or(u32::MAX),
            log_buf: if log.is_empty() {
                0
            } else {
                log.as_mut_ptr() as u64
            },
            kern_version: 0,
            prog_flags: 0,
            prog_name: name,
            prog_ifindex: 0,
            expected_attach_type: BPF_CGROUP_DEVICE,
        };
        bpf(BPF_PROG_LOAD, &mut attr).map(owned)
    }

    /// `bpf(BPF_PROG_ATTACH)` of a device program to the cgroup `cgroup` (a
    /// directory fd, not O_PATH) with `flags`; `replace` is the program
    /// `BPF_F_REPLACE` swaps out.
    pub(crate) fn attach_device_program(
        cgroup: BorrowedFd<'_>,
        prog: BorrowedFd<'_>,
        flags: u32,
        replace: Option<BorrowedFd<'_>>,
    ) -> super::Res {
        let mut attr = ProgAttach {
            target_fd: cgroup.as_raw_fd() as u32,
            attach_bpf_fd: prog.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            attach_flags: flags,
            replace_bpf_fd: replace.map_or(0, |f| f.as_raw_fd() as u32),
        };
        bpf(BPF_PROG_ATTACH, &mut attr).map(drop)
    }

    /// `bpf(BPF_PROG_DETACH)` of the device program `prog` from `cgroup`.
    pub(crate) fn detach_device_program(
        cgroup: BorrowedFd<'_>,
        prog: BorrowedFd<'_>,
    ) -> super::Res {
        let mut attr = ProgAttach {
            target_fd: cgroup.as_raw_fd() as u32,
            attach_bpf_fd: prog.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            attach_flags: 0,
            replace_bpf_fd: 0,
        };
        bpf(BPF_PROG_DETACH, &mut attr).map(drop)
    }

    /// `bpf(BPF_PROG_QUERY)`: the ids of the device programs attached to
    /// `cgroup` itself (not inherited), at most `ids.len()`; returns the count
    /// attached (which may exceed the room given) and the attach flags.
    pub(crate) fn query_device_programs(
        cgroup: BorrowedFd<'_>,
        ids: &mut [u32],
    ) -> super::Res<(usize, u32)> {
        let mut attr = ProgQuery {
            target_fd: cgroup.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            query_flags: 0,
            attach_flags: 0,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: u32::try_from(ids.len()).unwrap_or(u32::MAX),
            pad: 0,
        };
        bpf(BPF_PROG_QUERY, &mut attr)?;
        Ok((attr.prog_cnt as usize, attr.attach_flags))
    }

    /// `bpf(BPF_PROG_GET_FD_BY_ID)`: an fd of the loaded program `id`.
    pub(crate) fn program_by_id(id: u32) -> super::Res<OwnedFd> {
        let mut attr = GetFdById {
            prog_id: id,
            next_id: 0,
            open_flags: 0,
        };
        bpf(BPF_PROG_GET_FD_BY_ID, &mut attr).map(owned)
    }
}
