/*
 * diff: `scaleprof diff A B [--at N] [--binary PATH]` — two sweeps side by
 * side (e.g. portlist per-service vs off): per-N CPU and CPU per service with
 * the change and its interval (from repeats), the functions whose fitted cost
 * accounts for the change, and the impact of going from A to B at each N and
 * extrapolated to --at N from the two fits.
 * Points are read through results.h (failed, contaminated, corrupt and
 * missing points, and points without a CPU profile, are left out and named): with
 * a sweep.json by results_load, and the per-N totals are then the measured
 * process CPU (stats.json cpu_ns / window); without one by results_scan
 * (every N_services[/run-R]), and the totals are the profile's CPU. The
 * function rows are always the profile's CPU (CPU time / window). A
 * profile that cannot be read is named and left out.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attribution.h"
#include "commands.h"
#include "opts.h"
#include "results.h"
#include "stats_model.h"

struct sweep {
    const char *root;
    struct results res;     /* the folder as read; owns the profile paths */
    struct attr_point *pts; /* its ok points with a CPU profile */
    size_t count;
    struct fit_design d;
    struct attribution a;
    bool measured; /* totals from stats.json cpu_ns (the folder has a sweep.json) */
    double *cpu;   /* total CPU s/s per attribution observation */
    struct fit_result cpu_fit;
    bool a_held_at_zero; /* the free fit's a < 0: every fit refitted with a = 0 */
    double free_a;
};

static double fit_at(const struct fit_result *r, double n)
{
    return r->a + r->b * n + r->c * n * n;
}

static void sweep_free(struct sweep *s);

/* The program's own function nearest above leaf on the call path ending in
 * leaf that costs the most at n (fitted): where a change in a library or
 * system call (read) was made from. NULL when leaf is the program's own or no
 * own frame calls it. */
static char *own_caller(const struct attribution *a, const char *leaf, double n)
{
    const struct attr_func *lf = attribution_find(a, leaf);
    if (!lf || lf->own)
        return NULL;
    size_t ll = strlen(leaf);
    const char *best = NULL;
    double best_cost = -INFINITY;
    for (size_t i = 0; i < a->npaths; i++) {
        const char *st = a->paths[i].stack;
        size_t sl = strlen(st);
        if (sl < ll || strcmp(st + sl - ll, leaf) != 0 || (sl > ll && st[sl - ll - 1] != ';'))
            continue;
        double cost = fit_at(&a->paths[i].fit, n);
        if (cost > best_cost) {
            best_cost = cost;
            best = st;
        }
    }
    if (!best)
        return NULL;
    /* frames from the leaf's caller up to the root */
    for (const char *end = best + strlen(best) - ll; end > best;) {
        const char *start = end - 1; /* the ';' before the previous frame's end */
        while (start > best && start[-1] != ';')
            start--;
        size_t len = (size_t)(end - 1 - start);
        const struct attr_func *f = attribution_find_n(a, start, len);
        if (f && f->own)
            return strndup(start, len);
        end = start;
    }
    return NULL;
}

/* The ok points of the results folder with a CPU profile (cpu.prof,
 * cpu.pb.gz or the one stats.json names), through results.h
 * (results_load with a sweep.json, else results_scan); cpu[] gets their
 * measured CPU s/s (NaN without a manifest). The others are named on stderr. */
