/*
 * process_metrics: the process collector behind /metrics, the families
 * Prometheus client libraries export for any process (process_cpu_seconds_total,
 * process_resident_memory_bytes, threads, fds, start time), read from /proc
 * and the clocks, and the tcmalloc statistics. admin.c composes the page:
 * these, then refproxy's own families, then the server's and the tasks'.
 *
 * Everything here appends to a caller's buffer and reads only this process.
 * A /proc file that cannot be read leaves its families out; nothing fails.
 */
#ifndef REFPROXY_PROCESS_METRICS_H
#define REFPROXY_PROCESS_METRICS_H

#include "buf.h"

/* The process start time in seconds since the epoch (/proc/self/stat
 * starttime plus /proc/stat btime), or 0 when unreadable. Read once, at
 * admin start, and passed back to process_metrics_write. */
double process_metrics_start_time(void);

/* Fills fields[0..nfields) with fields 3.. of /proc/self/stat (fields[0] is
 * the state letter; f[k - 3] is field k). 0, or -1 when the file cannot be
 * read or has fewer fields. */
int process_metrics_read_stat(unsigned long long *fields, int nfields);

/* Appends the "# HELP" and "# TYPE" lines of one family. */
void process_metrics_head(struct buf *out, const char *name, const char *type, const char *help);

/* Appends the process_* families: CPU seconds (ns resolution), resident and
 * virtual memory, threads, open and maximum fds, and start_time_s. */
void process_metrics_write(struct buf *out, double start_time_s);

/* Appends the tcmalloc_* gauges the allocator answers (none without it). */
void process_metrics_write_tcmalloc(struct buf *out);

#endif
