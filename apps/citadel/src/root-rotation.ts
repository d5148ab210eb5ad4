/**
 * Root rotation for the self-signed CA (the `rotate-root` command). A new root key and certificate
 * replace ca-key.pem/ca-cert.pem; the old root goes to previous-roots.json with `trustedUntil` = now +
 * overlap (capped at its own expiry). During the overlap root-cert.pem carries both roots, so every
 * certificate the old root issued keeps verifying while workloads renew from the new one. The bundle is
 * written before the signing key changes, so trust is distributed before the first new certificate.
 * A running `serve` notices the change on its next CA reload check.
 */
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { CA_FILES, generateSelfSignedRoot, loadCa, readPreviousRoots, writeFileAtomic, type CaKeyType, type PreviousRoot } from './ca-store';
import { derToPem } from './der';
import { errors } from './errors';

export interface RotationResult {
  oldRootFingerprint: string;
  newRootFingerprint: string;
  oldRootTrustedUntil: string;
  bundleSize: number;
}

export async function rotateRoot(dir: string, opts: { trustDomain: string; rootTtlMs: number; overlapMs: number; keyType?: CaKeyType; now?: number }): Promise<RotationResult> {
  const now = opts.now ?? Date.now();
  const current = await loadCa(dir, now);
  if (!current) throw errors.create('CA_DIR_INVALID', { file: path.join(dir, CA_FILES.caCert), reason: 'no CA to rotate yet; start citadel once to create the root' });
  if (current.mode !== 'self-signed') throw errors.create('ROTATE_UNSUPPORTED', { dir });
  const oldPem = derToPem(current.signingCert.raw, 'CERTIFICATE');
  const trustedUntil = new Date(Math.min(now + opts.overlapMs, Date.parse(current.signingCert.validTo))).toISOString();
  const previous: PreviousRoot[] = (await readPreviousRoots(dir)).filter((r) => Date.parse(r.trustedUntil) > now);
  previous.unshift({ certPem: oldPem, trustedUntil });
  const fresh = await generateSelfSignedRoot(opts.trustDomain, opts.rootTtlMs, now, opts.keyType);
  const bundle = [fresh.certPem, ...previous.map((r) => r.certPem)];
  await writeFileAtomic(path.join(dir, CA_FILES.previousRoots), JSON.stringify(previous, null, 2) + '\n');
  await writeFileAtomic(path.join(dir, CA_FILES.rootCert), bundle.join(''));
  await writeFileAtomic(path.join(dir, CA_FILES.caKey), fresh.keyPem, 0o600);
  await writeFileAtomic(path.join(dir, CA_FILES.caCert), fresh.certPem);
  return {
    oldRootFingerprint: current.signingCert.fingerprint256,
    newRootFingerprint: new X509Certificate(fresh.certPem).fingerprint256,
    oldRootTrustedUntil: trustedUntil,
    bundleSize: bundle.length,
  };
}
