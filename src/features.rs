//! What the running kernel offers: [`features()`] probes every feature linception
//! wraps, by calling the kernel, and reports each with its minimum kernel.
//!
//! ```
//! for status in linception::features() {
//!     println!(
//!         "{:<28} {:>6}  {}",
//!         status.feature.name(),
//!         status.feature.min_kernel(),
//!         if status.available() { "yes" } else { "no" },
//!     );
//! }
//! ```

pub use linception_probe::{Cgroup2, Feature, FeatureStatus, Missing, cgroup2, features};
