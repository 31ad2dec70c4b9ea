//! pidfd and clone3 next to the mechanisms they replace, in one run:
//! - spawn + wait of /bin/true: clone3 + pidfd vs `std::process::Command` vs
//!   fork/execve/waitpid through libc;
//! - a process with a chosen pid: clone3 `set_tid` vs writing `ns_last_pid` + fork
//!   under a lock, both inside a private pid namespace created for the bench;
//! - reaping 1,000 children: epoll on their pidfds vs SIGCHLD (signalfd) + waitpid(-1);
//! - `send_signal` / `PidFd::open` vs the raw `libc::syscall`.
//!
//! Needs root (set_tid and ns_last_pid need CAP_CHECKPOINT_RESTORE); without it the
//! chosen-pid group is skipped with a message.
// Unsafe code here: the baselines are the raw libc calls (fork/execve/waitpid, syscall) the crate replaces.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::hint::black_box;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use criterion::Criterion;
use linception_pidfd::{
    CloneArgs, CloneFlags, CloneResult, Exec, NamespaceFd, PidFd, PidfdFlags, Signal, WaitOptions,
};

fn spawn_wait(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn_wait_true");
    let exec = Exec::new("/bin/true");
    let args = CloneArgs::new();
    g.bench_function("clone3_pidfd", |b| {
        b.iter(|| {
            let mut child = args.spawn(&exec).unwrap();
            black_box(child.wait().unwrap());
        })
    });
    g.bench_function("std_command", |b| {
        b.iter(|| black_box(std::process::Command::new("/bin/true").status().unwrap()))
    });
    // The same environment for all three.
    let prog = CString::new("/bin/true").unwrap();
    let argv = [prog.as_ptr(), std::ptr::null()];
    let env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.into_encoded_bytes();
            kv.push(b'=');
            kv.extend(v.into_encoded_bytes());
            CString::new(kv).unwrap()
        })
        .collect();
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    g.bench_function("libc_fork_exec_waitpid", |b| {
        b.iter(|| {
            // SAFETY: the child only calls execve and _exit (async-signal-safe) on
            // data prepared before the fork.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                // SAFETY: in the forked child: execve on strings and arrays built before the fork, then _exit; both async-signal-safe.
                unsafe {
                    libc::execve(prog.as_ptr(), argv.as_ptr(), envp.as_ptr());
                    libc::_exit(127);
                }
            }
            let mut status = 0;
            // SAFETY: waiting for our own child into a local.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            black_box(status)
        })
    });
    // Our portable fallback (a fork-style copy of the caller, exec status over a pipe).
    linception_pidfd::__force_fork_spawn(true);
    g.bench_function("clone3_pidfd_fork_style_fallback", |b| {
        b.iter(|| {
            let mut child = args.spawn(&exec).unwrap();
            black_box(child.wait().unwrap());
        })
    });
    linception_pidfd::__force_fork_spawn(false);
    g.finish();
}

/// A helper that is pid 1 of a pid namespace made for the bench: it runs `n`
/// iterations of a method on request and answers with the elapsed nanoseconds.
struct NsHelper {
    to: std::fs::File,
    from: std::fs::File,
    pidfd: PidFd,
}

const TARGET: i32 = 1000;

impl NsHelper {
    fn start() -> Option<NsHelper> {
        let (req_r, req_w) = rustix::pipe::pipe().ok()?;
        let (resp_r, resp_w) = rustix::pipe::pipe().ok()?;
        // SAFETY: called before criterion starts any thread; the child runs the
        // helper loop in its own single-threaded process and leaves with _exit.
        match unsafe { CloneArgs::new().flags(CloneFlags::NEWPID).fork() } {
            Err(e) => {
                eprintln!("chosen_pid: skipped, cannot create a pid namespace: {e}");
                None
            }
            Ok(CloneResult::Child) => {
                drop((req_w, resp_r));
                let code = helper_loop(std::fs::File::from(req_r), std::fs::File::from(resp_w));
                // SAFETY: the helper child ends with _exit, which runs no handler of the parent's copied state.
                unsafe { libc::_exit(code) }
            }
            Ok(CloneResult::Parent { pidfd, .. }) => Some(NsHelper {
                to: std::fs::File::from(req_w),
                from: std::fs::File::from(resp_r),
                pidfd,
            }),
        }
    }

