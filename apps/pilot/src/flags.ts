import type { FlagSpecs } from '@mesh/runtime';

/** Every flag and environment variable pilot reads. */
export const flags = {} satisfies FlagSpecs;

export const usageInfo = {
  command: 'node dist/apps/pilot/main.js [flags]',
  summary: "Pilot: service discovery and Istio networking config turned into Envoy xDS v3, served over gRPC ADS.",
  sections: [
    'Status: NOT IMPLEMENTED YET. This binary only prints this usage; starting it exits with\nMESH_ERR_PILOT_NOT_IMPLEMENTED (exit 1). Planned invocation: node dist/apps/pilot/main.js --config-dir DIR --xds-address 127.0.0.1:15010 --debug-address 127.0.0.1:15014',
  ],
};
