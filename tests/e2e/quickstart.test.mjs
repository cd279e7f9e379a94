// The quickstart as a user runs it: `mcpgate serve` started in a fresh folder with the README's
// and scripts/run's options (`--data ./mcpgate-data`, relative), with no `--data` at all, and
// with no options at all (127.0.0.1:4777, when free). Each creates a Python and a Node.js
// function, a gateway with Lambda targets, and calls every tool through MCP (SigV4-signed MCP
// SDK client) and through Lambda Invoke, checking the functions' real answers.
// Also: relative paths of every kind, the built-in runtime bootstraps (installed under the data folder, restored when changed),
// what a missing runtime says, and a second server on a port that is taken.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  BedrockAgentCoreControlClient, CreateGatewayCommand, CreateGatewayTargetCommand,
  GetGatewayCommand, GetGatewayTargetCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import {
  CreateFunctionCommand, GetFunctionConfigurationCommand, InvokeCommand, LambdaClient,
  ListFunctionsCommand,
} from '@aws-sdk/client-lambda';
import { binaryPath, defaultAccounts, freePort, identitiesDocument, repoRoot } from './lib/server.mjs';
import { connect } from './lib/mcp.mjs';
import { zipFiles } from './lib/zipfile.mjs';

const REGION = 'us-east-1';
const TEST_KEY = { accessKeyId: 'test', secretAccessKey: 'test' }; // the default identities
const ACCOUNT = '000000000000';
const DEFAULT_PORT = 4777;

// The README's function, and a Node.js one in index.js (handler index.handler).
const PY_CODE = "import json\ndef handler(event, context):\n"
  + "    return {'statusCode': 200, 'body': json.dumps({'message': f'Hello from Gateway! Input: {event}'})}\n";
const NODE_CODE = "exports.handler = async (event) => ({ statusCode: 200, body: JSON.stringify({ message: "
  + "'Hello from Node! Input: ' + JSON.stringify(event) }) });\n";
const PY_ANSWER = "Hello from Gateway! Input: {'message': 'hi from mcp'}";
const NODE_ANSWER = 'Hello from Node! Input: {"message":"hi from mcp"}';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const temps = [];
after(async () => {
  for (const d of temps) await rm(d, { recursive: true, force: true });
});

async function freshDir() {
  const d = await realpath(await mkdtemp(path.join(os.tmpdir(), 'mcpgate-quickstart-')));
  temps.push(d);
  return d;
}

function canConnect(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (ok) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(500, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

function portFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Runs `BIN serve ARGS` in cwd; resolves once `port` accepts connections (or the process
 *  exits, when `expectExit`). */
async function serve({ cwd, args, port, bin = binaryPath(), expectExit = false, env = {} }) {
  const child = spawn(bin, ['serve', ...args], {
    cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { stderr += d; });
  child.stdout.resume();
  let exited = null;
  const exitPromise = new Promise((resolve) => child.once('exit', (code, signal) => {
    exited = { code, signal };
    resolve(exited);
  }));
  const s = {
    child, port, endpoint: `http://127.0.0.1:${port}`, stderr: () => stderr,
    // stderr once it matches re (a thread writes log lines a few ms after they are logged)
    async waitStderr(re, ms = 3000) {
      const t1 = Date.now();
      while (!re.test(stderr) && !exited && Date.now() - t1 < ms) await sleep(5);
      return stderr;
    },
    exited: () => exited, exitPromise,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const k = setTimeout(() => { if (!exited) child.kill('SIGKILL'); }, 5000);
        await exitPromise;
        clearTimeout(k);
      }
      return exited;
    },
  };
  if (expectExit) {
    const t = setTimeout(() => child.kill('SIGKILL'), 15000);
    await exitPromise;
    clearTimeout(t);
    return s;
  }
  const t0 = Date.now();
  for (;;) {
    if (exited) throw new Error(`mcpgate exited during start-up (${JSON.stringify(exited)})\n${stderr}`);
    // the process must be up and listening: the port may have been free only a moment ago
    if (/"listening on /.test(stderr) && await canConnect(port)) return s;
    if (Date.now() - t0 > 20000) {
      await s.stop();
      throw new Error(`mcpgate did not start on ${port}\n${stderr}`);
    }
    await sleep(50);
  }
}

function clients(endpoint) {
  const o = { region: REGION, endpoint, credentials: TEST_KEY, maxAttempts: 1 };
  return {
    iam: new IAMClient(o),
    lambda: new LambdaClient(o),
    control: new BedrockAgentCoreControlClient(o),
  };
}

const trust = (service) => JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }],
});

