// skaffold renders k8s/base through kustomize: every manifest there is listed (nothing silently left
// undeployed), nothing listed is missing or remote. The kind cluster config pins the Kubernetes version the
// manifests are validated against, and skaffold has a profile for its context. Bad fixtures in a temp dir.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { checkKindCluster } from '../src/check-kind-cluster';
import { resolveKustomization } from '../src/check-kustomization';
import { kustomizePaths } from '../src/check-skaffold';
import { yamlFilesUnder } from '../src/loader-manifests';
import { formatProblems } from '../src/problem';
import { loadRepoDelivery } from '../src/repo-delivery';
import { KUBERNETES_VERSION, REPO_ROOT } from '../src/spec-delivery';

const repo = loadRepoDelivery();

describe('the kustomization skaffold renders', () => {
  test('deploys every manifest under k8s/base and nothing else', () => {
    assert.deepEqual(kustomizePaths(repo.skaffold), ['k8s/base']);
    const r = resolveKustomization(join(REPO_ROOT, 'k8s/base'), REPO_ROOT);
    assert.equal(formatProblems(r.problems), '');
    const expected = yamlFilesUnder(join(REPO_ROOT, 'k8s/base')).filter((f) => !f.endsWith('kustomization.yaml'));
    assert.deepEqual([...r.files].sort(), expected.sort());
    assert.deepEqual([...r.files].sort(), repo.apiFiles.filter((f) => f.includes('/k8s/base/')).sort());
  });

  describe('rejects', () => {
    let dir = '';
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'mesh-kustomize-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    test('a forgotten manifest, a missing one, a remote one, a nested directory without kustomization', () => {
      writeFileSync(join(dir, 'listed.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n');
      writeFileSync(join(dir, 'forgotten.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n');
      mkdirSync(join(dir, 'nested'));
      writeFileSync(
        join(dir, 'kustomization.yaml'),
        'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - listed.yaml\n  - missing.yaml\n  - https://example.com/x.yaml\n  - nested\n',
      );
      const r = resolveKustomization(dir, dir);
      const text = formatProblems(r.problems);
      assert.match(text, /forgotten\.yaml: not listed in kustomization\.yaml resources, so it is never deployed/);
      assert.match(text, /resources\[1\]: missing\.yaml does not exist/);
      assert.match(text, /resources\[2\]: https:\/\/example\.com\/x\.yaml is remote/);
      assert.match(text, /nested: no kustomization\.yaml/);
      assert.deepEqual(r.files, [join(dir, 'listed.yaml')]);
    });
  });
});

describe('the kind cluster', () => {
  const kindDocs = repo.toolDocs.filter((d) => d.file === 'k8s/kind-cluster.yaml');
  test(`runs Kubernetes ${KUBERNETES_VERSION} and skaffold has a profile for its context`, () => {
    assert.equal(formatProblems(checkKindCluster(kindDocs, repo.skaffold, KUBERNETES_VERSION)), '');
  });
  test('rejects another node version, a wrong apiVersion and a cluster no profile targets', () => {
    const docs = structuredClone(kindDocs);
    docs[0].body.apiVersion = 'kind.x-k8s.io/v1alpha3';
    (docs[0].body.nodes as { image: string }[])[0].image = 'kindest/node:v1.29.2';
    docs[0].body.name = 'other';
    const text = formatProblems(checkKindCluster(docs, repo.skaffold, KUBERNETES_VERSION));
    assert.match(text, /must be apiVersion kind\.x-k8s\.io\/v1alpha4/);
    assert.match(text, new RegExp(`pin kindest/node:v${KUBERNETES_VERSION.replace(/\./g, '\\.')}.*got kindest/node:v1\\.29\\.2`));
    assert.match(text, /no profile activated by kubeContext kind-other/);
  });
});

