//! Namespaces and network basics: the loopback of a new network namespace, joined
//! namespaces, sysctls written inside.

mod common;

use common::{NS, assert_no_children, modes, sh, stdout_of};
use linception::{Loopback, Mount, NamespaceType, Namespaces, NsSource};
use linception_testkit::leaks::assert_no_leaks;
use linception_testkit::{Feature, Fork, require};

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

/// [`common::failure`] without the errno.
fn failure(
    unprivileged: bool,
    build: impl FnOnce() -> linception::ContainerBuilder,
) -> (String, Option<String>, String) {
    let (kind, step, _, text) = common::failure(unprivileged, build);
    (kind, step, text)
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

fn host_sysctl(path: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/{path}")).expect("read a host sysctl")
}

#[test]
fn sysctls_are_written_in_the_containers_namespaces() {
    require!(Feature::UnprivilegedUserNs);
    let forward = host_sysctl("net/ipv4/ip_forward");
    let shmmni = host_sysctl("kernel/shmmni");
    let msgmax = host_sysctl("fs/mqueue/msg_max");
    for unprivileged in modes() {
        let fork = if unprivileged {
            Fork::new().unprivileged()
        } else {
            Fork::new()
        };
        let out = fork.run(|| {
            stdout_of(
                sh("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni \
                    /proc/sys/fs/mqueue/msg_max /proc/sys/net/ipv4/conf/lo/forwarding")
                .namespaces(NS | Namespaces::NET)
                .sysctl("net.ipv4.ip_forward", "1")
                .sysctl("kernel.shmmni", "1234")
                .sysctl("fs.mqueue.msg_max", "17")
                .sysctl("net/ipv4/conf/lo/forwarding", "1"),
            )
        });
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines, ["1", "1234", "17", "1"], "{out}");
    }
    // The host's values are untouched.
    assert_eq!(host_sysctl("net/ipv4/ip_forward"), forward);
    assert_eq!(host_sysctl("kernel/shmmni"), shmmni);
    assert_eq!(host_sysctl("fs/mqueue/msg_max"), msgmax);
}

#[test]
fn uts_sysctls_as_root() {
    require!(Feature::Root, Feature::UserNs);
    let host = host_sysctl("kernel/domainname");
    let out =
        stdout_of(sh("cat /proc/sys/kernel/domainname").sysctl("kernel.domainname", "box.test"));
    assert_eq!(out.trim(), "box.test");
    assert_eq!(host_sysctl("kernel/domainname"), host);
}

#[test]
fn uts_sysctls_rootless_are_the_kernels_refusal() {
    require!(Feature::UnprivilegedUserNs);
    // The UTS entries are owned by the host's root whatever the namespace: a
    // rootless container sets its hostname with hostname() instead.
    let (kind, step, text) = failure(true, || sh("true").sysctl("kernel.domainname", "box.test"));
    assert_eq!(kind, "Setup", "{text}");
    assert!(step.unwrap().contains("sysctl kernel.domainname"), "{text}");
    assert!(text.contains("EACCES"), "{text}");
}

