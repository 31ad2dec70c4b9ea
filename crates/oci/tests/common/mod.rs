//! Bundles and commands for the tests: a busybox root filesystem in a temporary
//! directory, the config `linception-oci spec` writes, and runs of the built binary
//! (and of runc) as separate processes.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

/// The binary under test: the one `LINCEPTION_OCI_BIN` names when set (another
/// build of it, such as the static musl one the benchmark runs), else the one cargo
/// built for these tests.
pub fn ours_bin() -> &'static str {
    static BIN: OnceLock<String> = OnceLock::new();
    BIN.get_or_init(|| match std::env::var("LINCEPTION_OCI_BIN") {
        Ok(p) if !p.is_empty() => {
            assert!(
                Path::new(&p).is_file(),
                "LINCEPTION_OCI_BIN={p:?}: no such file"
            );
            p
        }
        _ => env!("CARGO_BIN_EXE_linception-oci").to_owned(),
    })
}

/// Whether a program the test needs is installed: skips with `SKIP: needs NAME`
/// (fails under `LINCEPTION_REQUIRE_ALL=1`).
pub fn need(name: &str, path: &str) -> bool {
    if Path::new(path).exists() {
        return true;
    }
    if linception_testkit::require_all() {
        panic!(
            "needs {name} ({path} is missing: apt-get install {name}), LINCEPTION_REQUIRE_ALL=1"
        );
    }
    eprintln!("SKIP: needs {name} ({path} is missing)");
    false
}

/// Whether the test runs as root.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!(
            "lc-oci-{tag}-{}-{}-{n}",
            std::process::id(),
            rustix::process::geteuid().as_raw()
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A bundle: a busybox rootfs (every applet a symlink) and the config of
/// `linception-oci spec` (`--rootless` when not root or when asked), changed by `edit`.
pub struct Bundle {
    pub dir: TempDir,
}

impl Bundle {
    pub fn new(rootless: bool, edit: impl FnOnce(&mut Value)) -> Bundle {
        let dir = TempDir::new("bundle");
        let rootfs = dir.0.join("rootfs");
        for d in ["bin", "proc", "dev", "tmp", "etc"] {
            std::fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        copy_program("/bin/busybox", &rootfs.join("bin/busybox"));
        let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            if applet != "busybox" && !applet.is_empty() {
                std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
            }
        }
        let mut spec = Command::new(ours_bin());
        spec.args(["spec", "--bundle"]).arg(&dir.0);
        if rootless || !is_root() {
            spec.arg("--rootless");
        }
        let out = spec.output().unwrap();
        assert!(
            out.status.success(),
            "spec: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = dir.0.join("config.json");
        let mut cfg: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        edit(&mut cfg);
        std::fs::write(&path, cfg.to_string()).unwrap();
        Bundle { dir }
    }

    pub fn path(&self) -> &Path {
        &self.dir.0
    }
}

/// Builds the root filesystem of a busybox image in `dir` (busybox and a symlink per
/// applet in `/bin`, the usual directories, `/var/tmp/kept`, an `/etc/passwd` and
/// `/etc/group` with root, nobody and tty) and packs it as a layer tar (owner root, numeric ids):
/// its path. The orchestrator tests import it (podman) or wrap it in an OCI image
/// layout (containerd), as no registry is reachable.
pub fn busybox_layer_tar(dir: &Path) -> PathBuf {
    let rootfs = dir.join("rootfs");
    for d in [
        "bin", "dev", "etc", "proc", "run", "sys", "tmp", "root", "var/tmp",
    ] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    // A file of the image under /var/tmp, which a read-only podman container gets
    // as a tmpfs copied up from the image.
    std::fs::write(rootfs.join("var/tmp/kept"), "from the image\n").unwrap();
    copy_program("/bin/busybox", &rootfs.join("bin/busybox"));
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" && !applet.is_empty() {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
        }
    }
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(
        rootfs.join("etc/group"),
        "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n",
    )
    .unwrap();
    let layer = dir.join("layer.tar");
    let st = Command::new("tar")
        .args(["--numeric-owner", "--owner=0", "--group=0", "-cf"])
        .arg(&layer)
        .arg("-C")
        .arg(&rootfs)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success(), "tar of the busybox root filesystem");
    layer
}

/// Sets `process.args` to `sh -c SCRIPT`.
pub fn script(cfg: &mut Value, script: &str) {
    cfg["process"]["args"] = serde_json::json!(["sh", "-c", script]);
}

/// A runtime: ours or runc, with its own state root.
pub struct Runtime {
    pub bin: PathBuf,
    pub root: TempDir,
    _subtree: SubtreeGuard,
}

/// Keeps the host's cgroups as they were: the controllers of the cgroup2 root's
/// `cgroup.subtree_control` when the first runtime of this test program was made
/// are put back when the last one is dropped (runc's cgroup driver enables every
/// controller it may use down its cgroup's path, and ours what a resource needs, as
/// runc does; neither takes them away again).
pub struct SubtreeGuard;

static SUBTREE: std::sync::Mutex<(usize, Option<Vec<String>>)> = std::sync::Mutex::new((0, None));

fn root_subtree_control() -> Option<PathBuf> {
    let cg = linception::features::cgroup2().ok()?;
    Some(cg.mount_point.join("cgroup.subtree_control"))
}

impl SubtreeGuard {
    pub fn take() -> SubtreeGuard {
        let mut s = SUBTREE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if s.0 == 0 {
            s.1 = root_subtree_control()
                .and_then(|f| std::fs::read_to_string(f).ok())
                .map(|t| t.split_whitespace().map(str::to_owned).collect());
        }
        s.0 += 1;
        SubtreeGuard
    }
}

