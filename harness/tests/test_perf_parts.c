/*
 * test_perf_parts: the perf profiler's parts that need no perf events: the
 * register mapping from perf's REGS_USER order to DWARF numbers, the pprof
 * builder/writer (aggregation, ids, caps, atomic writes, read back with
 * protobuf-c), the process-tree listing from /proc, the per-CPU mode's
 * tree membership from FORK records (table-driven), and the ring buffer
 * reader (wrapping records, peeking ahead, draining only what was peeked)
 * on a buffer laid out as the kernel's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <asm/perf_regs.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "perf_ring.h"
#include "perf_test_util.h"
#include "perf_tree.h"
#include "perf_unwind.h"
#include "pprof_write.h"
#include "proclist.h"

/* ---- registers ---- */

/* DWARF x86_64 numbering (the psABI) against perf's enum, one row per register. */
static const struct {
    int dwarf, perf;
    const char *name;
} reg_rows[] = {
    {0, PERF_REG_X86_AX, "rax"},   {1, PERF_REG_X86_DX, "rdx"},   {2, PERF_REG_X86_CX, "rcx"},
    {3, PERF_REG_X86_BX, "rbx"},   {4, PERF_REG_X86_SI, "rsi"},   {5, PERF_REG_X86_DI, "rdi"},
    {6, PERF_REG_X86_BP, "rbp"},   {7, PERF_REG_X86_SP, "rsp"},   {8, PERF_REG_X86_R8, "r8"},
    {9, PERF_REG_X86_R9, "r9"},    {10, PERF_REG_X86_R10, "r10"}, {11, PERF_REG_X86_R11, "r11"},
    {12, PERF_REG_X86_R12, "r12"}, {13, PERF_REG_X86_R13, "r13"}, {14, PERF_REG_X86_R14, "r14"},
    {15, PERF_REG_X86_R15, "r15"}, {16, PERF_REG_X86_IP, "rip"},
};

/* The sample holds one value per set mask bit, in bit order: give each the
 * value 1000 + its perf register number and check where each lands. */
static void test_regs_from_perf_puts_each_register_at_its_dwarf_number(void **state)
{
    uint64_t mask = unwind_perf_regs_mask(), in[64], out[UNWIND_NREGS];
    size_t n = 0;
    for (int bit = 0; bit < 64; bit++)
        if (mask & (1ull << bit))
            in[n++] = 1000 + (uint64_t)bit;
    assert_int_equal(n, 20); /* perf's set: 24 registers less ds, es, fs, gs */
    assert_int_equal(unwind_regs_from_perf(mask, in, n, out), 0);
    for (size_t i = 0; i < sizeof reg_rows / sizeof reg_rows[0]; i++) {
        if (out[reg_rows[i].dwarf] != 1000 + (uint64_t)reg_rows[i].perf)
            fail_msg("%s: DWARF %d holds perf register %llu, want %d", reg_rows[i].name,
                     reg_rows[i].dwarf, (unsigned long long)out[reg_rows[i].dwarf] - 1000,
                     reg_rows[i].perf);
    }
}

static void test_regs_from_perf_rejects_masks_it_cannot_use(void **state)
{
    uint64_t full = unwind_perf_regs_mask(), in[64] = {0}, out[UNWIND_NREGS];
    const struct {
        uint64_t mask;
        size_t n;
        const char *why;
    } rows[] = {
        {full & ~(1ull << PERF_REG_X86_IP), 19, "no ip: nothing to start from"},
        {full & ~(1ull << PERF_REG_X86_SP), 19, "no sp: the stack copy cannot be placed"},
        {full & ~(1ull << PERF_REG_X86_R15), 19, "no r15: a callee-saved register"},
        {full, 19, "fewer values than mask bits"},
        {full, 21, "more values than mask bits"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (unwind_regs_from_perf(rows[i].mask, in, rows[i].n, out) != -1)
            fail_msg("accepted: %s", rows[i].why);
}

/* ---- pprof ---- */

static char tmpdir[] = "/tmp/test_perf_parts.XXXXXX";

static int make_tmpdir(void **state)
{
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char path[512];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || e->d_name[1] == '.'))
            continue;
        snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(tmpdir);
    return 0;
}

