// The AWS service models mcpgate serves, read from the repository (models/ and
// models/server-only/), and what the model-driven tests build from them: minimal valid inputs
// (required members only, strings within their length bounds and, where a candidate fits,
// their pattern) and raw SigV4 requests for operations the SDK cannot be used for plainly
// (streaming input, event-stream output).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './server.mjs';
import { buildQuery, rfc3986, signRequest } from './aws.mjs';

/** The five served models: where each lives in the repository and the SDK package for it. */
export const SERVICES = [
  { name: 'bedrock-agentcore-control', dir: 'models/bedrock-agentcore-control',
    pkg: '@aws-sdk/client-bedrock-agentcore-control', client: 'BedrockAgentCoreControlClient' },
  { name: 'bedrock-agentcore', dir: 'models/bedrock-agentcore',
    pkg: '@aws-sdk/client-bedrock-agentcore', client: 'BedrockAgentCoreClient' },
  { name: 'iam', dir: 'models/server-only/iam', pkg: '@aws-sdk/client-iam', client: 'IAMClient' },
  { name: 'sts', dir: 'models/server-only/sts', pkg: '@aws-sdk/client-sts', client: 'STSClient' },
  { name: 'lambda', dir: 'models/server-only/lambda', pkg: '@aws-sdk/client-lambda', client: 'LambdaClient' },
];

/** The path of a service's service-2.json (newest API version folder), or null. */
export function modelPath(svc) {
  const dir = path.join(repoRoot, svc.dir);
  if (!existsSync(dir)) return null;
  const versions = readdirSync(dir).filter((v) => /^\d{4}-\d{2}-\d{2}$/.test(v)).sort();
  for (const v of versions.reverse()) {
    const f = path.join(dir, v, 'service-2.json');
    if (existsSync(f)) return f;
  }
  return null;
}

export function loadModel(svc) {
  const f = modelPath(svc);
  return f ? JSON.parse(readFileSync(f, 'utf8')) : null;
}

const A = '111122223333';

// Strings tried, in order, against a member's pattern and length bounds.
const CANDIDATES = [
  'a', 'abc', 'a1', 'A', 'Aa1', '1', '0', '12', 'abc-123', 'abcdefghij', 'abcdefghij1234567890',
  A, 'us-east-1', 'a.b', 'a/b', '/', '/a/', 'a@example.com', 'https://example.com',
  'https://example.com/a', '2012-10-17', '$LATEST', 'x-y', 'a:b', 'a_b',
  'AKIAAAAAAAAAAAAAAAAA', 'ASIAAAAAAAAAAAAAAAAA',
  `arn:aws:iam::${A}:role/a`, `arn:aws:iam::${A}:user/a`, `arn:aws:iam::${A}:policy/a`,
  `arn:aws:iam::${A}:oidc-provider/example.com`, `arn:aws:iam::${A}:saml-provider/a`,
  `arn:aws:lambda:us-east-1:${A}:function:a`, `arn:aws:lambda:us-east-1:${A}:layer:a`,
  `arn:aws:lambda:us-east-1:${A}:layer:a:1`, `arn:aws:lambda:us-east-1:${A}:code-signing-config:csc-aaaaaaaaaaaaaaaaa`,
  `arn:aws:bedrock-agentcore:us-east-1:${A}:gateway/a`, `arn:aws:bedrock-agentcore:us-east-1:${A}:runtime/a`,
  `arn:aws:bedrock-agentcore:us-east-1:${A}:memory/a`, `arn:aws:kms:us-east-1:${A}:key/a`,
  `arn:aws:s3:::a`, `arn:aws:sqs:us-east-1:${A}:a`, `arn:aws:secretsmanager:us-east-1:${A}:secret:a`,
  'arn:aws:a:us-east-1:111122223333:a', 'aaaaaaaaaa-aaaaaaaaaa', 'a-aaaaaaaaaa', 'aaaaaaaaaa',
];

// AWS patterns match the whole value.
function compile(pattern) {
  for (const flags of ['u', '']) {
    try {
      return new RegExp(`^(?:${pattern})$`, flags);
    } catch {
      // the next flag set, or no check at all
    }
  }
  return null;
}

function fits(s, min, max, re) {
  if (s.length < min || s.length > max) return false;
  if (!re) return true;
  re.lastIndex = 0;
  return re.test(s);
}

const ACTIONS = { Effect: 'Allow', Action: 'sts:GetCallerIdentity', Resource: '*' };
const POLICY = JSON.stringify({ Version: '2012-10-17', Statement: [ACTIONS] });
const TRUST = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow',
  Principal: { AWS: `arn:aws:iam::${A}:root` }, Action: 'sts:AssumeRole' }] });
