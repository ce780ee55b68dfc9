/*
 * test_gen_check TARGET: a built-in target's config for 3 services, as
 * `scaleprof gen --target TARGET` writes it, is accepted by the real
 * program's own check (nginx -t, haproxy -c, caddy validate); every listen
 * address the point file records is in the config; and the point file's
 * command starts the server from that config with every service port
 * accepting connections (readiness as the sweep judges it), after which
 * SIGTERM stops the whole process group. Exits 77 (skipped) only when the
 * program is not installed; scripts/bootstrap.sh test installs them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gen.h"
#include "pointfile.h"
#include "ready.h"
#include "target.h"
#include "test_util.h"

static const struct check {
    const char *target, *program, *check; /* check: a shell command, %s the config */
    int processes;                        /* in its process group once up */
} checks[] = {
    {"nginx", "nginx", "nginx -t -q -e stderr -c %s", 2}, /* master and 1 worker */
    {"haproxy", "haproxy", "haproxy -c -q -f %s", 2},     /* master and 1 worker */
    {"caddy", "caddy", "caddy validate --adapter caddyfile --config %s", 1},
};

static const struct check *chosen;

static bool installed(const char *program)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", program);
    return system(cmd) == 0;
}

/* How many processes are in process group pgid (from /proc/PID/stat); -1 when /proc is unreadable.
 */
static int group_size(pid_t pgid)
{
    DIR *d = opendir("/proc");
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        char path[300], buf[1024];
        if (atoi(e->d_name) <= 0)
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        const char *close = strrchr(buf, ')'); /* comm may hold spaces */
        char st;
        int ppid, group;
        if (close && sscanf(close + 1, " %c %d %d", &st, &ppid, &group) == 3 && group == pgid &&
            st != 'Z')
            n++;
    }
    closedir(d);
    return n;
}

static void test_config_passes_the_programs_check_and_starts(void **state)
{
    char *dir = tu_tmpdir("gen_check");
    char out[1024], base[16], admin[64], config[1200], point[1200];
    snprintf(out, sizeof out, "%s/cfg", dir);
    int first = tu_free_port_range(4); /* the base port (the idle upstream) and 3 services */
    assert_true(first > 0);
    snprintf(base, sizeof base, "%d", first);
    snprintf(admin, sizeof admin, "127.0.0.1:%d", tu_free_port());
    char *argv[] = {"gen",      "--target", (char *)chosen->target,
                    "--counts", "3",        "--base-port",
                    base,       "--out",    out,
                    NULL,       NULL};
    int argc = 9;
    if (!strcmp(chosen->target, "caddy")) /* not the default 9099: others may use it */
        argv[argc++] = strcat(strcpy(malloc(80), "--admin="), admin);
    assert_int_equal(cmd_gen(argc, argv), 0);
    if (argc == 10)
        free(argv[9]);

    snprintf(point, sizeof point, "%s/3%s", out, POINTFILE_SUFFIX);
    struct pointcfg pc;
    char *err = pointfile_read(point, &pc);
    if (err)
        fail_msg("%s", err);
    assert_string_equal(pc.target, chosen->target);
    assert_int_equal(pc.num_services, 3);
    snprintf(config, sizeof config, "%s/%s", out, pc.config);

    /* the program's own check */
    char cmd[2600], log[1200];
    snprintf(log, sizeof log, "%s/check.log", dir);
    char quoted[1300];
    snprintf(quoted, sizeof quoted, "'%s'", config);
    snprintf(cmd, sizeof cmd, chosen->check, quoted);
    char full[4096];
    snprintf(full, sizeof full, "%s > '%s' 2>&1", cmd, log);
    if (system(full) != 0) {
        char *text = tu_read(log);
        fail_msg("%s failed:\n%s", cmd, text ? text : "");
    }

    /* what the point file says is what the config says */
    char *text = tu_read(config);
    for (size_t i = 0; i < pc.num_services; i++) {
        char want[80];
        snprintf(want, sizeof want, "127.0.0.1:%d", first + 1 + (int)i);
        assert_string_equal(pc.listen[i], want);
        if (!strstr(text, want))
            fail_msg("%s is not in %s", want, config);
    }
    if (pc.admin && !strstr(text, pc.admin))
        fail_msg("admin %s is not in %s", pc.admin, config);
    free(text);

    /* the point file's command starts it; every service port accepts */
    assert_non_null(pc.command);
    char home[1100], env_config[1200], env_data[1200], run_log[1200];
    snprintf(home, sizeof home, "%s/home", dir);
    snprintf(env_config, sizeof env_config, "XDG_CONFIG_HOME=%s", home);
    snprintf(env_data, sizeof env_data, "XDG_DATA_HOME=%s", home);
    snprintf(run_log, sizeof run_log, "%s/run.log", dir);
    const char *env[] = {env_config, env_data, NULL}; /* caddy's autosave stays in here */
    struct target t = {0};
    err = target_start(&t, pc.command, config, run_log, env);
    if (err)
        fail_msg("%s", err);
    struct ready r;
    ready_init(&r, NULL, pc.listen, pc.num_services);
    bool up = false;
    for (int i = 0; i < 200 && !up && !target_exited(&t); i++) {
        up = ready_probe(&r, 1000);
        if (!up) {
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    /* the master-worker shape: the whole tree is in the target's group */
    int processes = up ? group_size(t.pid) : -1;
    for (int i = 0; up && processes < chosen->processes && i < 100; i++) {
        struct timespec ts = {0, 20 * 1000 * 1000}; /* a worker may fork just after binding */
        nanosleep(&ts, NULL);
        processes = group_size(t.pid);
    }
    pid_t group = t.pid;
    target_stop(&t, 10.0);
    if (!up) {
        char *tail = tu_read(run_log);
        fail_msg("%s never accepted on every port (%zu did):\n%s", t.command, r.accepted,
                 tail ? tail : "");
    }
    if (processes != chosen->processes)
        fail_msg("%s: %d processes in its group, wanted %d", t.command, processes,
                 chosen->processes);
    assert_int_equal(group_size(group), 0); /* SIGTERM to the group: no worker left behind */
    target_free(&t);
    pointcfg_free(&pc);
    tu_rmtree(dir);
    free(dir);
}

int main(int argc, char **argv)
{
    for (size_t i = 0; argc == 2 && i < sizeof checks / sizeof checks[0]; i++)
        if (!strcmp(argv[1], checks[i].target))
            chosen = &checks[i];
    if (!chosen) {
        fprintf(stderr, "usage: test_gen_check nginx|haproxy|caddy\n");
        return 2;
    }
    if (!installed(chosen->program)) {
        printf("%s is not installed (scripts/bootstrap.sh test installs it): skipped\n",
               chosen->program);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_passes_the_programs_check_and_starts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
