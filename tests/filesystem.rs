//! The filesystem knobs seen from inside real containers: masked and read-only
//! paths, `/dev` and extra devices, propagation types, a read-only root, and the
//! kernel's word on a refused mount option. Each runs as root and rootless where the
//! kernel allows it; each refusal is checked to leave nothing behind.

mod common;

use common::{failure, modes, output, sh, stdout_of};
use linception::{Container, Device, Mount, Namespaces, Propagation, RootFs, Stdio};
use linception_testkit::{Feature, Fork, require};

/// Runs `f` in a forked child, as root or dropped to an unprivileged user.
fn in_fork<T: linception_testkit::Wire>(unprivileged: bool, f: impl FnOnce() -> T) -> T {
    if unprivileged {
        Fork::new().unprivileged().run(f)
    } else {
        Fork::new().run(f)
    }
}

/// One `/proc/self/mountinfo` line: mount point, mount options, optional fields
/// (`shared:N`, `master:N`, `unbindable`), filesystem type.
#[derive(Debug)]
struct Line {
    point: String,
    options: Vec<String>,
    optional: Vec<String>,
    fstype: String,
}

fn mountinfo(text: &str) -> Vec<Line> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (head, tail) = l.split_once(" - ").expect("a mountinfo line");
            let f: Vec<&str> = head.split_whitespace().collect();
            Line {
                point: f[4].to_owned(),
                options: f[5].split(',').map(str::to_owned).collect(),
                optional: f[6..].iter().map(|s| (*s).to_owned()).collect(),
                fstype: tail.split_whitespace().next().unwrap_or("").to_owned(),
            }
        })
        .collect()
}

/// The last mount on `point` (the one a path lookup sees).
fn top<'a>(lines: &'a [Line], point: &str, text: &str) -> &'a Line {
    lines
        .iter()
        .rev()
        .find(|l| l.point == point)
        .unwrap_or_else(|| panic!("no mount on {point}: {text}"))
}

const MOUNTINFO_END: &str = "echo ---; cat /proc/self/mountinfo";

fn split_mountinfo(out: &str) -> (&str, Vec<Line>, &str) {
    let (before, info) = out.split_once("---\n").expect("the marker");
    (before, mountinfo(info), info)
}

fn masks_and_read_only_paths(unprivileged: bool, read_only_root: bool) {
    let script = format!(
        "wc -c < /etc/passwd; ls -A /proc/sys | wc -l; ls -A /usr/share | wc -l; \
         touch /proc/sys/x 2>&1 | grep -c 'Read-only file system'; \
         touch /srv/ro/x 2>&1 | grep -c 'Read-only file system'; \
         touch /srv/rw/x && echo rw-ok; \
         touch /x 2>&1 | grep -c 'Read-only file system'; {MOUNTINFO_END}"
    );
    let out = in_fork(unprivileged, || {
        let mut b = sh(&script)
            .mount(Mount::tmpfs("/srv"))
            .mount(Mount::dir("/srv/ro/sub"))
            .mount(Mount::dir("/srv/rw"))
            .mask_path("/etc/passwd")
            .mask_path("/proc/sys")
            .mask_path("/usr/share")
            .mask_path("/no/such/path")
            .read_only_path("/srv/ro")
            .read_only_path("/no/such/ro");
        if read_only_root {
            b = b.read_only_root();
        }
        let (st, out) = output(b);
        // `grep -c` exits 1 when it counts 0: the output says what happened.
        let _ = st;
        out
    });
    let (before, lines, info) = split_mountinfo(&out);
    let v: Vec<&str> = before.lines().map(str::trim).collect();
    assert_eq!(v[0], "0", "the masked file reads empty: {out}");
    assert_eq!(v[1], "0", "the masked /proc/sys is empty: {out}");
    assert_eq!(v[2], "0", "the masked /usr/share is empty: {out}");
    assert_eq!(v[3], "1", "the masked directory is read-only: {out}");
    assert_eq!(v[4], "1", "writing to the read-only path is EROFS: {out}");
    assert_eq!(v[5], "rw-ok", "{out}");
    assert_eq!(
        v[6],
        if read_only_root { "1" } else { "0" },
        "the root's own mode: {out}"
    );
    for dir in ["/proc/sys", "/usr/share"] {
        let l = top(&lines, dir, info);
        assert_eq!(l.fstype, "tmpfs", "{l:?}");
        for o in ["ro", "nosuid", "nodev", "noexec"] {
            assert!(l.options.iter().any(|x| x == o), "{o} on {l:?}");
        }
    }
    let null = top(&lines, "/etc/passwd", info);
    assert_eq!(null.fstype, "devtmpfs", "the host's /dev/null: {null:?}");
    let ro = top(&lines, "/srv/ro", info);
    assert!(ro.options.iter().any(|x| x == "ro"), "{ro:?}");
    let rw = top(&lines, "/srv", info);
    assert!(rw.options.iter().any(|x| x == "rw"), "{rw:?}");
    let root = top(&lines, "/", info);
    assert_eq!(
        root.options.iter().any(|x| x == "ro"),
        read_only_root,
        "{root:?}"
    );
    assert!(!lines.iter().any(|l| l.point.starts_with("/no")), "{info}");
}

