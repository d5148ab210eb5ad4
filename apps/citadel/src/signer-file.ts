/**
 * File-backed signer: the CA key read from ca-key.pem, signing with node:crypto: RSA on libuv's thread
 * pool (~0.4-0.8 ms per signature, the event loop serves other calls meanwhile), EC on the event loop
 * (~0.03-0.05 ms, less than a hop to the pool and back costs in CPU).
 * RSA keys sign sha256WithRSAEncryption (PKCS#1 v1.5); EC keys sign ecdsa-with-SHA256 (P-256) or
 * ecdsa-with-SHA384 (P-384). node-forge builds the certificate; its pure-JS RSA signing is ~20x slower
 * than node:crypto and it cannot sign with EC keys at all, so the signature itself is computed here.
 */
import { createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { errors } from './errors';
import type { Signer } from './signer';

const RSA_SHA256 = Buffer.from('300d06092a864886f70d01010b0500', 'hex');
const ECDSA_SHA256 = Buffer.from('300a06082a8648ce3d040302', 'hex');
const ECDSA_SHA384 = Buffer.from('300a06082a8648ce3d040303', 'hex');

export class FileSigner implements Signer {
  readonly description: string;
  readonly publicKey: KeyObject;
  readonly algorithmIdentifier: Buffer;
  private readonly hash: string;
  private readonly onEventLoop: boolean;

  constructor(private readonly key: KeyObject) {
    this.publicKey = createPublicKey(key);
    const details = key.asymmetricKeyDetails ?? {};
    this.onEventLoop = key.asymmetricKeyType === 'ec';
    if (key.asymmetricKeyType === 'rsa') {
      this.description = `RSA ${details.modulusLength}`;
      this.algorithmIdentifier = RSA_SHA256;
      this.hash = 'sha256';
    } else if (key.asymmetricKeyType === 'ec' && (details.namedCurve === 'prime256v1' || details.namedCurve === 'secp384r1')) {
      const p384 = details.namedCurve === 'secp384r1';
      this.description = p384 ? 'EC P-384' : 'EC P-256';
      this.algorithmIdentifier = p384 ? ECDSA_SHA384 : ECDSA_SHA256;
      this.hash = p384 ? 'sha384' : 'sha256';
    } else {
      throw new Error(`CA key type ${key.asymmetricKeyType} ${details.namedCurve ?? ''} is not supported; use RSA or EC P-256/P-384`);
    }
  }

  sign(tbs: Buffer): Promise<Buffer> {
    if (this.onEventLoop) {
      try {
        return Promise.resolve(sign(this.hash, tbs, this.key));
      } catch (err) {
        return Promise.reject(errors.create('SIGN_FAILED', { reason: (err as Error).message }));
      }
    }
    return new Promise((resolve, reject) => {
      sign(this.hash, tbs, this.key, (err, signature) => {
        if (err) reject(errors.create('SIGN_FAILED', { reason: err.message }));
        else resolve(signature);
      });
    });
  }
}

/** Builds a signer from a PEM private key (PKCS#1, PKCS#8 or SEC1); throws a message naming the file. */
export function fileSignerFromPem(pem: string, file: string): FileSigner {
  try {
    return new FileSigner(createPrivateKey(pem));
  } catch (err) {
    throw errors.create('CA_DIR_INVALID', { file, reason: (err as Error).message });
  }
}
