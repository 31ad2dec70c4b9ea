//! Each builder option, observed from inside a real container, as root and rootless.

mod common;

use std::io::Read;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{NS, output, sh, status_field, stdout_of};
use linception::seccomp_notify::{Action, Filter, Response};
use linception::userns::{Extent, IdMap};
use linception::{
    CapSet, Capabilities, Container, IdMapping, Mount, Namespaces, RootFs, Seccomp, SessionKeyring,
    Stdio,
};
use linception_testkit::{Feature, Fork, NOBODY, require};

/// What the identity script prints: uid, gid, hostname, uid_map, gid_map, pid.
const IDENTITY: &str =
    "id -u; id -g; hostname; cat /proc/self/uid_map; cat /proc/self/gid_map; echo $$";

fn check_identity(out: &str, outer: u32) {
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines.len(), 6, "{out}");
    assert_eq!(lines[0], ["0"], "uid inside: {out}");
    assert_eq!(lines[1], ["0"], "gid inside: {out}");
    assert_eq!(lines[2], ["box"], "hostname: {out}");
    let outer = outer.to_string();
    assert_eq!(lines[3], ["0", outer.as_str(), "1"], "uid_map: {out}");
    assert_eq!(lines[4], ["0", outer.as_str(), "1"], "gid_map: {out}");
    assert_eq!(lines[5], ["1"], "the shell is pid 1: {out}");
}

#[test]
fn identity_hostname_maps_and_pid1_as_root() {
    require!(Feature::Root, Feature::UserNs);
    let out = stdout_of(sh(IDENTITY).hostname("box"));
    check_identity(&out, 0);
}

#[test]
fn identity_hostname_maps_and_pid1_rootless() {
    require!(Feature::UnprivilegedUserNs);
    let out = Fork::new()
        .unprivileged()
        .run(|| stdout_of(sh(IDENTITY).hostname("box")));
    check_identity(&out, linception_testkit::unprivileged_ids().0);
}

#[test]
fn mount_table_is_the_new_root_only() {
    require!(Feature::UserNs, Feature::MountApi);
    let out = stdout_of(
        sh("cat /proc/self/mountinfo")
            .mount(Mount::tmpfs("/tmp").size(1 << 20))
            .mount(Mount::dev("/dev")),
    );
    // mount point (field 5), options (field 6), fs type (after " - ").
    let mounts: Vec<(String, String, String)> = out
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let fstype = l
                .split_once(" - ")
                .unwrap()
                .1
                .split_whitespace()
                .next()
                .unwrap();
            (f[4].to_owned(), f[5].to_owned(), fstype.to_owned())
        })
        .collect();
    let find = |point: &str| {
        mounts
            .iter()
            .find(|m| m.0 == point)
            .unwrap_or_else(|| panic!("no mount on {point}: {out}"))
    };
    assert_eq!(find("/").2, "tmpfs", "{out}");
    assert!(find("/usr").1.split(',').any(|o| o == "ro"), "{out}");
    assert!(find("/etc").1.split(',').any(|o| o == "ro"), "{out}");
    assert_eq!(find("/proc").2, "proc");
    assert_eq!(find("/tmp").2, "tmpfs");
    assert_eq!(find("/dev").2, "tmpfs");
    assert_eq!(find("/dev/pts").2, "devpts");
    for node in ["null", "zero", "full", "random", "urandom", "tty"] {
        find(&format!("/dev/{node}"));
    }
    // The old root is detached: no host mount such as /sys is visible.
    assert!(!mounts.iter().any(|m| m.0 == "/sys"), "{out}");
    let allowed = [
        "/",
        "/usr",
        "/etc",
        "/proc",
        "/tmp",
        "/dev",
        "/dev/pts",
        "/dev/shm",
        "/dev/mqueue",
        "/dev/null",
        "/dev/zero",
        "/dev/full",
        "/dev/random",
        "/dev/urandom",
        "/dev/tty",
    ];
    for m in &mounts {
        // Recursive binds of /usr and /etc may carry their submounts.
        assert!(
            allowed.contains(&m.0.as_str()) || m.0.starts_with("/usr/") || m.0.starts_with("/etc/"),
            "unexpected mount {m:?} in {out}"
        );
    }
}

