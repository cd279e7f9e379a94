/* The Lambda API (rest-json, /2015-03-31/functions...): functions, code, permissions, Invoke. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "call/authz.h"
#include "app/unsupported.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "lambda/internal.h"

static void s_err(struct mg_call *c, int status, const char *type, const char *msg)
{
    mg_aws_send_error(c->x, MG_AWS_REST_JSON, status, type, msg);
}

static void s_errf(struct mg_call *c, int status, const char *type, const char *fmt, ...)
    MG_PRINTF(4, 5);
static void s_errf(struct mg_call *c, int status, const char *type, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    s_err(c, status, type, msg);
}

/* A JSON document could not be built (an allocation failed): AWS's 500, never a partial one. */
static void s_nomem(struct mg_call *c)
{
    s_err(c, 500, "ServiceException", "The request could not be completed: out of memory.");
}

static void s_send_json_obj(struct mg_call *c, int status, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (text == NULL) {
        s_err(c, 500, "ServiceException", "out of memory");
        return;
    }
    mg_aws_send_json(c->x, status, mg_slice_cstr(text));
    mg_free(text);
}

static void s_new_revision(char out[37])
{
    mg_request_id(out);
}

static void s_last_modified(char out[40])
{
    char iso[25];
    mg_time_iso8601_ms(mg_now_ms(), iso); /* YYYY-MM-DDTHH:MM:SS.mmmZ */
    snprintf(out, 40, "%.23s+0000", iso);
}

/* The configuration as the API returns it: the stored document without private members. */
static json_t *s_public_conf(const json_t *doc)
{
    json_t *j = json_deep_copy(doc);
    if (j) {
        json_object_del(j, "Tags");
        json_object_del(j, "Policy");
        json_object_del(j, "PolicyRevisionId");
        json_object_del(j, "CodeUnzippedSize");
    }
    return j;
}

/* --- request parsing -------------------------------------------------------------------- */

struct s_target {
    char account[13], name[65], qualifier[130];
    char arn[256];
    const json_t *doc; /* in c->snap, or NULL */
};

static bool s_resolve(struct mg_call *c, struct mg_slice raw, struct s_target *t)
{
    struct mg_buf b;
    mg_buf_init(&b, 512);
    bool ok = mg_url_decode(&b, raw, false) == MG_E_OK && mg_buf_cstr(&b);
    struct mg_lambda_name n;
    if (ok)
        ok = mg_lambda_parse_name_bytes(mg_buf_slice(&b), &n);
    if (!ok) {
        /* the value is echoed as Lambda does, with control characters (NUL...) left out */
        for (size_t i = 0; i < b.len; i++)
            if (b.ptr[i] < 0x20 || b.ptr[i] == 0x7f)
                b.ptr[i] = '?';
        s_errf(c, 400, "ValidationException",
               "1 validation error detected: Value '%.256s' at 'functionName' failed to satisfy "
               "constraint: Member must satisfy regular expression pattern: "
               "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?"
               "(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST(\\.PUBLISHED)?|"
               "[a-zA-Z0-9-_]+))?",
               mg_buf_cstr(&b) ? mg_buf_cstr(&b) : "");
        mg_buf_cleanup(&b);
        return false;
    }
    char why[400];
    if (!mg_lambda_name_is_local(&n, mg_buf_cstr(&b), c->env->region, why, sizeof(why))) {
        /* an ARN of another region or partition never names a function of this server */
        s_err(c, 404, "ResourceNotFoundException", why);
        mg_buf_cleanup(&b);
        return false;
    }
    mg_buf_cleanup(&b);
    memset(t, 0, sizeof(*t));
    mg_lambda_strlcpy(t->account, sizeof(t->account), n.account[0] ? n.account : c->principal.account);
    mg_lambda_strlcpy(t->name, sizeof(t->name), n.name);
    mg_lambda_strlcpy(t->qualifier, sizeof(t->qualifier), n.qualifier);
    mg_lambda_function_arn(c->env->region, t->account, t->name, t->arn, sizeof(t->arn));
    const struct mg_snapshot_doc *d = mg_snapshot_get(c->snap, "function", t->account, t->name);
    t->doc = d ? d->doc : NULL;
    return true;
}

static bool s_authorize(struct mg_call *c, const char *action, const struct s_target *t)
{
    struct mg_authz_resource res = {
        .arn = t->arn,
        .account = t->account,
        .policy = t->doc ? mg_lambda_function_policy(c->snap, t->arn) : NULL,
        .tags = t->doc ? json_object_get(t->doc, "Tags") : NULL,
    };
    return mg_authz(c, action, &res, NULL);
}

static bool s_not_found(struct mg_call *c, const struct s_target *t)
{
    if (t->doc && (t->qualifier[0] == 0 || strcmp(t->qualifier, "$LATEST") == 0))
        return false;
    if (t->qualifier[0])
        s_errf(c, 404, "ResourceNotFoundException", "Function not found: %s:%s", t->arn,
               t->qualifier);
    else
        s_errf(c, 404, "ResourceNotFoundException", "Function not found: %s", t->arn);
    return true;
}

static json_t *s_body_json(struct mg_call *c)
{
    json_error_t je;
    json_t *j = json_loadb((const char *)c->req->body.ptr, c->req->body.len, 0, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        s_err(c, 400, "InvalidRequestContentException",
              "Could not parse request body into json: Could not parse payload into json");
        return NULL;
    }
    return j;
}

/* The query parameter's raw value, or an empty slice. */
static struct mg_slice s_query(const struct mg_http_req *r, const char *name)
{
    struct mg_slice rest = r->query, kv;
    while (mg_slice_split(&rest, '&', &kv)) {
        struct mg_slice v = kv, k;
        mg_slice_split(&v, '=', &k);
        if (mg_slice_eq_cstr(k, name))
            return v;
    }
    return mg_slice_make("", 0);
}

/* --- validation ------------------------------------------------------------------------- */

static const char *const s_deprecated[] = {
    "python2.7", "python3.6", "python3.7", "python3.8", "nodejs", "nodejs4.3", "nodejs6.10",
    "nodejs8.10", "nodejs10.x", "nodejs12.x", "nodejs14.x", "nodejs16.x", "provided", NULL,
};

static const char *const s_other_runtimes[] = {
    "java8", "java8.al2", "java11", "java17", "java21", "dotnet6", "dotnet8", "ruby3.2", "ruby3.3",
    "ruby3.4", NULL,
};

