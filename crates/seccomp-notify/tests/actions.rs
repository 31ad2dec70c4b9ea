//! Filter actions, argument conditions, the architecture check and TSYNC, against
//! the real kernel. Filtered code runs in grandchildren of testkit Fork children.
// The filtered grandchildren make raw syscalls (libc), so that the call a filter
// sees is exactly the one written here.
#![allow(unsafe_code)]

mod common;

use std::time::Duration;

use common::{Exit, INSTALL_FAILED, filtered_results, getppid, in_grandchild, raw_syscall};
use linception_seccomp_notify::{
    Action, Arch, Cmp, Condition, Dispatch, Error, Filter, FilterFlags, NoNewPrivs,
};
use linception_testkit::{Feature, Fork, require};

fn single(action: Action) -> linception_seccomp_notify::Program {
    Filter::new(Action::Allow)
        .rule("getppid", action)
        .compile()
        .unwrap()
}

#[test]
fn kill_errno_log_trap_and_trace_do_what_they_say() {
    let out = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let ppid = std::process::id() as i64;
        let run = |action| {
            let program = single(action);
            in_grandchild(move || {
                program
                    .install_raw(FilterFlags::empty(), NoNewPrivs::Set)
                    .unwrap();
                let r = getppid();
                if r == ppid {
                    10
                } else if r < 0 {
                    (-r) as i32
                } else {
                    99
                }
            })
        };
        vec![
            run(Action::KillProcess),
            run(Action::KillThread),
            run(Action::Trap(7)),
            run(Action::Errno(libc::EACCES)),
            run(Action::Errno(0)),
            run(Action::Log),
            run(Action::Allow),
            // No tracer: the call fails with ENOSYS.
            run(Action::Trace(1)),
        ]
    });
    assert_eq!(
        out,
        vec![
            Exit::Signal(libc::SIGSYS),
            Exit::Signal(libc::SIGSYS),
            Exit::Signal(libc::SIGSYS),
            Exit::Code(libc::EACCES),
            // ERRNO(0): the call "succeeds" with 0 without running.
            Exit::Code(99),
            Exit::Code(10),
            Exit::Code(10),
            Exit::Code(libc::ENOSYS),
        ]
    );
}

#[test]
fn kill_thread_spares_the_other_threads_kill_process_does_not() {
    let out = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let run = |action| {
            let program = single(action);
            in_grandchild(move || {
                program
                    .install_raw(FilterFlags::empty(), NoNewPrivs::Set)
                    .unwrap();
                std::thread::spawn(|| {
                    getppid();
                });
                std::thread::sleep(Duration::from_millis(200));
                7
            })
        };
        (run(Action::KillThread), run(Action::KillProcess))
    });
    assert_eq!(out, (Exit::Code(7), Exit::Signal(libc::SIGSYS)));
}

#[test]
fn write_is_allowed_to_fd_1_only() {
    let out = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let only_stdout = |cond: Condition| {
            Filter::new(Action::Allow)
                .rule_if("write", [cond], Action::Allow)
                .rule("write", Action::Errno(libc::EPERM))
                .compile()
                .unwrap()
        };
        let empty = b"".as_ptr() as u64;
        let calls = [
            (libc::SYS_write, [1, empty, 0, 0, 0, 0]),
            (libc::SYS_write, [2, empty, 0, 0, 0, 0]),
            // fd 1 with garbage in the upper half: the kernel writes to fd 1.
            (libc::SYS_write, [1 | 1 << 32, empty, 0, 0, 0, 0]),
        ];
        (
            filtered_results(&only_stdout(Condition::new32(0, Cmp::Eq(1))), &calls),
            filtered_results(&only_stdout(Condition::new(0, Cmp::Eq(1))), &calls),
        )
    });
    let eperm = -(libc::EPERM as i64);
    assert_eq!(out.0, Ok(vec![0, eperm, 0]), "32-bit condition");
    assert_eq!(
        out.1,
        Ok(vec![0, eperm, eperm]),
        "64-bit condition sees the upper half"
    );
}

