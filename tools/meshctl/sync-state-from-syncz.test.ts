/**
 * How a type's sync state is read from Pilot's /debug/syncz entry: NACKED only when the last NACK is for
 * the version Pilot sent last (an old NACK followed by a newer accepted version is SYNCED again), STALE
 * while the sent version is not acknowledged.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { orderTypeNames, parseSyncz, syncState, type SyncType } from './src/sync-state';

const entry = (sent: string, acked: string, nackVersion?: string): Record<string, unknown> => ({
  typeUrl: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  sentVersion: sent,
  ackedVersion: acked,
  lastNack: nackVersion === undefined ? null : { message: 'bad cluster', version: nackVersion, at: '2026-01-01T00:00:00Z' },
});

describe('sync state from /debug/syncz', () => {
  it('classifies SYNCED, STALE and NACKED', () => {
    const [p] = parseSyncz([{ proxy: 'a', kind: 'sotw', types: { cds: entry('v2', 'v2'), eds: entry('v3', 'v2'), lds: entry('v2', 'v1', 'v2'), rds: entry('v3', 'v3', 'v2') } }]) ?? [];
    assert.ok(p);
    assert.deepEqual(Object.keys(p.types), ['CDS', 'EDS', 'LDS', 'RDS']);
    assert.equal(syncState(p.types.CDS as SyncType), 'SYNCED');
    assert.equal(syncState(p.types.EDS as SyncType), 'STALE');
    assert.equal(syncState(p.types.LDS as SyncType), 'NACKED');
    assert.equal(syncState(p.types.RDS as SyncType), 'SYNCED', 'a NACK of an older version no longer counts');
  });

  it('refuses a body that is not a list of proxies with types', () => {
    assert.equal(parseSyncz({ proxies: [] }), undefined);
    assert.equal(parseSyncz([{ proxy: 'a' }]), undefined);
    assert.deepEqual(parseSyncz([]), []);
  });

  it('orders types as Envoy applies them, unknown ones last', () => {
    assert.deepEqual(orderTypeNames(['RDS', 'X', 'LDS', 'CDS', 'EDS']), ['CDS', 'EDS', 'LDS', 'RDS', 'X']);
  });
});
