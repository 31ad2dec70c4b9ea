//! Containers: sibling children with their own user namespaces and session
//! keyrings must not see each other's keys, nor leave any behind.

mod common;

use std::time::Duration;

use common::{Chan, Host, fresh_session, proc_keys_has, wait_until};
use linception_keyring_ns::{
    Error, ErrorKind, Handover, KeySerial, KeyType, Op, Permission, SessionPlan, add_key, describe,
    get_keyring_id, join_session_keyring, join_session_keyring_in_child, link, read, search,
    setperm,
};
use linception_testkit::{Feature, Fork, require};

/// A rootless container (uid 65534 outside) and a root-mapped one (uid 0
/// outside), running at the same time: neither they nor the host can find, read
/// or describe the other's key.
#[test]
fn sibling_containers_are_isolated() {
    require!(
        Feature::Root,
        Feature::UnprivilegedUserNs,
        Feature::Keyrings
    );
    let tag = "lnc-test.siblings.";
    let host = Host::snapshot(tag);
    let (mut host_a, mut a) = Chan::pair();
    let (mut host_b, mut b) = Chan::pair();
    std::thread::scope(|s| {
        let container_a = s.spawn(move || {
            Fork::new().rootless().run(move || {
                let session = SessionPlan::anonymous().join().unwrap();
                let key = add_key(
                    KeyType::USER,
                    "lnc-test.siblings.secret",
                    b"only-a",
                    session,
                )
                .unwrap();
                a.send(session.as_raw());
                a.send(key.as_raw());
                assert_eq!(a.recv(), 1, "host's go");
                assert_eq!(read(key).unwrap(), b"only-a");
            })
        });
        let container_b = s.spawn(move || {
            Fork::new()
                .unshare(libc::CLONE_NEWUSER)
                .map_root()
                .run(move || {
                    let own = SessionPlan::anonymous().join().unwrap();
                    let a_session = KeySerial::from_raw(b.recv());
                    let a_key = KeySerial::from_raw(b.recv());
                    assert_ne!(own, a_session);
                    let err =
                        search(own, KeyType::USER, "lnc-test.siblings.secret", None).unwrap_err();
                    assert_eq!(err.kind(), ErrorKind::KeyNotFound, "{err}");
                    let err = read(a_key).unwrap_err();
                    assert!(
                        matches!(err, Error::PermissionDenied { key, .. } if key == a_key),
                        "{err}"
                    );
                    assert_eq!(
                        describe(a_key).unwrap_err().kind(),
                        ErrorKind::PermissionDenied
                    );
                    assert_eq!(
                        describe(a_session).unwrap_err().kind(),
                        ErrorKind::PermissionDenied
                    );
                    assert_eq!(
                        link(a_session, own).unwrap_err().kind(),
                        ErrorKind::PermissionDenied
                    );
                    assert_eq!(
                        link(a_key, own).unwrap_err().kind(),
                        ErrorKind::PermissionDenied
                    );
                    assert!(!proc_keys_has(a_key) && !proc_keys_has(a_session));
                    b.send(1);
                })
        });
        let a_session = KeySerial::from_raw(host_a.recv());
        let a_key = KeySerial::from_raw(host_a.recv());
        // The host (root, its own session) cannot find or touch it either.
        let err = search(
            KeySerial::SESSION_KEYRING,
            KeyType::USER,
            "lnc-test.siblings.secret",
            None,
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::KeyNotFound, "{err}");
        assert_eq!(read(a_key).unwrap_err().kind(), ErrorKind::PermissionDenied);
        assert!(!proc_keys_has(a_key));
        host_b.send(a_session.as_raw());
        host_b.send(a_key.as_raw());
        assert_eq!(host_b.recv(), 1);
        host_a.send(1);
        container_b.join().unwrap();
        container_a.join().unwrap();
    });
    host.assert_unchanged();
}

