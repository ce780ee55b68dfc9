/*
 * symbolize: libdwfl behind symbolize.h. One Dwfl per session, one module per
 * distinct mapped file (path, inode, size, mtime), reported once with
 * dwfl_report_elf at a synthetic bias; each profile's maps become ranges that
 * translate its (ASLR-randomised) addresses into that fixed layout, so the
 * ELF/DWARF of a binary and libc's separate debug info (compressed: inflating
 * it was most of `analyze`'s time when every profile had its own Dwfl) are
 * read once however many profiles share them, and the address cache hits
 * across profiles. Two hash tables (address → location, here; name →
 * function id, a common/strmap over the function array) make repeated lookups
 * cheap, which is most of why `top` is faster than pprof (which shells out to
 * addr2line/nm).
 */
#include "symbolize.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strmap.h"

struct addr_slot {
    uint64_t addr;
    struct sym_loc loc;
    bool used;
};

/* One PT_LOAD segment of a module's file (what a maps line's offset is
 * matched against to find the profile's load bias). */
struct seg {
    uint64_t offset, vaddr, filesz;
};

/* One distinct mapped file, reported to libdwfl once for the whole session at
 * a bias of our choosing (ET_DYN) or its own addresses (ET_EXEC). */
struct module {
    char *file; /* path opened */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    struct seg *segs;
    size_t nsegs;
    uint64_t synth_bias; /* where it lives in the session's address space */
    Dwfl_Module *dm;     /* what dwfl_report_elf made of it */
    bool reported;       /* dwfl_report_elf accepted it */
    bool is_main;        /* some profile's executable (its first mapped file) */
};

/* One address range of the current profile: synthetic = addr + delta. */
struct range {
    uint64_t start, end, delta;
};

struct symbolizer {
    Dwfl *dwfl;
    char *binary; /* replaces the main executable's file, or NULL */
    struct module *mods;
    size_t nmods;
    uint64_t next_base;   /* next synthetic base for an ET_DYN module */
    struct range *ranges; /* current profile, sorted by start */
    size_t nranges;
    struct addr_slot *addrs;   /* keyed by synthetic address (or raw | RAW_KEY) */
    size_t addr_cap, addr_len; /* cap a power of two */
    struct strmap names;       /* name → function id, over funcs */
    struct profile_func *funcs;
    size_t nfuncs, funcs_cap;
    char **strs; /* copies owned by the session (files of interned names) */
    size_t nstrs;
    const regex_t *own_re; /* overrides own when set */
};

/* Synthetic bases start far above any non-PIE executable and below the top of
 * the 47-bit user space; addresses no mapping covers are cached under their
 * raw value with the top bit set, which no synthetic address has. */
#define SYNTH_BASE ((uint64_t)1 << 44)
#define SYNTH_ALIGN ((uint64_t)1 << 30)
#define RAW_KEY ((uint64_t)1 << 63)

static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
};

static uint64_t hash64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

/* Reads file's PT_LOAD segments and type into m. 0, or -1 (unreadable, not
 * ELF, no segments). */
