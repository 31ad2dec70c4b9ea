//! The binary end to end: each command a separate process, as containerd's shim and
//! CRI-O call it. As root the bundles have no user namespace (and again with one);
//! started by another user they are rootless (`spec --rootless`: a user namespace
//! mapping root to the caller).

mod common;

use common::*;

fn lifecycle(rootless: bool) {
    if !need("busybox-static", "/bin/busybox") {
        return;
    }
    let rt = Runtime::ours();
    // Unique: the root and the rootless run go on at once, and a container's
    // cgroup is named after its id.
    let id = unique_id("life");
    let id = id.as_str();
    let bundle = Bundle::new(rootless, |c| {
        c["root"]["readonly"] = false.into();
        script(c, "echo started > /tmp/started; exec sleep 1000");
    });
    let created = rt.create(&bundle, id);
    assert!(created.status.success(), "create: {}", stderr(&created));
    let s = rt.state(id);
    assert_eq!(s["status"], "created");
    assert_eq!(s["id"], id);
    assert_eq!(s["bundle"], bundle.path().to_str().unwrap());
    let pid = s["pid"].as_i64().unwrap();
    assert!(
        pid > 0 && std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "{s}"
    );
    let started_file = bundle.path().join("rootfs/tmp/started");
    assert!(!started_file.exists(), "the program ran before start");

    let st = rt.quiet(&["start", id]);
    assert!(st.status.success(), "start: {}", stderr(&st));
    assert_eq!(rt.state(id)["status"], "running");
    for _ in 0..500 {
        if started_file.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(started_file.exists(), "the program did not run after start");
    // A second start and a delete without --force of a running container are refused.
    let again = rt.quiet(&["start", id]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).starts_with("linception-oci: "),
        "{}",
        stderr(&again)
    );
    let del = rt.quiet(&["delete", id]);
    assert_eq!(del.status.code(), Some(1));
    assert!(stderr(&del).contains("running"), "{}", stderr(&del));

    let k = rt.quiet(&["kill", id, "KILL"]);
    assert!(k.status.success(), "kill: {}", stderr(&k));
    rt.wait_status(id, "stopped");
    let del = rt.quiet(&["delete", id]);
    assert!(del.status.success(), "delete: {}", stderr(&del));
    assert!(!rt.root.0.join(id).exists(), "state left behind");
    let gone = rt.quiet(&["state", id]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(
        stderr(&gone).contains("does not exist"),
        "{}",
        stderr(&gone)
    );
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists() || {
            // The pid may have been reused: then it is not our init.
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            !String::from_utf8_lossy(&cmd).contains("sleep")
        }
    );
}

#[test]
fn lifecycle_create_start_kill_delete() {
    lifecycle(false);
}

#[test]
fn lifecycle_with_a_user_namespace() {
    lifecycle(true);
}

#[test]
fn a_created_container_is_deleted() {
    if !need("busybox-static", "/bin/busybox") {
        return;
    }
    let rt = Runtime::ours();
    let bundle = Bundle::new(false, |c| script(c, "sleep 4242"));
    let created = rt.create(&bundle, "c1");
    assert!(created.status.success(), "create: {}", stderr(&created));
    let pid = rt.state("c1")["pid"].as_i64().unwrap();
    // Deleting a created (not running) container needs no --force.
    let del = rt.quiet(&["delete", "c1"]);
    assert!(del.status.success(), "delete: {}", stderr(&del));
    assert!(!rt.root.0.join("c1").exists());
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(!stat.contains("sleep"), "the init survived: {stat}");
}

#[test]
fn run_passes_the_exit_code_and_output_through() {
    if !need("busybox-static", "/bin/busybox") {
        return;
    }
    let rt = Runtime::ours();
    let bundle = Bundle::new(false, |c| script(c, "echo out; echo err >&2; exit 7"));
    let out = rt.run(&bundle, "r1");
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert_eq!(stdout(&out), "out\n");
    assert_eq!(stderr(&out), "err\n");
    assert!(!rt.root.0.join("r1").exists(), "run left its state");
    // A program that cannot be executed: the start fails, named, nothing is left.
    let missing = Bundle::new(false, |c| {
        c["process"]["args"] = serde_json::json!(["/no/such"])
    });
    let out = rt.run(&missing, "r2");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with("linception-oci: ") && err.contains("/no/such"),
        "{err}"
    );
    assert!(
        !rt.root.0.join("r2").exists(),
        "a failed run left its state"
    );
}

#[test]
fn a_refused_field_is_named_and_nothing_is_left() {
    if !need("busybox-static", "/bin/busybox") {
        return;
    }
    let rt = Runtime::ours();
    let marker = format!("sleep 7{}", std::process::id());
    type Edit = fn(&mut serde_json::Value);
    let cases: [(&str, Edit); 4] = [
        ("linux.resources.blockIO", |c| {
            c["linux"]["resources"] = serde_json::json!({"blockIO": {"weight": 10}})
        }),
        ("mounts[2] (/c)", |c| {
            c["mounts"].as_array_mut().unwrap().push(
                serde_json::json!({"destination": "/c", "type": "tmpfs", "source": "tmpfs", "options": ["mand"]}),
            )
        }),
        ("process.terminal", |c| {
            c["process"]["terminal"] = true.into()
        }),
        ("linux.seccomp.defaultAction", |c| {
            c["linux"]["seccomp"] = serde_json::json!({"defaultAction": "SCMP_ACT_NOTIFY"})
        }),
    ];
    for (field, edit) in cases {
        let m = marker.clone();
        let bundle = Bundle::new(false, |c| {
            script(c, &m);
            edit(c);
        });
        for cmd in ["create", "run"] {
            let out = rt
                .cmd()
                .args([cmd, "--bundle"])
                .arg(bundle.path())
                .arg("bad")
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(1), "{field}");
            let err = stderr(&out);
            assert!(
                err.starts_with(&format!("linception-oci: {field}")),
                "{field}: {err}"
            );
            assert!(
                !rt.root.0.join("bad").exists(),
                "{field}: a state directory"
            );
            assert!(!process_with(&marker), "{field}: a process is left");
        }
    }
}

