//! The process knobs (limits, umask, OOM score, parent-death signal, personality,
//! terminal), observed from inside a real container as root and rootless, and
//! every refused value leaving nothing behind.

mod common;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use common::{NS, assert_no_children, sh, stdout_of};
use linception::{
    Container, ContainerBuilder, Mount, Namespaces, Personality, RLIM_INFINITY, Resource, Signal,
    Terminal,
};
use linception_testkit::leaks::assert_no_leaks;
use linception_testkit::{Feature, Fork, require};

/// Whether the caller has `CAP_SYS_RESOURCE` (root on some hosts does not: a
/// bounding set without it).
fn cap_sys_resource() -> bool {
    rustix::thread::capabilities(None).is_ok_and(|c| {
        c.effective
            .contains(rustix::thread::CapabilitySet::SYS_RESOURCE)
    })
}

/// The caller's (soft, hard) limit of `r`, `RLIM_INFINITY` for none.
fn own_limit(r: Resource) -> (u64, u64) {
    let l = rustix::process::getrlimit(rustix_resource(r));
    (
        l.current.unwrap_or(RLIM_INFINITY),
        l.maximum.unwrap_or(RLIM_INFINITY),
    )
}

fn rustix_resource(r: Resource) -> rustix::process::Resource {
    use rustix::process::Resource as R;
    [
        R::Cpu,
        R::Fsize,
        R::Data,
        R::Stack,
        R::Core,
        R::Rss,
        R::Nproc,
        R::Nofile,
        R::Memlock,
        R::As,
        R::Locks,
        R::Sigpending,
        R::Msgqueue,
        R::Nice,
        R::Rtprio,
        R::Rttime,
    ][Resource::ALL.iter().position(|x| *x == r).unwrap()]
}

/// `/proc/self/limits` of a container: (soft, hard) of each resource, in the
/// kernel's order (the order of [`Resource::ALL`]).
fn limits_inside(b: ContainerBuilder) -> Vec<(u64, u64)> {
    let out = stdout_of(b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 17, "{out}");
    lines[1..]
        .iter()
        .map(|l| {
            // "Max open files            1024                 4096                 files"
            let v: Vec<u64> = l[26..]
                .split_whitespace()
                .take(2)
                .map(|s| {
                    if s == "unlimited" {
                        RLIM_INFINITY
                    } else {
                        s.parse().unwrap()
                    }
                })
                .collect();
            (v[0], v[1])
        })
        .collect()
}

/// A limit for each resource that the program can live with, at most the
/// caller's hard limit: (resource, soft, hard).
fn lowered_limits() -> Vec<(Resource, u64, u64)> {
    Resource::ALL
        .iter()
        .map(|&r| {
            let want: u64 = match r {
                Resource::Cpu => 10_000,
                Resource::Fsize | Resource::Data | Resource::Rss | Resource::As => 1 << 40,
                Resource::Stack => 8 << 20,
                Resource::Core => 0,
                Resource::Nproc | Resource::Locks | Resource::Sigpending => 10_000,
                Resource::Nofile => 512,
                Resource::Memlock | Resource::Msgqueue => 1 << 20,
                Resource::Nice | Resource::Rtprio => 0,
                Resource::Rttime => 1 << 30,
                _ => unreachable!(),
            };
            let (_, own_hard) = own_limit(r);
            let hard = (want.saturating_mul(2)).min(own_hard);
            (r, want.min(hard), hard)
        })
        .collect()
}

/// Every resource set at once is what the kernel shows inside, resource by
/// resource.
fn every_rlimit_shows_inside() {
    let wanted = lowered_limits();
    let mut b = sh("cat /proc/self/limits");
    for &(r, soft, hard) in &wanted {
        b = b.rlimit(r, soft, hard);
    }
    let inside = limits_inside(b);
    for (i, &(r, soft, hard)) in wanted.iter().enumerate() {
        assert_eq!(inside[i], (soft, hard), "{}", r.name());
    }
    // RLIM_INFINITY as a soft limit under an infinite hard one, where the caller
    // has no hard limit on the CPU time.
    if own_limit(Resource::Cpu).1 == RLIM_INFINITY {
        let inside = limits_inside(sh("cat /proc/self/limits").rlimit(
            Resource::Cpu,
            RLIM_INFINITY,
            RLIM_INFINITY,
        ));
        assert_eq!(inside[0], (RLIM_INFINITY, RLIM_INFINITY));
    }
}

