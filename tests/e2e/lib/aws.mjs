// AWS-side helpers: SDK clients pointed at the gateway, SigV4 signing and
// presigning with @smithy/signature-v4, and small parsers for query-protocol XML.
import { createHash, createHmac } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

export const REGION = 'us-east-1';
export const STS_BODY = 'Action=GetCallerIdentity&Version=2011-06-15';

/**
 * Makes an SDK v3 client for `key` ({accessKeyId, secretAccessKey[, sessionToken]})
 * against the gateway. Retries are off so that errors surface as they are.
 * Every Authorization header the client sends is pushed to `recorder.authorizations`
 * when a recorder is given (for "never logged" checks).
 */
export function makeClient(Ctor, gw, key, extra = {}, recorder = null) {
  const { recorder: _r, ...rest } = extra;
  const client = new Ctor({
    region: REGION,
    endpoint: gw.endpoint,
    credentials: {
      accessKeyId: key.accessKeyId,
      secretAccessKey: key.secretAccessKey,
      ...(key.sessionToken ? { sessionToken: key.sessionToken } : {}),
    },
    maxAttempts: 1,
    ...rest,
  });
  const rec = recorder ?? _r;
  if (rec) {
    // The deserialize step runs after signing, so the request here is final.
    client.middlewareStack.add(
      (next) => async (args) => {
        const auth = args.request?.headers?.authorization;
        if (auth) (rec.authorizations ??= []).push(auth);
        return next(args);
      },
      { step: 'deserialize', name: 'e2eRecordAuthorization' },
    );
  }
  return client;
}

/** The Signature=... value of an Authorization header (or of a presigned URL). */
export function signatureOf(s) {
  const m = /Signature=([0-9a-f]{64})/.exec(s);
  return m ? m[1] : null;
}

function signer(key, service, region, applyChecksum = true) {
  return new SignatureV4({
    service,
    region,
    credentials: key,
    sha256: Sha256,
    uriEscapePath: true,
    applyChecksum,
  });
}

function parseUrl(gw, pathAndQuery) {
  const u = new URL(pathAndQuery, gw.endpoint);
  const query = {};
  for (const [k, v] of u.searchParams) query[k] = v;
  return { u, query };
}

