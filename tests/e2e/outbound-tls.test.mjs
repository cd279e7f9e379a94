// Outbound TLS with operator CA bundles (mcpgate serve --outbound-ca FILE | HOST=FILE): bad
// bundles stop the server at start with a message naming the file; an upstream on https with a
// certificate from a CA the test makes (openssl command; skipped without it), as an MCP server
// and as an OpenAPI API: without the bundle its MCP-server target fails and OpenAPI tools/call
// fails; with the bundle for its host or for every host the target is READY and tools/call of
// both kinds goes through; a host's bundle is not used for another host name.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { CreateGatewayTargetCommand, GetGatewayTargetCommand } from '@aws-sdk/client-bedrock-agentcore-control';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { connect, control, createGateway, listAll, startMcpServer } from './lib/mcp.mjs';
import { binaryPath } from './lib/server.mjs';

const dir = mkdtempSync(path.join(os.tmpdir(), 'mcpgate-outbound-tls-'));
const file = (n) => path.join(dir, n);
const haveOpenssl = spawnSync('openssl', ['version'], { encoding: 'utf8' }).status === 0;
const SYSTEM_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

function openssl(args) {
  const r = spawnSync('openssl', args, { encoding: 'utf8', cwd: dir });
  assert.equal(r.status, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
}

/** A CA (ca.pem) and a server certificate it signed for localhost and 127.0.0.1 (srv.pem). */
function makeCerts() {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(['req', '-x509', ...ec, '-days', '1', '-subj', '/CN=mcpgate e2e CA', '-keyout', 'ca.key',
    '-out', 'ca.pem', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  openssl(['req', ...ec, '-subj', '/CN=localhost', '-keyout', 'srv.key', '-out', 'srv.csr']);
  writeFileSync(file('srv.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' +
    'basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n');
  openssl(['x509', '-req', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-days', '1', '-extfile', 'srv.ext', '-out', 'srv.pem']);
}

/** An https server (127.0.0.1): an MCP server with one tool, add, at /mcp; GET /hello answers
 * JSON (the OpenAPI operation hello). */
function startHttpsMcp() {
  const sessions = new Map();
  const makeServer = () => {
    const s = new Server({ name: 'tls-upstream', version: '1.0.0' }, { capabilities: { tools: {} } });
    s.setRequestHandler(ListToolsRequestSchema, async () => ({
      tools: [{ name: 'add', description: 'Adds two numbers',
        inputSchema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } } } }],
    }));
    s.setRequestHandler(CallToolRequestSchema, async (req) => {
      const { a, b } = req.params.arguments ?? {};
      return { content: [{ type: 'text', text: String(a + b) }] };
    });
    return s;
  };
  const srv = https.createServer({ key: readFileSync(file('srv.key')), cert: readFileSync(file('srv.pem')) },
    async (req, res) => {
      if (req.method === 'GET' && req.url.startsWith('/hello')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ greeting: 'hello over TLS', name: new URL(req.url, 'https://x').searchParams.get('name') }));
        return;
      }
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
      const sid = req.headers['mcp-session-id'];
      if (sid && sessions.has(sid)) {
        await sessions.get(sid).handleRequest(req, res, body);
        return;
      }
      const t = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => sessions.set(id, t),
      });
      await makeServer().connect(t);
      await t.handleRequest(req, res, body);
    });
  return new Promise((resolve) => {
    srv.listen(0, '127.0.0.1', () => resolve({
      port: srv.address().port,
      close: () => new Promise((r) => { srv.closeAllConnections?.(); srv.close(r); }),
    }));
  });
}

/** Runs `mcpgate serve` that is expected to refuse to start: {status, stderr}. */
function serveFails(extra) {
  const data = mkdtempSync(path.join(dir, 'data-'));
  const r = spawnSync(binaryPath(), ['serve', '--listen', '127.0.0.1:0', '--data', data, ...extra],
    { encoding: 'utf8', timeout: 15000 });
  return { status: r.status, stderr: r.stderr };
}

