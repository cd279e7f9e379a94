// MCP-server targets with outbound credentials, end to end: upstream MCP servers
// (@modelcontextprotocol/sdk on node http servers on loopback) that check what the gateway
// sends, credential providers and targets made with @aws-sdk/client-bedrock-agentcore-control,
// tools called through the MCP SDK signed with SigV4.
//   API_KEY           the upstream wants `x-api-key: KEY` (401 otherwise): READY and called; the
//                     provider's key changed to a wrong one: the call fails (isError) and
//                     SynchronizeGatewayTargets ends SYNCHRONIZE_UNSUCCESSFUL with a reason;
//   OAUTH             the upstream wants a Bearer token from a client-credentials token endpoint
//                     the test runs (counting what it issues): one token for several calls, a
//                     short-lived token (expires_in 62: cached until a minute before) fetched
//                     again once expired, a revoked token (one 401) fetched again once, a wrong
//                     client secret failing the synchronization with the endpoint's error code;
//   GATEWAY_IAM_ROLE  gateway A's MCP-server target is gateway B of the same server (AWS_IAM):
//                     A's role (made with the IAM API) may bedrock-agentcore:InvokeGateway on B,
//                     B's OpenAPI tool is listed through A and called through it; without the
//                     permission, B answers 403 and the synchronization fails.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  CreateApiKeyCredentialProviderCommand, CreateGatewayTargetCommand,
  CreateOauth2CredentialProviderCommand, GetGatewayTargetCommand,
  SynchronizeGatewayTargetsCommand, UpdateApiKeyCredentialProviderCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import {
  CreateRoleCommand, DeleteRolePolicyCommand, IAMClient, PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { REGION, connect, control, createGateway, listAll, startMcpServer } from './lib/mcp.mjs';

const API_KEY = 'upstream-key-7d3a91c4';
const WRONG_KEY = 'wrong-key-0b55e2';
const CLIENT = { id: 'mcp-client', secret: 'client-secret-61f0aa93' };
const WRONG_SECRET = 'not-the-secret-4c2e77';

/** An MCP server on loopback with tools `echo` (answers its `text`) and `whoami`; `gate(req,
 *  res)` may answer first (true when it did). Records every request's url and headers. */
function startUpstream(gate) {
  const sessions = new Map();
  const seen = [];
  const makeServer = () => {
    const s = new Server({ name: 'upstream', version: '1.0.0' }, { capabilities: { tools: {} } });
    s.setRequestHandler(ListToolsRequestSchema, async () => ({
      tools: [
        { name: 'echo', description: 'Echoes text', inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] } },
        { name: 'whoami', description: 'Says hello', inputSchema: { type: 'object' } },
      ],
    }));
    s.setRequestHandler(CallToolRequestSchema, async (r) => ({
      content: [{ type: 'text', text: r.params.name === 'echo' ? `echo:${r.params.arguments.text}` : 'upstream' }],
    }));
    return s;
  };
  const srv = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    seen.push({ method: req.method, url: req.url, headers: req.headers });
    if (gate(req, res)) return;
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
    const sid = req.headers['mcp-session-id'];
    let t = sid ? sessions.get(sid) : undefined;
    if (sid && !t) {
      res.writeHead(404).end();
      return;
    }
    if (!t) {
      t = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => sessions.set(id, t),
      });
      await makeServer().connect(t);
    }
    await t.handleRequest(req, res, body);
  });
  return new Promise((resolve) => {
    srv.listen(0, '127.0.0.1', () => resolve({
      url: `http://127.0.0.1:${srv.address().port}/mcp`,
      seen,
      close: () => new Promise((r) => { srv.closeAllConnections?.(); srv.close(r); }),
    }));
  });
}

const unauthorized = (res) => {
  res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer error="invalid_token"' })
    .end('{"error":"unauthorized"}');
  return true;
};

let gw;
let A;
let caller;
let ctl;

