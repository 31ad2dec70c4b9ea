//! `Root`: a directory that paths are resolved inside of.
#![forbid(unsafe_code)]

use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, OFlags, RenameFlags, Stat};
use rustix::io::Errno;

use crate::error::{Call, Error, Result};
use crate::fallback;
use crate::flags::{OFlagsDisplay, ResolveFlags};
use crate::handle::{Handle, dup};
use crate::how::{
    OpenHow, kernel_has_openat2, openat2_call, openat2_error, raw_openat2, refusal, unsupported,
};
use crate::mode::Mode;
use crate::path::{check, show, split_parent};

/// How many times a lookup is retried when the kernel reports (`EAGAIN`) that a
/// rename or mount raced with a `..` step.
pub const MAX_EAGAIN_RETRIES: u32 = 64;

/// Which resolver a [`Root`] uses.
///
/// # Examples
///
/// ```
/// use linception_openat2::{Resolver, Root, OFlags};
///
/// // The userspace resolver gives the kernel's answers, on any kernel.
/// let kernel = Root::new("/")?;
/// let fallback = Root::new("/")?.with_resolver(Resolver::Fallback);
/// let a = kernel.metadata("proc/../proc/self/../..")?;
/// let b = fallback.metadata("proc/../proc/self/../..")?;
/// assert_eq!((a.st_dev, a.st_ino), (b.st_dev, b.st_ino));
/// # Ok::<(), linception_openat2::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Resolver {
    /// The kernel's `openat2` when the running kernel has it and no seccomp filter
    /// refuses it (probed once, the answer cached), else the userspace fallback.
    /// The default.
    #[default]
    Auto,
    /// Only the kernel's `openat2`: [`Error::Unsupported`] before Linux 5.6.
    Kernel,
    /// Only the userspace resolver (see the crate docs), even where `openat2` exists.
    Fallback,
}

/// A directory that paths are resolved inside of, as if it were `/`.
///
/// `Root` owns an `O_PATH` fd to the directory. Every method resolves its path
/// inside it with `RESOLVE_IN_ROOT` semantics: `..` at the root stays at the root,
/// absolute paths and absolute symlinks start from the root, so no path, symlink or
/// concurrent rename can reach a file outside it. [`strict`](Root::strict) turns
/// those escape attempts into errors instead (`RESOLVE_BENEATH`), and
/// [`with_resolve_flags`](Root::with_resolve_flags) adds the `NO_SYMLINKS`,
/// `NO_MAGICLINKS`, `NO_XDEV` and `CACHED` policies.
///
/// Mutating methods resolve the parent directory inside the root, then act with an
/// `*at()` call relative to that directory's fd: never through a joined host path.
/// ([`create`](Root::create) is one `openat2(O_CREAT)` call on the kernel path, which
/// resolves and creates in one step; the userspace resolver creates with `openat`
/// relative to the resolved parent.)
///
/// Since Linux 5.6 through the kernel's `openat2`; on older kernels through the
/// userspace resolver (see [`Resolver`]).
///
/// # Examples
///
/// ```
/// use linception_openat2::{Root, OFlags, Mode};
///
/// let dir = std::env::temp_dir().join(format!("linception-root-doc-{}", std::process::id()));
/// std::fs::create_dir(&dir)?;
/// let root = Root::new(&dir)?;
/// root.mkdir_all("etc/app", Mode::from_raw_mode(0o755)?)?;
/// root.symlink("/etc/app", "link")?;
/// // The absolute symlink is followed inside the root, never to the host's /etc.
/// let file = root.create("link/config", OFlags::WRONLY, Mode::from_raw_mode(0o644)?)?;
/// assert!(root.metadata("../../etc/app/config").is_ok());
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Root {
    fd: OwnedFd,
    resolve: ResolveFlags,
    resolver: Resolver,
}

