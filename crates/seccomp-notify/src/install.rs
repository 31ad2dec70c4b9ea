//! Installing a compiled program: `seccomp(SECCOMP_SET_MODE_FILTER, ...)`.
#![forbid(unsafe_code)]

use std::os::fd::OwnedFd;

use rustix::io::Errno;

use crate::compile::Program;
use crate::error::{Call, Error, Result};
use crate::listener::Listener;
use crate::sys;

bitflags::bitflags! {
    /// `SECCOMP_FILTER_FLAG_*`: flags of `seccomp(SECCOMP_SET_MODE_FILTER)`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct FilterFlags: u32 {
        /// `SECCOMP_FILTER_FLAG_TSYNC`: install on every thread of the process (Linux 3.17).
        const TSYNC = 1 << 0;
        /// `SECCOMP_FILTER_FLAG_LOG`: log every action but `ALLOW` (Linux 4.14).
        const LOG = 1 << 1;
        /// `SECCOMP_FILTER_FLAG_SPEC_ALLOW`: keep speculative store bypass mitigation off (Linux 4.17).
        const SPEC_ALLOW = 1 << 2;
        /// `SECCOMP_FILTER_FLAG_NEW_LISTENER`: return a listener fd for `USER_NOTIF` (Linux 5.0).
        const NEW_LISTENER = 1 << 3;
        /// `SECCOMP_FILTER_FLAG_TSYNC_ESRCH`: a failed `TSYNC` is `ESRCH`, not a thread id (Linux 5.7).
        const TSYNC_ESRCH = 1 << 4;
        /// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`: once the supervisor received a
        /// notification, only a fatal signal interrupts the caller (Linux 5.19).
        const WAIT_KILLABLE_RECV = 1 << 5;
        const _ = !0;
    }
}

/// What to do about `no_new_privs` before installing.
///
/// The kernel lets a process install a filter only if it has `no_new_privs` set
/// (`prctl(PR_SET_NO_NEW_PRIVS, 1)`: execve can no longer grant privileges through
/// set-user-ID bits or file capabilities; irreversible, inherited by children) or
/// holds `CAP_SYS_ADMIN` in its user namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum NoNewPrivs {
    /// Set `no_new_privs` first (the default; what an unprivileged process needs).
    #[default]
    Set,
    /// Leave it as it is: the install fails with [`Error::NoNewPrivs`] unless it is
    /// already set or the process has `CAP_SYS_ADMIN` (a privileged supervisor that
    /// wants setuid binaries to keep working in the sandbox).
    Keep,
}

/// What `seccomp(SECCOMP_SET_MODE_FILTER)` returned.
enum Installed {
    Listener(OwnedFd),
    Done,
    TsyncFailed(i32),
}

impl FilterFlags {
    /// The flags [`Program::install`] passes to the kernel for these: with
    /// `NEW_LISTENER | TSYNC`, `TSYNC_ESRCH` too (the kernel refuses the pair
    /// without it). Ask [`filter_flags_available`](crate::filter_flags_available)
    /// about these.
    ///
    /// ```
    /// use linception_seccomp_notify::FilterFlags;
    /// let f = FilterFlags::NEW_LISTENER | FilterFlags::TSYNC;
    /// assert_eq!(f.effective(), f | FilterFlags::TSYNC_ESRCH);
    /// assert_eq!(FilterFlags::LOG.effective(), FilterFlags::LOG);
    /// ```
    pub fn effective(self) -> FilterFlags {
        // NEW_LISTENER with TSYNC makes the return value an fd, so a failed sync
        // cannot be reported as a thread id: the kernel insists on TSYNC_ESRCH.
        if self.contains(FilterFlags::NEW_LISTENER | FilterFlags::TSYNC) {
            self | FilterFlags::TSYNC_ESRCH
        } else {
            self
        }
    }
}

