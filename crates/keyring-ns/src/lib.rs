//! Linux kernel keyrings (`keyctl`) for containers: one keyring world per
//! container, keys, permissions, restrictions.
//!
//! Kernel keyrings hold the credentials of network filesystems (NFS, CIFS, AFS),
//! dm-crypt, fscrypt and Kerberos. A process inherits its session keyring across
//! `fork`, `execve` and even into a new user namespace, so a container that does
//! not join a fresh one sees the host's keys. This crate wraps every `keyctl`
//! operation a runtime needs as a separately named function, and adds the two
//! container pieces: [`SessionPlan`] (a fresh, closed session keyring joined in
//! the child between clone and execve, without allocating) and [`Handover`] (a
//! keyring the parent fills and the child adopts by serial).
//!
//! ```
//! use linception_keyring_ns::{KeySerial, KeyType, Permission, SessionPlan};
//! use linception_keyring_ns::{add_key, describe, read_into, search};
//!
//! # fn main() -> Result<(), linception_keyring_ns::Error> {
//! // This thread leaves whatever session keyring it inherited for a new one.
//! let session = SessionPlan::anonymous().join()?;
//! assert_eq!(describe(session)?.perm, Permission::POSSESSOR_ALL);
//!
//! let key = add_key(KeyType::USER, "registry-token", b"s3cret", KeySerial::SESSION_KEYRING)?;
//! assert_eq!(search(session, KeyType::USER, "registry-token", None)?, key);
//! let mut buf = [0u8; 64];
//! let len = read_into(key, &mut buf)?;
//! assert_eq!(&buf[..len], b"s3cret");
//! # Ok(())
//! # }
//! ```
//!
//! # Kernel support
//!
//! | feature | since | for | without it |
//! |---|---|---|---|
//! | `add_key`, `request_key`, `keyctl` core | 2.6.10 | everything | [`Error::Unsupported`] (`CONFIG_KEYS=n`) |
//! | `KEYCTL_GET_SECURITY` | 2.6.26 | LSM label of a key | `Unsupported` |
//! | `KEYCTL_INVALIDATE` | 3.5 | remove a key everywhere at once | [`revoke`] |
//! | `KEYCTL_GET_PERSISTENT` | 3.13 | per-uid keyring outliving sessions | `Unsupported` |
//! | `big_key` type | 3.13 | payloads up to 1 MiB | [`Error::UnknownKeyType`]; use `user` |
//! | `KEYCTL_RESTRICT_KEYRING` | 4.12 | limit what may be linked | `Unsupported` |
//! | `KEYCTL_MOVE` | 5.1 | atomic relink | [`link`] then [`unlink`] |
//! | `KEYCTL_CAPABILITIES` | 5.3 | [`capabilities`] | `Unsupported` (probe each call) |
//! | per-user-namespace keyring names and user keyrings | 5.3 | containers get their own `_uid.N` | a user keyring shared with the host uid: use session keyrings only |
//! | `KEYCTL_READ` copies nothing into a short buffer | 5.8 | [`read_into`] | a prefix is copied; the length is the same |
//!
//! # Permissions and containers
//!
//! Key permissions compare kernel uids: two containers whose root maps to the same
//! host uid are the same "user" to a key, and a process in a new user namespace
//! still holds its parent's session keyring. Give every container its own session
//! keyring with a possessor-only mask ([`SessionPlan`] does), and never give
//! container keys rights for their owning uid unless that uid is the
//! container's alone.
#![deny(missing_docs)]
// The error keeps the failed call inline (no allocation on the failure path of
// a call made between clone and exec), which makes it large.
#![allow(clippy::result_large_err)]
#![warn(unsafe_op_in_unsafe_fn)]

mod container;
mod error;
mod key_type;
pub mod keyctl;
mod perm;
mod serial;
#[allow(unsafe_code)]
mod sys;
mod text;

pub use container::{Handover, SessionPlan, adopt_keyring};
pub use error::{Call, ChildError, Error, ErrorKind, Op};
pub use key_type::{KeyType, MAX_PAYLOAD, MAX_USER_PAYLOAD};
pub use keyctl::*;
pub use perm::{MoveFlags, Permission};
pub use rustix::io::Errno;
pub use serial::KeySerial;
pub use text::KeyText;
