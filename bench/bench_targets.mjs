// tools/call through targets reached over HTTP, each against a direct call to the same upstream
// in the same run: an OpenAPI target (a node HTTP server answering JSON) against a plain HTTP
// request to that server, and an MCP-server target (an @modelcontextprotocol/sdk server) against
// a tools/call sent to that server directly.
//
// Two views. "added by the gateway": the same raw keep-alive HTTP client sends, one at a time, a
// SigV4-signed tools/call to mcpgate (signed once and replayed, as bench/mcp_tools_list.mjs does)
// and the equivalent request straight to the upstream; the difference of the medians is what
// mcpgate adds: SigV4 verification, IAM authorization, the request built from the schema, the
// outbound client, the result mapping and one more loopback hop. "as an MCP client sees it": the
// MCP TypeScript SDK with SigV4 signing per request, whose own cost shows in its signed
// tools/list on the same session (no upstream behind it).
//
//   MCPGATE_BIN=build/release/mcpgate node bench/bench_targets.mjs [N]
import http from 'node:http';
import { createRequire } from 'node:module';
import { startServer } from '../tests/e2e/lib/server.mjs';
import { signRequest } from '../tests/e2e/lib/aws.mjs';
import { connect, control, createGateway, mcpAccounts } from '../tests/e2e/lib/mcp.mjs';

const require = createRequire(new URL('../tests/e2e/package.json', import.meta.url));
const { CreateGatewayTargetCommand, GetGatewayTargetCommand } = require('@aws-sdk/client-bedrock-agentcore-control');
const { McpServer } = require('@modelcontextprotocol/sdk/server/mcp.js');
const { StreamableHTTPServerTransport } = require('@modelcontextprotocol/sdk/server/streamableHttp.js');
const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js');
const { z } = require('zod');

const N = Number(process.argv[2] ?? 300);
const sorted = (a) => [...a].sort((x, y) => x - y);
const median = (a) => sorted(a)[Math.floor(a.length / 2)];
const p99 = (a) => sorted(a)[Math.min(a.length - 1, Math.floor(a.length * 0.99))];
const now = () => Number(process.hrtime.bigint()) / 1e6;
const listen = (srv) => new Promise((r) => srv.listen(0, '127.0.0.1', () => r(srv.address().port)));

// --- the upstreams ---------------------------------------------------------------------------
const rest = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ echo: u.searchParams.get('msg') }));
});
const restPort = await listen(rest);

const mcpHttp = http.createServer(async (req, res) => {
  const server = new McpServer({ name: 'bench-upstream', version: '1.0.0' });
  server.tool('echo', 'returns its argument', { msg: z.string() }, async ({ msg }) => ({ content: [{ type: 'text', text: msg }] }));
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => { transport.close(); server.close(); });
  await server.connect(transport);
  let body = '';
  for await (const chunk of req) body += chunk;
  await transport.handleRequest(req, res, body ? JSON.parse(body) : undefined);
});
const mcpPort = await listen(mcpHttp);

const openapi = {
  openapi: '3.0.3', info: { title: 'bench', version: '1' },
  servers: [{ url: `http://127.0.0.1:${restPort}` }],
  paths: { '/echo': { get: { operationId: 'echo', description: 'echo',
    parameters: [{ name: 'msg', in: 'query', required: true, schema: { type: 'string' } }],
    responses: { 200: { description: 'ok' } } } } },
};

