#!/usr/bin/env python3
"""make_pprof_corpus.py: writes the seeds of fuzz_profile_pprof into
fuzz/corpus/fuzz_profile_pprof/.

Real seeds: short profiles of analysis/tests/.../pprofdemo (the Go program
test_profile_pprof_go runs; meson builds it), inflated (so the fuzzer mutates
protobuf, not deflate, whose CRC rejects nearly every mutation) plus two kept
gzipped. The binary is run from a temporary folder; its path in the mapping
table is rewritten to /usr/local/bin/pprofdemo so no path of the machine that
made the seeds is committed. Hand-made seeds: each reaches one branch of
profile_pprof.c or profile_pprof_decode.c (a measure rule, inlining, an
address-only profile, a bad reference, a malformed field).

    python3 fuzz/make_pprof_corpus.py [PPROFDEMO]   (default build/analysis/tests/pprofdemo)
"""
import gzip
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus", "fuzz_profile_pprof")
M64 = (1 << 64) - 1


def varint(n):
    n &= M64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def vi(field, n):
    return varint(field << 3) + varint(n)


def ld(field, payload):
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def packed(field, nums):
    return ld(field, b"".join(varint(n) for n in nums))


class Profile:
    """A profile.proto message built field by field (field numbers from
    pprof's profile.proto)."""

    def __init__(self):
        self.strings = [""]
        self.body = b""

    def s(self, text):
        if text not in self.strings:
            self.strings.append(text)
        return self.strings.index(text)

    def sample_type(self, type_, unit):
        self.body += ld(1, vi(1, self.s(type_)) + vi(2, self.s(unit)))

    def period(self, type_, unit, period):
        self.body += ld(11, vi(1, self.s(type_)) + vi(2, self.s(unit))) + vi(12, period)

    def mapping(self, id_, start, limit, offset, filename):
        self.body += ld(3, vi(1, id_) + vi(2, start) + vi(3, limit) + vi(4, offset)
                        + vi(5, self.s(filename)))

    def function(self, id_, name, filename="", start_line=0):
        self.body += ld(5, vi(1, id_) + vi(2, self.s(name)) + vi(4, self.s(filename))
                        + vi(5, start_line))

    def location(self, id_, mapping_id, address, funcs=()):
        lines = b"".join(ld(4, vi(1, f) + vi(2, 10 + i)) for i, f in enumerate(funcs))
        self.body += ld(4, vi(1, id_) + vi(2, mapping_id) + vi(3, address) + lines)

    def sample(self, locs, values, labels=b""):
        self.body += ld(2, packed(1, locs) + packed(2, values) + labels)

    def bytes(self):
        return self.body + b"".join(ld(6, t.encode()) for t in self.strings)


def cpu_base():
    p = Profile()
    p.sample_type("samples", "count")
    p.sample_type("cpu", "nanoseconds")
    p.period("cpu", "nanoseconds", 10000000)
    p.mapping(1, 0x400000, 0x500000, 0, "/usr/bin/prog")
    p.mapping(2, 0x7F0000000000, 0x7F0000100000, 0, "/usr/lib/libc.so.6")
    p.function(1, "main", "prog.c", 5)
    p.function(2, "work", "prog.c", 20)
    p.function(3, "helper", "prog.c", 40)
    p.function(4, "memcpy")
    p.location(1, 1, 0x401000, (3, 2))
    p.location(2, 1, 0x402000, (1,))
    p.location(3, 2, 0x7F0000001000, (4,))
    return p