static int load_points(struct sweep *s, const char *root, double **cpu, struct buf *err)
{
    char manifest[4096];
    snprintf(manifest, sizeof(manifest), "%s/sweep.json", root);
    s->measured = access(manifest, F_OK) == 0;
    struct results *r = &s->res;
    if ((s->measured ? results_load(root, r, err) : results_scan(root, r, err)) != 0)
        return -1;
    s->pts = calloc(r->count ? r->count : 1, sizeof(*s->pts));
    *cpu = calloc(r->count ? r->count : 1, sizeof(double));
    if (!s->pts || !*cpu) {
        buf_printf(err, "%s: out of memory", root);
        return -1;
    }
    for (size_t i = 0; i < r->count; i++) {
        const struct point *p = &r->points[i];
        if (!point_usable(p) || !p->cpu_prof) {
            fprintf(stderr, "scaleprof diff: %s: N=%d repeat %d left out: %s\n", root, p->services,
                    p->repeat,
                    point_usable(p) ? "no CPU profile"
                                    : (p->reason && *p->reason ? p->reason : p->status));
            continue;
        }
        (*cpu)[s->count] = p->cpu_s_per_s;
        s->pts[s->count++] = (struct attr_point){
            .services = p->services, .window_s = p->window_s, .cpu_prof = p->cpu_prof};
    }
    return 0;
}

static int sweep_load(struct sweep *s, const char *root, const char *binary, const char *own)
{
    struct buf err, skipped;
    buf_init(&err, 4096);
    buf_init(&skipped, 1 << 16);
    memset(s, 0, sizeof(*s));
    s->root = root;
    double *cpu = NULL;
    int rc = load_points(s, root, &cpu, &err);
    if (rc == 0) {
        double *n = malloc((s->count ? s->count : 1) * sizeof(*n));
        for (size_t i = 0; n && i < s->count; i++)
            n[i] = s->pts[i].services;
        if (!n || fit_prepare(&s->d, n, NULL, s->count)) {
            buf_printf(&err, "%s: need points at 3 or more distinct N (found %zu points)", root,
                       s->count);
            rc = -1;
        }
        free(n);
    }
    struct attr_options ao = {
        .measure = PROFILE_CPU_NS, .per_second = true, .binary = binary, .own_regex = own};
    if (rc == 0)
        rc = attribution_build_measure(&s->a, s->pts, s->count, &s->d, &ao, &skipped, &err);
    if (skipped.len)
        fprintf(stderr, "scaleprof diff: profiles left out:\n%s\n", skipped.data);
    if (rc == 0) {
        s->cpu = calloc(s->a.count ? s->a.count : 1, sizeof(double));
        if (!s->cpu)
            rc = -1;
        for (size_t k = 0; s->cpu && k < s->a.count; k++)
            s->cpu[k] = s->measured ? cpu[s->a.obs[k]] : s->a.total[k];
        /* The same rule as analyze: a fixed cost below 0 is held at 0, for
         * the total and (refitted) every function, so they still add up. */
        struct fit_design *d = s->a.own_design ? &s->a.design : &s->d;
        if (s->cpu) {
            s->a_held_at_zero = model_fit_total(d, s->cpu, false, &s->cpu_fit, &s->free_a);
            if (s->a_held_at_zero && attribution_refit(&s->a, d, &err) != 0)
                rc = -1;
        }
    }
    free(cpu);
    if (rc) {
        fprintf(stderr, "scaleprof diff: %s\n", err.data ? err.data : root);
        sweep_free(s);
    }
    buf_free(&err);
    buf_free(&skipped);
    return rc;
}

static void sweep_free(struct sweep *s)
{
    attribution_free(&s->a);
    fit_design_free(&s->d);
    free(s->pts);
    s->pts = NULL;
    s->count = 0;
    results_free(&s->res);
    free(s->cpu);
    s->cpu = NULL;
}

/* Mean and variance of the total CPU at services n; returns the count. */
static size_t at_n(const struct sweep *s, double n, double *mean, double *var)
{
    size_t k = 0;
    double sum = 0, sq = 0;
    for (size_t i = 0; i < s->a.count; i++)
        if (s->a.n[i] == n) {
            sum += s->cpu[i];
            sq += s->cpu[i] * s->cpu[i];
            k++;
        }
    *mean = k ? sum / (double)k : NAN;
    *var = k > 1 ? (sq - sum * sum / (double)k) / (double)(k - 1) : NAN;
    if (*var < 0)
        *var = 0;
    return k;
}

