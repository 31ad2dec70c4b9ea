//! The container builder: records what the container should look like.
#![forbid(unsafe_code)]

use std::ffi::{OsStr, OsString};
use std::os::fd::{OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use crate::caps::Capabilities;
use crate::cgroup::Cgroup;
use crate::mount::Mount;
use crate::seccomp::Seccomp;

bitflags::bitflags! {
    /// The namespaces a container gets, named after their `CLONE_NEW*` flag.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Namespaces: u64 {
        /// `CLONE_NEWUSER`: its own uids/gids and capabilities (Linux 3.8).
        const USER = libc::CLONE_NEWUSER as u64;
        /// `CLONE_NEWNS`: its own mount table (Linux 2.4.19).
        const MOUNT = libc::CLONE_NEWNS as u64;
        /// `CLONE_NEWPID`: its own pid numbers; the program is pid 1 (Linux 2.6.24).
        const PID = libc::CLONE_NEWPID as u64;
        /// `CLONE_NEWUTS`: its own hostname (Linux 2.6.19).
        const UTS = libc::CLONE_NEWUTS as u64;
        /// `CLONE_NEWIPC`: its own System V IPC and POSIX message queues (Linux 2.6.19).
        const IPC = libc::CLONE_NEWIPC as u64;
        /// `CLONE_NEWNET`: its own network stack (only a loopback, down) (Linux 2.6.29).
        const NET = libc::CLONE_NEWNET as u64;
        /// `CLONE_NEWCGROUP`: its cgroup becomes the root of its view (Linux 4.6).
        const CGROUP = libc::CLONE_NEWCGROUP as u64;
        /// `CLONE_NEWTIME`: its own `CLOCK_MONOTONIC`/`CLOCK_BOOTTIME` offsets (Linux 5.6).
        const TIME = libc::CLONE_NEWTIME as u64;
    }
}

impl Namespaces {
    /// What a builder creates unless told otherwise: every namespace but
    /// [`TIME`](Namespaces::TIME) (user, mount, pid, uts, ipc, net, cgroup), so the
    /// program is isolated from the host in every respect the kernel offers, and
    /// root inside is the caller outside.
    pub const DEFAULT: Namespaces = Namespaces::USER
        .union(Namespaces::MOUNT)
        .union(Namespaces::PID)
        .union(Namespaces::UTS)
        .union(Namespaces::IPC)
        .union(Namespaces::NET)
        .union(Namespaces::CGROUP);
}

/// How the ids of a new user namespace map to the caller's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
// An `IdMap` holds its extents inline; a builder holds two of these, once.
#[allow(clippy::large_enum_variant)]
pub enum IdMapping {
    /// The default, rootless-friendly map: id 0 inside is the caller's effective id.
    #[default]
    RootIsCaller,
    /// An explicit map (writing more than the caller's own id needs `CAP_SETUID` /
    /// `CAP_SETGID` over the caller's namespace).
    Map(linception_userns::IdMap),
    /// Id 0 is the caller's id, and ids 1.. are the user's ranges in `/etc/subuid`
    /// and `/etc/subgid` (read at spawn). Writing them needs `CAP_SETUID`/`CAP_SETGID`.
    SubIds {
        /// The user name (or numeric uid) to look up.
        user: String,
    },
}

/// What a standard stream of the container is connected to.
#[derive(Debug, Default)]
#[non_exhaustive]
pub enum Stdio {
    /// The caller's own stream (the default).
    #[default]
    Inherit,
    /// `/dev/null` (opened by the parent, before the container's root changes).
    Null,
    /// A pipe; the caller's end is on the [`Container`](crate::Container)
    /// (`take_stdin`, `take_stdout`, `take_stderr`).
    Piped,
    /// This fd (a file, a socket, one end of a pipe of your own).
    Fd(OwnedFd),
}

impl From<OwnedFd> for Stdio {
    fn from(fd: OwnedFd) -> Self {
        Stdio::Fd(fd)
    }
}

impl From<std::fs::File> for Stdio {
    fn from(f: std::fs::File) -> Self {
        Stdio::Fd(f.into())
    }
}

/// The root filesystem of the container.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RootFs {
    /// A host directory (bound recursively onto itself, then made the root).
    Dir(PathBuf),
    /// An empty tmpfs, to be filled with [`Mount`]s (binds of host directories...).
    Tmpfs,
}

/// The session keyring the container starts with.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionKeyring {
    /// A new anonymous session keyring (`KEYCTL_JOIN_SESSION_KEYRING` with no name).
    Anonymous,
    /// A new session keyring with this name (names starting with "." are refused).
    Named(String),
}

