//! Extent-based Linux user-namespace id maps: validation, fast lookup, composition,
//! `/etc/subuid`, and writing `uid_map`/`gid_map`.
//!
//! - [`IdMap`]: 1 to 340 [`Extent`]s, validated the way the kernel validates a map
//!   write (errors name the offending extent), with O(log n) lookups both ways,
//!   composition and inversion, and the `/proc/PID/uid_map` text form.
//! - [`read_uid_map`], [`read_gid_map`], [`read_setgroups`]: a process's current state.
//! - [`SubIds`]: `/etc/subuid` and `/etc/subgid`; [`rootless_map`] builds the usual map.
//! - [`MapWriter`]: writes a child's maps from outside (privileged, unprivileged, or
//!   through `newuidmap`/`newgidmap`); a refusal names the rule broken ([`MapRule`]).
//! - [`UserNamespace`]: a new namespace with given maps, as an fd (for idmapped mounts).
//!
//! ```
//! use linception_userns::{Extent, IdMap};
//!
//! let map = IdMap::new([Extent::new(0, 1000, 1), Extent::new(1, 100_000, 65_536)])?;
//! assert_eq!(map.map_down(0), Some(1000));
//! assert_eq!(map.map_up(100_041), Some(42));
//! assert_eq!(map.to_string().parse::<IdMap>()?, map);
//! // A nested namespace's map, expressed in the host's ids.
//! let nested = IdMap::single(0, 1, 10)?;
//! assert_eq!(nested.compose(&map)?.extents(), [Extent::new(0, 100_000, 10)]);
//! # Ok::<(), linception_userns::Error>(())
//! ```
//!
//! # Kernel support
//!
//! | feature | since | for | fallback |
//! |---|---|---|---|
//! | user namespaces, `uid_map`/`gid_map` | 3.8 | everything here | none |
//! | `setgroups` file | 3.19 | unprivileged `gid_map` writes | none needed before |
//! | 340 extents per map (was 5) | 4.15 | wide or fragmented maps | keep maps to 5 extents |
//! | `clone3` with `CLONE_PIDFD` | 5.3 | [`UserNamespace::new`] | [`Error::Unsupported`] |
//! | mapping parent uid 0 needs `CAP_SETFCAP` | 5.12 | rule in [`MapRule`] | - |
//!
//! # References
//! [user_namespaces(7)](https://man7.org/linux/man-pages/man7/user_namespaces.7.html),
//! [subuid(5)](https://man7.org/linux/man-pages/man5/subuid.5.html)
#![deny(missing_docs)]
// The error keeps the failed call inline (the family's shared record), which
// makes it large.
#![allow(clippy::result_large_err)]

mod error;
mod extent;
mod map;
mod namespace;
mod proc;
mod subid;
#[allow(unsafe_code)]
mod sys;
mod write;

pub use error::{Call, Error, ErrorKind, MapRule, Result};
pub use extent::{Extent, Side};
pub use map::{IdMap, MAX_BASE_EXTENTS, MAX_EXTENTS, MAX_TEXT_LEN};
pub use namespace::UserNamespace;
pub use proc::{Setgroups, read_gid_map, read_setgroups, read_uid_map};
pub use rustix::process::Pid;
pub use subid::{
    SUBGID_PATH, SUBUID_PATH, SubIdEntry, SubIdOwner, SubIdRange, SubIds, helper_refusal,
    login_name, rootless_map,
};
pub use write::{MapKind, MapWriter, WriteMode, write_gid_map, write_setgroups, write_uid_map};
