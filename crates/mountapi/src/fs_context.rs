//! `FsContext`: a filesystem being configured (`fsopen`, `fspick`, `fsconfig`).
#![forbid(unsafe_code)]

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use rustix::io::Errno;
use rustix::mount as rmount;
use rustix::path::Arg;

use crate::error::{Call, Error, LogMessage, Result};
use crate::flags::{FsPickFlags, MountAttr};
use crate::mount::Mount;
use crate::util::{Dirfd, Flags, with_c_str};

/// A filesystem context: the fd returned by `fsopen` (a new filesystem to
/// configure and create) or `fspick` (an existing one to reconfigure).
///
/// Each `fsconfig` command is its own method, found under the kernel's name
/// (`FSCONFIG_SET_STRING` is [`set_string`](Self::set_string)). When a call fails
/// the kernel's messages are read from the context (one `read` per message, until
/// `ENODATA`) and attached to the error, so it reads like
/// `fsconfig(fd 5, FSCONFIG_SET_STRING, "size", "x"): Invalid argument (EINVAL): tmpfs: Bad value for 'size'`.
///
/// # Allocation
/// With `&CStr` arguments, no method allocates on success (short `&str` and `&Path`
/// arguments are copied to the stack). A failure allocates to collect the kernel's
/// messages, unless [`set_log_capture`](Self::set_log_capture) says
/// [`LogCapture::Leave`]: then nothing allocates, success or failure.
///
/// # Examples
/// ```no_run
/// use linception_mountapi::{FsContext, MountAttr};
///
/// let fs = FsContext::open(c"tmpfs")?;
/// fs.set_string(c"size", c"16m")?;
/// fs.set_string(c"mode", c"0755")?;
/// fs.create()?;
/// let mount = fs.mount(MountAttr::NOSUID | MountAttr::NODEV)?;
/// mount.attach(c"/mnt")?;
/// # Ok::<(), linception_mountapi::Error>(())
/// ```
pub struct FsContext {
    fd: OwnedFd,
    capture: LogCapture,
}

/// What a failed [`FsContext`] call does with the kernel's messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum LogCapture {
    /// Read them into the error (the default). This allocates.
    #[default]
    Collect,
    /// Leave them in the context, where [`FsContext::read_log`] finds them: the
    /// failure path then allocates nothing either, for use between clone and exec.
    Leave,
}

impl FsContext {
    /// `fsopen(fstype, FSOPEN_CLOEXEC)`: starts configuring a new filesystem of type
    /// `fstype` (`"tmpfs"`, `"proc"`, `"overlay"`, ...). Since Linux 5.2.
    ///
    /// # Errors
    /// `ENODEV` for an unknown filesystem type, `EPERM` without `CAP_SYS_ADMIN` in
    /// the user namespace owning the mount namespace (and a filesystem that allows
    /// such mounts), [`Unsupported`](Error::Unsupported) before Linux 5.2.
    ///
    /// # References
    /// - [`fsopen(2)`](https://man7.org/linux/man-pages/man2/fsopen.2.html)
    #[doc(alias = "fsopen")]
    #[inline]
    pub fn open(fstype: impl Arg) -> Result<FsContext> {
        with_c_str("filesystem type", fstype, |fstype| {
            rmount::fsopen(fstype, rmount::FsOpenFlags::FSOPEN_CLOEXEC)
                .map(FsContext::from)
                .map_err(|errno| {
                    let call = Call::new("fsopen", format_args!("{fstype:?}, FSOPEN_CLOEXEC"));
                    if errno == Errno::NOSYS {
                        Error::unsupported("fsopen", "5.2", call, errno)
                    } else {
                        Error::syscall(call, errno)
                    }
                })
        })
    }

    /// `fspick(AT_FDCWD, path, FSPICK_CLOEXEC)`: a context for the filesystem
    /// mounted at `path`, to change its parameters with
    /// [`reconfigure`](Self::reconfigure). Since Linux 5.2.
    ///
    /// # Errors
    /// `ENOENT`, `EPERM`, ... from the kernel.
    ///
    /// # References
    /// - [`fspick(2)`](https://man7.org/linux/man-pages/man2/fspick.2.html)
    #[doc(alias = "fspick")]
    #[inline]
    pub fn pick(path: impl Arg) -> Result<FsContext> {
        Self::pick_at(rustix::fs::CWD, path, FsPickFlags::empty())
    }

