//! Round trip of an intercepted getppid answered with CONTINUE: our supervisor loop
//! vs a raw ioctl loop written with libc, each with and without sync wake-up; the
//! plain syscall and the filtered-but-allowed syscall as the floor. Then filter
//! compile time and program length, grouped dispatch vs a linear chain.
//!
//! The bench process stays unfiltered: every filter is installed in a forked child,
//! which runs the syscalls on command and reports its own timing.
// The baseline is a raw libc ioctl loop, and the filtered child forks raw.
#![allow(unsafe_code)]

use std::hint::black_box;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use linception_seccomp_notify::{
    Action, Arch, Dispatch, Filter, FilterFlags, Listener, NoNewPrivs, Program, Response, WakeUp,
    recv_fd, send_fd,
};
use rustix::net::{AddressFamily, SocketFlags, SocketType, socketpair};

/// A forked child under a filter, running `getppid` bursts on command.
struct Child {
    pid: libc::pid_t,
    cmd: OwnedFd,
    result: OwnedFd,
    listener: Option<OwnedFd>,
}

fn getppid() -> libc::c_long {
    // SAFETY: getppid takes no arguments.
    unsafe { libc::syscall(libc::SYS_getppid) }
}

fn spawn(program: &Program, flags: FilterFlags) -> Child {
    let (cmd_r, cmd_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let (res_r, res_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let (ours, theirs) = socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .unwrap();
    // SAFETY: the child only makes syscalls (install_raw and send_fd allocate
    // nothing), reads and writes pipes and _exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let _ =
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
        let listener = match program.install_raw(flags, NoNewPrivs::Set) {
            Ok(l) => l,
            // SAFETY: leave at once.
            Err(_) => unsafe { libc::_exit(2) },
        };
        if let Some(fd) = &listener
            && send_fd(&theirs, fd.as_fd()).is_err()
        {
            // SAFETY: leave at once.
            unsafe { libc::_exit(3) };
        }
        drop(listener);
        loop {
            let mut buf = [0u8; 8];
            if rustix::io::read(&cmd_r, &mut buf) != Ok(8) {
                break;
            }
            let n = u64::from_ne_bytes(buf);
            if n == 0 {
                break;
            }
            let start = Instant::now();
            for _ in 0..n {
                black_box(getppid());
            }
            let ns = start.elapsed().as_nanos() as u64;
            let _ = rustix::io::write(&res_w, &ns.to_ne_bytes());
        }
        // SAFETY: leave without running the bench's code.
        unsafe { libc::_exit(0) };
    }
    drop((cmd_r, res_w, theirs));
    let listener = flags
        .contains(FilterFlags::NEW_LISTENER)
        .then(|| recv_fd(&ours).unwrap());
    Child {
        pid,
        cmd: cmd_w,
        result: res_r,
        listener,
    }
}

impl Child {
    /// Runs `n` getppid calls in the child; returns its measured time.
    fn burst(&self, n: u64) -> Duration {
        rustix::io::write(&self.cmd, &n.to_ne_bytes()).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(
            rustix::io::read(&self.result, &mut buf),
            Ok(8),
            "child died"
        );
        Duration::from_nanos(u64::from_ne_bytes(buf))
    }

    fn finish(self) {
        rustix::io::write(&self.cmd, &0u64.to_ne_bytes()).unwrap();
        let mut status = 0;
        // SAFETY: our child; `status` is a valid out-pointer.
        unsafe { libc::waitpid(self.pid, &mut status, 0) };
    }
}

/// The raw loop: buffers from SECCOMP_GET_NOTIF_SIZES, RECV, SEND with CONTINUE.
fn raw_loop(fd: OwnedFd, sync: bool, stop: Arc<AtomicBool>) {
    let mut sizes = libc::seccomp_notif_sizes {
        seccomp_notif: 0,
        seccomp_notif_resp: 0,
        seccomp_data: 0,
    };
    // SAFETY: `sizes` is the struct this operation fills.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_NOTIF_SIZES,
            0,
            &mut sizes as *mut libc::seccomp_notif_sizes,
        )
    };
    assert_eq!(ret, 0);
    if sync {
        // SAFETY: SECCOMP_IOCTL_NOTIF_SET_FLAGS takes SYNC_WAKE_UP (1) by value.
        let ret = unsafe { libc::ioctl(fd.as_raw_fd(), 0x4008_2104 as libc::Ioctl, 1u64) };
        assert_eq!(ret, 0);
    }
    let mut req = vec![0u64; (sizes.seccomp_notif as usize).div_ceil(8).max(10)];
    let mut resp = vec![0u64; (sizes.seccomp_notif_resp as usize).div_ceil(8).max(3)];
    loop {
        req.fill(0);
        // SAFETY: `req` is zeroed and at least the kernel's seccomp_notif size.
        let ret = unsafe {
            libc::ioctl(
                fd.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_RECV,
                req.as_mut_ptr(),
            )
        };
        if ret != 0 {
            continue;
        }
        resp.fill(0);
        resp[0] = req[0];
        resp[2] = u64::from(libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32) << 32;
        // SAFETY: `resp` holds a seccomp_notif_resp, zero-padded to the kernel's size.
        unsafe {
            libc::ioctl(
                fd.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_SEND,
                resp.as_ptr(),
            )
        };
        if stop.load(Ordering::Relaxed) {
            return;
        }
    }
}

