/**
 * One downstream HTTP/1.1 request and its response, as the listener codec (downstream-h1-connection.ts)
 * hands them to the connection manager: the small part of IncomingMessage/ServerResponse the data path
 * uses, without their stream machinery. The request body is a Readable created only when a body arrives or
 * someone asks for it. The response head is built once and written together with the first body bytes
 * (one buffer, one write for small responses); framing: the given Content-Length, else Content-Length when
 * the whole body is given to end(), else chunked (HTTP/1.1) or close-delimited (HTTP/1.0).
 */
import { STATUS_CODES, type IncomingHttpHeaders } from 'node:http';
import type * as net from 'node:net';
import { Readable, type Duplex } from 'node:stream';
import { isHeaderValue, isTokenName, type ResponseHeaders } from './h1-framing';

/** What the response needs from its connection. */
export interface H1ResponseOwner {
  readonly socket: Duplex;
  /** the response ended (all bytes handed to the socket) */
  responseDone(res: H1Response): void;
  /** pause/resume reading the socket for the request body */
  pauseBody(): void;
  resumeBody(): void;
  /** response bytes went out (stream idle timeout activity) */
  touch(): void;
}

/** Bodies up to this size are copied behind the head into one buffer (one write); larger ones go as two. */
const COALESCE_MAX = 16 * 1024;
const CRLF = '\r\n';
const LAST_CHUNK = '0\r\n\r\n';
const EMPTY = Buffer.alloc(0);

const statusLines = new Map<number, string>();
function statusLine(status: number): string {
  let line = statusLines.get(status);
  if (line === undefined) {
    line = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
    if (statusLines.size < 200) statusLines.set(status, line);
  }
  return line;
}

let dateSecond = 0;
let dateLine = '';
/** `date: <IMF-fixdate>\r\n`, recomputed at most once a second. */
function dateHeader(): string {
  const now = Date.now();
  const sec = Math.floor(now / 1000);
  if (sec !== dateSecond) {
    dateSecond = sec;
    dateLine = `date: ${new Date(now).toUTCString()}\r\n`;
  }
  return dateLine;
}

/** The request body stream: reading resumes the socket, a full buffer pauses it. */
class RequestBody extends Readable {
  constructor(private readonly owner: H1ResponseOwner) {
    super();
  }

  override _read(): void {
    this.owner.resumeBody();
  }
}

export class H1Request {
  readonly httpVersionMajor = 1;
  readonly httpVersion: string;
  /** the whole request (head and body) was received */
  complete = false;
  private stream: RequestBody | undefined = undefined;

  constructor(
    readonly method: string,
    readonly url: string,
    readonly httpVersionMinor: number,
    /** lower-case names; repeats joined as Node joins them (set-cookie a list) */
    readonly headers: IncomingHttpHeaders,
    /** the connection (a net.Socket, a TLSSocket, or a socket whose first bytes were sniffed) */
    readonly socket: net.Socket,
    readonly hasBody: boolean,
    private readonly owner: H1ResponseOwner,
  ) {
    this.httpVersion = httpVersionMinor === 1 ? '1.1' : '1.0';
  }

  /** The body as a Readable (ends at once when there is none). */
  body(): Readable {
    if (this.stream === undefined) {
      this.stream = new RequestBody(this.owner);
      if (this.complete) this.stream.push(null);
    }
    return this.stream;
  }

  /** codec: body bytes arrived */
  pushBody(chunk: Buffer): void {
    if (!this.body().push(chunk)) this.owner.pauseBody();
  }

  /** codec: the request is complete */
  finish(): void {
    this.complete = true;
    this.stream?.push(null);
  }

  /** codec: the connection closed before the request was complete */
  abort(): void {
    if (!this.complete) this.stream?.destroy();
  }
}

export class H1Response {
  headersSent = false;
  writableEnded = false;
  /** the response was sent completely (false when the connection went away first) */
  writableFinished = false;
  /** the connection closes after this response */
  closeConnection: boolean;
  /** called once when the exchange is over (sent, or the connection went away) */
  onclose: ((res: H1Response) => void) | undefined = undefined;
  /** called once after write() returned false and the socket drained */
  ondrain: (() => void) | undefined = undefined;
  /** called when the codec's request or stream idle timeout expires */
  ontimeout: ((res: H1Response, kind: 'request' | 'stream_idle') => void) | undefined = undefined;
  /** what the connection manager keeps with the exchange */
  context: unknown = undefined;
  statusCode = 200;
  closed = false;
  private head = '';
  private hasLength = false;
  private chunked = false;
  private noBody: boolean;
  private trailers: ResponseHeaders | undefined = undefined;

  constructor(
    private readonly owner: H1ResponseOwner,
    private readonly minor: number,
    keepAlive: boolean,
    head: boolean,
  ) {
    this.closeConnection = !keepAlive;
    this.noBody = head;
  }

