//! Writing maps into fresh user namespaces on the real kernel.
// Unsafe code here: a raw credential change in a forked child.
// The crate's error keeps the failed call inline, so it is large by design.
#![allow(clippy::result_large_err)]
#![allow(unsafe_code)]

mod common;

use std::os::fd::AsFd;

use common::{NsChild, TempDir, create_file_as, owner, spawn_ns_child};
use linception_testkit::{Feature, Fork, NOBODY, leaks::assert_no_leaks, require};
use linception_userns::{
    Error, Extent, IdMap, MapRule, MapWriter, Setgroups, WriteMode, read_gid_map, read_setgroups,
    read_uid_map, write_gid_map, write_setgroups, write_uid_map,
};

/// `n` extents of one id each, spread with gaps on both sides so none merge:
/// inside 2i, outside 1000 + 3i. The text stays within one write for 340.
fn spread_map(n: u32) -> IdMap {
    IdMap::new(
        (0..n)
            .map(|i| Extent::new(2 * i, 1000 + 3 * i, 1))
            .collect::<Vec<_>>(),
    )
    .expect("valid map")
}

/// Writes an `n`-extent map into a fresh namespace, checks it through /proc and
/// through the owner of a file created inside as the last mapped id.
fn write_and_check(n: u32) {
    let dir = TempDir::new(&format!("extents{n}"));
    let map = spread_map(n);
    let last = n - 1;
    let file = dir.0.join("f");
    let result = Fork::new().run(|| {
        let path = file.clone();
        let child = spawn_ns_child(move || create_file_as(2 * last, 2 * last, &path));
        MapWriter::new()
            .uid_map(map.clone())
            .gid_map(map.clone())
            .mode(WriteMode::Privileged)
            .write(child.pid)
            .expect("write maps");
        assert_eq!(read_uid_map(Some(child.pid)).unwrap().as_ref(), Some(&map));
        assert_eq!(read_gid_map(Some(child.pid)).unwrap().as_ref(), Some(&map));
        // Privileged mode leaves setgroups alone.
        assert_eq!(read_setgroups(Some(child.pid)).unwrap(), Setgroups::Allow);
        child.finish()
    });
    assert_eq!(result, 0, "child failed to create the file (step code)");
    let expected = 1000 + 3 * last;
    assert_eq!(owner(&file), (expected, expected));
}

#[test]
fn writes_1_extent() {
    require!(Feature::Root, Feature::UserNs);
    write_and_check(1);
}

#[test]
fn writes_5_extents() {
    require!(Feature::Root, Feature::UserNs);
    write_and_check(5);
}

#[test]
fn writes_6_extents_past_the_old_limit() {
    require!(Feature::Root, Feature::UserNs);
    write_and_check(6);
}

#[test]
fn writes_340_extents() {
    require!(Feature::Root, Feature::UserNs);
    write_and_check(340);
}

#[test]
fn kernel_shows_small_maps_in_order_and_large_maps_sorted() {
    require!(Feature::Root, Feature::UserNs);
    let (small, large) = Fork::new().run(|| {
        let mut texts = Vec::new();
        for n in [5u32, 6] {
            let map = IdMap::new(
                (0..n)
                    .rev()
                    .map(|i| Extent::new(10 * i, 500 + 10 * i, 3))
                    .collect::<Vec<_>>(),
            )
            .unwrap();
            let child = spawn_ns_child(|| 0);
            linception_userns::write_uid_map(child.pid, &map).unwrap();
            let text =
                std::fs::read_to_string(format!("/proc/{}/uid_map", child.pid.as_raw_nonzero()))
                    .unwrap();
            let first = IdMap::parse(&text).unwrap().extents()[0];
            texts.push(first.inside);
            child.finish();
        }
        (texts[0], texts[1])
    });
    // 5 extents: kept inline in write order; 6: sorted copies.
    assert_eq!(small, 40);
    assert_eq!(large, 0);
}

