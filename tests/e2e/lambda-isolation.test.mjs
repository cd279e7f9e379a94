// Lambda isolation: several accounts share one server, so each function runs in a sandbox (as on
// AWS, where each has its own microVM). Real functions of account B try to reach the data folder
// (where the other accounts' secret keys and the session-token key live), another function's
// code, the server's /proc, to signal the server, to leave a process behind, and to exhaust
// memory, /tmp and process slots. Every attempt must fail and the server must keep serving.
//
// The attacks are written so that, on a server without a sandbox, they fail the test without
// harming the machine: the ones that could (kill -1, a fork bomb) first check that they cannot
// see the server, and every loop has a bound.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import {
  CreateFunctionCommand, DeleteFunctionCommand, GetFunctionConfigurationCommand, InvokeCommand,
  LambdaClient, ListFunctionsCommand,
} from '@aws-sdk/client-lambda';
import { defaultAccounts, startServer } from './lib/server.mjs';
import { makeClient } from './lib/aws.mjs';
import { zipFiles } from './lib/zipfile.mjs';

const A = '111122223333';
const B = '444455556666';
const trust = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
};
const role = (acct) => `arn:aws:iam::${acct}:role/fn-exec`;
const SECRET_MARK = `code-of-a-${randomBytes(6).toString('hex')}`;

// Account A's function: its code holds a marker no one else may read.
const PY_A = `
MARK = "${SECRET_MARK}"
def handler(event, context):
    return {"mark_len": len(MARK)}
`;

// Account B's attacker (Python).
const PY_ATTACK = `
import ctypes, errno, json, os, signal, time

def attempt(fn):
    try:
        r = fn()
        return "ok:" + (r if isinstance(r, str) else repr(r))[:80]
    except OSError as e:
        return "err:" + errno.errorcode.get(e.errno, str(e.errno))

def read(path):
    with open(path, "rb") as f:
        return f.read(64).hex()

def visible_server():
    # True when any process we can see is an mcpgate server
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                if b"mcpgate" in f.read():
                    return True
        except OSError:
            pass
    return False

def handler(event, context):
    op = event["op"]
    if op == "whoami":
        return {"uid": os.getuid(), "gid": os.getgid(), "cwd": os.getcwd(),
                "task_root": os.environ.get("LAMBDA_TASK_ROOT"),
                "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
                "tmp_writable": attempt(lambda: open("/tmp/x", "w").write("x")),
                "root_writable": attempt(lambda: open("/var/task/x", "w").write("x")),
                "usr_writable": attempt(lambda: open("/usr/x", "w").write("x")),
                "listing": sorted(os.listdir("/"))}
    if op == "read":
        out = {}
        for p in event["paths"]:
            out[p] = attempt(lambda: read(p))
        for d in event["dirs"]:
            out[d] = attempt(lambda: ",".join(sorted(os.listdir(d))))
        return out
    if op == "scan":
        found = []
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    with open("/proc/%s/cmdline" % p, "rb") as f:
                        found.append(f.read().replace(b"\\0", b" ").decode(errors="replace"))
                except OSError:
                    pass
        return {"cmdlines": found}
    if op == "kill":
        out = {"server": attempt(lambda: os.kill(event["server_pid"], signal.SIGKILL))}
        if visible_server():
            out["all"] = "unsafe: the server is visible"
        else:
            out["all"] = attempt(lambda: os.kill(-1, signal.SIGKILL))
        return out
    if op == "syscalls":
        libc = ctypes.CDLL(None, use_errno=True)
        def call(f, *args):
            r = f(*args)
            return "ok" if r == 0 else "err:" + errno.errorcode.get(ctypes.get_errno(), "?")
        return {"unshare_user": call(libc.unshare, 0x10000000),
                "mount": call(libc.mount, b"none", b"/tmp", b"tmpfs", 0, None),
                "ptrace": call(libc.ptrace, 16, 1, None, None)}
    if op == "survivor":
        pid = os.fork()
        if pid == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv("/bin/sh", ["/bin/sh", "-c", "while :; do sleep 1; done", event["marker"]])
            os._exit(0)
        os.waitpid(pid, 0)
        return {"forked": True}
    if op == "memory":
        chunks = []
        for i in range(event["mb"] // 16):
            chunks.append(b"\\1" * (16 << 20))
        return {"allocated_mb": len(chunks) * 16}
    if op == "tmpfill":
        written, err = 0, None
        block = b"\\0" * (1 << 20)
        try:
            with open("/tmp/fill", "wb") as f:
                while written < event["max_mb"]:
                    f.write(block)
                    f.flush()
                    written += 1
        except OSError as e:
            err = errno.errorcode.get(e.errno, str(e.errno))
        os.remove("/tmp/fill")
        return {"written_mb": written, "error": err}
    if op == "forkbomb":
        # threads are tasks too, and far cheaper to make than processes: the limit is the same
        if visible_server():
            return {"refused": "unsafe: the server is visible"}
        import threading
        threading.stack_size(64 << 10)
        stop = threading.Event()
        kids, err = [], None
        while len(kids) < event["max"]:
            t = threading.Thread(target=stop.wait, daemon=True)
            try:
                t.start()
            except RuntimeError as e:
                err = str(e)
                break
            kids.append(t)
        forked = None
        try:
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
            forked = "ok"
        except OSError as e:
            forked = "err:" + errno.errorcode.get(e.errno, str(e.errno))
        stop.set()
        for t in kids:
            t.join()
        return {"tasks": len(kids), "error": err, "fork": forked}
    return {"ok": True}
`;

