/*
 * itest: helpers for integration tests that run real binaries on loopback:
 * free ports, spawning children that die with the test (PR_SET_PDEATHSIG and
 * an atexit sweep), readiness by polling a port, and a tiny blocking HTTP/1.1
 * client with timeouts.
 */
#ifndef SCALEPROF_ITEST_H
#define SCALEPROF_ITEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

int itest_free_port(void);
/* Starts argv[0] with stdout+stderr to log_path. The child gets SIGKILL if the
 * test process dies; itest_kill_all runs at exit. Returns the pid or -1. */
pid_t itest_spawn(char *const argv[], const char *log_path);
void itest_kill(pid_t pid);
/* Sends sig and waits up to timeout_ms; returns the exit status or -1. */
int itest_signal_wait(pid_t pid, int sig, int timeout_ms);
/* Polls until 127.0.0.1:port accepts, the child dies, or timeout_ms. */
bool itest_wait_port(int port, pid_t child, int timeout_ms);

int itest_connect(int port);
int itest_connect_ip(const char *ip, int port);
int itest_write_all(int fd, const void *p, size_t n);

struct itest_resp {
    int status;
    char *head; /* status line and fields, NUL-terminated */
    char *body; /* decoded (chunked removed), NUL-terminated */
    size_t body_len;
    bool closed; /* the server closed the connection after the response */
};

/* Reads one response from fd (10 s timeout). is_head: no body expected.
 * 0 or -1. Leftover bytes for the next response stay in the static buffer of
 * fd's reader, so use one reader per connection via itest_reader_reset. */
int itest_read_response(int fd, bool is_head, struct itest_resp *r);
void itest_reader_reset(void);
void itest_resp_free(struct itest_resp *r);
/* One request on a new connection; returns the status or -1. */
int itest_get(int port, const char *path, struct itest_resp *r);
int itest_get_ip(const char *ip, int port, const char *path, struct itest_resp *r);

/* The tcp_info of the other end of fd (an IPv4 loopback connection): the
 * server's socket, as the kernel sees it (itest_tcpinfo.c). 0 or -1. */
struct tcp_info;
int itest_peer_tcp_info(int fd, struct tcp_info *out);

#endif