#[test]
fn rlimits_inside_as_root() {
    require!(Feature::Root, Feature::UserNs);
    every_rlimit_shows_inside();
    // Root raises a hard limit above its own even for a container in a new user
    // namespace (the parent sets it, with CAP_SYS_RESOURCE in the initial one).
    let (_, own) = own_limit(Resource::Nofile);
    let nr_open: u64 = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let raised = (own + 1).min(nr_open);
    let b = sh("cat /proc/self/limits").rlimit(Resource::Nofile, 64, raised);
    if cap_sys_resource() {
        let inside = limits_inside(b);
        assert_eq!(inside[Resource::Nofile as usize], (64, raised));
    } else {
        // Root without CAP_SYS_RESOURCE is refused up front, by name.
        println!("root has no CAP_SYS_RESOURCE here: raising a hard limit is refused");
        let e = b.spawn().expect_err("refused without CAP_SYS_RESOURCE");
        assert_eq!(e.kind(), linception::ErrorKind::PermissionDenied, "{e}");
        assert!(e.to_string().contains("CAP_SYS_RESOURCE"), "{e}");
    }
    // Without a user namespace (the child then waits for the parent all the same).
    let inside = limits_inside(sh("cat /proc/self/limits").share(Namespaces::USER).rlimit(
        Resource::Core,
        0,
        0,
    ));
    assert_eq!(inside[Resource::Core as usize], (0, 0));
}

#[test]
fn rlimits_inside_rootless() {
    require!(Feature::UnprivilegedUserNs);
    Fork::new().unprivileged().run(every_rlimit_shows_inside);
}

fn umask_and_personality() -> String {
    stdout_of(
        sh("umask; cat /proc/self/personality; uname -m")
            .umask(0o027)
            .personality(Personality::LINUX32 | Personality::ADDR_NO_RANDOMIZE),
    )
}

fn check_umask_and_personality(out: &str) {
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0027", "{out}");
    assert_eq!(lines[1], "00040008", "{out}");
    if cfg!(target_arch = "x86_64") {
        assert_eq!(lines[2], "i686", "{out}");
    }
}

#[test]
fn umask_and_personality_as_root() {
    require!(Feature::Root, Feature::UserNs);
    check_umask_and_personality(&umask_and_personality());
}

#[test]
fn umask_and_personality_rootless() {
    require!(Feature::UnprivilegedUserNs);
    let out = Fork::new().unprivileged().run(umask_and_personality);
    check_umask_and_personality(&out);
}

#[test]
fn umask_and_personality_in_exec_in() {
    require!(Feature::UserNs);
    let c = sh("sleep 100").spawn().unwrap();
    let mut e = c
        .exec_in(
            Container::builder("/bin/sh")
                .args(["-c", "umask; cat /proc/self/personality"])
                .umask(0o077)
                .personality(Personality::ADDR_NO_RANDOMIZE)
                .stdout(linception::Stdio::Piped),
        )
        .unwrap();
    let mut out = String::new();
    e.take_stdout().unwrap().read_to_string(&mut out).unwrap();
    assert!(e.wait().unwrap().success());
    assert_eq!(out, "0077\n00040000\n");
}

fn oom_score_inside(adj: i32) -> String {
    stdout_of(sh("cat /proc/self/oom_score_adj").oom_score_adj(adj))
}

