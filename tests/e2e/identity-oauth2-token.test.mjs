// GetResourceOauth2Token's M2M flow against a real OAuth2 token endpoint (a node http server the
// test starts): the client-credentials request mcpgate sends (grant type, scope, Basic client
// authentication, custom parameters), the token cached until a minute before it expires and
// fetched again after, a token endpoint found through a discovery document, a refused client
// answered with the endpoint's error code and never the secret, and the flows mcpgate does not
// implement refused as such.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  BedrockAgentCoreControlClient,
  CreateOauth2CredentialProviderCommand,
  CreateWorkloadIdentityCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import {
  BedrockAgentCoreClient,
  GetResourceOauth2TokenCommand,
  GetWorkloadAccessTokenCommand,
} from '@aws-sdk/client-bedrock-agentcore';
import { startServer } from './lib/server.mjs';
import { makeClient } from './lib/aws.mjs';

const GOOD = { id: 'client-good', secret: 'good-secret-4f1c9a' };
const BAD = { id: 'client-bad', secret: 'never-show-me-7d2e0b' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A token endpoint and discovery document on 127.0.0.1. */
async function startIdp() {
  const idp = { requests: [], issued: 0, discoveries: 0, ttl: 62 };
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const json = (status, obj) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(obj));
      };
      if (req.method === 'GET' && req.url === '/.well-known/openid-configuration') {
        idp.discoveries++;
        return json(200, {
          issuer: idp.base,
          authorization_endpoint: `${idp.base}/authorize`,
          token_endpoint: `${idp.base}/oauth2/token`,
        });
      }
      if (req.method !== 'POST' || req.url !== '/oauth2/token') return json(404, {});
      const form = Object.fromEntries(new URLSearchParams(body));
      const auth = req.headers.authorization ?? '';
      const [id, secret] = auth.startsWith('Basic ')
        ? Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':').map(decodeURIComponent)
        : [form.client_id, form.client_secret];
      idp.requests.push({ form, id, contentType: req.headers['content-type'], basic: auth.startsWith('Basic ') });
      if (form.grant_type !== 'client_credentials') return json(400, { error: 'unsupported_grant_type' });
      if (id !== GOOD.id || secret !== GOOD.secret) {
        return json(401, { error: 'invalid_client', error_description: 'client authentication failed' });
      }
      idp.issued++;
      return json(200, { access_token: `tok-${idp.issued}`, token_type: 'Bearer', expires_in: idp.ttl });
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  idp.base = `http://127.0.0.1:${server.address().port}`;
  idp.close = () => new Promise((r) => server.close(r));
  return idp;
}