static size_t files_in_tmpdir(void)
{
    size_t n = 0;
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d)
        closedir(d);
    return n;
}

static const struct pprof_value_type cpu_types[2] = {{"samples", "count"}, {"cpu", "nanoseconds"}};
static const struct pprof_value_type cpu_period = {"cpu", "nanoseconds"};

static void test_pprof_round_trip_aggregates_equal_samples(void **state)
{
    struct pprof_builder *b = pprof_new(cpu_types, 2, &cpu_period, 10000000, NULL);
    assert_non_null(b);
    uint64_t m1 = pprof_add_mapping(b, 0x1000, 0x2000, 0x0, "/bin/main", "abcd");
    uint64_t m2 = pprof_add_mapping(b, 0x7000, 0x8000, 0x3000, "/lib/libc.so.6", NULL);
    assert_int_equal(m1, 1);
    assert_int_equal(m2, 2);
    uint64_t leaf = pprof_location(b, m1, 0x1010), caller = pprof_location(b, m1, 0x1100);
    uint64_t lib = pprof_location(b, m2, 0x7010), unknown = pprof_location(b, 0, 0x9999);
    assert_int_equal(pprof_location(b, m1, 0x1010), leaf); /* same (mapping, address): same id */
    assert_int_equal(pprof_location_count(b), 4);
    assert_int_equal(pprof_location(b, 3, 0x1), 0); /* no mapping 3 */

    uint64_t stack[] = {leaf, caller}, other[] = {lib, caller};
    int64_t v[2] = {1, 10000000};
    struct pprof_label main_thread[2] = {{"pid", NULL, 42}, {"thread", "main", 0}};
    struct pprof_label worker[2] = {{"pid", NULL, 42}, {"thread", "worker", 0}};
    struct pprof_label child[2] = {{"pid", NULL, 43}, {"thread", "main", 0}};
    assert_int_equal(pprof_add_sample(b, stack, 2, v, main_thread, 2), 0);
    assert_int_equal(pprof_add_sample(b, stack, 2, v, main_thread, 2), 0); /* aggregated */
    assert_int_equal(pprof_add_sample(b, stack, 2, v, worker, 2), 0);      /* other thread */
    assert_int_equal(pprof_add_sample(b, stack, 2, v, child, 2), 0);       /* other pid */
    assert_int_equal(pprof_add_sample(b, other, 2, v, main_thread, 2), 0); /* other stack */
    assert_int_equal(pprof_add_sample(b, &unknown, 1, v, main_thread, 2), 0);
    assert_int_equal(pprof_add_sample(b, NULL, 0, v, main_thread, 2), 0); /* no frames */
    uint64_t bogus = 99;
    assert_int_equal(pprof_add_sample(b, &bogus, 1, v, main_thread, 2), -1);
    assert_int_equal(pprof_sample_count(b), 6);
    assert_int_equal(pprof_dropped(b), 2); /* the location of mapping 3 and this sample */
    pprof_set_time(b, 1700000000000000000, 1500000000);
    assert_int_equal(pprof_add_comment(b, "hello"), 0);

    char path[600];
    snprintf(path, sizeof path, "%s/cpu.pb.gz", tmpdir);
    struct buf err;
    buf_init(&err, 4096);
    assert_int_equal(pprof_write(b, path, &err), 0);
    assert_int_equal(files_in_tmpdir(), 1); /* the temporary name is gone */
    pprof_free(b);

    Perftools__Profiles__Profile *p = ptu_load(path);
    assert_non_null(p);
    const char *bad = ptu_check_ids(p);
    if (bad)
        fail_msg("%s", bad);
    assert_int_equal(p->n_sample_type, 2);
    assert_string_equal(ptu_str(p, p->sample_type[0]->type), "samples");
    assert_string_equal(ptu_str(p, p->sample_type[0]->unit), "count");
    assert_string_equal(ptu_str(p, p->sample_type[1]->type), "cpu");
    assert_string_equal(ptu_str(p, p->sample_type[1]->unit), "nanoseconds");
    assert_non_null(p->period_type);
    assert_string_equal(ptu_str(p, p->period_type->unit), "nanoseconds");
    assert_int_equal(p->period, 10000000);
    assert_int_equal(p->time_nanos, 1700000000000000000);
    assert_int_equal(p->duration_nanos, 1500000000);
    assert_int_equal(p->n_comment, 1);
    assert_string_equal(ptu_str(p, p->comment[0]), "hello");
    assert_int_equal(p->n_mapping, 2);
    assert_string_equal(ptu_str(p, p->mapping[0]->filename), "/bin/main");
    assert_string_equal(ptu_str(p, p->mapping[0]->build_id), "abcd");
    assert_int_equal(p->mapping[1]->memory_start, 0x7000);
    assert_int_equal(p->mapping[1]->memory_limit, 0x8000);
    assert_int_equal(p->mapping[1]->file_offset, 0x3000);
    assert_string_equal(ptu_str(p, p->mapping[1]->build_id), "");
    assert_int_equal(p->n_location, 4);
    assert_int_equal(p->location[0]->address, 0x1010);
    assert_int_equal(p->location[0]->n_line, 0); /* address-only */
    assert_int_equal(p->location[3]->mapping_id, 0);
    assert_int_equal(p->n_sample, 6);
    /* the first sample: the stack added twice, leaf first, values summed */
    const Perftools__Profiles__Sample *s = p->sample[0];
    assert_int_equal(s->n_location_id, 2);
    assert_int_equal(s->location_id[0], leaf);
    assert_int_equal(s->location_id[1], caller);
    assert_int_equal(s->value[0], 2);
    assert_int_equal(s->value[1], 20000000);
    const char *thread;
    int64_t pid;
    assert_int_equal(ptu_label(p, s, "pid", NULL, &pid), 0);
    assert_int_equal(pid, 42);
    assert_int_equal(ptu_label(p, s, "thread", &thread, NULL), 0);
    assert_string_equal(thread, "main");
    assert_int_equal(ptu_label(p, p->sample[1], "thread", &thread, NULL), 0);
    assert_string_equal(thread, "worker");
    assert_int_equal(ptu_label(p, p->sample[2], "pid", NULL, &pid), 0);
    assert_int_equal(pid, 43);
    assert_int_equal(p->sample[5]->n_location_id, 0);
    perftools__profiles__profile__free_unpacked(p, NULL);
    unlink(path);
    buf_free(&err);
}

