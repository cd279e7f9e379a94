// Control-plane reads with 1,000 gateways: signed GetGateway and ListGateways (SigV4, IAM
// authorization, snapshot reads, JSON out) next to the unauthenticated static route
// /_mcpgate/health of the same server, in the same run, with wrk. Each signed request is made
// once and replayed (valid within the SigV4 clock-skew window).
//   MCPGATE_BIN=build/release/mcpgate node bench/control_plane.mjs
// Beside the rates, the server's CPU time per request (user + system, from /proc, Linux): on a
// shared machine, where other work takes cores from the server and from wrk, it moves less than
// the rates do.
// Every shape runs once per round, ROUNDS interleaved rounds; the ratios printed are the medians
// of the per-round ratios (the machine's speed drifts between rounds; a ratio within one round
// is steadier than either rate).
// Environment: ROUNDS (default 5), DURATION (s per shape and round, default 3), CONNECTIONS
// (default 32), THREADS (server loops, default 1), GATEWAYS (default 1000), LOG_LEVEL (server
// --log-level, default warn), MCPGATE_ARGS (more server options, space-separated).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { signRequest } from '../tests/e2e/lib/aws.mjs';
import { defaultAccounts, startServer } from '../tests/e2e/lib/server.mjs';
import { writeLua, wrk } from './lib/wrk.mjs';

const DURATION = Number(process.env.DURATION ?? 3);
const ROUNDS = Math.max(1, Number(process.env.ROUNDS ?? 5));
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 32);
const THREADS = Number(process.env.THREADS ?? 1);
const LOG_LEVEL = process.env.LOG_LEVEL ?? 'warn';
const EXTRA_ARGS = (process.env.MCPGATE_ARGS ?? '').split(/\s+/).filter(Boolean);
const GATEWAYS = Number(process.env.GATEWAYS ?? 1000);

const accounts = defaultAccounts();
accounts[0].roles = { gw: { name: 'gw', path: '/', assumeRolePolicyDocument: {
  Version: '2012-10-17', Statement: [{ Effect: 'Allow',
    Principal: { Service: 'bedrock-agentcore.amazonaws.com' }, Action: 'sts:AssumeRole' }] } } };
const gw = await startServer({ accounts, args: ['--threads', String(THREADS), '--log-level', LOG_LEVEL, ...EXTRA_ARGS] });
const key = accounts[0].root;
const dir = await mkdtemp(path.join(os.tmpdir(), 'mcpgate-bench-cp-'));

/** The server's CPU time so far (user + system), in microseconds, or NaN without /proc. */
async function cpuUs() {
  try {
    const f = (await readFile(`/proc/${gw.pid}/stat`, 'utf8')).split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * (1e6 / 100); /* clock ticks of 10 ms */
  } catch {
    return NaN;
  }
}

async function signed(method, p, body) {
  const s = await signRequest(gw, key, { method, path: p, service: 'bedrock-agentcore',
    headers: body ? { 'content-type': 'application/json' } : {}, body });
  const res = await fetch(s.url, { method, headers: s.headers, body });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${text}`);
  return { ...s, text };
}

try {
  const ids = [];
  for (let i = 0; i < GATEWAYS; i++) {
    const r = await signed('POST', '/gateways/', JSON.stringify({
      name: `bench${i}`, roleArn: 'arn:aws:iam::111122223333:role/gw', authorizerType: 'AWS_IAM' }));
    ids.push(JSON.parse(r.text).gatewayId);
  }
  const shapes = [
    ['GET /_mcpgate/health (static, no auth)', `${gw.endpoint}/_mcpgate/health`, {}],
    ['GetGateway', null, await signed('GET', `/gateways/${ids[ids.length >> 1]}/`)],
    ['ListGateways maxResults=10', null, await signed('GET', '/gateways/?maxResults=10')],
    ['ListGateways maxResults=100', null, await signed('GET', '/gateways/?maxResults=100')],
  ];
  const rounds = shapes.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < shapes.length; k++) {
      const [name, url, s] = shapes[k];
      const lua = await writeLua(path.join(dir, `${k}.lua`), { method: 'GET', headers: s.headers ?? {} });
      const cpu0 = await cpuUs();
      const r = await wrk(url ?? s.url, lua, { duration: DURATION, connections: CONNECTIONS });
      r.cpu = (await cpuUs() - cpu0) / (r.rps * DURATION);
      if (r.non2xx || r.errors) throw new Error(`${name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
      rounds[k].push(r);
    }
  }
  const median = (xs) => {
    const v = [...xs].sort((a, b) => a - b);
    return v.length % 2 ? v[v.length >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  };
  console.log(`${GATEWAYS} gateways; ${THREADS} server thread(s), ${CONNECTIONS} connections, ` +
    `${ROUNDS} interleaved rounds of ${DURATION} s per shape; medians over the rounds, ratios are ` +
    'medians of the per-round ratios');
  const base = rounds[0];
  for (let k = 0; k < shapes.length; k++) {
    const rs = rounds[k];
    const ratios = rs.map((r, i) => r.rps / base[i].rps);
    const cpuRatios = rs.map((r, i) => base[i].cpu / r.cpu);
    console.log(`${shapes[k][0].padEnd(40)} ${median(rs.map((r) => r.rps)).toFixed(0).padStart(8)} req/s  ` +
      `p50 ${median(rs.map((r) => r.p50))} us  p99 ${median(rs.map((r) => r.p99))} us  ` +
      `ratio to static ${median(ratios).toFixed(2)} (rounds ${Math.min(...ratios).toFixed(2)} to ` +
      `${Math.max(...ratios).toFixed(2)})  server CPU ${median(rs.map((r) => r.cpu)).toFixed(1)} us/req ` +
      `(static/this ${median(cpuRatios).toFixed(2)})`);
  }
} finally {
  await gw.stop();
  await rm(dir, { recursive: true, force: true });
}
