//! `exec`: another process in a running container, as runc's `exec` runs it.
//!
//! The process is the `--process FILE` document (a runtime-spec `process` object,
//! as containerd's shim writes it), or the bundle's `process` with the command
//! line's changes (`ARGS`, `-e`, `--cwd`, `-u`, `--additional-gids`, `--cap`,
//! `--no-new-privs`, `-t`, `--apparmor`, `--process-label`). It goes through the same
//! mapping as the container's own process ([`config::process_builder`]), then into
//! the container with [`linception::Container::exec_in`] on the handle found by id:
//! one `setns` through the init's pidfd into every namespace it does not share with
//! the caller. `--preserve-fds N` passes the runtime's fds 3 to 3+N-1 on
//! ([`crate::fds`]); the container's seccomp filter binds the process, and a
//! notifying one's listener goes to the agent ([`crate::notify`]).
//!
//! # References
//! - [runtime.md](https://github.com/opencontainers/runtime-spec/blob/main/runtime.md),
//!   [config.md#process](https://github.com/opencontainers/runtime-spec/blob/main/config.md#process)

use std::path::{Path, PathBuf};

use linception::{SessionKeyring, State, Terminal};
use oci_spec::runtime::{Process, Spec};
use serde_json::{Value, json};

use crate::config::{self, Options};
use crate::state::Store;
use crate::{Error, Result};

/// What `exec`'s command line says.
#[derive(Clone, Debug, Default)]
pub struct ExecOptions {
    /// The container's id.
    pub id: String,
    /// `--process FILE`: the process document (then `args` must be empty).
    pub process_file: Option<PathBuf>,
    /// The program and its arguments (without `--process`).
    pub args: Vec<String>,
    /// `-t`/`--tty`: a terminal for the process (without `--process`).
    pub tty: bool,
    /// `--console-socket`: where the terminal's master goes.
    pub console_socket: Option<PathBuf>,
    /// `-d`/`--detach`: leave the process running and return.
    pub detach: bool,
    /// `--pid-file`: the process's pid is written there.
    pub pid_file: Option<PathBuf>,
    /// `-e K=V`: more environment (after the config's).
    pub env: Vec<String>,
    /// `--cwd`: the working directory.
    pub cwd: Option<String>,
    /// `-u UID[:GID]`.
    pub user: Option<String>,
    /// `--additional-gids G` (each may be a comma-separated list).
    pub additional_gids: Vec<String>,
    /// `--cap C`: added to every capability set.
    pub caps: Vec<String>,
    /// `--no-new-privs`.
    pub no_new_privs: bool,
    /// `--apparmor`: the process's AppArmor profile.
    pub apparmor: Option<String>,
    /// `--process-label`: the process's SELinux label.
    pub process_label: Option<String>,
    /// `--preserve-fds N`: fds 3..3+N passed on.
    pub preserve_fds: u32,
}

