//! Property tests of the compiler: random rule sets run by the in-crate BPF
//! interpreter give the same action as a direct evaluation of the rules; and the
//! kernel accepts every compiled program and agrees with the model.

mod common;

use std::time::Duration;

use linception_seccomp_notify::{
    AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, Action, Arch, Cmp, Condition, Dispatch,
    Filter, SeccompData, Width, X32_SYSCALL_BIT,
};
use linception_testkit::Fork;
use proptest::prelude::*;

/// Values near a few constants, so that comparisons hit equal, just below and just
/// above, in both halves of the 64-bit word.
fn value() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..4,
        (0u64..4).prop_map(|v| v << 32),
        (0u64..4).prop_map(|v| (v << 32) | 0xffff_fffe),
        (0u64..4).prop_map(|v| (v << 32) | 1),
        Just(u64::MAX),
        any::<u64>(),
    ]
}

fn cmp() -> impl Strategy<Value = Cmp> {
    prop_oneof![
        value().prop_map(Cmp::Eq),
        value().prop_map(Cmp::Ne),
        value().prop_map(Cmp::Lt),
        value().prop_map(Cmp::Le),
        value().prop_map(Cmp::Gt),
        value().prop_map(Cmp::Ge),
        (value(), value()).prop_map(|(mask, value)| Cmp::MaskedEq { mask, value }),
    ]
}

fn condition() -> impl Strategy<Value = Condition> {
    (
        0u8..3,
        prop_oneof![Just(Width::Bits64), Just(Width::Bits32)],
        cmp(),
    )
        .prop_map(|(arg, width, cmp)| Condition { arg, width, cmp })
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        Just(Action::Allow),
        (0i32..4096).prop_map(Action::Errno),
        Just(Action::KillProcess),
        Just(Action::KillThread),
        any::<u16>().prop_map(Action::Trap),
        Just(Action::Log),
        any::<u16>().prop_map(Action::Trace),
        Just(Action::UserNotif),
    ]
}

fn dispatch() -> impl Strategy<Value = Dispatch> {
    prop_oneof![
        Just(Dispatch::Auto),
        Just(Dispatch::Linear),
        Just(Dispatch::BinarySearch)
    ]
}

/// Rules over syscall numbers 0..nrs (so several rules share a syscall).
fn filter(arch: Arch, nrs: u32, max_rules: usize) -> impl Strategy<Value = Filter> {
    let rule = (0..nrs, prop::collection::vec(condition(), 0..4), action());
    (
        prop_oneof![
            Just(Action::Allow),
            (1i32..100).prop_map(Action::Errno),
            Just(Action::Log)
        ],
        prop::collection::vec(rule, 0..max_rules),
        dispatch(),
    )
        .prop_map(move |(default, rules, dispatch)| {
            rules.into_iter().fold(
                Filter::for_arch(arch, default).dispatch(dispatch),
                |f, (nr, conds, action)| f.rule_if(nr, conds, action),
            )
        })
}

fn input(arch: Arch, nrs: u32) -> impl Strategy<Value = SeccompData> {
    let audit = prop_oneof![
        8 => Just(arch.audit_arch()),
        1 => Just(AUDIT_ARCH_I386),
        1 => Just(if arch == Arch::X86_64 { AUDIT_ARCH_AARCH64 } else { AUDIT_ARCH_X86_64 }),
    ];
    let nr = prop_oneof![
        8 => 0..nrs + 2,
        1 => (0..nrs).prop_map(|n| n | X32_SYSCALL_BIT),
        1 => any::<u32>(),
    ];
    (audit, nr, prop::array::uniform6(value())).prop_map(|(arch, nr, args)| SeccompData {
        nr: nr as i32,
        arch,
        instruction_pointer: 0,
        args,
    })
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn interpreter_agrees_with_direct_evaluation(
        arch in prop_oneof![Just(Arch::X86_64), Just(Arch::Aarch64)],
        (filter, inputs) in (prop_oneof![Just(Arch::X86_64), Just(Arch::Aarch64)])
            .prop_flat_map(|a| (filter(a, 24, 40), prop::collection::vec(input(a, 24), 32))),
    ) {
        let _ = arch;
        let program = filter.compile().unwrap();
        prop_assert!(program.len() <= 4096);
        for data in &inputs {
            prop_assert_eq!(program.evaluate(data).unwrap(), filter.evaluate(data).unwrap(), "{:?}", data);
        }
    }
}

