// The test OpenID issuer (lib/oidc-issuer.mjs) checked on its own, with node:crypto as the
// verifier: what it publishes and signs is standard, so a refusal by mcpgate in
// jwt-gateway.test.mjs is mcpgate's doing, not the issuer's.
import assert from 'node:assert/strict';
import { createHmac, createPublicKey, verify, constants } from 'node:crypto';
import { after, before, test } from 'node:test';
import { ALGS, decodeToken, startIssuer } from './lib/oidc-issuer.mjs';

let idp;

before(async () => {
  idp = await startIssuer({
    realm: 'selftest',
    clients: { 'cc-client': { secret: 's3cret', scopes: ['tools/read', 'tools/call'] } },
  });
});

after(async () => {
  await idp?.close();
});

async function getJson(url) {
  const r = await fetch(url);
  return { status: r.status, json: await r.json() };
}

/** Verifies a compact token against a JWKS document with node:crypto; true when it holds. */
function verifies(token, jwks) {
  const [h, p, s] = token.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  const a = ALGS[header.alg];
  if (!a) return false;
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) return false;
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const opts = a.ec ? { key, dsaEncoding: 'ieee-p1363' }
    : a.pss ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: a.pss } : { key };
  return verify(a.hash, Buffer.from(`${h}.${p}`), opts, Buffer.from(s, 'base64url'));
}

test('discovery document at the OIDC path and the RFC 8414 insertions; JWKS with four key types', async () => {
  assert.match(idp.issuer, /^http:\/\/127\.0\.0\.1:\d+\/realms\/selftest$/);
  for (const u of [idp.discoveryUrl, `${idp.origin}/.well-known/openid-configuration/realms/selftest`,
    `${idp.origin}/.well-known/oauth-authorization-server/realms/selftest`]) {
    const d = await getJson(u);
    assert.equal(d.status, 200, u);
    assert.equal(d.json.issuer, idp.issuer);
    assert.equal(d.json.jwks_uri, idp.jwksUri);
    assert.equal(d.json.token_endpoint, idp.tokenEndpoint);
  }
  const { json: jwks } = await getJson(idp.jwksUri);
  assert.deepEqual(jwks.keys.map((k) => k.alg).sort(), ['ES256', 'ES384', 'PS256', 'RS256']);
  for (const k of jwks.keys) {
    assert.equal(k.use, 'sig');
    assert.equal(k.d, undefined, 'no private part published');
    if (k.kty === 'RSA') assert.equal(Buffer.from(k.n, 'base64url').length, 256);
  }
  assert.equal(jwks.keys.find((k) => k.alg === 'ES384').crv, 'P-384');
});

test('minted tokens verify with node:crypto for every algorithm; broken ones do not', async () => {
  const { json: jwks } = await getJson(idp.jwksUri);
  for (const alg of Object.keys(ALGS)) {
    const t = idp.mint({ sub: 'u1', aud: 'api' }, { alg });
    const { header, payload } = decodeToken(t);
    assert.equal(header.alg, alg);
    assert.equal(header.kid, idp.key(alg).kid);
    assert.equal(payload.iss, idp.issuer);
    assert.ok(payload.exp > payload.iat);
    assert.ok(verifies(t, jwks), alg);
    assert.ok(!verifies(idp.bad.badSignature({}, { alg }), jwks), `${alg} flipped`);
    assert.ok(!verifies(idp.bad.unknownKid({}, { alg }), jwks), `${alg} unknown kid`);
    assert.ok(!verifies(idp.bad.foreignKey({}, { alg }), jwks), `${alg} foreign key`);
  }
  const t = idp.mint({ aud: undefined, client_id: 'c' }, { kid: null });
  assert.equal(decodeToken(t).payload.aud, undefined);
  assert.equal(decodeToken(t).header.kid, undefined);
  // the expired/nbf/iss/aud helpers change only what their name says
  assert.ok(decodeToken(idp.bad.expired({ aud: 'a' })).payload.exp < Date.now() / 1000 - 3000);
  assert.ok(decodeToken(idp.bad.notYetValid({ aud: 'a' })).payload.nbf > Date.now() / 1000 + 3000);
  assert.notEqual(decodeToken(idp.bad.wrongIssuer()).payload.iss, idp.issuer);
  assert.ok(verifies(idp.bad.wrongIssuer(), jwks));
  // HS256 keyed with the published PEM: a verifier that confuses key types would accept it
  const hs = idp.bad.hs256PublicKey({ aud: 'a' });
  const [h, p, s] = hs.split('.');
  assert.equal(decodeToken(hs).header.alg, 'HS256');
  assert.equal(createHmac('sha256', idp.key('RS256').publicPem).update(`${h}.${p}`).digest('base64url'), s);
  assert.equal(idp.bad.algNone().split('.')[2], '');
  assert.equal(decodeToken(idp.bad.algNoneSigned()).header.alg, 'none');
});

test('rotation replaces the JWKS under new kids; request counts per path', async () => {
  idp.resetCounts();
  const before = (await getJson(idp.jwksUri)).json.keys.map((k) => k.kid);
  const fresh = await idp.rotate();
  const afterKids = (await getJson(idp.jwksUri)).json.keys.map((k) => k.kid);
  assert.equal(afterKids.length, 4);
  for (const k of afterKids) assert.ok(!before.includes(k));
  assert.deepEqual(afterKids.sort(), fresh.map((k) => k.kid).sort());
  assert.equal(idp.count(idp.jwksPath), 2);
  assert.equal(idp.count(idp.discoveryPath), 0);
});

test('client-credentials grant: basic auth, scope, RFC 8707 resource as aud', async () => {
  const r = await fetch(idp.tokenEndpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from('cc-client:s3cret').toString('base64')}`,
    },
    body: 'grant_type=client_credentials&scope=tools%2Fcall&resource=http%3A%2F%2Fexample%2Fmcp',
  });
  assert.equal(r.status, 200);
  const body = await r.json();
  assert.equal(body.token_type, 'Bearer');
  const { payload } = decodeToken(body.access_token);
  assert.equal(payload.client_id, 'cc-client');
  assert.equal(payload.scope, 'tools/call');
  assert.equal(payload.aud, 'http://example/mcp');
  const bad = await fetch(idp.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&client_id=cc-client&client_secret=wrong',
  });
  assert.equal(bad.status, 401);
});

test('down refuses connections, error mode answers 503, up comes back on the same port', async () => {
  const port = idp.port;
  await idp.down();
  await assert.rejects(fetch(idp.discoveryUrl));
  await idp.up();
  assert.equal(idp.port, port);
  assert.equal((await fetch(idp.discoveryUrl)).status, 200);
  await idp.down({ mode: 'error' });
  assert.equal((await fetch(idp.jwksUri)).status, 503);
  await idp.up();
  assert.equal((await fetch(idp.jwksUri)).status, 200);
});
