use linception_testkit::{
    Feature, Fork, NOBODY, RootStatus, leaks, require, require_root, root_status, unprivileged_ids,
};

#[test]
fn child_result_comes_back() {
    let (pid, parent) = Fork::new().run(|| unsafe { (libc::getpid(), libc::getppid()) });
    assert_ne!(pid, std::process::id() as i32);
    assert_eq!(parent, std::process::id() as i32);
}

#[test]
fn child_panic_fails_the_test_with_its_message() {
    let err = std::panic::catch_unwind(|| {
        Fork::new().run(|| assert_eq!(1 + 1, 3, "arithmetic is broken"))
    })
    .unwrap_err();
    let msg = err.downcast_ref::<String>().expect("string panic");
    assert!(msg.contains("arithmetic is broken"), "{msg}");
}

#[test]
fn child_crash_is_reported() {
    let err =
        std::panic::catch_unwind(|| Fork::new().run(|| unsafe { libc::raise(libc::SIGKILL) }))
            .unwrap_err();
    let msg = err.downcast_ref::<String>().expect("string panic");
    assert!(msg.contains("killed by signal 9"), "{msg}");
}

#[test]
fn timeout_kills_the_child() {
    let err = std::panic::catch_unwind(|| {
        Fork::new()
            .timeout(std::time::Duration::from_millis(200))
            .run(|| std::thread::sleep(std::time::Duration::from_secs(30)))
    })
    .unwrap_err();
    let msg = err.downcast_ref::<String>().expect("string panic");
    assert!(msg.contains("timed out"), "{msg}");
}

#[test]
fn unprivileged_drops_to_nobody() {
    require!(Feature::Root);
    let ids = Fork::new().unprivileged().run(|| unsafe {
        (
            libc::getuid(),
            libc::geteuid(),
            libc::getgid(),
            libc::getegid(),
        )
    });
    assert_eq!(ids, (NOBODY, NOBODY, NOBODY, NOBODY));
}

#[test]
fn rootless_is_root_inside_mapped_to_nobody() {
    require!(Feature::UnprivilegedUserNs);
    let (uid, map) = Fork::new().rootless().run(|| {
        let map = std::fs::read_to_string("/proc/self/uid_map").unwrap();
        (unsafe { libc::geteuid() }, map)
    });
    assert_eq!(uid, 0);
    let fields: Vec<&str> = map.split_whitespace().collect();
    assert_eq!(fields, ["0", &unprivileged_ids().0.to_string(), "1"]);
    if unsafe { libc::geteuid() } == 0 {
        assert_eq!(unprivileged_ids(), (NOBODY, NOBODY));
    }
}

fn ids() -> (u32, u32, u32, u32, Vec<u32>) {
    let mut groups = vec![0; 256];
    let n = unsafe { libc::getgroups(groups.len() as i32, groups.as_mut_ptr()) };
    assert!(n >= 0, "getgroups: {}", std::io::Error::last_os_error());
    groups.truncate(n as usize);
    unsafe {
        (
            libc::getuid(),
            libc::geteuid(),
            libc::getgid(),
            libc::getegid(),
            groups,
        )
    }
}

#[test]
fn unprivileged_from_an_unprivileged_start_stays_as_it_is() {
    // The inner child starts unprivileged whoever runs the suite: as root, the outer
    // step drops to nobody first; as a user, both steps keep the user's ids.
    let (outer, inner) = Fork::new().unprivileged().run(|| {
        let outer = ids();
        let inner = Fork::new().unprivileged().run(ids);
        (outer, inner)
    });
    assert_eq!(inner, outer);
    let (uid, gid) = unprivileged_ids();
    assert_eq!((outer.0, outer.1, outer.2, outer.3), (uid, uid, gid, gid));
    assert_ne!(uid, 0);
}

#[test]
fn rootless_from_an_unprivileged_start_maps_root_to_the_caller() {
    require!(Feature::UnprivilegedUserNs);
    let (outer, uid, uid_map, gid_map) = Fork::new().unprivileged().run(|| {
        let outer = unsafe { (libc::geteuid(), libc::getegid()) };
        let (uid, uid_map, gid_map) = Fork::new().rootless().run(|| {
            (
                unsafe { libc::geteuid() },
                std::fs::read_to_string("/proc/self/uid_map").unwrap(),
                std::fs::read_to_string("/proc/self/gid_map").unwrap(),
            )
        });
        (outer, uid, uid_map, gid_map)
    });
    assert_eq!(outer, unprivileged_ids());
    assert_eq!(uid, 0);
    let fields = |map: &str| map.split_whitespace().map(String::from).collect::<Vec<_>>();
    assert_eq!(fields(&uid_map), ["0", &outer.0.to_string(), "1"]);
    assert_eq!(fields(&gid_map), ["0", &outer.1.to_string(), "1"]);
}