/// Two containers whose roots map to the same host uid are the same "user" to a
/// key: the possessor-only session mask keeps the keyring closed, and the kernel's
/// default key mask (which grants the owning uid view) shows why keys need one.
#[test]
fn same_uid_siblings_need_possessor_only_masks() {
    require!(
        Feature::Root,
        Feature::UnprivilegedUserNs,
        Feature::Keyrings
    );
    let name = format!("_ses.lnc-test-same-uid-{}", std::process::id());
    let (mut host_a, mut a) = Chan::pair();
    let (mut host_b, mut b) = Chan::pair();
    std::thread::scope(|s| {
        let name_a = name.clone();
        let container_a = s.spawn(move || {
            Fork::new().rootless().run(move || {
                let session = SessionPlan::named(name_a.as_str()).unwrap().join().unwrap();
                assert_eq!(describe(session).unwrap().perm, Permission::POSSESSOR_ALL);
                let default_mask =
                    add_key(KeyType::USER, "lnc-test.same.default", b"a", session).unwrap();
                let closed = add_key(KeyType::USER, "lnc-test.same.closed", b"a", session).unwrap();
                setperm(closed, Permission::POSSESSOR_ALL).unwrap();
                for v in [session, default_mask, closed] {
                    a.send(v.as_raw());
                }
                assert_eq!(a.recv(), 1);
            })
        });
        let name_b = name.clone();
        let container_b = s.spawn(move || {
            Fork::new().rootless().run(move || {
                let own = fresh_session();
                let [session, default_mask, closed] =
                    [b.recv(), b.recv(), b.recv()].map(KeySerial::from_raw);
                // The owning uid's view bit: the description leaks, not the payload.
                assert_eq!(
                    describe(default_mask).unwrap().description,
                    "lnc-test.same.default"
                );
                assert_eq!(
                    read(default_mask).unwrap_err().kind(),
                    ErrorKind::PermissionDenied
                );
                assert_eq!(
                    describe(closed).unwrap_err().kind(),
                    ErrorKind::PermissionDenied
                );
                assert_eq!(
                    read(closed).unwrap_err().kind(),
                    ErrorKind::PermissionDenied
                );
                assert_eq!(
                    describe(session).unwrap_err().kind(),
                    ErrorKind::PermissionDenied
                );
                assert_eq!(
                    link(session, own).unwrap_err().kind(),
                    ErrorKind::PermissionDenied
                );
                let err = search(own, KeyType::USER, "lnc-test.same.closed", None).unwrap_err();
                assert_eq!(err.kind(), ErrorKind::KeyNotFound);
                // Joining A's name gives B a keyring of its own.
                let joined = join_session_keyring(Some(name_b.as_str())).unwrap();
                assert_ne!(joined, session);
                b.send(1);
            })
        });
        let values = [host_a.recv(), host_a.recv(), host_a.recv()];
        for v in values {
            host_b.send(v);
        }
        assert_eq!(host_b.recv(), 1);
        host_a.send(1);
        container_b.join().unwrap();
        container_a.join().unwrap();
    });
}

/// Since Linux 5.3 the user keyring is per user namespace: two containers with the
/// same host uid, and a nested namespace, each get their own `_uid.0`.
#[test]
fn user_keyring_differs_between_user_namespaces() {
    require!(
        Feature::Root,
        Feature::UnprivilegedUserNs,
        Feature::Keyrings,
        Feature::KeyringNsNames
    );
    let (mut host_a, a) = Chan::pair();
    let (mut host_b, b) = Chan::pair();
    std::thread::scope(|s| {
        let spawn = |mut chan: Chan| {
            s.spawn(move || {
                Fork::new().rootless().run(move || {
                    fresh_session();
                    let user = get_keyring_id(KeySerial::USER_KEYRING, true).unwrap();
                    assert_eq!(describe(user).unwrap().description, "_uid.0");
                    let nested = Fork::new().unshare(libc::CLONE_NEWUSER).map_root().run(|| {
                        fresh_session();
                        get_keyring_id(KeySerial::USER_KEYRING, true)
                            .unwrap()
                            .as_raw()
                    });
                    assert_ne!(nested, user.as_raw(), "a nested user namespace has its own");
                    chan.send(user.as_raw());
                    assert_eq!(chan.recv(), 1);
                })
            })
        };
        let ta = spawn(a);
        let tb = spawn(b);
        let (ua, ub) = (host_a.recv(), host_b.recv());
        assert_ne!(
            ua, ub,
            "both containers (same host uid) got the same user keyring"
        );
        host_a.send(1);
        host_b.send(1);
        ta.join().unwrap();
        tb.join().unwrap();
    });
}

