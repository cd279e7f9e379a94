// Lambda: the Lambda API with @aws-sdk/client-lambda against the real binary, and functions that
// really run (Python and Node.js bootstraps, provided.* bootstraps, aws-lambda-ric if present).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AddPermissionCommand, CreateFunctionCommand, DeleteFunctionCommand, GetFunctionCommand,
  GetFunctionConfigurationCommand, GetPolicyCommand, InvokeCommand, LambdaClient,
  ListFunctionsCommand, RemovePermissionCommand, UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand, ListAliasesCommand,
} from '@aws-sdk/client-lambda';
import { defaultAccounts, startServer } from './lib/server.mjs';
import { makeClient } from './lib/aws.mjs';
import { zipFiles } from './lib/zipfile.mjs';

const A = '111122223333';
const B = '444455556666';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hexOf = (b64) => Buffer.from(b64, 'base64').toString('hex');
const sha256Hex = (buf) => createHash('sha256').update(buf).digest('hex');
// The node's cache of unpacked code (one folder per code version of the account).
const cacheDir = (server) => path.join(server.dataDir, 'lambda', 'cache', A);
const cached = async (server) => (existsSync(cacheDir(server)) ? (await readdir(cacheDir(server))).sort() : []);
// The code packages the store holds for account A (the SQLite store, through the sqlite3 command),
// or null when that command is not installed.
function storedCode(server) {
  const r = spawnSync('sqlite3', [path.join(server.dataDir, 'mcpgate.db'),
    `SELECT key FROM documents WHERE kind = 'lambda_code' AND account = '${A}' UNION ` +
    `SELECT key FROM chunks WHERE kind = 'lambda_code' AND account = '${A}' ORDER BY 1`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n').filter(Boolean) : null;
}
const trust = (service) => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }],
});

let gw;
let accounts;
let lambdaA;
let lambdaB;
let devA;
const ROLE = `arn:aws:iam::${A}:role/fn-exec`;
const BAD_ROLE = `arn:aws:iam::${A}:role/ec2-only`;

const PY_ECHO = `
import json, os, time

def handler(event, context):
    if event.get("raise"):
        raise ValueError("bad things: " + str(event["raise"]))
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("exit"):
        os._exit(3)
    print("echo-log-line", json.dumps(event))
    cc = context.client_context
    return {
        "event": event,
        "version": 1,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "arn": context.invoked_function_arn,
        "memory": context.memory_limit_in_mb,
        "request_id": context.aws_request_id,
        "log_group": context.log_group_name,
        "remaining": context.get_remaining_time_in_millis(),
        "custom": cc.custom if cc else None,
        "env_greeting": os.environ.get("GREETING"),
        "region": os.environ.get("AWS_REGION"),
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
        "has_creds": bool(os.environ.get("AWS_ACCESS_KEY_ID")) and bool(os.environ.get("AWS_SESSION_TOKEN")),
        "tz": os.environ.get("TZ"),
    }
`;

const NODE_CJS = `
exports.handler = async (event, context) => {
  if (event.raise) throw new TypeError('node says no');
  console.log('node-log-line');
  return { node: true, event, fn: context.functionName, custom: context.clientContext?.custom ?? null,
           remaining: context.getRemainingTimeInMillis() > 0 };
};
`;

const NODE_CALLBACK = `
exports.handler = (event, context, callback) => {
  setTimeout(() => callback(null, { style: 'callback', n: event.n * 2 }), 5);
};
`;

const NODE_ESM = `
export const handler = async (event) => ({ esm: true, got: event });
`;

function client(key) {
  return makeClient(LambdaClient, gw, key);
}

async function expectError(p, name, re) {
  try {
    await p;
  } catch (e) {
    assert.equal(e.name, name, `expected ${name}, got ${e.name}: ${e.message}`);
    if (re) assert.match(e.message, re);
    return e;
  }
  assert.fail(`expected ${name}, but the call succeeded`);
}

const dec = (p) => (p ? JSON.parse(Buffer.from(p).toString('utf8')) : undefined);

async function waitActive(c, name) {
  for (let i = 0; i < 100; i++) {
    const f = await c.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
    if (f.State === 'Active' && f.LastUpdateStatus !== 'InProgress') return f;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`function ${name} never became Active`);
}

async function create(c, params) {
  const out = await c.send(new CreateFunctionCommand({ Role: ROLE, ...params }));
  await waitActive(c, params.FunctionName);
  return out;
}

before(async () => {
  accounts = defaultAccounts();
  accounts[0].roles = {
    exec: { name: 'fn-exec', path: '/', assumeRolePolicyDocument: trust('lambda.amazonaws.com') },
    ec2: { name: 'ec2-only', path: '/', assumeRolePolicyDocument: trust('ec2.amazonaws.com') },
  };
  gw = await startServer({ accounts, args: ['--lambda-concurrency', '3', '--lambda-queue', '2', '--lambda-idle-timeout', '60'] });
  lambdaA = client(accounts[0].root);
  lambdaB = client(accounts[1].root);
  devA = client(accounts[0].users.dev);
});

