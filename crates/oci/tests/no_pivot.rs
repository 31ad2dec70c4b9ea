//! `run --no-pivot`, and configs without a mount namespace of their own (none
//! listed, or one joined by `path`), through runc and through linception-oci.
//!
//! Known differences, checked as such: under `/dev` linception binds the host's
//! nodes and mounts devpts, shm and mqueue where runc makes nodes with `mknod`;
//! without a mount namespace of the container's (none listed), runc makes its
//! mounts (and `/dev` nodes) in the runtime's namespace and leaves them there,
//! while linception only chroots and refuses what would need a mount. A mount
//! namespace joined by path gets the mounts and the `pivot_root` from both. Every
//! run of these tests is made inside a throwaway mount namespace of the test's, so
//! that nothing runc leaves reaches the host.

mod common;

use common::*;
use linception::{Container, Namespaces};
use linception_testkit::Fork;
use serde_json::Value;

fn needs() -> bool {
    need("busybox-static", "/bin/busybox") && need("runc", "/usr/sbin/runc")
}

/// The mount points of mountinfo text outside `/dev` (see the module's note),
/// sorted, and the `/` line's root and filesystem type.
fn normalised(mountinfo: &str) -> (Vec<String>, Option<(String, String)>) {
    let mut points = Vec::new();
    let mut root = None;
    for l in mountinfo.lines().filter(|l| !l.is_empty()) {
        let (head, tail) = l.split_once(" - ").expect("a mountinfo line");
        let f: Vec<&str> = head.split_whitespace().collect();
        let fstype = tail.split_whitespace().next().unwrap_or("").to_owned();
        if f[4] == "/" {
            root = Some((f[3].to_owned(), fstype));
        }
        if f[4] != "/dev" && !f[4].starts_with("/dev/") {
            points.push(f[4].to_owned());
        }
    }
    points.sort();
    (points, root)
}

const VIEW: &str = "ls -A /; echo ---; cat /proc/self/mountinfo; exit 3";

fn run_no_pivot(rootless: bool) {
    if !needs() {
        return;
    }
    let bundle = Bundle::new(rootless, |c| script(c, VIEW));
    let id = unique_id("np");
    let (ours, runc) = (Runtime::ours(), Runtime::runc());
    let mut outs = Vec::new();
    for (rt, pivot) in [(&ours, false), (&runc, false), (&ours, true)] {
        let mut cmd = rt.cmd();
        cmd.arg("run");
        if !pivot {
            cmd.arg("--no-pivot");
        }
        let out = cmd
            .arg("--bundle")
            .arg(bundle.path())
            .arg(&id)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{:?}: {}", rt.bin, stderr(&out));
        outs.push(stdout(&out));
    }
    let view = |o: &str| {
        let (ls, info) = o.split_once("---\n").expect("the marker");
        (ls.to_owned(), normalised(info))
    };
    let (o, r, pivoted) = (view(&outs[0]), view(&outs[1]), view(&outs[2]));
    assert!(o.0.lines().any(|l| l == "bin"), "{}", outs[0]);
    assert!(o.1.1.is_some(), "no / in {}", outs[0]);
    assert_eq!(o, r, "ours:\n{}\nrunc:\n{}", outs[0], outs[1]);
    // And the same view as with pivot_root.
    assert_eq!(o, pivoted, "no-pivot:\n{}\npivoted:\n{}", outs[0], outs[2]);
}

#[test]
fn run_no_pivot_sees_what_runc_gives() {
    linception_testkit::require_root!("a container without a user namespace");
    run_no_pivot(false);
}

#[test]
fn run_no_pivot_sees_what_runc_gives_with_a_user_namespace() {
    run_no_pivot(true);
}

/// `create --no-pivot` is honoured too: the created container's mounts are those
/// of a pivoted one, and it starts.
#[test]
fn create_no_pivot_then_start() {
    if !needs() {
        return;
    }
    let bundle = Bundle::new(!is_root(), |c| script(c, "exec sleep 100"));
    let ours = Runtime::ours();
    let mut seen = Vec::new();
    for no_pivot in [true, false] {
        let id = unique_id("npc");
        let err_path = ours.root.0.join(format!("{id}.stderr"));
        let mut cmd = ours.cmd();
        cmd.arg("create");
        if no_pivot {
            cmd.arg("--no-pivot");
        }
        let out = cmd
            .arg("--bundle")
            .arg(bundle.path())
            .arg(&id)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .output()
            .unwrap();
        let err = std::fs::read_to_string(&err_path).unwrap_or_default();
        let _ = std::fs::remove_file(&err_path);
        assert!(out.status.success(), "create (no-pivot {no_pivot}): {err}");
        let pid = ours.state(&id)["pid"].as_i64().expect("a pid");
        let info = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
        seen.push((normalised(&info), info));
        assert!(ours.quiet(&["start", &id]).status.success());
        assert_eq!(ours.wait_status(&id, "running")["status"], "running");
        assert!(ours.quiet(&["delete", "--force", &id]).status.success());
    }
    assert!(seen[0].0.1.is_some(), "{}", seen[0].1);
    assert_eq!(
        seen[0].0, seen[1].0,
        "no-pivot:\n{}\npivoted:\n{}",
        seen[0].1, seen[1].1
    );
}