static void test_pprof_caps_count_drops_and_keep_what_fitted(void **state)
{
    struct pprof_limits lim;
    pprof_limits_default(&lim);
    lim.max_mappings = 1;
    lim.max_locations = 2;
    lim.max_samples = 1;
    struct pprof_builder *b = pprof_new(cpu_types, 2, &cpu_period, 1, &lim);
    assert_non_null(b);
    assert_int_equal(pprof_add_mapping(b, 0x1000, 0x2000, 0, "/a", NULL), 1);
    assert_int_equal(pprof_add_mapping(b, 0x3000, 0x4000, 0, "/b", NULL), 0);
    uint64_t l1 = pprof_location(b, 1, 0x1001), l2 = pprof_location(b, 1, 0x1002);
    assert_int_not_equal(l1, 0);
    assert_int_not_equal(l2, 0);
    assert_int_equal(pprof_location(b, 1, 0x1003), 0);
    int64_t v[2] = {1, 1};
    struct pprof_label lab = {"pid", NULL, 1};
    assert_int_equal(pprof_add_sample(b, &l1, 1, v, &lab, 1), 0);
    assert_int_equal(pprof_add_sample(b, &l1, 1, v, &lab, 1), 0); /* aggregates: no new entry */
    assert_int_equal(pprof_add_sample(b, &l2, 1, v, &lab, 1), -1);
    assert_int_equal(pprof_dropped(b), 3);
    char path[600];
    snprintf(path, sizeof path, "%s/capped.pb.gz", tmpdir);
    struct buf err;
    buf_init(&err, 4096);
    assert_int_equal(pprof_write(b, path, &err), 0);
    pprof_free(b);
    Perftools__Profiles__Profile *p = ptu_load(path);
    assert_non_null(p);
    assert_null(ptu_check_ids(p));
    assert_int_equal(p->n_mapping, 1);
    assert_int_equal(p->n_sample, 1);
    assert_int_equal(p->sample[0]->value[0], 2);
    perftools__profiles__profile__free_unpacked(p, NULL);
    unlink(path);
    buf_free(&err);
}

