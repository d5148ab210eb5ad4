/**
 * Content versions per xDS type: a hash over the resources' JSON, each resource hashed once (cached by
 * object, and resources are shared between proxy classes). Same content => same version => the server
 * sends nothing.
 */
import { createHash } from 'node:crypto';

const hashes = new WeakMap<object, string>();

function resourceHash(resource: object): string {
  let h = hashes.get(resource);
  if (h === undefined) {
    h = createHash('sha1').update(JSON.stringify(resource)).digest('base64url');
    hashes.set(resource, h);
  }
  return h;
}

export function typeVersion(resources: readonly object[]): string {
  const hash = createHash('sha1');
  for (const r of resources) hash.update(resourceHash(r));
  return hash.digest('base64url').slice(0, 12);
}