#[test]
fn oom_score_adj_as_root() {
    require!(Feature::Root, Feature::UserNs);
    // Lowering needs CAP_SYS_RESOURCE in the initial user namespace: the parent has
    // it, the container (in a new user namespace) would not.
    let own: i32 = std::fs::read_to_string("/proc/self/oom_score_adj")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let lower = (own - 500).max(-1000);
    if cap_sys_resource() {
        assert_eq!(oom_score_inside(lower), format!("{lower}\n"));
    } else {
        println!("root has no CAP_SYS_RESOURCE here: lowering the OOM score is refused");
        let e = sh("true")
            .oom_score_adj(lower)
            .spawn()
            .expect_err("refused without CAP_SYS_RESOURCE");
        assert_eq!(e.kind(), linception::ErrorKind::PermissionDenied, "{e}");
    }
    let higher = (own + 700).min(1000);
    assert_eq!(oom_score_inside(higher), format!("{higher}\n"));
    // Without a user namespace the child waits for the parent all the same.
    let out = stdout_of(
        sh("cat /proc/self/oom_score_adj")
            .share(Namespaces::USER)
            .oom_score_adj(higher),
    );
    assert_eq!(out, format!("{higher}\n"));
}

#[test]
fn oom_score_adj_rootless() {
    require!(Feature::UnprivilegedUserNs);
    let out = Fork::new().unprivileged().run(|| {
        let own: i32 = std::fs::read_to_string("/proc/self/oom_score_adj")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let up = (own + 300).min(1000);
        (up, oom_score_inside(up))
    });
    assert_eq!(out.1, format!("{}\n", out.0));
}

/// Reads the container's "up" (it runs) from the pipe.
fn wait_up(r: OwnedFd) {
    let mut up = [0u8; 3];
    std::fs::File::from(r).read_exact(&mut up).unwrap();
    assert_eq!(&up, b"up\n");
}

/// The container prints "up" on a pipe and sleeps; the process that spawned it
/// exits. Returns how long the pipe took to reach EOF (every writer gone), or
/// None if it did not within 10 s.
fn container_outlives_its_parent(pdeathsig: bool, unprivileged: bool) -> Option<Duration> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let r2 = r.try_clone().unwrap();
    let fork = if unprivileged {
        Fork::new().unprivileged()
    } else {
        Fork::new()
    };
    fork.run(move || {
        let mut b = sh("echo up; exec sleep 20").stdout(w);
        if pdeathsig {
            b = b.parent_death_signal(Signal::KILL);
        }
        let c = b.spawn().unwrap();
        // The container is not killed with its handle: only the signal ends it.
        std::mem::forget(c);
        wait_up(r2);
    });
    let pipe = std::fs::File::from(r);
    let start = Instant::now();
    let fd = std::os::fd::AsFd::as_fd(&pipe);
    let mut pfd = [rustix::event::PollFd::new(
        &fd,
        rustix::event::PollFlags::IN,
    )];
    let timeout = rustix::time::Timespec {
        tv_sec: 10,
        tv_nsec: 0,
    };
    let n = rustix::event::poll(&mut pfd, Some(&timeout)).unwrap();
    if n == 0 {
        return None;
    }
    let mut rest = Vec::new();
    (&pipe).read_to_end(&mut rest).unwrap();
    Some(start.elapsed())
}

#[test]
fn parent_death_signal_as_root() {
    require!(Feature::Root, Feature::UserNs);
    let took = container_outlives_its_parent(true, false);
    assert!(
        took.is_some_and(|t| t < Duration::from_secs(5)),
        "the container outlived its parent: {took:?}"
    );
}

#[test]
fn parent_death_signal_rootless() {
    require!(Feature::UnprivilegedUserNs);
    let took = container_outlives_its_parent(true, true);
    assert!(
        took.is_some_and(|t| t < Duration::from_secs(5)),
        "the container outlived its parent: {took:?}"
    );
}

