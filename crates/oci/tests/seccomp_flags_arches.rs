//! `linux.seccomp.flags` and `linux.seccomp.architectures` against the kernel, and
//! against runc where it runs: each flag installs and the filter holds; flags the
//! runtime does not take are refused by name before anything is made; the compat
//! ABIs a profile lists (i386 `int 0x80`, x32) get the profile's rules with their
//! own syscall numbers, and an ABI it does not list is killed.

mod common;

use common::*;
use serde_json::{Value, json};

/// `sh -c 'mkdir /tmp/denied; ...'` under a profile denying mkdir, with `flags`.
fn with_flags(c: &mut Value, flags: &[&str]) {
    c["root"]["readonly"] = false.into();
    c["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": flags,
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    });
    script(
        c,
        "mkdir /tmp/denied 2>/dev/null; echo mkdir=$?; \
         grep -E '^(Seccomp|Speculation_Store_Bypass):' /proc/self/status",
    );
}

#[test]
fn each_flag_installs_and_the_filter_holds_as_with_runc() {
    if !need("busybox-static", "/bin/busybox") {
        return;
    }
    let cases: [&[&str]; 5] = [
        &[],
        &["SECCOMP_FILTER_FLAG_TSYNC"],
        &["SECCOMP_FILTER_FLAG_LOG"],
        &["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
        &[
            "SECCOMP_FILTER_FLAG_TSYNC",
            "SECCOMP_FILTER_FLAG_LOG",
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        ],
    ];
    let runc = is_root() && need("runc", "/usr/sbin/runc");
    // runc 1.1 refuses every flag ("seccomp flags are not yet supported by runc");
    // a newer one lists those it takes in `features`: compared for those.
    let runc_flags: Vec<String> = if runc {
        let out = std::process::Command::new("/usr/sbin/runc")
            .arg("features")
            .output()
            .unwrap();
        let f: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        f["linux"]["seccomp"]["supportedFlags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    } else {
        Vec::new()
    };
    let mut first = None;
    for flags in cases {
        let bundle = Bundle::new(false, |c| with_flags(c, flags));
        let out = Runtime::ours().run(&bundle, &unique_id("scf"));
        assert!(out.status.success(), "{flags:?}: {}", stderr(&out));
        let ours = stdout(&out);
        assert!(ours.contains("mkdir=1\n"), "{flags:?}: {ours}");
        assert!(ours.contains("Seccomp:\t2\n"), "{flags:?}: {ours}");
        // The speculation state is the same with and without SPEC_ALLOW on a
        // kernel that does not force the mitigation for seccomp (this one: the
        // line without the flag is the reference).
        let first = first.get_or_insert_with(|| ours.clone());
        if flags.contains(&"SECCOMP_FILTER_FLAG_SPEC_ALLOW") && !first.contains("force mitigated") {
            assert_eq!(&ours, first, "{flags:?}");
        }
        if runc && flags.iter().all(|f| runc_flags.iter().any(|r| r == f)) {
            let theirs = Runtime::runc().run(&bundle, &unique_id("scf"));
            assert!(
                theirs.status.success(),
                "runc {flags:?}: {}",
                stderr(&theirs)
            );
            assert_eq!(ours, stdout(&theirs), "{flags:?}");
        }
    }
}

#[test]
fn flags_the_runtime_does_not_take_are_refused_by_name() {
    if !need("busybox-static", "/bin/busybox") {
        return;
    }
    let cases = [
        ("SECCOMP_FILTER_FLAG_NEW_LISTENER", "is the runtime's own"),
        ("SECCOMP_FILTER_FLAG_TSYNC_ESRCH", "is the runtime's own"),
        (
            "SECCOMP_FILTER_FLAG_BOGUS",
            "not a seccomp flag this runtime knows",
        ),
        (
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
            "needs a rule with SCMP_ACT_NOTIFY",
        ),
    ];
    let rt = Runtime::ours();
    // A script of this test's own: its shell, left running, would show it (the
    // other tests' containers run with_flags' script at the same time).
    let marker = format!("scf-refused-{}", std::process::id());
    for (flag, says) in cases {
        let bundle = Bundle::new(false, |c| {
            with_flags(c, &["SECCOMP_FILTER_FLAG_LOG", flag]);
            script(c, &format!("sleep 1000; echo {marker}"));
        });
        let id = unique_id("scf-bad");
        let out = rt.create(&bundle, &id);
        assert_eq!(out.status.code(), Some(1), "{flag}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.starts_with("linception-oci: linux.seccomp.flags: ")
                && err.contains(flag)
                && err.contains(says),
            "{flag}: {err}"
        );
        assert!(!rt.root.0.join(&id).exists(), "{flag}: state left behind");
        assert!(
            !process_with(&marker),
            "{flag}: a container was left running"
        );
    }
}

/// A static x86_64 program that calls getpid through each ABI named in its
/// arguments (x86_64: `syscall`, i386: `int 0x80`, x32: `syscall` with
/// `__X32_SYSCALL_BIT`) and prints `ABI pid` or `ABI -ERRNO`, one line each, flushed
/// before the next call (a killed call ends the output).
const ABIS_C: &str = r#"
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <sys/syscall.h>
static long i386_getpid(void) {
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory", "r8", "r9", "r10", "r11");
    return r;
}
int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        long r;
        if (!strcmp(argv[i], "i386")) {
            r = i386_getpid();
        } else {
            long nr = SYS_getpid | (!strcmp(argv[i], "x32") ? 0x40000000L : 0);
            r = syscall(nr);
            if (r < 0) r = -errno;
        }
        if (r > 0)
            printf("%s pid\n", argv[i]);
        else
            printf("%s %ld\n", argv[i], r);
        fflush(stdout);
    }
    return 0;
}
"#;

