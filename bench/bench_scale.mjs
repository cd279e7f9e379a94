// Memory and restart time at scale: the server's resident set (VmRSS, and its peak VmHWM, from
// /proc/PID/status) idle and empty, after building 10,000 gateways over 20 accounts with 100,000
// tools through the public API (tests/e2e/lib/scale.mjs, the state of tests/e2e/scale.test.mjs and
// bench/bench_writes.mjs), and after a restart on the same data folder; and the restart time, from
// the spawn of the new process to its first successful signed tools/list (a gateway with 100
// tools) and ListGateways answers, against the same restart of a server holding one gateway
// without targets, measured in alternating rounds in the same run.
//   MCPGATE_BIN=build/release/mcpgate node bench/bench_scale.mjs
// The idle rows: IDLE_STARTS (default 3) servers in their default configuration (no --log-level,
// SQLite in an empty data folder), each measured once it accepts connections and has answered
// nothing, then after one signed request (ListGateways); the median of each figure.
// Environment: N (gateways, default 10000), ROUNDS (restarts of each server, default 3),
// PARALLEL (requests in flight while the state is built, default 8), IDLE_ONLY=1 (only the idle
// rows, a few seconds).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { makeClient } from '../tests/e2e/lib/aws.mjs';
import { startServer } from '../tests/e2e/lib/server.mjs';
import { buildState, mcpPoster, scaleAccounts, pool } from '../tests/e2e/lib/scale.mjs';

const require = createRequire(new URL('../tests/e2e/package.json', import.meta.url));
const {
  BedrockAgentCoreControlClient, CreateGatewayCommand, GetGatewayCommand, ListGatewaysCommand,
} = require('@aws-sdk/client-bedrock-agentcore-control');

const N = Number(process.env.N ?? 10000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const PARALLEL = Number(process.env.PARALLEL ?? 8);
const IDLE_STARTS = Number(process.env.IDLE_STARTS ?? 3);
const ARGS = ['--log-level', 'warn'];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };
const mb = (kb) => (kb / 1024).toFixed(1);

function memory(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)[1]);
  // Pss: the shared library pages divided among the processes that map them
  const r = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const pss = Number(/^Pss:\s+(\d+) kB/m.exec(r)[1]);
  return { rss: kb('VmRSS'), hwm: kb('VmHWM'), anon: kb('RssAnon'), file: kb('RssFile'), pss };
}

/** Idle servers in their default configuration: before any answer and after one signed request;
 * each figure the median over IDLE_STARTS starts. */
async function idleRows() {
  const before = [];
  const after = [];
  for (let i = 0; i < IDLE_STARTS; i++) {
    const accounts = scaleAccounts(1);
    const gw = await startServer({ accounts, store: 'sqlite' }); // no --log-level: the default
    try {
      await sleep(1000); // start-up work done; nothing answered yet (only a TCP connect)
      before.push(memory(gw.pid));
      const cp = makeClient(BedrockAgentCoreControlClient, gw, accounts[0].root);
      await cp.send(new ListGatewaysCommand({}));
      cp.destroy();
      await sleep(500);
      after.push(memory(gw.pid));
    } finally {
      await gw.stop();
    }
  }
  const med = (xs) => Object.fromEntries(Object.keys(xs[0]).map((k) => [k, median(xs.map((x) => x[k]))]));
  const line = (m) => `VmRSS ${mb(m.rss)} MB (RssAnon ${mb(m.anon)}, RssFile ${mb(m.file)}), Pss ${mb(m.pss)} MB`;
  const b = med(before);
  const a = med(after);
  console.log(`RSS idle empty server, default configuration, median of ${IDLE_STARTS} starts: ` +
    `${line(b)} before any answer; ${line(a)} after one signed ListGateways`);
  return { before: b, after: a };
}

/** The CPU time (user + system, ms) the process and its children that ended have used. */
function cpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 10; // ticks of 10 ms
}

/** Waits until every gateway of every account is READY. */
async function waitReady(gw, accounts) {
  const deadline = Date.now() + 600000;
  for (const a of accounts) {
    const cp = makeClient(BedrockAgentCoreControlClient, gw, a.root, { maxAttempts: 3 });
    for (;;) {
      let nextToken;
      let ok = true;
      do {
        const r = await cp.send(new ListGatewaysCommand({ nextToken }));
        ok &&= r.items.every((g) => g.status === 'READY');
        nextToken = r.nextToken;
      } while (nextToken);
      if (ok) break;
      if (Date.now() > deadline) throw new Error('gateways not READY');
      await sleep(500);
    }
  }
  await sleep(2000); // the targets' transitions follow the gateways'
}

