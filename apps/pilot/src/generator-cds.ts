/** CDS: every outbound cluster the proxy's scope can reach (+ inbound clusters for Envoy). */
import type { Generator } from './generators';
import { buildClusters } from './translate-cluster';

export const generateCds: Generator = (push, scope) => buildClusters(push, scope);
