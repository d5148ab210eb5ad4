/**
 * Runs every delivery check on the repository and prints the problems, one per line; exit 1 if any.
 *   npx tsx tools/delivery/src/cli-check.ts
 * The Kubernetes schema check runs when kubernetes-validate is installed (npm run deps), and says so when not.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { depPath } from '@mesh/deps';
import { checkDockerignore, checkWorkspaceDependencies } from './check-build-context';
import { checkAppDockerfile } from './check-dockerfile';
import { checkKindCluster } from './check-kind-cluster';
import { resolveKustomization } from './check-kustomization';
import { checkSkaffold, kustomizePaths } from './check-skaffold';
import { checkWorkloads } from './check-workloads';
import { collectImages } from './collect-images';
import { formatProblems, type Problem } from './problem';
import { loadRepoDelivery } from './repo-delivery';
import { APPS, KUBERNETES_VERSION, paths, REPO_ROOT } from './spec-delivery';
import { validateWithKubernetesSchemas } from './validator-kubernetes';

async function main(): Promise<number> {
  const repo = loadRepoDelivery();
  const problems: Problem[] = [...repo.problems];
  for (const app of APPS) problems.push(...checkAppDockerfile(readFileSync(paths.dockerfile(app.app), 'utf8'), `apps/${app.app}/Dockerfile`, app));
  problems.push(...checkDockerignore(readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')));
  problems.push(...checkWorkspaceDependencies(REPO_ROOT));
  problems.push(...checkSkaffold({ config: repo.skaffold, repoRoot: REPO_ROOT, apps: APPS, images: collectImages(repo.apiDocs), docs: repo.apiDocs }));
  for (const p of kustomizePaths(repo.skaffold)) problems.push(...resolveKustomization(join(REPO_ROOT, p), REPO_ROOT).problems);
  problems.push(...checkWorkloads(repo.apiDocs, APPS));
  problems.push(...checkKindCluster(repo.toolDocs.filter((d) => d.body.kind === 'Cluster'), repo.skaffold, KUBERNETES_VERSION));
  const bin = depPath('kubernetes-validate');
  if (bin) {
    const r = await validateWithKubernetesSchemas(repo.apiFiles, repo.apiDocs, { bin, kubernetesVersion: KUBERNETES_VERSION, baseDir: REPO_ROOT });
    problems.push(...r.problems);
    process.stdout.write(`kubernetes-validate: ${r.passed.length} objects valid against Kubernetes ${KUBERNETES_VERSION} (strict)\n`);
  } else {
    process.stdout.write('kubernetes-validate is not installed (npm run deps): schema check skipped\n');
  }
  if (problems.length > 0) {
    process.stderr.write(`${formatProblems(problems)}\n`);
    return 1;
  }
  process.stdout.write(`delivery files OK: ${APPS.length} Dockerfiles, skaffold.yaml, ${repo.k8sFiles.length} files under k8s/\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`);
    process.exitCode = 1;
  },
);
