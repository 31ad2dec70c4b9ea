//! Every keyctl wrapper against the real kernel, as root, as uid 65534 and rootless.
//! Everything that adds keys runs in a forked child that first joins a fresh
//! session keyring; the host's keyrings are checked unchanged afterwards.
// Unsafe code here: the kernel's own answer to a raw add_key call is the baseline a check is compared with.
#![allow(unsafe_code)]

mod common;

use std::time::{Duration, Instant};

use common::{Host, fresh_session, wait_until};
use linception_keyring_ns::{
    Error, ErrorKind, KeySerial, KeyType, MoveFlags, Permission, add_key, capabilities, clear,
    describe, get_keyring_id, get_persistent, get_security, invalidate, link, move_key, read,
    read_into, read_keyring, request_key, revoke, search, set_timeout, unlink, update,
};
use linception_testkit::{Feature, Fork, require};

/// The core cycle: add, read, update, describe, search, link, move, unlink,
/// clear, revoke, invalidate. `uid` is the caller's uid as the kernel reports it
/// in its own namespace.
fn core_cycle(tag: &str, uid: u32) {
    let session = fresh_session();
    assert_eq!(
        get_keyring_id(KeySerial::SESSION_KEYRING, false).unwrap(),
        session
    );
    let d = describe(session).unwrap();
    assert_eq!(
        (d.key_type.as_str(), d.description.as_str()),
        ("keyring", "_ses")
    );
    assert_eq!(d.perm, Permission::POSSESSOR_ALL | Permission::USER_VIEW);
    assert_eq!(d.uid, uid);

    // add_key, read, read_into with a short buffer.
    let desc = format!("{tag}token");
    let key = add_key(
        KeyType::USER,
        desc.as_str(),
        b"hello",
        KeySerial::SESSION_KEYRING,
    )
    .unwrap();
    assert!(!key.is_special());
    assert_eq!(read(key).unwrap(), b"hello");
    let mut small = [0u8; 2];
    assert_eq!(
        read_into(key, &mut small).unwrap(),
        5,
        "the full length, though it did not fit"
    );
    let mut buf = [0u8; 64];
    let n = read_into(key, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello");

    // A second add_key of the same type and description updates the same key.
    let again = add_key(KeyType::USER, desc.as_str(), b"world!", session).unwrap();
    assert_eq!(again, key);
    assert_eq!(read(key).unwrap(), b"world!");

    // update past read()'s first buffer, so it has to grow.
    let big: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    update(key, &big).unwrap();
    assert_eq!(read(key).unwrap(), big);

    let d = describe(key).unwrap();
    assert_eq!(d.key_type, "user");
    assert_eq!(d.description, desc);
    assert_eq!(d.uid, uid);
    assert_eq!(d.perm, Permission::POSSESSOR_ALL | Permission::USER_VIEW);

    // search finds it; a missing one is ENOKEY naming the keyring searched.
    assert_eq!(
        search(session, KeyType::USER, desc.as_str(), None).unwrap(),
        key
    );
    let missing = format!("{tag}missing");
    let err = search(session, KeyType::USER, missing.as_str(), None).unwrap_err();
    assert!(
        matches!(err, Error::KeyNotFound { key: k, .. } if k == session),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "keyctl(KEYCTL_SEARCH, {session}, \"user\", \"{missing}\", 0): Required key not available (ENOKEY)"
        )
    );
    assert!(read_keyring(session).unwrap().contains(&key));

    // link / unlink / move between two keyrings.
    let ring_a = add_key(KeyType::KEYRING, format!("{tag}a").as_str(), b"", session).unwrap();
    let ring_b = add_key(KeyType::KEYRING, format!("{tag}b").as_str(), b"", session).unwrap();
    link(key, ring_a).unwrap();
    assert_eq!(read_keyring(ring_a).unwrap(), vec![key]);
    move_key(key, ring_a, ring_b, MoveFlags::EXCL).unwrap();
    assert_eq!(read_keyring(ring_a).unwrap(), vec![]);
    assert_eq!(read_keyring(ring_b).unwrap(), vec![key]);
    // search with a destination links the found key there.
    assert_eq!(
        search(session, KeyType::USER, desc.as_str(), Some(ring_a)).unwrap(),
        key
    );
    assert_eq!(read_keyring(ring_a).unwrap(), vec![key]);
    // EXCL refuses to displace the key of the same description in ring_b.
    let err = move_key(key, ring_a, ring_b, MoveFlags::EXCL).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EEXIST), "{err}");
    assert!(err.to_string().contains("KEYCTL_MOVE_EXCL"), "{err}");
    unlink(key, ring_a).unwrap();
    // Not linked there (any more): the kernel answers ENOENT, not ENOKEY.
    let err = unlink(key, ring_a).unwrap_err();
    assert_eq!(
        (err.kind(), err.raw_os_error()),
        (ErrorKind::Os, Some(libc::ENOENT)),
        "{err}"
    );
    assert_eq!(err.key(), Some(key));
    clear(ring_b).unwrap();
    assert!(read_keyring(ring_b).unwrap().is_empty());
    assert!(read(key).is_ok(), "still linked in the session keyring");

    // revoke: every use answers EKEYREVOKED, naming the key.
    revoke(key).unwrap();
    let err = read(key).unwrap_err();
    assert!(
        matches!(err, Error::KeyRevoked { key: k, .. } if k == key),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!("keyctl(KEYCTL_READ, {key}, <buffer>, 512): Key has been revoked (EKEYREVOKED)")
    );
    let io: std::io::Error = err.into();
    assert_eq!(io.raw_os_error(), Some(libc::EKEYREVOKED));

    // A revoked key can still be unlinked.
    unlink(key, session).unwrap();

    // invalidate: unusable and unfindable at once; the garbage collector then
    // removes its links from every keyring.
    let other_desc = format!("{tag}other");
    let other = add_key(KeyType::USER, other_desc.as_str(), b"x", ring_a).unwrap();
    link(other, ring_b).unwrap();
    invalidate(other).unwrap();
    let err = describe(other).unwrap_err();
    assert!(
        matches!(err, Error::KeyNotFound { key: k, .. } if k == other),
        "{err}"
    );
    // Until the collector unlinks it, a search that meets it says EKEYREVOKED.
    let err = search(session, KeyType::USER, other_desc.as_str(), None).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::KeyNotFound | ErrorKind::KeyRevoked),
        "{err}"
    );
    let unlinked = wait_until(Duration::from_secs(2), || {
        !read_keyring(ring_a).unwrap().contains(&other)
            && !read_keyring(ring_b).unwrap().contains(&other)
    });
    assert!(
        unlinked,
        "an invalidated key {other} is still linked after 2 s: {:?} {:?}",
        read_keyring(ring_a),
        read_keyring(ring_b)
    );
    let err = search(session, KeyType::USER, other_desc.as_str(), None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::KeyNotFound, "{err}");
}

