//! Fds the process inherited from its parent, to pass on to a container: what an
//! OCI runtime's `--preserve-fds N` and systemd's socket activation (`LISTEN_FDS`)
//! hand over.
#![forbid(unsafe_code)]

use std::ops::Range;
use std::os::fd::{OwnedFd, RawFd};

use crate::error::{Error, Result};

/// Close-on-exec copies of the fds numbered `fds` that this process inherited
/// (its parent left them open across `execve`), in order, to give to
/// [`ContainerBuilder::pass_fd`](crate::ContainerBuilder::pass_fd): like
/// [`BorrowedFd::try_clone_to_owned`](std::os::fd::BorrowedFd::try_clone_to_owned)
/// for fds no value of this program owns. Every copy is numbered `fds.end` or
/// more, so that none takes the place of a closed fd of the range (a copy of fd 3
/// at 4 would make a missing fd 4 look passed). The inherited fds themselves stay
/// open and unchanged.
///
/// ```no_run
/// # fn f() -> linception::Result<()> {
/// use linception::{Container, inherited_fds};
/// // As `runc run --preserve-fds 2`: the caller's fds 3 and 4 are the program's.
/// let mut b = Container::builder("/bin/ls").arg("/proc/self/fd");
/// for (n, fd) in (3..).zip(inherited_fds(3..5)?) {
///     b = b.pass_fd(fd, n);
/// }
/// b.spawn()?.wait()?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`Error::InvalidArgument`] naming the first fd of the range that is not open
/// (`EBADF`), or a negative fd; the failed `fcntl` otherwise (`EMFILE` for a full
/// fd table, `EINVAL` for a range ending above the `RLIMIT_NOFILE` soft limit,
/// where no copy could be numbered). The copies made before are closed again.
///
/// # References
/// - [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html) (`F_DUPFD_CLOEXEC`)
/// - [sd_listen_fds(3)](https://man7.org/linux/man-pages/man3/sd_listen_fds.3.html)
pub fn inherited_fds(fds: Range<RawFd>) -> Result<Vec<OwnedFd>> {
    if fds.start < 0 {
        return Err(Error::invalid(
            format!("inherited fd {}", fds.start),
            "an fd number is not negative",
        ));
    }
    let above = fds.end.max(3);
    let mut copies = Vec::with_capacity(fds.len());
    for fd in fds {
        let copy = crate::sys::dup_inherited(fd, above).map_err(|errno| {
            if errno == libc::EBADF {
                Error::invalid(
                    format!("inherited fd {fd}"),
                    "not open in this process (EBADF)",
                )
            } else {
                Error::syscall(
                    format!("fcntl({fd}, F_DUPFD_CLOEXEC, {above})"),
                    std::io::Error::from_raw_os_error(errno),
                )
            }
        })?;
        copies.push(copy);
    }
    Ok(copies)
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;

    use super::*;

    #[test]
    fn copies_read_what_the_originals_do_and_sit_above_the_range() {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let n = r.as_raw_fd();
        let copies = inherited_fds(n..n + 1).unwrap();
        let [copy] = <[OwnedFd; 1]>::try_from(copies).unwrap();
        assert!(copy.as_raw_fd() > n);
        let flags = rustix::io::fcntl_getfd(&copy).unwrap();
        assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
        std::fs::File::from(w).write_all(b"x").unwrap();
        let mut got = String::new();
        std::fs::File::from(copy).read_to_string(&mut got).unwrap();
        assert_eq!(got, "x");
        // The original is still open.
        assert!(rustix::io::fcntl_getfd(&r).is_ok());
        assert!(inherited_fds(n..n).unwrap().is_empty());
    }

    #[test]
    fn an_fd_that_is_not_open_is_named() {
        // Far above every fd this test program has open (fds are given lowest
        // first), so not open. (A range with a gap is checked by linception-oci's
        // tests, in a process of its own.)
        let (r, _w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let closed = r.as_raw_fd() + 10_000;
        let e = inherited_fds(closed..closed + 1).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
        assert_eq!(
            e.to_string(),
            format!("invalid inherited fd {closed}: not open in this process (EBADF)")
        );
        let e = inherited_fds(-1..2).unwrap_err();
        assert!(e.to_string().starts_with("invalid inherited fd -1"), "{e}");
    }
}
