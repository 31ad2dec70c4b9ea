//! The handle of a running container.
#![forbid(unsafe_code)]

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{ChildStderr, ChildStdin, ChildStdout};
use std::thread::JoinHandle;

use linception_pidfd::{ExitStatus, NamespaceType, Pid, PidFd, Signal};
use linception_seccomp_notify::Listener;

use crate::Hook;
use crate::builder::StateInfo;
use crate::builder::{ContainerBuilder, Namespaces};
use crate::cgroup::CgroupGuard;
use crate::error::{Error, Result};
use crate::lifecycle::{ContainerId, HookPoint, HookState, State};
use crate::resources::{CgroupStats, Resources};

/// What a spawn hands to [`Container::new`].
pub(crate) struct Parts {
    pub pid: Pid,
    pub pidfd: PidFd,
    pub namespaces: Namespaces,
    pub root_mapped: bool,
    /// What the kernel enforced of the Landlock ruleset.
    pub landlock: Option<crate::landlock_ruleset::LandlockReport>,
    /// The caller's ends of piped stdin, stdout, stderr.
    pub stdio: [Option<OwnedFd>; 3],
    pub listener: Option<Listener>,
    pub handler: Option<JoinHandle<()>>,
    pub cgroup: Option<CgroupGuard>,
    /// The master of the container's terminal, for the handle.
    pub terminal: Option<OwnedFd>,
}

/// What a created container still needs to be started by the handle that created it.
pub(crate) struct Pending {
    /// The start socket's path. (A notifying filter's listener came at create:
    /// the filter is in place before the init waits for its start.)
    pub socket: PathBuf,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

/// A running container: its init process, owned through a pidfd.
///
/// Like [`std::process::Child`], but every signal goes through the pidfd (no pid
/// reuse race), and **dropping a `Container` kills it (`SIGKILL` via the pidfd) and
/// reaps it** unless it was already waited for: a container never outlives its
/// handle as a zombie or an orphan. The cgroup the spawn created is removed at reap.
#[derive(Debug)]
pub struct Container {
    pid: Pid,
    pidfd: PidFd,
    namespaces: Namespaces,
    root_mapped: bool,
    landlock: Option<crate::landlock_ruleset::LandlockReport>,
    status: Option<ExitStatus>,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    listener: Option<Listener>,
    handler: Option<JoinHandle<()>>,
    cgroup: Option<CgroupGuard>,
    /// The caller's own child (it may reap it), not a handle found by id.
    child: bool,
    /// Dropping the handle kills and reaps the container (not after `detach`, not
    /// for a handle found by id).
    owned: bool,
    /// Created, not started yet, by this handle.
    pending: Option<Pending>,
    /// How another process finds it (for a created container).
    id: Option<ContainerId>,
    hooks: Vec<(HookPoint, Hook)>,
    state_info: StateInfo,
    warnings: Vec<String>,
    terminal: Option<OwnedFd>,
    /// A profiled spawn's readings ([`ContainerBuilder::profile`]).
    clock: Option<crate::profile::Clock>,
    profile: Option<crate::SpawnProfile>,
}

impl Container {
    /// A builder for a container running `program`; see [`ContainerBuilder`].
    pub fn builder(program: impl AsRef<std::ffi::OsStr>) -> ContainerBuilder {
        ContainerBuilder::new(program)
    }

    pub(crate) fn new(parts: Parts) -> Self {
        let [stdin, stdout, stderr] = parts.stdio;
        Container {
            pid: parts.pid,
            pidfd: parts.pidfd,
            namespaces: parts.namespaces,
            root_mapped: parts.root_mapped,
            landlock: parts.landlock,
            status: None,
            stdin: stdin.map(ChildStdin::from),
            stdout: stdout.map(ChildStdout::from),
            stderr: stderr.map(ChildStderr::from),
            listener: parts.listener,
            handler: parts.handler,
            cgroup: parts.cgroup,
            child: true,
            owned: true,
            pending: None,
            id: None,
            hooks: Vec::new(),
            state_info: StateInfo::default(),
            warnings: Vec::new(),
            terminal: parts.terminal,
            clock: None,
            profile: None,
        }
    }

    /// A created container's seccomp listener (kept for the caller) or the thread
    /// serving it.
    pub(crate) fn set_listener(
        &mut self,
        listener: Option<Listener>,
        handler: Option<JoinHandle<()>>,
    ) {
        self.listener = listener;
        self.handler = handler;
    }

