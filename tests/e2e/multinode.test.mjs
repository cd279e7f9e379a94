// Two mcpgate nodes on one PostgreSQL database behind nginx round robin, set up as docs/deploy.md
// says (lib/cluster.mjs reads its nginx block): any node serves any request, and nothing is lost
// when one dies. Needs the test PostgreSQL (MCPGATE_TEST_PG, scripts/test starts one); the
// PostgreSQL restart case also needs its folder (MCPGATE_TEST_PG_DIR, for scripts/pg-server
// restart). The cases run in order on one cluster: the kill -9 and PostgreSQL restart cases last.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import {
  BedrockAgentCoreControlClient, CreateGatewayCommand, CreateGatewayTargetCommand,
  GetGatewayCommand, ListGatewaysCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { CreateUserCommand, IAMClient, ListUsersCommand } from '@aws-sdk/client-iam';
import { startCluster } from './lib/cluster.mjs';
import { connect, mcpAccounts, signedFetch } from './lib/mcp.mjs';
import { pgAvailable } from './lib/pg.mjs';
import { newKey, repoRoot } from './lib/server.mjs';
import { adminRole, operatorUser, runWalkthrough, TOOL_NAME } from './lib/walkthrough.mjs';

const run = promisify(execFile);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const REGION = 'us-east-1';
const skip = pgAvailable() ? false : 'no PostgreSQL: MCPGATE_TEST_PG is unset (scripts/test starts one)';

let cl;
let accounts;
let A; // account 111122223333
const roleArn = (id, name = 'GatewayRole') => `arn:aws:iam::${id}:role/${name}`;

/** A control-plane client for an endpoint (a node's or nginx's); retries off unless asked. */
function controlAt(endpoint, key = A.root, maxAttempts = 1) {
  return new BedrockAgentCoreControlClient({ region: REGION, endpoint, credentials: key, maxAttempts });
}
function stsAt(endpoint, key, maxAttempts = 1) {
  return new STSClient({ region: REGION, endpoint, credentials: key, maxAttempts });
}
const uniq = (p) => `${p}${Math.random().toString(36).slice(2, 8)}`;
const createInput = (name, extra = {}, acct = A) => ({
  name, protocolType: 'MCP', authorizerType: 'AWS_IAM', roleArn: roleArn(acct.id), ...extra,
});

