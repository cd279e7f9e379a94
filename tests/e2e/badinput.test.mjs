// Hostile and malformed HTTP over raw TCP. Every case must end in a 4xx (an
// AWS-format error where the gateway answers itself) or a clean close within a
// bounded time, never a hang or a crash; after each one a properly signed
// GetCallerIdentity must still succeed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { startServer } from './lib/server.mjs';
import { sendSigned, STS_BODY } from './lib/aws.mjs';
import { rawExchange, rawStreamBody } from './lib/raw.mjs';

const MAX_BODY = 1024 * 1024;
const AUTH_CODES = ['IncompleteSignature', 'InvalidClientTokenId', 'SignatureDoesNotMatch',
  'MissingAuthenticationToken', 'AccessDenied', 'InvalidSignatureException', 'MissingAuthenticationTokenException'];

let gw;

before(async () => {
  gw = await startServer({ args: ['--max-body', String(MAX_BODY)] });
});

after(async () => {
  if (gw) await gw.stop();
});

/** A signed GetCallerIdentity still works and the process is alive. */
async function assertStillServing() {
  assert.ok(gw.alive(), `mcpgate died: ${JSON.stringify(gw.exitStatus())}\n${gw.stderr().slice(-4000)}`);
  const acct = gw.accounts[0];
  const res = await sendSigned(gw, acct.root, { body: STS_BODY });
  assert.equal(res.status, 200, `GetCallerIdentity after the bad input: ${res.text}`);
  assert.match(res.text, new RegExp(`<Account>${acct.id}</Account>`));
}

/** A 4xx response, or the connection closed without one; never a timeout. */
function assertRefused(r, what) {
  assert.ok(!r.timedOut, `${what}: no answer and no close (hang); got ${JSON.stringify(r.raw.toString('latin1').slice(0, 200))}`);
  if (r.status !== null) {
    assert.ok(r.status >= 400 && r.status < 500, `${what}: status ${r.status}, want 4xx\n${r.raw.toString('latin1').slice(0, 500)}`);
  } else {
    assert.ok(r.closed, `${what}: no status line and not closed`);
  }
}

