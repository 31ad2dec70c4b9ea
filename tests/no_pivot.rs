//! The root changes other than `pivot_root`: the move onto `/` and `chroot` of
//! `runc --no-pivot` ([`RootChange::MoveAndChroot`]), and the plain `chroot` of a
//! container that makes no mount ([`RootChange::Chroot`]), in a shared or a
//! joined mount namespace. Each runs as root and rootless; each refusal is
//! checked to name its input and leave nothing behind.

mod common;

use std::io::Read;

use common::{NS, TempDir, failure, modes, output, sh, stdout_of};
use linception::{
    Container, Mount, NamespaceType, Namespaces, NsSource, RootChange, RootFs, Stdio,
};
use linception_testkit::Fork;

fn in_fork<T: linception_testkit::Wire>(unprivileged: bool, f: impl FnOnce() -> T) -> T {
    if unprivileged {
        Fork::new().unprivileged().run(f)
    } else {
        Fork::new().run(f)
    }
}

/// The (mount point, filesystem type) pairs of mountinfo text, in order.
fn points(mountinfo: &str) -> Vec<(String, String)> {
    mountinfo
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (head, tail) = l.split_once(" - ").expect("a mountinfo line");
            let point = head.split_whitespace().nth(4).expect("a mount point");
            let fstype = tail.split_whitespace().next().unwrap_or("");
            (point.to_owned(), fstype.to_owned())
        })
        .collect()
}

const VIEW: &str = "ls -A /; echo ---; cat /proc/self/mountinfo";

/// The same container through both root changes: `ls /` and the mounts seen inside
/// are the same, `/` is the tmpfs root, and nothing of the old root is in view.
#[test]
fn move_and_chroot_gives_the_view_pivot_root_gives() {
    for unprivileged in modes() {
        let (pivot, moved) = in_fork(unprivileged, || {
            let pivot = stdout_of(sh(VIEW));
            let moved = stdout_of(sh(VIEW).root_change(RootChange::MoveAndChroot));
            (pivot, moved)
        });
        let (ls_p, info_p) = pivot.split_once("---\n").expect("the marker");
        let (ls_m, info_m) = moved.split_once("---\n").expect("the marker");
        assert_eq!(ls_m, ls_p, "unprivileged {unprivileged}");
        let (mut pp, mut pm) = (points(info_p), points(info_m));
        // The order of the lines is the mount namespace's list order, which the
        // move changes (the binds were made before the root); the mounts are the same.
        pp.sort();
        pm.sort();
        assert_eq!(
            pm, pp,
            "unprivileged {unprivileged}:\n{info_m}\nvs\n{info_p}"
        );
        assert_eq!(pm[0], ("/".to_owned(), "tmpfs".to_owned()), "{info_m}");
        assert!(
            pm.iter().all(|(p, _)| p != "/tmp" && p != "/sys"),
            "the old root's mounts are in view: {info_m}"
        );
        assert!(ls_m.lines().any(|l| l == "usr"), "{ls_m}");
    }
}

/// What a process holding `CAP_SYS_CHROOT` finds when it walks out of its root
/// (`chroot` into a subdirectory, then `..` from outside it, as perl does here):
/// the mount points and types of mountinfo seen from where it ends up.
const ESCAPE: &str = "mkdir -p /esc; perl -e 'chroot(\"/esc\") or die \"chroot: $!\"; \
    chdir(\"..\") for 1..64; chroot(\".\") or die; exec(\"/bin/cat\", \"/proc/self/mountinfo\")'";

/// The walk out of a nested chroot ends where it started, in the container's own
/// root, with either root change: `pivot_root` took the old root away, and the
/// moved root sits on top of the old root's `/`, so `..` from the new root's top
/// climbs to the old `/` and comes straight back down the mount stacked on it.
#[test]
fn a_chroot_escape_ends_in_the_new_root_either_way() {
    if !std::path::Path::new("/usr/bin/perl").exists() {
        if linception_testkit::require_all() {
            panic!("needs perl (/usr/bin/perl), LINCEPTION_REQUIRE_ALL=1");
        }
        eprintln!("SKIP: needs perl (/usr/bin/perl is missing)");
        return;
    }
    for unprivileged in modes() {
        for userns in [true, false] {
            if !userns && unprivileged {
                continue;
            }
            let ns = if userns {
                NS
            } else {
                Namespaces::MOUNT | Namespaces::PID
            };
            let (pivot, moved) = in_fork(unprivileged, || {
                // perl wants a /dev/null.
                let b = || sh(ESCAPE).mount(Mount::dev("/dev")).namespaces(ns);
                (
                    stdout_of(b()),
                    stdout_of(b().root_change(RootChange::MoveAndChroot)),
                )
            });
            let what = format!("unprivileged {unprivileged}, user namespace {userns}");
            let (mut pp, mut pm) = (points(&pivot), points(&moved));
            pp.sort();
            pm.sort();
            assert!(
                pp.contains(&("/".into(), "tmpfs".into())),
                "{what}: {pivot}"
            );
            assert_eq!(pm, pp, "{what}: moved\n{moved}\npivoted\n{pivot}");
        }
    }
}

