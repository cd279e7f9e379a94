// AgentCore control plane (bedrock-agentcore-control) with the unchanged AWS SDK: gateways,
// targets, resource policies, tags; validation, errors, lifecycle, pagination, idempotency,
// authorization, quotas, restarts (clean and kill -9), and boto3 when importable.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  BedrockAgentCoreControlClient,
  CreateGatewayCommand, GetGatewayCommand, ListGatewaysCommand, UpdateGatewayCommand,
  DeleteGatewayCommand, CreateGatewayTargetCommand, GetGatewayTargetCommand,
  ListGatewayTargetsCommand, UpdateGatewayTargetCommand, DeleteGatewayTargetCommand,
  SynchronizeGatewayTargetsCommand, PutResourcePolicyCommand, GetResourcePolicyCommand,
  DeleteResourcePolicyCommand, TagResourceCommand, UntagResourceCommand,
  ListTagsForResourceCommand, ListAgentRuntimesCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import { defaultAccounts, sharedStore, startServer } from './lib/server.mjs';
import { makeClient, sendSigned } from './lib/aws.mjs';
import { boto3Env, boto3Python } from './lib/python.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const A = '111122223333';
const B = '444455556666';

const TRUST = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'bedrock-agentcore.amazonaws.com' },
    Action: 'sts:AssumeRole' }],
};
const LAMBDA_TRUST = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' },
    Action: 'sts:AssumeRole' }],
};

function accountsWithRoles() {
  const accounts = defaultAccounts();
  for (const a of accounts) {
    a.roles = {
      gwrole: { name: 'gwrole', assumeRolePolicyDocument: TRUST },
      lambdarole: { name: 'lambdarole', assumeRolePolicyDocument: LAMBDA_TRUST },
    };
  }
  // a user allowed to manage gateways but not to pass roles
  const ops = accounts[0];
  ops.users.nopass = {
    name: 'nopass', path: '/', arn: `arn:aws:iam::${A}:user/nopass`,
    ...defaultAccounts()[0].users.dev,
    inlinePolicies: {
      gw: { Version: '2012-10-17', Statement: [
        { Effect: 'Allow', Action: 'bedrock-agentcore:*', Resource: '*' }] },
    },
  };
  ops.users.nopass.name = 'nopass';
  ops.users.nopass.arn = `arn:aws:iam::${A}:user/nopass`;
  // a user who may not create NONE gateways (condition key)
  ops.users.strict = {
    ...defaultAccounts()[0].users.dev,
    name: 'strict', path: '/', arn: `arn:aws:iam::${A}:user/strict`,
    inlinePolicies: {
      gw: { Version: '2012-10-17', Statement: [
        { Effect: 'Allow', Action: ['bedrock-agentcore:*', 'iam:PassRole'], Resource: '*' },
        { Effect: 'Deny', Action: 'bedrock-agentcore:CreateGateway', Resource: '*',
          Condition: { StringEquals: { 'bedrock-agentcore:GatewayAuthorizerType': 'NONE' } } }] },
    },
  };
  return accounts;
}

const roleArn = (acct, name = 'gwrole') => `arn:aws:iam::${acct}:role/${name}`;

function tool(name, extra = {}) {
  return {
    name,
    description: `the ${name} tool`,
    inputSchema: { type: 'object', properties: { x: { type: 'string', description: 'x' } },
      required: ['x'] },
    ...extra,
  };
}

function lambdaTarget(name, tools = [tool('echo')], extra = {}) {
  return {
    name,
    targetConfiguration: { mcp: { lambda: {
      lambdaArn: `arn:aws:lambda:us-east-1:${A}:function:echo`,
      toolSchema: { inlinePayload: tools },
    } } },
    credentialProviderConfigurations: [{ credentialProviderType: 'GATEWAY_IAM_ROLE' }],
    ...extra,
  };
}

async function expectError(p, name, status) {
  try {
    await p;
  } catch (e) {
    assert.equal(e.name, name, `expected ${name}, got ${e.name}: ${e.message}`);
    if (status) assert.equal(e.$metadata?.httpStatusCode, status);
    return e;
  }
  assert.fail(`expected ${name} but the call succeeded`);
}

async function waitStatus(client, input, want, Cmd = GetGatewayCommand, timeoutMs = 5000) {
  const t0 = Date.now();
  for (;;) {
    const r = await client.send(new Cmd(input));
    if (Array.isArray(want) ? want.includes(r.status) : r.status === want) return r;
    if (Date.now() - t0 > timeoutMs) assert.fail(`still ${r.status}, wanted ${want}`);
    await sleep(50);
  }
}

async function waitGone(client, input, Cmd = GetGatewayCommand, timeoutMs = 5000) {
  const t0 = Date.now();
  for (;;) {
    try {
      await client.send(new Cmd(input));
    } catch (e) {
      if (e.name === 'ResourceNotFoundException') return;
      throw e;
    }
    if (Date.now() - t0 > timeoutMs) assert.fail('resource not deleted in time');
    await sleep(50);
  }
}

