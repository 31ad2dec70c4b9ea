//! `seccomp(SECCOMP_GET_ACTION_AVAIL)`: whether the kernel knows a filter action.
#![forbid(unsafe_code)]

use rustix::io::Errno;

use crate::error::{Call, Error, Result};
use crate::filter::{Action, SECCOMP_RET_ACTION_FULL};
use crate::sys;

/// Whether the running kernel supports `action` as a filter's return value
/// (`Ok(false)`: it would refuse or degrade it, e.g. `SECCOMP_RET_USER_NOTIF` before
/// Linux 5.0). Only the action bits count (an errno or trap value is not asked).
///
/// C: `seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &action)`. Since Linux 4.14. Needs no
/// privilege and changes nothing.
///
/// ```
/// use linception_seccomp_notify::{Action, action_available};
///
/// assert!(action_available(Action::Allow)?);
/// # Ok::<(), linception_seccomp_notify::Error>(())
/// ```
///
/// # Errors
/// [`Error::Unsupported`] before Linux 4.14 or without seccomp filters (`EINVAL`
/// for [`Action::Allow`], which every filtering kernel knows, or `ENOSYS`);
/// [`Error::Syscall`] otherwise.
///
/// # References
/// [seccomp(2)](https://man7.org/linux/man-pages/man2/seccomp.2.html)
#[doc(alias = "SECCOMP_GET_ACTION_AVAIL")]
pub fn action_available(action: Action) -> Result<bool> {
    let raw = action.to_raw() & SECCOMP_RET_ACTION_FULL;
    match sys::seccomp_get_action_avail(raw) {
        Ok(()) => Ok(true),
        Err(Errno::OPNOTSUPP) => Ok(false),
        Err(Errno::INVAL) if action != Action::Allow => {
            // Unknown action, or no GET_ACTION_AVAIL at all: ALLOW tells them apart.
            action_available(Action::Allow).map(|_| false)
        }
        Err(Errno::NOSYS | Errno::INVAL) => Err(Error::Unsupported {
            feature: "SECCOMP_GET_ACTION_AVAIL",
            min_kernel: "4.14",
        }),
        Err(errno) => Err(Error::syscall(
            Call::new(
                "seccomp",
                format_args!("SECCOMP_GET_ACTION_AVAIL, 0, &{raw:#x}"),
            ),
            errno,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_of_linux_5_0_is_available_and_a_made_up_one_is_not() {
        for a in [
            Action::Allow,
            Action::Errno(1),
            Action::KillProcess,
            Action::KillThread,
            Action::Trap(0),
            Action::Log,
            Action::Trace(0),
            Action::UserNotif,
        ] {
            assert!(action_available(a).unwrap(), "{a:?}");
        }
        // 0x7fe0_0000 sits between USER_NOTIF (0x7fc0_0000) and TRACE (0x7ff0_0000).
        assert_eq!(
            sys::seccomp_get_action_avail(0x7fe0_0000),
            Err(Errno::OPNOTSUPP)
        );
    }
}
