//! `RESOLVE_*` flags.
#![forbid(unsafe_code)]

use std::fmt;

bitflags::bitflags! {
    /// `RESOLVE_*` flags for `open_how.resolve`: how [`openat2`](crate::openat2)
    /// (and [`Root`](crate::Root)) may resolve a path.
    ///
    /// Unknown bits are kept (`const _ = !0`) so that a newer kernel's flags pass
    /// through the raw wrapper; [`Root`](crate::Root) refuses them.
    ///
    /// # Examples
    ///
    /// ```
    /// use linception_openat2::ResolveFlags;
    ///
    /// let flags = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    /// assert_eq!(format!("{flags:?}"), "NO_MAGICLINKS|IN_ROOT");
    /// assert!(ResolveFlags::from_bits_retain(1 << 40).unknown().bits() != 0);
    /// ```
    #[repr(transparent)]
    #[derive(Copy, Clone, Eq, PartialEq, Hash, Default)]
    pub struct ResolveFlags: u64 {
        /// `RESOLVE_NO_XDEV`: refuse to cross a mount point (bind mounts included),
        /// in either direction. Since Linux 5.6.
        #[doc(alias = "RESOLVE_NO_XDEV")]
        const NO_XDEV = libc::RESOLVE_NO_XDEV;
        /// `RESOLVE_NO_MAGICLINKS`: refuse procfs magic links (`/proc/<pid>/fd/*`,
        /// `/proc/<pid>/root`, `exe`, `cwd`, `ns/*`): `ELOOP`. Since Linux 5.6.
        #[doc(alias = "RESOLVE_NO_MAGICLINKS")]
        const NO_MAGICLINKS = libc::RESOLVE_NO_MAGICLINKS;
        /// `RESOLVE_NO_SYMLINKS`: refuse every symlink (magic links included): `ELOOP`.
        /// Since Linux 5.6.
        #[doc(alias = "RESOLVE_NO_SYMLINKS")]
        const NO_SYMLINKS = libc::RESOLVE_NO_SYMLINKS;
        /// `RESOLVE_BENEATH`: the lookup must stay below the directory: a `..` above
        /// it, an absolute path or an absolute symlink is refused with `EXDEV`.
        /// Since Linux 5.6.
        #[doc(alias = "RESOLVE_BENEATH")]
        const BENEATH = libc::RESOLVE_BENEATH;
        /// `RESOLVE_IN_ROOT`: treat the directory as `/`: `..` at it stays there,
        /// absolute paths and symlinks start from it. Since Linux 5.6.
        #[doc(alias = "RESOLVE_IN_ROOT")]
        const IN_ROOT = libc::RESOLVE_IN_ROOT;
        /// `RESOLVE_CACHED`: complete the lookup from the dentry cache only, or fail
        /// with `EAGAIN` (always the case with `O_CREAT`, `O_TRUNC`, `O_TMPFILE`).
        /// Since Linux 5.12.
        #[doc(alias = "RESOLVE_CACHED")]
        const CACHED = libc::RESOLVE_CACHED;

        /// Unknown bits are kept.
        const _ = !0;
    }
}

impl ResolveFlags {
    /// Every flag this crate knows.
    pub const KNOWN: ResolveFlags = ResolveFlags::NO_XDEV
        .union(ResolveFlags::NO_MAGICLINKS)
        .union(ResolveFlags::NO_SYMLINKS)
        .union(ResolveFlags::BENEATH)
        .union(ResolveFlags::IN_ROOT)
        .union(ResolveFlags::CACHED);

    /// The bits this crate does not know.
    pub fn unknown(self) -> ResolveFlags {
        self.difference(Self::KNOWN)
    }

    pub(crate) fn to_rustix(self) -> rustix::fs::ResolveFlags {
        rustix::fs::ResolveFlags::from_bits_retain(self.bits())
    }
}

/// Prints the C names: `IN_ROOT|NO_XDEV`, `0` when empty, unknown bits in hex.
impl fmt::Debug for ResolveFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (ResolveFlags::NO_XDEV, "NO_XDEV"),
            (ResolveFlags::NO_MAGICLINKS, "NO_MAGICLINKS"),
            (ResolveFlags::NO_SYMLINKS, "NO_SYMLINKS"),
            (ResolveFlags::BENEATH, "BENEATH"),
            (ResolveFlags::IN_ROOT, "IN_ROOT"),
            (ResolveFlags::CACHED, "CACHED"),
        ];
        let mut first = true;
        for (flag, name) in names {
            if self.contains(flag) {
                if !first {
                    f.write_str("|")?;
                }
                first = false;
                f.write_str(name)?;
            }
        }
        let unknown = self.unknown().bits();
        if unknown != 0 {
            if !first {
                f.write_str("|")?;
            }
            first = false;
            write!(f, "{unknown:#x}")?;
        }
        if first {
            f.write_str("0")?;
        }
        Ok(())
    }
}

