//! Table-driven resolution over a fixture tree: every path with every flag set gives
//! the expected file or errno, through the kernel's openat2 and through the
//! userspace resolver alike. Also a property test: both resolvers agree on random paths.

mod common;

use common::*;
use libc::{ELOOP, ENOENT, ENOTDIR, EXDEV};
use linception_openat2::{OFlags, OpenHow, ResolveFlags, Resolver};
use linception_testkit::{Feature, Fork, require};

/// What a lookup must give.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// The file at this path below the root (`.` is the root), the symlink followed.
    T(&'static str),
    /// The symlink at this path itself.
    L(&'static str),
    /// This errno.
    E(i32),
}
use Expect::{E, L, T};

/// The flag sets of the table's columns.
const COLUMNS: [(&str, ResolveFlags); 5] = [
    ("IN_ROOT", ResolveFlags::IN_ROOT),
    ("BENEATH", ResolveFlags::BENEATH),
    (
        "IN_ROOT|NO_SYMLINKS",
        ResolveFlags::IN_ROOT.union(ResolveFlags::NO_SYMLINKS),
    ),
    (
        "IN_ROOT|NO_MAGICLINKS",
        ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS),
    ),
    (
        "IN_ROOT|NO_XDEV",
        ResolveFlags::IN_ROOT.union(ResolveFlags::NO_XDEV),
    ),
];