/// A container's session keyring and keys vanish from `/proc/keys` once it exits.
fn session_gone_after_exit(fork: Fork, tag: &'static str, visible: Permission) {
    let host = Host::snapshot(tag);
    let (mut host_end, mut child) = Chan::pair();
    let name = format!("lnc-test-gc-{}-{}", std::process::id(), tag.len());
    std::thread::scope(|s| {
        let container = s.spawn(move || {
            fork.run(move || {
                let plan = SessionPlan::for_container(&name)
                    .unwrap()
                    .with_permissions(Permission::POSSESSOR_ALL | visible);
                let session = plan.join().unwrap();
                let key =
                    add_key(KeyType::USER, format!("{tag}k").as_str(), b"v", session).unwrap();
                setperm(key, Permission::POSSESSOR_ALL | visible).unwrap();
                child.send(session.as_raw());
                child.send(key.as_raw());
                assert_eq!(child.recv(), 1);
            })
        });
        let session = KeySerial::from_raw(host_end.recv());
        let key = KeySerial::from_raw(host_end.recv());
        // The host sees both while the container lives (so the check below can fail).
        assert!(
            proc_keys_has(session) && proc_keys_has(key),
            "not visible while alive"
        );
        host_end.send(1);
        container.join().unwrap();
        let gone = wait_until(Duration::from_secs(2), || {
            !proc_keys_has(session) && !proc_keys_has(key)
        });
        assert!(
            gone,
            "session keyring {session} or key {key} still in /proc/keys 2 s after exit"
        );
    });
    host.assert_unchanged();
}

#[test]
fn no_key_leaked_after_a_root_container_exits() {
    require!(Feature::Root, Feature::UserNs, Feature::Keyrings);
    // Root-owned: the host (uid 0) sees keys with the owner's view bit.
    session_gone_after_exit(
        Fork::new().unshare(libc::CLONE_NEWUSER).map_root(),
        "lnc-test.gc-root.",
        Permission::USER_VIEW,
    );
}

#[test]
fn no_key_leaked_after_a_rootless_container_exits() {
    require!(
        Feature::Root,
        Feature::UnprivilegedUserNs,
        Feature::Keyrings
    );
    // Owned by 65534: the host needs the "other" view bit to see them.
    session_gone_after_exit(
        Fork::new().rootless(),
        "lnc-test.gc-rootless.",
        Permission::OTHER_VIEW,
    );
}

/// The parent prepares a keyring for a rootless container and hands it over by
/// serial; the container adopts it between fork and "exec"; a container of
/// another uid cannot; the keyring is freed once both let go.
#[test]
fn handover_from_parent_to_container() {
    require!(
        Feature::Root,
        Feature::UnprivilegedUserNs,
        Feature::Keyrings
    );
    let host = Host::snapshot("lnc-test.handover.");
    Fork::new().run(|| {
        fresh_session();
        let handover = Handover::prepare(
            "lnc-test.handover.ring",
            KeySerial::SESSION_KEYRING,
            Some((65534, 65534)),
        )
        .unwrap();
        let ring = handover.keyring();
        let d = describe(ring).unwrap();
        assert_eq!(
            (d.uid, d.gid, d.perm),
            (65534, 65534, Handover::PENDING_PERMISSIONS)
        );
        handover
            .add_key(KeyType::USER, "lnc-test.handover.token", b"tok")
            .unwrap();
        handover
            .add_key(KeyType::LOGON, "cifs:lnc-test.handover", b"pw")
            .unwrap();

        // A container of another uid (root outside) cannot adopt it.
        let plan = SessionPlan::anonymous().adopt(ring);
        let plan_other = plan.clone();
        let refused = Fork::new()
            .unshare(libc::CLONE_NEWUSER)
            .map_root()
            .run(move || {
                let err = plan_other.join_in_child().unwrap_err();
                assert_eq!(
                    (err.op, err.key, err.errno.raw_os_error()),
                    (Op::Link, ring, libc::EACCES)
                );
                err.into_error().to_string()
            });
        assert!(
            refused.contains("KEYCTL_LINK") && refused.contains("EACCES"),
            "{refused}"
        );

        // The rootless container (65534 outside) adopts it and finds its keys.
        let token = Fork::new().rootless().run(move || {
            let session = plan.join_in_child().unwrap();
            assert_eq!(
                get_keyring_id(KeySerial::SESSION_KEYRING, false).unwrap(),
                session
            );
            let d = describe(ring).unwrap();
            assert_eq!(
                (d.uid, d.perm),
                (0, Permission::POSSESSOR_ALL),
                "narrowed once adopted"
            );
            let logon = search(session, KeyType::LOGON, "cifs:lnc-test.handover", None).unwrap();
            assert_eq!(read(logon).unwrap_err().kind(), ErrorKind::NotReadable);
            let key = search(session, KeyType::USER, "lnc-test.handover.token", None).unwrap();
            read(key).unwrap()
        });
        assert_eq!(token, b"tok");
        handover.release().unwrap();
        // Nobody holds it any more: gone.
        let gone = wait_until(Duration::from_secs(2), || {
            describe(ring).is_err_and(|e| e.kind() == ErrorKind::KeyNotFound)
        });
        assert!(gone, "handed-over keyring {ring} still exists");
    });
    host.assert_unchanged();
}

