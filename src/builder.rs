//! The container builder: records what the container should look like.
#![forbid(unsafe_code)]

use std::ffi::{OsStr, OsString};
use std::os::fd::{OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use crate::caps::Capabilities;
use crate::cgroup::Cgroup;
use crate::device::Device;
use crate::mount::Mount;
use crate::seccomp::Seccomp;

bitflags::bitflags! {
    /// The namespaces a container gets, named after their `CLONE_NEW*` flag.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Namespaces: u64 {
        /// `CLONE_NEWUSER`: its own uids/gids and capabilities (Linux 3.8).
        const USER = libc::CLONE_NEWUSER as u64;
        /// `CLONE_NEWNS`: its own mount table (Linux 2.4.19).
        const MOUNT = libc::CLONE_NEWNS as u64;
        /// `CLONE_NEWPID`: its own pid numbers; the program is pid 1 (Linux 2.6.24).
        const PID = libc::CLONE_NEWPID as u64;
        /// `CLONE_NEWUTS`: its own hostname (Linux 2.6.19).
        const UTS = libc::CLONE_NEWUTS as u64;
        /// `CLONE_NEWIPC`: its own System V IPC and POSIX message queues (Linux 2.6.19).
        const IPC = libc::CLONE_NEWIPC as u64;
        /// `CLONE_NEWNET`: its own network stack: only a loopback, brought up unless
        /// [`ContainerBuilder::loopback`] says otherwise (Linux 2.6.29).
        const NET = libc::CLONE_NEWNET as u64;
        /// `CLONE_NEWCGROUP`: its cgroup becomes the root of its view (Linux 4.6).
        const CGROUP = libc::CLONE_NEWCGROUP as u64;
        /// `CLONE_NEWTIME`: its own `CLOCK_MONOTONIC`/`CLOCK_BOOTTIME` offsets (Linux 5.6).
        const TIME = libc::CLONE_NEWTIME as u64;
    }
}

impl Namespaces {
    /// What a builder creates unless told otherwise: every namespace but
    /// [`TIME`](Namespaces::TIME) (user, mount, pid, uts, ipc, net, cgroup), so the
    /// program is isolated from the host in every respect the kernel offers, and
    /// root inside is the caller outside.
    pub const DEFAULT: Namespaces = Namespaces::USER
        .union(Namespaces::MOUNT)
        .union(Namespaces::PID)
        .union(Namespaces::UTS)
        .union(Namespaces::IPC)
        .union(Namespaces::NET)
        .union(Namespaces::CGROUP);
}

/// How the ids of a new user namespace map to the caller's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
// An `IdMap` holds its extents inline; a builder holds two of these, once.
#[allow(clippy::large_enum_variant)]
pub enum IdMapping {
    /// The default, rootless-friendly map: id 0 inside is the caller's effective id.
    #[default]
    RootIsCaller,
    /// An explicit map. Writing more than the caller's own id needs `CAP_SETUID` /
    /// `CAP_SETGID` over the caller's namespace; without them the map goes through
    /// the setuid helpers `newuidmap`/`newgidmap`, and is checked before anything is
    /// made against their rule: each extent the caller's own id alone, or within
    /// the ranges `/etc/subuid`/`/etc/subgid` give the caller's login name.
    Map(linception_userns::IdMap),
    /// Id 0 is the caller's id, and ids 1.. are the user's ranges in `/etc/subuid`
    /// and `/etc/subgid` (read at spawn). Writing them needs `CAP_SETUID`/`CAP_SETGID`.
    SubIds {
        /// The user name (or numeric uid) to look up.
        user: String,
    },
}

/// What a standard stream of the container is connected to.
#[derive(Debug, Default)]
#[non_exhaustive]
pub enum Stdio {
    /// The caller's own stream (the default).
    #[default]
    Inherit,
    /// `/dev/null` (opened by the parent, before the container's root changes).
    Null,
    /// A pipe; the caller's end is on the [`Container`](crate::Container)
    /// (`take_stdin`, `take_stdout`, `take_stderr`).
    Piped,
    /// This fd (a file, a socket, one end of a pipe of your own).
    Fd(OwnedFd),
}

impl From<OwnedFd> for Stdio {
    fn from(fd: OwnedFd) -> Self {
        Stdio::Fd(fd)
    }
}

impl From<std::fs::File> for Stdio {
    fn from(f: std::fs::File) -> Self {
        Stdio::Fd(f.into())
    }
}

/// The root filesystem of the container.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RootFs {
    /// A host directory (bound recursively onto itself, then made the root).
    Dir(PathBuf),
    /// An empty tmpfs, to be filled with [`Mount`]s (binds of host directories...).
    Tmpfs,
}

