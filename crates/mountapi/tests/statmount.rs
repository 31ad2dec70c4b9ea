//! statmount with a chosen mask and every field up to Linux 6.18, the buffer-size
//! contract, idmapped mounts' maps, and listing/stating another mount namespace
//! (by id and by fd), each checked against mountinfo or the kernel.
// Raw fork/pipe/dup2: a helper process holds another mount namespace open, and
// fd 0 is replaced by a namespace fd (dup2 onto a number this test does not own).
#![allow(unsafe_code)]

mod common;

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use common::{TempDir, userns_fd};
use linception_mountapi::{
    ErrorKind, FsContext, IdMapping, ListmountFlags, Mount, MountAttr, MountInfo, MountNs,
    MountSetattr, MountTableSource, Propagation, StatmountMask, StatmountReader, mount_ids,
    mount_ids_in, mount_ns_id, mount_table, mount_table_in, parse_mountinfo, statmount_in,
    unique_mount_id,
};
use linception_testkit::{Feature, Fork, require};

fn tmpfs_at(path: &Path, source: &str, options: &[(&str, &str)]) {
    let fs = FsContext::open("tmpfs").unwrap();
    fs.set_string("source", source).unwrap();
    for (key, value) in options {
        fs.set_string(*key, *value).unwrap();
    }
    fs.create().unwrap();
    fs.mount(MountAttr::NOSUID).unwrap().attach(path).unwrap();
}

/// Every mask bit this crate knows, up to Linux 6.18.
const ALL: StatmountMask = StatmountMask::SB_BASIC
    .union(StatmountMask::MNT_BASIC)
    .union(StatmountMask::PROPAGATE_FROM)
    .union(StatmountMask::MNT_ROOT)
    .union(StatmountMask::MNT_POINT)
    .union(StatmountMask::FS_TYPE)
    .union(StatmountMask::MNT_NS_ID)
    .union(StatmountMask::MNT_OPTS)
    .union(StatmountMask::FS_SUBTYPE)
    .union(StatmountMask::SB_SOURCE)
    .union(StatmountMask::OPT_ARRAY)
    .union(StatmountMask::OPT_SEC_ARRAY)
    .union(StatmountMask::SUPPORTED_MASK)
    .union(StatmountMask::MNT_UIDMAP)
    .union(StatmountMask::MNT_GIDMAP);

fn statfs_magic(path: &Path) -> u64 {
    let st = rustix::fs::statfs(path).unwrap();
    st.f_type as u64
}

/// A mix: options with escapes, a shared mount and its slave, a bind of a subtree.
fn populate(dir: &TempDir) {
    let a = dir.subdir("a b");
    tmpfs_at(&a, "src,with\\comma", &[("size", "1m"), ("mode", "0750")]);
    let shared = dir.subdir("shared");
    tmpfs_at(&shared, "shared-src", &[("nr_inodes", "100")]);
    std::fs::create_dir(shared.join("inner")).unwrap();
    linception_mountapi::open_tree(rustix::fs::CWD, &shared, Default::default())
        .unwrap()
        .set_attr(&MountSetattr::new().propagation(Propagation::Shared))
        .unwrap();
    let slave = dir.subdir("slave");
    let bind = Mount::clone_tree(shared.join("inner")).unwrap();
    bind.attach(&slave).unwrap();
    bind.set_attr(
        &MountSetattr::new()
            .propagation(Propagation::Slave)
            .set(MountAttr::RDONLY),
    )
    .unwrap();
}

