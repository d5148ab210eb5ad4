// nginx (Debian package) in the foreground with a prefix under os.tmpdir(): nothing touches /etc/nginx or
// /var/log/nginx.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { depPath } from './deps-manifest';
import { canConnect, freePort } from './net-port';
import { makeTempDir, removeTempDir, startProcess, waitUntil } from './process';

export interface NginxOptions {
  /**
   * Either the body of an http{} block or a full nginx.conf (recognised by its events{} block).
   * Every `{{port}}` is replaced by a free loopback port, returned as `port`.
   */
  config: string;
  timeoutMs?: number;
}

export interface NginxHandle {
  /** The port that replaced {{port}} (0 when the config had none). */
  port: number;
  url: string;
  pid: number;
  logs(): string;
  stop(): Promise<void>;
}

function wrapHttpBody(dir: string, body: string): string {
  const temp = (name: string): string => join(dir, `temp-${name}`);
  return [
    'worker_processes 1;',
    // As root, workers would switch to "nobody" and lose access to the 0700 temp prefix.
    process.getuid?.() === 0 ? 'user root;' : '',
    'error_log stderr warn;',
    'events { worker_connections 1024; }',
    'http {',
    '  access_log off;',
    `  client_body_temp_path ${temp('client_body')};`,
    `  proxy_temp_path ${temp('proxy')};`,
    `  fastcgi_temp_path ${temp('fastcgi')};`,
    `  uwsgi_temp_path ${temp('uwsgi')};`,
    `  scgi_temp_path ${temp('scgi')};`,
    body,
    '}',
  ].join('\n');
}

export async function startNginx(opts: NginxOptions): Promise<NginxHandle> {
  const bin = depPath('nginx');
  if (!bin) throw new Error('missing dependency nginx: run npm run deps');
  const dir = makeTempDir('nginx');
  const port = opts.config.includes('{{port}}') ? await freePort() : 0;
  const config = opts.config.replaceAll('{{port}}', String(port));
  const full = /\bevents\s*\{/.test(config) ? config : wrapHttpBody(dir, config);
  const confFile = join(dir, 'nginx.conf');
  const pidFile = join(dir, 'nginx.pid');
  writeFileSync(confFile, full);
  const globals = [`pid ${pidFile};`, /\bdaemon\s+/.test(full) ? '' : 'daemon off;'].join(' ');
  const proc = startProcess({
    name: 'nginx',
    command: bin,
    args: ['-p', `${dir}/`, '-c', confFile, '-e', 'stderr', '-g', globals],
    cwd: dir,
  });
  const stop = async (): Promise<void> => {
    await proc.stop();
    removeTempDir(dir);
  };
  try {
    await waitUntil(
      port ? `nginx to accept connections on 127.0.0.1:${port}` : 'the nginx pid file',
      async () => existsSync(pidFile) && (port === 0 || (await canConnect(port))),
      { timeoutMs: opts.timeoutMs ?? 15_000, process: proc },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, url: `http://127.0.0.1:${port}`, pid: proc.pid, logs: proc.logs, stop };
}
