/*
 * gen_template: the template language of `scaleprof gen --template FILE`, a
 * config for any server written once with placeholders, expanded for each
 * service count:
 *
 *   - `{name}` is a placeholder: `{` + a name of letters, digits, `_`, `.`,
 *     `-` (not starting with a digit) + `}`. An unknown name is an error, so
 *     a placeholder of the target's own language ({remote_host} in a
 *     Caddyfile, ${var} in nginx) needs its `{` escaped: `{{` writes `{`.
 *     Every other brace is copied as it is (nginx's `events { ... }` needs
 *     nothing).
 *   - A line that holds only `{{#services}}` opens the per-service block and
 *     one holding only `{{/services}}` closes it (spaces around allowed); the
 *     lines between are written once per service, 1..N. A template may have
 *     several blocks; blocks do not nest. The tag lines themselves are not
 *     written.
 *   - Per-service placeholders ({name} {index} {port} {listen}) belong inside
 *     a block; the others work anywhere (gen_template_list prints them all).
 *
 * Every error is "FILE:LINE:COLUMN: message" (1-based; columns count bytes)
 * and a usage error of gen (exit 2). Errors are malloc'd messages, NULL on
 * success.
 */
#ifndef SCALEPROF_GEN_TEMPLATE_H
#define SCALEPROF_GEN_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "gen_target.h"

/* Templates larger than this are refused. */
#define GEN_TEMPLATE_MAX ((size_t)4 << 20)

struct gen_template;

/* Parses text (len bytes; name, the file's path, prefixes every message).
 * On success *out is the template (free with gen_template_free); text is
 * copied. */
char *gen_template_parse(const char *name, const char *text, size_t len, struct gen_template **out);
/* Where placeholder ph ("admin") is first used: true and its line and
 * column, or false when the template never uses it. */
bool gen_template_uses(const struct gen_template *t, const char *ph, int *line, int *col);
/* Writes the template expanded for pt into out. Fails only when out is full. */
char *gen_template_render(const struct gen_template *t, const struct gen_point *pt,
                          struct buf *out);
void gen_template_free(struct gen_template *t);
/* Appends every placeholder with what it stands for, one a line. */
void gen_template_list(struct buf *out);

#endif
