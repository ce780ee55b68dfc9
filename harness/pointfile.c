/* pointfile: write and read <N>_services.point.json. See pointfile.h. */
#include "pointfile.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends s as a JSON string, or null. -1 when s is not UTF-8 or out is full. */
static int put_string(struct buf *out, const char *s)
{
    if (!s)
        return buf_puts(out, "null");
    json_t *j = json_string(s);
    char *text = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    int rc = text ? buf_puts(out, text) : -1;
    free(text);
    json_decref(j);
    return rc;
}

char *pointfile_render(const struct pointcfg *pc, struct buf *out)
{
    static const char *const keys[] = {"target", "format",       "config",   "command",    "admin",
                                       "pprof",  "heap_profile", "upstream", "scratch_dir"};
    const char *const strings[] = {pc->target, pc->format, pc->config,   pc->command,    pc->admin,
                                   NULL,       NULL,       pc->upstream, pc->scratch_dir};
    int rc = buf_printf(out, "{\n  \"scaleprof_point\": %d", POINTFILE_VERSION);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0] && rc == 0; i++) {
        rc |= buf_printf(out, ",\n  \"%s\": ", keys[i]);
        if (!strcmp(keys[i], "pprof"))
            rc |= buf_puts(out, pc->pprof ? "true" : "false");
        else if (!strcmp(keys[i], "heap_profile"))
            rc |= buf_puts(out, pc->heap_profile ? "true" : "false");
        else
            rc |= put_string(out, strings[i]);
    }
    rc |= buf_puts(out, ",\n  \"services\": [");
    /* one service a line: a file of 10,000 services stays readable */
    for (size_t i = 0; i < pc->num_services && rc == 0; i++) {
        rc |= buf_puts(out, i ? ",\n    {\"name\": " : "\n    {\"name\": ");
        rc |= put_string(out, pc->names ? pc->names[i] : NULL);
        rc |= buf_puts(out, ", \"listen\": ");
        rc |= put_string(out, pc->listen ? pc->listen[i] : NULL);
        rc |= buf_puts(out, "}");
    }
    rc |= buf_puts(out, "\n  ]\n}\n");
    return rc == 0 ? NULL : strdup("point file: a string is not UTF-8, or the file is too large");
}

/* The string or null member key of o into *out (malloc'd; NULL for null).
 * required: absent or null is an error. */
static char *get_string(const char *path, json_t *o, const char *key, bool required, char **out)
{
    json_t *v = json_object_get(o, key);
    char *msg = NULL;
    *out = NULL;
    if (json_is_string(v)) {
        *out = strdup(json_string_value(v));
        return NULL;
    }
    if (!required && (!v || json_is_null(v)))
        return NULL;
    if (asprintf(&msg, "%s: \"%s\": expected a string%s", path, key, required ? "" : " or null") <
        0)
        msg = NULL;
    return msg ? msg : strdup("bad point file");
}

static char *get_bool(const char *path, json_t *o, const char *key, bool *out)
{
    json_t *v = json_object_get(o, key);
    char *msg = NULL;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return NULL;
    }
    if (asprintf(&msg, "%s: \"%s\": expected true or false", path, key) < 0)
        msg = NULL;
    return msg ? msg : strdup("bad point file");
}

/* The services array into pc. */
static char *get_services(const char *path, json_t *root, struct pointcfg *pc)
{
    json_t *svcs = json_object_get(root, "services");
    char *msg = NULL;
    if (!json_is_array(svcs)) {
        if (asprintf(&msg, "%s: \"services\": expected an array", path) < 0)
            msg = NULL;
        return msg ? msg : strdup("bad point file");
    }
    size_t n = json_array_size(svcs);
    pc->listen = calloc(n ? n : 1, sizeof *pc->listen);
    pc->names = calloc(n ? n : 1, sizeof *pc->names);
    if (!pc->listen || !pc->names)
        return strdup("out of memory");
    pc->num_services = n;
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(svcs, i);
        char key[48], *listen = NULL;
        snprintf(key, sizeof key, "services[%zu]", i);
        if (!json_is_object(s)) {
            if (asprintf(&msg, "%s: \"%s\": expected an object", path, key) < 0)
                msg = NULL;
            return msg ? msg : strdup("bad point file");
        }
        if ((msg = get_string(path, s, "name", true, &pc->names[i])) ||
            (msg = get_string(path, s, "listen", false, &listen))) {
            char *where = NULL; /* name the entry: "services[3]" */
            if (asprintf(&where, "%s (in %s)", msg, key) < 0)
                where = NULL;
            free(msg);
            return where ? where : strdup("bad point file");
        }
        pc->listen[i] = pointcfg_connect_addr(listen);
        free(listen);
    }
    return NULL;
}

char *pointfile_read(const char *path, struct pointcfg *pc)
{
    memset(pc, 0, sizeof *pc);
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    char *msg = NULL, *admin = NULL;
    if (!root) {
        if (je.line > 0) {
            if (asprintf(&msg, "%s:%d:%d: %s", path, je.line, je.column, je.text) < 0)
                msg = NULL;
        } else if (asprintf(&msg, "%s: %s", path, je.text) < 0) {
            msg = NULL;
        }
        return msg ? msg : strdup("cannot read the point file");
    }
    json_t *version = json_object_get(root, "scaleprof_point");
    if (!json_is_integer(version) || json_integer_value(version) != POINTFILE_VERSION) {
        if (asprintf(&msg,
                     "%s: \"scaleprof_point\": expected %d (a point file of this scaleprof); "
                     "run scaleprof gen again",
                     path, POINTFILE_VERSION) < 0)
            msg = NULL;
    }
    if (!msg && !json_is_object(root) && asprintf(&msg, "%s: not a JSON object", path) < 0)
        msg = NULL;
    if (!msg && !(msg = get_string(path, root, "target", true, &pc->target)) &&
        !(msg = get_string(path, root, "format", true, &pc->format)) &&
        !(msg = get_string(path, root, "config", true, &pc->config)) &&
        !(msg = get_string(path, root, "command", false, &pc->command)) &&
        !(msg = get_string(path, root, "admin", false, &admin)) &&
        !(msg = get_bool(path, root, "pprof", &pc->pprof)) &&
        !(msg = get_bool(path, root, "heap_profile", &pc->heap_profile)) &&
        !(msg = get_string(path, root, "upstream", false, &pc->upstream)) &&
        !(msg = get_string(path, root, "scratch_dir", false, &pc->scratch_dir)))
        msg = get_services(path, root, pc);
    /* the config sits beside its point file: a name, never a path elsewhere */
    if (!msg &&
        (strchr(pc->config, '/') || !strcmp(pc->config, ".") || !strcmp(pc->config, "..") ||
         !*pc->config) &&
        asprintf(&msg, "%s: \"config\": expected a file name in the same folder, got \"%s\"", path,
                 pc->config) < 0)
        msg = NULL;
    pc->admin = pointcfg_connect_addr(admin);
    free(admin);
    json_decref(root);
    if (msg)
        pointcfg_free(pc);
    return msg;
}
