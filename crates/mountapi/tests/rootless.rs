//! The mount API unprivileged: root in a user namespace that owns the mount
//! namespace (Fork::rootless), uid 65534 outside.

mod common;

use std::os::fd::AsFd;
use std::path::Path;

use common::{TempDir, owner, userns_fd};
use linception_mountapi::{
    ErrorKind, FsContext, Mount, MountAttr, MountSetattr, MountTableSource, mount_table,
};
use linception_testkit::leaks::assert_no_leaks;
use linception_testkit::{Feature, Fork, require};

fn rootless<T: linception_testkit::Wire>(f: impl FnOnce() -> T) -> T {
    Fork::new().rootless().unshare(libc::CLONE_NEWNS).run(f)
}

fn tmpfs_at(path: &Path) {
    let fs = FsContext::open(c"tmpfs").unwrap();
    fs.set_string(c"size", c"1m").unwrap();
    fs.create().unwrap();
    fs.mount(MountAttr::NODEV).unwrap().attach(path).unwrap();
}

fn umount(path: &Path) {
    rustix::mount::unmount(path, rustix::mount::UnmountFlags::empty()).unwrap();
}

#[test]
fn tmpfs_and_its_errors_unprivileged() {
    require!(Feature::UnprivilegedUserNs, Feature::MountApi);
    rootless(|| {
        let dir = TempDir::new("rootless-tmpfs");
        tmpfs_at(dir.path());
        std::fs::write(dir.path().join("f"), "x").unwrap();
        let info = mount_table(MountTableSource::Auto)
            .unwrap()
            .into_iter()
            .find(|m| m.mount_point == dir.path())
            .unwrap();
        assert_eq!(info.fs_type, "tmpfs");
        umount(dir.path());
        assert_no_leaks(|| {
            let fs = FsContext::open(c"tmpfs").unwrap();
            let err = fs.set_string(c"size", c"x").unwrap_err();
            assert!(
                err.to_string().ends_with("tmpfs: Bad value for 'size'"),
                "{err}"
            );
        });
    });
}

#[test]
fn block_filesystems_are_refused_unprivileged() {
    require!(Feature::UnprivilegedUserNs, Feature::MountApi);
    rootless(|| {
        assert_no_leaks(|| {
            // The context opens; creating a filesystem without FS_USERNS_MOUNT is
            // refused.
            let fs = FsContext::open(c"ext4").unwrap();
            fs.set_string(c"source", c"/dev/null").unwrap();
            let err = fs.create().unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err}");
            assert!(
                err.to_string().contains(
                    "FSCONFIG_CMD_CREATE, NULL, NULL, 0): Operation not permitted (EPERM)"
                ),
                "{err}"
            );
        });
    });
}

#[test]
fn bind_mount_unprivileged_and_locked_attributes() {
    require!(
        Feature::UnprivilegedUserNs,
        Feature::MountApi,
        Feature::MountSetattr
    );
    rootless(|| {
        let dir = TempDir::new("rootless-bind");
        let (src, dst) = (dir.subdir("src"), dir.subdir("dst"));
        std::fs::write(src.join("f"), "bound").unwrap();
        let tree = Mount::clone_tree(&src).unwrap();
        tree.set_attr(&MountSetattr::new().set(MountAttr::RDONLY))
            .unwrap();
        tree.attach(&dst).unwrap();
        drop(tree);
        assert_eq!(std::fs::read_to_string(dst.join("f")).unwrap(), "bound");
        let err = std::fs::write(dst.join("g"), "x").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EROFS));
        umount(&dst);

        // A non-recursive clone of a tree with mounts locked into it is refused.
        let err = Mount::clone_tree(c"/").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
        let whole = Mount::clone_tree_recursive(c"/").unwrap();
        drop(whole);

        // Attributes of mounts inherited from the parent namespace are locked.
        let locked = MountAttr::RDONLY | MountAttr::NOSUID | MountAttr::NODEV | MountAttr::NOEXEC;
        let inherited = mount_table(MountTableSource::Mountinfo)
            .unwrap()
            .into_iter()
            .find(|m| m.attributes.intersects(locked) && !m.mount_point.starts_with(dir.path()));
        match inherited {
            Some(m) => {
                let err = linception_mountapi::mount_setattr(
                    rustix::fs::CWD,
                    &m.mount_point,
                    Default::default(),
                    &MountSetattr::new().clear(m.attributes & locked),
                )
                .unwrap_err();
                assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err}");
            }
            None => eprintln!("no inherited mount with a lockable attribute here"),
        }
    });
}

