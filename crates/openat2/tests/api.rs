//! Root's operations, Handle::reopen, the openat2 wrapper's errors, the automatic
//! fallback, RESOLVE_CACHED, and bad input (clear errors, no fd left open).

mod common;

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;

use common::*;
use linception_openat2::{
    Error, ErrorKind, Mode, OFlags, OpenHow, RenameFlags, ResolveFlags, Resolver, Root, openat2,
};
use linception_testkit::{Feature, Fork, require};

fn mode(m: u32) -> Mode {
    Mode::from_raw_mode(m).unwrap()
}

fn read_all(mut f: std::fs::File) -> String {
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    s
}

/// Every mutating operation, through both resolvers, stays inside the root even
/// when the path goes through absolute symlinks and `..`; the host is untouched.
fn exercise_ops(f: &Fixture, resolver: Resolver) {
    let root = f.open_root(resolver, ResolveFlags::IN_ROOT);
    let tag = format!("{resolver:?}").to_lowercase();
    // mkdir_all through an absolute symlink and `..` at the root.
    let made = root
        .mkdir_all(format!("../../abs/{tag}/x/../y"), mode(0o755))
        .unwrap();
    assert_eq!(
        fd_ident(&made),
        ident(&f.host(&format!("dir/sub/{tag}/y")), true)
    );
    assert!(f.host(&format!("dir/sub/{tag}/x")).is_dir());
    // Idempotent: everything exists now.
    let again = root
        .mkdir_all(format!("/dir/sub/{tag}/y"), mode(0o755))
        .unwrap();
    assert_eq!(fd_ident(&again), fd_ident(&made));
    // An existing file in the way is ENOTDIR, not silently accepted.
    let e = root.mkdir_all("file/sub", mode(0o755)).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOTDIR), "{e}");
    // A symlink to the host's absolute path: created under the root instead.
    let host_target = f.base.join(format!("created-{tag}"));
    root.symlink(&host_target, format!("hostlink-{tag}"))
        .unwrap();
    root.mkdir_all(format!("hostlink-{tag}/z"), mode(0o700))
        .unwrap();
    assert!(!host_target.exists(), "mkdir_all wrote outside the root");
    assert!(
        f.root
            .join(host_target.strip_prefix("/").unwrap())
            .join("z")
            .is_dir()
    );

    // create + write + open + read through symlinks.
    let name = format!("abs/{tag}/y/new");
    let mut file = root
        .create(&name, OFlags::WRONLY | OFlags::EXCL, mode(0o640))
        .unwrap();
    file.write_all(b"hello").unwrap();
    drop(file);
    assert_eq!(
        std::fs::read_to_string(f.host(&format!("dir/sub/{tag}/y/new"))).unwrap(),
        "hello"
    );
    assert_eq!(
        read_all(
            root.open(format!("/up/dir/sub/{tag}/y/new"), OFlags::RDONLY)
                .unwrap()
        ),
        "hello"
    );
    let e = root
        .create(&name, OFlags::WRONLY | OFlags::EXCL, mode(0o640))
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EEXIST), "{e}");
    // A dangling symlink is followed inside the root by create (no O_EXCL).
    root.symlink(format!("/dir/dangle-{tag}"), format!("dl-{tag}"))
        .unwrap();
    drop(
        root.create(format!("dl-{tag}"), OFlags::WRONLY, mode(0o600))
            .unwrap(),
    );
    assert!(f.host(&format!("dir/dangle-{tag}")).is_file());
    // O_CREAT with a trailing slash: EISDIR, existing or not.
    for p in ["dir/", "newname/", "abs//"] {
        let e = root.create(p, OFlags::WRONLY, mode(0o600)).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EISDIR), "{p}: {e}");
    }
    let e = root
        .create("nonexistent/newname/", OFlags::WRONLY, mode(0o600))
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e}");
    // O_NOFOLLOW on a symlink: ELOOP (SymlinkRefused).
    let e = root
        .open(format!("dl-{tag}"), OFlags::RDONLY | OFlags::NOFOLLOW)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SymlinkRefused, "{e}");

    // metadata vs symlink_metadata, readlink.
    let st = root.metadata(format!("dl-{tag}")).unwrap();
    assert_eq!(st.st_mode & libc::S_IFMT, libc::S_IFREG);
    let lst = root.symlink_metadata(format!("dl-{tag}")).unwrap();
    assert_eq!(lst.st_mode & libc::S_IFMT, libc::S_IFLNK);
    assert_eq!(
        root.readlink(format!("dl-{tag}"))
            .unwrap()
            .to_str()
            .unwrap(),
        format!("/dir/dangle-{tag}")
    );
    assert_eq!(
        root.readlink("dir/sub/rootlink").unwrap().to_str().unwrap(),
        "/"
    );
    let e = root.readlink("file").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");

    // hardlink, rename (plain, NOREPLACE, EXCHANGE), remove.
    root.hardlink(&name, format!("/hard-{tag}")).unwrap();
    assert_eq!(
        ident(&f.host(&format!("hard-{tag}")), true),
        ident(&f.host(&format!("dir/sub/{tag}/y/new")), true)
    );
    root.rename(
        format!("hard-{tag}"),
        format!("abs/{tag}/renamed"),
        RenameFlags::empty(),
    )
    .unwrap();
    assert!(f.host(&format!("dir/sub/{tag}/renamed")).is_file());
    let e = root
        .rename(format!("abs/{tag}/renamed"), &name, RenameFlags::NOREPLACE)
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EEXIST), "{e}");
    assert!(e.to_string().starts_with("renameat2(fd "), "{e}");
    root.rename(
        format!("dl-{tag}"),
        format!("hostlink-{tag}"),
        RenameFlags::EXCHANGE,
    )
    .unwrap();
    assert_eq!(
        root.readlink(format!("hostlink-{tag}"))
            .unwrap()
            .to_str()
            .unwrap(),
        format!("/dir/dangle-{tag}")
    );
    // A symlink to a directory is removed as a file, never followed.
    root.remove_file(format!("hostlink-{tag}")).unwrap();
    assert!(f.host(&format!("dir/dangle-{tag}")).is_file());
    let e = root.remove_dir(format!("abs/{tag}")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOTEMPTY), "{e}");
    root.remove(format!("abs/{tag}/renamed")).unwrap();
    root.remove(format!("abs/{tag}/y/new")).unwrap();
    root.remove(format!("abs/{tag}/y")).unwrap();
    root.remove_dir(format!("/../abs/{tag}/x/")).unwrap();
    root.remove(format!("abs/{tag}")).unwrap();
    assert!(!f.host(&format!("dir/sub/{tag}")).exists());
    let e = root.remove_file("dir").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EISDIR), "{e}");

    // open_dir, and strict mode refusing the same escapes.
    let d = root.open_dir("abs").unwrap();
    assert_eq!(fd_ident(&d), ident(&f.host("dir/sub"), true));
    let strict = root.try_clone().unwrap().strict();
    assert_eq!(strict.resolve_flags(), ResolveFlags::BENEATH);
    for p in ["../file", "/file", "abs", "up/file"] {
        let e = strict.open(p, OFlags::RDONLY).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Escape, "{p}: {e}");
    }
    let e = strict.mkdir_all("../../x", mode(0o755)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Escape, "{e}");
    let e = strict.symlink("t", "/abs/new").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Escape, "{e}");
}

