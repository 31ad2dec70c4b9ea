//! The README's main job: `examples/container.rs`, run as root and as an
//! unprivileged user.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use linception_testkit::{Feature, NOBODY, require};

/// `target/<profile>/examples/container`, built by `cargo test` with the tests.
fn example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    dir.join("examples").join("container")
}

/// A copy of the example that any user can run, in a fresh directory of its own
/// under the temporary directory, removed on drop. The build tree may sit where
/// other users cannot enter (a clone in a 0700 home or `mktemp -d`), so a test that
/// runs the example as another user runs this copy.
struct SharedCopy {
    dir: PathBuf,
    exe: PathBuf,
}

impl SharedCopy {
    fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "linception-example-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let copy = SharedCopy {
            exe: dir.join("container"),
            dir,
        };
        let everyone = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(&copy.dir, everyone.clone()).unwrap();
        std::fs::copy(example(), &copy.exe).expect("copy the example");
        std::fs::set_permissions(&copy.exe, everyone).unwrap();
        copy
    }
}

impl Drop for SharedCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `cmd`, retrying while the kernel says ETXTBSY: a process forked by another
/// test thread may briefly hold the write fd of a copy just made.
fn output_of(cmd: &mut Command) -> Output {
    for _ in 0..100 {
        match cmd.output() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(Duration::from_millis(10))
            }
            other => return other.expect("run the example"),
        }
    }
    panic!("the example stayed busy (ETXTBSY)");
}

fn run_demo(uid: Option<u32>) -> (String, String) {
    let out = match uid {
        None => output_of(&mut Command::new(example())),
        Some(id) => {
            let copy = SharedCopy::new();
            // std also clears the supplementary groups.
            output_of(Command::new(&copy.exe).uid(id).gid(id))
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{:?}\n{stdout}\n{stderr}", out.status);
    (stdout, stderr)
}

fn check_demo(stdout: &str, stderr: &str, outer: u32) {
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {stdout}"))
            .trim()
            .to_owned()
    };
    assert!(
        field("id:").starts_with("uid=0(root) gid=0(root)"),
        "{stdout}"
    );
    assert_eq!(field("hostname:"), "container");
    let uid_map: Vec<String> = field("uid_map:")
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(uid_map, ["0", &outer.to_string(), "1"]);
    assert!(field("pid 1:").ends_with("this shell is pid 1"), "{stdout}");
    assert_eq!(field("network:"), "lo");
    for point in [
        "  / (",
        "  /usr (ro",
        "  /etc (ro",
        "  /proc (",
        "  /dev/pts (",
    ] {
        assert!(stdout.contains(point), "no {point:?} mount in {stdout}");
    }
    assert!(
        stderr.contains("[supervisor] intercepted uname()"),
        "the seccomp handler logged nothing: {stderr}"
    );
}

#[test]
fn demo_as_root() {
    require!(Feature::Root, Feature::UserNs, Feature::SeccompListener);
    let (stdout, stderr) = run_demo(None);
    check_demo(&stdout, &stderr, 0);
}

#[test]
fn demo_unprivileged() {
    require!(
        Feature::Root,
        Feature::UnprivilegedUserNs,
        Feature::SeccompListener
    );
    let (stdout, stderr) = run_demo(Some(NOBODY));
    check_demo(&stdout, &stderr, NOBODY);
}

#[test]
fn command_and_exit_code_pass_through() {
    require!(Feature::UserNs, Feature::SeccompListener);
    let out = Command::new(example())
        .args(["--", "sh", "-c", "echo in $(hostname); exit 3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "in container\n");
}

#[test]
fn missing_rootfs_is_reported() {
    require!(Feature::UserNs);
    let out = Command::new(example())
        .args(["--rootfs", "/nonexistent/rootfs", "--", "/bin/true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/rootfs") && stderr.contains("(ENOENT)"),
        "{stderr}"
    );
}