#[test]
fn dev_nodes_work_and_devpts_is_new() {
    require!(Feature::UserNs, Feature::MountApi);
    let out = stdout_of(
        sh(
            "head -c 4 /dev/zero | od -An -tx1; echo x > /dev/null && echo null-ok; \
            readlink /dev/ptmx; ls /dev/pts",
        )
        .mount(Mount::dev("/dev")),
    );
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(lines[0], "00 00 00 00", "{out}");
    assert_eq!(lines[1], "null-ok");
    assert_eq!(lines[2], "pts/ptmx");
    // A new devpts instance has only ptmx, no pty of the host.
    assert_eq!(lines[3..], ["ptmx"], "{out}");
}

#[test]
fn proc_pid_subset_hides_system_files() {
    require!(Feature::UserNs, Feature::MountApi);
    let b = Container::builder("/bin/sh")
        .args([
            "-c",
            "ls /proc | grep -c -v '^[0-9]'; test -e /proc/1/status && echo pid-ok",
        ])
        .namespaces(NS)
        .root(RootFs::Tmpfs)
        .mounts(Mount::host_system())
        .mount(Mount::proc("/proc").pid_subset());
    let out = stdout_of(b);
    let lines: Vec<&str> = out.lines().collect();
    // Only "self" and "thread-self" are left beside the pid directories.
    assert_eq!(lines, ["2", "pid-ok"], "{out}");
}

#[test]
fn directory_rootfs_with_targets_created_inside() {
    require!(Feature::Root, Feature::UserNs, Feature::Openat2);
    let tmp = common::TempDir::new("rootfs");
    let dir = tmp.0.clone();
    std::fs::write(dir.join("marker"), "inside the rootfs\n").unwrap();
    // An existing mount point is used as it is; missing ones are created.
    std::fs::create_dir(dir.join("proc")).unwrap();
    // A symlink pointing outside must resolve inside the rootfs (RESOLVE_IN_ROOT).
    let victim = format!("/linception-victim-{}", std::process::id());
    std::fs::create_dir(dir.join(&victim[1..])).unwrap();
    std::os::unix::fs::symlink(&victim, dir.join("escape")).unwrap();
    let b = Container::builder("/bin/sh")
        .args([
            "-c",
            "cat /marker; ls -d /escape/x; test -e /proc/self/status",
        ])
        .namespaces(NS)
        .root(RootFs::Dir(dir.clone()))
        .mounts(Mount::host_system())
        .mount(Mount::proc("/proc"))
        .mount(Mount::tmpfs("/escape/x"));
    let (st, out) = output(b);
    let created_outside = std::path::Path::new(&victim).exists();
    let created_inside = dir.join(&victim[1..]).join("x").is_dir();
    assert!(st.success(), "{st:?} {out}");
    assert_eq!(out, "inside the rootfs\n/escape/x\n");
    assert!(!created_outside, "a target was created outside the rootfs");
    assert!(
        created_inside,
        "the target was not created inside the rootfs"
    );
}

