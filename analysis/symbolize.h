/*
 * symbolize: addresses of a profile → function names and source lines, with
 * elfutils libdwfl. Modules are reported from the profile's mappings (a
 * gperftools maps trailer, a pprof Mapping table), each mapped file at its
 * load bias (PIE, shared objects and non-PIE executables alike; the mapping's
 * file offset picks the segment), so no live process is needed. Results are
 * cached per address; function names are interned so that callers aggregate
 * by a small integer id instead of by string. The same table interns the
 * named functions of formats that carry names (pprof), so one id space serves
 * every profile of a session (profile.c).
 *
 * Ownership: the symbolizer owns every string it hands out; they stay valid
 * until symbolize_close. Lookups never fail: an address no module resolves
 * gets a function of its own named "0x<hex>" (as pprof prints it).
 */
#ifndef SCALEPROF_SYMBOLIZE_H
#define SCALEPROF_SYMBOLIZE_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile.h"

struct symbolizer;

/* One mapping of the profiled process: [start, end) holds path from file
 * offset `offset`. path "" or not starting with '/': anonymous, [vdso], … */
struct symbolize_map {
    uint64_t start, end, offset;
    const char *path;
};

/* Where one address is: its function id and its own source line. */
struct sym_loc {
    uint32_t func;
    const char *file;
    int line;
};

/* A session for many profiles: modules are reported once per distinct file
 * and looked-up addresses stay cached across profiles, so a sweep of N
 * profiles of one binary reads its ELF/DWARF once, not N times. binary (may
 * be NULL) replaces the file of the main executable (the first file-backed
 * mapping), e.g. an unstripped copy. Files that cannot be opened, and files
 * that are not regular (FIFOs, devices: never opened), are skipped (their
 * addresses stay unresolved). Returns 0, or -1 with a message
 * (libdwfl could not start, out of memory). */
int symbolize_session(struct symbolizer **out, const char *binary, char *err, size_t errlen);
/* Switches the address translation to these maps (not kept); ids and
 * strings from earlier profiles stay valid, and equal functions keep equal
 * ids. offline: no file is opened (every address stays "0x…"). */
int symbolize_use(struct symbolizer *s, const struct symbolize_map *maps, size_t nmaps,
                  bool offline, char *err, size_t errlen);
/* Function id of addr (an address of the maps last passed to symbolize_use);
 * fills loc when non-NULL. Returns UINT32_MAX only when out of memory. */
uint32_t symbolize_addr(struct symbolizer *s, uint64_t addr, struct sym_loc *loc);
/* Interns a function known by name (from a format's own tables): name is cut
 * at '@'; name and file are copied. The first interning of a name fixes its
 * fields. UINT32_MAX when out of memory. */
uint32_t symbolize_intern(struct symbolizer *s, const char *name, const char *file, int line,
                          bool resolved, bool own);
/* From now on a function is the program's own code exactly when its name
 * matches re (not owned; must outlive the symbolizer), whatever its module. */
void symbolize_set_own_regex(struct symbolizer *s, const regex_t *re);
size_t symbolize_func_count(const struct symbolizer *s);
const struct profile_func *symbolize_func(const struct symbolizer *s, uint32_t id);
void symbolize_close(struct symbolizer *s);

#endif
