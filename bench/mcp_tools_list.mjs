// SigV4-signed MCP tools/list through mcpgate against nginx `return 200` on the same machine, in
// the same run, with wrk. Started by bench/mcp_tools_list.sh (which checks the tools). The request
// is signed once and replayed as the same bytes (valid within the SigV4 clock-skew window).
// Environment: MCPGATE_BIN, DURATION (s, default 10), CONNECTIONS (default 64), THREADS (server
// loops and nginx workers, default 1), LOG_LEVEL (server --log-level; default: the server's own,
// info, with its access log), MCPGATE_ARGS (more server options, space-separated), TOOLS (tools in
// the catalog, default 10), ROUNDS (default
// 5: nginx and mcpgate runs alternate, and the median of the per-round ratios is reported, which
// keeps a busy machine from skewing one side).
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { signRequest } from '../tests/e2e/lib/aws.mjs';
import { createEchoFunction, createGateway, createLambdaTarget, startMcpServer } from '../tests/e2e/lib/mcp.mjs';
import { freePort } from '../tests/e2e/lib/server.mjs';
import { writeLua, wrk as wrkRun } from './lib/wrk.mjs';

const DURATION = Number(process.env.DURATION ?? 10);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 64);
const THREADS = Number(process.env.THREADS ?? 1);
const LOG_LEVEL = process.env.LOG_LEVEL ?? '';
const EXTRA_ARGS = (process.env.MCPGATE_ARGS ?? '').split(/\s+/).filter(Boolean);
const NTOOLS = Number(process.env.TOOLS ?? 10);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const BUDGET = 0.8;

const dir = await mkdtemp(path.join(os.tmpdir(), 'mcpgate-bench-'));
let gw;
let nginx;
try {
  gw = await startMcpServer({ stderrFile: path.join(dir, 'mcpgate.log'), args: ['--threads', String(THREADS), ...(LOG_LEVEL ? ['--log-level', LOG_LEVEL] : []), ...EXTRA_ARGS] });
  const A = gw.accounts[0];
  const fn = await createEchoFunction(gw, A);
  const g = await createGateway(gw, A);
  const tools = Array.from({ length: NTOOLS }, (_, i) => ({
    name: `tool_${i}`, description: `Benchmark tool number ${i}`,
    inputSchema: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
  }));
  await createLambdaTarget(gw, A, g.gatewayId, 'bench', fn, tools);

  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
  const gwPath = new URL(g.gatewayUrl).pathname;
  const signed = await signRequest(gw, A.root, {
    path: gwPath, service: 'bedrock-agentcore', body, signContentLength: true,
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
  });
  // sanity: one request through fetch
  const check = await fetch(signed.url, { method: 'POST', headers: signed.headers, body });
  const checkBody = await check.json();
  if (check.status !== 200 || checkBody.result?.tools?.length !== NTOOLS) {
    throw new Error(`signed tools/list failed: ${check.status} ${JSON.stringify(checkBody).slice(0, 300)}`);
  }
  const mcpLua = await writeLua(path.join(dir, 'mcp.lua'), { method: 'POST', headers: signed.headers, body });
  const plainLua = await writeLua(path.join(dir, 'plain.lua'),
    { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const wrk = (url, lua) => wrkRun(url, lua, { duration: DURATION, connections: CONNECTIONS });

  const nport = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  await writeFile(conf, `worker_processes ${THREADS};
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server { listen 127.0.0.1:${nport}; location / { return 200 "ok"; } }
}
`);
  nginx = spawn('nginx', ['-c', conf, '-p', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  for (let i = 0; i < 50; i++) {
    try { if ((await fetch(`http://127.0.0.1:${nport}/`)).status === 200) break; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }

  const rounds = [];
  for (let i = 0; i < ROUNDS; i++) {
    const ng = await wrk(`http://127.0.0.1:${nport}/`, plainLua);
    const mc = await wrk(signed.url, mcpLua);
    rounds.push({ ng, mc, ratio: mc.rps / ng.rps });
    console.log(`round ${i + 1}: nginx ${ng.rps.toFixed(0)} req/s (p50 ${ng.p50} us, p99 ${ng.p99} us); ` +
      `mcpgate ${mc.rps.toFixed(0)} req/s (p50 ${mc.p50} us, p99 ${mc.p99} us); ratio ${(mc.rps / ng.rps).toFixed(2)}`);
  }
  rounds.sort((x, y) => x.ratio - y.ratio);
  const { ng, mc, ratio } = rounds[Math.floor(rounds.length / 2)];
  console.log('median round:');
  console.log(`nginx return 200      : ${ng.rps.toFixed(0)} req/s, p50 ${ng.p50} us, p99 ${ng.p99} us, errors ${ng.errors}, non-2xx ${ng.non2xx}`);
  console.log(`mcpgate tools/list    : ${mc.rps.toFixed(0)} req/s, p50 ${mc.p50} us, p99 ${mc.p99} us, errors ${mc.errors}, non-2xx ${mc.non2xx}`);
  console.log(`ratio mcpgate / nginx : ${ratio.toFixed(2)} (budget >= ${BUDGET}; p99 < 2000 us) ${ratio >= BUDGET ? 'OK' : 'BELOW BUDGET'}`);
  console.log(`(${THREADS} server thread(s), ${CONNECTIONS} connections, ${ROUNDS} rounds of ${DURATION} s, ${NTOOLS} tools, SigV4 verified per request)`);
  if (mc.non2xx || mc.errors) process.exitCode = 1;
} finally {
  if (nginx) { nginx.kill('SIGQUIT'); await new Promise((r) => nginx.once('exit', r)); }
  await gw?.stop();
  await rm(dir, { recursive: true, force: true });
}