type Row = (&'static str, bool, [Expect; 5]);

/// A path without symlinks: the same answer whatever the policy, BENEATH aside.
fn plain(path: &'static str, in_root: Expect, beneath: Expect) -> Row {
    (path, true, [in_root, beneath, in_root, in_root, in_root])
}

/// A path through a symlink: NO_SYMLINKS refuses it.
fn link(path: &'static str, in_root: Expect, beneath: Expect) -> Row {
    (path, true, [in_root, beneath, E(ELOOP), in_root, in_root])
}

fn same(path: &'static str, e: Expect) -> Row {
    (path, true, [e; 5])
}

/// Rows valid on the plain fixture (no mounts inside it).
fn base_rows() -> Vec<Row> {
    vec![
        same("file", T("file")),
        same("dir/sub/deep", T("dir/sub/deep")),
        same("./dir/../file", T("file")),
        same("dir//sub///deep", T("dir/sub/deep")),
        same(".", T(".")),
        same("dir/", T("dir")),
        same("dir/sub/..", T("dir")),
        plain("/", T("."), E(EXDEV)),
        plain("/file", T("file"), E(EXDEV)),
        plain("..", T("."), E(EXDEV)),
        plain("../../file", T("file"), E(EXDEV)),
        plain("dir/../../file", T("file"), E(EXDEV)),
        plain("dir/sub/../../../../dir/file2", T("dir/file2"), E(EXDEV)),
        same("file/", E(ENOTDIR)),
        same("file/..", E(ENOTDIR)),
        same("file/x", E(ENOTDIR)),
        same("nonexistent/../file", E(ENOENT)),
        same("dir/nonexistent", E(ENOENT)),
        link("abs", T("dir/sub"), E(EXDEV)),
        link("abs/deep", T("dir/sub/deep"), E(EXDEV)),
        link("abs/../file2", T("dir/file2"), E(EXDEV)),
        link("rel/deep", T("dir/sub/deep"), T("dir/sub/deep")),
        link("rel/../../file", T("file"), T("file")),
        link("up", T("."), E(EXDEV)),
        link("up/file", T("file"), E(EXDEV)),
        link("escape", E(ENOENT), E(EXDEV)),
        link("escape_abs", E(ENOENT), E(EXDEV)),
        link("host_abs", E(ENOENT), E(EXDEV)),
        link("chain1", T("file"), E(EXDEV)),
        link("dir/sub/back", T("file"), T("file")),
        link("dir/sub/rootlink", T("."), E(EXDEV)),
        link(
            "dir/sub/rootlink/dir/sub/rootlink/file",
            T("file"),
            E(EXDEV),
        ),
        link("dangling", E(ENOENT), E(ENOENT)),
        link("tofile_slash", E(ENOTDIR), E(ENOTDIR)),
        link("link0", T("file"), T("file")),
        same("loop1", E(ELOOP)),
        same("self", E(ELOOP)),
        same("link_over", E(ELOOP)),
        // No procfs inside the plain fixture: the magic links' targets do not exist.
        link("magic_self", E(ENOENT), E(EXDEV)),
        // Not following the last symlink: the symlink itself.
        (
            "abs",
            false,
            [L("abs"), L("abs"), L("abs"), L("abs"), L("abs")],
        ),
        (
            "dir/../loop1",
            false,
            [L("loop1"), L("loop1"), L("loop1"), L("loop1"), L("loop1")],
        ),
        (
            "rel/back",
            false,
            [
                L("dir/sub/back"),
                L("dir/sub/back"),
                E(ELOOP),
                L("dir/sub/back"),
                L("dir/sub/back"),
            ],
        ),
        (
            "abs/back",
            false,
            [
                L("dir/sub/back"),
                E(EXDEV),
                E(ELOOP),
                L("dir/sub/back"),
                L("dir/sub/back"),
            ],
        ),
    ]
}

/// Rows valid once `mnt/` is a tmpfs holding `mfile` and `proc/` a procfs.
fn mount_rows() -> Vec<Row> {
    vec![
        (
            "mnt/mfile",
            true,
            [
                T("mnt/mfile"),
                T("mnt/mfile"),
                T("mnt/mfile"),
                T("mnt/mfile"),
                E(EXDEV),
            ],
        ),
        (
            "mnt",
            true,
            [T("mnt"), T("mnt"), T("mnt"), T("mnt"), E(EXDEV)],
        ),
        ("mnt/..", true, [T("."), T("."), T("."), T("."), E(EXDEV)]),
        (
            "mnt/../file",
            true,
            [T("file"), T("file"), T("file"), T("file"), E(EXDEV)],
        ),
        (
            "mnt",
            false,
            [T("mnt"), T("mnt"), T("mnt"), T("mnt"), E(EXDEV)],
        ),
        (
            "tomnt",
            true,
            [
                T("mnt/mfile"),
                T("mnt/mfile"),
                E(ELOOP),
                T("mnt/mfile"),
                E(EXDEV),
            ],
        ),
        (
            "proc/self",
            true,
            [
                T("proc/self"),
                T("proc/self"),
                E(ELOOP),
                T("proc/self"),
                E(EXDEV),
            ],
        ),
        (
            "proc/self/status",
            true,
            [
                T("proc/self/status"),
                T("proc/self/status"),
                E(ELOOP),
                T("proc/self/status"),
                E(EXDEV),
            ],
        ),
        // Magic links: never followed by a scoped lookup.
        (
            "proc/self/root",
            true,
            [E(EXDEV), E(EXDEV), E(ELOOP), E(ELOOP), E(EXDEV)],
        ),
        (
            "proc/self/root/file",
            true,
            [E(EXDEV), E(EXDEV), E(ELOOP), E(ELOOP), E(EXDEV)],
        ),
        (
            "proc/self/fd/0",
            true,
            [E(EXDEV), E(EXDEV), E(ELOOP), E(ELOOP), E(EXDEV)],
        ),
        (
            "proc/self/cwd",
            true,
            [E(EXDEV), E(EXDEV), E(ELOOP), E(ELOOP), E(EXDEV)],
        ),
        (
            "magic_self",
            true,
            [E(EXDEV), E(EXDEV), E(ELOOP), E(ELOOP), E(EXDEV)],
        ),
        (
            "magic_fd",
            true,
            [E(EXDEV), E(EXDEV), E(ELOOP), E(ELOOP), E(EXDEV)],
        ),
        (
            "dir/sub/rootlink/proc/self/exe",
            true,
            [E(EXDEV), E(EXDEV), E(ELOOP), E(ELOOP), E(EXDEV)],
        ),
        // The magic link itself can be opened with O_PATH|O_NOFOLLOW (no jump).
        (
            "proc/self/root",
            false,
            [
                L("proc/self/root"),
                L("proc/self/root"),
                E(ELOOP),
                L("proc/self/root"),
                E(EXDEV),
            ],
        ),
    ]
}

/// Runs every row × column through both resolvers; returns the failures.
fn run_table(f: &Fixture, rows: &[Row]) -> Vec<String> {
    let mut failures = Vec::new();
    let mut checked = 0;
    for &(path, follow, expects) in rows {
        for (col, &(col_name, flags)) in COLUMNS.iter().enumerate() {
            let want = match expects[col] {
                T(p) => Ok(ident(&f.host(p), true)),
                L(p) => Ok(ident(&f.host(p), false)),
                E(e) => Err(e),
            };
            let mut got = Vec::new();
            for resolver in RESOLVERS {
                let root = f.open_root(resolver, flags);
                let how = OpenHow::new(path_flags(follow));
                let res = outcome(root.open_with(path, &how));
                checked += 1;
                if res != want {
                    failures.push(format!(
                        "{path:?} follow={follow} {col_name} {resolver:?}: got {res:?} ({}), want {:?}",
                        res.err().map_or("ok", errno_name),
                        expects[col]
                    ));
                }
                got.push(res);
            }
            if got[0] != got[1] {
                failures.push(format!(
                    "{path:?} {col_name}: kernel {:?} != fallback {:?}",
                    got[0], got[1]
                ));
            }
        }
    }
    assert!(checked >= rows.len() * 10, "only {checked} lookups ran");
    failures
}

#[test]
fn table_kernel_and_fallback_agree() {
    let _serial = serial();
    require!(Feature::Openat2);
    let f = Fixture::tree("table");
    let failures = run_table(&f, &base_rows());
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The same table as uid 65534 over a tree it can read but does not own; no fd
/// is left open by any lookup, failed or not.
#[test]
fn table_unprivileged_no_leaks() {
    let _serial = serial();
    linception_testkit::require_root!("a tree the unprivileged child does not own");
    require!(Feature::Openat2);
    let f = Fixture::tree("table-unpriv");
    let failures = Fork::new().unprivileged().run(|| {
        assert_eq!(rustix::process::geteuid().as_raw(), 65534);
        no_leaks(|| run_table(&f, &base_rows()))
    });
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// With a tmpfs on `mnt/` and a procfs on `proc/` (in a private mount namespace):
/// NO_XDEV refuses crossing them, magic links are never followed.
#[test]
fn table_with_mounts() {
    let _serial = serial();
    require!(Feature::Root);
    require!(Feature::Openat2);
    let f = Fixture::tree("table-mounts");
    let failures = Fork::new().unshare(libc::CLONE_NEWNS).run(|| {
        use rustix::mount::{MountFlags, mount};
        mount("tmpfs", f.host("mnt"), "tmpfs", MountFlags::empty(), None).unwrap();
        std::fs::write(f.host("mnt/mfile"), "on tmpfs").unwrap();
        mount("proc", f.host("proc"), "proc", MountFlags::empty(), None).unwrap();
        let mut rows = base_rows();
        rows.retain(|r| r.0 != "magic_self");
        rows.extend(mount_rows());
        no_leaks(|| run_table(&f, &rows))
    });
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// RESOLVE_CACHED: the same answers (a cache miss falls back to the full lookup).
#[test]
fn table_cached_same_answers() {
    let _serial = serial();
    require!(Feature::Openat2);
    if !linception_testkit::require_custom(
        "RESOLVE_CACHED",
        "5.12",
        linception_testkit::probe_custom(|| {
            let how = OpenHow::new(OFlags::PATH).resolve(ResolveFlags::CACHED);
            match linception_openat2::openat2(rustix::fs::CWD, "/", &how) {
                Ok(_) => Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => Ok(()),
                Err(e) => Err(e.to_string()),
            }
        }),
    ) {
        return;
    }
    let f = Fixture::tree("table-cached");
    let mut failures = Vec::new();
    for &(path, follow, expects) in &base_rows() {
        let want = match expects[0] {
            T(p) => Ok(ident(&f.host(p), true)),
            L(p) => Ok(ident(&f.host(p), false)),
            E(e) => Err(e),
        };
        let root = f.open_root(
            Resolver::Kernel,
            ResolveFlags::IN_ROOT | ResolveFlags::CACHED,
        );
        // Twice: a cold lookup (may miss), then a warm one.
        for _ in 0..2 {
            let got = outcome(root.open_with(path, &OpenHow::new(path_flags(follow))));
            if got != want {
                failures.push(format!("{path:?}: got {got:?}, want {want:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Random paths of `.`, `..`, names and symlinks, with random open flags: the kernel
/// and the userspace resolver give the same file or the same errno, for every flag set.
#[test]
fn proptest_kernel_and_fallback_agree() {
    let _serial = serial();
    require!(Feature::Openat2);
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let f = Fixture::tree("proptest");
    let parts = prop::sample::select(vec![
        ".",
        "..",
        "dir",
        "sub",
        "deep",
        "file",
        "abs",
        "rel",
        "up",
        "back",
        "rootlink",
        "chain1",
        "dangling",
        "loop1",
        "escape",
        "link0",
        "proc",
        "nonexistent",
        "",
        "a",
        "b",
        "c",
    ]);
    let open_flags = prop::sample::select(vec![
        OFlags::PATH,
        OFlags::PATH | OFlags::NOFOLLOW,
        OFlags::PATH | OFlags::DIRECTORY,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW,
        OFlags::RDONLY,
        OFlags::RDONLY | OFlags::NOFOLLOW,
        OFlags::RDONLY | OFlags::DIRECTORY,
    ]);
    let strategy = (
        any::<bool>(),
        prop::collection::vec(parts, 1..8),
        0..COLUMNS.len(),
        open_flags,
    );
    let mut runner = TestRunner::new(Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    });
    let roots: Vec<_> = COLUMNS
        .iter()
        .map(|&(_, flags)| RESOLVERS.map(|r| f.open_root(r, flags)))
        .collect();
    runner
        .run(&strategy, |(absolute, comps, col, oflags)| {
            let mut path = comps.join("/");
            if absolute {
                path.insert(0, '/');
            }
            if path.is_empty() {
                path.push('.');
            }
            let how = OpenHow::new(oflags);
            let [kernel, fallback] = &roots[col];
            let a = outcome(kernel.open_with(&path, &how));
            let b = outcome(fallback.open_with(&path, &how));
            prop_assert_eq!(a, b, "{:?} with {} {:?}", path, COLUMNS[col].0, oflags);
            Ok(())
        })
        .unwrap();
}

/// Rootless: in a user namespace of its own (uid 65534 outside), a tmpfs mounted on
/// `mnt/` in a private mount namespace; NO_XDEV still refuses crossing it.
#[test]
fn table_with_mounts_rootless() {
    let _serial = serial();
    require!(Feature::Openat2, Feature::UnprivilegedUserNs);
    let f = Fixture::tree("table-mounts-rootless");
    let failures = Fork::new().rootless().unshare(libc::CLONE_NEWNS).run(|| {
        use rustix::mount::{MountFlags, mount};
        mount("tmpfs", f.host("mnt"), "tmpfs", MountFlags::empty(), None).unwrap();
        std::fs::write(f.host("mnt/mfile"), "on tmpfs").unwrap();
        let mut rows = base_rows();
        // Mounting procfs needs a pid namespace of our own: tmpfs rows only.
        rows.extend(mount_rows().into_iter().filter(|r| {
            !r.0.starts_with("proc") && !r.0.starts_with("magic") && !r.0.contains("/proc/")
        }));
        assert!(rows.iter().any(|r| r.0 == "tomnt"));
        no_leaks(|| run_table(&f, &rows))
    });
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