/// A handover that is dropped before any container adopted it frees the keyring.
#[test]
fn dropped_handover_frees_the_keyring() {
    require!(Feature::Root, Feature::Keyrings);
    Fork::new().unprivileged().run(|| {
        let session = fresh_session();
        let ring = {
            let handover = Handover::prepare("lnc-test.handover-drop", session, None).unwrap();
            handover
                .add_key(KeyType::USER, "lnc-test.handover-drop.k", b"v")
                .unwrap();
            handover.keyring()
        };
        let gone = wait_until(Duration::from_secs(2), || describe(ring).is_err());
        assert!(gone, "dropped handover keyring {ring} still exists");
        // Without CAP_SYS_ADMIN the owner cannot be changed: prepare fails cleanly
        // and leaves no keyring linked.
        let err = Handover::prepare("lnc-test.handover-chown", session, Some((0, 0))).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
        assert!(
            linception_keyring_ns::read_keyring(session)
                .unwrap()
                .is_empty()
        );
    });
}

#[test]
fn join_in_child_names_and_permissions() {
    require!(
        Feature::Root,
        Feature::UnprivilegedUserNs,
        Feature::Keyrings
    );
    Fork::new().rootless().run(|| {
        let plan = SessionPlan::for_container("lnc-test-join")
            .unwrap()
            .with_permissions(Permission::POSSESSOR_ALL | Permission::USER_VIEW);
        let session = plan.join_in_child().unwrap();
        assert_eq!(
            get_keyring_id(KeySerial::SESSION_KEYRING, false).unwrap(),
            session
        );
        let d = describe(session).unwrap();
        assert_eq!(d.description, "_ses.lnc-test-join");
        assert_eq!(d.perm, Permission::POSSESSOR_ALL | Permission::USER_VIEW);
        // Name lookup checks the uid's search bit, never possession: without
        // USER_SEARCH not even this process finds it again, and gets a new one.
        let again = join_session_keyring_in_child(Some(c"_ses.lnc-test-join"), None).unwrap();
        assert_ne!(again, session);
        assert_eq!(describe(again).unwrap().description, "_ses.lnc-test-join");
        // Anonymous, no setperm.
        let anon = join_session_keyring_in_child(None, None).unwrap();
        assert_ne!(anon, session);
        assert_eq!(describe(anon).unwrap().description, "_ses");
        // A reserved name: the kernel's EPERM, no allocation, turned into a full
        // error afterwards.
        let err = join_session_keyring_in_child(Some(c".lnc-test"), None).unwrap_err();
        assert_eq!(
            (err.op, err.errno.raw_os_error()),
            (Op::JoinSessionKeyring, libc::EPERM)
        );
        let full = err.into_error();
        assert_eq!(full.raw_os_error(), Some(libc::EPERM));
        assert!(
            full.to_string()
                .starts_with("keyctl(KEYCTL_JOIN_SESSION_KEYRING"),
            "{full}"
        );
        assert_eq!(
            get_keyring_id(KeySerial::SESSION_KEYRING, false).unwrap(),
            anon,
            "unchanged by the failure"
        );
    });
}

#[test]
fn session_names_are_validated_before_the_kernel() {
    for bad in [".lnc", "", "a\0b"] {
        let err = SessionPlan::named(bad).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidInput {
                    input: "session keyring name",
                    ..
                }
            ),
            "{bad:?}: {err}"
        );
        let err = join_session_keyring(Some(bad)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        assert!(err.raw_os_error().is_none());
    }
    let long = "x".repeat(5000);
    let err = SessionPlan::named(long.as_str()).unwrap_err();
    assert!(err.to_string().contains("4095"), "{err}");
    let err = SessionPlan::for_container(".x").unwrap();
    assert_eq!(
        err.name().unwrap(),
        c"_ses..x",
        "the prefix makes any id valid"
    );
    // The message explains the reservation.
    let err = SessionPlan::named(".hidden").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid session keyring name \".hidden\": names starting with '.' are reserved for the kernel's own keyrings (the kernel answers EPERM)"
    );
}