#[test]
fn masked_and_read_only_paths() {
    require!(Feature::UserNs, Feature::MountSetattr);
    for unprivileged in modes() {
        masks_and_read_only_paths(unprivileged, false);
    }
}

#[test]
fn masks_and_read_only_paths_in_a_read_only_root() {
    require!(Feature::UserNs, Feature::MountSetattr);
    for unprivileged in modes() {
        masks_and_read_only_paths(unprivileged, true);
    }
}

#[test]
fn dev_has_the_oci_default_set() {
    require!(Feature::UserNs, Feature::MountApi);
    for unprivileged in modes() {
        let out = in_fork(unprivileged, || {
            stdout_of(
                sh(&format!(
                    "ls -A /dev | sort | tr '\\n' ' '; echo; stat -c '%a' /dev/shm; \
                     touch /dev/shm/x && echo shm-ok; readlink /dev/ptmx /dev/fd /dev/stdin \
                     /dev/stdout /dev/stderr | tr '\\n' ' '; echo; {MOUNTINFO_END}"
                ))
                .mount(Mount::dev("/dev")),
            )
        });
        let (before, lines, info) = split_mountinfo(&out);
        let v: Vec<&str> = before.lines().map(str::trim).collect();
        assert_eq!(
            v[0], "fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero",
            "{out}"
        );
        assert_eq!(v[1], "1777", "{out}");
        assert_eq!(v[2], "shm-ok", "{out}");
        assert_eq!(
            v[3], "pts/ptmx /proc/self/fd /proc/self/fd/0 /proc/self/fd/1 /proc/self/fd/2",
            "{out}"
        );
        assert_eq!(top(&lines, "/dev", info).fstype, "tmpfs");
        assert_eq!(top(&lines, "/dev/pts", info).fstype, "devpts");
        assert_eq!(top(&lines, "/dev/mqueue", info).fstype, "mqueue");
        let shm = top(&lines, "/dev/shm", info);
        assert_eq!(shm.fstype, "tmpfs");
        for o in ["nosuid", "nodev", "noexec"] {
            assert!(shm.options.iter().any(|x| x == o), "{o} on {shm:?}");
        }
    }
}

#[test]
fn dev_without_an_ipc_namespace_has_no_mqueue() {
    require!(Feature::UserNs, Feature::MountApi);
    // Only the owner of an IPC namespace may mount its mqueue: in a new user
    // namespace sharing the caller's, /dev has none (as documented).
    let out = in_fork(true, || {
        stdout_of(
            sh("ls -A /dev | grep -c mqueue; grep -c ' /dev/mqueue ' /proc/self/mountinfo; true")
                .share(Namespaces::IPC)
                .mount(Mount::dev("/dev")),
        )
    });
    assert_eq!(out, "0\n0\n");
}

/// Whether the host has `/dev/kmsg` as (1, 11), the node the bind tests use.
fn host_kmsg() -> Result<(), String> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let md = std::fs::metadata("/dev/kmsg").map_err(|e| format!("/dev/kmsg: {e}"))?;
    if md.file_type().is_char_device() && md.rdev() == rustix::fs::makedev(1, 11) {
        Ok(())
    } else {
        Err("/dev/kmsg is not the character device 1:11".into())
    }
}

#[test]
fn extra_device_is_bound_from_the_host_in_a_user_namespace() {
    require!(Feature::UserNs, Feature::MountApi);
    if !linception_testkit::require_custom("a host /dev/kmsg", "2.6", host_kmsg()) {
        return;
    }
    for unprivileged in modes() {
        let out = in_fork(unprivileged, || {
            stdout_of(
                sh(&format!("stat -c '%F %t %T %a' /dev/kmsg; {MOUNTINFO_END}"))
                    .mount(Mount::dev("/dev"))
                    .device(Device::char("/dev/kmsg", 1, 11).mode(0o644)),
            )
        });
        let (before, lines, info) = split_mountinfo(&out);
        assert_eq!(before.trim(), "character special file 1 b 644", "{out}");
        assert_eq!(top(&lines, "/dev/kmsg", info).fstype, "devtmpfs", "{info}");
    }
}

