//! The `tokio` feature: waiting for a container and serving its seccomp
//! notifications on a runtime, without blocking a thread.
#![cfg(feature = "tokio")]

mod common;

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{assert_no_children, sh};
use linception::seccomp_notify::{Action, Filter, Response};
use linception::{ErrorKind, Seccomp, Stdio};
use linception_testkit::leaks::assert_no_leaks;
use linception_testkit::{Feature, Fork, require};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// `wait_async` records the status in the handle: `wait`, `try_wait` and drop see
/// it afterwards (no ECHILD from a reap behind the handle).
fn wait_async_keeps_the_handle_consistent() -> (Option<i32>, Option<i32>, bool) {
    runtime().block_on(async {
        let mut c = sh("exit 7").spawn().expect("spawn");
        let first = c.wait_async().await.expect("wait_async");
        let again = c.wait().expect("wait after wait_async");
        let tried = c.try_wait().expect("try_wait").is_some();
        (first.code(), again.code(), tried)
    })
}

#[test]
fn wait_async_as_root() {
    require!(Feature::Root, Feature::UserNs);
    let got = Fork::new().run(wait_async_keeps_the_handle_consistent);
    assert_eq!(got, (Some(7), Some(7), true));
}

#[test]
fn wait_async_rootless() {
    require!(Feature::UnprivilegedUserNs);
    let got = Fork::new()
        .unprivileged()
        .run(wait_async_keeps_the_handle_consistent);
    assert_eq!(got, (Some(7), Some(7), true));
}

/// Every `getppid` of the container is answered by an async handler that first
/// sleeps on the runtime; the handler's futures run as tasks of their own.
fn async_notifications() -> (String, usize) {
    runtime().block_on(async {
        let seen = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&seen);
        let filter = Filter::new(Action::Allow).rule("getppid", Action::UserNotif);
        let seccomp = Seccomp::new(filter).on_notify_async(move |listener, notif| {
            counter.fetch_add(1, Ordering::SeqCst);
            async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                // The caller is still waiting for this very notification.
                assert!(listener.get_ref().id_valid(notif.id).unwrap());
                Response::Value(4242)
            }
        });
        let mut c = sh("echo $PPID")
            .no_new_privs()
            .seccomp(seccomp)
            .stdout(Stdio::Piped)
            .spawn()
            .expect("spawn");
        let mut stdout = c.take_stdout().unwrap();
        let status = c.wait_async().await.expect("wait_async");
        assert!(status.success(), "{status:?}");
        let mut out = String::new();
        stdout.read_to_string(&mut out).unwrap();
        (out, seen.load(Ordering::SeqCst))
    })
}

#[test]
fn async_seccomp_handler_as_root() {
    require!(Feature::Root, Feature::UserNs, Feature::SeccompListener);
    let (out, seen) = Fork::new().run(async_notifications);
    assert_eq!(out.trim(), "4242");
    assert!(seen >= 1);
}

#[test]
fn async_seccomp_handler_rootless() {
    require!(Feature::UnprivilegedUserNs, Feature::SeccompListener);
    let (out, seen) = Fork::new().unprivileged().run(async_notifications);
    assert_eq!(out.trim(), "4242");
    assert!(seen >= 1);
}

#[test]
fn async_handler_outside_a_runtime_is_refused_up_front() {
    require!(Feature::UserNs);
    let text = Fork::new().unprivileged().run(|| {
        let filter = Filter::new(Action::Allow).rule("getppid", Action::UserNotif);
        let seccomp = Seccomp::new(filter).on_notify_async(|_, _| async { Response::Continue });
        let err = assert_no_leaks(|| sh("true").seccomp(seccomp).spawn().expect_err("no runtime"));
        assert_no_children();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        err.to_string()
    });
    assert!(text.contains("inside a tokio runtime"), "{text}");
}