/// A bundle whose container has no mount namespace of its own: nothing that needs
/// a mount (no mounts, masked or read-only paths, read-only root).
fn without_mounts(c: &mut Value, namespaces: Value) {
    c["mounts"] = serde_json::json!([]);
    c["root"]["readonly"] = false.into();
    let linux = c["linux"].as_object_mut().unwrap();
    linux.remove("maskedPaths");
    linux.remove("readonlyPaths");
    linux.insert("namespaces".into(), namespaces);
}

/// Runs `args` of a runtime in the caller's mount namespace.
fn output(rt: &Runtime, args: &[&str], bundle: &Bundle, id: &str) -> std::process::Output {
    rt.cmd()
        .args(args)
        .arg("--bundle")
        .arg(bundle.path())
        .arg(id)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// What each runtime's container reports (`ls /` and stderr, exit code) and the
/// mount namespace it says it is in, next to the one it should be in: both run in a forked
/// child with a private mount namespace of its own, which the containers share
/// (none listed) or in which the `holder` made a new one (joined).
fn report(rt: &Runtime, bundle: &Bundle, join: bool) -> (String, Option<i32>, String, String) {
    let id = unique_id("nomnt");
    let newns = rustix::thread::UnshareFlags::NEWNS.bits() as i32;
    Fork::new().unshare(newns).run(|| {
        // Without a mount namespace of the container's, runc still wants a /proc
        // (it closes fds through /proc/self/fd), which it would mount in the
        // runtime's namespace; ours refuses mounts there. Both get the test's own
        // proc, bound before either starts.
        if !join {
            let proc_dir = bundle.path().join("rootfs/proc");
            rustix::mount::mount_bind_recursive("/proc", &proc_dir).expect("bind /proc");
        }
        let config = bundle.path().join("config.json");
        let mut holder = None;
        let want = if join {
            let h = Container::builder("/bin/sleep")
                .arg("100")
                .namespaces(Namespaces::MOUNT)
                .spawn()
                .expect("spawn the namespace holder");
            let path = format!("/proc/{}/ns/mnt", h.pid().as_raw());
            let mut cfg: Value =
                serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
            for ns in cfg["linux"]["namespaces"].as_array_mut().unwrap() {
                if ns["type"] == "mount" {
                    ns["path"] = path.clone().into();
                }
            }
            std::fs::write(&config, cfg.to_string()).unwrap();
            holder = Some(h);
            std::fs::read_link(path).unwrap()
        } else {
            std::fs::read_link("/proc/self/ns/mnt").unwrap()
        };
        // One run per namespace: runc pivots a joined namespace's root into the
        // container's (for every process in it), so a second container could no
        // longer find the bundle there.
        let run = output(rt, &["run"], bundle, &id);
        if let Some(mut h) = holder {
            let _ = h.kill();
            let _ = h.wait();
        }
        let out = stdout(&run);
        // The container's own word on its mount namespace is its output's last line.
        let (view, got) = out.trim_end().rsplit_once('\n').unwrap_or(("", ""));
        (
            format!("{view}\n{}", stderr(&run)),
            run.status.code(),
            got.to_owned(),
            want.display().to_string(),
        )
    })
}

fn compare_without_own_mount_namespace(join: bool) {
    if !needs() {
        return;
    }
    let (ours, runc) = (Runtime::ours(), Runtime::runc());
    let mut reports = Vec::new();
    for rt in [&ours, &runc] {
        let bundle = Bundle::new(false, |c| {
            if join {
                // The whole default config (mounts, masked and read-only paths, a
                // read-only root), made in the joined namespace.
                script(
                    c,
                    "ls -A /; echo ---; cat /proc/self/mountinfo; echo ---; \
                    readlink /proc/self/ns/mnt; exit 7",
                );
                for ns in c["linux"]["namespaces"].as_array_mut().unwrap() {
                    if ns["type"] == "mount" {
                        ns["path"] = "set by report()".into();
                    }
                }
            } else {
                script(c, "ls -A /; readlink /proc/self/ns/mnt; exit 7");
                without_mounts(
                    c,
                    serde_json::json!([{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}]),
                );
            }
        });
        let (out, code, got, want) = report(rt, &bundle, join);
        assert_eq!(code, Some(7), "{:?}: {out}", rt.bin);
        assert_eq!(got, want, "{:?}: the container's mount namespace", rt.bin);
        // Each runtime has a bundle of its own (a joined namespace is pivoted).
        let name = bundle
            .path()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        reports.push(out.replace(&name, "<bundle>"));
    }
    assert!(reports[0].lines().any(|l| l == "bin"), "{}", reports[0]);
    if join {
        let view = |o: &str| {
            let (ls, rest) = o.split_once("---\n").expect("the marker");
            (ls.to_owned(), normalised(rest.trim_end_matches("---\n")))
        };
        let (o, r) = (view(&reports[0]), view(&reports[1]));
        assert!(o.1.1.is_some(), "{}", reports[0]);
        assert_eq!(o, r, "ours:\n{}\nrunc:\n{}", reports[0], reports[1]);
    } else {
        assert_eq!(
            reports[0], reports[1],
            "ours:\n{}\nrunc:\n{}",
            reports[0], reports[1]
        );
    }
}

#[test]
fn no_mount_namespace_listed_is_the_runtimes_as_with_runc() {
    linception_testkit::require_root!("runc without a user namespace");
    compare_without_own_mount_namespace(false);
}

#[test]
fn a_mount_namespace_joined_by_path_as_with_runc() {
    linception_testkit::require_root!("joining a mount namespace made by root");
    compare_without_own_mount_namespace(true);
}

/// The default config's mounts with no namespace of the container's but pid, ipc
/// and uts (the validation suite's `linux_ns_itype`
/// lists none at all): both runtimes make them beneath the root in the runtime's
/// mount namespace, and the container sees the same. runc leaves them there;
/// linception-oci detaches them when the container is deleted (here at the end of
/// `run`). Both run in a forked child's private mount namespace, which is "the
/// runtime's".
#[test]
fn default_mounts_without_a_mount_namespace_as_with_runc() {
    linception_testkit::require_root!("mounting in the runtime's mount namespace");
    if !needs() {
        return;
    }
    let mut seen = Vec::new();
    for rt in [Runtime::ours(), Runtime::runc()] {
        let bundle = Bundle::new(false, |c| {
            script(
                c,
                "ls -A /dev | sort | tr '\\n' ' '; echo; \
                 grep -c ' - proc ' /proc/self/mountinfo >/dev/null && echo proc-mounted; \
                 exit 7",
            );
            c["root"]["readonly"] = false.into();
            // runc's default mounts (its `spec`): /dev's submounts given.
            c["mounts"] = serde_json::json!([
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                 "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
                 "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
                {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                 "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
                {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
                 "options": ["nosuid", "noexec", "nodev"]}
            ]);
            // runc refuses masked and read-only paths without a mount namespace
            // of the container's ("unable to restrict sys entries"): left out for
            // both (linception makes them, as the umbrella's chroot test checks).
            let linux = c["linux"].as_object_mut().unwrap();
            linux.remove("maskedPaths");
            linux.remove("readonlyPaths");
            c["linux"]["namespaces"] =
                serde_json::json!([{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}]);
        });
        let root = bundle.path().join("rootfs");
        let id = unique_id("nomnt-defaults");
        let newns = rustix::thread::UnshareFlags::NEWNS.bits() as i32;
        let r = root.clone();
        let (code, out, err, left, mine) = Fork::new().unshare(newns).run(move || {
            let run = output(&rt, &["run"], &bundle, &id);
            let left =
                linception::mountapi::mount_table(linception::mountapi::MountTableSource::Auto)
                    .unwrap()
                    .iter()
                    .filter(|m| m.mount_point.starts_with(&r) && m.mount_point != r)
                    .count();
            let mine = std::fs::read_link("/proc/self/ns/mnt").unwrap();
            (
                run.status.code(),
                stdout(&run),
                stderr(&run),
                left,
                mine.display().to_string(),
            )
        });
        assert_eq!(code, Some(7), "{err}");
        assert_ne!(
            mine,
            std::fs::read_link("/proc/self/ns/mnt")
                .unwrap()
                .display()
                .to_string()
        );
        seen.push((out, left));
    }
    let (ours, runc) = (&seen[0], &seen[1]);
    assert!(ours.0.ends_with(" \nproc-mounted\n"), "{}", ours.0);
    assert!(
        ours.0.contains("null") && ours.0.contains("pts"),
        "{}",
        ours.0
    );
    assert_eq!(ours.0, runc.0, "what the container sees");
    assert_eq!(ours.1, 0, "linception-oci left mounts beneath the root");
    assert!(runc.1 > 0, "runc leaves its mounts beneath the root");
}

/// Rootless (as the suite's user; as root, a rootless spec still makes a user
/// namespace), without a mount namespace of its own: the container's user
/// namespace gives the chroot its `CAP_SYS_CHROOT` (runc refuses: it would mount
/// in the runtime's namespace, which that user namespace does not own).
#[test]
fn no_mount_namespace_rootless() {
    if !needs() {
        return;
    }
    let bundle = Bundle::new(true, |c| {
        script(c, "ls -A /; exit 7");
        let user = c["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["type"] == "user");
        assert!(user, "a rootless spec has a user namespace");
        without_mounts(c, serde_json::json!([{"type": "user"}, {"type": "pid"}]));
        c.as_object_mut().unwrap().remove("hostname");
    });
    let ours = Runtime::ours();
    let id = unique_id("nomnt-rl");
    let out = ours.run(&bundle, &id);
    let out = (out.status.code(), stdout(&out), stderr(&out));
    assert_eq!(out.0, Some(7), "{}", out.2);
    assert_eq!(out.1, "bin\ndev\netc\nproc\ntmp\n");
}

/// What needs a mount, in a config without a mount namespace of its own, is
/// refused by field before anything is created.
#[test]
fn what_needs_a_mount_is_refused_without_a_mount_namespace() {
    if !needs() {
        return;
    }
    let ns = serde_json::json!([{"type": "user"}, {"type": "pid"}]);
    type Edit = fn(&mut Value);
    let cases: [(&str, Edit); 5] = [
        ("mounts", |c| {
            c["mounts"] =
                serde_json::json!([{"destination": "/proc", "type": "proc", "source": "proc"}]);
        }),
        ("root.readonly", |c| c["root"]["readonly"] = true.into()),
        ("linux.maskedPaths", |c| {
            c["linux"]["maskedPaths"] = serde_json::json!(["/proc/kcore"])
        }),
        ("linux.readonlyPaths", |c| {
            c["linux"]["readonlyPaths"] = serde_json::json!(["/proc/sys"])
        }),
        ("linux.rootfsPropagation", |c| {
            c["linux"]["rootfsPropagation"] = "private".into()
        }),
    ];
    let ours = Runtime::ours();
    for (field, edit) in cases {
        let bundle = Bundle::new(true, |c| {
            without_mounts(c, ns.clone());
            c.as_object_mut().unwrap().remove("hostname");
            edit(c);
        });
        let id = unique_id("nomnt-bad");
        let out = ours.run(&bundle, &id);
        assert_ne!(out.status.code(), Some(0), "{field}");
        let err = stderr(&out);
        assert!(
            err.contains(field) && err.contains("mount namespace"),
            "{field}: {err}"
        );
        assert!(
            !ours.root.0.join(&id).exists(),
            "{field}: state left behind"
        );
    }
}

/// `exec` into a container without a mount namespace of its own runs in the
/// container's root (the bundle's), not the runtime's.
#[test]
fn exec_into_a_container_without_its_own_mount_namespace() {
    if !needs() {
        return;
    }
    let bundle = Bundle::new(true, |c| {
        script(c, "exec sleep 100");
        without_mounts(c, serde_json::json!([{"type": "user"}, {"type": "pid"}]));
        c.as_object_mut().unwrap().remove("hostname");
    });
    let ours = Runtime::ours();
    let id = unique_id("nomnt-exec");
    let out = ours.create(&bundle, &id);
    assert!(out.status.success(), "create: {}", stderr(&out));
    assert!(ours.quiet(&["start", &id]).status.success());
    let out = ours
        .cmd()
        .args(["exec", &id, "ls", "-A", "/"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let _ = ours.quiet(&["delete", "--force", &id]);
    assert!(out.status.success(), "exec: {}", stderr(&out));
    assert_eq!(stdout(&out), "bin\ndev\netc\nproc\ntmp\n");
}
