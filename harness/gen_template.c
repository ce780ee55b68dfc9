/*
 * gen_template: parse a template once into a list of operations (literal
 * text, a value, a block's start and end), then expand it for each service
 * count without looking at the text again. The language is described in
 * gen_template.h; harness/README.md has the user's version.
 */
#include "gen_template.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edit_distance.h"

enum ph {
    PH_NAME,
    PH_INDEX,
    PH_PORT,
    PH_LISTEN,
    PH_SERVICES,
    PH_LISTEN_HOST,
    PH_BASE_PORT,
    PH_UPSTREAM,
    PH_UPSTREAM_HOST,
    PH_UPSTREAM_PORT,
    PH_UPSTREAM_ADDR,
    PH_ADMIN,
    PH_ADMIN_HOST,
    PH_ADMIN_PORT,
    PH_DIR,
    PH_COUNT,
};

static const struct {
    const char *name;
    bool per_service;
    const char *meaning;
} placeholders[PH_COUNT] = {
    [PH_NAME] = {"name", true, "the service's name: svc<index>"},
    [PH_INDEX] = {"index", true, "the service's number, 1..N"},
    [PH_PORT] = {"port", true, "the service's listen port: base port + index"},
    [PH_LISTEN] = {"listen", true, "the service's listen address: <listen_host>:<port>"},
    [PH_SERVICES] = {"services", false, "N, the number of services"},
    [PH_LISTEN_HOST] = {"listen_host", false, "the host every service listens on (--host)"},
    [PH_BASE_PORT] = {"base_port", false, "--base-port (service i listens on base_port + i)"},
    [PH_UPSTREAM] = {"upstream", false, "the URL every service proxies to: http://HOST:PORT"},
    [PH_UPSTREAM_HOST] = {"upstream_host", false, "its host"},
    [PH_UPSTREAM_PORT] = {"upstream_port", false, "its port"},
    [PH_UPSTREAM_ADDR] = {"upstream_addr", false, "its host:port"},
    [PH_ADMIN] = {"admin", false, "the admin host:port (needs --admin)"},
    [PH_ADMIN_HOST] = {"admin_host", false, "its host"},
    [PH_ADMIN_PORT] = {"admin_port", false, "its port"},
    [PH_DIR] = {"dir", false,
                "a scratch folder for the server's pid, temp and log files: "
                "<out>/<N>_services.d, absolute, created by gen"},
};

enum op_kind { OP_TEXT, OP_VALUE, OP_BEGIN, OP_END };

struct op {
    enum op_kind kind;
    size_t off, len; /* OP_TEXT: bytes of the text; OP_BEGIN: len = index of its OP_END */
    enum ph ph;      /* OP_VALUE */
};

struct gen_template {
    char *text;
    struct op *ops;
    size_t nops, cap;
    int first_line[PH_COUNT], first_col[PH_COUNT]; /* 0: never used */
};

static int add_op(struct gen_template *t, struct op op)
{
    if (op.kind == OP_TEXT && op.len == 0)
        return 0;
    /* texts that follow each other in the file (line after line) become one */
    if (op.kind == OP_TEXT && t->nops && t->ops[t->nops - 1].kind == OP_TEXT &&
        t->ops[t->nops - 1].off + t->ops[t->nops - 1].len == op.off) {
        t->ops[t->nops - 1].len += op.len;
        return 0;
    }
    if (t->nops == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct op *grown = realloc(t->ops, cap * sizeof *grown);
        if (!grown)
            return -1;
        t->ops = grown;
        t->cap = cap;
    }
    t->ops[t->nops++] = op;
    return 0;
}

static char *error_at(const char *name, int line, size_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static char *error_at(const char *name, int line, size_t col, const char *fmt, ...)
{
    struct buf b;
    buf_init(&b, 4096);
    buf_printf(&b, "%s:%d:%zu: ", name, line, col);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    char *msg = buf_detach(&b, NULL);
    return msg ? msg : strdup("template error");
}

static bool name_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}

static bool name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-';
}

/* An unknown placeholder's message: the closest known name, the escape. */
static char *unknown_placeholder(const char *file, int line, size_t col, const char *ph, size_t len)
{
    char name[72];
    snprintf(name, sizeof name, "%.*s", (int)(len > 64 ? 64 : len), ph);
    const char *best = NULL;
    size_t best_d = 3; /* suggest only names within 2 edits */
    for (int i = 0; i < PH_COUNT; i++) {
        size_t d = edit_distance_nocase(name, placeholders[i].name);
        if (d < best_d)
            best = placeholders[i].name, best_d = d;
    }
    char hint[96] = "";
    if (best)
        snprintf(hint, sizeof hint, "did you mean {%s}? ", best);
    return error_at(file, line, col,
                    "unknown placeholder {%s}; %sif it is the server's own, write {{%s} "
                    "('{{' writes '{'); scaleprof gen --template FILE --list-keys lists ours",
                    name, hint, name);
}

