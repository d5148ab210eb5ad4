/**
 * Active health checks: every interval, an HTTP GET (or a TCP connect) per host, with a timeout; a host
 * turns unhealthy after unhealthy_threshold failures and healthy again after healthy_threshold successes.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import type { Logger } from '@mesh/runtime';
import type { HealthCheckPolicy } from './config-cluster';

export interface CheckedHost {
  readonly host: string;
  readonly port: number;
  readonly address: string;
  hcHealthy: boolean;
}

export class HealthChecker {
  private readonly timer: NodeJS.Timeout;
  private readonly fails = new Map<CheckedHost, number>();
  private readonly passes = new Map<CheckedHost, number>();
  private stopped = false;

  constructor(
    private readonly policy: HealthCheckPolicy,
    private readonly hosts: readonly CheckedHost[],
    private readonly onChange: () => void,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => this.round(), policy.intervalMs);
    this.timer.unref();
    setImmediate(() => this.round());
  }

  private round(): void {
    if (this.stopped) return;
    for (const h of this.hosts) void this.check(h).then((ok) => this.result(h, ok));
  }

  private result(h: CheckedHost, ok: boolean): void {
    if (this.stopped) return;
    const p = this.policy;
    if (ok) {
      this.fails.set(h, 0);
      const n = (this.passes.get(h) ?? 0) + 1;
      this.passes.set(h, n);
      if (!h.hcHealthy && n >= p.healthyThreshold) {
        h.hcHealthy = true;
        this.log.info('health check passed', { host: h.address });
        this.onChange();
      }
    } else {
      this.passes.set(h, 0);
      const n = (this.fails.get(h) ?? 0) + 1;
      this.fails.set(h, n);
      if (h.hcHealthy && n >= p.unhealthyThreshold) {
        h.hcHealthy = false;
        this.log.info('health check failed', { host: h.address });
        this.onChange();
      }
    }
  }

  private check(h: CheckedHost): Promise<boolean> {
    const p = this.policy;
    return new Promise((resolve) => {
      if (p.httpPath === undefined) {
        const s = net.connect({ host: h.host, port: h.port });
        s.setTimeout(p.timeoutMs, () => s.destroy());
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
        s.once('close', () => resolve(false));
        return;
      }
      const req = http.get({ host: h.host, port: h.port, path: p.httpPath, headers: { host: p.host || h.address, 'user-agent': 'Envoy/HC' }, timeout: p.timeoutMs, agent: false }, (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        resolve(p.expectedStatuses.some(([a, b]) => code >= a && code < b));
      });
      req.once('timeout', () => req.destroy());
      req.once('error', () => resolve(false));
    });
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }
}
