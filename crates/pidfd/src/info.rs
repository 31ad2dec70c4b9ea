//! `PIDFD_GET_INFO` and `pid()` across pid namespaces.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU8, Ordering};

use crate::PidFd;
use crate::error::{Call, Error, Result};
use crate::sys::{self, RawPidfdInfo};
use crate::types::{ExitStatus, Pid, Signal};

bitflags::bitflags! {
    /// The request (and answer) mask of `PIDFD_GET_INFO`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct InfoMask: u64 {
        /// `PIDFD_INFO_PID`: pid, tgid, ppid (always returned). Since Linux 6.13.
        const PID = 1 << 0;
        /// `PIDFD_INFO_CREDS`: the eight ids (always returned). Since Linux 6.13.
        const CREDS = 1 << 1;
        /// `PIDFD_INFO_CGROUPID`: the cgroup v2 id (when available). Since Linux 6.13.
        const CGROUPID = 1 << 2;
        /// `PIDFD_INFO_EXIT`: the exit status, once the process has been reaped.
        /// Since Linux 6.15.
        const EXIT = 1 << 3;
        /// `PIDFD_INFO_COREDUMP`: whether and how the process dumped core (for a
        /// live process: how it would). Since Linux 6.16.
        const COREDUMP = 1 << 4;
        /// `PIDFD_INFO_SUPPORTED_MASK`: the mask bits this kernel supports, in
        /// `supported_mask`. Since Linux 6.19.
        const SUPPORTED_MASK = 1 << 5;
        /// `PIDFD_INFO_COREDUMP_SIGNAL`: the signal that caused the dump (returned
        /// with `COREDUMP`). Since Linux 6.19.
        const COREDUMP_SIGNAL = 1 << 6;
        /// Bits this crate does not name are passed to the kernel unchanged.
        const _ = !0;
    }
}

bitflags::bitflags! {
    /// `pidfd_info.coredump_mask`: the `PIDFD_COREDUMP*` bits.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct CoredumpFlags: u32 {
        /// `PIDFD_COREDUMPED`: the process crashed and a core dump was attempted.
        const COREDUMPED = 1 << 0;
        /// `PIDFD_COREDUMP_SKIP`: generating the dump was skipped (not dumpable).
        const SKIP = 1 << 1;
        /// `PIDFD_COREDUMP_USER`: the dump is (or would be) written as the user.
        const USER = 1 << 2;
        /// `PIDFD_COREDUMP_ROOT`: the dump is (or would be) written as root, to be
        /// treated as sensitive.
        const ROOT = 1 << 3;
        /// Bits this crate does not name are kept.
        const _ = !0;
    }
}

/// The core dump part of `PIDFD_GET_INFO` (`PIDFD_INFO_COREDUMP`, Linux 6.16).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Coredump {
    /// What happened (or, for a live process, how a dump would be written).
    pub flags: CoredumpFlags,
    /// The signal that caused the dump, when the kernel reports it (Linux 6.19).
    pub signal: Option<Signal>,
}

impl Coredump {
    /// Whether the process dumped core (`PIDFD_COREDUMPED`).
    pub fn dumped(&self) -> bool {
        self.flags.contains(CoredumpFlags::COREDUMPED)
    }
}

/// The credentials of a process (`PIDFD_INFO_CREDS`), as ids in the caller's user
/// namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Credentials {
    /// Real uid.
    pub ruid: u32,
    /// Real gid.
    pub rgid: u32,
    /// Effective uid.
    pub euid: u32,
    /// Effective gid.
    pub egid: u32,
    /// Saved set-user-id.
    pub suid: u32,
    /// Saved set-group-id.
    pub sgid: u32,
    /// Filesystem uid.
    pub fsuid: u32,
    /// Filesystem gid.
    pub fsgid: u32,
}

