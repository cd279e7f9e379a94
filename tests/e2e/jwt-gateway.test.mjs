// CUSTOM_JWT and AUTHENTICATE_ONLY gateways end to end, against an OpenID issuer the test starts
// (lib/oidc-issuer.mjs, not mcpgate's code): gateways made with the AWS SDK's control-plane
// client, an OpenAPI target on a node upstream, the MCP TypeScript SDK with a bearer token (and
// with its OAuth client-credentials flow discovering the issuer from the 401), and raw requests
// for every refusal with its exact status, WWW-Authenticate challenge and JSON-RPC body.
// The wire answers are those of docs/inbound-jwt.md.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CreateGatewayCommand, CreateGatewayTargetCommand, GetGatewayCommand, GetGatewayTargetCommand,
  UpdateGatewayCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { control, mcpAccounts, signedFetch, startMcpServer } from './lib/mcp.mjs';
import { freePort, sharedStore } from './lib/server.mjs';
import { ALGS, now, startIssuer } from './lib/oidc-issuer.mjs';

const MISMATCH_JWT = 'Authorization method mismatch: this gateway authorizes callers with CUSTOM_JWT bearer ' +
  'tokens; SigV4 and other schemes are not accepted.';
const MISMATCH_IAM = 'Authorization method mismatch: this gateway authorizes callers with AWS_IAM (SigV4); ' +
  'bearer tokens are not accepted.';
const INSUFFICIENT = 'Insufficient scope: the token holds none of the scopes this gateway allows';
const KEYS_UNAVAILABLE = "Invalid Bearer token: the issuer's signing keys could not be fetched";

let gw;       // mcpgate
let A;        // account 111122223333 (owns the gateways)
let B;        // account 444455556666 (a stranger)
let upstream; // the OpenAPI target's API
const seen = [];
const sentTokens = new Set();

let idp;      // the main issuer: four key types
let rotIdp;   // for key rotation
let floodIdp; // for the unknown-kid flood
let downIdp;  // goes down and comes back
let strict;   // audience + clients + scopes (with advertisedScopeMapping) + a custom claim
let cognito;  // allowedClients only (Cognito access tokens: client_id, no aud)
let entra;    // aud, azp via allowedClients, scp, a STRING_ARRAY claim
let rotGw;
let floodGw;
let downGw;
let iamGw;
let authOnly;

const STRICT_SCOPE_HEADER = 'tools/read api://mcpgate/tools.call';
const GOOD = { sub: 'user-1', aud: 'mcpgate-api', client_id: 'agent-1', scope: 'openid tools/read', department: 'engineering' };
const ENTRA_APP = '6e8a1f4c-0b8e-4a53-9d0c-2f3c1b7d9a10';
const ENTRA_CLIENT = 'c1d2e3f4-a5b6-4789-8abc-def012345678';
const ENTRA_GOOD = {
  aud: ENTRA_APP, azp: ENTRA_CLIENT, azpacr: '1', scp: 'access_as_user User.Read', roles: ['Mcp.Invoke'],
  ver: '2.0', tid: '72f988bf-86f1-41af-91ab-2d7cd011db47', oid: '00000000-0000-0000-0000-0000000000aa',
};
const COGNITO_GOOD = {
  sub: '9f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b', client_id: '4kq2dr7e0abcdexample01', token_use: 'access',
  scope: 'mcpgate/tools.read', auth_time: 1700000000, jti: 'j-1', version: 2, aud: undefined,
};

// ---- helpers ---------------------------------------------------------------------------------

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const INIT = JSON.stringify({
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'jwt-e2e', version: '0' } },
});

const bearer = (t) => {
  sentTokens.add(t);
  return { authorization: `Bearer ${t}` };
};

/** Parses one WWW-Authenticate challenge: {scheme, params}; throws on bad syntax or duplicates. */
export function parseChallenge(h) {
  assert.equal(typeof h, 'string', 'a WWW-Authenticate header');
  const tok = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+/;
  let rest = h.trimStart();
  const sm = tok.exec(rest);
  assert.ok(sm, `a scheme in ${h}`);
  const scheme = sm[0];
  rest = rest.slice(scheme.length);
  const params = {};
  rest = rest.replace(/^ +/, '');
  while (rest.length) {
    const nm = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)[ \t]*=[ \t]*/.exec(rest);
    assert.ok(nm, `an auth-param at "${rest}" in ${h}`);
    const name = nm[1].toLowerCase();
    rest = rest.slice(nm[0].length);
    let value = '';
    if (rest[0] === '"') {
      let i = 1;
      for (; i < rest.length && rest[i] !== '"'; i++) {
        if (rest[i] === '\\') i++;
        value += rest[i];
      }
      assert.equal(rest[i], '"', `an unterminated quoted string in ${h}`);
      rest = rest.slice(i + 1);
    } else {
      const vm = /^[^\s,]*/.exec(rest);
      value = vm[0];
      rest = rest.slice(value.length);
    }
    assert.ok(!(name in params), `${name} twice in ${h}`);
    params[name] = value;
    rest = rest.replace(/^[ \t]*/, '');
    if (rest.length) {
      assert.equal(rest[0], ',', `a comma after ${name} in ${h}`);
      rest = rest.slice(1).replace(/^[ \t]*/, '');
    }
  }
  return { scheme, params };
}

/** The PRM URL of a path-routed gateway URL (http://H/gateways/ID/mcp). */
function prmUrl(gatewayUrl) {
  const u = new URL(gatewayUrl);
  return `${u.origin}/.well-known/oauth-protected-resource${u.pathname}`;
}