#[test]
fn validation_refuses_what_the_kernel_refuses() {
    require!(Feature::Root, Feature::UserNs);
    let too_many: String = (0..341u32).map(|i| format!("{i} {i} 1\n")).collect();
    let cases: Vec<(String, String)> = vec![
        (too_many, "341 extents".into()),
        (
            "0 1000 10\n5 2000 10\n".into(),
            "overlap on the inside side".into(),
        ),
        (
            "0 1000 10\n20 1005 10\n".into(),
            "overlap on the outside side".into(),
        ),
        ("0 1000 0\n".into(), "count is zero".into()),
        ("4294967290 1000 6\n".into(), "inside ids overflow".into()),
        ("0 4294967295 1\n".into(), "outside ids overflow".into()),
        (
            (0..250u32)
                .map(|i| format!("{} {} 1\n", 10_000_000 + i, 2_000_000_000 + i))
                .collect(),
            "over the 4095 the kernel accepts".into(),
        ),
    ];
    let results = Fork::new().run(move || {
        let mut out = Vec::new();
        for (text, _) in &cases {
            // Ours refuses before any syscall...
            let ours = IdMap::parse(text).map(|_| ()).map_err(|e| e.to_string());
            // ...and the kernel refuses the same text with EINVAL.
            let child = spawn_ns_child(|| 0);
            let path = format!("/proc/{}/uid_map", child.pid.as_raw_nonzero());
            let kernel = std::fs::write(&path, text.as_bytes())
                .err()
                .and_then(|e| e.raw_os_error());
            drop(child);
            out.push((ours.err().unwrap_or_default(), kernel.unwrap_or(0)));
        }
        out
    });
    let cases_expect = [
        "341 extents",
        "overlap on the inside side",
        "overlap on the outside side",
        "count is zero",
        "inside ids overflow",
        "outside ids overflow",
        "over the 4095 the kernel accepts",
    ];
    for ((ours, errno), expect) in results.iter().zip(cases_expect) {
        assert!(ours.contains(expect), "our error {ours:?} lacks {expect:?}");
        assert_eq!(*errno, libc::EINVAL, "kernel errno for {expect}");
    }
}

#[test]
fn overlap_error_names_both_extents() {
    let err = IdMap::parse("0 1000 10\n100 2000 5\n20 1005 10\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "extents #0 (0 1000 10) and #2 (20 1005 10) overlap on the outside side"
    );
    assert_eq!(err.kind(), linception_userns::ErrorKind::InvalidArgument);
}

#[test]
fn double_write_is_explained() {
    require!(Feature::Root, Feature::UserNs);
    let (message, errno, rule_ok) = Fork::new().run(|| {
        let child = spawn_ns_child(|| 0);
        let map = IdMap::single(0, 1000, 10).unwrap();
        write_uid_map(child.pid, &map).unwrap();
        let err = write_uid_map(child.pid, &map).unwrap_err();
        let rule_ok = err.map_rule() == Some(&MapRule::AlreadyWritten)
            && err.kind() == linception_userns::ErrorKind::PermissionDenied;
        (err.to_string(), err.raw_os_error().unwrap_or(0), rule_ok)
    });
    assert!(rule_ok, "{message}");
    assert_eq!(errno, libc::EPERM);
    assert!(
        message.ends_with(
            "uid_map\", \"0 1000 10\\n\"): Operation not permitted (EPERM): the map was \
             already written (each map takes exactly one write)"
        ),
        "{message}"
    );
}

#[test]
fn missing_setgroups_deny_is_explained() {
    require!(Feature::Root, Feature::UnprivilegedUserNs);
    let rules = Fork::new().unprivileged().run(|| {
        let child = spawn_ns_child(|| 0);
        let own = IdMap::single(0, NOBODY, 1).unwrap();
        let mut out = Vec::new();
        write_uid_map(child.pid, &own).unwrap();
        // gid_map without "deny" in setgroups first.
        let err = write_gid_map(child.pid, &own).unwrap_err();
        out.push(format!(
            "{:?} {}",
            err.map_rule(),
            err.raw_os_error().unwrap_or(0)
        ));
        assert_eq!(read_gid_map(Some(child.pid)).unwrap(), None);
        write_setgroups(child.pid, Setgroups::Deny).unwrap();
        write_gid_map(child.pid, &own).unwrap();
        // Neither can setgroups change now.
        let err = write_setgroups(child.pid, Setgroups::Allow).unwrap_err();
        out.push(format!("{:?}", err.map_rule()));
        out
    });
    assert_eq!(rules[0], "Some(SetgroupsNotDenied) 1");
    assert_eq!(rules[1], "Some(SetgroupsDenied)");
}

