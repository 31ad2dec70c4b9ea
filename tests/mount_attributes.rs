//! Per-mount attributes and the domain name, seen from inside real containers: the
//! flags `mountinfo` shows for each choice, what they do (noexec refuses a program,
//! read-only refuses a write, nosymfollow refuses a symlink), a recursive bind's
//! tree next to its top mount, `/dev` without its submounts; and the refusals, named
//! before anything is created. Root and rootless.

mod common;

use common::{failure, modes, sh, stdout_of};
use linception::{Atime, Container, Mount, MountAttr, Namespaces};
use linception_testkit::{Feature, Fork, require};

/// Runs `f` in a forked child, as root or dropped to an unprivileged user.
fn in_fork<T: linception_testkit::Wire>(unprivileged: bool, f: impl FnOnce() -> T) -> T {
    if unprivileged {
        Fork::new().unprivileged().capture_stderr().run(f)
    } else {
        Fork::new().capture_stderr().run(f)
    }
}

/// The per-mount options (sixth field) of the last mount on `point` in mountinfo
/// text (the one a path lookup sees).
fn options_of(info: &str, point: &str) -> Vec<String> {
    info.lines()
        .rev()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 5 && f[4] == point).then(|| f[5].split(',').map(str::to_owned).collect())
        })
        .next()
        .unwrap_or_else(|| panic!("no mount on {point}:\n{info}"))
}

/// The output before `---`, and the mountinfo after it.
fn split(out: &str) -> (Vec<String>, &str) {
    let (before, info) = out.split_once("---\n").expect("the marker");
    (before.lines().map(|l| l.trim().to_owned()).collect(), info)
}

const MOUNTINFO: &str = "echo ---; cat /proc/self/mountinfo";

#[test]
fn new_filesystems_get_the_attributes_asked_for() {
    require!(Feature::UserNs, Feature::MountSetattr);
    for unprivileged in modes() {
        let out = in_fork(unprivileged, || {
            stdout_of(
                sh(MOUNTINFO)
                    .mount(Mount::tmpfs("/default"))
                    .mount(
                        Mount::tmpfs("/exact")
                            .allow_suid()
                            .allow_devices()
                            .atime(Atime::StrictAtime),
                    )
                    .mount(
                        Mount::tmpfs("/locked")
                            .noexec()
                            .nodiratime()
                            .nosymfollow()
                            .atime(Atime::NoAtime)
                            .read_only(),
                    )
                    .mount(Mount::filesystem("mqueue", "/mq").noexec().allow_devices()),
            )
        });
        let (_, info) = split(&out);
        let want: [(&str, &[&str]); 4] = [
            ("/default", &["rw", "nosuid", "nodev", "relatime"]),
            ("/exact", &["rw"]),
            (
                "/locked",
                &[
                    "ro",
                    "nosuid",
                    "nodev",
                    "noexec",
                    "noatime",
                    "nodiratime",
                    "nosymfollow",
                ],
            ),
            ("/mq", &["rw", "nosuid", "noexec", "relatime"]),
        ];
        for (point, flags) in want {
            assert_eq!(options_of(info, point), flags, "{point} ({unprivileged})");
        }
    }
}

#[test]
fn attributes_do_what_they_say() {
    require!(Feature::UserNs, Feature::MountSetattr);
    let script = "cp /bin/true /x/true && /x/true && echo exec-ok; \
                  cp /bin/true /nx/true && { /nx/true 2>/e || echo exec-refused; }; \
                  touch /ro/f 2>/e || echo write-refused; \
                  ln -s /etc /ns/link && { ls /ns/link/ >/e 2>&1 || echo symlink-refused; }; \
                  readlink /ns/link";
    for unprivileged in modes() {
        let out = in_fork(unprivileged, || {
            stdout_of(
                sh(script)
                    .mount(Mount::tmpfs("/x"))
                    .mount(Mount::tmpfs("/nx").noexec())
                    .mount(Mount::tmpfs("/ro").attributes(MountAttr::RDONLY))
                    .mount(Mount::tmpfs("/ns").nosymfollow()),
            )
        });
        let v: Vec<&str> = out.lines().collect();
        assert_eq!(
            v,
            [
                "exec-ok",
                "exec-refused",
                "write-refused",
                "symlink-refused",
                "/etc"
            ],
            "{out}"
        );
    }
}

