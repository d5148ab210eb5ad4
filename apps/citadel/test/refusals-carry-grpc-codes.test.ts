import { strict as assert } from 'node:assert';
import { status, type ServiceError } from '@grpc/grpc-js';
import { after, before, describe, it } from 'node:test';
import { requireDep } from '@mesh/deps';
import { createCsr, generateWorkloadKey } from '@mesh/xds';
import { issueToken } from '../src/token';
import { opensslCsr, removeDir, spiffe, startCitadel, tempDir, type TestCitadel } from './harness';

/** Asserts the promise rejects with the gRPC status and a details text matching `details`. */
async function refused(p: Promise<unknown>, code: status, details: RegExp): Promise<void> {
  await assert.rejects(p, (err: ServiceError) => {
    assert.equal(err.code, code, `expected ${status[code]}, got ${status[err.code]}: ${err.details}`);
    assert.match(err.details, details);
    return true;
  });
}

describe('CreateCertificate refuses bad callers and bad requests with the right gRPC code and a clear reason', () => {
  let dir: string;
  let work: string;
  let citadel: TestCitadel;
  let goodCsr: string;

  before(async () => {
    dir = await tempDir();
    work = await tempDir('citadel-work-');
    citadel = await startCitadel(dir, ['--max-workload-cert-ttl', '48h']);
    goodCsr = createCsr({ privateKey: (await generateWorkloadKey('ec-p256')).privateKey, uris: [spiffe('default', 'web')] });
  });

  after(async () => {
    await citadel?.stop();
    await removeDir(dir);
    await removeDir(work);
  });

  it('UNAUTHENTICATED without a token', async () => {
    await refused(citadel.request('', goodCsr), status.UNAUTHENTICATED, /MESH_ERR_CITADEL_(TOKEN_MISSING|TOKEN_INVALID)/);
  });

  it('UNAUTHENTICATED for an expired token', async () => {
    const expired = await citadel.token('default', 'web', 60_000, Date.now() - 3_600_000);
    await refused(citadel.request(expired, goodCsr), status.UNAUTHENTICATED, /MESH_ERR_CITADEL_TOKEN_EXPIRED: bearer token expired at/);
  });

  it('UNAUTHENTICATED for a token signed with another key (forged) and for garbage', async () => {
    const forged = issueToken(Buffer.alloc(32, 7), { namespace: 'default', serviceAccount: 'web', ttlMs: 3_600_000 });
    await refused(citadel.request(forged, goodCsr), status.UNAUTHENTICATED, /TOKEN_INVALID: .*signature does not verify/);
    const good = await citadel.token('default', 'web');
    const [h, , s] = good.split('.');
    const tampered = `${h}.${Buffer.from(JSON.stringify({ iss: 'mesh-citadel', ns: 'kube-system', sa: 'admin', iat: 1, exp: 4e9 })).toString('base64url')}.${s}`;
    await refused(citadel.request(tampered, goodCsr), status.UNAUTHENTICATED, /TOKEN_INVALID/);
    await refused(citadel.request('not-a-token', goodCsr), status.UNAUTHENTICATED, /TOKEN_INVALID: bearer token rejected: not a JWT/);
  });

  it('PERMISSION_DENIED for a CSR that asks for another identity than the token grants', async () => {
    const other = createCsr({ privateKey: (await generateWorkloadKey('ec-p256')).privateKey, uris: [spiffe('kube-system', 'admin')] });
    await refused(
      citadel.request(await citadel.token('default', 'web'), other),
      status.PERMISSION_DENIED,
      /IDENTITY_MISMATCH: csr asks for identity spiffe:\/\/cluster\.local\/ns\/kube-system\/sa\/admin but the token only grants spiffe:\/\/cluster\.local\/ns\/default\/sa\/web/,
    );
  });

  it('INVALID_ARGUMENT for a CSR whose signature does not verify (content changed after signing)', async () => {
    const der = Buffer.from(goodCsr.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
    const at = der.indexOf('/sa/web');
    assert.ok(at > 0, 'the SAN is in the signed request info');
    der.write('/sa/wex', at, 'latin1');
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await refused(
      citadel.request(await citadel.token('default', 'web'), tampered),
      status.INVALID_ARGUMENT,
      /CSR_SIGNATURE_INVALID: csr: the ecdsa-with-SHA256 signature does not verify/,
    );
  });

  it('INVALID_ARGUMENT for weak or unsupported keys: RSA 1024, EC P-521, secp256k1, Ed25519 (CSRs from openssl)', async (t) => {
    const openssl = requireDep(t, 'openssl');
    if (!openssl) return;
    const token = await citadel.token('default', 'web');
    const san = [`URI:${spiffe('default', 'web')}`];
    const rsa1024 = await opensslCsr(openssl, work, 'rsa1024', ['-newkey', 'rsa:1024'], san);
    await refused(citadel.request(token, rsa1024.csrPem), status.INVALID_ARGUMENT, /CSR_KEY_UNSUPPORTED: csr: public key RSA 1024 is weak or unsupported/);
    const p521 = await opensslCsr(openssl, work, 'p521', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521'], san);
    await refused(citadel.request(token, p521.csrPem), status.INVALID_ARGUMENT, /CSR_KEY_UNSUPPORTED: csr: public key EC P-521 is weak or unsupported/);
    const k1 = await opensslCsr(openssl, work, 'k1', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp256k1'], san);
    await refused(citadel.request(token, k1.csrPem), status.INVALID_ARGUMENT, /CSR_KEY_UNSUPPORTED: csr: public key EC secp256k1/);
    const ed = await opensslCsr(openssl, work, 'ed25519', ['-newkey', 'ed25519'], san);
    await refused(citadel.request(token, ed.csrPem), status.INVALID_ARGUMENT, /CSR_KEY_UNSUPPORTED: csr: public key Ed25519/);
  });

  it('INVALID_ARGUMENT for SANs beyond the identity (DNS name, second URI)', async () => {
    const key = (await generateWorkloadKey('ec-p256')).privateKey;
    const token = await citadel.token('default', 'web');
    const withDns = createCsr({ privateKey: key, uris: [spiffe('default', 'web')], dnsNames: ['evil.example.com'] });
    await refused(citadel.request(token, withDns), status.INVALID_ARGUMENT, /CSR_EXTRA_SAN: csr: subject alternative name DNS:evil\.example\.com is not allowed/);
    const withUri = createCsr({ privateKey: key, uris: [spiffe('default', 'web'), 'https://example.com/x'] });
    await refused(citadel.request(token, withUri), status.INVALID_ARGUMENT, /CSR_EXTRA_SAN: .*URI:https:\/\/example\.com\/x/);
  });

  it('INVALID_ARGUMENT for a validity above the maximum or negative', async () => {
    const token = await citadel.token('default', 'web');
    await refused(citadel.request(token, goodCsr, 48 * 3600 + 1), status.INVALID_ARGUMENT, /VALIDITY_INVALID: validity_duration 172801s is not allowed: .*172800 seconds/);
    await refused(citadel.request(token, goodCsr, -5), status.INVALID_ARGUMENT, /VALIDITY_INVALID/);
    const ok = await citadel.request(token, goodCsr, 48 * 3600);
    assert.equal(ok.length, 2, 'exactly the maximum is allowed');
  });

  it('INVALID_ARGUMENT for text that is not a CSR', async () => {
    const token = await citadel.token('default', 'web');
    await refused(citadel.request(token, 'hello'), status.INVALID_ARGUMENT, /CSR_MALFORMED: csr: expected exactly one PEM "CERTIFICATE REQUEST" block, found 0/);
    await refused(citadel.request(token, '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n'), status.INVALID_ARGUMENT, /CSR_MALFORMED: csr: not a valid PKCS#10 request/);
  });

  it('keeps serving after refusals and counts them by reason in /metrics', async () => {
    const chain = await citadel.request(await citadel.token('default', 'web'), goodCsr);
    assert.equal(chain.length, 2);
    const metrics = (await citadel.httpGet('/metrics')).body;
    for (const reason of ['token_expired', 'token_invalid', 'identity_mismatch', 'csr_extra_san', 'validity_invalid', 'csr_malformed']) {
      assert.match(metrics, new RegExp(`citadel_server_refusal_count\\{reason="${reason}"\\} [1-9]`), reason);
    }
    assert.match(metrics, /citadel_server_success_cert_issuance_count [1-9]/);
  });
});
