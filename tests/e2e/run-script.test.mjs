// scripts/run as a user runs it: from the repository's top folder, the default options (a
// relative ./mcpgate-data, 127.0.0.1:4777), twice on the same data folder; and proof that the
// walkthrough fails, loudly and naming the step, when a step does not behave as on AWS.
//
// Each run happens in a temporary copy of the parts of the repository scripts/run uses
// (scripts/, runtimes/, models/, tests/e2e with a link to its node_modules), so a user's own
// ./mcpgate-data is never touched; MCPGATE_BIN points scripts/run at the binary under test
// instead of a release build.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { CreateGatewayCommand } from '@aws-sdk/client-bedrock-agentcore-control';
import { CreateRoleCommand } from '@aws-sdk/client-iam';
import { assumeRole, GATEWAY_NAME } from './lib/walkthrough.mjs';
import { removeCopy, repoCopy as makeCopy, startRun } from './lib/repocopy.mjs';
import { freePort } from './lib/server.mjs';

const ANSWER_RE = /tools\/call echo-tools___echo_message returned: .*Hello from Gateway! Input: \{'message': 'hello from account B'\}/;
const RAISING = 'def handler(event, context):\n    raise RuntimeError("the function failed on purpose")\n';

const copies = [];
after(() => {
  for (const d of copies) removeCopy(d);
});

function repoCopy() {
  const dir = makeCopy();
  copies.push(dir);
  return dir;
}

function portTaken(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.setTimeout(500, () => { s.destroy(); resolve(false); });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/**
 * Runs scripts/run in `cwd` until it prints its banner (then stops it with SIGTERM, as Ctrl-C
 * does) or exits by itself. Resolves {code, signal, out, stopped} (stdout and stderr together).
 */
async function runScript(cwd, args = [], env = {}, timeoutMs = 150000) {
  const run = startRun(cwd, args, env);
  let timer;
  const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve('timeout'), timeoutMs); });
  const served = await Promise.race([run.banner.then(() => true, () => false), timeout]);
  clearTimeout(timer);
  if (served === 'timeout') {
    await run.stop();
    throw new Error(`scripts/run did not finish in ${timeoutMs} ms; its output:\n${run.output()}`);
  }
  const { code, signal } = served ? await run.stop() : await run.exited;
  return { code, signal, out: run.output(), stopped: served };
}

