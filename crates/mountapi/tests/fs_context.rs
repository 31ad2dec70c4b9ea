//! FsContext: fsopen/fspick/fsconfig/fsmount against the real kernel, each test in
//! a forked child with a private mount namespace.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{TempDir, cstr, mount_points, owner};
use linception_mountapi::{
    ErrorKind, FsContext, LogLevel, MountAttr, MountTableSource, mount_table,
};
use linception_testkit::leaks::assert_no_leaks;
use linception_testkit::{Feature, Fork, require};

fn in_mount_ns<T: linception_testkit::Wire>(f: impl FnOnce() -> T) -> T {
    Fork::new().unshare(libc::CLONE_NEWNS).run(f)
}

#[test]
fn tmpfs_with_size_mode_and_uid() {
    require!(Feature::Root, Feature::MountApi);
    in_mount_ns(|| {
        let dir = TempDir::new("tmpfs");
        let fs = FsContext::open(c"tmpfs").unwrap();
        fs.set_string(c"size", c"1m").unwrap();
        fs.set_string(c"mode", c"0750").unwrap();
        fs.set_string(c"uid", c"1234").unwrap();
        fs.set_string(c"gid", c"4321").unwrap();
        fs.create().unwrap();
        let mount = fs.mount(MountAttr::NOSUID | MountAttr::NODEV).unwrap();
        mount.attach(cstr(dir.path()).as_c_str()).unwrap();
        // An fd on an attached mount keeps it busy; dropping it leaves it mounted.
        drop(mount);

        let meta = std::fs::metadata(dir.path()).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o750);
        assert_eq!(owner(dir.path()), (1234, 4321));
        let vfs = rustix::fs::statvfs(dir.path()).unwrap();
        assert_eq!(vfs.f_blocks * vfs.f_frsize, 1 << 20);

        let table = mount_table(MountTableSource::Mountinfo).unwrap();
        let info = table.iter().find(|m| m.mount_point == dir.path()).unwrap();
        assert_eq!(info.fs_type, "tmpfs");
        let options = info.options.as_deref().unwrap();
        for expected in ["size=1024k", "mode=750", "uid=1234", "gid=4321"] {
            assert!(
                options.split(',').any(|o| o == expected),
                "{expected} not in {options}"
            );
        }
        assert!(
            info.attributes
                .contains(MountAttr::NOSUID | MountAttr::NODEV)
        );
        rustix::mount::unmount(dir.path(), rustix::mount::UnmountFlags::empty()).unwrap();
    });
}

#[test]
fn set_flag_makes_the_superblock_read_only() {
    require!(Feature::Root, Feature::MountApi);
    in_mount_ns(|| {
        let dir = TempDir::new("roflag");
        let fs = FsContext::open("tmpfs").unwrap();
        fs.set_flag("ro").unwrap();
        fs.create().unwrap();
        fs.mount(MountAttr::empty())
            .unwrap()
            .attach(dir.path())
            .unwrap();
        let err = std::fs::write(dir.path().join("f"), "x").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EROFS));
        rustix::mount::unmount(dir.path(), rustix::mount::UnmountFlags::empty()).unwrap();
    });
}

#[test]
fn proc_with_subset_pid_and_hidepid() {
    require!(Feature::Root, Feature::MountApi);
    in_mount_ns(|| {
        let dir = TempDir::new("proc");
        let fs = FsContext::open(c"proc").unwrap();
        fs.set_string(c"subset", c"pid").unwrap();
        fs.set_string(c"hidepid", c"invisible").unwrap();
        fs.create().unwrap();
        fs.mount(MountAttr::NOSUID | MountAttr::NOEXEC)
            .unwrap()
            .attach(dir.path())
            .unwrap();

        // subset=pid: only the per-process entries.
        assert!(dir.path().join("self").exists());
        assert!(dir.path().join("1").exists());
        assert!(!dir.path().join("meminfo").exists());
        assert!(!dir.path().join("sys").exists());
        let table = mount_table(MountTableSource::Mountinfo).unwrap();
        let info = table.iter().find(|m| m.mount_point == dir.path()).unwrap();
        let options = info.options.as_deref().unwrap_or("");
        assert!(options.contains("subset=pid"), "{options}");
        assert!(options.contains("hidepid=invisible"), "{options}");
        rustix::mount::unmount(dir.path(), rustix::mount::UnmountFlags::empty()).unwrap();
    });
}