#[test]
fn extra_device_is_created_with_mknod_without_a_user_namespace() {
    require!(Feature::Root, Feature::MountApi);
    let out = Fork::new().run(|| {
        stdout_of(
            Container::builder("/bin/sh")
                .args([
                    "-c",
                    "stat -c '%F %t %T %a %u %g' /dev/mine /dev/sub/blk; \
                     echo x > /dev/mine && echo write-ok; head -c 2 /dev/mine | wc -c",
                ])
                .namespaces(Namespaces::MOUNT | Namespaces::PID | Namespaces::IPC)
                .root(RootFs::Tmpfs)
                .mounts(Mount::host_system())
                .mount(Mount::proc("/proc"))
                .mount(Mount::dev("/dev"))
                .device(Device::char("/dev/mine", 1, 3).mode(0o600).owner(12, 34))
                .device(Device::block("/dev/sub/blk", 7, 0)),
        )
    });
    let v: Vec<&str> = out.lines().collect();
    assert_eq!(v[0], "character special file 1 3 600 12 34", "{out}");
    assert_eq!(v[1], "block special file 7 0 666 0 0", "{out}");
    assert_eq!(v[2], "write-ok", "{out}");
    assert_eq!(v[3].trim(), "0", "/dev/mine is null: {out}");
}

#[test]
fn a_fifo_is_made_with_mknod_in_a_user_namespace_too() {
    // mknod(2) needs no CAP_MKNOD for a FIFO: it is created, not bound from the
    // host (there is no host node at that path), with its mode and owner.
    require!(Feature::UserNs, Feature::MountApi);
    for unprivileged in modes() {
        let out = in_fork(unprivileged, || {
            stdout_of(
                sh("stat -c '%F %a %u %g' /dev/pipe /run/q/fifo; \
                    { echo through > /dev/pipe & }; cat /dev/pipe")
                .mount(Mount::dev("/dev"))
                .mount(Mount::tmpfs("/run"))
                .device(Device::fifo("/dev/pipe").mode(0o660))
                .device(Device::fifo("/run/q/fifo").owner(0, 0)),
            )
        });
        let v: Vec<&str> = out.lines().collect();
        assert_eq!(v, ["fifo 660 0 0", "fifo 666 0 0", "through"], "{out}");
    }
}

#[test]
fn a_fifo_without_a_user_namespace_has_its_owner() {
    require!(Feature::Root, Feature::MountApi);
    let out = Fork::new().run(|| {
        stdout_of(
            Container::builder("/bin/sh")
                .args(["-c", "stat -c '%F %a %u %g %t %T' /dev/p"])
                .namespaces(Namespaces::MOUNT | Namespaces::PID | Namespaces::IPC)
                .root(RootFs::Tmpfs)
                .mounts(Mount::host_system())
                .mount(Mount::dev("/dev"))
                .device(Device::fifo("/dev/p").mode(0o640).owner(12, 34)),
        )
    });
    assert_eq!(out.trim(), "fifo 640 12 34 0 0", "{out}");
}

