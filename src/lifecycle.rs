//! The OCI lifecycle: a container *created* (everything up to `execve` done, its
//! init blocked) and *started* later, possibly by another process; the state it is
//! in; how another process finds it again; and the hooks run at each moment.
//!
//! # States
//!
//! | state | meaning | `start` | `signal`/`kill` | `wait` | `destroy` |
//! |---|---|---|---|---|---|
//! | creating | inside [`ContainerBuilder::create`](crate::ContainerBuilder::create) | - | - | - | - |
//! | [`State::Created`] | the init waits on the start socket, before `execve` | runs it | the init gets it | blocks until it exits | kills, reaps, removes |
//! | [`State::Running`] | the program runs | error | the program gets it | its exit status | kills, reaps, removes |
//! | [`State::Stopped`] | the init exited | error | nothing (not an error) | its exit status | removes what is left |
//!
//! # The rendezvous
//!
//! The creating process binds a unix socket at a path the caller chooses (the
//! *start socket*) and hands its listening fd to the init, which, after every setup
//! step, tells the creator "created" and blocks in `accept`. Starting is connecting:
//! the init accepts, the connection becomes its report channel, and it goes on to
//! `execve`. The starter reads the connection: end of file means the program is
//! running (the init's end is close-on-exec); anything else is the report of the
//! step that failed after the start (the seccomp filter, `execve`). Only who may
//! connect to the socket (its file permissions) may start the container; a dead
//! init refuses the connection. The socket file is removed once started, so its
//! presence, with a live init, is what "created" means to another process.
//!
//! The init survives its creator: no parent-death signal is set, so when the
//! creating process exits the init is reparented (to a subreaper or init) and goes
//! on waiting. Another process finds it again through its [`ContainerId`], the pid
//! *and* the start time: [`ContainerId::open`] opens a fresh pidfd and checks that
//! the process behind it started when the container did, so a reused pid is never
//! mistaken for the container.
#![forbid(unsafe_code)]

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use linception_pidfd::{Pid, PidFd, PidfdFlags};

use crate::error::{Error, Result};

/// Where a container is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Being created ([`ContainerBuilder::create`](crate::ContainerBuilder::create) has not returned).
    Creating,
    /// Created: the init waits for [`Container::start`](crate::Container::start).
    Created,
    /// The program runs.
    Running,
    /// The init has exited.
    Stopped,
}

impl State {
    /// The OCI name: `creating`, `created`, `running`, `stopped`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Creating => "creating",
            State::Created => "created",
            State::Running => "running",
            State::Stopped => "stopped",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The moments hooks run at, as the OCI runtime spec names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HookPoint {
    /// After the namespaces and mounts exist, before `pivot_root`; a command runs in
    /// the runtime's (the caller's) namespaces. A failure fails the create.
    CreateRuntime,
    /// Right after [`CreateRuntime`](HookPoint::CreateRuntime); a command runs in the
    /// container's namespaces (its mount namespace still shows the tree before
    /// `pivot_root`). A failure fails the create.
    CreateContainer,
    /// At the start, before the program's `execve`; a command runs in the
    /// container's namespaces (after `pivot_root`: paths are the container's). A
    /// failure fails the start and stops the container.
    StartContainer,
    /// After the program started; a command runs in the runtime's namespaces. A
    /// failure is a warning ([`Container::warnings`](crate::Container::warnings)).
    PostStart,
    /// After the container was destroyed; a command runs in the runtime's
    /// namespaces. A failure is a warning.
    PostStop,
}

impl HookPoint {
    /// The OCI name (`createRuntime`...).
    pub fn as_str(self) -> &'static str {
        match self {
            HookPoint::CreateRuntime => "createRuntime",
            HookPoint::CreateContainer => "createContainer",
            HookPoint::StartContainer => "startContainer",
            HookPoint::PostStart => "poststart",
            HookPoint::PostStop => "poststop",
        }
    }

    /// Whether a command hook at this point runs in the container's namespaces.
    fn in_container(self) -> bool {
        matches!(self, HookPoint::CreateContainer | HookPoint::StartContainer)
    }
}

