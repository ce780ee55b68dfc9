/*
 * progress: what the sweep tells the person waiting. On a terminal, one line
 * rewritten in place (point k/n, N, phase, seconds left); otherwise, one plain
 * log line per phase change, so CI logs and redirected output stay readable.
 * Messages (warnings, failures) always go on their own line.
 */
#ifndef SCALEPROF_PROGRESS_H
#define SCALEPROF_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>

struct progress {
    FILE *out;
    bool tty;
    bool line_open; /* a status line is on screen and needs clearing first */
    char last_phase[32];
    int last_point;
    double start; /* CLOCK_MONOTONIC at progress_init: log lines say how far in they are */
};

void progress_init(struct progress *p, FILE *out);
/* point is 1-based; seconds_left < 0 hides it. Cheap to call often. */
void progress_update(struct progress *p, int point, int points, int services, int repeat,
                     const char *phase, double seconds_left);
/* A message on its own line (the status line, if any, is cleared first). */
void progress_message(struct progress *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Clears the status line. */
void progress_done(struct progress *p);

#endif