#[test]
fn devices_that_cannot_be_made_are_refused_and_leave_nothing() {
    require!(Feature::UserNs);
    for unprivileged in modes() {
        let cases: Vec<(Device, &str, &str)> = vec![
            (
                Device::char("/dev/linception-none", 1, 3),
                "PermissionDenied",
                "device character device 1:3 at \"/dev/linception-none\": permission \
                 denied: no such node on the host",
            ),
            (
                Device::char("/dev/null", 1, 5),
                "PermissionDenied",
                "the host's node at that path is another device",
            ),
            (
                Device::block("/dev/null", 1, 3),
                "PermissionDenied",
                "the host's node at that path is another device",
            ),
            (
                Device::char("/dev/null", 1, 3).mode(0o600),
                "PermissionDenied",
                "mode 0o600 of the device character device 1:3 at \"/dev/null\": \
                 permission denied: differs from the host node's",
            ),
            (
                Device::char("/dev/null", 1, 3).owner(0, 0),
                "PermissionDenied",
                "owner of the device",
            ),
            (
                Device::char("/dev/x", 1, 3).mode(0o1666),
                "InvalidArgument",
                "mode 0o1666 of the device",
            ),
            (
                Device::char("dev/x", 1, 3),
                "InvalidArgument",
                "device path \"dev/x\": a path inside the container must be absolute",
            ),
            (
                Device::char("/dev/x", 1, 3).owner(u32::MAX, 0),
                "InvalidArgument",
                "owner 4294967295:0",
            ),
            (
                Device::fifo("/dev/f").owner(4242, 0),
                "InvalidArgument",
                "invalid owner 4242:0 of the device fifo at \"/dev/f\": not mapped",
            ),
        ];
        for (device, kind, needle) in cases {
            let d = device.clone();
            let (got, step, _, text) = failure(unprivileged, move || {
                sh("true").mount(Mount::dev("/dev")).device(d)
            });
            assert_eq!(got, kind, "{device:?}: {text}");
            assert_eq!(step, None, "{text}");
            assert!(text.contains(needle), "{text:?} lacks {needle:?}");
        }
    }
}

#[test]
fn a_device_mknod_refuses_is_a_named_setup_error() {
    require!(Feature::Root, Feature::MountApi);
    // Without a user namespace the node is made with mknod; something already
    // there (Mount::dev's /dev/shm directory) is EEXIST, named by the step. (A
    // device at one of its nodes or links takes that place: tests/dev_devices.rs.)
    let (kind, step, errno, text) = failure(false, || {
        Container::builder("/bin/true")
            .namespaces(Namespaces::MOUNT)
            .root(RootFs::Tmpfs)
            .mount(Mount::dev("/dev"))
            .device(Device::char("/dev/shm", 1, 3))
    });
    assert_eq!(kind, "Setup", "{text}");
    assert_eq!(errno, Some(libc::EEXIST), "{text}");
    assert_eq!(
        step.as_deref(),
        Some("mknod character device 1:3 at \"/dev/shm\""),
        "{text}"
    );
}

#[test]
fn propagation_types_show_in_mountinfo() {
    require!(Feature::UserNs, Feature::MountSetattr);
    for unprivileged in modes() {
        let out = in_fork(unprivileged, || {
            stdout_of(
                sh("cat /proc/self/mountinfo")
                    .root_propagation(Propagation::Shared)
                    .mount(Mount::tmpfs("/s").propagation(Propagation::Shared))
                    .mount(Mount::tmpfs("/u").propagation(Propagation::Unbindable))
                    .mount(Mount::tmpfs("/p").propagation(Propagation::Private))
                    .mount(
                        Mount::bind("/usr", "/b")
                            .read_only()
                            .propagation(Propagation::Shared),
                    )
                    .mount(Mount::filesystem("mqueue", "/mq").propagation(Propagation::Unbindable)),
            )
        });
        let lines = mountinfo(&out);
        let peer = |point: &str| {
            let l = top(&lines, point, &out);
            l.optional
                .iter()
                .find_map(|o| o.strip_prefix("shared:"))
                .unwrap_or_else(|| panic!("{point} is not shared: {l:?}"))
                .to_owned()
        };
        let (root, s, b) = (peer("/"), peer("/s"), peer("/b"));
        // Each a peer group of its own; none of the host's.
        assert!(root != s && s != b && root != b, "{out}");
        assert!(top(&lines, "/b", &out).options.iter().any(|o| o == "ro"));
        for point in ["/u", "/mq"] {
            assert_eq!(top(&lines, point, &out).optional, ["unbindable"], "{out}");
        }
        assert!(top(&lines, "/p", &out).optional.is_empty(), "{out}");
        // The default: everything else private.
        assert!(top(&lines, "/usr", &out).optional.is_empty(), "{out}");
    }
}

#[test]
fn unbindable_root_and_private_default() {
    require!(Feature::UserNs, Feature::MountSetattr);
    for unprivileged in modes() {
        let (unbindable, default) = in_fork(unprivileged, || {
            let a =
                stdout_of(sh("cat /proc/self/mountinfo").root_propagation(Propagation::Unbindable));
            let b = stdout_of(sh("cat /proc/self/mountinfo"));
            (a, b)
        });
        let l = mountinfo(&unbindable);
        assert_eq!(top(&l, "/", &unbindable).optional, ["unbindable"]);
        let l = mountinfo(&default);
        assert!(top(&l, "/", &default).optional.is_empty(), "{default}");
    }
}

