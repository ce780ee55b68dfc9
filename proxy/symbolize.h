/*
 * symbolize: in-process symbolization for /debug/pprof/symbol (elfutils
 * libdwfl over the live process). Used by pprof.c; depends on no other part
 * of the admin library.
 */
#ifndef REFPROXY_SYMBOLIZE_H
#define REFPROXY_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Resolves each address of a pprof symbol POST body ("0xADDR+0xADDR...",
 * zero padded or not, '+' or whitespace separated) in the live process,
 * appending "0xADDR\tname\n" per resolved address to out. Returns the number
 * of addresses resolved, or -1 with a message in out on a malformed body or
 * an elfutils failure. */
int symbolize_post(const char *body, size_t len, struct buf *out);
/* The symbol name for one address of this process, copied into name (NUL
 * terminated, truncated to size). false if unresolved. */
bool symbolize_addr(uint64_t addr, char *name, size_t size);

#endif
