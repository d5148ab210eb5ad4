/**
 * Checks k8s/kind-cluster.yaml: a kind v1alpha4 Cluster with a control-plane node on the Kubernetes version
 * the manifests are validated against, and a skaffold profile bound to its kube-context (kind-<name>), so
 * `skaffold run -p kind` targets it and loads the images into it.
 */
import type { ManifestDoc } from './loader-manifests';
import type { Problem } from './problem';

type Obj = Record<string, unknown>;
const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export function checkKindCluster(docs: readonly ManifestDoc[], skaffold: Obj, kubernetesVersion: string): Problem[] {
  const problems: Problem[] = [];
  if (docs.length !== 1) return [{ where: docs[0]?.file ?? 'k8s/kind-cluster.yaml', message: `expected one kind Cluster document, found ${docs.length}` }];
  const [doc] = docs;
  const where = `${doc.file}#${doc.index}`;
  const c = doc.body;
  if (c.apiVersion !== 'kind.x-k8s.io/v1alpha4' || c.kind !== 'Cluster') {
    problems.push({ where, message: `must be apiVersion kind.x-k8s.io/v1alpha4, kind Cluster (got ${String(c.apiVersion)} ${String(c.kind)})` });
  }
  const name = typeof c.name === 'string' ? c.name : 'kind';
  const nodes = asList(c.nodes).map((n) => (n ?? {}) as Obj);
  if (!nodes.some((n) => n.role === 'control-plane')) problems.push({ where: `${where} nodes`, message: 'no control-plane node' });
  nodes.forEach((n, i) => {
    if (n.role !== 'control-plane' && n.role !== 'worker') problems.push({ where: `${where} nodes[${i}].role`, message: `unknown role ${String(n.role)}` });
    const image = String(n.image ?? '');
    if (!image.startsWith(`kindest/node:v${kubernetesVersion}`)) {
      problems.push({ where: `${where} nodes[${i}].image`, message: `pin kindest/node:v${kubernetesVersion} (the version the manifests are validated against), got ${image || 'nothing'}` });
    }
  });
  const context = `kind-${name}`;
  const profile = asList(skaffold.profiles)
    .map((p) => (p ?? {}) as Obj)
    .find((p) => asList(p.activation).some((a) => ((a ?? {}) as Obj).kubeContext === context));
  if (!profile) problems.push({ where: 'skaffold.yaml profiles', message: `no profile activated by kubeContext ${context} (the context kind creates for this cluster)` });
  return problems;
}