#[test]
fn uid_gid_groups_cwd_env_inside() {
    require!(Feature::Root, Feature::UserNs);
    let map = IdMap::new([Extent::new(0, 200_000, 65_536)]).unwrap();
    let b = sh("id -u; id -g; id -G; pwd; echo \"$GREETING\"; echo \"${HOME:-unset}\"")
        .uid_map(IdMapping::Map(map.clone()))
        .gid_map(IdMapping::Map(map))
        .uid(1000)
        .gid(1001)
        .groups([1001, 20])
        .current_dir("/usr")
        .env_clear()
        .env("GREETING", "hello")
        .env("PATH", "/usr/bin:/bin");
    let out = stdout_of(b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1000");
    assert_eq!(lines[1], "1001");
    let mut groups: Vec<&str> = lines[2].split_whitespace().collect();
    groups.sort_unstable();
    assert_eq!(groups, ["1001", "20"]);
    assert_eq!(lines[3], "/usr");
    assert_eq!(lines[4], "hello");
    assert_eq!(lines[5], "unset");
}

#[test]
fn capabilities_bounding_effective_ambient() {
    require!(Feature::Root, Feature::UserNs);
    let script = "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status";
    // Root inside: execve gives it the bounding set.
    let out = stdout_of(
        sh(script).capabilities(Capabilities::only(CapSet::CHOWN | CapSet::NET_BIND_SERVICE)),
    );
    assert_eq!(status_field(&out, "CapBnd"), "0000000000000401", "{out}");
    assert_eq!(status_field(&out, "CapEff"), "0000000000000401", "{out}");
    // A non-root uid keeps only what is ambient.
    let map = IdMap::new([Extent::new(0, 200_000, 65_536)]).unwrap();
    let out = stdout_of(
        sh(script)
            .uid_map(IdMapping::Map(map.clone()))
            .gid_map(IdMapping::Map(map))
            .uid(1000)
            .gid(1000)
            .capabilities(
                Capabilities::only(CapSet::CHOWN | CapSet::NET_BIND_SERVICE)
                    .ambient(CapSet::NET_BIND_SERVICE),
            ),
    );
    assert_eq!(status_field(&out, "CapAmb"), "0000000000000400", "{out}");
    assert_eq!(status_field(&out, "CapEff"), "0000000000000400", "{out}");
    assert_eq!(status_field(&out, "CapBnd"), "0000000000000401", "{out}");
}

#[test]
fn capabilities_rootless() {
    require!(Feature::UnprivilegedUserNs);
    let out = Fork::new().unprivileged().run(|| {
        stdout_of(
            sh("grep -E '^Cap(Eff|Bnd)' /proc/self/status")
                .capabilities(Capabilities::only(CapSet::KILL)),
        )
    });
    assert_eq!(status_field(&out, "CapBnd"), "0000000000000020", "{out}");
    assert_eq!(status_field(&out, "CapEff"), "0000000000000020", "{out}");
}

#[test]
fn no_new_privs_and_seccomp_mode() {
    require!(Feature::UserNs);
    let script = "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status";
    let out = stdout_of(sh(script));
    assert_eq!(status_field(&out, "NoNewPrivs"), "0");
    assert_eq!(status_field(&out, "Seccomp"), "0");
    let filter = Filter::new(Action::Allow).rule("swapon", Action::Errno(libc::EPERM));
    let out = stdout_of(sh(script).no_new_privs().seccomp(Seccomp::new(filter)));
    assert_eq!(status_field(&out, "NoNewPrivs"), "1", "{out}");
    assert_eq!(status_field(&out, "Seccomp"), "2", "{out}");
}

#[test]
fn seccomp_errno_rule_applies_inside() {
    require!(Feature::UserNs);
    let filter = Filter::new(Action::Allow).rule("uname", Action::Errno(libc::EACCES));
    let (st, out) = output(sh("uname -s 2>&1 || echo uname-failed").seccomp(Seccomp::new(filter)));
    assert!(st.success());
    assert!(out.ends_with("Permission denied\nuname-failed\n"), "{out}");
}

fn notify_roundtrip() -> (usize, String) {
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let filter = Filter::new(Action::Allow).rule("uname", Action::UserNotif);
    let seccomp = Seccomp::new(filter).on_notify(move |_listener, notif| {
        assert!(notif.pid > 0);
        counter.fetch_add(1, Ordering::SeqCst);
        Response::Continue
    });
    let out = stdout_of(sh("uname -s").no_new_privs().seccomp(seccomp));
    (seen.load(Ordering::SeqCst), out)
}

#[test]
fn seccomp_notification_handled_by_the_parent() {
    require!(Feature::UserNs, Feature::SeccompListener);
    let (seen, out) = notify_roundtrip();
    assert_eq!(out.trim(), "Linux");
    assert!(seen >= 1, "the handler saw no uname call");
}

#[test]
fn seccomp_notification_rootless() {
    require!(Feature::UnprivilegedUserNs, Feature::SeccompListener);
    let (seen, out) = Fork::new().unprivileged().run(|| {
        let (n, out) = notify_roundtrip();
        (n as u64, out)
    });
    assert_eq!(out.trim(), "Linux");
    assert!(seen >= 1);
}

#[test]
fn keep_listener_hands_it_to_the_caller() {
    require!(Feature::UserNs, Feature::SeccompListener);
    let filter = Filter::new(Action::Allow).rule("getppid", Action::UserNotif);
    let mut c = Container::builder("/bin/sh")
        .args(["-c", "echo $PPID"])
        .namespaces(NS)
        .root(RootFs::Tmpfs)
        .mounts(Mount::host_system())
        .no_new_privs()
        .seccomp(Seccomp::new(filter).keep_listener())
        .stdout(Stdio::Piped)
        .spawn()
        .unwrap();
    let listener = c.take_listener().expect("listener kept");
    let notif = listener.recv().unwrap();
    assert_eq!(notif.nr as i64, libc::SYS_getppid);
    listener.respond_value(notif.id, 4242).unwrap();
    let mut out = String::new();
    c.take_stdout().unwrap().read_to_string(&mut out).unwrap();
    assert!(c.wait().unwrap().success());
    assert_eq!(out.trim(), "4242");
}

#[test]
fn fresh_session_keyring() {
    require!(Feature::UserNs, Feature::Keyrings);
    let out = stdout_of(
        sh("cat /proc/keys").session_keyring(SessionKeyring::Named("box-session".into())),
    );
    let line = out
        .lines()
        .find(|l| l.contains("keyring") && l.ends_with("box-session: empty"))
        .unwrap_or_else(|| panic!("no box-session keyring in /proc/keys: {out}"));
    // Possessor-only mask: another container under the same host uid cannot even
    // view it.
    assert_eq!(line.split_whitespace().nth(4), Some("3f000000"), "{line}");
    let err = sh("true")
        .session_keyring(SessionKeyring::Named(".reserved".into()))
        .spawn()
        .unwrap_err();
    assert_eq!(err.kind(), linception::ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("\".reserved\""), "{err}");
}

#[test]
fn only_passed_fds_reach_the_program() {
    require!(Feature::UserNs, Feature::CloseRange);
    Fork::new().run(|| {
        // An fd without O_CLOEXEC, as a careless library would leave one.
        let leaky = rustix::io::dup(std::io::stderr()).unwrap();
        let (r, w) = rustix::pipe::pipe().unwrap();
        let mut c = sh("ls /proc/self/fd | sort -n | tr '\\n' ' '; echo passed >&7")
            .pass_fd(w, 7)
            .stdout(Stdio::Piped)
            .stdin(Stdio::Null)
            .spawn()
            .unwrap();
        let mut out = String::new();
        c.take_stdout().unwrap().read_to_string(&mut out).unwrap();
        assert!(c.wait().unwrap().success());
        // 0, 1, 2, ls's directory fd (3), the passed 7; not `leaky`.
        assert_eq!(out.trim(), "0 1 2 3 7", "leaky fd {leaky:?}");
        let mut passed = String::new();
        std::fs::File::from(r).read_to_string(&mut passed).unwrap();
        assert_eq!(passed, "passed\n");
        drop(leaky);
    });
}

#[test]
fn stdio_null_and_piped_stdin() {
    require!(Feature::UserNs);
    let (st, out) = output(sh("cat; echo end").stdin(Stdio::Null));
    assert!(st.success());
    assert_eq!(out, "end\n");
    let mut c = sh("read line; echo got $line")
        .stdin(Stdio::Piped)
        .stdout(Stdio::Piped)
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = c.take_stdin().unwrap();
        stdin.write_all(b"hello\n").unwrap();
    }
    let mut out = String::new();
    c.take_stdout().unwrap().read_to_string(&mut out).unwrap();
    assert!(c.wait().unwrap().success());
    assert_eq!(out, "got hello\n");
}

