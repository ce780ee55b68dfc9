/*
 * threads: the /debug/pprof/threads page (every thread of this process from
 * /proc/self/task: name, state, CPU time, profile samples; then totals per
 * name prefix and per role) and the name grouping it uses. Reads /proc only;
 * the sample counts come from the caller, so this file depends on no other
 * part of the admin library.
 */
#ifndef REFPROXY_THREADS_H
#define REFPROXY_THREADS_H

#include <stddef.h>

#include "buf.h"

/* Appends the page to out (its first lines document the format). samples_of
 * gives the CPU profile samples taken on a thread id (pprof_thread_samples).
 * 0, or -1 when /proc/self/task cannot be read or memory runs out (out may
 * then hold nothing of the page). */
int threads_write(struct buf *out, unsigned (*samples_of)(int tid));

/* The grouping key of a thread name: the part before '/' or, without '/',
 * the name without its trailing digits ("svc12/portlist" -> "svc12",
 * "w3" -> "w"). Writes into key (NUL terminated, truncated to size). */
void threads_name_prefix(const char *name, char *key, size_t size);
/* The role of a thread name: the part after '/' without trailing digits, or
 * the same as the prefix without '/' ("svc12/portlist" -> "portlist"). */
void threads_name_role(const char *name, char *key, size_t size);

#endif
