#!/usr/bin/env bash
# fuzz/run.sh: build the libFuzzer targets with clang and run each for a bounded
# time. Usage: fuzz/run.sh [SECONDS] [TARGET...]   (default 60 s, all targets)
#
# Builds straight from the sources (not meson) into fuzz/out/ (gitignored).
# Each run reads the committed seeds in fuzz/corpus/<target>/ and writes what it
# learns to fuzz/out/corpus/<target>/; crash files go to fuzz/out/artifacts/,
# never into the tree. Prints one summary line per target (executions, cov,
# ft) and exits non-zero if any target crashed or failed to build.
set -euo pipefail

secs=${1:-60}
shift || true
root=$(cd "$(dirname "$0")/.." && pwd)
fuzz=$root/fuzz
out=$fuzz/out
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(fuzz_http_request fuzz_http_response fuzz_http_chunked fuzz_config
             fuzz_profile_cpu fuzz_profile_heap fuzz_gen_template fuzz_profile_pprof)
fi
case $secs in '' | *[!0-9]*) echo "run.sh: SECONDS must be a whole number" >&2; exit 2 ;; esac

CC=${CC:-clang}
if ! command -v "$CC" >/dev/null; then
    echo "run.sh: $CC not found (Debian package clang)" >&2
    exit 2
fi
cflags=(-g -O1 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -fno-omit-frame-pointer
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
        -I"$root/proxy" -I"$root/common" -I"$root/analysis")
parser_sources=("$root/proxy/http_parse.c" "$root/proxy/http_chunked.c")

declare -A max_len=([fuzz_http_request]=4096 [fuzz_http_response]=4096
                    [fuzz_http_chunked]=12288 [fuzz_profile_cpu]=16384
                    [fuzz_profile_heap]=16384)
# fuzz_config: the config loader (its sources, libyaml, its own dictionary,
# and the task specs it reads every tasks.* key from)
declare -A extra=([fuzz_config]="$root/proxy/config.c $root/proxy/config_yaml.c
                  $root/proxy/config_value.c $root/proxy/tasks/task_specs.c $root/common/buf.c
                  $root/common/edit_distance.c -lyaml -Wno-unused-parameter")
declare -A dict=([fuzz_config]=config.dict)
# fuzz_profile_cpu/heap: the gperftools parser alone (no libdw/libelf: symbolization is not fuzzed)
extra+=([fuzz_profile_cpu]="$root/analysis/profile_gperftools_parse.c"
        [fuzz_profile_heap]="$root/analysis/profile_gperftools_parse.c")
dict+=([fuzz_profile_cpu]=profile.dict [fuzz_profile_heap]=profile.dict)
# fuzz_gen_template: harness/gen_template.c (scaleprof gen --template's language)
extra+=([fuzz_gen_template]="-I$root/harness $root/harness/gen_template.c $root/common/buf.c
        $root/common/edit_distance.c")
dict+=([fuzz_gen_template]=template.dict)
# fuzz_profile_pprof: profile_load_mem in an offline session, so the whole
# session links (every backend, symbolize.c and libdw) though no file is
# opened; profile.proto's C code is generated into $out/gen as meson does.
proto_dir=${PROFILE_PROTO_DIR:-/usr/share/gocode/src/github.com/google/pprof/proto}
gen=$out/gen
a=$root/analysis
extra+=([fuzz_profile_pprof]="$a/profile.c $a/profile_gperftools.c $a/profile_gperftools_parse.c
        $a/symbolize.c $root/common/strmap.c $a/profile_pprof.c $a/profile_pprof_decode.c
        $gen/profile.pb-c.c -I$gen -ldw -lelf -lprotobuf-c -lz")
dict+=([fuzz_profile_pprof]=pprof.dict)
# inflated Go profiles are a few KB; room for gzip bombs and deep stacks
max_len+=([fuzz_profile_pprof]=65536)

mkdir -p "$out/artifacts"
failed=0
for t in "${targets[@]}"; do
    [ "$t" = fuzz_profile_pprof ] || continue
    mkdir -p "$gen"
    if ! protoc-c --proto_path="$proto_dir" --c_out="$gen" "$proto_dir/profile.proto"; then
        echo "run.sh: protoc-c could not compile $proto_dir/profile.proto" \
             "(Debian: protobuf-c-compiler golang-github-google-pprof-dev)" >&2
        exit 2
    fi
done
for t in "${targets[@]}"; do
    if [ ! -f "$fuzz/$t.c" ]; then
        echo "run.sh: unknown target $t" >&2
        failed=1
        continue
    fi
    # shellcheck disable=SC2086 # extra[] is a word list on purpose
    if ! "$CC" "${cflags[@]}" "$fuzz/$t.c" "${parser_sources[@]}" ${extra[$t]:-} -o "$out/$t"; then
        echo "$t: BUILD FAILED (is libclang-rt-14-dev installed?)" >&2
        failed=1
        continue
    fi
    mkdir -p "$out/corpus/$t"
    log=$out/$t.log
    # New inputs go to the first (scratch) directory; the committed seeds are
    # only read. ASan/UBSan reports abort the run, so any of them fails it.
    set +e
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
        "$out/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -max_len="${max_len[$t]:-4096}" -dict="$fuzz/${dict[$t]:-http.dict}" -print_final_stats=1 \
        -artifact_prefix="$out/artifacts/$t-" "$out/corpus/$t" "$fuzz/corpus/$t" \
        >"$log" 2>&1
    rc=$?
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$({ grep -o 'cov: [0-9]*' "$log" || true; } | tail -1 | cut -d' ' -f2)
    ft=$({ grep -o 'ft: [0-9]*' "$log" || true; } | tail -1 | cut -d' ' -f2)
    if [ $rc -ne 0 ]; then
        echo "$t: CRASH (exit $rc) after ${execs:-?} executions; see $log and $out/artifacts/"
        grep -m5 -E 'ERROR|SUMMARY|runtime error|deadly signal' "$log" || true
        failed=1
    else
        echo "$t: ok, ${execs:-?} executions in ${secs}s, cov ${cov:-?}, ft ${ft:-?}"
    fi
done
exit $failed
