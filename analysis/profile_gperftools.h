/*
 * profile_gperftools: the gperftools formats, parsed as they are (raw
 * addresses and the maps trailer). The backend in profile_gperftools.c turns
 * this into a struct profile (profile.h) by symbolizing the addresses; tests
 * and the fuzz targets use the raw parser directly.
 *
 * Formats:
 *   CPU  binary, native word size and byte order. Header words 0, 3, 0,
 *        period_us, 0; records count, depth, pc[depth]; trailer 0, 1, 0; then
 *        the text of /proc/self/maps.
 *   heap text. "heap profile: a: b [c: d] @ heapprofile", then one line per
 *        stack "objs: bytes [objs: bytes] @ 0x… 0x…", then "MAPPED_LIBRARIES:"
 *        and the maps text.
 *
 * Invariants after a successful read:
 *   - every sample's pcs lie in profile.pcs[pc_index .. pc_index + depth);
 *   - pcs are already "caller-fixed" as pprof does: every pc but the first of a
 *     stack is a return address, so 1 is subtracted to land inside the call
 *     instruction (symbolizing the return address would name the next line, or
 *     the next function when the call is the last instruction);
 *   - pcs[pc_index] is the leaf (innermost) frame.
 * The struct owns every pointer in it; gperf_free releases them and leaves a
 * zeroed struct. Readers never crash on bad input: a truncated or corrupt file
 * is an error (-1) whose message names the file and the byte offset (binary)
 * or line (text) at fault.
 */
#ifndef SCALEPROF_PROFILE_GPERFTOOLS_H
#define SCALEPROF_PROFILE_GPERFTOOLS_H

#include <stddef.h>
#include <stdint.h>

#include "profile.h" /* the limits */

enum gperf_kind { GPERF_CPU, GPERF_HEAP };

/* One stack and its values. CPU: v[0] = samples. Heap: v[0] in-use objects,
 * v[1] in-use bytes, v[2] allocated objects, v[3] allocated bytes. */
struct gperf_sample {
    uint64_t v[4];
    size_t pc_index;
    uint32_t depth;
};

/* One line of /proc/self/maps. path is "" for anonymous mappings. */
struct gperf_map {
    uint64_t start, end, offset;
    char perms[5];
    char *path;
};

struct gperf_profile {
    enum gperf_kind kind;
    char *name;              /* the file it was read from (for messages) */
    uint64_t period_us;      /* CPU: sampling period; heap: 0 */
    uint64_t total[4];       /* sums of v[] over samples */
    uint64_t heap_header[4]; /* heap: the four totals of the header line */
    struct gperf_sample *samples;
    size_t nsamples;
    uint64_t *pcs;
    size_t npcs;
    struct gperf_map *maps;
    size_t nmaps;
};

/* Reads PATH (CPU or heap, told apart by content). Returns 0, or -1 with a
 * message in err (always NUL-terminated when errlen > 0); p is zeroed on error.
 */
int gperf_read(const char *path, struct gperf_profile *p, char *err, size_t errlen);

/* The same from memory; name is used in messages. Does not keep data. */
int gperf_parse(const char *name, const void *data, size_t len, struct gperf_profile *p, char *err,
                size_t errlen);

/* Parses maps text (lines that do not look like maps lines are skipped).
 * Appends to p->maps. 0, or -1 with a message (over PROFILE_MAX_MAPS, memory). */
int gperf_parse_maps(struct gperf_profile *p, const char *text, size_t len, char *err,
                     size_t errlen);

/* The mapping holding addr, or NULL. */
const struct gperf_map *gperf_find_map(const struct gperf_profile *p, uint64_t addr);

void gperf_free(struct gperf_profile *p);

#endif
