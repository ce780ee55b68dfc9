/*
 * fuzz_profile_heap.c: libFuzzer target for analysis/profile_gperftools_parse.c's gperftools
 * heap profile reader (text: header, sample lines, MAPPED_LIBRARIES maps).
 *
 * gperf_parse tells the two formats apart by their first bytes, so the
 * checks are exactly fuzz_profile_cpu.c's; this target exists so that its own
 * corpus (fuzz/corpus/fuzz_profile_heap/) evolves towards heap-profile text.
 */
#include "fuzz_profile_cpu.c"
