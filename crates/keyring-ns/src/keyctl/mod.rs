//! Safe wrappers of `add_key(2)`, `request_key(2)` and every `keyctl(2)` operation
//! a container runtime needs, one function per operation.
//!
//! Each function is named after its `KEYCTL_*` operation (searchable by that name
//! through `#[doc(alias)]`), takes [`KeySerial`]s, and returns a
//! [`Result`] whose error displays like the call. None of them allocates on
//! success except the ones that return owned data ([`read`], [`describe`],
//! [`read_keyring`], [`get_security`]); [`read_into`] is their allocation-free
//! form.
#![forbid(unsafe_code)]

mod access;
mod add;
pub(crate) mod caps;
mod describe;
mod lifecycle;
mod link;
mod read;
mod session;

pub use access::{chown, restrict_keyring, setperm};
pub use add::{add_key, request_key};
pub use caps::{Capabilities, capabilities};
pub use describe::{KeyDescription, describe, get_security};
pub use lifecycle::{clear, invalidate, revoke, set_timeout, update};
pub use link::{link, move_key, search, unlink};
pub use read::{read, read_into, read_keyring};
pub(crate) use session::check_session_name;
pub use session::{
    get_keyring_id, get_persistent, join_session_keyring, join_session_keyring_in_child,
};

use crate::error::{Error, Op};
use crate::serial::KeySerial;
use crate::sys::{self, BufOp};

/// Runs a `(key, buffer, buflen)` operation with a buffer that grows until the
/// answer fits: the kernel returns the full length and copies nothing when the
/// buffer is too small, and the key may grow between two calls (an `update` in
/// another process), so retry until a call's answer fits its buffer.
fn read_growing(op: BufOp, name: Op, key: KeySerial, first: usize) -> Result<Vec<u8>, Error> {
    let mut buf = vec![0u8; first];
    loop {
        let len = buf.len();
        let n = sys::keyctl_buf(op, key.as_raw(), &mut buf).map_err(|errno| {
            Error::from_errno(name, key, errno, format_args!("{key}, <buffer>, {len}"))
        })?;
        if n <= len {
            buf.truncate(n);
            return Ok(buf);
        }
        buf.resize(n, 0);
    }
}
