/**
 * Failure handling as Envoy does it: retries (5xx, connect-failure, per-try timeout), the route timeout
 * (504 UT), circuit breakers (503 UO), fault injection (abort FI, delay DI), CORS preflight, and the
 * response flags landing in istio_requests_total.
 */
import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { routeConfiguration, typedConfig, EXTENSION_TYPE_URL, durationFromMs } from '@mesh/xds';
import { cluster, corsFilterConfig, faultFilterConfig, listener, request, startBackend, startHarness, type Backend, type Harness } from './helpers';

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

describe('retries, timeouts, breakers, faults, CORS', () => {
  let flaky: Backend;
  let slow: Backend;
  let h: Harness;
  let port = 0;
  let flakyFailures = 0;
  let slowFirstHangs = false;

  before(async () => {
    flaky = await startBackend('flaky');
    flaky.handler = (_req, res) => {
      if (flakyFailures > 0) {
        flakyFailures--;
        res.writeHead(503, { 'x-backend': 'flaky' }).end('fail');
      } else res.writeHead(200, { 'x-backend': 'flaky' }).end('ok');
    };
    slow = await startBackend('slow');
    slow.handler = (req, res) => {
      const hang = slowFirstHangs;
      slowFirstHangs = false;
      const ms = hang ? 2000 : Number(new URL(req.url ?? '/', 'http://x').searchParams.get('ms') ?? 0);
      const t = setTimeout(() => res.writeHead(200, { 'x-backend': 'slow' }).end('slow ok'), ms);
      res.once('close', () => clearTimeout(t));
    };
    const dead = await closedPort();
    const F = 'outbound|80||flaky.default.svc.cluster.local';
    const S = 'outbound|80||slow.default.svc.cluster.local';
    const D = 'outbound|80||dead.default.svc.cluster.local';
    const L = 'outbound|80||limited.default.svc.cluster.local';
    const cf = cluster(F, [{ port: flaky.port }]);
    const cs = cluster(S, [{ port: slow.port }]);
    const cd = cluster(D, [{ port: dead }]);
    const cl = cluster(L, [{ port: slow.port }], { circuit_breakers: { thresholds: [{ max_requests: { value: 1 }, max_pending_requests: { value: 1 } }] } });
    const fault = (f: object) => ({ 'envoy.filters.http.fault': typedConfig(EXTENSION_TYPE_URL.FAULT, f) });
    const routes = routeConfiguration('http.80', [
      {
        name: 'svc',
        domains: ['*'],
        routes: [
          { match: { prefix: '/retry' }, route: { cluster: F, retry_policy: { retry_on: '5xx', num_retries: { value: 2 } } } },
          { match: { prefix: '/noretry' }, route: { cluster: F } },
          { match: { prefix: '/dead-retry' }, route: { cluster: D, retry_policy: { retry_on: 'connect-failure', num_retries: { value: 1 } } } },
          { match: { prefix: '/dead' }, route: { cluster: D } },
          { match: { prefix: '/timeout' }, route: { cluster: S, timeout: durationFromMs(150) } },
          { match: { prefix: '/pertry' }, route: { cluster: S, retry_policy: { retry_on: '5xx', num_retries: { value: 1 }, per_try_timeout: durationFromMs(150) } } },
          { match: { prefix: '/limited' }, route: { cluster: L } },
          { match: { prefix: '/hang' }, route: { cluster: S } },
          { match: { prefix: '/abort' }, route: { cluster: F }, typed_per_filter_config: fault({ abort: { http_status: 418, percentage: { numerator: 100, denominator: 'HUNDRED' } } }) },
          { match: { prefix: '/delay' }, route: { cluster: F }, typed_per_filter_config: fault({ delay: { fixed_delay: durationFromMs(200), percentage: { numerator: 100, denominator: 'HUNDRED' } } }) },
          {
            match: { prefix: '/cors' },
            route: { cluster: F },
            typed_per_filter_config: {
              'envoy.filters.http.cors': typedConfig(EXTENSION_TYPE_URL.CORS_POLICY, { allow_origin_string_match: [{ exact: 'https://ok.example' }], allow_methods: 'GET,POST', allow_headers: 'x-foo', max_age: '600' }),
            },
          },
        ],
      } as never,
    ]);
    h = await startHarness({
      listeners: [listener('http.80', 'http.80', [faultFilterConfig(), corsFilterConfig()])],
      routes: [routes],
      clusters: [cf.cluster, cs.cluster, cd.cluster, cl.cluster],
      endpoints: [cf.endpoints, cs.endpoints, cd.endpoints, cl.endpoints],
    });
    port = h.port('http.80');
  });

  after(async () => {
    await h?.stop();
    await flaky?.close();
    await slow?.close();
  });

  async function metricLines(): Promise<string[]> {
    return (await request(h.proxy.adminPort, { path: '/stats/prometheus' })).body.split('\n').filter((l) => l.startsWith('istio_requests_total{'));
  }

  it('retries 5xx up to num_retries and returns the success', async () => {
    flakyFailures = 2;
    const before = flaky.seen.length;
    const r = await request(port, { path: '/retry' });
    assert.equal(r.status, 200);
    assert.equal(flaky.seen.length - before, 3);
  });

  it('returns the last 5xx (URX) when retries run out, and does not retry without a policy', async () => {
    flakyFailures = 5;
    const r = await request(port, { path: '/retry' });
    assert.equal(r.status, 503);
    assert.equal(r.body, 'fail');
    flakyFailures = 1;
    const before = flaky.seen.length;
    assert.equal((await request(port, { path: '/noretry' })).status, 503);
    assert.equal(flaky.seen.length - before, 1);
    flakyFailures = 0;
    assert.ok((await metricLines()).some((l) => l.includes('response_code="503"') && l.includes('response_flags="URX"')));
  });

  it('answers 503 UF for a refused connection, UF,URX after connect-failure retries', async () => {
    const r = await request(port, { path: '/dead' });
    assert.equal(r.status, 503);
    assert.match(r.body, /connection failure/);
    assert.equal((await request(port, { path: '/dead-retry' })).status, 503);
    const lines = await metricLines();
    assert.ok(lines.some((l) => l.includes('dead.default') && l.includes('response_flags="UF"')), lines.join('\n'));
    assert.ok(lines.some((l) => l.includes('dead.default') && l.includes('response_flags="UF,URX"')), lines.join('\n'));
  });

  it('answers 504 UT when the route timeout passes', async () => {
    const r = await request(port, { path: '/timeout?ms=1000' });
    assert.equal(r.status, 504);
    assert.equal(r.body, 'upstream request timeout');
    assert.equal((await request(port, { path: '/timeout?ms=0' })).status, 200);
    assert.ok((await metricLines()).some((l) => l.includes('response_code="504"') && l.includes('response_flags="UT"')));
  });

  it('retries after a per-try timeout', async () => {
    slowFirstHangs = true;
    const r = await request(port, { path: '/pertry' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'slow ok');
  });

  it('answers 503 UO when the circuit breaker is full', async () => {
    const results = await Promise.all([0, 1, 2, 3].map(() => request(port, { path: '/limited?ms=300' })));
    const codes = results.map((r) => r.status).sort();
    assert.ok(codes.includes(200), codes.join(','));
    assert.ok(codes.includes(503), codes.join(','));
    assert.ok((await metricLines()).some((l) => l.includes('limited.default') && l.includes('response_flags="UO"')));
  });

  it('injects aborts (FI) and delays (DI)', async () => {
    const r = await request(port, { path: '/abort' });
    assert.equal(r.status, 418);
    assert.equal(r.body, 'fault filter abort');
    const t0 = Date.now();
    assert.equal((await request(port, { path: '/delay' })).status, 200);
    assert.ok(Date.now() - t0 >= 190);
    const lines = await metricLines();
    assert.ok(lines.some((l) => l.includes('response_flags="FI"')));
    assert.ok(lines.some((l) => l.includes('response_flags="DI"')));
  });

  it('flags DC and cancels the upstream request when the client goes away', async () => {
    let upstreamClosed = false;
    const prev = slow.handler;
    slow.handler = (_req, res) => {
      res.once('close', () => (upstreamClosed = true));
    };
    try {
      await new Promise<void>((resolve) => {
        const c = net.connect(port, '127.0.0.1', () => c.write('GET /hang HTTP/1.1\r\nHost: x\r\n\r\n'));
        c.on('error', () => undefined);
        setTimeout(() => {
          c.destroy();
          resolve();
        }, 200);
      });
      const deadline = Date.now() + 5000;
      while (!upstreamClosed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(upstreamClosed, 'the upstream request was not cancelled');
      assert.ok((await metricLines()).some((l) => l.includes('slow.default') && l.includes('response_flags="DC"')));
    } finally {
      slow.handler = prev;
    }
  });

  it('answers CORS preflight for allowed origins only and tags the response', async () => {
    const pre = await request(port, { path: '/cors', method: 'OPTIONS', headers: { origin: 'https://ok.example', 'access-control-request-method': 'POST' } });
    assert.equal(pre.status, 200);
    assert.equal(pre.headers['access-control-allow-origin'], 'https://ok.example');
    assert.equal(pre.headers['access-control-allow-methods'], 'GET,POST');
    assert.equal(pre.headers['access-control-max-age'], '600');
    const simple = await request(port, { path: '/cors', headers: { origin: 'https://ok.example' } });
    assert.equal(simple.headers['access-control-allow-origin'], 'https://ok.example');
    const other = await request(port, { path: '/cors', headers: { origin: 'https://evil.example' } });
    assert.equal(other.headers['access-control-allow-origin'], undefined);
  });
});
