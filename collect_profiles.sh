#!/usr/bin/env bash
# collect_profiles.sh: the whole investigation in one command. Builds scaleprof and refproxy if
# needed, writes fresh configs (refproxy, per-service architecture with tsnsrv-like defaults,
# 10..50 services), sweeps them (30 s warm-up, 30 s window per point) into results/, analyses
# the sweep, and ends with the verdict and where the report and profiles are.
#
#   ./collect_profiles.sh [--target refproxy|nginx|haproxy|caddy] [--shared] [--set key=value]...
#                         [--counts LIST | --geometric LO..HI] [--quick] [--repeat R] [--load RPS]
#                         [--out DIR] [--force] [SWEEP FLAGS]
#
#   --target T   the server to sweep (default refproxy): nginx, haproxy and caddy are installed
#                from Debian when missing, get their configs from `scaleprof gen --target T`
#                (one listener per service, every service proxying to one shared origin, which
#                the sweep starts with --load) and are profiled as they are served: caddy
#                through its Go pprof endpoint, nginx and haproxy by scaleprof's perf sampler
#   --shared     the shared architecture (--set architecture=shared; refproxy)
#   --set k=v    any refproxy config key (scaleprof gen --list-keys)
#   --quick      a first look: 2 s warm-up, 5 s window per point
#   --out DIR    results folder (default results/); an earlier run there is refused, or moved
#                aside with --force (never deleted)
# Any other flag goes to `scaleprof sweep` (--warmup, --duration, --order, --seed, ...).
# This script only translates flags; everything else happens in scaleprof.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir=${BUILD_DIR:-build}
[[ $build_dir = /* ]] || build_dir=$root/$build_dir
scaleprof=$build_dir/harness/scaleprof

gen_args=(--counts 10,20,30,40,50)
sweep_args=(--warmup 30 --duration 30)
out=results
heap_set=0 load=0 target=refproxy
while (($#)); do
    case $1 in
    --shared) gen_args+=(--set architecture=shared) ;;
    --target)
        (($# >= 2)) || { echo "collect_profiles.sh: --target needs a value" >&2; exit 2; }
        target=$2
        gen_args+=("$1" "$2"); shift ;;
    --set | --counts | --geometric | --base-port)
        (($# >= 2)) || { echo "collect_profiles.sh: $1 needs a value" >&2; exit 2; }
        [[ $1 == --set && $2 == heapProfile=* ]] && heap_set=1
        gen_args+=("$1" "$2"); shift ;;
    --load)
        (($# >= 2)) || { echo "collect_profiles.sh: --load needs a value" >&2; exit 2; }
        load=1
        sweep_args+=("$1" "$2"); shift ;;
    --quick) sweep_args+=(--warmup 2 --duration 5) ;;
    --out)
        (($# >= 2)) || { echo "collect_profiles.sh: --out needs a value" >&2; exit 2; }
        out=$2; shift ;;
    *) sweep_args+=("$1") ;;
    esac
    shift
done

# The server itself, when it is one Debian ships and it is missing.
case $target in
nginx) pkgs=(nginx-light) ;;
haproxy) pkgs=(haproxy) ;;
caddy) pkgs=(caddy) ;;
*) pkgs=() ;;
esac
"$root/scripts/bootstrap.sh" build "${pkgs[@]}"

# Heap profiles by default, as the seed's kit took them: cheap at idle (CPU at 50 services
# within noise), but about 80% of throughput under load, so with --load only on request.
if [[ $target == refproxy ]] && ((!heap_set && !load)); then
    gen_args+=(--set heapProfile=true)
fi

# Fresh configs for every run: stale files from an earlier gen must never join the sweep.
# Each point keeps the exact config it ran as <out>/<N>_services/config.yaml.
configs=$(mktemp -d "${TMPDIR:-/tmp}/scaleprof-configs.XXXXXX")
trap 'rm -rf "$configs"' EXIT
"$scaleprof" gen --out "$configs" "${gen_args[@]}" >/dev/null

status=0
"$scaleprof" sweep --configs "$configs" --out "$out" "${sweep_args[@]}" || status=$?
# 1 = some points failed: the rest is still worth analysing; anything else ends here
if ((status != 0 && status != 1)); then
    exit "$status"
fi

echo
"$scaleprof" analyze "$out" || status=$?
echo
# the largest point's profile, for a first look with pprof's own tools
last=
nmax=$(ls -d "$out"/*_services 2>/dev/null | sed 's|.*/||; s|_services$||' | sort -n | tail -n 1)
for f in "$out/${nmax}_services"/{,run-1/}cpu.{prof,pb.gz}; do
    [[ -f $f ]] && { last=$f; break; }
done
pprof=${build_dir#"$root/"}/pprof
if [[ $last == *.prof ]]; then
    echo "profiles: $last ($pprof --top ${build_dir#"$root/"}/proxy/refproxy $last, or scaleprof top $last)"
elif [[ -n $last ]]; then
    echo "profiles: $last (scaleprof top $last, or $pprof --top $last)"
fi
echo "manifest: $out/sweep.json; report: $out/report/index.html"
exit "$status"
