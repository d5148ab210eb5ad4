/**
 * Checks what the manifests say about each app against spec-delivery.ts: every control-plane app has a
 * Deployment running its image as its non-root uid with the standard named ports and a readiness probe on one
 * of them, a ServiceAccount it uses, and a Service selecting its pods that exposes every port by name; the
 * sidecar has its PodTemplate with uid 1337. Everything lives in istio-system, and every port name is a valid
 * IANA service name (the API server would refuse it; the JSON schemas do not check it).
 */
import { imageName } from './collect-images';
import { describeDoc, type ManifestDoc } from './loader-manifests';
import type { Problem } from './problem';
import { MESH_NAMESPACE, type AppDelivery } from './spec-delivery';

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const asList = (v: unknown): Obj[] => (Array.isArray(v) ? v.map(asObj) : []);
const get = (o: unknown, path: string): unknown => path.split('.').reduce<unknown>((v, k) => asObj(v)[k], o);

/** Kubernetes IANA_SVC_NAME: 1-15 of [a-z0-9-], a letter somewhere, no leading/trailing or double hyphen. */
export function portNameProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > 15) return `port name ${JSON.stringify(name)} must be 1 to 15 characters`;
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(name) || name.includes('--')) return `port name ${JSON.stringify(name)} must be lowercase letters, digits and single inner hyphens`;
  if (!/[a-z]/.test(name)) return `port name ${JSON.stringify(name)} needs at least one letter`;
  return undefined;
}

const find = (docs: readonly ManifestDoc[], kind: string, name: string): ManifestDoc | undefined =>
  docs.find((d) => d.body.kind === kind && get(d.body, 'metadata.name') === name);

function checkPodSpec(doc: ManifestDoc, podPath: string, spec: AppDelivery, problems: Problem[]): Obj | undefined {
  const pod = asObj(get(doc.body, podPath));
  const where = `${describeDoc(doc)} ${podPath}`;
  const containers = asList(pod.containers);
  const i = containers.findIndex((c) => imageName(String(c.image ?? '')) === spec.image);
  if (i < 0) {
    problems.push({ where: `${where}.containers`, message: `no container runs ${spec.image}` });
    return undefined;
  }
  const c = containers[i];
  const cWhere = `${where}.containers[${i}]`;
  const ctx = { ...asObj(pod.securityContext), ...asObj(c.securityContext) };
  if (ctx.runAsNonRoot !== true) problems.push({ where: `${cWhere}.securityContext`, message: 'runAsNonRoot must be true' });
  if (ctx.runAsUser !== spec.uid) problems.push({ where: `${cWhere}.securityContext`, message: `runAsUser must be ${spec.uid}, the uid the ${spec.image} image runs as (got ${String(ctx.runAsUser)})` });
  if (asObj(c.securityContext).allowPrivilegeEscalation !== false) problems.push({ where: `${cWhere}.securityContext`, message: 'allowPrivilegeEscalation must be false' });
  const ports = asList(c.ports);
  for (const want of spec.ports) {
    const p = ports.find((x) => x.containerPort === want.containerPort);
    if (!p) problems.push({ where: `${cWhere}.ports`, message: `port ${want.containerPort} (${want.name}) is not declared` });
    else if (p.name !== want.name) problems.push({ where: `${cWhere}.ports`, message: `port ${want.containerPort} must be named ${want.name}, got ${String(p.name)}` });
  }
  for (const p of ports) {
    if (!spec.ports.some((w) => w.containerPort === p.containerPort)) problems.push({ where: `${cWhere}.ports`, message: `port ${String(p.containerPort)} is not one ${spec.app} serves` });
  }
  return c;
}