#[test]
fn without_parent_death_signal_the_container_outlives_its_parent() {
    require!(Feature::UserNs);
    // The default: no signal, the container goes on (and is then killed here, not
    // left behind: `sleep 20` would end by itself, but no test waits for that).
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let r2 = r.try_clone().unwrap();
    let (pidfd_r, pidfd_w) = std::os::unix::net::UnixStream::pair().unwrap();
    Fork::new().run(move || {
        let c = sh("echo up; exec sleep 20").stdout(w).spawn().unwrap();
        linception::seccomp_notify::send_fd(&pidfd_w, std::os::fd::AsFd::as_fd(c.pidfd())).unwrap();
        std::mem::forget(c);
        wait_up(r2);
    });
    let pidfd = linception::PidFd::from(linception::seccomp_notify::recv_fd(&pidfd_r).unwrap());
    let mut pipe = std::fs::File::from(r);
    std::thread::sleep(Duration::from_millis(300));
    let alive = pidfd.is_alive().unwrap();
    let _ = pidfd.send_signal(Signal::KILL);
    assert!(alive, "the container died with its parent without a signal");
    let mut rest = Vec::new();
    pipe.read_to_end(&mut rest).unwrap();
}

/// What a shell on the container's terminal prints: its tty, tty_nr, and the
/// line it read from the master.
const TTY_SCRIPT: &str = "tty; read -r _ _ _ _ _ _ nr _ < /proc/self/stat; echo tty_nr=$nr; \
                          read -r line; echo got:$line";

fn tty_builder() -> ContainerBuilder {
    sh(TTY_SCRIPT).mount(Mount::dev("/dev"))
}

/// Writes a line to the master and reads everything the program prints until
/// the terminal closes (EIO once the last peer fd is gone).
fn drive(master: OwnedFd) -> String {
    let mut m = std::fs::File::from(master);
    m.write_all(b"hello\n").unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match m.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
            Err(e) => panic!("read(master): {e}"),
        }
    }
    String::from_utf8_lossy(&out).replace('\r', "")
}

fn check_tty(out: &str) {
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"/dev/pts/0"), "{out}");
    let nr: u64 = lines
        .iter()
        .find_map(|l| l.strip_prefix("tty_nr="))
        .unwrap_or_else(|| panic!("no tty_nr: {out}"))
        .parse()
        .unwrap();
    // Major 136 (the first Unix98 pty major), minor 0.
    assert_eq!(nr >> 8, 136, "tty_nr {nr:#x}: {out}");
    assert!(lines.contains(&"got:hello"), "{out}");
}

fn terminal_to_the_handle() -> String {
    let mut c = tty_builder().terminal(Terminal::Handle).spawn().unwrap();
    let master = c.take_terminal().expect("the master");
    assert!(c.take_terminal().is_none());
    let out = drive(master);
    assert!(c.wait().unwrap().success(), "{out}");
    out
}

#[test]
fn terminal_as_root() {
    require!(Feature::Root, Feature::UserNs, Feature::MountApi);
    check_tty(&Fork::new().run(terminal_to_the_handle));
}

#[test]
fn terminal_rootless() {
    require!(Feature::UnprivilegedUserNs, Feature::MountApi);
    check_tty(&Fork::new().unprivileged().run(terminal_to_the_handle));
}

fn terminal_over_a_console_socket() -> String {
    let dir = common::TempDir::new("console");
    let path = dir.0.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let mut c = tty_builder()
        .terminal(Terminal::ConsoleSocket(path))
        .spawn()
        .unwrap();
    assert!(c.take_terminal().is_none(), "the master went to the socket");
    let (conn, _) = listener.accept().unwrap();
    let master = linception::seccomp_notify::recv_fd(&conn).unwrap();
    let out = drive(master);
    assert!(c.wait().unwrap().success(), "{out}");
    out
}

#[test]
fn terminal_console_socket_as_root() {
    require!(Feature::Root, Feature::UserNs, Feature::MountApi);
    check_tty(&Fork::new().run(terminal_over_a_console_socket));
}

#[test]
fn terminal_console_socket_rootless() {
    require!(Feature::UnprivilegedUserNs, Feature::MountApi);
    check_tty(
        &Fork::new()
            .unprivileged()
            .run(terminal_over_a_console_socket),
    );
}

