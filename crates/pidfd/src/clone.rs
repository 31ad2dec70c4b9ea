//! clone3: the `CloneArgs` builder, its validation, and the safe spawn.
#![forbid(unsafe_code)]

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::atomic::Ordering;
use std::sync::{Mutex, PoisonError};

use crate::PidFd;
use crate::error::{Call, Error, Result};
use crate::info::field_list;
use crate::spawn::{Child, Exec};
use crate::sys::{self, RawCloneArgs};
use crate::types::{Namespaces, Pid, Signal};

/// `MAX_PID_NS_LEVEL`: the deepest pid namespace nesting, and the longest `set_tid`.
pub const MAX_SET_TID: usize = 32;

/// `PID_MAX_LIMIT` on 64-bit kernels: no pid is ever this large.
const PID_MAX_LIMIT: i32 = 4 * 1024 * 1024;

const CLONE_PIDFD: u64 = 0x1000;
/// `CLONE_ARGS_SIZE_VER0`: flags through tls (Linux 5.3).
const CLONE_ARGS_SIZE_VER0: usize = 64;
/// `CLONE_ARGS_SIZE_VER1`: + set_tid, set_tid_size (Linux 5.5).
const CLONE_ARGS_SIZE_VER1: usize = 80;
/// `CLONE_ARGS_SIZE_VER2`: + cgroup (Linux 5.7).
const CLONE_ARGS_SIZE_VER2: usize = 88;
/// The size passed under the test hook: VER2 + one field no kernel knows yet.
const CLONE_ARGS_SIZE_TEST: usize = 96;
const CLONE_NEWPID: u64 = libc::CLONE_NEWPID as u64;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
const CLONE_NEWTIME: u64 = libc::CLONE_NEWTIME as u64;
/// `CSIGNAL`: the exit signal in clone(2)'s flags word; in clone3 these bits are
/// reserved, except bit 7, which is `CLONE_NEWTIME`.
const CSIGNAL: u64 = 0xff;
/// `CLONE_DETACHED`: ignored by clone(2) since 2.6.2, reserved in clone3.
const CLONE_DETACHED: u64 = 0x0040_0000;
/// Every bit clone3 knows: the 32 legacy flag bits, `CLONE_CLEAR_SIGHAND`,
/// `CLONE_INTO_CGROUP` (kernel/fork.c, `clone3_args_valid`).
const CLONE3_KNOWN: u64 = 0xffff_ffff | CLONE_CLEAR_SIGHAND | CLONE_INTO_CGROUP;

const VM: u64 = libc::CLONE_VM as u64;
const FS: u64 = libc::CLONE_FS as u64;
const SIGHAND: u64 = libc::CLONE_SIGHAND as u64;
const THREAD: u64 = libc::CLONE_THREAD as u64;
const PARENT: u64 = libc::CLONE_PARENT as u64;
const NEWNS: u64 = libc::CLONE_NEWNS as u64;
const NEWUSER: u64 = libc::CLONE_NEWUSER as u64;
const NEWIPC: u64 = libc::CLONE_NEWIPC as u64;
const SYSVSEM: u64 = libc::CLONE_SYSVSEM as u64;

pub(crate) use crate::sys::FORBIDDEN_FLAGS;