#[test]
fn every_comparison_on_64_bit_arguments_in_the_kernel() {
    let out = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let big = 0x1_0000_0005u64;
        let cmps = [
            Cmp::Eq(big),
            Cmp::Ne(big),
            Cmp::Lt(big),
            Cmp::Le(big),
            Cmp::Gt(big),
            Cmp::Ge(big),
            Cmp::MaskedEq {
                mask: 0xf_0000_000f,
                value: 0x1_0000_0005,
            },
        ];
        let values = [
            0,
            5,
            big - 1,
            big,
            big + 1,
            0x2_0000_0000,
            u64::MAX,
            0xf_ffff_fff5,
        ];
        let mut mismatches = Vec::new();
        for cmp in cmps {
            let filter = Filter::new(Action::Allow).rule_if(
                "getppid",
                [Condition::new(2, cmp)],
                Action::Errno(33),
            );
            let calls: Vec<_> = values
                .iter()
                .map(|&v| (libc::SYS_getppid, [0, 0, v, 0, 0, 0]))
                .collect();
            let got = filtered_results(&filter.compile().unwrap(), &calls).unwrap();
            for (&v, r) in values.iter().zip(got) {
                let want = Condition::new(2, cmp).matches(&[0, 0, v, 0, 0, 0]);
                if (r == -33) != want {
                    mismatches.push(format!("{cmp:?} on {v:#x}: kernel {r}, model {want}"));
                }
            }
        }
        mismatches
    });
    assert!(out.is_empty(), "{out:#?}");
}

#[cfg(target_arch = "x86_64")]
fn int80_getpid() -> i64 {
    let ret: i64;
    // SAFETY: `int 0x80` with eax = 20 is the i386 getpid(): no memory is touched;
    // r8-r11 are declared clobbered in case the compat entry does not preserve them.
    unsafe {
        core::arch::asm!(
            "int 0x80",
            inlateout("rax") 20i64 => ret,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
            options(nostack)
        );
    }
    ret
}

#[cfg(target_arch = "x86_64")]
#[test]
fn an_i386_call_on_x86_64_is_killed() {
    let probe = linception_testkit::probe_custom(|| {
        let pid = std::process::id() as i64;
        match int80_getpid() {
            r if r == pid => Ok(()),
            r => Err(format!("int 0x80 getpid returned {r}")),
        }
    });
    if !linception_testkit::require_custom("IA32 emulation (int 0x80)", "-", probe) {
        return;
    }
    let out = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let program = Filter::new(Action::Allow).compile().unwrap();
        in_grandchild(move || {
            program
                .install_raw(FilterFlags::empty(), NoNewPrivs::Set)
                .unwrap();
            // The 64-bit getpid is allowed...
            assert!(raw_syscall(libc::SYS_getpid, [0; 6]) > 0);
            // ...the same call through the i386 ABI is killed.
            int80_getpid();
            0
        })
    });
    assert_eq!(out, Exit::Signal(libc::SIGSYS));
}

#[test]
fn tsync_applies_the_filter_to_threads_that_already_run() {
    let out = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let program = single(Action::Errno(libc::EPERM));
        let run = |flags: FilterFlags| {
            let program = program.clone();
            in_grandchild(move || {
                let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
                let worker = std::thread::spawn(move || {
                    go_rx.recv().unwrap();
                    getppid()
                });
                assert!(program.install(flags, NoNewPrivs::Set).unwrap().is_none());
                go_tx.send(()).unwrap();
                let r = worker.join().unwrap();
                (r == -(libc::EPERM as i64)) as i32
            })
        };
        (run(FilterFlags::TSYNC), run(FilterFlags::empty()))
    });
    assert_eq!(out, (Exit::Code(1), Exit::Code(0)), "(TSYNC, no TSYNC)");
}

#[test]
fn tsync_with_a_listener_gets_tsync_esrch_added() {
    require!(Feature::SeccompListener);
    let out = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let program = single(Action::UserNotif);
        in_grandchild(move || {
            let t = std::thread::spawn(|| std::thread::sleep(Duration::from_millis(50)));
            let listener = program
                .install(
                    FilterFlags::NEW_LISTENER | FilterFlags::TSYNC,
                    NoNewPrivs::Set,
                )
                .unwrap();
            t.join().unwrap();
            listener.is_some() as i32
        })
    });
    assert_eq!(out, Exit::Code(1));
}

