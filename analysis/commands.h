/*
 * The analysis subcommands of scaleprof. harness/main.c only dispatches to
 * these; each takes the arguments after the subcommand name (argv[0] is the
 * subcommand) and returns the process exit status. `--help` prints each one's
 * usage text (beside its cmd_*); options parse through common/opts.h, and a
 * bad command line exits 2.
 *   top      PROFILE [--binary PATH] [--cum] [-n 20] [--alloc] [--objects]
 *                                                          0 ok, 2 bad input
 *   analyze  RESULTS [--out DIR] [--floor X] [--confidence P]
 *                                                          0 ok, 2 unusable input
 *   gate     RESULTS [--baseline FILE|DIR] [--max-ratio X] [--junit FILE] [--floor X]
 *            [--min-change X] [--confidence P] [--write-baseline FILE]
 *                                                          0 pass, 1 regression, 2 unusable
 *   diff     A B [--at N] [--binary PATH]                  0 ok, 2 unusable input
 */
#ifndef SCALEPROF_ANALYSIS_COMMANDS_H
#define SCALEPROF_ANALYSIS_COMMANDS_H

int cmd_top(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_gate(int argc, char **argv);
int cmd_diff(int argc, char **argv);

#endif
