#!/usr/bin/env bash
# Runs the OCI runtime validation suite (opencontainers/runtime-tools: the
# validation/ programs and runtimetest) against runc and against linception-oci,
# one program at a time, and writes a table of the TAP results.
#
# Usage (as root, from anywhere in the repository):
#   RUNTIME_TOOLS_SRC=<runtime-tools source tree> bash crates/oci/validation/run.sh [PROGRAM...]
#
# Environment:
#   RUNTIME_TOOLS_SRC  a runtime-tools source tree holding validation/ and
#                      cmd/runtimetest/ (Debian's -dev package ships only the
#                      libraries); it is built in GOPATH mode against Debian's Go
#                      packages (and against its own vendor/ if it has one)
#   TAP_GO_SRC         the github.com/mndrix/tap-go sources, if neither the tree's
#                      vendor/ nor Debian has them
#   TIMEOUT            seconds per program and runtime (default 120)
#   OUT                where logs and the table go (default: a new temporary dir)
#   RUNC               the reference runtime (default: runc on PATH)
#   OURS               a linception-oci binary (default: built here in release)
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (the suite creates containers as root)" >&2; exit 1; }
repo=$(cd "$(dirname "$0")/../../.." && pwd)
timeout_s=${TIMEOUT:-120}

# 1. packages
pkgs="golang-go golang-github-opencontainers-runtime-tools-dev golang-github-google-uuid-dev golang-github-moby-sys-dev busybox-static runc"
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
	echo "installing:$missing"
	DEBIAN_FRONTEND=noninteractive apt-get install -y $missing >/dev/null
fi

# 2. the suite, built in a temporary GOPATH
src=${RUNTIME_TOOLS_SRC:-}
if [ -z "$src" ] || [ ! -d "$src/validation" ] || [ ! -d "$src/cmd/runtimetest" ]; then
	echo "run.sh: set RUNTIME_TOOLS_SRC to a runtime-tools source tree with validation/ and cmd/runtimetest/" >&2
	echo "        (Debian's golang-github-opencontainers-runtime-tools-dev ships the libraries only)" >&2
	exit 1
fi
work=$(mktemp -d -t linception-oci-validation.XXXXXX)
out=${OUT:-$work/out}
mkdir -p "$out"
gopath=$work/gopath
rt=$gopath/src/github.com/opencontainers/runtime-tools
mkdir -p "$rt"
cp -r /usr/share/gocode/src/github.com/opencontainers/runtime-tools/. "$rt/"
cp -r "$src/." "$rt/"
if [ ! -d "$rt/vendor/github.com/mndrix/tap-go" ] && [ ! -d /usr/share/gocode/src/github.com/mndrix/tap-go ]; then
	[ -n "${TAP_GO_SRC:-}" ] || { echo "run.sh: github.com/mndrix/tap-go not found: set TAP_GO_SRC" >&2; exit 1; }
	mkdir -p "$gopath/src/github.com/mndrix"
	cp -r "$TAP_GO_SRC" "$gopath/src/github.com/mndrix/tap-go"
fi
export GO111MODULE=off GOPATH=$gopath:/usr/share/gocode GOCACHE=$work/gocache GOFLAGS=
bin=$work/bin
mkdir -p "$bin"
(cd "$gopath" && CGO_ENABLED=0 go build -o "$bin/runtimetest" ./src/github.com/opencontainers/runtime-tools/cmd/runtimetest)
programs=("$@")
if [ ${#programs[@]} = 0 ]; then
	for d in "$rt"/validation/*/; do
		n=$(basename "$d")
		[ "$n" = util ] || programs+=("$n")
	done
fi
for p in "${programs[@]}"; do
	(cd "$gopath" && go build -o "$bin/$p.t" "./src/github.com/opencontainers/runtime-tools/validation/$p")
done

# 3. the rootfs the programs unpack (busybox), next to runtimetest
root=$work/rootfs
mkdir -p "$root"/{bin,dev,proc,sys,etc,tmp,root}
cp /bin/busybox "$root/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
tar -C "$root" -czf "$bin/rootfs-$(go env GOARCH).tar.gz" .

# 4. the runtimes
runc_bin=${RUNC:-$(command -v runc)}
if [ -z "${OURS:-}" ]; then
	(cd "$repo" && cargo build --release -p linception-oci --quiet)
	ours=${CARGO_TARGET_DIR:-$repo/target}/release/linception-oci
else
	ours=$OURS
fi

# 5. run: each program by each runtime, from the directory holding runtimetest
#    and the rootfs tarball (the programs find both there)
count() { # file -> "ok notok skip"
	local f=$1 ok notok skip
	ok=$(grep -cE '^ok [0-9]+' "$f" || true)
	skip=$(grep -cE '^ok [0-9]+ # SKIP' "$f" || true)
	notok=$(grep -E '^not ok [0-9]+' "$f" | grep -vc '# TODO' || true)
	echo "$ok $notok $skip"
}
verdict() { # rc ok notok file
	local rc=$1 ok=$2 notok=$3 f=$4
	if [ "$rc" != 0 ]; then echo "FAIL(rc=$rc)"; return; fi
	if [ "$notok" != 0 ]; then echo FAIL; return; fi
	if [ "$ok" = 0 ] && grep -qE '^ +"error": ' "$f"; then echo "FAIL(diag)"; return; fi
	echo pass
}
table=$out/results.md
{
	echo "| program | runc | linception-oci |"
	echo "|---|---|---|"
} >"$table"
pass_runc=0 pass_ours=0 n=0
for p in "${programs[@]}"; do
	row="| $p"
	for which in runc ours; do
		if [ $which = runc ]; then r=$runc_bin; else r=$ours; fi
		log=$out/$which/$p.tap
		mkdir -p "$out/$which"
		set +e
		(cd "$bin" && RUNTIME=$r timeout --kill-after=10 "$timeout_s" "./$p.t" >"$log" 2>"$log.stderr")
		rc=$?
		set -e
		read -r ok notok skip < <(count "$log")
		v=$(verdict "$rc" "$ok" "$notok" "$log")
		[ "$v" = pass ] && { [ $which = runc ] && pass_runc=$((pass_runc + 1)) || pass_ours=$((pass_ours + 1)); }
		row="$row | $v: $((ok - skip)) ok, $notok not ok, $skip skip"
	done
	n=$((n + 1))
	echo "$row |" | tee -a "$table"
done
echo
echo "programs passed: runc $pass_runc/$n, linception-oci $pass_ours/$n" | tee -a "$table"
echo "table: $table (logs beside it)"