/// As root without a user namespace the old root's proc and sysfs are detached
/// (not covered), and the container sees only its own root.
#[test]
fn move_and_chroot_without_a_user_namespace() {
    if !linception_testkit::require_root("a container without a user namespace") {
        return;
    }
    let out = Fork::new().run(|| {
        stdout_of(
            sh(VIEW)
                .namespaces(Namespaces::MOUNT | Namespaces::PID)
                .root_change(RootChange::MoveAndChroot),
        )
    });
    let (ls, info) = out.split_once("---\n").expect("the marker");
    let pm = points(info);
    assert!(pm.iter().any(|(p, t)| p == "/" && t == "tmpfs"), "{info}");
    assert!(pm.iter().all(|(p, _)| p != "/tmp" && p != "/sys"), "{info}");
    assert!(
        pm.iter().any(|(p, t)| p == "/proc" && t == "proc"),
        "{info}"
    );
    assert!(ls.lines().any(|l| l == "proc"), "{ls}");
}

/// A directory holding a static busybox (its applets as links), for roots
/// without any mount. `None` (skipped, saying so) without busybox-static.
fn busybox_root(name: &str) -> Option<TempDir> {
    if !std::path::Path::new("/bin/busybox").exists() {
        if linception_testkit::require_all() {
            panic!("needs busybox-static (/bin/busybox), LINCEPTION_REQUIRE_ALL=1");
        }
        eprintln!("SKIP: needs busybox-static (/bin/busybox is missing)");
        return None;
    }
    let dir = TempDir::new(name);
    std::fs::create_dir(dir.0.join("bin")).unwrap();
    std::fs::create_dir(dir.0.join("marker-dir")).unwrap();
    copy_program("/bin/busybox", &dir.0.join("bin/busybox"));
    for applet in ["sh", "ls", "cat", "echo"] {
        std::os::unix::fs::symlink("busybox", dir.0.join("bin").join(applet)).unwrap();
    }
    // Readable and searchable by the unprivileged half.
    for p in [&dir.0, &dir.0.join("bin"), &dir.0.join("marker-dir")] {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    Some(dir)
}

/// Runs `b` (stdin piped) until it has printed, reads its mount namespace from
/// outside, then lets it finish: (mount namespace link, exit code, output).
fn chrooted(b: linception::ContainerBuilder) -> (String, Option<i32>, String) {
    let mut c = b
        .stdin(Stdio::Piped)
        .stdout(Stdio::Piped)
        .spawn()
        .expect("spawn");
    let mut stdout = c.take_stdout().expect("piped stdout");
    let mut out = Vec::new();
    let mut byte = [0u8; 1];
    // The script prints its view, then a line "ready", then waits on stdin.
    while !out.ends_with(b"ready\n") {
        match stdout.read(&mut byte).expect("read") {
            0 => break,
            _ => out.push(byte[0]),
        }
    }
    let ns = std::fs::read_link(format!("/proc/{}/ns/mnt", c.pid().as_raw()))
        .map(|l| l.display().to_string())
        .unwrap_or_default();
    drop(c.take_stdin());
    stdout.read_to_end(&mut out).expect("read");
    let st = c.wait().expect("wait");
    (ns, st.code(), String::from_utf8_lossy(&out).into_owned())
}

const CHROOT_SCRIPT: &str = "ls -A /; [ -e /proc/self ] && echo proc || echo no-proc; echo ready; \
    read x; exit 7";

/// No mount namespace of its own: the container shares the caller's, sees the
/// directory as `/`, and the caller's mount table is as it was.
#[test]
fn chroot_in_the_shared_mount_namespace() {
    let Some(dir) = busybox_root("chroot-shared") else {
        return;
    };
    for unprivileged in modes() {
        let root = dir.0.clone();
        let (before, after, mine, (ns, code, out)) = in_fork(unprivileged, move || {
            let table = || {
                linception_testkit::leaks::mounts()
                    .into_iter()
                    .collect::<Vec<_>>()
            };
            let before = table();
            let r = chrooted(
                Container::builder("/bin/sh")
                    .args(["-c", CHROOT_SCRIPT])
                    .env_clear()
                    .env("PATH", "/bin")
                    .namespaces(Namespaces::USER | Namespaces::PID)
                    .root(RootFs::Dir(root))
                    .root_change(RootChange::Chroot),
            );
            let mine = std::fs::read_link("/proc/self/ns/mnt")
                .unwrap()
                .display()
                .to_string();
            (before, table(), mine, r)
        });
        assert_eq!(code, Some(7), "unprivileged {unprivileged}: {out}");
        assert_eq!(
            out, "bin\nmarker-dir\nno-proc\nready\n",
            "unprivileged {unprivileged}"
        );
        assert_eq!(
            ns, mine,
            "the container shares the caller's mount namespace"
        );
        assert_eq!(before, after, "the caller's mount table changed");
    }
}

/// A chrooted container sharing the caller's mount namespace (as an OCI config
/// without a mount namespace): its mounts, masks and read-only paths are made
/// beneath the root in that namespace, as runc makes them, and stay there after
/// it ends until `detach_mounts_beneath`; a spawn that fails midway leaves none.
/// Root only: without a user namespace, only root may mount.
#[test]
fn chroot_mounts_in_the_shared_mount_namespace() {
    linception_testkit::require_root!("mounting in the caller's own mount namespace");
    let Some(dir) = busybox_root("chroot-mounts") else {
        return;
    };
    for d in ["proc", "tmp"] {
        std::fs::create_dir(dir.0.join(d)).unwrap();
    }
    let root = dir.0.clone();
    let newns = rustix::thread::UnshareFlags::NEWNS.bits() as i32;
    let ((code, out), during, detached, after, (failed, after_failure)) =
        Fork::new().unshare(newns).run(move || {
            let beneath = || {
                linception::mountapi::mount_table(linception::mountapi::MountTableSource::Auto)
                    .unwrap()
                    .iter()
                    .filter(|m| m.mount_point.starts_with(&root) && m.mount_point != root)
                    .map(|m| {
                        format!(
                            "{} {}",
                            m.mount_point.strip_prefix(&root).unwrap().display(),
                            m.fs_type
                        )
                    })
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>()
            };
            let b = || {
                Container::builder("/bin/sh")
                    .env_clear()
                    .env("PATH", "/bin")
                    .namespaces(Namespaces::PID | Namespaces::UTS | Namespaces::IPC)
                    .root(RootFs::Dir(root.clone()))
                    .root_change(RootChange::Chroot)
                    .mount(Mount::proc("/proc"))
                    .mount(Mount::tmpfs("/tmp"))
                    .mask_path("/proc/version")
                    .read_only_path("/proc/sys")
            };
            let (st, text) = output(b().args([
                "-c",
                "cat /proc/version | wc -c; \
                 if { echo 1 > /proc/sys/kernel/ns_last_pid; } 2>/tmp/err; then echo rw; \
                 else grep -o 'Read-only file system' /tmp/err; fi; \
                 echo x > /tmp/f && ls /tmp; echo $$",
            ]));
            let during = beneath();
            let detached = linception::detach_mounts_beneath(&root).unwrap();
            let after = beneath();
            // A mount the kernel refuses after the proc mount is made.
            let failed = b()
                .arg("-c")
                .arg("true")
                .mount(Mount::filesystem("linception-nosuchfs", "/tmp"))
                .spawn()
                .map(drop)
                .unwrap_err()
                .to_string();
            (
                (st.code(), text),
                during,
                detached,
                after,
                (failed, beneath()),
            )
        });
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        out, "0\nRead-only file system\nerr\nf\n1\n",
        "/proc/version masked, /proc/sys read-only, pid 1"
    );
    assert_eq!(
        during,
        [
            "proc proc",
            "proc/sys proc",
            "proc/version devtmpfs",
            "tmp tmpfs"
        ],
        "beneath the root while and after it ran"
    );
    // The topmost: proc (with the version mask and the read-only sys on it) and tmp.
    assert_eq!(detached, 2);
    assert!(after.is_empty(), "{after:?}");
    assert!(failed.contains("linception-nosuchfs"), "{failed}");
    assert!(
        after_failure.is_empty(),
        "left by the failed spawn: {after_failure:?}"
    );
}

