use std::fmt;

use crate::error::{Error, Op};
use crate::perm::Permission;
use crate::serial::KeySerial;
use crate::sys::BufOp;

/// A key's attributes, as `KEYCTL_DESCRIBE` reports them.
///
/// The kernel's text is `type;uid;gid;perm;description`, the mask in hex; the
/// description comes last and may itself contain `;`. `Display` writes that text
/// back and [`KeyDescription::parse`] reads it.
///
/// ```
/// use linception_keyring_ns::{KeyDescription, Permission};
///
/// let d = KeyDescription::parse("user;0;0;3f010000;cifs;alice").unwrap();
/// assert_eq!(d.key_type, "user");
/// assert_eq!(d.perm, Permission::POSSESSOR_ALL | Permission::USER_VIEW);
/// assert_eq!(d.description, "cifs;alice");
/// assert_eq!(d.to_string(), "user;0;0;3f010000;cifs;alice");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyDescription {
    /// The key type's name (`"user"`, `"keyring"`...).
    pub key_type: String,
    /// The owner, as seen from the caller's user namespace (unmapped ids show as
    /// the overflow uid, usually 65534).
    pub uid: u32,
    /// The group, as seen from the caller's user namespace.
    pub gid: u32,
    /// The permission mask.
    pub perm: Permission,
    /// The description (lossily decoded if it is not UTF-8).
    pub description: String,
}

impl KeyDescription {
    /// Parses the kernel's `type;uid;gid;perm;description` text (without the NUL).
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.splitn(5, ';');
        let key_type = parts.next()?.to_string();
        let uid = parse_id(parts.next()?)?;
        let gid = parse_id(parts.next()?)?;
        let perm = Permission::from_bits_retain(u32::from_str_radix(parts.next()?, 16).ok()?);
        let description = parts.next()?.to_string();
        Some(KeyDescription {
            key_type,
            uid,
            gid,
            perm,
            description,
        })
    }
}

/// The kernel prints ids with `%d`, so `(uid_t)-1` would read `-1`.
fn parse_id(text: &str) -> Option<u32> {
    text.parse::<u32>()
        .ok()
        .or_else(|| text.parse::<i32>().ok().map(|v| v as u32))
}

impl fmt::Display for KeyDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{};{};{};{};{}",
            self.key_type, self.uid, self.gid, self.perm, self.description
        )
    }
}

/// `keyctl(KEYCTL_DESCRIBE, key, buf, buflen)`, parsed: the key's type, owner,
/// group, permission mask and description.
///
/// Needs view permission on the key.
///
/// # Errors
/// [`Error::PermissionDenied`] without view permission; [`Error::KeyNotFound`],
/// [`Error::KeyExpired`], [`Error::KeyRevoked`].
///
/// # Examples
/// ```no_run
/// use linception_keyring_ns::{KeySerial, describe};
///
/// let session = describe(KeySerial::SESSION_KEYRING)?;
/// assert_eq!(session.key_type, "keyring");
/// # Ok::<(), linception_keyring_ns::Error>(())
/// ```
///
/// # References
/// [KEYCTL_DESCRIBE(2const)](https://man7.org/linux/man-pages/man2/KEYCTL_DESCRIBE.2const.html)
#[doc(alias = "KEYCTL_DESCRIBE")]
pub fn describe(key: KeySerial) -> Result<KeyDescription, Error> {
    let mut bytes = super::read_growing(BufOp::Describe, Op::Describe, key, 256)?;
    if bytes.last() == Some(&0) {
        bytes.pop();
    }
    let text = String::from_utf8_lossy(&bytes);
    KeyDescription::parse(&text).ok_or_else(|| Error::InvalidInput {
        input: "KEYCTL_DESCRIBE answer",
        value: text.into_owned(),
        reason: "not of the form type;uid;gid;perm;description",
    })
}

/// `keyctl(KEYCTL_GET_SECURITY, key, buf, buflen)`: the key's security label (an
/// SELinux context, a Smack label...); empty when no security module labels keys.
///
/// # Errors
/// [`Error::KeyNotFound`] for a missing key, and also (unlike
/// [`describe`]) for a key the caller may not view: the kernel then looks for an
/// instantiation authorisation and reports that it has none.
///
/// # References
/// [KEYCTL_GET_SECURITY(2const)](https://man7.org/linux/man-pages/man2/KEYCTL_GET_SECURITY.2const.html)
#[doc(alias = "KEYCTL_GET_SECURITY")]
pub fn get_security(key: KeySerial) -> Result<String, Error> {
    let mut bytes = super::read_growing(BufOp::GetSecurity, Op::GetSecurity, key, 128)?;
    if bytes.last() == Some(&0) {
        bytes.pop();
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