function head(lines, body = '') {
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

function hostLine() {
  return `Host: 127.0.0.1:${gw.port}`;
}

/** A plain POST / with the STS form body and the given extra header lines. */
function stsPost(extraLines = [], body = STS_BODY) {
  return head([
    'POST / HTTP/1.1',
    hostLine(),
    'Content-Type: application/x-www-form-urlencoded',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...extraLines,
  ], body);
}

function badTest(name, fn, opts = {}) {
  test(name, { timeout: 60000, ...opts }, async (t) => {
    await fn(t);
    await assertStillServing();
  });
}

describe('malformed requests', () => {
  badTest('malformed Authorization headers get 4xx auth errors', async () => {
    const akid = gw.accounts[0].root.accessKeyId;
    const day = new Date().toISOString().slice(0, 10).replace(/-/g, '');
    const sig = 'f'.repeat(64);
    const variants = [
      'AWS4-HMAC-SHA256',
      'AWS4-HMAC-SHA256 ',
      'AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=',
      `AWS4-HMAC-SHA256 Credential=${akid}/${day}/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=zz`,
      `AWS4-HMAC-SHA256 Credential=${akid}/${day}/us-east-1/sts/aws4_request, SignedHeaders=host;;;;, Signature=${sig}`,
      `AWS4-HMAC-SHA256 Credential=${akid}, SignedHeaders=host, Signature=${sig}`,
      `AWS4-HMAC-SHA256 Credential=a/b/c/d/e/f/g/h/i/j/k, SignedHeaders=host, Signature=${sig}`,
      `AWS4-HMAC-SHA256 Credential=${'A'.repeat(4000)}/${day}/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=${sig}`,
      `AWS4-HMAC-SHA256 Credential=${akid}/${day}/us-east-1/sts/aws4_request, SignedHeaders=${'x;'.repeat(1000)}host, Signature=${sig}`,
      `AWS4-HMAC-SHA256 Credential=${akid}/${day}/us-east-1/sts/aws4_request,,,, Signature=${sig}, Signature=${sig}`,
      'AWS4-HMAC-SHA256 ====,,,,===',
      `AWS4-HMAC-SHA1 Credential=${akid}/${day}/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=${sig}`,
      'Bearer abc.def.ghi',
      'Basic dGVzdDp0ZXN0',
      '=',
    ];
    for (const v of variants) {
      const r = await rawExchange(gw.port, stsPost([`Authorization: ${v}`, 'X-Amz-Date: 20200101T000000Z']));
      assertRefused(r, `Authorization: ${v.slice(0, 80)}`);
      assert.ok(r.status !== null, `Authorization: ${v.slice(0, 80)}: closed without an answer`);
      assert.ok([400, 403].includes(r.status), `Authorization: ${v.slice(0, 80)}: status ${r.status}`);
      const code = /<Code>([^<]*)<\/Code>/.exec(r.body)?.[1];
      assert.ok(AUTH_CODES.includes(code), `Authorization: ${v.slice(0, 80)}: code ${code}\n${r.body}`);
      assert.ok(r.head.headers['x-amzn-requestid'], 'error without x-amzn-RequestId');
    }
  });

  badTest('an Authorization header with raw non-UTF-8 bytes is refused', async () => {
    const r = await rawExchange(gw.port, Buffer.concat([
      Buffer.from('POST / HTTP/1.1\r\n' + hostLine() + '\r\nConnection: close\r\nContent-Length: 0\r\n' +
        'Authorization: AWS4-HMAC-SHA256 Credential='),
      Buffer.from([0xff, 0xfe, 0xc0, 0x80]),
      Buffer.from('/20200101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00\r\n\r\n'),
    ]));
    assertRefused(r, 'binary Authorization');
  });

  badTest('conflicting duplicate Content-Length headers are refused', async () => {
    const body = STS_BODY;
    const r = await rawExchange(gw.port, head([
      'POST / HTTP/1.1', hostLine(), 'Connection: close',
      `Content-Length: ${body.length}`, 'Content-Length: 5',
    ], body));
    assertRefused(r, 'duplicate Content-Length');
  });

  badTest('duplicate Authorization headers are refused', async () => {
    const akid = gw.accounts[0].root.accessKeyId;
    const a = `Authorization: AWS4-HMAC-SHA256 Credential=${akid}/20200101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}`;
    const r = await rawExchange(gw.port, stsPost([a, a]));
    assertRefused(r, 'duplicate Authorization');
    assert.ok(r.status !== null, 'closed without an answer');
  });

  badTest('duplicate Host headers are refused or answered with 4xx', async () => {
    const r = await rawExchange(gw.port, stsPost(['Host: evil.example']));
    assertRefused(r, 'duplicate Host');
  });

  badTest('Content-Length and Transfer-Encoding together are refused', async () => {
    const r = await rawExchange(gw.port, head([
      'POST / HTTP/1.1', hostLine(), 'Connection: close', 'Content-Length: 4', 'Transfer-Encoding: chunked',
    ], '0\r\n\r\nGET / HTTP/1.1\r\n\r\n'));
    assertRefused(r, 'CL+TE');
  });

  badTest('a malformed chunked body is refused', async () => {
    const r = await rawExchange(gw.port, head([
      'POST / HTTP/1.1', hostLine(), 'Connection: close', 'Transfer-Encoding: chunked',
    ], 'zz\r\nhello\r\n0\r\n\r\n'));
    assertRefused(r, 'bad chunk size');
  });

  badTest('invalid Content-Length values are refused', async () => {
    for (const cl of ['-1', 'abc', '1e3', '99999999999999999999999', ' 12 34']) {
      const r = await rawExchange(gw.port, head(['POST / HTTP/1.1', hostLine(), 'Connection: close',
        `Content-Length: ${cl}`], STS_BODY), { endAfter: true });
      assertRefused(r, `Content-Length: ${cl}`);
    }
  });

  badTest('200 header lines are refused or answered with 4xx', async () => {
    const lines = [];
    for (let i = 0; i < 200; i++) lines.push(`X-Filler-${i}: ${i}`);
    const r = await rawExchange(gw.port, stsPost(lines));
    assertRefused(r, '200 headers');
  });

  badTest('an 8 KB header value gets a 4xx', async () => {
    const r = await rawExchange(gw.port, stsPost([`X-Big: ${'a'.repeat(8192)}`]));
    assertRefused(r, '8 KB header');
  });

  badTest('a 100 KB header is refused', async () => {
    const r = await rawExchange(gw.port, stsPost([`X-Huge: ${'b'.repeat(100 * 1024)}`]));
    assertRefused(r, '100 KB header');
  });

  badTest('a 10 KB request line is refused', async () => {
    const r = await rawExchange(gw.port, head([`GET /${'p'.repeat(10 * 1024)} HTTP/1.1`, hostLine(), 'Connection: close']));
    assertRefused(r, '10 KB request line');
  });

  badTest('a 10 KB query string is refused', async () => {
    const r = await rawExchange(gw.port,
      head([`GET /?Action=GetCallerIdentity&X=${'q'.repeat(10 * 1024)} HTTP/1.1`, hostLine(), 'Connection: close']));
    assertRefused(r, '10 KB query');
  });

  badTest('a request without Host is refused', async () => {
    const body = STS_BODY;
    const r = await rawExchange(gw.port, head(['POST / HTTP/1.1', 'Connection: close',
      'Content-Type: application/x-www-form-urlencoded', `Content-Length: ${body.length}`], body));
    assertRefused(r, 'no Host');
  });

  badTest('an unsupported HTTP version is refused', async () => {
    const r = await rawExchange(gw.port, head(['GET / HTTP/9.9', hostLine(), 'Connection: close']));
    assertRefused(r, 'HTTP/9.9');
  });
});

describe('bodies', () => {
  badTest('a 7 MB body is refused (413) and not buffered forever', async () => {
    const total = 7 * 1024 * 1024;
    const r = await rawStreamBody(gw.port, head(['POST / HTTP/1.1', hostLine(), 'Connection: close',
      'Content-Type: application/x-www-form-urlencoded', `Content-Length: ${total}`]), total, { timeoutMs: 20000 });
    assertRefused(r, '7 MB body');
    if (r.status !== null) assert.equal(r.status, 413, `7 MB body: status ${r.status}`);
  });

  badTest('a 7 MB Content-Length with no body is refused without waiting for it', async () => {
    const r = await rawExchange(gw.port, head(['POST / HTTP/1.1', hostLine(), 'Connection: close',
      'Content-Type: application/x-www-form-urlencoded', `Content-Length: ${7 * 1024 * 1024}`]), { timeoutMs: 15000 });
    assertRefused(r, '7 MB Content-Length, no body');
    if (r.status !== null) assert.ok([408, 413].includes(r.status), `status ${r.status}`);
  });

  badTest('a signed request with a body over --max-body gets 413', async () => {
    const body = `${STS_BODY}&Pad=${'x'.repeat(MAX_BODY + 10)}`;
    let res;
    try {
      res = await sendSigned(gw, gw.accounts[0].root, { body });
    } catch (e) {
      // The server may close mid-upload; that is a refusal too.
      assert.match(String(e.cause?.code ?? e.message), /EPIPE|ECONNRESET|UND_ERR_SOCKET|other side closed|fetch failed/);
      return;
    }
    assert.equal(res.status, 413, res.text);
  });

  badTest('an unsigned body with invalid UTF-8 gets a 4xx', async () => {
    const body = Buffer.concat([Buffer.from('Action=GetCallerIdentity&Version=2011-06-15&X='), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80])]);
    const r = await rawExchange(gw.port, Buffer.concat([Buffer.from(head(['POST / HTTP/1.1', hostLine(),
      'Connection: close', 'Content-Type: application/x-www-form-urlencoded', `Content-Length: ${body.length}`])), body]));
    assertRefused(r, 'invalid UTF-8 body');
  });

  badTest('a signed body with invalid UTF-8 never causes a 5xx', async () => {
    const key = gw.accounts[0].root;
    const bodies = [
      Buffer.concat([Buffer.from(`${STS_BODY}&X=`), Buffer.from([0xff, 0xfe, 0x00, 0xc0])]),
      Buffer.from(`${STS_BODY}&X=%FF%FE%C0%80%ED%A0%80`),
      Buffer.from('Action=GetCaller%FFIdentity&Version=2011-06-15'),
      Buffer.concat([Buffer.from('Action='), Buffer.from([0xe2, 0x82]), Buffer.from('&Version=2011-06-15')]),
    ];
    for (const body of bodies) {
      const res = await sendSigned(gw, key, { body });
      assert.ok(res.status < 500, `status ${res.status} for ${JSON.stringify(body.toString('latin1'))}\n${res.text}`);
      assert.ok(res.headers.get('x-amzn-requestid'), 'no x-amzn-RequestId');
    }
  });

  badTest('a truncated body followed by a close does not hurt the server', async () => {
    const r = await rawExchange(gw.port, head(['POST / HTTP/1.1', hostLine(), 'Connection: close',
      'Content-Type: application/x-www-form-urlencoded', 'Content-Length: 1000'], 'Action=GetCa'), { endAfter: true });
    assertRefused(r, 'truncated body + FIN');
    await rawExchange(gw.port, head(['POST / HTTP/1.1', hostLine(),
      'Content-Length: 1000'], 'Action=GetCa'), { destroyAfter: true });
  });
});

