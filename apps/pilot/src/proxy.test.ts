import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseProxy } from './proxy';

describe('proxy identity', () => {
  it('reads type, ip, pod, namespace and metadata from an Istio node', () => {
    const r = parseProxy({
      id: 'sidecar~10.1.2.3~reviews-v1-abc.bookinfo~bookinfo.svc.cluster.local',
      metadata: { LABELS: { app: 'reviews' }, INTERCEPTION_MODE: 'NONE', GENERATOR: 'grpc' },
    });
    assert.ok(r.ok);
    assert.equal(r.value.type, 'sidecar');
    assert.equal(r.value.ip, '10.1.2.3');
    assert.equal(r.value.podName, 'reviews-v1-abc');
    assert.equal(r.value.namespace, 'bookinfo');
    assert.equal(r.value.generator, 'grpc');
    assert.equal(r.value.interception, 'NONE');
    assert.deepEqual(r.value.labels, { app: 'reviews' });
  });

  it('explains a malformed node id and bad metadata', () => {
    const a = parseProxy({ id: 'just-a-name', metadata: {} });
    assert.ok(!a.ok);
    assert.match(a.errors[0]?.message ?? '', /must have 4 parts/);
    const b = parseProxy({ id: 'gateway~1.1.1.1~p.ns~ns.svc.cluster.local', metadata: { INTERCEPTION_MODE: 'MAGIC' } });
    assert.ok(!b.ok);
    assert.deepEqual(b.errors.map((e) => e.path), ['node.id', 'node.metadata.INTERCEPTION_MODE']);
  });
});
