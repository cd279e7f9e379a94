// The MCP data plane with the MCP TypeScript SDK and a SigV4-signing fetch: initialize, tools/list
// across several pages, tools/call of a Lambda target, the search tool, ending the session; for
// each protocol version the gateway speaks.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  connect, createEchoFunction, createGateway, createLambdaTarget, listAll, startMcpServer,
} from './lib/mcp.mjs';

let gw;
let A;
let dev;
let fnArn;
let sessGw;   // sessionConfiguration, exceptionLevel DEBUG, 2 targets, 7 tools
let plainGw;  // no sessionConfiguration
let searchGw; // searchType SEMANTIC
let denyGw;   // role without lambda:InvokeFunction, DEBUG

const TOOLS = [
  { name: 'echo', description: 'Echo the arguments back', inputSchema: { type: 'object', properties: { message: { type: 'string' }, count: { type: 'integer' } }, required: ['message'] } },
  { name: 'weather_lookup', description: 'Current weather for a city', inputSchema: { type: 'object', properties: { city: { type: 'string' }, units: { type: 'string', enum: ['metric', 'imperial'] } }, required: ['city'] } },
  { name: 'stock_price', description: 'Latest stock price for a ticker symbol', inputSchema: { type: 'object', properties: { ticker: { type: 'string' } }, required: ['ticker'] } },
  { name: 'fail', description: 'Always raises', inputSchema: { type: 'object', properties: { fail: { type: 'boolean' } } } },
];
const MORE = [
  { name: 'translate_text', description: 'Translate text to another language', inputSchema: { type: 'object', properties: { text: { type: 'string' }, target_language: { type: 'string' } }, required: ['text'] } },
  { name: 'send_email', description: 'Send an email message', inputSchema: { type: 'object', properties: { to: { type: 'string' }, subject: { type: 'string' } }, required: ['to'] } },
  { name: 'calendar_events', description: 'List calendar events for a day', inputSchema: { type: 'object', properties: { date: { type: 'string' } } } },
];

before(async () => {
  gw = await startMcpServer({ args: ['--tools-page-size', '2'] });
  A = gw.accounts[0];
  A.users.dev.inlinePolicies = {};
  dev = { accessKeyId: A.root.accessKeyId, secretAccessKey: A.root.secretAccessKey };
  fnArn = await createEchoFunction(gw, A);
  sessGw = await createGateway(gw, A, {
    exceptionLevel: 'DEBUG',
    protocolConfiguration: { mcp: { sessionConfiguration: { sessionTimeoutInSeconds: 900 } } },
  });
  await createLambdaTarget(gw, A, sessGw.gatewayId, 'tools', fnArn, TOOLS);
  await createLambdaTarget(gw, A, sessGw.gatewayId, 'more', fnArn, MORE);
  plainGw = await createGateway(gw, A);
  await createLambdaTarget(gw, A, plainGw.gatewayId, 'tools', fnArn, TOOLS);
  searchGw = await createGateway(gw, A, { protocolConfiguration: { mcp: { searchType: 'SEMANTIC' } } });
  await createLambdaTarget(gw, A, searchGw.gatewayId, 'tools', fnArn, TOOLS);
  await createLambdaTarget(gw, A, searchGw.gatewayId, 'more', fnArn, MORE);
  denyGw = await createGateway(gw, A, { exceptionLevel: 'DEBUG', roleArn: `arn:aws:iam::${A.id}:role/NoInvokeRole` });
  await createLambdaTarget(gw, A, denyGw.gatewayId, 'tools', fnArn, TOOLS);
});

after(async () => {
  await gw?.stop();
});

for (const version of ['2025-03-26', '2025-06-18', '2025-11-25']) {
  test(`initialize, list across pages, call, end the session (${version})`, async () => {
    const { client, transport } = await connect(sessGw.gatewayUrl, dev, { protocolVersion: version });
    assert.equal(transport.protocolVersion ?? version, version);
    assert.ok(transport.sessionId, 'a session id');
    const info = client.getServerVersion();
    assert.equal(info.name, 'agentcore-gateway');
    assert.ok(client.getServerCapabilities().tools);

    const { tools, pages } = await listAll(client);
    assert.equal(tools.length, 7);
    assert.ok(pages >= 4, `several pages (${pages})`);
    const names = tools.map((t) => t.name).sort();
    assert.deepEqual(names, [...TOOLS.map((t) => `tools___${t.name}`), ...MORE.map((t) => `more___${t.name}`)].sort());
    for (const t of tools) assert.equal(t.inputSchema.type, 'object');

    const r = await client.callTool({ name: 'tools___echo', arguments: { message: 'hi', count: 2 } });
    assert.equal(r.isError, false);
    const body = JSON.parse(r.content[0].text);
    assert.deepEqual(body.event, { message: 'hi', count: 2 });

    await transport.terminateSession();
    assert.equal(transport.sessionId, undefined);
    await client.close();
  });
}

