//! Under podman: `podman --runtime` with linception-oci, and the same with runc as
//! the reference, each through conmon (podman's container monitor, which calls the
//! runtime's `create`, `start`, `exec`, `kill`, `pause`, `delete` as runc's command
//! line has them and reaps the container as a subreaper).
//!
//! Everything of podman is private to the test:
//! - its storage (`--root`, `--runroot`, `--tmpdir`, the `vfs` driver: no overlay
//!   mounts), configuration (`CONTAINERS_CONF`, `CONTAINERS_REGISTRIES_CONF`,
//!   `CONTAINERS_STORAGE_CONF` and a signature policy of the test's; no events
//!   log, the `cgroupfs` manager, a network configuration directory of its own and
//!   `--network none`), in a temporary directory removed afterwards;
//! - its namespaces: every podman command runs (by `nsenter`) in a mount and pid
//!   namespace that `unshare` holds, whose `/run` and `/var/lib` are fresh tmpfs
//!   (podman as root keeps its locks under `/run` and insists on a blob-info cache
//!   under `/var/lib/containers`) and whose `/etc/containers`, when the host has
//!   one, is the test's own directory: nothing of the host's podman configuration
//!   or storage is used or left, and the mounts podman makes (each container's
//!   `/dev/shm`) end with the namespace. The pid namespace's init, a shell, reaps
//!   the conmons that daemonize; when unshare is killed, the namespace ends and
//!   everything in it with it;
//! - its cgroups: every container's cgroup (and conmon's, `<parent>/conmon`) is
//!   under a `--cgroup-parent` named after the test process, checked empty after
//!   the containers are removed and deleted afterwards.
//!
//! The cgroup version: linception-oci drives cgroup v2 only. On a hybrid host (v1
//! hierarchies on `/sys/fs/cgroup`, v2 on `/sys/fs/cgroup/unified`) podman would
//! see cgroup v1 and give runc v1 paths, so the namespace's `/sys/fs/cgroup` is a
//! cgroup2 mount (the same hierarchy as the host's unified one, as
//! `benches/run.sh` does for crun): podman, runc and linception-oci all see a
//! cgroup v2 host. The controllers bound to v1 hierarchies are missing from it, so
//! where cgroup2 has no pids controller the test's containers.conf asks for no
//! pids limit (podman's default is 2048, which neither runtime could set there);
//! where it has one, podman's default stays. The default ulimits (podman as root
//! asks for 1048576 open files and processes) are the test's `1024:1024`: raising a
//! hard limit needs `CAP_SYS_RESOURCE`, which root of a CI container may lack.
//!
//! What is compared, runc against linception-oci: the exit code of a one-shot
//! `run --rm`, also with `keyring = false` (conmon's `create --no-new-keyring`);
//! the output of `id; hostname; grep Cap /proc/self/status` (as root, with
//! `--user`, with `--cap-drop ALL --cap-add CHOWN`); a `run -d` that `exec` enters
//! (its exit code and output; `exec -t` under `script` too), `ps -a` shows `Up`,
//! `pause`/`unpause` (`Paused`, `Up` again) and `stop` ends (a TERM trap exits 3;
//! a `sleep` as pid 1 ignores TERM and is killed after `-t 1`: 137); `run -t`
//! under `script` (a tty); `--read-only` (the root refuses writes, podman's tmpfs
//! on `/tmp` takes them; its tmpfs mounts are `tmpcopyup`: they start with the
//! image's files and mode); `--device` (a fileMode with the node's type bits),
//! `--tmpfs` and `--privileged` (the host's devices, at the runtime's default node
//! paths too).
//!
//! Root only (skips "needs root" otherwise); without podman, conmon, runc or
//! busybox the test skips with the reason (and fails under
//! `LINCEPTION_REQUIRE_ALL=1`).

mod common;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

const IMAGE: &str = "localhost/linception/busybox:podman";

/// A private podman: its directory, the `unshare` process holding its namespaces,
/// the host pid of the namespaces' init, its cgroup parent (a path in the cgroup2
/// hierarchy) and the host's cgroup2 mount point.
struct Podman {
    dir: TempDir,
    child: Child,
    init: u32,
    cgroup_parent: String,
    cgroup_root: PathBuf,
}

