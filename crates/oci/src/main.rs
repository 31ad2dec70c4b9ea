//! `linception-oci`: runc's command line on linception.
//!
//! ```text
//! linception-oci [--root DIR] [--log FILE] [--log-format text|json] [--debug] COMMAND
//!   create --bundle B [--pid-file F] [--console-socket S] [--no-pivot] [--preserve-fds N]
//!          [--no-new-keyring] ID
//!   start ID | state ID | kill ID [SIGNAL] | delete [--force] ID
//!   run --bundle B [--pid-file F] [--no-pivot] [--preserve-fds N] ID | spec [--rootless] | list
//!   pause ID | resume ID | kill --all ID [SIGNAL]
//!   update [--resources FILE|-] [--memory N] [--pids-limit N] [--cpu-quota N] ... ID
//!   exec [--process F] [-t] [--console-socket S] [-d] [--pid-file F] [-e K=V] ... ID [ARGS]
//!   ps [--format table|json] ID [PS_ARGS] | features
//! ```

use std::io::Write;
use std::path::PathBuf;

use linception::{Signal, State, StateInfo};
use linception_oci::state::{Record, Store};
use linception_oci::{Error, Result, config};

/// The global options.
struct Global {
    root: Option<PathBuf>,
    log: Option<PathBuf>,
    json: bool,
}

fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

/// Takes the value of an option (`--x V` or `--x=V`).
fn value(args: &mut Vec<String>, i: usize, name: &str) -> Result<String> {
    let a = args.remove(i);
    if let Some(v) = a.strip_prefix(&format!("{name}=")) {
        return Ok(v.to_owned());
    }
    if i < args.len() {
        Ok(args.remove(i))
    } else {
        Err(usage(format!("{name}: needs a value")))
    }
}

/// Command options: flags with values, boolean flags, positionals.
struct Parsed {
    opts: Vec<(String, String)>,
    flags: Vec<String>,
    pos: Vec<String>,
}

fn parse(mut args: Vec<String>, with_value: &[&str], bools: &[&str], cmd: &str) -> Result<Parsed> {
    let mut p = Parsed {
        opts: Vec::new(),
        flags: Vec::new(),
        pos: Vec::new(),
    };
    while !args.is_empty() {
        let a = args[0].clone();
        let name = a
            .split('=')
            .next()
            .unwrap_or_default()
            .trim_start_matches('-');
        let long = format!("--{name}");
        if a.starts_with('-') && a.len() > 1 {
            if let Some(n) = with_value.iter().find(|n| **n == name) {
                let dashed = if a.starts_with("--") {
                    long
                } else {
                    format!("-{n}")
                };
                let v = value(&mut args, 0, &dashed)?;
                p.opts.push(((*n).to_owned(), v));
            } else if bools.contains(&name) {
                args.remove(0);
                p.flags.push(name.to_owned());
            } else {
                return Err(usage(format!("{cmd}: unknown option {a}")));
            }
        } else {
            p.pos.push(args.remove(0));
        }
    }
    Ok(p)
}

impl Parsed {
    fn opt(&self, names: &[&str]) -> Option<&str> {
        self.opts
            .iter()
            .rev()
            .find(|(k, _)| names.contains(&k.as_str()))
            .map(|(_, v)| v.as_str())
    }
    fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }
    fn id(&self, cmd: &str) -> Result<&str> {
        match self.pos.as_slice() {
            [id, ..] => Ok(id),
            [] => Err(usage(format!("{cmd}: needs a container id"))),
        }
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut g = Global {
        root: None,
        log: None,
        json: false,
    };
    let code = match globals(&mut args, &mut g).and_then(|()| command(&g, args)) {
        Ok(code) => code,
        Err(e) => {
            report(&g, &e);
            1
        }
    };
    std::process::exit(code);
}

/// Writes an error as runc does: on stderr (and the log), or a JSON log line.
fn report(g: &Global, e: &Error) {
    let msg = e.to_string();
    let line = if g.json {
        serde_json::json!({"level": "error", "msg": msg, "time": now()}).to_string()
    } else {
        format!("linception-oci: {msg}")
    };
    if let Some(log) = &g.log
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
    {
        let _ = writeln!(f, "{line}");
    }
    eprintln!("{line}");
}

