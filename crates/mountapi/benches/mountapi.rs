//! The new mount API next to mount(2), statmount/listmount next to parsing
//! /proc/self/mountinfo, fanotify mount events next to re-reading mountinfo on
//! change, and listing another mount namespace by fd next to setns + reading it.
//!
//! Needs root. The process first moves into a private mount namespace (made
//! recursively private), so nothing it mounts or unmounts reaches the host; it then
//! detaches every inherited mount except `/`, `/proc` and the one holding the
//! benchmark's output, so that the mount-table sizes measured are the real ones.
// The baselines are raw libc calls (mount(2), umount2, setns, statmount by
// syscall number), as the benchmarks compare the crate with them.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::hint::black_box;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use criterion::{BenchmarkId, Criterion};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use linception_mountapi::{
    FsContext, ListmountFlags, Mount, MountAttr, MountEvents, MountNs, MountTableSource,
    MountWatch, StatmountReader, mount_ids, mount_table, mount_table_in, parse_mountinfo,
    read_mountinfo,
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

fn tmpfs_at(target: &CString) {
    let fs = FsContext::open(c"tmpfs").unwrap();
    fs.set_string(c"size", c"64k").unwrap();
    fs.create().unwrap();
    fs.mount(MountAttr::empty())
        .unwrap()
        .attach(target.as_c_str())
        .unwrap();
}

/// The ids of a mountinfo table, for the old way of finding what changed.
fn ids(table: &[linception_mountapi::MountInfo]) -> std::collections::BTreeSet<u32> {
    table.iter().map(|m| m.id).collect()
}

/// Learning of one mount and its unmount: fanotify mount events (two reads of an
/// fd) next to the older way, poll(2) on /proc/self/mountinfo (POLLPRI on change)
/// then re-reading and diffing the whole table, once per change. Both include the
/// mount and the unmount themselves; `mount+umount only` is that floor.
fn bench_change_detection(c: &mut Criterion, dir: &Path) {
    let target = self::c(dir);
    let count = read_mountinfo().unwrap().len();
    let mut group = c.benchmark_group("learn of a mount and its unmount");
    group.bench_with_input(
        BenchmarkId::new("mount+umount only", count),
        &count,
        |b, _| {
            b.iter(|| {
                tmpfs_at(&target);
                raw_umount(&target);
            })
        },
    );
    let ns = std::fs::File::open("/proc/self/ns/mnt").unwrap();
    let mut watch = MountWatch::new(&ns, MountEvents::ATTACH | MountEvents::DETACH).unwrap();
    group.bench_with_input(
        BenchmarkId::new("fanotify mount events", count),
        &count,
        |b, _| {
            b.iter(|| {
                tmpfs_at(&target);
                let attach = watch.try_next_event().unwrap().unwrap();
                raw_umount(&target);
                let detach = watch.try_next_event().unwrap().unwrap();
                black_box((attach, detach))
            })
        },
    );
    group.bench_with_input(
        BenchmarkId::new("mount+umount while watched, events drained apart", count),
        &count,
        |b, _| {
            b.iter(|| {
                tmpfs_at(&target);
                raw_umount(&target);
            });
            while watch.try_next_event().unwrap().is_some() {}
        },
    );
    drop(watch);
    // Opened now: a change from here on is signalled.
    let mountinfo = std::fs::File::open("/proc/self/mountinfo").unwrap();
    let mut known = ids(&read_mountinfo().unwrap());
    let changed = |known: &mut std::collections::BTreeSet<u32>| {
        let mut fds = [rustix::event::PollFd::new(
            &mountinfo,
            rustix::event::PollFlags::PRI,
        )];
        let zero = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let ready = rustix::event::poll(&mut fds, Some(&zero)).unwrap();
        // The poll itself takes the change notice (the file remembers the
        // namespace's event count from then on).
        assert_eq!(ready, 1, "mountinfo signals the change");
        let mut text = Vec::new();
        rustix::fs::seek(&mountinfo, rustix::fs::SeekFrom::Start(0)).unwrap();
        std::io::Read::read_to_end(&mut &mountinfo, &mut text).unwrap();
        let now = ids(&parse_mountinfo(&text).unwrap());
        let diff: Vec<u32> = now.symmetric_difference(known).copied().collect();
        *known = now;
        diff
    };
    group.bench_with_input(
        BenchmarkId::new("poll + re-read mountinfo", count),
        &count,
        |b, _| {
            b.iter(|| {
                tmpfs_at(&target);
                let attach = changed(&mut known);
                raw_umount(&target);
                let detach = changed(&mut known);
                assert_eq!((attach.len(), detach.len()), (1, 1));
                black_box((attach, detach))
            })
        },
    );
    group.finish();
}