def hand_made():
    seeds = {}
    seeds["strings_only"] = ld(6, b"")
    p = cpu_base()
    p.sample((3, 1, 2), (2, 20000000), ld(3, vi(1, p.s("thread")) + vi(2, p.s("main"))))
    p.sample((1, 2), (5, 50000000), ld(3, vi(1, p.s("bytes")) + vi(3, 4096) + vi(4, p.s("bytes"))))
    seeds["native_inline"] = p.bytes()

    p = Profile()
    p.sample_type("samples", "count")
    p.period("cpu", "microseconds", 1000)
    p.mapping(1, 0x400000, 0x500000, 0, "/usr/bin/prog")
    p.location(1, 1, 0x401234)
    p.location(2, 1, 0x402345)
    p.location(3, 0, 0)
    p.sample((1, 2, 3), (7,))
    seeds["address_only_samples_period"] = p.bytes()

    for name, types, values in [
        ("heap_kilobytes", [("inuse_space", "kilobytes"), ("inuse_objects", "count")], (3, 1)),
        ("go_heap", [("alloc_objects", "count"), ("alloc_space", "bytes"),
                     ("inuse_objects", "count"), ("inuse_space", "bytes")], (4, 16384, 1, 4096)),
        ("goroutine", [("goroutine", "count")], (5,)),
        ("block_us", [("contentions", "count"), ("delay", "microseconds")], (3, 1500)),
        ("unknown_types", [("wall", "nanoseconds"), ("cpu", "bananas")], (1, 2)),
        ("cpu_seconds_overflow", [("cpu", "seconds")], (1 << 62,)),
    ]:
        p = Profile()
        for t, u in types:
            p.sample_type(t, u)
        p.function(1, "runtime.main", "runtime/proc.go", 1)
        p.function(2, "main.main", "example.com/app/main.go", 3)
        p.location(1, 0, 0x1000, (2, 1))
        p.sample((1,), values)
        seeds[name] = p.bytes()

    p = cpu_base()
    p.sample((3, 99), (1, 10000000))
    seeds["bad_location_ref"] = p.bytes()
    p = cpu_base()
    p.function(1, "again")
    p.sample((2,), (1, 10000000))
    seeds["duplicate_function_id"] = p.bytes()
    p = cpu_base()
    p.sample((2,) * 5000, (1, 10000000))
    seeds["too_deep"] = p.bytes()
    p = cpu_base()
    p.strings[0] = "x"
    seeds["string0_not_empty"] = p.bytes()
    p = cpu_base()
    p.body += ld(5, vi(1, 9) + vi(2, -1))
    seeds["negative_string_index"] = p.bytes()
    seeds["location_cut"] = cpu_base().bytes() + b"\x22\x32\x08\x07\x10\x01"
    seeds["varint_11_bytes"] = b"\x32\x00\x60" + b"\xff" * 10 + b"\x01"
    seeds["group_wire_type"] = b"\x32\x00\x50\x01\x7b"
    seeds["gzip_zeros"] = gzip.compress(bytes(65536), mtime=0)
    return seeds


def scrub(data, tmp):
    """data with every top-level string_table entry (field 6) naming a file
    under tmp replaced by /usr/local/bin/pprofdemo."""
    out, pos = bytearray(), 0

    def read_varint(pos):
        shift = n = 0
        while True:
            b = data[pos]
            n |= (b & 0x7F) << shift
            pos += 1
            shift += 7
            if not b & 0x80:
                return n, pos

    while pos < len(data):
        start = pos
        tag, pos = read_varint(pos)
        wt = tag & 7
        if wt == 0:
            _, pos = read_varint(pos)
        elif wt == 2:
            n, body = read_varint(pos)
            pos = body + n
            if tag >> 3 == 6 and data[body:pos].startswith(tmp.encode()):
                out += ld(6, b"/usr/local/bin/pprofdemo")
                continue
        else:
            raise SystemExit(f"unexpected wire type {wt} at {start}")
        out += data[start:pos]
    return bytes(out)


def real(pprofdemo):
    seeds = {}
    with tempfile.TemporaryDirectory(prefix="pprof_corpus.") as tmp:
        exe = os.path.join(tmp, "pprofdemo")
        shutil.copy(pprofdemo, exe)
        subprocess.run([exe, "-out", tmp, "-cpu", "200ms"], check=True)
        for kind in ("cpu", "heap", "goroutine", "mutex", "block"):
            with open(os.path.join(tmp, kind + ".pb.gz"), "rb") as f:
                raw = scrub(gzip.decompress(f.read()), tmp)
            assert tmp.encode() not in raw, kind
            seeds["go_" + kind] = raw
            if kind in ("cpu", "goroutine"):
                seeds["go_" + kind + ".gz"] = gzip.compress(raw, mtime=0)
        seeds["go_goroutine_cut.gz"] = seeds["go_goroutine.gz"][: len(seeds["go_goroutine.gz"]) // 2]
        seeds["go_cpu_cut"] = seeds["go_cpu"][: len(seeds["go_cpu"]) * 2 // 3]
    return seeds


def main():
    pprofdemo = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        ROOT, "build", "analysis", "tests", "pprofdemo")
    os.makedirs(OUT, exist_ok=True)
    for old in os.listdir(OUT):
        os.unlink(os.path.join(OUT, old))
    seeds = hand_made()
    seeds.update(real(pprofdemo))
    for name, data in sorted(seeds.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"{len(seeds)} seeds, {sum(map(len, seeds.values()))} bytes in {OUT}")


if __name__ == "__main__":
    main()