#[test]
fn core_cycle_as_root() {
    require!(Feature::Root, Feature::Keyrings);
    let host = Host::snapshot("lnc-test.core-root.");
    Fork::new().run(|| core_cycle("lnc-test.core-root.", 0));
    host.assert_unchanged();
}

#[test]
fn core_cycle_as_nobody() {
    require!(Feature::Root, Feature::Keyrings);
    let host = Host::snapshot("lnc-test.core-nobody.");
    Fork::new()
        .unprivileged()
        .run(|| core_cycle("lnc-test.core-nobody.", 65534));
    host.assert_unchanged();
}

#[test]
fn core_cycle_rootless() {
    require!(
        Feature::Root,
        Feature::UnprivilegedUserNs,
        Feature::Keyrings
    );
    let host = Host::snapshot("lnc-test.core-rootless.");
    Fork::new()
        .rootless()
        .run(|| core_cycle("lnc-test.core-rootless.", 0));
    host.assert_unchanged();
}

#[test]
fn timeout_expires_the_key() {
    require!(Feature::Root, Feature::Keyrings);
    let host = Host::snapshot("lnc-test.timeout.");
    Fork::new().unprivileged().run(|| {
        let session = fresh_session();
        let key = add_key(KeyType::USER, "lnc-test.timeout.k", b"soon gone", session).unwrap();
        let kept = add_key(KeyType::USER, "lnc-test.timeout.kept", b"kept", session).unwrap();
        set_timeout(kept, 1).unwrap();
        set_timeout(kept, 0).unwrap(); // 0 removes the timeout again
        let start = Instant::now();
        set_timeout(key, 1).unwrap();
        assert_eq!(read(key).unwrap(), b"soon gone", "not expired yet");
        let expired = wait_until(Duration::from_secs(3), || {
            read(key).is_err_and(|e| e.kind() == ErrorKind::KeyExpired)
        });
        let elapsed = start.elapsed();
        assert!(expired, "key did not expire within 3 s");
        // The kernel keeps expiry times in whole seconds: "1 s" ends at the next
        // second boundary but one, so anywhere in (0, 2] s from now.
        assert!(
            elapsed <= Duration::from_millis(2500),
            "expired after {elapsed:?}"
        );
        let err = read(key).unwrap_err();
        assert!(
            matches!(err, Error::KeyExpired { key: k, .. } if k == key),
            "{err}"
        );
        assert!(
            err.to_string().ends_with("Key has expired (EKEYEXPIRED)"),
            "{err}"
        );
        // Setting a timeout on an expired key fails the same way.
        assert_eq!(
            set_timeout(key, 5).unwrap_err().kind(),
            ErrorKind::KeyExpired
        );
        assert_eq!(read(kept).unwrap(), b"kept");
    });
    host.assert_unchanged();
}