/// A chroot of the caller's own `/` with mounts would make them over the caller's
/// tree: refused before anything is made, and `detach_mounts_beneath("/")` refuses
/// to detach every mount.
#[test]
fn chroot_mounts_over_the_callers_own_root_are_refused() {
    linception_testkit::require_root!("mounting in the caller's own mount namespace");
    let (kind, step, _, text) = failure(false, || {
        Container::builder("/bin/true")
            .namespaces(Namespaces::PID)
            .root(RootFs::Dir("/tmp/..".into()))
            .root_change(RootChange::Chroot)
            .mount(Mount::tmpfs("/mnt"))
    });
    assert_eq!(kind, "InvalidArgument", "{text}");
    assert_eq!(step, None, "{text}");
    assert!(text.contains("of the caller's own /"), "{text}");
    let e = linception::detach_mounts_beneath(std::path::Path::new("/tmp/..")).unwrap_err();
    assert_eq!(e.kind(), linception::ErrorKind::InvalidArgument, "{e}");
}

/// A process `exec_in` adds to a container that chrooted in the caller's mount
/// namespace gets the container's root too (joining the namespaces would leave it
/// the caller's), and so does one added to a pivoted container (its own root).
#[test]
fn exec_in_enters_the_root_of_a_chrooted_container() {
    let Some(dir) = busybox_root("chroot-exec") else {
        return;
    };
    for unprivileged in modes() {
        let root = dir.0.clone();
        let (chrooted, pivoted) = in_fork(unprivileged, move || {
            let run = |b: linception::ContainerBuilder, program: &str| {
                let mut c = b.stdin(Stdio::Piped).spawn().expect("spawn");
                let seen = stdout_of_exec(&mut c, program);
                drop(c.take_stdin());
                assert_eq!(c.wait().expect("wait").code(), Some(7));
                seen
            };
            let chrooted = run(
                Container::builder("/bin/sh")
                    .args(["-c", "read x; exit 7"])
                    .env_clear()
                    .env("PATH", "/bin")
                    .namespaces(Namespaces::USER | Namespaces::PID)
                    .root(RootFs::Dir(root))
                    .root_change(RootChange::Chroot),
                "/bin/ls",
            );
            let pivoted = run(sh("read x; exit 7"), "/usr/bin/ls");
            (chrooted, pivoted)
        });
        assert_eq!(chrooted, "bin\nmarker-dir\n", "unprivileged {unprivileged}");
        assert!(pivoted.lines().any(|l| l == "usr"), "{pivoted}");
        assert!(!pivoted.lines().any(|l| l == "marker-dir"), "{pivoted}");
    }
}