    /// `fspick(dirfd, path, flags | FSPICK_CLOEXEC)`; see [`pick`](Self::pick).
    ///
    /// # Errors
    /// As [`pick`](Self::pick).
    ///
    /// # References
    /// - [`fspick(2)`](https://man7.org/linux/man-pages/man2/fspick.2.html)
    #[doc(alias = "fspick")]
    #[inline]
    pub fn pick_at(dirfd: impl AsFd, path: impl Arg, flags: FsPickFlags) -> Result<FsContext> {
        let dirfd = dirfd.as_fd();
        with_c_str("path", path, |path| {
            let raw = rmount::FsPickFlags::from_bits_retain(
                flags.bits() | rmount::FsPickFlags::FSPICK_CLOEXEC.bits(),
            );
            rmount::fspick(dirfd, path, raw)
                .map(FsContext::from)
                .map_err(|errno| {
                    let call = Call::new(
                        "fspick",
                        format_args!(
                            "{}, {path:?}, {}|FSPICK_CLOEXEC",
                            Dirfd(dirfd),
                            Flags(&flags)
                        ),
                    );
                    if errno == Errno::NOSYS {
                        Error::unsupported("fspick", "5.2", call, errno)
                    } else {
                        Error::syscall(call, errno)
                    }
                })
        })
    }

    /// `fsconfig(fd, FSCONFIG_SET_FLAG, key, NULL, 0)`: sets a parameter that takes
    /// no value (`"ro"`, `"userxattr"`).
    ///
    /// # Errors
    /// `EINVAL` for an unknown parameter; the kernel's message is attached.
    ///
    /// # References
    /// - [`fsconfig(2)`](https://man7.org/linux/man-pages/man2/fsconfig.2.html)
    #[doc(alias = "FSCONFIG_SET_FLAG", alias = "fsconfig")]
    #[inline]
    pub fn set_flag(&self, key: impl Arg) -> Result<()> {
        with_c_str("fsconfig key", key, |key| {
            rmount::fsconfig_set_flag(&self.fd, key).map_err(|errno| {
                self.fail(
                    Call::new(
                        "fsconfig",
                        format_args!("{}, FSCONFIG_SET_FLAG, {key:?}, NULL, 0", self.fd_display()),
                    ),
                    errno,
                )
            })
        })
    }

    /// `fsconfig(fd, FSCONFIG_SET_STRING, key, value, 0)`: sets a parameter to a
    /// string (`"size"` = `"16m"`, `"lowerdir"` = `"/a:/b"`).
    ///
    /// # Errors
    /// `EINVAL` for an unknown parameter or a bad value; the kernel's message is
    /// attached ("tmpfs: Bad value for 'size'").
    ///
    /// # References
    /// - [`fsconfig(2)`](https://man7.org/linux/man-pages/man2/fsconfig.2.html)
    #[doc(alias = "FSCONFIG_SET_STRING", alias = "fsconfig")]
    #[inline]
    pub fn set_string(&self, key: impl Arg, value: impl Arg) -> Result<()> {
        with_c_str("fsconfig key", key, |key| {
            with_c_str("fsconfig value", value, |value| {
                rmount::fsconfig_set_string(&self.fd, key, value).map_err(|errno| {
                    self.fail(
                        Call::new(
                            "fsconfig",
                            format_args!(
                                "{}, FSCONFIG_SET_STRING, {key:?}, {value:?}",
                                self.fd_display()
                            ),
                        ),
                        errno,
                    )
                })
            })
        })
    }

    /// `fsconfig(fd, FSCONFIG_SET_BINARY, key, value, value.len())`: sets a
    /// parameter to a binary blob.
    ///
    /// # Errors
    /// `EINVAL` when the filesystem does not take a blob for `key`.
    ///
    /// # References
    /// - [`fsconfig(2)`](https://man7.org/linux/man-pages/man2/fsconfig.2.html)
    #[doc(alias = "FSCONFIG_SET_BINARY", alias = "fsconfig")]
    #[inline]
    pub fn set_binary(&self, key: impl Arg, value: &[u8]) -> Result<()> {
        with_c_str("fsconfig key", key, |key| {
            rmount::fsconfig_set_binary(&self.fd, key, value).map_err(|errno| {
                self.fail(
                    Call::new(
                        "fsconfig",
                        format_args!(
                            "{}, FSCONFIG_SET_BINARY, {key:?}, <{} bytes>, {}",
                            self.fd_display(),
                            value.len(),
                            value.len()
                        ),
                    ),
                    errno,
                )
            })
        })
    }

