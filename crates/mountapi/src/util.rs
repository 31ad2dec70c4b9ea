//! Small helpers shared by the wrappers.
#![forbid(unsafe_code)]

use std::ffi::CStr;
use std::fmt;
use std::os::fd::{AsRawFd, BorrowedFd};

use bitflags::Bits as _;
use rustix::path::Arg;

use crate::error::{Error, Result};

/// Runs `f` with `arg` as a C string. `&CStr` arguments are passed through as they
/// are, and short `&str`/`&Path` arguments are copied to the stack: nothing is
/// allocated for them. An interior NUL byte is an `InvalidArgument` naming `what`.
#[inline]
pub(crate) fn with_c_str<A: Arg, T>(
    what: &'static str,
    arg: A,
    f: impl FnOnce(&CStr) -> Result<T>,
) -> Result<T> {
    let mut out = None;
    let converted = arg.into_with_c_str(|c_str| {
        out = Some(f(c_str));
        Ok(())
    });
    match (out, converted) {
        (Some(result), _) => result,
        (None, _) => Err(Error::nul(what)),
    }
}

/// Displays a dirfd like the C call would be written: `AT_FDCWD` or `fd 7`.
pub(crate) struct Dirfd<'a>(pub BorrowedFd<'a>);

impl fmt::Display for Dirfd<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_raw_fd() {
            libc::AT_FDCWD => f.write_str("AT_FDCWD"),
            fd => write!(f, "fd {fd}"),
        }
    }
}

/// Displays a flag set as `A|B`, or `0`.
pub(crate) struct Flags<F>(pub F);

impl<F: bitflags::Flags> fmt::Display for Flags<&F>
where
    F::Bits: fmt::LowerHex,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("0");
        }
        let mut first = true;
        let mut named = F::Bits::EMPTY;
        for (name, flag) in self.0.iter_names() {
            if !first {
                f.write_str("|")?;
            }
            first = false;
            named = named | flag.bits();
            f.write_str(name)?;
        }
        let unknown = self.0.bits() & !named;
        if unknown != F::Bits::EMPTY {
            if !first {
                f.write_str("|")?;
            }
            write!(f, "{unknown:#x}")?;
        }
        Ok(())
    }
}