static int module_load(struct module *m, uint64_t *span, bool *is_exec)
{
    int fd = open(m->file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = -1;
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    size_t phnum;
    GElf_Ehdr eh;
    if (elf && elf_kind(elf) == ELF_K_ELF && gelf_getehdr(elf, &eh) &&
        elf_getphdrnum(elf, &phnum) == 0 && phnum > 0 && phnum < 4096) {
        m->segs = calloc(phnum, sizeof(*m->segs));
        *span = 0;
        *is_exec = eh.e_type == ET_EXEC;
        for (size_t i = 0; m->segs && i < phnum; i++) {
            GElf_Phdr mem, *ph = gelf_getphdr(elf, (int)i, &mem);
            if (!ph || ph->p_type != PT_LOAD)
                continue;
            m->segs[m->nsegs++] = (struct seg){ph->p_offset, ph->p_vaddr, ph->p_filesz};
            if (ph->p_vaddr + ph->p_memsz > *span)
                *span = ph->p_vaddr + ph->p_memsz;
        }
        rc = m->nsegs ? 0 : -1;
    }
    if (elf)
        elf_end(elf);
    close(fd);
    return rc;
}

/* Load bias of m when its file offset `offset` is mapped at `start`: the
 * PT_LOAD segment holding that offset says which vaddr the mapping begins at.
 * Returns 0 and sets *bias, or -1 when no segment matches. */
static int module_bias(const struct module *m, uint64_t start, uint64_t offset, uint64_t *bias)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < m->nsegs; i++) {
        const struct seg *sg = &m->segs[i];
        uint64_t seg_off = sg->offset & ~(page - 1);
        if (offset < seg_off || offset >= sg->offset + sg->filesz + page)
            continue;
        /* vaddr of the mapping's first byte, then bias = start - vaddr */
        uint64_t vaddr = (sg->vaddr & ~(page - 1)) + (offset - seg_off);
        *bias = start - vaddr;
        return 0;
    }
    return -1;
}

/* The session's module for file (same path, inode, size and mtime: a rebuilt
 * binary at the same path is a new module), reported on first sight. NULL when
 * the file cannot be used, or is not a regular file (its addresses stay
 * unresolved). */
static struct module *module_get(struct symbolizer *s, const char *file, const char *base)
{
    struct stat st;
    /* Only regular files: a profile's maps can name a FIFO (open would block
     * until a writer comes) or a device the process mapped (open may act). */
    if (stat(file, &st) != 0 || !S_ISREG(st.st_mode))
        return NULL;
    for (size_t i = 0; i < s->nmods; i++) {
        struct module *m = &s->mods[i];
        if (m->dev == st.st_dev && m->ino == st.st_ino && m->size == st.st_size &&
            m->mtime.tv_sec == st.st_mtim.tv_sec && m->mtime.tv_nsec == st.st_mtim.tv_nsec &&
            strcmp(m->file, file) == 0)
            return m->reported ? m : NULL;
    }
    struct module *nm = realloc(s->mods, (s->nmods + 1) * sizeof(*nm));
    if (!nm)
        return NULL;
    s->mods = nm;
    struct module *m = &s->mods[s->nmods];
    memset(m, 0, sizeof(*m));
    m->file = strdup(file);
    if (!m->file)
        return NULL;
    s->nmods++;
    m->dev = st.st_dev;
    m->ino = st.st_ino;
    m->size = st.st_size;
    m->mtime = st.st_mtim;
    uint64_t span;
    bool is_exec;
    if (module_load(m, &span, &is_exec) != 0)
        return NULL;
    /* ET_EXEC: libdwfl ignores the base (its addresses are absolute). ET_DYN:
     * a fresh aligned slot, so every profile's ASLR layout maps onto it. */
    m->synth_bias = is_exec ? 0 : s->next_base;
    if (!is_exec)
        s->next_base += (span + 2 * SYNTH_ALIGN - 1) & ~(SYNTH_ALIGN - 1);
    dwfl_report_begin_add(s->dwfl);
    /* add_p_vaddr: bias is added to p_vaddr (ET_DYN); ET_EXEC has bias 0. */
    m->dm = dwfl_report_elf(s->dwfl, base, file, -1, m->synth_bias, true);
    m->reported = m->dm != NULL;
    dwfl_report_end(s->dwfl, NULL, NULL);
    return m->reported ? m : NULL;
}

static int range_cmp(const void *pa, const void *pb)
{
    const struct range *a = pa, *b = pb;
    return (a->start > b->start) - (a->start < b->start);
}

int symbolize_session(struct symbolizer **out, const char *binary, char *err, size_t errlen)
{
    *out = NULL;
    struct symbolizer *s = calloc(1, sizeof(*s));
    if (!s || (binary && !(s->binary = strdup(binary)))) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    elf_version(EV_CURRENT);
    s->dwfl = dwfl_begin(&callbacks);
    if (!s->dwfl) {
        snprintf(err, errlen, "libdwfl: %s", dwfl_errmsg(-1));
        free(s->binary);
        free(s);
        return -1;
    }
    s->next_base = SYNTH_BASE;
    *out = s;
    return 0;
}

