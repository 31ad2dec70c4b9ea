//! The scheduling knobs (scheduler, I/O priority, CPU affinity) and the terminal's
//! size, observed from inside real containers as root and rootless; values the
//! kernel would refuse are refused by name before anything is created.

mod common;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

use common::{failure, sh, status_field, stdout_of};
use linception::{
    Container, CpuList, Hook, HookPoint, IoClass, IoPriority, Mount, Namespaces, SchedFlags,
    SchedPolicy, Scheduler, Stdio, Terminal,
};
use linception_testkit::{Feature, Fork, require};

/// `/proc/self/stat` of the program: (nice, rt_priority, policy), fields 19, 40, 41
/// (`exec`: a `SCHED_DEADLINE` task may not fork).
const STAT: &str = "exec cat /proc/self/stat";

fn sched_of(stat: &str) -> (i64, u64, u64) {
    // The command name (field 2) may hold spaces: count from the last ')'.
    let rest = &stat[stat.rfind(')').expect("a stat line") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3.
    (
        f[19 - 3].parse().unwrap(),
        f[40 - 3].parse().unwrap(),
        f[41 - 3].parse().unwrap(),
    )
}

/// Two CPUs online, or a skip saying so.
fn two_cpus() -> bool {
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    let n = CpuList::parse(online.trim()).unwrap().cpus().len();
    let answer = if n >= 2 {
        Ok(())
    } else {
        Err(format!("{n} CPU online"))
    };
    linception_testkit::require_custom("two online CPUs", "2.6", answer)
}

fn unprivileged_policies() -> Vec<(i64, u64, u64)> {
    [
        Scheduler::new(SchedPolicy::Batch).nice(7),
        Scheduler::new(SchedPolicy::Idle),
        Scheduler::new(SchedPolicy::Other)
            .nice(3)
            .flags(SchedFlags::RESET_ON_FORK),
    ]
    .into_iter()
    .map(|s| sched_of(&stdout_of(sh(STAT).scheduler(s))))
    .collect()
}

fn check_unprivileged_policies(seen: &[(i64, u64, u64)]) {
    // SCHED_BATCH nice 7; SCHED_IDLE; SCHED_OTHER nice 3 (the reset-on-fork flag is
    // not in the policy field of /proc: it shows only SCHED_OTHER = 0).
    assert_eq!(seen, [(7, 0, 3), (seen[1].0, 0, 5), (3, 0, 0)]);
}

#[test]
fn scheduler_inside_rootless() {
    require!(Feature::UnprivilegedUserNs);
    let seen = Fork::new().unprivileged().run(unprivileged_policies);
    check_unprivileged_policies(&seen);
}

#[test]
fn scheduler_inside_as_root() {
    require!(Feature::Root, Feature::UserNs);
    check_unprivileged_policies(&unprivileged_policies());
    // Real-time policies and a lower nice value need CAP_SYS_NICE in the initial
    // user namespace: a container sharing the caller's user namespace has it.
    let host = || sh(STAT).share(Namespaces::USER);
    for (s, want) in [
        (Scheduler::new(SchedPolicy::Fifo).priority(10), (0, 10, 1)),
        (
            Scheduler::new(SchedPolicy::RoundRobin).priority(3),
            (0, 3, 2),
        ),
        (Scheduler::new(SchedPolicy::Other).nice(-5), (-5, 0, 0)),
    ] {
        let (nice, prio, policy) = sched_of(&stdout_of(host().scheduler(s)));
        // A real-time task shows the nice value it had (the caller's).
        let nice = if want.2 == 0 { nice } else { 0 };
        assert_eq!((nice, prio, policy), want, "{s:?}");
    }
    // SCHED_DEADLINE, 1 ms every 100 ms: its bandwidth is admitted on this host
    // (a deadline task's affinity must span its root domain: the caller's here).
    let dl = Scheduler::new(SchedPolicy::Deadline).deadline(1_000_000, 50_000_000, 100_000_000);
    let (_, _, policy) = sched_of(&stdout_of(host().scheduler(dl)));
    assert_eq!(policy, 6);
}

#[test]
fn privileged_scheduling_in_a_user_namespace_is_refused_by_name() {
    require!(Feature::UserNs);
    for unprivileged in common::modes() {
        let (kind, step, _, text) = failure(unprivileged, || {
            sh(STAT).scheduler(Scheduler::new(SchedPolicy::Fifo).priority(50))
        });
        assert_eq!(kind, "PermissionDenied", "{text}");
        assert_eq!(step, None, "refused before the child: {text}");
        assert!(
            text.contains("scheduler SCHED_FIFO priority 50") && text.contains("CAP_SYS_NICE"),
            "{text}"
        );
        let (kind, _, _, text) = failure(unprivileged, || {
            sh(STAT).io_priority(IoPriority::new(IoClass::RealTime, 1))
        });
        assert_eq!(kind, "PermissionDenied", "{text}");
        assert!(text.contains("IOPRIO_CLASS_RT level 1"), "{text}");
    }
}

/// A builder made in the forked child.
type Build = fn() -> linception::ContainerBuilder;

#[test]
fn bad_values_are_named_and_leave_nothing_behind() {
    require!(Feature::UserNs);
    for unprivileged in common::modes() {
        let cases: Vec<(Build, &str)> = vec![
            (
                || {
                    sh(STAT)
                        .scheduler(Scheduler::new(SchedPolicy::Deadline).deadline(5000, 4000, 9000))
                },
                "scheduler SCHED_DEADLINE runtime 5000 deadline 4000 period 9000: \
                 SCHED_DEADLINE needs runtime <= deadline <= period",
            ),
            (
                || sh(STAT).scheduler(Scheduler::new(SchedPolicy::Batch).nice(-21)),
                "scheduler SCHED_BATCH nice -21: a nice value is -20 to 19",
            ),
            (
                || sh(STAT).io_priority(IoPriority::new(IoClass::BestEffort, 9)),
                "io_priority IOPRIO_CLASS_BE level 9",
            ),
            (
                || sh(STAT).cpu_affinity(CpuList::new([1023])),
                "cpu_affinity CPU list \"1023\"",
            ),
            (
                || sh(STAT).terminal_size(24, 80),
                "terminal_size(24, 80) without terminal()",
            ),
        ];
        for (build, want) in cases {
            let (kind, step, _, text) = failure(unprivileged, build);
            assert_eq!(kind, "InvalidArgument", "{text}");
            assert_eq!(step, None, "{text}");
            assert!(text.contains(want), "{want}: {text}");
        }
    }
}

fn io_priorities() -> Vec<String> {
    [
        IoPriority::new(IoClass::Idle, 0),
        IoPriority::new(IoClass::BestEffort, 6),
    ]
    .into_iter()
    .map(|io| stdout_of(sh("ionice").io_priority(io)))
    .collect()
}

/// util-linux's `ionice` (run from the host's /usr/bin, bound into the root).
fn ionice() -> bool {
    let answer = std::path::Path::new("/usr/bin/ionice")
        .exists()
        .then_some(())
        .ok_or_else(|| "no /usr/bin/ionice (util-linux)".to_owned());
    linception_testkit::require_custom("util-linux ionice", "2.6.13", answer)
}

#[test]
fn io_priority_inside_rootless() {
    require!(Feature::UnprivilegedUserNs);
    if !ionice() {
        return;
    }
    let seen = Fork::new().unprivileged().run(io_priorities);
    assert_eq!(seen, ["idle\n", "best-effort: prio 6\n"]);
}

#[test]
fn io_priority_inside_as_root() {
    require!(Feature::Root, Feature::UserNs);
    if !ionice() {
        return;
    }
    assert_eq!(io_priorities(), ["idle\n", "best-effort: prio 6\n"]);
    let rt = stdout_of(
        sh("ionice")
            .share(Namespaces::USER)
            .io_priority(IoPriority::new(IoClass::RealTime, 2)),
    );
    assert_eq!(rt, "realtime: prio 2\n");
}

/// The program's `Cpus_allowed_list`, and the child's while a `createRuntime` hook
/// runs (in the middle of the setup).
fn affinity(setup: Option<&str>, program: Option<&str>) -> (String, String) {
    let during = Arc::new(Mutex::new(String::new()));
    let seen = during.clone();
    let mut b = sh("cat /proc/self/status").hook(
        HookPoint::CreateRuntime,
        Hook::function(move |st| {
            let pid = st.pid.ok_or("no pid")?;
            let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
                .map_err(|e| e.to_string())?;
            *seen.lock().unwrap() = status_field(&status, "Cpus_allowed_list").to_owned();
            Ok(())
        }),
    );
    if let Some(l) = setup {
        b = b.setup_cpu_affinity(CpuList::parse(l).unwrap());
    }
    if let Some(l) = program {
        b = b.cpu_affinity(CpuList::parse(l).unwrap());
    }
    let out = stdout_of(b);
    let during = during.lock().unwrap().clone();
    (during, status_field(&out, "Cpus_allowed_list").to_owned())
}

fn affinities() -> Vec<(String, String)> {
    vec![
        affinity(None, Some("1")),
        affinity(Some("0"), Some("1")),
        affinity(Some("1"), None),
        affinity(Some("0"), Some("0-1")),
    ]
}

fn check_affinities(seen: &[(String, String)], own: &str) {
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        seen,
        [
            // Only the program's: the setup runs where the caller does.
            pair(own, "1"),
            // The setup on CPU 0, the program on CPU 1.
            pair("0", "1"),
            // Only the setup's: the program keeps it.
            pair("1", "1"),
            pair("0", "0-1"),
        ]
    );
}

