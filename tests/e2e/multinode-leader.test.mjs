// Two nodes on one PostgreSQL database: the background work (gateway lifecycle, MCP-target
// synchronization) runs on exactly one of them, the other takes over within the lease when the
// leader is killed with -9 and finishes what was left, and when the leader is frozen longer than
// the lease (as in a network pause) it stands down once it runs again; a database outage answers writes with a
// retryable 503 in the AWS error shape while reads keep working, and writes succeed again once
// the database is back, without restarting mcpgate. Skipped without MCPGATE_TEST_PG.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BedrockAgentCoreControlClient, CreateGatewayCommand, GetGatewayCommand, ListGatewaysCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import { CreateUserCommand, GetUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { defaultAccounts, startServer } from './lib/server.mjs';
import { makeClient } from './lib/aws.mjs';
import { freshDatabase, pgAvailable, psql } from './lib/pg.mjs';
import { zipFiles } from './lib/zipfile.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const A = '111122223333';
const TRUST = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'bedrock-agentcore.amazonaws.com' },
    Action: 'sts:AssumeRole' }],
};
const LAMBDA_TRUST = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' },
    Action: 'sts:AssumeRole' }],
};
const ROLE = `arn:aws:iam::${A}:role/gwrole`;
const FN_ROLE = `arn:aws:iam::${A}:role/fnrole`;
// The documented defaults (docs/postgresql.md): a 10 s lease renewed every 2 s, so a survivor
// takes over at most 10 s after the leader's last renewal, plus one renewal period.
const TAKEOVER_MS = 10000 + 2000 + 1500;
const LEADS = /leader: this node leads the background work/;
const FOLLOWS = /leader: another node leads the background work/;

const skip = pgAvailable() ? false : 'no PostgreSQL: set MCPGATE_TEST_PG (scripts/pg-server start DIR prints a URI)';

function accounts() {
  const acc = defaultAccounts();
  for (const a of acc) {
    a.roles = {
      gwrole: { name: 'gwrole', assumeRolePolicyDocument: TRUST },
      fnrole: { name: 'fnrole', assumeRolePolicyDocument: LAMBDA_TRUST },
    };
  }
  return acc;
}

async function waitStatus(client, gatewayIdentifier, want, ms) {
  const t0 = Date.now();
  let last = null;
  while (Date.now() - t0 < ms) {
    try {
      last = (await client.send(new GetGatewayCommand({ gatewayIdentifier }))).status;
      if (last === want) return Date.now() - t0;
    } catch (e) {
      last = e.name;
    }
    await sleep(100);
  }
  assert.fail(`gateway ${gatewayIdentifier} is ${last}, not ${want}, after ${ms} ms`);
}

function create(client, name) {
  return client.send(new CreateGatewayCommand({ name, roleArn: ROLE, protocolType: 'MCP',
    authorizerType: 'AWS_IAM' }));
}

