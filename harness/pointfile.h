/*
 * pointfile: the file gen writes beside each config, <N>_services.point.json,
 * recording what the sweep needs to run and reach that point without parsing
 * the target's config language: the target and its command, the admin
 * address (or null), whether it serves pprof there, every service's name and
 * listen address, and the upstream the services proxy to. The sweep reads it
 * when present and falls back to reading the config as refproxy YAML
 * (pointcfg_read) when not. One writer and one reader, both here, so the
 * schema lives in one place (harness/README.md documents it):
 *
 *   {"scaleprof_point": 1, "target": "nginx", "format": "nginx",
 *    "config": "3_services.conf", "command": "nginx -e stderr -c {config}",
 *    "admin": null, "pprof": false, "heap_profile": false,
 *    "upstream": "http://127.0.0.1:18000", "scratch_dir": "/abs/3_services.d",
 *    "services": [{"name": "svc1", "listen": "127.0.0.1:18001"}, ...]}
 *
 * Errors are malloc'd messages naming the file and the field (and
 * line:column for malformed JSON), NULL on success.
 */
#ifndef SCALEPROF_POINTFILE_H
#define SCALEPROF_POINTFILE_H

#include "buf.h"
#include "pointcfg.h"

/* <N> + this is a point file's name. */
#define POINTFILE_SUFFIX "_services.point.json"
/* The version this code writes and reads. */
#define POINTFILE_VERSION 1

/* Writes pc (target, format and config set; the rest may be NULL) as JSON. */
char *pointfile_render(const struct pointcfg *pc, struct buf *out);
/* Reads the point file at path into pc, whose strings and arrays are then
 * malloc'd (free with pointcfg_free; on error pc is left empty). Listen and
 * admin addresses come back as addresses to connect to (pointcfg_connect_addr). */
char *pointfile_read(const char *path, struct pointcfg *pc);

#endif
