// The MCP data plane's edges that a user or an attacker meets: supportedVersions that name no
// version mcpgate serves, tool names outside MCP's alphabet, what the log says about failing
// tools, refused signatures and denials, and ended sessions on an anonymous gateway, which must
// stay ended without growing the database (and a restart, which ends every earlier session).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  CreateGatewayCommand, CreateGatewayTargetCommand, UpdateGatewayCommand, UpdateGatewayTargetCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import {
  connect, control, createEchoFunction, createGateway, createLambdaTarget, listAll, signedFetch,
  startMcpServer,
} from './lib/mcp.mjs';
import { onPostgres } from './lib/server.mjs';

let gw;
let A;
let fnArn;

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const init = (v = '2025-11-25') => JSON.stringify({
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: v, capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
});
const ping = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' });
const TOOL = (name) => ({ name, description: 'd', inputSchema: { type: 'object' } });

async function rejects(promise, name, re) {
  try {
    await promise;
  } catch (e) {
    assert.equal(e.name, name, e.message);
    assert.equal(e.$metadata?.httpStatusCode, 400);
    assert.match(e.message, re);
    return e;
  }
  assert.fail(`expected ${name}`);
}

/** The server's log lines (JSON), those that parse. */
function logLines() {
  return gw.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => {
    try { return JSON.parse(l); } catch { return null; }
  }).filter(Boolean);
}

before(async () => {
  gw = await startMcpServer();
  A = gw.accounts[0];
  fnArn = await createEchoFunction(gw, A);
});

after(async () => {
  await gw?.stop();
});

test('supportedVersions naming only 2026-07-28 is refused at CreateGateway and UpdateGateway', async () => {
  const c = control(gw, A.root);
  const re = /^Unsupported MCP Version\(s\) are provided in request\. mcpgate does not serve 2026-07-28 yet/;
  const base = { protocolType: 'MCP', authorizerType: 'AWS_IAM', roleArn: `arn:aws:iam::${A.id}:role/GatewayRole` };
  await rejects(c.send(new CreateGatewayCommand({
    ...base, name: 'only2026', protocolConfiguration: { mcp: { supportedVersions: ['2026-07-28'] } },
  })), 'ValidationException', re);
  await rejects(c.send(new CreateGatewayCommand({
    ...base, name: 'bogus', protocolConfiguration: { mcp: { supportedVersions: ['2024-11-05'] } },
  })), 'ValidationException', /^Unsupported MCP Version\(s\) are provided in request$/);

  // with a version mcpgate speaks next to it, the gateway is created and serves that one
  const mixed = await createGateway(gw, A, { name: 'mixed', protocolConfiguration: { mcp: { supportedVersions: ['2026-07-28', '2025-06-18'] } } });
  await createLambdaTarget(gw, A, mixed.gatewayId, 'tools', fnArn, [TOOL('echo')]);
  const { client } = await connect(mixed.gatewayUrl, A.root);
  const { tools } = await listAll(client);
  assert.deepEqual(tools.map((t) => t.name), ['tools___echo']);
  await client.close();

  await rejects(c.send(new UpdateGatewayCommand({
    ...base, gatewayIdentifier: mixed.gatewayId, name: 'mixed',
    protocolConfiguration: { mcp: { supportedVersions: ['2026-07-28'] } },
  })), 'ValidationException', re);
});