describe('scripts/run the way a user runs it', () => {
  test('defaults (relative ./mcpgate-data, 127.0.0.1:4777), twice on the same data folder: the real answer each time', { timeout: 400000 }, async (t) => {
    if (await portTaken(4777)) {
      t.skip('127.0.0.1:4777 (scripts/run\'s default) is taken by another program: this test needs it free');
      return;
    }
    const dir = repoCopy();
    for (const round of [1, 2]) {
      const r = await runScript(dir);
      assert.ok(r.stopped, `run ${round}: scripts/run exited by itself (code ${r.code}) instead of serving:\n${r.out}`);
      assert.match(r.out, ANSWER_RE, `run ${round}: the tool call did not show the function's answer:\n${r.out}`);
      assert.match(r.out, /walkthrough: passed/, `run ${round}:\n${r.out}`);
      assert.doesNotMatch(r.out, /walkthrough: FAILED|demo: FAILED/, `run ${round}:\n${r.out}`);
      assert.match(r.out, /mcpgate is running at http:\/\/127\.0\.0\.1:4777 .*data in \.\/mcpgate-data\)/);
      assert.equal(r.code, 0, `run ${round}: scripts/run exit status after SIGTERM:\n${r.out}`);
    }
    // the data folder is the relative one, in the copy
    assert.ok(existsSync(path.join(dir, 'mcpgate-data', 'identities.json')));
  });

  test('a step that fails (a Lambda whose code raises) fails the walkthrough: named step, exit 1, no "passed"', { timeout: 200000 }, async () => {
    const dir = repoCopy();
    const data = path.join(dir, 'data');
    const port = await freePort();
    const r = await runScript(dir, ['--data', data, '--listen', `127.0.0.1:${port}`], { MCPGATE_DEMO_LAMBDA_CODE: RAISING });
    assert.equal(r.stopped, false, `scripts/run kept serving after a failed step:\n${r.out}`);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /demo: FAILED at step "Calling the gateway from account B again": tools\/call echo-tools___echo_message returned/);
    assert.match(r.out, /walkthrough: FAILED at step "Calling the gateway from account B again"/);
    assert.doesNotMatch(r.out, /walkthrough: passed/);
    assert.doesNotMatch(r.out, /every step behaved as on AWS/);
    assert.ok(existsSync(path.join(data, 'walkthrough.log')));
    assert.match(readFileSync(path.join(data, 'walkthrough.log'), 'utf8'), /FAILED at step/);
    // the gateway was stopped: its port is free again
    assert.equal(await portTaken(port), false);
  });

  test('where node is older than 20 (Debian 12 has 18), the walkthrough runs on Node.js 22 from npm', { timeout: 300000 }, async () => {
    const dir = repoCopy();
    const data = path.join(dir, 'data');
    const port = await freePort();
    // MCPGATE_DEMO_NODE_MIN raises the bar so that this machine's node counts as too old.
    const r = await runScript(dir, ['--data', data, '--listen', `127.0.0.1:${port}`], { MCPGATE_DEMO_NODE_MIN: '99' });
    assert.match(r.out, /installing Node\.js 22 from npm \(scripts\/node22\)/, r.out);
    assert.ok(existsSync(path.join(dir, 'scripts', 'node22', 'node_modules', '.bin', 'node')));
    assert.match(r.out, ANSWER_RE, r.out);
    assert.match(r.out, /walkthrough: passed/, r.out);
    assert.equal(r.code, 0, r.out);
  });

  test('what an earlier run left (roles, a gateway) is removed, and the walkthrough passes', { timeout: 300000 }, async () => {
    const dir = repoCopy();
    const data = path.join(dir, 'data');
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const args = ['--data', data, '--listen', `127.0.0.1:${port}`];
    // A run interrupted half way: the gateway serves (no walkthrough), the roles and a gateway
    // of the walkthrough exist.
    const run = startRun(dir, args, { MCPGATE_DEMO: '0' });
    try {
      const out = await run.banner;
      assert.match(out, /walkthrough: skipped/, out);
      const ids = JSON.parse(readFileSync(path.join(data, 'identities.json'), 'utf8'));
      const op = (id) => ids.accounts.find((x) => x.id === id).users.find((u) => u.name === 'operator').accessKeys[0];
      const a = await assumeRole(endpoint, op('111122223333'), '111122223333', 'AdminRole');
      const b = await assumeRole(endpoint, op('444455556666'), '444455556666', 'AdminRole');
      const trust = (svc) => JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: svc, Action: 'sts:AssumeRole' }] });
      const role = await a.iam.send(new CreateRoleCommand({ RoleName: 'AgentCoreGatewayServiceRole', AssumeRolePolicyDocument: trust({ Service: 'bedrock-agentcore.amazonaws.com' }) }));
      await a.iam.send(new CreateRoleCommand({ RoleName: 'CrossAccountTestLambdaRole', AssumeRolePolicyDocument: trust({ Service: 'lambda.amazonaws.com' }) }));
      await b.iam.send(new CreateRoleCommand({ RoleName: 'AgentRole', AssumeRolePolicyDocument: trust({ AWS: 'arn:aws:iam::444455556666:root' }) }));
      await a.agentcore.send(new CreateGatewayCommand({ name: GATEWAY_NAME, protocolType: 'MCP', authorizerType: 'AWS_IAM', roleArn: role.Role.Arn }));
    } finally {
      await run.stop();
    }
    const r = await runScript(dir, args);
    assert.match(r.out, /Removed what an earlier run left: gateway cross-account-test-\w+, role CrossAccountTestLambdaRole, role AgentCoreGatewayServiceRole, role AgentRole/, r.out);
    assert.doesNotMatch(r.out, /EntityAlreadyExists/);
    assert.match(r.out, ANSWER_RE, r.out);
    assert.match(r.out, /walkthrough: passed/, r.out);
    assert.equal(r.code, 0, r.out);
  });
});
