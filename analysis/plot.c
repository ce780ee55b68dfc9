/*
 * plot: renders the analysis plots with the gnuplot CLI. Writes the data
 * (plot_obs.dat, plot_levels.dat) and one script (plots.gp) into the report
 * folder, then runs `gnuplot plots.gp` with posix_spawn (no shell) for SVG,
 * and PNG via pngcairo when this gnuplot has it (else the libgd png terminal).
 * The data and script stay beside the plots so a person can re-render them.
 * SCALEPROF_GNUPLOT names another gnuplot binary (tests use it to simulate a
 * machine without one).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "analyze.h"

extern char **environ;

/* Runs gnuplot on script with output to log; returns its exit status, or -1
 * (errno ENOENT when gnuplot is not installed). Bounded to 60 s. */
static int run_gnuplot(const char *script, const char *log)
{
    const char *bin = getenv("SCALEPROF_GNUPLOT");
    if (!bin || !*bin)
        bin = "gnuplot";
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    char *argv[] = {(char *)bin, (char *)script, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, bin, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    struct timespec start, now, nap = {0, 5 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        int st;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
        if (w < 0 && errno != EINTR)
            return -1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 60) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            errno = ETIMEDOUT;
            return -1;
        }
        nanosleep(&nap, NULL);
    }
}

static bool has_pngcairo(const char *outdir, const char *log)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/.probe.gp", outdir);
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    fputs("set terminal pngcairo\n", f);
    fclose(f);
    int rc = run_gnuplot(path, log);
    unlink(path);
    return rc == 0;
}

/* Quotes s for a gnuplot single-quoted string. */
static void gp_quote(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("''", f);
        else
            fputc(*s, f);
    }
    fputc('\'', f);
}

static void add_plot(struct plot_set *ps, const char *name, const char *title)
{
    if (ps->count >= 8)
        return;
    snprintf(ps->names[ps->count], sizeof(ps->names[0]), "%s", name);
    snprintf(ps->titles[ps->count], sizeof(ps->titles[0]), "%s", title);
    ps->count++;
}

static int write_data(const struct analysis *an, const char *outdir, struct buf *err)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/plot_obs.dat", outdir);
    FILE *f = fopen(path, "w");
    if (!f)
        goto fail;
    fputs("# N cpu_percent cpu_percent_per_service\n", f);
    for (size_t i = 0; i < an->nobs; i++)
        fprintf(f, "%g %.9g %.9g\n", an->n[i], an->y[i], an->y[i] / an->n[i]);
    if (fclose(f) != 0)
        goto fail;
    snprintf(path, sizeof(path), "%s/plot_levels.dat", outdir);
    f = fopen(path, "w");
    if (!f)
        goto fail;
    fprintf(f,
            "# N cpu_mean cpu_per_service %s_per_service_kib threads_per_service "
            "cumulative task stack (tasks in report order, then the remainder)\n",
            an->res.mem_source && !strcmp(an->res.mem_source, "PSS") ? "pss" : "rss");
    for (size_t l = 0; l < an->nlevels; l++) {
        const struct level *lv = &an->levels[l];
        fprintf(f, "%g %.9g %.9g %.9g %.9g", lv->n, lv->cpu_mean, lv->cpu_per_service,
                lv->mem_per_service / 1024.0, lv->threads_per_service);
        double cum = 0;
        for (size_t t = 0; t + 1 < an->ntasks; t++) {
            cum += lv->task_mean[t];
            fprintf(f, " %.9g", cum);
        }
        fprintf(f, " %.9g\n", lv->cpu_mean); /* the remainder tops up to the total */
    }
    if (fclose(f) != 0)
        goto fail;
    return 0;
fail:
    buf_printf(err, "cannot write %s: %s", path, strerror(errno));
    return -1;
}

/* The top functions' CPU vs N, from report_functions.c's plot_functions.dat
 * and .names (absent without profiles). Returns whether it was drawn. */
