// The cross-account walkthrough: account A hosts an IAM-authenticated gateway with a Lambda
// target, account B calls it. Used both by the demo (scripts/demo prints every step) and by
// walkthrough.test.mjs (which asserts every outcome). Only public clients are used: the AWS SDK
// for JavaScript v3 and the MCP TypeScript SDK with a SigV4-signing fetch.
import {
  BedrockAgentCoreControlClient, CreateGatewayCommand, CreateGatewayTargetCommand,
  DeleteGatewayCommand, DeleteGatewayTargetCommand, DeleteResourcePolicyCommand,
  GetGatewayCommand, GetGatewayTargetCommand, PutResourcePolicyCommand,
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

function clients(endpoint, credentials) {
  const base = { region: REGION, endpoint, credentials, maxAttempts: 3 };
  return {
    sts: new STSClient(base),
    iam: new IAMClient(base),
    lambda: new LambdaClient(base),
    agentcore: new BedrockAgentCoreControlClient(base),
    credentials,
  };
}

/**
 * Assumes ROLE in `accountId` with the long-term key of an IAM user of that account (AWS does not
 * let the root user assume roles) and returns SDK clients for the session.
 */
export async function assumeRole(endpoint, userKey, accountId, roleName, sessionName = 'session') {
  const sts = new STSClient({ region: REGION, endpoint, credentials: userKey, maxAttempts: 3 });
  const out = await sts.send(new AssumeRoleCommand({
    RoleArn: `arn:aws:iam::${accountId}:role/${roleName}`,
    RoleSessionName: sessionName,
  }));
  const c = out.Credentials;
  return clients(endpoint, {
    accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken,
  });
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

async function waitReady(getStatus, what, log, timeoutMs = 60000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = await getStatus();
    if (s === 'READY') return s;
    if (s === 'FAILED' || Date.now() > end) throw new Error(`${what} ended ${s}`);
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

/**
 * Runs the whole scenario. accounts: {a: {id, operator}, b: {id, operator}}, operator =
 * {accessKeyId, secretAccessKey} of an IAM user allowed to assume the account's AdminRole
 * (AdministratorAccess attached, trusts its own account). Returns what each step produced.
 */
export async function runWalkthrough({ endpoint, accounts, log = () => {} }) {
  const r = {};
  const A = accounts.a.id;
  const B = accounts.b.id;
  const a = await assumeRole(endpoint, accounts.a.operator, A, 'AdminRole');
  const b = await assumeRole(endpoint, accounts.b.operator, B, 'AdminRole');
  r.callerA = await printCaller('account-a', a, log);
  r.callerB = await printCaller('account-b', b, log);

  log(`\n${LINE}\nStep 1: Gateway service role\n${LINE}`);
  const gwRole = await a.iam.send(new CreateRoleCommand({
    RoleName: 'AgentCoreGatewayServiceRole',
    AssumeRolePolicyDocument: trust({ Service: 'bedrock-agentcore.amazonaws.com' }),
  }));
  r.gatewayRoleArn = gwRole.Role.Arn;
  log(`Created role: ${r.gatewayRoleArn}`);

  log(`\n${LINE}\nStep 2: Lambda function for the test\n${LINE}`);
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
    FunctionName: 'cross-account-gateway-test',
    Runtime: 'python3.12',
    Handler: 'lambda_function.handler',
    Role: fnRole.Role.Arn,
    Code: { ZipFile: zipFiles({ 'lambda_function.py': LAMBDA_CODE }) },
  }));
  r.lambdaArn = fn.FunctionArn;
  log(`Created Lambda: ${r.lambdaArn}`);
  await a.iam.send(new PutRolePolicyCommand({
    RoleName: 'AgentCoreGatewayServiceRole',
    PolicyName: 'LambdaInvoke',
    PolicyDocument: JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: r.lambdaArn }],
    }),
  }));
  log('Attached Lambda invoke policy to Gateway role');

  log(`\n${LINE}\nStep 3: Gateway (IAM authorization)\n${LINE}`);
  const gw = await a.agentcore.send(new CreateGatewayCommand({
    name: 'cross-account-test',
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
  log('Waiting for Gateway to become READY...');
  await waitReady(async () => (await a.agentcore.send(new GetGatewayCommand({ gatewayIdentifier: r.gatewayId }))).status, 'gateway', log);
  log('Gateway is READY!');

  log(`\n${LINE}\nStep 4: Lambda target\n${LINE}`);
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
  await waitReady(async () => (await a.agentcore.send(new GetGatewayTargetCommand({ gatewayIdentifier: r.gatewayId, targetId: r.targetId }))).status, 'target', log);
  log('Target is READY!');

  log(`\n${LINE}\nCalling the gateway from account A (same account)\n${LINE}`);
  await printCaller('account-a', a, log);
  r.listA = await listTools(r.gatewayUrl, a.credentials);
  printList(r.listA, log);

  log(`\n${LINE}\nCalling the gateway from account B (cross-account, no resource policy)\n${LINE}`);
  await printCaller('account-b', b, log);
  r.listB1 = await listTools(r.gatewayUrl, b.credentials);
  printList(r.listB1, log);

  log(`\n${LINE}\nResource-based policy on the gateway\n${LINE}`);
  const policyFor = (principal, resource) => JSON.stringify({
    Version: '2012-10-17',
    Statement: [{
      Sid: 'AllowCrossAccountInvoke', Effect: 'Allow', Principal: { AWS: principal },
      Action: 'bedrock-agentcore:InvokeGateway', Resource: resource,
    }],
  });
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
  await a.agentcore.send(new PutResourcePolicyCommand({
    resourceArn: r.gatewayArn, policy: policyFor(`arn:aws:iam::${B}:root`, r.gatewayArn),
  }));
  log('Resource policy attached!');

  log(`\n${LINE}\nCalling the gateway from account B again\n${LINE}`);
  await printCaller('account-b', b, log);
  r.listB2 = await listTools(r.gatewayUrl, b.credentials);
  printList(r.listB2, log);
  r.callB = await withMcp(r.gatewayUrl, b.credentials, (c) => c.callTool({
    name: 'echo-tools___echo_message', arguments: { message: 'hello from account B' },
  })).catch((e) => ({ error: String(e?.message ?? e) }));
  const text = r.callB?.content?.map((c) => c.text).join('') ?? r.callB?.error;
  log(`tools/call echo-tools___echo_message returned: ${text}`);

  log(`\n${LINE}\nNarrowing the principal to one role of account B\n${LINE}`);
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
  log(`Principal is now arn:aws:iam::${B}:role/AgentRole`);
  const agent = await assumeRole(endpoint, accounts.b.operator, B, 'AgentRole', 'agent');
  await printCaller('account-b AgentRole', agent, log);
  r.listAgent = await listTools(r.gatewayUrl, agent.credentials);
  printList(r.listAgent, log);
  await printCaller('account-b AdminRole', b, log);
  r.listB3 = await listTools(r.gatewayUrl, b.credentials);
  printList(r.listB3, log);

  log(`\n${LINE}\nCleanup\n${LINE}`);
  r.cleanup = [];
  const step = async (what, fn) => { await fn(); r.cleanup.push(what); log(what); };
  await step('Deleted resource policy', () => a.agentcore.send(new DeleteResourcePolicyCommand({ resourceArn: r.gatewayArn })));
  await step(`Deleted target: ${r.targetId}`, () => a.agentcore.send(new DeleteGatewayTargetCommand({ gatewayIdentifier: r.gatewayId, targetId: r.targetId })));
  await step(`Deleted gateway: ${r.gatewayId}`, () => a.agentcore.send(new DeleteGatewayCommand({ gatewayIdentifier: r.gatewayId })));
  await step('Deleted Lambda function', () => a.lambda.send(new DeleteFunctionCommand({ FunctionName: 'cross-account-gateway-test' })));
  for (const [c, roleName] of [[a, 'CrossAccountTestLambdaRole'], [a, 'AgentCoreGatewayServiceRole'], [b, 'AgentRole']]) {
    const inline = await c.iam.send(new ListRolePoliciesCommand({ RoleName: roleName }));
    for (const p of inline.PolicyNames ?? []) await c.iam.send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: p }));
    const attached = await c.iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName }));
    for (const p of attached.AttachedPolicies ?? []) await c.iam.send(new DetachRolePolicyCommand({ RoleName: roleName, PolicyArn: p.PolicyArn }));
    await step(`Deleted role: ${roleName}`, () => c.iam.send(new DeleteRoleCommand({ RoleName: roleName })));
  }
  log('\nCleanup complete!');
  return r;
}
