/*
 * test_util: helpers shared by the harness tests: free ports, running
 * scaleprof with a time limit, reading files and JSON, finding processes by
 * their command line (to prove none was left behind).
 */
#ifndef SCALEPROF_HARNESS_TEST_UTIL_H
#define SCALEPROF_HARNESS_TEST_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

int tu_free_port(void);
/* First of count consecutive free loopback ports below the ephemeral range, or -1. */
int tu_free_port_range(int count);
/* Runs argv (argv[0] a path) with stdout+stderr to log (may be NULL); kills it
 * after timeout_s. Returns the exit status, 128+signal, or -1. */
int tu_run(char *const argv[], const char *log, double timeout_s);
/* Starts argv in the background (own process group); returns its pid. */
pid_t tu_spawn(char *const argv[], const char *log);
/* Waits up to timeout_s for pid; exit status / 128+signal, or -1 (then kills it). */
int tu_wait(pid_t pid, double timeout_s);
/* A fresh temporary folder (malloc'd). */
char *tu_tmpdir(const char *tag);
void tu_rmtree(const char *path);
char *tu_read(const char *path);
json_t *tu_json(const char *path);
/* How many processes (up to max, not ourselves) have needle in their command
 * line; their pids go to pids. -1 when it cannot look: /proc unreadable, or a
 * listing that does not show this very process. So "none left" is
 * assert_int_equal(tu_pids_with(...), 0), which fails when it cannot look. */
int tu_pids_with(const char *needle, pid_t *pids, int max);
/* The same over another proc folder (for testing tu_pids_with). */
int tu_pids_with_in(const char *proc, const char *needle, pid_t *pids, int max);
/* Kills every process whose command line contains needle. */
void tu_kill_with(const char *needle);
/* From a threads.txt ("# ... threads: N" first line), N; -1 when absent. */
long tu_threads_header(const char *text);
/* Waits until GET url answers 200, up to timeout_s. */
bool tu_http_ok(const char *url, double timeout_s);

#endif
