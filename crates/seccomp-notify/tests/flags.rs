//! `SECCOMP_FILTER_FLAG_*` against the kernel: each flag installs, `LOG` makes an
//! `ERRNO` answer show in the audit log (and its absence does not), `SPEC_ALLOW`
//! leaves the speculative store bypass state as it was, `WAIT_KILLABLE_RECV`
//! installs with a listener only and keeps a received call from being interrupted
//! by a signal, and `filter_flags_available` agrees with what an install does.
// The WAIT_KILLABLE_RECV test installs a signal handler in a grandchild (libc).
#![allow(unsafe_code)]

mod common;

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use common::{Exit, getppid, in_grandchild, spawn_filtered, wait};
use linception_seccomp_notify::{
    Action, Error, Filter, FilterFlags, NoNewPrivs, filter_flags_available,
};
use linception_testkit::{Feature, Fork, require};

/// An errno no other test answers with: its audit records are this file's.
const ERRNO: i32 = libc::EBADFD;

fn program() -> linception_seccomp_notify::Program {
    Filter::new(Action::Allow)
        .rule("getppid", Action::Errno(ERRNO))
        .compile()
        .unwrap()
}

fn status_line(status: &str, key: &str) -> String {
    status
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or("")
        .to_owned()
}

/// The grandchildren's comm, which their audit records carry (the LOG test's own
/// differs: other tests here install with LOG too).
const COMM: &str = "lc-seccomp-flag";
const LOG_COMM: &str = "lc-seccomp-log";

/// In a grandchild: installs with `flags`, calls getppid; exit code 1 if the call
/// got the rule's errno and `Seccomp:` is 2.
fn installs(flags: FilterFlags) -> Exit {
    installs_as(flags, COMM)
}

fn installs_as(flags: FilterFlags, comm: &'static str) -> Exit {
    let p = program();
    in_grandchild(move || {
        let name = std::ffi::CString::new(comm).unwrap();
        rustix::thread::set_name(&name).unwrap();
        if p.install(flags, NoNewPrivs::Set).is_err() {
            return 2;
        }
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        (getppid() == -(ERRNO as i64) && status_line(&status, "Seccomp:").ends_with('2')) as i32
    })
}

#[test]
fn each_flag_and_their_combination_installs_and_the_filter_holds() {
    let cases = [
        FilterFlags::empty(),
        FilterFlags::TSYNC,
        FilterFlags::LOG,
        FilterFlags::SPEC_ALLOW,
        FilterFlags::TSYNC_ESRCH,
        FilterFlags::TSYNC | FilterFlags::LOG | FilterFlags::SPEC_ALLOW,
    ];
    for flags in cases {
        assert!(filter_flags_available(flags).unwrap(), "{flags:?}");
    }
    let out = Fork::new()
        .timeout(Duration::from_secs(20))
        .run(move || cases.map(installs).to_vec());
    assert_eq!(out, vec![Exit::Code(1); cases.len()], "{cases:?}");
}

#[test]
fn wait_killable_recv_installs_with_a_listener_only() {
    assert!(!filter_flags_available(FilterFlags::WAIT_KILLABLE_RECV).unwrap());
    let with = FilterFlags::WAIT_KILLABLE_RECV | FilterFlags::NEW_LISTENER;
    assert!(filter_flags_available(with).unwrap());
    let out = Fork::new().timeout(Duration::from_secs(20)).run(move || {
        let notifying = Filter::new(Action::Allow)
            .rule("getppid", Action::UserNotif)
            .compile()
            .unwrap();
        let plain = program();
        let refused = in_grandchild(move || {
            match plain.install(FilterFlags::WAIT_KILLABLE_RECV, NoNewPrivs::Set) {
                Err(Error::Syscall { .. }) => {
                    // Refused by the kernel: nothing installed.
                    (getppid() > 0) as i32
                }
                _ => 0,
            }
        });
        let listened = in_grandchild(move || match notifying.install(with, NoNewPrivs::Set) {
            Ok(Some(_listener)) => 1,
            _ => 0,
        });
        (refused, listened)
    });
    assert_eq!(out, (Exit::Code(1), Exit::Code(1)));
}

extern "C" fn on_signal(_: libc::c_int) {}

/// A notified getppid, sent SIGUSR1 (caught, without `SA_RESTART`) once the
/// supervisor has received it: whether the notification is still there 200 ms later,
/// and what the call returned (4242: our answer; `-EINTR`: interrupted).
fn signalled_while_received(flags: FilterFlags) -> (bool, Exit) {
    let program = Filter::new(Action::Allow)
        .rule("getppid", Action::UserNotif)
        .compile()
        .unwrap();
    let child = spawn_filtered(&program, flags, || {
        // SAFETY: a zeroed sigaction with a handler that does nothing (it is
        // async-signal-safe) and no flags; the grandchild is single-threaded.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            if libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()) != 0 {
                return 3;
            }
        }
        match getppid() {
            4242 => 1,
            r if r == -(libc::EINTR as i64) => 2,
            _ => 4,
        }
    });
    let listener = child.listener.unwrap();
    let notif = listener.recv().unwrap();
    let pidfd = rustix::process::pidfd_open(
        rustix::process::Pid::from_raw(child.pid).unwrap(),
        rustix::process::PidfdFlags::empty(),
    )
    .unwrap();
    rustix::process::pidfd_send_signal(&pidfd, rustix::process::Signal::USR1).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let pending = listener.id_valid(notif.id).unwrap_or(false);
    if pending {
        let _ = listener.respond_value(notif.id, 4242);
    }
    (pending, wait(child.pid))
}

