//! String arguments: `&str` is copied into a NUL-terminated stack buffer, `&CStr`
//! passes as it is; neither allocates.
#![forbid(unsafe_code)]

use std::ffi::{CStr, CString};

use crate::error::Error;

/// The kernel's limit on a key description, a type name or a keyring name, NUL
/// included (`KEY_MAX_DESC_SIZE`).
pub(crate) const MAX_TEXT: usize = 4096;

const SHORT: usize = 256;

mod sealed {
    pub trait Sealed {}
}

/// A string argument of a key call: `str`, `String`, `CStr` or `CString`.
///
/// Rust strings are copied into a NUL-terminated buffer on the stack (no
/// allocation); C strings are passed as they are. A Rust string that contains a NUL
/// byte, or is longer than 4095 bytes (the kernel's `KEY_MAX_DESC_SIZE` less the
/// NUL), is refused with [`Error::InvalidInput`] naming the argument.
pub trait KeyText: sealed::Sealed {
    /// The bytes, without a terminating NUL.
    fn text_bytes(&self) -> &[u8];
    /// The string as a `CStr` when it already is one.
    fn as_c_str(&self) -> Option<&CStr>;
}

impl sealed::Sealed for str {}
impl KeyText for str {
    fn text_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
    fn as_c_str(&self) -> Option<&CStr> {
        None
    }
}

impl sealed::Sealed for String {}
impl KeyText for String {
    fn text_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
    fn as_c_str(&self) -> Option<&CStr> {
        None
    }
}

impl sealed::Sealed for CStr {}
impl KeyText for CStr {
    fn text_bytes(&self) -> &[u8] {
        self.to_bytes()
    }
    fn as_c_str(&self) -> Option<&CStr> {
        Some(self)
    }
}

impl sealed::Sealed for CString {}
impl KeyText for CString {
    fn text_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
    fn as_c_str(&self) -> Option<&CStr> {
        Some(self.as_c_str())
    }
}

/// Checks a string argument: no NUL byte, at most 4095 bytes.
pub(crate) fn check_text(input: &'static str, bytes: &[u8]) -> Result<(), Error> {
    if bytes.contains(&0) {
        return Err(Error::invalid(input, bytes, "contains a NUL byte"));
    }
    if bytes.len() >= MAX_TEXT {
        return Err(Error::invalid(
            input,
            bytes,
            "is longer than the kernel's limit of 4095 bytes",
        ));
    }
    Ok(())
}

/// Calls `f` with `text` as a NUL-terminated string, copying it to the stack when
/// needed. `input` names the argument in a validation error.
#[inline]
pub(crate) fn with_c_str<T: KeyText + ?Sized, R>(
    input: &'static str,
    text: &T,
    f: impl FnOnce(&CStr) -> Result<R, Error>,
) -> Result<R, Error> {
    if let Some(c) = text.as_c_str() {
        if c.to_bytes().len() >= MAX_TEXT {
            check_text(input, c.to_bytes())?;
        }
        return f(c);
    }
    let bytes = text.text_bytes();
    if bytes.len() < SHORT {
        let mut buf = [0u8; SHORT];
        copy_nul(input, bytes, &mut buf).and_then(f)
    } else {
        check_text(input, bytes)?;
        let mut buf = [0u8; MAX_TEXT];
        copy_nul(input, bytes, &mut buf).and_then(f)
    }
}

/// Like [`with_c_str`] for an optional argument (`None` is passed as NULL).
#[inline]
pub(crate) fn with_opt_c_str<T: KeyText + ?Sized, R>(
    input: &'static str,
    text: Option<&T>,
    f: impl FnOnce(Option<&CStr>) -> Result<R, Error>,
) -> Result<R, Error> {
    match text {
        None => f(None),
        Some(text) => with_c_str(input, text, |c| f(Some(c))),
    }
}

#[inline]
fn copy_nul<'b>(input: &'static str, bytes: &[u8], buf: &'b mut [u8]) -> Result<&'b CStr, Error> {
    buf[..bytes.len()].copy_from_slice(bytes);
    buf[bytes.len()] = 0;
    CStr::from_bytes_with_nul(&buf[..=bytes.len()])
        .map_err(|_| Error::invalid(input, bytes, "contains a NUL byte"))
}
