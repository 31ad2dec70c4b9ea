//! One container, spawned once through the builder: the minimal launcher for
//! whole-process comparisons against the C baseline's one-shot mode
//! (`benches/phase_baseline.c`), which takes the same arguments.
//!
//! ```text
//! spawn_once [--net] ROOTFS           # the container's exit status is this program's
//! spawn_once [--net] --loop N ROOTFS  # N containers in this process, one by one
//! spawn_once --startup-only           # exits 0 before building anything: the start-up alone
//! ```
//!
//! `--loop N` prints the mean time of one builder call + spawn + wait, like the C
//! baseline's `--loop N`.
//!
//! The container (`benches/common/container.rs`): user, mount, pid, uts and ipc
//! namespaces (and net with `--net`, its loopback left down), the maps
//! 0 -> 100000 x 65536, ROOTFS bound as the root, a new proc, a tmpfs on /dev,
//! `pivot_root`, a read-only root, `no_new_privs`, 48 EPERM seccomp rules,
//! `/bin/true`. ROOTFS holds `/bin/true`, its libraries, and `proc` and `dev`
//! directories (the benches build one in the target directory, `bench-rootfs`).
//! Run as root: writing a 65536-id map needs it.

#[path = "../benches/common/container.rs"]
mod container;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

fn usage() -> ExitCode {
    eprintln!("usage: spawn_once [--net] [--loop N] ROOTFS\n       spawn_once --startup-only");
    ExitCode::from(2)
}

/// `n` containers one after the other; the mean time of one.
fn spawn_loop(rootfs: &Path, net: bool, n: u32) -> ExitCode {
    let start = Instant::now();
    for i in 0..n {
        let status = container::builder(rootfs, net)
            .spawn()
            .and_then(|mut c| c.wait());
        match status {
            Ok(s) if s.code() == Some(0) => {}
            other => {
                eprintln!("spawn_once: spawn {i}: {other:?}");
                return ExitCode::FAILURE;
            }
        }
    }
    let per = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    let net = if net { " --net" } else { "" };
    println!("spawn_once --loop {n}{net}: {per:.1} us per spawn + wait");
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let mut net = false;
    let mut rootfs = None;
    let mut count = None;
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--startup-only") => return ExitCode::SUCCESS,
            Some("--net") => net = true,
            Some("--loop") if count.is_none() => {
                match args.next().and_then(|n| n.to_str()?.parse::<u32>().ok()) {
                    Some(n) if n > 0 => count = Some(n),
                    _ => return usage(),
                }
            }
            Some(flag) if flag.starts_with("--") => return usage(),
            _ if rootfs.is_none() => rootfs = Some(PathBuf::from(arg)),
            _ => return usage(),
        }
    }
    let Some(rootfs) = rootfs else {
        return usage();
    };
    if let Some(n) = count {
        return spawn_loop(&rootfs, net, n);
    }
    let mut c = match container::builder(&rootfs, net).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("spawn_once: {e}");
            return ExitCode::from(125);
        }
    };
    match c.wait() {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => ExitCode::from(code as u8),
            (None, Some(sig)) => ExitCode::from(128 + sig.as_raw() as u8),
            _ => ExitCode::FAILURE,
        },
        Err(e) => {
            eprintln!("spawn_once: wait: {e}");
            ExitCode::from(125)
        }
    }
}
