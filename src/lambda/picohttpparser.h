/* src/lambda/picohttpparser.h: the part of picohttpparser that rtapi_parse.c uses.
 *
 * picohttpparser is the HTTP/1 parser h2o bundles (deps/picohttpparser); libh2o-evloop exports
 * its functions but no distribution ships its header, so the prototypes are declared here. They
 * match picohttpparser.h as h2o 2.2.5 bundles it; struct phr_header and the signatures of
 * phr_parse_request and phr_parse_headers have not changed in any version since.
 *
 * phr_decode_chunked is deliberately not declared: struct phr_chunked_decoder grew members in
 * later versions (_total_read, _total_overhead), so a layout declared here could not be checked
 * against the library's. rtapi_parse.c decodes chunked bodies itself. */
#ifndef MG_LAMBDA_PICOHTTPPARSER_H
#define MG_LAMBDA_PICOHTTPPARSER_H

#include <stddef.h>

/* A header field; name is NULL for a continuation line (obs-fold) of the previous one. */
struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* Parses a request head. *num_headers is the capacity of headers on entry, the count on return.
 * Returns the bytes the head takes, -2 when it is incomplete, -1 on error (too many fields
 * included). last_len: bytes of buf already seen (0: parse from the start). */
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len,
                      const char **path, size_t *path_len, int *minor_version,
                      struct phr_header *headers, size_t *num_headers, size_t last_len);

/* Parses header fields alone (the same returns). */
int phr_parse_headers(const char *buf, size_t len, struct phr_header *headers, size_t *num_headers,
                      size_t last_len);

#endif
