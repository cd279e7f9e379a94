// Every operation of the five served models answers: each one is sent with the AWS SDK for
// JavaScript v3 (raw SigV4 for streaming ones), its required members filled with minimal values
// derived from the model, by an account's root. The answer is either implemented (a success, or
// an AWS error other than the not-implemented one) or the not-implemented answer: HTTP 501
// NotImplementedException (rest-json) / NotImplemented (query) naming the operation. Never 404
// UnknownOperationException, InvalidAction, a 5xx other than that 501, or an answer the SDK
// cannot read. The models are the repository's (models/, models/server-only/).
// MCPGATE_COVERAGE_DUMP=FILE appends every answer to FILE as JSON lines.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { startServer } from './lib/server.mjs';
import { makeClient } from './lib/aws.mjs';
import { SERVICES, isStreaming, loadModel, minimalInput, modelPath, sendRaw } from './lib/models.mjs';

const CONCURRENCY = 8;
const TIMEOUT_MS = 15000;

// Errors that say "no such operation" or "something broke" rather than answering the operation.
const FORBIDDEN = new Set([
  'UnknownOperationException', 'InvalidAction', 'InternalFailure', 'InternalError',
  'InternalServerError', 'InternalServerException', 'ServiceUnavailable', 'ServiceUnavailableException',
  'ServiceException', 'UnknownError', 'Unknown', 'Error', 'SyntaxError', 'TypeError',
]);

// Errors that say the request was not authenticated.
const AUTH_ERRORS = new Set([
  'MissingAuthenticationToken', 'MissingAuthenticationTokenException', 'IncompleteSignature',
  'IncompleteSignatureException', 'InvalidClientTokenId', 'SignatureDoesNotMatch',
  'UnrecognizedClientException', 'InvalidSignatureException',
]);

// The operations mcpgate serves today (docs/api-coverage.md): none of them may answer 501.
const SERVED = {
  'bedrock-agentcore-control': [
    'CreateGateway', 'GetGateway', 'ListGateways', 'UpdateGateway', 'DeleteGateway',
    'CreateGatewayTarget', 'GetGatewayTarget', 'ListGatewayTargets', 'UpdateGatewayTarget',
    'DeleteGatewayTarget', 'SynchronizeGatewayTargets', 'PutResourcePolicy', 'GetResourcePolicy',
    'DeleteResourcePolicy', 'TagResource', 'UntagResource', 'ListTagsForResource',
    'CreateApiKeyCredentialProvider', 'GetApiKeyCredentialProvider', 'UpdateApiKeyCredentialProvider',
    'DeleteApiKeyCredentialProvider', 'ListApiKeyCredentialProviders', 'CreateOauth2CredentialProvider',
    'GetOauth2CredentialProvider', 'UpdateOauth2CredentialProvider', 'DeleteOauth2CredentialProvider',
    'ListOauth2CredentialProviders', 'CreateWorkloadIdentity', 'GetWorkloadIdentity',
    'UpdateWorkloadIdentity', 'DeleteWorkloadIdentity', 'ListWorkloadIdentities', 'GetTokenVault',
    'SetTokenVaultCMK',
  ],
  // the Gateway's data plane is MCP at each gatewayUrl, outside the model; AgentCore Identity's is
  'bedrock-agentcore': [
    'GetWorkloadAccessToken', 'GetWorkloadAccessTokenForJWT', 'GetWorkloadAccessTokenForUserId',
    'GetResourceApiKey',
  ],
  iam: [
    'AttachRolePolicy', 'AttachUserPolicy', 'CreateAccessKey', 'CreatePolicy', 'CreatePolicyVersion',
    'CreateRole', 'CreateUser', 'DeleteAccessKey', 'DeletePolicy', 'DeletePolicyVersion', 'DeleteRole',
    'DeleteRolePermissionsBoundary', 'DeleteRolePolicy', 'DeleteUser', 'DeleteUserPermissionsBoundary',
    'DeleteUserPolicy', 'DetachRolePolicy', 'DetachUserPolicy', 'GetPolicy', 'GetPolicyVersion', 'GetRole',
    'GetRolePolicy', 'GetUser', 'GetUserPolicy', 'ListAccessKeys', 'ListAttachedRolePolicies',
    'ListAttachedUserPolicies', 'ListPolicies', 'ListPolicyVersions', 'ListRolePolicies', 'ListRoleTags',
    'ListRoles', 'ListUserPolicies', 'ListUserTags', 'ListUsers', 'PutRolePermissionsBoundary',
    'PutRolePolicy', 'PutUserPermissionsBoundary', 'PutUserPolicy', 'SetDefaultPolicyVersion', 'TagRole',
    'TagUser', 'UntagRole', 'UntagUser', 'UpdateAccessKey', 'UpdateAssumeRolePolicy', 'UpdateRole',
    'UpdateRoleDescription',
  ],
  sts: ['AssumeRole', 'GetCallerIdentity'],
  lambda: [
    'AddPermission', 'CreateFunction', 'DeleteFunction', 'GetFunction', 'GetFunctionConfiguration',
    'GetPolicy', 'Invoke', 'ListFunctions', 'RemovePermission', 'UpdateFunctionCode',
    'UpdateFunctionConfiguration',
  ],
};

