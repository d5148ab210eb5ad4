/** The traffic-task and registry YAML parse, and each says what its Istio task says (checked field by field). */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';

const DIR = join(__dirname, '..');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;

function load(rel: string): Doc[] {
  const docs = parseAllDocuments(readFileSync(join(DIR, rel), 'utf8'));
  for (const [i, d] of docs.entries()) assert.deepEqual(d.errors, [], `${rel} document ${i}`);
  return docs.map((d) => d.toJS());
}

const byName = (docs: Doc[], kind: string, name: string): Doc => {
  const found = docs.find((d) => d.kind === kind && d.metadata.name === name);
  assert.ok(found, `${kind} ${name}`);
  return found;
};

describe('Bookinfo networking and registry YAML', () => {
  it('every file parses and every document is a networking.istio.io/v1alpha3 object with a name', () => {
    const files = [...readdirSync(join(DIR, 'networking')).map((f) => `networking/${f}`), ...readdirSync(join(DIR, 'registry')).map((f) => `registry/${f}`)];
    assert.ok(files.length >= 10, files.join(', '));
    for (const f of files) {
      for (const d of load(f)) {
        assert.equal(d.apiVersion, 'networking.istio.io/v1alpha3', f);
        assert.match(d.metadata?.name ?? '', /^[a-z0-9-]+$/, f);
        assert.ok(['VirtualService', 'DestinationRule', 'Gateway', 'ServiceEntry', 'WorkloadEntry'].includes(d.kind), `${f}: ${d.kind}`);
      }
    }
  });

  it('all-v1 routes all four services to subset v1, and destination-rule-all defines those subsets by version label', () => {
    const vs = load('networking/virtual-service-all-v1.yaml');
    const dr = load('networking/destination-rule-all.yaml');
    for (const svc of ['productpage', 'details', 'reviews', 'ratings']) {
      assert.deepEqual(byName(vs, 'VirtualService', svc).spec.http, [{ route: [{ destination: { host: svc, subset: 'v1' } }] }]);
      const subsets = byName(dr, 'DestinationRule', svc).spec.subsets;
      for (const s of subsets) assert.deepEqual(s.labels, { version: s.name });
    }
    assert.deepEqual(byName(dr, 'DestinationRule', 'reviews').spec.subsets.map((s: Doc) => s.name), ['v1', 'v2', 'v3']);
  });

  it('reviews-test-v2 sends end-user jason to v2 and everyone else to v1', () => {
    const [vs] = load('networking/virtual-service-reviews-test-v2.yaml');
    assert.deepEqual(vs.spec.http[0].match, [{ headers: { 'end-user': { exact: 'jason' } } }]);
    assert.equal(vs.spec.http[0].route[0].destination.subset, 'v2');
    assert.equal(vs.spec.http[1].match, undefined);
    assert.equal(vs.spec.http[1].route[0].destination.subset, 'v1');
  });

  it('reviews-50-v3 splits 50/50 between v1 and v3', () => {
    const [vs] = load('networking/virtual-service-reviews-50-v3.yaml');
    assert.deepEqual(vs.spec.http[0].route.map((r: Doc) => [r.destination.subset, r.weight]), [['v1', 50], ['v3', 50]]);
  });

  it('ratings delay is 7s and abort is 500, both for jason only', () => {
    const [delay] = load('networking/virtual-service-ratings-test-delay.yaml');
    assert.deepEqual(delay.spec.http[0].fault, { delay: { percentage: { value: 100 }, fixedDelay: '7s' } });
    const [abort] = load('networking/virtual-service-ratings-test-abort.yaml');
    assert.deepEqual(abort.spec.http[0].fault, { abort: { percentage: { value: 100 }, httpStatus: 500 } });
    for (const vs of [delay, abort]) {
      assert.deepEqual(vs.spec.http[0].match, [{ headers: { 'end-user': { exact: 'jason' } } }]);
      assert.equal(vs.spec.http[1].fault, undefined);
    }
  });

  it('the gateway binds port 8080 and its VirtualService sends /productpage to productpage', () => {
    const docs = load('networking/bookinfo-gateway.yaml');
    const gw = byName(docs, 'Gateway', 'bookinfo-gateway');
    assert.deepEqual(gw.spec.selector, { istio: 'ingressgateway' });
    assert.equal(gw.spec.servers[0].port.number, 8080);
    const vs = byName(docs, 'VirtualService', 'bookinfo');
    assert.deepEqual(vs.spec.gateways, ['bookinfo-gateway']);
    assert.ok(vs.spec.http[0].match.some((m: Doc) => m.uri?.exact === '/productpage'));
    assert.equal(vs.spec.http[0].route[0].destination.host, 'productpage');
  });

  it('the timeout task sets a reviews timeout below the injected ratings delay', () => {
    const docs = load('networking/virtual-service-reviews-v2-timeout.yaml');
    assert.equal(byName(docs, 'VirtualService', 'reviews').spec.http[0].timeout, '0.5s');
    assert.equal(byName(docs, 'VirtualService', 'ratings').spec.http[0].fault.delay.fixedDelay, '2s');
  });

  it('the circuit breaker limits connections and pending requests and ejects failing hosts', () => {
    const [dr] = load('networking/destination-rule-reviews-circuit-breaker.yaml');
    assert.equal(dr.spec.trafficPolicy.connectionPool.tcp.maxConnections, 1);
    assert.equal(dr.spec.trafficPolicy.connectionPool.http.http1MaxPendingRequests, 1);
    assert.ok(dr.spec.trafficPolicy.outlierDetection.consecutive5xxErrors > 0);
  });

  it('the registry has a ServiceEntry per service and a WorkloadEntry per workload, labels app/version and a service account', () => {
    const docs = load('registry/bookinfo-workloads.yaml');
    const entries = docs.filter((d) => d.kind === 'WorkloadEntry');
    assert.deepEqual(entries.map((d) => d.metadata.name).sort(), ['details-v1', 'productpage-v1', 'ratings-v1', 'reviews-v1', 'reviews-v2', 'reviews-v3']);
    const ports = new Set<number>();
    for (const we of entries) {
      const [app, version] = we.metadata.name.split('-');
      assert.deepEqual(we.spec.labels, { app, version });
      assert.equal(we.spec.serviceAccount, `bookinfo-${app}`);
      assert.equal(we.spec.address, '127.0.0.1');
      ports.add(we.spec.ports.http);
      const se = byName(docs, 'ServiceEntry', app);
      assert.deepEqual(se.spec.hosts, [`${app}.default.svc.cluster.local`]);
      assert.deepEqual(se.spec.workloadSelector, { labels: { app } });
    }
    assert.equal(ports.size, entries.length, 'every workload has its own port');
  });
});
