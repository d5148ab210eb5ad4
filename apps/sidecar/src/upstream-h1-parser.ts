/**
 * A minimal, strict HTTP/1.1 response parser for the sidecar's upstream connections: status line and
 * header block, then the body framed by Content-Length, chunked Transfer-Encoding or the connection close
 * (RFC 9112 §6.3). Body bytes are handed on as views of the socket's buffers, never copied. Refused, as
 * Envoy refuses them: obs-fold, control characters in values, Content-Length with Transfer-Encoding,
 * conflicting Content-Length values, malformed chunk sizes, an oversized header block.
 */

export type ResponseHeaders = Record<string, string | string[]>;

export interface H1ResponseHandler {
  onHead(status: number, headers: ResponseHeaders, keepAlive: boolean): void;
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

export class H1ResponseParser {
  private state = State.Done;
  private pending: Buffer | undefined = undefined;
  private remaining = 0;
  private crlfSeen = 0;
  private noBody = false;
  private trailers: ResponseHeaders | undefined = undefined;
  /** bytes arrived after the response ended (the connection must not be reused) */
  extra = false;

  constructor(
    private readonly handler: H1ResponseHandler,
    private readonly maxHeaderBytes: number,
  ) {}

  /** Starts a new response; `noBody` for the answer to a HEAD request. */
  reset(noBody: boolean): void {
    this.state = State.Head;
    this.pending = undefined;
    this.remaining = 0;
    this.crlfSeen = 0;
    this.noBody = noBody;
    this.trailers = undefined;
    this.extra = false;
  }

  /** true once the current response was delivered completely */
  get done(): boolean {
    return this.state === State.Done;
  }

  /** true until the first byte of a status line arrived */
  get idle(): boolean {
    return this.state === State.Head && this.pending === undefined;
  }