// Operations known to answer wrongly today, and how. The test fails when the set changes: when
// one of these is fixed, remove it here.
const KNOWN_WRONG = {
  'bedrock-agentcore-control': {},
  'bedrock-agentcore': {},
  iam: {},
  sts: {},
  lambda: {},
};

let gw;
let key;

before(async () => {
  gw = await startServer();
  key = gw.accounts[0].root;
});

after(async () => {
  await gw?.stop();
});

// Read-only operations first, then the rest, and the ones that remove things last, so that
// what one operation creates does not disappear under another that runs earlier.
function phase(op) {
  if (/^(Get|List|Describe|Search|Simulate|Generate)/.test(op)) return 0;
  if (/^(Delete|Remove|Detach|Disassociate|Untag|Deactivate|Stop|Disable|Reset|Revoke)/.test(op)) return 2;
  return 1;
}

async function pool(items, n, fn) {
  let next = 0;
  const workers = Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]);
    }
  });
  await Promise.all(workers);
}

/** {status, name, message, via} of one operation's answer. */
async function call(svc, sdk, client, model, op) {
  const input = minimalInput(model, op);
  const Command = sdk[`${op}Command`];
  if (!Command || isStreaming(model, op)) {
    try {
      return { ...(await sendRaw(gw, key, model, op, input, TIMEOUT_MS)), via: 'raw' };
    } catch (e) {
      return { status: null, name: e.name, message: e.message, via: 'raw' };
    }
  }
  try {
    const out = await client.send(new Command(input), { abortSignal: AbortSignal.timeout(TIMEOUT_MS) });
    return { status: out.$metadata?.httpStatusCode ?? 200, name: null, message: null, via: 'sdk' };
  } catch (e) {
    return {
      status: e.$metadata?.httpStatusCode ?? null, name: e.name ?? null, message: e.message ?? null,
      via: 'sdk',
    };
  }
}

