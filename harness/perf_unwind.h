/*
 * perf_unwind: unwind a sampled user stack (registers + a copy of the stack's
 * top bytes, as perf_event_open's REGS_USER/STACK_USER deliver them) into
 * program counters, with elfutils libdwfl and the binaries' CFI
 * (.eh_frame, or .debug_frame of the mapped file), so programs built without
 * frame pointers unwind. x86_64 only.
 *
 * One Dwfl per process, its modules reported from a /proc/<pid>/maps text the
 * caller supplies (a snapshot, so a process that has exited still unwinds)
 * and re-reported when the caller supplies a newer one; modules that stay
 * mapped at the same place keep their parsed ELF and CFI. Memory reads during
 * unwinding come from the sample's stack copy, or, for addresses outside it,
 * from the read-only PT_LOAD segments of the mapped files: never from the
 * live process. The vDSO's image is this process's own (the kernel maps the
 * same one into every 64-bit process).
 *
 * Separate debuginfo is never searched (no debuginfod, no /usr/lib/debug
 * I/O on the sampling path): unwinding uses what the mapped files hold.
 *
 * Ownership: the unwinder owns its per-process state; unwind_free releases
 * it. Not thread-safe: one thread uses an unwinder.
 */
#ifndef SCALEPROF_PERF_UNWIND_H
#define SCALEPROF_PERF_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

/* x86_64 DWARF registers 0..16: rax rdx rcx rbx rsi rdi rbp rsp r8..r15 rip. */
#define UNWIND_NREGS 17
#define UNWIND_REG_SP 7
#define UNWIND_REG_IP 16

struct unwinder;

/* How an unwind ended. */
enum unwind_end {
    UNWIND_COMPLETE,  /* reached the outermost frame (libdwfl returned 0) */
    UNWIND_ERROR,     /* CFI missing, memory outside the copy, a bad frame */
    UNWIND_DEPTH,     /* max frames reached first */
    UNWIND_NO_PROCESS /* no maps for this pid (unwind_set_maps never succeeded) */
};

struct unwind_sample {
    pid_t pid, tid;
    uint64_t regs[UNWIND_NREGS]; /* DWARF order */
    const uint8_t *stack;        /* the bytes at regs[UNWIND_REG_SP] onwards */
    size_t stack_len;
};

/* max_processes bounds the Dwfl sessions kept. 0, or -1 with a message. */
int unwind_new(struct unwinder **out, size_t max_processes, struct buf *err);
void unwind_free(struct unwinder *u);

/* (Re)reports pid's modules from maps (text of /proc/<pid>/maps; len bytes).
 * 0, or -1 with a message: too many processes, libdwfl refused, bad text. */
int unwind_set_maps(struct unwinder *u, pid_t pid, const char *maps, size_t len, struct buf *err);
/* Drops pid's session (after an exec: a new address space). */
void unwind_forget(struct unwinder *u, pid_t pid);
/* True when pid has a session and pc lies in one of its modules. */
bool unwind_pc_mapped(struct unwinder *u, pid_t pid, uint64_t pc);

/* Unwinds s into pcs[0..max), leaf first; *n gets the count. Caller frames
 * are return address − 1 (inside the call instruction); the leaf and frames
 * interrupted by a signal are their exact pc. The leaf is always stored (even
 * when unwinding fails at once), so *n >= 1 unless max == 0 or the pid is
 * unknown. */
enum unwind_end unwind_stack(struct unwinder *u, const struct unwind_sample *s, uint64_t *pcs,
                             size_t max, size_t *n);

/* The sample_regs_user mask to ask the kernel for (perf's x86_64 set: the
 * general registers, ip, flags, cs and ss; not the segment registers). */
uint64_t unwind_perf_regs_mask(void);
/* Converts a REGS_USER array (one u64 per set bit of mask, in bit order) into
 * DWARF order. 0, or -1 when mask lacks a register the unwinder needs or n
 * does not match the mask. */
int unwind_regs_from_perf(uint64_t mask, const uint64_t *perf_regs, size_t n,
                          uint64_t dwarf[UNWIND_NREGS]);

#endif
