/*
 * profiler: the table of profiler backends, --profiler auto, the helpers every
 * HTTP backend shares, and the `none` backend. See profiler.h.
 */
#include "profiler.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outfile.h"

#define BODY_MAX ((size_t)512 << 20) /* profiles of big processes are large, but not this */

/* auto tries these in order; the last is the fallback, never picked from an index. */
static const struct profiler *const backends[] = {
    &profiler_go,
    &profiler_gperftools,
    &profiler_none,
    &profiler_perf,
};

const struct profiler *profiler_by_name(const char *name)
{
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (strcmp(backends[i]->name, name) == 0)
            return backends[i];
    return NULL;
}

const struct profiler *profiler_pick(const char *index)
{
    size_t n = sizeof backends / sizeof backends[0];
    for (size_t i = 0; index && i < n; i++)
        if (backends[i]->serves && backends[i]->serves(index))
            return backends[i];
    return backends[n - 1];
}

const char *profiler_names(void)
{
    static char names[128];
    if (!names[0]) {
        size_t off = (size_t)snprintf(names, sizeof names, "auto");
        for (size_t i = 0; i < sizeof backends / sizeof backends[0] && off < sizeof names; i++)
            off += (size_t)snprintf(names + off, sizeof names - off, "|%s", backends[i]->name);
    }
    return names;
}

void profiler_add_note(struct profiler_point *pp, const char *fmt, ...)
{
    char *notes = pp->out->notes;
    size_t len = strlen(notes), cap = sizeof pp->out->notes;
    if (len && len + 2 < cap) {
        memcpy(notes + len, "; ", 3);
        len += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    if (len < cap)
        vsnprintf(notes + len, cap - len, fmt, ap);
    va_end(ap);
}

static char *admin_url(const struct profiler_point *pp, const char *path)
{
    char *u = NULL;
    if (asprintf(&u, "http://%s%s", pp->admin, path) < 0)
        abort();
    return u;
}

int profiler_fetch_start(struct profiler_point *pp, struct fetch *fx, const char *path)
{
    char *u = admin_url(pp, path);
    /* the target answers after the window; allow generously for a loaded machine */
    long timeout_ms = (long)(pp->duration_s * 1000) + pp->fetch_timeout_ms;
    int rc = fetch_start(pp->fetcher, fx, u, timeout_ms, BODY_MAX);
    free(u);
    return rc;
}

int profiler_save(struct profiler_point *pp, const char *file, const void *body, size_t len)
{
    if (outfile_write(pp->dir, file, body ? body : "", len) == 0)
        return 0;
    if (!pp->out->io_error[0])
        snprintf(pp->out->io_error, sizeof pp->out->io_error, "writing %s/%s: %s", pp->dir, file,
                 strerror(errno));
    return -1;
}

int profiler_fetch_file(struct profiler_point *pp, const char *path, const char *file, char *why,
                        size_t whylen)
{
    char *u = admin_url(pp, path);
    struct buf b;
    buf_init(&b, BODY_MAX);
    long status = 0;
    char err[CURL_ERROR_SIZE + 256];
    int rc = 0;
    if (fetch_get(u, pp->fetch_timeout_ms, BODY_MAX, &b, &status, err, sizeof err) < 0) {
        if (why)
            snprintf(why, whylen, "%s", err);
    } else if (status != 200) {
        if (why)
            snprintf(why, whylen, "%s answered HTTP %ld", u, status);
    } else {
        rc = profiler_save(pp, file, b.data, b.len) == 0 ? 1 : 0;
        if (rc == 0 && why)
            snprintf(why, whylen, "writing %s failed", file);
    }
    buf_free(&b);
    free(u);
    return pp->signal && *pp->signal ? -1 : rc;
}

/* none: process measurements only (--profiler none). */

static int none_start(struct profiler_point *pp, void **state)
{
    *state = NULL;
    snprintf(pp->out->reason, sizeof pp->out->reason, "--profiler none");
    return -1;
}

static void none_finish(struct profiler_point *pp, void *state, bool keep)
{
}

static int none_after(struct profiler_point *pp)
{
    return 0;
}

const struct profiler profiler_none = {
    .name = "none",
    .window_start = none_start,
    .window_finish = none_finish,
    .collect_after = none_after,
};
