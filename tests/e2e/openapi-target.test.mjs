// OpenAPI targets end to end: a node http server (the upstream API) described by an OpenAPI 3.0
// YAML document and an OpenAPI 3.1 JSON document; targets made through the AWS SDK's control
// plane client (and boto3); tools listed and called through the MCP SDK with SigV4.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import {
  CreateGatewayTargetCommand, GetGatewayTargetCommand, ListGatewayTargetsCommand,
  UpdateGatewayTargetCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import {
  connect, control, createGateway, listAll, signedFetch, startMcpServer,
} from './lib/mcp.mjs';
import { boto3Env, boto3Python } from './lib/python.mjs';

let gw;
let upstream;
let port;
let acct;
let gateway;
let client;
const seen = [];

function petsYaml(p) {
  return `openapi: 3.0.3
info:
  title: Pets
  version: '1.0'
servers:
  - url: http://{host}/api
    variables:
      host:
        default: 127.0.0.1:${p}
paths:
  /pets/{petId}:
    get:
      operationId: getPet
      summary: Fetch one pet
      parameters:
        - name: petId
          in: path
          required: true
          description: The pet's id
          schema: {type: string}
        - name: verbose
          in: query
          schema: {type: boolean}
        - name: X-Trace
          in: header
          required: true
          schema: {type: string}
      responses:
        200:
          description: the pet
  /pets:
    post:
      operationId: addPet
      description: Adds a pet
      requestBody:
        required: true
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/Pet'
      responses:
        201: {description: made}
  /boom:
    get:
      operationId: boom
      responses:
        500: {description: always}
  /hidden:
    get:
      summary: no operationId, so no tool
      responses:
        200: {description: ok}
components:
  schemas:
    Pet:
      type: object
      required: [name]
      properties:
        name: {type: string}
        tag: {type: string, nullable: true}
        age: {type: integer}
`;
}

function itemsJson(p) {
  return JSON.stringify({
    openapi: '3.1.0',
    info: { title: 'Items', version: '2' },
    servers: [{ url: `http://127.0.0.1:${p}/v2/` }],
    paths: {
      '/items/{itemId}': {
        put: {
          operationId: 'putItem',
          description: 'Replaces an item',
          parameters: [
            { name: 'itemId', in: 'path', required: true, schema: { type: 'integer' } },
            { name: 'mode', in: 'query', required: true, schema: { type: 'string', enum: ['fast', 'safe'] } },
          ],
          requestBody: {
            content: { 'application/json': { schema: { type: 'object', properties: { label: { type: 'string' }, count: { type: 'integer' } } } } },
          },
          responses: { 200: { description: 'ok' } },
        },
      },
    },
  });
}

function startUpstream() {
  return new Promise((resolve) => {
    const srv = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        const url = new URL(req.url, 'http://x');
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        const json = (status, v) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(v));
        };
        let m;
        if (req.method === 'GET' && (m = url.pathname.match(/^\/api\/pets\/(.+)$/))) {
          const id = decodeURIComponent(m[1]);
          if (id === 'missing') {
            res.writeHead(404, { 'content-type': 'text/plain' });
            res.end('no such pet');
            return;
          }
          json(200, { id, verbose: url.searchParams.get('verbose'), trace: req.headers['x-trace'] });
        } else if (req.method === 'POST' && url.pathname === '/api/pets') {
          json(201, { created: JSON.parse(body), contentType: req.headers['content-type'] });
        } else if (req.method === 'GET' && url.pathname === '/slow') {
          setTimeout(() => json(200, { slow: true }), 2000);
        } else if (req.method === 'GET' && url.pathname === '/api/boom') {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end('exploded');
        } else if (req.method === 'PUT' && (m = url.pathname.match(/^\/v2\/items\/(\d+)$/))) {
          json(200, { itemId: Number(m[1]), mode: url.searchParams.get('mode'), body: JSON.parse(body || 'null') });
        } else {
          json(418, { unexpected: req.url });
        }
      });
    });
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}

