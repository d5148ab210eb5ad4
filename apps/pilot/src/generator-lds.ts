/** LDS: api_listeners for proxyless gRPC, socket listeners for Envoy. */
import type { Generator } from './generators';
import { buildListeners } from './translate-listener';

export const generateLds: Generator = (push, scope) => buildListeners(push, scope);