/// Runs `program -A /` in `c` with `exec_in`; returns what it printed.
fn stdout_of_exec(c: &mut Container, program: &str) -> String {
    let mut e = c
        .exec_in(
            Container::builder(program)
                .args(["-A", "/"])
                .stdout(Stdio::Piped),
        )
        .expect("exec_in");
    let mut out = String::new();
    e.take_stdout()
        .expect("piped stdout")
        .read_to_string(&mut out)
        .expect("read");
    assert!(e.wait().expect("wait").success(), "{out}");
    out
}

/// A joined mount namespace (another container's, with its user namespace when
/// rootless) is kept: the container is in it, chrooted into the directory, and
/// the namespace's mount table is as it was.
#[test]
fn chroot_in_a_joined_mount_namespace() {
    let Some(dir) = busybox_root("chroot-joined") else {
        return;
    };
    for unprivileged in modes() {
        let root = dir.0.clone();
        let (target_ns, before, after, (ns, code, out)) = in_fork(unprivileged, move || {
            // The namespace to join: a container that only sleeps in its own mount
            // namespace (a copy of the caller's, so the directory is in it).
            let mut holder = Container::builder("/bin/sleep")
                .arg("100")
                .namespaces(Namespaces::USER | Namespaces::MOUNT)
                .spawn()
                .expect("spawn the namespace holder");
            let pid = holder.pid().as_raw();
            let target_ns = std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
                .unwrap()
                .display()
                .to_string();
            let table = || std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
            let before = table();
            let r = chrooted(
                Container::builder("/bin/sh")
                    .args(["-c", CHROOT_SCRIPT])
                    .env_clear()
                    .env("PATH", "/bin")
                    .namespaces(Namespaces::PID)
                    .join(
                        NamespaceType::User,
                        NsSource::Path(format!("/proc/{pid}/ns/user").into()),
                    )
                    .join(
                        NamespaceType::Mnt,
                        NsSource::Path(format!("/proc/{pid}/ns/mnt").into()),
                    )
                    .root(RootFs::Dir(root))
                    .root_change(RootChange::Chroot),
            );
            let after = table();
            holder.kill().expect("kill the holder");
            holder.wait().expect("reap the holder");
            (target_ns, before, after, r)
        });
        assert_eq!(code, Some(7), "unprivileged {unprivileged}: {out}");
        assert_eq!(
            out, "bin\nmarker-dir\nno-proc\nready\n",
            "unprivileged {unprivileged}"
        );
        assert_eq!(
            ns, target_ns,
            "the container is in the joined mount namespace"
        );
        assert_eq!(before, after, "the joined namespace's mount table changed");
    }
}

