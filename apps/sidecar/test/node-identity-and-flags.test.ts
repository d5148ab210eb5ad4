/**
 * Proxy identity from flags and Istio agent environment: node id parsing (sidecar / router), derivation
 * from POD_NAME/POD_NAMESPACE/INSTANCE_IP, ISTIO_META_* and ISTIO_METAJSON_LABELS, and errors naming the
 * flag or variable that is wrong.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseFlags } from '@mesh/runtime';
import { flags, readAgentEnv } from '../src/flags';
import { buildNodeIdentity, type NodeInputs } from '../src/node-identity';

function inputs(argv: string[], env: NodeJS.ProcessEnv): NodeInputs {
  const r = parseFlags(flags, argv, env);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  const f = r.flags;
  return { nodeId: f.nodeId, namespace: f.namespace, podName: f.podName, instanceIp: f.instanceIp, serviceAccount: f.serviceAccount, labels: f.labels, interceptionMode: f.interceptionMode, clusterId: f.clusterId, env: readAgentEnv(env) };
}

describe('node identity', () => {
  it('takes pod, namespace and IP from a sidecar node id, labels from --labels', () => {
    const r = buildNodeIdentity(inputs(['--node-id', 'sidecar~10.0.0.7~client-1.prod~prod.svc.cluster.local', '--labels', 'app=client,version=v2'], {}));
    assert.ok(r.ok);
    assert.equal(r.node.type, 'sidecar');
    assert.equal(r.node.ip, '10.0.0.7');
    assert.equal(r.node.podName, 'client-1');
    assert.equal(r.node.namespace, 'prod');
    assert.equal(r.node.cluster, 'client.prod');
    assert.deepEqual(r.node.metadata.LABELS, { app: 'client', version: 'v2' });
    assert.equal(r.node.metadata.INTERCEPTION_MODE, 'REDIRECT');
    assert.equal(r.node.metadata.NAMESPACE, 'prod');
  });

  it('treats router~ ids as gateways', () => {
    const r = buildNodeIdentity(inputs(['--node-id', 'router~10.0.0.8~ingress-1.istio-system~istio-system.svc.cluster.local'], {}));
    assert.ok(r.ok);
    assert.equal(r.node.type, 'router');
  });

  it("derives the id from the agent's environment and copies ISTIO_META_* into metadata", () => {
    const env = { POD_NAME: 'web-7', POD_NAMESPACE: 'shop', INSTANCE_IP: '10.1.2.3', SERVICE_ACCOUNT: 'web', ISTIO_META_MESH_ID: 'm1', ISTIO_META_INTERCEPTION_MODE: 'TPROXY', ISTIO_METAJSON_LABELS: '{"app":"web","version":"v1"}' };
    const r = buildNodeIdentity(inputs([], env));
    assert.ok(r.ok);
    assert.equal(r.node.id, 'sidecar~10.1.2.3~web-7.shop~shop.svc.cluster.local');
    assert.equal(r.node.metadata.MESH_ID, 'm1');
    assert.equal(r.node.metadata.INTERCEPTION_MODE, 'TPROXY');
    assert.equal(r.node.metadata.SERVICE_ACCOUNT, 'web');
    assert.deepEqual(r.node.metadata.LABELS, { app: 'web', version: 'v1' });
  });

  it('names what is missing or malformed', () => {
    const missing = buildNodeIdentity(inputs([], {}));
    assert.ok(!missing.ok);
    assert.deepEqual(missing.errors.map((e) => e.path).sort(), ['--instance-ip', '--namespace', '--pod-name']);
    const bad = buildNodeIdentity(inputs(['--node-id', 'pod~1~a.b~c', '--labels', 'novalue'], {}));
    assert.ok(!bad.ok);
    assert.ok(bad.errors.some((e) => e.path === '--node-id' && /sidecar or router/.test(e.message)));
    assert.ok(bad.errors.some((e) => e.path === '--labels[0]'));
    const json = buildNodeIdentity(inputs(['--node-id', 'sidecar~1.1.1.1~a.b~b.svc.cluster.local'], { ISTIO_METAJSON_LABELS: '[1,2]' }));
    assert.ok(!json.ok);
    assert.equal(json.errors[0]?.path, 'ISTIO_METAJSON_LABELS');
  });

  it('refuses an unknown interception mode at flag parsing', () => {
    const r = parseFlags(flags, ['--interception-mode', 'MAGIC'], {});
    assert.ok(!r.ok);
    assert.equal(r.errors[0]?.flag, '--interception-mode');
  });
});
