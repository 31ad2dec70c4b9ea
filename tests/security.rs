//! Security knobs: capability rules checked up front, LSM exec labels, landlock.

mod common;

use common::{modes, sh, status_field, stdout_of};
use linception::{CapSet, Capabilities, Container, Namespaces};
use linception_testkit::{Feature, Fork, require};

/// [`common::failure`] without the errno.
fn failure(
    unprivileged: bool,
    build: impl FnOnce() -> linception::ContainerBuilder,
) -> (String, Option<String>, String) {
    let (kind, step, _, text) = common::failure(unprivileged, build);
    (kind, step, text)
}

#[test]
fn capability_rules_are_checked_before_spawn() {
    require!(Feature::UnprivilegedUserNs);
    let k = CapSet::KILL;
    let c = CapSet::CHOWN;
    for (caps, needle) in [
        (
            Capabilities {
                effective: k | c,
                ..Capabilities::only(k)
            },
            "effective capabilities",
        ),
        (
            Capabilities {
                inheritable: k | c,
                ..Capabilities::only(k)
            },
            "must be in the bounding set",
        ),
        (Capabilities::only(k).ambient(c), "must be permitted"),
        (
            Capabilities {
                inheritable: CapSet::empty(),
                ..Capabilities::only(k)
            }
            .ambient(k),
            "must be inheritable",
        ),
        (
            Capabilities::only(CapSet::from_bits_retain(1 << 63)),
            "above cap_last_cap",
        ),
    ] {
        for unprivileged in modes() {
            let (kind, step, text) = failure(unprivileged, move || sh("true").capabilities(caps));
            assert_eq!(kind, "InvalidArgument", "{caps:?}: {text}");
            assert_eq!(step, None, "{text}");
            assert!(text.contains(needle), "{text:?} lacks {needle:?}");
        }
    }
    // What the rules allow runs, rootless too.
    let out = Fork::new().unprivileged().run(|| {
        stdout_of(
            sh("grep -E '^Cap(Eff|Inh|Amb)' /proc/self/status")
                .capabilities(Capabilities::only(k | c).ambient(k)),
        )
    });
    assert_eq!(status_field(&out, "CapInh"), "0000000000000021", "{out}");
    assert_eq!(status_field(&out, "CapAmb"), "0000000000000020", "{out}");
}

/// The calling thread's `CapPrm` and `CapBnd` as the kernel shows them.
fn own_permitted_and_bounding() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/thread-self/status").expect("status");
    let hex = |name| u64::from_str_radix(status_field(&status, name), 16).expect(name);
    (hex("CapPrm"), hex("CapBnd"))
}

