use std::ffi::CStr;

use crate::error::{ChildError, Error, Op, OrNull};
use crate::perm::Permission;
use crate::serial::KeySerial;
use crate::sys::{self, IntOp};
use crate::text::{KeyText, check_text};

use super::lifecycle::int_op;

/// `keyctl(KEYCTL_GET_KEYRING_ID, id, create)`: the serial behind a special id
/// ([`KeySerial::SESSION_KEYRING`]...), or checks that a serial exists.
///
/// With `create`, a missing thread, process or session keyring is created. Note
/// that the kernel, asked for the session keyring of a process that has none,
/// installs the user-session keyring as its session keyring even without
/// `create`.
///
/// # Errors
/// [`Error::KeyNotFound`] for a special keyring that does not exist (without
/// `create`); `EINVAL` (as [`Error::Os`]) for an unknown special id.
///
/// # References
/// [KEYCTL_GET_KEYRING_ID(2const)](https://man7.org/linux/man-pages/man2/KEYCTL_GET_KEYRING_ID.2const.html)
#[doc(alias = "KEYCTL_GET_KEYRING_ID")]
pub fn get_keyring_id(id: KeySerial, create: bool) -> Result<KeySerial, Error> {
    int_op(
        IntOp::GetKeyringId,
        Op::GetKeyringId,
        id,
        [id.as_raw().into(), create.into(), 0, 0],
        format_args!("{id}, {}", u8::from(create)),
    )
    .map(|serial| KeySerial::from_raw(serial as i32))
}

/// Checks a session keyring name: non-empty, no NUL, at most 4095 bytes, and not
/// starting with `.` (the kernel reserves those names and answers `EPERM`).
pub(crate) fn check_session_name(name: &[u8]) -> Result<(), Error> {
    check_text("session keyring name", name)?;
    match name.first() {
        None => Err(Error::invalid(
            "session keyring name",
            name,
            "is empty; pass None for a new anonymous session keyring",
        )),
        Some(b'.') => Err(Error::invalid(
            "session keyring name",
            name,
            "names starting with '.' are reserved for the kernel's own keyrings (the kernel answers EPERM)",
        )),
        Some(_) => Ok(()),
    }
}

/// `keyctl(KEYCTL_JOIN_SESSION_KEYRING, name)` returning the joined keyring's
/// serial in every case: the kernel answers 0, not the serial, when the named
/// keyring it finds is already the caller's session keyring (it then changes
/// nothing), so 0 is resolved with `KEYCTL_GET_KEYRING_ID(KEY_SPEC_SESSION_KEYRING)`.
/// Allocation-free and lock-free.
#[inline]
fn join_raw(name: Option<&CStr>) -> Result<i32, ChildError> {
    let serial = sys::keyctl_join(name).map_err(|errno| ChildError {
        op: Op::JoinSessionKeyring,
        key: KeySerial::SESSION_KEYRING,
        errno,
    })?;
    if serial != 0 {
        return Ok(serial);
    }
    sys::keyctl_int(
        IntOp::GetKeyringId,
        KeySerial::SESSION_KEYRING.as_raw().into(),
        0,
        0,
        0,
    )
    .map(|serial| serial as i32)
    .map_err(|errno| ChildError {
        op: Op::GetKeyringId,
        key: KeySerial::SESSION_KEYRING,
        errno,
    })
}

