//! clone3 against the real kernel: spawn, exec errors, set_tid, cgroups, raw fork.
// Unsafe code here: raw fork-style clone3 children must `_exit`, and the crate's unsafe `fork` is under test.
#![allow(unsafe_code)]

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use linception_pidfd::{
    CloneArgs, CloneFlags, CloneResult, Error, ErrorKind, Exec, ExitStatus, Namespaces, Signal,
};
use linception_testkit::{Feature, Fork, leaks::assert_no_leaks, require};

/// The child's pid in each pid namespace from the /proc mount's (the host's) down,
/// read through its pidfd's fdinfo (a pid number may mean something else in /proc).
fn nspid(child: &linception_pidfd::Child) -> Vec<i32> {
    let fd = std::os::fd::AsRawFd::as_raw_fd(child.pidfd());
    let s = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .unwrap()
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect()
}

/// A pid that is free right now, from a range the kernel hands out last.
fn free_pid() -> i32 {
    let max: i32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let seed = (std::process::id() as i32).wrapping_mul(7919)
        ^ Instant::now().elapsed().subsec_nanos() as i32;
    let mut p = max / 2 + seed.rem_euclid(max / 4);
    while std::path::Path::new(&format!("/proc/{p}")).exists() {
        p += 1;
    }
    p
}

/// No process of ours is left unreaped.
fn assert_no_children() {
    let r = rustix::process::waitid(
        rustix::process::WaitId::All,
        rustix::process::WaitIdOptions::EXITED
            | rustix::process::WaitIdOptions::NOHANG
            | rustix::process::WaitIdOptions::NOWAIT,
    );
    assert!(
        !r.map(|s| s.is_some()).unwrap_or(false),
        "a child is left behind"
    );
}

#[test]
fn spawn_passes_argv_and_environment() {
    require!(Feature::Clone3);
    let exec = Exec::new("/bin/sh")
        .args([
            "-c",
            r#"test "$0 $1 $FOO $HOME" = "sh one bar " && exit 5; exit 1"#,
            "sh",
            "one",
        ])
        .env_clear()
        .env("FOO", "bar");
    let mut child = CloneArgs::new().spawn(&exec).unwrap();
    assert_eq!(child.wait().unwrap(), ExitStatus::Exited(5));
    // The caller's environment is inherited by default.
    let exec = Exec::new("/bin/sh").args(["-c", r#"test -n "$PATH""#]);
    let mut child = CloneArgs::new().spawn(&exec).unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn exec_failure_names_the_program_and_leaves_nothing() {
    require!(Feature::Clone3);
    Fork::new().run(|| {
        assert_no_leaks(|| {
            let err = CloneArgs::new()
                .spawn(&Exec::new("/nonexistent/linception-prog"))
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Exec);
            assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
            assert_eq!(
                err.to_string(),
                "execve(\"/nonexistent/linception-prog\") in the new process: No such file or directory (ENOENT)"
            );
            let err = CloneArgs::new().spawn(&Exec::new("/dev/null")).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EACCES), "{err}");
        });
        assert_no_children();
    });
}

#[test]
fn nul_bytes_and_bad_env_names_are_refused_before_cloning() {
    Fork::new().run(|| {
        assert_no_leaks(|| {
            let err = CloneArgs::new()
                .spawn(&Exec::new("/bin/true").arg("a\0b"))
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
            assert!(err.to_string().contains("argv[1]"), "{err}");
            let err = CloneArgs::new()
                .spawn(&Exec::new("/bin/true").env("A=B", "x"))
                .unwrap_err();
            assert!(err.to_string().contains("\"A=B\""), "{err}");
        });
        assert_no_children();
    });
}

#[test]
fn unsafe_flags_are_refused() {
    for bits in [
        libc::CLONE_VM,
        libc::CLONE_THREAD,
        libc::CLONE_SIGHAND,
        libc::SIGCHLD,
    ] {
        let err = CloneArgs::new()
            .flags(CloneFlags::from_bits_retain(bits as u64))
            .spawn(&Exec::new("/bin/true"))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        assert!(err.to_string().contains(&format!("{:#x}", bits)), "{err}");
    }
}

#[test]
fn new_namespaces_and_no_exit_signal() {
    require!(Feature::Root, Feature::Clone3);
    let mut child = CloneArgs::new()
        .namespaces(Namespaces::UTS | Namespaces::IPC)
        .flags(CloneFlags::CLEAR_SIGHAND)
        .exit_signal(None)
        .spawn(&Exec::new("/bin/sleep").arg("30"))
        .unwrap();
    let pid = child.pid();
    for ns in ["uts", "ipc"] {
        let mine = std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap();
        assert_ne!(mine, theirs, "{ns}");
    }
    let mine = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert_eq!(
        mine,
        std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap()
    );
    // Waiting works without SIGCHLD (__WALL).
    child.kill().unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(Signal::KILL));
}

