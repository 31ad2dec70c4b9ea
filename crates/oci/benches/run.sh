#!/usr/bin/env bash
# `run` of busybox's /bin/true in the same bundle, by linception-oci, by runc and (when
# installed) by crun, interleaved, N runs each (default 100), as root: the root variant
# (no user namespace) and the user-namespace variant. Prints medians and p90 in ms, and
# the ratios runc / linception-oci and crun / linception-oci. The config says
# ociVersion 1.0.2 (crun 1.8 refuses newer ones). On a hybrid cgroup host (crun
# refuses one) the whole script runs in a private mount namespace whose
# /sys/fs/cgroup is a cgroup2 mount, the same for every runtime; crun runs with
# `--cgroup-manager=disabled` there (it makes no cgroup, where linception-oci and
# runc make one and attach the device program). linception-oci is the static musl
# build when the x86_64-unknown-linux-musl target is installed, or the binary
# LINCEPTION_OCI_BIN names. With gcc, the floor beside them: benches/raw_container.c
# (below).
#
#   bash crates/oci/benches/run.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../../.."
if [ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ]; then
    if [ -z "${LINCEPTION_BENCH_NS:-}" ]; then
        exec env LINCEPTION_BENCH_NS=1 unshare -m --propagation private bash "$0" "$@"
    fi
    mount -t cgroup2 cgroup2 /sys/fs/cgroup
fi
n=${1:-100}
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
[ -x /usr/sbin/runc ] && [ -x /bin/busybox ] && command -v python3 bc >/dev/null || { echo "needs runc, busybox-static, python3 and bc" >&2; exit 1; }
crun=$(command -v crun || true)
[ -n "${crun}" ] || echo "crun not installed: measuring linception-oci and runc only" >&2
# The binary: LINCEPTION_OCI_BIN when set (as it is), else the static musl build
# when that target is installed (no dynamic loader, no CPU-feature probe at start:
# its start takes about 0.7x the default build's), else the default build.
musl=x86_64-unknown-linux-musl
if [ -n "${LINCEPTION_OCI_BIN:-}" ]; then
    ours=${LINCEPTION_OCI_BIN}
elif [ -d "$(rustc --print target-libdir --target "${musl}" 2>/dev/null)" ]; then
    cargo build --quiet --release -p linception-oci --target "${musl}"
    ours="${CARGO_TARGET_DIR:-target}/${musl}/release/linception-oci"
else
    echo "the ${musl} target is not installed (rustup target add ${musl}): measuring the default, dynamically linked build" >&2
    cargo build --quiet --release -p linception-oci
    ours="${CARGO_TARGET_DIR:-target}/release/linception-oci"
fi
[ -x "${ours}" ] || { echo "${ours}: not an executable" >&2; exit 1; }
echo "linception-oci: ${ours}" >&2
work=$(mktemp -d)
# The floor: benches/raw_container.c, the same namespaces (network included) made by
# plain libc calls, one bind of the rootfs, proc, pivot_root and the exec, nothing
# else (no cgroup, no /dev, no masks, no state). No runtime can do the config's work
# in less; crun / floor says how far below crun any runtime can get here.
floor=
if command -v gcc >/dev/null; then
    floor="${work}/raw_container"
    gcc -O2 -static -o "${floor}" benches/raw_container.c 2>/dev/null ||
        gcc -O2 -o "${floor}" benches/raw_container.c
else
    echo "gcc not installed: no floor (benches/raw_container.c)" >&2
fi
# runc enables every controller it finds in the cgroup2 root's subtree_control (the
# host's: the private mount above shares its hierarchy): what it adds is taken off
# again at exit, so the host's cgroups stay as they were.
subtree=/sys/fs/cgroup/cgroup.subtree_control
subtree_before=$(cat "${subtree}")
restore() {
    local c
    for c in $(cat "${subtree}"); do
        case " ${subtree_before} " in *" ${c} "*) ;; *) echo "-${c}" >"${subtree}" || true ;; esac
    done
    rm -rf "${work}"
}
trap restore EXIT
mkdir -p "${work}/b/rootfs/bin" "${work}/b/rootfs/proc" "${work}/b/rootfs/dev"
cp /bin/busybox "${work}/b/rootfs/bin/"
ln -s busybox "${work}/b/rootfs/bin/true"