/// What a hook is told: the OCI state of the container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookState {
    /// The container's id ([`ContainerBuilder::state_info`](crate::ContainerBuilder::state_info)).
    pub id: String,
    /// Its bundle directory, if any.
    pub bundle: PathBuf,
    /// Its annotations.
    pub annotations: Vec<(String, String)>,
    /// The init's pid, in the caller's pid namespace.
    pub pid: Option<Pid>,
    /// The state at the hook's moment.
    pub status: State,
}

impl HookState {
    /// The state as the OCI runtime spec's JSON document (what a command hook reads
    /// on its standard input).
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\"ociVersion\":\"1.2.1\",\"id\":");
        json_string(&mut out, &self.id);
        out.push_str(",\"status\":\"");
        out.push_str(self.status.as_str());
        out.push('"');
        if let Some(pid) = self.pid {
            out.push_str(&format!(",\"pid\":{}", pid.as_raw()));
        }
        out.push_str(",\"bundle\":");
        json_string(&mut out, &self.bundle.to_string_lossy());
        out.push_str(",\"annotations\":{");
        for (i, (k, v)) in self.annotations.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_string(&mut out, k);
            out.push(':');
            json_string(&mut out, v);
        }
        out.push_str("}}");
        out
    }
}

/// Appends `s` as a JSON string.
fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A function hook: runs in the calling process, gets the state, and fails with a
/// message.
pub type HookFn = Arc<dyn Fn(&HookState) -> std::result::Result<(), String> + Send + Sync>;

/// Code run at a [`HookPoint`]: a function of the embedder, or a command (an OCI
/// hook) that gets the state as JSON on its standard input.
///
/// ```
/// use linception::{Container, Hook, HookPoint};
/// use std::time::Duration;
///
/// let b = Container::builder("/bin/true")
///     .state_info("box-1", "/srv/bundles/box-1")
///     .hook(HookPoint::CreateRuntime, Hook::function(|state| {
///         println!("{} is {}", state.id, state.status);
///         Ok(())
///     }))
///     .hook(
///         HookPoint::PostStop,
///         Hook::command("/usr/bin/logger").args(["-t", "box"]).timeout(Duration::from_secs(5)),
///     );
/// # let _ = b;
/// ```
#[derive(Clone)]
pub struct Hook {
    pub(crate) kind: HookKind,
}

#[derive(Clone)]
pub(crate) enum HookKind {
    Function(HookFn),
    Command {
        path: PathBuf,
        args: Vec<String>,
        env: Vec<(String, String)>,
        timeout: Option<Duration>,
    },
}

impl fmt::Debug for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            HookKind::Function(_) => f.write_str("Hook::function(..)"),
            HookKind::Command { path, args, .. } => f
                .debug_struct("Hook::command")
                .field("path", path)
                .field("args", args)
                .finish_non_exhaustive(),
        }
    }
}

impl Hook {
    /// A function of the caller's, run in the calling process (whatever the point).
    pub fn function(
        f: impl Fn(&HookState) -> std::result::Result<(), String> + Send + Sync + 'static,
    ) -> Hook {
        Hook {
            kind: HookKind::Function(Arc::new(f)),
        }
    }

    /// A program (an absolute path) started with the state as JSON on its standard
    /// input, in the namespaces the point says; a non-zero exit or a timeout fails
    /// the hook. Arguments and environment start empty.
    pub fn command(path: impl Into<PathBuf>) -> Hook {
        Hook {
            kind: HookKind::Command {
                path: path.into(),
                args: Vec::new(),
                env: Vec::new(),
                timeout: None,
            },
        }
    }

    /// Command: its arguments (after the program itself as `argv[0]`).
    pub fn args<I, S>(mut self, args: I) -> Hook
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if let HookKind::Command { args: a, .. } = &mut self.kind {
            a.extend(args.into_iter().map(Into::into));
        }
        self
    }

    /// Command: an environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Hook {
        if let HookKind::Command { env, .. } = &mut self.kind {
            env.push((key.into(), value.into()));
        }
        self
    }

    /// Command: killed and failed after this long.
    pub fn timeout(mut self, timeout: Duration) -> Hook {
        if let HookKind::Command { timeout: t, .. } = &mut self.kind {
            *t = Some(timeout);
        }
        self
    }
}