fn every_field_agrees_with_mountinfo_and_the_kernel() {
    let dir = TempDir::new("fields");
    populate(&dir);
    let ns = std::fs::File::open("/proc/self/ns/mnt").unwrap();
    let ns_id = mount_ns_id(&ns).unwrap();
    let text = mount_table(MountTableSource::Mountinfo).unwrap();
    let mut reader = StatmountReader::new();
    let ids = mount_ids(ListmountFlags::empty()).unwrap();
    assert_eq!(ids.len(), text.len());
    for id in ids {
        let stat = reader.stat(MountNs::Current, id, ALL).unwrap();
        // The kernel knows every bit this crate does, and filled what applies.
        let supported = stat.supported_mask.unwrap();
        assert!(
            supported.contains(ALL - StatmountMask::SUPPORTED_MASK),
            "{supported:?}"
        );
        let line = text
            .iter()
            .find(|m| Some(m.id) == stat.basic.map(|b| b.id_old))
            .unwrap();
        // The mountinfo fields, field by field.
        let mut as_info = MountInfo::from(&stat);
        assert_eq!(as_info.unique_id, Some(id));
        as_info.unique_id = None;
        as_info.parent_unique_id = None;
        assert_eq!(&as_info, line);
        // The fields mountinfo cannot give, against their own sources.
        assert_eq!(stat.mnt_ns_id, Some(ns_id));
        let point = stat.mount_point.as_ref().unwrap();
        if point.starts_with(dir.path()) {
            let sb = stat.superblock.unwrap();
            assert_eq!(sb.magic, statfs_magic(point), "{point:?}");
            assert_eq!(sb.magic, libc::TMPFS_MAGIC as u64);
        }
        // The option array is the options string, split and unescaped, and
        // mountinfo's super options minus the superblock flags.
        // (The kernel leaves the field out for a mount without options.)
        let array = stat.option_array.clone().unwrap_or_default();
        let from_text: Vec<String> = line
            .options
            .as_deref()
            .map(|o| o.split(',').map(str::to_string).collect())
            .unwrap_or_default();
        if !array.iter().any(|o| o.contains(',')) {
            assert_eq!(array, from_text, "{point:?}");
        }
        // No LSM here sets mount options: the kernel leaves the field out.
        if let Some(security) = &stat.security_options {
            assert!(security.iter().all(|o| !o.is_empty()), "{security:?}");
        }
        // Not idmapped: no mappings.
        assert_eq!(stat.uid_map.as_deref().unwrap_or_default(), &[]);
    }
    let a = text
        .iter()
        .find(|m| m.mount_point == dir.path().join("a b"))
        .unwrap();
    assert_eq!(a.source.as_deref(), Some("src,with\\comma"));
}

#[test]
fn every_field_agrees_as_root() {
    require!(
        Feature::Root,
        Feature::Statmount,
        Feature::StatmountOptArray,
        Feature::StatmountSupportedMask
    );
    Fork::new()
        .unshare(libc::CLONE_NEWNS)
        .run(every_field_agrees_with_mountinfo_and_the_kernel);
}

#[test]
fn every_field_agrees_rootless() {
    require!(
        Feature::UnprivilegedUserNs,
        Feature::Statmount,
        Feature::StatmountOptArray,
        Feature::StatmountSupportedMask
    );
    Fork::new()
        .rootless()
        .unshare(libc::CLONE_NEWNS)
        .run(every_field_agrees_with_mountinfo_and_the_kernel);
}

