// Two nodes on one PostgreSQL database: a change written through one is served by the other
// within 100 ms (the change feed, docs/state.md). Gateways (create, get, list, delete), a target
// created on the other node and listed over MCP, an IAM user's new access key accepted by the
// other node. Skipped without PostgreSQL (MCPGATE_TEST_PG).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import {
  CreateGatewayCommand, CreateGatewayTargetCommand, DeleteGatewayCommand, GetGatewayCommand,
  ListGatewaysCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { makeClient, sendSigned, STS_BODY } from './lib/aws.mjs';
import { connect, control, listAll, mcpAccounts } from './lib/mcp.mjs';
import { freshDatabase, pgAvailable } from './lib/pg.mjs';
import { startServer } from './lib/server.mjs';

const skip = pgAvailable() ? false : 'no PostgreSQL: set MCPGATE_TEST_PG (scripts/pg-server start DIR prints one)';

let db;
let n1;
let n2;
let A;
// The bound of the median: 100 ms; a sanitizer build runs several times slower, it gets 500 ms.
// The p99 is held to five times the bound, and the single changes below to ten times it: this is
// a correctness test on a machine that runs other tests beside it, not a benchmark (the delay's
// figures are bench/bench_pg.mjs's).
let bound = 100;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn until it resolves truthy; the ms from t0 (process.hrtime.bigint()) to that moment.
async function until(fn, t0, limitMs = 5000) {
  for (;;) {
    if (await fn()) return Number(process.hrtime.bigint() - t0) / 1e6;
    if (Number(process.hrtime.bigint() - t0) / 1e6 > limitMs) throw new Error(`not within ${limitMs} ms`);
    await sleep(1);
  }
}

async function gatewayOn(node, id) {
  try {
    return await control(node, A.root).send(new GetGatewayCommand({ gatewayIdentifier: id }));
  } catch (e) {
    if (e.name === 'ResourceNotFoundException') return null;
    throw e;
  }
}

const percentile = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];

before(async () => {
  if (skip) return;
  db = await freshDatabase('feed');
  const accounts = mcpAccounts();
  // The same accounts object (hence the same --identities content) on both nodes.
  n1 = await startServer({ store: db.uri, accounts });
  n2 = await startServer({ store: db.uri, accounts });
  A = accounts[0];
  if (/libasan|libclang_rt\.asan/.test(await readFile(`/proc/${n1.pid}/maps`, 'utf8'))) bound = 500;
});

after(async () => {
  await n1?.stop();
  await n2?.stop();
  await db?.drop();
});

test('a gateway created on one node is served by the other within 100 ms (median of 100)', { skip }, async () => {
  const c1 = control(n1, A.root);
  const lat = [];
  const ids = [];
  for (let i = 0; i < 100; i++) {
    const out = await c1.send(new CreateGatewayCommand({
      name: `feed${i}`, protocolType: 'MCP', authorizerType: 'AWS_IAM',
      roleArn: `arn:aws:iam::${A.id}:role/GatewayRole`,
    }));
    const t0 = process.hrtime.bigint();
    lat.push(await until(async () => (await gatewayOn(n2, out.gatewayId)) !== null, t0));
    ids.push(out.gatewayId);
  }
  const p50 = percentile(lat, 50);
  const p99 = percentile(lat, 99);
  console.log(`# propagation over 100 CreateGateway: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...lat).toFixed(1)} ms`);
  assert.ok(p50 < bound, `p50 ${p50} ms`);
  assert.ok(p99 < 5 * bound, `p99 ${p99} ms`);
  // ListGateways on the other node has every one of them
  const listed = new Set();
  let nextToken;
  do {
    const page = await control(n2, A.root).send(new ListGatewaysCommand({ maxResults: 100, nextToken }));
    for (const g of page.items) listed.add(g.gatewayId);
    nextToken = page.nextToken;
  } while (nextToken);
  for (const id of ids) assert.ok(listed.has(id), `${id} listed on node 2`);
});

test('a target created on node 2 is in tools/list on node 1', { skip }, async () => {
  const out = await control(n1, A.root).send(new CreateGatewayCommand({
    name: 'feedtools', protocolType: 'MCP', authorizerType: 'AWS_IAM',
    roleArn: `arn:aws:iam::${A.id}:role/GatewayRole`,
  }));
  const t0 = process.hrtime.bigint();
  await until(async () => (await gatewayOn(n2, out.gatewayId))?.status === 'READY', t0, 10000);
  await control(n2, A.root).send(new CreateGatewayTargetCommand({
    gatewayIdentifier: out.gatewayId, name: 'remote',
    targetConfiguration: { mcp: { lambda: {
      lambdaArn: `arn:aws:lambda:us-east-1:${A.id}:function:echo`,
      toolSchema: { inlinePayload: [{ name: 'ping', description: 'Ping', inputSchema: { type: 'object' } }] },
    } } },
    credentialProviderConfigurations: [{ credentialProviderType: 'GATEWAY_IAM_ROLE' }],
  }));
  const url = (await gatewayOn(n1, out.gatewayId)).gatewayUrl;
  assert.ok(url.startsWith(n1.endpoint), url);
  const { client } = await connect(url, A.root);
  try {
    const t1 = process.hrtime.bigint();
    const ms = await until(async () => (await listAll(client)).tools.some((t) => t.name === 'remote___ping'), t1);
    assert.ok(ms < 1000, `${ms} ms`);
  } finally {
    await client.close();
  }
});

test('an access key created on node 1 signs a request node 2 accepts', { skip }, async () => {
  const iam = makeClient(IAMClient, n1, A.root);
  await iam.send(new CreateUserCommand({ UserName: 'feeduser' }));
  await iam.send(new PutUserPolicyCommand({
    UserName: 'feeduser', PolicyName: 'all',
    PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }),
  }));
  const k = (await iam.send(new CreateAccessKeyCommand({ UserName: 'feeduser' }))).AccessKey;
  const key = { accessKeyId: k.AccessKeyId, secretAccessKey: k.SecretAccessKey };
  const t0 = process.hrtime.bigint();
  let last;
  const ms = await until(async () => {
    last = await sendSigned(n2, key, { body: STS_BODY });
    return last.status === 200;
  }, t0);
  assert.match(last.text, /feeduser/);
  assert.ok(ms < 10 * bound, `${ms} ms`);
});

test('a gateway deleted on one node is gone from the other', { skip }, async () => {
  const out = await control(n2, A.root).send(new CreateGatewayCommand({
    name: 'feeddel', protocolType: 'MCP', authorizerType: 'AWS_IAM',
    roleArn: `arn:aws:iam::${A.id}:role/GatewayRole`,
  }));
  let t0 = process.hrtime.bigint();
  await until(async () => (await gatewayOn(n1, out.gatewayId))?.status === 'READY', t0, 10000);
  await control(n1, A.root).send(new DeleteGatewayCommand({ gatewayIdentifier: out.gatewayId }));
  t0 = process.hrtime.bigint();
  // DELETING first, then gone (the lifecycle worker finishes it)
  const ms = await until(async () => {
    const g = await gatewayOn(n2, out.gatewayId);
    return g === null || g.status === 'DELETING';
  }, t0);
  assert.ok(ms < 10 * bound, `${ms} ms`);
  await until(async () => (await gatewayOn(n2, out.gatewayId)) === null, process.hrtime.bigint(), 10000);
});
