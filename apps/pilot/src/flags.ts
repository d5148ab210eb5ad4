import type { FlagSpecs } from '@mesh/runtime';

/** Every flag and environment variable pilot reads. */
export const flags = {
  'config-dir': { kind: 'string', description: 'directory of Istio config YAML (*.yaml, *.yml; multi-document), watched', required: true, env: 'PILOT_CONFIG_DIR' },
  'xds-address': { kind: 'address', description: 'gRPC ADS listen address (port 0 picks a free port)', default: '127.0.0.1:15010', env: 'PILOT_XDS_ADDRESS' },
  'debug-address': { kind: 'address', description: 'HTTP debug/metrics listen address: /ready /metrics /debug/syncz /debug/config_dump?proxyID= /debug/registryz', default: '127.0.0.1:15014', env: 'PILOT_DEBUG_ADDRESS' },
  'debounce-after': { kind: 'duration', description: 'push after this long without a new config change', default: '100ms', env: 'PILOT_DEBOUNCE_AFTER' },
  'debounce-max': { kind: 'duration', description: 'push at the latest this long after the first change of a burst', default: '10s', env: 'PILOT_DEBOUNCE_MAX' },
  'push-throttle': { kind: 'int', description: "pushes in flight at once (streams written to and not yet flushed); the others wait their turn (Istio's PILOT_PUSH_THROTTLE)", default: '100', env: 'PILOT_PUSH_THROTTLE' },
  'config-rescan': { kind: 'duration', description: 'periodic rescan of --config-dir (in addition to file watching)', default: '2s' },
  'root-namespace': { kind: 'string', description: 'namespace whose selector-less Sidecar applies mesh-wide', default: 'istio-system' },
  'domain-suffix': { kind: 'string', description: 'cluster DNS suffix for short host names', default: 'cluster.local' },
} satisfies FlagSpecs;

export const usageInfo = {
  command: 'node dist/apps/pilot/main.js --config-dir DIR [flags]',
  summary: 'Pilot: Istio networking config (VirtualService, DestinationRule, ServiceEntry, WorkloadEntry, Sidecar) turned into Envoy xDS v3, served over gRPC ADS (SotW and Delta) to Envoy and proxyless gRPC clients.',
  sections: [
    'Example: node dist/apps/pilot/main.js --config-dir ./mesh --xds-address 127.0.0.1:15010 --debug-address 127.0.0.1:15014',
    'On start it logs one line with msg "pilot listening" and fields xdsPort and debugPort (the bound ports).',
    'Gateway: HTTP servers are translated for router proxies (node id router~...); TLS servers are not yet.',
    'PeerAuthentication and AuthorizationPolicy are validated and stored, not translated yet.',
  ],
};
