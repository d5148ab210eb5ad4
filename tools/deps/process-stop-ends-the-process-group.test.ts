// startProcess/stop: stop() ends the program and the children it forked, output is captured, and waitUntil
// fails fast, with the program's output, when the program dies while being waited for.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { startProcess, waitUntil } from './src/index';

/** Running (a zombie waiting to be reaped by whoever adopted it counts as ended). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('startProcess', () => {
  it('stop() kills the process and its children', async () => {
    // The shell prints its child's pid, then waits; the child ignores nothing and sleeps.
    const proc = startProcess({ name: 'sh', command: 'sh', args: ['-c', 'sleep 300 & echo child=$!; wait'] });
    let child = 0;
    await waitUntil(
      'the child pid',
      async () => {
        child = Number(/child=(\d+)/.exec(proc.logs())?.[1] ?? 0);
        return child > 0;
      },
      { timeoutMs: 5000, process: proc },
    );
    assert.ok(alive(child));
    await proc.stop(2000);
    assert.equal(proc.hasExited(), true);
    let gone = false;
    for (let i = 0; i < 50 && !gone; i++) {
      gone = !alive(child);
      if (!gone) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(gone, true, `child ${child} survived stop()`);
  });

  it('waitUntil reports an early exit with the output', async () => {
    const proc = startProcess({ name: 'failing', command: 'sh', args: ['-c', 'echo boom >&2; exit 3'] });
    await assert.rejects(
      waitUntil('something that never comes', async () => false, { timeoutMs: 5000, process: proc }),
      /failing exited with code 3 while waiting for something that never comes\nboom/,
    );
  });

  it('waitUntil times out naming what it waited for', async () => {
    await assert.rejects(
      waitUntil('the impossible', async () => false, { timeoutMs: 200, intervalMs: 50 }),
      /timed out after 200 ms waiting for the impossible/,
    );
  });

  it('a missing program is an exit with an error, not a crash', async () => {
    const proc = startProcess({ name: 'ghost', command: '/nonexistent/ghost', args: [] });
    const status = await proc.exited;
    assert.match(status.error?.message ?? '', /ENOENT/);
  });
});
