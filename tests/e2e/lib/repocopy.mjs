// A temporary copy of the parts of the repository that scripts/run uses (scripts/, runtimes/,
// models/, tests/e2e with a link to its node_modules), so that tests run scripts/run the way a
// user does, from the top folder, without touching the repository's own ./mcpgate-data.
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { binaryPath, repoRoot } from './server.mjs';

export function repoCopy() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mcpgate-run-'));
  for (const d of ['scripts', 'runtimes', 'models']) {
    // scripts/node22/node_modules (Node.js 22, when an earlier run installed it) is left out:
    // a copy installs its own, as a fresh clone does.
    cpSync(path.join(repoRoot, d), path.join(dir, d), {
      recursive: true, filter: (src) => !src.split(path.sep).includes('node_modules'),
    });
  }
  const e2e = path.join(repoRoot, 'tests', 'e2e');
  const to = path.join(dir, 'tests', 'e2e');
  for (const f of readdirSync(e2e)) {
    if (f === 'node_modules') continue;
    cpSync(path.join(e2e, f), path.join(to, f), { recursive: true });
  }
  symlinkSync(path.join(e2e, 'node_modules'), path.join(to, 'node_modules'));
  return dir;
}

export function removeCopy(dir) {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Starts scripts/run in `cwd` (its own process group) with MCPGATE_BIN set to the binary under
 * test. Returns {child, output(), banner (a promise resolved when the "Stop the gateway" banner
 * is out, or rejected when scripts/run exits first), stop() (SIGTERM to scripts/run, as `kill`
 * does; resolves {code, signal})}.
 */
export function startRun(cwd, args = [], env = {}) {
  const child = spawn('scripts/run', args, {
    cwd,
    env: { ...process.env, MCPGATE_BIN: binaryPath(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  let onBanner;
  const banner = new Promise((resolve, reject) => { onBanner = { resolve, reject }; });
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      setTimeout(() => {
        onBanner.reject(new Error(`scripts/run exited (code ${code}) before serving:\n${out}`));
        resolve({ code, signal });
      }, 100);
    });
  });
  const onData = (d) => {
    out += d;
    if (/Stop the gateway with Ctrl-C/.test(out)) onBanner.resolve(out);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  banner.catch(() => {});
  return {
    child,
    output: () => out,
    banner,
    exited,
    // SIGTERM to scripts/run (its trap stops the gateway cleanly), then to its whole process
    // group if it has not exited within 10 s.
    stop: async () => {
      try { process.kill(child.pid, 'SIGTERM'); } catch { /* already gone */ }
      const t = setTimeout(() => {
        try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
      }, 10000);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
}