proptest! {
    #![proptest_config(config(40))]

    #[test]
    fn big_rule_sets_agree_too(
        (filter, inputs) in filter(Arch::X86_64, 450, 300)
            .prop_flat_map(|f| (Just(f), prop::collection::vec(input(Arch::X86_64, 450), 64))),
    ) {
        let program = match filter.compile() {
            Ok(p) => p,
            Err(linception_seccomp_notify::Error::ProgramTooLong { len, .. }) => {
                prop_assert!(len > 4096);
                return Ok(());
            }
            Err(e) => return Err(TestCaseError::fail(e.to_string())),
        };
        for data in &inputs {
            prop_assert_eq!(program.evaluate(data).unwrap(), filter.evaluate(data).unwrap(), "{:?}", data);
        }
    }
}

/// Harmless syscalls that ignore their arguments (so the arguments only matter to the filter).
const HARMLESS: [libc::c_long; 6] = [
    libc::SYS_getppid,
    libc::SYS_getpid,
    libc::SYS_getuid,
    libc::SYS_getgid,
    libc::SYS_geteuid,
    libc::SYS_getegid,
];

fn kernel_filter() -> impl Strategy<Value = Filter> {
    let rule = (
        0..HARMLESS.len(),
        prop::collection::vec(condition(), 0..3),
        prop_oneof![
            Just(Action::Allow),
            (1i32..200).prop_map(Action::Errno),
            Just(Action::Log)
        ],
    );
    (
        prop::collection::vec(rule, 0..60),
        prop::collection::vec(any::<u32>(), 0..150),
        dispatch(),
    )
        .prop_map(|(rules, filler, dispatch)| {
            let arch = Arch::native().unwrap();
            let mut f = Filter::new(Action::Allow).dispatch(dispatch);
            for (i, conds, action) in rules {
                f = f.rule_if(HARMLESS[i] as u32, conds, action);
            }
            // Unrelated syscalls with rules, to make the dispatch big.
            for n in filler {
                let (nr, name) = arch.syscalls().nth(n as usize % 40 + 300).unwrap();
                let _ = nr;
                f = f.rule(name, Action::Errno(99));
            }
            f
        })
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn the_kernel_accepts_every_compiled_program_and_agrees(
        filter in kernel_filter(),
        calls in prop::collection::vec((0..HARMLESS.len(), prop::array::uniform6(value())), 1..12),
    ) {
        let program = filter.compile().unwrap();
        let calls: Vec<(libc::c_long, [u64; 6])> = calls.into_iter().map(|(i, a)| (HARMLESS[i], a)).collect();
        let want: Vec<i64> = calls
            .iter()
            .map(|&(nr, args)| {
                let data = SeccompData {
                    nr: nr as i32,
                    arch: filter.arch().audit_arch(),
                    instruction_pointer: 0,
                    args,
                };
                match filter.evaluate(&data).unwrap() {
                    Action::Errno(e) => -(e as i64),
                    _ => 0,
                }
            })
            .collect();
        let (got, len) = Fork::new().timeout(Duration::from_secs(20)).run(|| {
            let got = common::filtered_results(&program, &calls)
                .map(|r| r.into_iter().map(|x| x.min(0)).collect::<Vec<i64>>())
                .map_err(|exit| format!("{exit:?}"));
            (got, program.len() as u64)
        });
        prop_assert_eq!(got, Ok(want), "program of {} instructions", len);
    }
}
