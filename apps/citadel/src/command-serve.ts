/**
 * `serve` (the default command): load or create the CA, issue the CA's own serving certificate, start
 * the gRPC API and the monitoring server, and check the CA files periodically for a rotation.
 */
import { mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import type { Flags, Logger, Running } from '@mesh/runtime';
import { CertificateAuthority } from './ca-authority';
import { caFingerprint, loadCa, loadOrCreateCa, writeRootBundle, type CaKeyType, type CaMaterial } from './ca-store';
import { errors } from './errors';
import type { flags } from './flags';
import { CitadelMetrics } from './metrics';
import { ServingIdentity, startGrpcServer } from './server-grpc';
import { startMonitoringServer } from './server-monitoring';
import { loadOrCreateTokenKey } from './token';

const SERVING_CERT_TTL_MS = 90 * 86_400_000;
const DAY_MS = 86_400_000;

function describe(material: CaMaterial): Record<string, unknown> {
  return {
    mode: material.mode,
    signer: material.signer.description,
    signingCertNotAfter: material.signingCert.validTo,
    rootFingerprint: material.root.fingerprint256,
    trustedRoots: material.bundlePems.length,
  };
}

export interface Serving extends Running {
  grpcPort: number;
  monitoringPort: number;
}

export async function serve(f: Flags<typeof flags>, log: Logger): Promise<Serving> {
  const dir = f.caDir;
  if (f.workloadCertTtl > f.maxWorkloadCertTtl) {
    throw errors.create('ARGUMENT_INVALID', { flag: '--workload-cert-ttl', reason: 'must not exceed --max-workload-cert-ttl' });
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { material, created } = await loadOrCreateCa(dir, { trustDomain: f.trustDomain, rootTtlMs: f.selfSignedRootTtl, keyType: f.caKeyType as CaKeyType });
  log.info(created ? 'generated self-signed root CA' : 'loaded CA', { caDir: dir, ...describe(material) });
  await writeRootBundle(dir, material);
  const tokenKey = await loadOrCreateTokenKey(dir);
  // One signature per core at a time: more would only queue inside libuv's thread pool, where a request
  // whose caller gave up can no longer be dropped before it is signed.
  const authority = new CertificateAuthority(material, {
    trustDomain: f.trustDomain,
    defaultTtlMs: f.workloadCertTtl,
    maxTtlMs: f.maxWorkloadCertTtl,
    signConcurrency: availableParallelism(),
  });
  const metrics = new CitadelMetrics(() => new Date(authority.material.root.validTo));

  const host = f.grpcAddress.host;
  const dnsNames = ['localhost', ...f.dnsNames, ...(isIP(host) || host === '' ? [] : [host])];
  const ips = ['127.0.0.1', '::1', ...(isIP(host) && host !== '0.0.0.0' && host !== '::' && host !== '127.0.0.1' && host !== '::1' ? [host] : [])];
  const identity = new ServingIdentity();
  // The serving certificate is renewed at half its life, or when the root that issued it leaves the
  // trust bundle. A root rotation alone does not renew it: clients that still trust only the old root
  // keep reaching the CA during the overlap (make before break).
  let servingRenewAt = 0;
  let servingRoot = '';
  const renewServingCertificate = async (): Promise<void> => {
    const issued = await authority.issueServingCertificate({ dnsNames, ips, ttlMs: SERVING_CERT_TTL_MS });
    identity.update(issued.certChainPem, issued.keyPem);
    servingRenewAt = Date.now() + (issued.notAfter.getTime() - Date.now()) / 2;
    servingRoot = authority.material.chainPems[authority.material.chainPems.length - 1];
    log.info('serving certificate issued', { dnsNames, ips, notAfter: issued.notAfter.toISOString() });
  };
  await renewServingCertificate();

  let lastExpiryWarning = 0;
  const warnIfRootExpiring = (): void => {
    const left = Date.parse(authority.material.root.validTo) - Date.now();
    if (left < f.rootExpiryWarning && Date.now() - lastExpiryWarning > DAY_MS) {
      lastExpiryWarning = Date.now();
      log.warn('root certificate expires soon; rotate it', { rootNotAfter: authority.material.root.validTo, daysLeft: Math.floor(left / DAY_MS), caDir: dir });
    }
  };
  warnIfRootExpiring();

  let ready = false;
  const grpcServer = await startGrpcServer(f.grpcAddress, { authority, tokenKey, metrics, log, identity });
  const monitoring = await startMonitoringServer(f.monitoringAddress, {
    metrics,
    log,
    ready: () => ready,
    rootBundle: () => authority.material.bundlePems.join(''),
  }).catch(async (err: unknown) => {
    await grpcServer.stop();
    throw err;
  });
  ready = true;
  log.info('citadel serving', { grpcAddress: `${host}:${grpcServer.port}`, grpcPort: grpcServer.port, monitoringAddress: `${f.monitoringAddress.host}:${monitoring.port}`, monitoringPort: monitoring.port, trustDomain: f.trustDomain });

  let checking = false;
  const check = async (): Promise<void> => {
    const current = authority.material;
    const changed = (await caFingerprint(dir)) !== current.fingerprint || (current.bundleChangesAt !== undefined && Date.now() >= current.bundleChangesAt);
    if (changed) {
      const next = await loadCa(dir);
      if (!next) throw errors.create('CA_DIR_INVALID', { file: dir, reason: 'CA files disappeared; keeping the loaded CA' });
      authority.replace(next);
      await writeRootBundle(dir, next);
      log.info('CA reloaded', { caDir: dir, ...describe(next) });
      if (!next.bundlePems.includes(servingRoot)) servingRenewAt = 0;
    }
    if (Date.now() >= servingRenewAt) await renewServingCertificate();
    warnIfRootExpiring();
  };
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    check()
      .catch((err: Error) => log.warn('CA reload failed; still serving with the loaded CA', { caDir: dir, error: err.message, code: (err as { code?: string }).code }))
      .finally(() => {
        checking = false;
      });
  }, Math.max(50, f.caReloadInterval));
  timer.unref();

  return {
    grpcPort: grpcServer.port,
    monitoringPort: monitoring.port,
    async stop() {
      clearInterval(timer);
      ready = false;
      await Promise.all([grpcServer.stop(), monitoring.stop()]);
    },
  };
}
