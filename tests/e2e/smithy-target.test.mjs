// Smithy-model targets: a Smithy JSON AST becomes tools (one per operation), created through the
// AWS SDK's control plane and listed and called through the MCP TypeScript SDK with SigV4. A
// restJson1 slice of Lambda calls mcpgate's own Lambda API signed with the gateway role; an
// awsJson1_0 service is a node server the test starts (MCPGATE_SMITHY_ENDPOINT_EXAMPLESVC).
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import {
  CreateGatewayTargetCommand, CreateOauth2CredentialProviderCommand, GetGatewayTargetCommand,
  ListGatewayTargetsCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import {
  connect, control, createEchoFunction, createGateway, listAll, mcpAccounts, startMcpServer,
} from './lib/mcp.mjs';

const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'bedrock-agentcore.amazonaws.com' }, Action: 'sts:AssumeRole' }] };
const allow = (action) => ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: action, Resource: '*' }] });

const str = { target: 'smithy.api#String' };
/** A restJson1 slice of Lambda as a Smithy JSON AST. */
const LAMBDA_MODEL = {
  smithy: '2.0',
  shapes: {
    'com.amazonaws.lambda#AWSGirApiService': {
      type: 'service', version: '2015-03-31',
      operations: [{ target: 'com.amazonaws.lambda#ListFunctions' }, { target: 'com.amazonaws.lambda#GetFunction' }],
      traits: {
        'aws.protocols#restJson1': {},
        'aws.auth#sigv4': { name: 'lambda' },
        'aws.api#service': { sdkId: 'Lambda', endpointPrefix: 'lambda', arnNamespace: 'lambda' },
      },
    },
    'com.amazonaws.lambda#ListFunctions': {
      type: 'operation',
      input: { target: 'com.amazonaws.lambda#ListFunctionsRequest' },
      output: { target: 'com.amazonaws.lambda#ListFunctionsResponse' },
      traits: {
        'smithy.api#http': { method: 'GET', uri: '/2015-03-31/functions', code: 200 },
        'smithy.api#documentation': '<p>Returns a list of Lambda functions, with the version-specific configuration of each.</p>',
      },
    },
    'com.amazonaws.lambda#ListFunctionsRequest': {
      type: 'structure',
      members: {
        Marker: { ...str, traits: { 'smithy.api#httpQuery': 'Marker', 'smithy.api#documentation': 'The pagination token.' } },
        MaxItems: { target: 'com.amazonaws.lambda#MaxListItems', traits: { 'smithy.api#httpQuery': 'MaxItems' } },
      },
    },
    'com.amazonaws.lambda#MaxListItems': { type: 'integer', traits: { 'smithy.api#range': { min: 1, max: 10000 } } },
    'com.amazonaws.lambda#ListFunctionsResponse': {
      type: 'structure', members: { NextMarker: str, Functions: { target: 'com.amazonaws.lambda#FunctionList' } },
    },
    'com.amazonaws.lambda#FunctionList': { type: 'list', member: { target: 'smithy.api#Document' } },
    'com.amazonaws.lambda#GetFunction': {
      type: 'operation',
      input: { target: 'com.amazonaws.lambda#GetFunctionRequest' },
      traits: {
        'smithy.api#http': { method: 'GET', uri: '/2015-03-31/functions/{FunctionName}', code: 200 },
        'smithy.api#documentation': 'Returns information about the function or function version.',
      },
    },
    'com.amazonaws.lambda#GetFunctionRequest': {
      type: 'structure',
      members: {
        FunctionName: { ...str, traits: { 'smithy.api#httpLabel': {}, 'smithy.api#required': {} } },
        Qualifier: { ...str, traits: { 'smithy.api#httpQuery': 'Qualifier' } },
      },
    },
  },
};

