//! linception: safe Rust for the Linux kernel's modern container features.
//!
//! Each feature lives in a crate of its own that can be used alone; this umbrella
//! crate re-exports them as modules, and composes them into a container spawn:
//! [`Container::builder`] is a `std::process::Command`-like builder that starts a
//! program in new namespaces (rootless or as root), with id maps, a root filesystem
//! assembled with the new mount API, `pivot_root`, capabilities, a seccomp filter
//! and a fresh session keyring.
//!
//! # Safe by default
//!
//! `Container::builder(program).spawn()` with no other call gives a container, not
//! a host process: new user, mount, pid, uts, ipc, net and cgroup namespaces
//! ([`Namespaces::DEFAULT`]), with uid and gid 0 inside mapped to the caller's own
//! ids outside, so it works unprivileged and holds no privilege over the host.
//! Sharing a namespace with the host is an explicit call,
//! [`share`](ContainerBuilder::share) (`.share(Namespaces::NET)`), or an exact set
//! with [`namespaces`](ContainerBuilder::namespaces). Every value is checked in
//! [`spawn`](ContainerBuilder::spawn) before anything is created; none is silently
//! accepted or ignored.
//!
//! ```no_run
//! use linception::{Container, Mount, RootFs};
//!
//! let mut c = Container::builder("/bin/sh")
//!     .args(["-c", "id; hostname"])
//!     .hostname("demo")
//!     .root(RootFs::Tmpfs)
//!     .mount(Mount::bind("/usr", "/usr").read_only().recursive())
//!     .mount(Mount::symlink("usr/bin", "/bin"))
//!     .mount(Mount::symlink("usr/lib", "/lib"))
//!     .mount(Mount::symlink("usr/lib64", "/lib64"))
//!     .mount(Mount::proc("/proc"))
//!     .spawn()?;
//! let status = c.wait()?;
//! assert!(status.success());
//! # Ok::<(), linception::Error>(())
//! ```
//!
//! A namespace can also be joined instead of created
//! ([`join`](ContainerBuilder::join): a path such as `/var/run/netns/web`, an nsfs
//! fd, another container's pidfd). A new network namespace gets its `lo` up
//! ([`loopback`](ContainerBuilder::loopback)); sysctls of the container's own
//! namespaces are written inside ([`sysctl`](ContainerBuilder::sysctl)); the
//! program can be confined with a [`Landlock`] ruleset, an AppArmor profile or an
//! SELinux label where the module is active, and capability sets are checked
//! against the kernel's rules before anything is created.
//!
//! The program's process gets what [`std::process::Command`] and a runtime's
//! config give it: resource limits ([`rlimit`](ContainerBuilder::rlimit)),
//! [`umask`](ContainerBuilder::umask), an
//! [`oom_score_adj`](ContainerBuilder::oom_score_adj), a
//! [`parent_death_signal`](ContainerBuilder::parent_death_signal), a
//! [`personality`](ContainerBuilder::personality), and a new session with a
//! controlling [`terminal`](ContainerBuilder::terminal) whose master comes back
//! to the caller ([`Container::take_terminal`]) or goes to a console socket.
//!
//! The child between `clone3` and `execve` allocates nothing and takes no lock (the
//! parent prepares every string, fd and BPF program, and a fixed list of steps), so
//! spawning from a multithreaded program is safe. A failed step comes back as an
//! [`Error::Setup`] naming it ("mount proc on /proc: Operation not permitted
//! (EPERM)"), with nothing left behind.
//!
//! | module | crate | feature | since |
//! |---|---|---|---|
//! | [`pidfd`](mod@pidfd) | `linception-pidfd` | pidfds, `clone3` with `set_tid` | Linux 5.3 |
//! | [`mountapi`](mod@mountapi) | `linception-mountapi` | the new mount API, idmapped mounts, `statmount` | Linux 5.2 / 5.12 / 6.8 |
//! | [`openat2`](mod@openat2) | `linception-openat2` | resolution inside a root with `RESOLVE_*` | Linux 5.6 |
//! | [`userns`](mod@userns) | `linception-userns` | extent-based uid/gid maps | Linux 4.15 |
//! | [`seccomp_notify`](mod@seccomp_notify) | `linception-seccomp-notify` | seccomp filters, user notification | Linux 5.0 / 5.5 |
//! | [`keyring_ns`](mod@keyring_ns) | `linception-keyring-ns` | keyctl, per-container keyrings | Linux 5.3 |
//! | [`features`](mod@features) | `linception-probe` | which of these the running kernel offers | any |
//!
//! With the `tokio` cargo feature, [`Container::wait_async`] waits for a container
//! without blocking a thread, and [`Seccomp::on_notify_async`] serves seccomp
//! notifications on the runtime.
//!
//! A container can be born in a cgroup v2 directory ([`Cgroup`], `CLONE_INTO_CGROUP`)
//! with its [`Resources`] (memory, pids, cpu, cpuset, io, hugetlb limits) written
//! first; the handle then pauses and resumes it through `cgroup.freeze`
//! ([`Container::pause`], Linux 5.2), changes its limits live
//! ([`Container::update`]) and reads its usage ([`Container::cgroup_stats`]).
//! A device list ([`Resources::devices`], [`DeviceRule`]) becomes an eBPF cgroup
//! device program, compiled in the parent, loaded and attached to the cgroup before
//! `clone3`, and replaced atomically on update. A handle found by id
//! ([`ContainerId::open`]) knows the container's cgroup from `/proc/PID/cgroup`, so
//! a later process can pause, update or signal every process of it
//! ([`Container::signal_all`]).
//!
//! The spawn itself needs Linux 5.9 (`clone3` with `CLONE_PIDFD`, `close_range`,
//! `openat2`, the new mount API; the mount namespace is made private with
//! `mount_setattr` from 5.12, with `mount(2)` before); read-only binds and
//! idmapped binds need 5.12, `Container::namespace` 6.11.
//!
//! # The filesystem
//!
//! Inside the [`root`](ContainerBuilder::root), in this order: every [`Mount`]
//! (binds, new filesystems, [`Mount::dev`] with the OCI default device set), the extra
//! [`Device`]s, the [`mask_path`](ContainerBuilder::mask_path)s and
//! [`read_only_path`](ContainerBuilder::read_only_path)s (a path missing from the root
//! is skipped, as OCI runtimes do), then the root made read-only
//! ([`read_only_root`](ContainerBuilder::read_only_root)), `pivot_root`, and the
//! root's [`Propagation`] ([`root_propagation`](ContainerBuilder::root_propagation);
//! each mount has its own, [`Mount::propagation`]). Every path is resolved inside the
//! root (`RESOLVE_IN_ROOT`). A mount option the filesystem refuses comes back as an
//! [`Error::Setup`] naming the mount and the option, with the kernel's message:
//! `mount tmpfs on /t: fsconfig size=lots: Invalid argument (EINVAL) [kernel: e tmpfs:
//! Bad value for 'size']`.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The `landlock` crate, whose types ([`AccessFs`](landlock::AccessFs),
/// [`ABI`](landlock::ABI)) describe a [`Landlock`] ruleset.
#[doc(inline)]
pub use ::landlock;
#[doc(inline)]
pub use linception_keyring_ns as keyring_ns;
#[doc(inline)]
pub use linception_mountapi as mountapi;
#[doc(inline)]
pub use linception_openat2 as openat2;
#[doc(inline)]
pub use linception_pidfd as pidfd;
#[doc(inline)]
pub use linception_seccomp_notify as seccomp_notify;
#[doc(inline)]
pub use linception_userns as userns;