/// The process document `exec` runs, as JSON: the `--process` file, or the bundle's
/// `process` changed as the command line says (as runc does: the terminal off unless
/// `-t`, the capabilities of `--cap` added to every set, `-e` appended).
///
/// # Errors
/// [`Error::Usage`] for a bad command line, [`Error::Io`]/[`Error::Config`] for an
/// unreadable or bad document.
pub fn process_document(opts: &ExecOptions, bundle: &Path) -> Result<Value> {
    if let Some(file) = &opts.process_file {
        if !opts.args.is_empty() {
            return Err(Error::Usage(
                "exec: --process and a command line are exclusive".into(),
            ));
        }
        let text = std::fs::read_to_string(file).map_err(|e| Error::io("read", file, e))?;
        return serde_json::from_str(&text)
            .map_err(|e| Error::Usage(format!("--process {}: {e}", file.display())));
    }
    if opts.args.is_empty() {
        return Err(Error::Usage(
            "exec: needs a command (ID COMMAND [ARGS...]) or --process FILE".into(),
        ));
    }
    let cfg = bundle.join("config.json");
    let text = std::fs::read_to_string(&cfg).map_err(|e| Error::io("read", &cfg, e))?;
    let spec: Value =
        serde_json::from_str(&text).map_err(|e| Error::config("config.json", e.to_string()))?;
    let mut p = spec
        .get("process")
        .cloned()
        .ok_or_else(|| Error::config("process", "missing in the bundle's config"))?;
    p["args"] = json!(opts.args);
    p["terminal"] = json!(opts.tty);
    if let Some(cwd) = &opts.cwd {
        p["cwd"] = json!(cwd);
    }
    if let Some(a) = &opts.apparmor {
        p["apparmorProfile"] = json!(a);
    }
    if let Some(l) = &opts.process_label {
        p["selinuxLabel"] = json!(l);
    }
    if !opts.caps.is_empty() {
        if !p["capabilities"].is_object() {
            p["capabilities"] = json!({});
        }
        for set in [
            "bounding",
            "effective",
            "inheritable",
            "permitted",
            "ambient",
        ] {
            let list = &mut p["capabilities"][set];
            if !list.is_array() {
                *list = json!([]);
            }
            let list = list.as_array_mut().expect("made an array just above");
            for c in &opts.caps {
                let c = c.to_ascii_uppercase();
                let c = if c.starts_with("CAP_") {
                    c
                } else {
                    format!("CAP_{c}")
                };
                if !list.iter().any(|v| v == c.as_str()) {
                    list.push(json!(c));
                }
            }
        }
    }
    if !opts.env.is_empty() {
        if !p["env"].is_array() {
            p["env"] = json!([]);
        }
        let list = p["env"].as_array_mut().expect("made an array just above");
        list.extend(opts.env.iter().map(|e| json!(e)));
    }
    if opts.no_new_privs {
        p["noNewPrivileges"] = json!(true);
    }
    if let Some(u) = &opts.user {
        let (uid, gid) = match u.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (u.as_str(), None),
        };
        let num = |s: &str| {
            s.parse::<u32>()
                .map_err(|_| Error::Usage(format!("--user {u}: not UID[:GID] in numbers")))
        };
        if !p["user"].is_object() {
            p["user"] = json!({"uid": 0, "gid": 0});
        }
        p["user"]["uid"] = json!(num(uid)?);
        if let Some(g) = gid {
            p["user"]["gid"] = json!(num(g)?);
        }
    }
    if !opts.additional_gids.is_empty() {
        let mut gids = Vec::new();
        for g in opts.additional_gids.iter().flat_map(|g| g.split(',')) {
            gids.push(
                g.trim()
                    .parse::<u32>()
                    .map_err(|_| Error::Usage(format!("--additional-gids {g}: not a number")))?,
            );
        }
        if !p["user"].is_object() {
            p["user"] = json!({"uid": 0, "gid": 0});
        }
        p["user"]["additionalGids"] = json!(gids);
    }
    Ok(p)
}

/// The process `exec` runs, as [`process_builder`] makes it.
#[derive(Debug)]
#[non_exhaustive]
pub struct ExecProcess {
    /// The process's builder.
    pub builder: linception::ContainerBuilder,
    /// The OOM score it is to have (which the caller takes on itself first, so
    /// that the process inherits it).
    pub oom_score_adj: Option<i32>,
    /// What the document asks and the runtime leaves out, as the runtime spec
    /// says (capabilities that cannot be granted), for the caller to report.
    pub warnings: Vec<String>,
}

/// The process to exec ([`ExecProcess`]).
///
/// Every field of the document is honoured or refused by name: the mapping is the
/// container's own ([`config::process_builder`]), exec labels included
/// (`apparmorProfile`, `selinuxLabel`: the process writes its own exec attribute
/// once it has joined the container, as runc's exec does; where the module is not
/// active, [`exec_labels`] names the field before anything runs).
///
/// # Errors
/// [`Error::Config`] naming the refused field.
pub fn process_builder(
    doc: &Value,
    opts: &ExecOptions,
    spec: Option<&Spec>,
) -> Result<ExecProcess> {
    let mut doc = doc.clone();
    let oom = match doc.as_object_mut().and_then(|o| o.remove("oomScoreAdj")) {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .filter(|n| (-1000..=1000).contains(n))
                .ok_or_else(|| Error::config("process.oomScoreAdj", "not in -1000..=1000"))?,
        ),
    };
    let terminal = doc.get("terminal").and_then(Value::as_bool) == Some(true);
    // In the foreground without a console socket, the terminal's master comes back
    // here and the runtime copies it to its own stdio (as runc does).
    let to_handle = terminal && opts.console_socket.is_none();
    if to_handle {
        if opts.detach {
            return Err(Error::Usage(
                "exec --detach with a terminal needs --console-socket".into(),
            ));
        }
        doc["terminal"] = json!(false);
    }
    let process: Process =
        serde_json::from_value(doc).map_err(|e| Error::config("process", e.to_string()))?;
    let o = Options {
        id: opts.id.clone(),
        bundle: PathBuf::new(),
        console_socket: opts.console_socket.clone(),
        no_pivot: false,
    };
    let (mut b, warnings) = match spec {
        Some(spec) => (
            config::exec_process_builder(&process, &o, spec)?,
            config::capability_warnings(&process, spec),
        ),
        None => (config::process_builder(&process, &o)?, Vec::new()),
    };
    if to_handle {
        b = b.terminal(Terminal::Handle);
    }
    // As the container's own process: not the caller's session keyring.
    b = b.session_keyring(SessionKeyring::Anonymous);
    Ok(ExecProcess {
        builder: b,
        oom_score_adj: oom,
        warnings,
    })
}