/** An awsJson1_0 service served by the node server below. */
const EXAMPLE_MODEL = {
  smithy: '2.0',
  shapes: {
    'example.items#ExampleService_2024': {
      type: 'service', version: '2024-01-01',
      operations: [{ target: 'example.items#ListItems' }],
      traits: {
        'aws.protocols#awsJson1_0': {},
        'aws.auth#sigv4': { name: 'examplesvc' },
        'aws.api#service': { sdkId: 'Example', endpointPrefix: 'example' },
      },
    },
    'example.items#ListItems': {
      type: 'operation',
      input: { target: 'example.items#ListItemsInput' },
      traits: { 'smithy.api#documentation': 'Lists the items of a <code>Shelf</code>.' },
    },
    'example.items#ListItemsInput': {
      type: 'structure',
      members: { Shelf: { ...str, traits: { 'smithy.api#required': {} } }, Limit: { target: 'smithy.api#Integer' } },
    },
  },
};

/** A restJson1 service with every binding, served by the node server below. */
const REST_MODEL = {
  smithy: '2.0',
  shapes: {
    'example.things#Things': {
      type: 'service', version: '2024-01-01',
      operations: [{ target: 'example.things#PutThing' }],
      traits: { 'aws.protocols#restJson1': {}, 'aws.auth#sigv4': { name: 'examplesvc' } },
    },
    'example.things#PutThing': {
      type: 'operation',
      input: { target: 'example.things#PutThingInput' },
      traits: { 'smithy.api#http': { method: 'PUT', uri: '/shelves/{Shelf}/things/{Path+}?x-id=PutThing', code: 200 } },
    },
    'example.things#PutThingInput': {
      type: 'structure',
      members: {
        Shelf: { ...str, traits: { 'smithy.api#httpLabel': {}, 'smithy.api#required': {} } },
        Path: { ...str, traits: { 'smithy.api#httpLabel': {}, 'smithy.api#required': {} } },
        Tags: { target: 'example.things#Tags', traits: { 'smithy.api#httpQuery': 'tag' } },
        Mode: { ...str, traits: { 'smithy.api#httpHeader': 'X-Mode' } },
        Name: { ...str, traits: { 'smithy.api#jsonName': 'name' } },
        Count: { target: 'smithy.api#Integer' },
      },
    },
    'example.things#Tags': { type: 'list', member: str },
  },
};

/** IAM speaks awsQuery: not a protocol mcpgate serializes. */
const IAM_MODEL = {
  smithy: '2.0',
  shapes: {
    'com.amazonaws.iam#AWSIdentityManagementV20100508': {
      type: 'service', version: '2010-05-08', operations: [{ target: 'com.amazonaws.iam#ListRoles' }],
      traits: { 'aws.protocols#awsQuery': {}, 'aws.auth#sigv4': { name: 'iam' } },
    },
    'com.amazonaws.iam#ListRoles': { type: 'operation' },
  },
};

let gw;
let A;
let key;
let upstream;
const seen = [];
let lambdaGw; // role may list and get functions
let denyGw;   // role without them
let exampleGw;

function startUpstream() {
  return new Promise((resolve) => {
    const s = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        if (req.url.startsWith('/shelves/')) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ ok: true }));
          return;
        }
        if (req.headers['x-amz-target'] !== 'ExampleService_2024.ListItems') {
          res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
          res.end(JSON.stringify({ __type: 'com.amazon.coral#UnknownOperationException', message: 'unknown' }));
          return;
        }
        const input = JSON.parse(body || '{}');
        if (input.Shelf === 'missing') {
          res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
          res.end(JSON.stringify({ __type: 'example.items#ResourceNotFoundException', message: 'No shelf named missing' }));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify({ Items: [`${input.Shelf}-1`, `${input.Shelf}-2`].slice(0, input.Limit ?? 2) }));
      });
    });
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}

