// Ending an MCP session (DELETE with Mcp-Session-Id) on one node of a PostgreSQL store is honoured
// by every node (docs/postgresql.md): the ended sessions of a gateway are one bounded row, written
// before the DELETE is answered (DELETEs arriving together share a transaction) and carried to
// the others by the change feed. A flood of DELETEs on
// one gateway keeps that row small and ends no other gateway's sessions; a node that restarts
// keeps serving the sessions that were open.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DeleteGatewayCommand } from '@aws-sdk/client-bedrock-agentcore-control';
import { control, createGateway, mcpAccounts, signedFetch } from './lib/mcp.mjs';
import { freshDatabase, pgAvailable, psql } from './lib/pg.mjs';
import { startServer } from './lib/server.mjs';

const skip = pgAvailable() ? false : 'no PostgreSQL: set MCPGATE_TEST_PG (scripts/pg-server start DIR prints one)';
const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const VERSION = '2025-11-25';
const rpc = (method, id, params) => JSON.stringify({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) });

let db;
let accounts;
let node1;
let node2;
let f;
let gwA; // the gateway the tests end sessions on
let gwB; // another gateway of the same account

before(async () => {
  if (skip) return;
  db = await freshDatabase('sessionend');
  accounts = mcpAccounts();
  const opts = { store: db.uri, accounts };
  node1 = await startServer(opts);
  node2 = await startServer(opts);
  const A = accounts[0];
  f = signedFetch(A.root);
  const sessions = { protocolConfiguration: { mcp: { sessionConfiguration: { sessionTimeoutInSeconds: 900 } } } };
  gwA = await createGateway(node1, A, sessions);
  gwB = await createGateway(node1, A, sessions);
  // both nodes serve both gateways (the change feed carries them to node 2)
  for (const node of [node1, node2])
    for (const gw of [gwA, gwB]) await until(async () => (await init(node, gw)) !== null, 10000, 'gateway on node');
});

after(async () => {
  for (const s of [node1, node2]) await s?.stop().catch(() => {});
  await db?.drop().catch(() => {});
});

const urlOf = (node, gw) => node.endpoint + new URL(gw.gatewayUrl).pathname;

async function post(node, gw, body, headers = {}) {
  const r = await f(urlOf(node, gw), { method: 'POST', headers: { ...JSON_HEADERS, ...headers }, body });
  return { status: r.status, text: await r.text() };
}

/** A new session on the gateway through node (its id), or null when refused. */
async function init(node, gw) {
  const r = await f(urlOf(node, gw), {
    method: 'POST', headers: JSON_HEADERS,
    body: rpc('initialize', 1, { protocolVersion: VERSION, capabilities: {}, clientInfo: { name: 'end', version: '0' } }),
  });
  await r.text();
  return r.status === 200 ? r.headers.get('mcp-session-id') : null;
}

const headers = (sid) => ({ 'mcp-session-id': sid, 'mcp-protocol-version': VERSION });
const use = async (node, gw, sid) => (await post(node, gw, rpc('tools/list', 2), headers(sid))).status;

async function end(node, gw, sid) {
  const r = await f(urlOf(node, gw), { method: 'DELETE', headers: headers(sid) });
  await r.text();
  return r.status;
}

