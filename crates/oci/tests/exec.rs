//! `exec` and `ps` of the binary, each a separate process, on running busybox
//! containers; the same through runc where it is installed, compared. As root the
//! bundles have no user namespace; started by another user they are rootless.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

/// A running container of `rt` whose init sleeps.
fn running(rt: &Runtime, id: &str) -> Bundle {
    let bundle = Bundle::new(false, |c| script(c, "exec sleep 1000"));
    let out = rt.create(&bundle, id);
    assert!(out.status.success(), "create: {}", stderr(&out));
    let out = rt.quiet(&["start", id]);
    assert!(out.status.success(), "start: {}", stderr(&out));
    rt.wait_status(id, "running");
    bundle
}

/// What an exec reports from inside: hostname, uid, whether pid 1 is the init,
/// the cwd and an env variable; and the exit code.
fn exec_report(rt: &Runtime, id: &str) -> (Option<i32>, String) {
    let out = rt
        .cmd()
        .args([
            "exec",
            "-e",
            "X=from-exec",
            "--cwd",
            "/tmp",
            id,
            "sh",
            "-c",
            "echo $(hostname) $(id -u) $(cat /proc/1/comm) $(pwd) $X; exit 3",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (out.status.code(), stdout(&out))
}

#[test]
fn exec_runs_in_the_container_and_passes_the_exit_code_as_runc() {
    if !need("busybox-static", "/bin/busybox") {
        return;
    }
    let rt = Runtime::ours();
    let _b = running(&rt, "ex1");
    let ours = exec_report(&rt, "ex1");
    assert_eq!(ours.0, Some(3), "{}", ours.1);
    assert_eq!(ours.1, "linception 0 sleep /tmp from-exec\n");
    // A signal: 128 + N, as run.
    let out = rt
        .cmd()
        .args(["exec", "ex1", "sh", "-c", "kill -9 $$"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));
    // The same through runc (root only: runc's rootless mode needs its own setup).
    if is_root() && need("runc", "/usr/sbin/runc") {
        let runc = Runtime::runc();
        let _b = running(&runc, "ex1");
        assert_eq!(exec_report(&runc, "ex1"), ours);
        let k = runc.quiet(&["kill", "ex1", "KILL"]);
        assert!(k.status.success());
    }
    assert!(rt.quiet(&["kill", "ex1", "KILL"]).status.success());
}

#[test]
fn exec_detached_with_a_process_file_as_the_shim_calls_it_and_ps_lists_it() {
    if !need("busybox-static", "/bin/busybox") {
        return;
    }
    let rt = Runtime::ours();
    let bundle = running(&rt, "ex2");
    let marker = format!("sleep 9{}", std::process::id());
    // What containerd's shim writes: the container's process with other args.
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.path().join("config.json")).unwrap())
            .unwrap();
    let mut process = cfg["process"].clone();
    process["args"] = serde_json::json!(["sh", "-c", format!("exec {marker}")]);
    let file = rt.root.0.join("process.json");
    std::fs::write(&file, process.to_string()).unwrap();
    let pid_file = rt.root.0.join("exec.pid");
    let st = rt
        .cmd()
        .args(["exec", "--process"])
        .arg(&file)
        .args(["--detach", "--pid-file"])
        .arg(&pid_file)
        .arg("ex2")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The exec is seen when its close-on-exec fds close, inside execve and before
    // the kernel has set up the new program's arguments: cmdline reads empty for
    // that moment, so it is read again for a while.
    let mut cmdline = Vec::new();
    for _ in 0..200 {
        cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if !cmdline.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        String::from_utf8_lossy(&cmdline).contains(&marker[6..]),
        "pid {pid} is not the exec'd process: {cmdline:?}"
    );
    // ps --format json: the init and the exec'd process, host pids.
    let init = rt.state("ex2")["pid"].as_i64().unwrap() as i32;
    let out = rt.quiet(&["ps", "--format", "json", "ex2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pids: Vec<i32> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(pids.contains(&init) && pids.contains(&pid), "{pids:?}");
    assert_eq!(pids.len(), 2, "{pids:?}");
    // The table: ps's header and the container's rows only.
    let out = rt.quiet(&["ps", "ex2", "-o", "pid,args"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(rows[0].contains("PID"), "{text}");
    assert!(text.contains(&marker), "{text}");
    // Killing the container ends the exec'd process too (its pid namespace).
    assert!(rt.quiet(&["kill", "ex2", "KILL"]).status.success());
    rt.wait_status("ex2", "stopped");
    for _ in 0..500 {
        if !process_with(&marker) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        !process_with(&marker),
        "the exec'd process outlived its container"
    );
}

#[test]
fn exec_needs_a_running_container_and_names_bad_input() {
    if !need("busybox-static", "/bin/busybox") {
        return;
    }
    let rt = Runtime::ours();
    let bundle = Bundle::new(false, |c| script(c, "exec sleep 1000"));
    let out = rt.create(&bundle, "ex3");
    assert!(out.status.success(), "create: {}", stderr(&out));
    // As runc: a bad command line exits with 1, a failure past it with 255.
    let cases: [(&[&str], &str, i32); 6] = [
        (&["exec", "ex3", "true"], "is created, not running", 255),
        (&["exec", "nothere", "true"], "does not exist", 255),
        (&["exec", "ex3"], "needs a command", 255),
        (&["exec", "-u", "root", "ex3", "true"], "--user root", 255),
        (
            &["exec", "--preserve-fds", "x", "ex3", "true"],
            "--preserve-fds x: not a number",
            1,
        ),
        (
            &["exec", "--frob", "ex3", "true"],
            "unknown option --frob",
            1,
        ),
    ];
    // runc gives the same codes where no container of its own is needed.
    if need("runc", "/usr/sbin/runc") {
        let runc = Runtime::runc();
        for (args, code) in [
            (&["exec", "nothere", "true"][..], 255),
            (&["exec", "--preserve-fds", "x", "nothere", "true"], 1),
            (&["exec", "--frob", "nothere", "true"], 1),
        ] {
            assert_eq!(runc.quiet(args).status.code(), Some(code), "runc {args:?}");
        }
    }
    for (args, want, code) in cases {
        let out = rt.quiet(args);
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.starts_with("linception-oci: ") && err.contains(want),
            "{args:?}: {err}"
        );
    }
    // A process field exec cannot honour is named.
    let file = rt.root.0.join("p.json");
    std::fs::write(
        &file,
        r#"{"args":["true"],"cwd":"/","user":{"uid":0,"gid":0},"oomScoreAdj":5000}"#,
    )
    .unwrap();
    assert!(rt.quiet(&["start", "ex3"]).status.success());
    rt.wait_status("ex3", "running");
    let out = rt
        .cmd()
        .args(["exec", "--process"])
        .arg(&file)
        .arg("ex3")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(255));
    assert!(
        stderr(&out).starts_with("linception-oci: process.oomScoreAdj"),
        "{}",
        stderr(&out)
    );
    assert!(rt.quiet(&["kill", "ex3", "KILL"]).status.success());
    rt.wait_status("ex3", "stopped");
    let out = rt.quiet(&["exec", "ex3", "true"]);
    assert!(stderr(&out).contains("stopped"), "{}", stderr(&out));
    let out = rt.quiet(&["ps", "ex3"]);
    assert!(stderr(&out).contains("stopped"), "{}", stderr(&out));
}

#[test]
fn exec_with_a_terminal_over_the_console_socket() {
    if !need("busybox-static", "/bin/busybox") {
        return;
    }
    let rt = Runtime::ours();
    let _b = running(&rt, "ex4");
    let sock = rt.root.0.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let st = rt
        .cmd()
        .args(["exec", "-t", "-d", "--console-socket"])
        .arg(&sock)
        .args(["ex4", "sh", "-c", "tty; read -r l; echo got:$l"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let (conn, _) = listener.accept().unwrap();
    let master = linception::seccomp_notify::recv_fd(&conn).unwrap();
    let mut m = std::fs::File::from(master);
    use std::io::{Read, Write};
    m.write_all(b"hi\n").unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 256];
    while let Ok(n) = m.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        if String::from_utf8_lossy(&out).contains("got:hi") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&out).replace('\r', "");
    assert!(text.contains("/dev/pts/"), "{text}");
    assert!(text.contains("got:hi"), "{text}");
    assert!(rt.quiet(&["kill", "ex4", "KILL"]).status.success());
}

/// An exec'd process is bound by the container's seccomp filter, as with runc: a
/// call the config's filter refuses fails in it too.
#[test]
fn an_exec_d_process_gets_the_containers_seccomp_filter() {
    if !need("busybox-static", "/bin/busybox") {
        return;
    }
    let report = |rt: &Runtime, id: &str| {
        let bundle = Bundle::new(false, |c| {
            script(c, "exec sleep 1000");
            c["linux"]["seccomp"] = serde_json::json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
            });
        });
        let out = rt.create(&bundle, id);
        assert!(out.status.success(), "create: {}", stderr(&out));
        assert!(rt.quiet(&["start", id]).status.success());
        rt.wait_status(id, "running");
        let out = rt
            .cmd()
            .args([
                "exec",
                id,
                "sh",
                "-c",
                "mkdir /tmp/x 2>&1; grep Seccomp: /proc/self/status",
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(rt.quiet(&["kill", id, "KILL"]).status.success());
        rt.wait_status(id, "stopped");
        assert!(rt.quiet(&["delete", id]).status.success());
        stdout(&out)
    };
    let ours = report(&Runtime::ours(), &unique_id("exsc"));
    assert!(
        ours.contains("Operation not permitted") && ours.contains("Seccomp:\t2"),
        "{ours}"
    );
    if is_root() && need("runc", "/usr/sbin/runc") {
        assert_eq!(report(&Runtime::runc(), &unique_id("exsc")), ours);
    }
}

/// Whether a security module is active, as linception decides it.
fn lsm_active(apparmor: bool) -> bool {
    let l = linception::features::active_lsms();
    if apparmor { l.apparmor } else { l.selinux }
}

/// `exec --apparmor P`, `--process-label L` and the `apparmorProfile` /
/// `selinuxLabel` of a `--process` file. This host may have neither AppArmor nor
/// SELinux active: then what is checked is the refusal, naming the field and the
/// flag, before anything runs (no process is left, the container's only process
/// is its init). Where the module is active, a profile the kernel does not have
/// fails the exec at the process's own write of its exec attribute (loading a real
/// profile would change the host), and nothing is left either.
#[test]
fn exec_labels_are_passed_through_or_named() {
    if !need("busybox-static", "/bin/busybox") {
        return;
    }
    let rt = Runtime::ours();
    let id = unique_id("exlabel");
    let bundle = running(&rt, &id);
    let marker = format!("sleep 5{}", std::process::id());
    let file = rt.root.0.join("labelled.json");
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.path().join("config.json")).unwrap())
            .unwrap();
    for (apparmor, flag, field, value) in [
        (
            true,
            "--apparmor",
            "apparmorProfile",
            "linception-no-such-profile",
        ),
        (
            false,
            "--process-label",
            "selinuxLabel",
            "linception_no_such_u:r:t:s0",
        ),
    ] {
        let mut process = cfg["process"].clone();
        process["args"] = serde_json::json!(["sh", "-c", format!("exec {marker}")]);
        process[field] = value.into();
        std::fs::write(&file, process.to_string()).unwrap();
        let by_flag = rt
            .cmd()
            .args([
                "exec",
                flag,
                value,
                &id,
                "sh",
                "-c",
                &format!("exec {marker}"),
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let by_file = rt
            .cmd()
            .args(["exec", "--process"])
            .arg(&file)
            .arg(&id)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        for out in [by_flag, by_file] {
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(255), "{flag}: {err}");
            if lsm_active(apparmor) {
                assert!(err.contains("/proc/self/attr/"), "{flag}: {err}");
            } else {
                assert_eq!(
                    err,
                    format!(
                        "linception-oci: process.{field}: \"{value}\" ({flag}): {} is not an \
                         active security module on this system (/sys/kernel/security/lsm)\n",
                        if apparmor { "AppArmor" } else { "SELinux" }
                    )
                );
            }
            assert!(!process_with(&marker), "{flag}: a process is left");
        }
    }
    let ps = rt.quiet(&["ps", "--format", "json", &id]);
    let pids: Vec<i32> = serde_json::from_slice(&ps.stdout).unwrap();
    assert_eq!(pids.len(), 1, "only the init: {pids:?}");
    assert!(rt.quiet(&["kill", &id, "KILL"]).status.success());
    rt.wait_status(&id, "stopped");
    assert!(rt.quiet(&["delete", &id]).status.success());
    // runc refuses (or fails at) the same labels (root only, as above); its exec
    // fails with 255, as ours.
    if is_root() && need("runc", "/usr/sbin/runc") {
        let runc = Runtime::runc();
        let _b = running(&runc, &id);
        for (flag, value) in [
            ("--apparmor", "linception-no-such-profile"),
            ("--process-label", "linception_no_such_u:r:t:s0"),
        ] {
            let out = runc
                .cmd()
                .args([
                    "exec",
                    flag,
                    value,
                    &id,
                    "sh",
                    "-c",
                    &format!("exec {marker}"),
                ])
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert_eq!(
                out.status.code(),
                Some(255),
                "runc {flag}: {}",
                stderr(&out)
            );
            assert!(!process_with(&marker), "runc {flag}: a process is left");
        }
        assert!(runc.quiet(&["kill", &id, "KILL"]).status.success());
        runc.wait_status(&id, "stopped");
        assert!(runc.quiet(&["delete", &id]).status.success());
    }
}

/// The runtime spec's rule for capabilities the runtime cannot grant (warn, leave
/// them out, do not fail) holds for an exec'd process too. The runtime runs under
/// `setpriv --bounding-set -sys_time` (and the host's own bounding set): in a
/// container without a user namespace it cannot grant `CAP_SYS_TIME`, which the
/// process document asks in every set. runc's exec fails in `capset` there.
#[test]
fn exec_leaves_out_the_capabilities_it_cannot_grant() {
    linception_testkit::require_root!("a container without a user namespace");
    if !need("busybox-static", "/bin/busybox") || !need("util-linux", "/usr/bin/setpriv") {
        return;
    }
    let known = linception::features::capabilities();
    let names: Vec<String> = known
        .iter_names()
        .map(|(n, _)| format!("CAP_{n}"))
        .collect();
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let bnd = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .map(|h| u64::from_str_radix(h.trim(), 16).unwrap())
        .unwrap();
    let want = bnd & known.bits() & !linception::CapSet::SYS_TIME.bits();
    let doc = serde_json::json!({
        "args": ["sh", "-c", "grep -E '^Cap(Prm|Eff|Bnd)' /proc/self/status"],
        "cwd": "/",
        "user": {"uid": 0, "gid": 0},
        "capabilities": {
            "bounding": names, "effective": names, "permitted": names,
            "inheritable": names, "ambient": names
        }
    });
    let mut runtimes = vec![Runtime::ours()];
    if need("runc", "/usr/sbin/runc") {
        runtimes.push(Runtime::runc());
    }
    for rt in runtimes {
        let ours = rt.bin == Path::new(ours_bin());
        let id = format!("exec-caps-{}-{}", ours, std::process::id());
        let _bundle = running(&rt, &id);
        let file = rt.root.0.join("caps.json");
        std::fs::write(&file, doc.to_string()).unwrap();
        let out = Command::new("setpriv")
            .args(["--bounding-set", "-sys_time", "--"])
            .arg(&rt.bin)
            .arg("--root")
            .arg(&rt.root.0)
            .args(["exec", "--process"])
            .arg(&file)
            .arg(&id)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = stderr(&out);
        if ours {
            assert!(out.status.success(), "{err}");
            for f in ["CapPrm", "CapEff", "CapBnd"] {
                assert!(
                    stdout(&out).contains(&format!("{f}:\t{want:016x}\n")),
                    "{f}: {}",
                    stdout(&out)
                );
            }
            assert_capability_warnings(&err, &["CAP_SYS_TIME"]);
        } else {
            assert_eq!(
                out.status.code(),
                Some(255),
                "runc ran it: {}",
                stdout(&out)
            );
        }
        assert!(rt.quiet(&["kill", &id, "KILL"]).status.success());
        rt.wait_status(&id, "stopped");
        assert!(rt.quiet(&["delete", &id]).status.success());
    }
}
