/*
 * csrv: a small multi-service server for testing scaleprof on a target with
 * no profiler of its own. One thread per service; each answers HTTP GET with
 * 200 on 127.0.0.1:port and, every interval, runs a linear digest and the
 * planted peers_compare, whose total CPU grows with N² and is spent inside
 * libc's memcmp. Built without frame pointers and without gperftools, so only
 * an outside sampler unwinding from CFI (perf, scaleprof's perf profiler) can
 * name the culprit. See README.md.
 *
 *   csrv [--linear] [--check-config] --config FILE
 *
 * Exit: 0 on SIGTERM/SIGINT (and after --check-config), 2 for a bad command
 * line or config ("FILE:LINE: message"), 1 when a port cannot be bound or a
 * thread started.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "service.h"
#include "work.h"

static void usage(void)
{
    fprintf(stderr, "usage: csrv [--linear] [--check-config] --config FILE\n");
}

/* Builds the keys, binds every port, then starts the threads: binding all
 * before any work starts makes a clash fail fast. 0, or the exit status. */
static int start_services(const struct conf *conf, bool linear, unsigned char **keys,
                          struct service *svc)
{
    static struct work work; /* outlives main's frame: the threads read it */
    char err[512];
    work = (struct work){
        .keys = (const unsigned char *const *)keys,
        .n = conf->n,
        .key_bytes = (size_t)conf->key_bytes,
        .rounds = conf->rounds,
        .visits = linear ? (size_t)conf->linear_peers : conf->n - 1,
        .digest_bytes = conf->digest_bytes,
    };
    for (size_t i = 0; i < conf->n; i++)
        svc[i].listen_fd = -1;
    for (size_t i = 0; i < conf->n; i++) {
        keys[i] = malloc((size_t)conf->key_bytes);
        if (!keys[i]) {
            fprintf(stderr, "csrv: out of memory for the keys\n");
            return 1;
        }
        work_key_fill(keys[i], (size_t)conf->key_bytes, conf->svc[i].name);
        svc[i] = (struct service){.cfg = &conf->svc[i],
                                  .work = &work,
                                  .index = i,
                                  .interval_ms = conf->interval_ms,
                                  .listen_fd = -1};
        if (service_listen(&svc[i], err, sizeof err) < 0) {
            fprintf(stderr, "csrv: %s\n", err);
            return 1;
        }
    }
    for (size_t i = 0; i < conf->n; i++) {
        int rc = service_start(&svc[i]);
        if (rc != 0) {
            fprintf(stderr, "csrv: service '%s': cannot start its thread: %s\n", conf->svc[i].name,
                    strerror(rc));
            /* threads already running read the keys: nothing may be freed under them */
            _exit(1);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    bool linear = false, check_only = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--linear")) {
            linear = true;
        } else if (!strcmp(argv[i], "--check-config")) {
            check_only = true;
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            path = argv[++i];
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 0;
        } else {
            fprintf(stderr, "csrv: unknown argument '%s'\n", argv[i]);
            usage();
            return 2;
        }
    }
    if (!path) {
        usage();
        return 2;
    }
    struct conf conf;
    char err[512];
    if (conf_load(path, &conf, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (check_only) {
        printf("%s: %zu services, key_bytes %ld, rounds %ld\n", path, conf.n, conf.key_bytes,
               conf.rounds);
        conf_free(&conf);
        return 0;
    }

    /* Blocked before any thread starts, so every thread inherits the mask and
     * only the sigwait below takes these signals. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    unsigned char **keys = calloc(conf.n, sizeof *keys);
    struct service *svc = calloc(conf.n, sizeof *svc);
    if (!keys || !svc) {
        fprintf(stderr, "csrv: out of memory for %zu services\n", conf.n);
        return 1;
    }
    int rc = start_services(&conf, linear, keys, svc);
    if (rc != 0) {
        /* freed, so a sanitizer build's leak check passes on this exit too */
        for (size_t i = 0; i < conf.n; i++) {
            if (svc[i].listen_fd >= 0)
                close(svc[i].listen_fd);
            free(keys[i]);
        }
        free(keys);
        free(svc);
        conf_free(&conf);
        return rc;
    }
    fprintf(stderr, "csrv: %zu services up (%s peers_compare, key %ld bytes, %ld rounds)\n", conf.n,
            linear ? "linear" : "quadratic", conf.key_bytes, conf.rounds);

    int sig = 0;
    while (sigwait(&stop, &sig) != 0)
        ;
    fprintf(stderr, "csrv: %s, exiting\n", strsignal(sig));
    /* the service threads never return; _exit skips tearing down under them */
    _exit(0);
}