impl Root {
    /// Opens `path` (`O_PATH|O_DIRECTORY|O_CLOEXEC`, following symlinks) as a root.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an empty path or one with a NUL byte;
    /// [`Error::Syscall`] if the open fails (`ENOTDIR` when it is not a directory).
    ///
    /// # References
    ///
    /// - [open(2)](https://man7.org/linux/man-pages/man2/open.2.html)
    pub fn new(path: impl AsRef<Path>) -> Result<Root> {
        let path = path.as_ref();
        check("root path", path)?;
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = rustix::fs::open(path, flags, rustix::fs::Mode::empty()).map_err(|e| {
            Error::sys(e, || {
                Call::new(
                    "open",
                    format_args!("{path:?}, {}", OFlagsDisplay::of(flags)),
                )
            })
        })?;
        Ok(Root::from(fd))
    }

    /// Uses an open directory fd as a root, after checking it is a directory.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `fd` is not a directory; [`Error::Syscall`] if
    /// `fstat` fails.
    pub fn from_fd(fd: impl Into<OwnedFd>) -> Result<Root> {
        let fd = fd.into();
        let st = rustix::fs::fstat(&fd).map_err(|e| {
            Error::sys(e, || {
                Call::new("fstat", format_args!("fd {}", fd.as_raw_fd()))
            })
        })?;
        let ty = FileType::from_raw_mode(st.st_mode);
        if ty != FileType::Directory {
            return Err(Error::invalid(
                "root fd",
                format!("fd {} ({ty:?})", fd.as_raw_fd()),
                "is not a directory",
                libc::ENOTDIR,
            ));
        }
        Ok(Root::from(fd))
    }

    /// Selects the resolver (the default is [`Resolver::Auto`]).
    pub fn with_resolver(mut self, resolver: Resolver) -> Self {
        self.resolver = resolver;
        self
    }

    /// Sets the `RESOLVE_*` flags every lookup uses. `IN_ROOT` is implied unless
    /// `BENEATH` is given; `CACHED` makes each lookup try the dentry cache first and
    /// fall back to a full lookup on a miss (the userspace resolver ignores it).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for unknown bits or for `BENEATH` with `IN_ROOT`.
    pub fn with_resolve_flags(mut self, flags: ResolveFlags) -> Result<Self> {
        if !flags.unknown().is_empty() {
            return Err(Error::invalid(
                "resolve flags",
                format!("{flags:?}"),
                "has bits this crate does not know",
                libc::EINVAL,
            ));
        }
        if flags.contains(ResolveFlags::BENEATH | ResolveFlags::IN_ROOT) {
            return Err(Error::invalid(
                "resolve flags",
                format!("{flags:?}"),
                "has both BENEATH and IN_ROOT",
                libc::EINVAL,
            ));
        }
        self.resolve = if flags.contains(ResolveFlags::BENEATH) {
            flags
        } else {
            flags | ResolveFlags::IN_ROOT
        };
        Ok(self)
    }

    /// Strict mode: `RESOLVE_BENEATH` instead of `RESOLVE_IN_ROOT`, so a `..` above
    /// the root, an absolute path or an absolute symlink is an [`Error::Escape`]
    /// rather than being clamped to the root. Other flags are kept.
    pub fn strict(mut self) -> Self {
        self.resolve = (self.resolve - ResolveFlags::IN_ROOT) | ResolveFlags::BENEATH;
        self
    }

    /// The `RESOLVE_*` flags lookups use.
    pub fn resolve_flags(&self) -> ResolveFlags {
        self.resolve
    }

    /// The resolver this root was configured with.
    pub fn resolver(&self) -> Resolver {
        self.resolver
    }

    /// Duplicates the root (its fd and settings).
    ///
    /// # Errors
    ///
    /// [`Error::Syscall`] if the fd table is full.
    pub fn try_clone(&self) -> Result<Root> {
        Ok(Root {
            fd: dup(self.fd.as_fd())?,
            resolve: self.resolve,
            resolver: self.resolver,
        })
    }