async function waitTarget(c, gatewayId, targetId, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    const t = await c.send(new GetGatewayTargetCommand({ gatewayIdentifier: gatewayId, targetId }));
    if (['READY', 'FAILED'].includes(t.status)) return t;
    if (Date.now() > end) throw new Error(`target still ${t.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts a gateway process with args, creates an MCP-server target at endpoint, runs fn. */
async function withTarget(args, endpoint, fn) {
  const gw = await startMcpServer({ args });
  try {
    const A = gw.accounts[0];
    const g = await createGateway(gw, A, { exceptionLevel: 'DEBUG' });
    const c = control(gw, A.root);
    const out = await c.send(new CreateGatewayTargetCommand({
      gatewayIdentifier: g.gatewayId, name: 'tls',
      targetConfiguration: { mcp: { mcpServer: { endpoint } } },
    }));
    const t = await waitTarget(c, g.gatewayId, out.targetId);
    await fn({ gw, g, t, key: { accessKeyId: A.root.accessKeyId, secretAccessKey: A.root.secretAccessKey } });
  } finally {
    await gw.stop();
  }
}

/** Makes an OpenAPI target for GET https://HOST:port/hello in g and calls its tool: the result. */
async function openApiCall(gw, g, key, host) {
  const doc = {
    openapi: '3.0.3', info: { title: 'Hello', version: '1' },
    servers: [{ url: `https://${host}:${up.port}` }],
    paths: { '/hello': { get: {
      operationId: 'hello', description: 'Says hello',
      parameters: [{ name: 'name', in: 'query', required: true, schema: { type: 'string' } }],
      responses: { 200: { description: 'ok' } },
    } } },
  };
  const c = control(gw, gw.accounts[0].root);
  const out = await c.send(new CreateGatewayTargetCommand({
    gatewayIdentifier: g.gatewayId, name: 'api',
    targetConfiguration: { mcp: { openApiSchema: { inlinePayload: JSON.stringify(doc) } } },
  }));
  const t = await waitTarget(c, g.gatewayId, out.targetId);
  assert.equal(t.status, 'READY', JSON.stringify(t.statusReasons));
  const { client } = await connect(g.gatewayUrl, key);
  try {
    await listAll(client);
    return await client.callTool({ name: 'api___hello', arguments: { name: 'tls' } });
  } catch (e) {
    return { error: e };
  } finally {
    await client.close();
  }
}

let up;

before(async () => {
  if (!haveOpenssl) return;
  makeCerts();
  up = await startHttpsMcp();
});

after(async () => {
  await up?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a bad --outbound-ca stops the server at start, naming the file', () => {
  writeFileSync(file('empty.pem'), 'no certificate in here\n');
  writeFileSync(file('bad.pem'), '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n');
  const missing = file('missing.pem');
  const cases = [
    [[missing], 1, `outbound CA bundle ${missing}: cannot read it: No such file or directory`],
    [[`api.example.com=${missing}`], 1, `outbound CA bundle ${missing}: cannot read it`],
    [[file('empty.pem')], 1, `outbound CA bundle ${file('empty.pem')}: no PEM certificate in it`],
    [[file('bad.pem')], 1, `outbound CA bundle ${file('bad.pem')}: certificate 1 is malformed`],
    [[dir], 1, `outbound CA bundle ${dir}: not a regular file`],
    [[`bad host=${file('bad.pem')}`], 1, 'is not a host name'],
    [['=x.pem'], 2, '--outbound-ca wants FILE or HOST=FILE'],
    [['localhost='], 2, '--outbound-ca wants FILE or HOST=FILE'],
  ];
  for (const [vals, status, msg] of cases) {
    const r = serveFails(vals.flatMap((v) => ['--outbound-ca', v]));
    assert.equal(r.status, status, `${vals}: ${r.stderr}`);
    assert.ok(r.stderr.includes(msg), `${vals}: wanted '${msg}' in:\n${r.stderr}`);
    assert.ok(!/listening on/.test(r.stderr), 'never listened');
  }
  const help = spawnSync(binaryPath(), ['serve', '--help'], { encoding: 'utf8' });
  assert.match(help.stdout, /--outbound-ca FILE/);
  assert.match(help.stdout, /--outbound-ca HOST=FILE/);
});