/// The time now in RFC 3339 (UTC), as runc's JSON log lines carry it (containerd's
/// shim parses it).
fn now() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs(), d.subsec_nanos())
}

/// `secs` after the epoch as `YYYY-MM-DDTHH:MM:SS.NNNNNNNNNZ` (the civil date from
/// the day count, proleptic Gregorian).
fn rfc3339(secs: u64, nanos: u32) -> String {
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

fn globals(args: &mut Vec<String>, g: &mut Global) -> Result<()> {
    while let Some(a) = args.first().cloned() {
        let name = a.split('=').next().unwrap_or_default();
        match name {
            "--root" => g.root = Some(value(args, 0, "--root")?.into()),
            "--log" => g.log = Some(value(args, 0, "--log")?.into()),
            "--log-format" => match value(args, 0, "--log-format")?.as_str() {
                "text" => g.json = false,
                "json" => g.json = true,
                other => {
                    return Err(usage(format!(
                        "--log-format: {other:?} is not text or json"
                    )));
                }
            },
            "--debug" => {
                args.remove(0);
            }
            "--systemd-cgroup" => {
                return Err(usage("--systemd-cgroup: systemd cgroups are not supported"));
            }
            _ if a.starts_with('-') => return Err(usage(format!("unknown global option {a}"))),
            _ => break,
        }
    }
    Ok(())
}

fn store(g: &Global) -> Result<Store> {
    Ok(Store::new(match &g.root {
        Some(r) => r.clone(),
        None => Store::default_root()?,
    }))
}

fn command(g: &Global, mut args: Vec<String>) -> Result<i32> {
    if args.is_empty() {
        return Err(usage(
            "no command (create, start, state, kill, delete, run, spec, list)",
        ));
    }
    let cmd = args.remove(0);
    match cmd.as_str() {
        "create" | "run" => {
            let p = parse(
                args,
                &["bundle", "b", "pid-file", "console-socket", "preserve-fds"],
                &["no-pivot", "detach", "d", "no-new-keyring"],
                &cmd,
            )?;
            let detach = p.flag("detach") || p.flag("d");
            if detach && cmd == "create" {
                return Err(usage(
                    "create --detach: a created container is always detached",
                ));
            }
            create(g, &p, cmd == "run", detach)
        }
        "start" => {
            let p = parse(args, &[], &[], "start")?;
            start(g, p.id("start")?).map(|()| 0)
        }
        "state" => {
            let p = parse(args, &[], &[], "state")?;
            let s = store(g)?;
            let l = s.open(p.id("state")?)?;
            let doc = linception_oci::state::document(&l.load()?);
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            Ok(0)
        }
        "kill" => {
            let p = parse(args, &[], &["all", "a"], "kill")?;
            let sig = signal(p.pos.get(1).map(String::as_str).unwrap_or("TERM"))?;
            if p.flag("all") || p.flag("a") {
                return with_running(g, p.id("kill")?, |c, id| {
                    linception_oci::cgroups::kill_all(c, id, sig)
                });
            }
            kill(g, p.id("kill")?, sig).map(|()| 0)
        }
        "pause" | "resume" => {
            let p = parse(args, &[], &[], &cmd)?;
            with_running(g, p.id(&cmd)?, |c, id| match cmd.as_str() {
                "pause" => linception_oci::cgroups::pause(c, id),
                _ => linception_oci::cgroups::resume(c, id),
            })
        }
        "update" => {
            let mut with_value = vec!["resources", "r"];
            with_value.extend(linception_oci::cgroups::UPDATE_FLAGS);
            let p = parse(args, &with_value, &[], "update")?;
            let u = linception_oci::cgroups::UpdateFlags {
                resources: p.opt(&["resources", "r"]).map(str::to_owned),
                flags: p
                    .opts
                    .iter()
                    .filter(|(k, _)| k != "resources" && k != "r")
                    .cloned()
                    .collect(),
            };
            with_running(g, p.id("update")?, |c, id| {
                linception_oci::cgroups::update(c, id, &u)
            })
        }
        "delete" => {
            let p = parse(args, &[], &["force", "f"], "delete")?;
            delete(g, p.id("delete")?, p.flag("force") || p.flag("f")).map(|()| 0)
        }
        "spec" => {
            let p = parse(args, &["bundle", "b"], &["rootless"], "spec")?;
            spec(p.opt(&["bundle", "b"]), p.flag("rootless")).map(|()| 0)
        }
        "list" => {
            parse(args, &[], &[], "list")?;
            let s = store(g)?;
            println!("ID\tPID\tSTATUS\tBUNDLE");
            for id in s.list() {
                if let Ok(l) = s.open(&id)
                    && let Ok(r) = l.load()
                {
                    let doc = linception_oci::state::document(&r);
                    println!(
                        "{id}\t{}\t{}\t{}",
                        doc["pid"],
                        doc["status"].as_str().unwrap_or(""),
                        r.bundle.display()
                    );
                }
            }
            Ok(0)
        }
        "exec" => exec(g, args),
        "ps" => ps(g, args),
        "features" => {
            parse(args, &[], &[], "features")?;
            let doc = linception_oci::features::document();
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            Ok(0)
        }
        other => Err(usage(format!("unknown command {other:?}"))),
    }
}

/// Splits a command's arguments where its options end (at the first positional or
/// `--`), as runc's flag parser does: `exec ID sh -c x` keeps `-c` for `sh`.
fn split_options(args: &mut Vec<String>, with_value: &[&str]) -> Vec<String> {
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            let rest = args.split_off(i + 1);
            args.pop();
            return rest;
        }
        if !a.starts_with('-') || a == "-" {
            break;
        }
        let name = a.trim_start_matches('-');
        i += if !name.contains('=') && with_value.contains(&name) {
            2
        } else {
            1
        };
    }
    args.split_off(i.min(args.len()))
}