#[test]
fn the_mask_chooses_the_fields() {
    require!(Feature::Statmount, Feature::StatmountSupportedMask);
    let root = mount_ids(ListmountFlags::empty()).unwrap()[0];
    let mut reader = StatmountReader::new();
    let supported = reader
        .stat(MountNs::Current, root, StatmountMask::SUPPORTED_MASK)
        .unwrap()
        .supported_mask
        .unwrap();
    for bit in ALL.iter() {
        let stat = reader.stat(MountNs::Current, root, bit).unwrap();
        // Only what was asked for comes back.
        assert!(bit.contains(stat.mask), "{bit:?} gave {:?}", stat.mask);
        let filled = [
            (StatmountMask::SB_BASIC, stat.superblock.is_some()),
            (StatmountMask::MNT_BASIC, stat.basic.is_some()),
            (StatmountMask::PROPAGATE_FROM, stat.propagate_from.is_some()),
            (StatmountMask::MNT_ROOT, stat.root.is_some()),
            (StatmountMask::MNT_POINT, stat.mount_point.is_some()),
            (StatmountMask::FS_TYPE, stat.fs_type.is_some()),
            (StatmountMask::MNT_NS_ID, stat.mnt_ns_id.is_some()),
            (StatmountMask::MNT_OPTS, stat.options.is_some()),
            (StatmountMask::FS_SUBTYPE, stat.fs_subtype.is_some()),
            (StatmountMask::SB_SOURCE, stat.source.is_some()),
            (StatmountMask::OPT_ARRAY, stat.option_array.is_some()),
            (
                StatmountMask::OPT_SEC_ARRAY,
                stat.security_options.is_some(),
            ),
            (StatmountMask::SUPPORTED_MASK, stat.supported_mask.is_some()),
            (StatmountMask::MNT_UIDMAP, stat.uid_map.is_some()),
            (StatmountMask::MNT_GIDMAP, stat.gid_map.is_some()),
        ];
        for (field, some) in filled {
            assert_eq!(some, stat.mask.contains(field), "{field:?} asking {bit:?}");
            if field != bit {
                assert!(!some, "{field:?} filled when only {bit:?} was asked");
            }
        }
        // The ones every mount has are filled when the kernel knows them.
        let always = StatmountMask::SB_BASIC
            | StatmountMask::MNT_BASIC
            | StatmountMask::PROPAGATE_FROM
            | StatmountMask::MNT_ROOT
            | StatmountMask::MNT_POINT
            | StatmountMask::FS_TYPE
            | StatmountMask::MNT_NS_ID
            | StatmountMask::SUPPORTED_MASK;
        if always.contains(bit) && supported.contains(bit) {
            assert_eq!(stat.mask, bit);
        }
    }
    // Unknown bits are ignored by the kernel, not refused.
    let stat = reader
        .stat(
            MountNs::Current,
            root,
            StatmountMask::FS_TYPE | StatmountMask::from_bits_retain(1 << 40),
        )
        .unwrap();
    assert_eq!(stat.mask, StatmountMask::FS_TYPE);
}

fn the_buffer_grows_on_eoverflow_and_strings_come_back_whole() {
    let dir = TempDir::new("overflow");
    // A mount point of about 3,900 bytes: more than a 512-byte buffer holds, and
    // more than the 4 KiB default once the struct's 512 bytes are added.
    let mut long = dir.path().to_path_buf();
    while long.as_os_str().len() < 3900 {
        long.push("d".repeat(200));
    }
    std::fs::create_dir_all(&long).unwrap();
    tmpfs_at(&long, &"s".repeat(200), &[("size", "64k")]);
    let id = unique_mount_id(&long).unwrap();
    let mut reader = StatmountReader::with_capacity(0);
    assert_eq!(reader.capacity(), 512);
    let mask = StatmountMask::MNT_POINT | StatmountMask::SB_SOURCE | StatmountMask::MNT_ROOT;
    let stat = reader.stat(MountNs::Current, id, mask).unwrap();
    assert!(reader.capacity() >= 4096 + 512, "{}", reader.capacity());
    assert_eq!(stat.mount_point.as_deref(), Some(long.as_path()));
    assert_eq!(stat.source.as_deref(), Some("s".repeat(200).as_str()));
    assert_eq!(stat.root.as_deref(), Some(Path::new("/")));
    // The default reader grows as well, and the mountinfo view agrees.
    let info = linception_mountapi::statmount(id).unwrap();
    assert_eq!(info.mount_point, long);
    let text = mount_table(MountTableSource::Mountinfo).unwrap();
    assert!(text.iter().any(|m| m.mount_point == long));
    rustix::mount::unmount(&long, rustix::mount::UnmountFlags::empty()).unwrap();
}

#[test]
fn the_buffer_grows_as_root() {
    require!(Feature::Root, Feature::Statmount);
    Fork::new()
        .unshare(libc::CLONE_NEWNS)
        .run(the_buffer_grows_on_eoverflow_and_strings_come_back_whole);
}