/** 'implemented', 'not implemented', or a string that says what is wrong. */
function classify(model, op, r) {
  const protocol = model.metadata.protocol;
  const notImpl = protocol === 'query' ? 'NotImplemented' : 'NotImplementedException';
  if (r.status === 501 || r.name === notImpl) {
    if (r.status !== 501) return `${r.name} with HTTP ${r.status} (want 501)`;
    if (r.name !== notImpl) return `HTTP 501 named ${r.name} (want ${notImpl})`;
    if (!r.message?.includes(op)) return `501 whose message does not name ${op}: ${r.message}`;
    return 'not implemented';
  }
  if (r.status === null) return `no HTTP answer: ${r.name}: ${r.message}`;
  if (r.status >= 200 && r.status < 300) return 'implemented';
  if (!r.name) return `HTTP ${r.status} without an error name`;
  if (FORBIDDEN.has(r.name)) return `HTTP ${r.status} ${r.name}: ${r.message}`;
  if (r.status >= 500) return `HTTP ${r.status} ${r.name}: ${r.message}`;
  if (r.status === 404 && /UnknownOperation/.test(r.name)) return `HTTP 404 ${r.name}`;
  if (model.operations[op].authtype === 'none' && AUTH_ERRORS.has(r.name)) {
    return `unsigned in the model but refused as unauthenticated: HTTP ${r.status} ${r.name}: ${r.message}`;
  }
  // every path the test sends is one the model defines
  if (/request path could not be decoded/i.test(r.message ?? '')) return `HTTP ${r.status} ${r.name}: ${r.message}`;
  return 'implemented';
}

describe('every operation of the served models answers', () => {
  for (const svc of SERVICES) {
    test(`${svc.name}: implemented or 501 not implemented, for every operation`, async (t) => {
      assert.ok(modelPath(svc), `no model under ${svc.dir}/<version>/service-2.json`);
      const model = loadModel(svc);
      const sdk = await import(svc.pkg);
      const client = makeClient(sdk[svc.client], gw, key, { disableHostPrefix: true });
      const ops = Object.keys(model.operations).sort((a, b) => phase(a) - phase(b) || a.localeCompare(b));
      assert.ok(ops.length > 0);
      const results = new Map();
      const started = Date.now();
      for (const p of [0, 1, 2]) {
        await pool(ops.filter((op) => phase(op) === p), CONCURRENCY, async (op) => {
          const r = await call(svc, sdk, client, model, op);
          results.set(op, { ...r, verdict: classify(model, op, r) });
        });
      }
      client.destroy();
      if (process.env.MCPGATE_COVERAGE_DUMP) {
        appendFileSync(process.env.MCPGATE_COVERAGE_DUMP, ops.map((op) => JSON.stringify({
          service: svc.name, op, ...results.get(op) })).join('\n') + '\n');
      }
      const implemented = ops.filter((op) => results.get(op).verdict === 'implemented');
      const notImplemented = ops.filter((op) => results.get(op).verdict === 'not implemented');
      const wrong = ops.filter((op) => !['implemented', 'not implemented'].includes(results.get(op).verdict));
      t.diagnostic(`${svc.name}: ${ops.length} operations, ${implemented.length} implemented, `
        + `${notImplemented.length} not implemented (${Date.now() - started} ms)`);
      const known = KNOWN_WRONG[svc.name];
      const unexpected = wrong.filter((op) => !known[op]?.test(results.get(op).verdict));
      assert.deepEqual(unexpected.map((op) => `${op} (${results.get(op).via}): ${results.get(op).verdict}`), [],
        `${svc.name}: operations answered neither as implemented nor as not implemented`);
      const fixed = Object.keys(known).filter((op) => !wrong.includes(op));
      assert.deepEqual(fixed, [], `${svc.name}: these answer correctly now: remove them from KNOWN_WRONG`);
      // the data plane model has nothing mcpgate serves (its MCP endpoint is not in the model)
      if (svc.name !== 'bedrock-agentcore') assert.ok(implemented.length > 0, `${svc.name}: no operation is implemented`);
      const regressed = SERVED[svc.name].filter((op) => results.get(op)?.verdict !== 'implemented');
      assert.deepEqual(regressed.map((op) => `${op}: ${results.get(op)?.verdict ?? 'not in the model'}`), [],
        `${svc.name}: operations mcpgate serves did not answer as implemented`);
      assert.ok(gw.alive(), 'the server stopped');
    });
  }
});

test('the server is still up and stops cleanly', async () => {
  assert.ok(gw.alive());
  const st = await gw.stop();
  assert.equal(st.code, 0, gw.stderr().slice(-2000));
});
