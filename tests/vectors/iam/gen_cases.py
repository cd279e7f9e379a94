#!/usr/bin/env python3
"""Writes the IAM decision vectors (decisions.json, conditions.json, principals.json).

Each case is a `mcpgate policy simulate` input plus "name", "expect" (Allowed / ImplicitlyDenied /
ExplicitlyDenied), "source" (the AWS documentation page whose rule decides the case) and, for some
cases, "expectReason". Expectations come from the documented rules, not from running mcpgate.
Run from this directory: python3 gen_cases.py
"""
import json

DOC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/"
S_EVAL = "Policy evaluation logic / How AWS enforcement code logic evaluates requests - " + DOC + "reference_policies_evaluation-logic_policy-eval-denyallow.html"
S_SINGLE = "Policy evaluation for requests within a single account - " + DOC + "reference_policies_evaluation-logic_policy-eval-basics.html"
S_CROSS = "Cross-account policy evaluation logic - " + DOC + "reference_policies_evaluation-logic-cross-account.html"
S_ACTION = "IAM JSON policy elements: Action - " + DOC + "reference_policies_elements_action.html"
S_NOTACTION = "IAM JSON policy elements: NotAction - " + DOC + "reference_policies_elements_notaction.html"
S_RESOURCE = "IAM JSON policy elements: Resource - " + DOC + "reference_policies_elements_resource.html"
S_NOTRESOURCE = "IAM JSON policy elements: NotResource - " + DOC + "reference_policies_elements_notresource.html"
S_PRINCIPAL = "AWS JSON policy elements: Principal - " + DOC + "reference_policies_elements_principal.html"
S_NOTPRINCIPAL = "AWS JSON policy elements: NotPrincipal - " + DOC + "reference_policies_elements_notprincipal.html"
S_OPS = "IAM JSON policy elements: Condition operators - " + DOC + "reference_policies_elements_condition_operators.html"
S_COND = "IAM JSON policy elements: Condition - " + DOC + "reference_policies_elements_condition.html"
S_MULTI = "Single-valued vs. multivalued context keys - " + DOC + "reference_policies_condition-single-vs-multi-valued-context-keys.html"
S_VARS = "IAM policy elements: Variables and tags - " + DOC + "reference_policies_variables.html"
S_KEYS = "AWS global condition context keys - " + DOC + "reference_policies_condition-keys.html"
S_BOUND = "Permissions boundaries for IAM entities - " + DOC + "access_policies_boundaries.html"
S_SESSION = "Policies and permissions in AWS Identity and Access Management: Session policies - " + DOC + "access_policies.html#policies_session"
S_VERSION = "IAM JSON policy elements: Version - " + DOC + "reference_policies_elements_version.html"
S_ROOT = "AWS account root user - " + DOC + "id_root-user.html"
S_TRUST = "Policy evaluation for requests within a single account (role trust policies) - " + DOC + "reference_policies_evaluation-logic_policy-eval-basics.html"

A1 = "111122223333"   # owns the gateway
A2 = "444455556666"   # another account
ACT = "bedrock-agentcore:InvokeGateway"
GW = f"arn:aws:bedrock-agentcore:us-east-1:{A1}:gateway/gw-abcdefghij"
GW2 = f"arn:aws:bedrock-agentcore:us-east-1:{A1}:gateway/gw-zzzzzzzzzz"
USER = f"arn:aws:iam::{A1}:user/alice"
USER_B = f"arn:aws:iam::{A1}:user/bob"
ROLE = f"arn:aws:iam::{A1}:role/AgentRole"
SESS = f"arn:aws:sts::{A1}:assumed-role/AgentRole/s1"
SESS2 = f"arn:aws:sts::{A1}:assumed-role/AgentRole/s2"
X_ROLE = f"arn:aws:iam::{A2}:role/AgentRole"
X_SESS = f"arn:aws:sts::{A2}:assumed-role/AgentRole/s1"
X_USER = f"arn:aws:iam::{A2}:user/carol"
ROOT = f"arn:aws:iam::{A1}:root"
X_ROOT = f"arn:aws:iam::{A2}:root"

V12 = "2012-10-17"


def pol(*stmts, version=V12):
    d = {}
    if version:
        d["Version"] = version
    d["Statement"] = list(stmts)
    return d


def st(effect="Allow", action=ACT, resource="*", cond=None, sid=None, principal=None,
       not_action=None, not_resource=None, not_principal=None, no_resource=False):
    s = {}
    if sid:
        s["Sid"] = sid
    s["Effect"] = effect
    if principal is not None:
        s["Principal"] = principal
    if not_principal is not None:
        s["NotPrincipal"] = not_principal
    if not_action is not None:
        s["NotAction"] = not_action
    else:
        s["Action"] = action
    if not_resource is not None:
        s["NotResource"] = not_resource
    elif not no_resource:
        s["Resource"] = resource
    if cond is not None:
        s["Condition"] = cond
    return s


def rst(effect="Allow", principal="*", action=ACT, resource=GW, cond=None, **kw):
    return st(effect=effect, action=action, resource=resource, cond=cond, principal=principal, **kw)


ALLOW = pol(st())
DENY = pol(st("Deny"))

cases = {"decisions": [], "conditions": [], "principals": []}


def case(group, name, expect, source, ident=(), res=None, bounds=(), sess=None, principal=SESS,
         action=ACT, resource=GW, ctx=None, reason=None, rtype=None, extra=None, racct=None):
    c = {"name": name}
    c["identityPolicies"] = list(ident)
    c["resourcePolicy"] = res
    if rtype:
        c["resourcePolicyType"] = rtype
    c["permissionBoundaries"] = list(bounds)
    c["sessionPolicy"] = sess
    rq = {"principal": principal, "action": action, "resource": resource, "context": ctx or {}}
    if extra:
        rq.update(extra)
    c["request"] = rq
    if racct:
        c["resourceAccount"] = racct
    c["expect"] = expect
    if reason:
        c["expectReason"] = reason
    c["source"] = source
    assert all(x["name"] != name for g in cases.values() for x in g), name
    cases[group].append(c)


D = "decisions"
# ---------------------------------------------------------------- basic identity evaluation
case(D, "no-policies-implicit-deny", "ImplicitlyDenied", S_EVAL, reason="noIdentityAllow")
case(D, "identity-allow", "Allowed", S_EVAL, [ALLOW])
case(D, "identity-allow-user", "Allowed", S_EVAL, [ALLOW], principal=USER)
case(D, "identity-deny-only", "ExplicitlyDenied", S_EVAL, [DENY], reason="explicitDeny")
case(D, "identity-allow-and-deny-same-policy", "ExplicitlyDenied", S_EVAL, [pol(st(), st("Deny"))])
case(D, "identity-allow-and-deny-two-policies", "ExplicitlyDenied", S_EVAL, [ALLOW, DENY])
case(D, "identity-allow-in-second-policy", "Allowed", S_EVAL, [pol(st(action="s3:GetObject")), ALLOW])
case(D, "identity-statement-as-object", "Allowed", S_EVAL,
     [{"Version": V12, "Statement": {"Effect": "Allow", "Action": ACT, "Resource": GW}}])
