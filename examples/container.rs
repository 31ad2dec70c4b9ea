//! Runs a container with linception, rootless or as root.
//!
//! ```text
//! cargo run --example container                    # the demo: prints what the container sees
//! cargo run --example container -- -- CMD ARGS...  # CMD in the demo container
//! cargo run --example container -- --rootfs DIR [--dev] [-- CMD ARGS...]
//! cargo run --example container -- --no-net ...     # keep the host's network
//! ```
//!
//! The demo container: new user, mount, pid, uts, ipc, net and cgroup namespaces
//! (the builder's default); root
//! inside is the caller outside; a tmpfs root holding the host's /usr, /etc, /bin,
//! /lib* read-only (top-level symlinks of merged-/usr systems recreated as
//! symlinks), a new proc, a minimal /dev and a tmpfs on /tmp; a seccomp filter whose
//! `uname` calls are trapped and logged by this process (the supervisor) before
//! it lets them run.
//!
//! With `--rootfs DIR` the root is DIR (bound onto itself, then `pivot_root`), with a
//! new proc (DIR/proc is created if missing) and, with `--dev`, a minimal /dev; the
//! default command is `/bin/sh`.

use std::ffi::OsString;
use std::process::ExitCode;

use linception::seccomp_notify::{Action, Filter, Response};
use linception::{Container, ContainerBuilder, Mount, Namespaces, RootFs, Seccomp};

/// What the demo container runs: it describes itself.
const DEMO_SCRIPT: &str = r#"
echo "id:        $(id)"
echo "hostname:  $(hostname)"
echo "uname:     $(uname -srm)"
echo "uid_map:  $(cat /proc/self/uid_map)"
echo "gid_map:  $(cat /proc/self/gid_map)"
echo "pid 1:     $(cat /proc/1/comm) ($(readlink /proc/1/exe)); this shell is pid $$"
echo "processes: $(ls /proc | grep -c '^[0-9]')"
echo "network:   $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ' ')"
echo "mounts:"
while read -r _ _ _ _ point opts _; do
    echo "  $point ($opts)"
done < /proc/self/mountinfo
"#;

struct Args {
    rootfs: Option<OsString>,
    dev: bool,
    net: bool,
    command: Vec<OsString>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args_os().skip(1);
    let mut parsed = Args {
        rootfs: None,
        dev: false,
        net: true,
        command: Vec::new(),
    };
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--rootfs") => {
                parsed.rootfs = Some(args.next().ok_or("--rootfs needs a directory")?);
            }
            Some("--dev") => parsed.dev = true,
            Some("--no-net") => parsed.net = false,
            Some("--") => {
                parsed.command = args.collect();
                break;
            }
            Some("-h" | "--help") => {
                return Err(
                    "usage: container [--rootfs DIR [--dev]] [--no-net] [-- CMD ARGS...]"
                        .to_owned(),
                );
            }
            _ => return Err(format!("unknown argument {arg:?} (try --help)")),
        }
    }
    Ok(parsed)
}

/// The seccomp filter of the demo: every `uname` goes to the supervisor.
fn supervised() -> Seccomp {
    let filter = Filter::new(Action::Allow).rule("uname", Action::UserNotif);
    Seccomp::new(filter).on_notify(|_listener, notif| {
        eprintln!(
            "[supervisor] intercepted uname() from pid {} (host view): answering CONTINUE",
            notif.pid
        );
        Response::Continue
    })
}

fn builder(args: &Args) -> ContainerBuilder {
    let (program, rest): (OsString, &[OsString]) = match args.command.split_first() {
        Some((p, rest)) => (p.clone(), rest),
        None => ("/bin/sh".into(), &[]),
    };
    // Every namespace but time is new by default; --no-net shares the host's
    // network namespace, explicitly.
    let mut b = Container::builder(&program)
        .args(rest)
        .hostname("container")
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
    if !args.net {
        b = b.share(Namespaces::NET);
    }
    match &args.rootfs {
        Some(dir) => {
            b = b.root(RootFs::Dir(dir.into())).mount(Mount::proc("/proc"));
            if args.dev {
                b = b.mount(Mount::dev("/dev"));
            }
        }
        None => {
            if args.command.is_empty() {
                b = b.args(["-c", DEMO_SCRIPT]);
            }
            b = b
                .root(RootFs::Tmpfs)
                .mounts(Mount::host_system())
                .mount(Mount::proc("/proc"))
                .mount(Mount::dev("/dev"))
                .mount(Mount::tmpfs("/tmp").mode(0o1777))
                .no_new_privs()
                .seccomp(supervised());
        }
    }
    b
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut container = match builder(&args).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("container: {e}");
            return ExitCode::from(125);
        }
    };
    match container.wait() {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => ExitCode::from(code as u8),
            (None, Some(sig)) => ExitCode::from(128 + sig.as_raw() as u8),
            _ => ExitCode::FAILURE,
        },
        Err(e) => {
            eprintln!("container: wait: {e}");
            ExitCode::from(125)
        }
    }
}
