//! Running a closure in a forked child.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use crate::sys::{self, Forked};
use crate::wire::Wire;

/// The uid and gid that [`Fork::unprivileged`] drops to from root ("nobody").
pub const NOBODY: u32 = 65534;

/// The uid and gid a [`Fork::unprivileged`] child runs as: [`NOBODY`] when the test
/// process is root, else the process's own effective ids (it is unprivileged already
/// and stays as it is). [`Fork::rootless`] maps root of its user namespace to these.
pub fn unprivileged_ids() -> (u32, u32) {
    let (uid, gid) = (sys::geteuid(), sys::getegid());
    if uid == 0 {
        (NOBODY, NOBODY)
    } else {
        (uid, gid)
    }
}

/// How much of a child's captured stderr is kept for the failure message.
const STDERR_LIMIT: usize = 64 * 1024;

#[derive(Clone, Copy, Debug)]
enum Step {
    DropPrivileges,
    Unshare(libc::c_int),
    MapRoot,
}

/// Runs a closure in a forked child, after optional setup steps taken in the order
/// they were added, and returns the closure's result to the test.
///
/// A panic (a failed assertion) in the child fails the test in the parent with the
/// child's message; so does a failed setup step, a crash, or a child that outlives
/// its timeout (60 s by default; it is killed).
///
/// The child is a copy of a possibly multithreaded test process with one thread;
/// it may allocate (glibc's fork resets the allocator's locks) but should not rely
/// on locks that other test threads could have held.
///
/// The steps work from an unprivileged start too (a test suite run by an ordinary
/// user): [`unprivileged`](Fork::unprivileged) then keeps the caller's ids and
/// [`rootless`](Fork::rootless) maps root to them; see [`unprivileged_ids`].
#[derive(Clone, Debug)]
#[must_use]
pub struct Fork {
    steps: Vec<Step>,
    timeout: Duration,
    capture_stderr: bool,
}

impl Default for Fork {
    fn default() -> Self {
        Self::new()
    }
}

enum Outcome {
    Value = 0,
    Panic = 1,
    Setup = 2,
}

static PANIC_MESSAGE: Mutex<Option<String>> = Mutex::new(None);
static IN_CHILD: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// Installs, once and before the first fork, a panic hook that inside a testkit
/// child records the message silently for the parent and elsewhere behaves as
/// before. Installing it in the child instead could deadlock: another test thread
/// may have held the hook or backtrace lock at the moment of the fork.
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if IN_CHILD.load(Ordering::Relaxed) {
                if let Ok(mut slot) = PANIC_MESSAGE.lock() {
                    *slot = Some(info.to_string());
                }
            } else {
                previous(info);
            }
        }));
    });
}

impl Fork {
    /// A child with no setup steps.
    pub fn new() -> Self {
        Fork {
            steps: Vec::new(),
            timeout: Duration::from_secs(60),
            capture_stderr: false,
        }
    }

    /// Runs the child unprivileged. From root it drops to uid/gid [`NOBODY`] with no
    /// supplementary groups (and keeps the child dumpable, so it can still write its
    /// own `/proc/self` files). From an unprivileged start (euid not 0) the child is
    /// unprivileged already and stays as it is: same uid, gid and groups, which only
    /// a privileged process could change. [`unprivileged_ids`] says which ids result.
    pub fn unprivileged(mut self) -> Self {
        self.steps.push(Step::DropPrivileges);
        self
    }

    /// Calls `unshare(flags)` (`libc::CLONE_NEW*`). With `CLONE_NEWNS` the new mount
    /// namespace is made recursively private at once, so nothing mounted in it
    /// propagates back to the host.
    pub fn unshare(mut self, flags: libc::c_int) -> Self {
        self.steps.push(Step::Unshare(flags));
        self
    }

    /// Maps uid and gid 0 of the child's (new) user namespace to its ids outside,
    /// writing "deny" to `setgroups` first, as an unprivileged process must.
    /// Follows `unshare(CLONE_NEWUSER)`.
    pub fn map_root(mut self) -> Self {
        self.steps.push(Step::MapRoot);
        self
    }

    /// Rootless: [`unprivileged`](Fork::unprivileged), then a new user namespace in
    /// which the child is root, mapped to the unprivileged ids outside ([`NOBODY`]
    /// when the test process is root, else the caller's own ids).
    pub fn rootless(self) -> Self {
        self.unprivileged().unshare(libc::CLONE_NEWUSER).map_root()
    }

    /// Sets how long the child may run before it is killed and the test fails.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Captures what the child (and every program it starts) writes to fd 2,
    /// instead of letting it reach the test's output: a passing test stays quiet
    /// when it provokes an expected failure (`Permission denied` from a shell), and
    /// when the test fails the text is attached to the failure message.
    ///
    /// fd 2 of the child becomes a pipe before the first setup step. What arrives
    /// after the child exits (from a grandchild still holding the pipe) is not
    /// waited for; at most 64 KiB are kept.
    pub fn capture_stderr(mut self) -> Self {
        self.capture_stderr = true;
        self
    }

