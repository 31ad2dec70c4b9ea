//! The process knobs of a config (personality, time offsets, scheduler, I/O
//! priority, exec CPU affinity, console size) and `run --detach`, through
//! linception-oci and through runc on the same bundle.
//!
//! The reference runc here is Debian's 1.1.5 (runtime-spec 1.0.2): it predates
//! `linux.personality`, `linux.timeOffsets`, `process.scheduler`,
//! `process.ioPriority` and `process.execCPUAffinity` and ignores them (its JSON
//! decoder drops unknown fields), so for those the kernel's view from inside is the
//! reference, and runc's output is shown next to ours without being required to
//! agree. `process.consoleSize` and `run --detach` runc has: there the two must
//! agree.

mod common;

use std::io::Read;
use std::process::Stdio;

use common::*;
use serde_json::{Value, json};

fn needs_busybox() -> bool {
    need("busybox-static", "/bin/busybox")
}

/// Runs the bundle through both runtimes: (ours, runc's output if runc is there).
fn both(bundle: &Bundle, base: &str) -> (std::process::Output, Option<std::process::Output>) {
    let id = unique_id(base);
    let ours = Runtime::ours().run(bundle, &id);
    let runc = std::path::Path::new("/usr/sbin/runc")
        .exists()
        .then(|| Runtime::runc().run(bundle, &id));
    (ours, runc)
}

/// Prints runc's answer next to ours where runc may not know the field.
fn show_runc(what: &str, ours: &str, runc: &Option<std::process::Output>) {
    if let Some(r) = runc {
        let r_out = stdout(r);
        if r_out == ours {
            println!("{what}: runc agrees");
        } else {
            println!(
                "{what}: runc differs (it predates the field): {r_out:?} {}",
                stderr(r)
            );
        }
    }
}

/// (nice, policy) from `/proc/self/stat` (fields 19 and 41).
fn nice_and_policy(stat: &str) -> (i64, u64) {
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    (f[19 - 3].parse().unwrap(), f[41 - 3].parse().unwrap())
}

fn personality_and_scheduling(rootless: bool) {
    if !needs_busybox() {
        return;
    }
    let bundle = Bundle::new(rootless, |c| {
        script(
            c,
            "cat /proc/self/personality; uname -m; ionice; exec cat /proc/self/stat",
        );
        c["linux"]["personality"] = json!({"domain": "LINUX32", "flags": ["ADDR_NO_RANDOMIZE"]});
        c["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 6});
        c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 5});
    });
    let (ours, runc) = both(&bundle, "knobs");
    assert!(ours.status.success(), "ours: {}", stderr(&ours));
    let out = stdout(&ours);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "00040008", "{out}");
    if cfg!(target_arch = "x86_64") {
        assert_eq!(lines[1], "i686", "{out}");
    }
    // busybox ionice: "best-effort: prio 5".
    assert_eq!(lines[2], "best-effort: prio 5", "{out}");
    assert_eq!(nice_and_policy(lines[3]), (6, 3), "{out}");
    show_runc("personality, scheduler, ioPriority", &out, &runc);
}

#[test]
fn personality_scheduler_and_io_priority_as_root() {
    if !is_root() {
        eprintln!("SKIP: needs root (a container without a user namespace)");
        return;
    }
    personality_and_scheduling(false);
}

#[test]
fn personality_scheduler_and_io_priority_rootless() {
    personality_and_scheduling(true);
}

#[test]
fn a_real_time_scheduler_without_a_user_namespace_as_root() {
    if !is_root() || !needs_busybox() {
        eprintln!("SKIP: needs root (SCHED_FIFO needs CAP_SYS_NICE)");
        return;
    }
    let bundle = Bundle::new(false, |c| {
        script(c, "exec cat /proc/self/stat");
        c["process"]["scheduler"] = json!({"policy": "SCHED_FIFO", "priority": 7});
    });
    let (ours, runc) = both(&bundle, "fifo");
    assert!(ours.status.success(), "ours: {}", stderr(&ours));
    let out = stdout(&ours);
    assert_eq!(nice_and_policy(&out).1, 1, "{out}");
    show_runc("SCHED_FIFO", &out, &runc);
    // In a user namespace the kernel would refuse it: named before anything runs.
    let bundle = Bundle::new(true, |c| {
        script(c, "exec cat /proc/self/stat");
        c["process"]["scheduler"] = json!({"policy": "SCHED_FIFO", "priority": 7});
    });
    let rt = Runtime::ours();
    let id = unique_id("fifo-userns");
    let out = rt.run(&bundle, &id);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(
        e.contains("SCHED_FIFO priority 7") && e.contains("CAP_SYS_NICE"),
        "{e}"
    );
    assert!(!rt.root.0.join(&id).exists(), "a state directory is left");
}

