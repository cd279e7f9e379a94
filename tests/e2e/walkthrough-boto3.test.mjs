// The walkthrough with boto3, through AWS profiles (role_arn + source_profile), with the Python
// that lib/python.mjs picks (Debian's python3-boto3 taught the AgentCore models by AWS_DATA_PATH
// and the profile's endpoint_url by scripts/python, or a newer boto3). Never skipped.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { adminRole, operatorUser } from './lib/walkthrough.mjs';
import { boto3Env, boto3Python } from './lib/python.mjs';
import { defaultAccounts, newKey, repoRoot, startServer } from './lib/server.mjs';


let gw;
after(async () => { await gw?.stop(); });

test('the walkthrough with boto3 and AWS profiles', { timeout: 180000 }, async () => {
  const { python } = boto3Python();
  const accounts = defaultAccounts();
  for (const a of accounts) {
    a.roles = { AdminRole: adminRole(a.id) };
    a.users.operator = operatorUser(a.id, newKey());
  }
  gw = await startServer({ accounts });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mcpgate-boto3-'));
  const names = ['account-a', 'account-b'];
  let config = '';
  let creds = '';
  accounts.forEach((a, i) => {
    const op = a.users.operator;
    creds += `[${names[i]}-operator]\naws_access_key_id = ${op.accessKeyId}\naws_secret_access_key = ${op.secretAccessKey}\n\n`;
    config += `[profile ${names[i]}-operator]\nregion = us-east-1\nendpoint_url = ${gw.endpoint}\n\n`;
    config += `[profile ${names[i]}]\nrole_arn = arn:aws:iam::${a.id}:role/AdminRole\nsource_profile = ${names[i]}-operator\nrole_session_name = session\nregion = us-east-1\nendpoint_url = ${gw.endpoint}\n\n`;
  });
  writeFileSync(path.join(dir, 'config'), config);
  writeFileSync(path.join(dir, 'credentials'), creds);
  const run = spawnSync(python, [path.join(repoRoot, 'tests', 'e2e', 'py', 'walkthrough_boto3.py')], {
    env: {
      ...boto3Env(),
      AWS_CONFIG_FILE: path.join(dir, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'credentials'),
      AWS_ENDPOINT_URL: '', AWS_PROFILE: '', AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '',
    },
    encoding: 'utf8',
    timeout: 170000,
  });
  assert.equal(run.status, 0, run.stderr);
  const r = JSON.parse(run.stdout);
  assert.equal(r.callerA, 'arn:aws:sts::111122223333:assumed-role/AdminRole/session');
  assert.equal(r.callerB, 'arn:aws:sts::444455556666:assumed-role/AdminRole/session');
  assert.deepEqual(r.listA, { ok: true, tools: ['echo-tools___echo_message: Echo back a message for testing'] });
  assert.deepEqual(r.listB1, { ok: false, status: 403 });
  assert.equal(r.starRefused, 'ValidationException');
  assert.equal(r.listB2.ok, true);
  assert.match(r.callB, /Hello from Gateway! Input: \{'message': 'hello from boto3'\}/);
  assert.equal(r.cleanup, 'done');
});