#[test]
fn signals_are_default_and_unblocked() {
    require!(Feature::UserNs);
    // The test process ignores SIGPIPE (the Rust runtime does); the program must not.
    let out = stdout_of(sh("grep -E '^Sig(Blk|Ign):' /proc/self/status"));
    assert_eq!(status_field(&out, "SigBlk"), "0000000000000000", "{out}");
    let ignored = u64::from_str_radix(status_field(&out, "SigIgn"), 16).unwrap();
    assert_eq!(
        ignored & (1 << (libc::SIGPIPE - 1)),
        0,
        "SIGPIPE ignored: {out}"
    );
}

#[test]
fn net_namespace_has_only_loopback() {
    require!(Feature::UserNs);
    let out = stdout_of(
        sh("cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '")
            .namespaces(NS | Namespaces::NET),
    );
    assert_eq!(out.trim(), "lo");
}

#[test]
fn time_namespace_offsets() {
    require!(Feature::UserNs, Feature::TimeNs);
    let out = stdout_of(
        sh("cut -d. -f1 /proc/uptime; cat /proc/self/timens_offsets")
            .boottime_offset(1_000_000, 0)
            .monotonic_offset(-5, 250),
    );
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let uptime: u64 = lines[0][0].parse().unwrap();
    assert!(uptime >= 1_000_000, "uptime {uptime}");
    assert!(lines.contains(&vec!["monotonic", "-5", "250"]), "{out}");
    assert!(lines.contains(&vec!["boottime", "1000000", "0"]), "{out}");
}

#[test]
fn exit_status_and_kill_via_pidfd() {
    require!(Feature::UserNs);
    let mut c = sh("exit 7").spawn().unwrap();
    assert_eq!(c.wait().unwrap().code(), Some(7));
    let mut c = sh("sleep 100").spawn().unwrap();
    assert!(c.try_wait().unwrap().is_none());
    c.kill().unwrap();
    let st = c.wait().unwrap();
    assert_eq!(st.signal(), Some(linception::Signal::KILL));
    // Waiting again returns the same status; killing a reaped container is fine.
    assert_eq!(c.wait().unwrap(), st);
    c.kill().unwrap();
}