let gw;
let accounts;
let root;
let rootB;

before(async () => {
  accounts = accountsWithRoles();
  gw = await startServer({ accounts });
  root = makeClient(BedrockAgentCoreControlClient, gw, accounts[0].root);
  rootB = makeClient(BedrockAgentCoreControlClient, gw, accounts[1].root);
});

after(async () => {
  await gw?.stop();
});

describe('gateways', () => {
  test('create, poll until READY, get, shapes', async () => {
    const r = await root.send(new CreateGatewayCommand({
      name: 'TestGWforLambda', roleArn: roleArn(A), protocolType: 'MCP', authorizerType: 'AWS_IAM',
      description: 'demo', protocolConfiguration: { mcp: { supportedVersions: ['2025-06-18'],
        instructions: 'be nice', searchType: 'SEMANTIC' } },
      tags: { env: 'test' },
    }));
    assert.equal(r.$metadata.httpStatusCode, 202);
    assert.equal(r.status, 'CREATING');
    assert.match(r.gatewayId, /^testgwforlambda-[a-z0-9]{10}$/);
    assert.equal(r.gatewayArn, `arn:aws:bedrock-agentcore:us-east-1:${A}:gateway/${r.gatewayId}`);
    assert.equal(r.gatewayUrl, `${gw.endpoint}/gateways/${r.gatewayId}/mcp`);
    assert.ok(r.createdAt instanceof Date && !Number.isNaN(r.createdAt.getTime()));
    assert.ok(r.updatedAt instanceof Date);
    assert.equal(r.name, 'TestGWforLambda');
    assert.equal(r.authorizerType, 'AWS_IAM');
    assert.equal(r.protocolConfiguration.mcp.searchType, 'SEMANTIC');
    assert.match(r.workloadIdentityDetails.workloadIdentityArn, /workload-identity\/TestGWforLambda-/);
    const ready = await waitStatus(root, { gatewayIdentifier: r.gatewayId }, 'READY');
    assert.equal(ready.description, 'demo');
    assert.equal(ready.statusReasons, undefined);
    // by ARN too
    const byArn = await root.send(new GetGatewayCommand({ gatewayIdentifier: r.gatewayArn }));
    assert.equal(byArn.gatewayId, r.gatewayId);
    // raw wire: RFC 3339 strings, trailing slash optional
    const raw = await sendSigned(gw, accounts[0].root, { method: 'GET',
      path: `/gateways/${r.gatewayId}`, service: 'bedrock-agentcore' });
    assert.equal(raw.status, 200, raw.text);
    const body = JSON.parse(raw.text);
    assert.match(body.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);
    assert.equal(body._tags, undefined);
    await root.send(new DeleteGatewayCommand({ gatewayIdentifier: r.gatewayId }));
    await waitGone(root, { gatewayIdentifier: r.gatewayId });
  });

  test('validation errors carry reason and fieldList', async () => {
    const e = await expectError(root.send(new CreateGatewayCommand({
      name: 'bad name!', roleArn: 'nope', authorizerType: 'AWS_IAM' })), 'ValidationException', 400);
    assert.equal(e.reason, 'FieldValidationFailed');
    const names = e.fieldList.map((f) => f.name).sort();
    assert.deepEqual(names, ['name', 'roleArn']);
    assert.match(e.message, /^2 validation errors detected: /);
    const rules = [
      [{ authorizerType: 'CUSTOM_JWT' }, /AuthorizerConfiguration is required for CUSTOM_JWT/],
      [{ authorizerType: 'NONE', authorizerConfiguration: { customJWTAuthorizer: {
        discoveryUrl: 'https://x/.well-known/openid-configuration', allowedClients: ['a'] } } },
      /AuthorizerConfiguration should be null for NONE AuthorizerType/],
      [{ authorizerType: 'AWS_IAM', protocolConfiguration: { mcp: { supportedVersions: ['1999-01-01'] } } },
        /Unsupported MCP Version\(s\) are provided in request/],
      [{ authorizerType: 'AWS_IAM', interceptorConfigurations: [
        { interceptor: { lambda: { arn: `arn:aws:lambda:us-east-1:${A}:function:a` } }, interceptionPoints: ['REQUEST'] },
        { interceptor: { lambda: { arn: `arn:aws:lambda:us-east-1:${A}:function:b` } }, interceptionPoints: ['REQUEST'] }] },
      /Only one interceptor configuration per interception point/],
    ];
    for (const [extra, re] of rules) {
      const err = await expectError(root.send(new CreateGatewayCommand({
        name: 'rules', roleArn: roleArn(A), ...extra })), 'ValidationException', 400);
      assert.match(err.message, re);
    }
    // a union with two members, sent raw (the SDK would refuse it)
    const raw = await sendSigned(gw, accounts[0].root, { method: 'POST', path: '/gateways/',
      service: 'bedrock-agentcore', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'u', roleArn: roleArn(A), authorizerType: 'CUSTOM_JWT',
        authorizerConfiguration: { customJWTAuthorizer: { discoveryUrl: 'https://x/.well-known/openid-configuration' }, other: {} } }) });
    assert.equal(raw.status, 400);
    assert.equal(raw.headers.get('x-amzn-errortype'), 'ValidationException');
    assert.match(JSON.parse(raw.text).message, /Union must have exactly one member/);
  });

  test('missing role, untrusted role, PassRole', async () => {
    const e = await expectError(root.send(new CreateGatewayCommand({
      name: 'norole', roleArn: roleArn(A, 'missing'), authorizerType: 'AWS_IAM' })),
    'ValidationException');
    assert.match(e.message, /does not exist/);
    const r = await root.send(new CreateGatewayCommand({
      name: 'untrusted', roleArn: roleArn(A, 'lambdarole'), authorizerType: 'AWS_IAM' }));
    const failed = await waitStatus(root, { gatewayIdentifier: r.gatewayId }, 'FAILED');
    assert.match(failed.statusReasons[0], /not authorized to perform AssumeRole/);
    await root.send(new DeleteGatewayCommand({ gatewayIdentifier: r.gatewayId }));
    const nopass = makeClient(BedrockAgentCoreControlClient, gw, accounts[0].users.nopass);
    const d = await expectError(nopass.send(new CreateGatewayCommand({
      name: 'nopass', roleArn: roleArn(A), authorizerType: 'AWS_IAM' })), 'AccessDeniedException', 403);
    assert.match(d.message, /iam:PassRole/);
  });

  test('access denied for a user without permissions, condition keys, other accounts', async () => {
    const dev = makeClient(BedrockAgentCoreControlClient, gw, accounts[0].users.dev);
    const e = await expectError(dev.send(new ListGatewaysCommand({})), 'AccessDeniedException', 403);
    assert.match(e.message, /not authorized to perform: bedrock-agentcore:ListGateways/);
    const strict = makeClient(BedrockAgentCoreControlClient, gw, accounts[0].users.strict);
    await expectError(strict.send(new CreateGatewayCommand({
      name: 'open', roleArn: roleArn(A), authorizerType: 'NONE' })), 'AccessDeniedException');
    const ok = await strict.send(new CreateGatewayCommand({
      name: 'strictok', roleArn: roleArn(A), authorizerType: 'AWS_IAM' }));
    // account B cannot read account A's gateway by ARN
    await expectError(rootB.send(new GetGatewayCommand({ gatewayIdentifier: ok.gatewayArn })),
      'AccessDeniedException');
    // and does not see it by id (ids resolve in the caller's account)
    await expectError(rootB.send(new GetGatewayCommand({ gatewayIdentifier: ok.gatewayId })),
      'ResourceNotFoundException', 404);
    await root.send(new DeleteGatewayCommand({ gatewayIdentifier: ok.gatewayId }));
  });

  test('names are unique per account; conflict; not found', async () => {
    const r = await root.send(new CreateGatewayCommand({
      name: 'unique', roleArn: roleArn(A), authorizerType: 'AWS_IAM' }));
    await expectError(root.send(new CreateGatewayCommand({
      name: 'unique', roleArn: roleArn(A), authorizerType: 'AWS_IAM' })), 'ConflictException', 409);
    // another account may use the name
    const b = await rootB.send(new CreateGatewayCommand({
      name: 'unique', roleArn: roleArn(B), authorizerType: 'AWS_IAM' }));
    await rootB.send(new DeleteGatewayCommand({ gatewayIdentifier: b.gatewayId }));
    await root.send(new DeleteGatewayCommand({ gatewayIdentifier: r.gatewayId }));
    // the name is free once the gateway is being deleted
    const again = await root.send(new CreateGatewayCommand({
      name: 'unique', roleArn: roleArn(A), authorizerType: 'AWS_IAM' }));
    assert.notEqual(again.gatewayId, r.gatewayId);
    await expectError(root.send(new CreateGatewayCommand({
      name: 'unique', roleArn: roleArn(A), authorizerType: 'AWS_IAM' })), 'ConflictException', 409);
    await root.send(new DeleteGatewayCommand({ gatewayIdentifier: again.gatewayId }));
    await waitGone(root, { gatewayIdentifier: again.gatewayId });
    await waitGone(root, { gatewayIdentifier: r.gatewayId });
    await expectError(root.send(new GetGatewayCommand({ gatewayIdentifier: r.gatewayId })),
      'ResourceNotFoundException', 404);
    await expectError(root.send(new DeleteGatewayCommand({ gatewayIdentifier: r.gatewayId })),
      'ResourceNotFoundException', 404);
    await expectError(root.send(new GetGatewayCommand({ gatewayIdentifier: 'NOT_AN_ID' })),
      'ValidationException', 400);
  });

  test('update: full PUT, UPDATING then READY, name and searchType fixed', async () => {
    const r = await root.send(new CreateGatewayCommand({
      name: 'upd', roleArn: roleArn(A), authorizerType: 'AWS_IAM', description: 'one' }));
    await waitStatus(root, { gatewayIdentifier: r.gatewayId }, 'READY');
    const u = await root.send(new UpdateGatewayCommand({
      gatewayIdentifier: r.gatewayId, name: 'upd', roleArn: roleArn(A), authorizerType: 'CUSTOM_JWT',
      authorizerConfiguration: { customJWTAuthorizer: {
        discoveryUrl: 'http://127.0.0.1:9/.well-known/openid-configuration', allowedClients: ['c1'] } },
      exceptionLevel: 'DEBUG' }));
    assert.equal(u.$metadata.httpStatusCode, 202);
    assert.equal(u.status, 'UPDATING');
    // nothing listens on port 9: the discovery document cannot be fetched
    const g = await waitStatus(root, { gatewayIdentifier: r.gatewayId }, 'UPDATE_UNSUCCESSFUL');
    assert.match(g.statusReasons[0], /^Unable to fetch the OpenID configuration from http:\/\/127\.0\.0\.1:9\//);
    assert.equal(g.authorizerType, 'CUSTOM_JWT');
    assert.equal(g.description, undefined, 'omitted members are cleared');
    assert.equal(g.exceptionLevel, 'DEBUG');
    assert.equal(g.createdAt.getTime(), r.createdAt.getTime());
    await expectError(root.send(new UpdateGatewayCommand({
      gatewayIdentifier: r.gatewayId, name: 'other', roleArn: roleArn(A), authorizerType: 'AWS_IAM' })),
    'ValidationException');
    // an untrusted role: UPDATE_UNSUCCESSFUL
    await root.send(new UpdateGatewayCommand({
      gatewayIdentifier: r.gatewayId, name: 'upd', roleArn: roleArn(A, 'lambdarole'), authorizerType: 'AWS_IAM' }));
    const bad = await waitStatus(root, { gatewayIdentifier: r.gatewayId }, 'UPDATE_UNSUCCESSFUL');
    assert.ok(bad.statusReasons.length === 1);
    await root.send(new DeleteGatewayCommand({ gatewayIdentifier: r.gatewayId }));
  });

  test('idempotent create with clientToken', async () => {
    const token = 'a'.repeat(8) + '-1111-2222-3333-444455556666';
    const input = { name: 'idem', roleArn: roleArn(A), authorizerType: 'AWS_IAM', clientToken: token };
    const r1 = await root.send(new CreateGatewayCommand(input));
    const r2 = await root.send(new CreateGatewayCommand(input));
    assert.equal(r2.gatewayId, r1.gatewayId);
    const e = await expectError(root.send(new CreateGatewayCommand({ ...input, description: 'x' })),
      'ValidationException');
    assert.equal(e.reason, 'IdempotentParameterMismatchException');
    // the token is another account's to use as well
    const rb = await rootB.send(new CreateGatewayCommand({ ...input, roleArn: roleArn(B) }));
    assert.notEqual(rb.gatewayId, r1.gatewayId);
    await rootB.send(new DeleteGatewayCommand({ gatewayIdentifier: rb.gatewayId }));
    await root.send(new DeleteGatewayCommand({ gatewayIdentifier: r1.gatewayId }));
    // once the gateway is gone, the same request creates a new gateway (its token row went
    // with it), and a retry of that request answers the new one
    await waitGone(root, { gatewayIdentifier: r1.gatewayId });
    const r3 = await root.send(new CreateGatewayCommand(input));
    assert.notEqual(r3.gatewayId, r1.gatewayId);
    assert.equal((await root.send(new CreateGatewayCommand(input))).gatewayId, r3.gatewayId);
    await root.send(new DeleteGatewayCommand({ gatewayIdentifier: r3.gatewayId }));
    await waitGone(root, { gatewayIdentifier: r3.gatewayId });
  });

  test('pagination across several pages', async () => {
    const ids = [];
    for (let i = 0; i < 7; i++) {
      const r = await rootB.send(new CreateGatewayCommand({
        name: `page${i}`, roleArn: roleArn(B), authorizerType: 'AWS_IAM' }));
      ids.push(r.gatewayId);
    }
    const seen = [];
    let nextToken;
    let pages = 0;
    do {
      const r = await rootB.send(new ListGatewaysCommand({ maxResults: 3, nextToken }));
      assert.ok(r.items.length <= 3);
      for (const it of r.items) {
        assert.ok(it.gatewayId && it.name && it.status && it.authorizerType);
        assert.ok(it.createdAt instanceof Date);
        seen.push(it.gatewayId);
      }
      nextToken = r.nextToken;
      pages++;
    } while (nextToken);
    assert.ok(pages >= 3);
    assert.deepEqual([...seen].sort(), [...ids].sort());
    // on the wire: compact JSON written from each gateway's text kept with the snapshot, the
    // same bytes on every call, and the same items as GetGateway's documents
    const listRaw = async (q) => sendSigned(gw, accounts[1].root, { method: 'GET',
      path: `/gateways/?${q}`, service: 'bedrock-agentcore' });
    const first = await listRaw('maxResults=2');
    assert.equal(first.status, 200, first.text);
    assert.equal(first.text, JSON.stringify(JSON.parse(first.text)));
    const page = JSON.parse(first.text);
    assert.deepEqual(Object.keys(page), ['items', 'nextToken']);
    assert.equal(page.nextToken, page.items[1].gatewayId);
    assert.equal((await listRaw('maxResults=2')).text, first.text);
    const rest = JSON.parse((await listRaw(`maxResults=1000&nextToken=${page.nextToken}`)).text);
    assert.equal(rest.nextToken, undefined);
    assert.deepEqual([...page.items, ...rest.items].map((it) => it.gatewayId).sort(), [...ids].sort());
    for (const it of page.items) {
      const get = await sendSigned(gw, accounts[1].root, { method: 'GET',
        path: `/gateways/${it.gatewayId}`, service: 'bedrock-agentcore' });
      assert.equal(get.text, JSON.stringify(JSON.parse(get.text)));
      const doc = JSON.parse(get.text);
      for (const [k, v] of Object.entries(it)) assert.deepEqual(doc[k], v, k);
      assert.match(doc.gatewayUrl, new RegExp(`/gateways/${it.gatewayId}/mcp$`));
    }
    await expectError(rootB.send(new ListGatewaysCommand({ maxResults: 0 })), 'ValidationException');
    for (const id of ids) await rootB.send(new DeleteGatewayCommand({ gatewayIdentifier: id }));
  });
});

