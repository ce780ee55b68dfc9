/* opts: getopt_long for every scaleprof command, with one message shape. See opts.h. */
#include "opts.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edit_distance.h"

#define OPTS_HELP_VAL 'h'

static void see_help(const struct opts *o)
{
    fprintf(stderr, "see 'scaleprof %s --help'\n", o->cmd);
}

void opts_init(struct opts *o, const char *cmd, const char *usage, const struct option *table,
               const char *shortopts, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
    o->usage = usage;
    o->argc = argc;
    o->argv = argv;
    size_t n = 0;
    while (table && table[n].name)
        n++;
    int len = snprintf(o->shortopts, sizeof o->shortopts, "-:h%s", shortopts ? shortopts : "");
    if (n > OPTS_MAX || len < 0 || (size_t)len >= sizeof o->shortopts)
        abort(); /* a command's table outgrew the bounds: raise OPTS_MAX */
    if (n)
        memcpy(o->longopts, table, n * sizeof *table);
    o->longopts[n] = (struct option){"help", no_argument, NULL, OPTS_HELP_VAL};
    o->longopts[n + 1] = (struct option){0};
    /* "-" first: positional arguments come back in order (code 1) and argv
     * is never permuted; ":" next: a missing value is told apart from an
     * unknown option. optind = 0 makes glibc start afresh, forgetting any
     * earlier parse in this process. */
    optind = 0;
    opterr = 0;
}

/* The name of a long option as written in arg ("--out=x" → "out"), into buf. */
static const char *long_name(const char *arg, char *buf, size_t size)
{
    const char *s = arg + 2;
    size_t len = strcspn(s, "=");
    snprintf(buf, size, "%.*s", (int)(len < size ? len : size - 1), s);
    return buf;
}

static const struct option *find_long(const struct opts *o, const char *name)
{
    for (const struct option *p = o->longopts; p->name; p++)
        if (!strcmp(p->name, name))
            return p;
    return NULL;
}

/* The option a mistyped name most likely meant: one it abbreviates, else the
 * nearest within two edits. NULL when none is close. */
static const char *suggest(const struct opts *o, const char *name)
{
    const char *best = NULL;
    size_t best_d = 3, len = strlen(name);
    for (const struct option *p = o->longopts; p->name; p++) {
        if (len && !strncmp(p->name, name, len))
            return p->name;
        size_t d = edit_distance_nocase(name, p->name);
        if (d < best_d) {
            best_d = d;
            best = p->name;
        }
    }
    return best;
}

static int stop(struct opts *o, int exit)
{
    o->exit = exit;
    return OPTS_STOP;
}

static int unknown_long(struct opts *o, const char *name)
{
    const char *near = suggest(o, name);
    fprintf(stderr, "scaleprof %s: unknown option '--%s'", o->cmd, name);
    if (near)
        fprintf(stderr, " (did you mean --%s?)", near);
    fputc('\n', stderr);
    see_help(o);
    return stop(o, OPTS_USAGE);
}

/* getopt_long reported an error ('?' or ':') about argv[start]. */
static int option_error(struct opts *o, int c, int start)
{
    const char *elem = o->argv[start];
    if (!strncmp(elem, "--", 2)) {
        char name[64];
        long_name(elem, name, sizeof name);
        const struct option *p = find_long(o, name);
        if (!p)
            return unknown_long(o, name);
        if (c == ':') {
            fprintf(stderr, "scaleprof %s: --%s: expects a value\n", o->cmd, name);
        } else {
            fprintf(stderr, "scaleprof %s: --%s: takes no value, got '%s'\n", o->cmd, name,
                    strchr(elem, '=') ? strchr(elem, '=') + 1 : "");
        }
    } else if (c == ':') {
        fprintf(stderr, "scaleprof %s: -%c: expects a value\n", o->cmd, optopt);
    } else if (isprint(optopt)) {
        fprintf(stderr, "scaleprof %s: unknown option '-%c'\n", o->cmd, optopt);
    } else {
        fprintf(stderr, "scaleprof %s: unknown option '%s'\n", o->cmd, elem);
    }
    see_help(o);
    return stop(o, OPTS_USAGE);
}

