//! cgroup v2 through the binary: `linux.resources.devices` as the device program
//! (compared with runc, which enforces the same list through cgroup v1's device
//! controller on this hybrid host), `pause`/`resume` and the `paused` state
//! (compared with runc), `kill --all`, `update`, `hugepageLimits` (the one
//! controller this host's cgroup2 has), `cgroupsPath` with missing parents, and
//! refusals named by field leaving no state, process or cgroup behind. Each
//! command is a separate process.

mod common;

use std::path::Path;
use std::process::Stdio;

use common::*;
use serde_json::json;

/// The host's cgroup v2 mount, as linception's feature report gives it.
fn mount() -> std::path::PathBuf {
    linception::features::cgroup2().unwrap().mount_point
}

fn needs() -> bool {
    need("busybox-static", "/bin/busybox")
}

/// Opens of the usual devices and of a block device the config adds.
const PROBE: &str = "for d in /dev/null /dev/zero /dev/full /dev/tty /dev/random /dev/urandom /dev/loop0; do \
    for m in r w; do if [ $m = r ]; then (exec 3<$d) 2>/e; else (exec 3>$d) 2>/e; fi; \
    if [ $? = 0 ]; then echo \"$d $m ok\"; elif grep -q 'not permitted' /e; then echo \"$d $m EPERM\"; \
    elif grep -q 'No such device or address' /e; then echo \"$d $m ok\"; else echo \"$d $m $(cat /e)\"; fi; done; done";

/// containerd's default device list (deny all, then the usual devices).
fn containerd_devices() -> serde_json::Value {
    let c = |major: i64, minor: Option<i64>, access: &str| json!({"allow": true, "type": "c", "major": major, "minor": minor.unwrap_or(-1), "access": access});
    json!([
        {"allow": false, "access": "rwm"},
        c(1, Some(3), "rwm"),
        c(1, Some(8), "rwm"),
        c(1, Some(7), "rwm"),
        c(5, Some(0), "rwm"),
        c(1, Some(5), "rwm"),
        c(1, Some(9), "rwm"),
        c(5, Some(1), "rwm"),
        c(136, None, "rwm"),
        c(5, Some(2), "rwm"),
        c(10, Some(200), "rwm"),
    ])
}

fn device_bundle(devices: Option<serde_json::Value>) -> Bundle {
    Bundle::new(false, |c| {
        script(c, PROBE);
        c["root"]["readonly"] = json!(false);
        c["linux"]["devices"] =
            json!([{"path": "/dev/loop0", "type": "b", "major": 7, "minor": 0, "fileMode": 0o600}]);
        if let Some(d) = devices {
            c["linux"]["resources"]["devices"] = d;
        }
    })
}

#[test]
fn device_rules_decide_opens_as_runc_does() {
    linception_testkit::require_root!("device rules (a device program needs CAP_BPF)");
    if !needs() || !need("runc", "/usr/sbin/runc") {
        return;
    }
    let loop0_allowed = json!({"allow": true, "type": "b", "major": 7, "minor": 0, "access": "r"});
    let mut with_loop = containerd_devices();
    with_loop.as_array_mut().unwrap().push(loop0_allowed);
    let sets = [
        ("the default spec (deny all)", None),
        ("containerd's default", Some(containerd_devices())),
        ("containerd's, loop0 readable", Some(with_loop)),
        (
            "zero denied after allow-all",
            Some(json!([
                {"allow": true, "access": "rwm"},
                {"allow": false, "type": "c", "major": 1, "minor": 5, "access": "rw"}
            ])),
        ),
    ];
    for (n, (what, devices)) in sets.into_iter().enumerate() {
        let bundle = device_bundle(devices);
        let id = format!("lc-dev-{}-{n}", std::process::id());
        let ours = Runtime::ours().run(&bundle, &id);
        let runc = Runtime::runc().run(&bundle, &id);
        assert!(ours.status.success(), "{what}: ours: {}", stderr(&ours));
        assert!(runc.status.success(), "{what}: runc: {}", stderr(&runc));
        let (o, r) = (stdout(&ours), stdout(&runc));
        assert_eq!(o.lines().count(), 14, "{what}: {o}");
        assert_eq!(o, r, "{what}: ours:\n{o}\nrunc:\n{r}");
        assert!(o.contains("/dev/null w ok"), "{what}: {o}");
        assert!(!mount().join(&id).exists(), "{what}: cgroup left");
    }
}

