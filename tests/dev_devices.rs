//! A device at one of `Mount::dev`'s own paths (a default node, the `ptmx` link)
//! takes that path's place, as an OCI config's devices replace a runtime's
//! defaults (podman's `--privileged` lists the host's `null`, `zero`, `ptmx`...).
//! Root only: the nodes are made with mknod, outside a user namespace. There
//! `Mount::dev`'s own nodes are made too, or bound from the host where the kernel
//! refuses mknod.

mod common;

use common::stdout_of;
use linception::{Container, Device, Mount, Namespaces, RootFs};
use linception_testkit::Fork;

#[test]
fn a_device_at_a_dev_default_path_takes_its_place() {
    if !linception_testkit::require_root("device nodes made with mknod") {
        return;
    }
    let out = Fork::new().run(|| {
        stdout_of(
            Container::builder("/bin/sh")
                .args([
                    "-c",
                    "stat -c '%n %F %t:%T %a' /dev/null /dev/ptmx /dev/zero; \
                     echo x > /dev/null && echo written; stat -c '%N' /dev/fd",
                ])
                .namespaces(common::NS - Namespaces::USER)
                .root(RootFs::Tmpfs)
                .mounts(Mount::host_system())
                .mount(Mount::proc("/proc"))
                .mount(Mount::dev("/dev"))
                .device(Device::char("/dev/null", 1, 3).mode(0o600))
                .device(Device::char("/dev/ptmx", 5, 2).mode(0o666)),
        )
    });
    // /dev/zero is still the default (made, mode 0666); /dev/fd the link.
    assert_eq!(
        out,
        "/dev/null character special file 1:3 600\n\
         /dev/ptmx character special file 5:2 666\n\
         /dev/zero character special file 1:5 666\n\
         written\n'/dev/fd' -> '/proc/self/fd'\n"
    );
}

/// `Mount::dev`'s nodes outside a user namespace are made with mknod, as an OCI
/// runtime makes them (no mount each); where the kernel refuses mknod (the caller
/// lost `CAP_MKNOD`), the host's nodes are bound on files instead, as runc does.
/// Either way each is the right device, and usable.
#[test]
fn dev_nodes_are_made_or_bound_where_mknod_is_refused() {
    if !linception_testkit::require_root("device nodes made with mknod") {
        return;
    }
    let nodes = ["null", "zero", "full", "random", "urandom", "tty"];
    let script = "for n in null zero full random urandom tty; do \
                  stat -c '%n %F %t:%T %a' /dev/$n; done; \
                  grep -c ' /dev/\\(null\\|zero\\|full\\|random\\|urandom\\|tty\\) ' \
                  /proc/self/mountinfo; \
                  head -c 2 /dev/zero | od -An -tx1; echo x > /dev/null && echo written";
    for lose_mknod in [false, true] {
        let out = Fork::new().run(move || {
            if lose_mknod {
                use rustix::thread::{self as th, CapabilitySet as K};
                th::remove_capability_from_bounding_set(K::MKNOD).expect("PR_CAPBSET_DROP");
                let mut sets = th::capabilities(None).expect("capget");
                sets.permitted -= K::MKNOD;
                sets.effective -= K::MKNOD;
                th::set_capabilities(None, sets).expect("capset");
            }
            stdout_of(
                Container::builder("/bin/sh")
                    .args(["-c", script])
                    .namespaces(common::NS - Namespaces::USER)
                    .root(RootFs::Tmpfs)
                    .mounts(Mount::host_system())
                    .mount(Mount::proc("/proc"))
                    .mount(Mount::dev("/dev"))
                    .capabilities(linception::Capabilities::only(linception::CapSet::empty())),
            )
        });
        let mut want = String::new();
        for name in nodes {
            // The same device as the host's node; a bound node keeps the host's
            // mode, a made one is 0666.
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            let host = std::fs::metadata(format!("/dev/{name}")).unwrap();
            let (major, minor) = (
                rustix::fs::major(host.rdev()),
                rustix::fs::minor(host.rdev()),
            );
            let mode = if lose_mknod {
                host.permissions().mode() & 0o7777
            } else {
                0o666
            };
            want += &format!("/dev/{name} character special file {major:x}:{minor:x} {mode:o}\n");
        }
        want += &format!("{}\n 00 00\nwritten\n", if lose_mknod { 6 } else { 0 });
        assert_eq!(out, want, "CAP_MKNOD lost: {lose_mknod}");
    }
}