async function post(url, headers = {}, body = INIT, f = fetch, method = 'POST') {
  const r = await f(url, { method, headers: { ...JSON_HEADERS, ...headers }, ...(method === 'POST' ? { body } : {}) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, headers: r.headers, text, json };
}

/** Asserts a 401 of a CUSTOM_JWT gateway, exactly as the contract has it. */
function assert401(r, g, reason, message, { scope } = {}) {
  assert.equal(r.status, 401, `${reason}: ${r.status} ${r.text}`);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  assert.deepEqual(r.json, { jsonrpc: '2.0', id: null, error: { code: -32001, message } });
  const c = parseChallenge(r.headers.get('www-authenticate'));
  assert.equal(c.scheme, 'Bearer');
  assert.deepEqual(c.params, {
    error: 'invalid_token', error_description: reason, ...(scope ? { scope } : {}),
    resource_metadata: prmUrl(g.gatewayUrl),
  });
}

/** A bad token's 401: reason = the verifier's status string, message "Invalid Bearer token: ...". */
function assertBadToken(r, g, reason, opts) {
  assert401(r, g, reason, `Invalid Bearer token: ${reason}`, opts);
}

async function waitGateway(c, id, timeoutMs = 30000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const g = await c.send(new GetGatewayCommand({ gatewayIdentifier: id }));
    if (!/ING$/.test(g.status) || Date.now() > end) return g;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function whoamiSpec(port) {
  return JSON.stringify({
    openapi: '3.0.3',
    info: { title: 'Who', version: '1' },
    servers: [{ url: `http://127.0.0.1:${port}` }],
    paths: { '/whoami': { get: { operationId: 'whoami', description: 'Says who called', responses: { 200: { description: 'ok' } } } } },
  });
}

async function addTarget(gatewayId) {
  const c = control(gw, A.root);
  const out = await c.send(new CreateGatewayTargetCommand({
    gatewayIdentifier: gatewayId, name: 'api',
    targetConfiguration: { mcp: { openApiSchema: { inlinePayload: whoamiSpec(upstream.address().port) } } },
  }));
  for (let i = 0; i < 300; i++) {
    const t = await c.send(new GetGatewayTargetCommand({ gatewayIdentifier: gatewayId, targetId: out.targetId }));
    if (t.status === 'READY') return out;
    if (t.status === 'FAILED') throw new Error(`target FAILED: ${t.statusReasons}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('target not READY');
}

const gwName = () => `jwt${Math.random().toString(36).slice(2, 8)}`;

/** A CUSTOM_JWT gateway (READY) with the whoami target. */
async function jwtGateway(authorizer) {
  const c = control(gw, A.root);
  const out = await c.send(new CreateGatewayCommand({
    name: gwName(), protocolType: 'MCP', authorizerType: 'CUSTOM_JWT',
    roleArn: `arn:aws:iam::${A.id}:role/GatewayRole`,
    authorizerConfiguration: { customJWTAuthorizer: authorizer },
  }));
  const g = await waitGateway(c, out.gatewayId);
  assert.equal(g.status, 'READY', `gateway ${g.status}: ${JSON.stringify(g.statusReasons)}`);
  await addTarget(out.gatewayId);
  return out;
}

async function plainGateway(authorizerType) {
  const c = control(gw, A.root);
  const out = await c.send(new CreateGatewayCommand({
    name: gwName(), protocolType: 'MCP', authorizerType, roleArn: `arn:aws:iam::${A.id}:role/GatewayRole`,
  }));
  const g = await waitGateway(c, out.gatewayId);
  assert.equal(g.status, 'READY');
  await addTarget(out.gatewayId);
  return out;
}

/** The MCP TypeScript SDK with a bearer token in requestInit. */
async function connectBearer(url, token) {
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: bearer(token) } });
  const client = new Client({ name: 'jwt-e2e', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

/** tools/list and tools/call through the SDK with a bearer token; returns the tool names. */
async function listAndCall(g, token) {
  const client = await connectBearer(g.gatewayUrl, token);
  try {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    assert.ok(names.includes('api___whoami'), names.join(','));
    const before = seen.length;
    const r = await client.callTool({ name: 'api___whoami', arguments: {} });
    assert.equal(r.isError, false, JSON.stringify(r));
    assert.deepEqual(JSON.parse(r.content[0].text), { ok: true });
    assert.equal(seen.length, before + 1);
    // no passthrough configured: the caller's token never reaches the target
    assert.equal(seen.at(-1).authorization, undefined);
    return names;
  } finally {
    await client.close();
  }
}

/** 200 for an initialize with this token (a raw request). */
async function accepted(g, token) {
  const r = await post(g.gatewayUrl, bearer(token));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.result.serverInfo !== undefined, true);
}

// ---- set-up ----------------------------------------------------------------------------------

before(async () => {
  upstream = await new Promise((resolve) => {
    const srv = http.createServer((req, res) => {
      seen.push({ method: req.method, url: req.url, authorization: req.headers.authorization });
      res.writeHead(req.url === '/whoami' ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(req.url === '/whoami' ? { ok: true } : { unexpected: req.url }));
    });
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
  [idp, rotIdp, floodIdp, downIdp] = await Promise.all([
    startIssuer({ realm: 'main', clients: { 'cc-client': { secret: 'cc-secret', scopes: ['tools/call'] } } }),
    startIssuer({ realm: 'rot', algs: ['RS256', 'ES256'] }),
    startIssuer({ realm: 'flood', algs: ['ES256'] }),
    startIssuer({ realm: 'down', algs: ['ES256'] }),
  ]);
  gw = await startMcpServer();
  A = gw.accounts[0];
  B = gw.accounts[1];
  strict = await jwtGateway({
    discoveryUrl: idp.discoveryUrl,
    allowedAudience: ['mcpgate-api'],
    allowedClients: ['agent-1', 'cc-client'],
    allowedScopes: ['tools/read', 'tools/call'],
    advertisedScopeMapping: { 'tools/call': 'api://mcpgate/tools.call' },
    customClaims: [{
      inboundTokenClaimName: 'department', inboundTokenClaimValueType: 'STRING',
      authorizingClaimMatchValue: { claimMatchValue: { matchValueString: 'engineering' }, claimMatchOperator: 'EQUALS' },
    }],
  });
  cognito = await jwtGateway({ discoveryUrl: idp.discoveryUrl, allowedClients: [COGNITO_GOOD.client_id] });
  entra = await jwtGateway({
    discoveryUrl: idp.discoveryUrl,
    allowedAudience: [ENTRA_APP],
    allowedClients: [ENTRA_CLIENT],
    allowedScopes: ['access_as_user'],
    customClaims: [{
      inboundTokenClaimName: 'roles', inboundTokenClaimValueType: 'STRING_ARRAY',
      authorizingClaimMatchValue: { claimMatchValue: { matchValueString: 'Mcp.Invoke' }, claimMatchOperator: 'CONTAINS' },
    }],
  });
  rotGw = await jwtGateway({ discoveryUrl: rotIdp.discoveryUrl, allowedAudience: ['rot-api'] });
  floodGw = await jwtGateway({ discoveryUrl: floodIdp.discoveryUrl, allowedAudience: ['flood-api'] });
  downGw = await jwtGateway({ discoveryUrl: downIdp.discoveryUrl, allowedAudience: ['down-api'] });
  iamGw = await plainGateway('AWS_IAM');
  authOnly = await plainGateway('AUTHENTICATE_ONLY');
});

after(async () => {
  await gw?.stop();
  const err = gw?.stderr() ?? '';
  upstream?.close();
  await Promise.all([idp, rotIdp, floodIdp, downIdp].map((i) => i?.close()));
  // under build/asan: no memory error, no undefined behaviour, and no leak in the code that
  // verifies tokens, fetches keys and answers (h2o's own blocks at exit are not this test's)
  assert.doesNotMatch(err, /ERROR: AddressSanitizer|runtime error/);
  assert.doesNotMatch(err, /#\d+ .* in \S+ \S*\/src\/(mcp|oidc|jwt|http|agentcore|call)\//);
  // never a token in the log: not even its signature part
  for (const t of sentTokens) {
    const sig = t.split('.')[2];
    if (sig && sig.length >= 16) assert.ok(!err.includes(sig), 'a token signature in the log');
  }
});

// ---- tests -----------------------------------------------------------------------------------

describe('accepted tokens', () => {
  test('the MCP TypeScript SDK with a bearer token lists and calls tools', async () => {
    await listAndCall(strict, idp.mint(GOOD));
  });

  test('every supported algorithm: RS256, PS256, ES256, ES384', async () => {
    for (const alg of Object.keys(ALGS)) await listAndCall(strict, idp.mint(GOOD, { alg }));
  });

  test('the scheme is case-insensitive; a token without kid is tried against the keys', async () => {
    const t = idp.mint(GOOD, { alg: 'ES384' });
    sentTokens.add(t);
    let r = await post(strict.gatewayUrl, { authorization: `bearer ${t}` });
    assert.equal(r.status, 200, r.text);
    r = await post(strict.gatewayUrl, { authorization: `BEARER ${t}` });
    assert.equal(r.status, 200, r.text);
    await accepted(strict, idp.mint(GOOD, { alg: 'PS256', kid: null }));
  });

  test('expiry within the 60 s clock skew is accepted, past it refused', async () => {
    await accepted(strict, idp.mint({ ...GOOD, iat: now() - 600, exp: now() - 20 }));
    await accepted(strict, idp.mint({ ...GOOD, nbf: now() + 20 }));
    assertBadToken(await post(strict.gatewayUrl, bearer(idp.mint({ ...GOOD, iat: now() - 600, exp: now() - 90 }))),
      strict, 'token expired', { scope: STRICT_SCOPE_HEADER });
  });

  test('any one allowed scope suffices (advertised names are not the checked ones)', async () => {
    await accepted(strict, idp.mint({ ...GOOD, scope: 'tools/call' }));
    await accepted(strict, idp.mint({ ...GOOD, aud: ['other', 'mcpgate-api'] }));
    assert.equal((await post(strict.gatewayUrl, bearer(idp.mint({ ...GOOD, scope: 'api://mcpgate/tools.call' })))).status, 403);
  });

  test('Cognito-style access token: client_id and no aud, allowedClients', async () => {
    await listAndCall(cognito, idp.mint(COGNITO_GOOD));
    assertBadToken(await post(cognito.gatewayUrl, bearer(idp.mint({ ...COGNITO_GOOD, client_id: 'another-app-client' }))),
      cognito, 'client not allowed');
  });

  test('Entra-style access token: aud = app id, azp, scp, roles', async () => {
    await listAndCall(entra, idp.mint(ENTRA_GOOD));
    await accepted(entra, idp.mint({ ...ENTRA_GOOD, scp: ['User.Read', 'access_as_user'] }));
    assertBadToken(await post(entra.gatewayUrl, bearer(idp.mint({ ...ENTRA_GOOD, azp: 'not-the-client' }))),
      entra, 'client not allowed', { scope: 'access_as_user' });
    assertBadToken(await post(entra.gatewayUrl, bearer(idp.mint({ ...ENTRA_GOOD, roles: ['Other'] }))),
      entra, 'token claims not allowed', { scope: 'access_as_user' });
    const r = await post(entra.gatewayUrl, bearer(idp.mint({ ...ENTRA_GOOD, scp: 'User.Read' })));
    assert.equal(r.status, 403, r.text);
  });

  test('the SDK OAuth client-credentials flow finds the issuer from the 401 and gets in', async () => {
    const before = idp.issued.length;
    const authProvider = new ClientCredentialsProvider({
      clientId: 'cc-client', clientSecret: 'cc-secret', expectedIssuer: idp.issuer, scope: 'tools/call',
    });
    // the issuer's tokens for this client carry the department claim the gateway wants
    idp.clients['cc-client'].claims = { department: 'engineering', aud: 'mcpgate-api' };
    const transport = new StreamableHTTPClientTransport(new URL(strict.gatewayUrl), { authProvider });
    const client = new Client({ name: 'jwt-e2e-oauth', version: '1.0.0' });
    try {
      await client.connect(transport);
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === 'api___whoami'));
    } finally {
      await client.close();
    }
    assert.equal(idp.issued.length, before + 1);
    const issued = idp.issued.at(-1);
    sentTokens.add(issued.token);
    assert.equal(issued.clientId, 'cc-client');
    assert.equal(issued.resource, strict.gatewayUrl, 'the RFC 8707 resource is the PRM resource');
  });
});

describe('MCP sessions', () => {
  test('a session belongs to the token holder that opened it (issuer and subject)', async () => {
    const c = control(gw, A.root);
    const out = await c.send(new CreateGatewayCommand({
      name: gwName(), protocolType: 'MCP', authorizerType: 'CUSTOM_JWT', roleArn: `arn:aws:iam::${A.id}:role/GatewayRole`,
      protocolConfiguration: { mcp: { sessionConfiguration: { sessionTimeoutInSeconds: 900 } } },
      authorizerConfiguration: { customJWTAuthorizer: { discoveryUrl: idp.discoveryUrl, allowedAudience: ['sess-api'] } },
    }));
    assert.equal((await waitGateway(c, out.gatewayId)).status, 'READY');
    const alice = idp.mint({ aud: 'sess-api', sub: 'alice' });
    const alice2 = idp.mint({ aud: 'sess-api', sub: 'alice', jti: 'another token' });
    const bob = idp.mint({ aud: 'sess-api', sub: 'bob' });
    const init = await post(out.gatewayUrl, bearer(alice));
    assert.equal(init.status, 200, init.text);
    const sid = init.headers.get('mcp-session-id');
    assert.ok(sid, 'a session id');
    const ping = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' });
    const h = { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' };
    // the same holder with a fresh token keeps the session
    let r = await post(out.gatewayUrl, { ...bearer(alice2), ...h }, ping);
    assert.equal(r.status, 200, r.text);
    // another subject of the same issuer cannot use it
    r = await post(out.gatewayUrl, { ...bearer(bob), ...h }, ping);
    assert.equal(r.status, 404, r.text);
  });
});

describe('refusals: 401 invalid_token with the reason', () => {
  const cases = [
    ['expired', () => idp.bad.expired(GOOD), 'token expired'],
    ['without exp', () => idp.mint({ ...GOOD, exp: undefined }), 'token expired'],
    ['not yet valid', () => idp.bad.notYetValid(GOOD), 'token not yet valid'],
    ['issued in the future', () => idp.bad.issuedInFuture(GOOD), 'token issued in the future'],
    ['wrong issuer', () => idp.bad.wrongIssuer(GOOD), 'invalid token issuer'],
    ['another issuer\'s token (its kid is unknown here)', () => rotIdp.mint({ ...GOOD, iss: idp.issuer }), 'no matching signing key'],
    ['wrong audience', () => idp.bad.wrongAudience(GOOD), 'invalid token audience'],
    ['no audience', () => idp.mint({ ...GOOD, aud: undefined }), 'invalid token audience'],
    ['client not allowed', () => idp.bad.clientNotAllowed(GOOD), 'client not allowed'],
    ['custom claim mismatch', () => idp.mint({ ...GOOD, department: 'sales' }), 'token claims not allowed'],
    ['custom claim of another type', () => idp.mint({ ...GOOD, department: ['engineering'] }), 'token claims not allowed'],
    ['unknown kid', () => idp.bad.unknownKid(GOOD), 'no matching signing key'],
    ['a published kid, another key', () => idp.bad.foreignKey(GOOD, { alg: 'ES256' }), 'invalid token signature'],
    ...Object.keys(ALGS).map((alg) => [`bad signature (${alg})`, () => idp.bad.badSignature(GOOD, { alg }), 'invalid token signature']),
    ['alg none, empty signature', () => idp.bad.algNone(GOOD), 'malformed token'],
    ['alg none with a signature', () => idp.bad.algNoneSigned(GOOD), 'unsupported token algorithm or header'],
    ['HS256 keyed with the RSA public key', () => idp.bad.hs256PublicKey(GOOD), 'unsupported token algorithm or header'],
    ['a key carried in the header (jwk)', () => idp.bad.embeddedJwk(GOOD), 'unsupported token algorithm or header'],
    ['RS256 header on an ES256 key\'s kid', () => idp.mint(GOOD, { alg: 'RS256', kid: idp.key('ES256').kid }), 'no matching signing key'],
  ];
  for (const [name, make, reason] of cases) {
    test(name, async () => {
      const r = await post(strict.gatewayUrl, bearer(make()));
      assertBadToken(r, strict, reason, { scope: STRICT_SCOPE_HEADER });
    });
  }

  test('malformed tokens', async () => {
    for (const t of idp.bad.malformed()) {
      const r = await post(strict.gatewayUrl, bearer(t));
      assertBadToken(r, strict, 'malformed token', { scope: STRICT_SCOPE_HEADER });
    }
  });

  test('missing token: 401 "Missing Bearer token" (POST, GET and DELETE)', async () => {
    for (const method of ['POST', 'GET', 'DELETE']) {
      const r = await post(strict.gatewayUrl, {}, INIT, fetch, method);
      assert401(r, strict, 'missing bearer token', 'Missing Bearer token', { scope: STRICT_SCOPE_HEADER });
    }
    // no scope= where the gateway has no allowedScopes
    assert401(await post(cognito.gatewayUrl), cognito, 'missing bearer token', 'Missing Bearer token');
  });

  test('an empty bearer token and other schemes', async () => {
    // "Bearer" and nothing else (fetch drops the trailing space): refused as invalid_token
    const empty = await post(strict.gatewayUrl, { authorization: 'Bearer ' });
    assert.equal(empty.status, 401, empty.text);
    assert.equal(parseChallenge(empty.headers.get('www-authenticate')).params.error, 'invalid_token');
    assert.equal(parseChallenge(empty.headers.get('www-authenticate')).params.resource_metadata,
      prmUrl(strict.gatewayUrl));
    for (const authorization of ['Basic YWdlbnQtMTpzZWNyZXQ=', 'Token abc', `DPoP ${idp.mint(GOOD)}`]) {
      const r = await post(strict.gatewayUrl, { authorization });
      assert401(r, strict, 'bearer token required', MISMATCH_JWT, { scope: STRICT_SCOPE_HEADER });
    }
  });

  test('SigV4-signed request (the SDK\'s signing fetch, and curl --aws-sigv4)', async () => {
    const r = await post(strict.gatewayUrl, {}, INIT, signedFetch(A.root));
    assert401(r, strict, 'bearer token required', MISMATCH_JWT, { scope: STRICT_SCOPE_HEADER });
    const c = spawnSync('curl', ['-sS', '-i', '--aws-sigv4', 'aws:amz:us-east-1:bedrock-agentcore',
      '--user', `${A.root.accessKeyId}:${A.root.secretAccessKey}`,
      '-H', 'content-type: application/json', '-H', 'accept: application/json, text/event-stream',
      '--data-binary', INIT, strict.gatewayUrl], { encoding: 'utf8' });
    assert.equal(c.status, 0, c.stderr);
    const [head, ...bodyParts] = c.stdout.split('\r\n\r\n');
    const headers = new Headers();
    for (const line of head.split('\r\n').slice(1)) {
      const i = line.indexOf(':');
      headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
    }
    const text = bodyParts.join('\r\n\r\n');
    assert401({ status: Number(head.split(' ')[1]), headers, text, json: JSON.parse(text) }, strict,
      'bearer token required', MISMATCH_JWT, { scope: STRICT_SCOPE_HEADER });
  });
});

describe('refusals: 403 insufficient_scope', () => {
  test('a valid token with none of the allowed scopes', async () => {
    for (const t of [idp.bad.missingScope(GOOD), idp.mint({ ...GOOD, scope: undefined })]) {
      const r = await post(strict.gatewayUrl, bearer(t));
      assert.equal(r.status, 403, r.text);
      assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(r.json, { jsonrpc: '2.0', id: null, error: { code: -32001, message: INSUFFICIENT } });
      const c = parseChallenge(r.headers.get('www-authenticate'));
      assert.equal(c.scheme, 'Bearer');
      assert.deepEqual(c.params, {
        error: 'insufficient_scope', error_description: 'insufficient scope', scope: STRICT_SCOPE_HEADER,
        resource_metadata: prmUrl(strict.gatewayUrl),
      });
    }
  });
});

describe('protected-resource metadata (RFC 9728)', () => {
  test('the document named by resource_metadata names the issuer and the advertised scopes', async () => {
    const r401 = await post(strict.gatewayUrl);
    const url = parseChallenge(r401.headers.get('www-authenticate')).params.resource_metadata;
    assert.equal(url, prmUrl(strict.gatewayUrl));
    const r = await fetch(url);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(await r.json(), {
      resource: strict.gatewayUrl,
      authorization_servers: [idp.issuer],
      scopes_supported: ['tools/read', 'api://mcpgate/tools.call'],
      bearer_methods_supported: ['header'],
    });
  });

  test('no scopes_supported without allowedScopes; each gateway names its own issuer', async () => {
    let r = await fetch(prmUrl(cognito.gatewayUrl));
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), {
      resource: cognito.gatewayUrl, authorization_servers: [idp.issuer], bearer_methods_supported: ['header'],
    });
    r = await fetch(prmUrl(rotGw.gatewayUrl));
    assert.equal(r.status, 200);
    assert.deepEqual((await r.json()).authorization_servers, [rotIdp.issuer]);
  });

  test('404 on AWS_IAM and AUTHENTICATE_ONLY gateways and for unknown gateways', async () => {
    for (const g of [iamGw, authOnly]) assert.equal((await fetch(prmUrl(g.gatewayUrl))).status, 404, g.gatewayUrl);
    const u = new URL(strict.gatewayUrl);
    const missing = `${u.origin}/.well-known/oauth-protected-resource/gateways/nosuchgw-0123456789/mcp`;
    assert.equal((await fetch(missing)).status, 404);
  });
});

/** A request to 127.0.0.1:port with a Host header of our choosing (fetch cannot set Host). */
function hostRequest(port, host, path, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers: { host, ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: new Headers(res.headers), text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('protected-resource metadata of host-routed gateways', () => {
  let gw2;
  after(async () => {
    await gw2?.stop();
    const err = gw2?.stderr() ?? '';
    assert.doesNotMatch(err, /ERROR: AddressSanitizer|runtime error/);
    assert.doesNotMatch(err, /#\d+ .* in \S+ \S*\/src\/(mcp|oidc|jwt|http|agentcore|call)\//);
  });

  test('https://ID.gateway.X/mcp names https://ID.gateway.X/.well-known/oauth-protected-resource', async () => {
    gw2 = await startMcpServer({ args: ['--gateway-url-template', 'http://{id}.gateway.localhost/mcp'] });
    const acct = gw2.accounts[0];
    const c = control(gw2, acct.root);
    const out = await c.send(new CreateGatewayCommand({
      name: gwName(), protocolType: 'MCP', authorizerType: 'CUSTOM_JWT', roleArn: `arn:aws:iam::${acct.id}:role/GatewayRole`,
      authorizerConfiguration: { customJWTAuthorizer: { discoveryUrl: idp.discoveryUrl, allowedScopes: ['tools/read'] } },
    }));
    assert.equal((await waitGateway(c, out.gatewayId)).status, 'READY');
    const host = `${out.gatewayId}.gateway.localhost`;
    assert.equal(out.gatewayUrl, `http://${host}/mcp`);
    const prm = `http://${host}/.well-known/oauth-protected-resource`;
    const r = await hostRequest(gw2.port, host, '/mcp', { method: 'POST', headers: JSON_HEADERS, body: INIT });
    assert.equal(r.status, 401, r.text);
    assert.deepEqual(parseChallenge(r.headers.get('www-authenticate')).params, {
      error: 'invalid_token', error_description: 'missing bearer token', scope: 'tools/read', resource_metadata: prm,
    });
    const want = {
      resource: out.gatewayUrl, authorization_servers: [idp.issuer], scopes_supported: ['tools/read'],
      bearer_methods_supported: ['header'],
    };
    for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
      const d = await hostRequest(gw2.port, host, path);
      assert.equal(d.status, 200, `${path}: ${d.text}`);
      assert.deepEqual(d.json, want);
    }
    // a token works there too
    const ok = await hostRequest(gw2.port, host, '/mcp', {
      method: 'POST', headers: { ...JSON_HEADERS, ...bearer(idp.mint({ scope: 'tools/read' })) }, body: INIT,
    });
    assert.equal(ok.status, 200, ok.text);
  });
});

