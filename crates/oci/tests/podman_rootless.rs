//! Under rootless podman: `podman --runtime` as an unprivileged user, with
//! linception-oci and with runc as the reference, each through conmon. Rootless
//! podman runs the runtime as root of a user namespace of its own (mapped to the
//! user, and to its subordinate ids where `/etc/subuid` has some; a single mapping
//! otherwise), with no user namespace in the config, podman's device rules and a
//! `cgroup` mount of the cgroup namespace it shares, no cgroup delegated.
//!
//! The user: the test's own when it runs unprivileged; uid/gid 65534 (`setpriv`)
//! when it runs as root. Everything of podman is private to the test: its storage
//! (`--root`, `--runroot`, the `vfs` driver), configuration (`CONTAINERS_CONF`,
//! `CONTAINERS_REGISTRIES_CONF`, `CONTAINERS_STORAGE_CONF`, `XDG_CONFIG_HOME`, a
//! signature policy of the test's), `HOME` and `XDG_RUNTIME_DIR`, in a temporary
//! directory removed afterwards; `--network none`, no events log, the `cgroupfs`
//! manager. Rootless podman keeps its user namespace alive with a pause process:
//! the test ends it by the pid podman records, after removing the storage from
//! inside that namespace (`podman unshare`).
//!
//! What is compared, runc against linception-oci: the exit code and output of a
//! one-shot `run --rm` (`id`, how many lines the uid map has, the capability sets,
//! the hostname, a device node refused; `/sys/fs/cgroup` read-only as podman asks,
//! which runc leaves read-write on this hybrid host); `run -d`,
//! `exec` with its exit code and output, `ps` showing `Up`, `stop`, `rm`.
//!
//! Without podman, conmon, runc, busybox or setpriv the test skips with the reason
//! (and fails under `LINCEPTION_REQUIRE_ALL=1`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;

const IMAGE: &str = "localhost/linception/busybox:rootless";

/// A rootless podman of the test's: its directory and who runs it.
struct Podman {
    dir: TempDir,
    /// `setpriv` arguments dropping to 65534 (as root), or none.
    drop_to: Vec<String>,
    /// The runtimes' binaries, copied where the user can run them.
    ours: PathBuf,
}