  /**
   * Validates and keeps the head; it goes out with the first body bytes. Throws on a header name or value
   * HTTP/1.1 cannot carry (the caller answers 502 instead).
   */
  writeHead(status: number, headers?: Record<string, string | string[] | number | undefined>): this {
    if (this.headersSent) throw new Error('response headers already sent');
    let head = statusLine(status);
    let hasLength = false;
    let hasDate = false;
    if (headers !== undefined) {
      for (const name in headers) {
        const v = headers[name];
        if (v === undefined) continue;
        if (!isTokenName(name)) throw new Error(`invalid header name ${JSON.stringify(name)}`);
        const lower = name.length === 14 || name.length === 4 || name.length === 10 || name.length === 17 ? name.toLowerCase() : '';
        if (lower === 'connection' || lower === 'transfer-encoding') continue;
        if (lower === 'content-length') hasLength = true;
        else if (lower === 'date') hasDate = true;
        if (typeof v === 'string') {
          if (!isHeaderValue(name, v)) throw new Error(`invalid value for header ${name}`);
          head += `${name}: ${v}\r\n`;
        } else if (typeof v === 'number') head += `${name}: ${v}\r\n`;
        else {
          for (let i = 0; i < v.length; i++) {
            if (!isHeaderValue(name, v[i])) throw new Error(`invalid value for header ${name}`);
            head += `${name}: ${v[i]}\r\n`;
          }
        }
      }
    }
    if (!hasDate) head += dateHeader();
    this.statusCode = status;
    this.head = head;
    this.hasLength = hasLength;
    if (status < 200 || status === 204 || status === 304) this.noBody = true;
    this.headersSent = true;
    return this;
  }

  /** Only `connection: close` is honoured (drain); other headers go through writeHead. */
  setHeader(name: string, value: string): this {
    if (name.toLowerCase() === 'connection' && value.toLowerCase() === 'close') this.closeConnection = true;
    return this;
  }

  addTrailers(trailers: ResponseHeaders): void {
    this.trailers = trailers;
  }

  /**
   * `transient`: the chunk is a view of a buffer its owner reuses once this returns; it is copied unless it
   * goes out copied already (behind the head).
   */
  write(chunk: Buffer | string, transient = false): boolean {
    if (this.writableEnded || this.closed) return false;
    if (!this.headersSent) this.writeHead(this.statusCode);
    this.owner.touch();
    let buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (this.head !== '') return this.flushHead(buf, false, transient);
    if (this.noBody || buf.length === 0) return true;
    if (transient) buf = Buffer.from(buf);
    const socket = this.owner.socket;
    if (!this.chunked) return socket.write(buf);
    socket.cork();
    socket.write(`${buf.length.toString(16)}\r\n`, 'latin1');
    socket.write(buf);
    const ok = socket.write(CRLF, 'latin1');
    socket.uncork();
    return ok;
  }

  end(chunk?: Buffer | string): this {
    if (this.writableEnded || this.closed) return this;
    if (!this.headersSent) this.writeHead(this.statusCode);
    const buf = chunk === undefined ? EMPTY : typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.writableEnded = true;
    if (this.head !== '') this.flushHead(buf, true);
    else if (this.chunked) {
      const socket = this.owner.socket;
      socket.cork();
      if (buf.length > 0 && !this.noBody) {
        socket.write(`${buf.length.toString(16)}\r\n`, 'latin1');
        socket.write(buf);
        socket.write(CRLF, 'latin1');
      }
      socket.write(this.lastChunk(), 'latin1');
      socket.uncork();
    } else if (buf.length > 0 && !this.noBody) this.owner.socket.write(buf);
    this.owner.responseDone(this);
    return this;
  }

  /** Resets the exchange: the connection is closed (the downstream sees a reset, as with Node's res.destroy()). */
  destroy(): void {
    this.owner.socket.destroy();
  }

  /** The head with its framing lines, then `body` (and the end of the message when `last`), in one write. */
  private flushHead(body: Buffer, last: boolean, transient = false): boolean {
    let head = this.head;
    this.head = '';
    const bodyLen = this.noBody ? 0 : body.length;
    let suffix = '';
    if (!this.hasLength && !this.noBody) {
      if (last) head += `content-length: ${bodyLen}\r\n`;
      else if (this.minor === 1) this.chunked = true;
      else this.closeConnection = true;
    }
    if (this.chunked) {
      head += 'transfer-encoding: chunked\r\n';
      if (this.closeConnection) head += 'connection: close\r\n';
      head += CRLF;
      if (bodyLen > 0) {
        head += `${bodyLen.toString(16)}\r\n`;
        suffix = CRLF;
      }
      if (last) suffix += this.lastChunk();
    } else {
      if (this.closeConnection) head += 'connection: close\r\n';
      else if (this.minor === 0) head += 'connection: keep-alive\r\n';
      head += CRLF;
    }
    const socket = this.owner.socket;
    if (bodyLen === 0) return socket.write(suffix === '' ? head : head + suffix, 'latin1');
    if (bodyLen <= COALESCE_MAX) {
      const out = Buffer.allocUnsafe(head.length + bodyLen + suffix.length);
      out.write(head, 0, 'latin1');
      body.copy(out, head.length, 0, bodyLen);
      if (suffix !== '') out.write(suffix, head.length + bodyLen, 'latin1');
      return socket.write(out);
    }
    socket.cork();
    socket.write(head, 'latin1');
    let ok = socket.write(transient ? Buffer.from(body) : body);
    if (suffix !== '') ok = socket.write(suffix, 'latin1');
    socket.uncork();
    return ok;
  }

  private lastChunk(): string {
    const t = this.trailers;
    if (t === undefined) return LAST_CHUNK;
    let s = '0\r\n';
    for (const name in t) {
      const v = t[name];
      if (!isTokenName(name)) continue;
      for (const one of Array.isArray(v) ? v : [v]) if (isHeaderValue(name, one)) s += `${name}: ${one}\r\n`;
    }
    return `${s}\r\n`;
  }

  /** codec: the socket drained */
  drained(): void {
    const fn = this.ondrain;
    this.ondrain = undefined;
    fn?.();
  }

  /** codec: the exchange is over (sent, or the connection closed); runs the close hook once */
  close(finished: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.writableFinished = finished;
    const fn = this.onclose;
    this.onclose = undefined;
    fn?.(this);
  }
}