/// The exec labels of the process document, against the security modules active
/// here: a label for a module that is not active is refused by field (and by
/// the command line's flag), before anything runs. The rest of the checks (an
/// empty label, a newline) are the builder's, at `exec_in`.
///
/// # Errors
/// [`Error::Config`] naming `process.apparmorProfile` or `process.selinuxLabel`.
pub fn exec_labels(doc: &Value, active: linception::features::ActiveLsms) -> Result<()> {
    for (field, flag, module, on) in [
        ("apparmorProfile", "--apparmor", "AppArmor", active.apparmor),
        ("selinuxLabel", "--process-label", "SELinux", active.selinux),
    ] {
        match doc.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::String(l)) if !on => {
                return Err(Error::config(
                    format!("process.{field}"),
                    format!(
                        "{l:?} ({flag}): {module} is not an active security module on this \
                         system (/sys/kernel/security/lsm)"
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Runs `exec`: finds the container, checks it is running, starts the process in
/// it, writes the pid file; then returns at once (`--detach`) or waits for the
/// process and returns its exit code (128 + N for a signal).
///
/// The process gets the container's seccomp filter; when that filter notifies an
/// agent (`listenerPath`), the process's own new listener goes to the agent as at
/// `create` ([`crate::notify`]), with the state's `status` `running`, the
/// document's `pid` the process's and the state's `pid` the init's (as runc sends
/// it); an agent that cannot be reached ends the process and fails the exec.
///
/// # Errors
/// [`Error::State`] unless the container is running; an fd of `--preserve-fds`
/// that is not open ([`Error::Usage`]); the errors of [`process_document`],
/// [`process_builder`], `exec_in` and the agent's.
pub fn exec(store: &Store, opts: &ExecOptions) -> Result<i32> {
    // The caller's fds first, before this process opens any of its own.
    let passed = crate::fds::take(opts.preserve_fds, false)?;
    let locked = store.open(&opts.id)?;
    let record = locked.load()?;
    let doc = process_document(opts, &record.bundle)?;
    exec_labels(&doc, linception::features::active_lsms())?;
    // The container's config: its seccomp filter binds the exec'd process too (as
    // runc applies it: without it the process would escape the filter), and its
    // user namespace decides which capabilities the process can be granted.
    let spec = config::load(&record.bundle).map_err(|e| {
        Error::State(format!(
            "exec: the container's config, for its seccomp filter: {e}"
        ))
    })?;
    let process = process_builder(&doc, opts, Some(&spec))?;
    for w in &process.warnings {
        eprintln!("linception-oci: warning: {w}");
    }
    let oom = process.oom_score_adj;
    let mut b = passed.apply(process.builder);
    let mut agent = None;
    if let Some(s) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        let sc = config::seccomp(s, config::wait_killable_recv(&record.bundle)?)?;
        let filter = linception::Seccomp::new(sc.filter).flags(sc.flags);
        b = b.seccomp(match &sc.agent {
            // The listener comes back with the process, for the agent.
            Some(a) => {
                a.check()?;
                filter.keep_listener()
            }
            None => filter,
        });
        agent = sc.agent;
    }
    let mut c = record
        .container
        .open()
        .map_err(|_| Error::State(format!("container {:?} is stopped", opts.id)))?;
    let st = c.state();
    if st == State::Running && crate::cgroups::is_paused(&c) {
        // Its process would be born frozen.
        return Err(Error::State(format!(
            "container {:?} is paused, not running",
            opts.id
        )));
    }
    if st != State::Running {
        return Err(Error::State(format!(
            "container {:?} is {st}, not running",
            opts.id
        )));
    }
    if let Some(adj) = oom {
        // The helper and the process inherit the caller's score.
        std::fs::write("/proc/self/oom_score_adj", adj.to_string()).map_err(|e| {
            Error::config(
                "process.oomScoreAdj",
                format!("setting {adj} on the runtime, for the process to inherit: {e}"),
            )
        })?;
    }
    let mut e = c.exec_in(b)?;
    if let Some(a) = &agent {
        // Dropping `e` on an error kills and reaps the process.
        let listener = e
            .take_listener()
            .ok_or_else(|| Error::State("a notifying filter without a listener".into()))?;
        a.send(
            &listener,
            &crate::notify::ContainerInfo {
                id: &opts.id,
                pid: c.pid().as_raw(),
                bundle: &record.bundle,
                annotations: &record.annotations,
                status: "running",
                process_pid: e.pid().as_raw(),
            },
        )?;
    }
    drop(c);
    if let Some(f) = &opts.pid_file {
        write_pid_file(f, e.pid().as_raw())?;
    }
    // Other commands on this container may run while the process does.
    drop(locked);
    if opts.detach {
        let _ = e.detach();
        return Ok(0);
    }
    let copier = e.take_terminal().map(proxy);
    let status = e.wait()?;
    if let Some(t) = copier {
        let _ = t.join();
    }
    Ok(exit_code(&status))
}

/// The exit code a runtime passes through: the program's, or 128 + the signal.
pub fn exit_code(status: &linception::ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig.as_raw(),
        _ => 1,
    }
}

/// Writes a pid file atomically (a temporary file renamed into place).
///
/// # Errors
/// [`Error::Io`] for a failed write.
pub fn write_pid_file(f: &Path, pid: i32) -> Result<()> {
    let f = std::path::absolute(f).map_err(|e| Error::io("resolve", f, e))?;
    let tmp = f.with_extension("tmp");
    std::fs::write(&tmp, pid.to_string())
        .and_then(|()| std::fs::rename(&tmp, &f))
        .map_err(|e| Error::io("write the pid file", &f, e))
}

/// Copies the terminal's master to stdout and stdin to the master, until the
/// terminal closes (the last process on it exited).
fn proxy(master: std::os::fd::OwnedFd) -> std::thread::JoinHandle<()> {
    use std::io::{Read, Write};
    let mut out = std::fs::File::from(master);
    let mut input = out.try_clone().ok();
    std::thread::spawn(move || {
        // Stdin may never end: its copier is left to the process's exit.
        if let Some(mut m) = input.take() {
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut stdin = std::io::stdin();
                while let Ok(n) = stdin.read(&mut buf) {
                    if n == 0 || m.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
        let mut buf = [0u8; 4096];
        let mut stdout = std::io::stdout();
        // EIO once the last peer of the terminal is gone.
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 || stdout.write_all(&buf[..n]).is_err() {
                break;
            }
            let _ = stdout.flush();
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(process: Value) -> (PathBuf, impl Drop) {
        struct Rm(PathBuf);
        impl Drop for Rm {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "lc-oci-exec-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("config.json"),
            json!({"ociVersion": "1.2.0", "process": process}).to_string(),
        )
        .unwrap();
        (dir.clone(), Rm(dir))
    }

    fn base() -> Value {
        json!({
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/bin"],
            "cwd": "/",
            "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"]},
            "noNewPrivileges": false
        })
    }

    #[test]
    fn the_command_line_changes_the_bundles_process_as_runc_does() {
        let (dir, _rm) = bundle(base());
        let opts = ExecOptions {
            id: "x".into(),
            args: vec!["ls".into(), "-l".into()],
            env: vec!["A=1".into()],
            cwd: Some("/tmp".into()),
            user: Some("7:8".into()),
            additional_gids: vec!["10,11".into()],
            caps: vec!["net_raw".into()],
            no_new_privs: true,
            ..Default::default()
        };
        let p = process_document(&opts, &dir).unwrap();
        assert_eq!(p["args"], json!(["ls", "-l"]));
        assert_eq!(p["terminal"], json!(false), "no terminal without -t");
        assert_eq!(p["env"], json!(["PATH=/bin", "A=1"]));
        assert_eq!(p["cwd"], "/tmp");
        assert_eq!(
            p["user"],
            json!({"uid": 7, "gid": 8, "additionalGids": [10, 11]})
        );
        assert_eq!(p["noNewPrivileges"], true);
        assert_eq!(
            p["capabilities"]["bounding"],
            json!(["CAP_KILL", "CAP_NET_RAW"])
        );
        assert_eq!(p["capabilities"]["ambient"], json!(["CAP_NET_RAW"]));
        let oom = process_builder(&p, &opts, None).unwrap().oom_score_adj;
        assert_eq!(oom, None);
    }

    #[test]
    fn a_bad_command_line_or_document_is_named() {
        let (dir, _rm) = bundle(base());
        let with = |o: ExecOptions| process_document(&o, &dir).unwrap_err().to_string();
        let id = || ExecOptions {
            id: "x".into(),
            ..Default::default()
        };
        assert!(with(id()).contains("needs a command"));
        let e = with(ExecOptions {
            args: vec!["ls".into()],
            user: Some("root".into()),
            ..id()
        });
        assert!(e.starts_with("--user root"), "{e}");
        let e = with(ExecOptions {
            args: vec!["ls".into()],
            additional_gids: vec!["x".into()],
            ..id()
        });
        assert!(e.starts_with("--additional-gids x"), "{e}");
        let file = dir.join("p.json");
        std::fs::write(&file, "{").unwrap();
        let e = with(ExecOptions {
            process_file: Some(file.clone()),
            ..id()
        });
        assert!(e.starts_with("--process "), "{e}");
        let e = with(ExecOptions {
            process_file: Some(file),
            args: vec!["ls".into()],
            ..id()
        });
        assert!(e.contains("exclusive"), "{e}");
    }

    #[test]
    fn an_exec_label_of_a_module_not_active_is_named_with_its_flag() {
        let mut p = base();
        p["apparmorProfile"] = json!("box");
        p["selinuxLabel"] = json!("u:r:t:s0");
        let none = linception::features::ActiveLsms::default();
        let e = exec_labels(&p, none).unwrap_err().to_string();
        assert!(
            e.starts_with("process.apparmorProfile: \"box\" (--apparmor): AppArmor is not"),
            "{e}"
        );
        let mut apparmor = none;
        apparmor.apparmor = true;
        let e = exec_labels(&p, apparmor).unwrap_err().to_string();
        assert!(
            e.starts_with("process.selinuxLabel: \"u:r:t:s0\" (--process-label): SELinux"),
            "{e}"
        );
        let mut both = apparmor;
        both.selinux = true;
        exec_labels(&p, both).unwrap();
        // Without labels, nothing is asked of the modules.
        exec_labels(&base(), none).unwrap();
        // The builder takes them (exec_in writes them), the document's fields
        // through the container's own mapping.
        let opts = ExecOptions {
            id: "x".into(),
            ..Default::default()
        };
        p["terminal"] = json!(false);
        assert!(process_builder(&p, &opts, None).is_ok());
    }

    #[test]
    fn every_process_field_is_honoured_or_refused_by_name() {
        let opts = ExecOptions {
            id: "x".into(),
            ..Default::default()
        };
        let refused = |edit: &dyn Fn(&mut Value)| {
            let mut p = base();
            p["terminal"] = json!(false);
            edit(&mut p);
            match process_builder(&p, &opts, None) {
                Ok(_) => panic!("accepted: {p}"),
                Err(e) => e.to_string(),
            }
        };
        type Edit<'a> = &'a dyn Fn(&mut Value);
        let cases: [(&str, Edit); 6] = [
            ("process.oomScoreAdj", &|p| p["oomScoreAdj"] = json!(5000)),
            ("process.consoleSize", &|p| {
                p["consoleSize"] = json!({"height": 1, "width": 1})
            }),
            ("process.cwd", &|p| p["cwd"] = json!("rel")),
            ("process.env", &|p| p["env"] = json!(["NOEQUALS"])),
            ("process.args", &|p| p["args"] = json!([])),
            ("process.rlimits[0].type", &|p| {
                p["rlimits"] = json!([{"type": "RLIMIT_NOPE", "soft": 1, "hard": 1}])
            }),
        ];
        for (field, edit) in cases {
            let e = refused(edit);
            // oci-spec refuses some values while parsing (then the value is named).
            assert!(
                e.starts_with(field) || (e.starts_with("process: ") && e.contains("RLIMIT_NOPE")),
                "{field}: {e}"
            );
        }
        // The OOM score is honoured (taken on by the runtime, inherited).
        let mut p = base();
        p["terminal"] = json!(false);
        p["oomScoreAdj"] = json!(100);
        assert_eq!(
            process_builder(&p, &opts, None).unwrap().oom_score_adj,
            Some(100)
        );
        // A terminal: to the console socket, or back here in the foreground; a
        // detached one needs the socket.
        let mut p = base();
        p["terminal"] = json!(true);
        assert!(process_builder(&p, &opts, None).is_ok());
        let detached = ExecOptions {
            detach: true,
            ..opts.clone()
        };
        let e = process_builder(&p, &detached, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--console-socket"), "{e}");
    }
}
