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
        err.starts_with("linception-oci: linux.seccomp.architectures: ") && err.contains(compat),
        "{err}"
    );
    assert!(!rt.root.0.join("vf-compat").exists(), "state left behind");
    assert!(!process_with("mkdir=$?"), "a container was left running");
}

/// A process in a UTS namespace of its own (`unshare --uts`), killed on drop.
struct UtsHolder(std::process::Child);

impl UtsHolder {
    fn start() -> UtsHolder {
        let child = std::process::Command::new("unshare")
            .args(["--uts", "/bin/busybox", "sleep", "1000"])
            .spawn()
            .unwrap();
        let holder = UtsHolder(child);
        let ours = std::fs::read_link("/proc/self/ns/uts").unwrap();
        for _ in 0..500 {
            if std::fs::read_link(holder.ns()).is_ok_and(|l| l != ours) {
                return holder;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("unshare --uts never left our UTS namespace");
    }

    fn ns(&self) -> String {
        format!("/proc/{}/ns/uts", self.0.id())
    }
}

impl Drop for UtsHolder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_hostname_goes_to_a_joined_uts_namespace() {
    linception_testkit::require_root!("joining a UTS namespace another process made");
    if !need("busybox-static", "/bin/busybox") || !need("util-linux", "/usr/bin/unshare") {
        return;
    }
    let host_before = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let holder = UtsHolder::start();
    let ns = holder.ns();
    let bundle = Bundle::new(false, |c| {
        c["hostname"] = "vf-joined".into();
        let list = c["linux"]["namespaces"].as_array_mut().unwrap();
        list.retain(|n| n["type"] != "uts");
        list.push(json!({"type": "uts", "path": ns}));
        script(c, "hostname");
    });
    let rt = Runtime::ours();
    let out = rt.run(&bundle, "vf-uts");
    assert!(out.status.success(), "run: {}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "vf-joined");
    // The joined namespace took the name; the host's is untouched.
    let joined = std::process::Command::new("nsenter")
        .arg(format!("--uts={}", holder.ns()))
        .arg("hostname")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&joined.stdout).trim(), "vf-joined");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        host_before
    );
    // runc does the same.
    if need("runc", "/usr/sbin/runc") {
        let runc = Runtime::runc().run(&bundle, "vf-uts");
        assert!(runc.status.success(), "runc run: {}", stderr(&runc));
        assert_eq!(stdout(&runc).trim(), "vf-joined");
    }
}

#[test]
fn a_hostname_without_a_uts_namespace_is_still_refused() {
    if !need("busybox-static", "/bin/busybox") {
        return;
    }
    let bundle = Bundle::new(false, |c| {
        c["hostname"] = "vf-none".into();
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "uts");
    });
    let rt = Runtime::ours();
    let out = rt.create(&bundle, "vf-nouts");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("hostname \"vf-none\"")
            && stderr(&out).contains("needs Namespaces::UTS"),
        "{}",
        stderr(&out)
    );
    assert!(!rt.root.0.join("vf-nouts").exists(), "state left behind");
}

#[test]
fn a_failed_poststart_or_poststop_hook_does_not_stop_the_next_ones() {
    if !need("busybox-static", "/bin/busybox") {
        return;
    }
    let out = TempDir::new("vf-hooks");
    let log = out.0.join("log");
    let log_s = log.to_str().unwrap().to_owned();
    let bundle = Bundle::new(false, |c| {
        let fail = json!({"path": "/bin/busybox", "args": ["busybox", "false"]});
        let note = |what: &str| {
            json!({"path": "/bin/busybox",
                   "args": ["busybox", "sh", "-c", format!("echo {what} >> {log_s}")]})
        };
        c["hooks"] = json!({
            "poststart": [fail, note("poststart")],
            "poststop": [fail, note("poststop")],
        });
        script(c, "true");
    });
    let rt = Runtime::ours();
    let created = rt.create(&bundle, "vf-hooks");
    assert!(created.status.success(), "create: {}", stderr(&created));
    let st = rt.quiet(&["start", "vf-hooks"]);
    assert!(st.status.success(), "start: {}", stderr(&st));
    rt.wait_status("vf-hooks", "stopped");
    let del = rt.quiet(&["delete", "vf-hooks"]);
    assert!(del.status.success(), "delete: {}", stderr(&del));
    assert_eq!(
        std::fs::read_to_string(&log).unwrap_or_default(),
        "poststart\npoststop\n",
        "the hooks after the failed ones did not all run"
    );
}
