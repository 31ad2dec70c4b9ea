use crate::error::{Error, Op};
use crate::serial::KeySerial;
use crate::sys::{self, BufOp};

/// `keyctl(KEYCTL_READ, key, buf, buf.len())`: reads the payload into a buffer the
/// caller owns, and returns the payload's full length.
///
/// If the returned length is larger than `buf`, the payload did not fit and the
/// buffer holds nothing useful (kernels since 5.8 copy nothing; older ones copy a
/// prefix): call again with a buffer of that length, or use [`read`]. For a keyring
/// the payload is its list of serials (see [`read_keyring`]).
///
/// The caller needs read permission, or must possess the key and have search
/// permission on it: the kernel lets a possessor that can find a key read it
/// even without the read bit. To make a key unreadable to its possessors, clear
/// both [`Permission::POSSESSOR_READ`](crate::Permission::POSSESSOR_READ) and
/// [`Permission::POSSESSOR_SEARCH`](crate::Permission::POSSESSOR_SEARCH).
///
/// Allocation-free: the hot-path form.
///
/// # Errors
/// [`Error::NotReadable`] (`EOPNOTSUPP`) for a type without a readable payload
/// (`logon`); [`Error::PermissionDenied`] without read permission;
/// [`Error::KeyExpired`], [`Error::KeyRevoked`], [`Error::KeyNotFound`].
///
/// # References
/// [KEYCTL_READ(2const)](https://man7.org/linux/man-pages/man2/KEYCTL_READ.2const.html)
#[doc(alias = "KEYCTL_READ")]
#[inline]
pub fn read_into(key: KeySerial, buf: &mut [u8]) -> Result<usize, Error> {
    let len = buf.len();
    sys::keyctl_buf(BufOp::Read, key.as_raw(), buf).map_err(|errno| {
        Error::from_errno(Op::Read, key, errno, format_args!("{key}, <buffer>, {len}"))
    })
}

/// `keyctl(KEYCTL_READ, ...)` into a growing buffer: the whole payload, also when
/// the key grows between calls (each answer that does not fit its buffer is
/// retried with the larger size).
///
/// # Errors
/// As [`read_into`].
///
/// # Examples
/// ```no_run
/// use linception_keyring_ns::{KeySerial, KeyType, add_key, read};
///
/// let key = add_key(KeyType::USER, "token", b"s3cret", KeySerial::SESSION_KEYRING)?;
/// assert_eq!(read(key)?, b"s3cret");
/// # Ok::<(), linception_keyring_ns::Error>(())
/// ```
///
/// # References
/// [KEYCTL_READ(2const)](https://man7.org/linux/man-pages/man2/KEYCTL_READ.2const.html)
#[doc(alias = "KEYCTL_READ")]
pub fn read(key: KeySerial) -> Result<Vec<u8>, Error> {
    super::read_growing(BufOp::Read, Op::Read, key, 512)
}

/// `keyctl(KEYCTL_READ, keyring, ...)` decoded: the serials linked in a keyring.
///
/// # Errors
/// As [`read_into`]; a key that is not a keyring gives its payload's bytes
/// decoded as serials, so check the type with [`describe`](crate::describe) when
/// unsure.
///
/// # References
/// [KEYCTL_READ(2const)](https://man7.org/linux/man-pages/man2/KEYCTL_READ.2const.html)
#[doc(alias = "KEYCTL_READ")]
pub fn read_keyring(keyring: KeySerial) -> Result<Vec<KeySerial>, Error> {
    let bytes = read(keyring)?;
    Ok(bytes
        .chunks_exact(4)
        .map(|c| KeySerial::from_raw(i32::from_ne_bytes([c[0], c[1], c[2], c[3]])))
        .collect())
}
