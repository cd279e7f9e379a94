// Write latency against the size of the state: the median of CreateGateway, CreateGatewayTarget,
// PutResourcePolicy, PutRolePolicy and CreateUser on an empty server, then on a server holding N
// gateways spread over 20 accounts (a tenth of them with 10 targets of 10 tools each: the state
// that tests/e2e/lib/scale.mjs builds), each as a ratio to the empty server. The servers run side
// by side and are measured in interleaved rounds.
//   MCPGATE_BIN=build/release/mcpgate node bench/bench_writes.mjs
// At 10,000 gateways the first account holds 500: SAMPLES above about 400 reaches its quota of
// 1,000 gateways.
// Environment: N (gateways, default 1000; a comma-separated list measures each size against the
// same empty server, e.g. N=1000,10000: the scale target), SAMPLES (calls per write,
// default 40), PARALLEL (requests in flight while the state is built, default 8).
import { createRequire } from 'node:module';
import { makeClient } from '../tests/e2e/lib/aws.mjs';
import { startServer } from '../tests/e2e/lib/server.mjs';
import { ACCOUNTS, buildState, lambdaTarget as target, scaleAccounts } from '../tests/e2e/lib/scale.mjs';

const require = createRequire(new URL('../tests/e2e/package.json', import.meta.url));
const {
  BedrockAgentCoreControlClient, CreateGatewayCommand, CreateGatewayTargetCommand,
  PutResourcePolicyCommand,
} = require('@aws-sdk/client-bedrock-agentcore-control');
const { CreateUserCommand, IAMClient, PutRolePolicyCommand } = require('@aws-sdk/client-iam');

const SIZES = String(process.env.N ?? '1000').split(',').map(Number).filter((n) => n > 0);
const SAMPLES = Number(process.env.SAMPLES ?? 40);
const PARALLEL = Number(process.env.PARALLEL ?? 8);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };

async function timed(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** The writes to time on one server, each taking a fresh index per call. */
async function prepare(gw, accounts, tag) {
  const a = accounts[0];
  const cp = makeClient(BedrockAgentCoreControlClient, gw, a.root, { maxAttempts: 3 });
  const iam = makeClient(IAMClient, gw, a.root, { maxAttempts: 3 });
  const roleArn = `arn:aws:iam::${a.id}:role/gw`;
  const base = await cp.send(new CreateGatewayCommand({ name: `${tag}base`, roleArn,
    authorizerType: 'AWS_IAM' }));
  // targets go to fresh gateways, 10 on each
  const hosts = [];
  let nTargets = 0;
  const host = async (i) => {
    const h = Math.floor(i / 10);
    while (hosts.length <= h)
      hosts.push((await cp.send(new CreateGatewayCommand({ name: `${tag}host${hosts.length}`,
        roleArn, authorizerType: 'AWS_IAM' }))).gatewayId);
    return hosts[h];
  };
  const policy = (i) => JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow',
    Principal: { AWS: `arn:aws:iam::${accounts[1].id}:root` },
    Action: 'bedrock-agentcore:InvokeGateway', Resource: base.gatewayArn, Sid: `s${i}` }] });
  const rolePolicy = (i) => JSON.stringify({ Version: '2012-10-17', Statement: [{
    Effect: 'Allow', Action: 'bedrock-agentcore:InvokeGateway', Resource: `*`, Sid: `s${i}` }] });
  const writes = {
    CreateGateway: (i) => cp.send(new CreateGatewayCommand({ name: `${tag}w${i}`, roleArn,
      authorizerType: 'AWS_IAM' })),
    CreateGatewayTarget: async (i) => {
      const gatewayIdentifier = await host(nTargets++);
      return { gatewayIdentifier, ...target(a.id, `w${i}`, i) };
    },
    PutResourcePolicy: (i) => cp.send(new PutResourcePolicyCommand({
      resourceArn: base.gatewayArn, policy: policy(i) })),
    PutRolePolicy: (i) => iam.send(new PutRolePolicyCommand({ RoleName: 'gw',
      PolicyName: `p${i % 5}`, PolicyDocument: rolePolicy(i) })),
    CreateUser: (i) => iam.send(new CreateUserCommand({ UserName: `${tag}u${i}` })),
  };
  let next = 0;
  const samples = Object.fromEntries(Object.keys(writes).map((k) => [k, []]));
  /** Times `count` calls of each write; the target's host is made outside the timing. */
  async function round(count, keep = true) {
    for (const [name, fn] of Object.entries(writes)) {
      for (let k = 0; k < count; k++) {
        const i = next++;
        let ms;
        if (name === 'CreateGatewayTarget') {
          const input = await fn(i);
          ms = await timed(() => cp.send(new CreateGatewayTargetCommand(input)));
        } else {
          ms = await timed(() => fn(i));
        }
        if (keep) samples[name].push(ms);
      }
    }
  }
  return { round, samples };
}

async function start(n) {
  const accounts = scaleAccounts();
  const gw = await startServer({ accounts, args: ['--log-level', 'warn', '--request-timeout', '120000',
    '--idle-timeout', '120000'], timeoutMs: 30000 });
  let built = null;
  if (n > 0) {
    built = await buildState(gw, accounts, { gateways: n, parallel: PARALLEL });
    // the background worker moves what was created to READY: let it finish first
    await new Promise((r) => setTimeout(r, 3000 + n / 2));
  }
  const m = await prepare(gw, accounts, 'bench');
  await m.round(3, false); // warm the client and the server
  return { n, gw, built, m };
}

// Every server stays up and the rounds are interleaved (empty, then each size, ROUNDS times), so
// a change of load on the machine hits every figure alike.
const ROUNDS = 5;
const servers = [];
try {
  for (const n of [0, ...SIZES]) servers.push(await start(n));
  for (let r = 0; r < ROUNDS; r++)
    for (const s of servers) await s.m.round(Math.ceil(SAMPLES / ROUNDS));
  const empty = servers[0];
  for (const full of servers.slice(1)) {
    console.log(`write latency, median of ${ROUNDS * Math.ceil(SAMPLES / ROUNDS)} sequential ` +
      `calls (AWS SDK) in ${ROUNDS} interleaved rounds; ${full.n} gateways over ${ACCOUNTS} ` +
      `accounts, ${full.built.targets} targets of 10 tools (built in ${full.built.seconds} s ` +
      `with ${PARALLEL} in flight)`);
    for (const name of Object.keys(empty.m.samples)) {
      const e = median(empty.m.samples[name]), f = median(full.m.samples[name]);
      console.log(`${name.padEnd(20)} empty ${e.toFixed(2).padStart(7)} ms  ` +
        `${full.n} gateways ${f.toFixed(2).padStart(7)} ms  ratio ${(f / e).toFixed(2)}`);
    }
  }
} finally {
  for (const s of servers) await s.gw.stop();
}
