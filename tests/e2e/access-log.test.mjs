// The access log: a line per request by default, --access-log off, --access-log-sample N, bad
// values; lines reach stderr promptly (a writer thread, not the event loop, writes them) and
// everything logged is out when the server stops.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { binaryPath, startServer } from './lib/server.mjs';

const ACCESS = /"sub":"http","req_id":"[0-9a-f-]{36}","msg":"GET \/_mcpgate\/health 200 [0-9.]+ms"/g;
const accessLines = (t) => (t.match(ACCESS) ?? []).length;

async function hit(gw, n) {
  for (let i = 0; i < n; i++) {
    const r = await fetch(`${gw.endpoint}/_mcpgate/health?X-Amz-Signature=secret${i}`);
    assert.equal(r.status, 200);
    await r.text();
  }
}

test('a line per request by default, the path without its query, promptly', async () => {
  const gw = await startServer({ args: ['--threads', '2'] });
  try {
    await hit(gw, 5);
    const t0 = Date.now();
    const log = await gw.waitStderr((t) => accessLines(t) >= 5, 3000);
    assert.equal(accessLines(log), 5, log);
    assert.ok(Date.now() - t0 < 2000, 'the lines arrive within two seconds (a few ms when idle)');
    assert.ok(!log.includes('secret'), 'the query is not logged');
    await hit(gw, 3);
  } finally {
    await gw.stop();
  }
  // stopping writes everything that was logged
  assert.equal(accessLines(gw.stderr()), 8);
  // the last log line (a sanitizer build may report after it)
  const lines = gw.stderr().split('\n').filter((l) => l.startsWith('{'));
  assert.equal(JSON.parse(lines[lines.length - 1]).msg, 'stopped');
});

test('--access-log off: no access lines, the other lines stay', async () => {
  const gw = await startServer({ args: ['--access-log', 'off'] });
  try {
    await hit(gw, 4);
  } finally {
    await gw.stop();
  }
  assert.equal(accessLines(gw.stderr()), 0);
  assert.match(gw.stderr(), /"msg":"listening on /);
  assert.match(gw.stderr(), /"msg":"stopped"/);
});

test('--access-log-sample 3 with one event loop: one request in three', async () => {
  const gw = await startServer({ args: ['--access-log-sample', '3', '--threads', '1'] });
  try {
    await hit(gw, 9);
  } finally {
    await gw.stop();
  }
  assert.equal(accessLines(gw.stderr()), 3);
});

test('bad values are refused with exit status 2', () => {
  for (const [args, msg] of [
    [['--access-log', 'yes'], /--access-log wants on or off, got 'yes'/],
    [['--access-log-sample', '0'], /--access-log-sample wants 1 to 1000000, got '0'/],
    [['--access-log-sample', 'x'], /--access-log-sample wants 1 to 1000000/],
    [['--access-log'], /--access-log needs a value/],
  ]) {
    const r = spawnSync(binaryPath(), ['serve', ...args], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, msg);
  }
  const help = spawnSync(binaryPath(), ['serve', '--help'], { encoding: 'utf8' });
  assert.match(help.stdout, /--access-log on\|off/);
  assert.match(help.stdout, /--access-log-sample N/);
});