describe('paths and garbage', () => {
  badTest('a path with raw invalid UTF-8 bytes is refused', async () => {
    const r = await rawExchange(gw.port, Buffer.concat([Buffer.from('GET /'), Buffer.from([0xff, 0xfe, 0x80]),
      Buffer.from(`?Action=GetCallerIdentity HTTP/1.1\r\n${hostLine()}\r\nConnection: close\r\n\r\n`)]));
    assertRefused(r, 'raw bytes in path');
  });

  badTest('a path with percent-encoded invalid UTF-8 is refused', async () => {
    for (const p of ['/%ff%fe', '/%C0%AF..%C0%AF', '/%', '/%zz', '/?%ff=%fe&Action=GetCallerIdentity']) {
      const r = await rawExchange(gw.port, head([`GET ${p} HTTP/1.1`, hostLine(), 'Connection: close']));
      assertRefused(r, `path ${p}`);
    }
  });

  badTest('pure garbage bytes are refused', async () => {
    for (const g of [randomBytes(4096), Buffer.alloc(2048, 0), Buffer.from('\r\n\r\n\r\n\r\n'),
      Buffer.from('GET\r\n\r\n'), Buffer.from(' / HTTP/1.1\r\n\r\n'), Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')]) {
      const r = await rawExchange(gw.port, g, { endAfter: true, timeoutMs: 15000 });
      assertRefused(r, `garbage ${g.subarray(0, 16).toString('hex')}`);
    }
  });

  badTest('a TLS ClientHello on the plain port is refused', async () => {
    const hello = Buffer.from('16030100a5010000a10303' + '00'.repeat(32) + '000020c02bc02fc02cc030cca9cca8c013c014009c009d002f0035000a0100', 'hex');
    const r = await rawExchange(gw.port, hello, { endAfter: true, timeoutMs: 15000 });
    assertRefused(r, 'TLS ClientHello');
  });
});

describe('slow and idle clients', () => {
  badTest('a slowloris client is cut off while others are served', async () => {
    const start = Date.now();
    const sock = net.connect({ host: '127.0.0.1', port: gw.port });
    let closedAt = null;
    const closed = new Promise((resolve) => {
      sock.on('close', () => { closedAt = Date.now(); resolve(); });
      sock.on('error', () => {});
    });
    const bytes = Buffer.from(`POST / HTTP/1.1\r\n${hostLine()}\r\nX-Slow: ${'s'.repeat(200)}`);
    let i = 0;
    const dripper = setInterval(() => {
      if (closedAt || i >= bytes.length) return;
      sock.write(bytes.subarray(i, i + 1));
      i++;
    }, 1000);
    try {
      // While the slow client dribbles, others are served promptly.
      await new Promise((r) => setTimeout(r, 2500));
      const t0 = Date.now();
      await assertStillServing();
      assert.ok(Date.now() - t0 < 3000, 'a normal request was slowed by the slowloris client');
      await Promise.race([closed, new Promise((r) => setTimeout(r, 30000 - (Date.now() - start)))]);
    } finally {
      clearInterval(dripper);
      sock.destroy();
    }
    assert.ok(closedAt !== null, 'the server never closed a client sending one byte per second (30 s)');
    assert.ok(closedAt - start < 30000);
  }, { timeout: 60000 });

  badTest('a connection that never sends anything is closed eventually', async () => {
    const r = await rawExchange(gw.port, Buffer.alloc(0), { timeoutMs: 30000 });
    assertRefused(r, 'idle connection');
  }, { timeout: 60000 });

  badTest('100 idle connections do not block a real request', async () => {
    const socks = [];
    try {
      for (let i = 0; i < 100; i++) {
        const s = net.connect({ host: '127.0.0.1', port: gw.port });
        s.on('error', () => {});
        socks.push(s);
      }
      await Promise.all(socks.map((s) => new Promise((r) => { s.once('connect', r); s.once('error', r); })));
      const t0 = Date.now();
      await assertStillServing();
      assert.ok(Date.now() - t0 < 3000, 'served slowly with idle connections open');
    } finally {
      for (const s of socks) s.destroy();
    }
  });

  badTest('a client that resets mid-request does not hurt the server', async () => {
    for (let i = 0; i < 20; i++) {
      await rawExchange(gw.port, stsPost().slice(0, 30 + i * 3), { destroyAfter: true });
    }
  });
});

describe('after the abuse', () => {
  test('no sanitizer report or crash in the server log', () => {
    const log = gw.stderr();
    assert.doesNotMatch(log, /AddressSanitizer|LeakSanitizer|runtime error:|Segmentation fault/, log.slice(-4000));
  });

  test('SIGTERM still stops the server with exit code 0', async () => {
    const st = await gw.stop();
    assert.equal(st.signal, null, `killed by ${st.signal}`);
    assert.equal(st.code, 0, gw.stderr().slice(-4000));
  });
});
