//! The new mount API next to mount(2), and statmount/listmount next to parsing
//! /proc/self/mountinfo.
//!
//! Needs root. The process first moves into a private mount namespace (made
//! recursively private), so nothing it mounts or unmounts reaches the host; it then
//! detaches every inherited mount except `/`, `/proc` and the one holding the
//! benchmark's output, so that the mount-table sizes measured are the real ones.

use std::ffi::CString;
use std::hint::black_box;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use criterion::{BenchmarkId, Criterion};
use linception_mountapi::{
    FsContext, ListmountFlags, Mount, MountAttr, MountTableSource, StatmountReader, mount_ids,
    mount_table, read_mountinfo,
};

fn c(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).unwrap()
}

fn check(what: &str, ret: libc::c_int) {
    assert!(ret == 0, "{what}: {}", std::io::Error::last_os_error());
}

/// A private mount namespace for this (still single-threaded) process.
fn private_namespace() {
    // SAFETY: unshare at the start of main, before any thread exists; mount with
    // NUL-terminated strings and null pointers the kernel accepts.
    unsafe {
        check("unshare(CLONE_NEWNS)", libc::unshare(libc::CLONE_NEWNS));
        check(
            "mount(/, MS_REC|MS_PRIVATE)",
            libc::mount(
                c"none".as_ptr(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ),
        );
    }
}

/// Detaches every mount but `/`, `/proc` and those holding `keep`, deepest first.
fn trim_mounts(keep: &Path) {
    let mut points: Vec<PathBuf> = read_mountinfo()
        .unwrap()
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|p| p != Path::new("/") && p != Path::new("/proc") && !keep.starts_with(p))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    for point in points {
        let _ = rustix::mount::unmount(&point, rustix::mount::UnmountFlags::DETACH);
    }
}

fn raw_umount(path: &CString) {
    // SAFETY: path is NUL-terminated.
    check("umount2", unsafe { libc::umount2(path.as_ptr(), 0) });
}

fn bench_tmpfs(c: &mut Criterion, dir: &Path) {
    let target = self::c(dir);
    let mut group = c.benchmark_group("tmpfs");
    group.bench_function("fsopen+fsconfig+fsmount+move_mount", |b| {
        b.iter(|| {
            let fs = FsContext::open(c"tmpfs").unwrap();
            fs.set_string(c"size", c"1m").unwrap();
            fs.create().unwrap();
            let mount = fs.mount(MountAttr::empty()).unwrap();
            mount.attach(target.as_c_str()).unwrap();
            drop(mount);
            raw_umount(&target);
        })
    });
    group.bench_function("mount(2)", |b| {
        b.iter(|| {
            // SAFETY: NUL-terminated strings.
            let ret = unsafe {
                libc::mount(
                    c"tmpfs".as_ptr(),
                    target.as_ptr(),
                    c"tmpfs".as_ptr(),
                    0,
                    c"size=1m".as_ptr().cast(),
                )
            };
            check("mount tmpfs", ret);
            raw_umount(&target);
        })
    });
    group.finish();
}

fn bench_bind(c: &mut Criterion, src: &Path, dst: &Path) {
    let (src, dst) = (self::c(src), self::c(dst));
    let mut group = c.benchmark_group("bind");
    group.bench_function("open_tree+move_mount", |b| {
        b.iter(|| {
            let tree = Mount::clone_tree(src.as_c_str()).unwrap();
            tree.attach(dst.as_c_str()).unwrap();
            drop(tree);
            raw_umount(&dst);
        })
    });
    group.bench_function("mount(2) MS_BIND", |b| {
        b.iter(|| {
            // SAFETY: NUL-terminated strings and null pointers.
            let ret = unsafe {
                libc::mount(
                    src.as_ptr(),
                    dst.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND,
                    std::ptr::null(),
                )
            };
            check("mount MS_BIND", ret);
            raw_umount(&dst);
        })
    });
    group.finish();
}

