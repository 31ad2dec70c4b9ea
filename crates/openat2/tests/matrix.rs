//! The userspace resolver against the kernel's `openat2`, side by side, over every
//! combination: every subset of the `O_*` flags that change how a path is opened
//! (each access mode, `O_CREAT`, `O_EXCL`, `O_NOCTTY`, `O_TRUNC`, `O_DIRECT`,
//! `O_DIRECTORY`, `O_NOFOLLOW`, `O_PATH`, `O_TMPFILE`) with every `RESOLVE_*`
//! subset (each scope, `NO_XDEV`, `NO_MAGICLINKS`, `NO_SYMLINKS`, `CACHED`), on paths
//! through files, directories, symlinks inside and escaping, `..`, missing names.
//!
//! Each lookup's outcome is compared whole: the errno, or which file the fd names
//! (fixture entry, newly created entry, unnamed temporary file), its status flags
//! (`F_GETFL`) and its mode. A second matrix covers the status-only flags
//! (`O_APPEND`, `O_NONBLOCK`, `O_SYNC`, `O_DSYNC`, `O_NOATIME`, `O_ASYNC`,
//! `O_LARGEFILE`). Nothing outside the fixture's root may change.

mod common;

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::Instant;

use common::*;
use linception_openat2::{Mode, OFlags, OpenHow, ResolveFlags, Root, openat2};
use linception_testkit::{Feature, Fork, require};

/// `__O_TMPFILE`: with `O_DIRECTORY` it makes `O_TMPFILE`; alone the kernel refuses it.
const TMPFILE_BIT: OFlags = OFlags::from_bits_retain((libc::O_TMPFILE & !libc::O_DIRECTORY) as u32);

/// The flags whose every subset is tried (with each access mode).
const OPEN_BITS: [OFlags; 9] = [
    OFlags::CREATE,
    OFlags::EXCL,
    OFlags::NOCTTY,
    OFlags::TRUNC,
    OFlags::DIRECT,
    OFlags::DIRECTORY,
    OFlags::NOFOLLOW,
    OFlags::PATH,
    TMPFILE_BIT,
];

/// Status flags: they change no lookup, only what the fd carries.
const STATUS_BITS: [OFlags; 7] = [
    OFlags::APPEND,
    OFlags::NONBLOCK,
    OFlags::SYNC,
    OFlags::DSYNC,
    OFlags::NOATIME,
    OFlags::ASYNC,
    OFlags::from_bits_retain(libc::O_LARGEFILE as u32),
];

const RESOLVE_BITS: [ResolveFlags; 4] = [
    ResolveFlags::NO_XDEV,
    ResolveFlags::NO_MAGICLINKS,
    ResolveFlags::NO_SYMLINKS,
    ResolveFlags::CACHED,
];

/// Every path a lookup is tried on (`locked` is a directory without search
/// permission, which only matters unprivileged).
const PATHS: [&str; 32] = [
    "locked",
    "locked/",
    "locked/.",
    "locked/..",
    "locked/inner",
    "tolocked/.",
    "file",
    "dir",
    "dir/sub/deep",
    ".",
    "dir/",
    "dir/.",
    "dir/sub/..",
    "/file",
    "..",
    "../../file",
    "abs",
    "abs/",
    "rel/deep",
    "up",
    "escape",
    "escape_abs",
    "host_abs",
    "dangling",
    "new",
    "dir/new",
    "new/",
    "loop1",
    "file/",
    "tofile_slash",
    "dir/sub/back",
    "chain1",
];

/// Where a lookup may create a file, inside the root (`escape` and `escape_abs` are
/// `/secret` inside the root; `dangling` points at `nonexistent`).
const CREATABLE: [&str; 4] = ["new", "dir/new", "nonexistent", "secret"];

/// A lookup's outcome, comparable across resolvers.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Out {
    Err(i32),
    Ok {
        /// The fixture entry (`dir/sub`, `abs` for the symlink itself),
        /// `created:<name>`, or `tmpfile`.
        file: String,
        getfl: u32,
        mode: u32,
    },
}

fn subsets<T: Copy>(bits: &[T], union: impl Fn(T, T) -> T, empty: T) -> Vec<T> {
    (0..1u32 << bits.len())
        .map(|mask| {
            bits.iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .fold(empty, |acc, (_, &b)| union(acc, b))
        })
        .collect()
}