describe('GetResourceOauth2Token (M2M)', () => {
  let gw;
  let idp;
  let control;
  let data;
  let workloadToken;

  const provider = (name, client, oauthDiscovery) => control.send(new CreateOauth2CredentialProviderCommand({
    name,
    credentialProviderVendor: 'CustomOauth2',
    oauth2ProviderConfigInput: {
      customOauth2ProviderConfig: { oauthDiscovery, clientId: client.id, clientSecret: client.secret },
    },
  }));
  const metadata = () => ({
    authorizationServerMetadata: {
      issuer: idp.base,
      authorizationEndpoint: `${idp.base}/authorize`,
      tokenEndpoint: `${idp.base}/oauth2/token`,
    },
  });
  const token = (name, extra = {}) => data.send(new GetResourceOauth2TokenCommand({
    workloadIdentityToken: workloadToken,
    resourceCredentialProviderName: name,
    scopes: ['api/read', 'api/write'],
    oauth2Flow: 'M2M',
    ...extra,
  }));

  before(async () => {
    idp = await startIdp();
    gw = await startServer();
    const root = gw.accounts[0].root;
    control = makeClient(BedrockAgentCoreControlClient, gw, root);
    data = makeClient(BedrockAgentCoreClient, gw, root);
    await provider('idp-good', GOOD, metadata());
    await provider('idp-bad', BAD, metadata());
    await provider('idp-discovered', GOOD,
      { discoveryUrl: `${idp.base}/.well-known/openid-configuration` });
    await control.send(new CreateWorkloadIdentityCommand({ name: 'agent-1' }));
    const wt = await data.send(new GetWorkloadAccessTokenCommand({ workloadName: 'agent-1' }));
    workloadToken = wt.workloadAccessToken;
    assert.ok(workloadToken);
  });

  after(async () => {
    await gw?.stop();
    await idp?.close();
  });

  test('a client-credentials token, cached, fetched again once it nears expiry', async () => {
    const before = idp.requests.length;
    const first = await token('idp-good', { customParameters: { audience: 'https://api.example.com' } });
    assert.equal(first.accessToken, 'tok-1');
    const sent = idp.requests.at(-1);
    assert.equal(idp.requests.length, before + 1);
    assert.equal(sent.contentType, 'application/x-www-form-urlencoded');
    assert.equal(sent.form.grant_type, 'client_credentials');
    assert.equal(sent.form.scope, 'api/read api/write');
    assert.equal(sent.form.audience, 'https://api.example.com');
    assert.ok(sent.basic, 'client_secret_basic is the default');
    assert.equal(sent.form.client_secret, undefined);

    // the same request again: from the cache
    const again = await token('idp-good', { customParameters: { audience: 'https://api.example.com' } });
    assert.equal(again.accessToken, 'tok-1');
    assert.equal(idp.requests.length, before + 1);

    // other scopes are another token
    const other = await token('idp-good', { scopes: ['api/read'] });
    assert.equal(other.accessToken, 'tok-2');
    assert.equal(idp.requests.length, before + 2);

    // expires_in 62: a minute before expiry (2 s from now) the token is no longer used
    await sleep(2500);
    const later = await token('idp-good', { customParameters: { audience: 'https://api.example.com' } });
    assert.equal(later.accessToken, 'tok-3');
    assert.equal(idp.requests.length, before + 3);
  });

  test('the token endpoint found through the discovery document', async () => {
    const d0 = idp.discoveries;
    const r = await token('idp-discovered', { scopes: ['discovered'] });
    assert.match(r.accessToken, /^tok-\d+$/);
    assert.equal(idp.discoveries, d0 + 1);
    assert.equal(idp.requests.at(-1).form.scope, 'discovered');
  });

  test('a refused client: the endpoint\'s error code, never the secret', async () => {
    const err = await token('idp-bad').then(() => null, (e) => e);
    assert.ok(err, 'the call must fail');
    assert.equal(err.name, 'ValidationException');
    assert.match(err.message, /invalid_client/);
    assert.ok(!err.message.includes(BAD.secret));
    assert.equal(idp.requests.at(-1).id, BAD.id);
    assert.ok(!gw.stderr().includes(BAD.secret), 'the secret is never logged');
    assert.ok(!gw.stderr().includes(GOOD.secret), 'the secret is never logged');
  });

  test('an unknown provider is not found', async () => {
    const err = await token('no-such-provider').then(() => null, (e) => e);
    assert.ok(err);
    assert.equal(err.$metadata.httpStatusCode, 404);
    assert.equal(err.name, 'ResourceNotFoundException');
  });

  test('USER_FEDERATION and ON_BEHALF_OF_TOKEN_EXCHANGE are not implemented', async () => {
    for (const flow of ['USER_FEDERATION', 'ON_BEHALF_OF_TOKEN_EXCHANGE']) {
      const err = await token('idp-good', { oauth2Flow: flow }).then(() => null, (e) => e);
      assert.ok(err, flow);
      assert.equal(err.$metadata.httpStatusCode, 501);
      assert.match(err.message, new RegExp(`mcpgate does not implement oauth2Flow ${flow}`));
    }
  });

  test('a forged workload access token is refused', async () => {
    const err = await data.send(new GetResourceOauth2TokenCommand({
      workloadIdentityToken: 'forged-token',
      resourceCredentialProviderName: 'idp-good',
      scopes: [],
      oauth2Flow: 'M2M',
    })).then(() => null, (e) => e);
    assert.ok(err);
    assert.ok([400, 403].includes(err.$metadata.httpStatusCode));
  });
});