#[test]
fn the_buffer_grows_rootless() {
    require!(Feature::UnprivilegedUserNs, Feature::Statmount);
    Fork::new()
        .rootless()
        .unshare(libc::CLONE_NEWNS)
        .run(the_buffer_grows_on_eoverflow_and_strings_come_back_whole);
}

#[test]
fn an_idmapped_mount_reports_its_maps() {
    require!(
        Feature::Root,
        Feature::MountSetattrIdmap,
        Feature::StatmountIdmap
    );
    Fork::new().unshare(libc::CLONE_NEWNS).run(|| {
        let dir = TempDir::new("idmap-maps");
        let (src, dst) = (dir.subdir("src"), dir.subdir("dst"));
        tmpfs_at(&src, "idmap-src", &[]);
        let userns = userns_fd("0 100000 1000\n");
        let tree = Mount::clone_tree(&src).unwrap();
        tree.set_attr(&MountSetattr::new().idmap(userns.as_fd()))
            .unwrap();
        tree.attach(&dst).unwrap();
        let id = unique_mount_id(&dst).unwrap();
        let mask = StatmountMask::MNT_UIDMAP | StatmountMask::MNT_GIDMAP | StatmountMask::MNT_BASIC;
        let stat = statmount_in(MountNs::Current, id, mask).unwrap();
        let expected = vec![IdMapping {
            inside: 0,
            outside: 100000,
            count: 1000,
        }];
        assert_eq!(stat.uid_map, Some(expected.clone()));
        assert_eq!(stat.gid_map, Some(expected));
        assert!(stat.basic.unwrap().attributes.contains(MountAttr::IDMAP));
        // mountinfo only says "idmapped".
        let text = mount_table(MountTableSource::Mountinfo).unwrap();
        let line = text.iter().find(|m| m.mount_point == dst).unwrap();
        assert!(line.attributes.contains(MountAttr::IDMAP));
        // The source mount is not idmapped: the kernel fills the field, empty.
        let plain = statmount_in(MountNs::Current, unique_mount_id(&src).unwrap(), mask).unwrap();
        assert_eq!(plain.uid_map.as_deref().unwrap_or_default(), &[]);
        // The mount fd pins the mount (EBUSY) until it is closed.
        drop(tree);
        rustix::mount::unmount(&dst, rustix::mount::UnmountFlags::empty()).unwrap();
    });
}

/// A grandchild in a mount namespace of its own (a copy of ours) with one extra
/// tmpfs at `point` whose source is `source`; while it waits, `f` gets its pid
/// and an fd of its mount namespace. Call from a single-threaded Fork child.
fn with_other_namespace<T>(point: &Path, source: &str, f: impl FnOnce(i32, OwnedFd) -> T) -> T {
    let mut ready = [0; 2];
    let mut hold = [0; 2];
    // SAFETY: arrays of two ints for pipe2 to fill.
    unsafe {
        assert_eq!(libc::pipe2(ready.as_mut_ptr(), libc::O_CLOEXEC), 0);
        assert_eq!(libc::pipe2(hold.as_mut_ptr(), libc::O_CLOEXEC), 0);
    }
    // SAFETY: the caller is single-threaded.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        // SAFETY: our own pipe fds; the child ends with _exit.
        unsafe {
            libc::close(ready[0]);
            libc::close(hold[1]);
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            let mut ok = 0u8;
            if libc::unshare(libc::CLONE_NEWNS) == 0 {
                let mounted = std::panic::catch_unwind(|| tmpfs_at(point, source, &[]));
                ok = mounted.is_ok() as u8;
            }
            libc::write(ready[1], (&ok as *const u8).cast(), 1);
            let mut byte = 0u8;
            libc::read(hold[0], (&mut byte as *mut u8).cast(), 1);
            libc::_exit(0);
        }
    }
    let mut ok = 0u8;
    // SAFETY: our ends of the pipes.
    unsafe {
        libc::close(ready[1]);
        libc::close(hold[0]);
        libc::read(ready[0], (&mut ok as *mut u8).cast(), 1);
        libc::close(ready[0]);
    }
    let result = (ok == 1).then(|| {
        let ns = std::fs::File::open(format!("/proc/{pid}/ns/mnt")).unwrap();
        f(pid, OwnedFd::from(ns))
    });
    // SAFETY: closing our write end releases the helper; then reap it.
    unsafe {
        libc::close(hold[1]);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
    result.expect("the helper could not build its mount namespace")
}