/// Builds a container: like [`std::process::Command`], plus namespaces, id maps,
/// a root filesystem and a security setup. Setters only record; [`spawn`] checks
/// everything and does all the work.
///
/// ```no_run
/// use linception::{Container, Mount, Namespaces, RootFs};
///
/// let mut c = Container::builder("/bin/true")
///     .namespaces(Namespaces::USER | Namespaces::MOUNT | Namespaces::PID)
///     .root(RootFs::Tmpfs)
///     .mount(Mount::bind("/usr", "/usr").read_only().recursive())
///     .mount(Mount::symlink("usr/bin", "/bin"))
///     .mount(Mount::symlink("usr/lib", "/lib"))
///     .mount(Mount::symlink("usr/lib64", "/lib64"))
///     .spawn()?;
/// assert!(c.wait()?.success());
/// # Ok::<(), linception::Error>(())
/// ```
///
/// [`spawn`]: ContainerBuilder::spawn
#[derive(Debug)]
#[must_use]
pub struct ContainerBuilder {
    pub(crate) program: OsString,
    pub(crate) args: Vec<OsString>,
    pub(crate) env_clear: bool,
    pub(crate) env: Vec<(OsString, Option<OsString>)>,
    pub(crate) cwd: Option<PathBuf>,
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
    pub(crate) groups: Option<Vec<u32>>,
    pub(crate) namespaces: Namespaces,
    /// Whether `namespaces()` or `share()` changed the default (exec_in refuses it).
    pub(crate) namespaces_chosen: bool,
    pub(crate) monotonic_offset: Option<(i64, u32)>,
    pub(crate) boottime_offset: Option<(i64, u32)>,
    pub(crate) hostname: Option<OsString>,
    pub(crate) uid_map: IdMapping,
    pub(crate) gid_map: IdMapping,
    pub(crate) set_tid: Option<i32>,
    pub(crate) cgroup: Option<Cgroup>,
    pub(crate) root: Option<RootFs>,
    pub(crate) read_only_root: bool,
    pub(crate) mounts: Vec<Mount>,
    pub(crate) stdio: [Stdio; 3],
    pub(crate) fds: Vec<(RawFd, OwnedFd)>,
    pub(crate) seccomp: Option<Seccomp>,
    pub(crate) capabilities: Option<Capabilities>,
    pub(crate) no_new_privs: bool,
    pub(crate) keyring: Option<SessionKeyring>,
    /// Limits, umask, OOM score, parent-death signal, personality, terminal.
    pub(crate) knobs: crate::process::Knobs,
}