/// How the container's root becomes its `/`, for
/// [`ContainerBuilder::root_change`].
///
/// | | new mount namespace | old root | uncovered by |
/// |---|---|---|---|
/// | [`PivotRoot`](RootChange::PivotRoot) | needed | detached | nothing: it is gone |
/// | [`MoveAndChroot`](RootChange::MoveAndChroot) | needed | beneath the new root, its proc and sysfs mounts hidden | `CAP_SYS_ADMIN` (unmounting the new root) |
/// | [`Chroot`](RootChange::Chroot) | not needed (mounts, if any, made beneath the root in the caller's) | the namespace's | `CAP_SYS_CHROOT` (a `..` walk out of a nested chroot) |
///
/// ```
/// use linception::{Container, Namespaces, RootChange, RootFs};
/// // A directory root in the caller's own mount namespace: chrooted into, no mount.
/// let b = Container::builder("/bin/sh")
///     .namespaces(Namespaces::USER | Namespaces::PID)
///     .root(RootFs::Dir("/srv/image".into()))
///     .root_change(RootChange::Chroot);
/// # let _ = b;
/// assert_eq!(RootChange::default(), RootChange::PivotRoot);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RootChange {
    /// `pivot_root(".", ".")` into the new root, then `umount2(".", MNT_DETACH)` of
    /// the old one: the old root is gone from the container's mount namespace.
    /// The default.
    #[default]
    PivotRoot,
    /// What `runc --no-pivot` does, for a caller whose own root cannot be pivoted
    /// (`pivot_root` says `EINVAL` on an initramfs/rootfs root, or when the caller's
    /// root is not a mount point): every full `proc` and `sysfs` mount of the old
    /// tree outside the new root is detached (or, where the kernel keeps it locked
    /// in a user namespace, covered by an empty read-only tmpfs, as runc does);
    /// then the new root is moved onto `/` (`move_mount(root, "", AT_FDCWD, "/",
    /// MOVE_MOUNT_F_EMPTY_PATH)`) and the child `chroot`s into it. Those mounts are
    /// read from the caller's mount table (the child's is a copy of it) when the
    /// spawn is prepared: once for a [`Template`](crate::Template).
    ///
    /// **Less secure than [`PivotRoot`](RootChange::PivotRoot)**, as runc
    /// documents its `--no-pivot`: the old root is not gone, it stays mounted
    /// beneath the new one in the container's mount namespace, and `chroot` is no
    /// security boundary. A `..` walk out of a nested chroot (`CAP_SYS_CHROOT`)
    /// comes back down the new root, which sits on the old `/`; but a process
    /// holding `CAP_SYS_ADMIN` there can unmount the new root and uncover the old
    /// one for every process that enters the namespace later, and in a new user
    /// namespace the old `proc` and `sysfs` mounts, which the kernel keeps locked,
    /// still count as "fully visible", so root of the container's user namespace
    /// may mount a fresh `proc` or `sysfs` (of its own namespaces). Keep
    /// `CAP_SYS_ADMIN` and `CAP_SYS_CHROOT` out of the container's bounding set
    /// ([`capabilities`](ContainerBuilder::capabilities)) when using it.
    MoveAndChroot,
    /// `chroot(dir)` of a [`RootFs::Dir`] in the mount namespace the container
    /// shares with the caller or [`join`](ContainerBuilder::join)s. What an OCI
    /// runtime does for a config with no new mount namespace. In the caller's own
    /// mount namespace the [`Mount`]s, masks, read-only paths and devices are made
    /// beneath `dir` there, where they outlive the container until
    /// [`detach_mounts_beneath`](crate::detach_mounts_beneath) (a spawn that fails
    /// midway detaches them); they are refused by name in a joined mount namespace
    /// (left as it is) and in a user namespace (no privilege over the caller's
    /// mount namespace). A read-only root or a root propagation is refused: the root
    /// is a directory, not a mount. Not a security boundary either: see
    /// [`MoveAndChroot`](RootChange::MoveAndChroot), and the whole mount namespace
    /// stays reachable for such a process.
    Chroot,
}

/// The state of the loopback interface `lo` of a new network namespace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Loopback {
    /// Brought up (`SIOCSIFFLAGS` with `IFF_UP`) before the program starts: the
    /// default, so that `127.0.0.1` and `::1` work inside.
    #[default]
    Up,
    /// Left down, as the kernel creates it: no network at all, not even local.
    Down,
}

/// Where a namespace to join comes from, for [`ContainerBuilder::join`].
#[derive(Debug)]
#[non_exhaustive]
pub enum NsSource {
    /// A namespace file: `/proc/<pid>/ns/net`, or a bind mount of one such as
    /// `/var/run/netns/<name>` (opened by `spawn`).
    Path(PathBuf),
    /// An open namespace (nsfs) fd: one from `/proc/<pid>/ns/*`, from
    /// [`Container::namespace`](crate::Container::namespace), from the nsfs ioctls.
    Fd(OwnedFd),
    /// The namespace of the process behind this pidfd, e.g. another container's
    /// init ([`NsSource::container`]), taken with `PIDFD_GET_*_NAMESPACE` (Linux
    /// 6.11) at spawn.
    Pidfd(linception_pidfd::PidFd),
}

impl NsSource {
    /// The namespaces of a running container, through a copy of its pidfd.
    ///
    /// # Errors
    /// Duplicating the pidfd failed (`EMFILE`).
    pub fn container(c: &crate::Container) -> crate::Result<NsSource> {
        Ok(NsSource::Pidfd(c.pidfd().try_clone()?))
    }
}

impl From<OwnedFd> for NsSource {
    fn from(fd: OwnedFd) -> Self {
        NsSource::Fd(fd)
    }
}

impl From<linception_pidfd::NamespaceFd> for NsSource {
    fn from(fd: linception_pidfd::NamespaceFd) -> Self {
        NsSource::Fd(fd.into())
    }
}

/// The names of a set of namespaces: `USER|NET`.
pub(crate) fn namespace_names(ns: Namespaces) -> String {
    let names: Vec<&str> = ns.iter_names().map(|(n, _)| n).collect();
    if names.is_empty() {
        "0".to_owned()
    } else {
        names.join("|")
    }
}

/// The [`Namespaces`] flag of a namespace type (`Pid` and `PidForChildren` are
/// both [`Namespaces::PID`], the same for time); `None` for a type this crate does
/// not know.
pub(crate) fn namespace_flag(kind: linception_pidfd::NamespaceType) -> Option<Namespaces> {
    use linception_pidfd::NamespaceType as T;
    Some(match kind {
        T::Cgroup => Namespaces::CGROUP,
        T::Ipc => Namespaces::IPC,
        T::Mnt => Namespaces::MOUNT,
        T::Net => Namespaces::NET,
        T::Pid | T::PidForChildren => Namespaces::PID,
        T::Time | T::TimeForChildren => Namespaces::TIME,
        T::User => Namespaces::USER,
        T::Uts => Namespaces::UTS,
        _ => return None,
    })
}

/// The session keyring the container starts with.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionKeyring {
    /// A new anonymous session keyring (`KEYCTL_JOIN_SESSION_KEYRING` with no name).
    Anonymous,
    /// A new session keyring with this name (names starting with "." are refused).
    Named(String),
}