/** Restarts gw and times the spawn to the first successful tools/list and ListGateways. */
async function restartTimed(gw, acct, gatewayId, wantTools, cpu) {
  const { spawnedAt } = await gw.restart({ wait: false });
  const poster = mcpPoster(gw, acct.root, { sockets: 1 });
  const cp = makeClient(BedrockAgentCoreControlClient, gw, acct.root);
  const deadline = Date.now() + 60000;
  const until = async (fn) => {
    let last = null;
    for (;;) {
      try {
        if (await fn()) return;
      } catch (e) {
        last = e; // not listening yet
      }
      if (Date.now() > deadline || !gw.alive()) {
        throw new Error(`no answer after restart (exit ${JSON.stringify(gw.exitStatus())}, ` +
          `last error ${last?.message})\n${gw.stderr().slice(-2000)}`);
      }
      await sleep(2);
    }
  };
  await until(async () => {
    const r = await poster.post(gatewayId, { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
    if (r.status !== 200 || r.body.result?.tools.length !== wantTools)
      throw new Error(`tools/list ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
    return true;
  });
  await until(async () => (await cp.send(new ListGatewaysCommand({ maxResults: 10 }))).items.length > 0);
  const ms = Number(process.hrtime.bigint() - spawnedAt) / 1e6;
  cpu.push(cpuMs(gw.pid));
  poster.close();
  cp.destroy();
  return ms;
}

/** Reads every gateway once (GetGateway, tools/list): what a server that has served a while holds. */
async function touchAll(gw, accounts, gateways) {
  const posters = accounts.map((a) => mcpPoster(gw, a.root, { sockets: 8 }));
  const cps = accounts.map((a) => makeClient(BedrockAgentCoreControlClient, gw, a.root, { maxAttempts: 3 }));
  await pool(gateways.map((g) => async () => {
    await cps[g.a].send(new GetGatewayCommand({ gatewayIdentifier: g.id }));
    const r = await posters[g.a].post(g.id, { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
    if (r.status !== 200) throw new Error(`tools/list ${r.status}`);
  }), 16);
  for (const p of posters) p.close();
}

const servers = [];
try {
  await idleRows();
  if (process.env.IDLE_ONLY === '1') process.exit(0);
  // the baseline: one gateway without targets
  const eAccounts = scaleAccounts(1);
  const empty = await startServer({ accounts: eAccounts, args: ARGS });
  servers.push(empty);
  await sleep(1000);
  const idle = memory(empty.pid);
  const ecp = makeClient(BedrockAgentCoreControlClient, empty, eAccounts[0].root);
  const eg = await ecp.send(new CreateGatewayCommand({ name: 'g0', authorizerType: 'AWS_IAM',
    roleArn: `arn:aws:iam::${eAccounts[0].id}:role/gw` }));
  await waitReady(empty, eAccounts);

  const accounts = scaleAccounts();
  const full = await startServer({ accounts, args: ARGS, timeoutMs: 60000 });
  servers.push(full);
  const state = await buildState(full, accounts, { gateways: N, parallel: PARALLEL });
  await waitReady(full, accounts);
  const built = memory(full.pid);
  await touchAll(full, accounts, state.gateways);
  const builtTouched = memory(full.pid);
  const withTools = state.gateways.find((g) => g.targets.length);

  const eTimes = [];
  const fTimes = [];
  const eCpu = [];
  const fCpu = [];
  let afterRestart = null;
  for (let r = 0; r < ROUNDS; r++) {
    eTimes.push(await restartTimed(empty, eAccounts[0], eg.gatewayId, 0, eCpu));
    fTimes.push(await restartTimed(full, accounts[withTools.a], withTools.id, 100, fCpu));
    if (r === 0) {
      afterRestart = memory(full.pid);
      await touchAll(full, accounts, state.gateways);
      afterRestart.touched = memory(full.pid);
    }
  }
  const emptyAfter = memory(empty.pid);

  console.log(`scale state: ${N} gateways over ${accounts.length} accounts, ${state.targets} targets, ` +
    `${state.targets * 10} tools (built in ${state.seconds} s with ${PARALLEL} in flight)`);
  console.log(`RSS idle empty server (--log-level warn, the restart baseline): VmRSS ${mb(idle.rss)} MB, VmHWM ${mb(idle.hwm)} MB, ` +
    `RssAnon ${mb(idle.anon)} MB, Pss ${mb(idle.pss)} MB (the rest is mapped files: the binary and its libraries); ` +
    `after its restarts: ${mb(emptyAfter.rss)} MB`);
  console.log(`RSS after building: VmRSS ${mb(built.rss)} MB, VmHWM ${mb(built.hwm)} MB; ` +
    `after reading every gateway: VmRSS ${mb(builtTouched.rss)} MB`);
  console.log(`RSS after a restart: VmRSS ${mb(afterRestart.rss)} MB, VmHWM ${mb(afterRestart.hwm)} MB; ` +
    `after reading every gateway: VmRSS ${mb(afterRestart.touched.rss)} MB, VmHWM ${mb(afterRestart.touched.hwm)} MB`);
  const e = median(eTimes);
  const f = median(fTimes);
  console.log(`restart to first tools/list and ListGateways, median of ${ROUNDS}: ` +
    `${N} gateways ${f.toFixed(0)} ms, one gateway ${e.toFixed(0)} ms, ratio ${(f / e).toFixed(2)} ` +
    `(rounds: ${fTimes.map((x) => x.toFixed(0)).join(', ')} against ${eTimes.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`restart CPU time (user + system, with the children it waited for) of the new process until it answered, median: ` +
    `${N} gateways ${median(fCpu)} ms, one gateway ${median(eCpu)} ms ` +
    `(rounds: ${fCpu.join(', ')} against ${eCpu.join(', ')})`);
} finally {
  for (const s of servers) await s.stop();
}
