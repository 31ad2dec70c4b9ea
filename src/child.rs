//! The container child between `clone3` and `execve`: runs the prepared steps by
//! calling the feature crates' child-safe forms and rustix. Nothing here
//! allocates, takes a lock or unwinds: every string, fd and program was prepared by
//! the parent ([`crate::lower`]), and a failure is reported as (step, errno, kernel
//! log) ([`crate::protocol`]) before `_exit(127)`.
#![forbid(unsafe_code)]

use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, Ordering};

use linception_mountapi::{
    FsContext, LogCapture, Mount, MountSetattr, MoveMountFlags, Propagation, SetattrFlags,
};
use rustix::fs::{CWD, Mode, OFlags};
use rustix::io::Errno;

use crate::protocol::{RELEASE, ReportBuf};
use crate::step::{Held, ROOT, Slot, Step};
use crate::sys;

/// Test hook: makes the child's `mount_setattr` calls fail with `ENOSYS`, to
/// exercise the fallbacks on a kernel that has it.
pub(crate) static PRETEND_MOUNT_SETATTR_ENOSYS: AtomicBool = AtomicBool::new(false);

/// An errno, the child's whole error vocabulary.
type Res<T = ()> = Result<T, i32>;

fn pretend_enosys() -> Res {
    if PRETEND_MOUNT_SETATTR_ENOSYS.load(Ordering::Relaxed) {
        Err(libc::ENOSYS)
    } else {
        Ok(())
    }
}

/// The errno of a feature crate's error (EINVAL for a refusal without one, which
/// the parent's validation makes unreachable).
trait Errnos<T> {
    fn errno(self) -> Res<T>;
}

impl<T> Errnos<T> for Result<T, Errno> {
    fn errno(self) -> Res<T> {
        self.map_err(|e| e.raw_os_error())
    }
}

impl<T> Errnos<T> for linception_mountapi::Result<T> {
    fn errno(self) -> Res<T> {
        self.map_err(|e| e.raw_os_error().unwrap_or(libc::EINVAL))
    }
}

impl<T> Errnos<T> for linception_openat2::Result<T> {
    fn errno(self) -> Res<T> {
        self.map_err(|e| e.raw_os_error().unwrap_or(libc::EINVAL))
    }
}

impl<T> Errnos<T> for linception_seccomp_notify::Result<T> {
    fn errno(self) -> Res<T> {
        self.map_err(|e| e.raw_os_error().unwrap_or(libc::EINVAL))
    }
}

/// Capability bits as rustix's set (every bit kept, known to rustix or not).
fn caps(bits: u64) -> rustix::thread::CapabilitySet {
    rustix::thread::CapabilitySet::from_bits_retain(bits)
}

/// The report pipe: borrowed from the plan, or a copy moved above the fds the
/// program gets.
enum ReportFd<'f> {
    Borrowed(BorrowedFd<'f>),
    Moved(OwnedFd),
}

impl AsFd for ReportFd<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            ReportFd::Borrowed(fd) => *fd,
            ReportFd::Moved(fd) => fd.as_fd(),
        }
    }
}

/// The child's state: the fds it made, where it reports, and the report itself.
struct Child<'s, 'f> {
    slots: &'s mut [Held],
    report_fd: ReportFd<'f>,
    report: ReportBuf,
}

