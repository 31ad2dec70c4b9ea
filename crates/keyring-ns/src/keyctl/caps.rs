use std::sync::OnceLock;

use crate::error::{Error, Op};
use crate::serial::KeySerial;
use crate::sys;

/// What the running kernel's key service offers, from `KEYCTL_CAPABILITIES`.
///
/// ```no_run
/// let caps = linception_keyring_ns::capabilities()?;
/// if caps.ns_keyring_name {
///     // user keyrings are per user namespace: a container gets its own.
/// }
/// # Ok::<(), linception_keyring_ns::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Capabilities {
    /// `KEYCTL_CAPS0_CAPABILITIES`: `KEYCTL_CAPABILITIES` itself (always set when
    /// the call works).
    pub capabilities: bool,
    /// `KEYCTL_CAPS0_PERSISTENT_KEYRINGS`: [`get_persistent`](crate::get_persistent).
    pub persistent_keyrings: bool,
    /// `KEYCTL_CAPS0_DIFFIE_HELLMAN`: `KEYCTL_DH_COMPUTE`.
    pub diffie_hellman: bool,
    /// `KEYCTL_CAPS0_PUBLIC_KEY`: the `KEYCTL_PKEY_*` operations.
    pub public_key: bool,
    /// `KEYCTL_CAPS0_BIG_KEY`: the `big_key` type ([`KeyType::BIG_KEY`](crate::KeyType::BIG_KEY)).
    pub big_key: bool,
    /// `KEYCTL_CAPS0_INVALIDATE`: [`invalidate`](crate::invalidate).
    pub invalidate: bool,
    /// `KEYCTL_CAPS0_RESTRICT_KEYRING`: [`restrict_keyring`](crate::restrict_keyring).
    pub restrict_keyring: bool,
    /// `KEYCTL_CAPS0_MOVE`: [`move_key`](crate::move_key).
    pub move_key: bool,
    /// `KEYCTL_CAPS1_NS_KEYRING_NAME`: keyring names (and so the user keyrings)
    /// are per user namespace.
    pub ns_keyring_name: bool,
    /// `KEYCTL_CAPS1_NS_KEY_TAG`: keys can be tagged by network namespace (DNS
    /// resolver results, for instance, are kept apart per network namespace).
    pub ns_key_tag: bool,
}

impl Capabilities {
    /// Decodes the kernel's capability bytes (missing bytes read as 0, extra bytes
    /// from newer kernels are ignored).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let b0 = bytes.first().copied().unwrap_or(0);
        let b1 = bytes.get(1).copied().unwrap_or(0);
        Capabilities {
            capabilities: b0 & 0x01 != 0,
            persistent_keyrings: b0 & 0x02 != 0,
            diffie_hellman: b0 & 0x04 != 0,
            public_key: b0 & 0x08 != 0,
            big_key: b0 & 0x10 != 0,
            invalidate: b0 & 0x20 != 0,
            restrict_keyring: b0 & 0x40 != 0,
            move_key: b0 & 0x80 != 0,
            ns_keyring_name: b1 & 0x01 != 0,
            ns_key_tag: b1 & 0x02 != 0,
        }
    }
}

/// `keyctl(KEYCTL_CAPABILITIES, buffer, buflen)`: what the kernel's key service
/// supports, as booleans. Since Linux 5.3.
///
/// # Errors
/// [`Error::Unsupported`] before Linux 5.3 (the kernel answers `EOPNOTSUPP` for
/// the unknown operation).
///
/// # References
/// [KEYCTL_CAPABILITIES(2const)](https://man7.org/linux/man-pages/man2/KEYCTL_CAPABILITIES.2const.html)
#[doc(alias = "KEYCTL_CAPABILITIES")]
pub fn capabilities() -> Result<Capabilities, Error> {
    let mut buf = [0u8; 16];
    let n = sys::keyctl_capabilities(&mut buf).map_err(|errno| {
        Error::from_errno(
            Op::Capabilities,
            KeySerial::from_raw(0),
            errno,
            format_args!("<buffer>, 16"),
        )
    })?;
    Ok(Capabilities::from_bytes(&buf[..n.min(buf.len())]))
}

/// The capabilities, probed once per process; `None` before Linux 5.3.
pub(crate) fn cached_capabilities() -> Option<Capabilities> {
    static CACHE: OnceLock<Option<Capabilities>> = OnceLock::new();
    *CACHE.get_or_init(|| capabilities().ok())
}