#[test]
fn operations_as_root() {
    let _serial = serial();
    require!(Feature::Openat2);
    for resolver in RESOLVERS {
        let f = Fixture::tree("ops");
        exercise_ops(&f, resolver);
    }
}

/// Rootless: uid 65534 in its own user namespace, over a tree it owns there.
#[test]
fn operations_rootless() {
    let _serial = serial();
    require!(Feature::Openat2, Feature::UnprivilegedUserNs);
    let f = Fixture::tree("ops-rootless");
    // Hand the tree to uid 65534 (or, when the suite runs unprivileged, keep it the
    // caller's), who becomes root of its user namespace.
    let (uid, gid) = linception_testkit::unprivileged_ids();
    for entry in walk(&f.base) {
        rustix::fs::chownat(
            rustix::fs::CWD,
            &entry,
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .unwrap();
    }
    Fork::new().rootless().run(|| {
        for resolver in RESOLVERS {
            exercise_ops(&f, resolver);
        }
    });
}

/// Unprivileged without a user namespace: a directory it may not search is EACCES
/// through both resolvers alike.
#[test]
fn unprivileged_permission_errors_agree() {
    let _serial = serial();
    linception_testkit::require_root!("a directory the unprivileged child does not own");
    require!(Feature::Openat2);
    let f = Fixture::tree("perm");
    std::fs::create_dir(f.root.join("locked")).unwrap();
    std::fs::write(f.root.join("locked/inner"), "x").unwrap();
    std::fs::set_permissions(
        f.root.join("locked"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    Fork::new().unprivileged().run(|| {
        for resolver in RESOLVERS {
            let root = f.open_root(resolver, ResolveFlags::IN_ROOT);
            let e = root.open("locked/inner", OFlags::RDONLY).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EACCES), "{resolver:?}: {e}");
            let e = root
                .create("dir/newfile", OFlags::WRONLY, mode(0o600))
                .unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EACCES), "{resolver:?}: {e}");
            assert_eq!(
                read_all(root.open("abs/../../chain1", OFlags::RDONLY).unwrap()),
                "inside"
            );
        }
    });
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![dir.to_owned()];
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