#[test]
fn overlay_with_lower_upper_and_work_dirs() {
    require!(Feature::Root, Feature::MountApi);
    in_mount_ns(|| {
        let dir = TempDir::new("overlay");
        let (lower, upper, work, merged) = (
            dir.subdir("lower"),
            dir.subdir("upper"),
            dir.subdir("work"),
            dir.subdir("merged"),
        );
        std::fs::write(lower.join("from-lower"), "lower").unwrap();
        std::fs::write(upper.join("from-upper"), "upper").unwrap();

        let fs = FsContext::open(c"overlay").unwrap();
        fs.set_string(c"source", c"linception-overlay").unwrap();
        fs.set_string(c"lowerdir", cstr(&lower).as_c_str()).unwrap();
        fs.set_string(c"upperdir", cstr(&upper).as_c_str()).unwrap();
        fs.set_string(c"workdir", cstr(&work).as_c_str()).unwrap();
        fs.create().unwrap();
        fs.mount(MountAttr::empty())
            .unwrap()
            .attach(&merged)
            .unwrap();

        assert_eq!(
            std::fs::read_to_string(merged.join("from-lower")).unwrap(),
            "lower"
        );
        assert_eq!(
            std::fs::read_to_string(merged.join("from-upper")).unwrap(),
            "upper"
        );
        std::fs::write(merged.join("new"), "written").unwrap();
        assert_eq!(
            std::fs::read_to_string(upper.join("new")).unwrap(),
            "written"
        );
        assert!(!lower.join("new").exists());

        let table = mount_table(MountTableSource::Auto).unwrap();
        let info = table.iter().find(|m| m.mount_point == merged).unwrap();
        assert_eq!(info.fs_type, "overlay");
        assert_eq!(info.source.as_deref(), Some("linception-overlay"));
        rustix::mount::unmount(&merged, rustix::mount::UnmountFlags::empty()).unwrap();
    });
}

#[test]
fn overlay_lower_layer_by_fd() {
    require!(Feature::Root, Feature::MountApi);
    if !linception_testkit::require_custom(
        "overlay lowerdir+ (FSCONFIG_SET_FD)",
        "6.8",
        linception_testkit::probe_custom(|| {
            let fs = FsContext::open("overlay").map_err(|e| e.to_string())?;
            let dir = std::fs::File::open("/").map_err(|e| e.to_string())?;
            fs.set_fd("lowerdir+", &dir).map_err(|e| e.to_string())
        }),
    ) {
        return;
    }
    in_mount_ns(|| {
        let dir = TempDir::new("overlayfd");
        let (lower1, lower2, merged) = (dir.subdir("l1"), dir.subdir("l2"), dir.subdir("m"));
        std::fs::write(lower1.join("a"), "1").unwrap();
        std::fs::write(lower2.join("a"), "2").unwrap();
        std::fs::write(lower2.join("b"), "2").unwrap();
        let fs = FsContext::open("overlay").unwrap();
        fs.set_fd("lowerdir+", std::fs::File::open(&lower1).unwrap())
            .unwrap();
        fs.set_fd("lowerdir+", std::fs::File::open(&lower2).unwrap())
            .unwrap();
        fs.create().unwrap();
        fs.mount(MountAttr::RDONLY)
            .unwrap()
            .attach(&merged)
            .unwrap();
        // The first lower layer is on top.
        assert_eq!(std::fs::read_to_string(merged.join("a")).unwrap(), "1");
        assert_eq!(std::fs::read_to_string(merged.join("b")).unwrap(), "2");
        rustix::mount::unmount(&merged, rustix::mount::UnmountFlags::empty()).unwrap();
    });
}

#[test]
fn bad_value_carries_the_kernel_message_and_leaks_nothing() {
    require!(Feature::Root, Feature::MountApi);
    let text = in_mount_ns(|| {
        assert_no_leaks(|| {
            let fs = FsContext::open(c"tmpfs").unwrap();
            let err = fs.set_string(c"size", c"x").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Os);
            assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
            assert_eq!(err.kernel_log().len(), 1);
            assert_eq!(err.kernel_log()[0].level, LogLevel::Error);
            assert_eq!(err.kernel_log()[0].text, "tmpfs: Bad value for 'size'");
            // The log was drained into the error.
            assert!(fs.read_log().is_empty());
            let io: std::io::Error = err.into();
            assert_eq!(io.raw_os_error(), Some(libc::EINVAL));
            let err = fs.set_string(c"size", c"x").unwrap_err();
            err.to_string()
        })
    });
    let expected = regex_like(
        &text,
        "fsconfig(fd ",
        ", FSCONFIG_SET_STRING, \"size\", \"x\"): Invalid argument (EINVAL): tmpfs: Bad value for 'size'",
    );
    assert!(expected, "{text}");
}

/// `text` is `prefix` + a number + `suffix`.
fn regex_like(text: &str, prefix: &str, suffix: &str) -> bool {
    text.strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(suffix))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[test]
fn unknown_option_carries_the_kernel_message() {
    require!(Feature::Root, Feature::MountApi);
    in_mount_ns(|| {
        assert_no_leaks(|| {
            let fs = FsContext::open(c"tmpfs").unwrap();
            let err = fs.set_string(c"bogus", c"1").unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
            let text = err.to_string();
            assert!(text.contains("\"bogus\""), "{text}");
            assert!(text.ends_with("tmpfs: Unknown parameter 'bogus'"), "{text}");
            let err = fs.set_flag(c"nonsense").unwrap_err();
            assert!(
                err.to_string().contains("FSCONFIG_SET_FLAG, \"nonsense\""),
                "{err}"
            );
            assert!(
                err.to_string().ends_with("Unknown parameter 'nonsense'"),
                "{err}"
            );
        });
    });
}

