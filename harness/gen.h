/*
 * gen: `scaleprof gen` — one target config per service count.
 *
 * The settable keys of each target live in a table (gen_keys.c): --set values
 * are checked against it, so a typo is an error naming the key and its close
 * neighbours, never a config the target silently ignores. Configs are written
 * with libyaml's emitter, so quoting is always right.
 *
 * Errors are malloc'd messages (the caller frees them), NULL on success.
 */
#ifndef SCALEPROF_GEN_H
#define SCALEPROF_GEN_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

enum gen_target { GEN_REFPROXY, GEN_TSNSRV };

struct gen_setting {
    char *key;   /* canonical dotted key, e.g. tasks.portlist.mode or service.timeout */
    char *value; /* as given */
};

struct gen_options {
    enum gen_target target;
    struct gen_setting *sets; /* in the order given; a later set of a key wins */
    size_t num_sets;
    int base_port; /* service i listens on base_port + i; default 18000 */
};

/* Checks key=value against the target's key table. On success *canon is the
 * canonical key (malloc'd; aliases such as "portlist" become
 * "tasks.portlist.mode"). On failure the message names the key and lists the
 * closest known keys. */
char *gen_check_setting(enum gen_target t, const char *key, const char *value, char **canon);
/* Appends the known keys of target t, one per line with their type, to out. */
void gen_list_keys(enum gen_target t, struct buf *out);
/* Edit distance between a and b (used for "did you mean"). */
size_t gen_edit_distance(const char *a, const char *b);

/* Renders the config for n services (YAML) into out. */
char *gen_render(const struct gen_options *o, int n, struct buf *out);

/* A refproxy config whose services answer by themselves (shared
 * architecture, a respond block each): the sweep's --load origin. The one
 * writer behind gen_render writes it, so refproxy's config schema is known in
 * one place. */
struct gen_respond_config {
    const char *comment;    /* the first line, after "# " */
    const char *admin_addr; /* prometheusAddr, e.g. "127.0.0.1:9099" */
    const char *name;       /* service names: name when count is 1, else name1..nameK */
    const int *ports;       /* service i listens on 127.0.0.1:ports[i] */
    size_t count;           /* 1..65535 */
    int status;             /* respond.status */
    const char *body;       /* respond.body */
};
/* Renders c (YAML) into out. */
char *gen_render_respond(const struct gen_respond_config *c, struct buf *out);

/* "10,20,30" → sorted unique counts; "10..10000[:points]" → geometric series
 * (default 7 points), rounded and deduplicated. *counts is malloc'd. */
char *gen_parse_counts(const char *s, int **counts, size_t *n);
char *gen_parse_geometric(const char *s, int **counts, size_t *n);

/* The subcommand; argv[0] is "gen". Exit 0 ok, 2 usage/validation error,
 * 1 I/O error. */
int cmd_gen(int argc, char **argv);

#endif
