//! `Mount::copy_up`: a tmpfs that starts with a copy of the root's directory it
//! covers (runc's `tmpcopyup`), seen from inside real containers, as root (no user
//! namespace, as a root runtime runs an image) and rootless; and its refusals.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{TempDir, failure, modes, stdout_of};
use linception::{Container, Mount, Namespaces, RootFs};
use linception_testkit::{Feature, Fork, require};

/// A root directory holding `data/` (mode 0750): a file (0640), a set-uid file,
/// a directory two levels deep, a symlink, a fifo.
fn root_with_data(root: &Path) {
    let data = root.join("data");
    std::fs::create_dir_all(data.join("sub/deep")).unwrap();
    std::fs::write(data.join("file"), "hello\n").unwrap();
    std::fs::write(data.join("sub/deep/file2"), "deep\n").unwrap();
    std::fs::write(data.join("suid"), "").unwrap();
    std::os::unix::fs::symlink("file", data.join("link")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        data.join("pipe"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let mode = |p: &str, m: u32| {
        std::fs::set_permissions(data.join(p), std::fs::Permissions::from_mode(m)).unwrap()
    };
    mode("file", 0o640);
    mode("suid", 0o4755);
    mode("sub", 0o711);
    mode(".", 0o750);
}

const SCRIPT: &str = "cat /data/file /data/sub/deep/file2; readlink /data/link; \
     stat -c '%n %a %u %F' /data /data/file /data/suid /data/sub /data/pipe; \
     echo new > /data/new && cat /data/new; \
     ls -A /absent | wc -l; stat -c '%a' /absent /chosen; \
     grep -c ' /data .* - tmpfs ' /proc/self/mountinfo";

#[test]
fn a_copied_up_tmpfs_starts_with_the_roots_directory() {
    require!(Feature::UserNs);
    for unprivileged in modes() {
        let run = move || {
            let dir = TempDir::new(&format!("copy-up-{unprivileged}"));
            root_with_data(&dir.0);
            // Root: no user namespace (the files' owner, 0, is the container's); rootless:
            // the caller's own uid is root inside.
            let ns = if unprivileged {
                common::NS
            } else {
                common::NS - Namespaces::USER
            };
            let out = stdout_of(
                Container::builder("/bin/sh")
                    .args(["-c", SCRIPT])
                    .namespaces(ns)
                    .root(RootFs::Dir(dir.0.clone()))
                    .mounts(Mount::host_system())
                    .mount(Mount::proc("/proc"))
                    .mount(Mount::tmpfs("/data").copy_up())
                    .mount(Mount::tmpfs("/absent").copy_up())
                    .mount(Mount::tmpfs("/chosen").copy_up().mode(0o700)),
            );
            // The host's directory is only the copy's source.
            let host = (
                dir.0.join("data/new").exists(),
                std::fs::read_to_string(dir.0.join("data/file")).unwrap(),
            );
            (out, host)
        };
        let (out, host) = if unprivileged {
            Fork::new().unprivileged().run(run)
        } else {
            Fork::new().run(run)
        };
        assert_eq!(
            out,
            "hello\ndeep\nfile\n\
             /data 750 0 directory\n\
             /data/file 640 0 regular file\n\
             /data/suid 4755 0 regular empty file\n\
             /data/sub 711 0 directory\n\
             /data/pipe 600 0 fifo\n\
             new\n0\n1777\n700\n1\n",
            "unprivileged: {unprivileged}"
        );
        assert_eq!(
            host,
            (false, "hello\n".to_owned()),
            "the host's copy is unchanged"
        );
    }
}

#[test]
fn copy_up_of_a_bind_or_a_read_only_tmpfs_is_refused_before_anything_is_created() {
    type Build = fn() -> linception::ContainerBuilder;
    let cases: Vec<(Build, &str)> = vec![
        (
            || common::sh("true").mount(Mount::bind("/usr", "/b").copy_up()),
            "copy_up() on the bind mount at \"/b\": only a tmpfs is copied up",
        ),
        (
            || common::sh("true").mount(Mount::proc("/p").copy_up()),
            "copy_up() on the proc mount at \"/p\": only a tmpfs is copied up",
        ),
        (
            || common::sh("true").mount(Mount::tmpfs("/t").copy_up().read_only()),
            "copy_up() of the read-only tmpfs at \"/t\": a read-only tmpfs cannot be filled",
        ),
        (
            || common::sh("true").mount(Mount::tmpfs("/t").flag("ro").copy_up()),
            "copy_up() of the read-only tmpfs at \"/t\"",
        ),
    ];
    for unprivileged in modes() {
        for (build, needle) in &cases {
            let (kind, step, errno, text) = failure(unprivileged, build);
            assert_eq!(kind, "InvalidArgument", "{text}");
            assert_eq!(step, None, "{text}");
            assert_eq!(errno, Some(libc::EINVAL), "{text}");
            assert!(text.contains(needle), "{text:?} lacks {needle:?}");
        }
    }
}

/// The copy runs in the child between clone3 and execve: it must not touch the
/// allocator, whose lock another thread of the parent may hold at the clone.
#[test]
fn copy_up_while_threads_allocate() {
    require!(Feature::UserNs);
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let copies = Fork::new()
        .unprivileged()
        .timeout(std::time::Duration::from_secs(60))
        .run(|| {
            let dir = TempDir::new("copy-up-threads");
            root_with_data(&dir.0);
            let stop = Arc::new(AtomicBool::new(false));
            let threads: Vec<_> = (0..3)
                .map(|i| {
                    let stop = stop.clone();
                    std::thread::spawn(move || {
                        let mut keep: Vec<Vec<u8>> = Vec::new();
                        let mut n = 0usize;
                        while !stop.load(Ordering::Relaxed) {
                            keep.push(vec![i as u8; 64 + n % 4096]);
                            if keep.len() > 256 {
                                keep.clear();
                            }
                            n += 1;
                        }
                    })
                })
                .collect();
            let mut copies = 0;
            linception_testkit::leaks::assert_no_leaks(|| {
                for _ in 0..30 {
                    let out = stdout_of(
                        Container::builder("/bin/sh")
                            .args(["-c", "cat /data/sub/deep/file2"])
                            .namespaces(common::NS)
                            .root(RootFs::Dir(dir.0.clone()))
                            .mounts(Mount::host_system())
                            .mount(Mount::tmpfs("/data").copy_up()),
                    );
                    copies += usize::from(out == "deep\n");
                }
            });
            stop.store(true, Ordering::Relaxed);
            for t in threads {
                t.join().unwrap();
            }
            common::assert_no_children();
            copies
        });
    assert_eq!(copies, 30);
}

/// A root with `data/` holding `levels` nested directories and a file at the bottom.
fn root_with_depth(root: &Path, levels: usize) {
    let mut dir = root.join("data");
    for _ in 0..levels {
        dir = dir.join("d");
    }
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("bottom"), "reached\n").unwrap();
}

/// 32 directories below the copied one are copied (as root, without a user
/// namespace, the child shares the parent's memory and runs on a 256 KiB stack);
/// more is `ELOOP`, named by the step, with nothing left behind.
#[test]
fn a_copy_up_goes_32_directories_deep() {
    require!(Feature::UserNs);
    for unprivileged in modes() {
        let builder = |dir: &Path, ns: Namespaces| {
            Container::builder("/bin/sh")
                .args([
                    "-c",
                    "find /data -name bottom | wc -l; cat $(find /data -name bottom)",
                ])
                .namespaces(ns)
                .root(RootFs::Dir(dir.to_owned()))
                .mounts(Mount::host_system())
                .mount(Mount::proc("/proc"))
                .mount(Mount::tmpfs("/data").copy_up())
        };
        let ns = if unprivileged {
            common::NS
        } else {
            common::NS - Namespaces::USER
        };
        let run = move || {
            let dir = TempDir::new(&format!("copy-up-deep-{unprivileged}"));
            // 32 nested directories below /data: the deepest one is read at depth 32.
            root_with_depth(&dir.0, 32);
            stdout_of(builder(&dir.0, ns))
        };
        let out = if unprivileged {
            Fork::new().unprivileged().run(run)
        } else {
            Fork::new().run(run)
        };
        assert_eq!(out, "1\nreached\n", "unprivileged: {unprivileged}");
        // Made here, given to the forked child's user (the unprivileged one is
        // 65534, whose container root makes the mount points in it), removed when
        // this test ends.
        let deep = TempDir::new(&format!("copy-up-too-deep-{unprivileged}"));
        root_with_depth(&deep.0, 34);
        if unprivileged && rustix::process::geteuid().is_root() {
            let st = std::process::Command::new("chown")
                .args(["-R", "65534:65534"])
                .arg(&deep.0)
                .status()
                .unwrap();
            assert!(st.success());
        }
        let path = deep.0.clone();
        let (kind, step, errno, text) = failure(unprivileged, move || builder(&path, ns));
        drop(deep);
        assert_eq!(kind, "Setup", "{text}");
        assert_eq!(errno, Some(libc::ELOOP), "{text}");
        assert_eq!(
            step.as_deref(),
            Some("mount tmpfs on /data: copy the root's /data into it (copy-up)"),
            "{text}"
        );
    }
}
