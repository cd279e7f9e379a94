/* x_amz_bedrock_agentcore_search: lexical ranking with Okapi BM25 (k1 = 1.2, b = 0.75).
 *
 * A tool's document is its full name, its description and the property names of its input schema
 * (top level and nested), cut into lower-case tokens at anything that is not a letter or digit and
 * at lower-to-upper case changes ("getWeather_v2" -> get, weather, v2), leaving out a few common
 * English words ("the", "what", "get", ...). The query is cut the same way. This is not embedding-based: synonyms do not match. The index is built per query; catalogs
 * are small (hundreds of tools), so that costs well under a millisecond. */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "mcp/internal.h"

const char mg_mcp_search_tool_json[] =
    "{\"name\":\"" MG_MCP_SEARCH_TOOL "\",\"description\":\"A special tool that returns a trimmed "
    "down list of tools given a context. Use this tool only when there are many tools available "
    "and you want to get a subset that matches the provided context.\",\"inputSchema\":{\"type\":"
    "\"object\",\"properties\":{\"query\":{\"type\":\"string\",\"description\":\"search query\"}},"
    "\"required\":[\"query\"]},\"outputSchema\":{\"type\":\"object\",\"properties\":{\"tools\":"
    "{\"type\":\"array\",\"items\":{\"type\":\"object\"}}},\"required\":[\"tools\"]}}";

#define S_TOKEN_MAX 32
#define S_QUERY_TOKENS 32
#define S_K1 1.2
#define S_B 0.75

struct s_tok {
    char t[S_TOKEN_MAX];
};

/* Common English words that carry no meaning for tool selection. */
static const char *const s_stop[] = {
    "a",      "an",  "and", "are",  "as",   "at", "be",   "by",    "can",  "do",  "does", "for",
    "from",   "get", "how", "i",    "in",   "is", "it",   "me",    "my",   "of",  "on",   "or",
    "please", "s",   "the", "this", "that", "to", "what", "which", "with", "you", "your",
};

static bool s_is_stop(const char *t)
{
    for (size_t i = 0; i < sizeof(s_stop) / sizeof(s_stop[0]); i++)
        if (strcmp(s_stop[i], t) == 0)
            return true;
    return false;
}

/* Calls fn for every token of text (stop words left out). */
typedef void (*s_tok_fn)(void *user, const char *tok);

static void s_tokenize(const char *text, size_t len, s_tok_fn fn, void *user)
{
    char cur[S_TOKEN_MAX];
    size_t n = 0;
    for (size_t i = 0; i <= len; i++) {
        int ch = i < len ? (unsigned char)text[i] : 0;
        bool word = ch && (isalnum(ch) || ch >= 0x80);
        bool split = !word;
        if (word && n > 0 && isupper(ch) && islower((unsigned char)text[i - 1]))
            split = true;
        if (split && n > 0) {
            cur[n] = 0;
            if (!s_is_stop(cur))
                fn(user, cur);
            n = 0;
        }
        if (word && n < S_TOKEN_MAX - 1)
            cur[n++] = (char)tolower(ch);
    }
}

struct s_query {
    struct s_tok toks[S_QUERY_TOKENS];
    size_t n;
};

static void s_add_query(void *user, const char *tok)
{
    struct s_query *q = user;
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->toks[i].t, tok) == 0)
            return;
    if (q->n < S_QUERY_TOKENS)
        mg_memcpy(q->toks[q->n++].t, tok, strlen(tok) + 1);
}

/* Term counts of one document for the query's terms, and its length. */
struct s_doc {
    const struct s_query *q;
    unsigned tf[S_QUERY_TOKENS];
    size_t len;
};

static void s_add_doc(void *user, const char *tok)
{
    struct s_doc *d = user;
    d->len++;
    for (size_t i = 0; i < d->q->n; i++)
        if (strcmp(d->q->toks[i].t, tok) == 0)
            d->tf[i]++;
}

static void s_schema_props(const json_t *schema, struct s_doc *d, int depth)
{
    if (!json_is_object(schema) || depth > 8)
        return;
    const json_t *props = json_object_get(schema, "properties");
    if (json_is_object(props)) {
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)props, k, v)
        {
            s_tokenize(k, strlen(k), s_add_doc, d);
            s_schema_props(v, d, depth + 1);
        }
    }
    s_schema_props(json_object_get(schema, "items"), d, depth + 1);
}

size_t mg_mcp_search(const struct mg_tool_catalog *cat, const char *query, size_t *out, size_t max)
{
    struct s_query q;
    q.n = 0;
    s_tokenize(query, strlen(query), s_add_query, &q);
    size_t n = cat->n_tools;
    if (q.n == 0 || n == 0 || max == 0)
        return 0;
    struct s_doc *docs = mg_calloc(n, sizeof(*docs));
    double *score = mg_calloc(n, sizeof(*score));
    size_t found = 0;
    if (docs == NULL || score == NULL)
        goto out;
    double total_len = 0;
    unsigned df[S_QUERY_TOKENS] = {0};
    for (size_t i = 0; i < n; i++) {
        const struct mg_tool *t = &cat->tools[i];
        docs[i].q = &q;
        s_tokenize(t->full_name, t->full_name_len, s_add_doc, &docs[i]);
        if (t->description)
            s_tokenize(t->description, strlen(t->description), s_add_doc, &docs[i]);
        json_t *schema = mg_tool_input_schema(t);
        s_schema_props(schema, &docs[i], 0);
        json_decref(schema);
        total_len += (double)docs[i].len;
        for (size_t k = 0; k < q.n; k++)
            if (docs[i].tf[k])
                df[k]++;
    }
    double avg = total_len / (double)n;
    if (avg <= 0)
        avg = 1;
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t k = 0; k < q.n; k++) {
            if (docs[i].tf[k] == 0)
                continue;
            double idf = log(1.0 + ((double)n - df[k] + 0.5) / (df[k] + 0.5));
            double tf = docs[i].tf[k];
            s += idf * tf * (S_K1 + 1) / (tf + S_K1 * (1 - S_B + S_B * (double)docs[i].len / avg));
        }
        score[i] = s;
    }
    /* top max by selection: catalogs are small and max is 10 */
    while (found < max) {
        size_t best = n;
        for (size_t i = 0; i < n; i++)
            if (score[i] > 0 && (best == n || score[i] > score[best]))
                best = i;
        if (best == n)
            break;
        out[found++] = best;
        score[best] = -1;
    }
out:
    mg_free(docs);
    mg_free(score);
    return found;
}
