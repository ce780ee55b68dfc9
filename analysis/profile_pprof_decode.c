/*
 * profile_pprof_decode: gzip → protobuf bytes → profile.proto message, with
 * errors that say where (see profile_pprof_decode.h).
 *
 * Why protobuf-c plus a walker rather than a decoder of our own: the message
 * layout, packed and unpacked repeated fields, unknown fields and the varint
 * rules are protobuf-c's job, generated from pprof's own profile.proto, so the
 * reader follows the format as pprof writes it. What protobuf-c lacks is a
 * position: its unpack returns NULL and nothing else. The walker below only
 * runs after such a failure; it knows the wire types of profile.proto's fields
 * and the limits protobuf-c applies (5-byte tags and lengths, 10-byte
 * varints, no groups), and names the first field it would refuse.
 */
#include "profile_pprof_decode.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "profile.h"
#include "profile_format.h"

/* ---- gzip ---- */

static bool is_gzip(const unsigned char *data, size_t len)
{
    return len >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

/* Inflates in into *out (malloc'd, the caller frees), growing the buffer by
 * doubling to at most cap + 1 bytes: a stream that fills cap + 1 is refused
 * there, so a gzip bomb costs at most the cap, never its claimed size.
 * Concatenated gzip members are inflated one after another (gzip(1) does). */
static int inflate_capped(const char *name, const unsigned char *in, size_t len, size_t cap,
                          unsigned char **out, size_t *outlen, char *err, size_t errlen)
{
    *out = NULL;
    *outlen = 0;
    if (len > UINT_MAX || cap >= UINT_MAX)
        return profile_fail(err, errlen, "%s: %zu bytes compressed is more than zlib takes at once",
                            name, len);
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, 15 + 32) != Z_OK) /* 15 + 32: zlib or gzip header, detected */
        return profile_fail(err, errlen, "%s: zlib could not start", name);
    size_t alloc = len < cap / 4 ? len * 4 : cap + 1;
    if (alloc < 4096)
        alloc = cap + 1 < 4096 ? cap + 1 : 4096;
    unsigned char *buf = malloc(alloc);
    if (!buf) {
        inflateEnd(&z);
        return profile_fail(err, errlen, "%s: out of memory inflating", name);
    }
    z.next_in = (unsigned char *)in;
    z.avail_in = (unsigned)len;
    z.next_out = buf;
    z.avail_out = (unsigned)alloc;
    int rc = -1;
    for (;;) {
        if (z.avail_out == 0) {
            if (alloc == cap + 1) {
                profile_fail(err, errlen,
                             "%s: inflates to more than %zu bytes (the limit); stopped there", name,
                             cap);
                break;
            }
            size_t grown = alloc > (cap + 1) / 2 ? cap + 1 : alloc * 2;
            unsigned char *n = realloc(buf, grown);
            if (!n) {
                profile_fail(err, errlen, "%s: out of memory inflating past %zu bytes", name,
                             alloc);
                break;
            }
            buf = n;
            z.next_out = buf + alloc;
            z.avail_out = (unsigned)(grown - alloc);
            alloc = grown;
        }
        int zr = inflate(&z, Z_NO_FLUSH);
        if (zr == Z_STREAM_END) {
            if (z.avail_in == 0) {
                rc = 0;
                break;
            }
            if (inflateReset(&z) != Z_OK) {
                profile_fail(err, errlen, "%s: zlib could not restart after a gzip member", name);
                break;
            }
            continue;
        }
        if (zr == Z_OK || (zr == Z_BUF_ERROR && z.avail_out == 0))
            continue;
        size_t at = len - z.avail_in;
        if (zr == Z_BUF_ERROR)
            profile_fail(err, errlen, "%s: offset %zu: gzip stream ends before its end (truncated)",
                         name, at);
        else
            profile_fail(err, errlen, "%s: offset %zu: gzip: %s", name, at,
                         z.msg ? z.msg : "corrupt data");
        break;
    }
    size_t total = alloc - z.avail_out;
    inflateEnd(&z);
    if (rc == 0 && total > cap) /* the stream ended on the byte past the cap */
        rc = profile_fail(err, errlen,
                          "%s: inflates to more than %zu bytes (the limit); stopped there", name,
                          cap);
    if (rc != 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    *outlen = total;
    return 0;
}

/* ---- the wire walker ---- */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_SGROUP = 3, WT_EGROUP = 4, WT_I32 = 5 };

