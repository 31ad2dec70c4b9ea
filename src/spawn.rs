//! `spawn()` in named stages: check, compile, open fds, lower, cgroup, clone,
//! handshake, finish. One [`Guard`] owns what exists once the child does (its
//! pidfd, the cgroup the spawn made) and does all cleanup on failure.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use linception_mountapi::{MountSetattr, OpenTreeFlags};
use linception_pidfd::{
    CloneArgs, CloneFlags, NamespaceFd, NamespaceType, Pid, PidFd, SharedChildMemory, Signal,
};
use linception_seccomp_notify::{FilterFlags, Listener, Program};
use linception_userns::{IdMap, MapWriter, SubIds, WriteMode};

use crate::builder::{ContainerBuilder, IdMapping, Namespaces, NsSource, RootChange};
use crate::cgroup::CgroupGuard;
use crate::container::Pending;
use crate::container::{Container, Parts};
use crate::error::{Errno, Error, Result};
use crate::lifecycle::{HookPoint, HookState, State};
use crate::lower::{self, BecomeRoot, Host, IdmappedBind, Join, ParentFds, Plan};
use crate::protocol::{self, Message};
use crate::seccomp::Handler;
use crate::{child, sys, validate};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

/// The map of one map file.
fn resolve_map(mapping: &IdMapping, own: u32, uids: bool) -> Result<IdMap> {
    let map = match mapping {
        IdMapping::RootIsCaller => IdMap::single(0, own, 1).map_err(Error::from)?,
        IdMapping::Map(map) => map.clone(),
        IdMapping::SubIds { user } => {
            let subids = if uids {
                SubIds::system_uids()
            } else {
                SubIds::system_gids()
            }
            .map_err(Error::from)?;
            let ranges = subids.ranges_for(user, own);
            if ranges.is_empty() {
                return Err(Error::invalid(
                    format!(
                        "{} entry for user {user:?}",
                        if uids { "/etc/subuid" } else { "/etc/subgid" }
                    ),
                    "the user has no subordinate id range",
                ));
            }
            linception_userns::rootless_map(own, &ranges).map_err(Error::from)?
        }
    };
    Ok(map)
}

