//! Filters for x86_64's compat ABIs (`Filter::with_arch`): the i386 and x32 tables
//! resolve names, a name an ABI lacks is skipped there, the compiled program agrees
//! with the rules (looked up by name) for every (ABI, syscall) pair, and the kernel
//! applies the rules to `int 0x80` and x32 calls.
// The filtered grandchildren make raw syscalls (libc, `int 0x80`), so that the call
// a filter sees is exactly the one written here.
#![allow(unsafe_code)]

mod common;

use std::time::Duration;

use common::{Exit, in_grandchild, raw_syscall};
use linception_seccomp_notify::{
    AUDIT_ARCH_AARCH64, Action, Arch, Cmp, Condition, Dispatch, Error, Filter, FilterFlags,
    NoNewPrivs, SeccompData, X32_SYSCALL_BIT,
};
use linception_testkit::Fork;

const ALL: [Arch; 4] = [Arch::X86_64, Arch::X86, Arch::X32, Arch::Aarch64];

#[test]
fn the_compat_tables_know_their_own_numbers() {
    let x86 = |n| Arch::X86.syscall_number(n).unwrap();
    let x32 = |n| Arch::X32.syscall_number(n).unwrap() & !X32_SYSCALL_BIT;
    assert_eq!(
        [
            x86("getpid"),
            x86("socketcall"),
            x86("socket"),
            x86("mmap2")
        ],
        [20, 102, 359, 192]
    );
    assert_eq!(
        [x86("clone3"), x86("openat2"), x86("listns")],
        [435, 437, 470]
    );
    // x32 shares x86_64's `common` numbers and has its own 512..=547.
    assert_eq!(
        [x32("getpid"), x32("openat"), x32("clone3")],
        [39, 257, 435]
    );
    assert_eq!(
        [x32("rt_sigaction"), x32("ioctl"), x32("pwritev2")],
        [512, 514, 547]
    );
    assert!(Arch::X32.syscall_number("getpid").unwrap() & X32_SYSCALL_BIT != 0);
    // Names an ABI lacks.
    assert!(Arch::X86.syscall_number("newfstatat").is_err());
    assert!(Arch::X86.syscall_number("arch_prctl").is_ok());
    assert!(Arch::X32.syscall_number("uselib").is_err()); // a `64` line
    assert!(Arch::X86_64.syscall_number("socketcall").is_err());
    // Every entry of every table round-trips, sorted and without duplicates.
    for arch in ALL {
        let all: Vec<_> = arch.syscalls().collect();
        assert!(
            all.windows(2).all(|w| w[0].0 < w[1].0),
            "{arch}: not sorted"
        );
        for &(nr, name) in &all {
            assert_eq!(arch.syscall_number(name).unwrap(), nr, "{arch} {name}");
            assert_eq!(arch.syscall_name(nr), Some(name), "{arch} {nr:#x}");
        }
        assert_eq!(
            arch.syscalls().count(),
            arch.syscalls()
                .map(|(_, n)| n)
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        );
    }
    // An x32 number needs its bit, an x86_64 one must not have it.
    assert_eq!(Arch::X32.syscall_name(39), None);
    assert_eq!(Arch::X86_64.syscall_name(39 | X32_SYSCALL_BIT), None);
    assert_eq!(
        Arch::of(Arch::X86_64.audit_arch(), 39 | X32_SYSCALL_BIT),
        Some(Arch::X32)
    );
    assert_eq!(Arch::of(Arch::X86.audit_arch(), 20), Some(Arch::X86));
    assert_eq!(Arch::X86.syscalls().count(), 460);
}