impl Drop for SubtreeGuard {
    fn drop(&mut self) {
        let mut s = SUBTREE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.0 -= 1;
        if s.0 > 0 {
            return;
        }
        let (Some(before), Some(file)) = (s.1.take(), root_subtree_control()) else {
            return;
        };
        let now = std::fs::read_to_string(&file).unwrap_or_default();
        for c in now
            .split_whitespace()
            .filter(|c| !before.iter().any(|b| b == c))
        {
            let _ = std::fs::write(&file, format!("-{c}"));
        }
    }
}

impl Runtime {
    pub fn ours() -> Runtime {
        Runtime {
            bin: ours_bin().into(),
            root: TempDir::new("root"),
            _subtree: SubtreeGuard::take(),
        }
    }

    pub fn runc() -> Runtime {
        Runtime {
            bin: "/usr/sbin/runc".into(),
            root: TempDir::new("runc"),
            _subtree: SubtreeGuard::take(),
        }
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(&self.root.0);
        c
    }

    /// Runs a command whose container (if any) must not hold the pipes: stdin and
    /// the container's stdio are null, stderr is captured.
    pub fn quiet(&self, args: &[&str]) -> Output {
        self.cmd()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap()
    }

    /// `create`: the container inherits the command's stdio, so its stderr goes to
    /// a file (a pipe would stay open as long as the container lives).
    pub fn create(&self, bundle: &Bundle, id: &str) -> Output {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let err_path = self.root.0.join(format!("{id}.create-stderr.{n}"));
        let err = std::fs::File::create(&err_path).unwrap();
        let mut out = self
            .cmd()
            .args(["create", "--bundle"])
            .arg(bundle.path())
            .arg(id)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .output()
            .unwrap();
        out.stderr = std::fs::read(&err_path).unwrap();
        let _ = std::fs::remove_file(&err_path);
        out
    }

    pub fn run(&self, bundle: &Bundle, id: &str) -> Output {
        self.cmd()
            .args(["run", "--bundle"])
            .arg(bundle.path())
            .arg(id)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    pub fn state(&self, id: &str) -> Value {
        let out = self.quiet(&["state", id]);
        assert!(
            out.status.success(),
            "state {id}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Polls `state` until its status is `want` (5 s at most).
    pub fn wait_status(&self, id: &str, want: &str) -> Value {
        for _ in 0..500 {
            let s = self.state(id);
            if s["status"] == want {
                return s;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("{id} never became {want}: {}", self.state(id));
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // Whatever a failed test left: force-delete every container it knows.
        if let Ok(dir) = std::fs::read_dir(&self.root.0) {
            for e in dir.flatten() {
                if let Some(id) = e.file_name().to_str() {
                    let _ = self.quiet(&["delete", "--force", id]);
                }
            }
        }
    }
}

/// Whether a process whose command line holds `marker` exists.
pub fn process_with(marker: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read(e.path().join("cmdline"))
            .map(|c| String::from_utf8_lossy(&c).contains(marker))
            .unwrap_or(false)
    })
}

/// A container id no other test of this run uses at the same time: the runtimes
/// name a container's cgroup after its id (`/<id>` by default), which tests running
/// in parallel must not share.
pub fn unique_id(base: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{base}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Copies a program with `cp`, in a process of its own: a file this process
/// wrote could still be open for writing in a child another test thread forked
/// meanwhile, and its `execve` would fail with `ETXTBSY`.
pub fn copy_program(from: &str, to: &std::path::Path) {
    let st = std::process::Command::new("cp")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success(), "cp {from} {}: {st}", to.display());
}

/// Asserts that `stderr` has one warning line per capability set naming each of
/// `lacking` as a capability that cannot be granted.
pub fn assert_capability_warnings(stderr: &str, lacking: &[&str]) {
    for set in [
        "bounding",
        "effective",
        "permitted",
        "inheritable",
        "ambient",
    ] {
        let line = stderr
            .lines()
            .find(|l| l.contains(&format!("process.capabilities.{set}: ")))
            .unwrap_or_else(|| panic!("no warning for {set}: {stderr}"));
        assert!(line.starts_with("linception-oci: warning: "), "{line}");
        assert!(line.contains("cannot be granted"), "{line}");
        for c in lacking {
            assert!(line.contains(c), "{line} lacks {c}");
        }
    }
}

/// Writes podman's registries, storage (the `vfs` driver, its graph and run roots
/// under `data`) and signature policy files into `etc`.
pub fn write_podman_files(etc: &Path, data: &Path) {
    std::fs::write(
        etc.join("registries.conf"),
        "unqualified-search-registries = []\n",
    )
    .unwrap();
    std::fs::write(
        etc.join("storage.conf"),
        format!(
            "[storage]\ndriver = \"vfs\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
            data.join("root").display(),
            data.join("runroot").display()
        ),
    )
    .unwrap();
    std::fs::write(
        etc.join("policy.json"),
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    )
    .unwrap();
}

/// Gives `c` podman's private environment and nothing of the test's: `PATH`, and
/// `HOME`, `XDG_RUNTIME_DIR`, `TMPDIR` under `d` (`home`, `xdg`, `tmp`), the
/// configuration files in `etc` (`containers.conf`, `registries.conf`,
/// `storage.conf`).
pub fn podman_env(c: &mut Command, d: &Path, etc: &Path) {
    c.env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("HOME", d.join("home"))
        .env("XDG_RUNTIME_DIR", d.join("xdg"))
        .env("TMPDIR", d.join("tmp"))
        .env("CONTAINERS_CONF", etc.join("containers.conf"))
        .env("CONTAINERS_REGISTRIES_CONF", etc.join("registries.conf"))
        .env("CONTAINERS_STORAGE_CONF", etc.join("storage.conf"));
}