/// A running `sleep` container (its shell and a background sleep).
fn sleeper(edit: impl FnOnce(&mut serde_json::Value)) -> Bundle {
    Bundle::new(false, |c| {
        script(c, "sleep 1000 & exec sleep 1001");
        edit(c)
    })
}

fn ok(o: &std::process::Output, what: &str) {
    assert!(o.status.success(), "{what}: {}", stderr(o));
}

#[test]
fn pause_and_resume_report_paused_as_runc() {
    linception_testkit::require_root!("a container with a cgroup");
    if !needs() || !need("runc", "/usr/sbin/runc") {
        return;
    }
    let bundle = sleeper(|_| {});
    // Two ids: runc on this hybrid host also puts its container in the cgroup v2
    // directory named after the id, and one cgroup frozen by both would make
    // the comparison meaningless.
    let ids = [
        format!("lc-pause-ours-{}", std::process::id()),
        format!("lc-pause-runc-{}", std::process::id()),
    ];
    let (ours, runc) = (Runtime::ours(), Runtime::runc());
    let both = [(&ours, &ids[0]), (&runc, &ids[1])];
    for (rt, id) in both {
        ok(&rt.create(&bundle, id), "create");
        ok(&rt.quiet(&["start", id]), "start");
        rt.wait_status(id, "running");
    }
    let cg = mount().join(&ids[0]);
    for (rt, id) in both {
        ok(&rt.quiet(&["pause", id]), "pause");
        assert_eq!(rt.state(id)["status"], "paused", "{:?}", rt.bin);
    }
    let events = std::fs::read_to_string(cg.join("cgroup.events")).unwrap();
    assert!(events.contains("frozen 1"), "{events}");
    // Pausing twice is an error for both.
    for (rt, id) in both {
        assert!(!rt.quiet(&["pause", id]).status.success(), "{:?}", rt.bin);
    }
    for (rt, id) in both {
        ok(&rt.quiet(&["resume", id]), "resume");
        assert_eq!(rt.state(id)["status"], "running", "{:?}", rt.bin);
    }
    let events = std::fs::read_to_string(cg.join("cgroup.events")).unwrap();
    assert!(events.contains("frozen 0"), "{events}");
    let again = ours.quiet(&["resume", &ids[0]]);
    assert!(stderr(&again).contains("not paused"), "{}", stderr(&again));
    for (rt, id) in both {
        ok(&rt.quiet(&["kill", id, "KILL"]), "kill");
        rt.wait_status(id, "stopped");
        ok(&rt.quiet(&["delete", id]), "delete");
    }
    assert!(!cg.exists(), "cgroup left");
}