static bool write_functions_plot(FILE *f, const char *outdir, const char *ext)
{
    char path[4200], line[512];
    snprintf(path, sizeof(path), "%s/plot_functions.names", outdir);
    FILE *nf = fopen(path, "r");
    snprintf(path, sizeof(path), "%s/plot_functions.dat", outdir);
    if (!nf || access(path, R_OK) != 0) {
        if (nf)
            fclose(nf);
        return false;
    }
    fprintf(f,
            "set output 'functions_cpu.%s'\nset title 'Top functions: self CPU vs N'\n"
            "set ylabel 'CPU %% of one core'\n",
            ext);
    int col = 2;
    while (col < 10 && fgets(line, sizeof(line), nf)) {
        line[strcspn(line, "\n")] = '\0';
        fprintf(f, "%s'plot_functions.dat' using 1:%d with linespoints title ",
                col == 2 ? "plot " : ", ", col);
        gp_quote(f, line);
        col++;
    }
    fclose(nf);
    fputs(col == 2 ? "plot 0 notitle\n" : "\n", f);
    return col > 2;
}

static void write_plots(FILE *f, const struct analysis *an, const char *ext)
{
    const struct fit_result *r = &an->fit;
    double lo = an->nlevels ? an->levels[0].n : 1;
    double hi = an->nlevels ? an->levels[an->nlevels - 1].n : 2;
    double pad = (hi - lo) * 0.05 + 1e-9;
    fprintf(f, "set xrange [%g:%g]\nset key top left noenhanced\nset grid\n", lo - pad, hi + pad);
    fprintf(f, "a=%.12g; b=%.12g; c=%.12g\n", isfinite(r->a) ? r->a : 0, isfinite(r->b) ? r->b : 0,
            isfinite(r->c) ? r->c : 0);
    bool fit = an->design_ok;

    fprintf(f,
            "set output 'cpu_per_service.%s'\nset title 'CPU per service vs N'\n"
            "set xlabel 'services (N)'\nset ylabel 'CPU %% of one core per service'\n",
            ext);
    fprintf(f, "plot 'plot_obs.dat' using 1:3 with points pt 7 ps 0.6 title 'each run', "
               "'plot_levels.dat' using 1:3 with linespoints pt 5 title 'mean per N'");
    if (fit)
        fprintf(f, ", (a + b*x + c*x*x)/x with lines lw 2 title 'fit (a+bN+cN^2)/N', "
                   "b + 2*c*x with lines dt 3 title 'marginal b+2cN', "
                   "b with lines dt 2 lw 2 title 'linear part b (flat)'");
    fputs("\n", f);

    fprintf(f,
            "set output 'total_cpu.%s'\nset title 'Total CPU vs N'\n"
            "set ylabel 'CPU %% of one core'\n",
            ext);
    fprintf(f, "plot 'plot_obs.dat' using 1:2 with points pt 7 ps 0.6 title 'each run'");
    if (fit)
        fprintf(f, ", a + b*x + c*x*x with lines lw 2 title 'fit a+bN+cN^2', "
                   "a + b*x with lines dt 2 title 'linear part a+bN'");
    fputs("\n", f);

    fprintf(f,
            "set output 'tasks_stacked.%s'\nset title 'CPU by task vs N (stacked)'\n"
            "set ylabel 'CPU %% of one core'\nset style fill solid 0.6 border -1\n",
            ext);
    fputs("plot ", f);
    /* Draw the tallest band first so each lower band paints over it. */
    for (size_t t = an->ntasks; t-- > 0;) {
        fprintf(f, "'plot_levels.dat' using 1:%zu with filledcurves x1 title ", 6 + t);
        gp_quote(f, an->tasks[t].name);
        fputs(t ? ", " : "\n", f);
    }
    if (an->ntasks == 0)
        fputs("'plot_levels.dat' using 1:2 with filledcurves x1 title 'total'\n", f);
    fputs("set style fill empty\n", f);

    const char *mem = an->res.mem_source ? an->res.mem_source : "RSS";
    fprintf(f,
            "set output 'threads_rss.%s'\nset title 'Threads and %s per service vs N'\n"
            "set ylabel 'threads per service'\nset y2label '%s per service (KiB)'\n"
            "set y2tics\nset ytics nomirror\n",
            ext, mem, mem);
    fprintf(f,
            "plot 'plot_levels.dat' using 1:5 with linespoints pt 7 title 'threads/service' "
            "axes x1y1, 'plot_levels.dat' using 1:4 with linespoints pt 5 "
            "title '%s/service (KiB)' axes x1y2\n",
            mem);
    fputs("unset y2tics\nunset y2label\nset ytics mirror\n", f);
}

