//! The process knobs of a container: resource limits, umask, OOM score, the
//! parent-death signal, the execution domain (personality) and a controlling
//! terminal. The types are public; the checks are pure (the caller's facts come in
//! as [`Facts`]) and run before anything is created.
#![forbid(unsafe_code)]

use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use crate::builder::{ContainerBuilder, Namespaces, Stdio};
use crate::error::{Error, Result};
use crate::mount::MountKind;
use crate::validate::shown;

/// `RLIM_INFINITY`: no limit, as a soft or hard value of
/// [`rlimit`](ContainerBuilder::rlimit).
pub const RLIM_INFINITY: u64 = u64::MAX;

/// A resource whose use [`rlimit`](ContainerBuilder::rlimit) limits, named after
/// its `RLIMIT_*` constant.
///
/// # References
/// [getrlimit(2)](https://man7.org/linux/man-pages/man2/getrlimit.2.html)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Resource {
    /// `RLIMIT_CPU`: CPU time, in seconds.
    Cpu,
    /// `RLIMIT_FSIZE`: the largest file the process may create, in bytes.
    Fsize,
    /// `RLIMIT_DATA`: the data segment (and private mappings), in bytes.
    Data,
    /// `RLIMIT_STACK`: the main thread's stack, in bytes.
    Stack,
    /// `RLIMIT_CORE`: the largest core dump, in bytes (0: none).
    Core,
    /// `RLIMIT_RSS`: resident set size (not enforced by Linux).
    Rss,
    /// `RLIMIT_NPROC`: processes (threads) of the real user id.
    Nproc,
    /// `RLIMIT_NOFILE`: one more than the highest fd number (at most `fs.nr_open`).
    Nofile,
    /// `RLIMIT_MEMLOCK`: locked memory, in bytes.
    Memlock,
    /// `RLIMIT_AS`: the address space, in bytes.
    As,
    /// `RLIMIT_LOCKS`: file locks (not enforced since Linux 2.4.25).
    Locks,
    /// `RLIMIT_SIGPENDING`: queued signals of the real user id.
    Sigpending,
    /// `RLIMIT_MSGQUEUE`: bytes of POSIX message queues of the real user id.
    Msgqueue,
    /// `RLIMIT_NICE`: the ceiling of the nice value, as `20 - limit`.
    Nice,
    /// `RLIMIT_RTPRIO`: the ceiling of the real-time priority.
    Rtprio,
    /// `RLIMIT_RTTIME`: CPU time under a real-time policy without blocking, in
    /// microseconds.
    Rttime,
}

impl Resource {
    /// Every resource, in the kernel's order.
    pub const ALL: [Resource; 16] = [
        Resource::Cpu,
        Resource::Fsize,
        Resource::Data,
        Resource::Stack,
        Resource::Core,
        Resource::Rss,
        Resource::Nproc,
        Resource::Nofile,
        Resource::Memlock,
        Resource::As,
        Resource::Locks,
        Resource::Sigpending,
        Resource::Msgqueue,
        Resource::Nice,
        Resource::Rtprio,
        Resource::Rttime,
    ];

    /// The C name (`"RLIMIT_NOFILE"`).
    pub fn name(self) -> &'static str {
        match self {
            Resource::Cpu => "RLIMIT_CPU",
            Resource::Fsize => "RLIMIT_FSIZE",
            Resource::Data => "RLIMIT_DATA",
            Resource::Stack => "RLIMIT_STACK",
            Resource::Core => "RLIMIT_CORE",
            Resource::Rss => "RLIMIT_RSS",
            Resource::Nproc => "RLIMIT_NPROC",
            Resource::Nofile => "RLIMIT_NOFILE",
            Resource::Memlock => "RLIMIT_MEMLOCK",
            Resource::As => "RLIMIT_AS",
            Resource::Locks => "RLIMIT_LOCKS",
            Resource::Sigpending => "RLIMIT_SIGPENDING",
            Resource::Msgqueue => "RLIMIT_MSGQUEUE",
            Resource::Nice => "RLIMIT_NICE",
            Resource::Rtprio => "RLIMIT_RTPRIO",
            Resource::Rttime => "RLIMIT_RTTIME",
        }
    }

    /// The resource as rustix names it.
    pub(crate) fn rustix(self) -> rustix::process::Resource {
        use rustix::process::Resource as R;
        match self {
            Resource::Cpu => R::Cpu,
            Resource::Fsize => R::Fsize,
            Resource::Data => R::Data,
            Resource::Stack => R::Stack,
            Resource::Core => R::Core,
            Resource::Rss => R::Rss,
            Resource::Nproc => R::Nproc,
            Resource::Nofile => R::Nofile,
            Resource::Memlock => R::Memlock,
            Resource::As => R::As,
            Resource::Locks => R::Locks,
            Resource::Sigpending => R::Sigpending,
            Resource::Msgqueue => R::Msgqueue,
            Resource::Nice => R::Nice,
            Resource::Rtprio => R::Rtprio,
            Resource::Rttime => R::Rttime,
        }
    }
}

bitflags::bitflags! {
    /// The execution domain and its flags (`personality(2)`), kept across `execve`.
    ///
    /// # References
    /// [personality(2)](https://man7.org/linux/man-pages/man2/personality.2.html)
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Personality: u32 {
        /// `PER_LINUX32`: `uname` reports a 32-bit machine (`i686` on x86_64).
        const LINUX32 = 0x0008;
        /// `UNAME26`: `uname` reports a 2.6.x kernel version.
        const UNAME26 = 0x0020000;
        /// `ADDR_NO_RANDOMIZE`: no address-space layout randomization.
        const ADDR_NO_RANDOMIZE = 0x0040000;
        /// `FDPIC_FUNCPTRS`: function pointers are descriptors.
        const FDPIC_FUNCPTRS = 0x0080000;
        /// `MMAP_PAGE_ZERO`: page 0 mapped read-only (cleared by a set-id `execve`).
        const MMAP_PAGE_ZERO = 0x0100000;
        /// `ADDR_COMPAT_LAYOUT`: the legacy virtual address-space layout.
        const ADDR_COMPAT_LAYOUT = 0x0200000;
        /// `READ_IMPLIES_EXEC`: readable mappings are executable.
        const READ_IMPLIES_EXEC = 0x0400000;
        /// `ADDR_LIMIT_32BIT`: addresses below 2 GiB.
        const ADDR_LIMIT_32BIT = 0x0800000;
        /// `SHORT_INODE`: (no effect on Linux).
        const SHORT_INODE = 0x1000000;
        /// `WHOLE_SECONDS`: (no effect on Linux).
        const WHOLE_SECONDS = 0x2000000;
        /// `STICKY_TIMEOUTS`: `select` does not modify its timeout.
        const STICKY_TIMEOUTS = 0x4000000;
        /// `ADDR_LIMIT_3GB`: a 3 GiB address space for 32-bit programs.
        const ADDR_LIMIT_3GB = 0x8000000;
        const _ = !0;
    }
}

