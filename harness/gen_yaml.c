/* gen_yaml: the settings tree and the libyaml emitter refproxy's and tsnsrv's configs share. */
#include "gen_yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static struct gnode *node_child(struct gnode *n, const char *name, size_t len)
{
    for (size_t i = 0; i < n->nkids; i++)
        if (strlen(n->kids[i].name) == len && !strncmp(n->kids[i].name, name, len))
            return &n->kids[i];
    struct gnode *grown = realloc(n->kids, (n->nkids + 1) * sizeof *grown);
    if (!grown)
        abort();
    n->kids = grown;
    struct gnode *c = &n->kids[n->nkids++];
    *c = (struct gnode){.name = strndup(name, len)};
    return c;
}

void gen_yaml_set(struct gnode *root, const char *path, const char *value)
{
    struct gnode *n = root;
    for (;;) {
        const char *dot = strchr(path, '.');
        size_t len = dot ? (size_t)(dot - path) : strlen(path);
        n = node_child(n, path, len);
        if (!dot)
            break;
        free(n->value);
        n->value = NULL;
        path = dot + 1;
    }
    for (size_t i = 0; i < n->nkids; i++)
        gen_yaml_free(&n->kids[i]);
    free(n->kids);
    n->kids = NULL;
    n->nkids = 0;
    free(n->value);
    n->value = strdup(value);
}

void gen_yaml_free(struct gnode *n)
{
    for (size_t i = 0; i < n->nkids; i++)
        gen_yaml_free(&n->kids[i]);
    free(n->kids);
    free(n->name);
    free(n->value);
}

static int emit_scalar(yaml_emitter_t *em, const char *s)
{
    yaml_event_t ev;
    /* A line break reads best escaped ("ok\n"); libyaml's own choice would
     * fold it into a multi-line single-quoted block. */
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
                                 strchr(s, '\n') ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                                                 : YAML_ANY_SCALAR_STYLE);
    return yaml_emitter_emit(em, &ev);
}

static int emit_node(yaml_emitter_t *em, const struct gnode *n)
{
    if (n->value && n->nkids == 0)
        return emit_scalar(em, n->value);
    yaml_event_t ev;
    yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
    if (!yaml_emitter_emit(em, &ev))
        return 0;
    for (size_t i = 0; i < n->nkids; i++)
        if (!emit_scalar(em, n->kids[i].name) || !emit_node(em, &n->kids[i]))
            return 0;
    yaml_mapping_end_event_initialize(&ev);
    return yaml_emitter_emit(em, &ev);
}

static int write_to_buf(void *data, unsigned char *bytes, size_t size)
{
    return buf_append(data, bytes, size) == 0;
}

char *gen_yaml_render(const char *comment, const struct gnode *top, int n, gen_yaml_service build,
                      const void *ctx, struct buf *out)
{
    buf_printf(out, "# %s\n", comment);
    yaml_emitter_t em;
    yaml_event_t ev;
    yaml_emitter_initialize(&em);
    yaml_emitter_set_output(&em, write_to_buf, out);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, 100);
    int ok = 1;
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    ok = ok && yaml_emitter_emit(&em, &ev);
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    ok = ok && yaml_emitter_emit(&em, &ev);
    yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
    ok = ok && yaml_emitter_emit(&em, &ev);
    for (size_t i = 0; ok && i < top->nkids; i++)
        ok = emit_scalar(&em, top->kids[i].name) && emit_node(&em, &top->kids[i]);
    ok = ok && emit_scalar(&em, "services");
    yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
    ok = ok && yaml_emitter_emit(&em, &ev);
    for (int i = 1; ok && i <= n; i++) {
        struct gnode svc = {0};
        build(ctx, i, &svc);
        ok = emit_node(&em, &svc);
        gen_yaml_free(&svc);
    }
    yaml_sequence_end_event_initialize(&ev);
    ok = ok && yaml_emitter_emit(&em, &ev);
    yaml_mapping_end_event_initialize(&ev);
    ok = ok && yaml_emitter_emit(&em, &ev);
    yaml_document_end_event_initialize(&ev, 1);
    ok = ok && yaml_emitter_emit(&em, &ev);
    yaml_stream_end_event_initialize(&ev);
    ok = ok && yaml_emitter_emit(&em, &ev);
    ok = ok && yaml_emitter_flush(&em);
    char *err = NULL;
    if (!ok && asprintf(&err, "yaml emitter: %s", em.problem ? em.problem : "output too large") < 0)
        err = NULL;
    yaml_emitter_delete(&em);
    return ok ? NULL : (err ? err : strdup("yaml emitter failed"));
}
