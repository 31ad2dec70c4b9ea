//! The forms made for code between clone and execve (`clone3_parent`, `setns` and
//! `pidfd_send_signal` on borrowed fds) and the failure paths of the calls such
//! code makes allocate nothing: counted with a global allocator, in forked
//! single-threaded children.
// Unsafe code here: the crate's unsafe `clone3_parent`, `setns` and `fork` are under
// test (in forked children), whose new processes must end with `_exit`.
#![allow(unsafe_code)]
// The crate's errors keep the failed call inline, so they are large by design.
#![allow(clippy::result_large_err)]

use std::os::fd::AsFd;

use linception_pidfd::{
    CloneArgs, CloneResult, ErrorKind, NamespaceFd, Namespaces, Pid, PidFd, PidfdFlags, Signal,
    clone3_parent, pidfd_send_signal, setns,
};
use linception_testkit::alloc::{CountingAllocator, allocations_in as count};
use linception_testkit::{Feature, Fork, require};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// `_exit(code)`: how a fork-like child ends without running the parent's handlers.
fn exit_now(code: i32) -> ! {
    // SAFETY: _exit ends the process at once; it is async-signal-safe.
    unsafe { libc::_exit(code) }
}

/// A process that has exited and been reaped: its pid (free again) and its pidfd.
fn reaped_child() -> (Pid, PidFd) {
    // SAFETY: the child calls nothing but _exit.
    match unsafe { CloneArgs::new().fork() }.unwrap() {
        CloneResult::Child => exit_now(0),
        CloneResult::Parent { pid, pidfd } => {
            pidfd.wait().unwrap();
            (pid, pidfd)
        }
    }
}

#[test]
fn child_forms_allocate_nothing_on_success() {
    require!(Feature::UserNs, Feature::Clone3, Feature::PidfdOpen);
    Fork::new().rootless().unshare(libc::CLONE_NEWUTS).run(|| {
        // Prepared "in the parent": a pidfd for this process, its own uts
        // namespace (owned by its user namespace, so joining it is allowed).
        let me = PidFd::open(Pid::this(), PidfdFlags::empty()).unwrap();
        let uts = NamespaceFd::open("/proc/self/ns/uts").unwrap();
        let (r, n) = count(|| {
            // SAFETY: this forked test child is single-threaded.
            let joined = unsafe { setns(uts.as_fd(), Namespaces::UTS) };
            // SAFETY: as above; the pidfd form with one type.
            let joined_pidfd = unsafe { setns(me.as_fd(), Namespaces::UTS) };
            let signalled = pidfd_send_signal(me.as_fd(), Signal::NULL);
            let opened = PidFd::open(Pid::this(), PidfdFlags::empty()).map(drop);
            (joined, joined_pidfd, signalled, opened)
        });
        assert_eq!(n, 0, "the success paths allocated {n} times");
        let (a, b, c, d) = r;
        a.unwrap();
        b.unwrap();
        c.unwrap();
        d.unwrap();

        // clone3_parent from a helper (as the umbrella's exec helper does): the
        // new process is a child of this process, not of the helper.
        // SAFETY: the helper only calls clone3_parent, drops a pidfd and _exits;
        // its sibling only _exits.
        let helper = match unsafe { CloneArgs::new().fork() }.unwrap() {
            CloneResult::Child => {
                // SAFETY: a single-threaded child; a new process only _exits.
                let (r, n) = count(|| unsafe { clone3_parent() });
                match r {
                    Ok(CloneResult::Child) => exit_now(if n == 0 { 77 } else { 78 }),
                    Ok(CloneResult::Parent { pidfd, .. }) => {
                        drop(pidfd);
                        exit_now(if n == 0 { 0 } else { 1 })
                    }
                    Err(_) => exit_now(2),
                }
            }
            CloneResult::Parent { pid, .. } => pid,
        };
        let mut codes = Vec::new();
        for _ in 0..2 {
            let (pid, status) = rustix::process::wait(rustix::process::WaitOptions::empty())
                .unwrap()
                .unwrap();
            let pid = pid.as_raw_nonzero().get();
            codes.push((pid == helper.as_raw(), status.exit_status()));
        }
        codes.sort();
        // The sibling (reaped here, so it was our child) exited 77: it counted
        // no allocation; the helper exited 0: neither did it.
        assert_eq!(codes, [(false, Some(77)), (true, Some(0))]);
    });
}

