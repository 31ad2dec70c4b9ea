//! The crate's only `unsafe` code: the `add_key`, `request_key` and `keyctl`
//! system calls, each behind a function whose signature makes the call sound.
//!
//! Nothing here allocates, takes a lock or panics, so every function may run in a
//! child between `clone` and `execve`.

use std::ffi::{CStr, c_long};

use rustix::io::Errno;

/// `keyctl` operation numbers (`<linux/keyctl.h>`), defined here so that an older
/// `libc` without them still builds.
pub(crate) mod op {
    pub const GET_KEYRING_ID: u32 = 0;
    pub const JOIN_SESSION_KEYRING: u32 = 1;
    pub const UPDATE: u32 = 2;
    pub const REVOKE: u32 = 3;
    pub const CHOWN: u32 = 4;
    pub const SETPERM: u32 = 5;
    pub const DESCRIBE: u32 = 6;
    pub const CLEAR: u32 = 7;
    pub const LINK: u32 = 8;
    pub const UNLINK: u32 = 9;
    pub const SEARCH: u32 = 10;
    pub const READ: u32 = 11;
    pub const SET_TIMEOUT: u32 = 15;
    pub const GET_SECURITY: u32 = 17;
    pub const INVALIDATE: u32 = 21;
    pub const GET_PERSISTENT: u32 = 22;
    pub const RESTRICT_KEYRING: u32 = 29;
    pub const MOVE: u32 = 30;
    pub const CAPABILITIES: u32 = 31;
}

/// The `keyctl` operations whose arguments are all integers (serials, ids, flags,
/// seconds): the kernel dereferences none of them as a pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IntOp {
    GetKeyringId,
    Revoke,
    Chown,
    Setperm,
    Clear,
    Link,
    Unlink,
    SetTimeout,
    Invalidate,
    GetPersistent,
    Move,
}

impl IntOp {
    const fn number(self) -> u32 {
        match self {
            IntOp::GetKeyringId => op::GET_KEYRING_ID,
            IntOp::Revoke => op::REVOKE,
            IntOp::Chown => op::CHOWN,
            IntOp::Setperm => op::SETPERM,
            IntOp::Clear => op::CLEAR,
            IntOp::Link => op::LINK,
            IntOp::Unlink => op::UNLINK,
            IntOp::SetTimeout => op::SET_TIMEOUT,
            IntOp::Invalidate => op::INVALIDATE,
            IntOp::GetPersistent => op::GET_PERSISTENT,
            IntOp::Move => op::MOVE,
        }
    }
}

/// The `keyctl` operations of the form `(key, char *buffer, size_t buflen)` that
/// write at most `buflen` bytes into `buffer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BufOp {
    Describe,
    Read,
    GetSecurity,
}

/// The errno of the call that just failed, read before anything else can clobber it.
#[inline]
fn last_errno() -> Errno {
    Errno::from_raw_os_error(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

#[inline]
fn check(ret: c_long) -> Result<c_long, Errno> {
    if ret < 0 { Err(last_errno()) } else { Ok(ret) }
}

#[inline]
fn opt_ptr(s: Option<&CStr>) -> *const libc::c_char {
    s.map_or(std::ptr::null(), CStr::as_ptr)
}

/// `keyctl(op, a2, a3, a4, a5)` for an operation that takes integers only.
#[inline]
pub(crate) fn keyctl_int(
    op: IntOp,
    a2: c_long,
    a3: c_long,
    a4: c_long,
    a5: c_long,
) -> Result<c_long, Errno> {
    // SAFETY: `IntOp` only names operations whose arguments are integers, so the
    // kernel reads and writes no memory of this process through them.
    check(unsafe { libc::syscall(libc::SYS_keyctl, op.number() as c_long, a2, a3, a4, a5) })
}

/// `keyctl(op, key, buf, buf.len())`: the kernel writes at most `buf.len()` bytes.
#[inline]
pub(crate) fn keyctl_buf(op: BufOp, key: i32, buf: &mut [u8]) -> Result<usize, Errno> {
    let number = match op {
        BufOp::Describe => op::DESCRIBE,
        BufOp::Read => op::READ,
        BufOp::GetSecurity => op::GET_SECURITY,
    };
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the whole call, and
    // these operations write no more than the length they are given.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            number as c_long,
            key as c_long,
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    check(ret).map(|n| n as usize)
}

/// `keyctl(KEYCTL_UPDATE, key, payload, plen)`.
#[inline]
pub(crate) fn keyctl_update(key: i32, payload: &[u8]) -> Result<(), Errno> {
    // SAFETY: `payload` is valid for reads of `payload.len()` bytes; the kernel only
    // reads it.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            op::UPDATE as c_long,
            key as c_long,
            payload.as_ptr(),
            payload.len(),
        )
    };
    check(ret).map(drop)
}

