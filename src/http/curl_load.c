/* src/http/curl_load.c: libcurl on demand (curl_load.h). */
#include "http/curl_load.h"

#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#include "base/log.h"
#include "base/slice.h"

struct mg_curl_api g_mg_curl;

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static enum mg_err s_err = MG_E_UNAVAILABLE;
static char s_msg[512]; /* struct mg_errinfo's msg */

static void s_fail(void *h, const char *fmt, const char *a)
{
    if (!mg_fmt(s_msg, sizeof(s_msg), fmt, a))
        s_msg[0] = '\0';
    MG_LOG(MG_LOG_ERROR, MG_SUB_HTTP, "outbound HTTP is unavailable: %s", s_msg);
    if (h != NULL)
        dlclose(h);
}

static void s_load(void)
{
    void *h = dlopen(MG_CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        const char *why = dlerror();
        s_fail(NULL, MG_CURL_SONAME " not found: apt-get install " MG_CURL_PACKAGE " (%s)",
               why ? why : "dlopen failed");
        return;
    }
    struct mg_curl_api api;
    memset(&api, 0, sizeof(api));
#define X(name)                                                                                    \
    *(void **)(&api.name) = dlsym(h, "curl_" #name);                                               \
    if (api.name == NULL) {                                                                        \
        s_fail(h, MG_CURL_SONAME " has no function %s: install a current " MG_CURL_PACKAGE,        \
               "curl_" #name);                                                                     \
        return;                                                                                    \
    }
    MG_CURL_FUNCS(X)
#undef X
    const curl_version_info_data *v = api.version_info(CURLVERSION_NOW);
    if (v == NULL || v->ssl_version == NULL || strncmp(v->ssl_version, "OpenSSL", 7) != 0) {
        s_fail(h,
               MG_CURL_SONAME " uses %s, not OpenSSL: install " MG_CURL_PACKAGE
                              " (the OpenSSL build)",
               v && v->ssl_version ? v->ssl_version : "no TLS library");
        return;
    }
    CURLcode rc = api.global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        /* easy_strerror needs no initialization; the library stays (it may be half set up) */
        s_fail(NULL, MG_CURL_SONAME ": curl_global_init failed: %s", api.easy_strerror(rc));
        return;
    }
    g_mg_curl = api;
    s_err = MG_E_OK;
    MG_LOG(MG_LOG_DEBUG, MG_SUB_HTTP, "outbound HTTP: loaded %s (libcurl %s, %s)", MG_CURL_SONAME,
           v->version, v->ssl_version);
}

enum mg_err mg_curl_load(struct mg_errinfo *ei)
{
    pthread_once(&s_once, s_load);
    if (s_err != MG_E_OK)
        return mg_errinfo_set(ei, s_err, "%s", s_msg);
    return MG_E_OK;
}