int symbolize_use(struct symbolizer *s, const struct symbolize_map *maps, size_t nmaps,
                  bool offline, char *err, size_t errlen)
{
    free(s->ranges);
    s->ranges = calloc(nmaps ? nmaps : 1, sizeof(*s->ranges));
    s->nranges = 0;
    if (!s->ranges) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (offline)
        return 0;
    /* A process's first mapping of a file (at file offset 0, where the kernel
     * starts it) fixes the file's bias in that process, and its later
     * mappings of the file translate with it (a segment's own offset can
     * match another PT_LOAD: relro). A process tree's profile (perf's) holds
     * every process's mappings, and one exec'd rather than forked maps the
     * same file elsewhere: the nearest offset-0 mapping of the file at or
     * before this one is that process's. Without one (perf's profiles list
     * executable segments only, one set per process), the mapping itself:
     * its start and file offset fix the bias of its own process. */
    const char *main_path = NULL;
    for (size_t i = 0; i < nmaps; i++) {
        const struct symbolize_map *m = &maps[i];
        if (!m->path || m->path[0] != '/' || m->end <= m->start)
            continue; /* anonymous, [vdso], [stack], … */
        if (!main_path)
            main_path = m->path;
        size_t first = i + 1;
        for (size_t j = i + 1; j-- > 0 && first > i;)
            if (maps[j].offset == 0 && maps[j].path && strcmp(maps[j].path, m->path) == 0)
                first = j;
        if (first > i)
            first = i; /* executable segments only: each fixes its own bias */
        const struct symbolize_map *fm = &maps[first];
        const char *file = (s->binary && strcmp(m->path, main_path) == 0) ? s->binary : m->path;
        struct module *mod = module_get(s, file, strrchr(m->path, '/') + 1);
        if (!mod && file != m->path) /* the replacement is unusable: the mapped file */
            mod = module_get(s, m->path, strrchr(m->path, '/') + 1);
        uint64_t bias;
        if (!mod || module_bias(mod, fm->start, fm->offset, &bias) != 0)
            continue;
        if (m->path == main_path || strcmp(m->path, main_path) == 0)
            mod->is_main = true;
        s->ranges[s->nranges++] = (struct range){m->start, m->end, mod->synth_bias - bias};
    }
    qsort(s->ranges, s->nranges, sizeof(*s->ranges), range_cmp);
    return 0;
}

/* Session key of addr: its synthetic address, or raw | RAW_KEY. */
static uint64_t translate(const struct symbolizer *s, uint64_t addr)
{
    size_t lo = 0, hi = s->nranges;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (addr < s->ranges[mid].start)
            hi = mid;
        else if (addr >= s->ranges[mid].end)
            lo = mid + 1;
        else
            return (addr + s->ranges[mid].delta) & ~RAW_KEY;
    }
    return addr | RAW_KEY;
}

static struct addr_slot *addr_find(struct symbolizer *s, uint64_t addr)
{
    size_t mask = s->addr_cap - 1;
    for (size_t i = hash64(addr) & mask;; i = (i + 1) & mask)
        if (!s->addrs[i].used || s->addrs[i].addr == addr)
            return &s->addrs[i];
}

static int addr_grow(struct symbolizer *s)
{
    size_t ncap = s->addr_cap ? s->addr_cap * 2 : 1024;
    struct addr_slot *old = s->addrs;
    size_t ocap = s->addr_cap;
    s->addrs = calloc(ncap, sizeof(*s->addrs));
    if (!s->addrs) {
        s->addrs = old;
        return -1;
    }
    s->addr_cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].used)
            *addr_find(s, old[i].addr) = old[i];
    free(old);
    return 0;
}

/* names reads each function's name from funcs (strmap.h). */
_Static_assert(offsetof(struct profile_func, name) == 0, "strmap: the key is the first member");

