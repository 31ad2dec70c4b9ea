//! Every setup failure returns a typed error naming the step, and leaves no fd,
//! mount, cgroup or process behind.

mod common;

use common::{NS, failure, sh};
use linception::userns::{Extent, IdMap};
use linception::{Container, Error, ErrorKind, IdMapping, Mount, Namespaces, RootFs};
use linception_testkit::{Feature, Fork, require};

#[test]
fn missing_rootfs() {
    require!(Feature::UserNs);
    let (kind, step, errno, text) = failure(false, || {
        Container::builder("/bin/true")
            .namespaces(NS)
            .root(RootFs::Dir("/nonexistent/rootfs".into()))
    });
    assert_eq!(kind, "Setup");
    assert_eq!(errno, Some(libc::ENOENT));
    assert!(step.unwrap().contains("/nonexistent/rootfs"), "{text}");
    assert!(
        text.ends_with("No such file or directory (ENOENT)"),
        "{text}"
    );
}

#[test]
fn missing_bind_source() {
    require!(Feature::UserNs);
    let (kind, step, errno, text) = failure(false, || {
        sh("true").mount(Mount::bind("/nonexistent-src", "/data"))
    });
    assert_eq!(kind, "Setup");
    assert_eq!(errno, Some(libc::ENOENT));
    assert!(
        step.unwrap().starts_with("bind /nonexistent-src on /data"),
        "{text}"
    );
}

#[test]
fn bad_mount_is_named() {
    require!(Feature::UserNs);
    // A bind onto a path whose parent is a read-only bind: the mkdir fails.
    let (kind, step, errno, text) = failure(false, || {
        sh("true").mount(Mount::tmpfs("/usr/linception-no-such-dir"))
    });
    assert_eq!(kind, "Setup");
    assert_eq!(errno, Some(libc::EROFS), "{text}");
    assert_eq!(
        step.unwrap(),
        "create directory /usr/linception-no-such-dir in the root"
    );
}

#[test]
fn proc_without_pid_namespace_rootless_is_refused_cleanly() {
    require!(Feature::UnprivilegedUserNs);
    // proc in a user namespace that does not own the pid namespace would be EPERM
    // from fsmount: the spawn says why before anything is created.
    let (kind, step, errno, text) = failure(true, || {
        Container::builder("/bin/true")
            .namespaces(Namespaces::USER | Namespaces::MOUNT)
            .root(RootFs::Tmpfs)
            .mount(Mount::proc("/proc"))
    });
    assert_eq!(kind, "InvalidArgument", "{text}");
    assert_eq!(errno, Some(libc::EINVAL), "{text}");
    assert_eq!(step, None, "{text}");
    assert!(
        text.contains("proc mount on \"/proc\" without Namespaces::PID"),
        "{text}"
    );
}

#[test]
fn denied_map_rootless() {
    require!(Feature::UnprivilegedUserNs);
    // Unprivileged, a map wider than one's own id goes through the setuid
    // newuidmap helper, which refuses ranges /etc/subuid does not grant: the host's
    // own ids from 0 are granted to no unprivileged user. The spawn says so before
    // anything is made, naming the extent, the caller's own id and its ranges.
    let (kind, step, errno, text) = failure(true, || {
        let map = IdMap::new([Extent::new(0, 0, 65_536)]).unwrap();
        sh("true").uid_map(IdMapping::Map(map))
    });
    assert_eq!(kind, "InvalidArgument", "{text}");
    assert_eq!(step, None);
    assert_eq!(errno, Some(libc::EINVAL), "{text}");
    let own = linception_testkit::unprivileged_ids().0;
    assert!(
        text.contains(&format!("uid_map extent 0 0 65536 (own uid {own};")),
        "{text}"
    );
    assert!(text.contains("newuidmap would refuse it"), "{text}");
    // The gid map alone, the uid map being the caller's own id.
    let (kind, _, _, text) = failure(true, || {
        let map = IdMap::new([Extent::new(0, 0, 65_536)]).unwrap();
        sh("true").gid_map(IdMapping::Map(map))
    });
    assert_eq!(kind, "InvalidArgument", "{text}");
    assert!(
        text.contains("gid_map extent 0 0 65536") && text.contains("/etc/subgid"),
        "{text}"
    );
    assert!(text.contains("newgidmap would refuse it"), "{text}");
}