    /// A created container's handle: the init waits on `pending.socket`.
    pub(crate) fn set_created(
        &mut self,
        pending: Pending,
        hooks: Vec<(HookPoint, Hook)>,
        state_info: StateInfo,
    ) {
        let start_time = crate::lifecycle::start_time(self.pid).unwrap_or(0);
        self.id = Some(ContainerId {
            pid: self.pid,
            start_time,
            socket: pending.socket.clone(),
        });
        self.pending = Some(pending);
        self.hooks = hooks;
        self.state_info = state_info;
    }

    /// A handle found by id: not the caller's child, not owned; `namespaces` are
    /// the ones it does not share with the caller (what `exec_in` joins). Its cgroup
    /// is the init's (the `0::` line of `/proc/PID/cgroup`, read once the pidfd pins
    /// the process), kept when the handle is destroyed unless adopted.
    pub(crate) fn found(
        id: ContainerId,
        pidfd: PidFd,
        namespaces: Namespaces,
        root_mapped: bool,
    ) -> Self {
        let cgroup = crate::cgroup::of_pid(id.pid).map(|path| CgroupGuard {
            path,
            created: false,
            parents: Vec::new(),
        });
        Container {
            pid: id.pid,
            pidfd,
            namespaces,
            root_mapped,
            status: None,
            stdin: None,
            stdout: None,
            stderr: None,
            listener: None,
            handler: None,
            cgroup,
            landlock: None,
            terminal: None,
            clock: None,
            profile: None,
            child: false,
            owned: false,
            pending: None,
            id: Some(id),
            hooks: Vec::new(),
            state_info: StateInfo::default(),
            warnings: Vec::new(),
        }
    }

    /// The hooks and state a handle found by id runs and tells at `start` and
    /// `destroy` (the creating process's builder had them; a finder supplies them
    /// again, e.g. from the bundle's configuration).
    pub fn set_hooks(&mut self, state_info: StateInfo, hooks: Vec<(HookPoint, Hook)>) {
        self.state_info = state_info;
        self.hooks = hooks;
    }

    /// The container's state now: [`State::Stopped`] once the init exited,
    /// [`State::Created`] while it waits for its start (for a handle found by id:
    /// while its start socket exists), else [`State::Running`].
    pub fn state(&mut self) -> State {
        if self.status.is_some() || self.exited() {
            return State::Stopped;
        }
        let created = match (&self.pending, &self.id) {
            (Some(_), _) => true,
            (None, Some(id)) if !self.child => id.socket.exists(),
            _ => false,
        };
        if created {
            State::Created
        } else {
            State::Running
        }
    }

    /// Whether the init has exited (its pidfd is readable), without reaping it.
    fn exited(&self) -> bool {
        let mut fds = [rustix::event::PollFd::new(
            &self.pidfd,
            rustix::event::PollFlags::IN,
        )];
        matches!(rustix::event::poll(&mut fds, Some(&rustix::time::Timespec { tv_sec: 0, tv_nsec: 0 })), Ok(n) if n > 0)
    }

    /// How another process finds this container again ([`ContainerId::open`]);
    /// `None` for a container that was spawned, not created, until
    /// [`identify`](Self::identify) gives it one.
    pub fn id(&self) -> Option<&ContainerId> {
        self.id.as_ref()
    }

    /// Gives a spawned container the id another process finds it by
    /// ([`ContainerId::open`]): its init's pid and start time, and `socket` as the
    /// path of its start socket, which a spawned container never has (give a path
    /// that does not exist: a handle opened from the id then reads as running). A
    /// created container keeps the id it has.
    ///
    /// An init that exited but is not reaped yet still has its id (a handle opened
    /// from it reads as stopped).
    ///
    /// # Errors
    /// [`Error::Gone`] if the init has been reaped.
    pub fn identify(&mut self, socket: impl Into<PathBuf>) -> Result<&ContainerId> {
        if self.id.is_none() {
            let gone = || Error::Gone {
                id: self.pid.as_raw().to_string(),
            };
            if self.status.is_some() {
                return Err(gone());
            }
            let start_time = crate::lifecycle::start_time(self.pid).ok_or_else(gone)?;
            self.id = Some(ContainerId {
                pid: self.pid,
                start_time,
                socket: socket.into(),
            });
        }
        Ok(self.id.as_ref().expect("set just above"))
    }

