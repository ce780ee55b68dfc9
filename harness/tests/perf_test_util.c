/* perf_test_util: profile reading and symbol lookup for the perf tests. */
#include "perf_test_util.h"

#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

Perftools__Profiles__Profile *ptu_load(const char *path)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        fprintf(stderr, "%s: cannot open\n", path);
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    unsigned char *data = malloc(cap);
    int n = -1;
    while (data && (n = gzread(gz, data + len, (unsigned)(cap - len))) > 0) {
        len += (size_t)n;
        if (len < cap)
            continue;
        unsigned char *d = realloc(data, cap * 2);
        if (!d) {
            free(data);
            data = NULL;
            break;
        }
        data = d;
        cap *= 2;
    }
    int bad = data ? n < 0 : 1;
    gzclose(gz);
    if (bad) {
        fprintf(stderr, "%s: gunzip failed\n", path);
        free(data);
        return NULL;
    }
    Perftools__Profiles__Profile *p = perftools__profiles__profile__unpack(NULL, len, data);
    free(data);
    if (!p)
        fprintf(stderr, "%s: not a pprof protobuf\n", path);
    return p;
}

const char *ptu_str(const Perftools__Profiles__Profile *p, int64_t i)
{
    return i >= 0 && (size_t)i < p->n_string_table ? p->string_table[i] : "";
}

static int str_ok(const Perftools__Profiles__Profile *p, int64_t i)
{
    return i >= 0 && (size_t)i < p->n_string_table;
}

const char *ptu_check_ids(const Perftools__Profiles__Profile *p)
{
    if (p->n_string_table == 0 || strcmp(p->string_table[0], ""))
        return "string_table[0] is not \"\"";
    for (size_t i = 0; i < p->n_sample_type; i++)
        if (!str_ok(p, p->sample_type[i]->type) || !str_ok(p, p->sample_type[i]->unit))
            return "a sample type's string index is out of range";
    for (size_t i = 0; i < p->n_mapping; i++) {
        const Perftools__Profiles__Mapping *m = p->mapping[i];
        if (m->id != i + 1)
            return "mapping ids are not 1..n in order";
        if (!str_ok(p, m->filename) || !str_ok(p, m->build_id))
            return "a mapping's string index is out of range";
        if (m->memory_limit <= m->memory_start)
            return "a mapping is empty";
    }
    for (size_t i = 0; i < p->n_location; i++) {
        const Perftools__Profiles__Location *l = p->location[i];
        if (l->id != i + 1)
            return "location ids are not 1..n in order";
        if (l->mapping_id > p->n_mapping)
            return "a location names a missing mapping";
        if (l->mapping_id) {
            const Perftools__Profiles__Mapping *m = p->mapping[l->mapping_id - 1];
            if (l->address < m->memory_start || l->address >= m->memory_limit)
                return "a location's address is outside its mapping";
        }
    }
    for (size_t i = 0; i < p->n_sample; i++) {
        const Perftools__Profiles__Sample *s = p->sample[i];
        if (s->n_value != p->n_sample_type)
            return "a sample's value count differs from the sample types";
        for (size_t j = 0; j < s->n_location_id; j++)
            if (s->location_id[j] == 0 || s->location_id[j] > p->n_location)
                return "a sample names a missing location";
        for (size_t j = 0; j < s->n_label; j++)
            if (!str_ok(p, s->label[j]->key) || !str_ok(p, s->label[j]->str))
                return "a label's string index is out of range";
    }
    return NULL;
}

const Perftools__Profiles__Location *ptu_location(const Perftools__Profiles__Profile *p,
                                                  uint64_t id)
{
    return id >= 1 && id <= p->n_location ? p->location[id - 1] : NULL;
}

const Perftools__Profiles__Mapping *ptu_mapping(const Perftools__Profiles__Profile *p, uint64_t id)
{
    return id >= 1 && id <= p->n_mapping ? p->mapping[id - 1] : NULL;
}

int ptu_label(const Perftools__Profiles__Profile *p, const Perftools__Profiles__Sample *s,
              const char *key, const char **str, int64_t *num)
{
    for (size_t i = 0; i < s->n_label; i++) {
        if (strcmp(ptu_str(p, s->label[i]->key), key))
            continue;
        if (str)
            *str = ptu_str(p, s->label[i]->str);
        if (num)
            *num = s->label[i]->num;
        return 0;
    }
    return -1;
}

struct sym {
    uint64_t start, size;
    char *name;
};

struct seg {
    uint64_t offset, vaddr, filesz;
};

struct ptu_syms {
    struct sym *syms;
    size_t n;
    struct seg segs[16];
    size_t nsegs;
};

struct ptu_syms *ptu_syms_open(const char *path)
{
    elf_version(EV_CURRENT);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
    struct ptu_syms *s = calloc(1, sizeof *s);
    size_t nph = 0;
    if (!elf || !s || elf_getphdrnum(elf, &nph) < 0)
        goto fail;
    for (size_t i = 0; i < nph && s->nsegs < 16; i++) {
        GElf_Phdr ph;
        if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD)
            s->segs[s->nsegs++] = (struct seg){ph.p_offset, ph.p_vaddr, ph.p_filesz};
    }
    for (Elf_Scn *scn = NULL; (scn = elf_nextscn(elf, scn));) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB)
            continue;
        Elf_Data *d = elf_getdata(scn, NULL);
        size_t count = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
        s->syms = calloc(count + 1, sizeof *s->syms);
        for (size_t i = 0; d && s->syms && i < count; i++) {
            GElf_Sym sym;
            if (!gelf_getsym(d, (int)i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
                !sym.st_value)
                continue;
            const char *name = elf_strptr(elf, sh.sh_link, sym.st_name);
            if (name)
                s->syms[s->n++] = (struct sym){sym.st_value, sym.st_size, strdup(name)};
        }
    }
    elf_end(elf);
    close(fd);
    return s;
fail:
    if (elf)
        elf_end(elf);
    close(fd);
    free(s);
    return NULL;
}

void ptu_syms_close(struct ptu_syms *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->syms[i].name);
    free(s->syms);
    free(s);
}

const char *ptu_syms_name(const struct ptu_syms *s, const Perftools__Profiles__Mapping *m,
                          uint64_t addr)
{
    uint64_t off = addr - m->memory_start + m->file_offset;
    for (size_t i = 0; i < s->nsegs; i++) {
        const struct seg *g = &s->segs[i];
        if (off < g->offset || off >= g->offset + g->filesz)
            continue;
        uint64_t vaddr = g->vaddr + (off - g->offset);
        for (size_t j = 0; j < s->n; j++)
            if (vaddr >= s->syms[j].start && vaddr < s->syms[j].start + s->syms[j].size)
                return s->syms[j].name;
    }
    return NULL;
}