    /// `fsconfig(fd, FSCONFIG_SET_PATH, key, path, dirfd)`: sets a parameter to an
    /// object found by path (`"source"` of a block filesystem).
    ///
    /// # Errors
    /// `ENOENT`, `EINVAL`, ...; the kernel's message is attached.
    ///
    /// # References
    /// - [`fsconfig(2)`](https://man7.org/linux/man-pages/man2/fsconfig.2.html)
    #[doc(alias = "FSCONFIG_SET_PATH", alias = "fsconfig")]
    #[inline]
    pub fn set_path(&self, key: impl Arg, dirfd: impl AsFd, path: impl Arg) -> Result<()> {
        let dirfd = dirfd.as_fd();
        with_c_str("fsconfig key", key, |key| {
            with_c_str("path", path, |path| {
                rmount::fsconfig_set_path(&self.fd, key, path, dirfd).map_err(|errno| {
                    self.fail(
                        Call::new(
                            "fsconfig",
                            format_args!(
                                "{}, FSCONFIG_SET_PATH, {key:?}, {path:?}, {}",
                                self.fd_display(),
                                Dirfd(dirfd)
                            ),
                        ),
                        errno,
                    )
                })
            })
        })
    }

    /// `fsconfig(fd, FSCONFIG_SET_PATH_EMPTY, key, "", fd)`: sets a parameter to
    /// the object `fd` refers to.
    ///
    /// # Errors
    /// As [`set_path`](Self::set_path).
    ///
    /// # References
    /// - [`fsconfig(2)`](https://man7.org/linux/man-pages/man2/fsconfig.2.html)
    #[doc(alias = "FSCONFIG_SET_PATH_EMPTY", alias = "fsconfig")]
    #[inline]
    pub fn set_path_empty(&self, key: impl Arg, fd: impl AsFd) -> Result<()> {
        let fd = fd.as_fd();
        with_c_str("fsconfig key", key, |key| {
            rmount::fsconfig_set_path_empty(&self.fd, key, fd).map_err(|errno| {
                self.fail(
                    Call::new(
                        "fsconfig",
                        format_args!(
                            "{}, FSCONFIG_SET_PATH_EMPTY, {key:?}, \"\", fd {}",
                            self.fd_display(),
                            fd.as_raw_fd()
                        ),
                    ),
                    errno,
                )
            })
        })
    }

    /// `fsconfig(fd, FSCONFIG_SET_FD, key, NULL, fd)`: sets a parameter to an open
    /// file (overlayfs `"lowerdir+"` takes directory fds since Linux 6.8).
    ///
    /// # Errors
    /// `EINVAL` when the filesystem does not take an fd for `key`.
    ///
    /// # References
    /// - [`fsconfig(2)`](https://man7.org/linux/man-pages/man2/fsconfig.2.html)
    #[doc(alias = "FSCONFIG_SET_FD", alias = "fsconfig")]
    #[inline]
    pub fn set_fd(&self, key: impl Arg, fd: impl AsFd) -> Result<()> {
        let fd = fd.as_fd();
        with_c_str("fsconfig key", key, |key| {
            rmount::fsconfig_set_fd(&self.fd, key, fd).map_err(|errno| {
                self.fail(
                    Call::new(
                        "fsconfig",
                        format_args!(
                            "{}, FSCONFIG_SET_FD, {key:?}, NULL, fd {}",
                            self.fd_display(),
                            fd.as_raw_fd()
                        ),
                    ),
                    errno,
                )
            })
        })
    }

    /// `fsconfig(fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0)`: creates the superblock
    /// (or reuses a matching one) from the parameters set so far.
    ///
    /// # Errors
    /// The filesystem's refusal (a missing `"source"`, a bad combination), with the
    /// kernel's message attached.
    ///
    /// # References
    /// - [`fsconfig(2)`](https://man7.org/linux/man-pages/man2/fsconfig.2.html)
    #[doc(alias = "FSCONFIG_CMD_CREATE", alias = "fsconfig")]
    #[inline]
    pub fn create(&self) -> Result<()> {
        rmount::fsconfig_create(&self.fd).map_err(|errno| {
            self.fail(
                Call::new(
                    "fsconfig",
                    format_args!("{}, FSCONFIG_CMD_CREATE, NULL, NULL, 0", self.fd_display()),
                ),
                errno,
            )
        })
    }

