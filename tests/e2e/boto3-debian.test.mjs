// Debian's boto3 (python3-boto3, installed by scripts/deps: boto3 1.26 / botocore 1.29) with the
// vendored AgentCore models (models/, through AWS_DATA_PATH) and scripts/python (the endpoint
// settings of newer botocores): it knows both AgentCore services, evaluates their endpoint rule
// sets, and a profile with `endpoint_url` and `role_arn` + `source_profile` reaches mcpgate.
// Never skipped: without a Python that imports boto3, the tests fail (run scripts/deps).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { adminRole, operatorUser } from './lib/walkthrough.mjs';
import { boto3Env, boto3Python } from './lib/python.mjs';
import { defaultAccounts, newKey, startServer } from './lib/server.mjs';

let gw;
let accounts;
let dir;

before(async () => {
  accounts = defaultAccounts();
  for (const a of accounts) {
    a.roles = { AdminRole: adminRole(a.id) };
    a.users.operator = operatorUser(a.id, newKey());
  }
  gw = await startServer({ accounts });
  dir = mkdtempSync(path.join(os.tmpdir(), 'mcpgate-boto3deb-'));
});

after(async () => {
  await gw?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function py(python, script, env) {
  return spawnSync(python, ['-c', script], { encoding: 'utf8', env, timeout: 60000 });
}

test('on Debian, scripts/deps installed python3-boto3 and the boto3 tests use it', () => {
  const isDebian = existsSync('/etc/debian_version') && existsSync('/usr/bin/dpkg-query');
  if (isDebian) {
    const q = spawnSync('dpkg-query', ['-W', '-f=${Status}', 'python3-boto3'], { encoding: 'utf8' });
    assert.equal(q.stdout, 'install ok installed', 'python3-boto3 is not installed: run scripts/deps');
    assert.equal(boto3Python().python, '/usr/bin/python3');
  } else {
    assert.ok(boto3Python().python);
  }
});

test('the AgentCore models load and their endpoint rule sets resolve', () => {
  const { python } = boto3Python();
  const r = py(python, `
import json, boto3
s = boto3.session.Session(region_name="us-east-1", aws_access_key_id="AKIAEXAMPLEEXAMPLE00", aws_secret_access_key="x" * 40)
out = {}
for name in ("bedrock-agentcore-control", "bedrock-agentcore"):
    c = s.client(name)
    m = c.meta.service_model
    out[name] = {"url": c.meta.endpoint_url, "signing": m.signing_name, "ops": len(m.operation_names),
                 "has": [op for op in ("CreateGateway", "PutResourcePolicy", "InvokeAgentRuntime") if op in m.operation_names]}
print(json.dumps(out))
`, boto3Env());
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out['bedrock-agentcore-control'].url, 'https://bedrock-agentcore-control.us-east-1.amazonaws.com');
  assert.equal(out['bedrock-agentcore-control'].signing, 'bedrock-agentcore');
  assert.deepEqual(out['bedrock-agentcore-control'].has, ['CreateGateway', 'PutResourcePolicy']);
  assert.equal(out['bedrock-agentcore'].url, 'https://bedrock-agentcore.us-east-1.amazonaws.com');
  assert.deepEqual(out['bedrock-agentcore'].has, ['InvokeAgentRuntime']);
});

test('a profile with endpoint_url and role_arn + source_profile reaches mcpgate (AssumeRole included)', () => {
  const { python } = boto3Python();
  const [a] = accounts;
  const op = a.users.operator;
  writeFileSync(path.join(dir, 'credentials'), `[src]\naws_access_key_id = ${op.accessKeyId}\naws_secret_access_key = ${op.secretAccessKey}\n`);
  writeFileSync(path.join(dir, 'config'), `[profile src]\nregion = us-east-1\nendpoint_url = ${gw.endpoint}\n\n`
    + `[profile admin]\nrole_arn = arn:aws:iam::${a.id}:role/AdminRole\nsource_profile = src\nrole_session_name = session\n`
    + `region = us-east-1\nendpoint_url = ${gw.endpoint}\n`);
  const env = boto3Env({
    ...process.env,
    AWS_CONFIG_FILE: path.join(dir, 'config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'credentials'),
    AWS_ENDPOINT_URL: '', AWS_PROFILE: '', AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_SESSION_TOKEN: '',
    AWS_MAX_ATTEMPTS: '1',
  });
  const r = py(python, `
import json, boto3
s = boto3.Session(profile_name="admin")
arn = s.client("sts").get_caller_identity()["Arn"]
ac = s.client("bedrock-agentcore-control")
print(json.dumps({"arn": arn, "url": ac.meta.endpoint_url, "items": ac.list_gateways()["items"]}))
`, env);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.arn, `arn:aws:sts::${a.id}:assumed-role/AdminRole/session`);
  assert.equal(out.url, gw.endpoint);
  assert.deepEqual(out.items, []);
});

test('without scripts/python on PYTHONPATH, an old botocore ignores endpoint_url (why it is there)', () => {
  const { python } = boto3Python();
  const v = py(python, 'import botocore; print(botocore.__version__)', boto3Env()).stdout.trim();
  const [maj, min] = v.split('.').map(Number);
  const env = { ...boto3Env(), PYTHONPATH: '', AWS_ENDPOINT_URL: gw.endpoint };
  const r = py(python, `
import boto3
print(boto3.client("sts", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b").meta.endpoint_url)
`, env);
  assert.equal(r.status, 0, r.stderr);
  if (maj === 1 && min < 31) assert.notEqual(r.stdout.trim(), gw.endpoint);
  else assert.equal(r.stdout.trim(), gw.endpoint);
  // and with it, the same client goes to mcpgate
  const r2 = py(python, `
import boto3
print(boto3.client("sts", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b").meta.endpoint_url)
`, { ...boto3Env(), AWS_ENDPOINT_URL: gw.endpoint });
  assert.equal(r2.stdout.trim(), gw.endpoint, r2.stderr);
});
