// Security rules at the edges of authentication and authorization, each first shown as the
// attack that used to work:
// - a Lambda ARN of another region (or partition, or an unserved qualifier) never reaches the
//   local function of the same name, neither through a gateway target nor the Lambda API;
// - gateways that share an execution role each invoke as their own role session;
// - iam:PassRole from Lambda carries iam:PassedToService;
// - a long-term key with a session token, UNSIGNED-PAYLOAD outside S3, and AssumeRole with a
//   SourceIdentity the trust policy does not allow are refused as AWS refuses them.
// The server runs one event loop, so that every request meets the same role-session cache.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  CreateGatewayTargetCommand, UpdateGatewayTargetCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import { IAMClient, ListRolesCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import {
  CreateFunctionCommand, GetFunctionCommand, InvokeCommand, UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { STS_BODY, parseXmlError, sendSigned } from './lib/aws.mjs';
import {
  ECHO_PY, REGION, connect, control, createEchoFunction, createGateway, createLambdaTarget, lambda,
  mcpAccounts, startMcpServer,
} from './lib/mcp.mjs';
import { zipFiles } from './lib/zipfile.mjs';

let gw;
let A;
let fnArn;
let gateway;

const doc = (...Statement) => ({ Version: '2012-10-17', Statement });
const trustService = doc({ Effect: 'Allow', Principal: { Service: 'bedrock-agentcore.amazonaws.com' }, Action: 'sts:AssumeRole' });
const TOOLS = [{ name: 'say', description: 'echo', inputSchema: { type: 'object', properties: { message: { type: 'string' } } } }];

async function call(gatewayUrl, creds, name) {
  const { client } = await connect(gatewayUrl, creds);
  try {
    return await client.callTool({ name, arguments: { message: 'hi' } });
  } finally {
    await client.close();
  }
}

async function rejects(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail('the request succeeded');
}

