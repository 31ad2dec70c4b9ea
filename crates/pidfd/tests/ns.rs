//! Namespaces as objects (`NamespaceFd`), `setns` on namespace fds, namespace and
//! pidfs file handles, `PIDFD_SELF`, against the real kernel.
// Unsafe code here: `setns` is an unsafe API under test, run in forked children; raw setns calls are the baseline.
#![allow(unsafe_code)]

use std::time::Duration;

use linception_pidfd::{
    CloneArgs, Error, ErrorKind, Exec, NamespaceFd, NamespaceHandle, NamespaceType, Namespaces,
    Pid, PidFd, PidfdFlags, PidfdHandle, SelfTarget, Signal,
};
use linception_testkit::{Feature, Fork, leaks::assert_no_leaks, require, require_custom};

const KINDS: [(&str, Namespaces); 8] = [
    ("net", Namespaces::NET),
    ("uts", Namespaces::UTS),
    ("ipc", Namespaces::IPC),
    ("user", Namespaces::USER),
    ("pid", Namespaces::PID),
    ("mnt", Namespaces::MNT),
    ("cgroup", Namespaces::CGROUP),
    ("time", Namespaces::TIME),
];

fn own(name: &str) -> NamespaceFd {
    NamespaceFd::open(format!("/proc/self/ns/{name}")).unwrap()
}

/// Skips unless this kernel has NS_GET_ID (Linux 6.18).
fn require_ns_id() -> bool {
    let answer = match own("net").id() {
        Ok(_) => Ok(()),
        Err(Error::Unsupported { .. }) => Err("NS_GET_ID answers ENOTTY".to_string()),
        Err(e) => panic!("{e}"),
    };
    require_custom("NS_GET_ID", "6.18", answer)
}

fn types_identity_and_ids() {
    for (name, kind) in KINDS {
        let ns = own(name);
        assert_eq!(ns.nstype().unwrap(), kind, "{name}");
        let again = NamespaceFd::open(format!("/proc/thread-self/ns/{name}")).unwrap();
        assert!(ns.same_as(&again).unwrap(), "{name}");
        assert_eq!(ns.id().unwrap(), again.id().unwrap(), "{name}");
        assert_eq!(
            ns.dev_ino().unwrap().1,
            std::fs::metadata(format!("/proc/self/ns/{name}"))
                .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
                .unwrap()
        );
    }
    let (net, uts) = (own("net"), own("uts"));
    assert!(!net.same_as(&uts).unwrap());
    assert_ne!(net.id().unwrap(), uts.id().unwrap());
    // The owner of our network namespace is our user namespace.
    assert!(net.owner().unwrap().same_as(&own("user")).unwrap());
    // Only pid and user namespaces have parents.
    let err = net.parent().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
    assert!(err.to_string().contains("NS_GET_PARENT"), "{err}");
    // Not a namespace file: refused, nothing left open.
    assert_no_leaks(|| {
        let err = NamespaceFd::open("/proc/self/status").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        assert!(err.to_string().contains("\"/proc/self/status\""), "{err}");
    });
    let dbg = format!("{net:?}");
    assert!(dbg.starts_with("NamespaceFd { fd: "), "{dbg}");
    assert!(net.try_clone().unwrap().same_as(&net).unwrap());
}

#[test]
fn namespace_types_identity_and_ids() {
    if !require_ns_id() {
        return;
    }
    Fork::new().run(types_identity_and_ids);
}

#[test]
fn namespace_types_identity_and_ids_unprivileged() {
    require!(Feature::Root);
    if !require_ns_id() {
        return;
    }
    Fork::new().unprivileged().run(types_identity_and_ids);
}