after(async () => {
  if (gw) {
    const r = await gw.stop();
    assert.equal(r.signal, null, gw.stderr().slice(-2000));
    // sanitizer builds: no memory error anywhere, no leak from the Lambda module
    const err = gw.stderr();
    assert.doesNotMatch(err, /ERROR: AddressSanitizer: (?!detected memory leaks)|runtime error:/, err.slice(-4000));
    assert.doesNotMatch(err, /mg_lambda|src\/lambda\//, err.slice(-4000));
  }
});

describe('Lambda API', () => {
  test('create, get, list a Python function', async () => {
    const zip = zipFiles({ 'app.py': PY_ECHO });
    const out = await lambdaA.send(new CreateFunctionCommand({
      FunctionName: 'py-echo', Runtime: 'python3.12', Role: ROLE, Handler: 'app.handler',
      Code: { ZipFile: zip }, Timeout: 5, MemorySize: 256, Description: 'echo',
      Environment: { Variables: { GREETING: 'hello' } }, Tags: { team: 'a' },
    }));
    assert.equal(out.FunctionArn, `arn:aws:lambda:us-east-1:${A}:function:py-echo`);
    assert.equal(out.Version, '$LATEST');
    assert.equal(out.State, 'Pending');
    assert.equal(out.CodeSize, zip.length);
    const { createHash } = await import('node:crypto');
    assert.equal(out.CodeSha256, createHash('sha256').update(zip).digest('base64'));
    assert.ok(out.RevisionId);
    const active = await waitActive(lambdaA, 'py-echo');
    assert.equal(active.State, 'Active');
    assert.equal(active.LastUpdateStatus, 'Successful');
    assert.equal(active.Timeout, 5);
    assert.equal(active.MemorySize, 256);
    assert.equal(active.Environment.Variables.GREETING, 'hello');
    const full = await lambdaA.send(new GetFunctionCommand({ FunctionName: out.FunctionArn }));
    assert.equal(full.Configuration.FunctionName, 'py-echo');
    assert.equal(full.Tags.team, 'a');
    assert.equal(full.Code.RepositoryType, 'S3');
    const list = await lambdaA.send(new ListFunctionsCommand({}));
    assert.ok(list.Functions.some((f) => f.FunctionName === 'py-echo'));
    const listB = await lambdaB.send(new ListFunctionsCommand({}));
    assert.ok(!listB.Functions.some((f) => f.FunctionName === 'py-echo'));
  });

  test('refusals as Lambda makes them', async () => {
    const zip = zipFiles({ 'app.py': PY_ECHO });
    const base = { Role: ROLE, Handler: 'app.handler', Code: { ZipFile: zip } };
    await expectError(lambdaA.send(new CreateFunctionCommand({ ...base, FunctionName: 'x1', Runtime: 'python9.9' })),
      'InvalidParameterValueException', /Value python9\.9 at 'runtime' failed to satisfy constraint/);
    await expectError(lambdaA.send(new CreateFunctionCommand({ ...base, FunctionName: 'x1', Runtime: 'python2.7' })),
      'InvalidParameterValueException', /no longer supported/);
    await expectError(lambdaA.send(new CreateFunctionCommand({ ...base, FunctionName: 'x1', Runtime: 'python3.12', Role: BAD_ROLE })),
      'InvalidParameterValueException', /The role defined for the function cannot be assumed by Lambda\./);
    await expectError(lambdaA.send(new CreateFunctionCommand({ ...base, FunctionName: 'x1', Runtime: 'python3.12', Role: `arn:aws:iam::${A}:role/nope` })),
      'InvalidParameterValueException', /cannot be assumed by Lambda/);
    await expectError(lambdaA.send(new CreateFunctionCommand({ ...base, FunctionName: 'x1', Runtime: 'python3.12', Code: { ZipFile: Buffer.from('this is not a zip file at all') } })),
      'InvalidParameterValueException', /Could not unzip uploaded file\. Please check your file, then try to upload again\./);
    const evil = zipFiles({ '../escape.py': 'x = 1' });
    await expectError(lambdaA.send(new CreateFunctionCommand({ ...base, FunctionName: 'x1', Runtime: 'python3.12', Code: { ZipFile: evil } })),
      'InvalidParameterValueException', /Could not unzip/);
    await expectError(lambdaA.send(new CreateFunctionCommand({ ...base, FunctionName: 'py-echo', Runtime: 'python3.12' })),
      'ResourceConflictException', /Function already exist: py-echo/);
    await expectError(lambdaA.send(new CreateFunctionCommand({ ...base, FunctionName: 'x1', Runtime: 'python3.12', Timeout: 901 })),
      'ValidationException');
    await expectError(lambdaA.send(new CreateFunctionCommand({ ...base, FunctionName: 'x1', Runtime: 'python3.12', Environment: { Variables: { AWS_REGION: 'x' } } })),
      'InvalidParameterValueException', /reserved keys/);
    // tags at Lambda's limits: a key over 128 characters is refused at the input; one of 128
    // non-ASCII characters (256 bytes) is accepted and fits the authorization context, so the
    // function stays readable and deletable
    await expectError(lambdaA.send(new CreateFunctionCommand({ ...base, FunctionName: 'x1', Runtime: 'python3.12', Tags: { ['k'.repeat(129)]: 'v' } })),
      'InvalidParameterValueException', /tag key must be 1 to 128 characters/);
    await expectError(lambdaA.send(new CreateFunctionCommand({ ...base, FunctionName: 'x1', Runtime: 'python3.12', Tags: { k: 'v'.repeat(257) } })),
      'InvalidParameterValueException', /at most 256/);
    await create(lambdaA, { ...base, FunctionName: 'tag-limits', Runtime: 'python3.12', Tags: { ['\u00e9'.repeat(128)]: 'v' } });
    const tagged = await lambdaA.send(new GetFunctionCommand({ FunctionName: 'tag-limits' }));
    assert.equal(tagged.Tags['\u00e9'.repeat(128)], 'v');
    await lambdaA.send(new DeleteFunctionCommand({ FunctionName: 'tag-limits' }));
    await expectError(lambdaA.send(new GetFunctionCommand({ FunctionName: 'nope' })),
      'ResourceNotFoundException', new RegExp(`Function not found: arn:aws:lambda:us-east-1:${A}:function:nope`));
    await expectError(lambdaA.send(new InvokeCommand({ FunctionName: 'nope' })), 'ResourceNotFoundException');
    // only $LATEST exists, whether the qualifier is in the name or the Qualifier parameter
    await expectError(lambdaA.send(new GetFunctionCommand({ FunctionName: 'py-echo', Qualifier: '7' })),
      'ResourceNotFoundException', new RegExp(`Function not found: arn:aws:lambda:us-east-1:${A}:function:py-echo:7$`));
    await expectError(lambdaA.send(new GetFunctionConfigurationCommand({ FunctionName: 'py-echo:7' })),
      'ResourceNotFoundException', /function:py-echo:7$/);
    await expectError(lambdaA.send(new InvokeCommand({ FunctionName: 'py-echo', Qualifier: '7' })),
      'ResourceNotFoundException', /function:py-echo:7$/);
    assert.equal((await lambdaA.send(new GetFunctionCommand({ FunctionName: 'py-echo', Qualifier: '$LATEST' })))
      .Configuration.FunctionName, 'py-echo');
    await expectError(lambdaA.send(new ListAliasesCommand({ FunctionName: 'py-echo' })), 'NotImplementedException',
      /^ListAliases is a Lambda operation that mcpgate does not implement/);
    // the user dev has no permissions
    await expectError(devA.send(new GetFunctionCommand({ FunctionName: 'py-echo' })), 'AccessDeniedException');
    await expectError(devA.send(new InvokeCommand({ FunctionName: 'py-echo' })), 'AccessDeniedException');
  });

  test('function names with NUL or bytes outside Lambda\'s patterns are refused, not truncated', async () => {
    // py-echo exists: "py-echo%00" must not resolve to it
    const pattern = /at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern/;
    for (const name of ['py-echo\u0000', 'py-echo\u0000x', `arn:aws:lambda:us-east-1:${A}:function:py-echo\u0000`,
      `arn:aws:lambda:us-east-1\r\n:${A}:function:py-echo`, `arn:aws:lambda:US-EAST-1:${A}:function:py-echo`,
      // within the model's pattern and length, but longer than a function name may be
      'f'.repeat(65)]) {
      await expectError(lambdaA.send(new GetFunctionCommand({ FunctionName: name })), 'ValidationException', pattern);
      await expectError(lambdaA.send(new InvokeCommand({ FunctionName: name, Payload: '{}' })), 'ValidationException', pattern);
      await expectError(lambdaA.send(new UpdateFunctionConfigurationCommand({ FunctionName: name, Timeout: 9 })),
        'ValidationException', pattern);
    }
    // in a body, NUL does not get past the JSON parser
    await expectError(lambdaA.send(new CreateFunctionCommand({
      FunctionName: 'nul-fn\u0000', Role: ROLE, Handler: 'app.handler', Runtime: 'python3.12',
      Code: { ZipFile: zipFiles({ 'app.py': PY_ECHO }) },
    })), 'InvalidRequestContentException');
    const f = await lambdaA.send(new GetFunctionConfigurationCommand({ FunctionName: 'py-echo' }));
    assert.notEqual(f.Timeout, 9);
  });

  test('invoke Python: payload, context, client context, environment, tail logs', async () => {
    const cc = Buffer.from(JSON.stringify({ custom: { tool: 'x___y', n: '1' }, env: { a: 'b' } })).toString('base64');
    const r = await lambdaA.send(new InvokeCommand({
      FunctionName: 'py-echo', Payload: JSON.stringify({ hello: 'world' }), LogType: 'Tail', ClientContext: cc,
    }));
    assert.equal(r.StatusCode, 200);
    assert.equal(r.FunctionError, undefined);
    assert.equal(r.ExecutedVersion, '$LATEST');
    const out = dec(r.Payload);
    assert.deepEqual(out.event, { hello: 'world' });
    assert.equal(out.function_name, 'py-echo');
    assert.equal(out.function_version, '$LATEST');
    assert.equal(out.arn, `arn:aws:lambda:us-east-1:${A}:function:py-echo`);
    assert.equal(String(out.memory), '256');
    assert.match(out.request_id, /^[0-9a-f-]{36}$/);
    assert.equal(out.log_group, '/aws/lambda/py-echo');
    assert.ok(out.remaining > 0 && out.remaining <= 5000, `remaining ${out.remaining}`);
    assert.deepEqual(out.custom, { tool: 'x___y', n: '1' });
    assert.equal(out.env_greeting, 'hello');
    assert.equal(out.region, 'us-east-1');
    assert.equal(out.endpoint, gw.endpoint);
    assert.equal(out.tz, ':UTC');
    assert.equal(out.has_creds, true);
    const log = Buffer.from(r.LogResult, 'base64').toString('utf8');
    assert.match(log, new RegExp(`START RequestId: ${out.request_id} Version: \\$LATEST`));
    assert.match(log, /echo-log-line \{"hello": "world"\}/);
    assert.match(log, new RegExp(`END RequestId: ${out.request_id}`));
    assert.match(log, /REPORT RequestId: .*Duration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 256 MB\tMax Memory Used: \d+ MB/);
    // warm: a second call reuses the process (no Init Duration)
    const r2 = await lambdaA.send(new InvokeCommand({ FunctionName: 'py-echo', Payload: '{"n":2}', LogType: 'Tail' }));
    assert.deepEqual(dec(r2.Payload).event, { n: 2 });
    assert.equal(dec(r2.Payload).custom, null);
    assert.doesNotMatch(Buffer.from(r2.LogResult, 'base64').toString(), /Init Duration/);
  });

  test('handler errors, crashes and timeouts', async () => {
    const r = await lambdaA.send(new InvokeCommand({ FunctionName: 'py-echo', Payload: '{"raise":"x"}' }));
    assert.equal(r.StatusCode, 200);
    assert.equal(r.FunctionError, 'Unhandled');
    const err = dec(r.Payload);
    assert.equal(err.errorType, 'ValueError');
    assert.equal(err.errorMessage, 'bad things: x');
    assert.ok(Array.isArray(err.stackTrace) && err.stackTrace.length > 0);

    const crash = await lambdaA.send(new InvokeCommand({ FunctionName: 'py-echo', Payload: '{"exit":1}' }));
    assert.equal(crash.FunctionError, 'Unhandled');
    assert.equal(dec(crash.Payload).errorType, 'Runtime.ExitError');
    assert.match(dec(crash.Payload).errorMessage, /Runtime exited with error: exit status 3/);

    await lambdaA.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'py-echo', Timeout: 1 }));
    await waitActive(lambdaA, 'py-echo');
    const t0 = Date.now();
    const to = await lambdaA.send(new InvokeCommand({ FunctionName: 'py-echo', Payload: '{"sleep":5}', LogType: 'Tail' }));
    const took = Date.now() - t0;
    assert.ok(took < 4000, `timeout took ${took} ms`);
    assert.equal(to.FunctionError, 'Unhandled');
    const te = dec(to.Payload);
    assert.equal(te.errorType, 'Sandbox.Timedout');
    assert.match(te.errorMessage, /Task timed out after 1\.00 seconds/);
    assert.match(Buffer.from(to.LogResult, 'base64').toString(), /Task timed out after 1\.00 seconds/);
    // the function still works afterwards (a new process)
    const ok = await lambdaA.send(new InvokeCommand({ FunctionName: 'py-echo', Payload: '{"after":"timeout"}' }));
    assert.deepEqual(dec(ok.Payload).event, { after: 'timeout' });
    await lambdaA.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'py-echo', Timeout: 5 }));
    await waitActive(lambdaA, 'py-echo');
  });

  test('init failures: missing handler file and missing handler function', async () => {
    await create(lambdaA, {
      FunctionName: 'py-missing', Runtime: 'python3.11', Handler: 'nothere.handler',
      Code: { ZipFile: zipFiles({ 'app.py': PY_ECHO }) },
    });
    const r = await lambdaA.send(new InvokeCommand({ FunctionName: 'py-missing' }));
    assert.equal(r.FunctionError, 'Unhandled');
    assert.equal(dec(r.Payload).errorType, 'Runtime.ImportModuleError');
    assert.match(dec(r.Payload).errorMessage, /Unable to import module 'nothere'/);
    await lambdaA.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'py-missing', Handler: 'app.nope' }));
    await waitActive(lambdaA, 'py-missing');
    const r2 = await lambdaA.send(new InvokeCommand({ FunctionName: 'py-missing' }));
    assert.equal(dec(r2.Payload).errorType, 'Runtime.HandlerNotFound');
    await lambdaA.send(new DeleteFunctionCommand({ FunctionName: 'py-missing' }));
  });

  test('update code: the new behaviour shows', async () => {
    const before = await lambdaA.send(new GetFunctionConfigurationCommand({ FunctionName: 'py-echo' }));
    const code = PY_ECHO.replace('"version": 1', '"version": 2');
    const up = await lambdaA.send(new UpdateFunctionCodeCommand({ FunctionName: 'py-echo', ZipFile: zipFiles({ 'app.py': code }) }));
    assert.notEqual(up.CodeSha256, before.CodeSha256);
    assert.notEqual(up.RevisionId, before.RevisionId);
    await waitActive(lambdaA, 'py-echo');
    const r = await lambdaA.send(new InvokeCommand({ FunctionName: 'py-echo', Payload: '{}' }));
    assert.equal(dec(r.Payload).version, 2);
    await expectError(lambdaA.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'py-echo', Description: 'x', RevisionId: 'stale' })),
      'PreconditionFailedException');
  });

  test('Node.js: async, callback-style and ESM handlers', async () => {
    await create(lambdaA, {
      FunctionName: 'node-fn', Runtime: 'nodejs20.x', Handler: 'index.handler',
      Code: { ZipFile: zipFiles({ 'index.js': NODE_CJS, 'cb.js': NODE_CALLBACK, 'esm.mjs': NODE_ESM }) },
    });
    const cc = Buffer.from(JSON.stringify({ custom: { k: 'v' } })).toString('base64');
    const r = await lambdaA.send(new InvokeCommand({ FunctionName: 'node-fn', Payload: '{"a":1}', ClientContext: cc, LogType: 'Tail' }));
    assert.deepEqual(dec(r.Payload), { node: true, event: { a: 1 }, fn: 'node-fn', custom: { k: 'v' }, remaining: true });
    assert.match(Buffer.from(r.LogResult, 'base64').toString(), /node-log-line/);
    const e = await lambdaA.send(new InvokeCommand({ FunctionName: 'node-fn', Payload: '{"raise":true}' }));
    assert.equal(e.FunctionError, 'Unhandled');
    assert.equal(dec(e.Payload).errorType, 'TypeError');
    assert.equal(dec(e.Payload).errorMessage, 'node says no');
    await lambdaA.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'node-fn', Handler: 'cb.handler' }));
    await waitActive(lambdaA, 'node-fn');
    const cb = await lambdaA.send(new InvokeCommand({ FunctionName: 'node-fn', Payload: '{"n":21}' }));
    assert.deepEqual(dec(cb.Payload), { style: 'callback', n: 42 });
    await lambdaA.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'node-fn', Handler: 'esm.handler', Runtime: 'nodejs22.x' }));
    await waitActive(lambdaA, 'node-fn');
    const esm = await lambdaA.send(new InvokeCommand({ FunctionName: 'node-fn', Payload: '[1,2]' }));
    assert.deepEqual(dec(esm.Payload), { esm: true, got: [1, 2] });
  });

  test('provided.al2023: the zip\'s own bootstrap', async () => {
    const bootstrap = `#!/bin/sh
set -e
API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
while true; do
  HEADERS=$(mktemp)
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
  ID=$(grep -i Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  curl -sS -X POST "$API/invocation/$ID/response" -d "{\\"shell\\":true,\\"event\\":$EVENT}" >/dev/null
done
`;
    await create(lambdaA, {
      FunctionName: 'custom-fn', Runtime: 'provided.al2023', Handler: 'unused',
      Code: { ZipFile: zipFiles([['bootstrap', bootstrap, { mode: 0o755 }]]) },
    });
    const r = await lambdaA.send(new InvokeCommand({ FunctionName: 'custom-fn', Payload: '{"x":1}' }));
    assert.deepEqual(dec(r.Payload), { shell: true, event: { x: 1 } });
  });

  test('Event and DryRun invocations; payload limits', async () => {
    const ev = await lambdaA.send(new InvokeCommand({ FunctionName: 'py-echo', InvocationType: 'Event', Payload: '{"async":true}' }));
    assert.equal(ev.StatusCode, 202);
    const dry = await lambdaA.send(new InvokeCommand({ FunctionName: 'py-echo', InvocationType: 'DryRun' }));
    assert.equal(dry.StatusCode, 204);
    await expectError(lambdaA.send(new InvokeCommand({ FunctionName: 'py-echo', Payload: 'not json' })), 'InvalidRequestContentException');
    // the Event invocation ran: its log line reaches the function's log soon
    const big = JSON.stringify({ s: 'x'.repeat(1100 * 1024) });
    await expectError(lambdaA.send(new InvokeCommand({ FunctionName: 'py-echo', InvocationType: 'Event', Payload: big })), 'RequestTooLargeException');
  });

  test('concurrency: parallel invocations run in parallel processes', async () => {
    await lambdaA.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'py-echo', Timeout: 10 }));
    await waitActive(lambdaA, 'py-echo');
    const t0 = Date.now();
    const rs = await Promise.all([1, 2, 3].map((i) => lambdaA.send(new InvokeCommand({ FunctionName: 'py-echo', Payload: JSON.stringify({ sleep: 1, i }) }))));
    const took = Date.now() - t0;
    for (const [i, r] of rs.entries()) assert.equal(dec(r.Payload).event.i, i + 1);
    assert.ok(took < 2900, `3 parallel 1 s invocations took ${took} ms`);
  });

  test('concurrency: past the processes and the queue, Invoke is throttled with 429', async () => {
    // 3 processes run, 2 invocations wait (--lambda-queue 2), the rest are refused at once.
    const calls = [1, 2, 3, 4, 5, 6, 7].map((i) => lambdaA.send(new InvokeCommand({
      FunctionName: 'py-echo', Payload: JSON.stringify({ sleep: 1, i }) })).then(() => 'ok', (e) => e));
    const rs = await Promise.all(calls);
    const ok = rs.filter((r) => r === 'ok').length;
    const throttled = rs.filter((r) => r?.name === 'TooManyRequestsException');
    assert.equal(ok, 5, rs.map((r) => (r === 'ok' ? r : `${r.name}: ${r.message}`)).join(', '));
    assert.equal(throttled.length, 2);
    assert.equal(throttled[0].$metadata.httpStatusCode, 429);
  });

  test('permissions: cross-account Invoke works only after AddPermission', async () => {
    const arn = `arn:aws:lambda:us-east-1:${A}:function:py-echo`;
    await expectError(lambdaB.send(new InvokeCommand({ FunctionName: arn, Payload: '{}' })), 'AccessDeniedException');
    await expectError(lambdaA.send(new GetPolicyCommand({ FunctionName: 'py-echo' })), 'ResourceNotFoundException');
    const add = await lambdaA.send(new AddPermissionCommand({
      FunctionName: 'py-echo', StatementId: 'allow-b', Action: 'lambda:InvokeFunction', Principal: B,
    }));
    const st = JSON.parse(add.Statement);
    assert.deepEqual(st.Principal, { AWS: `arn:aws:iam::${B}:root` });
    assert.equal(st.Resource, arn);
    await expectError(lambdaA.send(new AddPermissionCommand({
      FunctionName: 'py-echo', StatementId: 'allow-b', Action: 'lambda:InvokeFunction', Principal: B,
    })), 'ResourceConflictException');
    await lambdaA.send(new AddPermissionCommand({
      FunctionName: 'py-echo', StatementId: 'svc', Action: 'lambda:InvokeFunction',
      Principal: 'bedrock-agentcore.amazonaws.com', SourceAccount: A,
      SourceArn: `arn:aws:bedrock-agentcore:us-east-1:${A}:gateway/*`,
    }));
    const pol = await lambdaA.send(new GetPolicyCommand({ FunctionName: 'py-echo' }));
    const doc = JSON.parse(pol.Policy);
    assert.equal(doc.Statement.length, 2);
    assert.deepEqual(doc.Statement[1].Principal, { Service: 'bedrock-agentcore.amazonaws.com' });
    assert.equal(doc.Statement[1].Condition.ArnLike['AWS:SourceArn'], `arn:aws:bedrock-agentcore:us-east-1:${A}:gateway/*`);
    assert.ok(pol.RevisionId);
    const r = await lambdaB.send(new InvokeCommand({ FunctionName: arn, Payload: '{"from":"b"}' }));
    assert.deepEqual(dec(r.Payload).event, { from: 'b' });
    // B may invoke, but not read the configuration
    await expectError(lambdaB.send(new GetFunctionCommand({ FunctionName: arn })), 'AccessDeniedException');
    await lambdaA.send(new RemovePermissionCommand({ FunctionName: 'py-echo', StatementId: 'allow-b' }));
    await expectError(lambdaB.send(new InvokeCommand({ FunctionName: arn, Payload: '{}' })), 'AccessDeniedException');
    await expectError(lambdaA.send(new RemovePermissionCommand({ FunctionName: 'py-echo', StatementId: 'allow-b' })), 'ResourceNotFoundException');
  });

  test('aws-lambda-ric serves a Node.js handler', async (t) => {
    const ric = process.env.AWS_LAMBDA_RIC_DIR
      ?? [fileURLToPath(new URL('./node_modules/aws-lambda-ric', import.meta.url))].find((p) => existsSync(p));
    // the package needs its native part (dist/rapid-client.node, built at install time)
    if (!ric || !existsSync(path.join(ric, 'bin', 'index.mjs')) || !existsSync(path.join(ric, 'dist', 'rapid-client.node'))) {
      t.skip('aws-lambda-ric is not installed (set AWS_LAMBDA_RIC_DIR to its package directory)');
      return;
    }
    // the client ships in the function's package, as on AWS: the function sees nothing of
    // the host but the system and its own code
    const bootstrap = '#!/bin/sh\nexec node "$LAMBDA_TASK_ROOT/ric/bin/index.mjs" "$_HANDLER"\n';
    const ricFiles = ['package.json', 'bin/index.mjs', 'dist/index.mjs', 'dist/rapid-client.node']
      .map((f) => [`ric/${f}`, readFileSync(path.join(ric, f))]);
    await create(lambdaA, {
      FunctionName: 'ric-fn', Runtime: 'provided.al2023', Handler: 'index.handler',
      Code: { ZipFile: zipFiles([['bootstrap', bootstrap, { mode: 0o755 }], ['index.js', NODE_CJS], ...ricFiles]) },
    });
    const r = await lambdaA.send(new InvokeCommand({ FunctionName: 'ric-fn', Payload: '{"ric":1}' }));
    assert.equal(r.FunctionError, undefined, Buffer.from(r.Payload ?? []).toString());
    assert.deepEqual(dec(r.Payload).event, { ric: 1 });
    const e = await lambdaA.send(new InvokeCommand({ FunctionName: 'ric-fn', Payload: '{"raise":true}' }));
    assert.equal(e.FunctionError, 'Unhandled');
    assert.equal(dec(e.Payload).errorType, 'TypeError');
  });

  test('delete: the function and its processes go away', async () => {
    const conf = await lambdaA.send(new GetFunctionConfigurationCommand({ FunctionName: 'node-fn' }));
    const hex = hexOf(conf.CodeSha256);
    assert.ok((await cached(gw)).includes(hex));
    await lambdaA.send(new DeleteFunctionCommand({ FunctionName: 'node-fn' }));
    await expectError(lambdaA.send(new GetFunctionCommand({ FunctionName: 'node-fn' })), 'ResourceNotFoundException');
    await expectError(lambdaA.send(new InvokeCommand({ FunctionName: 'node-fn' })), 'ResourceNotFoundException');
    await expectError(lambdaA.send(new DeleteFunctionCommand({ FunctionName: 'node-fn' })), 'ResourceNotFoundException');
    // the package leaves the store with the function; the unpacked tree leaves the cache once
    // the function's processes are gone
    const stored = storedCode(gw);
    if (stored) assert.ok(!stored.includes(hex));
    for (let i = 0; i < 50 && (await cached(gw)).includes(hex); i++) await sleep(100);
    assert.ok(!(await cached(gw)).includes(hex));
    // recreate under the same name: new code runs
    await create(lambdaA, {
      FunctionName: 'node-fn', Runtime: 'nodejs18.x', Handler: 'esm.handler',
      Code: { ZipFile: zipFiles({ 'esm.mjs': NODE_ESM }) },
    });
    const r = await lambdaA.send(new InvokeCommand({ FunctionName: 'node-fn', Payload: '{"again":1}' }));
    assert.deepEqual(dec(r.Payload), { esm: true, got: { again: 1 } });
  });
});

