/**
 * A WorkloadEntry change that changes the set of service accounts behind a service pushes CDS too (the
 * outbound cluster's SAN list names them), as Istio does (a full push for that service); a WorkloadEntry
 * change that keeps the accounts (only a port moves) pushes EDS alone. Read over a real SotW ADS stream.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { TYPE_URL } from '@mesh/xds';
import { openRawAdsStream, type RawAdsStream } from '@mesh/xds/testing';
import type { RunningPilot } from '../src/pilot';
import { startTestPilot, tempConfigDir, writeConfig } from './helpers';

const HOST = 'reviews.app.svc.cluster.local';
const CLUSTER = `outbound|9080||${HOST}`;

function mesh(account: string, port = 9080): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: app}
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: reviews}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: r1, namespace: app}
spec: {address: 10.0.0.1, ports: {http: ${port}}, labels: {app: reviews}, serviceAccount: ${account}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: app}
spec:
  host: ${HOST}
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
`;
}

interface Response {
  version_info: string;
  type_url: string;
  nonce: string;
  /** Decoded Anys (`{'@type', ...fields}`), as the raw stream's proto loader gives them. */
  resources: { name?: string; transport_socket?: { typed_config?: unknown } }[];
}

type Stream = RawAdsStream<Record<string, unknown>, Response>;

/** The exact SAN URIs the cluster checks, from a decoded CDS response. */
function sansOf(res: Response): string[] {
  for (const c of res.resources) {
    if (c.name !== CLUSTER) continue;
    const tls = c.transport_socket?.typed_config as
      | { common_tls_context?: { combined_validation_context?: { default_validation_context?: { match_typed_subject_alt_names?: { matcher?: { exact?: string } }[] } } } }
      | undefined;
    const list = tls?.common_tls_context?.combined_validation_context?.default_validation_context?.match_typed_subject_alt_names ?? [];
    return list.map((s) => s.matcher?.exact ?? '?');
  }
  return [];
}

/** Reads responses (ACKing each) until one of `typeUrl` arrives; bounded by count and time. */
async function nextOf(stream: Stream, typeUrl: string, ms = 3000): Promise<Response | undefined> {
  const end = Date.now() + ms;
  for (let i = 0; i < 20 && Date.now() < end; i++) {
    let res: Response;
    try {
      res = await stream.next(Math.max(1, end - Date.now()));
    } catch {
      return undefined;
    }
    stream.send({ type_url: res.type_url, version_info: res.version_info, response_nonce: res.nonce });
    if (res.type_url === typeUrl) return res;
  }
  return undefined;
}

describe('service account change of a WorkloadEntry', () => {
  let pilot: RunningPilot;
  let dir: string;
  let stream: Stream;

  before(async () => {
    dir = tempConfigDir();
    writeConfig(dir, 'mesh.yaml', mesh('reviews'));
    pilot = await startTestPilot(dir);
    stream = openRawAdsStream(`127.0.0.1:${pilot.xdsPort}`);
    const node = { id: 'sidecar~10.0.0.9~client.app~app.svc.cluster.local', cluster: 'test', locality: {}, metadata: { fields: { NAMESPACE: { string_value: 'app' } } } };
    stream.send({ node, type_url: TYPE_URL.CLUSTER });
  });

  after(async () => {
    stream?.close();
    await pilot?.stop();
  });

  it('sends the new SAN list in a CDS push', async () => {
    const first = await nextOf(stream, TYPE_URL.CLUSTER);
    assert.ok(first, 'initial CDS');
    assert.deepEqual(sansOf(first), ['spiffe://cluster.local/ns/app/sa/reviews']);
    writeConfig(dir, 'mesh.yaml', mesh('reviews-v2'));
    const next = await nextOf(stream, TYPE_URL.CLUSTER);
    assert.ok(next, 'a CDS response after the service account changed');
    assert.notEqual(next.version_info, first.version_info);
    assert.deepEqual(sansOf(next), ['spiffe://cluster.local/ns/app/sa/reviews-v2']);
  });

  it('pushes no CDS when only an endpoint port moves', async () => {
    writeConfig(dir, 'mesh.yaml', mesh('reviews-v2', 9090));
    const next = await nextOf(stream, TYPE_URL.CLUSTER, 1500);
    assert.equal(next, undefined, 'no CDS response for an endpoint-only change');
    const push = pilot.push.lastPush;
    assert.deepEqual(push?.types, ['eds']);
  });
});
