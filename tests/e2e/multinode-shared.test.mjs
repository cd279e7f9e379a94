// Two nodes on one PostgreSQL database share one set of secrets and one set of identities:
// both started at the same moment end up with the same token key (an STS session token from
// node 1 signs a request node 2 accepts; an MCP session and a tools/list cursor from one node
// continue on the other), the built-in OAuth issuer's keys are the same on both (a token from
// node 1 verifies against node 2's JWKS) and `mcpgate issuer rotate-keys --store` reaches both
// within a second or two; a node started with a different identities file refuses to start,
// saying what differs, and starts with --identities-update.
//
// What is asserted needs only what is in the store when a node starts (and the issuer's keys,
// which every node reads from the store twice a second): node 2 is restarted after node 1
// created the gateway, so that it reads it at start-up. With the change feed (writes reaching
// the other nodes while they run) that restart is no longer needed.
//
// Needs PostgreSQL: MCPGATE_TEST_PG (scripts/test starts one; scripts/pg-server start DIR).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { createEchoFunction, createGateway, createLambdaTarget, mcpAccounts, signedFetch } from './lib/mcp.mjs';
import { pgAvailable, freshDatabase } from './lib/pg.mjs';
import { binaryPath, defaultAccounts, freePort, identitiesDocument, startServer } from './lib/server.mjs';
import { adminRole } from './lib/walkthrough.mjs';

const run = promisify(execFile);
const skip = pgAvailable() ? false : 'no PostgreSQL: set MCPGATE_TEST_PG (scripts/pg-server start DIR prints one)';
const REGION = 'us-east-1';
const SECRET = 'agent-secret-0123456789';

const dir = mkdtempSync(path.join(os.tmpdir(), 'mcpgate-multinode-'));
const issuerFile = path.join(dir, 'issuer.json');
writeFileSync(issuerFile, JSON.stringify({ clients: [{ clientId: 'agent', clientSecret: SECRET, scopes: ['mcp'] }] }),
  { mode: 0o600 });

let db;
let accounts;
let node1;
let node2;
const extra = []; // other servers started by a test, stopped at the end

before(async () => {
  if (skip) return;
  db = await freshDatabase('multinode');
  accounts = mcpAccounts();
  for (const a of accounts) {
    a.roles.AdminRole = adminRole(a.id);
    a.users.dev.inlinePolicies = {
      assume: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }] },
    };
  }
  const opts = { store: db.uri, accounts, args: ['--oauth-issuer', issuerFile, '--tools-page-size', '2'] };
  // at the same moment, on an empty database: migrations, identities, token key, vault key and
  // issuer keys are all made by whichever node gets there first, and used by both
  [node1, node2] = await Promise.all([startServer(opts), startServer(opts)]);
  // node 1 is the one that runs the background work (docs/postgresql.md, the lease), so the
  // gateways and targets it creates become READY without the change feed
  const LEADS = /leader: this node leads the background work/;
  await node1.waitStderr(() => LEADS.test(node1.stderr()) || LEADS.test(node2.stderr()), 5000);
  if (!LEADS.test(node1.stderr())) [node1, node2] = [node2, node1];
});

after(async () => {
  for (const s of [...extra, node1, node2]) await s?.stop().catch(() => {});
  await db?.drop().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

function sts(node, credentials) {
  return new STSClient({ region: REGION, endpoint: node.endpoint, credentials, maxAttempts: 1 });
}

test('both nodes started at once: a session token from node 1 signs a request node 2 accepts', { skip }, async () => {
  const A = accounts[0];
  const out = await sts(node1, A.users.dev).send(new AssumeRoleCommand({
    RoleArn: `arn:aws:iam::${A.id}:role/AdminRole`, RoleSessionName: 'crossing',
  }));
  const c = out.Credentials;
  const session = { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken };
  for (const node of [node2, node1]) {
    const me = await sts(node, session).send(new GetCallerIdentityCommand({}));
    assert.equal(me.Arn, `arn:aws:sts::${A.id}:assumed-role/AdminRole/crossing`);
  }
  // one identities record, applied once: both nodes know the same keys
  const me = await sts(node2, accounts[1].root).send(new GetCallerIdentityCommand({}));
  assert.equal(me.Account, accounts[1].id);
  assert.match(node1.stderr() + node2.stderr(), /identities: the shared store holds the content of/);
});

const b64json = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

async function issuerToken(node) {
  const r = await fetch(`${node.endpoint}/_mcpgate/issuer/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`agent:${SECRET}`).toString('base64')}` },
    body: 'grant_type=client_credentials',
  });
  assert.equal(r.status, 200);
  return (await r.json()).access_token;
}

