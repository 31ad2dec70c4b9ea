//! What the spawn benchmarks share: the container itself ([`container`]), a minimal
//! rootfs built in the target directory, the C baseline (`benches/phase_baseline.c`)
//! compiled with `gcc` at run time, and finding peer programs on `PATH`.
//!
//! A bench file uses it with `mod common;`.

// Each bench file uses its own subset of these helpers.
#![allow(dead_code)]

pub mod container;

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The cargo target directory this benchmark runs from: the bench executable lives
/// in `TARGET/<profile>/deps/` (an example in `TARGET/<profile>/examples/`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the running benchmark");
    exe.ancestors()
        .nth(3)
        .map(Path::to_owned)
        .unwrap_or_else(std::env::temp_dir)
}

/// A directory of the target directory for the benchmarks' files (created).
pub fn out_dir(name: &str) -> PathBuf {
    let dir = target_dir().join(name);
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    dir
}

/// Builds `TARGET/bench-rootfs` anew: `/bin/true` and the shared libraries it loads
/// (found with `ldd`), and the mount points `proc`, `dev`, `tmp`. Every directory is
/// `0755`, so that the container's root (uid 100000 outside) can reach it.
///
/// # Errors
/// When `ldd` is missing or fails, a copy fails, or a directory above the rootfs
/// cannot be searched by other users (the container's root could not reach it).
pub fn minimal_rootfs() -> Result<PathBuf, String> {
    let dir = target_dir().join("bench-rootfs");
    build_rootfs(&dir).map_err(|e| format!("building the rootfs {}: {e}", dir.display()))?;
    searchable_by_others(&dir)?;
    Ok(dir)
}

fn build_rootfs(dir: &Path) -> io::Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    for sub in ["bin", "proc", "dev", "tmp"] {
        fs::create_dir_all(dir.join(sub))?;
    }
    let true_bin = fs::canonicalize("/bin/true")?;
    fs::copy(&true_bin, dir.join("bin/true"))?;
    let ldd = Command::new("ldd")
        .arg(&true_bin)
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("running ldd: {e}")))?;
    if !ldd.status.success() {
        return Err(io::Error::other(format!(
            "ldd {}: {}",
            true_bin.display(),
            ldd.status
        )));
    }
    for word in String::from_utf8_lossy(&ldd.stdout).split_whitespace() {
        if !word.starts_with('/') {
            continue;
        }
        let dest = dir.join(word.trim_start_matches('/'));
        fs::create_dir_all(dest.parent().expect("a library path has a parent"))?;
        // fs::copy follows symlinks: the library itself lands under its linked name.
        fs::copy(word, &dest)?;
    }
    for entry in walk(dir)? {
        if entry.is_dir() {
            fs::set_permissions(&entry, fs::Permissions::from_mode(0o755))?;
        }
    }
    Ok(())
}

/// Every directory below `dir`, `dir` included.
fn walk(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut dirs = vec![dir.to_owned()];
    let mut i = 0;
    while i < dirs.len() {
        for entry in fs::read_dir(&dirs[i])? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                dirs.push(entry.path());
            }
        }
        i += 1;
    }
    Ok(dirs)
}

/// Refuses a rootfs below a directory others cannot search (`o+x`): the container's
/// root is uid 100000 on the host, and could not reach it.
fn searchable_by_others(dir: &Path) -> Result<(), String> {
    for ancestor in dir.ancestors().skip(1) {
        let mode = fs::metadata(ancestor)
            .map_err(|e| format!("{}: {e}", ancestor.display()))?
            .permissions()
            .mode();
        if mode & 0o001 == 0 {
            return Err(format!(
                "the rootfs {} is below {} (mode {:o}), which uid 100000 cannot search: \
                 use a target directory others can reach (CARGO_TARGET_DIR)",
                dir.display(),
                ancestor.display(),
                mode & 0o7777
            ));
        }
    }
    Ok(())
}

/// The source of the C baseline.
pub fn c_baseline_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/phase_baseline.c")
}

/// Compiles `benches/phase_baseline.c` with `gcc -O2 -pthread` into `TARGET/bench-c/`.
///
/// # Errors
/// A reason to print with `SKIP:` when `gcc` is missing; the compiler's output when
/// it fails.
pub fn c_baseline() -> Result<PathBuf, String> {
    let gcc = find_program("gcc").ok_or("gcc is not installed (needed for the C baseline)")?;
    let out = out_dir("bench-c").join("phase_baseline");
    let built = Command::new(gcc)
        .args(["-O2", "-Wall", "-pthread", "-o"])
        .arg(&out)
        .arg(c_baseline_source())
        .output()
        .map_err(|e| format!("running gcc: {e}"))?;
    if !built.status.success() {
        return Err(format!(
            "gcc failed on {}: {}",
            c_baseline_source().display(),
            String::from_utf8_lossy(&built.stderr)
        ));
    }
    Ok(out)
}

/// `name` on `PATH` (an executable regular file), like a shell's `type -P`.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// Whether this process runs as root (the container's 65536-id map needs it).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// What a bench needs before it spawns: root (the 65536-id map) and the rootfs.
/// `Err` is the exit code to return: a printed `SKIP` (a failure under
/// `LINCEPTION_REQUIRE_ALL=1`) when not root, a failure when the rootfs cannot be
/// built.
pub fn root_and_rootfs(bench: &str) -> Result<PathBuf, std::process::ExitCode> {
    use std::process::ExitCode;
    if !is_root() {
        println!("SKIP: {bench}: needs root (the container maps 0 -> 100000 x 65536)");
        return Err(
            if std::env::var_os("LINCEPTION_REQUIRE_ALL").is_some_and(|v| v == "1") {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            },
        );
    }
    minimal_rootfs().map_err(|e| {
        eprintln!("{bench}: {e}");
        ExitCode::FAILURE
    })
}
