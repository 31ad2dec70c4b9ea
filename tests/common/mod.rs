//! Shared helpers of the container tests.
#![allow(dead_code)]

use std::io::Read;

use linception::{Container, ContainerBuilder, ExitStatus, Mount, Namespaces, RootFs, Stdio};

/// The namespaces most tests use.
pub const NS: Namespaces = Namespaces::USER
    .union(Namespaces::MOUNT)
    .union(Namespaces::PID)
    .union(Namespaces::UTS)
    .union(Namespaces::IPC);

/// `sh -c script` in a tmpfs root holding the host's system directories and a proc.
pub fn sh(script: &str) -> ContainerBuilder {
    Container::builder("/bin/sh")
        .args(["-c", script])
        .namespaces(NS)
        .root(RootFs::Tmpfs)
        .mounts(Mount::host_system())
        .mount(Mount::proc("/proc"))
}

/// Spawns with stdout piped; returns the exit status and everything printed.
pub fn output(b: ContainerBuilder) -> (ExitStatus, String) {
    let mut c = b.stdout(Stdio::Piped).spawn().expect("spawn");
    let mut out = String::new();
    c.take_stdout()
        .expect("piped stdout")
        .read_to_string(&mut out)
        .expect("read stdout");
    let st = c.wait().expect("wait");
    (st, out)
}

/// Like [`output`], asserting success.
pub fn stdout_of(b: ContainerBuilder) -> String {
    let (st, out) = output(b);
    assert!(st.success(), "container failed: {st:?}, output {out:?}");
    out
}

/// The value of a `Name:\tvalue` line of /proc/<pid>/status text.
pub fn status_field<'a>(status: &'a str, name: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {name} in {status}"))
}

/// Asserts this process has no child left (every container reaped).
pub fn assert_no_children() {
    // SAFETY-free: waitid through rustix.
    let r = rustix::process::waitid(
        rustix::process::WaitId::All,
        rustix::process::WaitIdOptions::EXITED | rustix::process::WaitIdOptions::NOHANG,
    );
    match r {
        Err(e) if e == rustix::io::Errno::CHILD => {}
        other => panic!("a child process is left: {other:?}"),
    }
}

/// A directory under the temporary directory, removed when dropped (even when an
/// assertion fails first).
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    /// Creates `<tmp>/linception-<name>-<pid>`.
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("linception-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).expect("create the temporary directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Spawns `build()` in a forked child (as root, or unprivileged) under a leak check
/// (fds, mounts) and a check that no child process is left; returns the error's
/// kind, step, errno and text.
pub fn failure(
    unprivileged: bool,
    build: impl FnOnce() -> ContainerBuilder,
) -> (String, Option<String>, Option<i32>, String) {
    let fork = if unprivileged {
        linception_testkit::Fork::new().unprivileged()
    } else {
        linception_testkit::Fork::new()
    };
    fork.run(|| {
        let b = build();
        let err = linception_testkit::leaks::assert_no_leaks(|| {
            b.spawn().expect_err("spawn should fail")
        });
        assert_no_children();
        (
            format!("{:?}", err.kind()),
            err.step().map(str::to_owned),
            err.raw_os_error(),
            err.to_string(),
        )
    })
}

/// The privilege modes a test runs in: unprivileged always, root too when the
/// suite runs as root (else the root half is skipped, saying so).
pub fn modes() -> Vec<bool> {
    let mut m = vec![true];
    if linception_testkit::available(linception_testkit::Feature::Root).is_ok() {
        m.push(false);
    } else {
        eprintln!(
            "SKIP: needs root (the root half of this test): running as uid {}",
            rustix::process::geteuid().as_raw()
        );
    }
    m
}
