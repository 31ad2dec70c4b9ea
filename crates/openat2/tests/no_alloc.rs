//! `openat2_cstr`, the form a container child calls between clone and exec,
//! allocates nothing on success and on failure (ENOENT, EXDEV under
//! RESOLVE_NO_XDEV, ELOOP under RESOLVE_NO_SYMLINKS, E2BIG naming the field,
//! EINVAL naming the refused field, ENOSYS): counted with a global allocator, in a forked single-threaded child.

mod common;

use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

use common::*;
use linception_openat2::{
    __pretend_openat2_enosys, Error, ErrorKind, OFlags, OpenHow, ResolveFlags, openat2_cstr,
};
use linception_testkit::alloc::{CountingAllocator, allocations_in};
use linception_testkit::{Feature, Fork, require};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// In the child: mounts a tmpfs on the fixture's `mnt` (so that NO_XDEV has a
/// mount to refuse), then checks every path of `openat2_cstr`.
fn check_openat2_cstr(f: &Fixture) {
    use rustix::mount::{MountFlags, mount};
    let mnt = CString::new(f.host("mnt").as_os_str().as_bytes()).unwrap();
    mount(
        c"tmpfs",
        mnt.as_c_str(),
        c"tmpfs",
        MountFlags::empty(),
        None,
    )
    .unwrap();
    let root = rustix::fs::open(
        f.root.as_path(),
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .unwrap();

    // Prepared before "clone": every path and open_how.
    let in_root = OpenHow::new(OFlags::RDONLY).resolve(ResolveFlags::IN_ROOT);
    let no_xdev = in_root.resolve(ResolveFlags::IN_ROOT | ResolveFlags::NO_XDEV);
    let no_symlinks = in_root.resolve(ResolveFlags::IN_ROOT | ResolveFlags::NO_SYMLINKS);
    // A larger struct with a zero tail goes through the sized call.
    let sized = in_root.field(24, 0).unwrap();
    // A non-zero field no kernel up to 6.18 knows.
    let too_big = in_root.field(48, 1).unwrap();
    // A mode without O_CREAT: the kernel refuses it (EINVAL).
    let bad_mode = in_root.raw_mode(0o644);

    // A `..` step of a scoped lookup is refused with EAGAIN whenever a mount or
    // rename anywhere on the system raced with it (this binary's other test mounts
    // in its own namespace meanwhile): such an attempt, whose error allocates its
    // message, is made again; the count is that of an attempt nothing raced.
    let raced = |r: &[Result<OwnedFd, Error>]| {
        r.iter()
            .any(|x| matches!(x, Err(e) if e.kind() == ErrorKind::Raced))
    };
    let (opened, n) = (0..64)
        .map(|_| {
            allocations_in(|| {
                [
                    openat2_cstr(&root, c"file", &in_root),
                    openat2_cstr(&root, c"up/abs/back", &in_root),
                    openat2_cstr(&root, c"dir/sub/deep", &no_xdev),
                    openat2_cstr(&root, c"dir/file2", &no_symlinks),
                    openat2_cstr(&root, c"rel/deep", &sized),
                ]
            })
        })
        .find(|(r, _)| !raced(r))
        .expect("64 attempts in a row raced with a mount or rename");
    assert_eq!(n, 0, "the success path allocated");
    let want = ["file", "file", "dir/sub/deep", "dir/file2", "dir/sub/deep"];
    for (res, path) in opened.into_iter().zip(want) {
        let fd: OwnedFd = res.unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(fd_ident(&fd), ident(&f.host(path), true), "{path}");
    }

    let (failed, n) = allocations_in(|| {
        [
            openat2_cstr(&root, c"missing", &in_root).unwrap_err(),
            openat2_cstr(&root, c"missing", &sized).unwrap_err(),
            openat2_cstr(&root, c"mnt", &no_xdev).unwrap_err(),
            openat2_cstr(&root, c"abs/deep", &no_symlinks).unwrap_err(),
            openat2_cstr(&root, c"file", &too_big).unwrap_err(),
            openat2_cstr(&root, c"file", &bad_mode).unwrap_err(),
        ]
    });
    assert_eq!(n, 0, "the failure path allocated");
    let [enoent, enoent_sized, exdev, eloop, e2big, einval] = &failed;
    for e in [enoent, enoent_sized] {
        assert!(matches!(e, Error::Syscall { .. }), "{e}");
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e}");
        let text = e.to_string();
        assert!(text.starts_with("openat2(fd "), "{text}");
        assert!(text.contains(", \"missing\", { flags: O_RDONLY|"), "{text}");
        assert!(
            text.ends_with("): No such file or directory (ENOENT)"),
            "{text}"
        );
    }
    assert!(
        enoent_sized.to_string().contains("size: 32"),
        "{enoent_sized}"
    );
    assert_eq!(exdev.kind(), ErrorKind::Escape, "{exdev}");
    assert_eq!(exdev.raw_os_error(), Some(libc::EXDEV));
    assert!(exdev.to_string().contains("\"mnt\""), "{exdev}");
    assert!(
        exdev.to_string().contains("resolve: NO_XDEV|IN_ROOT"),
        "{exdev}"
    );
    assert!(
        exdev
            .to_string()
            .ends_with("Invalid cross-device link (EXDEV)"),
        "{exdev}"
    );
    assert_eq!(eloop.kind(), ErrorKind::SymlinkRefused, "{eloop}");
    assert_eq!(eloop.raw_os_error(), Some(libc::ELOOP));
    assert!(eloop.to_string().contains("\"abs/deep\""), "{eloop}");
    assert!(
        eloop
            .to_string()
            .ends_with("Too many levels of symbolic links (ELOOP)"),
        "{eloop}"
    );
    let Error::OpenHowTooBig { offset, call } = e2big else {
        panic!("not OpenHowTooBig: {e2big}");
    };
    assert_eq!(*offset, 48, "{e2big}");
    assert_eq!(call.op(), "openat2");
    assert_eq!(e2big.raw_os_error(), Some(libc::E2BIG));
    assert!(e2big.to_string().ends_with("(E2BIG)"), "{e2big}");
    let Error::OpenHowInvalid {
        field: "mode",
        value: 0o644,
        ..
    } = einval
    else {
        panic!("not OpenHowInvalid for the mode: {einval}");
    };
    assert!(
        einval.to_string().ends_with(
            "mode 0o644 is only valid with O_CREAT or O_TMPFILE: Invalid argument (EINVAL)"
        ),
        "{einval}"
    );

    // A kernel without openat2 (pretended): Unsupported, also without allocating.
    __pretend_openat2_enosys(true);
    let (missing, n) = allocations_in(|| openat2_cstr(&root, c"file", &in_root).unwrap_err());
    __pretend_openat2_enosys(false);
    assert_eq!(n, 0, "the ENOSYS path allocated");
    assert!(
        matches!(
            missing,
            Error::Unsupported {
                feature: "openat2",
                min_kernel: "5.6"
            }
        ),
        "{missing}"
    );
    rustix::mount::unmount(mnt.as_c_str(), rustix::mount::UnmountFlags::empty()).unwrap();
}

/// As root, in a private mount namespace.
#[test]
fn openat2_cstr_does_not_allocate_as_root() {
    require!(Feature::Root, Feature::Openat2, Feature::Openat2ExtendedHow);
    let f = Fixture::tree("noalloc");
    Fork::new()
        .unshare(libc::CLONE_NEWNS)
        .run(|| check_openat2_cstr(&f));
}

/// Rootless: root of its own user namespace, uid 65534 outside.
#[test]
fn openat2_cstr_does_not_allocate_rootless() {
    require!(
        Feature::Openat2,
        Feature::Openat2ExtendedHow,
        Feature::UnprivilegedUserNs
    );
    let f = Fixture::tree("noalloc-rootless");
    Fork::new()
        .rootless()
        .unshare(libc::CLONE_NEWNS)
        .run(|| check_openat2_cstr(&f));
}