/// Where the master side of the container's terminal goes
/// ([`terminal`](ContainerBuilder::terminal)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Terminal {
    /// To the handle: [`Container::take_terminal`](crate::Container::take_terminal).
    Handle,
    /// Over the Unix stream socket at this path, as OCI runtimes' `--console-socket`:
    /// the spawn connects to it before creating anything and, once the program runs,
    /// sends the master with `SCM_RIGHTS` (one byte of data).
    ConsoleSocket(PathBuf),
}

/// The process knobs a builder records.
#[derive(Clone, Debug, Default)]
pub(crate) struct Knobs {
    /// `(resource, soft, hard)` in the order given.
    pub rlimits: Vec<(Resource, u64, u64)>,
    pub umask: Option<u32>,
    pub oom_score_adj: Option<i32>,
    pub parent_death_signal: Option<linception_pidfd::Signal>,
    pub personality: Option<Personality>,
    pub terminal: Option<Terminal>,
    pub io_priority: Option<IoPriority>,
    pub scheduler: Option<Scheduler>,
    /// `setup_cpu_affinity`: the child's CPUs while it sets up.
    pub setup_cpus: Option<CpuList>,
    /// `cpu_affinity`: the program's CPUs.
    pub cpus: Option<CpuList>,
    /// `(rows, cols)` of the terminal.
    pub terminal_size: Option<(u16, u16)>,
}

impl Knobs {
    /// Whether the parent acts on the child before letting it go on (a hard limit
    /// above the caller's, the OOM score): the child then waits on the sync pipe.
    pub(crate) fn parent_side(&self) -> bool {
        self.raised().next().is_some() || self.oom_score_adj.is_some()
    }

    /// The limits whose hard value is above the caller's own: (resource, the
    /// caller's soft limit, the new hard limit).
    pub(crate) fn raised(&self) -> impl Iterator<Item = (Resource, Option<u64>, u64)> + '_ {
        self.rlimits.iter().filter_map(|&(r, _, hard)| {
            let own = rustix::process::getrlimit(r.rustix());
            (hard > own.maximum.unwrap_or(RLIM_INFINITY)).then_some((r, own.current, hard))
        })
    }
}

/// What the checks need to know about the caller.
#[derive(Clone, Debug)]
pub(crate) struct Facts {
    /// `CAP_SYS_RESOURCE` in the effective set, in the initial user namespace (the
    /// kernel checks both limits and OOM scores there).
    pub cap_sys_resource: bool,
    /// The caller's hard limits, by [`Resource::ALL`] order (`RLIM_INFINITY`: none).
    pub hard: [u64; 16],
    /// The caller's own `/proc/self/oom_score_adj`.
    pub oom_score_adj: i32,
    /// `/proc/sys/fs/nr_open`: the ceiling of `RLIMIT_NOFILE`.
    pub nr_open: u64,
    /// `CAP_SYS_NICE` in the effective set, in the initial user namespace.
    pub cap_sys_nice: bool,
    /// The caller's soft `RLIMIT_RTPRIO` (the real-time priority it may take).
    pub rtprio: u64,
    /// The caller's soft `RLIMIT_NICE` (`20 - limit`: the lowest nice it may take).
    pub rlimit_nice: u64,
    /// The caller's nice value.
    pub nice: i32,
}

impl Facts {
    /// The calling thread's facts, as far as `k` needs them (a spawn without limits
    /// or an OOM score reads nothing).
    pub(crate) fn gather(k: &Knobs) -> Facts {
        if k.rlimits.is_empty()
            && k.oom_score_adj.is_none()
            && k.scheduler.is_none()
            && k.io_priority.is_none()
        {
            return Facts {
                cap_sys_resource: false,
                hard: [RLIM_INFINITY; 16],
                oom_score_adj: 0,
                nr_open: u64::MAX,
                cap_sys_nice: false,
                rtprio: 0,
                rlimit_nice: 0,
                nice: 0,
            };
        }
        Facts::current()
    }

    /// The calling thread's facts.
    pub(crate) fn current() -> Facts {
        let effective = rustix::thread::capabilities(None).map(|c| c.effective);
        let has = |cap| effective.is_ok_and(|e| e.contains(cap));
        let cap = has(rustix::thread::CapabilitySet::SYS_RESOURCE);
        let soft = |r| {
            rustix::process::getrlimit(r)
                .current
                .unwrap_or(RLIM_INFINITY)
        };
        let initial_userns = crate::features::in_initial_user_namespace();
        let read_num = |path: &str| {
            let mut buf = [0u8; 32];
            crate::procfs::read_proc(path, &mut buf).and_then(|s| s.trim().parse::<i64>().ok())
        };
        Facts {
            cap_sys_resource: cap && initial_userns,
            hard: Resource::ALL.map(|r| {
                rustix::process::getrlimit(r.rustix())
                    .maximum
                    .unwrap_or(RLIM_INFINITY)
            }),
            oom_score_adj: read_num("/proc/self/oom_score_adj").unwrap_or(0) as i32,
            nr_open: read_num("/proc/sys/fs/nr_open").unwrap_or(1 << 20) as u64,
            cap_sys_nice: has(rustix::thread::CapabilitySet::SYS_NICE) && initial_userns,
            rtprio: soft(rustix::process::Resource::Rtprio),
            rlimit_nice: soft(rustix::process::Resource::Nice),
            nice: rustix::process::getpriority_process(None).unwrap_or(0),
        }
    }
}

/// A limit for a message: a number, or `RLIM_INFINITY`.
pub(crate) fn limit(v: u64) -> String {
    if v == RLIM_INFINITY {
        "RLIM_INFINITY".into()
    } else {
        v.to_string()
    }
}

/// The value checks shared by a spawn and `exec_in`: umask, personality, signal.
pub(crate) fn check_values(k: &Knobs) -> Result<()> {
    if let Some(mask) = k.umask
        && mask > 0o777
    {
        return Err(Error::invalid(
            format!("umask {mask:#o}"),
            "a umask has at most the permission bits 0o777",
        ));
    }
    if let Some(p) = k.personality
        && p.bits() == u32::MAX
    {
        return Err(Error::invalid(
            "personality 0xffffffff",
            "0xffffffff asks personality(2) for the current value, it sets nothing",
        ));
    }
    if let Some(sig) = k.parent_death_signal
        && (sig.as_raw() == 0 || rustix::process::Signal::from_named_raw(sig.as_raw()).is_none())
    {
        return Err(Error::invalid(
            format!("parent-death signal {}", sig.as_raw()),
            "not a standard signal (1..=31)",
        ));
    }
    check_scheduling(k)
}

