//! Under a real orchestrator component: containerd's runc v2 shim, driven by `ctr`,
//! with linception-oci as its runtime binary (`ctr run --runc-binary`), and the same
//! with runc as the reference.
//!
//! Each test starts its own containerd (a generated config: private root, state and
//! grpc socket in a temporary directory, the CRI plugin disabled) in a mount
//! namespace of its own whose `/run` is a fresh tmpfs (the shim's sockets and the
//! runtime's state live there), imports a busybox OCI image-layout tar it builds
//! itself (no registry is reachable), and runs through the shim: a one-shot command
//! and its exit code, a long-running one that `ctr task exec` enters, `ctr task ps`
//! lists and `ctr task kill` ends with a signal, and a terminal (`ctr run -t`, under
//! `script`). containerd is stopped by its pid afterwards; its directories, and the
//! cgroups the runtime made for the test's containerd namespace, are removed.
//!
//! Root only; without containerd the tests skip with the reason (and fail under
//! `LINCEPTION_REQUIRE_ALL=1`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

/// A private containerd: its directory, the `unshare` process holding its
/// namespaces, the host pid of the namespaces' init (a shell that reaps the
/// orphaned shims), the ctr namespace used.
struct Containerd {
    dir: TempDir,
    child: Child,
    init: u32,
    ns: String,
}

impl Containerd {
    fn socket(&self) -> PathBuf {
        self.dir.0.join("c.sock")
    }

    /// Starts containerd and waits for its socket (10 s at most).
    fn start(tag: &str) -> Containerd {
        let dir = TempDir::new(&format!("ctrd-{tag}"));
        let d = &dir.0;
        let config = format!(
            r#"version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{sock}"
[ttrpc]
  address = "{sock}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"
"#,
            root = d.join("root").display(),
            state = d.join("state").display(),
            sock = d.join("c.sock").display(),
            opt = d.join("opt").display(),
        );
        std::fs::write(d.join("config.toml"), config).unwrap();
        let log = std::fs::File::create(d.join("containerd.log")).unwrap();
        // A mount namespace (its own /run and /proc) and a pid namespace whose init,
        // a shell, reaps the shims (they daemonize, orphaned); when unshare dies,
        // the namespace's init is killed and everything in it with it.
        let mut child = Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "--pid",
                "--fork",
                "--kill-child",
                "--mount-proc",
                "--",
                "sh",
                "-c",
            ])
            .arg("mount -t tmpfs -o mode=755 tmpfs /run && containerd --config \"$0\" & wait")
            .arg(d.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let children = format!("/proc/{0}/task/{0}/children", child.id());
        let mut init = None;
        for _ in 0..200 {
            init = std::fs::read_to_string(&children)
                .ok()
                .and_then(|c| c.split_whitespace().next()?.parse().ok());
            if init.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let Some(init) = init else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("unshare made no namespace init");
        };
        let cd = Containerd {
            ns: format!("lcoci{}{tag}", std::process::id()),
            dir,
            child,
            init,
        };
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if cd.socket().exists() && cd.ctr(&["version"]).status.success() {
                return cd;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("containerd did not come up: {}", cd.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("containerd.log")).unwrap_or_default()
    }

    /// `ctr` in containerd's mount namespace (its `/run`).
    fn cmd(&self) -> Command {
        let mut c = Command::new("nsenter");
        c.arg("-t")
            .arg(self.init.to_string())
            .args(["-m", "-p", "--", "ctr", "-a"])
            .arg(self.socket())
            .args(["-n", &self.ns]);
        c
    }

    fn ctr(&self, args: &[&str]) -> Output {
        self.cmd().args(args).stdin(Stdio::null()).output().unwrap()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Whatever a test left: its tasks and containers.
        let tasks = self.ctr(&["task", "ls", "-q"]);
        for id in stdout(&tasks).lines() {
            let _ = self.ctr(&["task", "kill", "-s", "SIGKILL", id]);
            for _ in 0..100 {
                if self.ctr(&["task", "rm", id]).status.success() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let containers = self.ctr(&["container", "ls", "-q"]);
        for id in stdout(&containers).lines() {
            let _ = self.ctr(&["container", "rm", id]);
        }
        let _ = self.ctr(&["image", "rm", IMAGE]);
        // containerd, by its host pid (the init's child); then the namespace ends
        // with the init's wait, or with unshare (its init is killed with it).
        let children = format!("/proc/{0}/task/{0}/children", self.init);
        let daemons: Vec<i32> = std::fs::read_to_string(children)
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        for pid in daemons
            .into_iter()
            .filter_map(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The cgroup parents runtimes make for the namespace (/NS/ID cgroupsPath),
        // and what a failed test left in them.
        for dir in ns_cgroups(&self.ns) {
            for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    let _ = std::fs::remove_dir(e.path());
                }
            }
            let _ = std::fs::remove_dir(dir);
        }
    }
}

const IMAGE: &str = "localhost/linception/busybox:test";

/// The cgroup directories of a containerd namespace, on every hierarchy.
fn ns_cgroups(ns: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for base in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
        for e in std::fs::read_dir(base).into_iter().flatten().flatten() {
            out.push(e.path().join(ns));
        }
        out.push(Path::new(base).join(ns));
    }
    out.retain(|p| p.is_dir());
    out.sort();
    out.dedup();
    out
}

