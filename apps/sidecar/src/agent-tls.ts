/**
 * The agent's certificate in the sidecar's own TLS: Node secure-context options for listeners (server
 * side, client certificate required) and clusters (client side, peer SPIFFE identity checked), kept
 * current across rotations. New connections use the new certificate; open ones keep theirs.
 *
 *   const tlsId = new WorkloadTls(agent);
 *   const server = tls.createServer(tlsId.serverOptions(), onConnection);
 *   tlsId.attachServer(server);                       // setSecureContext on each rotation
 *   tls.connect({ ...tlsId.clientOptions(['spiffe://cluster.local/ns/shop/sa/reviews']), host, port });
 */
import * as tls from 'node:tls';
import type { WorkloadCertificate } from './agent-certificate';

/** The subset of the agent WorkloadTls needs. */
export interface CertificateProvider {
  current(): WorkloadCertificate;
  onRotate(listener: (cert: WorkloadCertificate) => void): () => void;
}

/** Key, chain and trusted roots as Node secure-context options. */
export function secureContextOptions(cert: WorkloadCertificate): tls.SecureContextOptions {
  return { cert: cert.certChainPem, key: cert.privateKeyPem, ca: cert.rootCertPem };
}

/** URI SANs of a peer certificate ("URI:a, DNS:b" -> ['a']). */
export function uriSans(cert: tls.PeerCertificate | undefined): string[] {
  const names = cert?.subjectaltname;
  if (!names) return [];
  return names
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice(4));
}

/** The SPIFFE identity of a TLS socket's verified peer, or undefined. */
export function peerSpiffeId(socket: tls.TLSSocket): string | undefined {
  if (!socket.authorized) return undefined;
  return uriSans(socket.getPeerCertificate()).find((u) => u.startsWith('spiffe://'));
}

export class WorkloadTls {
  private context: tls.SecureContext;
  private readonly servers = new Set<tls.Server>();
  private readonly unsubscribe: () => void;

  constructor(private readonly provider: CertificateProvider) {
    this.context = tls.createSecureContext(secureContextOptions(provider.current()));
    this.unsubscribe = provider.onRotate((cert) => {
      const options = secureContextOptions(cert);
      this.context = tls.createSecureContext(options);
      for (const server of this.servers) server.setSecureContext(options);
    });
  }

  /** Listener side: our certificate, and a client certificate from the mesh CA is required. */
  serverOptions(): tls.TlsOptions {
    return { ...secureContextOptions(this.provider.current()), requestCert: true, rejectUnauthorized: true };
  }

  /** Keeps a server's certificate current (call once per server; detach on close is automatic). */
  attachServer(server: tls.Server): void {
    this.servers.add(server);
    server.once('close', () => this.servers.delete(server));
  }

  /**
   * Cluster side: our certificate as the client certificate, the mesh roots, and the server must present
   * one of `peerIdentities` as a URI SAN (Istio's ISTIO_MUTUAL with subjectAltNames). Empty: any mesh peer.
   */
  clientOptions(peerIdentities: readonly string[] = []): tls.ConnectionOptions {
    return {
      secureContext: this.context,
      rejectUnauthorized: true,
      checkServerIdentity: (_host, cert) => {
        if (peerIdentities.length === 0) return undefined;
        const sans = uriSans(cert);
        if (sans.some((s) => peerIdentities.includes(s))) return undefined;
        return new Error(`peer identity ${sans.join(', ') || '(none)'} is not one of ${peerIdentities.join(', ')}`);
      },
    };
  }

  close(): void {
    this.unsubscribe();
    this.servers.clear();
  }
}
