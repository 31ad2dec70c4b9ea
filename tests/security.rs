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