int opts_next(struct opts *o)
{
    o->name = NULL;
    o->arg = NULL;
    if (o->rest) { /* after "--": the rest is positional */
        if (o->rest >= o->argc)
            return OPTS_END;
        o->arg = o->argv[o->rest++];
        return OPTS_ARG;
    }
    /* A long option always begins an argument of its own, and with "-"
     * ordering nothing is skipped: it is argv[start]. */
    int start = optind > 0 ? optind : 1;
    int index = -1;
    int c = getopt_long(o->argc, o->argv, o->shortopts, o->longopts, &index);
    if (c == -1) {
        o->rest = optind < o->argc && optind > 0 ? optind : o->argc;
        return opts_next(o);
    }
    if (c == OPTS_ARG) {
        o->arg = optarg;
        return OPTS_ARG;
    }
    if (c == '?' || c == ':')
        return option_error(o, c, start);
    if (index >= 0) {
        char name[64];
        /* getopt_long takes any unambiguous prefix; we take the exact name only */
        if (start >= o->argc || strncmp(o->argv[start], "--", 2) ||
            strcmp(long_name(o->argv[start], name, sizeof name), o->longopts[index].name))
            return unknown_long(o, start < o->argc ? long_name(o->argv[start], name, sizeof name)
                                                   : o->longopts[index].name);
        snprintf(o->name_buf, sizeof o->name_buf, "--%s", o->longopts[index].name);
    } else {
        snprintf(o->name_buf, sizeof o->name_buf, "-%c", c);
    }
    o->name = o->name_buf;
    if (c == OPTS_HELP_VAL) {
        fputs(o->usage, stdout);
        return stop(o, 0);
    }
    o->arg = optarg;
    return c;
}

int opts_error(const struct opts *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "scaleprof %s: ", o->cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    see_help(o);
    return OPTS_USAGE;
}

int opts_bad_value(const struct opts *o, const char *expected)
{
    fprintf(stderr, "scaleprof %s: %s: expected %s, got '%s'\n", o->cmd, o->name ? o->name : "?",
            expected, o->arg ? o->arg : "");
    see_help(o);
    return -1;
}

/* strtod over the whole string; false unless it is one finite number. */
static bool read_number(const char *s, double *x)
{
    char *end;
    errno = 0;
    *x = s ? strtod(s, &end) : NAN;
    return s && end != s && *end == '\0' && isfinite(*x);
}

int opts_number(const struct opts *o, const char *what, double lo, double hi, unsigned flags,
                double *out)
{
    double x;
    bool ok = read_number(o->arg, &x) && ((flags & OPTS_OPEN_LO) ? x > lo : x >= lo) &&
              ((flags & OPTS_OPEN_HI) ? x < hi : x <= hi);
    if (ok) {
        *out = x;
        return 0;
    }
    char expected[128];
    if (isinf(hi))
        snprintf(expected, sizeof expected, "%s %s %g", what,
                 (flags & OPTS_OPEN_LO) ? ">" : ">=", lo);
    else
        snprintf(expected, sizeof expected, "%s in %c%g, %g%c", what,
                 (flags & OPTS_OPEN_LO) ? '(' : '[', lo, hi, (flags & OPTS_OPEN_HI) ? ')' : ']');
    return opts_bad_value(o, expected);
}

int opts_seconds(const struct opts *o, double lo, double *out)
{
    return opts_number(o, "seconds", lo, OPTS_MAX_SECONDS, 0, out);
}

int opts_whole(const struct opts *o, const char *what, long lo, long hi, long *out)
{
    double x;
    /* x < 2^63 keeps the conversion defined when hi is LONG_MAX */
    if (read_number(o->arg, &x) && x == floor(x) && x >= (double)lo && x <= (double)hi &&
        x < 0x1p63) {
        *out = (long)x;
        return 0;
    }
    char expected[128];
    if (hi == LONG_MAX)
        snprintf(expected, sizeof expected, "%s >= %ld", what, lo);
    else
        snprintf(expected, sizeof expected, "%s in %ld..%ld", what, lo, hi);
    return opts_bad_value(o, expected);
}

int opts_ulong(const struct opts *o, unsigned long *out)
{
    const char *s = o->arg ? o->arg : "";
    bool digits = *s != '\0';
    for (const char *p = s; *p && digits; p++)
        digits = isdigit((unsigned char)*p);
    errno = 0;
    unsigned long v = digits ? strtoul(s, NULL, 10) : 0;
    if (digits && errno == 0) {
        *out = v;
        return 0;
    }
    char expected[64];
    snprintf(expected, sizeof expected, "a whole number in 0..%lu", ULONG_MAX);
    return opts_bad_value(o, expected);
}

int opts_choice(const struct opts *o, const char *const *choices, int *index)
{
    size_t n = 0;
    for (; choices[n]; n++)
        if (o->arg && !strcmp(o->arg, choices[n])) {
            *index = (int)n;
            return 0;
        }
    char expected[256] = "";
    size_t len = 0;
    for (size_t i = 0; i < n && len < sizeof expected; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        int w = snprintf(expected + len, sizeof expected - len, "%s%s", sep, choices[i]);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    return opts_bad_value(o, expected);
}