impl Podman {
    fn start() -> Podman {
        let dir = TempDir::new("podman");
        let d = dir.0.clone();
        for sub in ["etc", "tmp", "net", "home", "xdg"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        let cg = linception::features::cgroup2().expect("a cgroup2 hierarchy");
        let pids = cg.controllers.iter().any(|c| c == "pids");
        let conf = format!(
            r#"[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
{pids}
[engine]
events_logger = "none"
cgroup_manager = "cgroupfs"
image_copy_tmp_dir = "{tmp}"
[network]
network_config_dir = "{net}"
"#,
            pids = if pids { "" } else { "pids_limit = 0" },
            tmp = d.join("tmp").display(),
            net = d.join("net").display(),
        );
        // The same with `keyring = false`: conmon then passes `--no-new-keyring`.
        let no_keyring = conf.replacen("[containers]\n", "[containers]\nkeyring = false\n", 1);
        std::fs::write(d.join("etc/containers-no-keyring.conf"), no_keyring).unwrap();
        std::fs::write(d.join("etc/containers.conf"), conf).unwrap();
        write_podman_files(&d.join("etc"), &d);
        // The namespaces' setup, then an init that reaps (the shell's `wait`
        // collects every child, the orphaned conmons included).
        let mut setup = String::from(
            "set -e; mount -t tmpfs -o mode=755 tmpfs /run; \
             mount -t tmpfs -o mode=755 tmpfs /var/lib; ",
        );
        if cg.mount_point != Path::new("/sys/fs/cgroup") {
            setup.push_str("mount -t cgroup2 cgroup2 /sys/fs/cgroup; ");
        }
        if Path::new("/etc/containers").is_dir() {
            setup.push_str("mount --bind \"$0/etc\" /etc/containers; ");
        }
        setup.push_str("echo ready; sleep 100000 & wait");
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
            .arg(&setup)
            .arg(&d)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let _ = std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
        let children = format!("/proc/{0}/task/{0}/children", child.id());
        let init = std::fs::read_to_string(&children)
            .ok()
            .and_then(|c| c.split_whitespace().next()?.parse().ok());
        let (true, Some(init)) = (line.trim() == "ready", init) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the podman namespaces were not set up ({line:?})");
        };
        Podman {
            dir,
            child,
            init,
            cgroup_parent: format!("/lcoci-podman-{}", std::process::id()),
            cgroup_root: cg.mount_point,
        }
    }

    /// `nsenter` into the namespaces, with the private configuration in the
    /// environment (and nothing else of the test's).
    fn nsenter(&self) -> Command {
        let d = &self.dir.0;
        let mut c = Command::new("nsenter");
        podman_env(&mut c, d, &d.join("etc"));
        c.arg("-t")
            .arg(self.init.to_string())
            .args(["-m", "-p", "--"]);
        c
    }

    /// `podman` with `runtime`, in the namespaces, with the private storage.
    fn cmd(&self, runtime: &str) -> Command {
        let mut c = self.nsenter();
        c.args(self.podman_args(runtime));
        c
    }

    /// podman's global options (the command line `script` runs, too).
    fn podman_args(&self, runtime: &str) -> Vec<String> {
        let d = &self.dir.0;
        let p = |s: &str| d.join(s).display().to_string();
        vec![
            "podman".into(),
            "--root".into(),
            p("root"),
            "--runroot".into(),
            p("runroot"),
            "--tmpdir".into(),
            p("tmp"),
            "--storage-driver".into(),
            "vfs".into(),
            "--cgroup-manager".into(),
            "cgroupfs".into(),
            "--events-backend".into(),
            "none".into(),
            "--runtime".into(),
            runtime.into(),
        ]
    }

    /// The options of every `podman run`.
    fn run_args(&self) -> Vec<String> {
        vec![
            "--network".into(),
            "none".into(),
            "--hostname".into(),
            "lc-podman".into(),
            "--cgroup-parent".into(),
            self.cgroup_parent.clone(),
        ]
    }

