/*
 * admin_reply: building an admin endpoint's answer (see admin_reply.h).
 */
#include "admin_reply.h"

#include <stdarg.h>

void admin_reply_text(struct admin_reply *r, int status, const char *fmt, ...)
{
    va_list ap;
    r->status = status;
    r->content_type = "text/plain; charset=utf-8";
    buf_reset(&r->body);
    va_start(ap, fmt);
    buf_vprintf(&r->body, fmt, ap);
    va_end(ap);
    buf_puts(&r->body, "\n");
}