impl Program {
    /// Installs the program on the calling thread (all threads with
    /// [`FilterFlags::TSYNC`]); returns the listener with
    /// [`FilterFlags::NEW_LISTENER`], with sync wake-up on where the kernel has it.
    ///
    /// This is irreversible for the thread and its future children.
    ///
    /// ```
    /// use linception_seccomp_notify::{Action, Filter, FilterFlags, NoNewPrivs};
    /// let program = Filter::new(Action::Allow).rule("getppid", Action::Errno(libc::EPERM)).compile()?;
    /// // Filters are irreversible: install in a forked child (the test kit's).
    /// let refused = linception_testkit::fork(move || {
    ///     program.install(FilterFlags::empty(), NoNewPrivs::Set).is_ok()
    ///         && std::os::unix::process::parent_id() == u32::MAX // getppid() = -1
    /// });
    /// assert!(refused);
    /// # Ok::<(), linception_seccomp_notify::Error>(())
    /// ```
    ///
    /// C: `prctl(PR_SET_NO_NEW_PRIVS, 1); seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)`.
    ///
    /// With `NEW_LISTENER | TSYNC`, `TSYNC_ESRCH` is added (the kernel requires it).
    ///
    /// # Errors
    /// - [`Error::NotifyWithoutListener`] if the program notifies and `NEW_LISTENER` is missing;
    /// - [`Error::NoNewPrivs`] (`EACCES`) with [`NoNewPrivs::Keep`] and neither `no_new_privs`
    ///   nor `CAP_SYS_ADMIN`;
    /// - [`Error::TsyncFailed`] if a thread cannot take the filter;
    /// - [`Error::Unsupported`] if seccomp filters are not available;
    /// - [`Error::Syscall`] otherwise (`EINVAL` for a flag this kernel lacks, `EBUSY` for
    ///   a second listener in one filter tree).
    ///
    /// # References
    /// [seccomp(2)](https://man7.org/linux/man-pages/man2/seccomp.2.html)
    pub fn install(
        &self,
        flags: FilterFlags,
        no_new_privs: NoNewPrivs,
    ) -> Result<Option<Listener>> {
        self.check_flags(flags)?;
        let flags = flags.effective();
        match self.install_inner(flags, no_new_privs) {
            Ok(Installed::Listener(fd)) => Ok(Some(Listener::new(fd))),
            Ok(Installed::Done) => Ok(None),
            Ok(Installed::TsyncFailed(tid)) => Err(Error::TsyncFailed { tid }),
            Err(errno) => Err(self.install_error(flags, errno)),
        }
    }

    /// Like [`Program::install`], for a child between `clone`/`fork` and `execve`:
    /// allocates nothing, takes no lock and only makes the `prctl` and `seccomp`
    /// syscalls. Returns the raw listener fd (with `NEW_LISTENER`), to send to the
    /// supervisor (see [`send_fd`](crate::send_fd), itself allocation-free).
    ///
    /// Adds `TSYNC_ESRCH` to `NEW_LISTENER | TSYNC` as `install` does; a failed
    /// `TSYNC` without `TSYNC_ESRCH` is reported as `ESRCH`.
    ///
    /// Refuses what `install` refuses: a program that notifies without
    /// `NEW_LISTENER` is `EINVAL` before any syscall (`no_new_privs` untouched);
    /// check with [`Program::check_flags`] in the parent for the named error.
    ///
    /// # Errors
    /// `EINVAL` for a notifying program without `NEW_LISTENER`; otherwise the errno
    /// of the failed call (`EACCES`: no `no_new_privs` and no `CAP_SYS_ADMIN`).
    ///
    /// # References
    /// [seccomp(2)](https://man7.org/linux/man-pages/man2/seccomp.2.html)
    pub fn install_raw(
        &self,
        flags: FilterFlags,
        no_new_privs: NoNewPrivs,
    ) -> Result<Option<OwnedFd>, Errno> {
        if self.check_flags(flags).is_err() {
            return Err(Errno::INVAL);
        }
        match self.install_inner(flags.effective(), no_new_privs)? {
            Installed::Listener(fd) => Ok(Some(fd)),
            Installed::Done => Ok(None),
            Installed::TsyncFailed(_) => Err(Errno::SRCH),
        }
    }

    /// Checks, without any syscall, that the program can be installed with
    /// `flags`: a program that notifies needs `NEW_LISTENER` (without a listener,
    /// no one could answer and every notifying call would fail with `ENOSYS`).
    /// [`install`](Self::install) and [`install_raw`](Self::install_raw) check
    /// this first; call it in the parent before a child uses `install_raw`.
    ///
    /// # Errors
    /// [`Error::NotifyWithoutListener`].
    pub fn check_flags(&self, flags: FilterFlags) -> Result<()> {
        if self.notifies() && !flags.contains(FilterFlags::NEW_LISTENER) {
            return Err(Error::NotifyWithoutListener);
        }
        Ok(())
    }

    fn install_inner(
        &self,
        flags: FilterFlags,
        no_new_privs: NoNewPrivs,
    ) -> Result<Installed, Errno> {
        if no_new_privs == NoNewPrivs::Set {
            rustix::thread::set_no_new_privs(true)?;
        }
        let ret = sys::seccomp_set_mode_filter(self.instructions(), flags.bits())?;
        Ok(if flags.contains(FilterFlags::NEW_LISTENER) {
            Installed::Listener(sys::own_listener_fd(ret))
        } else if ret > 0 {
            // TSYNC without TSYNC_ESRCH: the id of the thread that could not sync.
            Installed::TsyncFailed(ret as i32)
        } else {
            Installed::Done
        })
    }

    fn install_error(&self, flags: FilterFlags, errno: Errno) -> Error {
        match errno {
            Errno::ACCESS => Error::NoNewPrivs,
            Errno::NOSYS => Error::Unsupported {
                feature: "seccomp(SECCOMP_SET_MODE_FILTER)",
                min_kernel: "3.17",
            },
            Errno::SRCH if flags.contains(FilterFlags::TSYNC) => Error::TsyncFailed { tid: 0 },
            _ => Error::syscall(
                Call::new(
                    "seccomp",
                    format_args!(
                        "SECCOMP_SET_MODE_FILTER, {flags:?}, {{len: {}}}",
                        self.len()
                    ),
                ),
                errno,
            ),
        }
    }
}