#[test]
fn rootless_spawn_in_new_user_namespace() {
    require!(Feature::UnprivilegedUserNs, Feature::Clone3);
    Fork::new().unprivileged().run(|| {
        let mut child = CloneArgs::new()
            .namespaces(Namespaces::USER | Namespaces::UTS)
            .spawn(&Exec::new("/bin/sh").args(["-c", "exit 3"]))
            .unwrap();
        assert_eq!(child.wait().unwrap().code(), Some(3));
        // Without a user namespace, an unprivileged caller may not create others.
        let err = CloneArgs::new()
            .namespaces(Namespaces::UTS)
            .spawn(&Exec::new("/bin/true"))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
        assert!(
            err.to_string()
                .starts_with("clone3({flags: 0x4000000|CLONE_PIDFD"),
            "{err}"
        );
    });
}

#[test]
fn set_tid_picks_a_free_pid() {
    require!(Feature::Root, Feature::SetTid);
    for _ in 0..10 {
        let want = free_pid();
        match CloneArgs::new()
            .set_tid([want])
            .spawn(&Exec::new("/bin/sleep").arg("30"))
        {
            Ok(mut child) => {
                assert_eq!(child.pid().as_raw(), want);
                assert_eq!(child.pidfd().pid().unwrap().as_raw(), want);
                child.kill().unwrap();
                child.wait().unwrap();
                return;
            }
            Err(Error::PidTaken { .. }) => continue, // raced with the host
            Err(e) => panic!("{e}"),
        }
    }
    panic!("no free pid found in 10 tries");
}