static bool s_check_runtime(struct mg_call *c, const char *rt)
{
    if (mg_lambda_runtime_known(rt, NULL))
        return true;
    for (size_t i = 0; s_deprecated[i]; i++) {
        if (strcmp(rt, s_deprecated[i]) == 0) {
            s_errf(c, 400, "InvalidParameterValueException",
                   "The runtime parameter of %s is no longer supported for creating or updating "
                   "AWS Lambda functions. We recommend you use a supported runtime while creating "
                   "or updating functions.",
                   rt);
            return false;
        }
    }
    for (size_t i = 0; s_other_runtimes[i]; i++) {
        if (strcmp(rt, s_other_runtimes[i]) == 0) {
            s_errf(c, 400, "InvalidParameterValueException",
                   "The runtime %s is a valid Lambda runtime, but mcpgate does not run it: it "
                   "runs python3.9-python3.13, nodejs18.x-nodejs22.x, provided.al2 and "
                   "provided.al2023.",
                   rt);
            return false;
        }
    }
    char list[512] = "";
    size_t o = 0;
    for (size_t i = 0; mg_lambda_runtimes[i]; i++)
        o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "",
                              mg_lambda_runtimes[i]);
    s_errf(c, 400, "InvalidParameterValueException",
           "Value %.128s at 'runtime' failed to satisfy constraint: Member must satisfy enum value "
           "set: [%s] or be a valid ARN",
           rt, list);
    return false;
}

/* The execution role must exist and trust lambda.amazonaws.com. */
static bool s_check_role(struct mg_call *c, const char *role)
{
    static const char msg[] = "The role defined for the function cannot be assumed by Lambda.";
    struct mg_arn a;
    if (role == NULL || !mg_arn_parse(mg_slice_cstr(role), &a) ||
        !mg_slice_eq_cstr(a.service, "iam") || !mg_slice_starts_with(a.resource, "role/")) {
        s_errf(c, 400, "ValidationException",
               "1 validation error detected: Value '%.300s' at 'role' failed to satisfy "
               "constraint: Member must satisfy regular expression pattern: "
               "arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+",
               role ? role : "");
        return false;
    }
    struct mg_buf tok;
    mg_buf_init(&tok, 16384);
    char akid[32], secret[64];
    struct mg_errinfo ei = {0};
    /* The role must exist and admit lambda.amazonaws.com: exactly what assuming it checks. */
    enum mg_err e = mg_call_assume_role_as_service(c->env, c->snap, role, "lambda.amazonaws.com",
                                                  "validate", 900, NULL, akid, secret, &tok, NULL,
                                                  &ei);
    mg_memzero(secret, sizeof(secret));
    mg_buf_cleanup(&tok);
    if (e != MG_E_OK) {
        s_err(c, 400, "InvalidParameterValueException", msg);
        return false;
    }
    return true;
}

static const char *const s_reserved_env[] = {
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", NULL,
};

/* Validates and copies the settable configuration members of body into doc. */
static bool s_apply_config(struct mg_call *c, const json_t *body, json_t *doc, bool create)
{
    json_t *v;
    if ((v = json_object_get(body, "Runtime")) || create) {
        if (!json_is_string(v)) {
            s_err(c, 400, "InvalidParameterValueException",
                  "Runtime and Handler are mandatory parameters for functions created with "
                  "deployment packages.");
            return false;
        }
        if (!s_check_runtime(c, json_string_value(v)))
            return false;
        json_object_set(doc, "Runtime", v);
    }
    if ((v = json_object_get(body, "Handler")) || create) {
        const char *h = json_string_value(v);
        if (h == NULL || strlen(h) == 0 || strlen(h) > 128) {
            s_err(c, 400, "InvalidParameterValueException",
                  "Runtime and Handler are mandatory parameters for functions created with "
                  "deployment packages.");
            return false;
        }
        json_object_set(doc, "Handler", v);
    }
    if ((v = json_object_get(body, "Role")) || create) {
        if (!s_check_role(c, json_string_value(v)))
            return false;
        json_object_set(doc, "Role", v);
    }
    if ((v = json_object_get(body, "Timeout"))) {
        json_int_t t = json_integer_value(v);
        if (!json_is_integer(v) || t < 1 || t > 900) {
            s_errf(c, 400, "ValidationException",
                   "1 validation error detected: Value '%lld' at 'timeout' failed to satisfy "
                   "constraint: Member must have value %s",
                   (long long)t, t < 1 ? "greater than or equal to 1" : "less than or equal to 900");
            return false;
        }
        json_object_set(doc, "Timeout", v);
    }
    if ((v = json_object_get(body, "MemorySize"))) {
        json_int_t m = json_integer_value(v);
        if (!json_is_integer(v) || m < 128 || m > 10240) {
            s_errf(c, 400, "ValidationException",
                   "1 validation error detected: Value '%lld' at 'memorySize' failed to satisfy "
                   "constraint: Member must have value %s",
                   (long long)m,
                   m < 128 ? "greater than or equal to 128" : "less than or equal to 10240");
            return false;
        }
        json_object_set(doc, "MemorySize", v);
    }
    if ((v = json_object_get(body, "Description"))) {
        if (!json_is_string(v) || strlen(json_string_value(v)) > 256) {
            s_err(c, 400, "ValidationException",
                  "1 validation error detected: Value at 'description' failed to satisfy "
                  "constraint: Member must have length less than or equal to 256");
            return false;
        }
        json_object_set(doc, "Description", v);
    }
    if ((v = json_object_get(body, "Environment"))) {
        json_t *vars = json_object_get(v, "Variables");
        const char *k;
        json_t *val;
        char reserved[512] = "";
        size_t o = 0, total = 0;
        json_object_foreach(vars, k, val) {
            if (!json_is_string(val)) {
                s_err(c, 400, "InvalidParameterValueException",
                      "Environment variable values must be strings.");
                return false;
            }
            total += strlen(k) + strlen(json_string_value(val));
            for (size_t i = 0; s_reserved_env[i]; i++)
                if (strcmp(k, s_reserved_env[i]) == 0 && o < sizeof(reserved))
                    o += (size_t)snprintf(reserved + o, sizeof(reserved) - o, "%s%s",
                                          o ? ", " : "", k);
        }
        if (o) {
            s_errf(c, 400, "InvalidParameterValueException",
                   "Lambda was unable to configure your environment variables because the "
                   "environment variables you have provided contains reserved keys that are "
                   "currently not supported for modification. Reserved keys used in this request: "
                   "%s",
                   reserved);
            return false;
        }
        if (total > 4096) {
            s_err(c, 400, "InvalidParameterValueException",
                  "Lambda was unable to configure your environment variables because the "
                  "environment variables you have provided exceeded the 4KB limit.");
            return false;
        }
        json_t *env = json_object();
        if (json_object_set_new(env, "Variables", vars ? json_deep_copy(vars) : json_object()) ||
            json_object_set_new(doc, "Environment", env)) {
            s_nomem(c);
            return false;
        }
    }
    return true;
}

/* --- code ------------------------------------------------------------------------------- */

static const char s_storage_msg[] = "Code storage limit exceeded.";

/* Decodes Code.ZipFile / ZipFile, checks it, stores it (codestore.c); fills CodeSha256, CodeSize
 * and CodeUnzippedSize. On success the version (hex) is pending: the caller ends that with
 * mg_lambda_code_done once the document is committed or not. */