/// Checks the hooks of a builder (an absolute command path, a non-zero timeout).
pub(crate) fn check(hooks: &[(HookPoint, Hook)]) -> Result<()> {
    for (point, hook) in hooks {
        if let HookKind::Command { path, timeout, .. } = &hook.kind {
            if !path.is_absolute() {
                return Err(Error::invalid(
                    format!("{} hook command {path:?}", point.as_str()),
                    "a hook command is an absolute path",
                ));
            }
            if *timeout == Some(Duration::ZERO) {
                return Err(Error::invalid(
                    format!("{} hook timeout 0", point.as_str()),
                    "a hook timeout is longer than zero",
                ));
            }
        }
    }
    Ok(())
}

/// Runs every hook of `point` in order; the first failure ends the run. `target`
/// is the container, for commands that run in its namespaces.
pub(crate) fn run(
    hooks: &[(HookPoint, Hook)],
    point: HookPoint,
    state: &HookState,
    target: &crate::Container,
) -> Result<()> {
    for (p, hook) in hooks {
        if *p != point {
            continue;
        }
        let r = match &hook.kind {
            HookKind::Function(f) => f(state),
            HookKind::Command {
                path,
                args,
                env,
                timeout,
            } => command(point, path, args, env, *timeout, state, target),
        };
        if let Err(why) = r {
            return Err(Error::Hook {
                point: point.as_str(),
                why,
            });
        }
    }
    Ok(())
}

/// Runs every hook of `point` whose failure is a warning (`poststart`, `poststop`):
/// a failed hook does not keep the next ones from running, as the spec orders
/// ("the remaining hooks and lifecycle continue as if the hook had succeeded").
/// Returns one error per failed hook, in order.
pub(crate) fn run_all(
    hooks: &[(HookPoint, Hook)],
    point: HookPoint,
    state: &HookState,
    target: &crate::Container,
) -> Vec<Error> {
    hooks
        .iter()
        .filter(|(p, _)| *p == point)
        .filter_map(|entry| run(std::slice::from_ref(entry), point, state, target).err())
        .collect()
}

/// Runs a command hook; `Err` says why it failed.
fn command(
    point: HookPoint,
    path: &Path,
    args: &[String],
    env: &[(String, String)],
    timeout: Option<Duration>,
    state: &HookState,
    target: &crate::Container,
) -> std::result::Result<(), String> {
    let json = state.to_json();
    let shown = path.display();
    let (pidfd, stdin) = if point.in_container() {
        let mut b = crate::ContainerBuilder::new(path)
            .args(args)
            .env_clear()
            .stdin(crate::Stdio::Piped);
        for (k, v) in env {
            b = b.env(k, v);
        }
        let mut c = target
            .exec_in(b)
            .map_err(|e| format!("{shown} in the container: {e}"))?;
        let stdin = c
            .take_stdin()
            .map(|s| std::fs::File::from(std::os::fd::OwnedFd::from(s)));
        let pidfd = c
            .detach_pidfd()
            .map_err(|e| format!("{shown} in the container: {e}"))?;
        (pidfd, stdin)
    } else {
        let mut child = std::process::Command::new(path)
            .args(args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("{shown}: {e}"))?;
        let pid = Pid::from_raw(child.id() as i32).ok_or("no pid")?;
        // Our unreaped child: its pid cannot have been reused.
        let pidfd = PidFd::open(pid, PidfdFlags::empty()).map_err(|e| format!("{shown}: {e}"))?;
        let stdin = child
            .stdin
            .take()
            .map(|s| std::fs::File::from(std::os::fd::OwnedFd::from(s)));
        (pidfd, stdin)
    };
    if let Some(mut stdin) = stdin {
        // A hook that does not read its state may close stdin early: not a failure.
        let _ = stdin.write_all(json.as_bytes());
    }
    let status = match timeout {
        Some(t) => match pidfd.wait_timeout(t) {
            Ok(Some(st)) => st,
            Ok(None) => {
                let _ = pidfd.send_signal(linception_pidfd::Signal::KILL);
                let _ = pidfd.wait();
                return Err(format!("{shown} timed out after {t:?}"));
            }
            Err(e) => return Err(format!("{shown}: {e}")),
        },
        None => pidfd.wait().map_err(|e| format!("{shown}: {e}"))?,
    };
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} ended with {status:?}"))
    }
}