    fn run(&mut self, method: u8, n: u64) -> Duration {
        let mut req = [0u8; 9];
        req[0] = method;
        req[1..].copy_from_slice(&n.to_ne_bytes());
        self.to.write_all(&req).unwrap();
        let mut resp = [0u8; 8];
        self.from.read_exact(&mut resp).unwrap();
        let nanos = u64::from_ne_bytes(resp);
        assert_ne!(nanos, u64::MAX, "the helper's method failed");
        Duration::from_nanos(nanos)
    }
}

fn helper_loop(mut req: std::fs::File, mut resp: std::fs::File) -> i32 {
    let last_pid = std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/sys/kernel/ns_last_pid")
        .unwrap();
    let set_tid = CloneArgs::new().set_tid([TARGET]);
    let prev = CString::new((TARGET - 1).to_string()).unwrap();
    let true_exec = Exec::new("/bin/true").env_clear();
    let prog = CString::new("/bin/true").unwrap();
    let argv = [prog.as_ptr(), std::ptr::null()];
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    loop {
        let mut buf = [0u8; 9];
        if req.read_exact(&mut buf).is_err() {
            return 0;
        }
        let n = u64::from_ne_bytes(buf[1..].try_into().unwrap());
        let t0 = Instant::now();
        let ok = (0..n).all(|_| match buf[0] {
            // clone3 with set_tid, reap through the pidfd.
            // SAFETY: the child calls nothing but _exit (async-signal-safe, no allocation).
            0 => match unsafe { set_tid.fork() } {
                // SAFETY: _exit in the fork-like child, as the fork's contract requires.
                Ok(CloneResult::Child) => unsafe { libc::_exit(0) },
                Ok(CloneResult::Parent { pid, pidfd }) => {
                    pidfd.wait().is_ok() && pid.as_raw() == TARGET
                }
                Err(_) => false,
            },
            // clone3 set_tid + execve of /bin/true (the CLONE_VM spawn), wait.
            2 => match set_tid.spawn(&true_exec) {
                Ok(mut c) => c.wait().is_ok() && c.pid().as_raw() == TARGET,
                Err(_) => false,
            },
            // The raw clone3 syscall with set_tid (no pidfd, no validation), waitpid.
            // SAFETY: a 10-u64 clone_args (80 bytes, VER1) with a live one-element set_tid array; without CLONE_VM the child returns on its own stack copy and only _exits; waitpid writes a local.
            4 => unsafe {
                let tid = [TARGET];
                let mut args = [0u64; 10];
                args[4] = libc::SIGCHLD as u64; // exit_signal
                args[8] = tid.as_ptr() as u64; // set_tid
                args[9] = 1; // set_tid_size
                let pid = libc::syscall(libc::SYS_clone3, args.as_mut_ptr(), 80);
                if pid == 0 {
                    libc::_exit(0);
                }
                let mut st = 0;
                libc::waitpid(pid as i32, &mut st, 0);
                pid == TARGET as i64
            },
            // ns_last_pid under a lock, fork + execve of /bin/true, waitpid.
            // SAFETY: flock/pwrite on an open fd with a live buffer of the length passed; the child only execs strings built before the fork or _exits; waitpid writes a local.
            3 => unsafe {
                libc::flock(last_pid.as_raw_fd(), libc::LOCK_EX);
                let w = libc::pwrite(
                    last_pid.as_raw_fd(),
                    prev.as_ptr().cast(),
                    prev.as_bytes().len(),
                    0,
                );
                let pid = libc::fork();
                if pid == 0 {
                    libc::execve(prog.as_ptr(), argv.as_ptr(), envp.as_ptr());
                    libc::_exit(127);
                }
                libc::flock(last_pid.as_raw_fd(), libc::LOCK_UN);
                let mut st = 0;
                libc::waitpid(pid, &mut st, 0);
                w > 0 && pid == TARGET && st == 0
            },
            // ns_last_pid under a lock: write TARGET-1, fork, check, unlock, waitpid.
            // SAFETY: as above: flock/pwrite on an open fd, a child that only _exits, waitpid into a local.
            _ => unsafe {
                libc::flock(last_pid.as_raw_fd(), libc::LOCK_EX);
                let w = libc::pwrite(
                    last_pid.as_raw_fd(),
                    prev.as_ptr().cast(),
                    prev.as_bytes().len(),
                    0,
                );
                let pid = libc::fork();
                if pid == 0 {
                    libc::_exit(0);
                }
                libc::flock(last_pid.as_raw_fd(), libc::LOCK_UN);
                let mut st = 0;
                libc::waitpid(pid, &mut st, 0);
                w > 0 && pid == TARGET
            },
        });
        let nanos = if ok {
            t0.elapsed().as_nanos() as u64
        } else {
            u64::MAX
        };
        if resp.write_all(&nanos.to_ne_bytes()).is_err() {
            return 1;
        }
    }
}