int plot_render(const struct analysis *an, const char *outdir, struct plot_set *ps, struct buf *err)
{
    memset(ps, 0, sizeof(*ps));
    add_plot(ps, "cpu_per_service", "CPU per service vs N, with the fit and its linear part");
    add_plot(ps, "total_cpu", "Total CPU vs N with the fit");
    add_plot(ps, "tasks_stacked", "CPU by /metrics task vs N, stacked");
    char title[64];
    snprintf(title, sizeof(title), "Threads and %s per service vs N",
             an->res.mem_source ? an->res.mem_source : "RSS");
    add_plot(ps, "threads_rss", title); /* the name stays: it is a file name and a key */
    if (an->nlevels == 0) {
        snprintf(ps->note, sizeof(ps->note), "no usable points to plot");
        return 0;
    }
    if (write_data(an, outdir, err) != 0)
        return -1;
    char log[4200], script[4200];
    snprintf(log, sizeof(log), "%s/gnuplot.log", outdir);
    snprintf(script, sizeof(script), "%s/plots.gp", outdir);
    unlink(log);
    bool cairo = has_pngcairo(outdir, log);
    FILE *f = fopen(script, "w");
    if (!f) {
        buf_printf(err, "cannot write %s: %s", script, strerror(errno));
        return -1;
    }
    fputs("# Generated by scaleprof analyze; re-render with: gnuplot plots.gp\n", f);
    fputs("cd ", f);
    gp_quote(f, outdir);
    fputs("\n", f);
    fputs("set terminal svg size 800,500 dynamic enhanced font 'sans,12' background rgb "
          "'white'\n",
          f);
    write_plots(f, an, "svg");
    if (write_functions_plot(f, outdir, "svg"))
        add_plot(ps, "functions_cpu", "Top functions' self CPU vs N (from the profiles)");
    if (cairo)
        fputs("set terminal pngcairo size 800,500 font 'sans,10'\n", f);
    else
        fputs("set terminal png size 800,500\n", f);
    write_plots(f, an, "png");
    write_functions_plot(f, outdir, "png");
    if (fclose(f) != 0) {
        buf_printf(err, "cannot write %s", script);
        return -1;
    }
    int rc = run_gnuplot(script, log);
    if (rc < 0 && errno == ENOENT) {
        snprintf(ps->note, sizeof(ps->note),
                 "gnuplot is not installed (apt-get install "
                 "gnuplot-nox); the tables are complete");
        return 0;
    }
    if (rc != 0) {
        snprintf(ps->note, sizeof(ps->note), "gnuplot failed (status %d); see %.180s", rc, log);
        return 0;
    }
    for (size_t i = 0; i < ps->count; i++) {
        char p[4200];
        snprintf(p, sizeof(p), "%s/%s.svg", outdir, ps->names[i]);
        if (access(p, R_OK) != 0) {
            snprintf(ps->note, sizeof(ps->note), "gnuplot did not write %.31s.svg; see %.180s",
                     ps->names[i], log);
            return 0;
        }
    }
    ps->done = true;
    return 0;
}
