/**
 * One workload certificate from Citadel: a fresh key (ECDSA P-256 by default), a CSR carrying the SPIFFE
 * URI SAN, IstioCertificateService/CreateCertificate over TLS with the bearer token. The token and the CA
 * root bundle are read from their files on every request, as Istio's agent reads the projected token and
 * the mounted root, so a refreshed token or a rotated root is picked up without a restart.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { MeshError } from '@mesh/runtime';
import { createCsr, generateWorkloadKey, GRPC_STATUS, grpcStatusName, requestCertificate, type WorkloadKeyKind } from '@mesh/xds';
import { agentErrors } from './agent-errors';
import type { WorkloadIdentity } from './agent-identity';

export interface WorkloadCertificate {
  identity: string;
  /** Leaf first, then intermediates (the root is in rootCertPem). */
  certChainPem: string;
  /** PKCS#8 PEM. */
  privateKeyPem: string;
  /** Trust bundle: the CA root file's certificates plus the chain's own root. */
  rootCertPem: string;
  notBefore: Date;
  notAfter: Date;
  /** When the agent received it (Citadel back-dates notBefore for clock skew). */
  receivedAt: Date;
  /** Leaf serial number (hex), to tell certificates apart in logs and tests. */
  serialNumber: string;
  /** The root that ended the chain Citadel returned (kept trusted while this certificate is in use). */
  chainRootPem?: string;
}

export interface CertificateSourceOptions {
  identity: WorkloadIdentity;
  /** host:port of Citadel's IstioCertificateService. */
  caAddress: string;
  /** PEM file with the root(s) Citadel's serving certificate chains to (Istio: istio-ca-root-cert). */
  caRootCertPath: string;
  /** Name checked against Citadel's serving certificate, e.g. istiod.istio-system.svc. */
  caServerName?: string;
  /** File holding the bearer token; read before every request. */
  tokenPath: string;
  /** Default ec-p256. */
  keyKind?: WorkloadKeyKind;
  /** Requested lifetime in seconds; 0 or absent takes Citadel's default. */
  validitySeconds?: number;
  /** Per-request deadline, default 10 s. */
  requestTimeoutMs?: number;
}

/** gRPC statuses meaning "the CA decided no": retrying the same request will not help. */
const REFUSALS: ReadonlySet<number> = new Set([
  GRPC_STATUS.INVALID_ARGUMENT,
  GRPC_STATUS.PERMISSION_DENIED,
  GRPC_STATUS.UNAUTHENTICATED,
  GRPC_STATUS.FAILED_PRECONDITION,
]);

function splitPem(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)?.map((p) => (p.endsWith('\n') ? p : `${p}\n`)) ?? [];
}

/** The roots of the CA root file, plus the root of our own chain when the file lacks it. */
export function trustBundle(fileRoots: readonly string[], chainRoot: string | undefined): string {
  const trust = [...fileRoots];
  if (chainRoot && !fileRoots.some((r) => r.trim() === chainRoot.trim())) trust.push(chainRoot);
  return trust.join('');
}

/** Reads the CA root file; the certificates in it, in order. */
export async function readRootBundle(path: string): Promise<string[]> {
  const roots = splitPem(await readText(path, (error) => agentErrors.create('AGENT_ROOT_UNREADABLE', { path, error })));
  if (roots.length === 0) throw agentErrors.create('AGENT_ROOT_UNREADABLE', { path, error: 'no PEM certificate in it' });
  return roots;
}

async function readText(path: string, fail: (error: string) => MeshError): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw fail((err as Error).message);
  }
}

/** True for an error worth retrying later (CA down, timeout), false for a refusal or a local problem. */
export function isRetryable(err: unknown): boolean {
  return agentErrors.is(err, 'AGENT_CA_UNAVAILABLE');
}

/** Requests a new certificate with a new key. Errors are MeshErrors with the CA's reason. */
export async function fetchWorkloadCertificate(options: CertificateSourceOptions): Promise<WorkloadCertificate> {
  const address = options.caAddress;
  const token = (await readText(options.tokenPath, (error) => agentErrors.create('AGENT_TOKEN_UNREADABLE', { path: options.tokenPath, error }))).trim();
  if (token === '') throw agentErrors.create('AGENT_TOKEN_UNREADABLE', { path: options.tokenPath, error: 'the file is empty' });
  const roots = await readRootBundle(options.caRootCertPath);

  const { privateKey, privateKeyPem } = await generateWorkloadKey(options.keyKind ?? 'ec-p256');
  const csrPem = createCsr({ privateKey, uris: [options.identity.spiffeId] });
  let chain: string[];
  try {
    chain = await requestCertificate({
      address,
      rootCertPem: roots.join(''),
      serverName: options.caServerName,
      token,
      csrPem,
      validitySeconds: options.validitySeconds,
      timeoutMs: options.requestTimeoutMs ?? 10_000,
    });
  } catch (err) {
    const e = err as { code?: unknown; details?: string; message?: string };
    const status = typeof e.code === 'number' ? grpcStatusName(e.code) : 'no gRPC status';
    const reason = e.details || e.message || String(err);
    if (typeof e.code === 'number' && REFUSALS.has(e.code)) throw agentErrors.create('AGENT_CA_REFUSED', { address, status, reason });
    throw agentErrors.create('AGENT_CA_UNAVAILABLE', { address, status, reason });
  }
  const receivedAt = new Date();

  const pems = chain.flatMap(splitPem);
  if (pems.length === 0) throw agentErrors.create('AGENT_CHAIN_INVALID', { address, reason: 'the response carries no certificate' });
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(pems[0] as string);
  } catch (err) {
    throw agentErrors.create('AGENT_CHAIN_INVALID', { address, reason: `leaf does not parse: ${(err as Error).message}` });
  }
  if (!leaf.checkPrivateKey(privateKey)) throw agentErrors.create('AGENT_CHAIN_INVALID', { address, reason: 'leaf public key does not match the key of the CSR' });
  const sans = (leaf.subjectAltName ?? '').split(',').map((s) => s.trim());
  if (!sans.includes(`URI:${options.identity.spiffeId}`)) {
    throw agentErrors.create('AGENT_CHAIN_INVALID', { address, reason: `leaf SANs "${leaf.subjectAltName ?? ''}" lack ${options.identity.spiffeId}` });
  }
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  if (!(notAfter.getTime() > receivedAt.getTime())) {
    throw agentErrors.create('AGENT_CHAIN_INVALID', { address, reason: `leaf already expired (notAfter ${notAfter.toISOString()})` });
  }

  // The last certificate of a chain longer than one is the root: trusted via rootCertPem, not sent.
  const chainRoot = pems.length > 1 ? (pems[pems.length - 1] as string) : undefined;
  const certChain = chainRoot ? pems.slice(0, -1) : pems;
  return {
    identity: options.identity.spiffeId,
    certChainPem: certChain.join(''),
    privateKeyPem,
    rootCertPem: trustBundle(roots, chainRoot),
    notBefore,
    notAfter,
    receivedAt,
    serialNumber: leaf.serialNumber,
    chainRootPem: chainRoot,
  };
}
