import type { FlagSpecs } from '@mesh/runtime';

/** Every flag and environment variable galley reads. */
export const flags = {} satisfies FlagSpecs;

export const usageInfo = {
  command: 'node dist/apps/galley/main.js [flags]',
  summary: "Galley: ingests Istio configuration from Kubernetes CRDs or files, validates it and distributes it over MCP (port 9901).",
  sections: [
    'Status: NOT IMPLEMENTED YET. This binary only prints this usage; starting it exits with\nMESH_ERR_GALLEY_NOT_IMPLEMENTED (exit 1). Planned invocation: node dist/apps/galley/main.js --mcp-address 127.0.0.1:9901',
  ],
};