/// `exec_in` with a terminal of the container's devpts (the master to the handle)
/// and resource limits: returns what the terminal showed and the limits it saw.
fn exec_in_with_a_terminal_and_limits() -> (String, String) {
    let c = sh("exec sleep 100")
        .mount(Mount::dev("/dev"))
        .spawn()
        .unwrap();
    let mut e = c
        .exec_in(
            Container::builder("/bin/sh")
                .args(["-c", TTY_SCRIPT])
                .terminal(Terminal::Handle),
        )
        .unwrap();
    let out = drive(e.take_terminal().expect("the master"));
    assert!(e.wait().unwrap().success(), "{out}");
    let limited = Container::builder("/bin/sh")
        .args(["-c", "echo $(ulimit -Sn) $(ulimit -Hn)"])
        .rlimit(Resource::Nofile, 100, 200)
        .stdout(linception::Stdio::Piped);
    let mut l = c.exec_in(limited).unwrap();
    let mut limits = String::new();
    l.take_stdout()
        .unwrap()
        .read_to_string(&mut limits)
        .unwrap();
    assert!(l.wait().unwrap().success());
    // A hard limit above the caller's is refused by name (the joined user namespace
    // may not raise it), before anything runs.
    let own = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    if let Some(max) = own.maximum {
        let err = c
            .exec_in(Container::builder("/bin/true").rlimit(Resource::Nofile, 10, max + 1))
            .unwrap_err();
        assert!(err.to_string().contains("hard rlimit"), "{err}");
    }
    (out, limits)
}

#[test]
fn exec_in_with_a_terminal_and_limits_as_root() {
    require!(Feature::Root, Feature::UserNs, Feature::MountApi);
    let (out, limits) = Fork::new().run(exec_in_with_a_terminal_and_limits);
    check_tty(&out);
    assert_eq!(limits.trim(), "100 200");
}

#[test]
fn exec_in_with_a_terminal_and_limits_rootless() {
    require!(Feature::UnprivilegedUserNs, Feature::MountApi);
    let (out, limits) = Fork::new()
        .unprivileged()
        .run(exec_in_with_a_terminal_and_limits);
    check_tty(&out);
    assert_eq!(limits.trim(), "100 200");
}

/// Spawns in a forked child under a leak check; returns the error's kind and text.
fn refusal(unprivileged: bool, build: impl FnOnce() -> ContainerBuilder) -> (String, String) {
    let fork = if unprivileged {
        Fork::new().unprivileged()
    } else {
        Fork::new()
    };
    fork.run(|| {
        let b = build();
        let err = assert_no_leaks(|| b.spawn().expect_err("spawn should fail"));
        assert_no_children();
        assert_eq!(err.step(), None, "refused before the child: {err}");
        (format!("{:?}", err.kind()), err.to_string())
    })
}