describe('keys: rotation, the unknown-kid refetch, an issuer that goes down', () => {
  test('a token with the new kid is accepted after the issuer rotates, without a restart', async (t) => {
    await accepted(rotGw, rotIdp.mint({ aud: 'rot-api' }));
    const oldKey = rotIdp.key('RS256');
    const fetches = rotIdp.count(rotIdp.jwksPath);
    await rotIdp.rotate();
    assert.notEqual(rotIdp.key('RS256').kid, oldKey.kid);
    // The unknown kid makes mcpgate refetch the JWKS. Should the refetch that fetched the keys
    // when the gateway was made count against the 30 s rate limit, the first try may still be
    // refused: a client tries again, and within the window it must get in.
    const t0 = Date.now();
    let r;
    for (;;) {
      r = await post(rotGw.gatewayUrl, bearer(rotIdp.mint({ aud: 'rot-api' })));
      if (r.status === 200 || Date.now() - t0 > 35000) break;
      assertBadToken(r, rotGw, 'no matching signing key');
      await new Promise((res) => setTimeout(res, 1000));
    }
    assert.equal(r.status, 200, r.text);
    t.diagnostic(`new kid accepted after ${Date.now() - t0} ms`);
    await listAndCall(rotGw, rotIdp.mint({ aud: 'rot-api' }));
    await accepted(rotGw, rotIdp.mint({ aud: 'rot-api' }, { alg: 'ES256' }));
    const refetches = rotIdp.count(rotIdp.jwksPath) - fetches;
    assert.ok(refetches >= 1 && refetches <= 2, `${refetches} JWKS refetches`);
    // the retired key is gone from mcpgate's keys too
    assertBadToken(await post(rotGw.gatewayUrl, bearer(rotIdp.mint({ aud: 'rot-api' }, { key: oldKey }))),
      rotGw, 'no matching signing key');
  });

  test('a flood of unknown kids makes at most one JWKS refetch within 30 s', async (t) => {
    await accepted(floodGw, floodIdp.mint({ aud: 'flood-api' }, { alg: 'ES256' }));
    floodIdp.resetCounts();
    const t0 = Date.now();
    for (let batch = 0; batch < 5; batch++) {
      const rs = await Promise.all(Array.from({ length: 10 }, () =>
        post(floodGw.gatewayUrl, bearer(floodIdp.bad.unknownKid({ aud: 'flood-api' }, { alg: 'ES256' })))));
      for (const r of rs) assertBadToken(r, floodGw, 'no matching signing key');
    }
    assert.ok(Date.now() - t0 < 30000, 'the flood ran within the 30 s window');
    t.diagnostic(`50 unknown kids: ${floodIdp.count(floodIdp.jwksPath)} JWKS and ${floodIdp.count(floodIdp.discoveryPath)} discovery fetches`);
    assert.ok(floodIdp.count(floodIdp.jwksPath) <= 1, `JWKS fetched ${floodIdp.count(floodIdp.jwksPath)} times`);
    assert.ok(floodIdp.count(floodIdp.discoveryPath) <= 1, `discovery fetched ${floodIdp.count(floodIdp.discoveryPath)} times`);
    // the known key still works, from the cache
    await accepted(floodGw, floodIdp.mint({ aud: 'flood-api' }, { alg: 'ES256' }));
    assert.ok(floodIdp.count(floodIdp.jwksPath) <= 1);
  });

  test('an issuer that goes down: cached keys keep working; back up, still fine', async () => {
    await accepted(downGw, downIdp.mint({ aud: 'down-api' }, { alg: 'ES256' }));
    await downIdp.down();
    try {
      await listAndCall(downGw, downIdp.mint({ aud: 'down-api' }, { alg: 'ES256' }));
      // an unknown kid cannot be fetched: still the plain refusal, and mcpgate stays up
      assertBadToken(await post(downGw.gatewayUrl, bearer(downIdp.bad.unknownKid({ aud: 'down-api' }, { alg: 'ES256' }))),
        downGw, 'no matching signing key');
      assert.ok(gw.alive());
    } finally {
      await downIdp.up();
    }
    await accepted(downGw, downIdp.mint({ aud: 'down-api' }, { alg: 'ES256' }));
  });
});