/// A container that stays in the caller's user namespace can have only what the
/// caller holds (permitted and in its bounding set): asking for more is refused by
/// name before anything exists, where `capset` in the child would fail with EPERM,
/// or a bounding capability would be silently absent. A container with a user
/// namespace of its own gets them. `grantable_capabilities` says the same as the
/// kernel's own view of the caller.
#[test]
fn capabilities_the_caller_lacks_need_a_user_namespace() {
    let t = CapSet::SYS_TIME;
    let kill = CapSet::KILL;
    let lose = |bounding_only: bool| {
        use rustix::thread::{self as th, CapabilitySet as K};
        th::remove_capability_from_bounding_set(K::SYS_TIME).expect("PR_CAPBSET_DROP");
        if !bounding_only {
            let mut sets = th::capabilities(None).expect("capget");
            sets.permitted -= K::SYS_TIME;
            sets.effective -= K::SYS_TIME;
            th::set_capabilities(None, sets).expect("capset");
        }
    };
    for unprivileged in modes() {
        // Unprivileged, the caller holds nothing: any capability is refused.
        let cases: Vec<(Option<bool>, CapSet)> = if unprivileged {
            vec![(None, kill)]
        } else {
            vec![(Some(true), t), (Some(false), t | kill)]
        };
        for (bounding_only, wanted) in cases {
            let (kind, step, text) = failure(unprivileged, move || {
                if let Some(b) = bounding_only {
                    lose(b);
                }
                // The kernel agrees on what the caller holds.
                let (prm, bnd) = own_permitted_and_bounding();
                let known = linception::features::capabilities().bits();
                assert_eq!(
                    linception::features::grantable_capabilities(false).bits(),
                    prm & bnd & known
                );
                assert_eq!(
                    linception::features::grantable_capabilities(true),
                    linception::features::capabilities()
                );
                if !unprivileged {
                    assert!(
                        !linception::features::grantable_capabilities(false).contains(t),
                        "{bounding_only:?}"
                    );
                    assert!(linception::features::grantable_capabilities(false).contains(kill));
                }
                Container::builder("/bin/true")
                    .namespaces(Namespaces::empty())
                    .capabilities(Capabilities::only(wanted))
            });
            assert_eq!(kind, "PermissionDenied", "{text}");
            assert_eq!(step, None, "{text}");
            let lacking = if unprivileged { "KILL" } else { "SYS_TIME" };
            assert!(
                text.contains("bounding capabilities") && text.contains(lacking),
                "{text}"
            );
            assert!(text.contains("cannot be granted"), "{text}");
        }
    }
    // With a user namespace of its own the container has them, whatever the caller
    // lost in its own.
    for unprivileged in modes() {
        let fork = if unprivileged {
            Fork::new().unprivileged()
        } else {
            Fork::new()
        };
        let out = fork.run(move || {
            if !unprivileged {
                lose(false);
            }
            stdout_of(
                sh("grep -E '^Cap(Prm|Eff|Bnd)' /proc/self/status")
                    .capabilities(Capabilities::only(t | kill)),
            )
        });
        for f in ["CapPrm", "CapEff", "CapBnd"] {
            assert_eq!(status_field(&out, f), "0000000002000020", "{out}");
        }
    }
    // The kernel is the judge of the refusal: capset raising what the caller lost
    // fails with EPERM.
    if !modes().contains(&false) {
        return;
    }
    let e = Fork::new().run(move || {
        lose(false);
        let mut sets = rustix::thread::capabilities(None).expect("capget");
        sets.permitted |= rustix::thread::CapabilitySet::SYS_TIME;
        rustix::thread::set_capabilities(None, sets)
            .expect_err("capset raised a capability the thread lost")
            .raw_os_error()
    });
    assert_eq!(e, rustix::io::Errno::PERM.raw_os_error());
}

/// Whether an LSM is active, the way the spawn decides it.
fn lsm_active(name: &str) -> bool {
    match std::fs::read_to_string("/sys/kernel/security/lsm") {
        Ok(list) => list.trim().split(',').any(|l| l == name),
        Err(_) => match name {
            "apparmor" => std::fs::read("/proc/self/attr/apparmor/current").is_ok(),
            _ => std::path::Path::new("/sys/fs/selinux/enforce").exists(),
        },
    }
}

#[test]
fn exec_labels_of_an_inactive_lsm_are_unsupported() {
    require!(Feature::UnprivilegedUserNs);
    type Build = fn() -> linception::ContainerBuilder;
    let cases: [(&str, Build); 2] = [
        ("apparmor", || {
            sh("true").apparmor_profile("linception-test")
        }),
        ("selinux", || {
            sh("true").selinux_label("system_u:system_r:container_t:s0")
        }),
    ];
    let mut checked = 0;
    for (lsm, build) in cases {
        if lsm_active(lsm) {
            // Loading a profile or policy would change the host: the refusal of
            // one the kernel does not have is checked instead.
            let (kind, step, text) = failure(true, move || match lsm {
                "apparmor" => sh("true").apparmor_profile("linception-no-such-profile"),
                _ => sh("true").selinux_label("linception_no_such_u:r:t:s0"),
            });
            assert_eq!(kind, "Setup", "{text}");
            assert!(step.unwrap().contains("/proc/self/attr/"), "{text}");
            checked += 1;
            continue;
        }
        for unprivileged in modes() {
            let (kind, step, text) = failure(unprivileged, build);
            assert_eq!(kind, "Unsupported", "{text}");
            assert_eq!(step, None, "{text}");
            assert!(text.contains("not an active LSM"), "{text}");
            checked += 1;
        }
    }
    assert!(checked >= 2);
}

