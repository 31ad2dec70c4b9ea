//! The spawn's second stage: lowering a checked builder into the child's steps,
//! each with a human label (for the error that names a failed step), by concern:
//! [`mounts`], [`identity`], [`security`], [`fds`], [`exec`].
//!
//! Lowering is pure: what it needs to know about the host comes in as [`Host`],
//! the fds the steps borrow come from one [`ChildFds`] value whose lifetime covers
//! the child, and every value was checked by [`crate::validate`] before, so
//! nothing here can fail.
#![forbid(unsafe_code)]

mod exec;
mod fds;
mod identity;
mod mounts;
mod namespaces;
mod network;
mod process;
mod security;

use std::collections::HashSet;
use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::OnceLock;

use linception_seccomp_notify::{FilterFlags, Program};

use crate::builder::{ContainerBuilder, Namespaces, RootChange, RootFs, Stdio};
use crate::error::{Error, Result};
use crate::mount::MountKind;
use crate::profile::Mark;
use crate::step::{Held, Slot, Step};

pub(crate) use mounts::{IdmappedBind, hidden_mounts};
pub(crate) use namespaces::{JOIN_ORDER, Join, fork_needed};

/// A C string of a value [`crate::validate`] checked for NUL bytes.
pub(crate) fn c(s: impl AsRef<OsStr>) -> CString {
    CString::new(s.as_ref().as_bytes()).unwrap_or_default()
}

/// What lowering needs to know about the host, gathered before it.
#[derive(Clone, Debug)]
pub(crate) struct Host {
    /// `/proc/sys/kernel/cap_last_cap`.
    pub last_cap: u32,
    /// Where an empty tmpfs root is attached before `pivot_root`: `/tmp` if it is a
    /// directory, else `/`.
    pub tmpfs_root_at: &'static str,
    /// The caller's environment, unless the builder starts from an empty one.
    pub env: Vec<(OsString, OsString)>,
    /// For each mount of the builder: whether its bind source is a directory (true
    /// for other kinds, and for a source that cannot be looked up: the child then
    /// reports the real error).
    pub bind_is_dir: Vec<bool>,
    /// For [`RootChange::MoveAndChroot`](crate::RootChange::MoveAndChroot): the
    /// mount points of the caller's full `proc` and `sysfs` mounts outside the
    /// new root ([`mounts::hidden_mounts`]), in mount table order.
    pub hide: Vec<CString>,
}

impl Host {
    /// Looks at the host for `b`.
    pub(crate) fn gather(b: &ContainerBuilder) -> Host {
        let last_cap = last_cap();
        let needs_tmp = matches!(b.root, Some(RootFs::Tmpfs));
        Host {
            last_cap,
            tmpfs_root_at: if !needs_tmp || std::path::Path::new("/tmp").is_dir() {
                "/tmp"
            } else {
                "/"
            },
            env: if b.env_clear {
                Vec::new()
            } else {
                std::env::vars_os().collect()
            },
            bind_is_dir: b
                .mounts
                .iter()
                .map(|m| match &m.kind {
                    MountKind::Bind { source, .. } => {
                        std::fs::metadata(source).map_or(true, |md| md.is_dir())
                    }
                    _ => true,
                })
                .collect(),
            hide: Vec::new(),
        }
    }
}

/// `/proc/sys/kernel/cap_last_cap` (read once; 40 if it cannot be read).
pub(crate) fn last_cap() -> u32 {
    static LAST_CAP: OnceLock<u32> = OnceLock::new();
    *LAST_CAP.get_or_init(|| {
        let mut buf = [0u8; 16];
        crate::procfs::read_proc("/proc/sys/kernel/cap_last_cap", &mut buf)
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(40)
    })
}

