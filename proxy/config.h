/*
 * config: refproxy's configuration, loaded from YAML with libyaml.
 *
 * Field names follow tsnsrv's multi-service YAML where the meaning is the same
 * (prometheusAddr, services[].name/upstream/listenAddr/timeout/...), so a
 * tsnsrv config loads; tsnsrv's Tailscale-only fields are warned about once
 * each and ignored. refproxy's own fields (architecture, workers, limits,
 * tasks, respond, heapProfile, admin*) sit beside them. proxy/CONFIG.md is the
 * reference for every field.
 *
 * Ownership: config_load fills *cfg; everything in it is owned by cfg and freed
 * by config_free. A loaded config is read-only afterwards and shared by every
 * thread.
 */
#ifndef REFPROXY_CONFIG_H
#define REFPROXY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

enum architecture {
    ARCH_SHARED,      /* all services on the K workers (default) */
    ARCH_PER_SERVICE, /* a node (own event-loop thread + tasks) per service */
};

enum task_mode {
    TASK_OFF,
    TASK_PER_SERVICE,
    TASK_SHARED,
};

struct task_portlist_config {
    enum task_mode mode;  /* per-service | shared | off */
    uint32_t interval_ms; /* default 1000 */
    bool scope_all;       /* scope: all walks every process's /proc/<pid>/fd; default self */
};

struct task_netmon_config {
    enum task_mode mode;    /* per-service | shared | off */
    uint32_t debounce_ms;   /* default 250 */
    uint32_t restun_min_ms; /* default 20000 */
    uint32_t restun_max_ms; /* default 26000 */
};

struct task_timers_config {
    enum task_mode mode;     /* per-service | off (shared means the same as per-service) */
    uint32_t log_flush_ms;   /* default 2000 */
    uint32_t clock_check_ms; /* default 15000 */
    uint32_t keepalive_ms;   /* default 60000 */
};

struct task_footprint_config {
    enum task_mode mode;   /* per-service | off */
    uint32_t udp_sockets;  /* default 2 (a node's UDP pair) */
    uint32_t tcp_conns;    /* loopback TCP connections to the internal peer; default 3 */
    uint32_t idle_threads; /* blocked worker threads per node; default 8 */
};

struct task_heartbeat_config {
    enum task_mode mode;  /* per-service | off; off by default in every architecture */
    uint32_t interval_ms; /* default 3000 */
};

struct tasks_config {
    struct task_portlist_config portlist;
    struct task_netmon_config netmon;
    struct task_timers_config timers;
    struct task_footprint_config footprint;
    struct task_heartbeat_config heartbeat;
};

struct kv {
    char *name;
    char *value;
};

enum upstream_kind {
    UPSTREAM_HTTP,    /* upstream: http://host:port[/base] */
    UPSTREAM_UNIX,    /* upstreamUnixAddr: /path/to/socket */
    UPSTREAM_RESPOND, /* respond: {status, body, headers} — no upstream */
};

struct service_config {
    char *name;
    int line, column; /* where the service's mapping starts, for messages */

    char *listen_text;              /* as written, or the assigned 127.x.y.z:port */
    struct sockaddr_storage listen; /* resolved numeric address */
    socklen_t listen_len;
    bool listen_auto_assigned; /* host was empty and shared: got its own loopback */

    enum upstream_kind upstream_kind;
    char *upstream_text;              /* the URL or socket path as written */
    char *upstream_host;              /* for the Host header sent upstream */
    struct sockaddr_storage upstream; /* TCP: resolved numeric address; UNIX: sockaddr_un */
    socklen_t upstream_len;
    char *upstream_base_path; /* path part of the upstream URL, "" if none */

    int respond_status; /* respond services */
    char *respond_body;
    size_t respond_body_len;
    struct kv *respond_headers;
    size_t num_respond_headers;

    char **prefixes; /* empty = match everything */
    size_t num_prefixes;
    bool strip_prefix;
    struct kv *upstream_headers; /* added (replacing same-named) to upstream requests */
    size_t num_upstream_headers;

    uint32_t timeout_ms;             /* upstream response timeout; 0 = limits default */
    uint32_t read_header_timeout_ms; /* client header timeout; 0 = limits default */

    struct tasks_config tasks; /* global tasks with this service's overrides applied */
};

struct limits_config {
    uint32_t max_header_bytes;  /* default 65536 → 431 above */
    uint32_t max_request_line;  /* default 8192 → 414 above */
    uint32_t max_headers;       /* default 100 */
    uint32_t header_timeout_ms; /* client must send a head within; default 10000 → 408 */
    uint32_t idle_timeout_ms;   /* keep-alive idle close; default 60000 */
    uint32_t body_timeout_ms;   /* no body progress; default 60000 */
    uint32_t upstream_connect_timeout_ms; /* default 5000 → 502 */
    uint32_t upstream_timeout_ms;         /* response head within; default 60000 → 504 */
    uint32_t
        upstream_idle_per_service; /* idle pooled connections per service per worker; default 32 */
    uint32_t max_connections;      /* client connections per worker; default 16384 */
    uint32_t shutdown_grace_ms;    /* SIGTERM: finish in-flight within; default 10000 */
    uint32_t max_profile_seconds;  /* /debug/pprof/profile cap; default 300 */
};

struct config {
    char *path;

    char *admin_text; /* prometheusAddr; default 127.0.0.1:9099 */
    struct sockaddr_storage admin;
    socklen_t admin_len;
    bool admin_allow_remote; /* adminAllowRemote: needed for a non-loopback admin */
    char *admin_token_file;  /* adminTokenFile: bearer token required when remote */

    enum architecture architecture;
    uint32_t workers;    /* default 1 */
    bool heap_profile;   /* heapProfile: enable gperftools heap profiling */
    uint32_t profile_hz; /* profileHz: CPU profiler frequency; default 100, max 250 */

    struct limits_config limits;
    struct tasks_config tasks; /* global defaults */

    struct service_config *services;
    size_t num_services;
};

/*
 * Loads and validates path. On success returns NULL and *cfg is filled.
 * On failure returns a malloc'd message "file:line:column: what is wrong"
 * (the caller frees it; *cfg is left empty and needs no config_free).
 * Warnings (ignored tsnsrv fields, auto-assigned loopback addresses) go to
 * warn (stderr when NULL), one line each, also as file:line:column.
 */
char *config_load(const char *path, struct config *cfg, FILE *warn);
void config_free(struct config *cfg);

/* Defaults applied before the file is read; exposed for tests and tools. */
void config_defaults(struct config *cfg);
void config_tasks_defaults(struct tasks_config *t, enum architecture arch);

const char *task_mode_name(enum task_mode m);
const char *architecture_name(enum architecture a);

#endif
