/**
 * Load balancers: weighted round robin is exact, random and least-request stay within bands, ring hash
 * keeps a key on one host and spreads keys over hosts; end to end, a header hash policy pins a user to one
 * backend and outlier detection ejects a backend that keeps answering 5xx.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { clusterLoadAssignment, durationFromMs, edsCluster, routeConfiguration, virtualHost } from '@mesh/xds';
import { LeastRequestLb } from '../src/lb-least-request';
import { RandomLb } from '../src/lb-random';
import { hash32, RingHashLb } from '../src/lb-ring-hash';
import { RoundRobinLb } from '../src/lb-round-robin';
import type { Host } from '../src/lb-types';
import { listener, request, startBackend, startHarness, type Backend, type Harness } from './helpers';

const host = (port: number, weight = 1): Host => ({ host: '127.0.0.1', port, weight, address: `127.0.0.1:${port}`, activeRequests: 0 });

describe('load balancer picks', () => {
  it('round robin follows weights exactly over a cycle', () => {
    const hosts = [host(1, 3), host(2, 1)];
    const lb = new RoundRobinLb();
    const counts = new Map<number, number>();
    for (let i = 0; i < 400; i++) {
      const p = lb.pick(hosts)?.port ?? 0;
      counts.set(p, (counts.get(p) ?? 0) + 1);
    }
    assert.equal(counts.get(1), 300);
    assert.equal(counts.get(2), 100);
  });

  it('random stays within a band of the weights', () => {
    const hosts = [host(1, 1), host(2, 1)];
    const lb = new RandomLb();
    let one = 0;
    for (let i = 0; i < 4000; i++) if (lb.pick(hosts)?.port === 1) one++;
    assert.ok(one > 1800 && one < 2200, String(one));
  });

  it('least request prefers the host with fewer active requests', () => {
    const busy = host(1);
    busy.activeRequests = 10;
    const hosts = [busy, host(2), host(3)];
    const lb = new LeastRequestLb(2);
    let toBusy = 0;
    for (let i = 0; i < 3000; i++) if (lb.pick(hosts)?.port === 1) toBusy++;
    // With two choices the busy host wins only when both choices are it: about 1/9.
    assert.ok(toBusy < 3000 * 0.2, String(toBusy));
  });

  it('ring hash keeps a key on one host and spreads many keys', () => {
    const hosts = [host(1), host(2), host(3)];
    const lb = new RingHashLb(1024, 8 * 1024 * 1024);
    const k = hash32('user-42');
    const first = lb.pick(hosts, k)?.port;
    for (let i = 0; i < 50; i++) assert.equal(lb.pick(hosts, k)?.port, first);
    const spread = new Map<number, number>();
    for (let i = 0; i < 3000; i++) {
      const p = lb.pick(hosts, hash32(`user-${i}`))?.port ?? 0;
      spread.set(p, (spread.get(p) ?? 0) + 1);
    }
    for (const p of [1, 2, 3]) assert.ok((spread.get(p) ?? 0) > 600, `host ${p}: ${spread.get(p)}`);
  });
});

describe('hash policy and outlier detection end to end', () => {
  const backends: Backend[] = [];
  let bad: Backend;
  let h: Harness;
  let port = 0;

  before(async () => {
    for (const n of ['r1', 'r2', 'r3']) backends.push(await startBackend(n));
    bad = await startBackend('bad');
    bad.handler = (_req, res) => res.writeHead(500, { 'x-backend': 'bad' }).end('broken');
    const ok = await startBackend('ok');
    backends.push(ok);
    const RH = 'outbound|80||ring.default.svc.cluster.local';
    const OD = 'outbound|80||od.default.svc.cluster.local';
    const ring = { ...edsCluster({ name: RH, lbPolicy: 'RING_HASH' }) };
    const od = {
      ...edsCluster({ name: OD }),
      outlier_detection: { consecutive_5xx: { value: 3 }, interval: durationFromMs(1000), base_ejection_time: durationFromMs(30_000), max_ejection_percent: { value: 50 } },
    };
    h = await startHarness({
      listeners: [listener('http.80', 'http.80')],
      routes: [
        routeConfiguration('http.80', [
          virtualHost('all', ['*'], [
            { match: { prefix: '/ring-cookie' }, route: { cluster: RH, hash_policy: [{ cookie: { name: 'session' } }] } } as never,
            { match: { prefix: '/ring' }, route: { cluster: RH, hash_policy: [{ header: { header_name: 'x-user' } }] } } as never,
            { match: { prefix: '/od' }, route: { cluster: OD } },
          ]),
        ]),
      ],
      clusters: [ring, od],
      endpoints: [
        clusterLoadAssignment(RH, backends.slice(0, 3).map((b) => ({ address: '127.0.0.1', port: b.port }))),
        clusterLoadAssignment(OD, [{ address: '127.0.0.1', port: bad.port }, { address: '127.0.0.1', port: ok.port }]),
      ],
    });
    port = h.port('http.80');
  });

  after(async () => {
    await h?.stop();
    for (const b of backends) await b.close();
    await bad?.close();
  });

  it('pins a header value to one backend and spreads different values', async () => {
    const pinned = new Set<string>();
    for (let i = 0; i < 20; i++) pinned.add(String((await request(port, { path: '/ring', headers: { 'x-user': 'alice' } })).headers['x-backend']));
    assert.equal(pinned.size, 1);
    const spread = new Set<string>();
    for (let i = 0; i < 60; i++) spread.add(String((await request(port, { path: '/ring', headers: { 'x-user': `u${i}` } })).headers['x-backend']));
    assert.ok(spread.size >= 2, [...spread].join(','));
  });

  it('pins a session cookie to one backend', async () => {
    const pinned = new Set<string>();
    for (let i = 0; i < 20; i++) pinned.add(String((await request(port, { path: '/ring-cookie', headers: { cookie: 'theme=dark; session=abc123' } })).headers['x-backend']));
    assert.equal(pinned.size, 1);
    const spread = new Set<string>();
    for (let i = 0; i < 60; i++) spread.add(String((await request(port, { path: '/ring-cookie', headers: { cookie: `session=s${i}` } })).headers['x-backend']));
    assert.ok(spread.size >= 2, [...spread].join(','));
  });

  it('ejects a host after consecutive 5xx and sends the rest to the healthy one', async () => {
    let badHits = 0;
    for (let i = 0; i < 10; i++) if ((await request(port, { path: '/od' })).headers['x-backend'] === 'bad') badHits++;
    assert.equal(badHits, 3);
    const after = [];
    for (let i = 0; i < 10; i++) after.push((await request(port, { path: '/od' })).headers['x-backend']);
    assert.ok(after.every((b) => b === 'ok'), after.join(','));
    const clusters = (await request(h.proxy.adminPort, { path: '/clusters' })).body;
    assert.match(clusters, new RegExp(`od\\.default\\.svc\\.cluster\\.local::127\\.0\\.0\\.1:${bad.port}::health_flags::/failed_outlier_check`));
  });
});
