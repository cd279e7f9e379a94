/* src/state/pq_load.c: libpq on demand (pq_load.h). */
#include "state/pq_load.h"

#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#include "base/slice.h"

struct mg_pq_api g_mg_pq;

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static enum mg_err s_err = MG_E_UNAVAILABLE;
static char s_msg[512]; /* struct mg_errinfo's msg */

static void s_load(void)
{
    void *h = dlopen(MG_PQ_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        const char *why = dlerror();
        if (!mg_fmt(s_msg, sizeof(s_msg),
                    MG_PQ_SONAME " not found: apt-get install " MG_PQ_PACKAGE " (%s)",
                    why ? why : "dlopen failed"))
            s_msg[0] = '\0';
        return;
    }
    struct mg_pq_api api;
    memset(&api, 0, sizeof(api));
#define X(name)                                                                                    \
    *(void **)(&api.name) = dlsym(h, #name);                                                       \
    if (api.name == NULL) {                                                                        \
        if (!mg_fmt(s_msg, sizeof(s_msg),                                                          \
                    MG_PQ_SONAME " has no function " #name ": install a current " MG_PQ_PACKAGE))  \
            s_msg[0] = '\0';                                                                       \
        dlclose(h);                                                                                \
        return;                                                                                    \
    }
    MG_PQ_FUNCS(X)
#undef X
    g_mg_pq = api;
    s_err = MG_E_OK;
}

enum mg_err mg_pq_load(struct mg_errinfo *ei)
{
    pthread_once(&s_once, s_load);
    if (s_err != MG_E_OK)
        return mg_errinfo_set(ei, s_err, "%s", s_msg);
    return MG_E_OK;
}