/// Builds a container: like [`std::process::Command`], plus namespaces, id maps,
/// a root filesystem and a security setup. Setters only record; [`spawn`] checks
/// everything and does all the work.
///
/// ```no_run
/// use linception::{Container, Mount, Namespaces, RootFs};
///
/// let mut c = Container::builder("/bin/true")
///     .namespaces(Namespaces::USER | Namespaces::MOUNT | Namespaces::PID)
///     .root(RootFs::Tmpfs)
///     .mount(Mount::bind("/usr", "/usr").read_only().recursive())
///     .mount(Mount::symlink("usr/bin", "/bin"))
///     .mount(Mount::symlink("usr/lib", "/lib"))
///     .mount(Mount::symlink("usr/lib64", "/lib64"))
///     .spawn()?;
/// assert!(c.wait()?.success());
/// # Ok::<(), linception::Error>(())
/// ```
///
/// [`spawn`]: ContainerBuilder::spawn
#[derive(Debug)]
#[must_use]
pub struct ContainerBuilder {
    pub(crate) program: OsString,
    pub(crate) args: Vec<OsString>,
    pub(crate) env_clear: bool,
    pub(crate) env: Vec<(OsString, Option<OsString>)>,
    pub(crate) cwd: Option<PathBuf>,
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
    pub(crate) groups: Option<Vec<u32>>,
    pub(crate) namespaces: Namespaces,
    /// Whether `namespaces()` or `share()` changed the default (exec_in refuses it).
    pub(crate) namespaces_chosen: bool,
    pub(crate) monotonic_offset: Option<(i64, u32)>,
    pub(crate) boottime_offset: Option<(i64, u32)>,
    pub(crate) hostname: Option<OsString>,
    pub(crate) domainname: Option<OsString>,
    pub(crate) uid_map: IdMapping,
    pub(crate) gid_map: IdMapping,
    pub(crate) set_tid: Option<i32>,
    pub(crate) cgroup: Option<Cgroup>,
    pub(crate) root: Option<RootFs>,
    pub(crate) read_only_root: bool,
    pub(crate) root_change: RootChange,
    pub(crate) mounts: Vec<Mount>,
    pub(crate) masked_paths: Vec<PathBuf>,
    pub(crate) read_only_paths: Vec<PathBuf>,
    pub(crate) devices: Vec<Device>,
    pub(crate) root_propagation: Option<linception_mountapi::Propagation>,
    pub(crate) stdio: [Stdio; 3],
    pub(crate) fds: Vec<(RawFd, OwnedFd)>,
    pub(crate) seccomp: Option<Seccomp>,
    pub(crate) capabilities: Option<Capabilities>,
    pub(crate) no_new_privs: bool,
    pub(crate) keyring: Option<SessionKeyring>,
    pub(crate) hooks: Vec<(crate::HookPoint, crate::Hook)>,
    pub(crate) state_info: StateInfo,
    /// `None`: up when the container has a new network namespace.
    pub(crate) loopback: Option<Loopback>,
    /// Sysctls written inside, in order: (name, value).
    pub(crate) sysctls: Vec<(String, String)>,
    /// The AppArmor profile the program is executed under.
    pub(crate) apparmor_profile: Option<String>,
    /// The SELinux label (context) the program is executed with.
    pub(crate) selinux_label: Option<String>,
    /// The Landlock ruleset of the program.
    pub(crate) landlock: Option<crate::landlock_ruleset::Landlock>,
    /// Namespaces joined instead of created, in the order given.
    pub(crate) joins: Vec<(linception_pidfd::NamespaceType, NsSource)>,
    /// Limits, umask, OOM score, parent-death signal, personality, terminal.
    pub(crate) knobs: crate::process::Knobs,
    /// Record the spawn's phase times ([`ContainerBuilder::profile`]).
    pub(crate) profile: bool,
}

/// What hooks are told about the container besides its pid and status (the OCI
/// state's `id`, `bundle` and `annotations`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateInfo {
    /// The container's id.
    pub id: String,
    /// Its bundle directory.
    pub bundle: std::path::PathBuf,
    /// Its annotations, in order.
    pub annotations: Vec<(String, String)>,
}

