/*
 * tasks: lifecycle of the background tasks (tasks.h), the registry of attached
 * nodes, the shared instances and /metrics output.
 *
 * Every task is a descriptor (task.h) in task_table; this file loops over it
 * and never names a task. A per-service task runs on its node's loop. A shared
 * task runs on its own thread ("shared/<name>") that owns a private loop, so
 * the task code is the same in both modes and only the number of instances
 * changes. Off means no instance: no thread, no timer, no socket, no counter
 * entry.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tasks.h"
#include "tasks_internal.h"
#include "thread.h"

#define TASK_DESC_REF_(name) &name##_desc,
const struct task_desc *const task_table[TASK_COUNT] = {TASK_LIST(TASK_DESC_REF_)};

struct node_tasks {
    struct task_node node; /* node.service points at service */
    char service[64];
    void *inst[TASK_COUNT]; /* NULL: the task does not run on this node */
    struct node_tasks *prev, *next;
};

/* One shared task instance on its own thread and loop. */
struct shared_runner {
    struct task_node node; /* service "shared", no connection */
    pthread_t tid;
    bool running;
    void *inst;
};

static struct {
    pthread_mutex_t lock; /* guards nodes and num_nodes (attach/detach vs metrics) */
    struct node_tasks *nodes;
    size_t num_nodes;
    struct shared_runner shared[TASK_COUNT]; /* running only for tasks set to shared */
    bool global_started[TASK_COUNT];         /* the descriptor's global_start succeeded */
    int log_fd;
} g = {.lock = PTHREAD_MUTEX_INITIALIZER, .log_fd = -1};

void tasks_set_err(char **err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(err, fmt, ap) < 0)
        *err = NULL;
    va_end(ap);
}

int tasks_log_fd(void)
{
    return g.log_fd;
}

static void *shared_main(void *arg)
{
    struct shared_runner *r = arg;
    loop_run(r->node.loop);
    return NULL;
}

static void shared_stop_cb(struct loop *loop, void *data)
{
    loop_stop(loop);
}

/* Stops the thread (if it runs), then the task, on this thread once joined. */
static void shared_stop(enum task_id id)
{
    struct shared_runner *r = &g.shared[id];
    if (r->running) {
        /* Posted rather than loop_stop() directly: works even if loop_run has
         * not started yet. */
        if (loop_post(r->node.loop, shared_stop_cb, NULL) < 0)
            loop_stop(r->node.loop);
        pthread_join(r->tid, NULL);
    }
    task_table[id]->stop(r->inst);
    if (r->node.loop)
        loop_destroy(r->node.loop);
    memset(r, 0, sizeof(*r));
}

static int shared_start(enum task_id id, const struct tasks_config *tc, char **err)
{
    const struct task_desc *d = task_table[id];
    struct shared_runner *r = &g.shared[id];
    char name[32];
    snprintf(name, sizeof(name), "shared/%s", d->spec->name);
    memset(r, 0, sizeof(*r));
    r->node = (struct task_node){.service = "shared", .conn_fd = -1};
    if (!(r->node.loop = loop_create())) {
        tasks_set_err(err, "%s: loop: %s", name, strerror(errno));
        return -1;
    }
    if (!(r->inst = d->start(&r->node, task_spec_config(d->spec, tc), err)))
        goto fail;
    int rc = thread_start(&r->tid, name, 0, shared_main, r);
    if (rc) {
        tasks_set_err(err, "%s: thread: %s", name, strerror(rc));
        goto fail;
    }
    r->running = true;
    return 0;
fail:
    shared_stop(id);
    return -1;
}

/* The tasks_config whose mode for the task is `shared`: the global one if it
 * says so, else the first service that does; NULL when none (or when the task
 * has no shared form). */
static const struct tasks_config *find_shared(const struct config *cfg, const struct task_spec *s)
{
    if (!(s->modes & (1u << TASK_SHARED)))
        return NULL;
    if (task_spec_mode(s, &cfg->tasks) == TASK_SHARED)
        return &cfg->tasks;
    for (size_t i = 0; i < cfg->num_services; i++)
        if (task_spec_mode(s, &cfg->services[i].tasks) == TASK_SHARED)
            return &cfg->services[i].tasks;
    return NULL;
}

/* Whether a node runs its own instance: per-service, or any mode but off for a
 * task without a shared form. */
static bool runs_on_node(const struct task_spec *s, const struct tasks_config *t)
{
    enum task_mode m = task_spec_mode(s, t);
    return (s->modes & (1u << TASK_SHARED)) ? m == TASK_PER_SERVICE : m != TASK_OFF;
}