#[test]
fn time_offsets_in_a_time_namespace() {
    if !needs_busybox() {
        return;
    }
    let bundle = Bundle::new(!is_root(), |c| {
        script(c, "cat /proc/self/timens_offsets; cut -d. -f1 /proc/uptime");
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "time"}));
        c["linux"]["timeOffsets"] = json!({
            "monotonic": {"secs": 3600, "nanosecs": 5},
            "boottime": {"secs": 864000}
        });
    });
    let (ours, runc) = both(&bundle, "timens");
    assert!(ours.status.success(), "ours: {}", stderr(&ours));
    let out = stdout(&ours);
    let lines: Vec<&str> = out.lines().collect();
    let words = |l: &str| l.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(words(lines[0]), "monotonic 3600 5", "{out}");
    assert_eq!(words(lines[1]), "boottime 864000 0", "{out}");
    let uptime: u64 = lines[2].parse().unwrap();
    assert!(uptime >= 864000, "{out}");
    show_runc("timeOffsets", &out, &runc);
}

#[test]
fn bad_knobs_are_named_and_leave_nothing_behind() {
    if !needs_busybox() {
        return;
    }
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"process": {"scheduler": {"policy": "SCHED_DEADLINE", "runtime": 2000000, "deadline": 1000000, "period": 3000000}}}),
            "process.scheduler: invalid scheduler SCHED_DEADLINE runtime 2000000 deadline 1000000 period 3000000: SCHED_DEADLINE needs runtime <= deadline <= period",
        ),
        (
            json!({"process": {"ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 12}}}),
            "process.ioPriority.priority: 12 is not 0 (highest) to 7",
        ),
        (
            json!({"process": {"consoleSize": {"height": 10, "width": 10}}}),
            "process.consoleSize: is the size of the container's terminal: needs process.terminal",
        ),
        (
            json!({"linux": {"timeOffsets": {"boottime": {"secs": 1}}}}),
            "linux.timeOffsets: needs a new time namespace (linux.namespaces: time)",
        ),
        (
            json!({"linux": {"personality": {"domain": "LINUX", "flags": ["NOPE"]}}}),
            "linux.personality.flags[0]: unknown \"NOPE\"",
        ),
    ];
    for (patch, want) in cases {
        let bundle = Bundle::new(!is_root(), |c| {
            for (section, fields) in patch.as_object().unwrap() {
                for (k, v) in fields.as_object().unwrap() {
                    c[section][k] = v.clone();
                }
            }
        });
        let rt = Runtime::ours();
        let id = unique_id("badknob");
        let out = rt.create(&bundle, &id);
        assert!(!out.status.success(), "{want}: accepted");
        assert!(stderr(&out).contains(want), "{want}: {}", stderr(&out));
        assert!(
            !rt.root.0.join(&id).exists(),
            "{want}: a state directory is left"
        );
        assert!(!process_with(&id), "{want}: a process is left");
    }
}

/// Runs the bundle (`process.terminal`, `consoleSize`) detached with
/// `--console-socket` (runc takes a console socket only when detached), reading
/// what the terminal shows until it closes; then deletes the container.
fn console_output(rt: &Runtime, bundle: &Bundle, id: &str) -> String {
    let sock = rt.root.0.join(format!("{id}.sock"));
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let st = rt
        .cmd()
        .args(["run", "-d", "--console-socket"])
        .arg(&sock)
        .arg("--bundle")
        .arg(bundle.path())
        .arg(id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(rt.root.0.join(format!("{id}.err"))).unwrap())
        .status()
        .unwrap();
    let err = std::fs::read_to_string(rt.root.0.join(format!("{id}.err"))).unwrap();
    assert!(st.success(), "{} run -d: {err}", rt.bin.display());
    // The runtime connected before it returned: the connection is queued.
    let (conn, _) = listener.accept().unwrap();
    let master = linception::seccomp_notify::recv_fd(&conn).unwrap();
    let mut m = std::fs::File::from(master);
    let mut out = Vec::new();
    let mut buf = [0u8; 256];
    while let Ok(n) = m.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    rt.wait_status(id, "stopped");
    assert!(rt.quiet(&["delete", id]).status.success());
    String::from_utf8_lossy(&out).replace('\r', "")
}

#[test]
fn console_size_as_runc() {
    if !needs_busybox() || !need("runc", "/usr/sbin/runc") {
        return;
    }
    let bundle = Bundle::new(!is_root(), |c| {
        script(c, "stty size");
        c["process"]["terminal"] = json!(true);
        c["process"]["consoleSize"] = json!({"height": 41, "width": 132});
        // runc mounts only what the config lists: the terminal needs a devpts.
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/dev/pts", "type": "devpts", "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]
        }));
    });
    let ours = console_output(&Runtime::ours(), &bundle, &unique_id("tty"));
    let runc = console_output(&Runtime::runc(), &bundle, &unique_id("tty"));
    assert_eq!(ours, "41 132\n");
    assert_eq!(ours, runc);
}

