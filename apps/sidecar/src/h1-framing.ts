/**
 * HTTP/1.1 body framing and header lines, shared by both sides of the sidecar (RFC 9112 §6.3): the read
 * loop of H1MessageParser handles Content-Length, chunked Transfer-Encoding with trailers, and, for
 * responses only, the connection close; subclasses parse the start line (upstream-h1-parser.ts for
 * responses, downstream-h1-parser.ts for requests). Body bytes are handed on as views of the socket's
 * buffers, never copied. Refused, as Envoy refuses them: obs-fold, control characters in values, malformed
 * chunk sizes, an oversized head or trailer block.
 */

import { knownHeaderName } from './h1-header-names';

export type ResponseHeaders = Record<string, string | string[]>;

/**
 * A header object as the parsers make them: no prototype properties (a header named `__proto__` or
 * `constructor` is a plain entry), yet in V8's fast mode, where `Object.create(null)` starts in dictionary
 * mode: reads, for...in copies and the head writers run on the shapes of steady traffic.
 */
function HeaderBag(): void {
  // no fields: headers are added as they are parsed
}
HeaderBag.prototype = Object.create(null) as object;

/** An empty header object (see HeaderBag). */
export function newHeaders(): ResponseHeaders {
  return new (HeaderBag as unknown as new () => ResponseHeaders)();
}

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
    /**
     * The chunks given to execute() are views of a buffer the caller reuses once execute() returns (a socket
     * reading into one shared buffer): bytes kept for the next chunk are copied, and body views are valid only
     * during the body() call.
     */
    private readonly transient = false,
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
            this.keep(data, chunk, pos);
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
            this.keep(data, chunk, pos);
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
            this.keep(data, chunk, pos);
            return undefined;
          }
          if (end === pos) {
            pos += 2;
            this.state = State.Done;
            this.complete(this.trailers);
            break;
          }
          const t = this.trailers ?? (this.trailers = newHeaders());
          const line = data.toString('latin1', pos, end);
          const err = addHeaderLine(t, line, 0, line.length, this.who, false);
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

  /** Keeps the bytes from `pos` for the next chunk (a copy when they still live in the caller's reused buffer). */
  private keep(data: Buffer, chunk: Buffer, pos: number): void {
    const rest = data.subarray(pos);
    this.pending = this.transient && data === chunk ? Buffer.from(rest) : rest;
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
  const len = text.length;
  while (pos < len) {
    let end = text.indexOf('\r\n', pos);
    if (end < 0) end = len;
    const err = addHeaderLine(headers, text, pos, end, who, request);
    pos = end + 2;
    if (err !== undefined) return err;
    if (lineName === 'content-length') {
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

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Names already found to be tokens: steady traffic repeats a few dozen; the set stops growing at 1024. */
const TOKEN_NAMES = new Set<string>();

/** true when `name` is a token (RFC 9110 §5.6.2), i.e. can be written as a header name. */
export function isTokenName(name: string): boolean {
  if (TOKEN_NAMES.has(name)) return true;
  if (!TOKEN.test(name)) return false;
  if (TOKEN_NAMES.size < 1024) TOKEN_NAMES.add(name);
  return true;
}

/**
 * Long values found valid, by header name: the mesh's own headers (peer metadata, its id) repeat the very
 * same string on every request, and comparing it with the remembered one is cheaper than checking it again.
 */
const LONG_VALUES = new Map<string, string>();
const LONG_VALUE = 48;
const LONG_VALUE_MAX = 1024;

/**
 * true when header `name` may carry `value` on HTTP/1.1: no control character other than HTAB, no DEL,
 * nothing beyond latin1 (a CR or LF would end the line and start another).
 */
export function isHeaderValue(name: string, value: string): boolean {
  const long = value.length > LONG_VALUE;
  if (long && LONG_VALUES.get(name) === value) return true;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 32 ? c !== 9 : c === 127 || c > 255) return false;
  }
  if (long && value.length <= LONG_VALUE_MAX && (LONG_VALUES.size < 256 || LONG_VALUES.has(name))) LONG_VALUES.set(name, value);
  return true;
}

/** tchar (RFC 9110 §5.6.2) by character code */
export const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TCHAR[c.charCodeAt(0)] = 1;
/** header name characters by code (latin1): 0 not a tchar, 1 a tchar, 2 an upper-case letter */
const NAME_CHAR = new Uint8Array(256);
for (let c = 0; c < 128; c++) NAME_CHAR[c] = TCHAR[c] === 0 ? 0 : c >= 65 && c <= 90 ? 2 : 1;

/** Request headers whose repeats Node's server drops (the first one counts). */
const SINGLE_REQUEST_HEADERS = new Set(['host', 'authorization', 'proxy-authorization', 'content-type', 'user-agent', 'referer', 'if-modified-since', 'if-unmodified-since', 'from', 'location', 'max-forwards', 'age', 'expires', 'etag', 'last-modified', 'retry-after', 'server']);

/** the (lower-case) name of the line addHeaderLine read last */
let lineName = '';

/**
 * Adds the `name: value` line text[start, end) (lower-cased name; duplicates: set-cookie as a list, cookie
 * joined by "; ", others by ", "). A well-known name is matched in place (h1-header-names.ts); any other
 * gets one pass (a token; upper case noted) and is sliced out. One pass over the value (free of control
 * characters).
 */
function addHeaderLine(headers: ResponseHeaders, text: string, start: number, end: number, who: string, request: boolean): string | undefined {
  const first = text.charCodeAt(start);
  if (first === 32 || first === 9) return `${who} sent an obsolete folded header line`;
  let colon = text.indexOf(':', start);
  if (colon < 0 || colon > end) colon = end;
  let name = colon < end ? knownHeaderName(text, start, colon) : undefined;
  if (name === undefined) {
    let upper = false;
    for (let i = start; i < colon; i++) {
      const k = NAME_CHAR[text.charCodeAt(i)];
      if (k !== 1) {
        if (k !== 2) return `${who} sent an invalid header name`;
        upper = true;
      }
    }
    if (colon === start || colon === end) return `${who} sent a malformed header line`;
    name = upper ? text.slice(start, colon).toLowerCase() : text.slice(start, colon);
  }
  let vs = colon + 1;
  let ve = end;
  while (vs < ve && (text.charCodeAt(vs) === 32 || text.charCodeAt(vs) === 9)) vs++;
  while (ve > vs && (text.charCodeAt(ve - 1) === 32 || text.charCodeAt(ve - 1) === 9)) ve--;
  for (let i = vs; i < ve; i++) {
    const c = text.charCodeAt(i);
    if ((c < 32 && c !== 9) || c === 127) return `${who} sent an invalid value for header ${text.slice(start, colon)}`;
  }
  lineName = name;
  const value = text.slice(vs, ve);
  const cur = headers[name];
  if (cur === undefined) headers[name] = name === 'set-cookie' ? [value] : value;
  else if (Array.isArray(cur)) cur.push(value);
  else if (name === 'content-length') headers[name] = [cur, value];
  else if (request && SINGLE_REQUEST_HEADERS.has(name)) return undefined;
  else headers[name] = `${cur}${name === 'cookie' ? '; ' : ', '}${value}`;
  return undefined;
}

/** The size of a chunk-size line (hex digits, then optional extensions), or -1 when malformed. */
function chunkSize(line: string): number {
  const semi = line.indexOf(';');
  const hex = semi < 0 ? line : line.slice(0, semi).trimEnd();
  if (hex.length === 0 || hex.length > 12 || !/^[0-9a-fA-F]+$/.test(hex)) return -1;
  return parseInt(hex, 16);
}
