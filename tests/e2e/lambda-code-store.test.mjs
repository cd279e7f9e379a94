// Lambda code in the store, one node on SQLite: the node's cache of unpacked code can go (the
// code comes back from the store), and a data folder of an older mcpgate (the code only in
// DATA/lambda/ACCOUNT/NAME/<sha256>.zip) is copied into the store at start.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  CreateFunctionCommand, GetFunctionConfigurationCommand, InvokeCommand, LambdaClient,
} from '@aws-sdk/client-lambda';
import { defaultAccounts, startServer } from './lib/server.mjs';
import { makeClient } from './lib/aws.mjs';
import { zipFiles } from './lib/zipfile.mjs';

const A = '111122223333';
const ROLE = `arn:aws:iam::${A}:role/fn-exec`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const trust = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
};
const code = (tag) => zipFiles({ 'app.py': `TAG = ${JSON.stringify(tag)}\ndef handler(event, context):\n    return {"tag": TAG}\n` });
const hasSqlite = spawnSync('sqlite3', ['-version']).status === 0;

describe('Lambda code in the store, one node on SQLite', () => {
  let gw;
  let lc;
  const sql = (q) => {
    const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', path.join(gw.dataDir, 'mcpgate.db'), q], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };

  async function activeIn(name) {
    for (let i = 0; i < 100; i++) {
      const f = await lc.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
      if (f.State === 'Active' && f.LastUpdateStatus !== 'InProgress') return f;
      await sleep(50);
    }
    assert.fail(`function ${name} never became Active`);
  }

  async function tagOf(name) {
    const r = await lc.send(new InvokeCommand({ FunctionName: name, Payload: '{}' }));
    assert.equal(r.FunctionError, undefined, Buffer.from(r.Payload ?? []).toString());
    return JSON.parse(Buffer.from(r.Payload).toString()).tag;
  }

  before(async () => {
    const accounts = defaultAccounts();
    accounts[0].roles = { exec: { name: 'fn-exec', path: '/', assumeRolePolicyDocument: trust } };
    // SQLite even when the suite runs on PostgreSQL (MCPGATE_E2E_STORE=pg): these cases read
    // and edit DATA/mcpgate.db; the PostgreSQL side is the multi-node case below
    gw = await startServer({ accounts, store: 'sqlite' });
    lc = makeClient(LambdaClient, gw, accounts[0].root);
  });

  after(async () => {
    if (gw) {
      const st = await gw.stop();
      assert.deepEqual(st, { code: 0, signal: null }, gw.stderr().slice(-2000));
    }
  });

  test('the node\'s code cache deleted: the code comes back from the store', async () => {
    const f = await lc.send(new CreateFunctionCommand({
      FunctionName: 'cached', Role: ROLE, Runtime: 'python3.12', Handler: 'app.handler', Code: { ZipFile: code('one') },
    }));
    await activeIn('cached');
    assert.equal(await tagOf('cached'), 'one');
    const hex = Buffer.from(f.CodeSha256, 'base64').toString('hex');
    const cache = path.join(gw.dataDir, 'lambda', 'cache', A);
    assert.deepEqual(await readdir(cache), [hex]);
    await rm(path.join(gw.dataDir, 'lambda', 'cache'), { recursive: true, force: true });
    await gw.restart();
    assert.equal(await tagOf('cached'), 'one');
    assert.deepEqual(await readdir(cache), [hex]);
  });

  test('an older data folder: its code goes into the store at start, once', { skip: hasSqlite ? false : 'sqlite3 command not installed' }, async () => {
    const zip = code('legacy');
    const hex = createHash('sha256').update(zip).digest('hex');
    await lc.send(new CreateFunctionCommand({
      FunctionName: 'legacy', Role: ROLE, Runtime: 'python3.12', Handler: 'app.handler', Code: { ZipFile: zip },
    }));
    await activeIn('legacy');
    // make it look like an older mcpgate's folder: the package on disk only
    sql(`DELETE FROM chunks WHERE key = '${hex}'; DELETE FROM documents WHERE kind = 'lambda_code' AND key = '${hex}';`);
    await rm(path.join(gw.dataDir, 'lambda', 'cache', A, hex), { recursive: true, force: true });
    const old = path.join(gw.dataDir, 'lambda', A, 'legacy');
    await mkdir(old, { recursive: true, mode: 0o700 });
    await writeFile(path.join(old, `${hex}.zip`), zip, { mode: 0o600 });
    await writeFile(path.join(old, 'leftover'), 'x');
    await gw.restart();
    assert.equal(sql(`SELECT count(*) FROM chunks WHERE kind = 'lambda_code' AND key = '${hex}'`), '1');
    assert.equal(await tagOf('legacy'), 'legacy');
    assert.ok(!existsSync(path.join(gw.dataDir, 'lambda', A)));
    assert.match(gw.stderr(), /function 111122223333\/legacy: code copied into the store/);
    // a second start copies nothing
    const before = gw.stderr().split('code copied into the store').length;
    await gw.restart();
    assert.equal(gw.stderr().split('code copied into the store').length, before);
    assert.equal(await tagOf('legacy'), 'legacy');
    assert.equal(await tagOf('cached'), 'one');
  });
});