fn open_sets(bits: &[OFlags]) -> Vec<OFlags> {
    let mut all = Vec::new();
    for acc in 0..4u32 {
        for s in subsets(bits, |a, b| a | b, OFlags::empty()) {
            all.push(OFlags::from_bits_retain(acc) | s);
        }
    }
    all
}

fn resolve_sets() -> Vec<ResolveFlags> {
    let mut all = Vec::new();
    for scope in [
        ResolveFlags::IN_ROOT,
        ResolveFlags::BENEATH,
        ResolveFlags::IN_ROOT | ResolveFlags::BENEATH,
    ] {
        for s in subsets(&RESOLVE_BITS, |a, b| a | b, ResolveFlags::empty()) {
            all.push(scope | s);
        }
    }
    all
}

fn will_create(flags: OFlags) -> bool {
    flags.intersects(OFlags::CREATE | TMPFILE_BIT)
}

struct Matrix<'f> {
    f: &'f Fixture,
    dir: OwnedFd,
    /// (dev, ino) of every fixture entry (symlinks themselves included).
    names: HashMap<(u64, u64), String>,
    /// Per resolve set: the kernel-resolver root and the fallback root, or the
    /// errno `with_resolve_flags` refused the set with.
    roots: HashMap<u64, Result<[Root; 2], i32>>,
    failures: Vec<String>,
    mismatches: usize,
    lookups: usize,
}