#[test]
fn setgroups_cannot_be_denied_after_gid_map() {
    require!(Feature::Root, Feature::UserNs);
    let rule = Fork::new().run(|| {
        let child = spawn_ns_child(|| 0);
        write_gid_map(child.pid, &IdMap::single(0, 1000, 1).unwrap()).unwrap();
        let err = write_setgroups(child.pid, Setgroups::Deny).unwrap_err();
        format!("{:?}", err.map_rule())
    });
    assert_eq!(rule, "Some(SetgroupsAfterGidMap)");
}

#[test]
fn unprivileged_self_mapping_works() {
    require!(Feature::Root, Feature::UnprivilegedUserNs);
    let dir = TempDir::new("self");
    let file = dir.0.join("f");
    let (code, uid_map, setgroups) = Fork::new().unprivileged().run(|| {
        let path = file.clone();
        let child = spawn_ns_child(move || create_file_as(0, 0, &path));
        // Auto mode without CAP_SETUID: unprivileged, "deny" written for gid_map.
        MapWriter::own_ids(0, 0)
            .mode(WriteMode::Auto)
            .write(child.pid)
            .unwrap();
        let uid_map = read_uid_map(Some(child.pid)).unwrap().unwrap().to_string();
        let setgroups = read_setgroups(Some(child.pid)).unwrap() == Setgroups::Deny;
        (child.finish(), uid_map, setgroups)
    });
    assert_eq!(code, 0);
    assert_eq!(uid_map, format!("0 {NOBODY} 1\n"));
    assert!(setgroups);
    assert_eq!(owner(&file), (NOBODY, NOBODY));
}

#[test]
fn unprivileged_wider_maps_fail_with_the_rule() {
    require!(Feature::Root, Feature::UnprivilegedUserNs);
    let outcomes = Fork::new().unprivileged().run(|| {
        let mut out = Vec::new();
        let wide = IdMap::single(0, NOBODY, 2).unwrap();
        let other = IdMap::single(0, 1000, 1).unwrap();
        for (map, mode) in [
            (&wide, WriteMode::Unprivileged),
            (&other, WriteMode::Auto),
            (&wide, WriteMode::Privileged),
            (&other, WriteMode::Privileged),
        ] {
            let child = spawn_ns_child(|| 0);
            let err = MapWriter::new()
                .uid_map(map.clone())
                .mode(mode)
                .write(child.pid)
                .unwrap_err();
            // Nothing was written.
            assert_eq!(read_uid_map(Some(child.pid)).unwrap(), None);
            out.push((
                format!("{:?}", err.map_rule()),
                err.raw_os_error().unwrap_or(0),
                err.to_string(),
            ));
        }
        out
    });
    let rule = format!(
        "{:?}",
        Some(MapRule::UnprivilegedWiderThanOwnId { own: NOBODY })
    );
    // Unprivileged and Auto modes refuse before the write; Privileged mode lets
    // the kernel refuse, and the EPERM is explained by the same rule.
    for (i, (got, errno, message)) in outcomes.iter().enumerate() {
        assert_eq!(got, &rule, "case {i}: {message}");
        assert_eq!(
            *errno,
            if i < 2 { 0 } else { libc::EPERM },
            "case {i}: {message}"
        );
        assert!(
            message.contains("may map only its own id 65534"),
            "{message}"
        );
    }
    assert!(
        outcomes[0].2.contains("refused before the write"),
        "{}",
        outcomes[0].2
    );
    assert!(
        outcomes[2].2.contains("Operation not permitted (EPERM)"),
        "{}",
        outcomes[2].2
    );
}

/// `(kind(), io::Error kind, errno)` of an error, for the parent to check.
fn kinds(err: Error) -> (String, String, i32) {
    let kind = format!("{:?}", err.kind());
    let errno = err.raw_os_error().unwrap_or(0);
    let io: std::io::Error = err.into();
    (kind, format!("{:?}", io.kind()), errno)
}

