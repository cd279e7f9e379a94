// The gateway's HTTP status rules driven by curl with `--aws-sigv4` (an independent SigV4
// signer): 200, 202, 400, 403, 404, 405, 406 and the 2026-07-28 fallback, on an AWS_IAM gateway.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { createEchoFunction, createGateway, createLambdaTarget, startMcpServer } from './lib/mcp.mjs';

const run = promisify(execFile);
let gw;
let g;
let key;

before(async () => {
  gw = await startMcpServer({});
  const A = gw.accounts[0];
  key = A.root;
  const fn = await createEchoFunction(gw, A);
  g = await createGateway(gw, A, { protocolConfiguration: { mcp: { sessionConfiguration: { sessionTimeoutInSeconds: 900 } } } });
  await createLambdaTarget(gw, A, g.gatewayId, 'echo', fn, [
    { name: 'say', description: 'say it back', inputSchema: { type: 'object', properties: { m: { type: 'string' } } } },
  ]);
});

after(async () => { await gw?.stop(); });

/** One curl request; returns {status, headers (lower-case names), body}. */
async function curl({ method = 'POST', url = g.gatewayUrl, body, headers = {}, sign = true }) {
  const args = ['-sS', '-i', '--max-time', '10', '-X', method];
  if (sign) args.push('--aws-sigv4', 'aws:amz:us-east-1:bedrock-agentcore', '--user', `${key.accessKeyId}:${key.secretAccessKey}`);
  for (const [k, v] of Object.entries({ 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers })) {
    if (v !== null) args.push('-H', `${k}: ${v}`);
  }
  if (body !== undefined) args.push('--data-binary', body);
  args.push(url);
  const { stdout } = await run('curl', args);
  const [head, ...rest] = stdout.split('\r\n\r\n');
  const lines = head.split('\r\n');
  const status = Number(lines[0].split(' ')[1]);
  const h = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    h[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status, headers: h, body: rest.join('\r\n') };
}

const initialize = (v = '2025-06-18') => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: v, capabilities: {}, clientInfo: { name: 'curl', version: '7.88' } } });

test('200: initialize signed by curl opens a session; 202: a notification; then tools/list', async () => {
  const r = await curl({ body: initialize() });
  assert.equal(r.status, 200, r.body);
  assert.equal(JSON.parse(r.body).result.protocolVersion, '2025-06-18');
  const sid = r.headers['mcp-session-id'];
  assert.ok(sid);
  const h = { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' };
  const n = await curl({ body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), headers: h });
  assert.equal(n.status, 202);
  assert.equal(n.body, '');
  const l = await curl({ body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }), headers: h });
  assert.equal(l.status, 200);
  assert.deepEqual(JSON.parse(l.body).result.tools.map((t) => t.name), ['echo___say']);
});

test('400: no session on a gateway that keeps sessions, and an unsupported MCP-Protocol-Version', async () => {
  const r = await curl({ body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) });
  assert.equal(r.status, 400);
  const v = await curl({ body: initialize(), headers: { 'mcp-protocol-version': '1999-01-01' } });
  assert.equal(v.status, 400);
});

test('400: the 2026-07-28 fallback', async () => {
  const r = await curl({
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'server/discover', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } } }),
    headers: { 'mcp-protocol-version': '2026-07-28' },
  });
  assert.equal(r.status, 400);
  assert.ok(JSON.parse(r.body).error);
});

test('403: unsigned, or signed with a wrong secret', async () => {
  const u = await curl({ body: initialize(), sign: false });
  assert.equal(u.status, 403);
  const saved = key;
  key = { ...key, secretAccessKey: 'not-the-secret' };
  try {
    const w = await curl({ body: initialize() });
    assert.equal(w.status, 403);
  } finally {
    key = saved;
  }
});

test('404: an unknown gateway, or a session that does not exist', async () => {
  const r = await curl({ body: initialize(), url: g.gatewayUrl.replace(g.gatewayId, 'nosuch-abcdefghij') });
  assert.equal(r.status, 404);
  const s = await curl({ body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    headers: { 'mcp-session-id': 'not-a-session', 'mcp-protocol-version': '2025-06-18' } });
  assert.equal(s.status, 404);
});

test('405: GET (no server stream); 406: an Accept that takes neither JSON nor SSE', async () => {
  const r = await curl({ method: 'GET', headers: { accept: 'text/event-stream', 'content-type': null } });
  assert.equal(r.status, 405);
  const a = await curl({ body: initialize(), headers: { accept: 'text/html' } });
  assert.equal(a.status, 406);
});