// Code storage: only the version in use stays on disk, the account's total is capped, and
// archives that unpack past Lambda's limits are refused before anything is written.
describe('Lambda code storage', () => {
  const CAP = 3_000_000;
  let gw2;
  let lc;

  before(async () => {
    const acc = defaultAccounts();
    acc[0].roles = { exec: { name: 'fn-exec', path: '/', assumeRolePolicyDocument: trust('lambda.amazonaws.com') } };
    gw2 = await startServer({ accounts: acc, args: ['--lambda-code-storage', String(CAP), '--lambda-idle-timeout', '60'] });
    lc = makeClient(LambdaClient, gw2, acc[0].root);
  });

  after(async () => {
    if (gw2) {
      const r = await gw2.stop();
      assert.equal(r.signal, null, gw2.stderr().slice(-2000));
    }
  });

  // PY_ECHO plus `pad` bytes of zeros: a small zip that unpacks to about `pad` bytes
  const padded = (pad, tag) => zipFiles({ 'app.py': `${PY_ECHO}\nTAG = ${JSON.stringify(tag)}\n`, 'pad.bin': Buffer.alloc(pad) });

  async function activeIn(name) {
    for (let i = 0; i < 100; i++) {
      const f = await lc.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
      if (f.State === 'Active' && f.LastUpdateStatus !== 'InProgress') return f;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail(`function ${name} never became Active`);
  }

  test('three code updates leave one version on disk and in the store', async () => {
    await lc.send(new CreateFunctionCommand({
      FunctionName: 'versions', Role: ROLE, Runtime: 'python3.12', Handler: 'app.handler', Code: { ZipFile: padded(100_000, 0) },
    }));
    await activeIn('versions');
    await lc.send(new InvokeCommand({ FunctionName: 'versions', Payload: '{"v":0}' }));
    let last;
    for (let v = 1; v <= 3; v++) {
      last = await lc.send(new UpdateFunctionCodeCommand({ FunctionName: 'versions', ZipFile: padded(100_000, v) }));
      await activeIn('versions');
    }
    // no invocation since: the idle process of the first version must not keep its code alive
    const hex = hexOf(last.CodeSha256);
    const want = [hex];
    let have = [];
    for (let i = 0; i < 100; i++) {
      have = await cached(gw2);
      if (JSON.stringify(have) === JSON.stringify(want)) break;
      await sleep(100);
    }
    assert.deepEqual(have, want);
    const stored = storedCode(gw2);
    if (stored) assert.deepEqual(stored, want);
    const r = await lc.send(new InvokeCommand({ FunctionName: 'versions', Payload: '{"v":3}' }));
    assert.equal(r.FunctionError, undefined);
    assert.deepEqual(dec(r.Payload).event, { v: 3 });
    assert.deepEqual(await cached(gw2), want);
    // the private size bookkeeping does not leak into the API
    const f = await lc.send(new GetFunctionConfigurationCommand({ FunctionName: 'versions' }));
    assert.equal(f.CodeUnzippedSize, undefined);
    await lc.send(new DeleteFunctionCommand({ FunctionName: 'versions' }));
  });

  test('concurrent creates of one name: the loser\'s code stays neither on disk nor in the store', async () => {
    const names = ['race-1', 'race-2', 'race-3', 'race-4'];
    for (const name of names) {
      const zips = [padded(300_000, `${name}-a`), padded(300_000, `${name}-b`)];
      const rs = await Promise.allSettled(zips.map((zip) => lc.send(new CreateFunctionCommand({
        FunctionName: name, Role: ROLE, Runtime: 'python3.12', Handler: 'app.handler', Code: { ZipFile: zip },
      }))));
      const won = rs.filter((r) => r.status === 'fulfilled');
      assert.equal(won.length, 1, JSON.stringify(rs.map((r) => r.reason?.name)));
      const lost = rs.find((r) => r.status === 'rejected');
      assert.equal(lost.reason.name, 'ResourceConflictException');
      await activeIn(name);
      const hex = hexOf(won[0].value.CodeSha256);
      const loser = zips.map(sha256Hex).find((h) => h !== hex);
      assert.ok(loser);
      assert.ok((await cached(gw2)).includes(hex));
      assert.ok(!(await cached(gw2)).includes(loser));
      const stored = storedCode(gw2);
      if (stored) {
        assert.ok(stored.includes(hex));
        assert.ok(!stored.includes(loser));
      }
    }
    for (const name of names) await lc.send(new DeleteFunctionCommand({ FunctionName: name }));
  });

  test('past the per-account code storage limit: CodeStorageExceededException', async () => {
    const mk = (name, zip) => lc.send(new CreateFunctionCommand({
      FunctionName: name, Role: ROLE, Runtime: 'python3.12', Handler: 'app.handler', Code: { ZipFile: zip },
    }));
    await mk('store-1', padded(1_000_000, 1));
    await mk('store-2', padded(1_000_000, 2));
    const refused = padded(1_000_000, 3);
    await expectError(mk('store-3', refused), 'CodeStorageExceededException', /^Code storage limit exceeded\.$/);
    assert.ok(!(await cached(gw2)).includes(sha256Hex(refused)));
    assert.ok(!(storedCode(gw2) ?? []).includes(sha256Hex(refused)));
    // an update counts instead of the code it replaces
    await activeIn('store-1');
    await lc.send(new UpdateFunctionCodeCommand({ FunctionName: 'store-1', ZipFile: padded(900_000, 4) }));
    await activeIn('store-1');
    await expectError(lc.send(new UpdateFunctionCodeCommand({ FunctionName: 'store-1', ZipFile: padded(2_100_000, 5) })),
      'CodeStorageExceededException');
    // deleting a function frees its share
    await lc.send(new DeleteFunctionCommand({ FunctionName: 'store-2' }));
    await mk('store-3', padded(1_000_000, 3));
    await activeIn('store-3');
    for (const n of ['store-1', 'store-3']) await lc.send(new DeleteFunctionCommand({ FunctionName: n }));
  });

  test('an archive over 250 MB unzipped, or one that unpacks past what it declares, is refused', async () => {
    const base = { Role: ROLE, Runtime: 'python3.12', Handler: 'app.handler' };
    // declares 300 MB (honestly or not: refused on the declaration)
    const big = zipFiles({ 'pad.bin': Buffer.alloc(1000) });
    big.writeUInt32LE(300_000_000, 22); // local header
    big.writeUInt32LE(300_000_000, big.length - 22 - 46 - 'pad.bin'.length + 24); // central directory
    await expectError(lc.send(new CreateFunctionCommand({ ...base, FunctionName: 'too-big', Code: { ZipFile: big } })),
      'InvalidParameterValueException', /^Unzipped size must be smaller than 262144000 bytes$/);
    // a zip bomb: one entry that declares 1000 bytes and inflates to 40 MB
    const bomb = zipFiles({ 'bomb.bin': Buffer.alloc(40 * 1024 * 1024) });
    bomb.writeUInt32LE(1000, 22);
    bomb.writeUInt32LE(1000, bomb.length - 22 - 46 - 'bomb.bin'.length + 24);
    assert.ok(bomb.length < 100_000);
    await expectError(lc.send(new CreateFunctionCommand({ ...base, FunctionName: 'bomb', Code: { ZipFile: bomb } })),
      'InvalidParameterValueException', /Could not unzip uploaded file/);
    assert.ok(!(await cached(gw2)).includes(sha256Hex(bomb)));
    assert.ok(!(storedCode(gw2) ?? []).includes(sha256Hex(bomb)));
    await lc.send(new CreateFunctionCommand({ ...base, FunctionName: 'later-bomb', Code: { ZipFile: padded(10, 'x') } }));
    await activeIn('later-bomb');
    await expectError(lc.send(new UpdateFunctionCodeCommand({ FunctionName: 'later-bomb', ZipFile: bomb })),
      'InvalidParameterValueException', /Could not unzip uploaded file/);
    const f = await lc.send(new GetFunctionConfigurationCommand({ FunctionName: 'later-bomb' }));
    assert.equal(f.LastUpdateStatus, 'Successful');
    assert.ok((await cached(gw2)).includes(hexOf(f.CodeSha256)));
  });
});
