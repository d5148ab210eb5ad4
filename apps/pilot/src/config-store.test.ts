import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ConfigStore, type ConfigChange } from './config-store';
import { validateYaml } from '@mesh/config';

const we = (name: string, address: string): string => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}, namespace: ns}
spec: {address: "${address}"}
`;

describe('config store', () => {
  it('reports adds, updates and deletes, and keeps the last valid version of an invalid document', () => {
    const store = new ConfigStore();
    const seen: ConfigChange[][] = [];
    store.onChange((c) => seen.push(c));
    store.setFile('a.yaml', validateYaml(`${we('x', '1.1.1.1')}---\n${we('y', '2.2.2.2')}`, 'a.yaml'));
    assert.deepEqual(seen.pop()?.map((c) => [c.key, !!c.before, !!c.after]), [['WorkloadEntry/ns/x', false, true], ['WorkloadEntry/ns/y', false, true]]);
    const kept = store.setFile('a.yaml', validateYaml(`${we('x', '')}---\n${we('y', '3.3.3.3')}`, 'a.yaml'));
    assert.deepEqual(kept, ['WorkloadEntry/ns/x'], 'document 0 is invalid (empty address): its last valid version stays');
    assert.deepEqual(seen.pop()?.map((c) => c.key), ['WorkloadEntry/ns/y']);
    assert.equal((store.list('WorkloadEntry').find((c) => c.meta.name === 'x')?.spec as { address: string }).address, '1.1.1.1');
    store.setFile('a.yaml', validateYaml(we('y', '3.3.3.3'), 'a.yaml'));
    assert.deepEqual(seen.pop()?.map((c) => [c.key, !!c.after]), [['WorkloadEntry/ns/x', false]], 'x disappeared from the file');
    const before = seen.length;
    store.setFile('a.yaml', validateYaml(we('y', '3.3.3.3'), 'a.yaml'));
    assert.equal(seen.length, before, 'no event when nothing changed');
  });

  it('lets the file that sorts first win a key declared twice, and falls back when it goes', () => {
    const store = new ConfigStore();
    store.setFile('b.yaml', validateYaml(we('x', '2.2.2.2'), 'b.yaml'));
    store.setFile('a.yaml', validateYaml(we('x', '1.1.1.1'), 'a.yaml'));
    const addr = (): string => (store.list()[0]?.spec as { address: string }).address;
    assert.equal(addr(), '1.1.1.1');
    store.removeFile('a.yaml');
    assert.equal(addr(), '2.2.2.2');
  });
});