/// An `exec_in` process's exec labels. This host may have neither AppArmor nor
/// SELinux active: then what is checked is the refusal, before anything runs
/// (`Unsupported`, no step, no fd or mount left, no child; the container runs on
/// and a plain exec into it still works). Where a module is active, a label the
/// kernel does not have fails the exec at the process's own write of
/// `/proc/self/attr/...` (loading a real profile would change the host). Bad
/// labels are refused whatever the module.
#[test]
fn exec_in_labels_are_checked_like_the_containers() {
    require!(Feature::UnprivilegedUserNs, Feature::PidfdOpen);
    type Build = fn() -> linception::ContainerBuilder;
    let true_ = || linception::Container::builder("/bin/true");
    let cases: [(&str, Build, Build); 2] = [
        (
            "apparmor",
            || linception::Container::builder("/bin/true").apparmor_profile("linception-test"),
            || {
                linception::Container::builder("/bin/true")
                    .apparmor_profile("linception-no-such-profile")
            },
        ),
        (
            "selinux",
            || {
                linception::Container::builder("/bin/true")
                    .selinux_label("system_u:system_r:container_t:s0")
            },
            || {
                linception::Container::builder("/bin/true")
                    .selinux_label("linception_no_such_u:r:t:s0")
            },
        ),
    ];
    let bad: [(Build, &str); 3] = [
        (
            || linception::Container::builder("/bin/true").apparmor_profile(""),
            "AppArmor profile \"\"",
        ),
        (
            || linception::Container::builder("/bin/true").selinux_label("a\nb"),
            "newline",
        ),
        (
            || linception::Container::builder("/bin/true").selinux_label("x".repeat(5000)),
            "longer than 4095",
        ),
    ];
    for unprivileged in modes() {
        let fork = if unprivileged {
            Fork::new().unprivileged()
        } else {
            Fork::new()
        };
        let seen: Vec<(String, String, Option<String>, String)> = fork.run(move || {
            let mut c = sh("sleep 100").spawn().unwrap();
            let mut seen = Vec::new();
            let mut exec = |lsm: &str, b: linception::ContainerBuilder| {
                let err = linception_testkit::leaks::assert_no_leaks(|| {
                    c.exec_in(b).expect_err("the exec should fail")
                });
                seen.push((
                    lsm.to_owned(),
                    format!("{:?}", err.kind()),
                    err.step().map(str::to_owned),
                    err.to_string(),
                ));
            };
            for (lsm, inactive, missing) in cases {
                exec(
                    lsm,
                    if lsm_active(lsm) {
                        missing()
                    } else {
                        inactive()
                    },
                );
            }
            for (build, needle) in bad {
                exec(needle, build());
            }
            // The container runs on, and takes a plain exec.
            assert_eq!(c.try_wait().unwrap(), None);
            let mut e = c.exec_in(true_()).unwrap();
            assert!(e.wait().unwrap().success());
            c.kill().unwrap();
            c.wait().unwrap();
            common::assert_no_children();
            seen
        });
        let mut seen = seen.into_iter();
        for (lsm, _, _) in cases {
            let (_, kind, step, text) = seen.next().unwrap();
            if lsm_active(lsm) {
                assert_eq!(kind, "Setup", "{lsm}: {text}");
                assert!(step.unwrap().contains("/proc/self/attr/"), "{text}");
            } else {
                assert_eq!(kind, "Unsupported", "{lsm}: {text}");
                assert_eq!(step, None, "{text}");
                assert!(text.contains("not an active LSM"), "{text}");
            }
        }
        for (needle, kind, step, text) in seen {
            assert_eq!(kind, "InvalidArgument", "{text}");
            assert_eq!(step, None, "{text}");
            assert!(text.contains(&needle), "{text:?} lacks {needle:?}");
        }
    }
}

#[test]
fn bad_exec_labels_are_refused_whatever_the_lsm() {
    require!(Feature::UnprivilegedUserNs);
    type Build = fn() -> linception::ContainerBuilder;
    let cases: [(Build, &str); 4] = [
        (|| sh("true").apparmor_profile(""), "AppArmor profile \"\""),
        (|| sh("true").apparmor_profile("a\nb"), "newline"),
        (|| sh("true").selinux_label("a\0b"), "NUL"),
        (
            || sh("true").selinux_label("x".repeat(5000)),
            "longer than 4095",
        ),
    ];
    for (build, needle) in cases {
        let (kind, step, text) = failure(true, build);
        assert_eq!(kind, "InvalidArgument", "{text}");
        assert_eq!(step, None, "{text}");
        assert!(text.contains(needle), "{text:?} lacks {needle:?}");
    }
}

/// Whether the kernel has Landlock enabled (a hard-requirement ruleset of the
/// first ABI can be created).
fn landlock_available() -> Result<(), String> {
    use linception::landlock::{
        ABI, Access, AccessFs, CompatLevel, Compatible, Ruleset, RulesetAttr,
    };
    Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(ABI::V1))
        .and_then(|r| r.create())
        .map(drop)
        .map_err(|e| e.to_string())
}

