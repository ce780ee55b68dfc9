/*
 * refproxy: command line, start-up and graceful shutdown.
 *
 * Start-up order: load and validate the config (exit 2 on any error), bind
 * every listener, start the data plane and the admin listener, then wait for
 * SIGTERM/SIGINT in this thread with sigwait (no signal handler, no polling:
 * an idle refproxy makes no wakeups).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "config.h"
#include "profiling.h"
#include "server.h"
#include "thread.h"
#include "version.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: refproxy --config FILE [--heap-profile]\n"
                 "       refproxy --check-config FILE\n"
                 "       refproxy --help | --version\n"
                 "\n"
                 "  --config FILE, -config FILE  run the services in FILE (YAML; tsnsrv's\n"
                 "                               multi-service format is accepted)\n"
                 "  --check-config FILE          validate FILE and exit (0 ok, 2 invalid)\n"
                 "  --heap-profile               enable gperftools heap profiling, served at\n"
                 "                               /debug/pprof/heap (costly; off by default)\n"
                 "\n"
                 "Config errors print file:line:column and exit with status 2.\n");
}

static double elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

int main(int argc, char **argv)
{
    profiling_reexec_if_needed(argc, argv);

    const char *config_path = NULL;
    bool check_only = false, heap_profile = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "-help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--version") || !strcmp(a, "-version")) {
            printf("refproxy %s\n", SCALEPROF_VERSION);
            return 0;
        } else if ((!strcmp(a, "--config") || !strcmp(a, "-config") ||
                    !strcmp(a, "--check-config")) &&
                   i + 1 < argc) {
            check_only = check_only || !strcmp(a, "--check-config");
            config_path = argv[++i];
        } else if (!strncmp(a, "--config=", 9) || !strncmp(a, "-config=", 8)) {
            config_path = strchr(a, '=') + 1;
        } else if (!strcmp(a, "--heap-profile")) {
            heap_profile = true;
        } else {
            fprintf(stderr, "refproxy: unknown or incomplete argument '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!config_path) {
        usage(stderr);
        return 2;
    }

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    struct config cfg;
    char *err = config_load(config_path, &cfg, stderr);
    if (err) {
        fprintf(stderr, "%s\n", err);
        free(err);
        return 2;
    }
    if (check_only) {
        printf("%s: ok (%zu services, %s architecture)\n", config_path, cfg.num_services,
               architecture_name(cfg.architecture));
        config_free(&cfg);
        return 0;
    }
    cfg.heap_profile = cfg.heap_profile || heap_profile;

    /* Block the shutdown signals before any thread starts so every thread
     * inherits the mask and only sigwait below sees them. SIGPROF stays open. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    thread_setup_self("refproxy");

    if (profiling_start(&cfg) < 0) {
        config_free(&cfg);
        return 1;
    }
    struct server *srv = server_create(&cfg, &err);
    if (!srv || server_start(srv, &err) < 0) {
        fprintf(stderr, "refproxy: %s\n", err ? err : "cannot start");
        free(err);
        if (srv)
            server_destroy(srv);
        config_free(&cfg);
        return 1;
    }
    struct admin *adm = admin_start(&cfg, srv, argc, argv, &err);
    if (!adm) {
        fprintf(stderr, "refproxy: admin listener %s: %s\n", cfg.admin_text, err);
        free(err);
        server_shutdown(srv);
        server_destroy(srv);
        config_free(&cfg);
        return 1;
    }
    fprintf(stderr,
            "refproxy: %zu services ready (%s architecture, %u workers) in %.1f ms; admin on %s\n",
            cfg.num_services, architecture_name(cfg.architecture), cfg.workers, elapsed_ms(&t0),
            cfg.admin_text);

    int sig = 0;
    while (sigwait(&stop_signals, &sig) != 0)
        ;
    fprintf(stderr, "refproxy: %s received, finishing in-flight requests (grace %u ms)\n",
            sig == SIGTERM ? "SIGTERM" : "SIGINT", cfg.limits.shutdown_grace_ms);
    unsigned unfinished = server_shutdown(srv);
    admin_stop(adm);
    server_destroy(srv);
    if (unfinished)
        fprintf(stderr,
                "refproxy: %u requests were still in flight at the end of the grace period\n",
                unfinished);
    else
        fprintf(stderr, "refproxy: stopped cleanly\n");
    config_free(&cfg);
    return unfinished ? 1 : 0;
}
