//! One container, spawned once through the builder: the minimal launcher for
//! whole-process comparisons against the C baseline's one-shot mode
//! (`benches/phase_baseline.c`), which takes the same arguments.
//!
//! ```text
//! spawn_once [--net] ROOTFS     # the container's exit status is this program's
//! spawn_once --startup-only     # exits 0 before building anything: the start-up alone
//! ```
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

use std::path::PathBuf;
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: spawn_once [--net] ROOTFS\n       spawn_once --startup-only");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut net = false;
    let mut rootfs = None;
    for arg in std::env::args_os().skip(1) {
        match arg.to_str() {
            Some("--startup-only") => return ExitCode::SUCCESS,
            Some("--net") => net = true,
            Some(flag) if flag.starts_with("--") => return usage(),
            _ if rootfs.is_none() => rootfs = Some(PathBuf::from(arg)),
            _ => return usage(),
        }
    }
    let Some(rootfs) = rootfs else {
        return usage();
    };
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
