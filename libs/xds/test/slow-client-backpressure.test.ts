/**
 * A proxy that stops reading does not make the server buffer every push: once grpc-js reports a full
 * buffer the stream holds further pushes, and when the client reads again it gets the latest snapshot.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { edsCluster, clusterLoadAssignment, Snapshot, TYPE_URL, type SendEvent } from '../src/index';
import { openRawAdsStream, startTestAdsServer, waitFor, type TestAdsServer } from '../src/testing';

interface Res {
  version_info: string;
  type_url: string;
  nonce: string;
  resources: unknown[];
}

/** About 2000 clusters (a CDS response of a few hundred KB), encoded once and shared by every version. */
const clusters: object[] = [];
const endpoints: object[] = [];
for (let i = 0; i < 2000; i++) {
  const name = `outbound|8080||service-${i}.some-namespace.svc.cluster.local`;
  clusters.push(edsCluster({ name }));
  endpoints.push(clusterLoadAssignment(name, []));
}

function bigSnapshot(version: string): Snapshot {
  return new Snapshot({
    [TYPE_URL.CLUSTER]: { version, resources: clusters },
    [TYPE_URL.ENDPOINT]: { version, resources: endpoints },
  });
}

describe('slow client backpressure', () => {
  let server: TestAdsServer;
  const sends: SendEvent[] = [];
  before(async () => {
    server = await startTestAdsServer({ options: { onSend: (e) => sends.push(e) } });
  });
  after(() => server.stop());

  it('holds pushes while the client does not read and catches up with the latest on drain', async () => {
    const id = 'slow-proxy';
    const PUSHES = 40;
    const snapshots = Array.from({ length: PUSHES + 1 }, (_, i) => bigSnapshot(`v${i}`));
    server.ads.setSnapshot(id, snapshots[0]);
    const s = openRawAdsStream<Record<string, unknown>, Res>(server.address);
    try {
      s.send({ node: { id }, type_url: TYPE_URL.CLUSTER, resource_names: [] });
      const first = await s.next(10_000);
      assert.equal(first.version_info, 'v0');
      s.pause();
      for (let i = 1; i <= PUSHES; i++) server.ads.setSnapshot(id, snapshots[i]);
      const sentWhilePaused = sends.filter((e) => e.nodeId === id).length - 1;
      assert.ok(sentWhilePaused < PUSHES, `the server held pushes (sent ${sentWhilePaused} of ${PUSHES})`);
      s.resume();
      const last = await waitFor(
        'the latest version after the client reads again',
        async () => {
          const r = await s.next(10_000);
          return r.version_info === `v${PUSHES}` ? r : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 1 },
      );
      assert.equal(last.resources.length, 2000);
    } finally {
      s.close();
    }
  });
});
