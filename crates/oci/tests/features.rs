//! `features` of the binary against the running kernel: each listed namespace
//! exists, the capability count is the kernel's, each seccomp action listed has
//! its effect in a container, cgroup and LSM answers follow what is mounted and
//! active; and the key set covers runc's.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::Value;

fn features() -> Value {
    let out = std::process::Command::new(ours_bin())
        .arg("features")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn namespaces_and_capabilities_are_the_kernels() {
    let f = features();
    let listed: BTreeSet<String> = strings(&f["linux"]["namespaces"]).into_iter().collect();
    let proc_name = |n: &str| match n {
        "mount" => "mnt".to_owned(),
        "network" => "net".to_owned(),
        other => other.to_owned(),
    };
    for n in &listed {
        let p = format!("/proc/self/ns/{}", proc_name(n));
        assert!(std::path::Path::new(&p).exists(), "{n} listed, {p} missing");
    }
    for n in [
        "mount", "pid", "network", "user", "ipc", "uts", "cgroup", "time",
    ] {
        let p = format!("/proc/self/ns/{}", proc_name(n));
        assert_eq!(listed.contains(n), std::path::Path::new(&p).exists(), "{n}");
    }
    let last: usize = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let caps = strings(&f["linux"]["capabilities"]);
    assert_eq!(caps.len(), last + 1, "{caps:?}");
    assert_eq!(caps[0], "CAP_CHOWN");
    assert_eq!(caps[21], "CAP_SYS_ADMIN");
    assert!(caps.iter().all(|c| c.starts_with("CAP_")));
}

#[test]
fn cgroup_lsm_and_idmap_answers_follow_the_system_and_the_caller() {
    let f = features();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let cgroup2_mounted = mountinfo.lines().any(|l| {
        l.split(" - ")
            .nth(1)
            .is_some_and(|t| t.starts_with("cgroup2 "))
    });
    let cg = &f["linux"]["cgroup"];
    assert_eq!(cg["v2"], cgroup2_mounted, "{cg}");
    assert_eq!(cg["v1"], false);
    assert_eq!(cg["systemd"], false);
    let lsm = std::fs::read_to_string("/sys/kernel/security/lsm").ok();
    if let Some(list) = lsm {
        let has = |m: &str| list.trim().split(',').any(|l| l == m);
        assert_eq!(f["linux"]["apparmor"]["enabled"], has("apparmor"));
        assert_eq!(f["linux"]["selinux"]["enabled"], has("selinux"));
    } else {
        // Without securityfs: what each module shows of itself.
        let apparmor = std::fs::read("/proc/self/attr/apparmor/current").is_ok();
        let selinux = std::path::Path::new("/sys/fs/selinux/enforce").exists();
        assert_eq!(f["linux"]["apparmor"]["enabled"], apparmor);
        assert_eq!(f["linux"]["selinux"]["enabled"], selinux);
    }
    // Idmapped binds of host directories need root: never offered to another user.
    let idmap = &f["linux"]["mountExtensions"]["idmap"]["enabled"];
    if !is_root() {
        assert_eq!(idmap, false);
    } else {
        assert_eq!(
            idmap,
            &Value::Bool(
                linception::features::Feature::MountSetattrIdmap
                    .available()
                    .is_ok()
            )
        );
    }
    assert_eq!(f["ociVersionMin"], "1.0.0");
    assert_eq!(f["ociVersionMax"], linception_oci::state::OCI_VERSION);
    assert_eq!(strings(&f["hooks"]).len(), 6);
}

/// Every key of `theirs` (objects, recursively) is in `ours`.
fn missing_keys(ours: &Value, theirs: &Value, at: &str, out: &mut Vec<String>) {
    if let (Some(o), Some(t)) = (ours.as_object(), theirs.as_object()) {
        for (k, v) in t {
            match o.get(k) {
                Some(mine) => missing_keys(mine, v, &format!("{at}.{k}"), out),
                None => out.push(format!("{at}.{k}")),
            }
        }
    }
}

#[test]
fn the_key_set_covers_runcs() {
    if !need("runc", "/usr/sbin/runc") {
        return;
    }
    let out = std::process::Command::new("/usr/sbin/runc")
        .arg("features")
        .output()
        .unwrap();
    assert!(out.status.success(), "runc features: {}", stderr(&out));
    let runc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut missing = Vec::new();
    // Annotations are each runtime's own.
    let mut theirs = runc.clone();
    theirs["annotations"] = serde_json::json!({});
    missing_keys(&features(), &theirs, "", &mut missing);
    assert!(missing.is_empty(), "keys runc has and we lack: {missing:?}");
}

/// Runs `sh -c 'mkdir /tmp/x && echo made'` under a seccomp rule giving
/// `action` to mkdir/mkdirat: the exit code and output.
fn with_action(action: &str) -> (Option<i32>, String) {
    let rt = Runtime::ours();
    let a = action.to_owned();
    let bundle = Bundle::new(false, move |c| {
        c["root"]["readonly"] = false.into();
        script(c, "mkdir /tmp/x && echo made");
        c["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": a, "errnoRet": 13}]
        });
    });
    let out = rt.run(&bundle, "sc");
    (out.status.code(), stdout(&out) + &stderr(&out))
}

#[test]
fn each_seccomp_action_listed_has_its_effect() {
    if !need("busybox-static", "/bin/busybox") {
        return;
    }
    let f = features();
    let sc = &f["linux"]["seccomp"];
    assert_eq!(sc["enabled"], true, "{sc}");
    let actions = strings(&sc["actions"]);
    for must in ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL"] {
        assert!(actions.iter().any(|a| a == must), "{must}: {actions:?}");
    }
    for a in &actions {
        let (code, out) = with_action(a);
        match a.as_str() {
            "SCMP_ACT_ALLOW" | "SCMP_ACT_LOG" => {
                assert_eq!((code, out.as_str()), (Some(0), "made\n"), "{a}")
            }
            // The errno given (EACCES), or ENOSYS with no tracer.
            "SCMP_ACT_ERRNO" | "SCMP_ACT_TRACE" => {
                assert_eq!(code, Some(1), "{a}: {out}");
                assert!(!out.contains("made"), "{a}: {out}");
            }
            // SIGSYS: 128 + 31.
            "SCMP_ACT_KILL"
            | "SCMP_ACT_KILL_THREAD"
            | "SCMP_ACT_KILL_PROCESS"
            | "SCMP_ACT_TRAP" => assert_eq!(code, Some(159), "{a}: {out}"),
            // Without linux.seccomp.listenerPath it is refused by name (the agent
            // that answers is tests/seccomp_notify.rs's).
            "SCMP_ACT_NOTIFY" => {
                assert_eq!(code, Some(1), "{a}: {out}");
                assert!(
                    out.contains("needs linux.seccomp.listenerPath"),
                    "{a}: {out}"
                );
            }
            other => panic!("an action the test does not know: {other}"),
        }
    }
    assert_eq!(strings(&sc["operators"]).len(), 7);
    assert!(!strings(&sc["archs"]).is_empty());
}