    fn podman(&self, runtime: &str, args: &[&str]) -> Output {
        self.cmd(runtime)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// `podman run --rm` of `sh -c SCRIPT` with `opts`.
    fn run(&self, runtime: &str, opts: &[&str], script: &str) -> Output {
        self.cmd(runtime)
            .arg("run")
            .arg("--rm")
            .args(self.run_args())
            .args(opts)
            .args([IMAGE, "sh", "-c", script])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// The status `podman ps -a` gives `name`, without its times: `Up`, `Paused`,
    /// `Exited (3)`, or `None` when it is not listed.
    fn status(&self, runtime: &str, name: &str) -> Option<String> {
        let out = self.podman(
            runtime,
            &["ps", "-a", "--format", "{{.Names}}\t{{.Status}}"],
        );
        stdout(&out).lines().find_map(|l| {
            let (n, s) = l.split_once('\t')?;
            (n == name).then(|| {
                let s = s.trim();
                match s.find(')') {
                    Some(end) if s.starts_with("Exited") => s[..=end].to_owned(),
                    _ => s.split_whitespace().next().unwrap_or_default().to_owned(),
                }
            })
        })
    }

    /// The container cgroups left under the test's cgroup parent (conmon's own
    /// `conmon` cgroup is podman's, shared by every container's conmon).
    fn left_cgroups(&self) -> Vec<PathBuf> {
        let parent = self
            .cgroup_root
            .join(self.cgroup_parent.trim_start_matches('/'));
        std::fs::read_dir(parent)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir() && !p.ends_with("conmon"))
            .collect()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        // Whatever a failed test left: every container (conmon calls the runtime
        // each was made with).
        let _ = self.podman("/usr/sbin/runc", &["rm", "--all", "--force", "-t", "0"]);
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The namespace ends when its init is gone (killed with unshare).
        let until = Instant::now() + Duration::from_secs(10);
        while Path::new(&format!("/proc/{}", self.init)).exists() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        // The cgroup parent and everything left in it, deepest first.
        let parent = self
            .cgroup_root
            .join(self.cgroup_parent.trim_start_matches('/'));
        let mut dirs = Vec::new();
        let mut todo = vec![parent];
        while let Some(d) = todo.pop() {
            if d.is_dir() {
                for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                    if e.path().is_dir() {
                        todo.push(e.path());
                    }
                }
                dirs.push(d);
            }
        }
        for d in dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// What the containers report through podman, for one runtime.
#[derive(Debug, PartialEq, Eq)]
struct Report {
    /// `run --rm sh -c 'exit 7'`: the exit code.
    oneshot: Option<i32>,
    /// `run --rm sh -c 'exit 4'` with `keyring = false` (conmon passes
    /// `--no-new-keyring`): the exit code.
    no_keyring: Option<i32>,
    /// `id; hostname; grep Cap /proc/self/status`, as root.
    identity: (Option<i32>, String),
    /// The same with `--user 65534:65534`.
    user: (Option<i32>, String),
    /// The capability lines with `--cap-drop ALL --cap-add CHOWN`.
    cap_drop: (Option<i32>, String),
    /// `--read-only`: a write to `/` fails, one to `/tmp` (podman's tmpfs) works;
    /// podman's tmpfs on `/tmp` and `/var/tmp` (`tmpcopyup`) take the image's
    /// directory mode and `/var/tmp` the image's file.
    read_only: (Option<i32>, String),
    /// `--device /dev/null:/dev/mynull --tmpfs /scratch`: the node (podman's
    /// fileMode carries the type bits) and the tmpfs's mode.
    device_tmpfs: (Option<i32>, String),
    /// `--privileged`: every capability the host's root has, its device nodes (at
    /// the paths of the runtime's own `/dev` too), `/dev/ptmx` the link to the
    /// container's devpts.
    privileged: (Option<i32>, String),
    /// `exec` into the detached container: exit code and output.
    exec: (Option<i32>, String),
    /// `ps -a` statuses of the detached container: running, paused, unpaused,
    /// stopped.
    states: Vec<Option<String>>,
    /// The exit code `stop` leaves (a TERM trap: 3).
    stopped: String,
    /// A `sleep` as pid 1 (TERM ignored): the exit code after `stop -t 1` (137).
    killed: String,
    /// `run -t` under `script`: its exit code, and whether the shell had a tty.
    tty: (Option<i32>, bool),
    /// `exec -t` into the detached container under `script` (conmon's `exec --tty
    /// --console-socket`): the same.
    exec_tty: (Option<i32>, bool),
}

fn code_and_out(o: &Output) -> (Option<i32>, String) {
    (o.status.code(), stdout(o))
}

fn scenario(pm: &Podman, runtime: &str, tag: &str) -> Report {
    let oneshot = pm.run(runtime, &[], "exit 7");
    if oneshot.status.code() != Some(7) {
        eprintln!("one-shot via {runtime}: {}", stderr(&oneshot));
    }
    let no_keyring = pm
        .cmd(runtime)
        .env(
            "CONTAINERS_CONF",
            pm.dir.0.join("etc/containers-no-keyring.conf"),
        )
        .args(["run", "--rm"])
        .args(pm.run_args())
        .args([IMAGE, "sh", "-c", "exit 4"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    if no_keyring.status.code() != Some(4) {
        eprintln!("keyring = false via {runtime}: {}", stderr(&no_keyring));
    }
    let identity = pm.run(runtime, &[], "id; hostname; grep Cap /proc/self/status");
    let user = pm.run(
        runtime,
        &["--user", "65534:65534"],
        "id; grep Cap /proc/self/status",
    );
    let cap_drop = pm.run(
        runtime,
        &["--cap-drop", "ALL", "--cap-add", "CHOWN"],
        "grep Cap /proc/self/status",
    );
    let read_only = pm.run(
        runtime,
        &["--read-only"],
        "touch /x 2>/dev/null; echo root $?; touch /tmp/x; echo tmp $?; \
         stat -c '%a %u' /tmp /var/tmp; cat /var/tmp/kept; \
         grep ' / ' /proc/self/mounts | cut -d' ' -f4 | cut -d, -f1",
    );
    let device_tmpfs = pm.run(
        runtime,
        &["--device", "/dev/null:/dev/mynull", "--tmpfs", "/scratch"],
        "stat -c '%F %t:%T %a' /dev/mynull; stat -c %a /scratch",
    );
    let privileged = pm.run(
        runtime,
        &["--privileged"],
        "grep CapEff /proc/self/status; stat -c '%N' /dev/ptmx; stat -c '%F %t:%T' /dev/null; \
         ls /dev | wc -l",
    );
    for (what, o) in [
        ("privileged", &privileged),
        ("device, tmpfs", &device_tmpfs),
        ("identity", &identity),
        ("user", &user),
        ("cap-drop", &cap_drop),
        ("read-only", &read_only),
    ] {
        if !o.status.success() {
            eprintln!("{what} via {runtime}: {}", stderr(o));
        }
    }

    // Detached, with a TERM trap: exec, ps, pause, unpause, stop.
    let name = format!("{tag}-long");
    let out = pm
        .cmd(runtime)
        .args(["run", "-d", "--name", &name])
        .args(pm.run_args())
        .args([
            IMAGE,
            "sh",
            "-c",
            "trap 'exit 3' TERM; echo up; while :; do sleep 0.1; done",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    if !out.status.success() {
        eprintln!("run -d via {runtime}: {}", stderr(&out));
    }
    let mut up = false;
    for _ in 0..100 {
        let logs = pm.podman(runtime, &["logs", &name]);
        if stdout(&logs).contains("up") {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let exec = if up {
        pm.podman(
            runtime,
            &[
                "exec",
                &name,
                "sh",
                "-c",
                "echo $(id -u) $(cat /proc/1/comm); exit 5",
            ],
        )
    } else {
        out.clone()
    };
    if exec.status.code() != Some(5) {
        eprintln!("exec via {runtime}: {}", stderr(&exec));
    }
    let exec_tty = under_script(pm, runtime, &["exec", "-t", &name], "tty; exit 6");
    let mut states = vec![pm.status(runtime, &name)];
    let paused = pm.podman(runtime, &["pause", &name]);
    if !paused.status.success() {
        eprintln!("pause via {runtime}: {}", stderr(&paused));
    }
    states.push(pm.status(runtime, &name));
    let resumed = pm.podman(runtime, &["unpause", &name]);
    if !resumed.status.success() {
        eprintln!("unpause via {runtime}: {}", stderr(&resumed));
    }
    states.push(pm.status(runtime, &name));
    let stop = pm.podman(runtime, &["stop", "-t", "10", &name]);
    if !stop.status.success() {
        eprintln!("stop via {runtime}: {}", stderr(&stop));
    }
    states.push(pm.status(runtime, &name));
    let stopped = stdout(&pm.podman(
        runtime,
        &["inspect", "--format", "{{.State.ExitCode}}", &name],
    ))
    .trim()
    .to_owned();
    let _ = pm.podman(runtime, &["rm", &name]);

    // A sleep as pid 1: TERM is ignored, stop kills it after a second.
    let name = format!("{tag}-sleep");
    let out = pm
        .cmd(runtime)
        .args(["run", "-d", "--name", &name])
        .args(pm.run_args())
        .args([IMAGE, "sleep", "1000"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    if !out.status.success() {
        eprintln!("run -d sleep via {runtime}: {}", stderr(&out));
    }
    let _ = pm.podman(runtime, &["stop", "-t", "1", &name]);
    let killed = stdout(&pm.podman(
        runtime,
        &["inspect", "--format", "{{.State.ExitCode}}", &name],
    ))
    .trim()
    .to_owned();
    let _ = pm.podman(runtime, &["rm", &name]);

    // A terminal: run -t needs one, script gives it.
    let mut run_t: Vec<&str> = vec!["run", "--rm", "-t"];
    let run_args = pm.run_args();
    run_t.extend(run_args.iter().map(String::as_str));
    run_t.push(IMAGE);
    let tty = under_script(pm, runtime, &run_t, "tty; exit 3");
    Report {
        oneshot: oneshot.status.code(),
        no_keyring: no_keyring.status.code(),
        identity: code_and_out(&identity),
        user: code_and_out(&user),
        cap_drop: code_and_out(&cap_drop),
        read_only: code_and_out(&read_only),
        device_tmpfs: code_and_out(&device_tmpfs),
        privileged: code_and_out(&privileged),
        exec: code_and_out(&exec),
        states,
        stopped,
        killed,
        tty,
        exec_tty,
    }
}

/// `podman ARGS sh -c SCRIPT` under `script` (a terminal for `-t`): its exit code,
/// and whether the output names a pty. The command line is one string for `sh
/// -c`: the test's paths in it have no spaces.
fn under_script(pm: &Podman, runtime: &str, args: &[&str], script: &str) -> (Option<i32>, bool) {
    let mut line: Vec<String> = pm.podman_args(runtime);
    line.extend(args.iter().map(|a| (*a).to_owned()));
    line.push(format!("sh -c '{script}'"));
    let out = pm
        .nsenter()
        .args(["script", "-qefc", &line.join(" "), "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = stdout(&out);
    let seen = text.contains("/dev/pts/");
    if !seen {
        eprintln!("{args:?} via {runtime}: {text} {}", stderr(&out));
    }
    (out.status.code(), seen)
}

/// What both runtimes must report.
fn check(r: &Report, who: &str) {
    eprintln!("{who} under podman: {r:#?}");
    assert_eq!(r.oneshot, Some(7), "{who}");
    assert_eq!(r.no_keyring, Some(4), "{who}");
    assert_eq!(r.identity.0, Some(0), "{who}");
    assert!(
        r.identity.1.starts_with("uid=0(root) gid=0(root)")
            && r.identity.1.contains("\nlc-podman\n"),
        "{who}: {:?}",
        r.identity
    );
    assert_eq!(r.user.0, Some(0), "{who}");
    assert!(
        r.user.1.starts_with("uid=65534(nobody) gid=65534"),
        "{who}: {:?}",
        r.user
    );
    assert!(
        r.user.1.contains("CapEff:\t0000000000000000"),
        "{who}: {:?}",
        r.user
    );
    // CAP_CHOWN is bit 0.
    assert_eq!(r.cap_drop.0, Some(0), "{who}");
    assert!(
        r.cap_drop.1.contains("CapBnd:\t0000000000000001"),
        "{who}: {:?}",
        r.cap_drop
    );
    assert_eq!(
        r.read_only,
        (
            Some(0),
            "root 1\ntmp 0\n755 0\n755 0\nfrom the image\nro\n".to_owned()
        ),
        "{who}"
    );
    assert_eq!(
        r.device_tmpfs,
        (Some(0), "character special file 1:3 666\n1777\n".to_owned()),
        "{who}"
    );
    assert_eq!(r.privileged.0, Some(0), "{who}");
    let host_caps = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("CapBnd:"))
        .map(|l| l.trim_start_matches("CapBnd:").trim().to_owned())
        .unwrap();
    assert!(
        r.privileged.1.starts_with(&format!(
            "CapEff:\t{host_caps}\n'/dev/ptmx' -> 'pts/ptmx'\ncharacter special file 1:3\n"
        )),
        "{who}: {:?}",
        r.privileged
    );
    assert_eq!(r.exec, (Some(5), "0 sh\n".to_owned()), "{who}");
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(
        r.states,
        vec![s("Up"), s("Paused"), s("Up"), s("Exited (3)")],
        "{who}"
    );
    assert_eq!(r.stopped, "3", "{who}");
    assert_eq!(r.killed, "137", "{who}");
    assert_eq!(r.tty, (Some(3), true), "{who}");
    assert_eq!(r.exec_tty, (Some(6), true), "{who}");
}

#[test]
fn linception_oci_under_podman_as_runc() {
    if !linception_testkit::require_root("podman and conmon") {
        return;
    }
    for (name, path) in [
        ("podman", "/usr/bin/podman"),
        ("conmon", "/usr/bin/conmon"),
        ("runc", "/usr/sbin/runc"),
        ("busybox-static", "/bin/busybox"),
        ("util-linux", "/usr/bin/script"),
    ] {
        if !need(name, path) {
            return;
        }
    }
    let _subtree = SubtreeGuard::take();
    let pm = Podman::start();
    let work = TempDir::new("podman-image");
    let layer = busybox_layer_tar(&work.0);
    let out = pm
        .cmd("/usr/sbin/runc")
        .args([
            "import",
            "--quiet",
            "--change",
            "ENV PATH=/bin",
            "--change",
            "CMD sh",
        ])
        .arg("--signature-policy")
        .arg(pm.dir.0.join("etc/policy.json"))
        .arg(&layer)
        .arg(IMAGE)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "import: {}", stderr(&out));

    let runc = scenario(&pm, "/usr/sbin/runc", "r");
    assert_eq!(
        pm.left_cgroups(),
        Vec::<PathBuf>::new(),
        "runc left cgroups"
    );
    let ours = scenario(&pm, ours_bin(), "o");
    assert_eq!(
        pm.left_cgroups(),
        Vec::<PathBuf>::new(),
        "cgroups left behind"
    );
    let ps = pm.podman(ours_bin(), &["ps", "-a", "-q"]);
    assert_eq!(stdout(&ps), "", "containers left");
    check(&runc, "runc");
    check(&ours, "linception-oci");
    assert_eq!(ours, runc, "linception-oci and runc differ under podman");
    // Nothing left once podman's namespaces are gone: its storage directory (no
    // mount holds it), the cgroup parent.
    let storage = pm.dir.0.clone();
    let parent = pm
        .cgroup_root
        .join(pm.cgroup_parent.trim_start_matches('/'));
    drop(pm);
    assert!(!storage.exists(), "{} is left", storage.display());
    assert!(!parent.exists(), "{} is left", parent.display());
}
