/* src/base/jscan.h: a strict JSON reader that builds nothing and allocates nothing.
 *
 * mg_jscan accepts a document exactly when jansson's json_loadb with JSON_REJECT_DUPLICATES |
 * JSON_DECODE_ANY | JSON_ALLOW_NUL does (RFC 8259 grammar; strict UTF-8 with no surrogates;
 * escapes; \u surrogate pairs; integers that fit 64 bits; reals that do not overflow a double;
 * no duplicate keys in any object, compared after decoding; no \u0000 in keys) and the nesting of
 * arrays and objects stays within max_depth. For a top-level object it reports where the members
 * the caller names are, so that a small envelope can be read without a tree. */
#ifndef MG_JSCAN_H
#define MG_JSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/slice.h"

#define MG_JSCAN_MAX_DEPTH 256 /* the largest max_depth mg_jscan takes */
#define MG_JSCAN_KEYS 64       /* keys of the open objects it compares for duplicates */

enum mg_jscan_type {
    MG_JSCAN_ABSENT = 0,
    MG_JSCAN_OBJECT,
    MG_JSCAN_ARRAY,
    MG_JSCAN_STRING,
    MG_JSCAN_INTEGER,
    MG_JSCAN_REAL,
    MG_JSCAN_TRUE,
    MG_JSCAN_FALSE,
    MG_JSCAN_NULL,
};

/* One value of the document. */
struct mg_jscan_value {
    struct mg_slice raw; /* the value's text; a string's without its quotes */
    size_t len;          /* a string's length once decoded */
    int64_t integer;     /* MG_JSCAN_INTEGER */
    enum mg_jscan_type type;
    bool escaped; /* a string that holds escapes (raw is not its value) */
};

enum mg_jscan_result {
    MG_JSCAN_OK = 0,
    MG_JSCAN_INVALID, /* jansson refuses it too, or it nests deeper than max_depth */
    MG_JSCAN_UNSURE,  /* valid or not, this reader cannot tell: more than MG_JSCAN_KEYS keys are
                         open at once (parse it with jansson) */
};

/* Reads doc. top gets the type of the top-level value; when it is an object, out[i] gets the
 * member named names[i] (type MG_JSCAN_ABSENT when there is none). names may be NULL with n 0.
 * top and out are meaningful only with MG_JSCAN_OK. */
enum mg_jscan_result mg_jscan(struct mg_slice doc, int max_depth, const char *const *names,
                              size_t n, struct mg_jscan_value *top, struct mg_jscan_value *out);

/* Decodes a string value (v->raw of an MG_JSCAN_STRING) into out: false when cap < v->len.
 * out is not NUL-terminated; it may hold NUL bytes (\u0000). */
bool mg_jscan_string(const struct mg_jscan_value *v, char *out, size_t cap);
/* Whether a string value equals s once decoded. */
bool mg_jscan_string_eq(const struct mg_jscan_value *v, const char *s);

#endif
