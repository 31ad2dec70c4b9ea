//! Skipping (or, in CI, failing) tests whose kernel feature is missing.
//!
//! The probes themselves are linception's own (`linception-probe`, also behind
//! `linception::features()`), so tests and users see the same answers.

pub use linception_probe::Feature;

use crate::fork::Fork;

/// Whether `feature` is available (probed once per test process), or why not.
pub fn available(feature: Feature) -> Result<(), String> {
    feature.available().map_err(|missing| missing.to_string())
}

/// `true` when `feature` is available. Otherwise prints why the test is skipped and
/// returns `false`, or panics when `LINCEPTION_REQUIRE_ALL=1`.
pub fn require(feature: Feature) -> bool {
    require_custom(feature.name(), feature.min_kernel(), available(feature))
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
