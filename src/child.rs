//! The child between `clone3` and `execve`: runs the prepared steps with raw
//! syscalls only. Nothing here allocates, takes a lock or can panic: every string,
//! fd number and program was prepared by the parent (see `plan`), and a failure is
//! written to the error pipe as `(step index, errno)` before `_exit(127)`.
#![forbid(unsafe_code)]

use std::ffi::{CStr, c_char};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::sys::{self, Res};

/// Test hook: makes the child's `mount_setattr` calls fail with `ENOSYS`, to
/// exercise the fallbacks on a kernel that has it.
pub(crate) static PRETEND_MOUNT_SETATTR_ENOSYS: AtomicBool = AtomicBool::new(false);

fn pretend_enosys_or(call: impl FnOnce() -> Res) -> Res {
    if PRETEND_MOUNT_SETATTR_ENOSYS.load(Ordering::Relaxed) {
        Err(libc::ENOSYS)
    } else {
        call()
    }
}

/// The slot of the root filesystem's mount fd.
pub(crate) const ROOT_SLOT: usize = 0;

/// A `fsconfig` command of a [`Step::FsConfig`].
pub(crate) enum FsConfigCmd {
    Flag,
    String,
}

/// One setup step. The parent builds the list and a label for each (`plan`).
pub(crate) enum Step {
    /// Unblock every signal (the spawning thread may have blocked some) and put
    /// `SIGPIPE` back to its default action.
    UnblockSignals,
    /// Block until the parent has written the id maps (reads one byte or EOF).
    WaitForParent { fd: RawFd },
    /// `unshare(CLONE_NEWTIME)` and write `/proc/self/timens_offsets`: the program
    /// enters the new time namespace at `execve`.
    TimeNamespace { offsets: Vec<u8> },
    /// `mount_setattr("/", AT_RECURSIVE, {propagation: MS_PRIVATE})`.
    PrivateRoot,
    /// `open_tree(AT_FDCWD, source, OPEN_TREE_CLONE [| AT_RECURSIVE])` into a slot.
    OpenTree {
        source: std::ffi::CString,
        recursive: bool,
        slot: usize,
    },
    /// Receive a detached mount prepared by the parent (idmapped binds) into a slot.
    ReceiveTree { sock: RawFd, slot: usize },
    /// `mount_setattr` on the mount in a slot.
    SetAttr {
        slot: usize,
        recursive: bool,
        set: u64,
    },
    /// `fsopen(fstype)` into a slot.
    FsOpen {
        fstype: std::ffi::CString,
        slot: usize,
    },
    /// `fsconfig` on the context in a slot.
    FsConfig {
        slot: usize,
        cmd: FsConfigCmd,
        key: std::ffi::CString,
        value: Option<std::ffi::CString>,
    },
    /// `fsconfig(FSCONFIG_CMD_CREATE)` + `fsmount` of the context in `slot`; the
    /// context is closed and the mount fd takes its slot.
    FsMount { slot: usize, attr: u32 },
    /// `move_mount` of the mount in a slot onto a host path (the root's attach point).
    AttachAtHost {
        slot: usize,
        path: std::ffi::CString,
    },
    /// `mkdirat` of `name` in `parent`, both resolved inside the root (EEXIST is fine).
    Mkdir {
        parent: std::ffi::CString,
        name: std::ffi::CString,
        mode: u32,
    },
    /// Create an empty file (a bind target for a file) inside the root.
    Mkfile {
        parent: std::ffi::CString,
        name: std::ffi::CString,
    },
    /// `symlinkat(points_to, parent, name)` inside the root (EEXIST is fine).
    Symlink {
        parent: std::ffi::CString,
        name: std::ffi::CString,
        points_to: std::ffi::CString,
    },
    /// `move_mount` of the mount in a slot onto `target`, resolved inside the root;
    /// with `create`, a missing target directory is made first (`mkdirat(parent,
    /// name, mode)`).
    Attach {
        slot: usize,
        target: std::ffi::CString,
        create: Option<(std::ffi::CString, std::ffi::CString, u32)>,
    },
    /// `setns(pidfd, flags)`: join a running container's namespaces.
    JoinNamespaces { pidfd: RawFd, flags: libc::c_int },
    /// `clone3(CLONE_PARENT | CLONE_PIDFD)`: the new process (a child of the caller,
    /// in the joined pid namespace) goes on with the next steps; this helper sends
    /// its pidfd to the caller over `sock` and exits.
    ForkIntoParent { sock: RawFd },
    /// `fchdir(root)`, `pivot_root(".", ".")`, `umount2(".", MNT_DETACH)`, `chdir("/")`.
    PivotRoot,
    /// `sethostname`.
    Hostname { name: std::ffi::CString },
    /// `keyctl(KEYCTL_JOIN_SESSION_KEYRING, name)`.
    JoinKeyring { name: Option<std::ffi::CString> },
    /// `prctl(PR_CAPBSET_DROP)` for every capability up to `last_cap` not in `keep`.
    DropBounding { keep: u64, last_cap: u32 },
    /// `prctl(PR_SET_KEEPCAPS, 1)`: keep permitted capabilities across the uid change.
    KeepCaps,
    /// `setgroups`.
    SetGroups { groups: Vec<libc::gid_t> },
    /// `setresgid`.
    SetGid { gid: u32 },
    /// `setresuid`.
    SetUid { uid: u32 },
    /// `capset` v3.
    Capset {
        effective: u64,
        permitted: u64,
        inheritable: u64,
    },
    /// `prctl(PR_CAP_AMBIENT_RAISE)` for every capability in `set`.
    Ambient { set: u64 },
    /// `chdir`.
    Chdir { path: std::ffi::CString },
    /// `prctl(PR_SET_NO_NEW_PRIVS, 1)`.
    NoNewPrivs,
    /// Moves fds to their numbers (`moves`: `(source, target)`), first copying every
    /// source above `high`, then marks every other fd from 3 up close-on-exec
    /// (`close_range(.., CLOSE_RANGE_CLOEXEC)` over `cloexec_ranges`).
    Fds {
        moves: Vec<(RawFd, RawFd)>,
        high: RawFd,
        cloexec_ranges: Vec<(u32, u32)>,
    },
    /// `seccomp(SECCOMP_SET_MODE_FILTER)`; with a listener, sends it to the parent.
    Seccomp {
        program: linception_seccomp_notify::Program,
        flags: linception_seccomp_notify::FilterFlags,
        listener_sock: Option<RawFd>,
    },
    /// `execve` of each candidate path in turn (a PATH search prepared by the parent).
    Exec {
        candidates: Vec<std::ffi::CString>,
        argv: Vec<*const c_char>,
        envp: Vec<*const c_char>,
    },
}