#[test]
fn logon_keys_are_write_only_and_need_a_prefix() {
    require!(Feature::Root, Feature::Keyrings);
    Fork::new().unprivileged().run(|| {
        let session = fresh_session();
        let key = add_key(KeyType::LOGON, "cifs:lnc-test.alice", b"password", session).unwrap();
        let err = read(key).unwrap_err();
        assert!(
            matches!(err, Error::NotReadable { key: k, .. } if k == key),
            "{err}"
        );
        assert_eq!(err.raw_os_error(), Some(libc::EOPNOTSUPP));
        let mut buf = [0u8; 32];
        assert_eq!(
            read_into(key, &mut buf).unwrap_err().kind(),
            ErrorKind::NotReadable
        );
        // Still describable, searchable and updatable.
        assert_eq!(describe(key).unwrap().key_type, "logon");
        assert_eq!(
            search(session, KeyType::LOGON, "cifs:lnc-test.alice", None).unwrap(),
            key
        );
        update(key, b"new password").unwrap();

        for bad in ["lnc-test.no-prefix", ":lnc-test.empty-prefix"] {
            let err = add_key(KeyType::LOGON, bad, b"pw", session).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::InvalidInput {
                        input: "logon key description",
                        ..
                    }
                ),
                "{err}"
            );
            let text = err.to_string();
            assert!(text.contains(bad) && text.contains("cifs:alice"), "{text}");
        }
        // The kernel agrees: bypassing our check, it refuses the same description.
        // SAFETY: NUL-terminated literals, a 2-byte payload, an integer keyring.
        let raw = unsafe {
            libc::syscall(
                libc::SYS_add_key,
                c"logon".as_ptr(),
                c"lnc-test.no-prefix".as_ptr(),
                b"pw".as_ptr(),
                2usize,
                session.as_raw() as libc::c_long,
            )
        };
        assert_eq!(raw, -1);
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::EINVAL)
        );
    });
}

#[test]
fn big_key_matches_capabilities() {
    require!(Feature::Root, Feature::Keyrings);
    let caps = capabilities().unwrap();
    let outcome = Fork::new().run(move || {
        let session = fresh_session();
        let payload: Vec<u8> = (0..100_000u32).map(|i| (i * 7) as u8).collect();
        match add_key(KeyType::BIG_KEY, "lnc-test.big", &payload, session) {
            Ok(key) => {
                assert_eq!(read(key).unwrap(), payload);
                true
            }
            Err(Error::UnknownKeyType { key_type, call }) => {
                assert_eq!(key_type, "big_key");
                assert!(
                    call.to_string()
                        .starts_with("add_key(\"big_key\", \"lnc-test.big\", <100000 bytes>")
                );
                false
            }
            Err(err) => panic!("unexpected: {err}"),
        }
    });
    assert_eq!(
        outcome, caps.big_key,
        "KEYCTL_CAPS0_BIG_KEY disagrees with add_key"
    );
}

#[test]
fn capabilities_on_this_kernel() {
    require!(Feature::Keyrings, Feature::KeyringNsNames);
    let caps = capabilities().unwrap();
    // Linux >= 5.3 (KeyringNsNames): these all exist.
    assert!(
        caps.capabilities && caps.invalidate && caps.move_key && caps.ns_keyring_name,
        "{caps:?}"
    );
    // restrict_keyring's bit follows CONFIG; check it against the call.
    let restricted = Fork::new().run(|| {
        let session = fresh_session();
        let ring = add_key(KeyType::KEYRING, "lnc-test.caps", b"", session).unwrap();
        match linception_keyring_ns::restrict_keyring::<str>(ring, None, None) {
            Ok(()) => true,
            Err(e) if e.kind() == ErrorKind::Unsupported => false,
            Err(e) => panic!("{e}"),
        }
    });
    assert_eq!(restricted, caps.restrict_keyring);
}

