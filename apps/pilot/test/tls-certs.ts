/** Test PKI for the gateway TLS tests: a CA and leaf certificates with DNS SANs (node-forge, RSA 2048). */
import { generateKeyPairSync } from 'node:crypto';
import * as https from 'node:https';
import forge from 'node-forge';

export interface Pem {
  cert: string;
  key: string;
}

function keys(): { forgeKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.PublicKey; pem: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const k = forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey;
  return { forgeKey: k, publicKey: forge.pki.setRsaPublicKey(k.n, k.e), pem: privateKey };
}

function sign(subject: string, issuer: { name: string; key: forge.pki.rsa.PrivateKey } | undefined, ca: boolean, dnsNames: string[]): Pem & { forgeKey: forge.pki.rsa.PrivateKey } {
  const k = keys();
  const cert = forge.pki.createCertificate();
  cert.publicKey = k.publicKey;
  cert.serialNumber = `1${forge.util.bytesToHex(forge.random.getBytesSync(8))}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 3600_000);
  cert.setSubject([{ name: 'commonName', value: subject }]);
  cert.setIssuer([{ name: 'commonName', value: issuer?.name ?? subject }]);
  cert.setExtensions(
    ca
      ? [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }]
      : [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
          { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
          { name: 'subjectAltName', altNames: dnsNames.map((value) => ({ type: 2, value })) },
        ],
  );
  cert.sign(issuer?.key ?? k.forgeKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: k.pem, forgeKey: k.forgeKey };
}

export class TestCa {
  private readonly root: ReturnType<typeof sign>;

  constructor(readonly name: string) {
    this.root = sign(name, undefined, true, []);
  }

  get cert(): string {
    return this.root.cert;
  }

  /** A leaf for these DNS names (server and client usage). */
  issue(...dnsNames: string[]): Pem {
    const leaf = sign(dnsNames[0] ?? 'client', { name: this.name, key: this.root.forgeKey }, false, dnsNames);
    return { cert: leaf.cert, key: leaf.key };
  }
}

/** A kubernetes.io/tls Secret document (optionally with ca.crt). */
export function tlsSecretYaml(name: string, namespace: string, pem: Pem | undefined, ca?: string): string {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  const data: Record<string, string> = {};
  if (pem) {
    data['tls.crt'] = b64(pem.cert);
    data['tls.key'] = b64(pem.key);
  }
  if (ca) data['ca.crt'] = b64(ca);
  return `apiVersion: v1
kind: Secret
metadata: {name: ${name}, namespace: ${namespace}}
type: ${pem ? 'kubernetes.io/tls' : 'Opaque'}
data: ${JSON.stringify(data)}
`;
}

export interface HttpsResult {
  status: number;
  body: string;
  /** The error message when the TLS handshake or the request failed (status 0). */
  error?: string;
  /** Subject CN of the certificate the server presented. */
  peer?: string;
  /** Serial number of that certificate. */
  serial?: string;
}

/** One HTTPS GET to 127.0.0.1:port with SNI `servername`, trusting `ca`, optionally with a client certificate. */
export function httpsGet(port: number, servername: string, ca: string, opts: { path?: string; client?: Pem } = {}): Promise<HttpsResult> {
  return new Promise((resolve) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: opts.path ?? '/',
        servername,
        ca,
        headers: { host: servername },
        agent: false,
        timeout: 5000,
        ...(opts.client ? { cert: opts.client.cert, key: opts.client.key } : {}),
      },
      (res) => {
        const presented = (res.socket as import('node:tls').TLSSocket).getPeerCertificate?.();
        const peer = presented?.subject?.CN;
        const serial = presented?.serialNumber;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ...(peer ? { peer: String(peer) } : {}), ...(serial ? { serial } : {}) }));
        res.on('error', (err) => resolve({ status: 0, body, error: err.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, body: '', error: err.message }));
    req.end();
  });
}
