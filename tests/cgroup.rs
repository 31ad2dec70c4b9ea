//! cgroup v2 resources, freeze/thaw, live updates and stats, observed on real
//! containers; every refused value leaves no cgroup, fd, mount or process behind.
//!
//! Every cgroup a test makes is a child of the host's cgroup v2 root, named after
//! the test and the test process, and removed again (by the container handle at
//! reap, or by a guard), also when an assertion fails first.

mod common;

use std::io::Write as _;
use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{assert_no_children, sh};
use linception::{BlockDevice, Cgroup, ErrorKind, IoMax, Limit, Mount, Resources, Stdio};
use linception_testkit::leaks::assert_no_leaks;
use linception_testkit::{Feature, Fork, require};

/// The host's cgroup v2 mount.
const ROOT: &str = "/sys/fs/cgroup/unified";

/// A cgroup path for this test and this test process.
fn cg_path(test: &str) -> String {
    format!("{ROOT}/linception-{test}-{}", std::process::id())
}

/// Whether the host's cgroup v2 root delegates `controller` to its children.
///
/// This is the host's cgroup layout, not a kernel feature: on this machine cpu,
/// memory, pids and io are mounted on cgroup v1, so the cgroup2 tree cannot have
/// them, and hugetlb is left out of the root's `cgroup.subtree_control`, which a
/// test may not change. So the success path of such a controller prints
/// `SKIP: no <controller> controller on this host's cgroup2` and returns, even
/// under `LINCEPTION_REQUIRE_ALL=1`; its refusal is tested instead
/// (`controllers_missing_from_cgroup2_are_refused_by_name`).
fn cgroup2_delegates(controller: &str) -> bool {
    let list = std::fs::read_to_string(format!("{ROOT}/cgroup.subtree_control")).unwrap();
    if list.split_whitespace().any(|c| c == controller) {
        return true;
    }
    println!(
        "SKIP: no {controller} controller on this host's cgroup2 \
         (not in {ROOT}/cgroup.subtree_control: the host's cgroup layout)"
    );
    false
}

/// Removes a cgroup directory the test made itself, when dropped.
struct RmdirGuard(String);

impl Drop for RmdirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Spawns in a forked child (unprivileged if asked) under a leak check and
/// returns the error's kind and text.
fn refused(
    unprivileged: bool,
    build: impl FnOnce() -> linception::ContainerBuilder,
) -> (ErrorKind, String) {
    let fork = if unprivileged {
        Fork::new().unprivileged()
    } else {
        Fork::new()
    };
    let (kind, text) = fork.run(|| {
        let b = build();
        let err = assert_no_leaks(|| b.spawn().expect_err("spawn should fail"));
        assert_no_children();
        assert_eq!(
            err.step(),
            None,
            "refused in the child, not up front: {err}"
        );
        (format!("{:?}", err.kind()), err.to_string())
    });
    let kind = match kind.as_str() {
        "InvalidArgument" => ErrorKind::InvalidArgument,
        "PermissionDenied" => ErrorKind::PermissionDenied,
        other => panic!("unexpected kind {other}: {text}"),
    };
    (kind, text)
}

/// Reads what arrives on `fd` for `dur` (the fd is non-blocking).
fn read_for(fd: &impl AsFd, dur: Duration) -> String {
    let deadline = Instant::now() + dur;
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let mut fds = [rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
        let ts = rustix::time::Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: left.subsec_nanos() as i64,
        };
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => continue,
            Ok(_) => {}
            Err(e) => panic!("poll: {e}"),
        }
        let mut buf = [0u8; 4096];
        match rustix::io::read(fd, &mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(rustix::io::Errno::AGAIN) => {}
            Err(e) => panic!("read: {e}"),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads until the text ends with `end` (at most 20 s).
fn read_until(fd: &impl AsFd, end: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut text = String::new();
    while !text.ends_with(end) && Instant::now() < deadline {
        text += &read_for(fd, Duration::from_millis(20));
    }
    text
}

fn set_nonblocking(fd: &impl AsFd) {
    let fl = rustix::fs::fcntl_getfl(fd).unwrap();
    rustix::fs::fcntl_setfl(fd, fl | rustix::fs::OFlags::NONBLOCK).unwrap();
}

fn read_file(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path:?}: {e}"))
}

fn usage_usec(dir: &str) -> u64 {
    read_file(format!("{dir}/cpu.stat"))
        .lines()
        .find_map(|l| l.strip_prefix("usage_usec ")?.trim().parse().ok())
        .expect("usage_usec in cpu.stat")
}

