//! Fds the process inherited from its parent, to pass on to a container: what an
//! OCI runtime's `--preserve-fds N` and systemd's socket activation (`LISTEN_FDS`)
//! hand over.
#![forbid(unsafe_code)]

use std::os::fd::{OwnedFd, RawFd};

use crate::error::{Error, Result};

/// A close-on-exec copy of the fd numbered `fd` that this process inherited (its
/// parent left it open across `execve`), to give to
/// [`ContainerBuilder::pass_fd`](crate::ContainerBuilder::pass_fd): like
/// [`BorrowedFd::try_clone_to_owned`](std::os::fd::BorrowedFd::try_clone_to_owned)
/// for an fd no value of this program owns. The copy is numbered 3 or more; the
/// inherited fd itself stays open and unchanged.
///
/// ```no_run
/// # fn f() -> linception::Result<()> {
/// use linception::{Container, inherited_fd};
/// // As `runc run --preserve-fds 1`: the caller's fd 3 is the program's fd 3.
/// let mut c = Container::builder("/bin/cat")
///     .arg("/proc/self/fd/3")
///     .pass_fd(inherited_fd(3)?, 3)
///     .spawn()?;
/// c.wait()?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`Error::InvalidArgument`] naming the fd when it is not open (`EBADF`); the
/// failed `fcntl` otherwise (`EMFILE` for a full fd table).
///
/// # References
/// - [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html) (`F_DUPFD_CLOEXEC`)
/// - [sd_listen_fds(3)](https://man7.org/linux/man-pages/man3/sd_listen_fds.3.html)
pub fn inherited_fd(fd: RawFd) -> Result<OwnedFd> {
    if fd < 0 {
        return Err(Error::invalid(
            format!("inherited fd {fd}"),
            "an fd number is not negative",
        ));
    }
    crate::sys::dup_inherited(fd).map_err(|errno| {
        if errno == libc::EBADF {
            Error::invalid(
                format!("inherited fd {fd}"),
                "not open in this process (EBADF)",
            )
        } else {
            Error::syscall(
                format!("fcntl({fd}, F_DUPFD_CLOEXEC, 3)"),
                std::io::Error::from_raw_os_error(errno),
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;

    use super::*;

    #[test]
    fn a_copy_reads_what_the_original_does() {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let copy = inherited_fd(r.as_raw_fd()).unwrap();
        assert_ne!(copy.as_raw_fd(), r.as_raw_fd());
        let flags = rustix::io::fcntl_getfd(&copy).unwrap();
        assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
        std::fs::File::from(w).write_all(b"x").unwrap();
        let mut got = String::new();
        std::fs::File::from(copy).read_to_string(&mut got).unwrap();
        assert_eq!(got, "x");
        // The original is still open.
        assert!(rustix::io::fcntl_getfd(&r).is_ok());
    }

    #[test]
    fn an_fd_that_is_not_open_is_named() {
        // One past every fd this test program has open is not open (fds are given
        // lowest first, and another thread may open one at most meanwhile: look high).
        let (r, _w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let closed = r.as_raw_fd() + 10_000;
        let e = inherited_fd(closed).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
        assert_eq!(
            e.to_string(),
            format!("invalid inherited fd {closed}: not open in this process (EBADF)")
        );
        let e = inherited_fd(-1).unwrap_err();
        assert!(e.to_string().starts_with("invalid inherited fd -1"), "{e}");
    }
}
