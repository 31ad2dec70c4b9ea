//! open_tree_attr (Linux 6.15): a clone with its attributes in one call, side by
//! side with the two-call way (open_tree + mount_setattr), as root and rootless.

mod common;

use std::os::fd::AsFd;
use std::path::Path;

use common::{TempDir, owner, userns_fd};
use linception_mountapi::{
    Atime, ErrorKind, FsContext, Mount, MountAttr, MountSetattr, OpenTreeFlags, Propagation,
    StatmountMask, open_tree, open_tree_attr, statmount, unique_mount_id,
};
use linception_testkit::leaks::assert_no_leaks;
use linception_testkit::{Feature, Fork, require};

fn tmpfs_at(path: &Path) {
    let fs = FsContext::open("tmpfs").unwrap();
    fs.set_string("size", "1m").unwrap();
    fs.create().unwrap();
    fs.mount(MountAttr::empty()).unwrap().attach(path).unwrap();
}

/// What the kernel reports for the mount at `path`: attributes, propagation.
fn attrs_at(path: &Path) -> (MountAttr, bool, bool) {
    let info = statmount(unique_mount_id(path).unwrap()).unwrap();
    (info.attributes, info.is_shared(), info.unbindable)
}

/// Each attribute set both ways, attached side by side: the kernel reports the same.
fn same_as_two_calls() {
    let dir = TempDir::new("ota");
    let src = dir.subdir("src");
    tmpfs_at(&src);
    std::fs::create_dir(src.join("sub")).unwrap();
    tmpfs_at(&src.join("sub"));
    let cases = [
        MountSetattr::new().set(MountAttr::RDONLY),
        MountSetattr::new().set(MountAttr::NOSUID | MountAttr::NODEV | MountAttr::NOEXEC),
        MountSetattr::new().atime(Atime::NoAtime),
        MountSetattr::new()
            .atime(Atime::StrictAtime)
            .set(MountAttr::NODIRATIME),
        MountSetattr::new().set(MountAttr::NOSYMFOLLOW),
        MountSetattr::new().propagation(Propagation::Shared),
        MountSetattr::new().propagation(Propagation::Unbindable),
    ];
    for (i, attr) in cases.iter().enumerate() {
        for recursive in [false, true] {
            let flags = if recursive {
                OpenTreeFlags::CLONE | OpenTreeFlags::RECURSIVE
            } else {
                OpenTreeFlags::CLONE
            };
            let one = dir.subdir(&format!("one-{i}-{recursive}"));
            let two = dir.subdir(&format!("two-{i}-{recursive}"));
            let tree = open_tree_attr(rustix::fs::CWD, &src, flags, attr).unwrap();
            tree.attach(&one).unwrap();
            let tree = open_tree(rustix::fs::CWD, &src, flags).unwrap();
            if recursive {
                tree.set_attr_recursive(attr).unwrap();
            } else {
                tree.set_attr(attr).unwrap();
            }
            tree.attach(&two).unwrap();
            assert_eq!(
                attrs_at(&one),
                attrs_at(&two),
                "{attr:?} recursive={recursive}"
            );
            if recursive {
                assert_eq!(
                    attrs_at(&one.join("sub")),
                    attrs_at(&two.join("sub")),
                    "submount: {attr:?}"
                );
            } else {
                // Without RECURSIVE the submount is not cloned, either way.
                assert!(!is_mount(&one.join("sub")) && !is_mount(&two.join("sub")));
            }
        }
    }
}

fn is_mount(path: &Path) -> bool {
    let parent = path.parent().unwrap();
    unique_mount_id(path).ok() != unique_mount_id(parent).ok()
}

#[test]
fn open_tree_attr_matches_open_tree_then_setattr() {
    require!(Feature::Root, Feature::OpenTreeAttr);
    Fork::new()
        .unshare(libc::CLONE_NEWNS)
        .run(same_as_two_calls);
}

#[test]
fn open_tree_attr_matches_open_tree_then_setattr_rootless() {
    require!(Feature::UnprivilegedUserNs, Feature::OpenTreeAttr);
    Fork::new()
        .rootless()
        .unshare(libc::CLONE_NEWNS)
        .run(same_as_two_calls);
}

