// Prometheus (Debian package) scraping the given targets on a short interval, with a query helper for
// its HTTP API.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { depPath } from './deps-manifest';
import { freePort, httpGet } from './net-port';
import { makeTempDir, removeTempDir, startProcess, waitUntil } from './process';

export interface ScrapeJob {
  job: string;
  /** host:port entries. */
  targets: string[];
  metricsPath?: string;
}

export interface PrometheusOptions {
  /** "host:port" strings (job "mesh") or whole jobs. */
  scrapeTargets: readonly (string | ScrapeJob)[];
  /** Prometheus duration, default "1s". */
  scrapeInterval?: string;
  timeoutMs?: number;
}

export interface PrometheusSample {
  metric: Record<string, string>;
  value: number;
}

export interface PrometheusHandle {
  url: string;
  port: number;
  pid: number;
  /** Instant query through /api/v1/query (vector results). */
  query(expr: string): Promise<PrometheusSample[]>;
  logs(): string;
  stop(): Promise<void>;
}

function scrapeConfigs(targets: readonly (string | ScrapeJob)[]): object[] {
  const plain = targets.filter((t): t is string => typeof t === 'string');
  const jobs = targets.filter((t): t is ScrapeJob => typeof t !== 'string');
  if (plain.length > 0) jobs.unshift({ job: 'mesh', targets: plain });
  return jobs.map((j) => ({
    job_name: j.job,
    metrics_path: j.metricsPath ?? '/metrics',
    static_configs: [{ targets: j.targets }],
  }));
}

async function query(url: string, expr: string): Promise<PrometheusSample[]> {
  const reply = await httpGet(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = JSON.parse(reply.body) as {
    status: string;
    error?: string;
    data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (body.status !== 'success' || !body.data) throw new Error(`prometheus query ${expr} failed: ${body.error ?? reply.body}`);
  if (body.data.resultType !== 'vector') throw new Error(`prometheus query ${expr} returned a ${body.data.resultType}`);
  return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

export async function startPrometheus(opts: PrometheusOptions): Promise<PrometheusHandle> {
  const bin = depPath('prometheus');
  if (!bin) throw new Error('missing dependency prometheus: run npm run deps');
  const dir = makeTempDir('prometheus');
  const port = await freePort();
  const interval = opts.scrapeInterval ?? '1s';
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    scrape_configs: scrapeConfigs(opts.scrapeTargets),
  };
  // JSON is YAML, so the config needs no YAML writer.
  writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
  const proc = startProcess({
    name: 'prometheus',
    command: bin,
    args: [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    cwd: dir,
  });
  const stop = async (): Promise<void> => {
    await proc.stop();
    removeTempDir(dir);
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntil('prometheus /-/ready', async () => (await httpGet(`${url}/-/ready`)).status === 200, {
      timeoutMs: opts.timeoutMs ?? 30_000,
      process: proc,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, port, pid: proc.pid, query: (expr) => query(url, expr), logs: proc.logs, stop };
}
