/**
 * Stats across --concurrency workers. Each worker process keeps its own counters; the admin server runs
 * in worker 0, which asks the primary for the other workers' reports over node:cluster IPC and sums them:
 * counters and gauges added, histograms merged bucket by bucket (same buckets everywhere, so adding each
 * bucket, _sum and _count is the merge). Values that describe configuration rather than traffic (xDS
 * connected, listeners active, cluster membership, update_rejected) are the same on every worker and are
 * reported once (the largest), as Envoy reports them for its one process. A worker that does not answer
 * within the timeout is left out (and named in a log line), never waited on forever.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '@mesh/runtime';

export type StatsKind = 'stats' | 'prometheus';

interface Msg {
  meshStats: 'request' | 'collect' | 'reply' | 'result';
  id: number;
  kind?: StatsKind;
  worker?: number;
  text?: string;
  reports?: { worker: number; text: string }[];
}

const COLLECT_TIMEOUT_MS = 2000;

function isMsg(m: unknown): m is Msg {
  return typeof m === 'object' && m !== null && typeof (m as Msg).meshStats === 'string' && typeof (m as Msg).id === 'number';
}

/** Primary: forwards a worker's request to every other worker and returns what they answered. */
export function relayWorkerStats(workers: readonly Worker[], log: Logger, timeoutMs = COLLECT_TIMEOUT_MS): void {
  const pending = new Map<number, { reports: { worker: number; text: string }[]; waiting: Set<Worker>; done: () => void }>();
  let nextId = 0;
  for (const w of workers) {
    w.on('message', (m: unknown) => {
      if (!isMsg(m)) return;
      if (m.meshStats === 'reply') {
        const p = pending.get(m.id);
        if (!p) return;
        p.reports.push({ worker: m.worker ?? -1, text: m.text ?? '' });
        p.waiting.delete(w);
        if (p.waiting.size === 0) p.done();
        return;
      }
      if (m.meshStats !== 'request') return;
      const id = ++nextId;
      const others = workers.filter((o) => o !== w && !o.isDead());
      const entry = { reports: [] as { worker: number; text: string }[], waiting: new Set(others), done: () => undefined as void };
      const timer = setTimeout(() => entry.done(), timeoutMs);
      entry.done = () => {
        clearTimeout(timer);
        pending.delete(id);
        if (entry.waiting.size > 0) log.warn('workers did not report stats in time', { workers: [...entry.waiting].map((o) => o.id).join(','), timeoutMs });
        if (!w.isDead()) w.send({ meshStats: 'result', id: m.id, reports: entry.reports } satisfies Msg);
      };
      pending.set(id, entry);
      if (others.length === 0) entry.done();
      for (const o of others) o.send({ meshStats: 'collect', id, kind: m.kind } satisfies Msg);
    });
  }
}

/** Worker: answers the primary's collect requests with this worker's report. */
export function answerStatsRequests(worker: number, report: (kind: StatsKind) => string): void {
  process.on('message', (m: unknown) => {
    if (!isMsg(m) || m.meshStats !== 'collect' || !process.send) return;
    process.send({ meshStats: 'reply', id: m.id, worker, text: report(m.kind ?? 'stats') } satisfies Msg);
  });
}

let requestId = 0;

/** Admin worker: the other workers' reports (empty when this process is not a node:cluster worker). */
export function collectPeerStats(kind: StatsKind, timeoutMs = COLLECT_TIMEOUT_MS + 500): Promise<{ worker: number; text: string }[]> {
  if (!cluster.isWorker || !process.send) return Promise.resolve([]);
  const id = ++requestId;
  return new Promise((resolve) => {
    const onMessage = (m: unknown): void => {
      if (!isMsg(m) || m.meshStats !== 'result' || m.id !== id) return;
      finish(m.reports ?? []);
    };
    const timer = setTimeout(() => finish([]), timeoutMs);
    const finish = (r: { worker: number; text: string }[]): void => {
      clearTimeout(timer);
      process.off('message', onMessage);
      resolve(r);
    };
    process.on('message', onMessage);
    process.send?.({ meshStats: 'request', id, kind } satisfies Msg);
  });
}

/** Stats that describe configuration, identical on every worker: reported once, not summed. */
const SAME_ON_EVERY_WORKER = /^(control_plane\.connected_state|listener_manager\.total_listeners_active|(lds|cds|rds|eds)\.update_rejected|cluster\..+\.(membership_total|membership_healthy|circuit_breakers\..+)|envoy_control_plane_connected_state(\{.*\})?)$/;

function combine(name: string, a: number, b: number): number {
  return SAME_ON_EVERY_WORKER.test(name) ? Math.max(a, b) : a + b;
}

/**
 * /stats text of every worker (`name: value` lines) summed, plus each worker's own request and
 * connection totals as `http.downstream.worker_<i>.<counter>` (where traffic landed).
 */
export function mergeStatsText(reports: readonly { worker: number; text: string }[]): string {
  const total = new Map<string, number>();
  const perWorker: [string, number][] = [];
  for (const r of reports) {
    for (const line of r.text.split('\n')) {
      const i = line.lastIndexOf(': ');
      if (i <= 0) continue;
      const name = line.slice(0, i);
      const v = Number(line.slice(i + 2));
      if (!Number.isFinite(v)) continue;
      const prev = total.get(name);
      total.set(name, prev === undefined ? v : combine(name, prev, v));
      if (name === 'http.downstream.downstream_rq_total' || name === 'http.downstream.downstream_cx_total') perWorker.push([`http.downstream.worker_${r.worker}.${name.slice('http.downstream.'.length)}`, v]);
    }
  }
  const all = [...total, ...perWorker].sort((a, b) => a[0].localeCompare(b[0]));
  return all.map(([n, v]) => `${n}: ${v}`).join('\n') + '\n';
}

/**
 * Prometheus texts of every worker merged: samples with the same name and labels added (histogram buckets,
 * _sum and _count included), families kept together in the order first seen.
 */
export function mergePrometheus(texts: readonly string[]): string {
  const families = new Map<string, { header: string[]; samples: Map<string, number> }>();
  for (const text of texts) {
    let family: { header: string[]; samples: Map<string, number> } | undefined;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      if (line.startsWith('#')) {
        const m = /^# (TYPE|HELP) (\S+)/.exec(line);
        if (!m) continue;
        let f = families.get(m[2]);
        if (!f) {
          f = { header: [], samples: new Map() };
          families.set(m[2], f);
        }
        if (!f.header.includes(line)) f.header.push(line);
        family = f;
        continue;
      }
      const sp = line.lastIndexOf(' ');
      if (sp <= 0) continue;
      const key = line.slice(0, sp);
      const v = Number(line.slice(sp + 1));
      if (!family) {
        const name = key.replace(/\{.*$/, '');
        family = families.get(name) ?? { header: [], samples: new Map() };
        families.set(name, family);
      }
      const prev = family.samples.get(key);
      family.samples.set(key, prev === undefined ? v : combine(key, prev, v));
    }
  }
  const out: string[] = [];
  for (const f of families.values()) {
    out.push(...f.header);
    for (const [k, v] of f.samples) out.push(`${k} ${v}`);
  }
  return out.join('\n') + '\n';
}
