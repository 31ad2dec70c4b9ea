//! Seccomp BPF filters compiled in Rust, and the user-notification listener with
//! CONTINUE and ADDFD.
//!
//! - A [`Filter`] is data: an architecture (and, with [`Filter::with_arch`], the
//!   compat ABIs of x86_64, [`Arch::X86`] and [`Arch::X32`], each with its own
//!   numbers), a default [`Action`], and [`Rule`]s per syscall (by name from the
//!   kernel's tables, or by number) with [`Condition`]s on the arguments. [`compile`] turns it into seccomp BPF ([`Program`]) with one pure
//!   function: architecture check first, binary-search dispatch for big rule sets,
//!   long jumps handled, `BPF_MAXINSNS` checked. [`interpret`] runs a program in Rust.
//! - [`Program::install`] (or the allocation-free [`Program::install_raw`], for a child
//!   between `clone` and `execve`) puts it in force and returns the [`Listener`].
//! - The [`Listener`] receives [`Notification`]s and answers them: a value, an errno,
//!   CONTINUE, or an fd injected with [`AddFd`]; [`Listener::serve`] is the supervisor
//!   loop; [`send_fd`]/[`recv_fd`] carry the listener from the child to the supervisor.
//!
//! ```
//! use linception_seccomp_notify::{Action, Cmp, Condition, Filter, SeccompData};
//!
//! // Let write() reach fd 1 only, and hand getppid() to a supervisor.
//! let filter = Filter::new(Action::Allow)
//!     .rule_if("write", [Condition::new32(0, Cmp::Ne(1))], Action::Errno(libc::EBADF))
//!     .rule("getppid", Action::UserNotif);
//! let program = filter.compile()?;
//!
//! let write_to = |fd| SeccompData {
//!     nr: filter.arch().syscall_number("write").unwrap() as i32,
//!     arch: filter.arch().audit_arch(),
//!     args: [fd, 0, 0, 0, 0, 0],
//!     ..Default::default()
//! };
//! assert_eq!(program.evaluate(&write_to(1))?, Action::Allow);
//! assert_eq!(program.evaluate(&write_to(2))?, Action::Errno(libc::EBADF));
//! # Ok::<(), linception_seccomp_notify::Error>(())
//! ```
//!
//! # Kernel support
//!
//! | feature | since | for | fallback |
//! |---|---|---|---|
//! | `SECCOMP_SET_MODE_FILTER`, `TSYNC` | 3.17 | install a filter, [`filter_flags_available`] | [`Error::Unsupported`] |
//! | `KILL_PROCESS`, `LOG` action, `FilterFlags::LOG` | 4.14 | | |
//! | `FilterFlags::SPEC_ALLOW` | 4.17 | | |
//! | `USER_NOTIF`, `NEW_LISTENER`, `SECCOMP_GET_NOTIF_SIZES` | 5.0 | the listener, [`notif_sizes`] | [`Error::Unsupported`] |
//! | `SECCOMP_USER_NOTIF_FLAG_CONTINUE` | 5.5 | [`Listener::respond_continue`] | `EINVAL` |
//! | `TSYNC_ESRCH` | 5.7 | `NEW_LISTENER` with `TSYNC` | |
//! | `SECCOMP_IOCTL_NOTIF_ADDFD` | 5.9 | [`Listener::add_fd`] | [`Error::Unsupported`] |
//! | `SECCOMP_ADDFD_FLAG_SEND` | 5.14 | [`AddFd::send`] | [`Error::Unsupported`] |
//! | `WAIT_KILLABLE_RECV` | 5.19 | | `EINVAL` |
//! | `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` | 6.6 | ~10x faster round trips, on by default | default wake-up |
//!
//! # Deadlocks
//! A task must never wait for itself: `USER_NOTIF` as the default action is refused
//! ([`Error::NotifyAsDefault`]), and the supervisor must not run under the filter it
//! supervises (install in a forked child; the supervisor stays unfiltered).
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// A failed call's description is kept inline in the error (no allocation on the
// failure path of what a child runs between clone and exec), which makes it large.
// The hot paths (receiving and answering notifications) return bare errnos.
#![allow(clippy::result_large_err)]

mod arch;
#[cfg(feature = "tokio")]
mod async_listener;
mod avail;
pub mod bpf;
mod compile;
mod error;
mod fdpass;
mod filter;
mod install;
mod listener;
pub mod memory;
mod sizes;
mod supervisor;
#[allow(unsafe_code)]
mod sys;
mod syscall_table;
mod syscall_table_x86;

pub use arch::{
    AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, Arch, X32_SYSCALL_BIT,
};
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use async_listener::AsyncListener;
pub use avail::{action_available, filter_flags_available};
pub use bpf::{SeccompData, SockFilter, interpret};
pub use compile::{Program, compile};
pub use error::{Call, Error, ErrorKind, Result};
pub use fdpass::{recv_fd, send_fd};
pub use filter::{Action, Cmp, Condition, Dispatch, Filter, Rule, Syscall, Width};
pub use install::{FilterFlags, NoNewPrivs};
pub use listener::{AddFd, Listener, Notification, WakeUp};
pub use memory::FromCallerBytes;
pub use sizes::{NotifSizes, notif_sizes};
pub use supervisor::{Response, ServeStats};
