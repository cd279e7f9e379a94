// tools/list with a bearer token at a CUSTOM_JWT gateway against the same call SigV4-signed at an
// AWS_IAM gateway, one server, same run, wrk. The token (ES256, from a small issuer this script
// runs) and the signed request are made once and replayed, so after the first request the keys
// are cached and the token is one the loop has verified before. Started by bench/run.
// Environment: MCPGATE_BIN, DURATION (s, default 5), CONNECTIONS (default 32), ROUNDS (default 3:
// the two runs alternate, the median of the per-round ratios is reported), TOOLS (default 10).
import crypto from 'node:crypto';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { signRequest } from '../tests/e2e/lib/aws.mjs';
import { createEchoFunction, createGateway, createLambdaTarget, startMcpServer } from '../tests/e2e/lib/mcp.mjs';
import { writeLua, wrk as wrkRun } from './lib/wrk.mjs';

const DURATION = Number(process.env.DURATION ?? 5);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 32);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const NTOOLS = Number(process.env.TOOLS ?? 10);

const dir = await mkdtemp(path.join(os.tmpdir(), 'mcpgate-bench-'));
const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const idp = http.createServer((req, res) => {
  const base = `http://127.0.0.1:${idp.address().port}`;
  res.setHeader('content-type', 'application/json');
  if (req.url === '/.well-known/openid-configuration') res.end(JSON.stringify({ issuer: base, jwks_uri: `${base}/jwks` }));
  else res.end(JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'bench', use: 'sig', alg: 'ES256' }] }));
});
await new Promise((r) => idp.listen(0, '127.0.0.1', r));
const issuer = `http://127.0.0.1:${idp.address().port}`;
let gw;
try {
  gw = await startMcpServer({ args: ['--threads', '1', '--log-level', 'warn'] });
  const A = gw.accounts[0];
  const fn = await createEchoFunction(gw, A);
  const tools = Array.from({ length: NTOOLS }, (_, i) => ({
    name: `tool_${i}`, description: `Benchmark tool number ${i}`,
    inputSchema: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
  }));
  const iam = await createGateway(gw, A);
  await createLambdaTarget(gw, A, iam.gatewayId, 'bench', fn, tools);
  const jwt = await createGateway(gw, A, {
    authorizerType: 'CUSTOM_JWT',
    authorizerConfiguration: { customJWTAuthorizer: {
      discoveryUrl: `${issuer}/.well-known/openid-configuration`, allowedClients: ['bench'], allowedScopes: ['mcp'] } },
  });
  await createLambdaTarget(gw, A, jwt.gatewayId, 'bench', fn, tools);

  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const si = `${b64({ alg: 'ES256', kid: 'bench', typ: 'at+jwt' })}.${b64({ iss: issuer, sub: 'bench', client_id: 'bench', scope: 'mcp', iat: now, exp: now + 3600 })}`;
  const token = `${si}.${crypto.sign('sha256', Buffer.from(si), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;

  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
  const common = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const signed = await signRequest(gw, A.root, {
    path: new URL(iam.gatewayUrl).pathname, service: 'bedrock-agentcore', body, signContentLength: true, headers: common,
  });
  const bearer = { ...common, authorization: `Bearer ${token}` };
  for (const [url, headers] of [[signed.url, signed.headers], [jwt.gatewayUrl, bearer]]) {
    const r = await fetch(url, { method: 'POST', headers, body });
    const j = await r.json();
    if (r.status !== 200 || j.result?.tools?.length !== NTOOLS) throw new Error(`tools/list failed: ${r.status} ${JSON.stringify(j).slice(0, 300)}`);
  }
  const sigLua = await writeLua(path.join(dir, 'sig.lua'), { method: 'POST', headers: signed.headers, body });
  const jwtLua = await writeLua(path.join(dir, 'jwt.lua'), { method: 'POST', headers: bearer, body });
  const wrk = (url, lua) => wrkRun(url, lua, { duration: DURATION, connections: CONNECTIONS });
  const rounds = [];
  for (let i = 0; i < ROUNDS; i++) {
    const s = await wrk(signed.url, sigLua);
    const b = await wrk(jwt.gatewayUrl, jwtLua);
    rounds.push({ s, b, ratio: b.rps / s.rps });
    console.log(`round ${i + 1}: SigV4 ${s.rps.toFixed(0)} req/s (p50 ${s.p50} us, p99 ${s.p99} us); ` +
      `bearer ${b.rps.toFixed(0)} req/s (p50 ${b.p50} us, p99 ${b.p99} us); ratio ${(b.rps / s.rps).toFixed(2)}`);
  }
  rounds.sort((x, y) => x.ratio - y.ratio);
  const { s, b, ratio } = rounds[Math.floor(rounds.length / 2)];
  console.log('median round:');
  console.log(`SigV4 tools/list (AWS_IAM)     : ${s.rps.toFixed(0)} req/s, p50 ${s.p50} us, p99 ${s.p99} us, errors ${s.errors}, non-2xx ${s.non2xx}`);
  console.log(`bearer tools/list (CUSTOM_JWT) : ${b.rps.toFixed(0)} req/s, p50 ${b.p50} us, p99 ${b.p99} us, errors ${b.errors}, non-2xx ${b.non2xx}`);
  console.log(`ratio bearer / SigV4 : ${ratio.toFixed(2)}`);
  console.log(`(1 server thread, ${CONNECTIONS} connections, ${ROUNDS} rounds of ${DURATION} s, ${NTOOLS} tools, ES256 token, keys cached)`);
  if (b.non2xx || b.errors || s.non2xx || s.errors) process.exitCode = 1;
} finally {
  await gw?.stop();
  idp.close();
  await rm(dir, { recursive: true, force: true });
}
