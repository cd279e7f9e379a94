// The outbound credentials of gateway targets, on MCP-server and OpenAPI targets:
//   GATEWAY_IAM_ROLE  the target is another mcpgate gateway (AWS_IAM): the outer gateway's role
//                     session signs with SigV4 for bedrock-agentcore, and the inner gateway checks
//                     the signature and the role's bedrock-agentcore:InvokeGateway permission; a
//                     role without it, or another signing service, fails the target; an OpenAPI
//                     target for this server's STS (GetCallerIdentity) is answered with the role
//                     session named after the gateway;
//   API_KEY           the key in a header (with its prefix) or in the query, as the upstream sees it;
//   OAUTH             a client-credentials token from a token endpoint the test runs, as
//                     `Authorization: Bearer`; an upstream 401 gets one fresh token and one retry.
// API_KEY and OAUTH need the stored credential providers (CreateApiKeyCredentialProvider...):
// they are skipped on a build that does not serve them.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  CreateApiKeyCredentialProviderCommand, CreateGatewayTargetCommand,
  CreateOauth2CredentialProviderCommand, GetGatewayTargetCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { connect, control, createGateway, listAll, mcpAccounts, startMcpServer } from './lib/mcp.mjs';

const SECRET_KEY = 'api-key-5c1d0e';
const CLIENT = { id: 'gw-client', secret: 'client-secret-8e2f41' };

/** An MCP server on loopback that records what each request carried; `gate(req)` may answer
 *  first (returns true when it did). */
