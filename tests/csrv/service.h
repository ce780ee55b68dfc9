/*
 * service: one csrv service: a listening socket on 127.0.0.1:port and a thread
 * that answers HTTP GET with 200 and, every interval, runs the service's work
 * (work.h). Nothing is shared between services but the read-only keys.
 */
#ifndef CSRV_SERVICE_H
#define CSRV_SERVICE_H

#include <pthread.h>
#include <stddef.h>

#include "conf.h"
#include "work.h"

struct service {
    const struct conf_service *cfg; /* borrowed from the conf */
    const struct work *work;        /* borrowed, shared by all services */
    size_t index;
    long interval_ms;
    int listen_fd; /* -1 until service_listen */
    pthread_t thread;
    unsigned long sink; /* the work's results, kept so the compiler keeps the work */
};

/* Binds and listens on 127.0.0.1:cfg->port. 0, or -1 with a message in err
 * naming the service and address. */
int service_listen(struct service *s, char *err, size_t errlen);
/* Starts the service thread (after service_listen). 0 or an errno value. */
int service_start(struct service *s);

#endif