/// `keyctl(KEYCTL_SEARCH, keyring, type, description, dest)`.
#[inline]
pub(crate) fn keyctl_search(
    keyring: i32,
    key_type: &CStr,
    description: &CStr,
    dest: i32,
) -> Result<i32, Errno> {
    // SAFETY: both strings are NUL-terminated and outlive the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            op::SEARCH as c_long,
            keyring as c_long,
            key_type.as_ptr(),
            description.as_ptr(),
            dest as c_long,
        )
    };
    check(ret).map(|serial| serial as i32)
}

/// `keyctl(KEYCTL_JOIN_SESSION_KEYRING, name)`; `None` passes NULL (a new anonymous
/// keyring).
#[inline]
pub(crate) fn keyctl_join(name: Option<&CStr>) -> Result<i32, Errno> {
    // SAFETY: the name is NULL or a NUL-terminated string that outlives the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            op::JOIN_SESSION_KEYRING as c_long,
            opt_ptr(name),
        )
    };
    check(ret).map(|serial| serial as i32)
}

/// `keyctl(KEYCTL_RESTRICT_KEYRING, keyring, type, restriction)`.
#[inline]
pub(crate) fn keyctl_restrict(
    keyring: i32,
    key_type: Option<&CStr>,
    restriction: Option<&CStr>,
) -> Result<(), Errno> {
    // SAFETY: each string is NULL or NUL-terminated and outlives the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            op::RESTRICT_KEYRING as c_long,
            keyring as c_long,
            opt_ptr(key_type),
            opt_ptr(restriction),
        )
    };
    check(ret).map(drop)
}

/// `keyctl(KEYCTL_CAPABILITIES, buf, buf.len())`: returns the kernel's full length.
#[inline]
pub(crate) fn keyctl_capabilities(buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes; the kernel writes at
    // most that many.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            op::CAPABILITIES as c_long,
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    check(ret).map(|n| n as usize)
}

/// `add_key(type, description, payload, plen, keyring)`; a `None` description
/// passes NULL.
#[inline]
pub(crate) fn add_key(
    key_type: &CStr,
    description: Option<&CStr>,
    payload: &[u8],
    keyring: i32,
) -> Result<i32, Errno> {
    // An empty payload is passed as NULL, which the kernel requires when plen is 0
    // for keyrings, and accepts for every type.
    let payload_ptr = if payload.is_empty() {
        std::ptr::null()
    } else {
        payload.as_ptr()
    };
    // SAFETY: the strings are NULL or NUL-terminated, the payload pointer is NULL
    // (length 0) or valid for reads of `payload.len()` bytes; all outlive the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_add_key,
            key_type.as_ptr(),
            opt_ptr(description),
            payload_ptr,
            payload.len(),
            keyring as c_long,
        )
    };
    check(ret).map(|serial| serial as i32)
}

/// `request_key(type, description, callout_info, dest_keyring)`.
#[inline]
pub(crate) fn request_key(
    key_type: &CStr,
    description: &CStr,
    callout: Option<&CStr>,
    dest: i32,
) -> Result<i32, Errno> {
    // SAFETY: the strings are NULL or NUL-terminated and outlive the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_request_key,
            key_type.as_ptr(),
            description.as_ptr(),
            opt_ptr(callout),
            dest as c_long,
        )
    };
    check(ret).map(|serial| serial as i32)
}
