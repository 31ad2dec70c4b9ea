//! statmount / listmount against /proc/self/mountinfo, and the mountinfo parser.

mod common;

use std::path::Path;

use common::TempDir;
use linception_mountapi::{
    _test_pretend_no_statmount, ErrorKind, FsContext, ListmountFlags, Mount, MountAttr, MountInfo,
    MountSetattr, MountTableSource, Propagation, mount_ids, mount_table, parse_mountinfo,
    parse_mountinfo_line, statmount, unescape, unique_mount_id,
};
use linception_testkit::{Feature, Fork, require};
use proptest::prelude::*;

fn tmpfs_at(path: &Path, source: &str, size: &str) {
    let fs = FsContext::open("tmpfs").unwrap();
    fs.set_string("source", source).unwrap();
    fs.set_string("size", size).unwrap();
    fs.create().unwrap();
    fs.mount(MountAttr::NOSUID).unwrap().attach(path).unwrap();
}

/// A namespace with a variety of mounts: odd names, read-only, shared and slave,
/// a bind of a subdirectory, noatime.
fn populate(dir: &TempDir) {
    let odd = dir.subdir("with space\tand\\backslash");
    tmpfs_at(&odd, "src with space", "1m");
    let shared = dir.subdir("shared");
    tmpfs_at(&shared, "shared-src", "2m");
    std::fs::create_dir(shared.join("inner")).unwrap();
    let handle =
        linception_mountapi::open_tree(rustix::fs::CWD, &shared, Default::default()).unwrap();
    handle
        .set_attr(&MountSetattr::new().propagation(Propagation::Shared))
        .unwrap();
    let slave = dir.subdir("slave");
    let bind = Mount::clone_tree(shared.join("inner")).unwrap();
    bind.attach(&slave).unwrap();
    bind.set_attr(
        &MountSetattr::new()
            .propagation(Propagation::Slave)
            .set(MountAttr::RDONLY | MountAttr::NODEV)
            .atime(linception_mountapi::Atime::NoAtime),
    )
    .unwrap();
    let unbindable = dir.subdir("unbindable");
    tmpfs_at(&unbindable, "u", "1m");
    linception_mountapi::mount_setattr(
        rustix::fs::CWD,
        &unbindable,
        Default::default(),
        &MountSetattr::new().propagation(Propagation::Unbindable),
    )
    .unwrap();
}

/// Compares the two sources field by field, by mountinfo id.
fn assert_same_tables(from_statmount: &[MountInfo], from_mountinfo: &[MountInfo]) {
    assert_eq!(from_statmount.len(), from_mountinfo.len());
    for text in from_mountinfo {
        let stat = from_statmount
            .iter()
            .find(|m| m.id == text.id)
            .unwrap_or_else(|| {
                panic!(
                    "mount {} ({:?}) missing from statmount",
                    text.id, text.mount_point
                )
            });
        assert!(stat.unique_id.is_some() && text.unique_id.is_none());
        let mut stat = stat.clone();
        stat.unique_id = None;
        stat.parent_unique_id = None;
        assert_eq!(&stat, text);
    }
}

#[test]
fn statmount_and_listmount_agree_with_mountinfo() {
    require!(Feature::Root, Feature::Statmount, Feature::Listmount);
    let count = Fork::new().unshare(libc::CLONE_NEWNS).run(|| {
        let dir = TempDir::new("agree");
        populate(&dir);
        let stat = mount_table(MountTableSource::Statmount).unwrap();
        let text = mount_table(MountTableSource::Mountinfo).unwrap();
        assert_same_tables(&stat, &text);
        // The odd names came through decoded, in both.
        let odd = dir.path().join("with space\tand\\backslash");
        let info = text.iter().find(|m| m.mount_point == odd).unwrap();
        assert_eq!(info.source.as_deref(), Some("src with space"));
        let slave = text
            .iter()
            .find(|m| m.mount_point == dir.path().join("slave"))
            .unwrap();
        assert!(slave.is_slave() && slave.is_read_only());
        assert_eq!(slave.root, Path::new("/inner"));
        assert_eq!(
            slave.attributes.atime(),
            linception_mountapi::Atime::NoAtime
        );
        assert!(text.iter().any(|m| m.unbindable));
        // Parent links: every parent id is a mount of the table (or the root's own).
        let ids: Vec<u64> = stat.iter().map(|m| m.unique_id.unwrap()).collect();
        for m in &stat {
            assert!(ids.contains(&m.parent_unique_id.unwrap()) || m.mount_point == Path::new("/"));
        }
        stat.len()
    });
    assert!(count > 5);
}

