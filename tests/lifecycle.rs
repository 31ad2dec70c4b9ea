//! The OCI lifecycle: create, start (from this process or another), state, wait,
//! destroy, and the hooks at each moment, as root and rootless.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::{TempDir, assert_no_children, sh};
use linception::{ContainerId, ErrorKind, Hook, HookPoint, Mount, State};
use linception_testkit::leaks::assert_no_leaks;
use linception_testkit::{Feature, Fork, require};

/// A temporary directory others can enter (the container's root maps another uid).
fn shared_dir(name: &str) -> TempDir {
    let dir = TempDir::new(name);
    std::fs::set_permissions(&dir.0, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    dir
}

fn socket_in(dir: &Path) -> PathBuf {
    dir.join("start.sock")
}

/// `script` in the usual test container, with `out` bound read-write on /out.
fn with_out(script: &str, out: &Path) -> linception::ContainerBuilder {
    sh(script).mount(Mount::bind(out, "/out"))
}

fn create_then_start_here() {
    let dir = shared_dir("create-here");
    let out = dir.0.join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::set_permissions(&out, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let sock = socket_in(&dir.0);
    let mut c = with_out("touch /out/ran; exit 3", &out)
        .create(&sock)
        .unwrap();
    assert_eq!(c.state(), State::Created);
    assert!(sock.exists(), "the start socket exists while created");
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(
        !out.join("ran").exists(),
        "the program ran before its start"
    );
    let id = c.id().cloned().unwrap();
    assert_eq!(id.pid, c.pid());
    c.start().unwrap();
    assert!(!sock.exists(), "the start socket is gone once started");
    let st = c.wait().unwrap();
    assert_eq!(st.code(), Some(3));
    assert!(out.join("ran").exists());
    assert_eq!(c.state(), State::Stopped);
    let e = c.start().unwrap_err();
    assert_eq!(e.to_string(), "start of a stopped container");
}

#[test]
fn create_then_start_as_root() {
    require!(Feature::Root, Feature::UserNs);
    Fork::new().run(create_then_start_here);
}

#[test]
fn create_then_start_rootless() {
    require!(Feature::UnprivilegedUserNs);
    Fork::new().unprivileged().run(create_then_start_here);
}

/// A created container's init keeps the fds passed to it while it waits for its
/// start (it closes every other fd first), and the program gets them on their
/// numbers: it copies what comes on fd 3 to fd 4, written only after the create.
fn passed_fds_outlive_the_wait_for_the_start() -> String {
    use std::io::{Read, Write};
    let dir = shared_dir("create-fds");
    let sock = socket_in(&dir.0);
    let (r, w) = rustix::pipe::pipe().unwrap();
    let (back_r, back_w) = rustix::pipe::pipe().unwrap();
    let mut c = sh("ls /proc/self/fd | sort -n | tr '\\n' ' ' >&4; cat <&3 >&4")
        .pass_fd(r, 3)
        .pass_fd(back_w, 4)
        .create(&sock)
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut w = std::fs::File::from(w);
    w.write_all(b"after-create").unwrap();
    drop(w);
    c.start().unwrap();
    assert!(c.wait().unwrap().success());
    let mut got = String::new();
    std::fs::File::from(back_r)
        .read_to_string(&mut got)
        .unwrap();
    got
}

#[test]
fn passed_fds_outlive_the_wait_for_the_start_as_root() {
    require!(Feature::Root, Feature::UserNs, Feature::CloseRange);
    let got = Fork::new().run(passed_fds_outlive_the_wait_for_the_start);
    assert_eq!(got, "0 1 2 3 4 5 after-create");
}

#[test]
fn passed_fds_outlive_the_wait_for_the_start_rootless() {
    require!(Feature::UnprivilegedUserNs, Feature::CloseRange);
    let got = Fork::new()
        .unprivileged()
        .run(passed_fds_outlive_the_wait_for_the_start);
    assert_eq!(got, "0 1 2 3 4 5 after-create");
}

/// One process creates and exits; another finds the container by its id, starts it
/// and waits for it (not its child: the status comes through the pidfd). The start
/// socket's path is longer than a unix socket address holds: it is bound and
/// connected to through its directory.
fn start_from_another_process(unprivileged: bool) {
    let dir = shared_dir(if unprivileged {
        "other-rootless"
    } else {
        "other-root"
    });
    let deep = dir.0.join("d".repeat(100));
    std::fs::create_dir(&deep).unwrap();
    std::fs::set_permissions(&deep, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let sock = socket_in(&deep);
    assert!(sock.as_os_str().len() > 107);
    let fork = || {
        if unprivileged {
            Fork::new().unprivileged()
        } else {
            Fork::new()
        }
    };
    let s = sock.clone();
    let id: String = fork().run(move || {
        let c = sh("exit 7").create(&s).unwrap();
        c.detach().unwrap().to_string()
    });
    // The creator has exited: the init waits on, reparented.
    let (state, code) = fork().run(move || {
        let mut c = id.parse::<ContainerId>().unwrap().open().unwrap();
        let state = c.state();
        c.start().unwrap();
        let st = c.wait().unwrap();
        (state.as_str().to_owned(), st.code().unwrap_or(-1))
    });
    assert_eq!(state, "created");
    assert_eq!(code, 7);
    assert!(!sock.exists());
}

#[test]
fn start_from_another_process_as_root() {
    require!(Feature::Root, Feature::UserNs, Feature::PidfdInfoExit);
    start_from_another_process(false);
}

#[test]
fn start_from_another_process_rootless() {
    require!(Feature::UnprivilegedUserNs, Feature::PidfdInfoExit);
    start_from_another_process(true);
}

/// One process creates and starts a container and exits; another finds it by its id
/// and runs a program inside with `exec_in`: it joins the container's namespaces
/// (hostname, pid namespace, root of its user namespace).
fn exec_into_a_container_found_by_id(unprivileged: bool) {
    let dir = shared_dir(if unprivileged {
        "found-exec-rootless"
    } else {
        "found-exec-root"
    });
    let sock = socket_in(&dir.0);
    let fork = || {
        if unprivileged {
            Fork::new().unprivileged()
        } else {
            Fork::new()
        }
    };
    let s = sock.clone();
    let id: String = fork().run(move || {
        let mut c = sh("exec sleep 1000").hostname("found").create(&s).unwrap();
        c.start().unwrap();
        c.detach().unwrap().to_string()
    });
    let (namespaces, out) = fork().run(move || {
        let mut c = id.parse::<ContainerId>().unwrap().open().unwrap();
        let mut e = c
            .exec_in(
                linception::Container::builder("/bin/sh")
                    .args(["-c", "echo $(hostname) $(id -u) $$ $(cat /proc/1/comm)"])
                    .stdout(linception::Stdio::Piped),
            )
            .unwrap();
        let mut out = String::new();
        std::io::Read::read_to_string(&mut e.take_stdout().unwrap(), &mut out).unwrap();
        assert!(e.wait().unwrap().success());
        let ns = c.namespaces().bits();
        c.kill().unwrap();
        (ns, out)
    });
    assert_eq!(namespaces, common::NS.bits(), "the namespaces found");
    let f: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(f[0], "found", "{out}");
    assert_eq!(f[1], "0", "root of the container's user namespace: {out}");
    assert_ne!(f[2], "1", "{out}");
    assert_eq!(f[3], "sleep", "pid 1 is the container's init: {out}");
}

#[test]
fn exec_into_a_container_found_by_id_as_root() {
    require!(Feature::Root, Feature::UserNs, Feature::PidfdInfoExit);
    exec_into_a_container_found_by_id(false);
}

#[test]
fn exec_into_a_container_found_by_id_rootless() {
    require!(Feature::UnprivilegedUserNs, Feature::PidfdInfoExit);
    exec_into_a_container_found_by_id(true);
}

fn destroy_without_start() -> (bool, bool, String) {
    let dir = shared_dir("destroy");
    let sock = socket_in(&dir.0);
    let (gone, socket_left, stale) = assert_no_leaks(|| {
        let c = sh("true").create(&sock).unwrap();
        let id = c.id().cloned().unwrap();
        let pidfd = c.pidfd().try_clone().unwrap();
        let warnings = c.destroy().unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        // The init is gone (a pidfd of it polls readable once it exited).
        let gone = matches!(pidfd.try_wait(), Err(_) | Ok(Some(_)));
        let stale = id.open().unwrap_err().to_string();
        (gone, sock.exists(), stale)
    });
    assert_no_children();
    (gone, socket_left, stale)
}

#[test]
fn a_created_container_destroyed_leaves_nothing() {
    require!(Feature::UserNs);
    let (gone, socket_left, stale) = Fork::new().unprivileged().run(destroy_without_start);
    assert!(gone, "the init is still there");
    assert!(!socket_left, "the start socket is left");
    assert!(stale.contains("no such container"), "{stale}");
}

#[test]
fn a_reused_pid_is_not_the_container() {
    // A live process whose start time is not the recorded one: refused.
    let me = linception::Pid::from_raw(std::process::id() as i32).unwrap();
    let id = ContainerId {
        pid: me,
        start_time: 1,
        socket: "/nonexistent/start.sock".into(),
    };
    let e = id.open().unwrap_err();
    assert!(e.to_string().contains("pid was reused"), "{e}");
}

#[test]
fn bad_start_sockets_are_named_before_anything_is_created() {
    require!(Feature::UserNs);
    let dir = shared_dir("bad-sock");
    let taken = dir.0.join("taken");
    std::fs::write(&taken, "").unwrap();
    let long = PathBuf::from(format!("/tmp/{}", "x".repeat(120)));
    let t = taken.clone();
    let texts = Fork::new().unprivileged().run(move || {
        let mut texts = Vec::new();
        for path in [PathBuf::from("relative.sock"), t.clone(), long.clone()] {
            let e = assert_no_leaks(|| sh("true").create(&path).unwrap_err());
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
            texts.push(e.to_string());
        }
        assert_no_children();
        texts
    });
    assert!(texts[0].contains("must be absolute"), "{texts:?}");
    assert!(texts[1].contains("exists already"), "{texts:?}");
    assert!(texts[2].contains("file name is too long"), "{texts:?}");
    assert!(taken.exists(), "an existing file was touched");
}

/// Every hook point in order, function hooks seeing the right status, command
/// hooks getting the state as JSON, in the runtime's or the container's namespaces.
fn hooks_run_at_their_moments() -> (Vec<String>, String, String, String) {
    let dir = shared_dir("hooks");
    let out = dir.0.join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::set_permissions(&out, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = |point: &'static str| {
        let seen = Arc::clone(&seen);
        Hook::function(move |state| {
            seen.lock()
                .unwrap()
                .push(format!("{point}:{}:{}", state.status, state.id));
            Ok(())
        })
    };
    let runtime_json = out.join("create-runtime.json");
    let poststop_json = out.join("poststop.json");
    let mut c = with_out("true", &out)
        .hostname("hooked")
        .state_info("box-1", "/bundles/box-1")
        .annotation("org.example", "yes")
        .hook(HookPoint::CreateRuntime, record("createRuntime"))
        .hook(
            HookPoint::CreateRuntime,
            Hook::command("/bin/sh")
                .args(["-c".to_owned(), format!("cat > {}", runtime_json.display())]),
        )
        .hook(HookPoint::CreateContainer, record("createContainer"))
        .hook(HookPoint::StartContainer, record("startContainer"))
        .hook(
            HookPoint::StartContainer,
            // After pivot_root: /out is the container's view of the bound directory.
            Hook::command("/bin/sh")
                .args(["-c", "hostname > /out/start-host; cat > /out/start.json"]),
        )
        .hook(HookPoint::PostStart, record("poststart"))
        .hook(HookPoint::PostStop, record("poststop"))
        .hook(
            HookPoint::PostStop,
            Hook::command("/bin/sh").args([
                "-c".to_owned(),
                format!("cat > {}", poststop_json.display()),
            ]),
        )
        .create(socket_in(&dir.0))
        .unwrap();
    c.start().unwrap();
    c.wait().unwrap();
    let warnings = c.destroy().unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let seen = seen.lock().unwrap().clone();
    (
        seen,
        read(&runtime_json),
        read(&out.join("start.json")) + "|" + read(&out.join("start-host")).trim(),
        read(&poststop_json),
    )
}

fn check_hooks(seen: &[String], runtime: &str, start: &str, poststop: &str) {
    assert_eq!(
        seen,
        [
            "createRuntime:creating:box-1",
            "createContainer:creating:box-1",
            "startContainer:created:box-1",
            "poststart:running:box-1",
            "poststop:stopped:box-1",
        ]
    );
    assert!(
        runtime.starts_with(
            "{\"ociVersion\":\"1.2.1\",\"id\":\"box-1\",\"status\":\"creating\",\"pid\":"
        ),
        "{runtime}"
    );
    assert!(
        runtime
            .ends_with("\"bundle\":\"/bundles/box-1\",\"annotations\":{\"org.example\":\"yes\"}}"),
        "{runtime}"
    );
    let (json, host) = start.split_once('|').unwrap();
    assert!(json.contains("\"status\":\"created\""), "{start}");
    assert_eq!(
        host, "hooked",
        "the startContainer command ran in the container's uts namespace"
    );
    assert!(poststop.contains("\"status\":\"stopped\""), "{poststop}");
}

#[test]
fn hooks_as_root() {
    require!(Feature::Root, Feature::UserNs);
    let (seen, runtime, start, poststop) = Fork::new().run(hooks_run_at_their_moments);
    check_hooks(&seen, &runtime, &start, &poststop);
}

#[test]
fn hooks_rootless() {
    require!(Feature::UnprivilegedUserNs);
    let (seen, runtime, start, poststop) =
        Fork::new().unprivileged().run(hooks_run_at_their_moments);
    check_hooks(&seen, &runtime, &start, &poststop);
}

#[test]
fn a_failing_create_hook_fails_the_create_and_leaves_nothing() {
    require!(Feature::UserNs);
    let (text, socket_left) = Fork::new().unprivileged().run(|| {
        let dir = shared_dir("hook-fail");
        let sock = socket_in(&dir.0);
        let e = assert_no_leaks(|| {
            sh("true")
                .hook(
                    HookPoint::CreateRuntime,
                    Hook::function(|_| Err("the network is not ready".into())),
                )
                .create(&sock)
                .unwrap_err()
        });
        assert_no_children();
        (e.to_string(), sock.exists())
    });
    assert_eq!(text, "createRuntime hook: the network is not ready");
    assert!(!socket_left);
}

#[test]
fn spawn_runs_hooks_too() {
    require!(Feature::UserNs);
    let seen = Fork::new().unprivileged().run(|| {
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let s = Arc::clone(&seen);
        let mut c = sh("true")
            .hook(
                HookPoint::StartContainer,
                Hook::function(move |st| {
                    s.lock().unwrap().push(st.status.to_string());
                    Ok(())
                }),
            )
            .spawn()
            .unwrap();
        assert!(c.wait().unwrap().success());
        seen.lock().unwrap().clone()
    });
    assert_eq!(seen, ["created"]);
}

/// A spawned container given an id (`identify`) is found by it like a created one:
/// running, its pid, signalled through the found handle; once it has exited, no id.
#[test]
fn a_spawned_container_identified_is_found_by_its_id() {
    require!(Feature::UserNs, Feature::MountApi);
    let dir = shared_dir("identify");
    let nowhere = dir.0.join("never-a-socket");
    let (found_running, same_pid, killed, gone_after) = Fork::new().unprivileged().run(move || {
        let mut c = sh("sleep 1000").spawn().expect("spawn");
        assert!(c.id().is_none(), "a spawned container has no id of its own");
        let id = c.identify(&nowhere).expect("identify").clone();
        assert_eq!(c.identify("/elsewhere").expect("again").socket, nowhere);
        let text = id.to_string();
        let mut found = text
            .parse::<ContainerId>()
            .expect("the id round-trips")
            .open()
            .expect("open by id");
        let running = found.state() == State::Running;
        let same = found.pid() == c.pid();
        found.kill().expect("kill through the found handle");
        let st = c.wait().expect("wait");
        // Exited, not reaped: still identified (found as stopped); reaped: gone.
        let mut late = sh("true").spawn().expect("spawn");
        while !late.try_wait().map(|s| s.is_some()).unwrap_or(true) {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let mut quick = sh("exit 0").spawn().expect("spawn");
        std::thread::sleep(std::time::Duration::from_millis(50));
        let zombie = quick
            .identify(&nowhere)
            .expect("an unreaped init keeps its id")
            .clone();
        let stopped = zombie.open().map(|mut h| h.state() == State::Stopped);
        quick.wait().expect("wait");
        assert!(
            stopped.expect("an exited, unreaped init is found by its id"),
            "an exited init's handle reads as stopped"
        );
        let gone = late.identify(&nowhere).is_err();
        assert_no_children();
        (running, same, st.signal().is_some(), gone)
    });
    assert!(found_running && same_pid && killed && gone_after);
}

/// A created container's notifying filter is in place before its start: the
/// listener is the creator's when `create` returns (kept, or served by a handler
/// from then on), and answers the program once started.
fn listener_at_create() {
    use linception::seccomp_notify::{Action, Filter, Response};
    use linception::{Seccomp, Stdio};
    use std::io::Read;

    let dir = shared_dir("listener");
    let notifying = || Filter::new(Action::Allow).rule("getppid", Action::UserNotif);
    let sock = socket_in(&dir.0);
    let mut c = sh("echo $PPID")
        .no_new_privs()
        .seccomp(Seccomp::new(notifying()).keep_listener())
        .stdout(Stdio::Piped)
        .create(&sock)
        .unwrap();
    assert_eq!(c.state(), State::Created);
    let listener = c.take_listener().expect("the listener comes at create");
    let agent = std::thread::spawn(move || {
        let n = listener.recv().unwrap();
        assert_eq!(n.nr as i64, libc::SYS_getppid);
        listener.respond_value(n.id, 4242).unwrap();
    });
    c.start().unwrap();
    let mut out = String::new();
    c.take_stdout().unwrap().read_to_string(&mut out).unwrap();
    assert!(c.wait().unwrap().success());
    agent.join().unwrap();
    assert_eq!(out.trim(), "4242");

    let sock = dir.0.join("start2.sock");
    let mut c = sh("echo $PPID")
        .no_new_privs()
        .seccomp(Seccomp::new(notifying()).on_notify(|_, _| Response::Value(77)))
        .stdout(Stdio::Piped)
        .create(&sock)
        .unwrap();
    assert!(c.take_listener().is_none(), "served, not kept");
    c.start().unwrap();
    let mut out = String::new();
    c.take_stdout().unwrap().read_to_string(&mut out).unwrap();
    assert!(c.wait().unwrap().success());
    assert_eq!(out.trim(), "77");
}

#[test]
fn a_created_containers_listener_comes_at_create_as_root() {
    require!(Feature::Root, Feature::UserNs, Feature::SeccompListener);
    Fork::new().run(listener_at_create);
}

#[test]
fn a_created_containers_listener_comes_at_create_rootless() {
    require!(Feature::UnprivilegedUserNs, Feature::SeccompListener);
    Fork::new().unprivileged().run(listener_at_create);
}
