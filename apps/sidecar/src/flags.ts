import type { FlagSpecs } from '@mesh/runtime';

/** Every flag and environment variable sidecar reads. */
export const flags = {} satisfies FlagSpecs;

export const usageInfo = {
  command: 'node dist/apps/sidecar/main.js [flags]',
  summary: "Sidecar: the mesh's data-plane proxy (HTTP/1.1, HTTP/2, gRPC, TCP), configured only by xDS; also the ingress/egress gateway.",
  sections: [
    'Status: NOT IMPLEMENTED YET. This binary only prints this usage; starting it exits with\nMESH_ERR_SIDECAR_NOT_IMPLEMENTED (exit 1). Planned invocation: node dist/apps/sidecar/main.js --xds-address 127.0.0.1:15010 --node-id sidecar~127.0.0.1~app.default~default.svc.cluster.local --admin-address 127.0.0.1:15000',
  ],
};