/* Interns name (copied, cut at '@'); file/line describe the function start. */
static uint32_t intern(struct symbolizer *s, const char *name, const char *file, int line,
                       bool resolved, bool own)
{
    /* "memcpy@GLIBC_2.14" is memcpy; a name that starts with '@' (a
     * profile may carry anything) is kept whole, never cut to "" */
    size_t cut = strcspn(name, "@");
    if (cut == 0)
        cut = strlen(name);
    char *copy = strndup(name, cut);
    if (!copy)
        return UINT32_MAX;
    uint32_t found = strmap_find(&s->names, s->funcs, sizeof(*s->funcs), copy);
    if (found != STRMAP_NONE) {
        free(copy);
        return found;
    }
    if (s->nfuncs == s->funcs_cap) {
        size_t ncap = s->funcs_cap ? s->funcs_cap * 2 : 256;
        struct profile_func *nf = realloc(s->funcs, ncap * sizeof(*nf));
        if (!nf) {
            free(copy);
            return UINT32_MAX;
        }
        s->funcs = nf;
        s->funcs_cap = ncap;
    }
    uint32_t id = (uint32_t)s->nfuncs;
    if (s->own_re)
        own = regexec(s->own_re, copy, 0, NULL, 0) == 0;
    s->funcs[id] = (struct profile_func){copy, file, line, resolved, own};
    if (strmap_add(&s->names, s->funcs, sizeof(*s->funcs), id) != 0) {
        free(copy);
        return UINT32_MAX;
    }
    s->nfuncs++;
    return id;
}

/* Declaration of the outermost function (not an inlined callee) around addr. */
static int decl_line(Dwfl_Module *mod, uint64_t addr, const char **file, int *line)
{
    Dwarf_Addr bias;
    Dwarf_Die *cu = dwfl_module_addrdie(mod, addr, &bias);
    if (!cu)
        return -1;
    Dwarf_Die *scopes = NULL;
    int n = dwarf_getscopes(cu, addr - bias, &scopes);
    int rc = -1;
    for (int i = n - 1; i >= 0 && rc != 0; i--) {
        if (dwarf_tag(&scopes[i]) != DW_TAG_subprogram)
            continue;
        const char *f = dwarf_decl_file(&scopes[i]);
        if (f && dwarf_decl_line(&scopes[i], line) == 0) {
            *file = f;
            rc = 0;
        }
    }
    free(scopes);
    return rc;
}

/* The start of the function around addr from its CFI (the FDE's first
 * address), or addr itself when no CFI covers it. */
static uint64_t fde_start(Dwfl_Module *mod, uint64_t addr)
{
    Dwarf_Addr bias;
    Dwarf_CFI *cfi = dwfl_module_eh_cfi(mod, &bias);
    if (!cfi)
        cfi = dwfl_module_dwarf_cfi(mod, &bias);
    Dwarf_Frame *frame = NULL;
    if (!cfi || dwarf_cfi_addrframe(cfi, addr - bias, &frame) != 0)
        return addr;
    Dwarf_Addr start, end;
    uint64_t r = dwarf_frame_info(frame, &start, &end, NULL) >= 0 ? start + bias : addr;
    free(frame);
    return r;
}