impl Podman {
    fn start() -> Podman {
        let dir = TempDir::new("podman-rootless");
        let d = dir.0.clone();
        for sub in ["cfg/containers", "tmp", "net", "home", "xdg", "work"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        std::fs::write(
            d.join("containers.conf"),
            format!(
                "[engine]\nevents_logger = \"none\"\ncgroup_manager = \"cgroupfs\"\n\
                 [network]\nnetwork_config_dir = \"{}\"\n",
                d.join("net").display()
            ),
        )
        .unwrap();
        write_podman_files(&d, &d);
        let ours = d.join("linception-oci");
        copy_program(ours_bin(), &ours);
        let drop_to = if is_root() {
            chown_all(&d, 65534);
            [
                "--reuid",
                "65534",
                "--regid",
                "65534",
                "--clear-groups",
                "--",
            ]
            .map(String::from)
            .to_vec()
        } else {
            Vec::new()
        };
        std::fs::set_permissions(
            d.join("xdg"),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        Podman { dir, drop_to, ours }
    }

    /// `podman ARGS` as the user, with the private configuration and nothing else
    /// of the test's environment.
    fn cmd(&self, runtime: &Path) -> Command {
        let d = &self.dir.0;
        let mut c = if self.drop_to.is_empty() {
            Command::new("podman")
        } else {
            let mut c = Command::new("setpriv");
            c.args(&self.drop_to).arg("podman");
            c
        };
        podman_env(&mut c, d, d);
        c.env("USER", if is_root() { "nobody" } else { "lc-test" })
            .env("XDG_CONFIG_HOME", d.join("cfg"))
            .arg("--storage-driver")
            .arg("vfs")
            .arg("--runtime")
            .arg(runtime)
            .current_dir(d)
            .stdin(Stdio::null());
        c
    }

    fn podman(&self, runtime: &Path, args: &[&str]) -> Output {
        self.cmd(runtime).args(args).output().unwrap()
    }

    /// The pid of podman's pause process, which holds its user namespace.
    fn pause_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.dir.0.join("xdg/libpod/tmp/pause.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let runc = Path::new("/usr/sbin/runc");
        let _ = self.podman(runc, &["rm", "--all", "--force", "-t", "0"]);
        // Files the containers made belong to ids of podman's namespace: removed
        // from inside it.
        let d = self.dir.0.display().to_string();
        let _ = self.podman(
            runc,
            &[
                "unshare",
                "rm",
                "-rf",
                &format!("{d}/root"),
                &format!("{d}/runroot"),
            ],
        );
        if let Some(pid) = self.pause_pid().and_then(rustix::process::Pid::from_raw) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

/// Gives `dir` and everything in it to `id`:`id`.
fn chown_all(dir: &Path, id: u32) {
    std::os::unix::fs::lchown(dir, Some(id), Some(id)).unwrap();
    if dir.is_dir() && !dir.is_symlink() {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            chown_all(&e.path(), id);
        }
    }
}

fn code_and_out(o: &Output) -> (Option<i32>, String) {
    (o.status.code(), stdout(o))
}

/// What one runtime did under rootless podman.
#[derive(Debug, PartialEq)]
struct Report {
    one_shot: (Option<i32>, String),
    exec: (Option<i32>, String),
    status: String,
    stop: Option<i32>,
    rm: Option<i32>,
}

fn scenario(pm: &Podman, runtime: &Path, tag: &str) -> Report {
    let one = pm.podman(
        runtime,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--hostname",
            "lc-rootless",
            IMAGE,
            "sh",
            "-c",
            "id; grep -c . /proc/self/uid_map >/dev/null && echo mapped; \
             grep Cap /proc/self/status; hostname; \
             mknod /tmp/lc-null c 1 3 2>/dev/null && echo made || echo no-mknod; \
             grep ' /sys/fs/cgroup ' /proc/self/mountinfo | cut -d' ' -f6 | cut -d, -f1; \
             exit 3",
        ],
    );
    let name = format!("lc-rl-{tag}-{}", std::process::id());
    let d = pm.podman(
        runtime,
        &[
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            "none",
            IMAGE,
            "sleep",
            "1000",
        ],
    );
    assert!(d.status.success(), "run -d: {}", stderr(&d));
    let exec = pm.podman(runtime, &["exec", &name, "sh", "-c", "echo in; exit 5"]);
    let ps = pm.podman(
        runtime,
        &["ps", "-a", "--format", "{{.Names}}\t{{.Status}}"],
    );
    let status = stdout(&ps)
        .lines()
        .find_map(|l| {
            let (n, s) = l.split_once('\t')?;
            (n == name).then(|| s.split_whitespace().next().unwrap_or_default().to_owned())
        })
        .unwrap_or_default();
    let stop = pm
        .podman(runtime, &["stop", "-t", "1", &name])
        .status
        .code();
    let rm = pm.podman(runtime, &["rm", &name]).status.code();
    Report {
        one_shot: code_and_out(&one),
        exec: code_and_out(&exec),
        status,
        stop,
        rm,
    }
}

#[test]
fn linception_oci_under_rootless_podman_as_runc() {
    for (name, path) in [
        ("podman", "/usr/bin/podman"),
        ("conmon", "/usr/bin/conmon"),
        ("runc", "/usr/sbin/runc"),
        ("busybox-static", "/bin/busybox"),
        ("util-linux", "/usr/bin/setpriv"),
    ] {
        if !need(name, path) {
            return;
        }
    }
    linception_testkit::require!(linception_testkit::Feature::UnprivilegedUserNs);
    let pm = Podman::start();
    let layer = busybox_layer_tar(&pm.dir.0.join("work"));
    if is_root() {
        chown_all(&pm.dir.0.join("work"), 65534);
    }
    let runc = PathBuf::from("/usr/sbin/runc");
    let policy = pm.dir.0.join("policy.json").display().to_string();
    let out = pm
        .cmd(&runc)
        .args([
            "import",
            "--quiet",
            "--change",
            "ENV PATH=/bin",
            "--change",
            "CMD sh",
            "--signature-policy",
            &policy,
        ])
        .arg(&layer)
        .arg(IMAGE)
        .output()
        .unwrap();
    assert!(out.status.success(), "import: {}", stderr(&out));

    let by_runc = scenario(&pm, &runc, "r");
    let ours = scenario(&pm, &pm.ours.clone(), "o");
    // Root of podman's user namespace, with podman's default capabilities.
    let (code, text) = &by_runc.one_shot;
    assert_eq!(*code, Some(3), "runc: {text}");
    assert!(text.starts_with("uid=0(root) gid=0(root)"), "runc: {text}");
    assert!(text.contains("\nlc-rootless\nno-mknod\n"), "runc: {text}");
    assert_eq!(by_runc.exec, (Some(5), "in\n".to_owned()));
    assert_eq!(by_runc.status, "Up");
    assert_eq!((by_runc.stop, by_runc.rm), (Some(0), Some(0)));
    // The last line: the options of `/sys/fs/cgroup`, which podman asks read-only.
    // linception-oci binds the runtime's cgroup2 mount read-only; runc, seeing the
    // v1 hierarchies of this hybrid host, mounts them under a tmpfs it leaves
    // read-write. Everything else is the same.
    let cgroup_line = |r: &mut Report| {
        let text = &mut r.one_shot.1;
        let body = text.trim_end_matches('\n');
        let cut = body.rfind('\n').map_or(0, |i| i + 1);
        let last = body[cut..].to_owned();
        text.truncate(cut);
        last
    };
    let mut ours = ours;
    let mut by_runc = by_runc;
    assert_eq!(cgroup_line(&mut ours), "ro", "{ours:?}");
    let runc_cgroup = cgroup_line(&mut by_runc);
    assert!(matches!(runc_cgroup.as_str(), "ro" | "rw"), "{runc_cgroup}");
    assert_eq!(
        ours, by_runc,
        "linception-oci and runc differ under rootless podman"
    );
    let ps = pm.podman(&runc, &["ps", "-a", "-q"]);
    assert_eq!(stdout(&ps), "", "containers left");
}
