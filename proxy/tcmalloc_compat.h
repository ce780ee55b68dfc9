/*
 * tcmalloc_compat: gperftools' heap profiler and allocator statistics, or, in a
 * build without tcmalloc (-Dtcmalloc=false: the sanitizer builds, since ASan
 * replaces malloc itself), stand-ins that report "not available" so refproxy
 * still links and /debug/pprof/heap answers 501 with the reason.
 */
#ifndef REFPROXY_TCMALLOC_COMPAT_H
#define REFPROXY_TCMALLOC_COMPAT_H

#ifdef HAVE_TCMALLOC
#include <gperftools/heap-profiler.h>
#include <gperftools/malloc_extension_c.h>
#else
#include <stddef.h>
#include <stdio.h>

static inline int MallocExtension_GetNumericProperty(const char *property, size_t *value)
{
    (void)property;
    (void)value;
    return 0; /* no property is known: callers skip it */
}
static inline void MallocExtension_GetStats(char *buffer, int length)
{
    snprintf(buffer, (size_t)length, "tcmalloc is not linked into this build\n");
}
static inline char *GetHeapProfile(void)
{
    return NULL;
}
static inline int IsHeapProfilerRunning(void)
{
    return 0;
}
static inline void HeapProfilerStart(const char *prefix)
{
    (void)prefix;
}
static inline void HeapProfilerStop(void)
{
}
#endif

#endif