#[test]
fn proc_and_dev_defaults_can_be_lifted() {
    require!(Feature::UserNs, Feature::MountSetattr);
    for unprivileged in modes() {
        let out = in_fork(unprivileged, || {
            stdout_of(
                sh(&format!(
                    "stat -c %a /dev; ls -A /dev | sort | tr '\\n' ' '; echo; {MOUNTINFO}"
                ))
                .mount(Mount::proc("/p2").allow_exec())
                .mount(
                    Mount::dev("/dev")
                        .without_submounts()
                        .option("mode", "750")
                        .allow_exec()
                        .atime(Atime::StrictAtime),
                )
                .mount(
                    Mount::filesystem("devpts", "/dev/pts")
                        .flag("newinstance")
                        .option("ptmxmode", "0666")
                        .allow_devices()
                        .noexec(),
                ),
            )
        });
        let (before, info) = split(&out);
        assert_eq!(before[0], "750", "/dev's mode option: {out}");
        assert_eq!(
            before[1], "fd full null ptmx pts random stderr stdin stdout tty urandom zero",
            "no shm, no mqueue: {out}"
        );
        assert_eq!(
            options_of(info, "/p2"),
            ["rw", "nosuid", "nodev", "relatime"]
        );
        assert_eq!(options_of(info, "/dev"), ["rw", "nosuid"]);
        assert_eq!(
            options_of(info, "/dev/pts"),
            ["rw", "nosuid", "noexec", "relatime"]
        );
        let size = info
            .lines()
            .rev()
            .find(|l| l.split_whitespace().nth(4) == Some("/dev"))
            .unwrap_or_default();
        assert!(size.contains("mode=750"), "{size}");
        assert!(
            !size.contains("size=65536k"),
            "options replace both defaults: {size}"
        );
    }
}

/// The namespaces of a root container without a user namespace (its mounts are
/// not locked: the atime mode of a bind can change).
const NO_USERNS: Namespaces = Namespaces::MOUNT
    .union(Namespaces::PID)
    .union(Namespaces::UTS)
    .union(Namespaces::IPC);