#[test]
fn rootless_statmount_agrees_with_mountinfo() {
    require!(
        Feature::UnprivilegedUserNs,
        Feature::Statmount,
        Feature::Listmount
    );
    Fork::new().rootless().unshare(libc::CLONE_NEWNS).run(|| {
        let dir = TempDir::new("agree-rootless");
        let odd = dir.subdir("a b");
        tmpfs_at(&odd, "rootless src", "1m");
        let stat = mount_table(MountTableSource::Statmount).unwrap();
        let text = mount_table(MountTableSource::Mountinfo).unwrap();
        assert_same_tables(&stat, &text);
        // Mounts inherited from the parent namespace are locked together.
        assert!(text.iter().any(|m| m.mount_point == odd));
    });
}

#[test]
fn auto_falls_back_to_mountinfo_on_enosys() {
    require!(Feature::Root);
    Fork::new().unshare(libc::CLONE_NEWNS).run(|| {
        let dir = TempDir::new("fallback");
        populate(&dir);
        _test_pretend_no_statmount(true);
        let err = mount_table(MountTableSource::Statmount).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        assert_eq!(err.raw_os_error(), Some(libc::ENOSYS));
        assert!(
            err.to_string().starts_with(
                "listmount is not supported by this kernel (needs Linux 6.8): listmount("
            ),
            "{err}"
        );
        let auto = mount_table(MountTableSource::Auto).unwrap();
        assert!(auto.iter().all(|m| m.unique_id.is_none()));
        assert_eq!(auto, mount_table(MountTableSource::Mountinfo).unwrap());
        let err = statmount(1).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        _test_pretend_no_statmount(false);
        let auto = mount_table(MountTableSource::Auto).unwrap();
        assert!(auto.iter().all(|m| m.unique_id.is_some()));
    });
}

#[test]
fn listmount_pages_and_reverses() {
    require!(Feature::Root, Feature::Listmount);
    Fork::new().unshare(libc::CLONE_NEWNS).run(|| {
        let dir = TempDir::new("paging");
        let base = dir.subdir("m");
        // More mounts than one listmount page (256): tmpfs stacked on one dir.
        for _ in 0..300 {
            tmpfs_at(&base, "stack", "64k");
        }
        let ids = mount_ids(ListmountFlags::empty()).unwrap();
        let text = mount_table(MountTableSource::Mountinfo).unwrap();
        assert_eq!(ids.len(), text.len());
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len(), "no id listed twice across pages");
        match mount_ids(ListmountFlags::REVERSE) {
            Ok(mut reversed) => {
                reversed.reverse();
                assert_eq!(reversed, ids);
            }
            Err(err) => assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}"),
        }
        rustix::mount::unmount(&base, rustix::mount::UnmountFlags::DETACH).unwrap();
    });
}

#[test]
fn unique_mount_id_matches_statmount_and_mountinfo() {
    require!(Feature::Root, Feature::Statmount);
    Fork::new().unshare(libc::CLONE_NEWNS).run(|| {
        let dir = TempDir::new("uniqueid");
        tmpfs_at(dir.path(), "uid-test", "1m");
        let unique = unique_mount_id(dir.path()).unwrap();
        let info = statmount(unique).unwrap();
        assert_eq!(info.mount_point, dir.path());
        assert_eq!(info.source.as_deref(), Some("uid-test"));
        let text = mount_table(MountTableSource::Mountinfo).unwrap();
        let line = text.iter().find(|m| m.mount_point == dir.path()).unwrap();
        // mnt_id_old / mnt_parent_id_old are the ids mountinfo shows.
        assert_eq!((info.id, info.parent_id), (line.id, line.parent_id));
        let err = statmount(u64::MAX - 1).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
        assert!(
            err.to_string()
                .starts_with("statmount({mnt_id: 0xfffffffffffffffe"),
            "{err}"
        );
        rustix::mount::unmount(dir.path(), rustix::mount::UnmountFlags::empty()).unwrap();
    });
}