#[test]
fn sysctls_outside_the_containers_namespaces_are_refused() {
    require!(Feature::UnprivilegedUserNs);
    let cases: [(&str, &str, Namespaces, &str); 9] = [
        ("net.ipv4.ip_forward", "1", NS, "without Namespaces::NET"),
        (
            "kernel.shmmax",
            "1",
            NS - Namespaces::IPC,
            "without Namespaces::IPC",
        ),
        (
            "kernel.hostname",
            "x",
            NS - Namespaces::UTS,
            "without Namespaces::UTS",
        ),
        ("kernel.pid_max", "4096", NS, "not a namespaced sysctl"),
        ("vm.swappiness", "1", NS, "not a namespaced sysctl"),
        ("net..ipv4", "1", NS | Namespaces::NET, "empty"),
        (
            "net/ipv4/../../kernel/pid_max",
            "1",
            NS | Namespaces::NET,
            "\"..\"",
        ),
        ("net.ipv4.ip_forward", "1\0", NS | Namespaces::NET, "NUL"),
        ("", "1", NS, "empty"),
    ];
    for unprivileged in modes() {
        for (name, value, ns, needle) in cases {
            let (kind, step, text) = failure(unprivileged, move || {
                sh("true").namespaces(ns).sysctl(name, value)
            });
            assert_eq!(kind, "InvalidArgument", "{name}: {text}");
            assert_eq!(step, None, "{text}");
            assert!(text.contains(needle), "{name}: {text:?} lacks {needle:?}");
        }
    }
    let long = "1".repeat(5000);
    let (kind, _, text) = failure(true, move || {
        sh("true")
            .namespaces(NS | Namespaces::NET)
            .sysctl("net.ipv4.ip_forward", long)
    });
    assert_eq!(kind, "InvalidArgument", "{text}");
    assert!(text.contains("longer than 4096"), "{text}");
}

#[test]
fn a_sysctl_the_kernel_refuses_is_named() {
    require!(Feature::UnprivilegedUserNs);
    for unprivileged in modes() {
        let (kind, step, text) = failure(unprivileged, || {
            sh("true")
                .namespaces(NS | Namespaces::NET)
                .sysctl("net.ipv4.no_such_sysctl", "1")
        });
        assert_eq!(kind, "Setup", "{text}");
        assert_eq!(
            step.as_deref(),
            Some(
                "write \"1\" to /proc/sys/net/ipv4/no_such_sysctl (sysctl net.ipv4.no_such_sysctl)"
            ),
            "{text}"
        );
        assert!(text.contains("ENOENT"), "{text}");
    }
}

/// `readlink /proc/<pid>/ns/<name>` as seen from the test.
fn ns_link(pid: linception::Pid, name: &str) -> String {
    std::fs::read_link(format!("/proc/{}/ns/{name}", pid.as_raw()))
        .expect("readlink a namespace")
        .display()
        .to_string()
}

/// A long-running container to join (killed when dropped).
fn target(loopback: Loopback) -> linception::Container {
    sh("sleep 60")
        .namespaces(NS | Namespaces::NET)
        .hostname("a-box")
        .loopback(loopback)
        .spawn()
        .expect("spawn the container to join")
}

fn join_user_and_net(unprivileged: bool) {
    let fork = if unprivileged {
        Fork::new().unprivileged()
    } else {
        Fork::new()
    };
    let (ours, theirs, fresh) = fork.run(|| {
        let a = target(Loopback::Down);
        let out = stdout_of(
            sh(
                "readlink /proc/self/ns/user /proc/self/ns/net /proc/self/ns/mnt; echo $$; \
                cat /sys/class/net/lo/flags",
            )
            .mount(Mount::filesystem("sysfs", "/sys").read_only())
            .join(
                NamespaceType::User,
                NsSource::container(&a).expect("dup the pidfd"),
            )
            .join(NamespaceType::Net, NsSource::container(&a).unwrap()),
        );
        let theirs = format!(
            "{}\n{}\n",
            ns_link(a.pid(), "user"),
            ns_link(a.pid(), "net")
        );
        (out, theirs, ns_link(a.pid(), "mnt"))
    });
    let lines: Vec<&str> = ours.lines().collect();
    assert_eq!(lines.len(), 5, "{ours}");
    assert_eq!(format!("{}\n{}\n", lines[0], lines[1]), theirs, "{ours}");
    assert_ne!(
        lines[2], fresh,
        "the mount namespace is the container's own"
    );
    assert_eq!(
        lines[3], "1",
        "its own pid namespace, the init is pid 1: {ours}"
    );
    let flags = u32::from_str_radix(lines[4].trim_start_matches("0x"), 16).unwrap();
    assert_eq!(flags & libc::IFF_UP as u32, 0, "a joined lo is left down");
}