/// A temporary directory with a tmpfs on `sub` in the fork's own mount namespace
/// (root only: the fork unshares it, nothing reaches the host; the directory is
/// removed by the caller).
fn tree_with_a_submount(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("linception-attrs-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let ctx = linception::mountapi::FsContext::open("tmpfs").unwrap();
    ctx.create().unwrap();
    ctx.mount(MountAttr::empty())
        .unwrap()
        .attach(dir.join("sub"))
        .unwrap();
    dir
}

#[test]
fn a_recursive_binds_tree_and_top_are_chosen_apart() {
    require!(Feature::MountSetattr);
    if !linception_testkit::require_root("a submount made in the test's own mount namespace") {
        return;
    }
    let out = Fork::new().unshare(libc::CLONE_NEWNS).run(|| {
        let dir = tree_with_a_submount("tree");
        let out = stdout_of(
            sh(&format!(
                "touch /t/f 2>/e || echo top-ro; touch /t/sub/f && echo sub-rw; \
                 touch /all/sub/f 2>/e || echo all-ro; {MOUNTINFO}"
            ))
            .namespaces(NO_USERNS)
            .mount(
                Mount::bind(&dir, "/t")
                    .recursive()
                    .attributes(MountAttr::RDONLY)
                    .tree_attributes(MountAttr::NOSUID | MountAttr::NOEXEC)
                    .tree_atime(Atime::NoAtime),
            )
            .mount(Mount::bind(&dir, "/all").recursive().read_only()),
        );
        let _ = rustix::mount::unmount(dir.join("sub"), rustix::mount::UnmountFlags::DETACH);
        let _ = std::fs::remove_dir_all(&dir);
        out
    });
    let (before, info) = split(&out);
    assert_eq!(before, ["top-ro", "sub-rw", "all-ro"], "{out}");
    assert_eq!(
        options_of(info, "/t"),
        ["ro", "nosuid", "noexec", "noatime"]
    );
    assert_eq!(
        options_of(info, "/t/sub"),
        ["rw", "nosuid", "noexec", "noatime"]
    );
    assert_eq!(options_of(info, "/all/sub")[0], "ro");
}

/// A bind of a fresh temporary directory on `/b` with `attrs`, its mountinfo options.
fn bind_options(unprivileged: bool, userns: bool, attrs: fn(Mount) -> Mount) -> Vec<String> {
    let out = in_fork(unprivileged, || {
        let dir = std::env::temp_dir().join(format!(
            "linception-attrs-bind-{}-{unprivileged}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut b = sh(MOUNTINFO).mount(attrs(Mount::bind(&dir, "/b")));
        if !userns {
            b = b.namespaces(NO_USERNS);
        }
        let out = stdout_of(b);
        let _ = std::fs::remove_dir(&dir);
        out
    });
    options_of(split(&out).1, "/b")
}

#[test]
fn a_binds_attributes_are_set_and_cleared() {
    require!(Feature::UserNs, Feature::MountSetattr);
    for unprivileged in modes() {
        let o = bind_options(unprivileged, true, |m| m.nosuid().nodev().noexec());
        assert_eq!(o, ["rw", "nosuid", "nodev", "noexec", "relatime"]);
        let o = bind_options(unprivileged, true, |m| m.read_only());
        assert_eq!(o, ["ro", "relatime"]);
        let o = bind_options(unprivileged, true, |m| m.nosymfollow());
        assert_eq!(o, ["rw", "relatime", "nosymfollow"]);
    }
    // The access-time mode of a bind (nodiratime included) is locked in a new user
    // namespace (the kernel keeps the host's); root without one changes it, and
    // lifts what it set.
    if linception_testkit::require_root("a bind's atime mode, without a user namespace") {
        let o = bind_options(false, false, |m| m.nodiratime().read_only());
        assert_eq!(o, ["ro", "nodiratime", "relatime"]);
        let o = bind_options(false, false, |m| m.atime(Atime::StrictAtime).noexec());
        assert_eq!(o, ["rw", "noexec"]);
        let o = bind_options(false, false, |m| m.atime(Atime::NoAtime).allow_exec());
        assert_eq!(o, ["rw", "noatime"]);
    }
}

#[test]
fn a_locked_attribute_is_a_named_setup_error() {
    require!(Feature::UserNs, Feature::MountSetattr);
    for unprivileged in modes() {
        let (kind, step, errno, text) = failure(unprivileged, || {
            sh("true").mount(Mount::bind("/usr", "/u").atime(Atime::NoAtime))
        });
        assert_eq!(kind, "Setup", "{text}");
        assert_eq!(errno, Some(libc::EPERM), "{text}");
        assert_eq!(
            step.as_deref(),
            Some("bind /usr on /u: mount_setattr(MOUNT_ATTR_NOATIME, clear MOUNT_ATTR__ATIME)"),
            "{text}"
        );
    }
}

#[test]
fn the_domain_name_is_set_inside_only() {
    require!(Feature::UserNs);
    let host = std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
    for unprivileged in modes() {
        let out = in_fork(unprivileged, || {
            stdout_of(
                sh("cat /proc/sys/kernel/domainname; hostname")
                    .hostname("web")
                    .domainname("example.org"),
            )
        });
        assert_eq!(out, "example.org\nweb\n");
    }
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap(),
        host,
        "the host's domain name is unchanged"
    );
}

#[test]
fn bad_attribute_choices_are_refused_before_anything_is_created() {
    type Build = fn() -> linception::ContainerBuilder;
    let cases: Vec<(Build, &str)> = vec![
        (
            || sh("true").mount(Mount::tmpfs("/t").noexec().allow_exec()),
            "NOEXEC both set and cleared for the mount of the tmpfs mount at \"/t\"",
        ),
        (
            || {
                sh("true").mount(
                    Mount::tmpfs("/t")
                        .atime(Atime::NoAtime)
                        .atime(Atime::StrictAtime),
                )
            },
            "atime(NoAtime) and atime(StrictAtime) on the tmpfs mount at \"/t\"",
        ),
        (
            || sh("true").mount(Mount::bind("/usr", "/u").tree_attributes(MountAttr::NOSUID)),
            "tree attributes on the bind mount at \"/u\": the bind is not recursive",
        ),
        (
            || sh("true").mount(Mount::dev("/dev").attributes(MountAttr::RDONLY)),
            "MOUNT_ATTR_RDONLY on the dev mount at \"/dev\"",
        ),
        (
            || sh("true").mount(Mount::tmpfs("/t").attributes(MountAttr::STRICTATIME)),
            "attributes(STRICTATIME) on the tmpfs mount at \"/t\"",
        ),
        (
            || sh("true").mount(Mount::dir("/d").noexec()),
            "attributes() on the dir mount at \"/d\"",
        ),
        (
            || sh("true").domainname("d").share(Namespaces::UTS),
            "domainname \"d\": setting a domain name needs Namespaces::UTS",
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
fn exec_in_refuses_a_domain_name() {
    require!(Feature::UserNs);
    for unprivileged in modes() {
        let text = in_fork(unprivileged, || {
            let mut c = sh("sleep 100").spawn().expect("spawn");
            let e = c
                .exec_in(Container::builder("/bin/true").domainname("d"))
                .expect_err("refused");
            c.kill().expect("kill");
            let _ = c.wait();
            e.to_string()
        });
        assert!(text.contains("domainname"), "{text}");
    }
}