static bool s_store_code(struct mg_call *c, const json_t *zipfile, const char *account,
                         const char *name, json_t *doc, char hex[65])
{
    const char *b64 = json_string_value(zipfile);
    if (b64 == NULL) {
        s_err(c, 400, "InvalidParameterValueException",
              "Please provide a source for function code (ZipFile). mcpgate does not read code "
              "from S3 or container images.");
        return false;
    }
    struct mg_lambda_code code;
    char msg[128] = "";
    switch (mg_lambda_code_put(((struct mg_lambda *)c->service), c->snap, account, name, mg_slice_cstr(b64), &code,
                               msg, sizeof(msg))) {
    case MG_LAMBDA_CODE_OK:
        break;
    case MG_LAMBDA_CODE_TOO_LARGE:
        s_err(c, 413, "RequestEntityTooLargeException",
              "Request must be smaller than 70167211 bytes for the CreateFunction operation");
        return false;
    case MG_LAMBDA_CODE_UNZIPPED_TOO_LARGE:
        MG_LOG_REQ(MG_LOG_INFO, MG_SUB_LAMBDA, c->req->request_id, "zip refused: %s", msg);
        s_err(c, 400, "InvalidParameterValueException",
              "Unzipped size must be smaller than 262144000 bytes");
        return false;
    case MG_LAMBDA_CODE_INVALID_ZIP:
        MG_LOG_REQ(MG_LOG_INFO, MG_SUB_LAMBDA, c->req->request_id, "zip refused: %s", msg);
        s_err(c, 400, "InvalidParameterValueException",
              "Could not unzip uploaded file. Please check your file, then try to upload "
              "again.");
        return false;
    case MG_LAMBDA_CODE_STORAGE_EXCEEDED:
        s_err(c, 400, "CodeStorageExceededException", s_storage_msg);
        return false;
    case MG_LAMBDA_CODE_IO:
        s_err(c, 500, "ServiceException", "The code could not be stored.");
        return false;
    }
    mg_lambda_strlcpy(hex, 65, code.hex);
    bool ok = (json_object_set_new(doc, "CodeSha256", json_string(code.sha256)) |
               json_object_set_new(doc, "CodeSize", json_integer((json_int_t)code.size)) |
               json_object_set_new(doc, "CodeUnzippedSize",
                                   json_integer((json_int_t)code.unzipped_size))) == 0;
    if (!ok) {
        /* nothing may be left of this version if the function does not use it */
        mg_lambda_code_done(((struct mg_lambda *)c->service), account, name, hex);
        s_err(c, 500, "ServiceException", "The code could not be stored.");
    }
    return ok;
}

/* --- store writes ----------------------------------------------------------------------- */

static bool s_commit(struct mg_call *c, const char *account, const char *name, json_t *doc,
                     bool insert, bool new_code)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    if (text == NULL) {
        s_err(c, 500, "ServiceException", "out of memory");
        return false;
    }
    enum mg_err e = mg_state_write_begin(c->env->state);
    if (!e && new_code) {
        /* the storage check again, under the write lock: concurrent uploads cannot both pass */
        struct mg_snapshot *cur = mg_state_acquire(c->env->state);
        json_int_t size = json_integer_value(json_object_get(doc, "CodeSize")) +
                          json_integer_value(json_object_get(doc, "CodeUnzippedSize"));
        bool ok = mg_lambda_code_fits(c->service, cur, account, name,
                                      size > 0 ? (uint64_t)size : 0);
        mg_snapshot_unref(cur);
        if (!ok) {
            mg_free(text);
            mg_state_write_abort(c->env->state);
            s_err(c, 400, "CodeStorageExceededException", s_storage_msg);
            return false;
        }
    }
    if (!e)
        e = insert ? mg_store_insert(c->env->store, "function", account, name, mg_slice_cstr(text))
                   : mg_store_put(c->env->store, "function", account, name, mg_slice_cstr(text));
    mg_free(text);
    struct mg_errinfo ei = {0};
    if (e == MG_E_CONFLICT) {
        mg_state_write_abort(c->env->state);
        s_errf(c, 409, "ResourceConflictException", "Function already exist: %s", name);
        return false;
    }
    if (e || mg_state_write_commit(c->env->state, &ei) != MG_E_OK) {
        if (e)
            mg_state_write_abort(c->env->state);
        s_err(c, 500, "ServiceException", "The function could not be stored.");
        return false;
    }
    return true;
}

static bool s_check_revision(struct mg_call *c, const json_t *body, const json_t *doc,
                             const char *member)
{
    const char *want = json_string_value(json_object_get(body, "RevisionId"));
    const char *have = json_string_value(json_object_get(doc, member));
    if (want && (have == NULL || strcmp(want, have) != 0)) {
        s_err(c, 412, "PreconditionFailedException",
              "The Revision Id provided does not match the latest Revision Id. Call the "
              "GetFunction/GetAlias API to retrieve the latest Revision Id");
        return false;
    }
    return true;
}

/* iam:PassRole of the execution role to Lambda, with iam:PassedToService as AWS sets it (so a
 * policy conditioned on the service decides as on AWS). Lambda does not set
 * iam:AssociatedResourceArn. */
static bool s_pass_role(struct mg_call *c, const char *role)
{
    struct mg_policy_ctx_entry ctx[] = {
        {MG_SLICE_LIT("iam:PassedToService"), NULL, 0, MG_SLICE_LIT("lambda.amazonaws.com")},
    };
    struct mg_authz_extra ex = {ctx, 1, NULL};
    struct mg_authz_resource rr = {.arn = role};
    return mg_authz(c, "iam:PassRole", &rr, &ex);
}

/* Lambda's tag rules: a key of 1 to 128 characters, a string value of at most 256. */
static size_t s_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static bool s_tag_ok(const char *key, const json_t *value)
{
    size_t kn = s_chars(key);
    return kn >= 1 && kn <= 128 && json_is_string(value) &&
           s_chars(json_string_value(value)) <= 256;
}

/* --- operations ------------------------------------------------------------------------- */