/// Two processes (the shell and a subshell) printing `a` and `b` every 20 ms.
const TICKER: &str =
    "(while :; do echo b; sleep 0.02; done) & while :; do echo a; sleep 0.02; done";

/// `sh -c script` with a `/dev` (the shell starts background jobs on /dev/null).
fn sh_dev(script: &str) -> linception::ContainerBuilder {
    sh(script).mount(Mount::dev("/dev"))
}

#[test]
fn pause_and_resume_freeze_and_thaw_every_process() {
    require!(Feature::Root, Feature::CloneIntoCgroup);
    let path = cg_path("freeze");
    let mut c = sh_dev(TICKER)
        .cgroup(Cgroup::new(&path))
        .stdout(Stdio::Piped)
        .spawn()
        .unwrap();
    assert_eq!(c.cgroup_path(), Some(Path::new(&path)));
    let out = c.take_stdout().unwrap();
    set_nonblocking(&out);
    let before = read_for(&out, Duration::from_millis(300));
    assert!(
        before.contains('a') && before.contains('b'),
        "both processes print: {before:?}"
    );

    c.pause().unwrap();
    // The kernel's own view: asked to freeze, and every task frozen.
    assert_eq!(read_file(format!("{path}/cgroup.freeze")).trim(), "1");
    assert!(
        read_file(format!("{path}/cgroup.events")).contains("frozen 1"),
        "cgroup.events after pause"
    );
    let _ = read_for(&out, Duration::from_millis(50)); // printed before the freeze
    let cpu = usage_usec(&path);
    let frozen = read_for(&out, Duration::from_millis(300));
    assert_eq!(frozen, "", "a frozen container printed");
    assert_eq!(usage_usec(&path), cpu, "a frozen cgroup used CPU time");
    let stats = c.cgroup_stats().unwrap();
    assert_eq!(stats.cpu.usage_usec, cpu, "{stats:?}");
    // Pausing twice is not an error.
    c.pause().unwrap();

    c.resume().unwrap();
    assert_eq!(read_file(format!("{path}/cgroup.freeze")).trim(), "0");
    assert!(read_file(format!("{path}/cgroup.events")).contains("frozen 0"));
    let after = read_for(&out, Duration::from_millis(300));
    assert!(
        after.contains('a') && after.contains('b'),
        "both processes print again: {after:?}"
    );

    // A frozen container can still be killed, and its cgroup is removed at reap.
    c.pause().unwrap();
    c.kill().unwrap();
    let st = c.wait().unwrap();
    assert_eq!(st.signal(), Some(linception::Signal::KILL), "{st:?}");
    assert!(!Path::new(&path).exists(), "cgroup not removed at reap");
    assert_eq!(c.cgroup_path(), None);
    let err = c.pause().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.to_string().contains("has exited"), "{err}");
}

#[test]
fn exec_in_places_the_process_in_the_containers_cgroup() {
    require!(Feature::Root, Feature::CloneIntoCgroup);
    let path = cg_path("exec-in");
    let mut c = sh_dev("exec sleep 100")
        .cgroup(Cgroup::new(&path))
        .spawn()
        .unwrap();
    let mut e = c
        .exec_in(
            linception::Container::builder("/bin/sleep")
                .arg("100")
                .stdout(Stdio::Null),
        )
        .unwrap();
    let procs = read_file(format!("{path}/cgroup.procs"));
    let pids: Vec<&str> = procs.lines().collect();
    assert!(pids.contains(&c.pid().to_string().as_str()), "{procs}");
    assert!(pids.contains(&e.pid().to_string().as_str()), "{procs}");
    assert_eq!(pids.len(), 2, "{procs}");
    e.kill().unwrap();
    e.wait().unwrap();
    c.kill().unwrap();
    c.wait().unwrap();
    assert!(!Path::new(&path).exists(), "the cgroup is removed at reap");
}