fn exec(g: &Global, mut args: Vec<String>) -> Result<i32> {
    let with_value = [
        "process",
        "p",
        "console-socket",
        "pid-file",
        "env",
        "e",
        "cwd",
        "user",
        "u",
        "additional-gids",
        "g",
        "cap",
        "c",
        "apparmor",
        "process-label",
        "preserve-fds",
    ];
    let bools = ["tty", "t", "detach", "d", "no-new-privs", "ignore-paused"];
    let rest = split_options(&mut args, &with_value);
    let p = parse(args, &with_value, &bools, "exec")?;
    let Some((id, command)) = rest.split_first() else {
        return Err(usage("exec: needs a container id"));
    };
    let all = |names: &[&str]| -> Vec<String> {
        p.opts
            .iter()
            .filter(|(k, _)| names.contains(&k.as_str()))
            .map(|(_, v)| v.clone())
            .collect()
    };
    let preserve_fds = preserve_fds(&p)?;
    let opts = linception_oci::exec::ExecOptions {
        id: id.clone(),
        process_file: p.opt(&["process", "p"]).map(absolute).transpose()?,
        args: command.to_vec(),
        tty: p.flag("tty") || p.flag("t"),
        console_socket: p.opt(&["console-socket"]).map(absolute).transpose()?,
        detach: p.flag("detach") || p.flag("d"),
        pid_file: p.opt(&["pid-file"]).map(absolute).transpose()?,
        env: all(&["env", "e"]),
        cwd: p.opt(&["cwd"]).map(str::to_owned),
        user: p.opt(&["user", "u"]).map(str::to_owned),
        additional_gids: all(&["additional-gids", "g"]),
        caps: all(&["cap", "c"]),
        no_new_privs: p.flag("no-new-privs"),
        apparmor: p.opt(&["apparmor"]).map(str::to_owned),
        process_label: p.opt(&["process-label"]).map(str::to_owned),
        preserve_fds,
    };
    // As runc: past its command line, a failed exec exits with 255, which tells
    // the runtime's failure from the process's own exit code.
    match store(g).and_then(|s| linception_oci::exec::exec(&s, &opts)) {
        Ok(code) => Ok(code),
        Err(e) => {
            report(g, &e);
            Ok(EXEC_FAILED)
        }
    }
}

/// The exit code of an `exec` that failed past its command line (runc's).
const EXEC_FAILED: i32 = 255;

