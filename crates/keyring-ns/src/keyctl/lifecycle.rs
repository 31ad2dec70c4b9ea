use crate::error::{Error, Op};
use crate::serial::KeySerial;
use crate::sys::{self, IntOp};

/// `keyctl(KEYCTL_UPDATE, key, payload, plen)`: replaces a key's payload.
///
/// Needs write permission. Keyrings cannot be updated (`EOPNOTSUPP`). The kernel
/// takes at most one page (4096 bytes on most machines) here, less than `add_key`
/// takes: replace a larger payload with [`add_key`](crate::add_key) of the same
/// type and description, which updates the key in place.
///
/// # Errors
/// [`Error::PermissionDenied`] without write permission; [`Error::QuotaExceeded`]
/// when the larger payload does not fit the owner's quota; [`Error::KeyExpired`],
/// [`Error::KeyRevoked`]; [`Error::InvalidInput`] for an oversized payload.
///
/// # References
/// [KEYCTL_UPDATE(2const)](https://man7.org/linux/man-pages/man2/KEYCTL_UPDATE.2const.html)
#[doc(alias = "KEYCTL_UPDATE")]
pub fn update(key: KeySerial, payload: &[u8]) -> Result<(), Error> {
    if payload.len() > rustix::param::page_size() {
        return Err(Error::InvalidInput {
            input: "payload",
            value: format!("<{} bytes>", payload.len()),
            reason: "KEYCTL_UPDATE takes at most one page; use add_key with the same description to replace a larger payload",
        });
    }
    sys::keyctl_update(key.as_raw(), payload).map_err(|errno| {
        Error::from_errno(
            Op::Update,
            key,
            errno,
            format_args!("{key}, <{} bytes>", payload.len()),
        )
    })
}

/// `keyctl(KEYCTL_REVOKE, key)`: revokes a key at once; every later use answers
/// `EKEYREVOKED` until the garbage collector removes it.
///
/// Needs write or setattr permission.
///
/// # Errors
/// [`Error::PermissionDenied`], [`Error::KeyNotFound`], [`Error::KeyRevoked`]
/// (already revoked).
///
/// # References
/// [KEYCTL_REVOKE(2const)](https://man7.org/linux/man-pages/man2/KEYCTL_REVOKE.2const.html)
#[doc(alias = "KEYCTL_REVOKE")]
pub fn revoke(key: KeySerial) -> Result<(), Error> {
    int_op(
        IntOp::Revoke,
        Op::Revoke,
        key,
        [key.as_raw().into(), 0, 0, 0],
        format_args!("{key}"),
    )
    .map(drop)
}

/// `keyctl(KEYCTL_INVALIDATE, key)`: marks a key invalid; lookups by serial answer
/// `ENOKEY` at once, and the garbage collector soon (asynchronously, usually
/// within milliseconds) unlinks it from every keyring and frees it. Until then a
/// search that meets it answers `EKEYREVOKED`. Since Linux 3.5.
///
/// Needs search permission.
///
/// # Errors
/// [`Error::PermissionDenied`], [`Error::KeyNotFound`];
/// [`Error::Unsupported`] before Linux 3.5.
///
/// # References
/// [KEYCTL_INVALIDATE(2const)](https://man7.org/linux/man-pages/man2/KEYCTL_INVALIDATE.2const.html)
#[doc(alias = "KEYCTL_INVALIDATE")]
pub fn invalidate(key: KeySerial) -> Result<(), Error> {
    int_op(
        IntOp::Invalidate,
        Op::Invalidate,
        key,
        [key.as_raw().into(), 0, 0, 0],
        format_args!("{key}"),
    )
    .map(drop)
}

/// `keyctl(KEYCTL_SET_TIMEOUT, key, seconds)`: the key expires `seconds` from now
/// (`0` removes the timeout). An expired key answers `EKEYEXPIRED`.
///
/// Needs setattr permission.
///
/// # Errors
/// [`Error::PermissionDenied`], [`Error::KeyNotFound`], [`Error::KeyExpired`],
/// [`Error::KeyRevoked`].
///
/// # References
/// [KEYCTL_SET_TIMEOUT(2const)](https://man7.org/linux/man-pages/man2/KEYCTL_SET_TIMEOUT.2const.html)
#[doc(alias = "KEYCTL_SET_TIMEOUT")]
pub fn set_timeout(key: KeySerial, seconds: u32) -> Result<(), Error> {
    int_op(
        IntOp::SetTimeout,
        Op::SetTimeout,
        key,
        [key.as_raw().into(), seconds.into(), 0, 0],
        format_args!("{key}, {seconds}"),
    )
    .map(drop)
}

/// `keyctl(KEYCTL_CLEAR, keyring)`: unlinks every key from a keyring.
///
/// Needs write permission on the keyring.
///
/// # Errors
/// [`Error::PermissionDenied`], [`Error::KeyNotFound`]; `ENOTDIR` (as
/// [`Error::Os`]) for a key that is not a keyring.
///
/// # References
/// [KEYCTL_CLEAR(2const)](https://man7.org/linux/man-pages/man2/KEYCTL_CLEAR.2const.html)
#[doc(alias = "KEYCTL_CLEAR")]
pub fn clear(keyring: KeySerial) -> Result<(), Error> {
    int_op(
        IntOp::Clear,
        Op::Clear,
        keyring,
        [keyring.as_raw().into(), 0, 0, 0],
        format_args!("{keyring}"),
    )
    .map(drop)
}

/// One integer-only `keyctl` call, with its error built from `args` on failure.
#[inline]
pub(super) fn int_op(
    op: IntOp,
    name: Op,
    key: KeySerial,
    [a2, a3, a4, a5]: [std::ffi::c_long; 4],
    args: std::fmt::Arguments<'_>,
) -> Result<std::ffi::c_long, Error> {
    sys::keyctl_int(op, a2, a3, a4, a5)
        .map_err(|errno| Error::from_errno_probed(name, key, errno, args))
}
