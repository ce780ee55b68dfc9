/*
 * symbolize: in-process symbolization for /debug/pprof/symbol, with elfutils
 * libdwfl over the live process (the modules of /proc/self/maps and their
 * symbol tables, static functions included). Each request builds a fresh
 * Dwfl so libraries loaded since start-up resolve too; a request from pprof
 * carries every address at once, so the set-up is paid once per profile.
 */
#include "symbolize.h"

#include <ctype.h>
#include <elfutils/libdwfl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SYMBOLIZE_MAX_ADDRS 200000

/* libdwfl is not thread-safe; one symbolization at a time bounds memory too. */
static pthread_mutex_t sym_mu = PTHREAD_MUTEX_INITIALIZER;

static const Dwfl_Callbacks proc_callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
};

static Dwfl *dwfl_open_self(void)
{
    Dwfl *d = dwfl_begin(&proc_callbacks);
    if (!d)
        return NULL;
    dwfl_report_begin(d);
    if (dwfl_linux_proc_report(d, getpid()) != 0 || dwfl_report_end(d, NULL, NULL) != 0) {
        dwfl_end(d);
        return NULL;
    }
    return d;
}

static const char *lookup(Dwfl *d, uint64_t addr)
{
    Dwfl_Module *m = dwfl_addrmodule(d, (Dwarf_Addr)addr);
    return m ? dwfl_module_addrname(m, (GElf_Addr)addr) : NULL;
}

bool symbolize_addr(uint64_t addr, char *name, size_t size)
{
    pthread_mutex_lock(&sym_mu);
    Dwfl *d = dwfl_open_self();
    const char *s = d ? lookup(d, addr) : NULL;
    if (s)
        snprintf(name, size, "%s", s);
    if (d)
        dwfl_end(d);
    pthread_mutex_unlock(&sym_mu);
    return s != NULL;
}

int symbolize_post(const char *body, size_t len, struct buf *out)
{
    pthread_mutex_lock(&sym_mu);
    Dwfl *d = dwfl_open_self();
    if (!d) {
        pthread_mutex_unlock(&sym_mu);
        buf_printf(out, "cannot read this process's modules: %s", dwfl_errmsg(-1));
        return -1;
    }
    int resolved = 0, seen = 0;
    size_t i = 0;
    while (i < len) {
        /* Separators: '+' (pprof), whitespace (hand-written requests). */
        while (i < len && (body[i] == '+' || isspace((unsigned char)body[i])))
            i++;
        if (i >= len)
            break;
        size_t start = i;
        while (i < len && body[i] != '+' && !isspace((unsigned char)body[i]))
            i++;
        const char *tok = body + start;
        size_t tlen = i - start;
        uint64_t addr = 0;
        bool ok = tlen > 2 && tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X') && tlen <= 2 + 16;
        for (size_t k = 2; ok && k < tlen; k++) {
            int c = tolower((unsigned char)tok[k]);
            if (!isxdigit(c))
                ok = false;
            addr = addr * 16 + (uint64_t)(isdigit(c) ? c - '0' : c - 'a' + 10);
        }
        if (!ok || ++seen > SYMBOLIZE_MAX_ADDRS) {
            buf_reset(out);
            if (ok)
                buf_printf(out, "more than %d addresses", SYMBOLIZE_MAX_ADDRS);
            else
                buf_printf(out, "not an address: '%.*s' (expected 0xHEX+0xHEX...)",
                           (int)(tlen > 40 ? 40 : tlen), tok);
            dwfl_end(d);
            pthread_mutex_unlock(&sym_mu);
            return -1;
        }
        const char *name = lookup(d, addr);
        if (name) {
            buf_printf(out, "%#" PRIx64 "\t%s\n", addr, name);
            resolved++;
        }
    }
    dwfl_end(d);
    pthread_mutex_unlock(&sym_mu);
    return resolved;
}