    /// `fsconfig(fd, FSCONFIG_CMD_CREATE_EXCL, NULL, NULL, 0)`: like
    /// [`create`](Self::create), but fails with `EBUSY` instead of reusing an
    /// existing superblock. Since Linux 6.6.
    ///
    /// # Errors
    /// As [`create`](Self::create); `EBUSY` if the superblock exists;
    /// [`Unsupported`](Error::Unsupported) (from `EINVAL`) before Linux 6.6 cannot be
    /// told apart from a bad parameter, so it stays `EINVAL`.
    ///
    /// # References
    /// - [`fsconfig(2)`](https://man7.org/linux/man-pages/man2/fsconfig.2.html)
    #[doc(alias = "FSCONFIG_CMD_CREATE_EXCL", alias = "fsconfig")]
    #[inline]
    pub fn create_excl(&self) -> Result<()> {
        rmount::fsconfig_create_exclusive(&self.fd).map_err(|errno| {
            self.fail(
                Call::new(
                    "fsconfig",
                    format_args!(
                        "{}, FSCONFIG_CMD_CREATE_EXCL, NULL, NULL, 0",
                        self.fd_display()
                    ),
                ),
                errno,
            )
        })
    }

    /// `fsconfig(fd, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0)`: applies the
    /// parameters set so far to the existing superblock of a [`pick`](Self::pick)ed
    /// context (like `mount -o remount`).
    ///
    /// # Errors
    /// The filesystem's refusal, with the kernel's message attached.
    ///
    /// # References
    /// - [`fsconfig(2)`](https://man7.org/linux/man-pages/man2/fsconfig.2.html)
    #[doc(alias = "FSCONFIG_CMD_RECONFIGURE", alias = "fsconfig")]
    #[inline]
    pub fn reconfigure(&self) -> Result<()> {
        rmount::fsconfig_reconfigure(&self.fd).map_err(|errno| {
            self.fail(
                Call::new(
                    "fsconfig",
                    format_args!(
                        "{}, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0",
                        self.fd_display()
                    ),
                ),
                errno,
            )
        })
    }

    /// `fsmount(fd, FSMOUNT_CLOEXEC, attrs)`: a detached mount of the created
    /// filesystem, with the mount attributes `attrs` (the access-time mode is part
    /// of them). Attach it with [`Mount::attach`]; dropping it unmounts it.
    ///
    /// # Errors
    /// `EINVAL` when [`create`](Self::create) was not called or the attributes are
    /// invalid (`IDMAP` is refused here: use [`MountSetattr::idmap`](crate::MountSetattr::idmap)).
    ///
    /// # References
    /// - [`fsmount(2)`](https://man7.org/linux/man-pages/man2/fsmount.2.html)
    #[doc(alias = "fsmount")]
    #[inline]
    pub fn mount(&self, attrs: MountAttr) -> Result<Mount> {
        let raw = rmount::MountAttrFlags::from_bits_retain(attrs.bits() as u32);
        rmount::fsmount(&self.fd, rmount::FsMountFlags::FSMOUNT_CLOEXEC, raw)
            .map(Mount::from)
            .map_err(|errno| {
                self.fail(
                    Call::new(
                        "fsmount",
                        format_args!("{}, FSMOUNT_CLOEXEC, {}", self.fd_display(), Flags(&attrs)),
                    ),
                    errno,
                )
            })
    }

    /// Chooses what failures do with the kernel's messages; see [`LogCapture`].
    pub fn set_log_capture(&mut self, capture: LogCapture) {
        self.capture = capture;
    }

