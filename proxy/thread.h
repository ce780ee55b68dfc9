/*
 * thread: how refproxy starts every thread it owns.
 *
 * Every thread gets a meaningful name (pthread_setname_np, at most 15 bytes:
 * "w0", "svc12/portlist", "admin") so /debug/pprof/threads and `top -H` read
 * well, and registers with the gperftools CPU profiler so per-thread timers
 * put samples on the thread that burned the CPU.
 */
#ifndef REFPROXY_THREAD_H
#define REFPROXY_THREAD_H

#include <pthread.h>
#include <stddef.h>

/* Starts fn(arg) on a new thread named name (truncated to 15 bytes).
 * stack_size 0 = default. Returns 0 or an errno value. */
int thread_start(pthread_t *tid, const char *name, size_t stack_size, void *(*fn)(void *),
                 void *arg);
/* Names and registers the calling thread (used by main). */
void thread_setup_self(const char *name);

#endif