#[test]
fn taken_set_tid_pid() {
    require!(Feature::Root, Feature::SetTid);
    // Pid 1 of the caller's pid namespace is always taken.
    let (kind, _, errno, text) = failure(false, || {
        Container::builder("/bin/true")
            .namespaces(Namespaces::empty())
            .set_tid(1)
    });
    assert_eq!(kind, "Os", "{text}");
    assert_eq!(errno, Some(libc::EEXIST), "{text}");
}

#[test]
fn set_tid_in_a_new_pid_namespace() {
    require!(Feature::Root, Feature::SetTid);
    let out = Fork::new().run(|| {
        common::stdout_of(
            Container::builder("/bin/sh")
                .args(["-c", "echo $$"])
                .namespaces(Namespaces::PID)
                .set_tid(1),
        )
    });
    assert_eq!(out.trim(), "1");
}

#[test]
fn missing_program() {
    require!(Feature::UserNs);
    let (kind, step, errno, _) = failure(false, || {
        Container::builder("no-such-program-linception")
            .namespaces(NS)
            .env("PATH", "/usr/bin:/bin")
    });
    assert_eq!(kind, "Setup");
    assert_eq!(errno, Some(libc::ENOENT));
    let step = step.unwrap();
    assert!(
        step.starts_with(
            "execve(\"no-such-program-linception\"), looked up in PATH \"/usr/bin:/bin\""
        ),
        "{step}"
    );
    assert!(
        step.ends_with("on the host's filesystem (the container has no root of its own)"),
        "{step}"
    );
}

#[test]
fn invalid_inputs_are_named_before_anything_happens() {
    let cases: Vec<(linception::ContainerBuilder, &str)> = vec![
        (sh("true").mount(Mount::tmpfs("/a/../b")), "\"/a/../b\""),
        (sh("true").mount(Mount::tmpfs("relative")), "\"relative\""),
        (
            Container::builder("/bin/true")
                .share(Namespaces::UTS)
                .hostname("x"),
            "hostname \"x\"",
        ),
        (
            Container::builder("/bin/true")
                .share(Namespaces::MOUNT)
                .root(RootFs::Tmpfs),
            "Namespaces::MOUNT",
        ),
        (sh("true").arg("nul\0byte"), "argument"),
        (
            Container::builder("/bin/true")
                .namespaces(Namespaces::USER | Namespaces::PID)
                .set_tid(5),
            "set_tid 5",
        ),
    ];
    for (b, needle) in cases {
        let err: Error = b.spawn().expect_err("invalid");
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        assert!(err.to_string().contains(needle), "{err} lacks {needle}");
        let io: std::io::Error = err.into();
        assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
    }
}

#[test]
fn cgroup_is_removed_after_a_failed_spawn() {
    require!(Feature::Root, Feature::CloneIntoCgroup);
    let path = format!(
        "/sys/fs/cgroup/unified/linception-fail-{}",
        std::process::id()
    );
    let (kind, _, _, text) = failure(false, || {
        sh("true")
            .mount(Mount::bind("/nonexistent-src", "/data"))
            .cgroup(linception::Cgroup::new(&path))
    });
    assert_eq!(kind, "Setup", "{text}");
    assert!(!std::path::Path::new(&path).exists(), "cgroup left behind");
}

