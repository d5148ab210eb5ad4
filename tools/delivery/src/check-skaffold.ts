/**
 * Checks skaffold.yaml against the apps and the manifests: one docker artifact per app (context the
 * repository root, the app's Dockerfile), every image the manifests use is built by an artifact, every
 * artifact is used, and skaffold will actually rewrite each image reference (it only does so in kinds it
 * knows, or ones allowed by resourceSelector).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { imageName, type ImageUse } from './collect-images';
import type { ManifestDoc } from './loader-manifests';
import type { Problem } from './problem';
import type { AppDelivery } from './spec-delivery';

export interface Artifact {
  image: string;
  context: string;
  dockerfile?: string;
  where: string;
}

/** Kinds whose image fields skaffold rewrites without configuration (group after the dot). */
const SKAFFOLD_DEFAULT_KINDS = new Set([
  'Pod',
  'Deployment.apps',
  'StatefulSet.apps',
  'DaemonSet.apps',
  'ReplicaSet.apps',
  'Job.batch',
  'CronJob.batch',
]);

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export function skaffoldArtifacts(config: Obj): Artifact[] {
  const out: Artifact[] = [];
  const read = (build: unknown, where: string): void => {
    asList(asObj(build).artifacts).forEach((a, i) => {
      const art = asObj(a);
      const docker = asObj(art.docker);
      out.push({
        image: typeof art.image === 'string' ? art.image : '',
        context: typeof art.context === 'string' ? art.context : '.',
        dockerfile: typeof docker.dockerfile === 'string' ? docker.dockerfile : art.docker ? 'Dockerfile' : undefined,
        where: `skaffold.yaml ${where}.artifacts[${i}]`,
      });
    });
  };
  read(config.build, 'build');
  asList(config.profiles).forEach((p, i) => read(asObj(p).build, `profiles[${i}].build`));
  return out;
}

/** "Deployment.apps", "PodTemplate" (core group has no suffix). */
export function groupKind(apiVersion: string, kind: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? kind : `${kind}.${apiVersion.slice(0, slash)}`;
}

export interface SkaffoldCheckInput {
  config: Obj;
  repoRoot: string;
  apps: readonly AppDelivery[];
  /** Every image reference found in k8s/. */
  images: readonly ImageUse[];
  /** The Kubernetes objects in k8s/, to check port forwards against. */
  docs?: readonly ManifestDoc[];
}

export function checkSkaffold({ config, repoRoot, apps, images, docs = [] }: SkaffoldCheckInput): Problem[] {
  const problems: Problem[] = [];
  if (!/^skaffold\/v4beta\d+$/.test(String(config.apiVersion))) {
    problems.push({ where: 'skaffold.yaml apiVersion', message: `${String(config.apiVersion)} is not a current skaffold config version (skaffold/v4betaN)` });
  }
  if (config.kind !== 'Config') problems.push({ where: 'skaffold.yaml kind', message: `must be Config, got ${String(config.kind)}` });

  const artifacts = skaffoldArtifacts(config);
  for (const a of artifacts) {
    if (!a.image) problems.push({ where: a.where, message: 'artifact has no image name' });
    if (!a.dockerfile) {
      problems.push({ where: a.where, message: `${a.image} is not built by the docker builder` });
      continue;
    }
    if (!existsSync(join(repoRoot, a.context, a.dockerfile))) {
      problems.push({ where: `${a.where}.docker.dockerfile`, message: `${join(a.context, a.dockerfile)} does not exist` });
    }
  }
  for (const app of apps) {
    const a = artifacts.find((x) => x.image === app.image);
    if (!a) {
      problems.push({ where: 'skaffold.yaml build.artifacts', message: `no artifact builds ${app.image} (apps/${app.app})` });
      continue;
    }
    if (a.context !== '.') problems.push({ where: `${a.where}.context`, message: `${app.image} must build from the repository root (context: .), its Dockerfile copies the workspace` });
    if (a.dockerfile !== `apps/${app.app}/Dockerfile`) {
      problems.push({ where: `${a.where}.docker.dockerfile`, message: `${app.image} must be built from apps/${app.app}/Dockerfile, not ${String(a.dockerfile)}` });
    }
  }

  const built = new Set(artifacts.map((a) => a.image));
  const used = new Set<string>();
  const allowed = new Set(
    asList(asObj(config.resourceSelector).allow)
      .map(asObj)
      .filter((f) => asList(f.image).length > 0)
      .map((f) => String(f.groupKind)),
  );
  for (const use of images) {
    const name = imageName(use.image);
    if (!name) {
      problems.push({ where: use.where, message: 'container has no image' });
      continue;
    }
    used.add(name);
    if (!built.has(name)) {
      problems.push({ where: use.where, message: `${use.image} is not built by any artifact in skaffold.yaml (artifacts: ${[...built].join(', ')})` });
      continue;
    }
    const gk = groupKind(String(use.doc.body.apiVersion), String(use.doc.body.kind));
    if (!SKAFFOLD_DEFAULT_KINDS.has(gk) && !allowed.has(gk)) {
      problems.push({ where: use.where, message: `skaffold does not rewrite images in ${gk} unless skaffold.yaml resourceSelector.allow lists {groupKind: ${gk}, image: [".*"]}` });
    }
  }
  for (const a of artifacts) {
    if (a.image && !used.has(a.image)) problems.push({ where: a.where, message: `${a.image} is built but no manifest in k8s/ uses it` });
  }

  const manifests = asObj(config.manifests);
  const kustomizePaths = asList(asObj(manifests.kustomize).paths).map(String);
  const raw = asList(manifests.rawYaml);
  if (kustomizePaths.length === 0 && raw.length === 0) problems.push({ where: 'skaffold.yaml manifests', message: 'no manifests to deploy (kustomize.paths or rawYaml)' });
  for (const p of kustomizePaths) {
    if (!p.startsWith('k8s/')) problems.push({ where: 'skaffold.yaml manifests.kustomize.paths', message: `${p} is outside k8s/` });
    if (!existsSync(join(repoRoot, p, 'kustomization.yaml'))) problems.push({ where: 'skaffold.yaml manifests.kustomize.paths', message: `${p}/kustomization.yaml does not exist` });
  }
  asList(config.portForward).forEach((f, i) => {
    const pf = asObj(f);
    const where = `skaffold.yaml portForward[${i}]`;
    if (String(pf.resourceType).toLowerCase() !== 'service') return;
    const svc = docs.find((d) => d.body.kind === 'Service' && asObj(d.body.metadata).name === pf.resourceName && asObj(d.body.metadata).namespace === pf.namespace);
    if (!svc) problems.push({ where, message: `no Service ${String(pf.namespace)}/${String(pf.resourceName)} in k8s/` });
    else if (!asList(asObj(svc.body.spec).ports).some((p) => asObj(p).port === pf.port)) problems.push({ where, message: `Service ${String(pf.resourceName)} has no port ${String(pf.port)}` });
  });
  if (!('kubectl' in asObj(config.deploy))) problems.push({ where: 'skaffold.yaml deploy', message: 'deploy.kubectl is missing: the manifests are applied with kubectl' });
  return problems;
}

/** The kustomize directories skaffold renders. */
export function kustomizePaths(config: Obj): string[] {
  return asList(asObj(asObj(config.manifests).kustomize).paths).map(String);
}