async function waitReady(c, gatewayId, targetId) {
  for (let i = 0; i < 150; i++) {
    const t = await c.send(new GetGatewayTargetCommand({ gatewayIdentifier: gatewayId, targetId }));
    if (t.status === 'READY') return t;
    if (t.status === 'FAILED') throw new Error(`target FAILED: ${t.statusReasons}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('target not READY');
}

async function createOpenApiTarget(name, inlinePayload, extra = {}) {
  const c = control(gw, acct.root);
  const out = await c.send(new CreateGatewayTargetCommand({
    gatewayIdentifier: gateway.gatewayId, name,
    targetConfiguration: { mcp: { openApiSchema: { inlinePayload } } },
    ...extra,
  }));
  await waitReady(c, gateway.gatewayId, out.targetId);
  return out;
}

async function refusal(name, openApiSchema) {
  const c = control(gw, acct.root);
  try {
    await c.send(new CreateGatewayTargetCommand({
      gatewayIdentifier: gateway.gatewayId, name,
      targetConfiguration: { mcp: { openApiSchema } },
    }));
  } catch (e) {
    assert.equal(e.name, 'ValidationException', e.message);
    return e.message;
  }
  assert.fail(`${name} was accepted`);
}

before(async () => {
  upstream = await startUpstream();
  port = upstream.address().port;
  gw = await startMcpServer();
  acct = gw.accounts[0];
  gateway = await createGateway(gw, acct);
  await createOpenApiTarget('pets', petsYaml(port));
  await createOpenApiTarget('items', itemsJson(port));
  ({ client } = await connect(gateway.gatewayUrl, acct.root));
});

after(async () => {
  await client?.close();
  await gw?.stop();
  upstream?.close();
  // under build/asan: no memory error, no undefined behaviour, and no leak of the code that
  // serves these targets (h2o's own blocks at exit are not this test's)
  const err = gw?.stderr() ?? '';
  assert.doesNotMatch(err, /ERROR: AddressSanitizer|runtime error/);
  assert.doesNotMatch(err, /#\d+ .* in \S+ \S*\/src\/(mcp|targets|http|vault|agentcore)\//);
});

describe('OpenAPI targets', () => {
  test('the control plane shows OPEN_API_SCHEMA targets', async () => {
    const c = control(gw, acct.root);
    const list = await c.send(new ListGatewayTargetsCommand({ gatewayIdentifier: gateway.gatewayId }));
    const byName = Object.fromEntries(list.items.map((t) => [t.name, t]));
    assert.equal(byName.pets.targetType, 'OPEN_API_SCHEMA');
    assert.equal(byName.items.targetType, 'OPEN_API_SCHEMA');
    const got = await c.send(new GetGatewayTargetCommand({ gatewayIdentifier: gateway.gatewayId, targetId: byName.items.targetId }));
    assert.equal(got.status, 'READY');
    assert.equal(got.targetConfiguration.mcp.openApiSchema.inlinePayload, itemsJson(port));
    assert.equal(got._tools, undefined);
  });

  test('tools/list names TARGET___operationId with the derived inputSchema', async () => {
    const { tools } = await listAll(client);
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    for (const n of ['pets___getPet', 'pets___addPet', 'pets___boom', 'items___putItem']) assert.ok(byName[n], n);
    assert.equal(tools.filter((t) => t.name.startsWith('pets___')).length, 3);
    const get = byName.pets___getPet;
    assert.equal(get.description, 'Fetch one pet');
    assert.deepEqual(get.inputSchema.required.sort(), ['X-Trace', 'petId']);
    assert.equal(get.inputSchema.properties.petId.description, "The pet's id");
    assert.equal(get.inputSchema.properties.verbose.type, 'boolean');
    assert.equal(get.inputSchema._call, undefined);
    assert.equal(get._call, undefined);
    const add = byName.pets___addPet;
    assert.equal(add.description, 'Adds a pet');
    assert.deepEqual(Object.keys(add.inputSchema.properties).sort(), ['age', 'name', 'tag']);
    assert.deepEqual(add.inputSchema.properties.tag.type, ['string', 'null']);
    assert.deepEqual(add.inputSchema.required, ['name']);
    const put = byName.items___putItem;
    assert.deepEqual(put.inputSchema.properties.mode.enum, ['fast', 'safe']);
    assert.deepEqual(put.inputSchema.required.sort(), ['itemId', 'mode']);
  });

  test('tools/call sends path, query and header parameters and returns the answer', async () => {
    const r = await client.callTool({ name: 'pets___getPet', arguments: { petId: 'a b/c', verbose: true, 'X-Trace': 't-1' } });
    assert.equal(r.isError, false);
    const body = JSON.parse(r.content[0].text);
    assert.deepEqual(body, { id: 'a b/c', verbose: 'true', trace: 't-1' });
    assert.deepEqual(r.structuredContent, body);
    const last = seen.at(-1);
    assert.equal(last.url, '/api/pets/a%20b%2Fc?verbose=true');
  });

  test('a JSON body is built from the merged properties', async () => {
    const r = await client.callTool({ name: 'pets___addPet', arguments: { name: 'Rex', tag: null, age: 3 } });
    assert.equal(r.isError, false);
    const body = JSON.parse(r.content[0].text);
    assert.deepEqual(body.created, { name: 'Rex', tag: null, age: 3 });
    assert.equal(body.contentType, 'application/json');
    const put = await client.callTool({ name: 'items___putItem', arguments: { itemId: 7, mode: 'safe', label: 'x&y', count: 2 } });
    assert.equal(put.isError, false);
    assert.deepEqual(JSON.parse(put.content[0].text), { itemId: 7, mode: 'safe', body: { label: 'x&y', count: 2 } });
  });

  test('non-2xx answers are isError with the status', async () => {
    const nf = await client.callTool({ name: 'pets___getPet', arguments: { petId: 'missing', 'X-Trace': 't' } });
    assert.equal(nf.isError, true);
    assert.equal(nf.content[0].text, 'HTTP 404: no such pet');
    assert.equal(nf.structuredContent, undefined);
    const boom = await client.callTool({ name: 'pets___boom', arguments: {} });
    assert.equal(boom.isError, true);
    assert.equal(boom.content[0].text, 'HTTP 500: exploded');
  });

  test('arguments the schema refuses never reach the upstream', async () => {
    const before = seen.length;
    await assert.rejects(
      client.callTool({ name: 'pets___getPet', arguments: { petId: 'x' } }),
      /X-Trace/,
    );
    await assert.rejects(
      client.callTool({ name: 'items___putItem', arguments: { itemId: 1, mode: 'slow' } }),
      /mode/,
    );
    assert.equal(seen.length, before);
  });
});

describe('failures of the gateway and updates', () => {
  const closedDoc = (p) => JSON.stringify({
    openapi: '3.0.1', info: { title: 'gone', version: '1' }, servers: [{ url: `http://127.0.0.1:${p}` }],
    paths: { '/x': { get: { operationId: 'gone', responses: { 200: { description: 'ok' } } } } },
  });
  let closedPort;
  before(async () => {
    const s = http.createServer();
    await new Promise((r) => s.listen(0, '127.0.0.1', r));
    closedPort = s.address().port;
    await new Promise((r) => s.close(r));
  });

  test('an unreachable upstream is a tool failure: generic, or the reason with DEBUG', async () => {
    const c = control(gw, acct.root);
    for (const debug of [false, true]) {
      const g = await createGateway(gw, acct, debug ? { exceptionLevel: 'DEBUG' } : {});
      const t = await c.send(new CreateGatewayTargetCommand({
        gatewayIdentifier: g.gatewayId, name: 'down',
        targetConfiguration: { mcp: { openApiSchema: { inlinePayload: closedDoc(closedPort) } } },
      }));
      await waitReady(c, g.gatewayId, t.targetId);
      const { client: cl } = await connect(g.gatewayUrl, acct.root);
      const r = await cl.callTool({ name: 'down___gone', arguments: {} });
      assert.equal(r.isError, true);
      if (debug) {
        assert.match(r.content[0].text, /could not be reached/);
        assert.match(r._meta.debug.text, /could not be reached/);
      } else {
        assert.equal(r.content[0].text, 'An internal error occurred. Please retry later.');
        assert.equal(r._meta?.debug, undefined);
      }
      await cl.close();
    }
  });

  test('notifications/cancelled drops the answer of a call in flight', async () => {
    await createOpenApiTarget('slow', JSON.stringify({
      openapi: '3.0.2', info: { title: 's', version: '1' }, servers: [{ url: `http://127.0.0.1:${port}` }],
      paths: { '/slow': { get: { operationId: 'wait', responses: { 200: { description: 'ok' } } } } },
    }));
    const f = signedFetch(acct.root);
    const post = async (body) => {
      const r = await f(gateway.gatewayUrl, {
        method: 'POST', body: JSON.stringify(body),
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      });
      return { status: r.status, text: await r.text() };
    };
    const t0 = Date.now();
    const call = post({ jsonrpc: '2.0', id: 'slow-1', method: 'tools/call', params: { name: 'slow___wait', arguments: {} } });
    await new Promise((r) => setTimeout(r, 300));
    const c = await post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'slow-1' } });
    assert.equal(c.status, 202);
    const r = await call;
    assert.equal(r.status, 202);
    assert.equal(r.text, '');
    assert.ok(Date.now() - t0 < 1800, `took ${Date.now() - t0} ms`);
    // the same call, not cancelled, answers when the upstream does
    const done = await post({ jsonrpc: '2.0', id: 'slow-2', method: 'tools/call', params: { name: 'slow___wait', arguments: {} } });
    assert.equal(done.status, 200);
    assert.match(done.text, /slow/);
  });

  test('UpdateGatewayTarget derives the tools again', async () => {
    const c = control(gw, acct.root);
    const g = await createGateway(gw, acct);
    const t = await c.send(new CreateGatewayTargetCommand({
      gatewayIdentifier: g.gatewayId, name: 'upd',
      targetConfiguration: { mcp: { openApiSchema: { inlinePayload: closedDoc(closedPort) } } },
    }));
    await waitReady(c, g.gatewayId, t.targetId);
    await c.send(new UpdateGatewayTargetCommand({
      gatewayIdentifier: g.gatewayId, targetId: t.targetId, name: 'upd',
      targetConfiguration: { mcp: { openApiSchema: { inlinePayload: itemsJson(port) } } },
    }));
    await waitReady(c, g.gatewayId, t.targetId);
    const { client: cl } = await connect(g.gatewayUrl, acct.root);
    const { tools } = await listAll(cl);
    assert.deepEqual(tools.map((x) => x.name), ['upd___putItem']);
    const r = await cl.callTool({ name: 'upd___putItem', arguments: { itemId: 1, mode: 'fast' } });
    assert.deepEqual(JSON.parse(r.content[0].text), { itemId: 1, mode: 'fast', body: null });
    await assert.rejects(c.send(new UpdateGatewayTargetCommand({
      gatewayIdentifier: g.gatewayId, targetId: t.targetId, name: 'upd',
      targetConfiguration: { mcp: { openApiSchema: { inlinePayload: 'swagger: "2.0"\n' } } },
    })), (e) => e.name === 'ValidationException' && /attribute openapi is missing/.test(e.message));
    await cl.close();
  });
});