bitflags::bitflags! {
    /// `clone3` flags (`CLONE_*`). `CLONE_PIDFD` is always added, `CLONE_INTO_CGROUP`
    /// comes from [`CloneArgs::into_cgroup`]. Flags that share memory or threads
    /// with the caller (`CLONE_VM`, `CLONE_THREAD`, `CLONE_SIGHAND`, `CLONE_SETTLS`,
    /// the tid pointers) are refused before the call, and so is every bit or
    /// combination the kernel's clone3 refuses with `EINVAL` (see
    /// [`CloneArgs::validate`]).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct CloneFlags: u64 {
        /// `CLONE_NEWNS`: new mount namespace.
        const NEWNS = libc::CLONE_NEWNS as u64;
        /// `CLONE_NEWCGROUP`: new cgroup namespace.
        const NEWCGROUP = libc::CLONE_NEWCGROUP as u64;
        /// `CLONE_NEWUTS`: new UTS namespace.
        const NEWUTS = libc::CLONE_NEWUTS as u64;
        /// `CLONE_NEWIPC`: new IPC namespace.
        const NEWIPC = libc::CLONE_NEWIPC as u64;
        /// `CLONE_NEWUSER`: new user namespace.
        const NEWUSER = libc::CLONE_NEWUSER as u64;
        /// `CLONE_NEWPID`: new pid namespace; the child is its init (pid 1).
        const NEWPID = libc::CLONE_NEWPID as u64;
        /// `CLONE_NEWNET`: new network namespace.
        const NEWNET = libc::CLONE_NEWNET as u64;
        /// `CLONE_NEWTIME`: new time namespace (Since Linux 5.6).
        const NEWTIME = libc::CLONE_NEWTIME as u64;
        /// `CLONE_CLEAR_SIGHAND`: reset handled signals to default in the child
        /// (Since Linux 5.5).
        const CLEAR_SIGHAND = 0x1_0000_0000;
        /// `CLONE_PARENT`: the child's parent is the caller's parent.
        const PARENT = libc::CLONE_PARENT as u64;
        /// `CLONE_VFORK`: the caller is suspended until the child execs or exits.
        const VFORK = libc::CLONE_VFORK as u64;
        /// `CLONE_SYSVSEM`: share System V semaphore undo values.
        const SYSVSEM = libc::CLONE_SYSVSEM as u64;
        /// `CLONE_FILES`: share the fd table (until the child execs).
        const FILES = libc::CLONE_FILES as u64;
        /// `CLONE_FS`: share root, cwd and umask.
        const FS = libc::CLONE_FS as u64;
        /// `CLONE_IO`: share the I/O context.
        const IO = libc::CLONE_IO as u64;
        /// `CLONE_UNTRACED`: a tracer cannot force `CLONE_PTRACE` on the child.
        const UNTRACED = libc::CLONE_UNTRACED as u64;
        /// `CLONE_PTRACE`: if the caller is traced, trace the child too.
        const PTRACE = libc::CLONE_PTRACE as u64;
        /// Bits this crate does not name are passed on (and refused if unsafe).
        const _ = !0;
    }
}

impl From<Namespaces> for CloneFlags {
    fn from(ns: Namespaces) -> CloneFlags {
        CloneFlags::from_bits_retain(ns.bits() as u64)
    }
}

/// Arguments of `clone3(2)`, built by value; nothing is checked or done until
/// [`CloneArgs::spawn`] or [`CloneArgs::fork`].
///
/// ```
/// use linception_pidfd::{CloneArgs, Exec};
///
/// let mut child = CloneArgs::new().spawn(&Exec::new("/bin/sh").args(["-c", "exit 3"]))?;
/// assert_eq!(child.wait()?.code(), Some(3));
/// # Ok::<(), linception_pidfd::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct CloneArgs<'fd> {
    flags: CloneFlags,
    exit_signal: Option<Signal>,
    pub(crate) set_tid: Vec<i32>,
    cgroup: Option<BorrowedFd<'fd>>,
}

impl Default for CloneArgs<'_> {
    fn default() -> Self {
        CloneArgs::new()
    }
}

/// What [`CloneArgs::fork`] returns in each of the two processes.
#[derive(Debug)]
#[must_use]
pub enum CloneResult {
    /// In the new process.
    Child,
    /// In the caller.
    Parent {
        /// The new process's pid in the caller's pid namespace.
        pid: Pid,
        /// Its pidfd (from `CLONE_PIDFD`, O_CLOEXEC).
        pidfd: PidFd,
    },
}

