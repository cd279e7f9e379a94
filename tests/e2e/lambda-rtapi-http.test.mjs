// The Lambda Runtime API's HTTP parsing as the runtime itself reaches it: malformed or ambiguous
// requests from a function's own code get an HTTP error and a closed connection, never a request
// the pool acts on, and the invocation in flight is not disturbed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
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

// A provided.* bootstrap (Python, standard library only): for an event {"raw": [...]}, sends each
// string as raw bytes on a new connection to its own Runtime API and reports the status line it
// got back (or that the connection closed), then answers the invocation normally.
const BOOTSTRAP = `#!/usr/bin/env python3
import http.client, json, os, socket
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")

def call(method, path, body=None, headers=None, chunked=False):
    c = http.client.HTTPConnection(host, int(port))
    c.request(method, "/2018-06-01/runtime" + path, body=body, headers=headers or {},
              encode_chunked=chunked)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data

def raw(text):
    s = socket.create_connection((host, int(port)), timeout=5)
    try:
        s.sendall(text.encode("latin-1"))
        data = b""
        while b"\\r\\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        line = data.split(b"\\r\\n")[0].decode("latin-1")
        # the connection must be closed after the answer
        s.settimeout(3)
        try:
            while s.recv(4096):
                pass
            closed = True
        except socket.timeout:
            closed = False
        return {"status": line, "closed": closed}
    except Exception as e:
        return {"error": type(e).__name__}
    finally:
        s.close()

while True:
    r, data = call("GET", "/invocation/next")
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    ev = json.loads(data)
    out = {"event": ev}
    if isinstance(ev, dict) and "raw" in ev:
        out["raw"] = [raw(t) for t in ev["raw"]]
    if isinstance(ev, dict) and ev.get("chunked"):
        body = json.dumps(out).encode()
        call("POST", "/invocation/%s/response" % rid, body=iter([body[:5], body[5:]]),
             headers={"Transfer-Encoding": "chunked"}, chunked=True)
    else:
        call("POST", "/invocation/%s/response" % rid, json.dumps(out).encode())
`;

let gw;
let lambda;

async function waitActive(name) {
  for (let i = 0; i < 100; i++) {
    const f = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
    if (f.State === 'Active' && f.LastUpdateStatus !== 'InProgress') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`function ${name} never became Active`);
}

async function invoke(event) {
  const r = await lambda.send(new InvokeCommand({ FunctionName: 'rawfn', Payload: JSON.stringify(event) }));
  const text = Buffer.from(r.Payload ?? []).toString();
  assert.equal(r.FunctionError, undefined, text);
  return JSON.parse(text);
}

before(async () => {
  const accounts = defaultAccounts();
  accounts[0].roles = { exec: { name: 'fn-exec', path: '/', assumeRolePolicyDocument: trust } };
  gw = await startServer({ accounts, args: ['--lambda-concurrency', '1', '--lambda-idle-timeout', '120'] });
  lambda = makeClient(LambdaClient, gw, accounts[0].root);
  await lambda.send(new CreateFunctionCommand({
    FunctionName: 'rawfn', Runtime: 'provided.al2023', Handler: 'unused', Role: ROLE, Timeout: 20,
    Code: { ZipFile: zipFiles([['bootstrap', BOOTSTRAP, { mode: 0o755 }]]) },
  }));
  await waitActive('rawfn');
});

after(async () => {
  if (gw) {
    const r = await gw.stop();
    assert.equal(r.signal, null, gw.stderr().slice(-2000));
    const err = gw.stderr();
    assert.doesNotMatch(err, /ERROR: AddressSanitizer: (?!detected memory leaks)|runtime error:/, err.slice(-4000));
  }
});

describe('Lambda Runtime API: HTTP parsing', () => {
  test('a chunked response body is accepted', async () => {
    const r = await invoke({ n: 1, chunked: true });
    assert.deepEqual(r.event, { n: 1, chunked: true });
  });

  test('malformed and ambiguous requests are refused with a status and a closed connection', async () => {
    const P = '/2018-06-01/runtime/nope';
    const cases = [
      // both framings (request smuggling)
      [`POST ${P} HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
      // chunk data not followed by CRLF (it used to be skipped unread)
      [`POST ${P} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n`, 400],
      [`POST ${P} HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab`, 400],
      [`POST ${P} HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n`, 501],
      [`GET ${P} HTTP/1.1\r\nA: 1\r\n folded\r\n\r\n`, 400],
      [`GET ${P} HTTP/2.0\r\n\r\n`, 505],
      [`POST ${P} HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n`, 413],
      [`GET ${P} HTTP/1.1\r\n${'X-A: 1\r\n'.repeat(101)}\r\n`, 431],
    ];
    const r = await invoke({ n: 2, raw: cases.map((c) => c[0]) });
    assert.deepEqual(r.event.n, 2);
    r.raw.forEach((got, i) => {
      assert.equal(got.error, undefined, `case ${i}: ${JSON.stringify(got)}`);
      assert.match(got.status, new RegExp(`^HTTP/1\\.1 ${cases[i][1]} `), `case ${i}: ${got.status}`);
      assert.equal(got.closed, true, `case ${i}: the connection stayed open`);
    });
    // the process still serves the next invocation
    assert.deepEqual((await invoke({ n: 3 })).event, { n: 3 });
  });
});