/// Two processes of the same uid in the same user namespace: a possessor-only
/// named session keyring cannot be joined by the other; one that grants the uid
/// search (deliberate sharing) can.
#[test]
fn named_session_joinable_only_when_searchable() {
    require!(Feature::Root, Feature::Keyrings);
    for (extra, shared) in [
        (Permission::empty(), false),
        (Permission::USER_SEARCH, true),
    ] {
        let name = format!("_ses.lnc-test-share-{}-{shared}", std::process::id());
        let (mut host_a, mut a) = Chan::pair();
        let (mut host_b, mut b) = Chan::pair();
        std::thread::scope(|s| {
            let name_a = name.clone();
            let ta = s.spawn(move || {
                Fork::new().unprivileged().run(move || {
                    let plan = SessionPlan::named(name_a.as_str())
                        .unwrap()
                        .with_permissions(Permission::POSSESSOR_ALL | extra);
                    a.send(plan.join().unwrap().as_raw());
                    assert_eq!(a.recv(), 1);
                })
            });
            let name_b = name.clone();
            let tb = s.spawn(move || {
                Fork::new().unprivileged().run(move || {
                    let theirs = b.recv();
                    let mine = join_session_keyring(Some(name_b.as_str())).unwrap();
                    b.send(i32::from(mine.as_raw() == theirs));
                })
            });
            host_b.send(host_a.recv());
            let same = host_b.recv() == 1;
            host_a.send(1);
            ta.join().unwrap();
            tb.join().unwrap();
            assert_eq!(same, shared, "mask {extra:?}");
        });
    }
}

/// The session keyring belongs to the thread's credentials: a thread that joins
/// a new one leaves the other threads' alone.
#[test]
fn join_changes_only_the_calling_thread() {
    require!(Feature::Root, Feature::Keyrings);
    Fork::new().unprivileged().run(|| {
        let main_session = fresh_session();
        let joined = std::thread::spawn(|| SessionPlan::anonymous().join().unwrap().as_raw())
            .join()
            .unwrap();
        assert_ne!(joined, main_session.as_raw());
        assert_eq!(
            get_keyring_id(KeySerial::SESSION_KEYRING, false).unwrap(),
            main_session
        );
    });
}

/// Joins a named keyring, lets its uid search it, then joins it again: the
/// kernel answers 0 for the keyring that already is the session keyring, and
/// both forms must return its serial instead. Returns a description of any
/// mismatch (empty when all is well).
fn rejoin_same_keyring(name: &'static str, c_name: &'static std::ffi::CStr) -> Vec<String> {
    let mut bad = Vec::new();
    let first = join_session_keyring(Some(name)).unwrap();
    let searchable = Permission::POSSESSOR_ALL | Permission::USER_VIEW | Permission::USER_SEARCH;
    setperm(first, searchable).unwrap();
    let again = join_session_keyring(Some(name)).unwrap();
    if again != first {
        bad.push(format!(
            "join_session_keyring again: {again}, expected {first}"
        ));
    }
    let perm = searchable | Permission::USER_READ;
    match join_session_keyring_in_child(Some(c_name), Some(perm)) {
        Ok(serial) if serial == first => {
            if describe(first).unwrap().perm != perm {
                bad.push("join_session_keyring_in_child did not set the mask".into());
            }
        }
        Ok(serial) => bad.push(format!(
            "join_session_keyring_in_child again: {serial}, expected {first}"
        )),
        Err(err) => bad.push(format!(
            "join_session_keyring_in_child: {}",
            err.into_error()
        )),
    }
    let session = get_keyring_id(KeySerial::SESSION_KEYRING, false).unwrap();
    if session != first {
        bad.push(format!("session keyring is {session}, expected {first}"));
    }
    bad
}

#[test]
fn joining_the_current_session_keyring_again_returns_its_serial() {
    require!(Feature::UnprivilegedUserNs, Feature::Keyrings);
    // Rootless (as 65534, or as the unprivileged caller), and root-mapped when
    // started as root: keyring names are per user namespace, so neither touches
    // the host's.
    let mut runs = vec![(
        "rootless",
        Fork::new()
            .rootless()
            .run(|| rejoin_same_keyring("_ses.lnc-test-rejoin", c"_ses.lnc-test-rejoin")),
    )];
    if linception_testkit::available(Feature::Root).is_ok() {
        runs.push((
            "root-mapped",
            Fork::new()
                .unshare(libc::CLONE_NEWUSER)
                .map_root()
                .run(|| rejoin_same_keyring("_ses.lnc-test-rejoin", c"_ses.lnc-test-rejoin")),
        ));
    }
    for (mode, bad) in runs {
        assert!(bad.is_empty(), "{mode}: {}", bad.join("; "));
    }
}
