use linception_testkit::{Feature, Fork, NOBODY, leaks, require};

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
    assert_eq!(fields, ["0", "65534", "1"]);
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
    for feature in Feature::ALL {
        let answer = feature.probe().map_err(|missing| missing.to_string());
        linception_testkit::require_custom(feature.name(), feature.min_kernel(), answer);
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