/// In a forked child with a mount namespace of its own: a shared tmpfs as the
/// container's root directory, then a container with `propagation` (None: the
/// default) that waits on stdin while the fork mounts on `late` under the shared
/// tmpfs, then prints whether it sees that mount, and its mountinfo.
fn late_mount_seen(fork: Fork, propagation: Option<Propagation>) -> String {
    use linception::mountapi::{FsContext, MountAttr, MountSetattr, SetattrFlags};
    use std::io::{Read, Write};
    fork.unshare(libc::CLONE_NEWNS).run(move || {
        let dir = common::TempDir::new("slave-root");
        let tmpfs = || {
            let ctx = FsContext::open("tmpfs").expect("fsopen");
            ctx.create().expect("create");
            ctx.mount(MountAttr::empty()).expect("fsmount")
        };
        tmpfs().attach(&dir.0).expect("attach");
        linception::mountapi::mount_setattr(
            rustix::fs::CWD,
            &dir.0,
            SetattrFlags::empty(),
            &MountSetattr::new().propagation(Propagation::Shared),
        )
        .expect("make it shared");
        let late = dir.0.join("late");
        std::fs::create_dir(&late).expect("mkdir late");
        let mut b = Container::builder("/bin/sh")
            .args([
                "-c",
                "read x; grep -c ' /late ' /proc/self/mountinfo; cat /proc/self/mountinfo",
            ])
            .namespaces(common::NS)
            .root(RootFs::Dir(dir.0.clone()))
            .mounts(Mount::host_system())
            .mount(Mount::proc("/proc"))
            .stdin(Stdio::Piped)
            .stdout(Stdio::Piped);
        if let Some(p) = propagation {
            b = b.root_propagation(p);
        }
        let mut c = b.spawn().expect("spawn");
        // Propagation happens within mount(2): once it returns, the container sees it.
        tmpfs().attach(&late).expect("attach late");
        let mut stdin = c.take_stdin().expect("stdin");
        stdin.write_all(b"go\n").expect("write");
        drop(stdin);
        let mut out = String::new();
        c.take_stdout()
            .expect("stdout")
            .read_to_string(&mut out)
            .expect("read");
        // grep -c exits 1 on a count of 0: the output says what happened.
        let _ = c.wait().expect("wait");
        let _ = rustix::mount::unmount(&late, rustix::mount::UnmountFlags::DETACH);
        let _ = rustix::mount::unmount(&dir.0, rustix::mount::UnmountFlags::DETACH);
        out
    })
}

#[test]
fn slave_root_receives_from_its_shared_source() {
    require!(Feature::UserNs, Feature::MountSetattr);
    let mut rootless = vec![true];
    if linception_testkit::available(Feature::Root).is_ok() {
        rootless.push(false);
    }
    for rootless in rootless {
        let fork = || {
            if rootless {
                Fork::new().rootless()
            } else {
                Fork::new()
            }
        };
        let out = late_mount_seen(fork(), Some(Propagation::Slave));
        let (seen, info) = out.split_once('\n').expect("two parts");
        assert_eq!(seen, "1", "the host's later mount propagates in: {out}");
        let l = mountinfo(info);
        let root = top(&l, "/", info);
        assert!(
            root.optional.iter().any(|o| o.starts_with("master:")),
            "{out}"
        );
        assert!(
            !root.optional.iter().any(|o| o.starts_with("shared:")),
            "{out}"
        );
        // The default, private: the same mount does not reach the container.
        let out = late_mount_seen(fork(), None);
        let (seen, info) = out.split_once('\n').expect("two parts");
        assert_eq!(seen, "0", "a private root receives nothing: {out}");
        assert!(
            top(&mountinfo(info), "/", info).optional.is_empty(),
            "{out}"
        );
    }
}

