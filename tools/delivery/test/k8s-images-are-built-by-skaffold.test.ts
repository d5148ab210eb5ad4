// Every image used in k8s/ (containers, initContainers, at any depth) is produced by an artifact in
// skaffold.yaml, every artifact is used, each app has its artifact, and skaffold will rewrite each image
// reference. Bad fixtures prove the checker rejects an image without an artifact and an unused artifact.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { collectImages, imageName } from '../src/collect-images';
import { checkSkaffold, skaffoldArtifacts } from '../src/check-skaffold';
import { parseManifestText } from '../src/loader-manifests';
import { formatProblems, type Problem } from '../src/problem';
import { loadRepoDelivery } from '../src/repo-delivery';
import { APPS, REPO_ROOT } from '../src/spec-delivery';

const repo = loadRepoDelivery();
const realImages = collectImages(repo.apiDocs);

function expectProblem(problems: Problem[], pattern: RegExp): void {
  assert.ok(problems.some((p) => pattern.test(`${p.where}: ${p.message}`)), `expected a problem matching ${pattern}, got:\n${formatProblems(problems) || '(none)'}`);
}
const check = (config = repo.skaffold, images = realImages) => checkSkaffold({ config, repoRoot: REPO_ROOT, apps: APPS, images, docs: repo.apiDocs });

describe('skaffold.yaml and k8s/ agree', () => {
  test('the delivery files load without errors', () => {
    assert.equal(formatProblems(repo.problems), '');
  });
  test('every image in k8s/ is built by skaffold, every artifact is used, one per app', () => {
    assert.equal(formatProblems(check()), '');
    assert.deepEqual(skaffoldArtifacts(repo.skaffold).map((a) => a.image).sort(), APPS.map((a) => a.image).sort());
    assert.deepEqual([...new Set(realImages.map((u) => imageName(u.image)))].sort(), APPS.map((a) => a.image).sort());
  });
});

describe('the image checker rejects', () => {
  const extra = (yaml: string) => collectImages(parseManifestText(yaml, 'fixture.yaml').docs);
  test('an image that no artifact builds, in containers and in initContainers', () => {
    const images = extra(`apiVersion: apps/v1
kind: Deployment
metadata: {name: x, namespace: istio-system}
spec:
  template:
    spec:
      initContainers: [{name: init, image: "busybox:1.36"}]
      containers: [{name: x, image: "mesh/pilott:dev"}]
`);
    const problems = check(repo.skaffold, [...realImages, ...images]);
    expectProblem(problems, /initContainers\[0\]\.image: busybox:1\.36 is not built by any artifact/);
    expectProblem(problems, /containers\[0\]\.image: mesh\/pilott:dev is not built by any artifact/);
  });
  test('an artifact that no manifest uses', () => {
    const withoutSidecar = realImages.filter((u) => imageName(u.image) !== 'mesh/sidecar');
    assert.notEqual(withoutSidecar.length, realImages.length);
    expectProblem(check(repo.skaffold, withoutSidecar), /mesh\/sidecar is built but no manifest in k8s\/ uses it/);
  });
  test('an app without an artifact, or one built from the wrong Dockerfile', () => {
    const config = structuredClone(repo.skaffold) as { build: { artifacts: { image: string; docker: { dockerfile: string } }[] } };
    config.build.artifacts = config.build.artifacts.filter((a) => a.image !== 'mesh/mixer');
    config.build.artifacts[0].docker.dockerfile = 'apps/galley/Dockerfile';
    const problems = check(config as unknown as Record<string, unknown>);
    expectProblem(problems, /no artifact builds mesh\/mixer/);
    expectProblem(problems, /must be built from apps\/pilot\/Dockerfile, not apps\/galley\/Dockerfile/);
    expectProblem(problems, /mesh\/mixer:?\S* is not built by any artifact/);
  });
  test('an image in a kind skaffold would not rewrite', () => {
    const config = structuredClone(repo.skaffold);
    delete config.resourceSelector;
    expectProblem(check(config), /skaffold does not rewrite images in PodTemplate/);
  });
  test('a Dockerfile path that does not exist, and no deploy.kubectl', () => {
    const config = structuredClone(repo.skaffold) as { build: { artifacts: { docker: { dockerfile: string } }[] }; deploy: Record<string, unknown> };
    config.build.artifacts[0].docker.dockerfile = 'apps/nope/Dockerfile';
    delete config.deploy.kubectl;
    const problems = check(config as unknown as Record<string, unknown>);
    expectProblem(problems, /apps\/nope\/Dockerfile does not exist/);
    expectProblem(problems, /deploy\.kubectl is missing/);
  });
});

describe('port forwards', () => {
  test('name Services and ports that exist', () => {
    assert.ok(Array.isArray(repo.skaffold.portForward) && repo.skaffold.portForward.length > 0);
    const config = structuredClone(repo.skaffold) as { portForward: { resourceName: string; port: number }[] };
    config.portForward[0].resourceName = 'istio-pilott';
    config.portForward[1].port = 15011;
    const problems = check(config as unknown as Record<string, unknown>);
    expectProblem(problems, /portForward\[0\]: no Service istio-system\/istio-pilott in k8s\//);
    expectProblem(problems, /portForward\[1\]: Service istio-pilot has no port 15011/);
  });
});

test('image references are compared by repository, without tag or digest', () => {
  assert.equal(imageName('mesh/pilot'), 'mesh/pilot');
  assert.equal(imageName('mesh/pilot:abc123'), 'mesh/pilot');
  assert.equal(imageName('localhost:5000/mesh/pilot:v1'), 'localhost:5000/mesh/pilot');
  assert.equal(imageName(`mesh/pilot@sha256:${'a'.repeat(64)}`), 'mesh/pilot');
});