#[test]
fn parses_a_mountinfo_line_with_every_optional_field() {
    let line = b"36 35 98:0 /mnt\\0401 /mnt\\0402 ro,nosuid,noatime,nosymfollow,idmapped shared:3 master:1 propagate_from:2 unbindable - fuse.sshfs user@host:/a\\134b ro,sync,user_id=0,lazytime";
    let info = parse_mountinfo_line(line).unwrap();
    assert_eq!((info.id, info.parent_id, info.device), (36, 35, (98, 0)));
    assert_eq!(info.root, Path::new("/mnt 1"));
    assert_eq!(info.mount_point, Path::new("/mnt 2"));
    assert_eq!(
        info.attributes,
        MountAttr::RDONLY
            | MountAttr::NOSUID
            | MountAttr::NOATIME
            | MountAttr::NOSYMFOLLOW
            | MountAttr::IDMAP
    );
    assert_eq!(
        (info.peer_group, info.master, info.propagate_from),
        (Some(3), Some(1), Some(2))
    );
    assert!(info.unbindable);
    assert_eq!(info.fs_type, "fuse");
    assert_eq!(info.fs_subtype.as_deref(), Some("sshfs"));
    assert_eq!(info.source.as_deref(), Some("user@host:/a\\b"));
    assert_eq!(info.options.as_deref(), Some("user_id=0"));
    assert_eq!(
        info.superblock_flags,
        linception_mountapi::SuperblockFlags::RDONLY
            | linception_mountapi::SuperblockFlags::SYNCHRONOUS
            | linception_mountapi::SuperblockFlags::LAZYTIME
    );
    // No atime option at all is strictatime.
    let info = parse_mountinfo_line(b"1 0 0:1 / / rw - ext4 /dev/x rw").unwrap();
    assert_eq!(
        info.attributes.atime(),
        linception_mountapi::Atime::StrictAtime
    );
    assert_eq!(info.options, None);
}

#[test]
fn bad_mountinfo_lines_name_the_line() {
    for (line, reason) in [
        (&b"x 35 98:0 / / rw - ext4 a rw"[..], "bad mount id"),
        (b"36 35 98 / / rw - ext4 a rw", "bad device"),
        (b"36 35 98:0 / / rw shared:1", "missing \" - \" separator"),
        (b"36 35 98:0 / / rw - ext4", "missing source"),
        (b"36 35 98:0 / / rw shared:x - ext4 a rw", "bad shared:N"),
    ] {
        let err = parse_mountinfo_line(line).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Parse);
        let text = err.to_string();
        assert!(text.contains(reason), "{text}");
        assert!(
            text.contains(&String::from_utf8_lossy(line).into_owned()),
            "{text}"
        );
    }
    assert_eq!(parse_mountinfo(b"").unwrap(), vec![]);
}

/// mountinfo's escaping (the kernel's `mangle`: space, tab, newline, backslash).
fn escape(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in bytes {
        if matches!(b, b' ' | b'\t' | b'\n' | b'\\') {
            out.extend_from_slice(format!("\\{b:03o}").as_bytes());
        } else {
            out.push(b);
        }
    }
    out
}

proptest! {
    #[test]
    fn unescape_inverts_the_kernels_escaping(bytes in proptest::collection::vec(1u8..=255, 0..64)) {
        prop_assert_eq!(unescape(&escape(&bytes)), bytes);
    }

    #[test]
    fn a_formatted_line_parses_back(
        id in 1u32..1_000_000,
        parent in 1u32..1_000_000,
        point in "/[a-z \\\\\t]{0,12}",
        shared in proptest::option::of(1u64..1000),
        ro in any::<bool>(),
    ) {
        let mut line = format!("{id} {parent} 0:42 / ").into_bytes();
        line.extend_from_slice(&escape(point.as_bytes()));
        line.extend_from_slice(if ro { b" ro,relatime" } else { b" rw,relatime" });
        if let Some(group) = shared {
            line.extend_from_slice(format!(" shared:{group}").as_bytes());
        }
        line.extend_from_slice(b" - tmpfs tmpfs rw,size=4k");
        let info = parse_mountinfo_line(&line).unwrap();
        prop_assert_eq!(info.id, id);
        prop_assert_eq!(info.parent_id, parent);
        prop_assert_eq!(info.mount_point.as_os_str().as_encoded_bytes(), point.as_bytes());
        prop_assert_eq!(info.peer_group, shared);
        prop_assert_eq!(info.is_read_only(), ro);
        prop_assert_eq!(info.options.as_deref(), Some("size=4k"));
    }
}