pub mod features;
pub use features::features;

mod builder;
mod caps;
mod cgroup;
mod cgroup_device;
mod child;
mod container;
mod copy_up;
mod device;
mod error;
mod inherited;
mod landlock_ruleset;
mod lifecycle;
mod lower;
mod lsm;
mod mount;
mod process;
mod procfs;
mod profile;
mod protocol;
mod resources;
mod seccomp;
mod spawn;
mod step;
#[allow(unsafe_code)]
mod sys;
mod template;
mod validate;

pub use builder::{
    ContainerBuilder, IdMapping, Loopback, Namespaces, NsSource, RootChange, RootFs,
    SessionKeyring, StateInfo, Stdio,
};
pub use caps::{CapSet, Capabilities};
pub use cgroup::Cgroup;
pub use cgroup_device::{DeviceAccess, DeviceRule, device_program_loaded, device_programs};
pub use container::Container;
pub use device::{Device, DeviceKind};
pub use error::{Errno, Error, ErrorKind, Result};
pub use inherited::inherited_fds;
pub use landlock_ruleset::{Landlock, LandlockReport};
pub use lifecycle::{ContainerId, Hook, HookFn, HookPoint, HookState, State};
pub use linception_mountapi::{Atime, MountAttr, Propagation};
pub use linception_pidfd::{ExitStatus, NamespaceType, Pid, PidFd, Signal};
pub use mount::{Mount, detach_mounts_beneath};
pub use process::{
    CpuList, IoClass, IoPriority, Personality, RLIM_INFINITY, Resource, SchedFlags, SchedPolicy,
    Scheduler, Terminal,
};
pub use profile::SpawnProfile;
pub use resources::{BlockDevice, CgroupStats, CpuStat, IoMax, Limit, Resources};
pub use seccomp::{NotifyHandler, Seccomp};
pub use template::Template;