impl<'fd> CloneArgs<'fd> {
    /// No flags, `SIGCHLD` as exit signal, no `set_tid`, no cgroup: a plain fork.
    pub fn new() -> Self {
        CloneArgs {
            flags: CloneFlags::empty(),
            exit_signal: Some(Signal::CHLD),
            set_tid: Vec::new(),
            cgroup: None,
        }
    }

    /// Adds `flags` (`clone_args.flags`).
    pub fn flags(mut self, flags: CloneFlags) -> Self {
        self.flags |= flags;
        self
    }

    /// Adds new namespaces of these types.
    pub fn namespaces(mut self, ns: Namespaces) -> Self {
        self.flags |= CloneFlags::from(ns);
        self
    }

    /// The signal sent to the caller when the child exits (`clone_args.exit_signal`);
    /// `None` sends nothing. Default `SIGCHLD`. Waiting works either way.
    pub fn exit_signal(mut self, sig: Option<Signal>) -> Self {
        self.exit_signal = sig;
        self
    }

    /// The pid the child gets in each pid namespace level (`clone_args.set_tid`),
    /// element 0 for the innermost (the child's own) namespace, then outwards. Since
    /// Linux 5.5. Needs `CAP_CHECKPOINT_RESTORE` or `CAP_SYS_ADMIN` over the user
    /// namespace owning each targeted pid namespace.
    ///
    /// Checked before the call: at most 32 entries and at most as many as the child
    /// has pid namespace levels (the caller's depth + 1, + 1 with `CLONE_NEWPID`),
    /// every pid in `1..PID_MAX_LIMIT`, and 1 for a new pid namespace.
    pub fn set_tid(mut self, pids: impl IntoIterator<Item = i32>) -> Self {
        self.set_tid = pids.into_iter().collect();
        self
    }

    /// Places the child in the cgroup v2 directory `cgroup` at birth
    /// (`CLONE_INTO_CGROUP`, Since Linux 5.7).
    pub fn into_cgroup<F: AsFd + ?Sized>(mut self, cgroup: &'fd F) -> Self {
        self.cgroup = Some(cgroup.as_fd());
        self
    }

    /// Checks everything [`CloneArgs::spawn`] and [`CloneArgs::fork`] check before
    /// calling clone3, without creating anything:
    ///
    /// - the flags, against the kernel's own rules: bits clone3 does not know, the
    ///   reserved `CSIGNAL` bits (except `CLONE_NEWTIME`) and `CLONE_DETACHED`,
    ///   `CLONE_SIGHAND` without `CLONE_VM`, `CLONE_THREAD` without
    ///   `CLONE_SIGHAND`, `CLONE_SIGHAND` with `CLONE_CLEAR_SIGHAND`, `CLONE_FS`
    ///   with `CLONE_NEWNS` or `CLONE_NEWUSER`, `CLONE_NEWIPC` with
    ///   `CLONE_SYSVSEM`, `CLONE_PARENT` with an exit signal or from a pid
    ///   namespace's init, `CLONE_NEWPID` while the caller's pid namespace for
    ///   children is not its own, `CLONE_INTO_CGROUP` set by hand;
    /// - then this builder's own refusal of flags that would share memory or thread
    ///   state with the caller;
    /// - the `set_tid` array (see [`CloneArgs::set_tid`]) and the cgroup fd.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] naming the offending flags or value; a kernel rule
    /// says "the kernel refuses", this builder's own says "would share".
    pub fn validate(&self) -> Result<()> {
        self.validate_flags()?;
        // A CLONE_NEWPID the kernel refuses because the caller unshared a pid
        // namespace is explained after the fact (`map_errno`, on EINVAL): checking
        // it here would cost two stat calls on every clone.
        self.validate_set_tid()?;
        if let Some(fd) = self.cgroup
            && fd.as_raw_fd() == 0
        {
            return Err(Error::invalid(
                "cgroup fd 0",
                "the kernel refuses it: clone3 reads a cgroup fd of 0 as no cgroup (EINVAL); pass a directory fd other than 0",
            ));
        }
        Ok(())
    }

