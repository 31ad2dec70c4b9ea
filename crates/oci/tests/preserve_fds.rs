//! `--preserve-fds N` of `run`, `create` and `exec`, and systemd's socket
//! activation (`LISTEN_FDS`) of `run` and `create`: the runtime is started by a
//! shell that opens the fds it passes (`exec RUNTIME ... 3<file 4<file`), and the
//! container lists `/proc/self/fd` and reads them. The same through runc, compared.
//! As root with and without a user namespace; started by another user, rootless
//! (runc's `exec` is compared as root only, as in `exec.rs`).

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::*;

/// What the container reports: its fds, what fds 3 and 4 hold, and the socket
/// activation variables.
const REPORT: &str = "ls /proc/self/fd | sort -n | tr '\\n' ' '; echo; \
    cat <&3 2>&1; cat <&4 2>&1; echo LISTEN_FDS=$LISTEN_FDS LISTEN_PID=$LISTEN_PID";

/// The runtime `rt` with `args`, started by a shell that first sets `setup`
/// (redirections and exports, in the shell's words) and then execs it, so the
/// runtime inherits exactly those fds (and no other: every fd of this test
/// program is close-on-exec).
fn with_fds(rt: &Runtime, setup: &str, args: &[&str]) -> Command {
    let mut c = Command::new("/bin/sh");
    c.arg("-c")
        .arg(format!("{setup}; exec \"$@\""))
        .arg("sh")
        .arg(&rt.bin)
        .arg("--root")
        .arg(&rt.root.0)
        .args(args)
        .stdin(Stdio::null());
    c
}

/// Two files whose contents the container prints from fds 3 and 4.
fn files(dir: &Path) -> String {
    std::fs::write(dir.join("a"), "from-a\n").unwrap();
    std::fs::write(dir.join("b"), "from-b\n").unwrap();
    format!(
        "cd {}; exec 3<a 4<b 5<a",
        dir.display().to_string().replace(' ', "\\ ")
    )
}

fn out(o: &Output) -> (Option<i32>, String) {
    (o.status.code(), stdout(o))
}

/// The runtimes to compare: ours always; runc where installed.
fn runtimes() -> Vec<Runtime> {
    let mut v = vec![Runtime::ours()];
    if need("runc", "/usr/sbin/runc") {
        v.push(Runtime::runc());
    }
    v
}

/// The user-namespace modes: both as root, rootless only otherwise.
fn modes() -> Vec<bool> {
    if is_root() {
        vec![false, true]
    } else {
        vec![true]
    }
}

#[test]
fn run_passes_preserved_fds_and_socket_activation_as_runc() {
    if !need("busybox-static", "/bin/busybox") {
        return;
    }
    let dir = TempDir::new("pfds-run");
    let open = files(&dir.0);
    for rootless in modes() {
        let bundle = Bundle::new(rootless, |c| script(c, REPORT));
        let b = bundle.path().to_str().unwrap();
        let mut seen = Vec::new();
        for rt in runtimes() {
            let run = |setup: &str, n: &str| {
                let id = unique_id("pfds");
                out(&with_fds(
                    &rt,
                    setup,
                    &["run", "--preserve-fds", n, "--bundle", b, &id],
                )
                .output()
                .unwrap())
            };
            // fds 3 and 4 preserved; 5 is open in the runtime but not passed.
            let two = run(&open, "2");
            // One by socket activation (3), one preserved after it (4).
            let activated = run(&format!("{open}; export LISTEN_PID=$$ LISTEN_FDS=1"), "1");
            // LISTEN_FDS meant for another process is not this runtime's.
            let other = run(&format!("{open}; export LISTEN_PID=1 LISTEN_FDS=1"), "0");
            seen.push((rt.bin.clone(), [two, activated, other]));
        }
        let [two, activated, other] = &seen[0].1;
        // 0-2, the passed 3 and 4, and ls's own directory fd.
        assert_eq!(
            two,
            &(
                Some(0),
                "0 1 2 3 4 5 \nfrom-a\nfrom-b\nLISTEN_FDS= LISTEN_PID=\n".to_owned()
            ),
            "rootless {rootless}"
        );
        assert_eq!(
            activated,
            &(
                Some(0),
                "0 1 2 3 4 5 \nfrom-a\nfrom-b\nLISTEN_FDS=1 LISTEN_PID=1\n".to_owned()
            ),
            "rootless {rootless}"
        );
        assert_eq!(other.0, Some(0), "rootless {rootless}");
        assert!(
            other.1.starts_with("0 1 2 3 \n") && other.1.ends_with("LISTEN_FDS= LISTEN_PID=\n"),
            "rootless {rootless}: {}",
            other.1
        );
        for (bin, runc) in &seen[1..] {
            assert_eq!(runc, &seen[0].1, "{bin:?}, rootless {rootless}");
        }
    }
}

