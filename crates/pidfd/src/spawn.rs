//! `Exec` (what to run) and `Child` (a handle that reaps on drop).
#![forbid(unsafe_code)]

use std::ffi::{CString, OsStr, OsString, c_char};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::sync::mpsc;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::PidFd;
use crate::error::{Error, Result};
use crate::sys::ExecPtrs;
use crate::types::{ExitStatus, Pid, Signal};

/// A program to execute in a new process: path, argv and environment, like
/// `std::process::Command` without the I/O redirection. The program is a path given
/// to `execve` as is (no `PATH` search).
///
/// ```
/// use linception_pidfd::Exec;
/// let exec = Exec::new("/bin/echo").arg("hello").env_clear().env("LANG", "C");
/// # let _ = exec;
/// ```
#[derive(Clone, Debug)]
pub struct Exec {
    program: OsString,
    argv: Vec<OsString>,
    /// `None`: the caller's environment at spawn time.
    env: Option<Vec<(OsString, OsString)>>,
}

/// CStrings and pointer arrays built in the parent before clone3.
pub(crate) struct PreparedExec {
    program: CString,
    _strings: Vec<CString>,
    argv: Vec<*const c_char>,
    envp: Vec<*const c_char>,
}

impl PreparedExec {
    pub(crate) fn ptrs(&self) -> ExecPtrs {
        ExecPtrs {
            program: self.program.as_ptr(),
            argv: self.argv.as_ptr(),
            envp: self.envp.as_ptr(),
        }
    }
}

fn cstring(what: impl FnOnce() -> String, s: &OsStr) -> Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| Error::invalid(what(), "contains a NUL byte"))
}

impl Exec {
    /// Runs `program` with `argv[0] = program` and the caller's environment.
    pub fn new(program: impl AsRef<OsStr>) -> Exec {
        let program = program.as_ref().to_os_string();
        Exec {
            argv: vec![program.clone()],
            program,
            env: None,
        }
    }

    /// Appends an argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Exec {
        self.argv.push(arg.as_ref().to_os_string());
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Exec
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.argv
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// Sets `argv[0]` (default: the program path).
    pub fn arg0(mut self, arg0: impl AsRef<OsStr>) -> Exec {
        self.argv[0] = arg0.as_ref().to_os_string();
        self
    }

    /// Starts from an empty environment instead of the caller's.
    pub fn env_clear(mut self) -> Exec {
        self.env = Some(Vec::new());
        self
    }

    /// Sets one environment variable (replacing an inherited one of that name).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Exec {
        let env = self
            .env
            .get_or_insert_with(|| std::env::vars_os().collect());
        let key = key.as_ref().to_os_string();
        env.retain(|(k, _)| *k != key);
        env.push((key, value.as_ref().to_os_string()));
        self
    }

    /// The program path.
    pub fn program(&self) -> &OsStr {
        &self.program
    }

    pub(crate) fn program_lossy(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }

    /// Builds every CString and pointer array the child will use.
    pub(crate) fn prepare(&self) -> Result<PreparedExec> {
        let program = cstring(|| format!("program {:?}", self.program), &self.program)?;
        let mut strings = Vec::with_capacity(self.argv.len() + 16);
        for (i, a) in self.argv.iter().enumerate() {
            strings.push(cstring(|| format!("argv[{i}] {a:?}"), a)?);
        }
        let n_args = strings.len();
        let owned_env: Vec<(OsString, OsString)>;
        let env = match &self.env {
            Some(e) => e,
            None => {
                owned_env = std::env::vars_os().collect();
                &owned_env
            }
        };
        for (k, v) in env {
            if k.as_bytes().contains(&b'=') || k.is_empty() {
                return Err(Error::invalid(
                    format!("environment variable name {k:?}"),
                    "must be non-empty and contain no '='",
                ));
            }
            let mut kv = k.clone().into_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            strings.push(cstring(
                || format!("environment variable {k:?}"),
                OsStr::from_bytes(&kv),
            )?);
        }
        let mut argv: Vec<*const c_char> = strings[..n_args].iter().map(|s| s.as_ptr()).collect();
        argv.push(std::ptr::null());
        let mut envp: Vec<*const c_char> = strings[n_args..].iter().map(|s| s.as_ptr()).collect();
        envp.push(std::ptr::null());
        Ok(PreparedExec {
            program,
            _strings: strings,
            argv,
            envp,
        })
    }
}

/// A child process created by [`CloneArgs::spawn`](crate::CloneArgs::spawn): its pid
/// and pidfd, and its exit status once waited for.
///
/// Dropping a `Child` never leaves a zombie: `Drop` reaps it if it has exited, and
/// otherwise hands its pidfd to a process-wide reaper thread (started on first use)
/// that polls it and reaps it when it exits. The process is not killed: call
/// [`Child::kill`] first for that.
#[derive(Debug)]
pub struct Child {
    pid: Pid,
    pidfd: Option<PidFd>,
    status: Option<ExitStatus>,
}

impl Child {
    /// Wraps a child's pid and pidfd (e.g. from [`CloneResult::Parent`](crate::CloneResult::Parent)),
    /// taking over the duty to reap it. `pidfd` must refer to a child of this
    /// process.
    pub fn from_parts(pid: Pid, pidfd: PidFd) -> Child {
        Child {
            pid,
            pidfd: Some(pidfd),
            status: None,
        }
    }