/// Handle::reopen goes through the fd: after the path is renamed away and replaced,
/// the handle still reopens the original file.
#[test]
fn handle_reopen_by_fd() {
    let _serial = serial();
    require!(Feature::Openat2);
    let f = Fixture::tree("reopen");
    for resolver in RESOLVERS {
        let root = f.open_root(resolver, ResolveFlags::IN_ROOT);
        let h = root.resolve("chain1").unwrap();
        assert_eq!(
            format!("{h:?}"),
            format!(
                "Handle {{ fd: {} }}",
                std::os::fd::AsRawFd::as_raw_fd(&h.as_fd())
            )
        );
        std::fs::rename(f.host("file"), f.host("file.moved")).unwrap();
        std::fs::write(f.host("file"), "replacement").unwrap();
        assert_eq!(
            read_all(h.reopen(OFlags::RDONLY | OFlags::NOFOLLOW).unwrap()),
            "inside"
        );
        let mut w = h.reopen(OFlags::WRONLY | OFlags::APPEND).unwrap();
        w.write_all(b"!").unwrap();
        std::fs::remove_file(f.host("file")).unwrap();
        std::fs::rename(f.host("file.moved"), f.host("file")).unwrap();
        assert_eq!(std::fs::read_to_string(f.host("file")).unwrap(), "inside!");
        std::fs::write(f.host("file"), "inside").unwrap();
        // A directory handle reopens as a directory; a symlink handle cannot be opened.
        let d = root
            .resolve("abs")
            .unwrap()
            .reopen(OFlags::RDONLY | OFlags::DIRECTORY)
            .unwrap();
        assert_eq!(fd_ident(&d), ident(&f.host("dir/sub"), true));
        let e = root
            .resolve_nofollow("abs")
            .unwrap()
            .reopen(OFlags::RDONLY)
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP), "{e}");
        let e = h.reopen(OFlags::RDWR | OFlags::CREATE).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.to_string().contains("O_CREAT"), "{e}");
        let clone = h.try_clone().unwrap();
        assert_eq!(fd_ident(&clone), fd_ident(&h));
        let raw = std::os::fd::AsRawFd::as_raw_fd(&root.as_fd());
        assert_eq!(
            format!("{root:?}"),
            format!("Root {{ fd: {raw}, resolve: IN_ROOT, resolver: {resolver:?} }}")
        );
        assert_eq!(root.resolver(), resolver);
    }
}

/// With openat2 pretended missing (ENOSYS), Auto uses the userspace resolver and
/// gets the same answers; Kernel reports Unsupported.
#[test]
fn enosys_falls_back_automatically() {
    let _serial = serial();
    require!(Feature::Openat2);
    let f = Fixture::tree("enosys");
    Fork::new().run(|| {
        let kernel = f.open_root(Resolver::Kernel, ResolveFlags::IN_ROOT);
        let auto = f.open_root(Resolver::Auto, ResolveFlags::IN_ROOT);
        let before = outcome(auto.open_with("up/abs/back", &OpenHow::new(OFlags::PATH)));
        assert_eq!(before, Ok(ident(&f.host("file"), true)));
        linception_openat2::__pretend_openat2_enosys(true);
        let e = kernel.open("file", OFlags::RDONLY).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Unsupported {
                    feature: "openat2",
                    min_kernel: "5.6"
                }
            ),
            "{e}"
        );
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert_eq!(
            std::io::Error::from(e).kind(),
            std::io::ErrorKind::Unsupported
        );
        let e = openat2(&kernel, "file", &OpenHow::new(OFlags::RDONLY)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        // Auto still works, through the userspace resolver, with the same answers.
        assert_eq!(
            outcome(auto.open_with("up/abs/back", &OpenHow::new(OFlags::PATH))),
            before
        );
        assert_eq!(
            outcome(auto.open_with("loop1", &OpenHow::new(OFlags::PATH))),
            Err(libc::ELOOP)
        );
        assert_eq!(
            read_all(
                auto.open("dir/sub/rootlink/chain1", OFlags::RDONLY)
                    .unwrap()
            ),
            "inside"
        );
        linception_openat2::__pretend_openat2_enosys(false);
        assert!(kernel.open("file", OFlags::RDONLY).is_ok());
    });
}

