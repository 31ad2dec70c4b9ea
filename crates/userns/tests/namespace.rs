//! `UserNamespace`: a namespace with given maps, held by an fd.
// Unsafe code here: credential changes in forked children and a raw mount_setattr (the kernel is the judge of an idmapped mount).
#![allow(unsafe_code)]

mod common;

use std::os::fd::{AsFd, AsRawFd};

use common::{TempDir, owner};
use linception_testkit::{Feature, Fork, NOBODY, leaks::assert_no_leaks, require};
use linception_userns::{IdMap, MapRule, MapWriter, UserNamespace, WriteMode};
use rustix::fs::CWD;
use rustix::io::FdFlags;

/// No child of this process is left, zombie or alive.
fn no_children_left() -> bool {
    rustix::process::waitpid(None, rustix::process::WaitOptions::NOHANG)
        .is_err_and(|e| e == rustix::io::Errno::CHILD)
}

/// The inode of a namespace fd (its identity).
fn ns_ino(fd: impl AsFd) -> u64 {
    rustix::fs::fstat(fd).unwrap().st_ino
}

#[test]
fn root_creates_a_namespace_with_wide_maps() {
    require!(Feature::Root, Feature::UserNs, Feature::Clone3);
    let (cloexec, other_ns, none_left, uid_in) = Fork::new().run(|| {
        let map = IdMap::single(0, 100_000, 65_536).unwrap();
        assert_no_leaks(|| {
            let ns = UserNamespace::with_maps(map.clone(), map.clone()).unwrap();
            // Cloning and dropping leaves nothing either.
            drop(ns.try_clone().unwrap());
        });
        let ns = UserNamespace::with_maps(map.clone(), map.clone()).unwrap();
        let cloexec = rustix::io::fcntl_getfd(&ns)
            .unwrap()
            .contains(FdFlags::CLOEXEC);
        let own = rustix::fs::open(
            "/proc/self/ns/user",
            rustix::fs::OFlags::RDONLY,
            rustix::fs::Mode::empty(),
        )
        .unwrap();
        let other_ns = ns_ino(&ns) != ns_ino(&own);
        let none_left = no_children_left();
        // Join it in a grandchild-free way: this Fork child is single-threaded.
        rustix::thread::move_into_link_name_space(
            ns.as_fd(),
            Some(rustix::thread::LinkNameSpaceType::User),
        )
        .unwrap();
        // Host root (uid 0) is not mapped in it: we appear as the overflow uid.
        let uid_in = rustix::process::getuid().as_raw();
        (cloexec, other_ns, none_left, uid_in)
    });
    assert!(cloexec, "ns fd lacks CLOEXEC");
    assert!(other_ns, "ns fd is our own namespace");
    assert!(none_left, "the namespace's child was not reaped");
    assert_eq!(uid_in, NOBODY);
}

#[test]
fn files_created_after_setns_have_the_mapped_owner() {
    require!(Feature::Root, Feature::UserNs, Feature::Clone3);
    let dir = TempDir::new("setns");
    let file = dir.0.join("f");
    Fork::new().run(|| {
        let ns = UserNamespace::with_maps(
            IdMap::parse("0 100000 1000\n1000 300000 10").unwrap(),
            IdMap::single(0, 200_000, 65_536).unwrap(),
        )
        .unwrap();
        rustix::thread::move_into_link_name_space(
            ns.as_fd(),
            Some(rustix::thread::LinkNameSpaceType::User),
        )
        .unwrap();
        // SAFETY: credential syscalls in the single-threaded Fork child.
        unsafe {
            assert_eq!(
                libc::setresgid(7, 7, 7),
                0,
                "{}",
                std::io::Error::last_os_error()
            );
            assert_eq!(
                libc::setresuid(1003, 1003, 1003),
                0,
                "{}",
                std::io::Error::last_os_error()
            );
        }
        std::fs::File::create(&file).unwrap();
    });
    assert_eq!(owner(&file), (300_003, 200_007));
}

