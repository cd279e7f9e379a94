/* src/iam/api_internal.h: shared helpers of the IAM API handlers (api*.c) and STS (sts.c):
 * parameter validation with AWS's ValidationError wording, XML output, errors, writes. */
#ifndef MG_IAM_API_INTERNAL_H
#define MG_IAM_API_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>

#include "call/authz.h"
#include "iam/iam.h"
#include "base/slice.h"

#define MG_IAM_NAME_CAP 129 /* user, role and policy names: at most 64 or 128 characters */
#define MG_IAM_PATH_CAP 513 /* paths: at most 512 characters */
#define MG_IAM_ARN_CAP 1100
#define MG_IAM_DOC_MAX 131072u
#define MG_IAM_MAX_TAGS 50

/* ---- errors ------------------------------------------------------------------------------ */

/* Answers an error in the call's protocol (IAM or STS) into c->reply and returns false. */
bool mg_iam_fail(struct mg_call *c, int status, const char *code, const char *fmt, ...)
    MG_PRINTF(4, 5);
/* ValidationError (400). */
bool mg_iam_invalid(struct mg_call *c, const char *fmt, ...) MG_PRINTF(2, 3);
/* "1 validation error detected: Value null at 'member' failed to satisfy constraint: Member
 * must not be null" */
bool mg_iam_missing(struct mg_call *c, const char *member);
/* Maps a mg_policy_parse failure to MalformedPolicyDocument / LimitExceeded / 500. */
bool mg_iam_policy_error(struct mg_call *c, enum mg_err e, const struct mg_errinfo *ei);
bool mg_iam_internal(struct mg_call *c);

/* ---- parameters -------------------------------------------------------------------------- */

/* The parameters: members of c->input (the operation's input, validated against the model by
 * mg_call_serve) under their model names ("RoleName", "Tags", "MaxItems"). Each returns false
 * (or NULL) after answering an error; member is the name in messages ("roleName"). */

/* Whether the input has the member. */
bool mg_iam_has(const struct mg_call *c, const char *name);
/* A name (user, role, policy) into out (cap MG_IAM_NAME_CAP); *present tells whether it was
 * given (may be NULL). */
bool mg_iam_name_param(struct mg_call *c, const char *name, const char *member, size_t max,
                       bool required, char *out, bool *present);
/* A path into out (MG_IAM_PATH_CAP); absent -> "/". */
bool mg_iam_path_param(struct mg_call *c, const char *name, const char *member, char *out);
/* A string of at most max characters into out (cap bytes); absent -> "". */
bool mg_iam_str_param(struct mg_call *c, const char *name, const char *member, size_t max,
                      bool required, char *out, size_t cap);
/* A policy document (heap copy, mg_free), NULL after answering an error (or when absent and not
 * required, with *absent set). */
char *mg_iam_doc_param(struct mg_call *c, const char *name, const char *member, bool required,
                       bool *absent);
/* An integer in [min, max]; absent -> dflt. */
bool mg_iam_int_param(struct mg_call *c, const char *name, const char *member, int64_t min,
                      int64_t max, int64_t dflt, int64_t *out);
/* A boolean; absent -> dflt. */
bool mg_iam_bool_param(struct mg_call *c, const char *name, bool dflt, bool *out);
/* Tags [{"Key","Value"}] as a new JSON array (a key given twice: the last value); empty when
 * absent. */
json_t *mg_iam_tags_param(struct mg_call *c, const char *name);
/* A list of strings (at most max_items) as a new JSON array; empty when absent. */
json_t *mg_iam_list_param(struct mg_call *c, const char *name, const char *member,
                          size_t max_items);

/* Marker / MaxItems. */
struct mg_iam_page {
    int64_t max_items;
    char marker[256]; /* decoded marker: the key to start at, or "" */
};
bool mg_iam_page_params(struct mg_call *c, struct mg_iam_page *pg);
/* Writes IsTruncated and, when truncated, Marker (encoding next_key). */
MG_MUST_USE enum mg_err mg_iam_page_end(struct mg_buf *b, bool truncated, const char *next_key);

/* IAM names (users, roles, managed policies, inline policies) are unique whatever their letter
 * case, and a name given in another case names the same entity, as on AWS. The document of
 * `kind` in `account` whose key is `name`, or else equals it ignoring ASCII case; NULL if none. */
