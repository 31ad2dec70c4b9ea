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
}

impl Facts {
    /// The calling thread's facts, as far as `k` needs them (a spawn without limits
    /// or an OOM score reads nothing).
    pub(crate) fn gather(k: &Knobs) -> Facts {
        if k.rlimits.is_empty() && k.oom_score_adj.is_none() {
            return Facts {
                cap_sys_resource: false,
                hard: [RLIM_INFINITY; 16],
                oom_score_adj: 0,
                nr_open: u64::MAX,
            };
        }
        Facts::current()
    }

    /// The calling thread's facts.
    pub(crate) fn current() -> Facts {
        let cap = rustix::thread::capabilities(None)
            .map(|c| {
                c.effective
                    .contains(rustix::thread::CapabilitySet::SYS_RESOURCE)
            })
            .unwrap_or(false);
        let initial_userns = std::fs::read_to_string("/proc/self/uid_map")
            .map(|m| m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"])
            .unwrap_or(false);
        let read_num = |path: &str| {
            std::fs::read_to_string(path)
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
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
    Ok(())
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
    if !b.effective_namespaces().contains(Namespaces::MOUNT) || b.root.is_none() {
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
}