enum field_kind {
    FK_SCALAR,   /* a varint, once */
    FK_PACKABLE, /* repeated varint: one per field, or packed in one length-delimited field */
    FK_STRING,   /* length-delimited bytes */
    FK_MESSAGE,  /* length-delimited message (msg) */
};

struct wire_msg;

struct wire_field {
    uint32_t num;
    enum field_kind kind;
    const char *name;
    const struct wire_msg *msg; /* FK_MESSAGE */
    bool repeated;              /* FK_MESSAGE: elements are numbered in messages */
};

struct wire_msg {
    const struct wire_field *fields;
    size_t nfields;
};

#define MSG(fields)                                                                                \
    {                                                                                              \
        fields, sizeof(fields) / sizeof(fields[0])                                                 \
    }

static const struct wire_field value_type_fields[] = {
    {1, FK_SCALAR, "type", NULL, false},
    {2, FK_SCALAR, "unit", NULL, false},
};
static const struct wire_msg value_type_msg = MSG(value_type_fields);

static const struct wire_field label_fields[] = {
    {1, FK_SCALAR, "key", NULL, false},
    {2, FK_SCALAR, "str", NULL, false},
    {3, FK_SCALAR, "num", NULL, false},
    {4, FK_SCALAR, "num_unit", NULL, false},
};
static const struct wire_msg label_msg = MSG(label_fields);

static const struct wire_field sample_fields[] = {
    {1, FK_PACKABLE, "location_id", NULL, false},
    {2, FK_PACKABLE, "value", NULL, false},
    {3, FK_MESSAGE, "label", &label_msg, true},
};
static const struct wire_msg sample_msg = MSG(sample_fields);

static const struct wire_field mapping_fields[] = {
    {1, FK_SCALAR, "id", NULL, false},
    {2, FK_SCALAR, "memory_start", NULL, false},
    {3, FK_SCALAR, "memory_limit", NULL, false},
    {4, FK_SCALAR, "file_offset", NULL, false},
    {5, FK_SCALAR, "filename", NULL, false},
    {6, FK_SCALAR, "build_id", NULL, false},
    {7, FK_SCALAR, "has_functions", NULL, false},
    {8, FK_SCALAR, "has_filenames", NULL, false},
    {9, FK_SCALAR, "has_line_numbers", NULL, false},
    {10, FK_SCALAR, "has_inline_frames", NULL, false},
};
static const struct wire_msg mapping_msg = MSG(mapping_fields);

static const struct wire_field line_fields[] = {
    {1, FK_SCALAR, "function_id", NULL, false},
    {2, FK_SCALAR, "line", NULL, false},
};
static const struct wire_msg line_msg = MSG(line_fields);

static const struct wire_field location_fields[] = {
    {1, FK_SCALAR, "id", NULL, false},        {2, FK_SCALAR, "mapping_id", NULL, false},
    {3, FK_SCALAR, "address", NULL, false},   {4, FK_MESSAGE, "line", &line_msg, true},
    {5, FK_SCALAR, "is_folded", NULL, false},
};
static const struct wire_msg location_msg = MSG(location_fields);

static const struct wire_field function_fields[] = {
    {1, FK_SCALAR, "id", NULL, false},          {2, FK_SCALAR, "name", NULL, false},
    {3, FK_SCALAR, "system_name", NULL, false}, {4, FK_SCALAR, "filename", NULL, false},
    {5, FK_SCALAR, "start_line", NULL, false},
};
static const struct wire_msg function_msg = MSG(function_fields);

static const struct wire_field profile_fields[] = {
    {1, FK_MESSAGE, "sample_type", &value_type_msg, true},
    {2, FK_MESSAGE, "sample", &sample_msg, true},
    {3, FK_MESSAGE, "mapping", &mapping_msg, true},
    {4, FK_MESSAGE, "location", &location_msg, true},
    {5, FK_MESSAGE, "function", &function_msg, true},
    {6, FK_STRING, "string_table", NULL, false},
    {7, FK_SCALAR, "drop_frames", NULL, false},
    {8, FK_SCALAR, "keep_frames", NULL, false},
    {9, FK_SCALAR, "time_nanos", NULL, false},
    {10, FK_SCALAR, "duration_nanos", NULL, false},
    {11, FK_MESSAGE, "period_type", &value_type_msg, false},
    {12, FK_SCALAR, "period", NULL, false},
    {13, FK_PACKABLE, "comment", NULL, false},
    {14, FK_SCALAR, "default_sample_type", NULL, false},
};
static const struct wire_msg profile_msg = MSG(profile_fields);

