import type { FlagSpecs } from '@mesh/runtime';

/** Every flag and environment variable mixer reads. */
export const flags = {} satisfies FlagSpecs;

export const usageInfo = {
  command: 'node dist/apps/mixer/main.js [flags]',
  summary: "Mixer: the Check/Report API on Istio's attribute vocabulary, with policy adapters and telemetry fanned out through Kafka.",
  sections: [
    'Status: NOT IMPLEMENTED YET. This binary only prints this usage; starting it exits with\nMESH_ERR_MIXER_NOT_IMPLEMENTED (exit 1). Planned invocation: node dist/apps/mixer/main.js --grpc-address 127.0.0.1:9091',
  ],
};