#[test]
fn missing_source_carries_the_kernel_message() {
    require!(Feature::Root, Feature::MountApi);
    in_mount_ns(|| {
        assert_no_leaks(|| {
            // A block filesystem without a source.
            let fs = FsContext::open(c"ext4").unwrap();
            let err = fs.create().unwrap_err();
            let text = err.to_string();
            assert!(text.contains("FSCONFIG_CMD_CREATE"), "{text}");
            assert!(
                err.kernel_log()
                    .iter()
                    .any(|m| m.text.contains("No source specified")),
                "{text}"
            );
            // overlay with a missing layer: overlay reports it with the errno only.
            let fs = FsContext::open(c"overlay").unwrap();
            let err = fs
                .set_string(c"lowerdir", c"/linception-missing")
                .unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
            assert!(err.to_string().contains("\"/linception-missing\""), "{err}");
            let err = fs.create().unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
            // fsmount before create.
            let fs = FsContext::open(c"tmpfs").unwrap();
            let err = fs.mount(MountAttr::empty()).unwrap_err();
            assert!(err.to_string().starts_with("fsmount(fd "), "{err}");
        });
    });
}

#[test]
fn set_path_of_a_string_parameter_is_refused_with_a_message() {
    require!(Feature::Root, Feature::MountApi);
    in_mount_ns(|| {
        assert_no_leaks(|| {
            let fs = FsContext::open(c"ext4").unwrap();
            let err = fs
                .set_path(c"source", rustix::fs::CWD, c"/dev/null")
                .unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains("FSCONFIG_SET_PATH, \"source\", \"/dev/null\", AT_FDCWD"),
                "{text}"
            );
            assert!(!err.kernel_log().is_empty(), "{text}");
            let null = std::fs::File::open("/dev/null").unwrap();
            let err = fs.set_path_empty(c"source", &null).unwrap_err();
            assert!(err.to_string().contains("FSCONFIG_SET_PATH_EMPTY"), "{err}");
            let err = fs.set_binary(c"source", b"abc").unwrap_err();
            assert!(err.to_string().contains("<3 bytes>"), "{err}");
        });
    });
}

#[test]
fn unknown_filesystem_type_and_nul_bytes() {
    require!(Feature::Root, Feature::MountApi);
    in_mount_ns(|| {
        assert_no_leaks(|| {
            let err = FsContext::open("linception-nofs").unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::ENODEV));
            assert!(
                err.to_string()
                    .starts_with("fsopen(\"linception-nofs\", FSOPEN_CLOEXEC): ")
            );
            let err = FsContext::open("tmp\0fs").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
            assert!(err.to_string().contains("filesystem type"), "{err}");
            let fs = FsContext::open("tmpfs").unwrap();
            let err = fs.set_string("size", "1\0m").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
            assert!(err.to_string().contains("fsconfig value"), "{err}");
        });
    });
}

#[test]
fn fspick_reconfigures_a_mounted_tmpfs() {
    require!(Feature::Root, Feature::MountApi);
    in_mount_ns(|| {
        let dir = TempDir::new("fspick");
        let fs = FsContext::open(c"tmpfs").unwrap();
        fs.set_string(c"size", c"1m").unwrap();
        fs.create().unwrap();
        fs.mount(MountAttr::empty())
            .unwrap()
            .attach(dir.path())
            .unwrap();
        assert_no_leaks(|| {
            let picked = FsContext::pick(dir.path()).unwrap();
            picked.set_string(c"size", c"2m").unwrap();
            picked.reconfigure().unwrap();
            let err = picked.set_string(c"size", c"bad").unwrap_err();
            assert!(
                err.to_string().ends_with("tmpfs: Bad value for 'size'"),
                "{err}"
            );
        });
        let vfs = rustix::fs::statvfs(dir.path()).unwrap();
        assert_eq!(vfs.f_blocks * vfs.f_frsize, 2 << 20);
        let err = FsContext::pick(dir.path().join("missing")).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
        assert!(err.to_string().contains("missing"), "{err}");
        rustix::mount::unmount(dir.path(), rustix::mount::UnmountFlags::empty()).unwrap();
    });
}

#[test]
fn create_excl_and_clone_of_the_context_fd() {
    require!(Feature::Root, Feature::MountApi);
    in_mount_ns(|| {
        assert_no_leaks(|| {
            let fs = FsContext::open(c"tmpfs").unwrap();
            let dup = fs.try_clone().unwrap();
            dup.set_string(c"size", c"1m").unwrap();
            fs.create_excl().unwrap();
            let mount = dup.mount(MountAttr::RDONLY).unwrap();
            assert!(format!("{mount:?}").starts_with("Mount { fd: "));
            assert!(format!("{fs:?}").starts_with("FsContext { fd: "));
        });
        // Nothing was attached.
        assert!(!mount_points().iter().any(|p| p.contains("linception")));
    });
}
