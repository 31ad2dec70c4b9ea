//! `seccomp(SECCOMP_GET_NOTIF_SIZES)`: the sizes of the kernel's notification structs.
#![forbid(unsafe_code)]

use std::mem::size_of;

use rustix::io::Errno;

use crate::bpf::SeccompData;
use crate::error::{Call, Error, Result};
use crate::sys;

/// The sizes, in bytes, of the kernel's user-notification structs
/// (`struct seccomp_notif_sizes`), as [`notif_sizes`] reports them.
///
/// The structs may grow in later kernels: a listener must pass buffers of at least
/// these sizes to `SECCOMP_IOCTL_NOTIF_RECV` and `SECCOMP_IOCTL_NOTIF_SEND`, zeroed
/// past the fields it knows. [`Listener`](crate::Listener) does so.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[doc(alias = "seccomp_notif_sizes")]
pub struct NotifSizes {
    /// `sizeof(struct seccomp_notif)`: 80 since Linux 5.0.
    pub seccomp_notif: u16,
    /// `sizeof(struct seccomp_notif_resp)`: 24 since Linux 5.0.
    pub seccomp_notif_resp: u16,
    /// `sizeof(struct seccomp_data)`: 64 since Linux 3.5.
    pub seccomp_data: u16,
}

impl NotifSizes {
    /// The sizes of the structs as this crate lays them out (Linux 5.0's): the
    /// least a kernel may report for [`Listener`](crate::Listener) to work.
    pub const CRATE: NotifSizes = NotifSizes {
        seccomp_notif: NOTIF_SIZE as u16,
        seccomp_notif_resp: RESP_SIZE as u16,
        seccomp_data: size_of::<SeccompData>() as u16,
    };
}

/// `struct seccomp_notif` (Linux 5.0): id, pid, flags, then `struct seccomp_data`.
pub(crate) const NOTIF_SIZE: usize = 16 + size_of::<SeccompData>();
/// `struct seccomp_notif_resp` (Linux 5.0): id, val, error, flags.
pub(crate) const RESP_SIZE: usize = 24;

const _: () = assert!(NOTIF_SIZE == size_of::<libc::seccomp_notif>());
const _: () = assert!(RESP_SIZE == size_of::<libc::seccomp_notif_resp>());
const _: () = assert!(size_of::<SeccompData>() == size_of::<libc::seccomp_data>());

/// Asks the kernel for the sizes of its user-notification structs.
///
/// C: `seccomp(SECCOMP_GET_NOTIF_SIZES, 0, &sizes)`. Since Linux 5.0. Needs no
/// privilege and changes nothing.
///
/// ```
/// use linception_seccomp_notify::{NotifSizes, notif_sizes};
///
/// let sizes = notif_sizes()?;
/// // Never smaller than what the crate knows; larger on a kernel with new fields.
/// assert!(sizes.seccomp_notif >= NotifSizes::CRATE.seccomp_notif);
/// # Ok::<(), linception_seccomp_notify::Error>(())
/// ```
///
/// # Errors
/// [`Error::Unsupported`] before Linux 5.0 (`EINVAL`) or without seccomp filters
/// (`ENOSYS`); [`Error::Syscall`] otherwise.
///
/// # References
/// [seccomp(2)](https://man7.org/linux/man-pages/man2/seccomp.2.html)
#[doc(alias = "SECCOMP_GET_NOTIF_SIZES")]
pub fn notif_sizes() -> Result<NotifSizes> {
    raw_notif_sizes().map_err(sizes_error)
}

/// [`notif_sizes`] with the bare errno.
pub(crate) fn raw_notif_sizes() -> Result<NotifSizes, Errno> {
    sys::seccomp_get_notif_sizes().map(|s| NotifSizes {
        seccomp_notif: s.seccomp_notif,
        seccomp_notif_resp: s.seccomp_notif_resp,
        seccomp_data: s.seccomp_data,
    })
}

pub(crate) fn sizes_error(errno: Errno) -> Error {
    match errno {
        Errno::NOSYS | Errno::INVAL => Error::Unsupported {
            feature: "SECCOMP_GET_NOTIF_SIZES",
            min_kernel: "5.0",
        },
        errno => Error::syscall(
            Call::new("seccomp", format_args!("SECCOMP_GET_NOTIF_SIZES, 0")),
            errno,
        ),
    }
}

/// Checks the kernel's sizes against the crate's layouts and the listener's
/// stack buffers (`buffer` bytes): returns the receive and answer sizes.
pub(crate) fn check_sizes(kernel: NotifSizes, buffer: usize) -> Result<(usize, usize)> {
    let ours = NotifSizes::CRATE;
    if kernel.seccomp_notif < ours.seccomp_notif
        || kernel.seccomp_notif_resp < ours.seccomp_notif_resp
        || kernel.seccomp_data < ours.seccomp_data
    {
        return Err(Error::NotifSizeMismatch {
            kernel,
            ours,
            buffer,
        });
    }
    let (notif, resp) = (
        usize::from(kernel.seccomp_notif),
        usize::from(kernel.seccomp_notif_resp),
    );
    if notif.max(resp) > buffer {
        return Err(Error::NotifSizeMismatch {
            kernel,
            ours,
            buffer,
        });
    }
    Ok((notif, resp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(seccomp_notif: u16, seccomp_notif_resp: u16, seccomp_data: u16) -> NotifSizes {
        NotifSizes {
            seccomp_notif,
            seccomp_notif_resp,
            seccomp_data,
        }
    }

    #[test]
    fn crate_layout_is_linux_5_0() {
        assert_eq!(NotifSizes::CRATE, sizes(80, 24, 64));
    }

    #[test]
    fn kernel_sizes_are_checked_against_ours_and_the_buffer() {
        assert_eq!(check_sizes(sizes(80, 24, 64), 512).unwrap(), (80, 24));
        // A newer kernel with larger structs: fine while the buffer holds them.
        assert_eq!(check_sizes(sizes(96, 32, 72), 512).unwrap(), (96, 32));
        for bad in [
            sizes(72, 24, 64),
            sizes(80, 16, 64),
            sizes(80, 24, 56),
            sizes(520, 24, 64),
            sizes(80, 600, 64),
        ] {
            let err = check_sizes(bad, 512).unwrap_err();
            assert!(
                matches!(err, Error::NotifSizeMismatch { kernel, .. } if kernel == bad),
                "{err}"
            );
            assert_eq!(err.kind(), crate::ErrorKind::Unsupported, "{err}");
        }
        let err = check_sizes(sizes(72, 24, 64), 512).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the kernel's seccomp notification structs (seccomp_notif 72, seccomp_notif_resp 24, \
             seccomp_data 64 bytes) do not fit this crate's (80, 24, 64 bytes, buffers of 512)"
        );
    }
}
