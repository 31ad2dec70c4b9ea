//! `WriteMode::Helpers`: the setuid `newuidmap`/`newgidmap` programs.
// Unsafe code here: std::env::set_var (PATH) in forked single-threaded children.
#![allow(unsafe_code)]

mod common;

use common::spawn_ns_child;
use linception_testkit::{Feature, Fork, NOBODY, probe_custom, require, require_custom};
use linception_userns::{Error, IdMap, MapWriter, WriteMode, read_gid_map, read_uid_map};

/// Whether both helpers are installed (in PATH).
fn helpers_installed() -> Result<(), String> {
    probe_custom(|| {
        for program in ["newuidmap", "newgidmap"] {
            let found = std::env::var_os("PATH")
                .into_iter()
                .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
                .any(|dir| dir.join(program).is_file());
            if !found {
                return Err(format!("{program} is not installed (package uidmap)"));
            }
        }
        Ok(())
    })
}

#[test]
fn helpers_write_own_ids_unprivileged() {
    require!(Feature::Root, Feature::UnprivilegedUserNs);
    if !require_custom("newuidmap", "-", helpers_installed()) {
        return;
    }
    let (uid_map, gid_map) = Fork::new().unprivileged().run(|| {
        let child = spawn_ns_child(|| 0);
        let own = IdMap::single(0, NOBODY, 1).unwrap();
        MapWriter::new()
            .uid_map(own.clone())
            .gid_map(own)
            .mode(WriteMode::Helpers)
            .write(child.pid)
            .unwrap();
        (
            read_uid_map(Some(child.pid))
                .unwrap()
                .map(|m| m.to_string()),
            read_gid_map(Some(child.pid))
                .unwrap()
                .map(|m| m.to_string()),
        )
    });
    assert_eq!(uid_map.as_deref(), Some("0 65534 1\n"));
    assert_eq!(gid_map.as_deref(), Some("0 65534 1\n"));
}

#[test]
fn helpers_refuse_ranges_outside_subuid() {
    require!(Feature::Root, Feature::UnprivilegedUserNs);
    if !require_custom("newuidmap", "-", helpers_installed()) {
        return;
    }
    // 65534 has no /etc/subuid range starting at 1234567 (a test must not edit
    // /etc/subuid, so only refusals of foreign ranges are checked).
    let (message, helper, unwritten) = Fork::new().unprivileged().run(|| {
        let child = spawn_ns_child(|| 0);
        let err = MapWriter::new()
            .uid_map(IdMap::single(0, 1_234_567, 10).unwrap())
            .mode(WriteMode::Helpers)
            .write(child.pid)
            .unwrap_err();
        let unwritten = read_uid_map(Some(child.pid)).unwrap().is_none();
        let refused = matches!(err, Error::HelperRefused { .. })
            && err.kind() == linception_userns::ErrorKind::PermissionDenied;
        (err.to_string(), refused, unwritten)
    });
    assert!(helper, "{message}");
    assert!(unwritten);
    assert!(message.starts_with("newuidmap "), "{message}");
    assert!(message.contains("0 1234567 10"), "{message}");
    assert!(message.contains(": refused: "), "{message}");
    assert!(message.ends_with("not allowed"), "{message}");
}

#[test]
fn missing_helper_is_named() {
    // PATH without the helpers: the error names the program.
    let err = Fork::new().run(|| {
        // SAFETY: the Fork child is single-threaded, so changing the environment
        // races with nothing.
        unsafe { std::env::set_var("PATH", "/nonexistent") };
        let child = spawn_ns_child(|| 0);
        MapWriter::new()
            .uid_map(IdMap::single(0, 0, 1).unwrap())
            .mode(WriteMode::Helpers)
            .write(child.pid)
            .unwrap_err()
            .to_string()
    });
    assert_eq!(
        err,
        "newuidmap not found (install the distribution's uidmap package)"
    );
}

#[test]
fn helper_refusal_is_permission_denied() {
    // A stand-in newuidmap that refuses as the real one does (its C-locale
    // message), and one that fails otherwise: only the first is a refusal.
    let dir = common::TempDir::new("fake-helper");
    let script = dir.0.join("newuidmap");
    let path = dir.0.clone();
    let outcomes = Fork::new().run(move || {
        // Written here, in the single-threaded child: an fd of the test process
        // open for writing the program could be inherited by a child another test
        // thread forks, and every exec of it would fail (ETXTBSY); and spawning a
        // copier from the test process could leave a lock held in another test's
        // fork.
        std::fs::write(
            &script,
            "#!/bin/sh\n\
             [ \"$LC_ALL\" = C ] || { echo \"newuidmap: not in the C locale\" >&2; exit 2; }\n\
             case \"$3\" in\n\
             1234567) echo \"newuidmap: uid range [0-10) -> [1234567-1234577) not allowed\" >&2 ;;\n\
             *) echo \"newuidmap: Could not open proc directory for target $1\" >&2 ;;\n\
             esac\n\
             exit 1\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        // SAFETY: the Fork child is single-threaded, so changing the environment
        // races with nothing.
        unsafe { std::env::set_var("PATH", &path) };
        let mut out = Vec::new();
        for outside in [1_234_567, 7_654_321] {
            let child = spawn_ns_child(|| 0);
            let err = MapWriter::new()
                .uid_map(IdMap::single(0, outside, 10).unwrap())
                .mode(WriteMode::Helpers)
                .write(child.pid)
                .unwrap_err();
            let kind = format!("{:?}", err.kind());
            let message = err.to_string();
            let io: std::io::Error = err.into();
            out.push((kind, format!("{:?}", io.kind()), message));
        }
        out
    });
    let (kind, io_kind, message) = &outcomes[0];
    assert_eq!(kind, "PermissionDenied", "{message}");
    assert_eq!(io_kind, "PermissionDenied", "{message}");
    assert!(
        message.ends_with(
            "0 1234567 10: refused: newuidmap: uid range [0-10) -> [1234567-1234577) not allowed"
        ),
        "{message}"
    );
    let (kind, io_kind, message) = &outcomes[1];
    assert_eq!(kind, "Helper", "{message}");
    assert_eq!(io_kind, "Other", "{message}");
    assert!(message.contains("exit status: 1"), "{message}");
}
