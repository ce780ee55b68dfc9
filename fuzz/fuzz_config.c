/*
 * fuzz_config: libFuzzer target for refproxy's config loader (config_load in
 * proxy/config*.c). config_load takes a path, so each input is written to one
 * memfd and loaded through /proc/self/fd/N (no disk I/O per run).
 *
 * Invariants besides the sanitizers: a rejection is a message that starts
 * with "path:line:column: " and leaves no config to free; an accepted config
 * has at least one service, every service a non-empty, unique name and a
 * resolved listen address; loading the same bytes twice gives the same
 * verdict and the same message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

static int memfd = -1;
static char path[64];
static FILE *devnull;

static void write_input(const uint8_t *data, size_t size)
{
    if (ftruncate(memfd, 0) < 0 || pwrite(memfd, data, size, 0) != (ssize_t)size)
        abort();
}

static void check_accepted(const struct config *cfg)
{
    if (cfg->num_services == 0 || !cfg->services)
        abort();
    for (size_t i = 0; i < cfg->num_services; i++) {
        const struct service_config *s = &cfg->services[i];
        if (!s->name || !s->name[0] || s->listen_len == 0 || !s->listen_text)
            abort();
        for (size_t j = 0; j < i; j++)
            if (!strcmp(cfg->services[j].name, s->name))
                abort();
    }
}

static void check_rejected(const char *err)
{
    size_t n = strlen(path);
    if (strncmp(err, path, n) || err[n] != ':')
        abort();
    unsigned line, column;
    int used = 0;
    if (sscanf(err + n, ":%u:%u: %n", &line, &column, &used) != 2 || used == 0 || line == 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memfd < 0) {
        memfd = memfd_create("fuzz_config", MFD_CLOEXEC);
        devnull = fopen("/dev/null", "w");
        if (memfd < 0 || !devnull)
            abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
    }
    write_input(data, size);
    struct config cfg;
    char *err = config_load(path, &cfg, devnull);
    if (err)
        check_rejected(err);
    else
        check_accepted(&cfg);

    struct config again;
    char *err2 = config_load(path, &again, devnull);
    if ((err == NULL) != (err2 == NULL) || (err && strcmp(err, err2)))
        abort();
    if (!err2) {
        if (again.num_services != cfg.num_services)
            abort();
        config_free(&again);
    }
    if (!err)
        config_free(&cfg);
    free(err);
    free(err2);
    return 0;
}
