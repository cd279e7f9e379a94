// Helpers for the MCP data-plane tests: a server with the roles a gateway needs, gateways and
// Lambda targets made through the real control plane and Lambda API, and MCP clients that sign
// with SigV4.
import {
  BedrockAgentCoreControlClient, CreateGatewayCommand, CreateGatewayTargetCommand,
  GetGatewayCommand, GetGatewayTargetCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import { CreateFunctionCommand, GetFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createSignedFetcher } from 'aws-sigv4-fetch';
import { defaultAccounts, startServer } from './server.mjs';
import { zipFiles } from './zipfile.mjs';

export const REGION = 'us-east-1';

export const ECHO_PY = `import json
import time

def handler(event, context):
    if isinstance(event, dict) and event.get("sleep"):
        time.sleep(float(event["sleep"]))
    cc = getattr(context, "client_context", None)
    custom = getattr(cc, "custom", None) if cc is not None else None
    if isinstance(event, dict) and event.get("fail"):
        raise ValueError("asked to fail")
    return {"event": event, "custom": custom}
`;

const trust = (principal) => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: principal, Action: 'sts:AssumeRole' }],
});
const allow = (action, resource = '*') => ({
  Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: action, Resource: resource }],
});

/** Accounts with the roles the MCP tests use, in every account:
 *  GatewayRole (trusts bedrock-agentcore, may invoke any function), NoInvokeRole (trusts
 *  bedrock-agentcore, no permissions), FnRole (trusts lambda). */
export function mcpAccounts() {
  const accounts = defaultAccounts();
  for (const a of accounts) {
    a.roles = {
      GatewayRole: { name: 'GatewayRole', assumeRolePolicyDocument: trust({ Service: 'bedrock-agentcore.amazonaws.com' }),
        inlinePolicies: { invoke: allow('lambda:InvokeFunction') } },
      NoInvokeRole: { name: 'NoInvokeRole', assumeRolePolicyDocument: trust({ Service: 'bedrock-agentcore.amazonaws.com' }) },
      FnRole: { name: 'FnRole', assumeRolePolicyDocument: trust({ Service: 'lambda.amazonaws.com' }) },
    };
  }
  return accounts;
}

export async function startMcpServer(opts = {}) {
  const accounts = opts.accounts ?? mcpAccounts();
  return startServer({ ...opts, accounts });
}

export function control(gw, key) {
  return new BedrockAgentCoreControlClient({ region: REGION, endpoint: gw.endpoint, credentials: key, maxAttempts: 2 });
}

export function lambda(gw, key) {
  return new LambdaClient({ region: REGION, endpoint: gw.endpoint, credentials: key, maxAttempts: 2 });
}

async function waitFor(fn, what, timeoutMs = 30000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = await fn();
    if (s === 'READY' || s === 'Active') return s;
    if (s === 'FAILED' || s === 'Failed' || Date.now() > end) throw new Error(`${what} ended ${s}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Creates the echo function in account `acct` (root key) and waits for Active. */
export async function createEchoFunction(gw, acct, name = 'echo') {
  const l = lambda(gw, acct.root);
  const out = await l.send(new CreateFunctionCommand({
    FunctionName: name, Runtime: 'python3.12', Handler: 'lambda_function.handler',
    Role: `arn:aws:iam::${acct.id}:role/FnRole`, Timeout: 10,
    Code: { ZipFile: zipFiles({ 'lambda_function.py': ECHO_PY }) },
  }));
  await waitFor(async () => (await l.send(new GetFunctionCommand({ FunctionName: name }))).Configuration.State,
    'function');
  return out.FunctionArn;
}

/** Creates a gateway (READY) in account `acct`; extra fields go to CreateGateway. */
export async function createGateway(gw, acct, fields = {}) {
  const c = control(gw, acct.root);
  const out = await c.send(new CreateGatewayCommand({
    name: fields.name ?? `gw${Math.random().toString(36).slice(2, 8)}`,
    protocolType: 'MCP', authorizerType: 'AWS_IAM',
    roleArn: `arn:aws:iam::${acct.id}:role/GatewayRole`, ...fields,
  }));
  await waitFor(async () => (await c.send(new GetGatewayCommand({ gatewayIdentifier: out.gatewayId }))).status, 'gateway');
  return out;
}

/** A Lambda target with the given tools (inline schema). */
export async function createLambdaTarget(gw, acct, gatewayId, name, lambdaArn, tools) {
  const c = control(gw, acct.root);
  const out = await c.send(new CreateGatewayTargetCommand({
    gatewayIdentifier: gatewayId, name,
    targetConfiguration: { mcp: { lambda: { lambdaArn, toolSchema: { inlinePayload: tools } } } },
    credentialProviderConfigurations: [{ credentialProviderType: 'GATEWAY_IAM_ROLE' }],
  }));
  await waitFor(async () => (await c.send(new GetGatewayTargetCommand({ gatewayIdentifier: gatewayId, targetId: out.targetId }))).status, 'target');
  return out;
}

/** An MCP client signed as `credentials`; protocolVersion pins the client's version. */
export async function connect(url, credentials, { protocolVersion } = {}) {
  const signedFetch = createSignedFetcher({ service: 'bedrock-agentcore', region: REGION, credentials });
  const transport = new StreamableHTTPClientTransport(new URL(url), { fetch: signedFetch });
  const client = new Client({ name: 'mcpgate-e2e', version: '1.0.0' });
  if (protocolVersion) {
    // The SDK sends its latest version; pin another by rewriting the initialize request.
    const send = transport.send.bind(transport);
    transport.send = (msg, opts) => {
      if (msg.method === 'initialize') msg = { ...msg, params: { ...msg.params, protocolVersion } };
      return send(msg, opts);
    };
  }
  await client.connect(transport);
  return { client, transport };
}

/** A fetch that signs like the SDK does, for raw requests. */
export function signedFetch(credentials) {
  return createSignedFetcher({ service: 'bedrock-agentcore', region: REGION, credentials });
}

/** Every tool of the gateway, following nextCursor; also returns the number of pages. */
export async function listAll(client) {
  const tools = [];
  let cursor;
  let pages = 0;
  do {
    const p = await client.listTools(cursor ? { cursor } : {});
    pages++;
    tools.push(...p.tools);
    cursor = p.nextCursor;
  } while (cursor && pages < 1000);
  return { tools, pages };
}
