import crypto from 'node:crypto';
import http from 'node:http';
// The MCP Streamable HTTP status rules at a gateway URL, with raw requests (signed where the
// gateway needs it): 202, 400, 403, 404, 405, 406, 415, the 2026-07-28 fallback, batches, and
// hostile input that must get an error and never crash the server.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { control, createEchoFunction, createGateway, createLambdaTarget, signedFetch, startMcpServer } from './lib/mcp.mjs';
import { rawExchange } from './lib/raw.mjs';
import { CreateGatewayCommand } from '@aws-sdk/client-bedrock-agentcore-control';

let gw;
let A;
let sessGw; // AWS_IAM with sessionConfiguration
let openGw; // NONE, stateless
let sfetch;

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const init = (v = '2025-11-25', id = 1) => JSON.stringify({
  jsonrpc: '2.0', id, method: 'initialize',
  params: { protocolVersion: v, capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
});
const rpc = (method, id, params) => JSON.stringify({ jsonrpc: '2.0', ...(id === undefined ? {} : { id }), method, ...(params ? { params } : {}) });

async function post(url, body, headers = {}, f = fetch) {
  const r = await f(url, { method: 'POST', headers: { ...JSON_HEADERS, ...headers }, body });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, headers: r.headers, text, json };
}

async function session(version = '2025-11-25') {
  const r = await post(sessGw.gatewayUrl, init(version), {}, sfetch);
  assert.equal(r.status, 200, r.text);
  const sid = r.headers.get('mcp-session-id');
  assert.ok(sid && /^[\x21-\x7e]+$/.test(sid));
  return { sid, h: { 'mcp-session-id': sid, 'mcp-protocol-version': version } };
}

before(async () => {
  gw = await startMcpServer({ args: ['--tools-page-size', '2'] });
  A = gw.accounts[0];
  sfetch = signedFetch(A.root);
  const fn = await createEchoFunction(gw, A);
  const tools = [1, 2, 3].map((i) => ({ name: `t${i}`, description: `tool ${i}`, inputSchema: { type: 'object' } }));
  sessGw = await createGateway(gw, A, { protocolConfiguration: { mcp: { sessionConfiguration: { sessionTimeoutInSeconds: 900 } } } });
  await createLambdaTarget(gw, A, sessGw.gatewayId, 'x', fn, tools);
  openGw = await createGateway(gw, A, { authorizerType: 'NONE' });
  await createLambdaTarget(gw, A, openGw.gatewayId, 'x', fn, tools);
});

after(async () => {
  await gw?.stop();
});

