//! The container child between `clone3` and `execve`: runs the prepared steps by
//! calling the feature crates' child-safe forms and rustix. Nothing here
//! allocates, takes a lock or unwinds: every string, fd and program was prepared by
//! the parent ([`crate::lower`]), and a failure is reported as (step, errno, kernel
//! log) ([`crate::protocol`]) before `_exit(127)`.
#![forbid(unsafe_code)]

use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use linception_mountapi::{
    FsContext, LogCapture, Mount, MountAttr, MountSetattr, MoveMountFlags, OpenTreeFlags,
    Propagation, SetattrFlags,
};
use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::protocol::{MessageBuf, RELEASE};
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

/// `mount_setattr("/", AT_RECURSIVE, {propagation})`: the whole copied tree; or
/// `mount(2)` with `MS_REC` before Linux 5.12.
fn tree_propagation(propagation: Propagation) -> Res {
    let set = MountSetattr::new().propagation(propagation);
    let r = pretend_enosys().and_then(|()| {
        linception_mountapi::mount_setattr(CWD, c"/", SetattrFlags::RECURSIVE, &set).errno()
    });
    match r {
        // mount_setattr is Linux 5.12: fall back to mount(2).
        Err(libc::ENOSYS) => {
            use rustix::mount::MountPropagationFlags as F;
            let flag = match propagation {
                Propagation::Private => F::PRIVATE,
                Propagation::Slave => F::DOWNSTREAM,
                Propagation::Shared => F::SHARED,
                Propagation::Unbindable => F::UNBINDABLE,
            };
            rustix::mount::mount_change(c"/", F::REC | flag).errno()
        }
        r => r,
    }
}

