/* src/base/limits.h: every size has a limit. */
#ifndef MG_LIMITS_H
#define MG_LIMITS_H

#define MG_LIMIT_BODY_DEFAULT (6u * 1024u * 1024u) /* AgentCore's payload limit */
#define MG_LIMIT_HEADERS 100                       /* header count */
#define MG_LIMIT_HEADER_BYTES (64u * 1024u)        /* one header value */
#define MG_LIMIT_CANONICAL_REQUEST (256u * 1024u)
#define MG_LIMIT_SIGNED_HEADERS 64
#define MG_LIMIT_QUERY_PARAMS 256
#define MG_LIMIT_JSON_DEPTH 64
#define MG_LIMIT_RESPONSE (64u * 1024u * 1024u)
#define MG_LIMIT_IDENTITIES_FILE (16u * 1024u * 1024u)

/* Client connections open at once, all event loops together (--max-connections) */
#define MG_LIMIT_CONNECTIONS_DEFAULT 4096u
#define MG_LIMIT_CONNECTIONS_MAX 1000000u

#endif