const RESOURCE_POLICY = JSON.stringify({ Version: '2012-10-17', Statement: [{ ...ACTIONS,
  Principal: { AWS: `arn:aws:iam::${A}:root` } }] });

// Candidates suggested by a member's name, tried before the generic ones.
function hinted(member) {
  if (!member) return [];
  if (/^AssumeRolePolicyDocument$/i.test(member)) return [TRUST];
  if (/PolicyDocument$/i.test(member)) return [POLICY];
  if (/^policy$/i.test(member)) return [RESOURCE_POLICY, POLICY];
  if (/arn$/i.test(member)) return CANDIDATES.filter((c) => c.startsWith('arn:'));
  return [];
}

/**
 * A string for a string shape: its first enum value, or a candidate within its bounds and
 * pattern (those the member's name suggests first).
 */
export function minimalString(shape, member) {
  if (shape.enum?.length) return shape.enum[0];
  const min = shape.min ?? 0;
  const max = shape.max ?? 4096;
  const re = shape.pattern ? compile(shape.pattern) : null;
  const padded = (s) => (s.length >= min ? s : s + 'a'.repeat(min - s.length));
  for (const c of [...hinted(member), ...CANDIDATES]) {
    if (fits(c, min, max, re)) return c;
    const p = padded(c);
    if (fits(p, min, max, re)) return p;
  }
  // nothing fits the pattern: a value within the length bounds (the answer is then a
  // validation error, which still shows the operation is routed)
  return 'a'.repeat(Math.min(Math.max(min, 1), max));
}

/**
 * The minimal input of a shape: required members only, recursively (unions get their first
 * member). `blob(n)` makes a blob of n bytes for the caller's representation.
 */
export function minimalValue(model, shapeName, depth = 0, blob = (n) => Buffer.alloc(n, 0x61), member = null) {
  const shape = model.shapes[shapeName];
  switch (shape.type) {
    case 'string': return minimalString(shape, member);
    case 'integer': case 'long': case 'short': case 'byte':
      return shape.min !== undefined ? Math.max(shape.min, Math.min(1, shape.max ?? 1)) : 1;
    case 'float': case 'double': return shape.min ?? 1;
    case 'boolean': return false;
    case 'timestamp': return new Date(Math.floor(Date.now() / 1000) * 1000);
    case 'blob': return blob(Math.max(shape.min ?? 1, 1));
    case 'list': {
      // a required list gets one element even when it may be empty (some SDKs leave out an
      // empty list)
      const n = depth > 6 ? 0 : Math.max(shape.min ?? 0, 1);
      return Array.from({ length: n }, () => minimalValue(model, shape.member.shape, depth + 1, blob, member));
    }
    case 'map': {
      const out = {};
      const n = depth > 6 ? 0 : shape.min ?? 0;
      for (let i = 0; i < n; i++) {
        out[minimalValue(model, shape.key.shape, depth + 1, blob) + (i ? String(i) : '')] =
          minimalValue(model, shape.value.shape, depth + 1, blob);
      }
      return out;
    }
    case 'structure': {
      if (shape.document) return {};
      const out = {};
      if (shape.union) {
        const first = Object.keys(shape.members)[0];
        if (first && depth < 8) out[first] = minimalValue(model, shape.members[first].shape, depth + 1, blob);
        return out;
      }
      for (const m of shape.required ?? []) {
        if (shape.members[m]?.idempotencyToken) continue;
        out[m] = minimalValue(model, shape.members[m].shape, depth + 1, blob, m);
      }
      return out;
    }
    default:
      throw new Error(`shape ${shapeName} has an unknown type ${shape.type}`);
  }
}

/** The minimal input of an operation (an empty object when it has no input). */
export function minimalInput(model, op) {
  const input = model.operations[op].input?.shape;
  return input ? minimalValue(model, input) : {};
}

/** True when the operation streams its input or answers with an event stream. */
export function isStreaming(model, op) {
  const o = model.operations[op];
  for (const io of ['input', 'output']) {
    const s = o[io]?.shape;
    if (!s) continue;
    for (const m of Object.values(model.shapes[s].members ?? {})) {
      const t = model.shapes[m.shape];
      if (t.eventstream || t.streaming || m.streaming) return true;
    }
  }
  return false;
}