    /// `openat2(root, path, { flags, mode, resolve })`: the general form of every
    /// lookup below, with the root's resolve flags and resolver. `O_CLOEXEC` is
    /// always added; `how`'s own resolve flags are added to the root's.
    ///
    /// # Errors
    ///
    /// See [`openat2`](crate::openat2); also [`Error::InvalidArgument`] for an empty
    /// path, a NUL byte, a path longer than `PATH_MAX` or a component longer than
    /// `NAME_MAX`, and for everything the kernel's `openat2` refuses with `EINVAL`,
    /// so that both resolvers refuse it alike before any call: unknown
    /// `O_*`/`RESOLVE_*` bits (any beyond the low 32 of `flags`), a mode without
    /// `O_CREAT`/`O_TMPFILE` or outside `0o7777`, `O_PATH` with flags other than
    /// `O_DIRECTORY`/`O_NOFOLLOW`, `O_TMPFILE` without write access, `O_CREAT` with
    /// `O_DIRECTORY`; a non-zero [`OpenHow::field`] (errno `E2BIG`: the resolvers
    /// know the first version's fields only);
    /// [`Error::SafetyViolation`] when the userspace resolver kept seeing the tree
    /// move under it; [`Error::Raced`] when the kernel did, 64 times in a row.
    ///
    /// # References
    ///
    /// - [openat2(2)](https://man7.org/linux/man-pages/man2/openat2.2.html)
    pub fn open_with(&self, path: impl AsRef<Path>, how: &OpenHow) -> Result<OwnedFd> {
        let extra = how.resolve_flags();
        let all = self.resolve | extra;
        if !extra.unknown().is_empty()
            || all.contains(ResolveFlags::BENEATH | ResolveFlags::IN_ROOT)
        {
            return Err(Error::invalid(
                "resolve flags",
                format!("{extra:?}"),
                "has unknown bits or conflicts with the root's BENEATH/IN_ROOT scope",
                libc::EINVAL,
            ));
        }
        if let Some((offset, value)) = how.set_fields().next() {
            return Err(Error::invalid(
                "open_how field",
                format!("at byte offset {offset} = {value:#x}"),
                "is not supported by Root (its resolvers know flags, mode and resolve only)",
                libc::E2BIG,
            ));
        }
        self.open_how(path.as_ref(), how.resolve(all))
    }

    /// Opens a file inside the root: like `std::fs::OpenOptions::open` with these
    /// `O_*` flags, but resolved inside the root (the last symlink is followed unless
    /// `O_NOFOLLOW`). Use [`create`](Root::create) to create with a mode.
    ///
    /// # Errors
    ///
    /// As [`open_with`](Root::open_with).
    ///
    /// # References
    ///
    /// - [openat2(2)](https://man7.org/linux/man-pages/man2/openat2.2.html)
    #[inline]
    pub fn open(&self, path: impl AsRef<Path>, flags: OFlags) -> Result<File> {
        self.open_raw(path.as_ref(), flags, Mode::empty(), self.resolve)
            .map(File::from)
    }

    /// Opens a directory inside the root for reading (`O_RDONLY|O_DIRECTORY`).
    ///
    /// # Errors
    ///
    /// As [`open_with`](Root::open_with); `ENOTDIR` if it is not a directory.
    pub fn open_dir(&self, path: impl AsRef<Path>) -> Result<OwnedFd> {
        self.open_raw(
            path.as_ref(),
            OFlags::RDONLY | OFlags::DIRECTORY,
            Mode::empty(),
            self.resolve,
        )
    }

    /// Opens or creates a file inside the root (`O_CREAT` added to `flags`): like
    /// `std::fs::File::create`, but resolved inside the root. A dangling symlink as
    /// the last component is followed inside the root and its target created, unless
    /// `O_EXCL` (then `EEXIST`) or `O_NOFOLLOW` (then `ELOOP`).
    ///
    /// # Errors
    ///
    /// As [`open_with`](Root::open_with).
    pub fn create(&self, path: impl AsRef<Path>, flags: OFlags, mode: Mode) -> Result<File> {
        self.open_raw(path.as_ref(), flags | OFlags::CREATE, mode, self.resolve)
            .map(File::from)
    }

