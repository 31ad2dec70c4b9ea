//! Prints which of linception's kernel features the running kernel offers, each
//! with the kernel release that added it (for cgroup v2: where it is mounted and
//! which controllers this process may use there).
//!
//! `cargo run --example features`

fn main() {
    let report = linception::features();
    println!(
        "{:<28} {:>7}  {:<9} why not / what for",
        "feature", "since", "available"
    );
    for status in &report {
        let feature = status.feature;
        let (mark, note) = match &status.result {
            // cgroup v2's line says where it is and which controllers we may use.
            Ok(()) => (
                "yes",
                status
                    .detail
                    .clone()
                    .unwrap_or_else(|| feature.description().to_string()),
            ),
            Err(missing) => ("no", missing.to_string()),
        };
        println!(
            "{:<28} {:>7}  {:<9} {note}",
            feature.name(),
            feature.min_kernel(),
            mark
        );
    }
    let available = report.iter().filter(|s| s.available()).count();
    println!("\n{available} of {} available", report.len());
}