/// Test hook: every spawn copies the caller's memory for its child (the fallback
/// of the child that shares it), so that both are tested. Not for production use.
#[doc(hidden)]
pub fn __force_copying_clone(on: bool) {
    spawn::FORCE_COPYING_CLONE.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Test hook: the container child behaves as if `mount_setattr` were missing
/// (`ENOSYS`), so that its `mount(2)` fallback and its `Unsupported` report run on
/// a new kernel. Not for production use.
#[doc(hidden)]
pub fn __pretend_mount_setattr_enosys(on: bool) {
    child::PRETEND_MOUNT_SETATTR_ENOSYS.store(on, std::sync::atomic::Ordering::Relaxed);
}

impl ContainerBuilder {
    /// Starts the container: checks the builder, prepares everything in the parent,
    /// `clone3`s the child with the namespaces, writes its id maps, lets it run its
    /// setup steps and waits until it has `execve`d the program.
    ///
    /// # Errors
    /// - [`Error::InvalidArgument`] (or [`Error::Seccomp`], [`Error::IdMap`]) for a
    ///   bad builder value, before anything is created;
    /// - [`Error::Setup`] naming the child's step that failed;
    /// - [`Error::Syscall`] for a parent-side call (clone3, a map write...).
    /// - [`Error::Unsupported`] when a step needs a system call this kernel lacks
    ///   (`ENOSYS`), naming the feature and the first kernel that has it.
    ///
    /// On any failure the child is killed through its pidfd and reaped, the cgroup
    /// the spawn created is removed; mounts lived in the child's mount namespace and
    /// are gone with it. A cleanup failure is returned with the first error
    /// ([`Error::Cleanup`]).
    pub fn spawn(self) -> Result<Container> {
        spawn::spawn(self)
    }

    /// Creates the container without starting it (the OCI `create`): everything
    /// [`spawn`](ContainerBuilder::spawn) does up to, but not including, the
    /// program's `execve` (namespaces, maps, mounts, `pivot_root`, identity, fds,
    /// the `createRuntime` and `createContainer` hooks), with the init then waiting
    /// on a unix socket bound at `start_socket` (which must not exist yet). Start it
    /// with [`Container::start`], from this handle or, after
    /// [`Container::detach`], from any process that can reach the socket
    /// ([`ContainerId::open`]). See the [`lifecycle`](crate::State) states.
    ///
    /// ```no_run
    /// use linception::{Container, ContainerId};
    ///
    /// // One process creates and leaves it...
    /// let created = Container::builder("/bin/echo").arg("hello").create("/run/box.sock")?;
    /// let id: ContainerId = created.detach().expect("a created container has an id");
    /// let saved = id.to_string();
    /// // ...another finds it, starts it and waits for it.
    /// let mut c = saved.parse::<ContainerId>()?.open()?;
    /// c.start()?;
    /// c.wait()?;
    /// # Ok::<(), linception::Error>(())
    /// ```
    ///
    /// # Errors
    /// As for `spawn`; the socket path is refused when it exists or is relative. A
    /// path longer than a unix socket address holds (107 bytes) is bound and
    /// connected to through its directory (`/proc/self/fd/N/name`), so only its
    /// file name must be short (80 bytes).
    pub fn create(self, start_socket: impl AsRef<std::path::Path>) -> Result<Container> {
        spawn::create(self, start_socket.as_ref())
    }
}

/// The README's examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
