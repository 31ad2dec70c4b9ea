#!/usr/bin/env bash
# Whole process, first spawn of a fresh process: the minimal launcher
# (examples/spawn_once.rs, one spawn through the builder) against the C baseline's
# one-shot mode (benches/phase_baseline.c), the same container, one process per
# container, hyperfine interleaving the commands. The launcher is built twice: as
# cargo builds it (dynamically linked: the loader maps libc and libgcc_s, and the
# Rust runtime sets up its stack guard and signal stack before main) and statically
# linked (`-C target-feature=+crt-static`), which leaves the start-up to the spawn.
# Each launcher's start-up alone (`--startup-only`: exit before the spawn) is timed
# too.
#
#   bash benches/whole_process.sh [RUNS]
#
# Run as root (the container maps 0 -> 100000 x 65536). Installs hyperfine and gcc
# from the distribution's packages when missing. Writes target/whole_process/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-300}"
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: needs root (the benchmark container maps 0 -> 100000 x 65536)"
    exit 0
fi
need=()
for tool in hyperfine:hyperfine gcc:gcc; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
if [ "${#need[@]}" -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
out=target/whole_process
mkdir -p "$out"
# The rootfs and the C baseline, as the benches make them.
cargo bench -q --bench phases >/dev/null
rootfs="$(realpath target/bench-rootfs)"
c="$(realpath target/bench-c/phase_baseline)"
cargo build -q --release --example spawn_once
dynamic="$(realpath target/release/examples/spawn_once)"
host="$(rustc -vV | sed -n 's/^host: //p')"
CARGO_TARGET_DIR=target/static RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build -q --release --example spawn_once --target "$host"
static="$(realpath "target/static/$host/release/examples/spawn_once")"
for cmd in "$c $rootfs" "$dynamic $rootfs" "$static $rootfs"; do
    $cmd || { echo "failed: $cmd" >&2; exit 1; }
done
hyperfine -N --warmup 20 --runs "$runs" --export-markdown "$out/results.md" \
    -n "C one-shot" "$c $rootfs" \
    -n "spawn_once (dynamic)" "$dynamic $rootfs" \
    -n "spawn_once (static)" "$static $rootfs" \
    -n "C start-up alone" "$c --startup-only" \
    -n "spawn_once start-up alone (dynamic)" "$dynamic --startup-only" \
    -n "spawn_once start-up alone (static)" "$static --startup-only"
cat "$out/results.md"
