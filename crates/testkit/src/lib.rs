//! Test helpers for the linception crates.
//!
//! - [`Fork`] runs a closure in a forked child (optionally unprivileged, in new
//!   namespaces) and hands back its result, or fails the test with the child's panic.
//! - [`Feature`] probes the running kernel by calling it; [`require!`] skips a test with
//!   a printed reason, or fails it when `LINCEPTION_REQUIRE_ALL=1`.
//! - [`require_root!`] skips a root-only test with `SKIP: needs root (...)` in an
//!   unprivileged run (how that fits `LINCEPTION_REQUIRE_ALL`: [`require_root()`]).
//! - [`leaks`] compares open fds and mounts before and after a closure.
//!
//! ```
//! use linception_testkit::{Fork, Feature, require};
//!
//! fn my_test() {
//!     require!(Feature::UserNs);
//!     let uid = Fork::new().rootless().run(|| unsafe { libc::geteuid() });
//!     assert_eq!(uid, 0);
//! }
//! # my_test();
//! ```
#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod alloc;
mod features;
mod fork;
pub mod leaks;
// Every unsafe block of the crate is here, each with its SAFETY line.
#[allow(unsafe_code)]
mod sys;
mod wire;

pub use features::{
    Feature, RootStatus, available, probe_custom, require, require_custom, require_root,
    root_status,
};
pub use fork::{Fork, NOBODY, unprivileged_ids};
pub use wire::Wire;

/// Runs `f` in a forked child with no extra steps; see [`Fork`].
pub fn fork<T: Wire>(f: impl FnOnce() -> T) -> T {
    Fork::new().run(f)
}

/// Skips the calling test (returns from it) unless every listed [`Feature`] is
/// available; fails it instead when `LINCEPTION_REQUIRE_ALL=1`.
#[macro_export]
macro_rules! require {
    ($($feature:expr),+ $(,)?) => {
        $(
            if !$crate::require($feature) {
                return;
            }
        )+
    };
}

/// Skips the calling test (returns from it) unless the process is root, printing
/// `SKIP: needs root (<what>): <why>`; see [`require_root()`] for when it fails instead.
///
/// ```
/// use linception_testkit::require_root;
///
/// fn mounts_on_the_host_cgroup_tree() {
///     require_root!("a cgroup of the host");
///     // ... runs as root only
/// }
/// # mounts_on_the_host_cgroup_tree();
/// ```
#[macro_export]
macro_rules! require_root {
    ($what:expr) => {
        if !$crate::require_root($what) {
            return;
        }
    };
}

/// Whether `LINCEPTION_REQUIRE_ALL=1` is set (CI): a missing feature fails the test.
pub fn require_all() -> bool {
    std::env::var("LINCEPTION_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

/// The errno of the last failed libc call, as an `io::Error`.
pub fn last_os_error() -> std::io::Error {
    std::io::Error::last_os_error()
}