#[test]
fn join_another_containers_user_and_network_rootless() {
    require!(Feature::UnprivilegedUserNs, Feature::PidfdNamespaces);
    join_user_and_net(true);
}

#[test]
fn join_another_containers_user_and_network_as_root() {
    require!(Feature::Root, Feature::UserNs, Feature::PidfdNamespaces);
    join_user_and_net(false);
}

#[test]
fn join_a_network_by_path_with_a_new_user_namespace_as_root() {
    require!(Feature::Root, Feature::UserNs);
    let a = target(Loopback::Up);
    let path = format!("/proc/{}/ns/net", a.pid().as_raw());
    let out = stdout_of(
        sh("readlink /proc/self/ns/net; id -u; echo $$")
            .join(NamespaceType::Net, NsSource::Path(path.clone().into())),
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, [ns_link(a.pid(), "net").as_str(), "0", "1"], "{out}");
}

#[test]
fn join_uts_from_an_fd_and_pid_from_a_pidfd() {
    require!(Feature::UnprivilegedUserNs, Feature::PidfdNamespaces);
    let out = Fork::new().unprivileged().run(|| {
        let a = target(Loopback::Up);
        let uts = a
            .namespace(NamespaceType::Uts)
            .expect("the uts namespace fd");
        let c = sh("hostname; echo $$; cat /proc/1/cmdline | tr '\\0' ' '")
            .join(NamespaceType::User, NsSource::container(&a).unwrap())
            .join(NamespaceType::Uts, NsSource::Fd(uts))
            .join(NamespaceType::Pid, NsSource::container(&a).unwrap());
        stdout_of(c)
    });
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "a-box", "the joined hostname: {out}");
    assert_ne!(
        lines[1], "1",
        "not the init of the joined pid namespace: {out}"
    );
    assert_eq!(lines[2].trim(), "/bin/sh -c sleep 60", "its pid 1: {out}");
}

#[test]
fn bad_joins_are_refused_before_anything_is_created() {
    require!(Feature::UnprivilegedUserNs);
    type Build = fn() -> linception::ContainerBuilder;
    let cases: [(Build, &str, &str); 5] = [
        (
            || {
                sh("true").join(
                    NamespaceType::Uts,
                    NsSource::Path("/proc/self/ns/net".into()),
                )
            },
            "InvalidArgument",
            "a NET namespace",
        ),
        (
            || sh("true").join(NamespaceType::Net, NsSource::Path("/etc/hostname".into())),
            "InvalidArgument",
            "not a namespace",
        ),
        (
            || {
                sh("true")
                    .join(
                        NamespaceType::Pid,
                        NsSource::Path("/proc/self/ns/pid".into()),
                    )
                    .join(
                        NamespaceType::PidForChildren,
                        NsSource::Path("/proc/self/ns/pid".into()),
                    )
            },
            "InvalidArgument",
            "joined once",
        ),
        (
            || {
                sh("true").set_tid(1).join(
                    NamespaceType::Net,
                    NsSource::Path("/proc/self/ns/net".into()),
                )
            },
            "InvalidArgument",
            "set_tid 1 with joined namespaces",
        ),
        (
            // Neither a new UTS namespace nor a joined one: the host's name. (A
            // joined UTS namespace takes the name: the caller named it.)
            || {
                sh("true")
                    .share(Namespaces::UTS)
                    .join(
                        NamespaceType::Net,
                        NsSource::Path("/proc/self/ns/net".into()),
                    )
                    .hostname("x")
            },
            "InvalidArgument",
            "needs Namespaces::UTS",
        ),
    ];
    for unprivileged in modes() {
        for (build, want, needle) in cases {
            let (kind, step, text) = failure(unprivileged, build);
            assert_eq!(kind, want, "{text}");
            assert_eq!(step, None, "{text}");
            assert!(text.contains(needle), "{text:?} lacks {needle:?}");
        }
        // An fd that is no namespace: the builder owns it, so it is opened and
        // closed inside the leak check.
        let fork = if unprivileged {
            Fork::new().unprivileged()
        } else {
            Fork::new()
        };
        let text = fork.run(|| {
            let e = assert_no_leaks(|| {
                let f = std::fs::File::open("/dev/null").unwrap();
                sh("true")
                    .join(NamespaceType::Net, NsSource::Fd(f.into()))
                    .spawn()
                    .expect_err("not a namespace")
            });
            assert_no_children();
            assert_eq!(e.kind(), linception::ErrorKind::InvalidArgument, "{e}");
            e.to_string()
        });
        assert!(text.contains("not a namespace (nsfs) fd"), "{text}");
        let (kind, _, text) = failure(unprivileged, || {
            sh("true").join(NamespaceType::Net, NsSource::Path("/nonexistent/ns".into()))
        });
        assert_ne!(kind, "Setup", "{text}");
        assert!(
            text.contains("/nonexistent/ns") && text.contains("ENOENT"),
            "{text}"
        );
    }
}