/// The thin wrapper's distinct errors from the real kernel.
#[test]
fn openat2_wrapper_errors() {
    let _serial = serial();
    require!(Feature::Openat2);
    let f = Fixture::tree("wrapper");
    let dir = std::fs::File::open(&f.root).unwrap();
    let how = |r: ResolveFlags| OpenHow::new(OFlags::RDONLY).resolve(r);
    let e = openat2(&dir, "up/file", &how(ResolveFlags::BENEATH)).unwrap_err();
    assert!(matches!(e, Error::Escape { .. }), "{e}");
    assert!(e.to_string().starts_with("openat2(fd "), "{e}");
    assert!(e.to_string().contains("\"up/file\""), "{e}");
    assert!(e.to_string().contains("resolve: BENEATH"), "{e}");
    assert!(e.to_string().ends_with("(EXDEV)"), "{e}");
    let e = openat2(&dir, "chain1", &how(ResolveFlags::NO_SYMLINKS)).unwrap_err();
    assert!(matches!(e, Error::SymlinkRefused { .. }), "{e}");
    let e = openat2(&dir, "loop1", &how(ResolveFlags::empty())).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SymlinkRefused);
    let e = openat2(&dir, "nonexistent", &how(ResolveFlags::IN_ROOT)).unwrap_err();
    assert!(matches!(e, Error::Syscall { .. }), "{e}");
    assert!(
        e.to_string()
            .ends_with("No such file or directory (ENOENT)"),
        "{e}"
    );
    // Unknown resolve bits and a mode without O_CREAT: the kernel's EINVAL, with the input shown.
    let e = openat2(&dir, "file", &how(ResolveFlags::from_bits_retain(1 << 40))).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    assert!(e.to_string().contains("0x10000000000"), "{e}");
    let e = openat2(
        &dir,
        "file",
        &OpenHow::new(OFlags::RDONLY).mode(mode(0o644)),
    )
    .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    assert!(e.to_string().contains("mode: 0o644"), "{e}");
    // RESOLVE_CACHED with O_CREAT always misses.
    let e = openat2(
        &dir,
        "newfile",
        &OpenHow::new(OFlags::WRONLY | OFlags::CREATE)
            .mode(mode(0o600))
            .resolve(ResolveFlags::CACHED),
    )
    .unwrap_err();
    assert!(matches!(e, Error::CacheMiss { .. }), "{e}");
    assert_eq!(std::io::Error::from(e).raw_os_error(), Some(libc::EAGAIN));
    // ...and Root falls back to a full lookup by itself.
    let root = f.open_root(Resolver::Kernel, ResolveFlags::CACHED);
    drop(root.create("newfile", OFlags::WRONLY, mode(0o600)).unwrap());
    assert!(f.host("newfile").is_file());
    // O_CLOEXEC is always set.
    let fd = openat2(&dir, "file", &how(ResolveFlags::IN_ROOT)).unwrap();
    let fl = rustix::io::fcntl_getfd(&fd).unwrap();
    assert!(fl.contains(rustix::io::FdFlags::CLOEXEC));
}

