/* target: start and stop the process under test. See target.h. */
#include "target.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

extern char **environ;

char *target_shell_quote(const char *s)
{
    struct buf b;
    buf_init(&b, 0);
    buf_puts(&b, "'");
    for (const char *p = s; *p; p++) {
        if (*p == '\'')
            buf_puts(&b, "'\\''");
        else
            buf_append(&b, p, 1);
    }
    buf_puts(&b, "'");
    return buf_detach(&b, NULL);
}

static char *fill_template(const char *tmpl, const char *config)
{
    char *quoted = target_shell_quote(config);
    struct buf b;
    buf_init(&b, 0);
    bool used = false;
    for (const char *p = tmpl; *p;) {
        if (!strncmp(p, "{config}", 8)) {
            buf_puts(&b, quoted);
            p += 8;
            used = true;
        } else {
            buf_append(&b, p++, 1);
        }
    }
    if (!used)
        buf_printf(&b, " %s", quoted);
    free(quoted);
    return buf_detach(&b, NULL);
}

/* environ with extra's names replaced; the array is malloc'd, strings are borrowed. */
static char **build_env(const char *const *extra)
{
    size_t n = 0, k = 0;
    while (environ[n])
        n++;
    while (extra && extra[k])
        k++;
    char **env = calloc(n + k + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        bool replaced = false;
        for (size_t j = 0; j < k; j++) {
            size_t len = strcspn(extra[j], "=");
            if (!strncmp(environ[i], extra[j], len + 1))
                replaced = true;
        }
        if (!replaced)
            env[out++] = environ[i];
    }
    for (size_t j = 0; j < k; j++)
        env[out++] = (char *)extra[j];
    return env;
}

char *target_start(struct target *t, const char *cmd_template, const char *config,
                   const char *log_path, const char *const *extra_env)
{
    memset(t, 0, sizeof *t);
    t->command = fill_template(cmd_template, config);
    char *msg = NULL;
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
        if (asprintf(&msg, "%s: %s", log_path, strerror(errno)) < 0)
            msg = NULL;
        return msg ? msg : strdup("cannot open the target log");
    }
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    size_t len = strlen(t->command) + 8;
    char *script = malloc(len);
    char **env = build_env(extra_env);
    if (!script || !env || null_fd < 0) {
        free(script);
        free(env);
        close(log_fd);
        if (null_fd >= 0)
            close(null_fd);
        return strdup("out of memory starting the target");
    }
    snprintf(script, len, "exec %s", t->command);
    char *argv[] = {"/bin/sh", "-c", script, NULL};
    /* orphans of the target (its children once it died) become ours, so target_stop can
     * reap every member of the group: nothing is left behind, not even a zombie */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    pid_t parent = getpid();
    struct rlimit files = target_nofile_limit();
    pid_t pid = fork();
    if (pid == 0) {
        /* child: async-signal-safe calls only until execve */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        /* the open-file limit scaleprof was started with, not the one its load
         * generator or perf profiler raised it to: every point, with --load or
         * without, runs the target under the same limit */
        setrlimit(RLIMIT_NOFILE, &files);
        dup2(null_fd, 0);
        dup2(log_fd, 1);
        dup2(log_fd, 2);
        execve("/bin/sh", argv, env);
        _exit(127);
    }
    int err = errno;
    free(script);
    free(env);
    close(log_fd);
    close(null_fd);
    if (pid < 0) {
        if (asprintf(&msg, "fork: %s", strerror(err)) < 0)
            msg = NULL;
        return msg ? msg : strdup("fork failed");
    }
    setpgid(pid, pid); /* also here, so the group exists before we ever signal it */
    t->pid = pid;
    proctree_init(&t->tree, pid);
    return NULL;
}

static struct rlimit nofile_at_start;
static bool nofile_known;

void target_remember_limits(void)
{
    nofile_known = getrlimit(RLIMIT_NOFILE, &nofile_at_start) == 0;
}

struct rlimit target_nofile_limit(void)
{
    struct rlimit now;
    if (nofile_known)
        return nofile_at_start;
    getrlimit(RLIMIT_NOFILE, &now);
    return now;
}

/* waitpid that adds what it reaped to the tree's CPU: every member we reap is the
 * target's, and its rusage (with its own reaped children) is CPU the tree used. */
static pid_t reap(struct target *t, pid_t which, int *status, int flags)
{
    struct rusage ru;
    pid_t r = wait4(which, status, flags, &ru);
    if (r > 0)
        proctree_add_reaped(&t->tree, &ru);
    return r;
}

static void leader_reaped(struct target *t, int status)
{
    t->reaped = true;
    t->status = status;
    kill(-t->pid, SIGKILL); /* anything the leader left in its group */
}

int target_read(struct target *t, struct procstat *s, bool full)
{
    if (t->pid <= 0) {
        errno = ESRCH;
        return -1;
    }
    /* bounded: a target forking faster than we reap still gets read */
    for (int i = 0; i < 4096; i++) {
        int status;
        pid_t r = reap(t, -t->pid, &status, WNOHANG);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (r == t->pid)
            leader_reaped(t, status);
    }
    if (t->reaped) {
        memset(s, 0, sizeof *s);
        errno = ESRCH;
        return -1;
    }
    return proctree_read(&t->tree, s, full);
}

bool target_exited(struct target *t)
{
    if (t->pid <= 0 || t->reaped)
        return true;
    int status;
    pid_t r = reap(t, t->pid, &status, WNOHANG);
    if (r == t->pid || (r < 0 && errno == ECHILD)) {
        leader_reaped(t, r == t->pid ? status : 0);
        return true;
    }
    return false;
}

/* After SIGKILL to the group: reap its members that were orphaned to us (we are a
 * subreaper), so they are gone, not just signalled, when we return. Bounded: 2 s. */
static void reap_group(struct target *t)
{
    struct timespec tick = {0, 5 * 1000 * 1000};
    for (int i = 0; i < 400; i++) {
        int status;
        pid_t r = reap(t, -t->pid, &status, WNOHANG);
        if (r < 0 && errno != EINTR)
            return; /* ECHILD: none left */
        if (r == 0)
            nanosleep(&tick, NULL);
    }
}

void target_stop(struct target *t, double grace_s)
{
    if (t->pid <= 0)
        return;
    if (t->reaped) {
        kill(-t->pid, SIGKILL);
        reap_group(t);
        return;
    }
    kill(-t->pid, SIGTERM);
    struct timespec tick = {0, 10 * 1000 * 1000};
    long rounds = (long)(grace_s * 100);
    for (long i = 0; i < rounds && !target_exited(t); i++)
        nanosleep(&tick, NULL);
    if (!target_exited(t)) {
        kill(-t->pid, SIGKILL);
        int status = 0;
        pid_t r;
        while ((r = reap(t, t->pid, &status, 0)) < 0 && errno == EINTR)
            ;
        t->reaped = true;
        t->status = r == t->pid ? status : 0; /* ECHILD: nothing to tell */
    }
    kill(-t->pid, SIGKILL);
    reap_group(t);
}

void target_describe_exit(const struct target *t, char *buf, size_t size)
{
    if (!t->reaped)
        snprintf(buf, size, "still running");
    else if (WIFEXITED(t->status))
        snprintf(buf, size, "exited with status %d", WEXITSTATUS(t->status));
    else if (WIFSIGNALED(t->status))
        snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(t->status),
                 strsignal(WTERMSIG(t->status)));
    else
        snprintf(buf, size, "ended with wait status %#x", t->status);
}

void target_free(struct target *t)
{
    free(t->command);
    t->command = NULL;
    proctree_free(&t->tree);
}
