/**
 * The local mesh as a user runs it (issue 6): start.mjs in a child process, wait until it says ready,
 * use the product page through the ingress gateway, apply each Bookinfo traffic task with the real
 * meshctl binary and see its effect through the gateway, read the sidecars' istio_requests_total, then
 * Ctrl-C (SIGINT) and check that every process it started is gone and every port it used is free.
 * The `it`s run in order against one running mesh.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { portIsFree } from '../src/ports';
import { MESH_APPS } from '../src/topology-mesh';
import { pidAlive, ROOT, runStart, type StartRun } from './helpers';
import { eventually, get, login, meshctl, requestsTotal, reviewsVersion, type Page } from './mesh-client';

interface State {
  logDir: string;
  components: { name: string; pid: number; ports: { name: string; host: string; port: number }[]; links: { url: string }[]; log: string }[];
  skipped: { name: string; reason: string }[];
}

const TASKS = join(ROOT, 'samples/bookinfo/networking');
const REVIEWS_UNAVAILABLE = 'Sorry, product reviews are currently unavailable for this book.';
const RATINGS_UNAVAILABLE = 'Ratings service is currently unavailable';
const esc = (s: string) => s.replace(/[/\\.]/g, '\\$&');

describe('npm start runs Bookinfo through the mesh; traffic tasks applied with meshctl take effect', () => {
  const dir = mkdtempSync(join(tmpdir(), 'local-mesh-e2e-'));
  const logDir = join(dir, 'logs');
  const stateDir = join(dir, 'state');
  let run: StartRun | undefined;
  let state: State | undefined;
  let page = '';
  /** Headers of a browser logged in as jason (set by the test-v2 step from a real POST /login). */
  const JASON: Record<string, string> = {};
  let admin: (component: string) => string = () => '';

  after(async () => {
    if (run && run.child.exitCode === null && run.child.signalCode === null) {
      run.child.kill('SIGTERM');
      await run.waitExit(30_000);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const apply = async (file: string) => {
    const r = await meshctl(['apply', '-f', join(TASKS, file), '--state-dir', stateDir]);
    assert.equal(r.code, 0, `meshctl apply -f ${file}: ${r.out}`);
  };
  const pages = async (n: number, headers: Record<string, string> = {}): Promise<Page[]> => {
    const out: Page[] = [];
    for (let i = 0; i < n; i++) out.push(await get(page, headers));
    return out;
  };

  it('starts a sidecar per workload and the gateway, and prints what runs where', async () => {
    // The gateway port is picked free too (--free-ports), so a user's own mesh on 8080 does not collide.
    run = runStart(['--free-ports', '--log-dir', logDir, '--state-dir', stateDir, '--ready-timeout', '90s']);
    await run.waitFor(new RegExp(`Logs: ${esc(logDir)}`), 30_000);
    await run.waitFor(/Ctrl-C stops everything\./, 150_000);
    state = JSON.parse(readFileSync(join(logDir, 'topology.json'), 'utf8')) as State;
    assert.deepEqual(JSON.parse(readFileSync(join(stateDir, 'topology.json'), 'utf8')), state, 'the state dir has the same topology');
    const names = state.components.map((c) => c.name);
    for (const w of ['productpage-v1', 'details-v1', 'reviews-v1', 'reviews-v2', 'reviews-v3', 'ratings-v1']) {
      assert.ok(names.includes(w), `${w} not started: ${names.join(', ')}`);
      assert.ok(names.includes(`sidecar-${w}`), `sidecar-${w} not started: ${names.join(', ')}`);
    }
    assert.ok(names.includes('ingress-gateway') && names.includes('pilot'), names.join(', '));
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
    const byName = new Map(state.components.map((c) => [c.name, c]));
    admin = (name) => {
      const p = byName.get(name)?.ports.find((x) => x.name === 'admin');
      assert.ok(p, `${name} has an admin port`);
      return `http://${p.host}:${p.port}`;
    };
    const gw = byName.get('ingress-gateway')?.ports.find((p) => p.name === 'http');
    assert.ok(gw);
    page = `http://${gw.host}:${gw.port}/productpage`;
    // The banner: the product page through the gateway, each proxy's admin, the log dir, how to apply a task.
    assert.match(run.output(), new RegExp(`Product page \\(through the ingress gateway\\): ${esc(page)}\\n`));
    for (const c of ['sidecar-reviews-v2', 'ingress-gateway']) assert.ok(run.output().includes(`${admin(c)}/`), `banner names ${c}'s admin`);
    assert.match(run.output(), /Pilot sync state: http:\S+\/debug\/syncz/);
    assert.match(run.output(), new RegExp(`meshctl apply -f samples/bookinfo/networking/\\S+\\.yaml --state-dir ${esc(stateDir)} `), 'how to apply a task, for this state dir');
  });

  it('serves the product page through the gateway, with all three reviews versions (no VirtualService yet)', async () => {
    assert.ok(page, 'the mesh started');
    const versions = new Set<string>();
    for (let i = 0; i < 15 && versions.size < 3; i++) {
      const p = await get(page);
      assert.equal(p.status, 200);
      assert.match(p.text, /<dd class="author">William Shakespeare<\/dd>/, 'details reached through the sidecars');
      const v = reviewsVersion(p);
      assert.ok(v, `reviews reached through the sidecars: ${p.text.slice(0, 400)}`);
      versions.add(v);
    }
    assert.deepEqual([...versions].sort(), ['v1', 'v2', 'v3']);
  });

  it('meshctl status shows every proxy connected and SYNCED; proxy-config shows the sidecar routes', async () => {
    const status = await eventually(() => meshctl(['status', '--state-dir', stateDir]), (r) => r.code === 0, 20, 20_000);
    assert.equal(status.code, 0, status.out);
    for (const id of ['router~127.0.0.10~istio-ingressgateway', 'sidecar~127.0.0.11~productpage-v1', 'sidecar~127.0.0.16~ratings-v1']) {
      assert.match(status.out, new RegExp(`${id}\\.default\\S*\\s+\\S+\\s+SYNCED\\s+SYNCED\\s+SYNCED\\s+SYNCED`), `${id} in:\n${status.out}`);
    }
    const routes = await meshctl(['proxy-config', 'routes', 'sidecar-productpage-v1', '--state-dir', stateDir]);
    assert.equal(routes.code, 0, routes.out);
    assert.match(routes.out, /reviews\.default\.svc\.cluster\.local:9080/);
  });

  it('with Citadel: sidecars call each other over mutual TLS; STRICT details refuses a plaintext caller', async (t) => {
    if (!state?.components.some((c) => c.name === 'citadel')) return t.skip('Citadel is not running in this build');
    assert.match(run?.output() ?? '', /Mutual TLS: /);
    // productpage's sidecar holds a workload certificate and calls details with TLS (ISTIO_MUTUAL).
    const dump = JSON.parse((await get(`${admin('sidecar-productpage-v1')}/config_dump`)).text) as { configs: { dynamic_active_clusters?: { cluster: { name: string; transport_socket?: { name: string } } }[] }[] };
    const clusters = dump.configs.flatMap((c) => c.dynamic_active_clusters ?? []).map((c) => c.cluster);
    const details = clusters.find((c) => c.name === 'outbound|9080||details.default.svc.cluster.local');
    assert.equal(details?.transport_socket?.name, 'envoy.transport_sockets.tls', JSON.stringify(details));
    // Through the mesh details answers; straight to its sidecar in plaintext, without a certificate, it does not.
    const p = await get(page);
    assert.match(p.text, /<dd class="author">William Shakespeare<\/dd>/);
    const direct = await get(`http://${state.components.find((c) => c.name === 'sidecar-details-v1')?.ports.find((x) => x.name === 'inbound')?.host}:9080/details/0`, {}, 5_000).then(
      (r) => `answered ${r.status}`,
      (err: Error) => `refused: ${err.message}`,
    );
    assert.match(direct, /^refused/, `a plaintext call to STRICT details' sidecar was ${direct}`);
    return undefined;
  });

  it('all-v1: only reviews v1 answers', async () => {
    await apply('virtual-service-all-v1.yaml');
    const first = await eventually(() => pages(6), (ps) => ps.every((p) => reviewsVersion(p) === 'v1'), 40, 20_000);
    assert.deepEqual(first.map(reviewsVersion), Array(6).fill('v1'), 'all-v1 took effect');
    const seen = (await pages(20)).map(reviewsVersion);
    assert.deepEqual(seen, Array(20).fill('v1'), `20 requests after all-v1: ${seen.join(',')}`);
  });

  it('reviews-test-v2: jason (login cookie -> end-user header) gets v2 with black stars, others v1', async () => {
    JASON.cookie = await login(page, 'jason');
    assert.equal(JASON.cookie, 'user=jason');
    await apply('virtual-service-reviews-test-v2.yaml');
    const jason = await eventually(() => pages(4, JASON), (ps) => ps.every((p) => reviewsVersion(p) === 'v2'), 40, 20_000);
    assert.deepEqual(jason.map(reviewsVersion), Array(4).fill('v2'), 'jason is routed to v2');
    for (const p of await pages(6, JASON)) {
      assert.equal(reviewsVersion(p), 'v2');
      assert.match(p.text, /color="black"/, 'v2 shows black stars (it reached ratings through the mesh)');
    }
    for (const p of await pages(6)) {
      assert.equal(reviewsVersion(p), 'v1', 'someone else stays on v1');
      assert.doesNotMatch(p.text, /color="(black|red)"/);
    }
  });

  it('reviews-50-v3: anonymous traffic splits between v1 and v3 (v3 share within 0.25..0.75 over 40 requests)', async () => {
    await apply('virtual-service-reviews-50-v3.yaml');
    await eventually(() => get(page), (p) => reviewsVersion(p) === 'v3', 60, 20_000);
    const seen = (await pages(40)).map(reviewsVersion);
    const v3 = seen.filter((v) => v === 'v3').length;
    assert.equal(seen.filter((v) => v !== 'v1' && v !== 'v3').length, 0, `only v1 and v3: ${seen.join(',')}`);
    // p = 0.5, n = 40: sd ~ 0.08, so 0.25..0.75 is more than 3 sd either side.
    assert.ok(v3 >= 10 && v3 <= 30, `v3 served ${v3}/40: ${seen.join(',')}`);
  });

  it('ratings-test-delay: a 7 s delay to ratings for jason makes productpage give up on reviews (jason only)', async () => {
    await apply('virtual-service-reviews-test-v2.yaml');
    await apply('virtual-service-ratings-test-delay.yaml');
    // Each of jason's requests takes productpage's reviews timeout (3 s) twice (one retry): few tries.
    const jason = await eventually(() => get(page, JASON), (p) => p.text.includes(REVIEWS_UNAVAILABLE), 4, 30_000);
    assert.ok(jason.text.includes(REVIEWS_UNAVAILABLE), `jason sees the reviews error: ${jason.text.slice(0, 400)}`);
    // Measured effect: at least one full 3 s reviews timeout of productpage (a lower bound; load only adds).
    assert.ok(jason.ms >= 2900, `jason's page took ${Math.round(jason.ms)} ms; the delay should hold it >= 3 s`);
    const other = await get(page);
    assert.equal(reviewsVersion(other), 'v1', `others are not delayed out of their reviews (took ${Math.round(other.ms)} ms)`);
  });

  it('ratings-test-abort: an HTTP 500 from ratings for jason shows "Ratings service is currently unavailable" (jason only)', async () => {
    await apply('virtual-service-ratings-test-abort.yaml');
    const jason = await eventually(() => get(page, JASON), (p) => p.text.includes(RATINGS_UNAVAILABLE), 40, 30_000);
    assert.equal(reviewsVersion(jason), 'v2');
    assert.ok(jason.text.includes(RATINGS_UNAVAILABLE), `jason sees the ratings error: ${jason.text.slice(0, 600)}`);
    assert.doesNotMatch(jason.text, /color="black"/);
    const other = await get(page);
    assert.equal(reviewsVersion(other), 'v1');
    assert.ok(!other.text.includes(RATINGS_UNAVAILABLE));
    // The fault was injected by reviews-v2's sidecar (response flag FI), not by ratings itself.
    assert.ok((await requestsTotal(admin('sidecar-reviews-v2'), { reporter: 'source', response_code: '500', response_flags: 'FI' })) > 0);
  });

  it('reviews-v2-timeout: a 0.5 s timeout on reviews (v2 slowed by 2 s on ratings) gives the reviews error', async () => {
    await apply('virtual-service-reviews-v2-timeout.yaml');
    const p = await eventually(() => get(page), (x) => x.text.includes(REVIEWS_UNAVAILABLE), 10, 30_000);
    assert.ok(p.text.includes(REVIEWS_UNAVAILABLE), `the page shows the reviews error: ${p.text.slice(0, 400)}`);
    // It was the route timeout at productpage's sidecar (504, flag UT), not productpage's own 3 s timeout.
    const ut = await requestsTotal(admin('sidecar-productpage-v1'), { reporter: 'source', response_code: '504', response_flags: 'UT' });
    assert.ok(ut > 0, `productpage-v1 sidecar counted upstream timeouts (page took ${Math.round(p.ms)} ms)`);
  });

  it('sidecars count each hop in istio_requests_total with source and destination workload labels', async () => {
    // Workload names (Istio's, from the pod: productpage-v1, reviews-v2) on both sides of each hop: the peer's
    // side comes from the sidecars' metadata exchange (x-envoy-peer-metadata), so each hop is seen alike
    // by the client's sidecar (reporter=source) and the server's (reporter=destination).
    const hops: [string, Record<string, string>][] = [
      ['ingress-gateway', { reporter: 'source', source_workload: 'istio-ingressgateway', destination_workload: 'productpage-v1', destination_service: 'productpage.default.svc.cluster.local' }],
      ['sidecar-productpage-v1', { reporter: 'destination', source_workload: 'istio-ingressgateway', destination_workload: 'productpage-v1', destination_version: 'v1' }],
      ['sidecar-productpage-v1', { reporter: 'source', source_workload: 'productpage-v1', destination_workload: 'details-v1', destination_service: 'details.default.svc.cluster.local' }],
      ['sidecar-productpage-v1', { reporter: 'source', source_workload: 'productpage-v1', destination_workload: 'reviews-v1', destination_service: 'reviews.default.svc.cluster.local' }],
      ['sidecar-productpage-v1', { reporter: 'source', source_workload: 'productpage-v1', destination_workload: 'reviews-v3', destination_service: 'reviews.default.svc.cluster.local' }],
      ['sidecar-productpage-v1', { reporter: 'source', source_workload: 'productpage-v1', destination_workload: 'reviews-v2', destination_version: 'v2' }],
      ['sidecar-reviews-v2', { reporter: 'destination', source_workload: 'productpage-v1', destination_workload: 'reviews-v2', destination_version: 'v2' }],
      // With Citadel, productpage calls details over mutual TLS: details' sidecar names the caller's SPIFFE identity.
      ['sidecar-details-v1', {
        reporter: 'destination', source_workload: 'productpage-v1', source_app: 'productpage', source_version: 'v1', destination_workload: 'details-v1',
        ...(state?.components.some((c) => c.name === 'citadel') ? { source_principal: 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage', connection_security_policy: 'mutual_tls' } : {}),
      }],
      ['sidecar-reviews-v1', { reporter: 'destination', source_workload: 'productpage-v1', destination_workload: 'reviews-v1', destination_version: 'v1' }],
      ['sidecar-reviews-v3', { reporter: 'destination', source_workload: 'productpage-v1', destination_workload: 'reviews-v3', destination_version: 'v3' }],
      ['sidecar-reviews-v3', { reporter: 'source', source_workload: 'reviews-v3', destination_workload: 'ratings-v1', destination_service: 'ratings.default.svc.cluster.local' }],
      ['sidecar-ratings-v1', { reporter: 'destination', source_workload: 'reviews-v3', source_app: 'reviews', source_version: 'v3', destination_workload: 'ratings-v1' }],
    ];
    for (const [proxy, labels] of hops) {
      const n = await requestsTotal(admin(proxy), labels);
      assert.ok(n > 0, `${proxy}: istio_requests_total{${JSON.stringify(labels)}} = ${n}`);
    }
    // One more page for someone not routed by a fault: the gateway and productpage's inbound each count it.
    const before = await requestsTotal(admin('sidecar-productpage-v1'), { reporter: 'destination', response_code: '200' });
    const gwBefore = await requestsTotal(admin('ingress-gateway'), { reporter: 'source', response_code: '200' });
    assert.equal((await get(page)).status, 200);
    assert.equal(await requestsTotal(admin('sidecar-productpage-v1'), { reporter: 'destination', response_code: '200' }), before + 1);
    assert.equal(await requestsTotal(admin('ingress-gateway'), { reporter: 'source', response_code: '200' }), gwBefore + 1);
  });

  it('reviews circuit breaker: over its 1 connection + 1 pending limit, calls fail fast with 503 UO', async () => {
    const del = await meshctl(['delete', '-f', join(TASKS, 'virtual-service-reviews-v2-timeout.yaml'), '--state-dir', stateDir]);
    assert.equal(del.code, 0, del.out);
    await apply('destination-rule-reviews-circuit-breaker.yaml');
    const overflow = () => requestsTotal(admin('sidecar-productpage-v1'), { reporter: 'source', response_code: '503', response_flags: 'UO' });
    const before = await overflow();
    // 16 pages at once: productpage calls reviews 16 times at once; the breaker lets about two through.
    const after = await eventually(
      async () => {
        const burst = await Promise.all(Array.from({ length: 16 }, () => get(page)));
        assert.ok(burst.every((p) => p.status === 200), 'the page itself still answers');
        return overflow();
      },
      (n) => n > before,
      10,
      30_000,
    );
    assert.ok(after > before, `productpage-v1 sidecar counted overflow (503 UO) calls to reviews: ${before} -> ${after}`);
  });

  it('SIGINT stops everything: no process and no bound port is left', async () => {
    assert.ok(run && state, 'the mesh started');
    assert.ok(process.kill(run.child.pid as number, 'SIGINT'));
    const exit = await run.waitExit(60_000);
    assert.equal(exit.timedOut, false, `start.mjs did not exit within 60 s after SIGINT; output:\n${run.output()}`);
    assert.equal(exit.code, 0, run.output());
    assert.match(run.output(), /SIGINT: stopping/);
    assert.match(run.output(), /all components stopped, \d+ port\(s\) free/);
    assert.equal(existsSync(join(stateDir, 'topology.json')), false, 'the state dir topology is removed on stop');
    for (const c of state.components) {
      assert.equal(pidAlive(c.pid), false, `${c.name} (pid ${c.pid}) still runs`);
      for (const p of c.ports) assert.ok(await portIsFree(p.host, p.port), `${c.name}: ${p.host}:${p.port} still bound`);
    }
  });
});