#[test]
fn drop_kills_and_reaps() {
    require!(Feature::UserNs);
    Fork::new().run(|| {
        let c = sh("sleep 100").spawn().unwrap();
        let pidfd = c.pidfd().try_clone().unwrap();
        drop(c);
        // Reaped: the pidfd still exists, the process does not.
        assert!(!pidfd.is_alive().unwrap());
        common::assert_no_children();
    });
}

#[test]
fn namespace_fds_are_the_containers() {
    require!(Feature::UserNs, Feature::PidfdNamespaces);
    let c = sh("sleep 100")
        .namespaces(NS | Namespaces::NET)
        .spawn()
        .unwrap();
    let ns_id = |fd: &OwnedFd| rustix::fs::fstat(fd).unwrap().st_ino;
    let own = |name: &str| std::fs::metadata(format!("/proc/self/ns/{name}")).unwrap();
    use std::os::unix::fs::MetadataExt;
    for (kind, name) in [
        (linception::NamespaceType::User, "user"),
        (linception::NamespaceType::Mnt, "mnt"),
        (linception::NamespaceType::Net, "net"),
        (linception::NamespaceType::Uts, "uts"),
    ] {
        let fd = c.namespace(kind).unwrap();
        assert_ne!(
            ns_id(&fd),
            own(name).ino(),
            "{name} namespace is the caller's"
        );
    }
}

fn exec_in_roundtrip() -> String {
    // sleep itself is the init (no shell that would exec it later: no race).
    let mut c = Container::builder("/bin/sleep")
        .arg("100")
        .namespaces(NS)
        .root(RootFs::Tmpfs)
        .mounts(Mount::host_system())
        .mount(Mount::proc("/proc"))
        .hostname("box")
        .namespaces(NS | Namespaces::NET)
        .spawn()
        .unwrap();
    let script = "hostname; echo $$; cat /proc/1/comm; id -u; ls /proc/self/ns | wc -l; \
                  tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '";
    let out = stdout_of_handle(
        c.exec_in(
            Container::builder("/bin/sh")
                .args(["-c", script])
                .stdout(Stdio::Piped),
        )
        .unwrap(),
    );
    c.kill().unwrap();
    c.wait().unwrap();
    // Once the container is gone, there is nothing to join.
    let err = c
        .exec_in(Container::builder("/bin/true"))
        .expect_err("exec_in into an exited container");
    assert!(err.raw_os_error().is_some(), "{err}");
    out
}

fn stdout_of_handle(mut c: Container) -> String {
    let mut out = String::new();
    c.take_stdout().unwrap().read_to_string(&mut out).unwrap();
    assert!(c.wait().unwrap().success(), "{out}");
    out
}

fn check_exec_in(out: &str) {
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "box", "{out}");
    let pid: u32 = lines[1].parse().unwrap();
    assert!(
        pid > 1 && pid < 100,
        "pid in the container's namespace: {out}"
    );
    assert_eq!(lines[2], "sleep", "{out}");
    assert_eq!(lines[3], "0", "{out}");
    assert_eq!(lines[5], "lo", "the container's network namespace: {out}");
}

#[test]
fn exec_in_joins_the_container() {
    require!(Feature::UserNs, Feature::PidfdOpen);
    Fork::new().run(|| {
        let out = exec_in_roundtrip();
        check_exec_in(&out);
        common::assert_no_children();
    });
}

#[test]
fn exec_in_rootless() {
    require!(Feature::UnprivilegedUserNs, Feature::PidfdOpen);
    let out = Fork::new().unprivileged().run(exec_in_roundtrip);
    check_exec_in(&out);
}

/// An `exec_in` program gets the fds passed to it on their numbers (one of them an
/// inherited fd's copy, as an OCI runtime's `--preserve-fds` passes them) and no
/// other: it lists /proc/self/fd and reads one, writes the other.
fn exec_in_passes_fds() -> (String, String) {
    use std::io::Write;
    let mut c = sh("sleep 100").spawn().unwrap();
    let (r, w) = rustix::pipe::pipe().unwrap();
    let (back_r, back_w) = rustix::pipe::pipe().unwrap();
    std::fs::File::from(w).write_all(b"to-the-exec").unwrap();
    // A careless library's fd without O_CLOEXEC must not reach the program.
    let leaky = rustix::io::dup(std::io::stderr()).unwrap();
    let n = std::os::fd::AsRawFd::as_raw_fd(&r);
    let copy = linception::inherited_fds(n..n + 1).unwrap().remove(0);
    drop(r);
    let e = c
        .exec_in(
            Container::builder("/bin/sh")
                .args([
                    "-c",
                    "ls /proc/self/fd | sort -n | tr '\\n' ' '; cat <&3; echo back >&4",
                ])
                .pass_fd(copy, 3)
                .pass_fd(back_w, 4)
                .stdout(Stdio::Piped),
        )
        .unwrap();
    let out = stdout_of_handle(e);
    let mut back = String::new();
    std::fs::File::from(back_r)
        .read_to_string(&mut back)
        .unwrap();
    drop(leaky);
    c.kill().unwrap();
    c.wait().unwrap();
    (out, back)
}

