//! `linux.devices[].fileMode` with the node's file type bits (`S_IFCHR`,
//! `S_IFBLK`), as podman writes it (the host node's `st_mode`, for `--device` and
//! `--privileged`): taken as runc takes it when the bits are the type's own,
//! refused by name when they are another type's. Root only (the nodes are made
//! with mknod).

mod common;

use common::*;
use serde_json::json;

fn needs() -> bool {
    linception_testkit::require_root("device nodes made with mknod")
        && need("busybox-static", "/bin/busybox")
        && need("runc", "/usr/sbin/runc")
}

#[test]
fn a_file_mode_with_the_types_bits_is_runcs() {
    if !needs() {
        return;
    }
    let bundle = || {
        Bundle::new(false, |c| {
            script(c, "stat -c '%n %F %t:%T %a' /dev/mynull /dev/myloop");
            c["linux"]["devices"] = json!([
                {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o20666},
                {"path": "/dev/myloop", "type": "b", "major": 7, "minor": 0, "fileMode": 0o60640}
            ]);
        })
    };
    let id = unique_id("devmode");
    let ours = Runtime::ours().run(&bundle(), &id);
    let runc = Runtime::runc().run(&bundle(), &id);
    assert!(ours.status.success(), "ours: {}", stderr(&ours));
    assert!(runc.status.success(), "runc: {}", stderr(&runc));
    assert_eq!(stdout(&ours), stdout(&runc), "ours, then runc");
    assert_eq!(
        stdout(&ours),
        "/dev/mynull character special file 1:3 666\n/dev/myloop block special file 7:0 640\n"
    );
}

#[test]
fn a_file_mode_with_another_types_bits_is_refused_by_name() {
    if !needs() {
        return;
    }
    let bundle = Bundle::new(false, |c| {
        c["linux"]["devices"] = json!([
            {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o60666}
        ]);
    });
    let rt = Runtime::ours();
    let out = rt.create(&bundle, "badmode");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(
            "linux.devices[0].fileMode: 0o60666 has the file type bits 0o60000, not those of \
             its type c (0o20000)"
        ),
        "{err}"
    );
    let left: Vec<_> = std::fs::read_dir(&rt.root.0)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// The nodes of podman's `--privileged` at the paths of the runtime's own `/dev`:
/// a config device replaces the default node (here with another mode), and
/// `/dev/ptmx` stays the link to the container's devpts, as runc makes them.
#[test]
fn config_devices_at_the_default_paths_are_runcs() {
    if !needs() {
        return;
    }
    let bundle = || {
        Bundle::new(false, |c| {
            script(
                c,
                "stat -c '%n %F %t:%T %a' /dev/null /dev/full; stat -c '%N' /dev/ptmx; \
                 echo x > /dev/null && echo null-ok",
            );
            c["linux"]["devices"] = json!([
                {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o20600},
                {"path": "/dev/full", "type": "c", "major": 1, "minor": 7, "fileMode": 0o20640},
                {"path": "/dev/ptmx", "type": "c", "major": 5, "minor": 2, "fileMode": 0o20666}
            ]);
            // The default spec's device rules deny every device but the usual ones.
            c["linux"]["resources"] = json!({"devices": [{"allow": true, "access": "rwm"}]});
        })
    };
    let id = unique_id("devdefaults");
    let ours = Runtime::ours().run(&bundle(), &id);
    let runc = Runtime::runc().run(&bundle(), &id);
    assert!(ours.status.success(), "ours: {}", stderr(&ours));
    assert!(runc.status.success(), "runc: {}", stderr(&runc));
    assert_eq!(stdout(&ours), stdout(&runc), "ours, then runc");
    assert_eq!(
        stdout(&ours),
        "/dev/null character special file 1:3 600\n/dev/full character special file 1:7 640\n\
         '/dev/ptmx' -> 'pts/ptmx'\nnull-ok\n"
    );
}