/// The rules, read as the spec of a filter: for a call through a listed ABI, the
/// first rule whose syscall has this name in that ABI's table and whose conditions
/// hold; a call through an ABI not listed is killed. Looks rules up by name, not by
/// the numbers the compiler resolved.
fn by_name(filter: &Filter, data: &SeccompData) -> Action {
    let nr = data.nr as u32;
    let Some(arch) = Arch::of(data.arch, nr).filter(|a| filter.arches().any(|f| f == *a)) else {
        return Action::KillProcess;
    };
    let name = arch.syscall_name(nr);
    filter
        .rules()
        .iter()
        .find(|r| {
            let holds = |skip_arg0: bool| {
                r.conditions
                    .iter()
                    .filter(|c| !(skip_arg0 && c.arg == 0))
                    .all(|c| c.matches(&data.args))
            };
            match &r.syscall {
                linception_seccomp_notify::Syscall::Name(n) => {
                    // On i386, socketcall(call, ...) and ipc(call, ...) stand for
                    // the call numbered in argument 0 too (its own argument 0 is
                    // then the call number).
                    let muxed = arch == Arch::X86
                        && MULTIPLEXED.iter().any(|&(m, mux, call)| {
                            m == n && mux == nr && data.args[0] as u32 == call
                        });
                    (Some(n.as_str()) == name && holds(false)) || (muxed && holds(true))
                }
                &linception_seccomp_notify::Syscall::Number(n) => {
                    arch == filter.arch() && n == nr && holds(false)
                }
            }
        })
        .map_or(filter.default_action(), |r| r.action)
}

/// i386's multiplexed calls: (name, socketcall 102 or ipc 117, call number in
/// argument 0), from linux/net.h (`SYS_*`) and linux/ipc.h.
const MULTIPLEXED: [(&str, u32, u32); 32] = [
    ("socket", 102, 1),
    ("bind", 102, 2),
    ("connect", 102, 3),
    ("listen", 102, 4),
    ("accept", 102, 5),
    ("getsockname", 102, 6),
    ("getpeername", 102, 7),
    ("socketpair", 102, 8),
    ("send", 102, 9),
    ("recv", 102, 10),
    ("sendto", 102, 11),
    ("recvfrom", 102, 12),
    ("shutdown", 102, 13),
    ("setsockopt", 102, 14),
    ("getsockopt", 102, 15),
    ("sendmsg", 102, 16),
    ("recvmsg", 102, 17),
    ("accept4", 102, 18),
    ("recvmmsg", 102, 19),
    ("sendmmsg", 102, 20),
    ("semop", 117, 1),
    ("semget", 117, 2),
    ("semctl", 117, 3),
    ("semtimedop", 117, 4),
    ("msgsnd", 117, 11),
    ("msgrcv", 117, 12),
    ("msgget", 117, 13),
    ("msgctl", 117, 14),
    ("shmat", 117, 21),
    ("shmdt", 117, 22),
    ("shmget", 117, 23),
    ("shmctl", 117, 24),
];

/// A profile-like rule set: names every ABI has, names only some have (socketcall,
/// newfstatat, rt_sigaction's x32 number, x32-less `uselib`), argument conditions.
fn profile(arches: &[Arch], dispatch: Dispatch) -> Filter {
    let mut f = Filter::for_arch(arches[0], Action::Errno(libc::EPERM)).dispatch(dispatch);
    for &a in &arches[1..] {
        f = f.with_arch(a);
    }
    let allow = [
        "read",
        "write",
        "openat",
        "close",
        "mmap",
        "mmap2",
        "rt_sigaction",
        "ioctl",
        "socketcall",
        "socket",
        "newfstatat",
        "fstatat64",
        "uselib",
        "clone3",
        "getpid",
        "exit_group",
        "execve",
        "preadv2",
        "arch_prctl",
        "listns",
    ];
    // A name no listed ABI has is refused (the multi-ABI skip is tested below).
    for name in allow
        .into_iter()
        .filter(|n| arches.iter().any(|a| a.syscall_number(n).is_ok()))
    {
        f = f.rule(name, Action::Allow);
    }
    f.rule_if("kill", [Condition::new32(1, Cmp::Eq(0))], Action::Allow)
        .rule_if(
            "bind",
            [Condition::new32(0, Cmp::Eq(7))],
            Action::Errno(libc::EADDRINUSE),
        )
        .rule_if(
            "connect",
            [Condition::new(1, Cmp::Eq(9))],
            Action::Errno(libc::ENETDOWN),
        )
        .rule("accept", Action::Errno(libc::EAGAIN))
        .rule("semop", Action::Errno(libc::EIDRM))
        .rule("shmget", Action::Allow)
        .rule_if("personality", [Condition::new(0, Cmp::Le(8))], Action::Log)
        .rule("ptrace", Action::KillProcess)
        .rule("getppid", Action::Errno(libc::EACCES))
}