static void s_create(struct mg_call *c)
{
    json_t *body = s_body_json(c);
    if (body == NULL)
        return;
    json_t *doc = NULL;
    char hex[65] = "";
    bool stored = false;
    struct s_target t;
    memset(&t, 0, sizeof(t));
    const char *fname = json_string_value(json_object_get(body, "FunctionName"));
    struct mg_lambda_name n;
    if (fname == NULL || !mg_lambda_parse_name(fname, &n) || n.qualifier[0]) {
        s_errf(c, 400, "ValidationException",
               "1 validation error detected: Value '%.200s' at 'functionName' failed to satisfy "
               "constraint: Member must satisfy regular expression pattern: "
               "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?"
               "(function:)?([a-zA-Z0-9-_]+)",
               fname ? fname : "");
        goto out;
    }
    char why[400];
    if (!mg_lambda_name_is_local(&n, fname, c->env->region, why, sizeof(why))) {
        s_err(c, 404, "ResourceNotFoundException", why);
        goto out;
    }
    mg_lambda_strlcpy(t.account, sizeof(t.account), n.account[0] ? n.account : c->principal.account);
    mg_lambda_strlcpy(t.name, sizeof(t.name), n.name);
    mg_lambda_function_arn(c->env->region, t.account, t.name, t.arn, sizeof(t.arn));
    if (!s_authorize(c, "lambda:CreateFunction", &t))
        goto out;
    if (strcmp(t.account, c->principal.account) != 0) {
        s_err(c, 403, "AccessDeniedException",
              "Functions can only be created in the caller's own account.");
        goto out;
    }
    const char *role = json_string_value(json_object_get(body, "Role"));
    if (role && !s_pass_role(c, role))
        goto out;
    const char *pt = json_string_value(json_object_get(body, "PackageType"));
    if (pt && strcmp(pt, "Zip") != 0) {
        s_err(c, 400, "InvalidParameterValueException",
              "mcpgate runs Zip functions only (PackageType Image is not supported).");
        goto out;
    }
    if (mg_snapshot_get(c->snap, "function", t.account, t.name)) {
        s_errf(c, 409, "ResourceConflictException", "Function already exist: %s", t.name);
        goto out;
    }
    doc = json_object();
    int bad = json_object_set_new(doc, "FunctionName", json_string(t.name));
    bad |= json_object_set_new(doc, "FunctionArn", json_string(t.arn));
    bad |= json_object_set_new(doc, "Timeout", json_integer(3));
    bad |= json_object_set_new(doc, "MemorySize", json_integer(128));
    bad |= json_object_set_new(doc, "Description", json_string(""));
    if (bad) {
        s_nomem(c);
        goto out;
    }
    if (!s_apply_config(c, body, doc, true))
        goto out;
    json_t *tags = json_object_get(body, "Tags");
    if (tags && (!json_is_object(tags) || json_object_size(tags) > 50)) {
        s_err(c, 400, "InvalidParameterValueException", "Tags must be a map of at most 50 tags.");
        goto out;
    }
    const char *tk;
    json_t *tv;
    json_object_foreach(tags, tk, tv) {
        if (!s_tag_ok(tk, tv)) {
            s_err(c, 400, "InvalidParameterValueException",
                  "A tag key must be 1 to 128 characters and a tag value a string of at most 256 "
                  "characters.");
            goto out;
        }
    }
    if (!s_store_code(c, json_object_get(json_object_get(body, "Code"), "ZipFile"), t.account,
                      t.name, doc, hex))
        goto out;
    stored = true;
    char rev[37], lm[40];
    s_new_revision(rev);
    s_last_modified(lm);
    bad |= json_object_set_new(doc, "Version", json_string("$LATEST"));
    bad |= json_object_set_new(doc, "LastModified", json_string(lm));
    bad |= json_object_set_new(doc, "RevisionId", json_string(rev));
    bad |= json_object_set_new(doc, "State", json_string("Pending"));
    bad |= json_object_set_new(doc, "StateReason", json_string("The function is being created."));
    bad |= json_object_set_new(doc, "StateReasonCode", json_string("Creating"));
    bad |= json_object_set_new(doc, "PackageType", json_string("Zip"));
    json_t *arch = json_object_get(body, "Architectures");
    bad |= json_object_set_new(doc, "Architectures",
                               json_is_array(arch) && json_array_size(arch) == 1
                                   ? json_deep_copy(arch)
                                   : json_pack("[s]", "x86_64"));
    bad |= json_object_set_new(doc, "TracingConfig", json_pack("{s:s}", "Mode", "PassThrough"));
    bad |= json_object_set_new(doc, "EphemeralStorage", json_pack("{s:i}", "Size", 512));
    bad |= json_object_set_new(doc, "SnapStart", json_pack("{s:s,s:s}", "ApplyOn", "None",
                                                           "OptimizationStatus", "Off"));
    bad |= json_object_set_new(doc, "LoggingConfig",
                               json_pack("{s:s,s:s+}", "LogFormat", "Text", "LogGroup",
                                         "/aws/lambda/", t.name));
    bad |= json_object_set_new(doc, "Tags", tags ? json_deep_copy(tags) : json_object());
    if (bad) {
        s_nomem(c);
        goto out;
    }
    if (!s_commit(c, t.account, t.name, doc, true, true))
        goto out;
    mg_lambda_queue_activation(((struct mg_lambda *)c->service), t.account, t.name,
                               json_string_value(json_object_get(doc, "CodeSha256")));
    json_t *pub = s_public_conf(doc);
    s_send_json_obj(c, 201, pub);
    json_decref(pub);
out:
    if (stored)
        mg_lambda_code_done(((struct mg_lambda *)c->service), t.account, t.name, hex);
    json_decref(doc);
    json_decref(body);
}

static void s_get(struct mg_call *c, struct s_target *t, bool config_only)
{
    if (!s_authorize(c, config_only ? "lambda:GetFunctionConfiguration" : "lambda:GetFunction",
                     t) ||
        s_not_found(c, t))
        return;
    json_t *conf = s_public_conf(t->doc);
    if (config_only) {
        s_send_json_obj(c, 200, conf);
        json_decref(conf);
        return;
    }
    json_t *tags = json_object_get(t->doc, "Tags");
    /* "o" takes conf even when json_pack fails; the location is built by jansson, unbounded */
    json_t *r = json_pack("{s:o,s:{s:s,s:s+++++}}", "Configuration", conf, "Code",
                          "RepositoryType", "S3", "Location", c->env->public_url,
                          "/_mcpgate/lambda/", t->account, "/", t->name, "/code.zip");
    if (r && tags && json_object_size(tags) && json_object_set(r, "Tags", tags)) {
        json_decref(r);
        r = NULL;
    }
    s_send_json_obj(c, 200, r);
    json_decref(r);
}

