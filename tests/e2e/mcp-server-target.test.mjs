// MCP-server targets against a real MCP server the test starts (@modelcontextprotocol/sdk's
// low-level Server on StreamableHTTPServerTransport, paginating tools/list): creation lists every
// page, tools/list through the gateway shows TARGET___tool, tools/call is forwarded, an upstream
// that forgets its sessions (404) is survived, an unreachable endpoint fails the target with
// AgentCore's status reasons, SynchronizeGatewayTargets picks up a new tool, DYNAMIC listing
// shows a change live, and the control plane's refusals.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { after, before, test } from 'node:test';
import {
  CreateGatewayTargetCommand, GetGatewayTargetCommand, ListGatewayTargetsCommand,
  SynchronizeGatewayTargetsCommand, UpdateGatewayTargetCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { connect, control, createGateway, listAll, signedFetch, startMcpServer } from './lib/mcp.mjs';
import { freePort } from './lib/server.mjs';

const num = { type: 'number' };
/** The upstream's tools (mutable: tests add to it). */
const tools = [
  { name: 'add', description: 'Adds two numbers', inputSchema: { type: 'object', properties: { a: num, b: num }, required: ['a', 'b'] } },
  { name: 'echo', description: 'Echoes a message', inputSchema: { type: 'object', properties: { message: { type: 'string' } } } },
  { name: 'upper', description: 'Upper-cases text', inputSchema: { type: 'object', properties: { text: { type: 'string' } } } },
  { name: 'fails', description: 'Always a tool error', inputSchema: { type: 'object' } },
  { name: 'throws', description: 'Answers a JSON-RPC error', inputSchema: { type: 'object' } },
  { name: 'structured', description: 'Structured output', inputSchema: { type: 'object' },
    outputSchema: { type: 'object', properties: { n: num }, required: ['n'] } },
  { name: 'slow', description: 'Answers after 1.5 s', inputSchema: { type: 'object' } },
];
const PAGE = 2;

/** An MCP server on a loopback port: one SDK Server + transport per session. */
function startUpstream() {
  const sessions = new Map();
  const stats = { initializes: 0, posts: 0, notFound: 0 };
  const makeServer = () => {
    const s = new Server({ name: 'upstream', version: '1.0.0' }, { capabilities: { tools: { listChanged: false } } });
    s.setRequestHandler(ListToolsRequestSchema, async (req) => {
      const start = req.params?.cursor ? Number(req.params.cursor) : 0;
      const page = tools.slice(start, start + PAGE);
      const next = start + PAGE < tools.length ? String(start + PAGE) : undefined;
      return next ? { tools: page, nextCursor: next } : { tools: page };
    });
    s.setRequestHandler(CallToolRequestSchema, async (req) => {
      const { name, arguments: args = {} } = req.params;
      switch (name) {
        case 'add': return { content: [{ type: 'text', text: String(args.a + args.b) }] };
        case 'echo': return { content: [{ type: 'text', text: `echo: ${args.message}` }] };
        case 'upper': return { content: [{ type: 'text', text: String(args.text).toUpperCase() }] };
        case 'fails': return { content: [{ type: 'text', text: 'it failed' }], isError: true };
        case 'throws': throw new McpError(-32602, 'bad input from upstream', { field: 'x' });
        case 'structured': return { content: [{ type: 'text', text: '{"n":7}' }], structuredContent: { n: 7 } };
        case 'slow':
          await new Promise((r) => setTimeout(r, 1500));
          return { content: [{ type: 'text', text: 'slow done' }] };
        default:
          if (tools.some((t) => t.name === name)) return { content: [{ type: 'text', text: `new tool ${name}` }] };
          throw new McpError(-32602, `Unknown tool: ${name}`);
      }
    });
    return s;
  };
  const srv = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
    stats.posts++;
    const sid = req.headers['mcp-session-id'];
    if (sid) {
      const t = sessions.get(sid);
      if (!t) {
        stats.notFound++;
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }));
        return;
      }
      await t.handleRequest(req, res, body);
      return;
    }
    if (body?.method !== 'initialize') {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: 'Bad Request: Server not initialized' }, id: null }));
      return;
    }
    stats.initializes++;
    const t = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => sessions.set(id, t),
    });
    t.onclose = () => { if (t.sessionId) sessions.delete(t.sessionId); };
    await makeServer().connect(t);
    await t.handleRequest(req, res, body);
  });
  return new Promise((resolve) => {
    srv.listen(0, '127.0.0.1', () => {
      resolve({
        url: `http://127.0.0.1:${srv.address().port}/mcp`,
        stats,
        /** forgets every session, as a restarted server would */
        forget: () => sessions.clear(),
        close: () => new Promise((r) => { srv.closeAllConnections?.(); srv.close(r); }),
      });
    });
  });
}