static void test_pprof_write_refuses_an_oversized_profile_and_leaves_nothing(void **state)
{
    struct pprof_limits lim;
    pprof_limits_default(&lim);
    lim.max_file_bytes = 16; /* a gzip header and trailer alone are 18 bytes */
    struct pprof_builder *b = pprof_new(cpu_types, 2, &cpu_period, 1, &lim);
    assert_non_null(b);
    char path[600];
    snprintf(path, sizeof path, "%s/big.pb.gz", tmpdir);
    struct buf err;
    buf_init(&err, 4096);
    assert_int_equal(pprof_write(b, path, &err), -1);
    assert_non_null(strstr(err.data, "limit"));
    assert_int_equal(files_in_tmpdir(), 0);
    buf_reset(&err);
    pprof_limits_default(&lim);
    pprof_free(b);
    b = pprof_new(cpu_types, 2, &cpu_period, 1, &lim);
    snprintf(path, sizeof path, "%s/no/such/folder/cpu.pb.gz", tmpdir);
    assert_int_equal(pprof_write(b, path, &err), -1);
    assert_non_null(strstr(err.data, path)); /* the message names the file */
    pprof_free(b);
    buf_free(&err);
}

static void test_pprof_new_refuses_a_bad_value_count(void **state)
{
    assert_null(pprof_new(cpu_types, 0, NULL, 0, NULL));
    assert_null(pprof_new(cpu_types, PPROF_MAX_VALUES + 1, NULL, 0, NULL));
}

/* ---- tree membership ---- */

/* One step: 'a' add (a scanned pid), 'f' a FORK record (pid, ppid), 'h' is
 * pid a member, 'n' how many members; want is the result. */
struct tree_step {
    char op;
    pid_t pid, ppid;
    int want;
};

static const struct {
    const char *why;
    size_t max;
    struct tree_step steps[8];
} tree_rows[] = {
    {"a member's new process joins", 8, {{'a', 100, 0, 1}, {'f', 101, 100, 1}, {'h', 101, 0, 1}}},
    {"a member's grandchild joins",
     8,
     {{'a', 100, 0, 1}, {'f', 101, 100, 1}, {'f', 102, 101, 1}, {'h', 102, 0, 1}, {'n', 0, 0, 3}}},
    {"an outsider's new process stays out",
     8,
     {{'a', 100, 0, 1}, {'f', 201, 200, 0}, {'h', 201, 0, 0}, {'n', 0, 0, 1}}},
    {"a member's new thread (pid == ppid) joins, an outsider's does not",
     8,
     {{'a', 100, 0, 1}, {'f', 100, 100, 1}, {'f', 200, 200, 0}, {'h', 200, 0, 0}}},
    {"a member's pid reused by an outsider's child leaves the tree",
     8,
     {{'a', 100, 0, 1},
      {'f', 101, 100, 1},
      {'f', 101, 300, 0},
      {'h', 101, 0, 0},
      {'h', 100, 0, 1},
      {'n', 0, 0, 1}}},
    {"a reused pid's new process, a member's child again, rejoins",
     8,
     {{'a', 100, 0, 1},
      {'f', 101, 100, 1},
      {'f', 101, 300, 0},
      {'f', 101, 100, 1},
      {'h', 101, 0, 1}}},
    {"a former member's new thread is outside",
     8,
     {{'a', 100, 0, 1}, {'f', 101, 100, 1}, {'f', 101, 300, 0}, {'f', 101, 101, 0}}},
    {"past the cap a member's child is untracked, not a member",
     2,
     {{'a', 100, 0, 1},
      {'f', 101, 100, 1},
      {'f', 102, 100, -1},
      {'h', 102, 0, 0},
      {'a', 103, 0, 0}}},
    {"the idle task (pid 0) is never a member",
     8,
     {{'a', 0, 0, 0}, {'h', 0, 0, 0}, {'n', 0, 0, 0}}},
};

