//! Helpers shared by the kernel tests: a child in a new user namespace that waits
//! for its maps, and a temporary directory that removes itself.
// Unsafe code here: a raw fork + unshare(CLONE_NEWUSER) child and its credential
// changes are the fixture the map writer is tested against.
#![allow(unsafe_code)]
#![allow(dead_code)]

use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use linception_userns::Pid;
use rustix::pipe::{PipeFlags, pipe_with};

/// A forked child that called `unshare(CLONE_NEWUSER)` and waits for
/// [`NsChild::finish`] to run its action. Reaped when finished or dropped.
pub struct NsChild {
    pub pid: Pid,
    go: Option<OwnedFd>,
    reaped: bool,
}

/// Forks a child into a new user namespace. Call it in a single-threaded process
/// (a testkit `Fork` child). `then` runs in the child once [`NsChild::finish`] is
/// called, and its return value is the child's exit code.
pub fn spawn_ns_child(then: impl FnOnce() -> i32) -> NsChild {
    let (ready_r, ready_w) = pipe_with(PipeFlags::CLOEXEC).expect("pipe");
    let (go_r, go_w) = pipe_with(PipeFlags::CLOEXEC).expect("pipe");
    // SAFETY: called in a single-threaded testkit child; the grandchild runs the
    // closure and _exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        drop(ready_r);
        drop(go_w);
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // SAFETY: unshare takes flags only; this process is single-threaded.
            if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
                return 100;
            }
            if rustix::io::write(&ready_w, &[1]) != Ok(1) {
                return 101;
            }
            let mut byte = [0u8];
            match rustix::io::read(&go_r, &mut byte) {
                Ok(1) => then(),
                _ => 102,
            }
        }))
        .unwrap_or(103);
        // SAFETY: ends the grandchild without running the test process's exit code.
        unsafe { libc::_exit(code) };
    }
    drop(ready_w);
    drop(go_r);
    let mut byte = [0u8];
    let n = rustix::io::read(&ready_r, &mut byte).expect("read ready");
    assert_eq!(n, 1, "the namespace child failed before unshare returned");
    NsChild {
        pid: Pid::from_raw(pid).unwrap(),
        go: Some(go_w),
        reaped: false,
    }
}

impl NsChild {
    /// Starts the child's action, without waiting for it.
    pub fn go(&mut self) {
        let go = self.go.take().expect("go twice");
        rustix::io::write(&go, &[1]).expect("write go");
    }

    /// Runs the child's action (if not started yet) and returns its exit code.
    pub fn finish(mut self) -> i32 {
        if self.go.is_some() {
            self.go();
        }
        self.reap()
    }

    /// Lets the child go without reaping it: closing the pipe makes it exit; the
    /// caller reaps it (or kills and reaps it through a pidfd).
    pub fn detach(mut self) -> Pid {
        self.go = None;
        self.reaped = true;
        self.pid
    }

    fn reap(&mut self) -> i32 {
        self.reaped = true;
        let status =
            rustix::process::waitpid(Some(self.pid), rustix::process::WaitOptions::empty())
                .expect("waitpid")
                .expect("child status")
                .1;
        status.exit_status().unwrap_or(-1)
    }
}

impl Drop for NsChild {
    fn drop(&mut self) {
        // A closed pipe makes a waiting child exit.
        self.go = None;
        if !self.reaped {
            let _ = self.reap();
        }
    }
}

/// In the namespace child: become `uid`/`gid` inside and create `path`.
/// Returns 0, or which step failed (10: setresgid, 11: setresuid, 12: create).
pub fn create_file_as(uid: u32, gid: u32, path: &Path) -> i32 {
    // SAFETY: credential syscalls in a single-threaded child.
    unsafe {
        if libc::setresgid(gid, gid, gid) != 0 {
            return 10;
        }
        if libc::setresuid(uid, uid, uid) != 0 {
            return 11;
        }
    }
    match std::fs::File::create(path) {
        Ok(_) => 0,
        Err(_) => 12,
    }
}

/// A world-writable temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "linception-userns-{tag}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir(&path).expect("create temp dir");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777))
            .expect("chmod temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The owner (uid, gid) of a file, seen from the test's namespace.
pub fn owner(path: &Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).expect("stat");
    (meta.uid(), meta.gid())
}