fn landlocked(unprivileged: bool, with_ruleset: bool) -> (String, Option<String>) {
    use linception::landlock::{ABI, Access, AccessFs};
    let fork = if unprivileged {
        Fork::new().unprivileged()
    } else {
        Fork::new()
    };
    fork.run(move || {
        let allowed = AccessFs::from_read(ABI::V1);
        let mut b = sh("head -n1 /etc/passwd | cut -d: -f1; ls / || echo root-denied");
        if with_ruleset {
            b = b.landlock(
                linception::Landlock::new(AccessFs::from_all(ABI::V1))
                    .allow("/usr", allowed)
                    .allow("/etc", allowed),
            );
        }
        let mut c = b
            .stdout(linception::Stdio::Piped)
            .stderr(linception::Stdio::Null)
            .spawn()
            .expect("spawn");
        let report = c
            .landlock()
            .map(|r| format!("{:?} {:?}", r.status, r.not_enforced));
        let mut out = String::new();
        std::io::Read::read_to_string(&mut c.take_stdout().unwrap(), &mut out).unwrap();
        c.wait().unwrap();
        (out, report)
    })
}

#[test]
fn landlock_allows_only_the_rules_paths() {
    require!(Feature::UnprivilegedUserNs);
    if !linception_testkit::require_custom("Landlock", "5.13", landlock_available()) {
        return;
    }
    for unprivileged in modes() {
        // Without a ruleset the container's root can be listed.
        let (out, report) = landlocked(unprivileged, false);
        assert_eq!(report, None);
        assert!(
            out.starts_with("root\n") && !out.contains("root-denied"),
            "{out}"
        );
        // With it, /usr and /etc (host paths, bound inside) stay readable and
        // executable, the container's own tmpfs root is not.
        let (out, report) = landlocked(unprivileged, true);
        assert!(out.starts_with("root\n"), "{out}");
        assert!(out.ends_with("root-denied\n"), "{out}");
        assert_eq!(
            report.as_deref(),
            Some("FullyEnforced BitFlags<AccessFs>(0b0)")
        );
    }
}

#[test]
fn bad_landlock_rulesets_are_refused_before_spawn() {
    require!(Feature::UnprivilegedUserNs);
    use linception::Landlock;
    use linception::landlock::{AccessFs, BitFlags};
    type Build = fn() -> linception::ContainerBuilder;
    let cases: [(Build, &str, &str); 4] = [
        (
            || sh("true").landlock(Landlock::new(BitFlags::empty())),
            "InvalidArgument",
            "handling no access right",
        ),
        (
            || {
                sh("true").landlock(
                    Landlock::new(AccessFs::ReadFile.into())
                        .allow("/usr", AccessFs::Execute.into()),
                )
            },
            "InvalidArgument",
            "a rule allows only rights the ruleset handles",
        ),
        (
            || {
                sh("true").landlock(
                    Landlock::new(AccessFs::ReadFile.into())
                        .allow("/nonexistent/linception", AccessFs::ReadFile.into()),
                )
            },
            "InvalidArgument",
            "\"/nonexistent/linception\"",
        ),
        (
            || {
                linception::Container::builder("/bin/true")
                    .namespaces(linception::Namespaces::empty())
                    .landlock(Landlock::new(AccessFs::ReadFile.into()))
            },
            "PermissionDenied",
            "without no_new_privs()",
        ),
    ];
    for (i, (build, want, needle)) in cases.into_iter().enumerate() {
        for unprivileged in modes() {
            if i == 3 && !unprivileged {
                continue; // root has CAP_SYS_ADMIN
            }
            let (kind, step, text) = failure(unprivileged, build);
            assert_eq!(kind, want, "{text}");
            assert_eq!(step, None, "{text}");
            assert!(text.contains(needle), "{text:?} lacks {needle:?}");
        }
    }
}

#[test]
fn exec_in_applies_a_landlock_ruleset() {
    require!(Feature::UnprivilegedUserNs);
    if !linception_testkit::require_custom("Landlock", "5.13", landlock_available()) {
        return;
    }
    use linception::landlock::{ABI, Access, AccessFs};
    let out = Fork::new().unprivileged().run(|| {
        let c = sh("sleep 60").spawn().expect("spawn");
        let allowed = AccessFs::from_read(ABI::V1);
        let mut p = c
            .exec_in(
                linception::Container::builder("/bin/sh")
                    .args(["-c", "ls / || echo root-denied"])
                    .landlock(
                        linception::Landlock::new(AccessFs::from_all(ABI::V1))
                            .allow("/usr", allowed)
                            .allow("/etc", allowed),
                    )
                    .stdout(linception::Stdio::Piped)
                    .stderr(linception::Stdio::Null),
            )
            .expect("exec_in");
        let mut out = String::new();
        std::io::Read::read_to_string(&mut p.take_stdout().unwrap(), &mut out).unwrap();
        p.wait().unwrap();
        assert!(p.landlock().is_some());
        out
    });
    assert_eq!(out, "root-denied\n");
}

