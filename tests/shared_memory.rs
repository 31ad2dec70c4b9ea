//! The container child that shares the parent's memory (no page tables copied)
//! and its fallback, the copying clone: the same containers give the same results
//! both ways; the fds the child keeps in the shared plan are never closed in the
//! parent; spawns from several threads at once, whose children fail execve calls on
//! the way (errno writes), all succeed.

mod common;

use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{NS, assert_no_children, output, sh};
use linception::seccomp_notify::{Action, Filter};
use linception::{Container, ContainerBuilder, Mount, RootFs, Seccomp};
use linception_testkit::leaks::assert_no_leaks;
use linception_testkit::{Feature, Fork, require};

/// What each container prints: identity, mounts, limits, the seccomp verdict.
const SCRIPT: &str = "id -u; id -g; hostname; cat /proc/self/uid_map; \
    grep -c . /proc/self/mountinfo; awk '{print $5, $6}' /proc/self/mountinfo; \
    grep -E '^(NoNewPrivs|Seccomp|CapEff):' /proc/self/status; \
    mkdir /ro-test 2>/dev/null && echo writable || echo read-only; \
    unshare -U true 2>/dev/null && echo unshare-ok || echo unshare-denied";

fn containers() -> Vec<(&'static str, ContainerBuilder)> {
    let deny = Filter::new(Action::Allow).rule("unshare", Action::Errno(libc::EPERM));
    vec![
        ("plain", sh(SCRIPT).hostname("box")),
        (
            "mounts+seccomp+nnp",
            sh(SCRIPT)
                .mount(Mount::tmpfs("/tmp").size(1 << 20))
                .mount(Mount::dev("/dev"))
                .read_only_root()
                .seccomp(Seccomp::new(deny))
                .no_new_privs(),
        ),
        (
            "found in PATH after missing directories",
            Container::builder("sh")
                .args(["-c", SCRIPT])
                .env("PATH", missing_path_then_bin())
                .namespaces(NS)
                .root(RootFs::Tmpfs)
                .mounts(Mount::host_system())
                .mount(Mount::proc("/proc")),
        ),
    ]
}

/// A PATH whose first 40 directories do not exist: the child's execve fails 40
/// times (ENOENT) before it finds the program.
fn missing_path_then_bin() -> String {
    let mut dirs: Vec<String> = (0..40).map(|i| format!("/no/such/dir{i}")).collect();
    dirs.extend(["/usr/bin".into(), "/bin".into()]);
    dirs.join(":")
}

/// Each container's status and output, with the child sharing memory or copying it.
fn run_all(copying: bool, unprivileged: bool) -> Vec<(String, bool, String)> {
    let fork = if unprivileged {
        Fork::new().unprivileged()
    } else {
        Fork::new()
    };
    fork.run(move || {
        linception::__force_copying_clone(copying);
        containers()
            .into_iter()
            .map(|(name, b)| {
                let (st, out) = assert_no_leaks(|| output(b));
                (name.to_owned(), st.success(), out)
            })
            .collect()
    })
}

#[test]
fn sharing_and_copying_give_the_same_containers() {
    require!(Feature::UserNs, Feature::MountApi);
    for unprivileged in common::modes() {
        let shared = run_all(false, unprivileged);
        let copied = run_all(true, unprivileged);
        for (s, c) in shared.iter().zip(&copied) {
            assert!(s.1, "{} (shared) failed: {}", s.0, s.2);
            assert_eq!(s, c, "{}: shared and copying differ", s.0);
        }
        check_outputs(&shared);
    }
}

fn check_outputs(shared: &[(String, bool, String)]) {
    let strict = &shared[1].2;
    assert!(
        strict.contains("Seccomp:\t2") && strict.contains("NoNewPrivs:\t1"),
        "{strict}"
    );
    assert!(
        strict.contains("read-only") && strict.contains("unshare-denied"),
        "{strict}"
    );
    assert!(shared[0].2.contains("NoNewPrivs:\t0"), "{}", shared[0].2);
}

