/* src/http/curl_load.h: libcurl, loaded with dlopen at the first outbound request (or when the
 * outbound client is created with operator CA bundles), so that a server that calls no upstream
 * never maps it (nor what it links: nghttp2, libssh2, librtmp, Kerberos, LDAP...). The functions
 * are reached through g_mg_curl, whose members have the types of curl.h's declarations (a
 * mismatch fails to compile), named without their "curl_" prefix (curl.h defines
 * curl_easy_setopt and friends as macros under GCC). Only http/client.c uses it. */
#ifndef MG_HTTP_CURL_LOAD_H
#define MG_HTTP_CURL_LOAD_H

#include <curl/curl.h>

#include "base/err.h"

#define MG_CURL_SONAME "libcurl.so.4"
#define MG_CURL_PACKAGE "libcurl4" /* the Debian package that provides MG_CURL_SONAME (OpenSSL) */

/* Every libcurl function the client calls, without "curl_". */
#define MG_CURL_FUNCS(X)                                                                           \
    X(easy_cleanup)                                                                                \
    X(easy_getinfo)                                                                                \
    X(easy_init)                                                                                   \
    X(easy_setopt)                                                                                 \
    X(easy_strerror)                                                                               \
    X(free)                                                                                        \
    X(global_init)                                                                                 \
    X(multi_add_handle)                                                                            \
    X(multi_cleanup)                                                                               \
    X(multi_info_read)                                                                             \
    X(multi_init)                                                                                  \
    X(multi_perform)                                                                               \
    X(multi_poll)                                                                                  \
    X(multi_remove_handle)                                                                         \
    X(multi_setopt)                                                                                \
    X(multi_strerror)                                                                              \
    X(multi_wakeup)                                                                                \
    X(slist_append)                                                                                \
    X(slist_free_all)                                                                              \
    X(url)                                                                                         \
    X(url_cleanup)                                                                                 \
    X(url_get)                                                                                     \
    X(url_set)                                                                                     \
    X(version_info)

struct mg_curl_api {
#define X(name) __typeof__(curl_##name) *(name);
    MG_CURL_FUNCS(X)
#undef X
};

/* Filled by the first successful mg_curl_load; read-only afterwards. */
extern struct mg_curl_api g_mg_curl;

/* Loads libcurl and runs curl_global_init once per process (later calls return the first
 * call's result at once; safe from any thread). MG_E_UNAVAILABLE when the library or one of its
 * functions is missing, when it was not built with OpenSSL (the client hands it OpenSSL
 * certificate stores), or when curl_global_init fails; ei says why and, for a missing library,
 * which package to install ("libcurl.so.4 not found: apt-get install libcurl4 (...)"). The first
 * failure is logged. The library stays loaded until the process ends. */
MG_MUST_USE enum mg_err mg_curl_load(struct mg_errinfo *ei);

#endif
