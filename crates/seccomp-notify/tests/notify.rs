//! User notification against the real kernel: filtered code always runs in a
//! grandchild of a testkit Fork child, which supervises it unfiltered.
// The filtered grandchildren make raw syscalls (libc: chdir, fcntl, write, signals),
// so that the call trapped is exactly the one written here.
#![allow(unsafe_code)]

mod common;

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Exit, getppid, getppid_with, spawn_filtered, wait};
use linception_seccomp_notify::{
    Action, AddFd, Error, ErrorKind, Filter, FilterFlags, Listener, NoNewPrivs, Response,
};
use linception_testkit::{Feature, Fork, leaks::assert_no_leaks, require};

fn notify_getppid() -> linception_seccomp_notify::Program {
    Filter::new(Action::Allow)
        .rule("getppid", Action::UserNotif)
        .compile()
        .unwrap()
}

/// Supervises `work` (run filtered) with `handler`; returns its exit and the stats.
fn supervise(
    work: impl FnOnce() -> i32,
    handler: impl FnMut(&Listener, &linception_seccomp_notify::Notification) -> Response,
) -> (Exit, u64, u64) {
    let child = spawn_filtered(&notify_getppid(), FilterFlags::NEW_LISTENER, work);
    let listener = child.listener.unwrap();
    let stats = listener.serve(handler).unwrap();
    (wait(child.pid), stats.answered, stats.gone)
}

#[test]
fn errno_value_and_continue_answers() {
    require!(Feature::SeccompListener);
    let out = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let me = std::process::id() as i64;
        let errno = supervise(
            || (getppid() == -(libc::EPERM as i64)) as i32,
            |_, _| Response::Errno(libc::EPERM),
        );
        let value = supervise(|| (getppid() == 4242) as i32, |_, _| Response::Value(4242));
        let cont = supervise(
            move || (getppid() == me) as i32,
            |l, n| {
                // The low-level call, not the loop's answer.
                l.respond_continue(n.id).unwrap();
                Response::Answered
            },
        );
        (errno, value, cont)
    });
    assert_eq!(out.0, (Exit::Code(1), 1, 0), "errno");
    assert_eq!(out.1, (Exit::Code(1), 1, 0), "value");
    assert_eq!(out.2, (Exit::Code(1), 1, 0), "continue");
}

#[test]
fn notification_fields_name_the_call() {
    require!(Feature::SeccompListener);
    let (nr, arch, args, pid_ok) = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let mut seen = None;
        let child = spawn_filtered(&notify_getppid(), FilterFlags::NEW_LISTENER, || {
            (getppid_with([1, 2, 3, 4, 5, u64::MAX]) == 9) as i32
        });
        let listener = child.listener.unwrap();
        let pid = child.pid as u32;
        listener
            .serve(|_, n| {
                seen = Some((
                    n.nr as i64,
                    n.arch,
                    n.args.to_vec(),
                    n.pid == pid && n.instruction_pointer != 0,
                ));
                Response::Value(9)
            })
            .unwrap();
        assert_eq!(wait(child.pid), Exit::Code(1));
        seen.unwrap()
    });
    assert_eq!(nr, libc::SYS_getppid);
    assert_eq!(
        arch,
        linception_seccomp_notify::Arch::native()
            .unwrap()
            .audit_arch()
    );
    assert_eq!(args, vec![1, 2, 3, 4, 5, u64::MAX]);
    assert!(pid_ok, "pid and instruction pointer");
}

