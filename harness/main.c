/*
 * scaleprof: the one command line. gen and sweep live in harness/; analyze,
 * gate, top and diff live in analysis/ (commands.h) and are only dispatched
 * from here, so the harness and the analysis stay apart.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "gen.h"
#include "record.h"
#include "sweep.h"
#include "target.h"
#include "version.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: scaleprof COMMAND [ARGS]\n"
                 "\n"
                 "  gen      write target configs for a range of service counts\n"
                 "  sweep    run the target at each count and collect profiles and statistics\n"
                 "  analyze  fit cost against service count and write results/report/\n"
                 "  gate     CI gate on CPU per service (exit 1 on a regression)\n"
                 "  top      top functions of a CPU profile\n"
                 "  diff     compare two sweeps\n"
                 "  record   profile a running process tree with perf (pprof out)\n"
                 "  help     this text; `scaleprof COMMAND --help` for a command's flags\n"
                 "  --version\n");
}

int main(int argc, char **argv)
{
    target_remember_limits(); /* before anything raises them */
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } commands[] = {
        {"gen", cmd_gen}, {"sweep", cmd_sweep}, {"analyze", cmd_analyze}, {"gate", cmd_gate},
        {"top", cmd_top}, {"diff", cmd_diff},   {"record", cmd_record},
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(cmd, commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("scaleprof %s\n", SCALEPROF_VERSION);
        return 0;
    }
    fprintf(stderr, "scaleprof: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