/** RFC 3986 encoding as SigV4 wants it. */
export function rfc3986(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

export function buildQuery(query) {
  return Object.keys(query)
    .sort()
    .map((k) => {
      const v = query[k];
      return v === null || v === undefined ? rfc3986(k) : `${rfc3986(k)}=${rfc3986(v)}`;
    })
    .join('&');
}

/**
 * Signs a request with SigV4 and returns {url, method, headers, body, signature}
 * ready for fetch(). Options: method, path (may hold a query), headers, body
 * (string or Buffer), service ('sts'), region, date (Date: the signing time),
 * checksum (default true: send and sign x-amz-content-sha256),
 * signContentLength (default false: also sign content-length, as the AWS SDKs do).
 */
export async function signRequest(gw, key, opts = {}) {
  const method = opts.method ?? 'POST';
  const { u, query } = parseUrl(gw, opts.path ?? '/');
  const headers = { host: u.host, ...(opts.headers ?? {}) };
  const body = opts.body;
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
    headers['content-type'] = 'application/x-www-form-urlencoded; charset=utf-8';
  }
  if (body !== undefined && opts.signContentLength) {
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  const req = new HttpRequest({
    method,
    protocol: 'http:',
    hostname: u.hostname,
    port: Number(u.port),
    path: u.pathname,
    query,
    headers,
    body,
  });
  const signed = await signer(key, opts.service ?? 'sts', opts.region ?? REGION, opts.checksum ?? true).sign(req, {
    signingDate: opts.date ?? new Date(),
  });
  const qs = buildQuery(signed.query ?? {});
  const url = `${gw.endpoint}${u.pathname}${qs ? '?' + qs : ''}`;
  // fetch() sets Host and Content-Length itself (to the same values): drop ours.
  const outHeaders = { ...signed.headers };
  delete outHeaders.host;
  delete outHeaders['content-length'];
  return { url, method, headers: outHeaders, body, signature: signatureOf(signed.headers.authorization) };
}

/** Signs and sends with fetch(); resolves {status, headers, text, signature}. */
export async function sendSigned(gw, key, opts = {}) {
  const s = await signRequest(gw, key, opts);
  const res = await fetch(s.url, { method: s.method, headers: s.headers, body: s.body });
  return { status: res.status, headers: res.headers, text: await res.text(), signature: s.signature };
}

/**
 * Presigns a URL (query-string auth). Returns {url, signature}.
 * Options: method ('GET'), path, service, region, expiresIn (s), date.
 */
export async function presignUrl(gw, key, opts = {}) {
  const { u, query } = parseUrl(gw, opts.path ?? '/');
  const req = new HttpRequest({
    method: opts.method ?? 'GET',
    protocol: 'http:',
    hostname: u.hostname,
    port: Number(u.port),
    path: u.pathname,
    query,
    headers: { host: u.host },
  });
  const signed = await signer(key, opts.service ?? 'sts', opts.region ?? REGION).presign(req, {
    expiresIn: opts.expiresIn ?? 300,
    signingDate: opts.date ?? new Date(),
  });
  const url = `${gw.endpoint}${u.pathname}?${buildQuery(signed.query)}`;
  return { url, signature: signed.query['X-Amz-Signature'] };
}

/** The text of the first <tag>...</tag> in an XML document, or null. */
export function xmlText(xml, tag) {
  const m = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(xml);
  return m ? m[1] : null;
}

/** Parses an STS/IAM query-protocol error document into {type, code, message, requestId}. */
export function parseXmlError(xml) {
  return {
    type: xmlText(xml, 'Type'),
    code: xmlText(xml, 'Code'),
    message: xmlText(xml, 'Message'),
    requestId: xmlText(xml, 'RequestId'),
  };
}

/**
 * SigV4 headers for a request, computed with node:crypto (several times faster than
 * signRequest, for tests that sign tens of thousands of requests). The signing key is cached per
 * key, day, region and service. Signs host, x-amz-date, x-amz-content-sha256 and the given
 * headers (lower-case names); `url` has no query. Returns the headers to send (without host).
 */
export function fastSignedHeaders(key, { method = 'POST', url, body = '', headers = {},
  service = 'bedrock-agentcore', region = REGION, date = new Date() }) {
  const u = new URL(url);
  const amzDate = date.toISOString().replace(/[-:]|\.\d{3}/g, '');
  const day = amzDate.slice(0, 8);
  const payloadHash = createHash('sha256').update(body).digest('hex');
  const all = { ...headers, host: u.host, 'x-amz-date': amzDate, 'x-amz-content-sha256': payloadHash };
  if (key.sessionToken) all['x-amz-security-token'] = key.sessionToken;
  const names = Object.keys(all).map((h) => h.toLowerCase()).sort();
  const lower = Object.fromEntries(Object.entries(all).map(([k, v]) => [k.toLowerCase(), String(v).trim()]));
  const canonicalPath = u.pathname.split('/').map((s) => rfc3986(decodeURIComponent(s)))
    .map((s) => rfc3986(s)).join('/');
  const canonical = [method, canonicalPath, '', names.map((h) => `${h}:${lower[h]}\n`).join(''),
    names.join(';'), payloadHash].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope,
    createHash('sha256').update(canonical).digest('hex')].join('\n');
  const cacheKey = `${key.accessKeyId}/${scope}`;
  let kSigning = signingKeys.get(cacheKey);
  if (!kSigning) {
    const kDate = createHmac('sha256', `AWS4${key.secretAccessKey}`).update(day).digest();
    const kRegion = createHmac('sha256', kDate).update(region).digest();
    const kService = createHmac('sha256', kRegion).update(service).digest();
    kSigning = createHmac('sha256', kService).update('aws4_request').digest();
    signingKeys.set(cacheKey, kSigning);
  }
  const signature = createHmac('sha256', kSigning).update(toSign).digest('hex');
  const out = { ...all };
  delete out.host;
  out.authorization = `AWS4-HMAC-SHA256 Credential=${key.accessKeyId}/${scope}, ` +
    `SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return out;
}
const signingKeys = new Map();
