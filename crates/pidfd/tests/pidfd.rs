//! PidFd against the real kernel: statuses, polling, signals, getfd, info, namespaces.
// Unsafe code here: the crate's unsafe `fork`/`setns` are under test, and raw fork, waitpid, setns and mount calls are the baselines.
#![allow(unsafe_code)]

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

use linception_pidfd::{
    CloneArgs, Error, ErrorKind, Exec, ExitStatus, InfoMask, NamespaceType, Namespaces, Pid, PidFd,
    PidfdFlags, Signal, SignalTarget,
};
use linception_testkit::{Feature, Fork, leaks::assert_no_leaks, require};

fn sleeper() -> linception_pidfd::Child {
    CloneArgs::new()
        .spawn(&Exec::new("/bin/sleep").arg("30"))
        .expect("spawn /bin/sleep")
}

fn status_field(pid: Pid, key: &str) -> Vec<i64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect()
}

#[test]
fn exit_code_is_reported() {
    require!(Feature::Clone3);
    let mut child = CloneArgs::new()
        .spawn(&Exec::new("/bin/sh").args(["-c", "exit 7"]))
        .unwrap();
    let st = child.wait().unwrap();
    assert_eq!(st, ExitStatus::Exited(7));
    assert_eq!(st.code(), Some(7));
    assert!(!st.success());
    assert_eq!(std::process::ExitStatus::from(st).code(), Some(7));
    // A second wait returns the remembered status instead of ECHILD.
    assert_eq!(child.wait().unwrap(), st);
}

#[test]
fn killing_signal_is_reported() {
    require!(Feature::Clone3);
    let mut child = sleeper();
    child.send_signal(Signal::TERM).unwrap();
    let st = child.wait().unwrap();
    assert_eq!(
        st,
        ExitStatus::Signaled {
            signal: Signal::TERM,
            core_dumped: false
        }
    );
    assert_eq!(st.code(), None);
    assert_eq!(st.to_string(), "killed by SIGTERM");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        std::process::ExitStatus::from(st).signal(),
        Some(libc::SIGTERM)
    );
}

#[test]
fn poll_becomes_ready_on_exit_without_reaping() {
    require!(Feature::Clone3);
    let mut child = sleeper();
    let pidfd = child.pidfd();
    assert!(!pidfd.poll_exit(Some(Duration::from_millis(50))).unwrap());
    assert_eq!(child.try_wait().unwrap(), None);
    assert_eq!(child.wait_timeout(Duration::from_millis(20)).unwrap(), None);
    child.send_signal(Signal::KILL).unwrap();
    assert!(
        child
            .pidfd()
            .poll_exit(Some(Duration::from_secs(10)))
            .unwrap()
    );
    // Exited but not reaped: a zombie still exists and still accepts signals.
    assert!(child.pidfd().is_alive().unwrap());
    let pid = child.pid();
    assert!(status_field_state(pid).starts_with('Z'));
    let st = child
        .wait_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap();
    assert_eq!(st.signal(), Some(Signal::KILL));
    assert!(!child.pidfd().is_alive().unwrap());
}

fn status_field_state(pid: Pid) -> String {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("State:"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn nonblocking_pidfd_waits_too() {
    require!(Feature::PidfdNonblock);
    let mut cmd = std::process::Command::new("/bin/sleep")
        .arg("0.2")
        .spawn()
        .unwrap();
    let pidfd = PidFd::open(
        Pid::from_raw(cmd.id() as i32).unwrap(),
        PidfdFlags::NONBLOCK,
    )
    .unwrap();
    // With PIDFD_NONBLOCK the kernel answers EAGAIN instead of blocking.
    assert_eq!(pidfd.try_wait().unwrap(), None);
    assert_eq!(pidfd.wait().unwrap(), ExitStatus::Exited(0));
    // std's handle now sees ECHILD; it must not be left thinking the child runs.
    assert!(cmd.try_wait().is_err());
}

#[test]
fn from_child_refuses_a_reaped_child() {
    require!(Feature::PidfdOpen);
    let mut cmd = std::process::Command::new("/bin/true").spawn().unwrap();
    let pidfd = PidFd::from_child(&cmd).unwrap();
    assert_eq!(pidfd.wait().unwrap(), ExitStatus::Exited(0));
    let _ = cmd.try_wait();
    let mut cmd = std::process::Command::new("/bin/true").spawn().unwrap();
    cmd.wait().unwrap();
    let err = PidFd::from_child(&cmd).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::ProcessGone | ErrorKind::InvalidArgument
        ),
        "{err}"
    );
}

