/**
 * Content versions per xDS type, and interning of generated resources.
 *
 * Every push regenerates resources as new objects; encoding them to protobuf is the expensive part of a
 * push. The interner hands back the previous object when a regenerated resource (same type and name)
 * has the same JSON, so the snapshot's per-object encoding cache hits and only what really changed is
 * encoded again. The JSON hash computed on the way is the resource's content version; a type's version
 * is a hash over its resources' hashes (same content => same version => nothing is sent).
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
  // One update over the joined resource hashes (one native call instead of one per resource).
  const parts = new Array<string>(resources.length);
  for (let i = 0; i < resources.length; i++) parts[i] = resourceHash(resources[i] as object);
  return createHash('sha1').update(parts.join('')).digest('base64url').slice(0, 12);
}

interface Interned {
  hash: string;
  value: object;
  touched: number;
}

export class ResourceInterner {
  private readonly entries = new Map<string, Interned>();
  /** A regenerated object already resolved in this push (it is shared between proxy classes). */
  private readonly aliases = new WeakMap<object, object>();
  private generation = 0;

  /** The previous object with the same key and content, else `value` (remembered for next time). */
  intern<T extends object>(key: string, value: T): T {
    const alias = this.aliases.get(value);
    if (alias) return alias as T;
    if (hashes.has(value)) return value; // already interned (shared within a push)
    const hash = createHash('sha1').update(JSON.stringify(value)).digest('base64url');
    const prev = this.entries.get(key);
    if (prev && prev.hash === hash) {
      prev.touched = this.generation;
      this.aliases.set(value, prev.value);
      return prev.value as T;
    }
    hashes.set(value, hash);
    this.entries.set(key, { hash, value, touched: this.generation });
    return value;
  }

  /**
   * Forgets entries of the given types (keys start with `<type URL>|`) not used since the previous sweep
   * (call once per push, with the types that push regenerated in full: a type whose lists were reused or
   * updated in place was not interned again, and its entries are still what the next push compares with).
   */
  sweep(types: ReadonlySet<string>): void {
    if (types.size > 0) {
      for (const [key, e] of this.entries) if (e.touched < this.generation && types.has(key.slice(0, key.indexOf('|')))) this.entries.delete(key);
    }
    this.generation++;
  }

  size(): number {
    return this.entries.size;
  }
}