    /// Warnings of hooks whose failure does not stop the container (`poststart`).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    fn hook_state(&self, status: State) -> HookState {
        HookState {
            id: self.state_info.id.clone(),
            bundle: self.state_info.bundle.clone(),
            annotations: self.state_info.annotations.clone(),
            pid: Some(self.pid),
            status,
        }
    }

    /// Starts a created container: runs the `startContainer` hooks, connects to its
    /// start socket (the init goes on to `execve`), waits until the program runs,
    /// then runs the `poststart` hooks. Works from the creating handle and from a
    /// handle found by id in another process (a notifying seccomp filter's listener
    /// came to the creating handle at create: [`take_listener`](Self::take_listener)).
    ///
    /// # Errors
    /// [`Error::State`] unless the container is created; a failed `startContainer`
    /// hook (the container is then killed); the init's report of a step after the
    /// start ([`Error::Setup`], e.g. `execve`), or a refused connection when the init
    /// is gone.
    pub fn start(&mut self) -> Result<()> {
        let state = self.state();
        if state != State::Created {
            return Err(Error::State { op: "start", state });
        }
        let hooks = std::mem::take(&mut self.hooks);
        let r = crate::lifecycle::run(
            &hooks,
            HookPoint::StartContainer,
            &self.hook_state(State::Created),
            self,
        );
        self.hooks = hooks;
        if let Err(e) = r {
            let _ = self.kill();
            return Err(e);
        }
        let socket = match (&self.pending, &self.id) {
            (Some(p), _) => p.socket.clone(),
            (None, Some(id)) => id.socket.clone(),
            (None, None) => return Err(Error::State { op: "start", state }),
        };
        let (addr, _dir) = crate::spawn::socket_address(&socket)?;
        let conn = std::os::unix::net::UnixStream::connect(&addr)
            .map_err(|e| Error::syscall(format!("connect({socket:?}) (the start socket)"), e))?;
        // Started: the socket's presence no longer means "created".
        let _ = std::fs::remove_file(&socket);
        self.pending = None;
        crate::spawn::finish(Some(OwnedFd::from(conn)), None, None, false, |_| None, None)?;
        let hooks = std::mem::take(&mut self.hooks);
        let failed = crate::lifecycle::run_all(
            &hooks,
            HookPoint::PostStart,
            &self.hook_state(State::Running),
            self,
        );
        self.hooks = hooks;
        self.warnings
            .extend(failed.into_iter().map(|e| e.to_string()));
        Ok(())
    }

    /// Leaves the container to live on without this handle: dropping it no longer
    /// kills it, and another process can find it again by the returned id (`None`
    /// for a spawned container, which has none).
    pub fn detach(mut self) -> Option<ContainerId> {
        self.owned = false;
        // The start socket stays: it is how the container is started later.
        self.pending = None;
        self.id.clone()
    }

    /// Ends the container whatever its state: kills it, waits until it has exited
    /// (reaping it when it is the caller's child; a handle found by id waits only
    /// for the exit, not for its parent's reap), removes what the spawn made (its
    /// cgroup, the start socket of a created container), then runs the `poststop`
    /// hooks. Returns their warnings.
    ///
    /// # Errors
    /// A failed kill, wait or poll of the pidfd.
    pub fn destroy(mut self) -> Result<Vec<String>> {
        self.kill()?;
        if self.child {
            self.wait()?;
        } else {
            // Not our child: its exit (the pidfd readable) is what ends it; the exit
            // status waits for its parent's reap, which destroy does not need.
            self.wait_exited()?;
        }
        if let Some(id) = &self.id {
            let _ = std::fs::remove_file(&id.socket);
        }
        if !self.child
            && let Some(cg) = self.cgroup.take_if(|g| g.created)
        {
            cg.remove()?;
        }
        self.pending = None;
        let hooks = std::mem::take(&mut self.hooks);
        let failed = crate::lifecycle::run_all(
            &hooks,
            HookPoint::PostStop,
            &self.hook_state(State::Stopped),
            &self,
        );
        self.warnings
            .extend(failed.into_iter().map(|e| e.to_string()));
        Ok(std::mem::take(&mut self.warnings))
    }