fn procs(cg: &Path) -> usize {
    std::fs::read_to_string(cg.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .count()
}

#[test]
fn kill_all_signals_every_process_of_the_cgroup() {
    linception_testkit::require_root!("a container with a cgroup");
    if !needs() {
        return;
    }
    // runc's kill --all on this host walks the cgroup v1 freezer's tasks; the
    // count seen in the cgroup is what matters here, so ours only.
    let bundle = sleeper(|_| {});
    let id = format!("lc-killall-{}", std::process::id());
    let ours = Runtime::ours();
    ok(&ours.create(&bundle, &id), "create");
    ok(&ours.quiet(&["start", &id]), "start");
    let cg = mount().join(&id);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while procs(&cg) < 2 {
        assert!(std::time::Instant::now() < deadline, "two processes");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // TERM: the background sleep dies; the init (pid 1 of its namespace, no
    // handler) ignores it.
    ok(
        &ours.quiet(&["kill", "--all", &id, "TERM"]),
        "kill --all TERM",
    );
    while procs(&cg) != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "TERM reached the sleep"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(ours.state(&id)["status"], "running");
    ok(
        &ours.quiet(&["kill", "--all", &id, "KILL"]),
        "kill --all KILL",
    );
    ours.wait_status(&id, "stopped");
    ok(&ours.quiet(&["delete", &id]), "delete");
    assert!(!cg.exists(), "cgroup left");
}

#[test]
fn hugepage_limits_and_update_on_the_hosts_cgroup2() {
    linception_testkit::require_root!("a container with a cgroup");
    if !needs() {
        return;
    }
    let offers = linception::features::cgroup2().unwrap().controllers;
    if !offers.iter().any(|c| c == "hugetlb") {
        linception_testkit::require!(linception_testkit::Feature::CloneIntoCgroup);
        println!("SKIP: no hugetlb controller on this host's cgroup2 (the host's layout)");
        return;
    }
    // runc puts hugetlb on cgroup v1 on this hybrid host (no hugetlb hierarchy is
    // mounted there), so there is nothing to compare with: the kernel's files are.
    let _restore = SubtreeGuard::take();
    let top = format!("lc-oci-huge-{}", std::process::id());
    let bundle = sleeper(|c| {
        c["linux"]["cgroupsPath"] = json!(format!("/{top}/pod/ctr"));
        c["linux"]["resources"]["hugepageLimits"] = json!([{"pageSize": "2MB", "limit": 4 << 20}]);
    });
    let id = format!("lc-huge-{}", std::process::id());
    let ours = Runtime::ours();
    ok(&ours.create(&bundle, &id), "create");
    let cg = mount().join(&top).join("pod/ctr");
    let read = |f: &str| {
        std::fs::read_to_string(cg.join(f))
            .unwrap()
            .trim()
            .to_owned()
    };
    assert_eq!(read("hugetlb.2MB.max"), (4u64 << 20).to_string());
    ok(&ours.quiet(&["start", &id]), "start");
    // --resources from stdin.
    let mut child = ours
        .cmd()
        .args(["update", "--resources", "-", &id])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"hugepageLimits":[{"pageSize":"2MB","limit":2097152}]}"#)
        .unwrap();
    ok(&child.wait_with_output().unwrap(), "update --resources -");
    assert_eq!(read("hugetlb.2MB.max"), "2097152");
    // A flag whose controller this cgroup lacks is named, and nothing changes.
    let refused = ours.quiet(&["update", "--memory", "64m", &id]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("--memory: no memory controller in this cgroup (cgroup2 offers:"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(read("hugetlb.2MB.max"), "2097152");
    let bad = ours.quiet(&["update", "--pids-limit", "many", &id]);
    assert!(stderr(&bad).contains("--pids-limit"), "{}", stderr(&bad));
    ok(&ours.quiet(&["kill", &id, "KILL"]), "kill");
    ours.wait_status(&id, "stopped");
    ok(&ours.quiet(&["delete", &id]), "delete");
    assert!(!cg.exists(), "cgroup left");
    // The parents stay, as with runc: the test removes them.
    assert!(mount().join(&top).join("pod").exists());
    std::fs::remove_dir(mount().join(&top).join("pod")).unwrap();
    std::fs::remove_dir(mount().join(&top)).unwrap();
}

/// Every cgroup, state directory and process is as before the command.
fn assert_refused(rt: &Runtime, bundle: &Bundle, id: &str, field: &str, reason: &str) {
    let before: Vec<_> = std::fs::read_dir(mount())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let out = rt.create(bundle, id);
    assert!(!out.status.success(), "{field}: accepted");
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{field}: {reason}")),
        "{field}: {err}"
    );
    assert!(!rt.root.0.join(id).exists(), "{field}: state dir left");
    let after: Vec<_> = std::fs::read_dir(mount())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let new: Vec<_> = after.iter().filter(|n| !before.contains(n)).collect();
    assert!(
        new.iter().all(|n| !n.to_string_lossy().contains(id)),
        "{field}: cgroup left: {new:?}"
    );
    assert!(!process_with(id), "{field}: process left");
}

#[test]
fn resources_cgroup_v2_lacks_are_refused_by_field() {
    linception_testkit::require_root!("a cgroup on the host's cgroup2");
    if !needs() {
        return;
    }
    let offers = linception::features::cgroup2().unwrap().controllers;
    let rt = Runtime::ours();
    let cases: [(&str, serde_json::Value, &str, &str); 6] = [
        (
            "memory",
            json!({"memory": {"limit": 1 << 26}}),
            "linux.resources.memory.limit",
            "memory",
        ),
        (
            "pids",
            json!({"pids": {"limit": 10}}),
            "linux.resources.pids.limit",
            "pids",
        ),
        (
            "cpu",
            json!({"cpu": {"quota": 50000, "period": 100000}}),
            "linux.resources.cpu.quota",
            "cpu",
        ),
        (
            "cpuset",
            json!({"cpu": {"cpus": "0"}}),
            "linux.resources.cpu.cpus",
            "cpuset",
        ),
        (
            "io",
            json!({"blockIO": {"weight": 500}}),
            "linux.resources.blockIO.weight",
            "io",
        ),
        (
            "unified",
            json!({"unified": {"memory.high": "max"}}),
            "linux.resources.unified[\"memory.high\"]",
            "memory",
        ),
    ];
    let mut tried = 0;
    for (n, (what, res, field, controller)) in cases.into_iter().enumerate() {
        if offers.iter().any(|c| c == controller) {
            println!("SKIP: {what}: this host's cgroup2 has the {controller} controller");
            continue;
        }
        let bundle = sleeper(|c| c["linux"]["resources"] = res);
        let id = format!("lc-refuse-{}-{n}", std::process::id());
        let reason = format!(
            "no {controller} controller in this cgroup (cgroup2 offers: {})",
            if offers.is_empty() {
                "none".to_owned()
            } else {
                offers.join(", ")
            }
        );
        assert_refused(&rt, &bundle, &id, field, &reason);
        tried += 1;
    }
    // Fields cgroup v2 has no file for, and bad values.
    let bad: [(serde_json::Value, &str, &str); 5] = [
        (
            json!({"memory": {"kernel": 1}}),
            "linux.resources.memory.kernel",
            "kernel memory",
        ),
        (
            json!({"network": {"classID": 1}}),
            "linux.resources.network",
            "net_cls",
        ),
        (
            json!({"devices": [{"allow": true, "type": "c", "major": 1, "access": "rwx"}]}),
            "linux.resources.devices[0].access",
            "",
        ),
        (
            json!({"hugepageLimits": [{"pageSize": "3XB", "limit": 1}]}),
            "linux.resources.hugepageLimits[0].pageSize",
            "",
        ),
        (
            json!({"devices": [{"allow": true, "type": "a", "major": 1, "access": "r"}]}),
            "linux.resources.devices[0].type",
            "type a",
        ),
    ];
    for (n, (res, field, reason)) in bad.into_iter().enumerate() {
        let bundle = sleeper(|c| c["linux"]["resources"] = res);
        let id = format!("lc-bad-{}-{n}", std::process::id());
        assert_refused(&rt, &bundle, &id, field, reason);
        tried += 1;
    }
    let bundle = sleeper(|c| c["linux"]["cgroupsPath"] = json!("/a/../../b"));
    assert_refused(
        &rt,
        &bundle,
        &format!("lc-dots-{}", std::process::id()),
        "linux.cgroupsPath",
        "",
    );
    assert!(tried >= 5);
}

/// Rootless podman's shape: the runtime runs as root of a user namespace of its
/// own (mapped to one unprivileged id), and the config has no user namespace (the
/// container shares the runtime's) and the default spec's device rules. No cgroup
/// can be made there and no device program loaded: the rules go unenforced with a
/// warning, as runc skips them, and the kernel still refuses a device node.
#[test]
fn device_rules_outside_the_initial_user_namespace_are_not_enforced() {
    linception_testkit::require!(linception_testkit::Feature::UnprivilegedUserNs);
    if !needs() {
        return;
    }
    let bundle = Bundle::new(true, |c| {
        script(
            c,
            "grep -c . /proc/self/uid_map; mkdir /dev/lc-dir && mknod /dev/lc-null c 1 3 2>&1; echo $?; \
             grep ' /sys/fs/cgroup ' /proc/self/mountinfo | cut -d' ' -f6,9; \
             test -r /sys/fs/cgroup/cgroup.controllers && echo readable",
        );
        // podman's cgroup mount: the container shares the runtime's cgroup
        // namespace, which this runtime may not mount: a read-only bind instead.
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]
        }));
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "user");
        let linux = c["linux"].as_object_mut().unwrap();
        linux.remove("uidMappings");
        linux.remove("gidMappings");
        linux.insert(
            "resources".into(),
            json!({"devices": [{"allow": false, "access": "rwm"}]}),
        );
    });
    std::fs::create_dir_all(bundle.path().join("rootfs/sys/fs/cgroup")).unwrap();
    let state = TempDir::new("nested-state");
    let id = format!("lc-nested-{}", std::process::id());
    let mut c = std::process::Command::new("unshare");
    if is_root() {
        // As uid 65534, so that the namespace maps no id the host's cgroup files
        // belong to.
        std::os::unix::fs::chown(&state.0, Some(65534), Some(65534)).unwrap();
        c = std::process::Command::new("setpriv");
        c.args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            "unshare",
        ]);
    }
    c.args(["--user", "--map-root-user"])
        .arg(ours_bin())
        .arg("--root")
        .arg(&state.0)
        .args(["run", "--bundle"])
        .arg(bundle.path())
        .arg(&id)
        .stdin(Stdio::null());
    let out = c.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // One line of uid map: the container is in the runtime's user namespace.
    assert_eq!(
        stdout(&out),
        "1\nmknod: /dev/lc-null: Operation not permitted\n1\nro,nosuid,nodev,noexec,relatime cgroup2\nreadable\n",
        "{}",
        stderr(&out)
    );
    let warned = std::str::from_utf8(&out.stderr)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("linception-oci: warning: linux.resources.devices: not enforced"))
        .count();
    assert_eq!(warned, 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("type \"cgroup\": bound from the runtime's cgroup2 mount"),
        "{}",
        stderr(&out)
    );
    assert!(!mount().join(&id).exists(), "a cgroup was made");
    assert!(!state.0.join(&id).exists(), "state dir left");
}