#[test]
fn exec_in_passes_fds_on_their_numbers() {
    require!(Feature::UserNs, Feature::PidfdOpen, Feature::CloseRange);
    for unprivileged in common::modes() {
        let fork = if unprivileged {
            Fork::new().unprivileged()
        } else {
            Fork::new()
        };
        let (out, back) = fork.run(exec_in_passes_fds);
        // 0, 1, 2, ls's directory fd (one more than the highest), the passed 3, 4.
        assert_eq!(
            out, "0 1 2 3 4 5 to-the-exec",
            "unprivileged {unprivileged}"
        );
        assert_eq!(back, "back\n");
    }
}

#[test]
fn exec_in_refuses_container_options() {
    require!(Feature::UserNs);
    let c = sh("sleep 100").spawn().unwrap();
    let err = c
        .exec_in(Container::builder("/bin/true").hostname("x"))
        .unwrap_err();
    assert_eq!(err.kind(), linception::ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("hostname"), "{err}");
}

#[test]
fn idmapped_bind_shows_host_owner_as_container_root() {
    require!(Feature::Root, Feature::UserNs, Feature::MountSetattrIdmap);
    let tmp = common::TempDir::new("idmap");
    let dir = tmp.0.clone();
    std::fs::write(dir.join("file"), "x").unwrap(); // owned by uid 0 on the host
    let map = IdMap::new([Extent::new(0, 300_000, 65_536)]).unwrap();
    let run = |idmapped: bool| {
        let bind = Mount::bind(&dir, "/data");
        let bind = if idmapped { bind.idmapped() } else { bind };
        output(
            sh("stat -c %u /data/file; touch /data/new 2>&1 && stat -c %u /data/new")
                .uid_map(IdMapping::Map(map.clone()))
                .gid_map(IdMapping::Map(map.clone()))
                .mount(bind),
        )
    };
    let (plain_st, plain) = run(false);
    let (mapped_st, mapped) = run(true);
    let new_owner = std::fs::metadata(dir.join("new")).map(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid()
    });
    // Without the idmap, the host's root is unmapped inside (the overflow uid) and
    // root inside cannot write there.
    assert_eq!(plain.lines().next(), Some("65534"), "{plain}");
    assert!(
        plain.contains("cannot touch '/data/new': Permission denied"),
        "{plain}"
    );
    assert!(!plain_st.success());
    // With it, host uid 0 is uid 0 inside, and what root inside creates is uid 0 on disk.
    assert!(mapped_st.success(), "{mapped}");
    assert_eq!(mapped, "0\n0\n");
    assert_eq!(new_owner.unwrap(), 0);
}

#[test]
fn cgroup_placement_and_removal() {
    require!(Feature::Root, Feature::CloneIntoCgroup);
    let name = format!("linception-test-{}", std::process::id());
    let path = format!("/sys/fs/cgroup/unified/{name}");
    let out =
        stdout_of(sh("cat /proc/self/cgroup | grep '^0::'").cgroup(linception::Cgroup::new(&path)));
    assert_eq!(out.trim(), format!("0::/{name}"));
    assert!(
        !std::path::Path::new(&path).exists(),
        "cgroup not removed at reap"
    );
    // With a cgroup namespace, the container sees its cgroup as the root.
    let out = stdout_of(
        sh("cat /proc/self/cgroup | grep '^0::'")
            .namespaces(NS | Namespaces::CGROUP)
            .cgroup(linception::Cgroup::new(&path)),
    );
    assert_eq!(out.trim(), "0::/");
    assert!(!std::path::Path::new(&path).exists());
}