test('without a bundle, an https MCP server signed by an unknown CA fails its target', { skip: !haveOpenssl && 'no openssl command' }, async () => {
  await withTarget([], `https://localhost:${up.port}/mcp`, async ({ gw, g, t, key }) => {
    const r = await openApiCall(gw, g, key, 'localhost');
    const text = r.error ? r.error.message : JSON.stringify(r);
    assert.ok(r.error || r.isError, text);
    assert.doesNotMatch(text, /hello over TLS/);
    assert.match(text, /certificate problem: unable to get local issuer certificate/);
    assert.equal(t.status, 'FAILED');
    assert.match(t.statusReasons.join(' '), /^Failed to connect and fetch tools/);
    assert.match(t.statusReasons.join(' '), /certificate problem: unable to get local issuer certificate/);
  });
});

test('--outbound-ca localhost=CA: the target is READY and tools/call goes through TLS', { skip: !haveOpenssl && 'no openssl command' }, async () => {
  await withTarget(['--outbound-ca', `localhost=${file('ca.pem')}`], `https://localhost:${up.port}/mcp`,
    async ({ gw, g, t, key }) => {
      assert.equal(t.status, 'READY', JSON.stringify(t.statusReasons));
      const { client } = await connect(g.gatewayUrl, key);
      const { tools } = await listAll(client);
      assert.ok(tools.some((x) => x.name === 'tls___add'));
      const r = await client.callTool({ name: 'tls___add', arguments: { a: 20, b: 22 } });
      assert.deepEqual(r.content, [{ type: 'text', text: '42' }]);
      await client.close();
      // an OpenAPI operation on the same host
      const o = await openApiCall(gw, g, key, 'localhost');
      assert.ok(!o.error && !o.isError, JSON.stringify(o.error?.message ?? o));
      assert.deepEqual(JSON.parse(o.content[0].text), { greeting: 'hello over TLS', name: 'tls' });
      // the bundle is added to the system store, not put in its place
      const m = gw.stderr().match(/outbound TLS for localhost: the system store \((\d+) CA certificates\) and 1 from/);
      assert.ok(m, gw.stderr());
      if (existsSync(SYSTEM_BUNDLE)) assert.ok(Number(m[1]) > 0, 'system CAs loaded');
    });
});

test('a host\'s bundle is not used for another host name (127.0.0.1, also in the certificate)', { skip: !haveOpenssl && 'no openssl command' }, async () => {
  await withTarget(['--outbound-ca', `localhost=${file('ca.pem')}`], `https://127.0.0.1:${up.port}/mcp`,
    async ({ t }) => {
      assert.equal(t.status, 'FAILED');
      assert.match(t.statusReasons.join(' '), /unable to get local issuer certificate/);
    });
});

test('--outbound-ca CA (every host) serves 127.0.0.1 as well', { skip: !haveOpenssl && 'no openssl command' }, async () => {
  await withTarget(['--outbound-ca', file('ca.pem')], `https://127.0.0.1:${up.port}/mcp`,
    async ({ g, t, key }) => {
      assert.equal(t.status, 'READY', JSON.stringify(t.statusReasons));
      const { client } = await connect(g.gatewayUrl, key);
      await listAll(client);
      const r = await client.callTool({ name: 'tls___add', arguments: { a: 1, b: 2 } });
      assert.equal(r.content[0].text, '3');
      await client.close();
    });
});
