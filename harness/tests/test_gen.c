/*
 * test_gen: `scaleprof gen` — the key table, value checks, count parsing, the
 * YAML it writes (read back through the sweep's own reader and libyaml), the
 * --load rewrite and the --load origin's respond config, and the point file
 * every target's config gets (read back through the sweep's reader).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "gen.h"
#include "outfile.h"
#include "pointcfg.h"
#include "pointfile.h"
#include "sweep.h"
#include "tasks/task_spec.h"
#include "test_util.h"

static void test_unknown_key_names_it_and_its_neighbours(void **state)
{
    static const struct {
        const char *key, *suggested;
    } cases[] = {
        {"tasks.portlst.mode", "tasks.portlist.mode"},  /* typo */
        {"idleThreads", "tasks.footprint.idleThreads"}, /* right name, wrong place */
        {"archtecture", "architecture"},
        {"limits.headerTimout", "limits.headerTimeout"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *canon = (char *)1;
        char *err = gen_check_setting(&gen_target_refproxy, cases[i].key, "1", &canon);
        assert_non_null(err);
        assert_null(canon);
        assert_non_null(strstr(err, cases[i].key));
        assert_non_null(strstr(err, "unknown"));
        assert_non_null(strstr(err, cases[i].suggested));
        free(err);
    }
    char *canon;
    char *err = gen_check_setting(&gen_target_tsnsrv, "tasks.portlist.mode", "off", &canon);
    assert_non_null(err); /* tsnsrv has no tasks */
    free(err);
}