test('tool names outside [A-Za-z0-9_.-] are refused at CreateGatewayTarget and UpdateGatewayTarget', async () => {
  const c = control(gw, A.root);
  const g = await createGateway(gw, A, { name: 'toolnames' });
  const target = (tools) => ({
    gatewayIdentifier: g.gatewayId, name: 'tools',
    targetConfiguration: { mcp: { lambda: { lambdaArn: fnArn, toolSchema: { inlinePayload: tools } } } },
    credentialProviderConfigurations: [{ credentialProviderType: 'GATEWAY_IAM_ROLE' }],
  });
  const msg = "1 validation error detected: Value at 'targetConfiguration.mcp.lambda.toolSchema.inlinePayload.2.name' " +
    'failed to satisfy constraint: Member must satisfy regular expression pattern: [A-Za-z0-9_.-]+';
  const e = await rejects(c.send(new CreateGatewayTargetCommand(target([TOOL('ok'), TOOL('my tool!')]))),
    'ValidationException', /regular expression pattern/);
  assert.equal(e.message, msg);
  for (const bad of ['a/b', 'tool,x', 'caf\u00e9', 'x\ny', 'a___b c']) {
    await rejects(c.send(new CreateGatewayTargetCommand(target([TOOL('ok'), TOOL(bad)]))),
      'ValidationException', /\[A-Za-z0-9_\.-\]\+/);
  }

  // names in the alphabet work end to end with the MCP SDK (dots and hyphens included)
  const good = ['get.order-v2', 'Weather_Lookup', 'x'];
  const t = await createLambdaTarget(gw, A, g.gatewayId, 'tools', fnArn, good.map(TOOL));
  await rejects(c.send(new UpdateGatewayTargetCommand({ ...target([TOOL('ok'), TOOL('my tool!')]), targetId: t.targetId })),
    'ValidationException', /regular expression pattern/);
  const { client } = await connect(g.gatewayUrl, A.root);
  const { tools } = await listAll(client);
  assert.deepEqual(tools.map((x) => x.name).sort(), good.map((n) => `tools___${n}`).sort());
  for (const x of tools) assert.match(x.name, /^[A-Za-z0-9_.-]{1,128}$/);
  const r = await client.callTool({ name: 'tools___get.order-v2', arguments: { id: 7 } });
  assert.equal(r.isError, false);
  assert.equal(JSON.parse(r.content[0].text).custom.bedrockAgentCoreToolName, 'tools___get.order-v2');
  await client.close();
});

test('a failing tool is logged at warn; a denial is an audit line with req_id and decision=ImplicitlyDenied', async () => {
  const g = await createGateway(gw, A, { name: 'failing' });
  await createLambdaTarget(gw, A, g.gatewayId, 'tools', fnArn, [TOOL('fail')]);
  const { client } = await connect(g.gatewayUrl, A.root);
  const r = await client.callTool({ name: 'tools___fail', arguments: { fail: true } });
  assert.equal(r.isError, true);
  await client.close();
  await gw.waitStderr(/tools\/call failed: /);
  const failed = logLines().filter((l) => l.sub === 'mcp' && /^tools\/call failed: /.test(l.msg));
  assert.ok(failed.length >= 1, gw.stderr());
  for (const l of failed) {
    assert.equal(l.level, 'warn');
    assert.match(l.msg, /asked to fail/);
    assert.match(l.req_id, /^[0-9a-f-]{36}$/);
  }

  // the user dev has no permissions: InvokeGateway is implicitly denied and audited
  const dev = A.users.dev;
  const res = await signedFetch({ accessKeyId: dev.accessKeyId, secretAccessKey: dev.secretAccessKey })(
    g.gatewayUrl, { method: 'POST', headers: JSON_HEADERS, body: init() });
  assert.equal(res.status, 403);
  await gw.waitStderr((t) => t.split('\n').some((l) => l.includes('"sub":"audit"') && l.includes(dev.arn)));
  const audit = logLines().filter((l) => l.sub === 'audit' && l.msg.includes(dev.arn));
  assert.ok(audit.length >= 1, gw.stderr());
  assert.equal(audit[0].level, 'info');
  assert.match(audit[0].req_id, /^[0-9a-f-]{36}$/);
  assert.equal(audit[0].req, undefined);
  assert.match(audit[0].msg, /^denied principal=\S+ action=bedrock-agentcore:InvokeGateway resource=\S+ decision=ImplicitlyDenied reason=/);
});