// Account B's attacker (Node.js).
const NODE_ATTACK = `
const fs = require('fs');
exports.handler = async (event) => {
  if (event.op === 'read') {
    const out = {};
    for (const p of event.paths) {
      try { out[p] = 'ok:' + fs.readFileSync(p).subarray(0, 32).toString('hex'); } catch (e) { out[p] = 'err:' + e.code; }
    }
    return out;
  }
  if (event.op === 'memory') {
    const keep = [];
    for (let i = 0; i < event.mb / 16; i++) keep.push(Buffer.alloc(16 << 20, 1));
    return { allocated_mb: keep.length * 16 };
  }
  return { ok: true };
};
`;

let gw;
let lambdaA;
let lambdaB;
let accounts;

const dec = (p) => (p ? JSON.parse(Buffer.from(p).toString('utf8')) : undefined);

function hostProcessesWith(marker) {
  const found = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`).includes(marker)) found.push(Number(p));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

async function waitGone(marker, ms = 5000) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (hostProcessesWith(marker).length === 0) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

// a survivor left behind by a server without a sandbox must not outlive the test
const markers = [];
function killLeftovers() {
  for (const m of markers) {
    for (const pid of hostProcessesWith(m)) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
}

async function waitActive(c, name) {
  for (let i = 0; i < 200; i++) {
    const f = await c.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
    if (f.State === 'Active' && f.LastUpdateStatus !== 'InProgress') return f;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`function ${name} never became Active`);
}

async function create(c, acct, params) {
  await c.send(new CreateFunctionCommand({ Role: role(acct), Timeout: 30, ...params }));
  await waitActive(c, params.FunctionName);
}

async function invoke(c, name, event) {
  const r = await c.send(new InvokeCommand({ FunctionName: name, Payload: JSON.stringify(event) }));
  return { error: r.FunctionError, payload: dec(r.Payload) };
}

const pyZip = (code) => zipFiles([['index.py', code]]);

async function serving() {
  assert.ok(gw.alive(), `the server died\n${gw.stderr().slice(-3000)}`);
  const r = await lambdaA.send(new ListFunctionsCommand({}));
  assert.ok(Array.isArray(r.Functions));
  const a = await invoke(lambdaA, 'secret-a', {});
  assert.equal(a.error, undefined, JSON.stringify(a.payload));
  assert.equal(a.payload.mark_len, SECRET_MARK.length);
}

function setupAccounts() {
  const acc = defaultAccounts();
  for (const a of acc) {
    a.roles = { exec: { name: 'fn-exec', path: '/', assumeRolePolicyDocument: trust } };
  }
  return acc;
}

describe('Lambda isolation', () => {
  before(async () => {
    accounts = setupAccounts();
    gw = await startServer({ accounts, args: ['--lambda-concurrency', '2', '--lambda-idle-timeout', '60'] });
    lambdaA = makeClient(LambdaClient, gw, accounts[0].root);
    lambdaB = makeClient(LambdaClient, gw, accounts[1].root);
    await create(lambdaA, A, { FunctionName: 'secret-a', Runtime: 'python3.12', Handler: 'index.handler', Code: { ZipFile: pyZip(PY_A) } });
    await create(lambdaB, B, { FunctionName: 'attack', Runtime: 'python3.12', Handler: 'index.handler', Code: { ZipFile: pyZip(PY_ATTACK) } });
    await create(lambdaB, B, {
      FunctionName: 'attack-node', Runtime: 'nodejs20.x', Handler: 'index.handler',
      Code: { ZipFile: zipFiles([['index.js', NODE_ATTACK]]) },
    });
    // warm A's function: its code is unpacked and a process of A is running
    const a = await invoke(lambdaA, 'secret-a', {});
    assert.equal(a.error, undefined, JSON.stringify(a.payload));
  });

  after(async () => {
    killLeftovers();
    if (gw) {
      const r = await gw.stop();
      assert.equal(r.signal, null, gw.stderr().slice(-2000));
      const err = gw.stderr();
      assert.doesNotMatch(err, /ERROR: AddressSanitizer: (?!detected memory leaks)|runtime error:/, err.slice(-4000));
    }
    killLeftovers();
  });

  test('start-up says which isolation is in effect', () => {
    assert.match(gw.stderr(), /lambda isolation: sandbox; namespaces user, mount, pid, ipc;.*cgroup .*seccomp on/);
  });

  test('a function sees its own code at /var/task, its own /tmp, and a read-only system', async () => {
    const r = await invoke(lambdaB, 'attack', { op: 'whoami' });
    assert.equal(r.error, undefined, JSON.stringify(r.payload));
    const w = r.payload;
    assert.equal(w.uid, 993);
    assert.equal(w.gid, 993);
    assert.equal(w.cwd, '/var/task');
    assert.equal(w.task_root, '/var/task');
    assert.equal(w.tmp_writable, 'ok:1');
    assert.equal(w.root_writable, 'err:EROFS');
    assert.match(w.usr_writable, /^err:(EROFS|EACCES)$/);
    // its PID namespace: the runtime (init, another user's, is hidden), nothing of the host
    assert.ok(w.pids.length >= 1 && w.pids.length <= 3, `pids ${w.pids}`);
    assert.ok(w.pids.every((p) => p < 10), `pids ${w.pids}`);
    for (const d of ['dev', 'etc', 'proc', 'tmp', 'usr', 'var']) assert.ok(w.listing.includes(d), w.listing.join(','));
    assert.ok(!w.listing.includes('work') && !w.listing.includes('home'), w.listing.join(','));
  });

  test('the data folder, other functions\' code and the server\'s /proc are out of reach', async () => {
    const data = gw.dataDir;
    const paths = [
      '../../../../mcpgate.db',
      '../../../../../../../../../../../..' + data + '/mcpgate.db',
      `${data}/mcpgate.db`,
      `${data}/mcpgate.db-wal`,
      `/proc/${gw.pid}/environ`,
      `/proc/${gw.pid}/cmdline`,
      `/proc/${gw.pid}/root${data}/mcpgate.db`,
      '/proc/1/root/etc/hostname',
      gw.identitiesFile,
    ];
    const dirs = [data, `${data}/lambda`, `${data}/lambda/${A}`, `${data}/lambda/${A}/secret-a`, `/proc/${gw.pid}/fd`, '/proc/1/fd'];
    const r = await invoke(lambdaB, 'attack', { op: 'read', paths, dirs });
    assert.equal(r.error, undefined, JSON.stringify(r.payload));
    for (const p of [...paths, ...dirs]) {
      assert.match(r.payload[p], /^err:/, `${p} was readable: ${r.payload[p]}`);
    }
    assert.doesNotMatch(JSON.stringify(r.payload), new RegExp(SECRET_MARK));
    // the same from Node.js
    const n = await invoke(lambdaB, 'attack-node', { op: 'read', paths });
    assert.equal(n.error, undefined, JSON.stringify(n.payload));
    for (const p of paths) assert.match(n.payload[p], /^err:/, `${p} was readable from Node.js: ${n.payload[p]}`);
    await serving();
  });

  test('no process of the host or of another function is visible', async () => {
    const r = await invoke(lambdaB, 'attack', { op: 'scan' });
    assert.equal(r.error, undefined, JSON.stringify(r.payload));
    const all = r.payload.cmdlines.join('\n');
    assert.doesNotMatch(all, /mcpgate/);
    assert.doesNotMatch(all, /node_modules|--test/);
    assert.ok(r.payload.cmdlines.length <= 3, all);
  });

  test('signals cannot reach the server: kill by pid and kill -1', async () => {
    const r = await invoke(lambdaB, 'attack', { op: 'kill', server_pid: gw.pid });
    // kill -1 may take the runtime itself down: either way the server lives
    if (r.error === undefined) {
      assert.match(r.payload.server, /^err:(ESRCH|EPERM)$/);
      assert.doesNotMatch(r.payload.all, /unsafe/);
    }
    await serving();
    const again = await invoke(lambdaB, 'attack', { op: 'whoami' });
    assert.equal(again.error, undefined, JSON.stringify(again.payload));
  });

  test('seccomp: namespaces, mounts and ptrace are refused', async () => {
    const r = await invoke(lambdaB, 'attack', { op: 'syscalls' });
    assert.equal(r.error, undefined, JSON.stringify(r.payload));
    assert.equal(r.payload.unshare_user, 'err:EPERM');
    assert.equal(r.payload.mount, 'err:EPERM');
    assert.equal(r.payload.ptrace, 'err:EPERM');
  });

  test('memory past MemorySize ends the invocation with Lambda\'s error; the server goes on', async (t) => {
    if (!/cgroup v[12] \(memory/.test(gw.stderr())) {
      t.skip('no memory cgroup on this host (setrlimit is the floor: allocations fail instead)');
      return;
    }
    const py = await invoke(lambdaB, 'attack', { op: 'memory', mb: 480 });
    assert.equal(py.error, 'Unhandled', JSON.stringify(py.payload));
    assert.equal(py.payload.errorType, 'Runtime.ExitError');
    assert.match(py.payload.errorMessage, /signal: killed/);
    const node = await invoke(lambdaB, 'attack-node', { op: 'memory', mb: 480 });
    assert.equal(node.error, 'Unhandled', JSON.stringify(node.payload));
    assert.equal(node.payload.errorType, 'Runtime.ExitError');
    await serving();
    const again = await invoke(lambdaB, 'attack', { op: 'whoami' });
    assert.equal(again.error, undefined, JSON.stringify(again.payload));
  });

  test('/tmp is private and bounded by EphemeralStorage (ENOSPC)', async () => {
    await create(lambdaB, B, {
      FunctionName: 'tmpfill', Runtime: 'python3.12', Handler: 'index.handler', MemorySize: 1024,
      Code: { ZipFile: pyZip(PY_ATTACK) },
    });
    const r = await invoke(lambdaB, 'tmpfill', { op: 'tmpfill', max_mb: 700 });
    assert.equal(r.error, undefined, JSON.stringify(r.payload));
    assert.equal(r.payload.error, 'ENOSPC', JSON.stringify(r.payload));
    assert.ok(r.payload.written_mb >= 400 && r.payload.written_mb <= 512, JSON.stringify(r.payload));
    await lambdaB.send(new DeleteFunctionCommand({ FunctionName: 'tmpfill' }));
    await serving();
  });

  test('a fork bomb stops at the process limit', async (t) => {
    if (!/cgroup v[12] \((memory, )?pids/.test(gw.stderr())) {
      t.skip('no pids cgroup on this host (RLIMIT_NPROC per user is the floor)');
      return;
    }
    await create(lambdaB, B, {
      FunctionName: 'bomb', Runtime: 'python3.12', Handler: 'index.handler', MemorySize: 1024,
      Code: { ZipFile: pyZip(PY_ATTACK) },
    });
    const r = await invoke(lambdaB, 'bomb', { op: 'forkbomb', max: 1500 });
    assert.equal(r.error, undefined, JSON.stringify(r.payload));
    assert.equal(r.payload.refused, undefined, JSON.stringify(r.payload));
    assert.match(r.payload.error ?? '', /can't start new thread/, JSON.stringify(r.payload));
    assert.ok(r.payload.tasks < 1024, JSON.stringify(r.payload));
    assert.equal(r.payload.fork, 'err:EAGAIN', JSON.stringify(r.payload));
    // the threads are gone: the function works again
    const again = await invoke(lambdaB, 'bomb', { op: 'whoami' });
    assert.equal(again.error, undefined, JSON.stringify(again.payload));
    await lambdaB.send(new DeleteFunctionCommand({ FunctionName: 'bomb' }));
    await serving();
  });

  test('a setsid survivor dies with DeleteFunction', async () => {
    await create(lambdaB, B, { FunctionName: 'survivor', Runtime: 'python3.12', Handler: 'index.handler', Code: { ZipFile: pyZip(PY_ATTACK) } });
    const marker = `mg-survivor-${randomBytes(6).toString('hex')}`;
    markers.push(marker);
    const r = await invoke(lambdaB, 'survivor', { op: 'survivor', marker });
    assert.equal(r.error, undefined, JSON.stringify(r.payload));
    assert.ok(hostProcessesWith(marker).length > 0, 'the survivor did not start');
    await lambdaB.send(new DeleteFunctionCommand({ FunctionName: 'survivor' }));
    assert.ok(await waitGone(marker), `processes ${hostProcessesWith(marker)} outlived DeleteFunction`);
    await serving();
  });

  test('a setsid survivor dies with the server (SIGTERM and SIGKILL)', async () => {
    for (const signal of ['SIGTERM', 'SIGKILL']) {
      const acc = setupAccounts();
      const g = await startServer({ accounts: acc });
      try {
        const c = makeClient(LambdaClient, g, acc[1].root);
        await create(c, B, { FunctionName: 'survivor', Runtime: 'python3.12', Handler: 'index.handler', Code: { ZipFile: pyZip(PY_ATTACK) } });
        const marker = `mg-survivor-${randomBytes(6).toString('hex')}`;
        markers.push(marker);
        const r = await invoke(c, 'survivor', { op: 'survivor', marker });
        assert.equal(r.error, undefined, JSON.stringify(r.payload));
        assert.ok(hostProcessesWith(marker).length > 0, 'the survivor did not start');
        if (signal === 'SIGKILL') process.kill(g.pid, 'SIGKILL');
        await g.stop();
        assert.ok(await waitGone(marker), `processes ${hostProcessesWith(marker)} outlived the server (${signal})`);
      } finally {
        await g.stop();
      }
    }
  });
});

describe('Lambda isolation: --lambda-isolation', () => {
  test('sandbox: required, and available here', async () => {
    const g = await startServer({ args: ['--lambda-isolation', 'sandbox'] });
    try {
      assert.match(g.stderr(), /lambda isolation: sandbox;/);
    } finally {
      await g.stop();
    }
  });

  // A runtimes folder that does not exist fails the start-up probe (its bind mount cannot be
  // made), as a host without namespaces would: the server then runs one account's functions.
  test('auto without a sandbox: one account\'s functions only', async () => {
    const acc = setupAccounts();
    const g = await startServer({ accounts: acc, args: ['--runtimes-dir', '/nonexistent-mcpgate-runtimes'] });
    try {
      assert.match(g.stderr(), /lambda isolation: unavailable \(.+\): functions of one account only/);
      const ca = makeClient(LambdaClient, g, acc[0].root);
      const cb = makeClient(LambdaClient, g, acc[1].root);
      const bootstrap = '#!/bin/sh\nwhile :; do\n' +
        'h=$(mktemp); b=$(mktemp)\n' +
        'curl -sS -D "$h" -o "$b" "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/next"\n' +
        'id=$(grep -i "^lambda-runtime-aws-request-id:" "$h" | tr -d "\\r" | cut -d" " -f2)\n' +
        'curl -sS -X POST -d "{\\"ran\\":1}" "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/$id/response" >/dev/null\n' +
        'done\n';
      const code = { ZipFile: zipFiles([['bootstrap', bootstrap, { mode: 0o755 }]]) };
      await create(ca, A, { FunctionName: 'f', Runtime: 'provided.al2023', Handler: 'x', Code: code });
      await create(cb, B, { FunctionName: 'f', Runtime: 'provided.al2023', Handler: 'x', Code: code });
      const ra = await invoke(ca, 'f', {});
      assert.equal(ra.error, undefined, JSON.stringify(ra.payload));
      assert.deepEqual(ra.payload, { ran: 1 });
      await assert.rejects(invoke(cb, 'f', {}), (e) => {
        assert.equal(e.name, 'ServiceException');
        assert.match(e.message, /one account's functions only.*--lambda-isolation/);
        return true;
      });
      // A still runs
      assert.deepEqual((await invoke(ca, 'f', {})).payload, { ran: 1 });
    } finally {
      await g.stop();
    }
  });

  test('sandbox: without one, the server refuses to start', async () => {
    await assert.rejects(
      startServer({ args: ['--lambda-isolation', 'sandbox', '--runtimes-dir', '/nonexistent-mcpgate-runtimes'] }),
      /exited during start-up[\s\S]*no sandbox on this host/,
    );
  });

  test('none: a warning that says what is given up', async () => {
    const g = await startServer({ args: ['--lambda-isolation', 'none'] });
    try {
      assert.match(g.stderr(), /lambda isolation: none .*every function runs as the server's user.*other accounts' secrets/);
    } finally {
      await g.stop();
    }
  });
});