#[test]
fn an_idmapped_clone_in_one_call() {
    require!(
        Feature::Root,
        Feature::OpenTreeAttr,
        Feature::MountSetattrIdmap
    );
    Fork::new().unshare(libc::CLONE_NEWNS).run(|| {
        let dir = TempDir::new("ota-idmap");
        let (src, dst) = (dir.subdir("src"), dir.subdir("dst"));
        tmpfs_at(&src);
        std::fs::write(src.join("f"), "x").unwrap();
        rustix::fs::chown(
            src.join("f"),
            Some(rustix::fs::Uid::from_raw(0)),
            Some(rustix::fs::Gid::from_raw(0)),
        )
        .unwrap();
        let userns = userns_fd("0 100000 1000\n");
        let attr = MountSetattr::new()
            .set(MountAttr::RDONLY)
            .idmap(userns.as_fd());
        let tree = open_tree_attr(rustix::fs::CWD, &src, OpenTreeFlags::CLONE, &attr).unwrap();
        tree.attach(&dst).unwrap();
        assert_eq!(owner(&dst.join("f")), (100000, 100000));
        assert_eq!(owner(&src.join("f")), (0, 0));
        let id = unique_mount_id(&dst).unwrap();
        let stat = linception_mountapi::statmount_in(
            linception_mountapi::MountNs::Current,
            id,
            StatmountMask::MNT_BASIC,
        )
        .unwrap();
        assert!(
            stat.basic
                .unwrap()
                .attributes
                .contains(MountAttr::IDMAP | MountAttr::RDONLY)
        );
        // Re-idmapping a clone of an idmapped mount: only open_tree_attr can (the
        // idmap is set while the clone is made); mount_setattr on such a clone is
        // refused by the kernel.
        let again = dir.subdir("again");
        let userns2 = userns_fd("0 200000 1000\n");
        let attr2 = MountSetattr::new().idmap(userns2.as_fd());
        let err = open_tree(rustix::fs::CWD, &dst, OpenTreeFlags::CLONE)
            .unwrap()
            .set_attr(&attr2)
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err}");
        let tree = open_tree_attr(rustix::fs::CWD, &dst, OpenTreeFlags::CLONE, &attr2).unwrap();
        tree.attach(&again).unwrap();
        // File uid 0 on disk: mapped through the new idmap (the old one is replaced).
        assert_eq!(owner(&again.join("f")), (200000, 200000));
    });
}

fn refusals_leave_nothing_behind() {
    let dir = TempDir::new("ota-bad");
    let src = dir.subdir("src");
    tmpfs_at(&src);
    assert_no_leaks(|| {
        // A NUL byte: refused before the call, naming the argument.
        let err = open_tree_attr(
            rustix::fs::CWD,
            "a\0b",
            OpenTreeFlags::CLONE,
            &MountSetattr::new(),
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert_eq!(err.to_string(), "invalid path: contains a NUL byte");
        // A missing path: the kernel's ENOENT, displayed like the call.
        let err = open_tree_attr(
            rustix::fs::CWD,
            c"/linception/missing",
            OpenTreeFlags::CLONE,
            &MountSetattr::new().set(MountAttr::RDONLY),
        )
        .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
        assert!(
            err.to_string().starts_with(
                "open_tree_attr(AT_FDCWD, \"/linception/missing\", CLONE|OPEN_TREE_CLOEXEC, {set: RDONLY"
            ),
            "{err}"
        );
        // An atime mode without clearing the field: EINVAL, as mount_setattr.
        let err = open_tree_attr(
            rustix::fs::CWD,
            &src,
            OpenTreeFlags::CLONE,
            &MountSetattr::new().set(MountAttr::NOATIME),
        )
        .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
    });
    // Without CLONE the kernel changes the attached mount itself (as
    // mount_setattr would) and hands back a handle on it.
    assert!(!attrs_at(&src).0.contains(MountAttr::RDONLY));
    let handle = open_tree_attr(
        rustix::fs::CWD,
        &src,
        OpenTreeFlags::empty(),
        &MountSetattr::new().set(MountAttr::RDONLY),
    )
    .unwrap();
    assert!(attrs_at(&src).0.contains(MountAttr::RDONLY));
    drop(handle);
    assert!(
        attrs_at(&src).0.contains(MountAttr::RDONLY),
        "the mount stays"
    );
    assert_no_leaks(|| {});
    // A dropped clone is unmounted: nothing left.
    assert_no_leaks(|| {
        let tree = open_tree_attr(
            rustix::fs::CWD,
            &src,
            OpenTreeFlags::CLONE,
            &MountSetattr::new().set(MountAttr::NOEXEC),
        )
        .unwrap();
        drop(Mount::from(std::os::fd::OwnedFd::from(tree)));
    });
}

#[test]
fn refusals_leave_nothing_behind_as_root() {
    require!(Feature::Root, Feature::OpenTreeAttr);
    Fork::new()
        .unshare(libc::CLONE_NEWNS)
        .run(refusals_leave_nothing_behind);
}

#[test]
fn refusals_leave_nothing_behind_rootless() {
    require!(Feature::UnprivilegedUserNs, Feature::OpenTreeAttr);
    Fork::new()
        .rootless()
        .unshare(libc::CLONE_NEWNS)
        .run(refusals_leave_nothing_behind);
}
