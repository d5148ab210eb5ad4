import type { FlagSpecs } from '@mesh/runtime';

/** Every flag and environment variable injector reads. */
export const flags = {} satisfies FlagSpecs;

export const usageInfo = {
  command: 'node dist/apps/injector/main.js [flags]',
  summary: "Injector: the Kubernetes mutating admission webhook that adds the sidecar to pods (port 15017).",
  sections: [
    'Status: NOT IMPLEMENTED YET. This binary only prints this usage; starting it exits with\nMESH_ERR_INJECTOR_NOT_IMPLEMENTED (exit 1). Planned invocation: node dist/apps/injector/main.js --webhook-address 127.0.0.1:15017',
  ],
};