/// What `PIDFD_GET_INFO` told about a process. A field the kernel did not return
/// (not requested, not available, or unknown to this kernel) is `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct PidfdInfo {
    /// The fields the kernel filled in.
    pub mask: InfoMask,
    /// The process's pid in the caller's pid namespace.
    pub pid: Option<Pid>,
    /// Its thread-group id in the caller's pid namespace.
    pub tgid: Option<Pid>,
    /// Its parent's pid in the caller's pid namespace (`None` if the parent is not
    /// visible there, or for init).
    pub ppid: Option<Pid>,
    /// Its credentials.
    pub creds: Option<Credentials>,
    /// Its cgroup v2 id (the inode number of its cgroup directory).
    pub cgroup_id: Option<u64>,
    /// How it exited (Since Linux 6.15, after it has been reaped).
    pub exit_status: Option<ExitStatus>,
    /// Its core dump state (Since Linux 6.16, when requested).
    pub coredump: Option<Coredump>,
    /// The request bits this kernel supports (Since Linux 6.19, when requested).
    pub supported: Option<InfoMask>,
}

impl PidfdInfo {
    fn from_raw(raw: &RawPidfdInfo) -> PidfdInfo {
        let mask = InfoMask::from_bits_retain(raw.mask);
        let has_pid = mask.contains(InfoMask::PID);
        let pid = |v: u32| {
            if has_pid {
                Pid::from_raw(v as i32)
            } else {
                None
            }
        };
        PidfdInfo {
            mask,
            pid: pid(raw.pid),
            tgid: pid(raw.tgid),
            ppid: pid(raw.ppid),
            creds: mask.contains(InfoMask::CREDS).then_some(Credentials {
                ruid: raw.ruid,
                rgid: raw.rgid,
                euid: raw.euid,
                egid: raw.egid,
                suid: raw.suid,
                sgid: raw.sgid,
                fsuid: raw.fsuid,
                fsgid: raw.fsgid,
            }),
            cgroup_id: mask.contains(InfoMask::CGROUPID).then_some(raw.cgroupid),
            exit_status: if mask.contains(InfoMask::EXIT) {
                ExitStatus::from_wait_status(raw.exit_code)
            } else {
                None
            },
            coredump: mask.contains(InfoMask::COREDUMP).then(|| Coredump {
                flags: CoredumpFlags::from_bits_retain(raw.coredump_mask),
                signal: if mask.contains(InfoMask::COREDUMP_SIGNAL) && raw.coredump_signal != 0 {
                    Signal::from_raw(raw.coredump_signal as i32)
                } else {
                    None
                },
            }),
            supported: mask
                .contains(InfoMask::SUPPORTED_MASK)
                .then_some(InfoMask::from_bits_retain(raw.supported_mask)),
        }
    }
}

/// 0 = unknown, 1 = PIDFD_GET_INFO works, 2 = it does not (use fdinfo).
static GET_INFO_SUPPORT: AtomicU8 = AtomicU8::new(0);

impl PidFd {
    /// `ioctl(pidfd, PIDFD_GET_INFO, &info)` asking for every field this crate knows
    /// (pid, creds, cgroup id, exit status, core dump, supported mask). Since Linux
    /// 6.13; [`PidfdInfo::mask`] tells which fields this kernel filled.
    ///
    /// # Errors
    ///
    /// See [`PidFd::info_with`].
    pub fn info(&self) -> Result<PidfdInfo> {
        self.info_with(
            InfoMask::PID
                | InfoMask::CREDS
                | InfoMask::CGROUPID
                | InfoMask::EXIT
                | InfoMask::COREDUMP
                | InfoMask::SUPPORTED_MASK,
        )
    }

    /// How the process ended, from `PIDFD_GET_INFO` with `PIDFD_INFO_EXIT`: works
    /// for any holder of the pidfd, also after the parent reaped the process (when
    /// `waitid` no longer can). `Ok(None)` while it runs or is a zombie (the kernel
    /// records the status at reaping). Since Linux 6.15.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] if the process is reaped and the kernel has no exit
    /// information (before Linux 6.15), else as [`PidFd::info_with`].
    #[doc(alias = "PIDFD_INFO_EXIT")]
    pub fn exit_info(&self) -> Result<Option<ExitStatus>> {
        match self.info_with(InfoMask::EXIT) {
            Ok(info) => Ok(info.exit_status),
            Err(Error::ProcessGone { .. }) => Err(Error::Unsupported {
                feature: "PIDFD_INFO_EXIT",
                min_kernel: "6.15",
            }),
            Err(e) => Err(e),
        }
    }

