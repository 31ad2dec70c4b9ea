//! The opt-in phase profile of a spawn: every phase recorded in order, as root and
//! rootless; phases the container does not have left out; the refusals named.

mod common;

use std::time::Duration;

use common::{NS, TempDir, failure, modes, sh};
use linception::{Container, ContainerBuilder, Namespaces, SpawnProfile};
use linception_testkit::{Feature, Fork, require};

/// Spawns and waits for `b`, profiled; returns the profile.
fn profiled(b: ContainerBuilder) -> SpawnProfile {
    let mut c = b.profile().spawn().expect("spawn");
    let before_wait = *c.profile().expect("a profiled spawn has a profile");
    assert_eq!(before_wait.exited, None, "not reaped yet: {before_wait:?}");
    assert!(c.wait().expect("wait").success());
    *c.profile().expect("still there after wait")
}

/// The phases of a container with a user namespace and a root, in order.
fn check_full(p: &SpawnProfile) {
    assert!(p.prepare > Duration::ZERO, "{p:?}");
    let order = [
        ("cloned", Some(p.cloned)),
        ("maps_written", p.maps_written),
        ("released", p.released),
        ("mounts_done", p.mounts_done),
        ("pivot_root", p.pivot_root),
        ("seccomp", p.seccomp),
        ("execve", p.execve),
        ("exec_seen", p.exec_seen),
        ("exited", p.exited),
    ];
    let mut last = (String::from("clone3"), Duration::ZERO);
    for (name, t) in order {
        let t = t.unwrap_or_else(|| panic!("{name} missing: {p:?}"));
        assert!(
            t >= last.1,
            "{name} ({t:?}) before {} ({:?}): {p:?}",
            last.0,
            last.1
        );
        last = (name.to_owned(), t);
    }
    // The maps are written before the child is released (it waits for them).
    assert!(p.maps_written < p.released, "{p:?}");
    assert!(p.exited < Some(Duration::from_secs(30)), "{p:?}");
}

#[test]
fn every_phase_in_order() {
    require!(Feature::UserNs, Feature::MountApi);
    for unprivileged in modes() {
        let fork = if unprivileged {
            Fork::new().unprivileged()
        } else {
            Fork::new()
        };
        fork.run(|| check_full(&profiled(sh("true"))));
    }
}

#[test]
fn phases_a_container_lacks_are_none() {
    require!(Feature::UserNs);
    // No root: no pivot_root; the maps are still written.
    Fork::new().unprivileged().run(|| {
        let p = profiled(Container::builder("/bin/true").namespaces(NS));
        assert_eq!(p.pivot_root, None, "{p:?}");
        assert!(
            p.maps_written.is_some() && p.execve.is_some() && p.exec_seen.is_some(),
            "{p:?}"
        );
    });
    // No user namespace (root only): no maps.
    if linception_testkit::available(Feature::Root).is_ok() {
        Fork::new().run(|| {
            let p = profiled(
                Container::builder("/bin/true").namespaces(Namespaces::PID | Namespaces::UTS),
            );
            assert_eq!(p.maps_written, None, "{p:?}");
            assert_eq!(p.pivot_root, None, "{p:?}");
            assert!(
                p.released.is_some() && p.exec_seen.is_some() && p.exited.is_some(),
                "{p:?}"
            );
        });
    }
}

#[test]
fn an_unprofiled_spawn_has_no_profile() {
    require!(Feature::UserNs, Feature::MountApi);
    let none = Fork::new().unprivileged().run(|| {
        let mut c = sh("true").spawn().expect("spawn");
        c.wait().expect("wait");
        c.profile().is_none()
    });
    assert!(none);
}

#[test]
fn a_profiled_create_or_hook_is_refused_by_name() {
    require!(Feature::UserNs, Feature::MountApi);
    let dir = TempDir::new("profile-create");
    let socket = dir.0.join("start");
    let leftover = socket.clone();
    let text = Fork::new().run(move || {
        let e = sh("true")
            .profile()
            .create(&socket)
            .expect_err("a profiled create is refused");
        assert!(!socket.exists(), "no start socket left behind");
        e.to_string()
    });
    assert!(text.starts_with("invalid profile:"), "{text}");
    assert!(!leftover.exists());
    for unprivileged in modes() {
        let (kind, _, _, text) = failure(unprivileged, || {
            sh("true").profile().hook(
                linception::HookPoint::PostStart,
                linception::Hook::command("/bin/true"),
            )
        });
        assert_eq!(kind, "InvalidArgument", "{text}");
        assert!(text.starts_with("invalid profile:"), "{text}");
    }
}
