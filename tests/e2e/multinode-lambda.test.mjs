// Lambda code in the store: two nodes on one PostgreSQL database run the same functions. A
// function created through node 1 runs on node 2, which never saw the upload (it unpacks the code
// from the store into its own cache); new code uploaded through one node runs on the other; a
// deleted function's code leaves the store.
//
// Node 2 learns of node 1's writes through the change feed between nodes (and reads the store
// when it starts); the live case changes the code while both run.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import {
  CreateFunctionCommand, DeleteFunctionCommand, GetFunctionConfigurationCommand, InvokeCommand,
  LambdaClient, UpdateFunctionCodeCommand,
} from '@aws-sdk/client-lambda';
import { defaultAccounts, startServer } from './lib/server.mjs';
import { makeClient } from './lib/aws.mjs';
import { freshDatabase, pgAvailable, psql } from './lib/pg.mjs';
import { zipFiles } from './lib/zipfile.mjs';

const A = '111122223333';
const ROLE = `arn:aws:iam::${A}:role/fn-exec`;
const skip = pgAvailable() ? false : 'no PostgreSQL (MCPGATE_TEST_PG unset)';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hexOf = (b64) => Buffer.from(b64, 'base64').toString('hex');
const dec = (p) => JSON.parse(Buffer.from(p).toString());
const trust = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
};
// Bytes that do not compress, the same for the same seed.
function noise(seed, n) {
  const out = Buffer.alloc(n);
  let block = createHash('sha256').update(String(seed)).digest();
  for (let off = 0; off < n; off += block.length) {
    block.copy(out, off);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}
// A handler that says which code it is, past one store chunk (4 MB) zipped
const code = (version) => zipFiles({
  'app.py': `VERSION = ${version}\ndef handler(event, context):\n    return {"version": VERSION, "event": event}\n`,
  'pad.bin': noise(version, 4 * 1024 * 1024 + 4096),
});

async function activeIn(c, name) {
  for (let i = 0; i < 200; i++) {
    const f = await c.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
    if (f.State === 'Active' && f.LastUpdateStatus !== 'InProgress') return f;
    if (f.State === 'Failed') assert.fail(`function ${name} failed: ${f.StateReason}`);
    await sleep(50);
  }
  assert.fail(`function ${name} never became Active`);
}

async function invokeVersion(c, name, event = {}) {
  const r = await c.send(new InvokeCommand({ FunctionName: name, Payload: JSON.stringify(event) }));
  assert.equal(r.FunctionError, undefined, Buffer.from(r.Payload ?? []).toString());
  return dec(r.Payload).version;
}

const cacheOf = async (node) => {
  const dir = path.join(node.dataDir, 'lambda', 'cache', A);
  return existsSync(dir) ? (await readdir(dir)).sort() : [];
};

describe('Lambda code shared by two nodes on PostgreSQL', { skip }, () => {
  let db;
  let accounts;
  let node1;
  let node2;
  let l1;
  let l2;

  const stored = async () => (await psql(
    `SELECT key || ':' || count(*) FROM chunks WHERE kind = 'lambda_code' AND account = '${A}' GROUP BY key ORDER BY key`,
    { uri: db.uri },
  )).split('\n').filter(Boolean);

  before(async () => {
    db = await freshDatabase('lambdacode');
    accounts = defaultAccounts();
    accounts[0].roles = { exec: { name: 'fn-exec', path: '/', assumeRolePolicyDocument: trust } };
    node1 = await startServer({ store: db.uri, accounts });
    l1 = makeClient(LambdaClient, node1, accounts[0].root);
  });

  after(async () => {
    for (const n of [node1, node2]) {
      if (!n) continue;
      const st = await n.stop();
      assert.deepEqual(st, { code: 0, signal: null }, n.stderr().slice(-2000));
    }
    if (db) await db.drop();
  });

  test('created through node 1, run by node 2 from the store', async () => {
    const made = await l1.send(new CreateFunctionCommand({
      FunctionName: 'shared', Role: ROLE, Runtime: 'python3.12', Handler: 'app.handler', Code: { ZipFile: code(1) },
    }));
    await activeIn(l1, 'shared');
    const hex = hexOf(made.CodeSha256);
    // two chunks in the store: the package is past one
    assert.deepEqual(await stored(), [`${hex}:2`]);
    // node 2 starts after the function exists (it reads the store at start)
    node2 = await startServer({ store: db.uri, accounts });
    l2 = makeClient(LambdaClient, node2, accounts[0].root);
    assert.deepEqual(await cacheOf(node2), []);
    assert.equal(await invokeVersion(l2, 'shared', { on: 2 }), 1);
    assert.deepEqual(await cacheOf(node2), [hex]);
    assert.equal(await invokeVersion(l1, 'shared'), 1);
  });

  test('new code through one node runs on the other; the old code leaves the store', async () => {
    const up = await l1.send(new UpdateFunctionCodeCommand({ FunctionName: 'shared', ZipFile: code(2) }));
    await activeIn(l1, 'shared');
    assert.equal(await invokeVersion(l1, 'shared'), 2);
    assert.deepEqual(await stored(), [`${hexOf(up.CodeSha256)}:2`]);
    await node2.restart();
    assert.equal(await invokeVersion(l2, 'shared'), 2);
    // and the other way round
    const back = await l2.send(new UpdateFunctionCodeCommand({ FunctionName: 'shared', ZipFile: code(3) }));
    await activeIn(l2, 'shared');
    assert.equal(await invokeVersion(l2, 'shared'), 3);
    await node1.restart();
    assert.equal(await invokeVersion(l1, 'shared'), 3);
    assert.deepEqual(await stored(), [`${hexOf(back.CodeSha256)}:2`]);
  });

  test('live: node 2 runs node 1\'s new code without a restart', async () => {
    await l1.send(new UpdateFunctionCodeCommand({ FunctionName: 'shared', ZipFile: code(4) }));
    await activeIn(l1, 'shared');
    let v;
    for (let i = 0; i < 50 && v !== 4; i++) {
      v = await invokeVersion(l2, 'shared');
      if (v !== 4) await sleep(100);
    }
    assert.equal(v, 4);
    await activeIn(l2, 'shared');
  });

  test('two functions with the same code share it; it goes with the last of them', async () => {
    const conf = await l1.send(new GetFunctionConfigurationCommand({ FunctionName: 'shared' }));
    const hex = hexOf(conf.CodeSha256);
    assert.equal((await stored()).length, 1);
    const version = await invokeVersion(l1, 'shared');
    const twin = await l1.send(new CreateFunctionCommand({
      FunctionName: 'twin', Role: ROLE, Runtime: 'python3.12', Handler: 'app.handler', Code: { ZipFile: code(version) },
    }));
    assert.equal(twin.CodeSha256, conf.CodeSha256);
    await activeIn(l1, 'twin');
    assert.deepEqual(await stored(), [`${hex}:2`]);
    await l1.send(new DeleteFunctionCommand({ FunctionName: 'shared' }));
    assert.deepEqual(await stored(), [`${hex}:2`]);
    await l1.send(new DeleteFunctionCommand({ FunctionName: 'twin' }));
    assert.deepEqual(await stored(), []);
    assert.equal(await psql(`SELECT count(*) FROM documents WHERE kind = 'lambda_code'`, { uri: db.uri }), '0');
  });

  test('a damaged package: an invocation error in Lambda\'s words, never a crash', async () => {
    await l1.send(new CreateFunctionCommand({
      FunctionName: 'damaged', Role: ROLE, Runtime: 'python3.12', Handler: 'app.handler', Code: { ZipFile: code(5) },
    }));
    await activeIn(l1, 'damaged');
    // the second part overwritten in the database; node 2 starts without the code in its cache
    await psql(`UPDATE chunks SET data = 'garbage' WHERE kind = 'lambda_code' AND part = 1`, { uri: db.uri });
    await node2.restart();
    const err = await l2.send(new InvokeCommand({ FunctionName: 'damaged', Payload: '{}' })).then(
      () => assert.fail('the invocation succeeded'), (e) => e);
    assert.equal(err.name, 'InvalidZipFileException', String(err));
    assert.equal(err.$metadata.httpStatusCode, 502);
    assert.match(err.message, /could not unzip the deployment package: part 2 of 2 of the code package has the wrong size/);
    assert.ok(node2.alive());
    // a part missing altogether
    await psql(`DELETE FROM chunks WHERE kind = 'lambda_code' AND part = 0`, { uri: db.uri });
    await node2.restart();
    const err2 = await l2.send(new InvokeCommand({ FunctionName: 'damaged', Payload: '{}' })).then(
      () => assert.fail('the invocation succeeded'), (e) => e);
    assert.equal(err2.name, 'InvalidZipFileException');
    assert.match(err2.message, /part 1 of 2 of the code package is missing/);
    // new code repairs it
    await l2.send(new UpdateFunctionCodeCommand({ FunctionName: 'damaged', ZipFile: code(6) }));
    await activeIn(l2, 'damaged');
    assert.equal(await invokeVersion(l2, 'damaged'), 6);
    await l2.send(new DeleteFunctionCommand({ FunctionName: 'damaged' }));
    assert.deepEqual(await stored(), []);
  });
});
