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

pub(super) fn terminal<'f>(p: &mut Lowering<'f>, b: &ContainerBuilder, fds: &'f ChildFds) {
    if let Some(sock) = borrow(&fds.terminal_sock) {
        let size = b.knobs.terminal_size;
        let winsize = size.map_or(String::new(), |(rows, cols)| {
            format!(", TIOCSWINSZ {rows} rows {cols} columns")
        });
        p.push(
            Step::Terminal { sock, size },
            format!(
                "setsid and a controlling terminal from /dev/pts/ptmx (TIOCSPTLCK, \
                 TIOCGPTPEER, TIOCSCTTY{winsize}), the master sent to the parent"
            ),
        );
    }
}

/// The child's CPUs while it sets up: its first step.
pub(super) fn setup_affinity(p: &mut Lowering<'_>, b: &ContainerBuilder) {
    if let Some(cpus) = &b.knobs.setup_cpus {
        p.push(
            Step::CpuAffinity {
                cpus: cpus.cpu_set(),
            },
            format!("sched_setaffinity(0, {cpus}) for the setup"),
        );
    }
}

/// The program's CPUs, scheduler and I/O priority: after the rest of the setup,
/// before the uid change (which may take the capability the kernel asks for).
pub(super) fn scheduling(p: &mut Lowering<'_>, b: &ContainerBuilder) {
    let k = &b.knobs;
    if let Some(cpus) = &k.cpus {
        p.push(
            Step::CpuAffinity {
                cpus: cpus.cpu_set(),
            },
            format!("sched_setaffinity(0, {cpus})"),
        );
    }
    if let Some(s) = &k.scheduler {
        p.push(
            Step::Scheduler { attr: s.attr() },
            format!("sched_setattr({})", s.shown()),
        );
    }
    if let Some(io) = k.io_priority {
        p.push(
            Step::IoPriority { ioprio: io.raw() },
            format!(
                "ioprio_set(IOPRIO_WHO_PROCESS, 0, {} level {})",
                io.class().name(),
                io.level()
            ),
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