/// The most bytes of a kernel fs-context message sent with a failure.
pub(crate) const LOG_MAX: usize = 256;

impl Step {
    /// The kernel feature a step needs, for an `ENOSYS` report: (feature, since).
    pub(crate) fn feature(&self) -> Option<(&'static str, &'static str)> {
        Some(match self {
            Step::OpenTree { .. }
            | Step::FsOpen { .. }
            | Step::FsConfig { .. }
            | Step::FsMount { .. }
            | Step::AttachAtHost { .. } => ("the new mount API", "5.2"),
            Step::SetAttr { .. } | Step::PrivateRoot => ("mount_setattr", "5.12"),
            Step::Mkdir { .. }
            | Step::Mkfile { .. }
            | Step::Symlink { .. }
            | Step::Attach { .. } => ("openat2", "5.6"),
            Step::TimeNamespace { .. } => ("time namespaces", "5.6"),
            Step::Fds { .. } => ("close_range", "5.9"),
            Step::JoinNamespaces { .. } => ("setns with a pidfd", "5.8"),
            Step::ForkIntoParent { .. } => ("clone3", "5.3"),
            Step::Ambient { .. } => ("ambient capabilities", "4.3"),
            Step::JoinKeyring { .. } => ("keyrings", "2.6.10"),
            Step::Seccomp { .. } => ("seccomp filters", "3.17"),
            _ => return None,
        })
    }
}

/// Where the child reports a failure and keeps its fds.
pub(crate) struct ChildState<'a> {
    pub slots: &'a mut [RawFd],
    pub err_fd: RawFd,
    /// The report: step (u32), errno (i32), log length (u32), then the kernel's
    /// fs-context message of a failed `fsconfig`/`fsmount`, if any.
    pub report: [u8; 12 + LOG_MAX],
    pub log_len: usize,
}

