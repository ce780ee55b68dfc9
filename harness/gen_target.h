/*
 * gen_target: what `scaleprof gen` knows about one kind of target, as a
 * struct of facts and callbacks (h2o's handler shape). Each target is one
 * gen_<name>.c defining one `const struct gen_target`; gen_targets.c lists
 * them; gen.c, gen_keys.c and the point file loop over that table and never
 * ask which target they hold. Adding a target is a new file and one line in
 * gen_targets.c.
 *
 * gen decides the facts every target shares (struct gen_point: count, listen
 * host and ports, admin address, upstream, scratch folder) from the options
 * and the target's defaults; the target's write callback turns them into its
 * config language, and gen records them beside the config (pointfile.h) so
 * the sweep never parses that language.
 *
 * Errors are malloc'd messages (the caller frees them), NULL on success.
 */
#ifndef SCALEPROF_GEN_TARGET_H
#define SCALEPROF_GEN_TARGET_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct gen_options;

enum gen_key_kind { K_STRING, K_BOOL, K_UINT, K_DURATION, K_ENUM, K_ADDR, K_URL };

/* One settable key (`gen --set key=value`). */
struct gen_key {
    const char *key;
    enum gen_key_kind kind;
    const char *choices; /* K_ENUM: '|'-separated */
    long min, max;       /* K_UINT */
};

/* The facts of one config, decided by gen.c before the target writes it. */
struct gen_point {
    int n;             /* services; service i (1-based) is named svc<i> */
    const char *host;  /* every service listens on host:(base_port + i) */
    int base_port;     /* also the default upstream's port: no service uses it */
    const char *admin; /* admin host:port, or NULL when the target serves none */
    /* The URL every service proxies to, or NULL (refproxy's services then
     * answer by themselves). When it parses as http://HOST:PORT[/],
     * upstream_host/upstream_port hold its parts, else "" and 0. */
    const char *upstream;
    char upstream_host[256];
    int upstream_port;
    const char *dir;            /* absolute scratch folder for pid, temp and log files, or NULL */
    char default_upstream[300]; /* storage behind upstream when gen made it up */
};

/* flags */
enum {
    GEN_T_ADMIN_ALWAYS = 1u << 0, /* always serves its admin endpoint: --admin none is refused */
    GEN_T_ADMIN_NEVER = 1u << 1,  /* serves none: --admin ADDR is refused */
    GEN_T_PPROF = 1u << 2,        /* serves /debug/pprof/ at its admin address, when it has one */
    GEN_T_PROXY = 1u << 3,        /* services proxy; default upstream http://HOST:BASE_PORT */
    GEN_T_SCRATCH = 1u << 4,      /* needs a scratch folder (gen_point.dir) */
    GEN_T_LISTEN_ELSEWHERE = 1u << 5, /* services are not on host:port (tsnsrv: the tailnet) */
};

struct gen_target {
    const char *name;      /* --target NAME; "target" in the point file */
    const char *ext;       /* configs are <N>_services.<ext> (the template's own overrides) */
    const char *format;    /* "format" in the point file: "refproxy-yaml" is the one the sweep
                              can read and rewrite itself (pointcfg.c) */
    const char *command;   /* default command template with {config}, or NULL (the sweep's own) */
    const char *admin;     /* default admin host:port, or NULL for none */
    const char *admin_key; /* a --set key that is the admin address (prometheusAddr), or NULL */
    const char *heap_key;  /* a --set key whose "true" turns heap profiling on, or NULL */
    const char *upstream;  /* default upstream URL, or NULL (then GEN_T_PROXY's, or none) */
    unsigned flags;
    /* The settable keys, ending with a NULL key; NULL when out of memory. */
    const struct gen_key *(*keys)(void);
    /* Optional: a short name for a key ("portlist" → "tasks.portlist.mode",
     * written into buf), or NULL when key is not one. */
    const char *(*alias)(const char *key, char *buf, size_t size);
    /* Optional: lines appended to --list-keys (the aliases). */
    void (*list_extra)(struct buf *out);
    /* Optional: load what write needs into o->state (the template), once,
     * after the options are parsed and the admin address is known. An error
     * here is a usage error (exit 2). */
    char *(*prepare)(struct gen_options *o);
    void (*release)(struct gen_options *o);
    /* Optional: the config file extension when it depends on the options. */
    const char *(*config_ext)(const struct gen_options *o);
    /* Writes the config for pt into out. */
    char *(*write)(const struct gen_options *o, const struct gen_point *pt, struct buf *out);
};

/* Every target, NULL-terminated, in the order --help lists them. */
extern const struct gen_target *const gen_targets[];
extern const struct gen_target gen_target_refproxy, gen_target_tsnsrv, gen_target_nginx,
    gen_target_haproxy, gen_target_caddy, gen_target_template;

/* The target called name, or NULL. */
const struct gen_target *gen_target_find(const char *name);
/* The value of the last --set of key in o, or NULL. */
const char *gen_setting(const struct gen_options *o, const char *key);
/* "http://HOST:PORT" with an optional "/" → host (brackets kept for IPv6)
 * and port. 0 ok, -1 otherwise. */
int gen_parse_url(const char *url, char *host, size_t size, int *port);

#endif
