/*
 * pprof: the profiling endpoints as the admin listener (admin.c) sees them.
 * pprof.c routes /debug/pprof/... and counts CPU samples per thread; the work
 * behind the pages is in symbolize.{h,c}, threads.{h,c} and profiling.{h,c},
 * which include none of admin.h or pprof.h. Not used outside the admin
 * library.
 *
 * A handler fills a struct admin_reply (admin_reply.h); admin.c owns the
 * socket and writes it.
 */
#ifndef REFPROXY_PPROF_H
#define REFPROXY_PPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "admin_reply.h"
#include "config.h"

struct pprof_request {
    const char *method; /* NUL-terminated copies */
    const char *path;   /* without the query; starts with '/' */
    const char *query;  /* after '?', "" if none */
    const char *body;
    size_t body_len;
};

/* What the pprof handlers need from the process. Lives as long as the admin. */
struct pprof_env {
    const struct config *cfg;
    int argc;
    char **argv;
};

/* Handles /debug/pprof/... and /pprof/... . Returns false when path is not a
 * pprof path (the caller answers 404). May block for a CPU profile window. */
bool pprof_handle(const struct pprof_env *env, const struct pprof_request *req,
                  struct admin_reply *r);
/* admin_start: profile requests are served. */
void pprof_open(void);
/* admin_stop: ends a CPU profile window early; later requests get 503. */
void pprof_shutdown(void);
/* CPU profile samples taken on thread tid in the last (or current) profile
 * window, counted by the profiler's per-thread filter hook. */
unsigned pprof_thread_samples(int tid);
/* 1 while a CPU profile window is open (for /metrics). */
int pprof_cpu_profile_active(void);

/* Parses a positive decimal integer (no sign, no spaces, no leading "+");
 * false on anything else, on 0, or on more than 9 digits. */
bool pprof_parse_seconds(const char *s, size_t len, uint32_t *out);

#endif