/// Takes a mount of the old root out of reach before a move-and-chroot root
/// change: detached, or, when the kernel keeps it locked to its parent (a mount
/// inherited by a new user namespace's mount namespace: `EINVAL`; `EPERM`),
/// covered by an empty read-only tmpfs, as runc does. A mount point gone already
/// (under one detached before) is fine.
fn hide_mount(path: &CStr) -> Res {
    use rustix::mount::UnmountFlags;
    match rustix::mount::unmount(path, UnmountFlags::DETACH) {
        Ok(()) | Err(Errno::NOENT) => return Ok(()),
        Err(Errno::INVAL | Errno::PERM) => {}
        Err(e) => return Err(e.raw_os_error()),
    }
    let mut ctx = FsContext::open(c"tmpfs").errno()?;
    ctx.set_log_capture(LogCapture::Leave);
    ctx.create().errno()?;
    let attr = MountAttr::RDONLY | MountAttr::NOSUID | MountAttr::NODEV | MountAttr::NOEXEC;
    ctx.mount(attr).errno()?.attach(path).errno()
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

/// Brings `lo` up in the child's network namespace: one rtnetlink `RTM_NEWLINK`
/// request (`IFF_UP` on interface index 1, which the kernel gives the loopback of
/// every network namespace, `LOOPBACK_IFINDEX`), and its acknowledgement. Built on
/// the stack, no allocation.
fn loopback_up() -> Res {
    use rustix::net::netlink::SocketAddrNetlink;
    use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
    const RTM_NEWLINK: u16 = 16;
    const NLM_F_REQUEST: u16 = 1;
    const NLM_F_ACK: u16 = 4;
    const NLMSG_ERROR: u16 = 2;
    const IFF_UP: u32 = 1;
    const LOOPBACK_IFINDEX: i32 = 1;
    let sock = rustix::net::socket_with(
        AddressFamily::NETLINK,
        SocketType::RAW,
        SocketFlags::CLOEXEC,
        None, // NETLINK_ROUTE
    )
    .errno()?;
    // struct nlmsghdr (16 bytes), then struct ifinfomsg (16 bytes), native-endian.
    let mut msg = [0u8; 32];
    msg[0..4].copy_from_slice(&32u32.to_ne_bytes());
    msg[4..6].copy_from_slice(&RTM_NEWLINK.to_ne_bytes());
    msg[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    msg[8..12].copy_from_slice(&1u32.to_ne_bytes()); // sequence number
    msg[16] = libc::AF_UNSPEC as u8;
    msg[20..24].copy_from_slice(&LOOPBACK_IFINDEX.to_ne_bytes());
    msg[24..28].copy_from_slice(&IFF_UP.to_ne_bytes()); // ifi_flags
    msg[28..32].copy_from_slice(&IFF_UP.to_ne_bytes()); // ifi_change
    let kernel = SocketAddrNetlink::new(0, 0);
    rustix::net::sendto(&sock, &msg, SendFlags::empty(), &kernel).errno()?;
    // The answer: struct nlmsgerr, the error (0 or -errno) after the header.
    let mut ack = [0u8; 64];
    let (n, _) = loop {
        match rustix::net::recv(&sock, &mut ack, RecvFlags::empty()) {
            Err(Errno::INTR) => continue,
            r => break r.errno()?,
        }
    };
    let kind = u16::from_ne_bytes([ack[4], ack[5]]);
    if n < 20 || kind != NLMSG_ERROR {
        return Err(libc::EPROTO);
    }
    match i32::from_ne_bytes([ack[16], ack[17], ack[18], ack[19]]) {
        0 => Ok(()),
        e => Err(-e),
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

/// The child's state: the fds it made, where it reports, and the message buffer.
struct Child<'s, 'f> {
    slots: &'s mut [Held],
    report_fd: ReportFd<'f>,
    report: MessageBuf,
    /// A profiled spawn's timestamps, by [`crate::profile::Mark`].
    marks: [u64; crate::protocol::MARKS],
}

/// Runs `steps` in order; never returns (the last step execs, a failure exits 127
/// after reporting the step, with its label from `labels`).
pub(crate) fn run(
    steps: &[Step<'_>],
    labels: &[String],
    slots: &mut [Held],
    report_fd: BorrowedFd<'_>,
) -> ! {
    let mut child = Child {
        slots,
        report_fd: ReportFd::Borrowed(report_fd),
        report: MessageBuf::new(),
        marks: [0; crate::protocol::MARKS],
    };
    for (i, step) in steps.iter().enumerate() {
        if let Err(errno) = child.step(step) {
            let label = labels.get(i).map_or("", String::as_str);
            child.fail(i, label, errno);
        }
    }
    // No Exec step (cannot happen: a plan always ends with one).
    child.fail(steps.len(), "", libc::EINVAL)
}

/// Writes all of `bytes` (a message is small: one write, retried on EINTR).
fn send(fd: &impl AsFd, bytes: &[u8]) -> Res {
    let mut sent = 0;
    while sent < bytes.len() {
        match rustix::io::write(fd, &bytes[sent..]) {
            Ok(0) => return Err(libc::EPIPE),
            Ok(n) => sent += n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.raw_os_error()),
        }
    }
    Ok(())
}

impl Child<'_, '_> {
    fn fail(&mut self, step: usize, label: &str, errno: i32) -> ! {
        let bytes = self.report.failed(step, label, errno);
        let _ = send(&self.report_fd, bytes);
        sys::exit(127)
    }

    /// Waits for the parent's release byte on `sync` (EOF: the parent gave up).
    fn wait_release(sync: BorrowedFd<'_>) -> Res {
        loop {
            let mut byte = [0u8; 1];
            match rustix::io::read(sync, &mut byte) {
                Err(Errno::INTR) => continue,
                Ok(1) if byte[0] == RELEASE => return Ok(()),
                Ok(_) => return Err(libc::ECANCELED),
                Err(e) => return Err(e.raw_os_error()),
            }
        }
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
        linception_openat2::openat2_cstr(root, path, &how).errno()
    }

    /// `mkdirat(name)` in `parent`, resolved inside the root; EEXIST is fine.
    fn mkdir_in_root(&self, parent: &CStr, name: &CStr, mode: Mode) -> Res {
        let dir = self.open_in_root(parent, OFlags::DIRECTORY)?;
        match rustix::fs::mkdirat(&dir, name, mode) {
            Err(Errno::EXIST) => Ok(()),
            r => r.errno(),
        }
    }

    /// Opens `path` inside the root, following symlinks inside it; `None` when it
    /// does not exist (masked and read-only paths skip it).
    fn existing_in_root(&self, path: &CStr) -> Res<Option<OwnedFd>> {
        match self.open_in_root(path, OFlags::empty()) {
            Err(libc::ENOENT) => Ok(None),
            r => r.map(Some),
        }
    }

    /// [`Step::Mask`]: an empty read-only tmpfs on a directory, the host's
    /// `/dev/null` on anything else.
    fn mask(&mut self, target: &CStr, null: Slot) -> Res {
        let Some(at) = self.existing_in_root(target)? else {
            return Ok(());
        };
        let stat = rustix::fs::fstat(&at).errno()?;
        let mount = if FileType::from_raw_mode(stat.st_mode) == FileType::Directory {
            let mut ctx = FsContext::open(c"tmpfs").errno()?;
            ctx.set_log_capture(LogCapture::Leave);
            let attr = MountAttr::RDONLY | MountAttr::NOSUID | MountAttr::NODEV | MountAttr::NOEXEC;
            let mounted = match ctx.create() {
                Ok(()) => ctx.mount(attr),
                Err(e) => Err(e),
            };
            match mounted {
                Ok(m) => m,
                Err(e) => {
                    self.keep_log(&ctx);
                    return Err(e.raw_os_error().unwrap_or(libc::EINVAL));
                }
            }
        } else {
            let Held::Mount(m) = self.take(null) else {
                return Err(libc::EBADF);
            };
            m
        };
        mount
            .attach_at(&at, c"", MoveMountFlags::T_EMPTY_PATH)
            .errno()
    }

    /// [`Step::CopyUp`]: the root's directory at `target` into the tmpfs in `slot`.
    fn copy_up(&self, slot: Slot, target: &CStr, root_mode: bool) -> Res {
        let Some(at) = self.existing_in_root(target)? else {
            return Ok(());
        };
        let dir = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let src = rustix::fs::openat(&at, c".", dir, Mode::empty()).errno()?;
        let dst = rustix::fs::openat(self.mount(slot)?, c".", dir, Mode::empty()).errno()?;
        crate::copy_up::copy_contents(src.as_fd(), dst.as_fd(), 0).errno()?;
        if root_mode {
            let st = rustix::fs::fstat(&src).errno()?;
            rustix::fs::fchmod(&dst, Mode::from_raw_mode(st.st_mode & 0o7777)).errno()?;
        }
        Ok(())
    }

    fn step(&mut self, step: &Step<'_>) -> Res {
        match step {
            Step::UnblockSignals => sys::reset_signals(),
            Step::Mark { mark } => {
                self.marks[*mark as usize] = crate::profile::now();
                if *mark == crate::profile::Mark::Execve {
                    let bytes = self.report.phases(&self.marks);
                    send(&self.report_fd, bytes)?;
                }
                Ok(())
            }
            Step::WaitForParent { fd } => Self::wait_release(*fd),
            Step::Pause { sync } => {
                let bytes = self.report.paused();
                send(&self.report_fd, bytes)?;
                Self::wait_release(*sync)
            }
            Step::AwaitStart {
                listener,
                keep,
                close,
            } => {
                let own = |fd: BorrowedFd<'_>| rustix::fd::AsRawFd::as_raw_fd(&fd);
                let keepers = [
                    own(*listener),
                    own(self.report_fd.as_fd()),
                    keep.map_or(-1, own),
                ];
                for &(first, last) in close {
                    sys::close_range_except(first, last, &keepers)?;
                }
                let bytes = self.report.created();
                send(&self.report_fd, bytes)?;
                let conn = loop {
                    match rustix::net::accept_with(listener, rustix::net::SocketFlags::CLOEXEC) {
                        Err(Errno::INTR) => continue,
                        r => break r.errno()?,
                    }
                };
                // From now on failures go to the starter, who holds the other end.
                self.report_fd = ReportFd::Moved(conn);
                Ok(())
            }
            Step::TimeNamespace { offsets } => {
                sys::unshare(libc::CLONE_NEWTIME as u32)?;
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
            Step::PrivateRoot => tree_propagation(Propagation::Private),
            Step::SlaveRoot => tree_propagation(Propagation::Slave),
            Step::SetPropagation {
                slot,
                recursive,
                propagation,
            } => {
                pretend_enosys()?;
                let attr = MountSetattr::new().propagation(*propagation);
                let mount = self.mount(*slot)?;
                if *recursive {
                    mount.set_attr_recursive(&attr).errno()
                } else {
                    mount.set_attr(&attr).errno()
                }
            }
            Step::RootPropagation { propagation } => {
                pretend_enosys()?;
                let set = MountSetattr::new().propagation(*propagation);
                linception_mountapi::mount_setattr(CWD, c"/", SetattrFlags::empty(), &set).errno()
            }
            Step::Mask { target, null } => self.mask(target, *null),
            Step::ReadOnlyPath { target } => {
                let Some(at) = self.existing_in_root(target)? else {
                    return Ok(());
                };
                let tree = linception_mountapi::open_tree(
                    &at,
                    c"",
                    OpenTreeFlags::CLONE | OpenTreeFlags::RECURSIVE | OpenTreeFlags::EMPTY_PATH,
                )
                .errno()?;
                pretend_enosys()?;
                tree.set_attr_recursive(&MountSetattr::new().set(MountAttr::RDONLY))
                    .errno()?;
                tree.attach_at(&at, c"", MoveMountFlags::T_EMPTY_PATH)
                    .errno()
            }
            Step::Mknod {
                parent,
                name,
                kind,
                mode,
                dev,
                owner,
                or_bind,
            } => {
                let dir = self.open_in_root(parent, OFlags::DIRECTORY)?;
                match (
                    rustix::fs::mknodat(&dir, name.as_c_str(), *kind, *mode, *dev),
                    or_bind,
                ) {
                    (Err(Errno::PERM), Some(host)) => return bind_node(&dir, name, host),
                    (r, _) => r.errno()?,
                }
                rustix::fs::chmodat(&dir, name.as_c_str(), *mode, AtFlags::empty()).errno()?;
                if let Some((uid, gid)) = owner {
                    rustix::fs::chownat(
                        &dir,
                        name.as_c_str(),
                        Some(*uid),
                        Some(*gid),
                        AtFlags::SYMLINK_NOFOLLOW,
                    )
                    .errno()?;
                }
                Ok(())
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
                clear,
            } => {
                pretend_enosys()?;
                let attr = MountSetattr::new().set(*set).clear(*clear);
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
            Step::CopyUp {
                slot,
                target,
                root_mode,
            } => self.copy_up(*slot, target, *root_mode),
            Step::AttachAtHost { slot, path } => self.mount(*slot)?.attach(path.as_c_str()).errno(),
            Step::Mkdir { parent, name, mode } => self.mkdir_in_root(parent, name, *mode),
            Step::Mkfile { parent, name } => {
                let dir = self.open_in_root(parent, OFlags::DIRECTORY)?;
                make_file(&dir, name).map(drop)
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
            Step::MoveRoot { hide, on_slash } => {
                for path in hide {
                    hide_mount(path)?;
                }
                let Held::Mount(root) = self.take(ROOT) else {
                    return Err(libc::EBADF);
                };
                rustix::process::fchdir(&root).errno()?;
                if !*on_slash {
                    root.attach(c"/").errno()?;
                }
                drop(root);
                rustix::process::chroot(c".").errno()?;
                rustix::process::chdir(c"/").errno()
            }
            Step::EnterRoot { root } => {
                let (want, now) = (
                    rustix::fs::fstat(root).errno()?,
                    rustix::fs::stat(c"/").errno()?,
                );
                if (want.st_dev, want.st_ino) == (now.st_dev, now.st_ino) {
                    return Ok(());
                }
                rustix::process::fchdir(root).errno()?;
                rustix::process::chroot(c".").errno()?;
                rustix::process::chdir(c"/").errno()
            }
            Step::Chroot { dir } => {
                // The directory the mounts were made beneath, when there are some.
                match self.take(ROOT) {
                    Held::Mount(root) => {
                        rustix::process::fchdir(&root).errno()?;
                        rustix::process::chroot(c".").errno()?;
                    }
                    _ => rustix::process::chroot(dir.as_c_str()).errno()?,
                }
                rustix::process::chdir(c"/").errno()
            }
            Step::JoinNamespaces { pidfd, flags } => sys::join_namespaces(*pidfd, *flags),
            Step::JoinNamespace { fd, nstype } => sys::join_namespaces(*fd, *nstype),
            Step::Unshare { flags } => sys::unshare(*flags),
            Step::TellParent { fd } => match rustix::io::write(fd, &[RELEASE]).errno()? {
                1 => Ok(()),
                _ => Err(libc::EIO),
            },
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
            Step::Domainname { name } => rustix::system::setdomainname(name.to_bytes()).errno(),
            Step::Sysctl { path, value } | Step::ExecLabel { path, value } => {
                let fd = rustix::fs::open(
                    path.as_c_str(),
                    OFlags::WRONLY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .errno()?;
                match rustix::io::write(&fd, value).errno()? {
                    n if n == value.len() => Ok(()),
                    _ => Err(libc::EIO),
                }
            }
            Step::LoopbackUp => loopback_up(),
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
            Step::Landlock { ruleset } => sys::landlock_restrict_self(*ruleset),
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
            Step::CpuAffinity { cpus } => rustix::thread::sched_setaffinity(None, cpus).errno(),
            Step::IoPriority { ioprio } => sys::ioprio_set(*ioprio),
            Step::Scheduler { attr } => sys::sched_setattr(attr),
            Step::Terminal { sock, size } => {
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
                if let Some((rows, cols)) = *size {
                    let size = rustix::termios::Winsize {
                        ws_row: rows,
                        ws_col: cols,
                        ws_xpixel: 0,
                        ws_ypixel: 0,
                    };
                    rustix::termios::tcsetwinsize(&peer, size).errno()?;
                }
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

/// The host's node `host` bound on a new empty file `name` in `dir` (a node the
/// kernel refused to create). The host tree is still in view: the nodes are made
/// before the root changes.
fn bind_node(dir: &OwnedFd, name: &CStr, host: &CStr) -> Res {
    let file = make_file(dir, name)?;
    let tree = linception_mountapi::open_tree(CWD, host, OpenTreeFlags::CLONE).errno()?;
    tree.attach_at(&file, c"", MoveMountFlags::T_EMPTY_PATH)
        .errno()
}

/// An empty file `name` in `dir`, to bind something on (an existing one is
/// opened; a symlink there is refused).
fn make_file(dir: &OwnedFd, name: &CStr) -> Res<OwnedFd> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::CREATE | OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::from_raw_mode(0o644),
    )
    .errno()
}
