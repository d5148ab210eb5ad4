// fortio (Go module proxy build): an echo server, and load runs parsed from fortio's -json output.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { depPath } from './deps-manifest';
import type { LoadResult } from './load-result';
import { freePort, httpGet } from './net-port';
import { makeTempDir, removeTempDir, runChecked, startProcess, waitUntil } from './process';

function fortioBinary(): string {
  const bin = depPath('fortio');
  if (!bin) throw new Error('missing dependency fortio: run npm run deps');
  return bin;
}

export interface FortioServerHandle {
  /** Echo server base URL; `?status=503&delay=10ms&size=1024` shape the reply. */
  url: string;
  port: number;
  pid: number;
  logs(): string;
  stop(): Promise<void>;
}

/** `fortio server` with only its HTTP echo server, on a free loopback port. */
export async function startFortioServer(opts: { timeoutMs?: number } = {}): Promise<FortioServerHandle> {
  const bin = fortioBinary();
  const dir = makeTempDir('fortio-server');
  const port = await freePort();
  const proc = startProcess({
    name: 'fortio server',
    command: bin,
    args: [
      'server',
      '-http-port',
      `127.0.0.1:${port}`,
      '-grpc-port',
      'disabled',
      '-redirect-port',
      'disabled',
      '-tcp-port',
      'disabled',
      '-udp-port',
      'disabled',
      '-ui-path',
      '',
      '-loglevel',
      'Warning',
    ],
    cwd: dir,
  });
  const stop = async (): Promise<void> => {
    await proc.stop();
    removeTempDir(dir);
  };
  const url = `http://127.0.0.1:${port}/`;
  try {
    await waitUntil('the fortio echo server', async () => (await httpGet(url)).status === 200, {
      timeoutMs: opts.timeoutMs ?? 15_000,
      process: proc,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, port, pid: proc.pid, logs: proc.logs, stop };
}

export interface FortioLoadOptions {
  url: string;
  /** Target queries per second; 0 = as fast as possible (default 0). */
  qps?: number;
  /** Run time in seconds (default 1). */
  durationSec?: number;
  /** Connections (default 4). */
  connections?: number;
  /** Random POST payload of this many bytes. */
  payloadSize?: number;
  /** Use HTTP/2 (h2c on http://). */
  http2?: boolean;
  /**
   * Spread the connections' requests evenly over time (fortio -uniform). Without it fortio starts every
   * connection at the same instant and they stay in step: at 1000 qps over 16 connections, 16 requests
   * arrive together every 16 ms, and a proxy serving them one after another adds the burst's queueing to
   * its latency. Istio's own runs used -jitter and now Nighthawk's open loop, which spreads arrivals too.
   */
  uniform?: boolean;
  /**
   * Lowest histogram bucket width in seconds (fortio -r, default here 0.00005). fortio's own default,
   * 0.001, puts every sub-millisecond latency in one bucket and interpolates percentiles inside it;
   * 50 us buckets resolve 0-0.6 ms in 50 us steps and 0.6-3 ms in 100-250 us steps.
   */
  resolutionSec?: number;
  /** Extra fortio load flags. */
  args?: readonly string[];
}

interface FortioHistogram {
  Count: number;
  Min: number;
  Max: number;
  Avg: number;
  Percentiles?: { Percentile: number; Value: number }[];
}

interface FortioJson {
  ActualQPS: number;
  ActualDuration: number;
  RetCodes?: Record<string, number>;
  DurationHistogram: FortioHistogram;
}

/** Parses the JSON fortio writes with `-json <file>` (durations in seconds, ActualDuration in ns). */
export function parseFortioJson(text: string): LoadResult {
  const json = JSON.parse(text) as FortioJson;
  const histogram = json.DurationHistogram;
  if (!histogram || typeof histogram.Count !== 'number') throw new Error('fortio JSON has no DurationHistogram');
  const at = (p: number): number => (histogram.Percentiles?.find((x) => x.Percentile === p)?.Value ?? NaN) * 1000;
  const statusCodes = { ...(json.RetCodes ?? {}) };
  const ok = Object.entries(statusCodes)
    .filter(([code]) => code.startsWith('2') && code.length === 3)
    .reduce((acc, [, n]) => acc + n, 0);
  return {
    tool: 'fortio',
    requests: histogram.Count,
    durationSec: json.ActualDuration / 1e9,
    rps: json.ActualQPS,
    statusCodes,
    errors: histogram.Count - ok,
    latencyMs: {
      min: histogram.Min * 1000,
      avg: histogram.Avg * 1000,
      p50: at(50),
      p75: at(75),
      p90: at(90),
      p99: at(99),
      p999: at(99.9),
      max: histogram.Max * 1000,
    },
  };
}

/** `fortio load` for a fixed time; resolves with the parsed -json result. */
export async function runFortioLoad(opts: FortioLoadOptions): Promise<LoadResult> {
  const bin = fortioBinary();
  const dir = makeTempDir('fortio-load');
  const resultFile = join(dir, 'result.json');
  const durationSec = opts.durationSec ?? 1;
  const args = [
    'load',
    '-json',
    resultFile,
    '-qps',
    String(opts.qps ?? 0),
    '-c',
    String(opts.connections ?? 4),
    '-t',
    `${durationSec}s`,
    '-p',
    '50,75,90,99,99.9',
    '-loglevel',
    'Warning',
    '-allow-initial-errors',
    '-r',
    String(opts.resolutionSec ?? 0.00005),
    ...(opts.uniform ? ['-uniform'] : []),
    ...(opts.payloadSize ? ['-payload-size', String(opts.payloadSize)] : []),
    ...(opts.http2 ? ['-h2'] : []),
    ...(opts.args ?? []),
    opts.url,
  ];
  try {
    await runChecked({ name: 'fortio load', command: bin, args, cwd: dir, timeoutMs: durationSec * 1000 + 30_000 });
    return parseFortioJson(readFileSync(resultFile, 'utf8'));
  } finally {
    removeTempDir(dir);
  }
}