async function createSmithyTarget(gatewayId, name, model, creds = [{ credentialProviderType: 'GATEWAY_IAM_ROLE' }]) {
  const c = control(gw, A.root);
  const out = await c.send(new CreateGatewayTargetCommand({
    gatewayIdentifier: gatewayId, name,
    targetConfiguration: { mcp: { smithyModel: { inlinePayload: JSON.stringify(model) } } },
    credentialProviderConfigurations: creds,
  }));
  for (let i = 0; i < 150; i++) {
    const t = await c.send(new GetGatewayTargetCommand({ gatewayIdentifier: gatewayId, targetId: out.targetId }));
    if (t.status === 'READY') return out;
    if (t.status === 'FAILED') throw new Error(`target failed: ${JSON.stringify(t.statusReasons)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('target not ready');
}

before(async () => {
  upstream = await startUpstream();
  const accounts = mcpAccounts();
  for (const a of accounts) {
    a.roles.SmithyRole = { name: 'SmithyRole', assumeRolePolicyDocument: trust,
      inlinePolicies: { list: allow(['lambda:ListFunctions', 'lambda:GetFunction']) } };
  }
  gw = await startMcpServer({
    accounts,
    env: { MCPGATE_SMITHY_ENDPOINT_EXAMPLESVC: `http://127.0.0.1:${upstream.address().port}` },
  });
  A = gw.accounts[0];
  key = { accessKeyId: A.root.accessKeyId, secretAccessKey: A.root.secretAccessKey };
  await createEchoFunction(gw, A, 'smithy-echo');
  lambdaGw = await createGateway(gw, A, { roleArn: `arn:aws:iam::${A.id}:role/SmithyRole`, exceptionLevel: 'DEBUG' });
  await createSmithyTarget(lambdaGw.gatewayId, 'lambdaapi', LAMBDA_MODEL);
  denyGw = await createGateway(gw, A, { roleArn: `arn:aws:iam::${A.id}:role/NoInvokeRole`, exceptionLevel: 'DEBUG' });
  await createSmithyTarget(denyGw.gatewayId, 'lambdaapi', LAMBDA_MODEL);
  exampleGw = await createGateway(gw, A, { roleArn: `arn:aws:iam::${A.id}:role/SmithyRole`, exceptionLevel: 'DEBUG' });
  await createSmithyTarget(exampleGw.gatewayId, 'items', EXAMPLE_MODEL);
  await createSmithyTarget(exampleGw.gatewayId, 'things', REST_MODEL);
});

after(async () => {
  upstream?.close();
  if (gw) {
    const r = await gw.stop();
    assert.equal(r.signal, null, gw.stderr().slice(-2000));
    // sanitizer builds: no memory error, no leak from the Smithy code
    const err = gw.stderr();
    assert.doesNotMatch(err, /ERROR: AddressSanitizer: (?!detected memory leaks)|runtime error:/, err.slice(-4000));
    assert.doesNotMatch(err, /mg_smithy|mg_mcp_smithy|src\/targets\/smithy|src\/mcp\/smithy/, err.slice(-4000));
  }
});

test('a Smithy model becomes one tool per operation, typed SMITHY_MODEL', async () => {
  const c = control(gw, A.root);
  const list = await c.send(new ListGatewayTargetsCommand({ gatewayIdentifier: lambdaGw.gatewayId }));
  assert.equal(list.items[0].targetType, 'SMITHY_MODEL');
  const { client } = await connect(lambdaGw.gatewayUrl, key);
  const { tools } = await listAll(client);
  const names = tools.map((t) => t.name).filter((n) => n.startsWith('lambdaapi___')).sort();
  assert.deepEqual(names, ['lambdaapi___GetFunction', 'lambdaapi___ListFunctions']);
  const lf = tools.find((t) => t.name === 'lambdaapi___ListFunctions');
  assert.equal(lf.description, 'Returns a list of Lambda functions, with the version-specific configuration of each.');
  assert.deepEqual(lf.inputSchema.properties.Marker, { type: 'string', description: 'The pagination token.' });
  assert.equal(lf.inputSchema.properties.MaxItems.type, 'integer');
  const gf = tools.find((t) => t.name === 'lambdaapi___GetFunction');
  assert.deepEqual(gf.inputSchema.required, ['FunctionName']);
  assert.ok(!('_call' in gf), 'the call description stays private');
  await client.close();
});

