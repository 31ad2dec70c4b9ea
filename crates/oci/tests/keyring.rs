//! The container's session keyring, through runc and through linception-oci: by
//! default each container joins a session keyring of its own, `_ses.<id>`, as
//! runc's does; `--no-new-keyring` (which conmon passes when podman's
//! containers.conf says `keyring = false`) keeps the caller's.
//!
//! What the container sees: the test runs the runtimes from a forked child that
//! joined a fresh session keyring of its own, possessor-only (nobody but a process
//! holding it as its session keyring sees it in `/proc/keys`), and the bundle
//! leaves `/proc/keys` unmasked. Inside, the caller's keyring is listed only when
//! the container kept it, `_ses.<id>` only when the container joined it. Root and,
//! started by an unprivileged user, rootless (a user namespace).

mod common;

use common::*;
use linception::keyring_ns::{Permission, SessionPlan};

/// (caller's keyring seen, `_ses.<id>` seen) for each runtime: (ours, runc).
fn seen(no_new_keyring: bool) -> Vec<(String, String)> {
    linception_testkit::Fork::new().run(move || {
        let caller = format!("lc-oci-caller-{}", std::process::id());
        SessionPlan::named(&caller)
            .unwrap()
            .with_permissions(Permission::POSSESSOR_ALL)
            .join()
            .expect("join a session keyring of the test's");
        let mut out = Vec::new();
        for rt in [Runtime::ours(), Runtime::runc()] {
            let id = unique_id("keys");
            let bundle = Bundle::new(false, |c| {
                let masked = c["linux"]["maskedPaths"].as_array_mut().unwrap();
                masked.retain(|p| p != "/proc/keys");
                script(
                    c,
                    &format!("grep -c ' {caller}: ' /proc/keys; grep -c ' _ses.{id}: ' /proc/keys"),
                );
            });
            let mut cmd = rt.cmd();
            cmd.arg("run");
            if no_new_keyring {
                cmd.arg("--no-new-keyring");
            }
            let o = cmd
                .arg("--bundle")
                .arg(bundle.path())
                .arg(&id)
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap();
            // grep -c exits 1 on a count of 0: the counts say what happened.
            let text = stdout(&o);
            let mut lines = text.lines().map(str::to_owned);
            let pair = (
                lines.next().unwrap_or_else(|| stderr(&o)),
                lines.next().unwrap_or_default(),
            );
            out.push(pair);
        }
        out
    })
}

#[test]
fn each_container_joins_a_session_keyring_of_its_own_as_runcs() {
    if !need("busybox-static", "/bin/busybox") || !need("runc", "/usr/sbin/runc") {
        return;
    }
    let got = seen(false);
    let want = ("0".to_owned(), "1".to_owned());
    assert_eq!(got, vec![want.clone(), want], "(ours, runc)");
}

#[test]
fn no_new_keyring_keeps_the_callers_as_runcs() {
    if !need("busybox-static", "/bin/busybox") || !need("runc", "/usr/sbin/runc") {
        return;
    }
    let got = seen(true);
    let want = ("1".to_owned(), "0".to_owned());
    assert_eq!(got, vec![want.clone(), want], "(ours, runc)");
}
