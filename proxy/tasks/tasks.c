/*
 * tasks: lifecycle of the background tasks (tasks.h), the registry of attached
 * nodes, the shared instances and /metrics output.
 *
 * A per-service task runs on its node's loop. A shared task runs on its own
 * thread ("shared/portlist", "shared/netmon") that owns a private loop, so the
 * task code is the same in both modes and only the number of instances changes.
 * Off means no instance: no thread, no timer, no socket, no counter entry.
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

struct node_tasks {
    struct loop *loop;
    size_t index;
    char service[64];
    struct footprint *footprint;
    struct portlist_task *portlist;
    struct netmon *netmon;
    struct node_timers *timers;
    struct node_tasks *prev, *next;
};

/* One shared task instance on its own thread and loop. */
struct shared_runner {
    struct loop *loop;
    pthread_t tid;
    bool running;
    struct portlist_task *portlist;
    struct netmon *netmon;
};

static struct {
    pthread_mutex_t lock; /* guards nodes and num_nodes (attach/detach vs metrics) */
    struct node_tasks *nodes;
    size_t num_nodes;
    struct shared_runner portlist, netmon;
    struct peer *peer;
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
    loop_run(r->loop);
    return NULL;
}

static void shared_stop_cb(struct loop *loop, void *data)
{
    loop_stop(loop);
}

/* Stops the thread (if it runs), then the task, on this thread once joined. */
static void shared_stop(struct shared_runner *r)
{
    if (r->running) {
        /* Posted rather than loop_stop() directly: works even if loop_run has
         * not started yet. */
        if (loop_post(r->loop, shared_stop_cb, NULL) < 0)
            loop_stop(r->loop);
        pthread_join(r->tid, NULL);
    }
    portlist_task_stop(r->portlist);
    netmon_stop(r->netmon);
    if (r->loop)
        loop_destroy(r->loop);
    memset(r, 0, sizeof(*r));
}

static int shared_start(struct shared_runner *r, const char *name, const struct config *cfg,
                        const struct tasks_config *tc, char **err)
{
    memset(r, 0, sizeof(*r));
    if (!(r->loop = loop_create())) {
        tasks_set_err(err, "%s: loop: %s", name, strerror(errno));
        return -1;
    }
    if (strcmp(name, "shared/portlist") == 0)
        r->portlist = portlist_task_start(r->loop, &tc->portlist, "shared", err);
    else
        r->netmon = netmon_start(r->loop, &tc->netmon, "shared", 0, err);
    if (!r->portlist && !r->netmon)
        goto fail;
    int rc = thread_start(&r->tid, name, 0, shared_main, r);
    if (rc) {
        tasks_set_err(err, "%s: thread: %s", name, strerror(rc));
        goto fail;
    }
    r->running = true;
    return 0;
fail:
    shared_stop(r);
    return -1;
}

/* The tasks_config whose mode for the given task is `shared`: the global one if
 * it says so, else the first service that does; NULL when none. */
static const struct tasks_config *find_shared(const struct config *cfg, bool portlist)
{
    const struct tasks_config *t = &cfg->tasks;
    if ((portlist ? t->portlist.mode : t->netmon.mode) == TASK_SHARED)
        return t;
    for (size_t i = 0; i < cfg->num_services; i++) {
        t = &cfg->services[i].tasks;
        if ((portlist ? t->portlist.mode : t->netmon.mode) == TASK_SHARED)
            return t;
    }
    return NULL;
}

static bool needs_peer(const struct config *cfg)
{
    if (cfg->architecture != ARCH_PER_SERVICE)
        return false;
    for (size_t i = 0; i < cfg->num_services; i++) {
        const struct task_footprint_config *f = &cfg->services[i].tasks.footprint;
        if (f->mode != TASK_OFF && f->tcp_conns)
            return true;
    }
    return false;
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
    const struct tasks_config *tc;
    if ((tc = find_shared(cfg, true)) &&
        shared_start(&g.portlist, "shared/portlist", cfg, tc, err) < 0)
        goto fail;
    if ((tc = find_shared(cfg, false)) &&
        shared_start(&g.netmon, "shared/netmon", cfg, tc, err) < 0)
        goto fail;
    if (needs_peer(cfg) && !(g.peer = peer_start(err)))
        goto fail;
    return 0;
fail:
    tasks_global_stop();
    return -1;
}