#[test]
fn failure_paths_allocate_nothing() {
    require!(Feature::Clone3, Feature::PidfdOpen);
    Fork::new().unprivileged().run(|| {
        let (dead, gone) = reaped_child();
        let uts = NamespaceFd::open("/proc/self/ns/uts").unwrap();

        let (err, n) = count(|| PidFd::open(dead, PidfdFlags::empty()).unwrap_err());
        assert_eq!(n, 0, "pidfd_open of a dead pid allocated");
        assert!(err.is_process_gone(), "{err}");

        let (err, n) = count(|| gone.send_signal(Signal::TERM).unwrap_err());
        assert_eq!(n, 0, "send_signal to a reaped process allocated");
        assert!(err.is_process_gone(), "{err}");
        assert!(err.to_string().contains("SIGTERM, NULL, 0)"), "{err}");

        let (err, n) = count(|| pidfd_send_signal(gone.as_fd(), Signal::TERM).unwrap_err());
        assert_eq!(n, 0, "pidfd_send_signal on a borrowed pidfd allocated");
        assert!(err.is_process_gone(), "{err}");

        // SAFETY: this forked test child is single-threaded.
        let (err, n) = count(|| unsafe { setns(uts.as_fd(), Namespaces::UTS) }.unwrap_err());
        assert_eq!(n, 0, "a refused setns allocated");
        assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err}");
        assert_eq!(err.kind(), ErrorKind::PermissionDenied);
        assert!(err.to_string().starts_with("setns(fd "), "{err}");
        assert!(
            err.to_string()
                .ends_with(", CLONE_NEWUTS): Operation not permitted (EPERM)")
        );

        // SAFETY: as above.
        let (err, n) = count(|| unsafe { setns(gone.as_fd(), Namespaces::UTS) }.unwrap_err());
        assert_eq!(n, 0, "setns through a reaped pidfd allocated");
        assert!(err.is_process_gone(), "{err}");

        // SAFETY: as above.
        let (err, n) = count(|| unsafe { gone.setns(Namespaces::UTS) }.unwrap_err());
        assert_eq!(n, 0, "PidFd::setns of a reaped process allocated");
        assert!(err.is_process_gone(), "{err}");
    });
}

#[test]
fn refused_clone3_parent_allocates_nothing() {
    require!(Feature::UserNs, Feature::Clone3);
    Fork::new().rootless().unshare(libc::CLONE_NEWPID).run(|| {
        // The first child is the new pid namespace's init, which the kernel
        // does not let have siblings: CLONE_PARENT is EINVAL there.
        // SAFETY: the child only calls clone3_parent and _exits (as does a
        // sibling, should the kernel ever make one).
        let init = match unsafe { CloneArgs::new().fork() }.unwrap() {
            CloneResult::Child => {
                // SAFETY: a single-threaded child; a new process only _exits.
                let (r, n) = count(|| unsafe { clone3_parent() });
                exit_now(match r {
                    Err(e) if e.raw_os_error() == Some(libc::EINVAL) && n == 0 => 0,
                    Err(_) if n != 0 => 1,
                    Err(_) => 2,
                    Ok(_) => 3,
                })
            }
            CloneResult::Parent { pidfd, .. } => pidfd,
        };
        assert_eq!(init.wait().unwrap().code(), Some(0));
    });
    // The same refusal, displayed (outside the counted part).
    let msg = Fork::new().rootless().unshare(libc::CLONE_NEWPID).run(|| {
        let (r, w) = std::os::unix::net::UnixStream::pair().unwrap();
        // SAFETY: the child writes its message over a socket and _exits; it may
        // allocate, as nothing else runs in this single-threaded test child.
        match unsafe { CloneArgs::new().fork() }.unwrap() {
            CloneResult::Child => {
                use std::io::Write;
                // SAFETY: a single-threaded child; a new process only _exits.
                let text = match unsafe { clone3_parent() } {
                    Err(e) => e.to_string(),
                    Ok(_) => "clone3_parent succeeded".into(),
                };
                let _ = (&w).write_all(text.as_bytes());
                exit_now(0)
            }
            CloneResult::Parent { pidfd, .. } => {
                drop(w);
                pidfd.wait().unwrap();
                let mut s = String::new();
                std::io::Read::read_to_string(&mut &r, &mut s).unwrap();
                s
            }
        }
    });
    assert_eq!(
        msg,
        "clone3({flags: CLONE_PARENT|CLONE_PIDFD, exit_signal: 0}): Invalid argument (EINVAL)"
    );
}
