/**
 * HTTP/2 upstream pool: one multiplexed session per endpoint (prior knowledge, h2c), reconnected when it
 * closes or goes away. Streams are opened on the live session.
 */
import * as http2 from 'node:http2';
import type { UpstreamTlsConfig } from './config-cluster';
import { tlsOptions } from './pool-http1';

export class Http2Pool {
  private session: http2.ClientHttp2Session | undefined = undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly connectTimeoutMs: number,
    private readonly tls: UpstreamTlsConfig | undefined = undefined,
  ) {}

  get(): http2.ClientHttp2Session {
    const s = this.session;
    if (s && !s.closed && !s.destroyed) return s;
    const scheme = this.tls ? 'https' : 'http';
    const authority = this.host.includes(':') ? `${scheme}://[${this.host}]:${this.port}` : `${scheme}://${this.host}:${this.port}`;
    const session = http2.connect(authority, { settings: { enablePush: false }, ...(this.tls ? tlsOptions(this.tls, ['h2']) : {}) });
    const timer = setTimeout(() => {
      if (session.connecting) session.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT_CONNECT' }));
    }, this.connectTimeoutMs);
    timer.unref();
    session.once('connect', () => clearTimeout(timer));
    session.on('error', () => undefined);
    session.once('close', () => {
      clearTimeout(timer);
      if (this.session === session) this.session = undefined;
    });
    session.once('goaway', () => {
      if (this.session === session) this.session = undefined;
    });
    this.session = session;
    return session;
  }

  connections(): number {
    return this.session && !this.session.destroyed ? 1 : 0;
  }

  destroy(): void {
    this.session?.destroy();
    this.session = undefined;
  }
}
