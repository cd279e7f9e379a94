// A large state built through the public API, shared by tests/e2e/scale.test.mjs,
// bench/bench_writes.mjs and bench/bench_scale.mjs: N gateways spread over 20 accounts, a tenth
// of them with 10 OpenAPI targets of 10 tools each (at 10,000 gateways: 1,000 gateways, 10,000
// targets, 100,000 tools).
//
//   const accounts = scaleAccounts();
//   const gw = await startServer({ accounts, ... });
//   const state = await buildState(gw, accounts, { gateways: 10000, upstream: 'http://127.0.0.1:PORT' });
//   state.gateways   [{ a (account index), id, name, targets: [{ id, name }] }]
//
// Gateway i is named g<i> in account i % 20; gateways whose index is a multiple of 10 get the
// targets t0..t9. Target t of gateway g<i> describes the operations GET /g<i>/t<t>/op<k>
// (k = 0..9, operationId op<k>, a query parameter x) on `upstream`: its tools are t<t>___op<k>.
// scaleUpstream() starts an HTTP server that answers each such request with
// {"path": "/g<i>/t<t>/op<k>", "x": <x>}, so a tools/call shows which gateway, target and tool
// it went through.
import http from 'node:http';
import { createRequire } from 'node:module';
import { fastSignedHeaders, makeClient } from './aws.mjs';
import { newKey } from './server.mjs';

const require = createRequire(import.meta.url);
const {
  BedrockAgentCoreControlClient, CreateGatewayCommand, CreateGatewayTargetCommand,
} = require('@aws-sdk/client-bedrock-agentcore-control');

export const ACCOUNTS = 20;
export const TARGETS_PER_GATEWAY = 10;
export const TOOLS_PER_TARGET = 10;
/** Every WITH_TARGETS-th gateway has targets. */
export const WITH_TARGETS = 10;

const TRUST = { Version: '2012-10-17', Statement: [{ Effect: 'Allow',
  Principal: { Service: 'bedrock-agentcore.amazonaws.com' }, Action: 'sts:AssumeRole' }] };

/** The accounts of the state: a root key each and the gateways' role `gw`. */
export function scaleAccounts(n = ACCOUNTS) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const id = String(100000000000 + i * 1111);
    out.push({ id, root: newKey(), users: {},
      roles: { gw: { name: 'gw', path: '/', assumeRolePolicyDocument: TRUST } } });
  }
  return out;
}

/** The OpenAPI document of target t of gateway `gwName`, its operations on `upstream`. */
export function openApiDoc(upstream, gwName, t) {
  const paths = {};
  for (let k = 0; k < TOOLS_PER_TARGET; k++) {
    paths[`/t${t}/op${k}`] = { get: { operationId: `op${k}`,
      description: `operation ${k} of target ${t}`,
      parameters: [{ name: 'x', in: 'query', required: true, description: 'echoed',
        schema: { type: 'string' } }],
      responses: { 200: { description: 'the echo' } } } };
  }
  return { openapi: '3.0.3', info: { title: `${gwName} t${t}`, version: '1' },
    servers: [{ url: `${upstream}/${gwName}` }], paths };
}

/** CreateGatewayTarget's fields for target t of gateway `gwName`. */
export function openApiTarget(upstream, gwName, t) {
  return { name: `t${t}`, targetConfiguration: { mcp: { openApiSchema: {
    inlinePayload: JSON.stringify(openApiDoc(upstream, gwName, t)) } } } };
}

/** The full tool names of one gateway with targets, in the order tools/list sorts them. */
export function toolNames() {
  const out = [];
  for (let t = 0; t < TARGETS_PER_GATEWAY; t++)
    for (let k = 0; k < TOOLS_PER_TARGET; k++) out.push(`t${t}___op${k}`);
  return out.sort();
}

