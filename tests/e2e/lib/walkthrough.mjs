// The cross-account walkthrough: account A hosts an IAM-authenticated gateway with a Lambda
// target, account B calls it. Used both by the demo (scripts/demo prints every step) and by
// walkthrough.test.mjs (which asserts every outcome). Only public clients are used: the AWS SDK
// for JavaScript v3 and the MCP TypeScript SDK with a SigV4-signing fetch.
//
// Every step checks its own outcome (the tool call's text is the function's answer, the 403s are
// 403s, the resource policy is attached, ...) and a step that does not hold throws a StepFailed
// naming it. What an earlier run left behind (a run that failed half way) is removed first, so
// the walkthrough can run again and again against the same data folder.
import {
  BedrockAgentCoreControlClient, CreateGatewayCommand, CreateGatewayTargetCommand,
  DeleteGatewayCommand, DeleteGatewayTargetCommand, DeleteResourcePolicyCommand,
  GetGatewayCommand, GetGatewayTargetCommand, GetResourcePolicyCommand, ListGatewaysCommand,
  ListGatewayTargetsCommand, PutResourcePolicyCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import {
  AttachRolePolicyCommand, CreateRoleCommand, DeleteRoleCommand, DeleteRolePolicyCommand,
  DetachRolePolicyCommand, IAMClient, ListAttachedRolePoliciesCommand, ListRolePoliciesCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { CreateFunctionCommand, DeleteFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createSignedFetcher } from 'aws-sigv4-fetch';
import { zipFiles } from './zipfile.mjs';

export const REGION = 'us-east-1';
const LINE = '='.repeat(60);

export const LAMBDA_CODE = `import json

def handler(event, context):
    return {
        "statusCode": 200,
        "body": json.dumps({"message": f"Hello from Gateway! Input: {event}"})
    }
`;

function trust(principal) {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: principal, Action: 'sts:AssumeRole' }],
  });
}

/**
 * The identities-file entry of the operator user whose keys assume AdminRole (the walkthrough's
 * `source_profile`): it may assume roles of its own account, nothing else.
 */
export function operatorUser(accountId, key) {
  return {
    name: 'operator',
    path: '/',
    ...key,
    inlinePolicies: {
      AssumeRoles: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: `arn:aws:iam::${accountId}:role/*` }],
      },
    },
  };
}

/** The identities-file entry of an AdminRole: trusts its own account, AdministratorAccess. */
export function adminRole(accountId) {
  return {
    name: 'AdminRole',
    path: '/',
    assumeRolePolicyDocument: JSON.parse(trust({ AWS: `arn:aws:iam::${accountId}:root` })),
    managedPolicyArns: ['arn:aws:iam::aws:policy/AdministratorAccess'],
  };
}

/**
 * SDK clients for `credentials`. settleMs > 0: after each request that is not a Get or a List,
 * wait that long before the next one, for several nodes behind a load balancer, where the next
 * request may land on another node, which serves a change within a bounded delay (the change feed
 * between nodes), not at once as the node that wrote it does.
 */
function clients(endpoint, credentials, settleMs = 0) {
  const base = { region: REGION, endpoint, credentials, maxAttempts: 3 };
  const made = {
    sts: new STSClient(base),
    iam: new IAMClient(base),
    lambda: new LambdaClient(base),
    agentcore: new BedrockAgentCoreControlClient(base),
  };
  if (settleMs > 0) {
    for (const c of Object.values(made)) {
      c.middlewareStack.add((next, context) => async (args) => {
        const out = await next(args);
        if (!/^(Get|List)/.test(context.commandName ?? '')) await new Promise((r) => setTimeout(r, settleMs));
        return out;
      }, { step: 'initialize', name: 'walkthroughSettle' });
    }
  }
  return { ...made, credentials };
}

/**
 * Assumes ROLE in `accountId` with the long-term key of an IAM user of that account (AWS does not
 * let the root user assume roles) and returns SDK clients for the session.
 */
