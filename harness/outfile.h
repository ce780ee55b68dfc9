/*
 * outfile: how the harness puts files on disk so nothing is ever half-written
 * or silently overwritten. Every file goes to a temporary name in the same
 * folder and is renamed into place (rename is atomic within a filesystem).
 *
 * Errors are returned as -1 with errno set; messages are the caller's job
 * because only the caller knows which run or point the file belongs to.
 */
#ifndef SCALEPROF_OUTFILE_H
#define SCALEPROF_OUTFILE_H

#include <stdbool.h>
#include <stddef.h>

/* Writes len bytes of data to dir/name via dir/.name.tmp.<pid> + rename. */
int outfile_write(const char *dir, const char *name, const void *data, size_t len);
/* Same, for a NUL-terminated string. */
int outfile_write_str(const char *dir, const char *name, const char *text);
/* Copies the file at src to dir/name atomically. */
int outfile_copy(const char *src, const char *dir, const char *name);
/* mkdir -p with mode 0755. */
int outfile_mkdirs(const char *path);
bool outfile_exists(const char *path);
/* Reads a whole file (at most max bytes) into a malloc'd NUL-terminated string.
 * Returns NULL on error or when the file is larger than max. */
char *outfile_slurp(const char *path, size_t max, size_t *len);
/* The last n lines of the file at path (malloc'd, possibly empty; NULL on error). */
char *outfile_tail(const char *path, int n);

#endif
