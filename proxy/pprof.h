/*
 * pprof: the internal interface between the admin listener (admin.c) and the
 * modules behind its profiling endpoints (pprof.c routes them; symbolize.c,
 * threads.c and profiling.c do the work). Not used outside the admin library.
 *
 * A handler fills a struct admin_reply; admin.c owns the socket and writes it.
 */
#ifndef REFPROXY_PPROF_H
#define REFPROXY_PPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"

/* Reply caps: the largest body a handler may build (a CPU profile of the
 * maximum window with deep stacks fits comfortably). */
#define ADMIN_REPLY_MAX (256u << 20)

struct admin_reply {
    int status;
    const char *content_type; /* static string */
    struct buf body;          /* owned; admin.c frees it */
};

/* Sets status and a one-line text/plain body (a newline is appended). */
void admin_reply_text(struct admin_reply *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

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
 * false on anything else or above max_value. */
bool pprof_parse_seconds(const char *s, size_t len, uint32_t *out);

/* symbolize.c: resolves each address of a pprof symbol POST body
 * ("0xADDR+0xADDR...", zero padded or not, '+' or whitespace separated) in
 * the live process, appending "0xADDR\tname\n" per resolved address.
 * Returns the number of addresses resolved, or -1 with a message in out on a
 * malformed body or an elfutils failure. */
int symbolize_post(const char *body, size_t len, struct buf *out);
/* The symbol name for one address of this process, copied into name (NUL
 * terminated, truncated to size). false if unresolved. */
bool symbolize_addr(uint64_t addr, char *name, size_t size);

/* profiling.c: why heap profiling was asked for but could not run, or NULL. */
const char *profiling_heap_problem(void);

/* threads.c: the /debug/pprof/threads text (format documented in its
 * header lines). 0 or -1. */
int threads_write(struct buf *out);
/* The grouping key of a thread name: the part before '/' or, without '/',
 * the name without its trailing digits ("svc12/portlist" -> "svc12",
 * "w3" -> "w"). Writes into key (NUL terminated). */
void threads_name_prefix(const char *name, char *key, size_t size);
/* The role of a thread name: the part after '/' without trailing digits, or
 * the same as the prefix without '/' ("svc12/portlist" -> "portlist"). */
void threads_name_role(const char *name, char *key, size_t size);

#endif
