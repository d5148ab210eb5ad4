/**
 * npm run bench -- sidecar-features: microbenchmarks of filter chain matching (ClientHello inspection,
 * chain selection), header formatters (literal vs formatted values) and the local rate limit token bucket,
 * in their own process (apps/sidecar/src/bench-features.ts). Last line: one JSON object, ns per call.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../..');
const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'apps/sidecar/src/bench-features.ts')], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