#[test]
fn permission_refusals_are_permission_denied() {
    require!(Feature::UnprivilegedUserNs);
    // Started as root, drop to 65534; started unprivileged, stay so.
    let fork = if linception_testkit::available(Feature::Root).is_ok() {
        Fork::new().unprivileged()
    } else {
        Fork::new()
    };
    let outcomes = fork.run(|| {
        let own = rustix::process::geteuid().as_raw();
        let wide = IdMap::single(0, own, 2).unwrap();
        let mut out = Vec::new();
        // Refused before the write, then by the kernel (EPERM).
        for mode in [WriteMode::Unprivileged, WriteMode::Privileged] {
            let child = spawn_ns_child(|| 0);
            let err = MapWriter::new()
                .uid_map(wide.clone())
                .mode(mode)
                .write(child.pid)
                .unwrap_err();
            out.push(kinds(err));
        }
        // The kernel's EPERM for a second write.
        let child = spawn_ns_child(|| 0);
        let mine = IdMap::single(0, own, 1).unwrap();
        write_uid_map(child.pid, &mine).unwrap();
        out.push(kinds(write_uid_map(child.pid, &mine).unwrap_err()));
        out
    });
    let denied = |errno| {
        (
            "PermissionDenied".to_string(),
            "PermissionDenied".to_string(),
            errno,
        )
    };
    assert_eq!(
        outcomes,
        vec![denied(0), denied(libc::EPERM), denied(libc::EPERM)]
    );
}

#[test]
fn nested_outside_ids_must_be_mapped_in_the_writer() {
    require!(Feature::UnprivilegedUserNs);
    let (rule, nested_ok) = Fork::new().rootless().run(|| {
        // We are root in a namespace where only 0 is mapped (to 65534 outside).
        let child = spawn_ns_child(|| 0);
        let err = write_uid_map(child.pid, &IdMap::single(0, 5, 1).unwrap()).unwrap_err();
        drop(child);
        let child = spawn_ns_child(|| 0);
        let ok = write_uid_map(child.pid, &IdMap::single(7, 0, 1).unwrap()).is_ok();
        (format!("{:?}", err.map_rule()), ok)
    });
    assert_eq!(
        rule,
        format!(
            "{:?}",
            Some(MapRule::OutsideNotMapped {
                extent: Extent::new(0, 5, 1)
            })
        )
    );
    assert!(nested_ok);
}

#[test]
fn write_through_a_pidfd() {
    require!(Feature::Root, Feature::UserNs, Feature::PidfdOpen);
    let (ok, exited) = Fork::new().run(|| {
        let child = spawn_ns_child(|| 0);
        let pidfd =
            rustix::process::pidfd_open(child.pid, rustix::process::PidfdFlags::empty()).unwrap();
        let map = IdMap::single(0, 1000, 100).unwrap();
        MapWriter::new()
            .uid_map(map.clone())
            .gid_map(map.clone())
            .write_pidfd(&pidfd)
            .unwrap();
        let ok = read_uid_map(Some(child.pid)).unwrap() == Some(map.clone());
        child.finish();
        // The process is gone (and reaped): its pid could be anyone's now.
        let err = MapWriter::new()
            .uid_map(map)
            .write_pidfd(&pidfd)
            .unwrap_err();
        (ok, matches!(err, Error::SafetyViolation { .. }))
    });
    assert!(ok);
    assert!(exited);
}

#[test]
fn no_fd_left_behind() {
    require!(Feature::Root, Feature::UserNs);
    Fork::new().run(|| {
        let child: NsChild = spawn_ns_child(|| 0);
        let map = IdMap::single(0, 1000, 100).unwrap();
        assert_no_leaks(|| {
            MapWriter::new()
                .uid_map(map.clone())
                .write(child.pid)
                .unwrap();
            // Failures: double write, bad pid.
            MapWriter::new()
                .uid_map(map.clone())
                .write(child.pid)
                .unwrap_err();
            let gone = linception_userns::Pid::from_raw(i32::MAX - 1).unwrap();
            let err = write_uid_map(gone, &map).unwrap_err();
            assert!(
                err.to_string().starts_with("open(\"/proc/2147483646\""),
                "{err}"
            );
            read_uid_map(Some(child.pid)).unwrap();
            read_uid_map(None).unwrap();
        });
    });
}

