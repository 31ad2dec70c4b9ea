//! `PidFd::waitid` against the real kernel: stops, continues, exits, kills, NOWAIT,
//! NOHANG, and the siginfo fields.

use std::time::Duration;

use linception_pidfd::{
    ChildCode, CloneArgs, ErrorKind, Exec, ExitStatus, GetfdFlags, Signal, WaitOptions,
};
use linception_testkit::{Feature, Fork, leaks::assert_no_leaks, require};

fn euid() -> u32 {
    rustix::process::getuid().as_raw()
}

fn stop_continue_exit() {
    let mut child = CloneArgs::new()
        .spawn(&Exec::new("/bin/sleep").arg("30"))
        .unwrap();
    let pid = child.pid();
    let pidfd = child.pidfd();
    // Nothing to report yet.
    assert_eq!(
        pidfd
            .waitid(
                WaitOptions::STOPPED
                    | WaitOptions::CONTINUED
                    | WaitOptions::EXITED
                    | WaitOptions::NOHANG
            )
            .unwrap(),
        None
    );
    child.send_signal(Signal::STOP).unwrap();
    let pidfd = child.pidfd();
    let st = pidfd.waitid(WaitOptions::STOPPED).unwrap().unwrap();
    assert_eq!(st.code, ChildCode::Stopped);
    assert_eq!(st.status, libc::SIGSTOP);
    assert_eq!(st.signal(), Some(Signal::STOP));
    assert_eq!(st.pid, pid);
    assert_eq!(st.uid, euid());
    assert_eq!(st.exit_status(), None);
    // The stop was consumed: no second report.
    assert_eq!(
        pidfd
            .waitid(WaitOptions::STOPPED | WaitOptions::NOHANG)
            .unwrap(),
        None
    );
    child.send_signal(Signal::CONT).unwrap();
    let pidfd = child.pidfd();
    let st = pidfd.waitid(WaitOptions::CONTINUED).unwrap().unwrap();
    assert_eq!(st.code, ChildCode::Continued);
    assert_eq!(st.signal(), Some(Signal::CONT));
    assert_eq!(st.code.to_string(), "CLD_CONTINUED");
    child.send_signal(Signal::KILL).unwrap();
    let pidfd = child.pidfd();
    // NOWAIT reports the death without reaping: twice the same answer.
    for _ in 0..2 {
        let st = pidfd
            .waitid(WaitOptions::EXITED | WaitOptions::NOWAIT)
            .unwrap()
            .unwrap();
        assert_eq!(st.code, ChildCode::Killed);
        assert_eq!(st.status, libc::SIGKILL);
        assert_eq!(
            st.exit_status(),
            Some(ExitStatus::Signaled {
                signal: Signal::KILL,
                core_dumped: false
            })
        );
        assert!(pidfd.is_alive().unwrap(), "NOWAIT reaped it");
    }
    // The existing API still reaps it.
    assert_eq!(child.wait().unwrap().signal(), Some(Signal::KILL));
    let err = child.pidfd().waitid(WaitOptions::EXITED).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ECHILD), "{err}");
    assert!(
        err.to_string()
            .contains("WEXITED|__WALL): No child processes (ECHILD)"),
        "{err}"
    );

    // A normal exit: the code in si_status.
    let child = CloneArgs::new()
        .spawn(&Exec::new("/bin/sh").args(["-c", "exit 9"]))
        .unwrap();
    let pidfd = child.into_pidfd();
    assert!(pidfd.poll_exit(Some(Duration::from_secs(10))).unwrap());
    let st = pidfd
        .waitid(WaitOptions::EXITED | WaitOptions::NOHANG)
        .unwrap()
        .unwrap();
    assert_eq!((st.code, st.status), (ChildCode::Exited, 9));
    assert_eq!(st.exit_status(), Some(ExitStatus::Exited(9)));
    assert_eq!(st.signal(), None);
}

#[test]
fn waitid_reports_stop_continue_and_exit() {
    require!(Feature::Clone3);
    Fork::new().run(stop_continue_exit);
}

#[test]
fn waitid_reports_stop_continue_and_exit_unprivileged() {
    require!(Feature::Root, Feature::Clone3);
    Fork::new().unprivileged().run(stop_continue_exit);
}

#[test]
fn waitid_reports_stop_continue_and_exit_rootless() {
    require!(Feature::UserNs, Feature::Clone3);
    Fork::new().rootless().run(stop_continue_exit);
}

#[test]
fn waitid_without_an_event_is_refused_before_the_call() {
    require!(Feature::PidfdOpen);
    let me = linception_pidfd::PidFd::open(
        linception_pidfd::Pid::this(),
        linception_pidfd::PidfdFlags::empty(),
    )
    .unwrap();
    for opts in [
        WaitOptions::empty(),
        WaitOptions::NOHANG | WaitOptions::NOWAIT,
    ] {
        let err = me.waitid(opts).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        assert!(err.to_string().contains("at least one of WEXITED"), "{err}");
    }
    // The kernel's own refusal of an unknown option bit is reported with the call.
    let err = me
        .waitid(WaitOptions::EXITED | WaitOptions::from_bits_retain(0x10))
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
    assert!(err.to_string().contains("WEXITED|__WALL|0x10)"), "{err}");
}

#[test]
fn getfd_flags_are_typed_and_checked_by_the_kernel() {
    require!(Feature::PidfdGetfd, Feature::Clone3);
    Fork::new().run(|| {
        let mut child = CloneArgs::new()
            .spawn(&Exec::new("/bin/sleep").arg("30"))
            .unwrap();
        assert_no_leaks(|| {
            let fd = child.pidfd().get_fd_with(0, GetfdFlags::empty()).unwrap();
            drop(fd);
            // Every flag bit is reserved today.
            for bit in 0..32 {
                let err = child
                    .pidfd()
                    .get_fd_with(0, GetfdFlags::from_bits_retain(1 << bit))
                    .unwrap_err();
                assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "bit {bit}: {err}");
                assert!(
                    err.to_string()
                        .contains(&format!(", 0, {:#x})", 1u32 << bit)),
                    "{err}"
                );
            }
        });
        child.kill().unwrap();
        child.wait().unwrap();
    });
}
