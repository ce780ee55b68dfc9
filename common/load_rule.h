/*
 * load_rule: when a point's offered load counts as delivered. A point run
 * under `sweep --load` measures the target at a known request rate; when the
 * rate fell short or requests failed, the point measured something else and
 * is `underloaded` (docs/DESIGN.md §4), left out of the fit like a contaminated
 * one. The harness applies the rule when it writes a point; the analysis
 * applies it again to stats.json (so results written before the rule are
 * judged the same way). One rule, one sentence, for both.
 */
#ifndef SCALEPROF_LOAD_RULE_H
#define SCALEPROF_LOAD_RULE_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

/* Achieved below this share of the target rate: underloaded. */
#define LOAD_RULE_MIN_RATE_SHARE 0.95
/* More than this share of the requests failed: underloaded. */
#define LOAD_RULE_MAX_ERROR_SHARE 0.001

/* Why a request failed; the names are stats.json's keys in load.errors_by_kind. */
enum load_error_kind {
    LOAD_ERR_CONNECT,      /* connection refused or not set up */
    LOAD_ERR_TIMEOUT,      /* no answer in time (including still unanswered after the drain) */
    LOAD_ERR_STATUS_5XX,   /* the target answered 5xx */
    LOAD_ERR_STATUS_OTHER, /* the target answered another non-2xx/3xx status */
    LOAD_ERR_TRANSPORT,    /* reset, empty reply, bad HTTP */
    LOAD_ERR_NOT_SENT,     /* the generator had no free slot when it was due */
    LOAD_ERR_KINDS
};

/* "connect", "timeout", "status_5xx", "status_other", "transport", "not_sent". */
const char *load_error_kind_name(enum load_error_kind k);

struct load_figures {
    double rps_target;              /* per service */
    double rps_achieved;            /* per service */
    double requests;                /* due in the window */
    double errors;                  /* of those, failed (every kind) */
    double by_kind[LOAD_ERR_KINDS]; /* NAN where unknown (results from before the breakdown) */
};

/* True when the load was not delivered: achieved < 95% of the target, or errors
 * > 0.1% of the requests (no requests at all counts as not delivered). Never fails. */
bool load_rule_underloaded(const struct load_figures *f);

/* Appends the figures to out as one sentence, e.g. "load reached 0.06 of 2 requests/s per
 * service (3%, below 95%); 51158 of 54199 requests failed (94.4%, above 0.1%): 51000 not
 * sent, 158 timed out". Returns 0, or -1 when out's cap was hit (out unchanged then). */
int load_rule_describe(const struct load_figures *f, struct buf *out);

#endif
