/*
 * profile_pprof_decode: the bytes of a pprof file → the decoded profile.proto
 * message, for the pprof backend (profile_pprof.c), which checks its
 * references and turns it into a struct profile.
 *
 * Gzip (as Go, Caddy and pprof write it) is inflated with zlib up to a cap;
 * the protobuf is decoded with protobuf-c. protobuf-c says only that a message
 * is malformed, not where, so on failure a small walker over the wire format
 * finds the first malformed field and its byte offset for the message.
 */
#ifndef SCALEPROF_PROFILE_PPROF_DECODE_H
#define SCALEPROF_PROFILE_PPROF_DECODE_H

#include <stdbool.h>
#include <stddef.h>

#include "profile.pb-c.h"

/* True when data starts like a pprof file: the gzip magic, or protobuf
 * fields of profile.proto with their wire types (enough of them to tell a
 * protobuf from gperftools' binary and text profiles). */
bool pprof_decode_recognizes(const unsigned char *data, size_t len);

/* Inflates (when gzipped) and decodes data. name is used in messages.
 * Returns the message (the caller frees it with
 * perftools__profiles__profile__free_unpacked(m, NULL)), or NULL with a
 * message in err naming the file and the byte offset at fault, "(inflated)"
 * when the offset is one in the inflated bytes. Never keeps data. */
Perftools__Profiles__Profile *pprof_decode(const char *name, const unsigned char *data, size_t len,
                                           char *err, size_t errlen);

/* The same with the inflate cap as a parameter (the tests use a small one). */
Perftools__Profiles__Profile *pprof_decode_capped(const char *name, const unsigned char *data,
                                                  size_t len, size_t inflate_cap, char *err,
                                                  size_t errlen);

#endif
