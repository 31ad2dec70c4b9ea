//! The userspace resolver where `/proc` is not a procfs (an empty tmpfs over it,
//! in a private mount namespace): it cannot reopen the last component through
//! `/proc/thread-self/fd`, so it opens it by name with `O_NOFOLLOW`. Its answers
//! are still the kernel's, except that `O_NOFOLLOW` then shows in the status flags
//! (as documented). Its own test binary: nothing here may have opened `/proc`
//! before the mount.

mod common;

use common::*;
use linception_openat2::{Mode, OFlags, OpenHow, ResolveFlags, Resolver, openat2};
use linception_testkit::{Feature, Fork, require};

const FLAGS: [OFlags; 8] = [
    OFlags::RDONLY,
    OFlags::RDWR,
    OFlags::PATH,
    OFlags::RDONLY.union(OFlags::DIRECTORY),
    OFlags::WRONLY.union(OFlags::CREATE),
    OFlags::WRONLY.union(OFlags::TRUNC),
    OFlags::RDWR.union(OFlags::TMPFILE),
    OFlags::RDONLY.union(OFlags::NOFOLLOW),
];

const PATHS: [&str; 10] = [
    "file", "dir", "abs", "rel/deep", "new", "dangling", ".", "dir/", "up/file", "escape",
];

/// Where a lookup may create a file inside the root.
const CREATABLE: [&str; 3] = ["new", "nonexistent", "secret"];

/// (dev, ino, F_GETFL) or the errno; created files are removed after the call.
fn outcome(f: &Fixture, res: Result<std::os::fd::OwnedFd, i32>) -> Result<(u64, u64, u32), i32> {
    let out = res.map(|fd| {
        let st = rustix::fs::fstat(&fd).unwrap();
        let fl = rustix::fs::fcntl_getfl(&fd).unwrap().bits();
        // A created file: compare where it was created, not its inode number.
        let created = CREATABLE.iter().position(|c| {
            std::fs::metadata(f.host(c))
                .is_ok_and(|m| std::os::unix::fs::MetadataExt::ino(&m) == st.st_ino)
        });
        let ino = if let Some(i) = created {
            u64::MAX - 2 - i as u64
        } else if st.st_nlink == 0 {
            u64::MAX - 1 // O_TMPFILE
        } else {
            st.st_ino
        };
        (st.st_dev, ino, fl)
    });
    for c in CREATABLE {
        let _ = std::fs::remove_file(f.host(c));
    }
    out
}

fn compare_without_procfs(f: &Fixture) -> Vec<String> {
    use rustix::mount::{MountFlags, mount};
    mount("tmpfs", "/proc", "tmpfs", MountFlags::empty(), None).unwrap();
    assert_ne!(
        rustix::fs::statfs("/proc").unwrap().f_type,
        rustix::fs::PROC_SUPER_MAGIC
    );
    let dir = std::fs::File::open(&f.root).unwrap();
    let mut failures = Vec::new();
    let mut nofollow_shown = 0;
    let mut compared = 0;
    for scope in [ResolveFlags::IN_ROOT, ResolveFlags::BENEATH] {
        let root = f.open_root(Resolver::Fallback, scope);
        for flags in FLAGS {
            let mode = if flags.intersects(OFlags::CREATE | OFlags::TMPFILE) {
                0o600
            } else {
                0
            };
            let how = OpenHow::new(flags).mode(Mode::from_raw_mode(mode).unwrap());
            for path in PATHS {
                // The kernel's answer; EAGAIN (a rename anywhere on the system during
                // a `..` walk under BENEATH/IN_ROOT) is retried, as a caller does.
                let mut res = Err(libc::EAGAIN);
                for _ in 0..8 {
                    res = openat2(&dir, path, &how.resolve(scope))
                        .map_err(|e| e.raw_os_error().unwrap());
                    if res.as_ref().err() != Some(&libc::EAGAIN) {
                        break;
                    }
                }
                let kernel = outcome(f, res);
                let fallback = outcome(
                    f,
                    root.open_with(path, &how)
                        .map_err(|e| e.raw_os_error().unwrap()),
                );
                compared += 1;
                let nofollow = OFlags::NOFOLLOW.bits();
                let same = match (kernel, fallback) {
                    (Ok((d1, i1, fl1)), Ok((d2, i2, fl2))) => {
                        if fl2 == fl1 | nofollow && fl1 & nofollow == 0 {
                            nofollow_shown += 1;
                        }
                        (d1, i1) == (d2, i2) && fl1 | nofollow == fl2 | nofollow
                    }
                    (a, b) => a == b,
                };
                if !same {
                    failures.push(format!(
                        "{path:?} {flags:?} {scope:?}: kernel {kernel:?}, fallback {fallback:?}"
                    ));
                }
            }
        }
    }
    assert_eq!(compared, 2 * FLAGS.len() * PATHS.len());
    // The documented difference is real: without procfs the last name is opened
    // with O_NOFOLLOW (regular files; directories are opened through themselves).
    assert!(nofollow_shown > 0, "the by-name path was not taken");
    failures
}

/// As root, in a private mount namespace.
#[test]
fn fallback_without_procfs_as_root() {
    require!(Feature::Root);
    require!(Feature::Openat2);
    let f = Fixture::tree("noproc");
    let failures = Fork::new()
        .unshare(libc::CLONE_NEWNS)
        .run(|| compare_without_procfs(&f));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Rootless: root of its own user namespace, uid 65534 outside.
#[test]
fn fallback_without_procfs_rootless() {
    require!(Feature::Openat2, Feature::UnprivilegedUserNs);
    let f = Fixture::tree("noproc-rootless");
    std::fs::set_permissions(&f.root, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let failures = Fork::new()
        .rootless()
        .unshare(libc::CLONE_NEWNS)
        .run(|| compare_without_procfs(&f));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
