//! Containers per second from 1, 2 and 4 threads (issue 15, "many at once").
//!
//! Every thread spawns the same container one after the other, for a fixed time
//! per cell (`LINCEPTION_THROUGHPUT_SECS`, default 2), cut into rounds
//! (`LINCEPTION_THROUGHPUT_ROUNDS`, default 4) that each run every peer at every
//! thread count, so that the shared machine's drift falls on every cell alike. The
//! run reports containers per second, the p50 and p99 latency of one spawn (start
//! to reaped), and each rate against the one-thread rate (the median over the
//! rounds of the round's ratio). The container is
//! [`common::container`]'s: user, mount, pid, uts, ipc namespaces, the maps
//! 0 -> 100000 x 65536, the rootfs bound as the root, proc, a tmpfs on /dev,
//! `pivot_root`, a read-only root, `no_new_privs`, 48 EPERM seccomp rules,
//! `/bin/true`. The peers, each skipped with a printed reason when missing:
//!
//! - `linception`: [`common::container::builder`] `.spawn()` and `wait()` in this
//!   process (one builder call per spawn);
//! - `linception process`: the `spawn_once` example run as a process for each
//!   container, when it was built (`cargo build --release --example spawn_once`);
//! - `C process`: `benches/phase_baseline.c` (compiled with gcc here) run as a
//!   process for each container;
//! - `bwrap`: bubblewrap doing as much of the same container as it can: its user
//!   namespace maps only uid/gid 0 -> 0 (one id; it offers no wider map), and it
//!   runs `/bin/true` as pid 1 (`--as-pid-1`); the seccomp program is the same
//!   filter compiled by linception, passed on an fd.
//!
//! Needs root (the 65536-id map). `cargo bench --bench throughput [FILTER...]`:
//! only the peers whose name contains a FILTER run. Run without `--bench` (as
//! `cargo test --benches` does) it spawns one container per peer, as a check. The
//! table is printed and written to `TARGET/throughput/results.md`.

mod common;

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use linception::seccomp_notify::compile;

/// The thread counts measured.
const THREADS: [usize; 3] = [1, 2, 4];

/// One way to spawn the container: one call, one container, reaped.
struct Peer {
    name: &'static str,
    spawn: Box<dyn Fn() -> Result<(), String> + Sync>,
}

/// What one slice of time at one thread count gave.
struct Slice {
    spawns: usize,
    wall: Duration,
    latencies: Vec<Duration>,
}

/// The figures of one peer at one thread count, over every round.
struct Cell {
    peer: &'static str,
    threads: usize,
    spawns: usize,
    rate: f64,
    /// The median over the rounds of this round's rate / the same round's
    /// one-thread rate (1 for one thread).
    vs_one: f64,
    p50: Duration,
    p99: Duration,
}

/// The latency at fraction `q` of sorted `v` (nearest rank).
fn quantile(v: &[Duration], q: f64) -> Duration {
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// `threads` threads spawn through `peer` until `time` has passed.
fn measure(peer: &Peer, threads: usize, time: Duration) -> Result<Slice, String> {
    let latencies = Mutex::new(Vec::new());
    let start = Instant::now();
    let deadline = start + time;
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| -> Result<(), String> {
                    let mut mine = Vec::with_capacity(4096);
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        (peer.spawn)()?;
                        mine.push(t.elapsed());
                    }
                    latencies.lock().unwrap().extend(mine);
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("a spawning thread panicked"))
    })?;
    let latencies = latencies.into_inner().unwrap();
    Ok(Slice {
        spawns: latencies.len(),
        wall: start.elapsed(),
        latencies,
    })
}

/// Each (peer, thread count) from its slices, one per round (`slices[round]`
/// holds that round's slices in `THREADS` order).
fn cell(peer: &'static str, threads: usize, slices: &[Vec<Slice>]) -> Cell {
    let at = THREADS.iter().position(|t| *t == threads).unwrap();
    let spawns: usize = slices.iter().map(|r| r[at].spawns).sum();
    let wall: f64 = slices.iter().map(|r| r[at].wall.as_secs_f64()).sum();
    let rate = |s: &Slice| s.spawns as f64 / s.wall.as_secs_f64();
    let mut ratios: Vec<f64> = slices.iter().map(|r| rate(&r[at]) / rate(&r[0])).collect();
    ratios.sort_by(f64::total_cmp);
    let mut v: Vec<Duration> = slices
        .iter()
        .flat_map(|r| r[at].latencies.iter().copied())
        .collect();
    v.sort();
    Cell {
        peer,
        threads,
        spawns,
        rate: spawns as f64 / wall,
        vs_one: ratios[ratios.len() / 2],
        p50: quantile(&v, 0.5),
        p99: quantile(&v, 0.99),
    }
}

