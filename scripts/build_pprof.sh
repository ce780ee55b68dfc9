#!/bin/sh
# build_pprof.sh: builds the standalone google/pprof offline, from Debian's
# golang-github-google-pprof-dev source package, into build/pprof (or $1).
#
#   scripts/build_pprof.sh [OUTPUT]
#
# Why the settings: GO111MODULE=off builds from GOPATH (/usr/share/gocode,
# where the -dev packages put the source and its dependencies readline and
# demangle), so nothing is downloaded; GOCACHE lives in the build dir because
# go refuses to build without a cache and CI may have no writable $HOME;
# GOFLAGS/GOPROXY from the caller's environment are cleared so they cannot
# turn modules or vendoring back on; CGO_ENABLED=0 needs no C toolchain.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-"$here/build/pprof"}
pkgs="golang-go golang-github-google-pprof-dev"
src=/usr/share/gocode/src/github.com/google/pprof

missing=""
command -v go >/dev/null 2>&1 || missing="golang-go"
[ -f "$src/pprof.go" ] || missing="$missing golang-github-google-pprof-dev"
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y $pkgs
    else
        echo "build_pprof.sh: missing packages; run: sudo apt-get install -y $pkgs" >&2
        exit 2
    fi
fi

mkdir -p "$(dirname "$out")"
# go wants absolute paths for its cache (and -o is clearer so): OUTPUT may be
# relative, as BUILD_DIR=build-ci gives it.
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
cache="$(dirname "$out")/.gocache"
mkdir -p "$cache"
env -u GOFLAGS -u GOROOT GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$cache" \
    GOPROXY=off CGO_ENABLED=0 go build -trimpath -o "$out" github.com/google/pprof
# A sanity run: the binary answers without a profile.
"$out" -h >/dev/null 2>&1 || true
[ -x "$out" ] || { echo "build_pprof.sh: $out was not built" >&2; exit 1; }
echo "$out"