case(D, "identity-other-action-only", "ImplicitlyDenied", S_ACTION, [pol(st(action="bedrock-agentcore:ListGateways"))])
case(D, "action-case-insensitive", "Allowed", S_ACTION, [pol(st(action="Bedrock-AgentCore:invokegateway"))])
case(D, "action-request-case-insensitive", "Allowed", S_ACTION, [ALLOW], action="BEDROCK-AGENTCORE:INVOKEGATEWAY")
case(D, "action-service-wildcard", "Allowed", S_ACTION, [pol(st(action="bedrock-agentcore:*"))])
case(D, "action-prefix-wildcard", "Allowed", S_ACTION, [pol(st(action="bedrock-agentcore:Invoke*"))])
case(D, "action-question-mark", "Allowed", S_ACTION, [pol(st(action="bedrock-agentcore:InvokeGatewa?"))])
case(D, "action-question-mark-one-char-only", "ImplicitlyDenied", S_ACTION, [pol(st(action="bedrock-agentcore:InvokeGatew?"))])
case(D, "action-star", "Allowed", S_ACTION, [pol(st(action="*"))])
case(D, "action-list-one-matches", "Allowed", S_ACTION, [pol(st(action=["s3:GetObject", ACT]))])
case(D, "action-other-service-wildcard", "ImplicitlyDenied", S_ACTION, [pol(st(action="bedrock:*"))])
case(D, "action-middle-wildcard", "Allowed", S_ACTION, [pol(st(action="bedrock-agentcore:*Gateway"))])
case(D, "action-wildcard-deny-wins", "ExplicitlyDenied", S_ACTION, [ALLOW, pol(st("Deny", action="bedrock-agentcore:Invoke*"))])
case(D, "resource-exact", "Allowed", S_RESOURCE, [pol(st(resource=GW))])
case(D, "resource-other-gateway", "ImplicitlyDenied", S_RESOURCE, [pol(st(resource=GW2))])
case(D, "resource-wildcard-id", "Allowed", S_RESOURCE, [pol(st(resource=f"arn:aws:bedrock-agentcore:us-east-1:{A1}:gateway/*"))])
case(D, "resource-wildcard-region", "Allowed", S_RESOURCE, [pol(st(resource=f"arn:aws:bedrock-agentcore:*:{A1}:gateway/gw-abcdefghij"))])
case(D, "resource-wildcard-region-prefix", "Allowed", S_RESOURCE, [pol(st(resource=f"arn:aws:bedrock-agentcore:us-*:{A1}:gateway/*"))])
case(D, "resource-wildcard-region-mismatch", "ImplicitlyDenied", S_RESOURCE, [pol(st(resource=f"arn:aws:bedrock-agentcore:eu-*:{A1}:gateway/*"))])
case(D, "resource-wildcard-account", "Allowed", S_RESOURCE, [pol(st(resource="arn:aws:bedrock-agentcore:us-east-1:*:gateway/*"))])
case(D, "resource-other-account", "ImplicitlyDenied", S_RESOURCE, [pol(st(resource=f"arn:aws:bedrock-agentcore:us-east-1:{A2}:gateway/*"))])
case(D, "resource-case-sensitive", "ImplicitlyDenied", S_RESOURCE, [pol(st(resource=f"arn:aws:bedrock-agentcore:us-east-1:{A1}:gateway/GW-ABCDEFGHIJ"))])
case(D, "resource-question-mark", "Allowed", S_RESOURCE, [pol(st(resource=f"arn:aws:bedrock-agentcore:us-east-1:{A1}:gateway/gw-abcdefghi?"))])
case(D, "resource-all-wildcards", "Allowed", S_RESOURCE, [pol(st(resource="arn:aws:bedrock-agentcore:*:*:*"))])
case(D, "resource-wrong-service", "ImplicitlyDenied", S_RESOURCE, [pol(st(resource=f"arn:aws:lambda:us-east-1:{A1}:function:*"))])
case(D, "resource-list-one-matches", "Allowed", S_RESOURCE, [pol(st(resource=[GW2, GW]))])
case(D, "resource-type-prefix-wildcard", "Allowed", S_RESOURCE, [pol(st(resource=f"arn:aws:bedrock-agentcore:us-east-1:{A1}:gate*"))])
case(D, "resource-deny-specific-allow-star", "ExplicitlyDenied", S_RESOURCE, [pol(st(), st("Deny", resource=GW))])
case(D, "resource-deny-other-gateway", "Allowed", S_RESOURCE, [pol(st(), st("Deny", resource=GW2))])
# ---------------------------------------------------------------- NotAction / NotResource
case(D, "notaction-allow-other-action", "Allowed", S_NOTACTION, [pol(st(not_action="iam:*"))])
case(D, "notaction-allow-excluded", "ImplicitlyDenied", S_NOTACTION, [pol(st(not_action="bedrock-agentcore:*"))])
case(D, "notaction-allow-excluded-exact", "ImplicitlyDenied", S_NOTACTION, [pol(st(not_action=ACT))])
case(D, "notaction-deny-everything-else", "ExplicitlyDenied", S_NOTACTION, [ALLOW, pol(st("Deny", not_action="iam:*"))])
case(D, "notaction-deny-excluded-action", "Allowed", S_NOTACTION, [ALLOW, pol(st("Deny", not_action="bedrock-agentcore:*"))])
case(D, "notaction-deny-alone-grants-nothing", "ImplicitlyDenied", S_NOTACTION, [pol(st("Deny", not_action=ACT))])
case(D, "notaction-case-insensitive", "ImplicitlyDenied", S_NOTACTION, [pol(st(not_action="BEDROCK-AGENTCORE:invoke*"))])
case(D, "notresource-allow-other", "Allowed", S_NOTRESOURCE, [pol(st(not_resource=GW2))])
case(D, "notresource-allow-excluded", "ImplicitlyDenied", S_NOTRESOURCE, [pol(st(not_resource=GW))])
case(D, "notresource-allow-excluded-wildcard", "ImplicitlyDenied", S_NOTRESOURCE, [pol(st(not_resource=f"arn:aws:bedrock-agentcore:*:{A1}:gateway/*"))])
case(D, "notresource-deny-other", "ExplicitlyDenied", S_NOTRESOURCE, [ALLOW, pol(st("Deny", not_resource=GW2))])
case(D, "notresource-deny-excluded", "Allowed", S_NOTRESOURCE, [ALLOW, pol(st("Deny", not_resource=GW))])
case(D, "notaction-and-notresource", "Allowed", S_NOTRESOURCE, [pol(st(not_action="iam:*", not_resource=GW2))])
# ---------------------------------------------------------------- same-account resource policies
case(D, "same-rp-user-direct", "Allowed", S_SINGLE, res=pol(rst(principal={"AWS": USER})), principal=USER)
case(D, "same-rp-session-direct", "Allowed", S_SINGLE, res=pol(rst(principal={"AWS": SESS})))
case(D, "same-rp-other-session", "ImplicitlyDenied", S_SINGLE, res=pol(rst(principal={"AWS": SESS2})))
case(D, "same-rp-role-arn", "Allowed", S_SINGLE, res=pol(rst(principal={"AWS": ROLE})))
case(D, "same-rp-other-role", "ImplicitlyDenied", S_SINGLE, res=pol(rst(principal={"AWS": f"arn:aws:iam::{A1}:role/OtherRole"})))
case(D, "same-rp-role-with-path", "Allowed", S_SINGLE, res=pol(rst(principal={"AWS": f"arn:aws:iam::{A1}:role/team/AgentRole"})),
     extra={"roleArn": f"arn:aws:iam::{A1}:role/team/AgentRole"})
case(D, "same-rp-role-path-mismatch", "ImplicitlyDenied", S_SINGLE, res=pol(rst(principal={"AWS": f"arn:aws:iam::{A1}:role/other/AgentRole"})),
     extra={"roleArn": f"arn:aws:iam::{A1}:role/team/AgentRole"})
case(D, "same-rp-account-root-needs-identity", "ImplicitlyDenied", S_SINGLE, res=pol(rst(principal={"AWS": ROOT})), reason="noIdentityAllow")
case(D, "same-rp-account-root-with-identity", "Allowed", S_SINGLE, [ALLOW], res=pol(rst(principal={"AWS": ROOT})))
case(D, "same-rp-bare-account-needs-identity", "ImplicitlyDenied", S_SINGLE, res=pol(rst(principal={"AWS": A1})))
case(D, "same-rp-bare-account-with-identity", "Allowed", S_SINGLE, [ALLOW], res=pol(rst(principal={"AWS": A1})))
case(D, "same-rp-star", "Allowed", S_SINGLE, res=pol(rst(principal="*")))
case(D, "same-rp-aws-star", "Allowed", S_SINGLE, res=pol(rst(principal={"AWS": "*"})))
case(D, "same-rp-other-user", "ImplicitlyDenied", S_SINGLE, res=pol(rst(principal={"AWS": USER_B})), principal=USER)
case(D, "same-rp-user-list", "Allowed", S_PRINCIPAL, res=pol(rst(principal={"AWS": [USER_B, USER]})), principal=USER)
case(D, "same-rp-deny-beats-identity", "ExplicitlyDenied", S_EVAL, [ALLOW], res=pol(rst("Deny", principal="*")), reason="explicitDeny")
case(D, "same-rp-allow-identity-deny", "ExplicitlyDenied", S_EVAL, [DENY], res=pol(rst(principal={"AWS": SESS})))
case(D, "same-rp-other-resource-in-policy", "ImplicitlyDenied", S_SINGLE, res=pol(rst(principal={"AWS": SESS}, resource=GW2)))
case(D, "same-rp-no-resource-element", "Allowed", S_SINGLE, res=pol(st(principal={"AWS": SESS}, no_resource=True)))
case(D, "same-rp-other-action", "ImplicitlyDenied", S_SINGLE, res=pol(rst(principal={"AWS": SESS}, action="bedrock-agentcore:GetGateway")))
case(D, "same-rp-role-blocked-by-boundary", "ImplicitlyDenied", S_SINGLE, res=pol(rst(principal={"AWS": ROLE})),
     bounds=[pol(st(action="s3:*"))], reason="noBoundaryAllow")
case(D, "same-rp-role-boundary-allows", "Allowed", S_SINGLE, res=pol(rst(principal={"AWS": ROLE})), bounds=[ALLOW])
case(D, "same-rp-role-blocked-by-session-policy", "ImplicitlyDenied", S_SINGLE, res=pol(rst(principal={"AWS": ROLE})),
     sess=pol(st(action="s3:*")), reason="noSessionAllow")