fn own_cpus() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status_field(&status, "Cpus_allowed_list").to_owned()
}

#[test]
fn cpu_affinity_of_the_setup_and_the_program_as_root() {
    require!(Feature::Root, Feature::UserNs);
    if !two_cpus() {
        return;
    }
    check_affinities(&affinities(), &own_cpus());
}

#[test]
fn cpu_affinity_of_the_setup_and_the_program_rootless() {
    require!(Feature::UnprivilegedUserNs);
    if !two_cpus() {
        return;
    }
    let seen = Fork::new().unprivileged().run(affinities);
    check_affinities(&seen, &own_cpus());
}

#[test]
fn scheduling_knobs_in_exec_in() {
    require!(Feature::UserNs);
    if !two_cpus() {
        return;
    }
    let c = sh("exec sleep 100").spawn().unwrap();
    let mut e = c
        .exec_in(
            Container::builder("/bin/sh")
                .args(["-c", "cat /proc/self/stat; cat /proc/self/status"])
                .scheduler(Scheduler::new(SchedPolicy::Batch).nice(12))
                .io_priority(IoPriority::new(IoClass::Idle, 0))
                .setup_cpu_affinity(CpuList::parse("0").unwrap())
                .cpu_affinity(CpuList::parse("1").unwrap())
                .stdout(Stdio::Piped),
        )
        .unwrap();
    let mut out = String::new();
    e.take_stdout().unwrap().read_to_string(&mut out).unwrap();
    assert!(e.wait().unwrap().success(), "{out}");
    assert_eq!(sched_of(out.lines().next().unwrap()), (12, 0, 3), "{out}");
    assert_eq!(status_field(&out, "Cpus_allowed_list"), "1", "{out}");
}

/// `stty size` on the container's terminal: "rows cols".
fn terminal_size_inside() -> String {
    let mut c = sh("stty size")
        .mount(Mount::dev("/dev"))
        .terminal(Terminal::Handle)
        .terminal_size(33, 121)
        .spawn()
        .unwrap();
    let master: OwnedFd = c.take_terminal().expect("the master");
    let mut m = std::fs::File::from(master);
    m.flush().unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        match m.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
            Err(e) => panic!("read(master): {e}"),
        }
    }
    assert!(c.wait().unwrap().success());
    String::from_utf8_lossy(&out).replace('\r', "")
}

#[test]
fn terminal_size_as_root() {
    require!(Feature::Root, Feature::UserNs, Feature::MountApi);
    assert_eq!(Fork::new().run(terminal_size_inside), "33 121\n");
}

#[test]
fn terminal_size_rootless() {
    require!(Feature::UnprivilegedUserNs, Feature::MountApi);
    assert_eq!(
        Fork::new().unprivileged().run(terminal_size_inside),
        "33 121\n"
    );
}
