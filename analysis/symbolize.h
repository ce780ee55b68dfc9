/*
 * symbolize: addresses of a profile → function names and source lines, with
 * elfutils libdwfl. Modules are reported from the profile's maps trailer, each
 * mapped file at its load bias (PIE, shared objects and non-PIE executables
 * alike; the maps offset field picks the segment), so no live process is
 * needed. Results are cached per address; function names are interned so that
 * callers aggregate by a small integer id instead of by string.
 *
 * Ownership: the symbolizer owns every string it hands out; they stay valid
 * until symbolize_close. Lookups never fail: an address no module resolves
 * gets a function of its own named "0x<hex>" (as pprof prints it).
 */
#ifndef SCALEPROF_SYMBOLIZE_H
#define SCALEPROF_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile.h"

struct symbolizer;

/* An interned function. file/line: where the function starts (the line of its
 * entry address), NULL/0 without DWARF. Names are cut at '@' (symbol versions). */
struct sym_func {
    const char *name;
    const char *file;
    int line;
    int resolved; /* 0 for the "0x…" stand-ins */
    bool own;     /* in the profiled program's executable (its first mapped file), not a
                   * shared library: code the program's authors can change */
};

/* Where one address is: its function id and its own source line. */
struct sym_loc {
    uint32_t func;
    const char *file;
    int line;
};

/* Builds a symbolizer from p's maps. binary (may be NULL) replaces the file of
 * the main executable (the first file-backed mapping), e.g. an unstripped copy.
 * Files that cannot be opened are skipped (their addresses stay unresolved).
 * Returns 0, or -1 with a message (libdwfl could not start, out of memory). */
int symbolize_open(struct symbolizer **out, const struct profile *p, const char *binary, char *err,
                   size_t errlen);
/* A session for many profiles (added by an2): modules are reported once per
 * distinct file and looked-up addresses stay cached across profiles, so a
 * sweep of N profiles of one binary reads its ELF/DWARF once, not N times.
 * symbolize_use switches the address translation to p's maps (p need not
 * outlive the call); ids and strings from earlier profiles stay valid, and
 * equal functions keep equal ids. symbolize_open = session + use. */
int symbolize_session(struct symbolizer **out, const char *binary, char *err, size_t errlen);
int symbolize_use(struct symbolizer *s, const struct profile *p, char *err, size_t errlen);
/* Function id of addr (an address of the profile last passed to
 * symbolize_use); fills loc when non-NULL. Returns UINT32_MAX only when out of
 * memory. */
uint32_t symbolize_addr(struct symbolizer *s, uint64_t addr, struct sym_loc *loc);
/* True for allocator frames (malloc, tcmalloc internals, operator new, …),
 * which heap views drop with everything they call, as pprof does. */
bool symbolize_is_allocator(const char *name);
size_t symbolize_func_count(const struct symbolizer *s);
const struct sym_func *symbolize_func(const struct symbolizer *s, uint32_t id);
/* Number of mapped files reported to libdwfl (for diagnostics and tests). */
size_t symbolize_module_count(const struct symbolizer *s);
void symbolize_close(struct symbolizer *s);

#endif