/// A process in a mount namespace of its own (a copy of ours) that waits; killed
/// and reaped on drop.
struct OtherNamespace {
    pid: libc::pid_t,
    ns: OwnedFd,
}

impl OtherNamespace {
    fn new() -> OtherNamespace {
        let mut ready = [0; 2];
        // SAFETY: an array of two ints for pipe2 to fill.
        check("pipe2", unsafe {
            libc::pipe2(ready.as_mut_ptr(), libc::O_CLOEXEC)
        });
        // SAFETY: the bench is single-threaded; the child makes raw calls only.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            // SAFETY: raw calls, then the child waits to be killed.
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                let ok: u8 = (libc::unshare(libc::CLONE_NEWNS) == 0) as u8;
                libc::write(ready[1], (&ok as *const u8).cast(), 1);
                loop {
                    libc::pause();
                }
            }
        }
        let mut ok = 0u8;
        // SAFETY: reading one byte from our pipe, then closing both ends.
        unsafe {
            libc::read(ready[0], (&mut ok as *mut u8).cast(), 1);
            libc::close(ready[0]);
            libc::close(ready[1]);
        }
        assert_eq!(ok, 1, "the helper could not unshare CLONE_NEWNS");
        let ns = std::fs::File::open(format!("/proc/{pid}/ns/mnt")).unwrap();
        OtherNamespace { pid, ns: ns.into() }
    }
}

impl Drop for OtherNamespace {
    fn drop(&mut self) {
        // SAFETY: pid is our unreaped child.
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
        }
    }
}

/// Another namespace's mount table: listmount + statmount through its fd next to
/// the older ways, setns(2) into it + reading /proc/self/mountinfo + setns back,
/// and reading /proc/PID/mountinfo of a process inside.
fn bench_other_namespace(c: &mut Criterion) {
    let other = OtherNamespace::new();
    let own = std::fs::File::open("/proc/self/ns/mnt").unwrap();
    let count = mount_table_in(MountNs::Fd(other.ns.as_fd())).unwrap().len();
    let mut group = c.benchmark_group("another namespace's mounts");
    group.bench_with_input(
        BenchmarkId::new("listmount+statmount by mnt_ns_fd", count),
        &count,
        |b, _| b.iter(|| black_box(mount_table_in(MountNs::Fd(other.ns.as_fd())).unwrap())),
    );
    let enter = |fd: &dyn AsRawFd| {
        // SAFETY: the bench process is single-threaded (setns into a mount
        // namespace requires it); fd is an open mount namespace fd.
        check("setns", unsafe {
            libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNS)
        });
    };
    group.bench_with_input(
        BenchmarkId::new("setns + read mountinfo + setns back", count),
        &count,
        |b, _| {
            b.iter(|| {
                enter(&other.ns);
                let table = read_mountinfo().unwrap();
                enter(&own);
                black_box(table)
            })
        },
    );
    let path = format!("/proc/{}/mountinfo", other.pid);
    group.bench_with_input(
        BenchmarkId::new("read /proc/PID/mountinfo", count),
        &count,
        |b, _| b.iter(|| black_box(parse_mountinfo(&std::fs::read(&path).unwrap()).unwrap())),
    );
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
    bench_change_detection(&mut criterion, &mnt);
    bench_other_namespace(&mut criterion);
    bench_listing(&mut criterion, &stack, &[10, 1000]);
    bench_change_detection(&mut criterion, &mnt);
    bench_other_namespace(&mut criterion);
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
