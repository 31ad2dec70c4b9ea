//! `seccomp(SECCOMP_GET_ACTION_AVAIL)`: whether the kernel knows a filter action;
//! and whether it takes a set of filter flags.
#![forbid(unsafe_code)]

use rustix::io::Errno;

use crate::error::{Call, Error, Result};
use crate::filter::{Action, SECCOMP_RET_ACTION_FULL};
use crate::install::FilterFlags;
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

/// Whether the running kernel takes `flags` together for
/// `seccomp(SECCOMP_SET_MODE_FILTER)` (`Ok(false)`: it would refuse them with
/// `EINVAL`, a flag newer than the kernel or a combination it refuses, such as
/// `WAIT_KILLABLE_RECV` without `NEW_LISTENER`, or `NEW_LISTENER | TSYNC` without
/// `TSYNC_ESRCH`).
///
/// C: `seccomp(SECCOMP_SET_MODE_FILTER, flags, NULL)`, as libseccomp probes flags:
/// the kernel checks the flags before it reads the program, and the NULL program
/// then fails with `EFAULT`. Installs nothing, needs no privilege.
///
/// ```
/// use linception_seccomp_notify::{FilterFlags, filter_flags_available};
///
/// assert!(filter_flags_available(FilterFlags::TSYNC)?);
/// assert!(!filter_flags_available(FilterFlags::from_bits_retain(1 << 31))?);
/// # Ok::<(), linception_seccomp_notify::Error>(())
/// ```
///
/// # Errors
/// [`Error::Unsupported`] without seccomp filters (`ENOSYS`, or `EINVAL` for no
/// flags at all); [`Error::Syscall`] for another errno.
///
/// # References
/// [seccomp(2)](https://man7.org/linux/man-pages/man2/seccomp.2.html)
#[doc(alias = "SECCOMP_SET_MODE_FILTER")]
pub fn filter_flags_available(flags: FilterFlags) -> Result<bool> {
    let unsupported = || Error::Unsupported {
        feature: "seccomp(SECCOMP_SET_MODE_FILTER)",
        min_kernel: "3.17",
    };
    match sys::seccomp_probe_filter_flags(flags.bits()) {
        Err(Errno::FAULT) => Ok(true),
        Err(Errno::INVAL) if flags.is_empty() => Err(unsupported()),
        Err(Errno::INVAL) => filter_flags_available(FilterFlags::empty()).map(|_| false),
        Err(Errno::NOSYS) => Err(unsupported()),
        Err(errno) => Err(Error::syscall(
            Call::new(
                "seccomp",
                format_args!("SECCOMP_SET_MODE_FILTER, {flags:?}, NULL"),
            ),
            errno,
        )),
        // No kernel installs a NULL program; one that did took the flags.
        Ok(_) => Ok(true),
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

    fn seccomp_status() -> String {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        status
            .lines()
            .filter(|l| l.starts_with("Seccomp"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn filter_flags_are_probed_without_installing_anything() {
        let before = seccomp_status();
        let f = FilterFlags::empty();
        // Every flag of Linux 5.19 alone, except WAIT_KILLABLE_RECV (which needs
        // NEW_LISTENER): the kernel this crate is tested on is newer.
        for flags in [
            f,
            FilterFlags::TSYNC,
            FilterFlags::LOG,
            FilterFlags::SPEC_ALLOW,
            FilterFlags::NEW_LISTENER,
            FilterFlags::TSYNC_ESRCH,
            FilterFlags::WAIT_KILLABLE_RECV | FilterFlags::NEW_LISTENER,
            FilterFlags::TSYNC | FilterFlags::NEW_LISTENER | FilterFlags::TSYNC_ESRCH,
            FilterFlags::TSYNC | FilterFlags::LOG | FilterFlags::SPEC_ALLOW,
        ] {
            assert_eq!(filter_flags_available(flags).ok(), Some(true), "{flags:?}");
        }
        // Combinations the kernel refuses, and a bit no kernel has yet.
        for flags in [
            FilterFlags::WAIT_KILLABLE_RECV,
            FilterFlags::TSYNC | FilterFlags::NEW_LISTENER,
            FilterFlags::from_bits_retain(1 << 31),
        ] {
            assert_eq!(filter_flags_available(flags).ok(), Some(false), "{flags:?}");
        }
        assert_eq!(seccomp_status(), before, "a probe changed the seccomp mode");
    }
}