static void s_list(struct mg_call *c)
{
    struct s_target t;
    memset(&t, 0, sizeof(t));
    snprintf(t.arn, sizeof(t.arn), "*");
    mg_lambda_strlcpy(t.account, sizeof(t.account), c->principal.account);
    if (!s_authorize(c, "lambda:ListFunctions", &t))
        return;
    struct mg_buf mb;
    mg_buf_init(&mb, 512);
    struct mg_slice marker_raw = s_query(c->req, "Marker");
    const char *marker = marker_raw.len && mg_url_decode(&mb, marker_raw, true) == MG_E_OK
                             ? mg_buf_cstr(&mb)
                             : NULL;
    uint64_t max = 50;
    struct mg_slice mi = s_query(c->req, "MaxItems");
    if (mi.len && (!mg_slice_to_u64(mi, &max) || max < 1 || max > 10000)) {
        mg_buf_cleanup(&mb);
        s_err(c, 400, "InvalidParameterValueException", "MaxItems must be between 1 and 10000.");
        return;
    }
    size_t n = 0;
    const struct mg_snapshot_doc *d = mg_snapshot_range(c->snap, "function", c->principal.account,
                                                        &n);
    json_t *arr = json_array();
    const char *next = NULL;
    for (size_t i = 0; i < n; i++) {
        if (marker && strcmp(d[i].key, marker) <= 0)
            continue;
        if (json_array_size(arr) == max) {
            next = json_array_size(arr) ? json_string_value(json_object_get(
                                              json_array_get(arr, max - 1), "FunctionName"))
                                        : NULL;
            break;
        }
        if (json_array_append_new(arr, s_public_conf(d[i].doc))) {
            json_decref(arr);
            arr = NULL;
            break;
        }
    }
    json_t *r = json_pack("{s:o}", "Functions", arr);
    if (r && next && json_object_set_new(r, "NextMarker", json_string(next))) {
        json_decref(r);
        r = NULL;
    }
    s_send_json_obj(c, 200, r);
    json_decref(r);
    mg_buf_cleanup(&mb);
}

static void s_delete(struct mg_call *c, struct s_target *t)
{
    if (!s_authorize(c, "lambda:DeleteFunction", t) || s_not_found(c, t))
        return;
    if (t->qualifier[0]) {
        s_err(c, 400, "InvalidParameterValueException",
              "$LATEST version cannot be deleted without deleting the function.");
        return;
    }
    enum mg_err e = mg_state_write_begin(c->env->state);
    if (!e)
        e = mg_store_delete(c->env->store, "function", t->account, t->name);
    struct mg_errinfo ei = {0};
    if (e == MG_E_NOT_FOUND) {
        mg_state_write_abort(c->env->state);
        s_not_found(c, &(struct s_target){.doc = NULL});
        return;
    }
    if (e || mg_state_write_commit(c->env->state, &ei)) {
        if (e)
            mg_state_write_abort(c->env->state);
        s_err(c, 500, "ServiceException", "The function could not be deleted.");
        return;
    }
    mg_lambda_forget(((struct mg_lambda *)c->service), t->account, t->name);
    mg_lambda_code_remove(((struct mg_lambda *)c->service), t->account, t->name);
    mg_http_set_status(c->x, 204);
    mg_http_send(c->x);
}

/* Reads the current document from the store for an update (under the write lock). */
static json_t *s_load_for_update(struct mg_call *c, const struct s_target *t)
{
    struct mg_buf b;
    mg_buf_init(&b, MG_STORE_DOC_MAX);
    json_t *doc = NULL;
    if (mg_store_get(c->env->store, "function", t->account, t->name, &b) == MG_E_OK)
        doc = json_loadb((const char *)b.ptr, b.len, 0, NULL);
    mg_buf_cleanup(&b);
    return doc;
}

static void s_update(struct mg_call *c, struct s_target *t, bool code)
{
    if (!s_authorize(c, code ? "lambda:UpdateFunctionCode" : "lambda:UpdateFunctionConfiguration",
                     t) ||
        s_not_found(c, t))
        return;
    json_t *body = s_body_json(c);
    if (body == NULL)
        return;
    json_t *doc = json_deep_copy(t->doc);
    char hex[65] = "";
    bool stored = false;
    int bad = 0;
    if (doc == NULL) {
        s_nomem(c);
        goto out;
    }
    if (!s_check_revision(c, body, doc, "RevisionId"))
        goto out;
    if (code) {
        if (!s_store_code(c, json_object_get(body, "ZipFile"), t->account, t->name, doc, hex))
            goto out;
        stored = true;
        bad |= json_object_set_new(doc, "LastUpdateStatus", json_string("InProgress"));
        bad |= json_object_set_new(doc, "LastUpdateStatusReason",
                                   json_string("The function is being created."));
        bad |= json_object_set_new(doc, "LastUpdateStatusReasonCode", json_string("Creating"));
    } else {
        const char *role = json_string_value(json_object_get(body, "Role"));
        if (role && !s_pass_role(c, role))
            goto out;
        if (!s_apply_config(c, body, doc, false))
            goto out;
        bad |= json_object_set_new(doc, "LastUpdateStatus", json_string("Successful"));
    }
    char rev[37], lm[40];
    s_new_revision(rev);
    s_last_modified(lm);
    bad |= json_object_set_new(doc, "RevisionId", json_string(rev));
    bad |= json_object_set_new(doc, "LastModified", json_string(lm));
    if (bad) {
        s_nomem(c);
        goto out;
    }
    /* keep what AddPermission wrote meanwhile: re-read under the write lock */
    if (mg_state_write_begin(c->env->state) != MG_E_OK) {
        s_err(c, 500, "ServiceException", "The function could not be stored.");
        goto out;
    }
    json_t *cur = s_load_for_update(c, t);
    if (cur == NULL) {
        mg_state_write_abort(c->env->state);
        s_not_found(c, &(struct s_target){.doc = NULL});
        goto out;
    }
    static const char *const kept[] = {"Policy", "PolicyRevisionId"};
    for (size_t k = 0; k < 2; k++) {
        json_t *v = json_object_get(cur, kept[k]);
        if (v)
            bad |= json_object_set(doc, kept[k], v);
        else
            json_object_del(doc, kept[k]);
    }
    json_decref(cur);
    mg_state_write_abort(c->env->state);
    if (bad) {
        s_nomem(c);
        goto out;
    }
    if (!s_commit(c, t->account, t->name, doc, false, code))
        goto out;
    if (code)
        mg_lambda_queue_activation(((struct mg_lambda *)c->service), t->account, t->name,
                                   json_string_value(json_object_get(doc, "CodeSha256")));
    json_t *pub = s_public_conf(doc);
    s_send_json_obj(c, 200, pub);
    json_decref(pub);
out:
    if (stored)
        mg_lambda_code_done(((struct mg_lambda *)c->service), t->account, t->name, hex);
    json_decref(doc);
    json_decref(body);
}

/* --- permissions ------------------------------------------------------------------------ */

static json_t *s_principal_json(const char *p)
{
    if (strcmp(p, "*") == 0)
        return json_string("*");
    bool digits = strlen(p) == 12;
    for (size_t i = 0; digits && p[i]; i++)
        digits = p[i] >= '0' && p[i] <= '9';
    if (digits) {
        char arn[64];
        snprintf(arn, sizeof(arn), "arn:aws:iam::%s:root", p);
        return json_pack("{s:s}", "AWS", arn);
    }
    if (strncmp(p, "arn:", 4) == 0)
        return json_pack("{s:s}", "AWS", p);
    return json_pack("{s:s}", "Service", p);
}

static bool s_valid_sid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 100)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_'))
            return false;
    }
    return true;
}