describe('restart with the issuer down', () => {
  let gwA;
  let gwB;
  let rIdp;
  let dir;
  let shared; // gwB starts on gwA's store
  after(async () => {
    await gwA?.stop();
    await gwB?.stop();
    await rIdp?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    await shared?.drop();
    for (const g of [gwA, gwB]) {
      const err = g?.stderr() ?? '';
      assert.doesNotMatch(err, /ERROR: AddressSanitizer|runtime error/);
      assert.doesNotMatch(err, /#\d+ .* in \S+ \S*\/src\/(mcp|oidc|jwt|http|agentcore|call)\//);
    }
  });

  test('no keys held and none to fetch: 401 "signing keys unavailable"; the issuer back: accepted', async () => {
    rIdp = await startIssuer({ realm: 'restart', algs: ['ES256'] });
    dir = await mkdtemp(path.join(os.tmpdir(), 'mcpgate-jwt-restart-'));
    const accounts = mcpAccounts();
    shared = await sharedStore();
    gwA = await startMcpServer({ accounts, args: ['--data', dir], ...shared.opts });
    const acct = accounts[0];
    let c = control(gwA, acct.root);
    const out = await c.send(new CreateGatewayCommand({
      name: gwName(), protocolType: 'MCP', authorizerType: 'CUSTOM_JWT', roleArn: `arn:aws:iam::${acct.id}:role/GatewayRole`,
      authorizerConfiguration: { customJWTAuthorizer: { discoveryUrl: rIdp.discoveryUrl, allowedAudience: ['r-api'] } },
    }));
    assert.equal((await waitGateway(c, out.gatewayId)).status, 'READY');
    await gwA.stop();
    await rIdp.down();
    gwB = await startMcpServer({ accounts, args: ['--data', dir], ...shared.opts });
    c = control(gwB, acct.root);
    const g = await c.send(new GetGatewayCommand({ gatewayIdentifier: out.gatewayId }));
    assert.equal(g.status, 'READY');
    const token = rIdp.mint({ aud: 'r-api' }, { alg: 'ES256' });
    assert401(await post(g.gatewayUrl, bearer(token)), g, 'signing keys unavailable', KEYS_UNAVAILABLE);
    // the protected-resource metadata still names the issuer (from the discovery URL)
    const prm = await fetch(prmUrl(g.gatewayUrl));
    assert.equal(prm.status, 200);
    const doc = await prm.json();
    assert.deepEqual(doc.authorization_servers, [rIdp.issuer]);
    assert.equal(doc.resource, g.gatewayUrl);
    await rIdp.up();
    // after a failed fetch the URL is not fetched again for MG_OIDC_RETRY_S (5 s): until then
    // the same answer, then the token is accepted
    const t0 = Date.now();
    let r;
    for (;;) {
      r = await post(g.gatewayUrl, bearer(token));
      if (r.status === 200 || Date.now() - t0 > 15000) break;
      assert401(r, g, 'signing keys unavailable', KEYS_UNAVAILABLE);
      await new Promise((res) => setTimeout(res, 500));
    }
    assert.equal(r.status, 200, r.text);
  });
});

describe('AWS_IAM and AUTHENTICATE_ONLY gateways', () => {
  test('a bearer token on an AWS_IAM gateway: 403 AccessDeniedException', async () => {
    const r = await post(iamGw.gatewayUrl, bearer(idp.mint(GOOD)));
    assert.equal(r.status, 403, r.text);
    assert.equal(r.headers.get('x-amzn-errortype'), 'AccessDeniedException');
    assert.equal(r.json.message, MISMATCH_IAM);
    assert.equal(r.headers.get('www-authenticate'), null);
  });

  test('AUTHENTICATE_ONLY: a caller of another account with no policy at all gets tools/list', async () => {
    const stranger = B.users.dev; // no inline or managed policy
    // the same caller is denied on an AWS_IAM gateway (no identity or resource policy allows it)
    const denied = await post(iamGw.gatewayUrl, {}, INIT, signedFetch(stranger));
    assert.equal(denied.status, 403, denied.text);
    assert.equal(denied.headers.get('x-amzn-errortype'), 'AccessDeniedException');
    const transport = new StreamableHTTPClientTransport(new URL(authOnly.gatewayUrl), { fetch: signedFetch(stranger) });
    const client = new Client({ name: 'jwt-e2e-sigv4', version: '1.0.0' });
    try {
      await client.connect(transport);
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === 'api___whoami'));
      const r = await client.callTool({ name: 'api___whoami', arguments: {} });
      assert.equal(r.isError, false);
    } finally {
      await client.close();
    }
  });

  test('AUTHENTICATE_ONLY still verifies the signature: bad signature, unknown key, unsigned', async () => {
    const stranger = B.users.dev;
    const last = stranger.secretAccessKey.slice(-1);
    const wrongSecret = stranger.secretAccessKey.slice(0, -1) + (last === 'X' ? 'Y' : 'X');
    let r = await post(authOnly.gatewayUrl, {}, INIT,
      signedFetch({ accessKeyId: stranger.accessKeyId, secretAccessKey: wrongSecret }));
    assert.equal(r.status, 403, r.text);
    assert.equal(r.headers.get('x-amzn-errortype'), 'InvalidSignatureException');
    r = await post(authOnly.gatewayUrl, {}, INIT,
      signedFetch({ accessKeyId: 'AKIAAAAAAAAAAAAAAAAA', secretAccessKey: stranger.secretAccessKey }));
    assert.equal(r.status, 403, r.text);
    assert.equal(r.headers.get('x-amzn-errortype'), 'UnrecognizedClientException');
    r = await post(authOnly.gatewayUrl);
    assert.equal(r.status, 403, r.text);
    assert.equal(r.headers.get('x-amzn-errortype'), 'MissingAuthenticationTokenException');
  });

  test('AUTHENTICATE_ONLY refuses bearer tokens like AWS_IAM', async () => {
    const r = await post(authOnly.gatewayUrl, bearer(idp.mint(GOOD)));
    assert.equal(r.status, 403, r.text);
    assert.equal(r.headers.get('x-amzn-errortype'), 'AccessDeniedException');
    assert.match(r.json.message, /^Authorization method mismatch: this gateway authorizes callers with AUTHENTICATE_ONLY\b.*bearer tokens are not accepted\.$/);
  });
});

