/**
 * Pure parts of the node agent: the SPIFFE identity from typed options (with errors naming the field) and
 * when a certificate is due for renewal (50% of the lifetime left, jitter only ever earlier, the lifetime
 * counted from when the certificate arrived because Citadel back-dates notBefore).
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { WorkloadCertificate } from '../src/agent-certificate';
import { agentErrors } from '../src/agent-errors';
import { workloadIdentity } from '../src/agent-identity';
import { renewalTime } from '../src/agent-rotation';

function cert(notBefore: number, receivedAt: number, notAfter: number): WorkloadCertificate {
  return {
    identity: 'spiffe://cluster.local/ns/a/sa/b',
    certChainPem: '',
    privateKeyPem: '',
    rootCertPem: '',
    notBefore: new Date(notBefore),
    notAfter: new Date(notAfter),
    receivedAt: new Date(receivedAt),
    serialNumber: '01',
  };
}

describe('workload identity', () => {
  it('builds spiffe://<td>/ns/<ns>/sa/<sa>, trust domain cluster.local by default', () => {
    assert.equal(workloadIdentity({ namespace: 'billing', serviceAccount: 'invoicer' }).spiffeId, 'spiffe://cluster.local/ns/billing/sa/invoicer');
    assert.equal(workloadIdentity({ trustDomain: 'example.org', namespace: 'a', serviceAccount: 'sa.v2' }).spiffeId, 'spiffe://example.org/ns/a/sa/sa.v2');
  });

  it('names the bad field', () => {
    const cases: [Parameters<typeof workloadIdentity>[0], RegExp][] = [
      [{ namespace: 'Bad_NS', serviceAccount: 'x' }, /namespace "Bad_NS" must be a DNS label/],
      [{ namespace: 'ok', serviceAccount: '' }, /serviceAccount "" must be a DNS subdomain/],
      [{ namespace: 'ok', serviceAccount: 'x', trustDomain: 'Has/Slash' }, /trustDomain "Has\/Slash"/],
    ];
    for (const [input, message] of cases) {
      assert.throws(() => workloadIdentity(input), (err: Error) => agentErrors.is(err, 'AGENT_IDENTITY_INVALID') && message.test(err.message));
    }
  });
});

describe('renewal schedule', () => {
  const t0 = 1_700_000_000_000;
  it('is due when half of the lifetime is left, without jitter', () => {
    assert.equal(renewalTime(cert(t0, t0, t0 + 24 * 3_600_000), 0.5, 0.05, () => 0), t0 + 12 * 3_600_000);
  });

  it('jitter moves it earlier by at most jitterRatio of the lifetime', () => {
    const at = renewalTime(cert(t0, t0, t0 + 100_000), 0.5, 0.05, () => 0.999999);
    assert.ok(at < t0 + 50_000 && at >= t0 + 45_000, String(at - t0));
  });

  it('counts the lifetime from arrival when notBefore is back-dated', () => {
    // Citadel back-dates a 20 s certificate by 60 s: renewing at half of 80 s would be in the past.
    assert.equal(renewalTime(cert(t0 - 60_000, t0, t0 + 20_000), 0.5, 0, () => 0), t0 + 10_000);
  });
});