#[test]
fn every_abi_and_syscall_gets_what_the_rules_say() {
    let sets: [&[Arch]; 6] = [
        &[Arch::X86_64],
        &[Arch::X86_64, Arch::X86],
        &[Arch::X86_64, Arch::X32],
        &[Arch::X86_64, Arch::X86, Arch::X32],
        &[Arch::X86],
        &[Arch::X32, Arch::X86],
    ];
    // Argument vectors that hit the conditions, and every multiplexed call number
    // (in argument 0, with argument 1 at 9 or not).
    let mut args = vec![
        [0u64; 6],
        [7, 0, 0, 0, 0, 0],
        [0, 9, 0, 0, 0, 0],
        [9, 1 << 32, 0, 0, 0, 0],
    ];
    for &(_, _, call) in &MULTIPLEXED {
        args.push([call as u64, 9, 0, 0, 0, 0]);
        args.push([call as u64 | 1 << 32, 0, 0, 0, 0, 0]);
    }
    for arches in sets {
        for dispatch in [Dispatch::Auto, Dispatch::Linear, Dispatch::BinarySearch] {
            let filter = profile(arches, dispatch);
            let program = filter.compile().unwrap();
            assert_eq!(program.arches(), arches);
            let mut checked = 0;
            for abi in ALL {
                // Every number of the ABI's table, and numbers none has.
                let nrs = abi
                    .syscalls()
                    .map(|(nr, _)| nr)
                    .chain([600, 1000, 0xffff].map(|n| n | abi.syscall_bit()));
                for nr in nrs {
                    // The multiplexers' call numbers matter to socketcall and ipc only.
                    let vectors = if matches!(nr, 102 | 117) {
                        &args[..]
                    } else {
                        &args[..4]
                    };
                    for &args in vectors {
                        let data = SeccompData {
                            nr: nr as i32,
                            arch: abi.audit_arch(),
                            instruction_pointer: 0,
                            args,
                        };
                        let want = by_name(&filter, &data);
                        assert_eq!(
                            program.evaluate(&data).unwrap(),
                            want,
                            "{arches:?} {dispatch:?}: {abi} nr {nr:#x} {:?} args {args:?}",
                            abi.syscall_name(nr)
                        );
                        // The crate's reference evaluation (slower: it resolves each time).
                        if dispatch == Dispatch::Auto && args == [0; 6] {
                            assert_eq!(filter.evaluate(&data).unwrap(), want);
                        }
                        checked += 1;
                    }
                }
            }
            assert!(checked > 4 * 1500, "{checked}");
        }
    }
}

#[test]
fn one_abi_programs_are_unchanged_and_compat_abis_cost_their_own_rules() {
    let native = profile(&[Arch::X86_64], Dispatch::Auto).compile().unwrap();
    // Listing the filter's own ABI again changes nothing.
    let again = profile(&[Arch::X86_64, Arch::X86_64], Dispatch::Auto)
        .compile()
        .unwrap();
    assert_eq!(native, again);
    let x86 = profile(&[Arch::X86], Dispatch::Auto).compile().unwrap();
    let x32 = profile(&[Arch::X32], Dispatch::Auto).compile().unwrap();
    let all = profile(&[Arch::X86_64, Arch::X86, Arch::X32], Dispatch::Auto)
        .compile()
        .unwrap();
    // Each ABI's section is its own program's minus the shared arch load and kill.
    assert!(
        all.len() <= native.len() + x86.len() + x32.len(),
        "{}",
        all.len()
    );
    assert!(all.len() > native.len() + x86.len(), "{}", all.len());
}