/// Checks the knobs of a container spawn.
pub(crate) fn check(b: &ContainerBuilder, facts: &Facts) -> Result<()> {
    let k = &b.knobs;
    check_values(k)?;
    rlimits(k, facts)?;
    if let Some(adj) = k.oom_score_adj {
        if !(-1000..=1000).contains(&adj) {
            return Err(Error::invalid(
                format!("oom_score_adj {adj}"),
                "must be within -1000..=1000",
            ));
        }
        if adj < facts.oom_score_adj && !facts.cap_sys_resource {
            return Err(Error::denied(
                format!(
                    "oom_score_adj {adj} (the caller's is {})",
                    facts.oom_score_adj
                ),
                "lowering the OOM score below the caller's own needs CAP_SYS_RESOURCE in \
                 the initial user namespace",
            ));
        }
    }
    if let Some(t) = &k.terminal {
        terminal(b, t)?;
    }
    if let Some(what) = needs_cap_sys_nice(k, facts) {
        let userns = b.effective_namespaces().contains(Namespaces::USER)
            || b.joined_namespaces().contains(Namespaces::USER);
        if userns || !facts.cap_sys_nice {
            return Err(Error::denied(
                format!(
                    "{what} ({})",
                    if userns {
                        "the container is in its own user namespace"
                    } else {
                        "the caller has no CAP_SYS_NICE"
                    }
                ),
                "needs CAP_SYS_NICE (CAP_SYS_ADMIN for the I/O class) in the initial user \
                 namespace, or for a real-time priority or a lower nice value an RLIMIT_RTPRIO \
                 or RLIMIT_NICE allowing it",
            ));
        }
    }
    Ok(())
}

fn rlimits(k: &Knobs, facts: &Facts) -> Result<()> {
    for (i, &(res, soft, hard)) in k.rlimits.iter().enumerate() {
        let what = format!(
            "rlimit {} soft {} hard {}",
            res.name(),
            limit(soft),
            limit(hard)
        );
        if k.rlimits[..i].iter().any(|(r, _, _)| *r == res) {
            return Err(Error::invalid(what, "the resource is given twice"));
        }
        if soft > hard {
            return Err(Error::invalid(
                what,
                "the soft limit is above the hard limit",
            ));
        }
        if res == Resource::Nofile && hard > facts.nr_open {
            return Err(Error::invalid(
                format!("{what} (fs.nr_open is {})", facts.nr_open),
                "RLIMIT_NOFILE cannot exceed fs.nr_open",
            ));
        }
        let current = facts.hard[res as usize];
        if hard > current && !facts.cap_sys_resource {
            return Err(Error::denied(
                format!("{what} (the caller's hard limit is {})", limit(current)),
                "raising a hard limit needs CAP_SYS_RESOURCE in the initial user namespace",
            ));
        }
    }
    Ok(())
}

/// A terminal needs the container's own devpts on `/dev/pts` ([`Mount::dev`] on
/// `/dev`: a [`Mount::filesystem`] devpts is `nodev`, so its `ptmx` cannot be
/// opened) and the standard streams left to it.
///
/// [`Mount::dev`]: crate::Mount::dev
/// [`Mount::filesystem`]: crate::Mount::filesystem
fn terminal(b: &ContainerBuilder, t: &Terminal) -> Result<()> {
    let mount_ns = (b.effective_namespaces() | b.joined_namespaces()).contains(Namespaces::MOUNT);
    if !mount_ns || b.root.is_none() {
        return Err(Error::invalid(
            "terminal() without a root",
            "the pty is allocated from the container's own devpts instance: set a root() \
             with Mount::dev(\"/dev\")",
        ));
    }
    let has_devpts = b.mounts.iter().any(|m| {
        matches!(m.kind, MountKind::Dev { .. }) && m.target.as_os_str().as_bytes() == b"/dev"
    });
    if !has_devpts {
        return Err(Error::invalid(
            "terminal() without Mount::dev(\"/dev\")",
            "the pty is allocated from the container's own devpts instance on /dev/pts, \
             which Mount::dev(\"/dev\") makes (a devpts mounted with Mount::filesystem is \
             nodev: its ptmx cannot be opened)",
        ));
    }
    if let Some(n) = b.stdio.iter().position(|s| !matches!(s, Stdio::Inherit)) {
        return Err(Error::invalid(
            format!("{}() with terminal()", ["stdin", "stdout", "stderr"][n]),
            "with a terminal, the standard streams are the terminal",
        ));
    }
    if let Terminal::ConsoleSocket(path) = t {
        let bytes = path.as_os_str().as_bytes();
        let what = || format!("console socket path {}", shown(path.as_os_str()));
        if bytes.is_empty() {
            return Err(Error::invalid(what(), "the path is empty"));
        }
        if bytes.contains(&0) {
            return Err(Error::invalid(what(), "contains a NUL byte"));
        }
        if bytes.len() > 107 {
            return Err(Error::invalid(
                what(),
                "a Unix socket path has at most 107 bytes (sun_path)",
            ));
        }
    }
    Ok(())
}

/// Connects to the console socket, before anything is created.
pub(crate) fn connect_console(b: &ContainerBuilder) -> Result<Option<std::os::fd::OwnedFd>> {
    let Some(Terminal::ConsoleSocket(path)) = &b.knobs.terminal else {
        return Ok(None);
    };
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    let op = || format!("connect(console socket {})", shown(path.as_os_str()));
    let addr = SocketAddrUnix::new(path.as_path()).map_err(|e| Error::syscall(op(), e.into()))?;
    let sock = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| Error::syscall("socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC)", e.into()))?;
    rustix::net::connect(&sock, &addr).map_err(|e| Error::syscall(op(), e.into()))?;
    Ok(Some(sock))
}

/// The parent's part, while the child waits: hard limits above the caller's own
/// (`prlimit`; the child sets the exact limits itself at the end of its setup,
/// which only lowers them) and the OOM score (`/proc/<pid>/oom_score_adj`). The
/// child is the caller's unreaped child, so its pid cannot name another process.
/// Done from the parent because the kernel checks `CAP_SYS_RESOURCE` in the
/// initial user namespace, which the child, in a new user namespace, never has.
pub(crate) fn apply_in_parent(pid: linception_pidfd::Pid, k: &Knobs) -> Result<()> {
    let rpid = rustix::process::Pid::from_raw(pid.as_raw());
    for (res, soft, hard) in k.raised() {
        rustix::process::prlimit(
            rpid,
            res.rustix(),
            rustix::process::Rlimit {
                current: soft,
                maximum: (hard != RLIM_INFINITY).then_some(hard),
            },
        )
        .map_err(|e| {
            Error::syscall(
                format!("prlimit({pid}, {}, hard {})", res.name(), limit(hard)),
                e.into(),
            )
        })?;
    }
    if let Some(adj) = k.oom_score_adj {
        let path = format!("/proc/{pid}/oom_score_adj");
        std::fs::write(&path, adj.to_string())
            .map_err(|e| Error::syscall(format!("write({path}, \"{adj}\")"), e))?;
    }
    Ok(())
}

