// A test OpenID Connect issuer that mcpgate did not write: a node http server on a loopback port
// with its own keys (node:crypto only), serving the discovery document, the JWKS and a
// client-credentials token endpoint, and minting tokens of any shape for the JWT tests.
//
//   const idp = await startIssuer({ realm: 'main' });
//   idp.issuer           'http://127.0.0.1:PORT/realms/main'
//   idp.discoveryUrl     issuer + '/.well-known/openid-configuration'
//   idp.jwksUri, idp.tokenEndpoint, idp.jwksPath, idp.discoveryPath
//   idp.key('ES256')     the current key of an algorithm: {kid, alg, privateKey, publicKey, jwk}
//   idp.mint(claims, {alg, kid, header, key})    a signed token; claims go over the defaults
//                        (iss, iat, exp); a claim set to undefined is left out
//   idp.bad.*            tokens that must be refused (expired, notYetValid, wrongIssuer, ...)
//   idp.rotate()         new keys under new kids replace the JWKS (keep: true keeps the old too)
//   idp.count(path)      requests seen per path; idp.resetCounts()
//   await idp.down()     connections refused ({ mode: 'error' }: every answer is a 503)
//   await idp.up()       back on the same port
//   await idp.close()
//
// Keys: RS256 (RSA 2048, PKCS#1 v1.5), PS256 (RSA 2048, PSS with salt = hash length), ES256
// (P-256), ES384 (P-384); signatures in the JOSE form (raw r||s for ECDSA).
import {
  createHmac, generateKeyPair, randomBytes, randomUUID, sign as cryptoSign,
  constants as cryptoConstants,
} from 'node:crypto';
import http from 'node:http';
import { promisify } from 'node:util';

const generate = promisify(generateKeyPair);

export const ALGS = {
  RS256: { hash: 'sha256', type: 'rsa', opts: { modulusLength: 2048 } },
  PS256: { hash: 'sha256', type: 'rsa', opts: { modulusLength: 2048 }, pss: 32 },
  ES256: { hash: 'sha256', type: 'ec', opts: { namedCurve: 'P-256' }, ec: true },
  ES384: { hash: 'sha384', type: 'ec', opts: { namedCurve: 'P-384' }, ec: true },
};

export const b64url = (buf) => Buffer.from(buf).toString('base64url');
export const b64json = (v) => b64url(Buffer.from(JSON.stringify(v)));
export const now = () => Math.floor(Date.now() / 1000);

/** Decodes the header and payload of a compact token (no check). */
export function decodeToken(t) {
  const [h, p] = t.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url')), payload: JSON.parse(Buffer.from(p, 'base64url')) };
}

/** Makes a key for an algorithm: {kid, alg, privateKey, publicKey, jwk, publicPem}. */
export async function makeKey(alg, kid = `${alg.toLowerCase()}-${randomUUID().slice(0, 8)}`) {
  const a = ALGS[alg];
  if (!a) throw new Error(`unknown algorithm ${alg}`);
  const { privateKey, publicKey } = await generate(a.type, a.opts);
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg };
  return { kid, alg, privateKey, publicKey, jwk, publicPem: publicKey.export({ type: 'spki', format: 'pem' }) };
}

/** The JWS signature of `input` (the ASCII "header.payload") with `key` for `alg`. */
export function signInput(alg, key, input) {
  const a = ALGS[alg];
  if (!a) throw new Error(`cannot sign ${alg}`);
  const pk = key.privateKey ?? key;
  if (a.ec) return cryptoSign(a.hash, Buffer.from(input), { key: pk, dsaEncoding: 'ieee-p1363' });
  if (a.pss) {
    return cryptoSign(a.hash, Buffer.from(input), {
      key: pk, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: a.pss,
    });
  }
  return cryptoSign(a.hash, Buffer.from(input), { key: pk, padding: cryptoConstants.RSA_PKCS1_PADDING });
}

