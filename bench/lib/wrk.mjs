// wrk as a load generator for the benchmarks: a Lua script per request shape, and one parsed
// result line per run.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

const LUA_REPORT = `
done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.1f p50_us=%d p99_us=%d errors=%d non2xx=%d\\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
`;

export function luaString(s) {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"';
}

/** Writes a wrk script that sends one fixed request (method, headers, body) and reports. */
export async function writeLua(file, { method = 'GET', headers = {}, body = null }) {
  const lines = [`wrk.method = ${luaString(method)}`];
  if (body != null) lines.push(`wrk.body = ${luaString(body)}`);
  for (const [k, v] of Object.entries(headers)) lines.push(`wrk.headers[${luaString(k)}] = ${luaString(v)}`);
  await writeFile(file, `${lines.join('\n')}\n${LUA_REPORT}`);
  return file;
}

/** Runs wrk for `duration` seconds with `connections`; returns {rps, p50, p99, errors, non2xx}. */
export async function wrk(url, luaFile, { duration = 10, connections = 32 } = {}) {
  const { stdout } = await run('wrk', ['-t', '1', '-c', String(connections), '-d', `${duration}s`,
    '--latency', '-s', luaFile, url], { maxBuffer: 1 << 20 });
  const m = /RESULT rps=([\d.]+) p50_us=(\d+) p99_us=(\d+) errors=(\d+) non2xx=(\d+)/.exec(stdout);
  if (!m) throw new Error(`wrk output not understood:\n${stdout}`);
  return { rps: Number(m[1]), p50: Number(m[2]), p99: Number(m[3]), errors: Number(m[4]), non2xx: Number(m[5]) };
}