#[test]
fn cgroup_stats_match_the_kernels_files() {
    require!(Feature::Root, Feature::CloneIntoCgroup);
    let path = cg_path("stats");
    // Busy for a while, then idle until killed.
    let mut c = sh("i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done; echo done; sleep 60")
        .cgroup(Cgroup::new(&path))
        .stdout(Stdio::Piped)
        .spawn()
        .unwrap();
    let out = c.take_stdout().unwrap();
    set_nonblocking(&out);
    assert_eq!(read_until(&out, "done\n"), "done\n");
    // Idle now: the stats equal the file the kernel shows.
    let first = usage_usec(&path);
    let stats = c.cgroup_stats().unwrap();
    let last = usage_usec(&path);
    assert!(first > 0, "a busy loop used no CPU time");
    assert!(
        (first..=last).contains(&stats.cpu.usage_usec),
        "{first} <= {} <= {last}",
        stats.cpu.usage_usec
    );
    assert!(
        stats.cpu.user_usec + stats.cpu.system_usec <= stats.cpu.usage_usec + 1000,
        "{stats:?}"
    );
    // memory.current and pids.current exist only with their controller.
    let enabled = read_file(format!("{path}/cgroup.controllers"));
    for (controller, value) in [
        ("memory", stats.memory_current),
        ("pids", stats.pids_current),
    ] {
        let has = enabled.split_whitespace().any(|c| c == controller);
        assert_eq!(value.is_some(), has, "{controller}: {stats:?}");
    }
    if let Some(pids) = stats.pids_current {
        assert!(pids >= 2, "the shell and its sleep: {pids}");
    }
    c.kill().unwrap();
    c.wait().unwrap();
    assert!(!Path::new(&path).exists(), "cgroup not removed at reap");
}

/// A container without a cgroup: pause, resume, update and stats are refused by
/// name, before and after reap.
fn no_cgroup_is_refused() {
    let mut c = sh("sleep 30").spawn().unwrap();
    assert_eq!(c.cgroup_path(), None);
    let pid = c.pid().as_raw();
    let refusals = [
        ("pause", c.pause().unwrap_err()),
        ("resume", c.resume().unwrap_err()),
        (
            "update",
            c.update(&Resources::new().pids_max(5u64)).unwrap_err(),
        ),
        ("cgroup stats", c.cgroup_stats().unwrap_err()),
    ];
    for (op, err) in refusals {
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        let text = err.to_string();
        assert!(
            text.contains(&format!("{op} of container {pid}"))
                && text.contains("started without a cgroup"),
            "{text}"
        );
    }
    c.kill().unwrap();
    c.wait().unwrap();
    let err = c.update(&Resources::new()).unwrap_err();
    assert!(err.to_string().contains("has exited"), "{err}");
}

#[test]
fn a_container_without_a_cgroup_refuses_pause_update_and_stats_as_root() {
    require!(Feature::Root, Feature::UserNs);
    Fork::new().run(no_cgroup_is_refused);
}

#[test]
fn a_container_without_a_cgroup_refuses_pause_update_and_stats_rootless() {
    require!(Feature::UnprivilegedUserNs);
    Fork::new().unprivileged().run(no_cgroup_is_refused);
}

#[test]
fn rootless_callers_are_refused_a_cgroup_they_cannot_write() {
    // Creating a cgroup under the host's root needs write access to it, which
    // only a cgroup delegated to the user would give: refused up front, naming the
    // path, with nothing created.
    let path = cg_path("rootless");
    for r in [Resources::new(), Resources::new().pids_max(8u64)] {
        let p = path.clone();
        let (kind, text) = refused(true, move || {
            sh("true").cgroup(Cgroup::new(&p).resources(r))
        });
        assert_eq!(kind, ErrorKind::PermissionDenied, "{text}");
        assert!(
            text.contains(&format!("cgroup path {path:?}"))
                && text.contains("needs write access to its parent"),
            "{text}"
        );
        assert!(!Path::new(&path).exists(), "cgroup created");
    }
    // An existing cgroup of root's: starting in it needs its cgroup.procs.
    if linception_testkit::available(Feature::Root).is_err() {
        return;
    }
    let existing = cg_path("rootless-existing");
    std::fs::create_dir(&existing).unwrap();
    let _guard = RmdirGuard(existing.clone());
    let p = existing.clone();
    let (kind, text) = refused(true, move || sh("true").cgroup(Cgroup::new(&p)));
    assert_eq!(kind, ErrorKind::PermissionDenied, "{text}");
    assert!(text.contains("write access to its cgroup.procs"), "{text}");
    assert_eq!(
        read_file(format!("{existing}/cgroup.procs")),
        "",
        "a process was placed in the cgroup"
    );
}

