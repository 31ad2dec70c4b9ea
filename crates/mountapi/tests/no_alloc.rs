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
        assert_eq!(fs.read_log()[0].text, "tmpfs: Bad value for 'size'");
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
            ]
        });
        assert_eq!(n, 0, "the failure path allocated");
        for err in &errors {
            assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err}");
            assert!(err.to_string().contains("/linception/missing"), "{err}");
        }
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
