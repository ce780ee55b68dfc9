/*
 * perf_test_util: what the perf profiler's tests need to check a profile
 * without the analysis: read a gzip'd pprof file back with zlib + protobuf-c
 * and check its ids, and name addresses by an ELF file's symbol table
 * (the profile itself has no names).
 */
#ifndef SCALEPROF_PERF_TEST_UTIL_H
#define SCALEPROF_PERF_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "profile.pb-c.h"

/* Gunzips and unpacks path; NULL (with a message on stderr) on any error.
 * Free with perftools__profiles__profile__free_unpacked(p, NULL). */
Perftools__Profiles__Profile *ptu_load(const char *path);

/* NULL when p is consistent, else what is wrong: string_table[0] is "",
 * every string index is in range, mapping and location ids are 1..n in
 * order, every location's mapping id is 0 or a mapping, every sample's
 * location ids exist and it has as many values as sample types. */
const char *ptu_check_ids(const Perftools__Profiles__Profile *p);

/* p's string at index i ("" when out of range). */
const char *ptu_str(const Perftools__Profiles__Profile *p, int64_t i);
/* The location with id, or NULL. */
const Perftools__Profiles__Location *ptu_location(const Perftools__Profiles__Profile *p,
                                                  uint64_t id);
/* The mapping with id, or NULL. */
const Perftools__Profiles__Mapping *ptu_mapping(const Perftools__Profiles__Profile *p, uint64_t id);
/* Sample label key's value: string labels into *str, numeric into *num.
 * 0 when found, -1 when absent. */
int ptu_label(const Perftools__Profiles__Profile *p, const Perftools__Profiles__Sample *s,
              const char *key, const char **str, int64_t *num);

/* The function symbols of one ELF file and its PT_LOAD segments. */
struct ptu_syms;
struct ptu_syms *ptu_syms_open(const char *path);
void ptu_syms_close(struct ptu_syms *s);
/* The function of the file holding address addr of a process that mapped
 * the file per m (memory_start/file_offset), or NULL. */
const char *ptu_syms_name(const struct ptu_syms *s, const Perftools__Profiles__Mapping *m,
                          uint64_t addr);

#endif