/* Whether observation i's N came earlier (points may be in sweep order). */
static bool seen_before(const struct attribution *a, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (a->n[j] == a->n[i])
            return true;
    return false;
}

struct change {
    const char *name;
    double delta; /* A − B fitted self cost at Nmax */
};

static int change_cmp(const void *pa, const void *pb)
{
    const struct change *a = pa, *b = pb;
    double x = fabs(a->delta), y = fabs(b->delta);
    return x > y ? -1 : x < y ? 1 : strcmp(a->name, b->name);
}

static double func_at(const struct attr_func *f, double n)
{
    return f ? fit_at(&f->fit, n) : 0.0;
}

static void diff_print(const struct sweep *A, const struct sweep *B, double at)
{
    double nmax = 0;
    for (size_t i = 0; i < A->a.count; i++)
        nmax = fmax(nmax, A->a.n[i]);
    printf("diff: A = %s, B = %s (%s CPU, seconds per second)\n", A->root, B->root,
           A->measured && B->measured ? "measured process" : "profile");
    const struct sweep *both[2] = {A, B};
    for (int k = 0; k < 2; k++)
        if (both[k]->a_held_at_zero)
            printf("%c: the free fit gave a negative fixed cost (a = %.4g), which no process "
                   "has: a is held at 0 in every fit\n",
                   "AB"[k], both[k] -> free_a);
    printf("%8s %10s %10s %10s %18s %12s %12s\n", "N", "A cpu", "B cpu", "B-A", "95% interval",
           "A cpu/svc", "B cpu/svc");
    for (size_t i = 0; i < A->a.count; i++) {
        double n = A->a.n[i];
        if (seen_before(&A->a, i))
            continue;
        double ma, va, mb, vb;
        size_t ka = at_n(A, n, &ma, &va), kb = at_n(B, n, &mb, &vb);
        if (kb == 0)
            continue;
        char iv[64] = "-";
        if (ka > 1 && kb > 1) {
            double se = sqrt(va / (double)ka + vb / (double)kb);
            double t = t_quantile(0.975, (double)(ka < kb ? ka : kb) - 1);
            snprintf(iv, sizeof(iv), "[%+.4f, %+.4f]", mb - ma - t * se, mb - ma + t * se);
        }
        printf("%8.0f %10.4f %10.4f %+10.4f %18s %12.6f %12.6f\n", n, ma, mb, mb - ma, iv, ma / n,
               mb / n);
    }
    /* functions that account for the change at Nmax */
    size_t cap = A->a.nfuncs + B->a.nfuncs, nc = 0;
    struct change *ch = calloc(cap ? cap : 1, sizeof(*ch));
    for (size_t i = 0; ch && i < A->a.nfuncs; i++) {
        const struct attr_func *fa = &A->a.funcs[i];
        const struct attr_func *fb = attribution_find(&B->a, fa->name);
        ch[nc++] = (struct change){fa->name, func_at(fa, nmax) - func_at(fb, nmax)};
    }
    for (size_t i = 0; ch && i < B->a.nfuncs; i++)
        if (!attribution_find(&A->a, B->a.funcs[i].name))
            ch[nc++] = (struct change){B->a.funcs[i].name, -func_at(&B->a.funcs[i], nmax)};
    /* shares of the change in the profile's own total, which the rows add up to */
    double total = fit_at(&A->a.total_fit, nmax) - fit_at(&B->a.total_fit, nmax);
    if (ch) {
        qsort(ch, nc, sizeof(*ch), change_cmp);
        printf("\nfunctions accounting for the change at N=%.0f (A - B, fitted self CPU s/s):\n",
               nmax);
        for (size_t i = 0; i < nc && i < 8; i++)
            printf("  %+10.4f  %5.1f%%  %s\n", ch[i].delta,
                   total != 0 ? 100.0 * ch[i].delta / total : 0.0, ch[i].name);
        if (nc) {
            /* a library or system call is charged to the program's code calling it */
            const struct attribution *from = ch[0].delta >= 0 ? &A->a : &B->a;
            char *caller = own_caller(from, ch[0].name, nmax);
            if (caller)
                printf("cause: %s (its time in %s)\n", caller, ch[0].name);
            else
                printf("cause: %s\n", ch[0].name);
            free(caller);
        }
        free(ch);
    }
    printf("\nimpact of B over A (fitted): ");
    for (size_t i = 0; i < A->a.count; i++) {
        double n = A->a.n[i];
        if (seen_before(&A->a, i))
            continue;
        double fa = fit_at(&A->cpu_fit, n), fb = fit_at(&B->cpu_fit, n);
        printf("N=%.0f %+.1f%%  ", n, fa != 0 ? 100.0 * (fb - fa) / fa : 0.0);
    }
    if (at > 0) {
        double fa = fit_at(&A->cpu_fit, at), fb = fit_at(&B->cpu_fit, at);
        printf("| extrapolated N=%.0f: %.4f -> %.4f CPU s/s (%+.1f%%)", at, fa, fb,
               fa != 0 ? 100.0 * (fb - fa) / fa : 0.0);
    }
    printf("\n");
}

