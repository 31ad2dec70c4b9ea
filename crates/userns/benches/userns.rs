//! Id lookups (ours vs the pre-4.15 linear scan) and writing a 340-extent map.
// Unsafe code here: the baselines are raw system calls.
#![allow(unsafe_code)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use linception_userns::{Extent, IdMap, MapWriter, UserNamespace, WriteMode};

/// `n` one-id extents spread with gaps on both sides (inside 2i, outside 1000 + 3i);
/// for n = 1, one extent over the same inside span, so every map gets the same keys.
fn map_of(n: u32) -> IdMap {
    if n == 1 {
        return IdMap::single(0, 1000, 680).unwrap();
    }
    IdMap::new(
        (0..n)
            .map(|i| Extent::new(2 * i, 1000 + 3 * i, 1))
            .collect::<Vec<_>>(),
    )
    .unwrap()
}

/// 1024 pseudo-random mapped inside ids of a map of `n` spread extents.
fn keys(n: u32) -> Vec<u32> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if n == 1 {
                (x % 680) as u32
            } else {
                2 * (x % n as u64) as u32
            }
        })
        .collect()
}

/// The lookup the kernel did before 4.15: scan the extents in order.
fn linear_down(extents: &[Extent], id: u32) -> Option<u32> {
    for e in extents {
        let offset = id.wrapping_sub(e.inside);
        if offset < e.count {
            return Some(e.outside + offset);
        }
    }
    None
}

/// 339 extents as in `map_of(340)` and one at the top of the id range, so the
/// others crowd the bottom of the lookup table (ours falls back to binary search).
fn clustered_map() -> IdMap {
    let mut extents: Vec<Extent> = (0..339)
        .map(|i| Extent::new(2 * i, 1000 + 3 * i, 1))
        .collect();
    extents.push(Extent::new(4_000_000_000, 4_000_000_000, 1));
    IdMap::new(extents).unwrap()
}

/// Lookups of 1024 keys per iteration; each key passes through `black_box`, so
/// the compiler cannot vectorize the loop across keys: what is measured is the
/// cost of one lookup (throughput of independent lookups, as in the kernel).
/// The kernel's lookup since 4.15 for more than 5 extents: a binary search over
/// a copy of the extents sorted by first id.
fn bsearch_down(sorted: &[Extent], id: u32) -> Option<u32> {
    let i = sorted.partition_point(|e| e.inside <= id).checked_sub(1)?;
    sorted[i].map_down(id)
}

fn lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("map_down");
    for (name, n) in [
        ("1", 1u32),
        ("5", 5),
        ("50", 50),
        ("340", 340),
        ("340-clustered", 340),
    ] {
        let map = if name == "340-clustered" {
            clustered_map()
        } else {
            map_of(n)
        };
        let extents = map.extents().to_vec();
        let sorted: Vec<Extent> = map.extents_by_inside().collect();
        let keys = keys(n);
        group.throughput(Throughput::Elements(keys.len() as u64));
        group.bench_with_input(BenchmarkId::new("ours", name), &keys, |b, keys| {
            b.iter(|| {
                let mut sum = 0u32;
                for &k in black_box(keys) {
                    sum = sum.wrapping_add(map.map_down(black_box(k)).unwrap_or(0));
                }
                sum
            })
        });
        group.bench_with_input(BenchmarkId::new("bsearch", name), &keys, |b, keys| {
            b.iter(|| {
                let mut sum = 0u32;
                for &k in black_box(keys) {
                    sum = sum.wrapping_add(bsearch_down(&sorted, black_box(k)).unwrap_or(0));
                }
                sum
            })
        });
        group.bench_with_input(BenchmarkId::new("linear", name), &keys, |b, keys| {
            b.iter(|| {
                let mut sum = 0u32;
                for &k in black_box(keys) {
                    sum = sum.wrapping_add(linear_down(&extents, black_box(k)).unwrap_or(0));
                }
                sum
            })
        });
    }
    group.finish();
}

/// A child forked into a new user namespace, waiting (on a pipe) to be let go.
struct WaitingChild {
    pid: linception_userns::Pid,
    go: std::os::fd::OwnedFd,
}

fn waiting_child() -> WaitingChild {
    use rustix::pipe::{PipeFlags, pipe_with};
    let (ready_r, ready_w) = pipe_with(PipeFlags::CLOEXEC).unwrap();
    let (go_r, go_w) = pipe_with(PipeFlags::CLOEXEC).unwrap();
    // SAFETY: the child makes raw syscalls only (unshare, write, read, _exit), so
    // forking a possibly multithreaded process is sound.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        use std::os::fd::AsRawFd;
        let mut byte = 0u8;
        // SAFETY: raw syscalls on fds this child owns; _exit never returns.
        unsafe {
            if libc::unshare(libc::CLONE_NEWUSER) == 0 {
                libc::write(ready_w.as_raw_fd(), (&raw const byte).cast(), 1);
                libc::read(go_r.as_raw_fd(), (&raw mut byte).cast(), 1);
            }
            libc::_exit(0);
        }
    }
    drop((ready_w, go_r));
    let mut byte = [0u8];
    assert_eq!(
        rustix::io::read(&ready_r, &mut byte).unwrap(),
        1,
        "unshare failed"
    );
    WaitingChild {
        pid: linception_userns::Pid::from_raw(pid).unwrap(),
        go: go_w,
    }
}

impl Drop for WaitingChild {
    fn drop(&mut self) {
        let _ = rustix::io::write(&self.go, &[1]);
        let _ = rustix::process::waitpid(Some(self.pid), rustix::process::WaitOptions::empty());
    }
}

/// Writing uid_map + gid_map into a fresh namespace: ours (`MapWriter`, which
/// opens /proc/PID once and writes each map in one write) next to two raw
/// `std::fs::write` calls of the same text. Only the writes are timed.
fn write_maps(c: &mut Criterion) {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIP write benchmarks: need root for wide maps");
        return;
    }
    let mut group = c.benchmark_group("write_maps");
    group.sample_size(30);
    for n in [1u32, 340] {
        let map = map_of(n);
        let writer = MapWriter::new()
            .uid_map(map.clone())
            .gid_map(map.clone())
            .mode(WriteMode::Privileged);
        group.bench_function(BenchmarkId::new("ours", n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let child = waiting_child();
                    let start = Instant::now();
                    writer.write(child.pid).unwrap();
                    total += start.elapsed();
                }
                total
            })
        });
        let text = map.to_string();
        group.bench_function(BenchmarkId::new("raw write", n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let child = waiting_child();
                    let pid = child.pid.as_raw_nonzero();
                    let start = Instant::now();
                    std::fs::write(format!("/proc/{pid}/uid_map"), &text).unwrap();
                    std::fs::write(format!("/proc/{pid}/gid_map"), &text).unwrap();
                    total += start.elapsed();
                }
                total
            })
        });
    }
    group.finish();
    let mut group = c.benchmark_group("user_namespace");
    group.sample_size(20);
    for n in [1u32, 340] {
        let map = map_of(n);
        group.bench_function(BenchmarkId::new("with_maps", n), |b| {
            b.iter(|| UserNamespace::with_maps(map.clone(), map.clone()).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, lookup, write_maps);
criterion_main!(benches);
