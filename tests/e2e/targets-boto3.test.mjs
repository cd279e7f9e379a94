// The control plane of credential providers, workload identities and the newer target kinds
// through boto3 (Debian's python3-boto3 with the vendored AgentCore models, as lib/python.mjs
// runs it): API-key providers (create / get / list / update / delete), a CustomOauth2 provider
// (create / get: never the secret), a workload identity with a workload access token and
// GetResourceApiKey on the data plane, a gateway with an OpenAPI target using API_KEY
// credentials and an MCP-server target (upstreams the test runs), get / list (targetType) /
// synchronize, and a Swagger 2.0 document refused with botocore's ClientError. Then the MCP
// TypeScript SDK calls the boto3-made OpenAPI tool, which reaches its API with the key.
// Skipped, with the reason, when no Python imports boto3 with the AgentCore models.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { connect, listAll, startMcpServer } from './lib/mcp.mjs';
import { boto3Env, boto3Python } from './lib/python.mjs';

const FIRST_KEY = 'first-key-90a1c3';
const API_KEY = 'api-key-boto3-4e7b2d';
const CLIENT_SECRET = 'oauth-secret-b0705c8e';

let python = null;
let skipReason = '';
try {
  python = boto3Python().python;
} catch (e) {
  skipReason = e.message;
}

let gw;
let A;
let api; // the OpenAPI target's upstream: wants `x-api-key: API_KEY`
let mcpUp; // an MCP server for the MCP-server target
const apiSeen = [];
let out; // what the boto3 script reported

