/*
 * perf_procs: what the perf profiler knows about the target's processes and
 * threads: each process's /proc/<pid>/maps snapshots (taken when the pid is
 * first seen, after its mmap and exec records, and when a sampled address
 * falls in no known module), the pprof Mapping of each executable file-backed
 * mapping, and each thread's name (comm).
 *
 * Snapshots outlive the process, so samples read after a process exited
 * still unwind and map. A process first seen after it exited borrows its
 * parent's last snapshot (a forked child starts with its parent's mappings).
 * Every snapshot feeds the unwinder (unwind_set_maps) and adds the Mappings
 * it did not have to the pprof builder; the root process's first snapshot
 * puts its executable first, so it is mapping[0].
 *
 * Bounded: max_processes processes, max_threads threads (a thread past the
 * cap is named "?"), maps text of 16 MiB per snapshot. Ownership: the table
 * owns every process, thread and string; perf_procs_free releases them. The
 * builder and unwinder are borrowed and must outlive the table. Not
 * thread-safe (the profiler's reader thread owns it).
 */
#ifndef SCALEPROF_PERF_PROCS_H
#define SCALEPROF_PERF_PROCS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "perf_unwind.h"
#include "pprof_write.h"

struct perf_procs;
struct perf_proc;

int perf_procs_new(struct perf_procs **out, struct pprof_builder *pb, struct unwinder *uw,
                   size_t max_processes, size_t max_threads, struct buf *err);
void perf_procs_free(struct perf_procs *ps);

/* The process pid, snapshotting its maps on first sight. NULL when over the
 * cap, or when it is gone and has no known parent snapshot to borrow. Any
 * pending refresh (perf_procs_mmap/exec) happens here. */
struct perf_proc *perf_procs_get(struct perf_procs *ps, pid_t pid);
/* Re-snapshots p's maps now unless it did so in the last min_age_s seconds.
 * True when a new snapshot was taken. */
bool perf_procs_refresh(struct perf_procs *ps, struct perf_proc *p, double min_age_s);

/* Records from the kernel; time is the record's (CLOCK_MONOTONIC ns).
 * Records of different CPU buffers arrive out of order: a thread's COMM
 * (rename) can be read before the FORK that created it, and the FORK then
 * keeps the newer name instead of the parent's. */
void perf_procs_mmap(struct perf_procs *ps, pid_t pid); /* re-snapshot */
void perf_procs_exec(struct perf_procs *ps, pid_t pid); /* new image */
void perf_procs_comm(struct perf_procs *ps, pid_t pid, pid_t tid, const char *comm, uint64_t time);
void perf_procs_fork(struct perf_procs *ps, pid_t pid, pid_t ppid, pid_t tid, pid_t ptid,
                     uint64_t time);

/* True once a FORK record named tid: it inherited the profiler's events. */
bool perf_procs_forked(struct perf_procs *ps, pid_t tid);
/* tid's name (read from /proc on first sight; "?" when unknown). Valid until
 * the next call into the table. */
const char *perf_procs_thread_name(struct perf_procs *ps, pid_t pid, pid_t tid);
/* The pprof mapping id of the executable file mapping of p holding pc, or 0. */
uint64_t perf_procs_mapping(struct perf_proc *p, uint64_t pc);

size_t perf_procs_process_count(const struct perf_procs *ps);
size_t perf_procs_thread_count(const struct perf_procs *ps);

#endif