/// `--preserve-fds N` (0 without it).
fn preserve_fds(p: &Parsed) -> Result<u32> {
    match p.opt(&["preserve-fds"]) {
        Some(n) => n
            .parse()
            .map_err(|_| usage(format!("--preserve-fds {n}: not a number"))),
        None => Ok(0),
    }
}

fn ps(g: &Global, mut args: Vec<String>) -> Result<i32> {
    let with_value = ["format", "f"];
    let rest = split_options(&mut args, &with_value);
    let p = parse(args, &with_value, &[], "ps")?;
    let Some((id, ps_args)) = rest.split_first() else {
        return Err(usage("ps: needs a container id"));
    };
    let format = match p.opt(&["format", "f"]).unwrap_or("table") {
        "table" => linception_oci::ps::Format::Table,
        "json" => linception_oci::ps::Format::Json,
        other => return Err(usage(format!("--format {other:?}: not table or json"))),
    };
    let out = linception_oci::ps::ps(&store(g)?, id, format, ps_args)?;
    print!("{out}");
    Ok(0)
}

/// A signal by name (`TERM`, `SIGTERM`) or number.
fn signal(s: &str) -> Result<Signal> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::from_raw(n).ok_or_else(|| usage(format!("signal {s}: out of range")));
    }
    let want = format!("SIG{}", s.trim_start_matches("SIG").to_ascii_uppercase());
    (1..=64)
        .filter_map(Signal::from_raw)
        .find(|sig| sig.name() == Some(want.as_str()))
        .ok_or_else(|| usage(format!("unknown signal {s:?}")))
}

fn absolute(p: &str) -> Result<PathBuf> {
    std::path::absolute(p).map_err(|e| usage(format!("{p}: {e}")))
}

