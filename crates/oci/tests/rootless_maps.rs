//! User namespaces with several uid/gid ranges, through runc and through
//! linception-oci. Root writes the maps itself; an unprivileged caller maps its own
//! id and its `/etc/subuid` and `/etc/subgid` ranges through the setuid helpers
//! `newuidmap` and `newgidmap`, as `runc --rootless` does. Inside, the maps, the
//! identity and a file chowned to a subordinate id must be the same for both.

mod common;

use common::*;
use serde_json::{Value, json};

/// What the container reports: its maps, who it is, and that an id of the second
/// range is really mapped (a file of a tmpfs chowned to it).
const PROBE: &str = "cat /proc/self/uid_map /proc/self/gid_map; id; \
    touch /tmp/f && chown 1000:1000 /tmp/f && stat -c '%u %g' /tmp/f";

fn needs() -> bool {
    need("busybox-static", "/bin/busybox")
        && need("runc", "/usr/sbin/runc")
        && need("uidmap", "/usr/bin/newuidmap")
}

/// The caller's login name, from `/etc/passwd`.
fn login_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_owned())
    })
}

/// The first subordinate range of `name` (or `uid`) in `file`.
fn first_range(file: &str, name: &str, uid: u32) -> Option<(u32, u32)> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.trim().split(':').collect();
        (f.len() == 3 && (f[0] == name || f[0] == uid.to_string()))
            .then(|| Some((f[1].parse().ok()?, f[2].parse().ok()?)))
            .flatten()
    })
}

fn mappings(extents: &[(u32, u32, u32)]) -> Value {
    extents
        .iter()
        .map(|&(inside, outside, size)| {
            json!({"containerID": inside, "hostID": outside, "size": size})
        })
        .collect()
}

/// The maps this caller may ask for: two ranges. Root maps anything; an
/// unprivileged caller its own id and its first subordinate ranges.
fn maps() -> Option<(Value, Value)> {
    if is_root() {
        return Some((
            mappings(&[(0, 100_000, 1000), (1000, 300_000, 64_536)]),
            mappings(&[(0, 100_000, 1000), (1000, 300_000, 64_536)]),
        ));
    }
    let (uid, gid) = (
        rustix::process::geteuid().as_raw(),
        rustix::process::getegid().as_raw(),
    );
    let name = login_name(uid)?;
    let sub_uid = first_range("/etc/subuid", &name, uid)?;
    let sub_gid = first_range("/etc/subgid", &name, uid)?;
    // Ids 1..=1000 at least: the probe chowns to 1000.
    let (u, g) = (sub_uid.1.min(65_536), sub_gid.1.min(65_536));
    if u < 1000 || g < 1000 {
        return None;
    }
    Some((
        mappings(&[(0, uid, 1), (1, sub_uid.0, u)]),
        mappings(&[(0, gid, 1), (1, sub_gid.0, g)]),
    ))
}

fn bundle(uid_map: Value, gid_map: Value) -> Bundle {
    Bundle::new(true, |c| {
        script(c, PROBE);
        // The probe's chown needs CAP_CHOWN, which the default spec leaves out.
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_CHOWN"));
        }
        c["linux"]["uidMappings"] = uid_map;
        c["linux"]["gidMappings"] = gid_map;
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid", "nodev", "mode=1777"],
        }));
    })
}

#[test]
fn several_ranges_as_runc_maps_them() {
    if !needs() {
        return;
    }
    let Some((uid_map, gid_map)) = maps() else {
        let why = "the caller has no /etc/subuid and /etc/subgid ranges of 1000 ids or more";
        assert!(
            !linception_testkit::require_all(),
            "{why}, LINCEPTION_REQUIRE_ALL=1"
        );
        eprintln!("SKIP: {why}");
        return;
    };
    let bundle = bundle(uid_map.clone(), gid_map.clone());
    let id = unique_id("maps");
    let ours = Runtime::ours().run(&bundle, &id);
    let runc = Runtime::runc().run(&bundle, &id);
    assert!(runc.status.success(), "runc: {}", stderr(&runc));
    assert!(ours.status.success(), "ours: {}", stderr(&ours));
    let (o, r) = (stdout(&ours), stdout(&runc));
    assert_eq!(o, r, "ours:\n{o}\nrunc:\n{r}");
    // The maps are the config's, in the kernel's format; the chown took.
    let lines: Vec<Vec<u64>> = o
        .lines()
        .take(4)
        .map(|l| l.split_whitespace().map(|n| n.parse().unwrap()).collect())
        .collect();
    let want = |m: &Value| -> Vec<Vec<u64>> {
        m.as_array()
            .unwrap()
            .iter()
            .map(|e| {
                ["containerID", "hostID", "size"]
                    .iter()
                    .map(|k| e[k].as_u64().unwrap())
                    .collect()
            })
            .collect()
    };
    assert_eq!(lines[..2], want(&uid_map)[..], "{o}");
    assert_eq!(lines[2..4], want(&gid_map)[..], "{o}");
    assert!(
        o.contains("uid=0(root) gid=0(root)") || o.contains("uid=0 gid=0"),
        "{o}"
    );
    assert_eq!(o.lines().last(), Some("1000 1000"), "{o}");
}

#[test]
fn a_range_the_caller_may_not_map_is_refused_before_anything_is_made() {
    if !needs() {
        return;
    }
    // Root runs the command as nobody (no subordinate ranges); an unprivileged
    // caller as itself.
    let (uid, gid) = if is_root() {
        (65_534, 65_534)
    } else {
        (
            rustix::process::geteuid().as_raw(),
            rustix::process::getegid().as_raw(),
        )
    };
    // The host's ids from 0 are nobody's subordinate range.
    let bundle = bundle(
        mappings(&[(0, uid, 1), (1, 0, 1)]),
        mappings(&[(0, gid, 1)]),
    );
    let state = TempDir::new("badmap-state");
    let mut cmd = if is_root() {
        std::os::unix::fs::chown(&state.0, Some(uid), Some(gid)).unwrap();
        let mut c = std::process::Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            ours_bin(),
        ]);
        c
    } else {
        std::process::Command::new(ours_bin())
    };
    let id = unique_id("badmap");
    let out = cmd
        .arg("--root")
        .arg(&state.0)
        .args(["run", "--bundle"])
        .arg(bundle.path())
        .arg(&id)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("uid_map extent 1 0 1 (own uid {uid};"))
            && err.contains("newuidmap would refuse it"),
        "{err}"
    );
    // No state, no process.
    let left: Vec<_> = std::fs::read_dir(&state.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(!process_with(&id), "a process of {id} is left");
}
