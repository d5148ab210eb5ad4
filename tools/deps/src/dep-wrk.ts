// wrk (Debian package): HTTP/1.1 load for a fixed time, parsed from its --latency text report.
import { depPath } from './deps-manifest';
import { parseDurationMs, type LoadResult } from './load-result';
import { runChecked } from './process';

export interface WrkOptions {
  url: string;
  durationSec?: number;
  connections?: number;
  threads?: number;
  args?: readonly string[];
}

/** Parses wrk's report (run with --latency). */
export function parseWrkOutput(text: string): LoadResult {
  const total = /(\d+) requests in ([\d.]+\w+),/.exec(text);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const latency = /^\s*Latency\s+(\S+)\s+\S+\s+(\S+)/m.exec(text);
  if (!total?.[1] || !total[2] || !rps?.[1] || !latency?.[1] || !latency[2]) {
    throw new Error(`unexpected wrk output:\n${text}`);
  }
  const dist = (p: string): number => {
    const match = new RegExp(`^\\s*${p.replace('.', '\\.')}%\\s+(\\S+)`, 'm').exec(text);
    return match?.[1] ? parseDurationMs(match[1]) : NaN;
  };
  const requests = Number(total[1]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socketErrors = socket ? socket.slice(1).reduce((acc, n) => acc + Number(n), 0) : 0;
  const statusCodes: Record<string, number> = { '2xx/3xx': requests - non2xx };
  if (non2xx) statusCodes['other'] = non2xx;
  if (socketErrors) statusCodes['-1'] = socketErrors;
  return {
    tool: 'wrk',
    requests,
    durationSec: parseDurationMs(total[2]) / 1000,
    rps: Number(rps[1]),
    statusCodes,
    errors: non2xx + socketErrors,
    latencyMs: {
      min: NaN,
      avg: parseDurationMs(latency[1]),
      p50: dist('50'),
      p75: dist('75'),
      p90: dist('90'),
      p99: dist('99'),
      p999: NaN,
      max: parseDurationMs(latency[2]),
    },
  };
}

export async function runWrk(opts: WrkOptions): Promise<LoadResult> {
  const bin = depPath('wrk');
  if (!bin) throw new Error('missing dependency wrk: run npm run deps');
  const durationSec = opts.durationSec ?? 1;
  const connections = opts.connections ?? 4;
  const threads = Math.min(opts.threads ?? 1, connections);
  const output = await runChecked({
    name: 'wrk',
    command: bin,
    args: ['-t', String(threads), '-c', String(connections), '-d', `${durationSec}s`, '--latency', ...(opts.args ?? []), opts.url],
    timeoutMs: durationSec * 1000 + 30_000,
  });
  return parseWrkOutput(output);
}
