import type { FlagSpecs } from '@mesh/runtime';

/** Every flag and environment variable of the local-mesh supervisor (`npm start -- <flags>`). */
export const flags = {
  host: { kind: 'string', description: 'loopback address every component listens on', env: 'MESH_LOCAL_HOST', default: '127.0.0.1' },
  'base-port': {
    kind: 'int',
    description: 'first Bookinfo port: productpage base, details base+1, reviews v1..v3 base+2..4, ratings base+5',
    env: 'MESH_LOCAL_BASE_PORT',
    default: '9080',
  },
  'gateway-port': {
    kind: 'int',
    description: 'port of the ingress gateway (the product page URL, once the gateway runs)',
    env: 'MESH_LOCAL_GATEWAY_PORT',
    default: '8080',
  },
  'free-ports': {
    kind: 'boolean',
    description: 'pick free ports instead of the fixed ones (a second copy, tests)',
    env: 'MESH_LOCAL_FREE_PORTS',
    default: false,
  },
  'log-dir': {
    kind: 'string',
    description: 'directory for one log file per component (default: a new directory under tmp/local-mesh/logs/)',
    env: 'MESH_LOCAL_LOG_DIR',
  },
  'state-dir': {
    kind: 'string',
    description: "components' state: CA files, Pilot's watched config directory (default tmp/local-mesh/state)",
    env: 'MESH_LOCAL_STATE_DIR',
  },
  'ready-timeout': {
    kind: 'duration',
    description: 'how long a component may take to become ready',
    env: 'MESH_LOCAL_READY_TIMEOUT',
    default: '60s',
  },
  'stop-grace': {
    kind: 'duration',
    description: 'how long a component may take to exit after SIGTERM before it gets SIGKILL',
    env: 'MESH_LOCAL_STOP_GRACE',
    default: '5s',
  },
  topology: {
    kind: 'string',
    description: 'run the components described in this JSON file instead of Bookinfo and the mesh',
    env: 'MESH_LOCAL_TOPOLOGY',
  },
  skip: { kind: 'list', description: 'components not to start (comma separated, e.g. mixer,galley)', env: 'MESH_LOCAL_SKIP', default: '' },
} satisfies FlagSpecs;

export const usageInfo = {
  command: 'npm start -- [flags]   (or: node tools/local-mesh/start.mjs [--no-install] [--no-build] [flags])',
  summary:
    'The local mesh in one command: installs (npm ci, when node_modules is missing) and builds (nx run-many -t build), then starts ' +
    'Bookinfo and every mesh component whose binary works, waits until each is ready and prints what runs where. ' +
    'Ctrl-C stops everything; a crash of one component is reported and stops the rest.',
  sections: [
    [
      'Exit codes: 0 stopped by SIGINT/SIGTERM and every port free; 1 a component crashed, was not ready in time, or a port stayed bound;',
      '2 bad flags or a bad --topology file.',
      'Files: <log-dir>/<component>.log for each component; <log-dir>/topology.json (pids, ports, links) once everything is ready.',
    ].join('\n'),
  ],
};
