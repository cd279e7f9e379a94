// The scale test (not timed): 10,000 gateways over 20 accounts, 1,000 of them with 10 OpenAPI
// targets of 10 tools each (100,000 tools), built through the public API (lib/scale.mjs). Then
// every gateway must be listed by ListGateways (every page, per account), every target by
// ListGatewayTargets, every tool by the gateway's MCP tools/list (every page) and every tool must
// answer tools/call with what its own operation on the upstream returns; and all of it again
// after a restart of the server on the same data folder.
//
// The targets are OpenAPI targets against one node HTTP server that this test starts (a Lambda
// echo function would cost a Python invocation per call); the tool calls are SigV4-signed JSON-RPC
// requests sent over keep-alive connections, many in flight (lib/scale.mjs mcpPoster), and the
// control plane is read with the AWS SDK.
//
// scripts/test runs it once, against the release build (MCPGATE_BIN), not with the other e2e
// files under the dev and ASan builds. SCALE_GATEWAYS=N builds a smaller state (a multiple of
// 10); under the ASan build the default is 1,000 gateways (10,000 tools): the full size takes
// several times as long there.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ListGatewaysCommand, ListGatewayTargetsCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import { startServer } from './lib/server.mjs';
import {
  buildState, controlClients, mcpPoster, pool, scaleAccounts, scaleUpstream, toolNames,
  TARGETS_PER_GATEWAY, TOOLS_PER_TARGET,
} from './lib/scale.mjs';

const asan = process.env.MCPGATE_VARIANT === 'asan';
const N = Number(process.env.SCALE_GATEWAYS ?? (asan ? 1000 : 10000));
const PAGE = 30; // tools per tools/list page: a gateway's 100 tools take 4 pages
const GATEWAY_PAGE = 100; // ListGateways maxResults: an account's 500 gateways take 5 pages
const TARGET_PAGE = 4; // ListGatewayTargets maxResults: 10 targets take 3 pages
const WIDTH = 16; // requests in flight while checking
const TOOLS = toolNames();

let upstream;
let gw;
let accounts;
let state;
const timings = {};