test('models mcpgate cannot serve are refused at creation, in words', async () => {
  const c = control(gw, A.root);
  const attempt = (model, creds, extra = {}) => c.send(new CreateGatewayTargetCommand({
    gatewayIdentifier: exampleGw.gatewayId, name: `bad${Math.random().toString(36).slice(2, 7)}`,
    targetConfiguration: { mcp: { smithyModel: extra.s3 ? { s3: { uri: 's3://bucket/model.json' } } : { inlinePayload: typeof model === 'string' ? model : JSON.stringify(model) } } },
    credentialProviderConfigurations: creds === 'none' ? undefined : creds ?? [{ credentialProviderType: 'GATEWAY_IAM_ROLE' }],
  }));
  const refused = async (p, re) => {
    await assert.rejects(p, (e) => {
      assert.equal(e.name, 'ValidationException');
      assert.match(e.message, re);
      return true;
    });
  };
  await refused(attempt(IAM_MODEL), /Only RestJson, AwsJson1_0 and AwsJson1_1 protocols are supported/);
  await refused(attempt(null, null, { s3: true }), /no S3.*inlinePayload/);
  await refused(attempt('{"smithy":"2.0"'), /not a valid JSON AST/);
  const two = structuredClone(EXAMPLE_MODEL);
  two.shapes['example.items#Other'] = { type: 'service' };
  await refused(attempt(two), /exactly one service shape; it defines 2/);
  await refused(attempt(EXAMPLE_MODEL, [{ credentialProviderType: 'GATEWAY_IAM_ROLE', credentialProvider: { iamCredentialProvider: { service: 'lambda' } } }]),
    /IamCredentialProvider is not supported for smithyModel targets/);
  await refused(attempt(EXAMPLE_MODEL, [{ credentialProviderType: 'API_KEY', credentialProvider: { apiKeyCredentialProvider: { providerArn: `arn:aws:bedrock-agentcore:us-east-1:${A.id}:token-vault/default/apikeycredentialprovider/k` } } }]),
    /only supports GATEWAY_IAM_ROLE and OAUTH/);
  await refused(attempt(EXAMPLE_MODEL, 'none'), /requires a credential provider configuration of type GATEWAY_IAM_ROLE or OAUTH/);
});

test('ListFunctions through the gateway role returns the functions mcpgate holds', async () => {
  const { client } = await connect(lambdaGw.gatewayUrl, key);
  const r = await client.callTool({ name: 'lambdaapi___ListFunctions', arguments: { MaxItems: 50 } });
  assert.ok(!r.isError, JSON.stringify(r));
  const names = r.structuredContent.Functions.map((f) => f.FunctionName);
  assert.ok(names.includes('smithy-echo'), JSON.stringify(names));
  assert.deepEqual(JSON.parse(r.content[0].text), r.structuredContent);
  const g = await client.callTool({ name: 'lambdaapi___GetFunction', arguments: { FunctionName: 'smithy-echo' } });
  assert.ok(!g.isError, JSON.stringify(g));
  assert.equal(g.structuredContent.Configuration.FunctionName, 'smithy-echo');
  const nf = await client.callTool({ name: 'lambdaapi___GetFunction', arguments: { FunctionName: 'no-such-function' } });
  assert.equal(nf.isError, true);
  assert.match(nf.content[0].text, /ResourceNotFoundException/);
  await client.close();
});

test('a role without the permission gets AccessDeniedException as a tool error', async () => {
  const { client } = await connect(denyGw.gatewayUrl, key);
  const r = await client.callTool({ name: 'lambdaapi___ListFunctions', arguments: {} });
  assert.equal(r.isError, true);
  assert.match(r.content[0].text, /AccessDeniedException/);
  await client.close();
});

test('awsJson1_0: X-Amz-Target, content type and a SigV4 signature with the model signing name', async () => {
  const { client } = await connect(exampleGw.gatewayUrl, key);
  const { tools } = await listAll(client);
  const li = tools.find((x) => x.name === 'items___ListItems');
  assert.equal(li.description, 'Lists the items of a Shelf.');
  assert.deepEqual(li.inputSchema.required, ['Shelf']);
  seen.length = 0;
  const r = await client.callTool({ name: 'items___ListItems', arguments: { Shelf: 'top', Limit: 1 } });
  assert.ok(!r.isError, JSON.stringify(r));
  assert.deepEqual(r.structuredContent, { Items: ['top-1'] });
  assert.equal(seen.length, 1);
  const req = seen[0];
  assert.equal(req.method, 'POST');
  assert.equal(req.url, '/');
  assert.equal(req.headers['x-amz-target'], 'ExampleService_2024.ListItems');
  assert.equal(req.headers['content-type'], 'application/x-amz-json-1.0');
  assert.deepEqual(JSON.parse(req.body), { Shelf: 'top', Limit: 1 });
  assert.match(req.headers.authorization, /^AWS4-HMAC-SHA256 Credential=ASIA[A-Z0-9]+\/\d{8}\/us-east-1\/examplesvc\/aws4_request, SignedHeaders=[^,]*x-amz-target/);
  assert.ok(req.headers['x-amz-security-token'], 'the role session token');
  const bad = await client.callTool({ name: 'items___ListItems', arguments: { Shelf: 'missing' } });
  assert.equal(bad.isError, true);
  assert.equal(bad.content[0].text, 'ResourceNotFoundException: No shelf named missing');
  await client.close();
});

