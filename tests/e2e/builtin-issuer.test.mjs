// The built-in OAuth issuer (serve --oauth-issuer FILE): discovery documents, JWKS, the token
// endpoint (client_secret_basic and client_secret_post) with each of its error answers,
// `mcpgate token`, and `mcpgate issuer rotate-keys` while the server runs. Tokens are verified
// here with node:crypto against the JWKS the server serves. Then a CUSTOM_JWT gateway whose
// discoveryUrl is the built-in issuer, called with the MCP TypeScript SDK: with a bearer token
// from `mcpgate token`, and through the SDK's OAuth client-credentials flow, which discovers the
// issuer from the gateway's 401 and its protected-resource metadata.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { CreateGatewayTargetCommand, GetGatewayTargetCommand } from '@aws-sdk/client-bedrock-agentcore-control';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { control, createGateway, startMcpServer } from './lib/mcp.mjs';
import { binaryPath, startServer } from './lib/server.mjs';

const run = promisify(execFile);
const SECRET = 'agent-secret-0123456789';
const BOUND_SECRET = 'bound-secret-0123456789';
const CONFIG = {
  clients: [
    { clientId: 'agent', clientSecret: SECRET, scopes: ['mcp/invoke', 'mcp/read'] },
    { clientId: 'bound', clientSecret: BOUND_SECRET, scopes: ['tools'], audiences: ['https://gw.example/mcp'] },
  ],
  tokenLifetimeSeconds: 900,
};

const dir = mkdtempSync(path.join(os.tmpdir(), 'mcpgate-issuer-'));
const configFile = path.join(dir, 'issuer.json');
writeFileSync(configFile, JSON.stringify(CONFIG), { mode: 0o600 });

