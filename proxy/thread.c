/* thread: named, profiler-registered threads. See thread.h. */
#include "thread.h"

#include <gperftools/profiler.h>
#include <stdlib.h>
#include <string.h>

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
    ProfilerRegisterThread();
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
    int rc = pthread_create(tid, &attr, thread_trampoline, a);
    pthread_attr_destroy(&attr);
    if (rc)
        free(a);
    return rc;
}