/// `create`, or `run` (`detach`: the container is left running, as `run -d`).
fn create(g: &Global, p: &Parsed, run: bool, detach: bool) -> Result<i32> {
    let cmd = if run { "run" } else { "create" };
    // The caller's fds first, before this process opens any of its own.
    let passed = linception_oci::fds::take(preserve_fds(p)?, true)?;
    let id = p.id(cmd)?.to_owned();
    let bundle = absolute(p.opt(&["bundle", "b"]).unwrap_or("."))?;
    let spec = config::load(&bundle)?;
    let opts = config::Options {
        id: id.clone(),
        bundle: bundle.clone(),
        console_socket: p.opt(&["console-socket"]).map(absolute).transpose()?,
        no_pivot: p.flag("no-pivot"),
    };
    // Everything is checked before the state directory exists. A taken id is named
    // as such, also when another create of it won the race while this one looked at
    // the config (its cgroup then exists with processes).
    let s = store(g)?;
    linception_oci::state::check_id(&id)?;
    let taken = || Error::State(format!("container {id:?} already exists"));
    if s.dir(&id).exists() {
        return Err(taken());
    }
    let mounts_beneath = config::mounts_in_the_runtimes_namespace(&spec, &bundle);
    let mut builder = match config::builder(&spec, &opts) {
        Err(_) if s.dir(&id).exists() => return Err(taken()),
        r => passed.apply(r?),
    };
    let cgroup_warning = linception_oci::cgroups::unenforced_devices(&spec);
    for w in config::warnings(&spec).iter().chain(&cgroup_warning) {
        eprintln!("linception-oci: warning: {w}");
    }
    // As runc: the container's own session keyring, `_ses.<id>` (possessor-only
    // here), unless `--no-new-keyring` keeps the caller's (conmon passes it when
    // podman's containers.conf says `keyring = false`).
    if !p.flag("no-new-keyring") {
        builder = builder.session_keyring(linception::SessionKeyring::Named(format!("_ses.{id}")));
    }
    // A notifying filter's agent: its socket is checked before anything is created.
    let agent = linception_oci::notify::Agent::of(&spec)?;
    if let Some(a) = &agent {
        a.check()?;
    }
    let locked = s.create(&id)?;
    let annotations = config::annotations(&spec);
    let made = (|| {
        // `run` spawns in one go (a create's start socket and rendezvous would only
        // cost a round trip: nobody can start it but us); the id is the same kind.
        // With a seccomp agent it creates, sends the listener, and starts, as runc.
        let c = if run && agent.is_none() {
            let mut c = builder.spawn()?;
            c.identify(s.socket(&id))?;
            c
        } else {
            let mut c = builder.create(s.socket(&id))?;
            if let Some(a) = &agent {
                let listener = c
                    .take_listener()
                    .ok_or_else(|| Error::State("a notifying filter without a listener".into()))?;
                a.send(
                    &listener,
                    &linception_oci::notify::ContainerInfo {
                        id: &id,
                        pid: c.pid().as_raw(),
                        bundle: &bundle,
                        annotations: &annotations,
                        status: "creating",
                        process_pid: c.pid().as_raw(),
                    },
                )?;
            }
            if run {
                c.start()?;
            }
            c
        };
        let record = Record {
            id: id.clone(),
            bundle: bundle.clone(),
            container: c
                .id()
                .cloned()
                .ok_or_else(|| Error::State("created without an id".into()))?,
            annotations: annotations.clone(),
            // The spawning handle has a cgroup only when the builder was given the
            // one this runtime makes for the config (`cgroups::path`, computed in
            // `config::builder`): not asked of the cgroup mount again.
            cgroup: c.cgroup_path().map(std::path::Path::to_owned),
            mounts_beneath: mounts_beneath.clone(),
        };
        locked.save(&record)?;
        if let Some(f) = p.opt(&["pid-file"]) {
            let f = absolute(f)?;
            let tmp = f.with_extension("tmp");
            std::fs::write(&tmp, c.pid().as_raw().to_string())
                .and_then(|()| std::fs::rename(&tmp, &f))
                .map_err(|e| Error::Io {
                    what: "write the pid file",
                    path: f.clone(),
                    source: e,
                })?;
        }
        Ok::<_, Error>(c)
    })();
    let mut c = match made {
        Ok(c) => c,
        Err(e) => {
            // Nothing left behind: the handle's drop killed the init if there was one,
            // and the mounts it made in this namespace go.
            detach_mounts(mounts_beneath.as_deref());
            let _ = locked.remove();
            return Err(e);
        }
    };
    if !run || detach {
        let _ = c.detach();
        return Ok(0);
    }
    let status = c.wait().map_err(Error::from);
    let warnings = c.destroy();
    detach_mounts(mounts_beneath.as_deref());
    let _ = locked.remove();
    let status = status?;
    for w in warnings.unwrap_or_default() {
        eprintln!("linception-oci: warning: {w}");
    }
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig.as_raw(),
        _ => 1,
    })
}

/// Detaches what a container without a mount namespace of its own mounted beneath
/// its root in this namespace (runc leaves it there).
fn detach_mounts(root: Option<&std::path::Path>) {
    if let Some(root) = root
        && let Err(e) = linception::detach_mounts_beneath(root)
    {
        eprintln!(
            "linception-oci: warning: the mounts beneath {}: {e}",
            root.display()
        );
    }
}

/// The hooks of the later moments, from the bundle's config again.
fn found(r: &Record) -> Result<linception::Container> {
    let mut c = r
        .container
        .open()
        .map_err(|_| Error::State(format!("container {:?} is stopped", r.id)))?;
    // The cgroup this runtime made for it goes with the container at delete.
    if r.cgroup.is_some() && c.cgroup_path() == r.cgroup.as_deref() {
        c.adopt_cgroup();
    }
    let spec = config::load(&r.bundle);
    let hooks = spec
        .and_then(|spec| config::hooks(&spec))
        .unwrap_or_default();
    c.set_hooks(
        StateInfo {
            id: r.id.clone(),
            bundle: r.bundle.clone(),
            annotations: r.annotations.clone(),
        },
        hooks,
    );
    Ok(c)
}

/// Runs `f` on a container that is not stopped (pause, resume, update, kill --all).
fn with_running(
    g: &Global,
    id: &str,
    f: impl FnOnce(&linception::Container, &str) -> Result<()>,
) -> Result<i32> {
    let s = store(g)?;
    let l = s.open(id)?;
    let r = l.load()?;
    let mut c = found(&r)?;
    if c.state() == State::Stopped {
        return Err(Error::State(format!("container {id:?} is stopped")));
    }
    f(&c, id)?;
    let _ = c.detach();
    Ok(0)
}

