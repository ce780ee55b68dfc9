/* progress: the sweep's status line or log lines. See progress.h. */
#include "progress.h"
#include "procstat.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void progress_init(struct progress *p, FILE *out)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->start = procstat_now();
    p->tty = isatty(fileno(out)) && getenv("TERM") && strcmp(getenv("TERM"), "dumb");
}

static void clear_line(struct progress *p)
{
    if (p->line_open) {
        fputs("\r\033[K", p->out);
        p->line_open = false;
    }
}

void progress_update(struct progress *p, int point, int points, int services, int repeat,
                     const char *phase, double seconds_left)
{
    if (p->tty) {
        clear_line(p);
        fprintf(p->out, "[%d/%d] %d services", point, points, services);
        if (repeat > 0)
            fprintf(p->out, " run %d", repeat);
        fprintf(p->out, "  %s", phase);
        if (seconds_left >= 0)
            fprintf(p->out, "  %.0f s left", seconds_left);
        fflush(p->out);
        p->line_open = true;
        return;
    }
    if (point == p->last_point && !strcmp(phase, p->last_phase))
        return;
    p->last_point = point;
    snprintf(p->last_phase, sizeof p->last_phase, "%s", phase);
    fprintf(p->out, "scaleprof sweep: %7.1f s [%d/%d] %d services run %d: %s",
            procstat_now() - p->start, point, points, services, repeat, phase);
    if (seconds_left >= 0)
        fprintf(p->out, " (%.0f s)", seconds_left);
    fputc('\n', p->out);
    fflush(p->out);
}

void progress_message(struct progress *p, const char *fmt, ...)
{
    clear_line(p);
    va_list ap;
    va_start(ap, fmt);
    fputs("scaleprof sweep: ", p->out);
    vfprintf(p->out, fmt, ap);
    va_end(ap);
    fputc('\n', p->out);
    fflush(p->out);
}

void progress_done(struct progress *p)
{
    clear_line(p);
    fflush(p->out);
}
