//! `Seccomp::flags`: the filter of a container installed with `SECCOMP_FILTER_FLAG_*`,
//! as root and rootless; flags the builder keeps for itself, a listener-only flag
//! without a listener and unknown bits are refused by name before anything is made.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{failure, modes, output, sh, status_field};
use linception::Seccomp;
use linception::seccomp_notify::{Action, Filter, FilterFlags, Response};
use linception_testkit::{Feature, Fork, require};

const SCRIPT: &str = "uname -s 2>&1 || echo uname-failed; \
                      grep -E '^(Seccomp|Speculation_Store_Bypass):' /proc/self/status";

fn fork(unprivileged: bool) -> Fork {
    if unprivileged {
        Fork::new().unprivileged()
    } else {
        Fork::new()
    }
}

fn denying_uname() -> Filter {
    Filter::new(Action::Allow).rule("uname", Action::Errno(libc::EACCES))
}

/// Runs SCRIPT with the filter installed with `flags` (None: no filter).
fn run(flags: Option<FilterFlags>) -> String {
    let b = sh(SCRIPT);
    let b = match flags {
        Some(f) => b
            .no_new_privs()
            .seccomp(Seccomp::new(denying_uname()).flags(f)),
        None => b,
    };
    let (st, out) = output(b);
    assert!(st.success(), "{flags:?}: {st:?} {out}");
    out
}

#[test]
fn each_flag_installs_and_the_filter_holds() {
    require!(Feature::UserNs, Feature::UnprivilegedUserNs);
    for unprivileged in modes() {
        let outs = fork(unprivileged).run(|| {
            let flags = [
                FilterFlags::TSYNC,
                FilterFlags::LOG,
                FilterFlags::SPEC_ALLOW,
                FilterFlags::TSYNC | FilterFlags::LOG | FilterFlags::SPEC_ALLOW,
            ];
            let mut outs = vec![run(None)];
            outs.extend(flags.map(|f| run(Some(f))));
            outs
        });
        let unfiltered = &outs[0];
        assert_eq!(status_field(unfiltered, "Seccomp"), "0", "{unfiltered}");
        for out in &outs[1..] {
            assert!(out.contains("Permission denied\nuname-failed\n"), "{out}");
            assert_eq!(status_field(out, "Seccomp"), "2", "{out}");
        }
        // SPEC_ALLOW (outs 3 and 4): the speculation state stays as without a filter.
        for out in &outs[3..] {
            assert_eq!(
                status_field(out, "Speculation_Store_Bypass"),
                status_field(unfiltered, "Speculation_Store_Bypass"),
                "{out}"
            );
        }
    }
}

#[test]
fn wait_killable_recv_goes_with_a_notifying_filter() {
    require!(
        Feature::UserNs,
        Feature::UnprivilegedUserNs,
        Feature::SeccompListener
    );
    for unprivileged in modes() {
        let (seen, out) = fork(unprivileged).run(|| {
            let seen = Arc::new(AtomicUsize::new(0));
            let counter = seen.clone();
            let filter = Filter::new(Action::Allow).rule("uname", Action::UserNotif);
            let seccomp = Seccomp::new(filter)
                .flags(FilterFlags::WAIT_KILLABLE_RECV | FilterFlags::TSYNC)
                .on_notify(move |_, _| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    Response::Errno(libc::EXDEV)
                });
            let (st, out) = output(sh("uname -s 2>&1 || echo notified").seccomp(seccomp));
            assert!(st.success(), "{st:?} {out}");
            (seen.load(Ordering::SeqCst) as u64, out)
        });
        assert!(seen >= 1, "{out}");
        assert!(out.ends_with("notified\n"), "{out}");
    }
}

#[test]
fn flags_the_builder_owns_or_cannot_use_are_refused_before_anything_is_made() {
    require!(Feature::UserNs, Feature::UnprivilegedUserNs);
    for unprivileged in modes() {
        let with = |flags: FilterFlags| {
            move || sh("true").seccomp(Seccomp::new(denying_uname()).flags(flags))
        };
        let cases = [
            (
                FilterFlags::NEW_LISTENER,
                "NEW_LISTENER is set by on_notify()",
            ),
            (
                FilterFlags::WAIT_KILLABLE_RECV,
                "WAIT_KILLABLE_RECV needs a listener",
            ),
            (FilterFlags::from_bits_retain(1 << 30), "bits 0x40000000"),
        ];
        for (flags, says) in cases {
            let (kind, _, _, text) = failure(unprivileged, with(flags));
            assert_eq!(kind, "InvalidArgument", "{flags:?}: {text}");
            assert!(
                text.contains("Seccomp::flags") && text.contains(says),
                "{text}"
            );
        }
    }
}