fn round_trip(c: &mut Criterion) {
    let notify = Filter::new(Action::Allow)
        .rule("getppid", Action::UserNotif)
        .compile()
        .unwrap();
    let allow = Filter::new(Action::Allow)
        .rule("getpid", Action::UserNotif)
        .rule("ptrace", Action::Errno(libc::EPERM))
        .compile()
        .unwrap();
    let mut group = c.benchmark_group("getppid");

    group.bench_function("plain", |b| b.iter(|| black_box(getppid())));

    let child = spawn(&allow, FilterFlags::NEW_LISTENER);
    group.bench_function("filtered_allowed", |b| b.iter_custom(|n| child.burst(n)));
    child.finish();

    for (mode, sync) in [("default_wakeup", false), ("sync_wakeup", true)] {
        // Ours: Listener::serve answering CONTINUE.
        let mut child = spawn(&notify, FilterFlags::NEW_LISTENER);
        let fd = child.listener.take().unwrap();
        let wake = if sync {
            WakeUp::SyncIfAvailable
        } else {
            WakeUp::Default
        };
        let supervisor = std::thread::spawn(move || {
            let listener = Listener::with_wake_up(fd, wake);
            listener.serve(|_, _| Response::Continue).unwrap()
        });
        group.bench_function(BenchmarkId::new("linception_serve", mode), |b| {
            b.iter_custom(|n| child.burst(n))
        });
        child.finish();
        supervisor.join().unwrap();

        // Raw libc loop.
        let mut child = spawn(&notify, FilterFlags::NEW_LISTENER);
        let fd = child.listener.take().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let raw = {
            let stop = stop.clone();
            std::thread::spawn(move || raw_loop(fd, sync, stop))
        };
        group.bench_function(BenchmarkId::new("raw_ioctl_loop", mode), |b| {
            b.iter_custom(|n| child.burst(n))
        });
        stop.store(true, Ordering::Relaxed);
        child.burst(1);
        child.finish();
        raw.join().unwrap();
    }
    group.finish();
}

fn rules(n: usize, dispatch: Dispatch) -> Filter {
    let arch = Arch::native().unwrap();
    arch.syscalls()
        .filter(|(_, name)| *name != "exit_group")
        .take(n)
        .enumerate()
        .fold(
            Filter::new(Action::Allow).dispatch(dispatch),
            |f, (i, (_, name))| f.rule(name, Action::Errno(1 + (i % 3) as i32)),
        )
}

fn compile_time(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    for n in [10usize, 100, 400] {
        for (label, dispatch) in [("grouped", Dispatch::Auto), ("linear", Dispatch::Linear)] {
            let filter = rules(n, dispatch);
            let len = filter.compile().unwrap().len();
            let count = filter.rules().len();
            println!("program length: {n} rules, {label}: {len} instructions ({count} rules)");
            group.bench_function(BenchmarkId::new(label, n), |b| {
                b.iter(|| black_box(&filter).compile().unwrap())
            });
        }
    }
    group.finish();
}

/// `Arch::syscall_number` as it was over one flat table per architecture (same
/// return type, hence the same large error).
#[allow(clippy::result_large_err)]
fn flat_syscall_number(
    flat: &[(u32, &'static str)],
    arch: Arch,
    name: &str,
) -> linception_seccomp_notify::Result<u32> {
    flat.iter()
        .find(|(_, n)| *n == name)
        .map(|&(nr, _)| nr)
        .ok_or_else(|| linception_seccomp_notify::Error::UnknownSyscall {
            name: name.to_owned(),
            arch,
        })
}

/// `Arch::syscall_name` as it was over one flat table per architecture.
fn flat_syscall_name(flat: &[(u32, &'static str)], nr: u32) -> Option<&'static str> {
    flat.binary_search_by_key(&nr, |&(n, _)| n)
        .ok()
        .map(|i| flat[i].1)
}

/// Name/number lookups in the split tables (an architecture's own, then the shared
/// tail from 424 on) next to the same code over one flat table per architecture, as
/// the tables were before the tail was shared.
fn syscall_lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("syscall lookup");
    let arch = Arch::native().unwrap();
    let flat: Vec<(u32, &str)> = arch.syscalls().collect();
    // A name early in the arch's own table, its last one, and the last of the tail.
    let own_last = flat.iter().rev().find(|(nr, _)| *nr < 424).unwrap().1;
    for name in ["read", own_last, "listns"] {
        group.bench_function(BenchmarkId::new("number: split tables", name), |b| {
            b.iter(|| arch.syscall_number(black_box(name)).unwrap())
        });
        group.bench_function(BenchmarkId::new("number: flat table", name), |b| {
            b.iter(|| flat_syscall_number(&flat, arch, black_box(name)).unwrap())
        });
    }
    for nr in [1u32, 470] {
        group.bench_function(BenchmarkId::new("name: split tables", nr), |b| {
            b.iter(|| arch.syscall_name(black_box(nr)).unwrap())
        });
        group.bench_function(BenchmarkId::new("name: flat table", nr), |b| {
            b.iter(|| flat_syscall_name(&flat, black_box(nr)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, round_trip, compile_time, syscall_lookup);
criterion_main!(benches);
