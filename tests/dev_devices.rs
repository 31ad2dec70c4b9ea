//! A device at one of `Mount::dev`'s own paths (a default node, the `ptmx` link)
//! takes that path's place, as an OCI config's devices replace a runtime's
//! defaults (podman's `--privileged` lists the host's `null`, `zero`, `ptmx`...).
//! Root only: the nodes are made with mknod, outside a user namespace.

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
    // /dev/zero is still the default (the host's node, bound); /dev/fd the link.
    let zero = std::fs::metadata("/dev/zero").unwrap();
    let zero_mode = std::os::unix::fs::PermissionsExt::mode(&zero.permissions()) & 0o7777;
    assert_eq!(
        out,
        format!(
            "/dev/null character special file 1:3 600\n\
             /dev/ptmx character special file 5:2 666\n\
             /dev/zero character special file 1:5 {zero_mode:o}\n\
             written\n'/dev/fd' -> '/proc/self/fd'\n"
        )
    );
}
