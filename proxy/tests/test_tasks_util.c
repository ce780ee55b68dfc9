/* test_tasks_util: see test_tasks_util.h. */
#include "test_tasks_util.h"

#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"
#include "tasks.h"

struct test_node {
    pthread_t tid;
    struct test_nodes *tn;
    size_t index;
    struct loop *loop;
    struct node_tasks *nt;
    char *err;
    int state; /* 0 starting, 1 running, -1 failed */
};

struct test_nodes {
    struct config cfg;
    struct test_node *nodes;
    size_t n;
    pthread_mutex_t lock;
    pthread_cond_t cond;
};

struct tasks_config test_tasks_all_off(void)
{
    struct tasks_config t = {
        .portlist = {TASK_OFF, 1000, false},
        .netmon = {TASK_OFF, 250, 20000, 26000},
        .timers = {TASK_OFF, 2000, 15000, 60000},
        .footprint = {TASK_OFF, 2, 3, 8},
    };
    return t;
}

static void *node_main(void *arg)
{
    struct test_node *nd = arg;
    char name[16];
    snprintf(name, sizeof(name), "svc%zu/loop", nd->index);
    pthread_setname_np(pthread_self(), name);
    nd->loop = loop_create();
    if (nd->loop)
        nd->nt = tasks_node_attach(nd->loop, &nd->tn->cfg, nd->index, &nd->err);
    pthread_mutex_lock(&nd->tn->lock);
    nd->state = nd->nt ? 1 : -1;
    pthread_cond_broadcast(&nd->tn->cond);
    pthread_mutex_unlock(&nd->tn->lock);
    if (!nd->nt)
        return NULL;
    loop_run(nd->loop);
    tasks_node_detach(nd->nt); /* on the node's own thread, as server.c does */
    return NULL;
}

struct test_nodes *test_nodes_start(size_t n, const struct tasks_config *tc, enum architecture arch)
{
    struct test_nodes *tn = calloc(1, sizeof(*tn));
    assert_non_null(tn);
    pthread_mutex_init(&tn->lock, NULL);
    pthread_cond_init(&tn->cond, NULL);
    tn->cfg.architecture = arch;
    tn->cfg.tasks = *tc;
    tn->cfg.num_services = n;
    tn->cfg.services = calloc(n + 1, sizeof(*tn->cfg.services));
    tn->nodes = calloc(n + 1, sizeof(*tn->nodes));
    assert_non_null(tn->cfg.services);
    assert_non_null(tn->nodes);
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "svc%zu", i);
        tn->cfg.services[i].name = strdup(name);
        tn->cfg.services[i].tasks = *tc;
    }
    char *err = NULL;
    int rc = tasks_global_start(&tn->cfg, &err);
    if (rc)
        fail_msg("tasks_global_start: %s", err ? err : "?");
    tn->n = n;
    for (size_t i = 0; i < n; i++) {
        tn->nodes[i].tn = tn;
        tn->nodes[i].index = i;
        assert_int_equal(pthread_create(&tn->nodes[i].tid, NULL, node_main, &tn->nodes[i]), 0);
    }
    pthread_mutex_lock(&tn->lock);
    for (size_t i = 0; i < n; i++)
        while (tn->nodes[i].state == 0)
            pthread_cond_wait(&tn->cond, &tn->lock);
    pthread_mutex_unlock(&tn->lock);
    for (size_t i = 0; i < n; i++)
        if (tn->nodes[i].state < 0)
            fail_msg("attach svc%zu: %s", i, tn->nodes[i].err ? tn->nodes[i].err : "?");
    return tn;
}

static void stop_cb(struct loop *loop, void *data)
{
    loop_stop(loop);
}

void test_nodes_stop(struct test_nodes *tn)
{
    for (size_t i = 0; i < tn->n; i++)
        if (tn->nodes[i].state > 0)
            loop_post(tn->nodes[i].loop, stop_cb, NULL);
    for (size_t i = 0; i < tn->n; i++) {
        pthread_join(tn->nodes[i].tid, NULL);
        loop_destroy(tn->nodes[i].loop);
        free(tn->nodes[i].err);
    }
    tasks_global_stop();
    for (size_t i = 0; i < tn->n; i++)
        free(tn->cfg.services[i].name);
    free(tn->cfg.services);
    free(tn->nodes);
    pthread_mutex_destroy(&tn->lock);
    pthread_cond_destroy(&tn->cond);
    free(tn);
}

struct node_tasks *test_node(struct test_nodes *tn, size_t i)
{
    return tn->nodes[i].nt;
}

uint64_t test_node_wakeups(struct test_nodes *tn, size_t i)
{
    return loop_wakeups(tn->nodes[i].loop);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

bool test_wait_runs(const char *task, const char *service, uint64_t min_runs,
                    struct task_counts *out)
{
    for (int i = 0; i < 2000; i++) {
        task_stats_read(task, service, out);
        if (out->runs >= min_runs)
            return true;
        sleep_ms(5);
    }
    fprintf(stderr, "%s/%s: %llu runs, wanted %llu\n", task, service, (unsigned long long)out->runs,
            (unsigned long long)min_runs);
    return false;
}

int test_count_threads(const char *name)
{
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (!name) {
            n++;
            continue;
        }
        char path[300], comm[32] = "";
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue; /* the thread just exited */
        if (fgets(comm, sizeof(comm), f)) {
            comm[strcspn(comm, "\n")] = '\0';
            n += strcmp(comm, name) == 0;
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

int test_count_sockets(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    struct dirent *de;
    int n = 0;
    char path[300], link[64];
    while ((de = readdir(d))) {
        snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
        ssize_t len = readlink(path, link, sizeof(link) - 1);
        n += len > 7 && memcmp(link, "socket:", 7) == 0;
    }
    closedir(d);
    return n;
}

bool test_wait_sockets(int n)
{
    int have = 0;
    for (int i = 0; i < 1000; i++) {
        if ((have = test_count_sockets()) == n)
            return true;
        sleep_ms(5);
    }
    fprintf(stderr, "sockets: %d, wanted %d\n", have, n);
    return false;
}

struct ticker {
    struct loop_timer t;
    int left;
    unsigned period_ms;
};

static void tick(struct loop *loop, struct loop_timer *t, void *data)
{
    struct ticker *tk = data;
    if (--tk->left <= 0)
        loop_stop(loop);
    else
        loop_timer_arm(loop, t, tk->period_ms);
}

void test_wait_timer_ticks(int ticks, unsigned period_ms)
{
    struct loop *loop = loop_create();
    assert_non_null(loop);
    struct ticker tk = {.left = ticks, .period_ms = period_ms};
    loop_timer_init(&tk.t, tick, &tk);
    loop_timer_arm(loop, &tk.t, period_ms);
    loop_run(loop);
    loop_destroy(loop);
}

int test_promtool_check(const char *text, size_t len)
{
    char path[] = "/tmp/test_tasks_metrics_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
    int rc = system(cmd);
    unlink(path);
    return rc;
}