    /// Gives up the handle's ownership of a process it started (a hook command):
    /// a copy of its pidfd, to wait for it; the handle then leaves it alone.
    pub(crate) fn detach_pidfd(mut self) -> Result<PidFd> {
        let pidfd = self.pidfd.try_clone()?;
        self.owned = false;
        Ok(pidfd)
    }
    /// The pid of the container's init in the caller's pid namespace (not a pidfd;
    /// use [`Container::pidfd`] to act on it).
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// The pidfd of the container's init (from `CLONE_PIDFD`). Signal and poll it
    /// freely; reap through the handle ([`Container::wait`],
    /// [`Container::try_wait`], `wait_async`), which records the status.
    pub fn pidfd(&self) -> &PidFd {
        &self.pidfd
    }

    /// The namespaces the container was created with, and those it joined
    /// ([`ContainerBuilder::join`]); [`exec_in`](Container::exec_in) joins these.
    /// For a handle found by id ([`ContainerId::open`]): the namespaces its init
    /// does not share with the caller.
    pub fn namespaces(&self) -> Namespaces {
        self.namespaces
    }

    /// What the running kernel enforced of the builder's
    /// [`Landlock`](crate::Landlock) ruleset (its ABI, the rights enforced and
    /// those it lacks); `None` without a ruleset.
    pub fn landlock(&self) -> Option<&crate::landlock_ruleset::LandlockReport> {
        self.landlock.as_ref()
    }

    /// Whether the container has a user namespace in which uid and gid 0 are mapped.
    pub(crate) fn root_mapped(&self) -> bool {
        self.root_mapped
    }

    /// Starts another program inside the running container: a helper
    /// child of the caller joins the container's namespaces with one
    /// `setns(pidfd, flags)` (Linux 5.8), enters the container's root (its
    /// `/proc/PID/root`, opened by the caller: joining a mount namespace puts the
    /// helper at that namespace's root, which is not the container's when it
    /// [chrooted](crate::RootChange::Chroot) in a namespace it shares or joined),
    /// forks the program into them as a child of
    /// the caller (`CLONE_PARENT`, so the new process is in the container's pid
    /// namespace and the caller can wait for it) and exits. The caller process itself
    /// never changes namespace.
    ///
    /// `b` gives the program, arguments, environment, working directory, uid/gid,
    /// groups, capabilities, `no_new_privs`, fds ([`pass_fd`](ContainerBuilder::pass_fd),
    /// e.g. of [`inherited_fds`](crate::inherited_fds)), stdio, keyring, seccomp filter,
    /// the LSM exec labels ([`apparmor_profile`](ContainerBuilder::apparmor_profile),
    /// [`selinux_label`](ContainerBuilder::selinux_label): written by the new process
    /// to its own `/proc/self/attr` after it joined, through the container's `/proc`,
    /// so the container needs one; refused up front where the module is not active),
    /// resource limits (hard limits no higher than the caller's) and a
    /// [`terminal`](ContainerBuilder::terminal) (a new session whose controlling
    /// terminal comes from the container's `/dev/pts/ptmx`; its master comes back
    /// to [`take_terminal`](Container::take_terminal) or goes to the console socket);
    /// namespaces, root, root change, mounts, maps, hostname, `set_tid`, cgroup, joins,
    /// sysctls and the loopback setting are refused (they are the
    /// container's), and so is an OOM score. The new process is born in the
    /// container's cgroup ([`cgroup_path`](Container::cgroup_path),
    /// `CLONE_INTO_CGROUP`) when it has one other than the caller's. A [`Landlock`](crate::Landlock) ruleset applies to the new
    /// program. In a container with a user namespace, the program
    /// runs as its root (uid and gid 0) unless `uid`/`gid` are given. The returned handle owns the new process: waiting,
    /// killing and dropping work as for the container.
    ///
    /// ```no_run
    /// # use linception::{Container, Namespaces, Stdio};
    /// # fn f(c: &Container) -> linception::Result<()> {
    /// let mut shell = c.exec_in(Container::builder("/bin/sh").args(["-c", "ps"]))?;
    /// shell.wait()?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`ContainerBuilder::spawn`]; `setns` fails (`EPERM`) without the
    /// privileges over the container's namespaces, or once the container exited.
    /// In a container without a user namespace of its own, capability sets beyond
    /// what the caller holds are refused by set and name
    /// ([`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied)), as at
    /// spawn.
    pub fn exec_in(&self, b: ContainerBuilder) -> Result<Container> {
        crate::spawn::exec_in(self, b)
    }