/* Writes the function document (under the write lock the caller holds) and commits; answers
 * 500 and releases the lock on failure. */
static bool s_store_policy_doc(struct mg_call *c, const struct s_target *t, const json_t *doc)
{
    char *dtext = json_dumps(doc, JSON_COMPACT);
    enum mg_err e = dtext ? mg_store_put(c->env->store, "function", t->account, t->name,
                                         mg_slice_cstr(dtext))
                          : MG_E_NOMEM;
    mg_free(dtext);
    struct mg_errinfo ei = {0};
    if (e || mg_state_write_commit(c->env->state, &ei)) {
        if (e)
            mg_state_write_abort(c->env->state);
        s_err(c, 500, "ServiceException", "The policy could not be stored.");
        return false;
    }
    return true;
}

static void s_add_permission(struct mg_call *c, struct s_target *t)
{
    if (!s_authorize(c, "lambda:AddPermission", t) || s_not_found(c, t))
        return;
    json_t *body = s_body_json(c);
    if (body == NULL)
        return;
    json_t *doc = NULL, *policy = NULL, *stmt = NULL;
    const char *sid = json_string_value(json_object_get(body, "StatementId"));
    const char *action = json_string_value(json_object_get(body, "Action"));
    const char *principal = json_string_value(json_object_get(body, "Principal"));
    if (!s_valid_sid(sid)) {
        s_err(c, 400, "ValidationException",
              "1 validation error detected: Value at 'statementId' failed to satisfy constraint: "
              "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)");
        goto out;
    }
    if (action == NULL || !(strcmp(action, "*") == 0 || strcmp(action, "lambda:*") == 0 ||
                            strncmp(action, "lambda:", 7) == 0)) {
        s_err(c, 400, "ValidationException",
              "1 validation error detected: Value at 'action' failed to satisfy constraint: "
              "Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])");
        goto out;
    }
    if (principal == NULL || principal[0] == 0) {
        s_err(c, 400, "ValidationException",
              "1 validation error detected: Value null at 'principal' failed to satisfy "
              "constraint: Member must not be null");
        goto out;
    }
    stmt = json_pack("{s:s,s:s,s:o,s:s,s:s}", "Sid", sid, "Effect", "Allow", "Principal",
                     s_principal_json(principal), "Action", action, "Resource", t->arn);
    json_t *cond = json_object();
    const char *src_arn = json_string_value(json_object_get(body, "SourceArn"));
    const char *src_acct = json_string_value(json_object_get(body, "SourceAccount"));
    const char *org = json_string_value(json_object_get(body, "PrincipalOrgID"));
    int bad = stmt == NULL || cond == NULL;
    if (src_acct || org) {
        json_t *se = json_object();
        if (src_acct)
            bad |= json_object_set_new(se, "AWS:SourceAccount", json_string(src_acct));
        if (org)
            bad |= json_object_set_new(se, "aws:PrincipalOrgID", json_string(org));
        bad |= json_object_set_new(cond, "StringEquals", se);
    }
    if (src_arn)
        bad |= json_object_set_new(cond, "ArnLike",
                                   json_pack("{s:s}", "AWS:SourceArn", src_arn));
    if (json_object_size(cond))
        bad |= json_object_set_new(stmt, "Condition", cond);
    else
        json_decref(cond);
    if (bad) {
        s_nomem(c);
        goto out;
    }

    if (mg_state_write_begin(c->env->state) != MG_E_OK) {
        s_err(c, 500, "ServiceException", "The policy could not be stored.");
        goto out;
    }
    doc = s_load_for_update(c, t);
    if (doc == NULL) {
        mg_state_write_abort(c->env->state);
        s_not_found(c, &(struct s_target){.doc = NULL});
        goto out;
    }
    if (!s_check_revision(c, body, doc, "PolicyRevisionId")) {
        mg_state_write_abort(c->env->state);
        goto out;
    }
    const char *ptext = json_string_value(json_object_get(doc, "Policy"));
    /* the stored policy failing to load (an allocation failed) must not start a new one: that
     * would drop every statement granted before */
    policy = ptext ? json_loads(ptext, 0, NULL)
                   : json_pack("{s:s,s:s,s:[]}", "Version", "2012-10-17", "Id", "default",
                               "Statement");
    json_t *stmts = json_object_get(policy, "Statement");
    if (!json_is_array(stmts)) {
        mg_state_write_abort(c->env->state);
        s_nomem(c);
        goto out;
    }
    size_t i;
    json_t *s;
    json_array_foreach(stmts, i, s) {
        const char *have = json_string_value(json_object_get(s, "Sid"));
        if (have && strcmp(have, sid) == 0) {
            mg_state_write_abort(c->env->state);
            s_errf(c, 409, "ResourceConflictException",
                   "The statement id (%s) provided already exists. Please provide a new statement "
                   "id, or remove the existing statement.",
                   sid);
            goto out;
        }
    }
    if (json_array_append(stmts, stmt)) {
        mg_state_write_abort(c->env->state);
        s_nomem(c);
        goto out;
    }
    char *text = json_dumps(policy, JSON_COMPACT);
    struct mg_policy_parse_opts o = {MG_POLICY_KIND_RESOURCE, MG_POLICY_LIMIT_RAW, t->arn};
    struct mg_policy *compiled = NULL;
    struct mg_errinfo pe = {0};
    if (text == NULL) {
        mg_state_write_abort(c->env->state);
        s_nomem(c);
        goto out;
    }
    enum mg_err pe_code = mg_policy_parse(mg_slice_cstr(text), &o, &compiled, &pe);
    if (pe_code == MG_E_NOMEM) {
        mg_free(text);
        mg_state_write_abort(c->env->state);
        s_nomem(c);
        goto out;
    }
    if (pe_code != MG_E_OK || strlen(text) > 20480) {
        mg_free(text);
        mg_state_write_abort(c->env->state);
        s_errf(c, 400, "InvalidParameterValueException", "The policy is not valid: %s",
               pe.msg[0] ? pe.msg : "The final policy size is bigger than the limit.");
        goto out;
    }
    mg_policy_unref(compiled);
    char rev[37];
    s_new_revision(rev);
    bad = json_object_set_new(doc, "Policy", json_string(text));
    bad |= json_object_set_new(doc, "PolicyRevisionId", json_string(rev));
    mg_free(text);
    if (bad) {
        mg_state_write_abort(c->env->state);
        s_nomem(c);
        goto out;
    }
    if (!s_store_policy_doc(c, t, doc))
        goto out;
    char *st = json_dumps(stmt, JSON_COMPACT);
    json_t *r = st ? json_pack("{s:s}", "Statement", st) : NULL;
    mg_free(st);
    s_send_json_obj(c, 201, r);
    json_decref(r);
out:
    json_decref(stmt);
    json_decref(policy);
    json_decref(doc);
    json_decref(body);
}

