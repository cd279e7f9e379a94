// Runs the scenarios of @modelcontextprotocol/conformance that apply to a gateway's protocol
// handling against a real gateway (authorizer NONE, one Lambda target), and prints the outcome.
// The suite needs Node 22; both come from the lockfile in tests/conformance (scripts/test runs
// `npm ci` there): CONFORMANCE_DIR=$PWD/tests/conformance MCPGATE_BIN=build/dev/mcpgate \
//   node tests/e2e/mcp-conformance.mjs
// Exit code 0 when every applicable scenario passes; 2 when the suite is not installed.
// Scenarios left out, and why: see docs/mcp.md ("Conformance suite").
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createEchoFunction, createGateway, createLambdaTarget, startMcpServer } from './lib/mcp.mjs';

const run = promisify(execFile);
const APPLICABLE = ['server-initialize', 'ping', 'tools-list', 'server-sse-multiple-streams', 'dns-rebinding-protection'];

const dir = process.env.CONFORMANCE_DIR;
const node = dir && path.join(dir, 'node_modules', '.bin', 'node');
const cli = dir && path.join(dir, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
if (!dir || !existsSync(node) || !existsSync(cli)) {
  console.error('mcp-conformance: set CONFORMANCE_DIR to a folder with node@22 and @modelcontextprotocol/conformance installed');
  process.exit(2);
}

const out = await mkdtemp(path.join(os.tmpdir(), 'mcp-conformance-'));
const gw = await startMcpServer({});
let failed = 0;
try {
  const A = gw.accounts[0];
  const fn = await createEchoFunction(gw, A);
  const g = await createGateway(gw, A, { authorizerType: 'NONE' });
  await createLambdaTarget(gw, A, g.gatewayId, 'fixture', fn, [
    { name: 'echo', description: 'Echo the arguments', inputSchema: { type: 'object', properties: { message: { type: 'string' } } } },
  ]);
  // the dns-rebinding scenario needs a localhost URL
  const url = g.gatewayUrl.replace('127.0.0.1', 'localhost');
  for (const scenario of APPLICABLE) {
    let ok = true;
    let text = '';
    try {
      const r = await run(node, [cli, 'server', '--url', url, '--scenario', scenario, '-o', out], { maxBuffer: 1 << 22 });
      text = r.stdout + r.stderr;
    } catch (e) {
      ok = false;
      text = (e.stdout ?? '') + (e.stderr ?? '');
    }
    if (!ok) failed++;
    console.log(`${ok ? 'PASS' : 'FAIL'} ${scenario}`);
    if (!ok || process.env.VERBOSE) console.log(text.split('\n').filter((l) => l.trim()).slice(-15).join('\n'));
  }
} finally {
  await gw.stop();
  await rm(out, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
