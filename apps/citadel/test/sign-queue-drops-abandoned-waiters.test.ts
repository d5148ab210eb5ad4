/**
 * The sign queue (sign-queue.ts) runs at most `limit` signatures at once and asks each waiting request,
 * when its turn comes, whether its caller is still there: one that gave up while waiting is dropped
 * (REQUEST_ABANDONED) and never signed; the others run in arrival order.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { SignQueue } from '../src/sign-queue';

function gate(): { promise: Promise<void>; open(): void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe('SignQueue', () => {
  it('drops a waiter whose caller gave up while it waited, and runs the rest in order', async () => {
    const queue = new SignQueue(1);
    const ran: string[] = [];
    const first = gate();
    let secondGone = false;
    const a = queue.run(undefined, async () => {
      ran.push('a');
      await first.promise;
      return 'a';
    });
    const b = queue.run(() => secondGone, async () => {
      ran.push('b');
      return 'b';
    });
    const c = queue.run(() => false, async () => {
      ran.push('c');
      return 'c';
    });
    assert.equal(queue.queued, 2);
    secondGone = true;
    first.open();
    assert.equal(await a, 'a');
    await assert.rejects(b, (err: Error & { code?: string }) => err.code === 'MESH_ERR_CITADEL_REQUEST_ABANDONED');
    assert.equal(await c, 'c');
    assert.deepEqual(ran, ['a', 'c']);
    assert.equal(queue.queued, 0);
  });

  it('never runs more than its limit at once', async () => {
    const queue = new SignQueue(2);
    let running = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 10 }, () =>
        queue.run(undefined, async () => {
          running++;
          most = Math.max(most, running);
          await new Promise((r) => setImmediate(r));
          running--;
        }),
      ),
    );
    assert.equal(most, 2);
  });

  it('refuses at once a request that is already abandoned when a slot is free', async () => {
    const queue = new SignQueue(1);
    let ran = false;
    await assert.rejects(
      queue.run(() => true, async () => {
        ran = true;
      }),
      (err: Error & { code?: string }) => err.code === 'MESH_ERR_CITADEL_REQUEST_ABANDONED',
    );
    assert.equal(ran, false);
  });
});
