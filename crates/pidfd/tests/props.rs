//! Property tests for the pure parts: wait-status encoding, signal numbers.

use linception_pidfd::{ExitStatus, Signal};
use proptest::prelude::*;

fn exit_status() -> impl Strategy<Value = ExitStatus> {
    prop_oneof![
        (0i32..=255).prop_map(ExitStatus::Exited),
        // Signals that can terminate a process (not 0, not the stop/continue ones).
        (1i32..=64, any::<bool>())
            .prop_filter("stop/continue signals do not terminate", |(s, _)| {
                ![
                    libc::SIGSTOP,
                    libc::SIGCONT,
                    libc::SIGTSTP,
                    libc::SIGTTIN,
                    libc::SIGTTOU,
                ]
                .contains(s)
            })
            .prop_map(|(s, core)| ExitStatus::Signaled {
                signal: Signal::from_raw(s).unwrap(),
                core_dumped: core,
            }),
    ]
}

proptest! {
    #[test]
    fn wait_status_round_trips(st in exit_status()) {
        prop_assert_eq!(ExitStatus::from_wait_status(st.to_wait_status()), Some(st));
        // And agrees with std's decoding of the same word.
        let std_st = std::process::ExitStatus::from(st);
        prop_assert_eq!(std_st.code(), st.code());
        use std::os::unix::process::ExitStatusExt;
        prop_assert_eq!(std_st.signal(), st.signal().map(Signal::as_raw));
        prop_assert_eq!(std_st.core_dumped(), st.core_dumped());
    }

    #[test]
    fn signal_numbers_are_bounded(n in any::<i32>()) {
        let s = Signal::from_raw(n);
        prop_assert_eq!(s.is_some(), (0..=64).contains(&n));
        if let Some(s) = s {
            prop_assert_eq!(s.as_raw(), n);
        }
    }
}
