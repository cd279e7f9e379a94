// The command line around the server: TLS, the loopback rule for the built-in test account,
// `mcpgate credentials`, option errors, and a restart with the same identities file.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { STS_BODY, xmlText } from './lib/aws.mjs';
import { binaryPath, freePort, startServer } from './lib/server.mjs';

const run = promisify(execFile);

test('HTTPS with --tls-cert/--tls-key: curl --aws-sigv4 gets the caller identity', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mcpgate-tls-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-keyout', key, '-out', cert], { encoding: 'utf8' });
  assert.equal(gen.status, 0, gen.stderr);
  const gw = await startServer({ args: ['--tls-cert', cert, '--tls-key', key] });
  try {
    const user = gw.accounts[0].users.dev;
    const url = `https://127.0.0.1:${gw.port}/`;
    const { stdout } = await run('curl', ['-sS', '-i', '-k', '--max-time', '10',
      '--aws-sigv4', 'aws:amz:us-east-1:sts', '--user', `${user.accessKeyId}:${user.secretAccessKey}`,
      '-H', 'content-type: application/x-www-form-urlencoded', '--data', STS_BODY, url]);
    assert.match(stdout, /^HTTP\/1\.1 200/, stdout);
    assert.equal(xmlText(stdout, 'Arn'), `arn:aws:iam::${gw.accounts[0].id}:user/dev`);
    // plain HTTP on the TLS port is not served
    const plain = spawnSync('curl', ['-sS', '--max-time', '5', `http://127.0.0.1:${gw.port}/`], { encoding: 'utf8' });
    assert.notEqual(plain.status, 0);
  } finally {
    await gw.stop();
  }
});