async function jwks(node) {
  const r = await fetch(`${node.endpoint}/_mcpgate/issuer/jwks.json`);
  assert.equal(r.status, 200);
  return r.json();
}

/** Verifies an ES256 token against a JWKS; returns its kid. */
function verifyWith(token, set) {
  const [h, p, s] = token.split('.');
  const { kid } = b64json(h);
  const jwk = set.keys.find((k) => k.kid === kid);
  assert.ok(jwk, `kid ${kid} is in the other node's JWKS`);
  assert.ok(verify('sha256', Buffer.from(`${h}.${p}`), { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' },
    Buffer.from(s, 'base64url')), 'the signature verifies');
  return kid;
}

test('the built-in issuer: one set of keys; rotate-keys --store reaches both running nodes', { skip }, async () => {
  const [j1, j2] = await Promise.all([jwks(node1), jwks(node2)]);
  assert.deepEqual(j1, j2);
  assert.equal(j1.keys.length, 1);
  const kid = verifyWith(await issuerToken(node1), j2);
  assert.equal(verifyWith(await issuerToken(node2), j1), kid);

  const { stdout } = await run(binaryPath(), ['issuer', 'rotate-keys', '--store', db.uri]);
  const newKid = stdout.trim();
  assert.match(newKid, /^[\w-]{43}$/);
  assert.notEqual(newKid, kid);
  const t0 = Date.now();
  for (const node of [node1, node2]) {
    for (;;) {
      const set = await jwks(node);
      if (set.keys[0].kid === newKid) {
        assert.deepEqual(set.keys.map((k) => k.kid), [newKid, kid]);
        break;
      }
      assert.ok(Date.now() - t0 < 3000, `node ${node.port} took the new key within 3 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const fresh = await issuerToken(node2);
  assert.equal(verifyWith(fresh, await jwks(node1)), newKid);
  // `mcpgate token` on the shared store signs with the same key
  const cli = await run(binaryPath(), ['token', '--client', 'agent', '--store', db.uri, '--port', String(node1.port)]);
  assert.equal(verifyWith(cli.stdout.trim(), await jwks(node2)), newKid);
  assert.ok(!node1.stderr().includes(SECRET) && !node2.stderr().includes(SECRET));
});

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const rpc = (method, id, params) => JSON.stringify({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) });

async function post(f, url, body, headers = {}) {
  const r = await f(url, { method: 'POST', headers: { ...JSON_HEADERS, ...headers }, body });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* SSE or nothing */ }
  return { status: r.status, headers: r.headers, text, json };
}

test('an MCP session and a tools/list cursor from node 1 continue on node 2, and back', { skip }, async () => {
  const A = accounts[0];
  const fn = await createEchoFunction(node1, A);
  const gw = await createGateway(node1, A, {
    protocolConfiguration: { mcp: { sessionConfiguration: { sessionTimeoutInSeconds: 900 } } },
  });
  const tools = [1, 2, 3].map((i) => ({ name: `t${i}`, description: `tool ${i}`, inputSchema: { type: 'object' } }));
  await createLambdaTarget(node1, A, gw.gatewayId, 'x', fn, tools);
  // node 2 reads the gateway from the store when it starts (without the change feed, a running
  // node does not see node 1's later writes); the token key it finds there is the same
  await node2.restart();
  const pathOf = new URL(gw.gatewayUrl).pathname;
  const url1 = node1.endpoint + pathOf;
  const url2 = node2.endpoint + pathOf;
  const f = signedFetch(A.root);

  const init = await post(f, url1, rpc('initialize', 1, { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'multinode', version: '0' } }));
  assert.equal(init.status, 200, init.text);
  const sid = init.headers.get('mcp-session-id');
  assert.ok(sid);
  const h = { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };
  const first = await post(f, url2, rpc('tools/list', 2), h);
  assert.equal(first.status, 200, first.text);
  assert.deepEqual(first.json.result.tools.map((t) => t.name), ['x___t1', 'x___t2']);
  assert.ok(first.json.result.nextCursor, 'a second page');
  const second = await post(f, url1, rpc('tools/list', 3, { cursor: first.json.result.nextCursor }), h);
  assert.equal(second.status, 200, second.text);
  assert.deepEqual(second.json.result.tools.map((t) => t.name), ['x___t3']);
  // a session id the nodes did not seal is still refused
  const bad = await post(f, url2, rpc('tools/list', 4), { ...h, 'mcp-session-id': sid.slice(0, -4) + 'AAAA' });
  assert.equal(bad.status, 404, bad.text);
});

/** An identities file for the given accounts, in dir. */
function identitiesFile(name, accts) {
  const file = path.join(dir, name);
  writeFileSync(file, JSON.stringify(identitiesDocument(accts)), { mode: 0o600 });
  return file;
}

/** Runs `mcpgate serve` on the shared store until it exits or accepts connections. */
async function serveOnce(args) {
  const port = await freePort();
  const data = mkdtempSync(path.join(dir, 'data-'));
  const child = spawn(binaryPath(), ['serve', '--listen', `127.0.0.1:${port}`, '--data', data, '--store', db.uri, ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  const t0 = Date.now();
  for (;;) {
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r(undefined), 100))]);
    if (code !== undefined) return { code, stderr };
    const up = await fetch(`http://127.0.0.1:${port}/`).then(() => true, () => false);
    if (up) {
      extra.push({ stop: async () => { child.kill('SIGTERM'); await exited; } });
      return { code: null, stderr, endpoint: `http://127.0.0.1:${port}`, port };
    }
    if (Date.now() - t0 > 15000) {
      child.kill('SIGKILL');
      throw new Error(`serve did not start or exit within 15 s\n${stderr}`);
    }
  }
}

test('a node without --identities uses the identities of the shared store', { skip }, async () => {
  const n = await serveOnce([]);
  assert.equal(n.code, null, n.stderr);
  assert.match(n.stderr, /identities: using those of the shared store \(from an identities file\)/);
  const me = await sts(n, accounts[0].root).send(new GetCallerIdentityCommand({}));
  assert.equal(me.Account, accounts[0].id);
  // the built-in test key was never added to the shared store
  await assert.rejects(sts(n, { accessKeyId: 'test', secretAccessKey: 'test' }).send(new GetCallerIdentityCommand({})));
});

test('a node with another identities file refuses to start; --identities-update applies it', { skip }, async () => {
  const other = defaultAccounts(); // other keys, and no roles
  const file = identitiesFile('other.json', other);
  const refused = await serveOnce(['--identities', file]);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /differs from the identities the shared store holds \(applied at [0-9TZ:-]+\): it adds 4 access keys \(such as \d{12}\/AKIA\w+\); it lacks 8 roles \(such as 111122223333\/\w+\), 4 access keys/);
  assert.match(refused.stderr, /--identities-update/);
  for (const s of [other[0].root.secretAccessKey, accounts[0].root.secretAccessKey]) assert.ok(!refused.stderr.includes(s));

  // the same content in another layout is the same file
  const same = path.join(dir, 'same.json');
  writeFileSync(same, JSON.stringify(identitiesDocument(accounts), null, 4), { mode: 0o600 });
  const ok = await serveOnce(['--identities', same]);
  assert.equal(ok.code, null, ok.stderr);

  const updated = await serveOnce(['--identities', file, '--identities-update']);
  assert.equal(updated.code, null, updated.stderr);
  const me = await sts(updated, other[0].root).send(new GetCallerIdentityCommand({}));
  assert.equal(me.Account, other[0].id);
  // the store now holds the new file: the old one is the different one
  const old = await serveOnce(['--identities', same]);
  assert.equal(old.code, 1, old.stderr);
  assert.match(old.stderr, /differs from the identities the shared store holds/);
});
