/* src/base/json.h: checked jansson builders. jansson's setters return -1 when an allocation
 * fails (or the value is NULL because building it failed); these turn that into a bool the
 * caller must use, so that a document is either whole or an error, never half-built. Like
 * jansson's _new calls, mg_json_set and mg_json_append take the reference to val even when they
 * fail. A builder chains them and checks once:
 *
 *     bool ok = mg_json_set(o, "a", json_string(a));
 *     ok = ok && mg_json_append(arr, json_integer(n));   // not evaluated once ok is false
 *     if (!ok) { json_decref(o); return MG_E_NOMEM; }
 */
#ifndef MG_BASE_JSON_H
#define MG_BASE_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "base/err.h"

/* json_object_set_new: the object takes val. */
MG_MUST_USE static inline bool mg_json_set(json_t *obj, const char *key, json_t *val)
{
    return json_object_set_new(obj, key, val) == 0;
}

/* json_object_set: the object gets its own reference to val. */
MG_MUST_USE static inline bool mg_json_set_ref(json_t *obj, const char *key, json_t *val)
{
    return json_object_set(obj, key, val) == 0;
}

/* json_array_append_new: the array takes val. */
MG_MUST_USE static inline bool mg_json_append(json_t *arr, json_t *val)
{
    return json_array_append_new(arr, val) == 0;
}

/* json_array_append: the array gets its own reference to val. */
MG_MUST_USE static inline bool mg_json_append_ref(json_t *arr, json_t *val)
{
    return json_array_append(arr, val) == 0;
}

/* Refuses members of object o outside allowed (NULL-terminated): MG_E_INVALID with
 * "WHERE: unknown field "NAME"" (no "WHERE: " when where is empty). */
MG_MUST_USE enum mg_err mg_json_only(const json_t *o, const char *where, const char *const *allowed,
                                     struct mg_errinfo *ei);

#endif