/// The fds the child uses, owned here for the whole spawn; the steps borrow them.
#[derive(Debug, Default)]
pub(crate) struct ChildFds {
    /// The write end of the report pipe (EOF at `execve`).
    pub report: Option<OwnedFd>,
    /// The read end of the sync pipe (the parent writes the id maps first).
    pub sync: Option<OwnedFd>,
    /// The child's end of the socket the seccomp listener goes back on.
    pub listener_sock: Option<OwnedFd>,
    /// The child's end of the socket idmapped binds come on.
    pub tree_sock: Option<OwnedFd>,
    /// exec_in: the helper's end of the socket the new process's pidfd goes back on.
    pub pidfd_sock: Option<OwnedFd>,
    /// The child's end of the socket the terminal's master goes back on.
    pub terminal_sock: Option<OwnedFd>,
    /// `/dev/null`, opened before the root changes.
    pub dev_null: Option<OwnedFd>,
    /// A created container's start socket, listening.
    pub start_listener: Option<OwnedFd>,
    /// The child's ends of piped stdin, stdout, stderr.
    pub piped: [Option<OwnedFd>; 3],
    /// The namespaces to join, in the order they are joined.
    pub joins: Vec<Join>,
    /// The Landlock ruleset built by the parent.
    pub landlock: Option<OwnedFd>,
    /// The write end of the pipe that tells the parent a user namespace made by
    /// `unshare` (after joins) exists, so that it can write the maps.
    pub ready: Option<OwnedFd>,
    /// exec_in: the container's root directory (`/proc/PID/root`, `O_PATH`).
    pub target_root: Option<OwnedFd>,
}

fn borrow(fd: &Option<OwnedFd>) -> Option<BorrowedFd<'_>> {
    fd.as_ref().map(|f| f.as_fd())
}

/// How the child becomes root inside a new user namespace whose 0 is not the
/// caller's own id: `Some(setgroups allowed)`.
pub(crate) type BecomeRoot = Option<bool>;

/// The steps, their labels and the child's empty slot table.
pub(crate) struct Plan<'f> {
    pub steps: Vec<Step<'f>>,
    pub labels: Vec<String>,
    pub slots: Vec<Held>,
    /// Idmapped binds the parent prepares once the user namespace exists.
    pub idmapped: Vec<IdmappedBind>,
    /// The strings `argv`/`envp` point into; alive as long as the plan.
    _strings: Vec<CString>,
}

/// Collects steps with their labels.
pub(crate) struct Lowering<'f> {
    steps: Vec<Step<'f>>,
    labels: Vec<String>,
    nslots: usize,
    /// Directories already created inside the root.
    dirs: HashSet<Vec<u8>>,
}

impl<'f> Lowering<'f> {
    fn new() -> Self {
        Lowering {
            steps: Vec::with_capacity(32),
            labels: Vec::with_capacity(32),
            nslots: 1, // step::ROOT
            dirs: HashSet::new(),
        }
    }

    fn push(&mut self, step: Step<'f>, label: impl Into<String>) {
        self.steps.push(step);
        self.labels.push(label.into());
    }

    /// Marks a point of a profiled spawn.
    fn mark(&mut self, b: &ContainerBuilder, mark: crate::profile::Mark) {
        if b.profile {
            self.push(Step::Mark { mark }, format!("profile: {mark:?}"));
        }
    }

    fn slot(&mut self) -> Slot {
        self.nslots += 1;
        Slot(self.nslots - 1)
    }

    fn finish(self, idmapped: Vec<IdmappedBind>, strings: Vec<CString>) -> Plan<'f> {
        Plan {
            steps: self.steps,
            labels: self.labels,
            slots: (0..self.nslots).map(|_| Held::Empty).collect(),
            idmapped,
            _strings: strings,
        }
    }
}

/// Lowers a container spawn. With `pause`, the child stops before `pivot_root`
/// for the `createRuntime`/`createContainer` hooks; with a start listener in `fds`,
/// it waits for its start before the seccomp filter and `execve` (after the filter
/// when the filter's listener goes to the parent: the creator gets it at create).
pub(crate) fn spawn<'f>(
    b: &'f ContainerBuilder,
    host: &Host,
    fds: &'f ChildFds,
    become_root: BecomeRoot,
    seccomp: Option<(Program, FilterFlags)>,
    pause: bool,
) -> Plan<'f> {
    let ns = b.effective_namespaces();
    let mut p = Lowering::new();
    p.push(Step::UnblockSignals, "reset SIGPIPE and unblock signals");
    process::setup_affinity(&mut p, b);
    let waited = namespaces::join_then_create(&mut p, fds, ns);
    if let Some(fd) = borrow(&fds.sync)
        && !waited
    {
        p.push(
            Step::WaitForParent { fd },
            "wait for the parent to write the id maps",
        );
    }
    p.mark(b, Mark::Released);
    identity::become_root(&mut p, become_root);
    identity::time_namespace(&mut p, b, ns);
    network::sysctls(&mut p, b);
    security::exec_labels(&mut p, b);
    // A joined mount namespace gets the root and mounts as a new one does; a
    // chroot leaves it as it is.
    let mut mount_ns = ns;
    if b.root_change != RootChange::Chroot {
        mount_ns |= b.joined_namespaces() & Namespaces::MOUNT;
    }
    let idmapped = mounts::lower(&mut p, b, host, fds, mount_ns);
    p.mark(b, Mark::MountsDone);
    if pause && let Some(sync) = borrow(&fds.sync) {
        p.push(
            Step::Pause { sync },
            "wait for the createRuntime and createContainer hooks",
        );
    }
    if b.root.is_some() {
        mounts::change_root(&mut p, b, host);
        p.mark(b, Mark::PivotRoot);
        mounts::root_propagation(&mut p, b);
    }
    identity::hostname(&mut p, b);
    network::loopback(&mut p, b, ns);
    process::terminal(&mut p, b, fds);
    let strings = process_tail(&mut p, b, host, fds, seccomp, b.root.is_some());
    p.finish(idmapped, strings)
}

