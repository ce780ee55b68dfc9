/*
 * target: starting and stopping the process under test.
 *
 * The target runs as `/bin/sh -c 'exec CMD'` (so the pid is the target's own)
 * in its own process group, with stdout and stderr appended to a log file and
 * the profiler's environment added. Stopping signals the whole group
 * (SIGTERM, a grace period, then SIGKILL) and reaps the leader, so nothing the
 * target started outlives the point. The child also gets PR_SET_PDEATHSIG, so
 * even a scaleprof killed with SIGKILL leaves no target behind.
 *
 * The target is its whole process tree (proctree.h): target_read measures the
 * root and every descendant, and every member this process reaps (it is their
 * child subreaper) has its CPU added to the tree's through wait4's rusage.
 */
#ifndef SCALEPROF_TARGET_H
#define SCALEPROF_TARGET_H

#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "procstat.h"
#include "proctree.h"

struct target {
    pid_t pid;            /* also the process group id; 0 when not started */
    bool reaped;          /* the leader has been waited for */
    int status;           /* its wait status once reaped */
    char *command;        /* the command run (template with {config} filled in), owned */
    struct proctree tree; /* the readings of its process tree, owned */
};

/*
 * Starts cmd_template with every "{config}" replaced by the shell-quoted
 * config path (appended as the last argument when the template has none).
 * extra_env: NULL-terminated "NAME=value" strings added to (or replacing in)
 * our environment. Returns NULL or a malloc'd message.
 */
char *target_start(struct target *t, const char *cmd_template, const char *config,
                   const char *log_path, const char *const *extra_env);
/* Reaps the members of the target's group that exited and were left to us (the
 * leader too, then recorded as by target_exited), adding their CPU to the tree,
 * then reads the whole tree into *s (proctree_read). 0 ok; -1 when the target
 * is gone (errno set). */
int target_read(struct target *t, struct procstat *s, bool full);
/* Reaps the target if it has exited; true when it is no longer running. */
bool target_exited(struct target *t);
/* SIGTERM to the group, up to grace_s seconds, then SIGKILL; reaps. Safe to call
 * twice and on a target that has exited. */
void target_stop(struct target *t, double grace_s);
/* "exited with status 3" / "killed by signal 9 (Killed)" into buf. */
void target_describe_exit(const struct target *t, char *buf, size_t size);
void target_free(struct target *t);
/* Single-quotes s for /bin/sh (malloc'd). */
char *target_shell_quote(const char *s);

/* Records the resource limits scaleprof started with (call first thing in
 * main); targets are started under these, not whatever the harness raised its
 * own to since (the load generator's and perf's open-file limit). */
void target_remember_limits(void);
/* The open-file limit targets get (the remembered one, else the current). */
struct rlimit target_nofile_limit(void);

#endif
