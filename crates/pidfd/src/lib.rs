//! Race-free process handles for Linux: `pidfd_open`, `pidfd_send_signal`,
//! `waitid(P_PIDFD)`, `pidfd_getfd`, the pidfs ioctls (`PIDFD_GET_INFO`, namespace
//! fds), `setns` through a pidfd, and `clone3` with `CLONE_PIDFD`, `set_tid` and
//! `CLONE_INTO_CGROUP`.
//!
//! A pid names whatever process holds the number *now*; a [`PidFd`] names one
//! process for good. Once it is reaped, signalling or inspecting it fails with
//! [`Error::ProcessGone`] instead of hitting the next owner of the pid (a zombie
//! is [`Error::Exited`], a process outside the caller's pid namespace
//! [`Error::NotVisible`]). [`NamespaceFd`] does the same for namespaces: type, id,
//! owner, parent, identity, file handles, `setns`.
//!
//! ```
//! use std::time::Duration;
//! use linception_pidfd::{CloneArgs, Exec, Signal};
//!
//! // clone3 + execve, with the pidfd from birth.
//! let mut child = CloneArgs::new().spawn(&Exec::new("/bin/sleep").arg("10"))?;
//! assert_eq!(child.wait_timeout(Duration::from_millis(10))?, None);
//! child.send_signal(Signal::TERM)?;
//! let status = child.wait()?;
//! assert_eq!(status.signal(), Some(Signal::TERM));
//! // The process is gone: the pidfd can no longer reach anything.
//! assert!(child.send_signal(Signal::TERM).unwrap_err().is_process_gone());
//! # Ok::<(), linception_pidfd::Error>(())
//! ```
//!
//! # Kernel support
//!
//! | feature | since | used by | without it |
//! |---|---|---|---|
//! | `pidfd_send_signal` | 5.1 | [`PidFd::send_signal`] | [`Error::Unsupported`] |
//! | `pidfd_open`, `clone3` | 5.3 | [`PidFd::open`], [`CloneArgs`] | [`Error::Unsupported`] |
//! | `waitid(P_PIDFD)` | 5.4 | [`PidFd::wait`], [`PidFd::waitid`] | `EINVAL` |
//! | `set_tid` | 5.5 | [`CloneArgs::set_tid`] | [`Error::Unsupported`] (`E2BIG`) |
//! | `CLONE_CLEAR_SIGHAND` | 5.5 | [`CloneArgs::spawn`] without copying memory | a fork-style child |
//! | `pidfd_getfd` | 5.6 | [`PidFd::get_fd`] | [`Error::Unsupported`] |
//! | `CLONE_INTO_CGROUP` | 5.7 | [`CloneArgs::into_cgroup`] | [`Error::Unsupported`] (`E2BIG`) |
//! | `setns` with a pidfd | 5.8 | [`PidFd::setns`] | `EINVAL` |
//! | `PIDFD_NONBLOCK` | 5.10 | [`PidfdFlags::NONBLOCK`] | `EINVAL` |
//! | `PIDFD_THREAD`, `PIDFD_SIGNAL_*` | 6.9 | [`PidfdFlags::THREAD`], [`SignalTarget`] | `EINVAL` |
//! | `PIDFD_GET_*_NAMESPACE` | 6.11 | [`PidFd::namespace`] | [`Error::Unsupported`] |
//! | `NS_GET_USERNS`, `NS_GET_PARENT` / `NS_GET_NSTYPE`, `NS_GET_OWNER_UID` | 4.9 / 4.11 | [`NamespaceFd`], [`NamespaceFd::setns`] type check | [`Error::Unsupported`] |
//! | `NS_GET_ID`, namespace file handles | 6.18 | [`NamespaceFd::id`], [`NamespaceFd::file_handle`] | [`Error::Unsupported`] |
//! | `PIDFD_GET_INFO` | 6.13 | [`PidFd::info`], [`PidFd::pid`] | `pid()` falls back to fdinfo |
//! | pidfs file handles (`FD_PIDFS_ROOT`: 6.17) | 6.14 | [`PidFd::file_handle`], [`PidfdHandle::open`] | [`Error::Unsupported`] |
//! | `PIDFD_SELF_THREAD`, `PIDFD_SELF_THREAD_GROUP` | 6.15 | [`PidFd::send_signal_to_self`] | [`Error::Unsupported`] |
//! | `PIDFD_INFO_EXIT` | 6.15 | [`PidFd::exit_info`], [`PidfdInfo::exit_status`] | [`Error::Unsupported`] / `None` |
//! | `PIDFD_INFO_COREDUMP` | 6.16 | [`PidFd::coredump`], [`PidfdInfo::coredump`] | [`Error::Unsupported`] / `None` |
//! | `PIDFD_INFO_SUPPORTED_MASK` | 6.19 | [`PidFd::supported_info_mask`], [`PidfdInfo::supported`] | [`Error::Unsupported`] / `None` |
//!
//! # Between clone and exec
//! [`clone3_parent`], [`setns`] and [`pidfd_send_signal`] take borrowed fds and
//! allocate nothing, on success or failure: a failed call is recorded inline
//! ([`Call`]), so the error is built without the allocator. So do the failure paths
//! of [`PidFd::open`], [`PidFd::send_signal`] and [`PidFd::setns`].
//!
//! # Cargo features
//! - `tokio`: `PidFd::wait_async` and `Child::wait_async` through
//!   `tokio::io::unix::AsyncFd`.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// The error keeps the failed call's description inline (no allocation on the
// failure path of calls made between clone and exec), which makes it large.
#![allow(clippy::result_large_err)]