/// Runs `steps` in order; never returns (the last step execs, a failure exits 127).
pub(crate) fn run(steps: &[Step], slots: &mut [RawFd], err_fd: RawFd) -> ! {
    let mut state = ChildState {
        slots,
        err_fd,
        report: [0; 12 + LOG_MAX],
        log_len: 0,
    };
    for (i, step) in steps.iter().enumerate() {
        if let Err(errno) = run_step(step, &mut state) {
            report(&mut state, i, errno);
        }
    }
    // No Exec step (cannot happen: the plan always ends with one).
    report(&mut state, steps.len(), libc::EINVAL)
}

fn report(state: &mut ChildState<'_>, step: usize, errno: i32) -> ! {
    let len = state.log_len.min(LOG_MAX);
    let (head, _) = state.report.split_at_mut(12);
    let (a, rest) = head.split_at_mut(4);
    let (b, c) = rest.split_at_mut(4);
    a.copy_from_slice(&(step as u32).to_ne_bytes());
    b.copy_from_slice(&errno.to_ne_bytes());
    c.copy_from_slice(&(len as u32).to_ne_bytes());
    let (msg, _) = state.report.split_at(12 + len);
    let _ = sys::write(state.err_fd, msg);
    sys::exit(127)
}

/// Keeps the kernel's first message of a failed fs context (read() on its fd).
fn keep_log(state: &mut ChildState<'_>, ctx: RawFd) {
    let (_, buf) = state.report.split_at_mut(12);
    state.log_len = sys::read(ctx, buf).unwrap_or(0);
}

fn slot(state: &ChildState<'_>, i: usize) -> Res<RawFd> {
    match state.slots.get(i) {
        Some(&fd) if fd >= 0 => Ok(fd),
        _ => Err(libc::EBADF),
    }
}

fn set_slot(state: &mut ChildState<'_>, i: usize, fd: RawFd) -> Res<()> {
    match state.slots.get_mut(i) {
        Some(s) => {
            *s = fd;
            Ok(())
        }
        None => {
            sys::close(fd);
            Err(libc::EBADF)
        }
    }
}

fn take_slot(state: &mut ChildState<'_>, i: usize) -> Res<RawFd> {
    let fd = slot(state, i)?;
    if let Some(s) = state.slots.get_mut(i) {
        *s = -1;
    }
    Ok(fd)
}

/// Opens `path` inside the root (`RESOLVE_IN_ROOT`), as an `O_PATH` fd.
fn open_in_root(state: &ChildState<'_>, path: &CStr, flags: i32) -> Res<RawFd> {
    let root = slot(state, ROOT_SLOT)?;
    let path = if path.is_empty() { c"." } else { path };
    sys::openat2_in_root(root, path, libc::O_PATH | flags, 0)
}

/// `mkdirat` of `name` in `parent`, resolved inside the root; EEXIST is fine.
fn mkdir_in_root(state: &ChildState<'_>, parent: &CStr, name: &CStr, mode: u32) -> Res<()> {
    let dir = open_in_root(state, parent, libc::O_DIRECTORY)?;
    let r = sys::mkdirat(dir, name, mode);
    sys::close(dir);
    match r {
        Err(libc::EEXIST) => Ok(()),
        r => ok(r),
    }
}

fn ok<T>(r: Res<T>) -> Res<()> {
    r.map(|_| ())
}