/** Polls fn() (errors count as "not yet") until it returns a truthy value; throws after ms. */
async function until(fn, ms, what) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms${last ? ` (last error: ${last.name}: ${last.message})` : ''}`);
    await sleep(25);
  }
}

/** Waits until the gateway is READY as seen through `endpoint`. */
function readyAt(endpoint, gatewayId, ms = 15000) {
  return until(async () => (await controlAt(endpoint).send(new GetGatewayCommand({ gatewayIdentifier: gatewayId })))
    .status === 'READY', ms, `gateway ${gatewayId} READY at ${endpoint}`);
}

/** The number of access-log lines (one per request) a node wrote so far. */
const accessLines = (node) => (node.stderr().match(/"sub":"http"/g) ?? []).length;

/**
 * Waits until nginx passes requests to every node again: a node that failed a request (such as
 * one killed while answering) is left out for fail_timeout (5 s, docs/deploy.md).
 */
async function allNodesInRotation() {
  const seen = cl.nodes.map(accessLines);
  await until(async () => {
    await stsAt(cl.endpoint, A.users.dev).send(new GetCallerIdentityCommand({}));
    return cl.nodes.every((n, i) => accessLines(n) > seen[i]);
  }, 15000, 'nginx passing requests to every node');
}

/** A raw MCP JSON-RPC POST (SigV4 as `key`), the body parsed from JSON or from SSE data lines. */
async function mcpPost(url, key, message, headers = {}) {
  const r = await signedFetch(key)(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify(message),
  });
  const text = await r.text();
  let json = null;
  const data = /^data: (.*)$/m.exec(text);
  try { json = JSON.parse(data ? data[1] : text); } catch { /* not JSON */ }
  return { status: r.status, headers: r.headers, text, json };
}

/** The gateway URL's path at another origin (a node's, or nginx's). */
const at = (endpoint, gatewayUrl) => endpoint + new URL(gatewayUrl).pathname;

describe('two nodes on PostgreSQL behind nginx', { skip }, () => {
  before(async () => {
    accounts = mcpAccounts();
    for (const a of accounts) {
      a.roles.AdminRole = adminRole(a.id);
      a.users.operator = operatorUser(a.id, newKey());
    }
    A = accounts[0];
    cl = await startCluster({ nodes: 2, accounts });
  });

  after(async () => {
    await cl?.stop();
  });

  test('nginx spreads requests over both nodes and passes Host and the signed headers unchanged', async () => {
    const before0 = cl.nodes.map(accessLines);
    for (let i = 0; i < 8; i++) {
      const me = await stsAt(cl.endpoint, A.users.dev).send(new GetCallerIdentityCommand({}));
      assert.equal(me.Arn, 'arn:aws:iam::111122223333:user/dev');
    }
    for (const n of cl.nodes) await n.waitStderr(() => true, 300);
    const got = cl.nodes.map((n, i) => accessLines(n) - before0[i]);
    assert.ok(got.every((k) => k >= 2), `requests per node: ${got.join(', ')}`);
    // a gateway's URL is nginx's (--public-url), whichever node made it
    const g = await controlAt(cl.endpoint).send(new CreateGatewayCommand(createInput(uniq('url'))));
    assert.equal(g.gatewayUrl, `${cl.endpoint}/gateways/${g.gatewayId}/mcp`);
  });

  test('a write on one node is seen on the other at once (the change feed)', async () => {
    const delays = [];
    for (let i = 0; i < 5; i++) {
      const [from, to] = i % 2 ? [cl.nodes[1], cl.nodes[0]] : [cl.nodes[0], cl.nodes[1]];
      const g = await controlAt(from.endpoint).send(new CreateGatewayCommand(createInput(uniq('feed'))));
      const t0 = Date.now();
      await until(async () => (await controlAt(to.endpoint).send(new GetGatewayCommand({ gatewayIdentifier: g.gatewayId })))
        .gatewayId === g.gatewayId, 5000, `gateway ${g.gatewayId} made on ${from.endpoint} seen on ${to.endpoint}`);
      delays.push(Date.now() - t0);
    }
    // The issue asks for 100 ms; a loaded 2-core test machine gets slack.
    assert.ok(Math.max(...delays) < 1000, `delays (ms): ${delays.join(', ')}`);
  });

  // The node that wrote serves the change at once, another within 100 ms (the change feed): the
  // next request may land on either node, so the walkthrough waits a little after each write.
  test('the cross-account walkthrough through nginx (each request on either node)', async () => {
    const r = await runWalkthrough({
      endpoint: cl.endpoint,
      settleMs: 250,
      accounts: {
        a: { id: accounts[0].id, operator: accounts[0].users.operator },
        b: { id: accounts[1].id, operator: accounts[1].users.operator },
      },
    });
    assert.equal(r.callerA.Arn, 'arn:aws:sts::111122223333:assumed-role/AdminRole/session');
    assert.equal(r.gatewayUrl, `${cl.endpoint}/gateways/${r.gatewayId}/mcp`);
    assert.ok(r.listA.ok, `A lists the tools: ${r.listA.error}`);
    assert.deepEqual(r.listA.tools.map((t) => t.name), [TOOL_NAME]);
    assert.equal(r.listB1.ok, false);
    assert.equal(r.listB1.status, 403);
    assert.ok(r.listB2.ok, `B lists the tools once allowed: ${r.listB2.error}`);
    assert.match(r.callB.content[0].text, /Hello from Gateway!/);
  });

  test('an STS session made on one node works on the other', async () => {
    for (const [from, to] of [[0, 1], [1, 0]]) {
      const out = await stsAt(cl.nodes[from].endpoint, A.users.operator).send(new AssumeRoleCommand({
        RoleArn: roleArn(A.id, 'AdminRole'), RoleSessionName: `from-node-${from}`,
      }));
      const c = out.Credentials;
      const me = await stsAt(cl.nodes[to].endpoint, {
        accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken,
      }).send(new GetCallerIdentityCommand({}));
      assert.equal(me.Arn, `arn:aws:sts::111122223333:assumed-role/AdminRole/from-node-${from}`);
    }
  });

  test('an MCP session started on one node continues on the other', async () => {
    const c0 = controlAt(cl.nodes[0].endpoint);
    const g = await c0.send(new CreateGatewayCommand(createInput(uniq('sess'), {
      protocolConfiguration: { mcp: { sessionConfiguration: { sessionTimeoutInSeconds: 900 } } },
    })));
    const tools = [1, 2, 3].map((i) => ({ name: `t${i}`, description: `tool ${i}`, inputSchema: { type: 'object' } }));
    await readyAt(cl.nodes[0].endpoint, g.gatewayId);
    await c0.send(new CreateGatewayTargetCommand({
      gatewayIdentifier: g.gatewayId, name: 'x',
      targetConfiguration: { mcp: { lambda: {
        lambdaArn: `arn:aws:lambda:${REGION}:${A.id}:function:absent`, toolSchema: { inlinePayload: tools } } } },
      credentialProviderConfigurations: [{ credentialProviderType: 'GATEWAY_IAM_ROLE' }],
    }));
    await readyAt(cl.nodes[1].endpoint, g.gatewayId);
    const version = '2025-06-18';
    const init = await mcpPost(at(cl.nodes[0].endpoint, g.gatewayUrl), A.root, {
      jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'multinode', version: '0' } },
    });
    assert.equal(init.status, 200, init.text);
    const sid = init.headers.get('mcp-session-id');
    assert.ok(sid, 'initialize gives a session id');
    const h = { 'mcp-session-id': sid, 'mcp-protocol-version': version };
    const n = await mcpPost(at(cl.nodes[1].endpoint, g.gatewayUrl), A.root,
      { jsonrpc: '2.0', method: 'notifications/initialized' }, h);
    assert.equal(n.status, 202, n.text);
    const names = async (node) => {
      const r = await until(async () => {
        const x = await mcpPost(at(node.endpoint, g.gatewayUrl), A.root, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, h);
        return x.status === 200 && x.json?.result?.tools?.length === 3 ? x : null;
      }, 5000, `tools/list in session ${sid.slice(0, 6)}... on ${node.endpoint}`);
      return r.json.result.tools.map((t) => t.name.split('___')[1]).sort();
    };
    assert.deepEqual(await names(cl.nodes[1]), ['t1', 't2', 't3']);
    assert.deepEqual(await names(cl.nodes[0]), ['t1', 't2', 't3']);
    // the SDK's client through nginx: its messages land on both nodes
    const { client } = await connect(g.gatewayUrl, A.root);
    try {
      for (let i = 0; i < 6; i++) assert.equal((await client.listTools()).tools.length, 3);
    } finally {
      await client.close();
    }
  });

  test('the same gateway name created on both nodes at once: one succeeds, the other gets ConflictException', async () => {
    const c = cl.nodes.map((n) => controlAt(n.endpoint));
    for (let i = 0; i < 5; i++) {
      const name = uniq(`race${i}`);
      const rs = await Promise.allSettled(c.map((x) => x.send(new CreateGatewayCommand(createInput(name)))));
      const ok = rs.filter((r) => r.status === 'fulfilled');
      const bad = rs.filter((r) => r.status === 'rejected');
      assert.equal(ok.length, 1, `${name}: ${rs.map((r) => r.status === 'fulfilled' ? r.value.gatewayId : r.reason.name).join(', ')}`);
      assert.equal(bad[0].reason.name, 'ConflictException', bad[0].reason.message);
      assert.equal(bad[0].reason.$metadata.httpStatusCode, 409);
      for (const x of c) {
        const items = await until(async () => {
          const l = (await x.send(new ListGatewaysCommand({ maxResults: 1000 }))).items.filter((g) => g.name === name);
          return l.length ? l : null;
        }, 5000, `${name} listed`);
        assert.deepEqual(items.map((g) => g.gatewayId), [ok[0].value.gatewayId]);
      }
    }
  });

  test('names checked against the store on every node: a target and an IAM user created on both nodes at once', async () => {
    const c = cl.nodes.map((n) => controlAt(n.endpoint));
    const g = await c[0].send(new CreateGatewayCommand(createInput(uniq('names'))));
    await readyAt(cl.nodes[1].endpoint, g.gatewayId);
    const iam = cl.nodes.map((n) => new IAMClient({ region: REGION, endpoint: n.endpoint, credentials: A.root, maxAttempts: 1 }));
    for (let i = 0; i < 5; i++) {
      const tname = uniq(`t${i}`);
      const input = {
        gatewayIdentifier: g.gatewayId, name: tname,
        targetConfiguration: { mcp: { lambda: {
          lambdaArn: `arn:aws:lambda:${REGION}:${A.id}:function:absent`,
          toolSchema: { inlinePayload: [{ name: 'x', description: 'x', inputSchema: { type: 'object' } }] } } } },
        credentialProviderConfigurations: [{ credentialProviderType: 'GATEWAY_IAM_ROLE' }],
      };
      const rs = await Promise.allSettled(c.map((x) => x.send(new CreateGatewayTargetCommand(input))));
      const ok = rs.filter((r) => r.status === 'fulfilled');
      assert.equal(ok.length, 1, `${tname}: ${rs.map((r) => r.status === 'fulfilled' ? r.value.targetId : r.reason.name).join(', ')}`);
      const bad = rs.find((r) => r.status === 'rejected');
      assert.equal(bad.reason.name, 'ConflictException', bad.reason.message);

      const uname = uniq(`u${i}`);
      const us = await Promise.allSettled(iam.map((x) => x.send(new CreateUserCommand({ UserName: uname }))));
      const uok = us.filter((r) => r.status === 'fulfilled');
      assert.equal(uok.length, 1, `${uname}: ${us.map((r) => r.status === 'fulfilled' ? 'ok' : r.reason.name).join(', ')}`);
      const ubad = us.find((r) => r.status === 'rejected');
      assert.equal(ubad.reason.name, 'EntityAlreadyExistsException', ubad.reason.message);
      for (const x of iam) {
        const users = (await x.send(new ListUsersCommand({}))).Users.filter((u) => u.UserName === uname);
        assert.deepEqual(users.map((u) => u.UserId), [uok[0].value.User.UserId]);
      }
    }
  });

  test('a clientToken retried on the other node returns the same gateway', async () => {
    const input = createInput(uniq('idem'), { clientToken: `token-${uniq('')}-0123456789abcdef0123` });
    const first = await controlAt(cl.nodes[0].endpoint).send(new CreateGatewayCommand(input));
    const again = await controlAt(cl.nodes[1].endpoint).send(new CreateGatewayCommand(input));
    assert.equal(again.gatewayId, first.gatewayId);
    // both at once, on a new token: one gateway
    const input2 = createInput(uniq('idem'), { clientToken: `token-${uniq('')}-abcdef0123456789abcd` });
    const rs = await Promise.all(cl.nodes.map((n) => controlAt(n.endpoint).send(new CreateGatewayCommand(input2))));
    assert.equal(rs[0].gatewayId, rs[1].gatewayId);
  });

  test('background work: gateways made on either node get READY, also while the other node is dead', async () => {
    for (const n of cl.nodes) {
      const g = await controlAt(n.endpoint).send(new CreateGatewayCommand(createInput(uniq('life'))));
      await readyAt(n.endpoint, g.gatewayId);
    }
    // Kill each node in turn: one of them led; the survivor takes over within seconds.
    for (const [dead, alive] of [[0, 1], [1, 0]]) {
      process.kill(cl.nodes[dead].pid, 'SIGKILL');
      const g = await controlAt(cl.nodes[alive].endpoint).send(new CreateGatewayCommand(createInput(uniq('lead'))));
      await readyAt(cl.nodes[alive].endpoint, g.gatewayId, 20000);
      await cl.nodes[dead].restart({ timeoutMs: 20000 });
      await readyAt(cl.nodes[dead].endpoint, g.gatewayId, 5000);
    }
  });

  test('kill -9 of a node mid-run: requests through nginx keep succeeding, no acknowledged write is lost', async (t) => {
    t.after(async () => {
      if (!cl.nodes[1].alive()) await cl.nodes[1].restart({ timeoutMs: 20000 });
    });
    const acked = [];
    const errors = [];
    let stop = false;
    let killedAt = 0;
    const afterKill = { ok: 0, failed: [] };
    // two writers through nginx, SDK retries on (as clients run), one create after another
    await allNodesInRotation();
    // (in account B: the per-account gateway quota)
    const B = accounts[1];
    const writer = async () => {
      const c = controlAt(cl.endpoint, B.root, 3);
      while (!stop) {
        const sentAt = Date.now();
        try {
          const g = await c.send(new CreateGatewayCommand(createInput(uniq('kill'), {}, B)));
          acked.push(g.gatewayId);
          if (killedAt && sentAt > killedAt + 500) afterKill.ok++;
        } catch (e) {
          errors.push(`${e.name}: ${e.message}`);
          if (killedAt && sentAt > killedAt + 500) afterKill.failed.push(`${e.name} ${e.$metadata?.httpStatusCode}`);
        }
        await sleep(20);
      }
    };
    const writers = [writer(), writer()];
    await sleep(1500);
    killedAt = Date.now();
    process.kill(cl.nodes[1].pid, 'SIGKILL');
    try {
      await sleep(3000);
    } finally {
      stop = true;
      await Promise.all(writers);
    }
    const state = () => `node 1 ${cl.nodes[0].alive() ? 'runs' : `exited ${JSON.stringify(cl.nodes[0].exitStatus())}`}; ` +
      `node 1's log ends: ${cl.nodes[0].stderr().slice(-1500)}\nnginx's log (without "no live upstreams") ends: ` +
      cl.nginxLog().split('\n').filter((l) => !/no live upstreams/.test(l)).join('\n').slice(-3000);
    const failed = [...new Set(afterKill.failed)];
    assert.deepEqual(failed, [], `requests sent 0.5 s or more after the kill failed (${afterKill.failed.length}; ` +
      `${afterKill.ok} succeeded); ${state()}`);
    assert.ok(afterKill.ok >= 5, `only ${afterKill.ok} requests after the kill`);
    assert.ok(acked.length >= 10, `only ${acked.length} writes acknowledged; errors: ${errors.slice(0, 5).join('; ')}`);
    // every acknowledged write is there: on the survivor, and on the killed node once it is back
    await cl.nodes[1].restart({ timeoutMs: 20000 });
    for (const n of cl.nodes) {
      const c = controlAt(n.endpoint, B.root);
      const ids = new Set();
      let token;
      do {
        const p = await c.send(new ListGatewaysCommand({ maxResults: 1000, nextToken: token }));
        for (const g of p.items) ids.add(g.gatewayId);
        token = p.nextToken;
      } while (token);
      const lost = acked.filter((id) => !ids.has(id));
      assert.deepEqual(lost, [], `acknowledged gateways missing on ${n.endpoint}`);
    }
  });

  test('PostgreSQL restarted under load: retryable errors meanwhile, the nodes reconnect by themselves', {
    skip: process.env.MCPGATE_TEST_PG_DIR ? false : 'MCPGATE_TEST_PG_DIR is unset: the test PostgreSQL cannot be restarted',
  }, async () => {
    const statuses = [];
    let stop = false;
    const prober = async (node) => {
      const c = controlAt(node.endpoint);
      while (!stop) {
        try {
          await c.send(new CreateGatewayCommand(createInput(uniq('pg'))));
          statuses.push(200);
        } catch (e) {
          statuses.push(`${e.$metadata?.httpStatusCode} ${e.name}`);
        }
        await sleep(50);
      }
    };
    const probers = cl.nodes.map(prober);
    await sleep(300);
    // a 2-second outage: a fast shutdown cuts every connection, then the server is away
    await run(path.join(repoRoot, 'scripts', 'pg-server'), ['restart', process.env.MCPGATE_TEST_PG_DIR, '2'],
      { timeout: 60000 });
    const back = Date.now();
    // both nodes write again within 10 s, without a restart of theirs
    for (const n of cl.nodes) {
      await until(async () => (await controlAt(n.endpoint).send(new CreateGatewayCommand(createInput(uniq('back'))))).gatewayId,
        10000, `a write on ${n.endpoint} after PostgreSQL came back`);
    }
    stop = true;
    await Promise.all(probers);
    const failures = statuses.filter((s) => s !== 200);
    assert.ok(failures.length > 0, 'no request saw the outage');
    const notRetryable = failures.filter((s) => !/^(503 |429 |\S+ ThrottlingException)/.test(s));
    assert.deepEqual([...new Set(notRetryable)], [], 'answers during the outage that an SDK does not retry as such');
    // changes still travel between the nodes (each node's listener reconnected)
    const g = await controlAt(cl.nodes[0].endpoint).send(new CreateGatewayCommand(createInput(uniq('after'))));
    await until(async () => (await controlAt(cl.nodes[1].endpoint).send(new GetGatewayCommand({ gatewayIdentifier: g.gatewayId })))
      .gatewayId, 5000, `a write on node 1 seen on node 2 ${Date.now() - back} ms after PostgreSQL came back`);
  });
});