#[test]
fn add_fd_at_a_number_with_cloexec_and_with_send() {
    require!(Feature::SeccompListener);
    let (exit, results) = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        // A pipe whose write end the caller receives twice.
        let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let child = spawn_filtered(&notify_getppid(), FilterFlags::NEW_LISTENER, || {
            // 1st: fd placed at 40 with O_CLOEXEC, answered 0.
            let first = getppid();
            // SAFETY: fcntl on a plain fd number.
            let flags = unsafe { libc::fcntl(40, libc::F_GETFD) };
            // 2nd: fd added and the call answered with its number (SEND).
            let second = getppid();
            let wrote = |fd: i32, b: &[u8]| {
                // SAFETY: `b` is a valid buffer.
                unsafe { libc::write(fd, b.as_ptr().cast(), b.len()) == b.len() as isize }
            };
            let ok = first == 0
                && flags == libc::FD_CLOEXEC
                && second > 2
                && second != 40
                && wrote(40, b"a")
                && wrote(second as i32, b"b");
            ok as i32
        });
        let listener = child.listener.unwrap();
        let mut calls = 0;
        let mut results = Vec::new();
        listener
            .serve(|l, n| {
                calls += 1;
                if calls == 1 {
                    let at = l
                        .add_fd(n.id, AddFd::new(write.as_fd()).at(40).cloexec())
                        .unwrap();
                    results.push(at as i64);
                    Response::Value(0)
                } else {
                    let at = l.add_fd(n.id, AddFd::new(write.as_fd()).send()).unwrap();
                    results.push(at as i64);
                    Response::Answered
                }
            })
            .unwrap();
        drop(write);
        let mut buf = [0u8; 4];
        let n = rustix::io::read(&read, &mut buf).unwrap();
        results.push(i64::from(&buf[..n] == b"ab"));
        (wait(child.pid), results)
    });
    assert_eq!(exit, Exit::Code(1));
    assert_eq!(results[0], 40);
    assert!(results[1] > 2);
    assert_eq!(results[2], 1, "the caller wrote through both injected fds");
}

#[test]
fn caller_killed_while_pending_respond_is_notification_gone() {
    require!(Feature::SeccompListener, Feature::PidfdOpen);
    let (err, valid_after, exit) = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let child = spawn_filtered(&notify_getppid(), FilterFlags::NEW_LISTENER, || {
            getppid();
            0
        });
        let listener = child.listener.unwrap();
        let notif = listener.recv().unwrap();
        assert!(listener.id_valid(notif.id).unwrap());
        let pidfd = rustix::process::pidfd_open(
            rustix::process::Pid::from_raw(child.pid).unwrap(),
            rustix::process::PidfdFlags::empty(),
        )
        .unwrap();
        rustix::process::pidfd_send_signal(&pidfd, rustix::process::Signal::KILL).unwrap();
        let exit = wait(child.pid);
        let err = listener.respond_value(notif.id, 1).unwrap_err();
        let described = format!("{err} / {:?} / {:?}", err.kind(), err.raw_os_error());
        let gone = matches!(err, Error::NotificationGone { id } if id == notif.id);
        (
            (gone, described),
            listener.id_valid(notif.id).unwrap(),
            exit,
        )
    });
    assert!(err.0, "expected NotificationGone, got {}", err.1);
    assert!(
        err.1.contains("ENOENT") && err.1.contains("NotificationGone"),
        "{}",
        err.1
    );
    assert!(!valid_after);
    assert_eq!(exit, Exit::Signal(libc::SIGKILL));
}

#[test]
fn serve_goes_on_after_a_caller_dies_mid_call() {
    require!(Feature::SeccompListener, Feature::PidfdOpen);
    let (exit, answered, gone) = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let child = spawn_filtered(&notify_getppid(), FilterFlags::NEW_LISTENER, || {
            // A victim (inheriting the filter) calls first; once it is dead, we call.
            // SAFETY: the grandchild is single-threaded.
            let victim = unsafe { libc::fork() };
            if victim == 0 {
                getppid();
                // SAFETY: leave without the parent's code.
                unsafe { libc::_exit(0) };
            }
            let killed = wait(victim) == Exit::Signal(libc::SIGKILL);
            (killed && getppid() == 7) as i32
        });
        let listener = child.listener.unwrap();
        let mut first = true;
        let stats = listener
            .serve(|l, n| {
                if std::mem::take(&mut first) {
                    let pidfd = rustix::process::pidfd_open(
                        rustix::process::Pid::from_raw(n.pid as i32).unwrap(),
                        rustix::process::PidfdFlags::empty(),
                    )
                    .unwrap();
                    rustix::process::pidfd_send_signal(&pidfd, rustix::process::Signal::KILL)
                        .unwrap();
                    let deadline = Instant::now() + Duration::from_secs(5);
                    while l.id_valid(n.id).unwrap() {
                        assert!(Instant::now() < deadline, "victim did not die");
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Response::Value(1)
                } else {
                    Response::Value(7)
                }
            })
            .unwrap();
        (wait(child.pid), stats.answered, stats.gone)
    });
    assert_eq!(exit, Exit::Code(1));
    assert_eq!((answered, gone), (1, 1));
}