    /// Resolves `path` inside the root to an `O_PATH` [`Handle`], following a final
    /// symlink.
    ///
    /// # Errors
    ///
    /// As [`open_with`](Root::open_with).
    #[inline]
    pub fn resolve(&self, path: impl AsRef<Path>) -> Result<Handle> {
        self.open_raw(path.as_ref(), OFlags::PATH, Mode::empty(), self.resolve)
            .map(Handle::from)
    }

    /// Like [`resolve`](Root::resolve) but a final symlink is not followed: the
    /// handle names the symlink itself.
    ///
    /// # Errors
    ///
    /// As [`open_with`](Root::open_with).
    pub fn resolve_nofollow(&self, path: impl AsRef<Path>) -> Result<Handle> {
        self.open_raw(
            path.as_ref(),
            OFlags::PATH | OFlags::NOFOLLOW,
            Mode::empty(),
            self.resolve,
        )
        .map(Handle::from)
    }

    /// `fstat` of `path` resolved inside the root, following a final symlink: like
    /// `std::fs::metadata`.
    ///
    /// # Errors
    ///
    /// As [`open_with`](Root::open_with).
    pub fn metadata(&self, path: impl AsRef<Path>) -> Result<Stat> {
        self.resolve(path)?.metadata()
    }

    /// Like [`metadata`](Root::metadata) without following a final symlink: like
    /// `std::fs::symlink_metadata`.
    ///
    /// # Errors
    ///
    /// As [`open_with`](Root::open_with).
    pub fn symlink_metadata(&self, path: impl AsRef<Path>) -> Result<Stat> {
        self.resolve_nofollow(path)?.metadata()
    }

    /// `readlinkat(parent, name)`: the target of the symlink `path` names inside the
    /// root (its parent resolved inside the root), as stored; it is not resolved.
    /// Like `std::fs::read_link`.
    ///
    /// # Errors
    ///
    /// As [`open_with`](Root::open_with) for the parent; `EINVAL` if it is not a
    /// symlink; [`Error::InvalidArgument`] if the path ends in `.` or `..`.
    ///
    /// # References
    ///
    /// - [readlinkat(2)](https://man7.org/linux/man-pages/man2/readlinkat.2.html)
    pub fn readlink(&self, path: impl AsRef<Path>) -> Result<PathBuf> {
        let path = path.as_ref();
        let (parent, name) = self.parent(path)?;
        let target = rustix::fs::readlinkat(&parent, name, Vec::new())
            .map_err(|e| at_error(e, "readlinkat", &parent, path, name, format_args!("buf")))?;
        Ok(PathBuf::from(OsStr::from_bytes(target.as_bytes())))
    }

    /// `mkdirat(parent, name, mode)`: creates one directory inside the root (its
    /// parent must exist): like `std::fs::create_dir`.
    ///
    /// # Errors
    ///
    /// As [`open_with`](Root::open_with) for the parent; [`Error::Syscall`] from
    /// `mkdirat` (`EEXIST`...); [`Error::InvalidArgument`] if the path ends in `.`/`..`.
    ///
    /// # References
    ///
    /// - [mkdirat(2)](https://man7.org/linux/man-pages/man2/mkdirat.2.html)
    pub fn mkdir(&self, path: impl AsRef<Path>, mode: Mode) -> Result<()> {
        let path = path.as_ref();
        check_mkdir_mode(mode)?;
        let (parent, name) = self.parent(path)?;
        rustix::fs::mkdirat(&parent, name, mode.to_rustix()).map_err(|e| {
            at_error(
                e,
                "mkdirat",
                &parent,
                path,
                name,
                format_args!("{:#o}", mode.as_raw_mode()),
            )
        })
    }

