/*
 * edit_distance: Levenshtein distance, ASCII case ignored, for "did you mean"
 * suggestions on unknown keys (refproxy's config loader, scaleprof gen --set).
 */
#ifndef SCALEPROF_EDIT_DISTANCE_H
#define SCALEPROF_EDIT_DISTANCE_H

#include <stddef.h>

/* SIZE_MAX when either string is longer than 64 bytes (no key is that long). */
size_t edit_distance_nocase(const char *a, const char *b);

#endif