async function waitTarget(gatewayId, targetId, ms = 60000) {
  const end = Date.now() + ms;
  for (;;) {
    const t = await ctl.send(new GetGatewayTargetCommand({ gatewayIdentifier: gatewayId, targetId }));
    if (!['CREATING', 'UPDATING', 'SYNCHRONIZING'].includes(t.status)) return t;
    if (Date.now() > end) throw new Error(`target still ${t.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function serverTarget(gatewayId, name, endpoint, creds) {
  const out = await ctl.send(new CreateGatewayTargetCommand({
    gatewayIdentifier: gatewayId, name,
    targetConfiguration: { mcp: { mcpServer: { endpoint } } },
    ...(creds ? { credentialProviderConfigurations: [creds] } : {}),
  }));
  assert.equal(out.status, 'CREATING');
  return waitTarget(gatewayId, out.targetId);
}

async function synchronize(gatewayId, targetId) {
  const out = await ctl.send(new SynchronizeGatewayTargetsCommand({ gatewayIdentifier: gatewayId, targetIdList: [targetId] }));
  assert.equal(out.targets.length, 1);
  assert.equal(out.targets[0].status, 'SYNCHRONIZING');
  return waitTarget(gatewayId, targetId);
}

/** Names the gateway lists, through a fresh MCP session. */
async function toolNames(gatewayUrl) {
  const { client } = await connect(gatewayUrl, caller);
  try {
    return (await listAll(client)).tools.map((t) => t.name).sort();
  } finally {
    await client.close();
  }
}

function assertNoSecrets(...secrets) {
  const log = gw.stderr();
  for (const s of secrets) assert.ok(!log.includes(s), `${s.slice(0, 6)}... is never logged`);
}

before(async () => {
  gw = await startMcpServer();
  A = gw.accounts[0];
  caller = { accessKeyId: A.root.accessKeyId, secretAccessKey: A.root.secretAccessKey };
  ctl = control(gw, A.root);
});

after(async () => {
  await gw?.stop();
});

describe('API_KEY: an upstream that wants x-api-key', () => {
  let up;
  let g;
  let provider;
  let target;

  before(async () => {
    up = await startUpstream((req, res) => (req.headers['x-api-key'] === API_KEY ? false : unauthorized(res)));
    g = await createGateway(gw, A, { exceptionLevel: 'DEBUG' });
    provider = await ctl.send(new CreateApiKeyCredentialProviderCommand({ name: 'upstream-key', apiKey: API_KEY }));
    assert.match(provider.credentialProviderArn, /:token-vault\/default\/apikeycredentialprovider\/upstream-key$/);
  });
  after(async () => { await up?.close(); });

  test('the target synchronizes READY with the key and tools/call works', async () => {
    target = await serverTarget(g.gatewayId, 'keyed', up.url, {
      credentialProviderType: 'API_KEY',
      credentialProvider: { apiKeyCredentialProvider: {
        providerArn: provider.credentialProviderArn, credentialParameterName: 'x-api-key', credentialLocation: 'HEADER',
      } },
    });
    assert.equal(target.status, 'READY', JSON.stringify(target.statusReasons));
    assert.ok(target.lastSynchronizedAt instanceof Date);
    // every request of the synchronization carried the key, bare (no prefix)
    const sync = up.seen.filter((s) => s.method === 'POST');
    assert.ok(sync.length >= 2, `initialize and tools/list: ${sync.length}`);
    for (const s of sync) assert.equal(s.headers['x-api-key'], API_KEY);
    assert.deepEqual(await toolNames(g.gatewayUrl), ['keyed___echo', 'keyed___whoami']);

    const { client } = await connect(g.gatewayUrl, caller);
    try {
      const r = await client.callTool({ name: 'keyed___echo', arguments: { text: 'hi' } });
      assert.ok(!r.isError, JSON.stringify(r));
      assert.deepEqual(r.content, [{ type: 'text', text: 'echo:hi' }]);
      assert.equal(up.seen.at(-1).headers['x-api-key'], API_KEY);
      assert.equal(up.seen.at(-1).headers.authorization, undefined, 'the key goes only where it is told');
    } finally {
      await client.close();
    }
    assertNoSecrets(API_KEY);
  });

  test('a wrong key: tools/call isError, SynchronizeGatewayTargets SYNCHRONIZE_UNSUCCESSFUL with a reason', async () => {
    assert.ok(target, 'the previous test made the target');
    await ctl.send(new UpdateApiKeyCredentialProviderCommand({ name: 'upstream-key', apiKey: WRONG_KEY }));
    const before401 = up.seen.length;
    const { client } = await connect(g.gatewayUrl, caller);
    try {
      const r = await client.callTool({ name: 'keyed___echo', arguments: { text: 'hi' } });
      assert.equal(r.isError, true, JSON.stringify(r));
      assert.ok(!JSON.stringify(r).includes(WRONG_KEY), 'the key is not in the answer');
      const sent = up.seen.slice(before401);
      assert.ok(sent.length >= 1);
      for (const s of sent) assert.equal(s.headers['x-api-key'], WRONG_KEY, 'the updated key is used');
    } finally {
      await client.close();
    }

    const t = await synchronize(g.gatewayId, target.targetId);
    assert.equal(t.status, 'SYNCHRONIZE_UNSUCCESSFUL');
    assert.equal(t.statusReasons.length, 1);
    assert.match(t.statusReasons[0], /^Failed to connect and fetch tools from the provided MCP target server\./);
    assert.match(t.statusReasons[0], /HTTP status 401/);
    assert.ok(!t.statusReasons[0].includes(WRONG_KEY) && !t.statusReasons[0].includes(API_KEY));
    // only READY targets are served: the tools are withdrawn until a synchronization succeeds
    const { client: c1 } = await connect(g.gatewayUrl, caller);
    try {
      assert.deepEqual((await listAll(c1)).tools.map((x) => x.name), []);
      await assert.rejects(c1.callTool({ name: 'keyed___echo', arguments: { text: 'hi' } }),
        (e) => e.code === -32602 && /Unknown tool: keyed___echo/.test(e.message));
    } finally {
      await c1.close();
    }

    // the right key again: synchronized READY, and the call works
    await ctl.send(new UpdateApiKeyCredentialProviderCommand({ name: 'upstream-key', apiKey: API_KEY }));
    const t2 = await synchronize(g.gatewayId, target.targetId);
    assert.equal(t2.status, 'READY', JSON.stringify(t2.statusReasons));
    const { client: c2 } = await connect(g.gatewayUrl, caller);
    try {
      const r = await c2.callTool({ name: 'keyed___whoami', arguments: {} });
      assert.ok(!r.isError, JSON.stringify(r));
      assert.equal(r.content[0].text, 'upstream');
    } finally {
      await c2.close();
    }
    assertNoSecrets(API_KEY, WRONG_KEY);
  });
});

describe('OAUTH: client-credentials tokens from a token endpoint the test runs', () => {
  let up;
  let idp;
  let g;
  const valid = new Set(); // tokens the upstream accepts
  let revokeOnce = null; // a token the upstream refuses once

  before(async () => {
    up = await startUpstream((req, res) => {
      const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
      if (!m || !valid.has(m[1])) return unauthorized(res);
      if (revokeOnce && m[1] === revokeOnce) {
        revokeOnce = null;
        valid.delete(m[1]);
        return unauthorized(res);
      }
      return false;
    });
    idp = { issued: 0, discovered: 0, requests: [], expiresIn: 3600 };
    idp.server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        const form = new URLSearchParams(body);
        const basic = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString();
        idp.requests.push({ path: req.url, form: Object.fromEntries(form), basic });
        if (req.url === '/.well-known/openid-configuration' && req.method === 'GET') {
          idp.discovered++;
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
            issuer: idp.url, authorization_endpoint: `${idp.url}/oauth2/authorize`, token_endpoint: `${idp.url}/oauth2/token`,
          }));
          return;
        }
        if (req.url !== '/oauth2/token' || req.method !== 'POST') {
          res.writeHead(404).end();
          return;
        }
        if (form.get('grant_type') !== 'client_credentials') {
          res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"unsupported_grant_type"}');
          return;
        }
        const posted = form.get('client_id') === CLIENT.id && form.get('client_secret') === CLIENT.secret;
        if (basic !== `${CLIENT.id}:${CLIENT.secret}` && !posted) {
          res.writeHead(401, { 'content-type': 'application/json' })
            .end('{"error":"invalid_client","error_description":"client authentication failed"}');
          return;
        }
        idp.issued++;
        const token = `tok-${idp.issued}-${randomUUID()}`;
        valid.add(token);
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
          .end(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: idp.expiresIn }));
      });
    });
    await new Promise((r) => idp.server.listen(0, '127.0.0.1', r));
    idp.url = `http://127.0.0.1:${idp.server.address().port}`;
    g = await createGateway(gw, A, { exceptionLevel: 'DEBUG' });
  });
  after(async () => {
    await up?.close();
    if (idp?.server) await new Promise((r) => { idp.server.closeAllConnections?.(); idp.server.close(r); });
  });

  const provider = (name, secret) => ctl.send(new CreateOauth2CredentialProviderCommand({
    name,
    credentialProviderVendor: 'CustomOauth2',
    oauth2ProviderConfigInput: { customOauth2ProviderConfig: {
      oauthDiscovery: { authorizationServerMetadata: {
        issuer: idp.url, authorizationEndpoint: `${idp.url}/oauth2/authorize`, tokenEndpoint: `${idp.url}/oauth2/token`,
      } },
      clientId: CLIENT.id, clientSecret: secret,
    } },
  }));
  const oauth = (arn, scopes) => ({
    credentialProviderType: 'OAUTH',
    credentialProvider: { oauthCredentialProvider: { providerArn: arn, scopes } },
  });
  const bearer = () => up.seen.at(-1).headers.authorization;

  test('READY with a token; several calls reuse it; a revoked token is fetched again once', async () => {
    const p = await provider('idp-good', CLIENT.secret);
    const issued0 = idp.issued;
    const t = await serverTarget(g.gatewayId, 'oauthed', up.url, oauth(p.credentialProviderArn, ['tools/read', 'tools/call']));
    assert.equal(t.status, 'READY', JSON.stringify(t.statusReasons));
    assert.equal(idp.issued, issued0 + 1, 'one token for the whole synchronization');
    const req = idp.requests.at(-1);
    assert.equal(req.form.grant_type, 'client_credentials');
    assert.equal(req.form.scope, 'tools/read tools/call');
    assert.equal(req.form.client_secret, undefined, 'client_secret_basic: the secret is not in the body');

    const { client } = await connect(g.gatewayUrl, caller);
    try {
      const names = (await listAll(client)).tools.map((x) => x.name).sort();
      assert.deepEqual(names, ['oauthed___echo', 'oauthed___whoami']);
      const tokens = new Set();
      for (let i = 0; i < 4; i++) {
        const r = await client.callTool({ name: 'oauthed___echo', arguments: { text: `n${i}` } });
        assert.ok(!r.isError, JSON.stringify(r));
        assert.equal(r.content[0].text, `echo:n${i}`);
        tokens.add(bearer());
      }
      assert.equal(tokens.size, 1, 'one token for every call');
      assert.equal(idp.issued, issued0 + 1, 'the cached token is reused: no new token request');

      // the upstream revokes the token (a 401 once): one new token, the call retried once
      revokeOnce = [...tokens][0].replace(/^Bearer /, '');
      const before = up.seen.length;
      const r = await client.callTool({ name: 'oauthed___echo', arguments: { text: 'again' } });
      assert.ok(!r.isError, JSON.stringify(r));
      assert.equal(r.content[0].text, 'echo:again');
      assert.equal(idp.issued, issued0 + 2, 'fetched again exactly once');
      assert.equal(bearer(), `Bearer ${[...valid].find((x) => x.startsWith(`tok-${issued0 + 2}-`))}`);
      const statuses = up.seen.slice(before).filter((s) => s.method === 'POST').length;
      assert.ok(statuses >= 2, 'the refused request and its retry');
      // and the new token is the cached one now
      await client.callTool({ name: 'oauthed___whoami', arguments: {} });
      assert.equal(idp.issued, issued0 + 2);
    } finally {
      await client.close();
    }
    // a token revoked before a synchronization: one new token there too, READY
    revokeOnce = bearer().replace(/^Bearer /, '');
    const t2 = await synchronize(g.gatewayId, t.targetId);
    assert.equal(t2.status, 'READY', JSON.stringify(t2.statusReasons));
    assert.equal(revokeOnce, null, 'the upstream refused the old token');
    assert.equal(idp.issued, issued0 + 3);
    assert.match(bearer(), new RegExp(`^Bearer tok-${issued0 + 3}-`));
    assertNoSecrets(CLIENT.secret);
  });

  test('a token with expires_in 62 is cached until a minute before it expires, then fetched again', async () => {
    const p = await provider('idp-short', CLIENT.secret);
    idp.expiresIn = 62;
    try {
      const t = await serverTarget(g.gatewayId, 'shortlived', up.url, oauth(p.credentialProviderArn, ['short']));
      assert.equal(t.status, 'READY', JSON.stringify(t.statusReasons));
      const afterSync = idp.issued;
      // more than 2 s after the token was issued it is within a minute of expiring: not reused
      await new Promise((r) => setTimeout(r, 2500));
      const { client } = await connect(g.gatewayUrl, caller);
      try {
        const r = await client.callTool({ name: 'shortlived___whoami', arguments: {} });
        assert.ok(!r.isError, JSON.stringify(r));
        assert.equal(idp.issued, afterSync + 1, 'an expiring token is fetched again');
        assert.equal(idp.requests.at(-1).form.scope, 'short');
        const tok = bearer();
        // a call right away reuses the fresh one (when the machine is not too slow for 2 s)
        const t0 = Date.now();
        const r2 = await client.callTool({ name: 'shortlived___whoami', arguments: {} });
        assert.ok(!r2.isError, JSON.stringify(r2));
        if (Date.now() - t0 < 1500) {
          assert.equal(bearer(), tok);
          assert.equal(idp.issued, afterSync + 1);
        }
      } finally {
        await client.close();
      }
    } finally {
      idp.expiresIn = 3600;
    }
  });

  test('a discovery URL (read once), client_secret_post, custom parameters that never replace the grant', async () => {
    const p = await ctl.send(new CreateOauth2CredentialProviderCommand({
      name: 'idp-discovered',
      credentialProviderVendor: 'CustomOauth2',
      oauth2ProviderConfigInput: { customOauth2ProviderConfig: {
        oauthDiscovery: { discoveryUrl: `${idp.url}/.well-known/openid-configuration` },
        clientId: CLIENT.id, clientSecret: CLIENT.secret, clientAuthenticationMethod: 'CLIENT_SECRET_POST',
      } },
    }));
    const discovered0 = idp.discovered;
    const issued0 = idp.issued;
    const t = await serverTarget(g.gatewayId, 'discovered', up.url, {
      credentialProviderType: 'OAUTH',
      credentialProvider: { oauthCredentialProvider: {
        providerArn: p.credentialProviderArn, scopes: ['a', 'b'],
        customParameters: { audience: 'https://api.example', grant_type: 'password' },
      } },
    });
    assert.equal(t.status, 'READY', JSON.stringify(t.statusReasons));
    assert.equal(idp.discovered, discovered0 + 1, 'the discovery document was read');
    assert.equal(idp.issued, issued0 + 1);
    const req = idp.requests.at(-1);
    assert.equal(req.path, '/oauth2/token');
    assert.equal(req.form.grant_type, 'client_credentials', 'a custom parameter never replaces grant_type');
    assert.equal(req.form.audience, 'https://api.example');
    assert.equal(req.form.scope, 'a b');
    assert.equal(req.form.client_id, CLIENT.id);
    assert.equal(req.form.client_secret, CLIENT.secret);
    assert.equal(req.basic, '', 'no Basic authorization with client_secret_post');

    // synchronized again: the token is cached and the discovery document too
    const t2 = await synchronize(g.gatewayId, t.targetId);
    assert.equal(t2.status, 'READY', JSON.stringify(t2.statusReasons));
    assert.equal(idp.issued, issued0 + 1);
    assert.equal(idp.discovered, discovered0 + 1);
    assertNoSecrets(CLIENT.secret);
  });

  test('listingMode DYNAMIC: the live tools/list carries the token too', async () => {
    const p = await provider('idp-dynamic', CLIENT.secret);
    const g2 = await createGateway(gw, A);
    const out = await ctl.send(new CreateGatewayTargetCommand({
      gatewayIdentifier: g2.gatewayId, name: 'live',
      targetConfiguration: { mcp: { mcpServer: { endpoint: up.url, listingMode: 'DYNAMIC' } } },
      credentialProviderConfigurations: [oauth(p.credentialProviderArn, ['live'])],
    }));
    const t = await waitTarget(g2.gatewayId, out.targetId);
    assert.equal(t.status, 'READY', JSON.stringify(t.statusReasons));
    const issued = idp.issued;
    const before = up.seen.length;
    const { client } = await connect(g2.gatewayUrl, caller);
    try {
      const r = await client.listTools();
      assert.deepEqual(r.tools.map((x) => x.name).sort(), ['live___echo', 'live___whoami']);
      assert.equal(r.nextCursor, undefined);
      const live = up.seen.slice(before).filter((x) => x.method === 'POST');
      assert.ok(live.length >= 1, 'the server was asked live');
      for (const x of live) assert.match(x.headers.authorization ?? '', /^Bearer tok-/);
      const c = await client.callTool({ name: 'live___echo', arguments: { text: 'dyn' } });
      assert.ok(!c.isError, JSON.stringify(c));
      assert.equal(c.content[0].text, 'echo:dyn');
      assert.equal(idp.issued, issued, 'the synchronization\'s token is reused');
    } finally {
      await client.close();
    }
  });

  test('a wrong client secret: the synchronization fails with the endpoint\'s error code, no secret', async () => {
    const p = await provider('idp-wrong', WRONG_SECRET);
    const before = idp.requests.length;
    const t = await serverTarget(g.gatewayId, 'badsecret', up.url, oauth(p.credentialProviderArn, ['tools/read']));
    assert.equal(t.status, 'FAILED');
    assert.equal(t.statusReasons.length, 1);
    const reason = t.statusReasons[0];
    assert.match(reason, /^Failed to connect and fetch tools from the provided MCP target server\./);
    assert.match(reason, /invalid_client/);
    assert.ok(!reason.includes(WRONG_SECRET) && !reason.includes(CLIENT.secret), reason);
    assert.ok(idp.requests.length > before, 'the token endpoint was asked');
    assert.equal(idp.requests.at(-1).basic, `${CLIENT.id}:${WRONG_SECRET}`);
    // the upstream never saw a request of this target without a token
    assert.ok(!(await toolNames(g.gatewayUrl)).some((n) => n.startsWith('badsecret___')));
    assertNoSecrets(CLIENT.secret, WRONG_SECRET);
  });
});

