/* pointcfg: reading the facts the sweep needs from a refproxy/tsnsrv YAML config, and the
 * --load rewrite. The point file (pointfile.c) fills the same struct for any target. */
#include "pointcfg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static char *load_doc(const char *path, yaml_document_t *doc)
{
    FILE *f = fopen(path, "rb");
    char *msg = NULL;
    if (!f) {
        if (asprintf(&msg, "%s: cannot open", path) < 0)
            msg = NULL;
        return msg ? msg : strdup("cannot open config");
    }
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    int ok = yaml_parser_load(&p, doc);
    if (!ok && asprintf(&msg, "%s:%zu:%zu: %s", path, p.problem_mark.line + 1,
                        p.problem_mark.column + 1, p.problem ? p.problem : "invalid YAML") < 0)
        msg = NULL;
    yaml_parser_delete(&p);
    fclose(f);
    if (!ok)
        return msg ? msg : strdup("invalid YAML");
    yaml_node_t *root = yaml_document_get_root_node(doc);
    if (!root || root->type != YAML_MAPPING_NODE) {
        yaml_document_delete(doc);
        if (asprintf(&msg, "%s: the top level is not a mapping", path) < 0)
            msg = NULL;
        return msg ? msg : strdup("bad config");
    }
    return NULL;
}

static const char *scalar(yaml_document_t *doc, int id)
{
    yaml_node_t *n = yaml_document_get_node(doc, id);
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* The value node id of key in mapping node id, 0 when absent. */
static int lookup(yaml_document_t *doc, int map_id, const char *key)
{
    yaml_node_t *m = yaml_document_get_node(doc, map_id);
    if (!m || m->type != YAML_MAPPING_NODE)
        return 0;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        const char *k = scalar(doc, p->key);
        if (k && !strcmp(k, key))
            return p->value;
    }
    return 0;
}

char *pointcfg_connect_addr(const char *addr)
{
    if (!addr)
        return NULL;
    char *out = NULL;
    /* ":port" and "0.0.0.0:port" listen everywhere, loopback included */
    if (addr[0] == ':') {
        if (asprintf(&out, "127.0.0.1%s", addr) < 0)
            out = NULL;
    } else if (!strncmp(addr, "0.0.0.0:", 8)) {
        if (asprintf(&out, "127.0.0.1%s", addr + 7) < 0)
            out = NULL;
    } else {
        out = strdup(addr);
    }
    return out;
}

char *pointcfg_read(const char *path, struct pointcfg *pc)
{
    memset(pc, 0, sizeof *pc);
    yaml_document_t doc;
    char *err = load_doc(path, &doc);
    if (err)
        return err;
    int root = 1; /* the root node's id */
    const char *admin = scalar(&doc, lookup(&doc, root, "prometheusAddr"));
    pc->admin = pointcfg_connect_addr(admin ? admin : "127.0.0.1:9099");
    const char *heap = scalar(&doc, lookup(&doc, root, "heapProfile"));
    pc->heap_profile = heap && !strcmp(heap, "true");
    pc->pprof = true; /* refproxy's, and what the sweep assumes of a config it cannot ask */
    yaml_node_t *svcs = yaml_document_get_node(&doc, lookup(&doc, root, "services"));
    if (svcs && svcs->type == YAML_SEQUENCE_NODE) {
        size_t n = (size_t)(svcs->data.sequence.items.top - svcs->data.sequence.items.start);
        pc->listen = calloc(n ? n : 1, sizeof *pc->listen);
        pc->num_services = n;
        for (size_t i = 0; i < n && pc->listen; i++) {
            int svc = svcs->data.sequence.items.start[i];
            pc->listen[i] = pointcfg_connect_addr(scalar(&doc, lookup(&doc, svc, "listenAddr")));
        }
    }
    yaml_document_delete(&doc);
    return NULL;
}

void pointcfg_free(struct pointcfg *pc)
{
    for (size_t i = 0; i < pc->num_services; i++) {
        if (pc->listen)
            free(pc->listen[i]);
        if (pc->names)
            free(pc->names[i]);
    }
    free(pc->listen);
    free(pc->names);
    free(pc->admin);
    free(pc->upstream);
    free(pc->target);
    free(pc->format);
    free(pc->command);
    free(pc->config);
    free(pc->scratch_dir);
    memset(pc, 0, sizeof *pc);
}

static int write_to_buf(void *data, unsigned char *bytes, size_t size)
{
    return buf_append(data, bytes, size) == 0;
}

char *pointcfg_rewrite_upstream(const char *path, const char *upstream_url, struct buf *out)
{
    yaml_document_t doc;
    char *err = load_doc(path, &doc);
    if (err)
        return err;
    int seq_id = lookup(&doc, 1, "services");
    yaml_node_t *svcs = yaml_document_get_node(&doc, seq_id);
    size_t n = svcs && svcs->type == YAML_SEQUENCE_NODE
                   ? (size_t)(svcs->data.sequence.items.top - svcs->data.sequence.items.start)
                   : 0;
    for (size_t i = 0; i < n; i++) {
        /* adding nodes may move the node array: look everything up again each time */
        svcs = yaml_document_get_node(&doc, seq_id);
        int svc_id = svcs->data.sequence.items.start[i];
        int key_id = yaml_document_add_scalar(&doc, NULL, (yaml_char_t *)"upstream", -1,
                                              YAML_PLAIN_SCALAR_STYLE);
        int val_id = yaml_document_add_scalar(&doc, NULL, (yaml_char_t *)upstream_url, -1,
                                              YAML_PLAIN_SCALAR_STYLE);
        yaml_node_t *m = yaml_document_get_node(&doc, svc_id);
        if (!m || m->type != YAML_MAPPING_NODE)
            continue;
        bool placed = false;
        for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
             p++) {
            const char *k = scalar(&doc, p->key);
            if (k && (!strcmp(k, "respond") || !strcmp(k, "upstream") ||
                      !strcmp(k, "upstreamUnixAddr"))) {
                p->key = key_id;
                p->value = val_id;
                placed = true;
                break; /* a valid service has only one of the three */
            }
        }
        if (!placed)
            yaml_document_append_mapping_pair(&doc, svc_id, key_id, val_id);
    }
    buf_printf(out, "# rewritten by scaleprof sweep --load: every service proxies to %s\n",
               upstream_url);
    yaml_emitter_t em;
    yaml_emitter_initialize(&em);
    yaml_emitter_set_output(&em, write_to_buf, out);
    yaml_emitter_set_width(&em, 100);
    int ok = yaml_emitter_open(&em) && yaml_emitter_dump(&em, &doc) && yaml_emitter_close(&em);
    if (!ok && asprintf(&err, "%s: cannot re-emit: %s", path,
                        em.problem ? em.problem : "output too large") < 0)
        err = NULL;
    yaml_emitter_delete(&em); /* yaml_emitter_dump has destroyed doc, even on failure */
    return ok ? NULL : (err ? err : strdup("cannot re-emit the config"));
}
