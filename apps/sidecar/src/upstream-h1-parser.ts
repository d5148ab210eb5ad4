/**
 * The upstream HTTP/1.1 response parser of the lean client (upstream-h1-client.ts): the status line, the
 * response's framing (HEAD, 1xx, 204 and 304 have no body; otherwise chunked, Content-Length or until the
 * connection closes), and EOF handling. Refused besides what h1-framing.ts refuses: Content-Length with
 * Transfer-Encoding, conflicting Content-Length values, 101 on a plain request.
 */
import { CHUNKED_LAST, CL_VALUE, H1MessageParser, newHeaders, readHeaders, State, type ResponseHeaders } from './h1-framing';

export interface H1ResponseHandler {
  onHead(status: number, headers: ResponseHeaders, keepAlive: boolean): void;
  onBody(chunk: Buffer): void;
  onComplete(trailers: ResponseHeaders | undefined): void;
}

export class H1ResponseParser extends H1MessageParser {
  private noBody = false;
  /** bytes arrived after the response ended (the connection must not be reused) */
  extra = false;

  constructor(
    private readonly handler: H1ResponseHandler,
    maxHeaderBytes: number,
    /** chunks are views of a reused read buffer (see H1MessageParser) */
    transient = false,
  ) {
    super('upstream', maxHeaderBytes, transient);
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
    const headers = newHeaders();
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
