/*
 * task_spec: what is known about each background task without running it —
 * its name, its config keys (type, default, range) and checks, and the prefix
 * of the functions that run it. Pure data: the config loader
 * (config_yaml.c, config.c) reads `tasks.<name>.*` through it, tasks.c starts
 * the task's descriptor (task.h) by it, and `scaleprof gen` builds its
 * `tasks.*` keys from it, so it has no dependency on refproxy's runtime (no
 * loop, no threads): harness links task_specs.c on its own.
 *
 * Every task's config is a struct inside struct tasks_config (config.h) whose
 * first member is `enum task_mode mode`; a spec names that struct by offset and
 * its other keys by offsets inside it. The mode key is implicit: every task
 * has one, listed first.
 */
#ifndef REFPROXY_TASK_SPEC_H
#define REFPROXY_TASK_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"

/*
 * Every task, once, in the order its keys are listed (config errors, `gen
 * --list-keys`) and its instances start on a node. X(name) refers to
 * `<name>_spec` (task_specs.c) and `<name>_desc` (the task's own file).
 * Adding a task is its spec, its file, its config struct in config.h and one
 * X(name) here.
 */
#define TASK_LIST(X) X(portlist) X(netmon) X(timers) X(footprint) X(heartbeat)

#define TASK_ID_(name) TASK_ID_##name,
enum task_id { TASK_LIST(TASK_ID_) TASK_COUNT };
#undef TASK_ID_

/* The modes a task accepts, as bits of enum task_mode. */
#define TASK_MODES_ALL ((1u << TASK_OFF) | (1u << TASK_PER_SERVICE) | (1u << TASK_SHARED))
#define TASK_MODES_NODE ((1u << TASK_OFF) | (1u << TASK_PER_SERVICE))

enum task_key_kind {
    TASK_KEY_DURATION, /* Go duration or seconds, kept in ms (uint32_t); min = shortest ms */
    TASK_KEY_COUNT,    /* integer in min..max (uint32_t) */
    TASK_KEY_CHOICE,   /* one of choices, kept as its index (bool or uint32_t, by size) */
};

struct task_key {
    const char *name; /* under tasks.<task>: "interval" */
    enum task_key_kind kind;
    size_t off, size;           /* the field inside the task's config struct */
    uint32_t dflt;              /* ms, count or choice index */
    uint32_t min, max;          /* DURATION: min only; COUNT: the range */
    const char *const *choices; /* CHOICE: NULL-terminated */
};

struct task_spec {
    const char *name;            /* tasks.<name>, task="<name>" in /metrics, "shared/<name>" */
    const char *entry_prefix;    /* names of the functions that run it ("portlist_"); NULL: none */
    unsigned modes;              /* TASK_MODES_ALL or TASK_MODES_NODE */
    bool shared_means_node;      /* "shared" accepted but kept as per-service (not advertised) */
    bool default_on;             /* per-service by default in the per-service architecture */
    size_t config_off;           /* its struct in struct tasks_config */
    const struct task_key *keys; /* after the implicit mode key */
    size_t nkeys;
    /* Checks keys against each other once all are set (NULL: nothing to
     * check). 0, or -1 with a message (without the "tasks.<name>: " prefix)
     * in msg. */
    int (*check)(const void *config, char *msg, size_t cap);
};

#define TASK_SPEC_DECLARE_(name) extern const struct task_spec name##_spec;
TASK_LIST(TASK_SPEC_DECLARE_)
#undef TASK_SPEC_DECLARE_

/* Every spec, in TASK_LIST order (index = enum task_id). */
extern const struct task_spec *const task_specs[TASK_COUNT];

/* The spec named name, or NULL. */
const struct task_spec *task_spec_find(const char *name);
/* Slots number every key of every task (each task's mode, then its keys) from
 * 0, in TASK_LIST order; config.c records which keys a file set as bits of a
 * mask by slot. key -1 is the task's mode. */
size_t task_spec_slot(enum task_id task, int key);
size_t task_spec_slots(void);

/* The task's config struct inside t, and its mode. */
static inline const void *task_spec_config(const struct task_spec *s, const struct tasks_config *t)
{
    return (const char *)t + s->config_off;
}
static inline enum task_mode task_spec_mode(const struct task_spec *s, const struct tasks_config *t)
{
    enum task_mode m;
    memcpy(&m, task_spec_config(s, t), sizeof m);
    return m;
}

/* Stores v into the key's field of config (sized by the key: 1 byte for a
 * bool, 4 for uint32_t), and reads it back. */
void task_key_put(const struct task_key *k, void *config, uint32_t v);
uint32_t task_key_get(const struct task_key *k, const void *config);

/* The words a mode key accepts (as advertised: "per-service", "shared",
 * "off"), as "a, b or c" when sep is NULL, else joined with sep. Writes into
 * out (cap bytes, always terminated). */
void task_spec_mode_words(const struct task_spec *s, const char *sep, char *out, size_t cap);
void task_key_choice_words(const struct task_key *k, const char *sep, char *out, size_t cap);

#endif
