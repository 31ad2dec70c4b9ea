//! Id lookups (ours vs the pre-4.15 linear scan) and writing a 340-extent map.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use linception_userns::{Extent, IdMap, UserNamespace};

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

fn lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("map_down");
    for n in [1u32, 5, 50, 340] {
        let map = map_of(n);
        let extents = map.extents().to_vec();
        let keys = keys(n);
        group.throughput(Throughput::Elements(keys.len() as u64));
        group.bench_with_input(BenchmarkId::new("ours", n), &keys, |b, keys| {
            b.iter(|| {
                let mut sum = 0u32;
                for &k in black_box(keys) {
                    sum = sum.wrapping_add(map.map_down(k).unwrap_or(0));
                }
                sum
            })
        });
        group.bench_with_input(BenchmarkId::new("linear", n), &keys, |b, keys| {
            b.iter(|| {
                let mut sum = 0u32;
                for &k in black_box(keys) {
                    sum = sum.wrapping_add(linear_down(black_box(&extents), k).unwrap_or(0));
                }
                sum
            })
        });
    }
    group.finish();
}

fn write_maps(c: &mut Criterion) {
    // Needs root (wide maps); skipped with a note otherwise.
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIP write benchmarks: need root");
        return;
    }
    let mut group = c.benchmark_group("new_namespace");
    group.sample_size(20);
    for n in [1u32, 340] {
        let map = map_of(n);
        group.bench_function(BenchmarkId::new("uid+gid maps", n), |b| {
            b.iter(|| UserNamespace::with_maps(map.clone(), map.clone()).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, lookup, write_maps);
criterion_main!(benches);
