/**
 * HTTP/1.1 body framing and header lines, shared by both sides of the sidecar (RFC 9112 §6.3): the read
 * loop of H1MessageParser handles Content-Length, chunked Transfer-Encoding with trailers, and, for
 * responses only, the connection close; subclasses parse the start line (upstream-h1-parser.ts for
 * responses, downstream-h1-parser.ts for requests). Body bytes are handed on as views of the socket's
 * buffers, never copied. Refused, as Envoy refuses them: obs-fold, control characters in values, malformed
 * chunk sizes, an oversized head or trailer block.
 */

export type ResponseHeaders = Record<string, string | string[]>;

export const enum State {
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
export abstract class H1MessageParser {
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

export const CHUNKED_LAST = /(?:^|,)\s*chunked\s*$/;
export const CL_VALUE = /^\d{1,15}$/;

/**
 * Reads the header lines of a head (from `start`) into `headers`, counting Content-Length lines. Returns an
 * error message, or the Content-Length count and value (the last one; responses refuse differing values).
 */
export function readHeaders(headers: ResponseHeaders, text: string, start: number, who: string, request: boolean): { clCount: number; clValue: string } | string {
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
export const TCHAR = new Uint8Array(128);
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
