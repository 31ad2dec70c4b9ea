//! `ps`: the processes of a container, as runc lists them.
//!
//! The pids (in the caller's pid namespace) are those of the container's cgroup v2
//! directory (`cgroup.procs`) when it has one of its own; else every process in
//! the container's pid namespace; else (a container sharing the caller's pid
//! namespace) its init and the init's descendants. `--format json` prints them as a
//! JSON array; the table runs `ps` with the given options (`-ef` by default) and
//! keeps its header and the container's rows.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;

use crate::state::Store;
use crate::{Error, Result};

/// How `ps` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `ps`'s own table, the container's rows only.
    Table,
    /// A JSON array of pids.
    Json,
}

/// The `0::` (cgroup v2) path of a process, from `/proc/PID/cgroup`.
fn cgroup2_path(pid: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_owned)
}

/// The (device, inode) of a process's namespace of `kind`.
fn ns_id(pid: &str, kind: &str) -> Option<(u64, u64)> {
    let m = std::fs::metadata(format!("/proc/{pid}/ns/{kind}")).ok()?;
    Some((m.dev(), m.ino()))
}

/// Every pid of `/proc`.
fn all_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// The parent pid of a process (`/proc/PID/stat` field 4).
fn ppid(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.get(stat.rfind(')')? + 2..)?
        .split(' ')
        .nth(1)?
        .parse()
        .ok()
}

/// The pids of the container whose init is `init`, sorted.
pub fn pids(init: i32) -> Vec<i32> {
    let me = "self";
    let init_s = init.to_string();
    // Its own cgroup: the kernel's list is the answer.
    if let Ok(cg) = linception::features::cgroup2()
        && let Some(theirs) = cgroup2_path(&init_s)
        && std::path::Path::new(&theirs) != cg.cgroup
    {
        let procs = cg
            .mount_point
            .join(theirs.trim_start_matches('/'))
            .join("cgroup.procs");
        if let Ok(text) = std::fs::read_to_string(procs) {
            let mut v: Vec<i32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
            v.sort_unstable();
            return v;
        }
    }
    // Its own pid namespace: every process in it.
    if let (Some(theirs), Some(ours)) = (ns_id(&init_s, "pid"), ns_id(me, "pid"))
        && theirs != ours
    {
        let mut v: Vec<i32> = all_pids()
            .into_iter()
            .filter(|p| ns_id(&p.to_string(), "pid") == Some(theirs))
            .collect();
        v.sort_unstable();
        return v;
    }
    // The caller's pid namespace: the init and its descendants.
    let parents: Vec<(i32, i32)> = all_pids()
        .into_iter()
        .filter_map(|p| Some((p, ppid(p)?)))
        .collect();
    let mut set = BTreeSet::from([init]);
    loop {
        let before = set.len();
        for (p, pp) in &parents {
            if set.contains(pp) {
                set.insert(*p);
            }
        }
        if set.len() == before {
            break;
        }
    }
    set.into_iter().collect()
}

/// Keeps the header and the rows of `ps` output whose `PID` column is in `pids`.
///
/// # Errors
/// [`Error::State`] when the output has no `PID` column.
pub fn filter_table(text: &str, pids: &[i32]) -> Result<String> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| Error::State(format!("ps: no PID column in {header:?}")))?;
    let mut out = format!("{header}\n");
    for l in lines {
        if l.split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok())
            .is_some_and(|p| pids.contains(&p))
        {
            out.push_str(l);
            out.push('\n');
        }
    }
    Ok(out)
}

/// Runs `ps` for the container `id`: the text to print.
///
/// # Errors
/// [`Error::State`] when the container does not exist or is stopped; a `ps` that
/// could not run or failed.
pub fn ps(store: &Store, id: &str, format: Format, ps_args: &[String]) -> Result<String> {
    let l = store.open(id)?;
    let r = l.load()?;
    let mut c = r
        .container
        .open()
        .map_err(|_| Error::State(format!("container {id:?} is stopped")))?;
    if c.state() == linception::State::Stopped {
        return Err(Error::State(format!("container {id:?} is stopped")));
    }
    let pids = pids(c.pid().as_raw());
    match format {
        Format::Json => Ok(format!("{}\n", serde_json::json!(pids))),
        Format::Table => {
            let args: Vec<&str> = if ps_args.is_empty() {
                vec!["-ef"]
            } else {
                ps_args.iter().map(String::as_str).collect()
            };
            let out = std::process::Command::new("ps")
                .args(&args)
                .output()
                .map_err(|e| Error::io("run", "ps", e))?;
            if !out.status.success() {
                return Err(Error::State(format!(
                    "ps {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            filter_table(&String::from_utf8_lossy(&out.stdout), &pids)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_keeps_the_header_and_the_containers_rows() {
        let text = "UID PID PPID CMD\nroot 1 0 init\nroot 42 1 sh\nroot 43 42 sleep\n";
        assert_eq!(
            filter_table(text, &[42, 43]).unwrap(),
            "UID PID PPID CMD\nroot 42 1 sh\nroot 43 42 sleep\n"
        );
        assert!(filter_table("UID CMD\n", &[1]).is_err());
    }

    #[test]
    fn a_process_of_the_callers_namespace_lists_itself_and_its_children() {
        let mut child = std::process::Command::new("sleep")
            .arg("10")
            .spawn()
            .unwrap();
        let me = std::process::id() as i32;
        let found = pids(me);
        let _ = child.kill();
        let _ = child.wait();
        assert!(found.contains(&me), "{found:?}");
        assert!(found.contains(&(child.id() as i32)), "{found:?}");
        assert!(!found.contains(&1), "{found:?}");
    }
}