#[test]
fn bad_values_are_refused_and_leave_nothing() {
    require!(Feature::UserNs);
    // (builder, error kind, text in the message)
    type Case = (fn() -> ContainerBuilder, &'static str, &'static str);
    let cases: Vec<Case> = vec![
        (
            || sh("true").rlimit(Resource::Nofile, 100, 10),
            "InvalidArgument",
            "soft limit is above the hard limit",
        ),
        (
            || {
                sh("true")
                    .rlimit(Resource::Core, 0, 0)
                    .rlimit(Resource::Core, 0, 0)
            },
            "InvalidArgument",
            "given twice",
        ),
        (
            || sh("true").rlimit(Resource::Nofile, 1, RLIM_INFINITY),
            "InvalidArgument",
            "fs.nr_open",
        ),
        (|| sh("true").umask(0o1777), "InvalidArgument", "0o777"),
        (
            || sh("true").oom_score_adj(-1001),
            "InvalidArgument",
            "-1000..=1000",
        ),
        (
            || sh("true").personality(Personality::from_bits_retain(u32::MAX)),
            "InvalidArgument",
            "0xffffffff",
        ),
        (
            || sh("true").parent_death_signal(Signal::NULL),
            "InvalidArgument",
            "standard signal",
        ),
        (
            || sh("true").terminal(Terminal::Handle),
            "InvalidArgument",
            "without Mount::dev(\"/dev\")",
        ),
        (
            // A devpts of Mount::filesystem is nodev: its ptmx cannot be opened.
            || {
                sh("true")
                    .mount(Mount::dir("/dev"))
                    .mount(Mount::filesystem("devpts", "/dev/pts"))
                    .terminal(Terminal::Handle)
            },
            "InvalidArgument",
            "without Mount::dev(\"/dev\")",
        ),
        (
            || {
                Container::builder("/bin/sh")
                    .namespaces(NS)
                    .terminal(Terminal::Handle)
            },
            "InvalidArgument",
            "without a root",
        ),
        (
            || {
                tty_builder()
                    .terminal(Terminal::Handle)
                    .stdin(linception::Stdio::Null)
            },
            "InvalidArgument",
            "stdin() with terminal()",
        ),
        (
            || tty_builder().terminal(Terminal::ConsoleSocket("/nonexistent/console.sock".into())),
            "Os",
            "connect(console socket \"/nonexistent/console.sock\"): No such file or directory",
        ),
    ];
    for unprivileged in [false, true] {
        for (build, kind, text) in &cases {
            let (k, t) = refusal(unprivileged, *build);
            assert_eq!(&k, kind, "{t}");
            assert!(t.contains(text), "{t}");
        }
    }
}

#[test]
fn rootless_privilege_refusals_leave_nothing() {
    require!(Feature::UnprivilegedUserNs);
    // A hard limit above the caller's own, and an OOM score below it.
    let (kind, text) = refusal(true, || {
        let (_, hard) = own_limit(Resource::Nofile);
        sh("true").rlimit(Resource::Nofile, 1, hard + 1)
    });
    assert_eq!(kind, "PermissionDenied", "{text}");
    assert!(text.contains("CAP_SYS_RESOURCE"), "{text}");
    let (kind, text) = refusal(true, || {
        let own: i32 = std::fs::read_to_string("/proc/self/oom_score_adj")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        sh("true").oom_score_adj(own - 1)
    });
    assert_eq!(kind, "PermissionDenied", "{text}");
    assert!(text.contains("oom_score_adj"), "{text}");
}

#[test]
fn exec_in_refuses_the_parent_side_knobs() {
    require!(Feature::UserNs);
    let c = sh("sleep 100").spawn().unwrap();
    // Limits and a terminal the joining child sets itself (see
    // exec_in_with_a_terminal_and_limits); these only the parent could.
    let above = rustix::process::getrlimit(rustix::process::Resource::Core)
        .maximum
        .map(|m| m + 1);
    let mut cases = vec![(
        Container::builder("/bin/true").oom_score_adj(500),
        "oom_score_adj",
    )];
    if let Some(hard) = above {
        cases.push((
            Container::builder("/bin/true").rlimit(Resource::Core, 0, hard),
            "a hard rlimit above the caller's",
        ));
    }
    for (b, what) in cases {
        let e = c.exec_in(b).expect_err("refused");
        assert_eq!(
            e.to_string(),
            format!(
                "invalid exec_in with {what}: exec_in joins the container's own namespaces, \
                 root and maps"
            )
        );
    }
}

#[test]
fn a_low_fd_limit_leaves_the_setup_alone() {
    require!(Feature::UserNs, Feature::MountApi);
    // The limits apply to the program, not to the setup (which opens a few mount
    // fds of its own): set after it, just before execve.
    let inside = limits_inside(
        sh("cat /proc/self/limits")
            .mount(Mount::dev("/dev"))
            .mount(Mount::tmpfs("/tmp"))
            .rlimit(Resource::Nofile, 4, 4),
    );
    assert_eq!(inside[Resource::Nofile as usize], (4, 4));
}
