// Conditions cannot be truncated away: tags at AWS's maxima (50 per session, per user or role,
// per resource, per request) all reach the policy engine, and more than AWS allows is refused.
// Each attack below got in when the context held 64 keys, 32 tag names and 20 request tags.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import {
  CreateRoleCommand, CreateUserCommand, IAMClient, ListUsersCommand, PutRolePolicyCommand,
  TagUserCommand,
} from '@aws-sdk/client-iam';
import {
  BedrockAgentCoreControlClient, CreateGatewayCommand, GetGatewayCommand, ListGatewaysCommand,
  TagResourceCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import { defaultAccounts, startServer } from './lib/server.mjs';
import { makeClient } from './lib/aws.mjs';
import { signedFetch } from './lib/mcp.mjs';

const A = '111122223333';
const allowAll = (action, extra = {}) => ({ Effect: 'Allow', Action: action, Resource: '*', ...extra });
const doc = (...Statement) => ({ Version: '2012-10-17', Statement });

/** n tags: k1..k(n-1) = v, then last = value (last in the list, past every old limit). */
function tagList(n, lastKey, lastValue, prefix = 'k') {
  const out = [];
  for (let i = 1; i < n; i++) out.push({ Key: `${prefix}${i}`, Value: 'v' });
  out.push({ Key: lastKey, Value: lastValue });
  return out;
}
const tagMap = (list) => Object.fromEntries(list.map((t) => [t.Key, t.Value]));

async function refused(promise, names) {
  const want = [].concat(names);
  try {
    await promise;
  } catch (e) {
    assert.ok(want.includes(e.name), `expected ${want.join(' or ')}, got ${e.name}: ${e.message}`);
    return e;
  }
  assert.fail(`the call succeeded but should have failed with ${want.join(' or ')}`);
}

let gw;
let accounts;
let dev;
let root;

before(async () => {
  accounts = defaultAccounts();
  const a = accounts[0];
  a.users.dev.inlinePolicies = {
    p: doc(
      allowAll(['sts:AssumeRole', 'sts:TagSession', 'bedrock-agentcore:*']),
      allowAll('iam:TagUser', { Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['Project'] } } }),
      { Effect: 'Deny', Action: 'bedrock-agentcore:TagResource', Resource: '*',
        Condition: { StringEquals: { 'aws:RequestTag/protected': 'true' } } },
    ),
  };
  a.roles = {
    project: {
      name: 'project',
      assumeRolePolicyDocument: doc(
        { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:root` }, Action: 'sts:AssumeRole' },
        { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:root` }, Action: 'sts:TagSession',
          Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['Project'] } } },
      ),
      inlinePolicies: {
        admins: doc(allowAll('iam:*', { Condition: { StringEquals: { 'aws:PrincipalTag/team': 'admins' } } })),
      },
    },
    gwrole: {
      name: 'gwrole',
      assumeRolePolicyDocument: doc({ Effect: 'Allow', Principal: { Service: 'bedrock-agentcore.amazonaws.com' },
        Action: 'sts:AssumeRole' }),
    },
  };
  gw = await startServer({ accounts });
  dev = a.users.dev;
  root = a.root;
  // the caller's own tags (aws:PrincipalTag) take room in the context too
  await makeClient(IAMClient, gw, root).send(new TagUserCommand({
    UserName: 'dev', Tags: tagList(10, 'dept', 'eng', 'u'),
  }));
});

after(async () => {
  await gw?.stop();
});

describe('session tags (sts:TagSession, aws:TagKeys)', () => {
  const assume = (tags) => makeClient(STSClient, gw, dev).send(new AssumeRoleCommand({
    RoleArn: `arn:aws:iam::${A}:role/project`, RoleSessionName: 'sess', Tags: tags,
  }));

  test('the trust policy admits the one allowed key', async () => {
    const r = await assume([{ Key: 'Project', Value: 'x' }]);
    assert.ok(r.Credentials.SessionToken);
  });

  test('team=admins among 50 tags is refused: aws:TagKeys holds all 50', async () => {
    const tags = tagList(50, 'team', 'admins');
    tags.unshift(tags.pop()); // team first, as in the report; the 50th key is k49
    await refused(assume(tags), 'AccessDenied');
    await refused(assume(tagList(50, 'team', 'admins')), 'AccessDenied');
  });

  test('more than 50 session tags is a validation error', async () => {
    const e = await refused(assume(tagList(51, 'Project', 'x')), 'ValidationError');
    assert.match(e.message, /less than or equal to 50/);
  });
});

