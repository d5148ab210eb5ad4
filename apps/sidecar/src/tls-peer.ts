/**
 * The verified peer identity of a downstream connection, recorded once when the TLS handshake completes
 * and read by filters (source.principal) through the request's socket (for HTTP/2 Node hands out a proxy
 * of the session's socket; property reads pass through it).
 */
import type * as tls from 'node:tls';
import { peerSpiffeId } from './agent-tls';

const PRINCIPAL = 'meshPeerPrincipal';

interface WithPrincipal {
  [PRINCIPAL]?: string;
}

/** Records the SPIFFE id of a verified TLS peer on its socket; returns it ('' when none). */
export function recordPeerPrincipal(socket: tls.TLSSocket): string {
  const id = peerSpiffeId(socket) ?? '';
  (socket as WithPrincipal)[PRINCIPAL] = id;
  return id;
}

/** The SPIFFE id recorded on a socket, '' for plaintext or an unverified peer. */
export function peerPrincipalOf(socket: unknown): string {
  if (socket === null || typeof socket !== 'object') return '';
  return (socket as WithPrincipal)[PRINCIPAL] ?? '';
}