    /// Forks, runs the setup steps and `f` in the child, and returns `f`'s result.
    ///
    /// # Panics
    /// When the child panics, fails a setup step, dies, or times out.
    pub fn run<T: Wire>(self, f: impl FnOnce() -> T) -> T {
        install_panic_hook();
        let (result_read, result_write) = pipe();
        let stderr_pipe = self.capture_stderr.then(pipe);
        let pid = match sys::fork() {
            Err(e) => panic!("testkit: fork: {e}"),
            Ok(Forked::Child) => {
                drop(result_read);
                if let Some((err_read, err_write)) = stderr_pipe {
                    drop(err_read);
                    // Without CLOEXEC: programs the child starts write there too.
                    if sys::dup2(err_write.as_fd(), 2).is_err() {
                        sys::exit_now(127);
                    }
                }
                let message = child_main(&self.steps, f);
                // A failed write shows in the parent as a child that sent no result.
                let _ = File::from(result_write).write_all(&message);
                sys::exit_now(0);
            }
            Ok(Forked::Parent(pid)) => pid,
        };
        drop(result_write);
        let err_read = stderr_pipe.map(|(err_read, _)| File::from(err_read));
        let mut stderr = Vec::new();
        let (message, timed_out) = read_until_eof(
            File::from(result_read),
            err_read.as_ref(),
            &mut stderr,
            self.timeout,
        );
        if timed_out {
            sys::kill_child(pid);
        }
        let status = sys::waitpid(pid).unwrap_or_else(|e| panic!("testkit: waitpid: {e}"));
        if let Some(err_read) = &err_read {
            // What the child wrote before it exited is in the pipe by now.
            drain_ready(err_read, &mut stderr);
        }
        let stderr = StderrText(stderr);
        if timed_out {
            panic!(
                "testkit: child {pid} timed out after {:?}{stderr}",
                self.timeout
            );
        }
        decode_outcome(pid, &message, status, &stderr)
    }
}

/// A child's captured stderr, displayed as a section to append to a failure message
/// (nothing when empty).
struct StderrText(Vec<u8>);

impl std::fmt::Display for StderrText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.0);
        write!(f, "\n--- the child's stderr ---\n{}", text.trim_end())?;
        if self.0.len() >= STDERR_LIMIT {
            write!(f, "\n[... cut at {STDERR_LIMIT} bytes]")?;
        }
        Ok(())
    }
}

fn pipe() -> (OwnedFd, OwnedFd) {
    sys::pipe().unwrap_or_else(|e| panic!("testkit: pipe2: {e}"))
}

fn decode_outcome<T: Wire>(
    pid: libc::pid_t,
    message: &[u8],
    status: libc::c_int,
    stderr: &StderrText,
) -> T {
    let Some((&tag, mut body)) = message.split_first() else {
        panic!(
            "testkit: child {pid} sent no result ({}){stderr}",
            describe_status(status)
        );
    };
    if tag == Outcome::Value as u8 {
        if let Some(value) = T::decode(&mut body)
            && body.is_empty()
        {
            return value;
        }
        panic!("testkit: child {pid} sent a malformed result{stderr}");
    }
    let text = String::decode(&mut body).unwrap_or_else(|| "<unreadable message>".into());
    if tag == Outcome::Setup as u8 {
        panic!("testkit: child setup failed: {text}{stderr}");
    }
    panic!("child {pid} panicked: {text}{stderr}");
}

fn child_main<T: Wire>(steps: &[Step], f: impl FnOnce() -> T) -> Vec<u8> {
    let mut out = Vec::new();
    if let Err(err) = run_steps(steps) {
        out.push(Outcome::Setup as u8);
        err.encode(&mut out);
        return out;
    }
    IN_CHILD.store(true, Ordering::Relaxed);
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => {
            out.push(Outcome::Value as u8);
            value.encode(&mut out);
        }
        Err(payload) => {
            let from_hook = PANIC_MESSAGE.lock().ok().and_then(|mut m| m.take());
            let text = from_hook.unwrap_or_else(|| {
                payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "<non-string panic>".into())
            });
            out.push(Outcome::Panic as u8);
            text.encode(&mut out);
        }
    }
    out
}

fn check(what: &str, result: io::Result<()>) -> Result<(), String> {
    result.map_err(|e| format!("{what}: {e}"))
}

