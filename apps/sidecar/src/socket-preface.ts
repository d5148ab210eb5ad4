/**
 * A socket whose first bytes were already read (to sniff the HTTP/2 preface), as a Duplex that replays
 * them. HTTP/2 sessions read from the socket handle directly, so bytes put back with unshift() would be
 * lost; this wrapper has no handle, and Node wraps it for the session instead. Backpressure passes
 * through (pause the socket when the reader is full, resume on read).
 */
import { Duplex } from 'node:stream';
import type * as net from 'node:net';

export class PrefacedSocket extends Duplex {
  constructor(
    private readonly socket: net.Socket,
    first: Buffer,
  ) {
    super({ allowHalfOpen: false });
    this.push(first);
    socket.on('data', (d: Buffer) => {
      if (!this.push(d)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('close', () => this.destroy());
    socket.on('error', (e) => this.destroy(e));
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }

  get localPort(): number | undefined {
    return this.socket.localPort;
  }

  /** Idle timeouts run on the TCP socket underneath (all bytes pass through it). */
  setTimeout(ms: number, onTimeout?: () => void): this {
    this.socket.setTimeout(ms, onTimeout);
    return this;
  }

  setNoDelay(noDelay?: boolean): this {
    this.socket.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable?: boolean, delayMs?: number): this {
    this.socket.setKeepAlive(enable, delayMs);
    return this;
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.socket.write(chunk, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.socket.end(cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.socket.destroy();
    cb(err);
  }
}
