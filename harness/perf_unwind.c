/*
 * perf_unwind: libdwfl unwinding of sampled user stacks. See perf_unwind.h.
 *
 * How libdwfl is driven (the facts perf's util/unwind-libdw.c relies on too):
 * a Dwfl whose modules are reported by address range, dwfl_attach_state with
 * our own Dwfl_Thread_Callbacks (one "thread": the sampled one), the
 * registers of the sample as the initial frame, memory reads served from the
 * sample's stack copy, and dwfl_getthread_frames walking the frames. It
 * returns 0 when CFI marks the outermost frame (glibc's _start and the
 * thread-start clone have an undefined return address), -1 on most
 * failures, but also 0 when a return address could not be read (the stack
 * copy ended): so "complete" also asks the last frame's CFI whether the
 * return address is undefined there.
 */
#include "perf_unwind.h"

#include <asm/perf_regs.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "outfile.h"

struct uproc {
    pid_t pid;
    Dwfl *dwfl;
    bool attached;
    /* the unwind in progress */
    const struct unwind_sample *cur;
    uint64_t *pcs;
    size_t max, n;
    bool bad_frame;
};

struct unwinder {
    struct uproc **procs;
    size_t nprocs, max_procs;
    struct uproc *last; /* the last one looked up: samples come in runs */
};

/* ---- the vDSO: one image for every 64-bit process of this kernel ---- */

static struct {
    pthread_once_t once;
    char *image;
    size_t len;
    Elf *elf; /* kept for the life of the process (libdwfl's arch probe) */
} vdso = {PTHREAD_ONCE_INIT, NULL, 0, NULL};

static void vdso_load(void)
{
    unsigned long at = getauxval(AT_SYSINFO_EHDR);
    size_t len = 0;
    char *maps = outfile_slurp("/proc/self/maps", (size_t)16 << 20, &len);
    if (!at || !maps) {
        free(maps);
        return;
    }
    for (char *line = maps; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        unsigned long start, end;
        if (strstr(line, "[vdso]") && sscanf(line, "%lx-%lx", &start, &end) == 2 && start == at &&
            end > start)
            len = end - start;
        line = nl ? nl + 1 : NULL;
    }
    free(maps);
    if (!len || !(vdso.image = malloc(len)))
        return;
    memcpy(vdso.image, (const void *)at, len);
    vdso.len = len;
    elf_version(EV_CURRENT);
    vdso.elf = elf_memory(vdso.image, len);
}

/* ---- libdwfl callbacks ---- */

static int no_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                        const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
                        char **debuginfo_file_name)
{
    return -1;
}

/* The module's userdata is the pid (set when reported), for /proc/<pid>/root. */
static int find_elf(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr base,
                    char **file_name, Elf **elfp)
{
    *file_name = NULL;
    if (!name)
        return -1;
    if (!strcmp(name, "[vdso]")) {
        if (vdso.image)
            *elfp = elf_memory(vdso.image, vdso.len);
        return -1;
    }
    if (name[0] != '/' || strstr(name, " (deleted)"))
        return -1;
    int fd = open(name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        /* a target in another mount namespace: its files through its root */
        char path[4096 + 64];
        snprintf(path, sizeof path, "/proc/%d/root%s", (int)(intptr_t)*userdata, name);
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (fd >= 0 && !(*file_name = strdup(name))) {
        close(fd);
        return -1;
    }
    return fd;
}

static const Dwfl_Callbacks dwfl_callbacks = {
    .find_elf = find_elf,
    .find_debuginfo = no_debuginfo,
    .section_address = dwfl_offline_section_address,
};

static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
    struct uproc *p = arg;
    if (*thread_argp)
        return 0;
    *thread_argp = p;
    return p->cur->tid;
}

static bool get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
    struct uproc *p = arg;
    *thread_argp = p;
    return p->cur && tid == p->cur->tid;
}

/* A word of the read-only part of the file mapped at addr (CFI expressions
 * that dereference constants): never the live process's memory. */
