#!/usr/bin/env bash
# fuzz/make_profile_corpus.sh: writes the seeds of fuzz_profile_cpu and
# fuzz_profile_heap into fuzz/corpus/ from tiny real profiles of the analysis
# test programs: a CPU profile of analysis/tests/hotspots (0.1 s, 1000 Hz) and
# the heap profile of hotspots_heap, each whole plus near-valid variants (cut
# in the header, mid-record, before and inside the maps trailer; bad magic).
# Usage: fuzz/make_profile_corpus.sh [BUILD_DIR]   (needs a tcmalloc build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
cpu_dir=$root/fuzz/corpus/fuzz_profile_cpu
heap_dir=$root/fuzz/corpus/fuzz_profile_heap
tmp=$(mktemp -d /tmp/profile_corpus.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$cpu_dir" "$heap_dir"

CPUPROFILE=$tmp/cpu.prof CPUPROFILE_FREQUENCY=1000 "$build/analysis/tests/hotspots" 0.1 >/dev/null
(cd "$tmp" && HEAPPROFILE=$tmp/heap "$build/analysis/tests/hotspots_heap" heap >/dev/null)
heap=$(ls "$tmp"/heap.*.heap | head -1)

# The maps trailer is long (every library): keep only the lines the stacks
# need plus a few, so seeds stay small and the fuzzer spends time on records.
python3 - "$tmp/cpu.prof" "$heap" "$cpu_dir" "$heap_dir" <<'PY'
import struct, sys
cpu, heap, cdir, hdir = sys.argv[1:5]
d = open(cpu, 'rb').read()
w = lambda i: struct.unpack_from('<Q', d, 8 * i)[0]
hdr = w(1) + 2
i = hdr
recs = []
while True:
    cnt, depth = w(i), w(i + 1)
    if cnt == 0 and depth == 1 and w(i + 2) == 0:
        break
    recs.append(d[8 * i: 8 * (i + 2 + depth)])
    i += 2 + depth
head = d[:8 * hdr]
trailer = d[8 * i: 8 * (i + 3)]
maps = d[8 * (i + 3):].decode(errors='replace').splitlines(True)
maps = ''.join([l for l in maps if 'hotspots' in l or 'libc' in l][:6]).encode()
small = head + b''.join(recs[:8]) + trailer + maps
def put(dirname, name, data):
    open(f'{dirname}/{name}', 'wb').write(data)
put(cdir, 'whole', small)
put(cdir, 'no_maps', head + b''.join(recs[:8]) + trailer)
put(cdir, 'cut_header', small[:24])
put(cdir, 'cut_record', small[:len(head) + len(recs[0]) - 4])
put(cdir, 'cut_trailer', head + b''.join(recs[:2]) + trailer[:16])
put(cdir, 'cut_maps', small[:len(small) - len(maps) // 2])
put(cdir, 'bad_magic', b'\x01' + small[1:])
put(cdir, 'deep', head + struct.pack('<QQ', 1, 5000) + b'\x00' * 64 + trailer)
h = open(heap, 'rb').read()
lines = h.split(b'\n')
top = lines[0]
stacks = [l for l in lines[1:] if b'@' in l][:6]
ml = lines.index(b'MAPPED_LIBRARIES:') if b'MAPPED_LIBRARIES:' in lines else len(lines)
hmaps = [l for l in lines[ml + 1:] if b'hotspots' in l or b'libc' in l][:6]
whole = b'\n'.join([top] + stacks + [b'', b'MAPPED_LIBRARIES:'] + hmaps) + b'\n'
put(hdir, 'whole', whole)
put(hdir, 'no_maps', b'\n'.join([top] + stacks) + b'\n')
put(hdir, 'cut_header', top[:20])
put(hdir, 'cut_stack', b'\n'.join([top] + stacks)[:len(top) + 30])
put(hdir, 'bad_magic', b'heap profle' + whole[11:])
put(hdir, 'huge_number', top + b'\n99999999999999999999: 1 [1: 1] @ 0x1\n')
PY
echo "seeds: $(ls "$cpu_dir" | wc -l) CPU, $(ls "$heap_dir" | wc -l) heap"