test('OAUTH client credentials: a Smithy call carries the bearer token, not a SigV4 signature', async () => {
  let issued = 0;
  const idp = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const form = new URLSearchParams(body);
      const basic = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString();
      if (req.url !== '/token' || form.get('grant_type') !== 'client_credentials' || basic !== 'smithy-client:s3cret') {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}');
        return;
      }
      issued++;
      res.writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ access_token: `smithy-tok-${issued}`, token_type: 'Bearer', expires_in: 3600 }));
    });
  });
  await new Promise((r) => idp.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${idp.address().port}`;
    const p = await control(gw, A.root).send(new CreateOauth2CredentialProviderCommand({
      name: 'smithy-idp', credentialProviderVendor: 'CustomOauth2',
      oauth2ProviderConfigInput: { customOauth2ProviderConfig: {
        oauthDiscovery: { authorizationServerMetadata: { issuer: url, authorizationEndpoint: `${url}/authorize`, tokenEndpoint: `${url}/token` } },
        clientId: 'smithy-client', clientSecret: 's3cret',
      } },
    }));
    const g = await createGateway(gw, A, { roleArn: `arn:aws:iam::${A.id}:role/SmithyRole`, exceptionLevel: 'DEBUG' });
    await createSmithyTarget(g.gatewayId, 'oitems', EXAMPLE_MODEL, [{
      credentialProviderType: 'OAUTH',
      credentialProvider: { oauthCredentialProvider: { providerArn: p.credentialProviderArn, scopes: ['items/read'] } },
    }]);
    const { client } = await connect(g.gatewayUrl, key);
    seen.length = 0;
    for (let i = 0; i < 2; i++) {
      const r = await client.callTool({ name: 'oitems___ListItems', arguments: { Shelf: 'low', Limit: 2 } });
      assert.ok(!r.isError, JSON.stringify(r));
      assert.deepEqual(r.structuredContent, { Items: ['low-1', 'low-2'] });
    }
    assert.equal(seen.length, 2);
    for (const req of seen) {
      assert.equal(req.headers.authorization, 'Bearer smithy-tok-1', 'one token, reused');
      assert.equal(req.headers['x-amz-security-token'], undefined, 'no SigV4 session with OAUTH');
      assert.equal(req.headers['x-amz-target'], 'ExampleService_2024.ListItems');
    }
    assert.equal(issued, 1);
    await client.close();
  } finally {
    idp.close();
  }
});

test('restJson1 on the wire: labels (greedy too), query lists, headers, body with jsonName', async () => {
  const { client } = await connect(exampleGw.gatewayUrl, key);
  seen.length = 0;
  const args = { Shelf: 'top shelf', Path: 'a/b c', Tags: ['x', 'y z'], Mode: 'fast', Name: 'n', Count: 2 };
  const r = await client.callTool({ name: 'things___PutThing', arguments: args });
  assert.ok(!r.isError, JSON.stringify(r));
  assert.deepEqual(r.structuredContent, { ok: true });
  const req = seen[0];
  assert.equal(req.method, 'PUT');
  assert.equal(req.url, '/shelves/top%20shelf/things/a/b%20c?x-id=PutThing&tag=x&tag=y%20z');
  assert.equal(req.headers['x-mode'], 'fast');
  assert.equal(req.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(req.body), { name: 'n', Count: 2 });
  assert.match(req.headers.authorization, /\/us-east-1\/examplesvc\/aws4_request/);
  // a required label missing: refused by the inputSchema check before any request
  await assert.rejects(client.callTool({ name: 'things___PutThing', arguments: { Shelf: 's' } }),
    /missing required property "Path"/);
  assert.equal(seen.length, 1);
  await client.close();
});