static void s_remove_permission(struct mg_call *c, struct s_target *t, struct mg_slice sid_raw)
{
    if (!s_authorize(c, "lambda:RemovePermission", t) || s_not_found(c, t))
        return;
    struct mg_buf sb;
    mg_buf_init(&sb, 256);
    const char *sid = mg_url_decode(&sb, sid_raw, false) == MG_E_OK ? mg_buf_cstr(&sb) : NULL;
    json_t *doc = NULL, *policy = NULL;
    if (mg_state_write_begin(c->env->state) != MG_E_OK) {
        s_err(c, 500, "ServiceException", "The policy could not be stored.");
        goto out;
    }
    doc = s_load_for_update(c, t);
    const char *ptext = json_string_value(json_object_get(doc, "Policy"));
    policy = ptext ? json_loads(ptext, 0, NULL) : NULL;
    json_t *stmts = json_object_get(policy, "Statement");
    size_t idx = (size_t)-1, i;
    json_t *s;
    json_array_foreach(stmts, i, s) {
        const char *have = json_string_value(json_object_get(s, "Sid"));
        if (sid && have && strcmp(have, sid) == 0)
            idx = i;
    }
    if (idx == (size_t)-1) {
        mg_state_write_abort(c->env->state);
        s_err(c, 404, "ResourceNotFoundException",
              "The resource you requested does not exist.");
        goto out;
    }
    struct mg_slice want_rev = s_query(c->req, "RevisionId");
    const char *have_rev = json_string_value(json_object_get(doc, "PolicyRevisionId"));
    if (want_rev.len && (have_rev == NULL || !mg_slice_eq_cstr(want_rev, have_rev))) {
        mg_state_write_abort(c->env->state);
        s_err(c, 412, "PreconditionFailedException",
              "The Revision Id provided does not match the latest Revision Id. Call the "
              "GetPolicy API to retrieve the latest Revision Id");
        goto out;
    }
    json_array_remove(stmts, idx);
    int bad = 0;
    if (json_array_size(stmts) == 0) {
        json_object_del(doc, "Policy");
    } else {
        /* never store an empty policy in place of the remaining statements */
        char *text = json_dumps(policy, JSON_COMPACT);
        bad = text == NULL || json_object_set_new(doc, "Policy", json_string(text));
        mg_free(text);
    }
    char rev[37];
    s_new_revision(rev);
    bad |= json_object_set_new(doc, "PolicyRevisionId", json_string(rev));
    if (bad) {
        mg_state_write_abort(c->env->state);
        s_nomem(c);
        goto out;
    }
    if (!s_store_policy_doc(c, t, doc))
        goto out;
    mg_http_set_status(c->x, 204);
    mg_http_send(c->x);
out:
    json_decref(policy);
    json_decref(doc);
    mg_buf_cleanup(&sb);
}

static void s_get_policy(struct mg_call *c, struct s_target *t)
{
    if (!s_authorize(c, "lambda:GetPolicy", t) || s_not_found(c, t))
        return;
    const char *p = json_string_value(json_object_get(t->doc, "Policy"));
    const char *rev = json_string_value(json_object_get(t->doc, "PolicyRevisionId"));
    if (p == NULL) {
        s_err(c, 404, "ResourceNotFoundException", "The resource you requested does not exist.");
        return;
    }
    json_t *r = json_pack("{s:s,s:s}", "Policy", p, "RevisionId", rev ? rev : "");
    s_send_json_obj(c, 200, r);
    json_decref(r);
}

/* --- Invoke ----------------------------------------------------------------------------- */

struct s_pending {
    struct mg_http_exchange *x;
    bool tail;
};

static void s_fill_error(struct mg_http_exchange *x, int status, const char *type,
                         const char *msg)
{
    mg_http_set_status(x, status);
    mg_http_add_header(x, "content-type", MG_SLICE_LIT("application/json"));
    mg_http_add_header(x, "x-amzn-errortype", mg_slice_cstr(type));
    struct mg_buf *b = mg_http_body(x);
    mg_buf_reset(b);
    if (mg_buf_append_cstr(b, "{\"Type\":\"User\",\"message\":\"") ||
        mg_buf_append_json_str(b, mg_slice_cstr(msg)) || mg_buf_append_cstr(b, "\"}"))
        mg_buf_reset(b);
}

static void s_invoke_done(void *user, const struct mg_lambda_result *r)
{
    struct s_pending *pd = user;
    struct mg_http_exchange *x = pd->x;
    switch (r->outcome) {
    case MG_LAMBDA_OK:
    case MG_LAMBDA_FUNCTION_ERROR:
    case MG_LAMBDA_TIMEOUT: {
        mg_http_set_status(x, 200);
        mg_http_add_header(x, "content-type", MG_SLICE_LIT("application/json"));
        mg_http_add_header(x, "x-amz-executed-version", MG_SLICE_LIT("$LATEST"));
        if (r->outcome != MG_LAMBDA_OK)
            mg_http_add_header(x, "x-amz-function-error", MG_SLICE_LIT("Unhandled"));
        if (pd->tail) {
            struct mg_buf b64;
            mg_buf_init(&b64, 8192);
            if (mg_base64_encode(&b64, r->log_tail) == MG_E_OK)
                mg_http_add_header(x, "x-amz-log-result", mg_buf_slice(&b64));
            mg_buf_cleanup(&b64);
        }
        struct mg_buf *b = mg_http_body(x);
        mg_buf_reset(b);
        if (mg_buf_append_slice(b, r->payload))
            s_fill_error(x, 502, "ServiceException", "The response could not be delivered.");
        break;
    }
    case MG_LAMBDA_NOT_FOUND:
        s_fill_error(x, 404, "ResourceNotFoundException", r->error_message);
        break;
    case MG_LAMBDA_THROTTLED:
        s_fill_error(x, 429, "TooManyRequestsException", "Rate Exceeded.");
        {
            /* Lambda names the limit that was hit */
            struct mg_buf *b = mg_http_body(x);
            mg_buf_reset(b);
            if (mg_buf_append_cstr(b, "{\"Type\":\"User\",\"message\":\"Rate Exceeded.\","
                                      "\"Reason\":\"ReservedFunctionConcurrentInvocationLimitExceeded\"}"))
                mg_buf_reset(b);
        }
        break;
    case MG_LAMBDA_TOO_LARGE:
        s_fill_error(x, 413, "RequestTooLargeException", r->error_message);
        break;
    case MG_LAMBDA_INTERNAL:
        s_fill_error(x, 500, "ServiceException", r->error_message);
        break;
    }
    mg_free(pd);
    mg_http_send_from_thread(x);
}

static void s_event_done(void *user, const struct mg_lambda_result *r)
{
    (void)user;
    if (r->outcome != MG_LAMBDA_OK)
        MG_LOG(MG_LOG_INFO, MG_SUB_LAMBDA, "event invocation %s of %s: %s: %s", r->request_id,
               r->function_arn ? r->function_arn : "?", r->error_type, r->error_message);
}

