/* src/state/pq_load.h: libpq, loaded with dlopen when a PostgreSQL store is first opened, so
 * that a server on SQLite never maps it (nor what it links: Kerberos, LDAP, GnuTLS...). The
 * functions are reached through g_mg_pq, whose members have the types of libpq-fe.h's
 * declarations (a mismatch fails to compile). */
#ifndef MG_STATE_PQ_LOAD_H
#define MG_STATE_PQ_LOAD_H

#include <libpq-fe.h>
#include <stddef.h>

#include "base/err.h"

#define MG_PQ_SONAME "libpq.so.5"
#define MG_PQ_PACKAGE "libpq5" /* the Debian package that provides MG_PQ_SONAME */

/* Every libpq function the store calls (all of them: a call not listed fails to link). */
#define MG_PQ_FUNCS(X)                                                                             \
    X(PQclear)                                                                                     \
    X(PQclientEncoding)                                                                            \
    X(PQcmdTuples)                                                                                 \
    X(PQconnectdbParams)                                                                           \
    X(PQconninfoFree)                                                                              \
    X(PQconninfoParse)                                                                             \
    X(PQconsumeInput)                                                                              \
    X(PQerrorMessage)                                                                              \
    X(PQexec)                                                                                      \
    X(PQexecParams)                                                                                \
    X(PQexecPrepared)                                                                              \
    X(PQfinish)                                                                                    \
    X(PQfreemem)                                                                                   \
    X(PQgetisnull)                                                                                 \
    X(PQgetlength)                                                                                 \
    X(PQgetvalue)                                                                                  \
    X(PQnotifies)                                                                                  \
    X(PQntuples)                                                                                   \
    X(PQprepare)                                                                                   \
    X(PQresultErrorField)                                                                          \
    X(PQresultStatus)                                                                              \
    X(PQserverVersion)                                                                             \
    X(PQsetNoticeProcessor)                                                                        \
    X(PQsocket)                                                                                    \
    X(PQstatus)                                                                                    \
    X(PQtransactionStatus)                                                                         \
    X(pg_char_to_encoding)

struct mg_pq_api {
#define X(name) __typeof__(name) *(name);
    MG_PQ_FUNCS(X)
#undef X
};

/* Filled by the first successful mg_pq_load; read-only afterwards. */
extern struct mg_pq_api g_mg_pq;

/* Loads libpq once per process (later calls return the first call's result at once; safe from
 * any thread). MG_E_UNAVAILABLE when the library or one of its functions is missing, with a
 * message naming the package to install in ei ("libpq.so.5 not found: apt-get install libpq5
 * (...)"). The library stays loaded until the process ends. */
MG_MUST_USE enum mg_err mg_pq_load(struct mg_errinfo *ei);

#endif
