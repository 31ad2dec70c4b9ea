//! Permission masks, ownership and keyring restrictions, as root and as 65534.

mod common;

use common::{Host, fresh_session};
use linception_keyring_ns::{
    Error, ErrorKind, KeySerial, KeyType, Permission, add_key, chown, describe, link, read,
    read_keyring, restrict_keyring, search, setperm, update,
};
use linception_testkit::{Feature, Fork, NOBODY, require};

/// Without the possessor's read bit the payload cannot be read, even by root and
/// even by the owner; with it back, it can. The kernel's exception: a possessor
/// that may still *search* for the key can read it anyway (KEYCTL_READ grants
/// read to a possessed key), so the bit alone does not close it.
fn no_read_bit(tag: &str) {
    let session = fresh_session();
    let key = add_key(
        KeyType::USER,
        format!("{tag}k").as_str(),
        b"payload",
        session,
    )
    .unwrap();
    setperm(key, Permission::POSSESSOR_ALL - Permission::POSSESSOR_READ).unwrap();
    assert_eq!(describe(key).unwrap().perm.bits(), 0x3d00_0000);
    assert_eq!(
        read(key).unwrap(),
        b"payload",
        "possessed and searchable: readable"
    );
    let no_read =
        Permission::POSSESSOR_ALL - Permission::POSSESSOR_READ - Permission::POSSESSOR_SEARCH;
    setperm(key, no_read).unwrap();
    let err = read(key).unwrap_err();
    assert!(
        matches!(err, Error::PermissionDenied { key: k, .. } if k == key),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!("keyctl(KEYCTL_READ, {key}, <buffer>, 512): Permission denied (EACCES)")
    );
    // Without search the caller no longer possesses it: the possessor's other
    // rights are gone too (write, setattr), and a search that meets it answers
    // EACCES.
    assert_eq!(
        update(key, b"new").unwrap_err().kind(),
        ErrorKind::PermissionDenied
    );
    assert_eq!(
        setperm(key, Permission::POSSESSOR_ALL).unwrap_err().kind(),
        ErrorKind::PermissionDenied
    );
    let err = search(session, KeyType::USER, format!("{tag}k").as_str(), None).unwrap_err();
    assert!(
        matches!(err, Error::PermissionDenied { key: k, .. } if k == session),
        "{err}"
    );
    let key = add_key(KeyType::USER, format!("{tag}k2").as_str(), b"v", session).unwrap();
    // Bits outside the four classes: the kernel refuses them.
    let err = setperm(key, Permission::from_bits_retain(0x4000_0000)).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("keyctl(KEYCTL_SETPERM, {key}, 0x40000000)")),
        "{err}"
    );
}

#[test]
fn no_possessor_read_bit_as_root() {
    require!(Feature::Root, Feature::Keyrings);
    let host = Host::snapshot("lnc-test.noread-root.");
    Fork::new().run(|| no_read_bit("lnc-test.noread-root."));
    host.assert_unchanged();
}

#[test]
fn no_possessor_read_bit_as_nobody() {
    require!(Feature::Root, Feature::Keyrings);
    Fork::new()
        .unprivileged()
        .run(|| no_read_bit("lnc-test.noread-nobody."));
}

#[test]
fn no_possessor_read_bit_rootless() {
    require!(
        Feature::Root,
        Feature::UnprivilegedUserNs,
        Feature::Keyrings
    );
    Fork::new()
        .rootless()
        .run(|| no_read_bit("lnc-test.noread-rootless."));
}

#[test]
fn chown_as_root_and_as_nobody() {
    require!(Feature::Root, Feature::Keyrings);
    let host = Host::snapshot("lnc-test.chown.");
    Fork::new().run(|| {
        let session = fresh_session();
        let key = add_key(KeyType::USER, "lnc-test.chown.k", b"v", session).unwrap();
        assert_eq!(
            (describe(key).unwrap().uid, describe(key).unwrap().gid),
            (0, 0)
        );
        // Root may give the key away; the session keyring stays root's.
        chown(key, Some(NOBODY), Some(NOBODY)).unwrap();
        let d = describe(key).unwrap();
        assert_eq!((d.uid, d.gid), (NOBODY, NOBODY));
        chown(key, None, Some(0)).unwrap();
        assert_eq!(
            (describe(key).unwrap().uid, describe(key).unwrap().gid),
            (NOBODY, 0)
        );

        // A root-owned key, possessed by a child that drops to 65534 (it inherits
        // the session keyring): possession does not make it the owner.
        let root_key = add_key(KeyType::USER, "lnc-test.chown.root", b"v", session).unwrap();
        Fork::new().unprivileged().run(move || {
            assert_eq!(read(root_key).unwrap(), b"v", "possessor rights apply");
            let everything = Permission::POSSESSOR_ALL
                | Permission::USER_ALL
                | Permission::GROUP_ALL
                | Permission::OTHER_ALL;
            let err = setperm(root_key, everything).unwrap_err();
            assert!(
                matches!(err, Error::PermissionDenied { key: k, .. } if k == root_key),
                "{err}"
            );
            let err = chown(root_key, Some(NOBODY), None).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
            assert_eq!(
                err.to_string(),
                format!("keyctl(KEYCTL_CHOWN, {root_key}, 65534, -1): Permission denied (EACCES)")
            );
        });
    });
    Fork::new().unprivileged().run(|| {
        let session = fresh_session();
        let key = add_key(KeyType::USER, "lnc-test.chown.own", b"v", session).unwrap();
        // The owner may not give a key away...
        let err = chown(key, Some(0), None).unwrap_err();
        assert!(
            matches!(err, Error::PermissionDenied { key: k, .. } if k == key),
            "{err}"
        );
        // ...nor move it to a group it is not in, but may "change" to its own ids.
        assert_eq!(
            chown(key, None, Some(0)).unwrap_err().kind(),
            ErrorKind::PermissionDenied
        );
        chown(key, Some(NOBODY), Some(NOBODY)).unwrap();
        // The owner sets its own masks.
        setperm(key, Permission::POSSESSOR_ALL | Permission::USER_ALL).unwrap();
        assert_eq!(
            describe(key).unwrap().perm,
            Permission::POSSESSOR_ALL | Permission::USER_ALL
        );
    });
    host.assert_unchanged();
}

