/*
 * flamegraph: the scaling flame graph. Like Brendan Gregg's flame graphs, but
 * a frame's width is the super-linear term c carried by the call paths through
 * it, not samples: the wide towers are the code whose cost grows faster than
 * the number of services. Plain SVG with <title> tooltips; no scripts.
 * Paths whose fitted c is not positive are left out (a flame graph cannot draw
 * negative widths; they are noise or code that gets cheaper per service).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attribution.h"
#include "buf.h"

#define FG_WIDTH 1200.0
#define FG_FRAME 17.0
#define FG_PAD 10.0
#define FG_TOP 40.0
#define FG_MAX_DEPTH 256

struct fg_path {
    const char *stack;
    double c;
    const char *frame[FG_MAX_DEPTH]; /* start of each frame in stack */
    size_t len[FG_MAX_DEPTH];
    size_t depth;
};

struct fg {
    FILE *out;
    double total, scale;
    double height;
};

static int fg_cmp(const void *pa, const void *pb)
{
    const struct fg_path *a = *(struct fg_path *const *)pa, *b = *(struct fg_path *const *)pb;
    return strcmp(a->stack, b->stack);
}

static void fg_rect(struct fg *g, const char *name, size_t nl, double x, size_t depth, double c)
{
    double w = c * g->scale;
    if (w < 0.1)
        return;
    double y = g->height - FG_PAD - (double)(depth + 1) * FG_FRAME;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < nl; i++)
        h = (h ^ (unsigned char)name[i]) * 16777619u;
    int r = 205 + (int)(h % 50), gr = 80 + (int)((h >> 8) % 130), b = (int)((h >> 16) % 55);
    fprintf(g->out, "<g><title>");
    buf_fput_xml_escaped(g->out, name, nl);
    fprintf(g->out, " (c %.3g CPU s/s per N², %.1f%% of the super-linear term)</title>\n", c,
            100.0 * c / g->total);
    fprintf(g->out,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"rgb(%d,%d,%d)\" "
            "rx=\"2\" ry=\"2\"/>\n",
            FG_PAD + x * g->scale, y, w, FG_FRAME - 1, r, gr, b);
    size_t fit = (size_t)(w / 7.0);
    if (fit >= 3) {
        fprintf(g->out, "<text x=\"%.1f\" y=\"%.1f\">", FG_PAD + x * g->scale + 3, y + 12);
        if (nl <= fit) {
            buf_fput_xml_escaped(g->out, name, nl);
        } else {
            buf_fput_xml_escaped(g->out, name, fit - 2);
            fputs("..", g->out);
        }
        fputs("</text>\n", g->out);
    }
    fputs("</g>\n", g->out);
}

/* Draws the frames at depth over paths[lo, hi) (sorted, sharing frames
 * 0..depth-1), starting at x (in units of c), then recurses one level up. */
static void fg_layout(struct fg *g, struct fg_path **paths, size_t lo, size_t hi, size_t depth,
                      double x)
{
    size_t i = lo;
    while (i < hi) {
        const struct fg_path *p = paths[i];
        if (p->depth <= depth) {
            x += p->c; /* the path ends below: its c is self time of the parent */
            i++;
            continue;
        }
        const char *name = p->frame[depth];
        size_t nl = p->len[depth];
        double w = 0;
        size_t j = i;
        while (j < hi && paths[j]->depth > depth && paths[j]->len[depth] == nl &&
               memcmp(paths[j]->frame[depth], name, nl) == 0)
            w += paths[j++]->c;
        fg_rect(g, name, nl, x, depth, w);
        fg_layout(g, paths, i, j, depth + 1, x);
        x += w;
        i = j;
    }
}

int attribution_write_flamegraph(const struct attribution *a, const char *path, const char *title,
                                 struct buf *err)
{
    size_t n = 0, maxdepth = 0;
    struct fg_path *store = calloc(a->npaths ? a->npaths : 1, sizeof(*store));
    struct fg_path **sorted = calloc(a->npaths ? a->npaths : 1, sizeof(*sorted));
    if (!store || !sorted) {
        free(store);
        free(sorted);
        buf_printf(err, "%s: out of memory", path);
        return -1;
    }
    double total = 0;
    for (size_t i = 0; i < a->npaths; i++) {
        if (!(a->paths[i].fit.c > 0))
            continue;
        struct fg_path *p = &store[n];
        p->stack = a->paths[i].stack;
        p->c = a->paths[i].fit.c;
        for (const char *s = p->stack; *s && p->depth < FG_MAX_DEPTH;) {
            size_t l = strcspn(s, ";");
            p->frame[p->depth] = s;
            p->len[p->depth++] = l;
            s += l + (s[l] == ';');
        }
        if (p->depth > maxdepth)
            maxdepth = p->depth;
        total += p->c;
        sorted[n++] = p;
    }
    qsort(sorted, n, sizeof(*sorted), fg_cmp);
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *out = fopen(tmp, "w");
    if (!out) {
        free(store);
        free(sorted);
        buf_printf(err, "%s: cannot write", tmp);
        return -1;
    }
    struct fg g = {out, total, total > 0 ? (FG_WIDTH - 2 * FG_PAD) / total : 0,
                   FG_TOP + (double)(maxdepth + 1) * FG_FRAME + FG_PAD};
    fprintf(out,
            "<?xml version=\"1.0\" standalone=\"no\"?>\n"
            "<svg version=\"1.1\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
            "xmlns=\"http://www.w3.org/2000/svg\">\n"
            "<style>text { font-family: monospace; font-size: 12px; fill: #000; } "
            "rect:hover { stroke: #000; stroke-width: 0.5; }</style>\n"
            "<rect x=\"0\" y=\"0\" width=\"100%%\" height=\"100%%\" fill=\"#f8f8f0\"/>\n"
            "<text x=\"%.0f\" y=\"24\" text-anchor=\"middle\" style=\"font-size:16px\">",
            FG_WIDTH, g.height, FG_WIDTH, g.height, FG_WIDTH / 2);
    const char *t = title ? title : "scaling flame graph";
    buf_fput_xml_escaped(out, t, strlen(t));
    fprintf(out, " — widths: super-linear term c by call path</text>\n");
    if (n == 0)
        fprintf(out,
                "<text x=\"%.0f\" y=\"%.0f\">no call path has a positive c: nothing grows "
                "faster than linearly</text>\n",
                FG_PAD, FG_TOP + 12);
    else
        fg_layout(&g, sorted, 0, n, 0, 0);
    fputs("</svg>\n", out);
    free(store);
    free(sorted);
    if (fclose(out) != 0 || rename(tmp, path) != 0) {
        buf_printf(err, "%s: write failed", path);
        return -1;
    }
    return 0;
}
