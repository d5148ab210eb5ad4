/**
 * Finds every container image a set of manifests refers to: containers, initContainers and
 * ephemeralContainers of any pod spec, at any depth (Deployment, PodTemplate, CronJob, ...), each with its
 * field path so a finding points at the exact line to fix.
 */
import { describeDoc, type ManifestDoc } from './loader-manifests';

export interface ImageUse {
  image: string;
  /** "k8s/base/pilot.yaml#1 (Deployment istio-system/istio-pilot) spec.template.spec.containers[0].image" */
  where: string;
  doc: ManifestDoc;
}

const CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers'];

export function collectImages(docs: readonly ManifestDoc[]): ImageUse[] {
  const uses: ImageUse[] = [];
  const visit = (node: unknown, path: string, doc: ManifestDoc): void => {
    if (Array.isArray(node)) {
      node.forEach((item, i) => visit(item, `${path}[${i}]`, doc));
      return;
    }
    if (node === null || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
      const here = path ? `${path}.${key}` : key;
      if (CONTAINER_LISTS.includes(key) && Array.isArray(value)) {
        value.forEach((c: unknown, i) => {
          const image = (c as { image?: unknown } | null)?.image;
          uses.push({ image: typeof image === 'string' ? image : '', where: `${describeDoc(doc)} ${here}[${i}].image`, doc });
        });
      }
      visit(value, here, doc);
    }
  };
  for (const doc of docs) visit(doc.body, '', doc);
  return uses;
}

/** The repository part of an image reference: "mesh/pilot:abc@sha256:..." -> "mesh/pilot". */
export function imageName(ref: string): string {
  const noDigest = ref.split('@')[0];
  const lastSlash = noDigest.lastIndexOf('/');
  const colon = noDigest.indexOf(':', lastSlash + 1);
  return colon < 0 ? noDigest : noDigest.slice(0, colon);
}