impl ContainerBuilder {
    /// A builder for `program` (a path, or a name looked up in the container's
    /// `PATH` at exec, like [`std::process::Command::new`]).
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        ContainerBuilder {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env_clear: false,
            env: Vec::new(),
            cwd: None,
            uid: None,
            gid: None,
            groups: None,
            namespaces: Namespaces::DEFAULT,
            namespaces_chosen: false,
            monotonic_offset: None,
            boottime_offset: None,
            hostname: None,
            uid_map: IdMapping::default(),
            gid_map: IdMapping::default(),
            set_tid: None,
            cgroup: None,
            root: None,
            read_only_root: false,
            mounts: Vec::new(),
            stdio: [Stdio::Inherit, Stdio::Inherit, Stdio::Inherit],
            fds: Vec::new(),
            seccomp: None,
            capabilities: None,
            no_new_privs: false,
            keyring: None,
            knobs: crate::process::Knobs::default(),
        }
    }

    /// Adds an argument (like [`std::process::Command::arg`]).
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments (like [`std::process::Command::args`]).
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable (like [`std::process::Command::env`]); the
    /// container inherits the caller's environment unless [`env_clear`] is used.
    ///
    /// [`env_clear`]: ContainerBuilder::env_clear
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// Removes an environment variable (like [`std::process::Command::env_remove`]).
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Starts from an empty environment (like [`std::process::Command::env_clear`]).
    pub fn env_clear(mut self) -> Self {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// The working directory inside the container (after the root change).
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// The uid the program runs as, inside the container (default: unchanged, 0 with
    /// the default map).
    pub fn uid(mut self, uid: u32) -> Self {
        self.uid = Some(uid);
        self
    }

    /// The gid the program runs as, inside the container.
    pub fn gid(mut self, gid: u32) -> Self {
        self.gid = Some(gid);
        self
    }

    /// The supplementary groups inside the container (needs `setgroups` allowed: a
    /// privileged caller or an explicit map).
    pub fn groups(mut self, groups: impl Into<Vec<u32>>) -> Self {
        self.groups = Some(groups.into());
        self
    }

    /// Exactly the namespaces to create (`CLONE_NEW*`), replacing the default
    /// ([`Namespaces::DEFAULT`]: all but time). Every type left out is shared with
    /// the caller.
    ///
    /// ```
    /// use linception::{Container, Namespaces};
    /// // A container that keeps the host's network and cgroup view.
    /// let b = Container::builder("/bin/true").namespaces(
    ///     Namespaces::USER | Namespaces::MOUNT | Namespaces::PID | Namespaces::UTS | Namespaces::IPC,
    /// );
    /// # let _ = b;
    /// ```
    pub fn namespaces(mut self, ns: Namespaces) -> Self {
        self.namespaces = ns;
        self.namespaces_chosen = true;
        self
    }

    /// Shares these namespaces with the caller instead of creating new ones: the
    /// explicit, visible way to give a container a piece of the host
    /// (`.share(Namespaces::NET)` for the host's network).
    ///
    /// ```
    /// use linception::{Container, Namespaces};
    /// let b = Container::builder("/usr/bin/curl").share(Namespaces::NET);
    /// # let _ = b;
    /// ```
    pub fn share(mut self, ns: Namespaces) -> Self {
        self.namespaces -= ns;
        self.namespaces_chosen = true;
        self
    }

    /// A new time namespace (added to the others) whose `CLOCK_MONOTONIC` is shifted
    /// by `secs` + `nanos`.
    pub fn monotonic_offset(mut self, secs: i64, nanos: u32) -> Self {
        self.monotonic_offset = Some((secs, nanos));
        self
    }

    /// A new time namespace (added to the others) whose `CLOCK_BOOTTIME` is shifted
    /// by `secs` + `nanos`.
    pub fn boottime_offset(mut self, secs: i64, nanos: u32) -> Self {
        self.boottime_offset = Some((secs, nanos));
        self
    }

    /// The namespaces the spawn creates: the chosen set, plus a time namespace when
    /// an offset is given.
    pub(crate) fn effective_namespaces(&self) -> Namespaces {
        let mut ns = self.namespaces;
        if self.monotonic_offset.is_some() || self.boottime_offset.is_some() {
            ns |= Namespaces::TIME;
        }
        ns
    }

    /// The hostname inside (needs [`Namespaces::UTS`]).
    pub fn hostname(mut self, name: impl AsRef<OsStr>) -> Self {
        self.hostname = Some(name.as_ref().to_owned());
        self
    }

    /// The uid map of the new user namespace (default [`IdMapping::RootIsCaller`]).
    pub fn uid_map(mut self, map: IdMapping) -> Self {
        self.uid_map = map;
        self
    }

    /// The gid map of the new user namespace (default [`IdMapping::RootIsCaller`]).
    pub fn gid_map(mut self, map: IdMapping) -> Self {
        self.gid_map = map;
        self
    }

    /// Uid and gid maps from `/etc/subuid` and `/etc/subgid` for `user`
    /// ([`IdMapping::SubIds`]).
    pub fn subid_maps(self, user: impl Into<String>) -> Self {
        let user = user.into();
        self.uid_map(IdMapping::SubIds { user: user.clone() })
            .gid_map(IdMapping::SubIds { user })
    }

    /// The pid the program gets in its new pid namespace (or, without
    /// [`Namespaces::PID`], in the caller's): `clone3`'s `set_tid`, for restore flows.
    /// Needs `CAP_CHECKPOINT_RESTORE` or `CAP_SYS_ADMIN` over that namespace.
    pub fn set_tid(mut self, pid: i32) -> Self {
        self.set_tid = Some(pid);
        self
    }

    /// Starts the container in a cgroup v2 directory (`CLONE_INTO_CGROUP`).
    pub fn cgroup(mut self, cgroup: Cgroup) -> Self {
        self.cgroup = Some(cgroup);
        self
    }

    /// The root filesystem (needs [`Namespaces::MOUNT`]); the old root is detached.
    pub fn root(mut self, root: RootFs) -> Self {
        self.root = Some(root);
        self
    }

    /// Makes the root mount read-only once every mount is in place.
    pub fn read_only_root(mut self) -> Self {
        self.read_only_root = true;
        self
    }

    /// Adds a mount, made in order inside the root.
    pub fn mount(mut self, mount: Mount) -> Self {
        self.mounts.push(mount);
        self
    }

    /// Adds mounts, made in order inside the root.
    pub fn mounts(mut self, mounts: impl IntoIterator<Item = Mount>) -> Self {
        self.mounts.extend(mounts);
        self
    }

    /// Standard input of the program.
    pub fn stdin(mut self, s: impl Into<Stdio>) -> Self {
        self.stdio[0] = s.into();
        self
    }

    /// Standard output of the program.
    pub fn stdout(mut self, s: impl Into<Stdio>) -> Self {
        self.stdio[1] = s.into();
        self
    }

    /// Standard error of the program.
    pub fn stderr(mut self, s: impl Into<Stdio>) -> Self {
        self.stdio[2] = s.into();
        self
    }

    /// Passes `fd` to the program as fd number `target` (3 or more). Every other fd
    /// of the caller is closed in the container.
    pub fn pass_fd(mut self, fd: impl Into<OwnedFd>, target: RawFd) -> Self {
        self.fds.push((target, fd.into()));
        self
    }

    /// A seccomp filter, installed last before `execve`.
    pub fn seccomp(mut self, seccomp: Seccomp) -> Self {
        self.seccomp = Some(seccomp);
        self
    }

    /// The capability sets of the program (default: unchanged).
    pub fn capabilities(mut self, caps: Capabilities) -> Self {
        self.capabilities = Some(caps);
        self
    }

    /// Sets `no_new_privs`: `execve` can grant no privilege (setuid bits, file caps).
    pub fn no_new_privs(mut self) -> Self {
        self.no_new_privs = true;
        self
    }

    /// Starts the program in a fresh session keyring instead of the caller's.
    pub fn session_keyring(mut self, keyring: SessionKeyring) -> Self {
        self.keyring = Some(keyring);
        self
    }
}

