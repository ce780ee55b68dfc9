/*
 * opts: the option parsing every scaleprof command shares (git's parse-options
 * shape: one helper serves every command). A command keeps one getopt_long
 * table, one usage text and one switch; this module runs getopt_long, prints
 * the usage text for --help/-h, parses values, and gives every bad option or
 * value the same two lines on stderr:
 *
 *   scaleprof sweep: --duration: expected whole seconds in 1..86400, got 'x'
 *   see 'scaleprof sweep --help'
 *
 * after which the command exits OPTS_USAGE (2). Adding an option is one table
 * row and one case.
 *
 *   static const char usage[] = "usage: scaleprof top PROFILE [-n 20]\n";
 *   static const struct option table[] = {{"binary", required_argument, NULL, 'b'},
 *                                          {NULL, 0, NULL, 0}};
 *   struct opts o;
 *   opts_init(&o, "top", usage, table, "n:", argc, argv);
 *   int c;
 *   while ((c = opts_next(&o)) != OPTS_END) {
 *       switch (c) {
 *       case OPTS_STOP: return o.exit;          // --help printed, or an error
 *       case OPTS_ARG: path = o.arg; break;     // a positional argument
 *       case 'b': binary = o.arg; break;
 *       case 'n': if (opts_whole(&o, "a count", 1, LONG_MAX, &n) < 0) return OPTS_USAGE;
 *       }
 *   }
 *
 * What a command line may say:
 * - `--opt value` and `--opt=value`; short options as getopt has them (`-n 5`, `-n5`).
 * - Long names are exact: getopt_long's unambiguous-prefix matching is refused
 *   (`--dur` is not `--duration`), so adding an option never changes what an
 *   existing command line means; an unknown name gets a "did you mean".
 * - Positional arguments come back in order (OPTS_ARG), wherever they stand
 *   among the options; after `--` everything is positional.
 * - --help and -h are every command's: opts_init adds them to the table.
 *
 * getopt_long keeps global state: opts_init resets it (glibc's optind = 0) so
 * a command can run many times in one process (the tests call cmd_* directly).
 * Not thread-safe, like getopt itself. argv is never reordered.
 */
#ifndef SCALEPROF_OPTS_H
#define SCALEPROF_OPTS_H

#include <getopt.h>
#include <stddef.h>

/* The exit status of a usage error. */
#define OPTS_USAGE 2
/* opts_next: no more arguments. */
#define OPTS_END (-1)
/* opts_next: stop parsing and return o.exit (0 after --help, OPTS_USAGE after
 * an error, whose message is already on stderr). */
#define OPTS_STOP (-2)
/* opts_next: a positional argument, in o.arg. */
#define OPTS_ARG 1
/* The most long options one command may have (its table, plus --help). */
#define OPTS_MAX 40
/* Upper bound of opts_seconds: a day. */
#define OPTS_MAX_SECONDS 86400.0

/* opts_number: the range's ends are excluded. */
#define OPTS_OPEN_LO 1u
#define OPTS_OPEN_HI 2u

struct opts {
    const char *cmd;   /* "sweep": messages begin "scaleprof sweep: " */
    const char *usage; /* printed by --help (stdout) */
    int argc;
    char **argv;
    /* After opts_next returned an option or OPTS_ARG: */
    const char *name; /* "--duration" or "-n" as given, for messages */
    const char *arg;  /* its value (NULL for a flag), or the positional argument */
    int exit;         /* after OPTS_STOP: the command's exit status */
    /* private */
    struct option longopts[OPTS_MAX + 2];
    char shortopts[64];
    char name_buf[64];
    int rest; /* after "--": the next positional index; 0 while options run */
};

/* Prepares to parse argv[1..argc) of command cmd (argv[0] is the command's
 * name and is skipped). table ends with a zero row and holds no "help" row;
 * every val is an option character or a value above 255, never 0, 1, 'h',
 * '?' or ':' (getopt's own answers).
 * shortopts is getopt's ("n:"), without h. cmd, usage, table and argv must
 * outlive the parse. Aborts on a table larger than OPTS_MAX (a programming
 * error). */
void opts_init(struct opts *o, const char *cmd, const char *usage, const struct option *table,
               const char *shortopts, int argc, char **argv);

/* The next option's val, OPTS_ARG, OPTS_END, or OPTS_STOP (see above). An
 * unknown option, a missing value or a value given to a flag prints its
 * error and stops. */
int opts_next(struct opts *o);

/* Prints "scaleprof CMD: <message>" and the pointer to --help on stderr, for
 * errors that are not about one option's value (a missing required option, an
 * extra argument). Returns OPTS_USAGE, so `return opts_error(&o, ...)`. */
int opts_error(const struct opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "scaleprof CMD: NAME: expected <what>, got 'ARG'" and the pointer to
 * --help, about the current option. Returns -1. */
int opts_bad_value(const struct opts *o, const char *expected);

/*
 * Value parsers for the current option's o.arg. Each returns 0 and sets *out,
 * or prints the error naming the option and the range (opts_bad_value) and
 * returns -1, leaving *out alone.
 */
/* A finite number in [lo, hi]; flags OPTS_OPEN_LO/OPTS_OPEN_HI exclude an
 * end; hi may be INFINITY. what names it in the message ("a number"). */
int opts_number(const struct opts *o, const char *what, double lo, double hi, unsigned flags,
                double *out);
/* Seconds in [lo, OPTS_MAX_SECONDS], fractions allowed. */
int opts_seconds(const struct opts *o, double lo, double *out);
/* A whole number in lo..hi ("30", also "30.0" or "3e1": any number that is whole). */
int opts_whole(const struct opts *o, const char *what, long lo, long hi, long *out);
/* Decimal digits only, up to ULONG_MAX (a seed). */
int opts_ulong(const struct opts *o, unsigned long *out);
/* One of choices (NULL-terminated); *index is its position. */
int opts_choice(const struct opts *o, const char *const *choices, int *index);

#endif
