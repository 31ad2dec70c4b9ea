//! Keyrings for containers: a fresh session keyring per container, and keys
//! prepared by the parent and handed over to it.
#![forbid(unsafe_code)]

use std::ffi::{CStr, CString};

use crate::error::{ChildError, Error, Op};
use crate::key_type::KeyType;
use crate::keyctl::{add_key, chown, join_session_keyring_in_child, link, setperm, unlink};
use crate::perm::Permission;
use crate::serial::KeySerial;
use crate::sys::{self, IntOp};
use crate::text::KeyText;

/// How a process about to become a container gets its own session keyring:
/// prepared (and validated) in the parent, applied in the child with
/// [`SessionPlan::join_in_child`], which allocates nothing.
///
/// Without it a container shares the session keyring of whoever started it (a
/// new user namespace does not change it), and with it every key the host's
/// session holds. The plan joins a new keyring (anonymous, or named
/// `_ses.<id>`), sets its mask (by default [`Permission::POSSESSOR_ALL`]: no
/// right for the owning uid, so other containers running as the same host uid
/// can neither read it, link it, nor join it by name) and optionally adopts a
/// keyring the parent prepared with [`Handover`].
///
/// ```
/// use linception_keyring_ns::{Permission, SessionPlan};
///
/// let plan = SessionPlan::for_container("web-1")?;
/// assert_eq!(plan.name().unwrap(), c"_ses.web-1");
/// assert_eq!(plan.permissions(), Permission::POSSESSOR_ALL);
/// assert!(SessionPlan::named(".evil").is_err());
///
/// // In the child, between clone and execve (here: a forked child).
/// # if false {
/// let session = plan.join_in_child().map_err(|e| e.into_error())?;
/// # }
/// # Ok::<(), linception_keyring_ns::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionPlan {
    name: Option<CString>,
    perm: Permission,
    adopt: Option<KeySerial>,
}

impl SessionPlan {
    /// A new anonymous session keyring (the kernel names it `_ses`).
    pub fn anonymous() -> Self {
        SessionPlan {
            name: None,
            perm: Permission::POSSESSOR_ALL,
            adopt: None,
        }
    }

    /// A session keyring of this exact name: joined if a keyring of that name
    /// exists in the child's user namespace and grants the child's uid search
    /// (possession does not count for lookups by name), created otherwise. With
    /// the default possessor-only mask every join creates a new keyring, so no
    /// other process can join a container's session by guessing its name; add
    /// [`Permission::USER_SEARCH`] to share one on purpose.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty name, a NUL byte, more than 4095
    /// bytes, or a leading `.` (reserved; the kernel answers `EPERM`).
    pub fn named<N: KeyText + ?Sized>(name: &N) -> Result<Self, Error> {
        let bytes = name.text_bytes();
        crate::keyctl::check_session_name(bytes)?;
        let name = CString::new(bytes)
            .map_err(|_| Error::invalid("session keyring name", bytes, "contains a NUL byte"))?;
        Ok(SessionPlan {
            name: Some(name),
            ..SessionPlan::anonymous()
        })
    }

    /// The conventional `_ses.<id>` session keyring of container `id`.
    ///
    /// # Errors
    /// As [`SessionPlan::named`].
    pub fn for_container(id: &str) -> Result<Self, Error> {
        SessionPlan::named(&format!("_ses.{id}"))
    }

    /// Sets the new keyring's permission mask (default
    /// [`Permission::POSSESSOR_ALL`]). Adding [`Permission::USER_VIEW`] lets the
    /// host (as the same uid) see it in `/proc/keys`.
    pub fn with_permissions(mut self, perm: Permission) -> Self {
        self.perm = perm;
        self
    }

    /// Links `keyring` (prepared by the parent with [`Handover`]) into the new
    /// session keyring after joining it, then narrows its mask to
    /// [`Permission::POSSESSOR_ALL`] (the child must own it: `Handover` gives it
    /// to the child's uid).
    pub fn adopt(mut self, keyring: KeySerial) -> Self {
        self.adopt = Some(keyring);
        self
    }

    /// The name, `None` for an anonymous keyring.
    pub fn name(&self) -> Option<&CStr> {
        self.name.as_deref()
    }

    /// The permission mask the keyring gets.
    pub fn permissions(&self) -> Permission {
        self.perm
    }

    /// The keyring to adopt, if any.
    pub fn adopted(&self) -> Option<KeySerial> {
        self.adopt
    }

    /// Applies the plan to the calling thread: `KEYCTL_JOIN_SESSION_KEYRING`,
    /// `KEYCTL_SETPERM`, and with [`adopt`](Self::adopt) `KEYCTL_LINK` and
    /// `KEYCTL_SETPERM` of the adopted keyring. Returns the new session keyring.
    ///
    /// Allocates nothing, takes no lock, cannot panic: for a child between `clone`
    /// and `execve`.
    ///
    /// # Errors
    /// The failed step and its errno; [`ChildError::into_error`] gives the full
    /// error in the parent.
    pub fn join_in_child(&self) -> Result<KeySerial, ChildError> {
        let session = join_session_keyring_in_child(self.name.as_deref(), Some(self.perm))?;
        if let Some(keyring) = self.adopt {
            let child_err = |op, errno| ChildError {
                op,
                key: keyring,
                errno,
            };
            sys::keyctl_int(
                IntOp::Link,
                keyring.as_raw().into(),
                session.as_raw().into(),
                0,
                0,
            )
            .map_err(|errno| child_err(Op::Link, errno))?;
            sys::keyctl_int(
                IntOp::Setperm,
                keyring.as_raw().into(),
                Permission::POSSESSOR_ALL.bits().into(),
                0,
                0,
            )
            .map_err(|errno| child_err(Op::Setperm, errno))?;
        }
        Ok(session)
    }

