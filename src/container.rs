//! The handle of a running container.
#![forbid(unsafe_code)]

use std::os::fd::OwnedFd;
use std::process::{ChildStderr, ChildStdin, ChildStdout};
use std::thread::JoinHandle;

use linception_pidfd::{ExitStatus, NamespaceType, Pid, PidFd, Signal};
use linception_seccomp_notify::Listener;

use crate::builder::{ContainerBuilder, Namespaces};
use crate::cgroup::CgroupGuard;
use crate::error::Result;

/// What a spawn hands to [`Container::new`].
pub(crate) struct Parts {
    pub pid: Pid,
    pub pidfd: PidFd,
    pub namespaces: Namespaces,
    pub root_mapped: bool,
    /// The caller's ends of piped stdin, stdout, stderr.
    pub stdio: [Option<OwnedFd>; 3],
    pub listener: Option<Listener>,
    pub handler: Option<JoinHandle<()>>,
    pub cgroup: Option<CgroupGuard>,
    /// The master of the container's terminal, for the handle.
    pub terminal: Option<OwnedFd>,
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
    status: Option<ExitStatus>,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    listener: Option<Listener>,
    handler: Option<JoinHandle<()>>,
    cgroup: Option<CgroupGuard>,
    terminal: Option<OwnedFd>,
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
            status: None,
            stdin: stdin.map(ChildStdin::from),
            stdout: stdout.map(ChildStdout::from),
            stderr: stderr.map(ChildStderr::from),
            listener: parts.listener,
            handler: parts.handler,
            cgroup: parts.cgroup,
            terminal: parts.terminal,
        }
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

    /// The namespaces the container was created with.
    pub fn namespaces(&self) -> Namespaces {
        self.namespaces
    }

    /// Whether the container has a user namespace in which uid and gid 0 are mapped.
    pub(crate) fn root_mapped(&self) -> bool {
        self.root_mapped
    }

    /// Starts another program inside the running container: a helper
    /// child of the caller joins the container's namespaces with one
    /// `setns(pidfd, flags)` (Linux 5.8), forks the program into them as a child of
    /// the caller (`CLONE_PARENT`, so the new process is in the container's pid
    /// namespace and the caller can wait for it) and exits. The caller process itself
    /// never changes namespace.
    ///
    /// `b` gives the program, arguments, environment, working directory, uid/gid,
    /// groups, capabilities, `no_new_privs`, fds, stdio, keyring and seccomp filter;
    /// namespaces, root, mounts, maps, hostname, `set_tid` and cgroup are refused
    /// (they are the container's). In a container with a user namespace, the program
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
    pub fn exec_in(&self, b: ContainerBuilder) -> Result<Container> {
        crate::spawn::exec_in(self, b)
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
        let st = self.pidfd.wait()?;
        self.reaped(st)
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
        match self.pidfd.try_wait()? {
            Some(st) => self.reaped(st).map(Some),
            None => Ok(None),
        }
    }

    fn reaped(&mut self, st: ExitStatus) -> Result<ExitStatus> {
        self.status = Some(st);
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

    /// The seccomp listener, if the filter was set with
    /// [`Seccomp::keep_listener`](crate::Seccomp::keep_listener) (once).
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
    /// waited for, then removes the cgroup the spawn created. Errors are ignored.
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.pidfd.send_signal(Signal::KILL);
            if let Ok(st) = self.pidfd.wait() {
                let _ = self.reaped(st);
            }
        }
        if let Some(cg) = self.cgroup.take() {
            let _ = cg.remove();
        }
    }
}
