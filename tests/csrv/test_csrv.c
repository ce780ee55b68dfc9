/*
 * test_csrv: the csrv binary on loopback. A hand-written 3-service config
 * starts one thread per service and every port answers GET with 200; SIGTERM
 * exits 0; a malformed config exits 2 with "FILE:LINE: "; a taken port exits 1
 * naming the service; the committed template (expanded here the way
 * `scaleprof gen --template` is specified to) and example config are accepted.
 *
 *   test_csrv CSRV TEMPLATE EXAMPLE
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "itest.h"

static const char *csrv, *template_path, *example_path;
static char dir[64];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Runs csrv with args to completion (at most 5 s); returns its exit status,
 * its stderr+stdout in the static buffer *out. */
static int run_csrv(const char *a1, const char *a2, const char *a3, char **out)
{
    char log[128];
    snprintf(log, sizeof log, "%s/run.log", dir);
    char *argv[] = {(char *)csrv, (char *)a1, (char *)a2, (char *)a3, NULL};
    pid_t pid = itest_spawn(argv, log);
    assert_true(pid > 0);
    int status = itest_signal_wait(pid, 0, 5000); /* signal 0: just wait */
    *out = read_file(log);
    return status;
}

static int thread_count(pid_t pid)
{
    char path[64], *text;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    text = read_file(path);
    char *t = text ? strstr(text, "\nThreads:") : NULL;
    return t ? atoi(t + 9) : -1;
}

static void test_serves_200_on_every_port_and_exits_0_on_sigterm(void **state)
{
    int ports[3];
    char conf[1024], path[128], log[128];
    int n = snprintf(conf, sizeof conf, "# three services\nrounds = 2\n");
    for (int i = 0; i < 3; i++) {
        ports[i] = itest_free_port();
        assert_true(ports[i] > 0);
        n += snprintf(conf + n, sizeof conf - (size_t)n, "[service s%d]\nport = %d\n", i, ports[i]);
    }
    snprintf(path, sizeof path, "%s/three.conf", dir);
    snprintf(log, sizeof log, "%s/three.log", dir);
    write_file(path, conf);
    char *argv[] = {(char *)csrv, "--config", path, NULL};
    pid_t pid = itest_spawn(argv, log);
    for (int i = 0; i < 3; i++)
        assert_true(itest_wait_port(ports[i], pid, 5000));
    for (int i = 0; i < 3; i++) {
        struct itest_resp r;
        assert_int_equal(itest_get(ports[i], "/", &r), 200);
        char want[32];
        snprintf(want, sizeof want, "csrv s%d 200", i);
        assert_non_null(strstr(r.body, want));
        itest_resp_free(&r);
    }
    /* one thread per service beside main */
    assert_int_equal(thread_count(pid), 4);
    assert_int_equal(itest_signal_wait(pid, SIGTERM, 3000), 0);
}

/* Malformed configs through the real start-up path: exit 2, "FILE:LINE: ". */
static void test_bad_config_exits_2_with_file_and_line(void **state)
{
    static const struct {
        const char *text;
        int line;
        const char *words;
    } rows[] = {
        {"[service a]\nport = 1\n\nbogus line\n", 4, "expected 'key = value'"},
        {"[service a]\nport = 1\n[service b]\n", 3, "service 'b' has no port"},
        {"rounds = 0\n[service a]\nport = 1\n", 1, "rounds: 0 is out of range"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char path[128], want[192], *out;
        snprintf(path, sizeof path, "%s/bad%zu.conf", dir, i);
        write_file(path, rows[i].text);
        assert_int_equal(run_csrv("--config", path, NULL, &out), 2);
        snprintf(want, sizeof want, "%s:%d: ", path, rows[i].line);
        if (strncmp(out, want, strlen(want)) != 0 || !strstr(out, rows[i].words))
            fail_msg("row %zu: output '%s', wanted '%s%s'", i, out, want, rows[i].words);
    }
    char *out;
    assert_int_equal(run_csrv("--config", "/nonexistent/x.conf", NULL, &out), 2);
    assert_non_null(strstr(out, "/nonexistent/x.conf: cannot open"));
    assert_int_equal(run_csrv("--bogus", NULL, NULL, &out), 2);
}

static void test_taken_port_exits_1_naming_the_service(void **state)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 1), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    char conf[128], path[128], *out;
    snprintf(conf, sizeof conf, "[service busy]\nport = %d\n", ntohs(a.sin_port));
    snprintf(path, sizeof path, "%s/busy.conf", dir);
    write_file(path, conf);
    assert_int_equal(run_csrv("--config", path, NULL, &out), 1);
    assert_non_null(strstr(out, "service 'busy': listen on 127.0.0.1:"));
    close(fd);
}