async function waitFor(what, fn, ok, timeoutMs = 30000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok.includes(v)) return v;
    if (Date.now() > end || /fail/i.test(String(v))) throw new Error(`${what}: ${v}`);
    await sleep(100);
  }
}

async function createFunction(c, name, runtime, handler, files) {
  const out = await c.lambda.send(new CreateFunctionCommand({
    FunctionName: name, Runtime: runtime, Handler: handler, Timeout: 10,
    Role: `arn:aws:iam::${ACCOUNT}:role/QuickstartLambdaRole`, Code: { ZipFile: zipFiles(files) },
  }));
  await waitFor(`function ${name}`, async () => (await c.lambda.send(
    new GetFunctionConfigurationCommand({ FunctionName: name }))).State, ['Active']);
  return out.FunctionArn;
}

async function invoke(c, name, payload, logType) {
  const r = await c.lambda.send(new InvokeCommand({
    FunctionName: name, Payload: JSON.stringify(payload), ...(logType ? { LogType: logType } : {}),
  }));
  return {
    functionError: r.FunctionError,
    body: JSON.parse(Buffer.from(r.Payload).toString('utf8')),
    log: r.LogResult ? Buffer.from(r.LogResult, 'base64').toString('utf8') : '',
  };
}

/** The quickstart against a running server: roles, two functions, a gateway with two Lambda
 *  targets, and every tool called through Lambda Invoke and through MCP. */
async function quickstart(endpoint) {
  const c = clients(endpoint);
  const gwRole = (await c.iam.send(new CreateRoleCommand({
    RoleName: 'QuickstartGatewayRole', AssumeRolePolicyDocument: trust('bedrock-agentcore.amazonaws.com'),
  }))).Role.Arn;
  await c.iam.send(new CreateRoleCommand({
    RoleName: 'QuickstartLambdaRole', AssumeRolePolicyDocument: trust('lambda.amazonaws.com'),
  }));
  const pyArn = await createFunction(c, 'quickstart-py', 'python3.12', 'lambda_function.handler',
    { 'lambda_function.py': PY_CODE });
  const nodeArn = await createFunction(c, 'quickstart-node', 'nodejs20.x', 'index.handler',
    { 'index.js': NODE_CODE });
  await c.iam.send(new PutRolePolicyCommand({
    RoleName: 'QuickstartGatewayRole', PolicyName: 'invoke',
    PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [
      { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: [pyArn, nodeArn] }] }),
  }));

  // Lambda Invoke: the functions' own answers
  const py = await invoke(c, 'quickstart-py', { message: 'hi from invoke' }, 'Tail');
  assert.equal(py.functionError, undefined, `python function failed: ${JSON.stringify(py.body)}\n${py.log}`);
  assert.equal(py.body.statusCode, 200);
  assert.equal(JSON.parse(py.body.body).message, "Hello from Gateway! Input: {'message': 'hi from invoke'}");
  const node = await invoke(c, 'quickstart-node', { message: 'hi from invoke' }, 'Tail');
  assert.equal(node.functionError, undefined, `node function failed: ${JSON.stringify(node.body)}\n${node.log}`);
  assert.equal(JSON.parse(node.body.body).message, 'Hello from Node! Input: {"message":"hi from invoke"}');

  // a gateway with a Lambda target per function
  const gw = await c.control.send(new CreateGatewayCommand({
    name: 'quickstart', protocolType: 'MCP', authorizerType: 'AWS_IAM', roleArn: gwRole,
  }));
  await waitFor('gateway', async () => (await c.control.send(
    new GetGatewayCommand({ gatewayIdentifier: gw.gatewayId }))).status, ['READY']);
  const schema = (name, description) => ({ inlinePayload: [{
    name, description,
    inputSchema: { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] },
  }] });
  for (const [target, arn, tool] of [['echo-tools', pyArn, 'echo_message'], ['node-tools', nodeArn, 'node_echo']]) {
    const t = await c.control.send(new CreateGatewayTargetCommand({
      gatewayIdentifier: gw.gatewayId, name: target,
      targetConfiguration: { mcp: { lambda: { lambdaArn: arn, toolSchema: schema(tool, `echo from ${target}`) } } },
      credentialProviderConfigurations: [{ credentialProviderType: 'GATEWAY_IAM_ROLE' }],
    }));
    await waitFor('target', async () => (await c.control.send(new GetGatewayTargetCommand({
      gatewayIdentifier: gw.gatewayId, targetId: t.targetId }))).status, ['READY']);
  }

  // MCP: list and call each tool
  const { client } = await connect(gw.gatewayUrl, TEST_KEY);
  try {
    const names = (await client.listTools()).tools.map((t) => t.name).sort();
    assert.deepEqual(names, ['echo-tools___echo_message', 'node-tools___node_echo']);
    const r1 = await client.callTool({ name: 'echo-tools___echo_message', arguments: { message: 'hi from mcp' } });
    assert.equal(r1.isError, false, `python tool: ${JSON.stringify(r1)}`);
    assert.equal(JSON.parse(JSON.parse(r1.content[0].text).body).message, PY_ANSWER);
    const r2 = await client.callTool({ name: 'node-tools___node_echo', arguments: { message: 'hi from mcp' } });
    assert.equal(r2.isError, false, `node tool: ${JSON.stringify(r2)}`);
    assert.equal(JSON.parse(JSON.parse(r2.content[0].text).body).message, NODE_ANSWER);
  } finally {
    await client.close();
  }
}