describe('targets', () => {
  let g;
  before(async () => {
    g = await root.send(new CreateGatewayCommand({
      name: 'withtargets', roleArn: roleArn(A), authorizerType: 'AWS_IAM' }));
    await waitStatus(root, { gatewayIdentifier: g.gatewayId }, 'READY');
  });

  test('create lambda target, READY, get, list, update, synchronize', async () => {
    const t = await root.send(new CreateGatewayTargetCommand({
      gatewayIdentifier: g.gatewayId, ...lambdaTarget('calc', [tool('add'), tool('sub')]) }));
    assert.equal(t.$metadata.httpStatusCode, 202);
    assert.match(t.targetId, /^[0-9A-Z]{10}$/);
    assert.equal(t.status, 'CREATING');
    assert.equal(t.gatewayArn, g.gatewayArn);
    assert.equal(t.targetConfiguration.mcp.lambda.toolSchema.inlinePayload.length, 2);
    const ready = await waitStatus(root, { gatewayIdentifier: g.gatewayId, targetId: t.targetId },
      'READY', GetGatewayTargetCommand);
    assert.equal(ready.credentialProviderConfigurations[0].credentialProviderType, 'GATEWAY_IAM_ROLE');
    // gateway ARN as identifier (as AWS's Python SDK does)
    const byArn = await root.send(new GetGatewayTargetCommand({ gatewayIdentifier: g.gatewayArn,
      targetId: t.targetId }));
    assert.equal(byArn.name, 'calc');
    const list = await root.send(new ListGatewayTargetsCommand({ gatewayIdentifier: g.gatewayId }));
    assert.equal(list.items.length, 1);
    assert.equal(list.items[0].targetId, t.targetId);
    const u = await root.send(new UpdateGatewayTargetCommand({
      gatewayIdentifier: g.gatewayId, targetId: t.targetId, ...lambdaTarget('calc', [tool('mul')]) }));
    assert.equal(u.status, 'UPDATING');
    const after = await waitStatus(root, { gatewayIdentifier: g.gatewayId, targetId: t.targetId },
      'READY', GetGatewayTargetCommand);
    assert.equal(after.targetConfiguration.mcp.lambda.toolSchema.inlinePayload[0].name, 'mul');
    const s = await root.send(new SynchronizeGatewayTargetsCommand({
      gatewayIdentifier: g.gatewayId, targetIdList: [t.targetId] }));
    assert.equal(s.$metadata.httpStatusCode, 202);
    assert.equal(s.targets[0].status, 'SYNCHRONIZING');
    await waitStatus(root, { gatewayIdentifier: g.gatewayId, targetId: t.targetId }, 'READY',
      GetGatewayTargetCommand);
    // a gateway with targets cannot be deleted; deleting the target first works at once
    await expectError(root.send(new DeleteGatewayCommand({ gatewayIdentifier: g.gatewayId })),
      'ConflictException', 409);
  });

  test('target validation and unsupported kinds', async () => {
    const cases = [
      [lambdaTarget('empty', []), /No Lambda tool schema found in target configuration/],
      [{ ...lambdaTarget('oauth'), credentialProviderConfigurations: [{ credentialProviderType: 'OAUTH',
        credentialProvider: { oauthCredentialProvider: { providerArn: 'arn:aws:x:us-east-1:111122223333:p', scopes: [] } } }] },
      /Lambda target only supports GATEWAY_IAM_ROLE/],
      [{ name: 'ag', targetConfiguration: { mcp: { apiGateway: { restApiId: 'a1', stage: 'prod',
        apiGatewayToolConfiguration: { toolFilters: [{ filterPath: '/pets', methods: ['GET'] }] } } } },
        credentialProviderConfigurations: [{ credentialProviderType: 'API_KEY', credentialProvider: {
          apiKeyCredentialProvider: { providerArn: 'arn:aws:x:us-east-1:111122223333:p' } } }] },
      /API Gateway targets \(targetConfiguration\.mcp\.apiGateway\) are not supported by mcpgate; its targets are lambda, openApiSchema, smithyModel and mcpServer \(describe the REST API with an openApiSchema target\)/],
      [{ name: 'rt', targetConfiguration: { http: { agentcoreRuntime: { arn: `arn:aws:bedrock-agentcore:us-east-1:${A}:runtime/r-abcdefghij` } } } },
      /AgentCore Runtime targets \(targetConfiguration\.http\.agentcoreRuntime\) are not supported by mcpgate/],
      [{ name: 'ms', targetConfiguration: { mcp: { mcpServer: { endpoint: 'https://x.example.com/mcp',
        mcpToolSchema: { inlinePayload: '{"tools":[]}' } } } } },
      /mcpToolSchema is supported only when the credential provider is configured with an authorization code grant type/],
      [{ name: 's3', targetConfiguration: { mcp: { lambda: { lambdaArn: `arn:aws:lambda:us-east-1:${A}:function:f`,
        toolSchema: { s3: { uri: 's3://b/k' } } } } },
      credentialProviderConfigurations: [{ credentialProviderType: 'GATEWAY_IAM_ROLE' }] }, /S3 tool schemas/],
      [lambdaTarget('ref', [tool('r', { inputSchema: { type: 'object', properties: { a: { $ref: '#/x' } } } })]),
        /\$ref is not supported/],
      [lambdaTarget('bad_name'), /regular expression pattern/],
    ];
    for (const [input, re] of cases) {
      const raw = await sendSigned(gw, accounts[0].root, { method: 'POST',
        path: `/gateways/${g.gatewayId}/targets/`, service: 'bedrock-agentcore',
        headers: { 'content-type': 'application/json' }, body: JSON.stringify(input) });
      assert.equal(raw.status, 400, raw.text);
      assert.equal(raw.headers.get('x-amzn-errortype'), 'ValidationException');
      assert.match(JSON.parse(raw.text).message, re);
    }
    // duplicate tools: accepted, then FAILED with a reason
    const dup = await root.send(new CreateGatewayTargetCommand({
      gatewayIdentifier: g.gatewayId, ...lambdaTarget('dup', [tool('a'), tool('a')]) }));
    const failed = await waitStatus(root, { gatewayIdentifier: g.gatewayId, targetId: dup.targetId },
      'FAILED', GetGatewayTargetCommand);
    assert.deepEqual(failed.statusReasons, ['Duplicate tool found in target configuration']);
    await root.send(new DeleteGatewayTargetCommand({ gatewayIdentifier: g.gatewayId, targetId: dup.targetId }));
    // unique names per gateway
    await expectError(root.send(new CreateGatewayTargetCommand({
      gatewayIdentifier: g.gatewayId, ...lambdaTarget('calc') })), 'ConflictException', 409);
    await expectError(root.send(new GetGatewayTargetCommand({
      gatewayIdentifier: g.gatewayId, targetId: 'ABCDEFGHIJ' })), 'ResourceNotFoundException', 404);
  });

  test('delete target then gateway at once', async () => {
    const list = await root.send(new ListGatewayTargetsCommand({ gatewayIdentifier: g.gatewayId }));
    for (const t of list.items) {
      const d = await root.send(new DeleteGatewayTargetCommand({ gatewayIdentifier: g.gatewayId,
        targetId: t.targetId }));
      assert.equal(d.$metadata.httpStatusCode, 202);
      assert.equal(d.status, 'DELETING');
    }
    const d = await root.send(new DeleteGatewayCommand({ gatewayIdentifier: g.gatewayId }));
    assert.equal(d.status, 'DELETING');
    assert.equal(d.gatewayId, g.gatewayId);
    await waitGone(root, { gatewayIdentifier: g.gatewayId });
  });
});

