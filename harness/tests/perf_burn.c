/*
 * perf_burn: a target with known call chains for test_perf, built
 * -O2 -fomit-frame-pointer (so only CFI can unwind it).
 *
 *   perf_burn SECONDS LATE_MS
 *
 * The main thread loops main → burn_a → burn_b → burn_leaf (spinning) and
 * main → cmp_caller → memcmp (libc). LATE_MS after start it starts a thread
 * named "late" (late_thread → late_leaf) and forks a child named "child"
 * (child_burn → child_leaf); everything burns until SECONDS after start,
 * then the child exits, the thread is joined and main exits 0.
 *
 * Every function on a chain is noinline and does work after its call, so
 * the compiler can neither inline it nor turn the call into a tail jump.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline, noclone))

static volatile uint64_t sink;
static double deadline;
static unsigned char *buf_x, *buf_y;
static size_t buf_len = 64 * 1024;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static NOINLINE void spin(int n)
{
    for (int i = 0; i < n; i++)
        sink += (uint64_t)i;
}

NOINLINE void burn_leaf(void)
{
    for (int i = 0; i < 400000; i++)
        sink += (uint64_t)i ^ sink;
}

NOINLINE void burn_b(void)
{
    burn_leaf();
    sink++;
}

NOINLINE void burn_a(void)
{
    burn_b();
    sink++;
}

NOINLINE void cmp_caller(void)
{
    for (int i = 0; i < 800; i++)
        sink += (uint64_t)memcmp(buf_x, buf_y, buf_len);
    sink++;
}

NOINLINE void late_leaf(void)
{
    for (int i = 0; i < 400000; i++)
        sink += (uint64_t)i * 3;
}

static NOINLINE void *late_thread(void *arg)
{
    while (now() < deadline)
        late_leaf();
    sink++;
    return arg;
}

NOINLINE void child_leaf(void)
{
    for (int i = 0; i < 400000; i++)
        sink += (uint64_t)i * 5;
}

NOINLINE void child_burn(void)
{
    while (now() < deadline)
        child_leaf();
    sink++;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: perf_burn SECONDS LATE_MS\n");
        return 2;
    }
    double start = now(), late_at = start + atof(argv[2]) / 1000.0;
    deadline = start + atof(argv[1]);
    /* equal buffers: memcmp must read all of them */
    buf_x = calloc(1, buf_len);
    buf_y = calloc(1, buf_len);
    if (!buf_x || !buf_y)
        return 1;
    pthread_t late;
    pid_t child = -1;
    int started = 0;
    while (now() < deadline) {
        burn_a();
        cmp_caller();
        if (!started && now() >= late_at) {
            started = 1;
            if (pthread_create(&late, NULL, late_thread, NULL) != 0)
                return 1;
            pthread_setname_np(late, "late");
            child = fork();
            if (child == 0) {
                prctl(PR_SET_NAME, "child");
                child_burn();
                _exit(0);
            }
        }
        spin(10);
    }
    if (started) {
        pthread_join(late, NULL);
        if (child > 0)
            waitpid(child, NULL, 0);
    }
    return 0;
}