export async function assumeRole(endpoint, userKey, accountId, roleName, sessionName = 'session', { settleMs = 0 } = {}) {
  const sts = new STSClient({ region: REGION, endpoint, credentials: userKey, maxAttempts: 3 });
  const out = await sts.send(new AssumeRoleCommand({
    RoleArn: `arn:aws:iam::${accountId}:role/${roleName}`,
    RoleSessionName: sessionName,
  }));
  const c = out.Credentials;
  return clients(endpoint, {
    accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken,
  }, settleMs);
}

/** Connects an MCP client to the gateway as `credentials`, runs fn(client), closes. */
export async function withMcp(gatewayUrl, credentials, fn) {
  const signedFetch = createSignedFetcher({ service: 'bedrock-agentcore', region: REGION, credentials });
  const transport = new StreamableHTTPClientTransport(new URL(gatewayUrl), { fetch: signedFetch });
  const client = new Client({ name: 'mcpgate-walkthrough', version: '1.0.0' });
  try {
    await client.connect(transport);
    return await fn(client);
  } finally {
    await client.close().catch(() => {});
  }
}

/** tools/list as one caller: {ok: true, tools} or {ok: false, status, error}. */
export async function listTools(gatewayUrl, credentials) {
  try {
    const tools = await withMcp(gatewayUrl, credentials, async (c) => (await c.listTools()).tools);
    return { ok: true, tools };
  } catch (e) {
    const m = /\b(4\d\d|5\d\d)\b/.exec(String(e?.code ?? '') + ' ' + String(e?.message ?? e));
    return { ok: false, status: m ? Number(m[1]) : null, error: String(e?.message ?? e) };
  }
}


/** A step of the walkthrough that did not behave as on AWS. */
export class StepFailed extends Error {
  constructor(step, message, cause) {
    super(message, cause ? { cause } : undefined);
    this.name = 'StepFailed';
    this.step = step;
  }
}

export const GATEWAY_NAME = 'cross-account-test';
export const FUNCTION_NAME = 'cross-account-gateway-test';
export const TOOL_NAME = 'echo-tools___echo_message';
// The roles the walkthrough creates: [account key, role name], in cleanup order.
const ROLES = [['a', 'CrossAccountTestLambdaRole'], ['a', 'AgentCoreGatewayServiceRole'], ['b', 'AgentRole']];

async function waitReady(getStatus, what, timeoutMs = 60000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = await getStatus();
    if (s === 'READY') return s;
    if (s === 'FAILED' || Date.now() > end) throw new Error(`${what} ended ${s}, not READY`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function printCaller(name, c, log) {
  const me = await c.sts.send(new GetCallerIdentityCommand({}));
  log(`Profile: ${name}`);
  log(`Account: ${me.Account}`);
  log(`Caller: ${me.Arn}`);
  log('-'.repeat(60));
  return me;
}

function printList(r, log) {
  if (r.ok) {
    log('SUCCESS! tools/list returned:');
    for (const t of r.tools) log(` - ${t.name}: ${t.description}`);
  } else {
    log(`FAILED: ${r.status ? r.status + ' Forbidden' : ''} ${r.error}`.trim());
  }
}

const notFound = (e) => ['NoSuchEntityException', 'NoSuchEntity', 'ResourceNotFoundException'].includes(e?.name);

async function ignoreNotFound(p) {
  try {
    await p;
    return true;
  } catch (e) {
    if (notFound(e)) return false;
    throw e;
  }
}

async function deleteRole(iam, roleName) {
  const inline = await iam.send(new ListRolePoliciesCommand({ RoleName: roleName }));
  for (const p of inline.PolicyNames ?? []) await iam.send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: p }));
  const attached = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName }));
  for (const p of attached.AttachedPolicies ?? []) await iam.send(new DetachRolePolicyCommand({ RoleName: roleName, PolicyArn: p.PolicyArn }));
  await iam.send(new DeleteRoleCommand({ RoleName: roleName }));
}