static void test_tree_follows_fork_records(void **state)
{
    for (size_t i = 0; i < sizeof tree_rows / sizeof tree_rows[0]; i++) {
        struct perf_tree *t = perf_tree_new(tree_rows[i].max);
        assert_non_null(t);
        for (size_t j = 0; j < 8 && tree_rows[i].steps[j].op; j++) {
            const struct tree_step *st = &tree_rows[i].steps[j];
            int got = 0;
            switch (st->op) {
            case 'a':
                got = perf_tree_add(t, st->pid);
                break;
            case 'f':
                got = perf_tree_fork(t, st->pid, st->ppid);
                break;
            case 'h':
                got = perf_tree_has(t, st->pid);
                break;
            case 'n':
                got = (int)perf_tree_count(t);
                break;
            }
            if (got != st->want)
                fail_msg("%s: step %zu ('%c' %d %d) gave %d, want %d", tree_rows[i].why, j, st->op,
                         (int)st->pid, (int)st->ppid, got, st->want);
        }
        perf_tree_free(t);
    }
}

/* ---- ring buffer ---- */

#define RING_DATA 256

/* A ring laid out as the kernel's: meta page, power-of-two data. */
struct fake_ring {
    struct perf_event_mmap_page meta;
    uint8_t data[RING_DATA];
    struct perf_ring r;
    uint64_t head;
};

static void fake_init(struct fake_ring *f)
{
    memset(f, 0, sizeof *f);
    f->r = (struct perf_ring){.fd = -1, .meta = &f->meta, .data = f->data, .data_size = RING_DATA};
}

/* Writes a record of size bytes (a multiple of 8) whose body bytes are tag,
 * wrapping as the kernel does, and publishes it. */
static void fake_write(struct fake_ring *f, uint32_t type, uint16_t size, uint8_t tag)
{
    uint8_t rec[RING_DATA];
    struct perf_event_header h = {.type = type, .misc = 0, .size = size};
    memcpy(rec, &h, sizeof h);
    memset(rec + sizeof h, tag, size - sizeof h);
    for (uint16_t i = 0; i < size; i++)
        f->data[(f->head + i) % RING_DATA] = rec[i];
    f->head += size;
    f->meta.data_head = f->head;
}

struct seen {
    int n;
    uint8_t tags[32];
    uint16_t sizes[32];
    bool intact[32]; /* every body byte is the tag: a wrapped record came out whole */
};

static void note_record(void *ctx, const uint8_t *rec, size_t size)
{
    struct seen *s = ctx;
    struct perf_event_header h;
    memcpy(&h, rec, sizeof h);
    if (s->n >= 32)
        return;
    s->tags[s->n] = rec[sizeof h];
    s->sizes[s->n] = (uint16_t)size;
    s->intact[s->n] = h.size == size;
    for (size_t i = sizeof h; i < size; i++)
        s->intact[s->n] &= rec[i] == rec[sizeof h];
    s->n++;
}

