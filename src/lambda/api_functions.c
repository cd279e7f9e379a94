/* The Lambda API's functions: CreateFunction, GetFunction(Configuration), ListFunctions,
 * DeleteFunction, UpdateFunctionCode and UpdateFunctionConfiguration, with the rules of Lambda
 * that its model does not express (runtimes, the execution role, environment and tags). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "lambda/api_internal.h"

static void s_last_modified(char out[40])
{
    char iso[25];
    mg_time_iso8601_ms(mg_now_ms(), iso); /* YYYY-MM-DDTHH:MM:SS.mmmZ */
    snprintf(out, 40, "%.23s+0000", iso);
}

/* --- Lambda's rules beyond the model ----------------------------------------------------- */

static const char *const s_deprecated[] = {
    "python2.7",  "python3.6",  "python3.7",  "python3.8",  "nodejs",     "nodejs4.3", "nodejs6.10",
    "nodejs8.10", "nodejs10.x", "nodejs12.x", "nodejs14.x", "nodejs16.x", "provided",  NULL,
};

static const char *const s_other_runtimes[] = {
    "java8",   "java8.al2", "java11",  "java17",  "java21", "dotnet6",
    "dotnet8", "ruby3.2",   "ruby3.3", "ruby3.4", NULL,
};

static bool s_check_runtime(struct mg_call *c, const char *rt)
{
    if (mg_lambda_runtime_known(rt, NULL))
        return true;
    for (size_t i = 0; s_deprecated[i]; i++) {
        if (strcmp(rt, s_deprecated[i]) == 0) {
            mg_aws_reply_error(
                c->reply, 400, "InvalidParameterValueException",
                "The runtime parameter of %s is no longer supported for creating or updating "
                "AWS Lambda functions. We recommend you use a supported runtime while creating "
                "or updating functions.",
                rt);
            return false;
        }
    }
    for (size_t i = 0; s_other_runtimes[i]; i++) {
        if (strcmp(rt, s_other_runtimes[i]) == 0) {
            mg_aws_reply_error(
                c->reply, 400, "InvalidParameterValueException",
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
    mg_aws_reply_error(
        c->reply, 400, "InvalidParameterValueException",
        "Value %.128s at 'runtime' failed to satisfy constraint: Member must satisfy enum value "
        "set: [%s] or be a valid ARN",
        rt, list);
    return false;
}

/* The execution role (its pattern checked by the model) must exist and trust
 * lambda.amazonaws.com. */
static bool s_check_role(struct mg_call *c, const char *role)
{
    static const char msg[] = "The role defined for the function cannot be assumed by Lambda.";
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
        mg_aws_reply_error(c->reply, 400, "InvalidParameterValueException", "%s", msg);
        return false;
    }
    return true;
}

static const char *const s_reserved_env[] = {
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
    NULL,
};

/* Lambda's bounds above the model's (which says Timeout >= 1 and MemorySize 128..32768), in the
 * validator's words; checked before the runtime and the role, as the model's constraints are. */
static bool s_check_bounds(struct mg_call *c, const json_t *body)
{
    json_int_t t = json_integer_value(json_object_get(body, "Timeout"));
    if (t > 900) {
        mg_aws_reply_error(c->reply, 400, "ValidationException",
                           "1 validation error detected: Value '%lld' at 'timeout' failed to "
                           "satisfy constraint: Member must have value less than or equal to 900",
                           (long long)t);
        return false;
    }
    json_int_t m = json_integer_value(json_object_get(body, "MemorySize"));
    if (m > 10240) {
        mg_aws_reply_error(c->reply, 400, "ValidationException",
                           "1 validation error detected: Value '%lld' at 'memorySize' failed to "
                           "satisfy constraint: Member must have value less than or equal to "
                           "10240",
                           (long long)m);
        return false;
    }
    return true;
}

/* Checks and copies the settable configuration members of body (c->input, validated by the
 * model but for Runtime; s_check_bounds passed) into doc. */
static bool s_apply_config(struct mg_call *c, const json_t *body, json_t *doc, bool create)
{
    json_t *v;
    if ((v = json_object_get(body, "Runtime")) || create) {
        if (!json_is_string(v)) {
            mg_aws_reply_error(
                c->reply, 400, "InvalidParameterValueException", "%s",
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
            mg_aws_reply_error(
                c->reply, 400, "InvalidParameterValueException", "%s",
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
    static const char *const copied[] = {"Timeout", "MemorySize", "Description"};
    for (size_t i = 0; i < sizeof(copied) / sizeof(copied[0]); i++)
        if ((v = json_object_get(body, copied[i])) && json_object_set(doc, copied[i], v)) {
            mg_lambda_api_nomem(c);
            return false;
        }
    if ((v = json_object_get(body, "Environment"))) {
        json_t *vars = json_object_get(v, "Variables");
        const char *k;
        json_t *val;
        char reserved[512] = "";
        size_t o = 0, total = 0;
        json_object_foreach(vars, k, val)
        {
            total += strlen(k) + strlen(json_string_value(val));
            for (size_t i = 0; s_reserved_env[i]; i++)
                if (strcmp(k, s_reserved_env[i]) == 0 && o < sizeof(reserved))
                    o += (size_t)snprintf(reserved + o, sizeof(reserved) - o, "%s%s", o ? ", " : "",
                                          k);
        }
        if (o) {
            mg_aws_reply_error(
                c->reply, 400, "InvalidParameterValueException",
                "Lambda was unable to configure your environment variables because the "
                "environment variables you have provided contains reserved keys that are "
                "currently not supported for modification. Reserved keys used in this request: "
                "%s",
                reserved);
            return false;
        }
        if (total > 4096) {
            mg_aws_reply_error(
                c->reply, 400, "InvalidParameterValueException", "%s",
                "Lambda was unable to configure your environment variables because the "
                "environment variables you have provided exceeded the 4KB limit.");
            return false;
        }
        json_t *env = json_object();
        if (json_object_set_new(env, "Variables", vars ? json_deep_copy(vars) : json_object()) ||
            json_object_set_new(doc, "Environment", env)) {
            mg_lambda_api_nomem(c);
            return false;
        }
    }
    return true;
}

/* --- code ------------------------------------------------------------------------------- */

static const char s_storage_msg[] = "Code storage limit exceeded.";

/* Decodes Code.ZipFile / ZipFile and checks it (codestore.c) into code; fills CodeSha256,
 * CodeSize and CodeUnzippedSize. The caller stores it with the document (s_commit) and calls
 * mg_lambda_code_cleanup, whatever happened. */
static bool s_check_code(struct mg_call *c, const json_t *zipfile, const char *account,
                         const char *name, json_t *doc, struct mg_lambda_code *code)
{
    const char *b64 = json_string_value(zipfile);
    mg_buf_init(&code->zip, 0);
    if (b64 == NULL) {
        mg_aws_reply_error(
            c->reply, 400, "InvalidParameterValueException", "%s",
            "Please provide a source for function code (ZipFile). mcpgate does not read code "
            "from S3 or container images.");
        return false;
    }
    char msg[128] = "";
    switch (mg_lambda_code_check(c->service, c->snap, account, name, mg_slice_cstr(b64), code, msg,
                                 sizeof(msg))) {
    case MG_LAMBDA_CODE_OK: break;
    case MG_LAMBDA_CODE_TOO_LARGE:
        mg_aws_reply_error(
            c->reply, 413, "RequestEntityTooLargeException", "%s",
            "Request must be smaller than 70167211 bytes for the CreateFunction operation");
        return false;
    case MG_LAMBDA_CODE_UNZIPPED_TOO_LARGE:
        MG_LOG_REQ(MG_LOG_INFO, MG_SUB_LAMBDA, c->req->request_id, "zip refused: %s", msg);
        mg_aws_reply_error(c->reply, 400, "InvalidParameterValueException", "%s",
                           "Unzipped size must be smaller than 262144000 bytes");
        return false;
    case MG_LAMBDA_CODE_INVALID_ZIP:
        MG_LOG_REQ(MG_LOG_INFO, MG_SUB_LAMBDA, c->req->request_id, "zip refused: %s", msg);
        mg_aws_reply_error(
            c->reply, 400, "InvalidParameterValueException", "%s",
            "Could not unzip uploaded file. Please check your file, then try to upload "
            "again.");
        return false;
    case MG_LAMBDA_CODE_STORAGE_EXCEEDED:
        mg_aws_reply_error(c->reply, 400, "CodeStorageExceededException", "%s", s_storage_msg);
        return false;
    case MG_LAMBDA_CODE_IO:
        mg_aws_reply_error(c->reply, 500, "ServiceException", "The code could not be stored.");
        return false;
    }
    bool ok = (json_object_set_new(doc, "CodeSha256", json_string(code->sha256)) |
               json_object_set_new(doc, "CodeSize", json_integer((json_int_t)code->size)) |
               json_object_set_new(doc, "CodeUnzippedSize",
                                   json_integer((json_int_t)code->unzipped_size))) == 0;
    if (!ok)
        mg_aws_reply_error(c->reply, 500, "ServiceException", "The code could not be stored.");
    return ok;
}

/* The stored function's code version (hex), read inside the caller's transaction; "" when the
 * function or its code is not there. */
static void s_stored_code(struct mg_call *c, const char *account, const char *name, char hex[65])
{
    hex[0] = 0;
    struct mg_buf b;
    mg_buf_init(&b, MG_STORE_DOC_MAX);
    json_t *cur = mg_store_get(c->env->store, "function", account, name, &b) == MG_E_OK
                      ? json_loadb((const char *)b.ptr, b.len, 0, NULL)
                      : NULL;
    mg_buf_cleanup(&b);
    if (!mg_lambda_sha_hex(json_string_value(json_object_get(cur, "CodeSha256")), hex))
        hex[0] = 0;
    json_decref(cur);
}

/* --- store writes ----------------------------------------------------------------------- */

/* Writes the function's document, with code (NULL: the code does not change) and its rows in
 * the same transaction; the code the document named before goes when nothing names it any more. */
static bool s_commit(struct mg_call *c, const char *account, const char *name, json_t *doc,
                     bool insert, const struct mg_lambda_code *code)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    if (text == NULL) {
        mg_aws_reply_error(c->reply, 500, "ServiceException", "out of memory");
        return false;
    }
    char old[65] = "";
    enum mg_err e = mg_state_write_begin(c->env->state);
    if (!e && code) {
        /* the storage check again, under the write lock: concurrent uploads cannot both pass */
        struct mg_snapshot *cur = mg_state_acquire(c->env->state);
        bool ok = mg_lambda_code_fits(c->service, cur, account, name,
                                      code->size + code->unzipped_size);
        mg_snapshot_unref(cur);
        if (!ok) {
            mg_free(text);
            mg_state_write_abort(c->env->state);
            mg_aws_reply_error(c->reply, 400, "CodeStorageExceededException", "%s", s_storage_msg);
            return false;
        }
        if (!insert)
            s_stored_code(c, account, name, old);
        e = mg_lambda_blob_write(c->env->store, account, code->hex, mg_buf_slice(&code->zip));
    }
    if (!e)
        e = insert ? mg_store_insert(c->env->store, "function", account, name, mg_slice_cstr(text))
                   : mg_store_put(c->env->store, "function", account, name, mg_slice_cstr(text));
    mg_free(text);
    if (!e && code && old[0] && strcmp(old, code->hex) != 0)
        e = mg_lambda_blob_release(c->env->store, account, old);
    struct mg_errinfo ei = {0};
    if (e == MG_E_CONFLICT) {
        mg_state_write_abort(c->env->state);
        mg_aws_reply_error(c->reply, 409, "ResourceConflictException", "Function already exist: %s",
                           name);
        return false;
    }
    if (e || mg_state_write_commit(c->env->state, &ei) != MG_E_OK) {
        if (e)
            mg_state_write_abort(c->env->state);
        mg_aws_reply_error(c->reply, 500, "ServiceException", "The function could not be stored.");
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
    return mg_lambda_api_authorize_extra(c, "iam:PassRole", &rr, &ex);
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

/* A success with body j (taken; NULL: an allocation failed). */
static void s_reply(struct mg_call *c, int status, json_t *j)
{
    if (j == NULL)
        mg_lambda_api_nomem(c);
    else
        mg_aws_reply_json(c->reply, status, j);
}

void mg_lambda_api_create_function(struct mg_call *c)
{
    const json_t *body = c->input;
    json_t *doc = NULL;
    struct mg_lambda_code code;
    mg_buf_init(&code.zip, 0);
    struct mg_lambda_target t;
    if (!mg_lambda_api_target(c, false, &t))
        return;
    if (!mg_lambda_api_authorize(c, "lambda:CreateFunction", &t))
        return;
    if (strcmp(t.account, c->principal.account) != 0) {
        mg_aws_reply_error(c->reply, 403, "AccessDeniedException", "%s",
                           "Functions can only be created in the caller's own account.");
        return;
    }
    if (!s_check_bounds(c, body))
        return;
    const char *role = mg_lambda_in_str(c, "Role");
    if (role && !s_pass_role(c, role))
        return;
    const char *pt = mg_lambda_in_str(c, "PackageType");
    if (pt && strcmp(pt, "Zip") != 0) {
        mg_aws_reply_error(c->reply, 400, "InvalidParameterValueException", "%s",
                           "mcpgate runs Zip functions only (PackageType Image is not "
                           "supported).");
        return;
    }
    if (t.doc) {
        mg_aws_reply_error(c->reply, 409, "ResourceConflictException", "Function already exist: %s",
                           t.name);
        return;
    }
    doc = json_object();
    int bad = json_object_set_new(doc, "FunctionName", json_string(t.name));
    bad |= json_object_set_new(doc, "FunctionArn", json_string(t.arn));
    bad |= json_object_set_new(doc, "Timeout", json_integer(3));
    bad |= json_object_set_new(doc, "MemorySize", json_integer(128));
    bad |= json_object_set_new(doc, "Description", json_string(""));
    if (bad) {
        mg_lambda_api_nomem(c);
        goto out;
    }
    if (!s_apply_config(c, body, doc, true))
        goto out;
    json_t *tags = json_object_get(body, "Tags");
    if (json_object_size(tags) > 50) {
        mg_aws_reply_error(c->reply, 400, "InvalidParameterValueException", "%s",
                           "Tags must be a map of at most 50 tags.");
        goto out;
    }
    const char *tk;
    json_t *tv;
    json_object_foreach(tags, tk, tv)
    {
        if (!s_tag_ok(tk, tv)) {
            mg_aws_reply_error(c->reply, 400, "InvalidParameterValueException", "%s",
                               "A tag key must be 1 to 128 characters and a tag value a string "
                               "of at most 256 characters.");
            goto out;
        }
    }
    if (!s_check_code(c, json_object_get(json_object_get(body, "Code"), "ZipFile"), t.account,
                      t.name, doc, &code))
        goto out;
    char rev[37], lm[40];
    mg_lambda_api_new_revision(rev);
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
                               json_array_size(arch) == 1 ? json_deep_copy(arch)
                                                          : json_pack("[s]", "x86_64"));
    bad |= json_object_set_new(doc, "TracingConfig", json_pack("{s:s}", "Mode", "PassThrough"));
    bad |= json_object_set_new(doc, "EphemeralStorage", json_pack("{s:i}", "Size", 512));
    bad |= json_object_set_new(doc, "SnapStart",
                               json_pack("{s:s,s:s}", "ApplyOn", "None", "OptimizationStatus",
                                         "Off"));
    bad |= json_object_set_new(doc, "LoggingConfig",
                               json_pack("{s:s,s:s+}", "LogFormat", "Text", "LogGroup",
                                         "/aws/lambda/", t.name));
    bad |= json_object_set_new(doc, "Tags", tags ? json_deep_copy(tags) : json_object());
    if (bad) {
        mg_lambda_api_nomem(c);
        goto out;
    }
    if (!s_commit(c, t.account, t.name, doc, true, &code))
        goto out;
    mg_lambda_queue_activation(c->service, t.account, t.name,
                               json_string_value(json_object_get(doc, "CodeSha256")));
    s_reply(c, 201, mg_lambda_api_public_conf(doc));
out:
    mg_lambda_code_cleanup(&code);
    json_decref(doc);
}

static void s_get(struct mg_call *c, bool config_only)
{
    struct mg_lambda_target t;
    if (!mg_lambda_api_target(c, true, &t) ||
        !mg_lambda_api_authorize(
            c, config_only ? "lambda:GetFunctionConfiguration" : "lambda:GetFunction", &t) ||
        mg_lambda_api_not_found(c, &t))
        return;
    json_t *conf = mg_lambda_api_public_conf(t.doc);
    if (config_only) {
        s_reply(c, 200, conf);
        return;
    }
    json_t *tags = json_object_get(t.doc, "Tags");
    /* "o" takes conf even when json_pack fails; the location is built by jansson, unbounded */
    json_t *r = json_pack("{s:o,s:{s:s,s:s+++++}}", "Configuration", conf, "Code", "RepositoryType",
                          "S3", "Location", c->env->public_url, "/_mcpgate/lambda/", t.account, "/",
                          t.name, "/code.zip");
    if (r && tags && json_object_size(tags) && json_object_set(r, "Tags", tags)) {
        json_decref(r);
        r = NULL;
    }
    s_reply(c, 200, r);
}

void mg_lambda_api_get_function(struct mg_call *c)
{
    s_get(c, false);
}

void mg_lambda_api_get_function_configuration(struct mg_call *c)
{
    s_get(c, true);
}

void mg_lambda_api_list_functions(struct mg_call *c)
{
    struct mg_lambda_target t;
    memset(&t, 0, sizeof(t));
    snprintf(t.arn, sizeof(t.arn), "*");
    mg_lambda_strlcpy(t.account, sizeof(t.account), c->principal.account);
    if (!mg_lambda_api_authorize(c, "lambda:ListFunctions", &t))
        return;
    const char *marker = mg_lambda_in_str(c, "Marker");
    if (marker && marker[0] == 0)
        marker = NULL;
    json_t *mi = json_object_get(c->input, "MaxItems"); /* 1..10000 (the model) */
    size_t max = mi ? (size_t)json_integer_value(mi) : 50;
    size_t n = 0;
    const struct mg_snapshot_doc *d = mg_snapshot_range(c->snap, "function", c->principal.account,
                                                        &n);
    json_t *arr = json_array();
    const char *next = NULL;
    for (size_t i = 0; arr && i < n; i++) {
        if (marker && strcmp(d[i].key, marker) <= 0)
            continue;
        if (json_array_size(arr) == max) {
            next = json_string_value(json_object_get(json_array_get(arr, max - 1), "FunctionName"));
            break;
        }
        if (json_array_append_new(arr, mg_lambda_api_public_conf(d[i].doc))) {
            json_decref(arr);
            arr = NULL;
        }
    }
    json_t *r = json_pack("{s:o}", "Functions", arr);
    if (r && next && json_object_set_new(r, "NextMarker", json_string(next))) {
        json_decref(r);
        r = NULL;
    }
    s_reply(c, 200, r);
}

void mg_lambda_api_delete_function(struct mg_call *c)
{
    struct mg_lambda_target t;
    if (!mg_lambda_api_target(c, true, &t) ||
        !mg_lambda_api_authorize(c, "lambda:DeleteFunction", &t) || mg_lambda_api_not_found(c, &t))
        return;
    if (t.qualifier[0]) {
        mg_aws_reply_error(c->reply, 400, "InvalidParameterValueException", "%s",
                           "$LATEST version cannot be deleted without deleting the function.");
        return;
    }
    char old[65] = "";
    enum mg_err e = mg_state_write_begin(c->env->state);
    if (!e) {
        s_stored_code(c, t.account, t.name, old);
        e = mg_store_delete(c->env->store, "function", t.account, t.name);
    }
    /* the code goes with the last function of the account that names it */
    if (!e && old[0])
        e = mg_lambda_blob_release(c->env->store, t.account, old);
    struct mg_errinfo ei = {0};
    if (e == MG_E_NOT_FOUND) {
        mg_state_write_abort(c->env->state);
        mg_lambda_api_not_found(c, &(struct mg_lambda_target){.doc = NULL});
        return;
    }
    if (e || mg_state_write_commit(c->env->state, &ei)) {
        if (e)
            mg_state_write_abort(c->env->state);
        mg_aws_reply_error(c->reply, 500, "ServiceException", "%s",
                           "The function could not be deleted.");
        return;
    }
    mg_lambda_forget(c->service, t.account, t.name);
    mg_lambda_queue_sweep(c->service, t.account);
    mg_aws_reply_json(c->reply, 204, NULL);
}

static void s_update(struct mg_call *c, bool code)
{
    const json_t *body = c->input;
    struct mg_lambda_target t;
    if (!mg_lambda_api_target(c, false, &t) ||
        !mg_lambda_api_authorize(
            c, code ? "lambda:UpdateFunctionCode" : "lambda:UpdateFunctionConfiguration", &t) ||
        mg_lambda_api_not_found(c, &t))
        return;
    json_t *doc = json_deep_copy(t.doc);
    struct mg_lambda_code pkg;
    mg_buf_init(&pkg.zip, 0);
    int bad = 0;
    if (doc == NULL) {
        mg_lambda_api_nomem(c);
        goto out;
    }
    if (!mg_lambda_api_check_revision(c, mg_lambda_in_str(c, "RevisionId"), doc, "RevisionId"))
        goto out;
    if (code) {
        if (!s_check_code(c, json_object_get(body, "ZipFile"), t.account, t.name, doc, &pkg))
            goto out;
        bad |= json_object_set_new(doc, "LastUpdateStatus", json_string("InProgress"));
        bad |= json_object_set_new(doc, "LastUpdateStatusReason",
                                   json_string("The function is being created."));
        bad |= json_object_set_new(doc, "LastUpdateStatusReasonCode", json_string("Creating"));
    } else {
        if (!s_check_bounds(c, body))
            goto out;
        const char *role = mg_lambda_in_str(c, "Role");
        if (role && !s_pass_role(c, role))
            goto out;
        if (!s_apply_config(c, body, doc, false))
            goto out;
        bad |= json_object_set_new(doc, "LastUpdateStatus", json_string("Successful"));
    }
    char rev[37], lm[40];
    mg_lambda_api_new_revision(rev);
    s_last_modified(lm);
    bad |= json_object_set_new(doc, "RevisionId", json_string(rev));
    bad |= json_object_set_new(doc, "LastModified", json_string(lm));
    if (bad) {
        mg_lambda_api_nomem(c);
        goto out;
    }
    /* keep what AddPermission wrote meanwhile: re-read under the write lock */
    if (mg_state_write_begin(c->env->state) != MG_E_OK) {
        mg_aws_reply_error(c->reply, 500, "ServiceException", "%s",
                           "The function could not be stored.");
        goto out;
    }
    json_t *cur = mg_lambda_api_load_for_update(c, &t);
    if (cur == NULL) {
        mg_state_write_abort(c->env->state);
        mg_lambda_api_not_found(c, &(struct mg_lambda_target){.doc = NULL});
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
        mg_lambda_api_nomem(c);
        goto out;
    }
    if (!s_commit(c, t.account, t.name, doc, false, code ? &pkg : NULL))
        goto out;
    if (code)
        mg_lambda_queue_activation(c->service, t.account, t.name,
                                   json_string_value(json_object_get(doc, "CodeSha256")));
    s_reply(c, 200, mg_lambda_api_public_conf(doc));
out:
    mg_lambda_code_cleanup(&pkg);
    json_decref(doc);
}

void mg_lambda_api_update_function_code(struct mg_call *c)
{
    s_update(c, true);
}

void mg_lambda_api_update_function_configuration(struct mg_call *c)
{
    s_update(c, false);
}