/// An I/O scheduling class (`IOPRIO_CLASS_*`), for
/// [`io_priority`](ContainerBuilder::io_priority).
///
/// # References
/// [ioprio_set(2)](https://man7.org/linux/man-pages/man2/ioprio_set.2.html)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IoClass {
    /// `IOPRIO_CLASS_RT`: first access to the disk, levels 0 (highest) to 7. Needs
    /// `CAP_SYS_ADMIN` or `CAP_SYS_NICE` in the initial user namespace.
    RealTime,
    /// `IOPRIO_CLASS_BE`: best effort (every process's default), levels 0 to 7.
    BestEffort,
    /// `IOPRIO_CLASS_IDLE`: disk time only when nobody else wants it.
    Idle,
}

impl IoClass {
    /// The C name (`"IOPRIO_CLASS_BE"`).
    pub fn name(self) -> &'static str {
        match self {
            IoClass::RealTime => "IOPRIO_CLASS_RT",
            IoClass::BestEffort => "IOPRIO_CLASS_BE",
            IoClass::Idle => "IOPRIO_CLASS_IDLE",
        }
    }

    fn raw(self) -> u16 {
        match self {
            IoClass::RealTime => 1,
            IoClass::BestEffort => 2,
            IoClass::Idle => 3,
        }
    }
}

/// The I/O priority of a container's program: a class and a level within it
/// ([`io_priority`](ContainerBuilder::io_priority)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IoPriority {
    class: IoClass,
    level: u8,
}

impl IoPriority {
    /// `class` at `level` (0, the highest, to 7; checked at spawn).
    pub fn new(class: IoClass, level: u8) -> IoPriority {
        IoPriority { class, level }
    }

    /// The class.
    pub fn class(&self) -> IoClass {
        self.class
    }

    /// The level within the class.
    pub fn level(&self) -> u8 {
        self.level
    }

    /// Checks the level (0 to 7), as a spawn does: for an embedder that wants the
    /// refusal before building a container (to name its own input).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the priority.
    pub fn validate(&self) -> Result<()> {
        if self.level > 7 {
            return Err(Error::invalid(
                format!("io_priority {} level {}", self.class.name(), self.level),
                "a level is 0 (highest) to 7",
            ));
        }
        Ok(())
    }

    /// The `ioprio` value of `ioprio_set(2)`: `IOPRIO_PRIO_VALUE(class, level)`.
    pub(crate) fn raw(&self) -> u16 {
        (self.class.raw() << 13) | u16::from(self.level)
    }
}

/// A scheduling policy (`SCHED_*`), for [`Scheduler`].
///
/// # References
/// [sched(7)](https://man7.org/linux/man-pages/man7/sched.7.html)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SchedPolicy {
    /// `SCHED_OTHER` (`SCHED_NORMAL`): the default time-sharing policy, with a nice value.
    Other,
    /// `SCHED_FIFO`: real-time first-in first-out, priority 1 to 99.
    Fifo,
    /// `SCHED_RR`: real-time round-robin, priority 1 to 99.
    RoundRobin,
    /// `SCHED_BATCH`: time-sharing for CPU-bound batch work, with a nice value.
    Batch,
    /// `SCHED_IDLE`: only when nothing else wants the CPU.
    Idle,
    /// `SCHED_DEADLINE` (Linux 3.14): runtime within each period before a deadline.
    Deadline,
}

impl SchedPolicy {
    /// The C name (`"SCHED_FIFO"`).
    pub fn name(self) -> &'static str {
        match self {
            SchedPolicy::Other => "SCHED_OTHER",
            SchedPolicy::Fifo => "SCHED_FIFO",
            SchedPolicy::RoundRobin => "SCHED_RR",
            SchedPolicy::Batch => "SCHED_BATCH",
            SchedPolicy::Idle => "SCHED_IDLE",
            SchedPolicy::Deadline => "SCHED_DEADLINE",
        }
    }

    /// The kernel's number for the policy.
    pub fn raw(self) -> u32 {
        match self {
            SchedPolicy::Other => 0,
            SchedPolicy::Fifo => 1,
            SchedPolicy::RoundRobin => 2,
            SchedPolicy::Batch => 3,
            SchedPolicy::Idle => 5,
            SchedPolicy::Deadline => 6,
        }
    }

    fn real_time(self) -> bool {
        matches!(self, SchedPolicy::Fifo | SchedPolicy::RoundRobin)
    }
}

bitflags::bitflags! {
    /// The `sched_flags` of `sched_setattr(2)` a [`Scheduler`] may carry (the
    /// utilization clamps, whose values it does not carry, are not among them).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct SchedFlags: u64 {
        /// `SCHED_FLAG_RESET_ON_FORK`: children start with the default policy.
        const RESET_ON_FORK = 0x01;
        /// `SCHED_FLAG_RECLAIM`: a deadline task may reclaim unused bandwidth.
        const RECLAIM = 0x02;
        /// `SCHED_FLAG_DL_OVERRUN`: `SIGXCPU` when a deadline task overruns.
        const DL_OVERRUN = 0x04;
        /// `SCHED_FLAG_KEEP_POLICY`: keep the current policy, change only the parameters.
        const KEEP_POLICY = 0x08;
        /// `SCHED_FLAG_KEEP_PARAMS`: keep the current parameters.
        const KEEP_PARAMS = 0x10;
    }
}

/// The scheduling attributes of a container's program
/// ([`scheduler`](ContainerBuilder::scheduler)), as `sched_setattr(2)` takes them.
///
/// ```
/// use linception::{SchedPolicy, Scheduler};
/// let batch = Scheduler::new(SchedPolicy::Batch).nice(10);
/// let fifo = Scheduler::new(SchedPolicy::Fifo).priority(20);
/// // 1 ms of CPU every 10 ms, within 5 ms of each period's start.
/// let dl = Scheduler::new(SchedPolicy::Deadline).deadline(1_000_000, 5_000_000, 10_000_000);
/// # let _ = (batch, fifo, dl);
/// ```
///
/// # References
/// [sched_setattr(2)](https://man7.org/linux/man-pages/man2/sched_setattr.2.html)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Scheduler {
    policy: SchedPolicy,
    nice: i32,
    priority: u32,
    flags: SchedFlags,
    runtime: u64,
    deadline: u64,
    period: u64,
}

