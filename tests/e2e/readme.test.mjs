// The README's quickstart, run as a user runs it: every code block of the "Five-minute
// quickstart" section, in order, against a gateway started by scripts/run (in a temporary copy
// of the repository). A block introduced by "save this as `NAME`:" is written to NAME; every
// `sh` block runs, in one bash session (so its exports carry over), with `set -euo pipefail`.
// `python3` is the Python that has boto3 (Debian's python3-boto3 where it is installed), as on a
// user's Debian machine. A snippet that breaks fails this test.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { boto3Python } from './lib/python.mjs';
import { removeCopy, repoCopy, startRun } from './lib/repocopy.mjs';
import { freePort, repoRoot } from './lib/server.mjs';

/** The quickstart's code blocks: [{lang, code, saveAs}] in order. */
export function quickstartBlocks(markdown) {
  const start = markdown.indexOf('## Five-minute quickstart');
  assert.ok(start >= 0, 'README.md has no "## Five-minute quickstart" section');
  const end = markdown.indexOf('\n## ', start + 1);
  const lines = markdown.slice(start, end < 0 ? undefined : end).split('\n');
  const blocks = [];
  let prose = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\w*)\s*$/.exec(lines[i]);
    if (!open) {
      prose.push(lines[i]);
      continue;
    }
    const indent = open[1].length;
    const body = [];
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]); i++) {
      const l = lines[i];
      assert.ok(l.trim() === '' || /^\s*$/.test(l.slice(0, indent)), `a line of a code block is indented less than its fence: ${l}`);
      body.push(l.slice(indent));
    }
    assert.ok(i < lines.length, 'a code block is not closed');
    const before = prose.join('\n').trim();
    const save = /save\s+this\s+as\s+`([\w.-]+)`:$/i.exec(before);
    blocks.push({ lang: open[2], code: body.join('\n') + '\n', saveAs: save ? save[1] : null });
    prose = [];
  }
  return blocks;
}

const copies = [];
let run;
after(async () => {
  await run?.stop();
  for (const d of copies) removeCopy(d);
});

test('the README quickstart runs as written, block by block', { timeout: 300000 }, async () => {
  const blocks = quickstartBlocks(readFileSync(path.join(repoRoot, 'README.md'), 'utf8'));
  const files = blocks.filter((b) => b.saveAs).map((b) => b.saveAs);
  const shells = blocks.filter((b) => !b.saveAs);
  for (const b of shells) assert.equal(b.lang, 'sh', `a ${b.lang} block that is neither saved as a file nor run:\n${b.code}`);
  assert.deepEqual(files, ['setup_gateway.py', 'mcp_call.py', 'list_tools.cjs', 'allow_account_b.py', 'create_agent_role.py']);

  const dir = repoCopy();
  copies.push(dir);
  const port = await freePort();
  // The data folder is the README's ./mcpgate-data, given as an absolute path.
  run = startRun(dir, ['--data', path.join(dir, 'mcpgate-data'), '--listen', `127.0.0.1:${port}`], { MCPGATE_DEMO: '0' });
  await run.banner;

  // python3 on PATH is the one with boto3 (Debian's /usr/bin/python3 after scripts/deps)
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  symlinkSync(boto3Python().python === 'python3'
    ? spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).stdout.trim()
    : boto3Python().python, path.join(bin, 'python3'));
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_') && k !== 'PYTHONPATH' && k !== 'NODE_PATH') env[k] = v;
  env.PATH = `${bin}${path.delimiter}${process.env.PATH}`;
  env.NODE_NO_WARNINGS = '1';

  let script = 'set -euo pipefail\n';
  for (const b of blocks) {
    if (b.saveAs) writeFileSync(path.join(dir, b.saveAs), b.code);
    else script += `${b.code}\n`;
  }
  const r = spawnSync('bash', ['-c', script], { cwd: dir, env, encoding: 'utf8', timeout: 240000 });
  const out = `${r.stdout}\n--- stderr ---\n${r.stderr}`;
  assert.equal(r.status, 0, out);

  // What the README says each step shows, in order.
  const expected = [
    /^arn:aws:sts::111122223333:assumed-role\/AdminRole\/session$/m,
    /^export GATEWAY_ARN=arn:aws:bedrock-agentcore:us-east-1:111122223333:gateway\/cross-account-test-[a-z0-9]{10}$/m,
    /^account-a: echo-tools___echo_message: Echo back a message for testing$/m,
    /^account-a: tools\/call returned: .*Hello from Gateway! Input: \{'message': 'hello from account-a'\}/m,
    /^account-b: FAILED: 403 Forbidden$/m,
    /^account-a: echo-tools___echo_message: Echo back a message for testing$/m,
    /^account-b: FAILED: .*AccessDeniedException/m,
    /^resource policy: .*"arn:aws:iam::444455556666:root"/m,
    /^account-b: tools\/call returned: .*Hello from Gateway! Input: \{'message': 'hello from account-b'\}/m,
    /^account-b: echo-tools___echo_message: Echo back a message for testing$/m,
    /^created arn:aws:iam::444455556666:role\/AgentRole$/m,
    /^resource policy: .*"arn:aws:iam::444455556666:role\/AgentRole"/m,
    /^account-b-agent: tools\/call returned: .*Hello from Gateway! Input: \{'message': 'hello from account-b-agent'\}/m,
    /^account-b: FAILED: 403 Forbidden$/m,
  ];
  let rest = r.stdout;
  for (const re of expected) {
    const m = re.exec(rest);
    assert.ok(m, `the quickstart's output lacks ${re} (in order); output:\n${out}`);
    rest = rest.slice(m.index + m[0].length);
  }
});