const SCRIPT = String.raw`
import json, sys, time
import boto3
from botocore.exceptions import ClientError

endpoint, region, role_arn, api_port, mcp_url, first_key, api_key, client_secret = sys.argv[1:9]
s = boto3.session.Session(region_name=region)
ctl = s.client("bedrock-agentcore-control", endpoint_url=endpoint)
dp = s.client("bedrock-agentcore", endpoint_url=endpoint)
out = {"versions": [boto3.__version__, __import__("botocore").__version__]}

def err(fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        return {"code": e.response["Error"]["Code"], "message": e.response["Error"].get("Message", ""),
                "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}
    return None

def clean(d):
    d = dict(d)
    d.pop("ResponseMetadata", None)
    return json.loads(json.dumps(d, default=str))

# ---- API-key credential providers
c = ctl.create_api_key_credential_provider(name="boto-key", apiKey=first_key)
out["apikey_create"] = clean(c)
out["apikey_get"] = clean(ctl.get_api_key_credential_provider(name="boto-key"))
u = ctl.update_api_key_credential_provider(name="boto-key", apiKey=api_key)
out["apikey_update"] = clean(u)
ctl.create_api_key_credential_provider(name="boto-temp", apiKey="temp-key")
out["apikey_list"] = sorted(p["name"] for p in ctl.list_api_key_credential_providers()["credentialProviders"])
out["apikey_delete"] = ctl.delete_api_key_credential_provider(name="boto-temp")["ResponseMetadata"]["HTTPStatusCode"]
out["apikey_get_deleted"] = err(ctl.get_api_key_credential_provider, name="boto-temp")
out["apikey_list_after"] = sorted(p["name"] for p in ctl.list_api_key_credential_providers()["credentialProviders"])

# ---- OAuth2 credential provider (CustomOauth2 with authorization server metadata)
meta = {"issuer": "http://127.0.0.1:9/", "authorizationEndpoint": "http://127.0.0.1:9/authorize",
        "tokenEndpoint": "http://127.0.0.1:9/token"}
o = ctl.create_oauth2_credential_provider(
    name="boto-oauth", credentialProviderVendor="CustomOauth2",
    oauth2ProviderConfigInput={"customOauth2ProviderConfig": {
        "oauthDiscovery": {"authorizationServerMetadata": meta},
        "clientId": "boto-client", "clientSecret": client_secret}})
out["oauth_create"] = clean(o)
out["oauth_get"] = clean(ctl.get_oauth2_credential_provider(name="boto-oauth"))

# ---- workload identity, workload access token, GetResourceApiKey (data plane)
out["workload_create"] = clean(ctl.create_workload_identity(name="boto-agent"))
tok = dp.get_workload_access_token(workloadName="boto-agent")["workloadAccessToken"]
out["workload_token_prefix"] = tok[:7]
out["resource_api_key"] = dp.get_resource_api_key(workloadIdentityToken=tok,
                                                  resourceCredentialProviderName="boto-key")["apiKey"]
out["resource_api_key_bad_token"] = err(dp.get_resource_api_key, workloadIdentityToken=tok[:-4] + "AAAA",
                                        resourceCredentialProviderName="boto-key")
out["resource_api_key_missing"] = err(dp.get_resource_api_key, workloadIdentityToken=tok,
                                      resourceCredentialProviderName="boto-temp")

# ---- a gateway and its targets
def wait(get, key="status", ms=60):
    end = time.time() + ms
    while True:
        r = get()
        if r[key] not in ("CREATING", "UPDATING", "SYNCHRONIZING") or time.time() > end:
            return r
        time.sleep(0.1)

g = ctl.create_gateway(name="boto-gw", roleArn=role_arn, protocolType="MCP", authorizerType="AWS_IAM",
                       exceptionLevel="DEBUG")
gid = g["gatewayId"]
out["gateway"] = {"id": gid, "url": g["gatewayUrl"],
                  "status": wait(lambda: ctl.get_gateway(gatewayIdentifier=gid))["status"]}

openapi = {
    "openapi": "3.0.3", "info": {"title": "notes", "version": "1"},
    "servers": [{"url": "http://127.0.0.1:%s/v1" % api_port}],
    "paths": {"/notes/{id}": {"get": {
        "operationId": "getNote", "summary": "Reads a note",
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "the note"}}}}},
}
key_cred = [{"credentialProviderType": "API_KEY", "credentialProvider": {"apiKeyCredentialProvider": {
    "providerArn": c["credentialProviderArn"], "credentialParameterName": "x-api-key",
    "credentialLocation": "HEADER"}}}]
t1 = ctl.create_gateway_target(gatewayIdentifier=gid, name="notes",
                               targetConfiguration={"mcp": {"openApiSchema": {"inlinePayload": json.dumps(openapi)}}},
                               credentialProviderConfigurations=key_cred)
out["openapi_create_status"] = t1["status"]
out["openapi_target"] = clean(wait(lambda: ctl.get_gateway_target(gatewayIdentifier=gid, targetId=t1["targetId"])))

t2 = ctl.create_gateway_target(gatewayIdentifier=gid, name="upstream",
                               targetConfiguration={"mcp": {"mcpServer": {"endpoint": mcp_url}}})
out["mcp_create_status"] = t2["status"]
out["mcp_target"] = clean(wait(lambda: ctl.get_gateway_target(gatewayIdentifier=gid, targetId=t2["targetId"])))

out["list_targets"] = sorted(({"name": t["name"], "targetType": t.get("targetType"), "status": t["status"]}
                              for t in ctl.list_gateway_targets(gatewayIdentifier=gid)["items"]),
                             key=lambda t: t["name"])

sy = ctl.synchronize_gateway_targets(gatewayIdentifier=gid, targetIdList=[t2["targetId"]])
out["sync_answer"] = [{"targetId": t["targetId"], "status": t["status"]} for t in sy["targets"]]
out["sync_after"] = clean(wait(lambda: ctl.get_gateway_target(gatewayIdentifier=gid, targetId=t2["targetId"])))

swagger = {"swagger": "2.0", "info": {"title": "old", "version": "1"}, "host": "127.0.0.1",
           "paths": {"/x": {"get": {"operationId": "x", "responses": {"200": {"description": "ok"}}}}}}
out["swagger_refused"] = err(ctl.create_gateway_target, gatewayIdentifier=gid, name="swagger",
                             targetConfiguration={"mcp": {"openApiSchema": {"inlinePayload": json.dumps(swagger)}}},
                             credentialProviderConfigurations=key_cred)
out["targets_after_refusal"] = sorted(t["name"] for t in ctl.list_gateway_targets(gatewayIdentifier=gid)["items"])
print(json.dumps(out))
`;

function startMcpUpstream() {
  const sessions = new Map();
  const makeServer = () => {
    const s = new Server({ name: 'upstream', version: '1.0.0' }, { capabilities: { tools: {} } });
    s.setRequestHandler(ListToolsRequestSchema, async () => ({
      tools: [{ name: 'add', description: 'Adds', inputSchema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } } } }],
    }));
    s.setRequestHandler(CallToolRequestSchema, async (r) => ({
      content: [{ type: 'text', text: String(r.params.arguments.a + r.params.arguments.b) }],
    }));
    return s;
  };
  const srv = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
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
    srv.listen(0, '127.0.0.1', () => resolve({ srv, url: `http://127.0.0.1:${srv.address().port}/mcp` }));
  });
}

