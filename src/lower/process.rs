//! The process knobs the child sets itself: the terminal (after the root change),
//! umask, personality, parent-death signal (after the uid change, which clears it),
//! resource limits (after the setup). The OOM score, and hard limits above the
//! caller's, are the parent's ([`crate::process::apply_in_parent`]).
#![forbid(unsafe_code)]

use rustix::fs::Mode;

use super::{ChildFds, Lowering, borrow};
use crate::builder::ContainerBuilder;
use crate::process::{RLIM_INFINITY, limit};
use crate::step::Step;

pub(super) fn terminal<'f>(p: &mut Lowering<'f>, fds: &'f ChildFds) {
    if let Some(sock) = borrow(&fds.terminal_sock) {
        p.push(
            Step::Terminal { sock },
            "setsid and a controlling terminal from /dev/pts/ptmx (TIOCSPTLCK, TIOCGPTPEER, \
             TIOCSCTTY), the master sent to the parent",
        );
    }
}

pub(super) fn rlimits(p: &mut Lowering<'_>, b: &ContainerBuilder) {
    let k = &b.knobs;
    if k.rlimits.is_empty() {
        return;
    }
    let value = |v: u64| (v != RLIM_INFINITY).then_some(v);
    let limits = k
        .rlimits
        .iter()
        .map(|&(r, soft, hard)| (r.rustix(), value(soft), value(hard)))
        .collect();
    let shown: Vec<String> = k
        .rlimits
        .iter()
        .map(|&(r, soft, hard)| format!("{} {}/{}", r.name(), limit(soft), limit(hard)))
        .collect();
    p.push(
        Step::Rlimits { limits },
        format!("setrlimit({})", shown.join(", ")),
    );
}

pub(super) fn knobs(p: &mut Lowering<'_>, b: &ContainerBuilder) {
    let k = &b.knobs;
    if let Some(mask) = k.umask {
        p.push(
            Step::Umask {
                mask: Mode::from_raw_mode(mask),
            },
            format!("umask({mask:#05o})"),
        );
    }
    if let Some(persona) = k.personality {
        p.push(
            Step::Personality {
                persona: persona.bits(),
            },
            format!("personality({:#x})", persona.bits()),
        );
    }
    // Checked by crate::process::check_values: a named standard signal.
    if let Some(signal) = k
        .parent_death_signal
        .and_then(|s| rustix::process::Signal::from_named_raw(s.as_raw()))
    {
        p.push(
            Step::ParentDeathSignal { signal },
            format!("prctl(PR_SET_PDEATHSIG, {})", signal.as_raw()),
        );
    }
}