#[test]
fn reads_own_maps() {
    let (uid_map, gid_map) = (
        read_uid_map(None).unwrap().unwrap(),
        read_gid_map(None).unwrap().unwrap(),
    );
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    assert!(uid_map.map_down(uid).is_some());
    assert!(gid_map.map_down(gid).is_some());
}

#[test]
fn reads_a_rootless_namespace_map() {
    require!(Feature::UnprivilegedUserNs);
    let text = Fork::new()
        .rootless()
        .run(|| read_uid_map(None).unwrap().unwrap().to_string());
    // Root inside maps to 65534 when the suite runs as root, else to the caller.
    let (outer, _) = linception_testkit::unprivileged_ids();
    assert_eq!(text, format!("0 {outer} 1\n"));
}

#[test]
fn pidfd_write_races_with_exit_and_reaping() {
    require!(Feature::Root, Feature::UserNs, Feature::PidfdOpen);
    let (runs, outcomes) = Fork::new().run(|| {
        use rustix::process::{PidfdFlags, Signal, WaitId, WaitIdOptions};
        let map = IdMap::single(0, 1000, 100).unwrap();
        let start = std::time::Instant::now();
        let (mut runs, mut seen) = (0u32, std::collections::BTreeSet::new());
        while runs < 300 && start.elapsed() < std::time::Duration::from_secs(2) {
            let child = spawn_ns_child(|| 0);
            let pidfd = rustix::process::pidfd_open(child.pid, PidfdFlags::empty()).unwrap();
            child.detach();
            let delay = (runs * 7919) % 60;
            let outcome = std::thread::scope(|scope| {
                // Kill and reap at a varying moment: the pid becomes reusable.
                scope.spawn(|| {
                    let until =
                        std::time::Instant::now() + std::time::Duration::from_micros(delay as u64);
                    while std::time::Instant::now() < until {}
                    rustix::process::pidfd_send_signal(&pidfd, Signal::KILL).unwrap();
                    rustix::process::waitid(WaitId::PidFd(pidfd.as_fd()), WaitIdOptions::EXITED)
                        .unwrap();
                });
                MapWriter::new()
                    .uid_map(map.clone())
                    .mode(WriteMode::Privileged)
                    .write_pidfd(&pidfd)
            });
            // Allowed: written before the exit, or refused because the process
            // was gone; never a write anywhere else.
            let label = match outcome {
                Ok(()) => "written".to_string(),
                Err(Error::SafetyViolation { .. }) => "safety-violation".to_string(),
                Err(e) if matches!(e.raw_os_error(), Some(libc::ESRCH) | Some(libc::ENOENT)) => {
                    "process-gone".to_string()
                }
                Err(e) => panic!("unexpected outcome: {e}"),
            };
            seen.insert(label);
            runs += 1;
        }
        (runs, seen.into_iter().collect::<Vec<String>>())
    });
    println!("{runs} runs, outcomes: {outcomes:?}");
    assert!(runs >= 10, "only {runs} runs");
    assert!(!outcomes.is_empty());
}

#[test]
fn mapping_parent_root_needs_setfcap() {
    require!(Feature::Root, Feature::UserNs);
    let (rule, other_ok) = Fork::new().run(|| {
        use rustix::thread::{CapabilitySet, capabilities, set_capabilities};
        let mut caps = capabilities(None).unwrap();
        caps.effective.remove(CapabilitySet::SETFCAP);
        set_capabilities(None, caps).unwrap();
        let child = spawn_ns_child(|| 0);
        let err = write_uid_map(child.pid, &IdMap::single(0, 0, 1).unwrap()).unwrap_err();
        drop(child);
        // Any other id is fine without CAP_SETFCAP.
        let child = spawn_ns_child(|| 0);
        let other_ok = write_uid_map(child.pid, &IdMap::single(0, 1000, 1).unwrap()).is_ok();
        (
            format!("{:?} {:?}", err.map_rule(), err.raw_os_error()),
            other_ok,
        )
    });
    assert_eq!(rule, "Some(ParentRootNeedsSetfcap) Some(1)");
    assert!(other_ok);
}