#[test]
fn kernel_fs_context_message_is_attached() {
    require!(Feature::UserNs, Feature::MountApi);
    // tmpfs refuses a size it cannot parse and says why in the fs context log,
    // which comes back with the error.
    let (kind, step, errno, text) = failure(false, || {
        sh("true").mount(Mount::filesystem("tmpfs", "/t").option("size", "bogus"))
    });
    assert_eq!(kind, "Setup");
    assert_eq!(errno, Some(libc::EINVAL));
    assert_eq!(step.unwrap(), "mount tmpfs on /t: fsconfig size=bogus");
    assert!(
        text.contains("[kernel: e tmpfs: Bad value for 'size'"),
        "{text}"
    );
}

#[test]
fn generic_filesystem_mount() {
    require!(Feature::UserNs, Feature::MountApi);
    let out = common::stdout_of(
        sh("grep -c ' /run tmpfs ' /proc/self/mounts; stat -c %a /run").mount(
            Mount::filesystem("tmpfs", "/run")
                .option("mode", "711")
                .option("size", "64k"),
        ),
    );
    assert_eq!(out, "1\n711\n");
}

#[test]
fn idmapped_bind_refused_rootless() {
    require!(Feature::UnprivilegedUserNs, Feature::MountSetattrIdmap);
    // Idmapping a tree needs CAP_SYS_ADMIN over the filesystem's user namespace; an
    // unprivileged caller lacks it for the host's /usr: said before anything is
    // created, naming the capability and the namespace.
    let (kind, step, errno, text) = failure(true, || {
        sh("true").mount(Mount::bind("/usr", "/mnt").idmapped())
    });
    assert_eq!(kind, "PermissionDenied", "{text}");
    assert_eq!(step, None);
    assert_eq!(errno, Some(libc::EPERM), "{text}");
    assert!(
        text.starts_with("idmapped bind /usr on \"/mnt\": "),
        "{text}"
    );
    assert!(
        text.contains("needs CAP_SYS_ADMIN over the user namespace that owns"),
        "{text}"
    );
}

#[test]
fn missing_kernel_feature_is_unsupported() {
    require!(Feature::UserNs);
    // A read-only bind needs mount_setattr (Linux 5.12): pretend it is missing.
    let (kind, _, errno, text) = failure(false, || {
        linception::__pretend_mount_setattr_enosys(true);
        sh("true")
    });
    assert_eq!(kind, "Unsupported", "{text}");
    assert_eq!(errno, Some(libc::ENOSYS));
    assert_eq!(
        text,
        "mount_setattr is not supported by this kernel (needs Linux 5.12)"
    );
}

/// Values the kernel would take silently, or refuse late and vaguely: each is a
/// named error before anything is created (fds, mounts, processes counted).
fn silent_accepts_are_refused(unprivileged: bool) {
    type Build = fn() -> linception::ContainerBuilder;
    let cases: Vec<(Build, &str, &str)> = vec![
        (
            || sh("true").uid(u32::MAX),
            "InvalidArgument",
            "uid 4294967295",
        ),
        (
            || sh("true").gid(u32::MAX),
            "InvalidArgument",
            "gid 4294967295",
        ),
        (
            || sh("true").uid(1000),
            "InvalidArgument",
            "uid 1000: not mapped",
        ),
        (
            || sh("true").gid(1000),
            "InvalidArgument",
            "gid 1000: not mapped",
        ),
        (
            || {
                sh("true")
                    .uid_map(IdMapping::Map(IdMap::single(0, 0, 1).unwrap()))
                    .groups(vec![5])
            },
            "InvalidArgument",
            "supplementary group 5",
        ),
        (
            || sh("true").hostname(""),
            "InvalidArgument",
            "hostname \"\"",
        ),
        (
            || sh("true").mount(Mount::bind("/usr", "/x").option("size", "1k")),
            "InvalidArgument",
            "option() on the bind mount at \"/x\"",
        ),
        (
            || sh("true").mount(Mount::proc("/p").size(1024)),
            "InvalidArgument",
            "size() on the proc mount",
        ),
        (
            || sh("true").mount(Mount::filesystem("tmp\0fs", "/t")),
            "InvalidArgument",
            "filesystem type \"tmp\\0fs\"",
        ),
        (
            || sh("true").mount(Mount::tmpfs("/")),
            "InvalidArgument",
            "cannot replace the root itself",
        ),
        (
            || sh("true").mount(Mount::dir("/")),
            "InvalidArgument",
            "cannot replace the root itself",
        ),
        (
            || {
                Container::builder("/bin/true")
                    .namespaces(Namespaces::USER | Namespaces::MOUNT)
                    .root(RootFs::Tmpfs)
                    .mount(Mount::proc("/proc"))
            },
            "InvalidArgument",
            "without Namespaces::PID",
        ),
        (
            || Container::builder("/bin/true").read_only_root(),
            "InvalidArgument",
            "read_only_root() without a root",
        ),
        (
            || sh("true").groups((0..70_000).collect::<Vec<u32>>()),
            "InvalidArgument",
            "(70000 in all)",
        ),
    ];
    for (build, kind, needle) in cases {
        let (got, step, _, text) = failure(unprivileged, build);
        assert_eq!(got, kind, "{text}");
        assert_eq!(step, None, "{text}");
        assert!(text.contains(needle), "{text:?} lacks {needle:?}");
        assert!(text.len() < 400, "{} bytes: {text}", text.len());
    }
}

