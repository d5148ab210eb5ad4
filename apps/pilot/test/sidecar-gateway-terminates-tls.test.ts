/**
 * The same Gateway TLS scenario as envoy-gateway-terminates-tls.test.ts, with our built sidecar
 * (dist/apps/sidecar/main.js, node `router~`) as the gateway: it receives the kubernetes:// secrets over
 * ADS, builds each filter chain's TLS context from them, and chooses the chain by SNI.
 */
import { spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeGatewayTls, GATEWAY_NODE } from './gateway-tls-scenario';

const ROOT = path.resolve(__dirname, '../../..');
const SIDECAR = path.join(ROOT, 'dist/apps/sidecar/main.js');

describeGatewayTls('our sidecar as a gateway terminates and passes through TLS as Gateway servers say', async (_t, pilot) => {
  if (!fs.existsSync(SIDECAR)) execFileSync(process.execPath, [path.join(ROOT, 'tools/build-app.mjs'), 'apps/sidecar'], { cwd: ROOT, stdio: 'ignore' });
  const labels = Object.entries(GATEWAY_NODE.labels).map(([k, v]) => `${k}=${v}`).join(',');
  const child = spawn(
    process.execPath,
    [SIDECAR, '--xds-address', `127.0.0.1:${pilot.xdsPort}`, '--node-id', GATEWAY_NODE.id, '--namespace', GATEWAY_NODE.namespace, '--labels', labels,
      '--admin-address', '127.0.0.1:0', '--concurrency', '1', '--drain-duration', '0s', '--log-level', process.env.SIDECAR_TEST_LOG ?? 'error'],
    { stdio: ['ignore', 'ignore', process.env.SIDECAR_TEST_LOG ? 'inherit' : 'ignore'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
});
