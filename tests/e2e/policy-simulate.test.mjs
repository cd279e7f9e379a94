// Every IAM decision vector of tests/vectors/iam/ through the `mcpgate policy simulate` binary,
// plus the command's error contract and `policy validate`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { binaryPath, repoRoot } from './lib/server.mjs';

const dir = path.join(repoRoot, 'tests', 'vectors', 'iam');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

function simulate(input) {
  const p = spawnSync(binaryPath(), ['policy', 'simulate'], { input, encoding: 'utf8' });
  return { code: p.status, out: p.stdout, err: p.stderr };
}

test('at least 200 documented decision cases exist', () => {
  const n = files.reduce((k, f) => k + JSON.parse(readFileSync(path.join(dir, f), 'utf8')).length, 0);
  assert.ok(n >= 200, `only ${n} cases`);
});

for (const f of files) {
  test(`policy simulate agrees with every case of ${f}`, () => {
    const cases = JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
    const wrong = [];
    for (const c of cases) {
      assert.ok(c.source, `${c.name} cites no source`);
      const r = simulate(JSON.stringify(c));
      let got;
      try {
        got = JSON.parse(r.out).decision;
      } catch {
        got = `exit ${r.code}: ${r.out}${r.err}`;
      }
      if (got !== c.expect) wrong.push(`${c.name}: expected ${c.expect}, got ${got}`);
    }
    assert.deepEqual(wrong, []);
  });
}

test('invalid input answers {"error"} and exit 2', () => {
  for (const input of ['not json', '{}', '{"request": {"action": "s3:GetObject"}}']) {
    const r = simulate(input);
    assert.equal(r.code, 2, input);
    assert.ok(typeof JSON.parse(r.out).error === 'string', input);
  }
});

test('sts:AssumeRole on a role without its trust policy is invalid input; a bad aws:PrincipalArn too', () => {
  const assume = simulate(JSON.stringify({
    identityPolicies: [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }] }],
    request: { principal: 'arn:aws:iam::111122223333:user/alice', action: 'sts:AssumeRole', resource: 'arn:aws:iam::111122223333:role/R' },
  }));
  assert.equal(assume.code, 2);
  assert.match(JSON.parse(assume.out).error, /sts:AssumeRole on a role needs the role's trust policy as "resourcePolicy"/);
  const pa = simulate(JSON.stringify({
    request: {
      principal: 'arn:aws:sts::111122223333:assumed-role/R/s', action: 's3:GetObject', resource: '*',
      context: { 'aws:PrincipalArn': 'arn:aws:iam::111122223333:role/team/Other' },
    },
  }));
  assert.equal(pa.code, 2);
  assert.match(JSON.parse(pa.out).error, /aws:PrincipalArn must be the ARN of the session's role/);
});

test('policy validate: a valid document passes, a malformed one names the problem', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'mcpgate-validate-'));
  const good = path.join(tmp, 'good.json');
  const bad = path.join(tmp, 'bad.json');
  writeFileSync(good, JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] }));
  writeFileSync(bad, JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Permit', Action: 's3:GetObject', Resource: '*' }] }));
  const ok = spawnSync(binaryPath(), ['policy', 'validate', good], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  const ko = spawnSync(binaryPath(), ['policy', 'validate', bad], { encoding: 'utf8' });
  assert.equal(ko.status, 1);
  assert.match(ko.stdout + ko.stderr, /Permit|effect/i);
});
