/**
 * The agent's Secret Discovery Service on a Unix socket (gRPC over unix:///path), as Istio's agent serves
 * Envoy: `envoy.service.secret.v3.SecretDiscoveryService/StreamSecrets` with the resources `default`
 * (certificate chain + private key) and `ROOTCA` (trusted roots). The stream machinery is @mesh/xds's
 * AdsServer; every node that connects gets the same snapshot, and a new certificate is pushed to all of
 * them.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '@mesh/runtime';
import { AdsServer, Snapshot, TYPE_URL, tlsCertificateSecret, validationContextSecret } from '@mesh/xds';
import type { WorkloadCertificate } from './agent-certificate';
import { agentErrors } from './agent-errors';

export const SDS_CERTIFICATE_NAME = 'default';
export const SDS_ROOT_NAME = 'ROOTCA';

/** The SDS version of a certificate: its serial, and a digest of the trust bundle (roots rotate alone). */
export function secretVersion(cert: WorkloadCertificate): string {
  return `${cert.serialNumber}-${createHash('sha256').update(cert.rootCertPem).digest('hex').slice(0, 8)}`;
}

/** The two SDS resources of a certificate, as a snapshot. */
export function secretSnapshot(cert: WorkloadCertificate): Snapshot {
  return new Snapshot({
    [TYPE_URL.SECRET]: {
      version: secretVersion(cert),
      resources: [tlsCertificateSecret(SDS_CERTIFICATE_NAME, cert.certChainPem, cert.privateKeyPem), validationContextSecret(SDS_ROOT_NAME, cert.rootCertPem)],
    },
  });
}

export class SdsServer {
  private snapshot: Snapshot;
  private readonly ads: AdsServer;
  private closeServer: () => Promise<void> = async () => undefined;

  private constructor(
    readonly socketPath: string,
    initial: WorkloadCertificate,
    logger: Logger,
  ) {
    this.snapshot = secretSnapshot(initial);
    this.ads = new AdsServer({
      logger,
      // Every proxy on this socket is the same workload: it gets the current certificate.
      onConnect: () => this.snapshot,
      onNack: (e) => logger.warn('SDS update rejected by the proxy', { node: e.nodeId, version: e.rejectedVersion, message: e.message }),
    });
  }

  /**
   * Listens on `socketPath` (its directory is created; a stale socket file left by a previous run is
   * removed, any other existing file is refused). Fails with MESH_ERR_SIDECAR_AGENT_SDS_BIND.
   */
  static async listen(socketPath: string, initial: WorkloadCertificate, logger: Logger): Promise<SdsServer> {
    const fail = (error: string): Error => agentErrors.create('AGENT_SDS_BIND', { socketPath, error });
    try {
      mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o750 });
      const existing = statSync(socketPath, { throwIfNoEntry: false });
      if (existing && !existing.isSocket()) throw fail('a file that is not a socket is in the way');
      if (existing) rmSync(socketPath);
    } catch (err) {
      throw agentErrors.is(err, 'AGENT_SDS_BIND') ? err : fail((err as Error).message);
    }
    const server = new SdsServer(socketPath, initial, logger);
    try {
      server.closeServer = (await server.ads.listen(`unix://${socketPath}`)).close;
    } catch (err) {
      throw fail((err as Error).message);
    }
    logger.info('SDS serving', { socketPath, identity: initial.identity, serial: initial.serialNumber });
    return server;
  }

  /** Pushes a new certificate to every connected proxy and to the ones that connect later. */
  update(cert: WorkloadCertificate): void {
    this.snapshot = secretSnapshot(cert);
    for (const nodeId of this.ads.connectedNodeIds()) this.ads.setSnapshot(nodeId, this.snapshot);
  }

  /** Node ids of the proxies currently connected. */
  connectedNodeIds(): string[] {
    return this.ads.connectedNodeIds();
  }

  async close(): Promise<void> {
    await this.closeServer();
    rmSync(this.socketPath, { force: true });
  }
}