/// `keyctl(KEYCTL_JOIN_SESSION_KEYRING, name)`: replaces the calling thread's
/// session keyring, and returns the new one's serial.
///
/// `None` creates a new anonymous keyring (named `_ses`). A name joins the keyring
/// of that name in the caller's user namespace if one exists and the caller may
/// search it, and creates it otherwise; containers use `"_ses.<id>"`. The new
/// keyring grants its owner's uid view and read (plus link, for a named one): for
/// a keyring other containers of the same uid cannot touch, follow with
/// [`setperm`](crate::setperm) to [`Permission::POSSESSOR_ALL`], or use
/// [`SessionPlan`](crate::SessionPlan).
///
/// The session keyring is part of the thread's credentials: other threads of the
/// process keep theirs. It is inherited across `fork` and `execve`, which is why
/// a container must join a fresh one (a new user namespace does not change it).
///
/// Joining the keyring that already is the session keyring (by name, when it
/// grants its uid search) changes nothing and returns its serial (the kernel's
/// own answer is 0 then; it is looked up).
///
/// # Errors
/// [`Error::InvalidInput`] for a name starting with `.` or containing NUL;
/// [`Error::QuotaExceeded`] when the caller's key quota is full;
/// [`Error::PermissionDenied`].
///
/// # Examples
/// ```no_run
/// use linception_keyring_ns::{KeySerial, Permission, join_session_keyring, setperm};
///
/// let session = join_session_keyring(Some("_ses.web-1"))?;
/// setperm(session, Permission::POSSESSOR_ALL)?;
/// # Ok::<(), linception_keyring_ns::Error>(())
/// ```
///
/// # References
/// [KEYCTL_JOIN_SESSION_KEYRING(2const)](https://man7.org/linux/man-pages/man2/KEYCTL_JOIN_SESSION_KEYRING.2const.html)
#[doc(alias = "KEYCTL_JOIN_SESSION_KEYRING")]
pub fn join_session_keyring<N: KeyText + ?Sized>(name: Option<&N>) -> Result<KeySerial, Error> {
    if let Some(name) = name {
        check_session_name(name.text_bytes())?;
    }
    crate::text::with_opt_c_str("session keyring name", name, |name| {
        join_raw(name)
            .map(KeySerial::from_raw)
            .map_err(|err| match err.op {
                Op::JoinSessionKeyring => {
                    Error::from_errno(err.op, err.key, err.errno, format_args!("{}", OrNull(name)))
                }
                _ => Error::from_errno(
                    err.op,
                    err.key,
                    err.errno,
                    format_args!("{}, 0", KeySerial::SESSION_KEYRING),
                ),
            })
    })
}

/// `keyctl(KEYCTL_JOIN_SESSION_KEYRING, name)`, then, when `perm` is given,
/// `keyctl(KEYCTL_SETPERM, KEY_SPEC_SESSION_KEYRING, perm)`: the form for a child
/// between `clone` and `execve`.
///
/// It allocates nothing, takes no lock and cannot panic: two system calls and
/// nothing else. Validate the name in the parent first
/// ([`SessionPlan::named`](crate::SessionPlan::named) does); here a name starting
/// with `.` fails as the kernel fails it, with `EPERM`.
///
/// # Errors
/// A [`ChildError`] naming the failed step and its errno; turn it into an
/// [`Error`] in the parent with [`ChildError::into_error`].
///
/// # References
/// [KEYCTL_JOIN_SESSION_KEYRING(2const)](https://man7.org/linux/man-pages/man2/KEYCTL_JOIN_SESSION_KEYRING.2const.html),
/// [KEYCTL_SETPERM(2const)](https://man7.org/linux/man-pages/man2/KEYCTL_SETPERM.2const.html)
#[doc(alias = "KEYCTL_JOIN_SESSION_KEYRING")]
#[inline]
pub fn join_session_keyring_in_child(
    name: Option<&CStr>,
    perm: Option<Permission>,
) -> Result<KeySerial, ChildError> {
    let serial = join_raw(name)?;
    if let Some(perm) = perm {
        sys::keyctl_int(IntOp::Setperm, serial.into(), perm.bits().into(), 0, 0).map_err(
            |errno| ChildError {
                op: Op::Setperm,
                key: KeySerial::from_raw(serial),
                errno,
            },
        )?;
    }
    Ok(KeySerial::from_raw(serial))
}

/// `keyctl(KEYCTL_GET_PERSISTENT, uid, keyring)`: links the persistent keyring of
/// `uid` (`None`: the caller's) into `keyring` and returns its serial. A
/// persistent keyring outlives the user's sessions (it expires after
/// `/proc/sys/kernel/keys/persistent_keyring_expiry` seconds without use, three
/// days by default); there is one per uid per user namespace. Since Linux 3.13,
/// with `CONFIG_PERSISTENT_KEYRINGS`.
///
/// Another uid's persistent keyring needs `CAP_SETUID`.
///
/// # Errors
/// [`Error::PermissionDenied`] (`EPERM` appears as [`Error::Os`]) for another
/// uid's without `CAP_SETUID`; [`Error::Unsupported`] when the kernel has no
/// persistent keyrings.
///
/// # References
/// [KEYCTL_GET_PERSISTENT(2const)](https://man7.org/linux/man-pages/man2/KEYCTL_GET_PERSISTENT.2const.html)
#[doc(alias = "KEYCTL_GET_PERSISTENT")]
pub fn get_persistent(uid: Option<u32>, keyring: KeySerial) -> Result<KeySerial, Error> {
    let raw_uid = uid.map_or(-1, |u| u as i32);
    int_op(
        IntOp::GetPersistent,
        Op::GetPersistent,
        keyring,
        [raw_uid.into(), keyring.as_raw().into(), 0, 0],
        format_args!("{raw_uid}, {keyring}"),
    )
    .map(|serial| KeySerial::from_raw(serial as i32))
}