impl ContainerBuilder {
    /// A builder for `program` (a path, or a name looked up in the container's
    /// `PATH` at exec, like [`std::process::Command::new`]).
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        ContainerBuilder {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env_clear: false,
            env: Vec::new(),
            cwd: None,
            uid: None,
            gid: None,
            groups: None,
            namespaces: Namespaces::DEFAULT,
            namespaces_chosen: false,
            monotonic_offset: None,
            boottime_offset: None,
            hostname: None,
            domainname: None,
            uid_map: IdMapping::default(),
            gid_map: IdMapping::default(),
            set_tid: None,
            cgroup: None,
            root: None,
            read_only_root: false,
            root_change: RootChange::PivotRoot,
            mounts: Vec::new(),
            masked_paths: Vec::new(),
            read_only_paths: Vec::new(),
            devices: Vec::new(),
            root_propagation: None,
            stdio: [Stdio::Inherit, Stdio::Inherit, Stdio::Inherit],
            fds: Vec::new(),
            seccomp: None,
            capabilities: None,
            no_new_privs: false,
            keyring: None,
            hooks: Vec::new(),
            state_info: StateInfo::default(),
            loopback: None,
            sysctls: Vec::new(),
            joins: Vec::new(),
            apparmor_profile: None,
            selinux_label: None,
            landlock: None,
            knobs: crate::process::Knobs::default(),
            profile: false,
        }
    }

    /// Checks and compiles this builder once for many identical containers: see
    /// [`Template`](crate::Template). Hooks, joined namespaces, a seccomp
    /// notification handler and a cgroup are refused (one container would own
    /// them).
    ///
    /// # Errors
    /// Everything [`spawn`](Self::spawn) checks before it creates anything, and
    /// the refusals above, by name.
    pub fn template(self) -> crate::Result<crate::Template> {
        crate::Template::new(self)
    }

    /// Records where the spawn's time goes: [`Container::profile`](crate::Container::profile)
    /// then returns a [`SpawnProfile`](crate::SpawnProfile) (phases from `clone3`
    /// to the maps, the release, the mounts, `pivot_root`, seccomp, `execve`, and
    /// the reap). Off by default, and then free: no extra step or system call. For
    /// [`spawn`](Self::spawn) only: a [`create`](Self::create) or a builder with
    /// hooks is refused (their `execve` happens after another process's start).
    pub fn profile(mut self) -> Self {
        self.profile = true;
        self
    }

    /// Adds an argument (like [`std::process::Command::arg`]).
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments (like [`std::process::Command::args`]).
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable (like [`std::process::Command::env`]); the
    /// container inherits the caller's environment unless [`env_clear`] is used.
    ///
    /// [`env_clear`]: ContainerBuilder::env_clear
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// Removes an environment variable (like [`std::process::Command::env_remove`]).
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Starts from an empty environment (like [`std::process::Command::env_clear`]).
    pub fn env_clear(mut self) -> Self {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// The working directory inside the container (after the root change).
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// The uid the program runs as, inside the container (default: unchanged, 0 with
    /// the default map).
    pub fn uid(mut self, uid: u32) -> Self {
        self.uid = Some(uid);
        self
    }

    /// The gid the program runs as, inside the container.
    pub fn gid(mut self, gid: u32) -> Self {
        self.gid = Some(gid);
        self
    }

    /// The supplementary groups inside the container (needs `setgroups` allowed: a
    /// privileged caller or an explicit map).
    pub fn groups(mut self, groups: impl Into<Vec<u32>>) -> Self {
        self.groups = Some(groups.into());
        self
    }

    /// Exactly the namespaces to create (`CLONE_NEW*`), replacing the default
    /// ([`Namespaces::DEFAULT`]: all but time). Every type left out is shared with
    /// the caller.
    ///
    /// ```
    /// use linception::{Container, Namespaces};
    /// // A container that keeps the host's network and cgroup view.
    /// let b = Container::builder("/bin/true").namespaces(
    ///     Namespaces::USER | Namespaces::MOUNT | Namespaces::PID | Namespaces::UTS | Namespaces::IPC,
    /// );
    /// # let _ = b;
    /// ```
    pub fn namespaces(mut self, ns: Namespaces) -> Self {
        self.namespaces = ns;
        self.namespaces_chosen = true;
        self
    }

    /// Shares these namespaces with the caller instead of creating new ones: the
    /// explicit, visible way to give a container a piece of the host
    /// (`.share(Namespaces::NET)` for the host's network).
    ///
    /// ```
    /// use linception::{Container, Namespaces};
    /// let b = Container::builder("/usr/bin/curl").share(Namespaces::NET);
    /// # let _ = b;
    /// ```
    pub fn share(mut self, ns: Namespaces) -> Self {
        self.namespaces -= ns;
        self.namespaces_chosen = true;
        self
    }

    /// A new time namespace (added to the others) whose `CLOCK_MONOTONIC` is shifted
    /// by `secs` + `nanos`.
    pub fn monotonic_offset(mut self, secs: i64, nanos: u32) -> Self {
        self.monotonic_offset = Some((secs, nanos));
        self
    }

    /// A new time namespace (added to the others) whose `CLOCK_BOOTTIME` is shifted
    /// by `secs` + `nanos`.
    pub fn boottime_offset(mut self, secs: i64, nanos: u32) -> Self {
        self.boottime_offset = Some((secs, nanos));
        self
    }

    /// The namespaces the spawn creates: the chosen set, plus a time namespace when
    /// an offset is given, less the joined ones.
    pub(crate) fn effective_namespaces(&self) -> Namespaces {
        let mut ns = self.namespaces;
        if self.monotonic_offset.is_some() || self.boottime_offset.is_some() {
            ns |= Namespaces::TIME;
        }
        ns - self.joined_namespaces()
    }

    /// The first of the builder's calls that make something beneath the root: a
    /// mount, a mask, a read-only path or a device (by its builder name).
    pub(crate) fn mounts_beneath_root(&self) -> Option<&'static str> {
        [
            (!self.mounts.is_empty(), "mounts"),
            (!self.masked_paths.is_empty(), "mask_path()"),
            (!self.read_only_paths.is_empty(), "read_only_path()"),
            (!self.devices.is_empty(), "device()"),
        ]
        .into_iter()
        .find_map(|(set, what)| set.then_some(what))
    }

    /// The types of the joined namespaces.
    pub(crate) fn joined_namespaces(&self) -> Namespaces {
        self.joins
            .iter()
            .filter_map(|(kind, _)| namespace_flag(*kind))
            .fold(Namespaces::empty(), |a, b| a | b)
    }

    /// Joins an existing namespace of type `kind` instead of creating one: a
    /// joined type is not also created, whatever
    /// [`namespaces`](ContainerBuilder::namespaces) says. The others are created
    /// after the joins, so they belong to a joined user namespace.
    ///
    /// ```no_run
    /// use linception::{Container, NamespaceType, NsSource};
    /// // A container in the network namespace `ip netns add web` made.
    /// let c = Container::builder("/bin/true")
    ///     .join(NamespaceType::Net, NsSource::Path("/var/run/netns/web".into()))
    ///     .spawn()?;
    /// # Ok::<(), linception::Error>(())
    /// ```
    ///
    /// How: with anything to join, `clone3` creates no namespace. The child joins
    /// with `setns(fd, CLONE_NEW*)` (Linux 3.0), the user namespace first (so that
    /// the others may be the ones it owns), the mount namespace last; then it
    /// creates the rest with `unshare` (a new user namespace first, its id maps
    /// written by the parent as usual). A pid namespace, joined or new, holds
    /// only children of the process that entered it: so the child then forks the
    /// container's init into it as a child of the caller (`clone3(CLONE_PARENT |
    /// CLONE_PIDFD)`), hands its pidfd to the parent and exits; the
    /// [`Container`](crate::Container) owns that init. A joined network namespace's
    /// `lo` is left as it is; sysctls need namespaces the container creates.
    ///
    /// A [`root`](ContainerBuilder::root) and [`Mount`]s in a joined mount namespace
    /// are made there, as an OCI runtime does for a mount namespace joined by path:
    /// the namespace's tree is made private (or a slave), the mounts are made in
    /// it, and `pivot_root` changes its root, which moves every process of that
    /// namespace whose root or working directory was the old root into the new one,
    /// and detaches the old root for all of them. To leave a joined namespace as it
    /// is, chroot instead ([`RootChange::Chroot`]: no mount at all).
    ///
    /// # Errors
    /// `spawn` refuses, before anything is created, naming the join: a type joined
    /// twice; a source that is not a namespace ([`Error::InvalidArgument`](crate::Error::InvalidArgument),
    /// or the pidfd crate's error for a path that cannot be opened) or one of
    /// another type; [`set_tid`](ContainerBuilder::set_tid) (the init is forked by
    /// the child); clock offsets with a joined time namespace. Joining needs
    /// `CAP_SYS_ADMIN` over the namespace's owner (`EPERM` otherwise, a
    /// [`Error::Setup`](crate::Error::Setup) naming the `setns`): rootless, join
    /// the namespaces of a container of your own together with its user namespace.
    /// `NsSource::Pidfd` needs Linux 6.11.
    ///
    /// # References
    /// - [setns(2)](https://man7.org/linux/man-pages/man2/setns.2.html),
    ///   [unshare(2)](https://man7.org/linux/man-pages/man2/unshare.2.html),
    ///   [ioctl_ns(2)](https://man7.org/linux/man-pages/man2/ioctl_ns.2.html)
    pub fn join(mut self, kind: linception_pidfd::NamespaceType, source: NsSource) -> Self {
        self.joins.push((kind, source));
        self
    }

    /// The hostname inside (needs [`Namespaces::UTS`] or a [`join`](ContainerBuilder::join)ed
    /// UTS namespace, which then takes the name).
    pub fn hostname(mut self, name: impl AsRef<OsStr>) -> Self {
        self.hostname = Some(name.as_ref().to_owned());
        self
    }

    /// The NIS domain name inside (`setdomainname(2)`, what `uname -n`'s neighbour
    /// `domainname` and `/proc/sys/kernel/domainname` show), set by the child after
    /// the root change, next to the [`hostname`](ContainerBuilder::hostname).
    ///
    /// ```
    /// use linception::Container;
    /// let b = Container::builder("/bin/true").hostname("web").domainname("example.org");
    /// # let _ = b;
    /// ```
    ///
    /// # Errors
    /// `spawn` refuses, before anything is created
    /// ([`Error::InvalidArgument`](crate::Error::InvalidArgument) naming it): a
    /// container without its own UTS namespace ([`Namespaces::UTS`]; the name would
    /// be the host's), an empty name, one longer than 64 bytes or with a NUL byte.
    /// Refused by [`exec_in`](crate::Container::exec_in).
    ///
    /// # References
    /// - [setdomainname(2)](https://man7.org/linux/man-pages/man2/setdomainname.2.html)
    pub fn domainname(mut self, name: impl AsRef<OsStr>) -> Self {
        self.domainname = Some(name.as_ref().to_owned());
        self
    }

    /// The uid map of the new user namespace (default [`IdMapping::RootIsCaller`]).
    pub fn uid_map(mut self, map: IdMapping) -> Self {
        self.uid_map = map;
        self
    }

    /// The gid map of the new user namespace (default [`IdMapping::RootIsCaller`]).
    pub fn gid_map(mut self, map: IdMapping) -> Self {
        self.gid_map = map;
        self
    }

    /// Uid and gid maps from `/etc/subuid` and `/etc/subgid` for `user`
    /// ([`IdMapping::SubIds`]).
    pub fn subid_maps(self, user: impl Into<String>) -> Self {
        let user = user.into();
        self.uid_map(IdMapping::SubIds { user: user.clone() })
            .gid_map(IdMapping::SubIds { user })
    }

    /// The pid the program gets in its new pid namespace (or, without
    /// [`Namespaces::PID`], in the caller's): `clone3`'s `set_tid`, for restore flows.
    /// Needs `CAP_CHECKPOINT_RESTORE` or `CAP_SYS_ADMIN` over that namespace.
    pub fn set_tid(mut self, pid: i32) -> Self {
        self.set_tid = Some(pid);
        self
    }

    /// Starts the container in a cgroup v2 directory (`CLONE_INTO_CGROUP`).
    pub fn cgroup(mut self, cgroup: Cgroup) -> Self {
        self.cgroup = Some(cgroup);
        self
    }

    /// The root filesystem (needs [`Namespaces::MOUNT`] or a
    /// [`join`](ContainerBuilder::join)ed mount namespace, unless the
    /// [`root_change`](ContainerBuilder::root_change) is [`RootChange::Chroot`]);
    /// the old root is detached.
    pub fn root(mut self, root: RootFs) -> Self {
        self.root = Some(root);
        self
    }

    /// How the [`root`](ContainerBuilder::root) becomes the container's `/`
    /// (default [`RootChange::PivotRoot`]); see [`RootChange`] for each way and
    /// what it leaves reachable.
    ///
    /// ```no_run
    /// use linception::{Container, Mount, RootChange, RootFs};
    /// // A caller whose own root is an initramfs, where pivot_root fails.
    /// let c = Container::builder("/bin/true")
    ///     .root(RootFs::Tmpfs)
    ///     .mounts(Mount::host_system())
    ///     .root_change(RootChange::MoveAndChroot)
    ///     .spawn()?;
    /// # Ok::<(), linception::Error>(())
    /// ```
    ///
    /// # Errors
    /// `spawn` refuses, before anything is created
    /// ([`Error::InvalidArgument`](crate::Error::InvalidArgument) naming it): a
    /// root change other than the default without a root;
    /// [`MoveAndChroot`](RootChange::MoveAndChroot) without a new mount namespace
    /// (a joined one's proc and sysfs mounts are not the caller's to list);
    /// [`Chroot`](RootChange::Chroot) of a [`RootFs::Tmpfs`] (it would need a
    /// mount) or with mounts, masked or read-only paths, devices, a read-only root
    /// or a root propagation. [`Container::exec_in`](crate::Container::exec_in)
    /// refuses it: the process it starts enters the container's root, whichever
    /// way that root was changed to.
    ///
    /// # References
    /// - [pivot_root(2)](https://man7.org/linux/man-pages/man2/pivot_root.2.html),
    ///   [chroot(2)](https://man7.org/linux/man-pages/man2/chroot.2.html),
    ///   [move_mount(2)](https://man7.org/linux/man-pages/man2/move_mount.2.html)
    pub fn root_change(mut self, how: RootChange) -> Self {
        self.root_change = how;
        self
    }

    /// Makes the root mount read-only once every mount is in place: after the
    /// [`Mount`]s, [`device`](ContainerBuilder::device)s,
    /// [`mask_path`](ContainerBuilder::mask_path)s and
    /// [`read_only_path`](ContainerBuilder::read_only_path)s, which therefore still
    /// work in a read-only root.
    pub fn read_only_root(mut self) -> Self {
        self.read_only_root = true;
        self
    }

    /// Masks a path of the container (like an OCI runtime's `maskedPaths`): a file
    /// gets the host's `/dev/null` bound over it (opened before the root changes), a
    /// directory an empty read-only tmpfs (`nosuid`, `nodev`, `noexec`). The path
    /// (absolute, without `..`) is resolved inside the root (`RESOLVE_IN_ROOT`,
    /// symlinks followed inside it) after every [`Mount`] and device is in place; **a
    /// path that does not exist in the root is skipped**, as OCI runtimes do, so one
    /// list serves every image. Needs a [`root`](ContainerBuilder::root).
    ///
    /// ```no_run
    /// use linception::{Container, Mount, RootFs};
    /// let c = Container::builder("/bin/true")
    ///     .root(RootFs::Tmpfs)
    ///     .mounts(Mount::host_system())
    ///     .mount(Mount::proc("/proc"))
    ///     .mask_path("/proc/kcore")
    ///     .mask_path("/proc/scsi")
    ///     .spawn()?;
    /// # Ok::<(), linception::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for a relative path, one
    /// with `..` or a NUL byte, `/` itself, or no root; a failed mount is an
    /// [`Error::Setup`](crate::Error::Setup) naming the path.
    pub fn mask_path(mut self, path: impl AsRef<Path>) -> Self {
        self.masked_paths.push(path.as_ref().to_owned());
        self
    }

    /// Makes a path of the container read-only (like an OCI runtime's
    /// `readonlyPaths`): a recursive bind of the path onto itself, made read-only
    /// (`MOUNT_ATTR_RDONLY` on every mount of it, Linux 5.12), so writes below it
    /// fail with `EROFS`. Resolved inside the root like
    /// [`mask_path`](ContainerBuilder::mask_path), after the masks; **a path that does
    /// not exist in the root is skipped**. Needs a [`root`](ContainerBuilder::root).
    ///
    /// # Errors
    /// As [`mask_path`](ContainerBuilder::mask_path).
    pub fn read_only_path(mut self, path: impl AsRef<Path>) -> Self {
        self.read_only_paths.push(path.as_ref().to_owned());
        self
    }

    /// Adds a device node inside the root ([`Device`]: created with `mknodat`
    /// without a new user namespace, else bound from the host's node).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for a bad path or mode;
    /// [`Error::PermissionDenied`](crate::Error::PermissionDenied) when in a new user
    /// namespace the host has no such node to bind (or a mode/owner it cannot keep).
    pub fn device(mut self, device: Device) -> Self {
        self.devices.push(device);
        self
    }

    /// The propagation type of the container's root mount (default
    /// [`Private`](crate::Propagation::Private): the whole mount
    /// tree is made private first, so nothing propagates in or out):
    ///
    /// - [`Slave`](crate::Propagation::Slave): the copied tree is made
    ///   a slave of the caller's (`MS_SLAVE`, recursively) instead of private, so
    ///   mount events under a shared host directory used as [`RootFs::Dir`] (or a
    ///   bind's source) propagate into the container, and none out. A
    ///   [`RootFs::Tmpfs`] has no master: refused;
    /// - [`Shared`](crate::Propagation::Shared): after `pivot_root` the
    ///   root gets a peer group of its own (`shared:N`); the host is never its peer;
    /// - [`Unbindable`](crate::Propagation::Unbindable): after
    ///   `pivot_root` the root cannot be bind-mounted.
    ///
    /// Set through `mount_setattr` (Linux 5.12; `mount(2)` for the tree).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) without a root, or
    /// `Slave` on a tmpfs root.
    pub fn root_propagation(mut self, propagation: linception_mountapi::Propagation) -> Self {
        self.root_propagation = Some(propagation);
        self
    }

    /// Adds a mount, made in order inside the root.
    pub fn mount(mut self, mount: Mount) -> Self {
        self.mounts.push(mount);
        self
    }

    /// Adds mounts, made in order inside the root.
    pub fn mounts(mut self, mounts: impl IntoIterator<Item = Mount>) -> Self {
        self.mounts.extend(mounts);
        self
    }

    /// Standard input of the program.
    pub fn stdin(mut self, s: impl Into<Stdio>) -> Self {
        self.stdio[0] = s.into();
        self
    }

    /// Standard output of the program.
    pub fn stdout(mut self, s: impl Into<Stdio>) -> Self {
        self.stdio[1] = s.into();
        self
    }

    /// Standard error of the program.
    pub fn stderr(mut self, s: impl Into<Stdio>) -> Self {
        self.stdio[2] = s.into();
        self
    }

    /// Passes `fd` to the program as fd number `target` (3 or more). Every other fd
    /// of the caller is closed in the container.
    pub fn pass_fd(mut self, fd: impl Into<OwnedFd>, target: RawFd) -> Self {
        self.fds.push((target, fd.into()));
        self
    }

    /// A seccomp filter, installed last before `execve`.
    pub fn seccomp(mut self, seccomp: Seccomp) -> Self {
        self.seccomp = Some(seccomp);
        self
    }

    /// The capability sets of the program (default: unchanged).
    ///
    /// # Errors
    /// `spawn` refuses, with [`Error::InvalidArgument`](crate::Error::InvalidArgument)
    /// naming the set and the capabilities, before anything is created, what the
    /// kernel would refuse in the child: an effective capability that is not
    /// permitted; an inheritable one outside the bounding set (once the bounding set
    /// is cut, `capset` refuses it even with `CAP_SETPCAP`); an ambient one that is
    /// not both permitted and inheritable; a bit above the running kernel's
    /// `cap_last_cap`. A container that creates or joins no user namespace can have
    /// only what the caller holds: any other capability in any set is refused with
    /// [`Error::PermissionDenied`](crate::Error::PermissionDenied)
    /// ([`grantable_capabilities`](crate::features::grantable_capabilities) says
    /// which can be given).
    pub fn capabilities(mut self, caps: Capabilities) -> Self {
        self.capabilities = Some(caps);
        self
    }

    /// Sets `no_new_privs`: `execve` can grant no privilege (setuid bits, file caps).
    pub fn no_new_privs(mut self) -> Self {
        self.no_new_privs = true;
        self
    }

    /// Runs `hook` at `point` (the OCI hook moments; see [`HookPoint`](crate::HookPoint)
    /// for where each runs and what a failure does). Hooks of one point run in the
    /// order added. With `createRuntime` or `createContainer` hooks, the child pauses
    /// before `pivot_root` while they run; [`spawn`](ContainerBuilder::spawn) with
    /// hooks is a [`create`](ContainerBuilder::create) and a start.
    pub fn hook(mut self, point: crate::HookPoint, hook: crate::Hook) -> Self {
        self.hooks.push((point, hook));
        self
    }

    /// The id and bundle directory hooks are told (the OCI state's `id` and `bundle`).
    pub fn state_info(mut self, id: impl Into<String>, bundle: impl Into<PathBuf>) -> Self {
        self.state_info.id = id.into();
        self.state_info.bundle = bundle.into();
        self
    }

    /// An annotation hooks are told (the OCI state's `annotations`).
    pub fn annotation(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.state_info.annotations.push((key.into(), value.into()));
        self
    }

    /// The loopback interface `lo` of the container's new network namespace:
    /// [`Loopback::Up`] (the default: brought up before the program starts, with
    /// `ioctl(SIOCSIFFLAGS)` on an `AF_INET` socket inside) or [`Loopback::Down`].
    /// A network namespace that is shared or joined is left as it is.
    ///
    /// # Errors
    /// `spawn` refuses it ([`Error::InvalidArgument`](crate::Error::InvalidArgument))
    /// without a new network namespace ([`Namespaces::NET`]): the interface would
    /// be someone else's.
    ///
    /// ```
    /// use linception::{Container, Loopback};
    /// let b = Container::builder("/bin/true").loopback(Loopback::Down);
    /// # let _ = b;
    /// ```
    ///
    /// # References
    /// - [netdevice(7)](https://man7.org/linux/man-pages/man7/netdevice.7.html)
    pub fn loopback(mut self, state: Loopback) -> Self {
        self.loopback = Some(state);
        self
    }

    /// Writes `value` to the sysctl `name` inside the container (in the order
    /// given, before the mounts, through `/proc/sys/<name>` opened by the container's
    /// first process once it is in its new namespaces: the kernel picks the
    /// namespace's copy by the opener's namespaces).
    ///
    /// `name` is dotted (`net.ipv4.ip_forward`) or a path under `/proc/sys`
    /// (`net/ipv4/conf/eth0.1/forwarding`, for names with dots in a component).
    /// Only sysctls of a namespace the container creates are accepted: `net.*`
    /// needs [`Namespaces::NET`]; `kernel.shm*`, `kernel.msg*`, `kernel.sem*` and
    /// `fs.mqueue.*` need [`Namespaces::IPC`]; `kernel.hostname` and
    /// `kernel.domainname` need [`Namespaces::UTS`]. Any other sysctl is the
    /// host's, and refused. The kernel keeps the UTS entries writable by the host's
    /// root only (a rootless container gets `EACCES`: use
    /// [`hostname`](ContainerBuilder::hostname)).
    ///
    /// ```
    /// use linception::Container;
    /// let b = Container::builder("/bin/true").sysctl("net.ipv4.ip_forward", "1");
    /// # let _ = b;
    /// ```
    ///
    /// # Errors
    /// `spawn` refuses, before anything is created
    /// ([`Error::InvalidArgument`](crate::Error::InvalidArgument) naming the
    /// sysctl): a name that is empty, has an empty, `.` or `..` component or a NUL
    /// byte; a value with a NUL byte or longer than 4096 bytes; a sysctl no
    /// namespace of the container owns. A write the kernel refuses (a read-only or
    /// non-namespaced `net.*` entry, a bad value) fails the spawn with
    /// [`Error::Setup`](crate::Error::Setup) naming it.
    ///
    /// # References
    /// - [proc_sys(5)](https://man7.org/linux/man-pages/man5/proc_sys.5.html)
    pub fn sysctl(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.sysctls.push((name.into(), value.into()));
        self
    }

    /// Restricts the program with a Landlock ruleset (Linux 5.13), best effort:
    /// the ruleset is built in the parent at spawn with the rights the running
    /// kernel's ABI has, and enforced in the child with `landlock_restrict_self` on
    /// its fd after the mounts and before the uid change (so that root of the
    /// container's user namespace may, without `no_new_privs`). What was enforced is
    /// on [`Container::landlock`](crate::Container::landlock); without Landlock in
    /// the kernel nothing is, and the report says so.
    ///
    /// # Errors
    /// `spawn` refuses, before anything is created
    /// ([`Error::InvalidArgument`](crate::Error::InvalidArgument)): a ruleset
    /// handling nothing, a rule allowing nothing or a right the ruleset does not
    /// handle, a rule path that cannot be opened;
    /// ([`Error::PermissionDenied`](crate::Error::PermissionDenied)) a container
    /// with no user namespace of its own, without
    /// [`no_new_privs`](ContainerBuilder::no_new_privs), started by a caller
    /// without `CAP_SYS_ADMIN` (the kernel requires one of them).
    pub fn landlock(mut self, ruleset: crate::landlock_ruleset::Landlock) -> Self {
        self.landlock = Some(ruleset);
        self
    }

    /// Executes the program under the AppArmor profile `profile`: the child writes
    /// `exec <profile>` to `/proc/self/attr/apparmor/exec`, which applies at its
    /// `execve` (Linux 5.1 for the per-LSM directory; AppArmor itself 2.6.36).
    ///
    /// # Errors
    /// `spawn` refuses, before anything is created: an empty profile or one with a
    /// NUL byte or a newline, or longer than 4095 bytes
    /// ([`Error::InvalidArgument`](crate::Error::InvalidArgument)); AppArmor not
    /// active on this system ([`Error::Unsupported`](crate::Error::Unsupported),
    /// read from `/sys/kernel/security/lsm`). A profile the kernel does not have
    /// fails the spawn with [`Error::Setup`](crate::Error::Setup) naming it.
    ///
    /// # References
    /// - [apparmor(7)](https://man7.org/linux/man-pages/man7/apparmor.7.html),
    ///   [proc_pid_attr(5)](https://man7.org/linux/man-pages/man5/proc_pid_attr.5.html)
    pub fn apparmor_profile(mut self, profile: impl Into<String>) -> Self {
        self.apparmor_profile = Some(profile.into());
        self
    }

    /// Executes the program with the SELinux label (security context) `label`
    /// (`system_u:system_r:container_t:s0:c1,c2`): the child writes it to
    /// `/proc/self/attr/exec`, which applies at its `execve`.
    ///
    /// # Errors
    /// As for [`apparmor_profile`](ContainerBuilder::apparmor_profile), with
    /// SELinux the module that must be active.
    ///
    /// # References
    /// - [proc_pid_attr(5)](https://man7.org/linux/man-pages/man5/proc_pid_attr.5.html)
    pub fn selinux_label(mut self, label: impl Into<String>) -> Self {
        self.selinux_label = Some(label.into());
        self
    }

    /// Starts the program in a fresh session keyring instead of the caller's.
    pub fn session_keyring(mut self, keyring: SessionKeyring) -> Self {
        self.keyring = Some(keyring);
        self
    }
}

