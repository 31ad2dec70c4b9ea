//! Helpers: run filtered code in a grandchild, supervise it from the (unfiltered)
//! testkit child.
// Grandchildren are forked raw and end with _exit: the filter they install must not
// reach the supervising child, and no destructor of the parent may run in them.
#![allow(unsafe_code)]
#![allow(dead_code)]

use std::os::fd::AsFd;
use std::panic::{AssertUnwindSafe, catch_unwind};

use linception_seccomp_notify::{FilterFlags, Listener, NoNewPrivs, Program, recv_fd, send_fd};
use rustix::net::{AddressFamily, SocketFlags, SocketType, socketpair};

/// How a filtered grandchild ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

/// A forked grandchild running under a filter.
pub struct Filtered {
    pub pid: libc::pid_t,
    pub listener: Option<Listener>,
}

/// Exit codes the helper itself uses in the grandchild.
pub const INSTALL_FAILED: i32 = 120;
pub const SEND_FAILED: i32 = 121;
pub const PANICKED: i32 = 122;

/// Forks; the grandchild installs `program` (setting no_new_privs) with `flags`,
/// sends the listener (if any) back over a socketpair, runs `work` and exits with
/// its return value. Call from a testkit Fork child only.
pub fn spawn_filtered(
    program: &Program,
    flags: FilterFlags,
    work: impl FnOnce() -> i32,
) -> Filtered {
    let (ours, theirs) = socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .expect("socketpair");
    // SAFETY: the testkit child is single-threaded; the grandchild only installs,
    // sends one fd, runs `work` under catch_unwind and _exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let _ =
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
        drop(ours);
        let code = match program.install_raw(flags, NoNewPrivs::Set) {
            Ok(listener) => {
                let sent = listener
                    .as_ref()
                    .is_none_or(|fd| send_fd(&theirs, fd.as_fd()).is_ok());
                drop(listener);
                drop(theirs);
                if sent {
                    catch_unwind(AssertUnwindSafe(work)).unwrap_or(PANICKED)
                } else {
                    SEND_FAILED
                }
            }
            Err(_) => INSTALL_FAILED,
        };
        // SAFETY: ends the grandchild without running the testkit child's code.
        unsafe { libc::_exit(code) };
    }
    drop(theirs);
    let listener = flags
        .contains(FilterFlags::NEW_LISTENER)
        .then(|| Listener::new(recv_fd(&ours).expect("receive the listener")));
    Filtered { pid, listener }
}

/// Reaps the grandchild.
pub fn wait(pid: libc::pid_t) -> Exit {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer; `pid` is our child.
        let ret = unsafe { libc::waitpid(pid, &mut status, 0) };
        if ret == pid {
            break;
        }
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::EINTR),
            "waitpid({pid})"
        );
    }
    if libc::WIFEXITED(status) {
        Exit::Code(libc::WEXITSTATUS(status))
    } else {
        Exit::Signal(libc::WTERMSIG(status))
    }
}

/// `syscall(nr, args...)`: the return value, or `-errno`.
pub fn raw_syscall(nr: libc::c_long, args: [u64; 6]) -> i64 {
    // SAFETY: only called with syscalls that take integers or valid pointers.
    let ret = unsafe { libc::syscall(nr, args[0], args[1], args[2], args[3], args[4], args[5]) };
    if ret < 0 {
        -(std::io::Error::last_os_error().raw_os_error().unwrap_or(0) as i64)
    } else {
        ret as i64
    }
}

/// getppid with arguments (which it ignores, but a filter sees).
pub fn getppid_with(args: [u64; 6]) -> i64 {
    raw_syscall(libc::SYS_getppid, args)
}

pub fn getppid() -> i64 {
    getppid_with([0; 6])
}

impl linception_testkit::Wire for Exit {
    fn encode(&self, out: &mut Vec<u8>) {
        let (tag, v) = match *self {
            Exit::Code(c) => (0u8, c),
            Exit::Signal(s) => (1u8, s),
        };
        tag.encode(out);
        v.encode(out);
    }
    fn decode(input: &mut &[u8]) -> Option<Self> {
        let tag = u8::decode(input)?;
        let v = i32::decode(input)?;
        match tag {
            0 => Some(Exit::Code(v)),
            1 => Some(Exit::Signal(v)),
            _ => None,
        }
    }
}

/// Runs `work` in a forked grandchild (which may install filters itself) and
/// returns how it ended. Call from a testkit Fork child only.
pub fn in_grandchild(work: impl FnOnce() -> i32) -> Exit {
    // SAFETY: the testkit child is single-threaded; the grandchild runs `work` under
    // catch_unwind and _exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // Never outlive the testkit child (a timed-out test must leave nothing behind).
        let _ =
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
        let code = catch_unwind(AssertUnwindSafe(work)).unwrap_or(PANICKED);
        // SAFETY: ends the grandchild without running the testkit child's code.
        unsafe { libc::_exit(code) };
    }
    wait(pid)
}

/// Installs `program` (no listener) in a grandchild, runs `calls` there and returns
/// their results (`-errno` on failure), or how the grandchild ended if it died.
pub fn filtered_results(
    program: &Program,
    calls: &[(libc::c_long, [u64; 6])],
) -> Result<Vec<i64>, Exit> {
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).expect("pipe");
    let exit = in_grandchild(|| {
        if program
            .install_raw(FilterFlags::empty(), NoNewPrivs::Set)
            .is_err()
        {
            return INSTALL_FAILED;
        }
        for &(nr, args) in calls {
            let r = raw_syscall(nr, args);
            // writev, not write: the filters under test restrict write.
            let bytes = r.to_ne_bytes();
            if rustix::io::writev(&write, &[std::io::IoSlice::new(&bytes)]).is_err() {
                return SEND_FAILED;
            }
        }
        0
    });
    drop(write);
    let mut out = Vec::new();
    let mut buf = [0u8; 8];
    while let Ok(8) = rustix::io::read(&read, &mut buf) {
        out.push(i64::from_ne_bytes(buf));
    }
    match exit {
        Exit::Code(0) if out.len() == calls.len() => Ok(out),
        other => Err(other),
    }
}
