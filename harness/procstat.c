/* procstat: sampling one process from /proc, and the per-process pieces of a tree
 * reading (proctree.c). See procstat.h. */
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

/* Adds RSS and threads from /proc/<pid>/status. -1 when gone or a zombie (nothing added). */
static int add_status(pid_t pid, struct procstat *s)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int zombie = 0;
    uint64_t rss = 0, anon = 0, threads = 0;
    while (fgets(line, sizeof line, f)) {
        uint64_t v;
        if (sscanf(line, "VmRSS: %" SCNu64, &v) == 1)
            rss = v * 1024;
        else if (sscanf(line, "RssAnon: %" SCNu64, &v) == 1)
            anon = v * 1024;
        else if (sscanf(line, "Threads: %" SCNu64, &v) == 1)
            threads = v;
        else if (!strncmp(line, "State:", 6) && strchr(line, 'Z'))
            zombie = 1;
    }
    fclose(f);
    if (zombie) {
        errno = ESRCH;
        return -1;
    }
    s->rss_bytes += rss;
    s->rss_anon_bytes += anon;
    s->threads += threads;
    return 0;
}

static void add_io(pid_t pid, struct procstat *s)
{
    char path[64], line[128];
    snprintf(path, sizeof path, "/proc/%d/io", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        uint64_t v;
        if (sscanf(line, "syscr: %" SCNu64, &v) == 1)
            s->syscr += v;
        else if (sscanf(line, "syscw: %" SCNu64, &v) == 1)
            s->syscw += v;
    }
    fclose(f);
}

/* Adds Pss from /proc/<pid>/smaps_rollup (Linux 4.14+; needs the right to ptrace-read
 * the process). A process that exited meanwhile is no failure: it has no memory left. */
static void add_pss(pid_t pid, struct procstat *s)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
    FILE *f = fopen(path, "r");
    int err = errno;
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f)) {
        uint64_t kib;
        if (sscanf(line, "Pss: %" SCNu64, &kib) == 1) {
            s->pss_bytes += kib * 1024;
            found = true;
        }
    }
    if (f)
        fclose(f);
    struct procstat_statline st;
    if (found || procstat_read_statline(pid, &st) < 0 || st.state == 'Z')
        return;
    if (s->pss_ok)
        snprintf(s->pss_note, sizeof s->pss_note, "%s: %s; memory is RSS", path,
                 f ? "no Pss line" : strerror(err));
    s->pss_ok = false;
}

int procstat_parse_statline(const char *text, struct procstat_statline *out, char *err,
                            size_t errlen)
{
    memset(out, 0, sizeof *out);
    char *end;
    long pid = strtol(text, &end, 10);
    if (end == text || pid <= 0 || *end != ' ') {
        snprintf(err, errlen, "field 1 (pid): not a number at offset 0");
        return -1;
    }
    /* the command name may hold spaces and parentheses: fields go on after the last ')' */
    const char *p = strrchr(text, ')');
    if (!p || p < end) {
        snprintf(err, errlen, "field 2 (comm): no closing ')'");
        return -1;
    }
    char state = 0;
    int ppid = 0, pgid = 0;
    unsigned long long ut = 0, st = 0, threads = 0, start = 0;
    long long cut = 0, cst = 0;
    /* 3 state 4 ppid 5 pgrp 6 session 7 tty 8 tpgid 9 flags 10-13 faults 14 utime 15 stime
     * 16 cutime 17 cstime 18 priority 19 nice 20 num_threads 21 itrealvalue 22 starttime */
    int n = sscanf(p + 1,
                   " %c %d %d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld %*d %*d %llu "
                   "%*d %llu",
                   &state, &ppid, &pgid, &ut, &st, &cut, &cst, &threads, &start);
    static const char *const names[] = {"3 (state)",   "4 (ppid)",         "5 (pgrp)",
                                        "14 (utime)",  "15 (stime)",       "16 (cutime)",
                                        "17 (cstime)", "20 (num_threads)", "22 (starttime)"};
    if (n != 9) {
        snprintf(err, errlen, "field %s: missing or not a number after offset %ld",
                 names[n < 0 ? 0 : n], (long)(p + 1 - text));
        return -1;
    }
    if (cut < 0 || cst < 0) {
        snprintf(err, errlen, "field 16/17 (cutime/cstime): negative");
        return -1;
    }
    out->pid = (int)pid;
    out->ppid = ppid;
    out->pgid = pgid;
    out->state = state;
    out->ticks = (uint64_t)ut + st;
    out->child_ticks = (uint64_t)cut + (uint64_t)cst;
    out->threads = threads;
    out->start_ticks = start;
    return 0;
}

int procstat_read_statline(pid_t pid, struct procstat_statline *out)
{
    char path[64], text[1024], err[128];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    return procstat_parse_statline(text, out, err, sizeof err);
}

int procstat_cpu_clock_ns(pid_t pid, uint64_t *ns)
{
    clockid_t cid;
    struct timespec ts;
    if (clock_getcpuclockid(pid, &cid) != 0 || clock_gettime(cid, &ts) != 0)
        return -1;
    *ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return 0;
}

int procstat_add_process(pid_t pid, struct procstat *s, bool full)
{
    if (add_status(pid, s) < 0)
        return -1;
    if (full) {
        sum_schedstat(pid, s);
        s->fds += count_fds(pid);
        add_io(pid, s);
        add_pss(pid, s);
    }
    return 0;
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
    bool have_clock = procstat_cpu_clock_ns(pid, &s->cpu_ns) == 0;
    struct procstat_statline st;
    if (procstat_read_statline(pid, &st) == 0)
        s->stat_ticks = st.ticks;
    s->machine_busy_ns = procstat_machine_busy_ns();
    s->pss_ok = full;
    if (procstat_add_process(pid, s, full) < 0)
        return -1;
    if (!full && !have_clock)
        sum_schedstat(pid, s);
    if (!have_clock)
        s->cpu_ns = s->task_cpu_ns;
    s->processes = 1;
    s->root_cpu_ns = s->cpu_ns;
    return 0;
}