impl<'f> Matrix<'f> {
    fn new(f: &'f Fixture) -> Self {
        let mut names = HashMap::new();
        let mut todo = vec![String::from(".")];
        while let Some(rel) = todo.pop() {
            // What the test's user cannot reach (inside `locked/`), no lookup reaches.
            let Ok(m) = std::fs::symlink_metadata(f.host(&rel)) else {
                continue;
            };
            names.insert((m.dev(), m.ino()), rel.clone());
            // Not into `proc/` (a procfs in the mount tests, its entries come and go).
            if m.is_dir() && rel != "proc" {
                for e in std::fs::read_dir(f.host(&rel)).unwrap() {
                    let name = e.unwrap().file_name().into_string().unwrap();
                    todo.push(if rel == "." {
                        name
                    } else {
                        format!("{rel}/{name}")
                    });
                }
            }
        }
        let mut roots = HashMap::new();
        for r in resolve_sets() {
            // The error keeps its failed call inline, which makes it large.
            #[allow(clippy::result_large_err)]
            let made = RESOLVERS.map(|resolver| {
                Root::new(&f.root)
                    .unwrap()
                    .with_resolver(resolver)
                    .with_resolve_flags(r)
            });
            let entry = match made {
                [Ok(k), Ok(fb)] => Ok([k, fb]),
                [Err(a), Err(b)] => {
                    assert_eq!(a.raw_os_error(), b.raw_os_error());
                    Err(a.raw_os_error().unwrap())
                }
                _ => panic!("the resolvers disagree on {r:?}"),
            };
            roots.insert(r.bits(), entry);
        }
        let dir = rustix::fs::open(
            &f.root,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .unwrap();
        Matrix {
            f,
            dir,
            names,
            roots,
            failures: Vec::new(),
            mismatches: 0,
            lookups: 0,
        }
    }

    /// What `res` opened, then removes whatever the lookup created.
    fn outcome(&self, res: Result<OwnedFd, i32>) -> Out {
        let out = match &res {
            Err(e) => Out::Err(*e),
            Ok(fd) => {
                let st = rustix::fs::fstat(fd).unwrap();
                let key = (st.st_dev, st.st_ino);
                let file = if let Some(name) = self.names.get(&key) {
                    name.clone()
                } else if st.st_nlink == 0 {
                    "tmpfile".into()
                } else {
                    CREATABLE
                        .iter()
                        .find(|c| {
                            std::fs::symlink_metadata(self.f.host(c))
                                .is_ok_and(|m| (m.dev(), m.ino()) == key)
                        })
                        // Outside the fixture (procfs): its inode numbers may be
                        // reallocated between two lookups; the device and type
                        // still tell which file system and what kind of file.
                        .map_or_else(
                            || {
                                format!(
                                    "other: dev {}, type {:o}",
                                    st.st_dev,
                                    st.st_mode & libc::S_IFMT
                                )
                            },
                            |c| format!("created:{c}"),
                        )
                };
                Out::Ok {
                    file,
                    getfl: rustix::fs::fcntl_getfl(fd).unwrap().bits(),
                    mode: st.st_mode,
                }
            }
        };
        drop(res);
        for c in CREATABLE {
            let _ = std::fs::remove_file(self.f.host(c));
        }
        out
    }

    /// The kernel's answer: `openat2` itself; a `RESOLVE_CACHED` miss is retried
    /// without `CACHED` (what a caller, and `Root`, does), a race retried.
    fn kernel(&self, path: &str, how: &OpenHow) -> Out {
        let mut how = *how;
        let mut res = Err(0);
        for _ in 0..8 {
            res = openat2(&self.dir, path, &how).map_err(|e| e.raw_os_error().unwrap());
            match res {
                Err(libc::EAGAIN) if how.resolve_flags().contains(ResolveFlags::CACHED) => {
                    how = how.resolve(how.resolve_flags() - ResolveFlags::CACHED);
                }
                Err(libc::EAGAIN) => {}
                _ => break,
            }
        }
        self.outcome(res)
    }

    /// A `Root`'s answer with this resolver (0: kernel, 1: fallback).
    fn root(&self, which: usize, path: &str, how: &OpenHow) -> Out {
        let res = match &self.roots[&how.resolve_flags().bits()] {
            Err(e) => Err(*e),
            Ok(roots) => roots[which]
                .open_with(path, &how.resolve(ResolveFlags::empty()))
                .map_err(|e| {
                    e.raw_os_error()
                        .unwrap_or_else(|| panic!("no errno in {e}"))
                }),
        };
        self.outcome(res)
    }

    fn compare(&mut self, path: &str, how: &OpenHow, answers: &[(&str, Out)]) {
        self.lookups += answers.len();
        let (_, want) = &answers[0];
        for (who, got) in &answers[1..] {
            if got != want {
                self.mismatches += 1;
                if self.failures.len() < 40 {
                    self.failures
                        .push(format!("{path:?} {how:?}: kernel {want:?}, {who} {got:?}"));
                }
            }
        }
    }

    /// Every (flags, resolve) pair with three modes on an existing file, through the
    /// kernel, a kernel-resolver `Root` and a fallback `Root`: `Root` refuses
    /// exactly what the kernel refuses. Returns the pairs the kernel accepts (or
    /// refuses only once it opens a file).
    fn validation(&mut self, opens: &[OFlags]) -> Vec<OpenHow> {
        let mut accepted = Vec::new();
        for &flags in opens {
            let good_mode = if will_create(flags) { 0o640 } else { 0 };
            for r in resolve_sets() {
                for mode in [0, 0o640, 0o10640] {
                    let how = OpenHow::new(flags)
                        .mode(Mode::from_bits_retain(mode))
                        .resolve(r);
                    let answers = [
                        ("kernel", self.kernel("file", &how)),
                        ("Root(Kernel)", self.root(0, "file", &how)),
                        ("Root(Fallback)", self.root(1, "file", &how)),
                    ];
                    let refused = answers.iter().all(|(_, o)| *o == Out::Err(libc::EINVAL))
                        && self.refused_before_lookup(&how);
                    self.compare("file", &how, &answers);
                    if mode == good_mode && !refused {
                        accepted.push(how);
                    }
                }
            }
        }
        accepted
    }

    /// The (flags, resolve) pairs `Root` accepts, with the mode they need, without
    /// comparing (the validation already did).
    fn accepted(&self, opens: &[OFlags]) -> Vec<OpenHow> {
        let mut accepted = Vec::new();
        for &flags in opens {
            let mode = if will_create(flags) { 0o640 } else { 0 };
            for r in resolve_sets() {
                let how = OpenHow::new(flags)
                    .mode(Mode::from_bits_retain(mode))
                    .resolve(r);
                if !self.refused_before_lookup(&how) {
                    accepted.push(how);
                }
            }
        }
        accepted
    }

    /// Whether `Root` refuses `how` before any lookup (a path-independent EINVAL).
    fn refused_before_lookup(&self, how: &OpenHow) -> bool {
        match &self.roots[&how.resolve_flags().bits()] {
            Err(_) => true,
            Ok(roots) => roots[1]
                .open_with("file", &how.resolve(ResolveFlags::empty()))
                .is_err_and(|e| e.kind() == linception_openat2::ErrorKind::InvalidArgument),
        }
    }

    /// Every accepted pair on every path: kernel against the userspace resolver.
    fn paths(&mut self, hows: &[OpenHow], paths: &[&str]) {
        for how in hows {
            for path in paths {
                let answers = [
                    ("kernel", self.kernel(path, how)),
                    ("Root(Fallback)", self.root(1, path, how)),
                ];
                self.compare(path, how, &answers);
            }
        }
    }

    fn report(&self, what: &str, started: Instant) -> Vec<String> {
        eprintln!(
            "{what}: {} lookups compared in {:.1?}, {} mismatches",
            self.lookups,
            started.elapsed(),
            self.mismatches
        );
        let mut out = self.failures.clone();
        if self.mismatches > self.failures.len() {
            out.push(format!("... {} mismatches in all", self.mismatches));
        }
        out
    }
}

/// Nothing outside the root changed: `secret` is intact and alone with `root/`.
fn assert_outside_untouched(f: &Fixture) {
    assert_eq!(
        std::fs::read_to_string(f.base.join("secret")).unwrap(),
        "outside"
    );
    let mut names: Vec<_> = std::fs::read_dir(&f.base)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["root", "secret"]);
}