/// A child in a new user namespace: its user namespace's parent is ours, and its
/// creator is us.
fn child_user_namespace() {
    let mut child = CloneArgs::new()
        .namespaces(Namespaces::USER)
        .spawn(&Exec::new("/bin/sleep").arg("30"))
        .unwrap();
    let theirs = child.pidfd().namespace_fd(NamespaceType::User).unwrap();
    let mine = own("user");
    assert!(!theirs.same_as(&mine).unwrap());
    assert!(theirs.parent().unwrap().same_as(&mine).unwrap());
    assert_eq!(
        theirs.owner_uid().unwrap(),
        rustix::process::geteuid().as_raw()
    );
    // Their other namespaces are still ours.
    let net = child.pidfd().namespace_fd(NamespaceType::Net).unwrap();
    assert!(net.same_as(&own("net")).unwrap());
    // Our own user namespace's parent is outside our scope (or does not exist).
    let err = mine.parent().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn user_namespace_parent_and_owner() {
    require!(Feature::UserNs, Feature::PidfdNamespaces, Feature::Clone3);
    Fork::new().run(child_user_namespace);
}

#[test]
fn user_namespace_parent_and_owner_unprivileged() {
    require!(
        Feature::Root,
        Feature::UnprivilegedUserNs,
        Feature::PidfdNamespaces,
        Feature::Clone3
    );
    Fork::new().unprivileged().run(child_user_namespace);
}

#[test]
fn setns_type_is_checked_before_the_call() {
    Fork::new().run(|| {
        let net = own("net");
        for wrong in [Namespaces::UTS, Namespaces::NET | Namespaces::UTS] {
            // SAFETY: refused before any system call; this forked child is alone.
            let err = unsafe { net.setns(wrong) }.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
            let msg = err.to_string();
            assert!(
                msg.contains("CLONE_NEWUTS") && msg.contains("refers to a CLONE_NEWNET namespace"),
                "{msg}"
            );
        }
    });
}

/// Joins a child's UTS and network namespaces through namespace fds.
fn setns_through_namespace_fds() {
    let mut child = CloneArgs::new()
        .namespaces(Namespaces::UTS | Namespaces::NET)
        .spawn(&Exec::new("/bin/sleep").arg("30"))
        .unwrap();
    let uts = child.pidfd().namespace_fd(NamespaceType::Uts).unwrap();
    let net = NamespaceFd::open(format!("/proc/{}/ns/net", child.pid())).unwrap();
    assert!(!uts.same_as(&own("uts")).unwrap());
    // SAFETY: this forked test child is single-threaded.
    unsafe { uts.setns(Namespaces::UTS) }.unwrap();
    // SAFETY: as above; an empty type accepts any namespace.
    unsafe { net.setns(Namespaces::empty()) }.unwrap();
    assert!(uts.same_as(&own("uts")).unwrap());
    assert!(net.same_as(&own("net")).unwrap());
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn setns_on_namespace_fds() {
    require!(Feature::Root, Feature::PidfdNamespaces, Feature::Clone3);
    Fork::new().run(setns_through_namespace_fds);
}

#[test]
fn setns_on_namespace_fds_rootless() {
    require!(Feature::UserNs, Feature::PidfdNamespaces, Feature::Clone3);
    Fork::new().rootless().run(setns_through_namespace_fds);
}

#[test]
fn setns_without_privilege_is_eperm() {
    require!(Feature::Root, Feature::PidfdNamespaces, Feature::Clone3);
    Fork::new().unprivileged().run(|| {
        // Even our own namespace needs CAP_SYS_ADMIN over it to be joined.
        let uts = own("uts");
        // SAFETY: fails in the kernel; this forked child is alone anyway.
        let err = unsafe { uts.setns(Namespaces::UTS) }.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err}");
        assert!(err.to_string().contains("CLONE_NEWUTS"), "{err}");
    });
}

/// Skips unless this kernel makes nsfs file handles (Linux 6.18).
fn require_ns_handles() -> bool {
    let answer = match own("net").file_handle() {
        Ok(_) => Ok(()),
        Err(Error::Unsupported { .. }) => Err("name_to_handle_at answers EOPNOTSUPP".into()),
        Err(e) => panic!("{e}"),
    };
    require_custom("namespace file handles", "6.18", answer)
}

fn namespace_handles_round_trip() {
    for (name, _) in KINDS {
        let ns = own(name);
        let h = ns.file_handle().unwrap();
        assert_eq!(h.handle_type(), 0xf1, "{name}: FILEID_NSFS");
        let copy = NamespaceHandle::from_parts(h.handle_type(), h.as_bytes()).unwrap();
        let back = copy.open().unwrap();
        assert!(back.same_as(&ns).unwrap(), "{name}");
        assert_eq!(back.id().unwrap(), ns.id().unwrap());
    }
    // A namespace that is gone cannot be reopened.
    let mut child = CloneArgs::new()
        .namespaces(Namespaces::USER | Namespaces::UTS)
        .spawn(&Exec::new("/bin/sleep").arg("30"))
        .unwrap();
    let uts = child.pidfd().namespace_fd(NamespaceType::Uts).unwrap();
    let h = uts.file_handle().unwrap();
    assert!(h.open().unwrap().same_as(&uts).unwrap());
    drop(uts);
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let err = loop {
        match h.open() {
            Err(e) => break e,
            Ok(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Ok(_) => panic!("a dead namespace still opens after 5 s"),
        }
    };
    assert!(
        matches!(err.raw_os_error(), Some(libc::ESTALE | libc::ENOENT)),
        "{err}"
    );
    let err = NamespaceHandle::from_parts(0xf1, &[0; 129]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn namespace_file_handles() {
    if !require_ns_handles() {
        return;
    }
    require!(Feature::UserNs, Feature::PidfdNamespaces, Feature::Clone3);
    Fork::new().run(namespace_handles_round_trip);
}

#[test]
fn namespace_file_handles_unprivileged() {
    require!(
        Feature::Root,
        Feature::UnprivilegedUserNs,
        Feature::PidfdNamespaces,
        Feature::Clone3
    );
    if !require_ns_handles() {
        return;
    }
    Fork::new().unprivileged().run(namespace_handles_round_trip);
}

/// Skips unless pidfds have file handles (Linux 6.14).
fn require_pidfd_handles() -> bool {
    let me = PidFd::open(Pid::this(), PidfdFlags::empty()).unwrap();
    let answer = match me.file_handle() {
        Ok(_) => Ok(()),
        Err(Error::Unsupported { .. }) => Err("name_to_handle_at answers EOPNOTSUPP".into()),
        Err(e) => panic!("{e}"),
    };
    require_custom("pidfs file handles", "6.14", answer)
}

fn pidfd_handles_round_trip(no_pidfs_root: bool) {
    linception_pidfd::__force_no_pidfs_root(no_pidfs_root);
    let mut child = CloneArgs::new()
        .spawn(&Exec::new("/bin/sleep").arg("30"))
        .unwrap();
    let h = child.pidfd().file_handle().unwrap();
    let copy = PidfdHandle::from_parts(h.handle_type(), h.as_bytes()).unwrap();
    assert_no_leaks(|| {
        let back = copy.open(PidfdFlags::empty()).unwrap();
        assert_eq!(back.pid().unwrap(), child.pid());
        // Same process: the same handle again.
        assert_eq!(back.file_handle().unwrap(), h);
        assert!(
            rustix::io::fcntl_getfd(&back)
                .unwrap()
                .contains(rustix::io::FdFlags::CLOEXEC)
        );
        let nb = copy.open(PidfdFlags::NONBLOCK).unwrap();
        assert_eq!(nb.try_wait().unwrap(), None);
    });
    let back = copy.open(PidfdFlags::empty()).unwrap();
    back.send_signal(Signal::TERM).unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(Signal::TERM));
    // Reaped: the handle names nobody.
    let err = copy.open(PidfdFlags::empty()).unwrap_err();
    assert!(
        err.is_process_gone() || err.raw_os_error() == Some(libc::ESTALE),
        "{err}"
    );
    let err = PidfdHandle::from_parts(h.handle_type(), &[])
        .unwrap()
        .open(PidfdFlags::empty());
    assert_eq!(err.unwrap_err().kind(), ErrorKind::InvalidArgument);
}

#[test]
fn pidfd_file_handles() {
    if !require_pidfd_handles() {
        return;
    }
    require!(Feature::Clone3);
    Fork::new().run(|| pidfd_handles_round_trip(false));
    Fork::new().run(|| pidfd_handles_round_trip(true));
}

#[test]
fn pidfd_file_handles_unprivileged() {
    require!(Feature::Root, Feature::Clone3);
    if !require_pidfd_handles() {
        return;
    }
    Fork::new()
        .unprivileged()
        .run(|| pidfd_handles_round_trip(false));
    Fork::new()
        .unprivileged()
        .run(|| pidfd_handles_round_trip(true));
}

#[test]
fn pidfd_self_signals_the_caller() {
    let answer = match PidFd::send_signal_to_self(SelfTarget::Process, Signal::NULL) {
        Ok(()) => Ok(()),
        Err(Error::Unsupported { .. }) => Err("pidfd_send_signal(PIDFD_SELF) is EBADF".into()),
        Err(e) => panic!("{e}"),
    };
    if !require_custom("PIDFD_SELF", "6.15", answer) {
        return;
    }
    let pending = Fork::new().run(|| {
        // SAFETY: (block) sigset operations on locals; blocking SIGUSR1/2 in this
        // forked, single-threaded child only.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGUSR1);
            libc::sigaddset(&mut set, libc::SIGUSR2);
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        }
        PidFd::send_signal_to_self(SelfTarget::Thread, Signal::USR1).unwrap();
        PidFd::send_signal_to_self(SelfTarget::Process, Signal::USR2).unwrap();
        PidFd::send_signal_to_self(SelfTarget::Thread, Signal::NULL).unwrap();
        // SAFETY: sigpending fills a local set.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigpending(&mut set);
            (
                libc::sigismember(&set, libc::SIGUSR1) == 1,
                libc::sigismember(&set, libc::SIGUSR2) == 1,
            )
        }
    });
    assert_eq!(pending, (true, true));
}