test('without an identities file, only loopback addresses are accepted', () => {
  const data = mkdtempSync(path.join(os.tmpdir(), 'mcpgate-cli-'));
  const r = spawnSync(binaryPath(), ['serve', '--listen', '0.0.0.0:0', '--data', data], { encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /refusing to listen on 0\.0\.0\.0/);
  assert.match(r.stderr, /--identities/);
});

test('the built-in test account answers on loopback, and `mcpgate credentials` prints its profile', async () => {
  const data = mkdtempSync(path.join(os.tmpdir(), 'mcpgate-cli-'));
  const port = await freePort();
  const child = execFile(binaryPath(), ['serve', '--listen', `127.0.0.1:${port}`, '--data', data]);
  try {
    const sts = new STSClient({ region: 'us-east-1', endpoint: `http://127.0.0.1:${port}`,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 10 });
    let me;
    for (let i = 0; i < 50 && !me; i++) {
      me = await sts.send(new GetCallerIdentityCommand({})).catch(() => null);
      if (!me) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(me?.Arn, 'arn:aws:iam::000000000000:root');
    const out = spawnSync(binaryPath(), ['credentials', '--data', data], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /\[profile mcpgate-000000000000\]/);
    assert.match(out.stdout, new RegExp(`endpoint_url = http://127\\.0\\.0\\.1:${port}`));
    assert.match(out.stdout, /aws_access_key_id = test/);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
});

test('option errors are explained and exit 2', () => {
  for (const args of [['serve', '--listen', 'nope'], ['serve', '--threads', '0'], ['serve', '--bogus', 'x'],
    ['serve', '--tls-cert', '/x'], ['frobnicate']]) {
    const r = spawnSync(binaryPath(), args, { encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /mcpgate/);
  }
});

test('a malformed identities file stops the start with the place of the error', () => {
  const data = mkdtempSync(path.join(os.tmpdir(), 'mcpgate-cli-'));
  const file = path.join(data, 'ids.json');
  spawnSync('sh', ['-c', `printf '%s' '{"accounts":[{"id":"12345","users":[]}]}' > ${file}`]);
  const r = spawnSync(binaryPath(), ['serve', '--listen', '127.0.0.1:0', '--data', path.join(data, 'd'),
    '--identities', file], { encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /accounts\[0\]\.id: must be 12 digits/);
});

test('every command has its own --help (exit 0), as `mcpgate --help` promises', () => {
  const top = spawnSync(binaryPath(), ['--help'], { encoding: 'utf8' });
  assert.equal(top.status, 0);
  assert.match(top.stdout, /'mcpgate <command> --help'/);
  const cases = [
    [['serve', '--help'], /^usage: mcpgate serve/],
    [['credentials', '--help'], /^usage: mcpgate credentials/],
    [['policy', '--help'], /^usage: mcpgate policy simulate[\s\S]*mcpgate policy validate/],
    [['policy', 'simulate', '--help'], /^usage: mcpgate policy simulate < case\.json\n\nReads one case on stdin/],
    [['policy', 'simulate', '-h'], /^usage: mcpgate policy simulate/],
    [['policy', 'validate', '--help'], /^usage: mcpgate policy validate FILE[\s\S]*--type KIND[\s\S]*--max-chars N/],
    [['policy', 'validate', 'x.json', '--help'], /^usage: mcpgate policy validate FILE/],
    [['help', 'policy'], /^usage: mcpgate policy simulate/],
    [['version', '--help'], /^usage: mcpgate version/],
  ];
  for (const [args, want] of cases) {
    const r = spawnSync(binaryPath(), args, { encoding: 'utf8', input: '' });
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, want, args.join(' '));
  }
  // the two policy commands describe different things
  const sim = spawnSync(binaryPath(), ['policy', 'simulate', '--help'], { encoding: 'utf8' }).stdout;
  const val = spawnSync(binaryPath(), ['policy', 'validate', '--help'], { encoding: 'utf8' }).stdout;
  assert.notEqual(sim, val);
});

test('policy command errors name the bad argument and exit 2', () => {
  const cases = [
    [['policy', 'validate', 'p.json', '--type', 'bogus'], /--type 'bogus' is not a policy kind: use identity, resource, trust, session or boundary/],
    [['policy', 'validate', 'p.json', '--type'], /--type needs a value/],
    [['policy', 'validate', 'p.json', '--max-chars', 'lots'], /--max-chars 'lots' is not a number/],
    [['policy', 'validate', 'p.json', '--max-chars', '0'], /--max-chars '0' is not a number/],
    [['policy', 'validate', 'p.json', '--frob'], /unknown option '--frob'/],
    [['policy', 'validate', 'a.json', 'b.json'], /one FILE at a time: 'a\.json' and 'b\.json'/],
    [['policy', 'validate'], /the policy FILE is missing/],
    [['policy', 'simulate', 'case.json'], /unexpected argument 'case\.json' \(the case is read from stdin\)/],
    [['policy', 'simulat'], /unknown command 'simulat': use simulate or validate/],
    [['version', 'now'], /unexpected argument 'now'/],
  ];
  for (const [args, want] of cases) {
    const r = spawnSync(binaryPath(), args, { encoding: 'utf8', input: '' });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, want, args.join(' '));
  }
});

test('serve and credentials errors name the bad argument and exit 2', () => {
  const cases = [
    [['serve', '--bogus'], /unknown option '--bogus'/],
    [['serve', '--bogus', 'x'], /unknown option '--bogus'/],
    [['serve', '--threads'], /--threads needs a value/],
    [['serve', '--threads', '0'], /--threads wants 1 to \d+, got '0'/],
    [['serve', '--log-level', 'loud'], /--log-level wants debug, info, warn, error or off, got 'loud'/],
    [['serve', '--lambda-isolation', 'maybe'], /--lambda-isolation wants auto, sandbox or none, got 'maybe'/],
    [['serve', '--max-body', '12'], /--max-body wants 1024 to 1073741824 bytes, got '12'/],
    [['credentials', '--bogus'], /unknown option '--bogus'/],
    [['credentials', '--bogus', 'x'], /unknown option '--bogus'/],
  ];
  for (const [args, want] of cases) {
    const r = spawnSync(binaryPath(), args, { encoding: 'utf8', input: '' });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, want, args.join(' '));
    assert.doesNotMatch(r.stderr, /or unknown option/, args.join(' '));
  }
});

test('policy validate gives the line and column of a document that is not JSON', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mcpgate-validate-'));
  const file = path.join(dir, 'broken.json');
  writeFileSync(file, '{"Version": "2012-10-17",\n "Statement": [{"Effect": "Allow", "Action": "s3:*" "Resource": "*"}]}');
  const r = spawnSync(binaryPath(), ['policy', 'validate', file, '--type', 'identity'], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stdout, "MalformedPolicyDocument: Syntax errors in policy. (line 2, column 62: '}' expected near '\"Resource\"')\n");
});