#[test]
fn silent_accepts_are_refused_as_root() {
    require!(Feature::Root);
    silent_accepts_are_refused(false);
}

#[test]
fn silent_accepts_are_refused_unprivileged() {
    silent_accepts_are_refused(true);
}

#[test]
fn privilege_refusals_say_which_privilege() {
    require!(Feature::UnprivilegedUserNs);
    // Rootless: groups need setgroups, which a rootless own-id map must deny; namespaces
    // without a user namespace need CAP_SYS_ADMIN.
    for (build, needle) in [
        (
            (|| sh("true").groups(vec![0])) as fn() -> linception::ContainerBuilder,
            "deny setgroups",
        ),
        (
            || Container::builder("/bin/true").share(Namespaces::USER),
            "needs CAP_SYS_ADMIN",
        ),
    ] {
        let (kind, step, errno, text) = failure(true, build);
        assert_eq!(kind, "PermissionDenied", "{text}");
        assert_eq!(step, None, "{text}");
        assert_eq!(errno, Some(libc::EPERM), "{text}");
        assert!(text.contains(needle), "{text:?} lacks {needle:?}");
    }
}

#[test]
fn cgroup_paths_off_cgroup2_are_refused_before_anything_is_created() {
    // A directory on an ordinary filesystem: refused by its filesystem magic, and
    // nothing (no directory, no memory.max file) is created there.
    let tmp = common::TempDir::new("not-a-cgroup");
    let path = tmp.0.join("box");
    let shown = path.display().to_string();
    for unprivileged in [false, true] {
        if !unprivileged && linception_testkit::available(Feature::Root).is_err() {
            continue;
        }
        let p = path.clone();
        let (kind, step, _, text) = failure(unprivileged, move || {
            sh("true").cgroup(linception::Cgroup::new(&p).memory_max(1 << 20))
        });
        assert_eq!(kind, "InvalidArgument", "{text}");
        assert_eq!(step, None);
        assert!(
            text.contains(&shown) && text.contains("not on a cgroup v2 mount"),
            "{text}"
        );
        assert!(!path.exists(), "{shown} was created");
    }
    let (kind, _, _, text) = failure(true, || {
        sh("true").cgroup(linception::Cgroup::new("relative/cg"))
    });
    assert_eq!(kind, "InvalidArgument", "{text}");
    assert!(text.contains("must be absolute"), "{text}");
    let (kind, _, _, text) = failure(true, || {
        sh("true").cgroup(linception::Cgroup::new(
            "/sys/fs/cgroup/unified/no/such/parent",
        ))
    });
    assert_eq!(kind, "InvalidArgument", "{text}");
    assert!(text.contains("parent directory does not exist"), "{text}");
}