#[test]
fn reading_the_table_races_with_mounts_and_unmounts() {
    require!(Feature::Root, Feature::Statmount, Feature::Listmount);
    let reads = Fork::new().unshare(libc::CLONE_NEWNS).run(|| {
        use std::sync::atomic::{AtomicBool, Ordering};
        let dir = TempDir::new("race");
        let point = dir.subdir("m");
        let stop = AtomicBool::new(false);
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(1500);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                // Mount and unmount as fast as possible.
                while !stop.load(Ordering::Relaxed) {
                    tmpfs_at(&point, "racer", "64k");
                    rustix::mount::unmount(&point, rustix::mount::UnmountFlags::empty()).unwrap();
                }
            });
            let mut reads = 0u32;
            while std::time::Instant::now() < deadline {
                // Every read succeeds (a mount gone between listmount and statmount
                // is skipped) and every entry is complete.
                let table = mount_table(MountTableSource::Statmount).unwrap();
                for m in &table {
                    assert!(
                        !m.fs_type.is_empty() && m.mount_point.is_absolute(),
                        "{m:?}"
                    );
                    if m.mount_point == point {
                        assert_eq!(m.source.as_deref(), Some("racer"));
                    }
                }
                let ids = mount_ids(ListmountFlags::empty()).unwrap();
                assert!(!ids.is_empty());
                reads += 1;
            }
            stop.store(true, Ordering::Relaxed);
            reads
        })
    });
    assert!(reads > 10, "only {reads} reads");
}

#[test]
fn listmount_of_one_mount_lists_the_mounts_below_it() {
    require!(Feature::Root, Feature::Listmount, Feature::Statmount);
    Fork::new().unshare(libc::CLONE_NEWNS).run(|| {
        let dir = TempDir::new("children");
        let a = dir.subdir("a");
        tmpfs_at(&a, "a", "1m");
        let (b1, b2) = (dir.subdir("a/b1"), dir.subdir("a/b2"));
        tmpfs_at(&b1, "b1", "1m");
        tmpfs_at(&b2, "b2", "1m");
        let c = dir.subdir("a/b1/c");
        tmpfs_at(&c, "c", "1m");
        let id = |p: &Path| unique_mount_id(p).unwrap();
        let mut ids = [0u64; 8];
        let n =
            linception_mountapi::listmount(id(&a), 0, &mut ids, ListmountFlags::empty()).unwrap();
        let mut children = ids[..n].to_vec();
        children.sort_unstable();
        // Every mount below, not only the direct children.
        let mut expected = vec![id(&b1), id(&b2), id(&c)];
        expected.sort_unstable();
        assert_eq!(children, expected);
        // Paging: one id at a time, continuing after the last.
        let mut one = [0u64; 1];
        let first =
            linception_mountapi::listmount(id(&a), 0, &mut one, ListmountFlags::empty()).unwrap();
        assert_eq!(first, 1);
        let next =
            linception_mountapi::listmount(id(&a), one[0], &mut one, ListmountFlags::empty())
                .unwrap();
        assert_eq!(next, 1);
        let third =
            linception_mountapi::listmount(id(&a), one[0], &mut one, ListmountFlags::empty())
                .unwrap();
        assert_eq!(third, 1);
        let end = linception_mountapi::listmount(id(&a), one[0], &mut one, ListmountFlags::empty())
            .unwrap();
        assert_eq!(end, 0);
        rustix::mount::unmount(&a, rustix::mount::UnmountFlags::DETACH).unwrap();
    });
}