test('initialize answers JSON with a session id; notifications get 202 with no body', async () => {
  const r = await post(sessGw.gatewayUrl, init(), {}, sfetch);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /application\/json/);
  assert.equal(r.json.result.protocolVersion, '2025-11-25');
  assert.ok(r.json.result.capabilities.tools);
  const sid = r.headers.get('mcp-session-id');
  const n = await post(sessGw.gatewayUrl, rpc('notifications/initialized'), { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' }, sfetch);
  assert.equal(n.status, 202);
  assert.equal(n.text, '');
  const resp = await post(sessGw.gatewayUrl, JSON.stringify({ jsonrpc: '2.0', id: 9, result: {} }), { 'mcp-session-id': sid }, sfetch);
  assert.equal(resp.status, 202);
});

test('version negotiation: an unknown client version gets the newest one the gateway speaks', async () => {
  const r = await post(openGw.gatewayUrl, init('2024-11-05'));
  assert.equal(r.json.result.protocolVersion, '2025-11-25');
  const r2 = await post(openGw.gatewayUrl, init('2025-06-18'));
  assert.equal(r2.json.result.protocolVersion, '2025-06-18');
});

test('400: missing session, unsupported MCP-Protocol-Version, version not matching the session', async () => {
  let r = await post(sessGw.gatewayUrl, rpc('ping', 2), {}, sfetch);
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, -32000);
  const { sid } = await session();
  r = await post(sessGw.gatewayUrl, rpc('ping', 2), { 'mcp-session-id': sid, 'mcp-protocol-version': '1999-01-01' }, sfetch);
  assert.equal(r.status, 400);
  assert.match(r.json.error.message, /Unsupported protocol version/);
  r = await post(sessGw.gatewayUrl, rpc('ping', 2), { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-03-26' }, sfetch);
  assert.equal(r.status, 400);
  r = await post(openGw.gatewayUrl, rpc('ping', 2), { 'mcp-protocol-version': 'garbage' });
  assert.equal(r.status, 400);
});

test('404: unknown, tampered, foreign and ended sessions; unknown gateways', async () => {
  const { sid, h } = await session();
  let r = await post(sessGw.gatewayUrl, rpc('ping', 2), h, sfetch);
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.result, {});
  r = await post(sessGw.gatewayUrl, rpc('ping', 2), { ...h, 'mcp-session-id': 'nope' }, sfetch);
  assert.equal(r.status, 404);
  const tampered = sid.slice(0, -2) + (sid.endsWith('AA') ? 'BB' : 'AA');
  r = await post(sessGw.gatewayUrl, rpc('ping', 2), { ...h, 'mcp-session-id': tampered }, sfetch);
  assert.equal(r.status, 404);
  // another caller of the same account (the user dev, with no permissions but as root's session? no:
  // a different principal) cannot use the session: use the other account's root on an open gateway
  // is not possible (NONE has no caller), so check another gateway instead
  const other = await post(openGw.gatewayUrl, rpc('ping', 2), h);
  assert.equal(other.status, 200, 'a stateless gateway ignores session ids');
  // DELETE ends it
  const d = await sfetch(sessGw.gatewayUrl, { method: 'DELETE', headers: h });
  assert.equal(d.status, 200);
  r = await post(sessGw.gatewayUrl, rpc('ping', 2), h, sfetch);
  assert.equal(r.status, 404);
  const d2 = await sfetch(sessGw.gatewayUrl, { method: 'DELETE', headers: h });
  assert.equal(d2.status, 404);
  const u = await fetch(`${gw.endpoint}/gateways/nope-0000000000/mcp`, { method: 'POST', headers: JSON_HEADERS, body: init() });
  assert.equal(u.status, 404);
});

test('a session belongs to its caller', async () => {
  const { h } = await session();
  const devFetch = signedFetch({ accessKeyId: A.users.dev.accessKeyId, secretAccessKey: A.users.dev.secretAccessKey });
  const r = await post(sessGw.gatewayUrl, rpc('ping', 2), h, devFetch);
  // dev has no InvokeGateway permission: refused before the session is looked at
  assert.equal(r.status, 403);
});

test('403: a bad Origin or Host; allowed: no Origin, localhost origins', async () => {
  let r = await post(openGw.gatewayUrl, init(), { origin: 'http://evil.example' });
  assert.equal(r.status, 403);
  r = await post(openGw.gatewayUrl, init(), { origin: 'http://localhost:5173' });
  assert.equal(r.status, 200);
  r = await post(openGw.gatewayUrl, init(), { origin: 'http://127.0.0.1:6274' });
  assert.equal(r.status, 200);
  const path = new URL(openGw.gatewayUrl).pathname;
  const body = init();
  const raw = await rawExchange(gw.port, `POST ${path} HTTP/1.1\r\nHost: evil\r\nOrigin: http://evil\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  assert.equal(raw.status, 403);
  const raw2 = await rawExchange(gw.port, `POST ${path} HTTP/1.1\r\nHost: evil.example\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  assert.equal(raw2.status, 403);
});

test('403 on IAM gateways: unsigned, bearer tokens; 401 on JWT gateways', async () => {
  let r = await post(sessGw.gatewayUrl, init());
  assert.equal(r.status, 403);
  assert.equal(r.headers.get('x-amzn-errortype'), 'MissingAuthenticationTokenException');
  r = await post(sessGw.gatewayUrl, init(), { authorization: 'Bearer abc.def.ghi' });
  assert.equal(r.status, 403);
  assert.match(r.json.message, /Authorization method mismatch/);
  // a CUSTOM_JWT gateway whose issuer is a small server of this test
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const idp = http.createServer((req, res) => {
    const base = `http://127.0.0.1:${idp.address().port}`;
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration') res.end(JSON.stringify({ issuer: base, jwks_uri: `${base}/jwks` }));
    else res.end(JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k', use: 'sig' }] }));
  });
  await new Promise((res) => idp.listen(0, '127.0.0.1', res));
  try {
    const jwt = await control(gw, A.root).send(new CreateGatewayCommand({
      name: 'jwtgw', protocolType: 'MCP', authorizerType: 'CUSTOM_JWT', roleArn: `arn:aws:iam::${A.id}:role/GatewayRole`,
      authorizerConfiguration: { customJWTAuthorizer: {
        discoveryUrl: `http://127.0.0.1:${idp.address().port}/.well-known/openid-configuration`, allowedAudience: ['x'] } },
    }));
    for (let i = 0; i < 50; i++) {
      r = await post(jwt.gatewayUrl, init(), { authorization: 'Bearer abc' });
      if (r.status !== 404) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(r.status, 401);
    assert.equal(r.json.error.message, 'Invalid Bearer token: malformed token');
    assert.match(r.headers.get('www-authenticate'), /^Bearer error="invalid_token", error_description="malformed token", resource_metadata="http:\/\/.*\/\.well-known\/oauth-protected-resource\/gateways\/jwtgw-[a-z0-9]+\/mcp"$/);
    // a token of this issuer, for audience x
    const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const si = `${b64({ alg: 'ES256', kid: 'k' })}.${b64({ iss: `http://127.0.0.1:${idp.address().port}`, aud: 'x', sub: 's', exp: now + 60 })}`;
    const sig = crypto.sign('sha256', Buffer.from(si), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    r = await post(jwt.gatewayUrl, init(), { authorization: `Bearer ${si}.${sig}` });
    assert.equal(r.status, 200);
    assert.equal(r.json.result.serverInfo.name !== undefined, true);
  } finally {
    idp.close();
  }
});

test('405 for GET (no server stream) and other methods; 406 for an unacceptable Accept; 415', async () => {
  let r = await fetch(openGw.gatewayUrl, { method: 'GET', headers: { accept: 'text/event-stream' } });
  assert.equal(r.status, 405);
  r = await fetch(openGw.gatewayUrl, { method: 'PUT', headers: JSON_HEADERS, body: '{}' });
  assert.equal(r.status, 405);
  r = await fetch(openGw.gatewayUrl, { method: 'DELETE' });
  assert.equal(r.status, 405, 'a gateway without sessions cannot end one');
  let p = await post(openGw.gatewayUrl, init(), { accept: 'text/html' });
  assert.equal(p.status, 406);
  p = await post(openGw.gatewayUrl, init(), { 'content-type': 'text/plain' });
  assert.equal(p.status, 415);
  p = await post(openGw.gatewayUrl, init(), { accept: 'text/event-stream' });
  assert.equal(p.status, 200);
  assert.match(p.headers.get('content-type'), /text\/event-stream/);
  assert.match(p.text, /^event: message\ndata: \{.*"protocolVersion":"2025-11-25"/);
  const noAccept = await fetch(openGw.gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: rpc('ping', 1) });
  assert.equal(noAccept.status, 200);
});

test('2026-07-28 clients get the 400 that makes them fall back to initialize', async () => {
  const discover = rpc('server/discover', 1, { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } });
  let r = await post(openGw.gatewayUrl, discover, { 'mcp-protocol-version': '2026-07-28' });
  assert.equal(r.status, 400);
  assert.ok(r.json.error.code > -32020 || r.json.error.code < -32022);
  r = await post(openGw.gatewayUrl, discover);
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, -32000);
  r = await post(sessGw.gatewayUrl, discover, {}, sfetch);
  assert.equal(r.status, 400);
});

test('batches on 2025-03-26 only', async () => {
  const { h } = await session('2025-03-26');
  const batch = `[${rpc('ping', 1)},${rpc('notifications/initialized')},${rpc('tools/list', 'b')},${rpc('nope', 3)}]`;
  let r = await post(sessGw.gatewayUrl, batch, h, sfetch);
  assert.equal(r.status, 200);
  assert.equal(r.json.length, 3);
  assert.deepEqual(r.json[0].result, {});
  assert.equal(r.json[1].id, 'b');
  assert.equal(r.json[1].result.tools.length, 2);
  assert.equal(r.json[2].error.code, -32601);
  r = await post(sessGw.gatewayUrl, `[${rpc('notifications/initialized')}]`, h, sfetch);
  assert.equal(r.status, 202);
  const s2 = await session('2025-06-18');
  r = await post(sessGw.gatewayUrl, `[${rpc('ping', 1)}]`, s2.h, sfetch);
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, -32600);
  r = await post(sessGw.gatewayUrl, `[${init('2025-03-26')}]`, h, sfetch);
  assert.equal(r.json[0].error.code, -32600, 'initialize must not be batched');
});

test('tools/list pages and cursors', async () => {
  const r1 = await post(openGw.gatewayUrl, rpc('tools/list', 1));
  assert.equal(r1.json.result.tools.length, 2);
  const c = r1.json.result.nextCursor;
  assert.ok(c);
  const r2 = await post(openGw.gatewayUrl, rpc('tools/list', 2, { cursor: c }));
  assert.equal(r2.json.result.tools.length, 1);
  assert.equal(r2.json.result.nextCursor, undefined);
  const bad = await post(openGw.gatewayUrl, rpc('tools/list', 3, { cursor: c.slice(0, 5) + (c[5] === 'A' ? 'B' : 'A') + c.slice(6) }));
  assert.equal(bad.json.error.code, -32602);
  assert.equal(bad.json.error.message, 'Invalid cursor');
  const other = await post(sessGw.gatewayUrl, rpc('tools/list', 4, { cursor: c }), (await session()).h, sfetch);
  assert.equal(other.json.error.code, -32602, 'a cursor of another gateway');
});

test('JSON-RPC errors: -32700, -32600, -32601, -32602; _meta keys are tolerated', async () => {
  const u = openGw.gatewayUrl;
  let r = await post(u, '{"jsonrpc":"2.0",');
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, -32700);
  assert.equal(r.json.id, null);
  for (const bad of ['42', '"x"', 'null', '[]', '{"id":1,"method":"ping"}', '{"jsonrpc":"1.0","id":1,"method":"ping"}',
    '{"jsonrpc":"2.0","id":null,"method":"ping"}', '{"jsonrpc":"2.0","id":1.5,"method":"ping"}',
    '{"jsonrpc":"2.0","id":{},"method":"ping"}', '{"jsonrpc":"2.0","id":1,"method":7}',
    '{"jsonrpc":"2.0","id":1,"method":"ping","params":"x"}', '{"jsonrpc":"2.0","id":1}']) {
    r = await post(u, bad);
    assert.equal(r.status, 400, bad);
    assert.equal(r.json.error.code, -32600, bad);
  }
  r = await post(u, rpc('resources/list', 1));
  assert.equal(r.status, 200);
  assert.equal(r.json.error.code, -32601);
  r = await post(u, rpc('tools/call', 1, { name: 'x___t1', arguments: [] }));
  assert.equal(r.json.error.code, -32602);
  r = await post(u, rpc('tools/call', 1, { arguments: {} }));
  assert.equal(r.json.error.code, -32602);
  r = await post(u, rpc('initialize', 1, { capabilities: {} }));
  assert.equal(r.json.error.code, -32602);
  r = await post(u, rpc('tools/list', 1, { _meta: { AWS_REGION: 'us-east-1', progressToken: 5, 'x/y': [1] } }));
  assert.equal(r.json.result.tools.length, 2);
  r = await post(u, JSON.stringify({ jsonrpc: '2.0', id: 'é'.repeat(10), method: 'ping' }));
  assert.equal(r.json.id, 'é'.repeat(10));
});

test('notifications/cancelled stops a call: its POST ends at once with 202', async () => {
  const t0 = Date.now();
  const call = post(openGw.gatewayUrl, rpc('tools/call', 'slow-1', { name: 'x___t1', arguments: { sleep: 3 } }));
  await new Promise((r) => setTimeout(r, 300));
  const c = await post(openGw.gatewayUrl, rpc('notifications/cancelled', undefined, { requestId: 'slow-1', reason: 'test' }));
  assert.equal(c.status, 202);
  const r = await call;
  assert.equal(r.status, 202);
  assert.equal(r.text, '');
  assert.ok(Date.now() - t0 < 2500, `took ${Date.now() - t0} ms`);
  // an unknown or late cancel is ignored
  const late = await post(openGw.gatewayUrl, rpc('notifications/cancelled', undefined, { requestId: 'slow-1' }));
  assert.equal(late.status, 202);
  const ok = await post(openGw.gatewayUrl, rpc('tools/call', 2, { name: 'x___t1', arguments: { v: 1 } }));
  assert.equal(JSON.parse(ok.json.result.content[0].text).event.v, 1);
});

test('hostile input gets an error and never a crash', async () => {
  const u = openGw.gatewayUrl;
  let r = await post(u, JSON.stringify({ jsonrpc: '2.0', id: 'x'.repeat(100000), method: 'ping' }));
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, -32600);
  r = await post(u, JSON.stringify({ jsonrpc: '2.0', id: 1e300, method: 'ping' }));
  assert.equal(r.status, 400);
  r = await post(u, '{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"ping"}');
  assert.ok([400].includes(r.status));
  r = await post(u, `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"a":${'['.repeat(100000)}${']'.repeat(100000)}}}`);
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, -32700);
  r = await post(u, Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('","method":"ping"}')]));
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, -32700);
  r = await post(u, `[${Array.from({ length: 65 }, (_, i) => rpc('ping', i)).join(',')}]`, { 'mcp-protocol-version': '2025-03-26' });
  assert.equal(r.status, 400);
  const path = new URL(u).pathname;
  const big = await rawExchange(gw.port, [`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${7 * 1024 * 1024}\r\n\r\n`, Buffer.alloc(7 * 1024 * 1024, 0x20)]);
  assert.ok(big.status === 413 || (big.status === null && big.closed), `oversized body: ${big.status}`);
  r = await post(u, rpc('tools/call', 1, { name: 'x___t1', arguments: { a: 'b'.repeat(1000) } }));
  assert.equal(r.status, 200);
  // still alive
  r = await post(u, rpc('ping', 7));
  assert.deepEqual(r.json, { jsonrpc: '2.0', id: 7, result: {} });
  assert.ok(gw.alive());
  assert.doesNotMatch(gw.stderr(), /AddressSanitizer|LeakSanitizer|runtime error/);
});