#[test]
fn log_spec_allow_and_wait_killable_flags_are_accepted() {
    require!(Feature::SeccompListener);
    let out = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let run = |program: linception_seccomp_notify::Program, flags| {
            in_grandchild(move || match program.install(flags, NoNewPrivs::Set) {
                // The listener is dropped at once: with nobody to answer, a notifying
                // call fails with ENOSYS instead of blocking.
                Ok(listener) => {
                    drop(listener);
                    match getppid() {
                        -5 => 11,
                        r if r == -(libc::ENOSYS as i64) => 12,
                        _ => 13,
                    }
                }
                Err(_) => INSTALL_FAILED,
            })
        };
        vec![
            run(single(Action::Errno(5)), FilterFlags::LOG),
            run(single(Action::Errno(5)), FilterFlags::SPEC_ALLOW),
            run(
                single(Action::UserNotif),
                FilterFlags::NEW_LISTENER | FilterFlags::WAIT_KILLABLE_RECV,
            ),
        ]
    });
    assert_eq!(out, vec![Exit::Code(11), Exit::Code(11), Exit::Code(12)]);
}

#[test]
fn programs_longer_than_255_instructions_jump_correctly_in_the_kernel() {
    let out = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        // 300 conditions on getppid, each 4 instructions: every jump past this block
        // needs a trampoline.
        let build = |dispatch| {
            let mut filter = Filter::new(Action::Allow).dispatch(dispatch);
            for v in 0..300u64 {
                filter = filter.rule_if(
                    "getppid",
                    [Condition::new(0, Cmp::Eq(v * 3 + 1))],
                    Action::Errno(2),
                );
            }
            filter
                .rule("getpid", Action::Errno(3))
                .rule("getuid", Action::Errno(4))
                .compile()
                .unwrap()
        };
        let calls = [
            (libc::SYS_getppid, [299 * 3 + 1, 0, 0, 0, 0, 0]),
            (libc::SYS_getppid, [1, 0, 0, 0, 0, 0]),
            (libc::SYS_getppid, [2, 0, 0, 0, 0, 0]),
            (libc::SYS_getpid, [0; 6]),
            (libc::SYS_getuid, [0; 6]),
            (libc::SYS_getgid, [0; 6]),
        ];
        let linear = build(Dispatch::Linear);
        let search = build(Dispatch::BinarySearch);
        (
            linear.len() as u64,
            filtered_results(&linear, &calls)
                .map(|r| r.iter().map(|&x| x.min(0)).collect::<Vec<_>>()),
            filtered_results(&search, &calls)
                .map(|r| r.iter().map(|&x| x.min(0)).collect::<Vec<_>>()),
        )
    });
    assert!(out.0 > 1000, "{}", out.0);
    let want = Ok(vec![-2, -2, 0, -3, -4, 0]);
    assert_eq!(out.1, want, "linear");
    assert_eq!(out.2, want, "binary search");
}

#[test]
fn whole_syscall_table_filters_are_accepted_and_behave() {
    let out = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let arch = Arch::native().unwrap();
        let keep = ["getppid", "exit_group", "exit", "writev"];
        // ERRNO(ENOSYS - 1) for every other syscall of the table, with a condition on
        // every third: about 400 rules.
        let mut filter = Filter::new(Action::Allow);
        for (i, (_, name)) in arch.syscalls().enumerate() {
            if keep.contains(&name) {
                continue;
            }
            filter = if i % 3 == 0 {
                filter.rule_if(name, [Condition::new(5, Cmp::Ne(77))], Action::Errno(37))
            } else {
                filter.rule(name, Action::Errno(37))
            };
        }
        let program = filter.compile().unwrap();
        let calls = [
            (libc::SYS_getppid, [0; 6]),
            (libc::SYS_getpid, [0; 6]),
            (libc::SYS_getuid, [0, 0, 0, 0, 0, 77]),
            (libc::SYS_gettid, [0, 0, 0, 0, 0, 77]),
        ];
        let want: Vec<i64> = calls
            .iter()
            .map(|&(nr, args)| {
                let data = linception_seccomp_notify::SeccompData {
                    nr: nr as i32,
                    arch: arch.audit_arch(),
                    instruction_pointer: 0,
                    args,
                };
                match filter.evaluate(&data).unwrap() {
                    Action::Errno(e) => -(e as i64),
                    _ => 0,
                }
            })
            .collect();
        let got = filtered_results(&program, &calls)
            .map(|r| r.iter().map(|&x| x.min(0)).collect::<Vec<_>>());
        (program.len() as u64, filter.rules().len() as u64, got, want)
    });
    assert!(out.1 > 300, "{} rules", out.1);
    assert!(out.0 < 1200, "{} instructions", out.0);
    assert_eq!(out.2, Ok(out.3));
}