const accounts = mcpAccounts();
const gw = await startServer({ accounts, args: ['--log-level', 'warn', ...(process.env.THREADS ? ['--threads', process.env.THREADS] : [])] });
try {
  const A = accounts[0];
  const c = control(gw, A.root);
  const g = await createGateway(gw, A);
  const ready = async (targetId) => {
    for (let i = 0; i < 300; i++) {
      const t = await c.send(new GetGatewayTargetCommand({ gatewayIdentifier: g.gatewayId, targetId }));
      if (t.status === 'READY') return;
      if (/FAILED|UNSUCCESSFUL/.test(t.status)) throw new Error(`target ${t.status}: ${t.statusReasons}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('target not READY');
  };
  const oa = await c.send(new CreateGatewayTargetCommand({ gatewayIdentifier: g.gatewayId, name: 'rest',
    targetConfiguration: { mcp: { openApiSchema: { inlinePayload: JSON.stringify(openapi) } } } }));
  await ready(oa.targetId);
  const ms = await c.send(new CreateGatewayTargetCommand({ gatewayIdentifier: g.gatewayId, name: 'up',
    targetConfiguration: { mcp: { mcpServer: { endpoint: `http://127.0.0.1:${mcpPort}/mcp` } } } }));
  await ready(ms.targetId);

  const { client } = await connect(g.gatewayUrl, A.root);
  const direct = new Client({ name: 'bench-direct', version: '1.0.0' });
  await direct.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${mcpPort}/mcp`)));

  const runs = { restDirect: [], restCall: [], mcpDirect: [], mcpCall: [], list: [] };
  const restUrl = `http://127.0.0.1:${restPort}/echo?msg=hi`;
  for (let i = 0; i < 20; i++) { // warm up connections on every path
    await (await fetch(restUrl)).text();
    await client.callTool({ name: 'rest___echo', arguments: { msg: 'hi' } });
    await direct.callTool({ name: 'echo', arguments: { msg: 'hi' } });
    await client.callTool({ name: 'up___echo', arguments: { msg: 'hi' } });
  }
  for (let i = 0; i < N; i++) {
    let t = now();
    await (await fetch(restUrl)).text();
    runs.restDirect.push(now() - t);
    t = now();
    const r = await client.callTool({ name: 'rest___echo', arguments: { msg: 'hi' } });
    runs.restCall.push(now() - t);
    if (r.isError) throw new Error(`OpenAPI tools/call failed: ${JSON.stringify(r)}`);
    t = now();
    await direct.callTool({ name: 'echo', arguments: { msg: 'hi' } });
    runs.mcpDirect.push(now() - t);
    t = now();
    const m = await client.callTool({ name: 'up___echo', arguments: { msg: 'hi' } });
    runs.mcpCall.push(now() - t);
    if (m.isError) throw new Error(`MCP-server tools/call failed: ${JSON.stringify(m)}`);
    t = now();
    await client.listTools();
    runs.list.push(now() - t);
  }
  await client.close();
  await direct.close();

  // the raw view: one keep-alive connection each, the same client code on both sides
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const send = (url, method, headers, body) => new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    if (body) req.end(body); else req.end();
  });
  const gwPath = new URL(g.gatewayUrl).pathname;
  const signedCall = async (tool) => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool, arguments: { msg: 'hi' } } });
    const sr = await signRequest(gw, A.root, { path: gwPath, service: 'bedrock-agentcore', body, signContentLength: true,
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' } });
    return { url: sr.url, headers: { ...sr.headers, 'content-length': String(Buffer.byteLength(body)) }, body };
  };
  const restTool = await signedCall('rest___echo');
  const upTool = await signedCall('up___echo');
  const upBody = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { msg: 'hi' } } });
  const upHeaders = { 'content-type': 'application/json', accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2025-06-18', 'content-length': String(Buffer.byteLength(upBody)) };
  const listBody = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
  const lsr = await signRequest(gw, A.root, { path: gwPath, service: 'bedrock-agentcore', body: listBody, signContentLength: true,
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' } });
  const listReq = { url: lsr.url, headers: { ...lsr.headers, 'content-length': String(Buffer.byteLength(listBody)) } };
  const raw = { rest: [], restGw: [], up: [], upGw: [], list: [] };
  const timed = async (arr, f) => { const t = now(); const r = await f(); arr.push(now() - t); return r; };
  for (let i = 0; i < N + 20; i++) {
    const a = await timed(raw.rest, () => send(restUrl, 'GET', {}, null));
    const b = await timed(raw.restGw, () => send(restTool.url, 'POST', restTool.headers, restTool.body));
    const c = await timed(raw.up, () => send(`http://127.0.0.1:${mcpPort}/mcp`, 'POST', upHeaders, upBody));
    const d = await timed(raw.upGw, () => send(upTool.url, 'POST', upTool.headers, upTool.body));
    await timed(raw.list, () => send(listReq.url, 'POST', listReq.headers, listBody));
    if (i === 0) {
      for (const [what, r] of [['upstream GET', a], ['gateway OpenAPI call', b], ['upstream MCP call', c], ['gateway MCP call', d]]) {
        if (r.status !== 200 || /"isError":true/.test(r.text)) throw new Error(`${what} failed: ${r.status} ${r.text.slice(0, 300)}`);
      }
    }
  }
  for (const k of Object.keys(raw)) raw[k] = raw[k].slice(20); // warm-up dropped
  agent.destroy();
  // tools/list on the same session: what the MCP client, its SigV4 signing and the gateway's
  // authentication cost on every request, with no upstream behind it
  const line = (what, call, base, baseName) =>
    console.log(`${what}: tools/call median ${median(call).toFixed(3)} ms, p99 ${p99(call).toFixed(3)} ms; ` +
      `${baseName} median ${median(base).toFixed(3)} ms, p99 ${p99(base).toFixed(3)} ms; ` +
      `difference ~${(median(call) - median(base)).toFixed(3)} ms (median; the client's MCP and SigV4 work included); ` +
      `signed tools/list on the same session median ${median(runs.list).toFixed(3)} ms`);
  line('OpenAPI target (SDK)', runs.restCall, runs.restDirect, 'direct HTTP request');
  line('MCP-server target (SDK)', runs.mcpCall, runs.mcpDirect, 'direct MCP tools/call');
  const rawLine = (what, call, base) =>
    console.log(`${what} (raw): gateway median ${median(call).toFixed(3)} ms, p99 ${p99(call).toFixed(3)} ms; ` +
      `direct median ${median(base).toFixed(3)} ms, p99 ${p99(base).toFixed(3)} ms; ` +
      `added by the gateway ~${(median(call) - median(base)).toFixed(3)} ms (median), ` +
      `~${(p99(call) - p99(base)).toFixed(3)} ms (p99)`);
  console.log(`signed tools/list (raw): median ${median(raw.list).toFixed(3)} ms, p99 ${p99(raw.list).toFixed(3)} ms`);
  rawLine('OpenAPI target', raw.restGw, raw.rest);
  rawLine('MCP-server target', raw.upGw, raw.up);

} finally {
  await gw.stop();
  rest.close();
  mcpHttp.close();
}