/* A line holding only a section tag: 1 (*open set), 0 not a tag line, or an error. */
static int tag_line(const char *s, size_t n, bool *open)
{
    if (n == 13 && !memcmp(s, "{{#services}}", 13)) {
        *open = true;
        return 1;
    }
    if (n == 13 && !memcmp(s, "{{/services}}", 13)) {
        *open = false;
        return 1;
    }
    if (n >= 5 && (!memcmp(s, "{{#", 3) || !memcmp(s, "{{/", 3)) && !memcmp(s + n - 2, "}}", 2))
        return -1;
    return 0;
}

/* The ordinary line text[pos..next): literal text, escapes and placeholders. */
static char *parse_line(struct gen_template *t, const char *file, const char *text, size_t pos,
                        size_t line_end, size_t next, int line, bool in_block)
{
    size_t lit = pos;
    for (size_t i = pos; i < next;) {
        if (text[i] == '\0')
            return error_at(file, line, i - pos + 1, "a NUL byte (templates are text)");
        if (text[i] != '{') {
            i++;
            continue;
        }
        if (i + 1 < line_end && text[i + 1] == '{') {
            if (line_end - i >= 13 &&
                (!memcmp(text + i, "{{#services}}", 13) || !memcmp(text + i, "{{/services}}", 13)))
                return error_at(file, line, i - pos + 1, "%.13s must stand alone on its line",
                                text + i);
            /* the escape: the text so far and one '{' */
            if (add_op(t, (struct op){OP_TEXT, lit, i + 1 - lit, 0}) < 0)
                return strdup("out of memory");
            i += 2;
            lit = i;
            continue;
        }
        size_t j = i + 1;
        if (j < line_end && name_start(text[j]))
            while (j < line_end && name_char(text[j]))
                j++;
        if (j == i + 1 || j >= line_end || text[j] != '}') {
            i++; /* a brace of the server's language */
            continue;
        }
        const char *ph = text + i + 1;
        size_t len = j - i - 1;
        int k = 0;
        while (k < PH_COUNT &&
               (strlen(placeholders[k].name) != len || memcmp(placeholders[k].name, ph, len)))
            k++;
        if (k == PH_COUNT)
            return unknown_placeholder(file, line, i - pos + 1, ph, len);
        if (placeholders[k].per_service && !in_block)
            return error_at(file, line, i - pos + 1,
                            "{%s} is per service: use it between {{#services}} and "
                            "{{/services}}",
                            placeholders[k].name);
        if (!t->first_line[k]) {
            t->first_line[k] = line;
            t->first_col[k] = (int)(i - pos + 1);
        }
        if (add_op(t, (struct op){OP_TEXT, lit, i - lit, 0}) < 0 ||
            add_op(t, (struct op){OP_VALUE, 0, 0, (enum ph)k}) < 0)
            return strdup("out of memory");
        i = j + 1;
        lit = i;
    }
    if (add_op(t, (struct op){OP_TEXT, lit, next - lit, 0}) < 0)
        return strdup("out of memory");
    return NULL;
}

char *gen_template_parse(const char *name, const char *text, size_t len, struct gen_template **out)
{
    *out = NULL;
    if (len > GEN_TEMPLATE_MAX) {
        char *msg = NULL;
        if (asprintf(&msg, "%s: larger than %zu MiB", name, GEN_TEMPLATE_MAX >> 20) < 0)
            msg = NULL;
        return msg ? msg : strdup("template too large");
    }
    struct gen_template *t = calloc(1, sizeof *t);
    if (!t || !(t->text = malloc(len + 1))) {
        free(t);
        return strdup("out of memory");
    }
    memcpy(t->text, text, len);
    t->text[len] = '\0';
    text = t->text;
    char *err = NULL;
    int line = 1, open_line = 0;
    size_t open_op = 0;
    for (size_t pos = 0; pos < len && !err; line++) {
        const char *eol = memchr(text + pos, '\n', len - pos);
        size_t line_end = eol ? (size_t)(eol - text) : len, next = eol ? line_end + 1 : len;
        size_t s = pos, e = line_end;
        while (s < e && (text[s] == ' ' || text[s] == '\t'))
            s++;
        while (e > s && (text[e - 1] == ' ' || text[e - 1] == '\t' || text[e - 1] == '\r'))
            e--;
        bool open = false;
        int tag = tag_line(text + s, e - s, &open);
        if (tag < 0) {
            err = error_at(name, line, s - pos + 1,
                           "unknown section %.*s: the one section is {{#services}} ... "
                           "{{/services}}",
                           (int)(e - s > 64 ? 64 : e - s), text + s);
        } else if (tag > 0 && open && open_line) {
            err = error_at(name, line, s - pos + 1,
                           "{{#services}} inside the block opened on line %d (blocks do not "
                           "nest)",
                           open_line);
        } else if (tag > 0 && !open && !open_line) {
            err = error_at(name, line, s - pos + 1, "{{/services}} without {{#services}}");
        } else if (tag > 0 && open) {
            open_line = line;
            open_op = t->nops;
            if (add_op(t, (struct op){OP_BEGIN, 0, 0, 0}) < 0)
                err = strdup("out of memory");
        } else if (tag > 0) {
            open_line = 0;
            t->ops[open_op].len = t->nops;
            if (add_op(t, (struct op){OP_END, 0, 0, 0}) < 0)
                err = strdup("out of memory");
        } else {
            err = parse_line(t, name, text, pos, line_end, next, line, open_line != 0);
        }
        pos = next;
    }
    if (!err && open_line)
        err = error_at(name, open_line, 1, "{{#services}} is never closed by {{/services}}");
    if (err) {
        gen_template_free(t);
        return err;
    }
    *out = t;
    return NULL;
}

