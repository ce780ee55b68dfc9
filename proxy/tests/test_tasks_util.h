/* test_tasks_util: node harness for the tasks tests — N node threads, each
 * with its own loop and tasks_node_attach, plus /proc/self probes. */
#ifndef TEST_TASKS_UTIL_H
#define TEST_TASKS_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "tasks/task_stats.h"

struct test_nodes;

/* Every mode off, numeric fields at their per-service defaults. */
struct tasks_config test_tasks_all_off(void);
/* tasks_global_start with n services named svc0..svc<n-1>, each with tc, and one
 * node thread per service attached and running. Fails the test on error. */
struct test_nodes *test_nodes_start(size_t n, const struct tasks_config *tc,
                                    enum architecture arch);
void test_nodes_stop(struct test_nodes *tn);
struct node_tasks *test_node(struct test_nodes *tn, size_t i);
uint64_t test_node_wakeups(struct test_nodes *tn, size_t i);

/* Polls (bounded, 10 s) until the series has at least min_runs runs. */
bool test_wait_runs(const char *task, const char *service, uint64_t min_runs,
                    struct task_counts *out);
/* Threads of this process named name (all threads when NULL). */
int test_count_threads(const char *name);
int test_count_sockets(void);
bool test_wait_sockets(int n);
/* Runs a private loop with a period_ms timer until it fired ticks times. */
void test_wait_timer_ticks(int ticks, unsigned period_ms);
/* Exit status of `promtool check metrics` on text. */
int test_promtool_check(const char *text, size_t len);

#endif