test('a refused signature on the MCP path logs neither the signature nor the session token', async () => {
  const g = await createGateway(gw, A, { name: 'sigs' });
  const signature = 'a1b2c3d4'.repeat(8);
  const token = 'IQoJb3JpZ2luX2VjEXAMPLETOKEN' + 'Zq9'.repeat(20);
  const date = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const scope = `${A.root.accessKeyId}/${date.slice(0, 8)}/us-east-1/bedrock-agentcore/aws4_request`;
  const variants = [
    // well formed, wrong signature
    `AWS4-HMAC-SHA256 Credential=${scope}, SignedHeaders=host;x-amz-date, Signature=${signature}`,
    // malformed: AWS's message echoes the whole header
    `AWS4-HMAC-SHA256 Credential=${scope}, Signature=${signature}`,
    `AWS4-HMAC-SHA256 Credential=${scope}, SignedHeaders=host, Signature=${signature}, Signature=${signature}`,
    `AWS4-HMAC-SHA256 Credential=${scope} SignedHeaders=host Signature${signature}`,
  ];
  for (const authorization of variants) {
    for (const key of [A.root.accessKeyId, 'ASIA' + A.root.accessKeyId.slice(4)]) {
      const r = await fetch(g.gatewayUrl, {
        method: 'POST',
        headers: {
          ...JSON_HEADERS, 'x-amz-date': date, 'x-amz-security-token': token,
          authorization: authorization.replaceAll(A.root.accessKeyId, key),
        },
        body: init(),
      });
      assert.equal(r.status, 403);
      await r.text();
    }
  }
  const refusedHere = `authentication refused at gateway ${g.gatewayId}`;
  const log = await gw.waitStderr((t) => t.split(refusedHere).length - 1 >= variants.length);
  const refused = logLines().filter((l) => l.sub === 'sigv4' && l.msg.startsWith(refusedHere));
  assert.ok(refused.length >= variants.length, log);
  assert.ok(!log.includes(signature), 'the signature is not logged');
  assert.ok(!log.includes(signature.slice(0, 16)), 'no part of the signature is logged');
  assert.ok(!log.includes(token), 'the session token is not logged');
  assert.ok(!log.includes(token.slice(0, 20)), 'no part of the session token is logged');
  assert.ok(!/Authorization=/.test(log), 'AWS messages that echo the header are not logged');
});

function dbBytes() {
  let n = 0;
  for (const f of ['mcpgate.db', 'mcpgate.db-wal']) {
    try { n += statSync(path.join(gw.dataDir, f)).size; } catch { /* absent */ }
  }
  return n;
}