#[test]
fn persistent_keyring_in_a_user_namespace() {
    require!(
        Feature::Root,
        Feature::UnprivilegedUserNs,
        Feature::Keyrings
    );
    let caps = capabilities().unwrap();
    // Persistent keyrings live in a per-user-namespace register: in a fresh user
    // namespace they die with it, so the host's register is untouched.
    Fork::new().rootless().run(move || {
        let session = fresh_session();
        match get_persistent(None, session) {
            Ok(ring) => {
                assert!(caps.persistent_keyrings);
                assert_eq!(describe(ring).unwrap().description, "_persistent.0");
                assert!(read_keyring(session).unwrap().contains(&ring));
                // Another uid's needs CAP_SETUID in the namespace: we are its root, but
                // uid 1 has no mapping here.
                assert!(get_persistent(Some(1), session).is_err());
            }
            Err(err) => {
                assert!(!caps.persistent_keyrings);
                assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
            }
        }
    });
}

#[test]
fn security_label_and_errors() {
    require!(Feature::Root, Feature::Keyrings);
    Fork::new().unprivileged().run(|| {
        let session = fresh_session();
        let key = add_key(KeyType::USER, "lnc-test.sec", b"x", session).unwrap();
        // No security module labels keys on a kernel without one; the call works.
        let label = get_security(key).unwrap();
        assert!(!label.contains('\0'));
        setperm_no_view(key);
        // describe says EACCES; KEYCTL_GET_SECURITY answers ENOKEY for a key the
        // caller may not view (it then looks for an instantiation authorisation).
        let err = describe(key).unwrap_err();
        assert!(
            matches!(err, Error::PermissionDenied { key: k, .. } if k == key),
            "{err}"
        );
        let err = get_security(key).unwrap_err();
        assert!(
            matches!(err, Error::KeyNotFound { key: k, .. } if k == key),
            "{err}"
        );
        invalidate_ok(key);
        let err = get_security(key).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::KeyNotFound, "{err}");
    });
}

fn setperm_no_view(key: KeySerial) {
    linception_keyring_ns::setperm(key, Permission::POSSESSOR_ALL - Permission::POSSESSOR_VIEW)
        .unwrap();
}

fn invalidate_ok(key: KeySerial) {
    invalidate(key).unwrap();
}

#[test]
fn request_key_finds_or_fails_cleanly() {
    require!(Feature::Root, Feature::Keyrings);
    Fork::new().unprivileged().run(|| {
        let session = fresh_session();
        let key = add_key(KeyType::USER, "lnc-test.req", b"v", session).unwrap();
        assert_eq!(request_key(KeyType::USER, "lnc-test.req", None::<&str>, None).unwrap(), key);
        let ring = add_key(KeyType::KEYRING, "lnc-test.req-dest", b"", session).unwrap();
        assert_eq!(request_key(KeyType::USER, "lnc-test.req", None::<&str>, Some(ring)).unwrap(), key);
        assert_eq!(read_keyring(ring).unwrap(), vec![key], "linked into the destination");

        let err = request_key(KeyType::USER, "lnc-test.req-missing", None::<&str>, None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::KeyNotFound, "{err}");
        assert!(err.to_string().starts_with("request_key(\"user\", \"lnc-test.req-missing\", NULL, 0)"), "{err}");
        // With callout info the kernel tries to construct the key through the
        // request-key helper; without a helper that can, construction fails.
        let err = request_key(KeyType::USER, "lnc-test.req-callout", Some("info"), Some(ring)).unwrap_err();
        assert!(err.errno().is_some(), "{err}");
        assert!(err.to_string().contains("\"info\""), "{err}");
        // Only add_key says ENODEV for an unknown type; request_key says ENOKEY.
        let err = request_key(KeyType::new(c"lnc-no-such-type"), "x", None::<&str>, None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::KeyNotFound, "{err}");
        let err = add_key(KeyType::new(c"lnc-no-such-type"), "x", b"v", session).unwrap_err();
        assert!(matches!(&err, Error::UnknownKeyType { key_type, .. } if key_type == "lnc-no-such-type"), "{err}");
    });
}