/// A root and mounts in a joined mount namespace are made there, as an OCI runtime
/// does: the container is in the joined namespace with its own root, and the
/// `pivot_root` moved the namespace's other process (the holder) into it too.
#[test]
fn pivot_root_in_a_joined_mount_namespace() {
    for unprivileged in modes() {
        let (ns, target_ns, out, holder_before, holder_after) = in_fork(unprivileged, || {
            let mut holder = Container::builder("/bin/sleep")
                .arg("100")
                .namespaces(Namespaces::USER | Namespaces::MOUNT)
                .spawn()
                .expect("spawn the namespace holder");
            let pid = holder.pid().as_raw();
            let link = |p: String| std::fs::read_link(p).unwrap().display().to_string();
            let target_ns = link(format!("/proc/{pid}/ns/mnt"));
            let holder_view = || {
                let info = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
                let mut p = points(&info);
                p.sort();
                p
            };
            let holder_before = holder_view();
            let mut c = sh(VIEW)
                .namespaces(Namespaces::PID)
                .join(
                    NamespaceType::User,
                    NsSource::Path(format!("/proc/{pid}/ns/user").into()),
                )
                .join(
                    NamespaceType::Mnt,
                    NsSource::Path(format!("/proc/{pid}/ns/mnt").into()),
                )
                .stdout(Stdio::Piped)
                .spawn()
                .expect("spawn in the joined namespace");
            let ns = link(format!("/proc/{}/ns/mnt", c.pid().as_raw()));
            let mut out = String::new();
            c.take_stdout().unwrap().read_to_string(&mut out).unwrap();
            assert!(c.wait().expect("wait").success(), "{out}");
            let holder_after = holder_view();
            holder.kill().expect("kill the holder");
            holder.wait().expect("reap the holder");
            (ns, target_ns, out, holder_before, holder_after)
        });
        let what = format!("unprivileged {unprivileged}");
        assert_eq!(
            ns, target_ns,
            "{what}: the container is in the joined namespace"
        );
        let (ls, info) = out.split_once("---\n").expect("the marker");
        assert!(ls.lines().any(|l| l == "usr"), "{what}: {out}");
        let mut mine = points(info);
        mine.sort();
        assert!(
            mine.contains(&("/".into(), "tmpfs".into())),
            "{what}: {info}"
        );
        assert!(
            !holder_before.contains(&("/".into(), "tmpfs".into())),
            "{what}"
        );
        assert_eq!(
            holder_after, mine,
            "{what}: the holder was moved into the new root"
        );
    }
}