impl Scheduler {
    /// `policy` with nice 0, priority 0, no flags and no deadline parameters.
    pub fn new(policy: SchedPolicy) -> Scheduler {
        Scheduler {
            policy,
            nice: 0,
            priority: 0,
            flags: SchedFlags::empty(),
            runtime: 0,
            deadline: 0,
            period: 0,
        }
    }

    /// The nice value (-20 to 19) of `SCHED_OTHER` or `SCHED_BATCH`.
    pub fn nice(mut self, nice: i32) -> Scheduler {
        self.nice = nice;
        self
    }

    /// The static priority (1 to 99) of `SCHED_FIFO` or `SCHED_RR`.
    pub fn priority(mut self, priority: u32) -> Scheduler {
        self.priority = priority;
        self
    }

    /// The flags.
    pub fn flags(mut self, flags: SchedFlags) -> Scheduler {
        self.flags = flags;
        self
    }

    /// The parameters of `SCHED_DEADLINE`, in nanoseconds: `runtime` of CPU in each
    /// `period`, within `deadline` of its start (`runtime <= deadline <= period`;
    /// a period of 0 is the deadline).
    pub fn deadline(mut self, runtime: u64, deadline: u64, period: u64) -> Scheduler {
        self.runtime = runtime;
        self.deadline = deadline;
        self.period = period;
        self
    }

    /// The policy.
    pub fn policy(&self) -> SchedPolicy {
        self.policy
    }

    /// Checks the attributes as a spawn does (the rules of
    /// [`scheduler`](ContainerBuilder::scheduler)), for an embedder that wants the
    /// refusal before building a container (to name its own input).
    ///
    /// ```
    /// use linception::{SchedPolicy, Scheduler};
    /// let e = Scheduler::new(SchedPolicy::Fifo).priority(100).validate().unwrap_err();
    /// assert!(e.to_string().contains("1 to 99"));
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the attributes.
    pub fn validate(&self) -> Result<()> {
        scheduler(self)
    }

    /// How the spawn names these attributes (in errors and step labels).
    pub(crate) fn shown(&self) -> String {
        let mut s = format!("scheduler {}", self.policy.name());
        match self.policy {
            SchedPolicy::Fifo | SchedPolicy::RoundRobin => {
                s += &format!(" priority {}", self.priority)
            }
            SchedPolicy::Deadline => {
                s += &format!(
                    " runtime {} deadline {} period {}",
                    self.runtime, self.deadline, self.period
                )
            }
            _ => s += &format!(" nice {}", self.nice),
        }
        if !self.flags.is_empty() {
            s += &format!(" flags {:?}", self.flags);
        }
        s
    }

    /// The kernel's `struct sched_attr` (its first version, 48 bytes).
    pub(crate) fn attr(&self) -> crate::sys::SchedAttr {
        crate::sys::SchedAttr {
            size: size_of::<crate::sys::SchedAttr>() as u32,
            sched_policy: self.policy.raw(),
            sched_flags: self.flags.bits(),
            sched_nice: self.nice,
            sched_priority: self.priority,
            sched_runtime: self.runtime,
            sched_deadline: self.deadline,
            sched_period: self.period,
        }
    }
}

/// A set of CPUs, as the kernel lists them (`"0-3,7"`), for
/// [`cpu_affinity`](ContainerBuilder::cpu_affinity).
///
/// ```
/// use linception::CpuList;
/// let cpus = CpuList::parse("0-2,7")?;
/// assert_eq!(cpus.cpus(), [0, 1, 2, 7]);
/// assert_eq!(cpus.to_string(), "0-2,7");
/// # Ok::<(), linception::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CpuList {
    /// Sorted, without duplicates.
    cpus: Vec<u32>,
}

impl CpuList {
    /// The highest CPU number a list may hold, plus one (`CPU_SETSIZE`).
    pub const MAX: u32 = 1024;

    /// These CPUs (in any order; checked at spawn: not empty, each below [`CpuList::MAX`]).
    pub fn new(cpus: impl IntoIterator<Item = u32>) -> CpuList {
        let mut cpus: Vec<u32> = cpus.into_iter().collect();
        cpus.sort_unstable();
        cpus.dedup();
        CpuList { cpus }
    }

    /// Parses a list such as `"0-3,7"` (comma-separated CPUs and ranges, as in
    /// `/sys/devices/system/cpu/online` or `taskset -c`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the list for an empty list, a part that is
    /// not a number or a range, a range whose end comes before its start, or a
    /// CPU at or above [`CpuList::MAX`].
    pub fn parse(list: &str) -> Result<CpuList> {
        let bad = |reason| Error::invalid(format!("CPU list {list:?}"), reason);
        let num = |s: &str| -> Result<u32> {
            let n: u32 = s
                .trim()
                .parse()
                .map_err(|_| bad("each part is a CPU number or a range N-M"))?;
            if n >= CpuList::MAX {
                return Err(bad("a CPU number is below 1024 (CPU_SETSIZE)"));
            }
            Ok(n)
        };
        if list.trim().is_empty() {
            return Err(bad("the list is empty"));
        }
        let mut cpus = Vec::new();
        for part in list.split(',') {
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (num(a)?, num(b)?);
                    if a > b {
                        return Err(bad("a range ends before it starts"));
                    }
                    cpus.extend(a..=b);
                }
                None => cpus.push(num(part)?),
            }
        }
        Ok(CpuList::new(cpus))
    }

    /// The CPUs, in increasing order.
    pub fn cpus(&self) -> &[u32] {
        &self.cpus
    }

    /// The list as the kernel's mask type.
    pub(crate) fn cpu_set(&self) -> rustix::thread::CpuSet {
        let mut set = rustix::thread::CpuSet::new();
        for &cpu in &self.cpus {
            set.set(cpu as usize);
        }
        set
    }
}

impl std::fmt::Display for CpuList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut i = 0;
        let mut first = true;
        while i < self.cpus.len() {
            let start = self.cpus[i];
            let mut end = start;
            while i + 1 < self.cpus.len() && self.cpus[i + 1] == end + 1 {
                i += 1;
                end = self.cpus[i];
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if end == start {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{end}")?;
            }
            i += 1;
        }
        Ok(())
    }
}

/// The CPUs online now (`/sys/devices/system/cpu/online`; `None` if unreadable).
fn online_cpus() -> Option<CpuList> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").ok()?;
    CpuList::parse(text.trim()).ok()
}