#[test]
fn create_keeps_preserved_fds_until_the_start_as_runc() {
    if !need("busybox-static", "/bin/busybox") {
        return;
    }
    let dir = TempDir::new("pfds-create");
    let open = files(&dir.0);
    for rootless in modes() {
        let bundle = Bundle::new(rootless, |c| script(c, REPORT));
        let b = bundle.path().to_str().unwrap();
        let mut seen = Vec::new();
        for rt in runtimes() {
            let id = unique_id("pfds-create");
            // The container's stdout and stderr are files (a pipe would stay open
            // as long as the container lives).
            let report = dir.0.join(format!("report-{id}"));
            let errors = dir.0.join(format!("stderr-{id}"));
            let created = with_fds(
                &rt,
                &format!("{open}; export LISTEN_PID=$$ LISTEN_FDS=1"),
                &["create", "--preserve-fds", "1", "--bundle", b, &id],
            )
            .stdout(std::fs::File::create(&report).unwrap())
            .stderr(std::fs::File::create(&errors).unwrap())
            .status()
            .unwrap();
            let errors = std::fs::read_to_string(&errors).unwrap();
            assert!(created.success(), "{:?}: {errors}", rt.bin);
            assert_eq!(rt.state(&id)["status"], "created");
            let started = rt.quiet(&["start", &id]);
            assert!(
                started.status.success(),
                "{:?}: {}",
                rt.bin,
                stderr(&started)
            );
            rt.wait_status(&id, "stopped");
            assert!(rt.quiet(&["delete", &id]).status.success());
            seen.push((rt.bin.clone(), std::fs::read_to_string(&report).unwrap()));
        }
        assert_eq!(
            seen[0].1, "0 1 2 3 4 5 \nfrom-a\nfrom-b\nLISTEN_FDS=1 LISTEN_PID=1\n",
            "rootless {rootless}"
        );
        for (bin, runc) in &seen[1..] {
            assert_eq!(runc, &seen[0].1, "{bin:?}, rootless {rootless}");
        }
    }
}

#[test]
fn exec_passes_preserved_fds_as_runc() {
    if !need("busybox-static", "/bin/busybox") {
        return;
    }
    let dir = TempDir::new("pfds-exec");
    let open = files(&dir.0);
    for rootless in modes() {
        let bundle = Bundle::new(rootless, |c| script(c, "exec sleep 1000"));
        let mut seen = Vec::new();
        for rt in runtimes() {
            if rt.bin != Path::new(ours_bin()) && rootless {
                continue;
            }
            let id = unique_id("pfds-exec");
            assert!(rt.create(&bundle, &id).status.success());
            assert!(rt.quiet(&["start", &id]).status.success());
            rt.wait_status(&id, "running");
            // Socket activation is not exec's (as runc): LISTEN_FDS stays unset.
            let exec = |setup: &str, n: &str| {
                out(&with_fds(
                    &rt,
                    setup,
                    &["exec", "--preserve-fds", n, &id, "sh", "-c", REPORT],
                )
                .output()
                .unwrap())
            };
            let two = exec(&format!("{open}; export LISTEN_PID=$$ LISTEN_FDS=1"), "2");
            let none = exec(&open, "0");
            assert!(rt.quiet(&["kill", &id, "KILL"]).status.success());
            rt.wait_status(&id, "stopped");
            assert!(rt.quiet(&["delete", &id]).status.success());
            seen.push((rt.bin.clone(), (two, none)));
        }
        let (two, none) = &seen[0].1;
        assert_eq!(
            two,
            &(
                Some(0),
                "0 1 2 3 4 5 \nfrom-a\nfrom-b\nLISTEN_FDS= LISTEN_PID=\n".to_owned()
            ),
            "rootless {rootless}"
        );
        assert_eq!(none.0, Some(0));
        assert!(none.1.starts_with("0 1 2 3 \n"), "{}", none.1);
        for (bin, runc) in &seen[1..] {
            assert_eq!(runc, &seen[0].1, "{bin:?}, rootless {rootless}");
        }
    }
}