    /// Where a profiled spawn's time went ([`ContainerBuilder::profile`]); `None`
    /// for a spawn that was not profiled. [`SpawnProfile::exited`](crate::SpawnProfile::exited)
    /// is set once [`wait`](Self::wait) has reaped the container.
    pub fn profile(&self) -> Option<&crate::SpawnProfile> {
        self.profile.as_ref()
    }

    pub(crate) fn set_profile(&mut self, clock: crate::profile::Clock) {
        self.profile = Some(clock.profile());
        self.clock = Some(clock);
    }

    /// Waits for the container's init to exit and reaps it (like
    /// [`std::process::Child::wait`]); the cgroup the spawn created is then removed.
    /// Calling it again returns the same status.
    ///
    /// # Errors
    /// A failed `waitid`, or the cgroup that could not be removed.
    pub fn wait(&mut self) -> Result<ExitStatus> {
        if let Some(st) = self.status {
            return Ok(st);
        }
        if !self.child {
            // Not our child: wait for the pidfd to become readable, then read the
            // status the kernel kept for it.
            self.wait_exited()?;
            return self.foreign_status();
        }
        let st = self.pidfd.wait()?;
        self.reaped(st)
    }

    /// Blocks until the init has exited (its pidfd polls readable), without reaping.
    fn wait_exited(&self) -> Result<()> {
        let mut fds = [rustix::event::PollFd::new(
            &self.pidfd,
            rustix::event::PollFlags::IN,
        )];
        loop {
            match rustix::event::poll(&mut fds, None) {
                Ok(_) => return Ok(()),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(Error::syscall("poll(pidfd)", e.into())),
            }
        }
    }

    /// The exit status of an exited init that is not our child (`PIDFD_INFO_EXIT`).
    /// The kernel records it when the init is reaped, which its parent (the
    /// creator, or the subreaper or init it was reparented to) does soon after the
    /// exit (a slow init may take a second or more): wait for that, for at most ten
    /// seconds.
    fn foreign_status(&mut self) -> Result<ExitStatus> {
        if linception_probe::Feature::PidfdInfoExit
            .available()
            .is_err()
        {
            return Err(Error::Unsupported {
                feature: "PIDFD_INFO_EXIT (the exit status of a process that is not a child)",
                min_kernel: "6.15",
            });
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match self.pidfd.exit_info() {
                Ok(Some(st)) => {
                    self.status = Some(st);
                    return Ok(st);
                }
                // Right after the reap the kernel may answer ESRCH for a moment,
                // before the exit information is visible: asked again.
                Ok(None) | Err(_) if std::time::Instant::now() < deadline => {}
                Ok(None) => return Err(Error::NotReaped { pid: self.pid }),
                Err(e) => return Err(e.into()),
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// [`Container::wait`] without blocking a thread (cargo feature `tokio`): waits
    /// for the pidfd to become readable on the tokio runtime, then reaps. The status
    /// is recorded in the handle like `wait`'s, so a later `wait`, `try_wait` or
    /// drop sees it (waiting on [`Container::pidfd`] directly would reap behind the
    /// handle). A dropped future leaves the container running and owned by the
    /// handle.
    ///
    /// # Errors
    /// As [`Container::wait`]; registering the pidfd with the runtime's reactor.
    #[cfg(feature = "tokio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub async fn wait_async(&mut self) -> Result<ExitStatus> {
        if let Some(st) = self.status {
            return Ok(st);
        }
        let st = self.pidfd.wait_async().await?;
        self.reaped(st)
    }

    /// Reaps the container's init if it has exited, else returns `Ok(None)` at once.
    ///
    /// # Errors
    /// As [`Container::wait`].
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        if let Some(st) = self.status {
            return Ok(Some(st));
        }
        if !self.child {
            return if self.exited() {
                self.foreign_status().map(Some)
            } else {
                Ok(None)
            };
        }
        match self.pidfd.try_wait()? {
            Some(st) => self.reaped(st).map(Some),
            None => Ok(None),
        }
    }

    fn reaped(&mut self, st: ExitStatus) -> Result<ExitStatus> {
        self.status = Some(st);
        if let (Some(clock), Some(p)) = (&self.clock, self.profile.as_mut()) {
            p.exited = Some(std::time::Duration::from_nanos(
                crate::profile::now().saturating_sub(clock.clone),
            ));
        }
        if let Some(h) = self.handler.take_if(|h| h.is_finished()) {
            let _ = h.join();
        }
        if let Some(cg) = self.cgroup.take() {
            cg.remove()?;
        }
        Ok(st)
    }

    /// Sends `SIGKILL` to the container's init through its pidfd (in a new pid
    /// namespace, the kernel then kills every process of the container). Does not
    /// reap: call [`Container::wait`]. A container that already exited is not an error.
    ///
    /// # Errors
    /// A failed `pidfd_send_signal` other than "already exited".
    pub fn kill(&mut self) -> Result<()> {
        self.signal(Signal::KILL)
    }

    /// Sends `sig` through the pidfd; a container that already exited is not an error.
    ///
    /// # Errors
    /// A failed `pidfd_send_signal` other than "already exited".
    pub fn signal(&self, sig: Signal) -> Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        match self.pidfd.send_signal(sig) {
            Err(e) if e.is_process_gone() => Ok(()),
            r => r.map_err(Into::into),
        }
    }

