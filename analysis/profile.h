/*
 * profile: every profile the analysis reads, whatever its format, as one
 * shape: samples of call stacks of functions, each sample carrying values in
 * canonical measures (CPU nanoseconds, bytes, goroutines, …).
 *
 * Formats are backends behind struct profile_format (profile_format.h), one
 * file each: gperftools CPU/heap (profile_gperftools.c), pprof protobuf
 * (profile_pprof.c). A reader is picked by the file's first bytes, so callers
 * never ask which format a point holds; a new format is a new file and one
 * line in profile.c's table.
 *
 * Functions are interned in a session (struct profile_session): equal names
 * get equal ids across every profile loaded in it, so a sweep of profiles can
 * be summed by id; the session also keeps what is costly to build once per
 * sweep (the libdwfl symbolizer for formats that hold addresses only).
 *
 * Invariants after a successful load:
 *   - sample k's stack is frames[samples[k].frame_index .. + depth), leaf
 *     (innermost) first; each entry is a function id of the session;
 *   - inlined calls are frames of their own (pprof's Line list), innermost
 *     first, as if they were real calls;
 *   - v[m] is meaningful only for measures in `measures` (bit 1u << m); the
 *     others are 0; totals are the sums of v over samples.
 * The struct owns every pointer in it; profile_free releases them. Loaders
 * never crash on bad input: a truncated or corrupt file is an error (-1)
 * whose message names the file and the byte offset, line or element at fault.
 */
#ifndef SCALEPROF_PROFILE_H
#define SCALEPROF_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Hard limits on what a loader accepts (bounded input, fuzzed). */
#define PROFILE_MAX_BYTES ((size_t)1 << 30)      /* a file as stored */
#define PROFILE_MAX_INFLATED ((size_t)512 << 20) /* a compressed file, inflated */
#define PROFILE_MAX_DEPTH 4096                   /* frames in one stack */
#define PROFILE_MAX_MAPS 65536                   /* mappings used */

/* What a value means, in canonical units. */
enum profile_measure {
    PROFILE_SAMPLES,       /* CPU samples taken (count) */
    PROFILE_CPU_NS,        /* CPU time, nanoseconds */
    PROFILE_INUSE_BYTES,   /* heap in use at the time of the profile */
    PROFILE_INUSE_OBJECTS, /* objects in use */
    PROFILE_ALLOC_BYTES,   /* allocated since the program (or the delta window) began */
    PROFILE_ALLOC_OBJECTS, /* objects allocated */
    PROFILE_GOROUTINES,    /* goroutines with this stack (count) */
    PROFILE_CONTENTIONS,   /* lock contentions or blocking events (count) */
    PROFILE_DELAY_NS,      /* time spent waiting on them, nanoseconds */
    PROFILE_NMEASURES
};

#define PROFILE_HAS(p, m) (((p)->measures >> (m)) & 1u)

/* What kind of profile the file is, from the measures it holds. */
enum profile_kind {
    PROFILE_CPU,        /* CPU time by stack */
    PROFILE_HEAP,       /* heap (in use and/or allocated) by allocating stack */
    PROFILE_GOROUTINE,  /* live goroutines by stack */
    PROFILE_CONTENTION, /* mutex or block profile: contentions and delay by stack */
    PROFILE_OTHER       /* a format's sample types none of the above describes */
};

struct profile_sample {
    int64_t v[PROFILE_NMEASURES];
    size_t frame_index;
    uint32_t depth;
};

struct profile {
    enum profile_kind kind;
    const char *format;  /* the backend's name: "gperftools", "pprof" (static) */
    char *name;          /* the file it was read from (for messages) */
    uint32_t measures;   /* bit m set: v[m] is meaningful */
    int64_t period_ns;   /* CPU: sampling period in ns; 0 when not sampled by time */
    int64_t duration_ns; /* what the profile says it covers; 0 unknown */
    int64_t total[PROFILE_NMEASURES];
    struct profile_sample *samples;
    size_t nsamples;
    uint32_t *frames; /* function ids of the session */
    size_t nframes;
    size_t samples_cap, frames_cap; /* the builder's (profile_add_sample) */
};

/* An interned function. file/line: where the function starts (its DWARF
 * declaration, or the profile's start_line), NULL/0 when unknown. */
struct profile_func {
    const char *name;
    const char *file;
    int line;
    bool resolved; /* false for the "0x…" stand-ins of unresolved addresses */
    bool own;      /* the program's own code, not the runtime, standard library
                    * or a shared library: see profile_options.own_regex */
};

struct profile_options {
    /* Replaces the file of the main executable (the first mapping) when
     * symbolizing addresses, e.g. an unstripped copy. NULL: as mapped. */
    const char *binary;
    /* POSIX extended regex: a function is the program's own code when its
     * name matches. NULL: by format (native code: in the main executable;
     * Go: outside the standard library and runtime, i.e. package main or an
     * import path whose first element has a dot). */
    const char *own_regex;
    /* No file is opened to symbolize addresses (fuzzing, untrusted input):
     * address-only frames stay "0x…". */
    bool offline;
};

struct profile_session;

/* Opens a session. o may be NULL (defaults). Returns 0, or -1 with a message
 * in err (bad regex, libdwfl could not start, out of memory). */
int profile_session_open(struct profile_session **out, const struct profile_options *o, char *err,
                         size_t errlen);
void profile_session_close(struct profile_session *s);

/* Reads path (any known format, told apart by content) into p. Returns 0, or
 * -1 with a message in err naming the file and where it is bad; p is zeroed
 * on error. Function ids stay valid until the session closes. */
int profile_load(struct profile_session *s, const char *path, struct profile *p, char *err,
                 size_t errlen);
/* The same from memory; name is used in messages. Does not keep data. */
int profile_load_mem(struct profile_session *s, const char *name, const void *data, size_t len,
                     struct profile *p, char *err, size_t errlen);
void profile_free(struct profile *p);

/* The format name of data ("gperftools", "pprof"), or NULL when no backend
 * recognizes it. */
const char *profile_format_of(const void *data, size_t len);

/* Function id → function; NULL when id is out of range. */
const struct profile_func *profile_func(const struct profile_session *s, uint32_t id);
size_t profile_func_count(const struct profile_session *s);

/* True for allocator frames (malloc, tcmalloc internals, operator new, Go's
 * mallocgc, …), which heap views drop with everything they call, as pprof
 * does, so a stack's leaf is the code that asked for memory. */
bool profile_is_allocator(const char *name);

/* Value of a sample in the measure a CPU, heap (in use), goroutine or
 * contention view uses by default: CPU_NS, INUSE_BYTES, GOROUTINES, DELAY_NS. */
enum profile_measure profile_default_measure(enum profile_kind kind);
/* "cpu/nanoseconds"-style name of a measure, for messages and reports. */
const char *profile_measure_name(enum profile_measure m);

#endif
