/* src/policy/explain.c: names for decisions and AWS's AccessDenied message. */
#include <stdio.h>

#include "policy/policy_internal.h"

const char *mg_policy_source_str(enum mg_policy_source s)
{
    switch (s) {
    case MG_POLICY_SRC_IDENTITY: return "identity-based policy";
    case MG_POLICY_SRC_RESOURCE: return "resource-based policy";
    case MG_POLICY_SRC_BOUNDARY: return "permissions boundary";
    case MG_POLICY_SRC_SESSION: return "session policy";
    }
    return "policy";
}

const char *mg_policy_decision_str(enum mg_policy_decision d)
{
    switch (d) {
    case MG_POLICY_ALLOW: return "Allowed";
    case MG_POLICY_EXPLICIT_DENY: return "ExplicitlyDenied";
    case MG_POLICY_IMPLICIT_DENY: return "ImplicitlyDenied";
    }
    return "ImplicitlyDenied";
}

const char *mg_policy_reason_str(enum mg_policy_reason r)
{
    switch (r) {
    case MG_POLICY_REASON_NONE: return "none";
    case MG_POLICY_REASON_EXPLICIT_DENY: return "explicitDeny";
    case MG_POLICY_REASON_NO_IDENTITY_ALLOW: return "noIdentityAllow";
    case MG_POLICY_REASON_NO_RESOURCE_ALLOW: return "noResourceAllow";
    case MG_POLICY_REASON_NO_BOUNDARY_ALLOW: return "noBoundaryAllow";
    case MG_POLICY_REASON_NO_SESSION_ALLOW: return "noSessionAllow";
    }
    return "unknown";
}

static enum mg_policy_source s_reason_source(enum mg_policy_reason r)
{
    switch (r) {
    case MG_POLICY_REASON_NO_RESOURCE_ALLOW: return MG_POLICY_SRC_RESOURCE;
    case MG_POLICY_REASON_NO_BOUNDARY_ALLOW: return MG_POLICY_SRC_BOUNDARY;
    case MG_POLICY_REASON_NO_SESSION_ALLOW: return MG_POLICY_SRC_SESSION;
    case MG_POLICY_REASON_NONE:
    case MG_POLICY_REASON_EXPLICIT_DENY:
    case MG_POLICY_REASON_NO_IDENTITY_ALLOW: break;
    }
    return MG_POLICY_SRC_IDENTITY;
}

size_t mg_policy_denied_message(const struct mg_policy_explain *ex,
                                const struct mg_policy_request *req, char *out, size_t cap)
{
    struct mg_slice who = req->principal_arn;
    if (who.len == 0)
        who = MG_SLICE_LIT("anonymous");
    int n;
    if (ex->reason == MG_POLICY_REASON_EXPLICIT_DENY) {
        enum mg_policy_source s = ex->deny.source;
        n = snprintf(out, cap,
                     "User: " MG_SLICE_FMT " is not authorized to perform: " MG_SLICE_FMT
                     " on resource: " MG_SLICE_FMT " with an explicit deny in %s %s",
                     MG_SLICE_ARG(who), MG_SLICE_ARG(req->action), MG_SLICE_ARG(req->resource),
                     s == MG_POLICY_SRC_IDENTITY ? "an" : "a", mg_policy_source_str(s));
    } else {
        n = snprintf(out, cap,
                     "User: " MG_SLICE_FMT " is not authorized to perform: " MG_SLICE_FMT
                     " on resource: " MG_SLICE_FMT " because no %s allows the " MG_SLICE_FMT
                     " action",
                     MG_SLICE_ARG(who), MG_SLICE_ARG(req->action), MG_SLICE_ARG(req->resource),
                     mg_policy_source_str(s_reason_source(ex->reason)), MG_SLICE_ARG(req->action));
    }
    return n < 0 ? 0 : (size_t)n;
}
