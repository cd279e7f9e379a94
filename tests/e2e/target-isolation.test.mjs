// A target whose upstream hangs must not delay anyone else: while calls to one gateway's
// OpenAPI tool wait on a server that accepts connections and never answers, another gateway's
// tool (another upstream) answers within a deadline, and so does the hung gateway's own
// tools/list. The outbound client never blocks an event loop.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { createRequire } from 'node:module';
import { startMcpServer, control, createGateway, connect } from './lib/mcp.mjs';

const require = createRequire(import.meta.url);
const { CreateGatewayTargetCommand, GetGatewayTargetCommand } = require('@aws-sdk/client-bedrock-agentcore-control');

let gw, hung, fast, hungSockets = [];
const listen = (srv) => new Promise((r) => srv.listen(0, '127.0.0.1', () => r(srv.address().port)));

function doc(port) {
  return JSON.stringify({
    openapi: '3.0.3', info: { title: 't', version: '1' }, servers: [{ url: `http://127.0.0.1:${port}` }],
    paths: { '/ping': { get: { operationId: 'ping', description: 'answers pong',
      responses: { 200: { description: 'ok' } } } } },
  });
}

async function openapiTarget(acct, gatewayId, name, port) {
  const c = control(gw, acct.root);
  const t = await c.send(new CreateGatewayTargetCommand({ gatewayIdentifier: gatewayId, name,
    targetConfiguration: { mcp: { openApiSchema: { inlinePayload: doc(port) } } } }));
  for (let i = 0; i < 100; i++) {
    const s = await c.send(new GetGatewayTargetCommand({ gatewayIdentifier: gatewayId, targetId: t.targetId }));
    if (s.status === 'READY') return;
    assert.ok(!/FAILED|UNSUCCESSFUL/.test(s.status), `target ${s.status}: ${s.statusReasons}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail('target never READY');
}

before(async () => {
  // accepts and holds every connection: the request is read, no answer ever comes
  hung = net.createServer((s) => { hungSockets.push(s); s.on('error', () => {}); });
  fast = http.createServer((req, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"pong":true}'); });
  gw = await startMcpServer();
});

after(async () => {
  await gw?.stop();
  for (const s of hungSockets) s.destroy();
  hung?.close();
  fast?.close();
});

test('a hung upstream delays neither another gateway nor tools/list', async () => {
  const hungPort = await listen(hung);
  const fastPort = await listen(fast);
  const A = gw.accounts[0];
  const g1 = await createGateway(gw, A);
  const g2 = await createGateway(gw, A);
  await openapiTarget(A, g1.gatewayId, 'slow', hungPort);
  await openapiTarget(A, g2.gatewayId, 'quick', fastPort);

  const { client: c1 } = await connect(g1.gatewayUrl, A.root);
  const { client: c2 } = await connect(g2.gatewayUrl, A.root);
  // more hung calls than the server has event loops or worker threads
  const pending = [];
  for (let i = 0; i < 16; i++) {
    pending.push(c1.callTool({ name: 'slow___ping', arguments: {} }, undefined, { timeout: 120000 })
      .then(() => 'answered', () => 'failed'));
  }
  await new Promise((r) => setTimeout(r, 300)); // the hung calls are in flight
  let settled = 0;
  for (const p of pending) p.then(() => settled++);

  const deadlineMs = 2000;
  for (let i = 0; i < 5; i++) {
    const t0 = Date.now();
    const r = await c2.callTool({ name: 'quick___ping', arguments: {} });
    const ms = Date.now() - t0;
    assert.equal(r.isError, false, JSON.stringify(r));
    assert.match(r.content[0].text, /pong/);
    assert.ok(ms < deadlineMs, `another gateway's tools/call took ${ms} ms while an upstream hung`);
    const t1 = Date.now();
    const list = await c1.listTools();
    assert.ok(Date.now() - t1 < deadlineMs, 'tools/list of the hung gateway was delayed');
    assert.deepEqual(list.tools.map((x) => x.name), ['slow___ping']);
  }
  assert.equal(settled, 0, 'the hung calls should still be waiting on their upstream');
  await c2.close();

  // stopping the server does not wait on the hung upstream: the calls end with an error answer
  // and the process exits cleanly, well within the harness's 5 s before SIGKILL
  const t0 = Date.now();
  const r = await gw.stop();
  gw = null;
  assert.equal(r.signal, null, `the server was killed (${r.signal}) instead of stopping`);
  assert.equal(r.code, 0);
  assert.ok(Date.now() - t0 < 4000, `stopping took ${Date.now() - t0} ms`);
  const outcomes = await Promise.all(pending);
  assert.equal(outcomes.length, 16);
  await c1.close().catch(() => {});
});