/// Values out of the kernel's ranges, and what the error names.
fn out_of_range() -> Vec<(Resources, &'static str)> {
    vec![
        (Resources::new().pids_max(4_194_305u64), "pids.max 4194305"),
        (Resources::new().cpu_weight(0), "cpu.weight 0"),
        (Resources::new().cpu_weight(10_001), "cpu.weight 10001"),
        (Resources::new().io_weight(0), "io.weight 0"),
        (
            Resources::new().cpu_max(Limit::Max, 999),
            "cpu.max period 999",
        ),
        (
            Resources::new().cpu_max(Limit::Value(500), 100_000),
            "cpu.max quota 500",
        ),
        (
            Resources::new().cpuset_cpus([100_000]),
            "cpuset.cpus 100000",
        ),
        (
            Resources::new().cpuset_mems([100_000]),
            "cpuset.mems 100000",
        ),
        (
            Resources::new().io_max(IoMax::new(BlockDevice::new(4095, 1_000_000)).rbps(100u64)),
            "io.max device 4095:1000000",
        ),
        (
            Resources::new().io_max(IoMax::new(BlockDevice::new(1, 3))),
            "io.max \"1:3\"",
        ),
        (
            Resources::new().io_max(IoMax::new(BlockDevice::new(1, 3)).wbps(1u64)),
            "io.max \"1:3 wbps=1\"",
        ),
        (
            Resources::new().hugetlb_max(12345, 0u64),
            "hugetlb page size 12345",
        ),
    ]
}

#[test]
fn out_of_range_values_are_refused_before_anything_is_created() {
    let path = cg_path("range");
    for unprivileged in [false, true] {
        if !unprivileged && linception_testkit::available(Feature::Root).is_err() {
            continue;
        }
        for (r, needle) in out_of_range() {
            let p = path.clone();
            let (kind, text) = refused(unprivileged, move || {
                sh("true").cgroup(Cgroup::new(&p).resources(r))
            });
            assert_eq!(kind, ErrorKind::InvalidArgument, "{text}");
            assert!(
                text.contains(needle) && text.contains(&format!(" of cgroup {path:?}")),
                "{text:?} lacks {needle:?}"
            );
            assert!(!Path::new(&path).exists(), "{text}: cgroup created");
        }
    }
}

#[test]
fn controllers_missing_from_cgroup2_are_refused_by_name() {
    require!(Feature::Root, Feature::CloneIntoCgroup);
    let delegated = read_file(format!("{ROOT}/cgroup.subtree_control"));
    let huge = std::fs::read_dir("/sys/kernel/mm/hugepages")
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let kb: u64 = name
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            Some(kb << 10)
        });
    let mut cases = vec![
        (
            "memory",
            Resources::new().memory_max(64u64 << 20),
            "memory.max 67108864",
        ),
        (
            "memory",
            Resources::new().memory_high(Limit::Max),
            "memory.high max",
        ),
        (
            "memory",
            Resources::new().memory_low(4096u64),
            "memory.low 4096",
        ),
        ("memory", Resources::new().memory_min(0u64), "memory.min 0"),
        (
            "memory",
            Resources::new().memory_swap_max(0u64),
            "memory.swap.max 0",
        ),
        ("pids", Resources::new().pids_max(16u64), "pids.max 16"),
        ("cpu", Resources::new().cpu_weight(50), "cpu.weight 50"),
        (
            "cpu",
            Resources::new().cpu_max(Limit::Value(20_000), 100_000),
            "cpu.max 20000 100000",
        ),
        ("cpuset", Resources::new().cpuset_cpus([0]), "cpuset.cpus 0"),
        ("cpuset", Resources::new().cpuset_mems([0]), "cpuset.mems 0"),
        (
            "io",
            Resources::new().io_weight(100),
            "io.weight default 100",
        ),
    ];
    // A real block device of this host for io.max.
    if let Some(dev) = std::fs::read_dir("/sys/dev/block")
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| e.ok()?.file_name().into_string().ok())
    {
        let (a, b) = dev.split_once(':').unwrap();
        let d = BlockDevice::new(a.parse().unwrap(), b.parse().unwrap());
        cases.push((
            "io",
            Resources::new().io_max(IoMax::new(d).rbps(1u64 << 20)),
            "io.max",
        ));
    }
    if let Some(size) = huge {
        cases.push((
            "hugetlb",
            Resources::new().hugetlb_max(size, 0u64),
            "hugetlb.",
        ));
    }
    let path = cg_path("controllers");
    let mut tested = 0;
    for (controller, r, needle) in cases {
        if delegated.split_whitespace().any(|c| c == controller) {
            continue; // available here: its success path runs instead
        }
        let p = path.clone();
        let (kind, text) = refused(false, move || {
            sh("true").cgroup(Cgroup::new(&p).resources(r))
        });
        assert_eq!(kind, ErrorKind::InvalidArgument, "{text}");
        assert!(
            text.contains(needle)
                && text.contains(&format!("of cgroup {path:?}: no {controller} controller"))
                && text.contains("not enabled in the parent's cgroup.subtree_control"),
            "{text:?} lacks {needle:?}"
        );
        assert!(!Path::new(&path).exists(), "{text}: cgroup created");
        tested += 1;
    }
    println!("{tested} limits refused for want of their controller");
}