  /** Feeds bytes; returns an error message when the response is malformed (the connection is then unusable). */
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
            if (len - pos > this.maxHeaderBytes) return 'upstream response headers too large';
            this.pending = data.subarray(pos);
            return undefined;
          }
          if (end - pos > this.maxHeaderBytes) return 'upstream response headers too large';
          const err = this.head(data.toString('latin1', pos, end));
          if (err !== undefined) return err;
          pos = end + 4;
          break;
        }
        case State.Fixed: {
          const n = Math.min(this.remaining, len - pos);
          this.remaining -= n;
          const view = data.subarray(pos, pos + n);
          pos += n;
          if (this.remaining === 0) this.state = State.Done;
          this.handler.onBody(view);
          if (this.state === State.Done) this.handler.onComplete(undefined);
          break;
        }
        case State.CloseDelimited:
          this.handler.onBody(pos === 0 ? data : data.subarray(pos));
          return undefined;
        case State.ChunkSize: {
          const end = data.indexOf(CRLF, pos);
          if (end < 0) {
            if (len - pos > MAX_CHUNK_LINE) return 'upstream chunk size line too long';
            this.pending = data.subarray(pos);
            return undefined;
          }
          if (end - pos > MAX_CHUNK_LINE) return 'upstream chunk size line too long';
          const size = chunkSize(data.toString('latin1', pos, end));
          if (size < 0) return 'upstream sent an invalid chunk size';
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
          this.handler.onBody(view);
          break;
        }
        case State.ChunkCrlf: {
          const expected = this.crlfSeen === 0 ? 13 : 10;
          if (data[pos] !== expected) return 'upstream chunk not terminated by CRLF';
          pos++;
          if (++this.crlfSeen === 2) this.state = State.ChunkSize;
          break;
        }
        case State.Trailers: {
          const end = data.indexOf(CRLF, pos);
          if (end < 0) {
            if (len - pos > this.maxHeaderBytes) return 'upstream trailers too large';
            this.pending = data.subarray(pos);
            return undefined;
          }
          if (end === pos) {
            pos += 2;
            this.state = State.Done;
            this.handler.onComplete(this.trailers);
            break;
          }
          const t = this.trailers ?? (this.trailers = Object.create(null) as ResponseHeaders);
          const err = addHeaderLine(t, data.toString('latin1', pos, end));
          if (err !== undefined) return err;
          pos = end + 2;
          break;
        }
        case State.Done:
          this.extra = true;
          return undefined;
      }
    }
    return undefined;
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

  private head(text: string): string | undefined {
    // Status line: HTTP/1.x SP 3DIGIT [SP reason]
    let eol = text.indexOf('\r\n');
    if (eol < 0) eol = text.length;
    if (eol < 12 || !text.startsWith('HTTP/1.') || text.charCodeAt(8) !== 32 || (eol > 12 && text.charCodeAt(12) !== 32)) return 'upstream sent a malformed status line';
    const minor = text.charCodeAt(7) - 48;
    const status = Number(text.slice(9, 12));
    if ((minor !== 0 && minor !== 1) || !(status >= 100 && status <= 999) || !/^\d{3}$/.test(text.slice(9, 12))) return 'upstream sent a malformed status line';
    const headers = Object.create(null) as ResponseHeaders;
    let clCount = 0;
    let clValue = '';
    let start = eol + 2;
    while (start < text.length) {
      let end = text.indexOf('\r\n', start);
      if (end < 0) end = text.length;
      const line = text.slice(start, end);
      start = end + 2;
      const err = addHeaderLine(headers, line);
      if (err !== undefined) return err;
      if (line.length > 14 && line.charCodeAt(14) === 58 && line.slice(0, 14).toLowerCase() === 'content-length') {
        const v = headers['content-length'];
        const last = Array.isArray(v) ? v[v.length - 1] : v;
        if (clCount > 0 && last !== clValue) return 'upstream sent conflicting content-length values';
        clValue = last;
        clCount++;
      }
    }
    if (clCount > 1) headers['content-length'] = clValue;
    if (status >= 100 && status < 200) {
      // 100 Continue and other interim answers: the final response follows.
      if (status === 101) return 'upstream switched protocols on a plain request';
      return undefined;
    }
    const conn = headers.connection;
    const connText = conn === undefined ? '' : (Array.isArray(conn) ? conn.join(',') : conn).toLowerCase();
    let keepAlive = minor === 1 ? !connText.includes('close') : connText.includes('keep-alive');
    const te = headers['transfer-encoding'];
    if (this.noBody || status === 204 || status === 304) {
      this.state = State.Done;
    } else if (te !== undefined) {
      if (clCount > 0) return 'upstream sent content-length with transfer-encoding';
      const codings = (Array.isArray(te) ? te.join(',') : te).toLowerCase();
      if (/(?:^|,)\s*chunked\s*$/.test(codings)) this.state = State.ChunkSize;
      else {
        this.state = State.CloseDelimited;
        keepAlive = false;
      }
    } else if (clCount > 0) {
      if (!/^\d{1,15}$/.test(clValue)) return 'upstream sent an invalid content-length';
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

/** tchar (RFC 9110 §5.6.2) by character code */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TCHAR[c.charCodeAt(0)] = 1;

/**
 * Adds one `name: value` line (lower-cased name; duplicates: set-cookie as a list, others joined by ", ").
 * One pass over the characters: the name must be a token, the value free of control characters.
 */
function addHeaderLine(headers: ResponseHeaders, line: string): string | undefined {
  const n = line.length;
  const first = line.charCodeAt(0);
  if (first === 32 || first === 9) return 'upstream sent an obsolete folded header line';
  let colon = 0;
  for (; colon < n; colon++) {
    const c = line.charCodeAt(colon);
    if (c === 58) break;
    if (c > 127 || TCHAR[c] === 0) return 'upstream sent an invalid header name';
  }
  if (colon === 0 || colon === n) return 'upstream sent a malformed header line';
  let vs = colon + 1;
  let ve = n;
  while (vs < ve && (line.charCodeAt(vs) === 32 || line.charCodeAt(vs) === 9)) vs++;
  while (ve > vs && (line.charCodeAt(ve - 1) === 32 || line.charCodeAt(ve - 1) === 9)) ve--;
  for (let i = vs; i < ve; i++) {
    const c = line.charCodeAt(i);
    if ((c < 32 && c !== 9) || c === 127) return `upstream sent an invalid value for header ${line.slice(0, colon)}`;
  }
  const name = line.slice(0, colon).toLowerCase();
  const value = line.slice(vs, ve);
  const cur = headers[name];
  if (cur === undefined) headers[name] = name === 'set-cookie' ? [value] : value;
  else if (Array.isArray(cur)) cur.push(value);
  else if (name === 'content-length') headers[name] = [cur, value];
  else headers[name] = `${cur}, ${value}`;
  return undefined;
}

/** The size of a chunk-size line (hex digits, then optional extensions), or -1 when malformed. */
function chunkSize(line: string): number {
  const semi = line.indexOf(';');
  const hex = semi < 0 ? line : line.slice(0, semi).trimEnd();
  if (hex.length === 0 || hex.length > 12 || !/^[0-9a-fA-F]+$/.test(hex)) return -1;
  return parseInt(hex, 16);
}
