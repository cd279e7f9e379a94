/* Ended MCP sessions shared through a PostgreSQL store: one document per gateway.
 *
 * Nodes sharing a store must all refuse a session one of them ended (DELETE). Writing one row per
 * DELETE would let anonymous clients of a NONE gateway grow the database without limit, so each
 * gateway has one bounded row (kind MG_MCP_ENDED_KIND, account = the gateway's account, key = the
 * gateway id):
 *
 *   {"floor": MS, "issued": MS, "ended": {"<sid hex>": EXPIRES, ...}}
 *
 * floor (epoch milliseconds, 0: none) ends every session of the gateway issued at or before it;
 * ended holds at most MG_MCP_ENDED_MAX sids, each until its own expiry (epoch seconds), and
 * issued is the latest issue time among them. When a merge would pass that bound, the floor rises
 * to the latest issue time of the sids it drops (never past now) and the list empties: every
 * ended session stays ended, the fewest open ones end with them (those of that gateway issued
 * before the newest ended one), a flood of DELETEs ends only that gateway's sessions, and the row
 * stays small. A row that covers nothing alive any more
 * is deleted. The transport writes the rows from a flusher (a commit every few hundred ms for
 * every DELETE since); requests read them from the snapshot (a hash lookup). */
#include <string.h>

#include "base/json.h"
#include "mcp/internal.h"

/* The longest session AgentCore allows (sessionTimeoutInSeconds <= 28800). */
#define S_MAX_SESSION_MS (28800LL * 1000)

bool mg_mcp_ended_check(const json_t *row, const struct mg_mcp_session *s)
{
    if (!json_is_object(row))
        return false;
    json_t *floor = json_object_get(row, "floor");
    if (json_is_integer(floor) && s->issued_ms <= json_integer_value(floor))
        return true;
    json_t *ended = json_object_get(row, "ended");
    return json_is_object(ended) && json_object_get(ended, s->sid) != NULL;
}

enum mg_err mg_mcp_ended_merge(const json_t *row, const struct mg_mcp_ended_item *items, size_t n,
                               int64_t now_ms, json_t **out)
{
    *out = NULL;
    int64_t floor = 0;
    json_t *old_floor = json_is_object(row) ? json_object_get(row, "floor") : NULL;
    if (json_is_integer(old_floor))
        floor = json_integer_value(old_floor);
    for (size_t i = 0; i < n; i++)
        if (items[i].floor_ms > floor)
            floor = items[i].floor_ms;
    if (floor > now_ms)
        floor = now_ms; /* another node's clock ahead: never past now */
    json_t *ended = json_object();
    if (ended == NULL)
        return MG_E_NOMEM;
    int64_t now = now_ms / 1000;
    /* the latest issue time of the sids kept (an old row without it: now, which covers them) */
    int64_t issued = 0;
    json_t *old_issued = json_is_object(row) ? json_object_get(row, "issued") : NULL;
    if (json_is_integer(old_issued))
        issued = json_integer_value(old_issued);
    else if (json_is_object(row))
        issued = now_ms;
    json_t *old = json_is_object(row) ? json_object_get(row, "ended") : NULL;
    const char *sid;
    json_t *v;
    if (json_is_object(old)) {
        json_object_foreach(old, sid, v)
        {
            if (!json_is_integer(v) || json_integer_value(v) < now)
                continue;
            if (json_object_size(ended) >= MG_MCP_ENDED_MAX + 1)
                break;
            if (!mg_json_set(ended, sid, json_integer(json_integer_value(v)))) {
                json_decref(ended);
                return MG_E_NOMEM;
            }
        }
    }
    for (size_t i = 0; i < n && json_object_size(ended) <= MG_MCP_ENDED_MAX; i++) {
        const struct mg_mcp_ended_item *it = &items[i];
        if (it->sid[0] == '\0' || it->expires < now || it->issued_ms <= floor)
            continue;
        if (!mg_json_set(ended, it->sid, json_integer(it->expires))) {
            json_decref(ended);
            return MG_E_NOMEM;
        }
        if (it->issued_ms > issued)
            issued = it->issued_ms;
    }
    if (json_object_size(ended) > MG_MCP_ENDED_MAX) {
        /* full: every session of this gateway issued until the newest ended one is ended (with
         * items the loop above left out, which were issued at or before theirs as well) */
        for (size_t i = 0; i < n; i++)
            if (items[i].sid[0] != '\0' && items[i].issued_ms > issued)
                issued = items[i].issued_ms;
        if (issued > floor)
            floor = issued < now_ms ? issued : now_ms;
        json_object_clear(ended);
    }
    if (json_object_size(ended) == 0)
        issued = 0;
    if (floor != 0 && floor < now_ms - S_MAX_SESSION_MS)
        floor = 0; /* every session it covers has expired */
    if (floor == 0 && json_object_size(ended) == 0) {
        json_decref(ended);
        return MG_E_OK; /* nothing left: the row goes */
    }
    json_t *doc = json_object();
    if (doc == NULL || !mg_json_set(doc, "floor", json_integer(floor)) ||
        !mg_json_set(doc, "issued", json_integer(issued)) || !mg_json_set(doc, "ended", ended)) {
        json_decref(doc);
        return MG_E_NOMEM;
    }
    *out = doc;
    return MG_E_OK;
}