    /// Creates `path` and every missing directory above it, inside the root, and
    /// returns a handle to the last one: like `std::fs::create_dir_all`, as runtimes
    /// do for mount targets.
    ///
    /// Each directory is made with `mkdirat` relative to the fd of the directory
    /// resolved before it; an existing entry (`EEXIST`) is accepted only if it
    /// resolves, inside the root, to a directory. Symlinks are followed inside the
    /// root; a dangling one has its target created (at most 40 of them).
    ///
    /// # Errors
    ///
    /// As [`open_with`](Root::open_with); `ENOTDIR` if a component is not a directory.
    ///
    /// # References
    ///
    /// - [mkdirat(2)](https://man7.org/linux/man-pages/man2/mkdirat.2.html)
    pub fn mkdir_all(&self, path: impl AsRef<Path>, mode: Mode) -> Result<Handle> {
        let path = path.as_ref();
        check("path", path)?;
        check_mkdir_mode(mode)?;
        let dir_flags = OFlags::PATH | OFlags::DIRECTORY;
        match self.open_raw(path, dir_flags, Mode::empty(), self.resolve) {
            Ok(fd) => return Ok(Handle::from(fd)),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(e),
        }
        if path.as_os_str().as_bytes().first() == Some(&b'/')
            && self.resolve.contains(ResolveFlags::BENEATH)
        {
            // BENEATH refuses absolute paths: let the resolver say so.
            return self
                .open_raw(path, dir_flags, Mode::empty(), self.resolve)
                .map(Handle::from);
        }
        let top = || {
            PathBuf::from(if self.resolve.contains(ResolveFlags::BENEATH) {
                "."
            } else {
                "/"
            })
        };
        let mut cur = dup(self.fd.as_fd())?;
        // `logical` is where `cur` is, inside the root; `todo` the components left, last first.
        let mut logical = top();
        let mut todo: Vec<Vec<u8>> = components(path.as_os_str().as_bytes());
        let mut links = 0;
        while let Some(comp) = todo.pop() {
            let name = OsStr::from_bytes(&comp);
            if comp != b".." {
                match rustix::fs::mkdirat(&cur, name, mode.to_rustix()) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => {
                        return Err(at_error(
                            e,
                            "mkdirat",
                            &cur,
                            path,
                            name,
                            format_args!("{:#o}", mode.as_raw_mode()),
                        ));
                    }
                }
            }
            logical.push(name);
            match self.open_raw(&logical, dir_flags, Mode::empty(), self.resolve) {
                Ok(fd) => cur = fd,
                // A dangling symlink: create its target, inside the root.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) && comp != b".." => {
                    let Ok(target) = rustix::fs::readlinkat(&cur, name, Vec::new()) else {
                        return Err(e);
                    };
                    links += 1;
                    if links > fallback::MAX_SYMLINKS {
                        return Err(e);
                    }
                    logical.pop();
                    let target = target.as_bytes();
                    if target.first() == Some(&b'/') {
                        logical = top();
                        cur = self.open_raw(&logical, dir_flags, Mode::empty(), self.resolve)?;
                    }
                    todo.extend(components(target));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Handle::from(cur))
    }

    /// Removes the file (or symlink, or other non-directory) `path` names inside
    /// the root: `unlinkat(parent, name, 0)`, like `std::fs::remove_file`. A final
    /// symlink is removed, not followed.
    ///
    /// # Errors
    ///
    /// As [`open_with`](Root::open_with) for the parent; `EISDIR` for a directory.
    ///
    /// # References
    ///
    /// - [unlinkat(2)](https://man7.org/linux/man-pages/man2/unlinkat.2.html)
    pub fn remove_file(&self, path: impl AsRef<Path>) -> Result<()> {
        self.unlink(path.as_ref(), AtFlags::empty())
    }