    /// The child's pid in the caller's pid namespace (as returned by clone3).
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// The child's pidfd.
    pub fn pidfd(&self) -> &PidFd {
        self.pidfd
            .as_ref()
            .expect("Child always holds its pidfd until dropped")
    }

    /// Gives up the handle, returning the pidfd; reaping is now the caller's job.
    pub fn into_pidfd(mut self) -> PidFd {
        // With the pidfd taken, Drop has nothing left to reap.
        self.pidfd
            .take()
            .expect("Child always holds its pidfd until dropped")
    }

    /// Sends `sig` through the pidfd. See [`PidFd::send_signal`].
    ///
    /// # Errors
    ///
    /// [`Error::ProcessGone`] once reaped.
    pub fn send_signal(&self, sig: Signal) -> Result<()> {
        self.pidfd().send_signal(sig)
    }

    /// Sends `SIGKILL`; like `std::process::Child::kill`, succeeds if the child
    /// has already exited but was not reaped by us, and does nothing after a
    /// successful wait.
    ///
    /// # Errors
    ///
    /// Signalling errors other than the process being gone.
    pub fn kill(&mut self) -> Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        match self.send_signal(Signal::KILL) {
            Err(Error::ProcessGone { .. }) => Ok(()),
            r => r,
        }
    }

    /// Waits for the child to exit and reaps it; later calls return the same status.
    ///
    /// # Errors
    ///
    /// See [`PidFd::wait`].
    pub fn wait(&mut self) -> Result<ExitStatus> {
        if let Some(st) = self.status {
            return Ok(st);
        }
        let st = self.pidfd().wait()?;
        self.status = Some(st);
        Ok(st)
    }

    /// Reaps the child if it has exited.
    ///
    /// # Errors
    ///
    /// See [`PidFd::try_wait`].
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        if let Some(st) = self.status {
            return Ok(Some(st));
        }
        let st = self.pidfd().try_wait()?;
        self.status = st;
        Ok(st)
    }

    /// Waits at most `timeout`; `Ok(None)` if it is still running.
    ///
    /// # Errors
    ///
    /// See [`PidFd::wait_timeout`].
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        if let Some(st) = self.status {
            return Ok(Some(st));
        }
        let st = self.pidfd().wait_timeout(timeout)?;
        self.status = st;
        Ok(st)
    }

    #[cfg(feature = "tokio")]
    pub(crate) fn record(&mut self, st: ExitStatus) {
        self.status = Some(st);
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_some() {
            return;
        }
        let Some(pidfd) = self.pidfd.take() else {
            return;
        };
        // Ok(Some): reaped now; Err: not reapable by us (already reaped elsewhere).
        if let Ok(None) = pidfd.try_wait() {
            reaper::adopt(pidfd);
        }
    }
}

/// The process-wide reaper thread for dropped, still running children.
mod reaper {
    use super::*;
    use rustix::event::{PollFd, PollFlags};
    use std::os::fd::OwnedFd;

    struct Reaper {
        /// The process that started the thread: a forked child must start its own.
        owner: Pid,
        tx: mpsc::Sender<PidFd>,
        wake: OwnedFd,
    }

    static REAPER: Mutex<Option<Reaper>> = Mutex::new(None);

    pub(super) fn adopt(pidfd: PidFd) {
        let mut guard = REAPER.lock().unwrap_or_else(PoisonError::into_inner);
        let me = Pid::this();
        if guard.as_ref().is_none_or(|r| r.owner != me) {
            match start() {
                Some(r) => *guard = Some(r),
                None => {
                    // No thread (out of resources): reap synchronously rather than
                    // leave a zombie.
                    let _ = pidfd.wait();
                    return;
                }
            }
        }
        let r = guard.as_ref().expect("set above");
        if let Err(mpsc::SendError(pidfd)) = r.tx.send(pidfd) {
            let _ = pidfd.wait();
            return;
        }
        let _ = rustix::io::write(&r.wake, &[1]);
    }

    fn start() -> Option<Reaper> {
        let (wake_r, wake_w) = rustix::pipe::pipe_with(
            rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
        )
        .ok()?;
        let (tx, rx) = mpsc::channel::<PidFd>();
        std::thread::Builder::new()
            .name("linception-reaper".into())
            .spawn(move || run(rx, wake_r))
            .ok()?;
        Some(Reaper {
            owner: Pid::this(),
            tx,
            wake: wake_w,
        })
    }

    fn run(rx: mpsc::Receiver<PidFd>, wake: OwnedFd) {
        let mut children: Vec<PidFd> = Vec::new();
        loop {
            while let Ok(p) = rx.try_recv() {
                children.push(p);
            }
            let ready: Vec<bool> = {
                let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(children.len() + 1);
                fds.push(PollFd::new(&wake, PollFlags::IN));
                fds.extend(children.iter().map(|c| PollFd::new(c, PollFlags::IN)));
                if rustix::event::poll(&mut fds, None).is_err() {
                    continue;
                }
                fds.iter()
                    .skip(1)
                    .map(|f| !f.revents().is_empty())
                    .collect()
            };
            let mut buf = [0u8; 64];
            while let Ok(n) = rustix::io::read(&wake, &mut buf) {
                if n == 0 {
                    break;
                }
            }
            let mut i = 0;
            children.retain(|c| {
                let keep = !ready[i] || matches!(c.try_wait(), Ok(None));
                i += 1;
                keep
            });
        }
    }
}