/// The process knobs: resource limits, umask, OOM score, parent-death signal,
/// personality, controlling terminal.
impl ContainerBuilder {
    /// Sets the soft and hard limit of `resource` for the program:
    /// [`RLIM_INFINITY`](crate::RLIM_INFINITY) for no limit. Unset resources keep
    /// the caller's limits. The child calls `setrlimit` at the end of its setup,
    /// just before `execve` (so a low `RLIMIT_NOFILE` binds the program, not the
    /// setup's own mount fds); a hard limit above the caller's own is first raised
    /// by the parent (`prlimit` on the waiting child), since the kernel wants
    /// `CAP_SYS_RESOURCE` in the initial user namespace, which a container in a new
    /// user namespace never has. Observable in `/proc/self/limits` inside.
    ///
    /// # Errors
    /// At [`spawn`](ContainerBuilder::spawn): [`Error::InvalidArgument`] when `soft`
    /// is above `hard`, a resource is given twice, or `RLIMIT_NOFILE` exceeds
    /// `fs.nr_open`; [`Error::PermissionDenied`] when `hard` is above the caller's
    /// own hard limit and the caller has no `CAP_SYS_RESOURCE` in the initial user
    /// namespace (the kernel checks it there, whatever the container's user
    /// namespace). In [`exec_in`](crate::Container::exec_in), the joining child sets
    /// the limits itself: a hard limit above the caller's is refused there.
    ///
    /// ```
    /// use linception::{Container, Resource, RLIM_INFINITY};
    /// let b = Container::builder("/bin/sh")
    ///     .rlimit(Resource::Nofile, 256, 1024)
    ///     .rlimit(Resource::Core, 0, 0)
    ///     .rlimit(Resource::Cpu, RLIM_INFINITY, RLIM_INFINITY);
    /// # let _ = b;
    /// ```
    ///
    /// # References
    /// [prlimit(2)](https://man7.org/linux/man-pages/man2/prlimit.2.html)
    ///
    /// [`Error::InvalidArgument`]: crate::Error::InvalidArgument
    /// [`Error::PermissionDenied`]: crate::Error::PermissionDenied
    pub fn rlimit(mut self, resource: crate::process::Resource, soft: u64, hard: u64) -> Self {
        self.knobs.rlimits.push((resource, soft, hard));
        self
    }

