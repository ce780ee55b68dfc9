/*
 * scaling: a test program whose cost has a known shape in N, for the
 * attribution tests. `scaling N QUAD` runs work_quad (cost ∝ N², only when
 * QUAD is 1), work_lin (∝ N) and work_const (constant) once each, under the
 * gperftools CPU profiler when CPUPROFILE is set. QUAD 2 runs work_quad_read
 * instead of work_quad: N² reads of /dev/zero, the shape of portlist (the
 * time is in libc's read, the code to change is its caller). 1000·N² reads:
 * ~0.4 s at N=50, so read's samples stand well above the noise of the other
 * functions (120·N², ~50 ms, left the ranking to chance on a busy machine).
 */
#include <fcntl.h>
#include <gperftools/profiler.h>
#include <stdlib.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static volatile double sink;

static NOINLINE void spin(long n)
{
    double x = 1.0;
    for (long i = 0; i < n; i++)
        x = x * 0.9999999 + 0.25;
    sink = x;
}

/* The work is in each function's own loop so its samples are self time. */
static NOINLINE void work_quad(long n)
{
    double x = 2.0;
    for (long i = 0; i < n * n * 150000; i++)
        x = x * 0.9999998 + 0.125;
    sink = x;
}

static NOINLINE void work_quad_read(long n)
{
    static char buf[4096];
    int fd = open("/dev/zero", O_RDONLY);
    if (fd < 0)
        exit(3);
    for (long i = 0; i < n * n * 1000; i++)
        if (read(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
            exit(3);
    close(fd);
}

static NOINLINE void work_lin(long n)
{
    double x = 3.0;
    for (long i = 0; i < n * 1200000; i++)
        x = x * 0.9999997 + 0.0625;
    sink = x;
}

static NOINLINE void work_const(void)
{
    spin(60000000);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    long n = atol(argv[1]);
    if (n <= 0 || n > 1000)
        return 2;
    int quad = atoi(argv[2]);
    if (quad == 1)
        work_quad(n);
    else if (quad == 2)
        work_quad_read(n);
    work_lin(n);
    work_const();
    if (getenv("CPUPROFILE"))
        ProfilerStop();
    return 0;
}