/** A compact JWS: header and payload as given, signed with key (by header.alg). */
export function signToken(header, payload, key) {
  const input = `${b64json(header)}.${b64json(payload)}`;
  return `${input}.${b64url(signInput(header.alg, key, input))}`;
}

/** The token with one byte of its signature flipped (re-encoded, so still canonical base64url). */
export function flipSignature(token) {
  const parts = token.split('.');
  const sig = Buffer.from(parts[2], 'base64url');
  sig[Math.floor(sig.length / 2)] ^= 0x01;
  parts[2] = b64url(sig);
  return parts.join('.');
}

/**
 * Starts an issuer. Options:
 *   realm      the issuer's path is /realms/<realm> (default 'test'); '' for an issuer at the root
 *   algs       key types to hold (default all four)
 *   clients    { id: { secret, scopes: [..], claims: {..} } } for the client-credentials grant
 *   ttl        lifetime of minted tokens in seconds (default 300)
 *   host       listen address (default 127.0.0.1)
 */
export async function startIssuer(opts = {}) {
  const realm = opts.realm ?? 'test';
  const algs = opts.algs ?? Object.keys(ALGS);
  const ttl = opts.ttl ?? 300;
  const clients = { ...(opts.clients ?? {}) };
  const host = opts.host ?? '127.0.0.1';
  const base = realm ? `/realms/${realm}` : '';

  let keys = await Promise.all(algs.map((a) => makeKey(a)));
  /** A key outside the JWKS: signs tokens whose kid the issuer never published. */
  const strayKeys = Object.fromEntries(await Promise.all(algs.map(async (a) => [a, await makeKey(a, 'stray')])));
  const counts = new Map();
  const log = [];
  let mode = 'up';
  let port = 0;
  let issuer = '';
  const sockets = new Set();

  const paths = {
    discovery: `${base}/.well-known/openid-configuration`,
    jwks: `${base}/protocol/openid-connect/certs`,
    token: `${base}/protocol/openid-connect/token`,
  };

  function config() {
    return {
      issuer,
      jwks_uri: `http://${host}:${port}${paths.jwks}`,
      token_endpoint: `http://${host}:${port}${paths.token}`,
      authorization_endpoint: `http://${host}:${port}${base}/protocol/openid-connect/auth`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: [...new Set(keys.map((k) => k.alg))],
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      scopes_supported: [...new Set(Object.values(clients).flatMap((c) => c.scopes ?? []))],
    };
  }

  function json(res, status, v, extra = {}) {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...extra });
    res.end(JSON.stringify(v));
  }

  function tokenRequest(req, body, res) {
    const form = new URLSearchParams(body);
    let id = form.get('client_id');
    let secret = form.get('client_secret');
    const basic = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
    if (basic) {
      const raw = Buffer.from(basic[1], 'base64').toString('utf8');
      const i = raw.indexOf(':');
      id = decodeURIComponent(raw.slice(0, i));
      secret = decodeURIComponent(raw.slice(i + 1));
    }
    const c = clients[id];
    if (!c || c.secret !== secret) return json(res, 401, { error: 'invalid_client' });
    if (form.get('grant_type') !== 'client_credentials') return json(res, 400, { error: 'unsupported_grant_type' });
    const asked = (form.get('scope') ?? '').split(' ').filter(Boolean);
    const granted = asked.length ? asked.filter((s) => (c.scopes ?? []).includes(s)) : (c.scopes ?? []);
    if (asked.length && granted.length === 0) return json(res, 400, { error: 'invalid_scope' });
    const resource = form.get('resource');
    const claims = {
      sub: id, client_id: id, scope: granted.join(' '), jti: randomUUID(),
      ...(resource ? { aud: resource } : {}), ...(c.claims ?? {}),
    };
    const access = api.mint(claims, { alg: c.alg ?? 'RS256' });
    api.issued.push({ clientId: id, resource, scope: claims.scope, token: access });
    json(res, 200, { access_token: access, token_type: 'Bearer', expires_in: ttl, scope: claims.scope });
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    counts.set(url.pathname, (counts.get(url.pathname) ?? 0) + 1);
    log.push({ method: req.method, path: url.pathname, at: Date.now(), headers: req.headers });
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      if (mode === 'error') return json(res, 503, { error: 'temporarily_unavailable' });
      const p = url.pathname;
      // the discovery document at the OIDC path and at the RFC 8414 insertions MCP clients try
      const discovery = [paths.discovery, `/.well-known/openid-configuration${base}`,
        `/.well-known/oauth-authorization-server${base}`];
      if (req.method === 'GET' && discovery.includes(p)) return json(res, 200, config());
      if (req.method === 'GET' && p === paths.jwks) return json(res, 200, { keys: keys.map((k) => k.jwk) });
      if (req.method === 'POST' && p === paths.token) return tokenRequest(req, body, res);
      json(res, 404, { error: 'not_found' });
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  function listen(p) {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(p, host, () => {
        server.off('error', reject);
        resolve(server.address().port);
      });
    });
  }

  function closeServer() {
    return new Promise((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  }

  port = await listen(0);
  issuer = `http://${host}:${port}${base}`;

  const keyOf = (alg, kid) => {
    const k = keys.find((x) => x.alg === alg && (kid === undefined || x.kid === kid));
    if (!k) throw new Error(`the issuer holds no ${alg} key${kid ? ` with kid ${kid}` : ''}`);
    return k;
  };

  const api = {
    get issuer() { return issuer; },
    get port() { return port; },
    get origin() { return `http://${host}:${port}`; },
    get discoveryUrl() { return `http://${host}:${port}${paths.discovery}`; },
    get jwksUri() { return `http://${host}:${port}${paths.jwks}`; },
    get tokenEndpoint() { return `http://${host}:${port}${paths.token}`; },
    discoveryPath: paths.discovery,
    jwksPath: paths.jwks,
    tokenPath: paths.token,
    clients,
    issued: [],
    log,
    get keys() { return [...keys]; },
    get jwks() { return { keys: keys.map((k) => k.jwk) }; },
    config,

    /** The current key of an algorithm (the first, or the one with kid). */
    key: keyOf,

    /**
     * A token signed by the issuer. claims go over {iss, iat: now, exp: now + ttl}; a claim whose
     * value is undefined is left out. Options: alg (default RS256), key (one of idp.keys or any
     * {privateKey}), kid (header kid; default the key's; null leaves it out), header (more header
     * members, over the defaults), exp / ttl shortcuts.
     */
    mint(claims = {}, o = {}) {
      const alg = o.alg ?? o.key?.alg ?? 'RS256';
      const key = o.key ?? keyOf(alg);
      const t = now();
      const payload = { iss: issuer, iat: t, exp: t + (o.ttl ?? ttl), ...claims };
      for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
      const header = { alg, typ: 'JWT', ...(o.kid === null ? {} : { kid: o.kid ?? key.kid }), ...(o.header ?? {}) };
      for (const k of Object.keys(header)) if (header[k] === undefined) delete header[k];
      return signToken(header, payload, key);
    },

    /** Replaces the keys with new ones of the same types under new kids. Returns the new keys. */
    async rotate(o = {}) {
      const fresh = await Promise.all([...new Set(keys.map((k) => k.alg))].map((a) => makeKey(a)));
      keys = o.keep ? [...fresh, ...keys] : fresh;
      return fresh;
    },

    /** Sets the JWKS to exactly these keys (made with makeKey). */
    setKeys(list) { keys = [...list]; },

    count(path) { return counts.get(path) ?? 0; },
    counts() { return Object.fromEntries(counts); },
    resetCounts() { counts.clear(); log.length = 0; },

    /** Goes down: 'refuse' (default) closes the port, 'error' answers 503 to everything. */
    async down(o = {}) {
      mode = o.mode ?? 'refuse';
      if (mode === 'refuse') await closeServer();
    },
    async up() {
      if (!server.listening) await listen(port);
      mode = 'up';
    },
    get isUp() { return mode === 'up'; },
    async close() { await closeServer(); },
  };

  /**
   * Tokens that must be refused. Each takes the claims of an otherwise good token (what the
   * gateway under test accepts) and options as mint(); the name says what is wrong.
   */
  api.bad = {
    expired: (c = {}, o = {}) => api.mint({ ...c, iat: now() - 7200, exp: now() - 3600 }, o),
    notYetValid: (c = {}, o = {}) => api.mint({ ...c, nbf: now() + 3600, exp: now() + 7200 }, o),
    issuedInFuture: (c = {}, o = {}) => api.mint({ ...c, iat: now() + 3600, exp: now() + 7200 }, o),
    wrongIssuer: (c = {}, o = {}) => api.mint({ ...c, iss: `${issuer}-other` }, o),
    wrongAudience: (c = {}, o = {}) => api.mint({ ...c, aud: 'some-other-api' }, o),
    clientNotAllowed: (c = {}, o = {}) => api.mint({ ...c, client_id: 'intruder-client', azp: 'intruder-client' }, o),
    missingScope: (c = {}, o = {}) => api.mint({ ...c, scope: 'unrelated:read', scp: undefined }, o),
    /** Signed with a key the JWKS never held, under a kid the issuer never published. */
    unknownKid: (c = {}, o = {}) => {
      const alg = o.alg ?? 'RS256';
      return api.mint(c, { ...o, alg, key: strayKeys[alg] ?? strayKeys[algs[0]], kid: o.kid ?? `unknown-${randomUUID()}` });
    },
    /** A published kid, a signature by a key the issuer does not hold. */
    foreignKey: (c = {}, o = {}) => {
      const alg = o.alg ?? 'RS256';
      return api.mint(c, { ...o, alg, key: strayKeys[alg], kid: keyOf(alg).kid });
    },
    badSignature: (c = {}, o = {}) => flipSignature(api.mint(c, o)),
    /** alg "none" with an empty signature part (the classic form). */
    algNone: (c = {}) => `${b64json({ alg: 'none', typ: 'JWT' })}.${b64json({ iss: issuer, iat: now(), exp: now() + ttl, ...c })}.`,
    /** alg "none" with a signature part copied from a good token (so only the alg is wrong). */
    algNoneSigned: (c = {}, o = {}) => {
      const good = api.mint(c, o).split('.');
      return `${b64json({ alg: 'none', typ: 'JWT', kid: keyOf(o.alg ?? 'RS256').kid })}.${good[1]}.${good[2]}`;
    },
    /** HS256 with the issuer's RSA public key (PEM, as published) as the HMAC secret. */
    hs256PublicKey: (c = {}, o = {}) => {
      const k = keyOf(o.alg ?? 'RS256');
      const t = now();
      const input = `${b64json({ alg: 'HS256', typ: 'JWT', kid: k.kid })}.${b64json({ iss: issuer, iat: t, exp: t + ttl, ...c })}`;
      return `${input}.${b64url(createHmac('sha256', k.publicPem).update(input).digest())}`;
    },
    /** A header that carries its own key (jwk): never trusted. */
    embeddedJwk: (c = {}, o = {}) => {
      const k = strayKeys[o.alg ?? 'RS256'];
      return api.mint(c, { ...o, key: k, kid: null, header: { jwk: k.jwk } });
    },
    malformed: () => [
      'abc',
      'abc.def',
      'a.b.c.d',
      '..',
      `${b64json({ alg: 'RS256' })}..${b64url(randomBytes(256))}`,
      `${b64json({ alg: 'RS256' })}.not*base64.${b64url(randomBytes(256))}`,
      `${b64url(Buffer.from('{not json'))}.${b64json({ iss: issuer })}.${b64url(randomBytes(256))}`,
    ],
  };

  return api;
}