#[test]
fn live_updates_are_checked_first() {
    require!(Feature::Root, Feature::CloneIntoCgroup);
    let path = cg_path("update");
    let mut c = sh("sleep 60").cgroup(Cgroup::new(&path)).spawn().unwrap();
    let before: Vec<_> = std::fs::read_dir(&path)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    // Out of range: refused by name, nothing written.
    let err = c.update(&Resources::new().cpu_weight(0)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(
        err.to_string()
            .contains(&format!("cpu.weight 0 of cgroup {path:?}")),
        "{err}"
    );
    // A controller the cgroup lacks: named, against the cgroup's own list.
    let enabled = read_file(format!("{path}/cgroup.controllers"));
    if !enabled.split_whitespace().any(|c| c == "pids") {
        let err = c.update(&Resources::new().pids_max(4u64)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        assert!(
            err.to_string().contains("pids.max 4")
                && err.to_string().contains("no pids controller")
                && err
                    .to_string()
                    .contains("not in the cgroup's cgroup.controllers"),
            "{err}"
        );
    }
    let after: Vec<_> = std::fs::read_dir(&path)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after, "an update created a file");
    // An empty update is a no-op that succeeds.
    c.update(&Resources::new()).unwrap();
    c.kill().unwrap();
    c.wait().unwrap();
    assert!(!Path::new(&path).exists(), "cgroup not removed at reap");
}

/// Runs a container in a new cgroup with `spawn_with`, binding the cgroup at
/// `/cg`: the container prints each file of `files` (seen from inside), then
/// waits for a line on stdin, applies `update`, and prints them again. Returns
/// both readings.
fn limits_seen_inside(
    name: &str,
    spawn_with: Resources,
    update: Resources,
    files: &[&str],
) -> (String, String) {
    let path = cg_path(name);
    let cats: String = files.iter().map(|f| format!("cat /cg/{f}; ")).collect();
    let script = format!("{cats}echo --; read x; {cats}");
    let mut c = sh(&script)
        .cgroup(Cgroup::new(&path).resources(spawn_with))
        .mount(Mount::bind(&path, "/cg"))
        .stdin(Stdio::Piped)
        .stdout(Stdio::Piped)
        .spawn()
        .unwrap();
    let out = c.take_stdout().unwrap();
    set_nonblocking(&out);
    let first = read_until(&out, "--\n");
    c.update(&update).unwrap();
    c.take_stdin().unwrap().write_all(b"\n").unwrap();
    let second = read_for(&out, Duration::from_secs(2));
    assert!(c.wait().unwrap().success());
    assert!(!Path::new(&path).exists(), "cgroup not removed at reap");
    (first.replace("--\n", ""), second)
}

#[test]
fn memory_limits_inside_a_container() {
    require!(Feature::Root, Feature::CloneIntoCgroup);
    if !cgroup2_delegates("memory") {
        return;
    }
    let (first, second) = limits_seen_inside(
        "memory",
        Resources::new()
            .memory_max(64u64 << 20)
            .memory_high(32u64 << 20)
            .memory_low(1u64 << 20)
            .memory_min(4096u64),
        Resources::new()
            .memory_max(Limit::Max)
            .memory_high(Limit::Max),
        &["memory.max", "memory.high", "memory.low", "memory.min"],
    );
    assert_eq!(first, "67108864\n33554432\n1048576\n4096\n");
    assert_eq!(second, "max\nmax\n1048576\n4096\n");
}

#[test]
fn pids_limit_inside_a_container() {
    require!(Feature::Root, Feature::CloneIntoCgroup);
    if !cgroup2_delegates("pids") {
        return;
    }
    let (first, second) = limits_seen_inside(
        "pids",
        Resources::new().pids_max(16u64),
        Resources::new().pids_max(Limit::Max),
        &["pids.max"],
    );
    assert_eq!(first, "16\n");
    assert_eq!(second, "max\n");
}

#[test]
fn cpu_limits_inside_a_container() {
    require!(Feature::Root, Feature::CloneIntoCgroup);
    if !cgroup2_delegates("cpu") {
        return;
    }
    let (first, second) = limits_seen_inside(
        "cpu",
        Resources::new()
            .cpu_weight(50)
            .cpu_max(Limit::Value(20_000), 100_000),
        Resources::new().cpu_weight(200).cpu_max(Limit::Max, 50_000),
        &["cpu.weight", "cpu.max"],
    );
    assert_eq!(first, "50\n20000 100000\n");
    assert_eq!(second, "200\nmax 50000\n");
}

#[test]
fn cpuset_limits_inside_a_container() {
    require!(Feature::Root, Feature::CloneIntoCgroup);
    if !cgroup2_delegates("cpuset") {
        return;
    }
    let (first, second) = limits_seen_inside(
        "cpuset",
        Resources::new().cpuset_cpus([0]).cpuset_mems([0]),
        Resources::new().cpuset_cpus([]),
        &["cpuset.cpus", "cpuset.mems"],
    );
    assert_eq!(first, "0\n0\n");
    assert_eq!(second, "\n0\n");
}

#[test]
fn io_limits_inside_a_container() {
    require!(Feature::Root, Feature::CloneIntoCgroup);
    if !cgroup2_delegates("io") {
        return;
    }
    let dev = std::fs::read_dir("/sys/dev/block")
        .unwrap()
        .find_map(|e| e.ok()?.file_name().into_string().ok())
        .expect("a block device");
    let (a, b) = dev.split_once(':').unwrap();
    let d = BlockDevice::new(a.parse().unwrap(), b.parse().unwrap());
    let (first, second) = limits_seen_inside(
        "io",
        Resources::new().io_max(IoMax::new(d).rbps(1u64 << 20).wiops(100u64)),
        Resources::new().io_max(IoMax::new(d).rbps(Limit::Max)),
        &["io.max"],
    );
    assert_eq!(
        first,
        format!("{d} rbps=1048576 wbps=max riops=max wiops=100\n")
    );
    assert_eq!(
        second,
        format!("{d} rbps=max wbps=max riops=max wiops=100\n")
    );
}

#[test]
fn hugetlb_limit_inside_a_container() {
    require!(Feature::Root, Feature::CloneIntoCgroup);
    if !cgroup2_delegates("hugetlb") {
        return;
    }
    let (first, second) = limits_seen_inside(
        "hugetlb",
        Resources::new().hugetlb_max(2 << 20, 4u64 << 20),
        Resources::new().hugetlb_max(2 << 20, Limit::Max),
        &["hugetlb.2MB.max"],
    );
    assert_eq!(first, "4194304\n");
    assert_eq!(second, "max\n");
}

#[test]
fn builder_shorthands_are_the_resources() {
    // Cgroup::memory_max and pids_max record into the same resources.
    assert_eq!(
        Cgroup::new("/x").memory_max(1 << 20).pids_max(9),
        Cgroup::new("/x").resources(Resources::new().memory_max(1u64 << 20).pids_max(9u64))
    );
    assert_ne!(
        Cgroup::new("/x").pids_max(9),
        Cgroup::new("/x").resources(Resources::new().pids_max(8u64))
    );
}

#[test]
fn the_root_cgroup_cannot_be_paused() {
    require!(Feature::Root, Feature::CloneIntoCgroup);
    // The test process is itself in the cgroup v2 root here; a container started
    // there (an existing cgroup: kept) cannot be frozen, and says so.
    let own = read_file("/proc/self/cgroup");
    if !own.lines().any(|l| l == "0::/") {
        println!("SKIP: this test process is not in the cgroup v2 root ({own:?})");
        return;
    }
    let mut c = sh("sleep 30").cgroup(Cgroup::new(ROOT)).spawn().unwrap();
    let err = c.pause().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(
        err.to_string().contains("root cgroup cannot be frozen"),
        "{err}"
    );
    c.kill().unwrap();
    c.wait().unwrap();
    assert!(Path::new(ROOT).join("cgroup.procs").exists());
}

/// Whether linception accepts `r` for a new cgroup: a refusal of the value is
/// `false`; passing the range checks (then refused for want of the controller on
/// this host's cgroup2, or spawned where the controller exists) is `true`.
fn ours_accepts(r: Resources) -> bool {
    let path = cg_path("judge");
    match sh("true").cgroup(Cgroup::new(&path).resources(r)).spawn() {
        Ok(mut c) => {
            c.wait().unwrap();
            true
        }
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
            e.to_string().contains(" controller")
        }
    }
}

