// h2load (Debian nghttp2-client): HTTP/2 (or --h1) load; latency percentiles come from its per-request
// log file, the totals from its text report.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { depPath } from './deps-manifest';
import { parseDurationMs, summarize, type LoadResult } from './load-result';
import { makeTempDir, removeTempDir, runChecked } from './process';

export interface H2loadOptions {
  url: string;
  /** Fixed number of requests; when absent, runs for durationSec (default 1 s). */
  requests?: number;
  durationSec?: number;
  clients?: number;
  /** Concurrent streams per client (default 1). */
  streams?: number;
  /** HTTP/1.1 instead of HTTP/2. */
  http1?: boolean;
  args?: readonly string[];
}

/** Parses h2load's report plus its --log-file lines (start µs, status, duration µs; tab separated). */
export function parseH2loadOutput(text: string, logFile: string): LoadResult {
  const finished = /finished in ([\d.]+\w+), ([\d.]+) req\/s/.exec(text);
  const requests = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(text);
  const status = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(text);
  if (!finished?.[1] || !finished[2] || !requests || !status) throw new Error(`unexpected h2load output:\n${text}`);
  const [, , , done, , failed, errored, timeout] = requests.map(Number);
  const [, s2, s3, s4, s5] = status.map(Number);
  const samples: number[] = [];
  for (const line of logFile.split('\n')) {
    const fields = line.split('\t');
    if (fields.length >= 3 && fields[2]) samples.push(Number(fields[2]) / 1000);
  }
  return {
    tool: 'h2load',
    requests: done ?? 0,
    durationSec: parseDurationMs(finished[1]) / 1000,
    rps: Number(finished[2]),
    statusCodes: { '2xx': s2 ?? 0, '3xx': s3 ?? 0, '4xx': s4 ?? 0, '5xx': s5 ?? 0 },
    errors: (failed ?? 0) + (errored ?? 0) + (timeout ?? 0) + (s3 ?? 0) + (s4 ?? 0) + (s5 ?? 0),
    latencyMs: summarize(samples),
  };
}

export async function runH2load(opts: H2loadOptions): Promise<LoadResult> {
  const bin = depPath('h2load');
  if (!bin) throw new Error('missing dependency h2load: run npm run deps');
  const dir = makeTempDir('h2load');
  const logPath = join(dir, 'requests.log');
  const durationSec = opts.durationSec ?? 1;
  const amount = opts.requests !== undefined ? ['-n', String(opts.requests)] : ['-D', String(durationSec)];
  try {
    const output = await runChecked({
      name: 'h2load',
      command: bin,
      args: [
        ...amount,
        '-c',
        String(opts.clients ?? 1),
        '-m',
        String(opts.streams ?? 1),
        `--log-file=${logPath}`,
        ...(opts.http1 ? ['--h1'] : []),
        ...(opts.args ?? []),
        opts.url,
      ],
      timeoutMs: (opts.requests !== undefined ? 60 : durationSec) * 1000 + 30_000,
    });
    return parseH2loadOutput(output, readFileSync(logPath, 'utf8'));
  } finally {
    removeTempDir(dir);
  }
}