#[test]
fn signalling_a_reaped_process_is_gone_and_never_hits_the_pid_reuser() {
    require!(Feature::Root, Feature::SetTid);
    let mut victim = sleeper();
    let old_pid = victim.pid();
    victim.send_signal(Signal::KILL).unwrap();
    victim.wait().unwrap();
    let old = victim.into_pidfd();
    let err = old.send_signal(Signal::TERM).unwrap_err();
    assert!(err.is_process_gone(), "{err}");
    assert_eq!(err.kind(), ErrorKind::ProcessGone);
    assert_eq!(err.raw_os_error(), Some(libc::ESRCH));
    let msg = err.to_string();
    assert!(
        msg.contains(&format!(
            "pidfd_send_signal(fd {}, SIGTERM, NULL, 0)",
            old.as_raw_fd()
        )),
        "{msg}"
    );
    assert!(msg.contains("(ESRCH)"), "{msg}");

    // Force the pid to be reused (clone3 set_tid), then signal through the old pidfd.
    let mut reuser = match CloneArgs::new()
        .set_tid([old_pid.as_raw()])
        .spawn(&Exec::new("/bin/sleep").arg("30"))
    {
        Ok(c) => c,
        // Someone else on the machine took the pid first: still nothing to hit.
        Err(Error::PidTaken { .. }) => return,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(reuser.pid(), old_pid);
    for _ in 0..50 {
        assert!(old.send_signal(Signal::KILL).unwrap_err().is_process_gone());
    }
    assert!(
        !reuser
            .pidfd()
            .poll_exit(Some(Duration::from_millis(100)))
            .unwrap()
    );
    reuser.send_signal(Signal::TERM).unwrap();
    assert_eq!(reuser.wait().unwrap().signal(), Some(Signal::TERM));
}

#[test]
fn signal_targets_thread_and_thread_group() {
    require!(Feature::PidfdThread, Feature::Clone3);
    // A thread pidfd: ready when that thread exits, while the process lives on.
    Fork::new().run(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            tx.send(rustix::thread::gettid().as_raw_nonzero().get())
                .unwrap();
            go_rx.recv().unwrap();
        });
        let tid = rx.recv().unwrap();
        let tfd = PidFd::open(Pid::from_raw(tid).unwrap(), PidfdFlags::THREAD).unwrap();
        tfd.send_signal_to(Signal::NULL, SignalTarget::Thread)
            .unwrap();
        tfd.send_signal_to(Signal::NULL, SignalTarget::ThreadGroup)
            .unwrap();
        // Without PIDFD_THREAD a thread that is not the group leader is refused.
        let err = PidFd::open(Pid::from_raw(tid).unwrap(), PidfdFlags::empty()).unwrap_err();
        // (EINVAL before Linux 6.9, ENOENT since pidfs.)
        assert!(
            matches!(err.raw_os_error(), Some(libc::EINVAL | libc::ENOENT)),
            "{err}"
        );
        assert!(!tfd.poll_exit(Some(Duration::from_millis(20))).unwrap());
        go_tx.send(()).unwrap();
        t.join().unwrap();
        assert!(tfd.poll_exit(Some(Duration::from_secs(5))).unwrap());
        // The pidfd turns readable at the thread's exit notification, a moment
        // before the kernel unhashes it: a signal may still be accepted in that
        // window (and lands nowhere), then is refused as "gone".
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        let err = loop {
            match tfd.send_signal_to(Signal::NULL, SignalTarget::Thread) {
                Err(err) => break err,
                Ok(()) if std::time::Instant::now() < deadline => std::thread::yield_now(),
                Ok(()) => panic!("an exited thread still takes signals after 2 s"),
            }
        };
        assert!(err.is_process_gone(), "{err}");
        // The process itself lives on.
        let me = PidFd::open(Pid::this(), PidfdFlags::THREAD).unwrap();
        assert!(!me.poll_exit(Some(Duration::ZERO)).unwrap());
    });
    // Thread-group signal through a process pidfd ends the process.
    let mut child = sleeper();
    child
        .pidfd()
        .send_signal_to(Signal::TERM, SignalTarget::ThreadGroup)
        .unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(Signal::TERM));
}

#[test]
fn getfd_copies_a_working_fd() {
    require!(Feature::PidfdGetfd, Feature::Clone3);
    Fork::new().run(|| {
        let (r, w) = rustix::pipe::pipe().unwrap(); // no CLOEXEC: the child inherits w
        let w_raw = w.as_raw_fd();
        let mut child = sleeper();
        drop(w);
        assert_no_leaks(|| {
            let err = child.pidfd().get_fd(9999).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EBADF), "{err}");
            assert!(err.to_string().contains(", 9999, 0)"), "{err}");
        });
        let copy = child.pidfd().get_fd(w_raw).unwrap();
        let flags = rustix::io::fcntl_getfd(&copy).unwrap();
        assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
        let mut f = std::fs::File::from(copy);
        f.write_all(b"through the child's fd").unwrap();
        drop(f);
        child.kill().unwrap();
        child.wait().unwrap();
        let mut got = String::new();
        std::fs::File::from(r).read_to_string(&mut got).unwrap();
        assert_eq!(got, "through the child's fd");
    });
}