mod child;
mod clone;
mod error;
mod handle;
mod info;
mod ns;
mod pidfd;
mod spawn;
#[allow(unsafe_code)]
mod sys;
#[cfg(feature = "tokio")]
mod tokio;
mod types;
mod wait;

pub use child::{SharedChildMemory, pidfd_send_signal, setns};
pub use clone::{CloneArgs, CloneFlags, CloneResult, MAX_SET_TID};
pub use error::{Call, Error, ErrorKind, Result, errno_of};
pub use handle::{PidfdHandle, SelfTarget};
pub use info::{Coredump, CoredumpFlags, Credentials, InfoMask, PidfdInfo};
pub use ns::{NamespaceFd, NamespaceHandle, NamespaceType};
pub use pidfd::PidFd;
pub use spawn::{Child, Exec};
pub use sys::public_clone::clone3_parent;
/// Test hook: makes [`CloneArgs::spawn`] use the portable fork-style path (a copy of
/// the caller's memory, an exec-status pipe) instead of the `CLONE_VM | CLONE_VFORK`
/// one, so that both are tested on machines that have the latter.
#[doc(hidden)]
pub fn __force_fork_spawn(on: bool) {
    sys::FORCE_FORK_SPAWN.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Test hook: makes clone3 get a 96-byte `clone_args` whose field after `cgroup`
/// (unknown to every kernel so far) holds `tail`; `Some(0)` passes a zero tail,
/// `None` turns the hook off. The kernel refuses a non-zero unknown field with
/// `E2BIG`, which is how [`Error::FieldUnsupported`] is reached in tests.
#[doc(hidden)]
pub fn __clone3_test_tail(tail: Option<u64>) {
    let v = match tail {
        None => 0,
        Some(0) => u64::MAX,
        Some(v) => v,
    };
    sys::TEST_TAIL.store(v, std::sync::atomic::Ordering::Relaxed);
}

/// Test hook: makes [`PidfdHandle::open`] behave as before Linux 6.17 (no
/// `FD_PIDFS_ROOT`), so that its fallback is tested on newer kernels.
#[doc(hidden)]
pub fn __force_no_pidfs_root(on: bool) {
    handle::FORCE_NO_PIDFS_ROOT.store(on, std::sync::atomic::Ordering::Relaxed);
}

pub use types::{ExitStatus, GetfdFlags, Namespaces, Pid, PidfdFlags, Signal, SignalTarget};
pub use wait::{ChildCode, WaitInfo, WaitOptions};
