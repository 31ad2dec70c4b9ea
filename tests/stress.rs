//! Spawning from a multithreaded parent whose other threads allocate all the time:
//! the child between clone3 and execve must never touch the allocator's lock.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{NS, assert_no_children};
use linception::{Container, Mount, RootFs};
use linception_testkit::leaks::assert_no_leaks;
use linception_testkit::{Feature, Fork, require};

#[test]
fn hundred_containers_while_threads_allocate() {
    require!(Feature::UserNs);
    let elapsed_ms = Fork::new().timeout(Duration::from_secs(60)).run(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..3)
            .map(|i| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut keep: Vec<Vec<u8>> = Vec::new();
                    let mut n = 0usize;
                    while !stop.load(Ordering::Relaxed) {
                        keep.push(vec![i as u8; 64 + n % 4096]);
                        if keep.len() > 256 {
                            keep.clear();
                        }
                        n += 1;
                        let _ = format!("{n}");
                    }
                })
            })
            .collect();
        let start = Instant::now();
        assert_no_leaks(|| {
            for i in 0..100 {
                let mut c = Container::builder("/bin/true")
                    .namespaces(NS)
                    .root(RootFs::Tmpfs)
                    .mounts(Mount::host_system())
                    .hostname(format!("c{i}"))
                    .spawn()
                    .expect("spawn");
                assert!(c.wait().expect("wait").success());
            }
        });
        let elapsed = start.elapsed();
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().unwrap();
        }
        assert_no_children();
        elapsed.as_millis() as u64
    });
    // Bounded: 100 containers well under the fork's timeout (no deadlock, no stall).
    assert!(elapsed_ms < 30_000, "100 spawns took {elapsed_ms} ms");
}

#[test]
fn rootless_containers_from_threads() {
    require!(Feature::UnprivilegedUserNs);
    Fork::new()
        .unprivileged()
        .timeout(Duration::from_secs(60))
        .run(|| {
            assert_no_leaks(|| {
                let threads: Vec<_> = (0..4)
                    .map(|_| {
                        std::thread::spawn(|| {
                            for _ in 0..15 {
                                let mut c = Container::builder("/bin/true")
                                    .namespaces(NS)
                                    .root(RootFs::Tmpfs)
                                    .mounts(Mount::host_system())
                                    .mount(Mount::proc("/proc"))
                                    .spawn()
                                    .expect("spawn");
                                assert!(c.wait().expect("wait").success());
                            }
                        })
                    })
                    .collect();
                for t in threads {
                    t.join().unwrap();
                }
            });
            assert_no_children();
        });
}

#[test]
fn failing_spawns_from_threads_leave_nothing() {
    require!(Feature::UserNs);
    Fork::new().timeout(Duration::from_secs(60)).run(|| {
        assert_no_leaks(|| {
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    std::thread::spawn(|| {
                        for _ in 0..25 {
                            let err = Container::builder("/bin/true")
                                .namespaces(NS)
                                .root(RootFs::Tmpfs)
                                .mount(Mount::bind("/nonexistent-src", "/x"))
                                .spawn()
                                .expect_err("missing source");
                            assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
        });
        assert_no_children();
    });
}
