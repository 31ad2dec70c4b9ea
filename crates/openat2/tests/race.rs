//! Race tests: an attacker thread moves directories and swaps symlinks while
//! lookups run; no lookup may ever return a file outside the root, through either
//! resolver. Each run is bounded in time.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use linception_openat2::{ErrorKind, OFlags, OpenHow, RenameFlags, ResolveFlags, Root};
use linception_testkit::{Feature, require};

/// Per resolver and flag set.
const RUN: Duration = Duration::from_secs(1);

/// Runs `attack` in a loop on another thread while `lookup` runs repeatedly for
/// [`RUN`]; returns how many attacks and lookups ran.
fn race(attack: impl Fn() + Send + 'static, mut lookup: impl FnMut()) -> (u64, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let attacks = Arc::new(AtomicU64::new(0));
    let attacker = {
        let (stop, attacks) = (stop.clone(), attacks.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                attack();
                attacks.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let start = Instant::now();
    let mut lookups = 0;
    while start.elapsed() < RUN {
        lookup();
        lookups += 1;
    }
    stop.store(true, Ordering::Relaxed);
    attacker.join().unwrap();
    (attacks.load(Ordering::Relaxed), lookups)
}

/// Classifies one lookup: the expected inside file, an allowed error, or a failure.
fn classify(
    res: Result<impl std::os::fd::AsFd, linception_openat2::Error>,
    inside: (u64, u64),
    allowed: &[i32],
    stats: &mut BTreeMap<String, u64>,
) -> Result<(), String> {
    let key = match res {
        Ok(fd) => {
            let got = fd_ident(fd);
            if got != inside {
                return Err(format!(
                    "resolved to {got:?}, not the file inside the root {inside:?}"
                ));
            }
            "ok".to_owned()
        }
        Err(e) if e.kind() == ErrorKind::SafetyViolation => "SafetyViolation".to_owned(),
        Err(e) if e.kind() == ErrorKind::Raced => "Raced".to_owned(),
        Err(e) => match e.raw_os_error() {
            Some(errno) if allowed.contains(&errno) => errno_name(errno).to_owned(),
            _ => return Err(format!("unexpected error: {e}")),
        },
    };
    *stats.entry(key).or_default() += 1;
    Ok(())
}

/// `root/a/b/c` while `b` moves back and forth between `root/a/` and `base/outside/`:
/// `a/b/c/../../../marker` must be `root/marker` or fail, never `base/marker`
/// (where the `..` steps lead once `b` is outside).
#[test]
fn dotdot_rename_race_never_escapes() {
    let _serial = serial();
    require!(Feature::Openat2);
    let f = Fixture::empty("race-dotdot");
    std::fs::create_dir_all(f.root.join("a/b/c")).unwrap();
    std::fs::create_dir_all(f.base.join("outside")).unwrap();
    std::fs::write(f.root.join("marker"), "inside").unwrap();
    std::fs::write(f.base.join("marker"), "outside").unwrap();
    let inside = ident(&f.root.join("marker"), true);
    let outside = ident(&f.base.join("marker"), true);
    assert_ne!(inside, outside);

    for resolver in RESOLVERS {
        for flags in [ResolveFlags::IN_ROOT, ResolveFlags::BENEATH] {
            let root = f.open_root(resolver, flags);
            let (from, to) = (f.root.join("a/b"), f.base.join("outside/b"));
            let mut stats = BTreeMap::new();
            let mut failures = Vec::new();
            let paths = [
                "a/b/c/../../../marker",
                "a/b/c/../../../a/b/c/../../../marker",
                "a/b/../b/c/../../../marker",
            ];
            let mut i = 0;
            let (attacks, lookups) = race(
                move || {
                    let _ = std::fs::rename(&from, &to);
                    let _ = std::fs::rename(&to, &from);
                },
                || {
                    let path = paths[i % paths.len()];
                    i += 1;
                    // Every path stays beneath the root, so BENEATH must not refuse it.
                    let res = root.open_with(path, &OpenHow::new(OFlags::PATH));
                    if let Err(e) = classify(res, inside, &[libc::ENOENT], &mut stats) {
                        failures.push(format!("{path}: {e}"));
                    }
                },
            );
            eprintln!("{resolver:?} {flags:?}: {attacks} renames, {lookups} lookups: {stats:?}");
            assert!(
                failures.is_empty(),
                "{resolver:?} {flags:?}: {} escapes/failures: {:?}",
                failures.len(),
                &failures[..failures.len().min(5)]
            );
            assert!(
                attacks > 100 && lookups > 1000,
                "the race barely ran: {attacks} renames, {lookups} lookups"
            );
            assert!(
                stats.get("ok").copied().unwrap_or(0) > 0,
                "no lookup ever succeeded: {stats:?}"
            );
            assert!(
                stats.len() > 1,
                "the attacker never disturbed a lookup: {stats:?}"
            );
            // Leave `b` in place for the next run.
            if !f.root.join("a/b").exists() {
                std::fs::rename(f.base.join("outside/b"), f.root.join("a/b")).unwrap();
            }
        }
    }

    // The same attack against a plain openat (no RESOLVE_* flags): it does reach
    // the outside marker, which shows the race above is a real one.
    let dirfd = std::fs::File::open(&f.root).unwrap();
    let (from, to) = (f.root.join("a/b"), f.base.join("outside/b"));
    let mut escapes = 0u64;
    let (attacks, lookups) = race(
        move || {
            let _ = std::fs::rename(&from, &to);
            let _ = std::fs::rename(&to, &from);
        },
        || {
            let flags = OFlags::PATH | OFlags::CLOEXEC;
            let path = "a/b/c/../../../marker";
            if let Ok(fd) = rustix::fs::openat(&dirfd, path, flags, rustix::fs::Mode::empty())
                && fd_ident(&fd) == outside
            {
                escapes += 1;
            }
        },
    );
    eprintln!("plain openat: {attacks} renames, {lookups} lookups, {escapes} escapes");
}

/// `root/link` is swapped (RENAME_EXCHANGE) between a symlink to a file inside and
/// symlinks that name the outside secret (by host path, by `..`): every lookup of
/// `link` must be the inside file or fail, never the outside secret.
#[test]
fn symlink_swap_race_never_escapes() {
    let _serial = serial();
    require!(Feature::Openat2);
    let f = Fixture::empty("race-swap");
    std::fs::write(f.root.join("inside"), "inside").unwrap();
    std::fs::create_dir(f.root.join("d")).unwrap();
    let inside = ident(&f.root.join("inside"), true);
    let outside = ident(&f.base.join("secret"), true);
    std::os::unix::fs::symlink("inside", f.root.join("link")).unwrap();
    std::os::unix::fs::symlink(f.base.join("secret"), f.root.join("evil_abs")).unwrap();
    std::os::unix::fs::symlink("../secret", f.root.join("evil_rel")).unwrap();
    // Sanity: on the host, the evil links really do reach the secret.
    assert_eq!(ident(&f.root.join("evil_abs"), true), outside);
    assert_eq!(ident(&f.root.join("evil_rel"), true), outside);

    for resolver in RESOLVERS {
        let root = f.open_root(resolver, ResolveFlags::IN_ROOT);
        let attacker_root = Root::new(&f.root).unwrap();
        let mut stats = BTreeMap::new();
        let mut failures = Vec::new();
        let mut i = 0u64;
        let (attacks, lookups) = race(
            move || {
                for evil in ["evil_abs", "evil_rel"] {
                    attacker_root
                        .rename("link", evil, RenameFlags::EXCHANGE)
                        .unwrap();
                    attacker_root
                        .rename("link", evil, RenameFlags::EXCHANGE)
                        .unwrap();
                }
            },
            || {
                let path = if i.is_multiple_of(2) {
                    "link"
                } else {
                    "d/../link"
                };
                i += 1;
                let res = root.open(path, OFlags::RDONLY);
                if let Err(e) = classify(res, inside, &[libc::ENOENT], &mut stats) {
                    failures.push(format!("{path}: {e}"));
                }
            },
        );
        eprintln!("{resolver:?}: {attacks} swaps, {lookups} lookups: {stats:?}");
        assert!(
            failures.is_empty(),
            "{resolver:?}: {} escapes/failures: {:?}",
            failures.len(),
            &failures[..failures.len().min(5)]
        );
        assert!(
            attacks > 100 && lookups > 1000,
            "the race barely ran: {attacks} swaps, {lookups} lookups"
        );
        assert!(
            stats.get("ok").copied().unwrap_or(0) > 0
                && stats.get("ENOENT").copied().unwrap_or(0) > 0,
            "both outcomes expected: {stats:?}"
        );
    }
}

/// The last component itself flips (RENAME_EXCHANGE) between a regular file inside
/// and symlinks to the outside secret while it is opened for writing with `O_TRUNC`
/// (and read, and as `O_PATH`): the fd is always the inside file (whichever name it
/// had), or the lookup fails; the secret is never opened, so never truncated.
#[test]
fn last_component_swap_race_never_escapes() {
    let _serial = serial();
    require!(Feature::Openat2);
    let f = Fixture::empty("race-last");
    std::fs::write(f.root.join("victim"), "inside").unwrap();
    let inside = ident(&f.root.join("victim"), true);
    std::os::unix::fs::symlink(f.base.join("secret"), f.root.join("evil_abs")).unwrap();
    std::os::unix::fs::symlink("../secret", f.root.join("evil_rel")).unwrap();

    for resolver in RESOLVERS {
        for flags in [OFlags::RDWR | OFlags::TRUNC, OFlags::RDONLY, OFlags::PATH] {
            let root = f.open_root(resolver, ResolveFlags::IN_ROOT);
            let attacker_root = Root::new(&f.root).unwrap();
            let mut stats = BTreeMap::new();
            let mut failures = Vec::new();
            let (attacks, lookups) = race(
                move || {
                    for evil in ["evil_abs", "evil_rel"] {
                        for _ in 0..2 {
                            attacker_root
                                .rename("victim", evil, RenameFlags::EXCHANGE)
                                .unwrap();
                        }
                    }
                },
                || {
                    let res = root.open_with("victim", &OpenHow::new(flags));
                    if let Err(e) = classify(res, inside, &[libc::ENOENT], &mut stats) {
                        failures.push(e);
                    }
                },
            );
            eprintln!("{resolver:?} {flags:?}: {attacks} swaps, {lookups} lookups: {stats:?}");
            assert!(
                failures.is_empty(),
                "{resolver:?} {flags:?}: {} escapes/failures: {:?}",
                failures.len(),
                &failures[..failures.len().min(5)]
            );
            assert!(
                attacks > 100 && lookups > 1000,
                "the race barely ran: {attacks} swaps, {lookups} lookups"
            );
            assert!(
                stats.get("ok").copied().unwrap_or(0) > 0
                    && stats.get("ENOENT").copied().unwrap_or(0) > 0,
                "both outcomes expected: {stats:?}"
            );
            assert_eq!(
                std::fs::read_to_string(f.base.join("secret")).unwrap(),
                "outside",
                "the secret was opened"
            );
            assert!(!f.root.join("secret").exists());
        }
    }
}