/* key: a session key (translate); raw addresses print as they were. */
static void resolve(struct symbolizer *s, uint64_t key, struct sym_loc *loc)
{
    loc->file = NULL;
    loc->line = 0;
    uint64_t addr = key & ~RAW_KEY;
    Dwfl_Module *mod = (key & RAW_KEY) ? NULL : dwfl_addrmodule(s->dwfl, addr);
    const char *name = NULL;
    GElf_Off off = 0;
    GElf_Sym sym;
    if (mod)
        name = dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL);
    const struct module *m = NULL;
    for (size_t i = 0; mod && i < s->nmods && !m; i++)
        if (s->mods[i].dm == mod)
            m = &s->mods[i];
    bool own = m && m->is_main;
    if ((!name || !*name) && m) {
        /* A stripped binary's static functions have no symbol, but every
         * function has an FDE in .eh_frame: its start names the function,
         * so all of its addresses become one "haproxy+0x1a52d0" */
        char named[256];
        const char *base = strrchr(m->file, '/');
        snprintf(named, sizeof(named), "%s+0x%" PRIx64, base ? base + 1 : m->file,
                 fde_start(mod, addr) - m->synth_bias);
        loc->func = intern(s, named, NULL, 0, false, own);
        return;
    }
    if (!name || !*name) {
        char hex[32];
        snprintf(hex, sizeof(hex), "0x%" PRIx64, addr);
        loc->func = intern(s, hex, NULL, 0, false, false);
        return;
    }
    Dwfl_Line *l = dwfl_module_getsrc(mod, addr);
    if (l)
        loc->file = dwfl_lineinfo(l, NULL, &loc->line, NULL, NULL, NULL);
    size_t before = s->nfuncs;
    loc->func = intern(s, name, NULL, 0, true, own);
    if (loc->func != UINT32_MAX && s->nfuncs > before) {
        /* New function: its file:line is its DWARF declaration, else the line
         * of its entry address (which optimised code often puts on the first
         * statement, not the function's name). */
        struct profile_func *f = &s->funcs[loc->func];
        if (decl_line(mod, addr, &f->file, &f->line) != 0) {
            Dwfl_Line *el = dwfl_module_getsrc(mod, addr - off);
            if (el)
                f->file = dwfl_lineinfo(el, NULL, &f->line, NULL, NULL, NULL);
        }
    }
}

uint32_t symbolize_addr(struct symbolizer *s, uint64_t addr, struct sym_loc *loc)
{
    if ((s->addr_len + 1) * 2 > s->addr_cap && addr_grow(s))
        return UINT32_MAX;
    uint64_t key = translate(s, addr);
    struct addr_slot *slot = addr_find(s, key);
    if (!slot->used) {
        struct sym_loc l;
        resolve(s, key, &l);
        if (l.func == UINT32_MAX)
            return UINT32_MAX;
        /* resolve may have grown nothing in addrs, so slot is still valid */
        slot->addr = key;
        slot->loc = l;
        slot->used = true;
        s->addr_len++;
    }
    if (loc)
        *loc = slot->loc;
    return slot->loc.func;
}

uint32_t symbolize_intern(struct symbolizer *s, const char *name, const char *file, int line,
                          bool resolved, bool own)
{
    const char *kept = NULL;
    if (file) {
        char **ns = realloc(s->strs, (s->nstrs + 1) * sizeof(*ns));
        if (!ns)
            return UINT32_MAX;
        s->strs = ns;
        if (!(s->strs[s->nstrs] = strdup(file)))
            return UINT32_MAX;
        kept = s->strs[s->nstrs++];
    }
    size_t before = s->nfuncs;
    uint32_t id = intern(s, name, kept, line, resolved, own);
    if (kept && s->nfuncs == before) { /* known already: the copy is not needed */
        free(s->strs[--s->nstrs]);
    }
    return id;
}

void symbolize_set_own_regex(struct symbolizer *s, const regex_t *re)
{
    s->own_re = re;
}

size_t symbolize_func_count(const struct symbolizer *s)
{
    return s->nfuncs;
}

const struct profile_func *symbolize_func(const struct symbolizer *s, uint32_t id)
{
    return id < s->nfuncs ? &s->funcs[id] : NULL;
}

void symbolize_close(struct symbolizer *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nfuncs; i++)
        free((char *)s->funcs[i].name);
    free(s->funcs);
    for (size_t i = 0; i < s->nstrs; i++)
        free(s->strs[i]);
    free(s->strs);
    strmap_free(&s->names);
    free(s->addrs);
    for (size_t i = 0; i < s->nmods; i++) {
        free(s->mods[i].file);
        free(s->mods[i].segs);
    }
    free(s->mods);
    free(s->ranges);
    free(s->binary);
    if (s->dwfl)
        dwfl_end(s->dwfl);
    free(s);
}
