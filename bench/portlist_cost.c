/*
 * portlist_cost: what one portlist poll costs as /proc/net grows (proxy/tasks/README.md).
 *
 * For each socket count K (default 0 500 2000) it opens K loopback TCP
 * listeners and K loopback UDP sockets, then reads each of
 * /proc/net/{tcp,tcp6,udp,udp6} REPS times (default 200) with plain read()
 * into a reused buffer, as the portlist task does, and prints the median
 * thread-CPU µs per read, the file's rows, and µs per row; then the median of
 * a whole portlist_poll (read + parse of all four) and of a readlink walk of
 * /proc/self/fd (per fd), and of one netmon enumeration. The machine is noisy:
 * compare rows within one run.
 *
 * Usage: portlist_cost [-r REPS] [K ...]
 */
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tasks/tasks_internal.h"

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_u64);
    return v[n / 2];
}

static char *rbuf;
static size_t rcap = 64u << 20;

/* Returns bytes read; counts rows (lines minus the header). */
static size_t read_all(const char *path, size_t *rows)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t len = 0;
    ssize_t n;
    while ((n = read(fd, rbuf + len, rcap - len)) > 0)
        len += (size_t)n;
    close(fd);
    if (rows) {
        size_t lines = 0;
        for (size_t i = 0; i < len; i++)
            lines += rbuf[i] == '\n';
        *rows = lines ? lines - 1 : 0;
    }
    return len;
}

static int open_sockets(int k, int *fds)
{
    for (int i = 0; i < k; i++) {
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int t = socket(AF_INET, SOCK_STREAM, 0), u = socket(AF_INET, SOCK_DGRAM, 0);
        if (t < 0 || u < 0 || bind(t, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
            listen(t, 1) < 0 || bind(u, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
            perror("socket");
            return -1;
        }
        fds[2 * i] = t;
        fds[2 * i + 1] = u;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int reps = 200;
    int opt;
    while ((opt = getopt(argc, argv, "r:")) != -1)
        if (opt == 'r')
            reps = atoi(optarg) > 0 ? atoi(optarg) : 200;
    int counts[16] = {0, 500, 2000}, ncounts = 3;
    if (optind < argc) {
        ncounts = 0;
        for (int i = optind; i < argc && ncounts < 16; i++)
            counts[ncounts++] = atoi(argv[i]);
    }
    struct rlimit rl = {65536, 65536};
    setrlimit(RLIMIT_NOFILE, &rl);
    rbuf = malloc(rcap);
    uint64_t *samples = calloc((size_t)reps, sizeof(*samples));
    if (!rbuf || !samples)
        return 1;
    static const char *files[4] = {"/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp",
                                   "/proc/net/udp6"};
    /* marginal = (median - median at the first K) / (rows - rows at the first K):
     * the per-row cost once the fixed part is taken out */
    double base_med[5] = {0}, base_rows[5] = {0};
    printf("%-6s %-15s %7s %10s %10s %12s\n", "K", "file", "rows", "median_us", "us_per_row",
           "marginal_us");
    for (int c = 0; c < ncounts; c++) {
        int k = counts[c];
        int *fds = calloc((size_t)(2 * k + 1), sizeof(int));
        if (!fds || open_sockets(k, fds) < 0)
            return 1;
        for (int f = 0; f < 4; f++) {
            size_t rows = 0;
            read_all(files[f], &rows);
            for (int r = 0; r < reps; r++) {
                uint64_t t0 = cpu_ns();
                read_all(files[f], NULL);
                samples[r] = cpu_ns() - t0;
            }
            double med = (double)median(samples, reps) / 1000.0;
            if (c == 0) {
                base_med[f] = med;
                base_rows[f] = (double)rows;
            }
            double dr = (double)rows - base_rows[f];
            printf("%-6d %-15s %7zu %10.1f %10.3f %12.3f\n", k, files[f], rows, med,
                   rows ? med / (double)rows : 0.0, dr > 0 ? (med - base_med[f]) / dr : 0.0);
        }
        struct portlist pl;
        portlist_init(&pl, false);
        struct portlist_counts pc = {0};
        portlist_poll(&pl, &pc); /* first poll walks the fds of every new inode */
        uint64_t walk_fds = pc.fds_walked;
        for (int r = 0; r < reps; r++) {
            struct portlist_counts rc = {0};
            uint64_t t0 = cpu_ns();
            portlist_poll(&pl, &rc);
            samples[r] = cpu_ns() - t0;
            pc = rc;
        }
        double pmed = (double)median(samples, reps) / 1000.0;
        if (c == 0) {
            base_med[4] = pmed;
            base_rows[4] = (double)pc.rows;
        }
        double pdr = (double)pc.rows - base_rows[4];
        printf("%-6d %-15s %7llu %10.1f %10.3f %12.3f\n", k, "poll(all 4)",
               (unsigned long long)pc.rows, pmed, pc.rows ? pmed / (double)pc.rows : 0.0,
               pdr > 0 ? (pmed - base_med[4]) / pdr : 0.0);
        portlist_free(&pl);
        /* The owner walk: readlink of every fd, as a poll with new inodes does. */
        int walk_reps = reps < 20 ? reps : 20;
        for (int r = 0; r < walk_reps; r++) {
            struct portlist w;
            portlist_init(&w, false);
            struct portlist_counts wc = {0};
            portlist_begin(&w);
            char fake[] = "h\n 0: 0100007F:0001 00000000:0000 0A 0:0 0:0 0 0 0 1 1\n";
            portlist_parse(&w, fake, strlen(fake), false, &wc); /* one fresh inode */
            uint64_t t0 = cpu_ns();
            portlist_end(&w, true, &wc);
            samples[r] = cpu_ns() - t0;
            walk_fds = wc.fds_walked;
            portlist_free(&w);
        }
        double wmed = (double)median(samples, walk_reps) / 1000.0;
        printf("%-6d %-15s %7llu %10.1f %10.3f  (fds; us_per_fd)\n", k, "fd walk",
               (unsigned long long)walk_fds, wmed, walk_fds ? wmed / (double)walk_fds : 0.0);
        for (int i = 0; i < 2 * k; i++)
            close(fds[i]);
        free(fds);
    }
    /* netmon: one debounced dump (links, addresses per link, default routes) and
     * one ReSTUN enumeration (no routes), for the netmon cost model. */
    for (int with_route = 1; with_route >= 0; with_route--) {
        long msgs = 0;
        for (int r = 0; r < reps; r++) {
            uint64_t t0 = cpu_ns();
            msgs = netmon_enumerate(with_route);
            samples[r] = cpu_ns() - t0;
        }
        double nmed = (double)median(samples, reps) / 1000.0;
        printf("%-6s %-15s %7ld %10.1f %10.3f  (netlink msgs; us_per_msg)\n", "-",
               with_route ? "netmon dump" : "netmon restun", msgs, nmed,
               msgs > 0 ? nmed / (double)msgs : 0.0);
    }
    free(samples);
    free(rbuf);
    return 0;
}
