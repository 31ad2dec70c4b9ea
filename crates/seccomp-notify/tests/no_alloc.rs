//! What a child runs between clone and execve allocates nothing, on success and on
//! failure: `install_raw` (also when the kernel refuses the filter, or a second
//! listener), `send_fd` / `recv_fd` (also on a closed socket), and the errors the
//! failures build. Counted with a global allocator, in forked single-threaded
//! children, as root and unprivileged.
// The crate's error keeps the failed call inline (that is the point), so it is large.
#![allow(clippy::result_large_err)]

use std::os::fd::AsFd;
use std::time::Duration;

use linception_seccomp_notify::{
    Action, Arch, Error, Filter, FilterFlags, NoNewPrivs, Program, SockFilter, bpf::op, recv_fd,
    send_fd,
};
use linception_testkit::alloc::{CountingAllocator, allocations_in};
use linception_testkit::{Feature, Fork, require};
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketFlags, SocketType, socketpair};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn as_root_and_unprivileged() -> Vec<Fork> {
    let mut forks = vec![Fork::new().timeout(Duration::from_secs(20))];
    if linception_testkit::available(Feature::Root).is_ok() {
        forks.push(Fork::new().timeout(Duration::from_secs(20)).unprivileged());
    }
    forks
}

fn pair() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .expect("socketpair")
}

#[test]
fn fd_passing_allocates_nothing_on_success_and_failure() {
    for fork in as_root_and_unprivileged() {
        let (counts, errors) = fork.run(|| {
            let (a, b) = pair();
            let file = std::fs::File::open("/proc/self/stat").unwrap();
            // Success both ways.
            let ((received, sent_ok), n_ok) = allocations_in(|| {
                let sent = send_fd(&a, file.as_fd()).is_ok();
                (recv_fd(&b), sent)
            });
            let success = received.is_ok() && sent_ok;
            drop(received);

            // The peer is gone: send_fd fails (EPIPE, no SIGPIPE), recv_fd reads end
            // of file, which carried no fd.
            drop(b);
            let (sent, n_send) = allocations_in(|| send_fd(&a, file.as_fd()));
            let (c, d) = pair();
            drop(c);
            let (got, n_recv) = allocations_in(|| recv_fd(&d));
            // Not a socket at all: recvmsg's own errno.
            let (not_socket, n_sock) = allocations_in(|| recv_fd(&file));
            let errors = vec![
                format!("{:?}", sent.err()),
                got.map(drop).unwrap_err().to_string(),
                not_socket.map(drop).unwrap_err().to_string(),
            ];
            ((success, n_ok, n_send, n_recv, n_sock), errors)
        });
        assert_eq!(counts, (true, 0, 0, 0, 0), "{errors:?}");
        assert_eq!(errors[0], format!("{:?}", Some(Errno::PIPE)));
        assert!(errors[1].contains("no file descriptor"), "{}", errors[1]);
        assert!(
            errors[2].starts_with("recvmsg(fd ")
                && errors[2].ends_with("Socket operation on non-socket (ENOTSOCK)"),
            "{}",
            errors[2]
        );
    }
}

#[test]
fn refused_installs_allocate_nothing() {
    require!(Feature::SeccompListener);
    let arch = Arch::native().expect("a supported architecture");
    // The kernel's checker refuses a load past the end of seccomp_data.
    let bad = Program::from_instructions(
        arch,
        vec![
            SockFilter::stmt(op::LD | op::W | op::ABS, 4096),
            SockFilter::stmt(op::RET | op::K, libc::SECCOMP_RET_ALLOW),
        ],
    )
    .unwrap();
    // Notifies on a syscall the test never makes: installing it is harmless.
    let listening = Filter::new(Action::Allow)
        .rule("acct", Action::UserNotif)
        .compile()
        .unwrap();
    for fork in as_root_and_unprivileged() {
        let (bad, listening) = (bad.clone(), listening.clone());
        let (results, described) = fork.run(move || {
            let ((raw, rich), n_refused) = allocations_in(|| {
                (
                    bad.install_raw(FilterFlags::empty(), NoNewPrivs::Set)
                        .map(drop),
                    bad.install(FilterFlags::empty(), NoNewPrivs::Set).map(drop),
                )
            });
            // Kept open: closing the listener would let another one be created.
            let first = listening.install_raw(FilterFlags::NEW_LISTENER, NoNewPrivs::Set);
            // One listener per filter tree: a second is EBUSY.
            let ((again_raw, again), n_busy) = allocations_in(|| {
                (
                    listening
                        .install_raw(FilterFlags::NEW_LISTENER, NoNewPrivs::Set)
                        .map(drop),
                    listening
                        .install(FilterFlags::NEW_LISTENER, NoNewPrivs::Set)
                        .map(drop),
                )
            });
            let errno = |r: Result<(), Errno>| r.err().map(|e| e.raw_os_error());
            let rich_errno = |r: &Result<(), Error>| r.as_ref().err().and_then(Error::raw_os_error);
            let results = (
                (errno(raw), rich_errno(&rich), n_refused),
                (
                    matches!(first, Ok(Some(_))),
                    errno(again_raw),
                    rich_errno(&again),
                    n_busy,
                ),
            );
            drop(first);
            let described = vec![
                rich.err().map(|e| e.to_string()).unwrap_or_default(),
                again.err().map(|e| e.to_string()).unwrap_or_default(),
            ];
            (results, described)
        });
        assert_eq!(
            results,
            (
                (Some(libc::EINVAL), Some(libc::EINVAL), 0),
                (true, Some(libc::EBUSY), Some(libc::EBUSY), 0)
            ),
            "{described:?}"
        );
        assert!(
            described[0].starts_with("seccomp(SECCOMP_SET_MODE_FILTER, ")
                && described[0].ends_with("{len: 2}): Invalid argument (EINVAL)"),
            "{}",
            described[0]
        );
        assert!(
            described[1].ends_with("Device or resource busy (EBUSY)"),
            "{}",
            described[1]
        );
    }
}