function jsonValue(model, shapeName, v) {
  const shape = model.shapes[shapeName];
  if (v === undefined || v === null) return v;
  switch (shape.type) {
    case 'blob': return Buffer.from(v).toString('base64');
    case 'timestamp': return Math.floor(v.getTime() / 1000);
    case 'list': return v.map((x) => jsonValue(model, shape.member.shape, x));
    case 'map': return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonValue(model, shape.value.shape, x)]));
    case 'structure': {
      if (shape.document) return v;
      const out = {};
      for (const [k, x] of Object.entries(v)) {
        const m = shape.members[k];
        out[m.locationName ?? m.jsonName ?? k] = jsonValue(model, m.shape, x);
      }
      return out;
    }
    default: return v;
  }
}

function scalarText(v) {
  if (v instanceof Date) return v.toISOString().replace(/\.\d{3}Z$/, 'Z');
  if (Buffer.isBuffer(v)) return v.toString('base64');
  return String(v);
}

/** Signs and sends with fetch(), giving up after `timeoutMs`; resolves {status, headers, text}. */
async function sendBounded(gw, key, opts, timeoutMs) {
  const s = await signRequest(gw, key, opts);
  const res = await fetch(s.url, { method: s.method, headers: s.headers, body: s.body,
    signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/**
 * Sends an operation's input as a raw SigV4 request in the service's protocol (rest-json or
 * query), the way the SDK would: labels in the path, query-string and header members, a JSON
 * or raw payload, or the Action form. Resolves {status, name, message, text}; rejects when no
 * answer has come after `timeoutMs`.
 */
export async function sendRaw(gw, key, model, op, input, timeoutMs = 15000) {
  const o = model.operations[op];
  const md = model.metadata;
  const service = md.signingName ?? md.endpointPrefix;
  if (md.protocol === 'query') {
    const form = { Action: op, Version: md.apiVersion };
    const inShape = o.input ? model.shapes[o.input.shape] : { members: {} };
    for (const [k, v] of Object.entries(input)) {
      const m = inShape.members[k];
      const t = model.shapes[m.shape];
      if (t.type === 'list') v.forEach((x, i) => { form[`${k}.member.${i + 1}`] = scalarText(x); });
      else if (t.type !== 'structure' && t.type !== 'map') form[k] = scalarText(v);
    }
    const res = await sendBounded(gw, key, { service, body: buildQuery(form) }, timeoutMs);
    const code = /<Code>([^<]*)<\/Code>/.exec(res.text)?.[1] ?? null;
    const message = /<Message>([^<]*)<\/Message>/.exec(res.text)?.[1] ?? null;
    return { status: res.status, name: res.status >= 300 ? code : null, message, text: res.text };
  }
  const inShape = o.input ? model.shapes[o.input.shape] : { members: {} };
  let uri = o.http.requestUri;
  const query = {};
  const headers = {};
  const body = {};
  let payload;
  for (const [k, v] of Object.entries(input)) {
    const m = inShape.members[k];
    const name = m.locationName ?? k;
    switch (m.location) {
      case 'uri':
        uri = uri.replace(`{${name}+}`, String(v).split('/').map(rfc3986).join('/'))
          .replace(`{${name}}`, rfc3986(String(v)));
        break;
      case 'querystring': query[name] = scalarText(v); break;
      case 'header': headers[name.toLowerCase()] = scalarText(v); break;
      default:
        if (inShape.payload === k) payload = v;
        else body[name] = jsonValue(model, m.shape, v);
    }
  }
  const [pathPart, fixedQuery] = uri.split('?');
  for (const pair of (fixedQuery ?? '').split('&').filter(Boolean)) {
    const [k, v] = pair.split('=');
    query[decodeURIComponent(k)] = v === undefined ? '' : decodeURIComponent(v);
  }
  let bodyText;
  if (payload !== undefined) {
    bodyText = Buffer.isBuffer(payload) ? payload : JSON.stringify(payload);
    headers['content-type'] ??= 'application/octet-stream';
  } else if (o.http.method !== 'GET' && o.http.method !== 'DELETE' && o.http.method !== 'HEAD') {
    bodyText = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  const qs = buildQuery(query);
  const res = await sendBounded(gw, key, {
    service, method: o.http.method, path: pathPart + (qs ? `?${qs}` : ''), headers, body: bodyText,
  }, timeoutMs);
  let parsed = {};
  try {
    parsed = JSON.parse(res.text);
  } catch {
    // an event stream or an empty body
  }
  const typeHeader = res.headers.get('x-amzn-errortype');
  let name = null;
  if (res.status >= 300) {
    name = (typeHeader ?? parsed.__type ?? parsed.code ?? parsed.Type ?? '').split(':')[0];
    name = name.slice(name.lastIndexOf('#') + 1) || null;
  }
  return { status: res.status, name, message: parsed.message ?? parsed.Message ?? null, text: res.text };
}