/// A cgroup v1 directory of the host's `controller` hierarchy, for the kernel to
/// judge values with, or `None` (printing why) where this host has none.
///
/// The pids and cpu controllers parse `pids.max`, and the CFS bandwidth of
/// `cpu.cfs_period_us`/`cpu.cfs_quota_us`, with the same kernel functions on v1 as
/// `pids.max` and `cpu.max` on v2, so the v1 files judge the ranges linception
/// checks. That v1 holds them is the host's cgroup layout, not a kernel feature.
fn v1_judge(controller: &str) -> Option<RmdirGuard> {
    let base = format!("/sys/fs/cgroup/{controller}");
    let is_v1 = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.contains(&format!(" {base} ")) && l.contains(" - cgroup "));
    if !is_v1 {
        println!("SKIP: no {controller} cgroup v1 hierarchy at {base} on this host");
        return None;
    }
    let dir = format!("{base}/linception-judge-{}", std::process::id());
    std::fs::create_dir(&dir).unwrap();
    Some(RmdirGuard(dir))
}

#[test]
fn pids_max_range_matches_the_kernels() {
    require!(Feature::Root, Feature::CloneIntoCgroup);
    let Some(judge) = v1_judge("pids") else {
        return;
    };
    let file = format!("{}/pids.max", judge.0);
    let values = [0, 1, 4_194_303, 4_194_304, 4_194_305, 1 << 32, u64::MAX];
    let mut verdicts = [0; 2];
    for v in values.map(Limit::Value).into_iter().chain([Limit::Max]) {
        let text = match v {
            Limit::Max => "max".to_owned(),
            Limit::Value(n) => n.to_string(),
        };
        let kernel = std::fs::write(&file, &text).is_ok();
        let ours = ours_accepts(Resources::new().pids_max(v));
        assert_eq!(
            ours, kernel,
            "pids.max {text}: ours {ours}, kernel {kernel}"
        );
        verdicts[usize::from(kernel)] += 1;
    }
    println!("pids.max: kernel and linception agree on {verdicts:?} refused/accepted");
    assert!(verdicts[0] > 0 && verdicts[1] > 0, "{verdicts:?}");
}