async function timed(name, fn) {
  const t0 = Date.now();
  const r = await fn();
  timings[name] = (Date.now() - t0) / 1000;
  console.log(`scale: ${name} ${timings[name].toFixed(1)} s`);
  return r;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Every gateway of account a over every ListGateways page. */
async function listGateways(cp) {
  const out = [];
  let nextToken;
  let pages = 0;
  do {
    const r = await cp.send(new ListGatewaysCommand({ maxResults: GATEWAY_PAGE, nextToken }));
    pages++;
    out.push(...r.items);
    nextToken = r.nextToken;
  } while (nextToken && pages < 1000);
  return out;
}

async function listTargets(cp, gatewayId) {
  const out = [];
  let nextToken;
  let pages = 0;
  do {
    const r = await cp.send(new ListGatewayTargetsCommand({ gatewayIdentifier: gatewayId,
      maxResults: TARGET_PAGE, nextToken }));
    pages++;
    out.push(...r.items);
    nextToken = r.nextToken;
  } while (nextToken && pages < 100);
  return out;
}

/** Waits until ListGateways shows every gateway READY, then every target READY. */
async function waitReady(cps) {
  const deadline = Date.now() + 300000;
  for (let a = 0; a < accounts.length; a++) {
    for (;;) {
      const items = await listGateways(cps[a]);
      if (items.every((g) => g.status === 'READY')) break;
      assert.ok(!items.some((g) => g.status === 'FAILED'), 'a gateway FAILED');
      assert.ok(Date.now() < deadline, 'gateways not READY within 5 minutes');
      await sleep(500);
    }
  }
  const withTargets = state.gateways.filter((g) => g.targets.length);
  await pool(withTargets.map((g) => async () => {
    for (;;) {
      const items = await listTargets(cps[g.a], g.id);
      if (items.length === TARGETS_PER_GATEWAY && items.every((t) => t.status === 'READY')) return;
      assert.ok(!items.some((t) => /FAILED/.test(t.status)), `a target of ${g.name} FAILED`);
      assert.ok(Date.now() < deadline, 'targets not READY within 5 minutes');
      await sleep(500);
    }
  }), WIDTH);
}

/** Every gateway in ListGateways of its account, exactly those, READY. */
async function checkGateways(cps) {
  for (let a = 0; a < accounts.length; a++) {
    const items = await listGateways(cps[a]);
    const want = state.gateways.filter((g) => g.a === a);
    assert.equal(items.length, want.length, `account ${a}: ListGateways count`);
    const byId = new Map(items.map((g) => [g.gatewayId, g]));
    assert.equal(byId.size, items.length, `account ${a}: an id listed twice`);
    for (const g of want) {
      const it = byId.get(g.id);
      assert.ok(it, `${g.name} (${g.id}) missing from ListGateways`);
      assert.equal(it.name, g.name);
      assert.equal(it.status, 'READY', `${g.name} status`);
    }
  }
}

/** Every gateway's ListGatewayTargets: exactly its targets, READY. */
async function checkTargets(cps) {
  await pool(state.gateways.map((g) => async () => {
    const items = await listTargets(cps[g.a], g.id);
    assert.deepEqual(items.map((t) => t.targetId).sort(), g.targets.map((t) => t.id).sort(),
      `${g.name}: ListGatewayTargets`);
    for (const t of items) {
      assert.equal(t.status, 'READY', `${g.name}/${t.name} status`);
      assert.equal(t.name, g.targets.find((x) => x.id === t.targetId).name);
    }
  }), WIDTH);
}

function posters() {
  return accounts.map((a) => mcpPoster(gw, a.root, { sockets: WIDTH }));
}

/** Every gateway's tools/list over every page: exactly its tools. */
async function checkToolLists(ps) {
  let id = 0;
  let pages = 0;
  await pool(state.gateways.map((g) => async () => {
    const names = [];
    let cursor;
    let n = 0;
    do {
      const r = await ps[g.a].post(g.id, { jsonrpc: '2.0', id: ++id, method: 'tools/list',
        params: cursor ? { cursor } : {} });
      assert.equal(r.status, 200, `${g.name} tools/list: ${JSON.stringify(r.body).slice(0, 300)}`);
      assert.ok(r.body.result, `${g.name} tools/list: ${JSON.stringify(r.body).slice(0, 300)}`);
      names.push(...r.body.result.tools.map((t) => t.name));
      cursor = r.body.result.nextCursor;
      n++;
    } while (cursor && n < 100);
    pages += n;
    assert.deepEqual(names.sort(), g.targets.length ? TOOLS : [], `${g.name}: tools/list`);
  }), WIDTH * 2);
  return pages;
}

/** Every tool answers tools/call with its own operation's echo. */
async function checkCalls(ps, round) {
  let id = 0;
  const jobs = [];
  for (const g of state.gateways) {
    if (!g.targets.length) continue;
    for (let t = 0; t < TARGETS_PER_GATEWAY; t++)
      for (let k = 0; k < TOOLS_PER_TARGET; k++)
        jobs.push(async () => {
          const name = `t${t}___op${k}`;
          const x = `${round}-${g.id}-${t}-${k}`;
          const r = await ps[g.a].post(g.id, { jsonrpc: '2.0', id: ++id, method: 'tools/call',
            params: { name, arguments: { x } } });
          const where = `${g.name} ${name}`;
          assert.equal(r.status, 200, `${where}: ${JSON.stringify(r.body).slice(0, 300)}`);
          const res = r.body.result;
          assert.ok(res && !res.isError, `${where}: ${JSON.stringify(r.body).slice(0, 300)}`);
          assert.deepEqual(res.structuredContent, { path: `/${g.name}/t${t}/op${k}`, x }, where);
        });
  }
  const before = upstream.calls();
  await pool(jobs, WIDTH * 2);
  assert.equal(upstream.calls() - before, jobs.length, 'one upstream request per tools/call');
  return jobs.length;
}

async function checkAll(round) {
  const cps = controlClients(gw, accounts);
  const ps = posters();
  try {
    await timed(`${round}: ListGateways`, () => checkGateways(cps));
    await timed(`${round}: ListGatewayTargets`, () => checkTargets(cps));
    const pages = await timed(`${round}: tools/list`, () => checkToolLists(ps));
    const calls = await timed(`${round}: tools/call`, () => checkCalls(ps, round));
    assert.equal(calls, state.targets * TOOLS_PER_TARGET);
    console.log(`scale: ${round}: ${state.gateways.length} gateways, ${state.targets} targets, ` +
      `${pages} tools/list pages, ${calls} tools/call`);
  } finally {
    for (const p of ps) p.close();
    for (const c of cps) c.destroy();
  }
}

describe(`scale: ${N} gateways over 20 accounts, ${N / 10} with 10 targets of 10 tools`, () => {
  before(async () => {
    upstream = await scaleUpstream();
    accounts = scaleAccounts();
    gw = await startServer({ accounts, timeoutMs: 30000, args: ['--log-level', 'warn',
      '--tools-page-size', String(PAGE)] });
  });

  after(async () => {
    if (gw) await gw.stop();
    if (upstream) await upstream.close();
    console.log(`scale: timings ${JSON.stringify(timings)}`);
  });

  test('builds the state through CreateGateway and CreateGatewayTarget', async () => {
    state = await timed('build', () => buildState(gw, accounts, { gateways: N, upstream: upstream.url }));
    assert.equal(state.gateways.filter(Boolean).length, N);
    assert.equal(state.targets, N / 10 * TARGETS_PER_GATEWAY);
    await timed('wait for READY', () => waitReady(controlClients(gw, accounts)));
  });

  test('every gateway, target and tool is listed and every tool answers', async () => {
    assert.ok(state, 'the state was built');
    await checkAll('before restart');
  });

  test('after a restart on the same data folder, all of it again', async () => {
    assert.ok(state, 'the state was built');
    await timed('restart', () => gw.restart({ timeoutMs: 60000 }));
    await checkAll('after restart');
    assert.ok(gw.alive());
  });
});
