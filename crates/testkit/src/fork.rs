//! Running a closure in a forked child.

use std::ffi::CStr;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use crate::wire::Wire;

/// The uid and gid that [`Fork::unprivileged`] drops to from root ("nobody").
pub const NOBODY: u32 = 65534;

/// The uid and gid a [`Fork::unprivileged`] child runs as: [`NOBODY`] when the test
/// process is root, else the process's own effective ids (it is unprivileged already
/// and stays as it is). [`Fork::rootless`] maps root of its user namespace to these.
pub fn unprivileged_ids() -> (u32, u32) {
    // SAFETY: geteuid/getegid cannot fail.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
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
        let [read_fd, write_fd] = pipe();
        let stderr_pipe = self.capture_stderr.then(pipe);
        // SAFETY: the child only runs the closure and then _exits; see the type's docs.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            panic!("testkit: fork: {}", io::Error::last_os_error());
        }
        if pid == 0 {
            // SAFETY: read_fd is our copy of the pipe's read end.
            unsafe { libc::close(read_fd) };
            if let Some([err_read, err_write]) = stderr_pipe {
                // SAFETY: both fds are this child's copies of the stderr pipe; dup2
                // makes fd 2 its write end (without CLOEXEC, so programs the child
                // starts write there too).
                unsafe {
                    libc::close(err_read);
                    libc::dup2(err_write, 2);
                    libc::close(err_write);
                }
            }
            let message = child_main(&self.steps, f);
            write_all(write_fd, &message);
            // SAFETY: _exit ends the child without running the parent's destructors.
            unsafe { libc::_exit(0) };
        }
        let err_fd = stderr_pipe.map(|[err_read, err_write]| {
            // SAFETY: the parent's copy of the write end is no longer needed.
            unsafe { libc::close(err_write) };
            err_read
        });
        // SAFETY: write_fd is the parent's copy of the write end, no longer needed.
        unsafe { libc::close(write_fd) };
        let mut stderr = Vec::new();
        let (message, timed_out) = read_until_eof(read_fd, err_fd, &mut stderr, self.timeout);
        // SAFETY: read_fd is open and owned here.
        unsafe { libc::close(read_fd) };
        if timed_out {
            // SAFETY: pid is our unreaped child, so the number cannot have been reused.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let status = reap(pid);
        if let Some(err_fd) = err_fd {
            // What the child wrote before it exited is in the pipe by now.
            drain_ready(err_fd, &mut stderr);
            // SAFETY: err_fd is the parent's read end, open and owned here.
            unsafe { libc::close(err_fd) };
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

fn pipe() -> [libc::c_int; 2] {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two c_ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        panic!("testkit: pipe2: {}", io::Error::last_os_error());
    }
    fds
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

fn check(what: &str, ret: libc::c_int) -> Result<(), String> {
    if ret < 0 {
        Err(format!("{what}: {}", io::Error::last_os_error()))
    } else {
        Ok(())
    }
}

fn run_steps(steps: &[Step]) -> Result<(), String> {
    // The ids outside the newest user namespace, for MapRoot.
    let mut outer_ids = None;
    for step in steps {
        match *step {
            Step::DropPrivileges => drop_privileges()?,
            Step::Unshare(flags) => {
                if flags & libc::CLONE_NEWUSER != 0 {
                    // SAFETY: geteuid/getegid cannot fail.
                    outer_ids = Some(unsafe { (libc::geteuid(), libc::getegid()) });
                }
                // SAFETY: unshare takes flags only; the child is single-threaded.
                check(&format!("unshare({flags:#x})"), unsafe {
                    libc::unshare(flags)
                })?;
                if flags & libc::CLONE_NEWNS != 0 {
                    // SAFETY: all pointers are valid NUL-terminated strings or null.
                    let ret = unsafe {
                        libc::mount(
                            c"none".as_ptr(),
                            c"/".as_ptr(),
                            std::ptr::null(),
                            libc::MS_REC | libc::MS_PRIVATE,
                            std::ptr::null(),
                        )
                    };
                    check("mount(/, MS_REC|MS_PRIVATE)", ret)?;
                }
            }
            Step::MapRoot => {
                let (uid, gid) =
                    outer_ids.ok_or("map_root() must follow unshare(CLONE_NEWUSER)".to_string())?;
                write_proc(c"/proc/self/setgroups", "deny")?;
                write_proc(c"/proc/self/uid_map", &format!("0 {uid} 1\n"))?;
                write_proc(c"/proc/self/gid_map", &format!("0 {gid} 1\n"))?;
            }
        }
    }
    Ok(())
}

fn drop_privileges() -> Result<(), String> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        // Unprivileged already: the ids and groups stay as they are.
        return Ok(());
    }
    // SAFETY: plain credential syscalls on the current (single-threaded) process.
    unsafe {
        check("setgroups([])", libc::setgroups(0, std::ptr::null()))?;
        check("setresgid(65534)", libc::setresgid(NOBODY, NOBODY, NOBODY))?;
        check("setresuid(65534)", libc::setresuid(NOBODY, NOBODY, NOBODY))?;
        // A uid change clears the dumpable flag, which makes /proc/self/* owned by
        // root and so unwritable (uid_map, setgroups) for the process itself.
        check(
            "prctl(PR_SET_DUMPABLE, 1)",
            libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0),
        )?;
    }
    Ok(())
}

