/**
 * The sidecar's node agent: obtains the workload certificate from Citadel, keeps it fresh, hands it to the
 * sidecar's own listeners and clusters (onRotate) and serves it over SDS on a Unix socket so that a real
 * Envoy can use the same identity.
 *
 *   const agent = await startNodeAgent({ identity: { namespace, serviceAccount }, caAddress, caRootCertPath,
 *     tokenPath, sdsSocketPath, logger });
 *   const { certChainPem, privateKeyPem, rootCertPem } = agent.current();
 *   agent.onRotate((cert) => tlsContexts.update(cert));
 */
import type { Logger } from '@mesh/runtime';
import type { WorkloadKeyKind } from '@mesh/xds';
import { fetchWorkloadCertificate, isRetryable, readRootBundle, trustBundle, type CertificateSourceOptions, type WorkloadCertificate } from './agent-certificate';
import { workloadIdentity, type WorkloadIdentity, type WorkloadIdentityOptions } from './agent-identity';
import { CertificateRotator, type RotateListener, type RotationOptions, type RotationStatus } from './agent-rotation';
import { SdsServer } from './agent-sds';

export interface NodeAgentOptions {
  identity: WorkloadIdentityOptions;
  /** host:port of Citadel. */
  caAddress: string;
  /** PEM file with the root(s) Citadel's serving certificate chains to. */
  caRootCertPath: string;
  caServerName?: string;
  /** File holding the bearer token, read before every request. */
  tokenPath: string;
  keyKind?: WorkloadKeyKind;
  /** Requested certificate lifetime in seconds (absent: Citadel's default, 24 h). */
  validitySeconds?: number;
  requestTimeoutMs?: number;
  /** Serve SDS on this Unix socket path (absent: no SDS). */
  sdsSocketPath?: string;
  rotation?: RotationOptions;
  /** How often the CA root file is re-read for a new trust bundle (default 60 s; 0 disables). */
  rootCheckIntervalMs?: number;
  /**
   * How long the first certificate may take while Citadel is unreachable (default 60 s). A refusal
   * (bad token, identity mismatch) fails at once.
   */
  startupTimeoutMs?: number;
  logger: Logger;
}

export interface NodeAgent {
  readonly identity: WorkloadIdentity;
  /** The Unix socket SDS is served on, when enabled. */
  readonly sdsSocketPath: string | undefined;
  current(): WorkloadCertificate;
  /** Called with each new certificate; returns the unsubscribe function. */
  onRotate(listener: RotateListener): () => void;
  rotateNow(): Promise<void>;
  /** Re-reads the CA root file now; true when the trust bundle changed (and was pushed). */
  refreshRoots(): Promise<boolean>;
  status(): RotationStatus;
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** The first certificate: retries while Citadel is unreachable, up to the startup timeout. */
async function firstCertificate(source: CertificateSourceOptions, timeoutMs: number, logger: Logger): Promise<WorkloadCertificate> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetchWorkloadCertificate(source);
    } catch (err) {
      const delay = Math.min(5000, 250 * 2 ** (attempt - 1));
      if (!isRetryable(err) || Date.now() + delay > deadline) throw err;
      logger.warn('first certificate request failed; retrying', { identity: source.identity.spiffeId, attempt, retryInMs: delay, err: (err as Error).message });
      await sleep(delay);
    }
  }
}

export async function startNodeAgent(options: NodeAgentOptions): Promise<NodeAgent> {
  const identity = workloadIdentity(options.identity);
  const logger = options.logger.child({ component: 'node-agent', identity: identity.spiffeId });
  const source: CertificateSourceOptions = {
    identity,
    caAddress: options.caAddress,
    caRootCertPath: options.caRootCertPath,
    caServerName: options.caServerName,
    tokenPath: options.tokenPath,
    keyKind: options.keyKind,
    validitySeconds: options.validitySeconds,
    requestTimeoutMs: options.requestTimeoutMs,
  };
  const initial = await firstCertificate(source, options.startupTimeoutMs ?? 60_000, logger);
  logger.info('workload certificate obtained', { serial: initial.serialNumber, notAfter: initial.notAfter.toISOString(), ca: options.caAddress });
  const sds = options.sdsSocketPath ? await SdsServer.listen(options.sdsSocketPath, initial, logger) : undefined;
  const rotator = new CertificateRotator(initial, () => fetchWorkloadCertificate(source), logger, options.rotation);
  if (sds) rotator.onRotate((cert) => sds.update(cert));

  // Istio's agent follows the mounted root: a root rotation's overlap bundle reaches SDS and subscribers
  // without waiting for the next certificate.
  const refreshRoots = async (): Promise<boolean> => {
    const roots = await readRootBundle(options.caRootCertPath);
    return rotator.updateRoots(trustBundle(roots, rotator.current().chainRootPem));
  };
  const rootCheckMs = options.rootCheckIntervalMs ?? 60_000;
  const rootTimer =
    rootCheckMs > 0
      ? setInterval(() => {
          refreshRoots().catch((err: Error) => logger.warn('cannot re-read the CA root file; keeping the trust bundle', { path: options.caRootCertPath, err: err.message }));
        }, rootCheckMs).unref()
      : undefined;

  return {
    identity,
    sdsSocketPath: options.sdsSocketPath,
    current: () => rotator.current(),
    onRotate: (listener) => rotator.onRotate(listener),
    rotateNow: () => rotator.rotateNow(),
    refreshRoots,
    status: () => rotator.status(),
    async stop() {
      if (rootTimer) clearInterval(rootTimer);
      rotator.stop();
      await sds?.close();
      logger.info('node agent stopped');
    },
  };
}