/// Compares two tables field by field, by mountinfo id, ignoring unique ids.
fn assert_same_tables(stat: &[MountInfo], text: &[MountInfo]) {
    assert_eq!(stat.len(), text.len());
    for line in text {
        let mut m = stat
            .iter()
            .find(|m| m.id == line.id)
            .unwrap_or_else(|| panic!("{line:?} missing"))
            .clone();
        m.unique_id = None;
        m.parent_unique_id = None;
        assert_eq!(&m, line);
    }
}

fn another_namespace_by_fd_and_by_id() {
    let dir = TempDir::new("otherns");
    let point = dir.subdir("theirs");
    with_other_namespace(&point, "other-ns", |pid, ns| {
        // Ours does not have their mount.
        let ours = mount_table(MountTableSource::Statmount).unwrap();
        assert!(!ours.iter().any(|m| m.mount_point == point));
        // By fd: what /proc/PID/mountinfo of a member shows.
        let text =
            parse_mountinfo(&std::fs::read(format!("/proc/{pid}/mountinfo")).unwrap()).unwrap();
        let theirs = mount_table_in(MountNs::Fd(ns.as_fd())).unwrap();
        assert_same_tables(&theirs, &text);
        let mine = theirs.iter().find(|m| m.mount_point == point).unwrap();
        assert_eq!(mine.source.as_deref(), Some("other-ns"));
        // By id: the same mounts, the same order.
        let id = mount_ns_id(&ns).unwrap();
        let own_id = mount_ns_id(std::fs::File::open("/proc/self/ns/mnt").unwrap()).unwrap();
        assert_ne!(id, own_id);
        let by_fd = mount_ids_in(MountNs::Fd(ns.as_fd()), ListmountFlags::empty()).unwrap();
        let by_id = mount_ids_in(MountNs::Id(id), ListmountFlags::empty()).unwrap();
        assert_eq!(by_fd, by_id);
        let mut reversed = mount_ids_in(MountNs::Id(id), ListmountFlags::REVERSE).unwrap();
        reversed.reverse();
        assert_eq!(reversed, by_id);
        // Paging in the other namespace, one id at a time.
        let mut paged = Vec::new();
        let mut one = [0u64; 1];
        loop {
            let last = paged.last().copied().unwrap_or(0);
            let n = linception_mountapi::listmount_in(
                MountNs::Fd(ns.as_fd()),
                linception_mountapi::LSMT_ROOT,
                last,
                &mut one,
                ListmountFlags::empty(),
            )
            .unwrap();
            if n == 0 {
                break;
            }
            paged.push(one[0]);
        }
        assert_eq!(paged, by_fd);
        // statmount there: the namespace id it reports is theirs.
        let unique = mine.unique_id.unwrap();
        let stat = statmount_in(MountNs::Fd(ns.as_fd()), unique, StatmountMask::MNT_NS_ID).unwrap();
        assert_eq!(stat.mnt_ns_id, Some(id));
        let stat = statmount_in(MountNs::Id(id), unique, StatmountMask::FS_TYPE).unwrap();
        assert_eq!(stat.fs_type.as_deref(), Some("tmpfs"));
        // Their mount is not in our namespace.
        let err = statmount_in(MountNs::Current, unique, StatmountMask::FS_TYPE).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err}");
        // An fd of another namespace type is refused, naming it.
        let user = std::fs::File::open("/proc/self/ns/user").unwrap();
        let err = mount_table_in(MountNs::Fd(user.as_fd())).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        assert!(err.to_string().contains("mount namespace fd"), "{err}");
        let err = mount_ns_id(&user).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        // Fd 0 means "no fd" to the kernel: a namespace fd that is fd 0 still
        // names that namespace.
        // SAFETY: fd 0 is replaced by a copy of `ns`; we restore nothing, the
        // Fork child ends soon after.
        let zero = unsafe {
            assert_eq!(libc::dup2(ns.as_raw_fd(), 0), 0);
            BorrowedFd::borrow_raw(0)
        };
        assert_eq!(
            mount_ids_in(MountNs::Fd(zero), ListmountFlags::empty()).unwrap(),
            by_fd
        );
        // SAFETY: fd 0 is ours (the dup2 above); closing it leaves nothing dangling.
        drop(unsafe { OwnedFd::from_raw_fd(0) });
    });
}