    /// The program's file mode creation mask (`umask(2)`, at most `0o777`; default:
    /// the caller's).
    ///
    /// # Errors
    /// At spawn, [`Error::InvalidArgument`](crate::Error::InvalidArgument) for bits
    /// beyond `0o777`.
    ///
    /// # References
    /// [umask(2)](https://man7.org/linux/man-pages/man2/umask.2.html)
    pub fn umask(mut self, mask: u32) -> Self {
        self.knobs.umask = Some(mask);
        self
    }

    /// The program's `/proc/self/oom_score_adj` (`-1000..=1000`; -1000 exempts it
    /// from the OOM killer), written by the parent before the container goes on.
    ///
    /// # Errors
    /// At spawn: [`Error::InvalidArgument`](crate::Error::InvalidArgument) outside
    /// `-1000..=1000`; [`Error::PermissionDenied`](crate::Error::PermissionDenied)
    /// for a value below the caller's own when the caller has no `CAP_SYS_RESOURCE`
    /// in the initial user namespace. Refused by
    /// [`exec_in`](crate::Container::exec_in).
    ///
    /// # References
    /// [proc_pid_oom_score_adj(5)](https://man7.org/linux/man-pages/man5/proc_pid_oom_score_adj.5.html)
    pub fn oom_score_adj(mut self, adj: i32) -> Self {
        self.knobs.oom_score_adj = Some(adj);
        self
    }