    /// Removes the empty directory `path` names inside the root:
    /// `unlinkat(parent, name, AT_REMOVEDIR)`, like `std::fs::remove_dir`.
    ///
    /// # Errors
    ///
    /// As [`open_with`](Root::open_with) for the parent; `ENOTEMPTY`, `ENOTDIR`.
    ///
    /// # References
    ///
    /// - [unlinkat(2)](https://man7.org/linux/man-pages/man2/unlinkat.2.html)
    pub fn remove_dir(&self, path: impl AsRef<Path>) -> Result<()> {
        self.unlink(path.as_ref(), AtFlags::REMOVEDIR)
    }

    /// Removes `path` whether it is a file or an empty directory (tries `unlinkat`
    /// and, on `EISDIR`, `unlinkat(AT_REMOVEDIR)` in the same parent fd).
    ///
    /// # Errors
    ///
    /// As [`remove_file`](Root::remove_file) and [`remove_dir`](Root::remove_dir).
    ///
    /// # References
    ///
    /// - [unlinkat(2)](https://man7.org/linux/man-pages/man2/unlinkat.2.html)
    pub fn remove(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let (parent, name) = self.parent(path)?;
        match rustix::fs::unlinkat(&parent, name, AtFlags::empty()) {
            Ok(()) => Ok(()),
            Err(Errno::ISDIR) => {
                rustix::fs::unlinkat(&parent, name, AtFlags::REMOVEDIR).map_err(|e| {
                    at_error(
                        e,
                        "unlinkat",
                        &parent,
                        path,
                        name,
                        format_args!("AT_REMOVEDIR"),
                    )
                })
            }
            Err(e) => Err(at_error(
                e,
                "unlinkat",
                &parent,
                path,
                name,
                format_args!("0"),
            )),
        }
    }

    fn unlink(&self, path: &Path, flags: AtFlags) -> Result<()> {
        let (parent, name) = self.parent(path)?;
        rustix::fs::unlinkat(&parent, name, flags).map_err(|e| {
            let f = if flags.is_empty() {
                "0"
            } else {
                "AT_REMOVEDIR"
            };
            at_error(e, "unlinkat", &parent, path, name, format_args!("{f}"))
        })
    }

    /// `renameat2(from_parent, from_name, to_parent, to_name, flags)`, both parents
    /// resolved inside the root: like `std::fs::rename`, plus `RENAME_NOREPLACE`,
    /// `RENAME_EXCHANGE` and `RENAME_WHITEOUT`. Final symlinks are renamed, not
    /// followed.
    ///
    /// # Errors
    ///
    /// As [`open_with`](Root::open_with) for the parents; [`Error::Syscall`] from
    /// `renameat2`.
    ///
    /// # References
    ///
    /// - [renameat2(2)](https://man7.org/linux/man-pages/man2/renameat2.2.html)
    pub fn rename(
        &self,
        from: impl AsRef<Path>,
        to: impl AsRef<Path>,
        flags: RenameFlags,
    ) -> Result<()> {
        let (from, to) = (from.as_ref(), to.as_ref());
        let (fp, fname) = self.parent(from)?;
        let (tp, tname) = self.parent(to)?;
        rustix::fs::renameat_with(&fp, fname, &tp, tname, flags).map_err(|e| {
            Error::sys(e, || {
                Call::new(
                    "renameat2",
                    format_args!(
                        "fd {} (parent of {from:?}), {fname:?}, fd {} (parent of {to:?}), {tname:?}, {:#x}",
                        fp.as_raw_fd(),
                        tp.as_raw_fd(),
                        flags.bits()
                    ),
                )
            })
        })
    }