fn bench_listing(c: &mut Criterion, stack: &Path, sizes: &[usize]) {
    let mut group = c.benchmark_group("list mounts");
    for &size in sizes {
        // Side by side, one directory each (a stack on one directory would make
        // every path walk quadratic).
        let have = read_mountinfo().unwrap().len();
        for i in have..size {
            let point = stack.join(i.to_string());
            std::fs::create_dir(&point).unwrap();
            let fs = FsContext::open(c"tmpfs").unwrap();
            fs.set_string(c"size", c"64k").unwrap();
            fs.create().unwrap();
            fs.mount(MountAttr::empty())
                .unwrap()
                .attach(&point)
                .unwrap();
        }
        let count = read_mountinfo().unwrap().len();
        assert_eq!(
            mount_table(MountTableSource::Statmount).unwrap().len(),
            count
        );
        let mut reader = StatmountReader::new();
        group.bench_with_input(
            BenchmarkId::new("listmount+statmount", count),
            &count,
            |b, _| {
                b.iter(|| {
                    let ids = mount_ids(ListmountFlags::empty()).unwrap();
                    let infos: Vec<_> = ids.iter().map(|&id| reader.read(id).unwrap()).collect();
                    black_box(infos)
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("mountinfo parse", count),
            &count,
            |b, _| b.iter(|| black_box(read_mountinfo().unwrap())),
        );
        group.bench_with_input(
            BenchmarkId::new("listmount ids only", count),
            &count,
            |b, _| b.iter(|| black_box(mount_ids(ListmountFlags::empty()).unwrap())),
        );
    }
    group.finish();
}

/// One mount's statmount: the wrapper (decoding into a MountInfo) next to the bare
/// system call with the same mask and buffer.
fn bench_statmount_overhead(c: &mut Criterion) {
    let id = linception_mountapi::unique_mount_id("/").unwrap();
    let mut group = c.benchmark_group("statmount one mount");
    let mut reader = StatmountReader::new();
    group.bench_function("StatmountReader::read", |b| {
        b.iter(|| black_box(reader.read(black_box(id)).unwrap()))
    });
    let mut buf = vec![0u64; 512];
    // The mask StatmountReader asks for.
    let req: [u64; 3] = [24, id, 0x3bf];
    group.bench_function("raw syscall", |b| {
        b.iter(|| {
            // SAFETY: req is a 24-byte mnt_id_req; buf is writable for its size in bytes.
            let ret =
                unsafe { libc::syscall(457, req.as_ptr(), buf.as_mut_ptr(), buf.len() * 8, 0) };
            assert_eq!(ret, 0);
            black_box(&buf);
        })
    });
    group.finish();
}

fn main() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP: the mount benchmarks need root");
        return;
    }
    private_namespace();
    // Where criterion writes (decided before trimming the mounts).
    let exe = std::env::current_exe().unwrap();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| exe.ancestors().nth(3).map(Path::to_path_buf))
        .unwrap();
    let output = target.join("criterion");
    std::fs::create_dir_all(&output).unwrap();
    trim_mounts(&output);

    let dir =
        std::env::temp_dir().join(format!("linception-mountapi-bench-{}", std::process::id()));
    let (mnt, src, dst, stack) = (
        dir.join("mnt"),
        dir.join("src"),
        dir.join("dst"),
        dir.join("stack"),
    );
    for d in [&mnt, &src, &dst, &stack] {
        std::fs::create_dir_all(d).unwrap();
    }

    // The directories of the listing mounts live on a tmpfs of their own.
    let fs = FsContext::open(c"tmpfs").unwrap();
    fs.create().unwrap();
    fs.mount(MountAttr::empty())
        .unwrap()
        .attach(&stack)
        .unwrap();

    let mut criterion = Criterion::default()
        .output_directory(&output)
        .configure_from_args();
    bench_tmpfs(&mut criterion, &mnt);
    bench_bind(&mut criterion, &src, &dst);
    bench_statmount_overhead(&mut criterion);
    bench_listing(&mut criterion, &stack, &[10, 1000]);
    criterion.final_summary();

    // Detach whatever is still mounted below the directory, deepest first.
    let mut inside: Vec<PathBuf> = read_mountinfo()
        .unwrap()
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|p| p.starts_with(&dir))
        .collect();
    inside.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    for point in inside {
        let _ = rustix::mount::unmount(&point, rustix::mount::UnmountFlags::DETACH);
    }
    if let Err(err) = std::fs::remove_dir_all(&dir) {
        eprintln!("removing {}: {err}", dir.display());
    }
}