async function deleteGateway(agentcore, g) {
  await ignoreNotFound(agentcore.send(new DeleteResourcePolicyCommand({ resourceArn: g.gatewayArn })));
  let nextToken;
  do {
    const page = await agentcore.send(new ListGatewayTargetsCommand({ gatewayIdentifier: g.gatewayId, nextToken }));
    for (const t of page.items ?? []) {
      await ignoreNotFound(agentcore.send(new DeleteGatewayTargetCommand({ gatewayIdentifier: g.gatewayId, targetId: t.targetId })));
    }
    nextToken = page.nextToken;
  } while (nextToken);
  await ignoreNotFound(agentcore.send(new DeleteGatewayCommand({ gatewayIdentifier: g.gatewayId })));
}

/**
 * Removes what the walkthrough creates, when it is there: the gateways named cross-account-test
 * of A (resource policy and targets first), the function, the roles. Returns what it removed.
 */
export async function removeLeftovers(a, b) {
  const removed = [];
  const gateways = [];
  let nextToken;
  do {
    const page = await a.agentcore.send(new ListGatewaysCommand({ nextToken }));
    for (const g of page.items ?? []) if (g.name === GATEWAY_NAME) gateways.push(g);
    nextToken = page.nextToken;
  } while (nextToken);
  for (const g of gateways) {
    const full = await a.agentcore.send(new GetGatewayCommand({ gatewayIdentifier: g.gatewayId }));
    await deleteGateway(a.agentcore, full);
    removed.push(`gateway ${g.gatewayId}`);
  }
  if (await ignoreNotFound(a.lambda.send(new DeleteFunctionCommand({ FunctionName: FUNCTION_NAME })))) {
    removed.push(`function ${FUNCTION_NAME}`);
  }
  const by = { a, b };
  for (const [k, roleName] of ROLES) {
    try {
      await deleteRole(by[k].iam, roleName);
      removed.push(`role ${roleName}`);
    } catch (e) {
      if (!notFound(e)) throw e;
    }
  }
  return removed;
}

/**
 * Runs the whole scenario. accounts: {a: {id, operator}, b: {id, operator}}, operator =
 * {accessKeyId, secretAccessKey} of an IAM user allowed to assume the account's AdminRole
 * (AdministratorAccess attached, trusts its own account). lambdaCode replaces the function's
 * Python source (the tests use it to make a step fail). Returns what each step produced; throws
 * a StepFailed naming the first step whose outcome is not the one AWS gives.
 */