    /// The signal the program gets when the thread that spawned it exits
    /// (`prctl(PR_SET_PDEATHSIG)`, set after the uid/gid change, which would clear
    /// it). Default: none, so that a container can outlive its creator (a runtime's
    /// create-then-start flow). Note that it is the spawning *thread*: a container
    /// spawned from a short-lived thread gets it when that thread ends. In a new pid
    /// namespace the program is pid 1, and the kernel delivers only signals it
    /// handles, except `SIGKILL`.
    ///
    /// # Errors
    /// At spawn, [`Error::InvalidArgument`](crate::Error::InvalidArgument) for the
    /// null signal or a real-time one (only the standard signals 1..=31).
    ///
    /// # References
    /// [PR_SET_PDEATHSIG(2const)](https://man7.org/linux/man-pages/man2/PR_SET_PDEATHSIG.2const.html)
    pub fn parent_death_signal(mut self, signal: linception_pidfd::Signal) -> Self {
        self.knobs.parent_death_signal = Some(signal);
        self
    }

    /// The program's execution domain and flags (`personality(2)`), e.g.
    /// [`Personality::LINUX32`](crate::Personality::LINUX32) for a 32-bit `uname`,
    /// [`Personality::ADDR_NO_RANDOMIZE`](crate::Personality::ADDR_NO_RANDOMIZE).
    ///
    /// # Errors
    /// At spawn, [`Error::InvalidArgument`](crate::Error::InvalidArgument) for
    /// `0xffffffff` (the query value).
    ///
    /// # References
    /// [personality(2)](https://man7.org/linux/man-pages/man2/personality.2.html)
    pub fn personality(mut self, personality: crate::process::Personality) -> Self {
        self.knobs.personality = Some(personality);
        self
    }