#[test]
fn chown_rootless_maps_ids() {
    require!(
        Feature::Root,
        Feature::UnprivilegedUserNs,
        Feature::Keyrings
    );
    Fork::new().rootless().run(|| {
        let session = fresh_session();
        let key = add_key(KeyType::USER, "lnc-test.chown-userns", b"v", session).unwrap();
        // Root of the namespace is 65534 outside: the same owner, so allowed.
        chown(key, Some(0), Some(0)).unwrap();
        // uid 1 has no mapping in this namespace.
        let err = chown(key, Some(1), None).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
    });
}

#[test]
fn restrict_keyring_stops_wrong_links() {
    require!(Feature::Root, Feature::Keyrings);
    Fork::new().unprivileged().run(|| {
        let session = fresh_session();
        let key = add_key(KeyType::USER, "lnc-test.restrict.k", b"v", session).unwrap();

        // No type: nothing may be linked any more.
        let closed = add_key(KeyType::KEYRING, "lnc-test.restrict.closed", b"", session).unwrap();
        restrict_keyring::<str>(closed, None, None).unwrap();
        let err = link(key, closed).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err}");
        let err = add_key(KeyType::USER, "lnc-test.restrict.new", b"v", closed).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err}");
        assert!(read_keyring(closed).unwrap().is_empty());
        // A restriction is final.
        let err = restrict_keyring::<str>(closed, None, None).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EEXIST), "{err}");

        // The asymmetric type's restriction refuses keys of any other type.
        let asym = KeyType::new(c"asymmetric");
        let ca = add_key(KeyType::KEYRING, "lnc-test.restrict.ca", b"", session).unwrap();
        match restrict_keyring(ca, Some(asym), Some("builtin_trusted")) {
            Ok(()) => {
                let err = link(key, ca).unwrap_err();
                assert_eq!(err.raw_os_error(), Some(libc::EOPNOTSUPP), "{err}");
                assert!(
                    err.to_string()
                        .starts_with(&format!("keyctl(KEYCTL_LINK, {key}, {ca})")),
                    "{err}"
                );
                assert!(read_keyring(ca).unwrap().is_empty());
            }
            // A kernel without the asymmetric key type.
            Err(err) => assert_eq!(err.kind(), ErrorKind::KeyNotFound, "{err}"),
        }
        // A type without restrictions, and a restriction without a type.
        let open = add_key(KeyType::KEYRING, "lnc-test.restrict.open", b"", session).unwrap();
        assert!(restrict_keyring::<str>(open, Some(KeyType::USER), None).is_err());
        let err = restrict_keyring(open, None, Some("builtin_trusted")).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidInput {
                    input: "keyring restriction",
                    ..
                }
            ),
            "{err}"
        );
        link(key, open).unwrap();
    });
}

#[test]
fn special_ids_respect_permissions_of_the_session() {
    require!(Feature::Root, Feature::Keyrings);
    // A session keyring without write for its possessor refuses new keys.
    Fork::new().unprivileged().run(|| {
        fresh_session();
        setperm(KeySerial::SESSION_KEYRING, Permission::POSSESSOR_ALL - Permission::POSSESSOR_WRITE).unwrap();
        let err = add_key(KeyType::USER, "lnc-test.ro", b"v", KeySerial::SESSION_KEYRING).unwrap_err();
        assert!(
            matches!(err, Error::PermissionDenied { key: KeySerial::SESSION_KEYRING, .. }),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "add_key(\"user\", \"lnc-test.ro\", <1 bytes>, KEY_SPEC_SESSION_KEYRING): Permission denied (EACCES)"
        );
    });
}
