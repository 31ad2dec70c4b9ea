//! Architectures a filter can be compiled for, and their syscall tables.
#![forbid(unsafe_code)]

use std::fmt;

use crate::error::{Error, Result};
use crate::{syscall_table, syscall_table_x86};

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
/// through an ABI it was not compiled for.
///
/// On x86_64 a process can also call through two compat ABIs: i386 ([`Arch::X86`],
/// `int 0x80`, its own numbers) and x32 ([`Arch::X32`], the 64-bit entry with
/// [`X32_SYSCALL_BIT`] in the number). A filter lists them with
/// [`Filter::with_arch`](crate::Filter::with_arch) to give their calls the same
/// rules, or leaves them out to kill them.
///
/// ```
/// use linception_seccomp_notify::Arch;
/// assert_eq!(Arch::X86_64.syscall_number("openat")?, 257);
/// assert_eq!(Arch::Aarch64.syscall_number("openat")?, 56);
/// assert_eq!(Arch::Aarch64.syscall_name(56), Some("openat"));
/// assert!(Arch::Aarch64.syscall_number("open").is_err()); // no `open` on aarch64
/// assert_eq!(Arch::X86.syscall_number("getpid")?, 20);
/// assert_eq!(Arch::X32.syscall_number("getpid")?, 39 | X32_SYSCALL_BIT);
/// assert_eq!(Arch::X32.syscall_number("rt_sigaction")?, 512 | X32_SYSCALL_BIT);
/// # use linception_seccomp_notify::X32_SYSCALL_BIT;
/// # Ok::<(), linception_seccomp_notify::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Arch {
    /// x86_64, 64-bit ABI (x32 calls, marked by [`X32_SYSCALL_BIT`], are refused).
    X86_64,
    /// aarch64 (arm64), 64-bit ABI.
    Aarch64,
    /// i386 (`SCMP_ARCH_X86`): `AUDIT_ARCH_I386`, with the numbers of the kernel's
    /// `syscall_32.tbl`; on x86_64 the compat ABI of 32-bit programs and `int 0x80`.
    X86,
    /// x32 (`SCMP_ARCH_X32`): `AUDIT_ARCH_X86_64` with [`X32_SYSCALL_BIT`] in the
    /// number (the `common` and `x32` lines of the kernel's `syscall_64.tbl`).
    /// [`syscall_number`](Arch::syscall_number) gives numbers with the bit set.
    X32,
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
            Arch::X86_64 | Arch::X32 => AUDIT_ARCH_X86_64,
            Arch::Aarch64 => AUDIT_ARCH_AARCH64,
            Arch::X86 => AUDIT_ARCH_I386,
        }
    }

    /// The bit every syscall number of this ABI carries ([`X32_SYSCALL_BIT`] for x32,
    /// else 0).
    pub const fn syscall_bit(self) -> u32 {
        match self {
            Arch::X32 => X32_SYSCALL_BIT,
            _ => 0,
        }
    }

    /// The architecture with this `AUDIT_ARCH_*` value, if supported
    /// (`AUDIT_ARCH_X86_64` is [`Arch::X86_64`]; x32 shares it, see [`Arch::of`]).
    pub const fn from_audit_arch(audit_arch: u32) -> Option<Arch> {
        match audit_arch {
            AUDIT_ARCH_X86_64 => Some(Arch::X86_64),
            AUDIT_ARCH_AARCH64 => Some(Arch::Aarch64),
            AUDIT_ARCH_I386 => Some(Arch::X86),
            _ => None,
        }
    }

    /// The ABI of a call the kernel describes with this `seccomp_data.arch` and `nr`
    /// (x32 is `AUDIT_ARCH_X86_64` with [`X32_SYSCALL_BIT`] set in `nr`).
    pub const fn of(audit_arch: u32, nr: u32) -> Option<Arch> {
        match Arch::from_audit_arch(audit_arch) {
            Some(Arch::X86_64) if nr & X32_SYSCALL_BIT != 0 => Some(Arch::X32),
            other => other,
        }
    }

    /// The architecture's own syscalls, below [`syscall_table::GENERIC_FIRST`]; the
    /// rest is [`syscall_table::GENERIC`], shared by every architecture.
    fn own_table(self) -> &'static [(u32, &'static str)] {
        match self {
            Arch::X86_64 => syscall_table::X86_64,
            Arch::Aarch64 => syscall_table::AARCH64,
            Arch::X86 => syscall_table_x86::I386,
            Arch::X32 => syscall_table_x86::X32,
        }
    }

    /// The number of the syscall called `name` on this architecture (as in the
    /// kernel's syscall table, e.g. `"newfstatat"`, `"getppid"`), as the kernel puts
    /// it in `seccomp_data.nr` (with [`X32_SYSCALL_BIT`] for x32).
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
            .map(|nr| nr | self.syscall_bit())
            .ok_or_else(|| Error::UnknownSyscall {
                name: name.to_owned(),
                arch: self,
            })
    }

    /// The name of syscall `nr` on this architecture (with [`X32_SYSCALL_BIT`] for
    /// x32), if the table has it.
    pub fn syscall_name(self, nr: u32) -> Option<&'static str> {
        if nr & X32_SYSCALL_BIT != self.syscall_bit() {
            return None;
        }
        let nr = nr & !self.syscall_bit();
        // Own numbers stop below the shared tail (x32 has its own 512..=547 too).
        let find = |table: &'static [(u32, &'static str)]| {
            let i = table.binary_search_by_key(&nr, |&(n, _)| n).ok()?;
            Some(table[i].1)
        };
        if nr < syscall_table::GENERIC_FIRST {
            find(self.own_table())
        } else {
            find(syscall_table::GENERIC).or_else(|| find(self.own_table()))
        }
    }

    /// Every `(number, name)` of this architecture's syscall table (numbers as in
    /// [`syscall_number`](Arch::syscall_number)), sorted by number.
    pub fn syscalls(self) -> impl Iterator<Item = (u32, &'static str)> {
        let own = self.own_table();
        let split = own.partition_point(|&(nr, _)| nr < syscall_table::GENERIC_FIRST);
        let bit = self.syscall_bit();
        own[..split]
            .iter()
            .chain(syscall_table::GENERIC)
            .chain(&own[split..])
            .map(move |&(nr, name)| (nr | bit, name))
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
            Arch::X86 => "x86 (i386)",
            Arch::X32 => "x32",
        })
    }
}