/// The checks of the scheduling knobs, shared by a spawn and `exec_in`: I/O
/// priority, scheduler, CPU lists, terminal size.
fn check_scheduling(k: &Knobs) -> Result<()> {
    if let Some(io) = k.io_priority {
        io.validate()?;
    }
    if let Some(s) = &k.scheduler {
        s.validate()?;
    }
    for (which, list) in [
        ("setup_cpu_affinity", &k.setup_cpus),
        ("cpu_affinity", &k.cpus),
    ] {
        let Some(list) = list else { continue };
        let what = || format!("{which} CPU list {list:?}", list = list.to_string());
        if list.cpus.is_empty() {
            return Err(Error::invalid(what(), "the list is empty"));
        }
        if list.cpus.last().is_some_and(|&c| c >= CpuList::MAX) {
            return Err(Error::invalid(
                what(),
                "a CPU number is below 1024 (CPU_SETSIZE)",
            ));
        }
        if let Some(online) = online_cpus()
            && !list.cpus.iter().any(|c| online.cpus.contains(c))
        {
            return Err(Error::invalid(
                format!("{} (online: {online})", what()),
                "no CPU of the list is online",
            ));
        }
    }
    if let Some((rows, cols)) = k.terminal_size
        && k.terminal.is_none()
    {
        return Err(Error::invalid(
            format!("terminal_size({rows}, {cols}) without terminal()"),
            "a console size is that of the container's terminal: ask for one with terminal()",
        ));
    }
    Ok(())
}

fn scheduler(s: &Scheduler) -> Result<()> {
    let bad = |reason| Err(Error::invalid(s.shown(), reason));
    if !(-20..=19).contains(&s.nice) {
        return bad("a nice value is -20 to 19");
    }
    if s.nice != 0 && !matches!(s.policy, SchedPolicy::Other | SchedPolicy::Batch) {
        return bad("a nice value is for SCHED_OTHER or SCHED_BATCH");
    }
    if s.policy.real_time() {
        if !(1..=99).contains(&s.priority) {
            return bad("SCHED_FIFO and SCHED_RR take a priority of 1 to 99");
        }
    } else if s.priority != 0 {
        return bad("a priority is for SCHED_FIFO or SCHED_RR only (the others take 0)");
    }
    if s.policy != SchedPolicy::Deadline {
        if s.runtime != 0 || s.deadline != 0 || s.period != 0 {
            return bad("runtime, deadline and period are for SCHED_DEADLINE only");
        }
        if s.flags
            .intersects(SchedFlags::RECLAIM | SchedFlags::DL_OVERRUN)
        {
            return bad("SCHED_FLAG_RECLAIM and SCHED_FLAG_DL_OVERRUN are for SCHED_DEADLINE");
        }
        return Ok(());
    }
    let period = if s.period == 0 { s.deadline } else { s.period };
    if s.deadline == 0 {
        return bad("SCHED_DEADLINE needs a deadline");
    }
    if s.runtime < 1024 {
        return bad("a SCHED_DEADLINE runtime is at least 1024 ns");
    }
    if s.runtime > s.deadline || s.deadline > period {
        return bad("SCHED_DEADLINE needs runtime <= deadline <= period");
    }
    if period > 1 << 63 {
        return bad("a SCHED_DEADLINE period is below 2^63 ns");
    }
    Ok(())
}

/// What of the scheduling knobs needs `CAP_SYS_NICE` (or `CAP_SYS_ADMIN` for the
/// I/O class) in the initial user namespace, given the caller's limits: `None`
/// when nothing does.
fn needs_cap_sys_nice(k: &Knobs, facts: &Facts) -> Option<String> {
    if let Some(io) = k.io_priority
        && io.class == IoClass::RealTime
    {
        return Some(format!(
            "io_priority {} level {}",
            io.class.name(),
            io.level
        ));
    }
    let s = k.scheduler.as_ref()?;
    let allowed = match s.policy {
        SchedPolicy::Deadline => false,
        SchedPolicy::Idle => true,
        p if p.real_time() => u64::from(s.priority) <= facts.rtprio,
        // Below the caller's nice: allowed down to 20 - RLIMIT_NICE.
        _ => s.nice >= facts.nice || i64::from(20 - s.nice) <= facts.rlimit_nice as i64,
    };
    (!allowed).then(|| s.shown())
}

/// The scheduling knobs and the terminal's size.
impl ContainerBuilder {
    /// The program's I/O scheduling class and level (`ioprio_set(2)` on the child,
    /// before its uid change; kept across `execve`). Default: the caller's.
    ///
    /// ```
    /// use linception::{Container, IoClass, IoPriority};
    /// let b = Container::builder("/usr/bin/backup").io_priority(IoPriority::new(IoClass::Idle, 0));
    /// # let _ = b;
    /// ```
    ///
    /// # Errors
    /// At spawn, [`Error::InvalidArgument`] for a level above 7;
    /// [`Error::PermissionDenied`] for [`IoClass::RealTime`] unless the caller has
    /// `CAP_SYS_NICE` in the initial user namespace and the container makes or joins
    /// no user namespace (the kernel checks there, before the container's uid
    /// change). In [`exec_in`](crate::Container::exec_in) the kernel's refusal is a
    /// [`Error::Setup`] naming the step.
    ///
    /// # References
    /// [ioprio_set(2)](https://man7.org/linux/man-pages/man2/ioprio_set.2.html)
    #[doc(alias = "ioprio_set")]
    pub fn io_priority(mut self, priority: IoPriority) -> Self {
        self.knobs.io_priority = Some(priority);
        self
    }

    /// The program's scheduling policy and attributes (`sched_setattr(2)` on the
    /// child, before its uid change; kept across `execve`). Default: the caller's.
    ///
    /// ```
    /// use linception::{Container, SchedPolicy, Scheduler};
    /// let b = Container::builder("/usr/bin/make")
    ///     .scheduler(Scheduler::new(SchedPolicy::Batch).nice(10));
    /// # let _ = b;
    /// ```
    ///
    /// # Errors
    /// At spawn, before anything is created, [`Error::InvalidArgument`] naming the
    /// attributes for: a nice value outside -20..=19 or with a policy other than
    /// `SCHED_OTHER`/`SCHED_BATCH`; a priority outside 1..=99 for `SCHED_FIFO`/`SCHED_RR`
    /// or other than 0 for the rest; deadline parameters with another policy, or
    /// without `1024 <= runtime <= deadline <= period`. [`Error::PermissionDenied`]
    /// for what needs `CAP_SYS_NICE` in the initial user namespace (a real-time
    /// priority above the caller's `RLIMIT_RTPRIO`, `SCHED_DEADLINE`, a nice value
    /// below the caller's and beyond its `RLIMIT_NICE`) when the caller lacks it or
    /// the container makes or joins a user namespace. The kernel may still refuse
    /// (`SCHED_DEADLINE` admission control, a CPU affinity narrower than its root
    /// domain): a [`Error::Setup`] naming the step.
    ///
    /// # References
    /// [sched_setattr(2)](https://man7.org/linux/man-pages/man2/sched_setattr.2.html),
    /// [sched(7)](https://man7.org/linux/man-pages/man7/sched.7.html)
    #[doc(alias = "sched_setattr")]
    pub fn scheduler(mut self, scheduler: Scheduler) -> Self {
        self.knobs.scheduler = Some(scheduler);
        self
    }

