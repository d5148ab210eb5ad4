/**
 * A minimal, strict HTTP/1.1 message parser, shared by both sides of the sidecar: H1ResponseParser reads
 * upstream responses (lean client), H1RequestParser reads downstream requests (listener codec). One body
 * framing for both (RFC 9112 §6.3): Content-Length, chunked Transfer-Encoding with trailers, and, for
 * responses only, the connection close. Body bytes are handed on as views of the socket's buffers, never
 * copied. Refused, as Envoy refuses them: obs-fold, control characters in values, Content-Length with
 * Transfer-Encoding, conflicting Content-Length values (requests: any repeated Content-Length), a
 * Transfer-Encoding whose last coding is not chunked (requests), malformed chunk sizes, an oversized head.
 */

export type ResponseHeaders = Record<string, string | string[]>;
export type RequestHeaders = Record<string, string | string[] | undefined>;

export interface H1ResponseHandler {
  onHead(status: number, headers: ResponseHeaders, keepAlive: boolean): void;
  onBody(chunk: Buffer): void;
  onComplete(trailers: ResponseHeaders | undefined): void;
}

/** A parsed request head. `headers` has lower-cased names (duplicates joined as Node joins them). */
export interface H1RequestHead {
  method: string;
  url: string;
  /** 0 or 1 (HTTP/1.0, HTTP/1.1) */
  minor: number;
  headers: RequestHeaders;
  keepAlive: boolean;
  /** Upgrade with Connection: upgrade, or CONNECT: the connection leaves HTTP after this head */
  upgrade: boolean;
  /** a body follows (Content-Length > 0 or chunked) */
  hasBody: boolean;
}

export interface H1RequestHandler {
  onRequestHead(head: H1RequestHead): void;
  onBody(chunk: Buffer): void;
  onComplete(trailers: ResponseHeaders | undefined): void;
}

const enum State {
  Head,
  Fixed,
  ChunkSize,
  ChunkData,
  ChunkCrlf,
  Trailers,
  CloseDelimited,
  Done,
}

/** the largest chunk-size line (size, extensions) accepted */
const MAX_CHUNK_LINE = 4096;
const CRLFCRLF = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

/** Body framing and the read loop; subclasses parse the start line and headers. */
abstract class H1MessageParser {
  protected state = State.Done;
  private pending: Buffer | undefined = undefined;
  protected remaining = 0;
  private crlfSeen = 0;
  private trailers: ResponseHeaders | undefined = undefined;

  constructor(
    /** 'upstream' or 'downstream': who sent what an error message describes */
    protected readonly who: string,
    protected readonly maxHeaderBytes: number,
  ) {}

  protected abstract head(text: string): string | undefined;
  protected abstract body(chunk: Buffer): void;
  protected abstract complete(trailers: ResponseHeaders | undefined): void;
  /** bytes after the end of a message: `rest` is a view of them from offset `pos` */
  protected abstract after(data: Buffer, pos: number): void;
  /** the head is over the limit (the request side answers 431 then) */
  protected tooLarge(): string {
    return `${this.who} headers too large`;
  }

  protected begin(): void {
    this.state = State.Head;
    this.pending = undefined;
    this.remaining = 0;
    this.crlfSeen = 0;
    this.trailers = undefined;
  }

  /** true once the current message was delivered completely */
  get done(): boolean {
    return this.state === State.Done;
  }

  /** true until the first byte of a start line arrived */
  get idle(): boolean {
    return this.state === State.Head && this.pending === undefined;
  }