function checkControlPlane(docs: readonly ManifestDoc[], spec: AppDelivery, problems: Problem[]): void {
  const deployment = find(docs, 'Deployment', spec.workload);
  if (!deployment) {
    problems.push({ where: 'k8s/', message: `no Deployment ${spec.workload} for ${spec.app}` });
    return;
  }
  const container = checkPodSpec(deployment, 'spec.template.spec', spec, problems);
  const where = describeDoc(deployment);
  const podLabels = asObj(get(deployment.body, 'spec.template.metadata.labels'));
  const sa = get(deployment.body, 'spec.template.spec.serviceAccountName');
  if (typeof sa !== 'string' || !find(docs, 'ServiceAccount', sa)) {
    problems.push({ where: `${where} spec.template.spec.serviceAccountName`, message: `${String(sa)} is not a ServiceAccount in k8s/` });
  }
  if (container) {
    const probe = asObj(container.readinessProbe);
    const port = get(probe, 'tcpSocket.port') ?? get(probe, 'httpGet.port') ?? get(probe, 'grpc.port');
    if (port === undefined) problems.push({ where: `${where} readinessProbe`, message: 'the container has no readiness probe' });
    else if (!spec.ports.some((p) => p.name === port || p.containerPort === port)) problems.push({ where: `${where} readinessProbe`, message: `probes port ${String(port)}, which the container does not declare` });
  }
  const service = find(docs, 'Service', spec.workload);
  if (!service) {
    problems.push({ where: 'k8s/', message: `no Service ${spec.workload} for ${spec.app}` });
    return;
  }
  const sWhere = describeDoc(service);
  const selector = asObj(get(service.body, 'spec.selector'));
  if (Object.keys(selector).length === 0 || Object.entries(selector).some(([k, v]) => podLabels[k] !== v)) {
    problems.push({ where: `${sWhere} spec.selector`, message: `${JSON.stringify(selector)} does not select the pods of Deployment ${spec.workload} (${JSON.stringify(podLabels)})` });
  }
  const ports = asList(get(service.body, 'spec.ports'));
  for (const want of spec.ports) {
    const p = ports.find((x) => x.name === want.name);
    if (!p) {
      problems.push({ where: `${sWhere} spec.ports`, message: `no port named ${want.name}` });
      continue;
    }
    if (p.port !== (want.servicePort ?? want.containerPort)) problems.push({ where: `${sWhere} spec.ports`, message: `${want.name} must be served on ${want.servicePort ?? want.containerPort}, got ${String(p.port)}` });
    if (p.targetPort !== want.name) problems.push({ where: `${sWhere} spec.ports`, message: `${want.name} must target the named container port ${want.name}, got ${String(p.targetPort)}` });
  }
}

export function checkWorkloads(docs: readonly ManifestDoc[], apps: readonly AppDelivery[]): Problem[] {
  const problems: Problem[] = [];
  if (!docs.some((d) => d.body.kind === 'Namespace' && get(d.body, 'metadata.name') === MESH_NAMESPACE)) {
    problems.push({ where: 'k8s/', message: `no Namespace ${MESH_NAMESPACE}` });
  }
  for (const d of docs) {
    const ns = get(d.body, 'metadata.namespace');
    if (d.body.kind !== 'Namespace' && ns !== MESH_NAMESPACE) problems.push({ where: describeDoc(d), message: `metadata.namespace must be ${MESH_NAMESPACE}, got ${String(ns)}` });
  }
  for (const spec of apps) {
    if (spec.kind === 'control-plane') {
      checkControlPlane(docs, spec, problems);
      continue;
    }
    const template = find(docs, 'PodTemplate', spec.workload);
    if (!template) problems.push({ where: 'k8s/', message: `no PodTemplate ${spec.workload} for ${spec.app}` });
    else checkPodSpec(template, 'template.spec', spec, problems);
  }
  const visit = (node: unknown, path: string, doc: ManifestDoc): void => {
    if (Array.isArray(node)) return node.forEach((n, i) => visit(n, `${path}[${i}]`, doc));
    if (node === null || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node as Obj)) {
      if (k === 'ports' && Array.isArray(v)) {
        asList(v).forEach((p, i) => {
          const problem = typeof p.name === 'string' ? portNameProblem(p.name) : undefined;
          if (problem) problems.push({ where: `${describeDoc(doc)} ${path}.ports[${i}].name`, message: problem });
        });
      }
      visit(v, path ? `${path}.${k}` : k, doc);
    }
  };
  for (const d of docs) visit(d.body, '', d);
  return problems;
}
