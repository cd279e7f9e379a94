// The Lambda Runtime API as an attacker on the same host sees it: each runtime's loopback endpoint
// must answer only its own runtime process, never another local process (this test process, or
// another function), and nothing that reaches a runtime in a header may be split by the caller.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import {
  CreateFunctionCommand, GetFunctionConfigurationCommand, InvokeCommand, LambdaClient,
} from '@aws-sdk/client-lambda';
import { defaultAccounts, startServer } from './lib/server.mjs';
import { makeClient } from './lib/aws.mjs';
import { zipFiles } from './lib/zipfile.mjs';

const A = '111122223333';
const ROLE = `arn:aws:iam::${A}:role/fn-exec`;
const trust = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
};

// A provided.* bootstrap in Python (standard library only) that shows what the runtime receives:
// its raw header names, the client context header, and what a probe of another endpoint got.
const BOOTSTRAP = `#!/usr/bin/env python3
import http.client, json, os, time
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")

def call(method, path, body=None, timeout=None, h=host, p=port):
    c = http.client.HTTPConnection(h, int(p), timeout=timeout)
    c.request(method, "/2018-06-01/runtime" + path, body=body)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data

def probe(api):
    h, p = api.split(":")
    out = {}
    for name, method, path in (("next", "GET", "/invocation/next"),
                               ("response", "POST", "/invocation/" + "0" * 8 + "/response")):
        try:
            r, data = call(method, path, b'{"hijacked":true}' if method == "POST" else None,
                           timeout=3, h=h, p=p)
            out[name] = {"status": r.status, "body": data.decode("utf-8", "replace")[:300]}
        except Exception as e:
            out[name] = {"error": type(e).__name__}
    return out

while True:
    r, data = call("GET", "/invocation/next")
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    try:
        ev = json.loads(data)
    except Exception:
        ev = {"unparsable": data.decode("utf-8", "replace")}
    if isinstance(ev, dict) and ev.get("stray_next"):
        # a second /next while this invocation is in flight: Lambda lets it wait for the next
        # event and keeps the invocation in flight
        try:
            call("GET", "/invocation/next", timeout=1)
        except Exception:
            pass
    if isinstance(ev, dict) and ev.get("sleep"):
        time.sleep(ev["sleep"])
    out = {
        "mine": True,
        "rid": rid,
        "event": ev,
        "api": os.environ["AWS_LAMBDA_RUNTIME_API"],
        "headers": sorted(k.lower() for k, v in r.getheaders()),
        "cc": r.getheader("Lambda-Runtime-Client-Context"),
    }
    if isinstance(ev, dict) and ev.get("probe"):
        out["probe"] = probe(ev["probe"])
    call("POST", "/invocation/%s/response" % rid, json.dumps(out).encode())
`;

let gw;
let lambda;

const dec = (p) => JSON.parse(Buffer.from(p).toString('utf8'));

async function waitActive(name) {
  for (let i = 0; i < 100; i++) {
    const f = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
    if (f.State === 'Active' && f.LastUpdateStatus !== 'InProgress') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`function ${name} never became Active`);
}

async function createFn(name) {
  await lambda.send(new CreateFunctionCommand({
    FunctionName: name, Runtime: 'provided.al2023', Handler: 'unused', Role: ROLE, Timeout: 10,
    Code: { ZipFile: zipFiles([['bootstrap', BOOTSTRAP, { mode: 0o755 }]]) },
  }));
  await waitActive(name);
}

async function invoke(name, event, extra = {}) {
  const r = await lambda.send(new InvokeCommand({ FunctionName: name, Payload: JSON.stringify(event), ...extra }));
  assert.equal(r.FunctionError, undefined, Buffer.from(r.Payload ?? []).toString());
  return dec(r.Payload);
}

/** One raw request from this process: {status, body} or {error} (refused or reset). */
function foreign(api, method, path, body) {
  const [host, port] = api.split(':');
  return new Promise((resolve) => {
    const req = http.request({ host, port: Number(port), method, path, agent: false, timeout: 3000,
      headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {} }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { data += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: data }));
      res.on('error', (e) => resolve({ error: e.code ?? e.message }));
    });
    req.on('timeout', () => { req.destroy(new Error('timeout')); });
    req.on('error', (e) => resolve({ error: e.code ?? e.message }));
    req.end(body);
  });
}

/** Refused: 403, or the connection closed without an answer; never an event, never a 2xx. */
function assertRefused(r, what) {
  if (r.error !== undefined) {
    assert.notEqual(r.error, 'timeout', `${what}: the request hung instead of being refused`);
    return;
  }
  assert.equal(r.status, 403, `${what}: ${JSON.stringify(r)}`);
  assert.match(r.body, /AccessDeniedException/);
}