    fn validate_flags(&self) -> Result<()> {
        let f = self.flags.bits();
        let kernel = |what: String, why: &str| {
            Err(Error::invalid(
                format!("clone flags {what}"),
                format!("the kernel refuses it (EINVAL): {why}"),
            ))
        };
        let unknown = f & !CLONE3_KNOWN;
        if unknown != 0 {
            return kernel(format!("{unknown:#x}"), "not a clone3 flag");
        }
        let reserved = f & ((CSIGNAL & !CLONE_NEWTIME) | CLONE_DETACHED);
        if reserved != 0 {
            return kernel(
                format!("{reserved:#x}"),
                "the CSIGNAL bits (except CLONE_NEWTIME) and CLONE_DETACHED are reserved in clone3; the exit signal goes in exit_signal",
            );
        }
        if f & CLONE_INTO_CGROUP != 0 {
            return Err(Error::invalid(
                format!("clone flags {CLONE_INTO_CGROUP:#x} (CLONE_INTO_CGROUP)"),
                "set it with into_cgroup(fd), which also passes the cgroup fd (without one the kernel refuses it with EINVAL)",
            ));
        }
        let pair = |a: u64, b: u64| f & a != 0 && f & b != 0;
        if f & SIGHAND != 0 && f & VM == 0 {
            return kernel(
                format!("{SIGHAND:#x} (CLONE_SIGHAND without CLONE_VM)"),
                "shared signal handlers need shared memory",
            );
        }
        if f & THREAD != 0 && f & SIGHAND == 0 {
            return kernel(
                format!("{THREAD:#x} (CLONE_THREAD without CLONE_SIGHAND)"),
                "a thread shares its group's signal handlers",
            );
        }
        if pair(SIGHAND, CLONE_CLEAR_SIGHAND) {
            return kernel(
                format!(
                    "{:#x} (CLONE_SIGHAND|CLONE_CLEAR_SIGHAND)",
                    SIGHAND | CLONE_CLEAR_SIGHAND
                ),
                "shared signal handlers cannot be reset in the child alone",
            );
        }
        if pair(NEWNS, FS) {
            return kernel(
                format!("{:#x} (CLONE_NEWNS|CLONE_FS)", NEWNS | FS),
                "a new mount namespace cannot share root and cwd with the caller",
            );
        }
        if pair(NEWUSER, FS) {
            return kernel(
                format!("{:#x} (CLONE_NEWUSER|CLONE_FS)", NEWUSER | FS),
                "a new user namespace cannot share root and cwd with the caller",
            );
        }
        if pair(NEWIPC, SYSVSEM) {
            return kernel(
                format!("{:#x} (CLONE_NEWIPC|CLONE_SYSVSEM)", NEWIPC | SYSVSEM),
                "semaphore undo lists cannot be shared across IPC namespaces",
            );
        }
        if f & THREAD != 0 && f & (NEWUSER | CLONE_NEWPID) != 0 {
            return kernel(
                format!(
                    "{:#x} (CLONE_THREAD with CLONE_NEWUSER or CLONE_NEWPID)",
                    f & (THREAD | NEWUSER | CLONE_NEWPID)
                ),
                "a thread cannot live in another user or pid namespace than its group",
            );
        }
        if f & (THREAD | PARENT) != 0 && self.exit_signal.is_some_and(|s| s.as_raw() != 0) {
            return kernel(
                format!(
                    "{:#x} (CLONE_PARENT or CLONE_THREAD with an exit signal)",
                    f & (THREAD | PARENT)
                ),
                "such a child's exit is not signalled to the caller; use exit_signal(None)",
            );
        }
        if f & PARENT != 0 && rustix::process::getpid().is_init() {
            return kernel(
                format!("{PARENT:#x} (CLONE_PARENT)"),
                "the init of a pid namespace cannot create siblings",
            );
        }
        let bad = f & FORBIDDEN_FLAGS;
        if bad != 0 {
            return Err(Error::invalid(
                format!("clone flags {bad:#x}"),
                "CLONE_VM, CLONE_THREAD, CLONE_SIGHAND, CLONE_SETTLS and the tid pointer flags are refused by this builder: the child would share memory or threads with the caller",
            ));
        }
        Ok(())
    }

