//! The network of a new network namespace: its loopback interface.
#![forbid(unsafe_code)]

use super::Lowering;
use crate::builder::{ContainerBuilder, Loopback, Namespaces};
use crate::step::Step;

/// A new network namespace gets `lo` up unless the builder says down.
pub(super) fn loopback(p: &mut Lowering<'_>, b: &ContainerBuilder, ns: Namespaces) {
    if ns.contains(Namespaces::NET) && b.loopback.unwrap_or_default() == Loopback::Up {
        p.push(
            Step::LoopbackUp,
            "bring the loopback interface lo up (SIOCSIFFLAGS)",
        );
    }
}
