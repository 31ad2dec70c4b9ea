//! Architectures a filter can be compiled for, and their syscall tables.
#![forbid(unsafe_code)]

use std::fmt;

use crate::error::{Error, Result};
use crate::syscall_table;

/// `AUDIT_ARCH_X86_64` (`EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE`).
pub const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
/// `AUDIT_ARCH_I386` (`EM_386 | __AUDIT_ARCH_LE`): 32-bit calls on x86_64 (`int 0x80`).
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// `AUDIT_ARCH_AARCH64` (`EM_AARCH64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE`).
pub const AUDIT_ARCH_AARCH64: u32 = 0xC000_00B7;
/// `AUDIT_ARCH_ARM` (`EM_ARM | __AUDIT_ARCH_LE`): 32-bit calls on aarch64.
pub const AUDIT_ARCH_ARM: u32 = 0x4000_0028;
/// `__X32_SYSCALL_BIT`: x32 calls on x86_64 carry `AUDIT_ARCH_X86_64` and this bit in
/// their number; a filter written for x86_64 must refuse them.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// An architecture (ABI) a filter is compiled for: the filter kills any syscall made
/// through another ABI.
///
/// ```
/// use linception_seccomp_notify::Arch;
/// assert_eq!(Arch::X86_64.syscall_number("openat")?, 257);
/// assert_eq!(Arch::Aarch64.syscall_number("openat")?, 56);
/// assert_eq!(Arch::Aarch64.syscall_name(56), Some("openat"));
/// assert!(Arch::Aarch64.syscall_number("open").is_err()); // no `open` on aarch64
/// # Ok::<(), linception_seccomp_notify::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Arch {
    /// x86_64, 64-bit ABI (x32 calls, marked by [`X32_SYSCALL_BIT`], are refused).
    X86_64,
    /// aarch64 (arm64), 64-bit ABI.
    Aarch64,
}

impl Arch {
    /// The architecture this crate was compiled for, if supported.
    pub const fn native() -> Option<Arch> {
        if cfg!(target_arch = "x86_64") {
            Some(Arch::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Arch::Aarch64)
        } else {
            None
        }
    }

    /// The `AUDIT_ARCH_*` value the kernel puts in `seccomp_data.arch` for this ABI.
    pub const fn audit_arch(self) -> u32 {
        match self {
            Arch::X86_64 => AUDIT_ARCH_X86_64,
            Arch::Aarch64 => AUDIT_ARCH_AARCH64,
        }
    }

    /// The architecture with this `AUDIT_ARCH_*` value, if supported.
    pub const fn from_audit_arch(audit_arch: u32) -> Option<Arch> {
        match audit_arch {
            AUDIT_ARCH_X86_64 => Some(Arch::X86_64),
            AUDIT_ARCH_AARCH64 => Some(Arch::Aarch64),
            _ => None,
        }
    }

    /// The architecture's own syscalls, below [`syscall_table::GENERIC_FIRST`]; the
    /// rest is [`syscall_table::GENERIC`], shared by every architecture.
    fn own_table(self) -> &'static [(u32, &'static str)] {
        match self {
            Arch::X86_64 => syscall_table::X86_64,
            Arch::Aarch64 => syscall_table::AARCH64,
        }
    }

    /// The number of the syscall called `name` on this architecture (as in the
    /// kernel's syscall table, e.g. `"newfstatat"`, `"getppid"`).
    ///
    /// # Errors
    /// [`Error::UnknownSyscall`] naming the input.
    pub fn syscall_number(self, name: &str) -> Result<u32> {
        // Two plain slice searches: as fast as one over a flat table (a chained
        // iterator was measurably slower).
        let find = |table: &'static [(u32, &'static str)]| {
            table.iter().find(|(_, n)| *n == name).map(|&(nr, _)| nr)
        };
        find(self.own_table())
            .or_else(|| find(syscall_table::GENERIC))
            .ok_or_else(|| Error::UnknownSyscall {
                name: name.to_owned(),
                arch: self,
            })
    }

    /// The name of syscall `nr` on this architecture, if the table has it.
    pub fn syscall_name(self, nr: u32) -> Option<&'static str> {
        let table = if nr < syscall_table::GENERIC_FIRST {
            self.own_table()
        } else {
            syscall_table::GENERIC
        };
        table
            .binary_search_by_key(&nr, |&(n, _)| n)
            .ok()
            .map(|i| table[i].1)
    }

    /// Every `(number, name)` of this architecture's syscall table, sorted by number.
    pub fn syscalls(self) -> impl Iterator<Item = (u32, &'static str)> {
        self.own_table()
            .iter()
            .chain(syscall_table::GENERIC)
            .copied()
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        })
    }
}