#[test]
fn rootless_without_a_delegated_cgroup_runs_without_one() {
    linception_testkit::require!(linception_testkit::Feature::UnprivilegedUserNs);
    if !needs() {
        return;
    }
    // As runc --rootless: no cgroup of its own when none may be made and no
    // resources are asked; asking for one is refused by field. Run as uid 65534
    // when the test is root (as the unprivileged caller otherwise).
    let bundle = Bundle::new(true, |c| script(c, "cat /proc/self/cgroup | grep '^0::'"));
    let state = TempDir::new("rootless-state");
    use std::os::unix::process::CommandExt;
    let run = |bundle: &Bundle, id: &str| {
        let mut c = std::process::Command::new(ours_bin());
        c.arg("--root")
            .arg(&state.0)
            .args(["run", "--bundle"])
            .arg(bundle.path())
            .arg(id)
            .stdin(Stdio::null());
        if is_root() {
            std::os::unix::fs::chown(&state.0, Some(65534), Some(65534)).unwrap();
            c.uid(65534).gid(65534);
        }
        c.output().unwrap()
    };
    if is_root() {
        // The bundle's maps name the caller: remap to 65534.
        let path = bundle.path().join("config.json");
        let mut cfg: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        cfg["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 65534, "size": 1}]);
        cfg["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 65534, "size": 1}]);
        std::fs::write(&path, cfg.to_string()).unwrap();
    }
    let id = format!("lc-rootless-{}", std::process::id());
    let out = run(&bundle, &id);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!mount().join(&id).exists());
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    let path = bundle.path().join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();

    // Device rules alone (rootless podman's config has the default spec's deny-all
    // and its allow list): no cgroup, so no device program, said by a warning; the
    // kernel keeps the container from making a device node all the same.
    cfg["linux"]["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
    cfg["process"]["args"] = json!([
        "/bin/sh",
        "-c",
        "mkdir /dev/lc-dir && mknod /dev/lc-null c 1 3 2>&1; echo $?"
    ]);
    std::fs::write(&path, cfg.to_string()).unwrap();
    let out = run(&bundle, &id);
    assert!(out.status.success(), "{}", stderr(&out));
    // /dev is the container's own tmpfs (the mkdir works); mknod needs CAP_MKNOD
    // in the initial user namespace.
    assert_eq!(
        stdout(&out),
        "mknod: /dev/lc-null: Operation not permitted\n1\n",
        "{}",
        stderr(&out)
    );
    assert!(!mount().join(&id).exists());
    let warned: Vec<&str> = std::str::from_utf8(&out.stderr)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("linception-oci: warning: linux.resources.devices: not enforced"))
        .collect();
    assert_eq!(warned.len(), 1, "{}", stderr(&out));
    assert!(!state.0.join(&id).exists(), "state dir left");

    cfg["linux"]["resources"] = json!({"pids": {"limit": 10}});
    std::fs::write(&path, cfg.to_string()).unwrap();
    let out = run(&bundle, &id);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("linux.resources.pids.limit: "),
        "{}",
        stderr(&out)
    );
    assert!(!state.0.join(&id).exists(), "state dir left");
}