#[test]
fn overlay_unprivileged_with_userxattr() {
    require!(Feature::UnprivilegedUserNs, Feature::MountApi);
    rootless(|| {
        let dir = TempDir::new("rootless-overlay");
        // Layers on a tmpfs of our own (it supports user xattrs).
        tmpfs_at(dir.path());
        let (lower, upper, work, merged) = (
            dir.subdir("lower"),
            dir.subdir("upper"),
            dir.subdir("work"),
            dir.subdir("merged"),
        );
        std::fs::write(lower.join("l"), "lower").unwrap();
        let fs = FsContext::open(c"overlay").unwrap();
        fs.set_string(c"lowerdir", lower.to_str().unwrap()).unwrap();
        fs.set_string(c"upperdir", upper.to_str().unwrap()).unwrap();
        fs.set_string(c"workdir", work.to_str().unwrap()).unwrap();
        fs.set_flag(c"userxattr").unwrap();
        fs.create().unwrap();
        fs.mount(MountAttr::empty())
            .unwrap()
            .attach(&merged)
            .unwrap();
        assert_eq!(std::fs::read_to_string(merged.join("l")).unwrap(), "lower");
        std::fs::write(merged.join("new"), "x").unwrap();
        assert!(upper.join("new").exists());
        umount(&merged);
        umount(dir.path());
    });
}

#[test]
fn idmapped_mount_unprivileged_where_permitted() {
    require!(
        Feature::UnprivilegedUserNs,
        Feature::MountApi,
        Feature::MountSetattrIdmap
    );
    let outcome = rootless(|| {
        let dir = TempDir::new("rootless-idmap");
        let (src, dst) = (dir.subdir("src"), dir.subdir("dst"));
        tmpfs_at(&src);
        std::fs::write(src.join("f"), "").unwrap();
        // Our namespace maps only 0; a child namespace can map only that id too.
        let userns = userns_fd("0 0 1");
        let tree = Mount::clone_tree(&src).unwrap();
        let result = tree.set_attr(&MountSetattr::new().idmap(userns.as_fd()));
        let outcome = match result {
            Ok(()) => {
                tree.attach(&dst).unwrap();
                assert_eq!(owner(&dst.join("f")), (0, 0));
                std::fs::write(dst.join("created"), "").unwrap();
                assert_eq!(owner(&src.join("created")), (0, 0));
                assert!(
                    mount_table(MountTableSource::Auto)
                        .unwrap()
                        .iter()
                        .any(|m| m.mount_point == dst && m.attributes.contains(MountAttr::IDMAP))
                );
                "idmapped".to_string()
            }
            Err(err) => {
                // Refused: the error says which call and why.
                assert_eq!(err.kind(), ErrorKind::Os);
                assert!(
                    matches!(err.raw_os_error(), Some(libc::EPERM | libc::EINVAL)),
                    "{err}"
                );
                assert!(err.to_string().starts_with("mount_setattr(fd "), "{err}");
                assert!(err.to_string().contains("IDMAP"), "{err}");
                format!("refused: {err}")
            }
        };
        drop(tree);
        if outcome == "idmapped" {
            umount(&dst);
        }
        umount(&src);
        outcome
    });
    eprintln!("rootless idmapped mount: {outcome}");
}

#[test]
fn proc_unprivileged_in_a_new_pid_namespace() {
    require!(Feature::UnprivilegedUserNs, Feature::MountApi);
    let entries = Fork::new()
        .rootless()
        .unshare(libc::CLONE_NEWNS | libc::CLONE_NEWPID)
        .run(|| {
            // The process that unshared stays in its old pid namespace; its next
            // child is pid 1 of the new one, which our user namespace owns.
            Fork::new().run(|| {
                assert!(rustix::process::getpid().is_init());
                let dir = TempDir::new("rootless-proc");
                let fs = FsContext::open(c"proc").unwrap();
                fs.set_string(c"subset", c"pid").unwrap();
                fs.set_string(c"hidepid", c"invisible").unwrap();
                fs.create().unwrap();
                fs.mount(MountAttr::NOSUID | MountAttr::NODEV | MountAttr::NOEXEC)
                    .unwrap()
                    .attach(dir.path())
                    .unwrap();
                let mut pids: Vec<String> = std::fs::read_dir(dir.path())
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
                    .collect();
                pids.sort();
                assert!(!dir.path().join("meminfo").exists());
                umount(dir.path());
                pids
            })
        });
    // Only this namespace's processes: pid 1 alone.
    assert_eq!(entries, vec!["1".to_string()]);
}