export async function runWalkthrough({ endpoint, accounts, log = () => {}, lambdaCode = LAMBDA_CODE, settleMs = 0 }) {
  const r = {};
  const A = accounts.a.id;
  const B = accounts.b.id;
  let current = 'Sign in to both accounts (AdminRole sessions)';
  const section = (name) => {
    current = name;
    log(`\n${LINE}\n${name}\n${LINE}`);
  };
  const expect = (cond, what) => {
    if (!cond) throw new StepFailed(current, what);
  };
  let a;
  let b;
  try {
    a = await assumeRole(endpoint, accounts.a.operator, A, 'AdminRole', 'session', { settleMs });
    b = await assumeRole(endpoint, accounts.b.operator, B, 'AdminRole', 'session', { settleMs });
    r.callerA = await printCaller('account-a', a, log);
    r.callerB = await printCaller('account-b', b, log);
    for (const [me, id] of [[r.callerA, A], [r.callerB, B]]) {
      const want = `arn:aws:sts::${id}:assumed-role/AdminRole/session`;
      expect(me.Arn === want, `the caller is ${me.Arn}, not ${want}`);
    }

    current = 'Remove what an earlier run left';
    r.leftovers = await removeLeftovers(a, b);
    if (r.leftovers.length) log(`\nRemoved what an earlier run left: ${r.leftovers.join(', ')}`);

    section('Step 1: Gateway service role');
    const gwRole = await a.iam.send(new CreateRoleCommand({
      RoleName: 'AgentCoreGatewayServiceRole',
      AssumeRolePolicyDocument: trust({ Service: 'bedrock-agentcore.amazonaws.com' }),
    }));
    r.gatewayRoleArn = gwRole.Role.Arn;
    expect(r.gatewayRoleArn === `arn:aws:iam::${A}:role/AgentCoreGatewayServiceRole`, `the role's ARN is ${r.gatewayRoleArn}`);
    log(`Created role: ${r.gatewayRoleArn}`);

    section('Step 2: Lambda function for the test');
    const fnRole = await a.iam.send(new CreateRoleCommand({
      RoleName: 'CrossAccountTestLambdaRole',
      AssumeRolePolicyDocument: trust({ Service: 'lambda.amazonaws.com' }),
    }));
    await a.iam.send(new AttachRolePolicyCommand({
      RoleName: 'CrossAccountTestLambdaRole',
      PolicyArn: 'arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
    }));
    log(`Created Lambda role: ${fnRole.Role.Arn}`);
    const fn = await a.lambda.send(new CreateFunctionCommand({
      FunctionName: FUNCTION_NAME,
      Runtime: 'python3.12',
      Handler: 'lambda_function.handler',
      Role: fnRole.Role.Arn,
      Code: { ZipFile: zipFiles({ 'lambda_function.py': lambdaCode }) },
    }));
    r.lambdaArn = fn.FunctionArn;
    expect(r.lambdaArn === `arn:aws:lambda:${REGION}:${A}:function:${FUNCTION_NAME}`, `the function's ARN is ${r.lambdaArn}`);
    log(`Created Lambda: ${r.lambdaArn}`);
    await a.iam.send(new PutRolePolicyCommand({
      RoleName: 'AgentCoreGatewayServiceRole',
      PolicyName: 'LambdaInvoke',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: r.lambdaArn }],
      }),
    }));
    const inline = await a.iam.send(new ListRolePoliciesCommand({ RoleName: 'AgentCoreGatewayServiceRole' }));
    expect((inline.PolicyNames ?? []).includes('LambdaInvoke'), `the gateway role's policies are [${inline.PolicyNames}], without LambdaInvoke`);
    log('Attached Lambda invoke policy to Gateway role');

    section('Step 3: Gateway (IAM authorization)');
    const gw = await a.agentcore.send(new CreateGatewayCommand({
      name: GATEWAY_NAME,
      description: 'Cross-account access test gateway',
      protocolType: 'MCP',
      authorizerType: 'AWS_IAM',
      roleArn: r.gatewayRoleArn,
    }));
    r.gatewayId = gw.gatewayId;
    r.gatewayUrl = gw.gatewayUrl;
    r.gatewayArn = gw.gatewayArn;
    r.gatewayCreateStatus = gw.status;
    log(`Gateway ID: ${r.gatewayId}`);
    log(`Gateway URL: ${r.gatewayUrl}`);
    log(`Gateway ARN: ${r.gatewayArn}`);
    expect(r.gatewayArn === `arn:aws:bedrock-agentcore:${REGION}:${A}:gateway/${r.gatewayId}`, `the gateway's ARN is ${r.gatewayArn}`);
    expect(/^https?:\/\/.+\/mcp$/.test(r.gatewayUrl ?? ''), `the gateway's URL is ${r.gatewayUrl}`);
    log('Waiting for Gateway to become READY...');
    await waitReady(async () => (await a.agentcore.send(new GetGatewayCommand({ gatewayIdentifier: r.gatewayId }))).status, 'the gateway');
    log('Gateway is READY!');

    section('Step 4: Lambda target');
    const target = await a.agentcore.send(new CreateGatewayTargetCommand({
      gatewayIdentifier: r.gatewayId,
      name: 'echo-tools',
      targetConfiguration: { mcp: { lambda: {
        lambdaArn: r.lambdaArn,
        toolSchema: { inlinePayload: [{
          name: 'echo_message',
          description: 'Echo back a message for testing',
          inputSchema: {
            type: 'object',
            properties: { message: { type: 'string', description: 'The message to echo' } },
            required: ['message'],
          },
        }] },
      } } },
      credentialProviderConfigurations: [{ credentialProviderType: 'GATEWAY_IAM_ROLE' }],
    }));
    r.targetId = target.targetId;
    log(`Target ID: ${r.targetId}`);
    log('Waiting for Target to become READY...');
    await waitReady(async () => (await a.agentcore.send(new GetGatewayTargetCommand({ gatewayIdentifier: r.gatewayId, targetId: r.targetId }))).status, 'the target');
    log('Target is READY!');

    const expectTool = (list, who) => {
      expect(list.ok, `${who} should list the tools, but got: ${list.status ?? ''} ${list.error}`);
      const names = list.tools.map((t) => t.name);
      expect(names.length === 1 && names[0] === TOOL_NAME, `${who} listed [${names.join(', ')}], not [${TOOL_NAME}]`);
    };
    const expect403 = (list, who) => {
      expect(!list.ok, `${who} should be refused with 403 Forbidden, but listed the tools`);
      expect(list.status === 403, `${who} should be refused with 403 Forbidden, but got: ${list.error}`);
    };

    section('Calling the gateway from account A (same account)');
    await printCaller('account-a', a, log);
    r.listA = await listTools(r.gatewayUrl, a.credentials);
    printList(r.listA, log);
    expectTool(r.listA, 'account A');

    section('Calling the gateway from account B (cross-account, no resource policy)');
    await printCaller('account-b', b, log);
    r.listB1 = await listTools(r.gatewayUrl, b.credentials);
    printList(r.listB1, log);
    expect403(r.listB1, 'account B without a resource policy');

    section('Resource-based policy on the gateway');
    const policyFor = (principal, resource) => JSON.stringify({
      Version: '2012-10-17',
      Statement: [{
        Sid: 'AllowCrossAccountInvoke', Effect: 'Allow', Principal: { AWS: principal },
        Action: 'bedrock-agentcore:InvokeGateway', Resource: resource,
      }],
    });
    const expectPolicy = async (principal) => {
      const got = await a.agentcore.send(new GetResourcePolicyCommand({ resourceArn: r.gatewayArn }));
      let doc;
      try {
        doc = JSON.parse(got.policy);
      } catch {
        doc = null;
      }
      expect(doc?.Statement?.[0]?.Principal?.AWS === principal, `GetResourcePolicy answers ${got.policy}, not the policy for ${principal}`);
    };
    try {
      await a.agentcore.send(new PutResourcePolicyCommand({
        resourceArn: r.gatewayArn, policy: policyFor(`arn:aws:iam::${B}:root`, '*'),
      }));
      r.starResource = { refused: false };
      log('A "*" resource was accepted (unexpected)');
    } catch (e) {
      r.starResource = { refused: true, name: e.name, message: e.message };
      log(`A "*" resource is refused: ${e.name}: ${e.message}`);
    }
    expect(r.starResource.refused && r.starResource.name === 'ValidationException',
      `a resource policy with Resource "*" should be refused with ValidationException, but ${r.starResource.refused ? `got ${r.starResource.name}` : 'it was accepted'}`);
    await a.agentcore.send(new PutResourcePolicyCommand({
      resourceArn: r.gatewayArn, policy: policyFor(`arn:aws:iam::${B}:root`, r.gatewayArn),
    }));
    await expectPolicy(`arn:aws:iam::${B}:root`);
    log('Resource policy attached!');

    section('Calling the gateway from account B again');
    await printCaller('account-b', b, log);
    r.listB2 = await listTools(r.gatewayUrl, b.credentials);
    printList(r.listB2, log);
    expectTool(r.listB2, 'account B with the resource policy');
    r.callB = await withMcp(r.gatewayUrl, b.credentials, (c) => c.callTool({
      name: TOOL_NAME, arguments: { message: 'hello from account B' },
    })).catch((e) => ({ error: String(e?.message ?? e) }));
    const text = r.callB?.content?.map((c) => c.text).join('') ?? r.callB?.error;
    log(`tools/call ${TOOL_NAME} returned: ${text}`);
    const answer = "Hello from Gateway! Input: {'message': 'hello from account B'}";
    expect(!r.callB.error && r.callB.isError !== true && String(text).includes(answer),
      `tools/call ${TOOL_NAME} returned ${r.callB.isError ? 'an error' : ''} "${text}" instead of the function's answer "${answer}"`);

    section('Narrowing the principal to one role of account B');
    await b.iam.send(new CreateRoleCommand({
      RoleName: 'AgentRole', AssumeRolePolicyDocument: trust({ AWS: `arn:aws:iam::${B}:root` }),
    }));
    await b.iam.send(new PutRolePolicyCommand({
      RoleName: 'AgentRole', PolicyName: 'InvokeGateway',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'bedrock-agentcore:InvokeGateway', Resource: r.gatewayArn }],
      }),
    }));
    await a.agentcore.send(new PutResourcePolicyCommand({
      resourceArn: r.gatewayArn, policy: policyFor(`arn:aws:iam::${B}:role/AgentRole`, r.gatewayArn),
    }));
    await expectPolicy(`arn:aws:iam::${B}:role/AgentRole`);
    log(`Principal is now arn:aws:iam::${B}:role/AgentRole`);
    const agent = await assumeRole(endpoint, accounts.b.operator, B, 'AgentRole', 'agent', { settleMs });
    await printCaller('account-b AgentRole', agent, log);
    r.listAgent = await listTools(r.gatewayUrl, agent.credentials);
    printList(r.listAgent, log);
    expectTool(r.listAgent, "account B's AgentRole");
    await printCaller('account-b AdminRole', b, log);
    r.listB3 = await listTools(r.gatewayUrl, b.credentials);
    printList(r.listB3, log);
    expect403(r.listB3, "account B's AdminRole (not named by the policy)");

    section('Cleanup');
    r.cleanup = [];
    const step = async (what, fn) => { await fn(); r.cleanup.push(what); log(what); };
    await step('Deleted resource policy', () => a.agentcore.send(new DeleteResourcePolicyCommand({ resourceArn: r.gatewayArn })));
    await step(`Deleted target: ${r.targetId}`, () => a.agentcore.send(new DeleteGatewayTargetCommand({ gatewayIdentifier: r.gatewayId, targetId: r.targetId })));
    await step(`Deleted gateway: ${r.gatewayId}`, () => a.agentcore.send(new DeleteGatewayCommand({ gatewayIdentifier: r.gatewayId })));
    await step('Deleted Lambda function', () => a.lambda.send(new DeleteFunctionCommand({ FunctionName: FUNCTION_NAME })));
    const by = { a, b };
    for (const [k, roleName] of ROLES) {
      await step(`Deleted role: ${roleName}`, () => deleteRole(by[k].iam, roleName));
    }
    log('\nCleanup complete!');
    return r;
  } catch (e) {
    const failed = e instanceof StepFailed ? e : new StepFailed(current, `${e?.name ?? 'Error'}: ${e?.message ?? e}`, e);
    // Leave nothing behind for the next run (it would remove it too).
    if (a && b) {
      try {
        const removed = await removeLeftovers(a, b);
        if (removed.length) log(`\n(after the failure, removed: ${removed.join(', ')})`);
      } catch (e2) {
        log(`\n(after the failure, cleaning up failed too: ${e2?.name ?? ''} ${e2?.message ?? e2}; the next run retries)`);
      }
    }
    throw failed;
  }
}