static const char diff_usage[] =
    "usage: scaleprof diff A B [--at N] [--binary PATH] [--own REGEX]\n"
    "\n"
    "Two sweeps side by side (e.g. portlist per-service vs off): CPU and CPU per\n"
    "service at each N with the change and its interval, the functions that account\n"
    "for the change, and the impact of going from A to B.\n"
    "\n"
    "  --at N         also extrapolate the impact to N services from the two fits (N > 0)\n"
    "  --binary PATH  the main executable to symbolize with (default: the one each\n"
    "                 profile's maps name)\n"
    "  --own REGEX    functions whose names match are the program's own code, the\n"
    "                 ones a cause is named by (default: native code in the main\n"
    "                 executable; Go code outside the standard library and runtime)\n"
    "Exit: 0 ok, 2 unusable input or usage.\n";

enum { DIFF_OPT_AT = 256, DIFF_OPT_BINARY, DIFF_OPT_OWN };

static const struct option diff_options[] = {
    {"at", required_argument, NULL, DIFF_OPT_AT},
    {"binary", required_argument, NULL, DIFF_OPT_BINARY},
    {"own", required_argument, NULL, DIFF_OPT_OWN},
    {NULL, 0, NULL, 0},
};

int cmd_diff(int argc, char **argv)
{
    const char *roots[2] = {NULL, NULL}, *binary = NULL, *own = NULL;
    double at = 0;
    int nroots = 0;
    struct opts o;
    opts_init(&o, "diff", diff_usage, diff_options, NULL, argc, argv);
    for (int c; (c = opts_next(&o)) != OPTS_END;) {
        switch (c) {
        case OPTS_STOP:
            return o.exit;
        case OPTS_ARG:
            if (nroots == 2)
                return opts_error(&o, "unexpected argument '%s' (A and B are given)", o.arg);
            roots[nroots++] = o.arg;
            break;
        case DIFF_OPT_AT:
            if (opts_number(&o, "a service count", 0, INFINITY, OPTS_OPEN_LO, &at) < 0)
                return OPTS_USAGE;
            break;
        case DIFF_OPT_BINARY:
            binary = o.arg;
            break;
        case DIFF_OPT_OWN:
            own = o.arg;
            break;
        }
    }
    if (nroots != 2)
        return opts_error(&o, "two results folders, A and B, are required");
    struct sweep A, B;
    if (sweep_load(&A, roots[0], binary, own))
        return 2;
    if (sweep_load(&B, roots[1], binary, own)) {
        sweep_free(&A);
        return 2;
    }
    diff_print(&A, &B, at);
    sweep_free(&A);
    sweep_free(&B);
    return 0;
}