describe('two nodes on one PostgreSQL database', { skip }, () => {
  let db;
  let n1;
  let n2;
  let n3;
  let acc;
  before(async () => {
    db = await freshDatabase('leader');
    acc = accounts();
    // Both start at once; n1 is then the one that leads, n2 the other.
    [n1, n2] = await Promise.all([startServer({ store: db.uri, accounts: acc }),
      startServer({ store: db.uri, accounts: acc })]);
    const either = () => LEADS.test(n1.stderr()) || LEADS.test(n2.stderr());
    await n1.waitStderr(either, 5000);
    if (!LEADS.test(n1.stderr())) [n1, n2] = [n2, n1];
    await n2.waitStderr(FOLLOWS, 5000);
  });
  after(async () => {
    await n1?.stop();
    await n2?.stop();
    await n3?.stop();
    if (db) {
      await psql(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`).catch(() => {});
      await db.drop();
    }
  });
  const control = (gw, extra = {}) =>
    makeClient(BedrockAgentCoreControlClient, gw, acc[0].root, extra);

  test('exactly one node leads the background work', async () => {
    await sleep(2500); // a renewal period: the other has tried again meanwhile
    assert.match(n1.stderr(), LEADS);
    assert.doesNotMatch(n2.stderr(), LEADS);
    assert.match(n2.stderr(), FOLLOWS);
  });

  test('a gateway created on the leader becomes READY', async () => {
    const c = control(n1);
    const r = await create(c, 'onleader');
    assert.equal(r.status, 'CREATING');
    await waitStatus(c, r.gatewayId, 'READY', 5000);
  });

  // The follower's row reaches the leader through the cross-node change feed.
  test('a gateway created on the follower becomes READY', async () => {
    const c = control(n2);
    const r = await create(c, 'onfollower');
    await waitStatus(c, r.gatewayId, 'READY', 5000);
  });

  test('kill -9 of the leader: the other node takes over and finishes the work left', async () => {
    const c2 = control(n2);
    // Created on the follower just before the leader dies: nothing finishes it until the
    // follower leads (or the leader sees it through the change feed first).
    const r = await create(c2, 'beforekill');
    const killedAt = Date.now();
    process.kill(n1.pid, 'SIGKILL');
    const text = await n2.waitStderr(LEADS, TAKEOVER_MS + 2000);
    const tookOver = Date.now() - killedAt;
    assert.match(text, LEADS, `the survivor did not take over within ${TAKEOVER_MS + 2000} ms`);
    assert.ok(tookOver <= TAKEOVER_MS, `took over after ${tookOver} ms`);
    await waitStatus(c2, r.gatewayId, 'READY', 3000);
    // nothing transitional left on the survivor
    const list = await c2.send(new ListGatewaysCommand({}));
    for (const g of list.items) assert.ok(!/ING$/.test(g.status), `${g.gatewayId} is ${g.status}`);
    // the survivor keeps running its background work: a new gateway is finished at once
    const r2 = await create(c2, 'afterkill');
    await waitStatus(c2, r2.gatewayId, 'READY', 5000);
  });

  test('a database outage: writes get a retryable 503, reads keep working, then writes work again', async () => {
    const gw = n2;
    const c = control(gw, { maxAttempts: 3 });
    const iam = makeClient(IAMClient, gw, acc[0].root, { maxAttempts: 3 });
    const before = await create(control(gw), 'beforeoutage');
    await waitStatus(control(gw), before.gatewayId, 'READY', 5000);
    await iam.send(new CreateUserCommand({ UserName: 'beforeoutage' }));
    // The database refuses connections, and every connection it had is cut.
    await psql(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS false`);
    await psql(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '${db.name}'`);
    try {
      let err = null;
      try {
        await create(c, 'duringoutage');
      } catch (e) {
        err = e;
      }
      assert.ok(err, 'CreateGateway succeeded during the outage');
      assert.equal(err.name, 'ServiceException');
      assert.equal(err.$metadata.httpStatusCode, 503);
      assert.equal(err.$fault, 'server');
      assert.ok(err.$metadata.attempts > 1, `the SDK did not retry (attempts ${err.$metadata.attempts})`);
      assert.match(err.message, /retry/);
      let ierr = null;
      try {
        await iam.send(new CreateUserCommand({ UserName: 'duringoutage' }));
      } catch (e) {
        ierr = e;
      }
      assert.ok(ierr, 'CreateUser succeeded during the outage');
      assert.equal(ierr.name, 'ServiceUnavailable');
      assert.equal(ierr.$metadata.httpStatusCode, 503);
      assert.ok(ierr.$metadata.attempts > 1, `the SDK did not retry (attempts ${ierr.$metadata.attempts})`);
      let lerr = null;
      try {
        await makeClient(LambdaClient, gw, acc[0].root, { maxAttempts: 2 }).send(new CreateFunctionCommand({
          FunctionName: 'duringoutage', Runtime: 'python3.12', Role: FN_ROLE, Handler: 'app.handler',
          Code: { ZipFile: zipFiles({ 'app.py': 'def handler(e, c):\n    return e\n' }) },
        }));
      } catch (e) {
        lerr = e;
      }
      assert.ok(lerr, 'CreateFunction succeeded during the outage');
      assert.equal(lerr.name, 'ServiceException');
      assert.equal(lerr.$metadata.httpStatusCode, 503);
      assert.ok(lerr.$metadata.attempts > 1, `the SDK did not retry (attempts ${lerr.$metadata.attempts})`);
      // Reads are answered from memory.
      const got = await control(gw).send(new GetGatewayCommand({ gatewayIdentifier: before.gatewayId }));
      assert.equal(got.status, 'READY');
      const list = await control(gw).send(new ListGatewaysCommand({}));
      assert.ok(list.items.some((g) => g.gatewayId === before.gatewayId));
      const u = await makeClient(IAMClient, gw, acc[0].root).send(new GetUserCommand({ UserName: 'beforeoutage' }));
      assert.equal(u.User.UserName, 'beforeoutage');
      assert.ok(gw.alive());
    } finally {
      await psql(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`);
    }
    // Back: the next writes reconnect by themselves (no restart).
    const r = await create(c, 'afteroutage');
    await waitStatus(control(gw), r.gatewayId, 'READY', TAKEOVER_MS);
    await iam.send(new CreateUserCommand({ UserName: 'afteroutage' }));
    assert.match(gw.stderr(), /lost the connection to PostgreSQL|cannot connect to PostgreSQL/);
  });

  test('a leader frozen longer than the lease hands over and stands down when it wakes', async () => {
    // n2 leads (n1 is dead). A new node follows; n2 stops (SIGSTOP: no renewal, its connections
    // stay open, as in a network pause), the new node takes over after the lease; n2, resumed,
    // finds its lease gone and stops its background work.
    n3 = await startServer({ store: db.uri, accounts: acc });
    await n3.waitStderr(FOLLOWS);
    assert.doesNotMatch(n3.stderr(), LEADS);
    const stoppedAt = Date.now();
    process.kill(n2.pid, 'SIGSTOP');
    let text;
    try {
      text = await n3.waitStderr(LEADS, TAKEOVER_MS + 2000);
    } finally {
      process.kill(n2.pid, 'SIGCONT');
    }
    const tookOver = Date.now() - stoppedAt;
    assert.match(text, LEADS);
    assert.ok(tookOver <= TAKEOVER_MS, `took over after ${tookOver} ms`);
    const STOOD_DOWN = /leader: another node leads the background work now; this node stops it/;
    assert.match(await n2.waitStderr(STOOD_DOWN, 5000), STOOD_DOWN);
    // the new leader finishes its work; the old one still serves requests
    const c3 = control(n3);
    const r = await create(c3, 'afterpause');
    await waitStatus(c3, r.gatewayId, 'READY', 5000);
    const got = await control(n2).send(new ListGatewaysCommand({}));
    assert.ok(got.items.length > 0);
  });
});
