/*
 * conf: csrv's config file. A line-oriented text format (see README.md):
 * header lines `key = value`, then one `[service NAME]` section per service
 * with `port = P` and an optional `upstream = ADDR`. '#' starts a comment
 * line. Small on purpose, so `scaleprof gen --template` can write it.
 */
#ifndef CSRV_CONF_H
#define CSRV_CONF_H

#include <stddef.h>
#include <stdio.h>

#define CONF_NAME_MAX 63
#define CONF_UPSTREAM_MAX 255
#define CONF_SERVICES_MAX 10000
#define CONF_LINE_MAX 1024

struct conf_service {
    char name[CONF_NAME_MAX + 1];
    char upstream[CONF_UPSTREAM_MAX + 1]; /* recorded, never contacted; "" when absent */
    int port;
    int line;      /* of its [service NAME] header, for messages */
    int port_line; /* of its port line; 0 until seen */
};

struct conf {
    long key_bytes;    /* length of every service's key */
    long rounds;       /* compares of the key against each peer per tick */
    long digest_bytes; /* the linear per-service work per tick */
    long interval_ms;  /* tick period */
    long linear_peers; /* peers compared per tick under --linear */
    size_t n;
    struct conf_service *svc; /* n entries, owned; conf_free releases */
};

/* Parses f, named path in messages. 0 on success (out filled; free with
 * conf_free), -1 on error with "PATH:LINE: message" in err (out left empty). */
int conf_parse(FILE *f, const char *path, struct conf *out, char *err, size_t errlen);
/* conf_parse on the file at path; a file that cannot be opened is "PATH: ...". */
int conf_load(const char *path, struct conf *out, char *err, size_t errlen);
void conf_free(struct conf *c);

#endif
