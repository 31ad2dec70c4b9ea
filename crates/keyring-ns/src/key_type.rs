//! Key types and the rules the kernel applies to their descriptions and payloads.
#![forbid(unsafe_code)]

use std::ffi::CStr;
use std::fmt;

use crate::error::Error;

/// The largest payload `add_key` accepts for any type (1 MiB less one byte).
pub const MAX_PAYLOAD: usize = 1024 * 1024 - 1;

/// The largest payload of a `user` or `logon` key.
pub const MAX_USER_PAYLOAD: usize = 32767;

/// A key type, by its kernel name (`"user"`, `"logon"`, `"keyring"`...).
///
/// The constants cover the types containers use; [`KeyType::new`] names any
/// other (`"asymmetric"`, `"encrypted"`, `"trusted"`, `"dns_resolver"`...). The
/// kernel answers `ENODEV` ([`Error::UnknownKeyType`]) for a type it does not
/// have.
///
/// ```
/// use linception_keyring_ns::KeyType;
///
/// assert_eq!(KeyType::LOGON.name(), c"logon");
/// assert_eq!(KeyType::new(c"asymmetric").to_string(), "asymmetric");
/// assert!(!KeyType::LOGON.is_readable());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyType<'a>(&'a CStr);

impl KeyType<'static> {
    /// `"user"`: a blob of 1 to 32767 bytes that its possessor can read back. The
    /// general-purpose type (tokens, passwords, Kerberos caches).
    pub const USER: KeyType<'static> = KeyType(c"user");
    /// `"logon"`: like `user`, but the payload can never be read from user space
    /// (only kernel services such as CIFS, NFS or dm-crypt use it). The
    /// description must carry a service prefix: `"cifs:alice"`.
    pub const LOGON: KeyType<'static> = KeyType(c"logon");
    /// `"keyring"`: a keyring, holding links to keys; created with an empty payload.
    pub const KEYRING: KeyType<'static> = KeyType(c"keyring");
    /// `"big_key"`: a payload of up to 1 MiB, kept in shmem (encrypted) when large.
    /// Present only when the kernel was built with `CONFIG_BIG_KEYS`
    /// ([`Capabilities::big_key`](crate::Capabilities::big_key)).
    pub const BIG_KEY: KeyType<'static> = KeyType(c"big_key");
}

impl<'a> KeyType<'a> {
    /// A key type by name.
    pub const fn new(name: &'a CStr) -> Self {
        KeyType(name)
    }

    /// The type's name.
    pub const fn name(&self) -> &'a CStr {
        self.0
    }

    /// Whether user space can read this type's payload; `false` for `logon`.
    pub fn is_readable(&self) -> bool {
        *self != KeyType::LOGON
    }

    /// Checks what `add_key` (and `update`) would refuse with a bare `EINVAL` or
    /// `EPERM`, so the error can say which argument is wrong and why.
    pub(crate) fn check_add(&self, description: &[u8], payload: &[u8]) -> Result<(), Error> {
        if *self == KeyType::KEYRING {
            if description.first() == Some(&b'.') {
                return Err(Error::invalid(
                    "keyring description",
                    description,
                    "names starting with '.' are reserved for the kernel's own keyrings",
                ));
            }
            if !payload.is_empty() {
                return Err(Error::invalid(
                    "keyring payload",
                    b"",
                    "a keyring is created with an empty payload",
                ));
            }
            return Ok(());
        }
        if description.is_empty() {
            return Err(Error::invalid(
                "description",
                description,
                "only a keyring may have an empty description",
            ));
        }
        if *self == KeyType::LOGON {
            check_logon_description(description)?;
        }
        self.check_payload(payload)
    }

    pub(crate) fn check_payload(&self, payload: &[u8]) -> Result<(), Error> {
        if *self == KeyType::USER || *self == KeyType::LOGON {
            if payload.is_empty() || payload.len() > MAX_USER_PAYLOAD {
                return Err(Error::InvalidInput {
                    input: "payload",
                    value: format!("<{} bytes>", payload.len()),
                    reason: "a user or logon key holds 1 to 32767 bytes",
                });
            }
        } else if payload.len() > MAX_PAYLOAD {
            return Err(Error::InvalidInput {
                input: "payload",
                value: format!("<{} bytes>", payload.len()),
                reason: "add_key takes at most 1 MiB - 1 bytes",
            });
        }
        Ok(())
    }
}

/// A `logon` description needs a non-empty service prefix before a `:`; the kernel
/// answers a bare `EINVAL` otherwise.
fn check_logon_description(description: &[u8]) -> Result<(), Error> {
    match description.iter().position(|&b| b == b':') {
        Some(0) => Err(Error::invalid(
            "logon key description",
            description,
            "the service prefix before ':' is empty; use \"<service>:<name>\", e.g. \"cifs:alice\"",
        )),
        Some(_) => Ok(()),
        None => Err(Error::invalid(
            "logon key description",
            description,
            "a logon key's description needs a service prefix: \"<service>:<name>\", e.g. \"cifs:alice\"",
        )),
    }
}

impl fmt::Display for KeyType<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_string_lossy())
    }
}

impl fmt::Debug for KeyType<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyType({:?})", self.0)
    }
}
