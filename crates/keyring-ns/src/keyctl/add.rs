use crate::error::{Error, Op, OrNull};
use crate::key_type::KeyType;
use crate::serial::KeySerial;
use crate::sys;
use crate::text::{KeyText, with_c_str, with_opt_c_str};

/// `add_key(type, description, payload, plen, keyring)`: creates a key and links it
/// into `keyring`, or updates the key of the same type and description already
/// linked there (and returns its serial).
///
/// The payload is bytes: 1 to 32767 for `user` and `logon`, empty for `keyring`.
/// A `logon` description needs a service prefix (`"cifs:alice"`); a keyring's may
/// not start with `.`; both are checked first, with an error that says so, instead
/// of the kernel's bare `EINVAL`/`EPERM`. The caller needs write permission on
/// `keyring`, and the owner's quota is charged.
///
/// Allocation-free: a `&str` description is copied to the stack.
///
/// # Errors
/// [`Error::InvalidInput`] for a refused argument; [`Error::QuotaExceeded`]
/// (`EDQUOT`) when the caller's key quota is full; [`Error::PermissionDenied`]
/// (`EACCES`) without write permission on `keyring`;
/// [`Error::UnknownKeyType`] (`ENODEV`) for a type the kernel lacks;
/// `EOPNOTSUPP`/`EPERM` when a keyring restriction refuses the key.
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
/// [add_key(2)](https://man7.org/linux/man-pages/man2/add_key.2.html)
#[inline]
pub fn add_key<D: KeyText + ?Sized>(
    key_type: KeyType<'_>,
    description: &D,
    payload: &[u8],
    keyring: KeySerial,
) -> Result<KeySerial, Error> {
    key_type.check_add(description.text_bytes(), payload)?;
    with_c_str("description", description, |desc| {
        // An empty description (allowed for keyrings only) is passed as NULL.
        let desc_arg = if desc.is_empty() { None } else { Some(desc) };
        sys::add_key(key_type.name(), desc_arg, payload, keyring.as_raw())
            .map(KeySerial::from_raw)
            .map_err(|errno| {
                Error::from_errno_typed(
                    Op::AddKey,
                    keyring,
                    key_type.name().to_bytes(),
                    errno,
                    format_args!(
                        "{:?}, {desc:?}, <{} bytes>, {keyring}",
                        key_type.name(),
                        payload.len()
                    ),
                )
            })
    })
}

/// `request_key(type, description, callout_info, dest_keyring)`: finds a key in the
/// caller's keyrings, or, when `callout_info` is given and nothing is found, asks
/// user space to construct it (the kernel runs `/sbin/request-key` with the info).
///
/// A found or constructed key is linked into `dest` (`None`: the kernel's default,
/// see `KEYCTL_SET_REQKEY_KEYRING`).
///
/// # Errors
/// [`Error::KeyNotFound`] (`ENOKEY`) when no key matches and none could be
/// constructed (a failed construction leaves a negative key that answers `ENOKEY`
/// for a while); [`Error::KeyExpired`]/[`Error::KeyRevoked`] for a matching key
/// that expired or was revoked. An unknown type is also `ENOKEY` here (only
/// `add_key` says `ENODEV`).
///
/// # Examples
/// ```no_run
/// use linception_keyring_ns::{KeyType, request_key};
///
/// let key = request_key(KeyType::USER, "token", None::<&str>, None)?;
/// # Ok::<(), linception_keyring_ns::Error>(())
/// ```
///
/// # References
/// [request_key(2)](https://man7.org/linux/man-pages/man2/request_key.2.html)
pub fn request_key<D: KeyText + ?Sized, C: KeyText + ?Sized>(
    key_type: KeyType<'_>,
    description: &D,
    callout_info: Option<&C>,
    dest: Option<KeySerial>,
) -> Result<KeySerial, Error> {
    let dest_raw = dest.map_or(0, KeySerial::as_raw);
    with_c_str("description", description, |desc| {
        with_opt_c_str("callout info", callout_info, |callout| {
            sys::request_key(key_type.name(), desc, callout, dest_raw)
                .map(KeySerial::from_raw)
                .map_err(|errno| {
                    let key = dest.unwrap_or(KeySerial::from_raw(0));
                    Error::from_errno(
                        Op::RequestKey,
                        key,
                        errno,
                        format_args!(
                            "{:?}, {desc:?}, {}, {}",
                            key_type.name(),
                            OrNull(callout),
                            dest.map_or(KeySerial::from_raw(0), |d| d)
                        ),
                    )
                })
        })
    })
}