function startUpstream(gate = () => false) {
  const sessions = new Map();
  const seen = [];
  const makeServer = () => {
    const s = new Server({ name: 'upstream', version: '1.0.0' }, { capabilities: { tools: {} } });
    s.setRequestHandler(ListToolsRequestSchema, async () => ({
      tools: [{ name: 'ping', description: 'Answers pong', inputSchema: { type: 'object' } }],
    }));
    s.setRequestHandler(CallToolRequestSchema, async () => ({ content: [{ type: 'text', text: 'pong' }] }));
    return s;
  };
  const srv = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    seen.push({ url: req.url, headers: req.headers });
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

let gw;
let A;
let caller;

async function waitTarget(gatewayId, targetId, ms = 60000) {
  const c = control(gw, A.root);
  const end = Date.now() + ms;
  for (;;) {
    const t = await c.send(new GetGatewayTargetCommand({ gatewayIdentifier: gatewayId, targetId }));
    if (!['CREATING', 'UPDATING', 'SYNCHRONIZING'].includes(t.status)) return t;
    if (Date.now() > end) throw new Error(`target still ${t.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function serverTarget(gatewayId, name, endpoint, creds) {
  const out = await control(gw, A.root).send(new CreateGatewayTargetCommand({
    gatewayIdentifier: gatewayId, name,
    targetConfiguration: { mcp: { mcpServer: { endpoint } } },
    ...(creds ? { credentialProviderConfigurations: [creds] } : {}),
  }));
  return waitTarget(gatewayId, out.targetId);
}

async function callPing(gatewayUrl, tool) {
  const { client } = await connect(gatewayUrl, caller);
  try {
    const { tools } = await listAll(client);
    assert.ok(tools.some((t) => t.name === tool), `${tool} in ${tools.map((t) => t.name)}`);
    return await client.callTool({ name: tool, arguments: {} });
  } finally {
    await client.close();
  }
}

before(async () => {
  const accounts = mcpAccounts();
  for (const a of accounts) {
    a.roles.ChainRole = {
      name: 'ChainRole',
      assumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'bedrock-agentcore.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      },
      inlinePolicies: {
        invoke: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'bedrock-agentcore:InvokeGateway', Resource: '*' }] },
      },
    };
  }
  gw = await startMcpServer({ accounts });
  A = gw.accounts[0];
  caller = { accessKeyId: A.root.accessKeyId, secretAccessKey: A.root.secretAccessKey };
});

after(async () => {
  await gw?.stop();
});

describe('GATEWAY_IAM_ROLE: SigV4 as the gateway role, checked by another gateway', () => {
  let up;
  let inner;
  const iam = (service) => ({
    credentialProviderType: 'GATEWAY_IAM_ROLE',
    credentialProvider: { iamCredentialProvider: { service } },
  });

  before(async () => {
    up = await startUpstream();
    inner = await createGateway(gw, A);
    const t = await serverTarget(inner.gatewayId, 'up', up.url);
    assert.equal(t.status, 'READY', JSON.stringify(t.statusReasons));
  });
  after(async () => { await up?.close(); });

  test('the role allowed to invoke the inner gateway: synchronized and called through it', async () => {
    const outer = await createGateway(gw, A, { roleArn: `arn:aws:iam::${A.id}:role/ChainRole` });
    const t = await serverTarget(outer.gatewayId, 'chain', inner.gatewayUrl, iam('bedrock-agentcore'));
    assert.equal(t.status, 'READY', JSON.stringify(t.statusReasons));
    const r = await callPing(outer.gatewayUrl, 'chain___up___ping');
    assert.ok(!r.isError, JSON.stringify(r));
    assert.equal(r.content[0].text, 'pong');
  });

  test('a role without bedrock-agentcore:InvokeGateway, or another signing service: FAILED', async () => {
    const denied = await createGateway(gw, A, { roleArn: `arn:aws:iam::${A.id}:role/NoInvokeRole` });
    const t1 = await serverTarget(denied.gatewayId, 'chain', inner.gatewayUrl, iam('bedrock-agentcore'));
    assert.equal(t1.status, 'FAILED');
    const other = await createGateway(gw, A, { roleArn: `arn:aws:iam::${A.id}:role/ChainRole` });
    const t2 = await serverTarget(other.gatewayId, 'chain', inner.gatewayUrl, iam('execute-api'));
    assert.equal(t2.status, 'FAILED');
  });
});

describe('GATEWAY_IAM_ROLE on an OpenAPI target: STS of this server answers who signed', () => {
  /** An OpenAPI document for STS GetCallerIdentity (query protocol, form body) on this server. */
  const stsDoc = () => JSON.stringify({
    openapi: '3.0.3',
    info: { title: 'sts', version: '1' },
    servers: [{ url: gw.endpoint }],
    paths: { '/': { post: {
      operationId: 'whoami',
      requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema: {
        type: 'object',
        properties: { Action: { type: 'string' }, Version: { type: 'string' } },
        required: ['Action', 'Version'],
      } } } },
      responses: { 200: { description: 'ok' } },
    } } },
  });
  const target = async (gatewayId, name, service) => {
    const out = await control(gw, A.root).send(new CreateGatewayTargetCommand({
      gatewayIdentifier: gatewayId, name,
      targetConfiguration: { mcp: { openApiSchema: { inlinePayload: stsDoc() } } },
      credentialProviderConfigurations: [{
        credentialProviderType: 'GATEWAY_IAM_ROLE',
        credentialProvider: { iamCredentialProvider: { service } },
      }],
    }));
    return waitTarget(gatewayId, out.targetId);
  };
  const args = { Action: 'GetCallerIdentity', Version: '2011-06-15' };

  test('signed for sts as the role session named after the gateway', async () => {
    const g = await createGateway(gw, A, { roleArn: `arn:aws:iam::${A.id}:role/ChainRole`, exceptionLevel: 'DEBUG' });
    const t = await target(g.gatewayId, 'sts', 'sts');
    assert.equal(t.status, 'READY', JSON.stringify(t.statusReasons));
    const { client } = await connect(g.gatewayUrl, caller);
    try {
      const r = await client.callTool({ name: 'sts___whoami', arguments: args });
      assert.ok(!r.isError, JSON.stringify(r));
      assert.match(r.content[0].text,
        new RegExp(`<Arn>arn:aws:sts::${A.id}:assumed-role/ChainRole/${g.gatewayId}</Arn>`));
      // signed for another service: STS refuses the signature
      const other = await target(g.gatewayId, 'wrongsvc', 'execute-api');
      assert.equal(other.status, 'READY');
      const bad = await client.callTool({ name: 'wrongsvc___whoami', arguments: args });
      assert.equal(bad.isError, true);
      assert.doesNotMatch(bad.content[0].text, /<Arn>/);
    } finally {
      await client.close();
    }
  });
});

/** Whether this build stores credential providers (the identity control plane). */
async function providersServed() {
  try {
    await control(gw, A.root).send(new CreateApiKeyCredentialProviderCommand({ name: 'probe', apiKey: 'probe-key' }));
    return true;
  } catch (e) {
    if (e.$metadata?.httpStatusCode === 501) return false;
    throw e;
  }
}

describe('API_KEY and OAUTH', () => {
  let served = false;
  let up;
  let gwy;
  let idp;
  let rejectOnce = null; // a token the upstream refuses (once)

  before(async () => {
    served = await providersServed();
    if (!served) return;
    up = await startUpstream((req, res) => {
      const auth = req.headers.authorization ?? '';
      if (rejectOnce && auth === `Bearer ${rejectOnce}`) {
        rejectOnce = null;
        res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end();
        return true;
      }
      return false;
    });
    idp = { issued: 0 };
    const tokenServer = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        const form = new URLSearchParams(body);
        const basic = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString();
        if (form.get('grant_type') !== 'client_credentials' || basic !== `${CLIENT.id}:${CLIENT.secret}`) {
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}');
          return;
        }
        idp.issued++;
        idp.lastScope = form.get('scope');
        res.writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ access_token: `tok-${idp.issued}`, token_type: 'Bearer', expires_in: 3600 }));
      });
    });
    await new Promise((r) => tokenServer.listen(0, '127.0.0.1', r));
    idp.server = tokenServer;
    idp.url = `http://127.0.0.1:${tokenServer.address().port}`;
    gwy = await createGateway(gw, A);
  });
  after(async () => {
    await up?.close();
    await new Promise((r) => (idp?.server ? idp.server.close(r) : r()));
  });

  test('an API key in a header, after its prefix', async (t) => {
    if (!served) return t.skip('credential providers are not served by this build');
    const p = await control(gw, A.root).send(new CreateApiKeyCredentialProviderCommand({ name: 'k-header', apiKey: SECRET_KEY }));
    const tg = await serverTarget(gwy.gatewayId, 'keyed', up.url, {
      credentialProviderType: 'API_KEY',
      credentialProvider: { apiKeyCredentialProvider: {
        providerArn: p.credentialProviderArn, credentialParameterName: 'X-Api-Key', credentialPrefix: 'Key',
      } },
    });
    assert.equal(tg.status, 'READY', JSON.stringify(tg.statusReasons));
    const r = await callPing(gwy.gatewayUrl, 'keyed___ping');
    assert.equal(r.content[0].text, 'pong');
    const last = up.seen.at(-1);
    assert.equal(last.headers['x-api-key'], `Key ${SECRET_KEY}`);
    assert.ok(!gw.stderr().includes(SECRET_KEY), 'the key is never logged');
  });

  test('an API key in the query', async (t) => {
    if (!served) return t.skip('credential providers are not served by this build');
    const p = await control(gw, A.root).send(new CreateApiKeyCredentialProviderCommand({ name: 'k-query', apiKey: SECRET_KEY }));
    const tg = await serverTarget(gwy.gatewayId, 'queried', up.url, {
      credentialProviderType: 'API_KEY',
      credentialProvider: { apiKeyCredentialProvider: { providerArn: p.credentialProviderArn, credentialLocation: 'QUERY_PARAMETER' } },
    });
    assert.equal(tg.status, 'READY', JSON.stringify(tg.statusReasons));
    await callPing(gwy.gatewayUrl, 'queried___ping');
    const last = up.seen.at(-1);
    assert.equal(new URL(last.url, 'http://x').searchParams.get('api_key'), SECRET_KEY);
    assert.equal(last.headers['x-api-key'], undefined);
  });

  test('an OAuth2 client-credentials token; a 401 from the upstream gets one fresh token', async (t) => {
    if (!served) return t.skip('credential providers are not served by this build');
    const p = await control(gw, A.root).send(new CreateOauth2CredentialProviderCommand({
      name: 'idp',
      credentialProviderVendor: 'CustomOauth2',
      oauth2ProviderConfigInput: { customOauth2ProviderConfig: {
        oauthDiscovery: { authorizationServerMetadata: {
          issuer: idp.url, authorizationEndpoint: `${idp.url}/authorize`, tokenEndpoint: `${idp.url}/token`,
        } },
        clientId: CLIENT.id, clientSecret: CLIENT.secret,
      } },
    }));
    const tg = await serverTarget(gwy.gatewayId, 'oauthed', up.url, {
      credentialProviderType: 'OAUTH',
      credentialProvider: { oauthCredentialProvider: { providerArn: p.credentialProviderArn, scopes: ['mcp/read', 'mcp/call'] } },
    });
    assert.equal(tg.status, 'READY', JSON.stringify(tg.statusReasons));
    assert.equal(idp.lastScope, 'mcp/read mcp/call');
    const issued = idp.issued;
    const r = await callPing(gwy.gatewayUrl, 'oauthed___ping');
    assert.equal(r.content[0].text, 'pong');
    assert.equal(up.seen.at(-1).headers.authorization, `Bearer tok-${issued}`);
    assert.equal(idp.issued, issued, 'the cached token is reused');

    // the upstream revokes the token: one fresh token, the call retried once
    rejectOnce = `tok-${issued}`;
    const r2 = await callPing(gwy.gatewayUrl, 'oauthed___ping');
    assert.equal(r2.content[0].text, 'pong');
    assert.equal(idp.issued, issued + 1);
    assert.equal(up.seen.at(-1).headers.authorization, `Bearer tok-${issued + 1}`);
    assert.ok(!gw.stderr().includes(CLIENT.secret), 'the client secret is never logged');
    assert.ok(!gw.stderr().includes(`tok-${issued}`), 'tokens are never logged');
  });
});