    /// The `size` argument: the smallest published `struct clone_args` that holds
    /// every field used, so that an older kernel accepts what it knows
    /// (`CLONE_ARGS_SIZE_VER0` 64, `VER1` 80 with `set_tid`, `VER2` 88 with
    /// `cgroup`), or 96 under the test hook that appends a non-zero field.
    pub(crate) fn struct_size(&self) -> usize {
        if sys::TEST_TAIL.load(Ordering::Relaxed) != 0 {
            CLONE_ARGS_SIZE_TEST
        } else if self.cgroup.is_some() {
            CLONE_ARGS_SIZE_VER2
        } else if !self.set_tid.is_empty() {
            CLONE_ARGS_SIZE_VER1
        } else {
            CLONE_ARGS_SIZE_VER0
        }
    }

    /// Validates and lowers to the raw struct and the size to pass.
    pub(crate) fn prepare(&self) -> Result<(RawCloneArgs, usize)> {
        self.validate()?;
        let mut raw = RawCloneArgs {
            flags: self.flags.bits() | CLONE_PIDFD,
            exit_signal: self.exit_signal.map_or(0, |s| s.as_raw() as u64),
            ..RawCloneArgs::default()
        };
        if !self.set_tid.is_empty() {
            raw.set_tid = self.set_tid.as_ptr() as u64;
            raw.set_tid_size = self.set_tid.len() as u64;
        }
        if let Some(fd) = self.cgroup {
            raw.flags |= CLONE_INTO_CGROUP;
            raw.cgroup = fd.as_raw_fd() as u64;
        }
        let size = self.struct_size();
        if size == CLONE_ARGS_SIZE_TEST {
            // u64::MAX stands for "a zero tail of 96 bytes" (see __clone3_test_tail).
            raw.test_tail = match sys::TEST_TAIL.load(Ordering::Relaxed) {
                u64::MAX => 0,
                v => v,
            };
        }
        Ok((raw, size))
    }

