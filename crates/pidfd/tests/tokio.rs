//! Awaiting exits through AsyncFd (cargo feature `tokio`).
#![cfg(feature = "tokio")]

use std::time::Duration;

use linception_pidfd::{CloneArgs, Exec, ExitStatus, Signal};
use linception_testkit::{Feature, Fork, require};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn wait_async_returns_the_status() {
    require!(Feature::Clone3);
    rt().block_on(async {
        let mut child = CloneArgs::new()
            .spawn(&Exec::new("/bin/sh").args(["-c", "sleep 0.05; exit 9"]))
            .unwrap();
        assert_eq!(child.wait_async().await.unwrap(), ExitStatus::Exited(9));
        assert_eq!(child.wait().unwrap(), ExitStatus::Exited(9));
        // Many at once on one thread.
        let mut kids: Vec<_> = (0..20)
            .map(|_| {
                CloneArgs::new()
                    .spawn(&Exec::new("/bin/sleep").arg("30"))
                    .unwrap()
            })
            .collect();
        for k in &kids {
            k.send_signal(Signal::TERM).unwrap();
        }
        for k in &mut kids {
            assert_eq!(k.wait_async().await.unwrap().signal(), Some(Signal::TERM));
        }
    });
}

#[test]
fn cancelled_wait_still_reaps_on_drop() {
    require!(Feature::Clone3);
    Fork::new().run(|| {
        let pid = rt().block_on(async {
            let mut child = CloneArgs::new()
                .spawn(&Exec::new("/bin/sleep").arg("0.2"))
                .unwrap();
            let pid = child.pid();
            let r = tokio::time::timeout(Duration::from_millis(20), child.wait_async()).await;
            assert!(r.is_err(), "sleep 0.2 finished within 20 ms");
            drop(child);
            pid
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::path::Path::new(&format!("/proc/{pid}")).exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "pid {pid} left a zombie"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    });
}
