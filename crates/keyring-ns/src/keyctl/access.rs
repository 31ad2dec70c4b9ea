use crate::error::{Error, Op, OrNull};
use crate::key_type::KeyType;
use crate::perm::Permission;
use crate::serial::KeySerial;
use crate::sys::{self, IntOp};
use crate::text::{KeyText, with_opt_c_str};

use super::lifecycle::int_op;

/// `keyctl(KEYCTL_SETPERM, key, perm)`: sets a key's permission mask.
///
/// Only the key's owner (or a process with `CAP_SYS_ADMIN`) may, and it needs
/// setattr permission. Bits outside the four classes are refused (`EINVAL`).
///
/// # Errors
/// [`Error::PermissionDenied`] for another owner's key or without setattr;
/// [`Error::KeyNotFound`], [`Error::KeyRevoked`], [`Error::KeyExpired`].
///
/// # Examples
/// ```no_run
/// use linception_keyring_ns::{KeySerial, Permission, setperm};
///
/// // A session keyring only its possessors can touch.
/// setperm(KeySerial::SESSION_KEYRING, Permission::POSSESSOR_ALL)?;
/// # Ok::<(), linception_keyring_ns::Error>(())
/// ```
///
/// # References
/// [KEYCTL_SETPERM(2const)](https://man7.org/linux/man-pages/man2/KEYCTL_SETPERM.2const.html)
#[doc(alias = "KEYCTL_SETPERM")]
#[inline]
pub fn setperm(key: KeySerial, perm: Permission) -> Result<(), Error> {
    int_op(
        IntOp::Setperm,
        Op::Setperm,
        key,
        [key.as_raw().into(), perm.bits().into(), 0, 0],
        format_args!("{key}, {perm:#010x}", perm = perm.bits()),
    )
    .map(drop)
}

/// `keyctl(KEYCTL_CHOWN, key, uid, gid)`: changes a key's owner and group (`None`
/// keeps one), ids as seen from the caller's user namespace.
///
/// Changing the owner needs `CAP_SYS_ADMIN`; the owner may change the group to
/// one of its own groups. The new owner's quota is charged.
///
/// # Errors
/// [`Error::PermissionDenied`] (`EACCES`) for an unprivileged owner change or
/// without setattr permission; [`Error::QuotaExceeded`] when the new owner's
/// quota is full; `EINVAL` (as [`Error::Os`]) for an id without a mapping.
///
/// # References
/// [KEYCTL_CHOWN(2const)](https://man7.org/linux/man-pages/man2/KEYCTL_CHOWN.2const.html)
#[doc(alias = "KEYCTL_CHOWN")]
pub fn chown(key: KeySerial, uid: Option<u32>, gid: Option<u32>) -> Result<(), Error> {
    // The kernel reads (uid_t)-1 as "no change".
    let raw_uid = uid.map_or(-1, |u| u as i32);
    let raw_gid = gid.map_or(-1, |g| g as i32);
    int_op(
        IntOp::Chown,
        Op::Chown,
        key,
        [key.as_raw().into(), raw_uid.into(), raw_gid.into(), 0],
        format_args!("{key}, {raw_uid}, {raw_gid}"),
    )
    .map(drop)
}

/// `keyctl(KEYCTL_RESTRICT_KEYRING, keyring, type, restriction)`: limits which keys
/// may be linked into a keyring from now on (the restriction cannot be lifted).
///
/// `key_type: None` (and no restriction) refuses every further link (`EPERM`).
/// Otherwise the type interprets the restriction; the `asymmetric` type takes
/// `"builtin_trusted"`, `"builtin_and_secondary_trusted"` or
/// `"key_or_keyring:<serial>[:chain]"`, and refuses keys of any other type
/// (`EOPNOTSUPP`). Since Linux 4.12.
///
/// Needs setattr permission on the keyring.
///
/// # Errors
/// `EEXIST` (as [`Error::Os`]) for an already restricted keyring; `ENOENT` for
/// a type without restrictions; `EINVAL` for a restriction the type does not
/// understand; [`Error::KeyNotFound`] (`ENOKEY`) for an unknown type;
/// [`Error::Unsupported`] before 4.12.
///
/// # Examples
/// ```no_run
/// use linception_keyring_ns::{KeyType, KeySerial, restrict_keyring};
///
/// let ring = linception_keyring_ns::add_key(KeyType::KEYRING, "ca", b"", KeySerial::SESSION_KEYRING)?;
/// // Only certificates signed by a built-in trusted key from now on.
/// restrict_keyring(ring, Some(KeyType::new(c"asymmetric")), Some("builtin_trusted"))?;
/// # Ok::<(), linception_keyring_ns::Error>(())
/// ```
///
/// # References
/// [KEYCTL_RESTRICT_KEYRING(2const)](https://man7.org/linux/man-pages/man2/KEYCTL_RESTRICT_KEYRING.2const.html)
#[doc(alias = "KEYCTL_RESTRICT_KEYRING")]
pub fn restrict_keyring<R: KeyText + ?Sized>(
    keyring: KeySerial,
    key_type: Option<KeyType<'_>>,
    restriction: Option<&R>,
) -> Result<(), Error> {
    if key_type.is_none() && restriction.is_some() {
        return Err(Error::invalid(
            "keyring restriction",
            restriction.map_or(&[][..], |r| r.text_bytes()),
            "a restriction needs the key type that interprets it",
        ));
    }
    with_opt_c_str("keyring restriction", restriction, |restriction| {
        let type_name = key_type.map(|t| t.name());
        sys::keyctl_restrict(keyring.as_raw(), type_name, restriction).map_err(|errno| {
            Error::from_errno_probed(
                Op::RestrictKeyring,
                keyring,
                errno,
                format_args!("{keyring}, {}, {}", OrNull(type_name), OrNull(restriction)),
            )
        })
    })
}
