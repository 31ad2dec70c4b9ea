//! Landlock rulesets of the container's program: described here, built in the
//! parent with the `landlock` crate (best effort: what the running kernel's ABI
//! lacks is left out and reported), enforced in the child with
//! `landlock_restrict_self` on the ruleset fd just before the program runs.
#![forbid(unsafe_code)]

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use landlock::{
    ABI, Access, AccessFs, BitFlags, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset,
    RulesetAttr, RulesetCreatedAttr, RulesetStatus,
};

use crate::error::{Error, Result};

/// A Landlock ruleset for the container's program: the filesystem access rights
/// it restricts, and the host paths under which some of them stay allowed.
///
/// Built at spawn in the parent (best effort: rights the running kernel's
/// Landlock ABI lacks are not enforced, and [`Container::landlock`] says which),
/// enforced in the child just before `execve` (`landlock_restrict_self`, Linux
/// 5.13). The paths are the caller's, opened at spawn: a bind mount of one
/// inside the container is covered (Landlock rules follow the inode).
///
/// ```no_run
/// use linception::{Container, Landlock};
/// use linception::landlock::{ABI, Access, AccessFs};
///
/// let read = AccessFs::from_read(ABI::V1);
/// let c = Container::builder("/bin/ls")
///     .landlock(
///         Landlock::new(AccessFs::from_all(ABI::V1))
///             .allow("/usr", read)
///             .allow("/etc", read),
///     )
///     .spawn()?;
/// println!("{:?}", c.landlock());
/// # Ok::<(), linception::Error>(())
/// ```
///
/// [`Container::landlock`]: crate::Container::landlock
///
/// # References
/// - [landlock(7)](https://man7.org/linux/man-pages/man7/landlock.7.html)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Landlock {
    pub(crate) handled: BitFlags<AccessFs>,
    pub(crate) rules: Vec<(PathBuf, BitFlags<AccessFs>)>,
}

impl Landlock {
    /// A ruleset restricting `handled`: every right in it is denied except under
    /// the paths given with [`allow`](Landlock::allow).
    pub fn new(handled: BitFlags<AccessFs>) -> Self {
        Landlock {
            handled,
            rules: Vec::new(),
        }
    }

    /// Allows `access` (a subset of the handled rights) beneath `path` (a host
    /// path, opened `O_PATH` at spawn).
    pub fn allow(mut self, path: impl Into<PathBuf>, access: BitFlags<AccessFs>) -> Self {
        self.rules.push((path.into(), access));
        self
    }
}

/// What the running kernel enforced of a [`Landlock`] ruleset
/// ([`Container::landlock`](crate::Container::landlock)).
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LandlockReport {
    /// The kernel's Landlock ABI (as far as the `landlock` crate knows it);
    /// `ABI::Unsupported` when Landlock is missing or disabled.
    pub abi: ABI,
    /// Fully, partially or not enforced.
    pub status: RulesetStatus,
    /// The handled rights the kernel enforces.
    pub enforced: BitFlags<AccessFs>,
    /// The handled rights this kernel's ABI lacks (not enforced).
    pub not_enforced: BitFlags<AccessFs>,
}

// By hand: the landlock crate's `RulesetStatus` is not `Clone` (a template's
// containers each get a copy of the report).
impl Clone for LandlockReport {
    fn clone(&self) -> Self {
        LandlockReport {
            abi: self.abi,
            status: match self.status {
                RulesetStatus::FullyEnforced => RulesetStatus::FullyEnforced,
                RulesetStatus::PartiallyEnforced => RulesetStatus::PartiallyEnforced,
                RulesetStatus::NotEnforced => RulesetStatus::NotEnforced,
            },
            enforced: self.enforced,
            not_enforced: self.not_enforced,
        }
    }
}

/// The ABIs newest first, for the probe.
const ABIS: [ABI; 10] = [
    ABI::V10,
    ABI::V9,
    ABI::V8,
    ABI::V7,
    ABI::V6,
    ABI::V5,
    ABI::V4,
    ABI::V3,
    ABI::V2,
    ABI::V1,
];

/// The running kernel's Landlock ABI: the newest whose every filesystem right a
/// ruleset can handle as a hard requirement.
fn kernel_abi() -> ABI {
    ABIS.into_iter()
        .find(|abi| {
            Ruleset::default()
                .set_compatibility(CompatLevel::HardRequirement)
                .handle_access(AccessFs::from_all(*abi))
                .and_then(|r| r.create())
                .is_ok()
        })
        .unwrap_or(ABI::Unsupported)
}