    /// Gives the program a new session (`setsid`) with a pseudo-terminal as its
    /// controlling terminal and standard streams: the child opens `/dev/pts/ptmx` of
    /// the container's own devpts instance (after the root change), unlocks it
    /// (`TIOCSPTLCK`), opens the peer (`TIOCGPTPEER`, Linux 4.13), makes it fds 0-2
    /// and its controlling terminal (`TIOCSCTTY`), and sends the master to the
    /// parent. The master goes to
    /// [`Container::take_terminal`](crate::Container::take_terminal) or to a console
    /// socket ([`Terminal`](crate::Terminal)).
    ///
    /// ```no_run
    /// use linception::{Container, Mount, RootFs, Terminal};
    /// let mut c = Container::builder("/bin/sh")
    ///     .root(RootFs::Tmpfs)
    ///     .mounts(Mount::host_system())
    ///     .mount(Mount::dev("/dev"))
    ///     .terminal(Terminal::Handle)
    ///     .spawn()?;
    /// let master = c.take_terminal().expect("a terminal was asked for");
    /// # let _ = master;
    /// # Ok::<(), linception::Error>(())
    /// ```
    ///
    /// # Errors
    /// At spawn: [`Error::InvalidArgument`](crate::Error::InvalidArgument) without a
    /// root holding `Mount::dev("/dev")` (a devpts of
    /// [`Mount::filesystem`](crate::Mount::filesystem) is `nodev`), with
    /// `stdin`/`stdout`/`stderr` set, or for a bad socket path; a console socket
    /// that refuses the connection is an [`Error::Syscall`](crate::Error::Syscall)
    /// before anything is created. In [`exec_in`](crate::Container::exec_in), the
    /// terminal comes from the container's own `/dev/pts/ptmx`.
    ///
    /// # References
    /// [pty(7)](https://man7.org/linux/man-pages/man7/pty.7.html),
    /// [TIOCSCTTY(2const)](https://man7.org/linux/man-pages/man2/TIOCSCTTY.2const.html)
    pub fn terminal(mut self, terminal: crate::process::Terminal) -> Self {
        self.knobs.terminal = Some(terminal);
        self
    }
}
