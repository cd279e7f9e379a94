// Client connections: --max-connections holds (the connection over the limit waits in the
// kernel's queue and is served once another closes, without the server spinning meanwhile), and
// a server with several event loops refuses to share its address with a second server.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { binaryPath, freePort, startServer } from './lib/server.mjs';

const LIMIT = 8;
let gw;
let port;

before(async () => {
  gw = await startServer({ args: ['--threads', '2', '--max-connections', String(LIMIT)] });
  port = Number(new URL(gw.endpoint).port);
});

after(async () => {
  await gw?.stop();
});

/** A raw connection that sends one keep-alive request; resolves when it is open. */
function openConn() {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.setEncoding('latin1');
    let got = '';
    const waiters = [];
    sock.on('data', (d) => {
      got += d;
      while (waiters.length && got.includes('\r\n\r\nok')) waiters.shift()();
    });
    sock.once('error', reject);
    sock.once('connect', () => resolve({
      sock,
      received: () => got,
      /** Sends GET /_mcpgate/health; resolves with true when answered within ms, else false. */
      ask(ms) {
        got = '';
        sock.write(`GET /_mcpgate/health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
        return new Promise((res) => {
          const t = setTimeout(() => res(false), ms);
          waiters.push(() => { clearTimeout(t); res(true); });
        });
      },
    }));
  });
}

async function cpuMs(pid) {
  const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

test(`--max-connections ${LIMIT}: the next connection waits until one closes, and nothing spins`, async () => {
  const conns = [];
  for (let i = 0; i < LIMIT; i++) {
    const c = await openConn();
    conns.push(c);
    assert.equal(await c.ask(5000), true, `connection ${i + 1} of ${LIMIT} is served`);
  }
  const extra = await openConn(); // the kernel completes the handshake; the server does not accept
  const cpu0 = await cpuMs(gw.pid);
  assert.equal(await extra.ask(1500), false, `a connection over the limit is not served: ${extra.received()}`);
  const cpu = (await cpuMs(gw.pid)) - cpu0;
  assert.ok(cpu < 500, `the server used ${cpu} ms of CPU in 1.5 s at the limit (a busy loop would use it all)`);
  // the ones it holds still work
  assert.equal(await conns[0].ask(5000), true);
  // one closes: the waiting connection is taken and its request answered
  conns.pop().sock.destroy();
  const answered = await new Promise((res) => {
    const t = setTimeout(() => res(false), 5000);
    const iv = setInterval(() => {
      if (extra.received().includes('\r\n\r\nok')) { clearTimeout(t); clearInterval(iv); res(true); }
    }, 10);
  });
  assert.equal(answered, true, 'the waiting connection is served once another closed');
  for (const c of [...conns, extra]) c.sock.destroy();
  // and after they are gone, a new one is served at once
  await new Promise((r) => setTimeout(r, 200));
  const again = await openConn();
  assert.equal(await again.ask(5000), true);
  again.sock.destroy();
});

test('--max-connections outside 1..1000000 is refused', async () => {
  for (const v of ['0', '1000001', 'many']) {
    const r = await runServe(['--listen', '127.0.0.1:0', '--max-connections', v]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--max-connections wants 1 to 1000000/);
  }
});

test('a second server on the address of one with two event loops fails to start', async () => {
  const r = await runServe(['--listen', `127.0.0.1:${port}`, '--threads', '2']);
  assert.notEqual(r.code, 0, 'the second server started');
  assert.match(r.stderr, /address already in use/, r.stderr);
  // nor can another program listen there
  const err = await new Promise((res) => {
    const s = net.createServer();
    s.once('error', (e) => res(e.code));
    s.listen(port, '127.0.0.1', () => s.close(() => res('listening')));
  });
  assert.equal(err, 'EADDRINUSE');
  // the first one still answers
  const c = await openConn();
  assert.equal(await c.ask(5000), true);
  c.sock.destroy();
});

test('under a descriptor limit of 64 the connection limit shrinks to fit, and 100 clients make nothing spin', async (t) => {
  if (!existsSync('/usr/bin/prlimit')) {
    t.skip('no prlimit (util-linux) on this machine');
    return;
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mcpgate-conn-'));
  const p = await freePort();
  const child = spawn('/usr/bin/prlimit', ['--nofile=64:64', binaryPath(), 'serve', '--listen', `127.0.0.1:${p}`,
    '--data', path.join(dir, 'data'), '--threads', '2'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { stderr += d; });
  const socks = [];
  try {
    for (let i = 0; i < 100 && !/listening on/.test(stderr); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(stderr, /at most 32 client connections \(wanted 4096\): the descriptor limit is 64/);
    const first = await (await fetch(`http://127.0.0.1:${p}/_mcpgate/health`)).text();
    assert.equal(first.trim(), 'ok');
    for (let i = 0; i < 100; i++) {
      const s = net.connect(p, '127.0.0.1');
      s.on('error', () => {});
      socks.push(s);
    }
    await new Promise((r) => setTimeout(r, 300));
    const c0 = await cpuMs(child.pid);
    await new Promise((r) => setTimeout(r, 1500));
    const cpu = (await cpuMs(child.pid)) - c0;
    assert.ok(cpu < 500, `the server used ${cpu} ms of CPU in 1.5 s with 100 clients over its limit`);
    for (const s of socks) s.destroy();
    socks.length = 0;
    // once they are gone it serves again
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      try { ok = (await (await fetch(`http://127.0.0.1:${p}/_mcpgate/health`)).text()).trim() === 'ok'; } catch { /* not yet */ }
      if (!ok) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(ok, 'served again once the clients left');
  } finally {
    for (const s of socks) s.destroy();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await rm(dir, { recursive: true, force: true });
  }
});

/** Runs `mcpgate serve ARGS` in a fresh directory until it exits (or 10 s): { code, stderr }. */
async function runServe(args) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mcpgate-conn-'));
  try {
    return await new Promise((resolve) => {
      const child = spawn(binaryPath(), ['serve', '--data', path.join(dir, 'data'), ...args],
        { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (d) => { stderr += d; });
      const t = setTimeout(() => child.kill('SIGKILL'), 10000);
      child.once('exit', (code, signal) => { clearTimeout(t); resolve({ code: code ?? signal, stderr }); });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
