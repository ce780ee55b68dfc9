/* thread: named, profiler-registered threads. See thread.h. */
#include "thread.h"

#include <gperftools/profiler.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* gperftools 2.10 with per-thread timers aborts the whole process ("timer_create
 * error: Invalid argument") once more than 256 threads have registered. Past this
 * cap threads run unprofiled (their CPU is missing from profiles, never from the
 * process CPU the harness measures), with one warning, instead of aborting. */
#define THREAD_PROFILE_CAP 240
static atomic_uint registered_threads;

struct thread_start_args {
    char name[16];
    void *(*fn)(void *);
    void *arg;
};

void thread_setup_self(const char *name)
{
    char shortname[16];
    strncpy(shortname, name, sizeof(shortname) - 1);
    shortname[sizeof(shortname) - 1] = '\0';
    pthread_setname_np(pthread_self(), shortname);
    /* Needed with CPUPROFILE_PER_THREAD_TIMERS: each thread gets its own timer. */
    unsigned n = atomic_fetch_add_explicit(&registered_threads, 1, memory_order_relaxed);
    if (n < THREAD_PROFILE_CAP)
        ProfilerRegisterThread();
    else if (n == THREAD_PROFILE_CAP)
        fprintf(stderr,
                "refproxy: warning: more than %d threads; the CPU profiler (gperftools "
                "per-thread timers) covers only the first %d\n",
                THREAD_PROFILE_CAP, THREAD_PROFILE_CAP);
}

static void *thread_trampoline(void *p)
{
    struct thread_start_args a = *(struct thread_start_args *)p;
    free(p);
    thread_setup_self(a.name);
    return a.fn(a.arg);
}

int thread_start(pthread_t *tid, const char *name, size_t stack_size, void *(*fn)(void *),
                 void *arg)
{
    struct thread_start_args *a = malloc(sizeof(*a));
    if (!a)
        return 12; /* ENOMEM */
    strncpy(a->name, name, sizeof(a->name) - 1);
    a->name[sizeof(a->name) - 1] = '\0';
    a->fn = fn;
    a->arg = arg;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (stack_size)
        pthread_attr_setstacksize(&attr, stack_size);
    char name_now[16];
    strncpy(name_now, name, sizeof(name_now) - 1); /* a is the new thread's from here on */
    name_now[sizeof(name_now) - 1] = '\0';
    int rc = pthread_create(tid, &attr, thread_trampoline, a);
    pthread_attr_destroy(&attr);
    if (rc)
        free(a);
    else /* named before we return, so a caller that lists threads at once sees it */
        pthread_setname_np(*tid, name_now);
    return rc;
}