    fn validate_set_tid(&self) -> Result<()> {
        let tids = &self.set_tid;
        if tids.is_empty() {
            return Ok(());
        }
        if tids.len() > MAX_SET_TID {
            return Err(Error::invalid(
                format!("set_tid (length {})", tids.len()),
                format!(
                    "at most {MAX_SET_TID} pids (MAX_PID_NS_LEVEL), one per pid namespace level"
                ),
            ));
        }
        for (i, &p) in tids.iter().enumerate() {
            if !(1..PID_MAX_LIMIT).contains(&p) {
                return Err(Error::invalid(
                    format!("set_tid[{i}] = {p}"),
                    format!("a pid must be in 1..{PID_MAX_LIMIT}"),
                ));
            }
        }
        let new_pidns = self.flags.bits() & CLONE_NEWPID != 0;
        if new_pidns && tids[0] != 1 {
            return Err(Error::invalid(
                format!("set_tid[0] = {}", tids[0]),
                "with CLONE_NEWPID the child is the first process of its pid namespace and must be pid 1",
            ));
        }
        if tids.len() == 1 && !new_pidns {
            // One pid, for the caller's own pid namespace level, which always exists.
            return Ok(());
        }
        let (levels, unshared) = child_pidns_levels(new_pidns)?;
        if new_pidns && unshared {
            return Err(Error::invalid(
                "clone flags CLONE_NEWPID",
                "the caller unshared a pid namespace it is not in yet (pid_for_children differs from pid); the kernel refuses a further CLONE_NEWPID until a child enters it",
            ));
        }
        if tids.len() > levels {
            return Err(Error::invalid(
                format!("set_tid (length {})", tids.len()),
                format!(
                    "the child will live in {levels} pid namespace level(s) (the caller's nesting depth{}), so at most {levels} pids can be chosen",
                    if new_pidns {
                        " + 1 for CLONE_NEWPID"
                    } else {
                        ""
                    }
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn map_errno(&self, errno: i32) -> Error {
        let set_tid = &self.set_tid;
        match errno {
            libc::EINVAL
                if self.flags.bits() & CLONE_NEWPID != 0
                    && set_tid.is_empty()
                    && pidns_unshared().unwrap_or(false) =>
            {
                Error::invalid(
                    "clone flags CLONE_NEWPID",
                    "the kernel refuses it: the caller unshared a pid namespace it is not in yet (pid_for_children differs from pid), and a further CLONE_NEWPID is refused until a child enters it",
                )
            }
            libc::EEXIST if !set_tid.is_empty() => Error::PidTaken {
                pid: set_tid[0],
                level: (set_tid.len() == 1).then_some(0),
                set_tid: set_tid.clone(),
            },
            libc::EPERM if !set_tid.is_empty() => Error::SetTidPermission {
                set_tid: set_tid.clone(),
                source: std::io::Error::from_raw_os_error(errno),
            },
            libc::ENOSYS => Error::Unsupported {
                feature: "clone3",
                min_kernel: "5.3",
            },
            // The kernel knows a smaller struct than we passed and a field it does
            // not know is non-zero: name the newest field we used.
            libc::E2BIG => match self.struct_size() {
                CLONE_ARGS_SIZE_VER2 => Error::Unsupported {
                    feature: "clone3 CLONE_INTO_CGROUP (clone_args.cgroup)",
                    min_kernel: "5.7",
                },
                CLONE_ARGS_SIZE_VER1 => Error::Unsupported {
                    feature: "clone3 set_tid (clone_args.set_tid)",
                    min_kernel: "5.5",
                },
                size => Error::FieldUnsupported {
                    call: self.c_call(),
                    size,
                },
            },
            _ => Error::Syscall {
                call: self.c_call(),
                source: std::io::Error::from_raw_os_error(errno),
            },
        }
    }

    fn c_call(&self) -> Call {
        Call::new("clone3", format_args!("{}", CallArgs(self)))
    }

    /// `clone3(&args, size)` then `execve` in the child: runs `exec.program` in a
    /// new process and returns a [`Child`] owning its pidfd. Like
    /// `std::process::Command::spawn`, but with clone3's namespaces, `set_tid` and
    /// cgroup placement, and a pidfd from birth (no pid race).
    ///
    /// Safe in a multithreaded process: everything the child needs (program, argv,
    /// envp) is prepared here first; between clone3 and execve the child only
    /// resets SIGPIPE to default, unblocks signals, calls execve and, if that fails,
    /// reports the errno and `_exit(127)`s: raw system calls, no allocation, no lock.
    ///
    /// On x86-64 the child is created like `posix_spawn` does it: with
    /// `CLONE_VM | CLONE_VFORK | CLONE_CLEAR_SIGHAND` on a stack of its own, so no
    /// page tables are copied; the calling thread waits (signals blocked) until the
    /// child has exec'd, and an exec failure comes back through shared memory.
    /// Elsewhere, or before Linux 5.5, the child is a fork-style copy and reports an
    /// exec failure over a close-on-exec pipe.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidArgument`] for forbidden flags, a bad `set_tid` or a NUL
    ///   byte in the program, arguments or environment (nothing is created);
    /// - [`Error::PidTaken`] (`EEXIST`) / [`Error::SetTidPermission`] (`EPERM`) for
    ///   `set_tid`;
    /// - [`Error::Exec`] naming the program if `execve` failed (the child is reaped);
    /// - [`Error::Unsupported`] for a kernel without clone3 or a requested field.
    ///
    /// # References
    /// - [clone3(2)](https://man7.org/linux/man-pages/man2/clone3.2.html),
    ///   [execve(2)](https://man7.org/linux/man-pages/man2/execve.2.html)
    #[doc(alias = "clone3")]
    pub fn spawn(&self, exec: &Exec) -> Result<Child> {
        let (mut raw, size) = self.prepare()?;
        let prepared = exec.prepare()?;
        let ptrs = prepared.ptrs();
        #[cfg(target_arch = "x86_64")]
        if !sys::FORCE_FORK_SPAWN.load(std::sync::atomic::Ordering::Relaxed) {
            match sys::clone3_vm_exec(&mut raw, size, &ptrs) {
                Ok((pid, pidfd, exec_errno)) => {
                    let pid = Pid::from_raw(pid).expect("clone3 returned a positive pid");
                    let mut child = Child::from_parts(pid, PidFd::from(pidfd));
                    return match exec_errno {
                        None => Ok(child),
                        Some(errno) => {
                            let _ = child.wait();
                            Err(Error::Exec {
                                program: exec.program_lossy(),
                                source: std::io::Error::from_raw_os_error(errno),
                            })
                        }
                    };
                }
                // Before Linux 5.5 (no CLONE_CLEAR_SIGHAND): the portable path below.
                Err(libc::EINVAL) => {}
                Err(e) => return Err(self.map_errno(e)),
            }
        }
        let (err_r, err_w) =
            rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| {
                Error::Syscall {
                    call: Call::new("pipe2", format_args!("O_CLOEXEC")),
                    source: e.into(),
                }
            })?;
        let (pid, pidfd) = sys::clone3_exec(&mut raw, size, &ptrs, err_w.as_fd())
            .map_err(|e| self.map_errno(e))?;
        drop(err_w);
        let pid = Pid::from_raw(pid).expect("clone3 returned a positive pid");
        let child = Child::from_parts(pid, PidFd::from(pidfd));
        let mut buf = [0u8; 4];
        let mut file = std::fs::File::from(err_r);
        let mut got = 0;
        while got < 4 {
            match file.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(Error::Syscall {
                        call: Call::new("read", format_args!("exec status pipe")),
                        source: e,
                    });
                }
            }
        }
        if got == 0 {
            return Ok(child);
        }
        // execve failed: the child wrote its errno and is exiting with 127.
        let errno = i32::from_ne_bytes(buf);
        let mut child = child;
        let _ = child.wait();
        Err(Error::Exec {
            program: exec.program_lossy(),
            source: std::io::Error::from_raw_os_error(errno),
        })
    }
}

/// The arguments of a [`CloneArgs`]' clone3 call as C would show them, written
/// without allocating: `{flags: 0x..|CLONE_PIDFD, exit_signal: 17, set_tid: [..]}`.
struct CallArgs<'a, 'b>(&'a CloneArgs<'b>);

impl std::fmt::Display for CallArgs<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let a = self.0;
        write!(f, "{{flags: {:#x}|CLONE_PIDFD", a.flags.bits())?;
        if a.cgroup.is_some() {
            f.write_str("|CLONE_INTO_CGROUP")?;
        }
        match a.exit_signal {
            Some(sig) => write!(f, ", exit_signal: {sig}")?,
            None => f.write_str(", exit_signal: 0")?,
        }
        if !a.set_tid.is_empty() {
            write!(f, ", set_tid: {:?}", a.set_tid)?;
        }
        if let Some(fd) = a.cgroup {
            write!(f, ", cgroup: fd {}", fd.as_raw_fd())?;
        }
        f.write_str("}")
    }
}