describe('resource policies and tags', () => {
  let g;
  before(async () => {
    g = await root.send(new CreateGatewayCommand({
      name: 'policied', roleArn: roleArn(A), authorizerType: 'AWS_IAM', tags: { team: 'a' } }));
  });
  after(async () => {
    await root.send(new DeleteGatewayCommand({ gatewayIdentifier: g.gatewayId }));
  });

  test('put, get, delete a resource policy', async () => {
    await expectError(root.send(new GetResourcePolicyCommand({ resourceArn: g.gatewayArn })),
      'ResourceNotFoundException', 404);
    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${B}:root` }, Action: 'bedrock-agentcore:InvokeGateway',
      Resource: g.gatewayArn }] });
    const p = await root.send(new PutResourcePolicyCommand({ resourceArn: g.gatewayArn, policy }));
    assert.equal(p.$metadata.httpStatusCode, 201);
    assert.equal(p.policy, policy);
    const got = await root.send(new GetResourcePolicyCommand({ resourceArn: g.gatewayArn }));
    assert.equal(got.policy, policy);
    for (const bad of [
      { Resource: '*' },
      { Action: 'bedrock-agentcore:GetGateway' },
      { Principal: undefined },
    ]) {
      const st = { Effect: 'Allow', Principal: '*', Action: 'bedrock-agentcore:InvokeGateway',
        Resource: g.gatewayArn, ...bad };
      await expectError(root.send(new PutResourcePolicyCommand({ resourceArn: g.gatewayArn,
        policy: JSON.stringify({ Version: '2012-10-17', Statement: [st] }) })), 'ValidationException', 400);
    }
    await expectError(root.send(new PutResourcePolicyCommand({ resourceArn: g.gatewayArn,
      policy: '{not json' })), 'ValidationException');
    const d = await root.send(new DeleteResourcePolicyCommand({ resourceArn: g.gatewayArn }));
    assert.equal(d.$metadata.httpStatusCode, 204);
    await expectError(root.send(new DeleteResourcePolicyCommand({ resourceArn: g.gatewayArn })),
      'ResourceNotFoundException');
    const missing = g.gatewayArn.replace(/-[a-z0-9]{10}$/, '-zzzzzzzzzz');
    await expectError(root.send(new GetResourcePolicyCommand({ resourceArn: missing })),
      'ResourceNotFoundException');
  });

  test('tags round trip', async () => {
    let t = await root.send(new ListTagsForResourceCommand({ resourceArn: g.gatewayArn }));
    assert.deepEqual(t.tags, { team: 'a' });
    const r = await root.send(new TagResourceCommand({ resourceArn: g.gatewayArn,
      tags: { env: 'prod', 'cost center': '42' } }));
    assert.equal(r.$metadata.httpStatusCode, 204);
    t = await root.send(new ListTagsForResourceCommand({ resourceArn: g.gatewayArn }));
    assert.deepEqual(t.tags, { team: 'a', env: 'prod', 'cost center': '42' });
    await root.send(new UntagResourceCommand({ resourceArn: g.gatewayArn,
      tagKeys: ['team', 'cost center'] }));
    t = await root.send(new ListTagsForResourceCommand({ resourceArn: g.gatewayArn }));
    assert.deepEqual(t.tags, { env: 'prod' });
    await expectError(root.send(new TagResourceCommand({ resourceArn: g.gatewayArn,
      tags: { 'bad*key': 'x' } })), 'ValidationException');
    await expectError(root.send(new ListTagsForResourceCommand({
      resourceArn: `arn:aws:bedrock-agentcore:us-east-1:${A}:gateway/nope-abcdefghij` })),
    'ResourceNotFoundException');
  });
});

describe('unsupported operations', () => {
  test('answer 501 NotImplementedException with a clear message', async () => {
    const e = await expectError(root.send(new ListAgentRuntimesCommand({})),
      'NotImplementedException', 501);
    assert.match(e.message, /mcpgate does not implement/);
  });
});

describe('quotas', () => {
  test('ServiceQuotaExceededException (402) past the configured gateway quota', async () => {
    const small = await startServer({ accounts: accountsWithRoles(),
      env: { MCPGATE_MAX_GATEWAYS_PER_ACCOUNT: '2', MCPGATE_MAX_TARGETS_PER_GATEWAY: '1' } });
    try {
      const c = makeClient(BedrockAgentCoreControlClient, small, small.accounts[0].root);
      const g1 = await c.send(new CreateGatewayCommand({ name: 'q1', roleArn: roleArn(A), authorizerType: 'AWS_IAM' }));
      await c.send(new CreateGatewayCommand({ name: 'q2', roleArn: roleArn(A), authorizerType: 'AWS_IAM' }));
      const e = await expectError(c.send(new CreateGatewayCommand({
        name: 'q3', roleArn: roleArn(A), authorizerType: 'AWS_IAM' })), 'ServiceQuotaExceededException', 402);
      assert.match(e.message, /maximum number of gateways/);
      // a gateway being deleted no longer counts
      const q2 = (await c.send(new ListGatewaysCommand({}))).items.find((g) => g.name === 'q2');
      await c.send(new DeleteGatewayCommand({ gatewayIdentifier: q2.gatewayId }));
      const q3 = await c.send(new CreateGatewayCommand({ name: 'q3', roleArn: roleArn(A), authorizerType: 'AWS_IAM' }));
      assert.equal(q3.name, 'q3');
      await expectError(c.send(new CreateGatewayCommand({
        name: 'q4', roleArn: roleArn(A), authorizerType: 'AWS_IAM' })), 'ServiceQuotaExceededException', 402);
      await c.send(new CreateGatewayTargetCommand({ gatewayIdentifier: g1.gatewayId, ...lambdaTarget('t1') }));
      await expectError(c.send(new CreateGatewayTargetCommand({
        gatewayIdentifier: g1.gatewayId, ...lambdaTarget('t2') })), 'ServiceQuotaExceededException', 402);
    } finally {
      await small.stop();
    }
  });
});

describe('restarts', () => {
  test('state survives a clean restart and kill -9; nothing stays CREATING', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mcpgate-ac-'));
    const data = path.join(dir, 'data');
    const accts = accountsWithRoles();
    const shared = await sharedStore();
    let s;
    try {
      s = await startServer({ accounts: accts, args: ['--data', data], ...shared.opts });
      let c = makeClient(BedrockAgentCoreControlClient, s, accts[0].root);
      const g = await c.send(new CreateGatewayCommand({ name: 'persist', roleArn: roleArn(A),
        authorizerType: 'AWS_IAM', tags: { k: 'v' } }));
      await waitStatus(c, { gatewayIdentifier: g.gatewayId }, 'READY');
      const t = await c.send(new CreateGatewayTargetCommand({ gatewayIdentifier: g.gatewayId,
        ...lambdaTarget('t') }));
      await waitStatus(c, { gatewayIdentifier: g.gatewayId, targetId: t.targetId }, 'READY',
        GetGatewayTargetCommand);
      await s.stop();
      s = await startServer({ accounts: accts, args: ['--data', data], ...shared.opts });
      c = makeClient(BedrockAgentCoreControlClient, s, accts[0].root);
      const again = await c.send(new GetGatewayCommand({ gatewayIdentifier: g.gatewayId }));
      assert.equal(again.status, 'READY');
      assert.equal(again.gatewayUrl, `${s.endpoint}/gateways/${g.gatewayId}/mcp`);
      const tags = await c.send(new ListTagsForResourceCommand({ resourceArn: g.gatewayArn }));
      assert.deepEqual(tags.tags, { k: 'v' });
      // kill -9 right after a create: the new gateway ends READY after the restart
      const g2 = await c.send(new CreateGatewayCommand({ name: 'crash', roleArn: roleArn(A),
        authorizerType: 'AWS_IAM' }));
      process.kill(s.pid, 'SIGKILL');
      await s.stop();
      s = await startServer({ accounts: accts, args: ['--data', data], ...shared.opts });
      c = makeClient(BedrockAgentCoreControlClient, s, accts[0].root);
      // on a shared store the killed server's lease on the background work lasts until it
      // expires (10 s, docs/postgresql.md) before the new one takes over
      const r2 = await waitStatus(c, { gatewayIdentifier: g2.gatewayId }, 'READY', GetGatewayCommand,
        s.store ? 20000 : 5000);
      assert.equal(r2.name, 'crash');
      const tt = await c.send(new GetGatewayTargetCommand({ gatewayIdentifier: g.gatewayId,
        targetId: t.targetId }));
      assert.equal(tt.status, 'READY');
      await s.stop();
    } finally {
      await s?.stop();
      await rm(dir, { recursive: true, force: true });
      await shared.drop();
    }
  });
});

describe('boto3', () => {
  test('core flow with boto3', async () => {
    const { python } = boto3Python();
    const script = `
import boto3, time, json, sys
c = boto3.client('bedrock-agentcore-control', endpoint_url=sys.argv[1], region_name='us-east-1',
                 aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])
g = c.create_gateway(name='boto', roleArn=sys.argv[4], authorizerType='AWS_IAM', protocolType='MCP')
for _ in range(100):
    s = c.get_gateway(gatewayIdentifier=g['gatewayId'])['status']
    if s == 'READY': break
    time.sleep(0.05)
assert s == 'READY', s
t = c.create_gateway_target(gatewayIdentifier=g['gatewayId'], name='t', targetConfiguration={'mcp': {'lambda': {
    'lambdaArn': 'arn:aws:lambda:us-east-1:111122223333:function:f',
    'toolSchema': {'inlinePayload': [{'name': 'x', 'description': 'd', 'inputSchema': {'type': 'object'}}]}}}},
    credentialProviderConfigurations=[{'credentialProviderType': 'GATEWAY_IAM_ROLE'}])
items = c.list_gateway_targets(gatewayIdentifier=g['gatewayId'])['items']
assert len(items) == 1
try:
    c.create_gateway(name='bad name', roleArn=sys.argv[4], authorizerType='AWS_IAM')
    raise SystemExit('no error')
except c.exceptions.ValidationException as e:
    assert e.response['fieldList'][0]['name'] == 'name'
c.delete_gateway_target(gatewayIdentifier=g['gatewayId'], targetId=t['targetId'])
c.delete_gateway(gatewayIdentifier=g['gatewayId'])
print('ok')
`;
    const r = spawnSync(python, ['-c', script, gw.endpoint, accounts[0].root.accessKeyId,
      accounts[0].root.secretAccessKey, roleArn(A)], { encoding: 'utf8', env: boto3Env() });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /ok/);
  });
});

// keep writeFile imported for future fixtures
void writeFile;