#[test]
fn special_ids() {
    require!(Feature::Root, Feature::Keyrings);
    Fork::new().unprivileged().run(|| {
        fresh_session();
        let err = get_keyring_id(KeySerial::THREAD_KEYRING, false).unwrap_err();
        assert!(matches!(err, Error::KeyNotFound { key: KeySerial::THREAD_KEYRING, .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_THREAD_KEYRING, 0): Required key not available (ENOKEY)"
        );
        let thread = get_keyring_id(KeySerial::THREAD_KEYRING, true).unwrap();
        assert_eq!(get_keyring_id(KeySerial::THREAD_KEYRING, false).unwrap(), thread);
        assert_eq!(describe(thread).unwrap().description, "_tid");
        let process = get_keyring_id(KeySerial::PROCESS_KEYRING, true).unwrap();
        assert_eq!(describe(process).unwrap().description, "_pid");
        assert_ne!(thread, process);
        // Outside a request_key upcall there is no authorisation key.
        assert!(get_keyring_id(KeySerial::REQKEY_AUTH_KEY, false).is_err());
        let err = get_keyring_id(KeySerial::GROUP_KEYRING, false).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
        let err = get_keyring_id(KeySerial::from_raw(-100), false).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
    });
}

/// Arguments the kernel would refuse with a bare EINVAL/EPERM are refused first,
/// naming the argument; nothing is created and no fd is left open.
#[test]
fn bad_input_is_named_and_leaves_nothing() {
    require!(Feature::Root, Feature::Keyrings);
    Fork::new().unprivileged().run(|| {
        let session = fresh_session();
        linception_testkit::leaks::assert_no_leaks(|| {
            let cases: Vec<(Error, &str)> = vec![
                (
                    add_key(KeyType::USER, "a\0b", b"v", session).unwrap_err(),
                    "invalid description \"a\\0b\": contains a NUL byte",
                ),
                (
                    add_key(KeyType::USER, "", b"v", session).unwrap_err(),
                    "only a keyring may have an empty description",
                ),
                (
                    add_key(KeyType::USER, "lnc-test.bad", b"", session).unwrap_err(),
                    "1 to 32767 bytes",
                ),
                (
                    add_key(KeyType::USER, "lnc-test.bad", &[0u8; 40000], session).unwrap_err(),
                    "<40000 bytes>",
                ),
                (
                    add_key(KeyType::KEYRING, ".lnc-test", b"", session).unwrap_err(),
                    "invalid keyring description \".lnc-test\"",
                ),
                (
                    add_key(KeyType::KEYRING, "lnc-test.ring", b"x", session).unwrap_err(),
                    "empty payload",
                ),
                (
                    add_key(KeyType::USER, "d".repeat(5000).as_str(), b"v", session).unwrap_err(),
                    "4095 bytes",
                ),
                (
                    search(session, KeyType::USER, "x\0", None).unwrap_err(),
                    "invalid description",
                ),
                (
                    update(session, &vec![0u8; 70000]).unwrap_err(),
                    "at most one page",
                ),
            ];
            for (err, expected) in cases {
                assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
                assert!(err.raw_os_error().is_none() && err.call().is_none());
                assert!(
                    err.to_string().contains(expected),
                    "{err:?} lacks {expected:?}"
                );
                let io: std::io::Error = err.into();
                assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
            }
        });
        assert!(
            read_keyring(session).unwrap().is_empty(),
            "a refused call created a key"
        );
        // What the kernel refuses itself still names the call.
        let err = update(session, b"x").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EOPNOTSUPP), "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "keyctl(KEYCTL_UPDATE, {session}, <1 bytes>): Operation not supported (EOPNOTSUPP)"
            )
        );
    });
}

/// read() races update(): another thread flips the payload between a short and a
/// long value; every read returns exactly one of them, never a truncated or stale
/// length (the growing buffer retries when the key grew between calls). Bounded:
/// ~1 s.
#[test]
fn read_races_update() {
    require!(Feature::Root, Feature::Keyrings);
    let (reads, grew) = Fork::new().unprivileged().run(|| {
        use std::sync::atomic::{AtomicBool, Ordering};
        let session = fresh_session();
        let short = b"short".to_vec();
        let long: Vec<u8> = (0..4000u32).map(|i| (i % 253) as u8).collect();
        let key = add_key(KeyType::USER, "lnc-test.race", &short, session).unwrap();
        let stop = AtomicBool::new(false);
        let (mut reads, mut long_reads) = (0u64, 0u64);
        std::thread::scope(|s| {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    update(key, &long).unwrap();
                    update(key, &short).unwrap();
                }
            });
            let deadline = Instant::now() + Duration::from_secs(1);
            while Instant::now() < deadline {
                let got = read(key).unwrap();
                assert!(
                    got == short || got == long,
                    "read {} bytes, neither payload",
                    got.len()
                );
                reads += 1;
                long_reads += u64::from(got == long);
            }
            stop.store(true, Ordering::Relaxed);
        });
        (reads, long_reads)
    });
    assert!(reads > 100, "only {reads} reads in 1 s");
    assert!(grew > 0, "never saw the long payload in {reads} reads");
}