before(async () => {
  const accounts = defaultAccounts();
  accounts[0].roles = { exec: { name: 'fn-exec', path: '/', assumeRolePolicyDocument: trust } };
  gw = await startServer({ accounts, args: ['--lambda-concurrency', '1', '--lambda-idle-timeout', '120'] });
  lambda = makeClient(LambdaClient, gw, accounts[0].root);
  await createFn('victim');
  await createFn('attacker');
});

after(async () => {
  if (gw) {
    const r = await gw.stop();
    assert.equal(r.signal, null, gw.stderr().slice(-2000));
    const err = gw.stderr();
    assert.doesNotMatch(err, /ERROR: AddressSanitizer: (?!detected memory leaks)|runtime error:/, err.slice(-4000));
  }
});

describe('Lambda Runtime API: only the runtime itself', () => {
  test('a foreign local process can neither take the next event nor answer for the function', async () => {
    const first = await invoke('victim', { n: 1 });
    assert.equal(first.mine, true);
    // the port is no secret: the function told us, and /proc/net/tcp lists it for everyone
    const api = first.api;
    assert.match(api, /^127\.0\.0\.1:\d+$/);

    // the runtime is parked on /next: a foreign /next must not get the next event
    const stray = foreign(api, 'GET', '/2018-06-01/runtime/invocation/next');
    const inv = invoke('victim', { n: 2 });
    assertRefused(await stray, 'idle GET /next');
    const second = await inv;
    assert.equal(second.mine, true);
    assert.deepEqual(second.event, { n: 2 });

    // an invocation in flight: a stray /next and a forged response are refused, and the call
    // ends with the function's own answer
    const inflight = invoke('victim', { n: 3, sleep: 1.5 });
    await new Promise((r) => setTimeout(r, 400));
    assertRefused(await foreign(api, 'GET', '/2018-06-01/runtime/invocation/next'), 'in-flight GET /next');
    for (const id of [randomUUID(), second.rid]) {
      assertRefused(await foreign(api, 'POST', `/2018-06-01/runtime/invocation/${id}/response`, '{"hijacked":true}'),
        'forged response');
      assertRefused(await foreign(api, 'POST', `/2018-06-01/runtime/invocation/${id}/error`, '{"errorType":"X"}'),
        'forged error');
    }
    assertRefused(await foreign(api, 'POST', '/2018-06-01/runtime/init/error', '{"errorType":"X"}'), 'forged init error');
    const third = await inflight;
    assert.equal(third.mine, true);
    assert.deepEqual(third.event, { n: 3, sleep: 1.5 });

    // and the runtime still serves
    assert.deepEqual((await invoke('victim', { n: 4 })).event, { n: 4 });
  });

  test('a function cannot reach another function\'s Runtime API', async () => {
    const { api } = await invoke('victim', { n: 5 });
    const r = await invoke('attacker', { probe: api });
    assert.equal(r.mine, true);
    for (const k of ['next', 'response']) {
      const got = r.probe[k];
      if (got.error === undefined) {
        assert.equal(got.status, 403, JSON.stringify(got));
        assert.match(got.body, /AccessDeniedException/);
      } else {
        assert.notEqual(got.error, 'timeout', JSON.stringify(got));
      }
    }
    // the victim was not disturbed
    assert.deepEqual((await invoke('victim', { n: 6 })).event, { n: 6 });
  });

  test('a second /next from the runtime itself during an invocation does not abort it', async () => {
    const r = await invoke('victim', { n: 7, stray_next: true });
    assert.equal(r.mine, true);
    assert.deepEqual(r.event, { n: 7, stray_next: true });
    assert.deepEqual((await invoke('victim', { n: 8 })).event, { n: 8 });
  });
});

describe('Lambda Runtime API: headers', () => {
  test('a client context with CR LF injects no header and round-trips', async () => {
    const text = '{"custom":{"k":"v\\r\\nX-Injected: 1"},\r\n"X-Injected-Too: yes":\r\n\r\n"x", "env": {"é": 1}}';
    const want = JSON.parse(text);
    const r = await invoke('victim', { n: 9 }, { ClientContext: Buffer.from(text).toString('base64') });
    assert.deepEqual(r.event, { n: 9 });
    for (const h of r.headers) assert.match(h, /^(lambda-runtime-[a-z-]+|content-type|content-length|connection)$/, h);
    assert.ok(r.headers.includes('lambda-runtime-client-context'));
    assert.doesNotMatch(r.cc, /[\r\n]/);
    assert.deepEqual(JSON.parse(r.cc), want);
  });
});