fn run_step(step: &Step, state: &mut ChildState<'_>) -> Res<()> {
    match step {
        Step::UnblockSignals => {
            sys::default_sigpipe()?;
            ok(sys::unblock_all_signals())
        }
        Step::WaitForParent { fd } => {
            let mut byte = [0u8; 1];
            loop {
                match sys::read(*fd, &mut byte) {
                    Err(libc::EINTR) => continue,
                    Ok(1) => break,
                    // EOF: the parent gave up (it kills us anyway).
                    Ok(_) => return Err(libc::ECANCELED),
                    Err(e) => return Err(e),
                }
            }
            sys::close(*fd);
            Ok(())
        }
        Step::TimeNamespace { offsets } => {
            sys::unshare(libc::CLONE_NEWTIME)?;
            ok(sys::write_file(
                libc::AT_FDCWD,
                c"/proc/self/timens_offsets",
                offsets,
            ))
        }
        Step::PrivateRoot => match pretend_enosys_or(sys::make_private_recursive) {
            // mount_setattr is Linux 5.12: fall back to mount(2).
            Err(libc::ENOSYS) => ok(sys::make_private_recursive_mount2()),
            r => ok(r),
        },
        Step::OpenTree {
            source,
            recursive,
            slot: i,
        } => {
            let mut flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC;
            if *recursive {
                flags |= libc::AT_RECURSIVE as u32;
            }
            let fd = sys::open_tree(libc::AT_FDCWD, source, flags)?;
            set_slot(state, *i, fd)
        }
        Step::ReceiveTree { sock, slot: i } => {
            let fd = sys::recv_fd_raw(*sock)?;
            set_slot(state, *i, fd)
        }
        Step::SetAttr {
            slot: i,
            recursive,
            set,
        } => {
            let fd = slot(state, *i)?;
            ok(pretend_enosys_or(|| {
                sys::mount_setattr(fd, *recursive, *set, 0, -1)
            }))
        }
        Step::FsOpen { fstype, slot: i } => {
            let fd = sys::fsopen(fstype)?;
            set_slot(state, *i, fd)
        }
        Step::FsConfig {
            slot: i,
            cmd,
            key,
            value,
        } => {
            let fd = slot(state, *i)?;
            let cmd = match cmd {
                FsConfigCmd::Flag => libc::FSCONFIG_SET_FLAG,
                FsConfigCmd::String => libc::FSCONFIG_SET_STRING,
            };
            let r = sys::fsconfig(fd, cmd, Some(key), value.as_deref());
            if r.is_err() {
                keep_log(state, fd);
            }
            ok(r)
        }
        Step::FsMount { slot: i, attr } => {
            let ctx = take_slot(state, *i)?;
            let r = sys::fsconfig(ctx, libc::FSCONFIG_CMD_CREATE, None, None)
                .and_then(|_| sys::fsmount(ctx, *attr));
            if r.is_err() {
                keep_log(state, ctx);
            }
            sys::close(ctx);
            set_slot(state, *i, r?)
        }
        Step::AttachAtHost { slot: i, path } => ok(sys::move_mount(
            slot(state, *i)?,
            c"",
            libc::AT_FDCWD,
            path,
            libc::MOVE_MOUNT_F_EMPTY_PATH,
        )),
        Step::Mkdir { parent, name, mode } => mkdir_in_root(state, parent, name, *mode),
        Step::Mkfile { parent, name } => {
            let dir = open_in_root(state, parent, libc::O_DIRECTORY)?;
            let r = sys::create_file(dir, name, 0o644);
            sys::close(dir);
            ok(r)
        }
        Step::Symlink {
            parent,
            name,
            points_to,
        } => {
            let dir = open_in_root(state, parent, libc::O_DIRECTORY)?;
            let r = sys::symlinkat(points_to, dir, name);
            sys::close(dir);
            match r {
                Err(libc::EEXIST) => Ok(()),
                r => ok(r),
            }
        }
        Step::Attach {
            slot: i,
            target,
            create,
        } => {
            let target = match (open_in_root(state, target, 0), create) {
                (Err(libc::ENOENT), Some((parent, name, mode))) => {
                    mkdir_in_root(state, parent, name, *mode)?;
                    open_in_root(state, target, 0)?
                }
                (r, _) => r?,
            };
            let mnt = take_slot(state, *i);
            let r = mnt.and_then(|mnt| {
                let r = sys::move_mount(
                    mnt,
                    c"",
                    target,
                    c"",
                    libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH,
                );
                sys::close(mnt);
                r
            });
            sys::close(target);
            ok(r)
        }
        Step::PivotRoot => {
            let root = take_slot(state, ROOT_SLOT)?;
            let r = sys::fchdir(root);
            sys::close(root);
            r?;
            sys::pivot_root_here()?;
            sys::umount2(c".", libc::MNT_DETACH)?;
            ok(sys::chdir(c"/"))
        }
        Step::JoinNamespaces { pidfd, flags } => ok(sys::setns(*pidfd, *flags)),
        Step::ForkIntoParent { sock } => match sys::clone_into_parent()? {
            None => Ok(()),
            Some(pidfd) => {
                if let Err(e) = sys::send_fd(*sock, pidfd) {
                    // The caller cannot own it: do not leave it running.
                    let _ = sys::pidfd_kill(pidfd);
                    return Err(e);
                }
                sys::exit(0)
            }
        },
        Step::Hostname { name } => ok(sys::sethostname(name.to_bytes())),
        // The keyring crate's child form: two keyctl calls, no allocation.
        Step::JoinKeyring { name } => {
            // Possessor-only: other containers under the same host uid cannot
            // view, read or link this keyring (the kernel default lets them view).
            let perm = Some(linception_keyring_ns::Permission::POSSESSOR_ALL);
            linception_keyring_ns::join_session_keyring_in_child(name.as_deref(), perm)
                .map(|_| ())
                .map_err(|e| e.errno.raw_os_error())
        }
        Step::DropBounding { keep, last_cap } => {
            for cap in 0..=(*last_cap).min(63) {
                if keep & (1u64 << cap) == 0 {
                    sys::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0)?;
                }
            }
            Ok(())
        }
        Step::KeepCaps => ok(sys::prctl(libc::PR_SET_KEEPCAPS, 1, 0)),
        Step::SetGroups { groups } => ok(sys::setgroups(groups)),
        Step::SetGid { gid } => ok(sys::setresgid(*gid)),
        Step::SetUid { uid } => ok(sys::setresuid(*uid)),
        Step::Capset {
            effective,
            permitted,
            inheritable,
        } => ok(sys::capset(*effective, *permitted, *inheritable)),
        Step::Ambient { set } => {
            for cap in 0..64u32 {
                if set & (1u64 << cap) != 0 {
                    sys::prctl(
                        libc::PR_CAP_AMBIENT,
                        libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                        cap as libc::c_ulong,
                    )?;
                }
            }
            Ok(())
        }
        Step::Chdir { path } => ok(sys::chdir(path)),
        Step::NoNewPrivs => ok(sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0)),
        Step::Fds {
            moves,
            high,
            cloexec_ranges,
        } => {
            // Our own error pipe must not be overwritten by a target number.
            if state.err_fd < *high {
                state.err_fd = sys::dup_above(state.err_fd, *high)?;
            }
            // First copy every source above `high` (a source may be another's target),
            // then put each copy on its target (dup3 clears O_CLOEXEC there).
            let mut copies = [-1 as RawFd; MAX_FDS];
            for (i, &(source, _)) in moves.iter().enumerate() {
                let copy = sys::dup_above(source, *high)?;
                match copies.get_mut(i) {
                    Some(c) => *c = copy,
                    None => return Err(libc::EMFILE),
                }
            }
            for (i, &(_, target)) in moves.iter().enumerate() {
                let copy = copies.get(i).copied().unwrap_or(-1);
                sys::dup2(copy, target)?;
                sys::close(copy);
            }
            for &(first, last) in cloexec_ranges {
                sys::cloexec_range(first, last)?;
            }
            Ok(())
        }
        Step::Seccomp {
            program,
            flags,
            listener_sock,
        } => {
            // The seccomp crate's child form: prctl + seccomp, no allocation. The
            // no_new_privs choice was a step of its own.
            let listener = program
                .install_raw(*flags, linception_seccomp_notify::NoNewPrivs::Keep)
                .map_err(|e| e.raw_os_error())?;
            if let (Some(sock), Some(listener)) = (listener_sock, listener) {
                let r = sys::send_fd(*sock, listener.as_raw_fd());
                drop(listener);
                sys::close(*sock);
                r?;
            }
            Ok(())
        }
        Step::Exec {
            candidates,
            argv,
            envp,
        } => {
            let mut errno = libc::ENOENT;
            for path in candidates {
                let e = sys::execve(path, argv, envp);
                match e {
                    libc::ENOENT | libc::ENOTDIR => {}
                    libc::EACCES => errno = libc::EACCES,
                    e => return Err(e),
                }
            }
            Err(errno)
        }
    }
}

/// The most fds (stdio + passed) a container can be given.
pub(crate) const MAX_FDS: usize = 256;