/// A finished process that exited 0, or what it did instead.
fn exited_zero(
    what: &str,
    status: std::io::Result<std::process::ExitStatus>,
) -> Result<(), String> {
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("{what}: {s}")),
        Err(e) => Err(format!("{what}: {e}")),
    }
}

fn linception_peer(rootfs: PathBuf) -> Peer {
    Peer {
        name: "linception",
        spawn: Box::new(move || {
            let mut c = common::container::builder(&rootfs, false)
                .spawn()
                .map_err(|e| format!("spawn: {e}"))?;
            let status = c.wait().map_err(|e| format!("wait: {e}"))?;
            match status.code() {
                Some(0) => Ok(()),
                _ => Err(format!("the container ended with {status:?}")),
            }
        }),
    }
}

fn process_peer(name: &'static str, program: PathBuf, rootfs: PathBuf) -> Peer {
    Peer {
        name,
        spawn: Box::new(move || {
            let status = Command::new(&program)
                .arg(&rootfs)
                .stdin(Stdio::null())
                .status();
            exited_zero(&program.display().to_string(), status)
        }),
    }
}

/// The container's seccomp program in the form bwrap reads from an fd: the
/// `struct sock_filter` array, native byte order.
fn bwrap_program() -> Result<Vec<u8>, String> {
    let program = compile(&common::container::filter()).map_err(|e| e.to_string())?;
    let mut bytes = Vec::with_capacity(program.len() * 8);
    for insn in program.instructions() {
        bytes.extend_from_slice(&insn.code.to_ne_bytes());
        bytes.extend_from_slice(&[insn.jt, insn.jf]);
        bytes.extend_from_slice(&insn.k.to_ne_bytes());
    }
    Ok(bytes)
}

fn bwrap_peer(bwrap: PathBuf, rootfs: PathBuf, filter: PathBuf) -> Peer {
    Peer {
        name: "bwrap",
        spawn: Box::new(move || {
            // bwrap reads the program from an inherited fd: a fresh open file for
            // each spawn (its own offset), duplicated without close-on-exec.
            let file = File::open(&filter).map_err(|e| format!("{}: {e}", filter.display()))?;
            let fd: OwnedFd = rustix::io::dup(&file).map_err(|e| format!("dup: {e}"))?;
            let status = Command::new(&bwrap)
                .args([
                    "--unshare-user",
                    "--unshare-pid",
                    "--unshare-uts",
                    "--unshare-ipc",
                ])
                .args(["--uid", "0", "--gid", "0", "--as-pid-1"])
                .arg("--bind")
                .arg(&rootfs)
                .arg("/")
                .args(["--proc", "/proc", "--perms", "0755", "--tmpfs", "/dev"])
                .args(["--remount-ro", "/"])
                .arg("--seccomp")
                .arg(fd.as_raw_fd().to_string())
                .arg("/bin/true")
                .stdin(Stdio::null())
                .status();
            drop(fd);
            exited_zero("bwrap", status)
        }),
    }
}

