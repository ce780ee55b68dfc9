/*
 * buildid: reads NT_GNU_BUILD_ID from an ELF64 file's PT_NOTE segments by
 * hand; a few dozen lines do not justify pulling libelf into the harness.
 */
#include "buildid.h"

#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *buildid_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    Elf64_Ehdr eh;
    char *out = NULL;
    if (fread(&eh, sizeof eh, 1, f) != 1 || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr) ||
        eh.e_phnum > 256)
        goto done;
    for (int i = 0; i < eh.e_phnum && !out; i++) {
        Elf64_Phdr ph;
        if (fseek(f, (long)(eh.e_phoff + (Elf64_Off)i * sizeof ph), SEEK_SET) ||
            fread(&ph, sizeof ph, 1, f) != 1)
            goto done;
        if (ph.p_type != PT_NOTE || ph.p_filesz > 65536)
            continue;
        unsigned char *notes = malloc(ph.p_filesz);
        if (!notes || fseek(f, (long)ph.p_offset, SEEK_SET) ||
            fread(notes, 1, ph.p_filesz, f) != ph.p_filesz) {
            free(notes);
            goto done;
        }
        size_t off = 0;
        while (off + sizeof(Elf64_Nhdr) <= ph.p_filesz) {
            Elf64_Nhdr nh;
            memcpy(&nh, notes + off, sizeof nh);
            size_t name_at = off + sizeof nh;
            size_t desc_at = name_at + ((nh.n_namesz + 3) & ~3u);
            size_t next = desc_at + ((nh.n_descsz + 3) & ~3u);
            if (next > ph.p_filesz)
                break;
            if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
                !memcmp(notes + name_at, "GNU", 4) && nh.n_descsz <= 64) {
                out = malloc(nh.n_descsz * 2 + 1);
                for (size_t k = 0; out && k < nh.n_descsz; k++)
                    sprintf(out + 2 * k, "%02x", notes[desc_at + k]);
                break;
            }
            off = next;
        }
        free(notes);
    }
done:
    fclose(f);
    return out;
}