describe('GATEWAY_IAM_ROLE: gateway A fronts gateway B of the same server', () => {
  let api;
  let iam;
  let B;
  let roleArn;
  const policy = () => JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 'bedrock-agentcore:InvokeGateway', Resource: B.gatewayArn }],
  });
  const chained = {
    credentialProviderType: 'GATEWAY_IAM_ROLE',
    credentialProvider: { iamCredentialProvider: { service: 'bedrock-agentcore' } },
  };

  before(async () => {
    // B's tool: an OpenAPI operation on an http server the test runs
    api = http.createServer((req, res) => {
      const u = new URL(req.url, 'http://x');
      if (req.method === 'GET' && u.pathname === '/greet') {
        res.writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ greeting: `hello ${u.searchParams.get('name')}` }));
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise((r) => api.listen(0, '127.0.0.1', r));
    const doc = {
      openapi: '3.0.3',
      info: { title: 'greeter', version: '1' },
      servers: [{ url: `http://127.0.0.1:${api.address().port}` }],
      paths: { '/greet': { get: {
        operationId: 'greet', summary: 'Greets',
        parameters: [{ name: 'name', in: 'query', required: true, schema: { type: 'string' } }],
        responses: { 200: { description: 'ok' } },
      } } },
    };
    const keyP = await ctl.send(new CreateApiKeyCredentialProviderCommand({ name: 'greeter-key', apiKey: 'unused-key' }));
    B = await createGateway(gw, A, { name: 'inner-b' });
    assert.equal(B.authorizerType, 'AWS_IAM');
    const bt = await ctl.send(new CreateGatewayTargetCommand({
      gatewayIdentifier: B.gatewayId, name: 'greeter',
      targetConfiguration: { mcp: { openApiSchema: { inlinePayload: JSON.stringify(doc) } } },
      credentialProviderConfigurations: [{ credentialProviderType: 'API_KEY', credentialProvider: { apiKeyCredentialProvider: {
        providerArn: keyP.credentialProviderArn, credentialParameterName: 'x-unused',
      } } }],
    }));
    assert.equal((await waitTarget(B.gatewayId, bt.targetId)).status, 'READY');

    iam = new IAMClient({ region: REGION, endpoint: gw.endpoint, credentials: A.root, maxAttempts: 1 });
    const role = await iam.send(new CreateRoleCommand({
      RoleName: 'ChainToB',
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'bedrock-agentcore.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      }),
    }));
    roleArn = role.Role.Arn;
    assert.equal(roleArn, `arn:aws:iam::${A.id}:role/ChainToB`);
  });
  after(async () => {
    if (api) await new Promise((r) => { api.closeAllConnections?.(); api.close(r); });
  });

  test('with InvokeGateway on B: READY, B\'s tools prefixed, tools/call reaches B\'s tool', async () => {
    await iam.send(new PutRolePolicyCommand({ RoleName: 'ChainToB', PolicyName: 'invoke-b', PolicyDocument: policy() }));
    const gA = await createGateway(gw, A, { name: 'outer-a', roleArn, exceptionLevel: 'DEBUG' });
    const t = await serverTarget(gA.gatewayId, 'b', B.gatewayUrl, chained);
    assert.equal(t.status, 'READY', JSON.stringify(t.statusReasons));
    assert.deepEqual(await toolNames(gA.gatewayUrl), ['b___greeter___greet']);

    const { client } = await connect(gA.gatewayUrl, caller);
    try {
      const r = await client.callTool({ name: 'b___greeter___greet', arguments: { name: 'chain' } });
      assert.ok(!r.isError, JSON.stringify(r));
      assert.match(r.content[0].text, /hello chain/);
      // B checks its input schema too: a missing required argument comes back from B
      const bad = await client.callTool({ name: 'b___greeter___greet', arguments: {} }).catch((e) => ({ rpcError: e }));
      assert.ok(bad.rpcError, JSON.stringify(bad));
      assert.equal(bad.rpcError.code, -32602);
      assert.match(bad.rpcError.message, /name/);
    } finally {
      await client.close();
    }

    // the permission taken away: B answers 403, the synchronization fails
    await iam.send(new DeleteRolePolicyCommand({ RoleName: 'ChainToB', PolicyName: 'invoke-b' }));
    const t2 = await synchronize(gA.gatewayId, t.targetId);
    assert.equal(t2.status, 'SYNCHRONIZE_UNSUCCESSFUL');
    assert.match(t2.statusReasons[0], /HTTP status 403/);
  });

  test('a role without InvokeGateway on B: the target FAILED (B answers 403)', async () => {
    const gA = await createGateway(gw, A, { name: 'outer-denied', roleArn });
    const t = await serverTarget(gA.gatewayId, 'b', B.gatewayUrl, chained);
    assert.equal(t.status, 'FAILED');
    assert.equal(t.statusReasons.length, 1);
    assert.match(t.statusReasons[0], /^Failed to connect and fetch tools from the provided MCP target server\./);
    assert.match(t.statusReasons[0], /HTTP status 403/);
    assert.deepEqual(await toolNames(gA.gatewayUrl), []);
  });
});

describe('at the end', () => {
  test('SIGTERM stops the server: exit code 0, no sanitizer report on its code paths', async () => {
    const st = await gw.stop();
    const log = gw.stderr();
    assert.doesNotMatch(log, /ERROR: AddressSanitizer|runtime error:|Segmentation fault/, log.slice(-4000));
    if (/ERROR: LeakSanitizer: detected memory leaks/.test(log)) {
      // ASAN_OPTIONS=detect_leaks=1: what the web server library keeps at exit is reported (exit
      // code 1); nothing allocated by the vault, the targets or the MCP code may be in it
      assert.doesNotMatch(log, /src\/(vault|targets|mcp|agentcore|http|sigv4|crypto)\//, log.slice(-4000));
      assert.equal(st.code, 1);
    } else {
      assert.deepEqual(st, { code: 0, signal: null }, log.slice(-4000));
    }
  });
});
