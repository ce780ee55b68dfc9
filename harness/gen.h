/*
 * gen: `scaleprof gen` — one target config per service count, and beside
 * each a point file (pointfile.h) recording what the sweep needs to know
 * about it: the command, the admin address, every service's listen address,
 * the upstream.
 *
 * Targets sit behind gen_target.h (one file each: refproxy, tsnsrv, nginx,
 * haproxy, caddy, and any server through a template). The settable keys of
 * each target live in a table (gen_keys.c): --set values are checked against
 * it, so a typo is an error naming the key and its close neighbours, never a
 * config the target silently ignores.
 *
 * Errors are malloc'd messages (the caller frees them), NULL on success.
 */
#ifndef SCALEPROF_GEN_H
#define SCALEPROF_GEN_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "gen_target.h"

struct gen_setting {
    char *key;   /* canonical dotted key, e.g. tasks.portlist.mode or service.timeout */
    char *value; /* as given */
};

struct gen_options {
    const struct gen_target *target;
    struct gen_setting *sets; /* in the order given; a later set of a key wins */
    size_t num_sets;
    int base_port;             /* service i listens on base_port + i; default 18000 */
    const char *host;          /* listen host of every service; NULL: 127.0.0.1 */
    const char *admin;         /* --admin: host:port, "none", or NULL for the target's default */
    const char *template_path; /* --template FILE */
    const char *out_dir;       /* absolute; scratch folders are <out_dir>/<N>_services.d */
    void *state;               /* the target's own, from its prepare callback */
    bool scratch;              /* the config names a scratch folder (set by prepare too) */
};

/* Checks key=value against the target's key table. On success *canon is the
 * canonical key (malloc'd; aliases such as "portlist" become
 * "tasks.portlist.mode"). On failure the message names the key and lists the
 * closest known keys. */
char *gen_check_setting(const struct gen_target *t, const char *key, const char *value,
                        char **canon);
/* Appends the known keys of target t, one per line with their type, to out. */
void gen_list_keys(const struct gen_target *t, struct buf *out);
/* Edit distance between a and b (used for "did you mean"). */
size_t gen_edit_distance(const char *a, const char *b);

/* The facts of the config for n services: admin address, upstream, scratch
 * folder (its path goes to dir, which pt->dir then points at). */
char *gen_plan_point(const struct gen_options *o, int n, struct gen_point *pt, char *dir,
                     size_t dir_size);
/* Renders the config for n services into out (gen_plan_point, then the
 * target's writer). */
char *gen_render(const struct gen_options *o, int n, struct buf *out);
/* The admin address the configs get: --admin, the target's admin key, or its
 * default; NULL when the target serves none. A malloc'd error for an --admin
 * the target cannot honour. */
char *gen_resolve_admin(const struct gen_options *o, const char **admin);

/* A refproxy config whose services answer by themselves (shared
 * architecture, a respond block each): the sweep's --load origin. The one
 * writer behind gen_render writes it, so refproxy's config schema is known in
 * one place. */
struct gen_respond_config {
    const char *comment;    /* the first line, after "# " */
    const char *admin_addr; /* prometheusAddr, e.g. "127.0.0.1:9099" */
    const char *host;       /* services listen on host:ports[i]; NULL: 127.0.0.1 */
    const char *name;       /* service names: name when count is 1, else name1..nameK */
    const int *ports;       /* service i listens on host:ports[i] */
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