case(D, "same-rp-session-not-limited-by-boundary", "Allowed", S_SINGLE, res=pol(rst(principal={"AWS": SESS})), bounds=[pol(st(action="s3:*"))])
case(D, "same-rp-session-not-limited-by-session-policy", "Allowed", S_SINGLE, res=pol(rst(principal={"AWS": SESS})), sess=pol(st(action="s3:*")))
case(D, "same-rp-user-not-limited-by-boundary", "Allowed", S_SINGLE, res=pol(rst(principal={"AWS": USER})), bounds=[pol(st(action="s3:*"))], principal=USER)
case(D, "same-rp-boundary-deny-still-wins", "ExplicitlyDenied", S_SINGLE, res=pol(rst(principal={"AWS": SESS})), bounds=[pol(st(), st("Deny"))])
case(D, "same-rp-account-with-identity-boundary-blocks", "ImplicitlyDenied", S_BOUND, [ALLOW], res=pol(rst(principal={"AWS": ROOT})),
     bounds=[pol(st(action="s3:*"))], reason="noBoundaryAllow")
case(D, "same-rp-feduser-direct", "Allowed", S_SINGLE, res=pol(rst(principal={"AWS": f"arn:aws:sts::{A1}:federated-user/dana"})),
     principal=f"arn:aws:sts::{A1}:federated-user/dana")
case(D, "same-rp-user-arn-does-not-match-session", "ImplicitlyDenied", S_PRINCIPAL, res=pol(rst(principal={"AWS": USER})))
case(D, "same-identity-only-with-empty-rp-statement", "Allowed", S_SINGLE, [ALLOW], res=pol(rst(principal={"AWS": USER_B})))
# ---------------------------------------------------------------- cross account
case(D, "cross-identity-only", "ImplicitlyDenied", S_CROSS, [ALLOW], principal=X_SESS, reason="noResourceAllow")
case(D, "cross-resource-only", "ImplicitlyDenied", S_CROSS, res=pol(rst(principal={"AWS": X_SESS})), principal=X_SESS, reason="noIdentityAllow")
case(D, "cross-both-session", "Allowed", S_CROSS, [ALLOW], res=pol(rst(principal={"AWS": X_SESS})), principal=X_SESS)
case(D, "cross-both-role", "Allowed", S_CROSS, [ALLOW], res=pol(rst(principal={"AWS": X_ROLE})), principal=X_SESS)
case(D, "cross-both-account-root", "Allowed", S_CROSS, [ALLOW], res=pol(rst(principal={"AWS": X_ROOT})), principal=X_SESS)
case(D, "cross-both-bare-account", "Allowed", S_CROSS, [ALLOW], res=pol(rst(principal={"AWS": A2})), principal=X_SESS)
case(D, "cross-both-star", "Allowed", S_CROSS, [ALLOW], res=pol(rst(principal="*")), principal=X_SESS)
case(D, "cross-star-without-identity", "ImplicitlyDenied", S_CROSS, res=pol(rst(principal="*")), principal=X_SESS, reason="noIdentityAllow")
case(D, "cross-rp-names-other-account", "ImplicitlyDenied", S_CROSS, [ALLOW], res=pol(rst(principal={"AWS": f"arn:aws:iam::999988887777:root"})), principal=X_SESS)
case(D, "cross-rp-names-own-account-only", "ImplicitlyDenied", S_CROSS, [ALLOW], res=pol(rst(principal={"AWS": ROOT})), principal=X_SESS)
case(D, "cross-user-both", "Allowed", S_CROSS, [ALLOW], res=pol(rst(principal={"AWS": X_USER})), principal=X_USER)
case(D, "cross-user-rp-other-user", "ImplicitlyDenied", S_CROSS, [ALLOW], res=pol(rst(principal={"AWS": f"arn:aws:iam::{A2}:user/dave"})), principal=X_USER)
case(D, "cross-rp-deny", "ExplicitlyDenied", S_CROSS, [ALLOW], res=pol(rst(principal="*"), rst("Deny", principal={"AWS": A2})), principal=X_SESS)
case(D, "cross-identity-deny", "ExplicitlyDenied", S_CROSS, [ALLOW, DENY], res=pol(rst(principal={"AWS": A2})), principal=X_SESS)
case(D, "cross-boundary-blocks", "ImplicitlyDenied", S_CROSS, [ALLOW], res=pol(rst(principal={"AWS": X_SESS})), bounds=[pol(st(action="s3:*"))],
     principal=X_SESS, reason="noBoundaryAllow")
case(D, "cross-session-policy-blocks", "ImplicitlyDenied", S_CROSS, [ALLOW], res=pol(rst(principal={"AWS": X_SESS})), sess=pol(st(action="s3:*")),
     principal=X_SESS, reason="noSessionAllow")
case(D, "cross-session-policy-allows", "Allowed", S_CROSS, [ALLOW], res=pol(rst(principal={"AWS": X_SESS})), sess=ALLOW, principal=X_SESS)
case(D, "cross-principal-account-condition", "Allowed", S_CROSS, [ALLOW],
     res=pol(rst(principal="*", cond={"StringEquals": {"aws:PrincipalAccount": A2}})), principal=X_SESS)
case(D, "cross-principal-account-condition-mismatch", "ImplicitlyDenied", S_CROSS, [ALLOW],
     res=pol(rst(principal="*", cond={"StringEquals": {"aws:PrincipalAccount": "999988887777"}})), principal=X_SESS)