/** The start-up line that names the resolved paths. */
function pathsLine(stderr) {
  const line = stderr.split('\n').find((l) => l.includes('"paths: '));
  assert.ok(line, `a "paths:" info line in the log:\n${stderr}`);
  return JSON.parse(line);
}

async function assertBootstrapsInstalled(dataDir) {
  for (const f of ['python/bootstrap.py', 'nodejs/bootstrap.mjs']) {
    const p = path.join(dataDir, 'runtimes', f);
    const st = await stat(p);
    assert.equal(st.mode & 0o777, 0o444, `${f} is read-only`);
    const src = path.join(repoRoot, 'runtimes', f);
    if (existsSync(src)) assert.ok((await readFile(p)).equals(await readFile(src)), `${f} is the built-in copy`);
  }
}

describe('the quickstart, started as the README and scripts/run start it', () => {
  test('--data ./mcpgate-data (relative, as scripts/run passes it)', async () => {
    const dir = await freshDir();
    const port = await freePort();
    const s = await serve({ cwd: dir, args: ['--listen', `127.0.0.1:${port}`, '--data', './mcpgate-data'], port });
    try {
      await quickstart(s.endpoint);
      const line = pathsLine(s.stderr());
      assert.equal(line.level, 'info');
      assert.match(line.msg, new RegExp(`data ${dir}/mcpgate-data;`));
      assert.match(line.msg, new RegExp(`runtimes ${dir}/mcpgate-data/runtimes`));
      assert.match(s.stderr(), new RegExp(`"listening on http://127.0.0.1:${port} \\(region us-east-1, data ${dir}/mcpgate-data\\)`));
      await assertBootstrapsInstalled(path.join(dir, 'mcpgate-data'));
    } finally {
      const st = await s.stop();
      assert.equal(st.code, 0, s.stderr());
    }
    assert.doesNotMatch(s.stderr(), /"level":"(warn|error)"[^\n]*runtime/i, 'no runtime warnings');
  });

  test('no --data (the default ./mcpgate-data), a copy of the binary in another folder', async () => {
    // as a release binary installed elsewhere: nothing of the source tree next to it
    const dir = await freshDir();
    await mkdir(path.join(dir, 'bin'));
    const bin = path.join(dir, 'bin', 'mcpgate');
    await copyFile(binaryPath(), bin);
    await chmod(bin, 0o755);
    const port = await freePort();
    const s = await serve({ cwd: dir, bin, args: ['--listen', `127.0.0.1:${port}`], port });
    try {
      await quickstart(s.endpoint);
      assert.match(pathsLine(s.stderr()).msg, new RegExp(`data ${dir}/mcpgate-data;`));
      await assertBootstrapsInstalled(path.join(dir, 'mcpgate-data'));
    } finally {
      assert.equal((await s.stop()).code, 0, s.stderr());
    }
  });

  test('no options at all: 127.0.0.1:4777 and ./mcpgate-data', async (t) => {
    if (!(await portFree(DEFAULT_PORT))) {
      t.skip(`127.0.0.1:${DEFAULT_PORT} is taken on this machine: the default listen address is not covered`);
      return;
    }
    const dir = await freshDir();
    let s;
    try {
      s = await serve({ cwd: dir, args: [], port: DEFAULT_PORT });
    } catch (e) {
      if (/address already in use/.test(e.message)) {
        t.skip(`127.0.0.1:${DEFAULT_PORT} was taken meanwhile: not covered`);
        return;
      }
      throw e;
    }
    try {
      assert.match(s.stderr(), /"listening on http:\/\/127\.0\.0\.1:4777 /);
      await quickstart(s.endpoint);
    } finally {
      assert.equal((await s.stop()).code, 0, s.stderr());
    }
  });
});

test('relative --identities, --tls-cert, --tls-key and --data are made absolute and used', async () => {
  const dir = await freshDir();
  await mkdir(path.join(dir, 'etc'));
  const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-keyout', 'etc/key.pem', '-out', 'etc/cert.pem'], { cwd: dir, encoding: 'utf8' });
  assert.equal(gen.status, 0, gen.stderr);
  const accounts = defaultAccounts();
  await writeFile(path.join(dir, 'etc', 'ids.json'), JSON.stringify(identitiesDocument(accounts)), { mode: 0o600 });
  const port = await freePort();
  const s = await serve({
    cwd: dir, port,
    args: ['--listen', `127.0.0.1:${port}`, '--data', 'etc/../state/./db', '--identities', 'etc/ids.json',
      '--tls-cert', './etc/cert.pem', '--tls-key', 'etc//key.pem'],
  });
  try {
    const { msg } = pathsLine(s.stderr());
    assert.equal(msg, `paths: data ${dir}/state/db; identities ${dir}/etc/ids.json; `
      + `runtimes ${dir}/state/db/runtimes (built in); tls cert ${dir}/etc/cert.pem; tls key ${dir}/etc/key.pem`);
    const user = accounts[0].users.dev;
    const { stdout } = await promisify(execFile)('curl', ['-sS', '-i', '-k', '--max-time', '10',
      '--aws-sigv4', 'aws:amz:us-east-1:sts', '--user', `${user.accessKeyId}:${user.secretAccessKey}`,
      '-H', 'content-type: application/x-www-form-urlencoded', '--data', 'Action=GetCallerIdentity&Version=2011-06-15',
      `https://127.0.0.1:${port}/`]);
    assert.match(stdout, /^HTTP\/1\.1 200/);
    assert.match(stdout, new RegExp(`<Arn>arn:aws:iam::${accounts[0].id}:user/dev</Arn>`));
    assert.ok(existsSync(path.join(dir, 'state', 'db', 'mcpgate.db')));
  } finally {
    assert.equal((await s.stop()).code, 0, s.stderr());
  }
});

describe('the Lambda runtimes', () => {
  test('a changed or removed built-in bootstrap is restored at start-up', async () => {
    const dir = await freshDir();
    const port = await freePort();
    let s = await serve({ cwd: dir, args: ['--listen', `127.0.0.1:${port}`], port });
    await s.stop();
    const py = path.join(dir, 'mcpgate-data', 'runtimes', 'python', 'bootstrap.py');
    const nodeBoot = path.join(dir, 'mcpgate-data', 'runtimes', 'nodejs', 'bootstrap.mjs');
    await chmod(py, 0o644);
    await writeFile(py, 'raise SystemExit(9)\n');
    await rm(nodeBoot);
    const port2 = await freePort();
    s = await serve({ cwd: dir, args: ['--listen', `127.0.0.1:${port2}`], port: port2 });
    try {
      await assertBootstrapsInstalled(path.join(dir, 'mcpgate-data'));
      assert.notEqual((await readFile(py, 'utf8')).trim(), 'raise SystemExit(9)');
    } finally {
      await s.stop();
    }
  });

  test('a missing --runtimes-dir: a warning at start-up, and invocations name the missing file', async () => {
    const dir = await freshDir();
    const port = await freePort();
    const s = await serve({ cwd: dir, args: ['--listen', `127.0.0.1:${port}`, '--runtimes-dir', './no-such-runtimes'], port });
    try {
      const missing = `${dir}/no-such-runtimes`;
      const warn = s.stderr().split('\n').find((l) => l.includes('"level":"warn"') && l.includes(missing));
      assert.ok(warn, `a warning names ${missing}:\n${s.stderr()}`);
      assert.match(warn, /does not exist/);
      assert.match(warn, /--runtimes-dir/);

      const c = clients(s.endpoint);
      await c.iam.send(new CreateRoleCommand({
        RoleName: 'QuickstartLambdaRole', AssumeRolePolicyDocument: trust('lambda.amazonaws.com'),
      }));
      await createFunction(c, 'py', 'python3.12', 'lambda_function.handler', { 'lambda_function.py': PY_CODE });
      await createFunction(c, 'node', 'nodejs20.x', 'index.handler', { 'index.js': NODE_CODE });
      for (const [name, file] of [['py', 'python/bootstrap.py'], ['node', 'nodejs/bootstrap.mjs']]) {
        const r = await invoke(c, name, { message: 'x' }, 'Tail');
        assert.equal(r.functionError, 'Unhandled');
        assert.equal(r.body.errorType, 'Runtime.ExitError');
        const want = `cannot start the runtime: ${missing}/${file} is missing; see --runtimes-dir`;
        assert.ok(r.body.errorMessage.includes(want), `errorMessage names the file: ${r.body.errorMessage}`);
        assert.ok(r.log.includes(want), `the Tail log names the file:\n${r.log}`);
      }
      const missingWarn = /"level":"warn"[^\n]*cannot start the runtime: [^\n]*no-such-runtimes\/python\/bootstrap\.py is missing/;
      assert.match(await s.waitStderr(missingWarn), missingWarn);
    } finally {
      await s.stop();
    }
  });

  test('a --runtimes-dir without the Node.js bootstrap: the warning names that file', async () => {
    const dir = await freshDir();
    await mkdir(path.join(dir, 'rt', 'python'), { recursive: true });
    await writeFile(path.join(dir, 'rt', 'python', 'bootstrap.py'), '# placeholder\n');
    const port = await freePort();
    const s = await serve({ cwd: dir, args: ['--listen', `127.0.0.1:${port}`, '--runtimes-dir', 'rt'], port });
    try {
      assert.match(pathsLine(s.stderr()).msg, new RegExp(`runtimes ${dir}/rt;`));
      const warns = s.stderr().split('\n').filter((l) => l.includes('"level":"warn"'));
      assert.ok(warns.some((l) => l.includes(`${dir}/rt/nodejs/bootstrap.mjs is missing`) && l.includes('--runtimes-dir')),
        `a warning names the Node.js bootstrap:\n${s.stderr()}`);
      assert.ok(!warns.some((l) => l.includes('python/bootstrap.py')), 'the Python bootstrap is there');
    } finally {
      await s.stop();
    }
  });
});

describe('one server per address', () => {
  test('a second server on the same address exits with "address already in use"; the first keeps its data', async () => {
    const dirA = await freshDir();
    const dirB = await freshDir();
    const port = await freePort();
    const a = await serve({ cwd: dirA, args: ['--listen', `127.0.0.1:${port}`, '--data', './mcpgate-data', '--threads', '2'], port });
    try {
      const c = clients(a.endpoint);
      await c.iam.send(new CreateRoleCommand({
        RoleName: 'QuickstartLambdaRole', AssumeRolePolicyDocument: trust('lambda.amazonaws.com'),
      }));
      await createFunction(c, 'only-in-a', 'python3.12', 'lambda_function.handler', { 'lambda_function.py': PY_CODE });

      const b = await serve({ cwd: dirB, args: ['--listen', `127.0.0.1:${port}`, '--data', './mcpgate-data'], port, expectExit: true });
      assert.notEqual(b.exited().code, 0, `the second server must not start:\n${b.stderr()}`);
      assert.match(b.stderr(), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: address already in use`));

      // every request, each on a new connection, reaches the first server's data
      for (let i = 0; i < 12; i++) {
        const l = new LambdaClient({ region: REGION, endpoint: a.endpoint, credentials: TEST_KEY, maxAttempts: 1 });
        const names = (await l.send(new ListFunctionsCommand({}))).Functions.map((f) => f.FunctionName);
        assert.deepEqual(names, ['only-in-a']);
        l.destroy();
      }
      assert.ok(a.exited() === null, 'the first server still runs');
    } finally {
      assert.equal((await a.stop()).code, 0, a.stderr());
    }
  });
});
