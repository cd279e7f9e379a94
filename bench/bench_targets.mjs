// tools/call through targets reached over HTTP, each against a direct call to the same upstream
// in the same run: an OpenAPI target (a node HTTP server answering JSON) against a plain HTTP
// request to that server, and an MCP-server target (an @modelcontextprotocol/sdk server) against
// an MCP client talking to that server directly. The figure is the median (and p99) added by the
// gateway: SigV4 verification, IAM authorization, the request built from the schema, the outbound
// client and the result mapping.
//
//   MCPGATE_BIN=build/release/mcpgate node bench/bench_targets.mjs [N]
import http from 'node:http';
import { createRequire } from 'node:module';
import { startServer } from '../tests/e2e/lib/server.mjs';
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
const gw = await startServer({ accounts, args: ['--log-level', 'warn'] });
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

  const runs = { restDirect: [], restCall: [], mcpDirect: [], mcpCall: [] };
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
  }
  await client.close();
  await direct.close();
  const line = (what, call, base, baseName) =>
    console.log(`${what}: tools/call median ${median(call).toFixed(3)} ms, p99 ${p99(call).toFixed(3)} ms; ` +
      `${baseName} median ${median(base).toFixed(3)} ms, p99 ${p99(base).toFixed(3)} ms; ` +
      `added by the gateway ~${(median(call) - median(base)).toFixed(3)} ms (median)`);
  line('OpenAPI target', runs.restCall, runs.restDirect, 'direct HTTP request');
  line('MCP-server target', runs.mcpCall, runs.mcpDirect, 'direct MCP tools/call');
} finally {
  await gw.stop();
  rest.close();
  mcpHttp.close();
}
