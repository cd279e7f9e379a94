// libpq and libcurl are loaded on first use (src/state/pq_load.c, src/http/curl_load.c): an idle
// server on SQLite maps neither (nor what only they link: GnuTLS, Kerberos, LDAP...), a signed
// control-plane request changes nothing, the first call of an OpenAPI target loads libcurl (and
// the call works), and a server on PostgreSQL maps libpq from its start.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { CreateGatewayTargetCommand, GetGatewayTargetCommand } from '@aws-sdk/client-bedrock-agentcore-control';
import { connect, control, createGateway, startMcpServer } from './lib/mcp.mjs';
import { freshDatabase, pgAvailable } from './lib/pg.mjs';

const LIBPQ = /\/libpq\.so\.5/;
const LIBCURL = /\/libcurl\.so\.4/;
// libraries the server reached only through libcurl and libpq (Debian 12)
const ONLY_THROUGH_THEM = /\/lib(gnutls|krb5|gssapi_krb5|ldap|lber|ssh2|nghttp2|rtmp|psl|p11-kit)[.-]/;

/** The shared objects mapped by process pid, one path each. */
function mapped(pid) {
  const paths = new Set();
  for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
    const p = line.split(/\s+/)[5];
    if (p?.startsWith('/')) paths.add(p);
  }
  return [...paths];
}
const has = (pid, re) => mapped(pid).some((p) => re.test(p));

let upstream;
let gw;

function startUpstream() {
  return new Promise((resolve) => {
    const srv = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, path: req.url }));
    });
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}

function spec(port) {
  return JSON.stringify({
    openapi: '3.0.3',
    info: { title: 'Ping', version: '1' },
    servers: [{ url: `http://127.0.0.1:${port}` }],
    paths: { '/ping': { get: { operationId: 'ping', responses: { 200: { description: 'ok' } } } } },
  });
}

before(async () => {
  upstream = await startUpstream();
  gw = await startMcpServer({ store: 'sqlite' });
});

after(async () => {
  await gw?.stop();
  upstream?.close();
  const err = gw?.stderr() ?? '';
  assert.doesNotMatch(err, /ERROR: AddressSanitizer|runtime error/);
});

describe('libraries loaded on first use', () => {
  test('an idle server on SQLite maps neither libpq nor libcurl', () => {
    const libs = mapped(gw.pid);
    assert.ok(libs.some((p) => /\/libsqlite3\.so/.test(p)), libs.join('\n'));
    assert.ok(!has(gw.pid, LIBPQ), 'libpq mapped at start');
    assert.ok(!has(gw.pid, LIBCURL), 'libcurl mapped at start');
    assert.deepEqual(libs.filter((p) => ONLY_THROUGH_THEM.test(p)), []);
  });

  test('an OpenAPI target call loads libcurl, and only then', async () => {
    const acct = gw.accounts[0];
    const gateway = await createGateway(gw, acct); // signed control-plane requests
    const c = control(gw, acct.root);
    const t = await c.send(new CreateGatewayTargetCommand({
      gatewayIdentifier: gateway.gatewayId, name: 'ping',
      targetConfiguration: { mcp: { openApiSchema: { inlinePayload: spec(upstream.address().port) } } },
    }));
    for (let i = 0; i < 100; i++) {
      const got = await c.send(new GetGatewayTargetCommand({ gatewayIdentifier: gateway.gatewayId, targetId: t.targetId }));
      if (got.status === 'READY') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const { client } = await connect(gateway.gatewayUrl, acct.root);
    try {
      await client.listTools();
      assert.ok(!has(gw.pid, LIBCURL), 'libcurl mapped before any outbound request');
      const r = await client.callTool({ name: 'ping___ping', arguments: {} });
      assert.equal(r.isError, false, JSON.stringify(r));
      assert.deepEqual(JSON.parse(r.content[0].text), { ok: true, path: '/ping' });
      assert.ok(has(gw.pid, LIBCURL), 'libcurl not mapped after an outbound request');
      assert.ok(!has(gw.pid, LIBPQ), 'libpq mapped by a server on SQLite');
      // a second call reuses what the first one started
      const r2 = await client.callTool({ name: 'ping___ping', arguments: {} });
      assert.equal(r2.isError, false);
    } finally {
      await client.close();
    }
  });

  test('a server on PostgreSQL maps libpq from its start, and libcurl only on demand', { skip: !pgAvailable() && 'MCPGATE_TEST_PG not set' }, async () => {
    const db = await freshDatabase('lazy');
    const pg = await startMcpServer({ store: db.uri });
    try {
      assert.ok(has(pg.pid, LIBPQ), 'libpq not mapped by a server on PostgreSQL');
      assert.ok(!has(pg.pid, LIBCURL), 'libcurl mapped at start');
    } finally {
      await pg.stop();
      await db.drop();
    }
  });
});