static void test_ring_drain_hands_over_wrapped_records_whole(void **state)
{
    static struct fake_ring f;
    uint8_t scratch[PERF_RING_MAX_RECORD];
    struct seen s = {0};
    fake_init(&f);
    /* 3 × 80 bytes, drained; then 2 × 80 more: the second of these wraps */
    for (int i = 0; i < 3; i++)
        fake_write(&f, PERF_RECORD_SAMPLE, 80, (uint8_t)(1 + i));
    perf_ring_drain(&f.r, 0, note_record, &s, scratch);
    assert_int_equal(s.n, 3);
    assert_int_equal(f.meta.data_tail, 240);
    fake_write(&f, PERF_RECORD_SAMPLE, 80, 4);
    fake_write(&f, PERF_RECORD_SAMPLE, 80, 5); /* bytes 320..400: wraps at 256 */
    perf_ring_drain(&f.r, 0, note_record, &s, scratch);
    assert_int_equal(s.n, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(s.tags[i], 1 + i);
        assert_int_equal(s.sizes[i], 80);
        assert_true(s.intact[i]);
    }
    assert_int_equal(f.meta.data_tail, 400);
}

static void test_ring_drains_only_what_was_marked_and_peeked(void **state)
{
    static struct fake_ring f;
    uint8_t scratch[PERF_RING_MAX_RECORD];
    struct seen peeked = {0}, drained = {0};
    fake_init(&f);
    fake_write(&f, PERF_RECORD_FORK, 48, 1);
    /* never marked or peeked at: nothing may be consumed */
    perf_ring_drain(&f.r, 1, note_record, &drained, scratch);
    assert_int_equal(drained.n, 0);
    assert_int_equal(f.meta.data_tail, 0);
    /* marked, not peeked at: still nothing */
    perf_ring_mark(&f.r);
    perf_ring_drain(&f.r, 1, note_record, &drained, scratch);
    assert_int_equal(drained.n, 0);
    fake_write(&f, PERF_RECORD_SAMPLE, 64, 2);
    perf_ring_mark(&f.r);
    perf_ring_peek(&f.r, note_record, &peeked, scratch);
    assert_int_equal(peeked.n, 2);
    assert_int_equal(f.meta.data_tail, 0); /* peeking consumes nothing */
    /* a record written after the peek waits for the next one */
    fake_write(&f, PERF_RECORD_SAMPLE, 64, 3);
    perf_ring_drain(&f.r, 1, note_record, &drained, scratch);
    assert_int_equal(drained.n, 2);
    assert_int_equal(f.meta.data_tail, 112);
    /* the next peek starts where the last one ended */
    perf_ring_mark(&f.r);
    perf_ring_peek(&f.r, note_record, &peeked, scratch);
    assert_int_equal(peeked.n, 3);
    assert_int_equal(peeked.tags[2], 3);
    perf_ring_drain(&f.r, 1, note_record, &drained, scratch);
    assert_int_equal(drained.n, 3);
    assert_int_equal(f.meta.data_tail, 176);
}

/* The per-CPU reader marks every buffer, then peeks at every one: a child's
 * sample written into buffer A after A was marked may have its FORK record
 * in buffer B, written after B was peeked at. The sample must wait for the
 * next pass, whose peek sees the FORK; only records below the mark go. */
static void test_ring_drains_up_to_the_mark_taken_before_the_peeks(void **state)
{
    static struct fake_ring a, b;
    uint8_t scratch[PERF_RING_MAX_RECORD];
    struct seen peeked = {0}, drained = {0};
    fake_init(&a);
    fake_init(&b);
    fake_write(&a, PERF_RECORD_SAMPLE, 64, 1);
    perf_ring_mark(&a.r);
    perf_ring_mark(&b.r);
    perf_ring_peek(&b.r, note_record, &peeked, scratch); /* B: nothing yet */
    fake_write(&b, PERF_RECORD_FORK, 48, 2);             /* the parent, on B's CPU */
    fake_write(&a, PERF_RECORD_SAMPLE, 64, 3);           /* then the child, on A's */
    perf_ring_peek(&a.r, note_record, &peeked, scratch);
    assert_int_equal(peeked.n, 2); /* A's two samples; B's FORK not seen */
    perf_ring_drain(&a.r, 1, note_record, &drained, scratch);
    perf_ring_drain(&b.r, 1, note_record, &drained, scratch);
    assert_int_equal(drained.n, 1); /* the child's sample was past A's mark */
    assert_int_equal(drained.tags[0], 1);
    assert_int_equal(a.meta.data_tail, 64);
    /* the next pass: the FORK is peeked at before the sample is consumed */
    perf_ring_mark(&a.r);
    perf_ring_mark(&b.r);
    perf_ring_peek(&a.r, note_record, &peeked, scratch);
    perf_ring_peek(&b.r, note_record, &peeked, scratch);
    assert_int_equal(peeked.n, 3);
    assert_int_equal(peeked.tags[2], 2);
    perf_ring_drain(&a.r, 1, note_record, &drained, scratch);
    perf_ring_drain(&b.r, 1, note_record, &drained, scratch);
    assert_int_equal(drained.n, 3);
    assert_int_equal(drained.tags[1], 3);
    assert_int_equal(a.meta.data_tail, 128);
    assert_int_equal(b.meta.data_tail, 48);
}

