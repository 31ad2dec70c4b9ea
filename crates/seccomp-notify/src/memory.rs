//! Reading the caller's memory (the strings and structs its arguments point to).
//!
//! # The TOCTOU rule
//!
//! 1. Read what the arguments point to (`process_vm_readv`, or `/proc/PID/mem`).
//! 2. Then check that the notification is still valid ([`Listener::id_valid`]): the pid
//!    could have died and been reused between `recv` and the read, in which case the
//!    bytes came from another process. Every reader here does this check for you and
//!    fails with [`Error::NotificationGone`].
//! 3. Act on the copy, never on the caller's memory again: another thread of the
//!    caller can rewrite it at any moment. In particular, do not approve a call with
//!    [`Listener::respond_continue`] because of what a pointer argument pointed to:
//!    the kernel re-reads the memory when it runs the call, after the check. Emulate
//!    the call on the copy instead (open the file yourself and [`Listener::add_fd`] it).
#![forbid(unsafe_code)]

use std::ffi::CString;
use std::os::fd::AsFd;

use rustix::io::Errno;

use crate::error::{Call, Error, Result};
use crate::listener::{Listener, Notification};
use crate::sys;

/// A value that can be rebuilt from the bytes of the caller's memory (native endian).
pub trait FromCallerBytes: Sized {
    /// Its size in the caller's memory (at most 4096).
    const SIZE: usize;
    /// Rebuilds the value from exactly `SIZE` bytes.
    fn from_caller_bytes(bytes: &[u8]) -> Self;
}

macro_rules! int_from_bytes {
    ($($t:ty),*) => {$(
        impl FromCallerBytes for $t {
            const SIZE: usize = size_of::<$t>();
            fn from_caller_bytes(bytes: &[u8]) -> Self {
                <$t>::from_ne_bytes(bytes.try_into().expect("SIZE bytes"))
            }
        }
    )*};
}
int_from_bytes!(u8, i8, u16, i16, u32, i32, u64, i64, usize, isize);

impl<const N: usize> FromCallerBytes for [u8; N] {
    const SIZE: usize = N;
    fn from_caller_bytes(bytes: &[u8]) -> Self {
        bytes.try_into().expect("SIZE bytes")
    }
}

const PAGE: u64 = 4096;

impl Listener {
    /// Reads `buf.len()` bytes at `addr` in the caller's memory, then checks that the
    /// notification is still valid (see the [TOCTOU rule](crate::memory)).
    ///
    /// C: `process_vm_readv(pid, ...)`, falling back to `pread(/proc/PID/mem)` where the
    /// kernel lacks it. The supervisor needs ptrace access to the caller (same user
    /// and dumpable, or `CAP_SYS_PTRACE`).
    ///
    /// # Errors
    /// [`Error::NotificationGone`], [`Error::CallerNotVisible`] (pid 0), [`Error::Syscall`]
    /// (`EFAULT` for an unmapped address, `EPERM` without ptrace access).
    ///
    /// # References
    /// [process_vm_readv(2)](https://man7.org/linux/man-pages/man2/process_vm_readv.2.html),
    /// [seccomp_unotify(2)](https://man7.org/linux/man-pages/man2/seccomp_unotify.2.html)
    pub fn read_memory(&self, notif: &Notification, addr: u64, buf: &mut [u8]) -> Result<()> {
        let n = self.read_some(notif, addr, buf)?;
        if n < buf.len() {
            return Err(Error::syscall(
                Call::new(
                    "process_vm_readv",
                    format_args!("pid {}, {addr:#x}, {} [{n} read]", notif.pid, buf.len()),
                ),
                Errno::FAULT,
            ));
        }
        self.check_still_valid(notif)
    }

    /// Reads a value of type `T` at `addr` in the caller's memory; see [`read_memory`](Self::read_memory).
    ///
    /// # Errors
    /// As [`read_memory`](Self::read_memory).
    pub fn read_value<T: FromCallerBytes>(&self, notif: &Notification, addr: u64) -> Result<T> {
        let mut buf = [0u8; PAGE as usize];
        let bytes = &mut buf[..T::SIZE];
        self.read_memory(notif, addr, bytes)?;
        Ok(T::from_caller_bytes(bytes))
    }

    /// Reads a NUL-terminated string of at most `max` bytes (without the NUL) at
    /// `addr`, page by page (so a string that ends just before an unmapped page reads
    /// fine), then checks that the notification is still valid.
    ///
    /// # Errors
    /// [`Error::StringTooLong`], and as [`read_memory`](Self::read_memory).
    pub fn read_cstring(&self, notif: &Notification, addr: u64, max: usize) -> Result<CString> {
        let mut out = Vec::new();
        let mut at = addr;
        let mut chunk = [0u8; PAGE as usize];
        loop {
            let room = (max + 1).saturating_sub(out.len());
            let len = ((PAGE - at % PAGE) as usize).min(room);
            if len == 0 {
                return Err(Error::StringTooLong {
                    pid: notif.pid,
                    addr,
                    max,
                });
            }
            let n = self.read_some(notif, at, &mut chunk[..len])?;
            if n == 0 {
                return Err(Error::syscall(
                    Call::new(
                        "process_vm_readv",
                        format_args!("pid {}, {at:#x}, {len}", notif.pid),
                    ),
                    Errno::FAULT,
                ));
            }
            if let Some(nul) = chunk[..n].iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..nul]);
                self.check_still_valid(notif)?;
                return Ok(CString::new(out).expect("no interior NUL"));
            }
            out.extend_from_slice(&chunk[..n]);
            at += n as u64;
        }
    }

    fn check_still_valid(&self, notif: &Notification) -> Result<()> {
        if self.id_valid(notif.id)? {
            Ok(())
        } else {
            Err(Error::NotificationGone { id: notif.id })
        }
    }

    fn read_some(&self, notif: &Notification, addr: u64, buf: &mut [u8]) -> Result<usize> {
        if notif.pid == 0 {
            return Err(Error::CallerNotVisible { id: notif.id });
        }
        match sys::process_vm_read(notif.pid, addr, buf) {
            Ok(n) => Ok(n),
            Err(Errno::NOSYS) => self.read_proc_mem(notif, addr, buf),
            Err(Errno::SRCH) => {
                self.check_still_valid(notif)?;
                Err(Error::syscall(
                    Call::new(
                        "process_vm_readv",
                        format_args!("pid {}, {addr:#x}, {}", notif.pid, buf.len()),
                    ),
                    Errno::SRCH,
                ))
            }
            Err(errno) => Err(Error::syscall(
                Call::new(
                    "process_vm_readv",
                    format_args!("pid {}, {addr:#x}, {}", notif.pid, buf.len()),
                ),
                errno,
            )),
        }
    }

    fn read_proc_mem(&self, notif: &Notification, addr: u64, buf: &mut [u8]) -> Result<usize> {
        let path = format!("/proc/{}/mem", notif.pid);
        let file = rustix::fs::open(
            path.as_str(),
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| {
            Error::syscall(
                Call::new("open", format_args!("{path:?}, O_RDONLY|O_CLOEXEC")),
                e,
            )
        })?;
        // The pid may have been reused before the open: check before trusting the file.
        self.check_still_valid(notif)?;
        let len = buf.len();
        rustix::io::pread(file.as_fd(), buf, addr).map_err(|e| {
            Error::syscall(
                Call::new("pread", format_args!("{path:?}, {len}, {addr:#x}")),
                e,
            )
        })
    }
}