#[test]
fn cgroup_limits_need_the_controller() {
    require!(Feature::Root, Feature::CloneIntoCgroup);
    let root = "/sys/fs/cgroup/unified";
    let controllers = std::fs::read_to_string(format!("{root}/cgroup.subtree_control")).unwrap();
    let path = format!("{root}/linception-limits-{}", std::process::id());
    let r = sh("cat /sys/fs/cgroup/pids.max 2>&1 || echo none")
        .cgroup(linception::Cgroup::new(&path).pids_max(16))
        .stdout(Stdio::Piped)
        .spawn();
    if controllers.split_whitespace().any(|c| c == "pids") {
        let mut c = r.unwrap();
        assert_eq!(
            std::fs::read_to_string(format!("{path}/pids.max"))
                .unwrap()
                .trim(),
            "16"
        );
        c.wait().unwrap();
    } else {
        // pids is not enabled on this cgroup v2 tree: refused before the cgroup
        // directory is created, naming the file and the controller.
        let err = r.unwrap_err();
        assert!(
            err.to_string().contains("pids.max 16 of cgroup")
                && err.to_string().contains("no pids controller"),
            "{err}"
        );
        assert_eq!(err.kind(), linception::ErrorKind::InvalidArgument, "{err}");
    }
    assert!(!std::path::Path::new(&path).exists(), "cgroup left behind");
}

#[test]
fn maps_from_subuid_and_subgid() {
    require!(Feature::Root, Feature::UserNs);
    // /etc/subuid and /etc/subgid are replaced only inside this child's mount namespace.
    let out = Fork::new().unshare(libc::CLONE_NEWNS).run(|| {
        let tmp = common::TempDir::new("subid");
        let dir = tmp.0.clone();
        std::fs::write(dir.join("subuid"), "root:100000:65536\n").unwrap();
        std::fs::write(dir.join("subgid"), "root:300000:1000\n").unwrap();
        for name in ["subuid", "subgid"] {
            rustix::mount::mount_bind(dir.join(name), format!("/etc/{name}")).unwrap();
        }
        let out =
            stdout_of(sh("cat /proc/self/uid_map /proc/self/gid_map; id -u").subid_maps("root"));
        let missing = sh("true")
            .subid_maps("no-such-user-linception")
            .spawn()
            .unwrap_err();
        (out, missing.to_string())
    });
    let (out, missing) = out;
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines,
        [
            vec!["0", "0", "1"],
            vec!["1", "100000", "65536"],
            vec!["0", "0", "1"],
            vec!["1", "300000", "1000"],
            vec!["0"],
        ],
        "{out}"
    );
    assert!(
        missing.contains("/etc/subuid") && missing.contains("no-such-user-linception"),
        "{missing}"
    );
}

#[test]
fn exec_in_runs_as_root_of_the_joined_user_namespace() {
    require!(Feature::Root, Feature::UserNs, Feature::PidfdOpen);
    Fork::new().run(|| {
        let map = IdMap::new([Extent::new(0, 400_000, 65_536)]).unwrap();
        let c = sh("exec sleep 100")
            .uid_map(IdMapping::Map(map.clone()))
            .gid_map(IdMapping::Map(map))
            .spawn()
            .unwrap();
        let id = |b: linception::ContainerBuilder| {
            stdout_of_handle(c.exec_in(b.stdout(Stdio::Piped)).unwrap())
        };
        // The caller (uid 0 outside) is not mapped; the program is root inside.
        assert_eq!(
            id(Container::builder("/bin/sh").args(["-c", "id -u; id -g"])),
            "0\n0\n"
        );
        assert_eq!(
            id(Container::builder("/bin/sh")
                .args(["-c", "id -u; id -g"])
                .uid(7)
                .gid(8)),
            "7\n8\n"
        );
        drop(c);
        common::assert_no_children();
    });
}

#[test]
fn rootless_explicit_map_of_the_own_id() {
    require!(Feature::UnprivilegedUserNs);
    let out = Fork::new().unprivileged().run(|| {
        let uid = rustix::process::geteuid().as_raw();
        let gid = rustix::process::getegid().as_raw();
        stdout_of(
            sh("id -u; id -g; cat /proc/self/setgroups")
                .uid_map(IdMapping::Map(
                    IdMap::new([Extent::new(1000, uid, 1)]).unwrap(),
                ))
                .gid_map(IdMapping::Map(
                    IdMap::new([Extent::new(1000, gid, 1)]).unwrap(),
                )),
        )
    });
    assert_eq!(out, "1000\n1000\ndeny\n");
}

