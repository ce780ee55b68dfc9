/*
 * profile_format: what a profile format backend implements and what the
 * session offers it (profile.h is what the rest of the analysis sees).
 *
 * A backend is one file defining one `const struct profile_format`, listed in
 * profile.c's table. It recognizes its files by their first bytes and loads
 * one into a struct profile through the builder below: it adds samples of
 * values and stacks of session function ids. Frames that carry names (pprof's
 * function table) are interned with profile_intern; frames that are addresses
 * (gperftools, address-only pprof) are resolved with the session's libdwfl
 * symbolizer after profile_use_maps has told it how the process was mapped.
 */
#ifndef SCALEPROF_PROFILE_FORMAT_H
#define SCALEPROF_PROFILE_FORMAT_H

#include <stdarg.h>

#include "profile.h"
#include "symbolize.h"

struct profile_format {
    const char *name;
    /* True when data looks like this format (cheap: the first bytes). */
    bool (*recognizes)(const unsigned char *data, size_t len);
    /* Fills p (already zeroed, p->name set) from data. Returns 0, or -1 with
     * a message in err that names p->name and where the data is bad. The
     * caller frees p on error. */
    int (*load)(struct profile_session *s, const unsigned char *data, size_t len, struct profile *p,
                char *err, size_t errlen);
};

extern const struct profile_format profile_format_gperftools;
extern const struct profile_format profile_format_pprof;

/* Which rule decides profile_func.own for names interned by a backend. */
enum profile_own_rule {
    PROFILE_OWN_NATIVE, /* the caller says (in the main executable or not) */
    PROFILE_OWN_GO      /* package main, or an import path whose first element has a dot */
};

/* Interns a function by name (copied; cut at '@' for symbol versions).
 * file (copied) and line describe where it starts. own is used under
 * PROFILE_OWN_NATIVE and replaced by the Go rule or the session's own_regex
 * when those apply. The first interning of a name fixes its fields. Returns
 * the id, or UINT32_MAX when out of memory. */
uint32_t profile_intern(struct profile_session *s, const char *name, const char *file, int line,
                        enum profile_own_rule rule, bool own);

/* Tells the session's symbolizer how the profiled process was mapped (maps:
 * address ranges and the files behind them). Later profile_resolve calls
 * translate addresses through them. Returns 0, or -1 with a message (libdwfl
 * could not start, out of memory). Offline sessions accept and ignore. */
int profile_use_maps(struct profile_session *s, const struct symbolize_map *maps, size_t nmaps,
                     char *err, size_t errlen);
/* Function id of addr in the maps last given; "0x…" when nothing names it.
 * UINT32_MAX only when out of memory. */
uint32_t profile_resolve(struct profile_session *s, uint64_t addr);

/* Appends one sample: v[PROFILE_NMEASURES] and depth function ids, leaf
 * first. Returns 0; -1 when out of memory (or depth is over the limit); -2,
 * adding nothing, when a total of p would overflow int64 (the measure in
 * *overflow when not NULL): the backend names the sample in its message. */
int profile_add_sample(struct profile *p, const int64_t *v, const uint32_t *funcs, uint32_t depth,
                       enum profile_measure *overflow);

/* Reads path whole, at most PROFILE_MAX_BYTES, into *data (malloc'd, the
 * caller frees) and *len. 0, or -1 with a message naming the file. */
int profile_read_file(const char *path, char **data, size_t *len, char *err, size_t errlen);

/* Formats a message into err (NUL-terminated when errlen > 0); returns -1. */
int profile_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