static bool read_file_word(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *out)
{
    Dwfl_Module *mod = dwfl_addrmodule(dwfl, addr);
    Dwarf_Addr bias;
    Elf *elf = mod ? dwfl_module_getelf(mod, &bias) : NULL;
    size_t nph, size;
    if (!elf || elf_getphdrnum(elf, &nph) < 0)
        return false;
    const char *raw = elf_rawfile(elf, &size);
    uint64_t vaddr = addr - bias;
    for (size_t i = 0; raw && i < nph; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || (ph.p_flags & PF_W))
            continue;
        if (vaddr < ph.p_vaddr || vaddr + sizeof *out > ph.p_vaddr + ph.p_filesz)
            continue;
        uint64_t off = ph.p_offset + (vaddr - ph.p_vaddr);
        if (off + sizeof *out > size)
            return false;
        memcpy(out, raw + off, sizeof *out);
        return true;
    }
    return false;
}

static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
    struct uproc *p = arg;
    const struct unwind_sample *s = p->cur;
    uint64_t sp = s->regs[UNWIND_REG_SP];
    if (addr >= sp && addr - sp <= s->stack_len && s->stack_len - (addr - sp) >= sizeof *result) {
        memcpy(result, s->stack + (addr - sp), sizeof *result);
        return true;
    }
    return read_file_word(dwfl, addr, result);
}

static bool set_initial_registers(Dwfl_Thread *thread, void *arg)
{
    struct uproc *p = arg;
    Dwarf_Word regs[UNWIND_NREGS];
    for (int i = 0; i < UNWIND_NREGS; i++)
        regs[i] = p->cur->regs[i];
    if (!dwfl_thread_state_registers(thread, 0, UNWIND_NREGS, regs))
        return false;
    dwfl_thread_state_register_pc(thread, regs[UNWIND_REG_IP]);
    return true;
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
    .next_thread = next_thread,
    .get_thread = get_thread,
    .memory_read = memory_read,
    .set_initial_registers = set_initial_registers,
};

static int frame_cb(Dwfl_Frame *frame, void *arg)
{
    struct uproc *p = arg;
    Dwarf_Addr pc;
    bool activation;
    if (!dwfl_frame_pc(frame, &pc, &activation)) {
        p->bad_frame = true;
        return DWARF_CB_ABORT;
    }
    /* a return address points after the call: step back into it, as
     * pprof.proto asks of caller locations */
    if (!activation)
        pc--;
    if (p->n == p->max)
        return DWARF_CB_ABORT;
    p->pcs[p->n++] = pc;
    return DWARF_CB_OK;
}

/* ---- sessions ---- */

int unwind_new(struct unwinder **out, size_t max_processes, struct buf *err)
{
    *out = NULL;
    pthread_once(&vdso.once, vdso_load);
    struct unwinder *u = calloc(1, sizeof *u);
    if (!u || !(u->procs = calloc(max_processes ? max_processes : 1, sizeof *u->procs))) {
        free(u);
        buf_printf(err, "unwind: out of memory");
        return -1;
    }
    u->max_procs = max_processes;
    *out = u;
    return 0;
}

static void uproc_free(struct uproc *p)
{
    if (p->dwfl)
        dwfl_end(p->dwfl);
    free(p);
}

void unwind_free(struct unwinder *u)
{
    if (!u)
        return;
    for (size_t i = 0; i < u->nprocs; i++)
        uproc_free(u->procs[i]);
    free(u->procs);
    free(u);
}

static struct uproc *find_proc(struct unwinder *u, pid_t pid)
{
    if (u->last && u->last->pid == pid)
        return u->last;
    for (size_t i = 0; i < u->nprocs; i++)
        if (u->procs[i]->pid == pid)
            return u->last = u->procs[i];
    return NULL;
}

void unwind_forget(struct unwinder *u, pid_t pid)
{
    for (size_t i = 0; i < u->nprocs; i++) {
        if (u->procs[i]->pid != pid)
            continue;
        if (u->last == u->procs[i])
            u->last = NULL;
        uproc_free(u->procs[i]);
        u->procs[i] = u->procs[--u->nprocs];
        return;
    }
}

