/*
 * gen_yaml: the YAML writer behind refproxy's and tsnsrv's configs. Settings
 * form a small tree of dotted keys emitted with libyaml, so --set can reach
 * any nested key and quoting is libyaml's job. The one writer of both
 * targets' configs and of the sweep's --load origin (gen_render_respond).
 *
 * Errors are malloc'd messages, NULL on success.
 */
#ifndef SCALEPROF_GEN_YAML_H
#define SCALEPROF_GEN_YAML_H

#include <stddef.h>

#include "buf.h"

struct gnode {
    char *name;
    char *value; /* scalar, or NULL for a mapping */
    struct gnode *kids;
    size_t nkids;
};

/* Sets a dotted path under root to value (copied); a scalar replaces a
 * mapping and vice versa (last wins). Aborts when out of memory. */
void gen_yaml_set(struct gnode *root, const char *path, const char *value);
/* Frees what n holds (not n itself). */
void gen_yaml_free(struct gnode *n);

/* Builds service i (1-based) of a config into svc. */
typedef void (*gen_yaml_service)(const void *ctx, int i, struct gnode *svc);

/* The one writer of a config file: "# comment", top's keys in order, then
 * `services:` 1..n, each built, emitted and freed in turn (a config of 10000
 * services never sits in memory as a tree). */
char *gen_yaml_render(const char *comment, const struct gnode *top, int n, gen_yaml_service build,
                      const void *ctx, struct buf *out);

#endif
