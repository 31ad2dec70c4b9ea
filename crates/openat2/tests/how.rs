//! `open_how` as the kernel sees it: modes outside `S_IALLUGO`, flags beyond 32
//! bits, and the size-versioned struct's `E2BIG` contract, each checked against the
//! running kernel and against `Root`, which refuses the same inputs before any call.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use linception_openat2::{
    Error, ErrorKind, Mode, OFlags, OPEN_HOW_MAX_SIZE, OPEN_HOW_SIZE_VER0, OpenHow, ResolveFlags,
    Root, openat2,
};
use linception_testkit::{Feature, Fork, require};

/// Modes with bits outside `S_IALLUGO` (`0o7777`).
const BAD_MODES: [u32; 6] = [0xffff, 0o10000, 0o100644, 0o170000, 1 << 16, 1 << 31];

fn dir(f: &Fixture) -> std::fs::File {
    std::fs::File::open(&f.root).unwrap()
}

fn in_root_how(flags: OFlags) -> OpenHow {
    OpenHow::new(flags).resolve(ResolveFlags::IN_ROOT)
}

fn check_modes(f: &Fixture) {
    let dir = dir(f);
    let create = OFlags::WRONLY | OFlags::CREATE;
    for bad in BAD_MODES {
        // Refused by the constructor, named, not dropped to 0o7777.
        let e = Mode::from_raw_mode(bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
        assert!(e.to_string().contains(&format!("{bad:#o}")), "{e}");
        // The kernel refuses the same mode in open_how with EINVAL, and the error
        // says it is the mode.
        let how = in_root_how(create).mode(Mode::from_bits_retain(bad));
        let e = openat2(&dir, "made", &how).unwrap_err();
        assert!(
            matches!(e, Error::OpenHowInvalid { field: "mode", .. }),
            "{e:?}"
        );
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
        assert!(
            e.to_string().contains("S_IALLUGO") && e.to_string().contains(&format!("{bad:#o}")),
            "{e}"
        );
        // Root refuses it before any call, through both resolvers.
        for resolver in RESOLVERS {
            let root = f.open_root(resolver, ResolveFlags::IN_ROOT);
            let e = root
                .create("made", OFlags::WRONLY, Mode::from_bits_retain(bad))
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{resolver:?}: {e}");
            assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
            let e = root.mkdir("made", Mode::from_bits_retain(bad)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{resolver:?}: {e}");
            let e = root
                .mkdir_all("made/deeper", Mode::from_bits_retain(bad))
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{resolver:?}: {e}");
        }
        assert!(!f.host("made").exists(), "{bad:#o} created something");
    }
    // Bits of the 64-bit field beyond mode_t: the kernel's EINVAL too.
    let how = in_root_how(create).raw_mode(1 << 40 | 0o644);
    let e = openat2(&dir, "made", &how).unwrap_err();
    assert!(
        matches!(e, Error::OpenHowInvalid { field: "mode", .. }),
        "{e:?}"
    );
    assert!(!f.host("made").exists());
    // Every bit of S_IALLUGO is accepted, by the constructor and by the kernel.
    let all = Mode::from_raw_mode(0o7777).unwrap();
    assert_eq!(all, Mode::ALL);
    drop(openat2(&dir, "made", &in_root_how(create).mode(all)).unwrap());
    assert!(f.host("made").is_file());
    std::fs::remove_file(f.host("made")).unwrap();
}

fn check_flags(f: &Fixture) {
    let dir = dir(f);
    for high in [1u64 << 32, 1 << 47, 1 << 63] {
        for base in [OFlags::RDONLY, OFlags::PATH] {
            let how = in_root_how(base).raw_flags(u64::from(base.bits()) | high);
            assert_eq!(how.raw_flags_bits() & high, high, "the bit is kept");
            // The kernel refuses it (EINVAL) and the error says why.
            let e = openat2(&dir, "file", &how).unwrap_err();
            let Error::OpenHowInvalid { field, reason, .. } = &e else {
                panic!("{high:#x}: {e:?}");
            };
            assert_eq!(*field, "open flags");
            assert!(reason.contains("beyond the low 32"), "{e}");
            assert_eq!(e.kind(), ErrorKind::OpenHowInvalid);
            assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
            assert_eq!(std::io::Error::from(e).raw_os_error(), Some(libc::EINVAL));
            // Root refuses it before any call, naming the bits.
            for resolver in RESOLVERS {
                let root = f.open_root(resolver, ResolveFlags::IN_ROOT);
                let e = root
                    .open_with("file", &OpenHow::new(base).raw_flags(how.raw_flags_bits()))
                    .unwrap_err();
                assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
                assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
                assert!(
                    e.to_string().contains(&format!("{high:#x}"))
                        && e.to_string().contains("beyond the low 32"),
                    "{e}"
                );
            }
        }
    }
    // The other refusals are named too: the kernel's EINVAL, not a bare errno.
    let cases: [(OpenHow, &str, &str); 5] = [
        (
            in_root_how(OFlags::PATH | OFlags::RDWR),
            "open flags",
            "O_PATH",
        ),
        (
            in_root_how(OFlags::PATH | OFlags::CREATE),
            "open flags",
            "O_PATH",
        ),
        (
            in_root_how(OFlags::RDONLY | OFlags::TMPFILE),
            "open flags",
            "write access",
        ),
        (
            in_root_how(OFlags::CREATE | OFlags::DIRECTORY),
            "open flags",
            "O_DIRECTORY",
        ),
        (
            OpenHow::new(OFlags::RDONLY).resolve(ResolveFlags::IN_ROOT | ResolveFlags::BENEATH),
            "resolve flags",
            "both BENEATH and IN_ROOT",
        ),
    ];
    for (how, want_field, needle) in cases {
        let e = openat2(&dir, "file", &how).unwrap_err();
        let Error::OpenHowInvalid { field, .. } = &e else {
            panic!("{how:?}: {e:?}");
        };
        assert_eq!(*field, want_field, "{e}");
        assert!(e.to_string().contains(needle), "{e}");
    }
}

fn check_sizes(f: &Fixture) {
    let dir = dir(f);
    let base = in_root_how(OFlags::PATH);
    assert_eq!(base.size(), OPEN_HOW_SIZE_VER0);
    // A larger struct whose extra bytes are zero: accepted, as if it were not there.
    for offset in (OPEN_HOW_SIZE_VER0..OPEN_HOW_MAX_SIZE).step_by(8) {
        let how = base.field(offset, 0).unwrap();
        assert_eq!(how.size(), offset + 8);
        let fd = openat2(&dir, "dir", &how).unwrap();
        assert_eq!(fd_ident(&fd), ident(&f.host("dir"), true));
    }
    // A non-zero field this kernel does not know: E2BIG, and the error names it.
    for (set, want) in [
        (&[(24, 1)][..], 24),
        (&[(24, 0), (40, 7)][..], 40),
        (&[(48, u64::MAX), (56, 1)][..], 48),
        (&[(56, 1)][..], 56),
    ] {
        let mut how = base;
        for &(offset, value) in set {
            how = how.field(offset, value).unwrap();
        }
        let e = openat2(&dir, "dir", &how).unwrap_err();
        let Error::OpenHowTooBig { offset, .. } = &e else {
            panic!("{how:?}: {e:?}");
        };
        assert_eq!(*offset, want, "{e}");
        assert_eq!(e.kind(), ErrorKind::OpenHowTooBig);
        assert_eq!(e.raw_os_error(), Some(libc::E2BIG));
        assert!(
            e.to_string()
                .contains(&format!("field at byte offset {want} is not supported")),
            "{e}"
        );
        assert!(
            e.to_string().contains(&format!("size: {}", how.size())),
            "{e}"
        );
        // Root refuses a set field before any call (its resolvers know only the
        // first version's fields), the same through both resolvers.
        for resolver in RESOLVERS {
            let e = f
                .open_root(resolver, ResolveFlags::IN_ROOT)
                .open_with("dir", &how.resolve(ResolveFlags::empty()))
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
            assert_eq!(e.raw_os_error(), Some(libc::E2BIG));
            assert!(e.to_string().contains("byte offset"), "{e}");
        }
    }
    // Zero fields pass through Root too.
    for resolver in RESOLVERS {
        let how = OpenHow::new(OFlags::PATH).field(32, 0).unwrap();
        let fd = f
            .open_root(resolver, ResolveFlags::IN_ROOT)
            .open_with("dir", &how)
            .unwrap();
        assert_eq!(fd_ident(&fd), ident(&f.host("dir"), true));
    }
    // Offsets that are not a field this crate can pass: refused, named.
    for bad in [0, 8, 16, 20, 25, 31, OPEN_HOW_MAX_SIZE, 4096] {
        let e = base.field(bad, 1).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(
            e.to_string()
                .starts_with(&format!("invalid open_how field offset {bad}:")),
            "{e}"
        );
    }
    assert_eq!(base.field(40, 9).unwrap().field_value(40), Some(9));
    assert_eq!(base.field(40, 9).unwrap().field_value(48), None);
}

fn check_all(f: &Fixture) {
    no_leaks(|| {
        check_modes(f);
        check_flags(f);
        check_sizes(f);
    });
}

#[test]
fn open_how_fields_against_the_kernel() {
    let _serial = serial();
    require!(Feature::Openat2);
    let f = Fixture::tree("how");
    Fork::new().run(|| check_all(&f));
}

/// The same as uid 65534, in a root directory it may create in.
#[test]
fn open_how_fields_against_the_kernel_unprivileged() {
    let _serial = serial();
    require!(Feature::Openat2);
    let f = Fixture::tree("how-unpriv");
    std::fs::set_permissions(&f.root, std::fs::Permissions::from_mode(0o777)).unwrap();
    Fork::new().unprivileged().run(|| {
        assert!(!rustix::process::geteuid().is_root());
        check_all(&f)
    });
}

/// Root's own checks refuse what the kernel refuses, with the error naming the
/// input (a few cases by name; tests/matrix.rs compares every combination).
#[test]
fn root_refuses_what_openat2_refuses() {
    let _serial = serial();
    require!(Feature::Openat2);
    let f = Fixture::tree("how-root");
    for resolver in RESOLVERS {
        let root: Root = f.open_root(resolver, ResolveFlags::IN_ROOT);
        for (flags, needle) in [
            (OFlags::PATH | OFlags::RDWR, "O_PATH with flags other than"),
            (OFlags::PATH | OFlags::EXCL, "O_PATH with flags other than"),
            (
                OFlags::PATH | OFlags::NOCTTY,
                "O_PATH with flags other than",
            ),
            (
                OFlags::PATH | OFlags::DIRECT,
                "O_PATH with flags other than",
            ),
            // The kernel checks O_TMPFILE before O_PATH.
            (OFlags::PATH | OFlags::TMPFILE, "write access"),
            (
                OFlags::PATH | OFlags::WRONLY | OFlags::TMPFILE,
                "O_PATH with flags other than",
            ),
            (OFlags::RDONLY | OFlags::TMPFILE, "write access"),
        ] {
            let e = root.open("dir", flags).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{resolver:?} {e}");
            assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
            assert!(e.to_string().contains(needle), "{resolver:?} {e}");
        }
        let e = root
            .create("x", OFlags::PATH, Mode::from_raw_mode(0o600).unwrap())
            .unwrap_err();
        assert!(e.to_string().contains("O_PATH"), "{e}");
        assert!(!f.host("x").exists());
        // Handle::reopen refuses the same combinations instead of dropping flags.
        let h = root.resolve("file").unwrap();
        for flags in [OFlags::PATH | OFlags::RDWR, OFlags::PATH | OFlags::APPEND] {
            let e = h.reopen(flags).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
            assert!(
                e.to_string().contains("O_PATH with flags other than"),
                "{e}"
            );
        }
        let fd = h.reopen(OFlags::PATH).unwrap();
        assert_eq!(fd_ident(&fd), ident(&f.host("file"), true));
    }
}
