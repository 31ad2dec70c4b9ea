//! What the OCI runtime validation suite (runtime-tools) found, each fix checked on
//! its own: the suite's default config (a seccomp profile listing x86_64 with its
//! compat ABIs, `noNewPrivileges` false, capabilities without `CAP_SYS_ADMIN`) runs,
//! and its filter holds. See `validation/README.md`.

mod common;

use common::*;
use serde_json::{Value, json};

/// The native seccomp architecture with its compat ABIs, as profiles list them.
fn profile_architectures() -> Value {
    if cfg!(target_arch = "aarch64") {
        json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
    } else {
        json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
    }
}

/// The suite's kind of config: no `no_new_privs`, the runtime-spec default
/// capabilities (no `CAP_SYS_ADMIN`), a profile that allows all but `mkdir`.
fn suite_like(c: &mut Value) {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    c["process"]["noNewPrivileges"] = false.into();
    c["process"]["capabilities"] = json!({
        "bounding": caps, "effective": caps, "permitted": caps,
        "inheritable": caps, "ambient": []
    });
    c["root"]["readonly"] = false.into();
    c["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": profile_architectures(),
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    });
    script(
        c,
        "mkdir /tmp/denied 2>/dev/null; echo mkdir=$?; \
         grep -E '^(NoNewPrivs|Seccomp|CapEff):' /proc/self/status",
    );
}

/// What the container reported, as `key=value` / `Key:\tvalue` lines.
fn report(rt: &Runtime, id: &str) -> String {
    let bundle = Bundle::new(false, suite_like);
    let out = rt.run(&bundle, id);
    assert!(
        out.status.success(),
        "{} run: {}",
        rt.bin.display(),
        stderr(&out)
    );
    assert!(
        !bundle.path().join("rootfs/tmp/denied").exists(),
        "the filter let mkdir through"
    );
    stdout(&out)
}

#[test]
fn a_profile_without_no_new_privs_or_sys_admin_is_installed_and_holds() {
    if !need("busybox-static", "/bin/busybox") {
        return;
    }
    let ours = report(&Runtime::ours(), "vf-seccomp");
    assert!(ours.contains("mkdir=1"), "{ours}");
    assert!(ours.contains("NoNewPrivs:\t0"), "{ours}");
    assert!(ours.contains("Seccomp:\t2"), "{ours}");
    // runc (root only here: its rootless mode needs more than this bundle gives)
    // reports the same.
    if is_root() && need("runc", "/usr/sbin/runc") {
        let runc = report(&Runtime::runc(), "vf-seccomp");
        assert_eq!(ours, runc, "ours:\n{ours}\nrunc:\n{runc}");
    }
}

#[test]
fn compat_abis_without_the_native_one_are_refused_by_field() {
    if !need("busybox-static", "/bin/busybox") {
        return;
    }
    let rt = Runtime::ours();
    let compat = if cfg!(target_arch = "aarch64") {
        "SCMP_ARCH_ARM"
    } else {
        "SCMP_ARCH_X86"
    };
    let bundle = Bundle::new(false, |c| {
        suite_like(c);
        c["linux"]["seccomp"]["architectures"] = json!([compat]);
    });
    let out = rt.create(&bundle, "vf-compat");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with("linception-oci: linux.seccomp.architectures: ")
            && err.contains(compat),
        "{err}"
    );
    assert!(!rt.root.0.join("vf-compat").exists(), "state left behind");
    assert!(!process_with("mkdir=$?"), "a container was left running");
}