/// What `abi` enforces of `handled`.
pub(crate) fn report(handled: BitFlags<AccessFs>, abi: ABI) -> LandlockReport {
    let enforced = handled & AccessFs::from_all(abi);
    let not_enforced = handled & !enforced;
    LandlockReport {
        abi,
        status: if enforced.is_empty() {
            RulesetStatus::NotEnforced
        } else if not_enforced.is_empty() {
            RulesetStatus::FullyEnforced
        } else {
            RulesetStatus::PartiallyEnforced
        },
        enforced,
        not_enforced,
    }
}

/// Checks a ruleset's values (pure): something handled, every rule's rights
/// handled.
pub(crate) fn check(l: &Landlock) -> Result<()> {
    if l.handled.is_empty() {
        return Err(Error::invalid(
            "landlock ruleset handling no access right",
            "a ruleset restricts at least one right (Landlock::new(rights))",
        ));
    }
    for (path, access) in &l.rules {
        if access.is_empty() {
            return Err(Error::invalid(
                format!("landlock rule for {path:?} allowing nothing"),
                "a rule allows at least one right",
            ));
        }
        let extra = *access & !l.handled;
        if !extra.is_empty() {
            return Err(Error::invalid(
                format!("landlock rule for {path:?} allowing {extra:?}"),
                "a rule allows only rights the ruleset handles (Landlock::new)",
            ));
        }
    }
    Ok(())
}

/// Builds the ruleset in the parent: its fd (none where the kernel has no
/// Landlock) and the report of what it enforces.
pub(crate) fn build(l: &Landlock) -> Result<(Option<OwnedFd>, LandlockReport)> {
    let report = report(l.handled, kernel_abi());
    if report.status == RulesetStatus::NotEnforced {
        return Ok((None, report));
    }
    let failed = |what: String, e: &dyn std::fmt::Display| {
        Error::syscall(
            format!("{what}: {e}"),
            std::io::Error::from_raw_os_error(libc::EINVAL),
        )
    };
    let mut created = Ruleset::default()
        .handle_access(l.handled)
        .and_then(|r| r.create())
        .map_err(|e| failed("landlock_create_ruleset".to_owned(), &e))?;
    for (path, access) in &l.rules {
        let fd = PathFd::new(path).map_err(|_| {
            Error::invalid(
                format!("landlock rule path {path:?}"),
                "cannot be opened (O_PATH): it must exist on the host",
            )
        })?;
        created = created
            .add_rule(PathBeneath::new(fd, *access))
            .map_err(|e| failed(format!("landlock_add_rule({path:?})"), &e))?;
    }
    Ok((Option::<OwnedFd>::from(created), report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_says_what_the_abi_enforces() {
        let v1 = AccessFs::from_all(ABI::V1);
        let r = report(v1, ABI::V1);
        assert_eq!(r.status, RulesetStatus::FullyEnforced);
        assert_eq!(r.enforced, v1);
        let r = report(v1 | AccessFs::Refer, ABI::V1);
        assert_eq!(r.status, RulesetStatus::PartiallyEnforced);
        assert_eq!(r.not_enforced, AccessFs::Refer);
        let r = report(v1, ABI::Unsupported);
        assert_eq!(r.status, RulesetStatus::NotEnforced);
        assert_eq!(r.not_enforced, v1);
    }

    #[test]
    fn rules_allow_only_handled_rights() {
        let l = Landlock::new(AccessFs::ReadFile.into()).allow("/usr", AccessFs::Execute.into());
        let e = check(&l).unwrap_err().to_string();
        assert!(e.contains("allowing") && e.contains("Execute"), "{e}");
        let e = check(&Landlock::new(BitFlags::empty()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("handling no access right"), "{e}");
        let l = Landlock::new(AccessFs::ReadFile.into()).allow("/usr", BitFlags::empty());
        assert!(
            check(&l)
                .unwrap_err()
                .to_string()
                .contains("allowing nothing")
        );
        check(&Landlock::new(AccessFs::ReadFile.into()).allow("/usr", AccessFs::ReadFile.into()))
            .unwrap();
    }
}
