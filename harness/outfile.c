/* outfile: atomic file writes and small file helpers for the harness. See outfile.h. */
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int outfile_write(const char *dir, const char *name, const void *data, size_t len)
{
    char tmp[PATH_MAX], final[PATH_MAX];
    if (snprintf(final, sizeof final, "%s/%s", dir, name) >= (int)sizeof final ||
        snprintf(tmp, sizeof tmp, "%s/.%s.tmp.%d", dir, name, (int)getpid()) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    if (write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        errno = e;
        return -1;
    }
    if (close(fd) < 0 || rename(tmp, final) < 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

int outfile_write_str(const char *dir, const char *name, const char *text)
{
    return outfile_write(dir, name, text, strlen(text));
}

int outfile_copy(const char *src, const char *dir, const char *name)
{
    size_t len;
    /* configs and logs: 256 MiB is far beyond any real one */
    char *data = outfile_slurp(src, (size_t)256 << 20, &len);
    if (!data)
        return -1;
    int rc = outfile_write(dir, name, data, len);
    free(data);
    return rc;
}

int outfile_mkdirs(const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

bool outfile_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

char *outfile_slurp(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *data = malloc(cap + 1);
    while (data) {
        if (n == cap) {
            if (cap >= max) {
                free(data);
                data = NULL;
                errno = EFBIG;
                break;
            }
            cap = cap * 2 > max ? max : cap * 2;
            char *grown = realloc(data, cap + 1);
            if (!grown) {
                free(data);
                data = NULL;
                break;
            }
            data = grown;
        }
        size_t got = fread(data + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (data && ferror(f)) {
        free(data);
        data = NULL;
    }
    fclose(f);
    if (data) {
        data[n] = '\0';
        if (len)
            *len = n;
    }
    return data;
}

char *outfile_tail(const char *path, int n)
{
    size_t len;
    /* a target log can be large; the tail is what matters */
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    long start = 0;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        start = size > 65536 ? size - 65536 : 0;
    }
    fseek(f, start, SEEK_SET);
    char *data = malloc(65537);
    if (!data) {
        fclose(f);
        return NULL;
    }
    len = fread(data, 1, 65536, f);
    fclose(f);
    data[len] = '\0';
    size_t end = len;
    if (end > 0 && data[end - 1] == '\n')
        end--;
    size_t i = end;
    int lines = 0;
    while (i > 0) {
        if (data[i - 1] == '\n' && ++lines == n)
            break;
        i--;
    }
    memmove(data, data + i, len - i + 1);
    return data;
}