/// Builds ABIS_C into `rootfs/bin/abis` of the bundle: false (with a SKIP) when
/// there is no C compiler able to link statically, or no i386 emulation.
fn build_abis(bundle: &Bundle) -> bool {
    let dir = bundle.path();
    std::fs::write(dir.join("abis.c"), ABIS_C).unwrap();
    let exe = dir.join("rootfs/bin/abis");
    let built = std::process::Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(&exe)
        .arg(dir.join("abis.c"))
        .output();
    let ok = built.as_ref().is_ok_and(|o| o.status.success());
    let reason = match &built {
        Err(e) => format!("no C compiler (cc: {e})"),
        Ok(o) if !ok => format!("cc -static failed: {}", String::from_utf8_lossy(&o.stderr)),
        Ok(_) => String::new(),
    };
    let probe = if !ok {
        Err(reason)
    } else {
        // Unfiltered, the i386 getpid must answer a pid.
        let run = std::process::Command::new(&exe)
            .arg("i386")
            .output()
            .unwrap();
        match String::from_utf8_lossy(&run.stdout).as_ref() {
            "i386 pid\n" => Ok(()),
            other => Err(format!("no i386 emulation (int 0x80 getpid: {other:?})")),
        }
    };
    linception_testkit::require_custom("a static C build with int 0x80", "-", probe)
}

/// A profile denying getpid with EACCES, for these ABIs; runs `abis` with `calls`.
fn abis_bundle(arches: &[&str], calls: &[&str]) -> Option<Bundle> {
    let calls: Vec<String> = std::iter::once("/bin/abis")
        .chain(calls.iter().copied())
        .map(str::to_owned)
        .collect();
    let bundle = Bundle::new(false, |c| {
        c["process"]["args"] = json!(calls);
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": arches,
            "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
        });
    });
    build_abis(&bundle).then_some(bundle)
}

/// Runs the bundle with ours (and runc when root): exit code and output, equal.
fn run_both(bundle: &Bundle) -> (Option<i32>, String) {
    let out = Runtime::ours().run(bundle, &unique_id("sca"));
    let ours = (out.status.code(), stdout(&out));
    if is_root() && need("runc", "/usr/sbin/runc") {
        let theirs = Runtime::runc().run(bundle, &unique_id("sca"));
        assert_eq!(
            ours,
            (theirs.status.code(), stdout(&theirs)),
            "ours (stderr {}) vs runc (stderr {})",
            stderr(&out),
            stderr(&theirs)
        );
    }
    ours
}

#[cfg(target_arch = "x86_64")]
#[test]
fn compat_abis_a_profile_lists_get_its_rules_with_their_numbers() {
    if !need("busybox-static", "/bin/busybox") {
        return;
    }
    let Some(bundle) = abis_bundle(
        &["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        &["x86_64", "i386", "x32"],
    ) else {
        return;
    };
    let (code, out) = run_both(&bundle);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out, "x86_64 -13\ni386 -13\nx32 -13\n");
}

