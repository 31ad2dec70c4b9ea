//! Where a spawn's time goes, phase by phase, next to the C baseline written the
//! obvious way (issue 15): `cargo bench --bench phases`.
//!
//! The container is [`common::container`]'s (user, mount, pid, uts, ipc
//! namespaces; maps 0 -> 100000 x 65536; the rootfs bound as the root, proc, a
//! tmpfs on /dev, `pivot_root`, a read-only root, `no_new_privs`, 48 EPERM seccomp
//! rules; `/bin/true`). Interleaved rounds (`LINCEPTION_PHASES_ROUNDS`, default 5)
//! of `LINCEPTION_PHASES_N` spawns (default 200) of each peer:
//!
//! - `builder`: one builder call and `spawn()` per container (the child shares
//!   this process's memory);
//! - `builder, copying clone`: the same with the copying clone forced (the
//!   fallback, and what the C program does);
//! - `template`: [`linception::Template::spawn`] of one template;
//! - `C`: `benches/phase_baseline.c --loop N` / `--profile N` (compiled here).
//!
//! Reports the phases (medians over every spawn of every round, microseconds from
//! `clone3`) from [`linception::SpawnProfile`] and the C program's own timestamps,
//! the in-process time per spawn + wait (unprofiled loops) as ratios to C, and the
//! first spawn of this process against the next ones. Needs root (the 65536-id
//! map): otherwise it prints `SKIP: needs root` (and fails under
//! `LINCEPTION_REQUIRE_ALL=1`). Without `--bench` (`cargo test --benches`) it
//! spawns one container of each kind, as a check. Writes `TARGET/phases/results.md`.

mod common;

use std::fmt::Write as _;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use linception::SpawnProfile;