#[test]
fn info_matches_proc_status() {
    require!(Feature::PidfdInfo, Feature::Clone3);
    let mut child = sleeper();
    let pid = child.pid();
    let info = child.pidfd().info().unwrap();
    assert!(info.mask.contains(InfoMask::PID | InfoMask::CREDS));
    assert_eq!(info.pid, Some(pid));
    assert_eq!(
        info.tgid.map(|p| p.as_raw() as i64),
        Some(status_field(pid, "Tgid:")[0])
    );
    assert_eq!(
        info.ppid.map(|p| p.as_raw() as i64),
        Some(status_field(pid, "PPid:")[0])
    );
    assert_eq!(info.ppid, Some(Pid::this()));
    let uids = status_field(pid, "Uid:");
    let gids = status_field(pid, "Gid:");
    let c = info.creds.unwrap();
    assert_eq!(
        [c.ruid, c.euid, c.suid, c.fsuid].map(i64::from).to_vec(),
        uids
    );
    assert_eq!(
        [c.rgid, c.egid, c.sgid, c.fsgid].map(i64::from).to_vec(),
        gids
    );
    let id = info
        .cgroup_id
        .expect("PIDFD_INFO_CGROUPID on a 6.13+ kernel");
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let path = cg.lines().find_map(|l| l.strip_prefix("0::")).unwrap();
    let root = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .into_iter()
        .find(|r| rustix::fs::statfs(*r).is_ok_and(|s| s.f_type == 0x6367_7270));
    if let Some(root) = root {
        use std::os::unix::fs::MetadataExt;
        let md = std::fs::metadata(format!("{root}{path}")).unwrap();
        assert_eq!(md.ino(), id, "cgroup id vs inode of {root}{path}");
    }
    assert_eq!(info.exit_status, None);
    assert_eq!(child.pidfd().pid().unwrap(), pid);
    assert_eq!(child.pidfd().pid_from_fdinfo().unwrap(), pid);

    child.send_signal(Signal::KILL).unwrap();
    child.wait().unwrap();
    // Reaped: only the exit status is left (Linux 6.15+), the pid is gone.
    let err = child.pidfd().info_with(InfoMask::PID).unwrap_err();
    assert!(err.is_process_gone(), "{err}");
    assert!(child.pidfd().pid().unwrap_err().is_process_gone());
    assert!(
        child
            .pidfd()
            .pid_from_fdinfo()
            .unwrap_err()
            .is_process_gone()
    );
    let info = child.pidfd().info().unwrap();
    assert_eq!(
        info.exit_status,
        Some(ExitStatus::Signaled {
            signal: Signal::KILL,
            core_dumped: false
        })
    );
}

#[test]
fn info_shows_unprivileged_credentials() {
    require!(Feature::Root, Feature::PidfdInfo, Feature::Clone3);
    Fork::new().unprivileged().run(|| {
        let mut child = sleeper();
        let c = child.pidfd().info().unwrap().creds.unwrap();
        assert_eq!(
            (c.ruid, c.euid, c.rgid, c.egid),
            (65534, 65534, 65534, 65534)
        );
        child.kill().unwrap();
        child.wait().unwrap();
    });
}

#[test]
fn exit_code_from_info_after_reaping() {
    require!(Feature::PidfdInfo, Feature::Clone3);
    let mut child = CloneArgs::new()
        .spawn(&Exec::new("/bin/sh").args(["-c", "exit 42"]))
        .unwrap();
    assert_eq!(child.wait().unwrap(), ExitStatus::Exited(42));
    let info = child.pidfd().info().unwrap();
    assert!(info.mask.contains(InfoMask::EXIT), "mask {:?}", info.mask);
    assert_eq!(info.exit_status, Some(ExitStatus::Exited(42)));
    assert_eq!(info.pid, None);
}

