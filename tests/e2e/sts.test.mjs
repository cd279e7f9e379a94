// STS GetCallerIdentity against two hosted accounts: SDK, raw SigV4, presigned
// URLs, curl, boto3; authentication failures; logging hygiene; clean shutdown.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { GetCallerIdentityCommand, GetSessionTokenCommand, STSClient } from '@aws-sdk/client-sts';
import { CreateGroupCommand, IAMClient } from '@aws-sdk/client-iam';
import { LambdaClient, ListAliasesCommand } from '@aws-sdk/client-lambda';
import { BedrockAgentCoreControlClient, ListAgentRuntimesCommand } from '@aws-sdk/client-bedrock-agentcore-control';
import { allSecrets, newKey, startServer } from './lib/server.mjs';
import {
  makeClient, parseXmlError, presignUrl, sendSigned, signatureOf, signRequest, STS_BODY, xmlText,
} from './lib/aws.mjs';
import { boto3Env, boto3Python } from './lib/python.mjs';

const run = promisify(execFile);

let gw;
const seen = { authorizations: [], signatures: [] };
const remember = (sig) => { if (sig) seen.signatures.push(sig); };

function sts(key) {
  return makeClient(STSClient, gw, key, {}, seen);
}

async function callerIdentity(key) {
  return sts(key).send(new GetCallerIdentityCommand({}));
}

/** Runs an SDK call expected to fail and returns the error. */
async function sdkError(key) {
  try {
    await callerIdentity(key);
  } catch (e) {
    return e;
  }
  assert.fail('the call succeeded but should have been refused');
}

function assertRequestId(headers) {
  const id = headers.get('x-amzn-requestid');
  assert.ok(id && id.length >= 8, `x-amzn-RequestId header missing or too short: ${id}`);
  return id;
}

