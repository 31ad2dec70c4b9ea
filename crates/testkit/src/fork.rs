//! Running a closure in a forked child.

use std::ffi::CStr;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use crate::wire::Wire;

/// The uid and gid that [`Fork::unprivileged`] drops to ("nobody").
pub const NOBODY: u32 = 65534;

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
#[derive(Clone, Debug)]
#[must_use]
pub struct Fork {
    steps: Vec<Step>,
    timeout: Duration,
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
        }
    }

    /// Drops to uid/gid [`NOBODY`] with no supplementary groups (and keeps the child
    /// dumpable, so it can still write its own `/proc/self` files). The parent must
    /// be root.
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

    /// Rootless: drop to [`NOBODY`], then a new user namespace in which the child is
    /// root, mapped to 65534 outside.
    pub fn rootless(self) -> Self {
        self.unprivileged().unshare(libc::CLONE_NEWUSER).map_root()
    }

    /// Sets how long the child may run before it is killed and the test fails.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Forks, runs the setup steps and `f` in the child, and returns `f`'s result.
    ///
    /// # Panics
    /// When the child panics, fails a setup step, dies, or times out.
    pub fn run<T: Wire>(self, f: impl FnOnce() -> T) -> T {
        install_panic_hook();
        let mut fds = [0; 2];
        // SAFETY: `fds` is a valid array of two c_ints for pipe2 to fill.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            panic!("testkit: pipe2: {}", io::Error::last_os_error());
        }
        let [read_fd, write_fd] = fds;
        // SAFETY: the child only runs the closure and then _exits; see the type's docs.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            panic!("testkit: fork: {}", io::Error::last_os_error());
        }
        if pid == 0 {
            // SAFETY: read_fd is our copy of the pipe's read end.
            unsafe { libc::close(read_fd) };
            let message = child_main(&self.steps, f);
            write_all(write_fd, &message);
            // SAFETY: _exit ends the child without running the parent's destructors.
            unsafe { libc::_exit(0) };
        }
        // SAFETY: write_fd is the parent's copy of the write end, no longer needed.
        unsafe { libc::close(write_fd) };
        let (message, timed_out) = read_until_eof(read_fd, self.timeout);
        // SAFETY: read_fd is open and owned here.
        unsafe { libc::close(read_fd) };
        if timed_out {
            // SAFETY: pid is our unreaped child, so the number cannot have been reused.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let status = reap(pid);
        if timed_out {
            panic!("testkit: child {pid} timed out after {:?}", self.timeout);
        }
        decode_outcome(pid, &message, status)
    }
}

fn decode_outcome<T: Wire>(pid: libc::pid_t, message: &[u8], status: libc::c_int) -> T {
    let Some((&tag, mut body)) = message.split_first() else {
        panic!(
            "testkit: child {pid} sent no result ({})",
            describe_status(status)
        );
    };
    if tag == Outcome::Value as u8 {
        if let Some(value) = T::decode(&mut body)
            && body.is_empty()
        {
            return value;
        }
        panic!("testkit: child {pid} sent a malformed result");
    }
    let text = String::decode(&mut body).unwrap_or_else(|| "<unreadable message>".into());
    if tag == Outcome::Setup as u8 {
        panic!("testkit: child setup failed: {text}");
    }
    panic!("child {pid} panicked: {text}");
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

fn read_until_eof(fd: libc::c_int, timeout: Duration) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (out, true);
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = left.as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: pfd is one valid pollfd.
        let ready = unsafe { libc::poll(&mut pfd, 1, ms.max(1)) };
        if ready < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return (out, false);
        }
        if ready == 0 {
            continue;
        }
        // SAFETY: chunk is valid for its length; fd is open.
        let n = unsafe { libc::read(fd, chunk.as_mut_ptr().cast(), chunk.len()) };
        match n {
            0 => return (out, false),
            n if n < 0 => {
                if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                    return (out, false);
                }
            }
            n => out.extend_from_slice(&chunk[..n as usize]),
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
