/**
 * The FIFO of route timeouts (timers-fifo.ts): entries fire in order, not before their deadline; a cancelled
 * entry never fires and its slot is reclaimed once it reaches the head; an entry added from a firing callback
 * waits its whole duration; a full queue answers -1; and a pending timeout does not keep the process alive.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { FifoTimeouts } from '../src/timers-fifo';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('FIFO route timeouts', () => {
  it('fires entries in order, each no earlier than its deadline, and never a cancelled one', async () => {
    const fired: { id: number; late: number }[] = [];
    const added = new Map<number, number>();
    const q = new FifoTimeouts<number>(60, (id) => fired.push({ id, late: performance.now() - (added.get(id) ?? 0) - 60 }));
    const handles: number[] = [];
    for (let id = 0; id < 5; id++) {
      added.set(id, performance.now());
      handles.push(q.add(id));
      await sleep(10);
    }
    q.cancel(handles[1]);
    q.cancel(handles[3]);
    const deadline = Date.now() + 3000;
    while (fired.length < 3 && Date.now() < deadline) await sleep(10);
    assert.deepEqual(
      fired.map((f) => f.id),
      [0, 2, 4],
    );
    for (const f of fired) assert.ok(f.late >= -1, `entry ${f.id} fired ${-f.late} ms early`);
    assert.equal(q.size, 0);
  });

  it('reclaims cancelled entries from the head at once', () => {
    const q = new FifoTimeouts<object>(60_000, () => assert.fail('nothing may fire'));
    const a = q.add({});
    const b = q.add({});
    const c = q.add({});
    q.cancel(b);
    assert.equal(q.size, 3, 'b is behind a live entry');
    q.cancel(a);
    assert.equal(q.size, 1, 'a and b reclaimed, c waits');
    q.cancel(c);
    q.cancel(c);
    assert.equal(q.size, 0);
  });

  it('gives an entry added while another fires its whole duration', async () => {
    const times: number[] = [];
    const start = performance.now();
    const q: FifoTimeouts<string> = new FifoTimeouts<string>(50, (what) => {
      times.push(performance.now() - start);
      if (what === 'first') q.add('second');
    });
    q.add('first');
    const deadline = Date.now() + 3000;
    while (times.length < 2 && Date.now() < deadline) await sleep(10);
    assert.equal(times.length, 2);
    assert.ok(times[1] - times[0] >= 49, `second fired ${times[1] - times[0]} ms after the first`);
  });

  it('answers -1 once 65536 entries are queued', () => {
    const q = new FifoTimeouts<number>(3_600_000, () => assert.fail('nothing may fire'));
    const handles: number[] = [];
    for (let i = 0; i < 65536; i++) handles.push(q.add(i));
    assert.ok(handles.every((h) => h >= 0));
    assert.equal(q.add(65536), -1);
    for (const h of handles) q.cancel(h);
    assert.equal(q.size, 0);
    assert.ok(q.add(0) >= 0, 'room again');
  });

  it('does not keep the process alive', () => {
    const file = path.join(__dirname, '../src/timers-fifo.ts');
    const script = `const { FifoTimeouts } = require(${JSON.stringify(file)}); new FifoTimeouts(60000, () => undefined).add(1);`;
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { timeout: 30_000, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(Date.now() - t0 < 30_000);
  });
});
