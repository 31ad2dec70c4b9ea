//! Security knobs: capability rules checked up front, LSM exec labels, landlock.

mod common;

use common::{assert_no_children, sh, status_field, stdout_of};
use linception::{CapSet, Capabilities};
use linception_testkit::leaks::assert_no_leaks;
use linception_testkit::{Feature, Fork, require};

/// Spawns in a forked child under a leak check; returns the error's kind, step and
/// text.
fn failure(
    unprivileged: bool,
    build: impl FnOnce() -> linception::ContainerBuilder,
) -> (String, Option<String>, String) {
    let fork = if unprivileged {
        Fork::new().unprivileged()
    } else {
        Fork::new()
    };
    fork.run(|| {
        let b = build();
        let err = assert_no_leaks(|| b.spawn().expect_err("spawn should fail"));
        assert_no_children();
        (
            format!("{:?}", err.kind()),
            err.step().map(str::to_owned),
            err.to_string(),
        )
    })
}

/// Whether root tests can run here (else they are skipped by `require!`).
fn modes() -> Vec<bool> {
    let mut m = vec![true];
    if linception_testkit::available(Feature::Root).is_ok() {
        m.push(false);
    }
    m
}

#[test]
fn capability_rules_are_checked_before_spawn() {
    require!(Feature::UnprivilegedUserNs);
    let k = CapSet::KILL;
    let c = CapSet::CHOWN;
    for (caps, needle) in [
        (
            Capabilities {
                effective: k | c,
                ..Capabilities::only(k)
            },
            "effective capabilities",
        ),
        (
            Capabilities {
                inheritable: k | c,
                ..Capabilities::only(k)
            },
            "must be in the bounding set",
        ),
        (Capabilities::only(k).ambient(c), "must be permitted"),
        (
            Capabilities {
                inheritable: CapSet::empty(),
                ..Capabilities::only(k)
            }
            .ambient(k),
            "must be inheritable",
        ),
        (
            Capabilities::only(CapSet::from_bits_retain(1 << 63)),
            "above cap_last_cap",
        ),
    ] {
        for unprivileged in modes() {
            let (kind, step, text) = failure(unprivileged, move || sh("true").capabilities(caps));
            assert_eq!(kind, "InvalidArgument", "{caps:?}: {text}");
            assert_eq!(step, None, "{text}");
            assert!(text.contains(needle), "{text:?} lacks {needle:?}");
        }
    }
    // What the rules allow runs, rootless too.
    let out = Fork::new().unprivileged().run(|| {
        stdout_of(
            sh("grep -E '^Cap(Eff|Inh|Amb)' /proc/self/status")
                .capabilities(Capabilities::only(k | c).ambient(k)),
        )
    });
    assert_eq!(status_field(&out, "CapInh"), "0000000000000021", "{out}");
    assert_eq!(status_field(&out, "CapAmb"), "0000000000000020", "{out}");
}

/// Whether an LSM is active, the way the spawn decides it.
fn lsm_active(name: &str) -> bool {
    match std::fs::read_to_string("/sys/kernel/security/lsm") {
        Ok(list) => list.trim().split(',').any(|l| l == name),
        Err(_) => match name {
            "apparmor" => std::fs::read("/proc/self/attr/apparmor/current").is_ok(),
            _ => std::path::Path::new("/sys/fs/selinux/enforce").exists(),
        },
    }
}

#[test]
fn exec_labels_of_an_inactive_lsm_are_unsupported() {
    require!(Feature::UnprivilegedUserNs);
    type Build = fn() -> linception::ContainerBuilder;
    let cases: [(&str, Build); 2] = [
        ("apparmor", || {
            sh("true").apparmor_profile("linception-test")
        }),
        ("selinux", || {
            sh("true").selinux_label("system_u:system_r:container_t:s0")
        }),
    ];
    let mut checked = 0;
    for (lsm, build) in cases {
        if lsm_active(lsm) {
            // Loading a profile or policy would change the host: the refusal of
            // one the kernel does not have is checked instead.
            let (kind, step, text) = failure(true, move || match lsm {
                "apparmor" => sh("true").apparmor_profile("linception-no-such-profile"),
                _ => sh("true").selinux_label("linception_no_such_u:r:t:s0"),
            });
            assert_eq!(kind, "Setup", "{text}");
            assert!(step.unwrap().contains("/proc/self/attr/"), "{text}");
            checked += 1;
            continue;
        }
        for unprivileged in modes() {
            let (kind, step, text) = failure(unprivileged, build);
            assert_eq!(kind, "Unsupported", "{text}");
            assert_eq!(step, None, "{text}");
            assert!(text.contains("not an active LSM"), "{text}");
            checked += 1;
        }
    }
    assert!(checked >= 2);
}

#[test]
fn bad_exec_labels_are_refused_whatever_the_lsm() {
    require!(Feature::UnprivilegedUserNs);
    type Build = fn() -> linception::ContainerBuilder;
    let cases: [(Build, &str); 4] = [
        (|| sh("true").apparmor_profile(""), "AppArmor profile \"\""),
        (|| sh("true").apparmor_profile("a\nb"), "newline"),
        (|| sh("true").selinux_label("a\0b"), "NUL"),
        (
            || sh("true").selinux_label("x".repeat(5000)),
            "longer than 4095",
        ),
    ];
    for (build, needle) in cases {
        let (kind, step, text) = failure(true, build);
        assert_eq!(kind, "InvalidArgument", "{text}");
        assert_eq!(step, None, "{text}");
        assert!(text.contains(needle), "{text:?} lacks {needle:?}");
    }
}
