/**
 * What a Delta client holds of one type: name -> version. After most sends the client holds exactly the
 * resources of one snapshot that its subscription covers; then the state is that snapshot (shared by every
 * stream of a proxy class) and an empty overlay, instead of a map of hundreds of names per stream. Names
 * that differ from it (sent, removed, forced) go into the overlay until the next send reconciles the
 * whole type and the state collapses onto the new snapshot again.
 */
import type { SnapshotResource } from './snapshot';
import type { Subscription } from './subscription';

export class HeldVersions {
  /** Resources the client holds (where the subscription covers them and no overlay entry says otherwise). */
  private base: ReadonlyMap<string, SnapshotResource> | undefined;
  /** name -> version held, or undefined: not held (whatever `base` says). */
  private readonly overlay = new Map<string, string | undefined>();

  constructor(private readonly subscription: Subscription) {}

  get(name: string): string | undefined {
    if (this.overlay.has(name)) return this.overlay.get(name);
    return this.base && this.subscription.covers(name) ? this.base.get(name)?.version : undefined;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  set(name: string, version: string): void {
    this.overlay.set(name, version);
  }

  /** Forgets a name; true if it was held. */
  delete(name: string): boolean {
    const had = this.has(name);
    if (had || this.base?.has(name)) this.overlay.set(name, undefined);
    else this.overlay.delete(name);
    return had;
  }

  *keys(): IterableIterator<string> {
    if (this.base) {
      for (const name of this.base.keys()) if (!this.overlay.has(name) && this.subscription.covers(name)) yield name;
    }
    for (const [name, version] of this.overlay) if (version !== undefined) yield name;
  }

  /** The client now holds exactly the covered resources of `resources` at their versions. */
  rebase(resources: ReadonlyMap<string, SnapshotResource>): void {
    this.base = resources;
    // Map#clear allocates a fresh table even when empty: this runs per stream and type on every push.
    if (this.overlay.size > 0) this.overlay.clear();
  }

  /**
   * A name the subscription did not cover and now does: the client does not hold it (unless the overlay
   * says otherwise), whatever `base` has under that name.
   */
  covered(name: string): void {
    if (!this.overlay.has(name) && this.base?.has(name)) this.overlay.set(name, undefined);
  }

  /**
   * Before the wildcard is switched on or off (every name's coverage may change): copy what is held into
   * the overlay and drop `base` (the next full send rebases). O(held); rare.
   */
  detach(): void {
    if (!this.base) return;
    const held = new Map<string, string>();
    for (const name of this.keys()) held.set(name, this.get(name) as string);
    this.base = undefined;
    this.overlay.clear();
    for (const [name, version] of held) this.overlay.set(name, version);
  }
}