/// The peers that can run here; a missing one is reported with its reason.
fn peers(rootfs: &Path) -> Vec<Peer> {
    let mut peers = vec![linception_peer(rootfs.to_owned())];
    let example = common::target_dir().join("release/examples/spawn_once");
    if example.is_file() {
        peers.push(process_peer(
            "linception process",
            example,
            rootfs.to_owned(),
        ));
    } else {
        println!(
            "SKIP: linception process: {} is not built (cargo build --release --example spawn_once)",
            example.display()
        );
    }
    match common::c_baseline() {
        Ok(c) => peers.push(process_peer("C process", c, rootfs.to_owned())),
        Err(why) => println!("SKIP: C process: {why}"),
    }
    match common::find_program("bwrap") {
        None => println!("SKIP: bwrap: bubblewrap is not installed"),
        Some(bwrap) => match bwrap_program() {
            Ok(bytes) => {
                let filter = common::out_dir("throughput").join("seccomp.bpf");
                match std::fs::write(&filter, bytes) {
                    Ok(()) => peers.push(bwrap_peer(bwrap, rootfs.to_owned(), filter)),
                    Err(e) => println!("SKIP: bwrap: writing {}: {e}", filter.display()),
                }
            }
            Err(e) => println!("SKIP: bwrap: compiling the filter: {e}"),
        },
    }
    peers
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The results as a markdown table, with each rate against the same peer's
/// one-thread rate.
fn table(cells: &[Cell], time: Duration, rounds: usize) -> String {
    let uname = rustix::system::uname();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Throughput, {} s per cell in {rounds} rounds, Linux {}, {cpus} CPUs; \
         x 1 thread: the median over the rounds of the rate against the same round's \
         one-thread rate\n",
        time.as_secs_f64(),
        uname.release().to_string_lossy()
    );
    out.push_str("| peer | threads | containers/s | x 1 thread | p50 ms | p99 ms | spawns |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    for c in cells {
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
            c.peer,
            c.threads,
            c.rate,
            c.vs_one,
            ms(c.p50),
            ms(c.p99),
            c.spawns
        );
    }
    let two: Vec<String> = cells
        .iter()
        .filter(|c| c.threads == 2)
        .map(|c| format!("{} {:.2}", c.peer, c.vs_one))
        .collect();
    let _ = writeln!(out, "\n2 threads / 1 thread: {}", two.join(", "));
    out
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let benching = args.iter().any(|a| a == "--bench");
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let rootfs = match common::root_and_rootfs("throughput") {
        Ok(r) => r,
        Err(code) => return code,
    };
    let peers: Vec<Peer> = peers(&rootfs)
        .into_iter()
        .filter(|p| filters.is_empty() || filters.iter().any(|f| p.name.contains(f.as_str())))
        .collect();
    // Every peer once first: a broken one fails here, before anything is timed.
    for p in &peers {
        if let Err(e) = (p.spawn)() {
            eprintln!("throughput: {}: {e}", p.name);
            return ExitCode::FAILURE;
        }
    }
    if !benching {
        println!("throughput: one container per peer spawned (run under cargo bench to measure)");
        return ExitCode::SUCCESS;
    }
    let secs = std::env::var("LINCEPTION_THROUGHPUT_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .unwrap_or(2.0);
    let rounds = std::env::var("LINCEPTION_THROUGHPUT_ROUNDS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|r| *r > 0)
        .unwrap_or(4);
    let time = Duration::from_secs_f64(secs);
    let slice = time / rounds as u32;
    // Warm-up: page cache, the kernel's caches, the lazy parts of each peer.
    for p in &peers {
        if let Err(e) = measure(p, 1, Duration::from_millis(200)) {
            eprintln!("throughput: {}: {e}", p.name);
            return ExitCode::FAILURE;
        }
    }
    // Rounds of short slices, every thread count of every peer in each: a drift
    // of the machine's speed (it is shared) falls on every cell alike.
    // slices[peer][round][thread count]
    let mut slices: Vec<Vec<Vec<Slice>>> = peers.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for (i, p) in peers.iter().enumerate() {
            let mut this_round = Vec::new();
            for threads in THREADS {
                match measure(p, threads, slice) {
                    Ok(s) => this_round.push(s),
                    Err(e) => {
                        eprintln!("throughput: {} at {threads} threads: {e}", p.name);
                        return ExitCode::FAILURE;
                    }
                }
            }
            slices[i].push(this_round);
        }
        println!("round {} of {rounds} done", round + 1);
    }
    let cells: Vec<Cell> = peers
        .iter()
        .zip(&slices)
        .flat_map(|(p, s)| THREADS.map(|t| cell(p.name, t, s)))
        .collect();
    let md = table(&cells, time, rounds);
    println!("\n{md}");
    let path = common::out_dir("throughput").join("results.md");
    match File::create(&path).and_then(|mut f| f.write_all(md.as_bytes())) {
        Ok(()) => println!("written to {}", path.display()),
        Err(e) => eprintln!("throughput: writing {}: {e}", path.display()),
    }
    ExitCode::SUCCESS
}
