/* task_stats: per-(task, service) counters of runs, thread CPU and work. See task_stats.h. */
#include "task_stats.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct task_stats *stats_head, *stats_tail; /* in creation order, for stable output */

struct task_stats *task_stats_get(const char *task, const char *service)
{
    pthread_mutex_lock(&stats_lock);
    struct task_stats *st;
    for (st = stats_head; st; st = st->next)
        if (strcmp(st->task, task) == 0 && strcmp(st->service, service) == 0)
            break;
    if (!st && (st = calloc(1, sizeof(*st)))) {
        snprintf(st->task, sizeof(st->task), "%s", task);
        snprintf(st->service, sizeof(st->service), "%s", service);
        if (stats_tail)
            stats_tail->next = st;
        else
            stats_head = st;
        stats_tail = st;
    }
    pthread_mutex_unlock(&stats_lock);
    return st;
}

uint64_t task_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void task_stats_record(struct task_stats *st, uint64_t cpu_start, uint64_t units)
{
    if (!st)
        return;
    uint64_t now = task_cpu_now();
    atomic_fetch_add_explicit(&st->runs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->cpu_ns, now > cpu_start ? now - cpu_start : 0,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&st->work_units, units, memory_order_relaxed);
}

static void counts_add(struct task_counts *c, struct task_stats *st)
{
    c->runs += atomic_load_explicit(&st->runs, memory_order_relaxed);
    c->cpu_ns += atomic_load_explicit(&st->cpu_ns, memory_order_relaxed);
    c->work_units += atomic_load_explicit(&st->work_units, memory_order_relaxed);
}

int task_stats_read(const char *task, const char *service, struct task_counts *out)
{
    memset(out, 0, sizeof(*out));
    int found = 0;
    pthread_mutex_lock(&stats_lock);
    for (struct task_stats *st = stats_head; st; st = st->next)
        if (strcmp(st->task, task) == 0 && strcmp(st->service, service) == 0) {
            counts_add(out, st);
            found = 1;
        }
    pthread_mutex_unlock(&stats_lock);
    return found;
}

int task_stats_read_task(const char *task, struct task_counts *out)
{
    memset(out, 0, sizeof(*out));
    int n = 0;
    pthread_mutex_lock(&stats_lock);
    for (struct task_stats *st = stats_head; st; st = st->next)
        if (strcmp(st->task, task) == 0) {
            counts_add(out, st);
            n++;
        }
    pthread_mutex_unlock(&stats_lock);
    return n;
}

/* Prometheus label values: escape backslash, quote and newline. */
static void put_label(struct buf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            buf_printf(out, "\\%c", *s);
        else if (*s == '\n')
            buf_puts(out, "\\n");
        else
            buf_append(out, s, 1);
    }
}

void task_stats_write(struct buf *out)
{
    static const struct {
        const char *name, *help;
    } fam[3] = {
        {"refproxy_task_runs_total", "Runs of each background task."},
        {"refproxy_task_cpu_seconds_total",
         "Thread CPU time spent in each background task (CLOCK_THREAD_CPUTIME_ID)."},
        {"refproxy_task_work_units_total",
         "Units of work of each background task (/proc/net rows and fds walked, netlink "
         "messages, timer actions)."},
    };
    pthread_mutex_lock(&stats_lock);
    for (int f = 0; f < 3; f++) {
        buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", fam[f].name, fam[f].help, fam[f].name);
        for (struct task_stats *st = stats_head; st; st = st->next) {
            struct task_counts c = {0};
            counts_add(&c, st);
            buf_printf(out, "%s{task=\"", fam[f].name);
            put_label(out, st->task);
            buf_puts(out, "\",service=\"");
            put_label(out, st->service);
            if (f == 0)
                buf_printf(out, "\"} %llu\n", (unsigned long long)c.runs);
            else if (f == 1)
                buf_printf(out, "\"} %.9f\n", (double)c.cpu_ns / 1e9);
            else
                buf_printf(out, "\"} %llu\n", (unsigned long long)c.work_units);
        }
    }
    pthread_mutex_unlock(&stats_lock);
}

void task_stats_clear(void)
{
    pthread_mutex_lock(&stats_lock);
    struct task_stats *st = stats_head;
    while (st) {
        struct task_stats *next = st->next;
        free(st);
        st = next;
    }
    stats_head = stats_tail = NULL;
    pthread_mutex_unlock(&stats_lock);
}
