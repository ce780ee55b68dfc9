#!/usr/bin/env bash
# generate_configs.sh: write refproxy configs for 10, 20, 30, 40 and 50 services into configs/
# (the seed investigation's defaults). A thin front door: it builds scaleprof if needed and
# runs `scaleprof gen`; every flag goes to gen, and a later flag overrides a default:
#   ./generate_configs.sh [--shared] [--set key=value]... [--counts 10,20 | --geometric 10..1000]
#                         [--target refproxy|tsnsrv|nginx|haproxy|caddy | --template FILE]
#                         [--out DIR] [--force]
# --shared is short for --set architecture=shared. `build/harness/scaleprof gen --help` and
# `--list-keys` say the rest.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir=${BUILD_DIR:-build}
[[ $build_dir = /* ]] || build_dir=$root/$build_dir

args=()
for a in "$@"; do
    if [[ $a == --shared ]]; then args+=(--set architecture=shared); else args+=("$a"); fi
done

"$root/scripts/bootstrap.sh" build
exec "$build_dir/harness/scaleprof" gen --out configs --counts 10,20,30,40,50 "${args[@]}"
