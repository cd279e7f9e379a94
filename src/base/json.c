/* src/base/json.c: checks shared by the parsers of JSON configuration files. */
#include <string.h>

#include "base/json.h"

enum mg_err mg_json_only(const json_t *o, const char *where, const char *const *allowed,
                         struct mg_errinfo *ei)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(k, allowed[i]) == 0;
        if (!ok)
            return mg_errinfo_set(ei, MG_E_INVALID, "%s%sunknown field \"%.100s\"", where,
                                  where[0] ? ": " : "", k);
    }
    return MG_E_OK;
}