#[cfg(target_arch = "x86_64")]
#[test]
fn an_abi_the_profile_does_not_list_is_killed() {
    if !need("busybox-static", "/bin/busybox") {
        return;
    }
    // i386 not listed: its getpid is killed (SIGSYS: 128 + 31), after the others
    // got the rule.
    let Some(bundle) = abis_bundle(
        &["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
        &["x86_64", "x32", "i386"],
    ) else {
        return;
    };
    let (code, out) = run_both(&bundle);
    assert_eq!(code, Some(159), "{out}");
    assert_eq!(out, "x86_64 -13\nx32 -13\n");
    // x32 not listed either (the native ABI alone): killed too.
    let Some(bundle) = abis_bundle(&["SCMP_ARCH_X86_64"], &["x86_64", "x32"]) else {
        return;
    };
    let (code, out) = run_both(&bundle);
    assert_eq!(code, Some(159), "{out}");
    assert_eq!(out, "x86_64 -13\n");
}

/// `features`: `knownFlags` are the flags the config mapping takes (a known flag is
/// never refused as unknown), `supportedFlags` those the kernel takes: each one
/// listed runs in a container, each known one not listed is refused by name.
#[test]
fn features_lists_the_flags_the_mapping_knows_and_the_kernel_takes() {
    if !need("busybox-static", "/bin/busybox") {
        return;
    }
    let out = std::process::Command::new(ours_bin())
        .arg("features")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let f: Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = |k: &str| -> Vec<String> {
        f["linux"]["seccomp"][k]
            .as_array()
            .unwrap_or_else(|| panic!("{k}: {f}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let (known, supported) = (list("knownFlags"), list("supportedFlags"));
    for flag in [
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ] {
        assert!(known.iter().any(|k| k == flag), "{flag}: {known:?}");
    }
    assert!(supported.iter().all(|s| known.contains(s)), "{supported:?}");
    let rt = Runtime::ours();
    for flag in &known {
        // WAIT_KILLABLE_RECV goes with a notifying rule (tests/seccomp_notify.rs has
        // the agent): alone it is refused for that, not as unknown.
        let bundle = Bundle::new(false, |c| with_flags(c, &[flag.as_str()]));
        let out = rt.run(&bundle, &unique_id("scf-feat"));
        let err = stderr(&out);
        assert!(!err.contains("not a seccomp flag"), "{flag}: {err}");
        if flag == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" {
            assert!(err.contains("needs a rule with SCMP_ACT_NOTIFY"), "{err}");
        } else if supported.contains(flag) {
            assert!(out.status.success(), "{flag}: {err}");
            assert!(stdout(&out).contains("mkdir=1\n"), "{flag}");
        } else {
            assert!(
                err.contains("the running kernel does not take it"),
                "{flag}: {err}"
            );
        }
    }
    assert_eq!(
        list("archs"),
        if cfg!(target_arch = "x86_64") {
            vec!["SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"]
        } else {
            vec!["SCMP_ARCH_AARCH64"]
        }
    );
}

/// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV` with a notifying rule: the config (which
/// oci-spec cannot hold the flag of) runs, the agent gets the listener and answers.
#[test]
fn wait_killable_recv_goes_with_an_agent() {
    use linception::seccomp_notify::{Error as NotifyError, Listener, recv_fd};
    use std::os::unix::net::UnixListener;
    use std::time::{Duration, Instant};

    if !need("busybox-static", "/bin/busybox")
        || !linception_testkit::require(linception_testkit::Feature::SeccompListener)
    {
        return;
    }
    let dir = TempDir::new("scf-agent");
    let path = dir.0.join("agent.sock");
    let socket = UnixListener::bind(&path).unwrap();
    socket.set_nonblocking(true).unwrap();
    // Answers every notification with EXDEV until the filter has no task left.
    let agent = std::thread::spawn(move || -> Result<u32, String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let conn = loop {
            match socket.accept() {
                Ok((c, _)) => break c,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if Instant::now() > deadline {
                        return Err("no runtime connected".into());
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => return Err(format!("accept: {e}")),
            }
        };
        conn.set_nonblocking(false).unwrap();
        let listener = Listener::from(recv_fd(&conn).map_err(|e| e.to_string())?);
        let mut answered = 0;
        loop {
            match listener.recv() {
                Ok(n) => {
                    listener
                        .respond_errno(n.id, rustix::io::Errno::XDEV.raw_os_error())
                        .map_err(|e| e.to_string())?;
                    answered += 1;
                }
                Err(NotifyError::NotificationGone { .. }) => continue,
                Err(NotifyError::Closed) => return Ok(answered),
                Err(e) => return Err(e.to_string()),
            }
        }
    });
    let path_s = path.to_str().unwrap().to_owned();
    let bundle = Bundle::new(false, |c| {
        c["root"]["readonly"] = false.into();
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": path_s,
            "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", "SECCOMP_FILTER_FLAG_LOG"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
        });
        script(c, "mkdir /tmp/x 2>&1; echo mkdir=$?");
    });
    let out = Runtime::ours().run(&bundle, &unique_id("scf-agent"));
    let answered = agent.join().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(
        said.contains("Invalid cross-device link") && said.ends_with("mkdir=1\n"),
        "{said}"
    );
    assert!(matches!(answered, Ok(n) if n >= 1), "{answered:?}");
    assert!(!bundle.path().join("rootfs/tmp/x").exists());
}
