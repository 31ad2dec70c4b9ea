//! Key serial numbers and the special ids that name a process's own keyrings.
#![forbid(unsafe_code)]

use std::fmt;

/// A key's serial number (`key_serial_t`), or one of the special ids below that the
/// kernel resolves against the calling thread's credentials.
///
/// Real serials are positive and unique for the key's lifetime; they are numbers,
/// not handles: holding one keeps nothing alive, and any process that knows it may
/// try to use it (the key's [`Permission`](crate::Permission)s decide).
///
/// `Display` prints the decimal serial (as `keyctl(1)` does) or the special id's C
/// name; `{:x}` prints the hexadecimal form used in `/proc/keys`.
///
/// ```
/// use linception_keyring_ns::KeySerial;
///
/// assert_eq!(KeySerial::SESSION_KEYRING.as_raw(), -3);
/// assert!(KeySerial::SESSION_KEYRING.is_special());
/// assert_eq!(KeySerial::from_raw(1234).to_string(), "1234");
/// assert_eq!(format!("{:08x}", KeySerial::from_raw(1234)), "000004d2");
/// assert_eq!(KeySerial::USER_KEYRING.to_string(), "KEY_SPEC_USER_KEYRING");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct KeySerial(i32);

impl KeySerial {
    /// `KEY_SPEC_THREAD_KEYRING`: the calling thread's keyring (created on demand
    /// when asked to).
    pub const THREAD_KEYRING: KeySerial = KeySerial(-1);
    /// `KEY_SPEC_PROCESS_KEYRING`: the calling process's keyring, shared by its threads.
    pub const PROCESS_KEYRING: KeySerial = KeySerial(-2);
    /// `KEY_SPEC_SESSION_KEYRING`: the session keyring, inherited across fork and
    /// execve; the one a container should replace with
    /// [`join_session_keyring`](crate::join_session_keyring).
    pub const SESSION_KEYRING: KeySerial = KeySerial(-3);
    /// `KEY_SPEC_USER_KEYRING`: the keyring of the caller's real uid (per user
    /// namespace since Linux 5.3).
    pub const USER_KEYRING: KeySerial = KeySerial(-4);
    /// `KEY_SPEC_USER_SESSION_KEYRING`: the default session keyring of the caller's uid.
    pub const USER_SESSION_KEYRING: KeySerial = KeySerial(-5);
    /// `KEY_SPEC_GROUP_KEYRING`: reserved by the kernel for a group keyring; not
    /// implemented (lookups fail with `EINVAL`).
    pub const GROUP_KEYRING: KeySerial = KeySerial(-6);
    /// `KEY_SPEC_REQKEY_AUTH_KEY`: the authorisation key of a `request_key` upcall.
    pub const REQKEY_AUTH_KEY: KeySerial = KeySerial(-7);
    /// `KEY_SPEC_REQUESTOR_KEYRING`: the requestor's destination keyring, inside a
    /// `request_key` upcall.
    pub const REQUESTOR_KEYRING: KeySerial = KeySerial(-8);

    /// A serial or special id as the kernel spells it.
    #[inline]
    pub const fn from_raw(raw: i32) -> Self {
        KeySerial(raw)
    }

    /// The number the kernel takes.
    #[inline]
    pub const fn as_raw(self) -> i32 {
        self.0
    }

    /// Whether this is one of the `KEY_SPEC_*` special ids rather than a serial.
    #[inline]
    pub const fn is_special(self) -> bool {
        self.0 < 0
    }

    /// The C name of a special id, `None` for a serial.
    pub const fn special_name(self) -> Option<&'static str> {
        Some(match self.0 {
            -1 => "KEY_SPEC_THREAD_KEYRING",
            -2 => "KEY_SPEC_PROCESS_KEYRING",
            -3 => "KEY_SPEC_SESSION_KEYRING",
            -4 => "KEY_SPEC_USER_KEYRING",
            -5 => "KEY_SPEC_USER_SESSION_KEYRING",
            -6 => "KEY_SPEC_GROUP_KEYRING",
            -7 => "KEY_SPEC_REQKEY_AUTH_KEY",
            -8 => "KEY_SPEC_REQUESTOR_KEYRING",
            _ => return None,
        })
    }
}

impl fmt::Display for KeySerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.special_name() {
            Some(name) => f.write_str(name),
            None => fmt::Display::fmt(&self.0, f),
        }
    }
}

impl fmt::Debug for KeySerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.special_name() {
            Some(name) => write!(f, "KeySerial({name})"),
            None => write!(f, "KeySerial({})", self.0),
        }
    }
}

impl fmt::LowerHex for KeySerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

impl fmt::UpperHex for KeySerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::UpperHex::fmt(&self.0, f)
    }
}

impl From<KeySerial> for i32 {
    fn from(serial: KeySerial) -> i32 {
        serial.0
    }
}