    /// `symlinkat(target, parent, name)`: creates the symlink `link` inside the root,
    /// pointing at `target` (stored as given; later lookups through it resolve it
    /// inside the root): like `std::os::unix::fs::symlink`.
    ///
    /// # Errors
    ///
    /// As [`open_with`](Root::open_with) for the parent; [`Error::InvalidArgument`]
    /// for an empty target or one with a NUL byte; `EEXIST`.
    ///
    /// # References
    ///
    /// - [symlinkat(2)](https://man7.org/linux/man-pages/man2/symlinkat.2.html)
    pub fn symlink(&self, target: impl AsRef<Path>, link: impl AsRef<Path>) -> Result<()> {
        let (target, link) = (target.as_ref(), link.as_ref());
        check("symlink target", target)?;
        let (parent, name) = self.parent(link)?;
        rustix::fs::symlinkat(target, &parent, name).map_err(|e| {
            Error::sys(e, || {
                Call::new(
                    "symlinkat",
                    format_args!(
                        "{target:?}, fd {} (parent of {link:?}), {name:?}",
                        parent.as_raw_fd()
                    ),
                )
            })
        })
    }

    /// `linkat(old_parent, old_name, new_parent, new_name, 0)`: creates the hard link
    /// `new` to `existing`, both inside the root: like `std::fs::hard_link`. A final
    /// symlink in `existing` is linked itself, not followed.
    ///
    /// # Errors
    ///
    /// As [`open_with`](Root::open_with) for the parents; `EEXIST`, `EXDEV` across
    /// filesystems, `EPERM` for a directory.
    ///
    /// # References
    ///
    /// - [linkat(2)](https://man7.org/linux/man-pages/man2/linkat.2.html)
    pub fn hardlink(&self, existing: impl AsRef<Path>, new: impl AsRef<Path>) -> Result<()> {
        let (existing, new) = (existing.as_ref(), new.as_ref());
        let (ep, ename) = self.parent(existing)?;
        let (np, nname) = self.parent(new)?;
        rustix::fs::linkat(&ep, ename, &np, nname, AtFlags::empty()).map_err(|e| {
            Error::sys(e, || {
                Call::new(
                    "linkat",
                    format_args!(
                        "fd {} (parent of {existing:?}), {ename:?}, fd {} (parent of {new:?}), {nname:?}, 0",
                        ep.as_raw_fd(),
                        np.as_raw_fd()
                    ),
                )
            })
        })
    }

    /// The parent directory of `path`, resolved inside the root, and the last name.
    fn parent<'p>(&self, path: &'p Path) -> Result<(OwnedFd, &'p OsStr)> {
        check("path", path)?;
        let (parent, name) = split_parent("path", path)?;
        let fd = self.open_raw(
            parent,
            OFlags::PATH | OFlags::DIRECTORY,
            Mode::empty(),
            self.resolve,
        )?;
        Ok((fd, name))
    }

    #[inline]
    fn open_raw(
        &self,
        path: &Path,
        flags: OFlags,
        mode: Mode,
        resolve: ResolveFlags,
    ) -> Result<OwnedFd> {
        self.open_how(path, OpenHow::new(flags).mode(mode).resolve(resolve))
    }

    /// Every lookup comes here: checks, then the kernel or the userspace resolver.
    #[inline]
    fn open_how(&self, path: &Path, how: OpenHow) -> Result<OwnedFd> {
        check("path", path)?;
        check_open(&how)?;
        let dirfd = self.fd.as_fd();
        match self.resolver {
            Resolver::Fallback => fallback::open(dirfd, path, &how),
            Resolver::Kernel => kernel_open(dirfd, path, &how),
            Resolver::Auto if kernel_has_openat2() => match kernel_open(dirfd, path, &how) {
                Err(Error::Unsupported { .. }) => fallback::open(dirfd, path, &how),
                res => res,
            },
            Resolver::Auto => fallback::open(dirfd, path, &how),
        }
    }
}

/// The components of a path that matter to mkdir_all (not empty, not `.`), last first.
fn components(path: &[u8]) -> Vec<Vec<u8>> {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .rev()
        .map(<[u8]>::to_vec)
        .collect()
}

