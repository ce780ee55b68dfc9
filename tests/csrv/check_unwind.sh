#!/usr/bin/env bash
# check_unwind: proves csrv is the target issue 19 needs: a binary without
# frame pointers or a built-in profiler whose planted cost sits in libc, so
# only unwinding through libc from CFI finds the culprit.
#   check_unwind.sh CSRV
# Checks (1) .eh_frame is there and csrv links libc only (no gperftools);
# (2) csrv's own hot functions have no frame-pointer prologue and
# peers_compare calls memcmp through the PLT (not an inlined builtin);
# (3) perf record --call-graph dwarf on a 30-service csrv: samples in memcmp
# unwind to peers_compare, service_run, start_thread and clone3, and memcmp
# holds most of the planted CPU; (4) with --call-graph fp they do not (fewer
# than half name peers_compare), so the culprit needs CFI. Prints what it saw. Exit 0 pass, 1 fail,
# 77 (skipped) when perf is missing or not permitted to sample.
set -euo pipefail
csrv=${1:?usage: check_unwind.sh CSRV}
fail() { echo "check_unwind: FAIL: $*" >&2; exit 1; }
for tool in perf readelf objdump; do
    command -v "$tool" >/dev/null || { echo "check_unwind: no $tool; skipped" >&2; exit 77; }
done

readelf -SW "$csrv" | grep -q ' \.eh_frame ' || fail "no .eh_frame section"
readelf -SW "$csrv" | grep -q ' \.eh_frame_hdr ' || fail "no .eh_frame_hdr section"
needed=$(readelf -dW "$csrv" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
[[ $needed == "libc.so.6 " ]] || fail "links more than libc: $needed"
echo "check_unwind: .eh_frame present; NEEDED: $needed"

disasm() { objdump -d --no-show-raw-insn "$csrv" | awk -v f="<$1>:" '$2 == f {p = 1; next} p && /^$/ {p = 0} p'; }
for fn in peers_compare service_digest service_run main; do
    body=$(disasm "$fn")
    [[ -n $body ]] || fail "no function $fn in the binary (inlined or renamed?)"
    ! grep -q 'mov *%rsp,%rbp' <<<"$body" || fail "$fn sets up a frame pointer"
done
[[ $(disasm peers_compare) == *"call"*"<memcmp@plt>"* ]] || fail "peers_compare does not call libc memcmp"
echo "check_unwind: no frame-pointer prologue in peers_compare, service_digest, service_run, main;" \
    "peers_compare calls memcmp@plt"

tmp=$(mktemp -d)
pid=
cleanup() {
    [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

# 30 services on a random run of ports; a clash exits 1 at once, so retry elsewhere.
n=30
for attempt in 1 2 3 4 5; do
    base=$((20000 + RANDOM % 10000))
    for ((i = 0; i < n; i++)); do printf '[service svc-%02d]\nport = %d\n' "$i" $((base + i)); done >"$tmp/c.conf"
    "$csrv" --config "$tmp/c.conf" 2>"$tmp/csrv.log" &
    pid=$!
    ready=
    for ((w = 0; w < 100; w++)); do
        kill -0 "$pid" 2>/dev/null || break
        if (exec 3<>"/dev/tcp/127.0.0.1/$((base + n - 1))") 2>/dev/null; then ready=1; break; fi
        sleep 0.05
    done
    [[ -n $ready ]] && break
    wait "$pid" 2>/dev/null || true
    pid=
done
[[ -n $pid ]] || fail "csrv did not start: $(cat "$tmp/csrv.log")"

record() { # record MODE: 2 s of perf samples with that call-graph mode
    if ! perf record -q -F 499 --call-graph "$1" -p "$pid" -o "$tmp/$1.data" -- sleep 2 \
        >"$tmp/perf.log" 2>&1; then
        echo "check_unwind: perf record failed (not permitted?); skipped: $(head -3 "$tmp/perf.log")" >&2
        exit 77
    fi
}
record dwarf
record fp
perf script -i "$tmp/dwarf.data" -F ip,sym 2>/dev/null | awk '
    BEGIN { RS = "" }
    {
        total++
        if ($2 ~ /memcmp/) {
            in_memcmp++
            # the chain, leaf first: memcmp, peers_compare, service_run, start_thread, clone3
            if ($4 == "peers_compare" && $6 == "service_run" && $8 == "start_thread" && $10 == "clone3")
                full++
            else if (bad < 3) { bad++; print "check_unwind: not unwound: " $0 > "/dev/stderr" }
        }
        if ($2 == "peers_compare") planted_self++
    }
    END {
        printf "check_unwind: %d samples, %d in %s, %d of them unwound memcmp > peers_compare > service_run > start_thread > clone3; %d in peers_compare itself\n", total, in_memcmp, "memcmp", full, planted_self
        if (in_memcmp < 20) { print "check_unwind: FAIL: too few samples in memcmp" > "/dev/stderr"; exit 1 }
        if (full < 0.9 * in_memcmp) { print "check_unwind: FAIL: under 90% of memcmp samples unwound" > "/dev/stderr"; exit 1 }
        if (planted_self * 5 > in_memcmp) { print "check_unwind: FAIL: the planted CPU is not mostly in libc" > "/dev/stderr"; exit 1 }
    }'
# The contrast that makes csrv worth having: frame-pointer unwinding loses the
# caller of memcmp (a leaf without a frame, under a caller that uses rbp for data).
perf script -i "$tmp/fp.data" -F ip,sym 2>/dev/null | awk '
    BEGIN { RS = "" }
    $2 ~ /memcmp/ { in_memcmp++; if ($4 == "peers_compare") found++ }
    END {
        printf "check_unwind: frame-pointer unwinding: %d samples in memcmp, %d with peers_compare as caller\n", in_memcmp, found
        if (in_memcmp < 20) { print "check_unwind: FAIL: too few samples in memcmp" > "/dev/stderr"; exit 1 }
        if (found * 2 > in_memcmp) { print "check_unwind: FAIL: frame pointers find the culprit too" > "/dev/stderr"; exit 1 }
    }'