    /// The CPUs the program runs on: `sched_setaffinity(2)` of the child just
    /// before its uid change, after the rest of its setup (kept across `execve`).
    /// Default: the caller's affinity.
    ///
    /// ```
    /// use linception::{Container, CpuList};
    /// let b = Container::builder("/bin/true").cpu_affinity(CpuList::parse("0")?);
    /// # let _ = b;
    /// # Ok::<(), linception::Error>(())
    /// ```
    ///
    /// # Errors
    /// At spawn, [`Error::InvalidArgument`] naming the list for an empty list or
    /// one with no CPU online. The kernel refuses CPUs outside the caller's cpuset
    /// (`EINVAL`, a [`Error::Setup`] naming the step).
    ///
    /// # References
    /// [sched_setaffinity(2)](https://man7.org/linux/man-pages/man2/sched_setaffinity.2.html)
    #[doc(alias = "sched_setaffinity")]
    pub fn cpu_affinity(mut self, cpus: CpuList) -> Self {
        self.knobs.cpus = Some(cpus);
        self
    }

    /// The CPUs the child runs on while it sets the container up: its first step
    /// after `clone3` (before joining or making namespaces), until
    /// [`cpu_affinity`](ContainerBuilder::cpu_affinity) (if given) replaces it
    /// before `execve`. Without `cpu_affinity`, the program keeps this one. What
    /// the OCI runtime spec calls `execCPUAffinity.initial`: the setup work stays
    /// off CPUs reserved for the program.
    ///
    /// # Errors
    /// As [`cpu_affinity`](ContainerBuilder::cpu_affinity).
    pub fn setup_cpu_affinity(mut self, cpus: CpuList) -> Self {
        self.knobs.setup_cpus = Some(cpus);
        self
    }

    /// The size of the container's terminal, in character rows and columns
    /// (`TIOCSWINSZ` on it, before the master is handed over). Default: the kernel's
    /// (0 by 0).
    ///
    /// # Errors
    /// At spawn, [`Error::InvalidArgument`] without
    /// [`terminal`](ContainerBuilder::terminal).
    ///
    /// # References
    /// [TIOCSWINSZ(2const)](https://man7.org/linux/man-pages/man2/TIOCSWINSZ.2const.html)
    #[doc(alias = "TIOCSWINSZ")]
    pub fn terminal_size(mut self, rows: u16, cols: u16) -> Self {
        self.knobs.terminal_size = Some((rows, cols));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Container, Mount, RootFs};

    fn facts(cap: bool) -> Facts {
        let mut hard = [RLIM_INFINITY; 16];
        hard[Resource::Nofile as usize] = 4096;
        hard[Resource::Core as usize] = 0;
        Facts {
            cap_sys_resource: cap,
            hard,
            oom_score_adj: 100,
            nr_open: 1 << 20,
            cap_sys_nice: cap,
            rtprio: 0,
            rlimit_nice: 0,
            nice: 0,
        }
    }

    fn refused(b: ContainerBuilder, cap: bool) -> Error {
        check(&b, &facts(cap)).expect_err("should be refused")
    }

    fn tty() -> ContainerBuilder {
        Container::builder("/bin/sh")
            .root(RootFs::Tmpfs)
            .mount(Mount::dev("/dev"))
            .terminal(Terminal::Handle)
    }

    #[test]
    fn rlimits_are_checked() {
        let b = || Container::builder("/bin/true");
        let e = refused(b().rlimit(Resource::Nofile, 10, 5), true);
        assert_eq!(
            e.to_string(),
            "invalid rlimit RLIMIT_NOFILE soft 10 hard 5: the soft limit is above the hard limit"
        );
        let e = refused(
            b().rlimit(Resource::Cpu, 1, 2).rlimit(Resource::Cpu, 1, 3),
            true,
        );
        assert!(e.to_string().contains("given twice"), "{e}");
        let e = refused(b().rlimit(Resource::Nofile, 10, RLIM_INFINITY), true);
        assert!(e.to_string().contains("fs.nr_open"), "{e}");
        // Raising a hard limit: denied without the capability, not with it.
        let e = refused(b().rlimit(Resource::Core, 0, 1), false);
        assert_eq!(e.kind(), crate::ErrorKind::PermissionDenied, "{e}");
        assert!(e.to_string().contains("hard limit is 0"), "{e}");
        check(&b().rlimit(Resource::Core, 0, 1), &facts(true)).unwrap();
        // Lowering, or staying at, the caller's hard limit is anyone's right.
        check(
            &b().rlimit(Resource::Nofile, 64, 4096).rlimit(
                Resource::Cpu,
                RLIM_INFINITY,
                RLIM_INFINITY,
            ),
            &facts(false),
        )
        .unwrap();
    }

    #[test]
    fn values_are_checked() {
        let b = || Container::builder("/bin/true");
        let e = refused(b().umask(0o1000), true);
        assert!(e.to_string().starts_with("invalid umask 0o1000"), "{e}");
        check(&b().umask(0o777), &facts(false)).unwrap();
        for adj in [-1001, 1001] {
            let e = refused(b().oom_score_adj(adj), true);
            assert!(e.to_string().contains("-1000..=1000"), "{e}");
        }
        let e = refused(b().oom_score_adj(99), false);
        assert_eq!(e.kind(), crate::ErrorKind::PermissionDenied, "{e}");
        check(&b().oom_score_adj(99), &facts(true)).unwrap();
        check(&b().oom_score_adj(100), &facts(false)).unwrap();
        check(&b().oom_score_adj(1000), &facts(false)).unwrap();
        let e = refused(b().personality(Personality::all()), true);
        assert!(e.to_string().contains("0xffffffff"), "{e}");
        check(&b().personality(Personality::LINUX32), &facts(false)).unwrap();
        for raw in [0, 34, 64] {
            let sig = linception_pidfd::Signal::from_raw(raw).unwrap();
            let e = refused(b().parent_death_signal(sig), true);
            assert!(e.to_string().contains("standard signal"), "{raw}: {e}");
        }
        check(
            &b().parent_death_signal(linception_pidfd::Signal::KILL),
            &facts(false),
        )
        .unwrap();
    }