let gw;
let issuer;
let upstream; // the OpenAPI target's API
const seen = [];
before(async () => {
  gw = await startMcpServer({ args: ['--oauth-issuer', configFile] });
  // On PostgreSQL (MCPGATE_E2E_STORE=pg) the keys and the recorded URL are in the server's
  // database: mcpgate token and mcpgate issuer find it as an operator's would, in MCPGATE_STORE.
  if (gw.store) process.env.MCPGATE_STORE = gw.store;
  issuer = `${gw.endpoint}/_mcpgate/issuer`;
  upstream = await new Promise((resolve) => {
    const srv = http.createServer((req, res) => {
      seen.push({ url: req.url, authorization: req.headers.authorization });
      res.writeHead(req.url === '/whoami' ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(req.url === '/whoami' ? { ok: true } : { unexpected: req.url }));
    });
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
});
after(async () => {
  await gw?.stop();
  upstream?.close();
});

function b64urlJson(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

/** Verifies an ES256 compact JWS against a JWKS with node:crypto; returns {header, payload}. */
function verifyJws(token, jwks) {
  const [h, p, s] = token.split('.');
  const header = b64urlJson(h);
  assert.equal(header.alg, 'ES256');
  assert.equal(header.typ, 'at+jwt');
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, `kid ${header.kid} is in the JWKS`);
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const ok = verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' },
    Buffer.from(s, 'base64url'));
  assert.ok(ok, 'the signature verifies');
  return { header, payload: b64urlJson(p) };
}

async function jwks() {
  const r = await fetch(`${issuer}/jwks.json`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /application\/json/);
  return r.json();
}

async function tokenRequest(body, { basic, headers = {} } = {}) {
  const h = { 'content-type': 'application/x-www-form-urlencoded', ...headers };
  if (basic) h.authorization = `Basic ${Buffer.from(basic).toString('base64')}`;
  const r = await fetch(`${issuer}/token`, { method: 'POST', headers: h, body });
  return { status: r.status, headers: r.headers, body: await r.json() };
}

test('discovery: the OIDC and RFC 8414 documents and the JWKS', async () => {
  const urls = [
    `${issuer}/.well-known/openid-configuration`,
    `${gw.endpoint}/.well-known/oauth-authorization-server/_mcpgate/issuer`,
    `${gw.endpoint}/.well-known/openid-configuration/_mcpgate/issuer`,
  ];
  const docs = [];
  for (const u of urls) {
    const r = await fetch(u);
    assert.equal(r.status, 200, u);
    assert.match(r.headers.get('content-type'), /application\/json/);
    docs.push(await r.json());
  }
  assert.deepEqual(docs[1], docs[0]);
  assert.deepEqual(docs[2], docs[0]);
  const m = docs[0];
  assert.equal(m.issuer, issuer);
  assert.equal(m.token_endpoint, `${issuer}/token`);
  assert.equal(m.jwks_uri, `${issuer}/jwks.json`);
  assert.equal(m.authorization_endpoint, `${issuer}/authorize`);
  assert.deepEqual(m.grant_types_supported, ['client_credentials']);
  assert.deepEqual(m.token_endpoint_auth_methods_supported, ['client_secret_basic', 'client_secret_post']);
  assert.deepEqual(m.scopes_supported, ['mcp/invoke', 'mcp/read', 'tools']);
  assert.deepEqual(m.response_types_supported, []);
  assert.deepEqual(m.id_token_signing_alg_values_supported, ['ES256']);
  assert.deepEqual(m.subject_types_supported, ['public']);

  const set = await jwks();
  assert.equal(set.keys.length, 1);
  const k = set.keys[0];
  assert.deepEqual(Object.keys(k).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
  assert.equal(k.kty, 'EC');
  assert.equal(k.crv, 'P-256');
  assert.equal(k.alg, 'ES256');
  assert.equal(k.use, 'sig');
  assert.equal(k.d, undefined, 'no private part');
  // kid is the RFC 7638 thumbprint
  const thumb = createPublicKey({ key: k, format: 'jwk' }).export({ format: 'jwk' });
  const canon = JSON.stringify({ crv: thumb.crv, kty: thumb.kty, x: thumb.x, y: thumb.y });
  const { createHash } = await import('node:crypto');
  assert.equal(k.kid, createHash('sha256').update(canon).digest('base64url'));

  // the keys are in the store (shared by every node on it), not in a file of the data directory
  assert.ok(!existsSync(path.join(gw.dataDir, 'issuer', 'keys.json')));

  // other paths and methods of the issuer
  let r = await fetch(`${issuer}/nope`);
  assert.equal(r.status, 404);
  r = await fetch(`${issuer}/jwks.json`, { method: 'POST' });
  assert.equal(r.status, 405);
  assert.equal(r.headers.get('allow'), 'GET, HEAD');
  r = await fetch(`${issuer}/token`);
  assert.equal(r.status, 405);
  assert.equal(r.headers.get('allow'), 'POST');
  r = await fetch(`${issuer}/authorize?response_type=code`);
  assert.equal(r.status, 400);
  assert.equal((await r.json()).error, 'unsupported_response_type');
});

test('token endpoint: client_secret_basic and client_secret_post', async () => {
  const set = await jwks();
  const basic = await tokenRequest('grant_type=client_credentials&scope=mcp%2Fread&resource=' +
    encodeURIComponent(`${gw.endpoint}/gateways/g1/mcp`), { basic: `agent:${SECRET}` });
  assert.equal(basic.status, 200, JSON.stringify(basic.body));
  assert.equal(basic.headers.get('cache-control'), 'no-store');
  assert.equal(basic.body.token_type, 'Bearer');
  assert.equal(basic.body.expires_in, 900);
  assert.equal(basic.body.scope, 'mcp/read');
  const { header, payload } = verifyJws(basic.body.access_token, set);
  assert.equal(header.kid, set.keys[0].kid);
  assert.equal(payload.iss, issuer);
  assert.equal(payload.sub, 'agent');
  assert.equal(payload.client_id, 'agent');
  assert.equal(payload.aud, `${gw.endpoint}/gateways/g1/mcp`);
  assert.equal(payload.scope, 'mcp/read');
  assert.equal(payload.exp - payload.iat, 900);
  assert.equal(payload.nbf, payload.iat);
  assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 60);
  assert.match(payload.jti, /^[0-9a-f]{32}$/);

  const post = await tokenRequest(new URLSearchParams({
    grant_type: 'client_credentials', client_id: 'agent', client_secret: SECRET,
  }).toString());
  assert.equal(post.status, 200, JSON.stringify(post.body));
  const p2 = verifyJws(post.body.access_token, set).payload;
  assert.equal(p2.scope, 'mcp/invoke mcp/read', 'no scope asked: all the client has');
  assert.equal(p2.aud, undefined, 'no resource, no audiences list: no aud');
  assert.notEqual(p2.jti, payload.jti);

  // a client with an audiences list gets them; audience= picks one of them
  const bound = await tokenRequest('grant_type=client_credentials&audience=' +
    encodeURIComponent('https://gw.example/mcp'), { basic: `bound:${BOUND_SECRET}` });
  assert.equal(bound.status, 200, JSON.stringify(bound.body));
  assert.equal(verifyJws(bound.body.access_token, set).payload.aud, 'https://gw.example/mcp');
  assert.ok(!gw.stderr().includes(SECRET), 'the secret is never logged');
  assert.ok(!gw.stderr().includes(basic.body.access_token.split('.')[2]), 'nor the token');
});

test('token endpoint: each error answer', async () => {
  const cases = [
    { name: 'no grant_type', body: 'scope=mcp%2Fread', basic: `agent:${SECRET}`, status: 400, error: 'invalid_request' },
    { name: 'not a form', body: '{}', basic: `agent:${SECRET}`, headers: { 'content-type': 'application/json' }, status: 400, error: 'invalid_request' },
    { name: 'grant_type twice', body: 'grant_type=client_credentials&grant_type=client_credentials', basic: `agent:${SECRET}`, status: 400, error: 'invalid_request' },
    { name: 'two client auth methods', body: `grant_type=client_credentials&client_id=agent&client_secret=${SECRET}`, basic: `agent:${SECRET}`, status: 400, error: 'invalid_request' },
    { name: 'body too large', body: `grant_type=client_credentials&x=${'a'.repeat(20000)}`, basic: `agent:${SECRET}`, status: 400, error: 'invalid_request' },
    { name: 'password grant', body: 'grant_type=password&username=a&password=b', basic: `agent:${SECRET}`, status: 400, error: 'unsupported_grant_type' },
    { name: 'scope not granted', body: 'grant_type=client_credentials&scope=mcp%2Fread%20admin', basic: `agent:${SECRET}`, status: 400, error: 'invalid_scope' },
    { name: 'audience not allowed', body: 'grant_type=client_credentials&resource=https%3A%2F%2Fevil.example%2Fmcp', basic: `bound:${BOUND_SECRET}`, status: 400, error: 'invalid_target' },
    { name: 'no client authentication', body: 'grant_type=client_credentials', status: 401, error: 'invalid_client' },
    { name: 'wrong secret (basic)', body: 'grant_type=client_credentials', basic: 'agent:agent-secret-0123456780', status: 401, error: 'invalid_client' },
    { name: 'wrong secret (post)', body: 'grant_type=client_credentials&client_id=agent&client_secret=nope-nope-nope-nope', status: 401, error: 'invalid_client' },
    { name: 'unknown client', body: 'grant_type=client_credentials', basic: `stranger:${SECRET}`, status: 401, error: 'invalid_client' },
    { name: 'another scheme', body: 'grant_type=client_credentials', headers: { authorization: 'Bearer abc' }, status: 401, error: 'invalid_client' },
  ];
  for (const c of cases) {
    const r = await tokenRequest(c.body, { basic: c.basic, headers: c.headers });
    assert.equal(r.status, c.status, `${c.name}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error, c.error, c.name);
    assert.equal(typeof r.body.error_description, 'string', c.name);
    assert.equal(r.body.access_token, undefined, c.name);
    assert.equal(r.headers.get('cache-control'), 'no-store', c.name);
    assert.match(r.headers.get('content-type'), /application\/json/, c.name);
    if (c.status === 401) assert.match(r.headers.get('www-authenticate') ?? '', /^Basic /, c.name);
    else assert.equal(r.headers.get('www-authenticate'), null, c.name);
  }
  assert.ok(!gw.stderr().includes(SECRET), 'the secret is never logged');
});

test('mcpgate token: prints a token that verifies against the served JWKS', async () => {
  // FILE relative to the working directory, as serve's paths are
  const { stdout } = await run(binaryPath(), ['token', '--client', 'agent', '--scope', 'mcp/invoke',
    '--aud', 'https://gw.example/mcp', '--ttl', '120', '--data', gw.dataDir,
    '--oauth-issuer', 'issuer.json', '--port', String(gw.port)], { cwd: dir });
  const token = stdout.trim();
  assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  const { header, payload } = verifyJws(token, await jwks());
  assert.equal(header.kid, (await jwks()).keys[0].kid);
  assert.equal(payload.iss, issuer);
  assert.equal(payload.sub, 'agent');
  assert.equal(payload.client_id, 'agent');
  assert.equal(payload.scope, 'mcp/invoke');
  assert.equal(payload.aud, 'https://gw.example/mcp');
  assert.equal(payload.exp - payload.iat, 120);

  // without --port: the public URL the server recorded in its data directory
  const rec = await run(binaryPath(), ['token', '--client', 'agent', '--data', gw.dataDir,
    '--oauth-issuer', configFile]);
  const p2 = verifyJws(rec.stdout.trim(), await jwks()).payload;
  assert.equal(p2.iss, issuer);
  assert.equal(p2.scope, 'mcp/invoke mcp/read');
  assert.equal(p2.exp - p2.iat, 900, 'the file\'s token lifetime');

  // --public-url; without a file, the client and scopes are taken as given
  const pub = await run(binaryPath(), ['token', '--client', 'script', '--scope', 'a b',
    '--data', gw.dataDir, '--public-url', 'http://127.0.0.1:9/']);
  const p3 = verifyJws(pub.stdout.trim(), await jwks()).payload;
  assert.equal(p3.iss, 'http://127.0.0.1:9/_mcpgate/issuer');
  assert.equal(p3.scope, 'a b');

  const fails = [
    [['token', '--client', 'nobody', '--oauth-issuer', configFile], /no client 'nobody'/],
    [['token', '--client', 'agent', '--scope', 'admin', '--oauth-issuer', configFile], /scope "admin" is not granted to this client \(invalid_scope\)/],
    [['token', '--client', 'bound', '--aud', 'https://x.example', '--oauth-issuer', configFile], /invalid_target/],
    [['token', '--client', 'agent', '--ttl', '0'], /--ttl wants 1 to 86400/],
    [['token'], /--client is required/],
    [['token', '--client', 'a', '--port', '1', '--public-url', 'http://x'], /not both/],
  ];
  for (const [args, re] of fails) {
    const r = spawnSync(binaryPath(), [...args, '--data', gw.dataDir], { encoding: 'utf8' });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
  const help = spawnSync(binaryPath(), ['--help'], { encoding: 'utf8' });
  assert.match(help.stdout, /\n {2}token /);
  assert.match(help.stdout, /\n {2}issuer /);
  for (const [args, want] of [
    [['token', '--help'], /^usage: mcpgate token --client ID/],
    [['help', 'token'], /^usage: mcpgate token --client ID/],
    [['issuer', '--help'], /^usage: mcpgate issuer rotate-keys \[--data DIR\]/],
    [['issuer', 'rotate-keys', '--help'], /^usage: mcpgate issuer rotate-keys/],
    [['help', 'issuer'], /^usage: mcpgate issuer rotate-keys/],
  ]) {
    const r = spawnSync(binaryPath(), args, { encoding: 'utf8' });
    assert.equal(r.status, 0, args.join(' '));
    assert.match(r.stdout, want, args.join(' '));
  }
  const bare = spawnSync(binaryPath(), ['issuer'], { encoding: 'utf8' });
  assert.equal(bare.status, 2);
  assert.match(bare.stderr, /^usage: mcpgate issuer rotate-keys/);
  const unknown = spawnSync(binaryPath(), ['issuer', 'list'], { encoding: 'utf8' });
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown subcommand 'list'/);
});

test('rotate-keys while the server runs: new tokens get the new kid, old ones still verify', async () => {
  const before = await jwks();
  const oldKid = before.keys[0].kid;
  const old = await tokenRequest('grant_type=client_credentials', { basic: `agent:${SECRET}` });
  assert.equal(verifyJws(old.body.access_token, before).header.kid, oldKid);

  const { stdout } = await run(binaryPath(), ['issuer', 'rotate-keys', '--data', gw.dataDir]);
  const newKid = stdout.trim();
  assert.match(newKid, /^[\w-]{43}$/);
  assert.notEqual(newKid, oldKid);

  // the server reads the stored keys twice a second
  await new Promise((r) => setTimeout(r, 1200));
  const afterSet = await jwks();
  assert.deepEqual(afterSet.keys.map((k) => k.kid).slice(0, 2), [newKid, oldKid]);
  verifyJws(old.body.access_token, afterSet); // the old token's kid is still served
  const fresh = await tokenRequest('grant_type=client_credentials', { basic: `agent:${SECRET}` });
  assert.equal(verifyJws(fresh.body.access_token, afterSet).header.kid, newKid);
  const cli = await run(binaryPath(), ['token', '--client', 'agent', '--data', gw.dataDir,
    '--port', String(gw.port)]);
  assert.equal(verifyJws(cli.stdout.trim(), afterSet).header.kid, newKid);

  // at most three keys: two more rotations drop the oldest
  await run(binaryPath(), ['issuer', 'rotate-keys', '--data', gw.dataDir]);
  const third = (await run(binaryPath(), ['issuer', 'rotate-keys', '--data', gw.dataDir])).stdout.trim();
  await new Promise((r) => setTimeout(r, 1200));
  const last = await jwks();
  assert.equal(last.keys.length, 3);
  assert.equal(last.keys[0].kid, third);
  assert.ok(!last.keys.some((k) => k.kid === oldKid));
  assert.match(await gw.waitStderr(/issuer: keys reloaded/), /issuer: keys reloaded/);
});

test('serve refuses a bad issuer file, naming it; without the flag the issuer is off', async () => {
  const bad = path.join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ clients: [{ clientId: 'a', clientSecret: 'short-one' }] }));
  const r = spawnSync(binaryPath(), ['serve', '--listen', '127.0.0.1:0', '--data', path.join(dir, 'd2'),
    '--oauth-issuer', bad], { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`${bad.replace(/[.]/g, '\\.')}: clients\\[0\\]\\.clientSecret: must be at least 16 characters`));
  assert.ok(!r.stderr.includes('short-one'));

  const off = await startServer();
  try {
    const x = await fetch(`${off.endpoint}/_mcpgate/issuer/.well-known/openid-configuration`);
    assert.notEqual(x.status, 200);
    await x.body?.cancel();
    const help = spawnSync(binaryPath(), ['serve', '--help'], { encoding: 'utf8' });
    assert.match(help.stdout, /--oauth-issuer FILE/);
  } finally {
    await off.stop();
  }
});

// ---- a CUSTOM_JWT gateway whose discovery URL is the built-in issuer ---------------------------

function whoamiSpec(port) {
  return JSON.stringify({
    openapi: '3.0.3',
    info: { title: 'Who', version: '1' },
    servers: [{ url: `http://127.0.0.1:${port}` }],
    paths: { '/whoami': { get: { operationId: 'whoami', description: 'Says who called', responses: { 200: { description: 'ok' } } } } },
  });
}

/** A READY CUSTOM_JWT gateway with the whoami OpenAPI target; returns CreateGateway's output. */
async function issuerGateway(authorizer) {
  const A = gw.accounts[0];
  const g = await createGateway(gw, A, {
    authorizerType: 'CUSTOM_JWT',
    authorizerConfiguration: {
      customJWTAuthorizer: { discoveryUrl: `${issuer}/.well-known/openid-configuration`, ...authorizer },
    },
  });
  const c = control(gw, A.root);
  const t = await c.send(new CreateGatewayTargetCommand({
    gatewayIdentifier: g.gatewayId, name: 'api',
    targetConfiguration: { mcp: { openApiSchema: { inlinePayload: whoamiSpec(upstream.address().port) } } },
  }));
  for (let i = 0; i < 300; i++) {
    const s = (await c.send(new GetGatewayTargetCommand({ gatewayIdentifier: g.gatewayId, targetId: t.targetId }))).status;
    if (s === 'READY') return g;
    if (s === 'FAILED') throw new Error('target FAILED');
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('target not READY');
}

/** tools/list and tools/call whoami through an SDK client; the caller's token never reaches the target. */
async function listAndCall(client) {
  const { tools } = await client.listTools();
  assert.ok(tools.some((t) => t.name === 'api___whoami'), tools.map((t) => t.name).join(','));
  const before = seen.length;
  const r = await client.callTool({ name: 'api___whoami', arguments: {} });
  assert.equal(r.isError, false, JSON.stringify(r));
  assert.deepEqual(JSON.parse(r.content[0].text), { ok: true });
  assert.equal(seen.length, before + 1);
  assert.equal(seen.at(-1).authorization, undefined);
}

async function cliToken(args) {
  const { stdout } = await run(binaryPath(), ['token', '--data', gw.dataDir, '--port', String(gw.port), ...args]);
  return stdout.trim();
}

async function initialize(url, token) {
  const r = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json', accept: 'application/json, text/event-stream',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'issuer-e2e', version: '0' } } }),
  });
  return { status: r.status, headers: r.headers, body: await r.text() };
}

let jwtGw;

test('CUSTOM_JWT gateway on the built-in issuer: the MCP SDK with a token from mcpgate token', async () => {
  jwtGw = await issuerGateway({ allowedClients: ['agent'], allowedScopes: ['mcp/invoke'] });
  const token = await cliToken(['--client', 'agent', '--oauth-issuer', configFile, '--aud', jwtGw.gatewayUrl]);
  const transport = new StreamableHTTPClientTransport(new URL(jwtGw.gatewayUrl),
    { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  const client = new Client({ name: 'issuer-e2e', version: '1.0.0' });
  await client.connect(transport);
  try {
    await listAndCall(client);
  } finally {
    await client.close();
  }

  // the gateway's rules apply to the built-in issuer's tokens like to any other's
  const other = await cliToken(['--client', 'bound', '--oauth-issuer', configFile]);
  let r = await initialize(jwtGw.gatewayUrl, other);
  assert.equal(r.status, 401, r.body);
  assert.match(r.headers.get('www-authenticate'), /error_description="client not allowed"/);
  const noScope = await cliToken(['--client', 'agent', '--oauth-issuer', configFile, '--scope', 'mcp/read']);
  r = await initialize(jwtGw.gatewayUrl, noScope);
  assert.equal(r.status, 403, r.body);
  // a token of the same keys under another issuer URL is refused
  const elsewhere = (await run(binaryPath(), ['token', '--client', 'agent', '--data', gw.dataDir,
    '--public-url', 'http://127.0.0.1:9'])).stdout.trim();
  r = await initialize(jwtGw.gatewayUrl, elsewhere);
  assert.equal(r.status, 401, r.body);
  assert.match(r.headers.get('www-authenticate'), /error_description="invalid token issuer"/);

  // the 401 without a token points at the metadata that names this issuer
  r = await initialize(jwtGw.gatewayUrl);
  assert.equal(r.status, 401);
  const prm = /resource_metadata="([^"]+)"/.exec(r.headers.get('www-authenticate'))[1];
  const doc = await (await fetch(prm)).json();
  assert.deepEqual(doc.authorization_servers, [issuer]);
  assert.equal(doc.resource, jwtGw.gatewayUrl);
});

test('the SDK OAuth client-credentials flow discovers the built-in issuer from the 401', async () => {
  assert.ok(jwtGw, 'the gateway of the previous test');
  const authProvider = new ClientCredentialsProvider({
    clientId: 'agent', clientSecret: SECRET, expectedIssuer: issuer, scope: 'mcp/invoke',
  });
  const issuedBefore = (gw.stderr().match(/issuer: token for client agent/g) ?? []).length;
  const transport = new StreamableHTTPClientTransport(new URL(jwtGw.gatewayUrl), { authProvider });
  const client = new Client({ name: 'issuer-e2e-oauth', version: '1.0.0' });
  try {
    await client.connect(transport);
    await listAndCall(client);
  } finally {
    await client.close();
  }
  const issued = (t) => (t.match(/issuer: token for client agent/g) ?? []).length;
  const issuedAfter = issued(await gw.waitStderr((t) => issued(t) > issuedBefore));
  assert.equal(issuedAfter, issuedBefore + 1, 'one token from the built-in token endpoint');
  const tokens = authProvider.tokens();
  assert.equal(tokens.token_type, 'Bearer');
  const { payload } = verifyJws(tokens.access_token, await jwks());
  assert.equal(payload.iss, issuer);
  assert.equal(payload.client_id, 'agent');
  assert.equal(payload.scope, 'mcp/invoke');
  assert.equal(payload.aud, jwtGw.gatewayUrl, 'the RFC 8707 resource the SDK sent');
  assert.ok(!gw.stderr().includes(SECRET), 'the secret is never logged');
  assert.ok(!gw.stderr().includes(tokens.access_token.split('.')[2]), 'nor the token');
});

test('the gateway follows a key rotation at the built-in issuer without a restart', async () => {
  assert.ok(jwtGw, 'the gateway of the previous tests');
  const old = await cliToken(['--client', 'agent', '--oauth-issuer', configFile]);
  assert.equal((await initialize(jwtGw.gatewayUrl, old)).status, 200);
  const { stdout } = await run(binaryPath(), ['issuer', 'rotate-keys', '--data', gw.dataDir]);
  const newKid = stdout.trim();
  await new Promise((r) => setTimeout(r, 1200));
  const fresh = await cliToken(['--client', 'agent', '--oauth-issuer', configFile]);
  assert.equal(b64urlJson(fresh.split('.')[0]).kid, newKid);
  // an unknown kid makes the gateway fetch the JWKS again
  let r = await initialize(jwtGw.gatewayUrl, fresh);
  assert.equal(r.status, 200, r.body);
  r = await initialize(jwtGw.gatewayUrl, old);
  assert.equal(r.status, 200, 'the previous key is still in the JWKS');
});