  /** Feeds bytes; returns an error message when the message is malformed (the connection is then unusable). */
  execute(chunk: Buffer): string | undefined {
    let data = chunk;
    if (this.pending !== undefined) {
      data = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    let pos = 0;
    const len = data.length;
    while (pos < len) {
      switch (this.state) {
        case State.Head: {
          const end = data.indexOf(CRLFCRLF, pos);
          if (end < 0) {
            if (len - pos > this.maxHeaderBytes) return this.tooLarge();
            this.pending = data.subarray(pos);
            return undefined;
          }
          if (end - pos > this.maxHeaderBytes) return this.tooLarge();
          const err = this.head(data.toString('latin1', pos, end));
          if (err !== undefined) return err;
          pos = end + 4;
          break;
        }
        case State.Fixed: {
          const n = Math.min(this.remaining, len - pos);
          this.remaining -= n;
          const view = pos === 0 && n === len ? data : data.subarray(pos, pos + n);
          pos += n;
          if (this.remaining === 0) this.state = State.Done;
          this.body(view);
          if (this.state === State.Done) this.complete(undefined);
          break;
        }
        case State.CloseDelimited:
          this.body(pos === 0 ? data : data.subarray(pos));
          return undefined;
        case State.ChunkSize: {
          const end = data.indexOf(CRLF, pos);
          if (end < 0) {
            if (len - pos > MAX_CHUNK_LINE) return `${this.who} chunk size line too long`;
            this.pending = data.subarray(pos);
            return undefined;
          }
          if (end - pos > MAX_CHUNK_LINE) return `${this.who} chunk size line too long`;
          const size = chunkSize(data.toString('latin1', pos, end));
          if (size < 0) return `${this.who} sent an invalid chunk size`;
          pos = end + 2;
          if (size === 0) {
            this.state = State.Trailers;
          } else {
            this.remaining = size;
            this.state = State.ChunkData;
          }
          break;
        }
        case State.ChunkData: {
          const n = Math.min(this.remaining, len - pos);
          this.remaining -= n;
          const view = data.subarray(pos, pos + n);
          pos += n;
          if (this.remaining === 0) {
            this.state = State.ChunkCrlf;
            this.crlfSeen = 0;
          }
          this.body(view);
          break;
        }
        case State.ChunkCrlf: {
          const expected = this.crlfSeen === 0 ? 13 : 10;
          if (data[pos] !== expected) return `${this.who} chunk not terminated by CRLF`;
          pos++;
          if (++this.crlfSeen === 2) this.state = State.ChunkSize;
          break;
        }
        case State.Trailers: {
          const end = data.indexOf(CRLF, pos);
          if (end < 0) {
            if (len - pos > this.maxHeaderBytes) return `${this.who} trailers too large`;
            this.pending = data.subarray(pos);
            return undefined;
          }
          if (end === pos) {
            pos += 2;
            this.state = State.Done;
            this.complete(this.trailers);
            break;
          }
          const t = this.trailers ?? (this.trailers = Object.create(null) as ResponseHeaders);
          const err = addHeaderLine(t, data.toString('latin1', pos, end), this.who, false);
          if (err !== undefined) return err;
          pos = end + 2;
          break;
        }
        case State.Done:
          this.after(data, pos);
          return undefined;
      }
    }
    return undefined;
  }
}

export class H1ResponseParser extends H1MessageParser {
  private noBody = false;
  /** bytes arrived after the response ended (the connection must not be reused) */
  extra = false;

  constructor(
    private readonly handler: H1ResponseHandler,
    maxHeaderBytes: number,
  ) {
    super('upstream', maxHeaderBytes);
  }

  /** Starts a new response; `noBody` for the answer to a HEAD request. */
  reset(noBody: boolean): void {
    this.begin();
    this.noBody = noBody;
    this.extra = false;
  }

  protected body(chunk: Buffer): void {
    this.handler.onBody(chunk);
  }

  protected complete(trailers: ResponseHeaders | undefined): void {
    this.handler.onComplete(trailers);
  }

  protected after(): void {
    this.extra = true;
  }

  /**
   * The connection reached EOF: completes a close-delimited body; any other unfinished response is an error.
   */
  finish(): string | undefined {
    if (this.state === State.CloseDelimited) {
      this.state = State.Done;
      this.handler.onComplete(undefined);
      return undefined;
    }
    if (this.state === State.Done) return undefined;
    return this.idle ? 'upstream closed the connection before responding' : 'upstream closed the connection mid-response';
  }

  protected head(text: string): string | undefined {
    // Status line: HTTP/1.x SP 3DIGIT [SP reason]
    let eol = text.indexOf('\r\n');
    if (eol < 0) eol = text.length;
    if (eol < 12 || !text.startsWith('HTTP/1.') || text.charCodeAt(8) !== 32 || (eol > 12 && text.charCodeAt(12) !== 32)) return 'upstream sent a malformed status line';
    const minor = text.charCodeAt(7) - 48;
    const status = Number(text.slice(9, 12));
    if ((minor !== 0 && minor !== 1) || !(status >= 100 && status <= 999) || !/^\d{3}$/.test(text.slice(9, 12))) return 'upstream sent a malformed status line';
    const headers = Object.create(null) as ResponseHeaders;
    const framing = readHeaders(headers, text, eol + 2, 'upstream', false);
    if (typeof framing === 'string') return framing;
    if (status >= 100 && status < 200) {
      // 100 Continue and other interim answers: the final response follows.
      if (status === 101) return 'upstream switched protocols on a plain request';
      return undefined;
    }
    const { clCount, clValue } = framing;
    const conn = headers.connection;
    const connText = conn === undefined ? '' : (Array.isArray(conn) ? conn.join(',') : conn).toLowerCase();
    let keepAlive = minor === 1 ? !connText.includes('close') : connText.includes('keep-alive');
    const te = headers['transfer-encoding'];
    if (this.noBody || status === 204 || status === 304) {
      this.state = State.Done;
    } else if (te !== undefined) {
      if (clCount > 0) return 'upstream sent content-length with transfer-encoding';
      const codings = (Array.isArray(te) ? te.join(',') : te).toLowerCase();
      if (CHUNKED_LAST.test(codings)) this.state = State.ChunkSize;
      else {
        this.state = State.CloseDelimited;
        keepAlive = false;
      }
    } else if (clCount > 0) {
      if (!CL_VALUE.test(clValue)) return 'upstream sent an invalid content-length';
      this.remaining = Number(clValue);
      this.state = this.remaining === 0 ? State.Done : State.Fixed;
    } else {
      this.state = State.CloseDelimited;
      keepAlive = false;
    }
    this.handler.onHead(status, headers, keepAlive);
    if (this.state === State.Done) this.handler.onComplete(undefined);
    return undefined;
  }
}

/**
 * The downstream side: one request at a time. After a request ends, bytes that follow (a pipelined request)
 * are kept in `rest` and not parsed until the connection calls `next()` (its response went out first).
 */
export class H1RequestParser extends H1MessageParser {
  /** bytes after the end of the current request (pipelined), or undefined */
  rest: Buffer | undefined = undefined;
  /** the status for the last error: 431 when the head was too large, 400 otherwise */
  errorStatus = 400;