/// Lowers [`Container::exec_in`](crate::Container::exec_in): join the container's
/// namespaces through its pidfd, fork into the caller's children (`CLONE_PARENT`:
/// the helper sends the new pidfd and exits), then the usual tail.
pub(crate) fn exec_in<'f>(
    b: &'f ContainerBuilder,
    host: &Host,
    fds: &'f ChildFds,
    seccomp: Option<(Program, FilterFlags)>,
    target: BorrowedFd<'f>,
    namespaces: Namespaces,
    root_mapped: bool,
) -> Plan<'f> {
    let mut p = Lowering::new();
    p.push(Step::UnblockSignals, "reset SIGPIPE and unblock signals");
    process::setup_affinity(&mut p, b);
    p.push(
        Step::JoinNamespaces {
            pidfd: target,
            flags: namespaces.bits() as u32,
        },
        format!("setns(pidfd, {namespaces:?})"),
    );
    if let Some(root) = borrow(&fds.target_root) {
        p.push(
            Step::EnterRoot { root },
            "enter the container's root (chroot into /proc/PID/root where the joined \
             mount namespace's is another)",
        );
    }
    if let Some(sock) = borrow(&fds.pidfd_sock) {
        p.push(
            Step::ForkIntoParent { sock },
            "clone3(CLONE_PARENT | CLONE_PIDFD) into the joined pid namespace",
        );
    }
    // The process itself (after the fork) writes its own exec attribute, through
    // the container's /proc: the label applies at its execve.
    security::exec_labels(&mut p, b);
    process::terminal(&mut p, b, fds);
    identity::joined_root(&mut p, b, root_mapped);
    let strings = process_tail(&mut p, b, host, fds, seccomp, true);
    p.finish(Vec::new(), strings)
}

/// The steps every process gets, container init or exec_in: keyring, identity,
/// capabilities, cwd, no_new_privs, fds, seccomp, execve. Returns the strings
/// `argv`/`envp` point into.
fn process_tail<'f>(
    p: &mut Lowering<'f>,
    b: &'f ContainerBuilder,
    host: &Host,
    fds: &'f ChildFds,
    seccomp: Option<(Program, FilterFlags)>,
    in_root: bool,
) -> Vec<CString> {
    identity::keyring(p, b);
    security::landlock(p, fds);
    security::bounding(p, b, host);
    // The scheduling knobs go first: the kernel checks the privilege they need
    // (CAP_SYS_NICE) at the call, before the uid change and capset drop it.
    process::scheduling(p, b);
    // Installing a filter takes no_new_privs or CAP_SYS_ADMIN. Without no_new_privs,
    // a program that will not hold CAP_SYS_ADMIN gets its filter while the setup still
    // does, before the uid change and capset (where runc installs it too); the filter
    // then also covers those steps and execve. The fds, the wait for the start and the
    // limits come before it (close_range is newer than many profiles).
    let before_ids = seccomp.is_some() && !b.no_new_privs && !security::keeps_sys_admin(b);
    // A created container whose listener goes to the parent gets its filter before
    // the wait for the start, so that the creator holds the listener when the create
    // returns (as an OCI runtime hands it to its agent at create). The limits come
    // first then, before a filter could refuse setrlimit.
    let early = fds.start_listener.is_some() && fds.listener_sock.is_some() && seccomp.is_some();
    let identity = |p: &mut Lowering<'f>| {
        identity::ids(p, b);
        security::capabilities(p, b);
        exec::cwd(p, b);
        security::no_new_privs(p, b);
        process::knobs(p, b);
    };
    if !before_ids {
        identity(p);
    }
    let unused = fds::lower(p, b, fds);
    if early {
        process::rlimits(p, b);
        security::seccomp(p, fds, seccomp);
        await_start(p, fds, unused);
    } else {
        await_start(p, fds, unused);
        // The limits bind the program, not the setup (a low RLIMIT_NOFILE would
        // starve the mount steps of fds, or the wait for a start), and are set before
        // a filter could refuse setrlimit.
        process::rlimits(p, b);
        // Seccomp comes last before exec (or before the identity, see above): the
        // filter applies to nothing of the setup it need not.
        security::seccomp(p, fds, seccomp);
    }
    if before_ids {
        identity(p);
    }
    p.mark(b, Mark::Seccomp);
    p.mark(b, Mark::Execve);
    exec::exec(p, b, host, in_root)
}

