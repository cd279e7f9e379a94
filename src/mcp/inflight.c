/* Tool calls in flight, for notifications/cancelled: every target kind registers its calls here
 * (the record embedded in its own call state), and one cancel finds a call of any kind.
 *
 * The registry lives as long as the process, not as the module: a target's callback may still
 * arrive while the module stops, and it must find the lock. */
#include <pthread.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "mcp/internal.h"

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mg_mcp_inflight *s_head;

/* Under s_lock. */
static void s_unlink(struct mg_mcp_inflight *f)
{
    if (!f->registered)
        return;
    if (f->prev)
        f->prev->next = f->next;
    else
        s_head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    f->prev = f->next = NULL;
    f->registered = false;
}

char *mg_mcp_id_text(const json_t *id)
{
    struct mg_buf b;
    mg_buf_init(&b, 4 * MG_MCP_MAX_ID);
    char *out = NULL;
    if (mg_jsonrpc_append_id(&b, id) == MG_E_OK)
        out = mg_slice_dup(mg_buf_slice(&b));
    mg_buf_cleanup(&b);
    return out;
}

enum mg_err mg_mcp_inflight_init(struct mg_mcp_inflight *f, struct mg_mcp_reply *reply, size_t slot,
                                 const char *gateway_id, const char *caller, const json_t *id)
{
    memset(f, 0, sizeof(*f));
    f->reply = reply;
    f->slot = slot;
    f->gateway_id = mg_strdup(gateway_id);
    f->caller = mg_strdup(caller);
    f->id_text = mg_mcp_id_text(id);
    if (f->gateway_id == NULL || f->caller == NULL || f->id_text == NULL) {
        mg_mcp_inflight_cleanup(f);
        return MG_E_NOMEM;
    }
    return MG_E_OK;
}

void mg_mcp_inflight_register(struct mg_mcp_inflight *f)
{
    atomic_fetch_add(&f->reply->pending, 1); /* the call holds the reply for its slot */
    pthread_mutex_lock(&s_lock);
    f->next = s_head;
    if (s_head)
        s_head->prev = f;
    s_head = f;
    f->registered = true;
    pthread_mutex_unlock(&s_lock);
}

bool mg_mcp_inflight_claim(struct mg_mcp_inflight *f)
{
    pthread_mutex_lock(&s_lock);
    bool first = !f->claimed;
    f->claimed = true;
    s_unlink(f);
    pthread_mutex_unlock(&s_lock);
    return first;
}

bool mg_mcp_inflight_claimed(struct mg_mcp_inflight *f)
{
    pthread_mutex_lock(&s_lock);
    bool claimed = f->claimed;
    pthread_mutex_unlock(&s_lock);
    return claimed;
}

void mg_mcp_inflight_cleanup(struct mg_mcp_inflight *f)
{
    if (f->registered) {
        pthread_mutex_lock(&s_lock);
        s_unlink(f);
        pthread_mutex_unlock(&s_lock);
    }
    mg_free(f->gateway_id);
    mg_free(f->caller);
    mg_free(f->id_text);
    f->gateway_id = f->caller = f->id_text = NULL;
}

void mg_mcp_cancel(const char *gateway_id, const char *caller, const json_t *request_id)
{
    char *idt = mg_mcp_id_text(request_id);
    if (idt == NULL)
        return;
    struct mg_mcp_inflight *hit = NULL;
    pthread_mutex_lock(&s_lock);
    for (struct mg_mcp_inflight *f = s_head; f; f = f->next) {
        if (!f->claimed && strcmp(f->id_text, idt) == 0 && strcmp(f->caller, caller) == 0 &&
            strcmp(f->gateway_id, gateway_id) == 0) {
            hit = f;
            f->claimed = true;
            s_unlink(f);
            break;
        }
    }
    /* The reply cannot go away before this slot is released below, so it is safe to use after
     * unlocking; the call record itself stays owned by its target kind's callback. */
    struct mg_mcp_reply *reply = hit ? hit->reply : NULL;
    size_t slot = hit ? hit->slot : 0;
    pthread_mutex_unlock(&s_lock);
    mg_free(idt);
    if (reply) {
        MG_LOG_REQ(MG_LOG_INFO, MG_SUB_MCP, reply->request_id,
                   "tools/call cancelled by the client");
        mg_buf_reset(&reply->slots[slot]);
        mg_mcp_reply_release(reply, false);
    }
}