static void test_ring_skips_a_corrupt_header(void **state)
{
    static struct fake_ring f;
    uint8_t scratch[PERF_RING_MAX_RECORD];
    struct seen s = {0};
    fake_init(&f);
    fake_write(&f, PERF_RECORD_SAMPLE, 64, 1);
    /* a header claiming 0 bytes: nothing after it can be trusted */
    memset(f.data + 64, 0, 8);
    f.head += 64;
    f.meta.data_head = f.head;
    perf_ring_mark(&f.r);
    perf_ring_peek(&f.r, note_record, &s, scratch);
    assert_int_equal(s.n, 1);
    perf_ring_drain(&f.r, 1, note_record, &s, scratch);
    assert_int_equal(s.n, 2);
    assert_int_equal(f.meta.data_tail, 128); /* skipped to the head */
}

/* Records are 8-byte aligned, so a header never wraps: a size that is not a
 * multiple of 8 would put the next header at an odd place, whose read could
 * run past the end of the mapping. Each row is one good record, then a header
 * that cannot be trusted; only the good record may come out, and the tail must
 * end at the head, 8-byte aligned. */
static void test_ring_treats_headers_it_cannot_trust_as_corrupt(void **state)
{
    static const struct {
        uint16_t size;
        const char *why;
    } rows[] = {
        {0, "a size of 0"},
        {4, "a size smaller than the header"},
        {60, "a size that is not a multiple of 8"},
        {68, "a size that is not a multiple of 8, past the head"},
        {200, "a size past the head"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        static struct fake_ring f;
        uint8_t scratch[PERF_RING_MAX_RECORD];
        struct seen s = {0};
        fake_init(&f);
        fake_write(&f, PERF_RECORD_SAMPLE, 64, 1);
        fake_write(&f, PERF_RECORD_SAMPLE, 64, 2);
        memcpy(f.data + 64 + 6, &rows[i].size, 2); /* the second header's size */
        perf_ring_drain(&f.r, 0, note_record, &s, scratch);
        if (s.n != 1 || f.meta.data_tail != 128)
            fail_msg("%s: %d records handed over, tail %llu; want 1 and 128", rows[i].why, s.n,
                     (unsigned long long)f.meta.data_tail);
    }
}

/* A head more than the buffer's size ahead of the tail cannot be: the kernel
 * never overwrites what was not handed back. Walking it would hand over the
 * same bytes again and again (for ever, with a head far enough away). */
static void test_ring_skips_a_head_past_the_buffer(void **state)
{
    static struct fake_ring f;
    uint8_t scratch[PERF_RING_MAX_RECORD];
    struct seen s = {0};
    fake_init(&f);
    for (int i = 0; i < RING_DATA / 64; i++)
        fake_write(&f, PERF_RECORD_SAMPLE, 64, (uint8_t)(1 + i));
    f.meta.data_head = f.head + RING_DATA; /* valid-looking records all the way */
    perf_ring_peek(&f.r, note_record, &s, scratch);
    perf_ring_drain(&f.r, 0, note_record, &s, scratch);
    assert_int_equal(s.n, 0);
    assert_int_equal(f.meta.data_tail, f.head + RING_DATA);
}

/* ---- proclist ---- */

static void *idle_thread(void *arg)
{
    int *fd = arg;
    char c;
    return read(*fd, &c, 1) < 0 ? NULL : arg;
}

static void test_proclist_lists_descendants_parent_first(void **state)
{
    int ready[2], hold[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(hold), 0);
    pid_t child = fork();
    if (child == 0) {
        close(hold[1]); /* EOF on hold[0] once the test closes its end */
        pid_t grandchild = fork();
        if (grandchild == 0) {
            char c;
            if (write(ready[1], "g", 1) != 1 || read(hold[0], &c, 1) < 0)
                _exit(1);
            _exit(0);
        }
        char c;
        if (write(ready[1], "c", 1) != 1 || read(hold[0], &c, 1) < 0)
            _exit(1);
        waitpid(grandchild, NULL, 0);
        _exit(0);
    }
    char c[2];
    assert_int_equal(read(ready[0], c, 1), 1);
    assert_int_equal(read(ready[0], c + 1, 1), 1);

    pid_t pids[8];
    size_t total = 0;
    int n = proclist_pids(child, pids, 8, &total);
    assert_int_equal(n, 2);
    assert_int_equal(total, 2);
    assert_int_equal(pids[0], child);
    assert_int_equal(proclist_ppid(pids[1]), child);
    assert_int_equal(proclist_pids(child, pids, 1, &total), 1); /* room for one: the root */
    assert_int_equal(total, 2);
    assert_int_equal(pids[0], child);

    close(hold[1]);
    waitpid(child, NULL, 0);
    close(hold[0]);
    close(ready[0]);
    close(ready[1]);
}

static void test_proclist_lists_every_thread(void **state)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, idle_thread, &fds[0]), 0);
    pid_t tids[64];
    size_t total;
    int n = proclist_tids(getpid(), tids, 64, &total);
    assert_true(n >= 2);
    assert_int_equal((size_t)n, total);
    int self = 0;
    for (int i = 0; i < n; i++)
        self += tids[i] == (pid_t)syscall(SYS_gettid);
    assert_int_equal(self, 1);
    assert_int_equal(write(fds[1], "x", 1), 1);
    pthread_join(t, NULL);
    close(fds[0]);
    close(fds[1]);
}

