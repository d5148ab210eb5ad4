/**
 * Rows from a /config_dump in the mesh sidecar's shape (apps/sidecar/src/admin.ts), where wrapper values
 * such as an endpoint's load_balancing_weight are `{value: N}`, and a rejected update's error_state is
 * reported. (Envoy's own dump is covered by meshctl-drives-a-real-pilot-and-envoy.test.ts.)
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { dumpRows } from './src/config-dump';

const P = 'type.googleapis.com/envoy.admin.v3.';
const dump = {
  configs: [
    {
      '@type': `${P}ClustersConfigDump`,
      version_info: 'v7',
      dynamic_active_clusters: [{ version_info: 'v7', cluster: { name: 'outbound|9080||ratings.default.svc.cluster.local', type: 'EDS', lb_policy: 'LEAST_REQUEST' } }],
    },
    {
      '@type': `${P}ListenersConfigDump`,
      dynamic_listeners: [
        {
          name: '127.0.1.13_9080',
          active_state: {
            version_info: 'v3',
            listener: {
              address: { socket_address: { address: '127.0.1.13', port_value: 9080 } },
              filter_chains: [{ filters: [{ typed_config: { rds: { route_config_name: '9080' } } }] }],
            },
          },
          error_state: { details: 'bind 127.0.1.13:9080: EADDRINUSE' },
        },
      ],
    },
    {
      '@type': `${P}EndpointsConfigDump`,
      dynamic_endpoint_configs: [
        {
          endpoint_config: {
            cluster_name: 'outbound|9080||ratings.default.svc.cluster.local',
            endpoints: [{ locality: { region: 'r1', zone: 'z1' }, lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.16', port_value: 9080 } } }, load_balancing_weight: { value: 3 }, health_status: 'HEALTHY' }] }],
          },
        },
      ],
    },
  ],
};

describe('config_dump rows', () => {
  it('clusters, listeners (with the rejected update) and endpoints', () => {
    assert.deepEqual(dumpRows(dump, 'clusters').map((r) => r.cells), [['outbound|9080||ratings.default.svc.cluster.local', 'EDS', 'LEAST_REQUEST', 'dynamic', 'v7']]);
    const [l] = dumpRows(dump, 'listeners');
    assert.deepEqual(l?.cells, ['127.0.1.13_9080', '127.0.1.13:9080', '9080', 'active (update rejected)', 'v3']);
    assert.equal(l?.error, 'bind 127.0.1.13:9080: EADDRINUSE');
    assert.deepEqual(dumpRows(dump, 'endpoints').map((r) => r.cells), [['outbound|9080||ratings.default.svc.cluster.local', '127.0.0.16:9080', 'r1/z1', '3', 'HEALTHY']]);
    assert.deepEqual(dumpRows(dump, 'routes'), []);
  });
});