#[test]
fn a_name_no_listed_abi_has_is_refused_and_numbers_are_the_first_abis() {
    let err = Filter::for_arch(Arch::X86_64, Action::Allow)
        .with_arch(Arch::X86)
        .rule("no_such_call", Action::Errno(1))
        .compile()
        .unwrap_err();
    assert!(
        matches!(&err, Error::UnknownSyscall { name, arch: Arch::X86_64 } if name == "no_such_call"),
        "{err}"
    );
    // socketcall exists on i386 only: kept there, skipped on x86_64.
    let f = Filter::for_arch(Arch::X86_64, Action::Allow)
        .with_arch(Arch::X86)
        .rule("socketcall", Action::Errno(1));
    let p = f.compile().unwrap();
    let call = |arch: Arch, nr: u32| SeccompData {
        nr: nr as i32,
        arch: arch.audit_arch(),
        ..Default::default()
    };
    assert_eq!(p.evaluate(&call(Arch::X86, 102)).unwrap(), Action::Errno(1));
    assert_eq!(p.evaluate(&call(Arch::X86_64, 102)).unwrap(), Action::Allow);
    // A number is the first ABI's: 20 is i386 getpid, x86_64 writev.
    let p = Filter::for_arch(Arch::X86_64, Action::Allow)
        .with_arch(Arch::X86)
        .rule(20u32, Action::Errno(2))
        .compile()
        .unwrap();
    assert_eq!(
        p.evaluate(&call(Arch::X86_64, 20)).unwrap(),
        Action::Errno(2)
    );
    assert_eq!(p.evaluate(&call(Arch::X86, 20)).unwrap(), Action::Allow);
    // x32 numbers carry their bit; x86_64 ones must not.
    assert!(matches!(
        Filter::for_arch(Arch::X32, Action::Allow)
            .rule(39u32, Action::Log)
            .compile(),
        Err(Error::InvalidSyscallNumber {
            nr: 39,
            arch: Arch::X32,
            ..
        })
    ));
    assert!(matches!(
        Filter::for_arch(Arch::X86_64, Action::Allow)
            .rule(39 | X32_SYSCALL_BIT, Action::Log)
            .compile(),
        Err(Error::InvalidSyscallNumber { .. })
    ));
    // An ABI the filter does not list is killed, whatever the rules.
    let p = Filter::for_arch(Arch::X86_64, Action::Allow)
        .with_arch(Arch::X32)
        .compile()
        .unwrap();
    let arm = SeccompData {
        nr: 20,
        arch: AUDIT_ARCH_AARCH64,
        ..Default::default()
    };
    assert_eq!(p.evaluate(&arm).unwrap(), Action::KillProcess);
    assert_eq!(
        p.evaluate(&call(Arch::X86, 20)).unwrap(),
        Action::KillProcess
    );
}

#[cfg(target_arch = "x86_64")]
fn int80(nr: i64) -> i64 {
    let ret: i64;
    // SAFETY: `int 0x80` with eax = nr is an i386 syscall; only ones that take no
    // argument are made here (getpid, getppid, getuid): no memory is touched;
    // r8-r11 are declared clobbered in case the compat entry does not preserve them.
    unsafe {
        core::arch::asm!(
            "int 0x80",
            inlateout("rax") nr => ret,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
            options(nostack)
        );
    }
    ret
}

/// `int 0x80` with two arguments (ebx, ecx): for socketcall(call, args) with a NULL
/// `args`, which the kernel refuses with EFAULT unless a filter answers first.
#[cfg(target_arch = "x86_64")]
fn int80_2(nr: i64, a0: u64, a1: u64) -> i64 {
    let ret: i64;
    // SAFETY: as `int80`; rbx, which Rust reserves, is swapped in and back out
    // around the call. The only call made is socketcall with a NULL argument
    // array: the kernel reads no memory of ours (EFAULT), and writes none.
    unsafe {
        core::arch::asm!(
            "xchg {a0}, rbx",
            "int 0x80",
            "xchg {a0}, rbx",
            a0 = inout(reg) a0 => _,
            inlateout("rax") nr => ret,
            in("rcx") a1,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
            options(nostack)
        );
    }
    ret
}