fn chosen_pid(c: &mut Criterion, helper: &mut Option<NsHelper>) {
    let Some(h) = helper.as_mut() else { return };
    let mut g = c.benchmark_group("chosen_pid");
    g.bench_function("clone3_set_tid", |b| b.iter_custom(|n| h.run(0, n)));
    g.bench_function("ns_last_pid_fork_locked", |b| {
        b.iter_custom(|n| h.run(1, n))
    });
    g.bench_function("raw_clone3_set_tid_syscall", |b| {
        b.iter_custom(|n| h.run(4, n))
    });
    g.bench_function("clone3_set_tid_exec_true", |b| {
        b.iter_custom(|n| h.run(2, n))
    });
    g.bench_function("ns_last_pid_fork_exec_true_locked", |b| {
        b.iter_custom(|n| h.run(3, n))
    });
    g.finish();
}

const CHILDREN: usize = 1000;

/// Forks CHILDREN processes blocked on `gate` (each exits after reading one byte;
/// they all inherit the write end too, so closing it would not release them);
/// returns their pidfds (None for the libc path, which has only pids).
fn make_children(gate: &OwnedFd, with_pidfd: bool) -> Vec<Option<PidFd>> {
    let gate = gate.as_raw_fd();
    (0..CHILDREN)
        .map(|_| {
            if with_pidfd {
                // SAFETY: the child only calls read and _exit.
                match unsafe { CloneArgs::new().fork() }.unwrap() {
                    // SAFETY: the child reads one byte into a local from an open pipe fd, then _exits.
                    CloneResult::Child => unsafe {
                        let mut b = 0u8;
                        libc::read(gate, (&raw mut b).cast(), 1);
                        libc::_exit(0)
                    },
                    CloneResult::Parent { pidfd, .. } => Some(pidfd),
                }
            } else {
                // SAFETY: as above.
                let pid = unsafe { libc::fork() };
                if pid == 0 {
                    // SAFETY: as above: a one-byte read into a local, then _exit.
                    unsafe {
                        let mut b = 0u8;
                        libc::read(gate, (&raw mut b).cast(), 1);
                        libc::_exit(0)
                    }
                }
                None
            }
        })
        .collect()
}

/// Lets every child blocked on the gate go at once.
fn release(gate_w: &OwnedFd) {
    let bytes = [0u8; CHILDREN];
    let mut done = 0;
    while done < CHILDREN {
        done += rustix::io::write(gate_w, &bytes[done..]).unwrap();
    }
}

fn reap_epoll(n: u64) -> Duration {
    use rustix::event::epoll;
    let mut total = Duration::ZERO;
    for _ in 0..n {
        let (gate_r, gate_w) = rustix::pipe::pipe().unwrap();
        let kids: Vec<PidFd> = make_children(&gate_r, true).into_iter().flatten().collect();
        let ep = epoll::create(epoll::CreateFlags::CLOEXEC).unwrap();
        for (i, k) in kids.iter().enumerate() {
            epoll::add(
                &ep,
                k,
                epoll::EventData::new_u64(i as u64),
                epoll::EventFlags::IN,
            )
            .unwrap();
        }
        let t0 = Instant::now();
        release(&gate_w);
        let mut left = kids.len();
        let mut events = Vec::with_capacity(256);
        while left > 0 {
            events.clear();
            epoll::wait(&ep, rustix::buffer::spare_capacity(&mut events), None).unwrap();
            for ev in &events {
                let k = &kids[ev.data.u64() as usize];
                if k.try_wait().unwrap().is_some() {
                    epoll::delete(&ep, k).unwrap();
                    left -= 1;
                }
            }
        }
        total += t0.elapsed();
    }
    total
}

fn reap_sigchld(n: u64) -> Duration {
    let mut total = Duration::ZERO;
    // SAFETY: plain signal-mask and signalfd calls on local sets.
    let sfd = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        OwnedFd::from_raw_fd(libc::signalfd(-1, &set, libc::SFD_CLOEXEC))
    };
    for _ in 0..n {
        let (gate_r, gate_w) = rustix::pipe::pipe().unwrap();
        make_children(&gate_r, false);
        let t0 = Instant::now();
        release(&gate_w);
        let mut left = CHILDREN;
        let mut info = [0u8; 128];
        while left > 0 {
            // One SIGCHLD may stand for many exits: drain with waitpid(-1, WNOHANG).
            rustix::io::read(&sfd, &mut info).unwrap();
            loop {
                let mut st = 0;
                // SAFETY: waiting for any child into a local.
                let r = unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG) };
                if r <= 0 {
                    break;
                }
                left -= 1;
            }
        }
        total += t0.elapsed();
    }
    // SAFETY: as above.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
    total
}