/** CreateGatewayTarget's fields for a Lambda target of 10 inline tools (not invoked). */
export function lambdaTarget(acct, name, t) {
  const tools = Array.from({ length: TOOLS_PER_TARGET }, (_, k) => ({
    name: `t${t}_tool${k}`, description: `tool ${k} of target ${t}`,
    inputSchema: { type: 'object', properties: { x: { type: 'string', description: 'x' } } } }));
  return { name, targetConfiguration: { mcp: { lambda: {
    lambdaArn: `arn:aws:lambda:us-east-1:${acct}:function:f${t}`,
    toolSchema: { inlinePayload: tools } } } },
  credentialProviderConfigurations: [{ credentialProviderType: 'GATEWAY_IAM_ROLE' }] };
}

/** Runs jobs (functions returning promises) with at most `width` in flight; the first failure
 *  stops the pool and is thrown. */
export async function pool(jobs, width) {
  let next = 0;
  let failed = null;
  const worker = async () => {
    while (next < jobs.length && !failed) {
      const j = jobs[next++];
      try {
        await j();
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, jobs.length) }, worker));
  if (failed) throw failed;
}

/** Control-plane clients, one per account (retries on: the state is built at full speed). */
export function controlClients(gw, accounts) {
  return accounts.map((a) => makeClient(BedrockAgentCoreControlClient, gw, a.root, { maxAttempts: 3 }));
}

/**
 * Builds the state on `gw` through CreateGateway and CreateGatewayTarget.
 * Options: gateways (default 10000), parallel (requests in flight, default 8), upstream (the
 * OpenAPI targets' base URL; nothing is called while building).
 * Resolves { seconds, gateways: [{ a, id, name, targets: [{ id, name }] }], targets }.
 */
export async function buildState(gw, accounts, opts = {}) {
  const n = opts.gateways ?? 10000;
  const width = opts.parallel ?? 8;
  const upstream = opts.upstream ?? 'http://127.0.0.1:9';
  const cps = controlClients(gw, accounts);
  const gateways = new Array(n);
  const t0 = Date.now();
  await pool(Array.from({ length: n }, (_, i) => async () => {
    const a = i % accounts.length;
    const name = `g${i}`;
    const g = await cps[a].send(new CreateGatewayCommand({ name,
      roleArn: `arn:aws:iam::${accounts[a].id}:role/gw`, authorizerType: 'AWS_IAM' }));
    gateways[i] = { a, id: g.gatewayId, name, targets: [] };
  }), width);
  const jobs = [];
  for (let i = 0; i < n; i += WITH_TARGETS) {
    const g = gateways[i];
    for (let t = 0; t < TARGETS_PER_GATEWAY; t++)
      jobs.push(async () => {
        const out = await cps[g.a].send(new CreateGatewayTargetCommand({ gatewayIdentifier: g.id,
          ...openApiTarget(upstream, g.name, t) }));
        g.targets[t] = { id: out.targetId, name: `t${t}` };
      });
  }
  await pool(jobs, width);
  return { seconds: (Date.now() - t0) / 1000, gateways, targets: jobs.length };
}

/** The upstream of the OpenAPI targets; resolves { url, server, calls() }. */
export async function scaleUpstream() {
  let calls = 0;
  const server = http.createServer((req, res) => {
    calls++;
    const u = new URL(req.url, 'http://x');
    const body = JSON.stringify({ path: u.pathname, x: u.searchParams.get('x') });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.keepAliveTimeout = 60000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, server, calls: () => calls,
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }) };
}

/**
 * A JSON-RPC poster for the gateways of `gw`: SigV4-signed per request (fastSignedHeaders) as
 * `key`, over keep-alive connections (at most `sockets`). post(gatewayId, message) resolves
 * { status, body } with body parsed from the JSON answer (or the text when it is not JSON).
 */
export function mcpPoster(gw, key, { sockets = 16 } = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  const post = (gatewayId, message) => new Promise((resolve, reject) => {
    const url = `${gw.endpoint}/gateways/${gatewayId}/mcp`;
    const body = JSON.stringify(message);
    const headers = fastSignedHeaders(key, { url, body, headers: {
      'content-type': 'application/json', accept: 'application/json, text/event-stream' } });
    headers['content-length'] = Buffer.byteLength(body);
    const req = http.request(url, { method: 'POST', headers, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let parsed = text;
        try { parsed = JSON.parse(text); } catch { /* the text as it is */ }
        resolve({ status: res.statusCode, body: parsed });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
  return { post, close: () => agent.destroy() };
}
