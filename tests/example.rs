//! The README's main job: `examples/container.rs`, run as root and as an
//! unprivileged user.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use linception_testkit::{Feature, NOBODY, require};

/// `target/<profile>/examples/container`, built by `cargo test` with the tests.
fn example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    dir.join("examples").join("container")
}

fn run_demo(uid: Option<u32>) -> (String, String) {
    let mut cmd = Command::new(example());
    if let Some(id) = uid {
        cmd.uid(id).gid(id); // std also clears the supplementary groups
    }
    let out = cmd.output().expect("run the example");
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