/// `exec_in` holds its capability sets to what the caller holds when the container
/// has no user namespace of its own (the process stays in the caller's), as spawn
/// does: refused by name, nothing started; in a container with one, the process
/// gets them there.
#[test]
fn exec_in_capabilities_the_caller_lacks() {
    linception_testkit::require_root!("a container without a user namespace");
    let out = Fork::new().run(|| {
        use rustix::thread::{self as th, CapabilitySet as K};
        let mut plain = sh("exec sleep 100")
            .namespaces(Namespaces::MOUNT | Namespaces::PID)
            .spawn()
            .expect("spawn");
        let mut user = sh("exec sleep 100").spawn().expect("spawn");
        th::remove_capability_from_bounding_set(K::SYS_TIME).expect("PR_CAPBSET_DROP");
        let caps = Capabilities::only(CapSet::SYS_TIME | CapSet::KILL);
        let e = plain
            .exec_in(Container::builder("/bin/true").capabilities(caps))
            .map(drop)
            .unwrap_err();
        let refused = (format!("{:?}", e.kind()), e.to_string());
        let mut ok = user
            .exec_in(
                Container::builder("/bin/sh")
                    .args(["-c", "grep CapEff /proc/self/status"])
                    .capabilities(caps)
                    .stdout(linception::Stdio::Piped),
            )
            .expect("exec_in with a user namespace");
        let mut text = String::new();
        std::io::Read::read_to_string(&mut ok.take_stdout().unwrap(), &mut text).unwrap();
        let st = ok.wait().unwrap();
        let _ = plain.kill();
        let _ = user.kill();
        let _ = plain.wait();
        let _ = user.wait();
        (refused, st.success(), text)
    });
    let ((kind, text), ran, eff) = out;
    assert_eq!(kind, "PermissionDenied", "{text}");
    assert!(
        text.contains("SYS_TIME") && text.contains("cannot be granted"),
        "{text}"
    );
    assert!(ran);
    assert_eq!(status_field(&eff, "CapEff"), "0000000002000020", "{eff}");
}

/// `in_initial_user_namespace`, `devices_confined` and `setgroups_allowed` against
/// what the kernel shows and does: outside the initial user namespace (root of a
/// rootless one) no device node can be made, even on a tmpfs of that namespace's
/// own; as root in the initial one it can, and device rules matter.
#[test]
fn device_confinement_is_what_the_kernel_enforces() {
    use linception::features::{devices_confined, in_initial_user_namespace, setgroups_allowed};
    // (in the initial namespace, confined, setgroups allowed, setgroups file, mknod errno)
    let probe = || {
        let tmp = rustix::mount::mount(
            "none",
            "/tmp",
            "tmpfs",
            rustix::mount::MountFlags::empty(),
            None,
        );
        let made = tmp.and_then(|()| {
            rustix::fs::mknodat(
                rustix::fs::CWD,
                "/tmp/lc-null",
                rustix::fs::FileType::CharacterDevice,
                rustix::fs::Mode::from_raw_mode(0o600),
                rustix::fs::makedev(1, 3),
            )
        });
        (
            in_initial_user_namespace(),
            devices_confined(),
            setgroups_allowed(),
            std::fs::read_to_string("/proc/self/setgroups").unwrap(),
            made.err().map_or(0, |e| e.raw_os_error()),
        )
    };
    let (initial, confined, allowed, file, errno) =
        Fork::new().rootless().unshare(libc::CLONE_NEWNS).run(probe);
    assert!(!initial);
    assert!(confined);
    assert_eq!(allowed, file.trim() == "allow", "{file}");
    assert_eq!(errno, libc::EPERM, "mknod in a user namespace");
    if !modes().contains(&false) {
        return;
    }
    let (initial, confined, allowed, file, errno) =
        Fork::new().unshare(libc::CLONE_NEWNS).run(probe);
    assert!(initial);
    assert!(!confined);
    assert!(allowed, "{file}");
    assert_eq!(errno, 0, "mknod as root");
    // Unprivileged in the initial namespace: confined, and mknod refused.
    let (initial, confined, _, _, _) = Fork::new().unprivileged().run(probe);
    assert!(initial);
    assert!(confined);
}