    /// [`join_in_child`](Self::join_in_child) with full errors, for a process
    /// (thread) that joins for itself.
    ///
    /// # Errors
    /// As [`join_session_keyring`](crate::join_session_keyring),
    /// [`setperm`](crate::setperm) and [`link`](crate::link).
    pub fn join(&self) -> Result<KeySerial, Error> {
        let session = crate::join_session_keyring(self.name.as_deref())?;
        setperm(session, self.perm)?;
        if let Some(keyring) = self.adopt {
            adopt_keyring(keyring)?;
        }
        Ok(session)
    }
}

impl Default for SessionPlan {
    fn default() -> Self {
        SessionPlan::anonymous()
    }
}

/// Links a keyring handed over by the parent ([`Handover`]) into the caller's
/// session keyring and narrows its mask to [`Permission::POSSESSOR_ALL`]; for a
/// child that adopts it after `execve` (before, use [`SessionPlan::adopt`]).
///
/// # Errors
/// [`Error::PermissionDenied`] when the keyring was not handed to the caller's
/// uid; [`Error::KeyNotFound`] when the parent already released it.
pub fn adopt_keyring(keyring: KeySerial) -> Result<(), Error> {
    link(keyring, KeySerial::SESSION_KEYRING)?;
    setperm(keyring, Permission::POSSESSOR_ALL)
}

/// A keyring the parent (the container runtime) fills for a container and hands
/// over by serial.
///
/// [`Handover::prepare`] creates the keyring in a keyring the parent holds,
/// gives it to the container's uid (if different) with the right to link it, and
/// [`Handover::add_key`] fills it. After spawning, the child links it into its new
/// session keyring ([`SessionPlan::adopt`] between clone and execve, or
/// [`adopt_keyring`] after), which makes it the keyring's possessor; then the
/// parent [`release`](Handover::release)s its own link. Dropping a `Handover`
/// releases too, so a keyring never adopted is freed.
///
/// The serial, not the name, carries it over: keyring names are per user
/// namespace (since Linux 5.3), so a container in a new user namespace cannot
/// find the parent's keyring by name.
///
/// ```no_run
/// use linception_keyring_ns::{Handover, KeySerial, KeyType, SessionPlan};
///
/// // Parent (root): a keyring for a container whose root maps to uid 100000.
/// let handover = Handover::prepare("container-1", KeySerial::SESSION_KEYRING, Some((100000, 100000)))?;
/// handover.add_key(KeyType::LOGON, "cifs:alice", b"password")?;
/// let plan = SessionPlan::for_container("1")?.adopt(handover.keyring());
/// // ... spawn; the child calls plan.join_in_child() before execve ...
/// // once the child has adopted it:
/// handover.release()?;
/// # Ok::<(), linception_keyring_ns::Error>(())
/// ```
#[derive(Debug)]
pub struct Handover {
    keyring: KeySerial,
    holder: KeySerial,
    released: bool,
}

impl Handover {
    /// The mask of a keyring waiting to be adopted: everything for its possessor
    /// (the parent until the child links it), view and link for its owner (the
    /// child's uid), so the child can link it by serial.
    pub const PENDING_PERMISSIONS: Permission = Permission::POSSESSOR_ALL
        .union(Permission::USER_VIEW)
        .union(Permission::USER_LINK);

    /// Creates keyring `description` in `holder` (a keyring the caller possesses,
    /// such as its session keyring), sets [`Handover::PENDING_PERMISSIONS`], and
    /// with `owner` gives it to that uid and gid (ids as seen by the caller: the
    /// host ids the container's ids map to). Changing the owner needs
    /// `CAP_SYS_ADMIN`; the owner's key quota is charged.
    ///
    /// # Errors
    /// As [`add_key`], [`setperm`] and [`chown`]; on failure the keyring is
    /// unlinked again.
    pub fn prepare<D: KeyText + ?Sized>(
        description: &D,
        holder: KeySerial,
        owner: Option<(u32, u32)>,
    ) -> Result<Self, Error> {
        let keyring = add_key(KeyType::KEYRING, description, b"", holder)?;
        let handover = Handover {
            keyring,
            holder,
            released: false,
        };
        setperm(keyring, Self::PENDING_PERMISSIONS)?;
        if let Some((uid, gid)) = owner {
            chown(keyring, Some(uid), Some(gid))?;
        }
        Ok(handover)
    }

    /// The keyring's serial, to pass to the child.
    pub fn keyring(&self) -> KeySerial {
        self.keyring
    }

    /// Adds a key to the handed-over keyring; see [`add_key`].
    ///
    /// # Errors
    /// As [`add_key`].
    pub fn add_key<D: KeyText + ?Sized>(
        &self,
        key_type: KeyType<'_>,
        description: &D,
        payload: &[u8],
    ) -> Result<KeySerial, Error> {
        add_key(key_type, description, payload, self.keyring)
    }

    /// Drops the parent's link (after the child adopted the keyring; before, this
    /// frees it).
    ///
    /// # Errors
    /// As [`unlink`].
    pub fn release(mut self) -> Result<(), Error> {
        self.released = true;
        unlink(self.keyring, self.holder)
    }
}

impl Drop for Handover {
    fn drop(&mut self) {
        if !self.released {
            // Best effort: the keyring may already be gone (the holder cleared).
            let _ = unlink(self.keyring, self.holder);
        }
    }
}
