/*
 * process_metrics: the process collector for /metrics (see process_metrics.h).
 * The family names and help texts are the ones Prometheus client libraries
 * use, so dashboards built for other processes read refproxy unchanged.
 */
#include "process_metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "tcmalloc_compat.h"

int process_metrics_read_stat(unsigned long long *fields, int nfields)
{
    char text[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n;
    do
        n = read(fd, text, sizeof(text) - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0)
        return -1;
    text[n] = '\0';
    char *p = strrchr(text, ')');
    if (!p)
        return -1;
    p += 2; /* ") " then field 3 (state) */
    for (int i = 0; i < nfields; i++) {
        if (i == 0) { /* state is a letter */
            fields[0] = (unsigned char)*p;
            p = strchr(p, ' ');
        } else {
            char *end;
            fields[i] = strtoull(p, &end, 10);
            p = end;
        }
        if (!p || !*p)
            return i + 1 == nfields ? 0 : -1;
        p++;
    }
    return 0;
}

double process_metrics_start_time(void)
{
    unsigned long long f[20];
    if (process_metrics_read_stat(f, 20) < 0)
        return 0;
    double boot = 0;
    FILE *st = fopen("/proc/stat", "re");
    if (st) {
        char line[256];
        while (fgets(line, sizeof(line), st))
            if (!strncmp(line, "btime ", 6)) {
                boot = strtod(line + 6, NULL);
                break;
            }
        fclose(st);
    }
    /* field 22 starttime is f[22 - 3] */
    return boot + (double)f[19] / (double)sysconf(_SC_CLK_TCK);
}

static long count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory stream's own fd */
}

void process_metrics_head(struct buf *out, const char *name, const char *type, const char *help)
{
    buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void process_metrics_write_tcmalloc(struct buf *out)
{
    static const struct {
        const char *property, *name, *help;
    } props[] = {
        {"generic.current_allocated_bytes", "tcmalloc_current_allocated_bytes",
         "Bytes in use by the application (tcmalloc generic.current_allocated_bytes)."},
        {"generic.heap_size", "tcmalloc_heap_size_bytes",
         "Bytes of system memory reserved by tcmalloc (generic.heap_size)."},
        {"generic.total_physical_bytes", "tcmalloc_physical_bytes",
         "Physical memory used by tcmalloc (generic.total_physical_bytes)."},
        {"tcmalloc.pageheap_free_bytes", "tcmalloc_pageheap_free_bytes",
         "Free mapped bytes in the page heap (tcmalloc.pageheap_free_bytes)."},
        {"tcmalloc.pageheap_unmapped_bytes", "tcmalloc_pageheap_unmapped_bytes",
         "Free bytes released to the system (tcmalloc.pageheap_unmapped_bytes)."},
        {"tcmalloc.central_cache_free_bytes", "tcmalloc_central_cache_free_bytes",
         "Free bytes in the central cache (tcmalloc.central_cache_free_bytes)."},
        {"tcmalloc.transfer_cache_free_bytes", "tcmalloc_transfer_cache_free_bytes",
         "Free bytes in the transfer cache (tcmalloc.transfer_cache_free_bytes)."},
        {"tcmalloc.thread_cache_free_bytes", "tcmalloc_thread_cache_free_bytes",
         "Free bytes in per-thread caches (tcmalloc.thread_cache_free_bytes)."},
        {"tcmalloc.current_total_thread_cache_bytes", "tcmalloc_thread_cache_bytes",
         "Bytes used by all thread caches (tcmalloc.current_total_thread_cache_bytes)."},
    };
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
        size_t v = 0;
        /* Not every allocator answers every property (e.g. under ASan); skip those. */
        if (!MallocExtension_GetNumericProperty(props[i].property, &v))
            continue;
        process_metrics_head(out, props[i].name, "gauge", props[i].help);
        buf_printf(out, "%s %zu\n", props[i].name, v);
    }
}

void process_metrics_write(struct buf *out, double start_time_s)
{
    struct timespec cpu;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
    process_metrics_head(out, "process_cpu_seconds_total", "counter",
                         "Total user and system CPU time spent in seconds.");
    buf_printf(out, "process_cpu_seconds_total %lld.%09ld\n", (long long)cpu.tv_sec, cpu.tv_nsec);

    unsigned long long f[22]; /* fields 3..24 of /proc/self/stat */
    if (process_metrics_read_stat(f, 22) == 0) {
        process_metrics_head(out, "process_resident_memory_bytes", "gauge",
                             "Resident memory size in bytes.");
        buf_printf(out, "process_resident_memory_bytes %llu\n",
                   f[21] * (unsigned long long)sysconf(_SC_PAGESIZE));
        process_metrics_head(out, "process_virtual_memory_bytes", "gauge",
                             "Virtual memory size in bytes.");
        buf_printf(out, "process_virtual_memory_bytes %llu\n", f[20]);
        process_metrics_head(out, "process_threads", "gauge",
                             "Number of OS threads in the process.");
        buf_printf(out, "process_threads %llu\n", f[17]);
    }
    long fds = count_open_fds();
    if (fds >= 0) {
        process_metrics_head(out, "process_open_fds", "gauge", "Number of open file descriptors.");
        buf_printf(out, "process_open_fds %ld\n", fds);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        process_metrics_head(out, "process_max_fds", "gauge",
                             "Maximum number of open file descriptors.");
        buf_printf(out, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
    }
    process_metrics_head(out, "process_start_time_seconds", "gauge",
                         "Start time of the process since unix epoch in seconds.");
    buf_printf(out, "process_start_time_seconds %.2f\n", start_time_s);
}