#[test]
fn pid_is_right_across_pid_namespaces() {
    require!(Feature::Root, Feature::Clone3);
    // The caller sits in the host pid namespace, the child is pid 1 of a new one.
    let outer = Fork::new().run(|| {
        let mut child = CloneArgs::new()
            .flags(linception_pidfd::CloneFlags::NEWPID)
            .spawn(&Exec::new("/bin/sleep").arg("30"))
            .unwrap();
        let got = (
            child.pidfd().pid().unwrap().as_raw(),
            child.pidfd().pid_from_fdinfo().unwrap().as_raw(),
            child.pid().as_raw(),
        );
        child.kill().unwrap();
        child.wait().unwrap();
        got
    });
    assert_eq!(outer.0, outer.2);
    assert_eq!(outer.1, outer.2);
    assert_ne!(outer.0, 1);

    // The caller is pid 1 of a new pid namespace while /proc still belongs to the
    // host's: both ways of reading the pid must answer 1, not the host pid.
    let inner = Fork::new().unshare(libc::CLONE_NEWPID).run(|| {
        // SAFETY: this forked test child is single-threaded; the new process only
        // makes system calls and leaves with _exit.
        match unsafe { CloneArgs::new().fork() }.unwrap() {
            linception_pidfd::CloneResult::Child => {
                let me = PidFd::open(Pid::this(), PidfdFlags::empty());
                let code = match me {
                    Ok(me) => {
                        let a = me.pid().map(|p| p.as_raw()).unwrap_or(-1);
                        let b = me.pid_from_fdinfo().map(|p| p.as_raw()).unwrap_or(-1);
                        if a == 1 && b == 1 {
                            0
                        } else {
                            10 + (a == 1) as i32 * 2 + (b == 1) as i32
                        }
                    }
                    Err(_) => 9,
                };
                // SAFETY: _exit ends the child without running the parent's handlers.
                unsafe { libc::_exit(code) }
            }
            linception_pidfd::CloneResult::Parent { pidfd, .. } => pidfd.wait().unwrap().code(),
        }
    });
    assert_eq!(inner, Some(0), "10 + 2*(info says 1) + (fdinfo says 1)");
}

fn ns_inode(path: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().ino()
}

#[test]
fn namespace_fds_match_proc() {
    require!(Feature::PidfdNamespaces, Feature::Clone3);
    Fork::new().run(|| {
        let mut child = sleeper();
        let pid = child.pid();
        assert_no_leaks(|| namespace_fds_match(&child, pid));
        child.kill().unwrap();
        child.wait().unwrap();
        let err = child.pidfd().namespace(NamespaceType::Net).unwrap_err();
        assert!(err.is_process_gone(), "{err}");
    });
}

fn namespace_fds_match(child: &linception_pidfd::Child, pid: Pid) {
    for kind in NamespaceType::ALL {
        let fd = match child.pidfd().namespace(kind) {
            Ok(fd) => fd,
            // A kernel built without that namespace type.
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => continue,
            Err(e) => panic!("{kind:?}: {e}"),
        };
        let st = rustix::fs::fstat(&fd).unwrap();
        assert_eq!(
            st.st_ino,
            ns_inode(&format!("/proc/{pid}/ns/{}", kind.proc_name())),
            "{kind:?}"
        );
    }
}

fn setns_into_child(fork: Fork) {
    fork.run(|| {
        let mut child = CloneArgs::new()
            .namespaces(Namespaces::UTS | Namespaces::IPC | Namespaces::NET)
            .spawn(&Exec::new("/bin/sleep").arg("30"))
            .unwrap();
        let pid = child.pid();
        for ns in ["uts", "ipc", "net"] {
            assert_ne!(
                ns_inode(&format!("/proc/self/ns/{ns}")),
                ns_inode(&format!("/proc/{pid}/ns/{ns}"))
            );
        }
        let mnt_before = ns_inode("/proc/self/ns/mnt");
        // SAFETY: this forked test child is single-threaded.
        unsafe {
            child
                .pidfd()
                .setns(Namespaces::UTS | Namespaces::IPC | Namespaces::NET)
        }
        .unwrap();
        for ns in ["uts", "ipc", "net"] {
            assert_eq!(
                ns_inode(&format!("/proc/self/ns/{ns}")),
                ns_inode(&format!("/proc/{pid}/ns/{ns}")),
                "{ns}"
            );
        }
        assert_eq!(ns_inode("/proc/self/ns/mnt"), mnt_before);
        child.kill().unwrap();
        child.wait().unwrap();
        // SAFETY: as above.
        let err = unsafe { child.pidfd().setns(Namespaces::UTS) }.unwrap_err();
        assert!(err.is_process_gone(), "{err}");
    });
}

#[test]
fn setns_via_pidfd_lands_in_the_right_namespaces() {
    require!(Feature::Root, Feature::Clone3);
    setns_into_child(Fork::new());
}

#[test]
fn setns_via_pidfd_rootless() {
    require!(Feature::UserNs, Feature::Clone3);
    setns_into_child(Fork::new().rootless());
}

