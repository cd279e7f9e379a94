// Cross-account access to a gateway with real IAM: identity policies, the gateway's resource
// policy, explicit denies, and a Lambda target in another account (AddPermission for the gateway
// role). Callers are role sessions made with STS AssumeRole by each account's user `dev`.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DeleteResourcePolicyCommand, PutResourcePolicyCommand } from '@aws-sdk/client-bedrock-agentcore-control';
import { AddPermissionCommand } from '@aws-sdk/client-lambda';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import {
  REGION, connect, control, createEchoFunction, createGateway, createLambdaTarget, lambda, mcpAccounts, startMcpServer,
} from './lib/mcp.mjs';

let gw;
let A;
let B;
let gateway;
const sessions = {};

const doc = (...Statement) => ({ Version: '2012-10-17', Statement });
const trustRoot = (id) => doc({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${id}:root` }, Action: 'sts:AssumeRole' });
const invoke = (Effect = 'Allow') => ({ Effect, Action: 'bedrock-agentcore:InvokeGateway', Resource: '*' });

async function assume(acct, role) {
  const sts = new STSClient({ region: REGION, endpoint: gw.endpoint, maxAttempts: 2,
    credentials: { accessKeyId: acct.users.dev.accessKeyId, secretAccessKey: acct.users.dev.secretAccessKey } });
  const out = await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${acct.id}:role/${role}`, RoleSessionName: role }));
  const c = out.Credentials;
  return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken };
}

/** tools/list as a caller: the number of tools, or the HTTP status of the refusal. */
async function list(who) {
  try {
    const { client } = await connect(gateway.gatewayUrl, sessions[who]);
    const r = await client.listTools();
    await client.close();
    return r.tools.length;
  } catch (e) {
    const m = /\b(4\d\d)\b/.exec(String(e?.code ?? '') + ' ' + String(e?.message ?? e));
    return m ? Number(m[1]) : String(e?.message ?? e);
  }
}

async function putPolicy(...statements) {
  await control(gw, A.root).send(new PutResourcePolicyCommand({
    resourceArn: gateway.gatewayArn,
    policy: JSON.stringify(doc(...statements.map((s) => ({ Action: 'bedrock-agentcore:InvokeGateway', Resource: gateway.gatewayArn, ...s })))),
  }));
}

before(async () => {
  const accounts = mcpAccounts();
  [A, B] = accounts;
  for (const acct of accounts) {
    acct.users.dev.inlinePolicies = { assume: doc({ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }) };
    Object.assign(acct.roles, {
      Invoker: { name: 'Invoker', assumeRolePolicyDocument: trustRoot(acct.id), inlinePolicies: { p: doc(invoke()) } },
      Invoker2: { name: 'Invoker2', assumeRolePolicyDocument: trustRoot(acct.id), inlinePolicies: { p: doc(invoke()) } },
      Plain: { name: 'Plain', assumeRolePolicyDocument: trustRoot(acct.id) },
      SelfDeny: { name: 'SelfDeny', assumeRolePolicyDocument: trustRoot(acct.id), inlinePolicies: { p: doc(invoke(), invoke('Deny')) } },
    });
  }
  gw = await startMcpServer({ accounts });
  const fn = await createEchoFunction(gw, A);
  gateway = await createGateway(gw, A, { exceptionLevel: 'DEBUG' });
  await createLambdaTarget(gw, A, gateway.gatewayId, 'echo', fn, [
    { name: 'say', description: 'echo', inputSchema: { type: 'object', properties: { message: { type: 'string' } } } },
  ]);
  for (const [k, acct, role] of [['aInvoker', A, 'Invoker'], ['aPlain', A, 'Plain'], ['bInvoker', B, 'Invoker'],
    ['bInvoker2', B, 'Invoker2'], ['bPlain', B, 'Plain'], ['bSelfDeny', B, 'SelfDeny']]) {
    sessions[k] = await assume(acct, role);
  }
});

after(async () => {
  await gw?.stop();
});

test('same account: the identity policy decides', async () => {
  assert.equal(await list('aInvoker'), 1);
  assert.equal(await list('aPlain'), 403);
});

test('another account without a resource policy: 403 even with an identity policy', async () => {
  assert.equal(await list('bInvoker'), 403);
  assert.equal(await list('bPlain'), 403);
  const denied = /"sub":"audit".*denied principal=arn:aws:sts::444455556666:assumed-role\/Invoker\/Invoker action=bedrock-agentcore:InvokeGateway/;
  assert.match(await gw.waitStderr(denied), denied);
});

test('a resource policy naming the account root admits its roles that hold InvokeGateway', async () => {
  await putPolicy({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${B.id}:root` } });
  assert.equal(await list('bInvoker'), 1);
  assert.equal(await list('bInvoker2'), 1);
  assert.equal(await list('bPlain'), 403);
  assert.equal(await list('bSelfDeny'), 403, 'an explicit deny in the identity policy wins');
});

test('a resource policy naming one role admits only that role', async () => {
  await putPolicy({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${B.id}:role/Invoker` } });
  assert.equal(await list('bInvoker'), 1);
  assert.equal(await list('bInvoker2'), 403);
});

test('an explicit deny in the resource policy wins, also in the same account', async () => {
  await putPolicy(
    { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${B.id}:root` } },
    { Effect: 'Deny', Principal: { AWS: `arn:aws:iam::${B.id}:role/Invoker` } },
    { Effect: 'Deny', Principal: { AWS: `arn:aws:iam::${A.id}:role/Invoker` } },
  );
  assert.equal(await list('bInvoker'), 403);
  assert.equal(await list('bInvoker2'), 1);
  assert.equal(await list('aInvoker'), 403);
});

test('removing the resource policy restores the 403 at once', async () => {
  await putPolicy({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${B.id}:root` } });
  assert.equal(await list('bInvoker'), 1);
  await control(gw, A.root).send(new DeleteResourcePolicyCommand({ resourceArn: gateway.gatewayArn }));
  assert.equal(await list('bInvoker'), 403);
  assert.equal(await list('aInvoker'), 1);
});

test('a Lambda target in another account works only after AddPermission for the gateway role', async (t) => {
  const fnB = await createEchoFunction(gw, B, 'echo-b');
  let target;
  try {
    target = await createLambdaTarget(gw, A, gateway.gatewayId, 'remote', fnB, [
      { name: 'say', description: 'echo', inputSchema: { type: 'object', properties: { message: { type: 'string' } } } },
    ]);
  } catch (e) {
    t.skip(`the control plane refused a cross-account Lambda target: ${e.message}`);
    return;
  }
  assert.ok(target.targetId);
  const call = async () => {
    const { client } = await connect(gateway.gatewayUrl, sessions.aInvoker);
    const r = await client.callTool({ name: 'remote___say', arguments: { message: 'hi' } });
    await client.close();
    return r;
  };
  let r = await call();
  assert.equal(r.isError, true);
  assert.match(r.content[0].text, /^Access denied while invoking Lambda function/);
  await lambda(gw, B.root).send(new AddPermissionCommand({
    FunctionName: 'echo-b', StatementId: 'gateway', Action: 'lambda:InvokeFunction',
    Principal: `arn:aws:iam::${A.id}:role/GatewayRole`,
  }));
  r = await call();
  assert.equal(r.isError, false, r.content[0].text);
  assert.deepEqual(JSON.parse(r.content[0].text).event, { message: 'hi' });
});