#[test]
fn many_threads_hammering_every_call_answered_exactly_once() {
    require!(Feature::SeccompListener);
    const THREADS: u64 = 8;
    const CALLS: u64 = 1500;
    let (exit, answered, gone, elapsed_ms) =
        Fork::new().timeout(Duration::from_secs(30)).run(|| {
            let start = Instant::now();
            let child = spawn_filtered(&notify_getppid(), FilterFlags::NEW_LISTENER, || {
                let handles: Vec<_> = (0..THREADS)
                    .map(|_| {
                        std::thread::spawn(|| (0..CALLS).map(|_| getppid()).collect::<Vec<i64>>())
                    })
                    .collect();
                let mut all: Vec<i64> = handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap())
                    .collect();
                all.sort_unstable();
                // Every answer distinct, and exactly the values 1..=THREADS*CALLS.
                let want: Vec<i64> = (1..=(THREADS * CALLS) as i64).collect();
                (all == want) as i32
            });
            let listener = child.listener.unwrap();
            let counter = AtomicU64::new(0);
            let stats = listener
                .serve(|_, _| Response::Value(counter.fetch_add(1, Ordering::Relaxed) as i64 + 1))
                .unwrap();
            (
                wait(child.pid),
                stats.answered,
                stats.gone,
                start.elapsed().as_millis() as u64,
            )
        });
    assert_eq!(
        exit,
        Exit::Code(1),
        "every thread got distinct answers 1..=N"
    );
    assert_eq!((answered, gone), (THREADS * CALLS, 0));
    assert!(elapsed_ms < 5_000, "took {elapsed_ms} ms");
}

#[test]
fn read_string_and_value_from_the_callers_memory() {
    require!(Feature::SeccompListener);
    let (exit, path, value) = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let program = Filter::new(Action::Allow)
            .rule("chdir", Action::UserNotif)
            .rule_if(
                "write",
                [linception_seccomp_notify::Condition::new32(
                    0,
                    linception_seccomp_notify::Cmp::Eq(99),
                )],
                Action::UserNotif,
            )
            .compile()
            .unwrap();
        let child = spawn_filtered(&program, FilterFlags::NEW_LISTENER, || {
            let path = c"/linception/not/a/dir";
            // SAFETY: a valid NUL-terminated path.
            let ret = unsafe { libc::chdir(path.as_ptr()) };
            let word: u64 = 0x1122_3344_5566_7788;
            let bytes = word.to_ne_bytes();
            // SAFETY: a valid buffer of 8 bytes.
            let wrote = unsafe { libc::write(99, bytes.as_ptr().cast(), 8) };
            (ret == 21 && wrote == 8) as i32
        });
        let listener = child.listener.unwrap();
        let mut path = String::new();
        let mut value = 0u64;
        listener
            .serve(|l, n| {
                if n.nr as i64 == libc::SYS_chdir {
                    let s = l.read_cstring(n, n.args[0], 4096).unwrap();
                    path = s.to_string_lossy().into_owned();
                    Response::Value(path.len() as i64)
                } else {
                    value = l.read_value::<u64>(n, n.args[1]).unwrap();
                    let mut buf = [0u8; 8];
                    l.read_memory(n, n.args[1], &mut buf).unwrap();
                    assert_eq!(u64::from_ne_bytes(buf), value);
                    // Too short a limit is a named error.
                    Response::Value(n.args[2] as i64)
                }
            })
            .unwrap();
        (wait(child.pid), path, value)
    });
    assert_eq!(exit, Exit::Code(1));
    assert_eq!(path, "/linception/not/a/dir");
    assert_eq!(value, 0x1122_3344_5566_7788);
}

#[test]
fn string_longer_than_the_limit_is_a_named_error() {
    require!(Feature::SeccompListener);
    let msg = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let program = Filter::new(Action::Allow)
            .rule("chdir", Action::UserNotif)
            .compile()
            .unwrap();
        let child = spawn_filtered(&program, FilterFlags::NEW_LISTENER, || {
            // SAFETY: a valid NUL-terminated path.
            unsafe { libc::chdir(c"/a/rather/long/path".as_ptr()) };
            0
        });
        let listener = child.listener.unwrap();
        let mut msg = String::new();
        listener
            .serve(|l, n| {
                let err = l.read_cstring(n, n.args[0], 4).unwrap_err();
                assert!(matches!(err, Error::StringTooLong { max: 4, .. }));
                msg = err.to_string();
                Response::Errno(libc::ENOENT)
            })
            .unwrap();
        wait(child.pid);
        msg
    });
    assert!(msg.contains("no NUL byte within 4 bytes"), "{msg}");
}