#[test]
fn set_tid_in_a_new_pid_namespace_and_nested_levels() {
    require!(Feature::Root, Feature::SetTid);
    // Two levels: pid 1 in the new namespace, a chosen pid outside.
    let outer = free_pid();
    let got = Fork::new().run(move || {
        let mut child = CloneArgs::new()
            .flags(CloneFlags::NEWPID)
            .set_tid([1, outer])
            .spawn(&Exec::new("/bin/sleep").arg("30"))
            .map_err(|e| e.to_string())?;
        let ns = nspid(&child);
        child.kill().unwrap();
        child.wait().unwrap();
        Ok::<_, String>(ns)
    });
    match got {
        Ok(ns) => assert_eq!(ns, vec![outer, 1]),
        Err(e) if e.contains("EEXIST") || e.contains("already in use") => {}
        Err(e) => panic!("{e}"),
    }

    // Three levels: the caller is init (pid 1) of a nested pid namespace; the child
    // gets 42 there, 1 in its own new namespace, and a chosen host pid.
    let outer = free_pid();
    let got = Fork::new().unshare(libc::CLONE_NEWPID).run(move || {
        // After unshare(CLONE_NEWPID) the caller is not in the new namespace yet, and
        // the kernel refuses another CLONE_NEWPID: caught before the call.
        let err = CloneArgs::new()
            .flags(CloneFlags::NEWPID)
            .set_tid([1, 1, outer])
            .spawn(&Exec::new("/bin/true"))
            .unwrap_err();
        assert!(err.to_string().contains("CLONE_NEWPID"), "{err}");
        // pid 1 of the unshared namespace, set_tid [1, outer]: two levels.
        Fork::new().run(move || {
            assert_eq!(std::process::id(), 1);
            let r = CloneArgs::new()
                .flags(CloneFlags::NEWPID)
                .set_tid([1, 42, outer])
                .spawn(&Exec::new("/bin/sleep").arg("30"));
            let out = match r {
                Ok(mut child) => {
                    let ns = nspid(&child);
                    assert_eq!(child.pid().as_raw(), 42);
                    child.kill().unwrap();
                    child.wait().unwrap();
                    Ok(ns)
                }
                Err(e) => Err(e.to_string()),
            };
            // Four entries is one more level than exists: refused before the call.
            let err = CloneArgs::new()
                .flags(CloneFlags::NEWPID)
                .set_tid([1, 42, outer, 7])
                .spawn(&Exec::new("/bin/true"))
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
            assert!(err.to_string().contains("set_tid (length 4)"), "{err}");
            // pid 1 of this namespace is taken (by us).
            let err = CloneArgs::new()
                .set_tid([1, outer + 1])
                .spawn(&Exec::new("/bin/true"))
                .unwrap_err();
            assert!(matches!(err, Error::PidTaken { pid: 1, .. }), "{err}");
            out
        })
    });
    match got {
        Ok(ns) => assert_eq!(ns, vec![outer, 42, 1]),
        Err(e) if e.contains("already in use") => {}
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn taken_pid_is_its_own_error() {
    require!(Feature::Root, Feature::SetTid);
    let me = std::process::id() as i32;
    let err = CloneArgs::new()
        .set_tid([me])
        .spawn(&Exec::new("/bin/true"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PidTaken);
    assert_eq!(err.raw_os_error(), Some(libc::EEXIST));
    match &err {
        Error::PidTaken {
            pid,
            level,
            set_tid,
        } => {
            assert_eq!((*pid, *level, set_tid.as_slice()), (me, Some(0), &[me][..]));
        }
        e => panic!("{e}"),
    }
    assert!(
        err.to_string()
            .contains(&format!("pid {me} is already in use")),
        "{err}"
    );
}

fn check_invalid(args: CloneArgs<'_>, needle: &str) {
    let err = args.spawn(&Exec::new("/bin/true")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.to_string().contains(needle), "{needle:?} not in: {err}");
}

fn invalid_set_tid_arrays() {
    assert_no_leaks(|| {
        check_invalid(CloneArgs::new().set_tid(vec![1; 33]), "set_tid (length 33)");
        check_invalid(CloneArgs::new().set_tid([0]), "set_tid[0] = 0");
        check_invalid(CloneArgs::new().set_tid([-5]), "set_tid[0] = -5");
        check_invalid(
            CloneArgs::new().flags(CloneFlags::NEWPID).set_tid([1, -1]),
            "set_tid[1] = -1",
        );
        check_invalid(CloneArgs::new().set_tid([5000, 1]), "set_tid (length 2)");
        check_invalid(
            CloneArgs::new()
                .flags(CloneFlags::NEWPID)
                .set_tid([1, 2, 3]),
            "set_tid (length 3)",
        );
        check_invalid(
            CloneArgs::new().flags(CloneFlags::NEWPID).set_tid([7]),
            "set_tid[0] = 7",
        );
        check_invalid(
            CloneArgs::new().set_tid([i32::MAX]),
            "set_tid[0] = 2147483647",
        );
    });
    assert_no_children();
}

#[test]
fn invalid_set_tid_is_rejected_before_the_syscall() {
    // Run unprivileged: had the call been made, the kernel would say EPERM.
    require!(Feature::Root);
    Fork::new().unprivileged().run(invalid_set_tid_arrays);
    Fork::new().run(invalid_set_tid_arrays);
}

#[test]
fn unprivileged_set_tid_is_a_clear_permission_error() {
    require!(Feature::Root, Feature::SetTid);
    Fork::new().unprivileged().run(|| {
        assert_no_leaks(|| {
            let want = free_pid();
            let err = CloneArgs::new()
                .set_tid([want])
                .spawn(&Exec::new("/bin/true"))
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
            assert!(matches!(err, Error::SetTidPermission { .. }), "{err}");
            assert!(err.to_string().contains("CAP_CHECKPOINT_RESTORE"), "{err}");
            assert!(err.to_string().contains(&format!("[{want}]")), "{err}");
            assert_eq!(
                std::io::Error::from(err).kind(),
                std::io::ErrorKind::PermissionDenied
            );
        });
    });
}

#[test]
fn rootless_set_tid_only_inside_own_namespaces() {
    require!(Feature::UserNs, Feature::SetTid);
    Fork::new().rootless().run(|| {
        // The new pid namespace belongs to our user namespace: allowed.
        let mut child = CloneArgs::new()
            .flags(CloneFlags::NEWPID)
            .set_tid([1])
            .spawn(&Exec::new("/bin/sh").args(["-c", "exit 0"]))
            .unwrap();
        assert!(child.wait().unwrap().success());
        // The host level is not ours.
        let err = CloneArgs::new()
            .flags(CloneFlags::NEWPID)
            .set_tid([1, free_pid()])
            .spawn(&Exec::new("/bin/true"))
            .unwrap_err();
        assert!(matches!(err, Error::SetTidPermission { .. }), "{err}");
    });
}

#[test]
fn into_cgroup_places_the_child_at_birth() {
    require!(Feature::Root, Feature::CloneIntoCgroup, Feature::Cgroup2);
    let root = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .into_iter()
        .find(|r| rustix::fs::statfs(*r).is_ok_and(|s| s.f_type == 0x6367_7270))
        .expect("a cgroup2 mount");
    let name = format!("linception-pidfd-test-{}", std::process::id());
    let dir = format!("{root}/{name}");
    std::fs::create_dir(&dir).unwrap();
    let result = std::panic::catch_unwind(|| {
        let cg = std::fs::File::open(&dir).unwrap();
        let mut child = CloneArgs::new()
            .into_cgroup(&cg)
            .spawn(&Exec::new("/bin/sleep").arg("30"))
            .unwrap();
        let procs = std::fs::read_to_string(format!("/proc/{}/cgroup", child.pid())).unwrap();
        assert!(procs.lines().any(|l| l == format!("0::/{name}")), "{procs}");
        if let Some(id) = child.pidfd().info().ok().and_then(|i| i.cgroup_id) {
            assert_eq!(id, rustix::fs::fstat(cg.as_fd()).unwrap().st_ino);
        }
        child.kill().unwrap();
        child.wait().unwrap();
    });
    std::fs::remove_dir(&dir).unwrap();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

#[test]
fn raw_fork_returns_twice() {
    require!(Feature::Clone3);
    // SAFETY: the child calls nothing but _exit, which is async-signal-safe and
    // allocates nothing, so it is sound even in this multithreaded test process.
    match unsafe { CloneArgs::new().fork() }.unwrap() {
        // SAFETY: _exit in the child of the fork above, as its contract requires.
        CloneResult::Child => unsafe { libc::_exit(42) },
        CloneResult::Parent { pid, pidfd } => {
            assert_eq!(pidfd.pid().unwrap(), pid);
            assert_eq!(pidfd.wait().unwrap(), ExitStatus::Exited(42));
        }
    }
}

#[test]
fn raw_fork_errors_are_mapped_too() {
    require!(Feature::Root, Feature::SetTid);
    let me = std::process::id() as i32;
    // SAFETY: the call fails before a child exists.
    let err = unsafe { CloneArgs::new().set_tid([me]).fork() }.unwrap_err();
    assert!(matches!(err, Error::PidTaken { .. }), "{err}");
}

#[test]
fn dropped_child_is_reaped_never_a_zombie() {
    require!(Feature::Clone3);
    Fork::new().run(|| {
        // Exited before the drop: reaped in Drop.
        let child = CloneArgs::new().spawn(&Exec::new("/bin/true")).unwrap();
        let pid = child.pid();
        assert!(
            child
                .pidfd()
                .poll_exit(Some(Duration::from_secs(10)))
                .unwrap()
        );
        drop(child);
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
        // Still running at the drop: reaped by the reaper thread when it exits.
        let child = CloneArgs::new()
            .spawn(&Exec::new("/bin/sleep").arg("0.1"))
            .unwrap();
        let pid = child.pid();
        drop(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::path::Path::new(&format!("/proc/{pid}")).exists() {
            assert!(Instant::now() < deadline, "pid {pid} was not reaped");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_no_children();
    });
}

#[test]
fn io_error_keeps_the_errno() {
    require!(Feature::Clone3);
    let err = CloneArgs::new()
        .spawn(&Exec::new("/nonexistent"))
        .unwrap_err();
    let io = std::io::Error::from(err);
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    assert_eq!(linception_pidfd::errno_of(&io), Some(libc::ENOENT));
}

#[test]
fn portable_fork_style_spawn_path() {
    require!(Feature::Clone3);
    Fork::new().run(|| {
        linception_pidfd::__force_fork_spawn(true);
        let mut child = CloneArgs::new()
            .spawn(&Exec::new("/bin/sh").args(["-c", "exit 4"]))
            .unwrap();
        assert_eq!(child.wait().unwrap(), ExitStatus::Exited(4));
        assert_no_leaks(|| {
            let err = CloneArgs::new()
                .spawn(&Exec::new("/nonexistent/linception-prog"))
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Exec);
            assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
        });
        assert_no_children();
        // SIGPIPE is back to default in the child (the Rust runtime ignores it).
        let mut child = CloneArgs::new()
            .spawn(&Exec::new("/bin/sh").args(["-c", "kill -PIPE $$; exit 0"]))
            .unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(Signal::PIPE));
    });
}

#[test]
fn spawned_child_has_default_sigpipe_and_no_blocked_signals() {
    require!(Feature::Clone3);
    let mut child = CloneArgs::new()
        .spawn(&Exec::new("/bin/sh").args(["-c", "kill -PIPE $$; exit 0"]))
        .unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(Signal::PIPE));
    let mut child = CloneArgs::new()
        .spawn(&Exec::new("/bin/sh").args([
            "-c",
            // No signal blocked, SIGPIPE (bit 0x1000) not ignored; other ignored
            // signals are inherited from whoever started the test, as with std.
            r#"blk=$(sed -n 's/^SigBlk:\s*//p' /proc/self/status); ign=$(sed -n 's/^SigIgn:\s*//p' /proc/self/status); [ $((0x$blk)) -eq 0 ] && [ $((0x$ign & 0x1000)) -eq 0 ]"#,
        ]))
        .unwrap();
    assert!(
        child.wait().unwrap().success(),
        "signals blocked or ignored in the child"
    );
}

#[test]
fn a_clone_args_field_the_kernel_does_not_know_is_field_unsupported() {
    require!(Feature::Clone3);
    Fork::new().run(|| {
        // A 96-byte clone_args whose field after `cgroup` is set: no kernel knows it.
        linception_pidfd::__clone3_test_tail(Some(1));
        assert_no_leaks(|| {
            for fork_style in [false, true] {
                linception_pidfd::__force_fork_spawn(fork_style);
                let err = CloneArgs::new().spawn(&Exec::new("/bin/true")).unwrap_err();
                assert!(
                    matches!(err, Error::FieldUnsupported { size: 96, .. }),
                    "{err:?}"
                );
                assert_eq!(err.kind(), ErrorKind::Unsupported);
                assert_eq!(err.raw_os_error(), Some(libc::E2BIG));
                let msg = err.to_string();
                assert!(
                    msg.starts_with("clone3({flags: 0x0|CLONE_PIDFD, exit_signal: SIGCHLD})")
                        && msg.contains("field not supported by this kernel (E2BIG)"),
                    "{msg}"
                );
                let io = std::io::Error::from(err);
                assert_eq!(io.kind(), std::io::ErrorKind::Unsupported);
                assert_eq!(linception_pidfd::errno_of(&io), Some(libc::E2BIG));
            }
            // SAFETY: the call fails before any process is created.
            let err = unsafe { CloneArgs::new().fork() }.unwrap_err();
            assert!(matches!(err, Error::FieldUnsupported { .. }), "{err:?}");
        });
        assert_no_children();
        // The same larger struct with a zero tail is accepted: the kernel only
        // refuses unknown fields that are set.
        linception_pidfd::__clone3_test_tail(Some(0));
        for fork_style in [false, true] {
            linception_pidfd::__force_fork_spawn(fork_style);
            let mut child = CloneArgs::new()
                .spawn(&Exec::new("/bin/sh").args(["-c", "exit 6"]))
                .unwrap();
            assert_eq!(child.wait().unwrap(), ExitStatus::Exited(6));
        }
        linception_pidfd::__clone3_test_tail(None);
        assert_no_children();
    });
}

/// After `unshare(CLONE_NEWTIME)` the kernel refuses `CLONE_VM` children (they would
/// share memory across time namespaces): spawn falls back to a fork-style child,
/// which enters the new time namespace.
fn spawn_after_unsharing_a_time_namespace() {
    let before = std::fs::metadata("/proc/self/ns/time_for_children").unwrap();
    let mut child = CloneArgs::new()
        .spawn(&Exec::new("/bin/sh").args(["-c", "exit 8"]))
        .unwrap();
    assert_eq!(child.wait().unwrap(), ExitStatus::Exited(8));
    let mut child = CloneArgs::new()
        .spawn(&Exec::new("/bin/sleep").arg("30"))
        .unwrap();
    use std::os::unix::fs::MetadataExt;
    let theirs = std::fs::metadata(format!("/proc/{}/ns/time", child.pid())).unwrap();
    assert_eq!(
        theirs.ino(),
        before.ino(),
        "the child is in the new time namespace"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn spawn_works_after_unsharing_a_time_namespace() {
    require!(Feature::Root, Feature::TimeNs, Feature::Clone3);
    Fork::new()
        .unshare(libc::CLONE_NEWTIME)
        .run(spawn_after_unsharing_a_time_namespace);
}

#[test]
fn spawn_works_after_unsharing_a_time_namespace_rootless() {
    require!(Feature::UserNs, Feature::TimeNs, Feature::Clone3);
    Fork::new()
        .rootless()
        .unshare(libc::CLONE_NEWTIME)
        .run(spawn_after_unsharing_a_time_namespace);
}