before(async () => {
  const accounts = mcpAccounts();
  [A] = accounts;
  const devArn = `arn:aws:iam::${A.id}:user/dev`;
  A.users.dev.inlinePolicies = {
    p: doc(
      { Effect: 'Allow', Action: ['lambda:*', 'iam:PassRole', 'sts:AssumeRole'], Resource: '*' },
      { Effect: 'Deny', Action: 'iam:PassRole', Resource: `arn:aws:iam::${A.id}:role/FnRole`,
        Condition: { StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } } },
    ),
  };
  Object.assign(A.roles, {
    SharedRole: { name: 'SharedRole', assumeRolePolicyDocument: trustService },
    FnRole2: { name: 'FnRole2', assumeRolePolicyDocument: doc({ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }) },
    NoSourceIdentity: { name: 'NoSourceIdentity',
      assumeRolePolicyDocument: doc({ Effect: 'Allow', Principal: { AWS: devArn }, Action: 'sts:AssumeRole' }) },
    SourceIdentityOk: { name: 'SourceIdentityOk',
      assumeRolePolicyDocument: doc({ Effect: 'Allow', Principal: { AWS: devArn }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'] }) },
    // chained from SourceIdentityOk: one trusts it for AssumeRole only, one for both
    ChainNoSI: { name: 'ChainNoSI',
      assumeRolePolicyDocument: doc({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A.id}:role/SourceIdentityOk` }, Action: 'sts:AssumeRole' }) },
    ChainSI: { name: 'ChainSI',
      assumeRolePolicyDocument: doc({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${A.id}:role/SourceIdentityOk` }, Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'] }),
      inlinePolicies: { p: doc({ Effect: 'Allow', Action: 'iam:ListRoles', Resource: '*', Condition: { StringEquals: { 'aws:SourceIdentity': 'alice' } } }) } },
  });
  gw = await startMcpServer({ accounts, args: ['--threads', '1'] });
  fnArn = await createEchoFunction(gw, A);
  gateway = await createGateway(gw, A, { exceptionLevel: 'DEBUG' });
  await createLambdaTarget(gw, A, gateway.gatewayId, 'echo', fnArn, TOOLS);
});

after(async () => {
  await gw?.stop();
});

// ---- 1. the region of a Lambda ARN ----------------------------------------------------------

test('Lambda API: an ARN of another region is not found, not the local function', async () => {
  const l = lambda(gw, A.root);
  assert.equal(fnArn, `arn:aws:lambda:${REGION}:${A.id}:function:echo`);
  const ok = await l.send(new GetFunctionCommand({ FunctionName: fnArn }));
  assert.equal(ok.Configuration.FunctionName, 'echo');
  const other = fnArn.replace(REGION, 'eu-west-1');
  for (const send of [
    () => l.send(new GetFunctionCommand({ FunctionName: other })),
    () => l.send(new InvokeCommand({ FunctionName: other, Payload: Buffer.from('{}') })),
  ]) {
    const e = await rejects(send());
    assert.equal(e.name, 'ResourceNotFoundException');
    assert.equal(e.$metadata.httpStatusCode, 404);
    assert.equal(e.message, "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')");
  }
  const cn = await rejects(l.send(new GetFunctionCommand({ FunctionName: fnArn.replace('arn:aws:', 'arn:aws-cn:') })));
  assert.equal(cn.name, 'ResourceNotFoundException');
  const create = await rejects(l.send(new CreateFunctionCommand({
    FunctionName: `arn:aws:lambda:eu-west-1:${A.id}:function:elsewhere`, Runtime: 'python3.12',
    Handler: 'lambda_function.handler', Role: `arn:aws:iam::${A.id}:role/FnRole2`,
    Code: { ZipFile: zipFiles({ 'lambda_function.py': ECHO_PY }) },
  })));
  assert.equal(create.name, 'ResourceNotFoundException');
});

test('a gateway target naming a function of another region or partition is refused', async () => {
  const c = control(gw, A.root);
  for (const arn of [fnArn.replace(REGION, 'eu-west-1'), fnArn.replace('arn:aws:', 'arn:aws-us-gov:')]) {
    const e = await rejects(c.send(new CreateGatewayTargetCommand({
      gatewayIdentifier: gateway.gatewayId, name: 'elsewhere',
      targetConfiguration: { mcp: { lambda: { lambdaArn: arn, toolSchema: { inlinePayload: TOOLS } } } },
      credentialProviderConfigurations: [{ credentialProviderType: 'GATEWAY_IAM_ROLE' }],
    })));
    assert.equal(e.name, 'ValidationException', arn);
    assert.equal(e.$metadata.httpStatusCode, 400);
  }
  const e = await rejects(c.send(new CreateGatewayTargetCommand({
    gatewayIdentifier: gateway.gatewayId, name: 'elsewhere',
    targetConfiguration: { mcp: { lambda: { lambdaArn: fnArn.replace(REGION, 'eu-west-1'), toolSchema: { inlinePayload: TOOLS } } } },
    credentialProviderConfigurations: [{ credentialProviderType: 'GATEWAY_IAM_ROLE' }],
  })));
  assert.match(e.message, /functions from 'eu-west-1' are not reachable in this region \('us-east-1'\)/);
  // and an update cannot move an existing target there either
  const t = await createLambdaTarget(gw, A, gateway.gatewayId, 'movable', fnArn, TOOLS);
  const u = await rejects(c.send(new UpdateGatewayTargetCommand({
    gatewayIdentifier: gateway.gatewayId, targetId: t.targetId, name: 'movable',
    targetConfiguration: { mcp: { lambda: { lambdaArn: fnArn.replace(REGION, 'ap-south-1'), toolSchema: { inlinePayload: TOOLS } } } },
    credentialProviderConfigurations: [{ credentialProviderType: 'GATEWAY_IAM_ROLE' }],
  })));
  assert.equal(u.name, 'ValidationException');
  // the target still calls the local function
  const r = await call(gateway.gatewayUrl, A.root, 'movable___say');
  assert.equal(r.isError, false, r.content[0].text);
});

test('a target qualified with a version or alias that is not served is not found at call time', async () => {
  await createLambdaTarget(gw, A, gateway.gatewayId, 'aliased', `${fnArn}:prod`, TOOLS);
  await createLambdaTarget(gw, A, gateway.gatewayId, 'latest', `${fnArn}:$LATEST`, TOOLS);
  const r = await call(gateway.gatewayUrl, A.root, 'aliased___say');
  assert.equal(r.isError, true, 'the alias must not run the unqualified function');
  assert.match(r.content[0].text, /^Lambda function .*:function:echo:prod was not found/);
  const ok = await call(gateway.gatewayUrl, A.root, 'latest___say');
  assert.equal(ok.isError, false, ok.content[0].text);
  assert.deepEqual(JSON.parse(ok.content[0].text).event, { message: 'hi' });
});

// ---- 2. gateways sharing a role -------------------------------------------------------------

test('gateways sharing a role invoke as their own session, in either order', async () => {
  const ga = await createGateway(gw, A, { roleArn: `arn:aws:iam::${A.id}:role/SharedRole`, exceptionLevel: 'DEBUG' });
  const gx = await createGateway(gw, A, { roleArn: `arn:aws:iam::${A.id}:role/SharedRole`, exceptionLevel: 'DEBUG' });
  await createLambdaTarget(gw, A, ga.gatewayId, 'echo', fnArn, TOOLS);
  await createLambdaTarget(gw, A, gx.gatewayId, 'echo', fnArn, TOOLS);
  const iam = new IAMClient({ region: REGION, endpoint: gw.endpoint, credentials: A.root, maxAttempts: 1 });
  // The role may invoke only as gateway A's session (aws:userid is ROLEID:SESSIONNAME).
  const onlyA = (rev) => iam.send(new PutRolePolicyCommand({
    RoleName: 'SharedRole', PolicyName: 'invoke',
    PolicyDocument: JSON.stringify(doc({ Sid: `rev${rev}`, Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: '*',
      Condition: { StringLike: { 'aws:userid': `*:${ga.gatewayId}` } } })),
  }));
  const sessionOf = (g) => `arn:aws:sts::${A.id}:assumed-role/SharedRole/${g.gatewayId}`;
  const denials = (g) => gw.stderr().split('\n').filter((l) => l.includes('"sub":"audit"') &&
    l.includes(`denied principal=${sessionOf(g)} action=lambda:InvokeFunction`)).length;

  // X first: its session is denied, and A must not inherit that session
  await onlyA(1);
  let x = await call(gx.gatewayUrl, A.root, 'echo___say');
  assert.equal(x.isError, true);
  assert.match(x.content[0].text, /^Access denied while invoking Lambda function/);
  await gw.waitStderr(() => denials(gx) >= 1); // written by the log thread a moment later
  let a = await call(ga.gatewayUrl, A.root, 'echo___say');
  assert.equal(a.isError, false, `gateway A was denied with X's session: ${a.content[0].text}`);

  // a new snapshot empties the cache; now A first: X must not inherit A's session
  await onlyA(2);
  a = await call(ga.gatewayUrl, A.root, 'echo___say');
  assert.equal(a.isError, false, a.content[0].text);
  const beforeX = denials(gx);
  x = await call(gx.gatewayUrl, A.root, 'echo___say');
  assert.equal(x.isError, true, 'gateway X invoked with gateway A\'s session');
  await gw.waitStderr(() => denials(gx) >= beforeX + 1);
  assert.equal(denials(gx), beforeX + 1, 'the audit log names gateway X\'s session');
  assert.equal(denials(ga), 0, 'gateway A\'s session was never denied');
});

// ---- 3. iam:PassRole for Lambda -------------------------------------------------------------

test('iam:PassRole from Lambda carries iam:PassedToService', async () => {
  const l = lambda(gw, A.users.dev);
  const create = (Role, FunctionName) => l.send(new CreateFunctionCommand({
    FunctionName, Runtime: 'python3.12', Handler: 'lambda_function.handler', Role,
    Code: { ZipFile: zipFiles({ 'lambda_function.py': ECHO_PY }) },
  }));
  const denied = await rejects(create(`arn:aws:iam::${A.id}:role/FnRole`, 'passed'));
  assert.equal(denied.name, 'AccessDeniedException');
  assert.match(denied.message, /not authorized to perform: iam:PassRole on resource: arn:aws:iam::111122223333:role\/FnRole with an explicit deny/);
  await create(`arn:aws:iam::${A.id}:role/FnRole2`, 'passed');
  const upd = await rejects(l.send(new UpdateFunctionConfigurationCommand({
    FunctionName: 'passed', Role: `arn:aws:iam::${A.id}:role/FnRole`,
  })));
  assert.equal(upd.name, 'AccessDeniedException');
  assert.match(upd.message, /iam:PassRole/);
});

// ---- 4. tokens, payload hashes, source identity ---------------------------------------------

test('a long-term key with a session token is an invalid token', async () => {
  // a token of a real session, and one made up
  const sts = new STSClient({ region: REGION, endpoint: gw.endpoint, credentials: A.users.dev, maxAttempts: 1 });
  const real = (await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${A.id}:role/NoSourceIdentity`, RoleSessionName: 's1' })))
    .Credentials.SessionToken;
  for (const sessionToken of [real, 'AQoDYXdzEJr1K2ZXhhbXBsZXRva2Vu']) {
    const key = { ...A.root, sessionToken };
    const q = await sendSigned(gw, key, { body: STS_BODY });
    assert.equal(q.status, 403, q.text);
    assert.equal(parseXmlError(q.text).code, 'InvalidClientTokenId');
    assert.equal(parseXmlError(q.text).message, 'The security token included in the request is invalid.');
    const r = await sendSigned(gw, key, { method: 'GET', path: '/2015-03-31/functions/', service: 'lambda' });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.headers.get('x-amzn-errortype')?.split(':')[0], 'UnrecognizedClientException');
    const m = await sendSigned(gw, key, {
      method: 'POST', path: `/gateways/${gateway.gatewayId}/mcp`, service: 'bedrock-agentcore',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    assert.equal(m.status, 403, m.text);
  }
  const plain = await sendSigned(gw, A.root, { body: STS_BODY });
  assert.equal(plain.status, 200, plain.text);
  const mcp = await sendSigned(gw, A.root, {
    method: 'POST', path: `/gateways/${gateway.gatewayId}/mcp`, service: 'bedrock-agentcore',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  assert.equal(mcp.status, 200, mcp.text);
});

test('UNSIGNED-PAYLOAD is refused outside S3; the body hash must be the body\'s', async () => {
  const unsigned = { headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }, checksum: false };
  const q = await sendSigned(gw, A.root, { body: STS_BODY, ...unsigned });
  assert.equal(q.status, 403, q.text);
  assert.equal(parseXmlError(q.text).code, 'SignatureDoesNotMatch');
  const r = await sendSigned(gw, A.root, { method: 'GET', path: '/2015-03-31/functions/', service: 'lambda', ...unsigned });
  assert.equal(r.status, 403, r.text);
  assert.equal(r.headers.get('x-amzn-errortype')?.split(':')[0], 'InvalidSignatureException');
  const m = await sendSigned(gw, A.root, {
    method: 'POST', path: `/gateways/${gateway.gatewayId}/mcp`, service: 'bedrock-agentcore', ...unsigned,
    headers: { ...unsigned.headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  assert.equal(m.status, 403, m.text);
  // a wrong hash is a signature mismatch too; the body's own hash works
  const wrong = await sendSigned(gw, A.root, { body: STS_BODY, checksum: false,
    headers: { 'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' } });
  assert.equal(wrong.status, 403, wrong.text);
  assert.equal(parseXmlError(wrong.text).code, 'SignatureDoesNotMatch');
  const right = await sendSigned(gw, A.root, { body: STS_BODY });
  assert.equal(right.status, 200, right.text);
});

test('AssumeRole with a SourceIdentity needs sts:SetSourceIdentity in the trust policy', async () => {
  const sts = new STSClient({ region: REGION, endpoint: gw.endpoint, credentials: A.users.dev, maxAttempts: 1 });
  const assume = (role, SourceIdentity) => sts.send(new AssumeRoleCommand({
    RoleArn: `arn:aws:iam::${A.id}:role/${role}`, RoleSessionName: 'si', ...(SourceIdentity ? { SourceIdentity } : {}),
  }));
  const e = await rejects(assume('NoSourceIdentity', 'alice'));
  assert.equal(e.name, 'AccessDenied');
  assert.match(e.message, /not authorized to perform: sts:SetSourceIdentity on resource: arn:aws:iam::111122223333:role\/NoSourceIdentity/);
  assert.ok((await assume('NoSourceIdentity')).Credentials.AccessKeyId.startsWith('ASIA'));
  const ok = await assume('SourceIdentityOk', 'alice');
  assert.equal(ok.SourceIdentity, 'alice');
});

test('a session\'s source identity is kept along the chain and cannot be changed', async () => {
  const stsAs = (creds) => new STSClient({ region: REGION, endpoint: gw.endpoint, maxAttempts: 1, credentials: creds });
  const asCreds = (out) => ({ accessKeyId: out.Credentials.AccessKeyId, secretAccessKey: out.Credentials.SecretAccessKey,
    sessionToken: out.Credentials.SessionToken });
  const first = (SourceIdentity) => stsAs(A.users.dev).send(new AssumeRoleCommand({
    RoleArn: `arn:aws:iam::${A.id}:role/SourceIdentityOk`, RoleSessionName: 'first', ...(SourceIdentity ? { SourceIdentity } : {}),
  }));
  const chain = (sts, role, SourceIdentity) => sts.send(new AssumeRoleCommand({
    RoleArn: `arn:aws:iam::${A.id}:role/${role}`, RoleSessionName: 'second', ...(SourceIdentity ? { SourceIdentity } : {}),
  }));
  const alice = stsAs(asCreds(await first('alice')));
  // carrying the source identity on needs sts:SetSourceIdentity in the next role's trust policy
  const e = await rejects(chain(alice, 'ChainNoSI'));
  assert.equal(e.name, 'AccessDenied');
  assert.match(e.message, /sts:SetSourceIdentity/);
  // it cannot be changed
  const changed = await rejects(chain(alice, 'ChainSI', 'mallory'));
  assert.equal(changed.name, 'AccessDenied');
  // and it is kept: the response names it, and aws:SourceIdentity decides in the new session
  const second = await chain(alice, 'ChainSI');
  assert.equal(second.SourceIdentity, 'alice');
  assert.equal((await chain(alice, 'ChainSI', 'alice')).SourceIdentity, 'alice');
  const iamAs = (creds) => new IAMClient({ region: REGION, endpoint: gw.endpoint, maxAttempts: 1, credentials: creds });
  const roles = await iamAs(asCreds(second)).send(new ListRolesCommand({}));
  assert.ok(roles.Roles.length > 0);
  // a chain that never set one has no aws:SourceIdentity, so the same policy does not allow
  const plain = stsAs(asCreds(await first()));
  assert.ok((await chain(plain, 'ChainNoSI')).Credentials.AccessKeyId.startsWith('ASIA'));
  const none = await chain(plain, 'ChainSI');
  assert.equal(none.SourceIdentity, undefined);
  const denied = await rejects(iamAs(asCreds(none)).send(new ListRolesCommand({})));
  assert.equal(denied.name, 'AccessDenied');
});

test('the server kept serving, logged no secrets and stops cleanly', async () => {
  assert.ok(gw.alive());
  const r = await gw.stop();
  const log = gw.stderr();
  assert.equal(r.signal, null, log.slice(-2000));
  // sanitizer builds: no memory error, and no leak from the code these tests drive
  assert.doesNotMatch(log, /ERROR: AddressSanitizer: (?!detected memory leaks)|runtime error:/, log.slice(-4000));
  assert.doesNotMatch(log, /src\/(mcp\/lambda_target|sigv4\/\w+|iam\/(sts|session)|app\/(authn|authz)|agentcore\/targets|lambda\/(names|api))\.c/,
    log.slice(-4000));
  assert.doesNotMatch(log, new RegExp(A.root.secretAccessKey.replace(/[+/]/g, '.')));
  assert.doesNotMatch(log, /AQoDYXdzEJr1K2ZXhhbXBsZXRva2Vu/);
});
