//! `spawn()` in named stages: check, compile, open fds, lower, cgroup, clone,
//! handshake, finish. One [`Guard`] owns what exists once the child does (its
//! pidfd, the cgroup the spawn made) and does all cleanup on failure.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use linception_mountapi::{MountSetattr, OpenTreeFlags};
use linception_pidfd::{CloneArgs, CloneFlags, NamespaceType, Pid, PidFd, Signal};
use linception_seccomp_notify::{FilterFlags, Listener, Program};
use linception_userns::{IdMap, MapWriter, SubIds, WriteMode};

use crate::builder::{ContainerBuilder, IdMapping, Namespaces};
use crate::cgroup::CgroupGuard;
use crate::container::{Container, Parts};
use crate::error::{Errno, Error, Result};
use crate::lower::{self, BecomeRoot, Host, IdmappedBind, ParentFds, Plan};
use crate::protocol::{self, REPORT_MAX};
use crate::seccomp::Handler;
use crate::{child, sys, validate};

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

/// Stage 1's answer: what the id maps are and how the child becomes root.
struct Checked {
    maps: Option<MapWriter>,
    become_root: BecomeRoot,
    root_mapped: bool,
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
    crate::process::check(b, &crate::process::Facts::gather(&b.knobs))?;
    if let Some(cg) = &b.cgroup {
        crate::cgroup::check(cg)?;
    }
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

pub(crate) fn spawn(mut b: ContainerBuilder) -> Result<Container> {
    let ns = b.effective_namespaces();
    let checked = check(&b)?;
    let console = crate::process::connect_console(&b)?;
    let seccomp = take_seccomp(&mut b)?;
    let has_idmapped = b
        .mounts
        .iter()
        .any(|m| matches!(m.kind, crate::mount::MountKind::Bind { idmapped: true, .. }));
    let (parent_fds, child_fds) = lower::open_fds(
        &b,
        ns.contains(Namespaces::USER) || b.knobs.parent_side(),
        seccomp.wants_listener,
        has_idmapped,
        false,
    )?;
    let host = Host::gather(&b);
    let mut plan = lower::spawn(&b, &host, &child_fds, checked.become_root, seccomp.program);

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
    let (pid, pidfd) = match clone(&mut plan, ns, b.set_tid, cgroup_fd.as_ref(), &child_fds) {
        Ok(v) => v,
        Err(e) => return Err(guard.fail(e)),
    };
    guard.pidfd = Some(pidfd);
    // The child holds its own copies now.
    let Plan {
        steps,
        labels,
        idmapped,
        ..
    } = plan;
    let features: Vec<Option<(&str, &str)>> = steps.iter().map(|s| s.feature()).collect();
    drop(steps);
    drop((child_fds, cgroup_fd));
    b.fds.clear();

    let ParentFds {
        report,
        sync,
        listener_sock,
        tree_sock,
        terminal_sock,
        piped,
        ..
    } = parent_fds;
    let pidfd = guard.pidfd.as_ref().expect("set just above");
    if let Some(sync) = sync
        && let Err(e) = handshake(pidfd, checked.maps, sync, tree_sock, &idmapped, || {
            crate::process::apply_in_parent(pid, &b.knobs)
        })
    {
        return Err(guard.fail(e));
    }
    let r = finish(
        report,
        listener_sock,
        seccomp.handler,
        seccomp.keep_listener,
        |step| {
            (
                labels.get(step).cloned(),
                features.get(step).copied().flatten(),
            )
        },
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
    Ok(Container::new(Parts {
        pid,
        pidfd: pidfd.expect("the guard held it"),
        namespaces: ns,
        root_mapped: checked.root_mapped,
        stdio: piped,
        listener,
        handler,
        cgroup,
        terminal,
    }))
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
fn clone(
    plan: &mut Plan<'_>,
    ns: Namespaces,
    set_tid: Option<i32>,
    cgroup: Option<&OwnedFd>,
    fds: &lower::ChildFds,
) -> Result<(Pid, PidFd)> {
    let mut args = CloneArgs::new()
        .flags(
            CloneFlags::from_bits_retain((ns - Namespaces::TIME).bits())
                | CloneFlags::CLEAR_SIGHAND,
        )
        .set_tid(set_tid);
    if let Some(fd) = cgroup {
        args = args.into_cgroup(fd);
    }
    let report = fds
        .report
        .as_ref()
        .expect("open_fds always makes the report pipe")
        .as_fd();
    let steps = &plan.steps;
    let slots = &mut plan.slots;
    Ok(sys::clone_and_run(&args, || {
        child::run(steps, slots, report)
    })?)
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
    let flags = if parts.wants_listener {
        FilterFlags::NEW_LISTENER
    } else {
        FilterFlags::empty()
    };
    program.check_flags(flags).map_err(Error::from)?;
    parts.program = Some((program, flags));
    parts.keep_listener = sc.keep_listener;
    parts.handler = sc.handler;
    Ok(parts)
}

/// Stage 8: the seccomp listener (it comes before the report: a notifying filter
/// may trap execve), its handler, then the child's report. `step` names a step
/// and the feature it needs, for the error.
#[allow(clippy::type_complexity)]
fn finish(
    report: Option<OwnedFd>,
    listener_sock: Option<OwnedFd>,
    handler: Option<Handler>,
    keep_listener: bool,
    step: impl Fn(usize) -> (Option<String>, Option<(&'static str, &'static str)>),
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
    let mut bytes = Vec::with_capacity(REPORT_MAX);
    if let Some(report) = report {
        File::from(report)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::syscall("read(setup report pipe)", e))?;
    }
    match protocol::decode(&bytes)? {
        None => Ok((listener, handler_thread)),
        Some(r) => {
            let (label, feature) = step(r.step);
            if r.errno == libc::ENOSYS
                && let Some((feature, min_kernel)) = feature
            {
                return Err(Error::Unsupported {
                    feature,
                    min_kernel,
                });
            }
            Err(Error::Setup {
                step: label.unwrap_or_else(|| format!("setup step {}", r.step)),
                source: Errno(std::io::Error::from_raw_os_error(r.errno)),
                kernel_log: r.kernel_log,
            })
        }
    }
}

/// [`Container::exec_in`]: a helper child joins the container's namespaces through
/// its pidfd and forks the program into them as a child of the caller.
pub(crate) fn exec_in(target: &Container, mut b: ContainerBuilder) -> Result<Container> {
    validate::exec_in(&b)?;
    crate::process::check_values(&b.knobs)?;
    let refused = [
        (
            b.namespaces_chosen || b.monotonic_offset.is_some() || b.boottime_offset.is_some(),
            "namespaces",
        ),
        (b.root.is_some() || !b.mounts.is_empty(), "root/mounts"),
        (b.hostname.is_some(), "hostname"),
        (b.set_tid.is_some(), "set_tid"),
        (b.cgroup.is_some(), "cgroup"),
        (!b.knobs.rlimits.is_empty(), "rlimits"),
        (b.knobs.oom_score_adj.is_some(), "oom_score_adj"),
        (b.knobs.terminal.is_some(), "terminal"),
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
    let seccomp = take_seccomp(&mut b)?;
    let (parent_fds, child_fds) = lower::open_fds(&b, false, seccomp.wants_listener, false, true)?;
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
    let args = CloneArgs::new().flags(CloneFlags::CLEAR_SIGHAND);
    let report = child_fds
        .report
        .as_ref()
        .expect("open_fds always makes the report pipe")
        .as_fd();
    let (_, helper) = {
        let steps = &plan.steps;
        let slots = &mut plan.slots;
        sys::clone_and_run(&args, || child::run(steps, slots, report))?
    };
    let Plan { steps, labels, .. } = plan;
    let features: Vec<Option<(&str, &str)>> = steps.iter().map(|s| s.feature()).collect();
    drop(steps);
    drop(child_fds);
    b.fds.clear();
    let ParentFds {
        report,
        listener_sock,
        pidfd_sock,
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
        |step| {
            (
                labels.get(step).cloned(),
                features.get(step).copied().flatten(),
            )
        },
    );
    let result = match (r, guard.pidfd.is_some()) {
        (Ok((listener, handler)), true) => {
            let pidfd = guard.disarm().0.expect("checked just above");
            let pid = pidfd.pid()?;
            return Ok(Container::new(Parts {
                pid,
                pidfd,
                namespaces: target.namespaces(),
                root_mapped: target.root_mapped(),
                stdio: piped,
                listener,
                handler,
                cgroup: None,
                terminal: None,
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

/// Stage 7: writes the id maps, applies the parent's knobs (limits, OOM score),
/// sends the idmapped binds, then lets the child go on
/// (one byte on the sync pipe, which is closed on return).
fn handshake(
    pidfd: &PidFd,
    maps: Option<MapWriter>,
    sync: OwnedFd,
    tree_sock: Option<OwnedFd>,
    idmapped: &[IdmappedBind],
    parent_side: impl FnOnce() -> Result<()>,
) -> Result<()> {
    if let Some(maps) = maps {
        maps.write_pidfd(pidfd).map_err(Error::from)?;
    }
    parent_side()?;
    if let Some(sock) = tree_sock {
        let userns = pidfd.namespace(NamespaceType::User)?;
        for bind in idmapped {
            send_idmapped(bind, &userns, &sock)?;
        }
    }
    File::from(sync)
        .write_all(&[protocol::RELEASE])
        .map_err(|e| Error::syscall("write(sync pipe)", e))
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

/// A mount API failure of the parent, named by what it was for.
fn mount_error(what: &str, e: linception_mountapi::Error) -> Error {
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