/// Whether the caller unshared a pid namespace for its children (its
/// `pid_for_children` differs from its `pid` namespace, or is hidden because that
/// namespace has no init yet).
fn pidns_unshared() -> Result<bool> {
    pidns_stats().map(|(_, unshared)| unshared)
}

/// The caller's pid namespace (device, inode) and whether its namespace for
/// children differs from it: two `stat` calls.
fn pidns_stats() -> Result<((u64, u64), bool)> {
    let ns = rustix::fs::stat("/proc/self/ns/pid").map_err(|e| Error::Syscall {
        call: Call::new("stat", format_args!("\"/proc/self/ns/pid\"")),
        source: e.into(),
    })?;
    let key = (ns.st_dev, ns.st_ino);
    // ENOENT: the caller unshared a pid namespace that has no init yet (the kernel
    // hides such a namespace's link).
    let unshared = match rustix::fs::stat("/proc/self/ns/pid_for_children") {
        Ok(st) => (st.st_dev, st.st_ino) != key,
        Err(rustix::io::Errno::NOENT) => true,
        Err(e) => {
            return Err(Error::Syscall {
                call: Call::new("stat", format_args!("\"/proc/self/ns/pid_for_children\"")),
                source: e.into(),
            });
        }
    };
    Ok((key, unshared))
}