/* One maps line's fields; path points into the line (NUL-terminated). */
struct maps_line {
    uint64_t start, end, offset, ino;
    unsigned dmaj, dmin;
    const char *path;
};

static bool parse_maps_line(char *line, struct maps_line *m)
{
    int pos = -1;
    char perms[8];
    if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %x:%x %" SCNu64 " %n", &m->start,
               &m->end, perms, &m->offset, &m->dmaj, &m->dmin, &m->ino, &pos) < 7 ||
        pos < 0)
        return false;
    m->path = line + pos;
    return m->end > m->start;
}

static void report(struct uproc *p, const char *name, uint64_t low, uint64_t high)
{
    Dwfl_Module *mod = dwfl_report_module(p->dwfl, name, low, high);
    void **userdata;
    if (mod && dwfl_module_info(mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL))
        *userdata = (void *)(intptr_t)p->pid;
}

/* Reports the file-backed ranges of maps: consecutive lines of one file are
 * one module, whose first line must map the file's start (offset 0) for
 * libdwfl to place the ELF's segments. */
static int report_maps(struct uproc *p, const char *maps, size_t len)
{
    char *text = malloc(len + 1);
    if (!text)
        return -1;
    memcpy(text, maps, len);
    text[len] = '\0';
    struct maps_line cur = {0}, m;
    bool open = false;
    uint64_t high = 0;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (parse_maps_line(line, &m)) {
            bool same = open && m.ino == cur.ino && m.dmaj == cur.dmaj && m.dmin == cur.dmin &&
                        !strcmp(m.path, cur.path) && m.start == high;
            if (same) {
                high = m.end;
            } else {
                if (open)
                    report(p, cur.path, cur.start, high);
                open = false;
                if (!strcmp(m.path, "[vdso]"))
                    report(p, "[vdso]", m.start, m.end);
                else if (m.path[0] == '/' && m.ino != 0 && m.offset == 0) {
                    cur = m;
                    high = m.end;
                    open = true;
                }
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    if (open)
        report(p, cur.path, cur.start, high);
    free(text);
    return 0;
}

int unwind_set_maps(struct unwinder *u, pid_t pid, const char *maps, size_t len, struct buf *err)
{
    struct uproc *p = find_proc(u, pid);
    if (!p) {
        if (u->nprocs >= u->max_procs) {
            buf_printf(err, "unwind: pid %d: over the limit of %zu processes", (int)pid,
                       u->max_procs);
            return -1;
        }
        if (!(p = calloc(1, sizeof *p)) || !(p->dwfl = dwfl_begin(&dwfl_callbacks))) {
            buf_printf(err, "unwind: pid %d: %s", (int)pid, p ? dwfl_errmsg(-1) : "out of memory");
            free(p);
            return -1;
        }
        p->pid = pid;
        u->procs[u->nprocs++] = p;
    }
    dwfl_report_begin(p->dwfl);
    int rc = report_maps(p, maps, len);
    if (dwfl_report_end(p->dwfl, NULL, NULL) != 0 || rc < 0) {
        buf_printf(err, "unwind: pid %d: reporting modules: %s", (int)pid,
                   rc < 0 ? "out of memory" : dwfl_errmsg(-1));
        return -1;
    }
    if (!p->attached) {
        if (!vdso.elf) {
            buf_printf(err, "unwind: no vDSO image to select the x86_64 backend");
            return -1;
        }
        if (!dwfl_attach_state(p->dwfl, vdso.elf, pid, &thread_callbacks, p)) {
            buf_printf(err, "unwind: pid %d: dwfl_attach_state: %s", (int)pid, dwfl_errmsg(-1));
            return -1;
        }
        p->attached = true;
    }
    return 0;
}

bool unwind_pc_mapped(struct unwinder *u, pid_t pid, uint64_t pc)
{
    struct uproc *p = find_proc(u, pid);
    return p && dwfl_addrmodule(p->dwfl, pc) != NULL;
}

/* Whether pc's CFI (eh_frame, else debug_frame) marks the return address
 * undefined: the outermost frame (glibc's _start, the thread start in clone3). */
static bool ra_undefined(Dwfl *dwfl, Dwarf_Addr pc)
{
    Dwfl_Module *mod = dwfl_addrmodule(dwfl, pc);
    for (int kind = 0; mod && kind < 2; kind++) {
        Dwarf_Addr bias;
        Dwarf_CFI *cfi =
            kind == 0 ? dwfl_module_eh_cfi(mod, &bias) : dwfl_module_dwarf_cfi(mod, &bias);
        Dwarf_Frame *frame;
        if (!cfi || dwarf_cfi_addrframe(cfi, pc - bias, &frame) != 0)
            continue;
        Dwarf_Op mem[3], *ops = NULL;
        size_t nops = 1;
        int ra = dwarf_frame_info(frame, NULL, NULL, NULL);
        /* "undefined" is no operations with ops pointing at our array */
        bool undefined = ra >= 0 && dwarf_frame_register(frame, ra, mem, &ops, &nops) == 0 &&
                         nops == 0 && ops == mem;
        free(frame);
        return undefined;
    }
    return false;
}

enum unwind_end unwind_stack(struct unwinder *u, const struct unwind_sample *s, uint64_t *pcs,
                             size_t max, size_t *n)
{
    *n = 0;
    struct uproc *p = find_proc(u, s->pid);
    if (!p || !p->attached)
        return UNWIND_NO_PROCESS;
    if (max == 0)
        return UNWIND_DEPTH;
    p->cur = s;
    p->pcs = pcs;
    p->max = max;
    p->n = 0;
    p->bad_frame = false;
    int rc = dwfl_getthread_frames(p->dwfl, s->tid, frame_cb, p);
    p->cur = NULL;
    *n = p->n;
    if (p->n == 0) { /* libdwfl gave up before the first frame: keep the leaf */
        pcs[0] = s->regs[UNWIND_REG_IP];
        *n = 1;
        return UNWIND_ERROR;
    }
    /* libdwfl also returns 0 when it could not read a return address (the
     * stack copy ended): the chain is complete only if it stopped where the
     * CFI says there is no caller */
    if (rc == 0 && ra_undefined(p->dwfl, p->pcs[p->n - 1]))
        return UNWIND_COMPLETE;
    if (rc == DWARF_CB_ABORT && !p->bad_frame && p->n == max)
        return UNWIND_DEPTH;
    return UNWIND_ERROR;
}

/* ---- registers ---- */

uint64_t unwind_perf_regs_mask(void)
{
    uint64_t all = (1ull << PERF_REG_X86_64_MAX) - 1;
    uint64_t segments = (1ull << PERF_REG_X86_DS) | (1ull << PERF_REG_X86_ES) |
                        (1ull << PERF_REG_X86_FS) | (1ull << PERF_REG_X86_GS);
    return all & ~segments;
}

int unwind_regs_from_perf(uint64_t mask, const uint64_t *perf_regs, size_t n,
                          uint64_t dwarf[UNWIND_NREGS])
{
    /* perf's register for each DWARF number */
    static const int perf_of_dwarf[UNWIND_NREGS] = {
        PERF_REG_X86_AX,  PERF_REG_X86_DX,  PERF_REG_X86_CX,  PERF_REG_X86_BX,  PERF_REG_X86_SI,
        PERF_REG_X86_DI,  PERF_REG_X86_BP,  PERF_REG_X86_SP,  PERF_REG_X86_R8,  PERF_REG_X86_R9,
        PERF_REG_X86_R10, PERF_REG_X86_R11, PERF_REG_X86_R12, PERF_REG_X86_R13, PERF_REG_X86_R14,
        PERF_REG_X86_R15, PERF_REG_X86_IP,
    };
    if ((size_t)__builtin_popcountll(mask) != n)
        return -1;
    for (int d = 0; d < UNWIND_NREGS; d++) {
        int r = perf_of_dwarf[d];
        if (!(mask & (1ull << r)))
            return -1;
        /* the sample holds the set bits in ascending order: index = set bits below r */
        dwarf[d] = perf_regs[__builtin_popcountll(mask & ((1ull << r) - 1))];
    }
    return 0;
}
