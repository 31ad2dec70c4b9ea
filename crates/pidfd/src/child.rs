//! The inherently unsafe operations of the crate (joining namespaces), and the
//! forms made for code between clone and execve: allocation-free on success and on
//! failure (the failed call is recorded inline), no lock taken, no owned handle
//! needed. The clone3 forms whose contract is the caller's (`CloneArgs::fork`,
//! `CloneArgs::spawn_shared`, `clone3_parent`) live in the `sys` module, beside the
//! raw calls, so that every `unsafe` block of the crate is there.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use crate::PidFd;
use crate::error::{Call, Error, Result};
use crate::ns::{NamespaceFd, names};
use crate::sys;
use crate::types::{Namespaces, Signal};

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
/// ([`CloneArgs::spawn_shared`](crate::CloneArgs::spawn_shared)): a stack and a thread-local block of its own, in
/// one mapping with guard pages. Reusable for one child after another, once the
/// previous one has exec'd or exited. x86-64 with glibc or musl only.
#[derive(Debug)]
pub struct SharedChildMemory {
    #[cfg(all(target_arch = "x86_64", any(target_env = "gnu", target_env = "musl")))]
    pub(crate) region: crate::sys::VmRegion,
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