describe('control plane', () => {
  const base = () => ({
    name: gwName(), protocolType: 'MCP', authorizerType: 'CUSTOM_JWT', roleArn: `arn:aws:iam::${A.id}:role/GatewayRole`,
  });

  test('ValidationException when no audience, client, scope or claim is set', async () => {
    const c = control(gw, A.root);
    await assert.rejects(c.send(new CreateGatewayCommand({
      ...base(), authorizerConfiguration: { customJWTAuthorizer: { discoveryUrl: idp.discoveryUrl } },
    })), (e) => e.name === 'ValidationException');
  });

  test('ValidationException for a discovery URL that is not https (http only to loopback)', async () => {
    const c = control(gw, A.root);
    for (const discoveryUrl of ['http://idp.example.com/.well-known/openid-configuration',
      'ftp://127.0.0.1/.well-known/openid-configuration']) {
      await assert.rejects(c.send(new CreateGatewayCommand({
        ...base(), authorizerConfiguration: { customJWTAuthorizer: { discoveryUrl, allowedAudience: ['a'] } },
      })), (e) => e.name === 'ValidationException', discoveryUrl);
    }
  });

  test('an unreachable discovery URL: FAILED with a statusReasons entry', async () => {
    const c = control(gw, A.root);
    const port = await freePort();
    const discoveryUrl = `http://127.0.0.1:${port}/.well-known/openid-configuration`;
    const out = await c.send(new CreateGatewayCommand({
      ...base(), authorizerConfiguration: { customJWTAuthorizer: { discoveryUrl, allowedAudience: ['a'] } },
    }));
    const g = await waitGateway(c, out.gatewayId);
    assert.equal(g.status, 'FAILED');
    assert.equal(g.statusReasons.length, 1);
    assert.ok(g.statusReasons[0].startsWith(`Unable to fetch the OpenID configuration from ${discoveryUrl}: `),
      g.statusReasons[0]);
  });

  test('an issuer that answers 503: FAILED; the issuer back: UpdateGateway reaches READY', async () => {
    const c = control(gw, A.root);
    const input = { ...base(), authorizerConfiguration: { customJWTAuthorizer: { discoveryUrl: downIdp.discoveryUrl, allowedAudience: ['a'] } } };
    await downIdp.down({ mode: 'error' });
    let g;
    let out;
    try {
      out = await c.send(new CreateGatewayCommand(input));
      g = await waitGateway(c, out.gatewayId);
    } finally {
      await downIdp.up();
    }
    assert.equal(g.status, 'FAILED');
    assert.match(g.statusReasons[0], new RegExp(`^Unable to fetch the OpenID configuration from ${downIdp.discoveryUrl.replace(/[.?]/g, '\\$&')}: `));
    await c.send(new UpdateGatewayCommand({ gatewayIdentifier: out.gatewayId, ...input }));
    g = await waitGateway(c, out.gatewayId);
    assert.equal(g.status, 'READY', JSON.stringify(g.statusReasons));
  });

  test('JWT_PASSTHROUGH on a target of an AUTHENTICATE_ONLY gateway: ValidationException', async () => {
    const c = control(gw, A.root);
    await assert.rejects(c.send(new CreateGatewayTargetCommand({
      gatewayIdentifier: authOnly.gatewayId, name: 'passthrough',
      targetConfiguration: { mcp: { openApiSchema: { inlinePayload: whoamiSpec(upstream.address().port) } } },
      credentialProviderConfigurations: [{ credentialProviderType: 'JWT_PASSTHROUGH' }],
    })), (e) => e.name === 'ValidationException');
  });

  test('AUTHENTICATE_ONLY takes no authorizerConfiguration', async () => {
    const c = control(gw, A.root);
    await assert.rejects(c.send(new CreateGatewayCommand({
      ...base(), authorizerType: 'AUTHENTICATE_ONLY',
      authorizerConfiguration: { customJWTAuthorizer: { discoveryUrl: idp.discoveryUrl, allowedAudience: ['a'] } },
    })), (e) => e.name === 'ValidationException');
  });

  test('UpdateGateway to an unreachable discovery URL: UPDATE_UNSUCCESSFUL', async () => {
    const c = control(gw, A.root);
    const input = { ...base(), authorizerConfiguration: { customJWTAuthorizer: { discoveryUrl: idp.discoveryUrl, allowedAudience: ['a'] } } };
    const out = await c.send(new CreateGatewayCommand(input));
    assert.equal((await waitGateway(c, out.gatewayId)).status, 'READY');
    const port = await freePort();
    const discoveryUrl = `http://127.0.0.1:${port}/.well-known/openid-configuration`;
    await c.send(new UpdateGatewayCommand({
      gatewayIdentifier: out.gatewayId, ...input,
      authorizerConfiguration: { customJWTAuthorizer: { discoveryUrl, allowedAudience: ['a'] } },
    }));
    const g = await waitGateway(c, out.gatewayId);
    assert.equal(g.status, 'UPDATE_UNSUCCESSFUL');
    assert.ok(g.statusReasons.some((s) => s.startsWith(`Unable to fetch the OpenID configuration from ${discoveryUrl}: `)),
      JSON.stringify(g.statusReasons));
  });
});