const struct mg_snapshot_doc *mg_iam_find_name(const struct mg_snapshot *snap, const char *kind,
                                               const char *account, const char *name);
/* A user or role ("user" / "role") of the caller's account in the snapshot, or NULL; arn gets its
 * ARN (from its document, or as it would be with path "/" when it does not exist). When found,
 * name (cap MG_IAM_NAME_CAP) is rewritten to the name as stored (a name given in another case
 * resolves to the entity). */
const json_t *mg_iam_entity_find(struct mg_call *c, const char *kind, char *name, char *arn,
                                 size_t cap);
/* <PermissionsBoundary> of a user or role document, when it has one. */
MG_MUST_USE enum mg_err mg_iam_boundary_xml(struct mg_buf *b, int indent, const json_t *doc);

/* ListRoles / ListUsers: the entities of one kind ("role", "user") under PathPrefix, one page,
 * each written by xml(b, indent, "member", doc, false) inside <container>. */
typedef enum mg_err (*mg_iam_entity_xml_fn)(struct mg_buf *b, int indent, const char *el,
                                            const json_t *doc, bool full);
void mg_iam_list_entities(struct mg_call *c, const char *kind, const char *action,
                          const char *container, mg_iam_entity_xml_fn xml);

/* ---- output ------------------------------------------------------------------------------ */

/* <name>escaped value</name> on its own line, indented by `indent` spaces. */
MG_MUST_USE enum mg_err mg_iam_xml(struct mg_buf *b, int indent, const char *name,
                                   const char *value);
/* The same with the value URL-encoded as IAM returns policy documents. */
MG_MUST_USE enum mg_err mg_iam_xml_doc(struct mg_buf *b, int indent, const char *name,
                                       const char *doc);
/* <Tags><member><Key/><Value/></member>...</Tags> (nothing when empty). */
MG_MUST_USE enum mg_err mg_iam_xml_tags(struct mg_buf *b, int indent, const json_t *tags);
/* Answers the response with inner (may be empty: no Result element) into c->reply. */
void mg_iam_send(struct mg_call *c, const char *action, const struct mg_buf *inner);

/* ---- state -------------------------------------------------------------------------------- */

/* Takes the write lock and returns the current snapshot (which, under the lock, matches the
 * store); NULL after sending an error. */
struct mg_snapshot *mg_iam_write_begin(struct mg_call *c);
void mg_iam_write_abort(struct mg_call *c, struct mg_snapshot *snap);
/* Commits; false after sending an error. Releases snap either way. */
bool mg_iam_write_commit(struct mg_call *c, struct mg_snapshot *snap);
/* A deep copy of a document of the snapshot, or NULL. */
json_t *mg_iam_load(const struct mg_snapshot *snap, const char *kind, const char *account,
                    const char *key);
MG_MUST_USE enum mg_err mg_iam_save(struct mg_call *c, const char *kind, const char *account,
                                    const char *key, const json_t *doc);

/* NoSuchEntity "The role with name X cannot be found." (kind "role" / "user"). */
bool mg_iam_no_entity(struct mg_call *c, const char *kind, const char *name);
/* Read-modify-write of a role or user of the caller's account under the write lock: fn edits
 * doc (returns false after sending an error, which aborts). On success the stored document is
 * returned in *out_doc (new reference; out_doc may be NULL) and the caller answers. */
typedef bool (*mg_iam_modify_fn)(struct mg_call *c, json_t *doc, const struct mg_snapshot *snap,
                                 void *arg);
bool mg_iam_modify(struct mg_call *c, const char *kind, const char *name, mg_iam_modify_fn fn,
                   void *arg, json_t **out_doc);

/* ---- authorization ------------------------------------------------------------------------ */

/* Authorizes `action` on `arn` (tags: the resource's tags or NULL; request_tags: aws:RequestTag
 * and aws:TagKeys from [{"Key","Value"}] (entries without Value add to aws:TagKeys only), or NULL; extra_key/extra_value: one more service condition key, or NULL). */
bool mg_iam_authz(struct mg_call *c, const char *action, const char *arn, const json_t *tags,
                  const json_t *request_tags, const char *extra_key, const char *extra_value);

