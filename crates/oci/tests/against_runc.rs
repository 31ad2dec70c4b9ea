//! The same bundle through runc and through linception-oci: what the container
//! reports from inside, and what `state` says at each step, must be the same.
//!
//! Known difference, checked as such: linception mounts every new filesystem
//! `nosuid,nodev` (proc and `/dev` also `noexec`) whatever the config's options,
//! where runc applies only the options listed; the mount points and types agree.

mod common;

use common::*;

/// What the container reports from inside.
const PROBE: &str = "id -u; id -g; hostname; grep -E '^Cap(Eff|Prm|Bnd|Inh|Amb)' /proc/self/status; \
    grep NoNewPrivs /proc/self/status; ulimit -n; \
    awk '$2 == \"/proc\" || $2 == \"/dev\" {print $2, $3}' /proc/self/mounts; \
    cat /proc/kcore 2>&1 | wc -c; touch /proc/sys/x 2>&1 >/dev/null | grep -c Read-only; exit 5";

fn needs() -> bool {
    need("busybox-static", "/bin/busybox") && need("runc", "/usr/sbin/runc")
}

fn same_inside(rootless: bool) {
    if !needs() {
        return;
    }
    let bundle = Bundle::new(rootless, |c| script(c, PROBE));
    let id = unique_id("cmp");
    let ours = Runtime::ours().run(&bundle, &id);
    let runc = Runtime::runc().run(&bundle, &id);
    assert_eq!(runc.status.code(), Some(5), "runc: {}", stderr(&runc));
    assert_eq!(ours.status.code(), Some(5), "ours: {}", stderr(&ours));
    let (o, r) = (stdout(&ours), stdout(&runc));
    assert!(o.lines().count() >= 12, "{o}");
    assert_eq!(o, r, "ours:\n{o}\nrunc:\n{r}");
}

#[test]
fn the_container_sees_what_runc_gives_it() {
    // Without a user namespace only root can create the container; the next test
    // is the rootless run.
    linception_testkit::require_root!("a container without a user namespace");
    same_inside(false);
}

#[test]
fn the_container_sees_what_runc_gives_it_with_a_user_namespace() {
    same_inside(true);
}

/// The fields of `state` both runtimes must agree on (runc adds rootfs, created, owner).
fn fields(s: &serde_json::Value) -> (String, String, String, bool, bool) {
    (
        s["id"].as_str().unwrap_or_default().to_owned(),
        s["status"].as_str().unwrap_or_default().to_owned(),
        s["bundle"].as_str().unwrap_or_default().to_owned(),
        s["pid"].as_i64().unwrap_or(0) > 0,
        s["ociVersion"].is_string(),
    )
}

#[test]
fn state_says_what_runc_says_at_each_step() {
    if !needs() {
        return;
    }
    // One id for both (state is compared field by field), and so a cgroup path of
    // each runtime's own: the default, /<id>, would be one cgroup for both.
    let bundle_of = |who: &str| {
        let path = format!("/lc-st-{who}-{}", std::process::id());
        Bundle::new(!is_root(), |c| {
            script(c, "exec sleep 1000");
            if is_root() {
                c["linux"]["cgroupsPath"] = path.into();
            }
        })
    };
    let bundles = [bundle_of("ours"), bundle_of("runc")];
    let (ours, runc) = (Runtime::ours(), Runtime::runc());
    for (rt, bundle) in [&ours, &runc].into_iter().zip(&bundles) {
        let out = rt.create(bundle, "st");
        assert!(
            out.status.success(),
            "{:?} create: {}",
            rt.bin,
            stderr(&out)
        );
    }
    let step = |what: &str| {
        let (o, r) = (ours.state("st"), runc.state("st"));
        let (mut fo, mut fr) = (fields(&o), fields(&r));
        // Each its own bundle; the rest the same.
        assert_eq!(
            fo.2,
            bundles[0].path().to_str().unwrap(),
            "{what}: ours {o}"
        );
        assert_eq!(
            fr.2,
            bundles[1].path().to_str().unwrap(),
            "{what}: runc {r}"
        );
        (fo.2, fr.2) = (String::new(), String::new());
        assert_eq!(fo, fr, "{what}: ours {o} runc {r}");
        fo
    };
    assert_eq!(step("created").1, "created");
    for rt in [&ours, &runc] {
        let out = rt.quiet(&["start", "st"]);
        assert!(out.status.success(), "{:?} start: {}", rt.bin, stderr(&out));
    }
    assert_eq!(step("running").1, "running");
    for rt in [&ours, &runc] {
        let out = rt.quiet(&["kill", "st", "KILL"]);
        assert!(out.status.success(), "{:?} kill: {}", rt.bin, stderr(&out));
        rt.wait_status("st", "stopped");
    }
    let stopped = step("stopped");
    assert_eq!((stopped.1.as_str(), stopped.3), ("stopped", false));
    for rt in [&ours, &runc] {
        let out = rt.quiet(&["delete", "st"]);
        assert!(
            out.status.success(),
            "{:?} delete: {}",
            rt.bin,
            stderr(&out)
        );
        let gone = rt.quiet(&["state", "st"]);
        assert_ne!(gone.status.code(), Some(0), "{:?}", rt.bin);
    }
}
