//! Mount: open_tree, move_mount, mount_setattr, idmapped mounts, detached mounts.
// setfsuid/setfsgid (which rustix does not wrap) switch the filesystem ids of a
// forked child for the idmapped-mount test.
#![allow(unsafe_code)]

mod common;

use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::{TempDir, cstr, owner, userns_fd};
use linception_mountapi::{
    Atime, ErrorKind, FsContext, Mount, MountAttr, MountSetattr, MountTableSource, MoveMountFlags,
    OpenTreeFlags, Propagation, SetattrFlags, mount_setattr, mount_table, move_mount, open_tree,
};
use linception_testkit::leaks::assert_no_leaks;
use linception_testkit::{Feature, Fork, require};

fn in_mount_ns<T: linception_testkit::Wire>(f: impl FnOnce() -> T) -> T {
    Fork::new().unshare(libc::CLONE_NEWNS).run(f)
}

fn tmpfs() -> Mount {
    let fs = FsContext::open(c"tmpfs").unwrap();
    fs.set_string(c"size", c"4m").unwrap();
    fs.create().unwrap();
    fs.mount(MountAttr::empty()).unwrap()
}

fn umount(path: &Path) {
    rustix::mount::unmount(path, rustix::mount::UnmountFlags::empty())
        .unwrap_or_else(|e| panic!("umount {path:?}: {e}"));
}

fn info_at(path: &Path) -> linception_mountapi::MountInfo {
    mount_table(MountTableSource::Auto)
        .unwrap()
        .into_iter()
        .rev()
        .find(|m| m.mount_point == path)
        .unwrap_or_else(|| panic!("no mount at {path:?}"))
}

