//! The calls a container builder makes between clone and exec allocate nothing
//! when given `&CStr` paths, on success and on failure: counted with a global
//! allocator, in a forked single-threaded child.

mod common;

use common::{TempDir, cstr};
use linception_mountapi::{
    FsContext, LogCapture, Mount, MountAttr, MountSetattr, MoveMountFlags, OpenTreeFlags,
    Propagation, SetattrFlags, mount_setattr, move_mount, open_tree,
};
use linception_testkit::alloc::{CountingAllocator, allocations_in};
use linception_testkit::{Feature, Fork, require};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// A log message without the newline recent kernels end it with.
fn message(raw: &[u8]) -> &[u8] {
    raw.strip_suffix(b"\n").unwrap_or(raw)
}

#[test]
fn pre_exec_calls_do_not_allocate() {
    require!(Feature::Root, Feature::MountApi, Feature::MountSetattr);
    Fork::new().unshare(libc::CLONE_NEWNS).run(|| {
        let dir = TempDir::new("noalloc");
        let (a, b, c) = (dir.subdir("a"), dir.subdir("b"), dir.subdir("c"));
        let (a, b, c) = (cstr(&a), cstr(&b), cstr(&c));
        let missing = c"/linception/missing";

        // Prepared before "clone": the filesystem context and its mount.
        let fs = FsContext::open(c"tmpfs").unwrap();
        let ((), n) = allocations_in(|| {
            fs.set_string(c"size", c"1m").unwrap();
            fs.create().unwrap();
        });
        assert_eq!(n, 0, "fsconfig success path allocated");
        let (mount, n) = allocations_in(|| fs.mount(MountAttr::NOSUID).unwrap());
        assert_eq!(n, 0, "fsmount allocated");

        let ((), n) = allocations_in(|| {
            mount.attach(a.as_c_str()).unwrap();
            let handle = open_tree(rustix::fs::CWD, a.as_c_str(), OpenTreeFlags::empty()).unwrap();
            handle
                .set_attr(
                    &MountSetattr::new()
                        .propagation(Propagation::Private)
                        .set(MountAttr::NODEV),
                )
                .unwrap();
            let tree = Mount::clone_tree_recursive(a.as_c_str()).unwrap();
            tree.set_attr_recursive(&MountSetattr::new().set(MountAttr::RDONLY))
                .unwrap();
            tree.attach_at(rustix::fs::CWD, b.as_c_str(), MoveMountFlags::empty())
                .unwrap();
            move_mount(
                rustix::fs::CWD,
                b.as_c_str(),
                rustix::fs::CWD,
                c.as_c_str(),
                MoveMountFlags::empty(),
            )
            .unwrap();
            mount_setattr(
                rustix::fs::CWD,
                c.as_c_str(),
                SetattrFlags::RECURSIVE,
                &MountSetattr::new().clear(MountAttr::RDONLY),
            )
            .unwrap();
        });
        assert_eq!(n, 0, "the success path allocated");

        // FsContext failures, with the messages left in the context.
        let mut fs = FsContext::open(c"tmpfs").unwrap();
        fs.set_log_capture(LogCapture::Leave);
        let (err, n) = allocations_in(|| fs.set_string(c"size", c"x").unwrap_err());
        assert_eq!(n, 0, "fsconfig failure path allocated");
        assert!(err.kernel_log().is_empty());
        let (err2, n) = allocations_in(|| fs.mount(MountAttr::empty()).unwrap_err());
        assert_eq!(n, 0, "fsmount failure path allocated");
        assert_eq!(err2.raw_os_error(), Some(libc::EINVAL));
        // The child reads the kernel's reason into a buffer of its own.
        let mut buf = [0u8; 256];
        let (len, n) = allocations_in(|| fs.read_log_into(&mut buf).unwrap());
        assert_eq!(n, 0, "read_log_into allocated");
        assert_eq!(message(&buf[..len]), b"e tmpfs: Bad value for 'size'");
        fs.read_log(); // whatever fsmount logged
        // A buffer too small: EMSGSIZE, the message stays; an empty log reads 0.
        fs.set_string(c"size", c"y").unwrap_err();
        let mut small = [0u8; 4];
        let ((short, len, empty), n) = allocations_in(|| {
            let short = fs.read_log_into(&mut small).unwrap_err();
            let len = fs.read_log_into(&mut buf).unwrap();
            (short, len, fs.read_log_into(&mut buf).unwrap())
        });
        assert_eq!(n, 0, "read_log_into allocated");
        assert_eq!(short.raw_os_error(), Some(libc::EMSGSIZE), "{short}");
        assert!(short.to_string().starts_with("read(fd "), "{short}");
        assert_eq!(message(&buf[..len]), b"e tmpfs: Bad value for 'size'");
        assert_eq!(empty, 0);
        assert!(fs.read_log().is_empty());
        assert!(
            err.to_string()
                .contains("FSCONFIG_SET_STRING, \"size\", \"x\""),
            "{err}"
        );

        // Failures keep their description inline.
        let (errors, n) = allocations_in(|| {
            [
                mount.attach(missing).unwrap_err(),
                Mount::clone_tree(missing).unwrap_err(),
                mount_setattr(
                    rustix::fs::CWD,
                    missing,
                    SetattrFlags::empty(),
                    &MountSetattr::new().set(MountAttr::NODEV),
                )
                .unwrap_err(),
                move_mount(
                    rustix::fs::CWD,
                    missing,
                    rustix::fs::CWD,
                    c.as_c_str(),
                    MoveMountFlags::empty(),
                )
                .unwrap_err(),
                mount.attach_beneath(missing).unwrap_err(),
                open_tree(rustix::fs::CWD, missing, OpenTreeFlags::CLONE).unwrap_err(),
            ]
        });
        assert_eq!(n, 0, "the failure path allocated");
        for err in &errors {
            assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err}");
            assert!(err.to_string().contains("/linception/missing"), "{err}");
            assert!(
                err.to_string()
                    .ends_with("No such file or directory (ENOENT)"),
                "{err}"
            );
        }

        // Refusals of an existing path, and an unknown filesystem type.
        let plain = cstr(&dir.subdir("plain"));
        let (refused, n) = allocations_in(|| {
            [
                // Not a mount: neither movable nor a target of mount_setattr.
                move_mount(
                    rustix::fs::CWD,
                    plain.as_c_str(),
                    rustix::fs::CWD,
                    c.as_c_str(),
                    MoveMountFlags::empty(),
                )
                .unwrap_err(),
                mount_setattr(
                    rustix::fs::CWD,
                    plain.as_c_str(),
                    SetattrFlags::empty(),
                    &MountSetattr::new().set(MountAttr::NODEV),
                )
                .unwrap_err(),
            ]
        });
        assert_eq!(n, 0, "a refused move_mount / mount_setattr allocated");
        for err in &refused {
            assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
            assert!(err.to_string().contains("plain"), "{err}");
        }
        let (err, n) = allocations_in(|| FsContext::open(c"linception-no-such-fs").unwrap_err());
        assert_eq!(n, 0, "fsopen of an unknown type allocated");
        assert_eq!(err.raw_os_error(), Some(libc::ENODEV), "{err}");
        assert_eq!(
            err.to_string(),
            "fsopen(\"linception-no-such-fs\", FSOPEN_CLOEXEC): No such device (ENODEV)"
        );
        drop(mount);
        for path in [&c, &a] {
            rustix::mount::unmount(path.as_c_str(), rustix::mount::UnmountFlags::empty()).unwrap();
        }
    });
}