static void test_values_are_checked_against_the_key_type(void **state)
{
    static const struct {
        const char *key, *value;
        int ok;
    } cases[] = {
        {"architecture", "shared", 1},
        {"architecture", "both", 0},
        {"workers", "2", 1},
        {"workers", "0", 0},
        {"workers", "two", 0},
        {"limits.headerTimeout", "5s", 1},
        {"limits.headerTimeout", "1m30s", 1},
        {"limits.headerTimeout", "250ms", 1},
        {"limits.headerTimeout", "7", 1},
        {"limits.headerTimeout", "5 s", 0},
        {"heapProfile", "true", 1},
        {"heapProfile", "yes please", 0},
        {"prometheusAddr", "127.0.0.1:9100", 1},
        {"prometheusAddr", "localhost", 0},
        {"tasks.timers.mode", "shared", 0},
        {"profileHz", "251", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *canon = NULL;
        char *err = gen_check_setting(&gen_target_refproxy, cases[i].key, cases[i].value, &canon);
        if (cases[i].ok) {
            assert_null(err);
            assert_string_equal(canon, cases[i].key);
        } else {
            assert_non_null(err);
            assert_non_null(strstr(err, cases[i].key));
        }
        free(err);
        free(canon);
    }
}

static void test_task_alias_becomes_the_mode_key(void **state)
{
    char *canon = NULL;
    assert_null(gen_check_setting(&gen_target_refproxy, "portlist", "off", &canon));
    assert_string_equal(canon, "tasks.portlist.mode");
    free(canon);
}

/* gen's tasks.* keys are refproxy's own task specs: every key of every task
 * (and its mode, and the task's short alias) is settable with a value the
 * spec allows, and a count outside the spec's range is refused, so gen
 * never writes a task config refproxy would reject. */
static void test_every_task_spec_key_is_settable(void **state)
{
    for (size_t i = 0; i < TASK_COUNT; i++) {
        const struct task_spec *s = task_specs[i];
        char key[128], *canon = NULL;
        snprintf(key, sizeof key, "tasks.%s.mode", s->name);
        assert_null(gen_check_setting(&gen_target_refproxy, key, "off", &canon));
        assert_string_equal(canon, key);
        free(canon);
        assert_null(gen_check_setting(&gen_target_refproxy, s->name, "per-service", &canon));
        assert_string_equal(canon, key);
        free(canon);
        char *err = gen_check_setting(&gen_target_refproxy, key, "shared", &canon);
        assert_true((err == NULL) == ((s->modes & (1u << TASK_SHARED)) != 0));
        free(err);
        free(canon);
        canon = NULL;
        for (size_t k = 0; k < s->nkeys; k++) {
            const struct task_key *tk = &s->keys[k];
            char ok[64], bad[64] = "";
            if (tk->kind == TASK_KEY_DURATION)
                snprintf(ok, sizeof ok, "%ums", tk->dflt);
            else if (tk->kind == TASK_KEY_COUNT) {
                snprintf(ok, sizeof ok, "%u", tk->max);
                snprintf(bad, sizeof bad, "%llu", (unsigned long long)tk->max + 1);
            } else {
                snprintf(ok, sizeof ok, "%s", tk->choices[0]);
                snprintf(bad, sizeof bad, "%s-not", tk->choices[0]);
            }
            snprintf(key, sizeof key, "tasks.%s.%s", s->name, tk->name);
            err = gen_check_setting(&gen_target_refproxy, key, ok, &canon);
            if (err)
                fail_msg("%s=%s: %s", key, ok, err);
            assert_string_equal(canon, key);
            free(canon);
            if (*bad) {
                err = gen_check_setting(&gen_target_refproxy, key, bad, &canon);
                assert_non_null(err);
                assert_null(canon);
                free(err);
            }
        }
    }
}

static void test_counts_and_geometric_series(void **state)
{
    int *v;
    size_t n;
    assert_null(gen_parse_counts("50,10,30,10", &v, &n));
    assert_int_equal(n, 3);
    assert_int_equal(v[0], 10);
    assert_int_equal(v[2], 50);
    free(v);
    assert_null(gen_parse_geometric("10..10000", &v, &n));
    assert_int_equal(n, 7);
    assert_int_equal(v[0], 10);
    assert_int_equal(v[6], 10000);
    for (size_t i = 1; i < n; i++) {
        assert_true(v[i] > v[i - 1]);
        /* geometric: every step is close to the same ratio, 10^0.5 */
        double ratio = (double)v[i] / v[i - 1];
        assert_true(ratio > 3.0 && ratio < 3.4);
    }
    free(v);
    const char *bad[] = {"", "10,,20", "0", "10..5", "abc", "10..100:1", "-5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *err = strchr(bad[i], '.') ? gen_parse_geometric(bad[i], &v, &n)
                                        : gen_parse_counts(bad[i], &v, &n);
        assert_non_null(err);
        free(err);
    }
}

static char *render_to_file(const struct gen_options *o, int n, const char *dir)
{
    struct buf b;
    buf_init(&b, 0);
    char *err = gen_render(o, n, &b);
    assert_null(err);
    assert_int_equal(outfile_write(dir, "c.yaml", b.data, b.len), 0);
    buf_free(&b);
    char *path;
    assert_true(asprintf(&path, "%s/c.yaml", dir) > 0);
    return path;
}

static void test_render_reads_back_with_sets_applied(void **state)
{
    char *dir = tu_tmpdir("gen");
    struct gen_setting sets[] = {
        {"architecture", "shared"},     {"workers", "2"},
        {"limits.headerTimeout", "5s"}, {"prometheusAddr", "127.0.0.1:9333"},
        {"service.timeout", "7s"},
    };
    struct gen_options o = {
        .target = &gen_target_refproxy, .sets = sets, .num_sets = 5, .base_port = 20000};
    char *path = render_to_file(&o, 3, dir);
    struct pointcfg pc;
    assert_null(pointcfg_read(path, &pc));
    assert_string_equal(pc.admin, "127.0.0.1:9333");
    assert_int_equal(pc.num_services, 3);
    assert_string_equal(pc.listen[0], "127.0.0.1:20001");
    assert_string_equal(pc.listen[2], "127.0.0.1:20003");
    pointcfg_free(&pc);
    char *text = tu_read(path);
    assert_non_null(strstr(text, "architecture: shared"));
    assert_non_null(strstr(text, "workers: 2"));
    assert_non_null(strstr(text, "headerTimeout: 5s"));
    assert_non_null(strstr(text, "timeout: 7s"));
    assert_null(strstr(text, "portlist")); /* shared: no per-service task defaults */
    free(text);
    free(path);

    /* the default: per-service with tsnsrv-like tasks, and respond services */
    struct gen_options d = {.target = &gen_target_refproxy, .base_port = 18000};
    path = render_to_file(&d, 2, dir);
    text = tu_read(path);
    assert_non_null(strstr(text, "architecture: per-service"));
    assert_non_null(strstr(text, "portlist:\n    mode: per-service"));
    assert_non_null(strstr(text, "respond:"));
    free(text);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

static void test_tsnsrv_render_has_its_fields(void **state)
{
    char *dir = tu_tmpdir("gen");
    struct gen_setting sets[] = {{"upstream", "http://127.0.0.1:9000"},
                                 {"prometheusAddr", "127.0.0.1:9444"}};
    struct gen_options o = {.target = &gen_target_tsnsrv, .sets = sets, .num_sets = 2};
    char *path = render_to_file(&o, 2, dir);
    char *text = tu_read(path);
    const char *fields[] = {"prometheusAddr: 127.0.0.1:9444",
                            "name: svc2",
                            "upstream: http://127.0.0.1:9000",
                            "ephemeral:",
                            "funnel:",
                            "listenAddr:",
                            "stateDir:",
                            "suppressWhois:",
                            "timeout:"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        assert_non_null(strstr(text, fields[i]));
    assert_null(strstr(text, "architecture"));
    free(text);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

static void test_load_rewrite_points_every_service_at_the_origin(void **state)
{
    char *dir = tu_tmpdir("gen");
    struct gen_options o = {.target = &gen_target_refproxy, .base_port = 18000};
    char *path = render_to_file(&o, 4, dir);
    struct buf b;
    buf_init(&b, 0);
    assert_null(pointcfg_rewrite_upstream(path, "http://127.0.0.1:4567", &b));
    assert_null(strstr(b.data, "respond"));
    int count = 0;
    for (const char *p = b.data; (p = strstr(p, "upstream: http://127.0.0.1:4567")); p++)
        count++;
    assert_int_equal(count, 4);
    assert_int_equal(outfile_write(dir, "r.yaml", b.data, b.len), 0);
    char *rpath;
    assert_true(asprintf(&rpath, "%s/r.yaml", dir) > 0);
    struct pointcfg pc;
    assert_null(pointcfg_read(rpath, &pc)); /* still valid YAML with the same services */
    assert_int_equal(pc.num_services, 4);
    pointcfg_free(&pc);
    buf_free(&b);
    free(rpath);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

/* The value of key in mapping n, or NULL. */
static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *n, const char *key)
{
    if (!n || n->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        if (k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, key))
            return yaml_document_get_node(doc, p->value);
    }
    return NULL;
}

/* The scalar at services[index].a[.b] of a loaded document, or NULL. */
static const char *service_scalar(yaml_document_t *doc, int index, const char *a, const char *b)
{
    yaml_node_t *services = map_get(doc, yaml_document_get_root_node(doc), "services");
    if (!services || services->type != YAML_SEQUENCE_NODE ||
        index >= services->data.sequence.items.top - services->data.sequence.items.start)
        return NULL;
    yaml_node_t *n = yaml_document_get_node(doc, services->data.sequence.items.start[index]);
    n = map_get(doc, n, a);
    if (b)
        n = map_get(doc, n, b);
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* The sweep's --load origin: written by gen's emitter, read back by the
 * sweep's reader and libyaml with its ports, names and body exact. */
static void test_respond_config_reads_back_with_its_ports_names_and_body(void **state)
{
    char *dir = tu_tmpdir("gen");
    const int ports[] = {21001, 21005, 21003};
    struct gen_respond_config c = {.comment = "an origin",
                                   .admin_addr = "127.0.0.1:9444",
                                   .name = "origin",
                                   .ports = ports,
                                   .count = 3,
                                   .status = 200,
                                   .body = "ok\n"};
    for (size_t count = 1; count <= 3; count += 2) {
        c.count = count;
        struct buf b;
        buf_init(&b, 0);
        assert_null(gen_render_respond(&c, &b));
        assert_int_equal(strncmp(b.data, "# an origin\n", 12), 0);
        assert_non_null(strstr(b.data, "architecture: shared"));
        assert_int_equal(outfile_write(dir, "o.yaml", b.data, b.len), 0);
        char *path;
        assert_true(asprintf(&path, "%s/o.yaml", dir) > 0);
        struct pointcfg pc;
        assert_null(pointcfg_read(path, &pc));
        assert_string_equal(pc.admin, "127.0.0.1:9444");
        assert_int_equal(pc.num_services, (int)count);
        for (size_t i = 0; i < count; i++) {
            char want[32];
            snprintf(want, sizeof want, "127.0.0.1:%d", ports[i]);
            assert_string_equal(pc.listen[i], want);
        }
        pointcfg_free(&pc);

        yaml_parser_t parser;
        yaml_document_t doc;
        yaml_parser_initialize(&parser);
        yaml_parser_set_input_string(&parser, (const unsigned char *)b.data, b.len);
        assert_true(yaml_parser_load(&parser, &doc));
        for (size_t i = 0; i < count; i++) {
            char name[32];
            snprintf(name, sizeof name, count == 1 ? "origin" : "origin%zu", i + 1);
            assert_string_equal(service_scalar(&doc, (int)i, "name", NULL), name);
            assert_string_equal(service_scalar(&doc, (int)i, "respond", "status"), "200");
            assert_string_equal(service_scalar(&doc, (int)i, "respond", "body"), "ok\n");
        }
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        buf_free(&b);
        free(path);
    }
    const int bad_port = 70000;
    c.ports = &bad_port;
    c.count = 1;
    struct buf b;
    buf_init(&b, 0);
    char *err = gen_render_respond(&c, &b);
    assert_non_null(err);
    assert_non_null(strstr(err, "port"));
    free(err);
    buf_free(&b);
    tu_rmtree(dir);
    free(dir);
}

/* Runs cmd_gen with the words of line (space-separated, no quoting); its exit status. */
static int gen_line(const char *line)
{
    char copy[2048], *argv[40], *save = NULL;
    int argc = 0;
    snprintf(copy, sizeof copy, "gen %s", line);
    for (char *w = strtok_r(copy, " ", &save); w && argc < 39; w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    argv[argc] = NULL;
    return cmd_gen(argc, argv);
}

/* The point file of every target records what gen decided, and the sweep's
 * reader reads it back: command, admin (null where there is none), pprof,
 * upstream, every service's name and listen address. */
static void test_point_file_records_what_the_sweep_needs(void **state)
{
    static const struct {
        const char *args, *target, *format, *ext, *command, *admin, *upstream;
        bool pprof, heap, listen_known, scratch;
    } cases[] = {
        {"--target refproxy --set heapProfile=true", "refproxy", "refproxy-yaml", "yaml", NULL,
         "127.0.0.1:9099", NULL, true, true, true, false},
        {"--target refproxy --admin 127.0.0.1:9555 --set upstream=http://127.0.0.1:7000",
         "refproxy", "refproxy-yaml", "yaml", NULL, "127.0.0.1:9555", "http://127.0.0.1:7000", true,
         false, true, false},
        {"--target refproxy --admin 127.0.0.1:9555 --set prometheusAddr=127.0.0.1:9666", "refproxy",
         "refproxy-yaml", "yaml", NULL, "127.0.0.1:9666", NULL, true, false, true, false},
        {"--target tsnsrv", "tsnsrv", "refproxy-yaml", "yaml", NULL, "127.0.0.1:9099",
         "http://127.0.0.1:8080", true, false, false, false},
        {"--target nginx --host 127.0.0.3", "nginx", "nginx", "conf", "nginx -e stderr -c {config}",
         NULL, "http://127.0.0.3:21000", false, false, true, true},
        {"--target haproxy --set upstream=http://127.0.0.1:7000/", "haproxy", "haproxy", "cfg",
         "haproxy -f {config}", NULL, "http://127.0.0.1:7000/", false, false, true, false},
        {"--target caddy", "caddy", "caddyfile", "caddyfile",
         "caddy run --config {config} --adapter caddyfile", "127.0.0.1:9099",
         "http://127.0.0.1:21000", true, false, true, false},
        {"--target caddy --admin none", "caddy", "caddyfile", "caddyfile",
         "caddy run --config {config} --adapter caddyfile", NULL, "http://127.0.0.1:21000", false,
         false, true, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *dir = tu_tmpdir("gen_point"), line[1024], path[1200];
        snprintf(line, sizeof line, "%s --counts 3 --base-port 21000 --out %s", cases[i].args, dir);
        print_message("%s\n", line);
        assert_int_equal(gen_line(line), 0);
        snprintf(path, sizeof path, "%s/3_services.point.json", dir);
        struct pointcfg pc;
        char *err = pointfile_read(path, &pc);
        if (err)
            fail_msg("%s", err);
        assert_string_equal(pc.target, cases[i].target);
        assert_string_equal(pc.format, cases[i].format);
        char config[64];
        snprintf(config, sizeof config, "3_services.%s", cases[i].ext);
        assert_string_equal(pc.config, config);
        snprintf(path, sizeof path, "%s/%s", dir, config);
        assert_true(outfile_exists(path));
        if (cases[i].command)
            assert_string_equal(pc.command, cases[i].command);
        else
            assert_null(pc.command);
        if (cases[i].admin)
            assert_string_equal(pc.admin, cases[i].admin);
        else
            assert_null(pc.admin);
        if (cases[i].upstream)
            assert_string_equal(pc.upstream, cases[i].upstream);
        else
            assert_null(pc.upstream);
        assert_int_equal(pc.pprof, cases[i].pprof);
        assert_int_equal(pc.heap_profile, cases[i].heap);
        assert_int_equal(pc.num_services, 3);
        const char *host = strstr(cases[i].args, "127.0.0.3") ? "127.0.0.3" : "127.0.0.1";
        for (size_t k = 0; k < 3; k++) {
            char name[16], listen[64];
            snprintf(name, sizeof name, "svc%zu", k + 1);
            snprintf(listen, sizeof listen, "%s:%zu", host, 21001 + k);
            assert_string_equal(pc.names[k], name);
            if (cases[i].listen_known)
                assert_string_equal(pc.listen[k], listen);
            else
                assert_null(pc.listen[k]); /* tsnsrv's services are on the tailnet */
        }
        if (cases[i].scratch) { /* gen made the scratch folder the config names */
            snprintf(path, sizeof path, "%s/3_services.d", dir);
            char *real = realpath(path, NULL);
            assert_non_null(real);
            assert_string_equal(pc.scratch_dir, real);
            free(real);
        } else {
            assert_null(pc.scratch_dir);
        }
        pointcfg_free(&pc);
        tu_rmtree(dir);
        free(dir);
    }
}

/* Options a target cannot honour are usage errors, and nothing is written. */
static void test_gen_refuses_what_the_target_cannot_do(void **state)
{
    static const char *const lines[] = {
        "--target nginx --admin 127.0.0.1:9100",        /* nginx has no admin endpoint */
        "--target refproxy --admin none",               /* refproxy always has one */
        "--target nginx --set upstream=http://h/x:80",  /* not http://HOST:PORT */
        "--target haproxy --set upstream=127.0.0.1:80", /* no scheme */
        "--target caddy --set workers=2",               /* refproxy's key, not caddy's */
        "--target template",                            /* no --template FILE */
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        char *dir = tu_tmpdir("gen_refuse"), line[1024];
        snprintf(line, sizeof line, "%s --counts 2 --out %s/cfg", lines[i], dir);
        print_message("%s\n", line);
        assert_int_equal(gen_line(line), 2);
        snprintf(line, sizeof line, "%s/cfg", dir);
        assert_false(outfile_exists(line));
        tu_rmtree(dir);
        free(dir);
    }
}

/* A point file the sweep cannot trust is refused with the field at fault. */
static void test_point_file_errors_name_the_field(void **state)
{
    static const struct {
        const char *text, *says;
    } cases[] = {
        {"{\"scaleprof_point\": 2}", "\"scaleprof_point\": expected 1"},
        {"{\"scaleprof_point\": 1, \"target\": 3}", "\"target\": expected a string"},
        {"{\"scaleprof_point\": 1, \"target\": \"x\", \"format\": \"x\", \"config\": "
         "\"../a.conf\", \"pprof\": false, \"heap_profile\": false, \"services\": []}",
         "\"config\": expected a file name in the same folder"},
        {"{\"scaleprof_point\": 1, \"target\": \"x\", \"format\": \"x\", \"config\": "
         "\".\", \"pprof\": false, \"heap_profile\": false, \"services\": []}",
         "\"config\": expected a file name in the same folder, got \".\""},
        {"{\"scaleprof_point\": 1, \"target\": \"x\", \"format\": \"x\", \"config\": "
         "\"a.conf\", \"pprof\": \"yes\"}",
         "\"pprof\": expected true or false"},
        {"{\"scaleprof_point\": 1, \"target\": \"x\", \"format\": \"x\", \"config\": "
         "\"a.conf\", \"pprof\": false, \"heap_profile\": false, \"services\": [{\"name\": "
         "\"a\", \"listen\": 5}]}",
         "\"listen\": expected a string or null (in services[0])"},
        {"{\"scaleprof_point\": 1,\n \"target\" \"x\"}", "p.json:2:"},
    };
    char *dir = tu_tmpdir("gen_pointfile");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(outfile_write_str(dir, "p.json", cases[i].text), 0);
        char path[1024];
        snprintf(path, sizeof path, "%s/p.json", dir);
        struct pointcfg pc;
        char *err = pointfile_read(path, &pc);
        if (!err || !strstr(err, cases[i].says))
            fail_msg("case %zu: got '%s', wanted '%s'", i, err ? err : "(accepted)", cases[i].says);
        free(err);
    }
    tu_rmtree(dir);
    free(dir);
}

/* The sweep runs one target per folder: point files that disagree on the
 * command (two targets) or the upstream are refused before anything starts. */
static void test_sweep_refuses_configs_of_two_targets(void **state)
{
    static const char *const second[] = {
        "--target haproxy --counts 2",
        "--target nginx --counts 2 --set upstream=http://127.0.0.1:7001",
    };
    for (size_t i = 0; i < 2; i++) {
        char *dir = tu_tmpdir("gen_mixed"), line[1024], out[1024];
        snprintf(line, sizeof line, "--target nginx --counts 1 --out %s/cfg", dir);
        assert_int_equal(gen_line(line), 0);
        snprintf(line, sizeof line, "%s --out %s/cfg", second[i], dir);
        assert_int_equal(gen_line(line), 0);
        snprintf(line, sizeof line, "%s/cfg", dir);
        snprintf(out, sizeof out, "%s/results", dir);
        char *argv[] = {"sweep", "--configs", line, "--out", out, NULL};
        assert_int_equal(cmd_sweep(5, argv), 2);
        assert_false(outfile_exists(out));
        tu_rmtree(dir);
        free(dir);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_key_names_it_and_its_neighbours),
        cmocka_unit_test(test_values_are_checked_against_the_key_type),
        cmocka_unit_test(test_task_alias_becomes_the_mode_key),
        cmocka_unit_test(test_every_task_spec_key_is_settable),
        cmocka_unit_test(test_counts_and_geometric_series),
        cmocka_unit_test(test_render_reads_back_with_sets_applied),
        cmocka_unit_test(test_tsnsrv_render_has_its_fields),
        cmocka_unit_test(test_load_rewrite_points_every_service_at_the_origin),
        cmocka_unit_test(test_respond_config_reads_back_with_its_ports_names_and_body),
        cmocka_unit_test(test_point_file_records_what_the_sweep_needs),
        cmocka_unit_test(test_gen_refuses_what_the_target_cannot_do),
        cmocka_unit_test(test_point_file_errors_name_the_field),
        cmocka_unit_test(test_sweep_refuses_configs_of_two_targets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
