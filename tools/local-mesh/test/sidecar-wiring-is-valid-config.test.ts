/**
 * The mesh wiring local-mesh generates: every document is valid Istio config (the validation Pilot and
 * meshctl use), each workload's Sidecar binds its inbound and outbound listeners on its own loopback
 * addresses, and each app is pointed at its own sidecar with the callee's host name.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatErrors, validateYaml } from '@mesh/config';
import { parseAllDocuments } from 'yaml';
import { BOOKINFO_WORKLOADS, bookinfoComponents, workloadName } from '../src/topology-bookinfo';
import {
  DETAILS_STRICT_YAML, gatewayComponent, gatewayYaml, inboundIp, meshRegistryYaml, meshUpstreamFlags, mtlsDestinationRules, outboundIp, sidecarComponents,
} from '../src/topology-sidecars';
import { ROOT } from './helpers';

const appPorts = new Map(BOOKINFO_WORKLOADS.map((w) => [workloadName(w), 9080 + w.offset]));

describe('sidecar wiring', () => {
  it('the generated registry and Sidecars are valid config and agree with the workloads', () => {
    const text = meshRegistryYaml('127.0.0.1', appPorts);
    const results = validateYaml(text, 'bookinfo-workloads.yaml');
    const bad = results.flatMap((r) => formatErrors('bookinfo-workloads.yaml', r));
    assert.deepEqual(bad, []);
    const docs = parseAllDocuments(text).map((d) => d.toJS());
    assert.equal(docs.filter((d) => d.kind === 'ServiceEntry').length, 4);
    const reviews2 = docs.find((d) => d.kind === 'Sidecar' && d.metadata.name === 'reviews-v2');
    assert.deepEqual(reviews2.spec.workloadSelector.labels, { app: 'reviews', version: 'v2' });
    assert.equal(reviews2.spec.ingress[0].bind, '127.0.0.14');
    assert.equal(reviews2.spec.ingress[0].defaultEndpoint, '127.0.0.1:9083');
    assert.deepEqual(reviews2.spec.egress[0], {
      port: { number: 9080, name: 'http', protocol: 'HTTP' },
      bind: '127.0.1.14',
      captureMode: 'NONE',
      hosts: ['./ratings.default.svc.cluster.local'],
    });
    const we = docs.find((d) => d.kind === 'WorkloadEntry' && d.metadata.name === 'reviews-v2');
    assert.equal(we.spec.address, '127.0.0.14');
    assert.deepEqual(we.spec.ports, { http: 9080 });
    // No two workloads share an address.
    const ips = BOOKINFO_WORKLOADS.flatMap((w) => [inboundIp(w), outboundIp(w)]);
    assert.equal(new Set(ips).size, ips.length);
  });

  it('each app calls its own sidecar, with the Host the sidecar routes by', () => {
    const comps = bookinfoComponents({ root: ROOT, host: '127.0.0.1', ports: appPorts, meshUpstreams: meshUpstreamFlags });
    const pp = comps.find((c) => c.name === 'productpage-v1');
    assert.ok(pp);
    const flag = (name: string) => pp.args[pp.args.indexOf(name) + 1];
    assert.equal(flag('--reviews-address'), '127.0.1.11:9080');
    assert.equal(flag('--reviews-host'), 'reviews:9080', 'the short name, as an app in Kubernetes calls it');
    assert.equal(flag('--details-address'), '127.0.1.11:9080');
    assert.deepEqual(pp.after, [], 'apps do not wait for each other; their sidecars connect them');
  });

  it('sidecars carry Istio node ids and labels; the gateway is a router on --host:--gateway-port', () => {
    const ctx = { root: ROOT, host: '127.0.0.1', xdsAddress: '127.0.0.1:15010', gatewayPort: 8088, appPorts };
    const r3 = sidecarComponents(ctx).find((c) => c.name === 'sidecar-reviews-v3');
    assert.ok(r3);
    const flag = (name: string) => r3.args[r3.args.indexOf(name) + 1];
    assert.equal(flag('--node-id'), 'sidecar~127.0.0.15~reviews-v3.default~default.svc.cluster.local');
    assert.equal(flag('--labels'), 'app=reviews,version=v3');
    assert.equal(flag('--service-account'), 'bookinfo-reviews');
    assert.equal(flag('--interception-mode'), 'NONE');
    const gw = gatewayComponent(ctx, []);
    assert.match(gw.args[gw.args.indexOf('--node-id') + 1], /^router~/);
    assert.deepEqual(gw.ready, { http: 'http://127.0.0.1:8088/productpage' });
    const seeded = gatewayYaml(readFileSync(join(ROOT, 'samples/bookinfo/networking/bookinfo-gateway.yaml'), 'utf8'), '127.0.0.1', 8088);
    assert.deepEqual(validateYaml(seeded, 'g.yaml').filter((r) => !r.ok), []);
    const gateway = parseAllDocuments(seeded).map((d) => d.toJS()).find((d) => d.kind === 'Gateway');
    assert.deepEqual(gateway.spec.servers[0].port, { number: 8088, name: 'http', protocol: 'HTTP' });
    assert.equal(gateway.spec.servers[0].bind, '127.0.0.1');
  });

  it('with Citadel: each proxy first gets its token, then runs with the node agent; DestinationRules say ISTIO_MUTUAL', () => {
    const citadel = { address: '127.0.0.1:8060', caDir: '/state/ca', tokenDir: '/state/tokens' };
    const ctx = { root: ROOT, host: '127.0.0.1', xdsAddress: '127.0.0.1:15010', gatewayPort: 8088, appPorts, citadel };
    const r2 = sidecarComponents(ctx).find((c) => c.name === 'sidecar-reviews-v2');
    assert.ok(r2);
    assert.equal(r2.command, '/bin/sh');
    // sh -c SCRIPT sh node citadel-main ca-dir service-account token-file node sidecar-main ...flags
    assert.deepEqual(r2.args.slice(4, 9), [join(ROOT, 'dist/apps/citadel/main.js'), '/state/ca', 'bookinfo-reviews', '/state/tokens/bookinfo-reviews', process.execPath]);
    const flag = (name: string) => r2.args[r2.args.indexOf(name) + 1];
    assert.equal(flag('--ca-address'), '127.0.0.1:8060');
    assert.equal(flag('--token-path'), '/state/tokens/bookinfo-reviews');
    assert.equal(flag('--ca-root-cert'), '/state/ca/root-cert.pem');
    assert.equal(sidecarComponents({ ...ctx, citadel: undefined })[0].command, process.execPath, 'without Citadel: the sidecar itself');
    const rules = mtlsDestinationRules(readFileSync(join(ROOT, 'samples/bookinfo/networking/destination-rule-all.yaml'), 'utf8'));
    assert.deepEqual(validateYaml(rules, 'dr.yaml').filter((r) => !r.ok), []);
    const drs = parseAllDocuments(rules).map((d) => d.toJS());
    assert.equal(drs.length, 4);
    for (const d of drs) assert.deepEqual(d.spec.trafficPolicy.tls, { mode: 'ISTIO_MUTUAL' }, d.metadata.name);
    assert.deepEqual(validateYaml(DETAILS_STRICT_YAML, 'pa.yaml').filter((r) => !r.ok), []);
  });
});
