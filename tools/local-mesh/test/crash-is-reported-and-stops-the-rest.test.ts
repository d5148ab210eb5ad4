/**
 * A component that dies is named with its exit code and its last log lines, the others are stopped, and
 * the command exits non-zero; likewise for a component that never becomes ready, and a bad topology file
 * is refused with the path of each error before anything starts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '@mesh/runtime';
import { portIsFree } from '../src/ports';
import { pidAlive, runStart } from './helpers';

const SERVER = (port: number) =>
  `require('http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1', () => console.log('steady listening'));` +
  `process.on('SIGTERM', () => { console.log('steady got SIGTERM'); process.exit(0); });`;

const CRASHER =
  "console.log('crasher up'); console.error('about to fail: disk on fire');" +
  'setTimeout(() => process.exit(3), 1500); setInterval(() => {}, 1000);';

describe('a failing component is reported and the rest are stopped', () => {
  const dir = mkdtempSync(join(tmpdir(), 'local-mesh-crash-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a crash after start: which component, its exit code, its last lines; the others stop; exit 1', async () => {
    const port = await freePort();
    const file = join(dir, 'crash.json');
    writeFileSync(
      file,
      JSON.stringify({
        components: [
          { name: 'steady', command: process.execPath, args: ['-e', SERVER(port)], ports: [{ name: 'http', host: '127.0.0.1', port }], ready: { http: `http://127.0.0.1:${port}/` } },
          { name: 'crasher', command: process.execPath, args: ['-e', CRASHER], ready: { logLine: 'crasher up' }, after: ['steady'] },
        ],
      }),
    );
    const run = runStart(['--topology', file, '--log-dir', join(dir, 'logs-crash')]);
    const steadyPid = Number((await run.waitFor(/starting steady \(pid (\d+)\)/, 30_000))[1]);
    const exit = await run.waitExit(60_000);
    const out = run.output();
    assert.equal(exit.timedOut, false, out);
    assert.equal(exit.code, 1, out);
    assert.match(out, /FAILED: crasher exited with code 3\./);
    assert.match(out, /\| about to fail: disk on fire/);
    assert.match(out, /stopped {2}steady/);
    assert.equal(pidAlive(steadyPid), false, 'steady still runs');
    assert.ok(await portIsFree('127.0.0.1', port), `port ${port} still bound`);
  });

  it('a component that is never ready: named with what was awaited; exit 1', async () => {
    const file = join(dir, 'slow.json');
    writeFileSync(
      file,
      JSON.stringify({
        components: [{ name: 'mute', command: process.execPath, args: ['-e', "console.log('hello'); setInterval(() => {}, 1000)"], ready: { logLine: 'never printed', timeoutMs: 1500 } }],
      }),
    );
    const run = runStart(['--topology', file, '--log-dir', join(dir, 'logs-slow')]);
    const pid = Number((await run.waitFor(/starting mute \(pid (\d+)\)/, 30_000))[1]);
    const exit = await run.waitExit(60_000);
    const out = run.output();
    assert.equal(exit.code, 1, out);
    assert.match(out, /FAILED: mute not ready within 1500 ms \(its log shows \/never printed\/\)/);
    assert.match(out, /\| hello/);
    assert.equal(pidAlive(pid), false, 'mute still runs');
  });

  it('Ctrl-C while a component is still starting: nothing more is started, everything stops, exit 0', async () => {
    const port = await freePort();
    const file = join(dir, 'interrupted.json');
    writeFileSync(
      file,
      JSON.stringify({
        components: [
          { name: 'steady', command: process.execPath, args: ['-e', SERVER(port)], ports: [{ name: 'http', host: '127.0.0.1', port }], ready: { http: `http://127.0.0.1:${port}/` } },
          { name: 'slow', command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'], ready: { logLine: 'never', timeoutMs: 60000 } },
          { name: 'later', command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'], ready: { logLine: 'x' }, after: ['slow'] },
        ],
      }),
    );
    const run = runStart(['--topology', file, '--log-dir', join(dir, 'logs-interrupted')]);
    const slowPid = Number((await run.waitFor(/starting slow \(pid (\d+)\)/, 30_000))[1]);
    const steadyPid = Number((await run.waitFor(/starting steady \(pid (\d+)\)/, 30_000))[1]);
    await run.waitFor(/ready {4}steady/, 30_000);
    assert.ok(process.kill(run.child.pid as number, 'SIGINT'));
    const exit = await run.waitExit(60_000);
    const out = run.output();
    assert.equal(exit.timedOut, false, out);
    assert.equal(exit.code, 0, out);
    assert.match(out, /SIGINT: stopping 2 component\(s\)/);
    assert.doesNotMatch(out, /starting later/);
    assert.doesNotMatch(out, /FAILED/);
    assert.equal(pidAlive(slowPid), false, 'slow still runs');
    assert.equal(pidAlive(steadyPid), false, 'steady still runs');
    assert.ok(await portIsFree('127.0.0.1', port), `port ${port} still bound`);
  });

  it('a component that ignores SIGTERM gets SIGKILL after the grace period', async () => {
    const file = join(dir, 'stubborn.json');
    writeFileSync(
      file,
      JSON.stringify({
        components: [
          {
            name: 'stubborn',
            command: process.execPath,
            args: ['-e', "process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('up'); setInterval(() => {}, 1000)"],
            ready: { logLine: '^up$' },
          },
        ],
      }),
    );
    const run = runStart(['--topology', file, '--log-dir', join(dir, 'logs-stubborn'), '--stop-grace', '1s']);
    const pid = Number((await run.waitFor(/starting stubborn \(pid (\d+)\)/, 30_000))[1]);
    await run.waitFor(/Ctrl-C stops everything/, 30_000);
    assert.ok(process.kill(run.child.pid as number, 'SIGTERM'));
    const exit = await run.waitExit(60_000);
    const out = run.output();
    assert.equal(exit.code, 0, out);
    assert.match(out, /stubborn did not stop within 1000 ms: SIGKILL/);
    assert.match(out, /stopped {2}stubborn \(SIGKILL\)/);
    assert.equal(pidAlive(pid), false, 'stubborn still runs');
  });

  it('a bad topology file: every error with its path, nothing started, exit 2', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify({
        components: [
          { name: 'a', command: process.execPath, args: [], ready: { http: 'ftp://x' } },
          { name: 'a', command: process.execPath, args: [], ready: { tcp: '127.0.0.1:1' }, after: ['ghost'] },
        ],
      }),
    );
    const run = runStart(['--topology', file]);
    const exit = await run.waitExit(30_000);
    const out = run.output();
    assert.equal(exit.code, 2, out);
    assert.match(out, /MESH_ERR_LOCALMESH_TOPOLOGY_INVALID: invalid topology file .*bad\.json/);
    assert.match(out, /components\[0\]\.ready\.http: must match pattern/);
    assert.doesNotMatch(out, /starting /);
  });
});
