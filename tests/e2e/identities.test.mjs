// The identities file is the source of truth for what came from it: keys, users and roles it no
// longer lists are removed at start, the built-in test / test key exists only while no file is
// given, and entities created through the API are kept. Each server here reuses one data folder
// across restarts, so the harness's startServer (a fresh folder each time) is not used.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { GetCallerIdentityCommand, AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import {
  CreateAccessKeyCommand, CreateUserCommand, IAMClient, ListUsersCommand,
} from '@aws-sdk/client-iam';
import { binaryPath, freePort, identitiesDocument, newKey } from './lib/server.mjs';
import { makeClient } from './lib/aws.mjs';

const ACCOUNT = '111122223333';
const TEST_KEY = { accessKeyId: 'test', secretAccessKey: 'test' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function canConnect(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (ok) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(500, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Starts `mcpgate serve` on dataDir; listen defaults to 127.0.0.1. Clients always connect to
 *  127.0.0.1 (a server on 0.0.0.0 is reachable there too). */
async function serve(dataDir, { identities = null, listenHost = '127.0.0.1' } = {}) {
  const port = await freePort();
  const args = ['serve', '--listen', `${listenHost}:${port}`, '--data', dataDir];
  if (identities) args.push('--identities', identities);
  const child = spawn(binaryPath(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { stderr += d; });
  let exited = null;
  const exitPromise = new Promise((resolve) => child.once('exit', (code, signal) => {
    exited = { code, signal };
    resolve(exited);
  }));
  const t0 = Date.now();
  while (!(await canConnect(port))) {
    if (exited) throw new Error(`mcpgate exited (code ${exited.code}): ${stderr}`);
    if (Date.now() - t0 > 10000) {
      child.kill('SIGKILL');
      throw new Error(`mcpgate did not start: ${stderr}`);
    }
    await sleep(50);
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stderr: () => stderr,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => { if (!exited) child.kill('SIGKILL'); }, 5000);
        await exitPromise;
        clearTimeout(killer);
      }
      return exited;
    },
  };
}

async function whoami(gw, key) {
  const r = await makeClient(STSClient, gw, key).send(new GetCallerIdentityCommand({}));
  return r.Arn;
}

async function refused(promise, code) {
  try {
    await promise;
  } catch (e) {
    assert.equal(e.name, code, `expected ${code}, got ${e.name}: ${e.message}`);
    return e;
  }
  assert.fail(`the call succeeded but should have failed with ${code}`);
}

const trustAccount = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }],
};
const allow = (action) => ({
  Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: action, Resource: '*' }],
});

function accounts({ root, dev, withRole }) {
  const a = {
    id: ACCOUNT,
    root,
    users: {},
    roles: {},
  };
  if (dev) {
    a.users.dev = {
      name: 'dev', path: '/', ...dev,
      inlinePolicies: { assume: allow('sts:AssumeRole') },
    };
  }
  if (withRole) {
    a.roles.reader = {
      name: 'reader', path: '/', assumeRolePolicyDocument: trustAccount,
      inlinePolicies: { list: allow('iam:ListUsers') },
    };
  }
  return [a];
}