/// Adds `locked/` (mode 0o600: readable, not searchable) holding `inner`, and
/// `tolocked`, a symlink to it; a FIFO `fifo` and a socket `sock`, with symlinks
/// `tofifo` and `tosock`.
fn add_extras(f: &Fixture) {
    std::fs::create_dir(f.host("locked")).unwrap();
    std::fs::write(f.host("locked/inner"), "").unwrap();
    std::fs::set_permissions(f.host("locked"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink("locked", f.host("tolocked")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        f.host("fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o666),
        0,
    )
    .unwrap();
    // The listener is dropped at once; the socket file stays (opening it: ENXIO).
    drop(std::os::unix::net::UnixListener::bind(f.host("sock")).unwrap());
    std::os::unix::fs::symlink("fifo", f.host("tofifo")).unwrap();
    std::os::unix::fs::symlink("sock", f.host("tosock")).unwrap();
}

/// A FIFO and a socket, with the flags that cannot block on a FIFO without a
/// writer or reader (O_PATH, O_NONBLOCK, O_RDWR, O_ACCMODE, O_DIRECTORY).
fn special_files(m: &mut Matrix<'_>) {
    let bits = [
        OFlags::NONBLOCK,
        OFlags::NOFOLLOW,
        OFlags::TRUNC,
        OFlags::CREATE,
        OFlags::EXCL,
        OFlags::PATH,
        OFlags::DIRECTORY,
    ];
    let cannot_block = |f: OFlags| {
        f.intersects(OFlags::PATH | OFlags::NONBLOCK | OFlags::DIRECTORY)
            || f.bits() & libc::O_ACCMODE as u32 >= 2
    };
    let opens: Vec<OFlags> = open_sets(&bits)
        .into_iter()
        .filter(|&f| cannot_block(f))
        .collect();
    let accepted = m.accepted(&opens);
    assert!(accepted.len() > 1000, "only {} pairs", accepted.len());
    m.paths(&accepted, &["fifo", "tofifo", "sock", "tosock"]);
}

fn run_matrix(f: &Fixture) -> Vec<String> {
    let started = Instant::now();
    let mut m = Matrix::new(f);
    let opens = open_sets(&OPEN_BITS);
    assert_eq!(opens.len(), 4 * 512);
    let accepted = m.validation(&opens);
    // At least: every O_PATH form, plain reads and writes, creation, O_TMPFILE.
    assert!(
        accepted.len() > 48 * 100,
        "only {} pairs accepted",
        accepted.len()
    );
    m.paths(&accepted, &PATHS);
    // The status flags, with each access mode, on a few paths (and creating).
    let mut status = Vec::new();
    for flags in open_sets(&STATUS_BITS) {
        for extra in [OFlags::empty(), OFlags::CREATE] {
            for r in [ResolveFlags::IN_ROOT, ResolveFlags::BENEATH] {
                let mode = if extra.is_empty() { 0 } else { 0o600 };
                status.push(
                    OpenHow::new(flags | extra)
                        .mode(Mode::from_bits_retain(mode))
                        .resolve(r),
                );
            }
        }
    }
    m.paths(&status, &["file", "dir", ".", "abs", "new", "dangling"]);
    special_files(&mut m);
    // 2048 flag sets x 48 resolve sets x 3 modes x 3 routes, then the paths.
    assert!(m.lookups > 1_500_000, "only {} lookups", m.lookups);
    let failures = m.report("open_how matrix", started);
    assert_outside_untouched(f);
    failures
}

/// Paths across the mounts of [`with_mounts`]: NO_XDEV refuses crossing them, magic
/// links are never followed.
const MOUNT_PATHS: [&str; 10] = [
    "mnt",
    "mnt/mfile",
    "mnt/..",
    "tomnt",
    "proc/self",
    "proc/self/status",
    "proc/self/root",
    "proc/self/fd/0",
    "magic_self",
    "dir/sub/rootlink/proc/self/exe",
];

/// Mounts a tmpfs on `mnt/` (holding `mfile`) and, if `procfs`, a procfs on
/// `proc/` (in the caller's own mount namespace), then runs every accepted pair on
/// the paths across them.
fn with_mounts(f: &Fixture, procfs: bool) -> Vec<String> {
    use rustix::mount::{MountFlags, mount};
    mount("tmpfs", f.host("mnt"), "tmpfs", MountFlags::empty(), None).unwrap();
    std::fs::write(f.host("mnt/mfile"), "on tmpfs").unwrap();
    if procfs {
        mount("proc", f.host("proc"), "proc", MountFlags::empty(), None).unwrap();
    }
    let started = Instant::now();
    let mut m = Matrix::new(f);
    let accepted = m.accepted(&open_sets(&OPEN_BITS));
    let paths: Vec<&str> = MOUNT_PATHS
        .into_iter()
        .filter(|p| procfs || !(p.contains("proc") || p.starts_with("magic")))
        .collect();
    m.paths(&accepted, &paths);
    assert!(m.lookups > 100_000, "only {} lookups", m.lookups);
    let failures = m.report("open_how matrix across mounts", started);
    assert_outside_untouched(f);
    failures
}

/// As root in a private mount namespace: a tmpfs and a procfs inside the root.
#[test]
fn fallback_matches_kernel_every_combination_across_mounts() {
    let _serial = serial();
    require!(Feature::Root);
    require!(Feature::Openat2);
    let f = Fixture::tree("matrix-mounts");
    let failures = Fork::new()
        .unshare(libc::CLONE_NEWNS)
        .timeout(std::time::Duration::from_secs(600))
        .run(|| with_mounts(&f, true));
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Rootless (uid 65534 outside, root of its own user namespace): a tmpfs mounted
/// in a private mount namespace.
#[test]
fn fallback_matches_kernel_every_combination_across_mounts_rootless() {
    let _serial = serial();
    require!(Feature::Openat2, Feature::UnprivilegedUserNs);
    let f = Fixture::tree("matrix-mounts-rootless");
    let failures = Fork::new()
        .rootless()
        .unshare(libc::CLONE_NEWNS)
        .timeout(std::time::Duration::from_secs(600))
        .run(|| with_mounts(&f, false));
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// As the test process's user (root in CI): every combination agrees.
#[test]
fn fallback_matches_kernel_every_combination() {
    let _serial = serial();
    require!(Feature::Openat2);
    let f = Fixture::tree("matrix");
    add_extras(&f);
    let failures = run_matrix(&f);
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// As uid 65534, in a tree whose root directory it owns (so it can create there)
/// but whose `dir/` it does not (creating there is `EACCES`).
#[test]
fn fallback_matches_kernel_every_combination_unprivileged() {
    let _serial = serial();
    require!(Feature::Openat2);
    let f = Fixture::tree("matrix-unpriv");
    add_extras(&f);
    let (uid, gid) = linception_testkit::unprivileged_ids();
    if rustix::process::geteuid().is_root() {
        for e in std::fs::read_dir(&f.root).unwrap() {
            let p = e.unwrap().path();
            if !p.ends_with("dir") {
                std::os::unix::fs::lchown(&p, Some(uid), Some(gid)).unwrap();
            }
        }
        std::os::unix::fs::lchown(&f.root, Some(uid), Some(gid)).unwrap();
    }
    let failures = Fork::new()
        .unprivileged()
        .timeout(std::time::Duration::from_secs(600))
        .run(|| {
            assert_eq!(rustix::process::geteuid().as_raw(), uid);
            run_matrix(&f)
        });
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
