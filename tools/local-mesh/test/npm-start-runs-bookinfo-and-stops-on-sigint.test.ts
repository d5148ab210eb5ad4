/**
 * The local mesh as a user runs it: start.mjs in a child process, wait until it says ready, use the
 * product page it prints, Ctrl-C (SIGINT), and check that every process it started is gone and every
 * port it used is free.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { portIsFree } from '../src/ports';
import { MESH_APPS } from '../src/topology-mesh';
import { pidAlive, ROOT, runStart, type StartRun } from './helpers';

interface State {
  logDir: string;
  components: { name: string; pid: number; ports: { host: string; port: number }[]; links: { url: string }[]; log: string }[];
  skipped: { name: string; reason: string }[];
}

function get(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, timeout: 20_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within 20 s`)));
    req.on('error', reject);
    req.end();
  });
}

describe('npm start runs Bookinfo and stops everything on SIGINT', () => {
  const dir = mkdtempSync(join(tmpdir(), 'local-mesh-test-'));
  let run: StartRun | undefined;

  after(async () => {
    if (run && run.child.exitCode === null && run.child.signalCode === null) {
      run.child.kill('SIGTERM');
      await run.waitExit(30_000);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts, serves the product page, and leaves no process and no bound port after Ctrl-C', async () => {
    const logDir = join(dir, 'logs');
    run = runStart(['--free-ports', '--log-dir', logDir, '--state-dir', join(dir, 'state'), '--ready-timeout', '90s']);
    await run.waitFor(new RegExp(`Logs: ${logDir.replace(/[/\\.]/g, '\\$&')}`), 30_000);
    await run.waitFor(/Ctrl-C stops everything\./, 150_000);
    const state = JSON.parse(readFileSync(join(logDir, 'topology.json'), 'utf8')) as State;
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'state', 'topology.json'), 'utf8')), state, 'the state dir has the same topology');

    // Every Bookinfo workload runs, each with its own log file.
    const names = state.components.map((c) => c.name);
    for (const w of ['productpage-v1', 'details-v1', 'reviews-v1', 'reviews-v2', 'reviews-v3', 'ratings-v1']) {
      assert.ok(names.includes(w), `${w} not started: ${names.join(', ')}`);
    }
    for (const c of state.components) {
      assert.ok(pidAlive(c.pid), `${c.name} (pid ${c.pid}) is not running`);
      assert.ok(existsSync(c.log) && statSync(c.log).size > 0, `${c.log} is empty`);
      assert.match(run.output(), new RegExp(`\\n\\s+${c.name}\\s+\\S+\\s+${c.pid}\\s`), `summary row for ${c.name}`);
    }

    // A mesh component whose binary says NOT IMPLEMENTED is reported as skipped, never started.
    for (const m of MESH_APPS) {
      const main = join(ROOT, 'dist/apps', m.app, 'main.js');
      if (m.never || !existsSync(main)) continue;
      const help = execFileSync(process.execPath, [main, '--help'], { encoding: 'utf8' });
      if (!help.includes('NOT IMPLEMENTED')) continue;
      assert.ok(!names.includes(m.app), `${m.app} says NOT IMPLEMENTED but was started`);
      assert.match(run.output(), new RegExp(`skipped ${m.app}: NOT IMPLEMENTED`));
    }

    // The product page the summary prints works, and productpage reaches all three reviews versions.
    const pageUrl = /Product page[^:]*: (http:\S+)/.exec(run.output())?.[1];
    assert.ok(pageUrl, 'the summary names the product page URL');
    const versions = new Set<string>();
    for (let i = 0; i < 9 && versions.size < 3; i++) {
      const page = await get(pageUrl);
      assert.equal(page.status, 200);
      assert.match(page.text, /<dd class="author">William Shakespeare<\/dd>/);
      const v = /<span class="version">(v\d)<\/span>/.exec(page.text)?.[1];
      assert.ok(v, 'the page shows which reviews version served it');
      versions.add(v);
    }
    assert.deepEqual([...versions].sort(), ['v1', 'v2', 'v3']);

    const startPid = run.child.pid as number;
    assert.ok(process.kill(startPid, 'SIGINT'));
    const exit = await run.waitExit(60_000);
    assert.equal(exit.timedOut, false, `start.mjs did not exit within 60 s after SIGINT; output:\n${run.output()}`);
    assert.equal(exit.code, 0, run.output());
    assert.match(run.output(), /SIGINT: stopping/);
    assert.match(run.output(), /all components stopped, \d+ port\(s\) free/);
    assert.equal(existsSync(join(dir, 'state', 'topology.json')), false, 'the state dir topology is removed on stop');

    for (const c of state.components) {
      assert.equal(pidAlive(c.pid), false, `${c.name} (pid ${c.pid}) still runs`);
      for (const p of c.ports) assert.ok(await portIsFree(p.host, p.port), `${c.name}: ${p.host}:${p.port} still bound`);
    }
  });
});
