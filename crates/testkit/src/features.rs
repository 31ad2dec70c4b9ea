//! Skipping (or, in CI, failing) tests whose kernel feature is missing.
//!
//! The probes themselves are linception's own (`linception-probe`, also behind
//! `linception::features()`), so tests and users see the same answers.
//! Root is a privilege, not a kernel feature: [`require_root()`] has its own rule.

pub use linception_probe::Feature;

use crate::fork::Fork;

/// Whether `feature` is available (probed once per test process), or why not.
pub fn available(feature: Feature) -> Result<(), String> {
    feature.available().map_err(|missing| missing.to_string())
}

/// `true` when `feature` is available. Otherwise prints why the test is skipped and
/// returns `false`, or panics when `LINCEPTION_REQUIRE_ALL=1`.
///
/// [`Feature::Root`] and the features only root can probe are a privilege, not a
/// kernel feature: they follow [`require_root()`], which skips them in an unprivileged
/// run even under `LINCEPTION_REQUIRE_ALL=1`. So does [`Feature::CloneIntoCgroup`]
/// refused with `EACCES`/`EPERM` to a user without a cgroup of its own.
pub fn require(feature: Feature) -> bool {
    if needs_root(feature) {
        let what = match feature {
            Feature::Root => feature.description(),
            _ => feature.name(),
        };
        if !require_root(what) {
            return false;
        }
        if feature == Feature::Root {
            return true;
        }
    }
    let answer = feature.available();
    if let Err(missing) = &answer
        && needs_permission(feature)
        && matches!(missing.errno, Some(libc::EACCES | libc::EPERM))
        && root_status() != RootStatus::Root
    {
        // Refused for want of privilege, which says nothing of the kernel.
        return require_root(&format!("{}: {missing}", feature.name()));
    }
    require_custom(
        feature.name(),
        feature.min_kernel(),
        answer.map_err(|missing| missing.to_string()),
    )
}

/// Features whose probe (and so whose use) needs root, whatever the kernel.
fn needs_root(feature: Feature) -> bool {
    matches!(feature, Feature::Root | Feature::MountSetattrIdmap)
}

/// Features a user may have through a permission granted to it (a delegated
/// cgroup): refused with `EACCES`/`EPERM` otherwise, where root has them.
fn needs_permission(feature: Feature) -> bool {
    matches!(feature, Feature::CloneIntoCgroup)
}

/// Whether this process has root's power, or why not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootStatus {
    /// euid 0 in the initial user namespace, with `CAP_SYS_ADMIN`.
    Root,
    /// Not root (euid not 0): an unprivileged run, where root-only tests skip.
    NotRoot {
        /// The effective uid.
        euid: u32,
    },
    /// euid 0 without root's power; the text says what is lacking.
    Lacking(String),
}

/// Tells root from an unprivileged user and from a uid 0 without root's power
/// (inside a user namespace, or with `CAP_SYS_ADMIN` dropped). Read fresh each time
/// from `/proc/self`, so a forked child that changed its ids sees its own answer.
pub fn root_status() -> RootStatus {
    let euid = crate::sys::geteuid();
    if euid != 0 {
        return RootStatus::NotRoot { euid };
    }
    match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(map) if map.split_whitespace().eq(["0", "0", "4294967295"]) => {}
        Ok(map) => {
            let map: Vec<&str> = map.split_whitespace().collect();
            return RootStatus::Lacking(format!(
                "uid 0 of a user namespace, not the host's root (uid_map \"{}\")",
                map.join(" ")
            ));
        }
        Err(err) => return RootStatus::Lacking(format!("read /proc/self/uid_map: {err}")),
    }
    const CAP_SYS_ADMIN: u32 = 21;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let effective = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok());
    match effective {
        Some(caps) if caps & (1 << CAP_SYS_ADMIN) != 0 => RootStatus::Root,
        Some(caps) => RootStatus::Lacking(format!(
            "uid 0 without CAP_SYS_ADMIN (effective capabilities {caps:#x})"
        )),
        None => RootStatus::Lacking("no CapEff line in /proc/self/status".into()),
    }
}

/// `true` when the process is root (see [`RootStatus::Root`]). Otherwise prints
/// `SKIP: needs root (<what>): <why>` and returns `false`, or panics when a run as
/// root lacks root's power under `LINCEPTION_REQUIRE_ALL=1`.
///
/// `what` says what the test needs root for, e.g. `"a host cgroup"`.
///
/// # Root, kernel features and `LINCEPTION_REQUIRE_ALL`
///
/// The suite runs as root and as an unprivileged user, both with
/// `LINCEPTION_REQUIRE_ALL=1` in CI. That variable makes every missing *kernel
/// feature* fail, in either run. Root is not a kernel feature but the runner's
/// choice, so it is treated apart:
///
/// - started by a user other than root (euid not 0): a root-only test prints
///   `SKIP: needs root (...)` and passes, with or without `LINCEPTION_REQUIRE_ALL`;
/// - started as root that lacks root's power (uid 0 of a user namespace other than
///   the initial one, or without `CAP_SYS_ADMIN`): the suite was meant to run as
///   root and cannot, so under `LINCEPTION_REQUIRE_ALL=1` the test fails, otherwise
///   it skips with the same message.
///
/// A CI run meant as root must therefore check that it was started as root (CI's
/// script does); [`require`] sends [`Feature::Root`], and the features only root can
/// probe ([`Feature::MountSetattrIdmap`]), through this rule.
pub fn require_root(what: &str) -> bool {
    match root_status() {
        RootStatus::Root => true,
        RootStatus::Lacking(why) if crate::require_all() => panic!(
            "needs root ({what}), and this uid 0 is not: {why} \
             (LINCEPTION_REQUIRE_ALL=1: a run as root must have root's power)"
        ),
        RootStatus::Lacking(why) => {
            eprintln!("SKIP: needs root ({what}): {why}");
            false
        }
        RootStatus::NotRoot { euid } => {
            eprintln!("SKIP: needs root ({what}): running as uid {euid}");
            false
        }
    }
}

/// Like [`require`] for a probe a test made itself.
pub fn require_custom(name: &str, min_kernel: &str, answer: Result<(), String>) -> bool {
    match answer {
        Ok(()) => true,
        Err(reason) if crate::require_all() => {
            panic!(
                "required feature {name} (Linux {min_kernel}) is unavailable: {reason} \
                 (LINCEPTION_REQUIRE_ALL=1 turns skips into failures)"
            )
        }
        Err(reason) => {
            eprintln!("SKIP: needs {name} (Linux {min_kernel}): {reason}");
            false
        }
    }
}

/// Runs a probe closure in a forked child (for probes that change the process).
pub fn probe_custom(probe: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    Fork::new().run(probe)
}
