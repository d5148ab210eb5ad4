/**
 * The CA material in --ca-dir, Istio's layouts:
 *   self-signed (istio-ca-secret): ca-cert.pem + ca-key.pem, generated on first start, never regenerated
 *     while either exists; root-cert.pem is written by us as the distributed bundle (current root plus
 *     the roots listed in previous-roots.json whose overlap has not ended).
 *   plugged-in (cacerts): ca-cert.pem + ca-key.pem (an intermediate), cert-chain.pem (intermediate up to
 *     the root), root-cert.pem (the organisation's root bundle, ours to read, never to write).
 * Loading checks that key and certificate match and that the chain links up to a root, and names the
 * file that is wrong.
 */
import { createHash, createPrivateKey, generateKeyPair, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildCertificate, caExtensions, organizationName } from './cert-build';
import { certificateParts, keyIdentifier, splitCertificates, derToPem, type CertificateParts } from './der';
import { errors } from './errors';
import { fileSignerFromPem } from './signer-file';
import type { Signer } from './signer';

export const CA_FILES = {
  caCert: 'ca-cert.pem',
  caKey: 'ca-key.pem',
  rootCert: 'root-cert.pem',
  certChain: 'cert-chain.pem',
  previousRoots: 'previous-roots.json',
} as const;

export type CaMode = 'self-signed' | 'plugged-in';

export interface PreviousRoot {
  certPem: string;
  /** ISO time until which the old root stays in the distributed bundle. */
  trustedUntil: string;
}

export interface CaMaterial {
  mode: CaMode;
  signer: Signer;
  signingCert: X509Certificate;
  signingParts: CertificateParts;
  /** What follows the leaf in every issued chain: the signing certificate ... the root (last). */
  chainPems: string[];
  /** The root that ends `chainPems`. */
  root: X509Certificate;
  /** The distributed trust bundle (root-cert.pem), one PEM per root. */
  bundlePems: string[];
  /** Hash of the input files, to notice a rotation or replacement. */
  fingerprint: string;
  /** When an overlap ends and the bundle must shrink (self-signed mode), as epoch ms. */
  bundleChangesAt?: number;
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw errors.create('CA_DIR_INVALID', { file, reason: (err as Error).message });
  }
}

/** Writes through a temporary file and a rename, so a reader never sees half a file. */
export async function writeFileAtomic(file: string, content: string, mode = 0o644): Promise<void> {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, content, { mode });
  await rename(tmp, file);
}

function certificate(pem: string, file: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw errors.create('CA_DIR_INVALID', { file, reason: `not a PEM certificate (${(err as Error).message})` });
  }
}

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

export async function readPreviousRoots(dir: string): Promise<PreviousRoot[]> {
  const file = path.join(dir, CA_FILES.previousRoots);
  const text = await readOptional(file);
  if (text === undefined) return [];
  try {
    const list = JSON.parse(text) as PreviousRoot[];
    if (!Array.isArray(list) || list.some((r) => typeof r.certPem !== 'string' || Number.isNaN(Date.parse(r.trustedUntil)))) throw new Error('expected [{certPem, trustedUntil}]');
    return list;
  } catch (err) {
    throw errors.create('CA_DIR_INVALID', { file, reason: (err as Error).message });
  }
}

export const CA_KEY_TYPES = ['rsa-2048', 'rsa-3072', 'ec-p256', 'ec-p384'] as const;
export type CaKeyType = (typeof CA_KEY_TYPES)[number];

function generateCaKey(type: CaKeyType): Promise<KeyObject> {
  return new Promise<KeyObject>((resolve, reject) => {
    const done = (err: Error | null, _pub: KeyObject, priv: KeyObject): void => (err ? reject(err) : resolve(priv));
    if (type === 'rsa-2048' || type === 'rsa-3072') generateKeyPair('rsa', { modulusLength: type === 'rsa-2048' ? 2048 : 3072 }, done);
    else generateKeyPair('ec', { namedCurve: type === 'ec-p256' ? 'prime256v1' : 'secp384r1' }, done);
  });
}

