/**
 * A WorkloadEntry change pushes EDS only (and the client follows it); an invalid document is reported
 * and its last valid version stays in force while the other documents of the file still apply.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import type { RunningPilot } from '../src/pilot';
import { callUntil, count, startBackend, startTestPilot, tempConfigDir, writeConfig, xdsClient, type Backend } from './helpers';

const HOST = 'echo.test.svc.cluster.local';

function mesh(port: number, extra = ''): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo, namespace: test}
spec:
  hosts: [${HOST}]
  resolution: STATIC
  ports: [{number: 7070, name: grpc, protocol: GRPC}]
  workloadSelector: {labels: {app: echo}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo-1, namespace: test}
spec: {address: 127.0.0.1, ports: {grpc: ${port}}, labels: {app: echo}}
${extra}`;
}

async function pushes(debugPort: number | undefined): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${debugPort}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^pilot_xds_pushes\{type="(\w+)"\} (\d+)/gm)) out[m[1] as string] = Number(m[2]);
  return out;
}

describe('endpoint-only change and invalid documents', () => {
  let pilot: RunningPilot;
  let dir: string;
  let a: Backend;
  let b: Backend;
  let client: grpc.Client;

  before(async () => {
    a = await startBackend('a');
    b = await startBackend('b');
    dir = tempConfigDir();
    writeConfig(dir, 'mesh.yaml', mesh(a.port));
    pilot = await startTestPilot(dir);
    client = xdsClient(pilot.xdsPort, `${HOST}:7070`);
    assert.equal((await callUntil(client, (r) => r.code === 0)).backend, 'a');
  });

  after(async () => {
    client?.close();
    await pilot?.stop();
    await a?.stop();
    await b?.stop();
  });

  it('moves traffic with a WorkloadEntry change and pushes EDS alone', async () => {
    const before = await pushes(pilot.debugPort);
    writeConfig(dir, 'mesh.yaml', mesh(b.port));
    const moved = await callUntil(client, (r) => r.backend === 'b', { ms: 5000 });
    assert.equal(moved.backend, 'b');
    const after = await pushes(pilot.debugPort);
    assert.equal((after.eds ?? 0) - (before.eds ?? 0), 1, JSON.stringify({ before, after }));
    for (const t of ['cds', 'lds', 'rds']) assert.equal(after[t] ?? 0, before[t] ?? 0, `${t} was pushed: ${JSON.stringify({ before, after })}`);
    const metrics = await (await fetch(`http://127.0.0.1:${pilot.debugPort}/metrics`)).text();
    const observed = Number(/^pilot_proxy_convergence_time_count (\d+)/m.exec(metrics)?.[1] ?? 0);
    assert.ok(observed >= 1, 'the ACK of the pushed EDS is observed as convergence time');
  });

  it('dumps the config of a proxy by id', async () => {
    const syncz = (await (await fetch(`http://127.0.0.1:${pilot.debugPort}/debug/syncz`)).json()) as { proxy: string }[];
    const id = syncz[0]?.proxy ?? '';
    assert.match(id, /^sidecar~127\.0\.0\.1~client-/);
    const dump = (await (await fetch(`http://127.0.0.1:${pilot.debugPort}/debug/config_dump?proxyID=${encodeURIComponent(id)}`)).json()) as {
      configs: { typeUrl: string; resources: { name?: string; cluster_name?: string }[] }[];
    };
    const listeners = dump.configs.find((c) => c.typeUrl.endsWith('Listener'))?.resources.map((r) => r.name);
    assert.deepEqual(listeners, [`${HOST}:7070`]);
    const missing = await fetch(`http://127.0.0.1:${pilot.debugPort}/debug/config_dump?proxyID=nobody`);
    assert.equal(missing.status, 404);
  });

  it('keeps the last valid version of an invalid document and applies the others', async () => {
    // Document 1 (the WorkloadEntry) becomes invalid; a new valid document 2 is added to the file.
    const broken = mesh(a.port).replace(`address: 127.0.0.1, ports: {grpc: ${a.port}}`, 'address: 127.0.0.1, ports: {grpc: "not-a-port"}');
    writeConfig(dir, 'mesh.yaml', `${broken}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: test}
spec: {host: ${HOST}}
`);
    let keys: string[] = [];
    for (let i = 0; i < 50 && !keys.includes('DestinationRule/test/echo'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      const configs = (await (await fetch(`http://127.0.0.1:${pilot.debugPort}/debug/configz`)).json()) as { kind: string; meta: { namespace: string; name: string }; spec: { ports?: { grpc: number } } }[];
      keys = configs.map((c) => `${c.kind}/${c.meta.namespace}/${c.meta.name}`);
      const we = configs.find((c) => c.kind === 'WorkloadEntry');
      assert.equal(we?.spec.ports?.grpc, b.port, 'the last valid WorkloadEntry stays');
    }
    assert.ok(keys.includes('DestinationRule/test/echo'), 'the valid new document applies');
    const counts = await count(client, 20);
    assert.equal(counts.get('b'), 20, JSON.stringify([...counts]));
  });
});