#[test]
fn cpu_max_range_matches_the_kernels() {
    require!(Feature::Root, Feature::CloneIntoCgroup);
    let Some(judge) = v1_judge("cpu") else {
        return;
    };
    let period_file = format!("{}/cpu.cfs_period_us", judge.0);
    let quota_file = format!("{}/cpu.cfs_quota_us", judge.0);
    let periods = [0, 999, 1_000, 100_000, 1_000_000, 1_000_001];
    let mut verdicts = [0; 2];
    let quotas = [
        Limit::Value(0),
        Limit::Value(999),
        Limit::Value(1_000),
        Limit::Value(50_000),
        Limit::Value((1 << 44) - 1),
        Limit::Value(1 << 44),
        Limit::Max,
    ];
    for period in periods {
        for quota in quotas {
            // Back to no limit with the default period, then the pair.
            std::fs::write(&quota_file, "-1").unwrap();
            std::fs::write(&period_file, "100000").unwrap();
            let q = match quota {
                Limit::Max => "-1".to_owned(),
                Limit::Value(n) => n.to_string(),
            };
            let kernel = std::fs::write(&period_file, period.to_string()).is_ok()
                && std::fs::write(&quota_file, &q).is_ok();
            let ours = ours_accepts(Resources::new().cpu_max(quota, period));
            assert_eq!(
                ours, kernel,
                "cpu.max {quota:?} {period}: ours {ours}, kernel {kernel}"
            );
            verdicts[usize::from(kernel)] += 1;
        }
    }
    println!("cpu.max: kernel and linception agree on {verdicts:?} refused/accepted");
    assert!(verdicts[0] > 0 && verdicts[1] > 0, "{verdicts:?}");
    std::fs::write(&quota_file, "-1").unwrap();
}

#[test]
fn cpuset_ranges_match_the_kernels() {
    require!(Feature::Root, Feature::CloneIntoCgroup);
    // cpuset.cpus and cpuset.mems parse the same id lists on v1 as on v2.
    let Some(judge) = v1_judge("cpuset") else {
        return;
    };
    let mut verdicts = [0; 2];
    let sets: [&[u32]; 6] = [&[0], &[1], &[0, 1], &[2], &[1, 3], &[100_000]];
    for (file, mems) in [("cpuset.cpus", false), ("cpuset.mems", true)] {
        for set in sets {
            let path = format!("{}/{file}", judge.0);
            let list = set.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
            let kernel = std::fs::write(&path, &list).is_ok();
            let r = if mems {
                Resources::new().cpuset_mems(set.iter().copied())
            } else {
                Resources::new().cpuset_cpus(set.iter().copied())
            };
            let ours = ours_accepts(r);
            // The kernel also refuses CPUs (nodes) that are possible but offline;
            // linception checks only what is possible, so the verdicts are equal
            // where everything possible is online.
            let kind = if mems { "node" } else { "cpu" };
            let online = std::fs::read_to_string(format!("/sys/devices/system/{kind}/online"));
            let possible = std::fs::read_to_string(format!("/sys/devices/system/{kind}/possible"));
            let all_online = match (online, possible) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            };
            if all_online {
                assert_eq!(ours, kernel, "{file} {list}: ours {ours}, kernel {kernel}");
            } else {
                assert!(
                    ours || !kernel,
                    "{file} {list}: the kernel accepts what linception refuses"
                );
            }
            if !ours {
                verdicts[0] += 1;
            } else if kernel {
                verdicts[1] += 1;
            }
        }
    }
    println!("cpuset: kernel and linception agree on {verdicts:?} refused/accepted");
    assert!(verdicts[0] > 0 && verdicts[1] > 0, "{verdicts:?}");
}

