/*
 * hotspots: a test program with known hot spots, profiled by test_profile.
 * CPU mode (default): three functions burn CPU in the ratio 60/30/10 by
 * iteration count, for about SCALE * 1 s. Heap mode (argv[1] == "heap", built
 * with tcmalloc): two functions keep 3 MiB and 1 MiB live, then the heap
 * profile is dumped. Every function is noinline so each is its own frame.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HOTSPOTS_HEAP
#include <gperftools/heap-profiler.h>
#else
#include <gperftools/profiler.h>
#endif

#define NOINLINE __attribute__((noinline))

static volatile double sink;

#ifndef HOTSPOTS_HEAP
/* Each loop is a dependent floating-point chain, so time is proportional to n. */
static NOINLINE void burn_sixty(long n)
{
    double x = 1.0;
    for (long i = 0; i < n; i++)
        x = x * 0.9999999 + 0.25;
    sink = x;
}

static NOINLINE void burn_thirty(long n)
{
    double x = 2.0;
    for (long i = 0; i < n; i++)
        x = x * 0.9999998 + 0.125;
    sink = x;
}

static NOINLINE void burn_ten(long n)
{
    double x = 3.0;
    for (long i = 0; i < n; i++)
        x = x * 0.9999997 + 0.0625;
    sink = x;
}

#else
static void *keep[4096];
static size_t nkeep;

static NOINLINE void keep_three(void)
{
    for (int i = 0; i < 48; i++)
        keep[nkeep++] = memset(malloc(65536), 1, 65536);
}

static NOINLINE void keep_one(void)
{
    for (int i = 0; i < 16; i++)
        keep[nkeep++] = memset(malloc(65536), 2, 65536);
}
#endif

int main(int argc, char **argv)
{
#ifdef HOTSPOTS_HEAP
    keep_three();
    keep_one();
    HeapProfilerDump("hotspots");
    for (size_t i = 0; i < nkeep; i++)
        free(keep[i]);
    return 0;
#else
    /* about 1 s on a 2020s core at scale 1.0 */
    double scale = argc > 1 ? atof(argv[1]) : 1.0;
    long unit = (long)(scale * 4e6);
    for (int round = 0; round < 10; round++) {
        burn_sixty(6 * unit);
        burn_thirty(3 * unit);
        burn_ten(1 * unit);
    }
    if (getenv("CPUPROFILE"))
        ProfilerStop();
    return 0;
#endif
}
