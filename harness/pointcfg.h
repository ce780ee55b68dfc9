/*
 * pointcfg: what the sweep needs to know about a target config, and the one
 * rewrite it makes (--load points every service at the harness's origin).
 * Works for refproxy and tsnsrv configs alike: prometheusAddr at the top,
 * services: [{name, listenAddr, upstream|respond}].
 *
 * Errors are malloc'd messages naming the file (and line where libyaml knows it).
 */
#ifndef SCALEPROF_POINTCFG_H
#define SCALEPROF_POINTCFG_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct pointcfg {
    char *admin;       /* admin host:port (prometheusAddr; default 127.0.0.1:9099) */
    bool heap_profile; /* heapProfile: true */
    size_t num_services;
    char **listen; /* per service, host:port to send requests to; NULL when unknown */
};

char *pointcfg_read(const char *path, struct pointcfg *pc);
void pointcfg_free(struct pointcfg *pc);
/* Writes the config at path to out with every service's respond/upstream
 * replaced by `upstream: upstream_url`. */
char *pointcfg_rewrite_upstream(const char *path, const char *upstream_url, struct buf *out);

#endif