fn write_proc(path: &CStr, text: &str) -> Result<(), String> {
    let name = path.to_string_lossy();
    // SAFETY: path is NUL-terminated.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    check(&format!("open {name}"), fd)?;
    // SAFETY: the buffer is valid for text.len() bytes; fd is open.
    let n = unsafe { libc::write(fd, text.as_ptr().cast(), text.len()) };
    let err = io::Error::last_os_error();
    // SAFETY: fd is open and ours.
    unsafe { libc::close(fd) };
    if n != text.len() as isize {
        return Err(format!("write {text:?} to {name}: {err}"));
    }
    Ok(())
}

fn write_all(fd: libc::c_int, mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: buf is valid for buf.len() bytes; fd is the pipe's write end.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        buf = &buf[n as usize..];
    }
}

/// Reads `fd` until end of file or the timeout (then `true`), meanwhile moving what
/// arrives on `err_fd` into `stderr` so that a chatty child never blocks on a full
/// stderr pipe.
fn read_until_eof(
    fd: libc::c_int,
    err_fd: Option<libc::c_int>,
    stderr: &mut Vec<u8>,
    timeout: Duration,
) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    // The stderr pipe is watched until its own end of file (-1: ignored by poll).
    let mut pfds = [
        libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: err_fd.unwrap_or(-1),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (out, true);
        }
        let ms = left.as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: pfds is a valid array of two pollfds.
        let ready = unsafe { libc::poll(pfds.as_mut_ptr(), 2, ms.max(1)) };
        if ready < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return (out, false);
        }
        if pfds[1].revents != 0 && read_some(pfds[1].fd, stderr, STDERR_LIMIT) == Read::Eof {
            pfds[1].fd = -1;
        }
        if pfds[0].revents != 0 && read_some(fd, &mut out, usize::MAX) == Read::Eof {
            return (out, false);
        }
    }
}

#[derive(PartialEq)]
enum Read {
    Data,
    Eof,
}

/// One read from `fd` into `out` (bytes beyond `limit` are dropped); end of file
/// and errors other than EINTR both end the stream.
fn read_some(fd: libc::c_int, out: &mut Vec<u8>, limit: usize) -> Read {
    let mut chunk = [0u8; 4096];
    // SAFETY: chunk is valid for its length; fd is open.
    let n = unsafe { libc::read(fd, chunk.as_mut_ptr().cast(), chunk.len()) };
    match n {
        0 => Read::Eof,
        n if n < 0 => {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                Read::Data
            } else {
                Read::Eof
            }
        }
        n => {
            let room = limit.saturating_sub(out.len()).min(n as usize);
            out.extend_from_slice(&chunk[..room]);
            Read::Data
        }
    }
}

/// Moves what `fd` holds right now into `out`, without waiting for more.
fn drain_ready(fd: libc::c_int, out: &mut Vec<u8>) {
    loop {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: pfd is one valid pollfd; a zero timeout only checks readiness.
        let ready = unsafe { libc::poll(&mut pfd, 1, 0) };
        if ready <= 0 || pfd.revents & libc::POLLIN == 0 {
            return;
        }
        if read_some(fd, out, STDERR_LIMIT) == Read::Eof {
            return;
        }
    }
}

fn reap(pid: libc::pid_t) -> libc::c_int {
    let mut status = 0;
    loop {
        // SAFETY: status is a valid out-pointer; pid is our child.
        let ret = unsafe { libc::waitpid(pid, &mut status, 0) };
        if ret == pid {
            return status;
        }
        if ret < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return status;
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
