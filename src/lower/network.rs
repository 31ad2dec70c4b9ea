//! The network of a new network namespace (its loopback interface) and the
//! sysctls of the container's namespaces.
#![forbid(unsafe_code)]

use super::{Lowering, c};
use crate::builder::{ContainerBuilder, Loopback, Namespaces};
use crate::step::Step;

/// Each sysctl, written through `/proc/sys` (before the mounts: the host's proc is
/// still in view, and the kernel picks the entries of the opener's namespaces).
pub(super) fn sysctls(p: &mut Lowering<'_>, b: &ContainerBuilder) {
    for (name, value) in &b.sysctls {
        let path = format!("/proc/sys/{}", crate::validate::sysctl_path(name));
        p.push(
            Step::Sysctl {
                path: c(&path),
                value: value.as_bytes().to_vec(),
            },
            format!("write {value:?} to {path} (sysctl {name})"),
        );
    }
}

/// A new network namespace gets `lo` up unless the builder says down.
pub(super) fn loopback(p: &mut Lowering<'_>, b: &ContainerBuilder, ns: Namespaces) {
    if ns.contains(Namespaces::NET) && b.loopback.unwrap_or_default() == Loopback::Up {
        p.push(
            Step::LoopbackUp,
            "bring the loopback interface lo up (SIOCSIFFLAGS)",
        );
    }
}
