/*
 * fuzz_gen_template.c: libFuzzer target for harness/gen_template.c, the
 * template language of `scaleprof gen --template` (any user's config file).
 *
 * Checked besides the sanitizers: a rejection is "t:LINE:COLUMN: message"
 * with LINE within the input; parsing twice gives the same verdict and
 * message; an accepted template expands for 0..3 services, and one with no
 * '{' at all expands to itself (nothing in it is a placeholder or a tag).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_template.h"

static void check_error(const char *err, const uint8_t *data, size_t size)
{
    unsigned long line = 0, col = 0;
    int used = 0;
    if (sscanf(err, "t:%lu:%lu: %n", &line, &col, &used) != 2 || used == 0 || line == 0 || col == 0)
        abort();
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    if (line > lines)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gen_template *t = NULL, *again = NULL;
    char *err = gen_template_parse("t", (const char *)data, size, &t);
    char *err2 = gen_template_parse("t", (const char *)data, size, &again);
    if ((err == NULL) != (err2 == NULL) || (err && strcmp(err, err2)))
        abort();
    gen_template_free(again);
    free(err2);
    if (err) {
        check_error(err, data, size);
        free(err);
        return 0;
    }
    struct gen_point pt = {.host = "127.0.0.1",
                           .base_port = 18000,
                           .admin = "127.0.0.1:9099",
                           .upstream = "http://127.0.0.1:18000",
                           .upstream_host = "127.0.0.1",
                           .upstream_port = 18000,
                           .dir = "/tmp/d"};
    for (int n = 0; n <= 3; n++) {
        pt.n = n;
        struct buf b;
        buf_init(&b, (size_t)1 << 26);
        char *rerr = gen_template_render(t, &pt, &b);
        if (rerr)
            abort(); /* 4 copies of a 4 KiB input never reach the cap */
        if (n == 1 && !memchr(data, '{', size) &&
            (b.len != size || (size && memcmp(b.data, data, size))))
            abort();
        buf_free(&b);
    }
    gen_template_free(t);
    return 0;
}
