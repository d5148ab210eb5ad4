/**
 * The listener filters Envoy runs before choosing a filter chain, on the first bytes of a connection
 * (nothing is consumed: the bytes are replayed to the chain):
 * - tls_inspector: a TLS ClientHello gives transport protocol 'tls', the SNI (server name) and the ALPN
 *   list, without terminating TLS; anything else is 'raw_buffer'.
 * - http_inspector: on plaintext, the HTTP/2 preface gives ALPN 'h2c', an HTTP/1.x request line
 *   'http/1.1' or 'http/1.0'.
 * `inspect` answers 'more' until it has seen enough bytes.
 */

export interface Inspection {
  transport: 'tls' | 'raw_buffer';
  /** lower-case SNI, '' when none */
  sni: string;
  alpn: string[];
}

/** Envoy's tls_inspector max_client_hello_size default. */
export const MAX_CLIENT_HELLO = 64 * 1024;
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
/** An HTTP/1 request line longer than this is not worth waiting for (Envoy's http_inspector reads 64 KiB). */
const MAX_REQUEST_LINE = 64 * 1024;
const RAW: Inspection = { transport: 'raw_buffer', sni: '', alpn: [] };
/** RFC 9110 token characters (an HTTP method) */
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1;

const enum Hello {
  More,
  NotHello,
  TooLarge,
}

/** The handshake bytes of the first TLS records (records of type 22 concatenated), or More. */
function handshakeBytes(buf: Buffer): Buffer | Hello {
  // Common case: the whole ClientHello in the first record (no copy).
  if (buf.length >= 9 && buf[0] === 0x16 && buf[5] === 0x01) {
    const len = buf.readUInt16BE(3);
    const need = 4 + buf.readUIntBE(6, 3);
    if (need > MAX_CLIENT_HELLO) return Hello.TooLarge;
    if (need <= len && 5 + len <= buf.length) return buf.subarray(5, 5 + need);
  }
  const parts: Buffer[] = [];
  let off = 0;
  let have = 0;
  let need = -1;
  while (off + 5 <= buf.length) {
    if (buf[off] !== 0x16) return Hello.NotHello;
    const len = buf.readUInt16BE(off + 3);
    if (off + 5 + len > buf.length) return Hello.More;
    parts.push(buf.subarray(off + 5, off + 5 + len));
    have += len;
    off += 5 + len;
    if (need < 0 && have >= 4) {
      const first = Buffer.concat(parts);
      if (first[0] !== 0x01) return Hello.NotHello;
      need = 4 + first.readUIntBE(1, 3);
      if (need > MAX_CLIENT_HELLO) return Hello.TooLarge;
    }
    if (need >= 0 && have >= need) return Buffer.concat(parts).subarray(0, need);
  }
  return Hello.More;
}

/** SNI and ALPN from a complete ClientHello handshake message; undefined when it is malformed. */
function parseClientHello(h: Buffer): { sni: string; alpn: string[] } | undefined {
  let p = 4 + 2 + 32; // header, legacy_version, random
  if (p >= h.length) return undefined;
  p += 1 + h[p]; // session id
  if (p + 2 > h.length) return undefined;
  p += 2 + h.readUInt16BE(p); // cipher suites
  if (p + 1 > h.length) return undefined;
  p += 1 + h[p]; // compression methods
  const out = { sni: '', alpn: [] as string[] };
  if (p === h.length) return out; // no extensions
  if (p + 2 > h.length) return undefined;
  const end = p + 2 + h.readUInt16BE(p);
  if (end > h.length) return undefined;
  p += 2;
  while (p + 4 <= end) {
    const type = h.readUInt16BE(p);
    const len = h.readUInt16BE(p + 2);
    const body = h.subarray(p + 4, p + 4 + len);
    p += 4 + len;
    if (p > end) return undefined;
    if (type === 0 && body.length >= 2) {
      // server_name: list of (type, length, name); host_name is type 0
      let q = 2;
      while (q + 3 <= body.length) {
        const nl = body.readUInt16BE(q + 1);
        if (body[q] === 0 && q + 3 + nl <= body.length) out.sni = body.subarray(q + 3, q + 3 + nl).toString('latin1').toLowerCase();
        q += 3 + nl;
      }
    } else if (type === 16 && body.length >= 2) {
      let q = 2;
      while (q < body.length) {
        const l = body[q];
        if (q + 1 + l > body.length) return undefined;
        out.alpn.push(body.subarray(q + 1, q + 1 + l).toString('latin1'));
        q += 1 + l;
      }
    }
  }
  return out;
}

function inspectHttp(buf: Buffer): string[] | 'more' {
  const n = Math.min(buf.length, H2_PREFACE.length);
  if (buf.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) return n === H2_PREFACE.length ? ['h2c'] : 'more';
  // Not HTTP as soon as the method is not a token (TLS or binary bytes): no protocol, no waiting.
  for (let i = 0; i < buf.length && buf[i] !== 0x20; i++) if (!TOKEN[buf[i]]) return [];
  const eol = buf.indexOf('\r\n');
  if (eol < 0) return buf.length >= MAX_REQUEST_LINE ? [] : 'more';
  const line = buf.subarray(0, eol).toString('latin1');
  const m = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ \S+ HTTP\/1\.([01])$/.exec(line);
  return m ? [m[1] === '1' ? 'http/1.1' : 'http/1.0'] : [];
}

/**
 * What the configured inspectors learn from the bytes read so far, or 'more' to wait for more bytes,
 * or 'too-large' (a ClientHello beyond MAX_CLIENT_HELLO: Envoy closes the connection).
 */
export function inspect(buf: Buffer, tls: boolean, http: boolean): Inspection | 'more' | 'too-large' {
  if (tls && buf.length > 0 && buf[0] === 0x16) {
    const hs = handshakeBytes(buf);
    if (hs === Hello.TooLarge) return 'too-large';
    if (hs === Hello.More) return buf.length > MAX_CLIENT_HELLO + 1024 ? 'too-large' : 'more';
    if (hs !== Hello.NotHello) {
      const hello = parseClientHello(hs);
      if (hello) return { transport: 'tls', sni: hello.sni, alpn: hello.alpn };
    }
    return RAW;
  }
  if (!http) return RAW;
  const alpn = inspectHttp(buf);
  return alpn === 'more' ? 'more' : { transport: 'raw_buffer', sni: '', alpn };
}
