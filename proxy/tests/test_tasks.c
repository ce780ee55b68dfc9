/*
 * test_tasks: the tasks running live on real node loops — each mode of each
 * task does its work, off runs nothing, shared runs once for the process,
 * thread names and counts, footprint sockets, metrics text.
 * (Netlink events in a private namespace: test_tasks_netmon.c.)
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tasks.h"
#include "tasks/tasks_internal.h"
#include "test_tasks_util.h"

static void test_per_service_portlist_runs_on_every_node(void **state)
{
    struct tasks_config tc = test_tasks_all_off();
    tc.portlist.mode = TASK_PER_SERVICE;
    tc.portlist.interval_ms = 20;
    struct test_nodes *tn = test_nodes_start(3, &tc, ARCH_PER_SERVICE);
    for (int i = 0; i < 3; i++) {
        char svc[16];
        snprintf(svc, sizeof(svc), "svc%d", i);
        struct task_counts c;
        assert_true(test_wait_runs("portlist", svc, 3, &c));
        assert_true(c.work_units >= c.runs); /* at least our own rows each poll */
        assert_true(c.cpu_ns > 0);
    }
    struct task_counts c;
    assert_false(task_stats_read("portlist", "shared", &c));
    assert_int_equal(test_count_threads("shared/portlist"), 0);
    assert_int_equal(task_stats_read_task("portlist", &c), 3);
    test_nodes_stop(tn);
}

static void test_shared_portlist_is_one_thread_and_one_series(void **state)
{
    struct tasks_config tc = test_tasks_all_off();
    tc.portlist.mode = TASK_SHARED;
    tc.portlist.interval_ms = 20;
    struct test_nodes *tn = test_nodes_start(3, &tc, ARCH_PER_SERVICE);
    struct task_counts c;
    assert_true(test_wait_runs("portlist", "shared", 3, &c));
    assert_true(c.work_units >= c.runs);
    assert_int_equal(test_count_threads("shared/portlist"), 1);
    assert_int_equal(task_stats_read_task("portlist", &c), 1); /* no svc<i> series */
    test_nodes_stop(tn);
    assert_int_equal(test_count_threads("shared/portlist"), 0);
}

static void test_shared_portlist_runs_in_shared_architecture_without_nodes(void **state)
{
    struct tasks_config tc = test_tasks_all_off();
    tc.portlist.mode = TASK_SHARED;
    tc.portlist.interval_ms = 20;
    struct test_nodes *tn = test_nodes_start(0, &tc, ARCH_SHARED);
    struct task_counts c;
    assert_true(test_wait_runs("portlist", "shared", 2, &c));
    assert_int_equal(test_count_threads("shared/portlist"), 1);
    test_nodes_stop(tn);
}

static void test_per_service_netmon_restun_enumerates_on_every_node(void **state)
{
    struct tasks_config tc = test_tasks_all_off();
    tc.netmon.mode = TASK_PER_SERVICE;
    tc.netmon.restun_min_ms = 20;
    tc.netmon.restun_max_ms = 40;
    struct test_nodes *tn = test_nodes_start(2, &tc, ARCH_PER_SERVICE);
    for (int i = 0; i < 2; i++) {
        char svc[16];
        snprintf(svc, sizeof(svc), "svc%d", i);
        struct task_counts c;
        assert_true(test_wait_runs("netmon", svc, 2, &c));
        /* an enumeration is at least one RTM_GETLINK message (lo) + DONE */
        assert_true(c.work_units >= 2 * c.runs);
    }
    assert_int_equal(test_count_threads("shared/netmon"), 0);
    test_nodes_stop(tn);
}

static void test_shared_netmon_restun_is_one_thread(void **state)
{
    struct tasks_config tc = test_tasks_all_off();
    tc.netmon.mode = TASK_SHARED;
    tc.netmon.restun_min_ms = 20;
    tc.netmon.restun_max_ms = 20;
    struct test_nodes *tn = test_nodes_start(3, &tc, ARCH_PER_SERVICE);
    struct task_counts c;
    assert_true(test_wait_runs("netmon", "shared", 2, &c));
    assert_int_equal(test_count_threads("shared/netmon"), 1);
    assert_int_equal(task_stats_read_task("netmon", &c), 1);
    test_nodes_stop(tn);
}

