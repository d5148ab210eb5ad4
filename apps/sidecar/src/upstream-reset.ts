/**
 * What an upstream failure was, in Envoy's terms: a failed connect (UF, retried under connect-failure) or a
 * reset (UPE, UR or UC, retried under reset), with the status and reset reason of the local reply.
 */
import * as http2 from 'node:http2';
import { Flag } from './response-flags';

/**
 * The code the lean HTTP/1.1 client gives a failure before a TLS connection was ready that has no connect
 * code of its own (handshake alert, peer gone mid-handshake, a certificate the context cannot load).
 */
export const TLS_CONNECT_FAILED = 'ETLS_CONNECT_FAILED';

/** error codes that mean the connection to the upstream was never made */
export const CONNECT_ERRORS = new Set([TLS_CONNECT_FAILED, 'ERR_TLS_CERT_ALTNAME_INVALID', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'CERT_HAS_EXPIRED', 'ECONNREFUSED', 'ETIMEDOUT_CONNECT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * How Envoy 1.36 reports an upstream reset (checked against the real binary): an HTTP/1 response the
 * proxy's parser refuses is a protocol error (502, UPE); an HTTP/2 stream reset by the upstream is a remote
 * reset (503 UR; "remote refused stream reset" for REFUSED_STREAM), also when the response had started;
 * anything else is the connection ending (503 UC).
 */
export function resetKind(err: NodeJS.ErrnoException & { rstCode?: number }): { flag: number; status: number; reason: string } {
  const code = err.code ?? '';
  if (code.startsWith('HPE_')) return { flag: Flag.UPE, status: 502, reason: 'protocol error' };
  if (code === 'ERR_HTTP2_STREAM_ERROR') {
    if (err.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM) return { flag: Flag.UR, status: 503, reason: 'remote refused stream reset' };
    return { flag: Flag.UR, status: 503, reason: 'remote reset' };
  }
  return { flag: Flag.UC, status: 503, reason: 'connection termination' };
}