/* ---- helpers ------------------------------------------------------------------------------- */

bool mg_iam_valid_name(struct mg_slice s, size_t max);
void mg_iam_now(char out[21]);
/* The account that owns what the caller acts on. */
const char *mg_iam_account(const struct mg_call *c);
/* Validates a policy document of a kind; false after sending an error. */
bool mg_iam_check_policy(struct mg_call *c, const char *doc, enum mg_policy_kind kind,
                         size_t max_chars);
/* Whether arn names an attachable policy for `account` (AWS managed or customer managed in it). */
bool mg_iam_policy_exists(const struct mg_snapshot *snap, const char *account, const char *arn);
/* The snapshot document of a customer managed policy by ARN, or NULL. */
const struct mg_snapshot_doc *mg_iam_customer_policy(const struct mg_snapshot *snap,
                                                     const char *arn);

/* Operation handlers (mg_call_op_fn: they read c->input and fill c->reply). */
void mg_iam_op_create_role(struct mg_call *c);
void mg_iam_op_get_role(struct mg_call *c);
void mg_iam_op_list_roles(struct mg_call *c);
void mg_iam_op_delete_role(struct mg_call *c);
void mg_iam_op_update_role(struct mg_call *c);
void mg_iam_op_update_role_description(struct mg_call *c);
void mg_iam_op_update_assume_role_policy(struct mg_call *c);
void mg_iam_op_tag_role(struct mg_call *c);
void mg_iam_op_untag_role(struct mg_call *c);
void mg_iam_op_list_role_tags(struct mg_call *c);
void mg_iam_op_put_role_boundary(struct mg_call *c);
void mg_iam_op_delete_role_boundary(struct mg_call *c);

void mg_iam_op_create_user(struct mg_call *c);
void mg_iam_op_get_user(struct mg_call *c);
void mg_iam_op_list_users(struct mg_call *c);
void mg_iam_op_delete_user(struct mg_call *c);
void mg_iam_op_tag_user(struct mg_call *c);
void mg_iam_op_untag_user(struct mg_call *c);
void mg_iam_op_list_user_tags(struct mg_call *c);
void mg_iam_op_put_user_boundary(struct mg_call *c);
void mg_iam_op_delete_user_boundary(struct mg_call *c);
void mg_iam_op_create_access_key(struct mg_call *c);
void mg_iam_op_delete_access_key(struct mg_call *c);
void mg_iam_op_list_access_keys(struct mg_call *c);
void mg_iam_op_update_access_key(struct mg_call *c);

/* inline and attached policies of roles and users (api_entity_policies.c) */
void mg_iam_op_put_role_policy(struct mg_call *c);
void mg_iam_op_get_role_policy(struct mg_call *c);
void mg_iam_op_delete_role_policy(struct mg_call *c);
void mg_iam_op_list_role_policies(struct mg_call *c);
void mg_iam_op_attach_role_policy(struct mg_call *c);
void mg_iam_op_detach_role_policy(struct mg_call *c);
void mg_iam_op_list_attached_role_policies(struct mg_call *c);
void mg_iam_op_put_user_policy(struct mg_call *c);
void mg_iam_op_get_user_policy(struct mg_call *c);
void mg_iam_op_delete_user_policy(struct mg_call *c);
void mg_iam_op_list_user_policies(struct mg_call *c);
void mg_iam_op_attach_user_policy(struct mg_call *c);
void mg_iam_op_detach_user_policy(struct mg_call *c);
void mg_iam_op_list_attached_user_policies(struct mg_call *c);

/* managed policies (api_policies.c) */
void mg_iam_op_create_policy(struct mg_call *c);
void mg_iam_op_get_policy(struct mg_call *c);
void mg_iam_op_delete_policy(struct mg_call *c);
void mg_iam_op_list_policies(struct mg_call *c);
void mg_iam_op_get_policy_version(struct mg_call *c);
void mg_iam_op_create_policy_version(struct mg_call *c);
void mg_iam_op_delete_policy_version(struct mg_call *c);
void mg_iam_op_list_policy_versions(struct mg_call *c);
void mg_iam_op_set_default_policy_version(struct mg_call *c);

#endif