  constructor(
    private readonly handler: H1RequestHandler,
    maxHeaderBytes: number,
  ) {
    super('downstream', maxHeaderBytes);
    this.begin();
  }

  /** Ready for the next request (the bytes in `rest`, if any, are fed by the caller). */
  next(): void {
    this.begin();
    this.rest = undefined;
  }

  protected override tooLarge(): string {
    this.errorStatus = 431;
    return 'request headers too large';
  }

  protected body(chunk: Buffer): void {
    this.handler.onBody(chunk);
  }

  protected complete(trailers: ResponseHeaders | undefined): void {
    this.handler.onComplete(trailers);
  }

  protected after(data: Buffer, pos: number): void {
    const more = pos === 0 ? data : data.subarray(pos);
    this.rest = this.rest === undefined ? more : Buffer.concat([this.rest, more]);
  }

  protected head(block: string): string | undefined {
    this.errorStatus = 400;
    let text = block;
    // A client may send empty lines before a request (RFC 9112 §2.2).
    while (text.charCodeAt(0) === 13 && text.charCodeAt(1) === 10) text = text.slice(2);
    let eol = text.indexOf('\r\n');
    if (eol < 0) eol = text.length;
    // Request line: method SP request-target SP HTTP/1.x
    const sp1 = text.indexOf(' ');
    if (sp1 <= 0 || sp1 > eol) return 'malformed request line';
    for (let i = 0; i < sp1; i++) {
      const c = text.charCodeAt(i);
      if (c > 127 || TCHAR[c] === 0) return 'malformed request method';
    }
    const sp2 = eol - 9;
    if (sp2 <= sp1 + 1 || text.charCodeAt(sp2) !== 32 || text.slice(sp2 + 1, sp2 + 8) !== 'HTTP/1.') return 'malformed request line';
    const minor = text.charCodeAt(eol - 1) - 48;
    if (minor !== 0 && minor !== 1) return 'unsupported HTTP version';
    for (let i = sp1 + 1; i < sp2; i++) {
      const c = text.charCodeAt(i);
      if (c <= 32 || c === 127) return 'malformed request target';
    }
    const method = text.slice(0, sp1);
    const url = text.slice(sp1 + 1, sp2);
    const headers = Object.create(null) as ResponseHeaders;
    const framing = readHeaders(headers, text, eol + 2, 'downstream', true);
    if (typeof framing === 'string') return framing;
    if (minor === 1 && headers.host === undefined) return 'missing host header';
    const conn = headers.connection;
    const connText = conn === undefined ? '' : (Array.isArray(conn) ? conn.join(',') : conn).toLowerCase();
    const keepAlive = minor === 1 ? !connText.includes('close') : connText.includes('keep-alive');
    const upgrade = method === 'CONNECT' || (headers.upgrade !== undefined && connText.includes('upgrade'));
    const te = headers['transfer-encoding'];
    let hasBody = false;
    if (te !== undefined) {
      if (framing.clCount > 0) return 'content-length with transfer-encoding';
      const codings = (Array.isArray(te) ? te.join(',') : te).toLowerCase();
      if (!CHUNKED_LAST.test(codings)) return 'transfer-encoding does not end with chunked';
      this.state = State.ChunkSize;
      hasBody = true;
    } else if (framing.clCount > 0) {
      if (framing.clCount > 1) return 'duplicate content-length';
      if (!CL_VALUE.test(framing.clValue)) return 'invalid content-length';
      this.remaining = Number(framing.clValue);
      hasBody = this.remaining > 0;
      this.state = hasBody ? State.Fixed : State.Done;
    } else this.state = State.Done;
    if (upgrade) this.state = State.Done;
    this.handler.onRequestHead({ method, url, minor, headers, keepAlive, upgrade, hasBody: hasBody && !upgrade });
    if (this.state === State.Done && !upgrade) this.handler.onComplete(undefined);
    return undefined;
  }
}

const CHUNKED_LAST = /(?:^|,)\s*chunked\s*$/;
const CL_VALUE = /^\d{1,15}$/;

/**
 * Reads the header lines of a head (from `start`) into `headers`, counting Content-Length lines. Returns an
 * error message, or the Content-Length count and value (the last one; responses refuse differing values).
 */
function readHeaders(headers: ResponseHeaders, text: string, start: number, who: string, request: boolean): { clCount: number; clValue: string } | string {
  let clCount = 0;
  let clValue = '';
  let pos = start;
  while (pos < text.length) {
    let end = text.indexOf('\r\n', pos);
    if (end < 0) end = text.length;
    const line = text.slice(pos, end);
    pos = end + 2;
    const err = addHeaderLine(headers, line, who, request);
    if (err !== undefined) return err;
    if (line.length > 14 && line.charCodeAt(14) === 58 && line.slice(0, 14).toLowerCase() === 'content-length') {
      const v = headers['content-length'];
      const last = Array.isArray(v) ? v[v.length - 1] : v;
      if (clCount > 0 && last !== clValue && !request) return 'upstream sent conflicting content-length values';
      clValue = last;
      clCount++;
    }
  }
  if (clCount > 1) headers['content-length'] = clValue;
  return { clCount, clValue };
}

/** tchar (RFC 9110 §5.6.2) by character code */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TCHAR[c.charCodeAt(0)] = 1;

/** Request headers whose repeats Node's server drops (the first one counts). */
const SINGLE_REQUEST_HEADERS = new Set(['host', 'authorization', 'proxy-authorization', 'content-type', 'user-agent', 'referer', 'if-modified-since', 'if-unmodified-since', 'from', 'location', 'max-forwards', 'age', 'expires', 'etag', 'last-modified', 'retry-after', 'server']);

/**
 * Adds one `name: value` line (lower-cased name; duplicates: set-cookie as a list, cookie joined by "; ",
 * others by ", "). One pass over the characters: the name must be a token, the value free of control
 * characters.
 */
function addHeaderLine(headers: ResponseHeaders, line: string, who: string, request: boolean): string | undefined {
  const n = line.length;
  const first = line.charCodeAt(0);
  if (first === 32 || first === 9) return `${who} sent an obsolete folded header line`;
  let colon = 0;
  for (; colon < n; colon++) {
    const c = line.charCodeAt(colon);
    if (c === 58) break;
    if (c > 127 || TCHAR[c] === 0) return `${who} sent an invalid header name`;
  }
  if (colon === 0 || colon === n) return `${who} sent a malformed header line`;
  let vs = colon + 1;
  let ve = n;
  while (vs < ve && (line.charCodeAt(vs) === 32 || line.charCodeAt(vs) === 9)) vs++;
  while (ve > vs && (line.charCodeAt(ve - 1) === 32 || line.charCodeAt(ve - 1) === 9)) ve--;
  for (let i = vs; i < ve; i++) {
    const c = line.charCodeAt(i);
    if ((c < 32 && c !== 9) || c === 127) return `${who} sent an invalid value for header ${line.slice(0, colon)}`;
  }
  const name = lowerName(line, colon);
  const value = line.slice(vs, ve);
  const cur = headers[name];
  if (cur === undefined) headers[name] = name === 'set-cookie' ? [value] : value;
  else if (Array.isArray(cur)) cur.push(value);
  else if (name === 'content-length') headers[name] = [cur, value];
  else if (request && SINGLE_REQUEST_HEADERS.has(name)) return undefined;
  else headers[name] = `${cur}${name === 'cookie' ? '; ' : ', '}${value}`;
  return undefined;
}

/** The header name of `line` (up to `colon`) in lower case; no new string when it already is. */
function lowerName(line: string, colon: number): string {
  for (let i = 0; i < colon; i++) {
    const c = line.charCodeAt(i);
    if (c >= 65 && c <= 90) return line.slice(0, colon).toLowerCase();
  }
  return line.slice(0, colon);
}

/** The size of a chunk-size line (hex digits, then optional extensions), or -1 when malformed. */
function chunkSize(line: string): number {
  const semi = line.indexOf(';');
  const hex = semi < 0 ? line : line.slice(0, semi).trimEnd();
  if (hex.length === 0 || hex.length > 12 || !/^[0-9a-fA-F]+$/.test(hex)) return -1;
  return parseInt(hex, 16);
}