    /// Reads and removes the messages the kernel has logged on this context so far
    /// (`read(fd)` until `ENODATA`): warnings and information that successful calls
    /// may leave too. Errors of this crate already carry theirs.
    ///
    /// Allocates; [`read_log_into`](Self::read_log_into) reads one message into a
    /// buffer of the caller's without allocating.
    pub fn read_log(&self) -> Vec<LogMessage> {
        let mut messages = Vec::new();
        let mut buf = [0u8; 1024];
        // ENODATA (the log is empty) ends it as `Ok(0)`; any other error means
        // nothing more can be read.
        while let Ok(n @ 1..) = self.read_log_into(&mut buf) {
            messages.push(LogMessage::parse(&String::from_utf8_lossy(&buf[..n])));
        }
        messages
    }

    /// `read(fd, buf, buf.len())`: reads and removes the oldest message the kernel
    /// has logged on this context, into `buf`, and returns its length (0 when the
    /// log is empty). The message is as the kernel hands it out, with its level
    /// prefix, no NUL, and a final newline on recent kernels: `buf[..n]` is
    /// `e tmpfs: Bad value for 'size'\n` ([`LogMessage::parse`] turns it into a
    /// [`LogMessage`] later, where allocating is fine).
    ///
    /// Allocates nothing, success or failure: with
    /// [`LogCapture::Leave`], this is how a child between clone and exec reads the
    /// reason of a failed [`FsContext`] call (and, say, writes it to a pipe).
    ///
    /// # Errors
    /// `EMSGSIZE` when the message is longer than `buf`: it stays in the log, to be
    /// read with a larger buffer (the kernel's messages are short; 256 bytes hold
    /// the usual ones). Other errnos from `read` (`EINTR` is retried).
    ///
    /// # Examples
    /// ```no_run
    /// use linception_mountapi::{FsContext, LogCapture};
    ///
    /// let mut fs = FsContext::open(c"tmpfs")?;
    /// fs.set_log_capture(LogCapture::Leave);
    /// assert!(fs.set_string(c"size", c"lots").is_err());
    /// let mut buf = [0u8; 256];
    /// let n = fs.read_log_into(&mut buf)?;
    /// assert!(buf[..n].starts_with(b"e tmpfs: Bad value for 'size'"));
    /// assert_eq!(fs.read_log_into(&mut buf)?, 0);
    /// # Ok::<(), linception_mountapi::Error>(())
    /// ```
    ///
    /// # References
    /// - [`fsopen(2)`](https://man7.org/linux/man-pages/man2/fsopen.2.html) (Message
    ///   retrieval interface)
    #[doc(alias = "read")]
    pub fn read_log_into(&self, buf: &mut [u8]) -> Result<usize> {
        loop {
            match rustix::io::read(&self.fd, &mut *buf) {
                Ok(n) => return Ok(n),
                Err(Errno::NODATA) => return Ok(0),
                Err(Errno::INTR) => continue,
                Err(errno) => {
                    return Err(Error::syscall(
                        Call::new(
                            "read",
                            format_args!("{}, <{} bytes>", self.fd_display(), buf.len()),
                        ),
                        errno,
                    ));
                }
            }
        }
    }

    /// Duplicates the fd (`F_DUPFD_CLOEXEC`); both refer to the same context.
    ///
    /// # Errors
    /// `EMFILE` when out of fds.
    pub fn try_clone(&self) -> std::io::Result<FsContext> {
        Ok(FsContext {
            fd: self.fd.try_clone()?,
            capture: self.capture,
        })
    }

    fn fd_display(&self) -> impl fmt::Display + '_ {
        Dirfd(self.fd.as_fd())
    }

    #[cold]
    fn fail(&self, call: Call, errno: Errno) -> Error {
        let log = match self.capture {
            LogCapture::Collect => self.read_log(),
            LogCapture::Leave => Vec::new(),
        };
        if errno == Errno::NOSYS {
            return Error::unsupported("fsconfig", "5.2", call, errno);
        }
        match Error::syscall(call, errno) {
            Error::Syscall { call, source, .. } => Error::Syscall { call, source, log },
            other => other,
        }
    }
}

impl AsFd for FsContext {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl From<OwnedFd> for FsContext {
    /// Takes an fd from `fsopen` or `fspick` made elsewhere.
    fn from(fd: OwnedFd) -> FsContext {
        FsContext {
            fd,
            capture: LogCapture::Collect,
        }
    }
}

impl From<FsContext> for OwnedFd {
    fn from(fs: FsContext) -> OwnedFd {
        fs.fd
    }
}

impl fmt::Debug for FsContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FsContext")
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}