#[test]
fn private_mount_tree_fallback_without_mount_setattr() {
    require!(Feature::UserNs);
    let out = Fork::new().run(|| {
        linception::__pretend_mount_setattr_enosys(true);
        // Read-write binds only: a read-only one would need mount_setattr itself.
        let mut b = Container::builder("/bin/sh")
            .args(["-c", "cut -d' ' -f5 /proc/self/mountinfo | grep -cx /"])
            .namespaces(NS)
            .root(RootFs::Tmpfs)
            .mount(Mount::proc("/proc"));
        for dir in ["/usr", "/bin", "/sbin", "/lib", "/lib64"] {
            match std::fs::read_link(dir) {
                Ok(to) => b = b.mount(Mount::symlink(to, dir)),
                Err(_) if std::path::Path::new(dir).is_dir() => {
                    b = b.mount(Mount::bind(dir, dir).recursive())
                }
                Err(_) => {}
            }
        }
        stdout_of(b)
    });
    assert_eq!(out.trim(), "1");
}

/// The namespaces of the calling process, as `readlink /proc/self/ns/*` shows them.
fn own_namespaces() -> Vec<String> {
    ["user", "mnt", "pid", "uts", "ipc", "net", "cgroup"]
        .iter()
        .map(|n| {
            std::fs::read_link(format!("/proc/self/ns/{n}"))
                .unwrap()
                .display()
                .to_string()
        })
        .collect()
}

/// A builder with no other call is a container: every namespace but time is new,
/// and root inside is the caller outside.
fn default_builder_isolates(outer: u32) {
    let script = "for n in user mnt pid uts ipc net cgroup; do readlink /proc/self/ns/$n; done; \
                  id -u; cat /proc/self/uid_map";
    let out = stdout_of(Container::builder("/bin/sh").args(["-c", script]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 9, "{out}");
    for (inside, host) in lines[..7].iter().zip(own_namespaces()) {
        assert_ne!(*inside, host, "a namespace is shared with the host: {out}");
        assert_eq!(inside.split(':').next(), host.split(':').next(), "{out}");
    }
    assert_eq!(lines[7], "0", "{out}");
    let map: Vec<&str> = lines[8].split_whitespace().collect();
    assert_eq!(map, ["0", outer.to_string().as_str(), "1"], "{out}");
}

#[test]
fn default_builder_isolates_as_root() {
    require!(Feature::Root, Feature::UserNs);
    Fork::new().run(|| default_builder_isolates(0));
}

#[test]
fn default_builder_isolates_unprivileged() {
    require!(Feature::UnprivilegedUserNs);
    let outer = rustix::process::geteuid().as_raw();
    let outer = if outer == 0 { NOBODY } else { outer };
    Fork::new()
        .unprivileged()
        .run(move || default_builder_isolates(outer));
}

#[test]
fn sharing_a_namespace_is_explicit() {
    require!(Feature::UserNs);
    let host_net = own_namespaces()[5].clone();
    let out = Fork::new().unprivileged().run(|| {
        stdout_of(
            Container::builder("/bin/readlink")
                .arg("/proc/self/ns/net")
                .share(Namespaces::NET),
        )
    });
    assert_eq!(out.trim(), host_net);
}

#[test]
fn tmpfs_options_and_read_only_are_honoured() {
    require!(Feature::UserNs);
    let out = Fork::new().unprivileged().run(|| {
        stdout_of(
            sh("grep -E ' /(t|r|p) ' /proc/self/mountinfo | awk '{print $5, $6, $NF}' | sort")
                .mount(
                    Mount::tmpfs("/t")
                        .option("size", "8k")
                        .option("nr_inodes", "16"),
                )
                .mount(Mount::tmpfs("/r").read_only())
                .mount(Mount::proc("/p").option("hidepid", "2")),
        )
    });
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with("/p ") && lines[0].contains("hidepid=invisible"),
        "{out}"
    );
    assert!(lines[1].starts_with("/r ro,"), "{out}");
    assert!(lines[2].starts_with("/t rw,"), "{out}");
    assert!(
        lines[2].contains("size=8k") && lines[2].contains("nr_inodes=16"),
        "{out}"
    );
}

#[test]
fn missing_program_is_looked_up_inside_the_root() {
    require!(Feature::UserNs);
    let err = Fork::new().unprivileged().run(|| {
        sh("true")
            .arg("x")
            .spawn()
            .map(drop)
            .and_then(|()| {
                Container::builder("linception-no-such-program")
                    .root(RootFs::Tmpfs)
                    .mounts(Mount::host_system())
                    .spawn()
                    .map(drop)
            })
            .unwrap_err()
            .to_string()
    });
    assert!(
        err.starts_with("execve(\"linception-no-such-program\"), looked up in PATH"),
        "{err}"
    );
    assert!(
        err.contains("inside the container's root: No such file or directory (ENOENT)"),
        "{err}"
    );
}