#[cfg(target_arch = "x86_64")]
#[test]
fn the_kernel_applies_a_socket_rule_to_i386_socketcall_too() {
    let probe = linception_testkit::probe_custom(|| match int80_2(102, 2, 0) {
        r if r == -(libc::EFAULT as i64) => Ok(()),
        r => Err(format!("int 0x80 socketcall(SYS_BIND, NULL) returned {r}")),
    });
    if !linception_testkit::require_custom("IA32 emulation (int 0x80)", "-", probe) {
        return;
    }
    let out = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let program = Filter::for_arch(Arch::X86_64, Action::Allow)
            .with_arch(Arch::X86)
            .rule("socket", Action::Errno(libc::EACCES))
            .compile()
            .unwrap();
        in_grandchild(move || {
            program
                .install_raw(FilterFlags::empty(), NoNewPrivs::Set)
                .unwrap();
            let got = [
                int80_2(359, 0, 0), // socket(0, 0): the direct call
                int80_2(102, 1, 0), // socketcall(SYS_SOCKET, NULL)
                int80_2(102, 2, 0), // socketcall(SYS_BIND, NULL): runs
                raw_syscall(libc::SYS_socket, [0; 6]),
            ];
            let want = [
                -(libc::EACCES as i64),
                -(libc::EACCES as i64),
                -(libc::EFAULT as i64),
                -(libc::EACCES as i64),
            ];
            (got == want) as i32
        })
    });
    assert_eq!(out, Exit::Code(1));
}

#[cfg(target_arch = "x86_64")]
#[test]
fn the_kernel_applies_the_rules_to_i386_and_x32_calls() {
    let probe = linception_testkit::probe_custom(|| {
        let pid = std::process::id() as i64;
        match int80(20) {
            r if r == pid => Ok(()),
            r => Err(format!("int 0x80 getpid returned {r}")),
        }
    });
    if !linception_testkit::require_custom("IA32 emulation (int 0x80)", "-", probe) {
        return;
    }
    let out = Fork::new().timeout(Duration::from_secs(20)).run(|| {
        let filter = Filter::for_arch(Arch::X86_64, Action::Allow)
            .with_arch(Arch::X86)
            .with_arch(Arch::X32)
            .rule("getpid", Action::Errno(libc::EACCES))
            .rule("getppid", Action::Errno(libc::EXDEV));
        let program = filter.compile().unwrap();
        let x32 = |name| Arch::X32.syscall_number(name).unwrap() as libc::c_long;
        let p = program.clone();
        let results = in_grandchild(move || {
            p.install_raw(FilterFlags::empty(), NoNewPrivs::Set)
                .unwrap();
            let got = [
                raw_syscall(libc::SYS_getpid, [0; 6]),
                int80(20),
                raw_syscall(x32("getpid"), [0; 6]),
                int80(64),
                raw_syscall(x32("getppid"), [0; 6]),
            ];
            let want = [
                -(libc::EACCES as i64),
                -(libc::EACCES as i64),
                -(libc::EACCES as i64),
                -(libc::EXDEV as i64),
                -(libc::EXDEV as i64),
            ];
            // An i386 call without a rule runs: getuid (24, i386's 16-bit one).
            let uid = int80(24);
            (got == want
                && uid >= 0
                && raw_syscall(libc::SYS_getppid, [0; 6]) == -(libc::EXDEV as i64))
                as i32
        });
        // Without the i386 ABI listed, the same i386 getpid is killed.
        let native_only = Filter::for_arch(Arch::X86_64, Action::Allow)
            .rule("getpid", Action::Errno(libc::EACCES))
            .compile()
            .unwrap();
        let killed = in_grandchild(move || {
            native_only
                .install_raw(FilterFlags::empty(), NoNewPrivs::Set)
                .unwrap();
            int80(20);
            0
        });
        (results, killed)
    });
    assert_eq!(out, (Exit::Code(1), Exit::Signal(libc::SIGSYS)));
}
