//! The program's fds: stdio and passed fds on their numbers, every other fd
//! close-on-exec.
#![forbid(unsafe_code)]

use std::os::fd::{AsFd, BorrowedFd, RawFd};

use super::{ChildFds, Lowering, borrow};
use crate::builder::{ContainerBuilder, Stdio};
use crate::step::Step;

/// Returns the ranges of fds the program does not get (for a created container's
/// init, which closes them before it waits).
pub(super) fn lower<'f>(
    p: &mut Lowering<'f>,
    b: &'f ContainerBuilder,
    fds: &'f ChildFds,
) -> Vec<(u32, u32)> {
    let mut moves: Vec<(BorrowedFd<'f>, RawFd)> = Vec::new();
    for (n, s) in b.stdio.iter().enumerate() {
        let source = match s {
            Stdio::Inherit => None,
            Stdio::Null => borrow(&fds.dev_null),
            Stdio::Piped => borrow(&fds.piped[n]),
            Stdio::Fd(fd) => Some(fd.as_fd()),
        };
        if let Some(source) = source {
            moves.push((source, n as RawFd));
        }
    }
    let mut targets: Vec<RawFd> = Vec::new();
    for (target, fd) in &b.fds {
        targets.push(*target);
        moves.push((fd.as_fd(), *target));
    }
    targets.sort_unstable();
    let cloexec_ranges = cloexec_ranges(&targets);
    let high = targets.last().copied().unwrap_or(2).max(2) + 1;
    let shown: Vec<String> = moves
        .iter()
        .map(|(s, t)| format!("{}->{t}", rustix::fd::AsRawFd::as_raw_fd(s)))
        .collect();
    let label = format!(
        "set up fds [{}] and close_range(3.., CLOSE_RANGE_CLOEXEC) the rest",
        shown.join(", ")
    );
    let unused = cloexec_ranges.clone();
    p.push(
        Step::Fds {
            moves,
            high,
            cloexec_ranges,
        },
        label,
    );
    unused
}

/// The fd ranges from 3 up that are not passed targets (`targets` sorted, >= 3).
pub(super) fn cloexec_ranges(targets: &[RawFd]) -> Vec<(u32, u32)> {
    let mut ranges = Vec::new();
    let mut next: u32 = 3;
    for &t in targets {
        let t = t as u32;
        if t > next {
            ranges.push((next, t - 1));
        }
        next = t + 1;
    }
    ranges.push((next, u32::MAX));
    ranges
}