fn start(g: &Global, id: &str) -> Result<()> {
    let s = store(g)?;
    let l = s.open(id)?;
    let r = l.load()?;
    let mut c = found(&r)?;
    if c.state() != State::Created {
        return Err(Error::State(format!(
            "container {id:?} is {}, not created",
            c.state()
        )));
    }
    c.start()?;
    for w in c.warnings() {
        eprintln!("linception-oci: warning: {w}");
    }
    let _ = c.detach();
    Ok(())
}

fn kill(g: &Global, id: &str, sig: Signal) -> Result<()> {
    let s = store(g)?;
    let l = s.open(id)?;
    let r = l.load()?;
    let mut c = found(&r)?;
    if c.state() == State::Stopped {
        return Err(Error::State(format!("container {id:?} is stopped")));
    }
    c.signal(sig)?;
    let _ = c.detach();
    Ok(())
}

fn delete(g: &Global, id: &str, force: bool) -> Result<()> {
    let s = store(g)?;
    // As runc: --force of a container that does not exist (a create that failed,
    // which containerd's shim cleans up after) is done.
    if force && !s.dir(id).is_dir() {
        return Ok(());
    }
    let l = s.open(id)?;
    let r = l.load()?;
    // A container that is gone (stopped and reaped elsewhere) leaves only its state.
    if let Ok(mut c) = found(&r) {
        let st = c.state();
        if st == State::Running && !force {
            return Err(Error::State(format!(
                "container {id:?} is running: kill it first or pass --force"
            )));
        }
        for w in c.destroy()? {
            eprintln!("linception-oci: warning: {w}");
        }
    } else if let Some(dir) = &r.cgroup {
        // Gone already (reaped by its parent: containerd's shim is a subreaper), it
        // leaves the cgroup this runtime made for it, empty now: removed as runc does
        // (rmdir takes only an empty cgroup).
        let _ = std::fs::remove_dir(dir);
    }
    detach_mounts(r.mounts_beneath.as_deref());
    l.remove()
}

fn spec(bundle: Option<&str>, rootless: bool) -> Result<()> {
    let dir = absolute(bundle.unwrap_or("."))?;
    let path = dir.join("config.json");
    if path.exists() {
        return Err(Error::State(format!("{} exists", path.display())));
    }
    let doc = linception_oci_spec_doc(rootless);
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&doc).unwrap_or_default(),
    )
    .map_err(|e| Error::Io {
        what: "write",
        path: path.clone(),
        source: e,
    })
}

/// A config this runtime runs as it is: busybox-style `sh` in `rootfs`, every
/// namespace, proc and the default `/dev`.
fn linception_oci_spec_doc(rootless: bool) -> serde_json::Value {
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    let mut ns = vec![
        serde_json::json!({"type": "pid"}),
        serde_json::json!({"type": "ipc"}),
        serde_json::json!({"type": "uts"}),
        serde_json::json!({"type": "mount"}),
        serde_json::json!({"type": "network"}),
    ];
    let mut linux = serde_json::json!({
        "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    });
    if !rootless {
        // As runc's spec: deny every device (the runtime allows the usual ones).
        linux["resources"] = serde_json::json!({"devices": [{"allow": false, "access": "rwm"}]});
    }
    if rootless {
        ns.push(serde_json::json!({"type": "user"}));
        linux["uidMappings"] = serde_json::json!([{"containerID": 0, "hostID": uid, "size": 1}]);
        linux["gidMappings"] = serde_json::json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    }
    linux["namespaces"] = serde_json::Value::Array(ns);
    let caps = serde_json::json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    serde_json::json!({
        "ociVersion": linception_oci::state::OCI_VERSION,
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "linception",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]}
        ],
        "linux": linux
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn log_times_are_rfc3339() {
        assert_eq!(super::rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            super::rfc3339(951_782_400 + 3_723, 5),
            "2000-02-29T01:02:03.000000005Z"
        );
        assert_eq!(
            super::rfc3339(1_796_185_518, 0),
            "2026-12-02T04:25:18.000000000Z"
        );
    }
}
