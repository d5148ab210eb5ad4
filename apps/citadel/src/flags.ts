import type { FlagSpecs } from '@mesh/runtime';

/** Every flag and environment variable citadel reads. */
export const flags = {} satisfies FlagSpecs;

export const usageInfo = {
  command: 'node dist/apps/citadel/main.js [flags]',
  summary: "Citadel: the mesh CA. SPIFFE workload identities, CSR signing over IstioCertificateService, rotation, plug-in root.",
  sections: [
    'Status: NOT IMPLEMENTED YET. This binary only prints this usage; starting it exits with\nMESH_ERR_CITADEL_NOT_IMPLEMENTED (exit 1). Planned invocation: node dist/apps/citadel/main.js --ca-dir DIR --grpc-address 127.0.0.1:8060 --monitoring-address 127.0.0.1:15014',
  ],
};
