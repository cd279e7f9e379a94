// Test harness: starts a real mcpgate process on a free loopback port with a
// generated identities file and a throw-away data directory.
//
//   const gw = await startServer();
//   gw.endpoint            'http://127.0.0.1:PORT'
//   gw.port, gw.dataDir, gw.identitiesFile
//   gw.accounts            [{ id, root: {accessKeyId, secretAccessKey},
//                             users: { dev: {name, path, arn, accessKeyId, secretAccessKey} } }]
//   gw.alive()             true while the process runs
//   gw.stderr()            everything the server wrote on stderr so far
//   await gw.waitStderr(re) the same, once it matches re (a RegExp or a function of the text) or
//                          after 3 s (a thread writes log lines a few ms after they are logged)
//   await gw.stop()        SIGTERM, SIGKILL after 5 s; resolves {code, signal}
//   await gw.restart()     stops the process and starts it again on the same port and data folder
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshDatabase, pgAvailable } from './pg.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..', '..');

export function binaryPath() {
  return process.env.MCPGATE_BIN
    ? path.resolve(process.env.MCPGATE_BIN)
    : path.join(repoRoot, 'build', 'dev', 'mcpgate');
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function randomB32(n) {
  const bytes = randomBytes(n);
  let s = '';
  for (let i = 0; i < n; i++) s += B32[bytes[i] & 31];
  return s;
}

/** An access key id in AWS's shape: AKIA + 16 of [A-Z2-7]. */
export function newAccessKeyId() {
  return 'AKIA' + randomB32(16);
}

/** A 40-character secret access key, like AWS's. */
export function newSecretAccessKey() {
  return randomBytes(30).toString('base64').replace(/\+/g, 'A').replace(/\//g, 'z');
}

export function newKey() {
  return { accessKeyId: newAccessKeyId(), secretAccessKey: newSecretAccessKey() };
}

/** Picks a port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The default hosted identities: two accounts, each with a root key and a user `dev`. */
export function defaultAccounts() {
  return ['111122223333', '444455556666'].map((id) => ({
    id,
    root: newKey(),
    users: {
      dev: { name: 'dev', path: '/', arn: `arn:aws:iam::${id}:user/dev`, ...newKey() },
    },
    roles: {},
  }));
}

/** Turns the harness's account list into the --identities JSON document. */
export function identitiesDocument(accounts) {
  return {
    accounts: accounts.map((a) => ({
      id: a.id,
      rootAccessKeys: [{ accessKeyId: a.root.accessKeyId, secretAccessKey: a.root.secretAccessKey }],
      users: Object.values(a.users).map((u) => ({
        name: u.name,
        path: u.path ?? '/',
        accessKeys: [{ accessKeyId: u.accessKeyId, secretAccessKey: u.secretAccessKey }],
        inlinePolicies: u.inlinePolicies ?? {},
        managedPolicyArns: u.managedPolicyArns ?? [],
      })),
      roles: Object.values(a.roles ?? {}).map((r) => ({
        name: r.name,
        path: r.path ?? '/',
        assumeRolePolicyDocument: r.assumeRolePolicyDocument,
        inlinePolicies: r.inlinePolicies ?? {},
        managedPolicyArns: r.managedPolicyArns ?? [],
      })),
    })),
  };
}

/**
 * Starts the gateway. Options:
 *   accounts   account list (default: defaultAccounts()); edit it to add users/roles/policies
 *   args       extra `serve` arguments, e.g. ['--max-body', '1048576']
 *   env        extra environment variables
 *   timeoutMs  start-up timeout (default 10000)
 *   store      the store's location (--store), e.g. a PostgreSQL URI from lib/pg.mjs freshDatabase().
 *              Without it, MCPGATE_E2E_STORE=pg gives every server a fresh database of its own on
 *              the PostgreSQL of MCPGATE_TEST_PG (dropped at stop(); restart() keeps it), so the
 *              whole suite runs on PostgreSQL; store: 'sqlite' keeps a server on SQLite even then.
 *   stderrFile write the server's stderr to this file instead of a pipe (benchmarks: a pipe read by
 *              this process costs CPU next to the server); gw.stderr() then reads the file
 */
export async function startServer(opts = {}) {
  const bin = binaryPath();
  const accounts = opts.accounts ?? defaultAccounts();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mcpgate-e2e-'));
  const dataDir = path.join(dir, 'data');
  const identitiesFile = path.join(dir, 'identities.json');
  await writeFile(identitiesFile, JSON.stringify(identitiesDocument(accounts), null, 2), { mode: 0o600 });

  // MCPGATE_E2E_STORE=pg: a database of this server's own, dropped when it stops.
  let ownDb = null;
  let store = opts.store === 'sqlite' ? null : opts.store;
  if (!opts.store && onPostgres()) {
    if (!pgAvailable()) throw new Error('MCPGATE_E2E_STORE=pg needs MCPGATE_TEST_PG (a PostgreSQL URI)');
    ownDb = await freshDatabase('e2e');
    store = ownDb.uri;
  }

  const port = await freePort();
  const args = [
    'serve',
    '--listen', `127.0.0.1:${port}`,
    '--data', dataDir,
    '--identities', identitiesFile,
    ...(store ? ['--store', store] : []),
    ...(opts.args ?? []),
  ];
  let piped = '';
  let stdout = '';
  // Every process this server ran (restart() adds one): their sanitizer reports, when
  // ASAN_OPTIONS sends them to files (scripts/test), are part of what stderr() shows.
  const pids = [];
  const readErr = () => (opts.stderrFile ? readFileSync(opts.stderrFile, 'utf8') : piped) + sanitizerReports(pids);
  // The running process (restart() replaces it): child, exited, exitPromise, spawnError.
  let proc = null;

  function launch() {
    const errFd = opts.stderrFile ? openSync(opts.stderrFile, 'a', 0o600) : null;
    const child = spawn(bin, args, {
      cwd: dir,
      env: { ...process.env, ...(opts.env ?? {}) },
      stdio: ['ignore', 'pipe', errFd ?? 'pipe'],
    });
    if (errFd !== null) closeSync(errFd);
    const p = { child, exited: null, spawnError: null, spawnedAt: process.hrtime.bigint() };
    if (child.pid) pids.push(child.pid);
    child.stdout.setEncoding('utf8');
    if (errFd === null) {
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (d) => { piped += d; });
    }
    child.stdout.on('data', (d) => { stdout += d; });
    p.exitPromise = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        p.exited = { code, signal };
        resolve(p.exited);
      });
    });
    child.once('error', (e) => { p.spawnError = e; });
    proc = p;
    return p;
  }

  /** Waits until the process accepts connections; throws (after killing it) when it does not. */
  async function waitUp(p, startTimeout) {
    const t0 = Date.now();
    for (;;) {
      if (p.spawnError) throw new Error(`cannot start ${bin}: ${p.spawnError.message}`);
      if (p.exited) {
        throw new Error(`mcpgate exited during start-up (code ${p.exited.code}, signal ${p.exited.signal}); ` +
          `args: ${args.join(' ')}\n--- stderr ---\n${readErr()}`);
      }
      if (await canConnect(port)) return;
      if (Date.now() - t0 > startTimeout) {
        p.child.kill('SIGKILL');
        await p.exitPromise;
        throw new Error(`mcpgate did not accept connections on port ${port} within ${startTimeout} ms\n` +
          `--- stderr ---\n${readErr()}`);
      }
      await sleep(50);
    }
  }

  /** SIGTERM, SIGKILL after 5 s; resolves the exit status. */
  async function terminate(p) {
    if (!p.exited) {
      p.child.kill('SIGTERM');
      const killer = setTimeout(() => { if (!p.exited) p.child.kill('SIGKILL'); }, 5000);
      await p.exitPromise;
      clearTimeout(killer);
    }
    return p.exited;
  }

  const cleanup = async () => {
    await rm(dir, { recursive: true, force: true });
    if (ownDb) await ownDb.drop().catch(() => {});
  };
  try {
    await waitUp(launch(), opts.timeoutMs ?? 10000);
  } catch (e) {
    await cleanup();
    throw e;
  }

  let stopping = null;
  async function stop() {
    if (!stopping) {
      stopping = (async () => {
        const st = await terminate(proc);
        await cleanup();
        return st;
      })();
    }
    return stopping;
  }

  const gw = {
    endpoint: `http://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    pid: proc.child.pid,
    dataDir,
    identitiesFile,
    accounts,
    args,
    /** The store's location (--store), or null for SQLite in dataDir. */
    store: store ?? null,
    stop,
    /**
     * Stops the process (SIGTERM) and starts a new one with the same arguments, port and data
     * folder. Options: timeoutMs (start-up, default 10000), wait (default true: resolve once it
     * accepts connections; false: right after the spawn). Resolves { stopped (the old process's
     * exit status), spawnedAt (process.hrtime.bigint() just before the spawn) }; gw.pid is the
     * new process's.
     */
    restart: async ({ timeoutMs = 10000, wait = true } = {}) => {
      if (stopping) throw new Error('restart after stop');
      const stopped = await terminate(proc);
      const p = launch();
      gw.pid = p.child.pid;
      if (wait) await waitUp(p, timeoutMs);
      return { stopped, spawnedAt: p.spawnedAt };
    },
    alive: () => proc.exited === null,
    exitStatus: () => proc.exited,
    stderr: readErr,
    waitStderr: async (pattern, ms = 3000) => {
      const ok = () => (typeof pattern === 'function' ? pattern(readErr()) : pattern.test(readErr()));
      const t0 = Date.now();
      while (!ok() && proc.exited === null && Date.now() - t0 < ms) await sleep(5);
      return readErr();
    },
    stdout: () => stdout,
  };
  return gw;
}

/**
 * What the sanitizers reported for these processes when ASAN_OPTIONS names a log_path (ASan
 * then writes LOG_PATH.PID instead of stderr), or ''.
 */
export function sanitizerReports(pidList) {
  const base = /(?:^|:)log_path=([^:]+)/.exec(process.env.ASAN_OPTIONS ?? '')?.[1];
  if (!base) return '';
  let out = '';
  for (const pid of pidList) {
    const f = `${base}.${pid}`;
    if (existsSync(f)) out += `\n--- sanitizer report ${f} ---\n${readFileSync(f, 'utf8')}`;
  }
  return out;
}

/** True when the suite runs every server on PostgreSQL (MCPGATE_E2E_STORE=pg). */
export function onPostgres() {
  return process.env.MCPGATE_E2E_STORE === 'pg';
}

/**
 * For a test that starts several servers one after the other on the same state (the same
 * --data folder on SQLite): on PostgreSQL (MCPGATE_E2E_STORE=pg) a database they share. Resolves
 * { opts, drop() }: spread opts into each startServer call ({} on SQLite, { store } on
 * PostgreSQL); drop() removes the database once the last server stopped.
 */
export async function sharedStore() {
  if (!onPostgres()) return { opts: {}, drop: async () => {} };
  const db = await freshDatabase('e2e');
  return { opts: { store: db.uri }, drop: () => db.drop() };
}

/** All secrets of an account list, for "never logged" checks. */
export function allSecrets(accounts) {
  const out = [];
  for (const a of accounts) {
    out.push(a.root.secretAccessKey);
    for (const u of Object.values(a.users)) out.push(u.secretAccessKey);
  }
  return out;
}
