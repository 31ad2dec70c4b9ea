//! linception: safe Rust for the Linux kernel's modern container features.
//!
//! Each feature lives in a crate of its own that can be used alone; this umbrella
//! crate re-exports them as modules.
//!
//! | module | crate | feature | since |
//! |---|---|---|---|
//! | [`pidfd`] | `linception-pidfd` | pidfds, `clone3` with `set_tid` | Linux 5.3 |
//! | [`mountapi`] | `linception-mountapi` | the new mount API, idmapped mounts, `statmount` | Linux 5.2 / 5.12 / 6.8 |
//! | [`openat2`] | `linception-openat2` | resolution inside a root with `RESOLVE_*` | Linux 5.6 |
//! | [`userns`] | `linception-userns` | extent-based uid/gid maps | Linux 4.15 |
//! | [`seccomp_notify`] | `linception-seccomp-notify` | seccomp filters, user notification | Linux 5.0 / 5.5 |
//! | [`keyring_ns`] | `linception-keyring-ns` | keyctl, per-container keyrings | Linux 5.3 |
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod features;
pub use features::features;

pub use linception_keyring_ns as keyring_ns;
pub use linception_mountapi as mountapi;
pub use linception_openat2 as openat2;
pub use linception_pidfd as pidfd;
pub use linception_seccomp_notify as seccomp_notify;
pub use linception_userns as userns;
