//! Namespaces and network basics: the loopback of a new network namespace, joined
//! namespaces, sysctls written inside.

mod common;

use common::{NS, assert_no_children, sh, stdout_of};
use linception::{Loopback, Mount, Namespaces};
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

/// Rootless always; as root too when the suite runs as root.
fn modes() -> Vec<bool> {
    let mut m = vec![true];
    if linception_testkit::available(Feature::Root).is_ok() {
        m.push(false);
    }
    m
}

/// The flags of `lo` (from sysfs, mounted in the container's network namespace).
fn lo_flags(unprivileged: bool, loopback: Option<Loopback>) -> u32 {
    let fork = if unprivileged {
        Fork::new().unprivileged()
    } else {
        Fork::new()
    };
    let out = fork.run(move || {
        let mut b = sh("cat /sys/class/net/lo/flags")
            .namespaces(NS | Namespaces::NET)
            .mount(Mount::filesystem("sysfs", "/sys").read_only());
        if let Some(l) = loopback {
            b = b.loopback(l);
        }
        stdout_of(b)
    });
    u32::from_str_radix(out.trim().trim_start_matches("0x"), 16).expect("hex flags")
}

#[test]
fn loopback_is_up_by_default_and_down_on_request() {
    require!(Feature::UnprivilegedUserNs);
    let up = libc::IFF_UP as u32;
    for unprivileged in modes() {
        let flags = lo_flags(unprivileged, None);
        assert_eq!(flags & up, up, "lo not up: {flags:#x}");
        assert_eq!(flags & up, lo_flags(unprivileged, Some(Loopback::Up)) & up);
        let flags = lo_flags(unprivileged, Some(Loopback::Down));
        assert_eq!(flags & up, 0, "lo up: {flags:#x}");
        assert_ne!(flags & libc::IFF_LOOPBACK as u32, 0, "{flags:#x}");
    }
}

#[test]
fn loopback_of_a_shared_network_is_refused() {
    require!(Feature::UnprivilegedUserNs);
    for unprivileged in modes() {
        for l in [Loopback::Up, Loopback::Down] {
            let (kind, step, text) = failure(unprivileged, move || sh("true").loopback(l));
            assert_eq!(kind, "InvalidArgument", "{text}");
            assert_eq!(step, None);
            assert!(text.contains("without Namespaces::NET"), "{text}");
        }
    }
}