#define MAX_FIELDS 16 /* per message above */

static const struct wire_field *wire_lookup(const struct wire_msg *m, uint64_t num, size_t *index)
{
    for (size_t i = 0; i < m->nfields; i++)
        if (m->fields[i].num == num) {
            *index = i;
            return &m->fields[i];
        }
    return NULL;
}

/* Reads a varint of at most max bytes from p[0..n). Returns the bytes used,
 * 0 when it runs past n, -1 when it is longer than max. */
static int wire_varint(const unsigned char *p, size_t n, int max, uint64_t *v)
{
    uint64_t x = 0;
    for (int i = 0; i < max; i++) {
        if ((size_t)i >= n)
            return 0;
        if (i < 10)
            x |= (uint64_t)(p[i] & 0x7f) << (7 * i < 64 ? 7 * i : 63);
        if (!(p[i] & 0x80)) {
            *v = x;
            return i + 1;
        }
    }
    return -1;
}

struct walk {
    const unsigned char *buf;
    size_t off;     /* offset of the bad field */
    char what[256]; /* what is wrong with it */
};

static int walk_bad(struct walk *w, size_t off, const char *ctx, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int walk_bad(struct walk *w, size_t off, const char *ctx, const char *fmt, ...)
{
    w->off = off;
    size_t n = (size_t)snprintf(w->what, sizeof(w->what), "%s", ctx);
    if (n < sizeof(w->what)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->what + n, sizeof(w->what) - n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static const char *wire_type_name(unsigned wt)
{
    static const char *const names[8] = {"varint",    "64-bit", "length-delimited", "start-group",
                                         "end-group", "32-bit", "6 (invalid)",      "7 (invalid)"};
    return names[wt & 7];
}

/* Walks the fields of message m in buf[start..end). ctx prefixes messages
 * ("location 3: "). Returns 0 when protobuf-c would accept every field,
 * else -1 with w->off and w->what naming the first it would not. */
static int walk_msg(struct walk *w, const struct wire_msg *m, size_t start, size_t end,
                    const char *ctx)
{
    size_t count[MAX_FIELDS] = {0};
    size_t pos = start;
    while (pos < end) {
        size_t at = pos;
        uint64_t tag;
        int n = wire_varint(w->buf + pos, end - pos, 5, &tag);
        if (n == 0)
            return walk_bad(w, at, ctx, "field tag runs past the end");
        if (n < 0)
            return walk_bad(w, at, ctx, "field tag longer than 5 bytes");
        pos += (size_t)n;
        uint64_t num = tag >> 3;
        unsigned wt = (unsigned)(tag & 7);
        if (num == 0)
            return walk_bad(w, at, ctx, "field number 0 is not valid");
        size_t fi = 0;
        const struct wire_field *f = wire_lookup(m, num, &fi);
        char field[64];
        snprintf(field, sizeof(field), "field %llu (%s)", (unsigned long long)num,
                 f ? f->name : "unknown");
        bool want_len = f && (f->kind == FK_STRING || f->kind == FK_MESSAGE);
        bool want_varint = f && (f->kind == FK_SCALAR || f->kind == FK_PACKABLE);
        if ((want_len && wt != WT_LEN) || (want_varint && wt != WT_VARINT && wt != WT_LEN) ||
            (f && f->kind == FK_SCALAR && wt == WT_LEN))
            return walk_bad(w, at, ctx, "%s has wire type %s, expected %s", field,
                            wire_type_name(wt), want_len ? "length-delimited" : "varint");
        uint64_t v;
        switch (wt) {
        case WT_VARINT:
            n = wire_varint(w->buf + pos, end - pos, 10, &v);
            if (n == 0)
                return walk_bad(w, at, ctx, "%s varint runs past the end", field);
            if (n < 0)
                return walk_bad(w, at, ctx, "%s varint longer than 10 bytes", field);
            pos += (size_t)n;
            break;
        case WT_I64:
        case WT_I32: {
            size_t size = wt == WT_I64 ? 8 : 4;
            if (end - pos < size)
                return walk_bad(w, at, ctx, "%s %zu-byte value runs past the end", field, size);
            pos += size;
            break;
        }
        case WT_LEN: {
            n = wire_varint(w->buf + pos, end - pos, 5, &v);
            if (n == 0)
                return walk_bad(w, at, ctx, "%s length runs past the end", field);
            if (n < 0)
                return walk_bad(w, at, ctx, "%s length longer than 5 bytes", field);
            pos += (size_t)n;
            if (v > end - pos)
                return walk_bad(w, at, ctx, "%s length %llu runs past the end", field,
                                (unsigned long long)v);
            size_t body = pos;
            pos += (size_t)v;
            if (f && f->kind == FK_PACKABLE) {
                for (size_t q = body; q < pos;) {
                    n = wire_varint(w->buf + q, pos - q, 10, &v);
                    if (n <= 0)
                        return walk_bad(w, q, ctx, "%s packed values end mid-varint", field);
                    q += (size_t)n;
                }
            } else if (f && f->kind == FK_MESSAGE) {
                char sub[192];
                if (f->repeated)
                    snprintf(sub, sizeof(sub), "%s%s %zu: ", ctx, f->name, count[fi]);
                else
                    snprintf(sub, sizeof(sub), "%s%s: ", ctx, f->name);
                count[fi]++;
                if (walk_msg(w, f->msg, body, pos, sub) != 0)
                    return -1;
            }
            break;
        }
        case WT_SGROUP:
        case WT_EGROUP:
            return walk_bad(w, at, ctx, "%s has wire type %s (groups are not supported)", field,
                            wire_type_name(wt));
        default:
            return walk_bad(w, at, ctx, "%s has wire type %s", field, wire_type_name(wt));
        }
    }
    return 0;
}

bool pprof_decode_recognizes(const unsigned char *data, size_t len)
{
    if (is_gzip(data, len))
        return true;
    /* The first two top-level fields (or the only one) must be fields of
     * Profile with their wire types. That tells gperftools apart: its binary
     * profiles start with a 0 byte (field 0), its text heap profiles with
     * "heap" ('h': field 13 varint, then 'a': field 12 as 64-bit). Beyond
     * that a file is ours, so a corrupt field further in gets an error with
     * its offset rather than "unknown format". */
    size_t pos = 0;
    for (int fields = 0; fields < 2 && pos < len; fields++) {
        uint64_t tag, v;
        int n = wire_varint(data + pos, len - pos, 5, &tag);
        if (n <= 0)
            return false;
        size_t fi;
        const struct wire_field *f = wire_lookup(&profile_msg, tag >> 3, &fi);
        unsigned wt = (unsigned)(tag & 7);
        if (!f)
            return false;
        if (wt == WT_LEN ? f->kind == FK_SCALAR
                         : wt != WT_VARINT || f->kind == FK_STRING || f->kind == FK_MESSAGE)
            return false;
        pos += (size_t)n;
        n = wire_varint(data + pos, len - pos, wt == WT_LEN ? 5 : 10, &v);
        if (n <= 0)
            return fields > 0; /* the second field may be cut short */
        pos += (size_t)n;
        if (wt == WT_LEN)
            pos += v < len - pos ? (size_t)v : len - pos;
    }
    return pos > 0;
}

Perftools__Profiles__Profile *pprof_decode_capped(const char *name, const unsigned char *data,
                                                  size_t len, size_t inflate_cap, char *err,
                                                  size_t errlen)
{
    if (len > PROFILE_MAX_BYTES) {
        profile_fail(err, errlen, "%s: %zu bytes, more than the %zu accepted", name, len,
                     (size_t)PROFILE_MAX_BYTES);
        return NULL;
    }
    const unsigned char *pb = data;
    size_t pblen = len;
    unsigned char *inflated = NULL;
    bool gz = is_gzip(data, len);
    if (gz) {
        if (inflate_capped(name, data, len, inflate_cap, &inflated, &pblen, err, errlen) != 0)
            return NULL;
        pb = inflated;
    }
    Perftools__Profiles__Profile *m = perftools__profiles__profile__unpack(NULL, pblen, pb);
    if (!m) {
        struct walk w = {.buf = pb, .off = 0, .what = ""};
        if (walk_msg(&w, &profile_msg, 0, pblen, "") != 0)
            profile_fail(err, errlen, "%s: offset %zu%s: %s", name, w.off, gz ? " (inflated)" : "",
                         w.what);
        else
            profile_fail(err, errlen,
                         "%s: protobuf-c could not decode %zu bytes%s, though every field is "
                         "well-formed (out of memory?)",
                         name, pblen, gz ? " (inflated)" : "");
    }
    free(inflated);
    return m;
}

Perftools__Profiles__Profile *pprof_decode(const char *name, const unsigned char *data, size_t len,
                                           char *err, size_t errlen)
{
    return pprof_decode_capped(name, data, len, PROFILE_MAX_INFLATED, err, errlen);
}
