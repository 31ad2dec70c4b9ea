//! Helpers shared by the integration tests.
#![allow(dead_code)]
// A raw fork: the helper that owns the idmap's user namespace makes raw syscalls
// only (it runs between fork and _exit).
#![allow(unsafe_code)]

use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A directory under `std::env::temp_dir()`, removed (recursively) on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "linception-mountapi-{tag}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Creates `name` (a directory) inside and returns its path.
    pub fn subdir(&self, name: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::create_dir_all(&path).expect("create subdir");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // A test that failed half way may have left mounts inside: detach them
        // (deepest first) so that the directory can go.
        let mut inside: Vec<PathBuf> = linception_mountapi::read_mountinfo()
            .map(|table| table.into_iter().map(|m| m.mount_point).collect())
            .unwrap_or_default();
        inside.retain(|p| p.starts_with(&self.0));
        inside.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
        for point in inside {
            let _ = rustix::mount::unmount(&point, rustix::mount::UnmountFlags::DETACH);
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn cstr(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).expect("no NUL in path")
}

/// The mount points of this process's mount namespace.
pub fn mount_points() -> Vec<String> {
    linception_testkit::leaks::mounts()
        .into_iter()
        .map(|line| line.split(' ').nth(1).unwrap_or("").to_string())
        .collect()
}

/// (uid, gid) of `path`.
pub fn owner(path: &Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("stat {path:?}: {e}"));
    (meta.uid(), meta.gid())
}

/// Creates a user namespace with `uid_map`/`gid_map` = `map` ("inside outside count")
/// and returns an fd of it: a forked helper unshares CLONE_NEWUSER and waits, we
/// write its maps, open /proc/PID/ns/user, then kill and reap it. Call from a
/// single-threaded (Fork) child.
pub fn userns_fd(map: &str) -> OwnedFd {
    let mut ready = [0; 2];
    let mut hold = [0; 2];
    // SAFETY: arrays of two ints for pipe2 to fill.
    unsafe {
        assert_eq!(libc::pipe2(ready.as_mut_ptr(), libc::O_CLOEXEC), 0);
        assert_eq!(libc::pipe2(hold.as_mut_ptr(), libc::O_CLOEXEC), 0);
    }
    // SAFETY: the caller is single-threaded; the child makes raw syscalls only.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: raw syscalls on our own pipe fds, then _exit.
        unsafe {
            // Keep only our ends, so that the parent's close is seen as EOF; die
            // with the parent whatever happens.
            libc::close(ready[0]);
            libc::close(hold[1]);
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            let ok: u8 = (libc::unshare(libc::CLONE_NEWUSER) == 0) as u8;
            libc::write(ready[1], (&ok as *const u8).cast(), 1);
            let mut byte = 0u8;
            libc::read(hold[0], (&mut byte as *mut u8).cast(), 1);
            libc::_exit(0);
        }
    }
    let mut ok = 0u8;
    // SAFETY: reading one byte into a local from our pipe.
    unsafe {
        libc::close(ready[1]);
        libc::close(hold[0]);
        libc::read(ready[0], (&mut ok as *mut u8).cast(), 1);
        libc::close(ready[0]);
    }
    let result = (|| -> Result<OwnedFd, String> {
        if ok != 1 {
            return Err("helper could not unshare CLONE_NEWUSER".into());
        }
        std::fs::write(format!("/proc/{pid}/setgroups"), "deny")
            .map_err(|e| format!("setgroups: {e}"))?;
        std::fs::write(format!("/proc/{pid}/uid_map"), map).map_err(|e| format!("uid_map: {e}"))?;
        std::fs::write(format!("/proc/{pid}/gid_map"), map).map_err(|e| format!("gid_map: {e}"))?;
        let path = CString::new(format!("/proc/{pid}/ns/user")).unwrap();
        // SAFETY: path is NUL-terminated.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(format!("open ns/user: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: fd was just opened and is owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    })();
    // SAFETY: closing our write end releases the helper; then reap it.
    unsafe {
        libc::close(hold[1]);
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
    }
    result.unwrap_or_else(|e| panic!("creating the idmap user namespace: {e}"))
}