/* Replaces every {key} in line with its value; writes to f. */
static void expand_line(FILE *f, const char *line, const char *const keys[][2], size_t nkeys)
{
    for (const char *p = line; *p;) {
        size_t k = 0;
        for (; k < nkeys; k++)
            if (!strncmp(p, keys[k][0], strlen(keys[k][0])))
                break;
        if (k < nkeys) {
            fputs(keys[k][1], f);
            p += strlen(keys[k][0]);
        } else {
            fputc(*p++, f);
        }
    }
}

/* The template language as issue 19 specifies it: the lines between
 * {{#services}} and {{/services}} repeat per service; placeholders anywhere. */
static void expand_template(const char *out_path, int count)
{
    FILE *in = fopen(template_path, "r"), *out = fopen(out_path, "w");
    assert_non_null(in);
    assert_non_null(out);
    char lines[64][256];
    size_t nl = 0, open_at = 0, close_at = 0;
    while (nl < 64 && fgets(lines[nl], sizeof lines[nl], in)) {
        if (!strncmp(lines[nl], "{{#services}}", 13))
            open_at = nl;
        if (!strncmp(lines[nl], "{{/services}}", 13))
            close_at = nl;
        nl++;
    }
    fclose(in);
    assert_true(open_at < close_at);
    for (int s = -1; s <= count; s++) {
        char name[32], index[16], port[16], upstream[64];
        snprintf(name, sizeof name, "svc-%03d", s);
        snprintf(index, sizeof index, "%d", s);
        snprintf(port, sizeof port, "%d", 30000 + s);
        snprintf(upstream, sizeof upstream, "http://127.0.0.1:%d", 31000 + s);
        const char *const keys[][2] = {{"{name}", name},
                                       {"{index}", index},
                                       {"{port}", port},
                                       {"{upstream}", upstream},
                                       {"{admin}", "127.0.0.1:9099"}};
        size_t from = s < 0 ? 0 : s == count ? close_at + 1 : open_at + 1;
        size_t to = s < 0 ? open_at : s == count ? nl : close_at;
        for (size_t i = from; i < to; i++)
            expand_line(out, lines[i], keys, 5);
    }
    assert_int_equal(fclose(out), 0);
}

static void test_template_and_example_are_valid_configs(void **state)
{
    char path[128], *out;
    snprintf(path, sizeof path, "%s/from-template.conf", dir);
    expand_template(path, 5);
    assert_int_equal(run_csrv("--check-config", "--config", path, &out), 0);
    assert_non_null(strstr(out, ": 5 services"));
    assert_int_equal(run_csrv("--check-config", "--config", example_path, &out), 0);
    assert_non_null(strstr(out, ": 3 services"));
}

static int make_dir(void **state)
{
    strcpy(dir, "/tmp/test_csrv.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: test_csrv CSRV TEMPLATE EXAMPLE\n");
        return 2;
    }
    csrv = argv[1];
    template_path = argv[2];
    example_path = argv[3];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serves_200_on_every_port_and_exits_0_on_sigterm),
        cmocka_unit_test(test_bad_config_exits_2_with_file_and_line),
        cmocka_unit_test(test_taken_port_exits_1_naming_the_service),
        cmocka_unit_test(test_template_and_example_are_valid_configs),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