describe('identities file as the source of truth', () => {
  let dir;
  let dataDir;
  let idFile;
  let gw = null;
  const root1 = newKey();
  const root2 = newKey();
  const dev = newKey();
  let apiKey;
  let session;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mcpgate-identities-'));
    dataDir = path.join(dir, 'data');
    idFile = path.join(dir, 'identities.json');
  });
  after(async () => {
    if (gw) await gw.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const writeIdentities = (acc) =>
    writeFile(idFile, JSON.stringify(identitiesDocument(acc)), { mode: 0o600 });

  test('without a file, test / test is the loopback root of 000000000000', async () => {
    gw = await serve(dataDir);
    assert.equal(await whoami(gw, TEST_KEY), 'arn:aws:iam::000000000000:root');
    await gw.stop();
    gw = null;
  });

  test('a restart with a file on a non-loopback address drops test / test', async () => {
    await writeIdentities(accounts({ root: root1, dev, withRole: true }));
    gw = await serve(dataDir, { identities: idFile, listenHost: '0.0.0.0' });
    await refused(whoami(gw, TEST_KEY), 'InvalidClientTokenId');
    assert.equal(await whoami(gw, root1), `arn:aws:iam::${ACCOUNT}:root`);
    assert.equal(await whoami(gw, dev), `arn:aws:iam::${ACCOUNT}:user/dev`);
    assert.match(gw.stderr(), /removed access key test of account 000000000000/);
  });

  test('API-created users and a role session are set up', async () => {
    const iam = makeClient(IAMClient, gw, root1);
    await iam.send(new CreateUserCommand({ UserName: 'apiuser' }));
    const k = await iam.send(new CreateAccessKeyCommand({ UserName: 'apiuser' }));
    apiKey = { accessKeyId: k.AccessKey.AccessKeyId, secretAccessKey: k.AccessKey.SecretAccessKey };
    const r = await makeClient(STSClient, gw, dev).send(new AssumeRoleCommand({
      RoleArn: `arn:aws:iam::${ACCOUNT}:role/reader`, RoleSessionName: 's1',
    }));
    session = {
      accessKeyId: r.Credentials.AccessKeyId,
      secretAccessKey: r.Credentials.SecretAccessKey,
      sessionToken: r.Credentials.SessionToken,
    };
    const users = await makeClient(IAMClient, gw, session).send(new ListUsersCommand({}));
    assert.ok(users.Users.some((u) => u.UserName === 'dev'));
    await gw.stop();
    gw = null;
  });

  test('rotating the root key, removing a user and a role: the old credentials stop working', async () => {
    await writeIdentities(accounts({ root: root2, dev: null, withRole: false }));
    gw = await serve(dataDir, { identities: idFile });
    await refused(whoami(gw, root1), 'InvalidClientTokenId');
    assert.equal(await whoami(gw, root2), `arn:aws:iam::${ACCOUNT}:root`);
    await refused(whoami(gw, dev), 'InvalidClientTokenId');
    // the session of the removed role authenticates but is denied everything
    await refused(makeClient(IAMClient, gw, session).send(new ListUsersCommand({})), 'AccessDenied');
    // what the API created is untouched
    assert.equal(await whoami(gw, apiKey), `arn:aws:iam::${ACCOUNT}:user/apiuser`);
    const users = await makeClient(IAMClient, gw, root2).send(new ListUsersCommand({}));
    assert.deepEqual(users.Users.map((u) => u.UserName), ['apiuser']);
    await refused(whoami(gw, TEST_KEY), 'InvalidClientTokenId');
    await gw.stop();
    gw = null;
  });

  test('a start without the file brings back only the loopback test key', async () => {
    gw = await serve(dataDir);
    assert.equal(await whoami(gw, TEST_KEY), 'arn:aws:iam::000000000000:root');
    await gw.stop();
    gw = await serve(dataDir, { identities: idFile });
    await refused(whoami(gw, TEST_KEY), 'InvalidClientTokenId');
    assert.equal(await whoami(gw, root2), `arn:aws:iam::${ACCOUNT}:root`);
    await gw.stop();
    gw = null;
  });

  test('a store written before provenance was kept loses its test key too', async (t) => {
    if (spawnSync('sqlite3', ['-version']).status !== 0) {
      t.skip('sqlite3 command not installed');
      return;
    }
    const legacy = path.join(dir, 'legacy');
    gw = await serve(legacy);
    await gw.stop();
    gw = null;
    const db = path.join(legacy, 'mcpgate.db');
    const r = spawnSync('sqlite3', [db, "DELETE FROM meta WHERE key = 'identities.provenance'; " +
      "UPDATE documents SET doc = json_remove(doc, '$.loopbackOnly') WHERE kind = 'access_key'"]);
    assert.equal(r.status, 0, String(r.stderr));
    gw = await serve(legacy, { identities: idFile, listenHost: '0.0.0.0' });
    await refused(whoami(gw, TEST_KEY), 'InvalidClientTokenId');
    await gw.stop();
    gw = null;
  });

  test('the well-known test / test key cannot be given in a file', async () => {
    const bad = path.join(dir, 'bad.json');
    const doc = identitiesDocument(accounts({ root: TEST_KEY, dev: null, withRole: false }));
    await writeFile(bad, JSON.stringify(doc), { mode: 0o600 });
    const r = spawnSync(binaryPath(), ['serve', '--listen', '127.0.0.1:1', '--data',
      path.join(dir, 'bad'), '--identities', bad], { encoding: 'utf8', timeout: 10000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /well-known test \/ test key/);
  });
});
