// The store's cost seen by clients: tools/list (wrk, SigV4-signed, replayed) and a write
// (CreateGateway, one after another) on a server whose store is PostgreSQL against the same on a
// server on SQLite, both in this run, alternated; then the change-propagation delay between two
// nodes on one database: a gateway created on node 1, then GetGateway polled on node 2 until it
// answers (p50, p99 of the time from node 1's answer to node 2's first 200). Started by bench/run.
//
// Needs a PostgreSQL: MCPGATE_TEST_PG=URI (a superuser: each server gets a database of its own),
// else this script starts a throwaway one with scripts/pg-server (fsync on, as SQLite syncs too)
// and stops it at the end.
// Environment: MCPGATE_BIN, DURATION (s per wrk run, default 5), CONNECTIONS (default 32),
// ROUNDS (default 3), WRITES (CreateGateway per round, default 100), PROPAGATIONS (default 200).
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { signRequest } from '../tests/e2e/lib/aws.mjs';
import { createGateway, createLambdaTarget, startMcpServer, mcpAccounts } from '../tests/e2e/lib/mcp.mjs';
import { freshDatabase } from '../tests/e2e/lib/pg.mjs';
import { repoRoot } from '../tests/e2e/lib/server.mjs';
import { writeLua, wrk as wrkRun } from './lib/wrk.mjs';

const run = promisify(execFile);
const DURATION = Number(process.env.DURATION ?? 5);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 32);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const WRITES = Number(process.env.WRITES ?? 100);
const PROPAGATIONS = Number(process.env.PROPAGATIONS ?? 200);
const NTOOLS = 10;

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (ns) => Number(ns) / 1e6;
const median = (xs) => pct(xs, 50);

const dir = await mkdtemp(path.join(os.tmpdir(), 'mcpgate-bench-pg-'));
let pgDir = null;
if (!process.env.MCPGATE_TEST_PG) {
  // its own folder right under the temporary directory: as root, the postgres user must enter it
  pgDir = await mkdtemp(path.join(os.tmpdir(), 'mcpgate-bench-pgdata-'));
  const { stdout } = await run(path.join(repoRoot, 'scripts', 'pg-server'), ['start', pgDir],
    { env: { ...process.env, PG_FSYNC: 'on' } });
  process.env.MCPGATE_TEST_PG = stdout.trim();
}

/** A signed CreateGateway as a raw request (no SDK overhead in the timing). */
async function createRaw(gw, acct, name) {
  const body = JSON.stringify({
    name, protocolType: 'MCP', authorizerType: 'AWS_IAM', roleArn: `arn:aws:iam::${acct.id}:role/GatewayRole`,
  });
  const s = await signRequest(gw, acct.root, {
    method: 'POST', path: '/gateways/', service: 'bedrock-agentcore', body,
    headers: { 'content-type': 'application/json' },
  });
  const t0 = process.hrtime.bigint();
  const r = await fetch(s.url, { method: 'POST', headers: s.headers, body });
  const text = await r.text();
  const t1 = process.hrtime.bigint();
  if (r.status !== 202 && r.status !== 200) throw new Error(`CreateGateway: ${r.status} ${text.slice(0, 300)}`);
  return { id: JSON.parse(text).gatewayId, t1, took: t1 - t0 };
}

async function getStatus(gw, acct, id) {
  const s = await signRequest(gw, acct.root, { method: 'GET', path: `/gateways/${id}/`, service: 'bedrock-agentcore' });
  const r = await fetch(s.url, { headers: s.headers });
  await r.arrayBuffer();
  return r.status;
}