/// Bad combinations: refused by name before anything is created.
#[test]
fn bad_root_changes_are_refused_by_name() {
    let dir = TempDir::new("chroot-refusals");
    let chroot_dir = || {
        Container::builder("/bin/true")
            .namespaces(Namespaces::USER | Namespaces::PID)
            .root(RootFs::Dir(dir.0.clone()))
            .root_change(RootChange::Chroot)
    };
    type Build<'a> = Box<dyn Fn() -> linception::ContainerBuilder + 'a>;
    let cases: Vec<(&str, Build<'_>)> = vec![
        (
            "root_change(RootChange::MoveAndChroot) without a root",
            Box::new(|| Container::builder("/bin/true").root_change(RootChange::MoveAndChroot)),
        ),
        (
            "root_change(RootChange::Chroot) without a root",
            Box::new(|| Container::builder("/bin/true").root_change(RootChange::Chroot)),
        ),
        (
            "root_change(RootChange::MoveAndChroot) without Namespaces::MOUNT",
            Box::new(|| {
                Container::builder("/bin/true")
                    .namespaces(Namespaces::USER | Namespaces::PID)
                    .root(RootFs::Tmpfs)
                    .root_change(RootChange::MoveAndChroot)
            }),
        ),
        (
            "root_change(RootChange::Chroot) of a RootFs::Tmpfs root",
            Box::new(|| sh("true").root_change(RootChange::Chroot)),
        ),
        (
            "mounts with root_change(RootChange::Chroot) in a user namespace",
            Box::new(|| chroot_dir().mount(Mount::dir("/x"))),
        ),
        (
            "mask_path() with root_change(RootChange::Chroot) in a user namespace",
            Box::new(|| chroot_dir().mask_path("/proc/kcore")),
        ),
        (
            "read_only_path() with root_change(RootChange::Chroot) in a user namespace",
            Box::new(|| chroot_dir().read_only_path("/proc/sys")),
        ),
        (
            "device() with root_change(RootChange::Chroot) in a new or joined mount namespace",
            Box::new(|| {
                chroot_dir()
                    .namespaces(Namespaces::USER | Namespaces::MOUNT | Namespaces::PID)
                    .device(linception::Device::fifo("/dev/fifo"))
            }),
        ),
        (
            "read_only_root() with root_change(RootChange::Chroot)",
            Box::new(|| chroot_dir().read_only_root()),
        ),
        (
            "root_propagation() with root_change(RootChange::Chroot)",
            Box::new(|| chroot_dir().root_propagation(linception::Propagation::Shared)),
        ),
        (
            "root_change(RootChange::MoveAndChroot) with a joined mount namespace",
            Box::new(|| {
                Container::builder("/bin/true")
                    .namespaces(Namespaces::USER | Namespaces::PID)
                    .join(
                        NamespaceType::Mnt,
                        NsSource::Path("/proc/self/ns/mnt".into()),
                    )
                    .root(RootFs::Tmpfs)
                    .root_change(RootChange::MoveAndChroot)
            }),
        ),
        (
            "root/mounts without Namespaces::MOUNT",
            Box::new(|| {
                Container::builder("/bin/true")
                    .namespaces(Namespaces::USER | Namespaces::PID)
                    .root(RootFs::Dir(dir.0.clone()))
            }),
        ),
    ];
    for (name, build) in &cases {
        let (kind, step, _, text) = failure(true, build);
        assert_eq!(kind, "InvalidArgument", "{name}: {text}");
        assert_eq!(step, None, "{name}: {text}");
        assert!(text.contains(name), "{name}: {text}");
    }
}

/// `exec_in` joins the container's root: a root change of its own is refused.
#[test]
fn exec_in_refuses_a_root_change() {
    let (kind, text) = Fork::new().unprivileged().run(|| {
        let mut c = sh("sleep 100").spawn().expect("spawn");
        let e = c
            .exec_in(Container::builder("/bin/true").root_change(RootChange::MoveAndChroot))
            .expect_err("exec_in with a root change");
        c.kill().expect("kill");
        c.wait().expect("wait");
        (format!("{:?}", e.kind()), e.to_string())
    });
    assert_eq!(kind, "InvalidArgument", "{text}");
    assert!(text.contains("root_change"), "{text}");
}

/// A profiled spawn marks the move-and-chroot as its root change, between the
/// mounts and seccomp.
#[test]
fn a_profiled_move_and_chroot_marks_the_root_change() {
    let (mounts, root, seccomp) = Fork::new().unprivileged().run(|| {
        let mut c = sh("true")
            .root_change(RootChange::MoveAndChroot)
            .profile()
            .spawn()
            .expect("spawn");
        assert!(c.wait().expect("wait").success());
        let p = *c.profile().expect("a profiled spawn has a profile");
        let nanos = |t: Option<std::time::Duration>| t.map_or(u64::MAX, |t| t.as_nanos() as u64);
        (nanos(p.mounts_done), nanos(p.pivot_root), nanos(p.seccomp))
    });
    assert!(root != u64::MAX, "no root change mark");
    assert!(
        mounts <= root && root <= seccomp,
        "{mounts:?} {root:?} {seccomp:?}"
    );
}

/// Copies a program with `cp`, in a process of its own: a file this process
/// wrote could still be open for writing in a child another test thread forked
/// meanwhile, and its `execve` would fail with `ETXTBSY`.
fn copy_program(from: &str, to: &std::path::Path) {
    let st = std::process::Command::new("cp")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success(), "cp {from} {}: {st}", to.display());
}
