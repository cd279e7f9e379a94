// Lambda invocation overhead: cold start, and warm Invoke of a handler that returns at once,
// against an API call that invokes nothing (GetFunctionConfiguration) and the invocation's own
// Duration (REPORT line: from handing the event to the runtime until its response). Then the same
// Python handler as an MCP tool: tools/call through a gateway against tools/list on the same
// session (which invokes nothing) and the handler's Duration.
//
//   MCPGATE_BIN=build/release/mcpgate node bench/bench_lambda.mjs [N]
import { createRequire } from 'node:module';
import { startServer, defaultAccounts } from '../tests/e2e/lib/server.mjs';
import { makeClient } from '../tests/e2e/lib/aws.mjs';
import { zipFiles } from '../tests/e2e/lib/zipfile.mjs';
import { connect, createGateway, createLambdaTarget } from '../tests/e2e/lib/mcp.mjs';

const require = createRequire(new URL('../tests/e2e/package.json', import.meta.url));
const {
  LambdaClient, CreateFunctionCommand, InvokeCommand, GetFunctionConfigurationCommand,
} = require('@aws-sdk/client-lambda');

const N = Number(process.argv[2] ?? 300);
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const p99 = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]; };
const now = () => Number(process.hrtime.bigint()) / 1e6;

const accounts = defaultAccounts();
accounts[0].roles = {
  exec: { name: 'bench', path: '/', assumeRolePolicyDocument: {
    Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] } },
  gateway: { name: 'GatewayRole', path: '/', assumeRolePolicyDocument: {
    Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'bedrock-agentcore.amazonaws.com' }, Action: 'sts:AssumeRole' }] },
  inlinePolicies: { invoke: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: '*' }] } } },
};
const handlerDuration = {};
const gw = await startServer({ accounts, args: ['--log-level', 'warn'] });
try {
  const c = makeClient(LambdaClient, gw, accounts[0].root);
  for (const [name, runtime, handler, files] of [
    ['bench-py', 'python3.12', 'app.handler', { 'app.py': 'def handler(event, context):\n    return event\n' }],
    ['bench-node', 'nodejs20.x', 'index.handler', { 'index.mjs': 'export const handler = async (e) => e;\n' }],
  ]) {
    await c.send(new CreateFunctionCommand({ FunctionName: name, Runtime: runtime, Handler: handler,
      Role: 'arn:aws:iam::111122223333:role/bench', Code: { ZipFile: zipFiles(files) } }));
    for (;;) {
      const f = await c.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
      if (f.State === 'Active') break;
    }
    let t = now();
    const cold = await c.send(new InvokeCommand({ FunctionName: name, Payload: '{}', LogType: 'Tail' }));
    const coldMs = now() - t;
    const init = /Init Duration: ([\d.]+) ms/.exec(Buffer.from(cold.LogResult, 'base64').toString())?.[1];
    const inv = [], dur = [], base = [];
    for (let i = 0; i < N; i++) {
      t = now();
      const r = await c.send(new InvokeCommand({ FunctionName: name, Payload: '{"a":1}', LogType: 'Tail' }));
      inv.push(now() - t);
      dur.push(Number(/\tDuration: ([\d.]+) ms/.exec(Buffer.from(r.LogResult, 'base64').toString())[1]));
      t = now();
      await c.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
      base.push(now() - t);
    }
    const added = median(inv) - median(base) - median(dur);
    handlerDuration[name] = median(dur);
    console.log(`${runtime}: cold start ${coldMs.toFixed(1)} ms (Init Duration ${init} ms); warm Invoke median ` +
      `${median(inv).toFixed(3)} ms, p99 ${p99(inv).toFixed(3)} ms; API baseline median ${median(base).toFixed(3)} ms; ` +
      `invocation Duration median ${median(dur).toFixed(3)} ms; added by mcpgate ~${added.toFixed(3)} ms (median)`);
  }

  // The Python handler as a tool behind a gateway.
  const A = accounts[0];
  const fnArn = `arn:aws:lambda:us-east-1:${A.id}:function:bench-py`;
  const g = await createGateway(gw, A);
  await createLambdaTarget(gw, A, g.gatewayId, 'bench', fnArn, [
    { name: 'echo', description: 'returns its arguments', inputSchema: { type: 'object', properties: { a: { type: 'number' } } } },
  ]);
  const { client } = await connect(g.gatewayUrl, A.root);
  await client.callTool({ name: 'bench___echo', arguments: { a: 1 } });
  const call = [], list = [];
  for (let i = 0; i < N; i++) {
    let t = now();
    await client.callTool({ name: 'bench___echo', arguments: { a: 1 } });
    call.push(now() - t);
    t = now();
    await client.listTools();
    list.push(now() - t);
  }
  await client.close();
  const addedCall = median(call) - median(list) - handlerDuration['bench-py'];
  console.log(`gateway tools/call (python3.12): warm median ${median(call).toFixed(3)} ms, p99 ${p99(call).toFixed(3)} ms; ` +
    `tools/list baseline median ${median(list).toFixed(3)} ms; handler Duration median ${handlerDuration['bench-py'].toFixed(3)} ms; ` +
    `added by the gateway and Lambda ~${addedCall.toFixed(3)} ms (median)`);
} finally {
  await gw.stop();
}