const servers = [];
const dbs = [];
try {
  // --- tools/list and CreateGateway, SQLite against PostgreSQL ------------------------------
  const accounts = mcpAccounts();
  const db = await freshDatabase('bench');
  dbs.push(db);
  const sqlite = await startMcpServer({ accounts, args: ['--threads', '1', '--log-level', 'warn'] });
  servers.push(sqlite);
  const pg = await startMcpServer({ accounts, store: db.uri, args: ['--threads', '1', '--log-level', 'warn'] });
  servers.push(pg);
  const A = accounts[0];
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
  const common = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const tools = Array.from({ length: NTOOLS }, (_, i) => ({
    name: `tool_${i}`, description: `Benchmark tool number ${i}`,
    inputSchema: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
  }));
  const setup = {};
  for (const [name, gw] of [['sqlite', sqlite], ['pg', pg]]) {
    const g = await createGateway(gw, A);
    await createLambdaTarget(gw, A, g.gatewayId, 'bench', `arn:aws:lambda:us-east-1:${A.id}:function:none`, tools);
    const signed = await signRequest(gw, A.root, {
      path: new URL(g.gatewayUrl).pathname, service: 'bedrock-agentcore', body, signContentLength: true, headers: common,
    });
    const r = await fetch(signed.url, { method: 'POST', headers: signed.headers, body });
    const j = await r.json();
    if (r.status !== 200 || j.result?.tools?.length !== NTOOLS) throw new Error(`tools/list on ${name}: ${r.status}`);
    setup[name] = { url: signed.url, lua: await writeLua(path.join(dir, `${name}.lua`), { method: 'POST', headers: signed.headers, body }) };
  }
  const list = { sqlite: [], pg: [] };
  const write = { sqlite: [], pg: [] };
  for (let i = 0; i < ROUNDS; i++) {
    for (const name of i % 2 ? ['pg', 'sqlite'] : ['sqlite', 'pg']) {
      list[name].push(await wrkRun(setup[name].url, setup[name].lua, { duration: DURATION, connections: CONNECTIONS }));
      const gw = name === 'pg' ? pg : sqlite;
      // account B: the per-account gateway quota
      for (let k = 0; k < WRITES; k++) write[name].push(ms((await createRaw(gw, accounts[1], `w${i}x${k}`)).took));
    }
  }
  const mid = (rs) => [...rs].sort((a, b) => a.rps - b.rps)[Math.floor(rs.length / 2)];
  const ls = mid(list.sqlite);
  const lp = mid(list.pg);
  console.log(`tools/list SQLite     : ${ls.rps.toFixed(0)} req/s, p50 ${ls.p50} us, p99 ${ls.p99} us, errors ${ls.errors}, non-2xx ${ls.non2xx}`);
  console.log(`tools/list PostgreSQL : ${lp.rps.toFixed(0)} req/s, p50 ${lp.p50} us, p99 ${lp.p99} us, errors ${lp.errors}, non-2xx ${lp.non2xx}`);
  console.log(`tools/list ratio PostgreSQL / SQLite : ${(lp.rps / ls.rps).toFixed(2)}`);
  const f = (x) => x.toFixed(2);
  console.log(`CreateGateway SQLite     : median ${f(median(write.sqlite))} ms, p99 ${f(pct(write.sqlite, 99))} ms`);
  console.log(`CreateGateway PostgreSQL : median ${f(median(write.pg))} ms, p99 ${f(pct(write.pg, 99))} ms`);
  console.log(`CreateGateway ratio PostgreSQL / SQLite : ${(median(write.pg) / median(write.sqlite)).toFixed(2)}`);
  console.log(`(1 server thread each, ${CONNECTIONS} connections, ${ROUNDS} rounds of ${DURATION} s alternated; ` +
    `${WRITES} creates per round, one after another, each answered after its durable commit; ` +
    `PostgreSQL ${pgDir ? 'started here, fsync on' : 'of MCPGATE_TEST_PG'})`);
  for (const s of servers.splice(0)) await s.stop();

  // --- change propagation between two nodes -------------------------------------------------
  const shared = await freshDatabase('bench');
  dbs.push(shared);
  const n1 = await startMcpServer({ accounts, store: shared.uri, args: ['--log-level', 'warn'] });
  servers.push(n1);
  const n2 = await startMcpServer({ accounts, store: shared.uri, args: ['--log-level', 'warn'] });
  servers.push(n2);
  const delays = [];
  let lost = 0;
  for (let k = 0; k < PROPAGATIONS; k++) {
    const c = await createRaw(n1, A, `p${k}`);
    let seen = null;
    const end = c.t1 + 2_000_000_000n;
    while (process.hrtime.bigint() < end) {
      if ((await getStatus(n2, A, c.id)) === 200) {
        seen = process.hrtime.bigint();
        break;
      }
    }
    if (seen === null) {
      lost++;
      if (lost >= 3 && delays.length === 0) break; // no change feed: not worth 2 s each
    } else {
      delays.push(ms(seen - c.t1));
    }
  }
  if (delays.length) {
    console.log(`propagation node 1 -> node 2 : p50 ${f(median(delays))} ms, p99 ${f(pct(delays, 99))} ms, ` +
      `max ${f(Math.max(...delays))} ms over ${delays.length} creates; not seen within 2 s: ${lost}`);
  } else {
    console.log(`propagation node 1 -> node 2 : none of ${lost} creates seen on node 2 within 2 s (no change feed between nodes)`);
    process.exitCode = 1;
  }
  console.log('(the time from node 1\'s answer to node 2\'s first 200 to GetGateway, polled back to back)');
} finally {
  for (const s of servers) await s.stop().catch(() => {});
  for (const d of dbs) await d.drop().catch(() => {});
  if (pgDir) await run(path.join(repoRoot, 'scripts', 'pg-server'), ['stop', pgDir]).catch(() => {});
  await rm(dir, { recursive: true, force: true });
}
