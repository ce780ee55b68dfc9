/*
 * profiling: the gperftools environment refproxy runs under (see profiling.h).
 *
 * gperftools reads its settings when the libraries load, before main:
 * libprofiler's ProfileHandler reads CPUPROFILE_PER_THREAD_TIMERS and
 * CPUPROFILE_FREQUENCY in its static constructor, and libtcmalloc's heap
 * profiler reads HEAP_PROFILE_*_INTERVAL into its flags. So refproxy puts
 * them in its own environment and re-executes itself once. A marker variable
 * records that it did, so a failed setting can never loop.
 *
 * Why per-thread timers: with the default process-wide ITIMER_PROF the kernel
 * delivers SIGPROF to whichever thread it likes, so samples land on threads
 * that did not burn the CPU; timer_create(CLOCK_THREAD_CPUTIME_ID) per
 * registered thread (thread.c calls ProfilerRegisterThread) fixes that.
 */
#include "profiling.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "tcmalloc_compat.h"

/* Values of the marker: "auto" = refproxy chose CPUPROFILE_FREQUENCY (the
 * default, the config was not read yet); "env" = the environment gave it;
 * "config" = re-executed again with the config's profileHz. */
#define PROFILING_MARKER "REFPROXY_PROFILER_ENV"
#define PROFILING_DEFAULT_HZ 100
#define PROFILING_MAX_HZ 250

static bool heap_enabled;
static const char *heap_problem;

/* The heap profiler hooks tcmalloc's malloc; under a sanitizer (or another
 * preloaded allocator) malloc is not tcmalloc's and every profile would be
 * empty. tcmalloc's own counter tells: it grows only if it served malloc. */
static bool tcmalloc_serves_malloc(void)
{
    size_t before = 0, after = 0;
    if (!MallocExtension_GetNumericProperty("generic.current_allocated_bytes", &before))
        return false;
    void *volatile p = malloc(4u << 20);
    MallocExtension_GetNumericProperty("generic.current_allocated_bytes", &after);
    free(p);
    return after >= before + (4u << 20);
}

static void set_default(const char *name, const char *value)
{
    setenv(name, value, 0); /* an explicit environment wins */
}

static void reexec(char **argv)
{
    fflush(NULL);
    execv("/proc/self/exe", argv);
    fprintf(stderr,
            "refproxy: warning: cannot re-execute for the profiler settings (%s); "
            "CPU profiles use process-wide timers\n",
            strerror(errno));
}

void profiling_reexec_if_needed(int argc, char **argv)
{
    (void)argc;
    if (getenv(PROFILING_MARKER) || getenv("CPUPROFILE_PER_THREAD_TIMERS"))
        return;
    setenv("CPUPROFILE_PER_THREAD_TIMERS", "1", 1);
    setenv(PROFILING_MARKER, getenv("CPUPROFILE_FREQUENCY") ? "env" : "auto", 1);
    char hz[16];
    snprintf(hz, sizeof(hz), "%d", PROFILING_DEFAULT_HZ);
    set_default("CPUPROFILE_FREQUENCY", hz);
    /* Heap profiles are served on request only: never dump to disk by
     * allocation volume, in-use growth or time (0 disables each trigger). */
    set_default("HEAP_PROFILE_ALLOCATION_INTERVAL", "0");
    set_default("HEAP_PROFILE_DEALLOCATION_INTERVAL", "0");
    set_default("HEAP_PROFILE_INUSE_INTERVAL", "0");
    set_default("HEAP_PROFILE_TIME_INTERVAL", "0");
    reexec(argv);
}

/* The config's profileHz only takes effect through the environment at load
 * time: when refproxy picked the default and the config asks for another
 * rate, re-execute once more with it. Called before any thread starts. */
static void apply_profile_hz(const struct config *cfg)
{
    const char *marker = getenv(PROFILING_MARKER);
    const char *env_hz = getenv("CPUPROFILE_FREQUENCY");
    long hz = env_hz ? strtol(env_hz, NULL, 10) : PROFILING_DEFAULT_HZ;
    if (hz > PROFILING_MAX_HZ)
        fprintf(stderr,
                "refproxy: warning: CPUPROFILE_FREQUENCY=%ld is above the %d Hz kernel "
                "tick: profiles will under-report CPU\n",
                hz, PROFILING_MAX_HZ);
    if (!cfg->profile_hz || (long)cfg->profile_hz == hz)
        return;
    if (!marker || strcmp(marker, "auto") != 0) {
        fprintf(stderr,
                "refproxy: warning: profileHz %u ignored: CPUPROFILE_FREQUENCY=%ld "
                "in the environment wins\n",
                cfg->profile_hz, hz);
        return;
    }
    char buf[16];
    snprintf(buf, sizeof(buf), "%u", cfg->profile_hz);
    setenv("CPUPROFILE_FREQUENCY", buf, 1);
    setenv(PROFILING_MARKER, "config", 1);
    /* argv is not at hand here: /proc/self/cmdline has it. */
    FILE *f = fopen("/proc/self/cmdline", "re");
    if (!f)
        return;
    static char cmdline[65536];
    size_t n = fread(cmdline, 1, sizeof(cmdline) - 1, f);
    fclose(f);
    cmdline[n] = '\0';
    char *args[256];
    size_t na = 0;
    for (size_t off = 0; off < n && na < 255; off += strlen(cmdline + off) + 1)
        args[na++] = cmdline + off;
    args[na] = NULL;
    if (na > 0 && na < 255)
        reexec(args);
}

int profiling_start(const struct config *cfg)
{
    apply_profile_hz(cfg);
    if (!cfg->heap_profile)
        return 0;
    if (IsHeapProfilerRunning()) {
        heap_enabled = true; /* HEAPPROFILE in the environment started it */
        return 0;
    }
    if (!tcmalloc_serves_malloc()) {
        heap_problem = "heap profiling needs tcmalloc as the allocator, and in this build "
                       "malloc is another one's (a sanitizer build?)";
        fprintf(stderr, "refproxy: warning: --heap-profile ignored: %s\n", heap_problem);
        return 0;
    }
    /* The prefix only matters if the environment asks for periodic dumps
     * (HEAP_PROFILE_*_INTERVAL); by default nothing is ever written. */
    const char *tmp = getenv("TMPDIR");
    char prefix[PATH_MAX];
    snprintf(prefix, sizeof(prefix), "%s/refproxy.%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    HeapProfilerStart(prefix);
    if (!IsHeapProfilerRunning()) {
        fprintf(stderr, "refproxy: --heap-profile: the gperftools heap profiler did not start "
                        "(is refproxy linked with libtcmalloc?)\n");
        return -1;
    }
    heap_enabled = true;
    return 0;
}

const char *profiling_heap_problem(void)
{
    return heap_problem;
}

bool profiling_heap_enabled(void)
{
    return heap_enabled;
}

/* Under -Db_sanitize=address, LeakSanitizer reports the one object libtcmalloc
 * allocates for itself at load (MallocExtension::Register) and never frees;
 * it is not ours. LSan calls this hook for built-in suppressions. */
const char *__lsan_default_suppressions(void);
__attribute__((used)) const char *__lsan_default_suppressions(void)
{
    return "leak:MallocExtension::Register\n"
           "leak:ProfileHandler::RegisterThread\n";
}