void tasks_global_stop(void)
{
    shared_stop(&g.portlist);
    shared_stop(&g.netmon);
    peer_stop(g.peer);
    g.peer = NULL;
    if (g.log_fd >= 0)
        close(g.log_fd);
    g.log_fd = -1;
    task_stats_clear();
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
    const struct tasks_config *t = &sc->tasks;
    struct node_tasks *nt = calloc(1, sizeof(*nt));
    if (!nt) {
        tasks_set_err(err, "tasks %s: out of memory", sc->name);
        return NULL;
    }
    nt->loop = loop;
    nt->index = index;
    snprintf(nt->service, sizeof(nt->service), "%s", sc->name);

    if (t->footprint.mode != TASK_OFF) {
        struct sockaddr_storage ss;
        socklen_t len = 0;
        if (g.peer)
            peer_addr(g.peer, &ss, &len);
        if (!(nt->footprint = footprint_start(&t->footprint, index, g.peer ? &ss : NULL, len, err)))
            goto fail;
    }
    if (t->portlist.mode == TASK_PER_SERVICE &&
        !(nt->portlist = portlist_task_start(loop, &t->portlist, nt->service, err)))
        goto fail;
    if (t->netmon.mode == TASK_PER_SERVICE &&
        !(nt->netmon = netmon_start(loop, &t->netmon, nt->service, (uint32_t)index + 1, err)))
        goto fail;
    /* timers has no shared form: `shared` means the same as per-service. */
    if (t->timers.mode != TASK_OFF &&
        !(nt->timers = node_timers_start(loop, &t->timers, nt->service,
                                         footprint_keepalive_fd(nt->footprint), err)))
        goto fail;

    pthread_mutex_lock(&g.lock);
    nt->next = g.nodes;
    if (g.nodes)
        g.nodes->prev = nt;
    g.nodes = nt;
    g.num_nodes++;
    pthread_mutex_unlock(&g.lock);
    return nt;
fail:
    node_timers_stop(nt->timers);
    netmon_stop(nt->netmon);
    portlist_task_stop(nt->portlist);
    footprint_stop(nt->footprint);
    free(nt);
    return NULL;
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
    node_timers_stop(nt->timers);
    netmon_stop(nt->netmon);
    portlist_task_stop(nt->portlist);
    footprint_stop(nt->footprint);
    free(nt);
}

void tasks_write_metrics(struct buf *out)
{
    task_stats_write(out);
    pthread_mutex_lock(&g.lock);
    buf_printf(out,
               "# HELP refproxy_nodes Per-service nodes attached (per-service architecture).\n"
               "# TYPE refproxy_nodes gauge\nrefproxy_nodes %zu\n",
               g.num_nodes);
    buf_puts(out, "# HELP refproxy_node_threads Threads each node owns: its loop thread and its "
                  "idle footprint threads.\n# TYPE refproxy_node_threads gauge\n");
    for (struct node_tasks *nt = g.nodes; nt; nt = nt->next)
        buf_printf(out, "refproxy_node_threads{service=\"%s\"} %u\n", nt->service,
                   1 + footprint_threads(nt->footprint));
    pthread_mutex_unlock(&g.lock);
}

uint64_t tasks_node_netmon_events(const struct node_tasks *nt)
{
    return nt ? netmon_events(nt->netmon) : 0;
}

uint64_t tasks_node_netmon_dumps(const struct node_tasks *nt)
{
    return nt ? netmon_dumps(nt->netmon) : 0;
}

uint64_t tasks_shared_netmon_events(void)
{
    return netmon_events(g.netmon.netmon);
}

uint64_t tasks_shared_netmon_dumps(void)
{
    return netmon_dumps(g.netmon.netmon);
}

size_t tasks_node_count(void)
{
    pthread_mutex_lock(&g.lock);
    size_t n = g.num_nodes;
    pthread_mutex_unlock(&g.lock);
    return n;
}