impl fmt::Display for ResolveFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The `O_*` flags the kernel's `openat2` accepts (`VALID_OPEN_FLAGS`).
pub(crate) const VALID_OFLAGS: u32 = (libc::O_ACCMODE
    | libc::O_CREAT
    | libc::O_EXCL
    | libc::O_NOCTTY
    | libc::O_TRUNC
    | libc::O_APPEND
    | libc::O_NONBLOCK
    | libc::O_DSYNC
    | libc::O_ASYNC
    | libc::O_DIRECT
    | libc::O_LARGEFILE
    | libc::O_DIRECTORY
    | libc::O_NOFOLLOW
    | libc::O_NOATIME
    | libc::O_CLOEXEC
    | libc::O_SYNC
    | libc::O_PATH
    | libc::O_TMPFILE) as u32;

/// `__O_TMPFILE`: `O_TMPFILE` without its `O_DIRECTORY` bit.
pub(crate) const O_TMPFILE_BIT: u32 = (libc::O_TMPFILE & !libc::O_DIRECTORY) as u32;

/// Formats `O_*` flags (all 64 bits of `open_how.flags`) with their C names:
/// `O_RDONLY|O_CLOEXEC`, unknown bits in hex.
pub(crate) struct OFlagsDisplay(pub(crate) u64);

impl OFlagsDisplay {
    pub(crate) fn of(flags: rustix::fs::OFlags) -> Self {
        OFlagsDisplay(u64::from(flags.bits()))
    }
}

impl fmt::Display for OFlagsDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bits = self.0;
        f.write_str(match bits & libc::O_ACCMODE as u64 {
            0 => "O_RDONLY",
            1 => "O_WRONLY",
            2 => "O_RDWR",
            _ => "O_ACCMODE",
        })?;
        let mut rest = bits & !(libc::O_ACCMODE as u64);
        // O_TMPFILE includes O_DIRECTORY, O_SYNC includes O_DSYNC: print the larger first.
        let names: [(i32, &str); 18] = [
            (libc::O_TMPFILE, "O_TMPFILE"),
            (O_TMPFILE_BIT as i32, "__O_TMPFILE"),
            (libc::O_SYNC, "O_SYNC"),
            (libc::O_CREAT, "O_CREAT"),
            (libc::O_EXCL, "O_EXCL"),
            (libc::O_NOCTTY, "O_NOCTTY"),
            (libc::O_TRUNC, "O_TRUNC"),
            (libc::O_APPEND, "O_APPEND"),
            (libc::O_NONBLOCK, "O_NONBLOCK"),
            (libc::O_DSYNC, "O_DSYNC"),
            (libc::O_ASYNC, "O_ASYNC"),
            (libc::O_DIRECT, "O_DIRECT"),
            (libc::O_LARGEFILE, "O_LARGEFILE"),
            (libc::O_DIRECTORY, "O_DIRECTORY"),
            (libc::O_NOFOLLOW, "O_NOFOLLOW"),
            (libc::O_NOATIME, "O_NOATIME"),
            (libc::O_CLOEXEC, "O_CLOEXEC"),
            (libc::O_PATH, "O_PATH"),
        ];
        for (flag, name) in names {
            let flag = u64::from(flag as u32);
            if flag != 0 && rest & flag == flag {
                write!(f, "|{name}")?;
                rest &= !flag;
            }
        }
        if rest != 0 {
            write!(f, "|{rest:#x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fs::OFlags;

    #[test]
    fn formats_c_names() {
        assert_eq!(
            format!("{:?}", ResolveFlags::IN_ROOT | ResolveFlags::NO_XDEV),
            "NO_XDEV|IN_ROOT"
        );
        assert_eq!(format!("{:?}", ResolveFlags::empty()), "0");
        assert_eq!(
            format!("{:?}", ResolveFlags::from_bits_retain(0x100 | 0x10)),
            "IN_ROOT|0x100"
        );
        assert_eq!(
            OFlagsDisplay::of(OFlags::PATH | OFlags::CLOEXEC | OFlags::NOFOLLOW).to_string(),
            "O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_PATH"
        );
        assert_eq!(
            OFlagsDisplay::of(OFlags::WRONLY | OFlags::TMPFILE).to_string(),
            "O_WRONLY|O_TMPFILE"
        );
        assert_eq!(
            OFlagsDisplay(1 << 32 | u64::from(OFlags::PATH.bits())).to_string(),
            "O_RDONLY|O_PATH|0x100000000"
        );
    }

    #[test]
    fn matches_rustix_bits() {
        assert_eq!(
            ResolveFlags::IN_ROOT.bits(),
            rustix::fs::ResolveFlags::IN_ROOT.bits()
        );
        assert_eq!(
            ResolveFlags::CACHED.bits(),
            rustix::fs::ResolveFlags::CACHED.bits()
        );
        assert_eq!(
            ResolveFlags::from_bits_retain(1 << 40).unknown().bits(),
            1 << 40
        );
    }
}
