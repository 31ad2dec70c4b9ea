//! The clone-to-exec path and the hot path allocate nothing: counted with a
//! global allocator, in a forked (single-threaded) child.

mod common;

use linception_keyring_ns::{
    ErrorKind, KeySerial, KeyType, Permission, SessionPlan, add_key, read_into, unlink,
};
use linception_testkit::alloc::{CountingAllocator, allocations_in as count};
use linception_testkit::{Feature, Fork, require};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn join_in_child_allocates_nothing() {
    require!(
        Feature::Root,
        Feature::UnprivilegedUserNs,
        Feature::Keyrings
    );
    Fork::new().rootless().run(|| {
        // Prepared "in the parent" (before the measured part).
        common::fresh_session();
        // Held by the process keyring, which survives the session change.
        let process =
            linception_keyring_ns::get_keyring_id(KeySerial::PROCESS_KEYRING, true).unwrap();
        let ring = add_key(KeyType::KEYRING, "lnc-test.noalloc.ring", b"", process).unwrap();
        let plan = SessionPlan::for_container("lnc-test-noalloc")
            .unwrap()
            .adopt(ring);
        let (session, n) = count(|| plan.join_in_child());
        assert_eq!(n, 0, "join_in_child allocated {n} times");
        let session = session.unwrap();
        // It did everything it says.
        let d = linception_keyring_ns::describe(session).unwrap();
        assert_eq!(
            (d.description.as_str(), d.perm),
            ("_ses.lnc-test-noalloc", Permission::POSSESSOR_ALL)
        );
        assert!(
            linception_keyring_ns::read_keyring(session)
                .unwrap()
                .contains(&ring)
        );
        // The failure path allocates nothing either.
        let (err, n) =
            count(|| linception_keyring_ns::join_session_keyring_in_child(Some(c".bad"), None));
        assert_eq!(n, 0);
        let err = err.unwrap_err();
        assert_eq!(err.errno.raw_os_error(), libc::EPERM);
        // Nor does building the full error from it (the call is recorded inline).
        let (full, n) = count(|| err.into_error());
        assert_eq!(n, 0, "ChildError::into_error allocated {n} times");
        assert_eq!(
            full.to_string(),
            "keyctl(KEYCTL_JOIN_SESSION_KEYRING, <name>): Operation not permitted (EPERM)"
        );
    });
}

#[test]
fn hot_path_allocates_nothing() {
    require!(Feature::Root, Feature::Keyrings);
    Fork::new().unprivileged().run(|| {
        let session = common::fresh_session();
        let mut buf = [0u8; 64];
        let (len, n) = count(|| {
            let key = add_key(KeyType::USER, "lnc-test.noalloc.hot", b"payload", session).unwrap();
            let len = read_into(key, &mut buf).unwrap();
            unlink(key, session).unwrap();
            len
        });
        assert_eq!(n, 0, "add_key + read_into + unlink allocated {n} times");
        assert_eq!(&buf[..len], b"payload");
        // A failed call builds its error without allocating: a key that is gone,
        // a key that is not in the keyring.
        let (err, n) = count(|| {
            let key = add_key(KeyType::USER, "lnc-test.noalloc.gone", b"p", session).unwrap();
            unlink(key, session).unwrap();
            (
                read_into(key, &mut buf).unwrap_err(),
                unlink(key, session).unwrap_err(),
            )
        });
        assert_eq!(n, 0, "the failure paths allocated {n} times");
        // No longer possessed (EACCES), or already collected (ENOKEY).
        assert!(
            matches!(
                err.0.kind(),
                ErrorKind::PermissionDenied | ErrorKind::KeyNotFound
            ),
            "{}",
            err.0
        );
        assert!(
            err.0.to_string().starts_with("keyctl(KEYCTL_READ, "),
            "{}",
            err.0
        );
        assert!(err.1.raw_os_error().is_some(), "{}", err.1);
        // A long (>= 256 bytes) description uses the larger stack buffer: still none.
        let long = "d".repeat(3000);
        let (_, n) = count(|| {
            let key = add_key(KeyType::USER, long.as_str(), b"p", session).unwrap();
            unlink(key, session).unwrap();
        });
        assert_eq!(n, 0);
    });
}
