/*
 * gen_template_target: the "template" target, any server at all: its config
 * is `gen --template FILE` expanded (gen_template.h). gen knows nothing of
 * the server but what the options say: the template names no command (the
 * sweep needs --target-cmd), has an admin endpoint only when --admin says
 * where (taken to serve /debug/pprof/ there, as the sweep has always assumed
 * of --target-cmd targets) and otherwise is ready when every service port
 * accepts connections. The config's extension is the template's, without
 * ".tmpl" (csrv.conf.tmpl → <N>_services.conf).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "gen_template.h"
#include "outfile.h"

static const struct gen_key template_key_table[] = {
    {"upstream", K_URL, NULL, 0, 0},
    {NULL, 0, NULL, 0, 0},
};

static const struct gen_key *template_keys(void)
{
    return template_key_table;
}

static char *template_prepare(struct gen_options *o)
{
    char *msg = NULL;
    if (!o->template_path)
        return strdup("--target template needs --template FILE");
    size_t len = 0;
    errno = 0;
    char *text = outfile_slurp(o->template_path, GEN_TEMPLATE_MAX, &len);
    if (!text) {
        if (asprintf(&msg, "%s: %s", o->template_path,
                     errno == EFBIG ? "larger than the 4 MiB a template may be"
                                    : strerror(errno ? errno : EIO)) < 0)
            msg = NULL;
        return msg ? msg : strdup("cannot read the template");
    }
    struct gen_template *t;
    msg = gen_template_parse(o->template_path, text, len, &t);
    free(text);
    if (msg)
        return msg;
    const char *admin = NULL;
    if ((msg = gen_resolve_admin(o, &admin))) {
        gen_template_free(t);
        return msg;
    }
    static const char *const admin_phs[] = {"admin", "admin_host", "admin_port"};
    int line, col;
    for (size_t i = 0; i < 3 && !admin; i++)
        if (gen_template_uses(t, admin_phs[i], &line, &col)) {
            if (asprintf(&msg,
                         "%s:%d:%d: {%s}: the template's server has no admin address; give "
                         "--admin HOST:PORT (the sweep then waits for it and fetches its "
                         "/debug/pprof/)",
                         o->template_path, line, col, admin_phs[i]) < 0)
                msg = NULL;
            gen_template_free(t);
            return msg ? msg : strdup("template uses {admin} without --admin");
        }
    o->scratch = gen_template_uses(t, "dir", &line, &col);
    o->state = t;
    return NULL;
}

static void template_release(struct gen_options *o)
{
    gen_template_free(o->state);
    o->state = NULL;
}

/* FILE's extension once a trailing ".tmpl" is dropped; "conf" when it has
 * none a file name could use. */
static const char *template_ext(const struct gen_options *o)
{
    static char ext[32];
    const char *base = strrchr(o->template_path, '/');
    base = base ? base + 1 : o->template_path;
    size_t len = strlen(base);
    if (len > 5 && !strcmp(base + len - 5, ".tmpl"))
        len -= 5;
    const char *dot = memrchr(base, '.', len);
    size_t n = dot ? len - (size_t)(dot - base) - 1 : 0;
    if (!dot || dot == base || n == 0 || n >= sizeof ext ||
        strspn(dot + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") < n)
        return "conf";
    memcpy(ext, dot + 1, n);
    ext[n] = '\0';
    return ext;
}

static char *template_write(const struct gen_options *o, const struct gen_point *pt,
                            struct buf *out)
{
    return gen_template_render(o->state, pt, out);
}

static void template_list_extra(struct buf *out)
{
    gen_template_list(out);
}

const struct gen_target gen_target_template = {
    .name = "template",
    .ext = "conf",
    .format = "template",
    .command = NULL,
    .admin = NULL,
    .flags = GEN_T_PPROF | GEN_T_PROXY,
    .keys = template_keys,
    .list_extra = template_list_extra,
    .prepare = template_prepare,
    .release = template_release,
    .config_ext = template_ext,
    .write = template_write,
};