/// Bad input: a clear error naming it, through both resolvers, and no fd left open.
#[test]
fn bad_input_clear_errors_no_leaks() {
    let _serial = serial();
    require!(Feature::Openat2);
    let f = Fixture::tree("bad");
    Fork::new().run(|| {
        no_leaks(|| {
            let e = Root::new("").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            assert_eq!(e.to_string(), "invalid root path \"\": is empty");
            let e = Root::new(f.host("file")).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::ENOTDIR));
            assert!(
                e.to_string().contains(&format!("{:?}", f.host("file"))),
                "{e}"
            );
            let file = std::fs::File::open(f.host("file")).unwrap();
            let e = Root::from_fd(file).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            assert!(e.to_string().contains("is not a directory"), "{e}");
            let e = Root::new(&f.root)
                .unwrap()
                .with_resolve_flags(ResolveFlags::from_bits_retain(0x1000))
                .unwrap_err();
            assert!(
                e.to_string().contains("invalid resolve flags 0x1000"),
                "{e}"
            );
            let e = Root::new(&f.root)
                .unwrap()
                .with_resolve_flags(ResolveFlags::IN_ROOT | ResolveFlags::BENEATH)
                .unwrap_err();
            assert!(e.to_string().contains("both BENEATH and IN_ROOT"), "{e}");

            for resolver in RESOLVERS {
                let root = f.open_root(resolver, ResolveFlags::IN_ROOT);
                let cases: Vec<(Result<std::fs::File, Error>, &str, i32)> = vec![
                    (
                        root.open("a\0b", OFlags::RDONLY),
                        "invalid path \"a\\0b\": contains a NUL byte",
                        libc::EINVAL,
                    ),
                    (
                        root.open("", OFlags::RDONLY),
                        "invalid path \"\": is empty",
                        libc::ENOENT,
                    ),
                    (
                        root.open("a/".repeat(2100), OFlags::RDONLY),
                        "is longer than PATH_MAX",
                        libc::ENAMETOOLONG,
                    ),
                    (
                        root.open(format!("dir/{}", "n".repeat(256)), OFlags::RDONLY),
                        "longer than NAME_MAX",
                        libc::ENAMETOOLONG,
                    ),
                    (
                        root.open("file", OFlags::from_bits_retain(0x4000_0000)),
                        "invalid open flags O_RDONLY|0x40000000",
                        libc::EINVAL,
                    ),
                    (
                        root.create("x", OFlags::WRONLY, Mode::from_bits_retain(0o10777)),
                        "invalid mode 0o10777",
                        libc::EINVAL,
                    ),
                ];
                for (res, needle, errno) in cases {
                    let e = res.unwrap_err();
                    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
                    assert_eq!(e.raw_os_error(), Some(errno), "{e}");
                    assert!(
                        e.to_string().contains(needle),
                        "{resolver:?}: {e:?} lacks {needle:?}"
                    );
                }
                // Exactly NAME_MAX and just under PATH_MAX are fine (ENOENT: they do not exist).
                let e = root
                    .open(format!("dir/{}", "n".repeat(255)), OFlags::RDONLY)
                    .unwrap_err();
                assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e}");
                let e = root.open("d/".repeat(2047), OFlags::RDONLY).unwrap_err();
                assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e}");
                let e = root
                    .open_with("file", &OpenHow::new(OFlags::RDONLY).mode(mode(0o600)))
                    .unwrap_err();
                assert!(e.to_string().contains("is only valid with O_CREAT"), "{e}");
                let e = root
                    .open_with(
                        "file",
                        &OpenHow::new(OFlags::RDONLY)
                            .resolve(ResolveFlags::from_bits_retain(0x400)),
                    )
                    .unwrap_err();
                assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
                for extra in [
                    ResolveFlags::BENEATH,
                    ResolveFlags::BENEATH | ResolveFlags::NO_XDEV,
                ] {
                    let e = root
                        .open_with("file", &OpenHow::new(OFlags::RDONLY).resolve(extra))
                        .unwrap_err();
                    assert!(
                        e.to_string()
                            .contains("conflicts with the root's BENEATH/IN_ROOT scope"),
                        "{e}"
                    );
                }
                let strict = root.try_clone().unwrap().strict();
                let e = strict
                    .open_with(
                        "file",
                        &OpenHow::new(OFlags::RDONLY).resolve(ResolveFlags::IN_ROOT),
                    )
                    .unwrap_err();
                assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
                // A policy flag added per call applies: NO_SYMLINKS refuses the chain.
                let e = root
                    .open_with(
                        "chain1",
                        &OpenHow::new(OFlags::RDONLY).resolve(ResolveFlags::NO_SYMLINKS),
                    )
                    .unwrap_err();
                assert_eq!(e.kind(), ErrorKind::SymlinkRefused, "{e}");
                let e = root.symlink("", "newlink").unwrap_err();
                assert!(e.to_string().contains("invalid symlink target \"\""), "{e}");
                let e = root.symlink("x\0y", "newlink").unwrap_err();
                assert!(e.to_string().contains("NUL"), "{e}");
                for p in ["..", "/", "dir/.", "dir/sub/.."] {
                    let e = root.remove(p).unwrap_err();
                    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{p}: {e}");
                    assert!(e.to_string().contains(&format!("{p:?}")), "{e}");
                }
                // Lookup failures of every kind leave no fd behind either.
                for p in [
                    "loop1",
                    "link_over",
                    "dir/sub/back/x",
                    "escape",
                    "nonexistent/x",
                ] {
                    assert!(root.open(p, OFlags::RDONLY).is_err(), "{p}");
                }
                for p in [
                    "loop1",
                    "link_over",
                    "dir/sub/back/x",
                    "tofile_slash",
                    "file/x",
                ] {
                    assert!(root.mkdir_all(p, mode(0o755)).is_err(), "{p}");
                }
                let e = openat2(&root, "a\0b", &OpenHow::new(OFlags::RDONLY)).unwrap_err();
                assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
            }
            // A non-directory root fd taken unchecked: ENOTDIR through both resolvers.
            for resolver in RESOLVERS {
                let file = std::fs::File::open(f.host("file")).unwrap();
                let root = Root::from(std::os::fd::OwnedFd::from(file)).with_resolver(resolver);
                let e = root.open("x", OFlags::RDONLY).unwrap_err();
                assert_eq!(e.raw_os_error(), Some(libc::ENOTDIR), "{resolver:?}: {e}");
            }
        })
    });
}

