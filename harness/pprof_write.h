/*
 * pprof_write: build a pprof protobuf profile in memory and write it gzip-
 * compressed, in the shape Go's runtime/pprof and pprof itself write
 * (profile.proto, compiled at build time by common/pprof).
 *
 * The builder interns strings, hands out Mapping and Location ids (1-based,
 * in the order added; 0 is never an id), and aggregates samples: adding a
 * sample whose locations and labels equal an earlier one's adds its values
 * to that sample instead of storing a new one, so a profile holds one Sample
 * per distinct (stack, labels).
 *
 * Locations are address-only (mapping_id + address, no Line/Function): the
 * analysis symbolizes addresses with libdwfl from the mappings, as it does
 * for gperftools profiles. Callers choose what an address means; the perf
 * profiler stores caller frames as return address − 1 (inside the call).
 *
 * Bounded: every table has a cap (struct pprof_limits); an add past a cap
 * fails (returns 0 or -1), is counted in pprof_dropped(), and leaves the
 * builder usable, so a profile that hit a cap is still written, with what
 * fitted. pprof_write refuses a compressed result over max_file_bytes.
 *
 * Ownership: the builder copies every string and array it is given; the
 * caller keeps its own. pprof_free releases everything. Not thread-safe: one
 * thread builds at a time.
 */
#ifndef SCALEPROF_PPROF_WRITE_H
#define SCALEPROF_PPROF_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct pprof_builder;

struct pprof_value_type {
    const char *type; /* e.g. "samples", "cpu" */
    const char *unit; /* e.g. "count", "nanoseconds" */
};

/* A label: str != NULL makes a string label, else a numeric one (num). */
struct pprof_label {
    const char *key;
    const char *str;
    int64_t num;
};

struct pprof_limits {
    size_t max_strings;
    size_t max_mappings;
    size_t max_locations;
    size_t max_samples; /* distinct (stack, labels) */
    size_t max_file_bytes;
};

#define PPROF_MAX_VALUES 8
#define PPROF_MAX_LABELS 8
#define PPROF_MAX_DEPTH 4096

/* Generous defaults: 1M strings/locations, 64k mappings, 1M samples, 256 MiB. */
void pprof_limits_default(struct pprof_limits *l);

/* A new builder for samples of nvalues values (1..PPROF_MAX_VALUES) typed by
 * sample_types; period_type/period describe the sampling (period_type may be
 * NULL). lim NULL means the defaults. NULL when out of memory or nvalues is
 * out of range. */
struct pprof_builder *pprof_new(const struct pprof_value_type *sample_types, size_t nvalues,
                                const struct pprof_value_type *period_type, int64_t period,
                                const struct pprof_limits *lim);
void pprof_free(struct pprof_builder *b);

/* time_nanos: wall-clock start (ns since the epoch); duration_nanos: length. */
void pprof_set_time(struct pprof_builder *b, int64_t time_nanos, int64_t duration_nanos);
/* A free-text comment. 0, or -1 when a cap or memory ran out. */
int pprof_add_comment(struct pprof_builder *b, const char *text);

/* A Mapping: [start, limit) of a file mapped at file offset. build_id may be
 * NULL. Returns its id (the first added is mapping[0], by convention the main
 * executable), the id of an identical mapping added before (forked processes
 * share their parent's), or 0 when full / out of memory. */
uint64_t pprof_add_mapping(struct pprof_builder *b, uint64_t start, uint64_t limit, uint64_t offset,
                           const char *filename, const char *build_id);
/* The id of the Location (mapping_id, address), created on first use.
 * mapping_id 0 = unknown mapping. 0 when full / out of memory. */
uint64_t pprof_location(struct pprof_builder *b, uint64_t mapping_id, uint64_t address);
/* Adds one observation: location ids leaf first (n <= PPROF_MAX_DEPTH, may be
 * 0), the builder's nvalues values, and labels (nlabels <= PPROF_MAX_LABELS;
 * order matters for aggregation, so always pass them in one order). 0 ok;
 * -1 when the sample table is full (counted as dropped), an id is unknown,
 * or memory ran out. */
int pprof_add_sample(struct pprof_builder *b, const uint64_t *locs, size_t n, const int64_t *values,
                     const struct pprof_label *labels, size_t nlabels);

size_t pprof_sample_count(const struct pprof_builder *b);   /* distinct samples */
size_t pprof_location_count(const struct pprof_builder *b); /* locations */
size_t pprof_mapping_count(const struct pprof_builder *b);  /* mappings */
uint64_t pprof_dropped(const struct pprof_builder *b);      /* adds refused by a cap */

/* Encodes and gzips the profile into *out (malloc'd, caller frees) of *len
 * bytes. 0, or -1 with a message appended to err. */
int pprof_encode(struct pprof_builder *b, unsigned char **out, size_t *len, struct buf *err);
/* Encodes and writes path via a temporary name in the same folder + rename.
 * 0, or -1 with a message naming path appended to err (nothing is left at
 * path or at the temporary name). */
int pprof_write(struct pprof_builder *b, const char *path, struct buf *err);

#endif