    /// An fd for one of the container's namespaces (`PIDFD_GET_*_NAMESPACE`, Linux
    /// 6.11), usable with `setns`.
    ///
    /// # Errors
    /// The container has exited, or the kernel lacks the ioctl.
    pub fn namespace(&self, kind: NamespaceType) -> Result<OwnedFd> {
        Ok(self.pidfd.namespace(kind)?)
    }

    /// The cgroup directory the container was started in
    /// ([`ContainerBuilder::cgroup`]), until it is reaped; for a handle found by
    /// id ([`ContainerId::open`]), the init's cgroup v2 directory when it found
    /// the container (`None` in the root cgroup).
    pub fn cgroup_path(&self) -> Option<&std::path::Path> {
        self.cgroup.as_ref().map(|g| g.path.as_path())
    }

    /// Makes a handle found by id ([`ContainerId::open`]) remove the container's
    /// cgroup ([`cgroup_path`](Container::cgroup_path)) when it is
    /// [destroyed](Container::destroy), once the init has exited: for the later
    /// command of a runtime whose earlier command created the container in a
    /// cgroup of its own. No effect on a handle without a cgroup, or on the
    /// spawning handle (which removes the cgroup it created at reap).
    pub fn adopt_cgroup(&mut self) {
        if !self.child
            && let Some(g) = &mut self.cgroup
        {
            g.created = true;
        }
    }

    /// Whether the container's cgroup is frozen ([`Container::pause`]): the
    /// `frozen` key of its `cgroup.events`.
    ///
    /// # Errors
    /// As [`Container::pause`]; a `cgroup.events` without the key (before 5.2).
    pub fn paused(&self) -> Result<bool> {
        crate::cgroup::frozen(self.cgroup_dir("paused")?)
    }

    /// Sends `sig` to every process of the container's cgroup, not only its init:
    /// `SIGKILL` through `cgroup.kill` (Linux 5.14, one write kills them all, also
    /// those forking meanwhile), any other signal to each process listed in
    /// `cgroup.procs`, through a pidfd opened for it and checked to be in the
    /// cgroup still (a pid reused meanwhile is left alone).
    ///
    /// # Errors
    /// As [`Container::pause`]; a failed write of `cgroup.kill` or signal.
    pub fn signal_all(&self, sig: Signal) -> Result<()> {
        crate::cgroup::signal_all(self.cgroup_dir("signal_all")?, sig)
    }

    /// The container's cgroup directory, or the error naming why there is none.
    fn cgroup_dir(&self, op: &str) -> Result<&std::path::Path> {
        match (&self.cgroup, self.status) {
            (Some(g), None) => Ok(&g.path),
            (_, Some(_)) => Err(Error::invalid(
                format!("{op} of container {}", self.pid.as_raw()),
                "the container has exited and was reaped",
            )),
            (None, None) => Err(Error::invalid(
                format!("{op} of container {}", self.pid.as_raw()),
                "the container was started without a cgroup (ContainerBuilder::cgroup)",
            )),
        }
    }

