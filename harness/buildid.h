/* buildid: the GNU build-id of an ELF file, so a results folder names the exact binary. */
#ifndef SCALEPROF_BUILDID_H
#define SCALEPROF_BUILDID_H

/* Lowercase hex (malloc'd), or NULL when the file is not a 64-bit ELF or has none. */
char *buildid_read(const char *path);

#endif