    /// The process's core dump state (`PIDFD_INFO_COREDUMP`, with `PIDFD_INFO_EXIT`
    /// so that it works after reaping too). Since Linux 6.16. For a live process it
    /// says how a dump would be written ([`CoredumpFlags::USER`] or
    /// [`CoredumpFlags::ROOT`], [`CoredumpFlags::SKIP`] if not dumpable); after the
    /// process exited, whether it dumped core.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] when the kernel does not fill the field (before Linux
    /// 6.16), else as [`PidFd::info_with`].
    #[doc(alias = "PIDFD_INFO_COREDUMP")]
    pub fn coredump(&self) -> Result<Coredump> {
        let info = self.info_with(InfoMask::EXIT | InfoMask::COREDUMP)?;
        info.coredump.ok_or(Error::Unsupported {
            feature: "PIDFD_INFO_COREDUMP",
            min_kernel: "6.16",
        })
    }

    /// The `PIDFD_GET_INFO` request bits this kernel supports
    /// (`PIDFD_INFO_SUPPORTED_MASK`). Since Linux 6.19.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] when the kernel does not fill the field (before Linux
    /// 6.19), else as [`PidFd::info_with`].
    #[doc(alias = "PIDFD_INFO_SUPPORTED_MASK")]
    pub fn supported_info_mask(&self) -> Result<InfoMask> {
        let info = self.info_with(InfoMask::EXIT | InfoMask::SUPPORTED_MASK)?;
        info.supported.ok_or(Error::Unsupported {
            feature: "PIDFD_INFO_SUPPORTED_MASK",
            min_kernel: "6.19",
        })
    }

    /// `ioctl(pidfd, PIDFD_GET_INFO, &info)` with the request mask `request`. The
    /// kernel always returns pid and credentials of a live process; fields it did not
    /// fill are `None`.
    ///
    /// # Errors
    ///
    /// [`Error::ProcessGone`] once the process is reaped (unless [`InfoMask::EXIT`]
    /// is requested on Linux 6.15+, which then returns the exit status),
    /// [`Error::Unsupported`] before Linux 6.13 (`ENOTTY`).
    ///
    /// # References
    /// - [PIDFD_GET_INFO (include/uapi/linux/pidfd.h)](https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/tree/include/uapi/linux/pidfd.h)
    #[doc(alias = "PIDFD_GET_INFO")]
    pub fn info_with(&self, request: InfoMask) -> Result<PidfdInfo> {
        let mut raw = RawPidfdInfo {
            mask: request.bits(),
            ..RawPidfdInfo::default()
        };
        match sys::pidfd_get_info(self.as_fd_raw_borrowed(), &mut raw) {
            Ok(()) => {
                GET_INFO_SUPPORT.store(1, Ordering::Relaxed);
                Ok(PidfdInfo::from_raw(&raw))
            }
            Err(libc::ENOTTY) => {
                GET_INFO_SUPPORT.store(2, Ordering::Relaxed);
                Err(Error::Unsupported {
                    feature: "PIDFD_GET_INFO",
                    min_kernel: "6.13",
                })
            }
            Err(e) => Err(self.error(
                e,
                || {
                    Call::new(
                        "ioctl",
                        format_args!(
                            "fd {}, PIDFD_GET_INFO, {{mask: {:#x}}}",
                            self.as_fd_raw(),
                            request.bits()
                        ),
                    )
                },
                "PIDFD_GET_INFO",
                "6.13",
            )),
        }
    }

    fn as_fd_raw_borrowed(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(self)
    }

