/*
 * task_specs: the spec of every background task (task_spec.h) — config keys
 * with defaults and ranges, cross-key checks, entry-function prefix. Pure data
 * and pure functions, linked by the config loader, by the tasks and by
 * `scaleprof gen`; CONFIG.md documents the same keys for users.
 */
#include <stdio.h>

#include "task_spec.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define FIELD(type, f) offsetof(type, f), sizeof(((type *)0)->f)

/* A task's config struct starts with its mode (task_spec.h). */
#define STARTS_WITH_MODE(type) _Static_assert(offsetof(type, mode) == 0, #type " starts with mode")

static const char *const scope_words[] = {"self", "all", NULL};

/* ---- portlist: the /proc/net poller (portlist.c) ---- */

static const struct task_key portlist_keys[] = {
    {"interval", TASK_KEY_DURATION, FIELD(struct task_portlist_config, interval_ms), 1000, 1, 0,
     NULL},
    {"scope", TASK_KEY_CHOICE, FIELD(struct task_portlist_config, scope_all), 0, 0, 0, scope_words},
};

const struct task_spec portlist_spec = {
    .name = "portlist",
    .entry_prefix = "portlist_", /* portlist_tick → portlist_poll, portlist_parse, … */
    .modes = TASK_MODES_ALL,
    .default_on = true,
    .config_off = offsetof(struct tasks_config, portlist),
    .keys = portlist_keys,
    .nkeys = COUNT(portlist_keys),
};
STARTS_WITH_MODE(struct task_portlist_config);

/* ---- netmon: the NETLINK_ROUTE monitor (netmon.c) ---- */

static const struct task_key netmon_keys[] = {
    {"debounce", TASK_KEY_DURATION, FIELD(struct task_netmon_config, debounce_ms), 250, 0, 0, NULL},
    {"restunMin", TASK_KEY_DURATION, FIELD(struct task_netmon_config, restun_min_ms), 20000, 1, 0,
     NULL},
    {"restunMax", TASK_KEY_DURATION, FIELD(struct task_netmon_config, restun_max_ms), 26000, 1, 0,
     NULL},
};

static int netmon_check(const void *config, char *msg, size_t cap)
{
    const struct task_netmon_config *c = config;
    if (c->restun_min_ms <= c->restun_max_ms)
        return 0;
    snprintf(msg, cap, "restunMin (%u ms) is greater than restunMax (%u ms)", c->restun_min_ms,
             c->restun_max_ms);
    return -1;
}

const struct task_spec netmon_spec = {
    .name = "netmon",
    .entry_prefix = "netmon_", /* netmon_readable, netmon_debounced, netmon_restun */
    .modes = TASK_MODES_ALL,
    .default_on = true,
    .config_off = offsetof(struct tasks_config, netmon),
    .keys = netmon_keys,
    .nkeys = COUNT(netmon_keys),
    .check = netmon_check,
};
STARTS_WITH_MODE(struct task_netmon_config);

/* ---- timers: a node's periodic timers (node_timers.c) ---- */

static const struct task_key timers_keys[] = {
    {"logFlush", TASK_KEY_DURATION, FIELD(struct task_timers_config, log_flush_ms), 2000, 1, 0,
     NULL},
    {"clockCheck", TASK_KEY_DURATION, FIELD(struct task_timers_config, clock_check_ms), 15000, 1, 0,
     NULL},
    {"keepalive", TASK_KEY_DURATION, FIELD(struct task_timers_config, keepalive_ms), 60000, 1, 0,
     NULL},
};

const struct task_spec timers_spec = {
    .name = "timers",
    .entry_prefix = "timers_", /* timers_flush, timers_clock, timers_keepalive */
    .modes = TASK_MODES_NODE,
    .shared_means_node = true, /* timers have no shared form: each node keeps its own */
    .default_on = true,
    .config_off = offsetof(struct tasks_config, timers),
    .keys = timers_keys,
    .nkeys = COUNT(timers_keys),
};
STARTS_WITH_MODE(struct task_timers_config);

/* ---- footprint: the sockets and idle threads a node holds (footprint.c) ---- */