/// Refuses what the kernel's `openat2` refuses with `EINVAL` (unknown `O_*` bits,
/// a mode without `O_CREAT`/`O_TMPFILE` or outside `0o7777`, `O_PATH` or
/// `O_TMPFILE` with flags they do not allow, `O_CREAT|O_DIRECTORY`...), naming the
/// input, so that both resolvers refuse the same inputs before anything is done.
#[inline]
fn check_open(how: &OpenHow) -> Result<()> {
    match refusal(how) {
        None => Ok(()),
        Some(r) => Err(Error::InvalidArgument {
            name: r.field,
            value: r.shown(),
            reason: r.reason,
            errno: libc::EINVAL,
        }),
    }
}

/// Refuses mode bits outside `S_IALLUGO`, which `mkdirat` would drop silently.
fn check_mkdir_mode(mode: Mode) -> Result<()> {
    if !mode.unknown().is_empty() {
        return Err(Error::invalid(
            "mode",
            format!("{mode:?}"),
            "has bits outside S_IALLUGO (0o7777)",
            libc::EINVAL,
        ));
    }
    Ok(())
}

/// The kernel path: `RESOLVE_CACHED` first if asked and the open needs no I/O (a miss, or `EINVAL` from a
/// kernel before 5.12, falls through to a full lookup), then the full lookup,
/// retried on `EAGAIN` (a rename or mount raced with `..`) up to
/// [`MAX_EAGAIN_RETRIES`] times.
#[inline]
fn kernel_open(dirfd: BorrowedFd<'_>, path: &Path, how: &OpenHow) -> Result<OwnedFd> {
    // O_CREAT, O_TRUNC and O_TMPFILE always miss the cache: go straight to the full lookup.
    let needs_io = how.open_flags().intersects(OFlags::CREATE | OFlags::TRUNC)
        || how.open_flags().contains(OFlags::TMPFILE);
    if how.resolve_flags().contains(ResolveFlags::CACHED) && !needs_io {
        match raw_openat2(dirfd, path, how) {
            Ok(fd) => return Ok(fd),
            Err(Errno::AGAIN | Errno::INVAL) => {}
            Err(Errno::NOSYS) => return Err(unsupported()),
            Err(e) => return Err(openat2_error(e, dirfd, path, how)),
        }
    }
    let how = how.resolve(how.resolve_flags() - ResolveFlags::CACHED);
    for _ in 0..MAX_EAGAIN_RETRIES {
        match raw_openat2(dirfd, path, &how) {
            Ok(fd) => return Ok(fd),
            Err(Errno::AGAIN) => continue,
            Err(e) => return Err(openat2_error(e, dirfd, path, &how)),
        }
    }
    Err(Error::Raced {
        call: openat2_call(dirfd, path, &how),
        attempts: MAX_EAGAIN_RETRIES,
    })
}

#[cold]
fn at_error(
    e: Errno,
    op: &'static str,
    parent: &OwnedFd,
    path: &Path,
    name: &OsStr,
    last: fmt::Arguments<'_>,
) -> Error {
    Error::sys(e, || {
        Call::new(
            op,
            format_args!(
                "fd {} (parent of {}), {:?}, {last}",
                parent.as_raw_fd(),
                show(path.as_os_str().as_bytes()),
                name
            ),
        )
    })
}

impl AsFd for Root {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Takes the fd as it is (not checked to be a directory: lookups then fail with
/// `ENOTDIR`); see [`Root::from_fd`] for the checked form.
impl From<OwnedFd> for Root {
    fn from(fd: OwnedFd) -> Self {
        Root {
            fd,
            resolve: ResolveFlags::IN_ROOT,
            resolver: Resolver::Auto,
        }
    }
}

impl From<Root> for OwnedFd {
    fn from(root: Root) -> Self {
        root.fd
    }
}

impl fmt::Debug for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Root")
            .field("fd", &self.fd.as_raw_fd())
            .field("resolve", &self.resolve)
            .field("resolver", &self.resolver)
            .finish()
    }
}