async function until(check, ms, what) {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return Date.now() - t0;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The stored row of a gateway's ended sessions: { bytes, floor, ended } or null. */
async function row(gw) {
  const out = await psql(`SELECT octet_length(doc) || ' ' || convert_from(doc, 'UTF8') FROM documents
    WHERE kind = 'mcp_session_ended' AND key = '${gw.gatewayId}'`, { uri: db.uri });
  if (!out) return null;
  const sp = out.indexOf(' ');
  const doc = JSON.parse(out.slice(sp + 1));
  return { bytes: Number(out.slice(0, sp)), floor: doc.floor, ended: Object.keys(doc.ended).length };
}

test('a session ended on node 1 is refused on node 2 within a second', { skip }, async () => {
  const sid = await init(node1, gwA);
  assert.ok(sid);
  assert.equal(await use(node2, gwA, sid), 200);
  const other = await init(node2, gwA);
  assert.equal(await end(node1, gwA, sid), 200);
  assert.equal(await use(node1, gwA, sid), 404, 'refused at once on the node that ended it');
  const took = await until(async () => (await use(node2, gwA, sid)) === 404, 1000, 'node 2 to refuse the session');
  assert.ok(took <= 1000);
  assert.equal(await end(node2, gwA, sid), 404, 'ending it again on node 2: not found');
  // only that session
  assert.equal(await use(node1, gwA, other), 200);
  assert.equal(await use(node2, gwA, other), 200);
  const r = await row(gwA);
  assert.ok(r && r.ended >= 1, 'the row holds the ended session');
});

test('a flood of DELETEs on one gateway keeps its row bounded and ends no other gateway\'s sessions', { skip }, async () => {
  const keepB = await init(node1, gwB);
  assert.ok(keepB);
  const N = 400; // more than a row holds (256)
  for (let i = 0; i < N; i += 20) {
    await Promise.all(Array.from({ length: 20 }, async (_, k) => {
      const node = (i + k) % 2 ? node2 : node1;
      const sid = await init(node, gwA);
      assert.ok(sid);
      // 404 when a floor raised meanwhile (by the flood itself) already ended it
      assert.ok([200, 404].includes(await end(node, gwA, sid)));
    }));
  }
  await new Promise((r) => setTimeout(r, 600)); // the flushers' rounds
  const r = await row(gwA);
  assert.ok(r, 'a row');
  assert.ok(r.ended <= 256, `at most 256 sids, got ${r.ended}`);
  assert.ok(r.bytes < 16384, `a small row, got ${r.bytes} bytes`);
  assert.ok(r.floor > 0, 'the floor rose');
  // the other gateway's session is served on both nodes; a new session of the flooded gateway too
  assert.equal(await use(node1, gwB, keepB), 200);
  assert.equal(await use(node2, gwB, keepB), 200);
  const fresh = await init(node2, gwA);
  assert.equal(await use(node1, gwA, fresh), 200);
  assert.equal(await use(node2, gwA, fresh), 200);
  const rows = await psql(`SELECT count(*) FROM documents WHERE kind = 'mcp_session_ended'`, { uri: db.uri });
  assert.ok(Number(rows) <= 2, `one row per gateway, got ${rows}`);
});

test('a restarted node keeps serving sessions opened before, and still refuses ended ones', { skip }, async () => {
  const open = await init(node1, gwB);
  const ended = await init(node1, gwB);
  assert.equal(await end(node2, gwB, ended), 200);
  await until(async () => (await use(node1, gwB, ended)) === 404, 1000, 'node 1 to refuse the ended session');
  await node1.restart();
  assert.equal(await use(node1, gwB, open), 200, 'the open session survives the restart');
  assert.equal(await use(node1, gwB, ended), 404, 'the ended one stays ended');
  // a DELETE just before a clean stop is written on the way out
  const late = await init(node2, gwB);
  assert.equal(await end(node2, gwB, late), 200);
  await node2.restart();
  assert.equal(await use(node2, gwB, late), 404);
  assert.equal(await use(node2, gwB, open), 200);
});

test('a DELETE answered 200 is already stored: kill -9 of that node right after loses no end', { skip }, async () => {
  for (let i = 0; i < 3; i++) {
    const sid = await init(node2, gwB);
    assert.ok(sid, 'a session');
    assert.equal(await use(node1, gwB, sid), 200);
    assert.equal(await end(node2, gwB, sid), 200);
    process.kill(node2.pid, 'SIGKILL'); // before any later round of its flusher could run
    await until(async () => (await use(node1, gwB, sid)) === 404, 2000, 'node 1 to refuse the ended session');
    await node2.restart();
    assert.equal(await use(node2, gwB, sid), 404, 'the restarted node refuses it too');
  }
});

test('a deleted gateway\'s row of ended sessions goes with it', { skip }, async () => {
  assert.ok(await row(gwA), 'the flooded gateway has a row');
  // a session ended on node 1 just before node 2 deletes the gateway: node 1's next write of
  // ended sessions must not bring the row back
  const sid = await init(node1, gwA);
  assert.ok(sid, 'a session on the gateway');
  assert.equal(await end(node1, gwA, sid), 200);
  await control(node2, accounts[0].root).send(new DeleteGatewayCommand({ gatewayIdentifier: gwA.gatewayId }));
  await until(async () => (await row(gwA)) === null, 20000, 'the row to go');
  await new Promise((r) => setTimeout(r, 1000)); // several of node 1's 200 ms rounds
  assert.equal(await row(gwA), null, 'no row of ended sessions for a deleted gateway');
  assert.ok(await row(gwB), 'the other gateway keeps its own');
});

test('both nodes stop cleanly (the flusher writes its last round and exits)', { skip }, async () => {
  for (const node of [node1, node2]) {
    await node.stop();
    assert.ok(!/ERROR: AddressSanitizer|runtime error:/.test(node.stderr()), node.stderr().slice(-2000));
  }
});