/// Runs `steps` in order; never returns (the last step execs, a failure exits 127).
pub(crate) fn run(steps: &[Step<'_>], slots: &mut [Held], report_fd: BorrowedFd<'_>) -> ! {
    let mut child = Child {
        slots,
        report_fd: ReportFd::Borrowed(report_fd),
        report: ReportBuf::new(),
    };
    for (i, step) in steps.iter().enumerate() {
        if let Err(errno) = child.step(step) {
            child.fail(i, errno);
        }
    }
    // No Exec step (cannot happen: a plan always ends with one).
    child.fail(steps.len(), libc::EINVAL)
}

impl Child<'_, '_> {
    fn fail(&mut self, step: usize, errno: i32) -> ! {
        let bytes = self.report.encode(step, errno);
        let _ = rustix::io::write(&self.report_fd, bytes);
        sys::exit(127)
    }

    fn take(&mut self, slot: Slot) -> Held {
        self.slots
            .get_mut(slot.0)
            .map(std::mem::take)
            .unwrap_or_default()
    }

    fn put(&mut self, slot: Slot, held: Held) -> Res {
        match self.slots.get_mut(slot.0) {
            Some(s) => {
                *s = held;
                Ok(())
            }
            None => Err(libc::EBADF),
        }
    }

    fn mount(&self, slot: Slot) -> Res<&Mount> {
        match self.slots.get(slot.0) {
            Some(Held::Mount(m)) => Ok(m),
            _ => Err(libc::EBADF),
        }
    }

    fn context(&self, slot: Slot) -> Res<&FsContext> {
        match self.slots.get(slot.0) {
            Some(Held::Context(c)) => Ok(c),
            _ => Err(libc::EBADF),
        }
    }

    /// Keeps the kernel's first message of a failed fs context for the report.
    fn keep_log(&mut self, ctx: &FsContext) {
        let len = ctx.read_log_into(self.report.log_space()).unwrap_or(0);
        self.report.set_log_len(len);
    }

    /// Opens `path` inside the root (`RESOLVE_IN_ROOT`) as an `O_PATH` fd.
    fn open_in_root(&self, path: &CStr, flags: OFlags) -> Res<OwnedFd> {
        let root = self.mount(ROOT)?;
        let path = if path.is_empty() { c"." } else { path };
        let how = linception_openat2::OpenHow::new(OFlags::PATH | OFlags::CLOEXEC | flags)
            .resolve(linception_openat2::ResolveFlags::IN_ROOT);
        linception_openat2::openat2(
            root,
            std::path::Path::new(std::ffi::OsStr::from_bytes(path.to_bytes())),
            &how,
        )
        .errno()
    }

    /// `mkdirat(name)` in `parent`, resolved inside the root; EEXIST is fine.
    fn mkdir_in_root(&self, parent: &CStr, name: &CStr, mode: Mode) -> Res {
        let dir = self.open_in_root(parent, OFlags::DIRECTORY)?;
        match rustix::fs::mkdirat(&dir, name, mode) {
            Err(Errno::EXIST) => Ok(()),
            r => r.errno(),
        }
    }

    fn step(&mut self, step: &Step<'_>) -> Res {
        match step {
            Step::UnblockSignals => sys::reset_signals(),
            Step::WaitForParent { fd } => loop {
                let mut byte = [0u8; 1];
                match rustix::io::read(fd, &mut byte) {
                    Err(Errno::INTR) => continue,
                    Ok(1) if byte[0] == RELEASE => return Ok(()),
                    // EOF or anything else: the parent gave up (it kills us anyway).
                    Ok(_) => return Err(libc::ECANCELED),
                    Err(e) => return Err(e.raw_os_error()),
                }
            },
            Step::TimeNamespace { offsets } => {
                sys::unshare_time_namespace()?;
                let fd = rustix::fs::open(
                    c"/proc/self/timens_offsets",
                    OFlags::WRONLY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .errno()?;
                match rustix::io::write(&fd, offsets).errno()? {
                    n if n == offsets.len() => Ok(()),
                    _ => Err(libc::EIO),
                }
            }
            Step::PrivateRoot => {
                let set = MountSetattr::new().propagation(Propagation::Private);
                let r = pretend_enosys().and_then(|()| {
                    linception_mountapi::mount_setattr(CWD, c"/", SetattrFlags::RECURSIVE, &set)
                        .errno()
                });
                match r {
                    // mount_setattr is Linux 5.12: fall back to mount(2).
                    Err(libc::ENOSYS) => rustix::mount::mount_change(
                        c"/",
                        rustix::mount::MountPropagationFlags::REC
                            | rustix::mount::MountPropagationFlags::PRIVATE,
                    )
                    .errno(),
                    r => r,
                }
            }
            Step::OpenTree {
                source,
                flags,
                slot,
            } => {
                let tree =
                    linception_mountapi::open_tree(CWD, source.as_c_str(), *flags).errno()?;
                self.put(*slot, Held::Mount(tree))
            }
            Step::ReceiveTree { sock, slot } => {
                let fd = linception_seccomp_notify::recv_fd(sock).errno()?;
                self.put(*slot, Held::Mount(Mount::from(fd)))
            }
            Step::SetAttr {
                slot,
                recursive,
                set,
            } => {
                pretend_enosys()?;
                let attr = MountSetattr::new().set(*set);
                let mount = self.mount(*slot)?;
                if *recursive {
                    mount.set_attr_recursive(&attr).errno()
                } else {
                    mount.set_attr(&attr).errno()
                }
            }
            Step::FsOpen { fstype, slot } => {
                let mut ctx = FsContext::open(fstype.as_c_str()).errno()?;
                ctx.set_log_capture(LogCapture::Leave);
                self.put(*slot, Held::Context(ctx))
            }
            Step::FsConfig { slot, key, value } => {
                let ctx = self.context(*slot)?;
                let r = match value {
                    Some(v) => ctx.set_string(key.as_c_str(), v.as_c_str()),
                    None => ctx.set_flag(key.as_c_str()),
                };
                if let Err(e) = r {
                    let held = self.take(*slot);
                    if let Held::Context(ctx) = &held {
                        self.keep_log(ctx);
                    }
                    return Err(e.raw_os_error().unwrap_or(libc::EINVAL));
                }
                Ok(())
            }
            Step::FsMount { slot, attr } => {
                let Held::Context(ctx) = self.take(*slot) else {
                    return Err(libc::EBADF);
                };
                let mounted = match ctx.create() {
                    Ok(()) => ctx.mount(*attr),
                    Err(e) => Err(e),
                };
                match mounted {
                    Ok(mount) => self.put(*slot, Held::Mount(mount)),
                    Err(e) => {
                        self.keep_log(&ctx);
                        Err(e.raw_os_error().unwrap_or(libc::EINVAL))
                    }
                }
            }
            Step::AttachAtHost { slot, path } => self.mount(*slot)?.attach(path.as_c_str()).errno(),
            Step::Mkdir { parent, name, mode } => self.mkdir_in_root(parent, name, *mode),
            Step::Mkfile { parent, name } => {
                let dir = self.open_in_root(parent, OFlags::DIRECTORY)?;
                rustix::fs::openat(
                    &dir,
                    name.as_c_str(),
                    OFlags::CREATE | OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                    Mode::from_raw_mode(0o644),
                )
                .errno()
                .map(drop)
            }
            Step::Symlink {
                parent,
                name,
                points_to,
            } => {
                let dir = self.open_in_root(parent, OFlags::DIRECTORY)?;
                match rustix::fs::symlinkat(points_to.as_c_str(), &dir, name.as_c_str()) {
                    Err(Errno::EXIST) => Ok(()),
                    r => r.errno(),
                }
            }
            Step::Attach {
                slot,
                target,
                create,
            } => {
                let target = match (self.open_in_root(target, OFlags::empty()), create) {
                    (Err(libc::ENOENT), Some((parent, name, mode))) => {
                        self.mkdir_in_root(parent, name, *mode)?;
                        self.open_in_root(target, OFlags::empty())?
                    }
                    (r, _) => r?,
                };
                let Held::Mount(mount) = self.take(*slot) else {
                    return Err(libc::EBADF);
                };
                mount
                    .attach_at(&target, c"", MoveMountFlags::T_EMPTY_PATH)
                    .errno()
            }
            Step::PivotRoot => {
                let Held::Mount(root) = self.take(ROOT) else {
                    return Err(libc::EBADF);
                };
                rustix::process::fchdir(&root).errno()?;
                drop(root);
                rustix::process::pivot_root(c".", c".").errno()?;
                rustix::mount::unmount(c".", rustix::mount::UnmountFlags::DETACH).errno()?;
                rustix::process::chdir(c"/").errno()
            }
            Step::JoinNamespaces { pidfd, flags } => sys::join_namespaces(*pidfd, *flags),
            Step::ForkIntoParent { sock } => match sys::clone_into_parent()? {
                None => Ok(()),
                Some(pidfd) => {
                    if let Err(e) = linception_seccomp_notify::send_fd(sock, pidfd.as_fd()) {
                        // The caller cannot own it: do not leave it running.
                        let _ = linception_pidfd::pidfd_send_signal(
                            pidfd.as_fd(),
                            linception_pidfd::Signal::KILL,
                        );
                        return Err(e.raw_os_error());
                    }
                    sys::exit(0)
                }
            },
            Step::Hostname { name } => rustix::system::sethostname(name.to_bytes()).errno(),
            Step::JoinKeyring { name } => {
                // Possessor-only: other containers under the same host uid cannot
                // view, read or link this keyring (the kernel default lets them view).
                let perm = Some(linception_keyring_ns::Permission::POSSESSOR_ALL);
                linception_keyring_ns::join_session_keyring_in_child(name.as_deref(), perm)
                    .map(drop)
                    .map_err(|e| e.errno.raw_os_error())
            }
            Step::DropBounding { keep, last_cap } => {
                for cap in 0..=(*last_cap).min(63) {
                    if keep.bits() & (1 << cap) == 0 {
                        rustix::thread::remove_capability_from_bounding_set(caps(1 << cap))
                            .errno()?;
                    }
                }
                Ok(())
            }
            Step::KeepCaps => rustix::thread::set_keep_capabilities(true).errno(),
            Step::SetGroups { groups } => rustix::thread::set_thread_groups(groups).errno(),
            Step::SetGid { gid } => rustix::thread::set_thread_res_gid(*gid, *gid, *gid).errno(),
            Step::SetUid { uid } => rustix::thread::set_thread_res_uid(*uid, *uid, *uid).errno(),
            Step::Capset {
                effective,
                permitted,
                inheritable,
            } => rustix::thread::set_capabilities(
                None,
                rustix::thread::CapabilitySets {
                    effective: caps(effective.bits()),
                    permitted: caps(permitted.bits()),
                    inheritable: caps(inheritable.bits()),
                },
            )
            .errno(),
            Step::Ambient { set } => {
                for cap in 0..64u32 {
                    if set.bits() & (1u64 << cap) != 0 {
                        rustix::thread::configure_capability_in_ambient_set(caps(1 << cap), true)
                            .errno()?;
                    }
                }
                Ok(())
            }
            Step::Chdir { path } => rustix::process::chdir(path.as_c_str()).errno(),
            Step::NoNewPrivs => rustix::thread::set_no_new_privs(true).errno(),
            Step::Fds {
                moves,
                high,
                cloexec_ranges,
            } => {
                // Our own report pipe must not be overwritten by a target number.
                if rustix::fd::AsRawFd::as_raw_fd(&self.report_fd.as_fd()) < *high {
                    let moved = rustix::io::fcntl_dupfd_cloexec(&self.report_fd, *high).errno()?;
                    self.report_fd = ReportFd::Moved(moved);
                }
                sys::place_fds(moves, *high)?;
                for &(first, last) in cloexec_ranges {
                    sys::cloexec_range(first, last)?;
                }
                Ok(())
            }
            Step::Seccomp {
                program,
                flags,
                listener_sock,
            } => {
                // The seccomp crate's child form: prctl + seccomp, no allocation. The
                // no_new_privs choice was a step of its own.
                let listener = program
                    .install_raw(*flags, linception_seccomp_notify::NoNewPrivs::Keep)
                    .map_err(|e| e.raw_os_error())?;
                if let (Some(sock), Some(listener)) = (listener_sock, listener) {
                    linception_seccomp_notify::send_fd(sock, listener.as_fd())
                        .map_err(|e| e.raw_os_error())?;
                }
                Ok(())
            }
            Step::Rlimits { limits } => {
                for &(resource, current, maximum) in limits {
                    rustix::process::setrlimit(
                        resource,
                        rustix::process::Rlimit { current, maximum },
                    )
                    .errno()?;
                }
                Ok(())
            }
            Step::Umask { mask } => {
                rustix::process::umask(*mask);
                Ok(())
            }
            Step::Personality { persona } => sys::personality(*persona),
            Step::ParentDeathSignal { signal } => {
                rustix::process::set_parent_process_death_signal(Some(*signal)).errno()
            }
            Step::Terminal { sock } => {
                use rustix::pty::OpenptFlags;
                rustix::process::setsid().errno()?;
                let master = rustix::fs::open(
                    c"/dev/pts/ptmx",
                    OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .errno()?;
                rustix::pty::unlockpt(&master).errno()?;
                let peer = rustix::pty::ioctl_tiocgptpeer(
                    &master,
                    OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC,
                )
                .errno()?;
                rustix::process::ioctl_tiocsctty(&peer).errno()?;
                linception_seccomp_notify::send_fd(sock, master.as_fd()).errno()?;
                drop(master);
                // Our own report pipe must not be one of the numbers the peer takes.
                if rustix::fd::AsRawFd::as_raw_fd(&self.report_fd.as_fd()) < 3 {
                    let moved = rustix::io::fcntl_dupfd_cloexec(&self.report_fd, 3).errno()?;
                    self.report_fd = ReportFd::Moved(moved);
                }
                let peer = peer.as_fd();
                sys::place_fds(&[(peer, 0), (peer, 1), (peer, 2)], 3)
            }
            Step::Exec {
                candidates,
                argv,
                envp,
            } => {
                let mut errno = libc::ENOENT;
                for path in candidates {
                    match sys::execve(path, argv, envp) {
                        libc::ENOENT | libc::ENOTDIR => {}
                        libc::EACCES => errno = libc::EACCES,
                        e => return Err(e),
                    }
                }
                Err(errno)
            }
        }
    }
}
