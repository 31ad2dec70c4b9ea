//! Where a spawn's time goes: opt-in timestamps of its phases
//! ([`ContainerBuilder::profile`](crate::ContainerBuilder::profile)).
//!
//! Off (the default), a spawn makes no extra step and no extra system call. On,
//! the child reads the clock (`CLOCK_MONOTONIC`, through the vDSO: no system call)
//! at five points and sends the readings in one message just before `execve`; the
//! parent reads the same clock around `clone3`, after the id maps, when it sees the
//! `execve` (its report pipe's end closing) and when it reaps the container.
#![forbid(unsafe_code)]

use std::time::Duration;

/// How many points the child marks.
pub(crate) const MARKS: usize = 5;

/// A point the child marks, by its index in the child's timestamps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mark {
    /// The parent let the child go on (id maps written), or, without a user
    /// namespace, the child's first step.
    Released = 0,
    /// The last mount of the plan attached.
    MountsDone = 1,
    /// The root changed: `pivot_root` done and the old root detached (or the
    /// move and `chroot` of another [`RootChange`](crate::RootChange)).
    PivotRoot = 2,
    /// The seccomp filter installed (or where it would be, without one).
    Seccomp = 3,
    /// Just before `execve`.
    Execve = 4,
}

/// `CLOCK_MONOTONIC` in nanoseconds.
pub(crate) fn now() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// The times of one profiled spawn's phases, each measured from the moment the
/// parent called `clone3` (`None`: the spawn did not pass that point, e.g. no user
/// namespace means no id maps, no root no `pivot_root`).
///
/// ```no_run
/// use linception::Container;
/// let mut c = Container::builder("/bin/true").profile().spawn()?;
/// c.wait()?;
/// let p = c.profile().expect("profiled");
/// println!("prepare {:?}, execve after {:?}", p.prepare, p.execve);
/// # Ok::<(), linception::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpawnProfile {
    /// From the call to `spawn()` to `clone3`: validation, the seccomp filter's
    /// compilation, lowering, the fds and the cgroup.
    pub prepare: Duration,
    /// `clone3` returned in the parent.
    pub cloned: Duration,
    /// The parent wrote the id maps.
    pub maps_written: Option<Duration>,
    /// The child was released (it read the parent's byte), or started its setup.
    pub released: Option<Duration>,
    /// The child attached its last mount.
    pub mounts_done: Option<Duration>,
    /// The child's `pivot_root` (and the old root's detach) was done, or the
    /// root change a [`RootChange`](crate::RootChange) other than the default
    /// asked for.
    pub pivot_root: Option<Duration>,
    /// The child installed its seccomp filter (or reached that point).
    pub seccomp: Option<Duration>,
    /// The child was about to call `execve`.
    pub execve: Option<Duration>,
    /// The parent saw the `execve` succeed (its report pipe closed).
    pub exec_seen: Option<Duration>,
    /// The parent reaped the container (set by [`Container::wait`](crate::Container::wait)).
    pub exited: Option<Duration>,
}

/// The raw readings of a profiled spawn, turned into a [`SpawnProfile`] at the end.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Clock {
    pub started: u64,
    pub clone: u64,
    pub cloned: u64,
    pub maps: u64,
    pub child: [u64; MARKS],
    pub exec_seen: u64,
}

impl Clock {
    /// The profile so far, times from `clone`.
    pub(crate) fn profile(&self) -> SpawnProfile {
        let at = |t: u64| (t != 0).then(|| Duration::from_nanos(t.saturating_sub(self.clone)));
        SpawnProfile {
            prepare: Duration::from_nanos(self.clone.saturating_sub(self.started)),
            cloned: at(self.cloned).unwrap_or_default(),
            maps_written: at(self.maps),
            released: at(self.child[Mark::Released as usize]),
            mounts_done: at(self.child[Mark::MountsDone as usize]),
            pivot_root: at(self.child[Mark::PivotRoot as usize]),
            seccomp: at(self.child[Mark::Seccomp as usize]),
            execve: at(self.child[Mark::Execve as usize]),
            exec_seen: at(self.exec_seen),
            exited: None,
        }
    }
}
