/*
 * profile: read gperftools profiles into one in-memory shape.
 *
 * Formats (the gperftools backend; another format would be another reader
 * filling the same struct):
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
 * The struct owns every pointer in it; profile_free releases them and leaves a
 * zeroed struct. Readers never crash on bad input: a truncated or corrupt file
 * is an error (-1) whose message names the file and the byte offset (binary)
 * or line (text) at fault.
 */
#ifndef SCALEPROF_PROFILE_H
#define SCALEPROF_PROFILE_H

#include <stddef.h>
#include <stdint.h>

/* Hard limits on what a reader accepts (bounded input, fuzzed). */
#define PROFILE_MAX_BYTES ((size_t)1 << 30) /* whole file */
#define PROFILE_MAX_DEPTH 4096              /* frames in one stack */
#define PROFILE_MAX_MAPS 65536              /* lines of the maps trailer used */

enum profile_kind { PROFILE_CPU, PROFILE_HEAP };

/* One stack and its values. CPU: v[0] = samples. Heap: v[0] in-use objects,
 * v[1] in-use bytes, v[2] allocated objects, v[3] allocated bytes. */
struct profile_sample {
    uint64_t v[4];
    size_t pc_index;
    uint32_t depth;
};

/* One line of /proc/self/maps. path is "" for anonymous mappings. */
struct profile_map {
    uint64_t start, end, offset;
    char perms[5];
    char *path;
};

struct profile {
    enum profile_kind kind;
    char *name;              /* the file it was read from (for messages) */
    uint64_t period_us;      /* CPU: sampling period; heap: 0 */
    uint64_t total[4];       /* sums of v[] over samples */
    uint64_t heap_header[4]; /* heap: the four totals of the header line */
    struct profile_sample *samples;
    size_t nsamples;
    uint64_t *pcs;
    size_t npcs;
    struct profile_map *maps;
    size_t nmaps;
};

/* Reads PATH (CPU or heap, told apart by content). Returns 0, or -1 with a
 * message in err (always NUL-terminated when errlen > 0); p is zeroed on error.
 */
int profile_read(const char *path, struct profile *p, char *err, size_t errlen);

/* The same from memory; name is used in messages. Does not keep data. */
int profile_parse(const char *name, const void *data, size_t len, struct profile *p, char *err,
                  size_t errlen);

/* Parses maps text (lines that do not look like maps lines are skipped).
 * Appends to p->maps. 0, or -1 with a message (over PROFILE_MAX_MAPS, memory). */
int profile_parse_maps(struct profile *p, const char *text, size_t len, char *err, size_t errlen);

/* The mapping holding addr, or NULL. */
const struct profile_map *profile_find_map(const struct profile *p, uint64_t addr);

void profile_free(struct profile *p);

#endif
