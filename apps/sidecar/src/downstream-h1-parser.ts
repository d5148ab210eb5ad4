/**
 * The downstream HTTP/1.1 request parser of the listener codec (downstream-h1-connection.ts): the request
 * line, the request's framing (chunked or Content-Length; upgrades and CONNECT leave HTTP after the head)
 * and pipelined bytes kept for later. Refused besides what h1-framing.ts refuses: Content-Length with
 * Transfer-Encoding, any repeated Content-Length, a Transfer-Encoding whose last coding is not chunked, a
 * missing Host on HTTP/1.1; a head over the limit answers 431.
 */
import { CHUNKED_LAST, CL_VALUE, H1MessageParser, newHeaders, readHeaders, State, TCHAR, type ResponseHeaders } from './h1-framing';

export type RequestHeaders = Record<string, string | string[] | undefined>;

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
    const headers = newHeaders();
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