/// The container cgroups left under a namespace's cgroup directories.
fn left_cgroups(ns: &str) -> Vec<PathBuf> {
    ns_cgroups(ns)
        .into_iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect()
}

/// Writes `bytes` as a blob of the layout: its `sha256:` digest and size.
fn blob(layout: &Path, bytes: &[u8]) -> (String, usize) {
    let tmp = layout.join("blob.tmp");
    std::fs::write(&tmp, bytes).unwrap();
    let out = Command::new("sha256sum").arg(&tmp).output().unwrap();
    let hex = stdout(&out).split_whitespace().next().unwrap().to_owned();
    std::fs::rename(&tmp, layout.join("blobs/sha256").join(&hex)).unwrap();
    (format!("sha256:{hex}"), bytes.len())
}

/// Builds a busybox OCI image-layout tar in `dir`: one layer (the shared busybox
/// root filesystem), its config, manifest, index and `oci-layout`, with sha256
/// digests.
fn image_tar(dir: &Path) -> PathBuf {
    let layer = busybox_layer_tar(dir);
    let layout = dir.join("layout");
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    let (layer_digest, layer_size) = blob(&layout, &std::fs::read(&layer).unwrap());
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]}
    });
    let (config_digest, config_size) = blob(&layout, config.to_string().as_bytes());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest, "size": config_size
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": layer_digest, "size": layer_size
        }]
    });
    let (manifest_digest, manifest_size) = blob(&layout, manifest.to_string().as_bytes());
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest, "size": manifest_size,
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {"io.containerd.image.name": IMAGE}
        }]
    });
    std::fs::write(layout.join("index.json"), index.to_string()).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        json!({"imageLayoutVersion": "1.0.0"}).to_string(),
    )
    .unwrap();
    let tar = dir.join("image.tar");
    let st = Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .arg("-C")
        .arg(&layout)
        .args(["oci-layout", "index.json", "blobs"])
        .status()
        .unwrap();
    assert!(st.success());
    tar
}

/// What the container reports through the shim, for one runtime binary.
#[derive(Debug, PartialEq, Eq)]
struct Report {
    /// A one-shot `sh -c`: its exit code and output.
    oneshot: (Option<i32>, String),
    /// `ctr task exec` into the long-running one: exit code and output.
    exec: (Option<i32>, String),
    /// How many pids `ctr task ps` lists while the exec'd sleep runs (init + it).
    ps_count: usize,
    /// The long-running `ctr run`'s exit code after `ctr task kill -s SIGKILL`.
    killed: Option<i32>,
    /// `ctr run -t` under `script`: its exit code, and whether the shell had a tty.
    tty: (Option<i32>, bool),
}