#[test]
fn refused_mount_options_carry_the_kernels_message() {
    require!(Feature::UserNs, Feature::MountApi);
    for unprivileged in modes() {
        type Build = fn() -> linception::ContainerBuilder;
        let cases: Vec<(Build, &str, &str)> = vec![
            (
                || sh("true").mount(Mount::tmpfs("/t").option("size", "lots")),
                "mount tmpfs on /t: fsconfig size=lots",
                "[kernel: e tmpfs: Bad value for 'size']",
            ),
            (
                || sh("true").mount(Mount::proc("/p").option("hidepid", "bad")),
                "mount proc on /p: fsconfig hidepid=bad",
                "[kernel: e proc: unknown value of hidepid - bad]",
            ),
            (
                || sh("true").mount(Mount::tmpfs("/t").option("linception-no-such-key", "1")),
                "mount tmpfs on /t: fsconfig linception-no-such-key=1",
                "[kernel: e tmpfs: Unknown parameter 'linception-no-such-key']",
            ),
            (
                || sh("true").mount(Mount::filesystem("mqueue", "/mq").flag("bogus")),
                "mount mqueue on /mq: fsconfig bogus",
                "[kernel: e mqueue: Unknown parameter 'bogus']",
            ),
        ];
        for (build, want_step, kernel) in cases {
            let (kind, step, errno, text) = failure(unprivileged, build);
            assert_eq!(kind, "Setup", "{text}");
            assert_eq!(errno, Some(libc::EINVAL), "{text}");
            assert_eq!(step.as_deref(), Some(want_step), "{text}");
            assert!(text.starts_with(want_step), "{text}");
            assert!(text.ends_with(kernel), "{text:?} lacks {kernel:?}");
        }
    }
}

#[test]
fn bad_filesystem_knobs_are_refused_before_anything_is_created() {
    type Build = fn() -> linception::ContainerBuilder;
    let cases: Vec<(Build, &str)> = vec![
        (
            || sh("true").mask_path("proc/kcore"),
            "mask_path() path \"proc/kcore\": a path inside the container must be absolute",
        ),
        (
            || sh("true").mask_path("/proc/../etc"),
            "mask_path() path \"/proc/../etc\"",
        ),
        (
            || sh("true").mask_path("/"),
            "mask_path() path \"/\": the root itself",
        ),
        (
            || sh("true").read_only_path("/a\0b"),
            "read_only_path() path \"/a\\0b\": contains a NUL byte",
        ),
        (
            || Container::builder("/bin/true").mask_path("/proc/kcore"),
            "mask_path() \"/proc/kcore\" without a root",
        ),
        (
            || Container::builder("/bin/true").read_only_path("/usr"),
            "read_only_path() \"/usr\" without a root",
        ),
        (
            || Container::builder("/bin/true").device(Device::char("/dev/fuse", 10, 229)),
            "device character device 10:229 at \"/dev/fuse\": device nodes are made inside",
        ),
        (
            || Container::builder("/bin/true").root_propagation(Propagation::Shared),
            "root_propagation(Shared) without a root",
        ),
        (
            || sh("true").root_propagation(Propagation::Slave),
            "root_propagation(Slave) of a tmpfs root",
        ),
        (
            || sh("true").mount(Mount::tmpfs("/t").propagation(Propagation::Slave)),
            "propagation(Slave) on the tmpfs mount at \"/t\": a new filesystem has no master",
        ),
        (
            || sh("true").mount(Mount::bind("/usr", "/b").propagation(Propagation::Slave)),
            "propagation(Slave) on the bind mount at \"/b\": the copied mount tree is private",
        ),
        (
            || sh("true").mount(Mount::dev("/dev").propagation(Propagation::Shared)),
            "propagation() on the dev mount at \"/dev\"",
        ),
        (
            || sh("true").mount(Mount::dir("/d").propagation(Propagation::Shared)),
            "propagation() on the dir mount at \"/d\"",
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

#[test]
fn exec_in_refuses_the_filesystem_knobs() {
    require!(Feature::UserNs);
    // exec_in joins the container's root as it is: none of these is ignored.
    for unprivileged in modes() {
        let texts = in_fork(unprivileged, || {
            let mut c = sh("sleep 100").spawn().expect("spawn");
            let knobs: Vec<fn() -> linception::ContainerBuilder> = vec![
                || Container::builder("/bin/true").read_only_root(),
                || Container::builder("/bin/true").mask_path("/proc/kcore"),
                || Container::builder("/bin/true").read_only_path("/usr"),
                || Container::builder("/bin/true").device(Device::char("/dev/null", 1, 3)),
                || Container::builder("/bin/true").root_propagation(Propagation::Shared),
            ];
            let texts: Vec<String> = knobs
                .into_iter()
                .map(|b| {
                    let err = c.exec_in(b()).expect_err("exec_in should refuse");
                    format!("{:?} {err}", err.kind())
                })
                .collect();
            c.kill().expect("kill");
            let _ = c.wait();
            texts
        });
        for text in texts {
            assert!(
                text.starts_with(
                    "InvalidArgument invalid exec_in with \
                     read_only_root/mask_path/read_only_path/device/root_propagation"
                ),
                "{text}"
            );
        }
    }
}