/// How many pid namespace levels a child of the caller will be visible in: the
/// caller's own depth (from `NSpid:` in /proc/self/status), + 1 if the caller
/// unshared a pid namespace for its children, + 1 with `CLONE_NEWPID`.
/// Also returns whether the caller's pid namespace for children differs from its own.
///
/// A process's own pid namespace never changes, so its depth is cached keyed by the
/// namespace's inode: two `stat` calls per clone with `set_tid` instead of reading and parsing
/// /proc/self/status.
pub(crate) fn child_pidns_levels(new_pidns: bool) -> Result<(usize, bool)> {
    static CACHE: Mutex<Option<(u64, u64, usize)>> = Mutex::new(None);
    let (key, unshared) = pidns_stats()?;
    let cached = *CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    let own = match cached {
        Some((dev, ino, depth)) if (dev, ino) == key => depth,
        _ => {
            let status =
                std::fs::read_to_string("/proc/self/status").map_err(|e| Error::Syscall {
                    call: Call::new("open", format_args!("\"/proc/self/status\", O_RDONLY")),
                    source: e,
                })?;
            let depth = field_list(&status, "NSpid:").map_or(1, |v| v.len().max(1));
            *CACHE.lock().unwrap_or_else(PoisonError::into_inner) = Some((key.0, key.1, depth));
            depth
        }
    };
    Ok((
        own + usize::from(unshared) + usize::from(new_pidns),
        unshared,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_struct_matches_clone_args_ver2() {
        // VER2 (88 bytes) plus the test-only tail field.
        assert_eq!(size_of::<RawCloneArgs>(), 96);
        assert_eq!(std::mem::offset_of!(RawCloneArgs, set_tid), 64);
        assert_eq!(std::mem::offset_of!(RawCloneArgs, cgroup), 80);
        assert_eq!(std::mem::offset_of!(RawCloneArgs, test_tail), 88);
    }

    #[test]
    fn size_grows_with_the_fields_used() {
        let (raw, size) = CloneArgs::new().prepare().unwrap();
        assert_eq!(size, 64);
        assert_eq!(raw.flags, CLONE_PIDFD);
        assert_eq!(raw.exit_signal, libc::SIGCHLD as u64);
        let (_, size) = CloneArgs::new()
            .set_tid([1])
            .flags(CloneFlags::NEWPID)
            .prepare()
            .unwrap();
        assert_eq!(size, 80);
        let dir = std::fs::File::open("/").unwrap();
        let (raw, size) = CloneArgs::new().into_cgroup(&dir).prepare().unwrap();
        assert_eq!(size, 88);
        assert_eq!(raw.cgroup, dir.as_raw_fd() as u64);
        assert_eq!(raw.test_tail, 0);
    }

    #[test]
    fn forbidden_flags_are_named() {
        let e = CloneArgs::new()
            .flags(CloneFlags::from_bits_retain(libc::CLONE_VM as u64))
            .prepare()
            .unwrap_err();
        assert!(e.to_string().contains("clone flags 0x100"), "{e}");
    }
}