#[test]
fn a_join_the_kernel_refuses_is_named_and_leaves_nothing() {
    require!(Feature::UnprivilegedUserNs);
    // Rootless, the host's network namespace is not ours to join.
    let (kind, step, text) = failure(true, || {
        sh("true").join(NamespaceType::Net, NsSource::Path("/proc/1/ns/net".into()))
    });
    if kind == "Setup" {
        assert!(
            step.unwrap().starts_with("setns(\"/proc/1/ns/net\", NET)"),
            "{text}"
        );
        assert!(text.contains("EPERM"), "{text}");
    } else {
        // /proc/1 may not be readable by the unprivileged user at all.
        assert!(text.contains("/proc/1/ns/net"), "{text}");
    }
}

#[test]
fn a_failure_after_the_init_is_forked_leaves_nothing() {
    require!(Feature::UnprivilegedUserNs, Feature::PidfdNamespaces);
    for unprivileged in modes() {
        let fork = if unprivileged {
            Fork::new().unprivileged()
        } else {
            Fork::new()
        };
        let (kind, step, text) = fork.run(|| {
            let a = target(Loopback::Up);
            // The bind fails in the forked init, after the joins and the fork. The
            // builder owns copies of the pidfd: made inside the leak check.
            let err = assert_no_leaks(|| {
                sh("true")
                    .mount(Mount::bind("/nonexistent-src", "/data"))
                    .join(NamespaceType::User, NsSource::container(&a).unwrap())
                    .join(NamespaceType::Net, NsSource::container(&a).unwrap())
                    .spawn()
                    .expect_err("the bind fails")
            });
            drop(a);
            assert_no_children();
            (
                format!("{:?}", err.kind()),
                err.step().map(str::to_owned),
                err.to_string(),
            )
        });
        assert_eq!(kind, "Setup", "{text}");
        assert!(
            step.unwrap().starts_with("bind /nonexistent-src on /data"),
            "{text}"
        );
        assert!(text.contains("ENOENT"), "{text}");
    }
}

#[test]
fn exec_in_refuses_the_new_container_options() {
    require!(Feature::UnprivilegedUserNs, Feature::PidfdNamespaces);
    let texts: Vec<String> = Fork::new().unprivileged().run(|| {
        let a = target(Loopback::Up);
        let net = || NsSource::container(&a).unwrap();
        let builders = [
            linception::Container::builder("/bin/true").join(NamespaceType::Net, net()),
            linception::Container::builder("/bin/true").sysctl("net.ipv4.ip_forward", "1"),
            linception::Container::builder("/bin/true").loopback(Loopback::Down),
        ];
        builders
            .into_iter()
            .map(|b| a.exec_in(b).expect_err("refused").to_string())
            .collect()
    });
    for (text, what) in texts
        .iter()
        .zip(["joined namespaces", "sysctls", "loopback"])
    {
        assert!(text.contains(&format!("exec_in with {what}")), "{text}");
    }
}
