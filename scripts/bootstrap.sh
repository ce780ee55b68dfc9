#!/usr/bin/env bash
# bootstrap: the one set-up step behind every entry point.
#   scripts/bootstrap.sh [build|test|ci] [EXTRA PACKAGE...]   (default: build)
# Installs the Debian packages that are missing (build: compiler and libraries,
# gnuplot for the report, Go for the Go test target and pprof; test: also the
# tools the tests drive; ci: also the fuzzing runtime), then configures meson
# in $BUILD_DIR (default build/) if needed, builds, and builds pprof's
# standalone tool into $BUILD_DIR/pprof. Extra meson options for a new build dir: $MESON_ARGS.
# Exit 2 when packages are missing and we are not root (the command is printed).
set -euo pipefail

mode=${1:-build}
shift || true
extra_pkgs=("$@") # e.g. the server a sweep is about to run (collect_profiles.sh --target)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-build}

build_pkgs=(gcc libc6-dev meson ninja-build pkg-config libyaml-dev libcurl4-openssl-dev
            libgoogle-perftools-dev libcmocka-dev libdw-dev libjansson-dev gnuplot-nox
            libprotobuf-c-dev protobuf-c-compiler zlib1g-dev golang-github-google-pprof-dev
            golang-go procps iproute2 ca-certificates)
# nginx-light, haproxy, caddy: gen's built-in targets, whose configs the tests check
# with the programs themselves and start (harness/tests/test_gen_check.c)
test_pkgs=(google-perftools prometheus curl wrk
           chromium util-linux nginx-light haproxy caddy)
ci_pkgs=(clang libclang-rt-14-dev)

case "$mode" in
build) want=("${build_pkgs[@]}") ;;
test) want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
ci) want=("${build_pkgs[@]}" "${test_pkgs[@]}" "${ci_pkgs[@]}") ;;
*) echo "usage: $0 [build|test|ci] [EXTRA PACKAGE...]" >&2; exit 2 ;;
esac
want+=("${extra_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ $status == *"install ok installed"* ]] || missing+=("$p")
done

if ((${#missing[@]})); then
    cmd="apt-get install -y --no-install-recommends ${missing[*]}"
    if [[ $(id -u) -ne 0 ]]; then
        echo "bootstrap: missing Debian packages: ${missing[*]}" >&2
        echo "bootstrap: run as root:  apt-get update && $cmd" >&2
        exit 2
    fi
    echo "bootstrap: installing ${missing[*]}" >&2
    # Servers among them (nginx, haproxy, caddy) are for the tests to start; their
    # package scripts must not start system daemons on :80 now. invoke-rc.d asks
    # policy-rc.d; 101 means "not allowed" (what container images ship).
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    # apt-get update once per bootstrap run, only when something is missing.
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $cmd -qq >/dev/null
fi

cd "$root"
if [[ ! -f $build_dir/build.ninja ]]; then
    # shellcheck disable=SC2086
    meson setup "$build_dir" ${MESON_ARGS:-} >/dev/null
fi
ninja -C "$build_dir" >/dev/null || ninja -C "$build_dir"
# pprof's own tool beside the build, so `build/pprof --top …` works on the results as printed
# (offline, from Debian's source package; once)
if [[ ! -x $build_dir/pprof ]]; then
    "$root/scripts/build_pprof.sh" "$build_dir/pprof" >/dev/null
fi