/// A preserved fd that is not open is named, and nothing is made: no state
/// directory, no container process, no cgroup. Ours checks each fd of the range
/// before anything else opens one; runc 1.1 stats each number after its own start,
/// when its own fds (the Go runtime's) may sit on the missing low numbers, so it is
/// compared on a range far above them (fd 42).
#[test]
fn a_preserved_fd_that_is_not_open_is_named_and_nothing_is_left() {
    if !need("busybox-static", "/bin/busybox") {
        return;
    }
    let dir = TempDir::new("pfds-missing");
    let open = files(&dir.0);
    let marker = format!("sleep 7{}", std::process::id());
    let bundle = Bundle::new(!is_root(), |c| script(c, &format!("exec {marker}")));
    let b = bundle.path().to_str().unwrap();
    // fd 4 closed: the second of two preserved fds is missing.
    let gap = format!("{open}; exec 4<&-");
    let target = Bundle::new(!is_root(), |c| script(c, "exec sleep 1000"));
    for rt in runtimes() {
        let ours = rt.bin == Path::new(ours_bin());
        let running = unique_id("pfds-target");
        let exec_ok = ours || is_root();
        if exec_ok {
            assert!(rt.create(&target, &running).status.success());
            assert!(rt.quiet(&["start", &running]).status.success());
        }
        let mut cases: Vec<(Vec<String>, String)> = Vec::new();
        for cmd in ["run", "create"] {
            let id = unique_id("pfds-missing");
            if ours {
                cases.push((
                    vec![cmd.into(), "--preserve-fds".into(), "2".into()],
                    id.clone(),
                ));
            }
            cases.push((vec![cmd.into(), "--preserve-fds".into(), "40".into()], id));
        }
        for (mut args, id) in cases {
            let n = args[2].clone();
            args.extend(["--bundle".into(), b.into(), id.clone()]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let o = with_fds(&rt, &gap, &args).output().unwrap();
            let who = format!("{:?} {args:?}", rt.bin);
            assert_eq!(o.status.code(), Some(1), "{who}: {}", stderr(&o));
            if ours {
                assert_eq!(
                    stderr(&o),
                    format!(
                        "linception-oci: --preserve-fds {n}: fd 4 (preserved fd 1 of {n}) is \
                         not open in the runtime\n"
                    ),
                    "{who}"
                );
            } else {
                assert!(stderr(&o).contains("preserved-fd"), "{who}: {}", stderr(&o));
            }
            assert!(
                !rt.root.0.join(&id).exists(),
                "{who}: a state directory is left"
            );
            assert!(!process_with(&marker), "{who}: a process is left");
            if let Some(cg) = linception_oci::config::load(bundle.path())
                .ok()
                .and_then(|s| linception_oci::cgroups::path(&s, &id).ok())
            {
                assert!(!cg.exists(), "{who}: cgroup {cg:?} is left");
            }
        }
        if exec_ok {
            for n in ["2", "40"].into_iter().filter(|n| ours || *n == "40") {
                let o = with_fds(
                    &rt,
                    &gap,
                    &[
                        "exec",
                        "--preserve-fds",
                        n,
                        &running,
                        "sh",
                        "-c",
                        &format!("exec {marker}"),
                    ],
                )
                .output()
                .unwrap();
                let who = format!("{:?} exec --preserve-fds {n}", rt.bin);
                // Both runtimes' exec fails with 255 (their own failure, not the
                // process's exit code).
                assert_eq!(o.status.code(), Some(255), "{who}: {}", stderr(&o));
                if ours {
                    assert!(
                        stderr(&o).starts_with(&format!(
                            "linception-oci: --preserve-fds {n}: fd 4 (preserved fd 1 of {n})"
                        )),
                        "{who}: {}",
                        stderr(&o)
                    );
                }
                assert!(!process_with(&marker), "{who}: a process is left");
            }
            // The container is untouched: its only process is its init.
            let ps = rt.quiet(&["ps", "--format", "json", &running]);
            if ours {
                let pids: Vec<i32> = serde_json::from_slice(&ps.stdout).unwrap();
                assert_eq!(pids.len(), 1, "{pids:?}");
            }
            assert!(rt.quiet(&["kill", &running, "KILL"]).status.success());
            rt.wait_status(&running, "stopped");
            assert!(rt.quiet(&["delete", &running]).status.success());
        }
    }
}