#[test]
fn failures_are_reported_the_same_both_ways() {
    require!(Feature::UserNs, Feature::MountApi);
    let fail = |copying: bool| {
        Fork::new().run(move || {
            linception::__force_copying_clone(copying);
            let builders: Vec<ContainerBuilder> = vec![
                sh("true").mount(Mount::bind("/no/such/source", "/mnt")),
                Container::builder("/no/such/program")
                    .namespaces(NS)
                    .root(RootFs::Tmpfs)
                    .mounts(Mount::host_system()),
            ];
            builders
                .into_iter()
                .map(|b| {
                    let e = assert_no_leaks(|| b.spawn().expect_err("must fail"));
                    assert_no_children();
                    (
                        format!("{:?}", e.kind()),
                        e.step().map(str::to_owned),
                        e.raw_os_error(),
                    )
                })
                .collect::<Vec<_>>()
        })
    };
    let shared = fail(false);
    assert_eq!(shared, fail(true));
    assert_eq!(shared[0].2, Some(libc::ENOENT), "{shared:?}");
}

/// A thread keeps opening, checking and closing fds (always the lowest free
/// numbers: those the child's own fds got too) while containers with several
/// mounts are spawned: an fd of the child's table closed in the parent by mistake
/// would be one of this thread's.
#[test]
fn the_childs_fds_are_never_closed_in_the_parent() {
    require!(Feature::UserNs, Feature::MountApi);
    let broken = Fork::new().timeout(Duration::from_secs(60)).run(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let broken = Arc::new(AtomicUsize::new(0));
        let checker = {
            let (stop, broken) = (stop.clone(), broken.clone());
            std::thread::spawn(move || {
                let null = std::fs::metadata("/dev/null").expect("stat /dev/null");
                use std::os::unix::fs::MetadataExt;
                while !stop.load(Ordering::Relaxed) {
                    let files: Vec<std::fs::File> = (0..4)
                        .map(|_| std::fs::File::open("/dev/null").expect("open"))
                        .collect();
                    std::thread::yield_now();
                    for f in &files {
                        match rustix::fs::fstat(f) {
                            Ok(st) if st.st_rdev == null.rdev() => {}
                            _ => {
                                broken.fetch_add(1, Ordering::Relaxed);
                                eprintln!("fd {} changed under its owner", f.as_raw_fd());
                            }
                        }
                    }
                    // Dropping a File whose fd was closed behind it would abort on
                    // EBADF in debug builds: leak those instead of closing twice.
                    if broken.load(Ordering::Relaxed) > 0 {
                        std::mem::forget(files);
                    }
                }
            })
        };
        for _ in 0..60 {
            let b = sh("true")
                .mount(Mount::tmpfs("/tmp"))
                .mount(Mount::tmpfs("/run"))
                .mount(Mount::dev("/dev"));
            let mut c = b.spawn().expect("spawn");
            assert!(c.wait().expect("wait").success());
            // A child that fails with mount trees still held in its slots (the
            // bind's tree is opened before its target, which cannot be made).
            sh("true")
                .mount(Mount::bind("/tmp", "/etc/hostname/x"))
                .mount(Mount::bind("/tmp", "/etc/passwd/y"))
                .spawn()
                .expect_err("no directory under a file");
        }
        stop.store(true, Ordering::Relaxed);
        checker.join().expect("checker thread");
        broken.load(Ordering::Relaxed) as u64
    });
    assert_eq!(broken, 0, "the parent closed fds of the child's table");
}

/// Spawns from four threads at once, each child failing 40 execve calls before it
/// finds its program, bounded in time.
#[test]
fn spawns_from_four_threads_at_once() {
    require!(Feature::UserNs, Feature::MountApi);
    let done = Fork::new().timeout(Duration::from_secs(90)).run(|| {
        let start = Instant::now();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                std::thread::spawn(move || {
                    let mut ok = 0u64;
                    for i in 0..25 {
                        let b = Container::builder("sh")
                            .args(["-c", "test \"$(hostname)\" = \"$H\""])
                            .env("PATH", missing_path_then_bin())
                            .env("H", format!("t{t}-{i}"))
                            .hostname(format!("t{t}-{i}"))
                            .namespaces(NS)
                            .root(RootFs::Tmpfs)
                            .mounts(Mount::host_system());
                        let mut c = b.spawn().expect("spawn");
                        if c.wait().expect("wait").success() {
                            ok += 1;
                        }
                    }
                    ok
                })
            })
            .collect();
        let ok: u64 = threads.into_iter().map(|t| t.join().expect("thread")).sum();
        assert_no_children();
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{:?}",
            start.elapsed()
        );
        ok
    });
    assert_eq!(done, 100, "every container saw its own hostname");
}