/// `run -d`: the command returns at once (exit 0), the container runs; then kill
/// and delete. Returns the statuses `state` gave.
fn run_detached(rt: &Runtime, bundle: &Bundle, id: &str) -> Vec<String> {
    let out = rt
        .cmd()
        .args(["run", "-d", "--bundle"])
        .arg(bundle.path())
        .arg(id)
        // The container inherits the stdio: a pipe would stay open while it runs.
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(out.success(), "run -d failed");
    let mut seen = vec![rt.state(id)["status"].as_str().unwrap().to_owned()];
    assert!(rt.quiet(&["kill", id, "KILL"]).status.success());
    seen.push(
        rt.wait_status(id, "stopped")["status"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    let del = rt.quiet(&["delete", id]);
    assert!(del.status.success(), "delete: {}", stderr(&del));
    assert!(!rt.quiet(&["state", id]).status.success());
    seen
}

#[test]
fn run_detached_as_runc() {
    if !needs_busybox() || !need("runc", "/usr/sbin/runc") {
        return;
    }
    let bundle = Bundle::new(!is_root(), |c| script(c, "exec sleep 100"));
    let ours = run_detached(&Runtime::ours(), &bundle, &unique_id("detach"));
    let runc = run_detached(&Runtime::runc(), &bundle, &unique_id("detach"));
    assert_eq!(ours, ["running", "stopped"]);
    assert_eq!(ours, runc);
    // create has no --detach (runc's has none either).
    let rt = Runtime::ours();
    let out = rt.quiet(&[
        "create",
        "-d",
        "--bundle",
        bundle.path().to_str().unwrap(),
        "x",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("create --detach"), "{}", stderr(&out));
}

/// An exec'd process with `execCPUAffinity` (final CPU 1, initial CPU 0) reports
/// its `Cpus_allowed_list`.
fn exec_affinity(rt: &Runtime, bundle: &Bundle, id: &str) -> String {
    let up = rt
        .cmd()
        .args(["run", "-d", "--bundle"])
        .arg(bundle.path())
        .arg(id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(up.success(), "run -d failed");
    let process = rt.root.0.join(format!("{id}.process.json"));
    let doc = json!({
        "args": ["/bin/grep", "Cpus_allowed_list", "/proc/self/status"],
        "env": ["PATH=/bin"],
        "cwd": "/",
        "user": {"uid": 0, "gid": 0},
        "execCPUAffinity": {"initial": "0", "final": "1"}
    });
    std::fs::write(&process, doc.to_string()).unwrap();
    let out = rt
        .cmd()
        .args(["exec", "--process"])
        .arg(&process)
        .arg(id)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let _ = rt.quiet(&["delete", "--force", id]);
    assert!(out.status.success(), "exec: {}", stderr(&out));
    stdout(&out)
}

#[test]
fn exec_cpu_affinity() {
    if !needs_busybox() {
        return;
    }
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    if linception::CpuList::parse(online.trim())
        .unwrap()
        .cpus()
        .len()
        < 2
    {
        eprintln!("SKIP: needs two online CPUs (online: {})", online.trim());
        assert!(
            !linception_testkit::require_all(),
            "LINCEPTION_REQUIRE_ALL=1"
        );
        return;
    }
    let bundle = Bundle::new(!is_root(), |c| script(c, "exec sleep 100"));
    let ours = exec_affinity(&Runtime::ours(), &bundle, &unique_id("aff"));
    assert_eq!(ours, "Cpus_allowed_list:\t1\n");
    if std::path::Path::new("/usr/sbin/runc").exists() {
        let runc = exec_affinity(&Runtime::runc(), &bundle, &unique_id("aff"));
        println!("execCPUAffinity: runc reports {runc:?} (it predates the field)");
    }
}