#[test]
fn sync_wake_up_is_on_by_default() {
    require!(Feature::SeccompListener, Feature::SeccompSyncWakeUp);
    let (supported, explicit) = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let child = spawn_filtered(&notify_getppid(), FilterFlags::NEW_LISTENER, || {
            (getppid() == 3) as i32
        });
        let listener = child.listener.unwrap();
        let supported = Listener::sync_wakeup_supported();
        let explicit = listener.set_sync_wakeup().is_ok();
        listener.serve(|_, _| Response::Value(3)).unwrap();
        assert_eq!(wait(child.pid), Exit::Code(1));
        (supported, explicit)
    });
    assert_eq!(supported, Some(true));
    assert!(explicit);
}

#[test]
fn rootless_install_needs_no_new_privs_and_then_works() {
    require!(Feature::Root, Feature::SeccompListener);
    let (keep_err, exit, answered) = Fork::new()
        .timeout(Duration::from_secs(20))
        .unprivileged()
        .run(|| {
            let program = notify_getppid();
            // Without no_new_privs and without CAP_SYS_ADMIN: refused, nothing installed,
            // no fd left behind.
            let keep_err = assert_no_leaks(|| {
                let err = program
                    .install(FilterFlags::NEW_LISTENER, NoNewPrivs::Keep)
                    .unwrap_err();
                (
                    matches!(err, Error::NoNewPrivs),
                    err.kind() == ErrorKind::PermissionDenied,
                    err.to_string(),
                )
            });
            // The helper sets no_new_privs in the grandchild.
            let (exit, answered, _) =
                supervise(|| (getppid() == 11) as i32, |_, _| Response::Value(11));
            (keep_err, exit, answered)
        });
    assert!(keep_err.0 && keep_err.1, "{}", keep_err.2);
    assert!(keep_err.2.contains("no_new_privs"), "{}", keep_err.2);
    assert_eq!((exit, answered), (Exit::Code(1), 1));
}

#[test]
fn notify_without_listener_and_bad_fd_passing_are_refused_without_leaks() {
    let (a, b) = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        assert_no_leaks(|| {
            let err = notify_getppid()
                .install(FilterFlags::empty(), NoNewPrivs::Keep)
                .unwrap_err();
            let a = matches!(err, Error::NotifyWithoutListener);
            // A message without SCM_RIGHTS.
            let (x, y) = rustix::net::socketpair(
                rustix::net::AddressFamily::UNIX,
                rustix::net::SocketType::STREAM,
                rustix::net::SocketFlags::CLOEXEC,
                None,
            )
            .unwrap();
            rustix::io::write(&x, b"z").unwrap();
            let err = linception_seccomp_notify::recv_fd(&y).unwrap_err();
            let b = matches!(err, Error::NoFdReceived { fd } if fd == y.as_raw_fd());
            (a, b)
        })
    });
    assert!(a && b);
}

#[test]
fn listener_fd_type_conversions() {
    require!(Feature::SeccompListener);
    let ok = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let child = spawn_filtered(&notify_getppid(), FilterFlags::NEW_LISTENER, || {
            (getppid() == 5) as i32
        });
        let listener = child.listener.unwrap();
        let clone = listener.try_clone().unwrap();
        let debug = format!("{clone:?}");
        let fd: OwnedFd = clone.into();
        let again = Listener::from(fd);
        let shown = debug.contains(&format!("fd: {}", again.as_raw_fd()));
        // Answer through the clone, then the loop sees the filter close.
        let n = again.recv().unwrap();
        again.respond_value(n.id, 5).unwrap();
        let stats = listener.serve(|_, _| Response::Value(0)).unwrap();
        shown && stats.answered == 0 && wait(child.pid) == Exit::Code(1)
    });
    assert!(ok);
}

