// Several mcpgate nodes on one PostgreSQL database behind nginx, as docs/deploy.md sets them up.
//
//   const cl = await startCluster({ nodes: 2, accounts });
//   cl.endpoint            'http://127.0.0.1:PORT': nginx, round robin over the nodes
//   cl.nodes               [startServer handles]: each has its own endpoint, restart(), stop(),
//                          pid (process.kill(node.pid, 'SIGKILL') kills it without warning)
//   cl.db                  { name, uri }: the database the nodes share
//   cl.accounts            the identities every node was started with
//   cl.nginxConf           the configuration nginx runs (docs/deploy.md's block, localized)
//   cl.nginxLog()          nginx's error log so far
//   await cl.stop()        nginx, then the nodes; drops the database
//
// The nginx configuration is the block of docs/deploy.md marked for it, with the example node
// addresses replaced by the nodes' and `listen 80` by a free loopback port, wrapped in a
// top-level configuration whose pid file, logs and temporary folders are in a temporary folder,
// run in the foreground (`daemon off`). It works as root (the workers run as root too) and as
// another user. nginx is Debian's /usr/sbin/nginx (scripts/deps installs it).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freshDatabase } from './pg.mjs';
import { defaultAccounts, freePort, repoRoot, startServer } from './server.mjs';

export const NGINX = process.env.MCPGATE_NGINX ?? '/usr/sbin/nginx';
export const DEPLOY_DOC = path.join(repoRoot, 'docs', 'deploy.md');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The nginx block of docs/deploy.md (the fenced ```nginx block after its marker comment). */
export function deployNginxBlock(doc = readFileSync(DEPLOY_DOC, 'utf8')) {
  const at = doc.indexOf('<!-- the nginx configuration:');
  if (at < 0) throw new Error(`${DEPLOY_DOC}: no "<!-- the nginx configuration:" marker`);
  const m = /```nginx\n([\s\S]*?)```/.exec(doc.slice(at));
  if (!m) throw new Error(`${DEPLOY_DOC}: no \`\`\`nginx block after the marker`);
  return m[1];
}

/**
 * The doc's block for these nodes: its `server ADDRESS:4777 ...;` lines of the upstream become
 * one per node (the same parameters), `listen 80;` becomes `listen 127.0.0.1:PORT;`.
 */
export function localizeNginxBlock(block, nodePorts, listenPort) {
  const serverLine = /^(\s*server\s+)\d+\.\d+\.\d+\.\d+:\d+(\s[^\n]*|;)$/;
  const out = [];
  let upstreams = 0;
  let listens = 0;
  for (const line of block.split('\n')) {
    const m = serverLine.exec(line);
    if (m) {
      // the first such line stands for every node; the others go
      if (upstreams++ === 0) for (const p of nodePorts) out.push(`${m[1]}127.0.0.1:${p}${m[2]}`);
    } else if (/^\s*listen 80;$/.test(line)) {
      listens++;
      out.push(line.replace('listen 80;', `listen 127.0.0.1:${listenPort};`));
    } else {
      out.push(line);
    }
  }
  if (upstreams === 0) throw new Error('the nginx block has no upstream `server ADDRESS:PORT ...;` line');
  if (listens !== 1) throw new Error('the nginx block needs exactly one `listen 80;` line');
  return out.join('\n');
}

/** The top-level nginx.conf around the http-level block: everything nginx writes goes in dir. */
export function nginxConf(block, dir) {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const indented = block.replace(/^(?=.)/gm, '    ');
  return `# written by tests/e2e/lib/cluster.mjs
${root ? 'user root;\n' : ''}daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events {
    worker_connections 1024;
}
http {
    access_log ${dir}/access.log;
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;

${indented}}
`;
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

/** Starts nginx in the foreground with this configuration; resolves { stop(), log(), pid }. */
export async function startNginx(conf, dir, port, { timeoutMs = 10000 } = {}) {
  if (!existsSync(NGINX)) {
    throw new Error(`${NGINX} is missing: scripts/deps installs Debian's nginx (or set MCPGATE_NGINX)`);
  }
  const confFile = path.join(dir, 'nginx.conf');
  await writeFile(confFile, conf);
  let out = '';
  const child = spawn(NGINX, ['-p', dir, '-c', confFile, '-e', path.join(dir, 'error.log')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  let exited = null;
  const exitPromise = new Promise((resolve) => child.once('exit', (code, signal) => {
    exited = { code, signal };
    resolve(exited);
  }));
  let spawnError = null;
  child.once('error', (e) => { spawnError = e; });
  const log = () => {
    try {
      return readFileSync(path.join(dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  const t0 = Date.now();
  for (;;) {
    if (spawnError) throw new Error(`cannot start ${NGINX}: ${spawnError.message}`);
    if (exited) throw new Error(`nginx exited at start-up (${JSON.stringify(exited)}): ${out}\n${log()}`);
    if (await canConnect(port)) break;
    if (Date.now() - t0 > timeoutMs) {
      child.kill('SIGKILL');
      throw new Error(`nginx did not listen on ${port} within ${timeoutMs} ms: ${out}\n${log()}`);
    }
    await sleep(50);
  }
  return {
    pid: child.pid,
    log,
    /** SIGTERM (fast shutdown), SIGKILL after 5 s. */
    stop: async () => {
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

/**
 * Starts `nodes` mcpgate nodes (default 2) on one fresh database of the test PostgreSQL
 * (MCPGATE_TEST_PG), every one with the same identities (`accounts`, default defaultAccounts())
 * and --public-url the nginx endpoint, and nginx in front. The first node starts alone (it runs
 * the migrations and loads the identities), the others then together. Options: args and env
 * (every node's extra `serve` arguments and environment), timeoutMs (a node's start-up).
 */
export async function startCluster(opts = {}) {
  const n = opts.nodes ?? 2;
  const accounts = opts.accounts ?? defaultAccounts();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mcpgate-cluster-'));
  const db = await freshDatabase('cluster');
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const nodes = [];
  let nginx = null;
  const cleanup = async () => {
    await nginx?.stop().catch(() => {});
    await Promise.all(nodes.map((x) => x.stop().catch(() => {})));
    await db.drop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const nodeOpts = {
      accounts,
      store: db.uri,
      args: ['--public-url', endpoint, ...(opts.args ?? [])],
      env: opts.env,
      timeoutMs: opts.timeoutMs ?? 20000,
    };
    nodes.push(await startServer(nodeOpts));
    const rest = await Promise.allSettled(Array.from({ length: n - 1 }, () => startServer(nodeOpts)));
    for (const r of rest) if (r.status === 'fulfilled') nodes.push(r.value);
    const bad = rest.find((r) => r.status === 'rejected');
    if (bad) throw bad.reason;
    const block = localizeNginxBlock(deployNginxBlock(), nodes.map((x) => x.port), port);
    const conf = nginxConf(block, dir);
    nginx = await startNginx(conf, dir, port);
    return {
      endpoint,
      port,
      nodes,
      db: { name: db.name, uri: db.uri },
      accounts,
      nginxConf: conf,
      nginxLog: nginx.log,
      stop: cleanup,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