#[test]
fn io_max_devices_match_the_kernels() {
    require!(Feature::Root, Feature::CloneIntoCgroup);
    // The v1 throttle files find the device with the same kernel lookup as
    // io.max (whole disks only).
    let Some(judge) = v1_judge("blkio") else {
        return;
    };
    let file = format!("{}/blkio.throttle.read_bps_device", judge.0);
    let mut devices: Vec<BlockDevice> = std::fs::read_dir("/sys/dev/block")
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let (a, b) = name.split_once(':')?;
            Some(BlockDevice::new(a.parse().ok()?, b.parse().ok()?))
        })
        .collect();
    devices.extend([BlockDevice::new(4095, 1_000_000), BlockDevice::new(1, 3)]);
    let mut verdicts = [0; 2];
    for d in devices {
        let kernel = std::fs::write(&file, format!("{d} 1048576")).is_ok();
        if kernel {
            std::fs::write(&file, format!("{d} 0")).unwrap();
        }
        let ours = ours_accepts(Resources::new().io_max(IoMax::new(d).rbps(1u64 << 20)));
        assert_eq!(ours, kernel, "io.max {d}: ours {ours}, kernel {kernel}");
        verdicts[usize::from(kernel)] += 1;
    }
    println!("io.max devices: kernel and linception agree on {verdicts:?} refused/accepted");
    assert!(verdicts[0] > 0 && verdicts[1] > 0, "{verdicts:?}");
}

/// The cgroup2 mount found is one that is still visible, and `/sys/fs/cgroup` when
/// that is one (found with one statfs, without reading the mount table):
/// - with a tmpfs over /sys/fs/cgroup, the newest visible cgroup2 mount elsewhere;
/// - cgroup2 mounted over it (as over a hybrid host's tmpfs, hiding
///   /sys/fs/cgroup/unified), /sys/fs/cgroup;
/// - a newer cgroup2 mount elsewhere does not change that.
#[test]
fn the_cgroup2_mount_found_is_a_visible_one() {
    require!(Feature::Root, Feature::MountApi);
    let found = Fork::new().unshare(libc::CLONE_NEWNS).run(|| {
        use rustix::mount::{MountFlags, MountPropagationFlags, mount, mount_change};
        mount_change(
            c"/",
            MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
        )
        .expect("make the tree private");
        let found = || {
            let cg = linception::features::cgroup2().expect("a cgroup2 mount");
            let readable = cg.dir().join("cgroup.controllers").exists();
            (cg.mount_point.to_string_lossy().into_owned(), readable)
        };
        let none = MountFlags::empty();
        mount(c"tmpfs", c"/sys/fs/cgroup", c"tmpfs", none, None).expect("tmpfs on /sys/fs/cgroup");
        for d in ["/sys/fs/cgroup/a", "/sys/fs/cgroup/b"] {
            std::fs::create_dir(d).unwrap();
        }
        mount(c"cgroup2", c"/sys/fs/cgroup/a", c"cgroup2", none, None).expect("cgroup2 on a");
        mount(c"cgroup2", c"/sys/fs/cgroup/b", c"cgroup2", none, None).expect("cgroup2 on b");
        let elsewhere = found();
        mount(c"cgroup2", c"/sys/fs/cgroup", c"cgroup2", none, None)
            .expect("mount cgroup2 on /sys/fs/cgroup");
        let conventional = found();
        mount(c"cgroup2", c"/tmp", c"cgroup2", none, None).expect("cgroup2 on /tmp");
        let newer = found();
        vec![elsewhere, conventional, newer]
    });
    assert_eq!(found[0].0, "/sys/fs/cgroup/b", "{found:?}");
    assert_eq!(found[1].0, "/sys/fs/cgroup", "{found:?}");
    assert_eq!(found[2].0, "/sys/fs/cgroup", "{found:?}");
    assert!(found.iter().all(|f| f.1), "{found:?}");
}
