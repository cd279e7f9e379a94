// The cross-account walkthrough, end to end, asserting each step's exact outcome.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  adminRole, assumeRole, operatorUser, removeLeftovers, runWalkthrough, StepFailed,
} from './lib/walkthrough.mjs';
import { defaultAccounts, newKey, startServer } from './lib/server.mjs';

let gw;
let r;
let failure;
let accounts;

const accountsOf = () => ({
  a: { id: accounts[0].id, operator: accounts[0].users.operator },
  b: { id: accounts[1].id, operator: accounts[1].users.operator },
});

before(async () => {
  accounts = defaultAccounts();
  for (const a of accounts) {
    a.roles = { AdminRole: adminRole(a.id) };
    a.users.operator = operatorUser(a.id, newKey());
  }
  gw = await startServer({ accounts });
  try {
    r = await runWalkthrough({ endpoint: gw.endpoint, accounts: accountsOf() });
  } catch (e) {
    failure = e;
  }
});

after(async () => {
  await gw?.stop();
});

function ran() {
  if (failure) throw failure;
  return r;
}

test('operators act through AdminRole sessions of their own accounts', () => {
  const { callerA, callerB } = ran();
  assert.equal(callerA.Account, '111122223333');
  assert.equal(callerA.Arn, 'arn:aws:sts::111122223333:assumed-role/AdminRole/session');
  assert.equal(callerB.Arn, 'arn:aws:sts::444455556666:assumed-role/AdminRole/session');
});

test('account A sets up roles, a Lambda, an IAM gateway and a target', () => {
  const x = ran();
  assert.equal(x.gatewayRoleArn, 'arn:aws:iam::111122223333:role/AgentCoreGatewayServiceRole');
  assert.equal(x.lambdaArn, 'arn:aws:lambda:us-east-1:111122223333:function:cross-account-gateway-test');
  assert.match(x.gatewayId, /^cross-account-test-[a-z0-9]{10}$/);
  assert.equal(x.gatewayArn, `arn:aws:bedrock-agentcore:us-east-1:111122223333:gateway/${x.gatewayId}`);
  assert.match(x.gatewayUrl, /\/mcp$/);
  assert.equal(x.gatewayCreateStatus, 'CREATING');
  assert.match(x.targetId, /^[0-9A-Z]{10}$/);
});

test('account A lists the tools over MCP with SigV4', () => {
  const { listA } = ran();
  assert.ok(listA.ok, listA.error);
  assert.deepEqual(listA.tools.map((t) => `${t.name}: ${t.description}`),
    ['echo-tools___echo_message: Echo back a message for testing']);
});

test('account B is refused with HTTP 403 before the resource policy', () => {
  const { listB1 } = ran();
  assert.equal(listB1.ok, false);
  assert.equal(listB1.status, 403, listB1.error);
});

test('a resource policy with Resource "*" is refused', () => {
  const { starResource } = ran();
  assert.equal(starResource.refused, true);
  assert.equal(starResource.name, 'ValidationException');
});

test('with the resource policy, account B lists and calls the tool, and the Lambda really runs', () => {
  const { listB2, callB } = ran();
  assert.ok(listB2.ok, listB2.error);
  assert.deepEqual(listB2.tools.map((t) => t.name), ['echo-tools___echo_message']);
  assert.ok(!callB.error, callB.error);
  assert.notEqual(callB.isError, true);
  const text = callB.content.map((c) => c.text).join('');
  assert.match(text, /Hello from Gateway! Input: \{'message': 'hello from account B'\}/);
});

test('narrowed to one role of B, only that role gets in', () => {
  const { listAgent, listB3 } = ran();
  assert.ok(listAgent.ok, listAgent.error);
  assert.equal(listB3.ok, false);
  assert.equal(listB3.status, 403);
});

test('cleanup succeeds step by step, in the walkthrough order', () => {
  const { cleanup, targetId, gatewayId } = ran();
  assert.deepEqual(cleanup, [
    'Deleted resource policy',
    `Deleted target: ${targetId}`,
    `Deleted gateway: ${gatewayId}`,
    'Deleted Lambda function',
    'Deleted role: CrossAccountTestLambdaRole',
    'Deleted role: AgentCoreGatewayServiceRole',
    'Deleted role: AgentRole',
  ]);
});

test('the walkthrough runs again on the same server, with the same real answer', async () => {
  ran();
  const again = await runWalkthrough({ endpoint: gw.endpoint, accounts: accountsOf() });
  assert.deepEqual(again.leftovers, []);
  const text = again.callB.content.map((c) => c.text).join('');
  assert.match(text, /Hello from Gateway! Input: \{'message': 'hello from account B'\}/);
});

test('a step that does not hold throws StepFailed naming it, and what the run made is removed', async () => {
  ran();
  const raising = 'def handler(event, context):\n    raise RuntimeError("on purpose")\n';
  await assert.rejects(
    runWalkthrough({ endpoint: gw.endpoint, accounts: accountsOf(), lambdaCode: raising }),
    (e) => {
      assert.ok(e instanceof StepFailed, String(e));
      assert.equal(e.step, 'Calling the gateway from account B again');
      assert.match(e.message, /tools\/call echo-tools___echo_message returned an error ".*" instead of the function's answer/);
      return true;
    },
  );
  const a = await assumeRole(gw.endpoint, accountsOf().a.operator, '111122223333', 'AdminRole');
  const b = await assumeRole(gw.endpoint, accountsOf().b.operator, '444455556666', 'AdminRole');
  assert.deepEqual(await removeLeftovers(a, b), [], 'the failed run left something behind');
});

test('a caller that is not refused where AWS answers 403 fails that step', async () => {
  ran();
  // "Account B" is account A here, so its call without a resource policy is let in.
  const same = accountsOf();
  await assert.rejects(
    runWalkthrough({ endpoint: gw.endpoint, accounts: { a: same.a, b: same.a } }),
    (e) => {
      assert.ok(e instanceof StepFailed, String(e));
      assert.equal(e.step, 'Calling the gateway from account B (cross-account, no resource policy)');
      assert.match(e.message, /should be refused with 403 Forbidden, but listed the tools/);
      return true;
    },
  );
});
