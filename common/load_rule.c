/* load_rule: the underloaded rule and its sentence. See load_rule.h. */
#include "load_rule.h"

#include <math.h>

static const struct {
    const char *name, *phrase;
} kinds[LOAD_ERR_KINDS] = {
    [LOAD_ERR_CONNECT] = {"connect", "could not connect"},
    [LOAD_ERR_TIMEOUT] = {"timeout", "timed out"},
    [LOAD_ERR_STATUS_5XX] = {"status_5xx", "answered 5xx"},
    [LOAD_ERR_STATUS_OTHER] = {"status_other", "answered another error status"},
    [LOAD_ERR_TRANSPORT] = {"transport", "broke off (reset, empty or bad reply)"},
    [LOAD_ERR_NOT_SENT] = {"not_sent", "were never sent (the generator had no free slot)"},
};

const char *load_error_kind_name(enum load_error_kind k)
{
    return (unsigned)k < LOAD_ERR_KINDS ? kinds[k].name : "unknown";
}

static bool rate_short(const struct load_figures *f)
{
    /* written as a negation so that a NaN achieved rate counts as short */
    return !(f->rps_achieved >= LOAD_RULE_MIN_RATE_SHARE * f->rps_target);
}

static bool errors_over(const struct load_figures *f)
{
    return f->errors > LOAD_RULE_MAX_ERROR_SHARE * f->requests;
}

bool load_rule_underloaded(const struct load_figures *f)
{
    return !(f->requests > 0) || rate_short(f) || errors_over(f);
}

int load_rule_describe(const struct load_figures *f, struct buf *out)
{
    struct buf b;
    buf_init(&b, 2048);
    double pct = f->rps_target > 0 ? 100.0 * f->rps_achieved / f->rps_target : 0;
    buf_printf(&b, "load reached %.3g of %.3g requests/s per service (%.0f%%%s)", f->rps_achieved,
               f->rps_target, pct, rate_short(f) ? ", below 95%" : "");
    if (!(f->requests > 0)) {
        buf_puts(&b, "; no requests were due in the window");
    } else {
        double share = 100.0 * f->errors / f->requests; /* 94% or 0.33%, never 1e+02% */
        buf_printf(&b,
                   share >= 10 ? "; %.0f of %.0f requests failed (%.0f%%%s)"
                               : "; %.0f of %.0f requests failed (%.2g%%%s)",
                   f->errors, f->requests, share, errors_over(f) ? ", above 0.1%" : "");
        const char *sep = ": ";
        for (int k = 0; k < LOAD_ERR_KINDS; k++) {
            if (!(f->by_kind[k] > 0)) /* zero or unknown */
                continue;
            buf_printf(&b, "%s%.0f %s", sep, f->by_kind[k], kinds[k].phrase);
            sep = ", ";
        }
    }
    int rc = b.data ? buf_append(out, b.data, b.len) : -1;
    buf_free(&b);
    return rc;
}