/// How another process finds a container again: its init's pid and start time
/// (clock ticks after boot, `/proc/PID/stat` field 22), and its start socket.
/// Displays and parses as `pid:start_time:socket_path`, to be kept in a state file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ContainerId {
    /// The init's pid in the caller's pid namespace.
    pub pid: Pid,
    /// The init's start time, which tells it apart from a later process of the same pid.
    pub start_time: u64,
    /// The start socket (its file exists while the container is created).
    pub socket: PathBuf,
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.pid.as_raw(),
            self.start_time,
            self.socket.display()
        )
    }
}

impl FromStr for ContainerId {
    type Err = Error;

    fn from_str(s: &str) -> Result<ContainerId> {
        let bad = || Error::invalid(format!("container id {s:?}"), "not pid:start_time:socket");
        let mut parts = s.splitn(3, ':');
        let pid = parts.next().and_then(|p| p.parse::<i32>().ok());
        let start = parts.next().and_then(|p| p.parse::<u64>().ok());
        let socket = parts.next().filter(|p| p.starts_with('/'));
        match (pid.and_then(Pid::from_raw), start, socket) {
            (Some(pid), Some(start_time), Some(socket)) => Ok(ContainerId {
                pid,
                start_time,
                socket: socket.into(),
            }),
            _ => Err(bad()),
        }
    }
}