/// Runs `f` in a child whose fd 2 is a pipe, and returns what reached that pipe.
fn stderr_seen_by_parent_of(f: fn()) -> String {
    Fork::new().run(move || {
        let mut fds = [0; 2];
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        assert_eq!(unsafe { libc::dup2(fds[1], 2) }, 2);
        unsafe { libc::close(fds[1]) };
        f();
        let end = b"end\n";
        assert_eq!(unsafe { libc::write(2, end.as_ptr().cast(), end.len()) }, 4);
        let devnull = std::fs::File::open("/dev/null").unwrap();
        assert_eq!(
            unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&devnull), 2) },
            2
        );
        let mut seen = vec![0u8; 4096];
        let n = unsafe { libc::read(fds[0], seen.as_mut_ptr().cast(), seen.len()) };
        assert!(n > 0, "read: {}", std::io::Error::last_os_error());
        seen.truncate(n as usize);
        String::from_utf8(seen).unwrap()
    })
}

fn noisy_child(fork: Fork) {
    fork.run(|| {
        let status = std::process::Command::new("/bin/sh")
            .args(["-c", "echo 'sh: cannot create /x: Permission denied' >&2"])
            .status()
            .unwrap();
        assert!(status.success());
        let direct = b"written to fd 2\n";
        unsafe { libc::write(2, direct.as_ptr().cast(), direct.len()) };
    })
}

#[test]
fn captured_stderr_of_a_passing_child_is_not_shown() {
    let seen = stderr_seen_by_parent_of(|| noisy_child(Fork::new().capture_stderr()));
    assert_eq!(seen, "end\n");
    // Without the option the same child's text reaches the test's stderr.
    let seen = stderr_seen_by_parent_of(|| noisy_child(Fork::new()));
    assert_eq!(
        seen,
        "sh: cannot create /x: Permission denied\nwritten to fd 2\nend\n"
    );
}

#[test]
fn captured_stderr_is_attached_to_a_failure() {
    let err = std::panic::catch_unwind(|| {
        Fork::new().capture_stderr().run::<()>(|| {
            let status = std::process::Command::new("/bin/sh")
                .args(["-c", "echo 'the clue' >&2"])
                .status()
                .unwrap();
            assert!(status.success());
            panic!("the failure");
        })
    })
    .unwrap_err();
    let msg = err.downcast_ref::<String>().expect("string panic");
    assert!(
        msg.contains("the failure") && msg.contains("--- the child's stderr ---\nthe clue"),
        "{msg}"
    );
    // A failed setup step and a crash carry it too.
    let err = std::panic::catch_unwind(|| {
        Fork::new().capture_stderr().run(|| {
            let clue = b"before the crash\n";
            unsafe { libc::write(2, clue.as_ptr().cast(), clue.len()) };
            unsafe { libc::raise(libc::SIGKILL) }
        })
    })
    .unwrap_err();
    let msg = err.downcast_ref::<String>().expect("string panic");
    assert!(
        msg.contains("killed by signal 9") && msg.contains("before the crash"),
        "{msg}"
    );
}

#[test]
fn a_flood_on_captured_stderr_neither_blocks_nor_grows_without_bound() {
    let err = std::panic::catch_unwind(|| {
        Fork::new()
            .capture_stderr()
            .timeout(std::time::Duration::from_secs(20))
            .run::<()>(|| {
                // Far more than a pipe holds: the parent must keep reading.
                let line = [b'x'; 1024];
                for _ in 0..1024 {
                    let n = unsafe { libc::write(2, line.as_ptr().cast(), line.len()) };
                    assert_eq!(n, 1024);
                }
                panic!("after the flood");
            })
    })
    .unwrap_err();
    let msg = err.downcast_ref::<String>().expect("string panic");
    assert!(msg.contains("after the flood"), "{}", &msg[..200]);
    assert!(msg.contains("[... cut at 65536 bytes]"), "{}", msg.len());
    assert!(msg.len() < 70 * 1024, "{}", msg.len());
}

#[test]
fn root_status_tells_root_from_users_and_from_namespace_root() {
    let euid = unsafe { libc::geteuid() };
    let here = root_status();
    if euid == 0 {
        // The reference machine: real root.
        assert_eq!(here, RootStatus::Root);
    } else {
        assert_eq!(here, RootStatus::NotRoot { euid });
    }
    let nobody = Fork::new()
        .unprivileged()
        .run(|| root_status() == RootStatus::Root);
    assert!(!nobody);
    if !require(Feature::UnprivilegedUserNs) {
        return;
    }
    let inside = Fork::new().rootless().run(|| match root_status() {
        RootStatus::Lacking(why) => why,
        other => panic!("uid 0 of a user namespace taken for {other:?}"),
    });
    assert!(inside.contains("uid 0 of a user namespace"), "{inside}");
}