#[test]
fn nested_map_seen_from_the_host_is_the_composition() {
    require!(Feature::Root, Feature::UserNs);
    let outer = IdMap::single(0, 100_000, 65_536).unwrap();
    let nested = IdMap::parse("0 1000 10\n10 2000 5\n").unwrap();
    let expected = nested.compose(&outer).unwrap();
    let (seen, code) = Fork::new().run(|| {
        use rustix::pipe::{PipeFlags, pipe_with};
        let (pid_r, pid_w) = pipe_with(PipeFlags::CLOEXEC).unwrap();
        let (done_r, done_w) = pipe_with(PipeFlags::CLOEXEC).unwrap();
        let inner = nested.clone();
        let mut outer_child = spawn_ns_child(move || {
            // In the outer namespace: become its root (host 100000), which keeps
            // every capability there, then map a nested namespace from here.
            // SAFETY: credential calls in the single-threaded namespace child.
            unsafe {
                if libc::setresgid(0, 0, 0) != 0 || libc::setresuid(0, 0, 0) != 0 {
                    return 20;
                }
                libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0);
            }
            let nested_child = spawn_ns_child(|| 0);
            if write_uid_map(nested_child.pid, &inner).is_err() {
                return 21;
            }
            let pid = nested_child.pid.as_raw_nonzero().get().to_le_bytes();
            if rustix::io::write(&pid_w, &pid) != Ok(4) {
                return 22;
            }
            let mut byte = [0u8];
            let _ = rustix::io::read(&done_r, &mut byte);
            0
        });
        MapWriter::new()
            .uid_map(outer.clone())
            .gid_map(outer.clone())
            .write(outer_child.pid)
            .unwrap();
        outer_child.go();
        let mut buf = [0u8; 4];
        let seen = match rustix::io::read(&pid_r, &mut buf) {
            Ok(4) => {
                let pid = linception_userns::Pid::from_raw(i32::from_le_bytes(buf)).unwrap();
                // The host sees the nested map's outside ids as host ids.
                read_uid_map(Some(pid)).unwrap().unwrap().to_string()
            }
            _ => String::new(),
        };
        rustix::io::write(&done_w, &[1]).unwrap();
        (seen, outer_child.finish())
    });
    assert_eq!(code, 0, "outer child failed at step {code}");
    assert_eq!(IdMap::parse(&seen).unwrap(), expected);
    assert_eq!(expected.to_string(), "0 101000 10\n10 102000 5\n");
}

#[test]
fn subuid_ranges_become_a_written_map() {
    require!(Feature::Root, Feature::UserNs);
    let subuid =
        linception_userns::SubIds::parse("# test\nroot:100000:65536\n0:300000:10\nalice:1:1\n")
            .unwrap();
    let ranges = subuid.ranges_for("root", 0);
    assert_eq!(ranges.len(), 2);
    let map = linception_userns::rootless_map(0, &ranges).unwrap();
    assert_eq!(map.to_string(), "0 0 1\n1 100000 65536\n65537 300000 10\n");
    let seen = Fork::new().run(|| {
        let child = spawn_ns_child(|| 0);
        write_uid_map(child.pid, &map).unwrap();
        read_uid_map(Some(child.pid)).unwrap().unwrap().to_string()
    });
    assert_eq!(seen, map.to_string());
}

#[test]
fn system_subid_files_parse() {
    // Whatever this machine holds parses, one entry per line (a missing file
    // holds no ranges).
    use linception_userns::{SUBGID_PATH, SUBUID_PATH, SubIds};
    for (path, parsed) in [
        (SUBUID_PATH, SubIds::system_uids().unwrap()),
        (SUBGID_PATH, SubIds::system_gids().unwrap()),
    ] {
        let lines = std::fs::read_to_string(path).map_or(0, |text| {
            text.lines()
                .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                .count()
        });
        assert_eq!(parsed.entries().len(), lines, "{path}");
    }
}