describe('OpenAPI documents AgentCore refuses are refused at creation', () => {
  const head = (p) => `openapi: 3.0.0\ninfo: {title: t, version: '1'}\nservers: [{url: 'http://127.0.0.1:${p}'}]\n`;
  test('Swagger 2.0', async () => {
    const msg = await refusal('swagger', { inlinePayload: JSON.stringify({ swagger: '2.0', info: { title: 't', version: '1' }, paths: {} }) });
    assert.match(msg, /attribute openapi is missing/);
    assert.match(msg, /Swagger 2\.0 is not supported/);
  });
  test('oneOf', async () => {
    const msg = await refusal('oneof', { inlinePayload: `${head(port)}paths:\n  /a:\n    post:\n      operationId: a\n      requestBody:\n        content:\n          application/json:\n            schema:\n              oneOf: [{type: string}, {type: integer}]\n` });
    assert.match(msg, /oneOf is not supported/);
  });
  test('no servers', async () => {
    const msg = await refusal('noservers', { inlinePayload: "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get: {operationId: a}\n" });
    assert.match(msg, /servers\[0\]\.url/);
  });
  test('an S3 location', async () => {
    const msg = await refusal('s3', { s3: { uri: 's3://bucket/openapi.yaml' } });
    assert.match(msg, /no S3/);
    assert.match(msg, /inlinePayload/);
  });
  test('outbound credentials AgentCore does not allow for OpenAPI targets', async () => {
    const c = control(gw, acct.root);
    const make = (name, cred) => c.send(new CreateGatewayTargetCommand({
      gatewayIdentifier: gateway.gatewayId, name,
      targetConfiguration: { mcp: { openApiSchema: { inlinePayload: itemsJson(port) } } },
      credentialProviderConfigurations: [cred],
    }));
    await assert.rejects(make('calleriam', { credentialProviderType: 'CALLER_IAM_CREDENTIALS' }),
      (e) => e.name === 'ValidationException' && /CALLER_IAM_CREDENTIALS credential provider type is not supported for openApiSchema/.test(e.message));
    await assert.rejects(make('noiam', { credentialProviderType: 'GATEWAY_IAM_ROLE' }),
      (e) => e.name === 'ValidationException' && /IamCredentialProvider is required for openApiSchema targets using IAM authentication/.test(e.message));
    await assert.rejects(make('nokey', { credentialProviderType: 'API_KEY' }),
      (e) => e.name === 'ValidationException' && /API key credential provider is required/.test(e.message));
  });
  test('billion laughs', async () => {
    let doc = `${head(port)}paths:\n  /a:\n    get: {operationId: a}\nx-l0: &l0 [a, a, a, a, a, a, a, a, a, a]\n`;
    for (let i = 1; i < 9; i++) doc += `x-l${i}: &l${i} [${Array(10).fill(`*l${i - 1}`).join(', ')}]\n`;
    const msg = await refusal('laughs', { inlinePayload: doc });
    assert.match(msg, /nodes/);
  });
});

