//! Hand-written programs, install flags and the kernel's struct sizes, side by
//! side with the kernel.
// The filtered grandchildren make raw syscalls (libc), so that the call a filter
// sees is exactly the one written here.
#![allow(unsafe_code)]

mod common;

use std::mem::size_of;
use std::time::Duration;

use common::{Exit, in_grandchild};
use linception_seccomp_notify::bpf::{BPF_MAXINSNS, op};
use linception_seccomp_notify::{
    Action, Arch, Error, ErrorKind, Filter, FilterFlags, NoNewPrivs, NotifSizes, Program,
    SeccompData, SockFilter, notif_sizes,
};
use linception_testkit::{Feature, Fork, require};

/// A plain child, and when the suite runs as root one dropped to 65534 too.
fn as_root_and_unprivileged() -> Vec<Fork> {
    let mut forks = vec![Fork::new().timeout(Duration::from_secs(20))];
    if linception_testkit::available(Feature::Root).is_ok() {
        forks.push(Fork::new().timeout(Duration::from_secs(20)).unprivileged());
    }
    forks
}

fn ret_allow() -> SockFilter {
    SockFilter::stmt(op::RET | op::K, libc::SECCOMP_RET_ALLOW)
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, 0, {len, filter})` straight to the kernel in a
/// grandchild (after no_new_privs): 0, or the errno.
fn kernel_install(instructions: Vec<SockFilter>) -> i32 {
    let exit = in_grandchild(move || {
        // SAFETY: prctl with integer arguments; `fprog` points at `instructions`,
        // which outlive the call, with its true length (at most u16::MAX here).
        unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return 100;
            }
            let fprog = libc::sock_fprog {
                len: instructions.len() as libc::c_ushort,
                filter: instructions.as_ptr() as *mut libc::sock_filter,
            };
            let ret = libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &fprog as *const libc::sock_fprog,
            );
            if ret == 0 {
                0
            } else {
                std::io::Error::last_os_error()
                    .raw_os_error()
                    .unwrap_or(101)
            }
        }
    });
    match exit {
        Exit::Code(code) => code,
        other => panic!("the grandchild ended with {other:?}"),
    }
}

#[test]
fn program_lengths_are_judged_like_the_kernel() {
    require!(Feature::SeccompListener);
    let arch = Arch::native().expect("a supported architecture");
    for fork in as_root_and_unprivileged() {
        let results = fork.run(move || {
            [0usize, 1, BPF_MAXINSNS, BPF_MAXINSNS + 1]
                .into_iter()
                .map(|len| {
                    let instructions = vec![ret_allow(); len];
                    let ours = match Program::from_instructions(arch, instructions.clone()) {
                        Ok(_) => "ok".to_string(),
                        Err(Error::EmptyProgram) => "EmptyProgram".to_string(),
                        Err(Error::ProgramTooLong { len, max }) => format!("TooLong {len} {max}"),
                        Err(other) => format!("{other}"),
                    };
                    (len as u32, ours, kernel_install(instructions))
                })
                .collect::<Vec<_>>()
        });
        assert_eq!(
            results,
            vec![
                (0, "EmptyProgram".to_string(), libc::EINVAL),
                (1, "ok".to_string(), 0),
                (4096, "ok".to_string(), 0),
                (4097, "TooLong 4097 4096".to_string(), libc::EINVAL),
            ]
        );
    }
    let err = Program::from_instructions(arch, Vec::new()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    assert_eq!(
        err.to_string(),
        "the BPF program is empty: seccomp needs at least one instruction (a RET)"
    );
}

/// `(no_new_privs, Seccomp: mode from /proc/self/status)` of the calling process.
fn seccomp_state() -> (i32, String) {
    // SAFETY: PR_GET_NO_NEW_PRIVS takes no pointer.
    let nnp = unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) };
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let mode = status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))
        .unwrap_or("?")
        .trim()
        .to_string();
    (nnp, mode)
}

#[test]
fn install_raw_refuses_a_notifying_program_without_a_listener_like_install() {
    require!(Feature::SeccompListener);
    let notifying = Filter::new(Action::Allow)
        .rule("getppid", Action::UserNotif)
        .compile()
        .unwrap();
    // A hand-written program that notifies is seen as notifying too.
    let raw = Program::from_instructions(
        Arch::native().expect("a supported architecture"),
        vec![SockFilter::stmt(
            op::RET | op::K,
            libc::SECCOMP_RET_USER_NOTIF,
        )],
    )
    .unwrap();
    assert!(raw.notifies());
    for program in [notifying, raw] {
        assert!(matches!(
            program.check_flags(FilterFlags::empty()),
            Err(Error::NotifyWithoutListener)
        ));
        program.check_flags(FilterFlags::NEW_LISTENER).unwrap();
        for fork in as_root_and_unprivileged() {
            let program = program.clone();
            let (before, refused, after) = fork.run(move || {
                let before = seccomp_state();
                let refused = program.install_raw(FilterFlags::TSYNC, NoNewPrivs::Set);
                let refused = matches!(refused, Err(e) if e == rustix::io::Errno::INVAL);
                (before, refused, seccomp_state())
            });
            assert!(refused, "install_raw did not answer EINVAL");
            // Refused before any syscall: no_new_privs untouched, no filter.
            assert_eq!(before, after);
            assert_eq!(after.1, "0");
        }
    }
    // A program that does not notify installs without a listener.
    let plain = Filter::new(Action::Allow)
        .rule("getppid", Action::Errno(libc::EPERM))
        .compile()
        .unwrap();
    for fork in as_root_and_unprivileged() {
        let plain = plain.clone();
        let mode = fork.run(move || {
            plain
                .install_raw(FilterFlags::empty(), NoNewPrivs::Set)
                .unwrap();
            seccomp_state().1
        });
        assert_eq!(mode, "2");
    }
}

#[test]
fn notif_sizes_are_the_kernels_and_match_the_crate() {
    require!(Feature::SeccompListener);
    let run = |fork: Fork| {
        fork.run(|| {
            let s = notif_sizes().unwrap();
            (s.seccomp_notif, s.seccomp_notif_resp, s.seccomp_data)
        })
    };
    // Asked by root and by 65534 (or as the unprivileged caller).
    for (notif, resp, data) in as_root_and_unprivileged().into_iter().map(run) {
        // This kernel's structs are Linux 5.0's, the crate's and libc's layouts.
        let crate_sizes = NotifSizes::CRATE;
        assert_eq!(
            (notif, resp, data),
            (
                crate_sizes.seccomp_notif,
                crate_sizes.seccomp_notif_resp,
                crate_sizes.seccomp_data
            )
        );
        assert_eq!(usize::from(notif), size_of::<libc::seccomp_notif>());
        assert_eq!(usize::from(resp), size_of::<libc::seccomp_notif_resp>());
        assert_eq!(usize::from(data), size_of::<SeccompData>());
    }
}
