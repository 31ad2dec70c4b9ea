use crate::error::{Error, Op};
use crate::key_type::KeyType;
use crate::perm::MoveFlags;
use crate::serial::KeySerial;
use crate::sys::{self, IntOp};
use crate::text::{KeyText, with_c_str};

use super::lifecycle::int_op;

/// `keyctl(KEYCTL_LINK, key, keyring)`: links a key into a keyring (replacing a
/// link to a key of the same type and description).
///
/// Needs link permission on the key and write permission on the keyring; the
/// keyring's restriction, if any, must accept the key.
///
/// # Errors
/// [`Error::PermissionDenied`]; [`Error::KeyNotFound`]; `EOPNOTSUPP`/`EPERM`
/// (as [`Error::Os`]) when a restriction refuses the key; `EDEADLK` for a link
/// that would make a cycle; `ENFILE` for a full keyring.
///
/// # References
/// [KEYCTL_LINK(2const)](https://man7.org/linux/man-pages/man2/KEYCTL_LINK.2const.html)
#[doc(alias = "KEYCTL_LINK")]
pub fn link(key: KeySerial, keyring: KeySerial) -> Result<(), Error> {
    int_op(
        IntOp::Link,
        Op::Link,
        key,
        [key.as_raw().into(), keyring.as_raw().into(), 0, 0],
        format_args!("{key}, {keyring}"),
    )
    .map(drop)
}

/// `keyctl(KEYCTL_UNLINK, key, keyring)`: removes a key's link from a keyring; a
/// key with no link left is freed by the garbage collector.
///
/// Needs write permission on the keyring.
///
/// # Errors
/// [`Error::KeyNotFound`] when the key is not linked there (or does not exist);
/// [`Error::PermissionDenied`].
///
/// # References
/// [KEYCTL_UNLINK(2const)](https://man7.org/linux/man-pages/man2/KEYCTL_UNLINK.2const.html)
#[doc(alias = "KEYCTL_UNLINK")]
#[inline]
pub fn unlink(key: KeySerial, keyring: KeySerial) -> Result<(), Error> {
    int_op(
        IntOp::Unlink,
        Op::Unlink,
        key,
        [key.as_raw().into(), keyring.as_raw().into(), 0, 0],
        format_args!("{key}, {keyring}"),
    )
    .map(drop)
}

/// `keyctl(KEYCTL_MOVE, key, from_keyring, to_keyring, flags)`: moves a link from
/// one keyring to another in one step (no moment where the key is in neither or
/// both). With [`MoveFlags::EXCL`] the move fails with `EEXIST` if the destination
/// already holds a key of the same type and description. Since Linux 5.1.
///
/// `move` is a Rust keyword, hence the name.
///
/// # Errors
/// [`Error::KeyNotFound`] when the key is not in `from_keyring`;
/// [`Error::PermissionDenied`]; `EEXIST` (as [`Error::Os`]) with `EXCL`;
/// [`Error::Unsupported`] before Linux 5.1.
///
/// # References
/// [KEYCTL_MOVE(2const)](https://man7.org/linux/man-pages/man2/KEYCTL_MOVE.2const.html)
#[doc(alias = "KEYCTL_MOVE")]
#[doc(alias = "move")]
pub fn move_key(
    key: KeySerial,
    from_keyring: KeySerial,
    to_keyring: KeySerial,
    flags: MoveFlags,
) -> Result<(), Error> {
    int_op(
        IntOp::Move,
        Op::Move,
        key,
        [
            key.as_raw().into(),
            from_keyring.as_raw().into(),
            to_keyring.as_raw().into(),
            flags.bits().into(),
        ],
        format_args!(
            "{key}, {from_keyring}, {to_keyring}, {}",
            if flags.contains(MoveFlags::EXCL) {
                "KEYCTL_MOVE_EXCL"
            } else {
                "0"
            }
        ),
    )
    .map(drop)
}

/// `keyctl(KEYCTL_SEARCH, keyring, type, description, dest_keyring)`: searches a
/// keyring tree (depth first, through keyrings the caller may search) for a key of
/// that type and exact description, and links it into `dest` when given.
///
/// # Errors
/// [`Error::KeyNotFound`] when nothing matches (or the caller may not search the
/// keyring); [`Error::KeyExpired`]/[`Error::KeyRevoked`] when the search found
/// no valid match but met an expired or revoked key on its way (unlink revoked
/// keys to get a plain `ENOKEY`); an unknown type is also `ENOKEY`.
///
/// # References
/// [KEYCTL_SEARCH(2const)](https://man7.org/linux/man-pages/man2/KEYCTL_SEARCH.2const.html)
#[doc(alias = "KEYCTL_SEARCH")]
#[inline]
pub fn search<D: KeyText + ?Sized>(
    keyring: KeySerial,
    key_type: KeyType<'_>,
    description: &D,
    dest: Option<KeySerial>,
) -> Result<KeySerial, Error> {
    let dest_raw = dest.map_or(0, KeySerial::as_raw);
    with_c_str("description", description, |desc| {
        sys::keyctl_search(keyring.as_raw(), key_type.name(), desc, dest_raw)
            .map(KeySerial::from_raw)
            .map_err(|errno| {
                Error::from_errno(
                    Op::Search,
                    keyring,
                    errno,
                    format_args!("{keyring}, {:?}, {desc:?}, {dest_raw}", key_type.name()),
                )
            })
    })
}