    /// Freezes every process of the container: writes `1` to its cgroup's
    /// `cgroup.freeze` and waits until `cgroup.events` reports `frozen 1` (the
    /// kernel stops each task at its next return to user space; a task in an
    /// uninterruptible sleep delays this). Works without any controller. Since
    /// Linux 5.2. Frozen processes can still be killed ([`Container::kill`]).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a container without a cgroup or already
    /// reaped; a failed write (`EACCES` without write access to the cgroup) or a
    /// kernel without `cgroup.freeze` (`ENOENT`, before 5.2).
    ///
    /// # References
    /// - [cgroup v2: core interface files](https://docs.kernel.org/admin-guide/cgroup-v2.html#core-interface-files)
    pub fn pause(&self) -> Result<()> {
        crate::cgroup::set_frozen(self.cgroup_dir("pause")?, true)
    }

    /// Thaws a [paused](Container::pause) container: writes `0` to
    /// `cgroup.freeze` and waits until `cgroup.events` reports `frozen 0`. Since
    /// Linux 5.2.
    ///
    /// # Errors
    /// As [`Container::pause`].
    pub fn resume(&self) -> Result<()> {
        crate::cgroup::set_frozen(self.cgroup_dir("resume")?, false)
    }

    /// Changes the limits of the running container's cgroup: every value is
    /// checked first (as at spawn, against the controllers in the cgroup's own
    /// `cgroup.controllers`), then each file is written in order. Keys not given
    /// keep their value; [`Limit::Max`](crate::Limit::Max) lifts a limit.
    ///
    /// ```no_run
    /// # fn f(c: &linception::Container) -> linception::Result<()> {
    /// use linception::{Limit, Resources};
    /// c.update(&Resources::new().memory_max(512 << 20).pids_max(Limit::Max))?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming a value out of range, a controller not
    /// enabled, or a container without a cgroup; a write the kernel refused
    /// ([`Error::Syscall`] showing the file and value; the writes before it stay).
    pub fn update(&self, resources: &Resources) -> Result<()> {
        crate::cgroup::update(self.cgroup_dir("update")?, resources)
    }

    /// What the kernel reports for the container's cgroup: `memory.current`,
    /// `pids.current` (each when its controller is enabled) and `cpu.stat`.
    ///
    /// # Errors
    /// As [`Container::pause`]; a file whose text does not parse.
    pub fn cgroup_stats(&self) -> Result<CgroupStats> {
        crate::cgroup::stats(self.cgroup_dir("cgroup stats")?)
    }

    /// The seccomp listener, if the filter was set with
    /// [`Seccomp::keep_listener`](crate::Seccomp::keep_listener) (once): after
    /// [`spawn`](crate::ContainerBuilder::spawn), and for a created container right
    /// after [`create`](crate::ContainerBuilder::create), before its start (its
    /// filter is installed before the init waits for the start, as an OCI runtime
    /// hands the listener to its agent at create).
    pub fn take_listener(&mut self) -> Option<Listener> {
        self.listener.take()
    }

    /// The master side of the container's terminal (once), with
    /// [`Terminal::Handle`](crate::Terminal::Handle): what the program writes to
    /// its stdout/stderr is read here, what is written here is its input.
    /// `O_CLOEXEC`. `None` without a terminal, or when it went to a console socket.
    pub fn take_terminal(&mut self) -> Option<OwnedFd> {
        self.terminal.take()
    }

    /// A created container's terminal master, received once it was created.
    pub(crate) fn set_terminal(&mut self, terminal: Option<OwnedFd>) {
        self.terminal = terminal;
    }

    /// The caller's end of a piped stdin (once).
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.stdin.take()
    }

    /// The caller's end of a piped stdout (once).
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.stdout.take()
    }

    /// The caller's end of a piped stderr (once).
    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.stderr.take()
    }
}

impl Drop for Container {
    /// Kills (`SIGKILL` through the pidfd) and reaps the container if it was not
    /// waited for, then removes the cgroup the spawn created and a created
    /// container's start socket. Errors are ignored. A detached handle, or one found
    /// by id, leaves the container alone.
    fn drop(&mut self) {
        if !self.owned {
            if let Some(cg) = self.cgroup.take() {
                std::mem::forget(cg);
            }
            return;
        }
        if self.status.is_none() {
            let _ = self.pidfd.send_signal(Signal::KILL);
            if let Ok(st) = self.pidfd.wait() {
                let _ = self.reaped(st);
            }
        }
        if let Some(p) = self.pending.take() {
            let _ = std::fs::remove_file(&p.socket);
        }
        if let Some(cg) = self.cgroup.take() {
            let _ = cg.remove();
        }
    }
}
