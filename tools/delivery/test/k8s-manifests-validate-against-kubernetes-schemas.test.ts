// Every Kubernetes object in k8s/ validates against the Kubernetes API schemas of the pinned version with the
// real kubernetes-validate (strict: unknown fields are errors). Broken manifests in a temp dir prove the
// check rejects a wrong type, an unknown field, an unknown kind and unparsable YAML.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { requireDep } from '@mesh/deps';
import { loadManifests } from '../src/loader-manifests';
import { formatProblems } from '../src/problem';
import { loadRepoDelivery } from '../src/repo-delivery';
import { KUBERNETES_VERSION, REPO_ROOT } from '../src/spec-delivery';
import { validateWithKubernetesSchemas } from '../src/validator-kubernetes';

const repo = loadRepoDelivery();

describe('k8s/ against the Kubernetes schemas', () => {
  test(`every object validates against Kubernetes ${KUBERNETES_VERSION} (strict)`, async (t) => {
    const bin = requireDep(t, 'kubernetes-validate');
    if (!bin) return;
    assert.equal(formatProblems(repo.problems), '');
    const r = await validateWithKubernetesSchemas(repo.apiFiles, repo.apiDocs, { bin, kubernetesVersion: KUBERNETES_VERSION, baseDir: REPO_ROOT });
    assert.equal(formatProblems(r.problems), '');
    assert.equal(r.passed.length, repo.apiDocs.length);
    assert.ok(r.passed.includes('k8s/base/pilot.yaml deployment/istio-pilot'), r.passed.join('\n'));
  });
  test('only kustomize and kind configuration is left out, and it is checked elsewhere', () => {
    const skipped = repo.toolDocs.map((d) => `${d.file} ${String(d.body.apiVersion)} ${String(d.body.kind)}`).sort();
    assert.deepEqual(skipped, ['k8s/base/kustomization.yaml kustomize.config.k8s.io/v1beta1 Kustomization', 'k8s/kind-cluster.yaml kind.x-k8s.io/v1alpha4 Cluster']);
  });
});

describe('broken manifests are rejected by the schema check', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mesh-k8s-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function validate(t: TestContext, name: string, yaml: string) {
    const bin = requireDep(t, 'kubernetes-validate');
    if (!bin) return undefined;
    const file = join(dir, name);
    writeFileSync(file, yaml);
    const { docs } = loadManifests([file], dir);
    return validateWithKubernetesSchemas([file], docs, { bin, kubernetesVersion: KUBERNETES_VERSION, baseDir: dir });
  }
  const deployment = (containerExtra: string) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: bad, namespace: istio-system}
spec:
  selector: {matchLabels: {app: bad}}
  template:
    metadata: {labels: {app: bad}}
    spec:
      containers:
        - name: bad
          image: mesh/pilot
${containerExtra}`;

  test('a port number written as a string', async (t) => {
    const r = await validate(t, 'type.yaml', deployment('          ports: [{containerPort: "15010x"}]\n'));
    if (!r) return;
    assert.match(formatProblems(r.problems), /type\.yaml: kubernetes-validate ERROR: did not validate .*spec\.template\.spec\.containers\.0\.ports\.0\.containerPort: '15010x' is not of type 'integer'/);
    assert.equal(r.passed.length, 0);
  });
  test('a field Kubernetes does not know (strict mode)', async (t) => {
    const r = await validate(t, 'unknown-field.yaml', deployment('          imagePullPolicyy: Always\n'));
    if (!r) return;
    assert.match(formatProblems(r.problems), /unknown-field\.yaml: kubernetes-validate ERROR: .*imagePullPolicyy/);
  });
  test('a misspelt kind (kubernetes-validate only warns; we fail)', async (t) => {
    const r = await validate(t, 'kind.yaml', 'apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: x}\n');
    if (!r) return;
    const text = formatProblems(r.problems);
    assert.match(text, /kind\.yaml: kubernetes-validate WARN: Couldn't find schema for kind Deploymnet/);
    assert.match(text, /1 of 1 documents were not validated/);
  });
  test('YAML that does not parse', async (t) => {
    const r = await validate(t, 'syntax.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n');
    if (!r) return;
    assert.match(formatProblems(r.problems), /syntax\.yaml: 1 of 1 documents were not validated|Couldn't parse YAML/);
    assert.equal(r.passed.length, 0);
  });
});
