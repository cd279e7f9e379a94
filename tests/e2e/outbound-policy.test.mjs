// The outbound address policy end to end: a server started with --outbound-deny-local refuses
// targets on loopback (an OpenAPI tool call fails, an MCP-server target fails to synchronize)
// but for the --outbound-allow exception; a default server refuses the instance metadata
// address (169.254.169.254) in every spelling, and allows loopback. The refused upstreams are
// real servers that count what reaches them: nothing may.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  CreateGatewayTargetCommand, GetGatewayTargetCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import { connect, control, createGateway, startMcpServer } from './lib/mcp.mjs';

const REFUSED = /the address (127\.0\.0\.1|::1|::ffff:127\.0\.0\.1) is not allowed for outbound requests/;

let shared;   // --outbound-deny-local --outbound-allow 127.0.0.1:ALLOWED
let plain;    // the defaults
let refusedUp;
let allowedUp;

function startUpstream() {
  return new Promise((resolve) => {
    const srv = http.createServer((req, res) => {
      srv.hits++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, path: req.url }));
    });
    srv.hits = 0;
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}

const openApiDoc = (url) => JSON.stringify({
  openapi: '3.0.1', info: { title: 't', version: '1' }, servers: [{ url }],
  paths: { '/ping': { get: { operationId: 'ping', responses: { 200: { description: 'ok' } } } } },
});

async function waitTarget(c, gatewayId, targetId, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    const t = await c.send(new GetGatewayTargetCommand({ gatewayIdentifier: gatewayId, targetId }));
    if (!['CREATING', 'UPDATING', 'SYNCHRONIZING'].includes(t.status)) return t;
    if (Date.now() > end) throw new Error(`target still ${t.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function openApiTarget(gw, acct, gatewayId, name, url) {
  const c = control(gw, acct.root);
  const out = await c.send(new CreateGatewayTargetCommand({
    gatewayIdentifier: gatewayId, name,
    targetConfiguration: { mcp: { openApiSchema: { inlinePayload: openApiDoc(url) } } },
  }));
  const t = await waitTarget(c, gatewayId, out.targetId);
  assert.equal(t.status, 'READY', JSON.stringify(t.statusReasons));
  return t;
}

before(async () => {
  refusedUp = await startUpstream();
  allowedUp = await startUpstream();
  shared = await startMcpServer({
    args: ['--outbound-deny-local', '--outbound-allow', `127.0.0.1:${allowedUp.address().port}`],
  });
  plain = await startMcpServer();
});

after(async () => {
  await shared?.stop();
  await plain?.stop();
  refusedUp?.close();
  allowedUp?.close();
  for (const gw of [shared, plain]) {
    const err = gw?.stderr() ?? '';
    assert.doesNotMatch(err, /ERROR: AddressSanitizer|runtime error/);
    assert.doesNotMatch(err, /#\d+ .* in \S+ \S*\/src\/(mcp|targets|http|vault|agentcore)\//);
  }
});

test('--outbound-deny-local: an OpenAPI target on loopback fails its calls; the reason under DEBUG', async () => {
  const acct = shared.accounts[0];
  for (const debug of [false, true]) {
    const g = await createGateway(shared, acct, debug ? { exceptionLevel: 'DEBUG' } : {});
    await openApiTarget(shared, acct, g.gatewayId, 'local', `http://127.0.0.1:${refusedUp.address().port}`);
    await openApiTarget(shared, acct, g.gatewayId, 'byname', `http://localhost:${refusedUp.address().port}`);
    const { client } = await connect(g.gatewayUrl, acct.root);
    for (const name of ['local___ping', 'byname___ping']) {
      const r = await client.callTool({ name, arguments: {} });
      assert.equal(r.isError, true, name);
      if (debug) {
        assert.match(r.content[0].text, /could not be reached/);
        assert.match(r.content[0].text, REFUSED);
      } else {
        assert.equal(r.content[0].text, 'An internal error occurred. Please retry later.');
        assert.doesNotMatch(JSON.stringify(r), /127\.0\.0\.1|not allowed/);
      }
    }
    await client.close();
  }
  assert.equal(refusedUp.hits, 0, 'no request reached the refused upstream');
});

test('--outbound-allow: the exception is reached', async () => {
  const acct = shared.accounts[0];
  const g = await createGateway(shared, acct, { exceptionLevel: 'DEBUG' });
  await openApiTarget(shared, acct, g.gatewayId, 'granted', `http://127.0.0.1:${allowedUp.address().port}`);
  const { client } = await connect(g.gatewayUrl, acct.root);
  const r = await client.callTool({ name: 'granted___ping', arguments: {} });
  assert.equal(r.isError, false, JSON.stringify(r));
  assert.equal(JSON.parse(r.content[0].text).path, '/ping');
  await client.close();
  assert.ok(allowedUp.hits >= 1);
});

test('--outbound-deny-local: an MCP-server target on loopback FAILS with the reason', async () => {
  const acct = shared.accounts[0];
  const g = await createGateway(shared, acct, { exceptionLevel: 'DEBUG' });
  const c = control(shared, acct.root);
  const out = await c.send(new CreateGatewayTargetCommand({
    gatewayIdentifier: g.gatewayId, name: 'srv',
    targetConfiguration: { mcp: { mcpServer: { endpoint: `http://127.0.0.1:${refusedUp.address().port}/mcp` } } },
  }));
  const t = await waitTarget(c, g.gatewayId, out.targetId);
  assert.equal(t.status, 'FAILED');
  assert.match(t.statusReasons[0], /^Failed to connect and fetch tools from the provided MCP target server\./);
  assert.match(t.statusReasons.join(' '), REFUSED);
  assert.equal(refusedUp.hits, 0);
});

test('by default: loopback is allowed, the instance metadata address is refused at call time', async () => {
  const acct = plain.accounts[0];
  const g = await createGateway(plain, acct, { exceptionLevel: 'DEBUG' });
  const hits = allowedUp.hits;
  await openApiTarget(plain, acct, g.gatewayId, 'dev', `http://127.0.0.1:${allowedUp.address().port}`);
  await openApiTarget(plain, acct, g.gatewayId, 'imds', 'https://169.254.169.254/latest');
  await openApiTarget(plain, acct, g.gatewayId, 'mapped', 'https://[::ffff:169.254.169.254]/latest');
  const { client } = await connect(g.gatewayUrl, acct.root);
  const ok = await client.callTool({ name: 'dev___ping', arguments: {} });
  assert.equal(ok.isError, false, JSON.stringify(ok));
  assert.equal(allowedUp.hits, hits + 1);
  const t0 = Date.now();
  const r = await client.callTool({ name: 'imds___ping', arguments: {} });
  assert.equal(r.isError, true);
  assert.match(r.content[0].text, /the address 169\.254\.169\.254 is not allowed for outbound requests/);
  const m = await client.callTool({ name: 'mapped___ping', arguments: {} });
  assert.equal(m.isError, true);
  assert.match(m.content[0].text, /the address ::ffff:169\.254\.169\.254 is not allowed for outbound requests/);
  assert.ok(Date.now() - t0 < 4000, 'refused at once, not after a connect timeout');
  await client.close();
});

test('a malformed --outbound-allow rule stops the server with the rule named', async () => {
  await assert.rejects(
    startMcpServer({ args: ['--outbound-deny-local', '--outbound-allow', '10.0.0.1/8'] }),
    /outbound allow rule '10\.0\.0\.1\/8': has address bits set past its prefix length/,
  );
});