describe('boto3', () => {
  test('creates an OpenAPI target and gets a ValidationException for Swagger 2.0', () => {
    const { python } = boto3Python();
    const script = `
import boto3, sys, json, time
c = boto3.client('bedrock-agentcore-control', endpoint_url=sys.argv[1], region_name='us-east-1',
                 aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])
gid = sys.argv[4]
t = c.create_gateway_target(gatewayIdentifier=gid, name='botopets',
                            targetConfiguration={'mcp': {'openApiSchema': {'inlinePayload': sys.argv[5]}}})
for _ in range(100):
    if c.get_gateway_target(gatewayIdentifier=gid, targetId=t['targetId'])['status'] == 'READY': break
    time.sleep(0.1)
types = {s['name']: s.get('targetType') for s in c.list_gateway_targets(gatewayIdentifier=gid)['items']}
assert types['botopets'] == 'OPEN_API_SCHEMA', types
try:
    c.create_gateway_target(gatewayIdentifier=gid, name='botoswagger',
                            targetConfiguration={'mcp': {'openApiSchema': {'inlinePayload': json.dumps({'swagger': '2.0'})}}})
    print('accepted')
except c.exceptions.ValidationException as e:
    print('refused', e.response['Error']['Message'])
`;
    const r = spawnSync(python, ['-c', script, gw.endpoint, acct.root.accessKeyId, acct.root.secretAccessKey,
      gateway.gatewayId, petsYaml(port)], { encoding: 'utf8', env: boto3Env() });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /refused .*attribute openapi is missing/);
  });
});