static void test_timers_run_on_the_node_loop(void **state)
{
    struct tasks_config tc = test_tasks_all_off();
    tc.timers.mode = TASK_PER_SERVICE;
    tc.timers.log_flush_ms = 10;
    tc.timers.clock_check_ms = 15;
    tc.timers.keepalive_ms = 20;
    tc.footprint.mode = TASK_PER_SERVICE; /* gives keepalive its TCP connection */
    tc.footprint.tcp_conns = 1;
    struct test_nodes *tn = test_nodes_start(2, &tc, ARCH_PER_SERVICE);
    for (int i = 0; i < 2; i++) {
        char svc[16];
        snprintf(svc, sizeof(svc), "svc%d", i);
        struct task_counts c;
        assert_true(test_wait_runs("timers", svc, 9, &c));
        /* every action is a unit; keepalive only counts when its byte went out,
         * so units == runs proves the keepalive connection exists */
        assert_true(c.work_units + 1 >= c.runs);
        assert_true(test_node_wakeups(tn, (size_t)i) >= 3);
    }
    test_nodes_stop(tn);
}

/* heartbeat, the task added to show what a new task takes: off unless asked
 * for even in the per-service architecture; switched on, it beats on every
 * node's loop and adds no thread. */
static void test_heartbeat_beats_on_each_node_only_when_switched_on(void **state)
{
    struct tasks_config def;
    config_tasks_defaults(&def, ARCH_PER_SERVICE);
    assert_int_equal(def.heartbeat.mode, TASK_OFF);
    assert_int_equal(def.heartbeat.interval_ms, 3000);
    struct tasks_config tc = test_tasks_all_off();
    tc.heartbeat.mode = TASK_PER_SERVICE;
    tc.heartbeat.interval_ms = 5;
    int threads0 = test_count_threads(NULL);
    struct test_nodes *tn = test_nodes_start(2, &tc, ARCH_PER_SERVICE);
    assert_int_equal(test_count_threads(NULL), threads0 + 2); /* the node loops only */
    struct task_counts c;
    assert_true(test_wait_runs("heartbeat", "svc0", 3, &c));
    assert_int_equal(c.work_units, c.runs);
    assert_true(test_wait_runs("heartbeat", "svc1", 3, &c));
    assert_int_equal(task_stats_read_task("heartbeat", &c), 2);
    test_nodes_stop(tn);
}

static void test_footprint_threads_and_sockets_per_node(void **state)
{
    struct tasks_config tc = test_tasks_all_off();
    tc.footprint.mode = TASK_PER_SERVICE;
    tc.footprint.udp_sockets = 2;
    tc.footprint.tcp_conns = 3;
    tc.footprint.idle_threads = 4;
    int sockets0 = test_count_sockets();
    struct test_nodes *tn = test_nodes_start(3, &tc, ARCH_PER_SERVICE);
    assert_int_equal(test_count_threads("svc0/idle"), 4);
    assert_int_equal(test_count_threads("svc1/idle"), 4);
    assert_int_equal(test_count_threads("svc2/idle"), 4);
    assert_int_equal(test_count_threads("peer"), 1);
    /* listener + per node (2 udp + 3 tcp) + the peer's accepted side of each tcp */
    assert_true(test_wait_sockets(sockets0 + 1 + 3 * 5 + 3 * 3));
    struct buf m;
    buf_init(&m, 1 << 20);
    tasks_write_metrics(&m);
    assert_non_null(strstr(m.data, "refproxy_nodes 3\n"));
    assert_non_null(strstr(m.data, "refproxy_node_threads{service=\"svc1\"} 5\n"));
    buf_free(&m);
    test_nodes_stop(tn);
    assert_int_equal(test_count_threads("svc0/idle"), 0);
    assert_int_equal(test_count_threads("peer"), 0);
    assert_int_equal(test_count_sockets(), sockets0);
}

static void test_off_runs_nothing(void **state)
{
    struct tasks_config tc = test_tasks_all_off();
    /* Tiny intervals: were anything armed, it would run many times below. */
    tc.portlist.interval_ms = 1;
    tc.netmon.restun_min_ms = tc.netmon.restun_max_ms = 1;
    tc.timers.log_flush_ms = tc.timers.clock_check_ms = tc.timers.keepalive_ms = 1;
    int sockets0 = test_count_sockets();
    int threads0 = test_count_threads(NULL);
    struct test_nodes *tn = test_nodes_start(3, &tc, ARCH_PER_SERVICE);
    assert_int_equal(test_count_threads(NULL), threads0 + 3); /* the node loops only */
    assert_int_equal(test_count_sockets(), sockets0);
    /* Positive control on the same clock: a loop with a 1 ms timer wakes >= 20
     * times; over that window the node loops must not wake at all. */
    test_wait_timer_ticks(20, 1);
    struct task_counts c;
    const char *tasks[] = {"portlist", "netmon", "timers", "footprint"};
    for (int i = 0; i < 4; i++)
        assert_int_equal(task_stats_read_task(tasks[i], &c), 0);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(test_node_wakeups(tn, i), 0);
    assert_int_equal(test_count_threads("peer"), 0);
    test_nodes_stop(tn);
}