/// The start time of `pid` (`/proc/PID/stat` field 22), if it exists.
pub(crate) fn start_time(pid: Pid) -> Option<u64> {
    // One read: the line is some 52 numbers and the command's short name.
    let mut path = [0u8; 32];
    let path = crate::procfs::pid_path(&mut path, pid, "stat")?;
    let mut buf = [0u8; 2048];
    let stat = crate::procfs::read_proc(path, &mut buf)?;
    // The command name (field 2) may hold spaces and parentheses: skip past its end.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

impl ContainerId {
    /// Opens a handle on the container from any process: a fresh pidfd of `pid`,
    /// checked to be the process that started at `start_time` (read after the pidfd
    /// is open, while it pins the process), so that a reused pid is refused
    /// ([`Error::Gone`]). The handle does not own the container: dropping it leaves
    /// the container alone, and [`Container::wait`](crate::Container::wait) of a
    /// process that is not the caller's child reads the exit status through the
    /// pidfd (`PIDFD_INFO_EXIT`, Linux 6.15). Its
    /// [`namespaces`](crate::Container::namespaces) are those the init does not share
    /// with the caller (from `/proc/PID/ns`), so that
    /// [`exec_in`](crate::Container::exec_in) joins them.
    ///
    /// # Errors
    /// [`Error::Gone`] when no process of that pid and start time exists; a failed
    /// `pidfd_open`.
    pub fn open(&self) -> Result<crate::Container> {
        let gone = || Error::Gone {
            id: self.to_string(),
        };
        let pidfd = match PidFd::open(self.pid, PidfdFlags::empty()) {
            Ok(fd) => fd,
            Err(e) if e.is_process_gone() => return Err(gone()),
            Err(e) => return Err(e.into()),
        };
        // What /proc says of the namespaces is read first, then the start time: if it
        // is still ours, the pidfd and what was read are the container's (a reused
        // pid has a later start time).
        let (namespaces, root_mapped) = namespaces_of(self.pid);
        if start_time(self.pid) != Some(self.start_time) {
            return Err(gone());
        }
        Ok(crate::Container::found(
            self.clone(),
            pidfd,
            namespaces,
            root_mapped,
        ))
    }
}

/// The namespaces `pid` does not share with the caller (`/proc/PID/ns/*` against
/// `/proc/self/ns/*`, by device and inode), and whether uid and gid 0 are mapped in
/// its user namespace when that is not the caller's. A namespace that cannot be read
/// (the process exited) counts as shared.
pub(crate) fn namespaces_of(pid: Pid) -> (crate::Namespaces, bool) {
    use crate::Namespaces as N;
    use std::os::unix::fs::MetadataExt;
    let kinds = [
        ("user", N::USER),
        ("mnt", N::MOUNT),
        ("pid", N::PID),
        ("uts", N::UTS),
        ("ipc", N::IPC),
        ("net", N::NET),
        ("cgroup", N::CGROUP),
        ("time", N::TIME),
    ];
    let mut ns = N::empty();
    for (name, flag) in kinds {
        let theirs = std::fs::metadata(format!("/proc/{}/ns/{name}", pid.as_raw()));
        let ours = std::fs::metadata(format!("/proc/self/ns/{name}"));
        if let (Ok(t), Ok(o)) = (theirs, ours)
            && (t.dev(), t.ino()) != (o.dev(), o.ino())
        {
            ns |= flag;
        }
    }
    let maps_root = |file: &str| {
        std::fs::read_to_string(format!("/proc/{}/{file}", pid.as_raw()))
            .map(|m| root_in_map(&m))
            .unwrap_or(false)
    };
    let root_mapped = ns.contains(N::USER) && maps_root("uid_map") && maps_root("gid_map");
    (ns, root_mapped)
}

/// Whether the text of a `uid_map`/`gid_map` maps id 0 inside (an extent starting at 0).
fn root_in_map(map: &str) -> bool {
    map.lines().any(|l| {
        let mut f = l.split_whitespace();
        f.next() == Some("0") && f.nth(1).is_some_and(|n| n != "0")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_document_is_the_specs_json() {
        let state = HookState {
            id: "box \"1\"".into(),
            bundle: "/srv/b".into(),
            annotations: vec![("k".into(), "v\n".into())],
            pid: Pid::from_raw(42),
            status: State::Created,
        };
        assert_eq!(
            state.to_json(),
            r#"{"ociVersion":"1.2.1","id":"box \"1\"","status":"created","pid":42,"bundle":"/srv/b","annotations":{"k":"v\n"}}"#
        );
    }

    #[test]
    fn ids_round_trip_and_bad_ones_are_named() {
        let id = ContainerId {
            pid: Pid::from_raw(7).unwrap(),
            start_time: 123,
            socket: "/run/x/start.sock".into(),
        };
        assert_eq!(id.to_string(), "7:123:/run/x/start.sock");
        assert_eq!(id.to_string().parse::<ContainerId>().unwrap(), id);
        for bad in ["", "7", "7:x:/s", "0:1:/s", "7:1:relative"] {
            let e = bad.parse::<ContainerId>().unwrap_err();
            assert!(e.to_string().contains("container id"), "{e}");
        }
    }

    #[test]
    fn a_map_maps_root_when_an_extent_starts_at_zero() {
        assert!(root_in_map("         0       1000          1\n"));
        assert!(root_in_map("1 2000 5\n0 1000 1\n"));
        assert!(!root_in_map("1 1000 1\n"));
        assert!(!root_in_map(""));
    }

    #[test]
    fn the_callers_own_namespaces_are_shared() {
        let me = Pid::from_raw(std::process::id() as i32).unwrap();
        assert_eq!(namespaces_of(me), (crate::Namespaces::empty(), false));
    }

    #[test]
    fn start_times_come_from_proc() {
        let me = Pid::from_raw(std::process::id() as i32).unwrap();
        // Field 22 of the whole file, read as a string (the name here has no space).
        let text = std::fs::read_to_string(format!("/proc/{}/stat", me.as_raw())).unwrap();
        let field = text.split(' ').nth(21).unwrap().parse().unwrap();
        assert_eq!(start_time(me), Some(field));
        assert_eq!(start_time(Pid::from_raw(i32::MAX).unwrap()), None);
    }

    #[test]
    fn hook_commands_are_checked() {
        let e = check(&[(HookPoint::PostStop, Hook::command("rel/x"))]).unwrap_err();
        assert!(e.to_string().contains("poststop hook command"), "{e}");
        let hook = Hook::command("/bin/true").timeout(Duration::ZERO);
        let e = check(&[(HookPoint::CreateRuntime, hook)]).unwrap_err();
        assert!(e.to_string().contains("timeout"), "{e}");
    }
}