/// The process knobs: resource limits, umask, OOM score, parent-death signal,
/// personality, controlling terminal.
impl ContainerBuilder {
    /// Sets the soft and hard limit of `resource` for the program:
    /// [`RLIM_INFINITY`](crate::RLIM_INFINITY) for no limit. Unset resources keep
    /// the caller's limits. The child calls `setrlimit` at the end of its setup,
    /// just before `execve` (so a low `RLIMIT_NOFILE` binds the program, not the
    /// setup's own mount fds); a hard limit above the caller's own is first raised
    /// by the parent (`prlimit` on the waiting child), since the kernel wants
    /// `CAP_SYS_RESOURCE` in the initial user namespace, which a container in a new
    /// user namespace never has. Observable in `/proc/self/limits` inside.
    ///
    /// # Errors
    /// At [`spawn`](ContainerBuilder::spawn): [`Error::InvalidArgument`] when `soft`
    /// is above `hard`, a resource is given twice, or `RLIMIT_NOFILE` exceeds
    /// `fs.nr_open`; [`Error::PermissionDenied`] when `hard` is above the caller's
    /// own hard limit and the caller has no `CAP_SYS_RESOURCE` in the initial user
    /// namespace (the kernel checks it there, whatever the container's user
    /// namespace). Refused by [`exec_in`](crate::Container::exec_in).
    ///
    /// ```
    /// use linception::{Container, Resource, RLIM_INFINITY};
    /// let b = Container::builder("/bin/sh")
    ///     .rlimit(Resource::Nofile, 256, 1024)
    ///     .rlimit(Resource::Core, 0, 0)
    ///     .rlimit(Resource::Cpu, RLIM_INFINITY, RLIM_INFINITY);
    /// # let _ = b;
    /// ```
    ///
    /// # References
    /// [prlimit(2)](https://man7.org/linux/man-pages/man2/prlimit.2.html)
    ///
    /// [`Error::InvalidArgument`]: crate::Error::InvalidArgument
    /// [`Error::PermissionDenied`]: crate::Error::PermissionDenied
    pub fn rlimit(mut self, resource: crate::process::Resource, soft: u64, hard: u64) -> Self {
        self.knobs.rlimits.push((resource, soft, hard));
        self
    }

    /// The program's file mode creation mask (`umask(2)`, at most `0o777`; default:
    /// the caller's).
    ///
    /// # Errors
    /// At spawn, [`Error::InvalidArgument`](crate::Error::InvalidArgument) for bits
    /// beyond `0o777`.
    ///
    /// # References
    /// [umask(2)](https://man7.org/linux/man-pages/man2/umask.2.html)
    pub fn umask(mut self, mask: u32) -> Self {
        self.knobs.umask = Some(mask);
        self
    }

