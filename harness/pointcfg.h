/*
 * pointcfg: what the sweep needs to know about one point's config — the
 * admin address, every service's listen address, the upstream, the command —
 * and the one rewrite it makes (--load points every service at the harness's
 * origin).
 *
 * Two sources fill the same struct: the point file gen writes beside each
 * config (pointfile.h; any target, nothing parsed from the target's own
 * language), and, for configs written by hand without one, the config itself
 * read as refproxy/tsnsrv YAML (pointcfg_read: prometheusAddr at the top,
 * services: [{name, listenAddr, upstream|respond}]).
 *
 * Errors are malloc'd messages naming the file (and line where the parser knows it).
 */
#ifndef SCALEPROF_POINTCFG_H
#define SCALEPROF_POINTCFG_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* The format pointcfg_read reads and pointcfg_rewrite_upstream rewrites. */
#define POINTCFG_REFPROXY_YAML "refproxy-yaml"

struct pointcfg {
    char *admin;       /* admin host:port; NULL when the target serves none (point file) */
    bool pprof;        /* it serves /debug/pprof/ at admin */
    bool heap_profile; /* heap profiling is on (heapProfile: true) */
    size_t num_services;
    char **listen;  /* per service, host:port to send requests to; NULL when unknown */
    char **names;   /* per service (point file only; NULL otherwise) */
    char *upstream; /* URL every service proxies to (point file), else NULL */
    /* point file only (NULL otherwise): */
    char *target;      /* "nginx" */
    char *format;      /* "nginx", or POINTCFG_REFPROXY_YAML */
    char *command;     /* command template with {config}, NULL: none of its own */
    char *config;      /* the config's file name, in the point file's folder */
    char *scratch_dir; /* the target's scratch folder, or NULL */
};

/* Reads a refproxy/tsnsrv YAML config (pprof is taken as served). */
char *pointcfg_read(const char *path, struct pointcfg *pc);
void pointcfg_free(struct pointcfg *pc);
/* Writes the config at path to out with every service's respond/upstream
 * replaced by `upstream: upstream_url`. */
char *pointcfg_rewrite_upstream(const char *path, const char *upstream_url, struct buf *out);
/* "127.0.0.1:18001" for a listen address as configs write it (":18001" and
 * "0.0.0.0:18001" listen on loopback too); malloc'd, NULL for NULL. */
char *pointcfg_connect_addr(const char *listen);

#endif
