import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Debouncer } from './push-debounce';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('push debounce', () => {
  it('fires once after a quiet period with everything that came in', async () => {
    const fired: number[][] = [];
    const d = new Debouncer<number>(50, 10_000, (items) => fired.push(items));
    d.add(1);
    await sleep(20);
    d.add(2);
    await sleep(20);
    assert.equal(fired.length, 0, 'still inside the quiet period');
    await sleep(80);
    assert.deepEqual(fired, [[1, 2]]);
    d.stop();
  });

  it('fires at the maximum delay even while changes keep coming', async () => {
    const fired: number[][] = [];
    const d = new Debouncer<number>(50, 120, (items) => fired.push(items));
    for (let i = 0; i < 12 && fired.length === 0; i++) {
      d.add(i);
      await sleep(25);
    }
    assert.equal(fired.length, 1, 'a burst longer than the max delay is pushed');
    d.stop();
  });
});
