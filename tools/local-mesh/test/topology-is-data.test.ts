/** The topology is data: validation names each error's path, layers follow `after`, and the ports agree with the Bookinfo registry YAML. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { startLayers, validateTopology, type ComponentSpec } from '../src/component';
import { BOOKINFO_WORKLOADS, bookinfoComponents, workloadName } from '../src/topology-bookinfo';
import { ROOT } from './helpers';

const spec = (name: string, after: string[] = []): ComponentSpec => ({ name, role: 'x', command: 'true', args: [], ports: [], ready: { tcp: '127.0.0.1:1' }, after });

describe('topology as data', () => {
  it('layers start dependencies first and reject a cycle', () => {
    const layers = startLayers([spec('productpage', ['details', 'reviews']), spec('reviews', ['ratings']), spec('details'), spec('ratings')]);
    assert.deepEqual(layers.map((l) => l.map((c) => c.name)), [['details', 'ratings'], ['reviews'], ['productpage']]);
    assert.throws(() => startLayers([spec('a', ['b']), spec('b', ['a'])]), /cycle among a, b/);
  });

  it('validation reports every error with its path and accepts a good file', () => {
    const bad = validateTopology({ components: [{ name: 'Bad Name', command: '', args: 'x', ready: {} }], extra: 1 });
    assert.equal(bad.ok, false);
    const paths = bad.ok ? [] : bad.errors.map((e) => e.path);
    for (const p of ['(top level)', 'components[0].name', 'components[0].command', 'components[0].args', 'components[0].ready']) {
      assert.ok(paths.includes(p), `${p} missing from ${paths.join(', ')}`);
    }
    const good = validateTopology({ components: [{ name: 'one', command: 'node', args: ['-v'], ready: { logLine: 'v20' } }] });
    assert.ok(good.ok);
    assert.deepEqual(good.value.components[0].ports, []);
  });

  it('Bookinfo workloads at the default base port listen where the registry YAML says', () => {
    const docs = parseAllDocuments(readFileSync(join(ROOT, 'samples/bookinfo/registry/bookinfo-workloads.yaml'), 'utf8')).map((d) => d.toJS());
    const registry = new Map<string, number>(docs.filter((d) => d.kind === 'WorkloadEntry').map((d) => [d.metadata.name, d.spec.ports.http]));
    const ports = new Map(BOOKINFO_WORKLOADS.map((w) => [workloadName(w), 9080 + w.offset]));
    assert.deepEqual([...registry.entries()].sort(), [...ports.entries()].sort());
  });

  it('each caller is given every workload of the services it calls, and starts after them', () => {
    const ports = new Map(BOOKINFO_WORKLOADS.map((w) => [workloadName(w), 9080 + w.offset]));
    const comps = bookinfoComponents({ root: ROOT, host: '127.0.0.1', ports });
    const pp = comps.find((c) => c.name === 'productpage-v1') as ComponentSpec;
    assert.equal(pp.args[pp.args.indexOf('--reviews-address') + 1], '127.0.0.1:9082,127.0.0.1:9083,127.0.0.1:9084');
    assert.equal(pp.args[pp.args.indexOf('--details-address') + 1], '127.0.0.1:9081');
    assert.deepEqual(pp.after?.sort(), ['details-v1', 'reviews-v1', 'reviews-v2', 'reviews-v3']);
    const r2 = comps.find((c) => c.name === 'reviews-v2') as ComponentSpec;
    assert.equal(r2.args[r2.args.indexOf('--ratings-address') + 1], '127.0.0.1:9085');
    assert.equal(r2.args[r2.args.indexOf('--service-account') + 1], 'bookinfo-reviews');
  });
});