# Milliseconds of one command, to stdout. The clock is bash's own EPOCHREALTIME, read
# without a process: a `date` started for the second reading would add its own start
# (about a millisecond here) to every runtime's figure.
ms() {
    local t0 t1
    t0=${EPOCHREALTIME}
    "$@" </dev/null >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
    t1=${EPOCHREALTIME}
    echo "scale=3; (${t1/./} - ${t0/./}) / 1000" | bc
}

# Median and p90 of a file of numbers.
stats() {
    sort -n "$1" | awk '{a[NR]=$1} END {printf "%.2f %.2f", a[int((NR+1)/2)], a[int(NR*0.9+0.5)]}'
}

for variant in root userns; do
    rm -f "${work}/b/config.json"
    if [ "${variant}" = userns ]; then
        "${ours}" spec --bundle "${work}/b" --rootless
    else
        "${ours}" spec --bundle "${work}/b"
    fi
    python3 -c 'import json, sys; p = sys.argv[1]; c = json.load(open(p)); c["ociVersion"] = "1.0.2"; c["process"]["args"] = ["/bin/true"]; json.dump(c, open(p, "w"))' "${work}/b/config.json"
    : >"${work}/ours.${variant}"
    : >"${work}/runc.${variant}"
    : >"${work}/crun.${variant}"
    : >"${work}/floor.${variant}"
    floor_args=(--net)
    [ "${variant}" = userns ] || floor_args+=(--no-userns)
    for i in $(seq "${n}"); do
        ms "${ours}" --root "${work}/state-ours" run --bundle "${work}/b" "o${i}" >>"${work}/ours.${variant}"
        ms runc --root "${work}/state-runc" run --bundle "${work}/b" "r${i}" >>"${work}/runc.${variant}"
        if [ -n "${crun}" ]; then
            ms "${crun}" --cgroup-manager=disabled --root "${work}/state-crun" run --bundle "${work}/b" "c${i}" >>"${work}/crun.${variant}"
        fi
        if [ -n "${floor}" ]; then
            ms "${floor}" "${floor_args[@]}" "${work}/b/rootfs" /bin/true >>"${work}/floor.${variant}"
        fi
    done
    read -r om o90 <<<"$(stats "${work}/ours.${variant}")"
    read -r rm_ r90 <<<"$(stats "${work}/runc.${variant}")"
    line="${variant}: linception-oci median ${om} ms p90 ${o90} ms; runc median ${rm_} ms p90 ${r90} ms; runc/ours median $(echo "scale=2; ${rm_} / ${om}" | bc)x, p90 $(echo "scale=2; ${r90} / ${o90}" | bc)x"
    if [ -n "${crun}" ]; then
        read -r cm c90 <<<"$(stats "${work}/crun.${variant}")"
        line="${line}; crun median ${cm} ms p90 ${c90} ms; crun/ours median $(echo "scale=2; ${cm} / ${om}" | bc)x, p90 $(echo "scale=2; ${c90} / ${o90}" | bc)x"
    fi
    if [ -n "${floor}" ]; then
        read -r fm f90 <<<"$(stats "${work}/floor.${variant}")"
        line="${line}; floor median ${fm} ms p90 ${f90} ms, ours/floor $(echo "scale=2; ${om} / ${fm}" | bc)x"
        if [ -n "${crun}" ]; then
            line="${line}, crun/floor $(echo "scale=2; ${cm} / ${fm}" | bc)x"
        fi
    fi
    echo "${line} (n=${n})"
done