static void s_invoke(struct mg_call *c, struct s_target *t)
{
    if (!s_authorize(c, "lambda:InvokeFunction", t))
        return;
    struct mg_slice q = s_query(c->req, "Qualifier");
    if (q.len && !mg_slice_eq_cstr(q, "$LATEST") && !mg_slice_eq_cstr(q, "%24LATEST")) {
        s_errf(c, 404, "ResourceNotFoundException", "Function not found: %s:" MG_SLICE_FMT,
               t->arn, MG_SLICE_ARG(q));
        return;
    }
    if (s_not_found(c, t))
        return;
    const struct mg_slice *it = mg_http_header(c->req, "x-amz-invocation-type");
    const struct mg_slice *lt = mg_http_header(c->req, "x-amz-log-type");
    const struct mg_slice *cc = mg_http_header(c->req, "x-amz-client-context");
    bool event = it && mg_slice_eq_cstr(*it, "Event");
    bool dry = it && mg_slice_eq_cstr(*it, "DryRun");
    if (it && !event && !dry && !mg_slice_eq_cstr(*it, "RequestResponse")) {
        s_err(c, 400, "InvalidParameterValueException",
              "1 validation error detected: Value at 'invocationType' failed to satisfy "
              "constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]");
        return;
    }
    struct mg_slice payload = c->req->body;
    size_t limit = event ? MG_LAMBDA_EVENT_PAYLOAD_MAX : MG_LAMBDA_PAYLOAD_MAX;
    if (payload.len > limit) {
        s_errf(c, 413, "RequestTooLargeException",
               "Request must be smaller than %zu bytes for the InvokeFunction operation", limit);
        return;
    }
    if (payload.len == 0)
        payload = MG_SLICE_LIT("{}");
    json_error_t je;
    json_t *pj = json_loadb((const char *)payload.ptr, payload.len,
                            JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (pj == NULL) {
        s_errf(c, 400, "InvalidRequestContentException",
               "Could not parse request body into json: %s", je.text);
        return;
    }
    json_decref(pj);
    struct mg_buf ctx;
    mg_buf_init(&ctx, 8192);
    if (cc && cc->len) {
        json_t *cj = NULL;
        if (cc->len > 3583 || mg_base64_decode(&ctx, *cc) != MG_E_OK ||
            (cj = json_loadb((const char *)ctx.ptr, ctx.len, 0, NULL)) == NULL ||
            !json_is_object(cj)) {
            json_decref(cj);
            mg_buf_cleanup(&ctx);
            s_err(c, 400, "InvalidRequestContentException",
                  "Client context must be a valid Base64-encoded JSON object.");
            return;
        }
        json_decref(cj);
    }
    if (dry) {
        mg_buf_cleanup(&ctx);
        mg_http_set_status(c->x, 204);
        mg_http_send(c->x);
        return;
    }
    struct mg_lambda *L = ((struct mg_lambda *)c->service);
    struct s_pending *pd = event ? NULL : mg_calloc(1, sizeof(*pd));
    struct mg_lambda_inv *inv =
        (event || pd) ? mg_lambda_inv_new(t->account, t->name, payload, mg_buf_slice(&ctx),
                                          event ? s_event_done : s_invoke_done, pd)
                      : NULL;
    mg_buf_cleanup(&ctx);
    if (inv == NULL || L == NULL) {
        mg_free(pd);
        mg_lambda_inv_free(inv);
        s_err(c, 500, "ServiceException", "out of memory");
        return;
    }
    if (event) {
        mg_lambda_submit(L, inv);
        mg_http_set_status(c->x, 202);
        mg_http_send(c->x);
        return;
    }
    pd->x = c->x;
    pd->tail = lt && mg_slice_eq_cstr(*lt, "Tail");
    mg_lambda_submit(L, inv); /* answered later by s_invoke_done */
}

/* --- routing ---------------------------------------------------------------------------- */

void mg_lambda_handle(struct mg_call *c)
{
    static const char pre[] = "/2015-03-31/functions";
    struct mg_slice path = c->req->path, m = c->req->method;
    if (((struct mg_lambda *)c->service) == NULL) {
        s_err(c, 503, "ServiceException", "The Lambda service is not running.");
        return;
    }
    if (!mg_slice_starts_with(path, pre))
        goto unknown;
    struct mg_slice rest = mg_slice_sub(path, sizeof(pre) - 1, path.len);
    if (rest.len == 0 || mg_slice_eq_cstr(rest, "/")) {
        if (mg_slice_eq_cstr(m, "POST"))
            s_create(c);
        else if (mg_slice_eq_cstr(m, "GET"))
            s_list(c);
        else
            goto unknown;
        return;
    }
    if (rest.ptr[0] != '/')
        goto unknown;
    rest = mg_slice_sub(rest, 1, rest.len - 1);
    struct mg_slice name, sub = rest;
    mg_slice_split(&sub, '/', &name);
    if (sub.len && !mg_slice_eq_cstr(sub, "configuration") && !mg_slice_eq_cstr(sub, "code") &&
        !mg_slice_eq_cstr(sub, "invocations") && !mg_slice_eq_cstr(sub, "policy") &&
        !mg_slice_starts_with(sub, "policy/"))
        goto unknown; /* before the function is looked up: an unsupported operation says so */
    struct s_target t;
    if (!s_resolve(c, name, &t))
        return;
    if (sub.len == 0) {
        if (mg_slice_eq_cstr(m, "GET"))
            s_get(c, &t, false);
        else if (mg_slice_eq_cstr(m, "DELETE"))
            s_delete(c, &t);
        else
            goto unknown;
    } else if (mg_slice_eq_cstr(sub, "configuration")) {
        if (mg_slice_eq_cstr(m, "GET"))
            s_get(c, &t, true);
        else if (mg_slice_eq_cstr(m, "PUT"))
            s_update(c, &t, false);
        else
            goto unknown;
    } else if (mg_slice_eq_cstr(sub, "code") && mg_slice_eq_cstr(m, "PUT")) {
        s_update(c, &t, true);
    } else if (mg_slice_eq_cstr(sub, "invocations") && mg_slice_eq_cstr(m, "POST")) {
        s_invoke(c, &t);
    } else if (mg_slice_eq_cstr(sub, "policy")) {
        if (mg_slice_eq_cstr(m, "POST"))
            s_add_permission(c, &t);
        else if (mg_slice_eq_cstr(m, "GET"))
            s_get_policy(c, &t);
        else
            goto unknown;
    } else if (mg_slice_starts_with(sub, "policy/") && mg_slice_eq_cstr(m, "DELETE")) {
        s_remove_permission(c, &t, mg_slice_sub(sub, 7, sub.len - 7));
    } else {
        goto unknown;
    }
    return;
unknown:
    mg_app_unsupported_rest(c, MG_APP_SVC_LAMBDA, NULL);
}