#[test]
fn dropping_a_detached_mount_unmounts_it() {
    require!(Feature::Root, Feature::MountApi);
    in_mount_ns(|| {
        assert_no_leaks(|| {
            let mount = tmpfs();
            // Watch the detached mount's root: the kernel sends IN_UNMOUNT when the
            // filesystem goes away.
            use rustix::fs::inotify;
            let inotify =
                inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)
                    .unwrap();
            let path = format!("/proc/self/fd/{}", mount.as_fd().as_raw_fd());
            // IN_UNMOUNT is always reported; watching it alone is what the test needs.
            let mask = inotify::WatchFlags::from_bits_retain(libc::IN_UNMOUNT);
            inotify::add_watch(&inotify, path.as_str(), mask)
                .unwrap_or_else(|e| panic!("inotify_add_watch: {e}"));
            let mut buf = [0u8; 256];
            assert_eq!(
                rustix::io::read(&inotify, &mut buf),
                Err(rustix::io::Errno::AGAIN),
                "no event while the mount is alive"
            );
            drop(mount);
            let mut event_mask = 0;
            for _ in 0..100 {
                if let Ok(16..) = rustix::io::read(&inotify, &mut buf) {
                    event_mask = u32::from_ne_bytes(buf[4..8].try_into().unwrap());
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            drop(inotify);
            assert_ne!(event_mask & libc::IN_UNMOUNT, 0, "no IN_UNMOUNT after drop");
        });
    });
}

#[test]
fn an_attached_mount_outlives_its_fd() {
    require!(Feature::Root, Feature::MountApi);
    in_mount_ns(|| {
        let dir = TempDir::new("attached");
        let mount = tmpfs();
        mount.attach(dir.path()).unwrap();
        std::fs::write(dir.path().join("f"), "x").unwrap();
        drop(mount);
        assert_eq!(std::fs::read_to_string(dir.path().join("f")).unwrap(), "x");
        assert_eq!(info_at(dir.path()).fs_type, "tmpfs");
        umount(dir.path());
    });
}

#[test]
fn read_only_recursive_bind_via_open_tree_and_mount_setattr() {
    require!(Feature::Root, Feature::MountApi, Feature::MountSetattr);
    in_mount_ns(|| {
        let dir = TempDir::new("robind");
        let (src, sub, dst, flat) = (
            dir.subdir("src"),
            dir.subdir("src/sub"),
            dir.subdir("dst"),
            dir.subdir("flat"),
        );
        tmpfs().attach(&sub).unwrap();
        std::fs::write(sub.join("inner"), "inner").unwrap();
        std::fs::write(src.join("outer"), "outer").unwrap();

        let tree = Mount::clone_tree_recursive(cstr(&src).as_c_str()).unwrap();
        tree.set_attr_recursive(&MountSetattr::new().set(MountAttr::RDONLY | MountAttr::NOSUID))
            .unwrap();
        tree.attach(cstr(&dst).as_c_str()).unwrap();
        drop(tree);

        assert_eq!(
            std::fs::read_to_string(dst.join("sub/inner")).unwrap(),
            "inner"
        );
        for path in [dst.join("new"), dst.join("sub/new")] {
            let err = std::fs::write(&path, "x").unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{path:?}");
        }
        // The source stays writable.
        std::fs::write(src.join("still-rw"), "x").unwrap();
        std::fs::write(sub.join("still-rw"), "x").unwrap();
        assert!(info_at(&dst).is_read_only());
        assert!(
            info_at(&dst.join("sub"))
                .attributes
                .contains(MountAttr::RDONLY | MountAttr::NOSUID)
        );

        // A non-recursive clone does not carry the submount.
        let single = Mount::clone_tree(&src).unwrap();
        single.attach(&flat).unwrap();
        assert!(flat.join("outer").exists());
        assert!(!flat.join("sub/inner").exists());
        drop(single);

        umount(&flat);
        umount(&dst.join("sub"));
        umount(&dst);
        umount(&sub);
    });
}

#[test]
fn setattr_atime_modes_and_clearing() {
    require!(Feature::Root, Feature::MountApi, Feature::MountSetattr);
    in_mount_ns(|| {
        let dir = TempDir::new("atime");
        let mount = tmpfs();
        mount.attach(dir.path()).unwrap();
        for (mode, expected) in [
            (Atime::NoAtime, Atime::NoAtime),
            (Atime::StrictAtime, Atime::StrictAtime),
            (Atime::Relatime, Atime::Relatime),
        ] {
            mount.set_attr(&MountSetattr::new().atime(mode)).unwrap();
            assert_eq!(info_at(dir.path()).attributes.atime(), expected);
        }
        mount
            .set_attr(
                &MountSetattr::new()
                    .set(MountAttr::NOEXEC | MountAttr::NODIRATIME | MountAttr::NOSYMFOLLOW),
            )
            .unwrap();
        let attrs = info_at(dir.path()).attributes;
        assert!(
            attrs.contains(MountAttr::NOEXEC | MountAttr::NODIRATIME | MountAttr::NOSYMFOLLOW),
            "{attrs:?}"
        );
        mount
            .set_attr(&MountSetattr::new().clear(MountAttr::NOEXEC))
            .unwrap();
        assert!(!info_at(dir.path()).attributes.contains(MountAttr::NOEXEC));
        drop(mount);
        umount(dir.path());
    });
}

#[test]
fn propagation_types() {
    require!(Feature::Root, Feature::MountApi, Feature::MountSetattr);
    in_mount_ns(|| {
        let dir = TempDir::new("propagation");
        let (a, b) = (dir.subdir("a"), dir.subdir("b"));
        tmpfs().attach(&a).unwrap();
        let handle = open_tree(rustix::fs::CWD, &a, OpenTreeFlags::empty()).unwrap();
        handle
            .set_attr(&MountSetattr::new().propagation(Propagation::Shared))
            .unwrap();
        let shared = info_at(&a);
        assert!(shared.is_shared() && !shared.is_private(), "{shared:?}");

        // b: a private bind of a, then put into a's peer group with SET_GROUP.
        let bind = Mount::clone_tree(&a).unwrap();
        bind.attach(&b).unwrap();
        drop(bind);
        mount_setattr(
            rustix::fs::CWD,
            &b,
            SetattrFlags::empty(),
            &MountSetattr::new().propagation(Propagation::Private),
        )
        .unwrap();
        assert!(info_at(&b).is_private());
        move_mount(
            rustix::fs::CWD,
            &a,
            rustix::fs::CWD,
            &b,
            MoveMountFlags::SET_GROUP,
        )
        .unwrap();
        assert_eq!(info_at(&b).peer_group, shared.peer_group);

        mount_setattr(
            rustix::fs::CWD,
            &b,
            SetattrFlags::empty(),
            &MountSetattr::new().propagation(Propagation::Slave),
        )
        .unwrap();
        let slave = info_at(&b);
        assert_eq!(slave.master, shared.peer_group, "{slave:?}");
        assert!(slave.is_slave());

        handle
            .set_attr(&MountSetattr::new().propagation(Propagation::Unbindable))
            .unwrap();
        assert!(info_at(&a).unbindable);
        let err = Mount::clone_tree(&a).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
        assert!(
            err.to_string().starts_with("open_tree(AT_FDCWD, \""),
            "{err}"
        );
        drop(handle);
        umount(&b);
        umount(&a);
    });
}

#[test]
fn attach_onto_a_directory_fd_and_beneath() {
    require!(Feature::Root, Feature::MountApi);
    in_mount_ns(|| {
        let dir = TempDir::new("attachfd");
        let target = dir.subdir("t");
        let dirfd = std::fs::File::open(&target).unwrap();
        let first = tmpfs();
        first
            .attach_at(&dirfd, c"", MoveMountFlags::T_EMPTY_PATH)
            .unwrap();
        std::fs::write(target.join("top"), "top").unwrap();
        drop(first);
        drop(dirfd);

        let below = tmpfs();
        match below.attach_beneath(&target) {
            Ok(()) => {
                drop(below);
                assert!(target.join("top").exists());
                umount(&target);
                // The mount beneath is revealed.
                assert!(!target.join("top").exists());
                assert_eq!(info_at(&target).fs_type, "tmpfs");
                umount(&target);
            }
            Err(err) => {
                assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
                umount(&target);
            }
        }
    });
}

#[test]
fn bad_mount_calls_name_their_arguments_and_leak_nothing() {
    require!(Feature::Root, Feature::MountApi, Feature::MountSetattr);
    in_mount_ns(|| {
        assert_no_leaks(|| {
            let mount = tmpfs();
            let err = mount.attach(c"/linception/does/not/exist").unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
            let text = err.to_string();
            assert!(
                text.starts_with("move_mount(fd ")
                    && text.contains(", \"\", AT_FDCWD, \"/linception/does/not/exist\", F_EMPTY_PATH): No such file or directory (ENOENT)"),
                "{text}"
            );
            // An atime mode without clearing the field.
            let err = mount
                .set_attr(&MountSetattr::new().set(MountAttr::NOATIME))
                .unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
            assert!(err.to_string().contains("mount_setattr(fd "), "{err}");
            assert!(err.to_string().contains("set: NOATIME"), "{err}");
            // Unknown propagation or attribute bits.
            let err = mount
                .set_attr(&MountSetattr::new().set(MountAttr::from_bits_retain(1 << 40)))
                .unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
            let err = open_tree(rustix::fs::CWD, c"/", OpenTreeFlags::RECURSIVE).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
            let err = Mount::clone_tree("/linception\0x").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
            let fs = FsContext::open("tmpfs").unwrap();
            fs.create().unwrap();
            let err = fs.mount(MountAttr::IDMAP);
            assert_eq!(err.unwrap_err().raw_os_error(), Some(libc::EINVAL));
        });
    });
}

#[test]
fn idmapped_bind_mount_shows_and_creates_mapped_owners() {
    require!(Feature::Root, Feature::MountApi, Feature::MountSetattrIdmap);
    in_mount_ns(|| {
        let dir = TempDir::new("idmap");
        let (src, dst) = (dir.subdir("src"), dir.subdir("dst"));
        tmpfs().attach(&src).unwrap();
        std::fs::set_permissions(&src, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .unwrap();
        std::fs::write(src.join("root-file"), "").unwrap();
        std::fs::write(src.join("user-file"), "").unwrap();
        std::os::unix::fs::chown(src.join("user-file"), Some(1000), Some(1000)).unwrap();

        // On-disk ids 0..2000 show as 10000..12000.
        let userns = userns_fd("0 10000 2000");
        let tree = Mount::clone_tree(&src).unwrap();
        tree.set_attr(&MountSetattr::new().idmap(userns.as_fd()))
            .unwrap();
        tree.attach(&dst).unwrap();
        drop(tree);

        assert_eq!(owner(&dst.join("root-file")), (10000, 10000));
        assert_eq!(owner(&dst.join("user-file")), (11000, 11000));
        assert_eq!(owner(&src.join("user-file")), (1000, 1000));
        assert!(info_at(&dst).attributes.contains(MountAttr::IDMAP));

        // A file created through the mount by fsuid 10005 lands on disk as 5.
        let created = dst.join("created");
        let (disk_uid, disk_gid) = Fork::new().run({
            let (created, src) = (created.clone(), src.clone());
            move || {
                // SAFETY: credential changes in a forked single-threaded child.
                unsafe {
                    libc::setfsgid(10005);
                    libc::setfsuid(10005);
                }
                std::fs::write(&created, "x").unwrap();
                let meta = std::fs::metadata(src.join("created")).unwrap();
                (meta.uid(), meta.gid())
            }
        });
        assert_eq!((disk_uid, disk_gid), (5, 5));
        assert_eq!(owner(&created), (10005, 10005));

        // Root (0) has no mapping in the idmap: creating is refused.
        let err = std::fs::write(dst.join("by-root"), "x").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EOVERFLOW));

        // An attached mount cannot be idmapped.
        let err = mount_setattr(
            rustix::fs::CWD,
            &src,
            SetattrFlags::empty(),
            &MountSetattr::new().idmap(userns.as_fd()),
        )
        .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
        assert!(err.to_string().contains("IDMAP"), "{err}");
        assert!(
            err.to_string()
                .contains(&format!("userns_fd: {}", userns.as_raw_fd())),
            "{err}"
        );
        umount(&dst);
        umount(&src);
    });
}
