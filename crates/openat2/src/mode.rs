//! `Mode`: the permission bits of a file to create.
#![forbid(unsafe_code)]

use std::fmt;

use crate::error::{Error, Result};

/// `S_IALLUGO`: every bit a mode for `O_CREAT`, `O_TMPFILE` or `mkdirat` may hold
/// (permissions, set-user-ID, set-group-ID, sticky).
pub(crate) const S_IALLUGO: u32 = 0o7777;

bitflags::bitflags! {
    /// The permission bits of a file or directory to create (`O_CREAT`, `O_TMPFILE`,
    /// `mkdirat`), as `open_how.mode` carries them.
    ///
    /// [`Mode::from_raw_mode`] refuses bits outside `S_IALLUGO` (`0o7777`), as the
    /// kernel's `openat2` does, instead of dropping them. Unknown bits can still be
    /// built with `from_bits_retain` (`const _ = !0`) to hand them to the raw
    /// [`openat2`](crate::openat2), which lets the kernel answer (`EINVAL`);
    /// [`Root`](crate::Root) refuses them before any system call.
    ///
    /// # Examples
    ///
    /// ```
    /// use linception_openat2::{ErrorKind, Mode};
    ///
    /// let mode = Mode::from_raw_mode(0o640)?;
    /// assert_eq!(mode, Mode::RUSR | Mode::WUSR | Mode::RGRP);
    /// // A file type bit is not a permission: refused, not dropped.
    /// let err = Mode::from_raw_mode(0o100644).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    /// assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    /// assert_eq!(format!("{:?}", Mode::from_bits_retain(0xffff)), "0o177777");
    /// # Ok::<(), linception_openat2::Error>(())
    /// ```
    #[repr(transparent)]
    #[derive(Copy, Clone, Eq, PartialEq, Hash, Default)]
    pub struct Mode: u32 {
        /// `S_IRWXU`: read, write and execute for the owner.
        #[doc(alias = "S_IRWXU")]
        const RWXU = 0o700;
        /// `S_IRUSR`: read for the owner.
        #[doc(alias = "S_IRUSR")]
        const RUSR = 0o400;
        /// `S_IWUSR`: write for the owner.
        #[doc(alias = "S_IWUSR")]
        const WUSR = 0o200;
        /// `S_IXUSR`: execute (search, for a directory) for the owner.
        #[doc(alias = "S_IXUSR")]
        const XUSR = 0o100;
        /// `S_IRWXG`: read, write and execute for the group.
        #[doc(alias = "S_IRWXG")]
        const RWXG = 0o070;
        /// `S_IRGRP`: read for the group.
        #[doc(alias = "S_IRGRP")]
        const RGRP = 0o040;
        /// `S_IWGRP`: write for the group.
        #[doc(alias = "S_IWGRP")]
        const WGRP = 0o020;
        /// `S_IXGRP`: execute for the group.
        #[doc(alias = "S_IXGRP")]
        const XGRP = 0o010;
        /// `S_IRWXO`: read, write and execute for others.
        #[doc(alias = "S_IRWXO")]
        const RWXO = 0o007;
        /// `S_IROTH`: read for others.
        #[doc(alias = "S_IROTH")]
        const ROTH = 0o004;
        /// `S_IWOTH`: write for others.
        #[doc(alias = "S_IWOTH")]
        const WOTH = 0o002;
        /// `S_IXOTH`: execute for others.
        #[doc(alias = "S_IXOTH")]
        const XOTH = 0o001;
        /// `S_ISUID`: set-user-ID on execution.
        #[doc(alias = "S_ISUID")]
        const SUID = 0o4000;
        /// `S_ISGID`: set-group-ID on execution (on a directory: new entries take
        /// its group).
        #[doc(alias = "S_ISGID")]
        const SGID = 0o2000;
        /// `S_ISVTX`: sticky (on a directory: only an entry's owner may remove it).
        #[doc(alias = "S_ISVTX")]
        const SVTX = 0o1000;

        /// Unknown bits are kept, so that nothing is dropped silently.
        const _ = !0;
    }
}

impl Mode {
    /// Every bit a mode may hold: `S_IALLUGO` (`0o7777`).
    pub const ALL: Mode = Mode::from_bits_retain(S_IALLUGO);

    /// The mode with these bits, like `mode_t` in C, refusing any bit outside
    /// `S_IALLUGO` (`0o7777`): a file type bit (`S_IFREG`...) or an unknown bit is
    /// an error, never dropped.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] naming the mode (errno `EINVAL`, what the kernel's
    /// `openat2` answers for such a mode with `O_CREAT`).
    pub fn from_raw_mode(raw: u32) -> Result<Mode> {
        if raw & !S_IALLUGO != 0 {
            return Err(Error::invalid(
                "mode",
                format!("{raw:#o}"),
                "has bits outside S_IALLUGO (0o7777): file type or unknown bits",
                libc::EINVAL,
            ));
        }
        Ok(Mode::from_bits_retain(raw))
    }

    /// The raw bits, as `mode_t`.
    pub const fn as_raw_mode(self) -> u32 {
        self.bits()
    }

    /// The bits outside `S_IALLUGO`, which the kernel refuses.
    pub const fn unknown(self) -> Mode {
        self.difference(Mode::ALL)
    }

    /// For rustix calls: only after the bits were checked to be in `S_IALLUGO`.
    pub(crate) fn to_rustix(self) -> rustix::fs::Mode {
        rustix::fs::Mode::from_bits_retain(self.bits())
    }
}

/// Octal, like `ls -l`'s numeric form: `0o755`.
impl fmt::Debug for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#o}", self.bits())
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_raw_mode_refuses_bits_outside_s_iallugo() {
        assert_eq!(Mode::from_raw_mode(0o7777).unwrap(), Mode::ALL);
        assert_eq!(Mode::from_raw_mode(0).unwrap(), Mode::empty());
        for bad in [0xffff, 0o10000, 0o100644, 1 << 20, u32::MAX] {
            let e = Mode::from_raw_mode(bad).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{bad:#o}");
            let text = e.to_string();
            assert!(
                text.contains(&format!("{bad:#o}")) && text.contains("S_IALLUGO"),
                "{text}"
            );
        }
        assert_eq!(Mode::from_bits_retain(0xffff).unknown().bits(), 0o170000);
        assert_eq!(
            Mode::RWXU | Mode::RWXG | Mode::RWXO | Mode::SUID | Mode::SGID | Mode::SVTX,
            Mode::ALL
        );
    }
}
