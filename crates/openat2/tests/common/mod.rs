//! A fixture tree under the temp dir, removed on drop.
#![allow(dead_code)]

use std::os::fd::AsFd;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use linception_openat2::{Error, OFlags, ResolveFlags, Resolver, Root};

/// `base/` holds `secret` (outside the root) and `root/`, the tree below.
pub struct Fixture {
    pub base: PathBuf,
    pub root: PathBuf,
}

/// The symlink chain `link0 -> link1 -> ... -> link39 -> file` is 40 links long.
pub const CHAIN: usize = 40;

impl Fixture {
    /// An empty fixture: `base/root/` and `base/secret`.
    pub fn empty(tag: &str) -> Fixture {
        static N: AtomicU32 = AtomicU32::new(0);
        let base = std::env::temp_dir().join(format!(
            "linception-openat2-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir(&base).unwrap();
        let root = base.join("root");
        std::fs::create_dir(&root).unwrap();
        for d in [&base, &root] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::write(base.join("secret"), "outside").unwrap();
        Fixture { base, root }
    }

    /// The full tree of the table tests.
    pub fn tree(tag: &str) -> Fixture {
        let f = Fixture::empty(tag);
        let r = &f.root;
        for d in ["dir/sub", "proc", "mnt", "a/b/c"] {
            std::fs::create_dir_all(r.join(d)).unwrap();
        }
        std::fs::write(r.join("file"), "inside").unwrap();
        std::fs::write(r.join("dir/sub/deep"), "deep").unwrap();
        std::fs::write(r.join("dir/file2"), "file2").unwrap();
        let links: &[(&str, &str)] = &[
            ("abs", "/dir/sub"),
            ("rel", "dir/sub"),
            ("up", "../../../../.."),
            ("escape", "../secret"),
            ("escape_abs", "/secret"),
            ("chain1", "chain2"),
            ("chain2", "dir/../chain3"),
            ("chain3", "/file"),
            ("loop1", "loop2"),
            ("loop2", "loop1"),
            ("self", "self"),
            ("dangling", "nonexistent"),
            ("dir/sub/back", "../../file"),
            ("dir/sub/rootlink", "/"),
            ("magic_self", "/proc/self/root"),
            ("magic_fd", "/proc/self/fd/0"),
            ("tomnt", "mnt/mfile"),
            ("link_over", "link0"),
            ("tofile_slash", "file/"),
        ];
        for (link, target) in links {
            symlink(target, r.join(link)).unwrap();
        }
        // The host's absolute path of the outside secret: inside the root it names nothing.
        symlink(f.base.join("secret"), r.join("host_abs")).unwrap();
        for i in 0..CHAIN {
            let target = if i + 1 == CHAIN {
                "file".to_owned()
            } else {
                format!("link{}", i + 1)
            };
            symlink(target, r.join(format!("link{i}"))).unwrap();
        }
        f
    }

    /// `root/<rel>` on the host (for the tests' own checks only).
    pub fn host(&self, rel: &str) -> PathBuf {
        if rel == "." {
            self.root.clone()
        } else {
            self.root.join(rel)
        }
    }

    pub fn open_root(&self, resolver: Resolver, flags: ResolveFlags) -> Root {
        Root::new(&self.root)
            .unwrap()
            .with_resolver(resolver)
            .with_resolve_flags(flags)
            .unwrap()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // A directory a test locked (no search bit) stops an unprivileged
        // owner's removal: opened up again first.
        open_up(&self.base);
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// Gives every directory beneath `dir` (not following symlinks) its owner's read,
/// write and search bits.
fn open_up(dir: &Path) {
    let Ok(md) = std::fs::symlink_metadata(dir) else {
        return;
    };
    if !md.is_dir() {
        return;
    }
    let mode = md.permissions().mode();
    if mode & 0o700 != 0o700 {
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o700));
    }
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        open_up(&e.path());
    }
}

/// (dev, ino) of a host path, following symlinks or not.
pub fn ident(path: &Path, follow: bool) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let m = if follow {
        std::fs::metadata(path)
    } else {
        std::fs::symlink_metadata(path)
    };
    let m = m.unwrap_or_else(|e| panic!("stat {path:?}: {e}"));
    (m.dev(), m.ino())
}

/// (dev, ino) of an fd.
pub fn fd_ident(fd: impl AsFd) -> (u64, u64) {
    let st = rustix::fs::fstat(fd).unwrap();
    (st.st_dev, st.st_ino)
}

/// A lookup's outcome, comparable across resolvers: the file's identity or the errno.
pub fn outcome(res: Result<impl AsFd, Error>) -> Result<(u64, u64), i32> {
    match res {
        Ok(fd) => Ok(fd_ident(fd)),
        Err(e) => Err(e
            .raw_os_error()
            .unwrap_or_else(|| panic!("no errno in {e}"))),
    }
}

pub const RESOLVERS: [Resolver; 2] = [Resolver::Kernel, Resolver::Fallback];

/// The O_PATH flags used by the tables.
pub fn path_flags(follow: bool) -> OFlags {
    if follow {
        OFlags::PATH
    } else {
        OFlags::PATH | OFlags::NOFOLLOW
    }
}

/// The errno's name (linception-errno's), `"other"` for a number without one.
pub fn errno_name(e: i32) -> &'static str {
    linception_errno::name(e).unwrap_or("other")
}

/// Serializes the tests of one test binary. A forked child inherits every fd the
/// other test threads hold at fork time; if another test then removes its fixture,
/// those fds' /proc links change and the child's leak check would see it.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Opens what the crate keeps open once used (one fd to `/proc`, for the userspace
/// resolver's final open and `Handle::reopen`), so that a leak check sees only what
/// the checked calls leave behind.
pub fn warm_up() {
    let root = Root::new("/").unwrap().with_resolver(Resolver::Fallback);
    drop(root.open(".", OFlags::RDONLY | OFlags::DIRECTORY).unwrap());
}

/// `assert_no_leaks` after [`warm_up`].
pub fn no_leaks<T>(f: impl FnOnce() -> T) -> T {
    warm_up();
    linception_testkit::leaks::assert_no_leaks(f)
}