#[test]
fn a_bad_command_line_is_named() {
    let rt = Runtime::ours();
    let cases: [(&[&str], &str); 6] = [
        (&["--systemd-cgroup", "list"], "--systemd-cgroup"),
        (&["kill", "x", "SIGNOPE"], "unknown signal"),
        (&["frobnicate"], "unknown command"),
        (&["state"], "needs a container id"),
        (&["state", "../x"], "container id"),
        (
            &["create", "--bundle", "/nonexistent-bundle", "x"],
            "config.json",
        ),
    ];
    for (args, want) in cases {
        let out = rt.quiet(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.starts_with("linception-oci: ") && err.contains(want),
            "{args:?}: {err}"
        );
    }
    // --log-format json: one JSON line with the level and the message, also in --log.
    let log = TempDir::new("log");
    let file = log.0.join("log.json");
    let out = rt
        .cmd()
        .args(["--log-format", "json", "--log"])
        .arg(&file)
        .args(["state", "nothere"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let line: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(line["level"], "error");
    assert!(
        line["msg"].as_str().unwrap().contains("does not exist"),
        "{line}"
    );
    let logged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(logged, line);
}

#[test]
fn list_shows_the_containers() {
    if !need("busybox-static", "/bin/busybox") {
        return;
    }
    let rt = Runtime::ours();
    let bundle = Bundle::new(false, |c| script(c, "sleep 1000"));
    for id in ["b", "a"] {
        let out = rt.create(&bundle, id);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = rt.quiet(&["list"]);
    let text = stdout(&out);
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert_eq!((rows[0][0], rows[0][2]), ("a", "created"), "{text}");
    assert_eq!((rows[1][0], rows[1][2]), ("b", "created"), "{text}");
    for id in ["a", "b"] {
        assert!(rt.quiet(&["delete", id]).status.success());
    }
}

#[test]
fn two_creates_of_one_id_at_once_make_one_container() {
    if !need("busybox-static", "/bin/busybox") {
        return;
    }
    let rt = Runtime::ours();
    let bundle = Bundle::new(false, |c| script(c, "sleep 1000"));
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| rt.create(&bundle, "same"));
        let b = s.spawn(|| rt.create(&bundle, "same"));
        (a.join().unwrap(), b.join().unwrap())
    });
    let ok = [&a, &b].iter().filter(|o| o.status.success()).count();
    assert_eq!(ok, 1, "a: {} b: {}", stderr(&a), stderr(&b));
    let failed = if a.status.success() { &b } else { &a };
    assert!(
        stderr(failed).contains("already exists"),
        "{}",
        stderr(failed)
    );
    assert_eq!(rt.state("same")["status"], "created");
    assert!(rt.quiet(&["delete", "same"]).status.success());
}

#[test]
fn the_pid_file_holds_the_inits_pid() {
    if !need("busybox-static", "/bin/busybox") {
        return;
    }
    let rt = Runtime::ours();
    let bundle = Bundle::new(false, |c| script(c, "sleep 1000"));
    let pid_file = rt.root.0.join("pid");
    let out = rt
        .cmd()
        .args(["create", "--pid-file"])
        .arg(&pid_file)
        .arg("--bundle")
        .arg(bundle.path())
        .arg("p1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(out.success());
    let pid: i64 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert_eq!(rt.state("p1")["pid"], pid);
    assert!(rt.quiet(&["delete", "p1"]).status.success());
}

/// `delete` removes the cgroup made for the container even when the bundle's config
/// is gone by then (the state records it), as root where the runtime makes one.
#[test]
fn delete_removes_the_cgroup_without_the_bundle() {
    if !need("busybox-static", "/bin/busybox") || !is_root() {
        if !is_root() {
            eprintln!("SKIP: needs root (a cgroup of the container's own)");
        }
        return;
    }
    let rt = Runtime::ours();
    let id = unique_id("nobundle");
    let bundle = Bundle::new(false, |c| script(c, "exec sleep 1000"));
    assert!(rt.create(&bundle, &id).status.success());
    assert!(rt.quiet(&["start", &id]).status.success());
    let state = std::fs::read_to_string(rt.root.0.join(&id).join("state.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&state).unwrap();
    let cgroup = std::path::PathBuf::from(v["cgroup"].as_str().expect("the cgroup is recorded"));
    assert!(cgroup.is_dir(), "{}", cgroup.display());
    // The config goes (the rootfs stays: the running program's files are in it).
    std::fs::remove_file(bundle.path().join("config.json")).unwrap();
    let k = rt.quiet(&["kill", &id, "KILL"]);
    assert!(k.status.success(), "{}", stderr(&k));
    rt.wait_status(&id, "stopped");
    let del = rt.quiet(&["delete", &id]);
    assert!(del.status.success(), "{}", stderr(&del));
    assert!(!cgroup.exists(), "{} left behind", cgroup.display());
}