/// The phases of a profile, as (name, time from clone3).
fn phases(p: &SpawnProfile) -> [(&'static str, Option<Duration>); 9] {
    [
        ("clone3 returned", Some(p.cloned)),
        ("maps written (parent)", p.maps_written),
        ("child released", p.released),
        ("mounts done", p.mounts_done),
        ("pivot_root done", p.pivot_root),
        ("seccomp installed", p.seccomp),
        ("just before execve", p.execve),
        ("exec seen by the parent", p.exec_seen),
        ("exit reaped", p.exited),
    ]
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Spawns `n` containers, each from `spawn`, profiled or not; returns the
/// profiles and the mean time per spawn + wait.
fn ours(
    n: usize,
    mut spawn: impl FnMut() -> linception::Result<linception::Container>,
) -> Result<(Vec<SpawnProfile>, f64), String> {
    let mut profiles = Vec::with_capacity(n);
    let start = Instant::now();
    for _ in 0..n {
        let mut c = spawn().map_err(|e| e.to_string())?;
        let st = c.wait().map_err(|e| e.to_string())?;
        if !st.success() {
            return Err(format!("the container failed: {st:?}"));
        }
        if let Some(p) = c.profile() {
            profiles.push(*p);
        }
    }
    Ok((profiles, us(start.elapsed()) / n as f64))
}

/// The C program's per-spawn mean of `--loop n`, in microseconds.
fn c_loop(c: &std::path::Path, rootfs: &std::path::Path, n: usize) -> Result<f64, String> {
    let out = Command::new(c)
        .args(["--loop", &n.to_string()])
        .arg(rootfs)
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "phase_baseline --loop N: X us per spawn + wait"
    text.split(": ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| {
            format!(
                "unexpected C output: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

/// The C program's `--profile n` medians: (phase, median) rows of its table.
fn c_profile(
    c: &std::path::Path,
    rootfs: &std::path::Path,
    n: usize,
) -> Result<Vec<(String, f64)>, String> {
    let out = Command::new(c)
        .args(["--profile", &n.to_string()])
        .arg(rootfs)
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<(String, f64)> = text
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| phase"))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            Some((cells.first()?.to_string(), cells.get(1)?.parse().ok()?))
        })
        .collect();
    if rows.is_empty() {
        return Err(format!("unexpected C output: {text}"));
    }
    Ok(rows)
}

fn main() -> ExitCode {
    let bench = std::env::args().any(|a| a == "--bench");
    let rootfs = match common::root_and_rootfs("phases") {
        Ok(r) => r,
        Err(code) => return code,
    };
    let build = || common::container::builder(&rootfs, false);
    // The first spawn of this process, then the next ones (builder, unprofiled).
    let first = Instant::now();
    match ours(1, || build().spawn()) {
        Ok(_) => {}
        Err(e) => {
            eprintln!("phases: the first spawn failed: {e}");
            return ExitCode::FAILURE;
        }
    }
    let first = us(first.elapsed());
    if !bench {
        let mut t = build().template().expect("template");
        ours(1, || t.spawn()).expect("a template's spawn");
        linception::__force_copying_clone(true);
        ours(1, || build().spawn()).expect("a copying spawn");
        linception::__force_copying_clone(false);
        println!("phases: one container of each kind spawned (run with --bench to measure)");
        return ExitCode::SUCCESS;
    }
    let c = common::c_baseline();
    if let Err(e) = &c {
        println!("SKIP: the C baseline: {e}");
    }
    let rounds: usize = std::env::var("LINCEPTION_PHASES_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let n: usize = std::env::var("LINCEPTION_PHASES_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let names = ["builder", "builder, copying clone", "template"];
    let mut profiles: Vec<Vec<SpawnProfile>> = vec![Vec::new(); names.len()];
    let mut loops: Vec<Vec<f64>> = vec![Vec::new(); names.len() + 1];
    let mut c_rows: Vec<Vec<(String, f64)>> = Vec::new();
    let mut template = build().template().expect("template");
    let mut profiled = build().profile().template().expect("template");
    let mut nexts = Vec::new();
    for _ in 0..rounds {
        for (i, _) in names.iter().enumerate() {
            linception::__force_copying_clone(i == 1);
            let (p, _) = match i {
                2 => ours(n, || profiled.spawn()),
                _ => ours(n, || build().profile().spawn()),
            }
            .expect("profiled spawns");
            profiles[i].extend(p);
            let (_, per) = match i {
                2 => ours(n, || template.spawn()),
                _ => ours(n, || build().spawn()),
            }
            .expect("spawns");
            loops[i].push(per);
            if i == 0 {
                nexts.push(per);
            }
        }
        linception::__force_copying_clone(false);
        if let Ok(c) = &c {
            loops[names.len()].push(c_loop(c, &rootfs, n).expect("C --loop"));
            c_rows.push(c_profile(c, &rootfs, n).expect("C --profile"));
        }
    }
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Phases, medians in us from clone3 ({rounds} rounds x {n} spawns each):\n"
    );
    let _ = writeln!(md, "| phase | builder | copying clone | template |");
    let _ = writeln!(md, "|---|---|---|---|");
    let _ = writeln!(
        md,
        "| prepare (spawn() to clone3) | {:.1} | {:.1} | {:.1} |",
        median(
            &mut profiles[0]
                .iter()
                .map(|p| us(p.prepare))
                .collect::<Vec<_>>()
        ),
        median(
            &mut profiles[1]
                .iter()
                .map(|p| us(p.prepare))
                .collect::<Vec<_>>()
        ),
        median(
            &mut profiles[2]
                .iter()
                .map(|p| us(p.prepare))
                .collect::<Vec<_>>()
        ),
    );
    for k in 0..9 {
        let name = phases(&SpawnProfile::default())[k].0;
        let col = |i: usize| {
            median(
                &mut profiles[i]
                    .iter()
                    .filter_map(|p| phases(p)[k].1.map(us))
                    .collect::<Vec<_>>(),
            )
        };
        let _ = writeln!(
            md,
            "| {name} | {:.1} | {:.1} | {:.1} |",
            col(0),
            col(1),
            col(2)
        );
    }
    if !c_rows.is_empty() {
        let _ = writeln!(
            md,
            "\nThe C baseline's phases (median of the rounds' medians, us):\n"
        );
        let _ = writeln!(md, "| phase | C |\n|---|---|");
        for (j, (name, _)) in c_rows[0].iter().enumerate() {
            let mut v: Vec<f64> = c_rows
                .iter()
                .filter_map(|r| r.get(j).map(|x| x.1))
                .collect();
            let _ = writeln!(md, "| {name} | {:.1} |", median(&mut v));
        }
    }
    let _ = writeln!(
        md,
        "\nIn-process spawn + wait, us per container (median of the rounds):\n"
    );
    let _ = writeln!(md, "| peer | us | ratio to C |\n|---|---|---|");
    let c_med = median(&mut loops[names.len()].clone());
    for (i, name) in names.iter().enumerate() {
        let m = median(&mut loops[i].clone());
        let _ = writeln!(md, "| {name} | {m:.1} | {:.2} |", m / c_med);
    }
    let _ = writeln!(md, "| C (`--loop`) | {c_med:.1} | 1.00 |");
    let next = median(&mut nexts);
    let t_next = median(&mut loops[2].clone());
    let _ = writeln!(
        md,
        "\nFirst spawn of this process (builder): {first:.1} us; next spawns: builder {next:.1} us \
         ({:.2}x the first), template {t_next:.1} us ({:.2}x the first, {:.2}x the builder's next).",
        next / first,
        t_next / first,
        t_next / next
    );
    print!("{md}");
    let out = common::out_dir("phases").join("results.md");
    let _ = std::fs::write(&out, &md);
    println!("\n(written to {})", out.display());
    ExitCode::SUCCESS
}