/// Maps the setuid helpers will write, checked before anything exists against the
/// rule they apply (the caller's own id, or its `/etc/subuid` and `/etc/subgid`
/// ranges, both looked up by its login name). A caller `/etc/passwd` does not know
/// is left to the helpers' own verdict.
fn helper_precheck(uid: &IdMap, gid: &IdMap, euid: u32, egid: u32) -> Result<()> {
    let Some(name) = linception_userns::login_name(euid).map_err(Error::from)? else {
        return Ok(());
    };
    for (map, own, uids) in [(uid, euid, true), (gid, egid, false)] {
        let subids = if uids {
            SubIds::system_uids()
        } else {
            SubIds::system_gids()
        }
        .map_err(Error::from)?;
        // The helpers look both files up by the user's name and uid.
        let ranges = subids.ranges_for(&name, euid);
        if let Some(e) = linception_userns::helper_refusal(map, own, &ranges) {
            let (kind, file, reason) = if uids {
                (
                    "uid",
                    "/etc/subuid",
                    "neither the caller's own uid nor within its subordinate uid ranges: newuidmap would refuse it",
                )
            } else {
                (
                    "gid",
                    "/etc/subgid",
                    "neither the caller's own gid nor within its subordinate gid ranges: newgidmap would refuse it",
                )
            };
            let ranges = if ranges.is_empty() {
                "none".to_string()
            } else {
                ranges
                    .iter()
                    .map(|r| format!("{}+{}", r.start, r.count))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(Error::invalid(
                format!(
                    "{kind}_map extent {} {} {} (own {kind} {own}; {file} ranges of user {name:?}: {ranges})",
                    e.inside, e.outside, e.count
                ),
                reason,
            ));
        }
    }
    Ok(())
}

/// Stage 1's answer: what the id maps are and how the child becomes root.
struct Checked {
    maps: Option<MapWriter>,
    become_root: BecomeRoot,
    root_mapped: bool,
    /// The namespaces to join, opened and of the right type, in join order.
    joins: Vec<Join>,
}

/// Opens each namespace to join and checks its type: the source must be a
/// namespace (nsfs) of the type it is joined as. Returns them in join order.
fn resolve_joins(b: &ContainerBuilder) -> Result<Vec<Join>> {
    let mut joins = Vec::with_capacity(b.joins.len());
    for (kind, source) in &b.joins {
        let Some(ns) = crate::builder::namespace_flag(*kind) else {
            continue; // refused by validate
        };
        let (fd, shown) = match source {
            NsSource::Path(path) => (
                NamespaceFd::open(path).map_err(Error::from)?,
                format!("{path:?}"),
            ),
            NsSource::Fd(fd) => {
                let shown = format!("fd {}", fd.as_raw_fd());
                let copy = fd
                    .try_clone()
                    .map_err(|e| Error::syscall(format!("fcntl({shown}, F_DUPFD_CLOEXEC)"), e))?;
                (NamespaceFd::from(copy), shown)
            }
            NsSource::Pidfd(pidfd) => (
                pidfd.namespace_fd(*kind).map_err(Error::from)?,
                format!("pidfd {}", pidfd.as_fd().as_raw_fd()),
            ),
        };
        let actual = match fd.nstype() {
            Ok(t) => Namespaces::from_bits_retain(u64::from(t.bits())),
            Err(_) => {
                return Err(Error::invalid(
                    format!("join({kind:?}) from {shown}"),
                    "not a namespace (nsfs) fd: NS_GET_NSTYPE refused it",
                ));
            }
        };
        if actual != ns {
            return Err(Error::invalid(
                format!(
                    "join({kind:?}) from {shown}, a {} namespace",
                    crate::builder::namespace_names(actual)
                ),
                "the source is a namespace of another type",
            ));
        }
        joins.push(Join { ns, fd, shown });
    }
    joins.sort_by_key(|j| {
        lower::JOIN_ORDER
            .iter()
            .position(|n| *n == j.ns)
            .unwrap_or(usize::MAX)
    });
    Ok(joins)
}

/// Stage 1: every value checked, the id maps resolved; nothing created.
fn check(b: &ContainerBuilder) -> Result<Checked> {
    let ns = b.effective_namespaces();
    let caller = validate::Caller::current();
    let (euid, egid) = (caller.euid, caller.egid);
    let maps = if ns.contains(Namespaces::USER) {
        Some((
            resolve_map(&b.uid_map, euid, true)?,
            resolve_map(&b.gid_map, egid, false)?,
        ))
    } else {
        None
    };
    // An unprivileged writer maps its own ids itself and must deny setgroups first;
    // anything wider goes through the setuid helpers, which allow setgroups.
    let unprivileged = euid != 0;
    let own_only = |m: &IdMap, own: u32| {
        let e = m.extents()[0];
        m.len() == 1 && e.count == 1 && e.outside == own
    };
    let helpers = maps
        .as_ref()
        .is_some_and(|(u, g)| unprivileged && !(own_only(u, euid) && own_only(g, egid)));
    let view = maps.as_ref().map(|(u, g)| validate::Maps {
        uid: u,
        gid: g,
        setgroups_denied: unprivileged && !helpers,
    });
    validate::spawn(b, &caller, view.as_ref())?;
    if let Some(dir) = crate::mount::shared_namespace_mounts(b)
        && std::fs::canonicalize(dir).is_ok_and(|d| d == Path::new("/"))
    {
        return Err(Error::invalid(
            "mounts with root_change(RootChange::Chroot) of the caller's own /",
            "a chroot's mounts are made beneath its root in the caller's mount namespace, \
             here over the caller's own tree",
        ));
    }
    if helpers && let Some((u, g)) = &maps {
        helper_precheck(u, g, euid, egid)?;
    }
    validate::capabilities(b, lower::last_cap())?;
    if !(b.effective_namespaces() | b.joined_namespaces()).contains(Namespaces::USER) {
        capabilities_held(b)?;
    }
    if b.apparmor_profile.is_some() || b.selinux_label.is_some() {
        // The active LSMs are looked up only when a label asks for one.
        validate::exec_labels(b, &crate::lsm::ActiveLsms::current())?;
    }
    let joins = resolve_joins(b)?;
    crate::process::check(b, &crate::process::Facts::gather(&b.knobs))?;
    if let Some(cg) = &b.cgroup {
        crate::cgroup::check(cg)?;
    }
    crate::device::check(b)?;
    // With 0 mapped on both sides, the child becomes root inside before its setup
    // (its ids outside may not be mapped at all); not needed when the caller's own
    // ids are what maps to 0 (it is root inside as soon as the maps are written).
    let become_root = maps.as_ref().and_then(|(u, g)| {
        let mapped = u.map_down(0).is_some() && g.map_down(0).is_some();
        let already = u.map_down(0) == Some(euid) && g.map_down(0) == Some(egid);
        (mapped && !already).then_some(!unprivileged || helpers)
    });
    let root_mapped = maps
        .as_ref()
        .is_some_and(|(u, g)| u.map_down(0).is_some() && g.map_down(0).is_some());
    // The userns crate writes them (setgroups "deny" first when unprivileged, one
    // write per map, through the pidfd so a reused pid is refused).
    let maps = maps.map(|(u, g)| {
        let mode = if helpers {
            WriteMode::Helpers
        } else {
            WriteMode::Auto
        };
        MapWriter::new().uid_map(u).gid_map(g).mode(mode)
    });
    Ok(Checked {
        maps,
        become_root,
        root_mapped,
        joins,
    })
}

/// Owns what exists once the child does, and cleans it up unless disarmed: the
/// child is killed through its pidfd and reaped, the cgroup the spawn made removed.
struct Guard {
    pidfd: Option<PidFd>,
    cgroup: Option<CgroupGuard>,
}

impl Guard {
    /// Cleans up after `err`; returns it, with a cleanup failure attached if any.
    fn fail(mut self, err: Error) -> Error {
        let cleanup = self.cleanup();
        err.with_cleanup(cleanup)
    }

    fn cleanup(&mut self) -> Option<Error> {
        let mut first = None;
        if let Some(pidfd) = self.pidfd.take() {
            first = kill_and_reap(&pidfd);
        }
        if let Some(Err(e)) = self.cgroup.take().map(CgroupGuard::remove) {
            first.get_or_insert(e);
        }
        first
    }

    /// The spawn succeeded: hand the pidfd and cgroup to the container.
    fn disarm(mut self) -> (Option<PidFd>, Option<CgroupGuard>) {
        (self.pidfd.take(), self.cgroup.take())
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.cleanup();
    }
}

/// Kills (via the pidfd) and reaps a child whose setup failed.
fn kill_and_reap(pidfd: &PidFd) -> Option<Error> {
    if let Err(e) = pidfd.send_signal(Signal::KILL)
        && !e.is_process_gone()
    {
        return Some(e.into());
    }
    pidfd.wait().err().map(Error::from)
}

pub(crate) fn spawn(b: ContainerBuilder) -> Result<Container> {
    if b.hooks.is_empty() {
        return launch(b, None);
    }
    // Hooks have moments between create and start: a spawn with hooks is a create
    // through a private start socket, then a start.
    let dir = private_dir()?;
    let r = launch(b, Some(&dir.join("start"))).and_then(|mut c| c.start().map(|()| c));
    let _ = std::fs::remove_dir_all(&dir);
    r
}

/// A fresh 0700 directory for a spawn's private start socket.
fn private_dir() -> Result<std::path::PathBuf> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("linception-start-{}-{n}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| Error::syscall(format!("mkdir({dir:?}, 0700)"), e))?;
    Ok(dir)
}

pub(crate) fn create(b: ContainerBuilder, socket: &Path) -> Result<Container> {
    launch(b, Some(socket))
}

/// A start socket path: absolute, new, and short enough for `sun_path`.
fn check_socket(socket: &Path) -> Result<()> {
    let shown = crate::validate::shown(socket.as_os_str());
    if !socket.is_absolute() {
        return Err(Error::invalid(
            format!("start socket {shown}"),
            "the start socket path must be absolute",
        ));
    }
    let name_len = socket.file_name().map_or(0, |n| n.len());
    if socket.as_os_str().len() > SUN_PATH_MAX && name_len > SUN_PATH_MAX - PROC_FD_PREFIX {
        return Err(Error::invalid(
            format!("start socket {shown}"),
            "its file name is too long for a unix socket address, even through its \
             directory (at most 80 bytes when the path is over 107)",
        ));
    }
    if socket.symlink_metadata().is_ok() {
        return Err(Error::invalid(
            format!("start socket {shown}"),
            "it exists already (another container's, or a leftover: remove it first)",
        ));
    }
    Ok(())
}

/// The longest path a unix socket address holds (`sun_path`, NUL excluded).
const SUN_PATH_MAX: usize = 107;
/// Room left for `/proc/self/fd/N/` (N up to ten digits) and a margin.
const PROC_FD_PREFIX: usize = 27;

/// A unix socket address for `path`, of any length: the path itself when it fits
/// `sun_path` (107 bytes); else `/proc/self/fd/N/<name>`, through an `O_PATH` fd
/// of its directory, returned to be held while the address is used (a state
/// root under a long `XDG_RUNTIME_DIR` gives a start socket path over 107 bytes).
pub(crate) fn socket_address(path: &Path) -> Result<(std::path::PathBuf, Option<OwnedFd>)> {
    if path.as_os_str().len() <= SUN_PATH_MAX {
        return Ok((path.to_owned(), None));
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok((path.to_owned(), None));
    };
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::open(
        dir,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| {
        Error::syscall(
            format!("open({dir:?}, O_PATH) (the start socket's directory)"),
            e.into(),
        )
    })?;
    let short = Path::new("/proc/self/fd")
        .join(fd.as_raw_fd().to_string())
        .join(name);
    Ok((short, Some(fd)))
}

/// The whole spawn; with `socket`, a create: the init waits there for its start.
fn launch(b: ContainerBuilder, socket: Option<&Path>) -> Result<Container> {
    let started = b.profile.then(crate::profile::now);
    let mut prepared = prepare(b, socket, false)?;
    run(&mut prepared, socket, started)
}

/// What a spawn does once for any number of containers: the builder checked and
/// its id maps resolved, the seccomp filter compiled, the host looked at, the
/// Landlock ruleset built, and (kept between spawns of a template) the memory of a
/// child that shares ours.
pub(crate) struct Prepared {
    b: ContainerBuilder,
    checked: Checked,
    seccomp: SeccompParts,
    host: Host,
    landlock: (
        Option<OwnedFd>,
        Option<crate::landlock_ruleset::LandlockReport>,
    ),
    memory: Option<SharedChildMemory>,
    /// Spawned many times: what one spawn would consume is copied instead.
    template: bool,
}

/// Stages 1 and 2 (nothing is created but the Landlock ruleset's fd).
fn prepare(mut b: ContainerBuilder, socket: Option<&Path>, template: bool) -> Result<Prepared> {
    let checked = check(&b)?;
    crate::lifecycle::check(&b.hooks)?;
    if let Some(socket) = socket {
        check_socket(socket)?;
    }
    if b.profile && (socket.is_some() || !b.hooks.is_empty()) {
        return Err(Error::invalid(
            "profile",
            "a spawn is profiled only by spawn() without hooks (a created container's \
             execve waits for another process's start)",
        ));
    }
    let seccomp = take_seccomp(&mut b)?;
    let landlock = build_landlock(&b)?;
    let mut host = Host::gather(&b);
    host.hide = lower::hidden_mounts(&b, &host)?;
    Ok(Prepared {
        b,
        checked,
        seccomp,
        host,
        landlock,
        memory: None,
        template,
    })
}

/// Stages 3 to 8 for one container of `p`.
fn run(p: &mut Prepared, socket: Option<&Path>, started: Option<u64>) -> Result<Container> {
    let r = run_once(p, socket, started);
    if r.is_err()
        && let Some(dir) = crate::mount::shared_namespace_mounts(&p.b)
    {
        // The mounts a chrooted child made in the caller's namespace before it
        // failed: gone again with the failure.
        let _ = crate::mount::detach_mounts_beneath(dir);
    }
    r
}

fn run_once(p: &mut Prepared, socket: Option<&Path>, started: Option<u64>) -> Result<Container> {
    let mut clock = started.map(|started| crate::profile::Clock {
        started,
        ..Default::default()
    });
    let b = &p.b;
    let ns = b.effective_namespaces();
    let pause = b
        .hooks
        .iter()
        .any(|(p, _)| matches!(p, HookPoint::CreateRuntime | HookPoint::CreateContainer));
    let console = crate::process::connect_console(b)?;
    let seccomp = &mut p.seccomp;
    let has_idmapped = b
        .mounts
        .iter()
        .any(|m| matches!(m.kind, crate::mount::MountKind::Bind { idmapped: true, .. }));
    let joined = b.joined_namespaces();
    let (mut parent_fds, mut child_fds) = lower::open_fds(
        b,
        ns.contains(Namespaces::USER) || pause || b.knobs.parent_side(),
        seccomp.wants_listener,
        has_idmapped,
        lower::fork_needed(ns, joined),
    )?;
    // The socket file exists from here on: removed again on any failure.
    let mut socket_file = None;
    if let Some(path) = socket {
        let (addr, _dir) = socket_address(path)?;
        let listener = std::os::unix::net::UnixListener::bind(&addr)
            .map_err(|e| Error::syscall(format!("bind({path:?}) (the start socket)"), e))?;
        socket_file = Some(SocketFile(path.to_owned()));
        child_fds.start_listener = Some(OwnedFd::from(listener));
    }
    let landlock = p.landlock.1.clone();
    child_fds.landlock = match &mut p.landlock.0 {
        Some(fd) if p.template => Some(
            fd.try_clone()
                .map_err(|e| Error::syscall("dup(the Landlock ruleset)", e))?,
        ),
        fd => fd.take(),
    };
    let checked = &mut p.checked;
    let joins = std::mem::take(&mut checked.joins);
    lower::add_joins(
        &mut parent_fds,
        &mut child_fds,
        joins,
        ns.contains(Namespaces::USER),
    )?;
    // With joins, clone3 creates nothing: the child joins, then unshares.
    let clone_ns = if joined.is_empty() {
        ns
    } else {
        Namespaces::empty()
    };
    let host = &p.host;
    // The report pipe's write end goes to the clone apart from the plan, so that the
    // parent can close its copy right after the clone even while the plan (which
    // borrows the other child fds) must outlive a child that shares its memory.
    let report_w = child_fds
        .report
        .take()
        .expect("open_fds always makes the report pipe");
    let shared = shared_memory(b, &parent_fds, pause || socket.is_some(), &mut p.memory);
    let program = if p.template {
        seccomp.program.clone()
    } else {
        seccomp.program.take()
    };
    let mut plan = lower::spawn(b, host, &child_fds, checked.become_root, program, pause);
    let mut slots = ChildSlots {
        held: std::mem::take(&mut plan.slots),
        shared: false,
    };

    let mut guard = Guard {
        pidfd: None,
        cgroup: None,
    };
    let cgroup_fd = match &b.cgroup {
        Some(cg) => {
            let (g, fd) = crate::cgroup::prepare(cg)?;
            guard.cgroup = Some(g);
            Some(fd)
        }
        None => None,
    };
    if let Some(c) = clock.as_mut() {
        c.clone = crate::profile::now();
    }
    let (pid, pidfd, sharing) = match clone(
        &plan,
        &mut slots.held,
        clone_ns,
        b.set_tid,
        cgroup_fd.as_ref(),
        report_w.as_fd(),
        shared.as_ref(),
    ) {
        Ok(v) => v,
        Err(e) => return Err(guard.fail(e)),
    };
    slots.shared = sharing;
    if let Some(c) = clock.as_mut() {
        c.cloned = crate::profile::now();
    }
    guard.pidfd = Some(pidfd);
    // The child holds its own copies of the fds now, and of the memory unless it
    // shares ours: then the plan, the fds it borrows and the builder stay as they
    // are until the child's execve (nothing below changes them on that path: the
    // builder is changed only by a create, which never shares).
    drop((report_w, cgroup_fd));
    let idmapped = std::mem::take(&mut plan.idmapped);
    let features: Vec<Option<(&str, &str)>> = plan.steps.iter().map(|s| s.feature()).collect();
    if !sharing {
        drop(plan);
        drop(child_fds);
        if !p.template {
            p.b.fds.clear();
        }
    }
    let b = &p.b;
    let checked = &p.checked;
    let feature = |step: usize| features.get(step).copied().flatten();

    let ParentFds {
        report,
        sync,
        listener_sock,
        tree_sock,
        pidfd_sock,
        terminal_sock,
        piped,
        ready,
    } = parent_fds;
    let pidfd = guard.pidfd.as_ref().expect("set just above");
    // After joins, the child makes its user namespace itself and says so; EOF
    // means it failed before (its report says why).
    let user_ns_made = match ready {
        Some(r) => match wait_ready(r) {
            Ok(made) => made,
            Err(e) => return Err(guard.fail(e)),
        },
        None => true,
    };
    if let (Some(sync), true) = (&sync, user_ns_made)
        && let Err(e) = handshake(
            (pid, pidfd),
            checked.maps.as_ref(),
            sync,
            tree_sock,
            &idmapped,
            clock.as_mut().map(|c| &mut c.maps),
            || crate::process::apply_in_parent(pid, &b.knobs),
        )
    {
        return Err(guard.fail(e));
    }
    let mut pid = pid;
    if let Some(sock) = pidfd_sock {
        // The child forks the init into its pid namespace, sends its pidfd, exits.
        let received = linception_seccomp_notify::recv_fd(&sock);
        let helper = guard.pidfd.take().expect("set just above");
        let reaped = helper.wait();
        match received {
            Ok(fd) => {
                let init = PidFd::from(fd);
                guard.pidfd = Some(init);
                if let Err(e) = reaped {
                    return Err(guard.fail(e.into()));
                }
                match guard.pidfd.as_ref().map(PidFd::pid) {
                    Some(Ok(p)) => pid = p,
                    Some(Err(e)) => return Err(guard.fail(e.into())),
                    None => {}
                }
            }
            // The helper failed before the fork: its report says why.
            Err(linception_seccomp_notify::Error::NoFdReceived { .. }) => {}
            Err(e) => return Err(guard.fail(e.into())),
        }
    }
    if socket.is_none() && !pause {
        let r = finish(
            report,
            listener_sock,
            p.seccomp.handler.take(),
            p.seccomp.keep_listener,
            feature,
            clock.as_mut(),
        );
        let (listener, handler) = match r {
            Ok(v) => v,
            Err(e) => return Err(guard.fail(e)),
        };
        let terminal = match receive_terminal(terminal_sock, console) {
            Ok(t) => t,
            Err(e) => return Err(guard.fail(e)),
        };
        let (pidfd, cgroup) = guard.disarm();
        let mut container = Container::new(Parts {
            pid,
            pidfd: pidfd.expect("the guard held it"),
            namespaces: ns | joined,
            landlock,
            root_mapped: checked.root_mapped,
            stdio: piped,
            listener,
            handler,
            cgroup,
            terminal,
        });
        if let Some(c) = clock {
            container.set_profile(c);
        }
        // The child has exec'd: its memory is free for the next one (the
        // template's, or this thread's next spawn).
        if p.template {
            p.memory = shared;
        } else if shared.is_some() {
            SPARE_MEMORY.set(shared);
        }
        return Ok(container);
    }

    // A create: the container exists as a handle now (dropping it on a failure
    // kills it, reaps it and removes its cgroup and socket).
    let (pidfd, cgroup) = guard.disarm();
    let mut container = Container::new(Parts {
        pid,
        pidfd: pidfd.expect("the guard held it"),
        namespaces: ns | joined,
        landlock,
        root_mapped: checked.root_mapped,
        stdio: piped,
        listener: None,
        handler: None,
        cgroup,
        terminal: None,
    });
    let hooks = std::mem::take(&mut p.b.hooks);
    let state_info = std::mem::take(&mut p.b.state_info);
    let hook_state = |status| HookState {
        id: state_info.id.clone(),
        bundle: state_info.bundle.clone(),
        annotations: state_info.annotations.clone(),
        pid: Some(pid),
        status,
    };
    let mut report = std::fs::File::from(report.expect("open_fds always makes the report pipe"));
    loop {
        match protocol::read(&mut report)? {
            Some(Message::Paused) => {
                let state = hook_state(State::Creating);
                for point in [HookPoint::CreateRuntime, HookPoint::CreateContainer] {
                    crate::lifecycle::run(&hooks, point, &state, &container)?;
                }
                let sync = sync.as_ref().expect("a pause has a sync pipe");
                File::from(
                    sync.try_clone()
                        .map_err(|e| Error::syscall("dup(sync pipe)", e))?,
                )
                .write_all(&[protocol::RELEASE])
                .map_err(|e| Error::syscall("write(sync pipe)", e))?;
            }
            Some(Message::Created) if socket.is_some() => break,
            Some(Message::Failed(r)) => {
                let f = feature(r.step);
                return Err(setup_error(r, f));
            }
            Some(Message::Created | Message::Phases(_)) | None => {
                return Err(Error::protocol(
                    "the container child went on to execve without waiting for its start".into(),
                ));
            }
        }
    }
    container.set_terminal(receive_terminal(terminal_sock, console)?);
    // The filter is in place before the wait for the start (see lower::spawn): its
    // listener came before the report said "created", and is the creator's now.
    let (listener, handler) = receive_listener(
        listener_sock,
        p.seccomp.handler.take(),
        p.seccomp.keep_listener,
    )?;
    container.set_listener(listener, handler);
    let socket = socket_file
        .take()
        .map(SocketFile::keep)
        .expect("a create has a socket");
    container.set_created(Pending { socket }, hooks, state_info);
    Ok(container)
}

/// A start socket file, removed when dropped unless kept.
struct SocketFile(std::path::PathBuf);

impl SocketFile {
    fn keep(self) -> std::path::PathBuf {
        let path = self.0.clone();
        std::mem::forget(self);
        path
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The error of a step the child reported.
fn setup_error(r: protocol::Report, feature: Option<(&'static str, &'static str)>) -> Error {
    if r.errno == libc::ENOSYS
        && let Some((feature, min_kernel)) = feature
    {
        return Error::Unsupported {
            feature,
            min_kernel,
        };
    }
    Error::Setup {
        step: if r.label.is_empty() {
            format!("setup step {}", r.step)
        } else {
            r.label
        },
        source: Errno(std::io::Error::from_raw_os_error(r.errno)),
        kernel_log: r.kernel_log,
    }
}

/// The terminal's master, sent by the child before it went on to `execve`: kept
/// for the handle, or sent on over the console socket.
fn receive_terminal(sock: Option<OwnedFd>, console: Option<OwnedFd>) -> Result<Option<OwnedFd>> {
    let Some(sock) = sock else {
        return Ok(None);
    };
    let master = linception_seccomp_notify::recv_fd(&sock).map_err(Error::from)?;
    let Some(console) = console else {
        return Ok(Some(master));
    };
    linception_seccomp_notify::send_fd(&console, master.as_fd()).map_err(|e| {
        Error::syscall(
            "sendmsg(console socket, SCM_RIGHTS [terminal master])",
            std::io::Error::from_raw_os_error(e.raw_os_error()),
        )
    })?;
    Ok(None)
}

/// Stage 6: `clone3` the child with the namespaces (a time namespace is made by the
/// child itself, after its offsets are written), into the cgroup, with `set_tid`.
/// Stage 6: clones the child, sharing this process's memory when `shared` is
/// given and the kernel allows it with these flags, else copying it. Returns the
/// child's pid and pidfd, and whether it shares the memory.
fn clone(
    plan: &Plan<'_>,
    slots: &mut [crate::step::Held],
    ns: Namespaces,
    set_tid: Option<i32>,
    cgroup: Option<&OwnedFd>,
    report: BorrowedFd<'_>,
    shared: Option<&SharedChildMemory>,
) -> Result<(Pid, PidFd, bool)> {
    let mut args = CloneArgs::new()
        .flags(
            CloneFlags::from_bits_retain((ns - Namespaces::TIME).bits())
                | CloneFlags::CLEAR_SIGHAND,
        )
        .set_tid(set_tid);
    if let Some(fd) = cgroup {
        args = args.into_cgroup(fd);
    }
    let steps = &plan.steps;
    let labels = &plan.labels;
    if let Some(memory) = shared {
        // `move`: the closure holds the references themselves, not references to
        // this frame's locals (the child runs on after this function returns).
        let held = &mut *slots;
        match sys::clone_shared_and_run(&args, memory, move || {
            child::run(steps, labels, held, report)
        }) {
            Ok((pid, pidfd)) => return Ok((pid, pidfd, true)),
            // Refused with these flags: the copying clone below.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let (pid, pidfd) = sys::clone_and_run(&args, || child::run(steps, labels, slots, report))?;
    Ok((pid, pidfd, false))
}

/// Test hook: every spawn copies the parent's memory (the fallback of a child that
/// shares it).
pub(crate) static FORCE_COPYING_CLONE: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// The memory a container child sharing ours runs on, where the spawn allows it: a
/// one-shot spawn (a created or paused child waits for another process, which a
/// child sharing this memory cannot outlive) whose child reports only through the
/// report pipe (the other channels' EOF must not wait on fds the parent keeps until
/// the child's execve), without a time namespace.
fn shared_memory(
    b: &ContainerBuilder,
    fds: &ParentFds,
    waits: bool,
    kept: &mut Option<SharedChildMemory>,
) -> Option<SharedChildMemory> {
    let other_channels = fds.listener_sock.is_some()
        || fds.tree_sock.is_some()
        || fds.pidfd_sock.is_some()
        || fds.terminal_sock.is_some()
        || fds.ready.is_some();
    if waits
        || other_channels
        || b.monotonic_offset.is_some()
        || b.boottime_offset.is_some()
        || FORCE_COPYING_CLONE.load(std::sync::atomic::Ordering::Relaxed)
    {
        return None;
    }
    kept.take()
        .or_else(|| SPARE_MEMORY.take())
        .or_else(|| SharedChildMemory::new().ok())
}

thread_local! {
    /// The memory of this thread's last child that shared ours, free again since
    /// it exec'd: this thread's next spawn reuses it (no mapping made and unmapped,
    /// no fresh pages faulted in, no write lock of our address space per spawn).
    static SPARE_MEMORY: std::cell::Cell<Option<SharedChildMemory>> =
        const { std::cell::Cell::new(None) };
}

/// The child's table of the fds it makes (mount trees, filesystem contexts), and
/// whether the child shares our memory: then what it stored there are fds of the
/// child's own table, not ours to close, and dropping forgets them. Declared before
/// the spawn's [`Guard`], so that on every path the child is killed and reaped (or
/// has exec'd) before the memory it uses is freed.
struct ChildSlots {
    held: Vec<crate::step::Held>,
    shared: bool,
}

impl Drop for ChildSlots {
    fn drop(&mut self) {
        if self.shared {
            for held in &mut self.held {
                std::mem::forget(std::mem::take(held));
            }
        }
    }
}

/// The seccomp pieces of a builder, compiled in the parent.
struct SeccompParts {
    program: Option<(Program, FilterFlags)>,
    handler: Option<Handler>,
    keep_listener: bool,
    wants_listener: bool,
}

fn take_seccomp(b: &mut ContainerBuilder) -> Result<SeccompParts> {
    let mut parts = SeccompParts {
        program: None,
        handler: None,
        keep_listener: false,
        wants_listener: false,
    };
    let Some(sc) = b.seccomp.take() else {
        return Ok(parts);
    };
    let program = sc.filter.compile().map_err(Error::from)?;
    if program.notifies() && !sc.wants_listener() {
        return Err(Error::invalid(
            "seccomp filter with Action::UserNotif",
            "a notifying filter needs on_notify() or keep_listener(), or the program would hang",
        ));
    }
    #[cfg(feature = "tokio")]
    if let Some(Handler::Async(_)) = &sc.handler
        && tokio::runtime::Handle::try_current().is_err()
    {
        return Err(Error::invalid(
            "Seccomp::on_notify_async",
            "spawn() must be called inside a tokio runtime to serve notifications on it",
        ));
    }
    parts.wants_listener = sc.wants_listener();
    let flags = seccomp_flags(sc.flags, parts.wants_listener)?;
    program.check_flags(flags).map_err(Error::from)?;
    parts.program = Some((program, flags));
    parts.keep_listener = sc.keep_listener;
    parts.handler = sc.handler;
    Ok(parts)
}

/// The flags the filter is installed with: the caller's ([`Seccomp::flags`]) and
/// `NEW_LISTENER` when the listener is wanted, checked by name and asked of the
/// kernel before anything is created.
fn seccomp_flags(asked: FilterFlags, wants_listener: bool) -> Result<FilterFlags> {
    let field = "Seccomp::flags";
    // The named flags (FilterFlags keeps unknown bits: `all()` has every bit).
    let known = FilterFlags::all()
        .iter_names()
        .fold(FilterFlags::empty(), |k, (_, f)| k | f);
    let unknown = asked.difference(known);
    if !unknown.is_empty() {
        return Err(Error::invalid(
            format!("{field} bits {:#x}", unknown.bits()),
            "no SECCOMP_FILTER_FLAG_* has these bits",
        ));
    }
    if asked.contains(FilterFlags::NEW_LISTENER) {
        return Err(Error::invalid(
            field,
            "NEW_LISTENER is set by on_notify() or keep_listener(), which take the listener",
        ));
    }
    if asked.contains(FilterFlags::WAIT_KILLABLE_RECV) && !wants_listener {
        return Err(Error::invalid(
            field,
            "WAIT_KILLABLE_RECV needs a listener (on_notify() or keep_listener())",
        ));
    }
    let flags = if wants_listener {
        asked | FilterFlags::NEW_LISTENER
    } else {
        asked
    };
    if !asked.is_empty() {
        // As the install will: NEW_LISTENER with TSYNC takes TSYNC_ESRCH too.
        let effective = flags.effective();
        if !linception_seccomp_notify::filter_flags_available(effective).map_err(Error::from)? {
            // Name the flags the kernel lacks: each one it refuses alone (with the
            // listener where the flag needs it).
            let refused: Vec<String> = asked
                .iter_names()
                .filter(|&(_, f)| {
                    let probe = (f | (flags & FilterFlags::NEW_LISTENER)).effective();
                    !linception_seccomp_notify::filter_flags_available(probe).unwrap_or(false)
                })
                .map(|(name, _)| name.to_owned())
                .collect();
            let what = if refused.is_empty() {
                format!("{field} {asked:?} together")
            } else {
                format!("{field} {}", refused.join(" | "))
            };
            return Err(Error::invalid(
                what,
                "the running kernel does not take it (seccomp(SECCOMP_SET_MODE_FILTER): EINVAL)",
            ));
        }
    }
    Ok(flags)
}

/// Stage 8 (and a start's end): the seccomp listener (it comes before the report: a notifying filter
/// may trap execve), its handler, then the child's report. `step` names a step
/// and the feature it needs, for the error.
#[allow(clippy::type_complexity)]
pub(crate) fn finish(
    report: Option<OwnedFd>,
    listener_sock: Option<OwnedFd>,
    handler: Option<Handler>,
    keep_listener: bool,
    feature: impl Fn(usize) -> Option<(&'static str, &'static str)>,
    mut clock: Option<&mut crate::profile::Clock>,
) -> Result<(Option<Listener>, Option<std::thread::JoinHandle<()>>)> {
    let (listener, handler_thread) = receive_listener(listener_sock, handler, keep_listener)?;
    let Some(report) = report else {
        return Ok((listener, handler_thread));
    };
    let mut report = File::from(report);
    loop {
        match protocol::read(&mut report)? {
            None => {
                if let Some(c) = clock.as_deref_mut() {
                    c.exec_seen = crate::profile::now();
                }
                return Ok((listener, handler_thread));
            }
            Some(Message::Phases(marks)) if clock.is_some() => {
                if let Some(c) = clock.as_deref_mut() {
                    c.child = marks;
                }
            }
            Some(Message::Failed(r)) => {
                let f = feature(r.step);
                return Err(setup_error(r, f));
            }
            Some(other) => {
                return Err(Error::protocol(format!(
                    "an unexpected {other:?} from the container child"
                )));
            }
        }
    }
}

/// The seccomp listener from `listener_sock` (if the child sent one), kept for the
/// caller or served by `handler`.
#[allow(clippy::type_complexity)]
fn receive_listener(
    listener_sock: Option<OwnedFd>,
    handler: Option<Handler>,
    keep_listener: bool,
) -> Result<(Option<Listener>, Option<std::thread::JoinHandle<()>>)> {
    let mut listener = None;
    if let Some(sock) = listener_sock {
        match linception_seccomp_notify::recv_fd(&sock) {
            Ok(fd) => listener = Some(Listener::new(fd)),
            // The child died before sending it: its report says why.
            Err(linception_seccomp_notify::Error::NoFdReceived { .. }) => {}
            Err(e) => return Err(Error::from(e)),
        }
    }
    let mut handler_thread = None;
    match (listener.take_if(|_| !keep_listener), handler) {
        (Some(l), Some(Handler::Thread(mut h))) => {
            handler_thread = Some(std::thread::spawn(move || {
                // Wake this thread on the caller's CPU (Linux 6.6): a notification
                // round trip drops from ~50 us to a few. Older kernels keep the default.
                let _ = l.set_sync_wakeup();
                let _ = l.serve(|l, n| h(l, n));
            }));
        }
        #[cfg(feature = "tokio")]
        (Some(l), Some(Handler::Async(h))) => crate::seccomp::serve_async(l, h)?,
        (l, _) => listener = listener.or(l),
    }
    Ok((listener, handler_thread))
}

/// The capability sets of a process that stays in the caller's user namespace,
/// against what the caller holds ([`validate::capabilities_held`]); nothing is
/// asked of the kernel without capability sets.
fn capabilities_held(b: &ContainerBuilder) -> Result<()> {
    if b.capabilities.is_none() {
        return Ok(());
    }
    let wanted = b
        .capabilities
        .iter()
        .flat_map(|c| c.named())
        .fold(crate::caps::CapSet::empty(), |all, (_, set)| all | set);
    validate::capabilities_held(b, crate::caps::held(wanted))
}

/// [`Container::exec_in`]: a helper child joins the container's namespaces through
/// its pidfd and forks the program into them as a child of the caller.
pub(crate) fn exec_in(target: &Container, mut b: ContainerBuilder) -> Result<Container> {
    validate::exec_in(&b)?;
    if b.profile {
        return Err(Error::invalid(
            "profile",
            "exec_in is not profiled (only spawn() is)",
        ));
    }
    validate::capabilities(&b, lower::last_cap())?;
    if !target.namespaces().contains(Namespaces::USER) {
        // The process stays in the caller's user namespace: only what it holds.
        capabilities_held(&b)?;
    }
    crate::process::check_values(&b.knobs)?;
    let refused = [
        (
            b.namespaces_chosen || b.monotonic_offset.is_some() || b.boottime_offset.is_some(),
            "namespaces",
        ),
        (
            b.root.is_some() || !b.mounts.is_empty() || b.root_change != RootChange::PivotRoot,
            "root/mounts/root_change",
        ),
        (
            b.read_only_root
                || !b.masked_paths.is_empty()
                || !b.read_only_paths.is_empty()
                || !b.devices.is_empty()
                || b.root_propagation.is_some(),
            "read_only_root/mask_path/read_only_path/device/root_propagation",
        ),
        (b.hostname.is_some(), "hostname"),
        (b.domainname.is_some(), "domainname"),
        (b.set_tid.is_some(), "set_tid"),
        (b.cgroup.is_some(), "cgroup"),
        (!b.joins.is_empty(), "joined namespaces"),
        (!b.sysctls.is_empty(), "sysctls"),
        (b.loopback.is_some(), "loopback"),
        (b.knobs.oom_score_adj.is_some(), "oom_score_adj"),
        (
            b.knobs.raised().next().is_some(),
            "a hard rlimit above the caller's",
        ),
        (
            b.uid_map != IdMapping::RootIsCaller || b.gid_map != IdMapping::RootIsCaller,
            "id maps",
        ),
    ];
    if let Some((_, what)) = refused.iter().find(|(bad, _)| *bad) {
        return Err(Error::invalid(
            format!("exec_in with {what}"),
            "exec_in joins the container's own namespaces, root and maps",
        ));
    }
    if b.apparmor_profile.is_some() || b.selinux_label.is_some() {
        // As at spawn: the active LSMs are looked up only when a label asks for one.
        validate::exec_labels(&b, &crate::lsm::ActiveLsms::current())?;
    }
    let console = crate::process::connect_console(&b)?;
    let seccomp = take_seccomp(&mut b)?;
    let (parent_fds, mut child_fds) =
        lower::open_fds(&b, false, seccomp.wants_listener, false, true)?;
    let (landlock_fd, landlock) = build_landlock(&b)?;
    child_fds.landlock = landlock_fd;
    child_fds.target_root = Some(target_root(target)?);
    let host = Host::gather(&b);
    let mut plan = lower::exec_in(
        &b,
        &host,
        &child_fds,
        seccomp.program,
        target.pidfd().as_fd(),
        target.namespaces(),
        target.root_mapped(),
    );
    // The process belongs to the container's cgroup (its limits, its process
    // list): the helper is born there and the process it forks with it.
    let cgroup_fd = crate::cgroup::exec_target(target.cgroup_path())?;
    let mut args = CloneArgs::new().flags(CloneFlags::CLEAR_SIGHAND);
    if let Some(fd) = &cgroup_fd {
        args = args.into_cgroup(fd);
    }
    let report = child_fds
        .report
        .as_ref()
        .expect("open_fds always makes the report pipe")
        .as_fd();
    let (_, helper) = {
        let steps = &plan.steps;
        let labels = &plan.labels;
        let slots = &mut plan.slots;
        sys::clone_and_run(&args, || child::run(steps, labels, slots, report))?
    };
    let Plan { steps, .. } = plan;
    let features: Vec<Option<(&str, &str)>> = steps.iter().map(|s| s.feature()).collect();
    drop(steps);
    drop(child_fds);
    b.fds.clear();
    let ParentFds {
        report,
        listener_sock,
        pidfd_sock,
        terminal_sock,
        piped,
        ..
    } = parent_fds;

    // The helper sends the new process's pidfd, then exits: reap it.
    let received = pidfd_sock.map(|s| linception_seccomp_notify::recv_fd(&s).map_err(Box::new));
    let helper_status = helper.wait();
    let process = match received {
        Some(Ok(fd)) => Some(PidFd::from(fd)),
        Some(Err(e)) if matches!(*e, linception_seccomp_notify::Error::NoFdReceived { .. }) => None,
        Some(Err(e)) => return Err(Error::Seccomp(e)),
        None => None,
    };
    let guard = Guard {
        pidfd: process,
        cgroup: None,
    };
    let r = finish(
        report,
        listener_sock,
        seccomp.handler,
        seccomp.keep_listener,
        |step| features.get(step).copied().flatten(),
        None,
    );
    let r = r.and_then(|v| Ok((v, receive_terminal(terminal_sock, console)?)));
    let result = match (r, guard.pidfd.is_some()) {
        (Ok(((listener, handler), terminal)), true) => {
            let pidfd = guard.disarm().0.expect("checked just above");
            let pid = pidfd.pid()?;
            return Ok(Container::new(Parts {
                pid,
                pidfd,
                namespaces: target.namespaces(),
                root_mapped: target.root_mapped(),
                landlock,
                stdio: piped,
                listener,
                handler,
                cgroup: None,
                terminal,
            }));
        }
        (Ok(_), false) => Err(Error::syscall(
            "exec_in helper",
            std::io::Error::from_raw_os_error(libc::ECHILD),
        )),
        (Err(e), _) => Err(guard.fail(e)),
    };
    result.map_err(|e| e.with_cleanup(helper_status.err().map(Error::from)))
}

/// The builder's Landlock ruleset, built in the parent: its fd and report.
fn build_landlock(
    b: &ContainerBuilder,
) -> Result<(
    Option<OwnedFd>,
    Option<crate::landlock_ruleset::LandlockReport>,
)> {
    match &b.landlock {
        Some(l) => {
            crate::landlock_ruleset::check(l)?;
            let (fd, report) = crate::landlock_ruleset::build(l)?;
            Ok((fd, Some(report)))
        }
        None => Ok((None, None)),
    }
}

/// Reads the child's "user namespace made" byte: `Ok(false)` on EOF (it failed).
fn wait_ready(ready: OwnedFd) -> Result<bool> {
    let mut byte = [0u8; 1];
    let mut ready = File::from(ready);
    loop {
        return match ready.read(&mut byte) {
            Ok(1) => Ok(true),
            Ok(_) => Ok(false),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => Err(Error::syscall("read(ready pipe)", e)),
        };
    }
}

/// Stage 7: writes the id maps, applies the parent's knobs (limits, OOM score),
/// sends the idmapped binds, then lets the child go on (one byte on the sync pipe).
fn handshake(
    (pid, pidfd): (Pid, &PidFd),
    maps: Option<&MapWriter>,
    sync: &OwnedFd,
    tree_sock: Option<OwnedFd>,
    idmapped: &[IdmappedBind],
    maps_clock: Option<&mut u64>,
    parent_side: impl FnOnce() -> Result<()>,
) -> Result<()> {
    if let Some(maps) = maps {
        // `pid` is our child, not reaped yet: its pid cannot be reused, so the maps
        // go to /proc/PID directly (no pidfd-to-pid check through fdinfo).
        let pid = rustix::process::Pid::from_raw(pid.as_raw()).expect("a child pid is positive");
        maps.write(pid).map_err(Error::from)?;
        if let Some(t) = maps_clock {
            *t = crate::profile::now();
        }
    }
    parent_side()?;
    if let Some(sock) = tree_sock {
        let userns = pidfd.namespace(NamespaceType::User)?;
        for bind in idmapped {
            send_idmapped(bind, &userns, &sock)?;
        }
    }
    rustix::io::write(sync, &[protocol::RELEASE])
        .map(drop)
        .map_err(|e| Error::syscall("write(sync pipe)", e.into()))
}

/// Makes an idmapped copy of `bind.source` for the container's user namespace and
/// sends it to the child (it was cloned before the namespace existed).
fn send_idmapped(bind: &IdmappedBind, userns: &OwnedFd, sock: &OwnedFd) -> Result<()> {
    let mut flags = OpenTreeFlags::CLONE;
    if bind.recursive {
        flags |= OpenTreeFlags::RECURSIVE;
    }
    let tree = linception_mountapi::open_tree(rustix::fs::CWD, bind.source.as_c_str(), flags)
        .map_err(|e| mount_error(&bind.label, e))?;
    let mut attr = MountSetattr::new().idmap(userns.as_fd());
    if bind.read_only {
        attr = attr.set(linception_mountapi::MountAttr::RDONLY);
    }
    let r = if bind.recursive {
        tree.set_attr_recursive(&attr)
    } else {
        tree.set_attr(&attr)
    };
    r.map_err(|e| match e.raw_os_error() {
        Some(libc::EPERM) => Error::denied(
            bind.label.clone(),
            "an idmapped mount needs CAP_SYS_ADMIN over the user namespace that owns the \
             source's filesystem (the host's initial one for a host path)",
        ),
        Some(libc::EINVAL) => Error::invalid(
            format!("idmapped {}", bind.label),
            "the source's filesystem does not support idmapped mounts, or it is idmapped already",
        ),
        _ => mount_error(&bind.label, e),
    })?;
    linception_seccomp_notify::send_fd(sock, tree.as_fd()).map_err(|e| {
        Error::syscall(
            format!("{}: sendmsg(SCM_RIGHTS)", bind.label),
            std::io::Error::from_raw_os_error(e.raw_os_error()),
        )
    })
}

/// The container's root directory (`/proc/PID/root`, `O_PATH`), which the process
/// `exec_in` forks enters when joining the mount namespace does not put it there:
/// a container that chrooted ([`RootChange::Chroot`]) in a mount namespace it
/// shares with the caller or joined. Opened by pid, so the pidfd then says the
/// process is still the one it names (not a reused pid).
fn target_root(target: &Container) -> Result<OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    let path = format!("/proc/{}/root", target.pid().as_raw());
    let fd = rustix::fs::open(
        path.as_str(),
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::syscall(format!("open({path:?}, O_PATH|O_DIRECTORY)"), e.into()))?;
    // A zombie still holds its pid: alive, the pid was not reused.
    if !target.pidfd().is_alive()? {
        return Err(Error::syscall(
            format!("open({path:?}): the container's process is gone"),
            std::io::Error::from_raw_os_error(libc::ESRCH),
        ));
    }
    Ok(fd)
}

/// A mount API failure of the parent, named by what it was for.
pub(crate) fn mount_error(what: &str, e: linception_mountapi::Error) -> Error {
    if let linception_mountapi::Error::Unsupported {
        feature,
        min_kernel,
        ..
    } = e
    {
        return Error::Unsupported {
            feature,
            min_kernel,
        };
    }
    let errno = e.raw_os_error().unwrap_or(libc::EINVAL);
    Error::syscall(
        format!(
            "{what}: {}",
            e.to_string().rsplit_once(": ").map_or("", |(call, _)| call)
        ),
        std::io::Error::from_raw_os_error(errno),
    )
}

/// A template's preparation: [`prepare`] once, for [`spawn_prepared`] many times.
pub(crate) fn prepare_template(b: ContainerBuilder) -> Result<Prepared> {
    prepare(b, None, true)
}

/// One container of a template.
pub(crate) fn spawn_prepared(p: &mut Prepared) -> Result<Container> {
    let started = p.b.profile.then(crate::profile::now);
    run(p, None, started)
}

impl Prepared {
    /// The builder the template was made from.
    pub(crate) fn builder(&self) -> &ContainerBuilder {
        &self.b
    }
}
