//! The parent's side of `spawn()`: fds, cgroup, `clone3`, id maps, the handshake.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

use linception_pidfd::{CloneArgs, CloneFlags, NamespaceType, PidFd, Signal};
use linception_seccomp_notify::{FilterFlags, Listener, Program};
use linception_userns::{IdMap, MapWriter, SubIds, WriteMode};

use crate::builder::{ContainerBuilder, IdMapping, Namespaces, Stdio};
use crate::cgroup::CgroupGuard;
use crate::container::{Container, Parts};
use crate::error::{Errno, Error, Result};
use crate::plan::{self, SpawnFds};
use crate::seccomp::Handler;
use crate::sys;
use crate::validate;

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| Error::syscall("pipe2(O_CLOEXEC)", e.into()))
}

fn socketpair() -> Result<(OwnedFd, OwnedFd)> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| Error::syscall("socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC)", e.into()))
}

/// The map of one map file.
fn resolve_map(mapping: &IdMapping, own: u32, uids: bool) -> Result<IdMap> {
    let map = match mapping {
        IdMapping::RootIsCaller => IdMap::single(0, own, 1).map_err(Error::IdMap)?,
        IdMapping::Map(map) => map.clone(),
        IdMapping::SubIds { user } => {
            let subids = if uids {
                SubIds::system_uids()
            } else {
                SubIds::system_gids()
            }
            .map_err(Error::IdMap)?;
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
            linception_userns::rootless_map(own, &ranges).map_err(Error::IdMap)?
        }
    };
    Ok(map)
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

/// Makes an idmapped copy of `bind.source` for the container's user namespace and
/// sends it to the child (it was cloned before the namespace existed).
fn send_idmapped(bind: &plan::IdmappedBind, userns: &OwnedFd, sock: &OwnedFd) -> Result<()> {
    use rustix::mount::OpenTreeFlags;
    let mut flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    if bind.recursive {
        flags |= OpenTreeFlags::AT_RECURSIVE;
    }
    let tree =
        rustix::mount::open_tree(rustix::fs::CWD, bind.source.as_c_str(), flags).map_err(|e| {
            Error::syscall(
                format!(
                    "{}: open_tree({:?}, OPEN_TREE_CLONE)",
                    bind.label, bind.source
                ),
                e.into(),
            )
        })?;
    let mut set = 0x0010_0000u64; // MOUNT_ATTR_IDMAP
    if bind.read_only {
        set |= 0x1; // MOUNT_ATTR_RDONLY
    }
    sys::mount_setattr(tree.as_raw_fd(), bind.recursive, set, 0, userns.as_raw_fd()).map_err(
        |e| {
            Error::syscall(
                format!(
                    "{}: mount_setattr(fd {}, MOUNT_ATTR_IDMAP, userns fd {})",
                    bind.label,
                    tree.as_raw_fd(),
                    userns.as_raw_fd()
                ),
                std::io::Error::from_raw_os_error(e),
            )
        },
    )?;
    sys::send_fd(sock.as_raw_fd(), tree.as_raw_fd()).map_err(|e| {
        Error::syscall(
            format!("{}: sendmsg(SCM_RIGHTS)", bind.label),
            std::io::Error::from_raw_os_error(e),
        )
    })?;
    Ok(())
}

/// A failed step as the child reported it.
struct Report {
    step: usize,
    errno: i32,
    kernel_log: Option<String>,
}

/// Reads the child's report: `None` once it exec'd (EOF), or the failed step.
fn read_report(err_r: OwnedFd) -> Result<Option<Report>> {
    let mut buf = Vec::with_capacity(12 + crate::child::LOG_MAX);
    File::from(err_r)
        .read_to_end(&mut buf)
        .map_err(|e| Error::syscall("read(setup error pipe)", e))?;
    if buf.len() < 12 {
        return Ok(None);
    }
    let word = |i: usize| [buf[i], buf[i + 1], buf[i + 2], buf[i + 3]];
    let step = u32::from_ne_bytes(word(0)) as usize;
    let errno = i32::from_ne_bytes(word(4));
    let len = (u32::from_ne_bytes(word(8)) as usize).min(buf.len() - 12);
    let log = String::from_utf8_lossy(&buf[12..12 + len])
        .trim_end()
        .to_owned();
    Ok(Some(Report {
        step,
        errno,
        kernel_log: (!log.is_empty()).then_some(log),
    }))
}

pub(crate) fn spawn(mut b: ContainerBuilder) -> Result<Container> {
    let ns = b.effective_namespaces();
    let caller = validate::Caller::current();
    let (euid, egid) = (caller.euid, caller.egid);
    // Id maps first: the checks need them (is the uid mapped?). Reading
    // /etc/subuid creates nothing.
    let maps = if ns.contains(Namespaces::USER) {
        let uid_map = resolve_map(&b.uid_map, euid, true)?;
        let gid_map = resolve_map(&b.gid_map, egid, false)?;
        Some((uid_map, gid_map, euid != 0))
    } else {
        None
    };
    // An unprivileged writer maps its own ids itself and must deny setgroups first;
    // anything wider goes through the setuid helpers, which allow setgroups.
    let own_only = |m: &IdMap, own: u32| {
        let e = m.extents()[0];
        m.len() == 1 && e.count == 1 && e.outside == own
    };
    let helpers = maps.as_ref().is_some_and(|(u, g, unprivileged)| {
        *unprivileged && !(own_only(u, euid) && own_only(g, egid))
    });
    let view = maps.as_ref().map(|(u, g, unprivileged)| validate::Maps {
        uid: u,
        gid: g,
        setgroups_denied: *unprivileged && !helpers,
    });
    validate::spawn(&b, &caller, view.as_ref())?;
    if let Some(cg) = &b.cgroup {
        crate::cgroup::check(cg)?;
    }

    let SeccompParts {
        seccomp,
        handler,
        keep_listener,
        wants_listener,
    } = take_seccomp(&mut b)?;

    // Fds the child uses; every one is O_CLOEXEC.
    let (err_r, err_w) = pipe()?;
    let sync = if ns.contains(Namespaces::USER) {
        Some(pipe()?)
    } else {
        None
    };
    let listener_socks = if wants_listener {
        Some(socketpair()?)
    } else {
        None
    };
    let has_idmapped = b
        .mounts
        .iter()
        .any(|m| matches!(m.kind, crate::mount::MountKind::Bind { idmapped: true, .. }));
    let tree_socks = if has_idmapped && ns.contains(Namespaces::USER) {
        Some(socketpair()?)
    } else {
        None
    };
    let (dev_null, piped) = stdio_fds(&b)?;

    // With 0 mapped on both sides, the child becomes root inside before its setup
    // (its ids outside may not be mapped at all); not needed when the caller's own
    // ids are what maps to 0 (it is root inside as soon as the maps are written).
    let become_root = maps.as_ref().and_then(|(u, g, deny)| {
        let mapped = u.map_down(0).is_some() && g.map_down(0).is_some();
        let already = u.map_down(0) == Some(euid) && g.map_down(0) == Some(egid);
        (mapped && !already).then_some(!deny)
    });
    let root_mapped = maps
        .as_ref()
        .map(|(u, g, _)| u.map_down(0).is_some() && g.map_down(0).is_some());
    // The userns crate writes them (setgroups "deny" first when unprivileged,
    // one write per map, through the pidfd so a reused pid is refused) and
    // explains a refusal; maps wider than one's own id need the setuid helpers
    // when the caller is unprivileged.
    let maps = maps.map(|(u, g, _)| {
        let mode = if helpers {
            WriteMode::Helpers
        } else {
            WriteMode::Auto
        };
        MapWriter::new().uid_map(u).gid_map(g).mode(mode)
    });

    let spawn_fds = SpawnFds {
        sync_r: sync.as_ref().map(|(r, _)| r.as_raw_fd()),
        listener_sock: listener_socks.as_ref().map(|(_, c)| c.as_raw_fd()),
        tree_sock: tree_socks.as_ref().map(|(_, c)| c.as_raw_fd()),
        dev_null: dev_null.as_ref().map(|f| f.as_raw_fd()),
        piped: [0, 1, 2].map(|n| piped[n].as_ref().map(|(_, c)| c.as_raw_fd())),
        become_root,
    };
    let (mut plan, parent_work) = plan::prepare(&b, &spawn_fds, seccomp)?;

    let cgroup = match &b.cgroup {
        Some(cg) => Some(crate::cgroup::prepare(cg)?),
        None => None,
    };

    let mut args = CloneArgs::new()
        .flags(
            CloneFlags::from_bits_retain((ns - Namespaces::TIME).bits())
                | CloneFlags::CLEAR_SIGHAND,
        )
        .set_tid(b.set_tid);
    if let Some((_, fd)) = &cgroup {
        args = args.into_cgroup(fd);
    }
    let err_w_raw = err_w.as_raw_fd();
    let (pid, pidfd) = match sys::clone_and_run(&args, &plan.steps, &mut plan.slots, err_w_raw) {
        Ok(r) => r,
        Err(e) => {
            let cleanup = cgroup.and_then(|(g, _)| g.remove().err());
            return Err(Error::from(e).with_cleanup(cleanup));
        }
    };
    drop(args);
    // The child holds its own copies now.
    drop(err_w);
    let sync_w = sync.map(|(_, w)| w);
    let listener_sock = listener_socks.map(|(p, _)| p);
    let tree_sock = tree_socks.map(|(p, _)| p);
    drop(dev_null);
    let parent_pipes: [Option<OwnedFd>; 3] = piped.map(|p| p.map(|(mine, _)| mine));
    b.fds.clear();
    b.stdio = [Stdio::Inherit, Stdio::Inherit, Stdio::Inherit];
    let (cgroup_guard, cgroup_fd) = match cgroup {
        Some((g, fd)) => (Some(g), Some(fd)),
        None => (None, None),
    };
    drop(cgroup_fd);

    let fail = |err: Error, pidfd: &PidFd, cgroup: Option<CgroupGuard>| -> Error {
        let mut cleanup = kill_and_reap(pidfd);
        if let Some(Err(e)) = cgroup.map(CgroupGuard::remove) {
            cleanup.get_or_insert(e);
        }
        err.with_cleanup(cleanup)
    };

    // Id maps (the child waits for them), then the idmapped binds it expects.
    if let (Some(maps), Some(sync_w)) = (maps, sync_w) {
        let r = handshake(&pidfd, maps, sync_w, tree_sock.as_ref(), &parent_work);
        if let Err(e) = r {
            return Err(fail(e, &pidfd, cgroup_guard));
        }
    }
    drop(tree_sock);

    let r = finish(&plan, err_r, listener_sock, handler, keep_listener);
    let (listener, handler_thread) = match r {
        Ok(v) => v,
        Err(e) => return Err(fail(e, &pidfd, cgroup_guard)),
    };

    let [stdin, stdout, stderr] = parent_pipes;
    let root_mapped = root_mapped.unwrap_or(false);
    Ok(Container::new(Parts {
        pid,
        pidfd,
        namespaces: ns,
        root_mapped,
        stdio: [stdin, stdout, stderr],
        listener,
        handler: handler_thread,
        cgroup: cgroup_guard,
    }))
}

/// The seccomp pieces of a builder, compiled in the parent.
struct SeccompParts {
    seccomp: Option<(Program, FilterFlags)>,
    handler: Option<Handler>,
    keep_listener: bool,
    wants_listener: bool,
}

fn take_seccomp(b: &mut ContainerBuilder) -> Result<SeccompParts> {
    let mut parts = SeccompParts {
        seccomp: None,
        handler: None,
        keep_listener: false,
        wants_listener: false,
    };
    if let Some(sc) = b.seccomp.take() {
        let program = sc.filter.compile().map_err(Error::Seccomp)?;
        if program.notifies() && !sc.wants_listener() {
            return Err(Error::invalid(
                "seccomp filter with Action::UserNotif",
                "a notifying filter needs on_notify() or keep_listener(), or the program would hang",
            ));
        }
        parts.wants_listener = sc.wants_listener();
        let flags = if parts.wants_listener {
            FilterFlags::NEW_LISTENER
        } else {
            FilterFlags::empty()
        };
        parts.seccomp = Some((program, flags));
        parts.keep_listener = sc.keep_listener;
        #[cfg(feature = "tokio")]
        if let Some(Handler::Async(_)) = &sc.handler
            && tokio::runtime::Handle::try_current().is_err()
        {
            return Err(Error::invalid(
                "Seccomp::on_notify_async",
                "spawn() must be called inside a tokio runtime to serve notifications on it",
            ));
        }
        parts.handler = sc.handler;
    }
    Ok(parts)
}

/// `/dev/null` if a stream wants it, and (parent end, child end) of piped streams.
#[allow(clippy::type_complexity)]
fn stdio_fds(b: &ContainerBuilder) -> Result<(Option<OwnedFd>, [Option<(OwnedFd, OwnedFd)>; 3])> {
    let dev_null = if b.stdio.iter().any(|s| matches!(s, Stdio::Null)) {
        Some(
            rustix::fs::open(
                "/dev/null",
                rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(|e| Error::syscall("open(\"/dev/null\", O_RDWR)", e.into()))?,
        )
    } else {
        None
    };
    let mut piped: [Option<(OwnedFd, OwnedFd)>; 3] = [None, None, None];
    for (n, s) in b.stdio.iter().enumerate() {
        if matches!(s, Stdio::Piped) {
            let (r, w) = pipe()?;
            piped[n] = Some(if n == 0 { (w, r) } else { (r, w) });
        }
    }
    Ok((dev_null, piped))
}

/// The end of a spawn: the seccomp listener (it comes before the report: a
/// notifying filter may trap execve), its handler thread, then the child's report.
fn finish(
    plan: &plan::Plan,
    err_r: OwnedFd,
    listener_sock: Option<OwnedFd>,
    handler: Option<Handler>,
    keep_listener: bool,
) -> Result<(Option<Listener>, Option<std::thread::JoinHandle<()>>)> {
    let mut listener = None;
    if let Some(sock) = listener_sock {
        let fd = sys::recv_fd(sock.as_raw_fd())
            .map_err(|e| Error::syscall("recvmsg(seccomp listener socket)", e))?;
        listener = fd.map(Listener::new);
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
    match read_report(err_r)? {
        None => Ok((listener, handler_thread)),
        Some(Report {
            step,
            errno,
            kernel_log,
        }) => {
            if errno == libc::ENOSYS
                && let Some((feature, min_kernel)) = plan.steps.get(step).and_then(|s| s.feature())
            {
                return Err(Error::Unsupported {
                    feature,
                    min_kernel,
                });
            }
            let label = plan
                .labels
                .get(step)
                .cloned()
                .unwrap_or_else(|| format!("setup step {step}"));
            Err(Error::Setup {
                step: label,
                source: Errno(std::io::Error::from_raw_os_error(errno)),
                kernel_log,
            })
        }
    }
}

/// [`Container::exec_in`]: a helper child joins the container's namespaces through
/// its pidfd and forks the program into them as a child of the caller.
pub(crate) fn exec_in(target: &Container, mut b: ContainerBuilder) -> Result<Container> {
    validate::exec_in(&b)?;
    let refused = [
        (
            b.namespaces_chosen || b.monotonic_offset.is_some() || b.boottime_offset.is_some(),
            "namespaces",
        ),
        (b.root.is_some() || !b.mounts.is_empty(), "root/mounts"),
        (b.hostname.is_some(), "hostname"),
        (b.set_tid.is_some(), "set_tid"),
        (b.cgroup.is_some(), "cgroup"),
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
    let SeccompParts {
        seccomp,
        handler,
        keep_listener,
        wants_listener,
    } = take_seccomp(&mut b)?;
    let (err_r, err_w) = pipe()?;
    let (pidfd_mine, pidfd_child) = socketpair()?;
    let listener_socks = if wants_listener {
        Some(socketpair()?)
    } else {
        None
    };
    let (dev_null, piped) = stdio_fds(&b)?;
    let spawn_fds = SpawnFds {
        sync_r: None,
        listener_sock: listener_socks.as_ref().map(|(_, c)| c.as_raw_fd()),
        tree_sock: None,
        dev_null: dev_null.as_ref().map(|f| f.as_raw_fd()),
        piped: [0, 1, 2].map(|n| piped[n].as_ref().map(|(_, c)| c.as_raw_fd())),
        become_root: None,
    };
    let mut plan = plan::prepare_exec_in(
        &b,
        &spawn_fds,
        seccomp,
        target.pidfd().as_raw_fd(),
        target.namespaces(),
        pidfd_child.as_raw_fd(),
        target.root_mapped(),
    )?;
    let args = CloneArgs::new().flags(CloneFlags::CLEAR_SIGHAND);
    let (_, helper) = sys::clone_and_run(&args, &plan.steps, &mut plan.slots, err_w.as_raw_fd())?;
    drop((err_w, pidfd_child, dev_null));
    let listener_sock = listener_socks.map(|(p, _)| p);
    let parent_pipes: [Option<OwnedFd>; 3] = piped.map(|p| p.map(|(mine, _)| mine));
    b.fds.clear();

    // The helper sends the new process's pidfd, then exits: reap it.
    let received = sys::recv_fd(pidfd_mine.as_raw_fd());
    let helper_status = helper.wait();
    let process = match received {
        Ok(Some(fd)) => Some(PidFd::from(fd)),
        Ok(None) => None,
        Err(e) => return Err(Error::syscall("recvmsg(exec_in pidfd socket)", e)),
    };
    let r = finish(&plan, err_r, listener_sock, handler, keep_listener);
    let result = match (r, process) {
        (Ok((listener, thread)), Some(pidfd)) => {
            let pid = pidfd.pid()?;
            let [stdin, stdout, stderr] = parent_pipes;
            return Ok(Container::new(Parts {
                pid,
                pidfd,
                namespaces: target.namespaces(),
                root_mapped: target.root_mapped(),
                stdio: [stdin, stdout, stderr],
                listener,
                handler: thread,
                cgroup: None,
            }));
        }
        (Ok(_), None) => Err(Error::syscall(
            "exec_in helper",
            std::io::Error::from_raw_os_error(libc::ECHILD),
        )),
        (Err(e), Some(pidfd)) => Err(e.with_cleanup(kill_and_reap(&pidfd))),
        (Err(e), None) => Err(e),
    };
    result.map_err(|e| e.with_cleanup(helper_status.err().map(Error::from)))
}

/// Writes the id maps, sends the idmapped binds, then lets the child go on (one
/// byte on the sync pipe, which is closed on return).
fn handshake(
    pidfd: &PidFd,
    maps: MapWriter,
    sync_w: OwnedFd,
    tree_sock: Option<&OwnedFd>,
    work: &plan::ParentWork,
) -> Result<()> {
    maps.write_pidfd(pidfd).map_err(Error::IdMap)?;
    if let Some(sock) = tree_sock {
        let userns = pidfd.namespace(NamespaceType::User)?;
        for bind in &work.idmapped {
            send_idmapped(bind, &userns, sock)?;
        }
    }
    File::from(sync_w)
        .write_all(&[1])
        .map_err(|e| Error::syscall("write(sync pipe)", e))
}
