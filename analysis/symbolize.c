/*
 * symbolize: libdwfl behind symbolize.h. One Dwfl per profile, one module per
 * mapped file reported with dwfl_report_elf at the bias computed from the maps
 * line and the file's program headers; two hash tables (address → location,
 * name → function id) make repeated lookups cheap, which is most of why `top`
 * is faster than pprof (which shells out to addr2line/nm).
 */
#include "symbolize.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct addr_slot {
    uint64_t addr;
    struct sym_loc loc;
    bool used;
};

struct name_slot {
    uint32_t id;
    bool used;
};

struct symbolizer {
    Dwfl *dwfl;
    size_t modules;
    struct addr_slot *addrs;
    size_t addr_cap, addr_len; /* cap a power of two */
    struct name_slot *names;
    size_t name_cap;
    struct sym_func *funcs;
    size_t nfuncs, funcs_cap;
};

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

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Load bias of path when its file offset `offset` is mapped at `start`: the
 * PT_LOAD segment holding that offset says which vaddr the mapping begins at.
 * Returns 0 and sets *bias, or -1 when the file is unreadable or no segment
 * matches (the mapping is then not reported). */
static int load_bias(const char *path, uint64_t start, uint64_t offset, uint64_t *bias)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = -1;
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    size_t phnum;
    if (elf && elf_kind(elf) == ELF_K_ELF && elf_getphdrnum(elf, &phnum) == 0) {
        uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
        for (size_t i = 0; i < phnum && rc != 0; i++) {
            GElf_Phdr mem, *ph = gelf_getphdr(elf, (int)i, &mem);
            if (!ph || ph->p_type != PT_LOAD)
                continue;
            uint64_t seg_off = ph->p_offset & ~(page - 1);
            if (offset < seg_off || offset >= ph->p_offset + ph->p_filesz + page)
                continue;
            /* vaddr of the mapping's first byte, then bias = start - vaddr */
            uint64_t vaddr = (ph->p_vaddr & ~(page - 1)) + (offset - seg_off);
            *bias = start - vaddr;
            rc = 0;
        }
    }
    if (elf)
        elf_end(elf);
    close(fd);
    return rc;
}

static bool reported(const struct profile *p, size_t upto, const char *path)
{
    for (size_t j = 0; j < upto; j++)
        if (strcmp(p->maps[j].path, path) == 0)
            return true;
    return false;
}

