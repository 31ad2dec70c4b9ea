//! Leak checks: open fds and mounts before and after a closure.
//!
//! Call these inside a [`Fork`](crate::Fork) child: the test harness runs tests on
//! several threads at once, so the parent's fd table and mounts change under it.

use std::collections::BTreeSet;

/// The open fds of this process, each with what it points at. A target the kernel
/// shows as ` (deleted)` is the same open file as before its name went away (a
/// `/proc/PID` directory of a process that exited meanwhile, an unlinked file), so
/// the suffix is left out.
pub fn open_fds() -> BTreeSet<(i32, String)> {
    let mut fds = BTreeSet::new();
    let dir = std::fs::read_dir("/proc/self/fd").expect("read /proc/self/fd");
    let names: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in names {
        // The directory's own fd is closed by now; skip it and any other closed fd.
        if let Ok(target) = std::fs::read_link(format!("/proc/self/fd/{fd}")) {
            let target = target.to_string_lossy();
            let target = target.strip_suffix(" (deleted)").unwrap_or(&target);
            fds.insert((fd, target.to_owned()));
        }
    }
    fds
}

/// The mounts of this process's mount namespace (mount id, mount point, fs type).
pub fn mounts() -> BTreeSet<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").expect("read mountinfo");
    info.lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let fstype = line
                .split_once(" - ")
                .map_or("?", |(_, r)| r.split_whitespace().next().unwrap_or("?"));
            format!("{} {} {}", fields[0], fields[4], fstype)
        })
        .collect()
}

/// Runs `f` and panics if it left an fd open or a mount behind (or closed or
/// unmounted one it did not own), listing them.
pub fn assert_no_leaks<T>(f: impl FnOnce() -> T) -> T {
    let (fds, mnts) = (open_fds(), mounts());
    let out = f();
    let (fds_after, mnts_after) = (open_fds(), mounts());
    let leaked: Vec<_> = fds_after.symmetric_difference(&fds).collect();
    assert!(leaked.is_empty(), "fds changed across the call: {leaked:?}");
    let leaked: Vec<_> = mnts_after.symmetric_difference(&mnts).collect();
    assert!(
        leaked.is_empty(),
        "mounts changed across the call: {leaked:?}"
    );
    out
}