#[test]
fn unprivileged_namespace_with_own_ids() {
    require!(Feature::Root, Feature::UnprivilegedUserNs, Feature::Clone3);
    let (uid_in, none_left) = Fork::new().unprivileged().run(|| {
        assert_no_leaks(|| drop(UserNamespace::new(&MapWriter::own_ids(0, 0)).unwrap()));
        let ns = UserNamespace::new(&MapWriter::own_ids(0, 0)).unwrap();
        let none_left = no_children_left();
        rustix::thread::move_into_link_name_space(
            ns.as_fd(),
            Some(rustix::thread::LinkNameSpaceType::User),
        )
        .unwrap();
        (rustix::process::getuid().as_raw(), none_left)
    });
    assert_eq!(uid_in, 0, "65534 outside is 0 inside");
    assert!(none_left);
}

#[test]
fn unprivileged_wider_namespace_fails_and_leaves_nothing() {
    require!(Feature::Root, Feature::UnprivilegedUserNs, Feature::Clone3);
    let (rule, errno, none_left) = Fork::new().unprivileged().run(|| {
        let map = IdMap::single(0, 100_000, 10).unwrap();
        let err = assert_no_leaks(|| {
            UserNamespace::new(&MapWriter::new().uid_map(map).mode(WriteMode::Privileged))
                .unwrap_err()
        });
        (
            format!("{:?}", err.map_rule()),
            err.raw_os_error().unwrap_or(0),
            no_children_left(),
        )
    });
    assert_eq!(
        rule,
        format!(
            "{:?}",
            Some(MapRule::UnprivilegedWiderThanOwnId { own: NOBODY })
        )
    );
    assert_eq!(errno, libc::EPERM);
    assert!(
        none_left,
        "the namespace's child was not reaped after a failure"
    );
}

#[test]
fn many_namespaces_in_a_row_leave_nothing() {
    require!(Feature::Root, Feature::UserNs, Feature::Clone3);
    let count = Fork::new().run(|| {
        let map = IdMap::single(0, 100_000, 65_536).unwrap();
        let start = std::time::Instant::now();
        let mut n = 0u32;
        assert_no_leaks(|| {
            while n < 200 && start.elapsed() < std::time::Duration::from_secs(2) {
                let ns = UserNamespace::with_maps(map.clone(), map.clone()).unwrap();
                assert!(ns.as_fd().as_raw_fd() >= 0);
                n += 1;
            }
        });
        assert!(no_children_left());
        n
    });
    assert!(count > 0);
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

#[test]
fn idmapped_mount_with_the_namespace_fd() {
    require!(
        Feature::Root,
        Feature::UserNs,
        Feature::Clone3,
        Feature::MountSetattrIdmap
    );
    let src = TempDir::new("idmap-src");
    let dst = TempDir::new("idmap-dst");
    std::fs::write(src.0.join("f"), b"x").unwrap(); // owned by 0:0
    let (uid, gid) = Fork::new().unshare(libc::CLONE_NEWNS).run(|| {
        use rustix::mount::{MoveMountFlags, OpenTreeFlags};
        let ns = UserNamespace::with_maps(
            IdMap::single(0, 100_000, 65_536).unwrap(),
            IdMap::single(0, 200_000, 65_536).unwrap(),
        )
        .unwrap();
        let tree = rustix::mount::open_tree(
            CWD,
            &src.0,
            OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
        )
        .unwrap();
        let attr = MountAttr {
            attr_set: MOUNT_ATTR_IDMAP,
            attr_clr: 0,
            propagation: 0,
            userns_fd: ns.as_fd().as_raw_fd() as u64,
        };
        // SAFETY: tree is an open detached mount, the path is "", attr is a valid
        // mount_attr of the size passed.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                tree.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_EMPTY_PATH,
                &attr,
                std::mem::size_of::<MountAttr>(),
            )
        };
        assert_eq!(ret, 0, "mount_setattr: {}", std::io::Error::last_os_error());
        rustix::mount::move_mount(
            tree.as_fd(),
            "",
            CWD,
            &dst.0,
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        )
        .unwrap();
        owner(&dst.0.join("f"))
    });
    assert_eq!((uid, gid), (100_000, 200_000));
    // Nothing was mounted on the host.
    assert!(!dst.0.join("f").exists());
}