/** Generates a self-signed root (key by node:crypto, RSA 2048 unless asked otherwise), O=<trust domain>, CA:TRUE. */
export async function generateSelfSignedRoot(trustDomain: string, ttlMs: number, now = Date.now(), keyType: CaKeyType = 'rsa-2048'): Promise<{ certPem: string; keyPem: string }> {
  const key = await generateCaKey(keyType);
  const keyPem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  const signer = fileSignerFromPem(keyPem, 'generated key');
  const spki = signer.publicKey.export({ type: 'spki', format: 'der' });
  const name = organizationName(trustDomain);
  const der = await buildCertificate(
    { notBefore: new Date(now - 60_000), notAfter: new Date(now + ttlMs), issuerName: name, subjectName: name, spki, extensions: caExtensions(keyIdentifier(spki)) },
    signer,
  );
  return { certPem: derToPem(der, 'CERTIFICATE'), keyPem };
}

/** Loads the CA from `dir`; undefined when the directory holds no CA yet (neither ca-cert nor ca-key). */
export async function loadCa(dir: string, now = Date.now()): Promise<CaMaterial | undefined> {
  const file = (name: string): string => path.join(dir, name);
  const [certPem, keyPem, chainText] = await Promise.all([
    readOptional(file(CA_FILES.caCert)),
    readOptional(file(CA_FILES.caKey)),
    readOptional(file(CA_FILES.certChain)),
  ]);
  if (certPem === undefined && keyPem === undefined) return undefined;
  if (certPem === undefined || keyPem === undefined) {
    const missing = certPem === undefined ? CA_FILES.caCert : CA_FILES.caKey;
    throw errors.create('CA_DIR_INVALID', { file: file(missing), reason: 'missing while its partner exists; restore it (the CA is never regenerated over existing material)' });
  }
  const signer = fileSignerFromPem(keyPem, file(CA_FILES.caKey));
  const signingCert = certificate(certPem, file(CA_FILES.caCert));
  if (!signingCert.checkPrivateKey(createPrivateKey(keyPem))) {
    throw errors.create('CA_DIR_INVALID', { file: file(CA_FILES.caKey), reason: `does not match the public key of ${CA_FILES.caCert}` });
  }
  if (!signingCert.ca) throw errors.create('CA_DIR_INVALID', { file: file(CA_FILES.caCert), reason: 'is not a CA certificate (basicConstraints CA:TRUE)' });
  if (Date.parse(signingCert.validTo) <= now) throw errors.create('CA_DIR_INVALID', { file: file(CA_FILES.caCert), reason: `expired at ${signingCert.validTo}` });
  const signingParts = certificateParts(signingCert.raw);
  const fingerprintParts = [certPem, keyPem, chainText ?? ''];

  if (chainText === undefined) {
    if (!issuedBy(signingCert, signingCert)) {
      throw errors.create('CA_DIR_INVALID', { file: file(CA_FILES.certChain), reason: `missing: ${CA_FILES.caCert} is not self-signed, so cert-chain.pem and root-cert.pem are required (plugged-in CA)` });
    }
    const previous = await readPreviousRoots(dir);
    fingerprintParts.push(JSON.stringify(previous));
    const caPem = derToPem(signingCert.raw, 'CERTIFICATE');
    const overlapping = previous.filter((r) => Date.parse(r.trustedUntil) > now);
    const stillTrusted = overlapping
      .flatMap((r) => splitCertificates(r.certPem))
      .filter((pem) => pem !== caPem && Date.parse(new X509Certificate(pem).validTo) > now);
    const bundleChangesAt = overlapping.length > 0 ? Math.min(...overlapping.map((r) => Date.parse(r.trustedUntil))) : undefined;
    return { mode: 'self-signed', signer, signingCert, signingParts, chainPems: [caPem], root: signingCert, bundlePems: [caPem, ...stillTrusted], fingerprint: hash(fingerprintParts), bundleChangesAt };
  }

  const rootText = await readOptional(file(CA_FILES.rootCert));
  if (rootText === undefined) throw errors.create('CA_DIR_INVALID', { file: file(CA_FILES.rootCert), reason: 'missing; a plugged-in CA needs the organisation root' });
  fingerprintParts.push(rootText);
  const roots = splitCertificates(rootText).map((pem) => certificate(pem, file(CA_FILES.rootCert)));
  if (roots.length === 0) throw errors.create('CA_DIR_INVALID', { file: file(CA_FILES.rootCert), reason: 'contains no certificate' });
  const chain = splitCertificates(chainText).map((pem) => certificate(pem, file(CA_FILES.certChain)));
  if (chain.length === 0 || chain[0].fingerprint256 !== signingCert.fingerprint256) chain.unshift(signingCert);
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!issuedBy(chain[i], chain[i + 1])) {
      throw errors.create('CA_DIR_INVALID', { file: file(CA_FILES.certChain), reason: `certificate ${i + 1} (${chain[i].subject.replace(/\n/g, ', ')}) is not signed by the next one` });
    }
  }
  const last = chain[chain.length - 1];
  let root = roots.find((r) => r.fingerprint256 === last.fingerprint256 && issuedBy(last, last));
  if (!root) {
    root = roots.find((r) => issuedBy(last, r));
    if (!root) throw errors.create('CA_DIR_INVALID', { file: file(CA_FILES.certChain), reason: `does not end at a root in ${CA_FILES.rootCert}` });
    chain.push(root);
  }
  return {
    mode: 'plugged-in',
    signer,
    signingCert,
    signingParts,
    chainPems: chain.map((c) => derToPem(c.raw, 'CERTIFICATE')),
    root,
    bundlePems: roots.map((r) => derToPem(r.raw, 'CERTIFICATE')),
    fingerprint: hash(fingerprintParts),
  };
}