static void test_proclist_missing_pid_fails_with_esrch(void **state)
{
    pid_t gone = fork();
    if (gone == 0)
        _exit(0);
    waitpid(gone, NULL, 0);
    pid_t pids[4];
    errno = 0;
    assert_int_equal(proclist_pids(gone, pids, 4, NULL), -1);
    assert_int_equal(errno, ESRCH);
    assert_int_equal(proclist_tids(gone, pids, 4, NULL), -1);
    assert_int_equal(proclist_ppid(gone), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regs_from_perf_puts_each_register_at_its_dwarf_number),
        cmocka_unit_test(test_regs_from_perf_rejects_masks_it_cannot_use),
        cmocka_unit_test(test_pprof_round_trip_aggregates_equal_samples),
        cmocka_unit_test(test_pprof_caps_count_drops_and_keep_what_fitted),
        cmocka_unit_test(test_pprof_write_refuses_an_oversized_profile_and_leaves_nothing),
        cmocka_unit_test(test_pprof_new_refuses_a_bad_value_count),
        cmocka_unit_test(test_tree_follows_fork_records),
        cmocka_unit_test(test_ring_drain_hands_over_wrapped_records_whole),
        cmocka_unit_test(test_ring_drains_only_what_was_marked_and_peeked),
        cmocka_unit_test(test_ring_drains_up_to_the_mark_taken_before_the_peeks),
        cmocka_unit_test(test_ring_skips_a_corrupt_header),
        cmocka_unit_test(test_ring_treats_headers_it_cannot_trust_as_corrupt),
        cmocka_unit_test(test_ring_skips_a_head_past_the_buffer),
        cmocka_unit_test(test_proclist_lists_descendants_parent_first),
        cmocka_unit_test(test_proclist_lists_every_thread),
        cmocka_unit_test(test_proclist_missing_pid_fails_with_esrch),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
