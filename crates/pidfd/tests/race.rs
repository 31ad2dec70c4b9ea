//! A waiting thread and a killing thread racing over many short-lived children.
//!
//! Allowed outcomes for every signal: delivered to the intended child (before it is
//! reaped) or `ProcessGone`. Never another process, even when the pid is taken over
//! by a new process at once (forced with set_tid), never a hang, never a leaked fd.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use linception_pidfd::{CloneArgs, Error, Exec, ExitStatus, Signal};
use linception_testkit::{Feature, Fork, leaks::assert_no_leaks, require};

const BUDGET: Duration = Duration::from_secs(2);

/// One round: spawn a victim, race a killer against a waiter; the waiter, once it
/// has reaped the victim, immediately starts a successor with the same pid when
/// `reuse_pid` (root only). Returns whether the pid was really reused.
fn round(reuse_pid: bool) -> bool {
    let victim = CloneArgs::new()
        .spawn(&Exec::new("/bin/sleep").arg("30"))
        .unwrap();
    let pid = victim.pid();
    let pidfd = Arc::new(victim.into_pidfd());
    let start = Arc::new(Barrier::new(2));

    let killer = {
        let (pidfd, start) = (pidfd.clone(), start.clone());
        std::thread::spawn(move || {
            start.wait();
            let mut delivered = 0u32;
            // Keep signalling until the kernel says the process is gone, then a few
            // more times: the later ones race with the successor's birth.
            let mut after_gone = 0;
            while after_gone < 200 {
                match pidfd.send_signal(Signal::KILL) {
                    Ok(()) => delivered += 1,
                    Err(Error::ProcessGone { .. }) => after_gone += 1,
                    Err(e) => panic!("unexpected signal error: {e}"),
                }
            }
            delivered
        })
    };
    let waiter = {
        let (pidfd, start) = (pidfd.clone(), start.clone());
        std::thread::spawn(move || {
            start.wait();
            let st = pidfd.wait().unwrap();
            let successor = if reuse_pid {
                match CloneArgs::new()
                    .set_tid([pid.as_raw()])
                    .spawn(&Exec::new("/bin/sleep").arg("30"))
                {
                    Ok(c) => Some(c),
                    Err(Error::PidTaken { .. }) => None,
                    Err(e) => panic!("{e}"),
                }
            } else {
                None
            };
            (st, successor)
        })
    };
    let delivered = killer.join().unwrap();
    let (st, successor) = waiter.join().unwrap();
    assert!(delivered >= 1, "the victim could only die from our SIGKILL");
    assert_eq!(
        st,
        ExitStatus::Signaled {
            signal: Signal::KILL,
            core_dumped: false
        }
    );
    assert!(
        pidfd
            .send_signal(Signal::KILL)
            .unwrap_err()
            .is_process_gone()
    );
    match successor {
        Some(mut s) => {
            assert_eq!(s.pid(), pid);
            // Not hit by any of the killer's signals.
            assert_eq!(
                s.try_wait().unwrap(),
                None,
                "the pid's new owner was signalled"
            );
            s.send_signal(Signal::TERM).unwrap();
            assert_eq!(s.wait().unwrap().signal(), Some(Signal::TERM));
            true
        }
        None => false,
    }
}

fn race(reuse_pid: bool) -> (u32, u32) {
    assert_no_leaks(|| {
        let t0 = Instant::now();
        let (mut rounds, mut reused) = (0, 0);
        while t0.elapsed() < BUDGET && rounds < 300 {
            reused += u32::from(round(reuse_pid));
            rounds += 1;
        }
        (rounds, reused)
    })
}

#[test]
fn wait_and_kill_race_with_pid_reuse() {
    require!(Feature::Root, Feature::SetTid);
    let (rounds, reused) = Fork::new()
        .timeout(Duration::from_secs(30))
        .run(|| race(true));
    eprintln!("{rounds} rounds, pid reused in {reused}");
    assert!(rounds >= 10, "only {rounds} rounds in {BUDGET:?}");
    assert!(
        reused * 2 >= rounds,
        "pid reuse forced in only {reused} of {rounds} rounds"
    );
}

#[test]
fn wait_and_kill_race_unprivileged() {
    require!(Feature::Root, Feature::Clone3);
    let (rounds, _) = Fork::new()
        .unprivileged()
        .timeout(Duration::from_secs(30))
        .run(|| race(false));
    assert!(rounds >= 10, "only {rounds} rounds in {BUDGET:?}");
}
