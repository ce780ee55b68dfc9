/*
 * test_load_rule: the underloaded rule, one row per case with the reason, and the
 * sentence that names the figures (issue 17).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "load_rule.h"

static void test_rule_rows(void **state)
{
    static const struct {
        double target, achieved, requests, errors;
        bool underloaded;
        const char *why;
    } rows[] = {
        {2, 2.0, 60000, 0, false, "all delivered"},
        {2, 1.9, 60000, 0, false, "exactly 95% of the rate is enough"},
        {2, 1.89, 60000, 0, true, "below 95% of the rate"},
        {2, 0.1, 54199, 51158, true, "the issue's point: 0.1 of 2, 51158 of 54199 failed"},
        {2, 2.0, 60000, 60, false, "0.1% of errors is allowed"},
        {2, 2.0, 60000, 61, true, "more than 0.1% of errors (5xx, refused...)"},
        {2, 2.0, 0, 0, true, "no request was due: nothing was measured under load"},
        {2, NAN, 60000, 0, true, "an unknown achieved rate is not a delivered one"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct load_figures f = {.rps_target = rows[i].target,
                                 .rps_achieved = rows[i].achieved,
                                 .requests = rows[i].requests,
                                 .errors = rows[i].errors};
        if (load_rule_underloaded(&f) != rows[i].underloaded)
            fail_msg("row %zu (%s): expected underloaded=%d", i, rows[i].why, rows[i].underloaded);
    }
}

static void test_sentence_names_the_figures_and_kinds(void **state)
{
    struct load_figures f = {
        .rps_target = 2, .rps_achieved = 0.1, .requests = 54199, .errors = 51158};
    for (int k = 0; k < LOAD_ERR_KINDS; k++)
        f.by_kind[k] = NAN; /* unknown: left out of the sentence */
    f.by_kind[LOAD_ERR_NOT_SENT] = 51000;
    f.by_kind[LOAD_ERR_STATUS_5XX] = 158;
    struct buf b;
    buf_init(&b, 4096);
    assert_int_equal(load_rule_describe(&f, &b), 0);
    assert_string_equal(b.data, "load reached 0.1 of 2 requests/s per service (5%, below 95%); "
                                "51158 of 54199 requests failed (94%, above 0.1%): "
                                "158 answered 5xx, 51000 were never sent (the generator had "
                                "no free slot)");
    buf_free(&b);
    /* a cap too small leaves the buffer as it was */
    buf_init(&b, 16);
    assert_int_equal(load_rule_describe(&f, &b), -1);
    assert_int_equal(b.len, 0);
    buf_free(&b);
    assert_string_equal(load_error_kind_name(LOAD_ERR_CONNECT), "connect");
    assert_string_equal(load_error_kind_name(LOAD_ERR_NOT_SENT), "not_sent");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule_rows),
        cmocka_unit_test(test_sentence_names_the_figures_and_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
