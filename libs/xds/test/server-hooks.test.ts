/**
 * The hooks Pilot builds on: a snapshot computed lazily (async) when a node connects, disconnect with the
 * full node, send/ACK events with timestamps, connectedNodeIds(), and a refusing onConnect.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TYPE_URL, type AckEvent, type SendEvent, type XdsNode } from '../src/index';
import { openRawAdsStream, startTestAdsServer, waitFor, type TestAdsServer } from '../src/testing';
import { meshSnapshot } from './fixture-mesh';

interface Res {
  version_info: string;
  type_url: string;
  nonce: string;
  resources: { name: string }[];
}

describe('AdsServer hooks', () => {
  let server: TestAdsServer;
  const disconnected: XdsNode[] = [];
  const sends: SendEvent[] = [];
  const acks: AckEvent[] = [];
  let computed = 0;

  before(async () => {
    server = await startTestAdsServer({
      options: {
        onConnect: async (node) => {
          if (node.id === 'refused') throw new Error('no such proxy');
          await new Promise((r) => setTimeout(r, 20));
          computed++;
          return meshSnapshot({ version: `for-${node.cluster}`, clusters: { a: [1] }, route: 'a' });
        },
        onDisconnect: (node) => disconnected.push(node),
        onSend: (e) => sends.push(e),
        onAck: (e) => acks.push(e),
      },
    });
  });
  after(() => server.stop());

  it('computes the snapshot when the node connects and answers the queued first request', async () => {
    const s = openRawAdsStream<Record<string, unknown>, Res>(server.address);
    try {
      s.send({ node: { id: 'lazy-1', cluster: 'c1', locality: { zone: 'z' } }, type_url: TYPE_URL.CLUSTER, resource_names: [] });
      s.send({ type_url: TYPE_URL.LISTENER, resource_names: [] });
      const cds = await s.next();
      const lds = await s.next();
      assert.equal(cds.type_url, TYPE_URL.CLUSTER);
      assert.equal(cds.version_info, 'for-c1');
      assert.equal(lds.type_url, TYPE_URL.LISTENER);
      assert.equal(computed, 1);
      assert.ok(server.ads.getSnapshot('lazy-1'));
      assert.deepEqual(server.ads.connectedNodeIds(), ['lazy-1']);
      const sent = sends.find((e) => e.nonce === cds.nonce);
      assert.ok(sent);
      assert.deepEqual(sent.resourceNames, ['a']);
      s.send({ type_url: TYPE_URL.CLUSTER, version_info: 'for-c1', response_nonce: cds.nonce, resource_names: [] });
      const ack = await waitFor('ACK event', () => acks.find((a) => a.nonce === cds.nonce));
      assert.ok(ack.ackedAt.getTime() >= ack.sentAt.getTime());
      assert.equal(ack.sentAt.getTime(), sent.at.getTime());
    } finally {
      s.close();
    }
    const gone = await waitFor('disconnect hook', () => disconnected.find((n) => n.id === 'lazy-1'));
    assert.equal(gone.cluster, 'c1');
    assert.equal(gone.locality.zone, 'z');
    await waitFor('no streams left', () => server.ads.connectedNodeIds().length === 0);
  });

  it('refuses the stream with a clear status when onConnect fails', async () => {
    const s = openRawAdsStream<Record<string, unknown>, Res>(server.address);
    try {
      s.send({ node: { id: 'refused' }, type_url: TYPE_URL.CLUSTER, resource_names: [] });
      const st = await s.status();
      assert.equal(st.code, 13);
      assert.match(st.details, /refused: no such proxy/);
    } finally {
      s.close();
    }
  });
});