int tasks_global_start(const struct config *cfg, char **err)
{
    if (err)
        *err = NULL;
    g.log_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (g.log_fd < 0) {
        tasks_set_err(err, "tasks: /dev/null: %s", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < TASK_COUNT; i++) {
        const struct task_desc *d = task_table[i];
        if (d->global_start && d->global_start(cfg, err) < 0)
            goto fail;
        g.global_started[i] = true;
    }
    for (size_t i = 0; i < TASK_COUNT; i++) {
        const struct tasks_config *tc = find_shared(cfg, task_table[i]->spec);
        if (tc && shared_start(i, tc, err) < 0)
            goto fail;
    }
    return 0;
fail:
    tasks_global_stop();
    return -1;
}

void tasks_global_stop(void)
{
    for (size_t i = TASK_COUNT; i-- > 0;)
        shared_stop(i);
    for (size_t i = TASK_COUNT; i-- > 0;) {
        if (g.global_started[i] && task_table[i]->global_stop)
            task_table[i]->global_stop();
        g.global_started[i] = false;
    }
    if (g.log_fd >= 0)
        close(g.log_fd);
    g.log_fd = -1;
    task_stats_clear();
}

/* Stops a node's instances in the reverse of their start order. */
static void node_stop_all(struct node_tasks *nt)
{
    for (size_t i = TASK_COUNT; i-- > 0;) {
        task_table[i]->stop(nt->inst[i]);
        nt->inst[i] = NULL;
    }
}

struct node_tasks *tasks_node_attach(struct loop *loop, const struct config *cfg, size_t index,
                                     char **err)
{
    if (err)
        *err = NULL;
    if (index >= cfg->num_services) {
        tasks_set_err(err, "tasks: service index %zu out of range", index);
        return NULL;
    }
    const struct service_config *sc = &cfg->services[index];
    struct node_tasks *nt = calloc(1, sizeof(*nt));
    if (!nt) {
        tasks_set_err(err, "tasks %s: out of memory", sc->name);
        return NULL;
    }
    snprintf(nt->service, sizeof(nt->service), "%s", sc->name);
    nt->node = (struct task_node){.loop = loop,
                                  .index = index,
                                  .service = nt->service,
                                  .seed = (uint32_t)index + 1,
                                  .conn_fd = -1};
    for (size_t i = 0; i < TASK_COUNT; i++) {
        const struct task_desc *d = task_table[i];
        if (runs_on_node(d->spec, &sc->tasks) &&
            !(nt->inst[i] = d->start(&nt->node, task_spec_config(d->spec, &sc->tasks), err))) {
            node_stop_all(nt);
            free(nt);
            return NULL;
        }
    }

    pthread_mutex_lock(&g.lock);
    nt->next = g.nodes;
    if (g.nodes)
        g.nodes->prev = nt;
    g.nodes = nt;
    g.num_nodes++;
    pthread_mutex_unlock(&g.lock);
    return nt;
}

void tasks_node_detach(struct node_tasks *nt)
{
    if (!nt)
        return;
    pthread_mutex_lock(&g.lock);
    if (nt->prev)
        nt->prev->next = nt->next;
    else
        g.nodes = nt->next;
    if (nt->next)
        nt->next->prev = nt->prev;
    g.num_nodes--;
    pthread_mutex_unlock(&g.lock);
    node_stop_all(nt);
    free(nt);
}

/* Threads a node owns: its loop thread and what its instances hold. */
static uint32_t node_threads(const struct node_tasks *nt)
{
    uint32_t n = 1;
    for (size_t i = 0; i < TASK_COUNT; i++)
        if (task_table[i]->threads)
            n += task_table[i]->threads(nt->inst[i]);
    return n;
}

void tasks_write_metrics(struct buf *out)
{
    task_stats_write(out);
    /* Which code runs each task, for the analysis' cross-check of these
     * counters against the profile (analysis/README.md): one series per task
     * this build has, whether it runs or not. */
    buf_puts(out, "# HELP refproxy_task_info A background task and the prefix of the names of "
                  "the functions that run it.\n# TYPE refproxy_task_info gauge\n");
    for (size_t i = 0; i < TASK_COUNT; i++) {
        const struct task_spec *s = task_table[i]->spec;
        if (s->entry_prefix)
            buf_printf(out, "refproxy_task_info{task=\"%s\",entry_prefix=\"%s\"} 1\n", s->name,
                       s->entry_prefix);
    }
    pthread_mutex_lock(&g.lock);
    buf_printf(out,
               "# HELP refproxy_nodes Per-service nodes attached (per-service architecture).\n"
               "# TYPE refproxy_nodes gauge\nrefproxy_nodes %zu\n",
               g.num_nodes);
    buf_puts(out, "# HELP refproxy_node_threads Threads each node owns: its loop thread and its "
                  "idle footprint threads.\n# TYPE refproxy_node_threads gauge\n");
    for (struct node_tasks *nt = g.nodes; nt; nt = nt->next)
        buf_printf(out, "refproxy_node_threads{service=\"%s\"} %u\n", nt->service,
                   node_threads(nt));
    pthread_mutex_unlock(&g.lock);
}

uint64_t tasks_node_netmon_events(const struct node_tasks *nt)
{
    return nt ? netmon_events(nt->inst[TASK_ID_netmon]) : 0;
}

uint64_t tasks_node_netmon_dumps(const struct node_tasks *nt)
{
    return nt ? netmon_dumps(nt->inst[TASK_ID_netmon]) : 0;
}

uint64_t tasks_shared_netmon_events(void)
{
    return netmon_events(g.shared[TASK_ID_netmon].inst);
}

uint64_t tasks_shared_netmon_dumps(void)
{
    return netmon_dumps(g.shared[TASK_ID_netmon].inst);
}

size_t tasks_node_count(void)
{
    pthread_mutex_lock(&g.lock);
    size_t n = g.num_nodes;
    pthread_mutex_unlock(&g.lock);
    return n;
}