let gw;
let A;
let dev;
let up;
let mcpGw;
let target;

async function waitTarget(c, gatewayId, targetId, done = ['READY', 'FAILED', 'UPDATE_UNSUCCESSFUL', 'SYNCHRONIZE_UNSUCCESSFUL'], ms = 60000) {
  const end = Date.now() + ms;
  for (;;) {
    const t = await c.send(new GetGatewayTargetCommand({ gatewayIdentifier: gatewayId, targetId }));
    if (done.includes(t.status)) return t;
    if (Date.now() > end) throw new Error(`target still ${t.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function createServerTarget(gatewayId, name, endpoint, extra = {}) {
  const c = control(gw, A.root);
  const out = await c.send(new CreateGatewayTargetCommand({
    gatewayIdentifier: gatewayId, name,
    targetConfiguration: { mcp: { mcpServer: { endpoint, ...extra } } },
  }));
  assert.equal(out.status, 'CREATING');
  return waitTarget(c, gatewayId, out.targetId);
}

before(async () => {
  up = await startUpstream();
  gw = await startMcpServer();
  A = gw.accounts[0];
  dev = { accessKeyId: A.root.accessKeyId, secretAccessKey: A.root.secretAccessKey };
  mcpGw = await createGateway(gw, A, { exceptionLevel: 'DEBUG' });
  target = await createServerTarget(mcpGw.gatewayId, 'up', up.url);
});

after(async () => {
  await gw?.stop();
  await up?.close();
});

test('creation lists every page of the server: READY, tools prefixed, MCP_SERVER', async () => {
  assert.equal(target.status, 'READY', JSON.stringify(target.statusReasons));
  assert.ok(target.lastSynchronizedAt instanceof Date);
  assert.equal(target.targetConfiguration.mcp.mcpServer.endpoint, up.url, 'loopback http kept as given');
  const list = await control(gw, A.root).send(new ListGatewayTargetsCommand({ gatewayIdentifier: mcpGw.gatewayId }));
  assert.equal(list.items.find((t) => t.targetId === target.targetId).targetType, 'MCP_SERVER');

  const { client } = await connect(mcpGw.gatewayUrl, dev);
  const { tools: listed } = await listAll(client);
  assert.deepEqual(listed.map((t) => t.name).sort(), tools.map((t) => `up___${t.name}`).sort());
  const add = listed.find((t) => t.name === 'up___add');
  assert.equal(add.description, 'Adds two numbers');
  assert.deepEqual(add.inputSchema.required, ['a', 'b']);
  await client.close();
});

test('tools/call is forwarded and the result returned as the server gave it', async () => {
  const { client } = await connect(mcpGw.gatewayUrl, dev);
  await listAll(client);
  const r = await client.callTool({ name: 'up___add', arguments: { a: 2, b: 3 } });
  assert.deepEqual(r.content, [{ type: 'text', text: '5' }]);
  assert.ok(!r.isError);
  const e = await client.callTool({ name: 'up___echo', arguments: { message: 'hi' } });
  assert.equal(e.content[0].text, 'echo: hi');
  const f = await client.callTool({ name: 'up___fails', arguments: {} });
  assert.equal(f.isError, true);
  assert.equal(f.content[0].text, 'it failed');
  // the upstream's JSON-RPC error is ours, code, message and data alike
  await assert.rejects(client.callTool({ name: 'up___throws', arguments: {} }),
    (e) => e.code === -32602 && /bad input from upstream/.test(e.message) && e.data?.field === 'x');
  const s = await client.callTool({ name: 'up___structured', arguments: {} });
  assert.deepEqual(s.structuredContent, { n: 7 });
  await client.close();
});

test('notifications/cancelled drops the answer of a call in flight to the MCP server', async () => {
  const f = signedFetch(dev);
  const post = async (body) => {
    const r = await f(mcpGw.gatewayUrl, {
      method: 'POST', body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    });
    return { status: r.status, text: await r.text() };
  };
  const t0 = Date.now();
  const call = post({ jsonrpc: '2.0', id: 'slow-1', method: 'tools/call', params: { name: 'up___slow', arguments: {} } });
  await new Promise((r) => setTimeout(r, 300));
  const c = await post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'slow-1' } });
  assert.equal(c.status, 202);
  const r = await call;
  assert.equal(r.status, 202, 'every answer of the POST was cancelled');
  assert.equal(r.text, '');
  assert.ok(Date.now() - t0 < 1200, `took ${Date.now() - t0} ms: the upstream's answer was waited for`);
  // the same call, not cancelled, answers when the upstream does
  const done = await post({ jsonrpc: '2.0', id: 'slow-2', method: 'tools/call', params: { name: 'up___slow', arguments: {} } });
  assert.equal(done.status, 200);
  assert.match(done.text, /slow done/);
});

test('an upstream that forgot its session (404) is re-initialized and the call retried', async () => {
  const { client } = await connect(mcpGw.gatewayUrl, dev);
  const r1 = await client.callTool({ name: 'up___upper', arguments: { text: 'a' } });
  assert.equal(r1.content[0].text, 'A');
  const before404 = up.stats.notFound;
  const inits = up.stats.initializes;
  up.forget();
  const r2 = await client.callTool({ name: 'up___upper', arguments: { text: 'b' } });
  assert.equal(r2.content[0].text, 'B');
  assert.ok(up.stats.notFound > before404, 'the upstream answered 404 once');
  assert.ok(up.stats.initializes > inits, 'and a new session was made');
  await client.close();
});

test('an unreachable endpoint fails the target with AgentCore status reasons', async () => {
  const port = await freePort();
  const t = await createServerTarget(mcpGw.gatewayId, 'dead', `http://127.0.0.1:${port}/mcp`);
  assert.equal(t.status, 'FAILED');
  assert.match(t.statusReasons[0], /^Failed to connect and fetch tools from the provided MCP target server\. Please check the server endpoint or tool capability support\./);
  // the gateway's other tools are still served
  const { client } = await connect(mcpGw.gatewayUrl, dev);
  const { tools: listed } = await listAll(client);
  assert.ok(listed.every((x) => !x.name.startsWith('dead___')));
  assert.ok(listed.some((x) => x.name === 'up___add'));
  await client.close();
});

test('a server that never answers fails its target after the step limit, and blocks no gateway meanwhile', async () => {
  const held = [];
  const hang = http.createServer((req) => { held.push(req); }); // reads, never answers
  await new Promise((r) => hang.listen(0, '127.0.0.1', r));
  try {
    const c = control(gw, A.root);
    const out = await c.send(new CreateGatewayTargetCommand({
      gatewayIdentifier: mcpGw.gatewayId, name: 'hang',
      targetConfiguration: { mcp: { mcpServer: { endpoint: `http://127.0.0.1:${hang.address().port}/mcp` } } },
    }));
    // the worker that finishes gateways and other targets is not held up by it
    const t0 = Date.now();
    await createGateway(gw, A);
    assert.ok(Date.now() - t0 < 5000, 'a new gateway became READY while the sync hung');
    const mid = await c.send(new GetGatewayTargetCommand({ gatewayIdentifier: mcpGw.gatewayId, targetId: out.targetId }));
    assert.equal(mid.status, 'CREATING');
    const t = await waitTarget(c, mcpGw.gatewayId, out.targetId, ['READY', 'FAILED'], 60000);
    assert.equal(t.status, 'FAILED');
    assert.match(t.statusReasons[0], /^Failed to connect and fetch tools .* did not answer initialize in time/);
  } finally {
    hang.closeAllConnections?.();
    hang.close();
  }
});

test('SynchronizeGatewayTargets picks up a tool added upstream', async () => {
  tools.push({ name: 'added_later', description: 'New', inputSchema: { type: 'object' } });
  const c = control(gw, A.root);
  const out = await c.send(new SynchronizeGatewayTargetsCommand({ gatewayIdentifier: mcpGw.gatewayId, targetIdList: [target.targetId] }));
  assert.equal(out.targets[0].status, 'SYNCHRONIZING');
  const t = await waitTarget(c, mcpGw.gatewayId, target.targetId);
  assert.equal(t.status, 'READY');
  assert.ok(t.lastSynchronizedAt > target.lastSynchronizedAt);
  const { client } = await connect(mcpGw.gatewayUrl, dev);
  const { tools: listed } = await listAll(client);
  assert.ok(listed.some((x) => x.name === 'up___added_later'));
  const r = await client.callTool({ name: 'up___added_later', arguments: {} });
  assert.equal(r.content[0].text, 'new tool added_later');
  await client.close();
});

test('DYNAMIC listing shows a change upstream without a sync', async () => {
  const dyn = await createServerTarget(mcpGw.gatewayId, 'live', up.url, { listingMode: 'DYNAMIC' });
  assert.equal(dyn.status, 'READY');
  tools.push({ name: 'live_only', description: 'Listed live', inputSchema: { type: 'object' } });
  const { client } = await connect(mcpGw.gatewayUrl, dev);
  const { tools: listed } = await listAll(client);
  assert.ok(listed.some((x) => x.name === 'live___live_only'), 'DYNAMIC target listed live');
  assert.ok(!listed.some((x) => x.name === 'up___live_only'), 'DEFAULT target from its cache');
  const r = await client.callTool({ name: 'live___live_only', arguments: {} });
  assert.equal(r.content[0].text, 'new tool live_only');
  await client.close();
});

test('control-plane refusals: plain http off loopback, mcpToolSchema, 3LO; Update keeps loopback http', async () => {
  const c = control(gw, A.root);
  const mk = (mcpServer, creds) => c.send(new CreateGatewayTargetCommand({
    gatewayIdentifier: mcpGw.gatewayId, name: `x${Math.random().toString(36).slice(2, 8)}`,
    targetConfiguration: { mcp: { mcpServer } },
    ...(creds ? { credentialProviderConfigurations: [creds] } : {}),
  }));
  await assert.rejects(mk({ endpoint: 'http://example.com/mcp' }), { name: 'ValidationException' });
  await assert.rejects(mk({ endpoint: 'ftp://127.0.0.1/mcp' }), { name: 'ValidationException' });
  await assert.rejects(mk({ endpoint: 'https://example.com/mcp', listingMode: 'SOMETIMES' }), { name: 'ValidationException' });
  await assert.rejects(mk({ endpoint: 'https://example.com/mcp', mcpToolSchema: { inlinePayload: '{"tools":[]}' } }),
    (e) => e.name === 'ValidationException' && /authorization code grant type/.test(e.message));
  await assert.rejects(mk({ endpoint: 'https://example.com/mcp' }, { credentialProviderType: 'GATEWAY_IAM_ROLE' }),
    (e) => e.name === 'ValidationException' && /IamCredentialProvider is required/.test(e.message));
  await assert.rejects(mk({ endpoint: 'https://example.com/mcp' }, {
    credentialProviderType: 'OAUTH',
    credentialProvider: { oauthCredentialProvider: { providerArn: `arn:aws:bedrock-agentcore:us-east-1:${A.id}:token-vault/default/oauth2credentialprovider/p`, scopes: [], grantType: 'AUTHORIZATION_CODE' } },
  }), (e) => e.name === 'ValidationException' && /three-legged OAuth/.test(e.message));
  // UpdateGatewayTarget keeps loopback http too
  const u = await c.send(new UpdateGatewayTargetCommand({
    gatewayIdentifier: mcpGw.gatewayId, targetId: target.targetId, name: 'up',
    targetConfiguration: { mcp: { mcpServer: { endpoint: up.url } } },
  }));
  assert.equal(u.status, 'UPDATING');
  assert.equal(u.targetConfiguration.mcp.mcpServer.endpoint, up.url);
  const t = await waitTarget(c, mcpGw.gatewayId, target.targetId);
  assert.equal(t.status, 'READY');
});