#[test]
fn open_tree_attr_and_listmount_in_do_not_allocate() {
    require!(Feature::Root, Feature::OpenTreeAttr, Feature::ListmountNsFd);
    Fork::new().unshare(libc::CLONE_NEWNS).run(|| {
        use linception_mountapi::{
            LSMT_ROOT, ListmountFlags, MountNs, listmount_in, open_tree_attr,
        };
        use std::os::fd::AsFd;

        let dir = TempDir::new("noalloc-ota");
        let (a, b) = (dir.subdir("a"), dir.subdir("b"));
        let (a, b) = (cstr(&a), cstr(&b));
        let missing = c"/linception/missing";
        let ns = std::fs::File::open("/proc/self/ns/mnt").unwrap();
        let id = linception_mountapi::mount_ns_id(&ns).unwrap();
        let attr = MountSetattr::new().set(MountAttr::RDONLY | MountAttr::NOSUID);
        let mut ids = [0u64; 64];
        let (counts, n) = allocations_in(|| {
            let tree =
                open_tree_attr(rustix::fs::CWD, a.as_c_str(), OpenTreeFlags::CLONE, &attr).unwrap();
            tree.attach(b.as_c_str()).unwrap();
            let err =
                open_tree_attr(rustix::fs::CWD, missing, OpenTreeFlags::CLONE, &attr).unwrap_err();
            let by_fd = listmount_in(
                MountNs::Fd(ns.as_fd()),
                LSMT_ROOT,
                0,
                &mut ids,
                ListmountFlags::empty(),
            )
            .unwrap();
            let by_id = listmount_in(
                MountNs::Id(id),
                LSMT_ROOT,
                0,
                &mut ids,
                ListmountFlags::empty(),
            )
            .unwrap();
            (err.raw_os_error(), by_fd, by_id)
        });
        assert_eq!(n, 0, "open_tree_attr / listmount_in allocated");
        assert_eq!(counts.0, Some(libc::ENOENT));
        assert!(counts.1 > 0);
        assert_eq!(counts.1, counts.2);
    });
}

/// The same failure paths, rootless: in a user namespace of an unprivileged user
/// (the container case), where the mount API works for tmpfs.
#[test]
fn rootless_failures_do_not_allocate() {
    require!(Feature::UnprivilegedUserNs, Feature::MountApi);
    let (counts, texts) = Fork::new().rootless().unshare(libc::CLONE_NEWNS).run(|| {
        let missing = c"/linception/missing";
        let (unknown, n_fsopen) =
            allocations_in(|| FsContext::open(c"linception-no-such-fs").unwrap_err());
        let (tree, n_tree) = allocations_in(|| {
            open_tree(rustix::fs::CWD, missing, OpenTreeFlags::CLONE).unwrap_err()
        });
        let mut fs = FsContext::open(c"tmpfs").unwrap();
        fs.set_log_capture(LogCapture::Leave);
        let mut buf = [0u8; 256];
        let ((bad, len), n_log) = allocations_in(|| {
            let bad = fs.set_string(c"size", c"x").unwrap_err();
            (bad, fs.read_log_into(&mut buf).unwrap())
        });
        (
            (n_fsopen, n_tree, n_log),
            vec![
                unknown.to_string(),
                tree.to_string(),
                bad.to_string(),
                String::from_utf8_lossy(message(&buf[..len])).into_owned(),
            ],
        )
    });
    assert_eq!(counts, (0, 0, 0), "{texts:?}");
    assert!(
        texts[0].ends_with("No such device (ENODEV)"),
        "{}",
        texts[0]
    );
    assert!(texts[1].ends_with("(ENOENT)"), "{}", texts[1]);
    assert!(
        texts[2].ends_with("Invalid argument (EINVAL)"),
        "{}",
        texts[2]
    );
    assert_eq!(texts[3], "e tmpfs: Bad value for 'size'");
}