#[test]
fn wait_killable_recv_keeps_a_received_call_from_signals() {
    require!(Feature::SeccompListener, Feature::PidfdOpen);
    let out = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        (
            signalled_while_received(FilterFlags::NEW_LISTENER),
            signalled_while_received(FilterFlags::NEW_LISTENER | FilterFlags::WAIT_KILLABLE_RECV),
        )
    });
    // Without the flag the signal interrupts the call (EINTR) and takes the
    // notification away; with it the call waits for the answer, then the handler runs.
    assert_eq!(out, ((false, Exit::Code(2)), (true, Exit::Code(1))));
}

#[test]
fn spec_allow_leaves_the_speculation_state_as_it_was() {
    let out = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let line = |flags: Option<FilterFlags>| {
            let (read, write) = std::io::pipe().unwrap();
            let p = program();
            let exit = in_grandchild(move || {
                if let Some(flags) = flags {
                    p.install(flags, NoNewPrivs::Set).unwrap();
                }
                let status = std::fs::read_to_string("/proc/self/status").unwrap();
                let l = status_line(&status, "Speculation_Store_Bypass:");
                std::io::Write::write_all(&mut &write, l.as_bytes()).unwrap();
                0
            });
            assert_eq!(exit, Exit::Code(0));
            let mut out = String::new();
            let mut read = read;
            read.read_to_string(&mut out).unwrap();
            out
        };
        (
            line(None),
            line(Some(FilterFlags::SPEC_ALLOW)),
            line(Some(FilterFlags::empty())),
        )
    });
    let (unfiltered, spec_allow, plain) = out;
    assert!(
        unfiltered.starts_with("Speculation_Store_Bypass:"),
        "{unfiltered}"
    );
    // SPEC_ALLOW: the kernel does not force the mitigation on.
    assert_eq!(spec_allow, unfiltered);
    // Without it the kernel may force it (spec_store_bypass_disable=seccomp), or
    // leave it (prctl/auto, or a CPU that cannot mitigate: "vulnerable").
    assert!(
        plain == unfiltered || plain.contains("force mitigated"),
        "{plain} (unfiltered: {unfiltered})"
    );
}

/// The audit records (type 1326, AUDIT_SECCOMP) in the kernel log from now on that
/// carry a comm and the ERRNO action.
struct Kmsg(std::fs::File);

impl Kmsg {
    fn open() -> std::io::Result<Kmsg> {
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")?;
        // Skip what is there already.
        let mut buf = vec![0u8; 16384];
        while let Ok(n) = f.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
        Ok(Kmsg(f))
    }

    fn ours(&mut self, comm: &str) -> Vec<String> {
        // The record's code is the action, without its data (the errno).
        let code = format!("code={:#x}", libc::SECCOMP_RET_ERRNO);
        let mut out = Vec::new();
        let mut buf = vec![0u8; 16384];
        loop {
            match self.0.read(&mut buf) {
                Ok(n) if n > 0 => {
                    let rec = String::from_utf8_lossy(&buf[..n]).into_owned();
                    if rec.contains("type=1326")
                        && rec.contains(&code)
                        && rec.contains(&format!("comm=\"{comm}\""))
                    {
                        out.push(rec);
                    }
                }
                // EAGAIN at the end; EPIPE if records were overwritten meanwhile
                // (the read then goes on from the oldest one).
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                _ => return out,
            }
        }
    }
}

#[test]
fn flag_log_audits_an_errno_answer() {
    linception_testkit::require_root!("reading the kernel log (/dev/kmsg)");
    let mut kmsg = Kmsg::open().expect("/dev/kmsg");
    let run = |flags| {
        Fork::new()
            .timeout(Duration::from_secs(20))
            .run(move || installs_as(flags, LOG_COMM))
    };
    assert_eq!(run(FilterFlags::empty()), Exit::Code(1));
    std::thread::sleep(Duration::from_millis(200));
    let without = kmsg.ours(LOG_COMM);
    // kauditd prints asynchronously, and rate-limited (printk_ratelimit: a burst of
    // 10 per 5 s, shared with every other audit record): one call per second, six
    // times at most.
    let mut with = Vec::new();
    for _ in 0..6 {
        assert_eq!(run(FilterFlags::LOG), Exit::Code(1));
        for _ in 0..20 {
            with.extend(kmsg.ours(LOG_COMM));
            if !with.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if !with.is_empty() {
            break;
        }
    }
    let probe = if !with.is_empty() || !without.is_empty() {
        Ok(())
    } else {
        Err("no AUDIT_SECCOMP record reaches the kernel log (auditd takes them, audit is off, or printk's rate limit dropped them)".into())
    };
    if !linception_testkit::require_custom("seccomp audit records in /dev/kmsg", "4.14", probe) {
        return;
    }
    assert!(without.is_empty(), "logged without LOG: {without:?}");
    let syscall = format!("syscall={}", libc::SYS_getppid);
    assert!(with.iter().all(|r| r.contains(&syscall)), "{with:?}");
}
