//! Opening a 6-component path: `Root::open` through the kernel (IN_ROOT, and with
//! RESOLVE_CACHED) and through the userspace resolver, next to plain `openat` (the
//! unsafe baseline: no containment), the raw `openat2` call and the thin wrappers
//! `openat2` and `openat2_cstr`.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use linception_openat2::{OFlags, OpenHow, ResolveFlags, Resolver, Root, openat2, openat2_cstr};
use rustix::fs::{Mode, openat};

const PATH: &str = "a/b/c/d/e/file";
const CPATH: &std::ffi::CStr = c"a/b/c/d/e/file";

/// A named operation for the interleaved measurement.
type Op<'a> = (&'static str, Box<dyn Fn() + 'a>);

fn fixture() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("linception-openat2-bench-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("a/b/c/d/e")).unwrap();
    std::fs::write(dir.join(PATH), "x").unwrap();
    dir
}

fn bench(c: &mut Criterion) {
    let dir = fixture();
    let dirfd = std::fs::File::open(&dir).unwrap();
    let kernel = Root::new(&dir).unwrap().with_resolver(Resolver::Kernel);
    let cached = Root::new(&dir)
        .unwrap()
        .with_resolver(Resolver::Kernel)
        .with_resolve_flags(ResolveFlags::IN_ROOT | ResolveFlags::CACHED)
        .unwrap();
    let fallback = Root::new(&dir).unwrap().with_resolver(Resolver::Fallback);
    let in_root = OpenHow::new(OFlags::RDONLY).resolve(ResolveFlags::IN_ROOT);

    let mut g = c.benchmark_group("open_6_components");
    g.bench_function("openat_plain_baseline", |b| {
        b.iter(|| {
            openat(
                &dirfd,
                black_box(PATH),
                OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .unwrap()
        })
    });
    g.bench_function("rustix_openat2_in_root_raw", |b| {
        b.iter(|| {
            rustix::fs::openat2(
                &dirfd,
                black_box(PATH),
                OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
                rustix::fs::ResolveFlags::IN_ROOT,
            )
            .unwrap()
        })
    });
    g.bench_function("root_open_kernel", |b| {
        b.iter(|| kernel.open(black_box(PATH), OFlags::RDONLY).unwrap())
    });
    g.bench_function("root_open_kernel_cached", |b| {
        b.iter(|| cached.open(black_box(PATH), OFlags::RDONLY).unwrap())
    });
    g.bench_function("root_open_fallback", |b| {
        b.iter(|| fallback.open(black_box(PATH), OFlags::RDONLY).unwrap())
    });
    g.finish();

    // Criterion measures one function after the other, so on a shared machine a
    // load change between them skews the ratios. Interleave short batches of each
    // and take the median per batch: ratios robust to load drift.
    let mut ops: Vec<Op<'_>> = vec![
        (
            "openat_plain_baseline",
            Box::new(|| {
                drop(
                    openat(
                        &dirfd,
                        black_box(PATH),
                        OFlags::RDONLY | OFlags::CLOEXEC,
                        Mode::empty(),
                    )
                    .unwrap(),
                )
            }),
        ),
        (
            "rustix_openat2_in_root_raw",
            Box::new(|| {
                drop(
                    rustix::fs::openat2(
                        &dirfd,
                        black_box(PATH),
                        OFlags::RDONLY | OFlags::CLOEXEC,
                        Mode::empty(),
                        rustix::fs::ResolveFlags::IN_ROOT,
                    )
                    .unwrap(),
                )
            }),
        ),
        (
            "openat2_in_root",
            Box::new(|| drop(openat2(&dirfd, black_box(PATH), &in_root).unwrap())),
        ),
        (
            "openat2_cstr_in_root",
            Box::new(|| drop(openat2_cstr(&dirfd, black_box(CPATH), &in_root).unwrap())),
        ),
        (
            "root_open_kernel",
            Box::new(|| drop(kernel.open(black_box(PATH), OFlags::RDONLY).unwrap())),
        ),
        (
            "root_open_kernel_cached",
            Box::new(|| drop(cached.open(black_box(PATH), OFlags::RDONLY).unwrap())),
        ),
        (
            "root_open_fallback",
            Box::new(|| drop(fallback.open(black_box(PATH), OFlags::RDONLY).unwrap())),
        ),
    ];
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); ops.len()];
    for _ in 0..200 {
        for (i, (_, op)) in ops.iter_mut().enumerate() {
            let start = std::time::Instant::now();
            for _ in 0..50 {
                op();
            }
            samples[i].push(start.elapsed().as_nanos() as f64 / 50.0);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let base = median(&mut samples[0].clone());
    println!("interleaved medians (200 batches of 50):");
    for (i, (name, _)) in ops.iter().enumerate() {
        let m = median(&mut samples[i]);
        println!("  {name:<26} {:>8.0} ns  {:.2}x plain openat", m, m / base);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

criterion_group!(benches, bench);
criterion_main!(benches);