    #[test]
    fn a_terminal_needs_a_devpts_and_the_stdio() {
        check(&tty(), &facts(false)).unwrap();
        let e = refused(
            Container::builder("/bin/sh").terminal(Terminal::Handle),
            false,
        );
        assert!(e.to_string().contains("without a root"), "{e}");
        let e = refused(
            Container::builder("/bin/sh")
                .root(RootFs::Tmpfs)
                .terminal(Terminal::Handle),
            false,
        );
        assert!(e.to_string().contains("without Mount::dev"), "{e}");
        for m in [
            Mount::filesystem("devpts", "/dev/pts"),
            Mount::dev("/elsewhere"),
        ] {
            let e = refused(
                Container::builder("/bin/sh")
                    .root(RootFs::Tmpfs)
                    .mount(m)
                    .terminal(Terminal::Handle),
                false,
            );
            assert!(e.to_string().contains("without Mount::dev"), "{e}");
        }
        let e = refused(tty().stdout(Stdio::Null), false);
        assert!(
            e.to_string()
                .starts_with("invalid stdout() with terminal()"),
            "{e}"
        );
        let e = refused(tty().terminal(Terminal::ConsoleSocket("".into())), false);
        assert!(e.to_string().contains("empty"), "{e}");
        let long = PathBuf::from("/".repeat(108));
        let e = refused(tty().terminal(Terminal::ConsoleSocket(long)), false);
        assert!(e.to_string().contains("107 bytes"), "{e}");
    }

    #[test]
    fn scheduling_values_are_checked() {
        let b = || Container::builder("/bin/true");
        let sched = |s: Scheduler| refused(b().scheduler(s), true).to_string();
        let e = sched(Scheduler::new(SchedPolicy::Other).nice(20));
        assert_eq!(
            e,
            "invalid scheduler SCHED_OTHER nice 20: a nice value is -20 to 19"
        );
        let e = sched(Scheduler::new(SchedPolicy::Fifo).priority(0));
        assert!(e.contains("1 to 99"), "{e}");
        let e = sched(Scheduler::new(SchedPolicy::Fifo).priority(10).nice(1));
        assert!(e.contains("SCHED_OTHER or SCHED_BATCH"), "{e}");
        let e = sched(Scheduler::new(SchedPolicy::Batch).priority(3));
        assert!(e.contains("priority is for SCHED_FIFO"), "{e}");
        let e = sched(Scheduler::new(SchedPolicy::Other).deadline(1, 2, 3));
        assert!(e.contains("for SCHED_DEADLINE only"), "{e}");
        let e = sched(Scheduler::new(SchedPolicy::Deadline).deadline(20_000, 10_000, 30_000));
        assert_eq!(
            e,
            "invalid scheduler SCHED_DEADLINE runtime 20000 deadline 10000 period 30000: \
             SCHED_DEADLINE needs runtime <= deadline <= period"
        );
        let e = sched(Scheduler::new(SchedPolicy::Deadline).deadline(10_000, 30_000, 20_000));
        assert!(e.contains("runtime <= deadline <= period"), "{e}");
        let e = sched(Scheduler::new(SchedPolicy::Deadline).deadline(100, 1000, 1000));
        assert!(e.contains("1024 ns"), "{e}");
        let e = sched(Scheduler::new(SchedPolicy::Deadline));
        assert!(e.contains("needs a deadline"), "{e}");
        let e = sched(Scheduler::new(SchedPolicy::Other).flags(SchedFlags::RECLAIM));
        assert!(e.contains("SCHED_FLAG_RECLAIM"), "{e}");
        for ok in [
            Scheduler::new(SchedPolicy::Batch).nice(19),
            Scheduler::new(SchedPolicy::Idle),
            Scheduler::new(SchedPolicy::Other).flags(SchedFlags::RESET_ON_FORK),
        ] {
            check(&b().scheduler(ok), &facts(false)).unwrap();
        }
        // Privileged values: with the capability and no user namespace of the
        // container's own; never in a new user namespace.
        let host = || b().share(Namespaces::USER);
        let rt = Scheduler::new(SchedPolicy::RoundRobin).priority(5);
        check(&host().scheduler(rt), &facts(true)).unwrap();
        let e = refused(host().scheduler(rt), false);
        assert_eq!(e.kind(), crate::ErrorKind::PermissionDenied, "{e}");
        assert!(e.to_string().contains("no CAP_SYS_NICE"), "{e}");
        let e = refused(b().scheduler(rt), true);
        assert!(e.to_string().contains("own user namespace"), "{e}");
        let e = refused(
            host().scheduler(Scheduler::new(SchedPolicy::Other).nice(-1)),
            false,
        );
        assert_eq!(e.kind(), crate::ErrorKind::PermissionDenied, "{e}");
        let mut limited = facts(false);
        limited.rtprio = 5;
        check(&host().scheduler(rt), &limited).unwrap();
        check(&b().scheduler(rt), &limited).unwrap();
    }

    #[test]
    fn io_priorities_are_checked() {
        let b = || Container::builder("/bin/true").share(Namespaces::USER);
        let e = refused(
            b().io_priority(IoPriority::new(IoClass::BestEffort, 8)),
            true,
        );
        assert_eq!(
            e.to_string(),
            "invalid io_priority IOPRIO_CLASS_BE level 8: a level is 0 (highest) to 7"
        );
        check(
            &b().io_priority(IoPriority::new(IoClass::Idle, 0)),
            &facts(false),
        )
        .unwrap();
        let rt = IoPriority::new(IoClass::RealTime, 0);
        check(&b().io_priority(rt), &facts(true)).unwrap();
        let e = refused(b().io_priority(rt), false);
        assert_eq!(e.kind(), crate::ErrorKind::PermissionDenied, "{e}");
        assert_eq!(IoPriority::new(IoClass::BestEffort, 4).raw(), (2 << 13) | 4);
    }

    #[test]
    fn cpu_lists_parse_and_show() {
        let l = CpuList::parse("7,0-2, 3").unwrap();
        assert_eq!(l.cpus(), [0, 1, 2, 3, 7]);
        assert_eq!(l.to_string(), "0-3,7");
        assert_eq!(CpuList::new([5, 1, 5]).to_string(), "1,5");
        for (bad, why) in [
            ("", "empty"),
            ("1-", "range"),
            ("x", "range"),
            ("3-1", "ends before"),
            ("1024", "below 1024"),
        ] {
            let e = CpuList::parse(bad).unwrap_err().to_string();
            assert!(
                e.contains(why) && e.contains(&format!("{bad:?}")),
                "{bad}: {e}"
            );
        }
        let b = || Container::builder("/bin/true");
        let e = refused(b().cpu_affinity(CpuList::new([])), false);
        assert!(e.to_string().contains("empty"), "{e}");
        let e = refused(b().setup_cpu_affinity(CpuList::new([1000])), false);
        assert!(e.to_string().contains("online"), "{e}");
        check(&b().cpu_affinity(CpuList::new([0])), &facts(false)).unwrap();
    }

    #[test]
    fn a_terminal_size_needs_a_terminal() {
        let e = refused(Container::builder("/bin/sh").terminal_size(24, 80), false);
        assert!(e.to_string().contains("without terminal()"), "{e}");
        check(&tty().terminal_size(24, 80), &facts(false)).unwrap();
    }
}
