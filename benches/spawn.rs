//! Spawn + wait of `/bin/true` in a container, next to `std::process::Command`
//! (the floor: fork/exec/wait with no namespace at all).
//!
//! - `command`: `std::process::Command::new("/bin/true").status()`;
//! - `container`: user + mount + pid + uts + ipc namespaces, a bind-mounted root
//!   (a minimal rootfs holding `/bin/true` and its libraries), `pivot_root`;
//! - `container+net`: the same with a network namespace;
//! - `container (template)`: the `container` one from a [`linception::Template`];
//! - `container (copying clone)`: the `container` one with the child copying the
//!   parent's memory (the fallback) instead of sharing it;
//! - `created+started`: the `container` one through the OCI lifecycle, `create`
//!   (the init waits on a start socket) then `start`, then wait: the cost of the
//!   split next to the one-shot spawn.
//!
//! Run as root or not; the rootfs is built in a temporary directory and removed.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;

use criterion::{Criterion, criterion_group, criterion_main};
use linception::{Container, Namespaces, RootFs};

/// A rootfs with `/bin/true` and the shared libraries it loads (from `ldd`).
fn minimal_rootfs() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("linception-bench-rootfs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    let true_bin = std::fs::canonicalize("/bin/true").unwrap();
    std::fs::copy(&true_bin, dir.join("bin/true")).unwrap();
    let ldd = Command::new("ldd").arg(&true_bin).output().unwrap();
    for word in String::from_utf8_lossy(&ldd.stdout).split_whitespace() {
        if word.starts_with('/') {
            let lib = Path::new(word);
            let dest = dir.join(word.trim_start_matches('/'));
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::copy(lib, &dest).unwrap();
        }
    }
    dir
}

fn spawn(c: &mut Criterion) {
    let rootfs = minimal_rootfs();
    let ns =
        Namespaces::USER | Namespaces::MOUNT | Namespaces::PID | Namespaces::UTS | Namespaces::IPC;
    let mut group = c.benchmark_group("spawn+wait /bin/true");
    group.bench_function("command", |b| {
        b.iter(|| {
            let st = Command::new("/bin/true").status().unwrap();
            black_box(st)
        })
    });
    for (name, ns) in [("container", ns), ("container+net", ns | Namespaces::NET)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut c = Container::builder("/bin/true")
                    .namespaces(ns)
                    .root(RootFs::Dir(rootfs.clone()))
                    .spawn()
                    .unwrap();
                black_box(c.wait().unwrap())
            })
        });
    }
    // The same container from a template (checked and compiled once), and with the
    // copying clone forced (the fallback of the child that shares our memory).
    let mut template = Container::builder("/bin/true")
        .namespaces(ns)
        .root(RootFs::Dir(rootfs.clone()))
        .template()
        .unwrap();
    group.bench_function("container (template)", |b| {
        b.iter(|| black_box(template.spawn().unwrap().wait().unwrap()))
    });
    linception::__force_copying_clone(true);
    group.bench_function("container (copying clone)", |b| {
        b.iter(|| {
            let mut c = Container::builder("/bin/true")
                .namespaces(ns)
                .root(RootFs::Dir(rootfs.clone()))
                .spawn()
                .unwrap();
            black_box(c.wait().unwrap())
        })
    });
    linception::__force_copying_clone(false);
    let sockets =
        std::env::temp_dir().join(format!("linception-bench-sock-{}", std::process::id()));
    std::fs::create_dir_all(&sockets).unwrap();
    let socket = sockets.join("start");
    group.bench_function("created+started", |b| {
        b.iter(|| {
            let mut c = Container::builder("/bin/true")
                .namespaces(ns)
                .root(RootFs::Dir(rootfs.clone()))
                .create(&socket)
                .unwrap();
            c.start().unwrap();
            black_box(c.wait().unwrap())
        })
    });
    group.finish();
    std::fs::remove_dir_all(&sockets).unwrap();
    std::fs::remove_dir_all(&rootfs).unwrap();
}

criterion_group!(benches, spawn);
criterion_main!(benches);