case(D, "cross-principal-org-condition", "Allowed", S_KEYS, [ALLOW],
     res=pol(rst(principal="*", cond={"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}})), principal=X_SESS,
     ctx={"aws:PrincipalOrgID": "o-a1b2c3d4e5"})
case(D, "cross-principal-org-condition-missing", "ImplicitlyDenied", S_KEYS, [ALLOW],
     res=pol(rst(principal="*", cond={"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}})), principal=X_SESS)
case(D, "cross-resource-account-override", "Allowed", S_CROSS, [ALLOW], principal=SESS, racct=A1)
case(D, "cross-explicit-resource-account", "ImplicitlyDenied", S_CROSS, [ALLOW], principal=SESS, racct=A2, reason="noResourceAllow")
# ---------------------------------------------------------------- boundaries
case(D, "boundary-allows", "Allowed", S_BOUND, [ALLOW], bounds=[ALLOW])
case(D, "boundary-does-not-allow", "ImplicitlyDenied", S_BOUND, [ALLOW], bounds=[pol(st(action="s3:*"))], reason="noBoundaryAllow")
case(D, "boundary-alone-grants-nothing", "ImplicitlyDenied", S_BOUND, bounds=[ALLOW], reason="noIdentityAllow")
case(D, "boundary-explicit-deny", "ExplicitlyDenied", S_BOUND, [ALLOW], bounds=[pol(st(), st("Deny"))])
case(D, "boundary-wildcard-allows", "Allowed", S_BOUND, [ALLOW], bounds=[pol(st(action="bedrock-agentcore:*"))])
case(D, "boundary-resource-mismatch", "ImplicitlyDenied", S_BOUND, [ALLOW], bounds=[pol(st(resource=GW2))])
case(D, "boundary-user", "ImplicitlyDenied", S_BOUND, [ALLOW], bounds=[pol(st(action="s3:*"))], principal=USER)
case(D, "boundary-condition-true", "Allowed", S_BOUND, [ALLOW], bounds=[pol(st(cond={"Bool": {"aws:SecureTransport": "true"}}))],
     ctx={"aws:SecureTransport": "true"})
case(D, "boundary-condition-false", "ImplicitlyDenied", S_BOUND, [ALLOW], bounds=[pol(st(cond={"Bool": {"aws:SecureTransport": "true"}}))],
     ctx={"aws:SecureTransport": "false"})
case(D, "boundary-identity-wider", "Allowed", S_BOUND, [pol(st(action="*"))], bounds=[pol(st(resource=GW))])
case(D, "boundary-two-policies-either", "Allowed", S_BOUND, [ALLOW], bounds=[pol(st(action="s3:*")), ALLOW])
case(D, "boundary-notaction-deny", "ExplicitlyDenied", S_BOUND, [ALLOW], bounds=[pol(st(action="*"), st("Deny", not_action="s3:*"))])
# ---------------------------------------------------------------- session policies
case(D, "session-allows", "Allowed", S_SESSION, [ALLOW], sess=ALLOW)
case(D, "session-does-not-allow", "ImplicitlyDenied", S_SESSION, [ALLOW], sess=pol(st(action="s3:*")), reason="noSessionAllow")
case(D, "session-alone-grants-nothing", "ImplicitlyDenied", S_SESSION, sess=ALLOW, reason="noIdentityAllow")
case(D, "session-explicit-deny", "ExplicitlyDenied", S_SESSION, [ALLOW], sess=pol(st(), st("Deny")))
case(D, "session-resource-mismatch", "ImplicitlyDenied", S_SESSION, [ALLOW], sess=pol(st(resource=GW2)))
case(D, "session-and-boundary-allow", "Allowed", S_SESSION, [ALLOW], sess=ALLOW, bounds=[ALLOW])
case(D, "session-allows-boundary-not", "ImplicitlyDenied", S_BOUND, [ALLOW], sess=ALLOW, bounds=[pol(st(action="s3:*"))], reason="noBoundaryAllow")
case(D, "session-identity-wider", "Allowed", S_SESSION, [pol(st(action="*"))], sess=pol(st(action="bedrock-agentcore:Invoke*")))
case(D, "session-feduser", "ImplicitlyDenied", S_SESSION, [ALLOW], sess=pol(st(action="s3:*")), principal=f"arn:aws:sts::{A1}:federated-user/dana")
case(D, "session-condition", "Allowed", S_SESSION, [ALLOW], sess=pol(st(cond={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})),
     ctx={"aws:SourceIp": "203.0.113.7"})
# ---------------------------------------------------------------- root, anonymous, services, trust
case(D, "root-own-account-no-policies", "Allowed", S_ROOT, principal=ROOT)
case(D, "root-own-account-explicit-deny-rp", "ExplicitlyDenied", S_EVAL, res=pol(rst("Deny", principal={"AWS": A1})), principal=ROOT)
case(D, "root-rule-off", "ImplicitlyDenied", S_EVAL, principal=ROOT, extra={"isRoot": False})
case(D, "root-cross-account-no-rp", "ImplicitlyDenied", S_CROSS, principal=X_ROOT, reason="noResourceAllow")
case(D, "root-cross-account-rp-names-account", "Allowed", S_CROSS, res=pol(rst(principal={"AWS": A2})), principal=X_ROOT)
case(D, "anonymous-rp-star", "Allowed", S_PRINCIPAL, res=pol(rst(principal="*")), principal="anonymous")
case(D, "anonymous-rp-aws-star", "Allowed", S_PRINCIPAL, res=pol(rst(principal={"AWS": "*"})), principal="anonymous")
case(D, "anonymous-rp-account", "ImplicitlyDenied", S_PRINCIPAL, res=pol(rst(principal={"AWS": A1})), principal="anonymous")
case(D, "anonymous-no-rp", "ImplicitlyDenied", S_PRINCIPAL, [ALLOW], principal="anonymous")
case(D, "service-principal-allowed", "Allowed", S_PRINCIPAL, res=pol(rst(principal={"Service": "bedrock-agentcore.amazonaws.com"})),
     principal="bedrock-agentcore.amazonaws.com")
case(D, "service-principal-other-service", "ImplicitlyDenied", S_PRINCIPAL, res=pol(rst(principal={"Service": "lambda.amazonaws.com"})),
     principal="bedrock-agentcore.amazonaws.com")
case(D, "service-principal-not-aws-account", "ImplicitlyDenied", S_PRINCIPAL, res=pol(rst(principal={"AWS": A1})),
     principal="bedrock-agentcore.amazonaws.com")
TR = f"arn:aws:iam::{A1}:role/GatewayRole"
case(D, "trust-service-assume", "Allowed", S_TRUST, res=pol(st(principal={"Service": "bedrock-agentcore.amazonaws.com"}, action="sts:AssumeRole", no_resource=True)),
     rtype="trust", principal="bedrock-agentcore.amazonaws.com", action="sts:AssumeRole", resource=TR, racct=A1)
case(D, "trust-names-user", "Allowed", S_TRUST, res=pol(st(principal={"AWS": USER}, action="sts:AssumeRole", no_resource=True)),
     rtype="trust", principal=USER, action="sts:AssumeRole", resource=TR)
case(D, "trust-identity-only-same-account", "ImplicitlyDenied", S_TRUST, [pol(st(action="sts:AssumeRole", resource=TR))],
     res=pol(st(principal={"AWS": USER_B}, action="sts:AssumeRole", no_resource=True)),
     rtype="trust", principal=USER, action="sts:AssumeRole", resource=TR, reason="noResourceAllow")
case(D, "trust-account-needs-identity", "ImplicitlyDenied", S_TRUST, res=pol(st(principal={"AWS": ROOT}, action="sts:AssumeRole", no_resource=True)),
     rtype="trust", principal=USER, action="sts:AssumeRole", resource=TR)
case(D, "trust-account-with-identity", "Allowed", S_TRUST, [pol(st(action="sts:AssumeRole", resource=TR))],
     res=pol(st(principal={"AWS": ROOT}, action="sts:AssumeRole", no_resource=True)),
     rtype="trust", principal=USER, action="sts:AssumeRole", resource=TR)
case(D, "trust-cross-account-both", "Allowed", S_CROSS, [pol(st(action="sts:AssumeRole", resource=TR))],
     res=pol(st(principal={"AWS": A2}, action="sts:AssumeRole", no_resource=True)),
     rtype="trust", principal=X_USER, action="sts:AssumeRole", resource=TR)
case(D, "trust-external-id", "Allowed", S_TRUST, [pol(st(action="sts:AssumeRole", resource=TR))],
     res=pol(st(principal={"AWS": A2}, action="sts:AssumeRole", no_resource=True, cond={"StringEquals": {"sts:ExternalId": "ext-123"}})),
     rtype="trust", principal=X_USER, action="sts:AssumeRole", resource=TR, ctx={"sts:ExternalId": "ext-123"})
case(D, "trust-external-id-missing", "ImplicitlyDenied", S_TRUST, [pol(st(action="sts:AssumeRole", resource=TR))],
     res=pol(st(principal={"AWS": A2}, action="sts:AssumeRole", no_resource=True, cond={"StringEquals": {"sts:ExternalId": "ext-123"}})),
     rtype="trust", principal=X_USER, action="sts:AssumeRole", resource=TR)
# sts:AssumeRole* on a role ARN: the resource policy is the role's trust policy without
# "resourcePolicyType" having to say so (the case "trust-identity-only-same-account" without rtype).
case(D, "trust-implied-identity-only-same-account", "ImplicitlyDenied", S_TRUST, [pol(st(action="sts:AssumeRole", resource=TR))],
     res=pol(st(principal={"AWS": USER_B}, action="sts:AssumeRole", no_resource=True)),
     principal=USER, action="sts:AssumeRole", resource=TR, reason="noResourceAllow")
case(D, "trust-implied-names-user", "Allowed", S_TRUST, res=pol(st(principal={"AWS": USER}, action="sts:AssumeRole", no_resource=True)),
     principal=USER, action="sts:AssumeRole", resource=TR)
case(D, "trust-implied-session-identity-only", "ImplicitlyDenied", S_TRUST, [ALLOW, pol(st(action="sts:AssumeRole*", resource="*"))],
     res=pol(st(principal={"AWS": ROOT}, action="sts:AssumeRole", no_resource=True, cond={"StringEquals": {"aws:PrincipalTag/team": "x"}})),
     principal=SESS, action="sts:assumerole", resource=f"arn:aws:iam::{A1}:role/svc/GatewayRole", reason="noResourceAllow")

# ---------------------------------------------------------------- role sessions of roles with a path
# The session ARN omits the role's path; aws:PrincipalArn (given in the context) keeps it.
P = "principals"
XP_ROLE = f"arn:aws:iam::{A2}:role/xacct/AgentRole"
case(P, "session-role-path-from-principalarn", "Allowed", S_PRINCIPAL, [ALLOW], res=pol(rst(principal={"AWS": XP_ROLE})),
     principal=X_SESS, ctx={"aws:PrincipalArn": XP_ROLE})
case(P, "session-role-path-from-principalarn-same-account", "Allowed", S_PRINCIPAL,
     res=pol(rst(principal={"AWS": f"arn:aws:iam::{A1}:role/team/AgentRole"})),
     principal=SESS, ctx={"aws:PrincipalArn": f"arn:aws:iam::{A1}:role/team/AgentRole"})
case(P, "session-role-path-other-path", "ImplicitlyDenied", S_PRINCIPAL, [ALLOW], res=pol(rst(principal={"AWS": XP_ROLE})),
     principal=X_SESS, ctx={"aws:PrincipalArn": f"arn:aws:iam::{A2}:role/other/AgentRole"}, reason="noResourceAllow")
case(P, "session-role-without-principalarn-has-no-path", "ImplicitlyDenied", S_PRINCIPAL, [ALLOW], res=pol(rst(principal={"AWS": XP_ROLE})),
     principal=X_SESS, reason="noResourceAllow")
case(P, "session-role-path-trust", "Allowed", S_TRUST, [pol(st(action="sts:AssumeRole", resource="*"))],
     res=pol(st(principal={"AWS": XP_ROLE}, action="sts:AssumeRole", no_resource=True)),
     principal=X_SESS, action="sts:AssumeRole", resource=TR, ctx={"aws:PrincipalArn": XP_ROLE})

# ---------------------------------------------------------------- NotPrincipal
P = "principals"
case(P, "notprincipal-deny-excludes-listed-user", "Allowed", S_NOTPRINCIPAL, [ALLOW],
     res=pol(rst("Deny", principal=None, not_principal={"AWS": [USER, ROOT]})), principal=USER)
case(P, "notprincipal-deny-hits-other-user", "ExplicitlyDenied", S_NOTPRINCIPAL, [ALLOW],
     res=pol(rst("Deny", principal=None, not_principal={"AWS": [USER]})), principal=USER_B)
case(P, "notprincipal-deny-session-listed", "Allowed", S_NOTPRINCIPAL, [ALLOW],
     res=pol(rst("Deny", principal=None, not_principal={"AWS": [SESS, ROLE, ROOT]})))
case(P, "notprincipal-deny-other-session", "ExplicitlyDenied", S_NOTPRINCIPAL, [ALLOW],
     res=pol(rst("Deny", principal=None, not_principal={"AWS": [SESS]})), principal=SESS2)
case(P, "notprincipal-deny-cross-account", "ExplicitlyDenied", S_NOTPRINCIPAL, [ALLOW],
     res=pol(rst(principal="*"), rst("Deny", principal=None, not_principal={"AWS": ROOT})), principal=X_SESS)
case(P, "notprincipal-deny-anonymous", "ExplicitlyDenied", S_NOTPRINCIPAL,
     res=pol(rst(principal="*"), rst("Deny", principal=None, not_principal={"AWS": ROOT})), principal="anonymous")
case(P, "notprincipal-deny-own-account-listed", "Allowed", S_NOTPRINCIPAL, [ALLOW],
     res=pol(rst("Deny", principal=None, not_principal={"AWS": A1})))
case(P, "principal-star-with-arnlike-condition", "Allowed", S_PRINCIPAL, [ALLOW],
     res=pol(rst(principal="*", cond={"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{A2}:role/Agent*"}})), principal=X_SESS)
case(P, "principal-star-with-arnlike-condition-mismatch", "ImplicitlyDenied", S_PRINCIPAL, [ALLOW],
     res=pol(rst(principal="*", cond={"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{A2}:role/Other*"}})), principal=X_SESS)
case(P, "principal-multiple-types-ored", "Allowed", S_PRINCIPAL,
     res=pol(rst(principal={"Service": "lambda.amazonaws.com", "AWS": SESS})))
case(P, "principal-unique-id", "Allowed", S_PRINCIPAL, res=pol(rst(principal={"AWS": "AIDAJQABLZS4A3QDU576Q"})), principal=USER,
     extra={"uniqueId": "AIDAJQABLZS4A3QDU576Q"})
case(P, "principal-unique-id-other", "ImplicitlyDenied", S_PRINCIPAL, res=pol(rst(principal={"AWS": "AIDAJQABLZS4A3QDU576Q"})), principal=USER,
     extra={"uniqueId": "AIDAZZZZZZZZZZZZZZZZZ"})
case(P, "principal-federated-user-cross", "Allowed", S_PRINCIPAL, [ALLOW],
     res=pol(rst(principal={"AWS": f"arn:aws:sts::{A2}:federated-user/erin"})), principal=f"arn:aws:sts::{A2}:federated-user/erin")
case(P, "principal-arn-condition-uses-role-arn", "Allowed", S_KEYS,
     res=pol(rst(principal="*", cond={"ArnEquals": {"aws:PrincipalArn": ROLE}})))
case(P, "principal-arn-condition-not-session-arn", "ImplicitlyDenied", S_KEYS,
     res=pol(rst(principal="*", cond={"ArnEquals": {"aws:PrincipalArn": SESS}})))
case(P, "principal-type-condition", "Allowed", S_KEYS, [pol(st(cond={"StringEquals": {"aws:PrincipalType": "AssumedRole"}}))])
case(P, "principal-type-condition-user", "ImplicitlyDenied", S_KEYS, [pol(st(cond={"StringEquals": {"aws:PrincipalType": "AssumedRole"}}))], principal=USER)

# ---------------------------------------------------------------- condition operators
C = "conditions"


def cond_case(name, expect, cond, ctx=None, source=S_OPS, version=V12, principal=SESS, effect="Allow"):
    if effect == "Allow":
        ident = [pol(st(cond=cond), version=version)]
    else:
        ident = [ALLOW, pol(st("Deny", cond=cond), version=version)]
    case(C, name, expect, source, ident, ctx=ctx, principal=principal)


T = "2026-11-27T12:00:00Z"
# string
cond_case("stringequals-match", "Allowed", {"StringEquals": {"aws:ResourceTag/env": "prod"}}, {"aws:ResourceTag/env": "prod"})
cond_case("stringequals-mismatch", "ImplicitlyDenied", {"StringEquals": {"aws:ResourceTag/env": "prod"}}, {"aws:ResourceTag/env": "dev"})
cond_case("stringequals-case-sensitive", "ImplicitlyDenied", {"StringEquals": {"aws:ResourceTag/env": "prod"}}, {"aws:ResourceTag/env": "PROD"})
cond_case("stringequals-missing-key", "ImplicitlyDenied", {"StringEquals": {"aws:ResourceTag/env": "prod"}})
cond_case("stringequals-values-ored", "Allowed", {"StringEquals": {"aws:ResourceTag/env": ["dev", "prod"]}}, {"aws:ResourceTag/env": "prod"})
cond_case("stringequals-no-wildcards", "ImplicitlyDenied", {"StringEquals": {"aws:ResourceTag/env": "pr*"}}, {"aws:ResourceTag/env": "prod"})
cond_case("stringequals-key-case-insensitive", "Allowed", {"StringEquals": {"AWS:RESOURCETAG/ENV": "prod"}}, {"aws:ResourceTag/env": "prod"}, S_COND)
cond_case("stringnotequals-match", "Allowed", {"StringNotEquals": {"aws:ResourceTag/env": "prod"}}, {"aws:ResourceTag/env": "dev"})
cond_case("stringnotequals-equal", "ImplicitlyDenied", {"StringNotEquals": {"aws:ResourceTag/env": "prod"}}, {"aws:ResourceTag/env": "prod"})
cond_case("stringnotequals-missing-key-true", "Allowed", {"StringNotEquals": {"aws:ResourceTag/env": "prod"}})
cond_case("stringnotequals-none-of-list", "ImplicitlyDenied", {"StringNotEquals": {"aws:ResourceTag/env": ["dev", "prod"]}}, {"aws:ResourceTag/env": "prod"})
cond_case("stringnotequals-deny-missing-key", "ExplicitlyDenied", {"StringNotEquals": {"aws:ResourceTag/env": "prod"}}, effect="Deny")
cond_case("stringequalsignorecase-match", "Allowed", {"StringEqualsIgnoreCase": {"aws:ResourceTag/env": "PROD"}}, {"aws:ResourceTag/env": "prod"})
cond_case("stringequalsignorecase-mismatch", "ImplicitlyDenied", {"StringEqualsIgnoreCase": {"aws:ResourceTag/env": "prod"}}, {"aws:ResourceTag/env": "production"})
cond_case("stringnotequalsignorecase-equal", "ImplicitlyDenied", {"StringNotEqualsIgnoreCase": {"aws:ResourceTag/env": "PROD"}}, {"aws:ResourceTag/env": "prod"})
cond_case("stringnotequalsignorecase-other", "Allowed", {"StringNotEqualsIgnoreCase": {"aws:ResourceTag/env": "PROD"}}, {"aws:ResourceTag/env": "dev"})
cond_case("stringnotequalsignorecase-missing", "Allowed", {"StringNotEqualsIgnoreCase": {"aws:ResourceTag/env": "PROD"}})
cond_case("stringlike-star", "Allowed", {"StringLike": {"aws:UserAgent": "aws-cli/*"}}, {"aws:UserAgent": "aws-cli/2.15.0 Python/3.11"})
cond_case("stringlike-question", "Allowed", {"StringLike": {"aws:ResourceTag/env": "pro?"}}, {"aws:ResourceTag/env": "prod"})
cond_case("stringlike-mismatch", "ImplicitlyDenied", {"StringLike": {"aws:UserAgent": "aws-cli/*"}}, {"aws:UserAgent": "Boto3/1.34"})
cond_case("stringlike-case-sensitive", "ImplicitlyDenied", {"StringLike": {"aws:ResourceTag/env": "PROD*"}}, {"aws:ResourceTag/env": "prod"})
cond_case("stringlike-missing", "ImplicitlyDenied", {"StringLike": {"aws:UserAgent": "*"}})
cond_case("stringnotlike-match", "ImplicitlyDenied", {"StringNotLike": {"aws:UserAgent": "aws-cli/*"}}, {"aws:UserAgent": "aws-cli/2"})
cond_case("stringnotlike-other", "Allowed", {"StringNotLike": {"aws:UserAgent": "aws-cli/*"}}, {"aws:UserAgent": "Boto3/1.34"})
cond_case("stringnotlike-missing-true", "Allowed", {"StringNotLike": {"aws:UserAgent": "aws-cli/*"}})
# numeric
N = "bedrock-agentcore:MaxResults"
cond_case("numericequals-match", "Allowed", {"NumericEquals": {N: "10"}}, {N: "10"})
cond_case("numericequals-decimal", "Allowed", {"NumericEquals": {N: "10.0"}}, {N: 10})
cond_case("numericequals-mismatch", "ImplicitlyDenied", {"NumericEquals": {N: "10"}}, {N: "11"})
cond_case("numericequals-missing", "ImplicitlyDenied", {"NumericEquals": {N: "10"}})
cond_case("numericnotequals-other", "Allowed", {"NumericNotEquals": {N: "10"}}, {N: "11"})
cond_case("numericnotequals-equal", "ImplicitlyDenied", {"NumericNotEquals": {N: "10"}}, {N: "10"})
cond_case("numericnotequals-missing", "Allowed", {"NumericNotEquals": {N: "10"}})
cond_case("numericlessthan-true", "Allowed", {"NumericLessThan": {N: "10"}}, {N: "9"})
cond_case("numericlessthan-equal-false", "ImplicitlyDenied", {"NumericLessThan": {N: "10"}}, {N: "10"})
cond_case("numericlessthanequals-equal", "Allowed", {"NumericLessThanEquals": {N: "10"}}, {N: "10"})
cond_case("numericlessthanequals-greater", "ImplicitlyDenied", {"NumericLessThanEquals": {N: "10"}}, {N: "10.5"})
cond_case("numericgreaterthan-true", "Allowed", {"NumericGreaterThan": {N: "10"}}, {N: "11"})
cond_case("numericgreaterthan-false", "ImplicitlyDenied", {"NumericGreaterThan": {N: "10"}}, {N: "10"})
cond_case("numericgreaterthanequals-equal", "Allowed", {"NumericGreaterThanEquals": {N: "10"}}, {N: "10"})
cond_case("numericgreaterthanequals-less", "ImplicitlyDenied", {"NumericGreaterThanEquals": {N: "10"}}, {N: "-3"})
cond_case("numeric-json-number-value", "Allowed", {"NumericLessThan": {N: 100}}, {N: 99})
cond_case("numeric-mfa-age", "Allowed", {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}, {"aws:MultiFactorAuthAge": "120"})
cond_case("numeric-mfa-age-missing", "ImplicitlyDenied", {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}})
# date
cond_case("dateequals-match", "Allowed", {"DateEquals": {"aws:CurrentTime": T}}, {"aws:CurrentTime": T})
cond_case("dateequals-epoch-vs-iso", "Allowed", {"DateEquals": {"aws:CurrentTime": "1795780800"}}, {"aws:CurrentTime": T})
cond_case("dateequals-mismatch", "ImplicitlyDenied", {"DateEquals": {"aws:CurrentTime": "2026-11-27T12:00:01Z"}}, {"aws:CurrentTime": T})
cond_case("datenotequals-other", "Allowed", {"DateNotEquals": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}, {"aws:CurrentTime": T})
cond_case("datenotequals-equal", "ImplicitlyDenied", {"DateNotEquals": {"aws:CurrentTime": T}}, {"aws:CurrentTime": T})
cond_case("datelessthan-before", "Allowed", {"DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}}, {"aws:CurrentTime": T})
cond_case("datelessthan-after", "ImplicitlyDenied", {"DateLessThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}}, {"aws:CurrentTime": T})
cond_case("datelessthan-date-only", "Allowed", {"DateLessThan": {"aws:CurrentTime": "2026-11-28"}}, {"aws:CurrentTime": T})
cond_case("datelessthanequals-equal", "Allowed", {"DateLessThanEquals": {"aws:CurrentTime": T}}, {"aws:CurrentTime": T})
cond_case("dategreaterthan-after", "Allowed", {"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}}, {"aws:CurrentTime": T})
cond_case("dategreaterthan-before", "ImplicitlyDenied", {"DateGreaterThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}}, {"aws:CurrentTime": T})
cond_case("dategreaterthanequals-equal", "Allowed", {"DateGreaterThanEquals": {"aws:CurrentTime": T}}, {"aws:CurrentTime": T})
cond_case("date-epochtime-key", "Allowed", {"DateGreaterThan": {"aws:EpochTime": "1700000000"}}, {"aws:EpochTime": "1795780800"})
cond_case("date-window-both", "Allowed", {"DateGreaterThan": {"aws:CurrentTime": "2026-11-01T00:00:00Z"},
                                          "DateLessThan": {"aws:CurrentTime": "2026-12-01T00:00:00Z"}}, {"aws:CurrentTime": T})
cond_case("date-window-outside", "ImplicitlyDenied", {"DateGreaterThan": {"aws:CurrentTime": "2026-12-01T00:00:00Z"},
                                                      "DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}}, {"aws:CurrentTime": T})
cond_case("date-missing", "ImplicitlyDenied", {"DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}})
cond_case("date-token-issue-time-deny", "ExplicitlyDenied", {"DateLessThan": {"aws:TokenIssueTime": "2026-11-27T00:00:00Z"}},
          {"aws:TokenIssueTime": "2026-11-26T09:00:00Z"}, effect="Deny")
cond_case("date-offset-timezone", "Allowed", {"DateEquals": {"aws:CurrentTime": "2026-11-27T14:00:00+02:00"}}, {"aws:CurrentTime": T})
# bool
cond_case("bool-true", "Allowed", {"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "true"})
cond_case("bool-json-true", "Allowed", {"Bool": {"aws:SecureTransport": True}}, {"aws:SecureTransport": True})
cond_case("bool-false-mismatch", "ImplicitlyDenied", {"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "false"})
cond_case("bool-deny-insecure", "ExplicitlyDenied", {"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "false"}, effect="Deny")
cond_case("bool-deny-secure-not-applied", "Allowed", {"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "true"}, effect="Deny")
cond_case("bool-missing", "ImplicitlyDenied", {"Bool": {"aws:MultiFactorAuthPresent": "true"}})
cond_case("boolifexists-missing", "Allowed", {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}})
cond_case("boolifexists-deny-missing", "ExplicitlyDenied", {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}, effect="Deny")
cond_case("boolifexists-deny-mfa-true", "Allowed", {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
          {"aws:MultiFactorAuthPresent": "true"}, effect="Deny")
# binary
cond_case("binaryequals-match", "Allowed", {"BinaryEquals": {"bedrock-agentcore:Blob": "QmluYXJ5VmFsdWU="}}, {"bedrock-agentcore:Blob": "QmluYXJ5VmFsdWU="})
cond_case("binaryequals-mismatch", "ImplicitlyDenied", {"BinaryEquals": {"bedrock-agentcore:Blob": "QmluYXJ5VmFsdWU="}}, {"bedrock-agentcore:Blob": "T3RoZXI="})
cond_case("binaryequals-missing", "ImplicitlyDenied", {"BinaryEquals": {"bedrock-agentcore:Blob": "QmluYXJ5VmFsdWU="}})
# ip
cond_case("ipaddress-v4-in", "Allowed", {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "203.0.113.7"})
cond_case("ipaddress-v4-out", "ImplicitlyDenied", {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "198.51.100.7"})
cond_case("ipaddress-v4-bare", "Allowed", {"IpAddress": {"aws:SourceIp": "203.0.113.7"}}, {"aws:SourceIp": "203.0.113.7"})
cond_case("ipaddress-v4-bare-other", "ImplicitlyDenied", {"IpAddress": {"aws:SourceIp": "203.0.113.7"}}, {"aws:SourceIp": "203.0.113.8"})
cond_case("ipaddress-v4-odd-prefix", "Allowed", {"IpAddress": {"aws:SourceIp": "10.0.0.0/13"}}, {"aws:SourceIp": "10.7.255.1"})
cond_case("ipaddress-v4-odd-prefix-out", "ImplicitlyDenied", {"IpAddress": {"aws:SourceIp": "10.0.0.0/13"}}, {"aws:SourceIp": "10.8.0.1"})
cond_case("ipaddress-v6-in", "Allowed", {"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}, {"aws:SourceIp": "2001:db8:1234::1"})
cond_case("ipaddress-v6-out", "ImplicitlyDenied", {"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}, {"aws:SourceIp": "2001:db9::1"})
cond_case("ipaddress-v6-rule-v4-request", "ImplicitlyDenied", {"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}, {"aws:SourceIp": "203.0.113.7"})
cond_case("ipaddress-list-ored", "Allowed", {"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32", "203.0.113.0/24"]}}, {"aws:SourceIp": "203.0.113.7"})
cond_case("ipaddress-zero-prefix", "Allowed", {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}, {"aws:SourceIp": "198.51.100.1"})
cond_case("ipaddress-missing", "ImplicitlyDenied", {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}})
cond_case("notipaddress-out", "Allowed", {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "198.51.100.7"})
cond_case("notipaddress-in", "ImplicitlyDenied", {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "203.0.113.7"})
cond_case("notipaddress-deny-outside", "ExplicitlyDenied", {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]}},
          {"aws:SourceIp": "192.0.2.1"}, effect="Deny")
cond_case("notipaddress-deny-inside", "Allowed", {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]}},
          {"aws:SourceIp": "2001:db8::5"}, effect="Deny")
cond_case("notipaddress-missing-true", "Allowed", {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}})
# arn
cond_case("arnequals-principalarn", "Allowed", {"ArnEquals": {"aws:PrincipalArn": ROLE}})
cond_case("arnlike-principalarn-wildcard", "Allowed", {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{A1}:role/Agent*"}})
cond_case("arnlike-segment-wildcard-account", "Allowed", {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/AgentRole"}})
cond_case("arnlike-mismatch", "ImplicitlyDenied", {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{A1}:user/*"}})
cond_case("arnequals-case-sensitive", "ImplicitlyDenied", {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{A1}:role/agentrole"}})
cond_case("arnnotequals-other", "Allowed", {"ArnNotEquals": {"aws:PrincipalArn": f"arn:aws:iam::{A1}:role/Other"}})
cond_case("arnnotequals-same", "ImplicitlyDenied", {"ArnNotEquals": {"aws:PrincipalArn": ROLE}})
cond_case("arnnotlike-match", "ImplicitlyDenied", {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}})
cond_case("arnnotlike-other", "Allowed", {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/*"}})
cond_case("arnlike-sourcearn-missing", "ImplicitlyDenied", {"ArnLike": {"aws:SourceArn": "arn:aws:lambda:*:*:function:*"}})
cond_case("arnnotlike-sourcearn-missing", "Allowed", {"ArnNotLike": {"aws:SourceArn": "arn:aws:lambda:*:*:function:*"}})
cond_case("arnlike-sourcearn-present", "Allowed", {"ArnLike": {"aws:SourceArn": f"arn:aws:lambda:*:{A1}:function:*"}},
          {"aws:SourceArn": f"arn:aws:lambda:us-east-1:{A1}:function:my-fn"})
cond_case("arnlike-user-principal", "Allowed", {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{A1}:user/*"}}, principal=USER)
# null
cond_case("null-true-absent", "Allowed", {"Null": {"aws:TokenIssueTime": "true"}})
cond_case("null-true-present", "ImplicitlyDenied", {"Null": {"aws:TokenIssueTime": "true"}}, {"aws:TokenIssueTime": T})
cond_case("null-false-present", "Allowed", {"Null": {"aws:TokenIssueTime": "false"}}, {"aws:TokenIssueTime": T})
cond_case("null-false-absent", "ImplicitlyDenied", {"Null": {"aws:TokenIssueTime": "false"}})
cond_case("null-deny-missing-tag", "ExplicitlyDenied", {"Null": {"aws:ResourceTag/env": "true"}}, effect="Deny")
cond_case("null-json-bool", "Allowed", {"Null": {"aws:TokenIssueTime": True}})
# IfExists
cond_case("stringequalsifexists-missing", "Allowed", {"StringEqualsIfExists": {"aws:ResourceTag/env": "prod"}})
cond_case("stringequalsifexists-present-match", "Allowed", {"StringEqualsIfExists": {"aws:ResourceTag/env": "prod"}}, {"aws:ResourceTag/env": "prod"})
cond_case("stringequalsifexists-present-mismatch", "ImplicitlyDenied", {"StringEqualsIfExists": {"aws:ResourceTag/env": "prod"}}, {"aws:ResourceTag/env": "dev"})
cond_case("stringnotequalsifexists-present-equal", "ImplicitlyDenied", {"StringNotEqualsIfExists": {"aws:ResourceTag/env": "prod"}}, {"aws:ResourceTag/env": "prod"})
cond_case("stringlikeifexists-missing", "Allowed", {"StringLikeIfExists": {"aws:UserAgent": "aws-cli/*"}})
cond_case("numericlessthanifexists-missing", "Allowed", {"NumericLessThanIfExists": {N: "10"}})
cond_case("numericlessthanifexists-present-false", "ImplicitlyDenied", {"NumericLessThanIfExists": {N: "10"}}, {N: "20"})
cond_case("dategreaterthanifexists-missing", "Allowed", {"DateGreaterThanIfExists": {"aws:TokenIssueTime": "2026-01-01T00:00:00Z"}})
cond_case("ipaddressifexists-missing", "Allowed", {"IpAddressIfExists": {"aws:SourceIp": "203.0.113.0/24"}})
cond_case("ipaddressifexists-present-out", "ImplicitlyDenied", {"IpAddressIfExists": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "192.0.2.1"})
cond_case("arnlikeifexists-missing", "Allowed", {"ArnLikeIfExists": {"aws:SourceArn": "arn:aws:lambda:*:*:function:*"}})
cond_case("binaryequalsifexists-missing", "Allowed", {"BinaryEqualsIfExists": {"bedrock-agentcore:Blob": "QmluYXJ5VmFsdWU="}})
# multiple keys and operators
cond_case("two-keys-both-true", "Allowed", {"StringEquals": {"aws:ResourceTag/env": "prod", "aws:RequestedRegion": "us-east-1"}}, {"aws:ResourceTag/env": "prod"}, S_COND)
cond_case("two-keys-one-false", "ImplicitlyDenied", {"StringEquals": {"aws:ResourceTag/env": "prod", "aws:RequestedRegion": "eu-west-1"}}, {"aws:ResourceTag/env": "prod"}, S_COND)
cond_case("two-operators-both-true", "Allowed", {"StringEquals": {"aws:ResourceTag/env": "prod"}, "IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
          {"aws:ResourceTag/env": "prod", "aws:SourceIp": "203.0.113.9"}, S_COND)
cond_case("two-operators-one-false", "ImplicitlyDenied", {"StringEquals": {"aws:ResourceTag/env": "prod"}, "IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
          {"aws:ResourceTag/env": "prod", "aws:SourceIp": "192.0.2.9"}, S_COND)
cond_case("server-filled-requested-region", "Allowed", {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}, source=S_KEYS)
cond_case("server-filled-resource-account", "Allowed", {"StringEquals": {"aws:ResourceAccount": A1}}, source=S_KEYS)
cond_case("server-filled-principal-account", "Allowed", {"StringEquals": {"aws:PrincipalAccount": A1}}, source=S_KEYS)
cond_case("server-filled-username-absent-for-role", "ImplicitlyDenied", {"StringLike": {"aws:username": "*"}}, source=S_KEYS)
cond_case("server-filled-username-user", "Allowed", {"StringEquals": {"aws:username": "alice"}}, source=S_KEYS, principal=USER)
cond_case("context-overrides-filled-key", "ImplicitlyDenied", {"StringEquals": {"aws:RequestedRegion": "us-east-1"}},
          {"aws:RequestedRegion": "eu-west-1"}, S_KEYS)
# multivalued keys
TK = "aws:TagKeys"
cond_case("forallvalues-subset", "Allowed", {"ForAllValues:StringEquals": {TK: ["env", "team", "cost"]}}, {TK: ["env", "team"]}, S_MULTI)
cond_case("forallvalues-extra-value", "ImplicitlyDenied", {"ForAllValues:StringEquals": {TK: ["env", "team"]}}, {TK: ["env", "owner"]}, S_MULTI)
cond_case("forallvalues-missing-key-true", "Allowed", {"ForAllValues:StringEquals": {TK: ["env"]}}, source=S_MULTI)
cond_case("forallvalues-empty-list-true", "Allowed", {"ForAllValues:StringEquals": {TK: ["env"]}}, {TK: []}, S_MULTI)
cond_case("forallvalues-with-null-guard-missing", "ImplicitlyDenied", {"ForAllValues:StringEquals": {TK: ["env"]}, "Null": {TK: "false"}}, source=S_MULTI)
cond_case("forallvalues-stringlike", "Allowed", {"ForAllValues:StringLike": {TK: ["team-*"]}}, {TK: ["team-a", "team-b"]}, S_MULTI)
cond_case("forallvalues-stringnotequals-none-forbidden", "Allowed", {"ForAllValues:StringNotEquals": {TK: ["secret"]}}, {TK: ["env", "team"]}, S_MULTI)
cond_case("forallvalues-stringnotequals-one-forbidden", "ImplicitlyDenied", {"ForAllValues:StringNotEquals": {TK: ["secret"]}}, {TK: ["env", "secret"]}, S_MULTI)
cond_case("foranyvalue-one-matches", "Allowed", {"ForAnyValue:StringEquals": {TK: ["env"]}}, {TK: ["owner", "env"]}, S_MULTI)
cond_case("foranyvalue-none-matches", "ImplicitlyDenied", {"ForAnyValue:StringEquals": {TK: ["env"]}}, {TK: ["owner", "team"]}, S_MULTI)
cond_case("foranyvalue-missing-key-false", "ImplicitlyDenied", {"ForAnyValue:StringEquals": {TK: ["env"]}}, source=S_MULTI)
cond_case("foranyvalue-empty-list-false", "ImplicitlyDenied", {"ForAnyValue:StringEquals": {TK: ["env"]}}, {TK: []}, S_MULTI)
cond_case("foranyvalue-deny-forbidden-tag", "ExplicitlyDenied", {"ForAnyValue:StringEquals": {TK: ["secret"]}}, {TK: ["env", "secret"]}, S_MULTI, effect="Deny")
cond_case("foranyvalue-stringnotequals-one-other", "Allowed", {"ForAnyValue:StringNotEquals": {TK: ["env"]}}, {TK: ["env", "team"]}, S_MULTI)
cond_case("foranyvalue-stringnotequals-all-equal", "ImplicitlyDenied", {"ForAnyValue:StringNotEquals": {TK: ["env"]}}, {TK: ["env"]}, S_MULTI)
cond_case("foranyvalue-stringlike", "Allowed", {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": ["o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*"]}},
          {"aws:PrincipalOrgPaths": ["o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/ou-ab12-22222222/"]}, S_MULTI)
cond_case("foranyvalue-calledvia-missing", "ImplicitlyDenied", {"ForAnyValue:StringEquals": {"aws:CalledVia": ["cloudformation.amazonaws.com"]}}, source=S_MULTI)
cond_case("forallvalues-ignorecase", "Allowed", {"ForAllValues:StringEqualsIgnoreCase": {TK: ["ENV", "TEAM"]}}, {TK: ["env"]}, S_MULTI)
# variables
V = "decisions"
case(V, "var-username-resource", "Allowed", S_VARS, [pol(st(resource=f"arn:aws:bedrock-agentcore:us-east-1:{A1}:gateway/${{aws:username}}"))],
     principal=USER, resource=f"arn:aws:bedrock-agentcore:us-east-1:{A1}:gateway/alice")
case(V, "var-username-other-resource", "ImplicitlyDenied", S_VARS, [pol(st(resource=f"arn:aws:bedrock-agentcore:us-east-1:{A1}:gateway/${{aws:username}}"))],
     principal=USER, resource=f"arn:aws:bedrock-agentcore:us-east-1:{A1}:gateway/bob")
case(V, "var-username-missing-for-role", "ImplicitlyDenied", S_VARS, [pol(st(resource=f"arn:aws:bedrock-agentcore:us-east-1:{A1}:gateway/${{aws:username}}"))],
     resource=f"arn:aws:bedrock-agentcore:us-east-1:{A1}:gateway/alice")
case(V, "var-username-prefix-wildcard", "Allowed", S_VARS, [pol(st(resource=f"arn:aws:bedrock-agentcore:us-east-1:{A1}:gateway/${{aws:username}}-*"))],
     principal=USER, resource=f"arn:aws:bedrock-agentcore:us-east-1:{A1}:gateway/alice-dev")
case(V, "var-version-2008-literal", "ImplicitlyDenied", S_VARS,
     [pol(st(resource=f"arn:aws:bedrock-agentcore:us-east-1:{A1}:gateway/${{aws:username}}"), version="2008-10-17")],
     principal=USER, resource=f"arn:aws:bedrock-agentcore:us-east-1:{A1}:gateway/alice")
case(V, "var-version-2008-matches-literal-text", "Allowed", S_VERSION,
     [pol(st(resource=f"arn:aws:bedrock-agentcore:us-east-1:{A1}:gateway/${{aws:username}}"), version="2008-10-17")],
     principal=USER, resource=f"arn:aws:bedrock-agentcore:us-east-1:{A1}:gateway/${{aws:username}}")
case(V, "var-no-version-literal", "ImplicitlyDenied", S_VERSION,
     [pol(st(resource=f"arn:aws:bedrock-agentcore:us-east-1:{A1}:gateway/${{aws:username}}"), version=None)],
     principal=USER, resource=f"arn:aws:bedrock-agentcore:us-east-1:{A1}:gateway/alice")
case(V, "var-principal-tag-condition", "Allowed", S_VARS,
     [pol(st(cond={"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}))],
     ctx={"aws:PrincipalTag/team": "blue", "aws:ResourceTag/team": "blue"})
case(V, "var-principal-tag-condition-mismatch", "ImplicitlyDenied", S_VARS,
     [pol(st(cond={"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}))],
     ctx={"aws:PrincipalTag/team": "blue", "aws:ResourceTag/team": "red"})
case(V, "var-principal-tag-missing", "ImplicitlyDenied", S_VARS,
     [pol(st(cond={"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}))],
     ctx={"aws:ResourceTag/team": "blue"})
case(V, "var-default-value-used", "Allowed", S_VARS,
     [pol(st(cond={"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team, 'company-wide'}"}}))],
     ctx={"aws:ResourceTag/team": "company-wide"})
case(V, "var-default-value-ignored-when-present", "ImplicitlyDenied", S_VARS,
     [pol(st(cond={"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team, 'company-wide'}"}}))],
     ctx={"aws:PrincipalTag/team": "blue", "aws:ResourceTag/team": "company-wide"})
case(V, "var-literal-star-escape", "ImplicitlyDenied", S_VARS,
     [pol(st(cond={"StringLike": {"aws:ResourceTag/name": "a${*}"}}))], ctx={"aws:ResourceTag/name": "abc"})
case(V, "var-literal-star-escape-exact", "Allowed", S_VARS,
     [pol(st(cond={"StringLike": {"aws:ResourceTag/name": "a${*}"}}))], ctx={"aws:ResourceTag/name": "a*"})
case(V, "var-literal-dollar-escape", "Allowed", S_VARS,
     [pol(st(cond={"StringEquals": {"aws:ResourceTag/name": "${$}{x}"}}))], ctx={"aws:ResourceTag/name": "${x}"})
case(V, "var-userid-condition", "Allowed", S_VARS,
     [pol(st(cond={"StringLike": {"aws:userid": "AROAEXAMPLEID:*"}}))], extra={"uniqueId": "AROAEXAMPLEID"})
case(V, "var-principal-account-in-resource", "Allowed", S_VARS,
     [pol(st(resource="arn:aws:bedrock-agentcore:us-east-1:${aws:PrincipalAccount}:gateway/*"))])
case(V, "var-key-name-case-insensitive", "Allowed", S_VARS,
     [pol(st(resource=f"arn:aws:bedrock-agentcore:us-east-1:{A1}:gateway/${{AWS:UserName}}"))],
     principal=USER, resource=f"arn:aws:bedrock-agentcore:us-east-1:{A1}:gateway/alice")
case(V, "var-value-wildcard-is-literal", "ImplicitlyDenied", S_VARS,
     [pol(st(resource=f"arn:aws:bedrock-agentcore:us-east-1:{A1}:gateway/${{aws:PrincipalTag/gw}}"))],
     ctx={"aws:PrincipalTag/gw": "*"})
case(V, "var-in-arnlike-condition", "Allowed", S_VARS,
     [pol(st(cond={"ArnLike": {"aws:SourceArn": "arn:aws:lambda:*:${aws:PrincipalAccount}:function:*"}}))],
     ctx={"aws:SourceArn": f"arn:aws:lambda:us-east-1:{A1}:function:f"})
case(V, "var-2008-condition-literal", "ImplicitlyDenied", S_VARS,
     [pol(st(cond={"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}), version="2008-10-17")],
     ctx={"aws:PrincipalTag/team": "blue", "aws:ResourceTag/team": "blue"})
case(V, "var-deny-with-tag-mismatch", "ExplicitlyDenied", S_VARS,
     [ALLOW, pol(st("Deny", cond={"StringNotEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}))],
     ctx={"aws:PrincipalTag/team": "blue", "aws:ResourceTag/team": "red"})

total = 0
for g, lst in cases.items():
    with open(f"{g}.json", "w") as f:
        json.dump(lst, f, indent=1)
        f.write("\n")
    total += len(lst)
print(total, "cases")