#[test]
fn bad_open_flags_name_the_call_and_leak_nothing() {
    require!(Feature::PidfdOpen);
    Fork::new().run(|| {
        assert_no_leaks(|| {
            let err = PidFd::open(Pid::this(), PidfdFlags::from_bits_retain(0x1)).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
            assert_eq!(
                err.to_string(),
                format!(
                    "pidfd_open({}, 0x1): Invalid argument (EINVAL)",
                    Pid::this()
                )
            );
            // No such process.
            let err =
                PidFd::open(Pid::from_raw(4_194_303).unwrap(), PidfdFlags::empty()).unwrap_err();
            assert!(err.is_process_gone(), "{err}");
        });
    });
}

#[test]
fn pidfd_fd_traits() {
    require!(Feature::PidfdOpen);
    let p = PidFd::open(Pid::this(), PidfdFlags::empty()).unwrap();
    let dbg = format!("{p:?}");
    assert_eq!(dbg, format!("PidFd {{ fd: {} }}", p.as_raw_fd()));
    let q = p.try_clone().unwrap();
    assert_ne!(q.as_raw_fd(), p.as_raw_fd());
    assert!(
        rustix::io::fcntl_getfd(q.as_fd())
            .unwrap()
            .contains(rustix::io::FdFlags::CLOEXEC)
    );
    let owned: OwnedFd = q.into();
    let back = PidFd::from(owned);
    assert_eq!(back.pid().unwrap(), Pid::this());
}

#[test]
fn waiting_on_a_process_that_is_not_our_child_is_echild() {
    require!(Feature::PidfdOpen);
    // Our parent (the test runner's parent) is alive but not our child.
    let parent = Pid::from_raw(std::os::unix::process::parent_id() as i32).unwrap();
    let p = PidFd::open(parent, PidfdFlags::empty()).unwrap();
    let err = p.try_wait().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ECHILD), "{err}");
    assert!(
        err.to_string().starts_with(&format!(
            "waitid(P_PIDFD, fd {}, WEXITED|WNOHANG|__WALL)",
            p.as_raw_fd()
        )),
        "{err}"
    );
    // But its exit can still be polled for: it is alive.
    assert!(!p.poll_exit(Some(Duration::ZERO)).unwrap());
}

/// The `Pid:` and `NSpid:` lines of the pidfd's fdinfo, as read now.
fn fdinfo_pid_lines(pidfd: &PidFd) -> (String, String) {
    let s = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", pidfd.as_raw_fd())).unwrap();
    let get = |k: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(k))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    (get("Pid:"), get("NSpid:"))
}

fn zombie_then_reaped() {
    let mut child = sleeper();
    let pid = child.pid();
    child.send_signal(Signal::KILL).unwrap();
    assert!(
        child
            .pidfd()
            .poll_exit(Some(Duration::from_secs(10)))
            .unwrap()
    );
    let pidfd = child.pidfd();
    // A zombie: it holds its pid, takes signals, but its namespaces and fds are gone.
    assert_eq!(fdinfo_pid_lines(pidfd).0, pid.to_string());
    assert!(pidfd.is_alive().unwrap());
    assert_eq!(pidfd.pid().unwrap(), pid);
    assert_eq!(pidfd.pid_from_fdinfo().unwrap(), pid);
    let err = pidfd.namespace(NamespaceType::Net).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Exited, "{err}");
    assert!(err.is_exited() && !err.is_process_gone(), "{err}");
    assert_eq!(err.raw_os_error(), Some(libc::ESRCH));
    assert!(
        err.to_string().contains("exited but is not reaped yet"),
        "{err}"
    );
    let err = pidfd.get_fd(0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Exited, "{err}");
    // SAFETY: the caller runs this in a forked single-threaded child; the call fails.
    let err = unsafe { pidfd.setns(Namespaces::UTS) }.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Exited, "{err}");

    // Reaped: fdinfo shows Pid: -1 and everything is "gone".
    child.wait().unwrap();
    let pidfd = child.pidfd();
    assert_eq!(fdinfo_pid_lines(pidfd), ("-1".into(), "-1".into()));
    assert!(!pidfd.is_alive().unwrap());
    for err in [
        pidfd.pid().unwrap_err(),
        pidfd.pid_from_fdinfo().unwrap_err(),
        pidfd.namespace(NamespaceType::Net).unwrap_err(),
        pidfd.get_fd(0).unwrap_err(),
    ] {
        assert!(err.is_process_gone(), "{err}");
        assert!(err.to_string().contains("exited and reaped"), "{err}");
    }
}

#[test]
fn a_zombie_is_exited_not_reaped() {
    require!(
        Feature::PidfdNamespaces,
        Feature::PidfdGetfd,
        Feature::Clone3
    );
    Fork::new().run(zombie_then_reaped);
}