bool gen_template_uses(const struct gen_template *t, const char *ph, int *line, int *col)
{
    for (int k = 0; k < PH_COUNT; k++)
        if (!strcmp(placeholders[k].name, ph) && t->first_line[k]) {
            *line = t->first_line[k];
            *col = t->first_col[k];
            return true;
        }
    return false;
}

/* Appends the part of "host:port" before (which 0) or after (1) its last colon. */
static int addr_part(struct buf *out, const char *addr, int which)
{
    if (!addr)
        return 0;
    const char *colon = strrchr(addr, ':');
    if (!colon)
        return which ? 0 : buf_puts(out, addr);
    return which ? buf_puts(out, colon + 1) : buf_append(out, addr, (size_t)(colon - addr));
}

static int put_value(struct buf *out, enum ph ph, const struct gen_point *pt, int i)
{
    switch (ph) {
    case PH_NAME:
        return buf_printf(out, "svc%d", i);
    case PH_INDEX:
        return buf_printf(out, "%d", i);
    case PH_PORT:
        return buf_printf(out, "%d", pt->base_port + i);
    case PH_LISTEN:
        return buf_printf(out, "%s:%d", pt->host, pt->base_port + i);
    case PH_SERVICES:
        return buf_printf(out, "%d", pt->n);
    case PH_LISTEN_HOST:
        return buf_puts(out, pt->host);
    case PH_BASE_PORT:
        return buf_printf(out, "%d", pt->base_port);
    case PH_UPSTREAM:
        return buf_puts(out, pt->upstream ? pt->upstream : "");
    case PH_UPSTREAM_HOST:
        return buf_puts(out, pt->upstream_host);
    case PH_UPSTREAM_PORT:
        return buf_printf(out, "%d", pt->upstream_port);
    case PH_UPSTREAM_ADDR:
        return buf_printf(out, "%s:%d", pt->upstream_host, pt->upstream_port);
    case PH_ADMIN:
        return buf_puts(out, pt->admin ? pt->admin : "");
    case PH_ADMIN_HOST:
        return addr_part(out, pt->admin, 0);
    case PH_ADMIN_PORT:
        return addr_part(out, pt->admin, 1);
    case PH_DIR:
        return buf_puts(out, pt->dir ? pt->dir : "");
    case PH_COUNT:
        break;
    }
    return -1;
}

/* Expands ops[from, to) for service i (0 outside a block). */
static int render_ops(const struct gen_template *t, size_t from, size_t to,
                      const struct gen_point *pt, int i, struct buf *out)
{
    for (size_t k = from; k < to; k++) {
        const struct op *op = &t->ops[k];
        int rc = 0;
        switch (op->kind) {
        case OP_TEXT:
            rc = buf_append(out, t->text + op->off, op->len);
            break;
        case OP_VALUE:
            rc = put_value(out, op->ph, pt, i);
            break;
        case OP_BEGIN:
            for (int s = 1; s <= pt->n && rc == 0; s++)
                rc = render_ops(t, k + 1, op->len, pt, s, out);
            k = op->len; /* past its OP_END */
            break;
        case OP_END:
            break;
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

char *gen_template_render(const struct gen_template *t, const struct gen_point *pt, struct buf *out)
{
    if (render_ops(t, 0, t->nops, pt, 0, out) < 0)
        return strdup("template: the config is larger than the output cap");
    return NULL;
}

void gen_template_free(struct gen_template *t)
{
    if (!t)
        return;
    free(t->text);
    free(t->ops);
    free(t);
}

void gen_template_list(struct buf *out)
{
    buf_puts(out, "placeholders (per service: only between {{#services}} and {{/services}}; "
                  "'{{' writes '{'):\n");
    for (int k = 0; k < PH_COUNT; k++) {
        char name[32];
        snprintf(name, sizeof name, "{%s}", placeholders[k].name);
        buf_printf(out, "  %-32s %s%s\n", name, placeholders[k].per_service ? "per service: " : "",
                   placeholders[k].meaning);
    }
}