#[cfg(feature = "tokio")]
#[test]
fn async_listener_receives_and_sees_the_filter_close() {
    require!(Feature::SeccompListener);
    let (exit, answered, closed) = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let child = spawn_filtered(&notify_getppid(), FilterFlags::NEW_LISTENER, || {
            (getppid() == 1 && getppid() == 2) as i32
        });
        let listener = child.listener.unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (answered, closed) = rt.block_on(async move {
            let listener = linception_seccomp_notify::AsyncListener::new(listener).unwrap();
            let mut answered = 0;
            loop {
                match listener.recv().await {
                    Ok(n) => {
                        answered += 1;
                        listener.get_ref().respond_value(n.id, answered).unwrap();
                    }
                    Err(Error::Closed) => break (answered, true),
                    Err(Error::NotificationGone { .. }) => continue,
                    Err(e) => panic!("{e}"),
                }
            }
        });
        (wait(child.pid), answered, closed)
    });
    assert_eq!(exit, Exit::Code(1));
    assert_eq!(answered, 2);
    assert!(closed);
}

extern "C" fn on_usr1(_: libc::c_int) {}

#[test]
fn serve_survives_signals_interrupting_its_wait() {
    require!(Feature::SeccompListener);
    let (exit, answered, interrupts) = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        // A handler without SA_RESTART: poll() returns EINTR.
        // SAFETY: a zeroed sigaction with a valid handler address.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_usr1 as *const () as usize;
            assert_eq!(
                libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()),
                0
            );
        }
        let child = spawn_filtered(&notify_getppid(), FilterFlags::NEW_LISTENER, || {
            std::thread::sleep(Duration::from_millis(300));
            (getppid() == 17) as i32
        });
        let listener = child.listener.unwrap();
        // SAFETY: pthread_self cannot fail.
        let me = unsafe { libc::pthread_self() } as usize;
        let pinger = std::thread::spawn(move || {
            let mut sent = 0u64;
            for _ in 0..10 {
                std::thread::sleep(Duration::from_millis(20));
                // SAFETY: `me` is the live serving thread, joined after this thread.
                if unsafe { libc::pthread_kill(me as libc::pthread_t, libc::SIGUSR1) } == 0 {
                    sent += 1;
                }
            }
            sent
        });
        let stats = listener.serve(|_, _| Response::Value(17)).unwrap();
        (wait(child.pid), stats.answered, pinger.join().unwrap())
    });
    assert_eq!(exit, Exit::Code(1));
    assert_eq!(answered, 1);
    assert_eq!(interrupts, 10, "signals were delivered while serving");
}

#[test]
fn an_unknown_filter_flag_is_a_described_einval_and_leaks_nothing() {
    let msg = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        assert_no_leaks(|| {
            let program = Filter::new(Action::Allow).compile().unwrap();
            let err = program
                .install(FilterFlags::from_bits_retain(1 << 20), NoNewPrivs::Set)
                .unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
            // Nothing was installed: getppid still works.
            assert!(getppid() > 0);
            err.to_string()
        })
    });
    assert!(
        msg.starts_with("seccomp(SECCOMP_SET_MODE_FILTER, FilterFlags(0x100000), {len: ")
            && msg.contains("(EINVAL)"),
        "{msg}"
    );
}

#[test]
fn id_valid_is_false_for_an_unknown_id() {
    require!(Feature::SeccompListener);
    let out = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let child = spawn_filtered(&notify_getppid(), FilterFlags::NEW_LISTENER, || {
            (getppid() == 1) as i32
        });
        let listener = child.listener.unwrap();
        let n = listener.recv().unwrap();
        let bogus = listener.id_valid(n.id.wrapping_add(1000)).unwrap();
        let real = listener.id_valid(n.id).unwrap();
        listener.respond_value(n.id, 1).unwrap();
        let after = listener.id_valid(n.id).unwrap();
        (bogus, real, after, wait(child.pid))
    });
    assert_eq!(out, (false, true, false, Exit::Code(1)));
}

#[test]
fn reading_the_memory_of_a_dead_caller_is_notification_gone() {
    require!(Feature::SeccompListener, Feature::PidfdOpen);
    let gone = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let program = Filter::new(Action::Allow)
            .rule("chdir", Action::UserNotif)
            .compile()
            .unwrap();
        let child = spawn_filtered(&program, FilterFlags::NEW_LISTENER, || {
            // SAFETY: a valid NUL-terminated path.
            unsafe { libc::chdir(c"/tmp".as_ptr()) };
            0
        });
        let listener = child.listener.unwrap();
        let n = listener.recv().unwrap();
        let pidfd = rustix::process::pidfd_open(
            rustix::process::Pid::from_raw(child.pid).unwrap(),
            rustix::process::PidfdFlags::empty(),
        )
        .unwrap();
        rustix::process::pidfd_send_signal(&pidfd, rustix::process::Signal::KILL).unwrap();
        assert_eq!(wait(child.pid), Exit::Signal(libc::SIGKILL));
        let err = listener.read_cstring(&n, n.args[0], 64).unwrap_err();
        (
            matches!(err, Error::NotificationGone { id } if id == n.id),
            err.to_string(),
        )
    });
    assert!(gone.0, "{}", gone.1);
}