/// Random `mkdir_all` paths through `..`, `.` and symlinks build the same tree and
/// give the same errors through the kernel and through the userspace resolver, and
/// never create anything outside the root.
#[test]
fn proptest_mkdir_all_kernel_and_fallback_agree() {
    let _serial = serial();
    require!(Feature::Openat2);
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let parts = prop::sample::select(vec![
        "..", ".", "abs", "rel", "up", "x", "y", "dangling", "file", "dir", "escape", "rootlink",
        "loop1",
    ]);
    let strategy = (
        any::<bool>(),
        prop::collection::vec(parts, 1..6),
        any::<bool>(),
    );
    let mut runner = TestRunner::new(Config {
        cases: 48,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |(absolute, comps, strict)| {
            let path = format!("{}{}", if absolute { "/" } else { "" }, comps.join("/"));
            let mut results = Vec::new();
            for resolver in RESOLVERS {
                let f = Fixture::tree("prop-mkdir");
                let flags = if strict {
                    ResolveFlags::BENEATH
                } else {
                    ResolveFlags::IN_ROOT
                };
                let root = f.open_root(resolver, flags);
                let res = root.mkdir_all(&path, mode(0o755)).map(|h| {
                    let st = h.metadata().unwrap();
                    assert_eq!(st.st_mode & libc::S_IFMT, libc::S_IFDIR);
                    ident_rel(&f, fd_ident(&h))
                });
                let res = res.map_err(|e| e.raw_os_error());
                let outside: Vec<_> = std::fs::read_dir(&f.base)
                    .unwrap()
                    .map(|e| e.unwrap().file_name())
                    .collect();
                prop_assert_eq!(
                    outside.len(),
                    2,
                    "{:?} created outside the root: {:?}",
                    path,
                    outside
                );
                results.push((res, tree(&f.root)));
            }
            prop_assert_eq!(&results[0], &results[1], "{:?} strict={}", path, strict);
            Ok(())
        })
        .unwrap();
}

/// The path below the root of the directory with this identity.
fn ident_rel(f: &Fixture, id: (u64, u64)) -> String {
    for p in walk(&f.root) {
        let m = std::fs::symlink_metadata(&p).unwrap();
        if m.is_dir() && ident(&p, false) == id {
            return p
                .strip_prefix(&f.root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
        }
    }
    panic!("{id:?} is not a directory inside the root");
}

/// Every directory below the root, relative.
fn tree(root: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = walk(root)
        .into_iter()
        .filter(|p| std::fs::symlink_metadata(p).unwrap().is_dir())
        .map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
