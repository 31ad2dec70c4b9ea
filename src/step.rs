//! The steps the container child runs between `clone3` and `execve`: typed values
//! prepared by the parent (strings, flags, programs) and fds borrowed from the
//! spawn's [`ChildFds`](crate::lower::ChildFds), whose lifetime `'f` covers the
//! child.
#![forbid(unsafe_code)]

use std::ffi::{CString, c_char};
use std::os::fd::{BorrowedFd, RawFd};

use linception_mountapi::{FsContext, Mount, MountAttr, OpenTreeFlags, Propagation};
use linception_seccomp_notify::{FilterFlags, Program};
use rustix::fs::{FileType, Mode};
use rustix::process::{Gid, Uid};

use crate::caps::CapSet;

/// A place in the child's table of fds it makes itself (mount trees, filesystem
/// contexts), so that later steps can name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot(pub usize);

/// The slot of the root filesystem's mount.
pub(crate) const ROOT: Slot = Slot(0);

/// What a slot holds. The parent makes the table (all `Empty`); only the child
/// fills it, in its own copy of the memory.
#[derive(Debug, Default)]
pub(crate) enum Held {
    #[default]
    Empty,
    Context(FsContext),
    Mount(Mount),
}

/// One setup step. The parent lowers the builder into a list of them, with a
/// label each ([`crate::lower`]).
pub(crate) enum Step<'f> {
    /// Unblock every signal (the spawning thread may have blocked some) and put
    /// `SIGPIPE` back to its default action.
    UnblockSignals,
    /// Record the time (`CLOCK_MONOTONIC`) a profiled spawn reached this point;
    /// the last mark (just before `execve`) sends them all on the report pipe.
    Mark { mark: crate::profile::Mark },
    /// Block until the parent has written the id maps (one byte; EOF is "give up").
    WaitForParent { fd: BorrowedFd<'f> },
    /// `unshare(CLONE_NEWTIME)` and write `/proc/self/timens_offsets`: the program
    /// enters the new time namespace at `execve`.
    TimeNamespace { offsets: Vec<u8> },
    /// `mount_setattr("/", AT_RECURSIVE, {propagation: MS_PRIVATE})`, or `mount(2)`
    /// with `MS_REC | MS_PRIVATE` before Linux 5.12.
    PrivateRoot,
    /// Like `PrivateRoot` with `MS_SLAVE`: the copied tree receives the caller's
    /// mount events and sends none.
    SlaveRoot,
    /// `open_tree(AT_FDCWD, source, flags)` into a slot.
    OpenTree {
        source: CString,
        flags: OpenTreeFlags,
        slot: Slot,
    },
    /// Receive a detached mount prepared by the parent (an idmapped bind).
    ReceiveTree { sock: BorrowedFd<'f>, slot: Slot },
    /// `mount_setattr` on the mount in a slot: `attr_set` and `attr_clr` (an
    /// access-time mode is `ATIME_MASK` in `clear` and the mode in `set`).
    SetAttr {
        slot: Slot,
        recursive: bool,
        set: MountAttr,
        clear: MountAttr,
    },
    /// `mount_setattr` of a propagation type on the mount in a slot.
    SetPropagation {
        slot: Slot,
        recursive: bool,
        propagation: Propagation,
    },
    /// After `pivot_root`: `mount_setattr("/", 0, {propagation})`.
    RootPropagation { propagation: Propagation },
    /// Masks `target` (resolved inside the root; missing: skipped): a directory
    /// gets an empty read-only tmpfs, anything else the host's `/dev/null` held
    /// in `null`.
    Mask { target: CString, null: Slot },
    /// A recursive read-only bind of `target` (resolved inside the root; missing:
    /// skipped) onto itself.
    ReadOnlyPath { target: CString },
    /// `mknodat(parent, name)` inside the root, then `fchmodat` to `mode` (past the
    /// umask) and, with `owner`, `fchownat`. With `or_bind`, a refusal (`EPERM`: no
    /// `CAP_MKNOD` over the initial user namespace, or a device program above the
    /// container's cgroup) binds that host node on an empty file there instead.
    Mknod {
        parent: CString,
        name: CString,
        kind: FileType,
        mode: Mode,
        dev: u64,
        owner: Option<(Uid, Gid)>,
        or_bind: Option<CString>,
    },
    /// `fsopen(fstype)` into a slot.
    FsOpen { fstype: CString, slot: Slot },
    /// `fsconfig(FSCONFIG_SET_STRING key=value)`, or `FSCONFIG_SET_FLAG key` when
    /// `value` is `None`, on the context in a slot.
    FsConfig {
        slot: Slot,
        key: CString,
        value: Option<CString>,
    },
    /// `fsconfig(FSCONFIG_CMD_CREATE)` and `fsmount` of the context in a slot; the
    /// mount takes its place.
    FsMount { slot: Slot, attr: MountAttr },
    /// Copies the root's directory at `target` (resolved inside the root; missing:
    /// nothing to copy) into the mount in a slot, a new tmpfs not attached yet
    /// ([`crate::copy_up`]); with `root_mode`, the tmpfs's root takes the
    /// directory's mode (a missing one leaves the tmpfs's own), as runc gives it.
    CopyUp {
        slot: Slot,
        target: CString,
        root_mode: bool,
    },
    /// `move_mount` of the mount in a slot onto a host path (the root's place).
    AttachAtHost { slot: Slot, path: CString },
    /// `mkdirat(parent, name)`, `parent` resolved inside the root (EEXIST is fine).
    Mkdir {
        parent: CString,
        name: CString,
        mode: Mode,
    },
    /// Create an empty file (a bind target for a file) inside the root.
    Mkfile { parent: CString, name: CString },
    /// `symlinkat(points_to, parent, name)` inside the root (EEXIST is fine).
    Symlink {
        parent: CString,
        name: CString,
        points_to: CString,
    },
    /// `move_mount` of the mount in a slot onto `target`, resolved inside the root;
    /// with `create`, a missing target directory is made first.
    Attach {
        slot: Slot,
        target: CString,
        create: Option<(CString, CString, Mode)>,
    },
    /// `setns(fd, nstype)`: join one namespace (an nsfs fd of type `nstype`).
    JoinNamespace { fd: BorrowedFd<'f>, nstype: u32 },
    /// `unshare(flags)`: create the namespaces not joined.
    Unshare { flags: u32 },
    /// Writes one byte on `fd`: the new user namespace exists, the parent may
    /// write its id maps.
    TellParent { fd: BorrowedFd<'f> },
    /// `setns(pidfd, flags)`: join a running container's namespaces.
    JoinNamespaces { pidfd: BorrowedFd<'f>, flags: u32 },
    /// `clone3(CLONE_PARENT | CLONE_PIDFD)`: the new process (a child of the caller,
    /// in the joined pid namespace) goes on with the next steps; this helper sends
    /// its pidfd to the caller over `sock` and exits.
    ForkIntoParent { sock: BorrowedFd<'f> },
    /// A hook point: tell the parent ("paused") and wait for its release on the
    /// sync pipe, while it runs the `createRuntime`/`createContainer` hooks.
    Pause { sync: BorrowedFd<'f> },
    /// Created: close every fd in `close` but the start socket, the report channel
    /// and `keep` (a created init must not hold its creator's fds open while it
    /// waits, perhaps for long), tell the creator, then block in `accept` on the
    /// start socket; the accepted connection becomes the report channel.
    AwaitStart {
        listener: BorrowedFd<'f>,
        keep: Option<BorrowedFd<'f>>,
        close: Vec<(u32, u32)>,
    },
    /// `fchdir(root)`, `pivot_root(".", ".")`, `umount2(".", MNT_DETACH)`, `chdir("/")`.
    PivotRoot,
    /// `runc --no-pivot`'s root change: each full `proc`/`sysfs` mount point of the
    /// old tree in `hide` (outside the new root) is detached with
    /// `umount2(MNT_DETACH)` (gone already: skipped), or, where the kernel keeps it
    /// locked (`EINVAL`/`EPERM` in a user namespace), covered with an empty
    /// read-only tmpfs; then `fchdir(root)`, `move_mount(root, "", AT_FDCWD, "/",
    /// MOVE_MOUNT_F_EMPTY_PATH)` (skipped when the root is on `/` already),
    /// `chroot(".")`, `chdir("/")`.
    MoveRoot { hide: Vec<CString>, on_slash: bool },
    /// `chroot(dir)`, `chdir("/")`: the root of a container that makes no mount.
    Chroot { dir: CString },
    /// exec_in, after the joins: when `fstat(root)` is not `/` (a container that
    /// chrooted in a mount namespace it shares or joined), `fchdir(root)`,
    /// `chroot(".")`, `chdir("/")`.
    EnterRoot { root: BorrowedFd<'f> },
    /// `sethostname`.
    Hostname { name: CString },
    /// `setdomainname`.
    Domainname { name: CString },
    /// `open(path, O_WRONLY)` and one `write` of `value`: a sysctl of the child's
    /// namespaces.
    Sysctl { path: CString, value: Vec<u8> },
    /// The same for an LSM's exec attribute (`/proc/self/attr/.../exec`): the
    /// label the program gets at `execve`.
    ExecLabel { path: CString, value: Vec<u8> },
    /// `ioctl(SIOCGIFFLAGS)` then `ioctl(SIOCSIFFLAGS)` with `IFF_UP` on `lo`, through
    /// an `AF_INET` datagram socket of the new network namespace.
    LoopbackUp,
    /// `keyctl(KEYCTL_JOIN_SESSION_KEYRING, name)`, then a possessor-only mask.
    JoinKeyring { name: Option<CString> },
    /// `prctl(PR_CAPBSET_DROP)` for every capability up to `last_cap` not in `keep`.
    DropBounding { keep: CapSet, last_cap: u32 },
    /// `prctl(PR_SET_KEEPCAPS, 1)`: keep permitted capabilities across the uid change.
    KeepCaps,
    /// `setgroups`.
    SetGroups { groups: Vec<Gid> },
    /// `setresgid(gid, gid, gid)`.
    SetGid { gid: Gid },
    /// `setresuid(uid, uid, uid)`.
    SetUid { uid: Uid },
    /// `capset` (version 3).
    Capset {
        effective: CapSet,
        permitted: CapSet,
        inheritable: CapSet,
    },
    /// `prctl(PR_CAP_AMBIENT_RAISE)` for every capability in `set`.
    Ambient { set: CapSet },
    /// `chdir`.
    Chdir { path: CString },
    /// `prctl(PR_SET_NO_NEW_PRIVS, 1)`.
    NoNewPrivs,
    /// `landlock_restrict_self(ruleset, 0)` with a ruleset the parent built.
    Landlock { ruleset: BorrowedFd<'f> },
    /// Puts each source fd on its target number (first copying every source above
    /// `high`, since a source may be another's target), then marks every other fd
    /// from 3 up close-on-exec over `cloexec_ranges`.
    Fds {
        moves: Vec<(BorrowedFd<'f>, RawFd)>,
        high: RawFd,
        cloexec_ranges: Vec<(u32, u32)>,
    },
    /// `seccomp(SECCOMP_SET_MODE_FILTER)`; with a listener, sends it to the parent.
    Seccomp {
        program: Program,
        flags: FilterFlags,
        listener_sock: Option<BorrowedFd<'f>>,
    },
    /// `setrlimit` of each `(resource, soft, hard)` (`None`: `RLIM_INFINITY`).
    Rlimits {
        limits: Vec<(rustix::process::Resource, Option<u64>, Option<u64>)>,
    },
    /// `umask(mask)`.
    Umask { mask: Mode },
    /// `personality(persona)`.
    Personality { persona: u32 },
    /// `prctl(PR_SET_PDEATHSIG, signal)`.
    ParentDeathSignal { signal: rustix::process::Signal },
    /// `sched_setaffinity(0, cpus)`.
    CpuAffinity { cpus: rustix::thread::CpuSet },
    /// `ioprio_set(IOPRIO_WHO_PROCESS, 0, ioprio)`.
    IoPriority { ioprio: u16 },
    /// `sched_setattr(0, attr, 0)`.
    Scheduler { attr: crate::sys::SchedAttr },
    /// `setsid`, open `/dev/pts/ptmx` of the container's devpts, `TIOCSPTLCK`,
    /// `TIOCGPTPEER`, `TIOCSCTTY` on the peer, with `size` `TIOCSWINSZ` (rows,
    /// columns), send the master to the parent over `sock`, and make the peer fds
    /// 0, 1 and 2.
    Terminal {
        sock: BorrowedFd<'f>,
        size: Option<(u16, u16)>,
    },
    /// `execve` of each candidate path in turn (a PATH search prepared by the parent).
    Exec {
        candidates: Vec<CString>,
        argv: Vec<*const c_char>,
        envp: Vec<*const c_char>,
    },
}

impl Step<'_> {
    /// The kernel feature a step needs, for an `ENOSYS` report: (feature, since).
    pub(crate) fn feature(&self) -> Option<(&'static str, &'static str)> {
        Some(match self {
            Step::OpenTree { .. }
            | Step::FsOpen { .. }
            | Step::FsConfig { .. }
            | Step::FsMount { .. }
            | Step::AttachAtHost { .. }
            | Step::MoveRoot { .. } => ("the new mount API", "5.2"),
            Step::SetAttr { .. }
            | Step::PrivateRoot
            | Step::SlaveRoot
            | Step::SetPropagation { .. }
            | Step::RootPropagation { .. }
            | Step::ReadOnlyPath { .. } => ("mount_setattr", "5.12"),
            Step::Mask { .. } | Step::Mknod { .. } => ("openat2", "5.6"),
            Step::Mkdir { .. }
            | Step::Mkfile { .. }
            | Step::CopyUp { .. }
            | Step::Symlink { .. }
            | Step::Attach { .. } => ("openat2", "5.6"),
            Step::TimeNamespace { .. } => ("time namespaces", "5.6"),
            Step::Fds { .. } => ("close_range", "5.9"),
            Step::JoinNamespaces { .. } => ("setns with a pidfd", "5.8"),
            Step::JoinNamespace { .. } => ("setns", "3.0"),
            Step::Unshare { .. } => ("unshare", "2.6.16"),
            Step::ForkIntoParent { .. } => ("clone3", "5.3"),
            Step::Ambient { .. } => ("ambient capabilities", "4.3"),
            Step::JoinKeyring { .. } => ("keyrings", "2.6.10"),
            Step::Seccomp { .. } => ("seccomp filters", "3.17"),
            Step::Landlock { .. } => ("Landlock", "5.13"),
            Step::Scheduler { .. } => ("sched_setattr", "3.14"),
            Step::IoPriority { .. } => ("ioprio_set", "2.6.13"),
            _ => return None,
        })
    }
}