fn reap_many(c: &mut Criterion) {
    let mut g = c.benchmark_group("reap_1000_children");
    g.sample_size(10);
    g.bench_function("epoll_pidfds", |b| b.iter_custom(reap_epoll));
    g.bench_function("sigchld_waitpid", |b| b.iter_custom(reap_sigchld));
    g.finish();
}

fn overhead(c: &mut Criterion) {
    let mut child = CloneArgs::new()
        .spawn(&Exec::new("/bin/sleep").arg("1000"))
        .unwrap();
    let mut g = c.benchmark_group("overhead");
    let pidfd = child.pidfd();
    let raw = pidfd.as_fd().as_raw_fd();
    g.bench_function("send_signal", |b| {
        b.iter(|| pidfd.send_signal(black_box(Signal::NULL)).unwrap())
    });
    g.bench_function("send_signal_raw_syscall", |b| {
        b.iter(|| {
            // SAFETY: the pidfd is open for the whole bench; NULL siginfo is allowed.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    black_box(raw),
                    0,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                )
            };
            assert_eq!(r, 0);
        })
    });
    g.bench_function("waitid_nohang_siginfo", |b| {
        let opts = WaitOptions::EXITED | WaitOptions::NOHANG;
        b.iter(|| assert!(pidfd.waitid(black_box(opts)).unwrap().is_none()))
    });
    g.bench_function("waitid_nohang_raw_libc", |b| {
        b.iter(|| {
            // SAFETY: the pidfd is open for the whole bench; `info` is a local.
            unsafe {
                let mut info: libc::siginfo_t = std::mem::zeroed();
                let r = libc::waitid(
                    libc::P_PIDFD,
                    black_box(raw) as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOHANG | libc::__WALL,
                );
                assert_eq!((r, info.si_pid()), (0, 0));
            }
        })
    });
    let pid = child.pid();
    g.bench_function("pidfd_open", |b| {
        b.iter(|| drop(PidFd::open(black_box(pid), PidfdFlags::empty()).unwrap()))
    });
    g.bench_function("pidfd_open_raw_syscall", |b| {
        b.iter(|| {
            // SAFETY: pidfd_open returns a new fd that we close at once.
            unsafe {
                let fd = libc::syscall(libc::SYS_pidfd_open, black_box(pid.as_raw()), 0);
                assert!(fd >= 0);
                libc::close(fd as i32);
            }
        })
    });
    g.finish();
    child.kill().unwrap();
    child.wait().unwrap();
}

fn namespaces(c: &mut Criterion) {
    let mut g = c.benchmark_group("namespace_identity");
    let a = NamespaceFd::open("/proc/self/ns/net").unwrap();
    let b2 = NamespaceFd::open("/proc/thread-self/ns/net").unwrap();
    g.bench_function("same_as_fstat", |b| {
        b.iter(|| assert!(black_box(&a).same_as(black_box(&b2)).unwrap()))
    });
    g.bench_function("ns_get_id_both", |b| {
        b.iter(|| assert_eq!(black_box(&a).id().unwrap(), black_box(&b2).id().unwrap()))
    });
    g.bench_function("readlink_compare", |b| {
        b.iter(|| {
            let x = std::fs::read_link(black_box("/proc/self/ns/net")).unwrap();
            let y = std::fs::read_link(black_box("/proc/thread-self/ns/net")).unwrap();
            assert_eq!(x, y);
        })
    });
    g.finish();
}

fn main() {
    // Before criterion or anything else starts a thread.
    let mut helper = if rustix::process::geteuid().is_root() {
        NsHelper::start()
    } else {
        eprintln!("chosen_pid: skipped, needs root (CAP_CHECKPOINT_RESTORE)");
        None
    };
    let mut c = Criterion::default().configure_from_args();
    spawn_wait(&mut c);
    chosen_pid(&mut c, &mut helper);
    reap_many(&mut c);
    overhead(&mut c);
    namespaces(&mut c);
    if let Some(h) = helper {
        drop(h.to);
        let _ = h.pidfd.wait();
    }
    c.final_summary();
}
