// AgentCore control plane throughput with 1,000 gateways: GetGateway and ListGateways (signed
// requests, authorization, snapshot reads, JSON) next to the unauthenticated static route
// /_mcpgate/health, on the same server in the same run.
//
//   MCPGATE_BIN=build/release/mcpgate node bench/bench_agentcore.mjs [SECONDS] [CONCURRENCY]
import { startServer, defaultAccounts } from '../tests/e2e/lib/server.mjs';
import { signRequest } from '../tests/e2e/lib/aws.mjs';

const SECONDS = Number(process.argv[2] ?? 3);
const CONC = Number(process.argv[3] ?? 16);
const GATEWAYS = 1000;

const accounts = defaultAccounts();
accounts[0].roles = { gw: { name: 'gw', path: '/', assumeRolePolicyDocument: {
  Version: '2012-10-17', Statement: [{ Effect: 'Allow',
    Principal: { Service: 'bedrock-agentcore.amazonaws.com' }, Action: 'sts:AssumeRole' }] } } };
const gw = await startServer({ accounts, args: ['--log-level', 'warn'] });
const key = accounts[0].root;

async function call(method, path, body) {
  const s = await signRequest(gw, key, { method, path, service: 'bedrock-agentcore',
    headers: body ? { 'content-type': 'application/json' } : {}, body });
  const res = await fetch(s.url, { method, headers: s.headers, body });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text;
}

/** Runs `fn` from CONC workers for SECONDS; returns requests per second. */
async function rate(fn) {
  const end = Date.now() + SECONDS * 1000;
  let n = 0;
  await Promise.all(Array.from({ length: CONC }, async () => {
    while (Date.now() < end) {
      await fn();
      n++;
    }
  }));
  return n / SECONDS;
}

try {
  const ids = [];
  for (let i = 0; i < GATEWAYS; i++) {
    const r = JSON.parse(await call('POST', '/gateways/', JSON.stringify({
      name: `bench${i}`, roleArn: 'arn:aws:iam::111122223333:role/gw', authorizerType: 'AWS_IAM' })));
    ids.push(r.gatewayId);
  }
  const health = `${gw.endpoint}/_mcpgate/health`;
  const results = {
    'GET /_mcpgate/health (static, unauthenticated)': await rate(async () => {
      await (await fetch(health)).text();
    }),
    GetGateway: await rate(() => call('GET', `/gateways/${ids[Math.floor(Math.random() * ids.length)]}/`)),
    'ListGateways maxResults=10': await rate(() => call('GET', '/gateways/?maxResults=10')),
    'ListGateways maxResults=100': await rate(() => call('GET', '/gateways/?maxResults=100')),
  };
  console.log(`${GATEWAYS} gateways, ${CONC} concurrent clients, ${SECONDS} s each (client: node fetch, signs every request)`);
  for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(50)} ${v.toFixed(0).padStart(8)} req/s`);
} finally {
  await gw.stop();
}
