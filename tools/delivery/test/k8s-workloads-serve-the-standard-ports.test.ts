// Each control-plane component has a Deployment (its image, its non-root uid, named standard ports, a
// readiness probe on one of them, its ServiceAccount) and a Service selecting its pods that exposes each port
// by name; the sidecar's PodTemplate runs as 1337. Mutated copies of the real manifests prove each rule bites.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkWorkloads, portNameProblem } from '../src/check-workloads';
import type { ManifestDoc } from '../src/loader-manifests';
import { formatProblems } from '../src/problem';
import { loadRepoDelivery } from '../src/repo-delivery';
import { APPS } from '../src/spec-delivery';

const repo = loadRepoDelivery();

/** A deep copy of the real documents with one object changed. */
function mutated(kind: string, name: string, change: (body: any) => void): ManifestDoc[] { // eslint-disable-line @typescript-eslint/no-explicit-any
  const docs = structuredClone(repo.apiDocs);
  const doc = docs.find((d) => d.body.kind === kind && (d.body.metadata as { name?: string }).name === name);
  assert.ok(doc, `no ${kind} ${name} in k8s/`);
  change(doc.body);
  return docs;
}
function rejects(docs: ManifestDoc[], pattern: RegExp): void {
  const text = formatProblems(checkWorkloads(docs, APPS));
  assert.match(text, pattern, `expected a problem matching ${pattern}, got:\n${text || '(none)'}`);
}

test('the manifests match every app: ports, users, probes, services, service accounts', () => {
  assert.equal(formatProblems(checkWorkloads(repo.apiDocs, APPS)), '');
});

describe('the workload checker rejects', () => {
  test('a control-plane component without its Deployment or Service', () => {
    rejects(repo.apiDocs.filter((d) => !(d.body.kind === 'Deployment' && (d.body.metadata as { name: string }).name === 'istio-galley')), /no Deployment istio-galley for galley/);
    rejects(repo.apiDocs.filter((d) => !(d.body.kind === 'Service' && (d.body.metadata as { name: string }).name === 'istio-mixer')), /no Service istio-mixer for mixer/);
  });
  test('a container running as another uid than its image, or possibly as root', () => {
    rejects(mutated('Deployment', 'istio-pilot', (b) => (b.spec.template.spec.securityContext.runAsUser = 1000)), /runAsUser must be 10001/);
    rejects(mutated('Deployment', 'istio-pilot', (b) => delete b.spec.template.spec.securityContext.runAsNonRoot), /runAsNonRoot must be true/);
    rejects(mutated('PodTemplate', 'istio-sidecar-proxy', (b) => (b.template.spec.containers[0].securityContext.runAsUser = 10001)), /runAsUser must be 1337/);
  });
  test('a missing, renamed or unknown port', () => {
    rejects(mutated('Deployment', 'istio-pilot', (b) => b.spec.template.spec.containers[0].ports.splice(1, 1)), /port 15012 \(grpc-xds-tls\) is not declared/);
    rejects(mutated('Deployment', 'istio-citadel', (b) => (b.spec.template.spec.containers[0].ports[0].name = 'grpc')), /port 8060 must be named grpc-citadel/);
    rejects(mutated('Deployment', 'istio-mixer', (b) => b.spec.template.spec.containers[0].ports.push({ name: 'http', containerPort: 8080 })), /port 8080 is not one mixer serves/);
  });
  test('a Service that selects other pods, misses a port, or targets a port by number', () => {
    rejects(mutated('Service', 'istio-pilot', (b) => (b.spec.selector = { 'app.kubernetes.io/name': 'galley' })), /does not select the pods of Deployment istio-pilot/);
    rejects(mutated('Service', 'istio-galley', (b) => b.spec.ports.shift()), /no port named grpc-mcp/);
    rejects(mutated('Service', 'istio-sidecar-injector', (b) => (b.spec.ports[0].targetPort = 15017)), /https-webhook must target the named container port https-webhook/);
    rejects(mutated('Service', 'istio-sidecar-injector', (b) => (b.spec.ports[0].port = 15017)), /https-webhook must be served on 443/);
  });
  test('no readiness probe, or one on an undeclared port', () => {
    rejects(mutated('Deployment', 'istio-galley', (b) => delete b.spec.template.spec.containers[0].readinessProbe), /no readiness probe/);
    rejects(mutated('Deployment', 'istio-galley', (b) => (b.spec.template.spec.containers[0].readinessProbe.tcpSocket.port = 'grpc-xds')), /probes port grpc-xds/);
  });
  test('a ServiceAccount that does not exist, or an object outside istio-system', () => {
    rejects(mutated('Deployment', 'istio-citadel', (b) => (b.spec.template.spec.serviceAccountName = 'citadel')), /citadel is not a ServiceAccount in k8s\//);
    rejects(mutated('Service', 'istio-citadel', (b) => (b.metadata.namespace = 'default')), /metadata\.namespace must be istio-system, got default/);
  });
  test('a port name the API server would refuse', () => {
    rejects(mutated('Service', 'istio-pilot', (b) => (b.spec.ports[2].name = 'http-monitoring-port')), /spec\.ports\[2\]\.name: port name "http-monitoring-port" must be 1 to 15 characters/);
    assert.equal(portNameProblem('grpc-xds'), undefined);
    assert.match(String(portNameProblem('Grpc')), /lowercase/);
    assert.match(String(portNameProblem('a--b')), /single inner hyphens/);
    assert.match(String(portNameProblem('8080')), /at least one letter/);
  });
});