int symbolize_open(struct symbolizer **out, const struct profile *p, const char *binary, char *err,
                   size_t errlen)
{
    *out = NULL;
    struct symbolizer *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    elf_version(EV_CURRENT);
    s->dwfl = dwfl_begin(&callbacks);
    if (!s->dwfl) {
        snprintf(err, errlen, "libdwfl: %s", dwfl_errmsg(-1));
        free(s);
        return -1;
    }
    dwfl_report_begin(s->dwfl);
    bool main_seen = false;
    for (size_t i = 0; i < p->nmaps; i++) {
        const struct profile_map *m = &p->maps[i];
        if (m->path[0] != '/')
            continue; /* anonymous, [vdso], [stack], … */
        bool is_main = !main_seen;
        main_seen = true;
        if (reported(p, i, m->path))
            continue; /* one module per file: its first mapping fixes the bias */
        const char *file = (is_main && binary) ? binary : m->path;
        uint64_t bias;
        if (load_bias(file, m->start, m->offset, &bias))
            continue;
        const char *base = strrchr(m->path, '/') + 1;
        /* add_p_vaddr: bias is added to p_vaddr (ET_DYN); ET_EXEC has bias 0. */
        if (dwfl_report_elf(s->dwfl, base, file, -1, bias, true))
            s->modules++;
    }
    dwfl_report_end(s->dwfl, NULL, NULL);
    *out = s;
    return 0;
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

static struct name_slot *name_find(struct symbolizer *s, const char *name)
{
    size_t mask = s->name_cap - 1;
    for (size_t i = hash_str(name) & mask;; i = (i + 1) & mask)
        if (!s->names[i].used || strcmp(s->funcs[s->names[i].id].name, name) == 0)
            return &s->names[i];
}

static int name_grow(struct symbolizer *s)
{
    size_t ncap = s->name_cap ? s->name_cap * 2 : 256;
    struct name_slot *n = calloc(ncap, sizeof(*n));
    if (!n)
        return -1;
    free(s->names);
    s->names = n;
    s->name_cap = ncap;
    for (uint32_t id = 0; id < s->nfuncs; id++)
        *name_find(s, s->funcs[id].name) = (struct name_slot){id, true};
    return 0;
}

/* Interns name (copied, cut at '@'); file/line describe the function start. */
static uint32_t intern(struct symbolizer *s, const char *name, const char *file, int line,
                       int resolved)
{
    if ((s->nfuncs + 1) * 2 > s->name_cap && name_grow(s))
        return UINT32_MAX;
    size_t cut = strcspn(name, "@");
    char *copy = strndup(name, cut);
    if (!copy)
        return UINT32_MAX;
    struct name_slot *slot = name_find(s, copy);
    if (slot->used) {
        free(copy);
        return slot->id;
    }
    if (s->nfuncs == s->funcs_cap) {
        size_t ncap = s->funcs_cap ? s->funcs_cap * 2 : 256;
        struct sym_func *nf = realloc(s->funcs, ncap * sizeof(*nf));
        if (!nf) {
            free(copy);
            return UINT32_MAX;
        }
        s->funcs = nf;
        s->funcs_cap = ncap;
    }
    uint32_t id = (uint32_t)s->nfuncs++;
    s->funcs[id] = (struct sym_func){copy, file, line, resolved};
    *slot = (struct name_slot){id, true};
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

static void resolve(struct symbolizer *s, uint64_t addr, struct sym_loc *loc)
{
    loc->file = NULL;
    loc->line = 0;
    Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, addr);
    const char *name = NULL;
    GElf_Off off = 0;
    GElf_Sym sym;
    if (mod)
        name = dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL);
    if (!name || !*name) {
        char hex[32];
        snprintf(hex, sizeof(hex), "0x%" PRIx64, addr);
        loc->func = intern(s, hex, NULL, 0, 0);
        return;
    }
    Dwfl_Line *l = dwfl_module_getsrc(mod, addr);
    if (l)
        loc->file = dwfl_lineinfo(l, NULL, &loc->line, NULL, NULL, NULL);
    size_t before = s->nfuncs;
    loc->func = intern(s, name, NULL, 0, 1);
    if (loc->func != UINT32_MAX && s->nfuncs > before) {
        /* New function: its file:line is its DWARF declaration, else the line
         * of its entry address (which optimised code often puts on the first
         * statement, not the function's name). */
        struct sym_func *f = &s->funcs[loc->func];
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
    struct addr_slot *slot = addr_find(s, addr);
    if (!slot->used) {
        struct sym_loc l;
        resolve(s, addr, &l);
        if (l.func == UINT32_MAX)
            return UINT32_MAX;
        /* resolve may have grown nothing in addrs, so slot is still valid */
        slot->addr = addr;
        slot->loc = l;
        slot->used = true;
        s->addr_len++;
    }
    if (loc)
        *loc = slot->loc;
    return slot->loc.func;
}

size_t symbolize_func_count(const struct symbolizer *s)
{
    return s->nfuncs;
}

const struct sym_func *symbolize_func(const struct symbolizer *s, uint32_t id)
{
    return id < s->nfuncs ? &s->funcs[id] : NULL;
}

size_t symbolize_module_count(const struct symbolizer *s)
{
    return s->modules;
}

void symbolize_close(struct symbolizer *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nfuncs; i++)
        free((char *)s->funcs[i].name);
    free(s->funcs);
    free(s->names);
    free(s->addrs);
    if (s->dwfl)
        dwfl_end(s->dwfl);
    free(s);
}