#[test]
fn too_long_a_program_is_refused_before_the_syscall() {
    let mut filter = Filter::new(Action::Allow);
    for v in 0..1100u64 {
        filter = filter.rule_if("getppid", [Condition::new(1, Cmp::Eq(v))], Action::Errno(1));
    }
    let err = filter.compile().unwrap_err();
    assert!(
        matches!(err, Error::ProgramTooLong { max: 4096, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("BPF_MAXINSNS"), "{err}");
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn tsync_names_the_thread_that_cannot_sync() {
    let out = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let program = single(Action::Errno(libc::EPERM));
        in_grandchild(move || {
            let (ready_tx, ready_rx) = std::sync::mpsc::channel::<i32>();
            let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
            let diverging = Filter::new(Action::Allow).compile().unwrap();
            let t = std::thread::spawn(move || {
                // A filter of its own: this thread's filter tree diverges.
                diverging
                    .install_raw(FilterFlags::empty(), NoNewPrivs::Set)
                    .unwrap();
                ready_tx
                    .send(rustix::thread::gettid().as_raw_nonzero().get())
                    .unwrap();
                done_rx.recv().unwrap();
            });
            let tid = ready_rx.recv().unwrap();
            let result = program.install(FilterFlags::TSYNC, NoNewPrivs::Set);
            done_tx.send(()).unwrap();
            t.join().unwrap();
            match result {
                Err(Error::TsyncFailed { tid: failed }) if failed == tid => 1,
                Err(_) => 2,
                Ok(_) => 3,
            }
        })
    });
    assert_eq!(out, Exit::Code(1));
}

#[cfg(target_arch = "x86_64")]
#[test]
fn an_x32_call_on_x86_64_is_killed() {
    let out = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let x32_getpid =
            libc::SYS_getpid | linception_seccomp_notify::X32_SYSCALL_BIT as libc::c_long;
        // Unfiltered: the kernel answers (a pid, or ENOSYS without x32 support).
        let unfiltered = in_grandchild(move || {
            let r = raw_syscall(x32_getpid, [0; 6]);
            (r > 0 || r == -(libc::ENOSYS as i64)) as i32
        });
        let program = Filter::new(Action::Allow).compile().unwrap();
        let filtered = in_grandchild(move || {
            program
                .install_raw(FilterFlags::empty(), NoNewPrivs::Set)
                .unwrap();
            assert!(raw_syscall(libc::SYS_getpid, [0; 6]) > 0);
            raw_syscall(x32_getpid, [0; 6]);
            0
        });
        (unfiltered, filtered)
    });
    assert_eq!(out, (Exit::Code(1), Exit::Signal(libc::SIGSYS)));
}

#[test]
fn rootless_root_of_a_user_namespace_installs_without_no_new_privs() {
    require!(Feature::UnprivilegedUserNs);
    let out = Fork::new()
        .timeout(Duration::from_secs(20))
        .rootless()
        .run(|| {
            let program = single(Action::Errno(41));
            in_grandchild(move || {
                // CAP_SYS_ADMIN in its own user namespace is enough: no_new_privs stays off.
                program
                    .install(FilterFlags::empty(), NoNewPrivs::Keep)
                    .unwrap();
                let nnp = rustix::thread::no_new_privs().unwrap();
                (getppid() == -41 && !nnp) as i32
            })
        });
    assert_eq!(out, Exit::Code(1));
}