    /// The process's pid as seen from the caller's pid namespace, correct even when
    /// the process lives in a nested pid namespace or `/proc` belongs to another pid
    /// namespace. A zombie (exited, not yet reaped) still has its pid.
    ///
    /// Uses `PIDFD_GET_INFO` (Linux 6.13); on older kernels, or when the kernel
    /// refuses the ioctl for a live process whose parent it cannot show, falls back
    /// to [`PidFd::pid_from_fdinfo`].
    ///
    /// # Errors
    ///
    /// [`Error::ProcessGone`] once the process has been reaped (its pid may already
    /// belong to another process), [`Error::NotVisible`] if it is alive but not
    /// visible in the caller's pid namespace.
    pub fn pid(&self) -> Result<Pid> {
        if GET_INFO_SUPPORT.load(Ordering::Relaxed) != 2 {
            match self.info_with(InfoMask::PID) {
                Ok(info) => {
                    return info.pid.ok_or_else(|| Error::NotVisible {
                        what: format!("pid of pidfd (fd {})", self.as_fd_raw()),
                    });
                }
                Err(Error::Unsupported { .. }) => {}
                // ESRCH for a process that exists and is visible: the kernel also
                // refuses when the parent is outside our pid namespace.
                Err(Error::Syscall { ref source, .. })
                    if source.raw_os_error() == Some(libc::ESRCH) => {}
                Err(e) => return Err(e),
            }
        }
        self.pid_from_fdinfo()
    }

    /// The pid from `/proc/self/fdinfo/<pidfd>` (Linux 5.3+), mapped into the
    /// caller's pid namespace: the `NSpid:` line lists the process's pid in the pid
    /// namespace of the `/proc` mount and each nested one; the caller's own `NSpid:`
    /// in `/proc/self/status` tells which of those levels is the caller's.
    ///
    /// The kernel writes `Pid: -1` once the process is reaped and `Pid: 0` while it
    /// is alive but outside the `/proc` mount's pid namespace.
    ///
    /// # Errors
    ///
    /// [`Error::ProcessGone`] if the process has been reaped (`Pid: -1`),
    /// [`Error::NotVisible`] if it is alive but not visible (`Pid: 0`, or no pid at
    /// the caller's level), `Syscall` if `/proc` cannot be read.
    pub fn pid_from_fdinfo(&self) -> Result<Pid> {
        let fd = self.as_fd_raw();
        let path = format!("/proc/self/fdinfo/{fd}");
        let fdinfo = read_proc(&path)?;
        let status = read_proc("/proc/self/status")?;
        let Some(first) = field_list(&fdinfo, "Pid:").and_then(|v| v.first().copied()) else {
            return Err(Error::invalid(
                format!("fd {fd}"),
                "it is not a pidfd (no Pid: line in its fdinfo)",
            ));
        };
        let not_visible = || Error::NotVisible {
            what: format!("pid of pidfd (fd {fd}) from {path}"),
        };
        match first {
            -1 => {
                return Err(Error::ProcessGone {
                    call: Call::new("read", format_args!("{path:?}: Pid: -1")),
                    source: std::io::Error::from_raw_os_error(libc::ESRCH),
                });
            }
            0 => return Err(not_visible()),
            _ => {}
        }
        let target = field_list(&fdinfo, "NSpid:").unwrap_or_else(|| vec![first]);
        // Our own depth below the /proc mount's pid namespace.
        let own_depth = field_list(&status, "NSpid:").map_or(1, |v| v.len());
        target
            .get(own_depth - 1)
            .and_then(|p| Pid::from_raw(*p))
            .ok_or_else(not_visible)
    }
}

fn read_proc(path: &str) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::Syscall {
        call: Call::new("open", format_args!("{path:?}, O_RDONLY")),
        source: e,
    })
}

/// The whitespace-separated integers after `key` at the start of a line.
pub(crate) fn field_list(text: &str, key: &str) -> Option<Vec<i32>> {
    text.lines().find_map(|l| l.strip_prefix(key)).map(|rest| {
        rest.split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_list_parses_nspid() {
        let text = "Name:\tx\nPid:\t10\nNSpid:\t10\t3\t1\n";
        assert_eq!(field_list(text, "NSpid:"), Some(vec![10, 3, 1]));
        assert_eq!(field_list(text, "Pid:"), Some(vec![10]));
        assert_eq!(field_list(text, "Tgid:"), None);
    }

    #[test]
    fn ioctl_number_matches_the_kernel_header() {
        // _IOWR(0xFF, 11, struct pidfd_info) with the 80-byte VER2 struct.
        assert_eq!(sys::PIDFD_GET_INFO, 0xC050_FF0B);
        assert_eq!(sys::pidfs_io(3), 0xFF03);
    }
}