    /// The program's `/proc/self/oom_score_adj` (`-1000..=1000`; -1000 exempts it
    /// from the OOM killer), written by the parent before the container goes on.
    ///
    /// # Errors
    /// At spawn: [`Error::InvalidArgument`](crate::Error::InvalidArgument) outside
    /// `-1000..=1000`; [`Error::PermissionDenied`](crate::Error::PermissionDenied)
    /// for a value below the caller's own when the caller has no `CAP_SYS_RESOURCE`
    /// in the initial user namespace. Refused by
    /// [`exec_in`](crate::Container::exec_in).
    ///
    /// # References
    /// [proc_pid_oom_score_adj(5)](https://man7.org/linux/man-pages/man5/proc_pid_oom_score_adj.5.html)
    pub fn oom_score_adj(mut self, adj: i32) -> Self {
        self.knobs.oom_score_adj = Some(adj);
        self
    }

    /// The signal the program gets when the thread that spawned it exits
    /// (`prctl(PR_SET_PDEATHSIG)`, set after the uid/gid change, which would clear
    /// it). Default: none, so that a container can outlive its creator (a runtime's
    /// create-then-start flow). Note that it is the spawning *thread*: a container
    /// spawned from a short-lived thread gets it when that thread ends. In a new pid
    /// namespace the program is pid 1, and the kernel delivers only signals it
    /// handles, except `SIGKILL`.
    ///
    /// # Errors
    /// At spawn, [`Error::InvalidArgument`](crate::Error::InvalidArgument) for the
    /// null signal or a real-time one (only the standard signals 1..=31).
    ///
    /// # References
    /// [PR_SET_PDEATHSIG(2const)](https://man7.org/linux/man-pages/man2/PR_SET_PDEATHSIG.2const.html)
    pub fn parent_death_signal(mut self, signal: linception_pidfd::Signal) -> Self {
        self.knobs.parent_death_signal = Some(signal);
        self
    }

    /// The program's execution domain and flags (`personality(2)`), e.g.
    /// [`Personality::LINUX32`](crate::Personality::LINUX32) for a 32-bit `uname`,
    /// [`Personality::ADDR_NO_RANDOMIZE`](crate::Personality::ADDR_NO_RANDOMIZE).
    ///
    /// # Errors
    /// At spawn, [`Error::InvalidArgument`](crate::Error::InvalidArgument) for
    /// `0xffffffff` (the query value).
    ///
    /// # References
    /// [personality(2)](https://man7.org/linux/man-pages/man2/personality.2.html)
    pub fn personality(mut self, personality: crate::process::Personality) -> Self {
        self.knobs.personality = Some(personality);
        self
    }

    /// Gives the program a new session (`setsid`) with a pseudo-terminal as its
    /// controlling terminal and standard streams: the child opens `/dev/pts/ptmx` of
    /// the container's own devpts instance (after the root change), unlocks it
    /// (`TIOCSPTLCK`), opens the peer (`TIOCGPTPEER`, Linux 4.13), makes it fds 0-2
    /// and its controlling terminal (`TIOCSCTTY`), and sends the master to the
    /// parent. The master goes to
    /// [`Container::take_terminal`](crate::Container::take_terminal) or to a console
    /// socket ([`Terminal`](crate::Terminal)).
    ///
    /// ```no_run
    /// use linception::{Container, Mount, RootFs, Terminal};
    /// let mut c = Container::builder("/bin/sh")
    ///     .root(RootFs::Tmpfs)
    ///     .mounts(Mount::host_system())
    ///     .mount(Mount::dev("/dev"))
    ///     .terminal(Terminal::Handle)
    ///     .spawn()?;
    /// let master = c.take_terminal().expect("a terminal was asked for");
    /// # let _ = master;
    /// # Ok::<(), linception::Error>(())
    /// ```
    ///
    /// # Errors
    /// At spawn: [`Error::InvalidArgument`](crate::Error::InvalidArgument) without a
    /// root holding `Mount::dev("/dev")` (a devpts of
    /// [`Mount::filesystem`](crate::Mount::filesystem) is `nodev`), with
    /// `stdin`/`stdout`/`stderr` set, or for a bad socket path; a console socket
    /// that refuses the connection is an [`Error::Syscall`](crate::Error::Syscall)
    /// before anything is created. Refused by
    /// [`exec_in`](crate::Container::exec_in).
    ///
    /// # References
    /// [pty(7)](https://man7.org/linux/man-pages/man7/pty.7.html),
    /// [TIOCSCTTY(2const)](https://man7.org/linux/man-pages/man2/TIOCSCTTY.2const.html)
    pub fn terminal(mut self, terminal: crate::process::Terminal) -> Self {
        self.knobs.terminal = Some(terminal);
        self
    }
}