#[test]
fn a_zombie_is_exited_not_reaped_unprivileged() {
    require!(
        Feature::Root,
        Feature::PidfdNamespaces,
        Feature::PidfdGetfd,
        Feature::Clone3
    );
    Fork::new().unprivileged().run(zombie_then_reaped);
}

/// What a process in a new pid namespace sees of a pidfd for a process outside it,
/// as a list of failed checks (empty when all hold).
fn outside_process_seen_from_inside(fork: Fork) -> Vec<String> {
    fork.run(|| {
        let mut outside = sleeper();
        let fd = outside.pidfd().as_raw_fd();
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        // SAFETY: this forked test child is single-threaded, so the new process may
        // allocate; it never unwinds (every check is a value) and ends with _exit.
        match unsafe {
            CloneArgs::new()
                .flags(linception_pidfd::CloneFlags::NEWPID | linception_pidfd::CloneFlags::NEWNS)
                .fork()
        }
        .unwrap()
        {
            linception_pidfd::CloneResult::Child => {
                let failures = std::panic::catch_unwind(|| inside_checks(fd))
                    .unwrap_or_else(|_| vec!["a check panicked".into()]);
                let mut f = std::fs::File::from(w);
                let _ = f.write_all(failures.join("\n").as_bytes());
                drop(f);
                // SAFETY: ends the new process without running the parent's handlers.
                unsafe { libc::_exit(0) }
            }
            linception_pidfd::CloneResult::Parent { pidfd, .. } => {
                drop(w);
                let mut out = String::new();
                std::fs::File::from(r).read_to_string(&mut out).unwrap();
                assert_eq!(pidfd.wait().unwrap(), ExitStatus::Exited(0));
                outside.kill().unwrap();
                outside.wait().unwrap();
                out.lines().map(String::from).collect()
            }
        }
    })
}

/// Runs as pid 1 of a new pid namespace (and mount namespace) holding the inherited
/// pidfd `fd` of a process outside.
fn inside_checks(fd: i32) -> Vec<String> {
    use std::os::fd::BorrowedFd;
    let mut bad = Vec::new();
    // SAFETY: `fd` is inherited from the parent and stays open in this process.
    let pidfd = PidFd::from(
        unsafe { BorrowedFd::borrow_raw(fd) }
            .try_clone_to_owned()
            .unwrap(),
    );
    let not_visible = |what: &str, r: Result<Pid, Error>, bad: &mut Vec<String>| match r {
        Err(e) if e.kind() == ErrorKind::NotVisible => {}
        other => bad.push(format!("{what}: {other:?}")),
    };
    // With the host's /proc still mounted: no pid at our level.
    not_visible(
        "pid_from_fdinfo (host /proc)",
        pidfd.pid_from_fdinfo(),
        &mut bad,
    );
    not_visible("pid()", pidfd.pid(), &mut bad);
    match pidfd.info() {
        Err(e) if e.kind() == ErrorKind::NotVisible => {}
        other => bad.push(format!("info(): {other:?}")),
    }
    // Our own /proc: the kernel writes Pid: 0 for a process outside its namespace.
    let private = c"/";
    // SAFETY: NUL-terminated paths; this process is alone in a new mount namespace,
    // made private first so that nothing propagates out of it.
    let mounted = unsafe {
        libc::mount(
            std::ptr::null(),
            private.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) == 0
            && libc::mount(
                c"proc".as_ptr(),
                c"/proc".as_ptr(),
                c"proc".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                std::ptr::null(),
            ) == 0
    };
    if !mounted {
        bad.push(format!("mount proc: {}", std::io::Error::last_os_error()));
        return bad;
    }
    let (pid_line, nspid_line) = fdinfo_pid_lines(&pidfd);
    if (pid_line.as_str(), nspid_line.as_str()) != ("0", "0") {
        bad.push(format!(
            "fdinfo Pid: {pid_line:?} NSpid: {nspid_line:?}, expected 0 and 0"
        ));
    }
    not_visible(
        "pid_from_fdinfo (own /proc)",
        pidfd.pid_from_fdinfo(),
        &mut bad,
    );
    match pidfd.pid_from_fdinfo() {
        Err(e) if e.to_string().contains("alive but not visible") => {}
        other => bad.push(format!("message: {other:?}")),
    }
    // It is alive: not "gone", not "exited".
    if pidfd.pid().is_err_and(|e| e.is_exited()) {
        bad.push("pid() says exited".into());
    }
    bad
}

