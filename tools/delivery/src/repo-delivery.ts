/**
 * Loads the repository's delivery files once (skaffold.yaml, every YAML under k8s/), split into Kubernetes
 * API objects and tool configuration (kustomization, kind cluster), for the checks and tests to share.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { isToolConfig, loadManifests, yamlFilesUnder, type ManifestDoc } from './loader-manifests';
import type { Problem } from './problem';
import { REPO_ROOT } from './spec-delivery';

export interface RepoDelivery {
  root: string;
  skaffold: Record<string, unknown>;
  /** Every YAML file under k8s/ (absolute paths). */
  k8sFiles: string[];
  /** Files holding Kubernetes API objects (what kubernetes-validate checks). */
  apiFiles: string[];
  apiDocs: ManifestDoc[];
  /** kustomization.yaml, kind-cluster.yaml, ... */
  toolDocs: ManifestDoc[];
  problems: Problem[];
}

export function loadRepoDelivery(root: string = REPO_ROOT): RepoDelivery {
  const problems: Problem[] = [];
  let skaffold: Record<string, unknown> = {};
  try {
    skaffold = (parse(readFileSync(join(root, 'skaffold.yaml'), 'utf8')) ?? {}) as Record<string, unknown>;
  } catch (err) {
    problems.push({ where: 'skaffold.yaml', message: (err as Error).message.split('\n')[0] });
  }
  const k8sFiles = yamlFilesUnder(join(root, 'k8s'));
  const loaded = loadManifests(k8sFiles, root);
  problems.push(...loaded.problems);
  const apiDocs = loaded.docs.filter((d) => !isToolConfig(d));
  const toolDocs = loaded.docs.filter(isToolConfig);
  const apiFileNames = new Set(apiDocs.map((d) => d.file));
  for (const f of apiFileNames) {
    if (toolDocs.some((d) => d.file === f)) problems.push({ where: f, message: 'mixes tool configuration with Kubernetes objects; keep them in separate files' });
  }
  const apiFiles = k8sFiles.filter((f) => apiFileNames.has(f.slice(root.length + 1)));
  return { root, skaffold, k8sFiles, apiFiles, apiDocs, toolDocs, problems };
}
