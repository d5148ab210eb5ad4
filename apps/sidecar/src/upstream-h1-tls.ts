/**
 * Sockets of the lean HTTP/1.1 client (upstream-h1-client.ts): plain TCP, or TLS with the options
 * pool-http1.ts prepares (one secure context per identity). A pool resumes the last TLS session its upstream
 * issued, which saves the certificate exchange on reconnects. A failure before a TLS connection is ready
 * (verification, handshake alert, peer gone mid-handshake) is a connect failure (503 UF), as in Envoy.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { CONNECT_ERRORS, TLS_CONNECT_FAILED } from './upstream-reset';

/** What a pool needs to open a connection. */
export interface H1Endpoint {
  readonly host: string;
  readonly port: number;
  /** TLS connect options (pool-http1.ts h1TlsOptions), or undefined for plaintext */
  readonly tls: tls.ConnectionOptions | undefined;
  /** the last TLS session the upstream issued (resumed by the next connection) */
  tlsSession: Buffer | undefined;
}

/** A new socket to the endpoint: plain TCP, or TLS (ready on 'secureConnect' instead of 'connect'). */
export function openSocket(ep: H1Endpoint): net.Socket {
  if (ep.tls === undefined) return net.connect({ host: ep.host, port: ep.port, noDelay: true });
  const socket = tls.connect({ ...ep.tls, host: ep.host, port: ep.port, session: ep.tlsSession });
  socket.setNoDelay(true);
  socket.on('session', (session: Buffer) => {
    ep.tlsSession = session;
  });
  return socket;
}

/** The event that says a socket from openSocket can carry requests. */
export function readyEvent(ep: H1Endpoint): 'connect' | 'secureConnect' {
  return ep.tls === undefined ? 'connect' : 'secureConnect';
}

/** An error of a TLS connection before it was ready, as a connect failure (keeps a code that is one already). */
export function tlsConnectError(err: NodeJS.ErrnoException): NodeJS.ErrnoException {
  if (err.code !== undefined && CONNECT_ERRORS.has(err.code)) return err;
  return Object.assign(new Error(`TLS connect failed: ${err.message}`), { code: TLS_CONNECT_FAILED, cause: err });
}