static const struct task_key footprint_keys[] = {
    {"udpSockets", TASK_KEY_COUNT, FIELD(struct task_footprint_config, udp_sockets), 2, 0, 64,
     NULL},
    /* 24: calibrated, see proxy/tasks/README.md "Why 24 connections per node" */
    {"tcpConns", TASK_KEY_COUNT, FIELD(struct task_footprint_config, tcp_conns), 24, 0, 1024, NULL},
    {"idleThreads", TASK_KEY_COUNT, FIELD(struct task_footprint_config, idle_threads), 8, 0, 1024,
     NULL},
};

const struct task_spec footprint_spec = {
    .name = "footprint",
    .entry_prefix = NULL, /* holds sockets and threads that never run: no CPU, no counters */
    .modes = TASK_MODES_NODE,
    .default_on = true,
    .config_off = offsetof(struct tasks_config, footprint),
    .keys = footprint_keys,
    .nkeys = COUNT(footprint_keys),
};
STARTS_WITH_MODE(struct task_footprint_config);

/* ---- heartbeat: a per-node wakeup (heartbeat.c) ---- */

static const struct task_key heartbeat_keys[] = {
    {"interval", TASK_KEY_DURATION, FIELD(struct task_heartbeat_config, interval_ms), 3000, 1, 0,
     NULL},
};

const struct task_spec heartbeat_spec = {
    .name = "heartbeat",
    .entry_prefix = "heartbeat_", /* heartbeat_beat */
    .modes = TASK_MODES_NODE,
    .default_on = false,
    .config_off = offsetof(struct tasks_config, heartbeat),
    .keys = heartbeat_keys,
    .nkeys = COUNT(heartbeat_keys),
};
STARTS_WITH_MODE(struct task_heartbeat_config);

/* ---- the table ---- */

#define TASK_SPEC_REF_(name) &name##_spec,
const struct task_spec *const task_specs[TASK_COUNT] = {TASK_LIST(TASK_SPEC_REF_)};

const struct task_spec *task_spec_find(const char *name)
{
    for (size_t i = 0; i < TASK_COUNT; i++)
        if (!strcmp(task_specs[i]->name, name))
            return task_specs[i];
    return NULL;
}

size_t task_spec_slot(enum task_id task, int key)
{
    size_t slot = 0;
    for (size_t i = 0; i < (size_t)task; i++)
        slot += 1 + task_specs[i]->nkeys;
    return slot + (size_t)(key + 1);
}

size_t task_spec_slots(void)
{
    return task_spec_slot(TASK_COUNT, -1);
}

void task_key_put(const struct task_key *k, void *config, uint32_t v)
{
    char *dst = (char *)config + k->off;
    if (k->size == sizeof(bool)) {
        bool b = v != 0;
        memcpy(dst, &b, sizeof b);
    } else {
        memcpy(dst, &v, sizeof v);
    }
}

uint32_t task_key_get(const struct task_key *k, const void *config)
{
    const char *src = (const char *)config + k->off;
    if (k->size == sizeof(bool)) {
        bool b;
        memcpy(&b, src, sizeof b);
        return b;
    }
    uint32_t v;
    memcpy(&v, src, sizeof v);
    return v;
}

/* "a, b or c" (sep NULL) or "a<sep>b<sep>c". */
static void join_words(const char *const *w, size_t n, const char *sep, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && len < cap; i++) {
        const char *s = i == 0 ? "" : sep ? sep : i + 1 == n ? " or " : ", ";
        int r = snprintf(out + len, cap - len, "%s%s", s, w[i]);
        if (r < 0)
            break;
        len += (size_t)r;
    }
}

void task_spec_mode_words(const struct task_spec *s, const char *sep, char *out, size_t cap)
{
    const char *w[3];
    size_t n = 0;
    w[n++] = "per-service";
    if (s->modes & (1u << TASK_SHARED))
        w[n++] = "shared";
    w[n++] = "off";
    join_words(w, n, sep, out, cap);
}

void task_key_choice_words(const struct task_key *k, const char *sep, char *out, size_t cap)
{
    size_t n = 0;
    while (k->choices && k->choices[n])
        n++;
    join_words(k->choices, n, sep, out, cap);
}