#[test]
fn another_namespace_as_root() {
    require!(
        Feature::Root,
        Feature::ListmountNsFd,
        Feature::ListmountNsId
    );
    Fork::new()
        .unshare(libc::CLONE_NEWNS)
        .run(another_namespace_by_fd_and_by_id);
}

#[test]
fn another_namespace_rootless() {
    require!(
        Feature::UnprivilegedUserNs,
        Feature::ListmountNsFd,
        Feature::ListmountNsId
    );
    Fork::new()
        .rootless()
        .unshare(libc::CLONE_NEWNS)
        .run(another_namespace_by_fd_and_by_id);
}

#[test]
fn by_id_a_namespace_the_caller_does_not_own_is_hidden_but_an_fd_is_authority() {
    require!(
        Feature::Root,
        Feature::UnprivilegedUserNs,
        Feature::ListmountNsId,
        Feature::ListmountNsFd
    );
    // Root's namespace (this Fork child's), seen from a rootless grandchild in a
    // namespace of its own: by id it is not found (ENOENT, as for a namespace that
    // does not exist); by an fd, which took ptrace access to open, it is listed.
    Fork::new().unshare(libc::CLONE_NEWNS).run(|| {
        let ns = std::fs::File::open("/proc/self/ns/mnt").unwrap();
        let id = mount_ns_id(&ns).unwrap();
        let ours = mount_ids(ListmountFlags::empty()).unwrap();
        let (by_id, by_fd): (Option<i32>, Vec<u64>) =
            Fork::new().rootless().unshare(libc::CLONE_NEWNS).run(|| {
                let by_id = mount_ids_in(MountNs::Id(id), ListmountFlags::empty())
                    .err()
                    .and_then(|e| e.raw_os_error());
                let by_fd = mount_ids_in(MountNs::Fd(ns.as_fd()), ListmountFlags::empty()).unwrap();
                (by_id, by_fd)
            });
        assert_eq!(by_id, Some(libc::ENOENT));
        assert_eq!(by_fd, ours);
    });
}

fn fallback_agrees_for_another_namespace() {
    let dir = TempDir::new("otherns-fallback");
    populate(&dir);
    let point: PathBuf = dir.subdir("theirs");
    with_other_namespace(&point, "x", |pid, ns| {
        let text =
            parse_mountinfo(&std::fs::read(format!("/proc/{pid}/mountinfo")).unwrap()).unwrap();
        assert_same_tables(&mount_table_in(MountNs::Fd(ns.as_fd())).unwrap(), &text);
    });
}

#[test]
fn the_fallback_agrees_for_another_namespace_as_root() {
    require!(Feature::Root, Feature::ListmountNsFd);
    Fork::new()
        .unshare(libc::CLONE_NEWNS)
        .run(fallback_agrees_for_another_namespace);
}

#[test]
fn the_fallback_agrees_for_another_namespace_rootless() {
    require!(Feature::UnprivilegedUserNs, Feature::ListmountNsFd);
    Fork::new()
        .rootless()
        .unshare(libc::CLONE_NEWNS)
        .run(fallback_agrees_for_another_namespace);
}