/** Runs a command to its end; {status, stdout, stderr}; killed after 180 s. */
function run(cmd, args, opts) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 180000);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** The caller's root key and nothing else of the environment's AWS settings. */
function scriptEnv() {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('AWS_')) delete env[k];
  return {
    ...env,
    AWS_ACCESS_KEY_ID: A.root.accessKeyId, AWS_SECRET_ACCESS_KEY: A.root.secretAccessKey,
    AWS_MAX_ATTEMPTS: '1', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  };
}

const close = (srv) => new Promise((r) => { srv.closeAllConnections?.(); srv.close(r); });

describe('boto3: credential providers, workload identities, OpenAPI and MCP-server targets', { skip: python ? false : `boto3 is not available: ${skipReason}` }, () => {
  before(async () => {
    gw = await startMcpServer();
    A = gw.accounts[0];
    api = http.createServer((req, res) => {
      apiSeen.push({ method: req.method, url: req.url, headers: req.headers });
      if (req.headers['x-api-key'] !== API_KEY) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"bad key"}');
        return;
      }
      const m = /^\/v1\/notes\/([^/?]+)$/.exec(req.url);
      if (req.method === 'GET' && m) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: m[1], text: 'remember the milk' }));
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise((r) => api.listen(0, '127.0.0.1', r));
    mcpUp = await startMcpUpstream();

    // asynchronously: the upstreams run in this process and must answer while boto3 works
    const r = await run(python, ['-c', SCRIPT, gw.endpoint, 'us-east-1', `arn:aws:iam::${A.id}:role/GatewayRole`,
      String(api.address().port), mcpUp.url, FIRST_KEY, API_KEY, CLIENT_SECRET], {
      env: boto3Env(scriptEnv()),
    });
    assert.equal(r.status, 0, `boto3 script failed:\n${r.stderr}`);
    out = JSON.parse(r.stdout);
  });
  after(async () => {
    await gw?.stop();
    if (api) await close(api);
    if (mcpUp) await close(mcpUp.srv);
  });

  test('API-key credential providers: create, get, update, list, delete', () => {
    const arn = `arn:aws:bedrock-agentcore:us-east-1:${A.id}:token-vault/default/apikeycredentialprovider/boto-key`;
    assert.equal(out.apikey_create.name, 'boto-key');
    assert.equal(out.apikey_create.credentialProviderArn, arn);
    assert.match(out.apikey_create.apiKeySecretArn.secretArn,
      new RegExp(`^arn:aws:secretsmanager:us-east-1:${A.id}:secret:bedrock-agentcore-identity!default/apikey/boto-key-`));
    assert.equal(out.apikey_get.credentialProviderArn, arn);
    assert.ok(out.apikey_get.createdTime && out.apikey_get.lastUpdatedTime);
    assert.equal(out.apikey_update.credentialProviderArn, arn);
    assert.deepEqual(out.apikey_list, ['boto-key', 'boto-temp']);
    assert.equal(out.apikey_delete, 204);
    assert.equal(out.apikey_get_deleted.code, 'ResourceNotFoundException');
    assert.equal(out.apikey_get_deleted.status, 404);
    assert.deepEqual(out.apikey_list_after, ['boto-key']);
    for (const k of ['apikey_create', 'apikey_get', 'apikey_update']) {
      const s = JSON.stringify(out[k]);
      assert.ok(!s.includes(FIRST_KEY) && !s.includes(API_KEY), `${k} never answers the key`);
    }
  });

  test('an OAuth2 provider (CustomOauth2, authorizationServerMetadata): the secret is never answered', () => {
    assert.equal(out.oauth_create.name, 'boto-oauth');
    assert.match(out.oauth_create.credentialProviderArn, /:token-vault\/default\/oauth2credentialprovider\/boto-oauth$/);
    assert.match(out.oauth_create.callbackUrl, /\/identities\/oauth2\/callback\/[0-9a-f-]{36}$/);
    const cfg = out.oauth_get.oauth2ProviderConfigOutput.customOauth2ProviderConfig;
    assert.equal(cfg.clientId, 'boto-client');
    assert.equal(cfg.oauthDiscovery.authorizationServerMetadata.tokenEndpoint, 'http://127.0.0.1:9/token');
    assert.equal(out.oauth_get.credentialProviderVendor, 'CustomOauth2');
    assert.equal(out.oauth_get.status, 'READY');
    assert.ok(!JSON.stringify(out.oauth_create).includes(CLIENT_SECRET));
    assert.ok(!JSON.stringify(out.oauth_get).includes(CLIENT_SECRET));
  });

  test('a workload identity: access token, GetResourceApiKey answers the updated key', () => {
    assert.equal(out.workload_create.name, 'boto-agent');
    assert.match(out.workload_create.workloadIdentityArn,
      new RegExp(`^arn:aws:bedrock-agentcore:us-east-1:${A.id}:workload-identity-directory/default/workload-identity/boto-agent$`));
    assert.equal(out.workload_token_prefix, 'mgwat1.');
    assert.equal(out.resource_api_key, API_KEY);
    assert.equal(out.resource_api_key_bad_token.code, 'ValidationException');
    assert.equal(out.resource_api_key_bad_token.status, 400);
    assert.equal(out.resource_api_key_missing.code, 'ResourceNotFoundException');
    assert.ok(!gw.stderr().includes(API_KEY) && !gw.stderr().includes(CLIENT_SECRET), 'secrets are never logged');
  });

  test('targets: OpenAPI with API_KEY and MCP server READY; get, list (targetType), synchronize', () => {
    assert.equal(out.gateway.status, 'READY');
    assert.equal(out.openapi_create_status, 'CREATING');
    const ot = out.openapi_target;
    assert.equal(ot.status, 'READY', JSON.stringify(ot.statusReasons));
    assert.equal(ot.name, 'notes');
    assert.ok(ot.targetConfiguration.mcp.openApiSchema.inlinePayload.includes('getNote'));
    assert.equal(ot.credentialProviderConfigurations[0].credentialProviderType, 'API_KEY');
    assert.equal(ot.credentialProviderConfigurations[0].credentialProvider.apiKeyCredentialProvider.credentialParameterName, 'x-api-key');

    assert.equal(out.mcp_create_status, 'CREATING');
    const mt = out.mcp_target;
    assert.equal(mt.status, 'READY', JSON.stringify(mt.statusReasons));
    assert.equal(mt.targetConfiguration.mcp.mcpServer.endpoint, mcpUp.url);
    assert.ok(mt.lastSynchronizedAt);

    assert.deepEqual(out.list_targets, [
      { name: 'notes', targetType: 'OPEN_API_SCHEMA', status: 'READY' },
      { name: 'upstream', targetType: 'MCP_SERVER', status: 'READY' },
    ]);
    assert.deepEqual(out.sync_answer, [{ targetId: mt.targetId, status: 'SYNCHRONIZING' }]);
    assert.equal(out.sync_after.status, 'READY', JSON.stringify(out.sync_after.statusReasons));
    assert.ok(new Date(out.sync_after.lastSynchronizedAt) >= new Date(mt.lastSynchronizedAt));
  });

  test('a Swagger 2.0 document: ClientError ValidationException with the reason', () => {
    const e = out.swagger_refused;
    assert.ok(e, 'the Swagger document was refused');
    assert.equal(e.code, 'ValidationException');
    assert.equal(e.status, 400);
    assert.match(e.message, /^Invalid OpenAPI schema: /);
    assert.match(e.message, /attribute openapi is missing/);
    assert.match(e.message, /swagger/i);
    assert.deepEqual(out.targets_after_refusal, ['notes', 'upstream']);
  });

  test('the boto3-made targets through the MCP SDK: the OpenAPI call carries the API key', async () => {
    const caller = { accessKeyId: A.root.accessKeyId, secretAccessKey: A.root.secretAccessKey };
    const { client } = await connect(out.gateway.url, caller);
    try {
      const names = (await listAll(client)).tools.map((t) => t.name).sort();
      assert.deepEqual(names, ['notes___getNote', 'upstream___add']);
      const before = apiSeen.length;
      const r = await client.callTool({ name: 'notes___getNote', arguments: { id: 'n-42' } });
      assert.ok(!r.isError, JSON.stringify(r));
      assert.deepEqual(JSON.parse(r.content[0].text), { id: 'n-42', text: 'remember the milk' });
      assert.equal(apiSeen.length, before + 1);
      assert.equal(apiSeen.at(-1).headers['x-api-key'], API_KEY, 'the updated key, bare');
      assert.equal(apiSeen.at(-1).url, '/v1/notes/n-42');
      const s = await client.callTool({ name: 'upstream___add', arguments: { a: 2, b: 40 } });
      assert.ok(!s.isError, JSON.stringify(s));
      assert.equal(s.content[0].text, '42');
    } finally {
      await client.close();
    }
  });

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