#[test]
fn an_outside_process_is_not_visible_from_a_child_pid_namespace() {
    require!(Feature::Root, Feature::PidfdInfo, Feature::Clone3);
    let bad = outside_process_seen_from_inside(Fork::new());
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn an_outside_process_is_not_visible_from_a_child_pid_namespace_rootless() {
    require!(Feature::UserNs, Feature::PidfdInfo, Feature::Clone3);
    let bad = outside_process_seen_from_inside(Fork::new().rootless());
    assert!(bad.is_empty(), "{bad:#?}");
}

fn coredump_and_supported_mask() {
    use linception_pidfd::CoredumpFlags;
    let mut child = sleeper();
    let info = child.pidfd().info().unwrap();
    assert!(
        info.mask.contains(InfoMask::PID | InfoMask::CREDS),
        "{info:?}"
    );
    // The kernel says which fields it filled: each Option follows its mask bit.
    assert_eq!(
        info.coredump.is_some(),
        info.mask.contains(InfoMask::COREDUMP)
    );
    assert_eq!(
        info.supported.is_some(),
        info.mask.contains(InfoMask::SUPPORTED_MASK)
    );
    assert_eq!(info.exit_status, None);
    assert!(!info.mask.contains(InfoMask::EXIT), "alive: no exit info");
    match child.pidfd().supported_info_mask() {
        Ok(supported) => assert!(
            supported.contains(
                InfoMask::PID
                    | InfoMask::CREDS
                    | InfoMask::CGROUPID
                    | InfoMask::EXIT
                    | InfoMask::COREDUMP
            ),
            "{supported:?}"
        ),
        Err(Error::Unsupported {
            feature,
            min_kernel,
        }) => {
            assert_eq!((feature, min_kernel), ("PIDFD_INFO_SUPPORTED_MASK", "6.19"));
            assert_eq!(info.supported, None);
        }
        Err(e) => panic!("{e}"),
    }
    let live = child.pidfd().coredump();
    let available = match &live {
        Ok(_) => Ok(()),
        Err(Error::Unsupported { .. }) => Err("the kernel does not fill it".to_string()),
        Err(e) => panic!("{e}"),
    };
    if !linception_testkit::require_custom("PIDFD_INFO_COREDUMP", "6.16", available) {
        child.kill().unwrap();
        child.wait().unwrap();
        return;
    }
    // Alive and dumpable: a dump would be written as the user, none happened yet.
    let live = live.unwrap();
    assert!(!live.dumped(), "{live:?}");
    assert!(live.flags.contains(CoredumpFlags::USER), "{live:?}");
    assert_eq!(info.coredump, Some(live));
    // Killed by SIGKILL and reaped: the exit status and "no core dump".
    child.kill().unwrap();
    child.wait().unwrap();
    let info = child.pidfd().info().unwrap();
    assert!(
        info.mask.contains(InfoMask::EXIT | InfoMask::COREDUMP),
        "{info:?}"
    );
    assert_eq!(
        info.exit_status,
        Some(ExitStatus::Signaled {
            signal: Signal::KILL,
            core_dumped: false
        })
    );
    let dead = child.pidfd().coredump().unwrap();
    assert!(!dead.dumped(), "{dead:?}");
    assert!(!dead.flags.contains(CoredumpFlags::COREDUMPED));
    assert_eq!(dead.signal, None);
    assert_eq!(info.pid, None);
}

#[test]
fn info_reports_coredump_state_and_supported_mask() {
    require!(Feature::PidfdInfo, Feature::Clone3);
    Fork::new().run(coredump_and_supported_mask);
}

#[test]
fn info_reports_coredump_state_and_supported_mask_unprivileged() {
    require!(Feature::Root, Feature::PidfdInfo, Feature::Clone3);
    Fork::new().unprivileged().run(coredump_and_supported_mask);
}

/// `PidFd::setns` refuses before the call exactly the namespace sets the kernel
/// refuses with EINVAL: each single bit, in a grandchild per attempt, against a
/// target in new namespaces of every type that the caller owns.
fn setns_flags_against_the_kernel() -> Vec<String> {
    let target = CloneArgs::new()
        .namespaces(Namespaces::all())
        .spawn(&Exec::new("/bin/sleep").arg("30"))
        .unwrap();
    let fd = target.pidfd().as_raw_fd();
    // Runs `f` in a forked grandchild and returns its exit code.
    let in_grandchild = |f: &dyn Fn() -> i32| -> i32 {
        // SAFETY: this forked test child is single-threaded; the grandchild only
        // runs `f` and leaves with _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let code = f();
            // SAFETY: ends the grandchild without running the parent's handlers.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waits for our own child into a local.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        libc::WEXITSTATUS(status)
    };
    let mut bad = Vec::new();
    for bit in 0..32 {
        let flags = 1u32 << bit;
        let kernel = in_grandchild(&|| {
            // SAFETY: plain setns on an inherited pidfd, in the grandchild only.
            if unsafe { libc::setns(fd, flags as libc::c_int) } == 0 {
                0
            } else {
                std::io::Error::last_os_error()
                    .raw_os_error()
                    .unwrap_or(255)
            }
        });
        let ours = in_grandchild(&|| {
            // SAFETY: in the single-threaded grandchild only.
            match unsafe { target.pidfd().setns(Namespaces::from_bits_retain(flags)) } {
                Err(e) if e.kind() == ErrorKind::InvalidArgument => 1,
                _ => 0,
            }
        });
        if (kernel == libc::EINVAL) != (ours == 1) {
            bad.push(format!(
                "setns flags {flags:#x}: kernel errno {kernel}, refused before the call: {}",
                ours == 1
            ));
        }
        if kernel != libc::EINVAL && kernel != 0 {
            bad.push(format!("setns flags {flags:#x}: kernel errno {kernel}"));
        }
    }
    // SAFETY: the empty set is refused before the call.
    let err = unsafe { target.pidfd().setns(Namespaces::empty()) }.unwrap_err();
    if err.kind() != ErrorKind::InvalidArgument {
        bad.push(format!("empty set: {err}"));
    }
    let mut target = target;
    target.kill().unwrap();
    target.wait().unwrap();
    bad
}

#[test]
fn setns_namespace_sets_agree_with_the_kernel_rootless() {
    require!(Feature::UserNs, Feature::TimeNs, Feature::Clone3);
    let bad = Fork::new().rootless().run(setns_flags_against_the_kernel);
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn setns_namespace_sets_agree_with_the_kernel_as_root() {
    require!(Feature::Root, Feature::TimeNs, Feature::Clone3);
    let bad = Fork::new().run(setns_flags_against_the_kernel);
    assert!(bad.is_empty(), "{bad:#?}");
}

/// Exit information after reaping reaches a process that is not the parent: the
/// parent reaps, a sibling holding a copy of the pidfd still learns the status.
fn exit_info_for_a_non_parent() {
    let child = CloneArgs::new()
        .spawn(&Exec::new("/bin/sh").args(["-c", "sleep 0.2; exit 17"]))
        .unwrap();
    let fd = child.pidfd().as_raw_fd();
    assert_eq!(child.pidfd().exit_info().unwrap(), None, "running");
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    // SAFETY: this forked test child is single-threaded; the observer below only
    // polls, asks for exit info, writes one byte and _exits.
    let observer = unsafe { libc::fork() };
    if observer == 0 {
        use std::os::fd::BorrowedFd;
        // SAFETY: `fd` was inherited and stays open in this process.
        let copy = PidFd::from(
            unsafe { BorrowedFd::borrow_raw(fd) }
                .try_clone_to_owned()
                .unwrap(),
        );
        // Not our child: we cannot wait, but we can see it exit...
        let ok_wait = copy
            .try_wait()
            .is_err_and(|e| e.raw_os_error() == Some(libc::ECHILD));
        let _ = copy.poll_exit(Some(Duration::from_secs(10)));
        // ...and, once the parent reaped it, how it ended.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        // Between the reap and the exit information becoming visible the kernel
        // may answer ESRCH for a moment: asked again until the deadline.
        let code = loop {
            match copy.exit_info() {
                Ok(Some(ExitStatus::Exited(c))) => break c,
                Ok(None) | Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                _ => break -1,
            }
        };
        let byte = [if ok_wait { code as u8 } else { 0 }];
        let _ = rustix::io::write(&w, &byte);
        // SAFETY: ends the observer without running the parent's handlers.
        unsafe { libc::_exit(0) };
    }
    drop(w);
    let mut child = child;
    assert_eq!(child.wait().unwrap(), ExitStatus::Exited(17));
    let mut got = [0u8; 1];
    std::fs::File::from(r).read_exact(&mut got).unwrap();
    let mut status = 0;
    // SAFETY: waiting for our own observer process into a local.
    unsafe { libc::waitpid(observer, &mut status, 0) };
    assert_eq!(got[0], 17, "the observer's view of the exit code");
    assert_eq!(
        child.pidfd().exit_info().unwrap(),
        Some(ExitStatus::Exited(17))
    );
}

#[test]
fn exit_info_after_reaping_reaches_a_non_parent() {
    require!(Feature::PidfdInfo, Feature::Clone3);
    Fork::new().run(exit_info_for_a_non_parent);
}

#[test]
fn exit_info_after_reaping_reaches_a_non_parent_unprivileged() {
    require!(Feature::Root, Feature::PidfdInfo, Feature::Clone3);
    Fork::new().unprivileged().run(exit_info_for_a_non_parent);
}
