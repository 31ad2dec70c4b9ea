#!/usr/bin/env bash
# Times the same container (same rootfs, namespaces, program: /bin/true) with
# linception's container example, bubblewrap, crun, and a raw baseline written
# with plain libc calls (raw_container.c), side by side in one hyperfine run.
#
#   bash benches/compare.sh [RUNS]
#
# Installs bubblewrap, crun, hyperfine and gcc from the distribution's packages
# (Debian/Ubuntu) when missing. Run as root (crun needs it for the bundle as
# written here). Writes the table to target/compare/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."

# crun refuses a hybrid cgroup v1/v2 host. There, run the whole comparison (every
# runner alike) in a private mount namespace with cgroup2 on /sys/fs/cgroup.
if [ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ]; then
    if [ -z "${LINCEPTION_COMPARE_NS:-}" ]; then
        exec env LINCEPTION_COMPARE_NS=1 unshare -m --propagation private bash "$0" "$@"
    fi
    mount -t cgroup2 cgroup2 /sys/fs/cgroup
fi
runs="${1:-300}"
out=target/compare
mkdir -p "$out"

need=()
for tool in bwrap:bubblewrap crun:crun hyperfine:hyperfine gcc:gcc python3:python3; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
if [ "${#need[@]}" -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# A minimal rootfs: /bin/true and the libraries it loads, plus mount points.
rootfs="$(realpath "$out")/rootfs"
rm -rf "$rootfs"
mkdir -p "$rootfs"/{bin,proc,dev,sys,tmp,etc}
true_bin="$(type -P true)"
true_bin="$(realpath "$true_bin")"
cp "$true_bin" "$rootfs/bin/true"
for lib in $(ldd "$true_bin" | grep -o '/[^ ]*'); do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
done

gcc -O2 -Wall -o "$out/raw_container" benches/raw_container.c
cargo build --release --quiet --example container
example="$(realpath target/release/examples/container)"

# An OCI bundle for crun with the same namespaces and mounts (rootfs bind + proc).
bundle="$(realpath "$out")/bundle"
rm -rf "$bundle" && mkdir -p "$bundle"
ln -s "$rootfs" "$bundle/rootfs"
python3 - "$bundle/config.json" "$(id -u)" "$(id -g)" <<'PY'
import json, sys
path, uid, gid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
config = {
    "ociVersion": "1.0.2",
    "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["/bin/true"],
                "env": ["PATH=/bin"], "cwd": "/", "noNewPrivileges": True},
    "root": {"path": "rootfs", "readonly": False},
    "hostname": "container",
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
    "linux": {
        "namespaces": [{"type": t} for t in ["pid", "network", "ipc", "uts", "mount", "user"]],
        "uidMappings": [{"containerID": 0, "hostID": uid, "size": 1}],
        "gidMappings": [{"containerID": 0, "hostID": gid, "size": 1}],
    },
}
json.dump(config, open(path, "w"), indent=1)
PY

"$out/raw_container" --net "$rootfs" /bin/true
bwrap --unshare-user --unshare-pid --unshare-uts --unshare-ipc --unshare-net \
    --bind "$rootfs" / --proc /proc --hostname container /bin/true
"$example" --rootfs "$rootfs" -- /bin/true
crun --cgroup-manager=disabled run --bundle "$bundle" linception-compare-check

hyperfine -N --warmup 20 --runs "$runs" --export-markdown "$out/results.md" \
    -n raw "$out/raw_container --net $rootfs /bin/true" \
    -n linception "$example --rootfs $rootfs -- /bin/true" \
    -n bwrap "bwrap --unshare-user --unshare-pid --unshare-uts --unshare-ipc --unshare-net --bind $rootfs / --proc /proc --hostname container /bin/true" \
    -n crun "crun --cgroup-manager=disabled run --bundle $bundle linception-compare"
cat "$out/results.md"
