/*
 * profiling: the gperftools set-up refproxy runs under (per-thread CPU
 * timers, the heap profiler). main.c starts it; admin.c and pprof.c ask it
 * whether heap profiles can be served.
 */
#ifndef REFPROXY_PROFILING_H
#define REFPROXY_PROFILING_H

#include <stdbool.h>

/* Called first thing in main: when CPUPROFILE_PER_THREAD_TIMERS (and the
 * profiler frequency) are not in the environment, sets them and re-executes
 * /proc/self/exe with the same argv, because gperftools reads them when it
 * loads. Returns only if no re-exec was needed (or it failed, with a warning). */
void profiling_reexec_if_needed(int argc, char **argv);

struct config;
/* Starts the heap profiler when cfg->heap_profile is set (gperftools
 * HeapProfilerStart, dumping nothing on its own: dumps happen only through
 * /debug/pprof/heap). 0 or -1 with a message on stderr. */
int profiling_start(const struct config *cfg);
bool profiling_heap_enabled(void);
/* Why heap profiling was asked for but could not run (a static string), or
 * NULL. */
const char *profiling_heap_problem(void);

#endif