describe('request tags on iam:TagUser', () => {
  before(async () => {
    await makeClient(IAMClient, gw, root).send(new CreateUserCommand({ UserName: 'victim' }));
  });
  const tagUser = (tags, key = dev) => makeClient(IAMClient, gw, key).send(new TagUserCommand({
    UserName: 'victim', Tags: tags,
  }));

  test('team=admins among 50 tags is refused', async () => {
    await tagUser([{ Key: 'Project', Value: 'x' }]);
    await refused(tagUser(tagList(50, 'team', 'admins')), 'AccessDenied');
    const t = tagList(50, 'team', 'admins');
    t.unshift(t.pop());
    await refused(tagUser(t), 'AccessDenied');
  });

  test('more than 50 tags in a request, or on the user, is refused', async () => {
    await refused(tagUser(tagList(51, 'a', 'b'), root), 'ValidationError');
    await tagUser(tagList(48, 'a', 'b', 'r'), root); // 49 with Project
    await refused(tagUser(tagList(2, 'c', 'd', 'x'), root), ['LimitExceeded', 'LimitExceededException']);
  });

  test('a session of a role whose policy needs team=admins has no iam:* without it', async () => {
    const r = await makeClient(STSClient, gw, dev).send(new AssumeRoleCommand({
      RoleArn: `arn:aws:iam::${A}:role/project`, RoleSessionName: 'sess', Tags: [{ Key: 'Project', Value: 'x' }],
    }));
    const session = { accessKeyId: r.Credentials.AccessKeyId, secretAccessKey: r.Credentials.SecretAccessKey,
      sessionToken: r.Credentials.SessionToken };
    await refused(makeClient(IAMClient, gw, session).send(new ListUsersCommand({})), 'AccessDenied');
  });
});

describe('gateways: aws:RequestTag and aws:ResourceTag at 50 tags', () => {
  let ctl;
  let prod;
  let dev2;
  before(async () => {
    ctl = makeClient(BedrockAgentCoreControlClient, gw, root);
    const mk = (name) => ctl.send(new CreateGatewayCommand({
      name, roleArn: `arn:aws:iam::${A}:role/gwrole`, protocolType: 'MCP', authorizerType: 'AWS_IAM',
    }));
    prod = await mk('prodgw');
    dev2 = await mk('devgw');
  });

  test('a Deny on aws:RequestTag/protected=true holds when protected is the 50th tag', async () => {
    const devCtl = makeClient(BedrockAgentCoreControlClient, gw, dev);
    await refused(devCtl.send(new TagResourceCommand({
      resourceArn: prod.gatewayArn, tags: tagMap(tagList(50, 'protected', 'true')),
    })), 'AccessDeniedException');
    const t = tagList(49, 'protected', 'false');
    await devCtl.send(new TagResourceCommand({ resourceArn: prod.gatewayArn,
      tags: { ...tagMap(t), env: 'prod' } }));
    await devCtl.send(new TagResourceCommand({ resourceArn: dev2.gatewayArn,
      tags: { ...tagMap(t), env: 'dev' } }));
  });

  test('a Deny on aws:ResourceTag/env=prod holds with 50 role, 50 session and 50 gateway tags', async () => {
    const iam = makeClient(IAMClient, gw, root);
    await iam.send(new CreateRoleCommand({
      RoleName: 'tagged',
      AssumeRolePolicyDocument: JSON.stringify(doc(
        { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A}:root` }, Action: ['sts:AssumeRole', 'sts:TagSession'] })),
      Tags: tagList(50, 'team', 'ops', 'rt'),
    }));
    await iam.send(new PutRolePolicyCommand({
      RoleName: 'tagged', PolicyName: 'p',
      PolicyDocument: JSON.stringify(doc(
        allowAll('bedrock-agentcore:*'),
        { Effect: 'Deny', Action: ['bedrock-agentcore:GetGateway', 'bedrock-agentcore:InvokeGateway'],
          Resource: '*', Condition: { StringEquals: { 'aws:ResourceTag/env': 'prod' } } })),
    }));
    const r = await makeClient(STSClient, gw, dev).send(new AssumeRoleCommand({
      RoleArn: `arn:aws:iam::${A}:role/tagged`, RoleSessionName: 'sess', Tags: tagList(50, 'x', 'y', 'st'),
    }));
    const session = { accessKeyId: r.Credentials.AccessKeyId, secretAccessKey: r.Credentials.SecretAccessKey,
      sessionToken: r.Credentials.SessionToken };
    const sctl = makeClient(BedrockAgentCoreControlClient, gw, session);
    await refused(sctl.send(new GetGatewayCommand({ gatewayIdentifier: prod.gatewayId })),
      'AccessDeniedException');
    // the same session reads the gateway tagged env=dev: the context is whole, not refused wholesale
    const g = await sctl.send(new GetGatewayCommand({ gatewayIdentifier: dev2.gatewayId }));
    assert.equal(g.gatewayId, dev2.gatewayId);
    const list = await sctl.send(new ListGatewaysCommand({}));
    assert.ok(list.items.length >= 2);

    // the data plane: InvokeGateway on the MCP endpoint, decided on the same context
    const fetchSigned = signedFetch(session);
    const initialize = (url) => fetchSigned(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {
        protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'e2e', version: '1' } } }),
    });
    for (const g of [prod, dev2]) {
      const t0 = Date.now();
      while ((await ctl.send(new GetGatewayCommand({ gatewayIdentifier: g.gatewayId }))).status !== 'READY') {
        assert.ok(Date.now() - t0 < 5000, 'gateway not READY');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const denied = await initialize(prod.gatewayUrl);
    assert.equal(denied.status, 403, await denied.text());
    const ok = await initialize(dev2.gatewayUrl);
    assert.equal(ok.status, 200, await ok.text());
  });

  test('more than 50 tags on a gateway is refused', async () => {
    await refused(ctl.send(new TagResourceCommand({ resourceArn: dev2.gatewayArn, tags: { extra: 'x' } })),
      'ServiceQuotaExceededException');
    await refused(ctl.send(new TagResourceCommand({ resourceArn: dev2.gatewayArn,
      tags: tagMap(tagList(51, 'a', 'b')) })), 'ValidationException');
  });
});