fn run_steps(steps: &[Step]) -> Result<(), String> {
    // The ids outside the newest user namespace, for MapRoot.
    let mut outer_ids = None;
    for step in steps {
        match *step {
            Step::DropPrivileges => drop_privileges()?,
            Step::Unshare(flags) => {
                if flags & libc::CLONE_NEWUSER != 0 {
                    outer_ids = Some((sys::geteuid(), sys::getegid()));
                }
                check(&format!("unshare({flags:#x})"), sys::unshare(flags))?;
                if flags & libc::CLONE_NEWNS != 0 {
                    check("mount(/, MS_REC|MS_PRIVATE)", sys::make_mounts_private())?;
                }
            }
            Step::MapRoot => {
                let (uid, gid) =
                    outer_ids.ok_or("map_root() must follow unshare(CLONE_NEWUSER)".to_string())?;
                write_proc("/proc/self/setgroups", "deny")?;
                write_proc("/proc/self/uid_map", &format!("0 {uid} 1\n"))?;
                write_proc("/proc/self/gid_map", &format!("0 {gid} 1\n"))?;
            }
        }
    }
    Ok(())
}

fn drop_privileges() -> Result<(), String> {
    if sys::geteuid() != 0 {
        // Unprivileged already: the ids and groups stay as they are.
        return Ok(());
    }
    check("setgroups([])", sys::clear_groups())?;
    check("setresgid(65534)", sys::set_all_gids(NOBODY))?;
    check("setresuid(65534)", sys::set_all_uids(NOBODY))?;
    // A uid change clears the dumpable flag, which makes /proc/self/* owned by
    // root and so unwritable (uid_map, setgroups) for the process itself.
    check("prctl(PR_SET_DUMPABLE, 1)", sys::set_dumpable())
}

/// Writes `text` to a `/proc` file in one write, as id map files require.
fn write_proc(path: &str, text: &str) -> Result<(), String> {
    let mut file = File::options()
        .write(true)
        .open(Path::new(path))
        .map_err(|e| format!("open {path}: {e}"))?;
    match file.write(text.as_bytes()) {
        Ok(n) if n == text.len() => Ok(()),
        Ok(n) => Err(format!("write {text:?} to {path}: wrote {n} bytes")),
        Err(e) => Err(format!("write {text:?} to {path}: {e}")),
    }
}

/// Reads `result` until end of file or the timeout (then `true`), meanwhile moving
/// what arrives on `err` into `stderr` so that a chatty child never blocks on a
/// full stderr pipe.
fn read_until_eof(
    mut result: File,
    err: Option<&File>,
    stderr: &mut Vec<u8>,
    timeout: Duration,
) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    // The stderr pipe is watched until its own end of file (-1: ignored by poll).
    let mut pfds = [
        pollfd(result.as_raw_fd()),
        pollfd(err.map_or(-1, |f| f.as_raw_fd())),
    ];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (out, true);
        }
        if sys::poll(&mut pfds, left).is_err() {
            return (out, false);
        }
        if let Some(mut err) = err
            && pfds[1].revents != 0
            && read_some(&mut err, stderr, STDERR_LIMIT) == Got::Eof
        {
            pfds[1].fd = -1;
        }
        if pfds[0].revents != 0 && read_some(&mut result, &mut out, usize::MAX) == Got::Eof {
            return (out, false);
        }
    }
}

fn pollfd(fd: libc::c_int) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

#[derive(PartialEq)]
enum Got {
    Data,
    Eof,
}

/// One read from `from` into `out` (bytes beyond `limit` are dropped); end of file
/// and errors other than EINTR both end the stream.
fn read_some(mut from: impl Read, out: &mut Vec<u8>, limit: usize) -> Got {
    let mut chunk = [0u8; 4096];
    match from.read(&mut chunk) {
        Ok(0) => Got::Eof,
        Ok(n) => {
            let room = limit.saturating_sub(out.len()).min(n);
            out.extend_from_slice(&chunk[..room]);
            Got::Data
        }
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Got::Data,
        Err(_) => Got::Eof,
    }
}

/// Moves what `from` holds right now into `out`, without waiting for more.
fn drain_ready(from: &File, out: &mut Vec<u8>) {
    loop {
        let mut pfd = [pollfd(from.as_raw_fd())];
        let ready = sys::poll(&mut pfd, Duration::ZERO);
        if !matches!(ready, Ok(1)) || pfd[0].revents & libc::POLLIN == 0 {
            return;
        }
        if read_some(from, out, STDERR_LIMIT) == Got::Eof {
            return;
        }
    }
}

fn describe_status(status: libc::c_int) -> String {
    if libc::WIFSIGNALED(status) {
        format!("killed by signal {}", libc::WTERMSIG(status))
    } else if libc::WIFEXITED(status) {
        format!("exited with code {}", libc::WEXITSTATUS(status))
    } else {
        format!("wait status {status:#x}")
    }
}
