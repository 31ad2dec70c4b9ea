//! The program itself: working directory, environment, the PATH search, `execve`.
#![forbid(unsafe_code)]

use std::ffi::{CString, OsStr, OsString, c_char};
use std::os::unix::ffi::OsStrExt;

use super::{Host, Lowering, c};
use crate::builder::ContainerBuilder;
use crate::step::Step;
use crate::validate::shown;

/// The PATH used when the environment has none.
const DEFAULT_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub(super) fn cwd(p: &mut Lowering<'_>, b: &ContainerBuilder) {
    if let Some(cwd) = &b.cwd {
        p.push(Step::Chdir { path: c(cwd) }, format!("chdir({cwd:?})"));
    }
}

/// The environment the program gets: the caller's (unless cleared) with the
/// builder's changes applied in order.
pub(super) fn environment(b: &ContainerBuilder, host: &Host) -> Vec<(OsString, OsString)> {
    let mut env = host.env.clone();
    for (k, v) in &b.env {
        env.retain(|(key, _)| key != k);
        if let Some(v) = v {
            env.push((k.clone(), v.clone()));
        }
    }
    env
}

/// The paths `execve` tries: the program itself if it has a slash, else each entry
/// of the container's `PATH` (or a default one).
pub(super) fn candidates(program: &OsStr, env: &[(OsString, OsString)]) -> Vec<CString> {
    if program.as_bytes().contains(&b'/') {
        return vec![c(program)];
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_bytes())
        .unwrap_or(DEFAULT_PATH);
    path.split(|&ch| ch == b':')
        .map(|dir| {
            let dir = if dir.is_empty() { &b"."[..] } else { dir };
            let mut full = dir.to_vec();
            full.push(b'/');
            full.extend_from_slice(program.as_bytes());
            c(OsStr::from_bytes(&full))
        })
        .collect()
}

/// The label of the exec step: where the program was looked for.
fn label(program: &OsStr, env: &[(OsString, OsString)], in_root: bool) -> String {
    let shown_program = shown(program);
    let place = if in_root {
        "inside the container's root"
    } else {
        "on the host's filesystem (the container has no root of its own)"
    };
    if program.as_bytes().contains(&b'/') {
        return format!("execve({shown_program}), looked up {place}");
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| shown(v))
        .unwrap_or_else(|| "(the default PATH)".into());
    format!("execve({shown_program}), looked up in PATH {path} {place}")
}

/// The exec step; returns the strings its `argv`/`envp` point into.
pub(super) fn exec(
    p: &mut Lowering<'_>,
    b: &ContainerBuilder,
    host: &Host,
    in_root: bool,
) -> Vec<CString> {
    let env = environment(b, host);
    let candidates = candidates(&b.program, &env);
    let mut strings = Vec::with_capacity(1 + b.args.len() + env.len());
    strings.push(c(&b.program));
    strings.extend(b.args.iter().map(c));
    let argc = strings.len();
    for (k, v) in &env {
        let mut kv = k.as_bytes().to_vec();
        kv.push(b'=');
        kv.extend_from_slice(v.as_bytes());
        strings.push(c(OsStr::from_bytes(&kv)));
    }
    let mut argv: Vec<*const c_char> = strings[..argc].iter().map(|s| s.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const c_char> = strings[argc..].iter().map(|s| s.as_ptr()).collect();
    envp.push(std::ptr::null());
    p.push(
        Step::Exec {
            candidates,
            argv,
            envp,
        },
        label(&b.program, &env, in_root),
    );
    strings
}