static void test_metrics_text_is_valid_for_promtool(void **state)
{
    struct tasks_config tc = test_tasks_all_off();
    tc.portlist.mode = TASK_PER_SERVICE;
    tc.portlist.interval_ms = 20;
    tc.netmon.mode = TASK_SHARED;
    tc.timers.mode = TASK_PER_SERVICE;
    tc.timers.log_flush_ms = 10;
    struct test_nodes *tn = test_nodes_start(2, &tc, ARCH_PER_SERVICE);
    struct task_counts c;
    assert_true(test_wait_runs("portlist", "svc1", 1, &c));
    assert_true(test_wait_runs("timers", "svc1", 1, &c));
    struct buf m;
    buf_init(&m, 1 << 20);
    tasks_write_metrics(&m);
    /* HELP/TYPE exactly once per family */
    const char *fam[] = {"# TYPE refproxy_task_runs_total counter",
                         "# TYPE refproxy_task_cpu_seconds_total counter",
                         "# TYPE refproxy_task_work_units_total counter",
                         "# TYPE refproxy_nodes gauge", "# TYPE refproxy_node_threads gauge"};
    for (int i = 0; i < 5; i++) {
        const char *p = strstr(m.data, fam[i]);
        assert_non_null(p);
        assert_null(strstr(p + 1, fam[i]));
    }
    assert_non_null(
        strstr(m.data, "refproxy_task_runs_total{task=\"portlist\",service=\"svc1\"} "));
    assert_non_null(
        strstr(m.data, "refproxy_task_runs_total{task=\"netmon\",service=\"shared\"} "));
    assert_int_equal(test_promtool_check(m.data, m.len), 0);
    buf_free(&m);
    test_nodes_stop(tn);
}

/* Every task with code declares the prefix of the functions that run it, for
 * the analysis' cross-check of its counters against the profile
 * (results/README.md), whether it runs or not: with every task off, /metrics
 * still has one refproxy_task_info line each; footprint runs no code and has
 * none. */
static void test_metrics_declare_each_task_entry_prefix(void **state)
{
    struct tasks_config tc = test_tasks_all_off();
    struct test_nodes *tn = test_nodes_start(1, &tc, ARCH_PER_SERVICE);
    struct buf m;
    buf_init(&m, 1 << 20);
    tasks_write_metrics(&m);
    const char *type = "# TYPE refproxy_task_info gauge\n";
    const char *p = strstr(m.data, type);
    assert_non_null(p);
    assert_null(strstr(p + 1, type));
    static const char *const want[] = {
        "refproxy_task_info{task=\"portlist\",entry_prefix=\"portlist_\"} 1\n",
        "refproxy_task_info{task=\"netmon\",entry_prefix=\"netmon_\"} 1\n",
        "refproxy_task_info{task=\"timers\",entry_prefix=\"timers_\"} 1\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_non_null(strstr(m.data, want[i]));
    assert_null(strstr(m.data, "refproxy_task_info{task=\"footprint\""));
    /* and one line for each spec with a prefix, nothing else */
    size_t lines = 0, declared = 0;
    for (const char *q = m.data; (q = strstr(q, "\nrefproxy_task_info{")); q++)
        lines++;
    for (size_t i = 0; i < TASK_COUNT; i++)
        declared += task_specs[i]->entry_prefix != NULL;
    assert_int_equal(lines, declared);
    assert_int_equal(test_promtool_check(m.data, m.len), 0);
    buf_free(&m);
    test_nodes_stop(tn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_service_portlist_runs_on_every_node),
        cmocka_unit_test(test_shared_portlist_is_one_thread_and_one_series),
        cmocka_unit_test(test_shared_portlist_runs_in_shared_architecture_without_nodes),
        cmocka_unit_test(test_per_service_netmon_restun_enumerates_on_every_node),
        cmocka_unit_test(test_shared_netmon_restun_is_one_thread),
        cmocka_unit_test(test_timers_run_on_the_node_loop),
        cmocka_unit_test(test_heartbeat_beats_on_each_node_only_when_switched_on),
        cmocka_unit_test(test_footprint_threads_and_sockets_per_node),
        cmocka_unit_test(test_off_runs_nothing),
        cmocka_unit_test(test_metrics_text_is_valid_for_promtool),
        cmocka_unit_test(test_metrics_declare_each_task_entry_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
