// Raw TCP client for malformed-HTTP tests: sends exact bytes and reports what
// came back, whether the server closed the connection, and whether we gave up.
import net from 'node:net';

/**
 * Parses the head of an HTTP/1.x response held in `buf`.
 * Returns null until the blank line has arrived.
 */
export function parseResponseHead(buf) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: m ? Number(m[1]) : null, statusLine: lines[0], headers, bodyStart: end + 4 };
}

/**
 * Opens a connection to `port`, writes `payload` (Buffer/string, or an array of
 * them written in order), and waits until a full response has arrived, the
 * server closes, or `timeoutMs` passes.
 *
 * Options:
 *   timeoutMs    give up after this long (default 10000)
 *   endAfter     half-close (FIN) after writing (default false)
 *   destroyAfter reset the connection right after writing (default false)
 *
 * Resolves {status, head, body, raw, closed, timedOut, error}.
 */
export function rawExchange(port, payload, opts = {}) {
  const timeoutMs = opts.timeoutMs ?? 10000;
  const parts = Array.isArray(payload) ? payload : [payload];
  return new Promise((resolve) => {
    const chunks = [];
    let settled = false;
    let closed = false;
    let error = null;
    const sock = net.connect({ host: '127.0.0.1', port });
    const finish = (timedOut) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const raw = Buffer.concat(chunks);
      const head = parseResponseHead(raw);
      sock.destroy();
      resolve({
        status: head?.status ?? null,
        head,
        body: head ? raw.subarray(head.bodyStart).toString('utf8') : '',
        raw,
        closed,
        timedOut,
        error,
      });
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    const complete = () => {
      const raw = Buffer.concat(chunks);
      const head = parseResponseHead(raw);
      if (!head) return false;
      const cl = head.headers['content-length'];
      if (cl !== undefined) return raw.length - head.bodyStart >= Number(cl);
      return false; // no length: read until close
    };
    sock.on('data', (d) => {
      chunks.push(d);
      if (complete()) finish(false);
    });
    sock.on('error', (e) => {
      error = e;
      closed = true;
      finish(false);
    });
    sock.on('close', () => {
      closed = true;
      finish(false);
    });
    sock.on('connect', async () => {
      for (const p of parts) {
        if (sock.destroyed) return;
        const ok = sock.write(p);
        if (!ok) await new Promise((r) => sock.once('drain', r).once('close', r));
      }
      if (opts.destroyAfter) {
        closed = true;
        sock.resetAndDestroy?.() ?? sock.destroy();
        finish(false);
      } else if (opts.endAfter) {
        sock.end();
      }
    });
  });
}

/**
 * Streams `total` bytes of body after `head`, stopping as soon as the server
 * answers or closes. Resolves like rawExchange, plus {sent}.
 */
export function rawStreamBody(port, head, total, opts = {}) {
  const timeoutMs = opts.timeoutMs ?? 20000;
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  return new Promise((resolve) => {
    const chunks = [];
    let settled = false;
    let closed = false;
    let error = null;
    let sent = 0;
    const sock = net.connect({ host: '127.0.0.1', port });
    const finish = (timedOut) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const raw = Buffer.concat(chunks);
      const h = parseResponseHead(raw);
      sock.destroy();
      resolve({ status: h?.status ?? null, head: h, body: h ? raw.subarray(h.bodyStart).toString('utf8') : '',
        raw, closed, timedOut, error, sent });
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    sock.on('data', (d) => {
      chunks.push(d);
      const h = parseResponseHead(Buffer.concat(chunks));
      if (h) {
        const cl = h.headers['content-length'];
        if (cl !== undefined && Buffer.concat(chunks).length - h.bodyStart >= Number(cl)) finish(false);
      }
    });
    sock.on('error', (e) => { error = e; closed = true; finish(false); });
    sock.on('close', () => { closed = true; finish(false); });
    sock.on('connect', async () => {
      sock.write(head);
      while (sent < total && !settled && !sock.destroyed) {
        const n = Math.min(chunk.length, total - sent);
        const ok = sock.write(n === chunk.length ? chunk : chunk.subarray(0, n));
        sent += n;
        if (!ok) await new Promise((r) => { sock.once('drain', r); sock.once('close', r); });
      }
    });
  });
}