#[test]
fn one_receiver_many_answering_threads() {
    require!(Feature::SeccompListener);
    const THREADS: u64 = 4;
    const CALLS: u64 = 500;
    let (exit, answered) = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let child = spawn_filtered(&notify_getppid(), FilterFlags::NEW_LISTENER, || {
            let handles: Vec<_> = (0..THREADS)
                .map(|t| {
                    std::thread::spawn(move || {
                        // Each call carries (thread, i) in its arguments and expects it back.
                        (0..CALLS)
                            .all(|i| getppid_with([t, i, 0, 0, 0, 0]) == (t * 10_000 + i) as i64)
                    })
                })
                .collect();
            handles.into_iter().all(|h| h.join().unwrap()) as i32
        });
        let listener = child.listener.unwrap();
        let answered = AtomicU64::new(0);
        let (tx, rx) = std::sync::mpsc::channel::<linception_seccomp_notify::Notification>();
        let rx = std::sync::Mutex::new(rx);
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    loop {
                        let next = rx.lock().unwrap().recv();
                        let Ok(n) = next else { break };
                        listener
                            .respond_value(n.id, (n.args[0] * 10_000 + n.args[1]) as i64)
                            .unwrap();
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            while listener.wait_readable().unwrap() {
                match listener.recv() {
                    Ok(n) => tx.send(n).unwrap(),
                    Err(Error::NotificationGone { .. }) => {}
                    Err(e) => panic!("{e}"),
                }
            }
            drop(tx);
        });
        (wait(child.pid), answered.load(Ordering::Relaxed))
    });
    assert_eq!(exit, Exit::Code(1));
    assert_eq!(answered, THREADS * CALLS);
}

#[test]
fn recv_on_a_closed_filter_returns_instead_of_blocking() {
    require!(Feature::SeccompListener);
    let out = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let child = spawn_filtered(&notify_getppid(), FilterFlags::NEW_LISTENER, || 0);
        let listener = child.listener.unwrap();
        assert_eq!(wait(child.pid), Exit::Code(0));
        let closed = !listener.wait_readable().unwrap();
        // Since Linux 6.11 a receive on a filter without tasks fails at once (ENOENT)
        // rather than blocking; older kernels block (serve polls first for them).
        // It is Closed, not NotificationGone: a retry loop would spin.
        let err = listener.recv().unwrap_err();
        let again = listener.recv().unwrap_err();
        // serve returns at once too, having answered nothing.
        let stats = listener.serve(|_, _| Response::Continue).unwrap();
        (
            closed,
            matches!(err, Error::Closed) && matches!(again, Error::Closed),
            err.to_string(),
            format!("{:?}", err.kind()),
            (stats.answered, stats.gone),
        )
    });
    assert!(out.0, "POLLHUP once the last task is gone");
    assert!(out.1, "{}", out.2);
    assert_eq!(out.3, "Closed");
    assert_eq!(out.4, (0, 0));
}

#[test]
fn recv_loop_until_closed_ends_after_the_last_call() {
    require!(Feature::SeccompListener);
    // The loop a user writes: receive until Closed, receiving again on
    // NotificationGone. It must end (with every call answered), not spin.
    let (answered, exit) = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let child = spawn_filtered(&notify_getppid(), FilterFlags::NEW_LISTENER, || {
            (0..3).map(|_| (getppid() == 7) as i32).sum::<i32>()
        });
        let listener = child.listener.unwrap();
        let mut answered = 0u32;
        let mut gone = 0u32;
        loop {
            match listener.recv() {
                Ok(n) => {
                    listener.respond_value(n.id, 7).unwrap();
                    answered += 1;
                }
                Err(Error::NotificationGone { .. }) => {
                    gone += 1;
                    assert!(gone < 1000, "NotificationGone {gone} times: the loop spins");
                }
                Err(Error::Closed) => break,
                Err(err) => panic!("{err}"),
            }
        }
        (answered, wait(child.pid))
    });
    assert_eq!(answered, 3);
    assert_eq!(exit, Exit::Code(3));
}