/** Checks an STS error document and its status; returns the parsed error. */
function assertStsError(res, status, code) {
  assert.equal(res.status, status, `status for ${code}; body: ${res.text}`);
  const requestId = assertRequestId(res.headers);
  assert.match(res.text, /<ErrorResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/">/);
  const err = parseXmlError(res.text);
  assert.equal(err.code, code, `error code; body: ${res.text}`);
  assert.equal(err.type, 'Sender');
  assert.ok(err.message && err.message.length > 0, 'error message is empty');
  assert.equal(err.requestId, requestId, 'RequestId in the body differs from x-amzn-RequestId');
  return err;
}

before(async () => {
  gw = await startServer();
});

after(async () => {
  if (gw) await gw.stop();
});

describe('GetCallerIdentity with the AWS SDK', () => {
  test('root keys of each account map to that account root', async () => {
    for (const acct of gw.accounts) {
      const out = await callerIdentity(acct.root);
      assert.equal(out.Account, acct.id);
      assert.equal(out.Arn, `arn:aws:iam::${acct.id}:root`);
      assert.equal(out.UserId, acct.id);
      assert.ok(out.$metadata.requestId, 'SDK saw no x-amzn-RequestId');
      assert.equal(out.$metadata.httpStatusCode, 200);
    }
  });

  test('user keys of each account map to that account user', async () => {
    const userIds = new Set();
    for (const acct of gw.accounts) {
      const user = acct.users.dev;
      const out = await callerIdentity(user);
      assert.equal(out.Account, acct.id);
      assert.equal(out.Arn, `arn:aws:iam::${acct.id}:user/dev`);
      assert.match(out.UserId, /^AIDA[A-Z0-9]{8,}$/);
      assert.ok(out.$metadata.requestId, 'SDK saw no x-amzn-RequestId');
      const again = await callerIdentity(user);
      assert.equal(again.UserId, out.UserId, 'UserId is not stable across calls');
      userIds.add(out.UserId);
    }
    assert.equal(userIds.size, gw.accounts.length, 'two different users share a UserId');
  });

  test('request ids differ between requests', async () => {
    const a = await callerIdentity(gw.accounts[0].root);
    const b = await callerIdentity(gw.accounts[0].root);
    assert.notEqual(a.$metadata.requestId, b.$metadata.requestId);
  });

  test('a wrong secret gets SignatureDoesNotMatch (403)', async () => {
    const acct = gw.accounts[0];
    const e = await sdkError({ accessKeyId: acct.users.dev.accessKeyId, secretAccessKey: newKey().secretAccessKey });
    assert.equal(e.name, 'SignatureDoesNotMatch');
    assert.equal(e.$metadata.httpStatusCode, 403);
    assert.ok(e.$metadata.requestId, 'error carried no x-amzn-RequestId');
  });

  test('an unknown access key gets InvalidClientTokenId (403)', async () => {
    const e = await sdkError(newKey());
    assert.equal(e.name, 'InvalidClientTokenId');
    assert.equal(e.$metadata.httpStatusCode, 403);
    assert.ok(e.$metadata.requestId, 'error carried no x-amzn-RequestId');
  });

  test("one account's key with the other account's secret is refused", async () => {
    const [a, b] = gw.accounts;
    const e = await sdkError({ accessKeyId: a.root.accessKeyId, secretAccessKey: b.root.secretAccessKey });
    assert.equal(e.name, 'SignatureDoesNotMatch');
  });
});

describe('GetCallerIdentity over raw SigV4', () => {
  test('signed POST form body returns the XML result', async () => {
    const acct = gw.accounts[1];
    const res = await sendSigned(gw, acct.users.dev, { body: STS_BODY });
    remember(res.signature);
    assert.equal(res.status, 200, res.text);
    assertRequestId(res.headers);
    assert.match(res.headers.get('content-type') ?? '', /xml/);
    assert.match(res.text, /<GetCallerIdentityResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/">/);
    assert.equal(xmlText(res.text, 'Arn'), `arn:aws:iam::${acct.id}:user/dev`);
    assert.equal(xmlText(res.text, 'Account'), acct.id);
    assert.ok(xmlText(res.text, 'RequestId'), 'ResponseMetadata/RequestId missing');
  });

  test('signed GET with the action in the query string works', async () => {
    const acct = gw.accounts[0];
    const res = await sendSigned(gw, acct.root, { method: 'GET', path: `/?${STS_BODY}` });
    remember(res.signature);
    assert.equal(res.status, 200, res.text);
    assertRequestId(res.headers);
    assert.equal(xmlText(res.text, 'Arn'), `arn:aws:iam::${acct.id}:root`);
  });

  test('an unsigned request gets MissingAuthenticationToken (403)', async () => {
    const res = await fetch(`${gw.endpoint}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: STS_BODY,
    });
    assertStsError({ status: res.status, headers: res.headers, text: await res.text() }, 403,
      'MissingAuthenticationToken');
  });

  test('the unsigned STS operations (AssumeRoleWithWebIdentity, AssumeRoleWithSAML) reach STS: 501 naming them', async () => {
    for (const [op, extra] of [['AssumeRoleWithWebIdentity', 'WebIdentityToken=t'],
      ['AssumeRoleWithSAML', 'PrincipalArn=arn:aws:iam::1:saml-provider/p&SAMLAssertion=a']]) {
      const res = await fetch(`${gw.endpoint}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `Action=${op}&Version=2011-06-15&RoleArn=${encodeURIComponent('arn:aws:iam::123456789012:role/r')}` +
          `&RoleSessionName=s1&${extra}`,
      });
      const text = await res.text();
      assert.equal(res.status, 501, text);
      assert.match(text, /<ErrorResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/">/);
      const err = parseXmlError(text);
      assert.equal(err.code, 'NotImplemented');
      assert.equal(err.message, `${op} is an STS operation that mcpgate does not implement (see docs/api-coverage.md).`);
    }
    // the same body under GET, and an operation that needs a signature, still refused
    const get = await fetch(`${gw.endpoint}/?Action=AssumeRoleWithWebIdentity&Version=2011-06-15`);
    assert.equal(get.status, 501);
    const signed = await fetch(`${gw.endpoint}/?Action=AssumeRole&Version=2011-06-15`);
    assertStsError({ status: signed.status, headers: signed.headers, text: await signed.text() }, 403,
      'MissingAuthenticationToken');
  });

  test('an Authorization header without a signature gets IncompleteSignature (400)', async () => {
    const key = gw.accounts[0].root;
    const date = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
    const res = await fetch(`${gw.endpoint}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-amz-date': date,
        authorization: `AWS4-HMAC-SHA256 Credential=${key.accessKeyId}/${date.slice(0, 8)}/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date`,
      },
      body: STS_BODY,
    });
    assertStsError({ status: res.status, headers: res.headers, text: await res.text() }, 400, 'IncompleteSignature');
  });

  test('a signed content-length header is verified like any other', async () => {
    const acct = gw.accounts[0];
    const res = await sendSigned(gw, acct.root, { body: STS_BODY, signContentLength: true });
    remember(res.signature);
    assert.equal(res.status, 200, res.text);
    assert.equal(xmlText(res.text, 'Arn'), `arn:aws:iam::${acct.id}:root`);
  });

  test('a body changed after signing is refused (payload hash header)', async () => {
    const s = await signRequest(gw, gw.accounts[0].root, { body: STS_BODY });
    remember(s.signature);
    const res = await fetch(s.url, { method: 'POST', headers: s.headers, body: STS_BODY.replace('2011', '2012') });
    const text = await res.text();
    // x-amz-content-sha256 no longer matches the body.
    assert.ok([400, 403].includes(res.status), `tampered body: status ${res.status}\n${text}`);
    assert.ok(['SignatureDoesNotMatch', 'IncompleteSignature'].includes(parseXmlError(text).code), text);
  });

  test('a body changed after signing is refused (no payload hash header)', async () => {
    const s = await signRequest(gw, gw.accounts[0].root, { body: STS_BODY, checksum: false });
    remember(s.signature);
    assert.equal(s.headers['x-amz-content-sha256'], undefined);
    const ok = await fetch(s.url, { method: 'POST', headers: s.headers, body: STS_BODY });
    assert.equal(ok.status, 200, await ok.text());
    const res = await fetch(s.url, { method: 'POST', headers: s.headers, body: STS_BODY.replace('2011', '2012') });
    const text = await res.text();
    assert.equal(res.status, 403, text);
    assert.equal(parseXmlError(text).code, 'SignatureDoesNotMatch');
  });

  test('a request signed 20 minutes ago is refused as expired', async () => {
    const res = await sendSigned(gw, gw.accounts[0].root, {
      body: STS_BODY,
      date: new Date(Date.now() - 20 * 60 * 1000),
    });
    remember(res.signature);
    const err = assertStsError(res, 403, 'SignatureDoesNotMatch');
    assert.match(err.message, /^Signature expired/);
  });

  test('a request signed 20 minutes in the future is refused', async () => {
    const res = await sendSigned(gw, gw.accounts[0].root, {
      body: STS_BODY,
      date: new Date(Date.now() + 20 * 60 * 1000),
    });
    remember(res.signature);
    const err = assertStsError(res, 403, 'SignatureDoesNotMatch');
    assert.match(err.message, /^Signature (expired|not yet current)/);
  });

  test('the SDK with a 20-minute clock offset is refused', async () => {
    const client = makeClient(STSClient, gw, gw.accounts[0].root, { systemClockOffset: -20 * 60 * 1000 }, seen);
    await assert.rejects(client.send(new GetCallerIdentityCommand({})), (e) => {
      assert.equal(e.$metadata.httpStatusCode, 403);
      assert.equal(e.name, 'SignatureDoesNotMatch');
      assert.match(e.message, /^Signature expired/);
      return true;
    });
  });
});

describe('presigned URLs and curl', () => {
  test('a presigned GetCallerIdentity URL works with plain curl', async () => {
    const acct = gw.accounts[1];
    const { url, signature } = await presignUrl(gw, acct.root, { path: `/?${STS_BODY}` });
    remember(signature);
    const { stdout } = await run('curl', ['-sS', '-i', '--max-time', '10', url]);
    assert.match(stdout, /^HTTP\/1\.1 200/, stdout);
    assert.match(stdout, /^x-amzn-requestid: \S+/im, 'no x-amzn-RequestId header');
    assert.equal(xmlText(stdout, 'Arn'), `arn:aws:iam::${acct.id}:root`);
  });

  test('an expired presigned URL is refused', async () => {
    const { url, signature } = await presignUrl(gw, gw.accounts[0].root, {
      path: `/?${STS_BODY}`,
      expiresIn: 60,
      date: new Date(Date.now() - 10 * 60 * 1000),
    });
    remember(signature);
    const res = await fetch(url);
    const text = await res.text();
    assert.equal(res.status, 403, text);
    assertRequestId(res.headers);
    assert.ok(['SignatureDoesNotMatch', 'AccessDenied', 'ExpiredToken'].includes(parseXmlError(text).code), text);
  });

  test('a presigned URL with a tampered query is refused', async () => {
    const { url, signature } = await presignUrl(gw, gw.accounts[0].root, { path: `/?${STS_BODY}` });
    remember(signature);
    const res = await fetch(url.replace('Version=2011-06-15', 'Version=2011-06-16'));
    const text = await res.text();
    assert.equal(res.status, 403, text);
    assert.equal(parseXmlError(text).code, 'SignatureDoesNotMatch');
  });

  test('curl --aws-sigv4 with a POST form body works', async () => {
    const acct = gw.accounts[0];
    const user = acct.users.dev;
    const { stdout } = await run('curl', [
      '-sS', '-i', '--max-time', '10',
      '--aws-sigv4', 'aws:amz:us-east-1:sts',
      '--user', `${user.accessKeyId}:${user.secretAccessKey}`,
      '-H', 'content-type: application/x-www-form-urlencoded',
      '--data', STS_BODY,
      `${gw.endpoint}/`,
    ]);
    assert.match(stdout, /^HTTP\/1\.1 200/, stdout);
    assert.match(stdout, /^x-amzn-requestid: \S+/im, 'no x-amzn-RequestId header');
    assert.equal(xmlText(stdout, 'Arn'), `arn:aws:iam::${acct.id}:user/dev`);
  });
});

describe('a credential scoped to another region names the region to use', () => {
  const AWS_WORDS = "Credential should be scoped to a valid region, not 'eu-west-1'. ";
  const unxml = (t) => t.replace(/&apos;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

  test('STS and IAM (XML): SignatureDoesNotMatch with the server region', async () => {
    const key = gw.accounts[0].users.dev;
    const res = await sendSigned(gw, key, { body: STS_BODY, region: 'eu-west-1' });
    const err = assertStsError(res, 403, 'SignatureDoesNotMatch');
    assert.equal(unxml(err.message), `${AWS_WORDS}This server serves us-east-1.`);
    const iamRes = await sendSigned(gw, key, { service: 'iam', region: 'eu-west-1', body: 'Action=ListRoles&Version=2010-05-08' });
    assert.equal(iamRes.status, 403);
    assert.match(iamRes.text, /<ErrorResponse xmlns="https:\/\/iam\.amazonaws\.com\/doc\/2010-05-08\/">/);
    assert.equal(unxml(parseXmlError(iamRes.text).message), `${AWS_WORDS}This server serves us-east-1.`);
  });

  test('Lambda and AgentCore (JSON): InvalidSignatureException with the server region', async () => {
    const key = gw.accounts[0].root;
    for (const [service, path] of [['lambda', '/2015-03-31/functions'], ['bedrock-agentcore', '/gateways/']]) {
      const res = await sendSigned(gw, key, { service, region: 'eu-west-1', method: 'GET', path });
      assert.equal(res.status, 403, res.text);
      assert.equal(res.headers.get('x-amzn-errortype'), 'InvalidSignatureException');
      assert.equal(JSON.parse(res.text).message, `${AWS_WORDS}This server serves us-east-1.`);
    }
  });

  test('a server in eu-west-1: the SDK signing for us-west-2 is told to use eu-west-1', async () => {
    const eu = await startServer({ args: ['--region', 'eu-west-1'] });
    try {
      const key = eu.accounts[0].root;
      const c = makeClient(LambdaClient, eu, key, { region: 'us-west-2' });
      const err = await c.send(new ListAliasesCommand({ FunctionName: 'f' })).then(() => null, (x) => x);
      assert.equal(err.name, 'InvalidSignatureException');
      assert.equal(err.message, "Credential should be scoped to a valid region, not 'us-west-2'. This server serves eu-west-1.");
      // IAM and STS also accept us-east-1 (their global endpoint), and say so.
      const res = await sendSigned(eu, key, { body: STS_BODY, region: 'us-west-2' });
      const xe = parseXmlError(res.text);
      assert.equal(xe.code, 'SignatureDoesNotMatch');
      assert.equal(unxml(xe.message), "Credential should be scoped to a valid region, not 'us-west-2'. "
        + 'This server serves eu-west-1; this service also accepts us-east-1.');
    } finally {
      await eu.stop();
    }
  });
});

describe('unsupported operations: one form for every service', () => {
  const COVERAGE = /see docs\/api-coverage\.md|listed in docs\/api-coverage\.md/;
  async function sdkFailure(p) {
    try {
      await p;
    } catch (e) {
      return e;
    }
    assert.fail('the call succeeded but should have been refused');
  }

  test('STS GetSessionToken (in the STS model): 501 NotImplemented naming it (SDK)', async () => {
    const e = await sdkFailure(sts(gw.accounts[0].users.dev).send(new GetSessionTokenCommand({})));
    assert.equal(e.name, 'NotImplemented');
    assert.equal(e.$metadata.httpStatusCode, 501);
    assert.equal(e.message, 'GetSessionToken is an STS operation that mcpgate does not implement '
      + '(see docs/api-coverage.md).');
  });

  test('STS: a name that is no STS operation is told apart (raw)', async () => {
    const res = await sendSigned(gw, gw.accounts[0].users.dev, { body: 'Action=GetSessionTokn&Version=2011-06-15' });
    const err = assertStsError(res, 400, 'InvalidAction');
    assert.match(err.message, /^Could not find operation GetSessionTokn for version 2011-06-15: STS has no operation of this name/);
    assert.match(err.message, COVERAGE);
    assert.doesNotMatch(err.message, /is an STS operation/);
  });

  test('IAM CreateGroup (in the IAM model): 501 NotImplemented; a garbage action: InvalidAction', async () => {
    const key = gw.accounts[0].root;
    const e = await sdkFailure(makeClient(IAMClient, gw, key).send(new CreateGroupCommand({ GroupName: 'g' })));
    assert.equal(e.name, 'NotImplemented');
    assert.equal(e.$metadata.httpStatusCode, 501);
    assert.equal(e.message, 'CreateGroup is an IAM operation that mcpgate does not implement '
      + '(see docs/api-coverage.md).');
    const raw = await sendSigned(gw, key, { service: 'iam', body: 'Action=CreateGroup&Version=2010-05-08&GroupName=g' });
    assert.equal(raw.status, 501);
    assert.match(raw.text, /<Type>Receiver<\/Type>/);
    assert.equal(parseXmlError(raw.text).code, 'NotImplemented');
    const res = await sendSigned(gw, key, { service: 'iam', body: 'Action=Frobnicate&Version=2010-05-08' });
    assert.equal(res.status, 400);
    assert.match(res.text, /<ErrorResponse xmlns="https:\/\/iam\.amazonaws\.com\/doc\/2010-05-08\/">/);
    const err = parseXmlError(res.text);
    assert.equal(err.code, 'InvalidAction');
    assert.match(err.message, /^Could not find operation Frobnicate for version 2010-05-08: IAM has no operation of this name/);
  });

  test('Lambda ListAliases (in the model): 501 NotImplementedException; an unknown path: UnknownOperationException (404)', async () => {
    const key = gw.accounts[0].root;
    const e = await sdkFailure(makeClient(LambdaClient, gw, key).send(new ListAliasesCommand({ FunctionName: 'nope' })));
    assert.equal(e.name, 'NotImplementedException');
    assert.equal(e.$metadata.httpStatusCode, 501);
    assert.equal(e.message, 'ListAliases is a Lambda operation that mcpgate does not implement (see docs/api-coverage.md).');
    const res = await sendSigned(gw, key, { service: 'lambda', method: 'GET', path: '/2015-03-31/nothing-here' });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('x-amzn-errortype'), 'UnknownOperationException');
    const body = JSON.parse(res.text);
    assert.match(body.message, /^GET \/2015-03-31\/nothing-here is not an operation of the Lambda API, so it is not supported by mcpgate/);
    assert.match(body.message, COVERAGE);
  });

  test('bedrock-agentcore-control ListAgentRuntimes: 501 NotImplementedException; an unknown path: UnknownOperationException (404)', async () => {
    const key = gw.accounts[0].root;
    const e = await sdkFailure(makeClient(BedrockAgentCoreControlClient, gw, key).send(new ListAgentRuntimesCommand({})));
    assert.equal(e.name, 'NotImplementedException');
    assert.equal(e.$metadata.httpStatusCode, 501);
    assert.match(e.message, /^ListAgentRuntimes \(AgentCore Runtime\) is a bedrock-agentcore-control operation that mcpgate does not implement/);
    assert.match(e.message, COVERAGE);
    const res = await sendSigned(gw, key, { service: 'bedrock-agentcore', method: 'DELETE', path: '/no/such/thing' });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('x-amzn-errortype'), 'UnknownOperationException');
    assert.match(JSON.parse(res.text).message, /^DELETE \/no\/such\/thing is not an operation of the bedrock-agentcore-control API, so it is not supported by mcpgate/);
    // the data plane's model shares the signing name
    const inv = await sendSigned(gw, key, { service: 'bedrock-agentcore', method: 'POST', path: '/runtimes/rt-1/invocations', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(inv.status, 501);
    assert.equal(inv.headers.get('x-amzn-errortype'), 'NotImplementedException');
    assert.match(JSON.parse(inv.text).message, /^InvokeAgentRuntime \(AgentCore Runtime\) is a bedrock-agentcore operation that mcpgate does not implement/);
  });
});

describe('boto3', () => {
  test('boto3 get_caller_identity returns the user ARN', async () => {
    const { python } = boto3Python();
    const acct = gw.accounts[1];
    const user = acct.users.dev;
    const script = [
      'import boto3, json',
      'r = boto3.client("sts").get_caller_identity()',
      'print(json.dumps({k: r[k] for k in ("Account", "Arn", "UserId")}))',
    ].join('\n');
    const env = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('AWS_')) delete env[k];
    Object.assign(env, boto3Env(env), {
      AWS_ENDPOINT_URL: gw.endpoint,
      AWS_ACCESS_KEY_ID: user.accessKeyId,
      AWS_SECRET_ACCESS_KEY: user.secretAccessKey,
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_MAX_ATTEMPTS: '1',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    });
    const { stdout } = await run(python, ['-c', script], { timeout: 30000, env });
    const out = JSON.parse(stdout);
    assert.equal(out.Arn, `arn:aws:iam::${acct.id}:user/dev`);
    assert.equal(out.Account, acct.id);
    assert.match(out.UserId, /^AIDA/);
  });
});

describe('logging and shutdown', () => {
  test('every stderr line is a JSON object', () => {
    const lines = gw.stderr().split('\n').filter((l) => l.trim() !== '');
    assert.ok(lines.length > 0, 'the server logged nothing');
    for (const l of lines) {
      let obj;
      assert.doesNotThrow(() => { obj = JSON.parse(l); }, `not JSON: ${l}`);
      assert.equal(typeof obj, 'object', `not a JSON object: ${l}`);
    }
    assert.match(gw.stderr(), /listening on http:\/\/127\.0\.0\.1:\d+/);
  });

  test('SIGTERM stops the server with exit code 0', async () => {
    const t0 = Date.now();
    const st = await gw.stop();
    assert.equal(st.signal, null, `killed by ${st.signal} (SIGKILL means it ignored SIGTERM for 5 s)`);
    assert.equal(st.code, 0, `exit code ${st.code}\n${gw.stderr().slice(-4000)}`);
    assert.ok(Date.now() - t0 < 5000, 'shutdown took 5 s or more');
  });

  test('no secret key or signature ever reached the log', () => {
    for (const a of seen.authorizations) remember(signatureOf(a));
    assert.ok(seen.signatures.length >= 5, `only ${seen.signatures.length} signatures were recorded`);
    const log = gw.stderr() + gw.stdout();
    for (const s of allSecrets(gw.accounts)) {
      assert.ok(!log.includes(s), 'a secret access key appears in the server output');
    }
    for (const sig of seen.signatures) {
      assert.ok(!log.includes(sig), `signature ${sig.slice(0, 12)}... appears in the server output`);
    }
  });
});