async function rssKb() {
  const s = await readFile(`/proc/${gw.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(s)[1]);
}

/** Under AddressSanitizer freed memory is quarantined (up to 256 MB): RSS says nothing then. */
async function sanitized() {
  return /libasan|libclang_rt\.asan/.test(await readFile(`/proc/${gw.pid}/maps`, 'utf8'));
}

test('initialize + DELETE on a NONE gateway: nothing is stored, memory stays bounded, ended sessions stay ended', async (t) => {
  const g = await createGateway(gw, A, {
    name: 'anon', authorizerType: 'NONE',
    protocolConfiguration: { mcp: { sessionConfiguration: { sessionTimeoutInSeconds: 900 } } },
  });
  await createLambdaTarget(gw, A, g.gatewayId, 'tools', fnArn, [TOOL('echo')]);
  const open = async () => {
    const r = await fetch(g.gatewayUrl, { method: 'POST', headers: JSON_HEADERS, body: init() });
    assert.equal(r.status, 200);
    await r.text();
    return { 'mcp-session-id': r.headers.get('mcp-session-id'), 'mcp-protocol-version': '2025-11-25' };
  };
  const end = async (h) => {
    const r = await fetch(g.gatewayUrl, { method: 'DELETE', headers: h });
    await r.text();
    return r.status;
  };
  // warm up, then measure
  const first = await open();
  assert.equal(await end(first), 200);
  await new Promise((r) => setTimeout(r, 300));
  const bytes0 = dbBytes();
  const rss0 = await rssKb();
  const N = 1500;
  const ended = [];
  for (let i = 0; i < N; i++) {
    const h = await open();
    assert.equal(await end(h), 200);
    if (i % 100 === 0) ended.push(h);
  }
  assert.equal(dbBytes(), bytes0, 'the database did not grow');
  const rss1 = await rssKb();
  t.diagnostic(`RSS grew by ${rss1 - rss0} kB over ${N} sessions`);
  if (await sanitized()) t.diagnostic('AddressSanitizer build: RSS not checked (the unit tests check the bounds)');
  else assert.ok(rss1 - rss0 < 16 * 1024, `RSS grew by ${rss1 - rss0} kB`);
  // every ended session is still refused, as the MCP spec asks (404)
  for (const h of [first, ...ended]) {
    const r = await fetch(g.gatewayUrl, { method: 'POST', headers: { ...JSON_HEADERS, ...h }, body: ping });
    assert.equal(r.status, 404);
    assert.equal((await r.json()).error.code, -32001);
    assert.equal(await end(h), 404);
  }
  // and a live session still works
  const live = await open();
  const r = await fetch(g.gatewayUrl, { method: 'POST', headers: { ...JSON_HEADERS, ...live }, body: ping });
  assert.equal(r.status, 200);
  assert.deepEqual((await r.json()).result, {});
});

// It plants what older versions stored by editing the SQLite file (DATA/mcpgate.db): no
// PostgreSQL store was ever written by those versions, so there is nothing to clean up there.
test('a restart ends earlier sessions and drops ended-session records stored by earlier versions', {
  skip: onPostgres() ? 'SQLite only: edits DATA/mcpgate.db as versions before PostgreSQL left it' : false,
}, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mcpgate-e2e-keep-'));
  // one python3 process per call (it may start slowly): statements separated by ';', the last
  // one's first value printed
  const sql = (stmts) => execFileSync('python3', ['-c',
    'import sqlite3, sys\nc = sqlite3.connect(sys.argv[1], timeout=10)\nr = []\n' +
    'for q in sys.argv[2:]:\n    r = c.execute(q).fetchall()\nc.commit()\nprint(r[0][0] if r else "")',
    path.join(dir, 'mcpgate.db'), ...[].concat(stmts)], { encoding: 'utf8' }).trim();
  let s1;
  let s2;
  try {
    s1 = await startMcpServer({ accounts: gw.accounts, args: ['--data', dir] });
    const g = await createGateway(s1, A, {
      name: 'restart', authorizerType: 'NONE',
      protocolConfiguration: { mcp: { sessionConfiguration: { sessionTimeoutInSeconds: 900 } } },
    });
    const legacy = await createGateway(s1, A, { name: 'legacy', authorizerType: 'NONE' });
    const url = `${s1.endpoint}/gateways/${g.gatewayId}/mcp`;
    let r = await fetch(url, { method: 'POST', headers: JSON_HEADERS, body: init() });
    assert.equal(r.status, 200);
    const h = { 'mcp-session-id': r.headers.get('mcp-session-id'), 'mcp-protocol-version': '2025-11-25' };
    await r.text();
    await s1.stop();
    // what an earlier version left: one document per ended session
    const exp = Math.floor(Date.now() / 1000) + 900;
    const rows = [];
    for (let i = 0; i < 40; i++) {
      rows.push(`INSERT INTO documents (kind, account, key, doc, updated_ms) VALUES ('mcp_revoked', '${A.id}', ` +
        `'${g.gatewayId}/${i.toString(16).padStart(32, '0')}', '{"expires":${exp}}', 0)`);
    }
    // and a gateway stored with supportedVersions that CreateGateway refuses now
    rows.push("UPDATE documents SET doc = json_set(doc, '$.protocolConfiguration', json('{\"mcp\":{\"supportedVersions\":[\"2026-07-28\"]}}')) " +
      `WHERE kind = 'agentcore_gateway' AND key = '${legacy.gatewayId}'`);
    rows.push("SELECT count(*) FROM documents WHERE kind = 'mcp_revoked'");
    assert.equal(sql(rows), '40');
    assert.equal(sql(`SELECT json_extract(doc, '$.protocolConfiguration.mcp.supportedVersions[0]') FROM documents WHERE key = '${legacy.gatewayId}'`), '2026-07-28');
    s2 = await startMcpServer({ accounts: gw.accounts, args: ['--data', dir] });
    assert.equal(sql("SELECT count(*) FROM documents WHERE kind = 'mcp_revoked'"), '0');
    const url2 = `${s2.endpoint}/gateways/${g.gatewayId}/mcp`;
    r = await fetch(url2, { method: 'POST', headers: { ...JSON_HEADERS, ...h }, body: ping });
    assert.equal(r.status, 404, 'a session from before the restart is ended');
    await r.text();
    const tl = JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' });
    r = await fetch(`${s2.endpoint}/gateways/${legacy.gatewayId}/mcp`, { method: 'POST', headers: JSON_HEADERS, body: tl });
    assert.equal(r.status, 400, 'no version it lists is served: refused at once, not 200');
    assert.match((await r.json()).error.message, /supportedVersions name none that mcpgate serves/);
    r = await fetch(url2, { method: 'POST', headers: JSON_HEADERS, body: init() });
    assert.equal(r.status, 200);
    const h2 = { 'mcp-session-id': r.headers.get('mcp-session-id'), 'mcp-protocol-version': '2025-11-25' };
    await r.text();
    r = await fetch(url2, { method: 'POST', headers: { ...JSON_HEADERS, ...h2 }, body: ping });
    assert.equal(r.status, 200);
    await r.text();
  } finally {
    await s1?.stop();
    await s2?.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