function hash(parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
}

/** Cheap change detection for the reload loop: the same hash loadCa computes, without parsing. */
export async function caFingerprint(dir: string): Promise<string> {
  const names = [CA_FILES.caCert, CA_FILES.caKey, CA_FILES.certChain];
  const texts = await Promise.all(names.map((n) => readOptional(path.join(dir, n))));
  const parts = texts.map((t) => t ?? '');
  if (texts[2] === undefined) parts.push(JSON.stringify(await readPreviousRoots(dir)));
  else parts.push((await readOptional(path.join(dir, CA_FILES.rootCert))) ?? '');
  return hash(parts);
}

/** Loads the CA, generating a self-signed root on first start. */
export async function loadOrCreateCa(dir: string, opts: { trustDomain: string; rootTtlMs: number; keyType?: CaKeyType }): Promise<{ material: CaMaterial; created: boolean }> {
  const existing = await loadCa(dir);
  if (existing) return { material: existing, created: false };
  const { certPem, keyPem } = await generateSelfSignedRoot(opts.trustDomain, opts.rootTtlMs, Date.now(), opts.keyType);
  // Key first, exclusively: if another process created a CA meanwhile, keep theirs.
  try {
    await writeFile(path.join(dir, CA_FILES.caKey), keyPem, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw errors.create('CA_DIR_INVALID', { file: path.join(dir, CA_FILES.caKey), reason: (err as Error).message });
    const other = await loadCa(dir);
    if (other) return { material: other, created: false };
    throw errors.create('CA_DIR_INVALID', { file: path.join(dir, CA_FILES.caKey), reason: 'appeared during CA creation without its certificate' });
  }
  await writeFileAtomic(path.join(dir, CA_FILES.caCert), certPem);
  const material = await loadCa(dir);
  if (!material) throw errors.create('CA_DIR_INVALID', { file: dir, reason: 'CA files vanished right after creation' });
  return { material, created: true };
}

/** Self-signed mode: (re)writes root-cert.pem, the distributed bundle. Plugged-in mode never writes it. */
export async function writeRootBundle(dir: string, material: CaMaterial): Promise<void> {
  if (material.mode !== 'self-signed') return;
  const file = path.join(dir, CA_FILES.rootCert);
  const content = material.bundlePems.join('');
  if ((await readOptional(file)) !== content) await writeFileAtomic(file, content);
}