/// A created container's wait for its start (closing the fds the program does not
/// get first).
fn await_start<'f>(p: &mut Lowering<'f>, fds: &'f ChildFds, unused: Vec<(u32, u32)>) {
    if let Some(listener) = borrow(&fds.start_listener) {
        p.push(
            Step::AwaitStart {
                listener,
                keep: borrow(&fds.listener_sock),
                close: unused,
            },
            "created: close the fds the program does not get, wait for the start",
        );
    }
}

/// Opens the fds the child needs for `b`: (the parent's ends, the child's).
pub(crate) fn open_fds(
    b: &ContainerBuilder,
    sync: bool,
    listener: bool,
    trees: bool,
    pidfd: bool,
) -> Result<(ParentFds, ChildFds)> {
    let mut parent = ParentFds::default();
    let mut child = ChildFds::default();
    let (r, w) = pipe()?;
    parent.report = Some(r);
    child.report = Some(w);
    if sync {
        let (r, w) = pipe()?;
        parent.sync = Some(w);
        child.sync = Some(r);
    }
    if listener {
        let (mine, theirs) = socketpair()?;
        parent.listener_sock = Some(mine);
        child.listener_sock = Some(theirs);
    }
    if trees {
        let (mine, theirs) = socketpair()?;
        parent.tree_sock = Some(mine);
        child.tree_sock = Some(theirs);
    }
    if pidfd {
        let (mine, theirs) = socketpair()?;
        parent.pidfd_sock = Some(mine);
        child.pidfd_sock = Some(theirs);
    }
    if b.knobs.terminal.is_some() {
        let (mine, theirs) = socketpair()?;
        parent.terminal_sock = Some(mine);
        child.terminal_sock = Some(theirs);
    }
    if b.stdio.iter().any(|s| matches!(s, Stdio::Null)) {
        child.dev_null = Some(
            rustix::fs::open(
                "/dev/null",
                rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(|e| Error::syscall("open(\"/dev/null\", O_RDWR)", e.into()))?,
        );
    }
    for (n, s) in b.stdio.iter().enumerate() {
        if matches!(s, Stdio::Piped) {
            let (r, w) = pipe()?;
            let (mine, theirs) = if n == 0 { (w, r) } else { (r, w) };
            parent.piped[n] = Some(mine);
            child.piped[n] = Some(theirs);
        }
    }
    Ok((parent, child))
}

/// Gives the child the namespaces to join, and (with a user namespace to create
/// after them) the pipe on which it says the namespace exists.
pub(crate) fn add_joins(
    parent: &mut ParentFds,
    child: &mut ChildFds,
    joins: Vec<Join>,
    ready: bool,
) -> Result<()> {
    child.joins = joins;
    if ready && !child.joins.is_empty() {
        let (r, w) = pipe()?;
        parent.ready = Some(r);
        child.ready = Some(w);
    }
    Ok(())
}

/// The parent's ends of the spawn's pipes and sockets.
#[derive(Debug, Default)]
pub(crate) struct ParentFds {
    pub report: Option<OwnedFd>,
    pub sync: Option<OwnedFd>,
    pub listener_sock: Option<OwnedFd>,
    pub tree_sock: Option<OwnedFd>,
    pub pidfd_sock: Option<OwnedFd>,
    pub terminal_sock: Option<OwnedFd>,
    pub piped: [Option<OwnedFd>; 3],
    pub ready: Option<OwnedFd>,
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| Error::syscall("pipe2(O_CLOEXEC)", e.into()))
}

fn socketpair() -> Result<(OwnedFd, OwnedFd)> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| Error::syscall("socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC)", e.into()))
}

#[cfg(test)]
mod tests;