/// `require_root` in a child, with `LINCEPTION_REQUIRE_ALL` set or unset there:
/// `Ok(answer)` or `Err(panic message)`.
fn require_root_in(fork: Fork, require_all: bool) -> Result<bool, String> {
    fork.run(move || {
        // The child is single-threaded: nothing else reads the environment.
        unsafe {
            if require_all {
                std::env::set_var("LINCEPTION_REQUIRE_ALL", "1");
            } else {
                std::env::remove_var("LINCEPTION_REQUIRE_ALL");
            }
        }
        std::panic::catch_unwind(|| require_root("the test of require_root")).map_err(|p| {
            p.downcast_ref::<String>()
                .cloned()
                .unwrap_or_else(|| "<non-string panic>".into())
        })
    })
}

#[test]
fn require_root_skips_users_and_fails_a_powerless_root_under_require_all() {
    // An unprivileged run skips, REQUIRE_ALL or not.
    for require_all in [false, true] {
        assert_eq!(
            require_root_in(Fork::new().unprivileged(), require_all),
            Ok(false)
        );
    }
    if unsafe { libc::geteuid() } == 0 {
        assert_eq!(require_root_in(Fork::new(), true), Ok(true));
    }
    if !require(Feature::UnprivilegedUserNs) {
        return;
    }
    // uid 0 that is not the host's root: a skip, or a failure under REQUIRE_ALL.
    assert_eq!(require_root_in(Fork::new().rootless(), false), Ok(false));
    let failed = require_root_in(Fork::new().rootless(), true).unwrap_err();
    assert!(
        failed.contains("needs root (the test of require_root)")
            && failed.contains("uid 0 of a user namespace"),
        "{failed}"
    );
}

#[test]
fn require_routes_root_only_features_through_require_root() {
    for feature in [Feature::Root, Feature::MountSetattrIdmap] {
        let answer = Fork::new().unprivileged().run(move || {
            unsafe { std::env::set_var("LINCEPTION_REQUIRE_ALL", "1") };
            std::panic::catch_unwind(|| require(feature)).is_ok_and(|ok| !ok)
        });
        assert!(answer, "{} must skip, not fail, as a user", feature.name());
    }
}

#[test]
fn private_mount_namespace_does_not_propagate() {
    require!(Feature::Root);
    let before = leaks::mounts();
    let inside = Fork::new().unshare(libc::CLONE_NEWNS).run(|| {
        let ret = unsafe {
            libc::mount(
                c"none".as_ptr(),
                c"/mnt".as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                std::ptr::null(),
            )
        };
        assert_eq!(ret, 0, "{}", std::io::Error::last_os_error());
        leaks::mounts().len()
    });
    assert_eq!(inside, before.len() + 1);
    assert_eq!(leaks::mounts().len(), before.len());
}

#[test]
fn leak_check_catches_an_open_fd() {
    let caught = Fork::new().run(|| {
        std::panic::catch_unwind(|| {
            leaks::assert_no_leaks(|| std::mem::forget(std::fs::File::open("/").unwrap()))
        })
        .is_err()
    });
    assert!(caught);
    Fork::new().run(|| leaks::assert_no_leaks(|| drop(std::fs::File::open("/").unwrap())));
}

#[test]
fn every_probe_answers_on_this_machine() {
    // On the project's reference kernel (6.18, root) every probe must succeed; each
    // missing one is reported (and fails under LINCEPTION_REQUIRE_ALL=1).
    // Root-only ones skip with "needs root" in an unprivileged run.
    for feature in Feature::ALL {
        require(feature);
    }
}

#[test]
fn skips_are_reported_and_fail_under_require_all() {
    let missing = Err("no such thing".to_string());
    if linception_testkit::require_all() {
        let failed = std::panic::catch_unwind(|| {
            linception_testkit::require_custom("Imaginary", "99.0", missing.clone())
        });
        assert!(
            failed.is_err(),
            "a missing feature must fail under LINCEPTION_REQUIRE_ALL=1"
        );
    } else {
        assert!(!linception_testkit::require_custom(
            "Imaginary",
            "99.0",
            missing
        ));
    }
    assert!(linception_testkit::require_custom("Real", "1.0", Ok(())));
}

#[test]
fn probes_as_nobody_tell_missing_privilege_from_missing_kernel_support() {
    require!(Feature::Root, Feature::UnprivilegedUserNs);
    let answers = Fork::new().unprivileged().run(|| {
        Feature::ALL
            .iter()
            .map(|f| (f.name().to_string(), f.probe().is_ok()))
            .collect::<Vec<_>>()
    });
    let answer = |f: Feature| answers.iter().find(|(n, _)| n == f.name()).unwrap().1;
    // Privileged-only probes say no ...
    assert!(!answer(Feature::Root));
    assert!(!answer(Feature::MountSetattrIdmap));
    // ... while those that work inside a user namespace of one's own say yes.
    for f in [
        Feature::UnprivilegedUserNs,
        Feature::MountApi,
        Feature::SetTid,
        Feature::TimeNs,
        Feature::SeccompListener,
        Feature::PidfdOpen,
        Feature::Openat2,
    ] {
        assert!(answer(f), "{} should be available to uid 65534", f.name());
    }
}
