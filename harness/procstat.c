/* procstat: sampling a live process from /proc. See procstat.h. */
#include "procstat.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double procstat_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sum_schedstat(pid_t pid, struct procstat *s)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%d/task/%s/schedstat", (int)pid, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue; /* the thread exited between readdir and open */
        uint64_t run = 0, wait = 0, slices = 0;
        if (fscanf(f, "%" SCNu64 " %" SCNu64 " %" SCNu64, &run, &wait, &slices) == 3) {
            s->task_cpu_ns += run;
            s->run_delay_ns += wait;
            s->timeslices += slices;
        }
        fclose(f);
        /* /proc/<pid>/status counts the main thread's switches only: sum every thread's */
        snprintf(path, sizeof path, "/proc/%d/task/%s/status", (int)pid, e->d_name);
        if (!(f = fopen(path, "r")))
            continue;
        char line[256];
        uint64_t v;
        while (fgets(line, sizeof line, f)) {
            if (sscanf(line, "voluntary_ctxt_switches: %" SCNu64, &v) == 1)
                s->voluntary_ctxt_switches += v;
            else if (sscanf(line, "nonvoluntary_ctxt_switches: %" SCNu64, &v) == 1)
                s->nonvoluntary_ctxt_switches += v;
        }
        fclose(f);
    }
    closedir(d);
}

static uint64_t count_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    uint64_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static int read_status(pid_t pid, struct procstat *s)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int zombie = 0;
    while (fgets(line, sizeof line, f)) {
        uint64_t v;
        if (sscanf(line, "VmRSS: %" SCNu64, &v) == 1)
            s->rss_bytes = v * 1024;
        else if (sscanf(line, "RssAnon: %" SCNu64, &v) == 1)
            s->rss_anon_bytes = v * 1024;
        else if (sscanf(line, "Threads: %" SCNu64, &v) == 1)
            s->threads = v;
        else if (!strncmp(line, "State:", 6) && strchr(line, 'Z'))
            zombie = 1;
    }
    fclose(f);
    if (zombie) {
        errno = ESRCH;
        return -1;
    }
    return 0;
}

static void read_io(pid_t pid, struct procstat *s)
{
    char path[64], line[128];
    snprintf(path, sizeof path, "/proc/%d/io", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        uint64_t v;
        if (sscanf(line, "syscr: %" SCNu64, &v) == 1)
            s->syscr = v;
        else if (sscanf(line, "syscw: %" SCNu64, &v) == 1)
            s->syscw = v;
    }
    fclose(f);
}

static void read_stat_ticks(pid_t pid, struct procstat *s)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    /* the command name may hold spaces and parentheses: fields start after the last ')' */
    char *p = strrchr(text, ')');
    if (!p)
        return;
    unsigned long utime = 0, stime = 0;
    /* after ')': state(3) ... utime is field 14, stime 15 */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) == 2)
        s->stat_ticks = (uint64_t)utime + stime;
}

static pid_t apparatus_pid; /* the --load origin, part of the experiment */

void procstat_set_apparatus_pid(pid_t pid)
{
    apparatus_pid = pid;
}

/* CPU of the measuring apparatus itself: this process (sampling, fetching, the load
 * generator) and the --load origin. It is part of the experiment, not outside load. */
static uint64_t apparatus_cpu_ns(void)
{
    uint64_t total = 0;
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0)
        total += (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    clockid_t cid;
    if (apparatus_pid > 0 && clock_getcpuclockid(apparatus_pid, &cid) == 0 &&
        clock_gettime(cid, &ts) == 0)
        total += (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return total;
}

uint64_t procstat_machine_busy_ns(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return 0;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 8)
        return 0;
    /* user nice system idle iowait irq softirq steal: busy is all but idle and iowait */
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    uint64_t busy_ns = (uint64_t)((double)busy * 1e9 / (double)sysconf(_SC_CLK_TCK));
    uint64_t own = apparatus_cpu_ns();
    return busy_ns > own ? busy_ns - own : 0;
}

int procstat_read(pid_t pid, struct procstat *s, bool full)
{
    memset(s, 0, sizeof *s);
    /* the time, the process CPU clock and the ticks first and together: the per-thread
     * walk below can take a long time for a process with thousands of threads */
    s->t = procstat_now();
    clockid_t cid;
    struct timespec ts;
    bool have_clock = clock_getcpuclockid(pid, &cid) == 0 && clock_gettime(cid, &ts) == 0;
    if (have_clock)
        s->cpu_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    read_stat_ticks(pid, s);
    s->machine_busy_ns = procstat_machine_busy_ns();
    if (read_status(pid, s) < 0)
        return -1;
    if (full || !have_clock)
        sum_schedstat(pid, s);
    if (!have_clock)
        s->cpu_ns = s->task_cpu_ns;
    if (full) {
        s->fds = count_fds(pid);
        read_io(pid, s);
    }
    return 0;
}
