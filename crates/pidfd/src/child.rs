//! The inherently unsafe operations of the crate (joining namespaces, clone3 as a
//! fork), and the forms made for code between clone and execve: allocation-free
//! on success and on failure (the failed call is recorded inline), no lock taken,
//! no owned handle needed.
//!
//! Every `unsafe` block here only forwards an obligation the `# Safety` section
//! of its public function hands to the caller; the raw system calls themselves are
//! in the private `sys` module (clone3), or rustix's (setns).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use crate::PidFd;
use crate::clone::{CloneArgs, CloneResult};
use crate::error::{Call, Error, Result};
use crate::ns::{NamespaceFd, names};
use crate::sys;
use crate::types::{Namespaces, Pid, Signal};

fn setns_call(fd: BorrowedFd<'_>, namespaces: Namespaces) -> Call {
    Call::new(
        "setns",
        format_args!("fd {}, {}", fd.as_raw_fd(), names(namespaces)),
    )
}

/// `setns(fd, nstype)` through rustix, which wraps it as a safe call; the public
/// forms are `unsafe fn`s because of what a changed namespace means to the rest of
/// the process (see [`setns`]'s `# Safety`), which is their callers' to uphold.
fn join(fd: BorrowedFd<'_>, namespaces: Namespaces) -> Result<(), i32> {
    let types = rustix::thread::ThreadNameSpaceType::from_bits_retain(namespaces.bits());
    rustix::thread::move_into_thread_name_spaces(fd, types).map_err(|e| e.raw_os_error())
}

/// `clone3({CLONE_PARENT | CLONE_PIDFD, exit_signal: 0})` as a fork: the new
/// process is a sibling of the caller (a child of the caller's parent, in the
/// caller's namespaces: after a [`setns`] into a pid namespace, in that one).
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

/// `setns(fd, nstype)` on a borrowed fd: a pidfd (one or more `CLONE_NEW*` types at
/// once, atomically; Since Linux 5.8) or a namespace fd (its own type, or empty for
/// any; Since Linux 3.0). Unlike [`PidFd::setns`] and [`NamespaceFd::setns`],
/// nothing is checked before the call (the kernel judges the fd and the types,
/// `EINVAL`) and no owned handle is needed: made for code between clone and
/// execve, it allocates nothing, on success or failure.
///
/// # Safety
///
/// As for [`PidFd::setns`]: namespace membership is per thread; the caller must
/// make sure the process is single-threaded, or that no other code depends on the
/// changed namespaces of this thread.
///
/// # Errors
///
/// [`Error::ProcessGone`] (`ESRCH`) for a pidfd whose process is gone, `EINVAL`
/// for types the fd does not have, `EPERM` without `CAP_SYS_ADMIN` over the
/// namespaces, [`Error::Unsupported`] without setns (`ENOSYS`).
///
/// # References
/// - [setns(2)](https://man7.org/linux/man-pages/man2/setns.2.html)
#[allow(unsafe_code)] // the operation is inherently thread-unsafe (`# Safety`)
pub unsafe fn setns(fd: BorrowedFd<'_>, namespaces: Namespaces) -> Result<()> {
    join(fd, namespaces)
        .map_err(|e| Error::from_errno(e, || setns_call(fd, namespaces), "setns", "3.0"))
}

/// `pidfd_send_signal(pidfd, sig, NULL, 0)` on a borrowed pidfd, like
/// [`PidFd::send_signal`] but without an owned handle, for code between clone and
/// execve: it allocates nothing, on success or failure. Since Linux 5.1.
///
/// # Errors
///
/// [`Error::ProcessGone`] (`ESRCH`) once the process has been reaped (a zombie
/// still accepts signals; unlike [`PidFd::send_signal`] no second call tells
/// the cases of `ESRCH` apart), `EPERM` without permission to signal it, `EBADF`
/// or `EINVAL` for an fd that is no pidfd, [`Error::Unsupported`] before Linux 5.1.
///
/// # References
/// - [pidfd_send_signal(2)](https://man7.org/linux/man-pages/man2/pidfd_send_signal.2.html)
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: Signal) -> Result<()> {
    sys::pidfd_send_signal(pidfd, sig.as_raw(), 0).map_err(|e| {
        Error::from_errno(
            e,
            || {
                Call::new(
                    "pidfd_send_signal",
                    format_args!("fd {}, {sig}, NULL, 0", pidfd.as_raw_fd()),
                )
            },
            "pidfd_send_signal",
            "5.1",
        )
    })
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
    #[allow(unsafe_code)] // the operation is inherently thread-unsafe (`# Safety`)
    pub unsafe fn setns(&self, namespaces: Namespaces) -> Result<()> {
        let unknown = namespaces.bits() & !Namespaces::all().bits();
        if namespaces.is_empty() || unknown != 0 {
            return Err(Error::invalid(
                format!(
                    "setns namespaces {} for pidfd (fd {})",
                    crate::ns::names(namespaces),
                    self.as_fd_raw()
                ),
                "a pidfd needs one or more CLONE_NEW* namespace types (the kernel refuses 0 and other bits with EINVAL)",
            ));
        }
        join(self.as_fd(), namespaces).map_err(|e| {
            self.error(
                e,
                || setns_call(self.as_fd(), namespaces),
                "setns with a pidfd",
                "5.8",
            )
        })
    }
}

impl NamespaceFd {
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
    #[allow(unsafe_code)] // the operation is inherently thread-unsafe (`# Safety`)
    pub unsafe fn setns(&self, nstype: Namespaces) -> Result<()> {
        self.check_setns_type(nstype)?;
        let fd = self.as_fd();
        join(fd, nstype)
            .map_err(|e| Error::from_errno(e, || setns_call(fd, nstype), "setns", "3.0"))
    }
}

/// The memory a child that shares the caller's address space runs on
/// ([`CloneArgs::spawn_shared`]): a stack and a thread-local block of its own, in
/// one mapping with guard pages. Reusable for one child after another, once the
/// previous one has exec'd or exited. x86-64 with glibc or musl only.
#[derive(Debug)]
pub struct SharedChildMemory {
    #[cfg(all(target_arch = "x86_64", any(target_env = "gnu", target_env = "musl")))]
    region: crate::sys::VmRegion,
}

impl SharedChildMemory {
    /// Maps the memory (256 KiB of stack, 72 KiB of thread-local block).
    ///
    /// # Errors
    /// [`Error::Unsupported`] off x86-64/glibc/musl, or where this process's
    /// static thread-local data is too large for the block; [`Error::Syscall`] if
    /// `mmap` fails.
    pub fn new() -> Result<SharedChildMemory> {
        #[cfg(all(target_arch = "x86_64", any(target_env = "gnu", target_env = "musl")))]
        {
            match crate::sys::VmRegion::new() {
                Ok(region) => Ok(SharedChildMemory { region }),
                Err(libc::E2BIG) => Err(Error::Unsupported {
                    feature: "a shared-memory child (this process's static TLS exceeds 32 KiB)",
                    min_kernel: "5.5",
                }),
                Err(e) => Err(Error::Syscall {
                    call: Call::new("mmap", format_args!("shared child memory")),
                    source: std::io::Error::from_raw_os_error(e),
                }),
            }
        }
        #[cfg(not(all(target_arch = "x86_64", any(target_env = "gnu", target_env = "musl"))))]
        {
            Err(Error::Unsupported {
                feature: "a shared-memory child (x86-64 with glibc or musl)",
                min_kernel: "5.5",
            })
        }
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