test('the Lambda sees the arguments as the event and client_context.custom as AgentCore fills it', async () => {
  const { client, transport } = await connect(plainGw.gatewayUrl, dev);
  assert.equal(transport.sessionId, undefined, 'no session without sessionConfiguration');
  const r = await client.callTool({ name: 'tools___echo', arguments: { message: 'x' } });
  const body = JSON.parse(r.content[0].text);
  assert.deepEqual(body.event, { message: 'x' });
  const c = body.custom;
  assert.equal(c.bedrockAgentCoreToolName, 'tools___echo');
  assert.equal(c.bedrockAgentCoreGatewayId, plainGw.gatewayId);
  assert.match(c.bedrockAgentCoreTargetId, /^[0-9A-Z]{10}$/);
  assert.equal(c.bedrockAgentCoreMessageVersion, '1.0');
  assert.match(c.bedrockAgentCoreAwsRequestId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.match(c.bedrockAgentCoreMcpMessageId, /^\d+$/);
  await client.close();
});

test('invalid arguments and unknown tools are JSON-RPC -32602 errors', async () => {
  const { client } = await connect(plainGw.gatewayUrl, dev);
  await assert.rejects(client.callTool({ name: 'tools___echo', arguments: { count: 1 } }), /-32602/);
  await assert.rejects(client.callTool({ name: 'tools___echo', arguments: { message: 1 } }), /-32602/);
  await assert.rejects(client.callTool({ name: 'tools___echo', arguments: { message: 'x', count: 1.5 } }), /-32602/);
  await assert.rejects(client.callTool({ name: 'tools___weather_lookup', arguments: {} }), /-32602/);
  await assert.rejects(client.callTool({ name: 'tools___nope', arguments: {} }), /-32602/);
  await client.close();
});

test('a function error is isError with the generic text, or the detail under DEBUG', async () => {
  let { client } = await connect(plainGw.gatewayUrl, dev);
  let r = await client.callTool({ name: 'tools___fail', arguments: { fail: true } });
  assert.equal(r.isError, true);
  assert.equal(r.content[0].text, 'An internal error occurred. Please retry later.');
  assert.equal(r._meta?.debug, undefined);
  await client.close();
  ({ client } = await connect(sessGw.gatewayUrl, dev));
  r = await client.callTool({ name: 'tools___fail', arguments: { fail: true } });
  assert.equal(r.isError, true);
  assert.match(r.content[0].text, /asked to fail/);
  assert.equal(r._meta.debug.type, 'text');
  await client.close();
});

test('a gateway role without lambda:InvokeFunction gives isError with the access-denied detail', async () => {
  const { client } = await connect(denyGw.gatewayUrl, dev);
  const r = await client.callTool({ name: 'tools___echo', arguments: { message: 'x' } });
  assert.equal(r.isError, true);
  assert.match(r.content[0].text, /^Access denied while invoking Lambda function arn:aws:lambda:/);
  assert.match(r._meta.debug.text, /Access denied/);
  await client.close();
});

test('SEMANTIC gateways list the search tool first and rank tools with it', async () => {
  const { client } = await connect(searchGw.gatewayUrl, dev);
  const { tools } = await listAll(client);
  assert.equal(tools[0].name, 'x_amz_bedrock_agentcore_search');
  assert.equal(tools.length, 8);
  const r = await client.callTool({ name: 'x_amz_bedrock_agentcore_search', arguments: { query: 'what is the weather in Paris' } });
  assert.equal(r.isError, false);
  assert.equal(r.structuredContent.tools[0].name, 'tools___weather_lookup');
  assert.deepEqual(JSON.parse(r.content[0].text), r.structuredContent);
  const r2 = await client.callTool({ name: 'x_amz_bedrock_agentcore_search', arguments: { query: 'email' } });
  assert.equal(r2.structuredContent.tools[0].name, 'more___send_email');
  await client.close();
});

test('a stale cursor answers -32602 Invalid cursor', async () => {
  const { client } = await connect(plainGw.gatewayUrl, dev);
  await assert.rejects(client.listTools({ cursor: 'bm9wZQ' }), /Invalid cursor/);
  await client.close();
});