fn skip_without_containerd() -> bool {
    for (name, path) in [
        ("containerd", "/usr/bin/containerd"),
        ("containerd", "/usr/bin/ctr"),
        ("containerd", "/usr/bin/containerd-shim-runc-v2"),
        ("busybox-static", "/bin/busybox"),
        ("util-linux", "/usr/bin/script"),
    ] {
        if !need(name, path) {
            return true;
        }
    }
    false
}

fn scenario(cd: &Containerd, runtime: &str, tag: &str) -> Report {
    // ctr asks for cpu shares 1024 by default; this host's cgroup2 may have no cpu
    // controller (linception-oci then refuses linux.resources.cpu by name, see
    // cpu_shares_without_a_cpu_controller_are_refused_by_name): none asked here.
    let base = |args: &mut Command| {
        args.args([
            "--snapshotter",
            "native",
            "--cpu-shares",
            "0",
            "--runc-binary",
            runtime,
        ]);
    };
    // One shot.
    let mut c = cd.cmd();
    c.args(["run", "--rm"]);
    base(&mut c);
    let out = c
        .args([IMAGE, &format!("{tag}-one"), "sh", "-c"])
        .arg("echo hello from $(hostname); exit 7")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let oneshot = (out.status.code(), stdout(&out));
    if out.status.code() != Some(7) {
        eprintln!("one-shot via {runtime}: {}\n{}", stderr(&out), cd.log());
    }

    // Long-running, in the foreground of a ctr process of its own.
    let id = format!("{tag}-long");
    let mut c = cd.cmd();
    c.args(["run", "--rm"]);
    base(&mut c);
    let mut long = c
        .args([IMAGE, id.as_str(), "sh", "-c", "echo up; exec sleep 1000"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut up = String::new();
    {
        use std::io::BufRead;
        let mut r = std::io::BufReader::new(long.stdout.as_mut().unwrap());
        let _ = r.read_line(&mut up);
    }
    let (exec, ps_count) = if up.trim() == "up" {
        let out = cd.ctr(&[
            "task",
            "exec",
            "--exec-id",
            "e1",
            &id,
            "sh",
            "-c",
            "echo $(cat /proc/1/comm) $(id -u); exit 5",
        ]);
        let exec = (out.status.code(), stdout(&out) + &stderr(&out));
        // A second, detached exec for ps to see.
        let mut sleeper = cd
            .cmd()
            .args(["task", "exec", "--exec-id", "e2", &id, "sleep", "1000"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut count = 0;
        for _ in 0..100 {
            let out = cd.ctr(&["task", "ps", &id]);
            count = stdout(&out)
                .lines()
                .skip(1)
                .filter(|l| !l.trim().is_empty())
                .count();
            if count >= 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = cd.ctr(&["task", "kill", "-s", "SIGKILL", "--exec-id", "e2", &id]);
        let _ = sleeper.wait();
        (exec, count)
    } else {
        let mut err = String::new();
        let _ = std::io::Read::read_to_string(long.stderr.as_mut().unwrap(), &mut err);
        eprintln!(
            "long-running via {runtime} did not come up: {err}\n{}",
            cd.log()
        );
        ((None, String::new()), 0)
    };
    let _ = cd.ctr(&["task", "kill", "-s", "SIGKILL", &id]);
    let killed = long.wait().unwrap().code();

    // A terminal: ctr run -t needs one, script gives it.
    let line = format!(
        "ctr -a {} -n {} run --rm -t --snapshotter native --cpu-shares 0 --runc-binary {runtime} {IMAGE} {tag}-tty \
         sh -c 'tty; exit 3'",
        cd.socket().display(),
        cd.ns
    );
    let out = Command::new("nsenter")
        .arg("-t")
        .arg(cd.init.to_string())
        .args(["-m", "-p", "--", "script", "-qefc", &line, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = stdout(&out);
    let tty = (out.status.code(), text.contains("/dev/pts/"));
    if !tty.1 {
        eprintln!("tty via {runtime}: {text} {}", stderr(&out));
    }
    Report {
        oneshot,
        exec,
        ps_count,
        killed,
        tty,
    }
}

/// What both runtimes must report.
fn check(r: &Report, who: &str) {
    eprintln!("{who} under containerd: {r:?}");
    assert_eq!(r.oneshot.0, Some(7), "{who}: {r:?}");
    assert!(r.oneshot.1.starts_with("hello from "), "{who}: {r:?}");
    assert_eq!(r.exec, (Some(5), "sleep 0\n".to_owned()), "{who}: {r:?}");
    assert_eq!(r.ps_count, 2, "{who}: {r:?}");
    assert_eq!(r.killed, Some(137), "{who}: {r:?}");
    assert_eq!(r.tty, (Some(3), true), "{who}: {r:?}");
}

fn imported(tag: &str) -> Option<(Containerd, TempDir)> {
    if !linception_testkit::require_root("containerd and its runc shim") {
        return None;
    }
    if skip_without_containerd() {
        return None;
    }
    let cd = Containerd::start(tag);
    let work = TempDir::new(&format!("image-{tag}"));
    let tar = image_tar(&work.0);
    let out = cd.ctr(&[
        "image",
        "import",
        "--snapshotter",
        "native",
        tar.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "import: {} {}",
        stderr(&out),
        cd.log()
    );
    let out = cd.ctr(&["image", "ls", "-q"]);
    assert!(stdout(&out).lines().any(|l| l == IMAGE), "{}", stdout(&out));
    Some((cd, work))
}

#[test]
fn runc_under_containerd_the_reference() {
    let Some((cd, _work)) = imported("runc") else {
        return;
    };
    if !need("runc", "/usr/sbin/runc") {
        return;
    }
    let r = scenario(&cd, "/usr/sbin/runc", "r");
    check(&r, "runc");
    assert_eq!(
        left_cgroups(&cd.ns),
        Vec::<PathBuf>::new(),
        "runc left cgroups"
    );
}

#[test]
fn linception_oci_under_containerd_as_runc() {
    let Some((cd, _work)) = imported("ours") else {
        return;
    };
    let ours = scenario(&cd, ours_bin(), "o");
    assert_eq!(
        left_cgroups(&cd.ns),
        Vec::<PathBuf>::new(),
        "cgroups left behind"
    );
    // ctr's default cpu shares where cgroup2 has no cpu controller: refused by field,
    // through the shim, with nothing left.
    let cpu =
        linception::features::cgroup2().is_ok_and(|c| c.controllers.iter().any(|c| c == "cpu"));
    if !cpu {
        let out = cd.ctr(&[
            "run",
            "--rm",
            "--snapshotter",
            "native",
            "--runc-binary",
            ours_bin(),
            IMAGE,
            "o-cpu",
            "true",
        ]);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("linux.resources.cpu.shares: no cpu controller"),
            "{}",
            stderr(&out)
        );
        assert_eq!(
            left_cgroups(&cd.ns),
            Vec::<PathBuf>::new(),
            "left by the refusal"
        );
    }
    if need("runc", "/usr/sbin/runc") {
        let runc = scenario(&cd, "/usr/sbin/runc", "r");
        // Hostnames are the container ids: compare the rest.
        assert_eq!(
            (
                &ours.exec,
                ours.ps_count,
                ours.killed,
                ours.tty,
                ours.oneshot.0
            ),
            (
                &runc.exec,
                runc.ps_count,
                runc.killed,
                runc.tty,
                runc.oneshot.0
            ),
            "ours {ours:?}, runc {runc:?}"
        );
    }
    check(&ours, "linception-oci");
}
