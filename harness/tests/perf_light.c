/*
 * perf_light: many light threads, the shape of a multi-service server (one
 * thread per service, each waking on a timer for a little work), for the
 * perf profiler's accuracy tests.
 *
 *   perf_light THREADS BURN_US PERIOD_MS SECONDS
 *
 * Each of THREADS threads (named "light") burns BURN_US of its own CPU time
 * (measured on its thread CPU clock, so a busy machine delays the work but
 * does not shrink it) every PERIOD_MS, on an absolute schedule whose phase
 * differs per thread (wakeups spread over the period, as services' timers
 * are); all exit after SECONDS. The main thread only waits.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile uint64_t sink;
static long burn_ns, period_ns, threads;
static struct timespec start, deadline;

static int64_t ns_of(const struct timespec *t)
{
    return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static struct timespec ts_of(int64_t ns)
{
    return (struct timespec){.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
}

static int64_t clock_ns(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return ns_of(&t);
}

static void *light(void *arg)
{
    long i = (long)(intptr_t)arg;
    int64_t next = ns_of(&start) + period_ns * i / threads, end = ns_of(&deadline);
    while (next < end) {
        struct timespec at = ts_of(next);
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
        int64_t until = clock_ns(CLOCK_THREAD_CPUTIME_ID) + burn_ns;
        while (clock_ns(CLOCK_THREAD_CPUTIME_ID) < until)
            for (int k = 0; k < 1000; k++)
                sink += (uint64_t)k;
        next += period_ns;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: perf_light THREADS BURN_US PERIOD_MS SECONDS\n");
        return 2;
    }
    threads = atol(argv[1]);
    burn_ns = atol(argv[2]) * 1000;
    period_ns = atol(argv[3]) * 1000000;
    double secs = atof(argv[4]);
    if (threads < 1 || threads > 4096 || burn_ns < 0 || period_ns <= 0 || secs <= 0) {
        fprintf(stderr, "perf_light: bad arguments\n");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &start);
    deadline = ts_of(ns_of(&start) + (int64_t)(secs * 1e9));
    pthread_t *t = calloc((size_t)threads, sizeof *t);
    if (!t)
        return 1;
    for (long i = 0; i < threads; i++) {
        if (pthread_create(&t[i], NULL, light, (void *)(intptr_t)i) != 0)
            return 1;
        pthread_setname_np(t[i], "light");
    }
    for (long i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    free(t);
    return 0;
}
